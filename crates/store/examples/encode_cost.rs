//! What Parquet encoding costs, per row, on a stored file's rows: the
//! whole file under a few writer settings (parquet-rs's Arrow writer), then
//! with the store's own writer (`store::FileEncoder`), then each of the first 30
//! columns alone with the store's settings (best of three, in memory, one
//! thread). Usage:
//! cargo run --release -p store --example encode_cost -- FILE.parquet

use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::properties::{
    EnabledStatistics, WriterProperties, WriterPropertiesBuilder, WriterVersion,
};
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

/// One set of writer settings: on top of [`base`], which columns lose
/// their dictionary, which get a 4 MiB dictionary page, which are
/// byte-stream-split, and the page format and statistics level.
struct Variant {
    name: &'static str,
    v2: bool,
    no_dictionary: &'static [&'static str],
    big_dictionary: &'static [&'static str],
    byte_stream_split: &'static [&'static str],
    chunk_statistics: bool,
}

const COUNTS: [&str; 2] = ["bytes", "rev_bytes"];
const ADDRS: [&str; 2] = ["src_ip", "dst_ip"];

const VARIANTS: &[Variant] = &[
    Variant {
        name: "1.0, no dict on addrs (old store)",
        v2: false,
        no_dictionary: &["bytes", "rev_bytes", "src_ip", "dst_ip"],
        big_dictionary: &[],
        byte_stream_split: &[],
        chunk_statistics: false,
    },
    Variant {
        name: "1.0, no dictionaries at all",
        v2: false,
        no_dictionary: &["*"],
        big_dictionary: &[],
        byte_stream_split: &[],
        chunk_statistics: false,
    },
    Variant {
        name: "1.0, chunk statistics",
        v2: false,
        no_dictionary: &["bytes", "rev_bytes", "src_ip", "dst_ip"],
        big_dictionary: &[],
        byte_stream_split: &[],
        chunk_statistics: true,
    },
    Variant {
        name: "1.0, byte-stream-split addrs",
        v2: false,
        no_dictionary: &["bytes", "rev_bytes", "src_ip", "dst_ip"],
        big_dictionary: &[],
        byte_stream_split: &ADDRS,
        chunk_statistics: false,
    },
    Variant {
        name: "2.0, dicts on addrs and MACs (store)",
        v2: true,
        no_dictionary: &COUNTS,
        big_dictionary: &ADDRS,
        byte_stream_split: &[],
        chunk_statistics: false,
    },
    Variant {
        name: "2.0, dicts on addrs only",
        v2: true,
        no_dictionary: &["bytes", "rev_bytes", "src_mac", "dst_mac", "exporter"],
        big_dictionary: &ADDRS,
        byte_stream_split: &[],
        chunk_statistics: false,
    },
];

impl Variant {
    fn properties(&self) -> WriterProperties {
        let mut p = base();
        if self.v2 {
            p = p.set_writer_version(WriterVersion::PARQUET_2_0);
        }
        if self.chunk_statistics {
            p = p.set_statistics_enabled(EnabledStatistics::Chunk);
        }
        for &c in self.no_dictionary {
            p = if c == "*" {
                p.set_dictionary_enabled(false)
            } else {
                p.set_column_dictionary_enabled(ColumnPath::from(c), false)
            };
        }
        for &c in self.big_dictionary {
            p = p.set_column_dictionary_page_size_limit(ColumnPath::from(c), 4 << 20);
        }
        for &c in self.byte_stream_split {
            p = p.set_column_encoding(ColumnPath::from(c), Encoding::BYTE_STREAM_SPLIT);
        }
        p.build()
    }
}

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
    for v in VARIANTS {
        let mut best = f64::MAX;
        let mut size = 0;
        for _ in 0..3 {
            let props = v.properties();
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
            "{:38} {:.1} ns/row {:.1} B/row",
            v.name,
            best * 1e9 / rows as f64,
            size as f64 / rows as f64
        );
    }
    // The store's own writer: parquet-rs's settings above plus our column
    // chunks (`store::FileEncoder`).
    let mut best = f64::MAX;
    let mut size = 0;
    for _ in 0..3 {
        let props = store::writer_properties(&store::WriterConfig::default()).unwrap();
        let t = Instant::now();
        let mut w = store::FileEncoder::new(Vec::new(), props).unwrap();
        for b in &batches {
            w.write_row_group(b).unwrap();
        }
        let out = w.into_inner().unwrap();
        best = best.min(t.elapsed().as_secs_f64());
        size = out.len();
    }
    println!(
        "{:38} {:.1} ns/row {:.1} B/row",
        "store::FileEncoder (store)",
        best * 1e9 / rows as f64,
        size as f64 / rows as f64
    );
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
