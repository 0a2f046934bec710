use super::parser::{self, StartLine};
use super::state::SipState;
use super::*;
use crate::testutil::{payloads, Payload};
use crate::{Feed, L7Fields, Parser, MAX_BUFFER};
use proptest::prelude::*;
use std::net::IpAddr;

const CAPTURES: [&str; 5] = [
    "pcap/sip/suricata_sip-method.pcap",
    "pcap/sip/suricata_sip-sdp.pcap",
    "pcap/sip/suricata_sip-tcp.pcap",
    "pcap/sip/nfstream_sip.pcap",
    "pcap/sip/ndpi_sip_hello.pcapng",
];

type DirectionKey = (IpAddr, IpAddr, u16, u16, u8);

/// Every flow direction of a capture with its packets, in first-seen order.
fn flow_directions(all: &[Payload]) -> Vec<(DirectionKey, Vec<Payload>)> {
    let mut out: Vec<(DirectionKey, Vec<Payload>)> = Vec::new();
    for p in all {
        let key = (p.src, p.dst, p.src_port, p.dst_port, p.proto);
        match out.iter_mut().find(|(k, _)| *k == key) {
            Some((_, packets)) => packets.push(p.clone()),
            None => out.push((key, vec![p.clone()])),
        }
    }
    out
}

/// Records of one direction, or none when the probe rejects it.
fn records(packets: &[Payload]) -> Vec<SipFields> {
    let Some(first) = packets.iter().find(|p| !p.data.is_empty()) else {
        return Vec::new();
    };
    if !probe(&first.transport(), &first.data) {
        return Vec::new();
    }
    crate::testutil::run_parser(new_parser, packets)
        .into_iter()
        .map(|r| match r {
            L7Fields::Sip(fields) => *fields,
            other => panic!("not sip: {other:?}"),
        })
        .collect()
}

/// Feeds chunks to a fresh parser: every record and each feed's answer.
fn run_chunks(chunks: &[&[u8]]) -> (Vec<SipFields>, Vec<Feed>) {
    let mut parser = new_parser();
    let mut out = Vec::new();
    let mut feeds = Vec::new();
    for chunk in chunks {
        let feed = parser.feed(chunk);
        feeds.push(feed);
        if feed == Feed::Boundary {
            out.extend(parser.take_finished());
        }
    }
    out.extend(parser.take_current());
    let out = out.into_iter().map(|r| match r {
        L7Fields::Sip(fields) => *fields,
        other => panic!("not sip: {other:?}"),
    });
    (out.collect(), feeds)
}

const INVITE: &[u8] = b"INVITE sip:bob@example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP pc33.example.com;branch=z9hG4bK776asdhds, SIP/2.0/UDP proxy.example.com\r\n\
Max-Forwards: 70\r\n\
To: Bob <sip:bob@example.com>\r\n\
From: Alice <sip:alice@example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.example.com\r\n\
CSeq: 314159 INVITE\r\n\
User-Agent: Test Phone\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 10\r\n\
\r\n\
v=0\r\no=x\r\n";

fn invite_fields() -> SipFields {
    SipFields {
        msg_type: 1,
        method: Some("INVITE".into()),
        status: None,
        call_id: Some("a84b4c76e66710@pc33.example.com".into()),
        from: Some("Alice <sip:alice@example.com>;tag=1928301774".into()),
        to: Some("Bob <sip:bob@example.com>".into()),
        via: Some("SIP/2.0/UDP pc33.example.com;branch=z9hG4bK776asdhds".into()),
        user_agent: Some("Test Phone".into()),
        request_uri: Some("sip:bob@example.com".into()),
        cseq: Some("314159 INVITE".into()),
    }
}

#[test]
fn request_fields() {
    let (records, feeds) = run_chunks(&[INVITE]);
    assert_eq!(records, vec![invite_fields()]);
    assert_eq!(feeds, vec![Feed::More]);
}

#[test]
fn compact_and_folded_headers() {
    let message = b"SIP/2.0 180 Ringing\r\n\
v: SIP/2.0/TCP a.example;branch=z9hG4bK1\r\n\
f: <sip:a@example>\r\n  ;tag=1\r\n\
t  : <sip:b@example>\r\n\
i:abc@x\r\n\
CSEQ: 2 INVITE\r\n\
l: 0\r\n\r\n";
    let (records, _) = run_chunks(&[message]);
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(
        (r.msg_type, r.status, r.method.as_deref()),
        (MSG_TYPE_STATUS, Some(180), None)
    );
    assert_eq!(
        r.via.as_deref(),
        Some("SIP/2.0/TCP a.example;branch=z9hG4bK1")
    );
    assert_eq!(r.from.as_deref(), Some("<sip:a@example> ;tag=1"));
    assert_eq!(r.to.as_deref(), Some("<sip:b@example>"));
    assert_eq!(r.call_id.as_deref(), Some("abc@x"));
    assert_eq!(r.cseq.as_deref(), Some("2 INVITE"));
}

#[test]
fn each_message_is_a_record_and_the_second_is_a_boundary() {
    let ack = b"ACK sip:bob@example.com SIP/2.0\r\nCall-ID: 2\r\nContent-Length: 0\r\n\r\n";
    let message = b"MESSAGE sip:bob@example.com SIP/2.0\r\nCall-ID: 3\r\n\r\nhello";
    let (records, feeds) = run_chunks(&[INVITE, b"\r\n\r\n", ack, message]);
    assert_eq!(
        feeds,
        vec![Feed::More, Feed::More, Feed::Boundary, Feed::Boundary]
    );
    let types: Vec<_> = records
        .iter()
        .map(|r| (r.msg_type, r.method.clone()))
        .collect();
    assert_eq!(
        types,
        vec![
            (1, Some("INVITE".into())),
            (2, Some("ACK".into())),
            (MSG_TYPE_OTHER, Some("MESSAGE".into()))
        ]
    );
}

#[test]
fn tcp_head_and_body_split_over_segments() {
    let mut stream = INVITE.to_vec();
    stream.extend_from_slice(
        b"BYE sip:bob@example.com SIP/2.0\r\nCall-ID: 9\r\nContent-Length: 0\r\n\r\n",
    );
    for cut_a in [1, 20, 100, 250, INVITE.len() - 2, INVITE.len() - 8] {
        for cut_b in [INVITE.len() + 3, stream.len() - 1] {
            let chunks: [&[u8]; 3] = [&stream[..cut_a], &stream[cut_a..cut_b], &stream[cut_b..]];
            let (records, _) = run_chunks(&chunks);
            assert_eq!(records.len(), 2, "cuts {cut_a} {cut_b}");
            assert_eq!(records[0], invite_fields());
            assert_eq!(records[1].method.as_deref(), Some("BYE"));
        }
    }
}

#[test]
fn two_messages_in_one_segment_keep_the_first() {
    let two = [INVITE, b"BYE sip:b@x SIP/2.0\r\nl: 0\r\n\r\n"].concat();
    let (records, feeds) = run_chunks(&[&two, b"CANCEL sip:b@x SIP/2.0\r\nl: 0\r\n\r\n"]);
    assert_eq!(feeds, vec![Feed::More, Feed::Boundary]);
    let methods: Vec<_> = records.iter().map(|r| r.method.clone().unwrap()).collect();
    assert_eq!(methods, vec!["INVITE", "CANCEL"]);
}

#[test]
fn wrong_content_length_does_not_swallow_the_next_datagram() {
    let lying = b"OPTIONS sip:x@y SIP/2.0\r\nContent-Length: 99999\r\n\r\nshort";
    let (records, feeds) = run_chunks(&[lying, INVITE]);
    assert_eq!(feeds, vec![Feed::More, Feed::Boundary]);
    assert_eq!(records.len(), 2);
    assert_eq!(records[1], invite_fields());
}

#[test]
fn cut_heads_keep_their_complete_lines() {
    let cut = &INVITE[..INVITE.iter().position(|&b| b == b'C').unwrap() + 3];
    let (records, _) = run_chunks(&[cut]);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].to.as_deref(), Some("Bob <sip:bob@example.com>"));
    assert_eq!(records[0].call_id, None);
}

#[test]
fn huge_heads_are_bounded() {
    let mut parser = SipState::default();
    parser.feed(b"INVITE sip:a@b SIP/2.0\r\nCall-ID: 1\r\nX-Pad: ");
    for _ in 0..100 {
        parser.feed(&[b'a'; 1000]);
        assert!(parser.buffered() <= MAX_BUFFER);
    }
    let Some(L7Fields::Sip(fields)) = parser.take_current() else {
        panic!("a record")
    };
    assert_eq!(fields.call_id.as_deref(), Some("1"));
    let mut long = b"REGISTER sip:a@b SIP/2.0\r\nUser-Agent: ".to_vec();
    long.extend(std::iter::repeat_n(b'u', 5000));
    long.extend_from_slice(b"\r\n\r\n");
    let (records, _) = run_chunks(&[&long]);
    assert_eq!(
        records[0].user_agent.as_ref().unwrap().len(),
        crate::MAX_FIELD_LEN
    );
}

#[test]
fn garbage_and_keepalives_make_no_records() {
    let (records, feeds) = run_chunks(&[
        b"hello",
        b"\r\n\r\n",
        b"\x00\x01\x02",
        b"GET / HTTP/1.1\r\n\r\n",
    ]);
    assert!(records.is_empty());
    assert!(feeds.iter().all(|f| *f == Feed::More));
}

#[test]
fn start_lines() {
    assert_eq!(
        parser::parse_start_line(b"SIP/2.0 200 OK"),
        Some(StartLine::Response { status: 200 })
    );
    assert_eq!(parser::parse_start_line(b"SIP/2.0 20"), None);
    assert_eq!(parser::parse_start_line(b"SIP/2.0 2000 OK"), None);
    assert_eq!(
        parser::parse_start_line(b"INVITE sip:a SIP/2.0 extra"),
        None
    );
    assert_eq!(parser::parse_start_line(b"GET / HTTP/1.1"), None);
    assert_eq!(parser::parse_start_line(b"INVITE sip:a SIP/3.0"), None);
    assert_eq!(parser::parse_start_line(b""), None);
    assert_eq!(parser::head_end(b"a\r\n\r\n", 0), Some(5));
    assert_eq!(parser::head_end(b"a\n\nb", 0), Some(3));
    assert_eq!(parser::head_end(b"a\r\nb\r\n", 0), None);
}

#[test]
fn probe_by_content_then_port_hint() {
    let any_udp = Transport {
        proto: 17,
        src_port: 40000,
        dst_port: 40002,
    };
    let any_tcp = Transport {
        proto: 6,
        src_port: 40000,
        dst_port: 40002,
    };
    let sip_port = Transport {
        proto: 17,
        src_port: 40000,
        dst_port: 5060,
    };
    let icmp = Transport {
        proto: 1,
        src_port: 0,
        dst_port: 0,
    };
    assert!(probe(&any_udp, INVITE));
    assert!(probe(&any_tcp, b"SIP/2.0 200 OK\r\n"));
    assert!(probe(&any_udp, b"REGISTER sips:x SIP/2.0\r\n"));
    assert!(!probe(&any_udp, b"REGISTER http:x SIP/2.0\r\n"));
    assert!(!probe(&any_udp, b"hello"));
    assert!(!probe(&any_tcp, b"GET / HTTP/1.1\r\n"));
    assert!(!probe(&icmp, INVITE));
    assert!(probe(&sip_port, b"hello"));
    assert!(probe(&sip_port, b"\r\n\r\n"));
    assert!(probe(
        &sip_port,
        b"REGISTER sip:a.very.long.host.example.org;transport=tcp SIP/2"
    ));
    assert!(!probe(&sip_port, &[b'x'; 100]));
}

#[test]
fn ndpi_hello_flow_is_claimed_and_parsed() {
    let all = payloads("pcap/sip/ndpi_sip_hello.pcapng");
    let directions = flow_directions(&all);
    let total: usize = directions
        .iter()
        .map(|(_, packets)| records(packets).len())
        .sum();
    assert_eq!(total, 8);
}

#[test]
fn suricata_sdp_expectation() {
    // suricata logs a SIP event for packet 1 (an INVITE with SDP); eddy
    // yields its record (the SDP itself is not parsed).
    let all = payloads("pcap/sip/suricata_sip-sdp.pcap");
    let first = &all[0];
    assert!(probe(&first.transport(), &first.data));
    let found = records(&all[..1]);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].method.as_deref(), Some("INVITE"));
    assert_eq!(
        found[0].request_uri.as_deref(),
        Some("sip:97239287044@voip.brujula.net")
    );
}

/// tshark's messages of one capture, per direction, in eddy's terms.
fn tshark_records(file: &str) -> Option<Vec<(DirectionKey, SipFields)>> {
    let path = crate::testutil::shared(file);
    let output = std::process::Command::new("tshark")
        .args([
            "-r",
            path.to_str().unwrap(),
            "-Y",
            "sip",
            "-T",
            "fields",
            "-E",
            "occurrence=f",
        ])
        .args([
            "-e", "ip.src", "-e", "ipv6.src", "-e", "ip.dst", "-e", "ipv6.dst",
        ])
        .args([
            "-e",
            "udp.srcport",
            "-e",
            "tcp.srcport",
            "-e",
            "udp.dstport",
            "-e",
            "tcp.dstport",
        ])
        .args([
            "-e",
            "sip.Method",
            "-e",
            "sip.Status-Code",
            "-e",
            "sip.Call-ID",
            "-e",
            "sip.From",
        ])
        .args([
            "-e",
            "sip.To",
            "-e",
            "sip.Via",
            "-e",
            "sip.User-Agent",
            "-e",
            "sip.r-uri",
            "-e",
            "sip.CSeq",
        ])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let mut out = Vec::new();
    for line in text.lines() {
        let c: Vec<&str> = line.split('\t').collect();
        let pick = |a: &str, b: &str| {
            if a.is_empty() {
                b.to_string()
            } else {
                a.to_string()
            }
        };
        let opt = |s: &str| (!s.is_empty()).then(|| FieldStr::new(s));
        let src: IpAddr = pick(c[0], c[1]).parse().unwrap();
        let dst: IpAddr = pick(c[2], c[3]).parse().unwrap();
        let proto = if c[4].is_empty() { 6 } else { 17 };
        let sport: u16 = pick(c[4], c[5]).parse().unwrap();
        let dport: u16 = pick(c[6], c[7]).parse().unwrap();
        let status = c[9].parse::<u16>().ok();
        let method = if status.is_some() { None } else { opt(c[8]) };
        let msg_type = match (&method, status) {
            (_, Some(_)) => MSG_TYPE_STATUS,
            (Some(m), None) => parser::message_type(&StartLine::Request {
                method: m.as_bytes(),
                uri: b"",
            }),
            (None, None) => MSG_TYPE_OTHER,
        };
        let fields = SipFields {
            msg_type,
            method,
            status,
            call_id: opt(c[10]),
            from: opt(c[11]),
            to: opt(c[12]),
            via: opt(c[13]).map(|v| FieldStr::from_utf8_lossy(parser::first_via(v.as_bytes()))),
            user_agent: opt(c[14]),
            request_uri: opt(c[15]),
            cseq: opt(c[16]),
        };
        out.push(((src, dst, sport, dport, proto), fields));
    }
    Some(out)
}

fn tshark_available() -> bool {
    let found = std::process::Command::new("tshark")
        .arg("-v")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "tshark is required when CI is set"
        );
        eprintln!("note: tshark not found, skipping the tshark oracle test");
    }
    found
}

#[test]
fn agrees_with_tshark() {
    if !tshark_available() {
        return;
    }
    for file in CAPTURES {
        let expected = tshark_records(file).unwrap();
        assert!(!expected.is_empty(), "{file}: tshark sees SIP");
        let all = payloads(file);
        for (key, packets) in flow_directions(&all) {
            let ours = records(&packets);
            let theirs: Vec<SipFields> = expected
                .iter()
                .filter(|(k, _)| *k == key)
                .map(|(_, f)| f.clone())
                .collect();
            assert_eq!(ours, theirs, "{file} {key:?}");
        }
    }
}

fn capture_directions() -> Vec<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    for file in CAPTURES {
        let all = payloads(file);
        for (_, packets) in flow_directions(&all) {
            let first = packets.iter().find(|p| !p.data.is_empty());
            if first.is_some_and(|p| probe(&p.transport(), &p.data)) {
                out.push(packets.into_iter().map(|p| p.data).collect());
            }
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn damaged_captures_never_panic_or_overbuffer(
        pick in any::<prop::sample::Index>(),
        cut in any::<prop::sample::Index>(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..16),
        chunk_sizes in prop::collection::vec(1usize..900, 1..32),
        as_stream in any::<bool>(),
    ) {
        let directions = capture_directions();
        let packets = pick.get(&directions);
        let mut stream: Vec<u8> = packets.concat();
        if !stream.is_empty() {
            stream.truncate(cut.index(stream.len() + 1));
        }
        for (at, byte) in &flips {
            if !stream.is_empty() {
                let i = at.index(stream.len());
                stream[i] ^= byte;
            }
        }
        // Either re-chunk the whole stream (TCP-like) or keep datagram
        // boundaries (UDP-like).
        let mut chunks: Vec<&[u8]> = Vec::new();
        if as_stream {
            let mut rest = &stream[..];
            let mut size = chunk_sizes.iter().cycle();
            while !rest.is_empty() {
                let n = (*size.next().unwrap()).min(rest.len());
                let (chunk, tail) = rest.split_at(n);
                chunks.push(chunk);
                rest = tail;
            }
        } else {
            let mut at = 0;
            for p in packets {
                let end = (at + p.len()).min(stream.len());
                chunks.push(&stream[at..end]);
                at = end;
            }
        }
        let mut parser = SipState::default();
        for chunk in chunks {
            if parser.feed(chunk) == Feed::Boundary {
                prop_assert!(parser.take_finished().is_some());
            }
            prop_assert!(parser.buffered() <= MAX_BUFFER);
        }
        let _ = parser.take_current();
    }
}
