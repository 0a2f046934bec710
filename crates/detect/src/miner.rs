//! Stratum crypto mining (after NEMEA's miner_detector).
//!
//! eddy's meter exports no payload, so the JSON-RPC of Stratum
//! (`mining.subscribe`, `login`) cannot be seen; the detector relies on
//! NEMEA's flow-shape score, and on an optional list of known pools
//! ([`Miner::with_pools`]): any TCP flow to a listed pool address (and
//! port, when the entry has one) is reported directly.
//!
//! Flows looked at: TCP, client → server. A record of eddy's meter holds
//! one direction of a connection, so the direction is taken from the
//! ports: a flow to a well-known Stratum port is client → server, one from
//! such a port server → client, otherwise the lower port is the server's.
//! Flows to `ignore_ports` (SSH 22, Telnet 23, RDP 3389, VNC 5900) are
//! skipped: interactive remote sessions have exactly the shape of a miner
//! (small steady packets for hours) and NEMEA tells them apart only by
//! probing the server for Stratum, which a passive detector cannot do; a
//! miner on those ports is still found through the pool list.
//!
//! Per (source, destination, destination port), as NEMEA keys it, the
//! records are summed (the meter cuts a long connection into records at
//! its 300 s active timeout, so the key's first-seen time makes the
//! connection's age). Score (NEMEA's weights):
//! - ACK ratio: more than `ack_ratio` (80 %) of the records are "ACK
//!   flows" — the flags hold ACK and nothing but SYN, FIN, ACK and PSH (a
//!   normal connection: no RST, URG, ECE, CWR) → +2;
//! - bytes per packet in `bytes_per_packet` (50–130) → +2;
//! - packets per record outside `packets_per_flow` (10–20) → +1;
//! - packets per minute in `packets_per_minute` (8–30; over the key's
//!   whole span, at least a minute) → +2;
//! - active (last − first seen) more than `min_active_ns` (300 s) → +3;
//! - destination port a well-known Stratum port (`stratum_ports`: 3333,
//!   4444, 5555, 7777, 14444, 45700) → +1 (eddy's addition).
//!
//! A score of `min_score` (7) makes a candidate. NEMEA confirms candidates
//! by asking the server for Stratum; in its place eddy reports a candidate
//! only when it is also long-lived and steady (the active and the
//! packets-per-minute points are held): a score of 7 is reached without
//! them by many short ACK-heavy flows, and the client → server half of a
//! long download (pure ACKs: ACK ratio, bytes per packet, packets per flow
//! and age, 8 points) is long but far from steady.
//!
//! Only records of established connections (ACK seen) are scored: a
//! source repeating SYN probes at a steady pace would otherwise score like
//! a miner (small packets, steady rate, long-lived).
//!
//! Alerts: category `Suspicious.Miner`; Source the miner, Target the pool
//! (its port). One alert per (miner, pool address), again at most every
//! `rereport_ns` (1 hour). Keys idle `idle_ns` (600 s, twice the meter's
//! active timeout) are dropped; at most `max_keys` are followed.

use std::net::IpAddr;

use crate::{Alert, Detector, Endpoint, Flows, Map, Set, NS};

const TCP: u8 = 6;
const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const PSH: u8 = 0x08;
const ACK: u8 = 0x10;

#[derive(Clone, Debug, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Score that makes a candidate (7).
    pub min_score: u32,
    /// Share of ACK flows above which +2 (0.8).
    pub ack_ratio: f64,
    /// Bytes per packet giving +2 (50–130, inclusive).
    pub bytes_per_packet: (u64, u64),
    /// Packets per record *outside* this range give +1 (10–20).
    pub packets_per_flow: (u64, u64),
    /// Packets per minute giving +2 (8–30, inclusive).
    pub packets_per_minute: (f64, f64),
    /// Age above which +3 (300 s).
    #[serde(rename = "min_active_secs", with = "crate::config::secs")]
    pub min_active_ns: u64,
    /// Destination ports giving +1 (3333, 4444, 5555, 7777, 14444, 45700).
    pub stratum_ports: Vec<u16>,
    /// Destination ports not scored (22, 23, 3389, 5900).
    pub ignore_ports: Vec<u16>,
    /// A key without a record this long is dropped (600 s).
    #[serde(rename = "idle_secs", with = "crate::config::secs")]
    pub idle_ns: u64,
    /// A (miner, pool) is reported again at most this often (3600 s).
    #[serde(rename = "rereport_secs", with = "crate::config::secs")]
    pub rereport_ns: u64,
    /// Keys followed at most (1,000,000); new keys wait for room.
    pub max_keys: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            min_score: 7,
            ack_ratio: 0.8,
            bytes_per_packet: (50, 130),
            packets_per_flow: (10, 20),
            packets_per_minute: (8.0, 30.0),
            min_active_ns: 300 * NS,
            stratum_ports: vec![3333, 4444, 5555, 7777, 14444, 45700],
            ignore_ports: vec![22, 23, 3389, 5900],
            idle_ns: 600 * NS,
            rereport_ns: 3600 * NS,
            max_keys: 1_000_000,
        }
    }
}

/// A key's sums.
#[derive(Clone, Copy, Debug, Default)]
pub struct Shape {
    pub first_ns: u64,
    pub last_ns: u64,
    pub flows: u64,
    pub ack_flows: u64,
    pub packets: u64,
    pub bytes: u64,
}

/// The score's parts.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Score {
    pub total: u32,
    /// The active and packets-per-minute points are held.
    pub steady: bool,
    pub ack_ratio: f64,
    pub bytes_per_packet: f64,
    pub packets_per_flow: f64,
    pub packets_per_minute: f64,
    pub active_s: u64,
}

/// Whether flags make an "ACK flow" (module docs).
pub fn is_ack_flow(flags: u8) -> bool {
    flags & ACK != 0 && flags & !(FIN | SYN | ACK | PSH) == 0
}

/// The 16-byte (IPv4-mapped) form of an address.
pub fn mapped(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

pub struct Miner {
    config: Config,
    /// Port → 1 Stratum port, 2 ignored.
    ports: Box<[u8]>,
    keys: Map<([u8; 16], [u8; 16], u16), Shape>,
    /// (address, port) of known pools, port 0 = any.
    pools: Set<([u8; 16], u16)>,
    /// (miner, pool) → when reported.
    reported: Map<([u8; 16], [u8; 16]), u64>,
    next_purge_ns: u64,
}

impl Miner {
    pub fn new(config: Config) -> Miner {
        let mut ports = vec![0u8; 65536].into_boxed_slice();
        for &p in &config.stratum_ports {
            ports[p as usize] = 1;
        }
        for &p in &config.ignore_ports {
            ports[p as usize] = 2;
        }
        Miner {
            config,
            ports,
            keys: Map::default(),
            pools: Set::default(),
            reported: Map::default(),
            next_purge_ns: 0,
        }
    }

    /// Known pools: (16-byte address, port), port 0 for any port (see
    /// [`mapped`]). A connection to one alerts without scoring.
    pub fn with_pools(mut self, pools: Set<([u8; 16], u16)>) -> Miner {
        self.pools = pools;
        self
    }

    /// Keys held (for tests and metrics).
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The score of a key's sums going to `port`.
    pub fn score(&self, s: &Shape, port: u16) -> Score {
        let c = &self.config;
        let flows = s.flows.max(1) as f64;
        let ack_ratio = s.ack_flows as f64 / flows;
        let bytes_per_packet = s.bytes as f64 / s.packets.max(1) as f64;
        let packets_per_flow = s.packets as f64 / flows;
        let span = s.last_ns.saturating_sub(s.first_ns);
        let packets_per_minute = s.packets as f64 / (span.max(60 * NS) as f64 / (60 * NS) as f64);
        let mut total = 0;
        if ack_ratio > c.ack_ratio {
            total += 2;
        }
        if bytes_per_packet >= c.bytes_per_packet.0 as f64
            && bytes_per_packet <= c.bytes_per_packet.1 as f64
        {
            total += 2;
        }
        if packets_per_flow < c.packets_per_flow.0 as f64
            || packets_per_flow > c.packets_per_flow.1 as f64
        {
            total += 1;
        }
        let rate = packets_per_minute >= c.packets_per_minute.0
            && packets_per_minute <= c.packets_per_minute.1;
        if rate {
            total += 2;
        }
        let long = span > c.min_active_ns;
        if long {
            total += 3;
        }
        if self.ports[port as usize] == 1 {
            total += 1;
        }
        Score {
            total,
            steady: rate && long,
            ack_ratio,
            bytes_per_packet,
            packets_per_flow,
            packets_per_minute,
            active_s: span / NS,
        }
    }

    /// Whether (miner, pool) may be reported at `now_ns`; marks it so.
    fn due(&mut self, miner: [u8; 16], pool: [u8; 16], now_ns: u64) -> bool {
        let rereport = self.config.rereport_ns;
        match self.reported.get_mut(&(miner, pool)) {
            Some(t) if now_ns < *t + rereport => false,
            Some(t) => {
                *t = now_ns;
                true
            }
            None => {
                self.reported.insert((miner, pool), now_ns);
                true
            }
        }
    }
}

fn alert(
    miner: [u8; 16],
    pool: [u8; 16],
    port: u16,
    description: String,
    s: &Shape,
    now_ns: u64,
) -> Alert {
    Alert {
        detector: "miner",
        category: vec!["Suspicious.Miner"],
        description,
        detect_time_ns: now_ns,
        event_time_ns: s.first_ns,
        cease_time_ns: s.last_ns,
        sources: vec![Endpoint {
            ip: miner,
            ports: Vec::new(),
            proto: vec!["tcp"],
        }],
        targets: vec![Endpoint {
            ip: pool,
            ports: vec![port],
            proto: vec!["tcp"],
        }],
        flows: s.flows,
        packets: s.packets,
        bytes: s.bytes,
    }
}

impl Detector for Miner {
    fn name(&self) -> &'static str {
        "miner"
    }

    fn observe(&mut self, f: &Flows<'_>, out: &mut Vec<Alert>) {
        for i in 0..f.len {
            if f.proto[i] != TCP {
                continue;
            }
            let (sport, dport) = (f.src_port[i], f.dst_port[i]);
            let (src, dst) = (f.src(i), f.dst(i));
            let first = f.first[i].max(0) as u64;
            let last = f.last[i].max(0) as u64;
            if !self.pools.is_empty()
                && (self.pools.contains(&(dst, dport)) || self.pools.contains(&(dst, 0)))
            {
                if self.due(src, dst, last) {
                    let s = Shape {
                        first_ns: first,
                        last_ns: last,
                        flows: 1,
                        ack_flows: is_ack_flow(f.tcp_flags[i]) as u64,
                        packets: f.packets[i],
                        bytes: f.bytes[i],
                    };
                    out.push(alert(
                        src,
                        dst,
                        dport,
                        format!("Connection to a listed mining pool (port {dport})"),
                        &s,
                        last,
                    ));
                }
                continue;
            }
            let client_to_server = match (self.ports[dport as usize], self.ports[sport as usize]) {
                (2, _) => false,
                (1, _) => true,
                (_, 1) => false,
                _ => dport < sport,
            };
            // A record without ACK never saw the connection established
            // (SYN probes, a SYN flood's packets): no Stratum session.
            if !client_to_server || f.tcp_flags[i] & ACK == 0 {
                continue;
            }
            let key = (src, dst, dport);
            if !self.keys.contains_key(&key) && self.keys.len() >= self.config.max_keys {
                continue;
            }
            let s = self.keys.entry(key).or_insert_with(|| Shape {
                first_ns: first,
                last_ns: last,
                ..Shape::default()
            });
            s.first_ns = s.first_ns.min(first);
            s.last_ns = s.last_ns.max(last);
            s.flows += 1;
            s.ack_flows += is_ack_flow(f.tcp_flags[i]) as u64;
            s.packets += f.packets[i];
            s.bytes += f.bytes[i];
            let s = *s;
            let score = self.score(&s, dport);
            if score.total < self.config.min_score || !score.steady {
                continue;
            }
            if !self.due(src, dst, s.last_ns) {
                continue;
            }
            let description = format!(
                "Possible Stratum mining: flow-shape score {} ({:.0} % ACK flows, {:.0} bytes per \
                 packet, {:.0} packets per flow, {:.1} packets per minute, active {} s, port {dport})",
                score.total,
                score.ack_ratio * 100.0,
                score.bytes_per_packet,
                score.packets_per_flow,
                score.packets_per_minute,
                score.active_s,
            );
            out.push(alert(src, dst, dport, description, &s, s.last_ns));
        }
    }

    fn tick(&mut self, now_ns: u64, _out: &mut Vec<Alert>) {
        if now_ns < self.next_purge_ns {
            return;
        }
        self.next_purge_ns = now_ns + 60 * NS;
        let (idle, rereport) = (self.config.idle_ns, self.config.rereport_ns);
        self.keys.retain(|_, s| s.last_ns + idle > now_ns);
        self.reported.retain(|_, &mut t| t + rereport > now_ns);
    }

    fn finish(&mut self, _out: &mut Vec<Alert>) {
        self.keys.clear();
    }
}

/// Pool list lines: `IP`, `IP:PORT` or `[IPv6]:PORT` (port 0: any), `#`
/// comments.
pub fn parse_pools(text: &str) -> Result<Set<([u8; 16], u16)>, String> {
    use std::net::{IpAddr, SocketAddr};
    let mut pools = Set::default();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let (ip, port) = if let Ok(sa) = line.parse::<SocketAddr>() {
            (sa.ip(), sa.port())
        } else if let Ok(ip) = line.parse::<IpAddr>() {
            (ip, 0)
        } else {
            return Err(format!("line {}: '{line}' is not IP or IP:PORT", n + 1));
        };
        let mapped = match ip {
            IpAddr::V4(v4) => v4.to_ipv6_mapped(),
            IpAddr::V6(v6) => v6,
        };
        pools.insert((mapped.octets(), port));
    }
    Ok(pools)
}

/// [`parse_pools`] of a file; errors name it.
pub fn load_pools(path: &std::path::Path) -> Result<Set<([u8; 16], u16)>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse_pools(&text).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flows::ip_text;
    use crate::testing::{at_ms, batch, flow_sized, mapped as m4};
    use record::FlowRecord;

    const MINER: [u8; 4] = [192, 0, 2, 100];
    const POOL: [u8; 4] = [198, 51, 100, 77];
    const PA: u8 = PSH | ACK;

    /// One connection's client → server records as the meter cuts them:
    /// `secs` long, a record per 300 s, `ppm` packets a minute of
    /// `bpp` bytes each.
    fn connection(dport: u16, secs: u64, ppm: u64, bpp: u64, flags: u8) -> Vec<FlowRecord> {
        let mut out = Vec::new();
        let mut t = 0;
        while t < secs {
            let len = (secs - t).min(300);
            let packets = (ppm * len / 60).max(1);
            let mut fl = flags;
            if t == 0 {
                fl |= SYN;
            }
            if t + len == secs {
                fl |= FIN;
            }
            out.push(flow_sized(
                MINER,
                POOL,
                45000,
                dport,
                6,
                fl,
                packets,
                packets * bpp,
                t * 1000,
                len * 1000,
            ));
            t += len;
        }
        out
    }

    fn run(d: &mut Miner, flows: &[FlowRecord]) -> Vec<Alert> {
        let b = batch(flows);
        let mut out = Vec::new();
        d.observe(&Flows::new(&b).unwrap(), &mut out);
        out
    }

    fn fresh() -> Miner {
        Miner::new(Config::default())
    }

    #[test]
    fn a_stratum_connection_alerts_on_its_second_record() {
        let flows = connection(3333, 620, 20, 80, PA);
        let mut d = fresh();
        // The first record (300 s) is not older than 300 s yet.
        assert!(run(&mut d, &flows[..1]).is_empty());
        let alerts = run(&mut d, &flows[1..]);
        assert_eq!(alerts.len(), 1);
        let a = &alerts[0];
        assert_eq!(a.detector, "miner");
        assert_eq!(a.category, vec!["Suspicious.Miner"]);
        assert_eq!(ip_text(a.sources[0].ip), "192.0.2.100");
        assert_eq!(ip_text(a.targets[0].ip), "198.51.100.77");
        assert_eq!(a.targets[0].ports, vec![3333]);
        assert!(
            a.description
                .starts_with("Possible Stratum mining: flow-shape score 11"),
            "{}",
            a.description
        );
        assert_eq!(a.event_time_ns, at_ms(0));
        assert_eq!(a.cease_time_ns, at_ms(600_000));
    }

    #[test]
    fn steady_syn_probes_are_not_mining() {
        // A SYN flood's source: one-packet SYN records every 5 s for
        // 10 minutes, 60 bytes each (the shared stopddos capture's shape).
        let flows: Vec<FlowRecord> = (0..120)
            .map(|k| {
                flow_sized(
                    MINER,
                    POOL,
                    40000 + k as u16,
                    9069,
                    6,
                    SYN,
                    1,
                    60,
                    k * 5000,
                    0,
                )
            })
            .collect();
        assert!(run(&mut fresh(), &flows).is_empty());
    }

    #[test]
    fn score_parts_at_their_edges() {
        let d = fresh();
        let base = Shape {
            first_ns: 0,
            last_ns: 600 * NS,
            flows: 2,
            ack_flows: 2,
            packets: 200,
            bytes: 200 * 80,
        };
        let s = d.score(&base, 8080);
        assert_eq!(s.total, 10);
        assert!(s.steady);
        assert_eq!(d.score(&base, 3333).total, 11);
        // ACK ratio must be above 80 %.
        let acks = Shape {
            flows: 5,
            ack_flows: 4,
            ..base
        };
        assert_eq!(d.score(&acks, 8080).total, 8);
        // Bytes per packet 50..=130.
        for (bpp, total) in [(49, 8), (50, 10), (130, 10), (131, 8)] {
            let s = Shape {
                bytes: 200 * bpp,
                ..base
            };
            assert_eq!(d.score(&s, 8080).total, total, "{bpp} bytes per packet");
        }
        // Packets per minute 8..=30 over 10 minutes.
        for (packets, total, steady) in [
            (79, 8, false),
            (80, 10, true),
            (300, 10, true),
            (301, 8, false),
        ] {
            let s = Shape {
                packets,
                bytes: packets * 80,
                ..base
            };
            let sc = d.score(&s, 8080);
            assert_eq!((sc.total, sc.steady), (total, steady), "{packets} packets");
        }
        // Packets per flow inside 10..=20 lose the point.
        let s = Shape {
            flows: 10,
            ack_flows: 10,
            ..base
        };
        assert_eq!(d.score(&s, 8080).total, 9);
        // Active exactly 300 s: no points.
        let s = Shape {
            last_ns: 300 * NS,
            packets: 100,
            bytes: 8000,
            ..base
        };
        let sc = d.score(&s, 8080);
        assert_eq!((sc.total, sc.steady), (7, false));
    }

    #[test]
    fn ack_flows() {
        assert!(is_ack_flow(ACK));
        assert!(is_ack_flow(PA));
        assert!(is_ack_flow(SYN | ACK | PSH | FIN));
        assert!(!is_ack_flow(SYN));
        assert!(!is_ack_flow(PSH));
        assert!(!is_ack_flow(PA | 0x04));
        assert!(!is_ack_flow(PA | 0x20));
    }

    #[test]
    fn benign_long_sessions_do_not_alert() {
        let mut d = fresh();
        // SSH interactive, slow typing: the shape of a miner, but port 22.
        assert!(run(&mut d, &connection(22, 1800, 20, 90, PA)).is_empty());
        // HTTPS download, client → server: pure ACKs, many of them.
        assert!(run(&mut d, &connection(443, 1800, 3000, 52, PA)).is_empty());
        // The server → client half of it, big packets.
        let mut down = connection(443, 1800, 6000, 1400, PA);
        for f in &mut down {
            std::mem::swap(&mut f.src_port, &mut f.dst_port);
            std::mem::swap(&mut f.src_ip, &mut f.dst_ip);
        }
        assert!(run(&mut d, &down).is_empty());
        // A websocket with a ping every 30 s: too few packets.
        assert!(run(&mut d, &connection(443, 1800, 4, 90, PA)).is_empty());
        // The pool's side of a Stratum connection (from port 3333).
        let mut back = connection(3333, 900, 20, 80, PA);
        for f in &mut back {
            std::mem::swap(&mut f.src_port, &mut f.dst_port);
            std::mem::swap(&mut f.src_ip, &mut f.dst_ip);
        }
        assert!(run(&mut d, &back).is_empty());
        // Short ACK-heavy flows scoring 7 without being long-lived.
        assert!(run(&mut d, &connection(8080, 50, 10, 80, PA)).is_empty());
    }

    #[test]
    fn any_port_scores_without_the_stratum_bonus() {
        // 10 points on port 8080.
        assert_eq!(
            run(&mut fresh(), &connection(8080, 620, 20, 80, PA)).len(),
            1
        );
        // Resets in every record: ACK ratio 0, 8 points, still a candidate.
        assert_eq!(
            run(&mut fresh(), &connection(8080, 620, 20, 80, PA | 0x04)).len(),
            1
        );
        // ... but not with big packets as well (6 points).
        assert!(run(&mut fresh(), &connection(8080, 620, 20, 200, PA | 0x04)).is_empty());
    }

    #[test]
    fn listed_pools_alert_directly_once_an_hour() {
        let mut pools = Set::default();
        pools.insert((m4(POOL), 0));
        let mut d = Miner::new(Config::default()).with_pools(pools);
        let short = flow_sized(MINER, POOL, 45000, 443, 6, PA | SYN, 8, 900, 0, 2000);
        let alerts = run(&mut d, std::slice::from_ref(&short));
        assert_eq!(alerts.len(), 1);
        assert!(alerts[0].description.contains("listed mining pool"));
        assert_eq!(alerts[0].targets[0].ports, vec![443]);
        // Again within the hour: silent; after it: again.
        assert!(run(&mut d, std::slice::from_ref(&short)).is_empty());
        let mut later = short.clone();
        later.first_ns += 3600 * NS;
        later.last_ns += 3600 * NS;
        assert_eq!(run(&mut d, &[later]).len(), 1);
        // A port-specific entry matches that port only.
        let mut pools = Set::default();
        pools.insert((mapped("198.51.100.77".parse().unwrap()), 3333));
        let mut d = Miner::new(Config::default()).with_pools(pools);
        assert!(run(&mut d, &[short]).is_empty());
        let to_port = flow_sized(MINER, POOL, 45000, 3333, 6, PA, 8, 900, 0, 2000);
        assert_eq!(run(&mut d, &[to_port]).len(), 1);
    }

    #[test]
    fn one_alert_per_miner_and_pool_and_idle_keys_are_purged() {
        let mut d = fresh();
        let flows = connection(3333, 1500, 20, 80, PA);
        assert_eq!(run(&mut d, &flows).len(), 1);
        // A second connection to another port of the same pool: silent.
        assert!(run(&mut d, &connection(4444, 1500, 20, 80, PA)).is_empty());
        let mut out = Vec::new();
        d.tick(at_ms(1_500_000 + 599_000), &mut out);
        assert_eq!(d.len(), 2);
        d.tick(at_ms(1_500_000 + 660_000), &mut out);
        assert!(d.is_empty());
        assert!(out.is_empty());
    }

    #[test]
    fn pool_lists_take_addresses_with_or_without_ports() {
        let pools =
            parse_pools("# pools\n198.51.100.77:3333\n203.0.113.5\n[2001:db8::1]:4444\n").unwrap();
        assert_eq!(pools.len(), 3);
        let v4 = std::net::Ipv4Addr::new(203, 0, 113, 5)
            .to_ipv6_mapped()
            .octets();
        assert!(pools.contains(&(v4, 0)));
        assert!(parse_pools("pool.example.org:3333\n").is_err());
    }
}
