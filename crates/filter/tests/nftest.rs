//! Runs the data-driven filter checks in `test_data/filter/`: nfdump's own
//! `nftest.c` checks (`nftest.tsv`) and eddy's extensions (`eddy.tsv`).
//! The file format is described at the top of `nftest.tsv`.

use std::net::{IpAddr, Ipv6Addr};

use l7::L7Fields;
use record::{EndReason, FlowRecord};

fn data(name: &str) -> String {
    let path = std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("../../test_data/filter")
    .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn addr(s: &str) -> Ipv6Addr {
    record::to_mapped(
        s.parse::<IpAddr>()
            .unwrap_or_else(|_| panic!("bad address {s}")),
    )
}

fn mac(s: &str) -> [u8; 6] {
    let mut m = [0u8; 6];
    for (i, p) in s.split(':').enumerate() {
        m[i] = u8::from_str_radix(p, 16).unwrap();
    }
    m
}

fn http(r: &mut FlowRecord) -> &mut l7::http::HttpFields {
    if !matches!(r.l7.as_ref(), Some(L7Fields::Http(_))) {
        r.l7 = Some(L7Fields::Http(Default::default()));
    }
    match r.l7.as_mut() {
        Some(L7Fields::Http(h)) => h,
        _ => unreachable!(),
    }
}

fn dns(r: &mut FlowRecord) -> &mut l7::dns::DnsFields {
    if !matches!(r.l7.as_ref(), Some(L7Fields::Dns(_))) {
        r.l7 = Some(L7Fields::Dns(Default::default()));
    }
    match r.l7.as_mut() {
        Some(L7Fields::Dns(d)) => d,
        _ => unreachable!(),
    }
}

fn tls(r: &mut FlowRecord) -> &mut l7::tls::TlsFields {
    if !matches!(r.l7.as_ref(), Some(L7Fields::Tls(_))) {
        r.l7 = Some(L7Fields::Tls(Default::default()));
    }
    match r.l7.as_mut() {
        Some(L7Fields::Tls(t)) => t,
        _ => unreachable!(),
    }
}

fn set(r: &mut FlowRecord, field: &str, v: &str) {
    let n = || -> u64 { v.parse().unwrap_or_else(|_| panic!("bad number {v}")) };
    let opt = || (v != "none").then(|| v.into());
    match field {
        "src_ip" => r.src_ip = addr(v),
        "dst_ip" => r.dst_ip = addr(v),
        "exporter" => r.exporter = addr(v),
        "proto" => r.proto = n() as u8,
        "src_port" => r.src_port = n() as u16,
        "dst_port" => r.dst_port = n() as u16,
        "tcp_flags" => r.tcp_flags = n() as u8,
        "tos" => r.tos = n() as u8,
        "packets" => r.packets = n(),
        "bytes" => r.bytes = n(),
        "vlan" => r.vlan = n() as u16,
        "in_if" => r.in_if = n() as u32,
        "out_if" => r.out_if = n() as u32,
        "src_as" => r.src_as = n() as u32,
        "dst_as" => r.dst_as = n() as u32,
        "odid" => r.odid = n() as u32,
        "first_ms" => r.first_ns = n() * 1_000_000,
        "last_ms" => r.last_ns = n() * 1_000_000,
        "first_ns" => r.first_ns = n(),
        "last_ns" => r.last_ns = n(),
        "src_mac" => r.src_mac = mac(v),
        "dst_mac" => r.dst_mac = mac(v),
        "src_country" => r.src_country = v.as_bytes().try_into().unwrap(),
        "dst_country" => r.dst_country = v.as_bytes().try_into().unwrap(),
        "end_reason" => {
            r.end_reason = match v {
                "idle" => EndReason::Idle,
                "active" => EndReason::Active,
                "end" => EndReason::EndOfFlow,
                "forced" => EndReason::Forced,
                "eviction" => EndReason::Eviction,
                _ => panic!("bad end reason {v}"),
            }
        }
        "l7" => {
            assert_eq!(v, "none");
            r.l7 = None;
        }
        "tls_ja3" => tls(r).ja3 = opt(),
        "tls_sni" => tls(r).sni = opt(),
        "tls_version" => tls(r).version = (v != "none").then(|| n() as u16),
        "http_host" => http(r).host = opt(),
        "http_url" => http(r).url = opt(),
        "http_method" => http(r).method = opt(),
        "http_user_agent" => http(r).user_agent = opt(),
        "http_status" => http(r).status = (v != "none").then(|| n() as u16),
        "dns_qname" => dns(r).qname = v.into(),
        "dns_qtype" => dns(r).qtype = n() as u16,
        _ => panic!("unknown field {field}"),
    }
}

#[derive(Default, Debug)]
struct Counts {
    checks: usize,
    skipped: usize,
    not_applicable: usize,
}

fn run(name: &str) -> Counts {
    let text = data(name);
    let mut r = FlowRecord::default();
    let mut c = Counts::default();
    let mut failures = Vec::new();
    for (no, line) in text.lines().enumerate() {
        let no = no + 1;
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(rest) = line.strip_prefix("set ") {
            let (field, value) = rest.split_once(' ').unwrap_or((rest, ""));
            set(&mut r, field, value.trim());
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        assert!(cols.len() >= 2, "{name}:{no}: bad line {line:?}");
        let expr = cols[1];
        match cols[0] {
            "1" | "0" => {
                c.checks += 1;
                let want = cols[0] == "1";
                match filter::parse(expr) {
                    Ok(f) => {
                        if f.matches(&r) != want {
                            failures.push(format!(
                                "{name}:{no}: `{expr}` gave {}, expected {want}\n  ast: {}",
                                !want, f.expr
                            ));
                        }
                    }
                    Err(e) => failures.push(format!("{name}:{no}: `{expr}` did not parse:\n{e}")),
                }
            }
            "skip" => {
                c.skipped += 1;
                assert!(cols.len() >= 3, "{name}:{no}: a skip needs a reason");
                if let Ok(f) = filter::parse(expr) {
                    failures.push(format!(
                        "{name}:{no}: unsupported `{expr}` parsed (as {}); move it to a check",
                        f.expr
                    ));
                }
            }
            "na" => {
                c.not_applicable += 1;
                assert!(cols.len() >= 3, "{name}:{no}: an na needs a reason");
                if let Err(e) = filter::parse(expr) {
                    failures.push(format!("{name}:{no}: `{expr}` should parse:\n{e}"));
                }
            }
            other => panic!("{name}:{no}: unknown line kind {other:?}"),
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    c
}

#[test]
fn nfdump_nftest_checks() {
    let c = run("nftest.tsv");
    eprintln!("nftest.tsv: {c:?}");
    assert_eq!(c.checks, 325);
    assert_eq!(c.skipped, 377);
    assert_eq!(c.not_applicable, 7);
}

#[test]
fn eddy_checks() {
    let c = run("eddy.tsv");
    eprintln!("eddy.tsv: {c:?}");
    assert!(c.checks > 50);
}
