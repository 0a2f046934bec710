//! Renders 1,000,000 records to CSV and JSON with the old code (the verbatim
//! copy in `tests/reference/`) and with `TextSink`, and prints ns/record.
//!
//! `cargo run --release -p record --example format_speed [records] [format...]`
//! (formats: csv, json, line, long; all by default)
//!
//! The records look like a capture: times rise within one day, nine in ten
//! addresses are IPv4, counters are mostly small, a third are biflows.

#[path = "../tests/reference/mod.rs"]
mod reference;

use std::hint::black_box;
use std::io::{self, Write};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Instant;

use record::format::{Format, TextSink};
use record::{EndReason, FlowRecord, FlowSink, Reverse};

/// Counts bytes instead of storing them, so the timing is the rendering.
#[derive(Default)]
struct Count(u64);

impl Write for Count {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += black_box(buf).len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// SplitMix64: a dependency-free, reproducible source of test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn address(rng: &mut Rng) -> Ipv6Addr {
    if rng.below(10) == 0 {
        let s = rng.next();
        Ipv6Addr::new(
            0x2001,
            0xdb8,
            0,
            (s >> 48) as u16,
            0,
            0,
            (s >> 16) as u16,
            s as u16,
        )
    } else {
        Ipv4Addr::from(rng.next() as u32).to_ipv6_mapped()
    }
}

fn records(n: usize) -> Vec<FlowRecord> {
    let mut rng = Rng(42);
    let mut now = 1_682_035_200_000_000_000u64; // 2023-04-21 00:00 UTC
    (0..n)
        .map(|_| {
            now += rng.below(80_000_000); // ~25k records per second
            let reverse = (rng.below(3) == 0).then(|| Reverse {
                first_ns: now + 1000,
                last_ns: now + 5_000_000,
                packets: rng.below(100),
                bytes: rng.below(100_000),
                tcp_flags: rng.next() as u8,
            });
            FlowRecord {
                first_ns: now,
                last_ns: now + rng.below(60_000_000_000),
                src_ip: address(&mut rng),
                dst_ip: address(&mut rng),
                src_port: rng.next() as u16,
                dst_port: [53, 80, 443, 8080][rng.below(4) as usize],
                proto: [6, 17, 1][rng.below(3) as usize],
                tcp_flags: rng.next() as u8,
                tos: 0,
                packets: 1 + rng.below(1000),
                bytes: 40 + rng.below(1_500_000),
                vlan: 0,
                src_mac: rng.next().to_be_bytes()[..6].try_into().unwrap_or_default(),
                dst_mac: rng.next().to_be_bytes()[2..].try_into().unwrap_or_default(),
                end_reason: EndReason::Idle,
                reverse,
                l7: None,
                ..FlowRecord::default()
            }
        })
        .collect()
}

/// Best of three runs, in ns per record, and the bytes written.
fn time_it(records: &[FlowRecord], mut run: impl FnMut(&[FlowRecord]) -> u64) -> (f64, u64) {
    let mut best = f64::INFINITY;
    let mut bytes = 0;
    for _ in 0..3 {
        let start = Instant::now();
        bytes = run(records);
        best = best.min(start.elapsed().as_nanos() as f64 / records.len() as f64);
    }
    (best, bytes)
}

fn new_sink(format: Format) -> impl FnMut(&[FlowRecord]) -> u64 {
    move |records| {
        let mut count = Count::default();
        let mut sink = TextSink::new(&mut count, format, true);
        // Batches of 1024, as the meter hands them over.
        for chunk in records.chunks(1024) {
            sink.write(chunk).expect("counting never fails");
        }
        sink.finish().expect("counting never fails");
        drop(sink);
        count.0
    }
}

fn old_sink(format: reference::Format) -> impl FnMut(&[FlowRecord]) -> u64 {
    move |records| {
        let mut count = Count::default();
        let mut sink = reference::TextSink::new(&mut count, format, true);
        for chunk in records.chunks(1024) {
            sink.write(chunk).expect("counting never fails");
        }
        sink.finish().expect("counting never fails");
        drop(sink);
        count.0
    }
}

fn main() {
    let n = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let records = records(n);
    println!("{n} records, best of 3 runs");
    let cases: [(&str, Format, reference::Format); 4] = [
        ("csv", Format::Csv, reference::Format::Csv),
        ("json", Format::Json, reference::Format::Json),
        ("line", Format::Line, reference::Format::Line),
        ("long", Format::Long, reference::Format::Long),
    ];
    let only: Vec<String> = std::env::args().skip(2).collect();
    for (name, new, old) in cases {
        if !only.is_empty() && !only.iter().any(|o| o == name) {
            continue;
        }
        let (before, old_bytes) = time_it(&records, old_sink(old));
        let (after, new_bytes) = time_it(&records, new_sink(new));
        let same = if old_bytes == new_bytes {
            ""
        } else {
            "  (SIZE DIFFERS)"
        };
        println!(
            "{name:>5}: before {before:6.1} ns/record, after {after:6.1} ns/record, {:.2}x{same}",
            before / after
        );
    }
}
