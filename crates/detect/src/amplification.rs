//! Reflection/amplification DDoS (after NEMEA's amplification_detection)
//! on reflective UDP services: DNS 53, NTP 123, SSDP 1900, memcached
//! 11211, CharGen 19, SNMP 161, CLDAP 389.
//!
//! A response is a UDP flow from a service port (server → victim), a query
//! a UDP flow to a service port (victim → server; the victim's address is
//! spoofed by the attacker, so the queries are usually not seen at all).
//! Counters are kept per (server, victim, service port) over a tumbling
//! window of record time (300 s, starting at the first flow the detector
//! keeps, closed on the first tick past its end).
//!
//! When the window closes, a pair *amplifies* when its average response is
//! over 1000 bytes (bytes / flows) and its response/query byte ratio is
//! over 5 (no queries = an infinite ratio). The amplifying pairs are then
//! aggregated per victim, across reflectors and services, and the victim
//! is reported when their response flows sum to over 1000: one alert per
//! (victim, window), naming up to 20 reflectors (those that sent the most
//! bytes) as sources and the victim as target. Aggregating per victim
//! catches attacks spread over many reflectors that each send a few
//! hundred responses, which NEMEA's per-pair thresholds miss; requiring
//! each counted pair to amplify keeps the victim's own benign exchanges
//! (small answers to its queries) from diluting or faking the figures.
//! NEMEA's query-size and histogram conditions are not applied.

use crate::{Alert, Detector, Endpoint, Flows, Map, NS};

const UDP: u8 = 17;

#[derive(Clone, Debug, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Watched UDP services: port and protocol name (at most 255).
    #[serde(with = "crate::config::port_names")]
    pub services: Vec<(u16, &'static str)>,
    /// The window (300 s of record time).
    #[serde(rename = "window_secs", with = "crate::config::secs")]
    pub window_ns: u64,
    /// Response flows to one victim in a window that make an attack: more
    /// than this (1000).
    pub min_flows: u64,
    /// Average response bytes per flow of an amplifying pair: more than
    /// this (1000).
    pub min_avg_bytes: u64,
    /// Response/query bytes of an amplifying pair: more than this (5).
    pub min_ratio: f64,
    /// Reflectors listed per alert (20).
    pub max_reflectors: usize,
    /// Pairs kept per window; flows of new pairs beyond it are not counted
    /// (1,000,000: a memory bound).
    pub max_pairs: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            services: vec![
                (53, "dns"),
                (123, "ntp"),
                (1900, "ssdp"),
                (11211, "memcached"),
                (19, "chargen"),
                (161, "snmp"),
                (389, "cldap"),
            ],
            window_ns: 300 * NS,
            min_flows: 1000,
            min_avg_bytes: 1000,
            min_ratio: 5.0,
            max_reflectors: 20,
            max_pairs: 1_000_000,
        }
    }
}

#[derive(Clone, Copy)]
struct Pair {
    resp_flows: u64,
    resp_packets: u64,
    resp_bytes: u64,
    query_flows: u64,
    query_bytes: u64,
    first_ns: u64,
    last_ns: u64,
}

/// Key: (server, victim, service port).
type PairKey = ([u8; 16], [u8; 16], u16);

pub struct Amplification {
    config: Config,
    /// Port → service index + 1 (0 = not watched).
    by_port: Box<[u8]>,
    pairs: Map<PairKey, Pair>,
    /// End of the open window; 0 = none open.
    window_end_ns: u64,
}

impl Amplification {
    pub fn new(config: Config) -> Amplification {
        let mut by_port = vec![0u8; 65536].into_boxed_slice();
        for (i, &(port, _)) in config.services.iter().enumerate().take(255) {
            by_port[port as usize] = i as u8 + 1;
        }
        Amplification {
            config,
            by_port,
            pairs: Map::default(),
            window_end_ns: 0,
        }
    }

    /// Pairs held in the open window (for tests and metrics).
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    fn amplifies(&self, p: &Pair) -> bool {
        p.resp_flows > 0
            && p.resp_bytes > self.config.min_avg_bytes.saturating_mul(p.resp_flows)
            && (p.query_bytes == 0
                || p.resp_bytes as f64 > self.config.min_ratio * p.query_bytes as f64)
    }

    fn service_name(&self, port: u16) -> &'static str {
        match self.by_port[port as usize] {
            0 => "udp",
            i => self.config.services[i as usize - 1].1,
        }
    }

    /// Closes the window: reports the victims, forgets the pairs.
    fn close(&mut self, now_ns: u64, out: &mut Vec<Alert>) {
        #[derive(Default)]
        struct Victim {
            flows: u64,
            packets: u64,
            bytes: u64,
            query_bytes: u64,
            first_ns: u64,
            last_ns: u64,
            /// (bytes, server, port) of the amplifying pairs.
            reflectors: Vec<(u64, [u8; 16], u16)>,
        }
        let mut victims: Map<[u8; 16], Victim> = Map::default();
        for (&(server, victim, port), p) in &self.pairs {
            if !self.amplifies(p) {
                continue;
            }
            let v = victims.entry(victim).or_insert_with(|| Victim {
                first_ns: u64::MAX,
                ..Victim::default()
            });
            v.flows += p.resp_flows;
            v.packets += p.resp_packets;
            v.bytes += p.resp_bytes;
            v.query_bytes += p.query_bytes;
            v.first_ns = v.first_ns.min(p.first_ns);
            v.last_ns = v.last_ns.max(p.last_ns);
            v.reflectors.push((p.resp_bytes, server, port));
        }
        let mut found: Vec<([u8; 16], Victim)> = victims
            .into_iter()
            .filter(|(_, v)| v.flows > self.config.min_flows)
            .collect();
        found.sort_unstable_by_key(|(ip, _)| *ip);
        for (victim, mut v) in found {
            v.reflectors
                .sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
            let mut sources: Vec<Endpoint> = Vec::new();
            let mut servers: Vec<[u8; 16]> = v.reflectors.iter().map(|r| r.1).collect();
            servers.sort_unstable();
            servers.dedup();
            let mut ports: Vec<u16> = v.reflectors.iter().map(|r| r.2).collect();
            ports.sort_unstable();
            ports.dedup();
            for &(_, server, port) in &v.reflectors {
                if let Some(e) = sources.iter_mut().find(|e| e.ip == server) {
                    if !e.ports.contains(&port) {
                        e.ports.push(port);
                        e.proto.push(self.service_name(port));
                    }
                } else if sources.len() < self.config.max_reflectors {
                    sources.push(Endpoint {
                        ip: server,
                        ports: vec![port],
                        proto: vec!["udp", self.service_name(port)],
                    });
                }
            }
            let names: Vec<&str> = ports.iter().map(|&p| self.service_name(p)).collect();
            let ratio = if v.query_bytes == 0 {
                "infinite (no queries seen)".to_string()
            } else {
                format!("{:.1}", v.bytes as f64 / v.query_bytes as f64)
            };
            out.push(Alert {
                detector: "amplification",
                category: vec!["Availability.DDoS"],
                description: format!(
                    "{} amplification attack on {}: {} responses averaging {} bytes from {} \
                     reflector(s), response/query bytes {ratio}",
                    names.join("/").to_uppercase(),
                    crate::flows::ip_text(victim),
                    v.flows,
                    v.bytes / v.flows.max(1),
                    servers.len(),
                ),
                detect_time_ns: now_ns.max(v.last_ns),
                event_time_ns: v.first_ns,
                cease_time_ns: v.last_ns,
                sources,
                targets: vec![Endpoint {
                    ip: victim,
                    ports: Vec::new(),
                    proto: vec!["udp"],
                }],
                flows: v.flows,
                packets: v.packets,
                bytes: v.bytes,
            });
        }
        self.pairs.clear();
        self.window_end_ns = 0;
    }

    #[inline]
    fn pair(&mut self, key: PairKey, first: u64, last: u64) -> Option<&mut Pair> {
        if self.pairs.len() >= self.config.max_pairs && !self.pairs.contains_key(&key) {
            return None;
        }
        let p = self.pairs.entry(key).or_insert(Pair {
            resp_flows: 0,
            resp_packets: 0,
            resp_bytes: 0,
            query_flows: 0,
            query_bytes: 0,
            first_ns: first,
            last_ns: last,
        });
        p.first_ns = p.first_ns.min(first);
        p.last_ns = p.last_ns.max(last);
        Some(p)
    }
}

impl Detector for Amplification {
    fn name(&self) -> &'static str {
        "amplification"
    }

    fn observe(&mut self, f: &Flows<'_>, _out: &mut Vec<Alert>) {
        for i in 0..f.len {
            let (sport, dport) = (f.src_port[i], f.dst_port[i]);
            let (s, d) = (self.by_port[sport as usize], self.by_port[dport as usize]);
            if s | d == 0 || f.proto[i] != UDP {
                continue;
            }
            let first = f.first[i].max(0) as u64;
            let last = f.last[i].max(0) as u64;
            if self.window_end_ns == 0 {
                self.window_end_ns = first.max(1) + self.config.window_ns;
            }
            let (src, dst) = (f.src(i), f.dst(i));
            let (packets, bytes) = (f.packets[i], f.bytes[i]);
            if s != 0 {
                if let Some(p) = self.pair((src, dst, sport), first, last) {
                    p.resp_flows += 1;
                    p.resp_packets += packets;
                    p.resp_bytes += bytes;
                }
            }
            if d != 0 {
                if let Some(p) = self.pair((dst, src, dport), first, last) {
                    p.query_flows += 1;
                    p.query_bytes += bytes;
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
            let now = self.pairs.values().map(|p| p.last_ns).max().unwrap_or(0);
            self.close(now, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flows::ip_text;
    use crate::testing::{at_ms, batch, flow_sized};
    use record::FlowRecord;

    const VICTIM: [u8; 4] = [198, 51, 100, 9];

    /// `n` responses of `bytes` from reflectors 203.0.113.(1 + i % servers)
    /// on `port` to the victim, 10 ms apart from `t_ms`.
    fn responses(n: usize, port: u16, bytes: u64, servers: usize, t_ms: u64) -> Vec<FlowRecord> {
        (0..n)
            .map(|i| {
                let server = [203, 0, 113, 1 + (i % servers) as u8];
                flow_sized(
                    server,
                    VICTIM,
                    port,
                    40000,
                    UDP,
                    0,
                    1,
                    bytes,
                    t_ms + i as u64 * 10,
                    0,
                )
            })
            .collect()
    }

    /// `n` queries of `bytes` from the victim to reflector 203.0.113.1.
    fn queries(n: usize, port: u16, bytes: u64) -> Vec<FlowRecord> {
        (0..n)
            .map(|i| {
                flow_sized(
                    VICTIM,
                    [203, 0, 113, 1],
                    40000,
                    port,
                    UDP,
                    0,
                    1,
                    bytes,
                    i as u64,
                    0,
                )
            })
            .collect()
    }

    fn run_window(d: &mut Amplification, flows: &[FlowRecord]) -> Vec<Alert> {
        let b = batch(flows);
        let mut out = Vec::new();
        d.observe(&Flows::new(&b).unwrap(), &mut out);
        assert!(out.is_empty(), "alerts only when the window closes");
        d.tick(at_ms(300_000), &mut out);
        out
    }

    fn window(flows: &[FlowRecord]) -> Vec<Alert> {
        run_window(&mut Amplification::new(Config::default()), flows)
    }

    #[test]
    fn over_1000_large_responses_alert_and_1000_do_not() {
        let alerts = window(&responses(1001, 53, 3000, 1, 0));
        assert_eq!(alerts.len(), 1);
        let a = &alerts[0];
        assert_eq!(a.detector, "amplification");
        assert_eq!(a.category, vec!["Availability.DDoS"]);
        assert_eq!(ip_text(a.targets[0].ip), "198.51.100.9");
        assert_eq!(a.sources.len(), 1);
        assert_eq!(ip_text(a.sources[0].ip), "203.0.113.1");
        assert_eq!(a.sources[0].ports, vec![53]);
        assert_eq!(a.sources[0].proto, vec!["udp", "dns"]);
        assert_eq!((a.flows, a.packets, a.bytes), (1001, 1001, 3_003_000));
        assert_eq!(a.event_time_ns, at_ms(0));
        assert_eq!(a.cease_time_ns, at_ms(10_000));
        assert!(
            a.description
                .starts_with("DNS amplification attack on 198.51.100.9: 1001 responses"),
            "{}",
            a.description
        );
        assert!(a.description.contains("infinite"), "{}", a.description);
        assert!(window(&responses(1000, 53, 3000, 1, 0)).is_empty());
    }

    #[test]
    fn average_response_must_exceed_1000_bytes() {
        assert!(window(&responses(1500, 123, 1000, 1, 0)).is_empty());
        assert_eq!(window(&responses(1500, 123, 1001, 1, 0)).len(), 1);
    }

    #[test]
    fn ratio_must_exceed_5() {
        // 1001 responses × 2000 bytes = 2,002,000; queries 1001 × 400 =
        // 400,400: ratio exactly 5.
        let mut flows = responses(1001, 53, 2000, 1, 0);
        flows.extend(queries(1001, 53, 400));
        assert!(window(&flows).is_empty());
        let mut flows = responses(1001, 53, 2000, 1, 0);
        flows.extend(queries(1001, 53, 399));
        let a = window(&flows);
        assert_eq!(a.len(), 1);
        assert!(
            a[0].description.contains("response/query bytes 5.0"),
            "{}",
            a[0].description
        );
    }

    #[test]
    fn reflectors_are_aggregated_per_victim_and_capped() {
        // 50 reflectors with 21 responses each: none over 1000 alone.
        let alerts = window(&responses(1050, 1900, 1200, 50, 0));
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].sources.len(), 20);
        assert_eq!(alerts[0].flows, 1050);
        assert!(
            alerts[0].description.contains("from 50 reflector(s)"),
            "{}",
            alerts[0].description
        );
        // Two services against one victim: still one alert.
        let mut flows = responses(600, 53, 3000, 3, 0);
        flows.extend(responses(600, 123, 3000, 3, 0));
        let alerts = window(&flows);
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].sources.len(), 3);
        assert_eq!(alerts[0].sources[0].ports.len(), 2);
        assert!(
            alerts[0].description.starts_with("DNS/NTP"),
            "{}",
            alerts[0].description
        );
    }

    #[test]
    fn wrong_shape_flows_are_ignored() {
        let mut tcp = responses(1500, 53, 3000, 1, 0);
        for f in &mut tcp {
            f.proto = 6;
        }
        assert!(window(&tcp).is_empty());
        assert!(window(&responses(1500, 5353, 3000, 1, 0)).is_empty());
        // Big flows *to* the service port are queries, not responses.
        let mut d = Amplification::new(Config::default());
        assert!(run_window(&mut d, &queries(1500, 53, 3000)).is_empty());
        assert!(d.is_empty());
    }

    #[test]
    fn windows_are_counted_apart() {
        let mut d = Amplification::new(Config::default());
        assert!(run_window(&mut d, &responses(600, 53, 3000, 1, 0)).is_empty());
        assert!(d.is_empty(), "the closed window is forgotten");
        let b = batch(&responses(600, 53, 3000, 1, 400_000));
        let mut out = Vec::new();
        d.observe(&Flows::new(&b).unwrap(), &mut out);
        d.tick(at_ms(600_000), &mut out);
        assert!(out.is_empty(), "window still open");
        d.tick(at_ms(700_000), &mut out);
        assert!(out.is_empty());
        assert!(d.is_empty());
    }

    #[test]
    fn finish_reports_the_open_window() {
        let mut d = Amplification::new(Config::default());
        let b = batch(&responses(1001, 11211, 5000, 2, 0));
        let mut out = Vec::new();
        d.observe(&Flows::new(&b).unwrap(), &mut out);
        d.tick(at_ms(20_000), &mut out);
        assert!(out.is_empty());
        d.finish(&mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].sources.len(), 2);
    }

    #[test]
    fn window_is_configurable() {
        let mut d = Amplification::new(Config {
            window_ns: 10 * NS,
            ..Config::default()
        });
        // 1001 responses over 10 s: all within the 10 s window.
        let b = batch(&responses(1001, 53, 3000, 1, 0));
        let mut out = Vec::new();
        d.observe(&Flows::new(&b).unwrap(), &mut out);
        d.tick(at_ms(10_000), &mut out);
        assert_eq!(out.len(), 1);
    }
}
