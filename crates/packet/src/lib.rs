//! Packet decoding: one link-layer frame in, one flat [`Packet`] view out.
//!
//! The decoder walks link layer (Ethernet, VLAN/QinQ, MPLS, PPPoE session,
//! Linux SLL/SLL2, BSD loopback, raw IP), network layer (IPv4 with options, IPv6 with its
//! extension headers) and transport layer (TCP, UDP, ICMP, ICMPv6, SCTP) and
//! fills a `Copy` struct that borrows the L4 payload from the frame.
//!
//! It deliberately does not keep state: IP fragments are reported as such
//! (see [`Fragment`]) and the flow crate gives later fragments the ports of the
//! first one. Tunnels (GRE, IP-in-IP, VXLAN) are not entered: the outer header
//! is the flow, as nfpcapd and softflowd see it.
//!
//! Every length read from the frame is checked before use, so no input can
//! make [`decode`] panic or allocate; bad frames come back as a [`DecodeError`]
//! whose [`DropReason`] the caller counts.

mod decode;

pub use decode::decode;

use std::net::Ipv6Addr;

/// The link type of a capture (pcap `LINKTYPE_*` values).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkType {
    /// LINKTYPE_ETHERNET (1).
    Ethernet,
    /// LINKTYPE_RAW (101; also DLT 12 and 14 on some systems): IPv4 or IPv6 by version nibble.
    RawIp,
    /// LINKTYPE_IPV4 (228).
    Ipv4,
    /// LINKTYPE_IPV6 (229).
    Ipv6,
    /// LINKTYPE_LINUX_SLL (113).
    LinuxSll,
    /// LINKTYPE_LINUX_SLL2 (276).
    LinuxSll2,
    /// LINKTYPE_NULL (0): BSD loopback, 4-byte address family in host byte order.
    Null,
    /// LINKTYPE_LOOP (108): BSD loopback, address family in network byte order.
    Loop,
}

impl LinkType {
    /// Maps a pcap/pcapng link type number; `None` for link types we do not decode.
    pub fn from_linktype(value: u32) -> Option<LinkType> {
        Some(match value {
            0 => LinkType::Null,
            1 => LinkType::Ethernet,
            12 | 14 | 101 => LinkType::RawIp,
            108 => LinkType::Loop,
            113 => LinkType::LinuxSll,
            228 => LinkType::Ipv4,
            229 => LinkType::Ipv6,
            276 => LinkType::LinuxSll2,
            _ => return None,
        })
    }
}

/// IP fragmentation state of a packet (IPv4 header fields or IPv6 fragment header).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fragment {
    /// IPv4 identification (16 bits) or IPv6 fragment identification (32 bits).
    pub id: u32,
    /// Fragment offset in bytes.
    pub offset: u16,
    /// More-fragments flag.
    pub more: bool,
}

impl Fragment {
    /// True when the packet is one piece of a fragmented datagram.
    pub fn is_fragment(&self) -> bool {
        self.more || self.offset != 0
    }
    /// True for every fragment but the first (these carry no L4 header).
    pub fn is_later(&self) -> bool {
        self.offset != 0
    }
}

/// One decoded packet. Fields that a frame does not carry are zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet<'a> {
    /// Ethernet source and destination MAC (zero when the link has none).
    pub src_mac: [u8; 6],
    pub dst_mac: [u8; 6],
    /// Outermost 802.1Q/802.1ad VLAN id (0 = untagged).
    pub vlan: u16,
    /// Second VLAN id of a QinQ stack (0 = none).
    pub vlan_inner: u16,
    /// Outermost MPLS label (0 = none; label 0 itself is reported as 0 too).
    pub mpls_label: u32,
    /// Number of MPLS labels skipped.
    pub mpls_depth: u8,
    /// 4 or 6.
    pub ip_version: u8,
    /// Addresses; IPv4 as IPv4-mapped IPv6 (`::ffff:a.b.c.d`).
    pub src_ip: Ipv6Addr,
    pub dst_ip: Ipv6Addr,
    /// IP-layer length as the header says: IPv4 total length, IPv6 payload length + 40.
    pub ip_len: u32,
    pub ttl: u8,
    /// IPv4 TOS byte or IPv6 traffic class.
    pub tos: u8,
    /// Upper-layer protocol after all IPv6 extension headers (50 when ESP ends the parse).
    pub proto: u8,
    pub frag: Fragment,
    /// True when `src_port`/`dst_port`/`tcp_flags` were read from an L4 header.
    pub has_l4: bool,
    /// TCP/UDP/SCTP ports; for ICMP and ICMPv6 `src_port` is 0 and
    /// `dst_port` is `type << 8 | code`, as nfdump shows them.
    pub src_port: u16,
    pub dst_port: u16,
    /// All eight TCP flag bits (CWR ECE URG ACK PSH RST SYN FIN).
    pub tcp_flags: u8,
    /// L4 payload, clipped to the IP length and to what was captured.
    pub payload: &'a [u8],
}

impl Default for Packet<'_> {
    fn default() -> Self {
        Packet {
            src_mac: [0; 6],
            dst_mac: [0; 6],
            vlan: 0,
            vlan_inner: 0,
            mpls_label: 0,
            mpls_depth: 0,
            ip_version: 0,
            src_ip: Ipv6Addr::UNSPECIFIED,
            dst_ip: Ipv6Addr::UNSPECIFIED,
            ip_len: 0,
            ttl: 0,
            tos: 0,
            proto: 0,
            frag: Fragment::default(),
            has_l4: false,
            src_port: 0,
            dst_port: 0,
            tcp_flags: 0,
            payload: &[],
        }
    }
}

/// TCP flag bits.
pub mod tcp_flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const URG: u8 = 0x20;
    pub const ECE: u8 = 0x40;
    pub const CWR: u8 = 0x80;
}

/// Why a frame was skipped. Callers count these in an array indexed by `as usize`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// The frame ends inside a link-layer header (Ethernet, VLAN, MPLS, SLL, loopback).
    TruncatedLink,
    /// The link layer carries something other than IPv4/IPv6 (ARP, LLDP, ...).
    NotIp,
    /// The frame ends inside the IPv4 or IPv6 header or its options/extension headers.
    TruncatedIp,
    /// IP header fields that cannot be right (version, IHL < 5, total length < header).
    MalformedIp,
    /// The frame ends inside the TCP/UDP/ICMP/SCTP header of a first fragment.
    TruncatedL4,
    /// TCP data offset < 5 or UDP length < 8.
    MalformedL4,
    /// Too many VLAN/MPLS/extension headers (a named cap was hit).
    TooManyHeaders,
}

impl DropReason {
    pub const ALL: [DropReason; 7] = [
        DropReason::TruncatedLink,
        DropReason::NotIp,
        DropReason::TruncatedIp,
        DropReason::MalformedIp,
        DropReason::TruncatedL4,
        DropReason::MalformedL4,
        DropReason::TooManyHeaders,
    ];
    pub const COUNT: usize = Self::ALL.len();

    /// Short name used in statistics ("truncated-ip").
    pub fn name(self) -> &'static str {
        match self {
            DropReason::TruncatedLink => "truncated-link",
            DropReason::NotIp => "not-ip",
            DropReason::TruncatedIp => "truncated-ip",
            DropReason::MalformedIp => "malformed-ip",
            DropReason::TruncatedL4 => "truncated-l4",
            DropReason::MalformedL4 => "malformed-l4",
            DropReason::TooManyHeaders => "too-many-headers",
        }
    }
}

/// A frame that could not be decoded: the reason and the byte offset where decoding stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeError {
    pub reason: DropReason,
    pub offset: usize,
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at byte {}", self.reason.name(), self.offset)
    }
}

impl std::error::Error for DecodeError {}
