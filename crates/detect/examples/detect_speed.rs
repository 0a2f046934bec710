//! Detector throughput on a synthetic mix: ~1M flows (mostly benign web,
//! DNS and SSH traffic of a /16 of clients, plus a horizontal scan, a
//! vertical scan, an SSH brute force, a DNS amplification and a SYN
//! flood) in batches of 8192, fed to each detector alone on one core.
//!
//! `cargo run --release -p detect --example detect_speed [FLOWS]`

use std::net::Ipv4Addr;
use std::time::Instant;

use arrow_array::RecordBatch;
use detect::{Alert, Detector, Flows};
use record::FlowRecord;

const BASE_NS: u64 = 1_704_067_200_000_000_000;
const SYN: u8 = 0x02;
const ACK: u8 = 0x10;
const PSH: u8 = 0x08;
const FIN: u8 = 0x01;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn v4(a: u32) -> std::net::Ipv6Addr {
    Ipv4Addr::from(a).to_ipv6_mapped()
}

#[allow(clippy::too_many_arguments)]
fn rec(
    t_ns: u64,
    src: u32,
    dst: u32,
    sport: u16,
    dport: u16,
    proto: u8,
    flags: u8,
    packets: u64,
    bytes: u64,
) -> FlowRecord {
    FlowRecord {
        first_ns: t_ns,
        last_ns: t_ns + 50_000_000,
        src_ip: v4(src),
        dst_ip: v4(dst),
        src_port: sport,
        dst_port: dport,
        proto,
        tcp_flags: flags,
        packets,
        bytes,
        ..FlowRecord::default()
    }
}

/// Flow `i` of `n` over 600 s of record time.
fn make(i: u64, n: u64, r: &mut Rng) -> FlowRecord {
    let t = BASE_NS + i * (600_000_000_000 / n);
    let client = 0x0a00_0000 | r.below(65536) as u32; // 10.0/16
    let server = 0xc633_0000 | r.below(5000) as u32; // 198.51/16
    let eph = 32768 + r.below(28000) as u16;
    let roll = r.below(1000);
    match roll {
        // Attacks, 6.5 % of the flows.
        0..=9 => {
            // Horizontal scan of port 23 from 203.0.113.66.
            let dst = 0x0a00_0000 | r.below(65536) as u32;
            rec(t, 0xcb00_7142, dst, eph, 23, 6, SYN, 1, 40)
        }
        10..=14 => {
            // Vertical scan of 10.0.0.80 from 203.0.113.67.
            let port = 1 + r.below(10_000) as u16;
            rec(t, 0xcb00_7143, 0x0a00_0050, eph, port, 6, SYN, 1, 44)
        }
        15..=19 => {
            // SSH brute force from 203.0.113.68 against 8 servers.
            let dst = 0x0a00_0100 | r.below(8) as u32;
            let p = 15 + r.below(10);
            rec(
                t,
                0xcb00_7144,
                dst,
                eph,
                22,
                6,
                SYN | ACK | PSH | FIN,
                p,
                p * 150,
            )
        }
        20..=34 => {
            // DNS amplification: 500 resolvers → 10.0.0.53.
            let refl = 0x5000_0000 | r.below(500) as u32;
            rec(t, refl, 0x0a00_0035, 53, eph, 17, 0, 3, 3 * 1400)
        }
        35..=64 => {
            // SYN flood on 10.0.0.10:80 from spoofed sources.
            let src = r.next() as u32;
            rec(t, src, 0x0a00_000a, eph, 80, 6, SYN, 1, 40)
        }
        // Benign.
        65..=264 => {
            // DNS query and answer.
            let resolver = 0x0a00_ff00 | r.below(4) as u32;
            if roll % 2 == 0 {
                rec(t, client, resolver, eph, 53, 17, 0, 1, 70)
            } else {
                rec(t, resolver, client, 53, eph, 17, 0, 1, 180)
            }
        }
        265..=284 => {
            // SSH sessions.
            let p = 30 + r.below(2000);
            rec(
                t,
                client,
                server,
                eph,
                22,
                6,
                SYN | ACK | PSH | FIN,
                p,
                p * 300,
            )
        }
        285..=294 => {
            // Failed connections.
            rec(t, client, server, eph, 443, 6, SYN, 1 + r.below(3), 60)
        }
        _ => {
            // Web, both directions.
            let p = 5 + r.below(200);
            if roll % 2 == 0 {
                rec(
                    t,
                    client,
                    server,
                    eph,
                    443,
                    6,
                    SYN | ACK | PSH | FIN,
                    p,
                    p * 80,
                )
            } else {
                rec(
                    t,
                    server,
                    client,
                    443,
                    eph,
                    6,
                    SYN | ACK | PSH | FIN,
                    p,
                    p * 1200,
                )
            }
        }
    }
}

fn run(d: &mut dyn Detector, batches: &[RecordBatch]) -> (f64, Vec<Alert>) {
    let mut out: Vec<Alert> = Vec::new();
    let start = Instant::now();
    let mut next_tick = 0u64;
    for b in batches {
        let f = Flows::new(b).expect("flow batch");
        d.observe(&f, &mut out);
        let now = f.max_last();
        if now >= next_tick {
            d.tick(now, &mut out);
            next_tick = now + detect::NS;
        }
    }
    d.finish(&mut out);
    (start.elapsed().as_secs_f64(), out)
}

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1 << 20);
    let mut r = Rng(42);
    let t = Instant::now();
    let mut batches = Vec::new();
    let mut b = schema::BatchBuilder::new();
    for i in 0..n {
        b.push(&make(i, n, &mut r));
        if b.len() == 8192 {
            batches.push(b.finish());
        }
    }
    if !b.is_empty() {
        batches.push(b.finish());
    }
    println!(
        "{n} flows in {} batches, built in {:.2} s",
        batches.len(),
        t.elapsed().as_secs_f64()
    );
    type Make = fn() -> Box<dyn Detector>;
    let detectors: [Make; 5] = [
        || Box::new(detect::vportscan::VPortScan::new(Default::default())),
        || Box::new(detect::haddrscan::HAddrScan::new(Default::default())),
        || Box::new(detect::bruteforce::BruteForce::new(Default::default())),
        || Box::new(detect::amplification::Amplification::new(Default::default())),
        || Box::new(detect::hoststats::HostStats::new(Default::default())),
    ];
    for make in detectors {
        // Best of three runs, each on a fresh detector.
        let mut best = f64::MAX;
        let mut alerts = Vec::new();
        let mut name = "";
        for _ in 0..3 {
            let mut d = make();
            name = d.name();
            let (secs, a) = run(d.as_mut(), &batches);
            best = best.min(secs);
            alerts = a;
        }
        println!(
            "{name:>14}: {:>7.2} M flows/s ({:.3} s, {} alerts)",
            n as f64 / best / 1e6,
            best,
            alerts.len()
        );
        // The distinct alert kinds, with one example each.
        let mut seen: Vec<(&str, String)> = Vec::new();
        for a in &alerts {
            let src = a.sources.first().map(|e| detect::flows::ip_text(e.ip));
            let dst = a.targets.first().map(|e| detect::flows::ip_text(e.ip));
            let key = format!("{} {src:?} -> {dst:?}", a.category.join(","));
            let key = if a.sources.len() == 1 {
                format!("{} {src:?}", a.category.join(","))
            } else {
                key
            };
            if !seen.iter().any(|(_, k)| *k == key) {
                seen.push((&a.description, key));
            }
        }
        if std::env::var_os("VERBOSE").is_some() {
            for (d, k) in seen {
                println!("                {k}: {d}");
            }
        }
    }
}
