//! Detectors end to end: `eddy gen --attack` mixes attacks into benign
//! traffic and each detector names the right hosts; benign generated
//! traffic and benign shared captures raise nothing; the shared SSH
//! brute-force capture is found; blacklist and l7filter run as stream
//! modules with their files.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Output;

use common::{eddy, shared_testdata, test_data, TempDir};

fn run_ok(cmd: &mut std::process::Command) -> Output {
    let out = cmd.output().expect("run eddy");
    assert!(
        out.status.success(),
        "{:?}: {}",
        cmd,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// (detector, first category, first source, first target) of each alert.
fn alerts(idea_lines: &str) -> BTreeSet<(String, String, String, String)> {
    idea_lines
        .lines()
        .map(|l| {
            let v: serde_yaml::Value = serde_yaml::from_str(l).expect("IDEA JSON");
            for key in ["Format", "ID", "DetectTime", "Category"] {
                assert!(!v[key].is_null(), "IDEA without {key}: {l}");
            }
            assert_eq!(v["Format"].as_str(), Some("IDEA0"));
            let ip = |side: &str| {
                let e = &v[side][0];
                e["IP4"][0]
                    .as_str()
                    .or(e["IP6"][0].as_str())
                    .unwrap_or("")
                    .to_string()
            };
            let node = v["Node"][0]["Name"]
                .as_str()
                .unwrap_or("")
                .trim_start_matches("org.eddy.")
                .to_string();
            (
                node,
                v["Category"][0].as_str().unwrap_or("").to_string(),
                ip("Source"),
                ip("Target"),
            )
        })
        .collect()
}

fn detect(pcap: &Path) -> BTreeSet<(String, String, String, String)> {
    let out = run_ok(eddy().args(["detect", "-r"]).arg(pcap));
    alerts(&String::from_utf8(out.stdout).unwrap())
}

fn has(
    found: &BTreeSet<(String, String, String, String)>,
    detector: &str,
    category: &str,
    source: &str,
    target: &str,
) -> bool {
    found.iter().any(|(d, c, s, t)| {
        d == detector && c == category && s == source && (target.is_empty() || t == target)
    })
}

#[test]
fn each_generated_attack_is_found_with_its_hosts() {
    let dir = TempDir::new("detect-gen");
    let pcap = dir.0.join("attacks.pcap");
    run_ok(
        eddy()
            .args(["gen", "pcap", "--flows", "3000", "--attack", "all"])
            .arg(&pcap),
    );
    let found = detect(&pcap);
    for (detector, category, source, target) in [
        ("vportscan", "Recon.Scanning", "203.0.113.11", "192.0.2.21"),
        ("haddrscan", "Recon.Scanning", "203.0.113.12", ""),
        ("hoststats", "Recon.Scanning", "203.0.113.12", ""),
        ("bruteforce", "Attempt.Login", "203.0.113.31", "192.0.2.22"),
        ("bruteforce", "Attempt.Login", "203.0.113.32", "192.0.2.33"),
        ("hoststats", "Attempt.Login", "203.0.113.31", "192.0.2.22"),
        (
            "amplification",
            "Availability.DDoS",
            "198.51.100.10",
            "192.0.2.90",
        ),
        ("sip_bf", "Attempt.Login", "203.0.113.41", "192.0.2.50"),
        ("voip_fraud", "Attempt.Login", "203.0.113.42", "192.0.2.50"),
        (
            "dns_tunnel",
            "Anomaly.Connection",
            "192.0.2.70",
            "192.0.2.53",
        ),
        ("miner", "Suspicious.Miner", "192.0.2.100", "198.51.100.77"),
    ] {
        assert!(
            has(&found, detector, category, source, target),
            "{detector} did not report {source} -> {target}: {found:#?}"
        );
    }
    // Nothing else: every alert is about an attacker the generator planted.
    let attackers = [
        "203.0.113.11",
        "203.0.113.12",
        "203.0.113.31",
        "203.0.113.32",
        "198.51.100.10",
        "203.0.113.41",
        "203.0.113.42",
        "192.0.2.70",
        "192.0.2.100",
    ];
    for (d, _, s, _) in &found {
        assert!(
            attackers.contains(&s.as_str()),
            "{d} blamed {s}, which is not an attacker: {found:#?}"
        );
    }
}

#[test]
fn benign_traffic_raises_nothing() {
    let dir = TempDir::new("detect-benign");
    let pcap = dir.0.join("benign.pcap");
    run_ok(eddy().args(["gen", "pcap", "--flows", "5000"]).arg(&pcap));
    let mut captures = vec![pcap, test_data().join("sample.pcap")];
    for p in [
        "pcap/http/ipfixprobe_http.pcap",
        "pcap/tls/flowtest_tls12.pcap",
        "pcap/dns/ipfixprobe_dns.pcap",
        "pcap/sip/nfstream_sip.pcap",
        "pcap/smtp/ipfixprobe_smtp.pcap",
    ] {
        let path = shared_testdata().join(p);
        if path.exists() {
            captures.push(path);
        }
    }
    for c in captures {
        let found = detect(&c);
        assert!(found.is_empty(), "{}: {found:#?}", c.display());
    }
}

#[test]
fn the_shared_ssh_brute_force_capture_is_found() {
    let pcap = shared_testdata().join("pcap/attack/traceshare_hydra-8_tasks.pcap");
    let found = detect(&pcap);
    assert!(
        has(
            &found,
            "bruteforce",
            "Attempt.Login",
            "240.0.1.4",
            "240.125.0.2"
        ),
        "{found:#?}"
    );
}

#[test]
fn blacklist_and_l7filter_run_as_modules() {
    let dir = TempDir::new("detect-lists");
    let sockets = dir.0.join("s");
    let pcap = dir.0.join("bl.pcap");
    run_ok(
        eddy()
            .args(["gen", "pcap", "--flows", "500", "--attack", "blacklist"])
            .arg(&pcap),
    );
    let flows = dir.0.join("flows.arrows");
    run_ok(
        eddy()
            .args(["meter", "-q", "-o", "csv", "-r"])
            .arg(&pcap)
            .arg("--stream")
            .arg(format!("f:{}", flows.display())),
    );

    let domains = dir.0.join("domains.txt");
    std::fs::write(&domains, "# malware\nmalware.example.net\n").unwrap();
    let ips = dir.0.join("drop.txt");
    std::fs::write(&ips, "; Spamhaus DROP style\n203.0.113.248/29 ; SBL1\n").unwrap();
    let idea = dir.0.join("bl.idea");
    run_ok(
        eddy()
            .args(["module", "blacklist", "-i"])
            .arg(format!("f:{},b:", flows.display()))
            .arg("--domain-list")
            .arg(format!("{}:Intrusion.Botnet", domains.display()))
            .arg("--ip-list")
            .arg(&ips)
            .arg("--idea")
            .arg(&idea)
            .env("EDDY_SOCKET_DIR", &sockets),
    );
    let found = alerts(&std::fs::read_to_string(&idea).unwrap());
    for host in ["192.0.2.110", "192.0.2.111", "192.0.2.112"] {
        assert!(
            found
                .iter()
                .any(|(d, _, s, _)| d == "blacklist" && s == host),
            "{host} not reported: {found:#?}"
        );
    }
    assert!(
        found.iter().any(|(_, _, _, t)| t == "203.0.113.250"),
        "{found:#?}"
    );

    let rules = dir.0.join("rules.txt");
    std::fs::write(&rules, "# the seed's rule, and one for this capture\nIntrusion.Botnet | C&C | http_user_agent ~ \"demo_bot-.*\" or http_url ~ \"/demo/bot$\" or http_host ~ \"evilcorp.com$\"\nMalware.Trojan | gate | http_url ~ \"^/gate\\.php\"\n").unwrap();
    let idea = dir.0.join("l7.idea");
    run_ok(
        eddy()
            .args(["module", "l7filter", "-i"])
            .arg(format!("f:{},b:", flows.display()))
            .arg("-f")
            .arg(&rules)
            .arg("--idea")
            .arg(&idea)
            .env("EDDY_SOCKET_DIR", &sockets),
    );
    let found = alerts(&std::fs::read_to_string(&idea).unwrap());
    assert!(
        !found.is_empty()
            && found
                .iter()
                .all(|(d, c, _, _)| d == "l7filter" && c == "Malware.Trojan"),
        "{found:#?}"
    );
}

#[test]
fn a_listed_mining_pool_alerts_at_once() {
    let dir = TempDir::new("detect-pools");
    let pcap = dir.0.join("m.pcap");
    run_ok(
        eddy()
            .args(["gen", "pcap", "--flows", "200", "--attack", "stratum"])
            .arg(&pcap),
    );
    let flows = dir.0.join("m.arrows");
    run_ok(
        eddy()
            .args(["meter", "-q", "-o", "csv", "-r"])
            .arg(&pcap)
            .arg("--stream")
            .arg(format!("f:{}", flows.display())),
    );
    let pools = dir.0.join("pools.txt");
    std::fs::write(&pools, "# pools\n198.51.100.77:3333\n").unwrap();
    let out = run_ok(
        eddy()
            .args(["module", "miner", "-i"])
            .arg(format!("f:{},b:", flows.display()))
            .arg("--pools")
            .arg(&pools)
            .args(["--idea", "-"])
            .env("EDDY_SOCKET_DIR", dir.0.join("s")),
    );
    let found = alerts(&String::from_utf8(out.stdout).unwrap());
    assert!(
        has(
            &found,
            "miner",
            "Suspicious.Miner",
            "192.0.2.100",
            "198.51.100.77"
        ),
        "{found:#?}"
    );
}
