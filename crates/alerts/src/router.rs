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

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::config::{Cidr, Config, Email, Url};
use crate::deliver;
use crate::store::{AlertRow, AlertStore, Merge};

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
    /// Deliveries that failed (logged to stderr).
    pub failed: u64,
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
}

impl Stats {
    pub fn get(&self, kind: Kind) -> KindStats {
        self.kinds[kind as usize]
    }

    /// `"store":{"delivered":N,"aggregated":N,"failed":N},...,"unrouted":N,"duplicate":N`
    pub fn to_json(&self) -> String {
        let mut s = String::new();
        for k in Kind::ALL {
            let v = self.get(k);
            s.push_str(&format!(
                "\"{}\":{{\"delivered\":{},\"aggregated\":{},\"failed\":{}}},",
                k.name(),
                v.delivered,
                v.aggregated,
                v.failed
            ));
        }
        s.push_str(&format!(
            "\"unrouted\":{},\"duplicate\":{}",
            self.unrouted, self.duplicate
        ));
        s
    }
}

/// What became of one alert.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Sent to its destinations (some may have failed: see the stats).
    Delivered,
    /// Merged into the first alert of its attack.
    Aggregated,
    /// No route matched.
    Unrouted,
}

enum Dest {
    Store(PathBuf, AlertStore),
    File(PathBuf, File),
    Webhook(String, Url),
    Email(Email),
}

impl Dest {
    fn kind(&self) -> Kind {
        match self {
            Dest::Store(..) => Kind::Store,
            Dest::File(..) => Kind::File,
            Dest::Webhook(..) => Kind::Webhook,
            Dest::Email(..) => Kind::Email,
        }
    }

    fn name(&self) -> String {
        match self {
            Dest::Store(p, _) | Dest::File(p, _) => p.display().to_string(),
            Dest::Webhook(u, _) => u.clone(),
            Dest::Email(e) => format!(
                "smtp {} from {} to {} subject {:?}",
                e.smtp,
                e.from,
                e.to.join(","),
                e.subject
            ),
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
    timeout: Duration,
    open: HashMap<Key, Open>,
    latest: i64,
    routed: u64,
    pub stats: Stats,
}

impl Router {
    /// Opens every destination of `config` (stores are created, files
    /// opened for appending).
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
                want.push((Kind::Email, Dest::Email(e.clone()).name()));
            }
            for (kind, name) in want {
                if let Some(i) = dests
                    .iter()
                    .position(|d| d.kind() == kind && d.name() == name)
                {
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
                    Kind::Webhook => Dest::Webhook(name.clone(), Url::parse(&name)?),
                    Kind::Email => match &r.to.email {
                        Some(e) => Dest::Email(e.clone()),
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
        Ok(Router {
            routes,
            dests,
            window_ns: i64::try_from(config.aggregate)
                .unwrap_or(i64::MAX / 1_000_000_000)
                .saturating_mul(1_000_000_000),
            timeout: Duration::try_from_secs_f64(config.timeout)
                .ok()
                .filter(|t| !t.is_zero())
                .unwrap_or(Duration::from_secs(5)),
            open: HashMap::new(),
            latest: i64::MIN,
            routed: 0,
            stats: Stats::default(),
        })
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
        let timeout = self.timeout;
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
            Dest::Webhook(_, url) => deliver::webhook(url, &row.idea, timeout),
            Dest::Email(e) => deliver::email(e, row, timeout),
        };
        match r {
            Ok(()) => self.stats.kinds[kind as usize].delivered += 1,
            Err(e) => self.fail(i, &e),
        }
    }
}
