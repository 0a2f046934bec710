//! DNS tunnels (after NEMEA's tunnel_detection): data smuggled in the
//! names of DNS queries under one domain the tunnel's owner controls.
//!
//! Input: eddy's meter exports one record per DNS transaction and
//! direction: the query flow (client → resolver, destination port 53) and
//! the response flow (resolver → client, source port 53), both carrying
//! `dns_qname` and `dns_qtype`. Queries are looked at per client (the host
//! sending to port 53); responses only add their sizes to a domain already
//! followed for that client.
//!
//! Per query the name is split into its registered domain and the
//! subdomain below it. The registered domain is approximated without a
//! public-suffix list: the last two labels, or the last three when the
//! top-level label has two letters (a country) and the second-level one is
//! a common generic one (`co`, `com`, `ac`, `gov`, ...; so `x.example.co.uk`
//! → `example.co.uk`). Reverse lookups (`PTR`, names under `.arpa`) are not
//! looked at: their names are long, numeric and unique by nature.
//!
//! NEMEA's statistics are means and variances of the request and response
//! *sizes* per client (request mean 70–100, response mean 70–600). eddy has
//! no payload but it has the query name and the flow's bytes, so the
//! request size is the DNS message size: the flow's bytes per packet minus
//! the IP and UDP headers (28 bytes for IPv4, 48 for IPv6), or the
//! question's size (name + 18) for DNS over TCP or when the bytes say less.
//! A query is *suspicious* when
//! - its request size is at least `min_request_len` (70, the low edge of
//!   NEMEA's request band; there is no upper edge per query: a longer name
//!   carries more data),
//! - its subdomain part holds at least `min_subdomain_len` (30) characters
//!   and its longest label at least `min_label_len` (16), and
//! - the subdomain's characters look encoded: Shannon entropy at least
//!   `min_entropy` (3.5 bits per character; base32 data gives about 4.5,
//!   words about 3) or digits at least `min_digit_ratio` (30 %, hex).
//!
//! The first suspicious query of a client under a domain opens a session
//! for that (client, domain); from then on every query of the client under
//! the domain counts. The session collects: queries, suspicious queries,
//! the unique-subdomain ratio (a hash set of subdomains, at most
//! `max_subdomains` entries: once full the ratio is frozen on the queries
//! seen so far), name and longest-label length means, entropy and digit
//! means, the share of TXT/NULL/CNAME queries, request and response size
//! means, and the resolvers asked. An alert is raised when a session has
//! `min_suspicious` (150, NEMEA's tunnel count) suspicious queries, a
//! unique-subdomain ratio above `min_unique_ratio` (0.9), and has lasted
//! `min_session_ns` (60 s of record time, NEMEA's session) or holds
//! `burst_queries` (1000) suspicious queries. A session that reaches
//! `window_ns` (300 s) without an alert starts over. After an alert the
//! counters start over and the same (client, domain) is reported again at
//! most every `rereport_ns` (1 hour). Sessions idle `idle_ns` (300 s) are
//! dropped (reported ones are kept until their re-report time).
//!
//! Memory: only suspicious queries open sessions; at most `max_domains`
//! (32) sessions per client (the least recently used one makes room).
//!
//! Alerts: category `Anomaly.Connection` (NEMEA's report2idea maps the
//! tunnel detector's reports to it); Source the client, Target the
//! resolver(s) asked (port 53), the tunnel domain named in the description.

use std::borrow::Cow;
use std::hash::BuildHasher;

use arrow_array::Array;

use crate::{Alert, Detector, Endpoint, Flows, Map, Set, NS};

const UDP: u8 = 17;
const DNS_PORT: u16 = 53;
const QTYPE_CNAME: u32 = 5;
const QTYPE_NULL: u32 = 10;
const QTYPE_PTR: u32 = 12;
const QTYPE_TXT: u32 = 16;
/// Resolvers listed per alert.
const MAX_RESOLVERS: usize = 4;

#[derive(Clone, Debug, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// A suspicious query's DNS message is at least this long (70 bytes).
    pub min_request_len: u64,
    /// ... its name has at least this many characters below the
    /// registered domain (30) ...
    pub min_subdomain_len: usize,
    /// ... and a label at least this long (16).
    pub min_label_len: usize,
    /// ... with an entropy of at least this many bits per character (3.5)
    pub min_entropy: f64,
    /// ... or at least this share of digits (0.3).
    pub min_digit_ratio: f64,
    /// Suspicious queries in a session that make a tunnel (150).
    pub min_suspicious: u64,
    /// Distinct subdomains per query in the session must exceed this (0.9).
    pub min_unique_ratio: f64,
    /// A session is judged once it lasted this long (60 s) ...
    #[serde(rename = "min_session_secs", with = "crate::config::secs")]
    pub min_session_ns: u64,
    /// ... or holds this many suspicious queries (1000).
    pub burst_queries: u64,
    /// A session without an alert starts over after this (300 s).
    #[serde(rename = "window_secs", with = "crate::config::secs")]
    pub window_ns: u64,
    /// A session without queries this long is dropped (300 s).
    #[serde(rename = "idle_secs", with = "crate::config::secs")]
    pub idle_ns: u64,
    /// A (client, domain) is reported again at most this often (3600 s).
    #[serde(rename = "rereport_secs", with = "crate::config::secs")]
    pub rereport_ns: u64,
    /// Sessions (domains) followed per client (32).
    pub max_domains: usize,
    /// Distinct subdomains remembered per session (1024).
    pub max_subdomains: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            min_request_len: 70,
            min_subdomain_len: 30,
            min_label_len: 16,
            min_entropy: 3.5,
            min_digit_ratio: 0.3,
            min_suspicious: 150,
            min_unique_ratio: 0.9,
            min_session_ns: 60 * NS,
            burst_queries: 1000,
            window_ns: 300 * NS,
            idle_ns: 300 * NS,
            rereport_ns: 3600 * NS,
            max_domains: 32,
            max_subdomains: 1024,
        }
    }
}

/// What one query name looks like.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct NameStats {
    /// Characters of the whole name (no trailing dot).
    pub len: usize,
    /// Characters below the registered domain (dots included).
    pub subdomain_len: usize,
    /// The longest label below the registered domain.
    pub max_label: usize,
    /// Shannon entropy of the subdomain's characters (dots excluded), bits.
    pub entropy: f64,
    /// Share of digits among the subdomain's characters.
    pub digit_ratio: f64,
}

/// The registered domain of a lowercase name without trailing dot, as the
/// module docs approximate it.
pub fn registered_domain(name: &str) -> &str {
    const GENERIC_SLD: &[&str] = &[
        "co", "com", "net", "org", "ac", "gov", "edu", "ne", "or", "go", "mil", "ltd", "plc",
        "nhs", "sch", "gob", "nom",
    ];
    let mut dots = name.rmatch_indices('.').map(|(i, _)| i);
    let Some(d1) = dots.next() else {
        return name;
    };
    let Some(d2) = dots.next() else {
        return name;
    };
    let tld = &name[d1 + 1..];
    let sld = &name[d2 + 1..d1];
    if tld.len() == 2 && GENERIC_SLD.contains(&sld) {
        match dots.next() {
            Some(d3) => &name[d3 + 1..],
            None => name,
        }
    } else {
        &name[d2 + 1..]
    }
}

/// The statistics of `name` (lowercase, no trailing dot) whose registered
/// domain is `domain` (a suffix of it).
pub fn name_stats(name: &str, domain: &str) -> NameStats {
    let sub = name[..name.len() - domain.len()].trim_end_matches('.');
    let mut counts = [0u16; 256];
    let mut chars = 0usize;
    let mut digits = 0usize;
    let mut max_label = 0;
    for label in sub.split('.') {
        max_label = max_label.max(label.len());
        for &b in label.as_bytes() {
            counts[b as usize] += 1;
            chars += 1;
            digits += b.is_ascii_digit() as usize;
        }
    }
    let mut entropy = 0.0;
    if chars > 0 {
        let n = chars as f64;
        for &c in counts.iter().filter(|&&c| c > 0) {
            let p = f64::from(c) / n;
            entropy -= p * p.log2();
        }
    }
    NameStats {
        len: name.len(),
        subdomain_len: sub.len(),
        max_label,
        entropy,
        digit_ratio: if chars > 0 {
            digits as f64 / chars as f64
        } else {
            0.0
        },
    }
}

fn is_v4(ip: &[u8; 16]) -> bool {
    ip[..10].iter().all(|&b| b == 0) && ip[10] == 0xff && ip[11] == 0xff
}

/// The DNS message size of flow `i` carrying `name`, per the module docs.
fn message_len(f: &Flows<'_>, i: usize, ip: &[u8; 16], name: &str) -> u64 {
    let question = name.len() as u64 + 18;
    if f.proto[i] != UDP || f.packets[i] == 0 {
        return question;
    }
    let header = if is_v4(ip) { 28 } else { 48 };
    (f.bytes[i] / f.packets[i])
        .saturating_sub(header)
        .max(question)
}

#[derive(Default)]
struct Session {
    first_ns: u64,
    last_ns: u64,
    queries: u64,
    suspicious: u64,
    /// Queries counted in the unique ratio, and their distinct subdomains.
    sampled: u64,
    subdomains: Set<u64>,
    name_len: u64,
    label_len: u64,
    entropy: f64,
    digit_ratio: f64,
    odd_types: u64,
    request_bytes: u64,
    responses: u64,
    response_bytes: u64,
    packets: u64,
    bytes: u64,
    resolvers: Vec<[u8; 16]>,
    /// The last report's time (0 = never).
    reported_ns: u64,
}

impl Session {
    fn restart(&mut self, now_ns: u64) {
        let reported_ns = self.reported_ns;
        let mut subdomains = std::mem::take(&mut self.subdomains);
        subdomains.clear();
        *self = Session {
            first_ns: now_ns,
            last_ns: now_ns,
            subdomains,
            reported_ns,
            ..Session::default()
        };
    }
}

#[derive(Default)]
struct Client {
    domains: Map<Box<str>, Session>,
    last_ns: u64,
}

pub struct DnsTunnel {
    config: Config,
    clients: Map<[u8; 16], Client>,
    hasher: foldhash::fast::RandomState,
    next_purge_ns: u64,
}

impl DnsTunnel {
    pub fn new(config: Config) -> DnsTunnel {
        DnsTunnel {
            config,
            clients: Map::default(),
            hasher: Default::default(),
            next_purge_ns: 0,
        }
    }

    /// Sessions held (for tests and metrics).
    pub fn len(&self) -> usize {
        self.clients.values().map(|c| c.domains.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether a query with these statistics and message size is suspicious.
    pub fn is_suspicious(&self, s: &NameStats, request_len: u64) -> bool {
        let c = &self.config;
        request_len >= c.min_request_len
            && s.subdomain_len >= c.min_subdomain_len
            && s.max_label >= c.min_label_len
            && (s.entropy >= c.min_entropy || s.digit_ratio >= c.min_digit_ratio)
    }

    fn query(&mut self, f: &Flows<'_>, i: usize, name: &str, qtype: Option<u32>) -> Option<Alert> {
        let client_ip = f.src(i);
        let domain = registered_domain(name);
        if domain.len() == name.len() {
            return None;
        }
        let stats = name_stats(name, domain);
        let request_len = message_len(f, i, &client_ip, name);
        let suspicious = self.is_suspicious(&stats, request_len);
        let first = f.first[i].max(0) as u64;
        let last = f.last[i].max(0) as u64;
        let c = &self.config;
        let client = if suspicious {
            self.clients.entry(client_ip).or_default()
        } else {
            self.clients.get_mut(&client_ip)?
        };
        if !client.domains.contains_key(domain) {
            if !suspicious {
                return None;
            }
            if client.domains.len() >= c.max_domains.max(1) {
                let oldest = client
                    .domains
                    .iter()
                    .min_by_key(|(_, s)| s.last_ns)
                    .map(|(d, _)| d.clone())?;
                client.domains.remove(&oldest);
            }
            let mut s = Session::default();
            s.restart(first);
            client.domains.insert(domain.into(), s);
        }
        client.last_ns = client.last_ns.max(last);
        let s = client.domains.get_mut(domain)?;
        if first >= s.first_ns + c.window_ns {
            s.restart(first);
        }
        s.first_ns = s.first_ns.min(first);
        s.last_ns = s.last_ns.max(last);
        s.queries += 1;
        s.suspicious += suspicious as u64;
        let sub = &name[..name.len() - domain.len()];
        let h = self.hasher.hash_one(sub);
        if s.subdomains.contains(&h) {
            s.sampled += 1;
        } else if s.subdomains.len() < c.max_subdomains {
            s.subdomains.insert(h);
            s.sampled += 1;
        }
        s.name_len += stats.len as u64;
        s.label_len += stats.max_label as u64;
        s.entropy += stats.entropy;
        s.digit_ratio += stats.digit_ratio;
        if matches!(qtype, Some(QTYPE_TXT | QTYPE_NULL | QTYPE_CNAME)) {
            s.odd_types += 1;
        }
        s.request_bytes += request_len;
        s.packets += f.packets[i];
        s.bytes += f.bytes[i];
        let resolver = f.dst(i);
        if s.resolvers.len() < MAX_RESOLVERS && !s.resolvers.contains(&resolver) {
            s.resolvers.push(resolver);
        }
        let unique = s.subdomains.len() as f64 / s.sampled.max(1) as f64;
        let due = suspicious
            && s.suspicious >= c.min_suspicious
            && unique > c.min_unique_ratio
            && (s.last_ns.saturating_sub(s.first_ns) >= c.min_session_ns
                || s.suspicious >= c.burst_queries)
            && (s.reported_ns == 0 || s.last_ns >= s.reported_ns + c.rereport_ns);
        if !due {
            return None;
        }
        let alert = report(client_ip, domain, s, unique);
        s.reported_ns = s.last_ns;
        s.restart(s.last_ns);
        Some(alert)
    }

    fn response(&mut self, f: &Flows<'_>, i: usize, name: &str) {
        let Some(client) = self.clients.get_mut(&f.dst(i)) else {
            return;
        };
        let Some(s) = client.domains.get_mut(registered_domain(name)) else {
            return;
        };
        s.responses += 1;
        s.response_bytes += message_len(f, i, &f.src(i), name);
        s.packets += f.packets[i];
        s.bytes += f.bytes[i];
    }
}

fn report(client: [u8; 16], domain: &str, s: &Session, unique: f64) -> Alert {
    let n = s.queries.max(1) as f64;
    let mut description = format!(
        "DNS tunnel under {domain}: {} suspicious of {} queries in {} s, {:.0} % unique \
         subdomains; names {:.0} characters on average (longest label {:.0}), {:.1} bits per \
         character, {:.0} % digits, {:.0} % TXT/NULL/CNAME; requests {:.0} bytes on average",
        s.suspicious,
        s.queries,
        s.last_ns.saturating_sub(s.first_ns) / NS,
        unique * 100.0,
        s.name_len as f64 / n,
        s.label_len as f64 / n,
        s.entropy / n,
        s.digit_ratio / n * 100.0,
        s.odd_types as f64 / n * 100.0,
        s.request_bytes as f64 / n,
    );
    if s.responses > 0 {
        description.push_str(&format!(
            ", responses {:.0}",
            s.response_bytes as f64 / s.responses as f64
        ));
    }
    Alert {
        detector: "dns_tunnel",
        category: vec!["Anomaly.Connection"],
        description,
        detect_time_ns: s.last_ns,
        event_time_ns: s.first_ns,
        cease_time_ns: s.last_ns,
        sources: vec![Endpoint {
            ip: client,
            ports: Vec::new(),
            proto: vec!["udp", "dns"],
        }],
        targets: s
            .resolvers
            .iter()
            .map(|&ip| Endpoint {
                ip,
                ports: vec![DNS_PORT],
                proto: vec!["udp", "dns"],
            })
            .collect(),
        flows: s.queries + s.responses,
        packets: s.packets,
        bytes: s.bytes,
    }
}

impl Detector for DnsTunnel {
    fn name(&self) -> &'static str {
        "dns_tunnel"
    }

    fn observe(&mut self, f: &Flows<'_>, out: &mut Vec<Alert>) {
        let qnames = f.text("dns_qname");
        if qnames.is_none() {
            return;
        }
        let qtypes = f.number("dns_qtype");
        for i in 0..f.len {
            let (query, response) = (f.dst_port[i] == DNS_PORT, f.src_port[i] == DNS_PORT);
            if query == response {
                continue;
            }
            let Some(raw) = Flows::text_at(qnames, i) else {
                continue;
            };
            let qtype = qtypes.and_then(|q| q.is_valid(i).then(|| q.value(i)));
            let trimmed = raw.trim_end_matches('.');
            let name: Cow<'_, str> = if trimmed.bytes().any(|b| b.is_ascii_uppercase()) {
                Cow::Owned(trimmed.to_ascii_lowercase())
            } else {
                Cow::Borrowed(trimmed)
            };
            if qtype == Some(QTYPE_PTR) || name.ends_with(".arpa") || name.is_empty() {
                continue;
            }
            if query {
                out.extend(self.query(f, i, &name, qtype));
            } else {
                self.response(f, i, &name);
            }
        }
    }

    fn tick(&mut self, now_ns: u64, _out: &mut Vec<Alert>) {
        if now_ns < self.next_purge_ns {
            return;
        }
        self.next_purge_ns = now_ns + 10 * NS;
        let c = &self.config;
        self.clients.retain(|_, client| {
            client.domains.retain(|_, s| {
                s.last_ns + c.idle_ns > now_ns
                    || (s.reported_ns > 0 && s.reported_ns + c.rereport_ns > now_ns)
            });
            !client.domains.is_empty()
        });
    }

    fn finish(&mut self, _out: &mut Vec<Alert>) {
        self.clients.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flows::ip_text;
    use crate::testing::{at_ms, dns_batch, DnsFlow};

    const CLIENT: [u8; 4] = [192, 0, 2, 70];
    const RESOLVER: [u8; 4] = [192, 0, 2, 53];

    /// A deterministic base32-looking string of `n` characters.
    fn b32(seed: u64, n: usize) -> String {
        const A: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
        let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                A[(x % 32) as usize] as char
            })
            .collect()
    }

    /// `n` tunnel queries (TXT) under `domain`, one every `gap_ms` from
    /// `t_ms`, each with a response.
    fn tunnel(n: usize, domain: &str, t_ms: u64, gap_ms: u64) -> Vec<DnsFlow> {
        (0..n)
            .flat_map(|i| {
                let name = format!("{}.{}.{domain}", b32(i as u64, 45), b32(i as u64 + 7, 10));
                let t = t_ms + i as u64 * gap_ms;
                [
                    DnsFlow::query(CLIENT, RESOLVER, &name, 16, t),
                    DnsFlow::response(RESOLVER, CLIENT, &name, 16, 200, t + 30),
                ]
            })
            .collect()
    }

    fn run(d: &mut DnsTunnel, flows: &[DnsFlow]) -> Vec<Alert> {
        let b = dns_batch(flows);
        let mut out = Vec::new();
        d.observe(&Flows::new(&b).unwrap(), &mut out);
        out
    }

    fn fresh() -> DnsTunnel {
        DnsTunnel::new(Config::default())
    }

    #[test]
    fn registered_domains() {
        assert_eq!(registered_domain("a.b.t.tunnel.example"), "tunnel.example");
        assert_eq!(registered_domain("www.example.co.uk"), "example.co.uk");
        assert_eq!(registered_domain("example.co.uk"), "example.co.uk");
        assert_eq!(registered_domain("x.example.com.au"), "example.com.au");
        assert_eq!(registered_domain("www.example.de"), "example.de");
        assert_eq!(registered_domain("example.com"), "example.com");
        assert_eq!(registered_domain("localhost"), "localhost");
    }

    #[test]
    fn name_statistics() {
        let s = name_stats("abcd.ef.example.com", "example.com");
        assert_eq!(s.len, 19);
        assert_eq!(s.subdomain_len, 7);
        assert_eq!(s.max_label, 4);
        assert!((s.entropy - 6f64.log2()).abs() < 1e-9);
        assert_eq!(s.digit_ratio, 0.0);
        let s = name_stats("0123456789.x.com", "x.com");
        assert!((s.digit_ratio - 1.0).abs() < 1e-9);
        let s = name_stats("aaaa.x.com", "x.com");
        assert_eq!(s.entropy, 0.0);
    }

    #[test]
    fn a_tunnel_alerts_at_150_suspicious_after_60_s() {
        // 150 queries 0.5 s apart: 74.5 s.
        let alerts = run(&mut fresh(), &tunnel(150, "t.tunnel.example", 0, 500));
        assert_eq!(alerts.len(), 1);
        let a = &alerts[0];
        assert_eq!(a.detector, "dns_tunnel");
        assert_eq!(a.category, vec!["Anomaly.Connection"]);
        assert_eq!(ip_text(a.sources[0].ip), "192.0.2.70");
        assert_eq!(ip_text(a.targets[0].ip), "192.0.2.53");
        assert_eq!(a.targets[0].ports, vec![53]);
        assert!(
            a.description
                .starts_with("DNS tunnel under tunnel.example: 150 suspicious of 150"),
            "{}",
            a.description
        );
        assert!(a.description.contains("100 % TXT"), "{}", a.description);
        assert_eq!(a.event_time_ns, at_ms(0));
        // 149 do not.
        assert!(run(&mut fresh(), &tunnel(149, "t.tunnel.example", 0, 500)).is_empty());
    }

    #[test]
    fn a_short_session_waits_for_60_s_unless_it_is_a_burst() {
        let mut d = fresh();
        // 200 queries in 20 s: not yet.
        assert!(run(&mut d, &tunnel(200, "tunnel.example", 0, 100)).is_empty());
        // One more at 60 s: the session lasted 60 s.
        let more = tunnel(201, "tunnel.example", 0, 300);
        assert_eq!(run(&mut d, &more[400..]).len(), 1);
        // 1000 in 10 s alert at once.
        let alerts = run(&mut fresh(), &tunnel(1000, "tunnel.example", 0, 10));
        assert_eq!(alerts.len(), 1);
        assert!(alerts[0].description.contains(": 1000 suspicious"));
        assert!(run(&mut fresh(), &tunnel(999, "tunnel.example", 0, 10)).is_empty());
    }

    #[test]
    fn repeated_subdomains_are_not_a_tunnel() {
        // The same 20 long names over and over: 10 % unique.
        let flows: Vec<DnsFlow> = tunnel(20, "tunnel.example", 0, 500)
            .into_iter()
            .cycle()
            .take(400)
            .enumerate()
            .map(|(i, mut f)| {
                f.t_ms = i as u64 * 500;
                f
            })
            .collect();
        assert!(run(&mut fresh(), &flows).is_empty());
        // Queries 135..170 repeat earlier names: 135 of 150 (0.9, not
        // above it) and fewer later.
        let mut flows = tunnel(170, "tunnel.example", 0, 500);
        let names: Vec<_> = flows[..70].iter().map(|f| f.qname.clone()).collect();
        for (j, f) in flows[270..].iter_mut().enumerate() {
            f.qname = names[j].clone();
        }
        assert!(run(&mut fresh(), &flows).is_empty());
    }

    #[test]
    fn benign_dns_does_not_alert() {
        // Many short names under a few domains, many clients' worth.
        let words = [
            "www", "mail", "api", "cdn", "static", "login", "img", "news",
        ];
        let domains = ["example.com", "example.org", "example.co.uk"];
        let flows: Vec<DnsFlow> = (0..2000)
            .map(|i| {
                let name = format!(
                    "{}{}.{}",
                    words[i % words.len()],
                    i % 7,
                    domains[i % domains.len()]
                );
                DnsFlow::query(CLIENT, RESOLVER, &name, 1, i as u64 * 50)
            })
            .collect();
        let mut d = fresh();
        assert!(run(&mut d, &flows).is_empty());
        assert!(d.is_empty(), "no session opened by benign names");
        // Long but readable names (low entropy) are not suspicious either.
        let flows: Vec<DnsFlow> = (0..400)
            .map(|i| {
                let name = format!("aaaabbbbccccddddeeeeaaaabbbbccccdddd{i}.example.com");
                DnsFlow::query(CLIENT, RESOLVER, &name, 1, i as u64 * 500)
            })
            .collect();
        assert!(run(&mut d, &flows).is_empty());
        assert!(d.is_empty());
        // Reverse lookups are skipped.
        let flows: Vec<DnsFlow> = (0..400u64)
            .map(|i| {
                let name = format!(
                    "{:x}.{:x}.{}.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
                    i % 16,
                    i / 16 % 16,
                    b32(i, 1)
                );
                DnsFlow::query(CLIENT, RESOLVER, &name, 12, i * 200)
            })
            .collect();
        assert!(run(&mut d, &flows).is_empty());
        assert!(d.is_empty());
    }

    #[test]
    fn thresholds_of_a_single_query() {
        let d = fresh();
        let long = NameStats {
            len: 60,
            subdomain_len: 30,
            max_label: 16,
            entropy: 3.5,
            digit_ratio: 0.0,
        };
        assert!(d.is_suspicious(&long, 70));
        assert!(!d.is_suspicious(&long, 69));
        assert!(!d.is_suspicious(
            &NameStats {
                subdomain_len: 29,
                ..long
            },
            70
        ));
        assert!(!d.is_suspicious(
            &NameStats {
                max_label: 15,
                ..long
            },
            70
        ));
        assert!(!d.is_suspicious(
            &NameStats {
                entropy: 3.4,
                ..long
            },
            70
        ));
        assert!(d.is_suspicious(
            &NameStats {
                entropy: 3.0,
                digit_ratio: 0.3,
                ..long
            },
            70
        ));
    }

    #[test]
    fn request_size_comes_from_the_flow_bytes() {
        // Flows smaller than their question: the question's size (89) counts.
        let mut flows = tunnel(150, "tunnel.example", 0, 500);
        for f in flows.iter_mut() {
            f.bytes = 20;
        }
        assert_eq!(run(&mut fresh(), &flows).len(), 1);
        // A tighter band rejects them.
        let mut d = DnsTunnel::new(Config {
            min_request_len: 120,
            ..Config::default()
        });
        assert!(run(&mut d, &flows).is_empty());
        for f in flows.iter_mut() {
            f.bytes = 28 + 130;
        }
        let mut d = DnsTunnel::new(Config {
            min_request_len: 120,
            ..Config::default()
        });
        assert_eq!(run(&mut d, &flows).len(), 1);
    }

    #[test]
    fn clients_and_domains_are_apart_and_capped() {
        // 100 tunnel queries under each of two domains: neither has 150.
        let mut flows = tunnel(100, "one.example", 0, 500);
        flows.extend(tunnel(100, "two.example", 50_000, 500));
        let mut d = fresh();
        assert!(run(&mut d, &flows).is_empty());
        assert_eq!(d.len(), 2);
        // 40 domains with one query each: capped at 32 sessions.
        let flows: Vec<DnsFlow> = (0..40)
            .flat_map(|k| tunnel(1, &format!("d{k}.example"), k * 1000, 1))
            .collect();
        let mut d = fresh();
        run(&mut d, &flows);
        assert_eq!(d.len(), 32);
    }

    #[test]
    fn re_reported_after_an_hour_and_purged_when_idle() {
        let mut d = fresh();
        assert_eq!(run(&mut d, &tunnel(150, "tunnel.example", 0, 500)).len(), 1);
        // Continuing within the hour: silent.
        assert!(run(&mut d, &tunnel(600, "tunnel.example", 80_000, 500)).is_empty());
        let mut out = Vec::new();
        // Idle, but kept until the re-report time.
        d.tick(at_ms(1_000_000), &mut out);
        assert_eq!(d.len(), 1);
        d.tick(at_ms(3_700_000), &mut out);
        assert!(d.is_empty());
        assert!(out.is_empty());
        // A new session alerts again.
        assert_eq!(
            run(&mut d, &tunnel(150, "tunnel.example", 3_800_000, 500)).len(),
            1
        );
    }

    #[test]
    fn a_session_starts_over_after_its_window() {
        // 149 suspicious in the first 300 s, then 10 more: a new session.
        let mut flows = tunnel(149, "tunnel.example", 0, 2000);
        flows.extend(tunnel(10, "tunnel.example", 301_000, 500));
        assert!(run(&mut fresh(), &flows).is_empty());
    }
}
