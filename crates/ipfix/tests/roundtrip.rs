//! The encoder against the decoder (random records, field by field) and
//! against tshark (an independent IPFIX decoder), when it is installed.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::process::Command;

use ipfix::encode::{self, Encoder, EncoderConfig};
use ipfix::{Decoder, IpfixSink};
use l7::dns::DnsFields;
use l7::http::HttpFields;
use l7::quic::QuicFields;
use l7::sip::SipFields;
use l7::smtp::SmtpFields;
use l7::tls::TlsFields;
use l7::{FieldStr, L7Fields};
use proptest::prelude::*;
use record::{EndReason, FlowRecord, FlowSink, Reverse};

const MS: u64 = 1_000_000;

/// What survives the wire and `to_flow`: times at millisecond resolution,
/// the encoder's ODID, the L7 fields as [`wire_l7`] says.
fn on_the_wire(f: &FlowRecord, odid: u32) -> FlowRecord {
    let mut f = f.clone();
    f.odid = odid;
    f.l7 = wire_l7(f.l7.as_ref());
    f.first_ns -= f.first_ns % MS;
    f.last_ns -= f.last_ns % MS;
    if let Some(r) = f.reverse.as_mut() {
        r.first_ns -= r.first_ns % MS;
        r.last_ns -= r.last_ns % MS;
    }
    f
}

/// The L7 fields a decoder can rebuild from eddy's elements (the rules of
/// `ipfix::flow`'s module doc, written out per protocol): empty strings and
/// zero numbers read as absent, columns without an element are lost, a DNS
/// message is a response when its rcode or answer count is not zero, QUIC
/// goes out without L7 elements.
fn wire_l7(l7: Option<&L7Fields>) -> Option<L7Fields> {
    let text = |s: &Option<FieldStr>| s.clone().filter(|s| !s.is_empty());
    let nonzero = |n: Option<u16>| n.filter(|&n| n != 0);
    Some(match l7? {
        L7Fields::Http(h) => L7Fields::from(HttpFields {
            method: text(&h.method),
            host: text(&h.host),
            url: text(&h.url),
            user_agent: text(&h.user_agent),
            referer: text(&h.referer),
            status: nonzero(h.status),
            content_type: text(&h.content_type),
            server: text(&h.server),
        }),
        L7Fields::Dns(d) => {
            let (rcode, answers) = if d.is_response {
                (d.rcode, d.answers)
            } else {
                (0, 0)
            };
            let has_answer = !d.answer_data.is_empty();
            L7Fields::from(DnsFields {
                id: d.id,
                qname: d.qname.clone(),
                qtype: d.qtype,
                rcode,
                answers,
                is_response: rcode != 0 || answers != 0,
                answer_data: d.answer_data.clone(),
                answer_ttl: if has_answer { d.answer_ttl } else { 0 },
                ..DnsFields::default()
            })
        }
        L7Fields::Tls(t) => L7Fields::from(TlsFields {
            sni: text(&t.sni),
            version: nonzero(t.version),
            alpn: text(&t.alpn),
            // 16 bytes on the wire: only 32 hex digits that are not all
            // zero come back, in lowercase.
            ja3: t
                .ja3
                .as_ref()
                .filter(|j| j.len() == 32 && j.bytes().all(|b| b.is_ascii_hexdigit()))
                .filter(|j| j.bytes().any(|b| b != b'0'))
                .map(|j| j.to_ascii_lowercase()),
            ja4: text(&t.ja4),
            ..TlsFields::default()
        }),
        L7Fields::Smtp(m) => L7Fields::from(SmtpFields {
            commands: m.commands,
            sender: text(&m.sender),
            recipient: text(&m.recipient),
            domain: text(&m.domain),
            status_2xx: m.status_2xx,
            status_3xx: m.status_3xx,
            status_4xx: m.status_4xx,
            status_5xx: m.status_5xx,
            ..SmtpFields::default()
        }),
        L7Fields::Sip(m) => L7Fields::from(SipFields {
            msg_type: m.msg_type,
            status: nonzero(m.status),
            call_id: text(&m.call_id),
            from: text(&m.from),
            to: text(&m.to),
            via: text(&m.via),
            user_agent: text(&m.user_agent),
            request_uri: text(&m.request_uri),
            cseq: text(&m.cseq),
            ..SipFields::default()
        }),
        L7Fields::Quic(_) => return None,
    })
}

/// Decodes messages in order; returns the flows (with reverse counters)
/// and each message's (sequence, data records).
fn decode(messages: &[Vec<u8>]) -> (Vec<FlowRecord>, Vec<(u32, usize)>) {
    let mut decoder = Decoder::new();
    let mut flows = Vec::new();
    let mut seqs = Vec::new();
    for msg in messages {
        let (decoded, errors) = decoder.decode(1, msg, &mut |ctx, rec| {
            let mut flow = ipfix::to_flow(ctx, rec);
            flow.reverse = encode::reverse_of(rec);
            flows.push(flow);
        });
        assert!(errors.is_empty(), "{errors:?}");
        seqs.push((decoded.context.sequence, decoded.records));
    }
    (flows, seqs)
}

/// Strings with multi-byte characters and a NUL, sometimes empty, up to
/// `max` characters.
fn text(max: usize) -> impl Strategy<Value = Option<FieldStr>> {
    let chars = prop::sample::select(vec!['a', 'Z', '0', '.', '/', ' ', ':', 'é', '€', '\0']);
    proptest::option::of(
        proptest::collection::vec(chars, 0..max)
            .prop_map(|c| c.into_iter().collect::<String>().into()),
    )
}

fn num16() -> impl Strategy<Value = Option<u16>> {
    proptest::option::of(prop_oneof![Just(0u16), any::<u16>()])
}

fn http() -> impl Strategy<Value = L7Fields> {
    (
        (text(8), text(30), text(300), text(30)),
        (text(30), num16(), text(20), text(20)),
    )
        .prop_map(
            |((method, host, url, user_agent), (referer, status, content_type, server))| {
                L7Fields::from(HttpFields {
                    method,
                    host,
                    url,
                    user_agent,
                    referer,
                    status,
                    content_type,
                    server,
                })
            },
        )
}

fn dns() -> impl Strategy<Value = L7Fields> {
    (
        (any::<u16>(), any::<u16>(), any::<bool>(), text(40)),
        (any::<u16>(), any::<u16>(), 0u8..16, any::<u16>()),
        (any::<u32>(), text(40), any::<u16>()),
    )
        .prop_map(
            |(
                (id, flags, is_response, qname),
                (qtype, qclass, rcode, answers),
                (ttl, answer, size),
            )| {
                L7Fields::from(DnsFields {
                    id,
                    flags,
                    is_response,
                    qname: qname.unwrap_or_default(),
                    qtype,
                    qclass,
                    rcode,
                    answers,
                    answer_type: 1,
                    answer_ttl: ttl,
                    answer_data: answer.unwrap_or_default(),
                    edns_udp_size: size,
                    dnssec_ok: size % 2 == 0,
                })
            },
        )
}

fn ja3() -> impl Strategy<Value = Option<FieldStr>> {
    prop_oneof![
        proptest::option::of(any::<[u8; 16]>().prop_map(|b| {
            b.iter()
                .map(|x| format!("{x:02x}"))
                .collect::<String>()
                .into()
        })),
        Just(Some("0".repeat(32).into())),
        Just(Some("not a hash".into())),
        Just(Some("B288289AF2999820648EB3CA4D8304C5".into())),
    ]
}

fn tls() -> impl Strategy<Value = L7Fields> {
    (
        (text(40), num16(), num16(), text(20)),
        (proptest::option::of(any::<u32>()), ja3(), text(40)),
    )
        .prop_map(
            |((sni, version, legacy_version, alpn), (cipher_suite, ja3, ja4))| {
                L7Fields::from(TlsFields {
                    sni,
                    version,
                    legacy_version,
                    alpn,
                    cipher_suite,
                    ja3,
                    ja4,
                })
            },
        )
}

fn smtp() -> impl Strategy<Value = L7Fields> {
    (
        (any::<u32>(), any::<u32>(), any::<u32>(), text(30), text(30)),
        (text(20), any::<u32>(), [0u32..5, 0u32..5, 0u32..5, 0u32..5]),
    )
        .prop_map(
            |((commands, mail_count, rcpt_count, sender, recipient), (domain, flags, codes))| {
                L7Fields::from(SmtpFields {
                    commands,
                    mail_count,
                    rcpt_count,
                    sender,
                    recipient,
                    domain,
                    status_flags: flags,
                    status_2xx: codes[0],
                    status_3xx: codes[1],
                    status_4xx: codes[2],
                    status_5xx: codes[3],
                })
            },
        )
}

fn sip() -> impl Strategy<Value = L7Fields> {
    (
        (any::<u16>(), text(10), num16(), text(30), text(30)),
        (text(30), text(30), text(20), text(30), text(15)),
    )
        .prop_map(
            |(
                (msg_type, method, status, call_id, from),
                (to, via, user_agent, request_uri, cseq),
            )| {
                L7Fields::from(SipFields {
                    msg_type,
                    method,
                    status,
                    call_id,
                    from,
                    to,
                    via,
                    user_agent,
                    request_uri,
                    cseq,
                })
            },
        )
}

fn quic() -> impl Strategy<Value = L7Fields> {
    (proptest::option::of(any::<u32>()), text(20), text(20))
        .prop_map(|(version, sni, alpn)| L7Fields::from(QuicFields { version, sni, alpn }))
}

/// None or one protocol's random fields.
fn l7_fields() -> BoxedStrategy<Option<L7Fields>> {
    // Boxed: the nested strategy types overflow a debug build's stack.
    let any_protocol = prop_oneof![
        http().boxed(),
        dns().boxed(),
        tls().boxed(),
        smtp().boxed(),
        sip().boxed(),
        quic().boxed(),
    ];
    proptest::option::of(any_protocol).boxed()
}

fn end_reason() -> impl Strategy<Value = EndReason> {
    prop_oneof![
        Just(EndReason::Idle),
        Just(EndReason::Active),
        Just(EndReason::EndOfFlow),
        Just(EndReason::Forced),
        Just(EndReason::Eviction),
    ]
}

fn address(v6: bool) -> impl Strategy<Value = Ipv6Addr> {
    any::<[u8; 16]>().prop_map(move |mut b| {
        if v6 {
            // A global-unicast prefix: never IPv4-mapped.
            b[0] = 0x20;
            Ipv6Addr::from(b)
        } else {
            Ipv4Addr::new(b[0], b[1], b[2], b[3]).to_ipv6_mapped()
        }
    })
}

fn reverse() -> impl Strategy<Value = Reverse> {
    (
        0u64..1 << 50,
        0u64..1 << 30,
        any::<u64>(),
        any::<u64>(),
        any::<u8>(),
    )
        .prop_map(|(first, dur, packets, bytes, tcp_flags)| Reverse {
            first_ns: first,
            last_ns: first + dur,
            packets,
            bytes,
            tcp_flags,
        })
}

fn flow_record() -> impl Strategy<Value = FlowRecord> {
    let v6 = any::<bool>();
    v6.prop_flat_map(|v6| {
        (
            (0u64..1 << 60, 0u64..1 << 40, address(v6), address(v6)),
            (
                any::<u16>(),
                any::<u16>(),
                any::<u8>(),
                any::<u8>(),
                any::<u8>(),
            ),
            (any::<u64>(), any::<u64>(), any::<u16>()),
            (any::<[u8; 6]>(), any::<[u8; 6]>(), end_reason()),
            proptest::option::of(reverse()),
            l7_fields(),
        )
    })
    .prop_map(
        |(
            (first, dur, src_ip, dst_ip),
            (src_port, dst_port, proto, tcp_flags, tos),
            (packets, bytes, vlan),
            (src_mac, dst_mac, end_reason),
            reverse,
            l7,
        )| FlowRecord {
            first_ns: first,
            last_ns: first + dur,
            src_ip,
            dst_ip,
            src_port,
            dst_port,
            proto,
            tcp_flags,
            tos,
            packets,
            bytes,
            vlan,
            src_mac,
            dst_mac,
            end_reason,
            reverse,
            l7,
            ..FlowRecord::default()
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn records_survive_and_messages_fit(
        batches in proptest::collection::vec(proptest::collection::vec(flow_record(), 0..40), 1..4),
        max_len in 512usize..=65_535,
    ) {
        let config = EncoderConfig { max_message_len: max_len, ..EncoderConfig::udp(42) };
        let mut enc = Encoder::new(config);
        let mut messages = Vec::new();
        for (i, batch) in batches.iter().enumerate() {
            enc.encode(batch, 1000 + i as u32, &mut messages);
        }
        for msg in &messages {
            prop_assert!(msg.len() <= max_len, "{} > {max_len}", msg.len());
        }
        let (flows, seqs) = decode(&messages);
        let expect: Vec<FlowRecord> = batches.iter().flatten().map(|f| on_the_wire(f, 42)).collect();
        prop_assert_eq!(flows.len(), expect.len());
        // A record whose L7 fields could not fit one message went out
        // without them (counted): exactly those come back with none.
        let mut n_without = 0;
        for (got, want) in flows.iter().zip(&expect) {
            if got.l7.is_none() && want.l7.is_some() {
                n_without += 1;
                let want = FlowRecord { l7: None, ..want.clone() };
                prop_assert_eq!(got, &want);
            } else {
                prop_assert_eq!(got, want);
            }
        }
        prop_assert_eq!(n_without, enc.l7_dropped());
        // RFC 7011: the sequence number counts the data records sent before.
        let mut before = 0u32;
        for (seq, n) in seqs {
            prop_assert_eq!(seq, before);
            before += n as u32;
        }
        prop_assert_eq!(enc.sequence() as usize, expect.len());
    }
}

fn sample(n: usize) -> Vec<FlowRecord> {
    (0..n)
        .map(|i| {
            let v6 = i % 4 == 3;
            let (src_ip, dst_ip) = if v6 {
                (
                    format!("2001:db8::{}", i + 1).parse().unwrap(),
                    "2001:db8::ffff".parse().unwrap(),
                )
            } else {
                (
                    Ipv4Addr::new(10, 0, (i / 256) as u8, (i % 256) as u8).to_ipv6_mapped(),
                    Ipv4Addr::new(192, 0, 2, 1).to_ipv6_mapped(),
                )
            };
            FlowRecord {
                first_ns: 1_700_000_000_000 * MS + i as u64 * MS,
                last_ns: 1_700_000_001_000 * MS + i as u64 * MS,
                src_ip,
                dst_ip,
                src_port: 40_000 + i as u16,
                dst_port: 443,
                proto: if i % 2 == 0 { 6 } else { 17 },
                tcp_flags: if i % 2 == 0 { 0x1b } else { 0 },
                packets: 10 + i as u64,
                bytes: 1000 + 100 * i as u64,
                reverse: (i % 5 == 0).then_some(Reverse {
                    packets: 7 + i as u64,
                    bytes: 700 + i as u64,
                    tcp_flags: 0x12,
                    ..Reverse::default()
                }),
                l7: match i % 7 {
                    1 => Some(L7Fields::from(TlsFields {
                        sni: Some(format!("host{i}.example.com").into()),
                        version: Some(0x0303),
                        ja3: Some("b288289af2999820648eb3ca4d8304c5".into()),
                        ..TlsFields::default()
                    })),
                    2 => Some(L7Fields::from(HttpFields {
                        method: Some("GET".into()),
                        host: Some("example.com".into()),
                        url: Some(format!("/{}", "x".repeat(i * 5)).into()),
                        status: None,
                        ..HttpFields::default()
                    })),
                    3 => Some(L7Fields::from(DnsFields {
                        id: i as u16,
                        is_response: true,
                        qname: format!("q{i}.example.org").into(),
                        qtype: 28,
                        qclass: 1,
                        rcode: 3,
                        answers: 1,
                        answer_ttl: 300,
                        answer_data: "2001:db8::53".into(),
                        ..DnsFields::default()
                    })),
                    4 => Some(L7Fields::from(SmtpFields {
                        commands: 0x41,
                        sender: Some("<a@example.com>".into()),
                        recipient: Some(format!("<r{i}@example.net>").into()),
                        domain: Some("mail.example.com".into()),
                        status_2xx: 3,
                        status_5xx: 1,
                        ..SmtpFields::default()
                    })),
                    5 => Some(L7Fields::from(SipFields {
                        msg_type: 1,
                        method: Some("INVITE".into()),
                        status: Some(180),
                        call_id: Some(format!("call-{i}@example.com").into()),
                        from: Some("<sip:alice@example.com>;tag=1".into()),
                        to: Some("<sip:bob@example.com>".into()),
                        via: Some("SIP/2.0/UDP 192.0.2.1:5060".into()),
                        user_agent: Some("eddy-test".into()),
                        request_uri: Some("sip:bob@example.com".into()),
                        cseq: Some("1 INVITE".into()),
                    })),
                    6 => Some(L7Fields::from(QuicFields {
                        version: Some(1),
                        sni: Some("quic.example.com".into()),
                        alpn: Some("h3".into()),
                    })),
                    _ => None,
                },
                tos: (i % 4) as u8 * 8,
                vlan: (i % 3) as u16 * 10,
                src_mac: [2, 0, 0, 0, 0, i as u8],
                dst_mac: [2, 0, 0, 0, 1, i as u8],
                end_reason: [EndReason::Idle, EndReason::Active, EndReason::EndOfFlow][i % 3],
                ..FlowRecord::default()
            }
        })
        .collect()
}

/// Every field of every record, as (enterprise, id, value).
fn raw_fields(messages: &[Vec<u8>]) -> Vec<Vec<(u32, u16, Vec<u8>)>> {
    let mut decoder = Decoder::new();
    let mut out = Vec::new();
    for msg in messages {
        let (_, errors) = decoder.decode(1, msg, &mut |_, rec| {
            out.push(
                rec.fields()
                    .map(|f| (f.spec.pen, f.spec.id, f.value.to_vec()))
                    .collect(),
            );
        });
        assert!(errors.is_empty(), "{errors:?}");
    }
    out
}

fn field(rec: &[(u32, u16, Vec<u8>)], pen: u32, id: u16) -> Option<&[u8]> {
    rec.iter()
        .find(|f| (f.0, f.1) == (pen, id))
        .map(|f| f.2.as_slice())
}

#[test]
fn l7_fields_travel_in_cesnet_and_flowmon_elements() {
    use ipfix::registry::{PEN_CESNET, PEN_FLOWMON};
    let flows = sample(40);
    let mut enc = Encoder::new(EncoderConfig::udp(1));
    let mut messages = Vec::new();
    enc.encode(&flows, 7, &mut messages);
    assert!(messages.len() > 1);
    assert!(messages.iter().all(|m| m.len() <= 1400));
    let recs = raw_fields(&messages);
    assert_eq!(recs.len(), flows.len());
    // to_flow reads the L4 part and the L7 fields back.
    assert_eq!(
        decode(&messages).0,
        flows.iter().map(|f| on_the_wire(f, 1)).collect::<Vec<_>>()
    );
    for (flow, rec) in flows.iter().zip(&recs) {
        match flow.l7.as_ref() {
            Some(L7Fields::Tls(t)) => {
                assert_eq!(
                    field(rec, PEN_CESNET, 808),
                    t.sni.as_deref().map(str::as_bytes)
                );
                assert_eq!(field(rec, PEN_FLOWMON, 333), Some(&[3u8, 3][..]));
                assert_eq!(
                    field(rec, PEN_FLOWMON, 357).unwrap()[..4],
                    [0xb2, 0x88, 0x28, 0x9a]
                );
                // Absent strings are empty.
                assert_eq!(field(rec, PEN_FLOWMON, 337), Some(&[][..]));
            }
            Some(L7Fields::Http(h)) => {
                assert_eq!(field(rec, PEN_CESNET, 200), Some(&b"GET"[..]));
                assert_eq!(
                    field(rec, PEN_FLOWMON, 2),
                    h.url.as_deref().map(str::as_bytes)
                );
                assert_eq!(field(rec, PEN_FLOWMON, 12), Some(&[0u8, 0][..]));
            }
            _ => assert!(field(rec, PEN_CESNET, 808).is_none()),
        }
    }
    assert_eq!(enc.l7_dropped(), 0);
}

#[test]
fn l7_fields_too_long_for_a_datagram_are_dropped_and_counted() {
    let mut flow = sample(1).remove(0);
    flow.l7 = Some(L7Fields::from(HttpFields {
        url: Some("u".repeat(1000).into()),
        user_agent: Some("a".repeat(1000).into()),
        ..HttpFields::default()
    }));
    let mut enc = Encoder::new(EncoderConfig::udp(1));
    let mut messages = Vec::new();
    enc.encode(std::slice::from_ref(&flow), 7, &mut messages);
    assert_eq!(enc.l7_dropped(), 1);
    assert!(messages[0].len() <= 1400);
    let (flows, _) = decode(&messages);
    assert_eq!(flows[0].packets, flow.packets);
    // In a stream the long form of the length carries them.
    let mut enc = Encoder::new(EncoderConfig::stream(1));
    let mut messages = Vec::new();
    enc.encode(std::slice::from_ref(&flow), 7, &mut messages);
    assert_eq!(enc.l7_dropped(), 0);
    let recs = raw_fields(&messages);
    assert_eq!(
        field(&recs[0], ipfix::registry::PEN_FLOWMON, 2).map(<[u8]>::len),
        Some(1000)
    );
}

#[test]
fn templates_are_refreshed_by_time_and_a_late_collector_catches_up() {
    let config = EncoderConfig {
        refresh_messages: 0,
        refresh_secs: 10,
        ..EncoderConfig::udp(1)
    };
    let mut enc = Encoder::new(config);
    let mut messages = Vec::new();
    for t in [0, 5, 10, 15, 25] {
        enc.encode(&sample(3), t, &mut messages);
    }
    let has_templates: Vec<bool> = messages.iter().map(|m| m[16..18] == [0, 2]).collect();
    assert_eq!(has_templates, [true, false, true, false, true]);
    // A collector that starts after the first message gets nothing until
    // the refresh, then everything.
    let mut late = Decoder::new();
    let (flows, errors) = late.decode_flows(1, &messages[1]);
    assert!(flows.is_empty() && !errors.is_empty());
    let (flows, errors) = late.decode_flows(1, &messages[2]);
    assert!(errors.is_empty());
    assert_eq!(flows.len(), 3);
}

#[test]
fn templates_are_refreshed_by_message_count() {
    let config = EncoderConfig {
        refresh_messages: 3,
        refresh_secs: 0,
        ..EncoderConfig::udp(1)
    };
    let mut enc = Encoder::new(config);
    let mut messages = Vec::new();
    for _ in 0..7 {
        enc.encode(&sample(2), 0, &mut messages);
    }
    let has_templates: Vec<bool> = messages.iter().map(|m| m[16..18] == [0, 2]).collect();
    assert_eq!(
        has_templates,
        [true, false, false, true, false, false, true]
    );
}

#[test]
fn a_file_sink_writes_messages_back_to_back() {
    let dir = std::env::temp_dir().join(format!("eddy-ipfix-file-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("flows.ipfix");
    let dest = ipfix::Destination::File(path.to_string_lossy().into_owned());
    let mut sink = IpfixSink::open(dest, 5).unwrap();
    let flows = sample(3000);
    sink.write(&flows[..1000]).unwrap();
    sink.write(&flows[1000..]).unwrap();
    sink.finish().unwrap();
    assert_eq!(sink.stats().records, 3000);
    let bytes = std::fs::read(&path).unwrap();
    let messages: Vec<Vec<u8>> = ipfix::file_messages(&bytes)
        .map(|m| m.unwrap().to_vec())
        .collect();
    assert_eq!(messages.len() as u64, sink.stats().messages);
    let (got, _) = decode(&messages);
    let want: Vec<FlowRecord> = flows.iter().map(|f| on_the_wire(f, 5)).collect();
    assert_eq!(got, want);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Wraps each message in Ethernet/IPv4/UDP (127.0.0.1 -> 127.0.0.1:4739)
/// and writes a classic pcap.
fn write_pcap(path: &std::path::Path, messages: &[Vec<u8>]) {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&65_535u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    for (i, msg) in messages.iter().enumerate() {
        let udp_len = 8 + msg.len();
        let ip_len = 20 + udp_len;
        let mut ip = vec![0x45, 0];
        ip.extend_from_slice(&(ip_len as u16).to_be_bytes());
        ip.extend_from_slice(&(i as u16).to_be_bytes());
        ip.extend_from_slice(&[0x40, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1]);
        let mut sum: u32 = ip
            .chunks(2)
            .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
            .sum();
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        ip[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
        let mut frame = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
        frame.extend_from_slice(&ip);
        frame.extend_from_slice(&50_000u16.to_be_bytes());
        frame.extend_from_slice(&4739u16.to_be_bytes());
        frame.extend_from_slice(&(udp_len as u16).to_be_bytes());
        frame.extend_from_slice(&[0, 0]);
        frame.extend_from_slice(msg);
        out.extend_from_slice(&(1_700_000_000u32 + i as u32).to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        out.extend_from_slice(&frame);
    }
    std::fs::write(path, out).unwrap();
}

fn tshark_available() -> bool {
    let found = Command::new("tshark")
        .arg("-v")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(std::env::var_os("CI").is_none(), "tshark is required in CI");
        eprintln!("note: tshark not installed; skipping the tshark cross-check");
    }
    found
}

#[test]
fn tshark_decodes_what_we_encode() {
    if !tshark_available() {
        return;
    }
    let flows = sample(60);
    let mut enc = Encoder::new(EncoderConfig::udp(9));
    let mut messages = Vec::new();
    enc.encode(&flows[..30], 1_700_000_100, &mut messages);
    enc.encode(&flows[30..], 1_700_000_101, &mut messages);
    assert!(messages.len() > 2, "the test wants several messages");
    let dir = std::env::temp_dir().join(format!("eddy-ipfix-tshark-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pcap = dir.join("export.pcap");
    write_pcap(&pcap, &messages);
    let run = |extra: &[&str]| {
        let out = Command::new("tshark")
            .arg("-r")
            .arg(&pcap)
            .args(["-d", "udp.port==4739,cflow"])
            .args(extra)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    // PDML: every field with its name, shown value and description, in
    // wire order; tshark 4.0 has no names for CESNET/Flowmon elements and
    // shows them as `cflow.enterprise_private_entry` with the enterprise's
    // name, the element id and the value's bytes.
    let shown = pdml_records(&run(&["-T", "pdml"]));
    assert_eq!(shown.len(), flows.len(), "records tshark shows");
    let mut n_l7 = 0;
    for (i, (flow, rec)) in flows.iter().zip(&shown).enumerate() {
        assert_eq!(tshark_l4(rec), expected_l4(flow), "record {i}");
        let (got, want) = (tshark_l7(rec), expected_l7(flow));
        assert_eq!(got, want, "record {i}: L7 elements");
        n_l7 += usize::from(!want.is_empty());
    }
    assert!(
        n_l7 >= 5 * flows.len() / 7,
        "only {n_l7} records with L7 elements"
    );
    let malformed = run(&["-Y", "_ws.malformed || _ws.expert.severity >= \"error\""]);
    assert!(
        malformed.trim().is_empty(),
        "tshark complains:\n{malformed}"
    );
    let expert = run(&["-q", "-z", "expert,error"]);
    assert!(
        !expert.contains("Malformed") && !expert.contains("Errors ("),
        "{expert}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// One field as tshark's PDML shows it: name, `show`, `showname`.
type Shown = (String, String, String);

/// The value of attribute `name` in one PDML line.
fn attr<'a>(line: &'a str, name: &str) -> &'a str {
    let key = format!(" {name}=\"");
    line.find(&key)
        .and_then(|i| {
            let rest = &line[i + key.len()..];
            rest.find('"').map(|j| &rest[..j])
        })
        .unwrap_or("")
}

/// The data records of a PDML dump, each as its cflow fields in order.
fn pdml_records(pdml: &str) -> Vec<Vec<Shown>> {
    let mut out: Vec<Vec<Shown>> = Vec::new();
    for line in pdml.lines() {
        let line = line.trim_start();
        if line.starts_with("<field name=\"\" show=\"Flow ") {
            out.push(Vec::new());
            continue;
        }
        let name = attr(line, "name");
        let data_field = name.starts_with("cflow.")
            && !name.starts_with("cflow.template")
            && !name.starts_with("cflow.tcpflags.")
            && !matches!(
                name,
                "cflow.flowset_id"
                    | "cflow.flowset_length"
                    | "cflow.string_len_short"
                    | "cflow.string_len_long"
                    | "cflow.timedelta"
                    | "cflow.version"
                    | "cflow.len"
                    | "cflow.timestamp"
                    | "cflow.exporttime"
                    | "cflow.sequence"
                    | "cflow.od_id"
            );
        if let (true, Some(rec)) = (data_field, out.last_mut()) {
            let field = (
                name.to_string(),
                attr(line, "show").to_string(),
                attr(line, "showname").to_string(),
            );
            rec.push(field);
        }
    }
    out
}

/// "Nov 14, 2023 22:13:20.001000000 UTC" as ms since the epoch.
fn tshark_time_ms(s: &str) -> u64 {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let w: Vec<&str> = s.split_whitespace().collect();
    let m = MONTHS.iter().position(|m| *m == w[0]).unwrap() as i64 + 1;
    let d: i64 = w[1].trim_end_matches(',').parse().unwrap();
    let y: i64 = w[2].parse().unwrap();
    let (hms, frac) = w[3].split_once('.').unwrap();
    let t: Vec<u64> = hms.split(':').map(|x| x.parse().unwrap()).collect();
    // Days from civil date (proleptic Gregorian), after Howard Hinnant.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let days = (era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468) as u64;
    (days * 86_400 + t[0] * 3600 + t[1] * 60 + t[2]) * 1000 + frac[..3].parse::<u64>().unwrap()
}

fn hex_number(s: &str) -> u64 {
    u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap()
}

/// The IANA fields of one record as tshark decoded them, as text; the
/// reverse counters are the second packets/octets/flags/times.
fn tshark_l4(rec: &[Shown]) -> Vec<String> {
    let mut out = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for (name, show, _) in rec {
        let name = name.as_str();
        let twice = seen.contains(&name);
        seen.push(name);
        let key = if twice {
            format!("rev_{name}")
        } else {
            name.to_string()
        };
        let value = match name {
            "cflow.tcpflags" | "cflow.tos" => hex_number(show).to_string(),
            "cflow.abstimestart" | "cflow.abstimeend" => tshark_time_ms(show).to_string(),
            "cflow.enterprise_private_entry" => continue,
            _ => show.clone(),
        };
        out.push(format!("{key}={value}"));
    }
    out
}

/// What tshark should show for a record eddy encoded.
fn expected_l4(f: &FlowRecord) -> Vec<String> {
    let mac = |m: [u8; 6]| {
        m.iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":")
    };
    let v6 = f.ip_version() == 6;
    let mut out = vec![
        format!("cflow.abstimestart={}", f.first_ns / MS),
        format!("cflow.abstimeend={}", f.last_ns / MS),
        format!(
            "cflow.srcaddr{}={}",
            if v6 { "v6" } else { "" },
            f.src_addr()
        ),
        format!(
            "cflow.dstaddr{}={}",
            if v6 { "v6" } else { "" },
            f.dst_addr()
        ),
        format!("cflow.srcport={}", f.src_port),
        format!("cflow.dstport={}", f.dst_port),
        format!("cflow.protocol={}", f.proto),
        format!("cflow.tcpflags={}", f.tcp_flags),
        format!("cflow.tos={}", f.tos),
        format!("cflow.packets={}", f.packets),
        format!("cflow.octets={}", f.bytes),
        format!("cflow.vlanid={}", f.vlan),
        format!("cflow.srcmac={}", mac(f.src_mac)),
        format!("cflow.dstmac={}", mac(f.dst_mac)),
        format!("cflow.flow_end_reason={}", f.end_reason as u8),
    ];
    if let Some(r) = f.reverse {
        out.extend([
            format!("rev_cflow.abstimestart={}", r.first_ns / MS),
            format!("rev_cflow.abstimeend={}", r.last_ns / MS),
            format!("rev_cflow.packets={}", r.packets),
            format!("rev_cflow.octets={}", r.bytes),
            format!("rev_cflow.tcpflags={}", r.tcp_flags),
        ]);
    }
    out
}

/// tshark's enterprise elements of a record: (enterprise as tshark names
/// it, element id, value bytes as hex). tshark leaves out empty strings.
fn tshark_l7(rec: &[Shown]) -> Vec<(String, u16, String)> {
    rec.iter()
        .filter(|f| f.0 == "cflow.enterprise_private_entry")
        .map(|(_, show, showname)| {
            // "Enterprise Private entry: (CESNET) Type 808: Value (hex bytes): ..."
            let org = showname
                .split_once('(')
                .and_then(|(_, r)| r.split_once(") Type "))
                .unwrap_or_else(|| panic!("{showname}"));
            let id = org.1.split(':').next().unwrap().parse().unwrap();
            (org.0.to_string(), id, show.replace(':', ""))
        })
        .collect()
}

/// The enterprise elements eddy's record should show, from its own L7
/// fields: strings as their bytes (left out when empty), numbers in the
/// element's length, JA3 as the MD5's 16 bytes.
fn expected_l7(f: &FlowRecord) -> Vec<(String, u16, String)> {
    let Some(l7) = f.l7.as_ref() else {
        return Vec::new();
    };
    let mut values: Vec<Option<l7::Value<'_>>> = vec![None; l7::COLUMNS.len()];
    l7.visit(&mut |c, v| values[c] = Some(v));
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let mut out = Vec::new();
    for (column, value) in values.iter().enumerate() {
        let Some((pen, id, len)) = encode::l7_element(column) else {
            continue;
        };
        if L7Fields::empty_for_column(column).map(|e| e.protocol()) != Some(l7.protocol()) {
            continue;
        }
        let org = match pen {
            ipfix::registry::PEN_CESNET => "CESNET",
            ipfix::registry::PEN_FLOWMON => "Flowmon Networks a.s.",
            _ => unreachable!(),
        };
        let bytes = match (column, len, value) {
            (l7::col::TLS_JA3, _, Some(l7::Value::Str(s))) => s.to_string(),
            (l7::col::TLS_JA3, _, _) => "0".repeat(32),
            (_, ipfix::message::VARLEN, Some(l7::Value::Str(s))) if !s.is_empty() => {
                hex(s.as_bytes())
            }
            (_, ipfix::message::VARLEN, Some(l7::Value::Num(n))) => hex(n.to_string().as_bytes()),
            (_, ipfix::message::VARLEN, _) => continue,
            (_, n, v) => {
                let num = match v {
                    Some(l7::Value::Num(n)) => *n,
                    _ => 0,
                };
                hex(&num.to_be_bytes()[8 - usize::from(n)..])
            }
        };
        out.push((org.to_string(), id, bytes));
    }
    out
}
