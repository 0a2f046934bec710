use super::*;
use std::net::Ipv6Addr;

fn temp_root(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("eddy-store-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn record(i: u64) -> FlowRecord {
    FlowRecord {
        // Deliberately out of order: files must come out sorted.
        first_ns: 1_000_000_000_000 + (i * 7919 % 1000) * 1_000_000,
        last_ns: 1_000_000_000_000 + 2_000_000_000,
        src_ip: Ipv6Addr::from(0xffff_0a00_0000 + u128::from(i)),
        dst_ip: "::ffff:192.0.2.1".parse().unwrap(),
        src_port: (i % 60000) as u16,
        dst_port: 443,
        proto: 6,
        packets: i + 1,
        bytes: 100 * (i + 1),
        ..FlowRecord::default()
    }
}

fn config(root: &Path) -> StoreConfig {
    let mut c = StoreConfig::new(root);
    c.writer.row_group_rows = 100;
    c
}

#[test]
fn windows_become_sorted_complete_files() {
    let root = temp_root("windows");
    let mut store = Store::open(config(&root)).unwrap();
    let t0 = 1_764_289_500; // a window start
    for i in 0..250 {
        assert!(store
            .push("r1", t0 + 10, &record(i))
            .unwrap()
            .finished
            .unwrap()
            .is_none());
    }
    // While open, only a hidden temporary file exists.
    assert!(list_files(&root, None, None, 300).unwrap().is_empty());
    assert_eq!(store.open_windows(), vec![("r1".to_string(), t0, 250)]);
    // A record in the next window finishes the first.
    let done = store
        .push("r1", t0 + 300, &record(999))
        .unwrap()
        .finished
        .unwrap()
        .unwrap();
    assert_eq!(done.window_start, t0);
    assert!(done
        .path
        .ends_with("r1/2025/11/28/flows.202511280025.parquet"));
    let rows = read_file(&done.path).unwrap();
    assert_eq!(rows.len(), 250);
    // No record has L7 fields: those columns are null throughout, by the
    // statistics, and a reader can leave them out.
    let nulls = null_columns(&done.path).unwrap();
    assert!(nulls.iter().any(|c| c == "http_host"), "{nulls:?}");
    assert!(!nulls.iter().any(|c| c == "src_ip" || c == "bytes"));
    let thin: Vec<RecordBatch> = read_batches_without(&done.path, 1000, &nulls)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(thin[0].num_rows(), 250);
    assert!(thin[0].schema().field_with_name("http_host").is_err());
    assert!(thin[0].schema().field_with_name("src_ip").is_ok());
    // Sorted within each row group of 100.
    for chunk in rows.chunks(100) {
        assert!(chunk.windows(2).all(|w| w[0].first_ns <= w[1].first_ns));
    }
    let mut got: Vec<u64> = rows.iter().map(|r| r.packets).collect();
    got.sort_unstable();
    assert_eq!(got, (1..=250).collect::<Vec<_>>());
    let rest = store.close_all().unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(list_files(&root, None, None, 300).unwrap().len(), 2);
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn roll_finishes_ended_windows_and_parts_do_not_overwrite() {
    let root = temp_root("roll");
    let mut store = Store::open(config(&root)).unwrap();
    let t0 = 1_764_289_500;
    store.push("a", t0, &record(1)).unwrap();
    store.push("b", t0, &record(2)).unwrap();
    assert!(store.roll(t0 + 299).unwrap().is_empty());
    assert_eq!(store.roll(t0 + 300).unwrap().len(), 2);
    // A restart writing into the same window makes a second part.
    store.push("a", t0 + 5, &record(3)).unwrap();
    let files = store.close_all().unwrap();
    assert_eq!(files[0].part, 1);
    let all = list_files(&root, None, Some((t0, t0 + 1)), 300).unwrap();
    assert_eq!(all.len(), 3);
    let only_a = list_files(&root, Some(&["a".to_string()]), None, 300).unwrap();
    assert_eq!(only_a.len(), 2);
    assert!(list_files(&root, None, Some((t0 + 300, t0 + 600)), 300)
        .unwrap()
        .is_empty());
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn empty_windows_leave_no_file_and_temp_files_are_cleaned() {
    let root = temp_root("empty");
    let w = WindowWriter::create(&root, "x", 0, &WriterConfig::default()).unwrap();
    assert_eq!(w.finish().unwrap(), None);
    // A crash leaves a temporary file (the file is created with the first
    // row group, on the encoder thread).
    let w = WindowWriter::create(&root, "x", 300, &WriterConfig::default()).unwrap();
    let temp = w.path().with_file_name(".flows.197001010005.parquet.tmp");
    drop(w);
    std::fs::write(&temp, b"PAR1").unwrap();
    assert_eq!(remove_temp_files(&root).unwrap(), 1);
    assert_eq!(remove_temp_files(&root).unwrap(), 0);
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn expire_by_age_then_size() {
    let root = temp_root("expire");
    let mut store = Store::open(config(&root)).unwrap();
    let t0 = 1_764_289_500;
    for w in 0..4u64 {
        for i in 0..50 {
            store.push("r", t0 + w * 300, &record(i)).unwrap();
        }
    }
    store.close_all().unwrap();
    let files = list_files(&root, None, None, 300).unwrap();
    assert_eq!(files.len(), 4);
    let one = files[0].bytes;
    // Age: windows ending at or before now - 600 go (the first two).
    let r = expire(
        &root,
        300,
        Retention {
            max_age_secs: Some(600),
            max_bytes: None,
        },
        t0 + 4 * 300,
    )
    .unwrap();
    assert_eq!(r.files_removed, 2);
    assert_eq!(r.files_left, 2);
    // Size: keep at most one file's worth.
    let r = expire(
        &root,
        300,
        Retention {
            max_age_secs: None,
            max_bytes: Some(one + one / 2),
        },
        t0,
    )
    .unwrap();
    assert_eq!(r.files_removed, 1);
    let left = list_files(&root, None, None, 300).unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].window_start, t0 + 900);
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn unwritable_root_is_a_clear_error() {
    let err = match Store::open(StoreConfig::new("/proc/eddy-store")) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("opened a store under /proc"),
    };
    assert!(err.contains("/proc/eddy-store"), "{err}");
}

fn spooling(root: &Path) -> StoreConfig {
    let mut c = config(root);
    c.writer.spool = true;
    c.writer.batch_rows = 10;
    c
}

#[test]
fn a_crash_leaves_a_spool_that_recovery_turns_into_the_file() {
    let root = temp_root("recover");
    let t0 = 1_764_289_500;
    let mut store = Store::open(spooling(&root)).unwrap();
    for i in 0..95 {
        store.push("r", t0, &record(i)).unwrap();
    }
    store.spool().unwrap();
    // The process dies: nothing is finished, nothing is deleted.
    std::mem::forget(store);
    assert!(list_files(&root, None, None, 300).unwrap().is_empty());
    let report = recover(&root, &WriterConfig::default()).unwrap();
    assert_eq!(report.rows, 95);
    assert!(report.temp_files_removed <= 1);
    assert_eq!(report.files.len(), 1);
    let rows = read_file(&report.files[0].path).unwrap();
    let mut got: Vec<u64> = rows.iter().map(|r| r.packets).collect();
    got.sort_unstable();
    assert_eq!(got, (1..=95).collect::<Vec<_>>());
    // The recovered window has its summary.
    let summary = summary::summary_path(&report.files[0].path).unwrap();
    let flows: u64 = summary_rows(&summary, 1).values().map(|v| v.0).sum();
    assert_eq!(flows, 95);
    // Nothing left to recover; a new writer takes the next part.
    let again = recover(&root, &WriterConfig::default()).unwrap();
    assert_eq!(again, Recovered::default());
    let mut store = Store::open(spooling(&root)).unwrap();
    store.push("r", t0, &record(1)).unwrap();
    let files = store.close_all().unwrap();
    assert_eq!(files[0].part, 1);
    assert!(!root
        .join(SPOOL_DIR)
        .join("r")
        .read_dir()
        .unwrap()
        .any(|_| true));
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn a_batch_cut_by_the_crash_is_not_recovered_and_complete_files_are_not_doubled() {
    let root = temp_root("recover-cut");
    let t0 = 1_764_289_500;
    let mut store = Store::open(spooling(&root)).unwrap();
    for i in 0..30 {
        store.push("r", t0, &record(i)).unwrap();
    }
    std::mem::forget(store);
    let spool = spool_path(&root.join(SPOOL_DIR), "r", t0, 0);
    let len = std::fs::metadata(&spool).unwrap().len();
    // Cut into the third batch.
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&spool)
        .unwrap();
    f.set_len(len - 100).unwrap();
    let report = recover(&root, &WriterConfig::default()).unwrap();
    assert_eq!(report.rows, 20);

    // A crash after the rename but before the spool was deleted.
    let mut store = Store::open(spooling(&root)).unwrap();
    for i in 0..10 {
        store.push("r", t0 + 300, &record(i)).unwrap();
    }
    let spool = spool_path(&root.join(SPOOL_DIR), "r", t0 + 300, 0);
    let saved = std::fs::read(&spool).unwrap();
    store.close_all().unwrap();
    std::fs::write(&spool, saved).unwrap();
    let report = recover(&root, &WriterConfig::default()).unwrap();
    assert_eq!(report.already_complete, 1);
    assert!(report.files.is_empty());
    let total: usize = list_files(&root, None, None, 300)
        .unwrap()
        .iter()
        .map(|f| read_file(&f.path).unwrap().len())
        .sum();
    assert_eq!(total, 30);
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn a_spool_leaves_out_unused_columns_and_recovery_puts_them_back() {
    let root = temp_root("recover-sparse");
    let t0 = 1_764_289_500;
    let mut store = Store::open(spooling(&root)).unwrap();
    let with_fields = |i: u64| {
        let mut r = record(i);
        if i == 25 {
            r.l7 = Some(l7::L7Fields::from(l7::http::HttpFields {
                host: Some("example.org".into()),
                ..l7::http::HttpFields::default()
            }));
        }
        if i == 45 {
            r.reverse = Some(record::Reverse {
                packets: 9,
                ..record::Reverse::default()
            });
        }
        r
    };
    for i in 0..60 {
        store.push("r", t0, &with_fields(i)).unwrap();
    }
    store.spool().unwrap();
    std::mem::forget(store);
    let spool = spool_path(&root.join(SPOOL_DIR), "r", t0, 0);
    // L4 batches, then batches with the HTTP columns, then with the
    // reverse counters too: three streams, the first without any L7 or
    // reverse column (their 10 rows are ~60 bytes each, not ~240).
    let bytes = std::fs::read(&spool).unwrap();
    let streams = bytes
        .windows(8)
        .filter(|w| *w == [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0])
        .count();
    assert_eq!(streams, 2, "two streams ended, the third is open");
    let report = recover(&root, &WriterConfig::default()).unwrap();
    assert_eq!(report.rows, 60);
    let mut rows = read_file(&report.files[0].path).unwrap();
    rows.sort_by_key(|r| r.packets);
    assert_eq!(rows.len(), 60);
    assert_eq!(rows[25].l7, with_fields(25).l7);
    assert_eq!(rows[45].reverse.map(|r| r.packets), Some(9));
    assert!(rows[5].l7.is_none() && rows[5].reverse.is_none());
    let _ = std::fs::remove_dir_all(&root);
}

/// Flows whose required columns take every path of the fast column
/// encoder: constants, small and large dictionaries, a dictionary over its
/// limit (PLAIN), PLAIN by setting, and values with the top bit set (where
/// signed and unsigned order differ), next to columns null throughout
/// (also ours) and partly null (parquet-rs's).
fn varied_batch(rows: u64) -> arrow_array::RecordBatch {
    let mut builder = schema::BatchBuilder::new();
    for i in 0..rows {
        let spread = i.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        builder.push(&FlowRecord {
            first_ns: 1_000_000_000_000 + i * 1000,
            last_ns: 1_000_000_000_000 + i * 1000 + (spread % 5000),
            src_ip: Ipv6Addr::from(u128::from(spread) << 64 | u128::from(i % 3000)),
            dst_ip: Ipv6Addr::from(0xffff_0a00_0000 + u128::from(i)),
            src_port: (spread >> 7) as u16,
            dst_port: [53, 443, 65535][(i % 3) as usize],
            proto: 6,
            tcp_flags: (spread >> 20) as u8,
            tos: 0,
            packets: if i % 100 == 0 { u64::MAX - i } else { i % 40 },
            bytes: spread,
            vlan: (i / 1000) as u16,
            src_mac: [0xfe, 0, 0, 0, (i % 7) as u8, 1],
            dst_mac: spread.to_be_bytes()[2..].try_into().unwrap(),
            in_if: if i % 2 == 0 { u32::MAX } else { 3 },
            out_if: 0x8000_0000 + (i % 5) as u32,
            exporter: "::ffff:192.0.2.9".parse().unwrap(),
            odid: 7,
            // Partly null columns stay with parquet-rs's writers.
            reverse: (i % 10 == 0).then_some(record::Reverse {
                first_ns: 1_000_000_000_000 + i * 1000 + 5,
                last_ns: 1_000_000_000_000 + i * 1000 + 50,
                packets: 1,
                bytes: 60,
                tcp_flags: 0x12,
            }),
            ..FlowRecord::default()
        });
    }
    builder.finish()
}

#[test]
fn fast_columns_read_back_with_the_statistics_parquet_rs_writes() {
    use parquet::arrow::arrow_reader::{ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
    use parquet::file::page_index::column_index::ColumnIndexMetaData;

    let batch = varied_batch(50_000);
    // Pages cut at the same rows by both writers (parquet-rs looks at its
    // page limits after every write batch), and dst_mac's dictionary over
    // its limit (parquet-rs then falls back to PLAIN in mid-chunk, we for
    // the whole chunk, so its pages are cut elsewhere). The first row
    // group's end times, all distinct, pass the end times' dictionary
    // limit the same way (falling back to deltas).
    let props = parquet::file::properties::WriterProperties::builder()
        .set_write_batch_size(1000)
        .set_column_dictionary_page_size_limit(
            parquet::schema::types::ColumnPath::from("dst_mac"),
            6 * 1000,
        );
    let props = writer::properties_from(props, &WriterConfig::default()).unwrap();
    let dir = temp_root("fast-columns");
    std::fs::create_dir_all(&dir).unwrap();
    let ours = dir.join("ours.parquet");
    let theirs = dir.join("theirs.parquet");
    let mut encoder =
        writer::FileEncoder::new(File::create(&ours).unwrap(), props.clone()).unwrap();
    // The first row group arrives in two batches out of time order: ours
    // must gather them sorted, as parquet-rs is handed them.
    let halves = [batch.slice(25_000, 25_000), batch.slice(0, 25_000)];
    encoder.write_row_group_of(&halves).unwrap();
    encoder.write_row_group(&batch.slice(0, 777)).unwrap();
    encoder.into_inner().unwrap();
    let mut plain = parquet::arrow::ArrowWriter::try_new(
        File::create(&theirs).unwrap(),
        batch.schema(),
        Some(props),
    )
    .unwrap();
    plain.write(&batch).unwrap();
    plain.flush().unwrap();
    plain.write(&batch.slice(0, 777)).unwrap();
    plain.close().unwrap();

    let open = |path: &Path| {
        let options = ArrowReaderOptions::new()
            .with_page_index_policy(parquet::file::metadata::PageIndexPolicy::Required);
        ParquetRecordBatchReaderBuilder::try_new_with_options(File::open(path).unwrap(), options)
            .unwrap()
    };
    let (ours, theirs) = (open(&ours), open(&theirs));
    let index_bytes = |index: &ColumnIndexMetaData, page: usize| -> (Vec<u8>, Vec<u8>) {
        match index {
            ColumnIndexMetaData::INT32(i) => (
                i.min_value(page).unwrap().to_le_bytes().to_vec(),
                i.max_value(page).unwrap().to_le_bytes().to_vec(),
            ),
            ColumnIndexMetaData::INT64(i) => (
                i.min_value(page).unwrap().to_le_bytes().to_vec(),
                i.max_value(page).unwrap().to_le_bytes().to_vec(),
            ),
            ColumnIndexMetaData::FIXED_LEN_BYTE_ARRAY(i) | ColumnIndexMetaData::BYTE_ARRAY(i) => (
                i.min_value(page).unwrap().to_vec(),
                i.max_value(page).unwrap().to_vec(),
            ),
            other => panic!("unexpected column index {other:?}"),
        }
    };
    let (m_ours, m_theirs) = (ours.metadata().clone(), theirs.metadata().clone());
    for rg in 0..2 {
        for c in 0..batch.num_columns() {
            let name = batch.schema().field(c).name().clone();
            let (a, b) = (
                m_ours.row_group(rg).column(c),
                m_theirs.row_group(rg).column(c),
            );
            assert_eq!(a.statistics(), b.statistics(), "{name}: chunk statistics");
            assert_eq!(a.num_values(), b.num_values(), "{name}");
            let (ia, ib) = (
                &m_ours.column_index().unwrap()[rg][c],
                &m_theirs.column_index().unwrap()[rg][c],
            );
            if name == "dst_mac" && rg == 0 {
                // Ours wrote the chunk PLAIN: no dictionary page.
                assert!(a.dictionary_page_offset().is_none());
                assert!(b.dictionary_page_offset().is_some());
            }
            if name == "last" && rg == 0 {
                assert!(a.dictionary_page_offset().is_none());
                continue;
            }
            if name == "dst_mac" || matches!(ib, ColumnIndexMetaData::NONE) {
                continue;
            }
            assert_eq!(ia.num_pages(), ib.num_pages(), "{name}: pages");
            if b.statistics().is_none() {
                continue;
            }
            for page in 0..ia.num_pages() as usize {
                if ib.is_null_page(page) {
                    assert!(ia.is_null_page(page), "{name}");
                    continue;
                }
                assert_eq!(
                    index_bytes(ia, page),
                    index_bytes(ib, page),
                    "{name} page {page}"
                );
            }
            assert_eq!(
                ia.get_boundary_order(),
                ib.get_boundary_order(),
                "{name}: order"
            );
            let (oa, ob) = (
                &m_ours.offset_index().unwrap()[rg][c],
                &m_theirs.offset_index().unwrap()[rg][c],
            );
            let first_rows = |o: &parquet::file::page_index::offset_index::OffsetIndexMetaData| {
                o.page_locations()
                    .iter()
                    .map(|p| p.first_row_index)
                    .collect::<Vec<_>>()
            };
            assert_eq!(first_rows(oa), first_rows(ob), "{name}: page rows");
        }
    }
    let read: Vec<_> = ours.build().unwrap().map(Result::unwrap).collect();
    let read = arrow_select::concat::concat_batches(&read[0].schema(), &read).unwrap();
    let expect = arrow_select::concat::concat_batches(
        &batch.schema(),
        &[batch.clone(), batch.slice(0, 777)],
    )
    .unwrap();
    for c in 0..batch.num_columns() {
        assert_eq!(
            read.column(c).as_ref(),
            expect.column(c).as_ref(),
            "{}",
            batch.schema().field(c).name()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A summary's rows: (address, proto, flags) to (flows, packets, bytes,
/// first, last).
type SummaryRows = std::collections::BTreeMap<(Vec<u8>, u8, u8), (u64, u64, u64, i64, i64)>;

/// A summary's time column in nanoseconds (summaries of whole-millisecond
/// flows store milliseconds).
fn times_ns(a: &arrow_array::ArrayRef) -> arrow_array::TimestampNanosecondArray {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{TimestampMillisecondType, TimestampNanosecondType};
    match a.data_type() {
        arrow_schema::DataType::Timestamp(arrow_schema::TimeUnit::Millisecond, _) => a
            .as_primitive::<TimestampMillisecondType>()
            .unary(|t| t * 1_000_000),
        _ => a.as_primitive::<TimestampNanosecondType>().clone(),
    }
}

/// The rows of a summary's row group `cut`.
fn summary_rows(path: &Path, cut: usize) -> SummaryRows {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{UInt64Type, UInt8Type};
    use arrow_array::Array;
    let batches: Vec<arrow_array::RecordBatch> =
        ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap())
            .unwrap()
            .with_row_groups(vec![cut])
            .build()
            .unwrap()
            .map(|b| b.unwrap())
            .collect();
    let side = cut % summary::CUTS.len();
    let mut out = std::collections::BTreeMap::new();
    for b in batches {
        // A batch may span both row groups: the other cut's rows have no
        // address of this side.
        let addr = b.column(side).as_fixed_size_binary();
        let u8s = |i: usize| b.column(i).as_primitive::<UInt8Type>().clone();
        let u64s = |i: usize| b.column(i).as_primitive::<UInt64Type>().clone();
        let ts = |i: usize| times_ns(b.column(i));
        let (proto, flags, flows, packets, bytes, first, last) =
            (u8s(2), u8s(3), u64s(4), u64s(5), u64s(6), ts(7), ts(8));
        for r in (0..b.num_rows()).filter(|&r| addr.is_valid(r)) {
            let key = (addr.value(r).to_vec(), proto.value(r), flags.value(r));
            let v = (
                flows.value(r),
                packets.value(r),
                bytes.value(r),
                first.value(r),
                last.value(r),
            );
            assert!(out.insert(key, v).is_none(), "a key twice in one cut");
        }
    }
    out
}

/// The port cut of a summary, (proto, source port, destination port) to
/// (flows, packets, bytes, first, last, flags), and each of its row
/// groups' protocol.
#[allow(clippy::type_complexity)]
fn port_cut_rows(
    path: &Path,
) -> (
    Vec<u8>,
    std::collections::BTreeMap<(u8, u16, u16), (u64, u64, u64, i64, i64, u8)>,
) {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{UInt16Type, UInt64Type, UInt8Type};
    let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap()).unwrap();
    let groups = builder.metadata().num_row_groups();
    let mut protos = Vec::new();
    let mut out = std::collections::BTreeMap::new();
    for rg in summary::PORT_CUT_START..groups {
        let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap())
            .unwrap()
            .with_row_groups(vec![rg])
            .build()
            .unwrap();
        let mut seen = None;
        for b in reader {
            let b = b.unwrap();
            let col = |n: &str| b.column_by_name(n).unwrap().clone();
            let (proto, flags) = (col("proto"), col("tcp_flags"));
            let (proto, flags) = (
                proto.as_primitive::<UInt8Type>(),
                flags.as_primitive::<UInt8Type>(),
            );
            let (sp, dp) = (col("src_port"), col("dst_port"));
            let (sp, dp) = (
                sp.as_primitive::<UInt16Type>(),
                dp.as_primitive::<UInt16Type>(),
            );
            let counts: Vec<_> = ["flows", "packets", "bytes"]
                .map(|n| col(n).as_primitive::<UInt64Type>().clone())
                .into();
            let times: Vec<_> = ["first", "last"].map(|n| times_ns(&col(n))).into();
            for r in 0..b.num_rows() {
                assert_eq!(*seen.get_or_insert(proto.value(r)), proto.value(r));
                let v = (
                    counts[0].value(r),
                    counts[1].value(r),
                    counts[2].value(r),
                    times[0].value(r),
                    times[1].value(r),
                    flags.value(r),
                );
                let key = (proto.value(r), sp.value(r), dp.value(r));
                assert!(out.insert(key, v).is_none(), "a key twice in the port cut");
            }
        }
        protos.push(seen.expect("no empty row group"));
    }
    (protos, out)
}

#[test]
fn each_window_gets_a_summary_of_its_flows() {
    let root = temp_root("summary");
    let mut store = Store::open(config(&root)).unwrap();
    let t0 = 1_764_289_500;
    let mut recs = Vec::new();
    for i in 0..700u64 {
        let mut r = record(i % 97);
        // Spread out, so that addresses a window lacks lie between its own.
        r.src_ip = Ipv6Addr::from(0xffff_0a00_0000 + 7 * u128::from(i % 97));
        r.proto = [6, 17, 1][(i % 3) as usize];
        r.tcp_flags = (i % 5) as u8;
        r.packets = i + 1;
        r.first_ns += i * 1_000;
        recs.push(r);
    }
    for r in &recs {
        store.push("r", t0 + 10, r).unwrap();
    }
    let files = store.close_all().unwrap();
    assert_eq!(files.len(), 1);
    let path = summary::summary_path(&files[0].path).unwrap();
    let on_disk =
        std::fs::metadata(&files[0].path).unwrap().len() + std::fs::metadata(&path).unwrap().len();
    assert_eq!(
        files[0].bytes, on_disk,
        "a window's bytes count its summary"
    );
    assert_eq!(
        list_files(&root, None, None, 300).unwrap()[0].bytes,
        on_disk
    );
    type Side = fn(&FlowRecord) -> Ipv6Addr;
    let sides: [(usize, Side); 2] = [(0, |r| r.src_ip), (1, |r| r.dst_ip)];
    for (cut, addr_of) in sides {
        let mut want = std::collections::BTreeMap::new();
        for r in &recs {
            let key = (addr_of(r).octets().to_vec(), r.proto, r.tcp_flags);
            let e = want.entry(key).or_insert((0, 0, 0, i64::MAX, i64::MIN));
            e.0 += 1;
            e.1 += r.packets;
            e.2 += r.bytes;
            e.3 = e.3.min(r.first_ns as i64);
            e.4 = e.4.max(r.last_ns as i64);
        }
        assert_eq!(summary_rows(&path, cut), want, "cut {cut}");
        // By address alone: proto 0, the flags ORed.
        let mut by_addr =
            std::collections::BTreeMap::<Vec<u8>, (u8, (u64, u64, u64, i64, i64))>::new();
        for ((a, _, flags), v) in want {
            let (f, e) = by_addr
                .entry(a)
                .or_insert((0, (0, 0, 0, i64::MAX, i64::MIN)));
            *f |= flags;
            e.0 += v.0;
            e.1 += v.1;
            e.2 += v.2;
            e.3 = e.3.min(v.3);
            e.4 = e.4.max(v.4);
        }
        let by_addr: SummaryRows = by_addr
            .into_iter()
            .map(|(a, (f, v))| ((a, 0, f), v))
            .collect();
        let got = summary_rows(&path, summary::row_group(cut, false));
        assert_eq!(got, by_addr, "cut {cut} by address");
    }
    // The address filters hold every address of their side, rule out
    // nearly every other, and know the side's range.
    let sides = summary::window_filters(&files[0].path, summary::Wanted::ALL)
        .unwrap()
        .addresses
        .expect("a summary with address filters");
    for r in &recs {
        assert!(sides[0].may_hold(u128::from(r.src_ip)));
        assert!(sides[1].may_hold(u128::from(r.dst_ip)));
    }
    let held: std::collections::HashSet<u128> = recs.iter().map(|r| u128::from(r.src_ip)).collect();
    let (lo, hi) = (*held.iter().min().unwrap(), *held.iter().max().unwrap());
    // Inside the range, so that only the Bloom filter can say no.
    let absent: Vec<u128> = (lo..=hi + 5000).filter(|a| !held.contains(a)).collect();
    let inside = absent.iter().filter(|&&a| a <= hi).count();
    assert!(inside > 500, "{inside} absent sources inside the range");
    let maybes = absent.iter().filter(|&&a| sides[0].may_hold(a)).count();
    assert!(
        maybes * 20 <= absent.len(),
        "{maybes} of {} absent sources may be there",
        absent.len()
    );
    assert!(sides[0].may_hold_range(lo, hi) && sides[0].may_hold_range(0, lo));
    assert!(!sides[0].may_hold_range(hi + 1, u128::MAX) && !sides[0].may_hold_range(0, lo - 1));
    assert!(!sides[1].may_hold(u128::from(Ipv6Addr::LOCALHOST)));
    // The port sets are those of the flows.
    let ports = summary::window_filters(&files[0].path, summary::Wanted::ALL)
        .unwrap()
        .ports
        .expect("port sets");
    let mut want = [summary::ValueSet::default(), summary::ValueSet::default()];
    for r in &recs {
        want[0].insert(r.src_port);
        want[1].insert(r.dst_port);
    }
    assert_eq!(ports, want);
    // And the protocols.
    let protos = summary::window_filters(&files[0].path, summary::Wanted::ALL)
        .unwrap()
        .protos
        .expect("a protocol set");
    assert_eq!(protos.to_text(), "1,6,17");
    // The port cut: one row group per protocol, in order, the flags ORed.
    let mut want = std::collections::BTreeMap::new();
    for r in &recs {
        let e = want.entry((r.proto, r.src_port, r.dst_port)).or_insert((
            0,
            0,
            0,
            i64::MAX,
            i64::MIN,
            0,
        ));
        e.0 += 1;
        e.1 += r.packets;
        e.2 += r.bytes;
        e.3 = e.3.min(r.first_ns as i64);
        e.4 = e.4.max(r.last_ns as i64);
        e.5 |= r.tcp_flags;
    }
    assert!(want.len() > 3, "the records use several ports");
    let (protos, got) = port_cut_rows(&path);
    assert_eq!(protos, [1, 6, 17]);
    assert_eq!(got, want);
    assert_eq!(
        summary::layout(&files[0].path).unwrap(),
        Some(summary::Layout::WithPortCut)
    );
    // Only the address-only cuts keep a filter, on their own side.
    let meta = parquet::file::metadata::ParquetMetaDataReader::new()
        .parse_and_finish(&std::fs::File::open(&path).unwrap())
        .unwrap();
    for rg in 0..summary::ADDRESS_ROW_GROUPS {
        for side in 0..2 {
            let kept = rg == summary::row_group(side, false);
            let offset = meta.row_group(rg).column(side).bloom_filter_offset();
            assert_eq!(offset.is_some(), kept, "row group {rg}, column {side}");
        }
    }
    // A summary written before the filters (none in the file) gives none.
    let plain = root.join("plain.parquet");
    let mut writer = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(&plain).unwrap(),
        summary::summary_schema(arrow_schema::TimeUnit::Nanosecond),
        None,
    )
    .unwrap();
    for rg in 0..summary::ADDRESS_ROW_GROUPS {
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            std::fs::File::open(&path).unwrap(),
        )
        .unwrap()
        .with_row_groups(vec![rg])
        .build()
        .unwrap();
        for b in reader {
            writer.write(&b.unwrap()).unwrap();
        }
        writer.flush().unwrap();
    }
    writer.close().unwrap();
    let flows_of_plain = root.join("flows.plain.parquet");
    std::fs::rename(&plain, root.join("summary.plain.parquet")).unwrap();
    assert!(
        summary::window_filters(&flows_of_plain, summary::Wanted::ALL)
            .unwrap()
            .addresses
            .is_none()
    );
    std::fs::remove_file(root.join("summary.plain.parquet")).unwrap();
    assert!(
        summary::window_filters(&flows_of_plain, summary::Wanted::ALL)
            .unwrap()
            .addresses
            .is_none()
    );
    // Rewritten from the flows file, the summary is the same.
    let before = summary_rows(&path, 0);
    std::fs::remove_file(&path).unwrap();
    assert_eq!(summary::summarize_file(&files[0].path).unwrap(), path);
    assert_eq!(summary_rows(&path, 0), before);
    // Retention removes a window's summary with its flows.
    let r = expire(
        &root,
        300,
        Retention {
            max_age_secs: Some(1),
            max_bytes: None,
        },
        t0 + 10_000,
    )
    .unwrap();
    assert_eq!((r.files_removed, r.bytes_removed), (1, on_disk));
    assert!(!path.exists() && !files[0].path.exists());
    let _ = std::fs::remove_dir_all(&root);
}

/// A summary damaged anywhere gives address filters and port sets, none,
/// or an error: never a panic (store files are read as untrusted input).
#[test]
fn damaged_summaries_never_panic_the_window_filters_or_layout() {
    let root = temp_root("damaged-summary");
    let mut store = Store::open(config(&root)).unwrap();
    for i in 0..300u64 {
        let mut r = record(i);
        r.dst_ip = Ipv6Addr::from(0xffff_c000_0200 + u128::from(i % 13));
        store.push("r", 1_764_289_510, &r).unwrap();
    }
    let files = store.close_all().unwrap();
    let flows = &files[0].path;
    let path = summary::summary_path(flows).unwrap();
    let good = std::fs::read(&path).unwrap();
    assert!(summary::window_filters(flows, summary::Wanted::ALL)
        .unwrap()
        .addresses
        .is_some());
    let footer_from = good.len().saturating_sub(3000);
    let mut outcomes = [0usize; 3];
    // Every byte of the footer (and the filters before it) three ways, and
    // every fifth byte of the pages.
    for at in (0..good.len()).filter(|&at| at >= footer_from || at % 5 == 0) {
        let flips: &[u8] = if at >= footer_from {
            &[0x01, 0x80, 0xff]
        } else {
            &[0xff]
        };
        for &x in flips {
            let mut bad = good.clone();
            bad[at] ^= x;
            std::fs::write(&path, &bad).unwrap();
            let got = std::panic::catch_unwind(|| {
                let _ = summary::layout(flows);
                summary::window_filters(flows, summary::Wanted::ALL)
            });
            match got {
                Ok(Ok(w)) if w.addresses.is_some() && w.ports.is_some() && w.protos.is_some() => {
                    outcomes[0] += 1
                }
                Ok(Ok(_)) => outcomes[1] += 1,
                Ok(Err(_)) => outcomes[2] += 1,
                Err(_) => panic!("byte {at} ^ {x:#04x} of {} panicked", good.len()),
            }
        }
    }
    assert!(outcomes[0] > 0 && outcomes[2] > 0, "{outcomes:?}");
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn port_sets_answer_as_a_list_does_and_read_back_from_text() {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for round in 0..200 {
        let mut set = summary::ValueSet::default();
        let mut held = std::collections::BTreeSet::new();
        // Sparse, clustered and dense sets.
        let n = [0, 1, 5, 300, 20_000][round % 5];
        for _ in 0..n {
            let p = match round % 3 {
                0 => next() as u16,
                1 => 1000 + (next() % 200) as u16,
                _ => (next() % 64) as u16 * 1024,
            };
            set.insert(p);
            held.insert(p);
        }
        for _ in 0..50 {
            let (a, b) = (next() as u16, next() as u16);
            let (lo, hi) = (a.min(b), a.max(b));
            let hi = if round % 2 == 0 {
                lo.saturating_add((hi - lo) % 130)
            } else {
                hi
            };
            assert_eq!(
                set.any_in(lo, hi),
                held.range(lo..=hi).next().is_some(),
                "{lo}..={hi}"
            );
            assert!(!set.any_in(hi.max(1), hi.max(1) - 1));
        }
        for &p in held.iter().take(20) {
            assert!(set.contains(p) && set.any_in(p, p));
        }
        let text = set.to_text();
        assert_eq!(summary::ValueSet::from_text(&text), Some(set), "{text}");
    }
    assert_eq!(
        summary::ValueSet::from_text("-"),
        Some(summary::ValueSet::default())
    );
    for bad in ["", "x", "1-", "-5", "5-1", "65536", "1,,2", "1-2-3", "٣"] {
        assert_eq!(summary::ValueSet::from_text(bad), None, "{bad:?}");
    }
}

/// Store files read without their embedded Arrow schema (which parquet-rs
/// can panic on when damaged) get the same schema back: every type the
/// flow schema uses has a Parquet annotation that says it.
#[test]
fn a_store_file_means_the_same_without_its_embedded_arrow_schema() {
    use parquet::arrow::arrow_reader::{ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
    let root = temp_root("no-arrow-schema");
    let mut store = Store::open(config(&root)).unwrap();
    for i in 0..50 {
        let mut r = record(i);
        r.reverse = (i % 2 == 0).then_some(record::Reverse::default());
        store.push("r", 1_764_289_510, &r).unwrap();
    }
    let files = store.close_all().unwrap();
    let open = |skip: bool| {
        let options = ArrowReaderOptions::new().with_skip_arrow_metadata(skip);
        ParquetRecordBatchReaderBuilder::try_new_with_options(
            File::open(&files[0].path).unwrap(),
            options,
        )
        .unwrap()
        .schema()
        .clone()
    };
    let (embedded, derived) = (open(false), open(true));
    for (a, b) in embedded.fields().iter().zip(derived.fields()) {
        assert_eq!(a, b);
    }
    assert_eq!(embedded.fields().len(), derived.fields().len());
    // So a damaged embedded schema does not matter: single-bit flips across
    // it (some panicked parquet-rs before) leave the rows readable.
    let good = std::fs::read(&files[0].path).unwrap();
    let at = good
        .windows(12)
        .rposition(|w| w == b"ARROW:schema")
        .unwrap();
    let damaged = root.join("damaged.parquet");
    for i in (at + 20..(at + 1300).min(good.len() - 8)).step_by(3) {
        let mut bad = good.clone();
        bad[i] ^= 0x01;
        std::fs::write(&damaged, &bad).unwrap();
        let rows = std::panic::catch_unwind(|| {
            null_columns(&damaged).unwrap();
            read_batches(&damaged, 1000)
                .unwrap()
                .map(|b| b.unwrap().num_rows())
                .sum::<usize>()
        });
        assert_eq!(rows.ok(), Some(50), "byte {i}");
    }
    let _ = std::fs::remove_dir_all(&root);
}
