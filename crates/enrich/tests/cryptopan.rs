//! Crypto-PAn against every published vector in
//! `test_data/enrich/cryptopan_vectors.txt`, and its prefix-preserving property.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use enrich::anonymize::parse_key;
use enrich::{Anonymizer, CryptoPan};
use proptest::prelude::*;
use record::FlowRecord;

fn vectors() -> std::path::PathBuf {
    std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("../../test_data/enrich/cryptopan_vectors.txt")
}

struct Set {
    key: [u8; 32],
    pairs: Vec<(IpAddr, IpAddr)>,
}

fn load() -> Vec<Set> {
    let text = std::fs::read_to_string(vectors()).expect("read vectors");
    let mut sets: Vec<Set> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(hex) = line.strip_prefix("key ") {
            let key = parse_key(hex.as_bytes(), &vectors()).expect("key");
            sets.push(Set {
                key,
                pairs: Vec::new(),
            });
            continue;
        }
        let mut it = line.split_whitespace();
        let parse = |s: Option<&str>| -> IpAddr {
            s.and_then(|s| s.parse().ok())
                .unwrap_or_else(|| panic!("line {}: bad address", n + 1))
        };
        let (a, b) = (parse(it.next()), parse(it.next()));
        sets.last_mut().expect("key first").pairs.push((a, b));
    }
    sets
}

#[test]
fn published_vectors() {
    let sets = load();
    assert_eq!(sets.len(), 8);
    let (mut n4, mut n6) = (0, 0);
    for (i, set) in sets.iter().enumerate() {
        let cp = CryptoPan::new(&set.key);
        // The 24-bit table costs 16.7 M AES blocks to build (slow in debug
        // builds): only for the reference set.
        let cp24 = (i == 0).then(|| CryptoPan::with_prefix_bits(&set.key, 24));
        for &(raw, anon) in &set.pairs {
            match (raw, anon) {
                (IpAddr::V4(r), IpAddr::V4(a)) => {
                    let (r, a) = (u32::from(r), u32::from(a));
                    assert_eq!(cp.anonymize_v4(r), a, "set {}: {raw}", i + 1);
                    if let Some(cp24) = &cp24 {
                        assert_eq!(
                            cp24.anonymize_v4(r),
                            a,
                            "set {} (24-bit table): {raw}",
                            i + 1
                        );
                    }
                    assert_eq!(
                        cp.anonymize_v4_uncached(r),
                        a,
                        "set {} (plain): {raw}",
                        i + 1
                    );
                    // As the first 32 bits of an IPv6 address (yacryptopan's check).
                    let r6 = (r as u128) << 96;
                    assert_eq!((cp.anonymize_v6(r6) >> 96) as u32, a);
                    // Through a record: stays IPv4-mapped.
                    let mut rec = FlowRecord {
                        src_ip: Ipv4Addr::from(r).to_ipv6_mapped(),
                        dst_ip: Ipv4Addr::from(r).to_ipv6_mapped(),
                        ..FlowRecord::default()
                    };
                    Anonymizer::from(cp.clone()).apply(&mut rec);
                    assert_eq!(rec.src_ip, Ipv4Addr::from(a).to_ipv6_mapped());
                    assert_eq!(rec.dst_ip, Ipv4Addr::from(a).to_ipv6_mapped());
                    n4 += 1;
                }
                (IpAddr::V6(r), IpAddr::V6(a)) => {
                    let (r, a) = (u128::from(r), u128::from(a));
                    assert_eq!(cp.anonymize_v6(r), a, "set {}: {raw}", i + 1);
                    assert_eq!(
                        cp.anonymize_v6_uncached(r),
                        a,
                        "set {} (plain): {raw}",
                        i + 1
                    );
                    if Ipv6Addr::from(r).to_ipv4_mapped().is_none() {
                        assert_eq!(cp.anonymize_ip(Ipv6Addr::from(r)), Ipv6Addr::from(a));
                    }
                    n6 += 1;
                }
                _ => panic!("mixed families: {raw} {anon}"),
            }
        }
    }
    // 71 reference-sample addresses + 38 IPv4 and 34 IPv6 pairs of the other sets and keys.
    assert_eq!((n4, n6), (109, 34), "vector count changed");
}

/// Length of the common prefix of two `bits`-bit numbers (left-aligned in u128).
fn common_prefix(a: u128, b: u128, bits: u32) -> u32 {
    (a ^ b).leading_zeros().min(bits)
}

fn shared() -> &'static CryptoPan {
    static CP: std::sync::OnceLock<CryptoPan> = std::sync::OnceLock::new();
    CP.get_or_init(|| CryptoPan::new(&key()))
}

fn key() -> [u8; 32] {
    let mut k = [0u8; 32];
    for (i, b) in k.iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(37).wrapping_add(11);
    }
    k
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Two IPv4 addresses sharing exactly n leading bits map to addresses
    /// sharing exactly n leading bits.
    #[test]
    fn prefix_preserving_v4(a: u32, b: u32, n in 0u32..=32) {
        let cp = shared();
        // Force b to share exactly n bits with a (or all 32).
        let b = if n == 32 { a } else {
            let keep = if n == 0 { 0 } else { u32::MAX << (32 - n) };
            (a & keep) | (!a & (1u32 << (31 - n))) | (b & ((1u32 << (31 - n)) - 1))
        };
        let want = common_prefix((a as u128) << 96, (b as u128) << 96, 32);
        prop_assert_eq!(want, n);
        let (x, y) = (cp.anonymize_v4(a), cp.anonymize_v4(b));
        prop_assert_eq!(common_prefix((x as u128) << 96, (y as u128) << 96, 32), n);
        prop_assert_eq!(x, cp.anonymize_v4_uncached(a));
    }

    #[test]
    fn prefix_preserving_v6(a: u128, b: u128, n in 0u32..=128) {
        let cp = shared();
        let b = if n == 128 { a } else {
            let keep = if n == 0 { 0 } else { u128::MAX << (128 - n) };
            (a & keep) | (!a & (1u128 << (127 - n))) | (b & ((1u128 << (127 - n)) - 1))
        };
        prop_assert_eq!(common_prefix(a, b, 128), n);
        let (x, y) = (cp.anonymize_v6(a), cp.anonymize_v6(b));
        prop_assert_eq!(common_prefix(x, y, 128), n);
        prop_assert_eq!(x, cp.anonymize_v6_uncached(a));
    }

    /// The 24-bit table gives the same mapping as the 16-bit one.
    #[test]
    fn table24_matches(a: u32) {
        use std::sync::OnceLock;
        static CP: OnceLock<(CryptoPan, CryptoPan)> = OnceLock::new();
        let (c16, c24) = CP.get_or_init(|| (CryptoPan::new(&key()), CryptoPan::with_prefix_bits(&key(), 24)));
        prop_assert_eq!(c16.anonymize_v4(a), c24.anonymize_v4(a));
    }
}

/// One-to-one over a whole /16 (a permutation of its 65 536 addresses).
#[test]
fn bijective_on_a_slash16() {
    let cp = CryptoPan::new(&key());
    let mut seen = vec![false; 1 << 16];
    let base = 0xc0a8_0000u32; // 192.168.0.0/16
    let out_prefix = cp.anonymize_v4(base) >> 16;
    for low in 0..=0xffffu32 {
        let x = cp.anonymize_v4(base | low);
        assert_eq!(x >> 16, out_prefix);
        let i = (x & 0xffff) as usize;
        assert!(!seen[i], "collision");
        seen[i] = true;
    }
}
