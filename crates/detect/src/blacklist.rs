//! Blacklists (NEMEA's blacklistfilter): flows to or from listed IP
//! addresses and networks, DNS queries, HTTP hosts and TLS SNIs naming a
//! listed domain (or any of its subdomains), and HTTP requests whose
//! `host + url` starts with a listed URL.
//!
//! Each [`List`] has a name, an IDEA category and a kind. Usual categories:
//! - `Intrusion.Botnet`: botnet command and control servers;
//! - `Suspicious.Miner`: crypto-mining pools (a host talking to one mines);
//! - `Availability.DDoS`: booter / stresser (DDoS-for-hire) domains, whose
//!   customers order attacks there;
//! - `Anomaly.Traffic` or `Other` for generic reputation lists such as
//!   Spamhaus DROP (or `Abusive.Spam` for spam sources).
//!
//! List files ([`List::load`], [`List::parse`]) hold one entry per line;
//! `#` or `;` at the start of a line or after a blank starts a comment
//! (Spamhaus DROP's `1.2.3.0/24 ; SBL123`); of a CSV line the first column
//! is taken (quotes stripped; a header row is skipped as it does not parse);
//! a hosts-file line (`0.0.0.0 evil.com`) gives its name. IP lists take
//! IPv4 and IPv6 addresses and CIDR prefixes; domain lists names (a leading
//! `*.` or `.` and a trailing dot are dropped, case is ignored); URL lists
//! `host/path` prefixes (a leading `http://` or `https://` is dropped).
//!
//! Matching: an IP entry matches the flow's source or destination address,
//! except on DNS flows (port 53, as NEMEA: resolvers talk to everything);
//! sorted ranges and a binary search, no allocation. A domain entry
//! `evil.com` matches `evil.com` and `a.b.evil.com` (each label suffix of
//! the name is looked up in a hash map). A URL entry matches when the
//! request's host equals the entry's host and its URL starts with the
//! entry's path.
//!
//! Alerts: the Source is the local host talking to the listed side (for
//! DNS the client, for HTTP and TLS the client), the Target the listed side
//! (for DNS the resolver the question went to, the domain being named in
//! the description). One alert per (list entry, local host) when it first
//! matches; further matches within the aggregation interval (60 s of record
//! time) are counted and reported with the next alert after the interval
//! (or on tick once the interval passed, or at the end of input).
//! [`Blacklist::reload_if_changed`] re-reads list files whose modification
//! time changed; `tick` calls it every `reload_check_ns` of record time.

use std::hash::Hash;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::{Alert, Detector, Endpoint, Flows, Map, NS};

/// What a list's entries are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// IPv4/IPv6 addresses and CIDR prefixes.
    Ip,
    /// Domain names, matched with their subdomains.
    Domain,
    /// `host/path` prefixes of HTTP requests.
    Url,
}

/// One blacklist.
#[derive(Clone, Debug)]
pub struct List {
    /// Shown in alert descriptions (`spamhaus-drop`, `booters`, ...).
    pub name: String,
    /// The IDEA category of its alerts (`Intrusion.Botnet`, ...).
    pub category: String,
    pub kind: Kind,
    /// The entries as in the file (comments and other columns removed).
    pub entries: Vec<String>,
    /// The file it was loaded from, for [`Blacklist::reload_if_changed`].
    pub path: Option<PathBuf>,
    /// The file's modification time when loaded.
    pub mtime: Option<SystemTime>,
}

impl List {
    /// A list from entries in memory (not reloaded).
    pub fn new(name: &str, category: &str, kind: Kind, entries: Vec<String>) -> List {
        List {
            name: name.to_string(),
            category: category.to_string(),
            kind,
            entries,
            path: None,
            mtime: None,
        }
    }

    /// Reads a list file in one of the formats of the module docs.
    pub fn load(
        path: impl AsRef<Path>,
        kind: Kind,
        name: &str,
        category: &str,
    ) -> Result<List, String> {
        let path = path.as_ref();
        crate::alert::idea_category(category).map_err(|e| format!("{}: {e}", path.display()))?;
        let (entries, mtime) = read_list(path, kind)?;
        Ok(List {
            name: name.to_string(),
            category: category.to_string(),
            kind,
            entries,
            path: Some(path.to_path_buf()),
            mtime,
        })
    }

    /// The entries of a list file's text: comments, blank lines, CSV
    /// columns after the first and entries that do not parse as `kind`
    /// are dropped.
    pub fn parse(text: &str, kind: Kind) -> Vec<String> {
        text.lines()
            .filter_map(|line| parse_line(line, kind))
            .collect()
    }
}

fn read_list(path: &Path, kind: Kind) -> Result<(Vec<String>, Option<SystemTime>), String> {
    let mtime = std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let text = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((List::parse(&String::from_utf8_lossy(&text), kind), mtime))
}

/// One line's entry, if any.
fn parse_line(line: &str, kind: Kind) -> Option<String> {
    // A comment starts at `#` or `;` at the start or after a blank.
    let mut end = line.len();
    let b = line.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        if (c == b'#' || c == b';') && (i == 0 || b[i - 1].is_ascii_whitespace()) {
            end = i;
            break;
        }
    }
    let line = line[..end].trim();
    // CSV: the first column.
    let field = line.split(',').next()?.trim().trim_matches('"').trim();
    let mut tokens = field.split_whitespace();
    let first = tokens.next()?;
    let token = match (kind, tokens.next()) {
        // hosts file: `0.0.0.0 evil.com`
        (Kind::Domain, Some(second)) if first.parse::<IpAddr>().is_ok() => second,
        _ => first,
    };
    let entry = match kind {
        Kind::Ip => {
            parse_net(token)?;
            token.to_string()
        }
        Kind::Domain => {
            let d = normalize_domain(token);
            if !d.contains('.') || d.contains('/') || d.starts_with('.') {
                return None;
            }
            d
        }
        Kind::Url => {
            let (host, path) = split_url(token);
            if !host.contains('.') {
                return None;
            }
            format!("{host}{path}")
        }
    };
    Some(entry)
}

fn normalize_domain(s: &str) -> String {
    let s = s.trim_end_matches('.');
    let s = s.strip_prefix("*.").unwrap_or(s);
    let s = s.strip_prefix('.').unwrap_or(s);
    s.to_ascii_lowercase()
}

/// `(lowercase host, path)` of a URL entry, scheme dropped.
fn split_url(s: &str) -> (String, &str) {
    let lower_start = s.get(..8).map(str::to_ascii_lowercase).unwrap_or_default();
    let s = if lower_start.starts_with("http://") {
        &s[7..]
    } else if lower_start.starts_with("https://") {
        &s[8..]
    } else {
        s
    };
    let (host, path) = match s.find('/') {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, ""),
    };
    (host.trim_end_matches('.').to_ascii_lowercase(), path)
}

/// An address or CIDR prefix as an inclusive range of 16-byte (IPv4
/// mapped) addresses.
fn parse_net(s: &str) -> Option<(u128, u128)> {
    let (addr, len) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l.parse::<u32>().ok()?)),
        None => (s, None),
    };
    let (ip, len) = match addr.parse::<IpAddr>().ok()? {
        IpAddr::V4(v4) => {
            let len = len.unwrap_or(32);
            if len > 32 {
                return None;
            }
            (v4.to_ipv6_mapped(), 96 + len)
        }
        IpAddr::V6(v6) => {
            let len = len.unwrap_or(128);
            if len > 128 {
                return None;
            }
            (v6, len)
        }
    };
    let host = if len == 128 { 0 } else { u128::MAX >> len };
    let lo = u128::from(ip) & !host;
    Some((lo, lo | host))
}

/// Sorted ranges; `max_hi[i]` is the largest `hi` of ranges `..=i`, so a
/// lookup walks back from the binary search point only over ranges that
/// may still contain the address (nested prefixes).
#[derive(Default)]
struct IpIndex {
    lo: Vec<u128>,
    hi: Vec<u128>,
    max_hi: Vec<u128>,
    entry: Vec<u32>,
}

impl IpIndex {
    fn build(entries: &[String]) -> IpIndex {
        let mut ranges: Vec<(u128, u128, u32)> = entries
            .iter()
            .enumerate()
            .filter_map(|(i, e)| parse_net(e).map(|(lo, hi)| (lo, hi, i as u32)))
            .collect();
        ranges.sort_unstable();
        let mut x = IpIndex::default();
        let mut max = 0;
        for (lo, hi, e) in ranges {
            max = max.max(hi);
            x.lo.push(lo);
            x.hi.push(hi);
            x.max_hi.push(max);
            x.entry.push(e);
        }
        x
    }

    /// The entry of the most specific (largest start) range holding `a`.
    #[inline]
    fn lookup(&self, a: u128) -> Option<u32> {
        let mut j = self.lo.partition_point(|&lo| lo <= a);
        while j > 0 {
            j -= 1;
            if self.max_hi[j] < a {
                return None;
            }
            if self.hi[j] >= a {
                return Some(self.entry[j]);
            }
        }
        None
    }
}

enum Index {
    Ip(IpIndex),
    Domain(Map<Box<str>, u32>),
    /// host → (path prefix, entry).
    Url(Map<Box<str>, Vec<(Box<str>, u32)>>),
}

impl Index {
    fn build(kind: Kind, entries: &[String]) -> Index {
        match kind {
            Kind::Ip => Index::Ip(IpIndex::build(entries)),
            Kind::Domain => {
                let mut m = Map::default();
                for (i, e) in entries.iter().enumerate() {
                    m.entry(normalize_domain(e).into_boxed_str())
                        .or_insert(i as u32);
                }
                Index::Domain(m)
            }
            Kind::Url => {
                let mut m: Map<Box<str>, Vec<(Box<str>, u32)>> = Map::default();
                for (i, e) in entries.iter().enumerate() {
                    let (host, path) = split_url(e);
                    m.entry(host.into_boxed_str())
                        .or_default()
                        .push((path.into(), i as u32));
                }
                Index::Url(m)
            }
        }
    }
}

/// `name` (lowercase, no trailing dot) or one of its parent domains in the map.
#[inline]
fn lookup_domain(m: &Map<Box<str>, u32>, name: &str) -> Option<u32> {
    let mut s = name;
    loop {
        if let Some(&e) = m.get(s) {
            return Some(e);
        }
        s = &s[s.find('.')? + 1..];
    }
}

/// `s` lowercased without a trailing dot, borrowed when it already is.
#[inline]
fn normalized<'b>(s: &'b str, buf: &'b mut String) -> &'b str {
    let s = s.strip_suffix('.').unwrap_or(s);
    if s.bytes().any(|c| c.is_ascii_uppercase()) {
        buf.clear();
        buf.push_str(s);
        buf.make_ascii_lowercase();
        buf.as_str()
    } else {
        s
    }
}

/// IDEA categories are `&'static str` in alerts: list categories are
/// interned once (a handful of distinct strings for the process).
pub(crate) fn intern(s: &str) -> &'static str {
    const KNOWN: &[&str] = &[
        "Intrusion.Botnet",
        "Suspicious.Miner",
        "Availability.DDoS",
        "Availability.DoS",
        "Anomaly.Traffic",
        "Abusive.Spam",
        "Malware.Trojan",
        "Fraud.Phishing",
        "Attempt.Exploit",
        "Attempt.Login",
        "Recon.Scanning",
        "Other",
    ];
    if let Some(k) = KNOWN.iter().find(|k| **k == s) {
        return k;
    }
    static SEEN: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());
    let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(k) = seen.iter().find(|k| **k == s) {
        return k;
    }
    let k: &'static str = Box::leak(s.to_string().into_boxed_str());
    seen.push(k);
    k
}

/// The protocol name of an IP protocol number, for alert endpoints.
pub(crate) fn proto_name(p: u8) -> &'static str {
    match p {
        1 => "icmp",
        6 => "tcp",
        17 => "udp",
        58 => "ipv6-icmp",
        132 => "sctp",
        _ => "",
    }
}

// ---------------------------------------------------------------------
// Aggregation of repeated matches (shared with l7filter).

/// One matching flow.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Hit {
    pub first_ns: u64,
    pub last_ns: u64,
    pub packets: u64,
    pub bytes: u64,
    pub target: Option<[u8; 16]>,
    /// 0: none.
    pub port: u16,
    pub proto: u8,
}

impl Hit {
    pub(crate) fn of(f: &Flows<'_>, i: usize, target: Option<[u8; 16]>, port: u16) -> Hit {
        Hit {
            first_ns: f.first[i].max(0) as u64,
            last_ns: f.last[i].max(0) as u64,
            packets: f.packets[i],
            bytes: f.bytes[i],
            target,
            port,
            proto: f.proto[i],
        }
    }
}

/// What is due for one key: the matches since the last report.
#[derive(Clone, Debug, Default)]
pub(crate) struct Report {
    pub first_ns: u64,
    pub last_ns: u64,
    /// When the detector decided (the newest flow's end, or the tick).
    pub detect_ns: u64,
    pub flows: u64,
    pub packets: u64,
    pub bytes: u64,
    pub targets: Vec<[u8; 16]>,
    pub ports: Vec<u16>,
    pub proto: Vec<&'static str>,
}

impl Report {
    fn add(&mut self, h: &Hit) {
        if self.flows == 0 {
            self.first_ns = h.first_ns;
            self.last_ns = h.last_ns;
        }
        self.first_ns = self.first_ns.min(h.first_ns);
        self.last_ns = self.last_ns.max(h.last_ns);
        self.flows += 1;
        self.packets += h.packets;
        self.bytes += h.bytes;
        const MAX: usize = 16;
        if let Some(t) = h.target {
            if self.targets.len() < MAX && !self.targets.contains(&t) {
                self.targets.push(t);
            }
        }
        if h.port != 0 && self.ports.len() < MAX && !self.ports.contains(&h.port) {
            self.ports.push(h.port);
        }
        let p = proto_name(h.proto);
        if !p.is_empty() && !self.proto.contains(&p) {
            self.proto.push(p);
        }
    }

    /// Source and target endpoints: `source` with the protocols, each
    /// target with the ports.
    pub(crate) fn endpoints(&self, source: [u8; 16]) -> (Vec<Endpoint>, Vec<Endpoint>) {
        let mut ports = self.ports.clone();
        ports.sort_unstable();
        let sources = vec![Endpoint {
            ip: source,
            ports: Vec::new(),
            proto: self.proto.clone(),
        }];
        let targets = self
            .targets
            .iter()
            .map(|&ip| Endpoint {
                ip,
                ports: ports.clone(),
                proto: self.proto.clone(),
            })
            .collect();
        (sources, targets)
    }
}

struct Slot {
    last_alert_ns: u64,
    pending: Report,
}

/// One alert per key at its first match; later matches within
/// `interval_ns` of the last alert are counted and reported with the next
/// alert after the interval (a match, a tick or the end).
pub(crate) struct Aggregator<K> {
    map: Map<K, Slot>,
    pub interval_ns: u64,
}

impl<K: Hash + Eq + Copy> Aggregator<K> {
    pub(crate) fn new(interval_ns: u64) -> Aggregator<K> {
        Aggregator {
            map: Map::default(),
            interval_ns,
        }
    }

    /// Counts a match; the report when an alert is due now.
    pub(crate) fn hit(&mut self, key: K, h: &Hit) -> Option<Report> {
        let interval = self.interval_ns;
        let mut fresh = false;
        let slot = self.map.entry(key).or_insert_with(|| {
            fresh = true;
            Slot {
                last_alert_ns: 0,
                pending: Report::default(),
            }
        });
        slot.pending.add(h);
        if fresh || h.last_ns >= slot.last_alert_ns.saturating_add(interval) {
            slot.last_alert_ns = h.last_ns;
            let mut r = std::mem::take(&mut slot.pending);
            r.detect_ns = h.last_ns;
            Some(r)
        } else {
            None
        }
    }

    /// Reports pending counts whose interval passed; forgets keys with
    /// nothing pending whose interval passed.
    pub(crate) fn due(&mut self, now_ns: u64, out: &mut Vec<(K, Report)>) {
        let interval = self.interval_ns;
        self.map.retain(|k, s| {
            if now_ns < s.last_alert_ns.saturating_add(interval) {
                return true;
            }
            if s.pending.flows == 0 {
                return false;
            }
            let mut r = std::mem::take(&mut s.pending);
            r.detect_ns = now_ns.max(r.last_ns);
            s.last_alert_ns = r.detect_ns;
            out.push((*k, r));
            true
        });
    }

    /// Every pending report (end of input).
    pub(crate) fn drain(&mut self, out: &mut Vec<(K, Report)>) {
        for (k, mut s) in self.map.drain() {
            if s.pending.flows > 0 {
                s.pending.detect_ns = s.pending.last_ns;
                out.push((k, s.pending));
            }
        }
    }

    /// Keeps only keys for which `f` gives a (possibly new) key.
    pub(crate) fn remap(&mut self, mut f: impl FnMut(&K) -> Option<K>) {
        let old = std::mem::take(&mut self.map);
        for (k, s) in old {
            if let Some(k) = f(&k) {
                self.map.insert(k, s);
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}

// ---------------------------------------------------------------------

#[derive(Clone, Copy, Debug, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Matches of one (list entry, host) within this much record time of
    /// its last alert are counted, not alerted (60 s).
    #[serde(rename = "aggregation_secs", with = "crate::config::secs")]
    pub aggregation_ns: u64,
    /// How often `tick` checks list files for changes, in record time
    /// (10 s; 0: never, the caller uses [`Blacklist::reload_if_changed`]).
    #[serde(rename = "reload_check_secs", with = "crate::config::secs")]
    pub reload_check_ns: u64,
    /// Skip IP matching on DNS flows (port 53), as NEMEA does (true).
    pub skip_dns_for_ip: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            aggregation_ns: 60 * NS,
            reload_check_ns: 10 * NS,
            skip_dns_for_ip: true,
        }
    }
}

struct Loaded {
    list: List,
    category: &'static str,
    index: Index,
}

/// Key of an aggregate: (list, entry, local host).
type Key = (u32, u32, [u8; 16]);

pub struct Blacklist {
    config: Config,
    lists: Vec<Loaded>,
    agg: Aggregator<Key>,
    buf: String,
    next_reload_ns: u64,
    due: Vec<(Key, Report)>,
    /// Errors of the last reload (a file gone or unreadable: the list
    /// keeps its previous entries).
    pub reload_errors: Vec<String>,
}

const DNS: u16 = 53;

impl Blacklist {
    pub fn new(lists: Vec<List>) -> Blacklist {
        Blacklist::with_config(lists, Config::default())
    }

    pub fn with_config(lists: Vec<List>, config: Config) -> Blacklist {
        let lists = lists
            .into_iter()
            .map(|list| Loaded {
                category: intern(&list.category),
                index: Index::build(list.kind, &list.entries),
                list,
            })
            .collect();
        Blacklist {
            agg: Aggregator::new(config.aggregation_ns),
            config,
            lists,
            buf: String::new(),
            next_reload_ns: 0,
            due: Vec::new(),
            reload_errors: Vec::new(),
        }
    }

    /// The lists, as loaded.
    pub fn lists(&self) -> impl Iterator<Item = &List> {
        self.lists.iter().map(|l| &l.list)
    }

    /// Re-reads list files whose modification time changed; returns how
    /// many lists were reloaded. A file that cannot be read keeps its
    /// list's entries (the error is in `reload_errors`). Aggregates of
    /// entries still listed carry over.
    pub fn reload_if_changed(&mut self) -> usize {
        self.reload_errors.clear();
        let mut reloaded = 0;
        for li in 0..self.lists.len() {
            let l = &mut self.lists[li];
            let Some(path) = l.list.path.clone() else {
                continue;
            };
            let mtime = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
            if mtime.is_some() && mtime == l.list.mtime {
                continue;
            }
            match read_list(&path, l.list.kind) {
                Ok((entries, mtime)) => {
                    let old = std::mem::replace(&mut l.list.entries, entries);
                    l.list.mtime = mtime;
                    l.index = Index::build(l.list.kind, &l.list.entries);
                    let new_pos: Map<&str, u32> = l
                        .list
                        .entries
                        .iter()
                        .enumerate()
                        .map(|(i, e)| (e.as_str(), i as u32))
                        .collect();
                    let li = li as u32;
                    self.agg.remap(|&(k_list, k_entry, host)| {
                        if k_list != li {
                            return Some((k_list, k_entry, host));
                        }
                        let text = old.get(k_entry as usize)?;
                        new_pos.get(text.as_str()).map(|&e| (k_list, e, host))
                    });
                    reloaded += 1;
                }
                Err(e) => {
                    if l.list.mtime.is_some() {
                        self.reload_errors.push(e);
                    }
                }
            }
        }
        reloaded
    }

    fn alert(&self, key: Key, r: &Report, out: &mut Vec<Alert>) {
        let (li, entry, host) = key;
        let Some(l) = self.lists.get(li as usize) else {
            return;
        };
        let entry = l
            .list
            .entries
            .get(entry as usize)
            .map_or("?", String::as_str);
        let what = match l.list.kind {
            Kind::Ip => "address",
            Kind::Domain => "domain",
            Kind::Url => "URL",
        };
        let (sources, targets) = r.endpoints(host);
        out.push(Alert {
            detector: "blacklist",
            category: vec![l.category],
            description: format!(
                "Communication with blacklisted {what} {entry} (list {}, {} flow{})",
                l.list.name,
                r.flows,
                if r.flows == 1 { "" } else { "s" }
            ),
            detect_time_ns: r.detect_ns,
            event_time_ns: r.first_ns,
            cease_time_ns: r.last_ns,
            sources,
            targets,
            flows: r.flows,
            packets: r.packets,
            bytes: r.bytes,
        });
    }

    fn hit(&mut self, key: Key, h: &Hit, out: &mut Vec<Alert>) {
        if let Some(r) = self.agg.hit(key, h) {
            self.alert(key, &r, out);
        }
    }

    /// Number of (entry, host) aggregates held.
    pub fn state_len(&self) -> usize {
        self.agg.len()
    }
}

impl Detector for Blacklist {
    fn name(&self) -> &'static str {
        "blacklist"
    }

    fn observe(&mut self, f: &Flows<'_>, out: &mut Vec<Alert>) {
        let has_ip = self.lists.iter().any(|l| matches!(l.index, Index::Ip(_)));
        let has_domain = self
            .lists
            .iter()
            .any(|l| matches!(l.index, Index::Domain(_)));
        let has_url = self.lists.iter().any(|l| matches!(l.index, Index::Url(_)));
        let (qname, host, sni, url) = if has_domain || has_url {
            (
                f.text("dns_qname"),
                f.text("http_host"),
                f.text("tls_sni"),
                f.text("http_url"),
            )
        } else {
            (None, None, None, None)
        };
        let mut buf = std::mem::take(&mut self.buf);
        for i in 0..f.len {
            let dns = f.src_port[i] == DNS || f.dst_port[i] == DNS;
            if has_ip && !(dns && self.config.skip_dns_for_ip) {
                let (src, dst) = (f.src(i), f.dst(i));
                let (s, d) = (u128::from_be_bytes(src), u128::from_be_bytes(dst));
                for li in 0..self.lists.len() {
                    let Index::Ip(x) = &self.lists[li].index else {
                        continue;
                    };
                    // The destination listed: the source talks to it.
                    if let Some(e) = x.lookup(d) {
                        let h = Hit::of(f, i, Some(dst), f.dst_port[i]);
                        self.hit((li as u32, e, src), &h, out);
                    } else if let Some(e) = x.lookup(s) {
                        let h = Hit::of(f, i, Some(src), f.src_port[i]);
                        self.hit((li as u32, e, dst), &h, out);
                    }
                }
            }
            if !(has_domain || has_url) {
                continue;
            }
            // The client: for DNS the side that is not port 53, otherwise
            // the source (HTTP requests and TLS client hellos).
            let (local, remote, rport) = if f.src_port[i] == DNS && f.dst_port[i] != DNS {
                (f.dst(i), f.src(i), f.src_port[i])
            } else {
                (f.src(i), f.dst(i), f.dst_port[i])
            };
            let h_host = Flows::text_at(host, i);
            if has_domain {
                for name in [Flows::text_at(qname, i), h_host, Flows::text_at(sni, i)]
                    .into_iter()
                    .flatten()
                {
                    let name = normalized(strip_port(name), &mut buf);
                    if name.is_empty() {
                        continue;
                    }
                    for li in 0..self.lists.len() {
                        let Index::Domain(m) = &self.lists[li].index else {
                            continue;
                        };
                        if let Some(e) = lookup_domain(m, name) {
                            let h = Hit::of(f, i, Some(remote), rport);
                            self.hit((li as u32, e, local), &h, out);
                        }
                    }
                }
            }
            if has_url {
                let (Some(hh), Some(u)) = (h_host, Flows::text_at(url, i)) else {
                    continue;
                };
                let hn = normalized(hh, &mut buf);
                let path = url_path(u);
                for li in 0..self.lists.len() {
                    let Index::Url(m) = &self.lists[li].index else {
                        continue;
                    };
                    let mut found = None;
                    for name in [hn, strip_port(hn)] {
                        if let Some(v) = m.get(name) {
                            found = v.iter().find(|(p, _)| path.starts_with(&**p));
                            if found.is_some() {
                                break;
                            }
                        }
                    }
                    if let Some(&(_, e)) = found {
                        let h = Hit::of(f, i, Some(remote), rport);
                        self.hit((li as u32, e, local), &h, out);
                    }
                }
            }
        }
        self.buf = buf;
    }

    fn tick(&mut self, now_ns: u64, out: &mut Vec<Alert>) {
        if self.config.reload_check_ns > 0 && now_ns >= self.next_reload_ns {
            self.next_reload_ns = now_ns + self.config.reload_check_ns;
            self.reload_if_changed();
        }
        let mut due = std::mem::take(&mut self.due);
        self.agg.due(now_ns, &mut due);
        for (k, r) in due.drain(..) {
            self.alert(k, &r, out);
        }
        self.due = due;
    }

    fn finish(&mut self, out: &mut Vec<Alert>) {
        let mut due = std::mem::take(&mut self.due);
        self.agg.drain(&mut due);
        for (k, r) in due.drain(..) {
            self.alert(k, &r, out);
        }
        self.due = due;
    }
}

/// `host:port` → `host` (not for bracketed or bare IPv6).
fn strip_port(s: &str) -> &str {
    match s.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') && p.bytes().all(|c| c.is_ascii_digit()) => h,
        _ => s,
    }
}

/// The path of a request target; absolute-form (`http://host/path`) loses
/// its scheme and host.
fn url_path(u: &str) -> &str {
    let rest = if u.len() > 8 && u.as_bytes()[..4].eq_ignore_ascii_case(b"http") {
        u.split_once("://").map(|(_, r)| r)
    } else {
        None
    };
    match rest {
        Some(r) => r.find('/').map_or("/", |i| &r[i..]),
        None => u,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flows::ip_text;
    use crate::testing::{at_ms, batch, flow, flow6, l7_batch, mapped, v6, L7};

    fn run(d: &mut Blacklist, b: &arrow_array::RecordBatch) -> Vec<Alert> {
        let mut out = Vec::new();
        d.observe(&Flows::new(b).unwrap(), &mut out);
        out
    }

    fn ip_list(entries: &[&str]) -> List {
        List::new(
            "c2",
            "Intrusion.Botnet",
            Kind::Ip,
            entries.iter().map(|s| s.to_string()).collect(),
        )
    }

    fn tmpdir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("eddy-bl-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn parses_comments_csv_drop_and_hosts_formats() {
        let text = "# comment\n; another\n\n1.2.3.4\n10.0.0.0/8 ; SBL123\n\
                    2001:db8::/32 # doc\n\"192.0.2.1\",botnet,2024-01-01\nip,first_seen\n\
                    999.1.1.1\n1.2.3.0/33\n";
        assert_eq!(
            List::parse(text, Kind::Ip),
            vec!["1.2.3.4", "10.0.0.0/8", "2001:db8::/32", "192.0.2.1"]
        );
        let text = "# booters\nEvil.COM.\n0.0.0.0 ads.example.net\n*.wild.org\ndomain,added\n\
                    booter.io,2024\nlocalhost\n";
        assert_eq!(
            List::parse(text, Kind::Domain),
            vec!["evil.com", "ads.example.net", "wild.org", "booter.io"]
        );
        let text = "http://Evil.com/malware/#frag ; c\nhttps://x.org\nbad.example/a?b=1\n";
        assert_eq!(
            List::parse(text, Kind::Url),
            vec!["evil.com/malware/#frag", "x.org", "bad.example/a?b=1"]
        );
    }

    #[test]
    fn cidr_v4_matches_either_side_and_names_the_local_host() {
        let mut d = Blacklist::new(vec![ip_list(&["203.0.113.0/24", "198.51.100.7"])]);
        let b = batch(&[
            flow(
                [10, 0, 0, 1],
                [203, 0, 113, 200],
                40000,
                443,
                6,
                0x1b,
                10,
                0,
            ),
            flow([198, 51, 100, 7], [10, 0, 0, 2], 80, 40001, 6, 0x1b, 10, 0),
            flow([10, 0, 0, 3], [203, 0, 114, 1], 40000, 443, 6, 0x1b, 10, 0),
            flow([10, 0, 0, 4], [198, 51, 100, 8], 40000, 443, 6, 0x1b, 10, 0),
        ]);
        let a = run(&mut d, &b);
        assert_eq!(a.len(), 2, "{a:?}");
        assert_eq!(a[0].category, vec!["Intrusion.Botnet"]);
        assert_eq!(ip_text(a[0].sources[0].ip), "10.0.0.1");
        assert_eq!(ip_text(a[0].targets[0].ip), "203.0.113.200");
        assert_eq!(a[0].targets[0].ports, vec![443]);
        assert!(
            a[0].description.contains("203.0.113.0/24"),
            "{}",
            a[0].description
        );
        assert_eq!(ip_text(a[1].sources[0].ip), "10.0.0.2");
        assert_eq!(ip_text(a[1].targets[0].ip), "198.51.100.7");
    }

    #[test]
    fn cidr_v6_and_nested_prefixes() {
        let mut d = Blacklist::new(vec![ip_list(&[
            "2001:db8::/32",
            "2001:db8:1::/48",
            "2001:db8:ffff::1",
        ])]);
        let b = batch(&[
            flow6("2001:db8:1::5", "fd00::1", 443, 50000, 6, 0),
            flow6("fd00::2", "2001:db8:2::1", 50000, 443, 6, 0),
            flow6("fd00::3", "2001:db9::1", 50000, 443, 6, 0),
        ]);
        let a = run(&mut d, &b);
        assert_eq!(a.len(), 2, "{a:?}");
        assert_eq!(a[0].sources[0].ip, v6("fd00::1"));
        assert!(
            a[0].description.contains("2001:db8:1::/48"),
            "{}",
            a[0].description
        );
        assert_eq!(a[1].sources[0].ip, v6("fd00::2"));
        assert!(a[1].description.contains("2001:db8::/32"));
        let x = IpIndex::build(&["10.0.0.0/8".into(), "10.1.0.0/16".into(), "11.0.0.1".into()]);
        let q = |a: [u8; 4]| x.lookup(u128::from_be_bytes(mapped(a)));
        assert_eq!(q([10, 1, 2, 3]), Some(1));
        assert_eq!(q([10, 2, 0, 0]), Some(0));
        assert_eq!(q([10, 255, 255, 255]), Some(0));
        assert_eq!(q([11, 0, 0, 1]), Some(2));
        assert_eq!(q([11, 0, 0, 2]), None);
        assert_eq!(q([9, 255, 255, 255]), None);
    }

    #[test]
    fn dns_flows_are_skipped_for_ip_matching() {
        let mut d = Blacklist::new(vec![ip_list(&["8.8.8.8"])]);
        let b = batch(&[flow([10, 0, 0, 1], [8, 8, 8, 8], 40000, 53, 17, 0, 1, 0)]);
        assert!(run(&mut d, &b).is_empty());
    }

    fn domains() -> List {
        List::new(
            "booters",
            "Availability.DDoS",
            Kind::Domain,
            vec!["evil.com".into(), "stress.example.org".into()],
        )
    }

    #[test]
    fn domains_match_subdomains_case_and_trailing_dot() {
        let mut d = Blacklist::new(vec![domains()]);
        let flows = [
            flow([10, 0, 0, 1], [10, 0, 0, 53], 40000, 53, 17, 0, 1, 0),
            flow([10, 0, 0, 53], [10, 0, 0, 2], 53, 40000, 17, 0, 1, 0),
            flow([10, 0, 0, 3], [1, 1, 1, 1], 40000, 443, 6, 0x1b, 5, 0),
            flow([10, 0, 0, 4], [1, 1, 1, 2], 40000, 80, 6, 0x1b, 5, 0),
            flow([10, 0, 0, 5], [1, 1, 1, 3], 40000, 80, 6, 0x1b, 5, 0),
            flow([10, 0, 0, 6], [1, 1, 1, 4], 40000, 80, 6, 0x1b, 5, 0),
        ];
        let b = l7_batch(
            &flows,
            &[
                vec![("dns_qname", L7::Text("A.B.Evil.COM."))],
                vec![("dns_qname", L7::Text("stress.example.org"))],
                vec![("tls_sni", L7::Text("x.evil.com"))],
                vec![("http_host", L7::Text("evil.com:8080"))],
                vec![("http_host", L7::Text("notevil.com"))],
                vec![("http_host", L7::Text("example.org"))],
            ],
        );
        let a = run(&mut d, &b);
        let got: Vec<(String, String)> = a
            .iter()
            .map(|a| (ip_text(a.sources[0].ip), ip_text(a.targets[0].ip)))
            .collect();
        assert_eq!(
            got,
            vec![
                ("10.0.0.1".into(), "10.0.0.53".into()),
                ("10.0.0.2".into(), "10.0.0.53".into()),
                ("10.0.0.3".into(), "1.1.1.1".into()),
                ("10.0.0.4".into(), "1.1.1.2".into()),
            ]
        );
        assert!(a.iter().all(|a| a.category == vec!["Availability.DDoS"]));
        assert!(a[1].description.contains("stress.example.org"));
    }

    #[test]
    fn urls_match_by_prefix() {
        let list = List::new(
            "malware-urls",
            "Malware.Trojan",
            Kind::Url,
            vec!["http://bad.example/dl/".into(), "whole.example".into()],
        );
        let mut d = Blacklist::new(vec![list]);
        let flows: Vec<_> = (0..5)
            .map(|i| flow([10, 0, 0, i], [1, 1, 1, 1], 40000, 80, 6, 0x1b, 5, 0))
            .collect();
        let b = l7_batch(
            &flows,
            &[
                vec![
                    ("http_host", L7::Text("BAD.example")),
                    ("http_url", L7::Text("/dl/x.exe")),
                ],
                vec![
                    ("http_host", L7::Text("bad.example")),
                    ("http_url", L7::Text("/other")),
                ],
                vec![
                    ("http_host", L7::Text("whole.example")),
                    ("http_url", L7::Text("/")),
                ],
                vec![
                    ("http_host", L7::Text("bad.example")),
                    ("http_url", L7::Text("http://bad.example/dl/y")),
                ],
                vec![
                    ("http_host", L7::Text("sub.bad.example")),
                    ("http_url", L7::Text("/dl/x.exe")),
                ],
            ],
        );
        let a = run(&mut d, &b);
        let srcs: Vec<String> = a.iter().map(|a| ip_text(a.sources[0].ip)).collect();
        assert_eq!(srcs, vec!["10.0.0.0", "10.0.0.2", "10.0.0.3"]);
        assert_eq!(a[0].category, vec!["Malware.Trojan"]);
    }

    #[test]
    fn repeated_matches_are_aggregated() {
        let mut d = Blacklist::new(vec![ip_list(&["203.0.113.9"])]);
        let f = |t_ms| {
            flow(
                [10, 0, 0, 1],
                [203, 0, 113, 9],
                40000,
                443,
                6,
                0x1b,
                3,
                t_ms,
            )
        };
        // First match alerts; 30 more within 60 s only count.
        let mut a = run(&mut d, &batch(&[f(0)]));
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].flows, 1);
        let later: Vec<_> = (1..=30).map(|s| f(s * 1000)).collect();
        assert!(run(&mut d, &batch(&later)).is_empty());
        // A tick before the interval: nothing.
        d.tick(at_ms(50_000), &mut a);
        assert_eq!(a.len(), 1);
        // The next match after the interval carries the counts.
        let b = run(&mut d, &batch(&[f(61_000)]));
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].flows, 31);
        assert_eq!(b[0].packets, 93);
        assert_eq!(b[0].event_time_ns, at_ms(1000));
        // Pending counts are flushed on tick once the interval passed.
        assert!(run(&mut d, &batch(&[f(70_000)])).is_empty());
        let mut c = Vec::new();
        d.tick(at_ms(130_000), &mut c);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].flows, 1);
        // Nothing pending: the entry is forgotten after the interval.
        d.tick(at_ms(200_000), &mut c);
        assert_eq!(c.len(), 1);
        assert_eq!(d.state_len(), 0);
        // The end of input reports what is pending.
        assert_eq!(run(&mut d, &batch(&[f(300_000), f(301_000)])).len(), 1);
        d.finish(&mut c);
        assert_eq!(c.len(), 2);
        assert_eq!(c[1].flows, 1);
    }

    #[test]
    fn distinct_hosts_and_entries_alert_separately() {
        let mut d = Blacklist::new(vec![ip_list(&["203.0.113.9", "203.0.113.10"])]);
        let b = batch(&[
            flow([10, 0, 0, 1], [203, 0, 113, 9], 40000, 443, 6, 0x1b, 3, 0),
            flow([10, 0, 0, 2], [203, 0, 113, 9], 40000, 443, 6, 0x1b, 3, 0),
            flow([10, 0, 0, 1], [203, 0, 113, 10], 40000, 443, 6, 0x1b, 3, 0),
            flow([10, 0, 0, 1], [203, 0, 113, 9], 40001, 443, 6, 0x1b, 3, 1),
        ]);
        assert_eq!(run(&mut d, &b).len(), 3);
    }

    #[test]
    fn files_load_and_reload_when_changed() {
        let dir = tmpdir("reload");
        let ips = dir.join("drop.txt");
        std::fs::write(&ips, "; Spamhaus DROP\n203.0.113.0/24 ; SBL1\n").unwrap();
        let doms = dir.join("pools.csv");
        std::fs::write(&doms, "domain,port\npool.minexmr.example,4444\n").unwrap();
        let mut d = Blacklist::new(vec![
            List::load(&ips, Kind::Ip, "drop", "Anomaly.Traffic").unwrap(),
            List::load(&doms, Kind::Domain, "pools", "Suspicious.Miner").unwrap(),
        ]);
        assert!(List::load(dir.join("nope"), Kind::Ip, "x", "Other").is_err());
        assert_eq!(d.reload_if_changed(), 0);
        let to = |dst, t| flow([10, 0, 0, 1], dst, 40000, 443, 6, 0x1b, 3, t);
        assert_eq!(run(&mut d, &batch(&[to([203, 0, 113, 1], 0)])).len(), 1);
        assert!(run(&mut d, &batch(&[to([198, 51, 100, 1], 0)])).is_empty());
        let flows = [to([1, 2, 3, 4], 0)];
        let b = l7_batch(
            &flows,
            &[vec![("tls_sni", L7::Text("eu.pool.minexmr.example"))]],
        );
        let a = run(&mut d, &b);
        assert_eq!(a[0].category, vec!["Suspicious.Miner"]);

        // Rewrite with another mtime.
        std::fs::write(&ips, "198.51.100.0/24\n203.0.113.0/24 ; SBL1\n").unwrap();
        let f = std::fs::File::options().write(true).open(&ips).unwrap();
        f.set_modified(SystemTime::now() + std::time::Duration::from_secs(5))
            .unwrap();
        assert_eq!(d.reload_if_changed(), 1);
        assert_eq!(d.lists().next().unwrap().entries.len(), 2);
        assert_eq!(run(&mut d, &batch(&[to([198, 51, 100, 1], 1000)])).len(), 1);
        // The 203.0.113.0/24 aggregate carried over (now entry 1): counted.
        assert!(run(&mut d, &batch(&[to([203, 0, 113, 1], 2000)])).is_empty());
        // A vanished file keeps its entries.
        std::fs::remove_file(&ips).unwrap();
        d.reload_if_changed();
        assert_eq!(d.lists().next().unwrap().entries.len(), 2);
        assert_eq!(d.reload_errors.len(), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
