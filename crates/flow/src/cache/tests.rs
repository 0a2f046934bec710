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

// Regression tests from the review of the timer wheel (one per bug found),
// and a random driver that checks the cache's invariants after every call.

#[test]
fn jump_longer_than_capped_wheel_exports_late() {
    let mut cache = FlowCache::new(CacheConfig {
        active_timeout_ns: 10_000 * SEC,
        inactive_timeout_ns: u64::MAX,
        ..CacheConfig::like_ipfixprobe()
    });
    let mut out = Vec::new();
    cache.observe(0, &udp("10.0.0.1", 1, "10.0.0.2", 2), &mut out);
    cache.expire(9_000 * SEC, &mut out); // jump > 4096 ticks, flow not due yet
    assert!(out.is_empty());
    cache.expire(10_001 * SEC + 1, &mut out); // due at 10 000 s: must be out by now
    assert_eq!(out.len(), 1, "flow due at 10000 s not exported at 10001 s");
    assert_eq!(out[0].end_reason, EndReason::Active);
}

/// Bug 2: an out-of-order packet lowers `first_ns`, which moves the active
/// due time earlier, but the flow stays filed in its old (later) bucket.
#[test]
fn out_of_order_packet_moves_active_due_earlier_but_wheel_does_not_follow() {
    let mut cache = FlowCache::new(CacheConfig {
        active_timeout_ns: 10 * SEC,
        ..CacheConfig::like_ipfixprobe()
    });
    let p = udp("10.0.0.1", 1, "10.0.0.2", 2);
    let mut out = Vec::new();
    cache.observe(100 * SEC, &p, &mut out);
    cache.observe(95 * SEC, &p, &mut out); // out of order: first_ns = 95 s
                                           // Due at 105 s (95 + 10); at most one tick late means out by 106 s.
    cache.expire(107 * SEC, &mut out);
    assert_eq!(out.len(), 1, "flow due at 105 s still in cache at 107 s");
}

/// Bug 3: a flow whose inactive timeout has already passed but whose bucket
/// has not come up yet is pushed out as an eviction (wrong reason, counted).
#[test]
fn timed_out_flow_is_reported_as_eviction() {
    let mut cache = FlowCache::new(CacheConfig {
        capacity: 1,
        ..CacheConfig::like_ipfixprobe()
    });
    let mut out = Vec::new();
    cache.observe(0, &udp("10.0.0.1", 1, "10.0.0.2", 2), &mut out);
    cache.observe(
        30 * SEC + SEC / 2,
        &udp("10.0.0.3", 3, "10.0.0.2", 2),
        &mut out,
    );
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].end_reason, EndReason::Idle, "idle 30.5 s > 30 s");
    assert_eq!(cache.stats().evictions, 0);
}

/// Bug 4: biflow reverse first_ns is not lowered by an out-of-order reverse
/// packet (forward first_ns is).
#[test]
fn biflow_reverse_first_ns_ignores_out_of_order() {
    let mut cache = FlowCache::new(CacheConfig {
        biflow: true,
        ..CacheConfig::like_ipfixprobe()
    });
    let mut out = Vec::new();
    cache.observe(10 * SEC, &udp("10.0.0.1", 1, "10.0.0.2", 2), &mut out);
    cache.observe(12 * SEC, &udp("10.0.0.2", 2, "10.0.0.1", 1), &mut out);
    cache.observe(11 * SEC, &udp("10.0.0.2", 2, "10.0.0.1", 1), &mut out);
    cache.flush(&mut out);
    let rev = out[0].reverse.unwrap();
    assert_eq!(rev.packets, 2);
    assert_eq!(rev.first_ns, 11 * SEC);
}

fn _unused(_: &FlowRecord) {
    let _ = tcp_flags::SYN;
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const PAYLOADS: &[&[u8]] = &[
    b"",
    b"GET /a HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\n\r\n0123456789",
    b"0123456789",
    b"POST /b HTTP/1.1\r\nHost: y\r\nContent-Length: 5\r\n\r\n",
    b"abcde",
    b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
    b"GET /c HTTP/1.1\r\nHost: z\r\n\r\nGET /d HTTP/1.1\r\nHost: z\r\n\r\n",
];

#[test]
fn random_conservation() {
    for seed in 1..1000u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E3779B97F4A7C15) | 1);
        let biflow = rng.below(2) == 0;
        let capacity = 1 + rng.below(6) as usize;
        let inactive = [1, 2, 5, 30, 5000][rng.below(5) as usize] * SEC;
        let active = [1, 3, 10, 300, 10_000][rng.below(5) as usize] * SEC;
        let mut cache = FlowCache::new(CacheConfig {
            capacity,
            biflow,
            inactive_timeout_ns: inactive,
            active_timeout_ns: active,
            l7_parsers: vec!["http", "dns", "tls", "sip", "smtp", "quic"],
            ..CacheConfig::default()
        });
        let mut out = Vec::new();
        let mut t: u64 = rng.below(3) * SEC;
        let mut sent = 0u64;
        for _ in 0..300 {
            match rng.below(10) {
                0 => t += rng.below(20) * SEC / 2,
                1 => t = t.saturating_sub(rng.below(5) * SEC),
                2 => t += rng.below(10_000) * SEC,
                _ => t += rng.below(SEC / 4),
            }
            if rng.below(15) == 0 {
                cache.expire(t, &mut out);
                cache.check_invariants();
                continue;
            }
            let c = 1 + rng.below(3) as u8;
            let s = 100 + rng.below(2) as u8;
            let (cport, sport) = (
                1000 + rng.below(2) as u16,
                [80, 53, 443][rng.below(3) as usize],
            );
            let proto = if rng.below(4) == 0 { 17 } else { 6 };
            let rev = rng.below(3) == 0;
            let flags = [
                tcp_flags::SYN,
                tcp_flags::ACK,
                tcp_flags::ACK | tcp_flags::FIN,
                tcp_flags::RST,
                tcp_flags::SYN | tcp_flags::ACK,
            ][rng.below(5) as usize];
            let payload = PAYLOADS[rng.below(PAYLOADS.len() as u64) as usize];
            let (a, b) = (format!("10.0.0.{c}"), format!("10.0.1.{s}"));
            let mut p = if rev {
                udp(&b, sport, &a, cport)
            } else {
                udp(&a, cport, &b, sport)
            };
            p.proto = proto;
            p.tcp_flags = if proto == 6 { flags } else { 0 };
            p.payload = payload;
            cache.observe(t, &p, &mut out);
            cache.check_invariants();
            sent += 1;
        }
        cache.flush(&mut out);
        let got: u64 = out
            .iter()
            .map(|f| f.packets + f.reverse.map_or(0, |r| r.packets))
            .sum();
        let st = cache.stats();
        assert_eq!(got, sent, "seed {seed}: packets not conserved");
        assert_eq!(st.flows_created, st.flows_exported, "seed {seed}");
        assert_eq!(st.active, 0, "seed {seed}");
        assert_eq!(out.len() as u64, st.flows_exported, "seed {seed}");
        for f in &out {
            assert!(f.first_ns <= f.last_ns, "seed {seed}: {f:?}");
            assert!(f.packets >= 1, "seed {seed}: {f:?}");
        }
    }
}

#[test]
fn the_hot_slot_stays_small() {
    // Key, counters, timer bucket and the L7 state: a packet of an ongoing
    // flow reads or writes nothing else.
    assert_eq!(std::mem::size_of::<Slot>(), 104);
}

/// `observe_batch` gives the same flows as `observe` one packet at a time,
/// whatever the batch sizes (more than the lookahead too), with flows that
/// end and restart inside a batch, later fragments and per-packet flows.
#[test]
fn batches_give_the_same_flows_as_single_packets() {
    for seed in 1..200u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E3779B97F4A7C15) | 1);
        let config = CacheConfig {
            capacity: 1 + rng.below(8) as usize,
            biflow: rng.below(2) == 0,
            inactive_timeout_ns: [1, 5, 30][rng.below(3) as usize] * SEC,
            l7_parsers: vec!["http", "dns", "tls", "sip", "smtp", "quic"],
            ..CacheConfig::default()
        };
        let mut t = 0;
        let packets: Vec<(u64, Packet<'static>)> = (0..300)
            .map(|_| {
                t += rng.below(SEC);
                let (c, s) = (
                    format!("10.0.0.{}", 1 + rng.below(3)),
                    format!("10.0.1.{}", 1 + rng.below(2)),
                );
                let sport = [80, 53, 443, 6363][rng.below(4) as usize];
                let mut p = if rng.below(3) == 0 {
                    udp(&s, sport, &c, 1000)
                } else {
                    udp(&c, 1000, &s, sport)
                };
                p.proto = [TCP, UDP, ICMP][rng.below(3) as usize];
                p.tcp_flags = if p.proto == TCP {
                    [S, A, A | F, S | A][rng.below(4) as usize]
                } else {
                    0
                };
                p.payload = PAYLOADS[rng.below(PAYLOADS.len() as u64) as usize];
                if rng.below(8) == 0 {
                    p.frag = packet::Fragment {
                        id: rng.below(2) as u32,
                        offset: [0, 1480][rng.below(2) as usize],
                        more: rng.below(2) == 0,
                    };
                    if p.frag.is_later() {
                        (p.src_port, p.dst_port, p.has_l4) = (0, 0, false);
                    }
                }
                (t, p)
            })
            .collect();

        let mut single = FlowCache::new(config.clone());
        // Seeded alike: which fragments collide in the fragment table
        // depends on the seed.
        let mut batched = single.seeded_like(config);
        let mut want = Vec::new();
        for (ts, pkt) in &packets {
            single.observe(*ts, pkt, &mut want);
        }
        single.flush(&mut want);

        let mut got = Vec::new();
        let mut rest = &packets[..];
        while !rest.is_empty() {
            let n = (1 + rng.below(2 * LOOKAHEAD as u64) as usize).min(rest.len());
            batched.observe_batch(&rest[..n], &mut got);
            batched.check_invariants();
            rest = &rest[n..];
        }
        batched.flush(&mut got);
        assert_eq!(got, want, "seed {seed}");
        assert_eq!(batched.stats(), single.stats(), "seed {seed}");
    }
}
