//! Routing alerts to destinations, with aggregation of ongoing attacks.
//!
//! Aggregation: alerts with the same (detector, category, source, target)
//! whose detect time is less than the window (`aggregate`, default 600 s)
//! after the first one's are one attack. The first is delivered to every
//! destination of the routes it matches; each later one only updates the
//! first's store row (flows added, `merged` counted, cease time moved on)
//! and is not sent to files, webhooks or email. The first alert at or after
//! the window's end is delivered again and starts a new window, so an
//! attack that goes on is reported once per window, not once per detector
//! report. Windows are measured in alert detect time (record time), so a
//! replayed capture aggregates as live traffic would.
//!
//! Delivery: the store and files are written in `route`, in order. Webhooks
//! and email are queued to a thread per destination (`crate::worker`):
//! `route` never waits for a network server; a full queue drops the alert
//! (`dropped`), a delivery that still fails after the retries is `failed`,
//! and [`Router::drain`] (at the end) gives the threads `drain` seconds to
//! send what is queued, counting the rest as `lost`.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant};

use crate::config::{Cidr, Config, Email, Url, DEFAULT_QUEUE};
use crate::store::{AlertRow, AlertStore, Merge};
use crate::worker::{Counts, Target, Worker};

/// Destination kinds, as statistics name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Store,
    File,
    Webhook,
    Email,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Store, Kind::File, Kind::Webhook, Kind::Email];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Store => "store",
            Kind::File => "file",
            Kind::Webhook => "webhook",
            Kind::Email => "email",
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KindStats {
    /// Alerts written or sent.
    pub delivered: u64,
    /// Alerts merged into an earlier one instead (store rows updated,
    /// nothing sent).
    pub aggregated: u64,
    /// Deliveries that failed (logged to stderr; for webhooks and email,
    /// after the retries).
    pub failed: u64,
    /// Webhooks and email: alerts dropped because the queue was full.
    pub dropped: u64,
    /// Webhooks and email: alerts queued or being sent.
    pub pending: u64,
    /// Webhooks and email: alerts still pending at the end's deadline.
    pub lost: u64,
}

impl KindStats {
    fn add(&mut self, c: &Counts) {
        self.delivered += c.delivered;
        self.failed += c.failed;
        self.dropped += c.dropped;
        self.pending += c.pending;
        self.lost += c.lost;
    }
}

/// One webhook or email destination's counters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DestStats {
    pub kind: Kind,
    /// The URL, or `smtp HOST:PORT to ADDRESSES`.
    pub name: String,
    pub counts: Counts,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Indexed as [`Kind::ALL`].
    pub kinds: [KindStats; 4],
    /// Alerts no route matched.
    pub unrouted: u64,
    /// Alerts a store already held or had merged (same IDEA ID: a stream
    /// reported again), per store.
    pub duplicate: u64,
    /// Each webhook and email destination (the kinds' counts are sums).
    pub destinations: Vec<DestStats>,
}

impl Stats {
    pub fn get(&self, kind: Kind) -> KindStats {
        self.kinds[kind as usize]
    }

    /// `"store":{"delivered":N,"aggregated":N,"failed":N},...,
    /// "webhook":{...,"dropped":N,"pending":N,"lost":N},...,"unrouted":N,
    /// "duplicate":N,"destinations":[{"kind":"webhook","name":"...",
    /// "delivered":N,"failed":N,"dropped":N,"pending":N,"lost":N},...]`
    pub fn to_json(&self) -> String {
        let mut s = String::new();
        for k in Kind::ALL {
            let v = self.get(k);
            s.push_str(&format!(
                "\"{}\":{{\"delivered\":{},\"aggregated\":{},\"failed\":{}",
                k.name(),
                v.delivered,
                v.aggregated,
                v.failed
            ));
            if matches!(k, Kind::Webhook | Kind::Email) {
                s.push_str(&format!(
                    ",\"dropped\":{},\"pending\":{},\"lost\":{}",
                    v.dropped, v.pending, v.lost
                ));
            }
            s.push_str("},");
        }
        s.push_str(&format!(
            "\"unrouted\":{},\"duplicate\":{},\"destinations\":[",
            self.unrouted, self.duplicate
        ));
        for (i, d) in self.destinations.iter().enumerate() {
            let c = &d.counts;
            s.push_str(&format!(
                "{}{{\"kind\":\"{}\",\"name\":{},\"delivered\":{},\"failed\":{},\"dropped\":{},\"pending\":{},\"lost\":{}}}",
                if i == 0 { "" } else { "," },
                d.kind.name(),
                json_str(&d.name),
                c.delivered,
                c.failed,
                c.dropped,
                c.pending,
                c.lost
            ));
        }
        s.push(']');
        s
    }
}

fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// What became of one alert.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Written to its stores and files, queued to its webhooks and email
    /// (some may have failed or been dropped: see the stats).
    Delivered,
    /// Merged into the first alert of its attack.
    Aggregated,
    /// No route matched.
    Unrouted,
}

/// A webhook or email destination: its worker thread and queue.
struct Net {
    kind: Kind,
    /// Until the router is built, capacity and target; then the worker.
    capacity: usize,
    target: Target,
    worker: Option<Worker>,
}

enum Dest {
    Store(PathBuf, AlertStore),
    File(PathBuf, File),
    Net(String, Net),
}

fn email_name(e: &Email) -> String {
    format!(
        "smtp {} from {} to {} subject {:?}",
        e.smtp,
        e.from,
        e.to.join(","),
        e.subject
    )
}

impl Dest {
    fn kind(&self) -> Kind {
        match self {
            Dest::Store(..) => Kind::Store,
            Dest::File(..) => Kind::File,
            Dest::Net(_, n) => n.kind,
        }
    }

    fn name(&self) -> String {
        match self {
            Dest::Store(p, _) | Dest::File(p, _) => p.display().to_string(),
            Dest::Net(name, _) => name.clone(),
        }
    }
}

struct CompiledRoute {
    categories: Vec<String>,
    detectors: Vec<String>,
    source: Vec<Cidr>,
    target: Vec<Cidr>,
    /// Indexes into `Router::dests`.
    dests: Vec<usize>,
}

fn addr_in(addr: Option<&str>, cidrs: &[Cidr]) -> bool {
    if cidrs.is_empty() {
        return true;
    }
    match addr.and_then(|a| a.parse::<IpAddr>().ok()) {
        Some(ip) => cidrs.iter().any(|c| c.contains(ip)),
        None => false,
    }
}

/// Does a category list (comma separated) have one starting with `prefix`?
/// `Recon` matches `Recon.Scanning` (as the store's query does).
pub fn category_matches(categories: &str, prefix: &str) -> bool {
    categories.split(',').any(|c| c.trim().starts_with(prefix))
}

impl CompiledRoute {
    fn matches(&self, row: &AlertRow) -> bool {
        (self.categories.is_empty()
            || self
                .categories
                .iter()
                .any(|p| category_matches(&row.category, p)))
            && (self.detectors.is_empty() || self.detectors.contains(&row.detector))
            && addr_in(row.source.as_deref(), &self.source)
            && addr_in(row.target.as_deref(), &self.target)
    }
}

/// The first alert of an attack's current window.
struct Open {
    id: String,
    start: i64,
}

type Key = (String, String, Option<String>, Option<String>);

pub struct Router {
    routes: Vec<CompiledRoute>,
    dests: Vec<Dest>,
    window_ns: i64,
    /// What [`Router::drain`] waits at most.
    drain: Duration,
    drained: bool,
    open: HashMap<Key, Open>,
    latest: i64,
    routed: u64,
    /// The counts kept here (stores, files, aggregation); the workers keep
    /// the rest ([`Router::stats`] adds them up).
    stats: Stats,
}

fn seconds(s: f64, or: Duration) -> Duration {
    Duration::try_from_secs_f64(s).unwrap_or(or)
}

impl Router {
    /// Opens every destination of `config` (stores are created, files
    /// opened for appending, a thread started per webhook and email).
    pub fn new(config: &Config) -> Result<Router, String> {
        let mut dests: Vec<Dest> = Vec::new();
        let mut routes = Vec::new();
        for r in &config.route {
            let mut ids = Vec::new();
            let mut want: Vec<(Kind, String)> = Vec::new();
            if let Some(p) = &r.to.store {
                want.push((Kind::Store, p.display().to_string()));
            }
            if let Some(p) = &r.to.file {
                want.push((Kind::File, p.display().to_string()));
            }
            if let Some(w) = &r.to.webhook {
                want.push((Kind::Webhook, w.clone()));
            }
            if let Some(e) = &r.to.email {
                want.push((Kind::Email, email_name(e)));
            }
            let capacity = r.to.queue.unwrap_or(DEFAULT_QUEUE).max(1);
            for (kind, name) in want {
                if let Some(i) = dests
                    .iter()
                    .position(|d| d.kind() == kind && d.name() == name)
                {
                    if let Dest::Net(_, n) = &mut dests[i] {
                        n.capacity = n.capacity.max(capacity);
                    }
                    ids.push(i);
                    continue;
                }
                let d = match kind {
                    Kind::Store => {
                        let p = PathBuf::from(&name);
                        let store = AlertStore::open(&p)?;
                        Dest::Store(p, store)
                    }
                    Kind::File => {
                        let p = PathBuf::from(&name);
                        let f = OpenOptions::new()
                            .create(true)
                            .append(true)
                            .open(&p)
                            .map_err(|e| format!("{}: {e}", p.display()))?;
                        Dest::File(p, f)
                    }
                    Kind::Webhook => {
                        let target = Target::Webhook(Url::parse(&name)?);
                        Dest::Net(
                            name.clone(),
                            Net {
                                kind,
                                capacity,
                                target,
                                worker: None,
                            },
                        )
                    }
                    Kind::Email => match &r.to.email {
                        Some(e) => Dest::Net(
                            name.clone(),
                            Net {
                                kind,
                                capacity,
                                target: Target::Email(e.clone()),
                                worker: None,
                            },
                        ),
                        None => continue,
                    },
                };
                dests.push(d);
                ids.push(dests.len() - 1);
            }
            ids.sort_unstable();
            ids.dedup();
            routes.push(CompiledRoute {
                categories: r.when.category.clone(),
                detectors: r.when.detector.clone(),
                source: config.cidrs(&r.when.source)?,
                target: config.cidrs(&r.when.target)?,
                dests: ids,
            });
        }
        let timeout = Duration::try_from_secs_f64(config.timeout)
            .ok()
            .filter(|t| !t.is_zero())
            .unwrap_or(Duration::from_secs(5));
        let retry: Vec<Duration> = config
            .retry
            .iter()
            .map(|s| seconds(*s, Duration::from_secs(1)))
            .collect();
        let mut router = Router {
            routes,
            dests,
            window_ns: i64::try_from(config.aggregate)
                .unwrap_or(i64::MAX / 1_000_000_000)
                .saturating_mul(1_000_000_000),
            drain: seconds(config.drain, Duration::from_secs(10)),
            drained: false,
            open: HashMap::new(),
            latest: i64::MIN,
            routed: 0,
            stats: Stats::default(),
        };
        // Started once every route is read: a destination several routes
        // name has its largest queue. (On an error the router is dropped
        // and the started threads end with their closed queues.)
        for d in &mut router.dests {
            if let Dest::Net(name, n) = d {
                n.worker = Some(Worker::spawn(
                    n.kind.name(),
                    name.clone(),
                    n.target.clone(),
                    n.capacity,
                    timeout,
                    retry.clone(),
                )?);
            }
        }
        Ok(router)
    }

    /// The counters, the workers' included.
    pub fn stats(&self) -> Stats {
        let mut s = self.stats.clone();
        for d in &self.dests {
            if let Dest::Net(name, n) = d {
                let Some(w) = &n.worker else { continue };
                let counts = w.counts();
                s.kinds[n.kind as usize].add(&counts);
                s.destinations.push(DestStats {
                    kind: n.kind,
                    name: name.clone(),
                    counts,
                });
            }
        }
        s
    }

    /// The end: closes the webhook and email queues and waits, up to the
    /// config's `drain` in all, for their threads to send what is queued;
    /// what is left then is counted (`lost`) and logged by destination.
    /// Returns the number lost. Routing afterwards still writes stores and
    /// files; webhooks and email then count it as dropped. Dropping the
    /// router drains it too.
    pub fn drain(&mut self) -> u64 {
        if self.drained {
            return 0;
        }
        self.drained = true;
        let mut workers: Vec<&mut Worker> = self
            .dests
            .iter_mut()
            .filter_map(|d| match d {
                Dest::Net(_, n) => n.worker.as_mut(),
                _ => None,
            })
            .collect();
        for w in workers.iter_mut() {
            w.close();
        }
        let deadline = Instant::now() + self.drain;
        while !workers.iter().all(|w| w.finished()) && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(5));
        }
        let mut lost = 0;
        for w in workers {
            lost += w.settle();
        }
        if lost > 0 {
            eprintln!(
                "report: {lost} alert(s) for webhooks or email lost at the end (drain = {:?})",
                self.drain
            );
        }
        lost
    }
    /// The destinations (indexes) of the routes `row` matches.
    fn destinations(&self, row: &AlertRow) -> Vec<usize> {
        let mut out: Vec<usize> = Vec::new();
        for r in &self.routes {
            if r.matches(row) {
                out.extend(&r.dests);
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Routes one alert: delivers it, or merges it into its attack's first.
    pub fn route(&mut self, row: &AlertRow) -> Outcome {
        let dests = self.destinations(row);
        if dests.is_empty() {
            self.stats.unrouted += 1;
            return Outcome::Unrouted;
        }
        self.latest = self.latest.max(row.detect_time);
        self.routed += 1;
        if self.routed % 1024 == 0 {
            let (latest, window) = (self.latest, self.window_ns);
            self.open
                .retain(|_, o| o.start.saturating_add(window) > latest);
        }
        let key: Key = (
            row.detector.clone(),
            row.category.clone(),
            row.source.clone(),
            row.target.clone(),
        );
        if let Some(open) = self.open.get(&key) {
            if row.detect_time < open.start.saturating_add(self.window_ns) {
                let id = open.id.clone();
                self.aggregate(&dests, &id, row);
                return Outcome::Aggregated;
            }
        }
        if self.window_ns > 0 {
            self.open.insert(
                key,
                Open {
                    id: row.id.clone(),
                    start: row.detect_time,
                },
            );
        }
        for i in dests {
            self.deliver(i, row);
        }
        Outcome::Delivered
    }

    fn fail(&mut self, i: usize, e: &str) {
        let d = &self.dests[i];
        eprintln!("report: {} {}: {e}", d.kind().name(), d.name());
        self.stats.kinds[d.kind() as usize].failed += 1;
    }

    fn aggregate(&mut self, dests: &[usize], first: &str, row: &AlertRow) {
        for &i in dests {
            let kind = self.dests[i].kind();
            if let Dest::Store(_, store) = &self.dests[i] {
                // The first's row may be missing (its insert failed): then
                // this alert takes its place.
                let r = match store.merge(first, row) {
                    Ok(Merge::Merged) => Ok(()),
                    Ok(Merge::Already) => {
                        self.stats.duplicate += 1;
                        continue;
                    }
                    Ok(Merge::Missing) => store.insert(row).map(|_| ()),
                    Err(e) => Err(e),
                };
                if let Err(e) = r {
                    self.fail(i, &e);
                    continue;
                }
            }
            self.stats.kinds[kind as usize].aggregated += 1;
        }
    }

    fn deliver(&mut self, i: usize, row: &AlertRow) {
        let kind = self.dests[i].kind();
        let r = match &mut self.dests[i] {
            Dest::Store(_, store) => match store.insert(row) {
                Ok(true) => Ok(()),
                Ok(false) => {
                    self.stats.duplicate += 1;
                    return;
                }
                Err(e) => Err(e),
            },
            Dest::File(_, f) => {
                let mut line = row.idea.trim_end().to_string();
                line.push('\n');
                f.write_all(line.as_bytes()).map_err(|e| e.to_string())
            }
            Dest::Net(_, n) => {
                // Counted by the worker.
                if let Some(w) = &n.worker {
                    w.enqueue(row);
                }
                return;
            }
        };
        match r {
            Ok(()) => self.stats.kinds[kind as usize].delivered += 1,
            Err(e) => self.fail(i, &e),
        }
    }
}

impl Drop for Router {
    fn drop(&mut self) {
        self.drain();
    }
}
