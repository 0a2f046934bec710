//! Store write speed: N synthetic L4 records through `Store::push` into one
//! window, spool on or off. Prints records/s and the file size per record.
//! Usage: cargo run --release -p store --example store_speed -- [N] [spool]

use std::net::Ipv6Addr;
use std::time::Instant;

use record::FlowRecord;
use store::{Store, StoreConfig};

fn main() {
    let mut args = std::env::args().skip(1);
    let n: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let spool = args.next().is_some_and(|a| a == "spool");
    let root = std::env::temp_dir().join(format!("eddy-store-speed-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let mut config = StoreConfig::new(&root);
    config.writer.spool = spool;
    let mut store = Store::open(config).expect("open the store");
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let t0 = 1_764_289_500_000_000_000u64;
    let records: Vec<FlowRecord> = (0..n.min(1 << 20))
        .map(|i| {
            let r = next();
            FlowRecord {
                first_ns: t0 + i * 1_000_000 - (r % 5_000_000_000),
                last_ns: t0 + i * 1_000_000,
                src_ip: Ipv6Addr::from(0xffff_0a00_0000u128 | u128::from(r as u16)),
                dst_ip: Ipv6Addr::from(0xffff_c000_0200u128 | u128::from((r >> 16) as u8)),
                src_port: (r >> 24) as u16,
                dst_port: [53, 80, 443, 22][(r >> 40) as usize % 4],
                proto: [6, 17][(r >> 44) as usize % 2],
                tcp_flags: (r >> 48) as u8,
                packets: 1 + r % 100,
                bytes: 40 + r % 100_000,
                ..FlowRecord::default()
            }
        })
        .collect();
    let start = Instant::now();
    for i in 0..n {
        store
            .push(
                "bench",
                1_764_289_500,
                &records[(i % records.len() as u64) as usize],
            )
            .expect("push");
    }
    let files = store.close_all().expect("close");
    let secs = start.elapsed().as_secs_f64();
    let bytes: u64 = files.iter().map(|f| f.bytes).sum();
    println!(
        "{n} records in {secs:.3} s: {:.2} M records/s, {:.1} bytes/record on disk (spool {})",
        n as f64 / secs / 1e6,
        bytes as f64 / n as f64,
        if spool { "on" } else { "off" }
    );
    let _ = std::fs::remove_dir_all(&root);
}
