//! IDEA validation: every alert eddy's detectors raise fits the IDEA0
//! schema (`test_data/idea/idea0.schema.json`, checked by
//! `scripts/idea-validate --strict` with Python's jsonschema). The schema
//! itself is checked against NEMEA's reporters' alerts, and the validator
//! against alerts broken on purpose.

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use common::{eddy, shared_testdata, TempDir};

fn validator() -> PathBuf {
    std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("../../scripts/idea-validate")
}

/// Python with jsonschema; in CI its absence is a failure.
fn have_jsonschema() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import jsonschema"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        assert!(
            std::env::var("CI").is_err(),
            "python3 with jsonschema is required in CI"
        );
        eprintln!("skipping: python3 jsonschema is not installed");
    }
    ok
}

/// Runs the validator on `lines`; returns (success, its report).
fn validate(lines: &str, strict: bool) -> (bool, String) {
    let mut cmd = Command::new("python3");
    cmd.arg(validator());
    if strict {
        cmd.arg("--strict");
    }
    let mut child = cmd
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run scripts/idea-validate");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(lines.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn nemea_reporters_alerts_fit_the_schema() {
    if !have_jsonschema() {
        return;
    }
    let dir = shared_testdata().join("reference/nemea_report2idea");
    let mut all = String::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.to_string_lossy().ends_with(".idea.jsonl") {
            all.push_str(&std::fs::read_to_string(&path).unwrap());
        }
    }
    assert!(all.lines().count() > 40, "NEMEA's samples are missing");
    let (ok, report) = validate(&all, false);
    assert!(ok, "{report}");
}

#[test]
fn the_validator_refuses_broken_alerts() {
    if !have_jsonschema() {
        return;
    }
    let good = r#"{"Format":"IDEA0","ID":"a1","DetectTime":"2026-01-01T00:00:00Z","Category":["Recon.Scanning"],"Source":[{"IP4":["192.0.2.1"],"Port":[22]}],"Node":[{"Name":"org.eddy.test","Type":["Flow"]}]}"#;
    let (ok, report) = validate(good, true);
    assert!(ok, "{report}");
    for broken in [
        good.replace(r#""ID":"a1","#, ""),
        good.replace("Recon.Scanning", "Recon"),
        good.replace("192.0.2.1", "192.0.2.300"),
        good.replace("[22]", "[70000]"),
        good.replace("2026-01-01T00:00:00Z", "2026-01-01 midnight"),
        good.replace(r#""Port":"#, r#""Ports":"#),
    ] {
        let (ok, report) = validate(&broken, true);
        assert!(!ok, "accepted {broken}: {report}");
    }
}

#[test]
fn every_detectors_alerts_fit_the_schema() {
    if !have_jsonschema() {
        return;
    }
    let dir = TempDir::new("idea-schema");
    let pcap = dir.0.join("attacks.pcap");
    let gen = eddy()
        .args(["gen", "pcap", "--flows", "3000", "--attack", "all"])
        .arg(&pcap)
        .output()
        .unwrap();
    assert!(gen.status.success());
    // blacklist and l7filter with their files, so every detector runs.
    std::fs::write(dir.0.join("drop.txt"), "203.0.113.248/29 ; SBL1\n").unwrap();
    std::fs::write(dir.0.join("domains.txt"), "malware.example.net\n").unwrap();
    std::fs::write(
        dir.0.join("rules.txt"),
        "Malware.Trojan | gate | http_url ~ \"^/gate\\.php\"\n",
    )
    .unwrap();
    let config = dir.0.join("detect.toml");
    std::fs::write(
        &config,
        "[[blacklist.lists]]\nkind = \"ip\"\npath = \"drop.txt\"\n\
         [[blacklist.lists]]\nkind = \"domain\"\npath = \"domains.txt\"\ncategory = \"Malware.Trojan\"\n\
         [l7filter]\nrules = \"rules.txt\"\n",
    )
    .unwrap();
    let out = eddy()
        .args(["detect", "--config"])
        .arg(&config)
        .arg("-r")
        .arg(&pcap)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = String::from_utf8(out.stdout).unwrap();
    for name in detect_names() {
        assert!(
            lines.contains(&format!("\"org.eddy.{name}\"")),
            "no alert from {name} to validate"
        );
    }
    let (ok, report) = validate(&lines, true);
    assert!(ok, "{report}");
}

/// Every detector.
fn detect_names() -> &'static [&'static str] {
    &[
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
    ]
}
