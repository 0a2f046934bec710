//! Per-layer tests on frames built by hand with the helpers below.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::*;
use crate::tcp_flags;

const SRC_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
const DST_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
const SRC4: [u8; 4] = [10, 0, 0, 1];
const DST4: [u8; 4] = [10, 0, 0, 2];
const SRC6: &str = "2001:db8::1";
const DST6: &str = "2001:db8::2";

// ---- frame builders ----

fn eth(ethertype: u16, inner: &[u8]) -> Vec<u8> {
    [&DST_MAC[..], &SRC_MAC, &ethertype.to_be_bytes(), inner].concat()
}

/// Ethernet with a stack of (TPID, VLAN id) tags, outermost first.
fn tagged(tags: &[(u16, u16)], ethertype: u16, inner: &[u8]) -> Vec<u8> {
    let mut after = Vec::new();
    for (i, &(_, vlan_id)) in tags.iter().enumerate() {
        let next = tags.get(i + 1).map_or(ethertype, |t| t.0);
        after.extend((0xe000 | vlan_id).to_be_bytes());
        after.extend(next.to_be_bytes());
    }
    after.extend(inner);
    eth(tags[0].0, &after)
}

fn mpls_entry(label: u32, bottom: bool) -> [u8; 4] {
    (label << 12 | u32::from(bottom) << 8 | 64).to_be_bytes()
}

struct V4 {
    proto: u8,
    options: Vec<u8>,
    id: u16,
    flags_offset: u16,
    total_len: Option<u16>,
}

impl V4 {
    fn new(proto: u8) -> V4 {
        V4 {
            proto,
            options: Vec::new(),
            id: 0x1234,
            flags_offset: 0,
            total_len: None,
        }
    }

    fn build(&self, payload: &[u8]) -> Vec<u8> {
        let header_len = 20 + self.options.len();
        let total = self
            .total_len
            .unwrap_or((header_len + payload.len()) as u16);
        let mut h = vec![0x40 | (header_len / 4) as u8, 0xb8];
        h.extend(total.to_be_bytes());
        h.extend(self.id.to_be_bytes());
        h.extend(self.flags_offset.to_be_bytes());
        h.extend([64, self.proto, 0, 0]);
        h.extend(SRC4);
        h.extend(DST4);
        h.extend(&self.options);
        h.extend(payload);
        h
    }
}

fn ipv4(proto: u8, payload: &[u8]) -> Vec<u8> {
    V4::new(proto).build(payload)
}

fn ipv6(next: u8, payload: &[u8]) -> Vec<u8> {
    let mut h = vec![0x6a, 0xb0, 0, 0];
    h.extend((payload.len() as u16).to_be_bytes());
    h.extend([next, 63]);
    h.extend(SRC6.parse::<Ipv6Addr>().unwrap().octets());
    h.extend(DST6.parse::<Ipv6Addr>().unwrap().octets());
    h.extend(payload);
    h
}

/// A generic IPv6 option-style extension header of `8 * units` bytes.
fn ext(next: u8, units: usize, inner: &[u8]) -> Vec<u8> {
    let mut h = vec![next, (units - 1) as u8];
    h.resize(units * 8, 0);
    h.extend(inner);
    h
}

fn ipv6_frag(next: u8, offset: u16, more: bool, id: u32, inner: &[u8]) -> Vec<u8> {
    let mut h = vec![next, 0];
    h.extend((offset | u16::from(more)).to_be_bytes());
    h.extend(id.to_be_bytes());
    h.extend(inner);
    h
}

fn tcp(sport: u16, dport: u16, flags: u8, options: &[u8], payload: &[u8]) -> Vec<u8> {
    let header_len = 20 + options.len();
    let mut h = Vec::new();
    h.extend(sport.to_be_bytes());
    h.extend(dport.to_be_bytes());
    h.extend([0; 8]);
    h.extend([((header_len / 4) as u8) << 4, flags, 0xff, 0xff, 0, 0, 0, 0]);
    h.extend(options);
    h.extend(payload);
    h
}

fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend(sport.to_be_bytes());
    h.extend(dport.to_be_bytes());
    h.extend(((8 + payload.len()) as u16).to_be_bytes());
    h.extend([0, 0]);
    h.extend(payload);
    h
}

fn icmp(kind: u8, code: u8, payload: &[u8]) -> Vec<u8> {
    [&[kind, code, 0, 0, 0, 1, 0, 1][..], payload].concat()
}

// ---- check helpers ----

/// Decodes a frame that must decode. The frame is leaked so that the packet,
/// which borrows it, can outlive the expression that built it.
#[track_caller]
fn ok(link: LinkType, frame: &[u8]) -> Packet<'static> {
    let frame: &'static [u8] = Vec::leak(frame.to_vec());
    match decode(link, frame) {
        Ok(pkt) => pkt,
        Err(e) => panic!("expected a packet, got {e}"),
    }
}

#[track_caller]
fn err(link: LinkType, frame: &[u8]) -> (DropReason, usize) {
    match decode(link, frame) {
        Ok(pkt) => panic!("expected an error, got {pkt:?}"),
        Err(e) => (e.reason, e.offset),
    }
}

fn v4(a: [u8; 4]) -> Ipv6Addr {
    Ipv4Addr::from(a).to_ipv6_mapped()
}

fn v6(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

// ---- link layer ----

#[test]
fn ethernet_ipv4_tcp() {
    let seg = tcp(
        40000,
        443,
        tcp_flags::SYN | tcp_flags::ECE | tcp_flags::CWR,
        &[],
        b"hello",
    );
    let frame = eth(0x0800, &ipv4(6, &seg));
    let pkt = ok(LinkType::Ethernet, &frame);
    assert_eq!((pkt.src_mac, pkt.dst_mac), (SRC_MAC, DST_MAC));
    assert_eq!((pkt.vlan, pkt.mpls_depth), (0, 0));
    assert_eq!(pkt.ip_version, 4);
    assert_eq!((pkt.src_ip, pkt.dst_ip), (v4(SRC4), v4(DST4)));
    assert_eq!((pkt.ttl, pkt.tos, pkt.proto, pkt.ip_len), (64, 0xb8, 6, 45));
    assert!(pkt.has_l4);
    assert_eq!((pkt.src_port, pkt.dst_port), (40000, 443));
    assert_eq!(pkt.tcp_flags, 0xc2);
    assert_eq!(pkt.payload, b"hello");
    assert!(!pkt.frag.is_fragment());
}

#[test]
fn tcp_all_flag_bits_and_options() {
    let seg = tcp(1, 2, 0xff, &[1, 1, 1, 0], b"data");
    let pkt = ok(LinkType::Ipv4, &ipv4(6, &seg));
    assert_eq!(pkt.tcp_flags, 0xff);
    assert_eq!(pkt.payload, b"data");
}

#[test]
fn ethernet_8023_llc_is_not_ip() {
    // 802.3 length 38, then LLC DSAP/SSAP 0x42 (spanning tree).
    let frame = eth(38, &[0x42, 0x42, 0x03, 0, 0, 0]);
    assert_eq!(err(LinkType::Ethernet, &frame), (DropReason::NotIp, 14));
}

#[test]
fn arp_is_not_ip() {
    let frame = eth(0x0806, &[0; 28]);
    assert_eq!(err(LinkType::Ethernet, &frame), (DropReason::NotIp, 14));
}

#[test]
fn short_ethernet_is_truncated_link() {
    assert_eq!(
        err(LinkType::Ethernet, &[0; 13]),
        (DropReason::TruncatedLink, 0)
    );
}

#[test]
fn single_vlan() {
    let frame = tagged(&[(0x8100, 42)], 0x86dd, &ipv6(17, &udp(53, 5353, b"q")));
    let pkt = ok(LinkType::Ethernet, &frame);
    assert_eq!((pkt.vlan, pkt.vlan_inner), (42, 0));
    assert_eq!((pkt.proto, pkt.src_port, pkt.dst_port), (17, 53, 5353));
}

/// A tagged IPv4/UDP frame.
fn tagged_udp(tags: &[(u16, u16)]) -> Vec<u8> {
    tagged(tags, 0x0800, &ipv4(17, &udp(1, 2, b"x")))
}

#[test]
fn qinq_outer_and_inner() {
    for outer in [0x88a8, 0x9100, 0x8100] {
        let pkt = ok(
            LinkType::Ethernet,
            &tagged_udp(&[(outer, 100), (0x8100, 200)]),
        );
        assert_eq!(
            (pkt.vlan, pkt.vlan_inner),
            (100, 200),
            "outer TPID {outer:#x}"
        );
        assert_eq!((pkt.src_port, pkt.dst_port), (1, 2));
    }
}

#[test]
fn triple_vlan_keeps_the_outer_two() {
    let pkt = ok(
        LinkType::Ethernet,
        &tagged_udp(&[(0x88a8, 30), (0x8100, 20), (0x8100, 10)]),
    );
    assert_eq!((pkt.vlan, pkt.vlan_inner), (30, 20));
    assert_eq!(pkt.proto, 17);
}

#[test]
fn vlan_cap() {
    let tags = vec![(0x8100, 7); MAX_VLAN_TAGS];
    assert_eq!(ok(LinkType::Ethernet, &tagged_udp(&tags)).vlan, 7);
    let tags = vec![(0x8100, 7); MAX_VLAN_TAGS + 1];
    assert_eq!(
        err(LinkType::Ethernet, &tagged_udp(&tags)),
        (DropReason::TooManyHeaders, 14 + 4 * MAX_VLAN_TAGS)
    );
}

#[test]
fn truncated_vlan_tag() {
    let frame = eth(0x8100, &[0, 5, 0x08]);
    assert_eq!(
        err(LinkType::Ethernet, &frame),
        (DropReason::TruncatedLink, 14)
    );
}

#[test]
fn mpls_two_labels() {
    let inner = [
        &mpls_entry(17, false)[..],
        &mpls_entry(19, true),
        &ipv4(1, &icmp(8, 0, b"ping")),
    ]
    .concat();
    let pkt = ok(LinkType::Ethernet, &eth(0x8847, &inner));
    assert_eq!((pkt.mpls_label, pkt.mpls_depth), (17, 2));
    assert_eq!((pkt.ip_version, pkt.proto, pkt.dst_port), (4, 1, 0x0800));
}

#[test]
fn mpls_multicast_ipv6() {
    let inner = [
        &mpls_entry(0xfffff, true)[..],
        &ipv6(58, &icmp(128, 0, b"")),
    ]
    .concat();
    let pkt = ok(LinkType::Ethernet, &eth(0x8848, &inner));
    assert_eq!(
        (pkt.mpls_label, pkt.mpls_depth, pkt.ip_version),
        (0xfffff, 1, 6)
    );
}

#[test]
fn mpls_pseudowire_is_not_ip() {
    // A pseudowire control word starts with nibble 0.
    let inner = [&mpls_entry(100, true)[..], &[0, 0, 0, 0], &[0; 20]].concat();
    assert_eq!(
        err(LinkType::Ethernet, &eth(0x8847, &inner)),
        (DropReason::NotIp, 18)
    );
}

#[test]
fn mpls_cap_and_truncation() {
    let mut inner = Vec::new();
    for _ in 0..=MAX_MPLS_LABELS {
        inner.extend(mpls_entry(5, false));
    }
    inner.extend(ipv4(17, &udp(1, 2, b"")));
    let (reason, _) = err(LinkType::Ethernet, &eth(0x8847, &inner));
    assert_eq!(reason, DropReason::TooManyHeaders);
    assert_eq!(
        err(LinkType::Ethernet, &eth(0x8847, &[0, 1])),
        (DropReason::TruncatedLink, 14)
    );
    assert_eq!(
        err(LinkType::Ethernet, &eth(0x8847, &mpls_entry(1, true))),
        (DropReason::TruncatedIp, 18)
    );
}

#[test]
fn pppoe_session() {
    let ip = ipv4(6, &tcp(1, 80, tcp_flags::ACK, &[], b""));
    let mut inner = vec![0x11, 0x00, 0x12, 0x34];
    inner.extend(((ip.len() + 2) as u16).to_be_bytes());
    inner.extend(0x0021u16.to_be_bytes());
    inner.extend(&ip);
    let pkt = ok(LinkType::Ethernet, &eth(0x8864, &inner));
    assert_eq!(
        (pkt.ip_version, pkt.dst_port, pkt.tcp_flags),
        (4, 80, tcp_flags::ACK)
    );

    inner[6..8].copy_from_slice(&0xc021u16.to_be_bytes()); // LCP
    assert_eq!(
        err(LinkType::Ethernet, &eth(0x8864, &inner)),
        (DropReason::NotIp, 22)
    );
}

#[test]
fn linux_sll() {
    let mut frame = vec![0, 0, 0, 1, 0, 6];
    frame.extend(SRC_MAC);
    frame.extend([0, 0, 0x86, 0xdd]);
    frame.extend(ipv6(
        6,
        &tcp(22, 50000, tcp_flags::PSH | tcp_flags::ACK, &[], b"ssh"),
    ));
    let pkt = ok(LinkType::LinuxSll, &frame);
    assert_eq!((pkt.src_mac, pkt.dst_mac), (SRC_MAC, [0; 6]));
    assert_eq!(
        (pkt.src_port, pkt.dst_port, pkt.payload),
        (22, 50000, &b"ssh"[..])
    );

    // An address that is not 6 bytes long (e.g. none on a tunnel) is not a MAC.
    frame[5] = 0;
    assert_eq!(ok(LinkType::LinuxSll, &frame).src_mac, [0; 6]);
    assert_eq!(
        err(LinkType::LinuxSll, &frame[..15]),
        (DropReason::TruncatedLink, 0)
    );
}

#[test]
fn linux_sll_vlan() {
    let mut frame = vec![0, 0, 0, 1, 0, 6];
    frame.extend(SRC_MAC);
    frame.extend([0, 0, 0x81, 0x00, 0, 9, 0x08, 0x00]);
    frame.extend(ipv4(17, &udp(1, 2, b"")));
    assert_eq!(ok(LinkType::LinuxSll, &frame).vlan, 9);
}

#[test]
fn linux_sll2() {
    let mut frame = vec![0x08, 0x00, 0, 0, 0, 0, 0, 3, 0, 1, 4, 6];
    frame.extend(SRC_MAC);
    frame.extend([0, 0]);
    frame.extend(ipv4(17, &udp(123, 123, b"ntp")));
    let pkt = ok(LinkType::LinuxSll2, &frame);
    assert_eq!(pkt.src_mac, SRC_MAC);
    assert_eq!(
        (pkt.src_port, pkt.dst_port, pkt.payload),
        (123, 123, &b"ntp"[..])
    );
    assert_eq!(
        err(LinkType::LinuxSll2, &frame[..19]),
        (DropReason::TruncatedLink, 0)
    );
    frame[0..2].copy_from_slice(&0x0806u16.to_be_bytes());
    assert_eq!(err(LinkType::LinuxSll2, &frame), (DropReason::NotIp, 20));
}

#[test]
fn null_either_byte_order() {
    let ip4 = ipv4(17, &udp(1, 2, b""));
    let ip6 = ipv6(17, &udp(1, 2, b""));
    for family in [2u32.to_le_bytes(), 2u32.to_be_bytes()] {
        let pkt = ok(LinkType::Null, &[&family[..], &ip4].concat());
        assert_eq!(pkt.ip_version, 4);
    }
    for af in [24u32, 28, 30] {
        for family in [af.to_le_bytes(), af.to_be_bytes()] {
            let pkt = ok(LinkType::Null, &[&family[..], &ip6].concat());
            assert_eq!(pkt.ip_version, 6);
        }
    }
    let frame = [&7u32.to_le_bytes()[..], &ip4].concat();
    assert_eq!(err(LinkType::Null, &frame), (DropReason::NotIp, 4));
    assert_eq!(
        err(LinkType::Null, &[2, 0, 0]),
        (DropReason::TruncatedLink, 0)
    );
}

#[test]
fn loop_network_order() {
    let frame = [&30u32.to_be_bytes()[..], &ipv6(58, &icmp(129, 0, b""))].concat();
    let pkt = ok(LinkType::Loop, &frame);
    assert_eq!((pkt.ip_version, pkt.dst_port), (6, 129 << 8));
}

#[test]
fn raw_ip_by_version_nibble() {
    assert_eq!(
        ok(LinkType::RawIp, &ipv4(17, &udp(1, 2, b""))).ip_version,
        4
    );
    assert_eq!(
        ok(LinkType::RawIp, &ipv6(17, &udp(1, 2, b""))).ip_version,
        6
    );
    assert_eq!(
        err(LinkType::RawIp, &[0x50; 40]),
        (DropReason::MalformedIp, 0)
    );
    assert_eq!(err(LinkType::RawIp, &[]), (DropReason::TruncatedIp, 0));
}

#[test]
fn ipv4_and_ipv6_link_types_check_the_version() {
    assert_eq!(
        err(LinkType::Ipv4, &ipv6(17, &udp(1, 2, b""))),
        (DropReason::MalformedIp, 0)
    );
    assert_eq!(
        err(LinkType::Ipv6, &ipv4(17, &[0; 40])),
        (DropReason::MalformedIp, 0)
    );
}

// ---- IPv4 ----

#[test]
fn ipv4_options_are_skipped() {
    let mut v4 = V4::new(17);
    v4.options = vec![0x94, 0x04, 0, 0, 0x01, 0x01, 0x01, 0x00]; // router alert, NOPs, EOL
    let pkt = ok(LinkType::Ipv4, &v4.build(&udp(5000, 6000, b"abc")));
    assert_eq!(
        (pkt.src_port, pkt.dst_port, pkt.payload),
        (5000, 6000, &b"abc"[..])
    );
    assert_eq!(pkt.ip_len, 28 + 11);
}

#[test]
fn ipv4_malformed_headers() {
    let mut frame = ipv4(17, &udp(1, 2, b""));
    frame[0] = 0x44; // IHL 4
    assert_eq!(err(LinkType::Ipv4, &frame), (DropReason::MalformedIp, 0));
    let mut v4 = V4::new(17);
    v4.total_len = Some(19);
    assert_eq!(
        err(LinkType::Ipv4, &v4.build(&udp(1, 2, b""))),
        (DropReason::MalformedIp, 0)
    );
    let mut v4 = V4::new(17);
    v4.options = vec![1; 8];
    v4.total_len = Some(24); // shorter than its own 28-byte header
    assert_eq!(
        err(LinkType::Ipv4, &v4.build(&[])),
        (DropReason::MalformedIp, 0)
    );
}

#[test]
fn ipv4_options_cut_by_snaplen() {
    let mut v4 = V4::new(17);
    v4.options = vec![1; 40];
    let frame = eth(0x0800, &v4.build(&udp(1, 2, b"")));
    assert_eq!(
        err(LinkType::Ethernet, &frame[..14 + 30]),
        (DropReason::TruncatedIp, 14)
    );
}

#[test]
fn ethernet_padding_is_clipped() {
    let mut frame = eth(0x0800, &ipv4(17, &udp(7, 9, b"ab")));
    frame.resize(60, 0xee);
    let pkt = ok(LinkType::Ethernet, &frame);
    assert_eq!(pkt.payload, b"ab");
    assert_eq!(pkt.ip_len, 30);

    let mut frame = eth(0x0800, &ipv4(6, &tcp(1, 2, tcp_flags::RST, &[], b"")));
    frame.resize(60, 0xee);
    assert_eq!(ok(LinkType::Ethernet, &frame).payload, b"");
}

#[test]
fn snaplen_shorter_than_total_length_still_decodes() {
    let frame = ipv4(6, &tcp(1, 2, tcp_flags::ACK, &[], &[0x55; 1000]));
    let pkt = ok(LinkType::Ipv4, &frame[..100]);
    assert_eq!(pkt.ip_len, 1040);
    assert_eq!(pkt.payload.len(), 60);
}

#[test]
fn tcp_options_cut_by_snaplen_leave_an_empty_payload() {
    let frame = ipv4(6, &tcp(1, 2, tcp_flags::ACK, &[1; 12], b"xyz"));
    let pkt = ok(LinkType::Ipv4, &frame[..20 + 24]);
    assert_eq!(
        (pkt.src_port, pkt.tcp_flags, pkt.payload),
        (1, tcp_flags::ACK, &b""[..])
    );
}

#[test]
fn udp_payload_clipped_to_udp_length() {
    let mut seg = udp(1, 2, b"abcd");
    seg[4..6].copy_from_slice(&10u16.to_be_bytes());
    let pkt = ok(LinkType::Ipv4, &ipv4(17, &seg));
    assert_eq!(pkt.payload, b"ab");
}

#[test]
fn malformed_l4() {
    let mut seg = udp(1, 2, b"abcd");
    seg[4..6].copy_from_slice(&7u16.to_be_bytes());
    assert_eq!(
        err(LinkType::Ipv4, &ipv4(17, &seg)),
        (DropReason::MalformedL4, 20)
    );
    let mut seg = tcp(1, 2, 0, &[], b"");
    seg[12] = 0x40;
    assert_eq!(
        err(LinkType::Ipv4, &ipv4(6, &seg)),
        (DropReason::MalformedL4, 20)
    );
}

#[test]
fn truncated_l4() {
    let frame = eth(0x0800, &ipv4(6, &tcp(1, 2, 0, &[], b"")));
    assert_eq!(
        err(LinkType::Ethernet, &frame[..14 + 20 + 19]),
        (DropReason::TruncatedL4, 34)
    );
    let frame = ipv4(17, &udp(1, 2, b""));
    assert_eq!(
        err(LinkType::Ipv4, &frame[..27]),
        (DropReason::TruncatedL4, 20)
    );
    let frame = ipv4(132, &[0; 11]);
    assert_eq!(err(LinkType::Ipv4, &frame), (DropReason::TruncatedL4, 20));
}

#[test]
fn icmp_type_and_code() {
    for (kind, code) in [(8, 0), (0, 0), (3, 3), (11, 1)] {
        let pkt = ok(LinkType::Ipv4, &ipv4(1, &icmp(kind, code, b"")));
        assert_eq!(
            (pkt.src_port, pkt.dst_port),
            (0, u16::from(kind) << 8 | u16::from(code))
        );
        assert!(pkt.has_l4);
        assert_eq!(pkt.tcp_flags, 0);
    }
    let pkt = ok(LinkType::Ipv6, &ipv6(58, &icmp(135, 0, b"")));
    assert_eq!(pkt.dst_port, 0x8700);
}

#[test]
fn sctp_ports() {
    let mut seg = vec![0x0b, 0x59, 0x0b, 0x5a];
    seg.extend([0; 8]);
    seg.extend(b"chunk");
    let pkt = ok(LinkType::Ipv4, &ipv4(132, &seg));
    assert_eq!(
        (pkt.src_port, pkt.dst_port, pkt.payload),
        (2905, 2906, &b"chunk"[..])
    );
}

#[test]
fn tunnels_are_not_entered() {
    for proto in [47u8, 4, 41, 50] {
        let inner = ipv4(17, &udp(1, 2, b""));
        let pkt = ok(LinkType::Ipv4, &ipv4(proto, &inner));
        assert_eq!(pkt.proto, proto);
        assert!(!pkt.has_l4);
        assert_eq!((pkt.src_port, pkt.dst_port), (0, 0));
        assert_eq!(pkt.payload, &inner[..]);
    }
}

#[test]
fn ipv4_first_fragment() {
    let mut v4 = V4::new(17);
    v4.id = 0xf5af;
    v4.flags_offset = 0x2000;
    let pkt = ok(LinkType::Ipv4, &v4.build(&udp(6363, 6363, &[0; 64])));
    assert_eq!(
        pkt.frag,
        Fragment {
            id: 0xf5af,
            offset: 0,
            more: true
        }
    );
    assert!(pkt.frag.is_fragment() && !pkt.frag.is_later());
    assert!(pkt.has_l4);
    assert_eq!(pkt.src_port, 6363);
}

#[test]
fn ipv4_later_fragment() {
    for more in [true, false] {
        let mut v4 = V4::new(17);
        v4.id = 7;
        v4.flags_offset = u16::from(more) << 13 | 185;
        // The bytes look like a UDP header but are the middle of the datagram.
        let pkt = ok(LinkType::Ipv4, &v4.build(&udp(1, 2, b"")));
        assert_eq!(
            pkt.frag,
            Fragment {
                id: 7,
                offset: 1480,
                more
            }
        );
        assert!(!pkt.has_l4);
        assert_eq!((pkt.src_port, pkt.dst_port, pkt.payload.len()), (0, 0, 8));
    }
    // A later fragment too short for any L4 header is still fine.
    let mut v4 = V4::new(6);
    v4.flags_offset = 1;
    assert!(ok(LinkType::Ipv4, &v4.build(&[1, 2])).frag.is_later());
}

#[test]
fn ipv4_dont_fragment_is_not_a_fragment() {
    let mut v4 = V4::new(17);
    v4.flags_offset = 0x4000;
    assert!(!ok(LinkType::Ipv4, &v4.build(&udp(1, 2, b"")))
        .frag
        .is_fragment());
}

// ---- IPv6 ----

#[test]
fn ipv6_header_fields() {
    let pkt = ok(LinkType::Ipv6, &ipv6(17, &udp(1, 2, b"abc")));
    assert_eq!(pkt.ip_version, 6);
    assert_eq!((pkt.src_ip, pkt.dst_ip), (v6(SRC6), v6(DST6)));
    assert_eq!((pkt.tos, pkt.ttl, pkt.ip_len), (0xab, 63, 40 + 11));
    assert_eq!(pkt.payload, b"abc");
}

#[test]
fn ipv6_extension_chain_with_first_fragment() {
    let seg = tcp(80, 1234, tcp_flags::SYN | tcp_flags::ACK, &[], b"");
    let frag = ipv6_frag(6, 0, true, 0xdeadbeef, &seg);
    let dst = ext(44, 1, &frag);
    let routing = ext(60, 3, &dst);
    let hop = ext(43, 1, &routing);
    let pkt = ok(LinkType::Ipv6, &ipv6(0, &hop));
    assert_eq!(pkt.proto, 6);
    assert_eq!(
        pkt.frag,
        Fragment {
            id: 0xdeadbeef,
            offset: 0,
            more: true
        }
    );
    assert!(pkt.has_l4);
    assert_eq!(
        (pkt.src_port, pkt.dst_port, pkt.tcp_flags),
        (80, 1234, 0x12)
    );
}

#[test]
fn ipv6_later_fragment() {
    let frag = ipv6_frag(17, 1448, false, 9, &[0xaa; 32]);
    let pkt = ok(LinkType::Ipv6, &ipv6(44, &frag));
    assert_eq!((pkt.proto, pkt.frag.offset, pkt.frag.id), (17, 1448, 9));
    assert!(pkt.frag.is_later() && !pkt.has_l4);
    assert_eq!(pkt.payload, &[0xaa; 32]);
}

#[test]
fn ipv6_authentication_header() {
    // AH length is in 4-byte units minus 2: 4 means 24 bytes.
    let mut ah = vec![89, 4];
    ah.resize(24, 0);
    ah.extend(b"ospf");
    let pkt = ok(LinkType::Ipv6, &ipv6(51, &ah));
    assert_eq!(
        (pkt.proto, pkt.has_l4, pkt.payload),
        (89, false, &b"ospf"[..])
    );

    let mut ah = vec![17, 4];
    ah.resize(24, 0);
    ah.extend(udp(500, 4500, b""));
    assert_eq!(ok(LinkType::Ipv6, &ipv6(51, &ah)).dst_port, 4500);
}

#[test]
fn ipv6_esp_ends_the_parse() {
    let pkt = ok(LinkType::Ipv6, &ipv6(50, b"IPv6 ESP"));
    assert_eq!(
        (pkt.proto, pkt.has_l4, pkt.payload),
        (50, false, &b"IPv6 ESP"[..])
    );
}

#[test]
fn ipv6_mobility_is_walked_to_its_payload_protocol() {
    // Payload proto 59, length 0 (8 bytes), MH type 5.
    let mobility = [59, 0, 5, 0, 0, 0, 0, 0];
    let pkt = ok(LinkType::Ipv6, &ipv6(135, &mobility));
    assert_eq!((pkt.proto, pkt.has_l4, pkt.src_port), (59, false, 0));
    // Behind destination options, as in a binding update.
    let pkt = ok(LinkType::Ipv6, &ipv6(60, &ext(135, 1, &mobility)));
    assert_eq!((pkt.proto, pkt.has_l4), (59, false));
}

#[test]
fn ipv6_no_next_header() {
    let pkt = ok(LinkType::Ipv6, &ipv6(0, &ext(59, 1, b"")));
    assert_eq!((pkt.proto, pkt.has_l4, pkt.ip_len), (59, false, 48));
}

#[test]
fn ipv6_extension_cap() {
    let dst_opts_chain = |n: usize| {
        let mut payload = ext(17, 1, &udp(1, 2, b""));
        for _ in 1..n {
            payload = ext(60, 1, &payload);
        }
        ipv6(60, &payload)
    };
    assert_eq!(
        ok(LinkType::Ipv6, &dst_opts_chain(MAX_IPV6_EXT_HEADERS)).proto,
        17
    );
    let too_many = dst_opts_chain(MAX_IPV6_EXT_HEADERS + 1);
    assert_eq!(
        err(LinkType::Ipv6, &too_many),
        (DropReason::TooManyHeaders, 40 + 8 * MAX_IPV6_EXT_HEADERS)
    );
}

#[test]
fn ipv6_extension_beyond_payload_length_is_truncated() {
    let mut frame = ipv6(0, &ext(17, 2, &udp(1, 2, b"")));
    frame[4..6].copy_from_slice(&8u16.to_be_bytes());
    assert_eq!(err(LinkType::Ipv6, &frame), (DropReason::TruncatedIp, 40));
}

#[test]
fn ipv6_jumbogram_uses_the_captured_length() {
    let mut frame = ipv6(0, &ext(17, 1, &udp(1, 2, b"big")));
    frame[4..6].copy_from_slice(&[0, 0]);
    let pkt = ok(LinkType::Ipv6, &frame);
    assert_eq!(pkt.ip_len as usize, frame.len());
    assert_eq!(pkt.payload, b"big");
}

#[test]
fn ipv6_ethernet_padding_is_clipped() {
    let mut frame = eth(0x86dd, &ipv6(59, b""));
    frame.resize(60, 0xee);
    let pkt = ok(LinkType::Ethernet, &frame);
    assert_eq!((pkt.ip_len, pkt.payload), (40, &b""[..]));
}

// ---- robustness ----

#[test]
fn every_truncation_of_a_tcp_ipv6_frame() {
    let inner = ipv6(0, &ext(6, 1, &tcp(443, 50000, 0x18, &[1; 12], b"payload")));
    let frame = tagged(&[(0x8100, 5)], 0x86dd, &inner);
    let l4_off = 14 + 4 + 40 + 8;
    for len in 0..=frame.len() {
        match decode(LinkType::Ethernet, &frame[..len]) {
            Ok(pkt) => {
                assert!(len >= l4_off + 20, "decoded at {len}");
                assert_eq!((pkt.src_port, pkt.vlan), (443, 5));
            }
            Err(e) => {
                assert!(e.offset <= len, "offset {} past {len}", e.offset);
                let expected = match len {
                    0..18 => DropReason::TruncatedLink,
                    18..66 => DropReason::TruncatedIp,
                    _ => DropReason::TruncatedL4,
                };
                assert_eq!(e.reason, expected, "cut at {len}");
            }
        }
    }
}

#[test]
fn every_truncation_of_every_link_type() {
    let ip4 = ipv4(6, &tcp(1, 2, 0, &[], b""));
    let frames = [
        (LinkType::Ethernet, eth(0x0800, &ip4)),
        (
            LinkType::LinuxSll,
            [
                &[0u8, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 8, 0][..],
                &ip4,
            ]
            .concat(),
        ),
        (
            LinkType::LinuxSll2,
            [
                &[8u8, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0][..],
                &ip4,
            ]
            .concat(),
        ),
        (LinkType::Null, [&[2u8, 0, 0, 0][..], &ip4].concat()),
        (LinkType::Loop, [&[0u8, 0, 0, 2][..], &ip4].concat()),
        (LinkType::RawIp, ip4.clone()),
        (LinkType::Ipv4, ip4.clone()),
    ];
    for (link, frame) in &frames {
        assert_eq!(ok(*link, frame).dst_port, 2, "{link:?}");
        for len in 0..frame.len() {
            let e = decode(*link, &frame[..len]).expect_err("cut frames lack the TCP header");
            assert!(e.offset <= len);
        }
    }
}

#[test]
fn error_display() {
    let e = decode(LinkType::Ethernet, &[0; 4]).unwrap_err();
    assert_eq!(e.to_string(), "truncated-link at byte 0");
}
