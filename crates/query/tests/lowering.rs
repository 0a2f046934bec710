//! The filter AST has two evaluators: `filter::Filter::matches` on records
//! in memory, and this crate's lowering to DataFusion over the store's
//! Parquet files. For several hundred expressions (every matching check of
//! `test_data/filter/*.tsv` plus expressions generated from the grammar
//! over the values the records hold) both must select the same records.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv6Addr};
use std::path::{Path, PathBuf};

use record::{EndReason, FlowRecord};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len() as u64) as usize]
    }
}

const ADDRS: &[&str] = &[
    "10.0.0.1",
    "10.0.0.2",
    "10.0.1.7",
    "10.1.2.3",
    "172.16.5.4",
    "192.168.1.1",
    "192.168.1.200",
    "8.8.8.8",
    "0.0.0.0",
    "255.255.255.255",
    "2001:db8::1",
    "2001:db8::2",
    "2001:db8:1::5",
    "fe80::1",
    "::",
    "::1",
];
const PORTS: &[u16] = &[0, 22, 53, 80, 443, 1024, 8080, 12345, 65535, 771, 2048];
const PROTOS: &[u8] = &[6, 17, 1, 58, 47, 50, 132];
const HOSTS: &[&str] = &[
    "example.com",
    "www.example.com",
    "api.example.org",
    "a%b_c.test",
    "Mixed.Case.NET",
    "",
];
const URLS: &[&str] = &["/", "/index.html", "/api/v1?x=1", "/a\\b", "/search?q=%20"];
const COUNTRIES: &[[u8; 2]] = &[[0, 0], *b"CZ", *b"US", *b"DE"];
const MACS: &[[u8; 6]] = &[
    [0, 0, 0, 0, 0, 0],
    [0x0a, 0x50, 0x56, 0xc0, 0x00, 0x01],
    [0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
];

fn addr(s: impl AsRef<str>) -> Ipv6Addr {
    record::to_mapped(s.as_ref().parse::<IpAddr>().unwrap())
}

const BASE_MS: u64 = 1_767_225_600_000; // 2026-01-01 00:00:00 UTC

fn records(n: usize) -> Vec<FlowRecord> {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    (0..n)
        .map(|i| {
            let mut r = FlowRecord::default();
            let first_ms = BASE_MS + rng.below(120_000);
            let dur = *rng.pick(&[0, 0, 1, 7, 999, 1000, 1001, 65_000]);
            r.first_ns = first_ms * 1_000_000 + rng.below(3) * 333_333;
            r.last_ns = (first_ms + dur) * 1_000_000 + rng.below(2) * 500_000;
            r.src_ip = addr(rng.pick(ADDRS));
            r.dst_ip = addr(rng.pick(ADDRS));
            r.proto = *rng.pick(PROTOS);
            r.src_port = *rng.pick(PORTS);
            r.dst_port = *rng.pick(PORTS);
            r.tcp_flags = if r.proto == 6 { rng.below(64) as u8 } else { 0 };
            r.tos = *rng.pick(&[0, 0, 4, 0xb8, 255]);
            // Unique, so rows can be told apart.
            r.packets = i as u64 + 1;
            r.bytes = r.packets * (40 + rng.below(1500));
            r.vlan = *rng.pick(&[0, 0, 10, 4095]);
            r.in_if = *rng.pick(&[0, 1, 2, 70000]);
            r.out_if = *rng.pick(&[0, 3, 5]);
            r.src_as = *rng.pick(&[0, 64512, 4_200_000_000]);
            r.dst_as = *rng.pick(&[0, 15169, 2852]);
            r.src_country = *rng.pick(COUNTRIES);
            r.dst_country = *rng.pick(COUNTRIES);
            r.exporter = addr(rng.pick(&["127.0.0.1", "192.0.2.1", "2001:db8::ff"]));
            r.odid = *rng.pick(&[0, 1, 7]);
            r.end_reason = *rng.pick(&[
                EndReason::Idle,
                EndReason::Active,
                EndReason::EndOfFlow,
                EndReason::Forced,
            ]);
            r.src_mac = *rng.pick(MACS);
            r.dst_mac = *rng.pick(MACS);
            match rng.below(4) {
                0 => {
                    let h = l7::http::HttpFields {
                        method: Some((*rng.pick(&["GET", "POST"])).into()),
                        host: Some((*rng.pick(HOSTS)).into()),
                        url: Some((*rng.pick(URLS)).into()),
                        status: if rng.below(2) == 0 {
                            Some(*rng.pick(&[200, 404, 500]))
                        } else {
                            None
                        },
                        ..Default::default()
                    };
                    r.l7 = Some(l7::L7Fields::from(h));
                }
                1 => {
                    let t = l7::tls::TlsFields {
                        sni: Some((*rng.pick(HOSTS)).into()),
                        version: Some(*rng.pick(&[0x0303, 0x0304])),
                        alpn: if rng.below(2) == 0 {
                            Some("h2,http/1.1".into())
                        } else {
                            None
                        },
                        ..Default::default()
                    };
                    r.l7 = Some(l7::L7Fields::from(t));
                }
                _ => {}
            }
            r
        })
        .collect()
}

fn write_store(root: &Path, recs: &[FlowRecord]) -> Vec<PathBuf> {
    let _ = std::fs::remove_dir_all(root);
    let mut s = store::Store::open(store::StoreConfig::new(root)).unwrap();
    for r in recs {
        // Arrival a little after the flow ends, so windows split the set.
        s.push("test", r.last_ns / 1_000_000_000 + 5, r).unwrap();
    }
    s.close_all().unwrap();
    let files = store::list_files(root, None, None, 300).unwrap();
    assert!(!files.is_empty());
    files.into_iter().map(|f| f.path).collect()
}

fn corpus_from_tsv() -> Vec<String> {
    let dir = std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("../../test_data/filter");
    let mut out = Vec::new();
    for name in ["nftest.tsv", "eddy.tsv"] {
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        for line in text.lines() {
            if let Some(e) = line
                .strip_prefix("1\t")
                .or_else(|| line.strip_prefix("0\t"))
            {
                out.push(e.to_string());
            }
        }
    }
    out
}

/// A random filter from the grammar, over the values the records hold.
fn random_filter(rng: &mut Rng, depth: u32) -> String {
    if depth > 0 && rng.below(3) == 0 {
        let a = random_filter(rng, depth - 1);
        let b = random_filter(rng, depth - 1);
        return match rng.below(4) {
            0 => format!("({a}) and ({b})"),
            1 => format!("({a}) or ({b})"),
            2 => format!("not ({a})"),
            _ => format!("{a} and not {b}"),
        };
    }
    let dir = *rng.pick(&["", "src ", "dst ", "src or dst ", "src and dst "]);
    let cmp = *rng.pick(&["", "= ", "> ", "< ", ">= ", "<= ", "!= "]);
    match rng.below(24) {
        0 => format!("{dir}ip {}", rng.pick(ADDRS)),
        1 => format!(
            "{dir}net {}",
            rng.pick(&[
                "10.0.0.0/24",
                "10.0/16",
                "192.168.1.0/25",
                "192.168.1.128/25",
                "2001:db8::/32",
                "fe80::/10",
                "0.0.0.0/1",
                "128.0.0.0/1",
                "10.0.0.0 255.255.255.0",
            ])
        ),
        2 => format!("{dir}port {cmp}{}", rng.pick(PORTS)),
        3 => format!(
            "proto {}",
            rng.pick(&["tcp", "udp", "icmp", "icmp6", "gre", "50", "sctp"])
        ),
        4 => rng.pick(&["ipv4", "ipv6", "any"]).to_string(),
        5 => format!(
            "flags {}",
            rng.pick(&["S", "SA", "F", "R", "AP", "X", "U", "FSRPAU"])
        ),
        6 => format!("{}packets {cmp}{}", rng.pick(&["", "in "]), rng.below(700)),
        7 => format!("bytes {cmp}{}", rng.below(300_000)),
        8 => format!(
            "duration {cmp}{}",
            rng.pick(&[0, 1, 7, 999, 1000, 1001, 65000])
        ),
        9 => format!("pps {cmp}{}", rng.below(5000)),
        10 => format!("bps {cmp}{}", rng.below(5_000_000)),
        11 => format!("bpp {cmp}{}", rng.below(1500)),
        12 => format!("tos {cmp}{}", rng.pick(&[0, 4, 184, 255])),
        13 => format!(
            "{}if {}",
            rng.pick(&["in ", "out ", ""]),
            rng.pick(&[0, 1, 3, 70000])
        ),
        14 => format!("{dir}as {}", rng.pick(&[0, 64512, 15169, 4_200_000_000u64])),
        15 => format!("vlan {}", rng.pick(&[0, 10, 4095])),
        16 => format!(
            "{} {}",
            rng.pick(&["http host", "tls sni", "http_host", "tls_sni"]),
            rng.pick(&[
                "\"example.com\"",
                "!= \"example.com\"",
                "contains \"example\"",
                "contains \"%b_\"",
                "~ \"^www\\\\.\"",
                "~ \"(?i)mixed\"",
                "\"\"",
                "in [ \"example.com\" \"api.example.org\" ]",
            ])
        ),
        17 => format!(
            "{} {}",
            rng.pick(&["http url", "http_url", "http method", "tls alpn"]),
            rng.pick(&[
                "\"/\"",
                "contains \"?\"",
                "contains \"\\\\\"",
                "~ \"v[0-9]\"",
                "GET",
                "contains \"h2\""
            ])
        ),
        18 => format!(
            "{} {cmp}{}",
            rng.pick(&["http_status", "tls_version", "http status"]),
            rng.pick(&[200, 404, 500, 771, 772, 5_000_000_000u64])
        ),
        19 => format!(
            "{}geo {}",
            rng.pick(&["src ", "dst "]),
            rng.pick(&["CZ", "US", "DE", "FR"])
        ),
        20 => format!("icmp-type {}", rng.pick(&[0, 3, 8, 11])),
        21 => format!(
            "{} {cmp}{}",
            rng.pick(&["first seen", "last seen"]),
            rng.pick(&[
                "2026-01-01T00:00:30",
                "2026-01-01T00:01",
                "2026-01-01T00:00:59.999",
                "2026"
            ])
        ),
        22 => format!(
            "{}mac {}",
            rng.pick(&["src ", "dst ", "in ", ""]),
            rng.pick(&["0a:50:56:c0:00:01", "ff:ff:ff:ff:ff:ff"])
        ),
        _ => format!(
            "{} {}",
            rng.pick(&["router ip", "exporter"]),
            rng.pick(&["127.0.0.1", "192.0.2.1", "2001:db8::ff"])
        ),
    }
}

#[test]
fn datafusion_and_in_memory_evaluation_agree() {
    let root = std::env::temp_dir().join(format!("eddy-query-lowering-{}", std::process::id()));
    let recs = records(600);
    let files = write_store(&root, &recs);
    let engine = query::Engine::new(&query::Config {
        threads: 2,
        ..Default::default()
    })
    .unwrap();

    let mut exprs = corpus_from_tsv();
    let mut rng = Rng(42);
    for i in 0..250 {
        exprs.push(random_filter(&mut rng, (i % 4) as u32));
    }
    let (mut run, mut nonempty, mut partial) = (0, 0, 0);
    let mut failures = Vec::new();
    for text in &exprs {
        let Ok(f) = filter::parse(text) else {
            // Parse errors are the filter crate's business (nftest.rs).
            continue;
        };
        run += 1;
        let want: BTreeSet<u64> = recs
            .iter()
            .filter(|r| f.matches(r))
            .map(|r| r.packets)
            .collect();
        let lowered = query::lower(&f.expr);
        let mut got = BTreeSet::new();
        let res = engine.flows(&files, &lowered, Some(&["packets"]), None, None, |b| {
            got.extend(b.iter().map(|r| r.packets));
            Ok(true)
        });
        if let Err(e) = res {
            failures.push(format!("`{text}`: error {e}"));
            continue;
        }
        if !want.is_empty() {
            nonempty += 1;
        }
        if !want.is_empty() && want.len() < recs.len() {
            partial += 1;
        }
        if want != got {
            let only_mem: Vec<_> = want.difference(&got).take(5).collect();
            let only_df: Vec<_> = got.difference(&want).take(5).collect();
            failures.push(format!(
                "`{text}` ({}): in memory {} rows, DataFusion {}; only in memory {only_mem:?}, only DataFusion {only_df:?}",
                f.expr,
                want.len(),
                got.len()
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&root);
    assert!(
        failures.is_empty(),
        "{} of {run} differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(run >= 400, "only {run} expressions ran");
    // The corpus must discriminate: many expressions select some but not all rows.
    assert!(
        partial >= 200,
        "only {partial} expressions select a proper subset ({nonempty} non-empty)"
    );
}

#[test]
fn totals_and_groups_match_the_records() {
    let root = std::env::temp_dir().join(format!("eddy-query-groups-{}", std::process::id()));
    let recs = records(300);
    let files = write_store(&root, &recs);
    let engine = query::Engine::new(&query::Config {
        threads: 2,
        ..Default::default()
    })
    .unwrap();
    let f = filter::parse("proto tcp or proto udp").unwrap();
    let lowered = query::lower(&f.expr);
    let sel: Vec<&FlowRecord> = recs.iter().filter(|r| f.matches(r)).collect();
    let t = engine.totals(&files, &lowered).unwrap();
    assert_eq!(t.flows, sel.len() as u64);
    assert_eq!(t.packets, sel.iter().map(|r| r.packets).sum::<u64>());
    assert_eq!(t.bytes, sel.iter().map(|r| r.bytes).sum::<u64>());
    assert_eq!(t.first_ns, sel.iter().map(|r| r.first_ns).min().unwrap());
    assert_eq!(t.last_ns, sel.iter().map(|r| r.last_ns).max().unwrap());

    // -s ip: a flow counts for its source and its destination.
    let groups = engine
        .groups(
            &files,
            &lowered,
            &[
                vec![query::Key::Column("src_ip".into())],
                vec![query::Key::Column("dst_ip".into())],
            ],
            query::Order::Bytes,
            None,
            false,
        )
        .unwrap()
        .groups;
    let mut want = std::collections::BTreeMap::<[u8; 16], (u64, u64)>::new();
    for r in &sel {
        for a in [r.src_ip, r.dst_ip] {
            let e = want.entry(a.octets()).or_default();
            e.0 += 1;
            e.1 += r.bytes;
        }
    }
    assert_eq!(groups.len(), want.len());
    for w in groups.windows(2) {
        assert!(w[0].bytes >= w[1].bytes);
    }
    for g in &groups {
        let k = query::engine::key_addr(&g.keys[0]).unwrap().octets();
        assert_eq!(want[&k], (g.flows, g.bytes));
    }

    // -A srcip4/24: prefixes.
    let groups = engine
        .groups(
            &files,
            &query::lower(&filter::Expr::True),
            &[vec![query::Key::Masked {
                column: "src_ip".into(),
                bits: 24,
                v4: true,
            }]],
            query::Order::Flows,
            Some(3),
            true,
        )
        .unwrap()
        .groups;
    assert_eq!(groups.len(), 3);
    let _ = std::fs::remove_dir_all(&root);
}
