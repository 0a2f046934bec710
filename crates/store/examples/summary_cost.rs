//! What a window's summary costs its writer, per flow: adding a stored
//! file's flows to a `store::summary::Summary` and writing the summary
//! (best of five, one thread, flows in memory, with the `eddy` binary's
//! allocator). Usage:
//! cargo run --release -p store --example summary_cost -- FLOWS.parquet

use std::time::Instant;

use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ProjectionMask;
use store::summary::{Summary, FLOW_COLUMNS};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let path = std::env::args().nth(1).expect("a flows file");
    let builder = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&path).unwrap())
        .unwrap()
        .with_batch_size(8192);
    let mask = ProjectionMask::columns(builder.parquet_schema(), FLOW_COLUMNS);
    let batches: Vec<_> = builder
        .with_projection(mask)
        .build()
        .unwrap()
        .map(|b| b.unwrap())
        .collect();
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    let out = std::env::temp_dir().join(format!("summary-cost-{}.parquet", std::process::id()));
    let (mut add, mut write) = (f64::MAX, f64::MAX);
    for _ in 0..5 {
        let t = Instant::now();
        let mut summary = Summary::new();
        for b in &batches {
            summary.add(b).unwrap();
        }
        add = add.min(t.elapsed().as_secs_f64());
        let t = Instant::now();
        summary.write(&out).unwrap();
        write = write.min(t.elapsed().as_secs_f64());
    }
    let size = std::fs::metadata(&out).unwrap().len();
    let _ = std::fs::remove_file(&out);
    println!(
        "{rows} flows: add {:.1} ns/flow, write {:.1} ns/flow ({:.1} ms), {:.2} bytes/flow",
        add * 1e9 / rows as f64,
        write * 1e9 / rows as f64,
        write * 1e3,
        size as f64 / rows as f64
    );
}
