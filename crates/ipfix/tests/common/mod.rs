//! Shared helpers for the data-driven tests: paths into the shared test
//! data and UDP payloads out of captures.
#![allow(dead_code)]

use std::path::PathBuf;

pub fn testdata() -> PathBuf {
    std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("../../../shared/testdata")
}

/// Files in `dir` (relative to the test data) ending in `ext`, sorted.
pub fn files(dir: &str, ext: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(testdata().join(dir))
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(ext))
        .collect();
    out.sort();
    out
}

/// UDP payloads of a capture in file order, with a session id made from
/// the exporter's address and port.
pub fn udp_payloads(path: &std::path::Path) -> Vec<(u64, Vec<u8>)> {
    let mut src = capture::open_file(path.to_str().unwrap()).expect("open capture");
    let mut out = Vec::new();
    src.run(&mut |ev| {
        if let capture::Event::Frames(frames) = ev {
            for f in frames {
                let Ok(pkt) = packet::decode(f.link, f.data) else {
                    continue;
                };
                if pkt.proto != 17 || !pkt.has_l4 || pkt.frag.is_later() {
                    continue;
                }
                let ip = u128::from_be_bytes(pkt.src_ip.octets());
                let session = (ip as u64) ^ ((ip >> 64) as u64) ^ (u64::from(pkt.src_port) << 48);
                out.push((session, pkt.payload.to_vec()));
            }
        }
    })
    .expect("read capture");
    out
}
