//! The whole packet path (reader, decoder, cache, L7 parsers, every text
//! format) never panics on shared captures cut at random lengths or with
//! random bytes overwritten, and conserves packets: every decoded packet
//! ends up in exactly one flow.

use std::path::PathBuf;

use flow::{CacheConfig, FlowCache};
use proptest::prelude::*;
use record::format::{Format, TextSink};
use record::{FlowRecord, FlowSink};

fn shared_captures() -> Vec<PathBuf> {
    let root = std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("../../../shared/testdata/pcap");
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("shared test data").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Runs bytes through reader, decoder and the cache `config` describes,
/// then writes the flows in every format; returns (decoded packets, packets
/// in exported flows, both directions of biflows counted).
fn run_pipeline(bytes: Vec<u8>, config: CacheConfig) -> (u64, u64) {
    let biflow = config.biflow;
    let Ok(mut source) = capture::open_reader(Box::new(std::io::Cursor::new(bytes)), "cut", None)
    else {
        return (0, 0);
    };
    let mut cache = FlowCache::new(config);
    let mut out = Vec::new();
    let mut decoded = 0;
    let _ = source.run(&mut |event| match event {
        capture::Event::Frames(frames) => {
            for frame in frames {
                if let Ok(pkt) = packet::decode(frame.link, frame.data) {
                    decoded += 1;
                    cache.observe(frame.ts_ns, &pkt, &mut out);
                }
            }
        }
        capture::Event::Tick(now) => cache.expire(now, &mut out),
    });
    cache.flush(&mut out);
    render(&out, biflow);
    let reverse = |r: &FlowRecord| r.reverse.as_ref().map_or(0, |rev| rev.packets);
    (decoded, out.iter().map(|r| r.packets + reverse(r)).sum())
}

/// Writes `records` in every output format the meter has.
fn render(records: &[FlowRecord], biflow: bool) {
    for format in Format::ALL {
        let mut sink = TextSink::new(std::io::sink(), format, biflow);
        sink.write(records).unwrap();
        sink.finish().unwrap();
    }
}

/// `config` with every L7 parser on.
fn with_l7(config: CacheConfig) -> CacheConfig {
    CacheConfig {
        l7_parsers: l7::PARSERS.iter().map(|spec| spec.name).collect(),
        ..config
    }
}

fn small_cache(biflow: bool) -> CacheConfig {
    CacheConfig {
        capacity: 8,
        biflow,
        ..CacheConfig::default()
    }
}

#[test]
fn every_shared_capture_conserves_packets() {
    for path in shared_captures() {
        let bytes = std::fs::read(&path).unwrap();
        for config in [
            CacheConfig::default(),
            CacheConfig::like_ipfixprobe(),
            small_cache(false),
            with_l7(CacheConfig::default()),
            with_l7(CacheConfig::like_ipfixprobe()),
            with_l7(small_cache(true)),
        ] {
            let (decoded, in_flows) = run_pipeline(bytes.clone(), config);
            assert_eq!(decoded, in_flows, "{}", path.display());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn cut_or_corrupted_captures_never_panic(
        file_idx in any::<prop::sample::Index>(),
        cut in any::<prop::sample::Index>(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
        biflow in any::<bool>(),
        l7 in any::<bool>(),
    ) {
        let files = shared_captures();
        let mut bytes = std::fs::read(file_idx.get(&files)).unwrap();
        let len = cut.index(bytes.len() + 1);
        bytes.truncate(len);
        if !bytes.is_empty() {
            for (at, value) in flips {
                let i = at.index(bytes.len());
                bytes[i] = value;
            }
        }
        let config = match l7 {
            true => with_l7(small_cache(biflow)),
            false => small_cache(biflow),
        };
        run_pipeline(bytes, config);
    }
}
