//! Time the logger's CSV writer (`schema::text::CsvWriter`) on the batches
//! of an Arrow IPC stream file, such as one a module wrote with `-i f:FILE`:
//! `cargo run --release -p stream --example csv_speed -- FILE [ROUNDS]`.

use std::time::Instant;

use schema::text::CsvWriter;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: csv_speed FILE.arrows [ROUNDS]");
        std::process::exit(2);
    };
    let rounds: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(5);
    let file = std::fs::File::open(&path).expect("open the file");
    let reader = arrow_ipc::reader::StreamReader::try_new(std::io::BufReader::new(file), None)
        .expect("an Arrow IPC stream");
    let batches: Vec<_> = reader.map(|b| b.expect("a batch")).collect();
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    let mut out = Vec::with_capacity(1 << 20);
    for round in 0..rounds {
        let mut writer = CsvWriter::new();
        let mut bytes = 0;
        let start = Instant::now();
        for b in &batches {
            out.clear();
            writer.write_batch(b, &mut out).expect("csv");
            bytes += out.len();
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "round {round}: {rows} rows, {:.1} ns/row, {:.0} MB/s of CSV",
            secs * 1e9 / rows as f64,
            bytes as f64 / secs / 1e6
        );
    }
}
