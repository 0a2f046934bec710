//! The routing rules of `eddy module report`, from TOML:
//!
//! ```toml
//! # Alerts of one attack (same detector, category, source, target) within
//! # this many seconds of the first are merged into it (default 600).
//! aggregate = 600
//! # Webhook and SMTP connect/read/write timeout, seconds (default 5).
//! timeout = 5
//! # Webhooks and email are sent by a thread per destination, from a
//! # bounded queue, so a slow server never holds up the report. A failed
//! # delivery is tried again after each of these waits, seconds (default
//! # [1, 5]: three attempts; [] for one), then counted as failed.
//! retry = [1, 5]
//! # At the end (end of stream, SIGTERM) the queues are closed and the
//! # threads get this many seconds in all to send what they hold; what is
//! # left then is counted as lost (default 10).
//! drain = 10
//!
//! # Named address groups, usable in match.source/target as "@name".
//! [groups]
//! internal = ["10.0.0.0/8", "192.168.0.0/16", "2001:db8::/32"]
//!
//! [[route]]
//! # Every condition given must hold; within a list any entry may match.
//! match = { category = ["Recon", "Attempt.Login"], detector = ["vportscan"],
//!           source = ["203.0.113.0/24"], target = ["@internal"] }
//! to = { store = "alerts.db", file = "alerts.jsonl",
//!        webhook = "http://127.0.0.1:8080/hook",
//!        email = { smtp = "127.0.0.1:25", from = "eddy@example.org",
//!                  to = ["csirt@example.org"],
//!                  subject = "[eddy] {category} from {source} to {target} ({detector})" },
//!        # Queue of this route's webhook and email destinations, alerts
//!        # (default 1000; a destination several routes name gets the
//!        # largest). An alert arriving when it is full is dropped and
//!        # counted (`dropped` in the stats).
//!        queue = 1000 }
//! ```
//!
//! Every route whose `match` holds gets the alert (a destination named by
//! several routes gets it once). A route without `match` takes every alert.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;

use serde::Deserialize;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Aggregation window, seconds of alert detect time.
    #[serde(default = "default_aggregate")]
    pub aggregate: u64,
    /// Network timeout of webhooks and email, seconds.
    #[serde(default = "default_timeout")]
    pub timeout: f64,
    /// Waits before the retries of a failed webhook or email delivery,
    /// seconds.
    #[serde(default = "default_retry")]
    pub retry: Vec<f64>,
    /// How long the end waits in all for queued webhook and email
    /// deliveries, seconds.
    #[serde(default = "default_drain")]
    pub drain: f64,
    #[serde(default)]
    pub groups: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub route: Vec<Route>,
}

fn default_aggregate() -> u64 {
    600
}

fn default_timeout() -> f64 {
    5.0
}

fn default_retry() -> Vec<f64> {
    vec![1.0, 5.0]
}

fn default_drain() -> f64 {
    10.0
}

/// Queue capacity of a webhook or email destination, alerts.
pub const DEFAULT_QUEUE: usize = 1000;

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    #[serde(default, rename = "match")]
    pub when: Match,
    pub to: Destinations,
}

/// Conditions; an empty list is no condition.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Match {
    /// Category prefixes (`Recon` matches `Recon.Scanning`).
    #[serde(default)]
    pub category: Vec<String>,
    /// Detector names.
    #[serde(default)]
    pub detector: Vec<String>,
    /// CIDRs, addresses or `@group` names for the alert's source.
    #[serde(default)]
    pub source: Vec<String>,
    #[serde(default)]
    pub target: Vec<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Destinations {
    /// An alert store (SQLite file).
    pub store: Option<PathBuf>,
    /// A file of IDEA JSON lines, appended.
    pub file: Option<PathBuf>,
    /// `http://host:port/path`: a POST of the IDEA JSON.
    pub webhook: Option<String>,
    pub email: Option<Email>,
    /// Queue capacity of this route's webhook and email (default
    /// [`DEFAULT_QUEUE`]).
    pub queue: Option<usize>,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Email {
    /// `host:port` of the SMTP server (plain, no TLS or auth).
    pub smtp: String,
    pub from: String,
    pub to: Vec<String>,
    /// With `{category}`, `{source}`, `{target}`, `{detector}`, `{description}`.
    #[serde(default = "default_subject")]
    pub subject: String,
}

fn default_subject() -> String {
    "[eddy] {category}: {source} -> {target} ({detector})".into()
}

impl Default for Config {
    /// Everything to the store `./alerts.db`.
    fn default() -> Config {
        Config::store_only(PathBuf::from("alerts.db"))
    }
}

impl Config {
    /// One route: every alert to the store at `db`.
    pub fn store_only(db: PathBuf) -> Config {
        Config {
            aggregate: default_aggregate(),
            timeout: default_timeout(),
            retry: default_retry(),
            drain: default_drain(),
            groups: BTreeMap::new(),
            route: vec![Route {
                when: Match::default(),
                to: Destinations {
                    store: Some(db),
                    ..Destinations::default()
                },
            }],
        }
    }

    /// Parses TOML; unknown keys and bad values are errors naming them.
    pub fn parse(text: &str) -> Result<Config, String> {
        let config: Config = toml::from_str(text).map_err(|e| e.to_string())?;
        if config.route.is_empty() {
            return Err("no [[route]]: alerts would go nowhere".into());
        }
        if !(config.timeout > 0.0 && config.timeout.is_finite()) {
            return Err(format!("timeout = {}: must be > 0", config.timeout));
        }
        if let Some(r) = config.retry.iter().find(|r| !(**r >= 0.0 && r.is_finite())) {
            return Err(format!("retry: {r}: waits must be >= 0"));
        }
        if !(config.drain >= 0.0 && config.drain.is_finite()) {
            return Err(format!("drain = {}: must be >= 0", config.drain));
        }
        for (i, r) in config.route.iter().enumerate() {
            let t = &r.to;
            if t.store.is_none() && t.file.is_none() && t.webhook.is_none() && t.email.is_none() {
                return Err(format!(
                    "route {}: `to` names no store, file, webhook or email",
                    i + 1
                ));
            }
            if t.queue == Some(0) {
                return Err(format!("route {}: queue = 0: must be >= 1", i + 1));
            }
            if let Some(w) = &t.webhook {
                Url::parse(w).map_err(|e| format!("route {}: {e}", i + 1))?;
            }
            if let Some(e) = &t.email {
                if e.to.is_empty() {
                    return Err(format!("route {}: email without recipients", i + 1));
                }
            }
            for list in [&r.when.source, &r.when.target] {
                config
                    .cidrs(list)
                    .map_err(|e| format!("route {}: {e}", i + 1))?;
            }
        }
        Ok(config)
    }

    /// Reads and parses a config file.
    pub fn load(path: &std::path::Path) -> Result<Config, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Config::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// A match list's entries as CIDRs, groups expanded.
    pub fn cidrs(&self, list: &[String]) -> Result<Vec<Cidr>, String> {
        let mut out = Vec::new();
        for entry in list {
            match entry.strip_prefix('@') {
                Some(name) => {
                    let group = self
                        .groups
                        .get(name)
                        .ok_or_else(|| format!("no address group '{name}' in [groups]"))?;
                    for c in group {
                        out.push(c.parse()?);
                    }
                }
                None => out.push(entry.parse()?),
            }
        }
        Ok(out)
    }
}

/// An address block; IPv4 kept as IPv4-mapped IPv6.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    net: u128,
    mask: u128,
}

fn mapped(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        mapped(ip) & self.mask == self.net
    }
}

impl std::str::FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Cidr, String> {
        let bad = || format!("'{s}' is not an address or CIDR");
        let (addr, len) = match s.trim().split_once('/') {
            Some((a, l)) => (a, Some(l.parse::<u32>().map_err(|_| bad())?)),
            None => (s.trim(), None),
        };
        let ip: IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let len = len.unwrap_or(max);
        if len > max {
            return Err(bad());
        }
        let len = len + (128 - max);
        let mask = if len == 0 {
            0
        } else {
            u128::MAX << (128 - len)
        };
        Ok(Cidr {
            net: mapped(ip) & mask,
            mask,
        })
    }
}

/// `http://host:port/path`, the only URLs webhooks take.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Url {
    /// `host:port` to connect to.
    pub addr: String,
    /// The Host header.
    pub host: String,
    pub path: String,
}

impl Url {
    pub fn parse(s: &str) -> Result<Url, String> {
        let rest = s.strip_prefix("http://").ok_or_else(|| {
            format!("webhook '{s}': only http://host[:port]/path (no TLS) is supported")
        })?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.is_empty() {
            return Err(format!("webhook '{s}': no host"));
        }
        let has_port = match authority.rfind(':') {
            Some(i) => !authority[i..].contains(']'),
            None => false,
        };
        let addr = if has_port {
            authority.to_string()
        } else {
            format!("{authority}:80")
        };
        Ok(Url {
            addr,
            host: authority.to_string(),
            path: path.to_string(),
        })
    }
}
