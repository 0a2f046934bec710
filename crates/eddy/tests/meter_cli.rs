//! `eddy meter` as a user runs it: stdin input, formats, errors.

mod common;

use std::io::Write;
use std::process::Stdio;

use common::{eddy, parse_csv, shared_testdata};

fn tls12() -> std::path::PathBuf {
    shared_testdata().join("pcap/tls/flowtest_tls12.pcap")
}

#[test]
fn stdin_gives_the_same_flows_as_the_file() {
    let from_file = eddy()
        .args(["meter", "-o", "csv", "-q", "-r"])
        .arg(tls12())
        .output()
        .unwrap();
    let mut child = eddy()
        .args(["meter", "-o", "csv", "-q", "-r", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&std::fs::read(tls12()).unwrap())
        .unwrap();
    let from_stdin = child.wait_with_output().unwrap();
    assert!(from_stdin.status.success());
    assert_eq!(from_file.stdout, from_stdin.stdout);
    // Four flows: the 35 s pause splits the client's direction (inactive 30 s).
    assert_eq!(
        parse_csv(&String::from_utf8(from_file.stdout).unwrap()).len(),
        4
    );
}

#[test]
fn summary_goes_to_stderr_unless_quiet() {
    let out = eddy()
        .args(["meter", "-o", "json", "-r"])
        .arg(tls12())
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("packets read 26, decoded 26, skipped 0"),
        "{stderr}"
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 4);
    assert!(stdout
        .lines()
        .all(|l| l.starts_with('{') && l.ends_with('}')));
}

#[test]
fn line_format_has_nfdump_header_and_summary() {
    let out = eddy().args(["meter", "-r"]).arg(tls12()).output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.starts_with("Date first seen "));
    assert!(stdout
        .trim_end()
        .lines()
        .last()
        .unwrap()
        .starts_with("Summary: total flows: 4, total bytes: 7016, total packets: 26"));
}

#[test]
fn biflow_pairs_directions_in_csv() {
    let out = eddy()
        .args(["meter", "-o", "csv", "-q", "--biflow", "-r"])
        .arg(tls12())
        .output()
        .unwrap();
    let rows = parse_csv(&String::from_utf8(out.stdout).unwrap());
    let packets: u64 = rows
        .iter()
        .map(|r| r.num("packets") + r.num("rev_packets"))
        .sum();
    assert_eq!(packets, 26);
    assert!(rows.len() < 3, "both directions should share a record");
}

#[test]
fn bad_input_is_a_clear_error() {
    let missing = eddy()
        .args(["meter", "-r", "/nonexistent.pcap"])
        .output()
        .unwrap();
    assert!(!missing.status.success());
    let err = String::from_utf8(missing.stderr).unwrap();
    assert!(err.contains("/nonexistent.pcap"), "{err}");

    let garbage = std::env::temp_dir().join(format!("eddy-garbage-{}.pcap", std::process::id()));
    std::fs::write(&garbage, b"this is not a capture file at all").unwrap();
    let out = eddy().args(["meter", "-r"]).arg(&garbage).output().unwrap();
    let _ = std::fs::remove_file(&garbage);
    assert!(!out.status.success());
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains("eddy-garbage"));

    let huge = eddy()
        .args(["meter", "--active", "20000000000", "-r"])
        .arg(tls12())
        .output()
        .unwrap();
    assert!(!huge.status.success());
    assert!(String::from_utf8(huge.stderr)
        .unwrap()
        .contains("--active 20000000000: too large"));

    let neither = eddy().args(["meter"]).output().unwrap();
    assert!(!neither.status.success());
    assert!(String::from_utf8(neither.stderr)
        .unwrap()
        .contains("-r FILE"));
}
