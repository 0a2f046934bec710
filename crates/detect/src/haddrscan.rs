//! Horizontal address scans (NEMEA's haddrscan_detector): one-packet TCP
//! flows with only SYN set; per (source, destination port) the set of
//! destination addresses; an alert when the set reaches the threshold
//! (50), after which the entry is removed and counting starts afresh.
//! Entries idle for 5 minutes are purged (checked every minute of record
//! time).
//!
//! The first destination of an entry is kept inline, so a (source, port)
//! that only ever talks to one host (the common benign case) costs a map
//! entry and no set allocation.

use crate::{Alert, Detector, Endpoint, Flows, Map, Set, NS};

const SYN: u8 = 0x02;
const TCP: u8 = 6;

#[derive(Clone, Copy, Debug, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Distinct destination addresses on one port that make a scan (50).
    pub threshold: usize,
    /// Flows of more packets are not scan probes (1).
    pub max_packets: u64,
    /// Entries without a new flow for this long are dropped (300 s).
    #[serde(rename = "idle_secs", with = "crate::config::secs")]
    pub idle_ns: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            threshold: 50,
            max_packets: 1,
            idle_ns: 300 * NS,
        }
    }
}

struct Entry {
    /// The first destination; `more` holds the others.
    first_dst: [u8; 16],
    more: Set<[u8; 16]>,
    first_ns: u64,
    last_ns: u64,
    flows: u64,
    packets: u64,
    bytes: u64,
}

impl Entry {
    fn addresses(&self) -> usize {
        1 + self.more.len()
    }
}

pub struct HAddrScan {
    config: Config,
    entries: Map<([u8; 16], u16), Entry>,
    next_purge_ns: u64,
}

impl HAddrScan {
    pub fn new(config: Config) -> HAddrScan {
        HAddrScan {
            config,
            entries: Map::default(),
            next_purge_ns: 0,
        }
    }

    /// Entries held (for tests and metrics).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl Detector for HAddrScan {
    fn name(&self) -> &'static str {
        "haddrscan"
    }

    fn observe(&mut self, f: &Flows<'_>, out: &mut Vec<Alert>) {
        let threshold = self.config.threshold.max(1);
        for i in 0..f.len {
            if f.proto[i] != TCP || f.tcp_flags[i] != SYN || f.packets[i] > self.config.max_packets
            {
                continue;
            }
            let (src, dst, port) = (f.src(i), f.dst(i), f.dst_port[i]);
            let first = f.first[i].max(0) as u64;
            let last = f.last[i].max(0) as u64;
            let e = self.entries.entry((src, port)).or_insert_with(|| Entry {
                first_dst: dst,
                more: Set::default(),
                first_ns: first,
                last_ns: last,
                flows: 0,
                packets: 0,
                bytes: 0,
            });
            e.first_ns = e.first_ns.min(first);
            e.last_ns = e.last_ns.max(last);
            e.flows += 1;
            e.packets += f.packets[i];
            e.bytes += f.bytes[i];
            if dst != e.first_dst {
                e.more.insert(dst);
            }
            if e.addresses() >= threshold {
                let mut dsts: Vec<[u8; 16]> = Vec::with_capacity(e.addresses());
                dsts.push(e.first_dst);
                dsts.extend(e.more.iter().copied());
                dsts.sort_unstable();
                out.push(Alert {
                    detector: "haddrscan",
                    category: vec!["Recon.Scanning"],
                    description: format!(
                        "Horizontal scan: {} hosts probed on TCP port {port} in {} flows",
                        dsts.len(),
                        e.flows
                    ),
                    detect_time_ns: e.last_ns,
                    event_time_ns: e.first_ns,
                    cease_time_ns: e.last_ns,
                    sources: vec![Endpoint {
                        ip: src,
                        ports: Vec::new(),
                        proto: vec!["tcp"],
                    }],
                    targets: dsts
                        .into_iter()
                        .map(|ip| Endpoint {
                            ip,
                            ports: vec![port],
                            proto: vec!["tcp"],
                        })
                        .collect(),
                    flows: e.flows,
                    packets: e.packets,
                    bytes: e.bytes,
                });
                self.entries.remove(&(src, port));
            }
        }
    }

    fn tick(&mut self, now_ns: u64, _out: &mut Vec<Alert>) {
        if now_ns < self.next_purge_ns {
            return;
        }
        self.next_purge_ns = now_ns + 60 * NS;
        let idle = self.config.idle_ns;
        self.entries.retain(|_, e| e.last_ns + idle > now_ns);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flows::ip_text;
    use crate::testing::{at_ms, batch, flow};
    use record::FlowRecord;

    /// One SYN probe from 10.0.0.1 to 10.1.x.y on `port` per host number.
    fn probes(
        hosts: impl IntoIterator<Item = u16>,
        port: u16,
        flags: u8,
        packets: u64,
    ) -> Vec<FlowRecord> {
        hosts
            .into_iter()
            .enumerate()
            .map(|(i, h)| {
                let [a, b] = h.to_be_bytes();
                flow(
                    [10, 0, 0, 1],
                    [10, 1, a, b],
                    40000 + i as u16,
                    port,
                    6,
                    flags,
                    packets,
                    i as u64,
                )
            })
            .collect()
    }

    fn run(d: &mut HAddrScan, flows: &[FlowRecord]) -> Vec<Alert> {
        let b = batch(flows);
        let mut out = Vec::new();
        d.observe(&Flows::new(&b).unwrap(), &mut out);
        out
    }

    fn scan(flows: &[FlowRecord]) -> Vec<Alert> {
        run(&mut HAddrScan::new(Config::default()), flows)
    }

    #[test]
    fn fifty_hosts_alert_and_forty_nine_do_not() {
        let alerts = scan(&probes(1..=50, 22, SYN, 1));
        assert_eq!(alerts.len(), 1);
        let a = &alerts[0];
        assert_eq!(a.detector, "haddrscan");
        assert_eq!(a.category, vec!["Recon.Scanning"]);
        assert_eq!(a.sources.len(), 1);
        assert_eq!(ip_text(a.sources[0].ip), "10.0.0.1");
        assert_eq!(a.targets.len(), 50);
        assert_eq!(ip_text(a.targets[0].ip), "10.1.0.1");
        assert_eq!(a.targets[0].ports, vec![22]);
        assert_eq!(a.flows, 50);
        assert_eq!(a.event_time_ns, at_ms(0));
        assert_eq!(a.cease_time_ns, at_ms(49) + 10_000_000);
        assert!(a.description.contains("50 hosts"), "{}", a.description);
        assert!(scan(&probes(1..=49, 22, SYN, 1)).is_empty());
    }

    #[test]
    fn entry_is_removed_after_the_alert() {
        let mut d = HAddrScan::new(Config::default());
        assert_eq!(run(&mut d, &probes(1..=50, 22, SYN, 1)).len(), 1);
        assert!(d.is_empty());
        // 49 more hosts: a fresh count, no second alert.
        assert!(run(&mut d, &probes(100..149, 22, SYN, 1)).is_empty());
        assert_eq!(d.len(), 1);
    }

    #[test]
    fn repeated_hosts_count_once() {
        let hosts: Vec<u16> = (1..=49).chain(1..=49).collect();
        assert!(scan(&probes(hosts, 22, SYN, 1)).is_empty());
    }

    #[test]
    fn ports_are_counted_apart() {
        let mut flows = probes(1..=30, 22, SYN, 1);
        flows.extend(probes(31..=60, 23, SYN, 1));
        assert!(scan(&flows).is_empty());
    }

    #[test]
    fn only_one_packet_syn_only_tcp_counts() {
        assert!(scan(&probes(1..=60, 22, SYN | 0x10, 1)).is_empty());
        assert!(scan(&probes(1..=60, 22, SYN, 2)).is_empty());
        let mut udp = probes(1..=60, 22, SYN, 1);
        for f in &mut udp {
            f.proto = 17;
        }
        assert!(scan(&udp).is_empty());
    }

    #[test]
    fn idle_entries_are_purged() {
        let mut d = HAddrScan::new(Config::default());
        assert!(run(&mut d, &probes(1..=49, 22, SYN, 1)).is_empty());
        let mut out = Vec::new();
        // Four minutes later: still there.
        d.tick(at_ms(240_000), &mut out);
        assert_eq!(d.len(), 1);
        // Over five minutes idle (next purge is a minute after the last).
        d.tick(at_ms(301_000), &mut out);
        assert!(d.is_empty());
        assert!(out.is_empty());
        // The 50th host after the purge starts a new entry.
        let late = flow([10, 0, 0, 1], [10, 1, 0, 50], 1, 22, 6, SYN, 1, 302_000);
        assert!(run(&mut d, &[late]).is_empty());
    }
}
