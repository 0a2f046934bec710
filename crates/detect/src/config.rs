//! Detector settings from a TOML file (`eddy detect --config`, `eddy
//! module <detector> --config`): one table per detector, each key one of
//! the detector's `Config` fields, durations in seconds (`idle_secs`).
//! Keys left out keep NEMEA's defaults; unknown keys are errors.
//! `examples/detect.toml` lists every key at its default (a test keeps it
//! so). The detectors that need files name them in their table: `[miner]
//! pools`, `[[blacklist.lists]]`, `[l7filter] rules`.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::{blacklist, l7filter, miner, Detector};

/// Detector names a config file may have a table for.
pub const TABLES: &[&str] = &[
    "vportscan",
    "haddrscan",
    "bruteforce",
    "amplification",
    "hoststats",
    "sip_bf",
    "voip_fraud",
    "dns_tunnel",
    "miner",
    "blacklist",
    "l7filter",
];

/// A parsed config file: the detectors' tables, checked.
#[derive(Clone, Debug, Default)]
pub struct DetectConfig {
    tables: toml::Table,
    /// Where relative file names in the config are taken from.
    base: PathBuf,
}

/// One list of `[[blacklist.lists]]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListConfig {
    /// `ip`, `domain` or `url`.
    pub kind: String,
    /// The list file (with `url`: where the download is kept).
    pub path: PathBuf,
    /// IDEA category of its alerts.
    #[serde(default = "default_list_category")]
    pub category: String,
    /// Download the list from here on start and every `refresh_secs`.
    pub url: Option<String>,
    /// Seconds between downloads from `url` (3600).
    #[serde(default = "default_refresh_secs")]
    pub refresh_secs: u64,
}

fn default_list_category() -> String {
    "Intrusion.Botnet".into()
}

fn default_refresh_secs() -> u64 {
    3600
}

impl DetectConfig {
    /// Reads and checks a config file.
    pub fn load(path: &Path) -> Result<DetectConfig, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut config =
            DetectConfig::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        config.base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Ok(config)
    }

    /// Parses and checks config text (file names relative to the current
    /// folder).
    pub fn parse(text: &str) -> Result<DetectConfig, String> {
        let tables: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
        let config = DetectConfig {
            tables,
            base: PathBuf::new(),
        };
        for (name, value) in &config.tables {
            if !TABLES.contains(&name.as_str()) {
                return Err(format!(
                    "unknown detector table [{name}]: expected one of {}",
                    TABLES.join(", ")
                ));
            }
            if !value.is_table() {
                return Err(format!("{name}: expected a table [{name}]"));
            }
            config
                .check(name)
                .map_err(|(key, e)| match line_of(text, name, key) {
                    Some(line) => format!("line {line}: {e}"),
                    None => e,
                })?;
        }
        Ok(config)
    }

    /// Whether the file has a table for `name`.
    pub fn has(&self, name: &str) -> bool {
        self.tables.contains_key(name)
    }

    /// Whether the file names the files `name` needs to run: lists for
    /// `blacklist`, rules for `l7filter` (pools for `miner`, which runs
    /// without them too).
    pub fn has_files(&self, name: &str) -> bool {
        let key = match name {
            "blacklist" => "lists",
            "l7filter" => "rules",
            "miner" => "pools",
            _ => return false,
        };
        self.tables.get(name).and_then(|t| t.get(key)).is_some()
    }

    /// A detector's table without the keys that name files.
    fn settings(&self, name: &str, file_keys: &[&str]) -> toml::Table {
        let mut t = self
            .tables
            .get(name)
            .and_then(|v| v.as_table())
            .cloned()
            .unwrap_or_default();
        for k in file_keys {
            t.remove(*k);
        }
        t
    }

    fn typed<T: for<'de> Deserialize<'de>>(
        &self,
        name: &str,
        file_keys: &[&str],
    ) -> Result<T, String> {
        self.typed_key(name, file_keys).map_err(|(_, e)| e)
    }

    /// [`Self::typed`], its error with the key that fails alone (if one does).
    fn typed_key<T: for<'de> Deserialize<'de>>(
        &self,
        name: &str,
        file_keys: &[&str],
    ) -> Result<T, (Option<String>, String)> {
        let table = self.settings(name, file_keys);
        toml::Value::Table(table.clone())
            .try_into()
            .map_err(|e: toml::de::Error| {
                // Name the key: the first that fails alone.
                let culprit = table.iter().find(|(k, v)| {
                    let mut one = toml::Table::new();
                    one.insert((*k).clone(), (*v).clone());
                    toml::Value::Table(one).try_into::<T>().is_err()
                });
                match culprit {
                    Some((k, _)) if !e.message().contains(k.as_str()) => {
                        (Some(k.clone()), format!("[{name}] {k}: {}", e.message()))
                    }
                    Some((k, _)) => (Some(k.clone()), format!("[{name}]: {}", e.message())),
                    None => (None, format!("[{name}]: {}", e.message())),
                }
            })
    }

    /// Type-checks one table (files are not opened); an error comes with
    /// the key it is about, when known.
    fn check(&self, name: &str) -> Result<(), (Option<String>, String)> {
        fn at(key: &str) -> impl Fn(String) -> (Option<String>, String) + '_ {
            move |e| (Some(key.to_string()), e)
        }
        match name {
            "vportscan" => self
                .typed_key::<crate::vportscan::Config>(name, &[])
                .map(drop),
            "haddrscan" => self
                .typed_key::<crate::haddrscan::Config>(name, &[])
                .map(drop),
            "bruteforce" => self
                .typed_key::<crate::bruteforce::Config>(name, &[])
                .map(drop),
            "amplification" => self
                .typed_key::<crate::amplification::Config>(name, &[])
                .map(drop),
            "hoststats" => self
                .typed_key::<crate::hoststats::Config>(name, &[])
                .map(drop),
            "sip_bf" => self.typed_key::<crate::sip_bf::Config>(name, &[]).map(drop),
            "voip_fraud" => self
                .typed_key::<crate::voip_fraud::Config>(name, &[])
                .map(drop),
            "dns_tunnel" => self
                .typed_key::<crate::dns_tunnel::Config>(name, &[])
                .map(drop),
            "miner" => {
                self.typed_key::<miner::Config>(name, &["pools"])?;
                self.file("miner", "pools").map(drop).map_err(at("pools"))
            }
            "blacklist" => {
                self.typed_key::<blacklist::Config>(name, &["lists"])?;
                self.lists().map(drop).map_err(at("lists"))
            }
            "l7filter" => {
                self.typed_key::<l7filter::Config>(name, &["rules"])?;
                self.file("l7filter", "rules")
                    .map(drop)
                    .map_err(at("rules"))
            }
            _ => Err((None, format!("unknown detector '{name}'"))),
        }
    }

    /// A file named by `key` in `[table]`, relative to the config file.
    fn file(&self, table: &str, key: &str) -> Result<Option<PathBuf>, String> {
        match self.tables.get(table).and_then(|t| t.get(key)) {
            None => Ok(None),
            Some(toml::Value::String(p)) => Ok(Some(self.base.join(p))),
            Some(_) => Err(format!("[{table}] {key}: expected a file name")),
        }
    }

    /// `[[blacklist.lists]]`, paths relative to the config file.
    pub fn lists(&self) -> Result<Vec<ListConfig>, String> {
        let Some(v) = self.tables.get("blacklist").and_then(|t| t.get("lists")) else {
            return Ok(Vec::new());
        };
        let mut lists: Vec<ListConfig> = v
            .clone()
            .try_into()
            .map_err(|e: toml::de::Error| format!("[[blacklist.lists]]: {}", e.message()))?;
        for l in &mut lists {
            l.path = self.base.join(&l.path);
            parse_kind(&l.kind)?;
            crate::alert::idea_category(&l.category)
                .map_err(|e| format!("[[blacklist.lists]] {}: {e}", l.path.display()))?;
            if l.url.is_some() && l.refresh_secs == 0 {
                return Err("[[blacklist.lists]] refresh_secs: expected seconds > 0".into());
            }
        }
        Ok(lists)
    }

    /// The detector `name` with this file's settings (defaults for a
    /// detector without a table). List files, pools and rules are read
    /// now; a list with a `url` must have been downloaded to its `path`.
    pub fn build(&self, name: &str) -> Result<Box<dyn Detector>, String> {
        Ok(match name {
            "vportscan" => Box::new(crate::vportscan::VPortScan::new(self.typed(name, &[])?)),
            "haddrscan" => Box::new(crate::haddrscan::HAddrScan::new(self.typed(name, &[])?)),
            "bruteforce" => Box::new(crate::bruteforce::BruteForce::new(self.typed(name, &[])?)),
            "amplification" => Box::new(crate::amplification::Amplification::new(
                self.typed(name, &[])?,
            )),
            "hoststats" => Box::new(crate::hoststats::HostStats::new(self.typed(name, &[])?)),
            "sip_bf" => Box::new(crate::sip_bf::SipBruteForce::new(self.typed(name, &[])?)),
            "voip_fraud" => Box::new(crate::voip_fraud::VoipFraud::new(self.typed(name, &[])?)),
            "dns_tunnel" => Box::new(crate::dns_tunnel::DnsTunnel::new(self.typed(name, &[])?)),
            "miner" => Box::new(self.miner(None)?),
            "blacklist" => Box::new(self.blacklist(Vec::new())?),
            "l7filter" => Box::new(self.l7filter(Vec::new())?),
            _ => {
                return Err(format!(
                    "unknown detector '{name}': expected one of {}",
                    TABLES.join(", ")
                ))
            }
        })
    }

    /// The miner with this file's settings and pools, plus `extra_pools`.
    pub fn miner(&self, extra_pools: Option<&Path>) -> Result<miner::Miner, String> {
        let mut m = miner::Miner::new(self.typed("miner", &["pools"])?);
        let mut pools = crate::Set::default();
        for path in self
            .file("miner", "pools")?
            .iter()
            .map(PathBuf::as_path)
            .chain(extra_pools)
        {
            pools.extend(miner::load_pools(path)?);
        }
        if !pools.is_empty() {
            m = m.with_pools(pools);
        }
        Ok(m)
    }

    /// The blacklist with this file's settings and lists, plus `extra`.
    pub fn blacklist(&self, extra: Vec<blacklist::List>) -> Result<blacklist::Blacklist, String> {
        let config: blacklist::Config = self.typed("blacklist", &["lists"])?;
        let mut lists = Vec::new();
        for l in self.lists()? {
            let name = l
                .path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("list")
                .to_string();
            lists.push(blacklist::List::load(
                &l.path,
                parse_kind(&l.kind)?,
                &name,
                &l.category,
            )?);
        }
        lists.extend(extra);
        if lists.is_empty() {
            return Err(
                "blacklist needs lists: [[blacklist.lists]] in the config, or --ip-list, --domain-list, --url-list"
                    .into(),
            );
        }
        Ok(blacklist::Blacklist::with_config(lists, config))
    }

    /// The l7filter with this file's settings and rules, plus `extra`.
    pub fn l7filter(&self, extra: Vec<l7filter::Rule>) -> Result<l7filter::L7Filter, String> {
        let config: l7filter::Config = self.typed("l7filter", &["rules"])?;
        let mut rules = match self.file("l7filter", "rules")? {
            Some(p) => l7filter::load_rules(p)?,
            None => Vec::new(),
        };
        rules.extend(extra);
        if rules.is_empty() {
            return Err(
                "l7filter needs rules: `rules = \"FILE\"` in [l7filter], or -f FILE".into(),
            );
        }
        Ok(l7filter::L7Filter::with_config(rules, config))
    }
}

/// The line of `key` in `[table]` of `text` (of the table when the key is
/// not found directly in it), for error messages.
fn line_of(text: &str, table: &str, key: Option<String>) -> Option<usize> {
    use toml::de::{DeTable, DeValue};
    let doc = DeTable::parse(text).ok()?;
    let (name, value) = doc.get_ref().iter().find(|(k, _)| k.get_ref() == table)?;
    let span = key
        .and_then(|key| match value.get_ref() {
            DeValue::Table(t) => t
                .iter()
                .find(|(k, _)| *k.get_ref() == *key)
                .map(|(k, _)| k.span()),
            _ => None,
        })
        .unwrap_or(name.span());
    Some(text.get(..span.start)?.matches('\n').count() + 1)
}

/// A list kind by name.
pub fn parse_kind(kind: &str) -> Result<blacklist::Kind, String> {
    match kind {
        "ip" => Ok(blacklist::Kind::Ip),
        "domain" => Ok(blacklist::Kind::Domain),
        "url" => Ok(blacklist::Kind::Url),
        _ => Err(format!("list kind '{kind}': expected ip, domain or url")),
    }
}

/// `*_secs` keys: seconds (integer or fractional) into nanoseconds.
pub mod secs {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Secs {
            Int(u64),
            Float(f64),
        }
        let ns = match Secs::deserialize(d)? {
            Secs::Int(s) => s.checked_mul(crate::NS),
            Secs::Float(s) if (0.0..1.8e10).contains(&s) => Some((s * crate::NS as f64) as u64),
            Secs::Float(_) => None,
        };
        ns.ok_or_else(|| serde::de::Error::custom("expected seconds from 0 to 1.8e10"))
    }
}

/// A name kept for the life of the process (configs are read once).
fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// A `[[bruteforce.services]]` entry as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ServiceConfig {
    name: String,
    port: u16,
    packets: (u64, u64),
    bytes: (u64, u64),
}

impl<'de> Deserialize<'de> for crate::bruteforce::Service {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let c = ServiceConfig::deserialize(d)?;
        Ok(crate::bruteforce::Service {
            name: leak(c.name),
            port: c.port,
            packets: c.packets,
            bytes: c.bytes,
        })
    }
}

/// `services = [{ port = 53, name = "dns" }, ...]`.
pub mod port_names {
    use serde::{Deserialize, Deserializer};

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct PortName {
        port: u16,
        name: String,
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<(u16, &'static str)>, D::Error> {
        Ok(Vec::<PortName>::deserialize(d)?
            .into_iter()
            .map(|p| (p.port, super::leak(p.name)))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> String {
        let path = std::path::PathBuf::from(
            std::env::var_os("CARGO_MANIFEST_DIR")
                .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
        )
        .join("../../examples/detect.toml");
        std::fs::read_to_string(path).expect("examples/detect.toml")
    }

    /// The example lists every key at its default: a changed default or a
    /// new key must show there too.
    #[test]
    fn the_example_holds_every_default() {
        let c = DetectConfig::parse(&example()).unwrap();
        macro_rules! same {
            ($name:literal, $t:ty) => {{
                let from_file: $t = c.typed($name, &[]).unwrap();
                assert_eq!(
                    format!("{from_file:?}"),
                    format!("{:?}", <$t>::default()),
                    "[{}] in examples/detect.toml",
                    $name
                );
            }};
        }
        same!("vportscan", crate::vportscan::Config);
        same!("haddrscan", crate::haddrscan::Config);
        same!("bruteforce", crate::bruteforce::Config);
        same!("amplification", crate::amplification::Config);
        same!("hoststats", crate::hoststats::Config);
        same!("sip_bf", crate::sip_bf::Config);
        same!("voip_fraud", crate::voip_fraud::Config);
        same!("dns_tunnel", crate::dns_tunnel::Config);
        let m: miner::Config = c.typed("miner", &["pools"]).unwrap();
        assert_eq!(format!("{m:?}"), format!("{:?}", miner::Config::default()));
        let b: blacklist::Config = c.typed("blacklist", &["lists"]).unwrap();
        assert_eq!(
            format!("{b:?}"),
            format!("{:?}", blacklist::Config::default())
        );
        let l: l7filter::Config = c.typed("l7filter", &["rules"]).unwrap();
        assert_eq!(
            format!("{l:?}"),
            format!("{:?}", l7filter::Config::default())
        );
        for name in TABLES {
            assert!(c.has(name), "examples/detect.toml has no [{name}]");
            assert!(!c.has_files(name), "examples/detect.toml names files");
        }
    }

    #[test]
    fn keys_override_defaults_and_seconds_become_nanoseconds() {
        let c = DetectConfig::parse("[vportscan]\nthreshold = 10\nidle_secs = 1.5\n").unwrap();
        let v: crate::vportscan::Config = c.typed("vportscan", &[]).unwrap();
        assert_eq!(v.threshold, 10);
        assert_eq!(v.idle_ns, 1_500_000_000);
        let c = DetectConfig::parse("[vportscan]\nidle_secs = 2\n").unwrap();
        let v: crate::vportscan::Config = c.typed("vportscan", &[]).unwrap();
        assert_eq!(v.idle_ns, 2 * crate::NS);
        assert!(DetectConfig::parse("[vportscan]\nidle_secs = 1e300\n").is_err());
        assert_eq!(
            v.max_packets,
            crate::vportscan::Config::default().max_packets
        );
        let c = DetectConfig::parse(
            "[bruteforce]\nservices = [{ name = \"ftp\", port = 21, packets = [5, 15], bytes = [200, 900] }]\n",
        )
        .unwrap();
        let b: crate::bruteforce::Config = c.typed("bruteforce", &[]).unwrap();
        assert_eq!(b.services.len(), 1);
        assert_eq!((b.services[0].name, b.services[0].port), ("ftp", 21));
        assert!(c.build("bruteforce").is_ok());
        assert!(c.build("hoststats").is_ok());
        let c = DetectConfig::parse(
            "[blacklist]\naggregation_secs = 5\n[l7filter]\nrules = \"r.txt\"\n",
        )
        .unwrap();
        assert!(c.has("blacklist") && !c.has_files("blacklist"));
        assert!(c.has_files("l7filter"));
    }

    #[test]
    fn mistakes_are_named() {
        let e = DetectConfig::parse("[vportscan]\nthreshhold = 10\n").unwrap_err();
        assert!(e.contains("threshhold"), "{e}");
        let e = DetectConfig::parse("[portscan]\n").unwrap_err();
        assert!(e.contains("[portscan]"), "{e}");
        let e = DetectConfig::parse("[hoststats]\nwindow_secs = -1\n").unwrap_err();
        assert!(e.contains("seconds"), "{e}");
        let e = DetectConfig::parse("[hoststats]\nflood_min_syn = \"many\"\n").unwrap_err();
        assert!(
            e.contains("hoststats") && e.contains("flood_min_syn"),
            "{e}"
        );
        // A bad value's error has its line.
        let e = DetectConfig::parse(
            "# thresholds\n[vportscan]\nthreshold = 10\n\n[hoststats]\nwindow_secs = 60\nflood_min_syn = \"many\"\n",
        )
        .unwrap_err();
        assert!(e.starts_with("line 7: [hoststats] flood_min_syn"), "{e}");
        let e = DetectConfig::parse("[vportscan]\nmax_packets = 4\nthreshhold = 10\n").unwrap_err();
        assert!(e.contains("line 3") && e.contains("threshhold"), "{e}");
        let e = DetectConfig::parse("[miner]\npools = 5\n").unwrap_err();
        assert!(e.contains("line 2") && e.contains("pools"), "{e}");
        let e = DetectConfig::parse("[vportscan\n").unwrap_err();
        assert!(e.contains("line 1"), "{e}");
        let e = DetectConfig::parse(
            "[[blacklist.lists]]\nkind = \"ip\"\npath = \"x\"\ncategory = \"Malware\"\n",
        )
        .unwrap_err();
        assert!(e.contains("Malware.Trojan"), "{e}");
        let e = DetectConfig::parse("")
            .unwrap()
            .build("blacklist")
            .err()
            .unwrap();
        assert!(e.contains("needs lists"), "{e}");
        let e = DetectConfig::parse("")
            .unwrap()
            .build("l7filter")
            .err()
            .unwrap();
        assert!(e.contains("needs rules"), "{e}");
    }
}
