//! Decodes the real captures in the shared test data: every frame must decode
//! or be counted as not IP, a few facts (learnt with `tshark -V`) must hold,
//! and cut or corrupted frames must never panic.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use packet::{decode, tcp_flags, DropReason, Fragment, LinkType, Packet};
use proptest::prelude::*;

/// The shared test data, found from the crate's folder at run time (a
/// test binary may have been built in another checkout).
fn testdata() -> std::path::PathBuf {
    std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("../../../shared/testdata")
}

const ALL_LINKS: [LinkType; 8] = [
    LinkType::Ethernet,
    LinkType::RawIp,
    LinkType::Ipv4,
    LinkType::Ipv6,
    LinkType::LinuxSll,
    LinkType::LinuxSll2,
    LinkType::Null,
    LinkType::Loop,
];

struct Capture {
    /// Path below `testdata/pcap/`, e.g. `vlan/zeek_vlan-qinqinq.pcap`.
    name: String,
    link: LinkType,
    frames: Vec<Vec<u8>>,
}

/// Splits a classic pcap file into its link type and frames; `None` for
/// pcapng or anything else. Both byte orders, µs and ns magic.
fn read_pcap(bytes: &[u8]) -> Option<(u32, Vec<Vec<u8>>)> {
    let little_endian = match bytes.get(..4)? {
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => true,
        [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => false,
        _ => return None,
    };
    let u32_at = |off: usize| {
        let b: [u8; 4] = bytes[off..off + 4].try_into().unwrap();
        if little_endian {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    };
    // The upper bits of the link type field may carry FCS information.
    let linktype = u32_at(20) & 0xffff;
    let mut frames = Vec::new();
    let mut off = 24;
    while off + 16 <= bytes.len() {
        let captured = u32_at(off + 8) as usize;
        off += 16;
        frames.push(bytes[off..off + captured].to_vec());
        off += captured;
    }
    Some((linktype, frames))
}

fn pcap_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            pcap_files(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// Every classic pcap capture under `testdata/pcap`, read once.
fn captures() -> &'static [Capture] {
    static CAPTURES: OnceLock<Vec<Capture>> = OnceLock::new();
    CAPTURES.get_or_init(|| {
        let root = testdata().join("pcap");
        assert!(
            root.is_dir(),
            "shared test data not found at {}",
            root.display()
        );
        let mut paths = Vec::new();
        pcap_files(&root, &mut paths);
        paths.sort();
        let mut out = Vec::new();
        for path in paths {
            let Some((linktype, frames)) = read_pcap(&std::fs::read(&path).unwrap()) else {
                continue;
            };
            let link = LinkType::from_linktype(linktype).expect("a link type we decode");
            let name = path
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            out.push(Capture { name, link, frames });
        }
        assert!(
            out.len() > 50,
            "found only {} classic pcap files",
            out.len()
        );
        out
    })
}

fn capture(name: &str) -> &'static Capture {
    captures()
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no capture {name}"))
}

fn decode_all(name: &str) -> Vec<Packet<'static>> {
    let cap = capture(name);
    cap.frames
        .iter()
        .enumerate()
        .map(|(i, frame)| {
            decode(cap.link, frame).unwrap_or_else(|e| panic!("{name} frame {}: {e}", i + 1))
        })
        .collect()
}

fn v4(s: &str) -> Ipv6Addr {
    s.parse::<Ipv4Addr>().unwrap().to_ipv6_mapped()
}

/// Checks what every decoded packet must satisfy, whatever the input.
fn check_invariants(frame: &[u8], result: &Result<Packet<'_>, packet::DecodeError>) {
    match result {
        Ok(pkt) => {
            let frame_range = frame.as_ptr_range();
            let payload_range = pkt.payload.as_ptr_range();
            assert!(
                frame_range.start <= payload_range.start && payload_range.end <= frame_range.end
            );
            assert!(pkt.ip_version == 4 || pkt.ip_version == 6);
            if !pkt.has_l4 {
                assert_eq!((pkt.src_port, pkt.dst_port, pkt.tcp_flags), (0, 0, 0));
            }
        }
        Err(e) => assert!(
            e.offset <= frame.len(),
            "{e} in a {}-byte frame",
            frame.len()
        ),
    }
}

#[test]
fn every_shared_frame_decodes_or_is_not_ip() {
    let mut not_ip: BTreeMap<&str, usize> = BTreeMap::new();
    let mut n_frames = 0;
    for cap in captures() {
        for (i, frame) in cap.frames.iter().enumerate() {
            n_frames += 1;
            let result = decode(cap.link, frame);
            check_invariants(frame, &result);
            match result {
                Ok(_) => {}
                Err(e) if e.reason == DropReason::NotIp => {
                    *not_ip.entry(&cap.name).or_default() += 1
                }
                Err(e) => panic!("{} frame {}: {e}", cap.name, i + 1),
            }
            // The wrong link type is garbage in: it must not panic either.
            for link in ALL_LINKS {
                check_invariants(frame, &decode(link, frame));
            }
        }
    }
    assert!(n_frames > 3000, "{n_frames} frames");
    // All ARP, as tshark shows.
    let expected = BTreeMap::from([
        ("basic/ipfixprobe_mixed.pcap", 48),
        ("communityid/zeek_communityid_arp.pcap", 6),
        ("sip/suricata_sip-method.pcap", 44),
    ]);
    assert_eq!(not_ip, expected);
}

#[test]
fn qinq_tunneling_icmp() {
    let pkts = decode_all("vlan/flowtest_802.1Q_tunneling.pcap");
    assert_eq!(pkts.len(), 10);
    let hosts = [v4("10.118.10.1"), v4("10.118.10.2")];
    for pkt in &pkts {
        assert_eq!((pkt.vlan, pkt.vlan_inner, pkt.proto), (118, 10, 1));
        assert!(
            hosts.contains(&pkt.src_ip) && hosts.contains(&pkt.dst_ip) && pkt.src_ip != pkt.dst_ip
        );
        assert!(pkt.dst_port == 0x0800 || pkt.dst_port == 0);
    }
}

#[test]
fn three_vlan_tags_report_the_outer_two() {
    for pkt in decode_all("vlan/zeek_vlan-qinqinq.pcap") {
        assert_eq!((pkt.vlan, pkt.vlan_inner, pkt.proto), (30, 20, 6));
    }
}

#[test]
fn priority_tagged_vlan_0() {
    let pkts = decode_all("vlan/zeek_http-vlan-0.pcap");
    assert!(pkts.iter().all(|p| p.vlan == 0 && p.proto == 6));
    assert_eq!((pkts[0].dst_port, pkts[0].tcp_flags), (80, tcp_flags::SYN));
}

#[test]
fn mpls_vpn_labels() {
    let pkts = decode_all("encap/flowtest_mpls-vpn-transport-vpn-labels.pcap");
    assert_eq!(pkts.len(), 10);
    for pkt in &pkts {
        assert_eq!(pkt.proto, 1);
        if pkt.src_ip == v4("1.1.1.1") {
            assert_eq!(pkt.dst_ip, v4("5.5.5.5"));
            assert_eq!(
                (pkt.mpls_label, pkt.mpls_depth, pkt.dst_port),
                (17, 2, 0x0800)
            );
        } else {
            assert_eq!((pkt.src_ip, pkt.dst_ip), (v4("5.5.5.5"), v4("1.1.1.1")));
            assert_eq!((pkt.mpls_label, pkt.mpls_depth, pkt.dst_port), (19, 1, 0));
        }
    }
}

#[test]
fn tunnels_report_the_outer_header() {
    let gre = decode_all("encap/flowtest_gre.pcap");
    assert!(gre.iter().all(|p| p.proto == 47 && !p.has_l4));
    assert_eq!(
        (gre[0].src_ip, gre[0].dst_ip),
        (v4("10.0.0.1"), v4("10.0.0.2"))
    );
    let ip_in_ip = decode_all("encap/nfstream_4in4tunnel.pcap");
    assert!(ip_in_ip
        .iter()
        .all(|p| (p.proto, p.vlan, p.vlan_inner) == (4, 1624, 505)));
    let six_in_four = decode_all("encap/nfstream_6in4tunnel.pcap");
    assert!(six_in_four.iter().all(|p| p.proto == 41
        && p.ip_version == 4
        && p.payload.first().map(|b| b >> 4) == Some(6)));
    // VXLAN is UDP to port 4789 as far as the outer header goes.
    assert!(decode_all("encap/flowtest_vxlan.pcap")
        .iter()
        .all(|p| p.proto == 17 && p.dst_port == 4789));
}

#[test]
fn ipv6_final_protocols() {
    let cases: [(&str, &[u8]); 8] = [
        ("ipv6/flowtest_ipv6-auth-header.pcap", &[89]), // OSPF behind AH
        ("ipv6/flowtest_ipv6-dst-opts.pcap", &[58]),
        ("ipv6/flowtest_ipv6-esp.pcap", &[50]),
        ("ipv6/flowtest_ipv6-hop-by-hop.pcap", &[58, 58]),
        ("ipv6/flowtest_ipv6-mobile.pcap", &[59]),
        ("ipv6/flowtest_ipv6-neighbor-discovery.pcap", &[58, 58, 58]),
        ("ipv6/flowtest_ipv6-routing-header.pcap", &[6; 10]),
        ("ipv6/flowtest_ipv6-udp-fragmented.pcap", &[17; 6]),
    ];
    for (name, protos) in cases {
        let got: Vec<u8> = decode_all(name).iter().map(|p| p.proto).collect();
        assert_eq!(got, protos, "{name}");
    }
    let hop_by_hop = decode_all("ipv6/flowtest_ipv6-hop-by-hop.pcap");
    assert_eq!(hop_by_hop[0].dst_port, 143 << 8); // MLDv2 report
    assert_eq!(
        decode_all("ipv6/flowtest_ipv6-dst-opts.pcap")[0].dst_port,
        128 << 8
    );
    let esp = decode_all("ipv6/flowtest_ipv6-esp.pcap");
    assert_eq!(
        (esp[0].has_l4, esp[0].payload, esp[0].ip_len),
        (false, &b"IPv6 ESP"[..], 48)
    );
    let mobile = decode_all("ipv6/flowtest_ipv6-mobile.pcap");
    assert_eq!((mobile[0].has_l4, mobile[0].ip_len), (false, 72));
}

#[test]
fn ipv6_fragments() {
    let pkts = decode_all("ipv6/flowtest_ipv6-udp-fragmented.pcap");
    let frags: Vec<Fragment> = pkts[2..].iter().map(|p| p.frag).collect();
    let expected =
        [(0, true), (1448, true), (2896, true), (4344, false)].map(|(offset, more)| Fragment {
            id: 0xf88eb466,
            offset,
            more,
        });
    assert_eq!(frags, expected);
    assert_eq!(
        (pkts[2].has_l4, pkts[2].src_port, pkts[2].dst_port),
        (true, 6363, 6363)
    );
    assert!(pkts[3..].iter().all(|p| !p.has_l4 && p.src_port == 0));
}

#[test]
fn ipv4_fragments() {
    let pkts = decode_all("basic/flowtest_ipv4-udp-fragmented.pcap");
    let frags: Vec<Fragment> = pkts[3..7].iter().map(|p| p.frag).collect();
    let expected =
        [(0, true), (1480, true), (2960, true), (4440, false)].map(|(offset, more)| Fragment {
            id: 0xf5af,
            offset,
            more,
        });
    assert_eq!(frags, expected);
    assert_eq!((pkts[3].has_l4, pkts[3].src_port), (true, 6363));
    assert!(pkts[4..7]
        .iter()
        .all(|p| !p.has_l4 && p.src_port == 0 && p.proto == 17));
    assert!(!pkts[7].frag.is_fragment());
}

#[test]
fn icmp_type_code_as_port() {
    let ping: Vec<u16> = decode_all("icmp/zeek_icmp-ping.pcap")
        .iter()
        .map(|p| p.dst_port)
        .collect();
    assert_eq!(ping, [0x0800, 0, 0x0800, 0]);
    let ping6: Vec<u16> = decode_all("icmp/zeek_icmp6-ping.pcap")
        .iter()
        .map(|p| p.dst_port)
        .collect();
    assert_eq!(ping6, [128 << 8, 129 << 8].repeat(4));
}

#[test]
fn sctp_ports() {
    for pkt in decode_all("communityid/zeek_communityid_sctp.pcap") {
        assert_eq!(
            (pkt.proto, pkt.src_port, pkt.dst_port, pkt.has_l4),
            (132, 7, 7, true)
        );
    }
}

#[test]
fn snaplen_cut_frames_keep_their_header_lengths() {
    // Frame 4 was captured with 96 of its 562 bytes.
    let pkt = decode_all("communityid/zeek_communityid_tcp.pcap")[3];
    assert_eq!((pkt.ip_len, pkt.src_port, pkt.dst_port), (548, 34855, 80));
    assert_eq!(pkt.payload.len(), 96 - 14 - 20 - 32);
}

#[test]
fn ethernet_padding_is_not_payload() {
    let pkts = decode_all("http/suricata_testmyids.pcap");
    // Frames 5 and 9 are 60-byte minimum frames carrying a 40-byte IP packet.
    for i in [4, 8] {
        assert_eq!((pkts[i].ip_len, pkts[i].payload.len()), (40, 0));
    }
    assert_eq!(pkts[3].payload.len(), 81);
}

/// All frames of all shared captures, for the property tests.
fn all_frames() -> &'static [(LinkType, Vec<u8>)] {
    static FRAMES: OnceLock<Vec<(LinkType, Vec<u8>)>> = OnceLock::new();
    FRAMES.get_or_init(|| {
        captures()
            .iter()
            .flat_map(|c| c.frames.iter().map(move |f| (c.link, f.clone())))
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(link in 0..ALL_LINKS.len(), bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        check_invariants(&bytes, &decode(ALL_LINKS[link], &bytes));
    }

    #[test]
    fn cut_real_frames_never_panic(idx in any::<prop::sample::Index>(), cut in 0.0..=1.0f64) {
        let (link, frame) = idx.get(all_frames());
        let frame = &frame[..(frame.len() as f64 * cut) as usize];
        check_invariants(frame, &decode(*link, frame));
    }

    #[test]
    fn corrupted_real_frames_never_panic(
        idx in any::<prop::sample::Index>(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let (link, frame) = idx.get(all_frames());
        let mut frame = frame.clone();
        for (at, value) in flips {
            let at = at.index(frame.len());
            frame[at] = value;
        }
        check_invariants(&frame, &decode(*link, &frame));
    }
}
