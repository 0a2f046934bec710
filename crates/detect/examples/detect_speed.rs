//! Detector throughput on a synthetic mix: ~1M flows (mostly benign web,
//! DNS and SSH traffic of a /16 of clients, plus a horizontal scan, a
//! vertical scan, an SSH brute force, a DNS amplification and a SYN
//! flood) in batches of 8192, fed to each detector alone on one core.
//! Then an L7 mix of as many flows (DNS names, HTTP hosts and URLs, TLS
//! SNI, SIP messages; with a SIP brute force, toll-fraud dialling, a DNS
//! tunnel and blacklisted hosts) for the detectors that read L7 fields:
//! every detector keeps up with 2 M flows/s on one core or it is too slow.
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

/// An L7 cell of the L7 mix.
enum Cell {
    Text(String),
    Num(u32),
}

/// Flow `i` of the L7 mix and its L7 cells.
fn make_l7(i: u64, n: u64, r: &mut Rng) -> (FlowRecord, Vec<(&'static str, Cell)>) {
    use Cell::{Num, Text};
    let t = BASE_NS + i * (600_000_000_000 / n);
    let client = 0x0a00_0000 | r.below(65536) as u32;
    let resolver = 0x0a00_ff00 | r.below(4) as u32;
    let pbx = 0x0a00_053c; // 10.0.5.60
    let eph = 32768 + r.below(28000) as u16;
    let k = r.below(5000);
    let roll = r.below(1000);
    match roll {
        0..=4 => {
            // SIP brute force on user 100 from 203.0.113.41: 401 answers.
            let f = rec(t, pbx, 0xcb00_7129, 5060, 5060, 17, 0, 1, 520);
            let cseq = format!("{} REGISTER", 1 + r.below(1000));
            let user = "<sip:100@10.0.5.60>".to_string();
            (
                f,
                vec![
                    ("sip_msg_type", Num(99)),
                    ("sip_status", Num(401)),
                    ("sip_cseq", Text(cseq)),
                    ("sip_to", Text(user.clone())),
                    ("sip_from", Text(user)),
                ],
            )
        }
        5..=9 => {
            // Toll fraud: 203.0.113.42 dials prefixes of long numbers.
            let f = rec(t, 0xcb00_712a, pbx, 5060, 5060, 17, 0, 1, 900);
            let uri = format!("sip:00{:010}@10.0.5.60", r.below(10_000_000_000));
            (
                f,
                vec![
                    ("sip_msg_type", Num(1)),
                    ("sip_method", Text("INVITE".into())),
                    ("sip_request_uri", Text(uri)),
                ],
            )
        }
        10..=19 => {
            // A DNS tunnel from 10.0.9.70: long random TXT queries.
            let f = rec(t, 0x0a00_0946, resolver, eph, 53, 17, 0, 1, 140);
            let name = format!("{:016x}{:016x}.t.tunnel.example", r.next(), r.next());
            (f, vec![("dns_qname", Text(name)), ("dns_qtype", Num(16))])
        }
        20..=24 => {
            // Blacklisted: an address and a domain.
            if roll % 2 == 0 {
                (
                    rec(t, client, 0xc633_6442, eph, 443, 6, 0x1b, 12, 4000),
                    vec![],
                )
            } else {
                let f = rec(t, client, resolver, eph, 53, 17, 0, 1, 70);
                (
                    f,
                    vec![
                        ("dns_qname", Text("malware.example.net".into())),
                        ("dns_qtype", Num(1)),
                    ],
                )
            }
        }
        25..=424 => {
            let f = rec(t, client, resolver, eph, 53, 17, 0, 1, 70);
            let name = format!("www.site{k}.example.com");
            (f, vec![("dns_qname", Text(name)), ("dns_qtype", Num(1))])
        }
        425..=724 => {
            let server = 0xc633_0000 | k as u32;
            let f = rec(t, client, server, eph, 80, 6, 0x1b, 8, 2000);
            (
                f,
                vec![
                    ("http_host", Text(format!("site{k}.example.com"))),
                    ("http_url", Text(format!("/page/{}.html", r.below(100)))),
                ],
            )
        }
        725..=744 => {
            // Benign SIP: registrations that succeed, short internal calls.
            if roll % 2 == 0 {
                let f = rec(t, pbx, client, 5060, 5060, 17, 0, 1, 500);
                let user = format!("<sip:{}@10.0.5.60>", 200 + k % 300);
                (
                    f,
                    vec![
                        ("sip_msg_type", Num(99)),
                        ("sip_status", Num(200)),
                        ("sip_cseq", Text("2 REGISTER".into())),
                        ("sip_to", Text(user.clone())),
                        ("sip_from", Text(user)),
                    ],
                )
            } else {
                let f = rec(t, client, pbx, 5060, 5060, 17, 0, 1, 900);
                let uri = format!("sip:{}@10.0.5.60", 200 + k % 300);
                (
                    f,
                    vec![
                        ("sip_msg_type", Num(1)),
                        ("sip_method", Text("INVITE".into())),
                        ("sip_request_uri", Text(uri)),
                    ],
                )
            }
        }
        _ => {
            let server = 0xc633_0000 | k as u32;
            let p = 5 + r.below(200);
            let f = rec(t, client, server, eph, 443, 6, 0x1b, p, p * 700);
            (f, vec![("tls_sni", Text(format!("cdn{k}.example.org")))])
        }
    }
}

/// Batches of the L7 mix: L7 columns built beside the flow columns.
fn l7_batches(n: u64) -> Vec<RecordBatch> {
    use arrow_array::builder::{StringBuilder, UInt32Builder};
    use arrow_array::ArrayRef;
    use std::sync::Arc;
    const TEXT: &[&str] = &[
        "dns_qname",
        "http_host",
        "http_url",
        "tls_sni",
        "sip_cseq",
        "sip_to",
        "sip_from",
        "sip_method",
        "sip_request_uri",
    ];
    const NUM: &[&str] = &["dns_qtype", "sip_msg_type", "sip_status"];
    let mut r = Rng(7);
    let mut out = Vec::new();
    let mut i = 0;
    while i < n {
        let rows = (n - i).min(8192);
        let mut b = schema::BatchBuilder::new();
        let mut text: Vec<StringBuilder> = TEXT.iter().map(|_| StringBuilder::new()).collect();
        let mut num: Vec<UInt32Builder> = NUM.iter().map(|_| UInt32Builder::new()).collect();
        for _ in 0..rows {
            let (f, cells) = make_l7(i, n, &mut r);
            b.push(&f);
            for (c, name) in TEXT.iter().enumerate() {
                match cells.iter().find(|(k, _)| k == name) {
                    Some((_, Cell::Text(v))) => text[c].append_value(v),
                    _ => text[c].append_null(),
                }
            }
            for (c, name) in NUM.iter().enumerate() {
                match cells.iter().find(|(k, _)| k == name) {
                    Some((_, Cell::Num(v))) => num[c].append_value(*v),
                    _ => num[c].append_null(),
                }
            }
            i += 1;
        }
        let batch = b.finish();
        let schema = batch.schema();
        let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
        for (c, name) in TEXT.iter().enumerate() {
            columns[schema.index_of(name).expect("an L7 column")] = Arc::new(text[c].finish());
        }
        for (c, name) in NUM.iter().enumerate() {
            columns[schema.index_of(name).expect("an L7 column")] = Arc::new(num[c].finish());
        }
        out.push(RecordBatch::try_new(schema, columns).expect("the same schema"));
    }
    out
}

type Make = Box<dyn Fn() -> Box<dyn Detector>>;

/// Every detector: the nine with defaults, a blacklist of 2000 addresses
/// and 2000 domains, and the seed's l7filter rule.
fn all_detectors() -> Vec<Make> {
    use detect::blacklist::{Blacklist, Kind, List};
    let mut makes: Vec<Make> = detect::NAMES
        .iter()
        .map(|name| -> Make { Box::new(move || detect::by_name(name).expect("a detector")) })
        .collect();
    makes.push(Box::new(|| {
        let mut ips: Vec<String> = (0..2000u32)
            .map(|i| std::net::Ipv4Addr::from(0x5a00_0000 + i * 256).to_string() + "/24")
            .collect();
        ips.push("198.51.100.66".into());
        let mut domains: Vec<String> = (0..2000).map(|i| format!("bad{i}.example.biz")).collect();
        domains.push("malware.example.net".into());
        Box::new(Blacklist::new(vec![
            List::new("drop", "Intrusion.Botnet", Kind::Ip, ips),
            List::new("domains", "Intrusion.Botnet", Kind::Domain, domains),
        ]))
    }));
    makes.push(Box::new(|| {
        let rule = detect::l7filter::Rule::new(
            "seed",
            "Intrusion.Botnet",
            "demo bot",
            r#"http_user_agent ~ "demo_bot-.*" or http_url ~ "/demo/bot$" or http_host ~ "evilcorp.com$""#,
        )
        .expect("the seed's rule");
        Box::new(detect::l7filter::L7Filter::new(vec![rule]))
    }));
    makes
}

/// Best of three runs, each on a fresh detector; prints one line.
fn measure(make: &dyn Fn() -> Box<dyn Detector>, batches: &[RecordBatch], n: u64) -> Vec<Alert> {
    let mut best = f64::MAX;
    let mut alerts = Vec::new();
    let mut name = "";
    for _ in 0..3 {
        let mut d = make();
        name = d.name();
        let (secs, a) = run(d.as_mut(), batches);
        best = best.min(secs);
        alerts = a;
    }
    println!(
        "{name:>14}: {:>7.2} M flows/s ({:.3} s, {} alerts)",
        n as f64 / best / 1e6,
        best,
        alerts.len()
    );
    alerts
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
    println!("flow mix: every detector alone");
    for make in all_detectors() {
        let alerts = measure(make.as_ref(), &batches, n);
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
    drop(batches);
    let t = Instant::now();
    let batches = l7_batches(n);
    println!(
        "L7 mix: {n} flows in {} batches, built in {:.2} s; every detector alone",
        batches.len(),
        t.elapsed().as_secs_f64()
    );
    for make in all_detectors() {
        let alerts = measure(make.as_ref(), &batches, n);
        if std::env::var_os("VERBOSE").is_some() {
            for a in alerts.iter().take(3) {
                println!(
                    "                {}: {}",
                    a.category.join(","),
                    a.description
                );
            }
        }
    }
}
