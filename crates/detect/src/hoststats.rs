//! Per-host statistics (after NEMEA's hoststatsnemea): counters per address
//! over a tumbling window of record time (300 s, from the first flow seen;
//! checked on the first tick past its end, then forgotten), and rules over
//! them when the window closes:
//!
//! - (a) horizontal SYN scan, the host as source: outgoing SYN-only TCP
//!   flows > 200, > 20 × its outgoing flows with ACK, to ≥ 200 distinct
//!   destinations → Recon.Scanning;
//! - (b) SYN flood victim: incoming SYN-only flows > 270,000 (NEMEA's
//!   default; configurable), incoming packets < 2 per incoming flow and
//!   < 100 bytes per packet → Availability.DoS, with the top sources;
//! - (c) DNS amplification victim: > 10,000 incoming UDP flows from port
//!   53 of ≥ 1000 bytes per packet → Availability.DDoS, with the top
//!   reflectors;
//! - (d) SSH brute force victim: > 60 incoming TCP flows with SYN to port
//!   22 of 5–20 packets each → Attempt.Login, with the top sources.
//!
//! NEMEA's further conditions (SYN responses, active/inactive windows,
//! UDP floods) are not applied.
//!
//! Memory: one small entry per address (at most `max_hosts` per window),
//! plus one map of (host, peer, kind) pairs for the flows the rules look
//! at (SYN-only, SSH-shaped, big DNS answers); it gives exact distinct
//! counts and the top peers. Pairs are kept for at most `max_peers` peers
//! per host and kind (a host past it counts as having that many, which is
//! still over the thresholds) and `max_pairs` in all, so a spoofed flood
//! cannot grow it without bound. The alert's packets, bytes and times are
//! those of the tracked pairs (exact below the caps).

use crate::{Alert, Detector, Endpoint, Flows, Map, NS};

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;
const TCP: u8 = 6;
const UDP: u8 = 17;

/// Kinds of tracked pairs.
const OUT_SYN: u8 = 0;
const IN_SYN: u8 = 1;
const IN_SSH: u8 = 2;
const IN_DNS: u8 = 3;

#[derive(Clone, Copy, Debug, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The window (300 s of record time).
    #[serde(rename = "window_secs", with = "crate::config::secs")]
    pub window_ns: u64,
    /// (a) Outgoing SYN-only flows: more than this (200).
    pub scan_min_syn: u32,
    /// (a) ... and more than this × outgoing ACK flows (20).
    pub scan_ack_factor: u32,
    /// (a) ... to at least this many destinations (200).
    pub scan_min_destinations: u32,
    /// (b) Incoming SYN-only flows: more than this (270,000).
    pub flood_min_syn: u32,
    /// (b) Incoming packets per incoming flow: less than this (2).
    pub flood_max_packets_per_flow: u64,
    /// (b) Incoming bytes per packet: less than this (100).
    pub flood_max_bytes_per_packet: u64,
    /// (c) Incoming big DNS responses: more than this (10,000).
    pub dns_min_flows: u32,
    /// (c) A DNS response (UDP from port 53) is big at this many bytes per
    /// packet (1000).
    pub dns_min_bytes_per_packet: u64,
    /// (d) Incoming SSH login-shaped flows: more than this (60).
    pub ssh_min_flows: u32,
    /// (d) TCP flows with SYN to port 22 of this many packets (5–20).
    pub ssh_packets: (u64, u64),
    /// Peers listed per alert (20).
    pub max_listed: usize,
    /// Peers tracked per host and kind (1000).
    pub max_peers: u32,
    /// Pairs tracked in all (4,000,000).
    pub max_pairs: usize,
    /// Hosts per window (2,000,000); flows of further hosts count only for
    /// their known peer.
    pub max_hosts: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            window_ns: 300 * NS,
            scan_min_syn: 200,
            scan_ack_factor: 20,
            scan_min_destinations: 200,
            flood_min_syn: 270_000,
            flood_max_packets_per_flow: 2,
            flood_max_bytes_per_packet: 100,
            dns_min_flows: 10_000,
            dns_min_bytes_per_packet: 1000,
            ssh_min_flows: 60,
            ssh_packets: (5, 20),
            max_listed: 20,
            max_peers: 1000,
            max_pairs: 4_000_000,
            max_hosts: 2_000_000,
        }
    }
}

#[derive(Clone, Copy, Default)]
struct Host {
    out_flows: u32,
    out_syn: u32,
    out_ack: u32,
    in_flows: u32,
    in_syn: u32,
    in_ssh: u32,
    in_dns: u32,
    /// Distinct peers tracked per kind.
    peers: [u32; 4],
    in_packets: u64,
    in_bytes: u64,
}

#[derive(Clone, Copy)]
struct Pair {
    flows: u32,
    packets: u32,
    bytes: u64,
    first_ns: u64,
    last_ns: u64,
}

type Ip = [u8; 16];

/// (host, peer, kind).
type PairKey = ([u8; 16], [u8; 16], u8);

pub struct HostStats {
    config: Config,
    hosts: Map<[u8; 16], Host>,
    pairs: Map<PairKey, Pair>,
    /// End of the open window; 0 = none open.
    window_end_ns: u64,
}

impl HostStats {
    pub fn new(config: Config) -> HostStats {
        HostStats {
            config,
            hosts: Map::default(),
            pairs: Map::default(),
            window_end_ns: 0,
        }
    }

    /// Hosts held in the open window (for tests and metrics).
    pub fn len(&self) -> usize {
        self.hosts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty()
    }

    /// Counts a flow for (host, peer, kind); a new pair only while the
    /// host's and the global caps allow.
    #[inline]
    #[allow(clippy::too_many_arguments)]
    fn track(
        pairs: &mut Map<PairKey, Pair>,
        config: &Config,
        peers: &mut u32,
        key: PairKey,
        packets: u64,
        bytes: u64,
        first: u64,
        last: u64,
    ) {
        if let Some(p) = pairs.get_mut(&key) {
            p.flows += 1;
            p.packets = p
                .packets
                .saturating_add(packets.min(u32::MAX as u64) as u32);
            p.bytes += bytes;
            p.first_ns = p.first_ns.min(first);
            p.last_ns = p.last_ns.max(last);
        } else if *peers < config.max_peers && pairs.len() < config.max_pairs {
            pairs.insert(
                key,
                Pair {
                    flows: 1,
                    packets: packets.min(u32::MAX as u64) as u32,
                    bytes,
                    first_ns: first,
                    last_ns: last,
                },
            );
            *peers += 1;
        }
    }

    #[inline]
    fn host(hosts: &mut Map<[u8; 16], Host>, max: usize, ip: [u8; 16]) -> Option<&mut Host> {
        if hosts.len() < max {
            Some(hosts.entry(ip).or_default())
        } else {
            hosts.get_mut(&ip)
        }
    }

    /// Closes the window: applies the rules, forgets everything.
    fn close(&mut self, now_ns: u64, out: &mut Vec<Alert>) {
        let c = &self.config;
        // (host, kind) → the rule's figures, for the hosts that alert.
        let mut due: Map<(Ip, u8), Vec<(Ip, Pair)>> = Map::default();
        let mut found: Vec<([u8; 16], u8, Host)> = Vec::new();
        for (&ip, h) in &self.hosts {
            if h.out_syn > c.scan_min_syn
                && u64::from(h.out_syn) > u64::from(c.scan_ack_factor) * u64::from(h.out_ack)
                && h.peers[OUT_SYN as usize] >= c.scan_min_destinations
            {
                found.push((ip, OUT_SYN, *h));
            }
            if h.in_syn > c.flood_min_syn
                && h.in_packets < c.flood_max_packets_per_flow * u64::from(h.in_flows)
                && h.in_bytes < c.flood_max_bytes_per_packet * h.in_packets
            {
                found.push((ip, IN_SYN, *h));
            }
            if h.in_dns > c.dns_min_flows {
                found.push((ip, IN_DNS, *h));
            }
            if h.in_ssh > c.ssh_min_flows {
                found.push((ip, IN_SSH, *h));
            }
        }
        if !found.is_empty() {
            for &(ip, kind, _) in &found {
                due.insert((ip, kind), Vec::new());
            }
            for (&(host, peer, kind), p) in &self.pairs {
                if let Some(v) = due.get_mut(&(host, kind)) {
                    v.push((peer, *p));
                }
            }
        }
        found.sort_unstable_by_key(|&(ip, kind, _)| (ip, kind));
        for (ip, kind, h) in found {
            let mut peers = due.remove(&(ip, kind)).unwrap_or_default();
            let (mut first, mut last, mut packets, mut bytes) = (u64::MAX, 0u64, 0u64, 0u64);
            for (_, p) in &peers {
                first = first.min(p.first_ns);
                last = last.max(p.last_ns);
                packets += u64::from(p.packets);
                bytes += p.bytes;
            }
            if first == u64::MAX {
                first = now_ns;
                last = now_ns;
            }
            peers.sort_unstable_by(|a, b| b.1.flows.cmp(&a.1.flows).then(a.0.cmp(&b.0)));
            let distinct = h.peers[kind as usize];
            let more = if distinct >= c.max_peers { "+" } else { "" };
            let listed = |ports: Vec<u16>, proto: Vec<&'static str>| -> Vec<Endpoint> {
                peers
                    .iter()
                    .take(c.max_listed)
                    .map(|(ip, _)| Endpoint {
                        ip: *ip,
                        ports: ports.clone(),
                        proto: proto.clone(),
                    })
                    .collect()
            };
            let me = |ports: Vec<u16>, proto: Vec<&'static str>| Endpoint { ip, ports, proto };
            let text = crate::flows::ip_text(ip);
            let (category, description, sources, targets, flows) = match kind {
                OUT_SYN => (
                    "Recon.Scanning",
                    format!(
                        "Horizontal SYN scan from {text}: {} SYN-only flows to {distinct}{more} \
                         destinations, {} flows with ACK, {} flows out in all",
                        h.out_syn, h.out_ack, h.out_flows
                    ),
                    vec![me(vec![], vec!["tcp"])],
                    listed(vec![], vec!["tcp"]),
                    u64::from(h.out_syn),
                ),
                IN_SYN => {
                    packets = h.in_packets;
                    bytes = h.in_bytes;
                    let spoofed = if u64::from(h.in_syn) < 2 * u64::from(distinct) {
                        " (sources probably spoofed)"
                    } else {
                        ""
                    };
                    (
                        "Availability.DoS",
                        format!(
                            "SYN flood on {text}: {} SYN-only flows from {distinct}{more} \
                             source(s){spoofed}, {} flows in with {} packets and {} bytes",
                            h.in_syn, h.in_flows, h.in_packets, h.in_bytes
                        ),
                        listed(vec![], vec!["tcp"]),
                        vec![me(vec![], vec!["tcp"])],
                        u64::from(h.in_flows),
                    )
                }
                IN_DNS => (
                    "Availability.DDoS",
                    format!(
                        "DNS amplification on {text}: {} responses of {}+ bytes per packet \
                         from {distinct}{more} server(s)",
                        h.in_dns, c.dns_min_bytes_per_packet
                    ),
                    listed(vec![53], vec!["udp", "dns"]),
                    vec![me(vec![], vec!["udp"])],
                    u64::from(h.in_dns),
                ),
                _ => (
                    "Attempt.Login",
                    format!(
                        "SSH brute force on {text}: {} login-shaped connections from \
                         {distinct}{more} source(s)",
                        h.in_ssh
                    ),
                    listed(vec![], vec!["tcp", "ssh"]),
                    vec![me(vec![22], vec!["tcp", "ssh"])],
                    u64::from(h.in_ssh),
                ),
            };
            out.push(Alert {
                detector: "hoststats",
                category: vec![category],
                description,
                detect_time_ns: now_ns.max(last),
                event_time_ns: first,
                cease_time_ns: last,
                sources,
                targets,
                flows,
                packets,
                bytes,
            });
        }
        self.hosts.clear();
        self.pairs.clear();
        self.window_end_ns = 0;
    }
}

impl Detector for HostStats {
    fn name(&self) -> &'static str {
        "hoststats"
    }

    fn observe(&mut self, f: &Flows<'_>, _out: &mut Vec<Alert>) {
        if f.len == 0 {
            return;
        }
        if self.window_end_ns == 0 {
            self.window_end_ns = (f.first[0].max(1) as u64) + self.config.window_ns;
        }
        let c = self.config;
        for i in 0..f.len {
            let (src, dst) = (f.src(i), f.dst(i));
            let (proto, flags) = (f.proto[i], f.tcp_flags[i]);
            let (packets, bytes) = (f.packets[i], f.bytes[i]);
            let tcp = proto == TCP;
            let syn_only = tcp && flags == SYN;
            let ssh = tcp
                && flags & SYN != 0
                && f.dst_port[i] == 22
                && (c.ssh_packets.0..=c.ssh_packets.1).contains(&packets);
            let dns = proto == UDP
                && f.src_port[i] == 53
                && packets > 0
                && bytes >= c.dns_min_bytes_per_packet * packets;
            let (first, last) = (f.first[i].max(0) as u64, f.last[i].max(0) as u64);

            if let Some(h) = Self::host(&mut self.hosts, c.max_hosts, src) {
                h.out_flows += 1;
                if syn_only {
                    h.out_syn += 1;
                } else if tcp && flags & ACK != 0 {
                    h.out_ack += 1;
                }
                if syn_only {
                    let peers = &mut h.peers[OUT_SYN as usize];
                    Self::track(
                        &mut self.pairs,
                        &c,
                        peers,
                        (src, dst, OUT_SYN),
                        packets,
                        bytes,
                        first,
                        last,
                    );
                }
            }
            if let Some(h) = Self::host(&mut self.hosts, c.max_hosts, dst) {
                h.in_flows += 1;
                h.in_packets += packets;
                h.in_bytes += bytes;
                if syn_only || ssh || dns {
                    let kind = if syn_only {
                        h.in_syn += 1;
                        IN_SYN
                    } else if ssh {
                        h.in_ssh += 1;
                        IN_SSH
                    } else {
                        h.in_dns += 1;
                        IN_DNS
                    };
                    let peers = &mut h.peers[kind as usize];
                    Self::track(
                        &mut self.pairs,
                        &c,
                        peers,
                        (dst, src, kind),
                        packets,
                        bytes,
                        first,
                        last,
                    );
                }
            }
        }
    }

    fn tick(&mut self, now_ns: u64, out: &mut Vec<Alert>) {
        if self.window_end_ns != 0 && now_ns >= self.window_end_ns {
            self.close(now_ns, out);
        }
    }

    fn finish(&mut self, out: &mut Vec<Alert>) {
        if self.window_end_ns != 0 {
            let now = self.window_end_ns.saturating_sub(self.config.window_ns);
            let now = self.pairs.values().map(|p| p.last_ns).max().unwrap_or(now);
            self.close(now, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flows::ip_text;
    use crate::testing::{at_ms, batch, flow, flow_sized, mapped};
    use record::FlowRecord;

    const HOST: [u8; 4] = [10, 0, 0, 1];

    /// `n` SYN-only probes from HOST to `distinct` destinations (cycling).
    fn scan(n: usize, distinct: usize) -> Vec<FlowRecord> {
        (0..n)
            .map(|i| {
                let d = (i % distinct) as u16;
                let [a, b] = d.to_be_bytes();
                flow(HOST, [10, 9, a, b], 40000, 80, TCP, SYN, 1, i as u64)
            })
            .collect()
    }

    /// `n` outgoing connections with ACK from HOST.
    fn acks(n: usize) -> Vec<FlowRecord> {
        (0..n)
            .map(|i| {
                flow(
                    HOST,
                    [10, 8, 0, 1],
                    40000,
                    443,
                    TCP,
                    SYN | ACK,
                    10,
                    i as u64,
                )
            })
            .collect()
    }

    /// `n` flows to HOST from `sources` addresses (cycling), shaped by the
    /// arguments.
    #[allow(clippy::too_many_arguments)]
    fn incoming(
        n: usize,
        sources: usize,
        sport: u16,
        dport: u16,
        proto: u8,
        flags: u8,
        packets: u64,
        bytes: u64,
    ) -> Vec<FlowRecord> {
        (0..n)
            .map(|i| {
                let s = (i % sources) as u32;
                let [_, a, b, c] = s.to_be_bytes();
                flow_sized(
                    [100, a, b, c],
                    HOST,
                    sport,
                    dport,
                    proto,
                    flags,
                    packets,
                    bytes,
                    i as u64 / 100,
                    1,
                )
            })
            .collect()
    }

    fn window_with(config: Config, flows: &[FlowRecord]) -> Vec<Alert> {
        let mut d = HostStats::new(config);
        let mut out = Vec::new();
        for chunk in flows.chunks(8192) {
            let b = batch(chunk);
            d.observe(&Flows::new(&b).unwrap(), &mut out);
        }
        assert!(out.is_empty(), "alerts only when the window closes");
        d.tick(at_ms(299_000), &mut out);
        assert!(out.is_empty(), "the window is still open");
        d.tick(at_ms(300_000), &mut out);
        assert!(d.is_empty(), "the closed window is forgotten");
        out
    }

    fn window(flows: &[FlowRecord]) -> Vec<Alert> {
        window_with(Config::default(), flows)
    }

    fn small_flood() -> Config {
        Config {
            flood_min_syn: 100,
            ..Config::default()
        }
    }

    #[test]
    fn scan_needs_over_200_syns() {
        let alerts = window(&scan(201, 201));
        assert_eq!(alerts.len(), 1);
        let a = &alerts[0];
        assert_eq!(a.detector, "hoststats");
        assert_eq!(a.category, vec!["Recon.Scanning"]);
        assert_eq!(a.sources[0].ip, mapped(HOST));
        assert_eq!(a.targets.len(), 20);
        assert_eq!(a.flows, 201);
        assert_eq!(a.packets, 201);
        assert_eq!(a.event_time_ns, at_ms(0));
        assert_eq!(a.cease_time_ns, at_ms(200) + 10_000_000);
        assert!(
            a.description
                .contains("201 SYN-only flows to 201 destinations"),
            "{}",
            a.description
        );
        assert!(window(&scan(200, 200)).is_empty());
    }

    #[test]
    fn scan_needs_200_destinations() {
        assert_eq!(window(&scan(300, 200)).len(), 1);
        assert!(window(&scan(300, 199)).is_empty());
    }

    #[test]
    fn scan_needs_20_times_the_acks() {
        // 201 > 20 × 10, not > 20 × 11.
        let mut flows = scan(201, 201);
        flows.extend(acks(10));
        assert_eq!(window(&flows).len(), 1);
        let mut flows = scan(201, 201);
        flows.extend(acks(11));
        assert!(window(&flows).is_empty());
    }

    #[test]
    fn syn_flood_thresholds() {
        let flood = |n, packets, bytes| incoming(n, 5000, 1234, 80, TCP, SYN, packets, bytes);
        let alerts = window_with(small_flood(), &flood(101, 1, 60));
        assert_eq!(alerts.len(), 1);
        let a = &alerts[0];
        assert_eq!(a.category, vec!["Availability.DoS"]);
        assert_eq!(ip_text(a.targets[0].ip), "10.0.0.1");
        assert_eq!(a.sources.len(), 20);
        assert_eq!((a.flows, a.packets, a.bytes), (101, 101, 6060));
        assert!(
            a.description.contains("probably spoofed"),
            "{}",
            a.description
        );
        assert!(window_with(small_flood(), &flood(100, 1, 60)).is_empty());
        // Two packets per flow, or 100 bytes per packet: not a flood.
        assert!(window_with(small_flood(), &flood(200, 2, 120)).is_empty());
        assert!(window_with(small_flood(), &flood(200, 1, 100)).is_empty());
        assert_eq!(window_with(small_flood(), &flood(200, 1, 99)).len(), 1);
    }

    #[test]
    fn syn_flood_top_sources_come_first() {
        // Source 100.0.0.0 sends 10 of 3 per other.
        let mut flows = incoming(150, 50, 1234, 80, TCP, SYN, 1, 60);
        flows.extend(incoming(7, 1, 1234, 80, TCP, SYN, 1, 60));
        let a = window_with(small_flood(), &flows);
        assert_eq!(a.len(), 1);
        assert_eq!(ip_text(a[0].sources[0].ip), "100.0.0.0");
        assert!(
            !a[0].description.contains("spoofed"),
            "{}",
            a[0].description
        );
    }

    #[test]
    fn syn_flood_with_the_default_threshold() {
        let flows = incoming(270_001, 70_000, 1234, 80, TCP, SYN, 1, 60);
        let alerts = window(&flows);
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].category, vec!["Availability.DoS"]);
        assert!(
            alerts[0].description.contains("from 1000+ source(s)"),
            "{}",
            alerts[0].description
        );
        assert!(window(&flows[..270_000]).is_empty());
    }

    #[test]
    fn dns_amplification_thresholds() {
        let config = || Config {
            dns_min_flows: 50,
            ..Config::default()
        };
        let dns = |n, bytes| incoming(n, 30, 53, 40000, UDP, 0, 2, bytes);
        let a = window_with(config(), &dns(51, 2000));
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].category, vec!["Availability.DDoS"]);
        assert_eq!(a[0].targets[0].ip, mapped(HOST));
        assert_eq!(a[0].sources[0].ports, vec![53]);
        assert!(window_with(config(), &dns(50, 2000)).is_empty());
        assert!(window_with(config(), &dns(100, 1999)).is_empty());
        // Not from port 53, or TCP: ignored.
        assert!(window_with(config(), &incoming(100, 30, 54, 40000, UDP, 0, 2, 3000)).is_empty());
        assert!(window_with(config(), &incoming(100, 30, 53, 40000, TCP, ACK, 2, 3000)).is_empty());
        // The default: over 10,000.
        assert_eq!(window(&dns(10_001, 2000)).len(), 1);
        assert!(window(&dns(10_000, 2000)).is_empty());
    }

    #[test]
    fn ssh_brute_force_thresholds() {
        let ssh = |n, packets| {
            incoming(
                n,
                3,
                50000,
                22,
                TCP,
                SYN | ACK | 0x08,
                packets,
                packets * 100,
            )
        };
        let a = window(&ssh(61, 12));
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].category, vec!["Attempt.Login"]);
        assert_eq!(a[0].targets[0].ip, mapped(HOST));
        assert_eq!(a[0].targets[0].ports, vec![22]);
        assert_eq!(a[0].sources.len(), 3);
        assert_eq!(a[0].flows, 61);
        assert!(window(&ssh(60, 12)).is_empty());
        assert_eq!(window(&ssh(61, 5)).len(), 1);
        assert_eq!(window(&ssh(61, 20)).len(), 1);
        assert!(window(&ssh(100, 4)).is_empty());
        assert!(window(&ssh(100, 21)).is_empty());
        // Other port, or no SYN: ignored.
        assert!(window(&incoming(100, 3, 50000, 2222, TCP, SYN | ACK, 12, 1200)).is_empty());
        assert!(window(&incoming(100, 3, 50000, 22, TCP, ACK, 12, 1200)).is_empty());
    }

    #[test]
    fn benign_traffic_is_quiet() {
        // Many normal connections in and out.
        let mut flows = acks(5000);
        flows.extend(incoming(5000, 300, 50000, 443, TCP, SYN | ACK, 20, 10_000));
        assert!(window(&flows).is_empty());
    }

    #[test]
    fn caps_bound_the_memory() {
        let mut d = HostStats::new(Config {
            max_peers: 10,
            max_hosts: 100,
            ..Config::default()
        });
        let b = batch(&scan(500, 500));
        let mut out = Vec::new();
        d.observe(&Flows::new(&b).unwrap(), &mut out);
        assert_eq!(d.len(), 100);
        // 10 destinations of HOST, and HOST as the source of the other 99
        // hosts (the first 100 hosts got in).
        let out_syn = d.pairs.keys().filter(|k| k.2 == OUT_SYN).count();
        assert_eq!((out_syn, d.pairs.len()), (10, 109));
        d.finish(&mut out);
        assert!(out.is_empty(), "10 tracked destinations are not a scan");
        assert!(d.is_empty());
    }
}
