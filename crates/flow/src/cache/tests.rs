use super::*;
use std::net::Ipv4Addr;

const SEC: u64 = 1_000_000_000;

fn ip(s: &str) -> Ipv6Addr {
    s.parse::<Ipv4Addr>().unwrap().to_ipv6_mapped()
}

fn tcp(src: &str, sport: u16, dst: &str, dport: u16, flags: u8) -> Packet<'static> {
    Packet {
        ip_version: 4,
        src_ip: ip(src),
        dst_ip: ip(dst),
        proto: TCP,
        has_l4: true,
        src_port: sport,
        dst_port: dport,
        tcp_flags: flags,
        ip_len: 60,
        ..Packet::default()
    }
}

fn udp(src: &str, sport: u16, dst: &str, dport: u16) -> Packet<'static> {
    Packet {
        proto: UDP,
        tcp_flags: 0,
        ..tcp(src, sport, dst, dport, 0)
    }
}

/// Feeds `(time_s, packet)` pairs and flushes at the end.
fn run(config: CacheConfig, packets: &[(f64, Packet<'static>)]) -> (Vec<FlowRecord>, CacheStats) {
    let mut cache = FlowCache::new(config);
    let mut out = Vec::new();
    for (t, pkt) in packets {
        cache.observe((t * SEC as f64) as u64, pkt, &mut out);
    }
    cache.flush(&mut out);
    (out, cache.stats())
}

const S: u8 = tcp_flags::SYN;
const A: u8 = tcp_flags::ACK;
const F: u8 = tcp_flags::FIN;

fn connection() -> Vec<(f64, Packet<'static>)> {
    let c = "10.0.0.1";
    let s = "10.0.0.2";
    vec![
        (0.0, tcp(c, 40000, s, 80, S)),
        (0.1, tcp(s, 80, c, 40000, S | A)),
        (0.2, tcp(c, 40000, s, 80, A)),
        (0.3, tcp(c, 40000, s, 80, A | F)),
        (0.4, tcp(s, 80, c, 40000, A | F)),
        (0.5, tcp(c, 40000, s, 80, A)),
    ]
}

#[test]
fn fin_keeps_trailing_packets_and_a_new_syn_restarts() {
    let mut packets = connection();
    packets.push((1.0, tcp("10.0.0.1", 40000, "10.0.0.2", 80, S)));
    let (flows, _) = run(CacheConfig::default(), &packets);
    let summary: Vec<_> = flows
        .iter()
        .map(|f| (f.src_port, f.packets, f.tcp_flags, f.end_reason))
        .collect();
    assert_eq!(
        summary,
        [
            (40000, 4, S | A | F, EndReason::EndOfFlow),
            (80, 2, S | A | F, EndReason::EndOfFlow),
            (40000, 1, S, EndReason::Forced),
        ]
    );
}

#[test]
fn finished_flows_leave_when_idle_as_end_of_flow() {
    let mut cache = FlowCache::new(CacheConfig::default());
    let mut out = Vec::new();
    for (t, pkt) in connection() {
        cache.observe((t * SEC as f64) as u64, &pkt, &mut out);
    }
    cache.expire(31 * SEC, &mut out);
    assert_eq!(out.len(), 2);
    assert!(out.iter().all(|f| f.end_reason == EndReason::EndOfFlow));
}

#[test]
fn inactive_timeout_splits_only_after_a_longer_gap() {
    let p = udp("10.0.0.1", 1000, "10.0.0.2", 2000);
    let (flows, _) = run(
        CacheConfig::default(),
        &[(0.0, p), (30.0, p), (60.5, p), (61.0, p)],
    );
    let summary: Vec<_> = flows.iter().map(|f| (f.packets, f.end_reason)).collect();
    assert_eq!(summary, [(2, EndReason::Idle), (2, EndReason::Forced)]);
    assert_eq!(flows[0].last_ns, 30 * SEC);
}

#[test]
fn active_timeout_restarts_long_flows() {
    let p = udp("10.0.0.1", 1000, "10.0.0.2", 2000);
    let packets: Vec<_> = (0..=40).map(|i| (i as f64 * 10.0, p)).collect();
    let (flows, _) = run(CacheConfig::default(), &packets);
    let summary: Vec<_> = flows.iter().map(|f| (f.packets, f.end_reason)).collect();
    // 0..=300 s is one flow; the packet at 310 s finds it older than 300 s.
    assert_eq!(summary, [(31, EndReason::Active), (10, EndReason::Forced)]);
}

#[test]
fn full_cache_evicts_least_recently_seen() {
    let a = udp("10.0.0.1", 1, "10.0.0.9", 9);
    let b = udp("10.0.0.2", 2, "10.0.0.9", 9);
    let c = udp("10.0.0.3", 3, "10.0.0.9", 9);
    let config = CacheConfig {
        capacity: 2,
        ..CacheConfig::default()
    };
    let (flows, stats) = run(config, &[(0.0, a), (1.0, b), (2.0, a), (3.0, c)]);
    assert_eq!(stats.evictions, 1);
    assert_eq!(
        (flows[0].src_port, flows[0].end_reason),
        (2, EndReason::Eviction)
    );
    assert_eq!(flows.len(), 3);
}

#[test]
fn dns_packets_are_flows_of_their_own() {
    let q = udp("10.0.0.1", 5353, "10.0.0.53", 53);
    let (flows, _) = run(CacheConfig::default(), &[(0.0, q), (0.1, q)]);
    assert_eq!(flows.len(), 2);
    let (flows, _) = run(CacheConfig::like_ipfixprobe(), &[(0.0, q), (0.1, q)]);
    assert_eq!(flows.len(), 1);
}

#[test]
fn icmp_packets_are_flows_of_their_own_like_nfpcapd() {
    let echo = Packet {
        proto: ICMP,
        src_port: 0,
        dst_port: 0x0800,
        ..udp("10.0.0.1", 0, "10.0.0.2", 0)
    };
    let (flows, _) = run(CacheConfig::like_nfpcapd(), &[(0.0, echo), (1.0, echo)]);
    assert_eq!(flows.len(), 2);
    let (flows, _) = run(CacheConfig::like_ipfixprobe(), &[(0.0, echo), (1.0, echo)]);
    assert_eq!(flows.len(), 1);
}

#[test]
fn later_fragments_inherit_ports() {
    let first = Packet {
        frag: packet::Fragment {
            id: 7,
            offset: 0,
            more: true,
        },
        ..udp("10.0.0.1", 6363, "10.0.0.2", 6363)
    };
    let later = Packet {
        frag: packet::Fragment {
            id: 7,
            offset: 1480,
            more: false,
        },
        has_l4: false,
        src_port: 0,
        dst_port: 0,
        ..first
    };
    let orphan = Packet {
        frag: packet::Fragment {
            id: 8,
            ..later.frag
        },
        ..later
    };
    let (flows, stats) = run(
        CacheConfig::default(),
        &[(0.0, first), (0.0, later), (0.1, orphan)],
    );
    assert_eq!((flows[0].src_port, flows[0].packets), (6363, 2));
    assert_eq!((flows[1].src_port, flows[1].packets), (0, 1));
    assert_eq!(stats.fragments_unmatched, 1);
}

#[test]
fn biflow_pairs_directions() {
    let config = CacheConfig {
        biflow: true,
        ..CacheConfig::default()
    };
    let (flows, _) = run(config, &connection());
    assert_eq!(flows.len(), 1);
    let f = &flows[0];
    assert_eq!((f.src_port, f.dst_port, f.packets), (40000, 80, 4));
    let rev = f.reverse.unwrap();
    assert_eq!((rev.packets, rev.tcp_flags), (2, S | A | F));
    assert_eq!(f.last_ns, SEC / 2);
}

#[test]
fn ticks_expire_without_packets() {
    let mut cache = FlowCache::new(CacheConfig::default());
    let mut out = Vec::new();
    cache.observe(0, &udp("10.0.0.1", 1, "10.0.0.2", 2), &mut out);
    cache.expire(30 * SEC, &mut out);
    assert!(out.is_empty());
    cache.expire(31 * SEC, &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(cache.stats().active, 0);
}
