use std::net::Ipv6Addr;

use proptest::prelude::*;
use record::FlowRecord;

use crate::ast::L7_NUMERIC;
use crate::{parse, CmpOp, Column, Expr, Kind, Net, StrMatch};

fn cmp(col: Column, op: CmpOp, value: u64) -> Expr {
    Expr::Cmp { col, op, value }
}

fn eq(col: Column, value: u64) -> Expr {
    cmp(col, CmpOp::Eq, value)
}

fn ast(s: &str) -> Expr {
    parse(s).unwrap_or_else(|e| panic!("{e}")).expr
}

fn err(s: &str) -> crate::ParseError {
    match parse(s) {
        Ok(f) => panic!("`{s}` parsed as {}", f.expr),
        Err(e) => e,
    }
}

#[test]
fn precedence_not_and_or() {
    let (a, b, c) = (
        eq(Column::Proto, 1),
        eq(Column::Proto, 2),
        eq(Column::Proto, 3),
    );
    // not > and > or
    assert_eq!(
        ast("not proto 1 and proto 2 or proto 3"),
        Expr::Or(vec![
            Expr::And(vec![Expr::not(a.clone()), b.clone()]),
            c.clone()
        ])
    );
    assert_eq!(
        ast("proto 1 or proto 2 and proto 3"),
        Expr::Or(vec![a.clone(), Expr::And(vec![b.clone(), c.clone()])])
    );
    assert_eq!(
        ast("proto 1 || ! proto 2 && proto 3"),
        Expr::Or(vec![
            a.clone(),
            Expr::And(vec![Expr::not(b.clone()), c.clone()])
        ])
    );
    assert_eq!(
        ast("(proto 1 or proto 2) and proto 3"),
        Expr::And(vec![Expr::Or(vec![a.clone(), b.clone()]), c.clone()])
    );
    assert_eq!(
        ast("not (proto 1 or proto 2)"),
        Expr::not(Expr::Or(vec![a.clone(), b.clone()]))
    );
    assert_eq!(ast("not not proto 1"), Expr::not(Expr::not(a.clone())));
    // Chains are flattened, so long filters stay shallow.
    assert_eq!(
        ast("proto 1 and proto 2 and proto 3"),
        Expr::And(vec![a, b, c])
    );
}

#[test]
fn qualifiers_expand_to_leaves() {
    let p = |col| eq(col, 80);
    assert_eq!(
        ast("port 80"),
        Expr::Or(vec![p(Column::SrcPort), p(Column::DstPort)])
    );
    assert_eq!(ast("src port 80"), p(Column::SrcPort));
    assert_eq!(ast("dst port 80"), p(Column::DstPort));
    assert_eq!(ast("src or dst port 80"), ast("port 80"));
    assert_eq!(ast("dst or src port 80"), ast("port 80"));
    assert_eq!(
        ast("src and dst port 80"),
        Expr::And(vec![p(Column::SrcPort), p(Column::DstPort)])
    );
    // `src` then `or` then something that is not `dst`: an ordinary `or`.
    assert_eq!(
        ast("src port 1 or dst port 2"),
        Expr::Or(vec![eq(Column::SrcPort, 1), eq(Column::DstPort, 2)])
    );
    assert_eq!(
        ast("in if 3 or out if 4"),
        Expr::Or(vec![eq(Column::InIf, 3), eq(Column::OutIf, 4)])
    );
    assert_eq!(
        ast("flags S"),
        Expr::And(vec![
            eq(Column::Proto, 6),
            Expr::BitsSet {
                col: Column::TcpFlags,
                mask: 2
            }
        ])
    );
    assert_eq!(ast("port in [ 443, 80 80 ]"), {
        let l = |col| Expr::In {
            col,
            values: vec![80, 443],
        };
        Expr::Or(vec![l(Column::SrcPort), l(Column::DstPort)])
    });
}

#[test]
fn numbers_and_suffixes() {
    assert_eq!(ast("bytes 2k"), eq(Column::Bytes, 2000));
    assert_eq!(ast("bytes 2M"), eq(Column::Bytes, 2_000_000));
    assert_eq!(ast("bytes 2g"), eq(Column::Bytes, 2_000_000_000));
    assert_eq!(ast("bytes 2T"), eq(Column::Bytes, 2_000_000_000_000));
    assert_eq!(ast("bytes 0x10"), eq(Column::Bytes, 16));
    assert_eq!(
        ast("packets >= 18446744073709551615"),
        cmp(Column::Packets, CmpOp::Ge, u64::MAX)
    );
    err("packets 18446744073709551616");
    err("packets 20000000t");
    err("bytes 0x");
    err("bytes 1x");
    assert_eq!(ast("src port ne 1"), cmp(Column::SrcPort, CmpOp::Ne, 1));
    assert_eq!(ast("src port != 1"), cmp(Column::SrcPort, CmpOp::Ne, 1));
    assert_eq!(ast("src port le 1"), cmp(Column::SrcPort, CmpOp::Le, 1));
}

#[test]
fn ipv6_and_mapped_ipv4() {
    let v6: Ipv6Addr = "2001:db8::1".parse().unwrap();
    assert_eq!(
        ast("src ip 2001:db8::1"),
        Expr::Net {
            col: Column::SrcIp,
            nets: vec![Net::new(v6, 128)]
        }
    );
    let e = ast("src net 10.0.0.0/8");
    let Expr::Net { nets, .. } = &e else {
        panic!("{e}")
    };
    assert_eq!(nets[0].len, 104);
    assert_eq!(nets[0].to_string(), "10.0.0.0/8");
    let (lo, hi) = nets[0].range();
    assert_eq!(lo.to_string(), "::ffff:10.0.0.0");
    assert_eq!(hi.to_string(), "::ffff:10.255.255.255");
    // Host bits are cleared; a netmask is a prefix.
    assert_eq!(ast("net 10.1.2.3/8"), ast("net 10.0.0.0 255.0.0.0"));
    assert_eq!(ast("net 10/8"), ast("net 10.0.0.0/8"));
    assert_eq!(ast("net fe80::1/10"), ast("net fe80::/10"));
    let mut r = FlowRecord {
        src_ip: v6,
        dst_ip: "::ffff:10.0.0.1".parse().unwrap(),
        ..Default::default()
    };
    assert!(parse("ipv6 and src net 2001:db8::/32 and dst net 10/8")
        .unwrap()
        .matches(&r));
    assert!(!parse("ipv4").unwrap().matches(&r));
    r.src_ip = "::ffff:1.2.3.4".parse().unwrap();
    assert!(parse("ipv4 and inet and not inet6").unwrap().matches(&r));
    assert!(parse("src ip 1.2.3.4 and src ip ::ffff:1.2.3.4")
        .unwrap()
        .matches(&r));
    err("ip 10.0.0");
    err("ip 1.2.3.4.5");
    err("ip 256.1.1.1");
    err("ip 1::2::3");
    err("net 10.0.0.0/33");
    err("net 2001:db8::/129");
    err("net 10.0.0.0");
    err("net 10.0.0.0 255.0.255.0");
    err("net 2001:db8:: 255.255.0.0");
}

#[test]
fn l7_fields() {
    let host = Column::from_name("http_host").unwrap();
    assert_eq!(
        ast("http_host \"x\""),
        Expr::Str {
            col: host,
            m: StrMatch::Eq("x".into())
        }
    );
    assert_eq!(ast("http host 'x'"), ast("http_host = x"));
    assert_eq!(
        ast("http user agent contains \"curl\""),
        ast("http_user_agent contains curl")
    );
    assert_eq!(
        ast("tls cipher suite 0x1301"),
        ast("tls_cipher_suite == 4865")
    );
    assert_eq!(ast("dns qname ~ \"\\.cz$\""), ast("dns_qname ~ '\\.cz$'"));
    // A backslash escapes the quote only; other backslashes reach the regex.
    let Expr::Str {
        m: StrMatch::Regex(p),
        ..
    } = ast(r#"dns_qname ~ "a\"b\.c""#)
    else {
        panic!()
    };
    assert_eq!(p.as_str(), r#"a"b\.c"#);
    let e = err("http_host ~ \"(\"");
    assert!(e.expected.contains("regular expression"), "{e}");
    err("http_host ~ \"a{1000}{1000}{1000}\"");
    err("http_status > x");
    err("http_host > 3");
    err("http bogus 3");
    err("http");
    // Every L7 column is reachable by name, spaced and case-insensitively.
    for name in l7::COLUMNS {
        let col = Column::from_name(name).unwrap();
        assert_eq!(col.name(), *name);
        let v = if matches!(col.kind(), Kind::UInt { .. }) {
            "1"
        } else {
            "\"x\""
        };
        assert_eq!(
            ast(&format!("{name} {v}")),
            ast(&format!("{} {v}", name.replace('_', " ")))
        );
        assert_eq!(
            ast(&format!("{name} {v}")),
            ast(&format!("{} {v}", name.to_uppercase()))
        );
    }
    // Every core column parses by name too.
    for col in crate::CORE_COLUMNS {
        let v = match col.kind() {
            Kind::UInt { .. } => "1",
            Kind::Time => "2024-01-01",
            Kind::Addr => "10.0.0.1",
            Kind::Mac => "00:11:22:33:44:55",
            Kind::Text => "CZ",
        };
        ast(&format!("{} {v}", col.name()));
        assert_eq!(Column::from_name(col.name()), Some(*col));
    }
}

#[test]
fn l7_numeric_table_matches_visit() {
    use l7::*;
    let s = || Some(FieldStr::new("x"));
    let all = [
        L7Fields::from(http::HttpFields {
            method: s(),
            host: s(),
            url: s(),
            user_agent: s(),
            referer: s(),
            status: Some(200),
            content_type: s(),
            server: s(),
        }),
        L7Fields::from(dns::DnsFields {
            is_response: true,
            answer_data: "x".into(),
            ..Default::default()
        }),
        L7Fields::from(tls::TlsFields {
            sni: s(),
            version: Some(1),
            legacy_version: Some(1),
            alpn: s(),
            cipher_suite: Some(1),
            ja3: s(),
            ja4: s(),
        }),
        L7Fields::from(smtp::SmtpFields {
            commands: 1,
            mail_count: 1,
            rcpt_count: 1,
            sender: s(),
            recipient: s(),
            domain: s(),
            status_2xx: 1,
            status_3xx: 1,
            status_4xx: 1,
            status_5xx: 1,
            ..Default::default()
        }),
        L7Fields::from(sip::SipFields {
            msg_type: 1,
            method: s(),
            status: Some(1),
            call_id: s(),
            from: s(),
            to: s(),
            via: s(),
            user_agent: s(),
            request_uri: s(),
            cseq: s(),
        }),
        L7Fields::from(quic::QuicFields {
            version: Some(1),
            sni: s(),
            alpn: s(),
        }),
    ];
    let mut seen = vec![false; COLUMNS.len()];
    for f in &all {
        f.visit(&mut |i, v| {
            seen[i] = true;
            let numeric = matches!(v, Value::Num(_));
            assert_eq!(L7_NUMERIC.contains(&COLUMNS[i]), numeric, "{}", COLUMNS[i]);
        });
    }
    assert!(
        seen.iter().all(|s| *s),
        "a column was never visited: {seen:?}"
    );
}

#[test]
fn parse_errors_point_at_the_token() {
    let e = err("src port 70000");
    assert_eq!(e.pos, 9);
    assert_eq!(e.found, "`70000`");
    assert!(e.expected.contains("0..65535"));
    assert_eq!(
        e.to_string(),
        "filter error at 1:10: expected a port number 0..65535, found `70000`\n  src port 70000\n           ^"
    );
    let e = err("proto tcp and");
    assert_eq!((e.pos, e.found.as_str()), (13, "end of input"));
    let e = err("proto tcp port 80");
    assert_eq!((e.pos, e.found.as_str()), (10, "`port`"));
    assert!(e.expected.contains("`and`"));
    let e = err("(proto tcp");
    assert_eq!((e.pos, e.expected.as_str()), (10, "`)`, `and` or `or`"));
    let e = err("proto tcp)");
    assert_eq!(e.pos, 9);
    let e = err("proto bogus");
    assert_eq!(e.pos, 6);
    let e = err("tunip 1.2.3.4");
    assert!(e.expected.contains("tunnel"), "{e}");
    let e = err("dst tos 3");
    assert_eq!(e.pos, 0);
    let e = err("http_host \"abc");
    assert_eq!((e.pos, e.found.as_str()), (10, "an unterminated string"));
    let e = err("port 80 $");
    assert_eq!(e.pos, 8);
    // Non-ASCII: the caret counts characters, the position bytes.
    let e = err("http_host \"é\" é");
    assert_eq!(e.pos, 15);
    assert!(e.to_string().ends_with("\n                ^"), "{e}");
    // Multi-line filters show the offending line.
    let e = err("proto tcp and\n  port 99999 # comment");
    assert!(e.to_string().starts_with("filter error at 2:8:"), "{e}");
    assert!(
        e.to_string()
            .contains("\n    port 99999 # comment\n         ^"),
        "{e}"
    );
    err("flags Q");
    err("flags 256");
    err("mac 00:11:22:33:44");
    err("mac 00-11-22-33-44-55");
    err("geo CZE");
    err("%label (any)");
    err("(any) %label");
    err("first seen > 2023-02-30");
    err("first seen > 9999-12-31T23:59:59.999");
    err("last 2555-01-01");
    assert!(parse("last < 2554-01-01").is_ok());
    err("any and");
    err("not");
    err("()");
    err("ip in [ ]");
    err("port in [ 1 2");
    err("http_host and");
    err("src");
    err("in port 3");
}

#[test]
fn empty_filter_and_comments() {
    assert_eq!(ast(""), Expr::True);
    assert_eq!(ast("  # only a comment\n"), Expr::True);
    assert_eq!(ast("any # all"), Expr::True);
    assert_eq!(ast("not any"), Expr::not(Expr::True));
}

#[test]
fn nesting_is_capped() {
    let ok = format!(
        "{}any{}",
        "(".repeat(crate::MAX_DEPTH),
        ")".repeat(crate::MAX_DEPTH)
    );
    assert!(parse(&ok).is_ok());
    let deep = format!("{}any{}", "(".repeat(100_000), ")".repeat(100_000));
    let e = err(&deep);
    assert!(e.expected.contains("nested"), "{}", e.message());
    assert!(parse(&"not ".repeat(100_000)).is_err());
    assert!(parse(&"!".repeat(100_000)).is_err());
    // Long flat chains are fine: they are flattened, not nested.
    let chain = vec!["port 80"; 50_000].join(" and ");
    let f = parse(&chain).unwrap();
    assert!(!f.matches(&FlowRecord::default()));
    let chain = vec!["port 80"; 50_000].join(" or ");
    assert!(!parse(&chain).unwrap().matches(&FlowRecord::default()));
}

#[test]
fn derived_columns_follow_nfdump() {
    let r = FlowRecord {
        first_ns: 1_000_000_999_999,
        last_ns: 1_010_000_000_000,
        packets: 1000,
        bytes: 20000,
        ..Default::default()
    };
    // first truncates to 1_000_000 ms, last to 1_010_000 ms: 10 s.
    for (f, want) in [
        ("duration 10000", true),
        ("pps 100", true),
        ("bps 16000", true),
        ("bpp 20", true),
        ("bps > 16k", false),
    ] {
        assert_eq!(parse(f).unwrap().matches(&r), want, "{f}");
    }
    let zero = FlowRecord {
        packets: 5,
        bytes: 100,
        ..Default::default()
    };
    assert!(parse("pps 0 and bps 0 and duration 0 and bpp 20")
        .unwrap()
        .matches(&zero));
    let none = FlowRecord::default();
    assert!(parse("bpp 0").unwrap().matches(&none));
    let huge = FlowRecord {
        last_ns: 1_000_000,
        packets: u64::MAX,
        bytes: u64::MAX,
        ..Default::default()
    };
    assert!(
        parse("pps 18446744073709551615 and bps 18446744073709551615")
            .unwrap()
            .matches(&huge)
    );
}

#[test]
fn display_is_readable() {
    let s = ast("src net 10/8 and http_host ~ \"x\" and first seen > 2024-01-01").to_string();
    assert!(s.contains("src_ip in [ 10.0.0.0/8 ]"), "{s}");
    assert!(s.contains("http_host ~ \"x\""), "{s}");
    assert!(s.contains("first >= 2024-01-01T00:00:00.001"), "{s}");
}

#[test]
fn columns_lists_leaves() {
    let mut cols = Vec::new();
    ast("port 80 and (ipv4 or http_host x)").columns(&mut cols);
    assert_eq!(
        cols,
        vec![
            Column::SrcPort,
            Column::DstPort,
            Column::SrcIp,
            Column::from_name("http_host").unwrap()
        ]
    );
}

fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "any",
            "not",
            "!",
            "and",
            "or",
            "&&",
            "||",
            "(",
            ")",
            "[",
            "]",
            ",",
            "/",
            "=",
            "==",
            "!=",
            "<",
            "<=",
            ">",
            ">=",
            "~",
            "%",
            "#",
            "in",
            "src",
            "dst",
            "ip",
            "host",
            "net",
            "port",
            "proto",
            "tcp",
            "flags",
            "SA",
            "X",
            "as",
            "if",
            "mac",
            "vlan",
            "tos",
            "bytes",
            "packets",
            "pps",
            "bps",
            "bpp",
            "duration",
            "icmp-type",
            "geo",
            "CZ",
            "http",
            "host",
            "http_host",
            "dns",
            "qname",
            "contains",
            "first",
            "seen",
            "router",
            "observation",
            "domain",
            "id",
            "payload",
            "ja3",
            "defined",
            "10.0.0.1",
            "10.0",
            "2001:db8::1",
            "fe80::",
            "255.255.255.0",
            "0a:50:56:c0:00:01",
            "80",
            "0x10",
            "2k",
            "99999999999999999999",
            "2024-01-01T00:00:00",
            "\"x\"",
            "\"(\"",
            "'a.*'",
            "\"",
            "\n",
            "é",
        ])
        .prop_map(String::from),
        "[ -~]{0,6}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_strings_never_panic(s in "\\PC{0,64}") {
        if let Ok(f) = parse(&s) {
            f.matches(&FlowRecord::default());
        } else if let Err(e) = parse(&s) {
            let _ = e.to_string();
            prop_assert!(e.pos <= s.len());
        }
    }

    #[test]
    fn token_soup_never_panics(toks in prop::collection::vec(token(), 0..24)) {
        let s = toks.join(" ");
        match parse(&s) {
            Ok(f) => {
                let r = FlowRecord::default();
                let a = f.matches(&r);
                // The AST evaluates the same through Not(Not(..)).
                prop_assert_eq!(Expr::not(Expr::not(f.expr.clone())).eval(&r), a);
            }
            Err(e) => {
                let _ = e.to_string();
                prop_assert!(e.pos <= s.len());
            }
        }
    }
}

/// A random expression mixing comparisons on `first` and `last` with
/// other leaves, and the operators.
fn timed_expr() -> impl Strategy<Value = Expr> {
    let time_col = prop_oneof![Just(Column::First), Just(Column::Last)];
    let op = prop_oneof![
        Just(CmpOp::Eq),
        Just(CmpOp::Ne),
        Just(CmpOp::Lt),
        Just(CmpOp::Le),
        Just(CmpOp::Gt),
        Just(CmpOp::Ge),
    ];
    let leaf = prop_oneof![
        (time_col.clone(), op, 0u64..40).prop_map(|(col, op, value)| cmp(col, op, value)),
        (0u64..3).prop_map(|p| eq(Column::Proto, p)),
        (time_col, prop::collection::btree_set(0u64..40, 0..6)).prop_map(|(col, values)| {
            Expr::In {
                col,
                values: values.into_iter().collect(),
            }
        }),
        Just(Expr::True),
        Just(Expr::False),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(Expr::not),
            prop::collection::vec(inner.clone(), 1..4).prop_map(Expr::and),
            prop::collection::vec(inner, 1..4).prop_map(Expr::or),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn within_a_range_an_expression_keeps_its_answers(
        e in timed_expr(),
        bounds in (0u64..40, 0u64..40),
        last_bounds in (0u64..40, 0u64..40),
        probes in prop::collection::vec((0u64..40, 0u64..40, 0u8..3), 1..12),
    ) {
        let (lo, hi) = (bounds.0.min(bounds.1), bounds.0.max(bounds.1));
        let (last_lo, last_hi) = (last_bounds.0.min(last_bounds.1), last_bounds.0.max(last_bounds.1));
        let decided = e
            .within(Column::First, lo, hi)
            .within(Column::Last, last_lo, last_hi);
        let mut cols = Vec::new();
        decided.columns(&mut cols);
        // A range of one value settles every comparison on the column.
        if lo == hi {
            prop_assert!(!cols.contains(&Column::First), "{decided}");
        }
        if last_lo == last_hi {
            prop_assert!(!cols.contains(&Column::Last), "{decided}");
        }
        for (first, last, proto) in probes {
            let r = FlowRecord {
                first_ns: lo + first % (hi - lo + 1),
                last_ns: last_lo + last % (last_hi - last_lo + 1),
                proto,
                ..FlowRecord::default()
            };
            prop_assert_eq!(decided.eval(&r), e.eval(&r), "{} -> {}", e, decided);
        }
    }
}

#[test]
fn within_settles_what_the_range_decides() {
    let start = cmp(Column::First, CmpOp::Ge, 100);
    let end = cmp(Column::Last, CmpOp::Le, 200);
    let e = Expr::and(vec![start.clone(), end.clone(), eq(Column::Proto, 6)]);
    // Wholly after the start: the start test goes.
    assert_eq!(
        e.within(Column::First, 100, 150),
        Expr::and(vec![end.clone(), eq(Column::Proto, 6)])
    );
    // Wholly before it: nothing passes.
    assert_eq!(e.within(Column::First, 0, 99), Expr::False);
    // Across it: unchanged.
    assert_eq!(e.within(Column::First, 50, 150), e);
    let either = Expr::or(vec![start.clone(), eq(Column::Proto, 6)]);
    assert_eq!(either.within(Column::First, 120, 130), Expr::True);
    assert_eq!(
        Expr::not(start).within(Column::First, 120, 130),
        Expr::False
    );
    assert_eq!(
        Expr::and(vec![end.clone()]).within(Column::Last, 0, 200),
        Expr::True
    );
}

#[test]
fn settle_folds_the_leaves_it_is_told() {
    let parse = |s: &str| crate::parse(s).unwrap().expr;
    // Source addresses are known absent; nothing else is known.
    let no_source = |e: &Expr| match e {
        Expr::Net {
            col: Column::SrcIp, ..
        } => Some(false),
        _ => None,
    };
    assert_eq!(parse("src ip 10.0.0.1").settle(&no_source), Expr::False);
    assert_eq!(parse("not src ip 10.0.0.1").settle(&no_source), Expr::True);
    assert_eq!(
        parse("src ip 10.0.0.1 or proto tcp").settle(&no_source),
        parse("proto tcp")
    );
    assert_eq!(
        parse("host 10.0.0.1").settle(&no_source),
        parse("dst ip 10.0.0.1")
    );
    assert_eq!(
        parse("host 10.0.0.1 and proto udp").settle(&no_source),
        parse("dst ip 10.0.0.1 and proto udp")
    );
    let e = parse("proto tcp and port 80");
    assert_eq!(e.settle(&no_source), e);
}
