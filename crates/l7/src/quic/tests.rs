use super::crypto::{
    build_client_initial, initial_keys, open_initial, seal_initial, InitialKeys, Side,
};
use super::parser::{self, version_params, CryptoFrames, LongHeader, VERSION_1, VERSION_2};
use super::state::QuicState;
use super::*;
use crate::testutil::{self, Payload};
use crate::{Feed, L7Fields, Parser, Transport, MAX_BUFFER, MAX_FIELD_LEN};
use std::collections::HashMap;
use std::process::Command;

const UDP: u8 = 17;
const DRAFT_29: u32 = 0xff00_001d;
/// RFC 9001 Appendix A's client Destination Connection ID.
const RFC_DCID: [u8; 8] = [0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08];
/// RFC 9001 A.2: the CRYPTO frame (ClientHello) of the sample client Initial.
const RFC_CRYPTO_FRAME: &str = "060040f1010000ed0303ebf8fa56f12939b9584a3896472ec40bb863cfd3e86804fe3a47f06a2b69484c00000413011302010000c000000010000e00000b6578616d706c652e636f6dff01000100000a00080006001d0017001800100007000504616c706e000500050100000000003300260024001d00209370b2c9caa47fbabaf4559fedba753de171fa71f50f1ce15d43e994ec74d748002b0003020304000d0010000e0403050306030203080408050806002d00020101001c00024001003900320408ffffffffffffffff05048000ffff07048000ffff0801100104800075300901100f088394c8f03e51570806048000ffff";
/// RFC 9001 A.2 unprotected header (packet number 2, 4 bytes).
const RFC_V1_HEADER: &str = "c300000001088394c8f03e5157080000449e00000002";
/// RFC 9369 A.2 unprotected header and the start of the protected packet.
const RFC_V2_HEADER: &str = "d36b3343cf088394c8f03e5157080000449e00000002";
const RFC_V2_PROTECTED_PREFIX: &str = "d76b3343cf088394c8f03e5157080000449ea0c95e82ffe67b6abcdb4298b485dd04de806071bf03dceebfa162e75d6c96058bdbfb127cdfcbf903388e99ad049f9a3dd4425ae4";

// ---------------------------------------------------------------- helpers

fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
        .collect()
}

fn rfc_client_initial() -> Vec<u8> {
    hex(include_str!("testdata/rfc9001_client_initial.hex"))
}

fn rfc_server_initial() -> Vec<u8> {
    hex(include_str!("testdata/rfc9001_server_initial.hex"))
}

fn udp(src_port: u16, dst_port: u16) -> Transport {
    Transport {
        proto: UDP,
        src_port,
        dst_port,
    }
}

fn keys(version: u32, dcid: &[u8], side: Side) -> InitialKeys {
    initial_keys(&version_params(version).unwrap(), dcid, side).unwrap()
}

fn quic(fields: Option<L7Fields>) -> Option<QuicFields> {
    fields.map(|f| match f {
        L7Fields::Quic(q) => *q,
        other => panic!("not quic: {other:?}"),
    })
}

/// Feeds datagrams to a fresh parser; the feeds' results and the fields.
fn run(datagrams: &[Vec<u8>]) -> (Vec<Feed>, Option<QuicFields>) {
    let mut parser = new_parser();
    let mut feeds = Vec::new();
    for d in datagrams {
        let feed = parser.feed(d);
        feeds.push(feed);
        if feed == Feed::Done {
            break;
        }
    }
    (feeds, quic(parser.take_current()))
}

fn varint(value: u64) -> Vec<u8> {
    match value {
        0..=63 => vec![value as u8],
        64..=16383 => ((value as u16) | 0x4000).to_be_bytes().to_vec(),
        _ => ((value as u32) | 0x8000_0000).to_be_bytes().to_vec(),
    }
}

fn crypto_frame(offset: usize, data: &[u8]) -> Vec<u8> {
    let mut f = vec![0x06];
    f.extend(varint(offset as u64));
    f.extend(varint(data.len() as u64));
    f.extend_from_slice(data);
    f
}

/// A ClientHello handshake message with the given server name and ALPN
/// list, a padding extension of `padding` bytes first (pushing the SNI
/// towards the end, as large post-quantum key shares do).
fn client_hello(sni: Option<&str>, alpn: &[&str], padding: usize) -> Vec<u8> {
    let mut ext = Vec::new();
    ext.extend([0x00, 0x15]);
    ext.extend((padding as u16).to_be_bytes());
    ext.extend(vec![0u8; padding]);
    if let Some(name) = sni {
        let n = name.len() as u16;
        ext.extend([0x00, 0x00]);
        ext.extend((n + 5).to_be_bytes());
        ext.extend((n + 3).to_be_bytes());
        ext.push(0);
        ext.extend(n.to_be_bytes());
        ext.extend(name.as_bytes());
    }
    if !alpn.is_empty() {
        let list: Vec<u8> = alpn
            .iter()
            .flat_map(|p| std::iter::once(p.len() as u8).chain(p.bytes()))
            .collect();
        ext.extend([0x00, 0x10]);
        ext.extend((list.len() as u16 + 2).to_be_bytes());
        ext.extend((list.len() as u16).to_be_bytes());
        ext.extend(list);
    }
    let mut body = vec![0x03, 0x03];
    body.extend([0x11; 32]);
    body.push(0); // session id
    body.extend([0x00, 0x02, 0x13, 0x01]);
    body.extend([0x01, 0x00]);
    body.extend((ext.len() as u16).to_be_bytes());
    body.extend(ext);
    let mut msg = vec![parser::CLIENT_HELLO];
    msg.extend(&(body.len() as u32).to_be_bytes()[1..]);
    msg.extend(body);
    msg
}

/// A protected client Initial of `version` carrying `frames`, padded to a
/// 1200-byte datagram.
fn initial(version: u32, dcid: &[u8], pn: u32, frames: &[u8]) -> Vec<u8> {
    build_client_initial(&version_params(version).unwrap(), dcid, dcid, pn, frames).unwrap()
}

// ------------------------------------------------ RFC 9001 / 9369 vectors

#[test]
fn rfc9001_initial_keys() {
    let client = keys(VERSION_1, &RFC_DCID, Side::Client);
    assert_eq!(client.key.to_vec(), hex("1f369613dd76d5467730efcbe3b1a22d"));
    assert_eq!(client.iv.to_vec(), hex("fa044b2f42a3fd3b46fb255c"));
    assert_eq!(client.hp.to_vec(), hex("9f50449e04a0e810283a1e9933adedd2"));
    let server = keys(VERSION_1, &RFC_DCID, Side::Server);
    assert_eq!(server.key.to_vec(), hex("cf3a5331653c364c88f0f379b6067e37"));
    assert_eq!(server.iv.to_vec(), hex("0ac1493ca1905853b0bba03e"));
    assert_eq!(server.hp.to_vec(), hex("c206b8d9b9f0f37644430b490eeaa314"));
}

#[test]
fn rfc9369_initial_keys() {
    let client = keys(VERSION_2, &RFC_DCID, Side::Client);
    assert_eq!(client.key.to_vec(), hex("8b1a0bc121284290a29e0971b5cd045d"));
    assert_eq!(client.iv.to_vec(), hex("91f73e2351d8fa91660e909f"));
    assert_eq!(client.hp.to_vec(), hex("45b95e15235d6f45a6b19cbcb0294ba9"));
    let server = keys(VERSION_2, &RFC_DCID, Side::Server);
    assert_eq!(server.key.to_vec(), hex("82db637861d55e1d011f19ea71d5d2a7"));
    assert_eq!(server.iv.to_vec(), hex("dd13c276499c0249d3310652"));
    assert_eq!(server.hp.to_vec(), hex("edf6d05c83121201b436e16877593c3a"));
}

#[test]
fn rfc9001_client_initial_decrypts_to_the_published_payload() {
    let mut packet = rfc_client_initial();
    assert_eq!(packet.len(), 1200);
    let header = LongHeader::parse(&packet).unwrap();
    assert!(header.is_initial);
    assert_eq!((header.pn_offset, header.packet_len), (18, 1200));
    let client = keys(VERSION_1, &RFC_DCID, Side::Client);
    let plain = open_initial(&mut packet, 18, &client).unwrap().to_vec();
    assert_eq!(plain.len(), 1162);
    let frame = hex(RFC_CRYPTO_FRAME);
    assert_eq!(&plain[..frame.len()], &frame[..]);
    assert!(plain[frame.len()..].iter().all(|b| *b == 0));
    // The unprotected header of RFC 9001 A.2 (packet number 2).
    assert_eq!(&packet[..22], &hex(RFC_V1_HEADER)[..]);
    // The server's keys do not open the client's packet.
    let mut again = rfc_client_initial();
    let server = keys(VERSION_1, &RFC_DCID, Side::Server);
    assert!(open_initial(&mut again, 18, &server).is_none());
}

/// Sealing the RFC's plaintext with the derived keys gives the RFC's
/// protected packet byte for byte (which also validates the test helper
/// that builds packets below).
#[test]
fn rfc_plaintexts_seal_to_the_published_packets() {
    let mut payload = hex(RFC_CRYPTO_FRAME);
    payload.resize(1162, 0);
    for (version, header, expected) in [
        (VERSION_1, RFC_V1_HEADER, rfc_client_initial()),
        (VERSION_2, RFC_V2_HEADER, hex(RFC_V2_PROTECTED_PREFIX)),
    ] {
        let mut packet = hex(header);
        packet.extend(&payload);
        packet.extend([0u8; 16]);
        seal_initial(&mut packet, 18, 4, &keys(version, &RFC_DCID, Side::Client)).unwrap();
        assert_eq!(packet.len(), 1200);
        assert_eq!(&packet[..expected.len()], &expected[..], "{version:#x}");
    }
}

#[test]
fn rfc9001_client_initial_yields_version_sni_and_alpn() {
    assert!(probe(&udp(50000, 443), &rfc_client_initial()));
    let (feeds, fields) = run(&[rfc_client_initial()]);
    assert_eq!(feeds, [Feed::Done]);
    let fields = fields.unwrap();
    assert_eq!(fields.version, Some(1));
    assert_eq!(fields.sni.as_deref(), Some("example.com"));
    assert_eq!(fields.alpn.as_deref(), Some("alpn"));
}

#[test]
fn rfc9369_v2_initial_yields_sni() {
    let mut payload = hex(RFC_CRYPTO_FRAME);
    payload.resize(1162, 0);
    let mut packet = hex(RFC_V2_HEADER);
    packet.extend(&payload);
    packet.extend([0u8; 16]);
    seal_initial(
        &mut packet,
        18,
        4,
        &keys(VERSION_2, &RFC_DCID, Side::Client),
    )
    .unwrap();
    assert!(probe(&udp(50000, 443), &packet));
    let (feeds, fields) = run(&[packet]);
    assert_eq!(feeds, [Feed::Done]);
    let fields = fields.unwrap();
    assert_eq!(fields.version, Some(VERSION_2));
    assert_eq!(fields.sni.as_deref(), Some("example.com"));
}

/// The server's Initial decrypts with the server keys of the client's
/// DCID, which its own direction never shows: the parser records the
/// version and stops.
#[test]
fn rfc9001_server_initial_yields_the_version_only() {
    let mut packet = rfc_server_initial();
    let header = LongHeader::parse(&packet).unwrap();
    assert!(header.is_initial);
    let pn_offset = header.pn_offset;
    let server = keys(VERSION_1, &RFC_DCID, Side::Server);
    let plain = open_initial(&mut packet, pn_offset, &server).unwrap();
    assert_eq!(&plain[..5], &hex("0200000000")[..]); // the ACK frame of A.3
    let frames: Vec<_> = CryptoFrames::new(plain).collect();
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].data.len(), 90); // the ServerHello

    assert!(probe(&udp(443, 50000), &rfc_server_initial()));
    let (feeds, fields) = run(&[rfc_server_initial()]);
    assert_eq!(feeds, [Feed::Done]);
    assert_eq!(
        fields,
        Some(QuicFields {
            version: Some(1),
            ..QuicFields::default()
        })
    );
}

// ------------------------------------------------------ hand-built cases

#[test]
fn crypto_frames_out_of_order_with_ping_and_ack_reassemble() {
    let hello = client_hello(Some("split.example"), &["h3"], 300);
    let (a, rest) = hello.split_at(100);
    let (b, c) = rest.split_at(150);
    let mut frames = Vec::new();
    frames.extend(crypto_frame(250, c));
    frames.push(0x01); // PING
    frames.extend([0x02, 0x05, 0x00, 0x01, 0x00, 0x02, 0x01]); // ACK, 1 range
    frames.extend([0x00, 0x00]); // PADDING
    frames.extend(crypto_frame(0, a));
    frames.extend(crypto_frame(100, b));
    frames.extend(crypto_frame(90, &hello[90..120])); // overlap
    let packet = initial(VERSION_1, &[7; 8], 0, &frames);
    let (feeds, fields) = run(&[packet]);
    assert_eq!(feeds, [Feed::Done]);
    let fields = fields.unwrap();
    assert_eq!(fields.sni.as_deref(), Some("split.example"));
    assert_eq!(fields.alpn.as_deref(), Some("h3"));
}

#[test]
fn hello_spread_over_two_initials_in_any_order() {
    let hello = client_hello(Some("two.example"), &["h3", "h3-29"], 1500);
    let dcid = [9u8; 12];
    let first = initial(DRAFT_29, &dcid, 0, &crypto_frame(0, &hello[..1100]));
    let second = initial(DRAFT_29, &dcid, 1, &crypto_frame(1100, &hello[1100..]));
    for order in [[&first, &second], [&second, &first]] {
        let (feeds, fields) = run(&[order[0].clone(), order[1].clone()]);
        assert_eq!(feeds, [Feed::More, Feed::Done]);
        let fields = fields.unwrap();
        assert_eq!(fields.version, Some(DRAFT_29));
        assert_eq!(fields.sni.as_deref(), Some("two.example"));
        assert_eq!(fields.alpn.as_deref(), Some("h3,h3-29"));
    }
}

/// After the server's Initial, the client's Initials go to the server's
/// connection ID but keep the keys of the original one; after a Retry, the
/// keys follow the new connection ID.
#[test]
fn later_initials_keep_or_change_keys_as_the_client_does() {
    let hello = client_hello(Some("later.example"), &[], 1500);
    let params = version_params(VERSION_1).unwrap();
    let (original, servers) = ([0x11; 8], [0x22; 5]);
    let first = initial(VERSION_1, &original, 0, &crypto_frame(0, &hello[..1000]));
    let later = build_client_initial(
        &params,
        &original,
        &servers,
        1,
        &crypto_frame(1000, &hello[1000..]),
    )
    .unwrap();
    let (feeds, fields) = run(&[first, later]);
    assert_eq!(feeds, [Feed::More, Feed::Done]);
    assert_eq!(fields.unwrap().sni.as_deref(), Some("later.example"));

    let small = client_hello(Some("retry.example"), &[], 0);
    let before_retry = initial(VERSION_1, &original, 0, &crypto_frame(0, &small[..50]));
    let after_retry = initial(VERSION_1, &servers, 1, &crypto_frame(0, &small));
    let (feeds, fields) = run(&[before_retry, after_retry]);
    assert_eq!(feeds, [Feed::More, Feed::Done]);
    assert_eq!(fields.unwrap().sni.as_deref(), Some("retry.example"));
}

#[test]
fn sni_found_before_the_hello_completes_ends_early() {
    // The SNI extension precedes a large padding extension here.
    let mut hello = client_hello(Some("early.example"), &[], 0);
    // Append a big extension after the SNI and fix the lengths.
    let extra = 2000usize;
    let body_len = hello.len() - 4 + 4 + extra;
    hello[1..4].copy_from_slice(&(body_len as u32).to_be_bytes()[1..]);
    let ext_len_at = 4 + 2 + 32 + 1 + 4 + 2;
    let ext_len = u16::from_be_bytes([hello[ext_len_at], hello[ext_len_at + 1]]) as usize;
    hello[ext_len_at..ext_len_at + 2]
        .copy_from_slice(&((ext_len + 4 + extra) as u16).to_be_bytes());
    hello.extend([0xfe, 0xfe]);
    hello.extend((extra as u16).to_be_bytes());
    hello.extend(vec![0u8; extra]);
    let packet = initial(VERSION_1, &[1; 8], 0, &crypto_frame(0, &hello[..1000]));
    let (feeds, fields) = run(&[packet]);
    assert_eq!(feeds, [Feed::Done]);
    assert_eq!(fields.unwrap().sni.as_deref(), Some("early.example"));
}

#[test]
fn hello_without_sni_completes_without_it() {
    let hello = client_hello(None, &["h3"], 10);
    let packet = initial(VERSION_1, &[2; 8], 0, &crypto_frame(0, &hello));
    let (feeds, fields) = run(&[packet]);
    assert_eq!(feeds, [Feed::Done]);
    let fields = fields.unwrap();
    assert_eq!((fields.sni, fields.alpn.as_deref()), (None, Some("h3")));
}

#[test]
fn huge_sni_is_capped() {
    let name = "a".repeat(900);
    let hello = client_hello(Some(&name), &[], 0);
    let packet = initial(VERSION_1, &[3; 8], 0, &crypto_frame(0, &hello));
    let (_, fields) = run(&[packet]);
    assert_eq!(fields.unwrap().sni.unwrap().len(), MAX_FIELD_LEN);
}

#[test]
fn bad_frame_lengths_and_offsets_are_data_not_errors() {
    let hello = client_hello(Some("x.example"), &[], 0);
    let cases: Vec<Vec<u8>> = vec![
        // CRYPTO length past the payload.
        [vec![0x06, 0x00, 0x80, 0x00, 0xff, 0xff], hello.clone()].concat(),
        // Offset far past MAX_BUFFER.
        crypto_frame(1 << 29, &hello),
        // An ACK claiming billions of ranges.
        vec![0x02, 0x00, 0x00, 0xbf, 0xff, 0xff, 0xff, 0x00, 0x01],
        // A frame type an Initial may not carry.
        [vec![0x08], crypto_frame(0, &hello)].concat(),
        // A handshake message that is not a ClientHello.
        crypto_frame(0, &[0x02, 0x00, 0x00, 0x04, 1, 2, 3, 4]),
        // A ClientHello whose length claims 16 MB.
        crypto_frame(0, &[0x01, 0xff, 0xff, 0xff, 3, 3]),
    ];
    for frames in cases {
        let packet = initial(VERSION_1, &[4; 8], 0, &frames);
        let mut parser = QuicState::default();
        for _ in 0..8 {
            parser.feed(&packet);
        }
        assert!(parser.buffered() <= MAX_BUFFER);
        let fields = quic(parser.take_current()).unwrap();
        assert_eq!((fields.version, fields.sni), (Some(1), None));
    }
}

#[test]
fn out_of_bounds_crypto_data_is_bounded() {
    // Fragments up to and past MAX_BUFFER, many disjoint ones.
    let mut parser = QuicState::default();
    for i in 0..40u32 {
        let frames = [
            crypto_frame(MAX_BUFFER - 10, &[1; 100]),
            crypto_frame(i as usize * 300 + 7, &[2; 50]),
        ]
        .concat();
        parser.feed(&initial(VERSION_1, &[5; 8], i, &frames));
        assert!(parser.buffered() <= MAX_BUFFER);
    }
}

#[test]
fn short_header_and_undecryptable_initials_end_the_direction() {
    let (feeds, fields) = run(&[vec![0x40; 50]]);
    assert_eq!((feeds, fields), (vec![Feed::Done], None));
    // A damaged Initial: the version is known, nothing else.
    let mut packet = rfc_client_initial();
    packet[500] ^= 1;
    let (feeds, fields) = run(&[packet]);
    assert_eq!(feeds, [Feed::Done]);
    assert_eq!(
        fields.unwrap(),
        QuicFields {
            version: Some(1),
            ..QuicFields::default()
        }
    );
}

#[test]
fn probe_wants_a_plausible_initial_of_a_known_version_over_udp() {
    let good = rfc_client_initial();
    assert!(probe(&udp(1, 2), &good));
    assert!(!probe(
        &Transport {
            proto: 6,
            src_port: 1,
            dst_port: 443
        },
        &good
    ));
    assert!(!probe(&udp(1, 443), &good[..100])); // Length past the datagram
    let mut unknown = good.clone();
    unknown[1..5].copy_from_slice(&0x5130_3436u32.to_be_bytes()); // gQUIC Q046
    assert!(!probe(&udp(1, 443), &unknown));
    let mut handshake = good.clone();
    handshake[0] = 0xe3; // v1 Handshake type
    assert!(!probe(&udp(1, 443), &handshake));
    let mut long_cid = good.clone();
    long_cid[5] = 21;
    assert!(!probe(&udp(1, 443), &long_cid));
    assert!(!probe(&udp(1, 443), b"\x16\x03\x01\x00\x05hello"));
    assert!(!probe(&udp(1, 443), &[]));
}

#[test]
fn varints_of_every_length() {
    for (bytes, value) in [
        (&[0x25][..], 37u64),
        (&[0x7b, 0xbd], 15293),
        (&[0x9d, 0x7f, 0x3e, 0x7d], 494_878_333),
        (
            &[0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c],
            151_288_809_941_952_652,
        ),
    ] {
        assert_eq!(parser::Reader::new(bytes).varint(), Some(value));
        assert_eq!(
            parser::Reader::new(&bytes[..bytes.len() - 1]).varint(),
            None
        );
    }
}

// ------------------------------------------------------------- references

/// One CSV line split on commas outside double quotes (quotes dropped).
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

/// Payloads per direction (src, dst, sport, dport), in capture order.
fn directions(all: &[Payload]) -> HashMap<(String, String, u16, u16), Vec<Payload>> {
    let mut out: HashMap<_, Vec<Payload>> = HashMap::new();
    for p in all.iter().filter(|p| p.proto == UDP) {
        let key = (p.src.to_string(), p.dst.to_string(), p.src_port, p.dst_port);
        out.entry(key).or_default().push(p.clone());
    }
    out
}

/// What the parser yields for a direction the probe claims.
fn parse_direction(payloads: &[Payload]) -> Option<QuicFields> {
    let first = payloads.iter().find(|p| !p.data.is_empty())?;
    if !probe(&first.transport(), &first.data) {
        return None;
    }
    let mut fields = testutil::run_parser(new_parser, payloads);
    assert!(fields.len() <= 1);
    quic(fields.pop())
}

#[test]
fn ipfixprobe_quic_reference_every_row() {
    let text = std::fs::read_to_string(testutil::shared("reference/ipfixprobe/quic.csv")).unwrap();
    let mut lines: Vec<Vec<String>> = text.lines().map(csv_fields).collect();
    let header_at = lines
        .iter()
        .position(|l| l[0].starts_with("ipaddr "))
        .unwrap();
    let header = lines.remove(header_at);
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h.split(' ').nth(1) == Some(name))
            .unwrap()
    };
    let dirs = directions(&testutil::payloads(
        "pcap/quic/ipfixprobe_quic_initial-sample.pcap",
    ));
    assert!(!lines.is_empty());
    for row in &lines {
        let key = (
            row[col("SRC_IP")].clone(),
            row[col("DST_IP")].clone(),
            row[col("SRC_PORT")].parse().unwrap(),
            row[col("DST_PORT")].parse().unwrap(),
        );
        let fields = parse_direction(&dirs[&key]).unwrap_or_else(|| panic!("{key:?} not parsed"));
        let version: u32 = row[col("QUIC_VERSION")].parse().unwrap();
        let client_version: u32 = row[col("QUIC_CLIENT_VERSION")].parse().unwrap();
        assert_eq!(fields.version, Some(version), "{key:?}");
        assert_eq!(fields.version, Some(client_version), "{key:?}");
        let sni = &row[col("QUIC_SNI")];
        assert_eq!(
            fields.sni.as_deref(),
            (!sni.is_empty()).then_some(sni.as_str()),
            "{key:?}"
        );
        // The reverse direction of the biflow, if captured, adds no SNI.
        let reverse = (key.1.clone(), key.0.clone(), key.3, key.2);
        if let Some(payloads) = dirs.get(&reverse) {
            assert_eq!(parse_direction(payloads).and_then(|f| f.sni), None);
        }
    }
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

fn all_captures() -> Vec<String> {
    let root = testutil::shared("pcap");
    let mut out = Vec::new();
    for dir in std::fs::read_dir(&root).unwrap() {
        let dir = dir.unwrap().path();
        for file in std::fs::read_dir(&dir).into_iter().flatten() {
            let file = file.unwrap().path();
            let rel = file.strip_prefix(root.parent().unwrap()).unwrap();
            out.push(rel.to_string_lossy().into_owned());
        }
    }
    out.sort();
    out
}

/// tshark's first QUIC version, first SNI and first ALPN list per
/// direction (src port, dst port) of a capture.
type Oracle = HashMap<(u16, u16), (u32, Option<String>, Option<String>)>;

fn tshark_quic(rel: &str) -> Oracle {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(testutil::shared(rel))
        .args(["-Y", "quic && !gquic", "-T", "fields", "-E", "separator=/t"])
        .args([
            "-e",
            "udp.srcport",
            "-e",
            "udp.dstport",
            "-e",
            "quic.version",
        ])
        .args(["-e", "tls.handshake.extensions_server_name"])
        .args(["-e", "tls.handshake.extensions_alpn_str"])
        .output()
        .expect("tshark");
    let mut oracle = Oracle::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        let (Ok(sport), Ok(dport)) = (cols[0].parse(), cols[1].parse()) else {
            continue;
        };
        let Some(version) = cols[2]
            .split(',')
            .next()
            .and_then(|v| u32::from_str_radix(v.trim_start_matches("0x"), 16).ok())
        else {
            continue;
        };
        let text = |i: usize| cols.get(i).filter(|s| !s.is_empty()).map(|s| s.to_string());
        let entry = oracle
            .entry((sport, dport))
            .or_insert((version, None, None));
        if entry.1.is_none() {
            entry.1 = text(3);
        }
        if entry.2.is_none() {
            entry.2 = text(4);
        }
    }
    oracle
}

/// Over every shared capture: each direction the probe claims agrees with
/// tshark on version, SNI and ALPN; each direction tshark decodes as QUIC
/// of a version the parser knows is claimed.
#[test]
fn tshark_oracle_agrees_on_every_shared_capture() {
    if !tshark_available() {
        return;
    }
    let mut compared = 0;
    for rel in all_captures() {
        let dirs = directions(&testutil::payloads(&rel));
        let ours: HashMap<(u16, u16), QuicFields> = dirs
            .iter()
            .filter_map(|(k, p)| Some(((k.2, k.3), parse_direction(p)?)))
            .collect();
        let quic_ports = dirs.keys().any(|k| k.2 == 443 || k.3 == 443);
        if ours.is_empty() && !quic_ports {
            continue;
        }
        let oracle = tshark_quic(&rel);
        for (ports, (version, sni, alpn)) in &oracle {
            if version_params(*version).is_none() {
                continue;
            }
            let fields = ours
                .get(ports)
                .unwrap_or_else(|| panic!("{rel} {ports:?} not claimed"));
            assert_eq!(fields.version, Some(*version), "{rel} {ports:?}");
            assert_eq!(fields.sni.as_deref(), sni.as_deref(), "{rel} {ports:?}");
            assert_eq!(fields.alpn.as_deref(), alpn.as_deref(), "{rel} {ports:?}");
            compared += 1;
        }
        for ports in ours.keys() {
            assert!(
                oracle.contains_key(ports),
                "{rel} {ports:?}: tshark sees no QUIC"
            );
        }
    }
    eprintln!("tshark oracle: {compared} QUIC directions compared");
    assert!(compared >= 3, "compared only {compared} directions");
}

// --------------------------------------------------------------- proptest

/// Every claimed datagram of the shared captures, the RFC packets and the
/// hand-built multi-packet hellos.
fn corpus() -> Vec<Vec<u8>> {
    let mut out = vec![rfc_client_initial(), rfc_server_initial()];
    for rel in [
        "pcap/quic/ipfixprobe_quic_initial-sample.pcap",
        "pcap/tls/ipfixprobe_tls.pcap",
    ] {
        for p in testutil::payloads(rel) {
            if p.proto == UDP && (p.src_port == 443 || p.dst_port == 443) && !p.data.is_empty() {
                out.push(p.data);
            }
        }
    }
    let hello = client_hello(Some("corpus.example"), &["h3"], 1500);
    out.push(initial(
        VERSION_2,
        &[6; 8],
        0,
        &crypto_frame(1100, &hello[1100..]),
    ));
    out.push(initial(
        VERSION_2,
        &[6; 8],
        1,
        &crypto_frame(0, &hello[..1100]),
    ));
    out
}

#[test]
fn proptest_damaged_real_packets_never_panic_nor_overbuffer() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    let corpus = corpus();
    assert!(corpus.len() >= 5);
    let n = corpus.len();
    let strategy = (
        proptest::collection::vec(
            (
                0..n,
                any::<u16>(),
                proptest::collection::vec((any::<u16>(), any::<u8>()), 0..4),
            ),
            1..5,
        ),
        proptest::collection::vec(any::<u16>(), 0..3),
    );
    let mut runner = TestRunner::new(Config {
        cases: 512,
        ..Config::default()
    });
    runner
        .run(&strategy, |(picks, splits)| {
            let mut parser = QuicState::default();
            let mut first = true;
            for (index, cut, flips) in picks {
                let mut data = corpus[index].clone();
                let keep = usize::from(cut) % (data.len() + 1);
                if cut % 3 != 0 {
                    data.truncate(keep);
                }
                for (at, xor) in &flips {
                    if !data.is_empty() {
                        let at = usize::from(*at) % data.len();
                        data[at] ^= xor;
                    }
                }
                if first {
                    let _ = probe(&udp(40000, 443), &data);
                    first = false;
                }
                // Datagrams are not split on the wire, but feed pieces too.
                let mut pieces = vec![&data[..]];
                for s in &splits {
                    let last = pieces.pop().unwrap();
                    let at = usize::from(*s) % (last.len() + 1);
                    pieces.extend([&last[..at], &last[at..]]);
                }
                for piece in pieces {
                    let _ = parser.feed(piece);
                    prop_assert!(parser.buffered() <= MAX_BUFFER);
                }
            }
            if let Some(fields) = quic(parser.take_current()) {
                prop_assert!(fields.sni.map_or(0, |s| s.len()) <= MAX_FIELD_LEN);
                prop_assert!(fields.alpn.map_or(0, |s| s.len()) <= MAX_FIELD_LEN);
            }
            Ok(())
        })
        .unwrap();
}

/// Random frames sealed into valid Initials: the frame walk, reassembly
/// and hello parsing see arbitrary plaintext.
#[test]
fn proptest_random_plaintext_never_panics_nor_overbuffers() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    let hello = client_hello(Some("p.example"), &["h3"], 100);
    let strategy = proptest::collection::vec(
        (
            any::<bool>(),
            any::<u16>(),
            proptest::collection::vec(any::<u8>(), 0..400),
        ),
        1..4,
    );
    let mut runner = TestRunner::new(Config {
        cases: 256,
        ..Config::default()
    });
    runner
        .run(&strategy, |packets| {
            let mut parser = QuicState::default();
            for (pn, (as_crypto, offset, bytes)) in packets.into_iter().enumerate() {
                let frames = if as_crypto {
                    // Random bytes inside a CRYPTO frame, sometimes after
                    // a real hello's start.
                    let mut data = hello[..usize::from(offset) % hello.len()].to_vec();
                    data.extend(&bytes);
                    crypto_frame(usize::from(offset) % 64, &data)
                } else {
                    bytes
                };
                let packet = initial(VERSION_1, &[8; 8], pn as u32, &frames);
                let _ = parser.feed(&packet);
                prop_assert!(parser.buffered() <= MAX_BUFFER);
            }
            let _ = parser.take_current();
            Ok(())
        })
        .unwrap();
}
