//! Helpers shared by the integration tests: where the shared test data is,
//! how to run `eddy`, and how to read its CSV output.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `../shared/testdata` beside the project.
pub fn shared_testdata() -> PathBuf {
    std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("../../../shared/testdata")
}

/// The project's own `test_data/`.
pub fn test_data() -> PathBuf {
    std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("../../test_data")
}

pub fn eddy() -> Command {
    Command::new(env!("CARGO_BIN_EXE_eddy"))
}

/// True when `tool` is on PATH. In CI (`CI=true`) a missing oracle is a failure,
/// so a green run always means the comparison ran.
pub fn have_tool(tool: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !found {
        assert!(
            std::env::var("CI").is_err(),
            "{tool} is required in CI but not installed"
        );
        eprintln!("skipping: {tool} is not installed");
    }
    found
}

/// One row of `eddy meter -o csv`, by column name.
#[derive(Debug, Clone)]
pub struct Row(pub HashMap<String, String>);

impl Row {
    pub fn get(&self, column: &str) -> &str {
        self.0
            .get(column)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("no column {column}"))
    }
    pub fn num(&self, column: &str) -> u64 {
        self.get(column)
            .parse()
            .unwrap_or_else(|_| panic!("{column} is not a number"))
    }
}

pub fn parse_csv(text: &str) -> Vec<Row> {
    let mut lines = text.lines();
    let header = split_csv_line(lines.next().expect("csv header"));
    lines
        .filter(|l| !l.is_empty())
        .map(|line| Row(header.iter().cloned().zip(split_csv_line(line)).collect()))
        .collect()
}

/// Splits one CSV line (RFC 4180 quoting; eddy writes no line breaks inside fields).
fn split_csv_line(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', false) => quoted = true,
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                fields.last_mut().unwrap().push('"');
            }
            ('"', true) => quoted = false,
            (',', false) => fields.push(String::new()),
            (c, _) => fields.last_mut().unwrap().push(c),
        }
    }
    fields
}

/// Runs `eddy meter -r PCAP -o csv -q ARGS...` and parses its output.
pub fn meter_csv(pcap: &Path, args: &[&str]) -> Vec<Row> {
    let output = eddy()
        .args(["meter", "-o", "csv", "-q", "-r"])
        .arg(pcap)
        .args(args)
        .output()
        .expect("run eddy");
    assert!(
        output.status.success(),
        "eddy meter failed on {}: {}",
        pcap.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    parse_csv(&String::from_utf8(output.stdout).expect("utf-8 csv"))
}

/// A fresh empty folder under the system temp dir, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicU32, Ordering};
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("eddy-test-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Every capture file (`*.pcap`, `*.pcapng`) under `dir`, sorted.
pub fn captures_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("pcap" | "pcapng")
            ) {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// A value as text, or None for what the wire cannot tell from absent
/// (an empty string or a zero number: the encoder's "absent").
pub fn present(text: String) -> Option<String> {
    (!text.is_empty() && text != "0").then_some(text)
}

/// The L7 columns that travel in IPFIX elements, with their CSV text.
pub fn l7_from_csv(r: &Row) -> Vec<(&'static str, Option<String>)> {
    (0..l7::COLUMNS.len())
        .filter(|&c| ipfix::encode::l7_element(c).is_some())
        .map(|c| (l7::COLUMNS[c], present(r.get(l7::COLUMNS[c]).to_string())))
        .collect()
}

/// The same columns of a decoded (or stored) record.
pub fn l7_from_record(f: &record::FlowRecord) -> Vec<(&'static str, Option<String>)> {
    let mut values = vec![None; l7::COLUMNS.len()];
    if let Some(l7) = f.l7.as_ref() {
        l7.visit(&mut |c, v| {
            values[c] = present(match v {
                l7::Value::Str(s) => s.to_string(),
                l7::Value::Num(n) => n.to_string(),
            });
        });
    }
    (0..l7::COLUMNS.len())
        .filter(|&c| ipfix::encode::l7_element(c).is_some())
        .map(|c| (l7::COLUMNS[c], values[c].take()))
        .collect()
}

/// A child process, killed (if still running) and reaped when dropped.
pub struct Reaped(pub std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// nfcapd listening on a free loopback port (its stderr piped).
/// The port is found by binding and releasing it, so another process may
/// take it before nfcapd does (nfcapd then exits): up to five tries.
pub fn start_nfcapd(dir: &Path) -> (Reaped, u16) {
    let mut last_log = String::new();
    for _ in 0..5 {
        let port = std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("nfcapd")
            .args(["-b", "127.0.0.1", "-p", &port.to_string(), "-w"])
            .arg(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start nfcapd");
        let mut nfcapd = Reaped(child);
        // Ready when it holds the port; given up on when it has exited.
        for _ in 0..100 {
            if std::net::UdpSocket::bind(("127.0.0.1", port)).is_err() {
                return (nfcapd, port);
            }
            if let Ok(Some(_)) = nfcapd.0.try_wait() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = nfcapd.0.kill();
        last_log = stderr_of(&mut nfcapd.0);
    }
    panic!("nfcapd did not start: {last_log}");
}

/// What an exited child wrote to its piped stderr.
pub fn stderr_of(child: &mut std::process::Child) -> String {
    let mut text = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut text);
    }
    text
}
