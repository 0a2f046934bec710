//! Interface specs, as NEMEA's TRAP writes them: one `-i` argument lists a
//! module's inputs, then its outputs, separated by commas.
//!
//! - `u:NAME` a unix socket `NAME.sock` in the socket folder (`u:/abs/path`
//!   uses the path as is);
//! - `t:[HOST:]PORT` TCP (an output listens on HOST, default all addresses;
//!   an input connects to HOST, default localhost);
//! - `f:PATH` a file, with `:w` (default) or `:a` (append) and for outputs
//!   `:time=MINUTES` and `:size=MEGABYTES` rotation;
//! - `b:` a blackhole output (counts and discards);
//! - `-` stdin (input) or stdout (output).
//!
//! Each spec may end with options: `:wait` (default) or `:drop` choose what
//! an output does when a client is slow or none is connected;
//! `:autoflush=MS` (`off` to disable) and `:buffer=ROWS` choose when an
//! output sends what it has gathered; `:compress=lz4|zstd` compresses the
//! batches' buffers (fewer bytes for more CPU); `:dense` sends every column
//! of flow batches, also the nullable flow columns no record has used yet
//! (left out by default, see [`crate::sparse`]).

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where an interface's bytes go or come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transport {
    Unix(PathBuf),
    Tcp {
        host: Option<String>,
        port: u16,
    },
    File {
        path: PathBuf,
        append: bool,
        rotate: Rotation,
    },
    Blackhole,
    Stdio,
}

/// When a file output starts a new file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rotation {
    pub every: Option<Duration>,
    pub max_bytes: Option<u64>,
}

/// What an output does when a client is slow or none is connected.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SlowPolicy {
    /// Back-pressure: block until every client took the batch (and until a
    /// first client connects).
    #[default]
    Wait,
    /// Drop the batch for that client and count its records.
    Drop,
}

/// Compression of the record batch buffers an output writes (Arrow IPC
/// body compression; pyarrow and arrow-rs readers decompress by themselves).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Compression {
    #[default]
    None,
    Lz4,
    Zstd,
}

/// One interface: transport plus output options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spec {
    pub transport: Transport,
    pub policy: SlowPolicy,
    /// Send gathered rows after this long; `None` = only on size.
    pub autoflush: Option<Duration>,
    /// Send when this many rows are gathered.
    pub buffer_rows: usize,
    pub compression: Compression,
    /// Send every column, also unused nullable flow columns.
    pub dense: bool,
    /// The spec as written, for messages.
    pub text: String,
}

/// Rows an output gathers before sending a batch.
pub const DEFAULT_BUFFER_ROWS: usize = 8192;
/// How long an output holds rows of a quiet stream.
pub const DEFAULT_AUTOFLUSH: Duration = Duration::from_secs(1);

/// The folder `u:` names live in: `$EDDY_SOCKET_DIR`, else `/tmp/eddy`.
pub fn default_socket_dir() -> PathBuf {
    std::env::var_os("EDDY_SOCKET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp/eddy"))
}

/// A spec that did not parse, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError(pub String);

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SpecError {}

/// Parses a comma-separated list of specs.
pub fn parse_list(list: &str, socket_dir: &Path) -> Result<Vec<Spec>, SpecError> {
    list.split(',')
        .map(|s| parse(s.trim(), socket_dir))
        .collect()
}

/// Parses one spec.
pub fn parse(text: &str, socket_dir: &Path) -> Result<Spec, SpecError> {
    let err = |why: String| SpecError(format!("interface '{text}': {why}"));
    let expected = "expected u:NAME, t:[HOST:]PORT, f:PATH, b: or -";
    let mut spec = Spec {
        transport: Transport::Stdio,
        policy: SlowPolicy::Wait,
        autoflush: Some(DEFAULT_AUTOFLUSH),
        buffer_rows: DEFAULT_BUFFER_ROWS,
        compression: Compression::None,
        dense: false,
        text: text.to_string(),
    };
    if text == "-" {
        return Ok(spec);
    }
    let (kind, rest) = text
        .split_once(':')
        .ok_or_else(|| err(expected.to_string()))?;
    let parts: Vec<&str> = rest.split(':').collect();
    let (address, options) = split_address(kind, &parts);
    let mut rotate = Rotation::default();
    let mut append = false;
    for opt in options {
        let (key, value) = opt.split_once('=').unwrap_or((opt, ""));
        match (key, kind) {
            ("wait", _) => spec.policy = SlowPolicy::Wait,
            ("dense", _) => spec.dense = true,
            ("drop", _) => spec.policy = SlowPolicy::Drop,
            ("w", "f") => append = false,
            ("a", "f") => append = true,
            ("autoflush", _) if value == "off" => spec.autoflush = None,
            ("autoflush", _) => {
                let ms: u64 = value
                    .parse()
                    .map_err(|_| err(format!("autoflush={value}: expected milliseconds or off")))?;
                spec.autoflush = Some(Duration::from_millis(ms.max(1)));
            }
            ("buffer", _) => {
                spec.buffer_rows = value
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=1 << 24).contains(n))
                    .ok_or_else(|| err(format!("buffer={value}: expected 1 to 16777216 rows")))?;
            }
            ("compress", _) => {
                spec.compression = match value {
                    "lz4" => Compression::Lz4,
                    "zstd" => Compression::Zstd,
                    "none" => Compression::None,
                    _ => return Err(err(format!("compress={value}: expected lz4, zstd or none"))),
                };
            }
            ("time", "f") => {
                let min = positive(value)
                    .ok_or_else(|| err(format!("time={value}: expected minutes > 0")))?;
                rotate.every = Some(Duration::from_secs(min * 60));
            }
            ("size", "f") => {
                let mb = positive(value)
                    .ok_or_else(|| err(format!("size={value}: expected megabytes > 0")))?;
                rotate.max_bytes = Some(mb << 20);
            }
            _ => return Err(err(format!("unknown option '{opt}'"))),
        }
    }
    spec.transport = match kind {
        "u" if address.is_empty() => return Err(err("u: needs a name".into())),
        "u" if address.contains('/') => Transport::Unix(PathBuf::from(address)),
        "u" => Transport::Unix(socket_dir.join(format!("{address}.sock"))),
        "t" => {
            let (host, port) = match address.rsplit_once(':') {
                Some((h, p)) => (Some(h.trim_matches(['[', ']']).to_string()), p),
                None => (None, address.as_str()),
            };
            let port = port
                .parse()
                .map_err(|_| err(format!("'{port}' is not a TCP port")))?;
            Transport::Tcp { host, port }
        }
        "f" if address.is_empty() => return Err(err("f: needs a path".into())),
        "f" => Transport::File {
            path: PathBuf::from(address),
            append,
            rotate,
        },
        "b" if address.is_empty() => Transport::Blackhole,
        _ => return Err(err(format!("unknown interface type '{kind}:'; {expected}"))),
    };
    Ok(spec)
}

fn positive(value: &str) -> Option<u64> {
    value.parse().ok().filter(|n| *n > 0)
}

/// Splits the text after `KIND:`, cut at colons, into the address and the
/// options. Only TCP addresses contain colons (`HOST:PORT`, `[V6]:PORT`);
/// unix names and file paths end at the first colon.
fn split_address<'a>(kind: &str, parts: &[&'a str]) -> (String, Vec<&'a str>) {
    if kind != "t" {
        return (parts[0].to_string(), parts[1..].to_vec());
    }
    if parts[0].starts_with('[') {
        if let Some(end) = parts.iter().position(|p| p.ends_with(']')) {
            let host = parts[..=end].join(":");
            let port = parts.get(end + 1).copied().unwrap_or("");
            let rest = parts.get(end + 2..).unwrap_or(&[]).to_vec();
            return (format!("{host}:{port}"), rest);
        }
    }
    if parts.len() >= 2 && parts[1].parse::<u16>().is_ok() {
        return (format!("{}:{}", parts[0], parts[1]), parts[2..].to_vec());
    }
    (parts[0].to_string(), parts[1..].to_vec())
}

impl fmt::Display for Spec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Spec {
        parse(s, Path::new("/run/eddy")).unwrap()
    }

    #[test]
    fn unix_names_live_in_the_socket_folder() {
        assert_eq!(
            p("u:sock1").transport,
            Transport::Unix("/run/eddy/sock1.sock".into())
        );
        assert_eq!(
            p("u:/tmp/x.sock").transport,
            Transport::Unix("/tmp/x.sock".into())
        );
    }

    #[test]
    fn tcp_host_is_optional() {
        let tcp = |host: Option<&str>, port| Transport::Tcp {
            host: host.map(String::from),
            port,
        };
        assert_eq!(p("t:7600").transport, tcp(None, 7600));
        assert_eq!(p("t:10.0.0.1:7600").transport, tcp(Some("10.0.0.1"), 7600));
        assert_eq!(p("t:[::1]:7600:drop").transport, tcp(Some("::1"), 7600));
        assert_eq!(p("t:[::1]:7600:drop").policy, SlowPolicy::Drop);
        assert_eq!(p("t:7600:drop").policy, SlowPolicy::Drop);
    }

    #[test]
    fn files_take_mode_and_rotation() {
        let s = p("f:/data/out.arrows:a:time=5:size=100");
        assert_eq!(
            s.transport,
            Transport::File {
                path: "/data/out.arrows".into(),
                append: true,
                rotate: Rotation {
                    every: Some(Duration::from_secs(300)),
                    max_bytes: Some(100 << 20)
                }
            }
        );
    }

    #[test]
    fn options_and_stdio() {
        let s = p("u:x:drop:autoflush=off:buffer=100:compress=lz4:dense");
        assert!(s.dense);
        assert_eq!(s.compression, Compression::Lz4);
        assert_eq!(s.policy, SlowPolicy::Drop);
        assert_eq!(s.autoflush, None);
        assert_eq!(s.buffer_rows, 100);
        assert_eq!(p("-").transport, Transport::Stdio);
        assert_eq!(p("b:").transport, Transport::Blackhole);
        let list = parse_list("u:a,u:b,-", Path::new("/s")).unwrap();
        assert_eq!(list.len(), 3);
    }

    #[test]
    fn errors_say_what_was_expected() {
        for (bad, want) in [
            ("x", "expected u:NAME"),
            ("", "expected u:NAME"),
            ("q:1", "unknown interface type"),
            ("t:http", "not a TCP port"),
            ("u:", "needs a name"),
            ("u:a:time=5", "unknown option"),
            ("f:x:size=0", "megabytes"),
            ("u:a:buffer=0", "buffer=0"),
            ("b:x", "unknown interface type"),
        ] {
            let e = parse(bad, Path::new("/s")).unwrap_err().0;
            assert!(e.contains(want), "{bad}: {e}");
        }
    }
}
