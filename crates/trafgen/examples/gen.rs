//! Generates a pcap and reports how long it took:
//!
//! ```text
//! cargo run --release -p trafgen --example gen -- OUT.pcap [FLOWS] [SEED] [ATTACKS]
//! ```
//!
//! OUT may be `-` to discard the output and time generation alone.
//! ATTACKS is a comma-separated list of attacks to mix in, or `all`.

use std::fs::File;
use std::io::{self, BufWriter};
use std::time::Instant;

fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let out = args.get(1).map(String::as_str).unwrap_or("-");
    let flows = args
        .get(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let seed = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1);
    let attacks = match args.get(4) {
        Some(list) => trafgen::Attack::parse_list(list)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?,
        None => Vec::new(),
    };
    let cfg = trafgen::GenConfig {
        flows,
        seed,
        attacks,
        ..trafgen::GenConfig::default()
    };
    let started = Instant::now();
    let s = if out == "-" {
        trafgen::write_pcap(&cfg, io::sink())?
    } else {
        trafgen::write_pcap(&cfg, BufWriter::with_capacity(1 << 20, File::create(out)?))?
    };
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "{} flows, {} packets ({:.1}/flow), {} bytes ({:.0} B/packet), {:.1} s of traffic; {:.2} s to generate ({:.1} Mpkt/s)",
        s.flows,
        s.packets,
        s.packets as f64 / s.flows as f64,
        s.bytes,
        s.bytes as f64 / s.packets as f64,
        (s.last_ns - s.first_ns) as f64 / 1e9,
        secs,
        s.packets as f64 / secs / 1e6,
    );
    for (i, (name, n)) in s.by_kind.iter().enumerate() {
        let p = s.packets_by_kind[i];
        eprintln!(
            "  {name:<10} {n:>9} flows {:>5.1}%  {:>6.1} packets/flow",
            *n as f64 * 100.0 / s.flows as f64,
            p as f64 / *n as f64
        );
    }
    eprintln!(
        "  ipv6 {} vlan {}; http {} requests {} responses; tls {} hellos; dns {} queries {} responses",
        s.ipv6_flows, s.vlan_flows, s.http_requests, s.http_responses, s.tls_client_hellos, s.dns_queries, s.dns_responses
    );
    for a in &s.attacks {
        eprintln!(
            "  attack {:<10} {:>6} conversations {:>7} packets {:>9} bytes",
            a.attack.name(),
            a.conversations,
            a.packets,
            a.bytes
        );
    }
    Ok(())
}
