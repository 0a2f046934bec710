//! GeoIP against MaxMind's test databases (`../shared/testdata/mmdb/`); the
//! expected values are those of MaxMind-DB's `source-data/*.json`.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use enrich::geoip::{DbKind, GeoIpError};
use enrich::GeoIp;
use record::FlowRecord;

fn db(name: &str) -> PathBuf {
    std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("../../../shared/testdata/mmdb")
    .join(name)
}

fn v4(s: &str) -> Ipv6Addr {
    s.parse::<Ipv4Addr>().unwrap().to_ipv6_mapped()
}

fn v6(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

fn cc(s: &str) -> [u8; 2] {
    s.as_bytes().try_into().unwrap()
}

fn record(src: Ipv6Addr, dst: Ipv6Addr) -> FlowRecord {
    FlowRecord {
        src_ip: src,
        dst_ip: dst,
        ..FlowRecord::default()
    }
}

/// (address, expected country) for GeoIP2-Country-Test / GeoIP2-City-Test.
const COUNTRY_CASES: &[(&str, Option<&str>)] = &[
    // 81.2.69.160/27: country GB, registered US.
    ("81.2.69.160", Some("GB")),
    // 2.125.160.216/29: country GB, registered FR.
    ("2.125.160.217", Some("GB")),
    // 89.160.20.128/25: SE (registered DE).
    ("89.160.20.200", Some("SE")),
    // 216.160.83.56/29: US (registered GB).
    ("216.160.83.60", Some("US")),
    ("2001:218::1", Some("JP")),
    ("2001:2e0:ffff::1", Some("HK")),
    ("2a02:d9c0::1", Some("TR")),
    // 2a02:d500::/29 has only a continent.
    ("2a02:d500::1", None),
    // Not in the databases.
    ("10.1.2.3", None),
    ("127.0.0.1", None),
    ("2001:db8::1", None),
];

fn parse(s: &str) -> Ipv6Addr {
    if s.contains(':') {
        v6(s)
    } else {
        v4(s)
    }
}

#[test]
fn country_and_city() {
    for name in [
        "GeoIP2-Country-Test.mmdb",
        "GeoLite2-Country-Test.mmdb",
        "GeoIP2-City-Test.mmdb",
        "GeoLite2-City-Test.mmdb",
    ] {
        let g = GeoIp::open(Some(&db(name)), None).unwrap();
        for &(ip, want) in COUNTRY_CASES {
            let got = g.country(parse(ip)).unwrap();
            assert_eq!(got, want.map(cc), "{name}: {ip}");
        }
    }
}

#[test]
fn country_not_registered_country() {
    // GeoIP2-Country-Test: 2001:220::/128 is country SE, registered DE
    // (the rest of 2001:220::/32 is KR).
    let g = GeoIp::open(Some(&db("GeoIP2-Country-Test.mmdb")), None).unwrap();
    assert_eq!(g.country(v6("2001:220::")).unwrap(), Some(cc("SE")));
    assert_eq!(g.country(v6("2001:220::1")).unwrap(), Some(cc("KR")));
    // 214.1.1.0/24 has only traits; 2.3.3.0/24 in the City DB only a continent.
    assert_eq!(g.country(v4("214.1.1.1")).unwrap(), None);
    let city = GeoIp::open(Some(&db("GeoIP2-City-Test.mmdb")), None).unwrap();
    assert_eq!(city.country(v4("2.3.3.1")).unwrap(), None);
}

#[test]
fn asn() {
    let g = GeoIp::open(None, Some(&db("GeoLite2-ASN-Test.mmdb"))).unwrap();
    for (ip, want) in [
        ("1.0.0.1", Some(15169)),
        ("12.81.92.1", Some(7018)),
        ("89.160.20.130", Some(29518)),
        ("38.108.80.30", Some(174)),
        ("2001:1700::1", Some(6730)),
        ("2c0f:ff80::1", Some(237)),
        ("127.0.0.1", None),
        ("2001:db8::1", None),
    ] {
        assert_eq!(g.asn(parse(ip)).unwrap(), want, "{ip}");
    }
}

#[test]
fn apply_sets_both_directions() {
    let g = GeoIp::open(
        Some(&db("GeoIP2-Country-Test.mmdb")),
        Some(&db("GeoLite2-ASN-Test.mmdb")),
    )
    .unwrap();
    let mut rec = record(v4("89.160.20.130"), v6("2001:1700::1"));
    g.apply(&mut rec).unwrap();
    assert_eq!((rec.src_country, rec.dst_country), (cc("SE"), [0, 0]));
    assert_eq!((rec.src_as, rec.dst_as), (29518, 6730));

    // Unknown addresses leave everything at 0.
    let mut rec = record(v4("10.0.0.1"), v6("fe80::1"));
    g.apply(&mut rec).unwrap();
    assert_eq!(
        (rec.src_country, rec.dst_country, rec.src_as, rec.dst_as),
        ([0, 0], [0, 0], 0, 0)
    );
}

#[test]
fn exporter_as_kept_unless_overwrite() {
    let asn = db("GeoLite2-ASN-Test.mmdb");
    let mut rec = record(v4("1.0.0.1"), v4("89.160.20.130"));
    rec.src_as = 64512;
    let g = GeoIp::open(None, Some(&asn)).unwrap();
    g.apply(&mut rec).unwrap();
    assert_eq!((rec.src_as, rec.dst_as), (64512, 29518));

    rec.src_as = 64512;
    let g = g.overwrite_as(true);
    g.apply(&mut rec).unwrap();
    assert_eq!((rec.src_as, rec.dst_as), (15169, 29518));
}

#[test]
fn ipv4_only_database() {
    // An IPv6 address in an IPv4-only database is unknown, not an error.
    let g = GeoIp::open(None, Some(&db("MaxMind-DB-test-ipv4-24.mmdb"))).unwrap();
    let mut rec = record(v6("2001:db8::1"), v4("1.1.1.1"));
    g.apply(&mut rec).unwrap();
    assert_eq!((rec.src_as, rec.dst_as), (0, 0));
}

#[test]
fn no_database_and_missing_file() {
    assert!(matches!(
        GeoIp::open(None, None),
        Err(GeoIpError::NoDatabase)
    ));
    let err = GeoIp::open(Some(&db("does-not-exist.mmdb")), None).unwrap_err();
    assert!(matches!(
        err,
        GeoIpError::Open {
            kind: DbKind::Country,
            ..
        }
    ));
    assert!(err.to_string().contains("does-not-exist.mmdb"), "{err}");
    // Not a MaxMind DB at all.
    let err = GeoIp::open(None, Some(&db("MaxMind-DB-spec.md"))).unwrap_err();
    assert!(
        matches!(
            err,
            GeoIpError::Open {
                kind: DbKind::Asn,
                ..
            }
        ),
        "{err}"
    );
}

/// Broken databases: an error at open or per lookup, never a panic; lookups
/// over many addresses of both families.
#[test]
fn broken_databases_never_panic() {
    for name in [
        "MaxMind-DB-test-broken-pointers-24.mmdb",
        "MaxMind-DB-test-broken-search-tree-24.mmdb",
        "GeoIP2-City-Test-Invalid-Node-Count.mmdb",
    ] {
        let path = db(name);
        let as_country = GeoIp::open(Some(&path), None);
        let as_asn = GeoIp::open(None, Some(&path));
        let mut errors = 0usize;
        let mut lookup_errors = 0usize;
        let mut opened = 0;
        for g in [as_country, as_asn] {
            let g = match g {
                Ok(g) => g,
                Err(e) => {
                    eprintln!("{name}: open: {e}");
                    errors += 1;
                    continue;
                }
            };
            opened += 1;
            if let Err(e) = g.verify() {
                eprintln!("{name}: verify: {e}");
                errors += 1;
            }
            for i in 0..4096u32 {
                // The test databases' networks are in 1.1.1.0/24 (and ::1.1.1.0/120);
                // half the addresses go there, half anywhere.
                let a = if i % 2 == 0 {
                    0x0101_0100 | ((i / 2) & 0xff)
                } else {
                    i.wrapping_mul(0x9e37_79b9)
                };
                let a = Ipv4Addr::from(a).to_ipv6_mapped();
                let b = Ipv6Addr::from(
                    (i as u128).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c834),
                );
                let mut rec = record(a, b);
                if let Err(e) = g.apply(&mut rec) {
                    if lookup_errors < 2 {
                        eprintln!("{name}: lookup: {e}");
                    }
                    lookup_errors += 1;
                }
            }
        }
        eprintln!(
            "{name}: opened {opened}/2, {errors} open/verify errors, {lookup_errors} lookup errors"
        );
        assert!(
            errors > 0,
            "{name}: a broken database passed open and verify"
        );
        if name.contains("pointers") {
            assert!(
                lookup_errors > 0,
                "{name}: broken pointers gave no lookup error"
            );
        }
    }
}

// ---- A tiny hand-made database for cases MaxMind's test data lacks ----

/// MaxMind DB data-section encoding (spec 2.0) of the few types we need.
mod mmdb {
    pub fn str(s: &str) -> Vec<u8> {
        assert!(s.len() < 29);
        let mut v = vec![(2 << 5) | s.len() as u8];
        v.extend_from_slice(s.as_bytes());
        v
    }
    pub fn map(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut v = vec![(7 << 5) | entries.len() as u8];
        for (k, val) in entries {
            v.extend(str(k));
            v.extend_from_slice(val);
        }
        v
    }
    pub fn u16(n: u16) -> Vec<u8> {
        let mut v = vec![(5 << 5) | 2];
        v.extend_from_slice(&n.to_be_bytes());
        v
    }
    pub fn u32(n: u32) -> Vec<u8> {
        let mut v = vec![(6 << 5) | 4];
        v.extend_from_slice(&n.to_be_bytes());
        v
    }
    pub fn u64(n: u64) -> Vec<u8> {
        // Extended type 9: type bits 0, size 8, then 9 - 7.
        let mut v = vec![8, 2];
        v.extend_from_slice(&n.to_be_bytes());
        v
    }
    pub fn array_of_en() -> Vec<u8> {
        let mut v = vec![1, 4]; // extended type 11 (array), size 1
        v.extend(str("en"));
        v
    }

    /// An IPv4 database (record size 24) mapping whole /8 networks to records.
    pub fn ipv4_db(nets: &[(u8, Vec<u8>)]) -> Vec<u8> {
        // Complete tree over the first 8 bits: node (level l, prefix p) is
        // (1 << l) - 1 + p; 255 nodes.
        let node_count: u32 = 255;
        let mut data = Vec::new();
        let mut leaf = [node_count; 256]; // node_count = "no data"
        for (net, rec) in nets {
            leaf[*net as usize] = node_count + 16 + data.len() as u32;
            data.extend_from_slice(rec);
        }
        let mut out = Vec::new();
        for l in 0..8u32 {
            for p in 0..(1u32 << l) {
                let child = |bit: u32| {
                    let q = 2 * p + bit;
                    if l == 7 {
                        leaf[q as usize]
                    } else {
                        (1 << (l + 1)) - 1 + q
                    }
                };
                for bit in 0..2 {
                    out.extend_from_slice(&child(bit).to_be_bytes()[1..]);
                }
            }
        }
        out.extend_from_slice(&[0; 16]);
        out.extend(data);
        out.extend_from_slice(b"\xAB\xCD\xEFMaxMind.com");
        out.extend(map(&[
            ("binary_format_major_version", u16(2)),
            ("binary_format_minor_version", u16(0)),
            ("build_epoch", u64(1_700_000_000)),
            ("database_type", str("eddy-Test-Country")),
            ("description", map(&[("en", str("eddy enrich test"))])),
            ("ip_version", u16(4)),
            ("languages", array_of_en()),
            ("node_count", u32(node_count)),
            ("record_size", u16(24)),
        ]));
        out
    }
}

fn iso(code: &str) -> Vec<u8> {
    mmdb::map(&[("iso_code", mmdb::str(code))])
}

#[test]
fn registered_country_fallback_and_bad_codes() {
    let db = mmdb::ipv4_db(&[
        // Only the registration country (as MaxMind gives for some anycast blocks).
        (1, mmdb::map(&[("registered_country", iso("DE"))])),
        // Country code not two letters: ignored, registered country used.
        (
            2,
            mmdb::map(&[("country", iso("XYZ")), ("registered_country", iso("FR"))]),
        ),
        // Lower case is upper-cased; the AS field of the same record.
        (
            3,
            mmdb::map(&[
                ("country", iso("us")),
                ("autonomous_system_number", mmdb::u32(64500)),
            ]),
        ),
        // Wrong types: a number where a map is expected: a lookup error, no panic.
        (4, mmdb::map(&[("country", mmdb::u32(7))])),
        (
            5,
            mmdb::map(&[("autonomous_system_number", mmdb::str("AS1"))]),
        ),
    ]);
    let path = std::env::temp_dir().join(format!("enrich-tiny-{}.mmdb", std::process::id()));
    std::fs::write(&path, db).unwrap();
    let g = GeoIp::open(Some(&path), Some(&path)).unwrap();
    g.verify().unwrap();
    assert_eq!(g.country(v4("1.2.3.4")).unwrap(), Some(cc("DE")));
    assert_eq!(g.country(v4("2.2.3.4")).unwrap(), Some(cc("FR")));
    assert_eq!(g.country(v4("3.2.3.4")).unwrap(), Some(cc("US")));
    assert_eq!(g.asn(v4("3.2.3.4")).unwrap(), Some(64500));
    assert_eq!(g.country(v4("9.9.9.9")).unwrap(), None);
    assert!(g.country(v4("4.0.0.1")).is_err());
    assert!(g.asn(v4("5.0.0.1")).is_err());

    // apply: the failed lookups are reported, the others still applied.
    let mut rec = record(v4("4.0.0.1"), v4("3.0.0.1"));
    let err = g.apply(&mut rec).unwrap_err();
    assert!(err.to_string().contains("4.0.0.1"), "{err}");
    assert_eq!(
        (rec.src_country, rec.dst_country, rec.dst_as),
        ([0, 0], cc("US"), 64500)
    );

    let g = g.registered_country_fallback(false);
    assert_eq!(g.country(v4("1.2.3.4")).unwrap(), None);
    assert_eq!(g.country(v4("2.2.3.4")).unwrap(), None);
    assert_eq!(g.country(v4("3.2.3.4")).unwrap(), Some(cc("US")));
    std::fs::remove_file(&path).unwrap();
}
