//! The encoder against the decoder (random records, field by field) and
//! against tshark (an independent IPFIX decoder), when it is installed.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::process::Command;

use ipfix::encode::{self, Encoder, EncoderConfig};
use ipfix::{Decoder, IpfixSink};
use l7::http::HttpFields;
use l7::tls::TlsFields;
use l7::L7Fields;
use proptest::prelude::*;
use record::{EndReason, FlowRecord, FlowSink, Reverse};

const MS: u64 = 1_000_000;

/// What survives the wire and `to_flow`: times at millisecond resolution,
/// no L7 fields (checked field by field elsewhere).
fn on_the_wire(f: &FlowRecord) -> FlowRecord {
    let mut f = f.clone();
    f.l7 = None;
    f.first_ns -= f.first_ns % MS;
    f.last_ns -= f.last_ns % MS;
    if let Some(r) = f.reverse.as_mut() {
        r.first_ns -= r.first_ns % MS;
        r.last_ns -= r.last_ns % MS;
    }
    f
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
            proptest::option::of(proptest::collection::vec(b'a'..=b'z', 0..300)),
        )
    })
    .prop_map(
        |(
            (first, dur, src_ip, dst_ip),
            (src_port, dst_port, proto, tcp_flags, tos),
            (packets, bytes, vlan),
            (src_mac, dst_mac, end_reason),
            reverse,
            url,
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
            l7: url.map(|u| {
                Box::new(L7Fields::Http(HttpFields {
                    url: Some(String::from_utf8(u).unwrap()),
                    ..HttpFields::default()
                }))
            }),
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
        let expect: Vec<FlowRecord> = batches.iter().flatten().map(on_the_wire).collect();
        prop_assert_eq!(flows.len(), expect.len());
        for (got, want) in flows.iter().zip(&expect) {
            prop_assert_eq!(got, want);
        }
        // Each URL is there, unless the record could not carry it (counted).
        let urls = raw_fields(&messages)
            .iter()
            .filter_map(|r| field(r, ipfix::registry::PEN_FLOWMON, 2).map(<[u8]>::to_vec))
            .collect::<Vec<_>>();
        let want_urls = batches.iter().flatten().filter_map(|f| match f.l7.as_deref() {
            Some(L7Fields::Http(h)) => h.url.clone(),
            _ => None,
        });
        prop_assert_eq!(urls.len() as u64 + enc.l7_dropped(), want_urls.clone().count() as u64);
        if enc.l7_dropped() == 0 {
            prop_assert!(urls.iter().zip(want_urls).all(|(a, b)| a == b.as_bytes()));
        }
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
                    1 => Some(Box::new(L7Fields::Tls(TlsFields {
                        sni: Some(format!("host{i}.example.com")),
                        version: Some(0x0303),
                        ja3: Some("b288289af2999820648eb3ca4d8304c5".into()),
                        ..TlsFields::default()
                    }))),
                    2 => Some(Box::new(L7Fields::Http(HttpFields {
                        method: Some("GET".into()),
                        host: Some("example.com".into()),
                        url: Some(format!("/{}", "x".repeat(i * 5))),
                        status: None,
                        ..HttpFields::default()
                    }))),
                    _ => None,
                },
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
    // The L4 part is still what to_flow reads.
    assert_eq!(
        decode(&messages).0,
        flows
            .iter()
            .map(|f| {
                let mut f = on_the_wire(f);
                f.l7 = None;
                f
            })
            .collect::<Vec<_>>()
    );
    for (flow, rec) in flows.iter().zip(&recs) {
        match flow.l7.as_deref() {
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
    flow.l7 = Some(Box::new(L7Fields::Http(HttpFields {
        url: Some("u".repeat(1000)),
        user_agent: Some("a".repeat(1000)),
        ..HttpFields::default()
    })));
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
    let want: Vec<FlowRecord> = flows
        .iter()
        .map(|f| FlowRecord {
            l7: None,
            ..f.clone()
        })
        .collect();
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
    let fields = [
        "cflow.srcaddr",
        "cflow.srcaddrv6",
        "cflow.dstaddr",
        "cflow.dstaddrv6",
        "cflow.srcport",
        "cflow.dstport",
        "cflow.protocol",
        "cflow.packets",
        "cflow.octets",
    ];
    let mut args = vec!["-T", "fields", "-E", "separator=|"];
    for f in fields {
        args.extend(["-e", f]);
    }
    let text = run(&args);
    // Per packet, each column lists its values in record order; IPv4 and
    // IPv6 addresses are separate columns, so addresses and the rest are
    // compared as two multisets.
    let (mut got_addrs, mut got_rest) = (Vec::new(), Vec::new());
    for line in text.lines() {
        let cols: Vec<Vec<&str>> = line
            .split('|')
            .map(|c| c.split(',').filter(|v| !v.is_empty()).collect())
            .collect();
        for (src, dst) in [(0, 2), (1, 3)] {
            assert_eq!(cols[src].len(), cols[dst].len(), "{line}");
            for (s, d) in cols[src].iter().zip(&cols[dst]) {
                got_addrs.push(format!("{s} {d}"));
            }
        }
        for ((port_s, port_d), proto) in cols[4].iter().zip(&cols[5]).zip(&cols[6]) {
            got_rest.push(format!("{port_s} {port_d} {proto}"));
        }
        // tshark shows the RFC 5103 reverse counters in the same fields.
        assert_eq!(cols[7].len(), cols[8].len(), "{line}");
        for (packets, octets) in cols[7].iter().zip(&cols[8]) {
            got_rest.push(format!("{packets} {octets}"));
        }
    }
    let mut want_addrs: Vec<String> = flows
        .iter()
        .map(|f| format!("{} {}", f.src_addr(), f.dst_addr()))
        .collect();
    let mut want_rest = Vec::new();
    for f in &flows {
        want_rest.push(format!("{} {} {}", f.src_port, f.dst_port, f.proto));
        want_rest.push(format!("{} {}", f.packets, f.bytes));
        if let Some(r) = f.reverse {
            want_rest.push(format!("{} {}", r.packets, r.bytes));
        }
    }
    for v in [
        &mut got_addrs,
        &mut got_rest,
        &mut want_addrs,
        &mut want_rest,
    ] {
        v.sort();
    }
    assert_eq!(got_addrs, want_addrs);
    assert_eq!(got_rest, want_rest);
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
