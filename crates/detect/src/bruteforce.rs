//! Login brute force over SSH, RDP and Telnet (NEMEA's brute_force_detector).
//!
//! Only client→server flows count: TCP with the destination port one of the
//! services'. Per (source, service) the detector keeps the last 50 such
//! flows as a bit history (suspicious or not); a flow is suspicious when
//! its packets and bytes both fall in the service's login-attempt range
//! (NEMEA's client→server ranges: SSH 11–30 packets and 1000–5000 bytes,
//! RDP 20–100 packets and 2200–8001 bytes, Telnet 9–50 packets and
//! 450–3000 bytes). When 30 of the last 50 are suspicious the source is
//! reported. An ongoing attack is reported again at most every 300 s of
//! record time (each report counts the flows since the previous one); after
//! 600 s without a flow the attack is over and the state is dropped (a last
//! report is made then if flows came since the previous one).
//!
//! Targets are the servers of the suspicious flows, distinct, at most 20
//! per report.

use crate::{Alert, Detector, Endpoint, Flows, Map, NS};

const TCP: u8 = 6;

/// One service and its login-attempt flow shape (inclusive ranges).
/// (Config files write it as `{ name, port, packets = [lo, hi], bytes = [lo, hi] }`.)
#[derive(Clone, Copy, Debug)]
pub struct Service {
    pub name: &'static str,
    pub port: u16,
    pub packets: (u64, u64),
    pub bytes: (u64, u64),
}

#[derive(Clone, Debug, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The services watched (at most 255), with NEMEA's ranges.
    pub services: Vec<Service>,
    /// Flows remembered per (source, service) (50, at most 64).
    pub window: usize,
    /// Suspicious flows among the last `window` that make an attack (30).
    pub threshold: usize,
    /// An ongoing attack is reported again at most this often (300 s).
    #[serde(rename = "rereport_secs", with = "crate::config::secs")]
    pub rereport_ns: u64,
    /// An attack (and any entry) without a flow this long is over (600 s).
    #[serde(rename = "idle_secs", with = "crate::config::secs")]
    pub idle_ns: u64,
    /// Servers listed per alert (20).
    pub max_targets: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            services: vec![
                Service {
                    name: "ssh",
                    port: 22,
                    packets: (11, 30),
                    bytes: (1000, 5000),
                },
                Service {
                    name: "rdp",
                    port: 3389,
                    packets: (20, 100),
                    bytes: (2200, 8001),
                },
                Service {
                    name: "telnet",
                    port: 23,
                    packets: (9, 50),
                    bytes: (450, 3000),
                },
            ],
            window: 50,
            threshold: 30,
            rereport_ns: 300 * NS,
            idle_ns: 600 * NS,
            max_targets: 20,
        }
    }
}

#[derive(Default)]
struct Entry {
    /// Bit 0 = the newest flow, 1 = suspicious.
    history: u64,
    /// Flows in `history` (up to the window).
    seen: u32,
    /// Reported at least once: the attack is on.
    attack: bool,
    /// When the last report was made (record time of its last flow).
    reported_ns: u64,
    /// Since the previous report (or the start):
    first_ns: u64,
    last_ns: u64,
    flows: u64,
    suspicious: u64,
    packets: u64,
    bytes: u64,
    /// Servers of suspicious flows, distinct, capped; allocated on the
    /// first suspicious flow.
    targets: Vec<[u8; 16]>,
    /// Suspicious flows over the whole attack.
    total_suspicious: u64,
}

pub struct BruteForce {
    config: Config,
    /// Port → service index + 1 (0 = not watched).
    by_port: Box<[u8]>,
    entries: Map<([u8; 16], u8), Entry>,
    next_purge_ns: u64,
}

impl BruteForce {
    pub fn new(config: Config) -> BruteForce {
        let mut by_port = vec![0u8; 65536].into_boxed_slice();
        for (i, s) in config.services.iter().enumerate().take(255) {
            by_port[s.port as usize] = i as u8 + 1;
        }
        BruteForce {
            config,
            by_port,
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

    fn report(config: &Config, src: [u8; 16], service: u8, e: &mut Entry, now_ns: u64) -> Alert {
        let s = &config.services[service as usize];
        let in_window = (e.history & window_mask(config)).count_ones();
        let again = if e.attack { " (ongoing)" } else { "" };
        let description = format!(
            "{} brute force{again}: {in_window} of the last {} flows to {} server(s) look like login \
             attempts; {} flows ({} suspicious) since the previous report, {} suspicious in total",
            s.name.to_uppercase(),
            e.seen,
            e.targets.len(),
            e.flows,
            e.suspicious,
            e.total_suspicious,
        );
        let alert = Alert {
            detector: "bruteforce",
            category: vec!["Attempt.Login"],
            description,
            detect_time_ns: now_ns.max(e.last_ns),
            event_time_ns: e.first_ns,
            cease_time_ns: e.last_ns,
            sources: vec![Endpoint {
                ip: src,
                ports: Vec::new(),
                proto: vec!["tcp", s.name],
            }],
            targets: e
                .targets
                .iter()
                .map(|&ip| Endpoint {
                    ip,
                    ports: vec![s.port],
                    proto: vec!["tcp", s.name],
                })
                .collect(),
            flows: e.flows,
            packets: e.packets,
            bytes: e.bytes,
        };
        e.attack = true;
        e.reported_ns = e.last_ns;
        e.flows = 0;
        e.suspicious = 0;
        e.packets = 0;
        e.bytes = 0;
        e.first_ns = 0;
        e.targets.clear();
        alert
    }
}

fn window_mask(config: &Config) -> u64 {
    let w = config.window.clamp(1, 64);
    if w == 64 {
        u64::MAX
    } else {
        (1u64 << w) - 1
    }
}

impl Detector for BruteForce {
    fn name(&self) -> &'static str {
        "bruteforce"
    }

    fn observe(&mut self, f: &Flows<'_>, out: &mut Vec<Alert>) {
        let c = &self.config;
        let window = c.window.clamp(1, 64) as u32;
        let mask = window_mask(c);
        for i in 0..f.len {
            let svc = self.by_port[f.dst_port[i] as usize];
            if svc == 0 || f.proto[i] != TCP {
                continue;
            }
            let service = svc - 1;
            let s = &c.services[service as usize];
            let (packets, bytes) = (f.packets[i], f.bytes[i]);
            let suspicious = (s.packets.0..=s.packets.1).contains(&packets)
                && (s.bytes.0..=s.bytes.1).contains(&bytes);
            let first = f.first[i].max(0) as u64;
            let last = f.last[i].max(0) as u64;
            let src = f.src(i);
            let e = self.entries.entry((src, service)).or_default();
            e.history = (e.history << 1) | suspicious as u64;
            e.seen = (e.seen + 1).min(window);
            if e.flows == 0 || first < e.first_ns {
                e.first_ns = first;
            }
            e.last_ns = e.last_ns.max(last);
            e.flows += 1;
            e.packets += packets;
            e.bytes += bytes;
            if suspicious {
                e.suspicious += 1;
                e.total_suspicious += 1;
                if e.targets.len() < c.max_targets {
                    let dst = f.dst(i);
                    if !e.targets.contains(&dst) {
                        e.targets.push(dst);
                    }
                }
            }
            let due = if e.attack {
                e.suspicious > 0 && e.last_ns >= e.reported_ns + c.rereport_ns
            } else {
                suspicious && (e.history & mask).count_ones() as usize >= c.threshold
            };
            if due {
                out.push(Self::report(c, src, service, e, last));
            }
        }
    }

    fn tick(&mut self, now_ns: u64, out: &mut Vec<Alert>) {
        if now_ns < self.next_purge_ns {
            return;
        }
        self.next_purge_ns = now_ns + 10 * NS;
        let c = &self.config;
        self.entries.retain(|&(src, service), e| {
            if e.last_ns + c.idle_ns > now_ns {
                return true;
            }
            if e.attack && e.suspicious > 0 {
                out.push(Self::report(c, src, service, e, now_ns));
            }
            false
        });
    }

    fn finish(&mut self, out: &mut Vec<Alert>) {
        let c = &self.config;
        for (&(src, service), e) in self.entries.iter_mut() {
            if e.attack && e.suspicious > 0 {
                let now = e.last_ns;
                out.push(Self::report(c, src, service, e, now));
            }
        }
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flows::ip_text;
    use crate::testing::{at_ms, batch, flow_sized};
    use record::FlowRecord;

    const ATTACKER: [u8; 4] = [192, 0, 2, 7];

    /// `n` flows from the attacker to server 10.0.0.(1 + i % servers) on
    /// `port`, one per second from `t_s`.
    fn tries(
        n: usize,
        port: u16,
        packets: u64,
        bytes: u64,
        servers: usize,
        t_s: u64,
    ) -> Vec<FlowRecord> {
        (0..n)
            .map(|i| {
                let dst = [10, 0, 0, 1 + (i % servers) as u8];
                flow_sized(
                    ATTACKER,
                    dst,
                    50000,
                    port,
                    6,
                    0x1b,
                    packets,
                    bytes,
                    (t_s + i as u64) * 1000,
                    500,
                )
            })
            .collect()
    }

    fn ssh(n: usize, t_s: u64) -> Vec<FlowRecord> {
        tries(n, 22, 20, 3000, 1, t_s)
    }

    /// Benign SSH sessions: long and big.
    fn session(n: usize, t_s: u64) -> Vec<FlowRecord> {
        tries(n, 22, 500, 80_000, 1, t_s)
    }

    fn run(d: &mut BruteForce, flows: &[FlowRecord]) -> Vec<Alert> {
        let b = batch(flows);
        let mut out = Vec::new();
        d.observe(&Flows::new(&b).unwrap(), &mut out);
        out
    }

    fn fresh() -> BruteForce {
        BruteForce::new(Config::default())
    }

    #[test]
    fn thirty_suspicious_alert_and_twenty_nine_do_not() {
        let alerts = run(&mut fresh(), &ssh(30, 0));
        assert_eq!(alerts.len(), 1);
        let a = &alerts[0];
        assert_eq!(a.detector, "bruteforce");
        assert_eq!(a.category, vec!["Attempt.Login"]);
        assert_eq!(ip_text(a.sources[0].ip), "192.0.2.7");
        assert_eq!(a.targets.len(), 1);
        assert_eq!(ip_text(a.targets[0].ip), "10.0.0.1");
        assert_eq!(a.targets[0].ports, vec![22]);
        assert_eq!(a.flows, 30);
        assert_eq!(a.packets, 600);
        assert_eq!(a.bytes, 90_000);
        assert_eq!(a.event_time_ns, at_ms(0));
        assert_eq!(a.cease_time_ns, at_ms(29_000) + 500_000_000);
        assert!(
            a.description
                .starts_with("SSH brute force: 30 of the last 30"),
            "{}",
            a.description
        );
        assert!(run(&mut fresh(), &ssh(29, 0)).is_empty());
    }

    #[test]
    fn only_the_last_fifty_flows_count() {
        // 29 suspicious, 21 benign, then 1 more suspicious: the first
        // suspicious one left the window, still 29.
        let mut flows = ssh(29, 0);
        flows.extend(session(21, 100));
        flows.extend(ssh(1, 200));
        assert!(run(&mut fresh(), &flows).is_empty());
        // With 20 benign in between the 30th suspicious is within 50.
        let mut flows = ssh(29, 0);
        flows.extend(session(20, 100));
        flows.extend(ssh(1, 200));
        assert_eq!(run(&mut fresh(), &flows).len(), 1);
    }

    #[test]
    fn range_edges_for_each_service() {
        // Inclusive edges: SSH 11..=30 packets, 1000..=5000 bytes.
        assert_eq!(run(&mut fresh(), &tries(30, 22, 11, 1000, 1, 0)).len(), 1);
        assert_eq!(run(&mut fresh(), &tries(30, 22, 30, 5000, 1, 0)).len(), 1);
        assert!(run(&mut fresh(), &tries(30, 22, 10, 3000, 1, 0)).is_empty());
        assert!(run(&mut fresh(), &tries(30, 22, 31, 3000, 1, 0)).is_empty());
        assert!(run(&mut fresh(), &tries(30, 22, 20, 999, 1, 0)).is_empty());
        assert!(run(&mut fresh(), &tries(30, 22, 20, 5001, 1, 0)).is_empty());
        // RDP 20..=100 packets, 2200..=8001 bytes.
        let a = run(&mut fresh(), &tries(30, 3389, 20, 8001, 1, 0));
        assert_eq!(a.len(), 1);
        assert!(a[0].description.starts_with("RDP"));
        assert_eq!(a[0].targets[0].proto, vec!["tcp", "rdp"]);
        assert!(run(&mut fresh(), &tries(30, 3389, 19, 3000, 1, 0)).is_empty());
        assert!(run(&mut fresh(), &tries(30, 3389, 50, 8002, 1, 0)).is_empty());
        // Telnet 9..=50 packets, 450..=3000 bytes.
        assert_eq!(run(&mut fresh(), &tries(30, 23, 9, 450, 1, 0)).len(), 1);
        assert!(run(&mut fresh(), &tries(30, 23, 51, 1000, 1, 0)).is_empty());
        assert!(run(&mut fresh(), &tries(30, 23, 20, 449, 1, 0)).is_empty());
    }

    #[test]
    fn wrong_shape_flows_are_ignored() {
        // Server → client (source port 22), UDP, other ports.
        let mut back = ssh(40, 0);
        for f in &mut back {
            std::mem::swap(&mut f.src_port, &mut f.dst_port);
        }
        let mut udp = ssh(40, 0);
        for f in &mut udp {
            f.proto = 17;
        }
        let other = tries(40, 2222, 20, 3000, 1, 0);
        let mut d = fresh();
        assert!(run(&mut d, &back).is_empty());
        assert!(run(&mut d, &udp).is_empty());
        assert!(run(&mut d, &other).is_empty());
        assert!(d.is_empty());
    }

    #[test]
    fn services_and_sources_are_counted_apart() {
        let mut flows = tries(15, 22, 20, 3000, 1, 0);
        flows.extend(tries(15, 23, 20, 1000, 1, 0));
        let mut other = ssh(15, 0);
        for f in &mut other {
            f.src_ip = std::net::Ipv4Addr::new(192, 0, 2, 8).to_ipv6_mapped();
        }
        flows.extend(other);
        let mut d = fresh();
        assert!(run(&mut d, &flows).is_empty());
        assert_eq!(d.len(), 3);
    }

    #[test]
    fn targets_are_distinct_and_capped() {
        let alerts = run(&mut fresh(), &tries(30, 22, 20, 3000, 3, 0));
        assert_eq!(alerts[0].targets.len(), 3);
        let alerts = run(&mut fresh(), &tries(30, 22, 20, 3000, 30, 0));
        assert_eq!(alerts[0].targets.len(), 20);
        assert!(alerts[0].description.contains("to 20 server(s)"));
    }

    #[test]
    fn ongoing_attack_is_re_reported_after_300_s() {
        let mut d = fresh();
        assert_eq!(run(&mut d, &ssh(30, 0)).len(), 1);
        // Last report at 29.5 s; flows until 329 s are not reported yet.
        assert!(run(&mut d, &ssh(299, 30)).is_empty());
        let again = run(&mut d, &ssh(1, 329));
        assert_eq!(again.len(), 1);
        assert!(
            again[0].description.contains("(ongoing)"),
            "{}",
            again[0].description
        );
        assert_eq!(again[0].flows, 300);
        assert_eq!(again[0].event_time_ns, at_ms(30_000));
        // One alert per report: the next flow starts a new period.
        assert!(run(&mut d, &ssh(5, 330)).is_empty());
    }

    #[test]
    fn attack_ends_after_600_s_idle() {
        let mut d = fresh();
        assert_eq!(run(&mut d, &ssh(30, 0)).len(), 1);
        assert!(run(&mut d, &ssh(10, 100)).is_empty());
        let mut out = Vec::new();
        // Last flow ends at 109.5 s.
        d.tick(at_ms(709_000), &mut out);
        assert!(out.is_empty());
        assert_eq!(d.len(), 1);
        d.tick(at_ms(720_000), &mut out);
        assert!(d.is_empty());
        // The flows since the first report are reported as the attack ends.
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].flows, 10);
        // A new start needs 30 suspicious again.
        assert!(run(&mut d, &ssh(29, 800)).is_empty());
    }

    #[test]
    fn idle_benign_entries_are_dropped_silently() {
        let mut d = fresh();
        assert!(run(&mut d, &ssh(10, 0)).is_empty());
        let mut out = Vec::new();
        d.tick(at_ms(700_000), &mut out);
        assert!(d.is_empty());
        assert!(out.is_empty());
    }
}
