use super::parser::{self, Name, NameError};
use super::state::DnsState;
use super::*;
use crate::testutil::{self, Payload};
use crate::{Feed, L7Fields, Parser, Transport, MAX_BUFFER, MAX_FIELD_LEN};
use std::collections::HashMap;
use std::process::Command;

const UDP: u8 = 17;
const TCP: u8 = 6;

// ---------------------------------------------------------------- helpers

/// Fields of every transaction of every flow direction of a capture, keyed
/// by (src ip, dst ip, src port, dst port, proto), in order.
type Directions = HashMap<(String, String, u16, u16, u8), Vec<DnsFields>>;

fn by_direction(rel: &str) -> Directions {
    let all = testutil::payloads(rel);
    let mut grouped: HashMap<_, Vec<Payload>> = HashMap::new();
    for p in &all {
        let key = (
            p.src.to_string(),
            p.dst.to_string(),
            p.src_port,
            p.dst_port,
            p.proto,
        );
        grouped.entry(key).or_default().push(p.clone());
    }
    grouped
        .into_iter()
        .map(|(key, payloads)| {
            let fields = testutil::run_parser(new_parser, &payloads)
                .into_iter()
                .map(|f| match f {
                    L7Fields::Dns(d) => *d,
                    other => panic!("not dns: {other:?}"),
                })
                .collect();
            (key, fields)
        })
        .collect()
}

fn only(dirs: &Directions, src: &str, dst: &str, sport: u16, dport: u16, proto: u8) -> DnsFields {
    let key = (src.to_string(), dst.to_string(), sport, dport, proto);
    let fields = dirs
        .get(&key)
        .unwrap_or_else(|| panic!("no direction {key:?}"));
    assert_eq!(fields.len(), 1, "{key:?}: {fields:?}");
    fields[0].clone()
}

fn feed_all(parser: &mut dyn Parser, chunks: &[&[u8]]) -> Vec<DnsFields> {
    let mut out = Vec::new();
    for chunk in chunks {
        if parser.feed(chunk) == Feed::Boundary {
            out.extend(parser.take_finished());
        }
    }
    out.extend(parser.take_current());
    out.into_iter()
        .map(|f| match f {
            L7Fields::Dns(d) => *d,
            other => panic!("not dns: {other:?}"),
        })
        .collect()
}

/// A message built by hand: header then raw body bytes.
fn message(id: u16, flags: u16, counts: [u16; 4], body: &[u8]) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&flags.to_be_bytes());
    for c in counts {
        m.extend_from_slice(&c.to_be_bytes());
    }
    m.extend_from_slice(body);
    m
}

fn wire_name(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for label in name.split('.').filter(|l| !l.is_empty()) {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out
}

/// A query for `name` with type and class.
fn query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut body = wire_name(name);
    body.extend_from_slice(&qtype.to_be_bytes());
    body.extend_from_slice(&1u16.to_be_bytes());
    message(id, 0x0100, [1, 0, 0, 0], &body)
}

/// A response to `query(id, name, ..)` with one answer of `rtype` whose
/// owner is a pointer to the question name.
fn response(id: u16, name: &str, rtype: u16, ttl: u32, rdata: &[u8]) -> Vec<u8> {
    let mut m = query(id, name, rtype);
    m[2..4].copy_from_slice(&0x8180u16.to_be_bytes());
    m[6..8].copy_from_slice(&1u16.to_be_bytes());
    m.extend_from_slice(&[0xc0, 12]);
    m.extend_from_slice(&rtype.to_be_bytes());
    m.extend_from_slice(&1u16.to_be_bytes());
    m.extend_from_slice(&ttl.to_be_bytes());
    m.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    m.extend_from_slice(rdata);
    m
}

fn tcp_framed(msg: &[u8]) -> Vec<u8> {
    let mut out = (msg.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(msg);
    out
}

fn one(parser_input: &[&[u8]]) -> DnsFields {
    let mut parser = new_parser();
    let fields = feed_all(parser.as_mut(), parser_input);
    assert_eq!(fields.len(), 1, "{fields:?}");
    fields[0].clone()
}

fn udp(sport: u16, dport: u16) -> Transport {
    Transport {
        proto: UDP,
        src_port: sport,
        dst_port: dport,
    }
}

fn tcp(sport: u16, dport: u16) -> Transport {
    Transport {
        proto: TCP,
        src_port: sport,
        dst_port: dport,
    }
}

fn dns_captures() -> Vec<String> {
    let dir = testutil::shared("pcap/dns");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("pcap/dns")
        .map(|e| format!("pcap/dns/{}", e.unwrap().file_name().to_string_lossy()))
        .collect();
    names.sort();
    names
}

fn all_captures() -> Vec<String> {
    let root = testutil::shared("pcap");
    let mut out = Vec::new();
    for dir in std::fs::read_dir(&root).unwrap() {
        let dir = dir.unwrap();
        for file in std::fs::read_dir(dir.path()).unwrap() {
            let file = file.unwrap();
            out.push(format!(
                "pcap/{}/{}",
                dir.file_name().to_string_lossy(),
                file.file_name().to_string_lossy()
            ));
        }
    }
    out.sort();
    out
}

// ------------------------------------------------------------ unit: names

#[test]
fn names_decode_with_compression_and_keep_case() {
    let mut m = message(1, 0, [0; 4], &wire_name("Www.Example.com"));
    m.extend_from_slice(&[3, b'f', b'o', b'o', 0xc0, 16]); // foo + example.com
    let (name, end) = Name::parse(&m, 12).unwrap();
    assert_eq!(name.to_text(), "Www.Example.com");
    assert_eq!(end, 12 + 17);
    let (name, end) = Name::parse(&m, 29).unwrap();
    assert_eq!(name.to_text(), "foo.Example.com");
    assert_eq!(end, m.len());
}

#[test]
fn root_name_is_empty() {
    let m = message(1, 0, [0; 4], &[0]);
    assert_eq!(Name::parse(&m, 12).unwrap().0.to_text(), "");
}

#[test]
fn compression_loops_and_forward_pointers_are_rejected() {
    // Pointer to itself.
    let m = message(1, 0, [0; 4], &[0xc0, 12]);
    assert_eq!(Name::parse(&m, 12), Err(NameError::BadPointer));
    // Two pointers to each other.
    let m = message(1, 0, [0; 4], &[0xc0, 14, 0xc0, 12]);
    assert_eq!(Name::parse(&m, 14), Err(NameError::BadPointer));
    // A label followed by a pointer back to it.
    let m = message(1, 0, [0; 4], &[1, b'a', 0xc0, 12]);
    assert_eq!(Name::parse(&m, 12), Err(NameError::BadPointer));
    // Forward pointer.
    let m = message(1, 0, [0; 4], &[0xc0, 14, 0]);
    assert_eq!(Name::parse(&m, 12), Err(NameError::BadPointer));
}

#[test]
fn pointer_chains_are_capped() {
    // name at 12 is root; each later pointer points to the previous one.
    let mut body = vec![0u8];
    for i in 0..40u16 {
        let target = 12 + if i == 0 { 0 } else { 1 + 2 * (i - 1) };
        body.extend_from_slice(&(0xc000 | target).to_be_bytes());
    }
    let m = message(1, 0, [0; 4], &body);
    // A short chain is fine, a long one is cut.
    assert!(Name::parse(&m, 13 + 2 * 3).is_ok());
    assert_eq!(Name::parse(&m, 13 + 2 * 39), Err(NameError::BadPointer));
}

#[test]
fn long_names_and_bad_labels_are_rejected() {
    // 4 labels of 63 = 256 wire bytes with the root: too long.
    let mut body = Vec::new();
    for _ in 0..4 {
        body.push(63);
        body.extend_from_slice(&[b'a'; 63]);
    }
    body.push(0);
    let m = message(1, 0, [0; 4], &body);
    assert_eq!(Name::parse(&m, 12), Err(NameError::TooLong));
    // 3 × 63 + 61 = 254 wire bytes with the root: fine.
    let mut body = Vec::new();
    for _ in 0..3 {
        body.push(63);
        body.extend_from_slice(&[b'a'; 63]);
    }
    body.push(61);
    body.extend_from_slice(&[b'b'; 61]);
    body.push(0);
    let m = message(1, 0, [0; 4], &body);
    let text = Name::parse(&m, 12).unwrap().0.to_text();
    assert_eq!(text.len(), 253);
    // Extended label type 01.
    let m = message(1, 0, [0; 4], &[0x41, 0]);
    assert_eq!(Name::parse(&m, 12), Err(NameError::BadLabelType));
    // Truncated label and missing terminator.
    let m = message(1, 0, [0; 4], &[5, b'a']);
    assert_eq!(Name::parse(&m, 12), Err(NameError::Truncated));
    let m = message(1, 0, [0; 4], &[1, b'a']);
    assert_eq!(Name::parse(&m, 12), Err(NameError::Truncated));
    // Label count: 128 one-byte labels fit in 256 bytes... rejected as long.
    let mut body = Vec::new();
    for _ in 0..128 {
        body.extend_from_slice(&[1, b'x']);
    }
    body.push(0);
    let m = message(1, 0, [0; 4], &body);
    assert_eq!(Name::parse(&m, 12), Err(NameError::TooLong));
}

// ---------------------------------------------------------- unit: records

#[test]
fn rdata_text_forms() {
    let mx = [&[0, 10][..], &wire_name("mail.example.com")].concat();
    let srv = [
        &[0, 1, 0, 100, 0x13, 0xc4][..],
        &wire_name("sip.example.com"),
    ]
    .concat();
    let mut soa = [
        wire_name("ns1.example.com"),
        wire_name("hostmaster.example.com"),
    ]
    .concat();
    for v in [2024010101u32, 7200, 3600, 1209600, 300] {
        soa.extend_from_slice(&v.to_be_bytes());
    }
    let txt = b"\x05hello\x06 world";
    let cases: Vec<(u16, Vec<u8>, &str)> = vec![
        (1, vec![10, 0, 0, 1], "10.0.0.1"),
        (
            28,
            vec![0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            "2001:db8::1",
        ),
        (5, wire_name("alias.example.org"), "alias.example.org"),
        (12, wire_name("host.example"), "host.example"),
        (2, wire_name("ns.example"), "ns.example"),
        (15, mx, "10 mail.example.com"),
        (33, srv, "1 100 5060 sip.example.com"),
        (
            6,
            soa,
            "ns1.example.com hostmaster.example.com 2024010101 7200 3600 1209600 300",
        ),
        (16, txt.to_vec(), "hello world"),
        (99, vec![0xde, 0xad], "dead"),
        (1, vec![1, 2, 3], ""),
        (15, vec![0], ""),
    ];
    for (rtype, rdata, want) in cases {
        let m = response(7, "example.com", rtype, 60, &rdata);
        let f = one(&[&m]);
        assert_eq!(f.answer_data, want, "type {rtype}");
        assert_eq!((f.answer_type, f.answer_ttl, f.answers), (rtype, 60, 1));
        assert!(f.is_response);
    }
}

#[test]
fn compressed_names_in_rdata_resolve_against_the_message() {
    // CNAME rdata "www" + pointer to the question name.
    let m = response(7, "example.com", 5, 60, &[3, b'w', b'w', b'w', 0xc0, 12]);
    assert_eq!(one(&[&m]).answer_data, "www.example.com");
    // A name that runs past its rdata is malformed.
    let mut m = response(7, "example.com", 5, 60, &[3, b'w', b'w', b'w', 0xc0]);
    m.push(12);
    assert_eq!(one(&[&m]).answer_data, "");
}

#[test]
fn huge_fields_are_capped() {
    let mut txt = Vec::new();
    for _ in 0..20 {
        txt.push(255);
        txt.extend_from_slice(&[b'x'; 255]);
    }
    let m = response(1, "example.com", 16, 1, &txt);
    assert_eq!(one(&[&m]).answer_data.len(), MAX_FIELD_LEN);
    let m = response(1, "example.com", 48, 1, &[0xab; 1000]);
    assert_eq!(one(&[&m]).answer_data.len(), 2 * parser::MAX_HEX_RDATA);
}

#[test]
fn edns_opt_record_gives_payload_size_and_do_bit() {
    let mut m = query(5, "example.com", 1);
    m[11] = 1; // arcount
    m.extend_from_slice(&[0, 0, 41, 0x10, 0, 0, 0, 0x80, 0, 0, 0]);
    let f = one(&[&m]);
    assert_eq!((f.edns_udp_size, f.dnssec_ok), (4096, true));
    assert!(parser::is_strict_message(&m));
}

#[test]
fn many_records_still_show_the_first_answer() {
    let mut m = response(3, "many.example", 1, 9, &[10, 0, 0, 9]);
    m[6..8].copy_from_slice(&200u16.to_be_bytes());
    let f = one(&[&m]);
    assert_eq!(
        (f.answers, f.answer_data.as_str(), f.answer_ttl),
        (200, "10.0.0.9", 9)
    );
    assert!(!parser::is_strict_message(&m));
}

#[test]
fn malformed_question_keeps_the_header() {
    let mut m = query(0x1234, "example.com", 1);
    m[12] = 0xc0; // pointer loop into the header... forward/bad
    m[13] = 0x20;
    let f = one(&[&m]);
    assert_eq!(f.id, 0x1234);
    assert_eq!(f.qname, "");
    assert_eq!(f.qtype, 0);
}

// ------------------------------------------------------- unit: transactions

#[test]
fn every_udp_message_is_a_transaction() {
    let q1 = query(1, "a.example", 1);
    let q2 = query(2, "b.example", 28);
    let mut parser = new_parser();
    assert_eq!(parser.feed(&q1), Feed::More);
    assert_eq!(parser.feed(&[]), Feed::More);
    assert_eq!(parser.feed(&[1, 2, 3]), Feed::More, "too short: ignored");
    assert_eq!(parser.feed(&q2), Feed::Boundary);
    let Some(L7Fields::Dns(first)) = parser.take_finished() else {
        panic!()
    };
    assert_eq!(
        (first.id, first.qname.as_str(), first.qtype),
        (1, "a.example", 1)
    );
    let Some(L7Fields::Dns(second)) = parser.take_current() else {
        panic!()
    };
    assert_eq!(
        (second.id, second.qname.as_str(), second.qtype),
        (2, "b.example", 28)
    );
    assert!(!second.is_response);
}

#[test]
fn tcp_messages_split_anywhere_reassemble() {
    let r = response(9, "split.example", 1, 30, &[192, 0, 2, 7]);
    let framed = tcp_framed(&r);
    for cut in 1..framed.len() {
        let (a, b) = framed.split_at(cut);
        let f = one(&[a, b]);
        assert_eq!((f.id, f.qname.as_str()), (9, "split.example"), "cut {cut}");
        assert_eq!(f.answer_data, "192.0.2.7", "cut {cut}");
    }
    // Byte by byte.
    let bytes: Vec<&[u8]> = framed.chunks(1).collect();
    assert_eq!(one(&bytes).answer_data, "192.0.2.7");
}

#[test]
fn tcp_messages_in_separate_segments_are_transactions() {
    let a = tcp_framed(&query(1, "one.example", 1));
    let b = tcp_framed(&query(2, "two.example", 1));
    let mut parser = new_parser();
    let fields = feed_all(parser.as_mut(), &[&a, &b]);
    let ids: Vec<u16> = fields.iter().map(|f| f.id).collect();
    assert_eq!(ids, [1, 2]);
    // The second starts in the segment that ends the first.
    let both = [a.clone(), b.clone()].concat();
    let (x, y) = both.split_at(a.len() + 3);
    let fields = feed_all(
        new_parser().as_mut(),
        &[&x[..a.len() - 1], &x[a.len() - 1..], y],
    );
    let ids: Vec<u16> = fields.iter().map(|f| f.id).collect();
    assert_eq!(ids, [1, 2]);
    // Several messages in one segment share a transaction (the first one's).
    let c = tcp_framed(&query(3, "three.example", 1));
    let fields = feed_all(
        new_parser().as_mut(),
        &[&[a.clone(), b.clone()].concat(), &c],
    );
    let ids: Vec<u16> = fields.iter().map(|f| f.id).collect();
    assert_eq!(ids, [1, 3]);
}

#[test]
fn tcp_message_larger_than_the_buffer_keeps_its_head() {
    let mut txt = Vec::new();
    while txt.len() < 60_000 {
        txt.push(255);
        txt.extend_from_slice(&[b'y'; 255]);
    }
    let r = response(4, "big.example", 16, 5, &txt);
    let framed = tcp_framed(&r);
    let next = tcp_framed(&query(5, "next.example", 1));
    let mut state = DnsState::new();
    let mut max_buffered = 0;
    let mut boundaries = 0;
    for chunk in framed.chunks(1400).chain([&next[..]]) {
        if state.feed(chunk) == Feed::Boundary {
            boundaries += 1;
            let Some(L7Fields::Dns(f)) = state.take_finished() else {
                panic!()
            };
            assert_eq!(
                (f.id, f.answer_type, f.answer_data.len()),
                (4, 16, MAX_FIELD_LEN)
            );
        }
        max_buffered = max_buffered.max(state.buffered());
    }
    assert_eq!(boundaries, 1);
    assert!(max_buffered <= MAX_BUFFER);
    let Some(L7Fields::Dns(f)) = state.take_current() else {
        panic!()
    };
    assert_eq!(f.qname, "next.example");
}

#[test]
fn tcp_bad_lengths_do_not_stick() {
    // A real message, a zero-length and a 5-byte one, then a real one.
    let mut stream = tcp_framed(&query(5, "first.example", 1));
    let first_len = stream.len();
    stream.extend_from_slice(&[0, 0, 0, 5, 1, 2, 3, 4, 5]);
    stream.extend(tcp_framed(&query(6, "ok.example", 1)));
    let mut parser = DnsState::new();
    let cut = first_len + 3;
    let fields = feed_all(
        &mut parser,
        &[
            &stream[..first_len],
            &stream[first_len..cut],
            &stream[cut..],
        ],
    );
    let names: Vec<&str> = fields.iter().map(|f| f.qname.as_str()).collect();
    assert_eq!(names, ["first.example", "ok.example"]);
}

#[test]
fn flow_ending_mid_message_reports_the_head() {
    let r = tcp_framed(&response(8, "cut.example", 1, 1, &[1, 2, 3, 4]));
    let f = one(&[&r[..r.len() - 3]]);
    assert_eq!(
        (f.id, f.qname.as_str(), f.answer_data.as_str()),
        (8, "cut.example", "")
    );
}

// ------------------------------------------------------------- unit: probe

#[test]
fn probe_accepts_dns_on_dns_ports_and_strict_dns_elsewhere() {
    let q = query(0x4242, "example.com", 1);
    assert!(probe(&udp(40000, 53), &q));
    assert!(probe(&udp(5353, 5353), &q));
    assert!(probe(&udp(40000, 5355), &q));
    assert!(probe(&udp(40000, 53), &[]));
    assert!(probe(&udp(40000, 8053), &q));
    assert!(probe(
        &udp(8053, 40000),
        &response(1, "example.com", 1, 1, &[1, 2, 3, 4])
    ));
    assert!(probe(&tcp(40000, 8053), &tcp_framed(&q)));
    assert!(probe(&tcp(40000, 53), &tcp_framed(&q)));
    assert!(probe(&tcp(40000, 53), &tcp_framed(&q)[..2]));
    assert!(probe(&tcp(40000, 53), &[]));
    assert!(!probe(&tcp(40000, 8053), &tcp_framed(&q)[..20]));
    assert!(!probe(
        &Transport {
            proto: 1,
            src_port: 0,
            dst_port: 0
        },
        &q
    ));
}

#[test]
fn probe_rejects_other_udp() {
    // NTP client request.
    let mut ntp = vec![0x23, 0, 6, 0x20];
    ntp.resize(48, 0);
    assert!(!probe(&udp(123, 123), &ntp));
    assert!(!probe(&udp(40000, 40001), &ntp));
    // Trailing bytes, two questions, Z bit, unknown class, answers in a query.
    let q = query(1, "example.com", 1);
    let mut trailing = q.clone();
    trailing.push(0);
    assert!(!probe(&udp(1, 2), &trailing));
    let mut z = q.clone();
    z[3] |= 0x40;
    assert!(!probe(&udp(1, 2), &z));
    let mut class = q.clone();
    let n = class.len();
    class[n - 1] = 9;
    assert!(!probe(&udp(1, 2), &class));
    let mut answers = q.clone();
    answers[7] = 1;
    assert!(!probe(&udp(1, 2), &answers));
    // SIP and HTTP text.
    assert!(!probe(
        &udp(5060, 5060),
        b"OPTIONS sip:a@b SIP/2.0\r\nVia: x\r\n\r\n"
    ));
    assert!(!probe(
        &tcp(40000, 8080),
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"
    ));
}

/// Random payloads (like the traffic generator's) are not claimed off the
/// DNS ports.
#[test]
fn probe_rejects_random_payloads() {
    use proptest::test_runner::{Config, TestRunner};
    let mut runner = TestRunner::new(Config {
        cases: 20_000,
        ..Config::default()
    });
    runner
        .run(
            &proptest::collection::vec(proptest::num::u8::ANY, 0..600),
            |bytes| {
                proptest::prop_assert!(!probe(&udp(40000, 40001), &bytes));
                proptest::prop_assert!(!probe(&tcp(40000, 40001), &bytes));
                Ok(())
            },
        )
        .unwrap();
}

/// Off the DNS ports, probe claims only what tshark also calls DNS (or
/// nothing), across every shared capture.
#[test]
fn probe_claims_nothing_else_in_shared_captures() {
    let mut claimed = Vec::new();
    for capture in all_captures() {
        for p in testutil::payloads(&capture) {
            let t = p.transport();
            if is_dns_port(&t) || p.data.is_empty() {
                continue;
            }
            if probe(&t, &p.data) {
                claimed.push(format!(
                    "{capture}: {}:{} -> {}:{}",
                    p.src, p.src_port, p.dst, p.dst_port
                ));
            }
        }
    }
    assert!(claimed.is_empty(), "{claimed:#?}");
}

#[test]
fn probe_accepts_every_dns_capture_first_payload() {
    for capture in dns_captures() {
        for p in testutil::payloads(&capture)
            .iter()
            .filter(|p| !p.data.is_empty())
        {
            assert!(probe(&p.transport(), &p.data), "{capture}");
            // The same message on another port passes the strict check too
            // (one message per datagram or segment in these captures).
            let off = Transport {
                src_port: 40000,
                dst_port: 40001,
                ..p.transport()
            };
            assert!(probe(&off, &p.data), "{capture} off port");
        }
    }
}

// ------------------------------------------------------- reference: FlowTest

fn yaml_u64(v: &serde_yaml::Value) -> u64 {
    match v {
        serde_yaml::Value::Number(n) => n.as_u64().unwrap(),
        serde_yaml::Value::String(s) => {
            let s = s.trim();
            match s.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16).unwrap(),
                None => s.parse().unwrap(),
            }
        }
        other => panic!("not a number: {other:?}"),
    }
}

fn yaml_str(v: &serde_yaml::Value) -> String {
    match v {
        serde_yaml::Value::String(s) => s.clone(),
        serde_yaml::Value::Number(n) => n.to_string(),
        other => panic!("not a string: {other:?}"),
    }
}

/// Checks one direction's fields against a FlowTest `_forward`/`_reverse`
/// block (plus the flow-wide `dns_id`).
fn check_flowtest_side(name: &str, f: &DnsFields, id: u64, side: &serde_yaml::Value) {
    assert_eq!(u64::from(f.id), id, "{name} id");
    assert_eq!(
        u64::from(f.flags),
        yaml_u64(&side["dns_flags"]),
        "{name} flags"
    );
    assert_eq!(f.is_response, f.flags & 0x8000 != 0);
    if let Some(v) = side.get("dns_req_query_type") {
        assert_eq!(u64::from(f.qtype), yaml_u64(v), "{name} qtype");
    }
    if let Some(v) = side.get("dns_req_query_class") {
        assert_eq!(u64::from(f.qclass), yaml_u64(v), "{name} qclass");
    }
    if let Some(v) = side.get("dns_req_query_name") {
        assert_eq!(f.qname, yaml_str(v), "{name} qname");
    }
    if let Some(v) = side.get("dns_resp_rcode") {
        assert_eq!(u64::from(f.rcode), yaml_u64(v), "{name} rcode");
    }
    match side.get("dns_resp_rr").and_then(|v| v.as_sequence()) {
        Some(rrs) => {
            assert_eq!(usize::from(f.answers), rrs.len(), "{name} answers");
            let first = &rrs[0];
            assert_eq!(
                u64::from(f.answer_type),
                yaml_u64(&first["type"]),
                "{name} type"
            );
            assert_eq!(
                u64::from(f.answer_ttl),
                yaml_u64(&first["ttl"]),
                "{name} ttl"
            );
            assert_eq!(f.answer_data, yaml_str(&first["data"]), "{name} data");
        }
        None => assert_eq!(f.answers, 0, "{name} answers"),
    }
}

#[test]
fn flowtest_references_match() {
    let index = std::fs::read_to_string(testutil::shared("reference/flowtest/INDEX.csv")).unwrap();
    let mut checked = 0;
    for line in index.lines() {
        let mut cols = line.split(',');
        let (Some(yml), Some(pcap)) = (cols.next(), cols.next()) else {
            continue;
        };
        if !yml.contains("/dns_") {
            continue;
        }
        let text = std::fs::read_to_string(testutil::shared(yml)).unwrap();
        let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
        let dirs = by_direction(pcap);
        for flow in doc["flows"].as_sequence().unwrap() {
            let (src, dst) = (yaml_str(&flow["src_ip"]), yaml_str(&flow["dst_ip"]));
            let sport = yaml_u64(&flow["src_port"]) as u16;
            let dport = yaml_u64(&flow["dst_port"]) as u16;
            let proto = yaml_u64(&flow["protocol"]) as u8;
            let id = yaml_u64(&flow["dns_id"]);
            let forward = only(&dirs, &src, &dst, sport, dport, proto);
            check_flowtest_side(yml, &forward, id, &flow["_forward"]);
            if let Some(reverse) = flow.get("_reverse") {
                let back = only(&dirs, &dst, &src, dport, sport, proto);
                check_flowtest_side(yml, &back, id, reverse);
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 11);
}

// ----------------------------------------------------- reference: ipfixprobe

/// Splits a CSV line (quoted fields may hold commas).
fn csv_fields(line: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(String::new()),
            _ => out.last_mut().unwrap().push(c),
        }
    }
    out
}

/// ipfixprobe's CSV: the header (last line, "type NAME" columns) and rows
/// as name -> value maps.
fn ipfixprobe_rows(rel: &str) -> Vec<HashMap<String, String>> {
    let text = std::fs::read_to_string(testutil::shared(rel)).unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let header_at = lines.iter().position(|l| l.contains("ipaddr ")).unwrap();
    let names: Vec<String> = csv_fields(lines[header_at])
        .iter()
        .map(|c| c.split_whitespace().last().unwrap().to_string())
        .collect();
    lines
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != header_at)
        .map(|(_, l)| names.iter().cloned().zip(csv_fields(l)).collect())
        .collect()
}

fn hex_text(hex: &str) -> String {
    let bytes: Vec<u8> = (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Record types whose text form we share with ipfixprobe.
const TEXT_TYPES: [u16; 9] = [1, 2, 5, 6, 12, 15, 16, 28, 33];

#[test]
fn ipfixprobe_dns_csv_matches() {
    let dirs = by_direction("pcap/dns/ipfixprobe_dns.pcap");
    let rows = ipfixprobe_rows("reference/ipfixprobe/dns.csv");
    assert_eq!(rows.len(), 16);
    let mut rdata_checked = 0;
    for row in rows {
        let num = |k: &str| -> u64 { row[k].parse().unwrap() };
        let f = only(
            &dirs,
            &row["SRC_IP"],
            &row["DST_IP"],
            num("SRC_PORT") as u16,
            num("DST_PORT") as u16,
            UDP,
        );
        let ctx = format!("{row:?}");
        assert_eq!(u64::from(f.id), num("DNS_ID"), "{ctx}");
        assert_eq!(u64::from(f.answers), num("DNS_ANSWERS"), "{ctx}");
        assert_eq!(u64::from(f.rcode), num("DNS_RCODE"), "{ctx}");
        assert_eq!(f.qname, row["DNS_NAME"], "{ctx}");
        assert_eq!(u64::from(f.qtype), num("DNS_QTYPE"), "{ctx}");
        assert_eq!(u64::from(f.qclass), num("DNS_CLASS"), "{ctx}");
        assert_eq!(u64::from(f.answer_ttl), num("DNS_RR_TTL"), "{ctx}");
        assert_eq!(u64::from(f.edns_udp_size), num("DNS_PSIZE"), "{ctx}");
        assert_eq!(u64::from(f.dnssec_ok), num("DNS_DO"), "{ctx}");
        if f.answers == 0 {
            assert_eq!(f.answer_data, "");
            assert_eq!(row["DNS_RDATA"], "");
        } else if TEXT_TYPES.contains(&f.answer_type) {
            assert_eq!(f.answer_data, hex_text(&row["DNS_RDATA"]), "{ctx}");
            rdata_checked += 1;
        } else {
            // Documented deviation: ipfixprobe prints RRSIG in a text form
            // of its own; we show the rdata as hex.
            assert_eq!(f.answer_type, 46, "{ctx}");
            assert!(f.answer_data.bytes().all(|b| b.is_ascii_hexdigit()));
        }
    }
    assert_eq!(rdata_checked, 7);
}

#[test]
fn ipfixprobe_passivedns_csv_first_answers_match() {
    let dirs = by_direction("pcap/dns/ipfixprobe_dns.pcap");
    let rows = ipfixprobe_rows("reference/ipfixprobe/passivedns.csv");
    let responses: Vec<DnsFields> = dirs
        .values()
        .flatten()
        .filter(|f| f.is_response)
        .cloned()
        .collect();
    let mut checked = 0;
    for f in responses
        .iter()
        .filter(|f| f.answer_type == 1 || f.answer_type == 28)
    {
        let ips: Vec<&str> = rows
            .iter()
            .filter(|r| r["DNS_ID"] == f.id.to_string())
            .map(|r| r["DNS_IP"].as_str())
            .collect();
        assert!(
            ips.contains(&f.answer_data.as_str()),
            "{f:?} not in {ips:?}"
        );
        let row = rows.iter().find(|r| r["DNS_IP"] == f.answer_data).unwrap();
        assert_eq!(row["DNS_NAME"], f.qname);
        assert_eq!(row["DNS_RR_TTL"], f.answer_ttl.to_string());
        assert_eq!(row["DNS_ATYPE"], f.answer_type.to_string());
        checked += 1;
    }
    assert_eq!(checked, 2);
}

// ------------------------------------------------------- reference: Suricata

#[test]
fn suricata_txt_capture_matches() {
    let dirs = by_direction("pcap/dns/suricata_dns-udp-eve-txt.pcap");
    let q = only(&dirs, "10.16.1.11", "10.16.1.1", 52345, 53, UDP);
    assert_eq!(
        (q.id, q.qname.as_str(), q.qtype, q.is_response),
        (28243, "google.com", 16, false)
    );
    let r = only(&dirs, "10.16.1.1", "10.16.1.11", 53, 52345, UDP);
    assert_eq!(
        (r.id, r.flags, r.rcode, r.is_response),
        (28243, 0x8180, 0, true)
    );
    assert_eq!((r.answer_type, r.answer_ttl), (16, 3217));
    assert_eq!(r.answer_data, "v=spf1 include:_spf.google.com ~all");
    let q = only(&dirs, "10.16.1.11", "10.16.1.1", 60922, 53, UDP);
    assert_eq!(
        (q.id, q.qname.as_str(), q.qtype),
        (39372, "textsecure-service-ca.whispersystems.org", 1)
    );
    let r = only(&dirs, "10.16.1.1", "10.16.1.11", 53, 60922, UDP);
    assert_eq!(
        (r.id, r.answer_data.as_str(), r.answer_ttl, r.flags),
        (39372, "34.197.178.240", 5, 0x8180)
    );
}

// ---------------------------------------------------------- oracle: tshark

fn tshark_available() -> bool {
    let found = Command::new("tshark")
        .arg("-v")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(std::env::var_os("CI").is_none(), "tshark missing under CI");
        eprintln!("note: tshark not installed, skipping the tshark oracle");
    }
    found
}

const TSHARK_FIELDS: [&str; 13] = [
    "frame.time_epoch",
    "udp.srcport",
    "udp.dstport",
    "dns.id",
    "dns.flags",
    "dns.qry.name",
    "dns.qry.type",
    "dns.count.answers",
    "dns.resp.type",
    "dns.resp.ttl",
    "dns.a",
    "dns.aaaa",
    "dns.cname",
];

/// tshark's view of every UDP DNS datagram, keyed by (time µs, ports).
fn tshark_dns(rel: &str) -> HashMap<(u64, u16, u16), Vec<String>> {
    let mut cmd = Command::new("tshark");
    cmd.args(["-n", "-r"]).arg(testutil::shared(rel));
    cmd.args([
        "-Y",
        "udp && dns && !icmp && !icmpv6 && !_ws.malformed",
        "-T",
        "fields",
    ]);
    cmd.args(["-E", "occurrence=f", "-E", "separator=\t"]);
    for f in TSHARK_FIELDS {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().expect("tshark");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut rows = HashMap::new();
    for line in text.lines() {
        let cols: Vec<String> = line.split('\t').map(str::to_string).collect();
        let (secs, frac) = cols[0].split_once('.').unwrap();
        let micros = secs.parse::<u64>().unwrap() * 1_000_000 + frac[..6].parse::<u64>().unwrap();
        rows.insert(
            (micros, cols[1].parse().unwrap(), cols[2].parse().unwrap()),
            cols,
        );
    }
    rows
}

fn tshark_num(s: &str) -> u64 {
    match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).unwrap(),
        None => s.parse().unwrap(),
    }
}

#[test]
fn tshark_oracle_agrees_on_udp_dns() {
    if !tshark_available() {
        return;
    }
    let mut compared = 0;
    for capture in all_captures() {
        let oracle = tshark_dns(&capture);
        if oracle.is_empty() {
            continue;
        }
        for p in testutil::payloads(&capture) {
            let key = (p.ts_ns / 1000, p.src_port, p.dst_port);
            let Some(row) = oracle.get(&key).filter(|_| p.proto == UDP) else {
                continue;
            };
            let f = one(&[&p.data]);
            let ctx = format!("{capture} {key:?} {row:?} {f:?}");
            assert_eq!(u64::from(f.id), tshark_num(&row[3]), "{ctx}");
            assert_eq!(u64::from(f.flags), tshark_num(&row[4]), "{ctx}");
            let qname = if row[5] == "<Root>" {
                ""
            } else {
                row[5].as_str()
            };
            assert_eq!(f.qname, qname, "{ctx}");
            if !row[6].is_empty() {
                assert_eq!(u64::from(f.qtype), tshark_num(&row[6]), "{ctx}");
            }
            assert_eq!(u64::from(f.answers), tshark_num(&row[7]), "{ctx}");
            if f.answers > 0 {
                assert_eq!(u64::from(f.answer_type), tshark_num(&row[8]), "{ctx}");
                assert_eq!(u64::from(f.answer_ttl), tshark_num(&row[9]), "{ctx}");
                let want = match f.answer_type {
                    1 => Some(&row[10]),
                    28 => Some(&row[11]),
                    5 => Some(&row[12]),
                    _ => None,
                };
                if let Some(want) = want {
                    assert_eq!(&f.answer_data, want, "{ctx}");
                }
            }
            compared += 1;
        }
    }
    eprintln!("tshark oracle: {compared} DNS datagrams compared");
    assert!(compared > 100, "{compared}");
}

// ------------------------------------------------------------- robustness

/// Every DNS payload of the shared captures (one list per flow direction).
fn shared_dns_streams() -> Vec<Vec<Vec<u8>>> {
    let mut streams = Vec::new();
    for capture in dns_captures() {
        let mut grouped: HashMap<_, Vec<Vec<u8>>> = HashMap::new();
        for p in testutil::payloads(&capture) {
            grouped
                .entry((p.src, p.dst, p.src_port, p.dst_port))
                .or_default()
                .push(p.data);
        }
        streams.extend(grouped.into_values());
    }
    streams
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
    #[test]
    fn mangled_shared_payloads_never_panic_or_overbuffer(
        pick in 0usize..1000,
        cut in 0usize..2000,
        flips in proptest::collection::vec((0usize..2000, proptest::num::u8::ANY), 0..8),
        chunking in proptest::collection::vec(1usize..300, 1..20),
        prefix_tcp in proptest::bool::ANY,
    ) {
        let streams = shared_dns_streams();
        let stream = &streams[pick % streams.len()];
        let mut bytes: Vec<u8> = stream.concat();
        if prefix_tcp {
            let len = bytes.len() as u16;
            bytes.splice(0..0, len.to_be_bytes());
        }
        bytes.truncate(cut.max(1).min(bytes.len()));
        for (at, value) in flips {
            let len = bytes.len();
            if len > 0 {
                bytes[at % len] ^= value;
            }
        }
        // Both as the original datagrams (mangled) and rechunked.
        let mut state = DnsState::new();
        for datagram in stream {
            let mut d = datagram.clone();
            if let Some(b) = d.get_mut(cut % datagram.len().max(1)) { *b ^= 0x5a; }
            let _ = state.feed(&d[..cut.min(d.len())]);
            let _ = state.take_finished();
        }
        let _ = state.take_current();
        let mut state = DnsState::new();
        let mut rest = &bytes[..];
        let mut i = 0;
        while !rest.is_empty() {
            let n = chunking[i % chunking.len()].min(rest.len());
            let (chunk, tail) = rest.split_at(n);
            let _ = state.feed(chunk);
            let _ = state.take_finished();
            proptest::prop_assert!(state.buffered() <= MAX_BUFFER);
            rest = tail;
            i += 1;
        }
        let _ = state.take_current();
        let _ = probe(&udp(1, 2), &bytes);
        let _ = probe(&tcp(1, 53), &bytes);
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..3000)) {
        let mut state = DnsState::new();
        for chunk in bytes.chunks(97) {
            let _ = state.feed(chunk);
            let _ = state.take_finished();
            proptest::prop_assert!(state.buffered() <= MAX_BUFFER);
        }
        let _ = state.take_current();
        if let Some(m) = parser::parse_message(&bytes) {
            if let Some(a) = m.first_answer {
                proptest::prop_assert!(a.rdata_text().len() <= MAX_FIELD_LEN);
            }
        }
    }
}

/// Rough cost of a DNS datagram through the parser (run with
/// `cargo test --release -p l7 dns_feed_cost -- --ignored --nocapture`).
#[test]
#[ignore]
fn dns_feed_cost() {
    let datagrams: Vec<Vec<u8>> = dns_captures()
        .iter()
        .flat_map(|c| testutil::payloads(c))
        .filter(|p| p.proto == UDP)
        .map(|p| p.data)
        .collect();
    let rounds = 20_000;
    let start = std::time::Instant::now();
    let mut state = DnsState::new();
    for _ in 0..rounds {
        for d in &datagrams {
            if state.feed(d) == Feed::Boundary {
                std::hint::black_box(state.take_finished());
            }
        }
    }
    let per = start.elapsed().as_nanos() / (rounds * datagrams.len()) as u128;
    eprintln!("{per} ns per DNS datagram ({} datagrams)", datagrams.len());
}
