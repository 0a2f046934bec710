//! The file format, determinism and well-formedness, without external tools.

mod common;

use common::{check_frame, fnv1a, records};
use trafgen::{write_pcap, GenConfig, GenSummary, Kind};

fn generate(cfg: &GenConfig) -> (Vec<u8>, GenSummary) {
    let mut out = Vec::new();
    let summary = write_pcap(cfg, &mut out).expect("writing to a Vec does not fail");
    (out, summary)
}

fn small(seed: u64) -> GenConfig {
    GenConfig {
        flows: 1500,
        seed,
        ..GenConfig::default()
    }
}

#[test]
fn same_seed_same_bytes_different_seed_different_bytes() {
    let (a, sa) = generate(&small(7));
    let (b, sb) = generate(&small(7));
    let (c, _) = generate(&small(8));
    assert_eq!(fnv1a(&a), fnv1a(&b));
    assert_eq!(a, b);
    assert_eq!(sa, sb);
    assert_ne!(fnv1a(&a), fnv1a(&c));
}

/// The bytes for one seed are pinned, so a change that alters the output
/// (or a platform that computes it differently) is noticed. After an
/// intended change, refresh with `TRAFGEN_BLESS=1 cargo test -p trafgen`.
#[test]
fn golden_hash() {
    let (bytes, _) = generate(&GenConfig {
        flows: 500,
        seed: 1,
        ..GenConfig::default()
    });
    let got = format!("{:016x}\n", fnv1a(&bytes));
    let path = std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("tests/golden/seed1_500flows.fnv1a");
    if std::env::var_os("TRAFGEN_BLESS").is_some() {
        std::fs::write(&path, &got).unwrap();
    }
    let want = std::fs::read_to_string(&path).expect("golden file (TRAFGEN_BLESS=1 writes it)");
    assert_eq!(
        got, want,
        "output for seed 1 changed; bless it if that was intended"
    );
}

#[test]
fn records_are_ordered_counted_and_well_formed() {
    let cfg = GenConfig {
        flows: 2000,
        seed: 3,
        ipv6_share_pct: 25,
        vlan_share_pct: 30,
        ..GenConfig::default()
    };
    let (bytes, s) = generate(&cfg);
    let recs = records(&bytes);
    assert_eq!(recs.len() as u64, s.packets);
    assert_eq!(
        recs.iter().map(|r| r.frame.len() as u64).sum::<u64>(),
        s.bytes
    );
    assert!(
        recs.windows(2).all(|w| w[0].ts_usec <= w[1].ts_usec),
        "timestamps never go back"
    );
    assert_eq!(recs[0].ts_usec, cfg.start_ns / 1000);
    assert_eq!(recs.last().unwrap().ts_usec, s.last_ns / 1000);

    let (mut v6, mut vlan) = (0, 0);
    for r in &recs {
        let info = check_frame(r.frame);
        v6 += u64::from(info.v6);
        vlan += u64::from(info.vlan);
    }
    // Shares are per conversation; per packet they land in the same region.
    assert!(
        (10..45).contains(&(v6 * 100 / s.packets)),
        "{v6} IPv6 of {}",
        s.packets
    );
    assert!(
        (15..50).contains(&(vlan * 100 / s.packets)),
        "{vlan} tagged of {}",
        s.packets
    );

    assert_eq!(s.flows, 2000);
    assert_eq!(s.by_kind.iter().map(|k| k.1).sum::<u64>(), s.flows);
    for kind in Kind::ALL {
        assert!(s.flows_of(kind) > 0, "no {kind:?} conversations");
    }
    assert_eq!(s.dns_queries, s.flows_of(Kind::Dns));
    assert_eq!(s.dns_responses, s.dns_queries);
    assert_eq!(s.tls_client_hellos, s.flows_of(Kind::Tls));
    assert_eq!(s.http_requests, s.http_responses);
    assert!(s.http_requests >= s.flows_of(Kind::Http));
}

#[test]
fn all_ipv6_and_all_tagged() {
    let cfg = GenConfig {
        flows: 300,
        seed: 9,
        ipv6_share_pct: 100,
        vlan_share_pct: 100,
        ..GenConfig::default()
    };
    let (bytes, s) = generate(&cfg);
    assert_eq!((s.ipv6_flows, s.vlan_flows), (300, 300));
    for r in records(&bytes) {
        let info = check_frame(r.frame);
        assert!(info.v6 && info.vlan);
        assert_ne!(info.proto, 1, "ICMP over IPv6 is ICMPv6");
    }
}

#[test]
fn arrival_rate_sets_the_pace() {
    let slow = generate(&GenConfig {
        flows: 1000,
        seed: 2,
        flows_per_sec: 100,
        ..GenConfig::default()
    })
    .1;
    // 1000 arrivals at 100/s take ten seconds give or take a third of one;
    // long-lived conversations may stretch the capture beyond that.
    let span_s = (slow.last_ns - slow.first_ns) / 1_000_000_000;
    assert!(span_s >= 9, "{span_s} s");
}
