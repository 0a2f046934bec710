//! Addresses per second of the anonymisers (one core).
//!
//! `cargo run --release -p enrich --example anon_speed [addresses]`

use std::hint::black_box;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Instant;

use enrich::{Anonymizer, CryptoPan, Truncate};
use record::FlowRecord;

/// A small xorshift generator: reproducible inputs without a dependency.
fn rng(mut s: u64) -> impl FnMut() -> u64 {
    move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    }
}

fn rate(label: &str, n: usize, f: impl FnOnce() -> u64) {
    let t = Instant::now();
    let sink = f();
    let s = t.elapsed().as_secs_f64();
    black_box(sink);
    println!(
        "{label:<44} {:>8.2} M addresses/s  ({:.1} ns each)",
        n as f64 / s / 1e6,
        s * 1e9 / n as f64
    );
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(2_000_000);
    let key: [u8; 32] = std::array::from_fn(|i| (i as u8).wrapping_mul(73).wrapping_add(5));
    let mut next = rng(0x2545_f491_4f6c_dd1d);
    let v4: Vec<u32> = (0..n).map(|_| next() as u32).collect();
    let v6: Vec<u128> = (0..n / 4)
        .map(|_| (next() as u128) << 64 | next() as u128)
        .collect();

    let t = Instant::now();
    let cp = CryptoPan::new(&key);
    println!(
        "CryptoPan::new (16-bit table): {:.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    let t = Instant::now();
    let cp24 = CryptoPan::with_prefix_bits(&key, 24);
    println!(
        "CryptoPan::with_prefix_bits(24): {:.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );

    rate("IPv4 Crypto-PAn, plain (32 AES blocks)", n, || {
        v4.iter()
            .fold(0, |acc, &a| acc ^ cp.anonymize_v4_uncached(a) as u64)
    });
    rate("IPv4 Crypto-PAn, 16-bit table (16 blocks)", n, || {
        v4.iter().fold(0, |acc, &a| acc ^ cp.anonymize_v4(a) as u64)
    });
    rate("IPv4 Crypto-PAn, 24-bit table (8 blocks)", n, || {
        v4.iter()
            .fold(0, |acc, &a| acc ^ cp24.anonymize_v4(a) as u64)
    });
    rate("IPv6 Crypto-PAn, plain (128 blocks)", v6.len(), || {
        v6.iter()
            .fold(0, |acc, &a| acc ^ cp.anonymize_v6_uncached(a) as u64)
    });
    rate(
        "IPv6 Crypto-PAn, 16-bit table (112 blocks)",
        v6.len(),
        || v6.iter().fold(0, |acc, &a| acc ^ cp.anonymize_v6(a) as u64),
    );

    // Whole records (two addresses each), IPv4-mapped, through the enum.
    let recs: Vec<FlowRecord> = v4
        .chunks_exact(2)
        .map(|p| FlowRecord {
            src_ip: Ipv4Addr::from(p[0]).to_ipv6_mapped(),
            dst_ip: Ipv4Addr::from(p[1]).to_ipv6_mapped(),
            ..FlowRecord::default()
        })
        .collect();
    for (label, anon) in [
        (
            "records: Anonymizer::CryptoPan (16-bit), IPv4",
            Anonymizer::from(cp.clone()),
        ),
        (
            "records: Anonymizer::CryptoPan (24-bit), IPv4",
            Anonymizer::from(cp24.clone()),
        ),
        (
            "records: Anonymizer::Truncate, IPv4",
            Anonymizer::from(Truncate::default()),
        ),
    ] {
        let mut recs = recs.clone();
        rate(label, recs.len() * 2, || {
            for r in recs.iter_mut() {
                anon.apply(r);
            }
            recs.iter()
                .fold(0, |acc, r| acc ^ u128::from(r.src_ip) as u64)
        });
    }
    let mut recs6: Vec<FlowRecord> = v6
        .chunks_exact(2)
        .map(|p| FlowRecord {
            src_ip: Ipv6Addr::from(p[0]),
            dst_ip: Ipv6Addr::from(p[1]),
            ..FlowRecord::default()
        })
        .collect();
    let anon = Anonymizer::from(cp);
    rate(
        "records: Anonymizer::CryptoPan, IPv6",
        recs6.len() * 2,
        || {
            for r in recs6.iter_mut() {
                anon.apply(r);
            }
            recs6
                .iter()
                .fold(0, |acc, r| acc ^ u128::from(r.src_ip) as u64)
        },
    );
}
