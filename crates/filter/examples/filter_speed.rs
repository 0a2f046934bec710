//! Evaluations per second of a few typical filters over ~1M generated
//! records: `cargo run --release -p filter --example filter_speed [N]`.

use std::hint::black_box;
use std::net::Ipv4Addr;
use std::time::Instant;

use l7::{FieldStr, L7Fields};
use record::FlowRecord;

/// A small deterministic generator (xorshift64*), so runs are comparable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const HOSTS: &[&str] = &[
    "www.example.com",
    "mail.google.com",
    "cdn.example.net",
    "api.github.com",
    "seznam.cz",
];

fn records(n: usize) -> Vec<FlowRecord> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    (0..n)
        .map(|_| {
            let v6 = rng.below(5) == 0;
            let ip = |rng: &mut Rng| {
                if v6 {
                    std::net::Ipv6Addr::new(
                        0x2001,
                        0xdb8,
                        0,
                        0,
                        0,
                        0,
                        rng.below(65536) as u16,
                        rng.below(65536) as u16,
                    )
                } else {
                    Ipv4Addr::from((10u32 << 24) | rng.below(1 << 20) as u32).to_ipv6_mapped()
                }
            };
            let proto = [6u8, 6, 6, 17, 17, 1][rng.below(6) as usize];
            let dst_port = [80u16, 443, 53, 22, 8080, 25][rng.below(6) as usize];
            let first_ns = 1_700_000_000_000_000_000 + rng.below(300_000_000_000);
            let packets = 1 + rng.below(1000);
            let l7 = match (proto, dst_port, rng.below(3)) {
                (6, 80, 0) => Some(L7Fields::from(l7::http::HttpFields {
                    host: Some(FieldStr::new(HOSTS[rng.below(5) as usize])),
                    status: Some([200, 301, 404, 500][rng.below(4) as usize]),
                    ..Default::default()
                })),
                (17, 53, _) => Some(L7Fields::from(l7::dns::DnsFields {
                    qname: FieldStr::new(HOSTS[rng.below(5) as usize]),
                    qtype: 1,
                    ..Default::default()
                })),
                (6, 443, 0) => Some(L7Fields::from(l7::tls::TlsFields {
                    sni: Some(FieldStr::new(HOSTS[rng.below(5) as usize])),
                    ..Default::default()
                })),
                _ => None,
            };
            FlowRecord {
                first_ns,
                last_ns: first_ns + rng.below(60_000_000_000),
                src_ip: ip(&mut rng),
                dst_ip: ip(&mut rng),
                src_port: 1024 + rng.below(64000) as u16,
                dst_port,
                proto,
                tcp_flags: if proto == 6 { rng.below(64) as u8 } else { 0 },
                packets,
                bytes: packets * (40 + rng.below(1460)),
                l7,
                ..Default::default()
            }
        })
        .collect()
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let recs = records(n);
    let filters = [
        "any",
        "proto tcp and dst port 443",
        "src net 10.0.0.0/12 and not dst port in [ 22 25 ]",
        "ip 2001:db8::1 or net 10.1.0.0/16",
        "flags S and not flags A and packets < 4",
        "bytes > 100k or bps > 1m",
        "ip in [ 10.0.0.1 10.0.0.2 10.0.0.3 10.0.0.4 10.0.0.5 10.0.0.6 10.0.0.7 10.0.0.8 ]",
        "http_host \"www.example.com\"",
        "dns_qname ~ \"google\\.com$\"",
        "tls_sni contains \"git\" or http_status >= 400",
    ];
    println!("{n} records");
    println!("{:<82} {:>10} {:>12}", "filter", "matched", "Mevals/s");
    for text in filters {
        let f = filter::parse(text).expect("filter parses");
        // One warm-up pass (regex caches), then the best of three.
        let mut matched = recs.iter().filter(|r| f.matches(r)).count();
        let mut best = f64::MAX;
        for _ in 0..3 {
            let t = Instant::now();
            matched = black_box(&recs)
                .iter()
                .filter(|r| f.matches(black_box(r)))
                .count();
            best = best.min(t.elapsed().as_secs_f64());
        }
        println!(
            "{:<82} {:>10} {:>12.1}",
            text,
            matched,
            n as f64 / best / 1e6
        );
    }
}
