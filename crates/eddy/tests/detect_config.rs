//! `--config`: detector settings from a TOML file. The shared SYN-flood
//! capture is far below hoststats' defaults (340 flows in 14 minutes) and
//! is found once an analyst lowers them; a blacklist downloaded from a URL
//! and l7filter rules named in the file run in `eddy detect`; mistakes in
//! the file are errors that name it.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Output;

use common::{eddy, shared_testdata, TempDir};

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

fn syn_flood() -> std::path::PathBuf {
    shared_testdata()
        .join("pcap/attack/stopddos_amp.TCP.syn.optionallyACK.optionallysamePort.pcapng")
}

fn alerts(out: &Output) -> Vec<serde_yaml::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_yaml::from_str(l).expect("IDEA JSON"))
        .collect()
}

#[test]
fn the_shared_syn_flood_is_found_with_lowered_thresholds() {
    let dir = TempDir::new("detect-config-flood");
    // Nothing at NEMEA's thresholds (and no detector mistakes the SYN
    // probes for anything else).
    let none = run_ok(eddy().args(["detect", "-r"]).arg(syn_flood()));
    assert!(
        alerts(&none).is_empty(),
        "{}",
        String::from_utf8_lossy(&none.stdout)
    );

    // The example file holds the defaults (and names no files): the same.
    let example = std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("../../examples/detect.toml");
    let same = run_ok(
        eddy()
            .args(["detect", "--config"])
            .arg(&example)
            .arg("-r")
            .arg(syn_flood()),
    );
    assert!(
        alerts(&same).is_empty(),
        "{}",
        String::from_utf8_lossy(&same.stdout)
    );

    let config = dir.0.join("small.toml");
    std::fs::write(
        &config,
        "# a short capture: a window over all of it, a low flood threshold,\n\
         # and room for the ACK flows mixed into this flood\n\
         [hoststats]\nwindow_secs = 900\nflood_min_syn = 200\nflood_max_packets_per_flow = 3\n",
    )
    .unwrap();
    let out = run_ok(
        eddy()
            .args(["detect", "--detectors", "hoststats", "--config"])
            .arg(&config)
            .arg("-r")
            .arg(syn_flood()),
    );
    let found = alerts(&out);
    assert_eq!(found.len(), 1, "{found:#?}");
    let a = &found[0];
    assert_eq!(a["Category"][0].as_str(), Some("Availability.DoS"));
    assert_eq!(a["Target"][0]["IP4"][0].as_str(), Some("10.10.10.10"));
    // The busiest attacker first.
    assert_eq!(a["Source"][0]["IP4"][0].as_str(), Some("136.243.174.154"));
    assert!(a["Description"].as_str().unwrap().contains("SYN flood"));
}

/// Serves `body` to every GET, until the test ends.
fn serve(body: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in listener.incoming() {
            let Ok(mut s) = s else { return };
            let mut buf = [0u8; 2048];
            let _ = s.read(&mut buf);
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    format!("http://{addr}/drop.txt")
}

#[test]
fn lists_and_rules_named_in_the_config_run_in_eddy_detect() {
    let dir = TempDir::new("detect-config-lists");
    let pcap = dir.0.join("bl.pcap");
    run_ok(
        eddy()
            .args(["gen", "pcap", "--flows", "500", "--attack", "blacklist"])
            .arg(&pcap),
    );
    std::fs::write(
        dir.0.join("rules.txt"),
        "Malware.Trojan | gate | http_url ~ \"^/gate\\.php\"\n",
    )
    .unwrap();
    let url = serve("; Spamhaus DROP style\n203.0.113.248/29 ; SBL1\n");
    let config = dir.0.join("lists.toml");
    std::fs::write(
        &config,
        format!(
            "[[blacklist.lists]]\nkind = \"ip\"\npath = \"drop.txt\"\ncategory = \"Intrusion.Botnet\"\nurl = \"{url}\"\n\n[l7filter]\nrules = \"rules.txt\"\n"
        ),
    )
    .unwrap();
    let out = run_ok(
        eddy()
            .arg("detect")
            .arg("--config")
            .arg(&config)
            .arg("-r")
            .arg(&pcap),
    );
    // The list was downloaded next to the config file.
    assert!(std::fs::read_to_string(dir.0.join("drop.txt"))
        .unwrap()
        .contains("203.0.113.248/29"));
    let found = alerts(&out);
    let by = |node: &str| {
        found
            .iter()
            .filter(|a| a["Node"][0]["Name"].as_str() == Some(node))
            .count()
    };
    assert!(by("org.eddy.blacklist") > 0, "{found:#?}");
    assert!(by("org.eddy.l7filter") > 0, "{found:#?}");
    assert!(found
        .iter()
        .any(|a| a["Target"][0]["IP4"][0].as_str() == Some("203.0.113.250")));

    // The same config for the blacklist module: it downloads the list
    // again and says so in its statistics.
    let flows = dir.0.join("flows.arrows");
    run_ok(
        eddy()
            .args(["meter", "-q", "-o", "csv", "-r"])
            .arg(&pcap)
            .arg("--stream")
            .arg(format!("f:{}", flows.display())),
    );
    let idea = dir.0.join("bl.idea");
    let out = run_ok(
        eddy()
            .args(["module", "blacklist", "-S", "60", "--config"])
            .arg(&config)
            .arg("--idea")
            .arg(&idea)
            .arg("-i")
            .arg(format!("f:{},b:", flows.display()))
            .env("EDDY_SOCKET_DIR", dir.0.join("s")),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("list_downloads:1") && err.contains("list_download_failures:0"),
        "{err}"
    );
    assert!(std::fs::read_to_string(&idea)
        .unwrap()
        .contains("203.0.113.250"));
}

#[test]
fn mistakes_in_the_config_name_the_file() {
    let dir = TempDir::new("detect-config-bad");
    let bad = dir.0.join("bad.toml");
    std::fs::write(&bad, "[vportscan]\nthreshold = \"fifty\"\n").unwrap();
    for args in [
        vec![
            "module",
            "vportscan",
            "-i",
            "f:/nonexistent.arrows,b:",
            "--config",
        ],
        vec!["detect", "-r", "/nonexistent.pcap", "--config"],
    ] {
        let out = eddy().args(&args).arg(&bad).output().unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("bad.toml") && err.contains("threshold"),
            "{err}"
        );
    }
    let unknown = dir.0.join("unknown.toml");
    std::fs::write(&unknown, "[hoststats]\nflood_threshold = 5\n").unwrap();
    let out = eddy()
        .args(["detect", "-r"])
        .arg(syn_flood())
        .arg("--config")
        .arg(&unknown)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("flood_threshold"),
        "{err}"
    );
}
