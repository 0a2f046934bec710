//! The canonical flow record, as the meter produces it and every output
//! (text formats now; IPFIX, Parquet and Arrow streams later) consumes it.
//!
//! It is a plain `Copy`-free struct of fixed-size fields so that the flow
//! cache can fill it without allocating. Addresses are IPv6, with IPv4 stored
//! IPv4-mapped (`::ffff:a.b.c.d`), so one column serves both families and byte
//! order equals numeric order (the store relies on that for pruning). The
//! price: a real IPv6 packet to `::ffff:a.b.c.d` reads as IPv4; such packets
//! are not routed on the Internet, so we accept that.
//!
//! L7 fields hang off the record in a box ([`FlowRecord::l7`]): most flows
//! have none, and those that do own their strings anyway.
//!
//! Not here: Arrow schemas (the `schema` crate, later) and IPFIX element
//! mapping (the `ipfix` crate, later).

pub mod format;
pub mod text;
mod time;

pub use time::{
    civil_from_days, days_from_civil, format_datetime, push_datetime, DateCache, DateStyle,
};

use std::net::{IpAddr, Ipv6Addr};

/// Why a flow record was exported: IPFIX `flowEndReason` (IE 136) values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum EndReason {
    /// No packet for longer than the inactive timeout.
    #[default]
    Idle = 1,
    /// The flow lasted longer than the active timeout; later packets start a new record.
    Active = 2,
    /// TCP FIN or RST (or a new SYN on a finished connection), or a per-packet flow.
    EndOfFlow = 3,
    /// The input ended (end of file or shutdown).
    Forced = 4,
    /// The cache was full and this flow was the least recently seen.
    Eviction = 5,
}

impl EndReason {
    /// The name used in text output and by the filter language.
    pub fn name(self) -> &'static str {
        match self {
            EndReason::Idle => "idle",
            EndReason::Active => "active",
            EndReason::EndOfFlow => "end",
            EndReason::Forced => "forced",
            EndReason::Eviction => "eviction",
        }
    }
}

/// Counters of the reverse direction of a biflow (RFC 5103).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reverse {
    pub first_ns: u64,
    pub last_ns: u64,
    pub packets: u64,
    pub bytes: u64,
    pub tcp_flags: u8,
}

/// One flow record. Times are nanoseconds since the Unix epoch (UTC).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowRecord {
    pub first_ns: u64,
    pub last_ns: u64,
    pub src_ip: Ipv6Addr,
    pub dst_ip: Ipv6Addr,
    /// For ICMP/ICMPv6: 0 and `type << 8 | code`, as nfdump.
    pub src_port: u16,
    pub dst_port: u16,
    pub proto: u8,
    /// OR of the TCP flags of all packets.
    pub tcp_flags: u8,
    /// TOS / traffic class of the first packet.
    pub tos: u8,
    pub packets: u64,
    /// IP-layer bytes (sum of IP total lengths), as IPFIX octetDeltaCount.
    pub bytes: u64,
    /// Outermost VLAN id, 0 = none.
    pub vlan: u16,
    /// MACs of the first packet (zero when the link has none).
    pub src_mac: [u8; 6],
    pub dst_mac: [u8; 6],
    pub end_reason: EndReason,
    /// Ingress and egress interface indexes (IPFIX ingressInterface /
    /// egressInterface, NetFlow input/output; 0 = unknown).
    pub in_if: u32,
    pub out_if: u32,
    /// Autonomous systems of the addresses, from the exporter (IPFIX
    /// bgpSourceAsNumber / bgpDestinationAsNumber) or a GeoIP stage; 0 = unknown.
    pub src_as: u32,
    pub dst_as: u32,
    /// ISO 3166-1 alpha-2 country codes from a GeoIP stage; `[0, 0]` = unknown.
    pub src_country: [u8; 2],
    pub dst_country: [u8; 2],
    /// The exporter the collector received the record from (IPv4-mapped like
    /// the flow addresses; unspecified for the local meter) and its
    /// observation domain.
    pub exporter: Ipv6Addr,
    pub odid: u32,
    /// Present only for biflow records.
    pub reverse: Option<Reverse>,
    /// Application-layer fields of the transaction, when a parser claimed the flow.
    pub l7: Option<l7::L7Fields>,
}

impl Default for FlowRecord {
    fn default() -> Self {
        FlowRecord {
            first_ns: 0,
            last_ns: 0,
            src_ip: Ipv6Addr::UNSPECIFIED,
            dst_ip: Ipv6Addr::UNSPECIFIED,
            src_port: 0,
            dst_port: 0,
            proto: 0,
            tcp_flags: 0,
            tos: 0,
            packets: 0,
            bytes: 0,
            vlan: 0,
            src_mac: [0; 6],
            dst_mac: [0; 6],
            end_reason: EndReason::Idle,
            in_if: 0,
            out_if: 0,
            src_as: 0,
            dst_as: 0,
            src_country: [0; 2],
            dst_country: [0; 2],
            exporter: Ipv6Addr::UNSPECIFIED,
            odid: 0,
            reverse: None,
            l7: None,
        }
    }
}

impl FlowRecord {
    /// 4 for IPv4-mapped addresses, else 6.
    pub fn ip_version(&self) -> u8 {
        if self.src_ip.to_ipv4_mapped().is_some() {
            4
        } else {
            6
        }
    }
    pub fn src_addr(&self) -> IpAddr {
        unmap(self.src_ip)
    }
    pub fn dst_addr(&self) -> IpAddr {
        unmap(self.dst_ip)
    }
    pub fn duration_ns(&self) -> u64 {
        self.last_ns.saturating_sub(self.first_ns)
    }
}

/// An IPv4-mapped address as IPv4, anything else as IPv6.
pub fn unmap(addr: Ipv6Addr) -> IpAddr {
    match addr.to_ipv4_mapped() {
        Some(v4) => IpAddr::V4(v4),
        None => IpAddr::V6(addr),
    }
}

/// The inverse of [`unmap`]: the canonical 16-byte form of any address.
pub fn to_mapped(addr: IpAddr) -> Ipv6Addr {
    match addr {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

/// Where finished flow records go: text on stdout now; IPFIX, the store and
/// streams plug in here later.
pub trait FlowSink {
    fn write(&mut self, records: &[FlowRecord]) -> std::io::Result<()>;
    /// Pushes buffered records out (live capture calls this every tick so
    /// quiet periods still show their flows).
    fn flush(&mut self) -> std::io::Result<()>;
    /// Writes trailers and flushes at the end of input.
    fn finish(&mut self) -> std::io::Result<()>;
}

/// nfdump's TCP flag string: eight columns `CEUAPRSF`, `.` where unset.
pub fn tcp_flags_string(flags: u8) -> [u8; 8] {
    const NAMES: &[u8; 8] = b"CEUAPRSF";
    let mut out = [b'.'; 8];
    for (i, name) in NAMES.iter().enumerate() {
        if flags & (0x80 >> i) != 0 {
            out[i] = *name;
        }
    }
    out
}

/// Protocol name as nfdump prints it (`TCP`, `UDP`, `ICMP`, ...), or the number.
pub fn proto_name(proto: u8) -> Option<&'static str> {
    Some(match proto {
        1 => "ICMP",
        2 => "IGMP",
        4 => "IPIP",
        6 => "TCP",
        17 => "UDP",
        41 => "IPv6",
        47 => "GRE",
        50 => "ESP",
        51 => "AH",
        58 => "ICMP6",
        89 => "OSPF",
        103 => "PIM",
        112 => "VRRP",
        132 => "SCTP",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_string_matches_nfdump() {
        assert_eq!(&tcp_flags_string(0x1f), b"...APRSF");
        assert_eq!(&tcp_flags_string(0x12), b"...A..S.");
        assert_eq!(&tcp_flags_string(0xff), b"CEUAPRSF");
        assert_eq!(&tcp_flags_string(0), b"........");
    }

    #[test]
    fn mapped_addresses_round_trip() {
        let v4: IpAddr = "10.1.2.3".parse().unwrap();
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(unmap(to_mapped(v4)), v4);
        assert_eq!(unmap(to_mapped(v6)), v6);
    }
}
