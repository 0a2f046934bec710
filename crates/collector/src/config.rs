//! The collector's configuration: a pipeline of named inputs, stages (in
//! order) and outputs, read from TOML (`eddy collect -c FILE`) or built
//! from command-line flags. Unknown keys are errors, so a typo never turns a
//! setting off silently. `examples/collector*.toml` show every feature.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The whole pipeline.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default, rename = "input")]
    pub inputs: Vec<InputConfig>,
    #[serde(default, rename = "stage")]
    pub stages: Vec<StageConfig>,
    #[serde(default, rename = "output")]
    pub outputs: Vec<OutputConfig>,
    /// Seconds between statistics lines on stderr (0 = only at the end).
    #[serde(default)]
    pub stats_interval: u64,
    /// Messages queued between the inputs and the pipeline; a full queue
    /// makes UDP inputs drop (counted) and stream inputs wait.
    #[serde(default = "default_queue")]
    pub queue: usize,
    /// UDP template lifetime in seconds (RFC 7011 section 8.4).
    #[serde(default = "default_template_lifetime")]
    pub template_lifetime: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            inputs: Vec::new(),
            stages: Vec::new(),
            outputs: Vec::new(),
            stats_interval: 0,
            queue: default_queue(),
            template_lifetime: default_template_lifetime(),
        }
    }
}

fn default_queue() -> usize {
    4096
}

fn default_template_lifetime() -> u64 {
    1800
}

/// Where messages come from.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum InputConfig {
    /// IPFIX, NetFlow v5 and v9 datagrams (the version is read per datagram).
    Udp {
        #[serde(default)]
        name: Option<String>,
        listen: String,
        /// SO_RCVBUF in bytes (the kernel may cap it at net.core.rmem_max).
        #[serde(default = "default_recv_buffer")]
        recv_buffer: usize,
    },
    /// IPFIX over TCP: one session per connection.
    Tcp {
        #[serde(default)]
        name: Option<String>,
        listen: String,
    },
    /// IPFIX files (RFC 5655): files, or folders (every file in them, by name).
    File {
        #[serde(default)]
        name: Option<String>,
        paths: Vec<PathBuf>,
    },
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum AnonymizeMode {
    Cryptopan,
    Truncate,
}

fn default_v4_bits() -> u8 {
    24
}

fn default_v6_bits() -> u8 {
    48
}

fn default_recv_buffer() -> usize {
    32 << 20
}

impl InputConfig {
    /// The name used in logs and statistics (and as the store source of file
    /// inputs).
    pub fn name(&self) -> String {
        match self {
            InputConfig::Udp { name, listen, .. } => {
                name.clone().unwrap_or_else(|| format!("udp://{listen}"))
            }
            InputConfig::Tcp { name, listen } => {
                name.clone().unwrap_or_else(|| format!("tcp://{listen}"))
            }
            InputConfig::File { name, .. } => name.clone().unwrap_or_else(|| "file".into()),
        }
    }
}

/// What happens to records between decoding and the outputs.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum StageConfig {
    /// Keeps only records matching a filter expression.
    Filter { expr: String },
    /// Replaces source and destination addresses: `cryptopan` (keyed,
    /// prefix-preserving; `key_file` holds 32 raw bytes or 64 hex digits)
    /// or `truncate` (host bits zeroed beyond `v4_bits` / `v6_bits`).
    Anonymize {
        mode: AnonymizeMode,
        #[serde(default)]
        key_file: Option<PathBuf>,
        #[serde(default = "default_v4_bits")]
        v4_bits: u8,
        #[serde(default = "default_v6_bits")]
        v6_bits: u8,
    },
    /// Country and AS number of both addresses from MaxMind DB files
    /// (GeoIP2/GeoLite2 Country or City, and ASN). An AS number the exporter
    /// sent is kept unless `overwrite_as`.
    Geoip {
        #[serde(default)]
        country_db: Option<PathBuf>,
        #[serde(default)]
        asn_db: Option<PathBuf>,
        #[serde(default)]
        overwrite_as: bool,
    },
    /// Overrides the observation domain id: `map` renames ODIDs
    /// (`{ "1" = 10 }`), `join` puts every record under one id (as
    /// IPFIXcol's ODIP and JoinFlows do).
    Odid {
        #[serde(default)]
        map: std::collections::BTreeMap<String, u32>,
        #[serde(default)]
        join: Option<u32>,
    },
}

/// Where records go.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum OutputConfig {
    /// The Parquet flow store.
    Store {
        path: PathBuf,
        /// Window length in seconds.
        #[serde(default = "default_window")]
        window: u64,
        /// Remove windows older than this many seconds.
        #[serde(default)]
        max_age: Option<u64>,
        /// Remove the oldest windows beyond this many bytes.
        #[serde(default)]
        max_bytes: Option<u64>,
        /// Keep a spool (`PATH/.spool/`) so records survive a crash: a
        /// record is acknowledged once spooled, at most half a second after
        /// it arrived, and is in the store exactly once after a restart.
        /// Default: on, unless every input is a file. A file is already on
        /// disk, so spooling its records again would only double the
        /// writes: after a crash, read the file again.
        #[serde(default)]
        spool: Option<bool>,
        /// Where the spool lives (default `PATH/.spool`): on another disk,
        /// a full store disk leaves records in the spool, stored at the next
        /// start.
        #[serde(default)]
        spool_dir: Option<PathBuf>,
        #[serde(default)]
        sources: Option<Vec<String>>,
    },
    /// JSON lines with the store's column names: `-` (stdout), a file
    /// path, `dir:DIR[:SECONDS]` (a new file every SECONDS, default 300,
    /// renamed when complete), `tcp://HOST:PORT` (reconnecting; lines sent
    /// while down are counted as lost) or `udp://HOST:PORT` (a datagram per
    /// line).
    Json {
        to: String,
        #[serde(default)]
        sources: Option<Vec<String>>,
    },
    /// A stream of Arrow IPC record batches for stream modules (`eddy
    /// module ...`): `u:NAME`, `t:[HOST:]PORT`, `f:PATH`. Records a slow or
    /// absent client cannot take are dropped and counted (add `:wait` to
    /// make the collector wait instead).
    Stream {
        to: String,
        #[serde(default)]
        sources: Option<Vec<String>>,
    },
    /// IPFIX: `udp://H:P`, `tcp://H:P`, `file:PATH` or `dir:DIR[:SECONDS[:MB]]`
    /// (rotating files); several destinations get every record (`all`) or
    /// take turns (`round-robin`).
    Ipfix {
        to: Vec<String>,
        #[serde(default)]
        mode: ForwardMode,
        #[serde(default)]
        odid: u32,
        #[serde(default)]
        sources: Option<Vec<String>>,
    },
}

fn default_window() -> u64 {
    store::DEFAULT_WINDOW_SECS
}

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ForwardMode {
    #[default]
    All,
    RoundRobin,
}

impl OutputConfig {
    pub fn sources(&self) -> Option<&[String]> {
        match self {
            OutputConfig::Store { sources, .. }
            | OutputConfig::Json { sources, .. }
            | OutputConfig::Stream { sources, .. }
            | OutputConfig::Ipfix { sources, .. } => sources.as_deref(),
        }
    }
}

impl Config {
    /// Whether a store output keeps a spool when its `spool` is unset:
    /// yes unless every input is a file (files are their own spool).
    pub fn spool_by_default(&self) -> bool {
        !self
            .inputs
            .iter()
            .all(|i| matches!(i, InputConfig::File { .. }))
    }

    /// Reads and checks a TOML file.
    pub fn load(path: &Path) -> Result<Config, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("reading {}: {e}", path.display()))?;
        Config::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Config, String> {
        let config = Config::parse_unchecked(text)?;
        config.check()?;
        Ok(config)
    }

    /// Parses without [`Config::check`] (command-line flags may still add
    /// the inputs and outputs a file leaves out).
    pub fn parse_unchecked(text: &str) -> Result<Config, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// What TOML cannot say: at least one input and one output, sane numbers.
    pub fn check(&self) -> Result<(), String> {
        if self.inputs.is_empty() {
            return Err("no input: add an [[input]] (or -l udp://0.0.0.0:4739)".into());
        }
        if self.outputs.is_empty() {
            return Err("no output: add an [[output]] (or -w DIR)".into());
        }
        if self.queue == 0 {
            return Err("queue must be at least 1".into());
        }
        for o in &self.outputs {
            match o {
                OutputConfig::Store { window: 0, .. } => {
                    return Err("store window must be at least 1 second".into())
                }
                OutputConfig::Ipfix { to, .. } if to.is_empty() => {
                    return Err("ipfix output: `to` lists no destination".into())
                }
                OutputConfig::Ipfix { to, .. } => {
                    for d in to {
                        ipfix::Destination::parse(d)?;
                    }
                }
                _ => {}
            }
        }
        for i in &self.inputs {
            if let InputConfig::File { paths, .. } = i {
                if paths.is_empty() {
                    return Err("file input: `paths` lists nothing".into());
                }
            }
        }
        Ok(())
    }
}

/// `udp://ADDR`, `tcp://ADDR` (a bare address or `:PORT` means UDP on all
/// addresses) as an input, for `-l`.
pub fn input_from_url(url: &str) -> Result<InputConfig, String> {
    let all = |a: &str| {
        if a.starts_with(':') {
            format!("0.0.0.0{a}")
        } else {
            a.to_string()
        }
    };
    if let Some(a) = url.strip_prefix("udp://") {
        Ok(InputConfig::Udp {
            name: None,
            listen: all(a),
            recv_buffer: default_recv_buffer(),
        })
    } else if let Some(a) = url.strip_prefix("tcp://") {
        Ok(InputConfig::Tcp {
            name: None,
            listen: all(a),
        })
    } else if url.contains("://") {
        Err(format!(
            "'{url}': expected udp://ADDR:PORT or tcp://ADDR:PORT"
        ))
    } else {
        input_from_url(&format!("udp://{url}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_files_parse() {
        let dir = std::path::PathBuf::from(
            std::env::var_os("CARGO_MANIFEST_DIR")
                .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
        )
        .join("../../examples");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if name.starts_with("collector") && name.ends_with(".toml") {
                Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
                n += 1;
            }
        }
        assert!(n >= 1);
    }

    #[test]
    fn unknown_keys_and_missing_parts_are_errors() {
        let e = Config::parse(
            "[[input]]\nkind = \"udp\"\nlisten = \":4739\"\nlisten_typo = 1\n[[output]]\nkind = \"json\"\nto = \"-\"\n",
        )
        .unwrap_err();
        assert!(e.contains("listen_typo"), "{e}");
        let e = Config::parse("[[output]]\nkind = \"json\"\nto = \"-\"\n").unwrap_err();
        assert!(e.contains("no input"), "{e}");
        let e = Config::parse("[[input]]\nkind = \"tcp\"\nlisten = \":1\"\n").unwrap_err();
        assert!(e.contains("no output"), "{e}");
        let e = Config::parse(
            "[[input]]\nkind = \"tcp\"\nlisten = \":1\"\n[[output]]\nkind = \"ipfix\"\nto = [\"smtp://x\"]\n",
        )
        .unwrap_err();
        assert!(e.contains("smtp://x"), "{e}");
    }

    #[test]
    fn only_file_inputs_go_without_a_spool_by_default() {
        let store = "[[output]]\nkind = \"store\"\npath = \"s\"\n";
        let file = "[[input]]\nkind = \"file\"\npaths = [\"a.ipfix\"]\n";
        let tcp = "[[input]]\nkind = \"tcp\"\nlisten = \":4739\"\n";
        let files = Config::parse(&format!("{file}{file}{store}")).unwrap();
        assert!(!files.spool_by_default());
        let mixed = Config::parse(&format!("{file}{tcp}{store}")).unwrap();
        assert!(mixed.spool_by_default());
        let explicit = Config::parse(&format!("{file}{store}spool = true\n")).unwrap();
        assert!(matches!(
            explicit.outputs[0],
            OutputConfig::Store {
                spool: Some(true),
                ..
            }
        ));
    }

    #[test]
    fn urls_become_inputs() {
        assert_eq!(
            input_from_url(":2055").unwrap(),
            InputConfig::Udp {
                name: None,
                listen: "0.0.0.0:2055".into(),
                recv_buffer: default_recv_buffer()
            }
        );
        assert!(matches!(
            input_from_url("tcp://127.0.0.1:4739").unwrap(),
            InputConfig::Tcp { .. }
        ));
        assert!(input_from_url("sctp://x").is_err());
    }
}
