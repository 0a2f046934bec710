//! Lookups per second of `GeoIp` on MaxMind's test databases (one core).
//!
//! `cargo run --release -p enrich --example geoip_speed [records] [country.mmdb] [asn.mmdb]`
//! (defaults: 1 000 000 records, `../shared/testdata/mmdb/GeoIP2-City-Test.mmdb`
//! and `GeoLite2-ASN-Test.mmdb`). Each record is four lookups (country and
//! AS of both addresses). The test databases are tiny, so this measures the
//! per-lookup cost (tree walk + decode), not cache misses of a 70 MB database.

use std::hint::black_box;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::time::Instant;

use enrich::GeoIp;
use record::FlowRecord;

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let dir = std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("../../../shared/testdata/mmdb");
    let country = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.join("GeoIP2-City-Test.mmdb"));
    let asn = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.join("GeoLite2-ASN-Test.mmdb"));
    let g = GeoIp::open(Some(&country), Some(&asn)).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(1)
    });

    // Addresses the databases know (so lookups decode data) mixed with
    // random ones (mostly not found).
    let known: [Ipv6Addr; 6] = [
        Ipv4Addr::new(89, 160, 20, 130).to_ipv6_mapped(),
        Ipv4Addr::new(81, 2, 69, 160).to_ipv6_mapped(),
        Ipv4Addr::new(216, 160, 83, 60).to_ipv6_mapped(),
        Ipv4Addr::new(1, 0, 0, 1).to_ipv6_mapped(),
        "2001:218::1".parse().unwrap(),
        "2a02:d9c0::1".parse().unwrap(),
    ];
    let mut s = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    for (label, known_share) in [
        ("known addresses", 1.0),
        ("random IPv4", 0.0),
        ("half known, half random IPv4", 0.5),
    ] {
        let recs: Vec<FlowRecord> = (0..n)
            .map(|i| {
                let mut pick = || {
                    if ((i % 100) as f64) < known_share * 100.0 {
                        known[next() as usize % known.len()]
                    } else {
                        Ipv4Addr::from(next() as u32).to_ipv6_mapped()
                    }
                };
                FlowRecord {
                    src_ip: pick(),
                    dst_ip: pick(),
                    ..FlowRecord::default()
                }
            })
            .collect();
        let mut recs = recs;
        let t = Instant::now();
        let mut errors = 0usize;
        for r in recs.iter_mut() {
            errors += g.apply(r).is_err() as usize;
        }
        let secs = t.elapsed().as_secs_f64();
        black_box(&recs);
        println!(
            "{label:<30} {:>6.2} M records/s = {:>6.2} M lookups/s ({:.0} ns/lookup), {errors} errors",
            n as f64 / secs / 1e6,
            4.0 * n as f64 / secs / 1e6,
            secs * 1e9 / (4.0 * n as f64)
        );
    }
}
