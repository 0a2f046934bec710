//! Wireshark's opinion of a generated file: no errors, nothing malformed,
//! and the application messages it dissects match the summary's counts.
//! Skipped (with a note) when `tshark` is not on PATH.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use trafgen::{write_pcap, GenConfig, GenSummary};

fn tshark(args: &[&str]) -> Option<String> {
    let out = Command::new("tshark").args(args).output().ok()?;
    assert!(
        out.status.success(),
        "tshark {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8(out.stdout).expect("tshark prints UTF-8"))
}

fn generate(name: &str, cfg: &GenConfig) -> (PathBuf, GenSummary) {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let summary = write_pcap(cfg, file).unwrap();
    (path, summary)
}

/// Checksum validation is off in Wireshark by default; a bad one is an error.
const CHECKSUMS: [&str; 6] = [
    "-o",
    "ip.check_checksum:TRUE",
    "-o",
    "tcp.check_checksum:TRUE",
    "-o",
    "udp.check_checksum:TRUE",
];

#[test]
fn tshark_finds_no_errors_and_counts_match() {
    if Command::new("tshark").arg("--version").output().is_err() {
        eprintln!("note: tshark not on PATH, skipping the dissection test");
        return;
    }
    let cfg = GenConfig {
        flows: 3000,
        seed: 42,
        ipv6_share_pct: 20,
        vlan_share_pct: 10,
        ..GenConfig::default()
    };
    let (path, s) = generate("trafgen-tshark.pcap", &cfg);
    let file = path.to_str().unwrap();

    let mut args = vec!["-r", file];
    args.extend(CHECKSUMS);
    args.extend([
        "-Y",
        "_ws.expert.severity == error || _ws.malformed",
        "-T",
        "fields",
        "-e",
        "frame.number",
    ]);
    let bad = tshark(&args).unwrap();
    assert!(
        bad.trim().is_empty(),
        "frames with errors: {}",
        bad.split_whitespace()
            .take(20)
            .collect::<Vec<_>>()
            .join(" ")
    );

    // Warnings other than these two would mean something is off:
    // RSTs are deliberate, and Wireshark 4.0 does not decode ed25519 host
    // key signatures in SSH (it warns "Decoded 19 bytes, but packet legnth is 83").
    let warned = tshark(&[
        "-r",
        file,
        "-Y",
        "_ws.expert.severity == warning",
        "-T",
        "fields",
        "-e",
        "_ws.expert.message",
    ])
    .unwrap();
    for line in warned.lines() {
        let rest = line
            .replace("Connection reset (RST)", "")
            .replace("Decoded 19 bytes, but packet legnth is 83 bytes", "");
        assert!(rest.chars().all(|c| c == ','), "unexpected warning: {line}");
    }

    // TCP analysis flags nothing but the scanners' SYN retransmissions.
    let analysed = tshark(&[
        "-r",
        file,
        "-Y",
        "tcp.analysis.flags && !tcp.analysis.retransmission",
        "-T",
        "fields",
        "-e",
        "frame.number",
    ])
    .unwrap();
    assert!(
        analysed.trim().is_empty(),
        "TCP analysis complains about frames {analysed}"
    );

    let fields = tshark(&[
        "-r",
        file,
        "-T",
        "fields",
        "-E",
        "separator=|",
        "-e",
        "http.request.method",
        "-e",
        "http.host",
        "-e",
        "http.response.code",
        "-e",
        "tls.handshake.extensions_server_name",
        "-e",
        "dns.flags.response",
        "-e",
        "dns.qry.name",
    ])
    .unwrap();
    let (mut frames, mut requests, mut hosts, mut responses, mut snis, mut queries, mut answers) =
        (0, 0, 0, 0, 0, 0, 0);
    for line in fields.lines() {
        let f: Vec<&str> = line.split('|').collect();
        frames += 1;
        requests += u64::from(!f[0].is_empty());
        hosts += u64::from(!f[0].is_empty() && !f[1].is_empty());
        responses += u64::from(!f[2].is_empty());
        snis += u64::from(!f[3].is_empty());
        let has_name = !f[5].is_empty();
        queries += u64::from(has_name && matches!(f[4], "0" | "False"));
        answers += u64::from(has_name && matches!(f[4], "1" | "True"));
    }
    assert_eq!(frames, s.packets, "records in the file");
    assert_eq!(requests, s.http_requests, "HTTP requests");
    assert_eq!(hosts, s.http_requests, "HTTP requests with a Host");
    assert_eq!(responses, s.http_responses, "HTTP responses");
    assert_eq!(snis, s.tls_client_hellos, "TLS SNIs");
    assert_eq!(queries, s.dns_queries, "DNS queries");
    assert_eq!(answers, s.dns_responses, "DNS responses");
    assert!(requests > 0 && snis > 0 && queries > 0);
    std::fs::remove_file(&path).ok();
}
