//! Vertical port scans (NEMEA's vportscan_detector): TCP flows of at most
//! 4 packets with only SYN set; per (source, destination) the set of
//! destination ports, where a port seen again is taken as benign and
//! removed; an alert when the set reaches the threshold (50). Entries idle
//! for 5 minutes are purged (checked every minute of record time).

use crate::{Alert, Detector, Endpoint, Flows, Map, Set, NS};

const SYN: u8 = 0x02;
const TCP: u8 = 6;

#[derive(Clone, Copy, Debug, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Distinct destination ports of one (source, destination) that make a
    /// scan (50).
    pub threshold: usize,
    /// Flows of more packets are not scan probes (4).
    pub max_packets: u64,
    /// Entries without a new probe for this long are dropped (300 s).
    #[serde(rename = "idle_secs", with = "crate::config::secs")]
    pub idle_ns: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            threshold: 50,
            max_packets: 4,
            idle_ns: 300 * NS,
        }
    }
}

#[derive(Default)]
struct Entry {
    ports: Set<u16>,
    first_ns: u64,
    last_ns: u64,
    flows: u64,
    packets: u64,
    bytes: u64,
}

pub struct VPortScan {
    config: Config,
    entries: Map<([u8; 16], [u8; 16]), Entry>,
    next_purge_ns: u64,
}

impl VPortScan {
    pub fn new(config: Config) -> VPortScan {
        VPortScan {
            config,
            entries: Map::default(),
            next_purge_ns: 0,
        }
    }
}

impl Detector for VPortScan {
    fn name(&self) -> &'static str {
        "vportscan"
    }

    fn observe(&mut self, f: &Flows<'_>, out: &mut Vec<Alert>) {
        for i in 0..f.len {
            if f.proto[i] != TCP || f.tcp_flags[i] != SYN || f.packets[i] > self.config.max_packets
            {
                continue;
            }
            let (src, dst) = (f.src(i), f.dst(i));
            let first = f.first[i].max(0) as u64;
            let last = f.last[i].max(0) as u64;
            let e = self.entries.entry((src, dst)).or_insert_with(|| Entry {
                first_ns: first,
                ..Entry::default()
            });
            e.last_ns = e.last_ns.max(last);
            e.first_ns = e.first_ns.min(first);
            e.flows += 1;
            e.packets += f.packets[i];
            e.bytes += f.bytes[i];
            let port = f.dst_port[i];
            if !e.ports.remove(&port) {
                e.ports.insert(port);
            }
            if e.ports.len() >= self.config.threshold {
                let mut ports: Vec<u16> = e.ports.iter().copied().collect();
                ports.sort_unstable();
                out.push(Alert {
                    detector: "vportscan",
                    category: vec!["Recon.Scanning"],
                    description: format!("Vertical port scan: {} ports of one host", ports.len()),
                    detect_time_ns: e.last_ns,
                    event_time_ns: e.first_ns,
                    cease_time_ns: e.last_ns,
                    sources: vec![Endpoint {
                        ip: src,
                        ports: Vec::new(),
                        proto: vec!["tcp"],
                    }],
                    targets: vec![Endpoint {
                        ip: dst,
                        ports,
                        proto: vec!["tcp"],
                    }],
                    flows: e.flows,
                    packets: e.packets,
                    bytes: e.bytes,
                });
                self.entries.remove(&(src, dst));
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
    use crate::testing::{batch, flow};

    fn scan(ports: impl IntoIterator<Item = u16>, flags: u8, packets: u64) -> Vec<Alert> {
        let flows: Vec<_> = ports
            .into_iter()
            .enumerate()
            .map(|(i, p)| {
                flow(
                    [10, 0, 0, 1],
                    [10, 0, 0, 2],
                    40000,
                    p,
                    6,
                    flags,
                    packets,
                    i as u64,
                )
            })
            .collect();
        let b = batch(&flows);
        let mut d = VPortScan::new(Config::default());
        let mut out = Vec::new();
        d.observe(&Flows::new(&b).unwrap(), &mut out);
        out
    }

    #[test]
    fn fifty_ports_alert_and_forty_nine_do_not() {
        let alerts = scan(1..=50, SYN, 1);
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].targets[0].ports.len(), 50);
        assert_eq!(crate::flows::ip_text(alerts[0].sources[0].ip), "10.0.0.1");
        assert!(scan(1..=49, SYN, 1).is_empty());
    }

    #[test]
    fn repeated_ports_are_benign() {
        // 60 ports, but ports 1..=20 twice: 40 remain.
        let ports = (1..=20).chain(1..=20).chain(21..=60);
        assert!(scan(ports, SYN, 1).is_empty());
    }

    #[test]
    fn only_short_syn_only_flows_count() {
        assert!(scan(1..=60, SYN | 0x10, 1).is_empty());
        assert!(scan(1..=60, SYN, 5).is_empty());
        assert_eq!(scan(1..=60, SYN, 4).len(), 1);
    }
}
