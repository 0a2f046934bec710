//! The text codec: writers against eddy's own CSV, round trips through
//! both readers, the meter's real output, and bad input.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::sync::Arc;

use arrow_array::builder::{FixedSizeBinaryBuilder, PrimitiveBuilder};
use arrow_array::types::{Date32Type, Float64Type, Int64Type, TimestampMillisecondType};
use arrow_array::{
    ArrayRef, BinaryArray, BooleanArray, LargeStringArray, RecordBatch, StringViewArray, UInt8Array,
};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use l7::{L7Fields, Value};
use proptest::prelude::*;
use record::format::{Format, TextSink, CSV_COLUMNS, CSV_REVERSE_COLUMNS};
use record::{EndReason, FlowRecord, FlowSink, Reverse};
use schema::text::{CsvReader, CsvWriter, JsonReader, JsonWriter, MAX_KEPT_ERRORS};
use schema::{flow_schema, records, BatchBuilder};

fn batch_of(records: &[FlowRecord]) -> RecordBatch {
    let mut b = BatchBuilder::new();
    records.iter().for_each(|r| b.push(r));
    b.finish()
}

fn read_csv(text: &[u8]) -> (Vec<FlowRecord>, CsvReader<&[u8]>) {
    let mut reader = CsvReader::new(text).with_batch_rows(7);
    let mut out = Vec::new();
    for batch in &mut reader {
        let batch = batch.unwrap();
        assert!(batch.num_rows() <= 7);
        assert_eq!(batch.schema(), flow_schema());
        out.extend(records(&batch).unwrap());
    }
    (out, reader)
}

fn read_json(text: &[u8]) -> (Vec<FlowRecord>, JsonReader<&[u8]>) {
    let mut reader = JsonReader::new(text).with_batch_rows(5);
    let mut out = Vec::new();
    for batch in &mut reader {
        out.extend(records(&batch.unwrap()).unwrap());
    }
    (out, reader)
}

fn csv_of(batch: &RecordBatch) -> Vec<u8> {
    let mut out = Vec::new();
    CsvWriter::new().write_batch(batch, &mut out).unwrap();
    out
}

fn json_of(batch: &RecordBatch) -> Vec<u8> {
    let mut out = Vec::new();
    JsonWriter::new().write_batch(batch, &mut out).unwrap();
    out
}

fn micros(ns: u64) -> u64 {
    ns / 1000 * 1000
}

/// What a record reads back as: times at microsecond precision.
fn truncated(mut r: FlowRecord) -> FlowRecord {
    r.first_ns = micros(r.first_ns);
    r.last_ns = micros(r.last_ns);
    if let Some(rev) = &mut r.reverse {
        rev.first_ns = micros(rev.first_ns);
        rev.last_ns = micros(rev.last_ns);
    }
    r
}

// ---------------------------------------------------------------- random records

/// The column ranges of each protocol in `l7::COLUMNS`.
fn protocol_columns() -> Vec<std::ops::Range<usize>> {
    use l7::col;
    vec![
        col::HTTP_METHOD..col::HTTP_SERVER + 1,
        col::DNS_ID..col::DNS_TTL + 1,
        col::TLS_SNI..col::TLS_CIPHER_SUITE + 1,
        col::SMTP_COMMANDS..col::SMTP_DOMAIN + 1,
        col::SIP_MSG_TYPE..col::SIP_CSEQ + 1,
        col::QUIC_VERSION..col::QUIC_ALPN + 1,
    ]
}

/// L7 text with what CSV and JSON must escape; never empty (an empty CSV
/// cell is an absent value). Now and then longer than the CSV writer's row
/// buffer (4 KiB), so rows and values spill from it.
fn l7_text() -> impl Strategy<Value = String> {
    prop_oneof![
        10 => "[a-z0-9./-]{1,20}",
        10 => "[a-zA-Z ,\"\r\n\t\\\\é€;=]{1,30}",
        10 => Just("Mozilla/5.0 (X11, Linux) \"q\"".to_string()),
        1 => (600usize..1800).prop_map(|n| "ab,\"c".repeat(n)),
    ]
}

fn l7_fields() -> impl Strategy<Value = Option<L7Fields>> {
    let values = proptest::collection::vec((any::<bool>(), 0u64..70_000, l7_text()), 45);
    (0usize..7, values, l7_text()).prop_map(|(p, values, anchor)| {
        let ranges = protocol_columns();
        let range = ranges.get(p)?.clone();
        let mut fields = L7Fields::empty_for_column(range.start)?;
        for c in range.clone() {
            let (present, n, s) = &values[c];
            if !present {
                continue;
            }
            if schema::l7_is_numeric(c) {
                fields.set(c, Value::Num(*n));
            } else {
                fields.set(c, Value::Str(s));
            }
        }
        // At least one text value, so the record is not an L7 record
        // without any value to show.
        let text_column = range.clone().find(|&c| !schema::l7_is_numeric(c))?;
        fields.set(text_column, Value::Str(&anchor));
        Some(fields)
    })
}

fn address() -> impl Strategy<Value = Ipv6Addr> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|a| Ipv4Addr::from(a).to_ipv6_mapped()),
        any::<u128>().prop_map(Ipv6Addr::from),
        Just(Ipv6Addr::UNSPECIFIED),
    ]
}

fn end_reason() -> impl Strategy<Value = EndReason> {
    prop_oneof![
        Just(EndReason::Idle),
        Just(EndReason::Active),
        Just(EndReason::EndOfFlow),
        Just(EndReason::Forced),
        Just(EndReason::Eviction),
    ]
}

fn country() -> impl Strategy<Value = [u8; 2]> {
    prop_oneof![
        Just([0, 0]),
        "[A-Z]{2}".prop_map(|s| [s.as_bytes()[0], s.as_bytes()[1]])
    ]
}

const MAX_TIME: u64 = i64::MAX as u64;

fn reverse() -> impl Strategy<Value = Option<Reverse>> {
    proptest::option::of(
        (
            0..MAX_TIME,
            0..MAX_TIME,
            any::<u64>(),
            any::<u64>(),
            any::<u8>(),
        )
            .prop_map(|(first_ns, last_ns, packets, bytes, tcp_flags)| Reverse {
                first_ns,
                last_ns,
                packets,
                bytes,
                tcp_flags,
            }),
    )
}

fn flow_record() -> impl Strategy<Value = FlowRecord> {
    let times = (0..MAX_TIME, 0..MAX_TIME);
    let key = (address(), address(), any::<(u16, u16, u8, u8, u8)>());
    let counts = (any::<u64>(), any::<u64>(), any::<u16>());
    let origin = (
        any::<(u32, u32, u32, u32, u32)>(),
        country(),
        country(),
        address(),
    );
    let link = (any::<[u8; 6]>(), any::<[u8; 6]>(), end_reason());
    (times, key, counts, origin, link, reverse(), l7_fields()).prop_map(
        |(t, k, c, o, link, reverse, l7)| FlowRecord {
            first_ns: t.0,
            last_ns: t.1,
            src_ip: k.0,
            dst_ip: k.1,
            src_port: k.2 .0,
            dst_port: k.2 .1,
            proto: k.2 .2,
            tcp_flags: k.2 .3,
            tos: k.2 .4,
            packets: c.0,
            bytes: c.1,
            vlan: c.2,
            in_if: o.0 .0,
            out_if: o.0 .1,
            src_as: o.0 .2,
            dst_as: o.0 .3,
            odid: o.0 .4,
            src_country: o.1,
            dst_country: o.2,
            exporter: o.3,
            src_mac: link.0,
            dst_mac: link.1,
            end_reason: link.2,
            reverse,
            l7,
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn csv_round_trip(rs in proptest::collection::vec(flow_record(), 0..20)) {
        let batch = batch_of(&rs);
        let expected: Vec<FlowRecord> =
            records(&batch).unwrap().into_iter().map(truncated).collect();
        let text = csv_of(&batch);
        let (got, reader) = read_csv(&text);
        prop_assert_eq!(reader.bad_lines(), 0, "{:?}", reader.errors());
        prop_assert!(reader.ignored_columns().is_empty());
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn json_round_trip(rs in proptest::collection::vec(flow_record(), 0..20)) {
        let batch = batch_of(&rs);
        let expected: Vec<FlowRecord> =
            records(&batch).unwrap().into_iter().map(truncated).collect();
        let text = json_of(&batch);
        for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let v: serde_json::Value = serde_json::from_slice(line).unwrap();
            prop_assert!(v.is_object());
        }
        let (got, reader) = read_json(&text);
        prop_assert_eq!(reader.bad_lines(), 0, "{:?}", reader.errors());
        prop_assert_eq!(got, expected);
    }

    /// The logger's CSV of the meter's columns is the meter's CSV.
    #[test]
    fn logger_csv_is_the_meters_csv(
        rs in proptest::collection::vec(flow_record(), 0..20),
        biflow in any::<bool>(),
    ) {
        let rs: Vec<FlowRecord> = rs
            .into_iter()
            .map(|mut r| {
                // The meter prints a missing reverse as zeros, a batch as nulls.
                if biflow && r.reverse.is_none() {
                    r.reverse = Some(Reverse::default());
                }
                r
            })
            .collect();
        let mut meter = Vec::new();
        let mut sink = TextSink::new(&mut meter, Format::Csv, biflow);
        sink.l7_columns = true;
        sink.write(&rs).unwrap();
        sink.finish().unwrap();
        drop(sink);

        let mut columns: Vec<&str> = CSV_COLUMNS.to_vec();
        if biflow {
            columns.extend(CSV_REVERSE_COLUMNS);
        }
        columns.extend(l7::COLUMNS);
        let mut logger = Vec::new();
        let mut w = CsvWriter::with_columns(&flow_schema(), &columns).unwrap();
        let batch = batch_of(&rs);
        // Two calls: the header comes once.
        let half = rs.len() / 2;
        w.write_rows(&batch, 0..half, &mut logger).unwrap();
        w.write_rows(&batch, half..rs.len(), &mut logger).unwrap();
        prop_assert_eq!(String::from_utf8(logger).unwrap(), String::from_utf8(meter).unwrap());
    }

    /// Random bytes never panic either reader, and every line is a row,
    /// a bad line or blank.
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
        let mut csv = CsvReader::new(&bytes[..]).with_max_line(300);
        for batch in &mut csv {
            let _ = batch;
        }
        let mut json = JsonReader::new(&bytes[..]).with_max_line(300);
        for batch in &mut json {
            let _ = batch;
        }
        prop_assert!(json.errors().len() <= MAX_KEPT_ERRORS);
    }

    /// Valid lines with random damage: no panic, and good lines still read.
    #[test]
    fn damaged_lines_never_panic(
        rs in proptest::collection::vec(flow_record(), 1..8),
        damage in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..20),
    ) {
        let batch = batch_of(&rs);
        for mut text in [csv_of(&batch), json_of(&batch)] {
            let header_end = text.iter().position(|&b| b == b'\n').unwrap_or(0) + 1;
            for (at, byte) in &damage {
                let len = text.len() - header_end;
                if len > 0 {
                    text[header_end + at.index(len)] = *byte;
                }
            }
            let mut csv = CsvReader::new(&text[..]);
            let rows: usize = (&mut csv).map(|b| b.map_or(0, |b| b.num_rows())).sum();
            prop_assert!(rows <= rs.len() + damage.len());
            let mut json = JsonReader::new(&text[..]);
            let rows: usize = (&mut json).map(|b| b.map_or(0, |b| b.num_rows())).sum();
            prop_assert!(rows <= rs.len() + damage.len());
        }
    }
}

// ---------------------------------------------------------------- the meter's real output

fn test_data(name: &str) -> PathBuf {
    std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("../../test_data/text")
    .join(name)
}

/// Writes `records` as CSV with the columns of `header` (a CSV header line).
fn logger_csv(header: &str, rs: &[FlowRecord]) -> String {
    let columns: Vec<&str> = header.split(',').collect();
    let mut out = Vec::new();
    let mut w = CsvWriter::with_columns(&flow_schema(), &columns).unwrap();
    w.write_batch(&batch_of(rs), &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

/// `eddy meter -o csv` of real captures (made by `eddy meter -r
/// ipfixprobe_mixed.pcap -o csv`, and `--biflow` of HTTP, SIP, TLS and DNS
/// captures) reads without a bad line and writes back byte for byte.
#[test]
fn meter_csv_reads_and_writes_back_exactly() {
    for name in ["meter_mixed.csv", "meter_l7_biflow.csv"] {
        let text = std::fs::read_to_string(test_data(name)).unwrap();
        let (rs, reader) = read_csv(text.as_bytes());
        assert_eq!(reader.bad_lines(), 0, "{name}: {:?}", reader.errors());
        assert!(reader.ignored_columns().is_empty());
        assert_eq!(rs.len(), text.lines().count() - 1, "{name}");
        assert!(rs.iter().any(|r| r.l7.is_some()), "{name}");
        let header = text.lines().next().unwrap();
        assert_eq!(logger_csv(header, &rs), text, "{name}");
    }
}

/// The meter's JSON of the same capture reads as the same records, and the
/// JSON writer's lines read back as them too.
#[test]
fn meter_json_matches_its_csv() {
    let csv = std::fs::read(test_data("meter_mixed.csv")).unwrap();
    let json = std::fs::read(test_data("meter_mixed.jsonl")).unwrap();
    let (from_csv, _) = read_csv(&csv);
    let (from_json, reader) = read_json(&json);
    assert_eq!(reader.bad_lines(), 0, "{:?}", reader.errors());
    assert!(reader.ignored_columns().is_empty());
    assert_eq!(from_json, from_csv);
    let (again, _) = read_json(&json_of(&batch_of(&from_json)));
    assert_eq!(again, from_json);
}

// ---------------------------------------------------------------- writers

#[test]
fn unknown_columns_are_listed() {
    let err = CsvWriter::with_columns(&flow_schema(), &["src_ip", "nope", "bytes", "zzz"])
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("unknown columns nope, zzz"), "{err}");
    let err = JsonWriter::with_columns(&flow_schema(), &["x"])
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("unknown column x;"), "{err}");
}

#[test]
fn chosen_columns_limits_and_no_header() {
    let rs: Vec<FlowRecord> = (0..5)
        .map(|i| FlowRecord {
            packets: i,
            src_ip: Ipv4Addr::new(10, 0, 0, i as u8).to_ipv6_mapped(),
            ..FlowRecord::default()
        })
        .collect();
    let batch = batch_of(&rs);
    let mut out = Vec::new();
    let mut w =
        CsvWriter::with_columns(&flow_schema(), &["packets", "src_ip", "http_host"]).unwrap();
    w.write_rows(&batch, 1..3, &mut out).unwrap();
    w.write_rows(&batch, 4..99, &mut out).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "packets,src_ip,http_host\n1,10.0.0.1,\n2,10.0.0.2,\n4,10.0.0.4,\n"
    );
    let mut out = Vec::new();
    let mut w = CsvWriter::with_columns(&flow_schema(), &["packets"])
        .unwrap()
        .with_header(false);
    w.write_batch_to(&batch, &mut out).unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), "0\n1\n2\n3\n4\n");
    let mut out = Vec::new();
    let mut w = JsonWriter::with_columns(&flow_schema(), &["http_host", "packets"]).unwrap();
    w.write_rows_to(&batch, 3..5, &mut out).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "{\"packets\":3}\n{\"packets\":4}\n"
    );
    let mut out = Vec::new();
    let mut w = JsonWriter::with_columns(&flow_schema(), &["http_host"]).unwrap();
    w.write_rows(&batch, 0..1, &mut out).unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), "{}\n");
}

/// Pass-through columns of other types print too.
#[test]
fn other_types_have_a_text_form() {
    let mut ip = FixedSizeBinaryBuilder::new(16);
    ip.append_value(Ipv4Addr::new(192, 0, 2, 1).to_ipv6_mapped().octets())
        .unwrap();
    ip.append_null();
    let mut ts = PrimitiveBuilder::<TimestampMillisecondType>::new();
    ts.append_value(1_682_060_808_588);
    ts.append_value(-5);
    let mut i64s = PrimitiveBuilder::<Int64Type>::new();
    i64s.append_value(-42);
    i64s.append_value(i64::MIN);
    let mut f64s = PrimitiveBuilder::<Float64Type>::new();
    f64s.append_value(1.5);
    f64s.append_value(f64::NAN);
    let mut dates = PrimitiveBuilder::<Date32Type>::new();
    dates.append_value(19_723);
    dates.append_null();
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("when", Arc::new(ts.finish())),
        ("addr", Arc::new(ip.finish())),
        ("n", Arc::new(i64s.finish())),
        ("x", Arc::new(f64s.finish())),
        ("ok", Arc::new(BooleanArray::from(vec![true, false]))),
        (
            "name",
            Arc::new(StringViewArray::from(vec![Some("a,b"), None])),
        ),
        ("big", Arc::new(LargeStringArray::from(vec!["q\"", "é\n"]))),
        (
            "raw",
            Arc::new(BinaryArray::from(vec![&b"\x00\xff"[..], b""])),
        ),
        ("day", Arc::new(dates.finish())),
        ("end_reason", Arc::new(UInt8Array::from(vec![5, 9]))),
    ];
    let fields: Vec<Field> = columns
        .iter()
        .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
        .collect();
    let batch = RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns.into_iter().map(|(_, a)| a).collect(),
    )
    .unwrap();
    assert!(matches!(
        batch.schema().field(0).data_type(),
        DataType::Timestamp(TimeUnit::Millisecond, None)
    ));
    let mut out = Vec::new();
    CsvWriter::new().write_batch(&batch, &mut out).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "when,addr,n,x,ok,name,big,raw,day,end_reason\n\
         2023-04-21T07:06:48.588000Z,192.0.2.1,-42,1.5,true,\"a,b\",\"q\"\"\",00ff,2024-01-01,eviction\n\
         1970-01-01T00:00:00.000000Z,,-9223372036854775808,NaN,false,,\"é\n\",,,9\n"
    );
    let mut out = Vec::new();
    JsonWriter::new().write_batch(&batch, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(
        text.lines().next().unwrap(),
        r#"{"when":"2023-04-21T07:06:48.588000Z","addr":"192.0.2.1","n":-42,"x":1.5,"ok":true,"name":"a,b","big":"q\"","raw":"00ff","day":"2024-01-01","end_reason":"eviction"}"#
    );
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(v.is_object(), "{line}");
    }
}

// ---------------------------------------------------------------- bad input

#[test]
fn bad_csv_lines_are_counted_and_explained() {
    let mut text = b"src_ip,src_port,first,end_reason,http_host,extra,dns_qname\n".to_vec();
    text.extend_from_slice(b"10.0.0.1,80,2024-01-02T03:04:05Z,idle,example.com,x,\n"); // 2 good
    text.extend_from_slice(b"10.0.0.1,70000,,,,,\n"); // 3 bad port
    text.extend_from_slice(b"garbage\n"); // 4 field count
    text.extend_from_slice(b"10.0.0.300,1,,,,,\n"); // 5 bad ip
    text.extend_from_slice(b"\xff\xfe,1,,,,,\n"); // 6 utf-8
    text.extend_from_slice(b"::1,1,yesterday,,,,\n"); // 7 time
    text.extend_from_slice(b"::1,1,,sleepy,,,\n"); // 8 end reason
    text.extend_from_slice(b"::1,1,,,h,,q\n"); // 9 two protocols
    text.extend_from_slice(b"::1,1,,,\"a\"b,,\n"); // 10 text after quote
    text.extend_from_slice(b"\n\r\n"); // 11, 12 blank
    text.extend_from_slice(b"::1,\"2\r\n3\",,,,,\n"); // 13-14 quoted line break, bad port
    text.extend_from_slice(
        b"::1,443,1704164645678000000,forced,\"multi\nline, \"\"quoted\"\"\",y,\n",
    ); // 15-16 good
    text.extend_from_slice(&[b'a'; 2000]); // 17 too long
    text.extend_from_slice(b"\n::1,7,2024-01-02 03:04:05.678,3,,z,\r\n"); // 18 good, CRLF
    text.extend_from_slice(b"::1,8,,,\"never closed,,\n"); // 19 unclosed at the end
    let mut reader = CsvReader::new(&text[..]).with_max_line(1000);
    let mut rs = Vec::new();
    for batch in &mut reader {
        rs.extend(records(&batch.unwrap()).unwrap());
    }
    assert_eq!(rs.len(), 3);
    assert_eq!(rs[0].src_port, 80);
    assert_eq!(rs[0].first_ns, 1_704_164_645_000_000_000);
    assert_eq!(rs[1].end_reason, EndReason::Forced);
    let Some(L7Fields::Http(h)) = rs[1].l7.as_ref() else {
        panic!()
    };
    assert_eq!(h.host.as_deref(), Some("multi\nline, \"quoted\""));
    assert_eq!(rs[2].first_ns, 1_704_164_645_678_000_000);
    assert_eq!(rs[2].end_reason, EndReason::EndOfFlow);
    assert_eq!(reader.ignored_columns(), ["extra"]);
    assert_eq!(reader.bad_lines(), 11);
    let errors: Vec<String> = reader.errors().iter().map(ToString::to_string).collect();
    assert_eq!(errors.len(), MAX_KEPT_ERRORS);
    let expected = [
        "line 3, column src_port: '70000' is not a number 0-65535",
        "line 4: 1 fields, the header has 7",
        "line 5, column src_ip: '10.0.0.300' is not an IP address",
        "line 6: not valid UTF-8",
        "line 7, column first: 'yesterday' is not a time",
        "line 8, column end_reason: 'sleepy' is not an end reason",
        "line 9, column dns_qname: a dns value in a row of http values",
        "line 10: text after the closing quote of field 5",
        "line 13, column src_port: '2\\r\\n3' is not a number 0-65535",
        "line 17: longer than 1000 bytes",
    ];
    for (got, want) in errors.iter().zip(expected) {
        assert!(got.starts_with(want), "{got} / {want}");
    }
}

#[test]
fn bad_json_lines_are_counted_and_explained() {
    let text = concat!(
        "{\"src_ip\":\"10.0.0.1\",\"src_port\":80,\"extra\":[1],\"http_host\":\"h\",\"http_status\":200}\n",
        "{\"src_port\":70000}\n",
        "not json\n",
        "[1,2]\n",
        "\n",
        "{\"src_port\":-1}\n",
        "{\"packets\":1.5}\n",
        "{\"proto\":true}\n",
        "{\"http_status\":\"ok\"}\n",
        "{\"dns_id\":70000}\n",
        "{\"first\":\"2024-01-02T03:04:05.678+00:00\",\"end_reason\":2,\"rev_packets\":3,\"tcp_flags\":\"...AP.S.\",\"proto\":\"UDP\",\"http_status\":null}\n",
        "{\"src_country\":\"CZE\"}\n",
    );
    let mut text = text.as_bytes().to_vec();
    text.extend_from_slice(b"{\"http_host\":\"\xff\"}\n");
    let mut reader = JsonReader::new(&text[..]);
    let mut rs = Vec::new();
    for batch in &mut reader {
        rs.extend(records(&batch.unwrap()).unwrap());
    }
    assert_eq!(rs.len(), 2);
    let Some(L7Fields::Http(h)) = rs[0].l7.as_ref() else {
        panic!()
    };
    assert_eq!((h.host.as_deref(), h.status), (Some("h"), Some(200)));
    assert_eq!(rs[1].first_ns, 1_704_164_645_678_000_000);
    assert_eq!(rs[1].end_reason, EndReason::Active);
    assert_eq!(rs[1].reverse.map(|r| r.packets), Some(3));
    assert_eq!((rs[1].tcp_flags, rs[1].proto), (0x1a, 17));
    assert_eq!(reader.ignored_columns(), ["extra"]);
    assert_eq!(reader.bad_lines(), 10);
    let errors: Vec<String> = reader.errors().iter().map(ToString::to_string).collect();
    let expected = [
        "line 2, column src_port: '70000' is not a number 0-65535",
        "line 3: not JSON",
        "line 4: not a JSON object",
        "line 6, column src_port: '-1' is not a number",
        "line 7, column packets: '1.5' is not a number",
        "line 8, column proto: not a string or number",
        "line 9, column http_status: 'ok' is not a number 0-4294967295",
        "line 10, column dns_id: '70000' does not fit the column",
        "line 12, column src_country: 'CZE' is not a two-letter country code",
        "line 13: not valid UTF-8",
    ];
    assert_eq!(errors.len(), expected.len());
    for (got, want) in errors.iter().zip(expected) {
        assert!(got.starts_with(want), "{got} / {want}");
    }
}

#[test]
fn a_header_without_flow_columns_is_an_error() {
    let mut reader = CsvReader::new(&b"a,b\n1,2\n"[..]);
    let err = reader.next_batch().unwrap().unwrap_err().to_string();
    assert!(err.contains("names no flow column (it has: a, b)"), "{err}");
    assert!(reader.next_batch().is_none());
    // Empty input: no batch, no error.
    assert!(CsvReader::new(&b""[..]).next_batch().is_none());
    assert!(JsonReader::new(&b"\n\n"[..]).next_batch().is_none());
}

#[test]
fn overlong_lines_do_not_stop_the_reader() {
    let mut text = b"packets\n".to_vec();
    text.extend(std::iter::repeat_n(b'7', (1 << 20) + 10));
    text.extend_from_slice(b"\n5\n");
    let (rs, reader) = read_csv(&text);
    assert_eq!(rs.len(), 1);
    assert_eq!(rs[0].packets, 5);
    assert_eq!(reader.bad_lines(), 1);
    assert_eq!(
        reader.errors()[0].to_string(),
        "line 2: longer than 1048576 bytes"
    );
}
