//! What Parquet encoding costs, per row, on a stored file's rows: the
//! whole file under a few writer settings, then each of the first 30
//! columns alone with the store's settings (best of three, in memory, one
//! thread). Usage:
//! cargo run --release -p store --example encode_cost -- FILE.parquet

use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterPropertiesBuilder};
use parquet::schema::types::ColumnPath;
use std::time::Instant;

fn base() -> WriterPropertiesBuilder {
    let mut p = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).unwrap()))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(131072));
    for c in ["first", "last", "rev_first", "rev_last"] {
        p = p
            .set_column_dictionary_enabled(ColumnPath::from(c), false)
            .set_column_encoding(ColumnPath::from(c), Encoding::DELTA_BINARY_PACKED);
    }
    p
}

type Variant = (
    &'static str,
    Box<dyn Fn(WriterPropertiesBuilder) -> WriterPropertiesBuilder>,
);

fn main() {
    let path = std::env::args().nth(1).unwrap();
    let f = std::fs::File::open(&path).unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(f)
        .unwrap()
        .with_batch_size(131072)
        .build()
        .unwrap();
    let batches: Vec<_> = reader.map(|b| b.unwrap()).collect();
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    let schema = batches[0].schema();
    let variants: Vec<Variant> = vec![
        (
            "v2, dict on addrs only",
            Box::new(|p: WriterPropertiesBuilder| {
                let mut p =
                    p.set_writer_version(parquet::file::properties::WriterVersion::PARQUET_2_0);
                for c in ["bytes", "rev_bytes", "src_mac", "dst_mac", "exporter"] {
                    p = p.set_column_dictionary_enabled(ColumnPath::from(c), false);
                }
                for c in ["src_ip", "dst_ip"] {
                    p = p.set_column_dictionary_page_size_limit(ColumnPath::from(c), 4 << 20);
                }
                p
            }),
        ),
        (
            "v2, dict on addrs and MACs",
            Box::new(|p: WriterPropertiesBuilder| {
                let mut p =
                    p.set_writer_version(parquet::file::properties::WriterVersion::PARQUET_2_0);
                for c in ["bytes", "rev_bytes"] {
                    p = p.set_column_dictionary_enabled(ColumnPath::from(c), false);
                }
                for c in ["src_ip", "dst_ip"] {
                    p = p.set_column_dictionary_page_size_limit(ColumnPath::from(c), 4 << 20);
                }
                p
            }),
        ),
        (
            "v2, dict on MACs, exporter only",
            Box::new(|p: WriterPropertiesBuilder| {
                let mut p =
                    p.set_writer_version(parquet::file::properties::WriterVersion::PARQUET_2_0);
                for c in ["bytes", "rev_bytes", "src_ip", "dst_ip"] {
                    p = p.set_column_dictionary_enabled(ColumnPath::from(c), false);
                }
                p
            }),
        ),
        (
            "dict on addrs, 4 MiB dict pages",
            Box::new(|p: WriterPropertiesBuilder| {
                let mut p = p;
                for c in ["bytes", "rev_bytes"] {
                    p = p.set_column_dictionary_enabled(ColumnPath::from(c), false);
                }
                for c in ["src_ip", "dst_ip"] {
                    p = p.set_column_dictionary_page_size_limit(ColumnPath::from(c), 4 << 20);
                }
                p
            }),
        ),
        (
            "current",
            Box::new(|p: WriterPropertiesBuilder| {
                let mut p = p;
                for c in ["bytes", "rev_bytes", "src_ip", "dst_ip"] {
                    p = p.set_column_dictionary_enabled(ColumnPath::from(c), false);
                }
                p
            }),
        ),
        (
            "dict on addrs",
            Box::new(|p: WriterPropertiesBuilder| {
                let mut p = p;
                for c in ["bytes", "rev_bytes"] {
                    p = p.set_column_dictionary_enabled(ColumnPath::from(c), false);
                }
                p
            }),
        ),
        (
            "no dict at all",
            Box::new(|p: WriterPropertiesBuilder| p.set_dictionary_enabled(false)),
        ),
        (
            "current, chunk stats",
            Box::new(|p: WriterPropertiesBuilder| {
                let mut p = p.set_statistics_enabled(EnabledStatistics::Chunk);
                for c in ["bytes", "rev_bytes", "src_ip", "dst_ip"] {
                    p = p.set_column_dictionary_enabled(ColumnPath::from(c), false);
                }
                p
            }),
        ),
        (
            "current, bss addrs",
            Box::new(|p: WriterPropertiesBuilder| {
                let mut p = p;
                for c in ["bytes", "rev_bytes", "src_ip", "dst_ip"] {
                    p = p.set_column_dictionary_enabled(ColumnPath::from(c), false);
                }
                for c in ["src_ip", "dst_ip"] {
                    p = p.set_column_encoding(ColumnPath::from(c), Encoding::BYTE_STREAM_SPLIT);
                }
                p
            }),
        ),
        (
            "current, no ports/packets dict",
            Box::new(|p: WriterPropertiesBuilder| {
                let mut p = p;
                for c in [
                    "bytes",
                    "rev_bytes",
                    "src_ip",
                    "dst_ip",
                    "src_port",
                    "dst_port",
                    "packets",
                ] {
                    p = p.set_column_dictionary_enabled(ColumnPath::from(c), false);
                }
                p
            }),
        ),
    ];
    for (name, v) in &variants {
        let mut best = f64::MAX;
        let mut size = 0;
        for _ in 0..3 {
            let props = v(base()).build();
            let t = Instant::now();
            let mut w = ArrowWriter::try_new(Vec::new(), schema.clone(), Some(props)).unwrap();
            for b in &batches {
                w.write(b).unwrap();
                w.flush().unwrap();
            }
            let out = w.into_inner().unwrap();
            best = best.min(t.elapsed().as_secs_f64());
            size = out.len();
        }
        println!(
            "{name:32} {:.1} ns/row {:.1} B/row",
            best * 1e9 / rows as f64,
            size as f64 / rows as f64
        );
    }
    // per-column cost, current settings
    let props = || store::writer_properties(&store::WriterConfig::default()).unwrap();
    for (i, field) in schema.fields().iter().enumerate().take(30) {
        let s1 = std::sync::Arc::new(arrow_schema::Schema::new(vec![field.as_ref().clone()]));
        let bs: Vec<_> = batches
            .iter()
            .map(|b| {
                arrow_array::RecordBatch::try_new(s1.clone(), vec![b.column(i).clone()]).unwrap()
            })
            .collect();
        let mut best = f64::MAX;
        let mut size = 0;
        for _ in 0..3 {
            let t = Instant::now();
            let mut w = ArrowWriter::try_new(Vec::new(), s1.clone(), Some(props())).unwrap();
            for b in &bs {
                w.write(b).unwrap();
                w.flush().unwrap();
            }
            let out = w.into_inner().unwrap();
            best = best.min(t.elapsed().as_secs_f64());
            size = out.len();
        }
        println!(
            "  {:14} {:.1} ns/row {:.2} B/row",
            field.name(),
            best * 1e9 / rows as f64,
            size as f64 / rows as f64
        );
    }
}
