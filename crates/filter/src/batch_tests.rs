//! `BatchFilter::eval` against `Expr::eval`, row by row.

use std::net::Ipv6Addr;
use std::sync::Arc;

use arrow_array::types::{Int64Type, TimestampMillisecondType};
use arrow_array::{
    Array, ArrayRef, BooleanArray, FixedSizeBinaryArray, Int16Array, Int64Array, LargeStringArray,
    PrimitiveArray, RecordBatch, StringArray, StringViewArray, UInt16Array, UInt64Array,
};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use l7::L7Fields;
use proptest::prelude::*;
use record::{EndReason, FlowRecord, Reverse};

use super::{required_columns, BatchFilter};
use crate::ast::L7_NUMERIC;
use crate::{parse, CmpOp, Column, Expr, Kind, Net, StrMatch};

/// A small deterministic generator (xorshift64*): a record from a seed.
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
    fn pick<T: Copy>(&mut self, v: &[T]) -> T {
        v[self.below(v.len() as u64) as usize]
    }
    fn text(&mut self) -> Option<l7::FieldStr> {
        if self.below(4) == 0 {
            None
        } else {
            Some(self.pick(TEXTS).into())
        }
    }
}

const TEXTS: &[&str] = &[
    "",
    "x",
    "example.com",
    "www.example.com",
    "GET",
    "curl/8.0",
    "h2",
    "seznam.cz",
    "é",
];
const NUMS: &[u64] = &[
    0,
    1,
    2,
    6,
    17,
    53,
    80,
    200,
    443,
    0x0301,
    0x0800,
    1000,
    65535,
    70000,
    u32::MAX as u64,
    1 << 40,
    u64::MAX,
];
const TIMES: &[u64] = &[
    0,
    999_999,
    1_000_000,
    1_700_000_000_000_000_000,
    1_700_000_000_123_456_789,
    1_700_000_010_000_000_000,
    i64::MAX as u64,
];
const COUNTRIES: &[[u8; 2]] = &[[0, 0], *b"CZ", *b"US", *b"de", *b"00"];
const MACS: &[[u8; 6]] = &[[0; 6], [0, 0x50, 0x56, 0xc0, 0, 1], [0xff; 6]];

fn ip(rng: &mut Rng) -> Ipv6Addr {
    match rng.below(4) {
        0 => Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, rng.below(4) as u16),
        1 => Ipv6Addr::UNSPECIFIED,
        _ => std::net::Ipv4Addr::from(0x0a00_0000 | rng.below(4) as u32).to_ipv6_mapped(),
    }
}

fn record(seed: u64) -> FlowRecord {
    let mut r = Rng(seed | 1);
    let first_ns = r.pick(TIMES) + r.pick(&[0, 1, 999_999, 1_000_000, 5_000_000_000]);
    let first_ns = first_ns.min(i64::MAX as u64);
    let last_ns = if r.below(5) == 0 {
        r.pick(TIMES)
    } else {
        first_ns.saturating_add(r.pick(&[0, 1, 1_000_000, 10_000_000_000]))
    }
    .min(i64::MAX as u64);
    let small = |r: &mut Rng| r.pick(NUMS);
    let mut rec = FlowRecord {
        first_ns,
        last_ns,
        src_ip: ip(&mut r),
        dst_ip: ip(&mut r),
        src_port: small(&mut r) as u16,
        dst_port: small(&mut r) as u16,
        proto: r.pick(&[1, 6, 17, 58, 0, 255]),
        tcp_flags: r.below(256) as u8,
        tos: small(&mut r) as u8,
        packets: small(&mut r),
        bytes: small(&mut r),
        vlan: small(&mut r) as u16,
        src_mac: r.pick(MACS),
        dst_mac: r.pick(MACS),
        end_reason: r.pick(&[
            EndReason::Idle,
            EndReason::Active,
            EndReason::EndOfFlow,
            EndReason::Forced,
            EndReason::Eviction,
        ]),
        in_if: small(&mut r) as u32,
        out_if: small(&mut r) as u32,
        src_as: small(&mut r) as u32,
        dst_as: small(&mut r) as u32,
        src_country: r.pick(COUNTRIES),
        dst_country: r.pick(COUNTRIES),
        exporter: ip(&mut r),
        odid: small(&mut r) as u32,
        reverse: None,
        l7: None,
    };
    if r.below(3) == 0 {
        rec.reverse = Some(Reverse {
            first_ns: r.pick(TIMES),
            last_ns: r.pick(TIMES),
            packets: small(&mut r),
            bytes: small(&mut r),
            tcp_flags: r.below(256) as u8,
        });
    }
    let n16 = |r: &mut Rng| r.pick(NUMS) as u16;
    let o16 = |r: &mut Rng| (r.below(4) != 0).then(|| n16(r));
    rec.l7 = match r.below(8) {
        0 => Some(L7Fields::from(l7::http::HttpFields {
            method: r.text(),
            host: r.text(),
            url: r.text(),
            user_agent: r.text(),
            referer: r.text(),
            status: o16(&mut r),
            content_type: r.text(),
            server: r.text(),
        })),
        1 => Some(L7Fields::from(l7::dns::DnsFields {
            id: n16(&mut r),
            is_response: r.below(2) == 0,
            qname: r.text().unwrap_or_default(),
            qtype: n16(&mut r),
            qclass: n16(&mut r),
            rcode: r.below(16) as u8,
            answers: n16(&mut r),
            answer_ttl: r.pick(NUMS) as u32,
            answer_data: r.text().unwrap_or_default(),
            ..Default::default()
        })),
        2 => Some(L7Fields::from(l7::tls::TlsFields {
            sni: r.text(),
            version: o16(&mut r),
            legacy_version: o16(&mut r),
            alpn: r.text(),
            cipher_suite: o16(&mut r).map(u32::from),
            ja3: r.text(),
            ja4: r.text(),
        })),
        3 => Some(L7Fields::from(l7::smtp::SmtpFields {
            commands: r.pick(NUMS) as u32,
            mail_count: r.pick(NUMS) as u32,
            rcpt_count: 1,
            sender: r.text(),
            recipient: r.text(),
            domain: r.text(),
            status_2xx: r.pick(NUMS) as u32,
            ..Default::default()
        })),
        4 => Some(L7Fields::from(l7::sip::SipFields {
            msg_type: n16(&mut r),
            method: r.text(),
            status: o16(&mut r),
            call_id: r.text(),
            from: r.text(),
            to: r.text(),
            via: r.text(),
            user_agent: r.text(),
            request_uri: r.text(),
            cseq: r.text(),
        })),
        5 => Some(L7Fields::from(l7::quic::QuicFields {
            version: (r.below(2) == 0).then(|| r.pick(NUMS) as u32),
            sni: r.text(),
            alpn: r.text(),
        })),
        _ => None,
    };
    rec
}

fn batch_of(records: &[FlowRecord]) -> RecordBatch {
    let mut b = schema::BatchBuilder::new();
    records.iter().for_each(|r| b.push(r));
    b.finish()
}

fn every_column() -> Vec<Column> {
    let mut v = crate::CORE_COLUMNS.to_vec();
    v.extend((0..l7::COLUMNS.len() as u8).map(Column::L7));
    v
}

fn columns_of(kind: fn(Kind) -> bool) -> Vec<Column> {
    every_column()
        .into_iter()
        .filter(|c| kind(c.kind()))
        .collect()
}

fn value() -> impl Strategy<Value = u64> {
    prop_oneof![
        prop::sample::select(NUMS.to_vec()),
        prop::sample::select(TIMES.to_vec()),
        0u64..70_000,
        any::<u64>(),
    ]
}

fn net() -> impl Strategy<Value = Net> {
    (
        prop::sample::select(vec![
            "::ffff:10.0.0.1",
            "::ffff:10.0.0.0",
            "2001:db8::1",
            "2001:db8::",
            "::",
            "::ffff:0.0.0.0",
        ]),
        prop::sample::select(vec![0u8, 8, 32, 96, 104, 120, 126, 127, 128]),
    )
        .prop_map(|(a, len)| Net::new(a.parse().unwrap(), len))
}

fn text_match() -> impl Strategy<Value = StrMatch> {
    let s = prop::sample::select(vec![
        "",
        "x",
        "example",
        ".com",
        "CZ",
        "de",
        "GET",
        "é",
        "seznam.cz",
    ])
    .prop_map(String::from);
    prop_oneof![
        s.clone().prop_map(StrMatch::Eq),
        s.clone().prop_map(StrMatch::Ne),
        s.prop_map(StrMatch::Contains),
        prop::sample::select(vec!["^ex", "com$", "(?i)cz", "^$", "^.{2}$", "\\d"])
            .prop_map(|p| StrMatch::Regex(crate::Pattern(regex::Regex::new(p).unwrap()))),
    ]
}

fn op() -> impl Strategy<Value = CmpOp> {
    prop::sample::select(vec![
        CmpOp::Eq,
        CmpOp::Ne,
        CmpOp::Lt,
        CmpOp::Le,
        CmpOp::Gt,
        CmpOp::Ge,
    ])
}

/// Leaves over every column, including ones the parser never builds (a
/// `Net` on a port, a `Cmp` on a text column): they must agree too.
fn leaf() -> impl Strategy<Value = Expr> {
    let numeric = prop::sample::select(columns_of(|k| matches!(k, Kind::UInt { .. } | Kind::Time)));
    let any_col = prop::sample::select(every_column());
    let addr = prop::sample::select(vec![Column::SrcIp, Column::DstIp, Column::Exporter]);
    let text = prop::sample::select(columns_of(|k| k == Kind::Text));
    prop_oneof![
        Just(Expr::True),
        Just(Expr::False),
        (numeric.clone(), op(), value()).prop_map(|(col, op, value)| Expr::Cmp { col, op, value }),
        (any_col.clone(), op(), value()).prop_map(|(col, op, value)| Expr::Cmp { col, op, value }),
        (numeric.clone(), prop::collection::vec(value(), 1..12)).prop_map(|(col, mut values)| {
            values.sort_unstable();
            values.dedup();
            Expr::In { col, values }
        }),
        (
            numeric,
            prop::sample::select(vec![0u64, 1, 2, 0x12, 0x100, 0xff, 1 << 40])
        )
            .prop_map(|(col, mask)| Expr::BitsSet { col, mask }),
        (addr, prop::collection::vec(net(), 1..4)).prop_map(|(col, nets)| Expr::Net { col, nets }),
        (any_col.clone(), prop::collection::vec(net(), 1..2))
            .prop_map(|(col, nets)| Expr::Net { col, nets }),
        (
            prop::sample::select(vec![Column::SrcMac, Column::DstMac, Column::Proto]),
            prop::sample::select(MACS.to_vec())
        )
            .prop_map(|(col, mac)| Expr::Mac { col, mac }),
        (text.clone(), text_match()).prop_map(|(col, m)| Expr::Str { col, m }),
        (any_col.clone(), text_match()).prop_map(|(col, m)| Expr::Str { col, m }),
        any_col.prop_map(|col| Expr::Present { col }),
        text.prop_map(|col| Expr::Present { col }),
    ]
}

fn expr() -> impl Strategy<Value = Expr> {
    leaf().prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(Expr::not),
            prop::collection::vec(inner.clone(), 1..4).prop_map(Expr::And),
            prop::collection::vec(inner, 1..4).prop_map(Expr::Or),
        ]
    })
}

/// Filters as users write them.
const FILTERS: &[&str] = &[
    "any",
    "proto tcp and dst port 443",
    "port in [ 53 80 443 ]",
    "not port 80",
    "src net 10.0.0.0/30 or dst net 2001:db8::/64",
    "ipv4 and not ipv6",
    "flags S and not flags A",
    "icmp-type 3 or icmp-code 1",
    "duration > 1000 and pps < 100",
    "bps > 1k or bpp 1",
    "packets > 100 and bytes < 1M",
    "src as 443 or dst as 0",
    "geo CZ or dst_country = de",
    "not src_country \"US\"",
    "mac 00:50:56:c0:00:01",
    "router ip 10.0.0.1",
    "http host contains example",
    "not http_host ~ \"com$\"",
    "dns qname \"seznam.cz\" or dns qtype 1",
    "tls_sni != \"x\" and tls_version >= 0x0301",
    "payload ja3 defined",
    "first seen > 2023-11-14T22:13:20 and last seen < 2023-11-14T22:13:30",
    "first < 1971-01-01",
    "smtp_commands > 2 or sip_status 200 or quic_version 1",
    "end_reason idle or end_reason eviction",
    "in if 80 or out if 0 or vlan 2 or tos 6 or odid 443",
];

fn check(expr: &Expr, records: &[FlowRecord], batch: &RecordBatch) -> Result<(), TestCaseError> {
    let bf = BatchFilter::new(expr, &batch.schema())
        .map_err(|e| TestCaseError::fail(format!("{expr}: {e}")))?;
    let got = bf.eval(batch);
    prop_assert_eq!(got.len(), records.len());
    prop_assert_eq!(got.null_count(), 0);
    let mut count = 0;
    for (i, r) in records.iter().enumerate() {
        let want = expr.eval(r);
        count += want as usize;
        prop_assert_eq!(
            got.value(i),
            want,
            "row {} of {}: {}\n{:?}",
            i,
            records.len(),
            expr,
            r
        );
    }
    prop_assert_eq!(bf.matches_count(batch), count);
    Ok(())
}

/// Checks on the full batch, a projection to the required columns (in
/// reverse order, to move every index) and a slice.
fn check_all(expr: &Expr, records: &[FlowRecord], cut: usize) -> Result<(), TestCaseError> {
    let batch = batch_of(records);
    check(expr, records, &batch)?;
    let schema = batch.schema();
    let mut idx: Vec<usize> = required_columns(expr)
        .iter()
        .map(|n| schema.index_of(n).unwrap())
        .collect();
    idx.reverse();
    let projected = batch.project(&idx).unwrap();
    check(expr, records, &projected)?;
    let cut = cut.min(records.len());
    let sliced = batch.slice(cut, records.len() - cut);
    check(expr, &records[cut..], &sliced)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn batch_eval_equals_record_eval(
        seeds in prop::collection::vec(any::<u64>(), 0..200),
        e in expr(),
        cut in 0usize..80,
    ) {
        let records: Vec<FlowRecord> = seeds.iter().map(|s| record(*s)).collect();
        check_all(&e, &records, cut)?;
    }

    #[test]
    fn parsed_filters_agree(
        seeds in prop::collection::vec(any::<u64>(), 1..300),
        f in prop::sample::select(FILTERS.to_vec()),
        cut in 0usize..80,
    ) {
        let records: Vec<FlowRecord> = seeds.iter().map(|s| record(*s)).collect();
        let e = parse(f).unwrap().expr;
        check_all(&e, &records, cut)?;
        check_all(&Expr::not(e), &records, cut)?;
    }
}

#[test]
fn required_columns_expand_derived() {
    let e = parse("pps > 1 and icmp-type 3 and http_host x and src port 1 and port 2")
        .unwrap()
        .expr;
    assert_eq!(
        required_columns(&e),
        vec![
            "dst_port",
            "first",
            "http_host",
            "last",
            "packets",
            "proto",
            "src_port"
        ]
    );
    assert!(required_columns(&Expr::True).is_empty());
    // A leaf whose operator does not fit its column reads nothing.
    let odd = Expr::Net {
        col: Column::SrcPort,
        nets: vec![Net::ipv4()],
    };
    assert!(required_columns(&odd).is_empty());
}

#[test]
fn missing_columns_are_all_listed() {
    let e = parse("dns qname x or tls_sni y or port 80").unwrap().expr;
    let schema = Schema::new(vec![
        Field::new("src_port", DataType::UInt16, false),
        Field::new("dst_port", DataType::UInt16, false),
    ]);
    let err = BatchFilter::new(&e, &schema).unwrap_err();
    assert_eq!(err.missing, vec!["dns_qname", "tls_sni"]);
    assert_eq!(
        err.to_string(),
        "the stream lacks fields the filter needs: dns_qname, tls_sni"
    );
    let _: &dyn std::error::Error = &err;
}

#[test]
fn wrong_types_are_reported() {
    let e = parse("src port 80 and src ip 10.0.0.1 and first > 2024-01-01 and http_host x")
        .unwrap()
        .expr;
    let schema = Schema::new(vec![
        Field::new("src_port", DataType::Utf8, false),
        Field::new("src_ip", DataType::FixedSizeBinary(4), false),
        Field::new("first", DataType::Float64, false),
    ]);
    let err = BatchFilter::new(&e, &schema).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with("the stream lacks fields the filter needs: http_host; "),
        "{msg}"
    );
    assert!(
        msg.contains("field src_port has type Utf8, expected an integer"),
        "{msg}"
    );
    assert!(
        msg.contains("field src_ip has type FixedSizeBinary(4)"),
        "{msg}"
    );
    assert!(msg.contains("field first has type Float64"), "{msg}");
    assert_eq!(err.wrong_type.len(), 3);
}

fn addr16(ips: &[&str]) -> ArrayRef {
    let v: Vec<[u8; 16]> = ips
        .iter()
        .map(|s| s.parse::<Ipv6Addr>().unwrap().octets())
        .collect();
    Arc::new(FixedSizeBinaryArray::try_from_iter(v.into_iter()).unwrap())
}

fn bools(a: &BooleanArray) -> Vec<bool> {
    (0..a.len()).map(|i| a.value(i)).collect()
}

#[test]
fn other_integer_and_time_types() {
    let ms = DataType::Timestamp(TimeUnit::Millisecond, None);
    let schema = Arc::new(Schema::new(vec![
        Field::new("src_port", DataType::Int64, true),
        Field::new("dst_port", DataType::Int16, false),
        Field::new("first", ms.clone(), false),
        Field::new("last", DataType::Int64, false),
        Field::new("packets", DataType::UInt64, false),
        Field::new("src_ip", DataType::FixedSizeBinary(16), false),
        Field::new("proto", DataType::Int32, false),
    ]));
    let first: PrimitiveArray<TimestampMillisecondType> = vec![1_000, 1_000, -5, 2_000].into();
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int64Array::from(vec![Some(80), Some(-80), None, Some(443)])),
            Arc::new(Int16Array::from(vec![0x0301, -1, 0x0800, 80])),
            Arc::new(first),
            Arc::new(Int64Array::from(vec![
                3_000_000_000,
                999,
                10,
                2_000_000_000,
            ])),
            Arc::new(UInt64Array::from(vec![10, 1, 1, 0])),
            addr16(&["::ffff:10.0.0.1", "2001:db8::1", "::", "::ffff:10.0.0.2"]),
            Arc::new(arrow_array::Int32Array::from(vec![1, 1, 58, 6])),
        ],
    )
    .unwrap();
    let run = |f: &str| {
        let e = parse(f).unwrap().expr;
        bools(&BatchFilter::new(&e, &schema).unwrap().eval(&batch))
    };
    // Negative integers are nulls: no leaf matches them, `not` does.
    assert_eq!(run("src port 80"), [true, false, false, false]);
    assert_eq!(run("src port < 100"), [true, false, false, false]);
    assert_eq!(run("not src port < 100"), [false, true, true, true]);
    assert_eq!(run("src port != 1"), [true, false, false, true]);
    assert_eq!(
        run("icmp-type 3 and icmp-code 1"),
        [true, false, false, false]
    );
    assert_eq!(run("dst port > 100"), [true, false, true, false]);
    assert_eq!(run("dst port in [ 80 0x301 ]"), [true, false, false, true]);
    assert_eq!(
        run("dst port in [ 1 2 3 4 5 6 7 8 80 0x800 65535 ]"),
        [false, false, true, true]
    );
    assert_eq!(
        run("not dst port in [ 0x800 65535 ]"),
        [true, true, false, true]
    );
    // Milliseconds and Int64 nanoseconds; a negative time reads as 0.
    assert_eq!(run("first 1970-01-01T00:00:01"), [true, true, false, false]);
    assert_eq!(run("first 1970-01-01"), [false, false, true, false]);
    // duration: 3000 - 1000; 0 - 1000 saturates to 0; 0 - 0; 2000 - 2000.
    assert_eq!(run("duration 2000"), [true, false, false, false]);
    assert_eq!(run("duration 0"), [false, true, true, true]);
    assert_eq!(run("pps 5"), [true, false, false, false]);
    assert_eq!(run("ipv4"), [true, false, false, true]);
    assert_eq!(run("src net 10.0.0.0/31"), [true, false, false, false]);
}

#[test]
fn string_types_and_countries() {
    let schema = Arc::new(Schema::new(vec![
        Field::new("http_host", DataType::LargeUtf8, true),
        Field::new("tls_sni", DataType::Utf8View, true),
        Field::new("src_country", DataType::Utf8, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(LargeStringArray::from(vec![
                Some("a.example.com"),
                None,
                Some(""),
            ])),
            Arc::new(StringViewArray::from(vec![
                None,
                Some("a rather long server name over twelve bytes"),
                Some("x"),
            ])),
            Arc::new(StringArray::from(vec![
                Some("CZ"),
                Some("CZE"),
                Some("\0\0"),
            ])),
        ],
    )
    .unwrap();
    let run = |f: &str| {
        let e = parse(f).unwrap().expr;
        bools(&BatchFilter::new(&e, &schema).unwrap().eval(&batch))
    };
    assert_eq!(run("http_host contains example"), [true, false, false]);
    assert_eq!(run("http_host != x"), [true, false, true]);
    assert_eq!(run("not http_host != x"), [false, true, false]);
    assert_eq!(run("tls_sni ~ \"twelve\""), [false, true, false]);
    assert_eq!(run("tls_sni = x"), [false, false, true]);
    // A country that is not two bytes is unknown, as in a record.
    assert_eq!(run("src_country != US"), [true, false, false]);
    assert_eq!(run("src_country CZ"), [true, false, false]);
}

#[test]
fn empty_batch_and_trivial_filters() {
    let batch = batch_of(&[]);
    for f in ["any", "not any", "port 80", "http_host x", "duration > 3"] {
        let e = parse(f).unwrap().expr;
        let bf = BatchFilter::new(&e, &batch.schema()).unwrap();
        assert_eq!(bf.eval(&batch).len(), 0);
        assert_eq!(bf.matches_count(&batch), 0);
    }
    let records: Vec<FlowRecord> = (0..130).map(record).collect();
    let batch = batch_of(&records);
    let all = BatchFilter::new(&Expr::True, &batch.schema()).unwrap();
    assert_eq!(all.matches_count(&batch), 130);
    assert!(bools(&all.eval(&batch)).iter().all(|b| *b));
    let none = BatchFilter::new(&Expr::not(Expr::True), &batch.schema()).unwrap();
    assert_eq!(none.matches_count(&batch), 0);
}

#[test]
fn a_batch_of_another_schema_is_all_false_not_a_panic() {
    let e = parse("port 80 or http_host x").unwrap().expr;
    let bf = BatchFilter::new(&e, &schema::flow_schema()).unwrap();
    let other = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("x", DataType::UInt16, false)])),
        vec![Arc::new(UInt16Array::from(vec![80, 80]))],
    )
    .unwrap();
    assert_eq!(bools(&bf.eval(&other)), [false, false]);
    assert!(bf.try_eval(&other).is_err());
    assert_eq!(bf.matches_count(&other), 0);
    // Right indices, wrong types.
    let wide: Vec<ArrayRef> = (0..60)
        .map(|_| Arc::new(Int64Array::from(vec![80, 80])) as ArrayRef)
        .collect();
    let fields: Vec<Field> = (0..60)
        .map(|i| Field::new(format!("c{i}"), DataType::Int64, false))
        .collect();
    let wide = RecordBatch::try_new(Arc::new(Schema::new(fields)), wide).unwrap();
    assert_eq!(bools(&bf.eval(&wide)), [false, false]);
    let _ = PrimitiveArray::<Int64Type>::from(vec![1]);
}

#[test]
fn l7_numeric_columns_are_uint32_in_the_schema() {
    // The filter's numeric L7 columns are the schema's UInt32 ones.
    for (i, name) in l7::COLUMNS.iter().enumerate() {
        let t = schema::column_type(name).unwrap();
        assert_eq!(
            L7_NUMERIC.contains(name),
            t == DataType::UInt32,
            "{name} ({i}) is {t}"
        );
    }
}

#[test]
fn batch_filter_is_send_and_sync() {
    fn shared<T: Send + Sync + Clone>() {}
    shared::<BatchFilter>();
    shared::<super::SchemaMismatch>();
}
