//! Alerts end to end: a generated capture with a vertical scan and an SSH
//! brute force → `eddy meter --stream` → the detectors as modules → alert
//! streams → `eddy module report` (the alert store, a rules file) →
//! `eddy alerts` lists and filters them.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{eddy, TempDir};

fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("run eddy");
    assert!(
        out.status.success(),
        "{:?}: {}",
        cmd,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn f(path: &Path) -> String {
    format!("f:{}", path.display())
}

/// `eddy alerts --db DB ARGS...` as lines.
fn list(db: &Path, args: &[&str]) -> Vec<String> {
    let out = run_ok(eddy().arg("alerts").arg("--db").arg(db).args(args));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn detector_alerts_are_stored_routed_and_listed() {
    let dir = TempDir::new("report");
    let sockets = dir.0.join("s");
    let pcap = dir.0.join("attacks.pcap");
    run_ok(
        eddy()
            .args(["gen", "pcap", "--flows", "2000", "--attack", "vscan,sshbf"])
            .arg(&pcap),
    );
    let flows = dir.0.join("flows.arrows");
    run_ok(
        eddy()
            .args(["meter", "-q", "-o", "csv", "-r"])
            .arg(&pcap)
            .arg("--stream")
            .arg(f(&flows)),
    );
    let (a1, a2) = (dir.0.join("a1.arrows"), dir.0.join("a2.arrows"));
    for (detector, out) in [("vportscan", &a1), ("bruteforce", &a2)] {
        run_ok(
            eddy()
                .args(["module", detector, "-i"])
                .arg(format!("{},{}", f(&flows), f(out)))
                .env("EDDY_SOCKET_DIR", &sockets),
        );
    }
    let inputs = format!("{},{}", f(&a1), f(&a2));

    // No rules: everything to the store.
    let db = dir.0.join("alerts.db");
    let out = run_ok(
        eddy()
            .args(["module", "report", "-S", "60", "-i", &inputs, "--db"])
            .arg(&db)
            .env("EDDY_SOCKET_DIR", &sockets),
    );
    let stats = String::from_utf8_lossy(&out.stderr).to_string();

    let recon = list(&db, &["-c", "Recon"]);
    assert!(!recon.is_empty(), "no Recon alerts; report said {stats}");
    for line in &recon {
        assert!(
            line.contains(" vportscan Recon.Scanning 203.0.113.11 -> "),
            "{line}"
        );
    }
    let attempt = list(&db, &["-c", "Attempt"]);
    assert!(
        !attempt.is_empty(),
        "no Attempt alerts; report said {stats}"
    );
    for line in &attempt {
        assert!(
            line.contains(" bruteforce Attempt.Login 203.0.113.31 -> "),
            "{line}"
        );
    }
    let all = list(&db, &[]);
    assert_eq!(all.len(), recon.len() + attempt.len(), "{all:#?}");
    // Filters: detector, address, limit, time, and IDEA JSON output.
    assert_eq!(list(&db, &["--detector", "bruteforce"]), attempt);
    assert_eq!(list(&db, &["--address", "203.0.113.11"]), recon);
    assert_eq!(list(&db, &["-n", "1"]).len(), 1);
    assert!(list(&db, &["--since", "2100-01-01T00:00:00Z"]).is_empty());
    assert_eq!(
        list(&db, &["--until", "2100/01/01.00:00:00"]).len(),
        all.len()
    );
    let json = list(&db, &["-c", "Attempt", "-o", "json"]);
    assert_eq!(json.len(), attempt.len());
    for line in &json {
        let v: serde_yaml::Value = serde_yaml::from_str(line).expect("IDEA JSON");
        assert_eq!(v["Format"].as_str(), Some("IDEA0"));
        assert_eq!(v["Source"][0]["IP4"][0].as_str(), Some("203.0.113.31"));
    }

    run_ok(
        eddy()
            .args(["module", "report", "-i", &inputs, "--db"])
            .arg(&db)
            .env("EDDY_SOCKET_DIR", &sockets),
    );
    // The same alerts again: the store keeps each IDEA ID once, and an
    // alert merged into its attack's first is not counted twice.
    assert_eq!(list(&db, &[]), all);

    // Rules: brute force to a JSON lines file, everything to a second store.
    let db2 = dir.0.join("routed.db");
    let jsonl = dir.0.join("bf.jsonl");
    let rules = dir.0.join("rules.toml");
    std::fs::write(
        &rules,
        format!(
            "[groups]\nattackers = [\"203.0.113.0/24\"]\n\n\
             [[route]]\nmatch = {{ category = [\"Attempt\"], source = [\"@attackers\"] }}\n\
             to = {{ file = \"{}\" }}\n\n\
             [[route]]\nto = {{ store = \"{}\" }}\n",
            jsonl.display(),
            db2.display()
        ),
    )
    .unwrap();
    run_ok(
        eddy()
            .args(["module", "report", "-i", &inputs, "-c"])
            .arg(&rules)
            .env("EDDY_SOCKET_DIR", &sockets),
    );
    let routed = std::fs::read_to_string(&jsonl).unwrap();
    assert!(!routed.is_empty());
    for line in routed.lines() {
        assert!(line.contains("\"IP4\":[\"203.0.113.31\"]"), "{line}");
    }
    // Aggregation may have merged repeated reports of one attack; every
    // stored row is an attack, every row of the file one of them.
    let stored = list(&db2, &["-c", "Attempt", "-o", "json"]);
    assert_eq!(stored.len(), routed.lines().count());
    assert!(!list(&db2, &["-c", "Recon"]).is_empty());

    // A webhook server that never answers holds up neither the stream nor
    // the end: the store gets every alert, the end waits `drain` seconds
    // (not the 5 s timeout per alert) and counts the rest as lost.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming() {
            held.push(s);
        }
    });
    let db3 = dir.0.join("hooked.db");
    std::fs::write(
        &rules,
        format!(
            "timeout = 5\ndrain = 0.3\n[[route]]\n\
             to = {{ store = \"{}\", webhook = \"http://127.0.0.1:{port}/\", queue = 1 }}\n",
            db3.display()
        ),
    )
    .unwrap();
    let start = std::time::Instant::now();
    let out = run_ok(
        eddy()
            .args(["module", "report", "-S", "60", "-i", &inputs, "-c"])
            .arg(&rules)
            .env("EDDY_SOCKET_DIR", &sockets),
    );
    let took = start.elapsed();
    assert!(took < std::time::Duration::from_secs(4), "took {took:?}");
    assert_eq!(list(&db3, &[]), all);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("lost"), "{err}");
    assert!(err.contains("dropped"), "{err}");
    assert!(err.contains("webhook:{delivered:0,"), "{err}");

    // A bad rules file is refused with the key named.
    std::fs::write(&rules, "[[route]]\nto = { stor = \"x.db\" }\n").unwrap();
    let out = eddy()
        .args(["module", "report", "-i", &inputs, "-c"])
        .arg(&rules)
        .env("EDDY_SOCKET_DIR", &sockets)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown field `stor`"), "{err}");
}

/// The shared attack captures through the whole chain: meter → detector
/// modules (bruteforce; hoststats with thresholds lowered for a 14-minute
/// capture) → report → the alert store, listed with the right attacker,
/// victim and category.
#[test]
fn the_shared_attack_captures_reach_the_alert_store() {
    let dir = TempDir::new("report-shared");
    let sockets = dir.0.join("s");
    let attack = common::shared_testdata().join("pcap/attack");
    let config = dir.0.join("detect.toml");
    std::fs::write(
        &config,
        "[hoststats]\nwindow_secs = 900\nflood_min_syn = 200\nflood_max_packets_per_flow = 3\n",
    )
    .unwrap();
    let mut inputs = Vec::new();
    for (capture, detector) in [
        ("traceshare_hydra-8_tasks.pcap", "bruteforce"),
        (
            "stopddos_amp.TCP.syn.optionallyACK.optionallysamePort.pcapng",
            "hoststats",
        ),
    ] {
        let flows = dir.0.join(format!("{detector}.flows.arrows"));
        run_ok(
            eddy()
                .args(["meter", "-q", "-o", "csv", "-r"])
                .arg(attack.join(capture))
                .arg("--stream")
                .arg(f(&flows)),
        );
        let alerts = dir.0.join(format!("{detector}.alerts.arrows"));
        run_ok(
            eddy()
                .args(["module", detector, "--config"])
                .arg(&config)
                .arg("-i")
                .arg(format!("{},{}", f(&flows), f(&alerts)))
                .env("EDDY_SOCKET_DIR", &sockets),
        );
        inputs.push(f(&alerts));
    }
    let db = dir.0.join("alerts.db");
    run_ok(
        eddy()
            .args(["module", "report", "-i", &inputs.join(","), "--db"])
            .arg(&db)
            .env("EDDY_SOCKET_DIR", &sockets),
    );
    let brute = list(&db, &["--detector", "bruteforce"]);
    assert!(!brute.is_empty());
    assert!(
        brute
            .iter()
            .all(|l| l.contains(" bruteforce Attempt.Login 240.0.1.4 -> 240.125.0.2")),
        "{brute:#?}"
    );
    let flood = list(&db, &["--detector", "hoststats"]);
    assert_eq!(flood.len(), 1, "{flood:#?}");
    assert!(
        flood[0].contains(" hoststats Availability.DoS 136.243.174.154 -> 10.10.10.10"),
        "{flood:#?}"
    );
}
