//! Time per packet of each stage of the meter's path on one capture:
//! reading, reading + decoding, reading + decoding + the flow cache.
//!
//! `cargo run --release -p flow --example pipeline_speed -- FILE.pcap`

use std::time::Instant;

use flow::{CacheConfig, FlowCache};

#[derive(Clone, Copy, PartialEq)]
enum Stage {
    Read,
    Decode,
    Cache,
}

fn run(path: &str, stage: Stage) -> (u64, f64) {
    let mut source = capture::open_file(path).expect("open capture");
    let mut cache = FlowCache::new(CacheConfig::default());
    let mut out = Vec::with_capacity(1024);
    let mut frames = 0u64;
    let mut sink = 0u64;
    let started = Instant::now();
    source
        .run(&mut |event| {
            if let capture::Event::Frames(batch) = event {
                for frame in batch {
                    frames += 1;
                    if stage == Stage::Read {
                        sink += frame.data.len() as u64;
                        continue;
                    }
                    if let Ok(pkt) = packet::decode(frame.link, frame.data) {
                        sink += u64::from(pkt.dst_port);
                        if stage == Stage::Cache {
                            cache.observe(frame.ts_ns, &pkt, &mut out);
                            out.clear();
                        }
                    }
                }
            }
        })
        .expect("read capture");
    let secs = started.elapsed().as_secs_f64();
    std::hint::black_box(sink);
    (frames, secs)
}

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: pipeline_speed FILE.pcap");
    let mut previous = 0.0;
    for (name, stage) in [
        ("read", Stage::Read),
        ("+ decode", Stage::Decode),
        ("+ flow cache", Stage::Cache),
    ] {
        let best = (0..3)
            .map(|_| run(&path, stage))
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap();
        let ns = best.1 * 1e9 / best.0 as f64;
        println!(
            "{name:<14} {:>8.1} ns/packet  (+{:.1})  {} packets",
            ns,
            ns - previous,
            best.0
        );
        previous = ns;
    }
}
