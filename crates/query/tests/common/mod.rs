//! Records, stores and filters shared by the query tests.
#![allow(dead_code)]

use std::net::{IpAddr, Ipv6Addr};
use std::path::{Path, PathBuf};

use record::{EndReason, FlowRecord};

pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len() as u64) as usize]
    }
}

pub const ADDRS: &[&str] = &[
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
pub const PORTS: &[u16] = &[0, 22, 53, 80, 443, 1024, 8080, 12345, 65535, 771, 2048];
pub const PROTOS: &[u8] = &[6, 17, 1, 58, 47, 50, 132];
pub const HOSTS: &[&str] = &[
    "example.com",
    "www.example.com",
    "api.example.org",
    "a%b_c.test",
    "Mixed.Case.NET",
    "",
];
pub const URLS: &[&str] = &["/", "/index.html", "/api/v1?x=1", "/a\\b", "/search?q=%20"];
pub const COUNTRIES: &[[u8; 2]] = &[[0, 0], *b"CZ", *b"US", *b"DE"];
pub const MACS: &[[u8; 6]] = &[
    [0, 0, 0, 0, 0, 0],
    [0x0a, 0x50, 0x56, 0xc0, 0x00, 0x01],
    [0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
];

pub fn addr(s: impl AsRef<str>) -> Ipv6Addr {
    record::to_mapped(s.as_ref().parse::<IpAddr>().unwrap())
}

pub const BASE_MS: u64 = 1_767_225_600_000; // 2026-01-01 00:00:00 UTC

pub fn records(n: usize) -> Vec<FlowRecord> {
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

pub fn write_store(root: &Path, recs: &[FlowRecord]) -> Vec<PathBuf> {
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

pub fn corpus_from_tsv() -> Vec<String> {
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
pub fn random_filter(rng: &mut Rng, depth: u32) -> String {
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
