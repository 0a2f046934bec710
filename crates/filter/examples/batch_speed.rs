//! Rows per second of `filter::batch::BatchFilter` over generated Arrow
//! batches: `cargo run --release -p filter --features arrow --example batch_speed [ROWS]`.
//! For comparison it also times `Expr::eval` row by row over the same data
//! (as records), for the first filter.

use std::hint::black_box;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Instant;

use arrow_array::builder::StringBuilder;
use arrow_array::{
    ArrayRef, FixedSizeBinaryArray, RecordBatch, TimestampNanosecondArray, UInt16Array,
    UInt64Array, UInt8Array,
};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use filter::batch::BatchFilter;
use record::FlowRecord;

/// A small deterministic generator (xorshift64*), so runs are comparable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const HOSTS: &[&str] = &[
    "www.example.com",
    "mail.google.com",
    "cdn.example.net",
    "api.github.com",
    "seznam.cz",
];

fn batch(n: usize, rng: &mut Rng) -> RecordBatch {
    let mut src_port = Vec::with_capacity(n);
    let mut dst_port = Vec::with_capacity(n);
    let mut proto = Vec::with_capacity(n);
    let mut flags = Vec::with_capacity(n);
    let mut packets = Vec::with_capacity(n);
    let mut bytes = Vec::with_capacity(n);
    let mut first = Vec::with_capacity(n);
    let mut last = Vec::with_capacity(n);
    let mut src_ip = Vec::with_capacity(n);
    let mut dst_ip = Vec::with_capacity(n);
    let mut host = StringBuilder::new();
    for _ in 0..n {
        src_port.push(1024 + rng.below(60000) as u16);
        let dp = [80u16, 443, 53, 22, 8080, 25][rng.below(6) as usize];
        dst_port.push(dp);
        proto.push([6u8, 6, 6, 17, 17, 1][rng.below(6) as usize]);
        flags.push(rng.below(64) as u8);
        let p = 1 + rng.below(1000);
        packets.push(p);
        bytes.push(p * (40 + rng.below(1400)));
        let f = 1_700_000_000_000_000_000 + rng.below(300_000_000_000) as i64;
        first.push(f);
        last.push(f + rng.below(60_000_000_000) as i64);
        let ip = |rng: &mut Rng| {
            Ipv4Addr::from((10u32 << 24) | rng.below(1 << 20) as u32)
                .to_ipv6_mapped()
                .octets()
        };
        src_ip.push(ip(rng));
        dst_ip.push(ip(rng));
        if dp == 80 && rng.below(2) == 0 {
            host.append_value(HOSTS[rng.below(HOSTS.len() as u64) as usize]);
        } else {
            host.append_null();
        }
    }
    let ts = DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()));
    let schema = Schema::new(vec![
        Field::new("first", ts.clone(), false),
        Field::new("last", ts, false),
        Field::new("src_ip", DataType::FixedSizeBinary(16), false),
        Field::new("dst_ip", DataType::FixedSizeBinary(16), false),
        Field::new("src_port", DataType::UInt16, false),
        Field::new("dst_port", DataType::UInt16, false),
        Field::new("proto", DataType::UInt8, false),
        Field::new("tcp_flags", DataType::UInt8, false),
        Field::new("packets", DataType::UInt64, false),
        Field::new("bytes", DataType::UInt64, false),
        Field::new("http_host", DataType::Utf8, true),
    ]);
    let columns: Vec<ArrayRef> = vec![
        Arc::new(TimestampNanosecondArray::from(first).with_timezone("UTC")),
        Arc::new(TimestampNanosecondArray::from(last).with_timezone("UTC")),
        Arc::new(FixedSizeBinaryArray::try_from_iter(src_ip.into_iter()).expect("16 bytes")),
        Arc::new(FixedSizeBinaryArray::try_from_iter(dst_ip.into_iter()).expect("16 bytes")),
        Arc::new(UInt16Array::from(src_port)),
        Arc::new(UInt16Array::from(dst_port)),
        Arc::new(UInt8Array::from(proto)),
        Arc::new(UInt8Array::from(flags)),
        Arc::new(UInt64Array::from(packets)),
        Arc::new(UInt64Array::from(bytes)),
        Arc::new(host.finish()),
    ];
    RecordBatch::try_new(Arc::new(schema), columns).expect("columns fit the schema")
}

/// The batch's rows as records (only the columns the batch has), for the
/// row-by-row comparison.
fn records(b: &RecordBatch) -> Vec<FlowRecord> {
    let ports = b
        .column(5)
        .as_any()
        .downcast_ref::<UInt16Array>()
        .expect("u16");
    ports
        .values()
        .iter()
        .map(|p| FlowRecord {
            dst_port: *p,
            ..Default::default()
        })
        .collect()
}

fn main() {
    let total: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(8_000_000);
    let rows_per_batch = 8192;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let batches: Vec<RecordBatch> = (0..total.div_ceil(rows_per_batch))
        .map(|_| batch(rows_per_batch, &mut rng))
        .collect();
    let rows = batches.len() * rows_per_batch;
    let schema = batches[0].schema();
    println!("{rows} rows in batches of {rows_per_batch}");
    for f in [
        "dst port 443",
        "packets > 500",
        "proto tcp and dst port 443",
        "port in [ 22 25 53 80 443 8080 ]",
        "flags S and not flags A",
        "src net 10.1.0.0/16",
        "first > 2023-11-14T22:15:00",
        "duration > 30000",
        "bps > 100k",
        "http_host contains \"example\"",
        "http_host ~ \"\\.com$\"",
        "proto tcp and (dst port 80 or dst port 443) and not src net 10.0.0.0/14 and packets > 10",
    ] {
        let expr = filter::parse(f).expect("filter parses").expr;
        let bf = BatchFilter::new(&expr, &schema).expect("schema fits");
        // Warm up, then time the best of three passes.
        let mut matched = 0;
        for b in &batches {
            matched += bf.matches_count(b);
        }
        let mut best = f64::INFINITY;
        for _ in 0..3 {
            let t = Instant::now();
            for b in &batches {
                black_box(bf.eval(black_box(b)));
            }
            best = best.min(t.elapsed().as_secs_f64());
        }
        println!(
            "{:>8.1} M rows/s  {:>5.1}% match  {f}",
            rows as f64 / best / 1e6,
            matched as f64 * 100.0 / rows as f64
        );
    }
    // Row by row on records, for scale.
    let recs: Vec<FlowRecord> = batches.iter().flat_map(records).collect();
    let f = filter::parse("dst port 443").expect("filter parses");
    let t = Instant::now();
    let n = recs.iter().filter(|r| f.matches(black_box(r))).count();
    let dt = t.elapsed().as_secs_f64();
    println!(
        "{:>8.1} M rows/s  (Expr::eval on records, dst port 443, {n} match)",
        rows as f64 / dt / 1e6
    );
}
