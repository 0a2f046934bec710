//! The decoder proper: one function per header, each reading from the whole
//! frame at an absolute offset so that errors can say where they stopped.
//!
//! Every header is length-checked once by [`header`], which hands back a
//! fixed-size array; fields are then read with constant indices into that
//! array, which the compiler checks, so nothing after the check can panic.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::{DecodeError, DropReason, Fragment, LinkType, Packet};

/// Caps on header chains read from the wire: a frame that stacks more is
/// dropped as [`DropReason::TooManyHeaders`] rather than walked forever.
const MAX_VLAN_TAGS: usize = 8;
const MAX_MPLS_LABELS: usize = 16;
const MAX_IPV6_EXT_HEADERS: usize = 16;

mod ethertype {
    pub const IPV4: u16 = 0x0800;
    pub const IPV6: u16 = 0x86dd;
    pub const VLAN: u16 = 0x8100;
    pub const QINQ: u16 = 0x88a8;
    /// Pre-standard QinQ outer tag, still sent by some switches.
    pub const QINQ_OLD: u16 = 0x9100;
    pub const MPLS_UNICAST: u16 = 0x8847;
    pub const MPLS_MULTICAST: u16 = 0x8848;
    pub const PPPOE_SESSION: u16 = 0x8864;
}

mod ppp {
    pub const IPV4: u16 = 0x0021;
    pub const IPV6: u16 = 0x0057;
}

/// BSD `AF_INET` and the `AF_INET6` values of the BSDs (NetBSD/OpenBSD,
/// FreeBSD, Darwin): a NULL capture may come from any of them.
mod family {
    pub const INET: u32 = 2;
    pub const INET6_BSD: u32 = 24;
    pub const INET6_FREEBSD: u32 = 28;
    pub const INET6_DARWIN: u32 = 30;
}

mod proto {
    pub const HOP_BY_HOP: u8 = 0;
    pub const ICMP: u8 = 1;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    pub const ROUTING: u8 = 43;
    pub const FRAGMENT: u8 = 44;
    pub const AH: u8 = 51;
    pub const ICMPV6: u8 = 58;
    pub const DST_OPTS: u8 = 60;
    pub const MOBILITY: u8 = 135;
    pub const SCTP: u8 = 132;
}

const ETHERNET_LEN: usize = 14;
const SLL_LEN: usize = 16;
const SLL2_LEN: usize = 20;
const IPV4_MIN_LEN: usize = 20;
const IPV6_LEN: usize = 40;
const TCP_MIN_LEN: usize = 20;
const UDP_LEN: usize = 8;
/// Type, code and checksum: the part every ICMP and ICMPv6 message shares.
const ICMP_LEN: usize = 4;
/// Ports, verification tag and checksum.
const SCTP_LEN: usize = 12;

/// Network layer found below the link layer.
#[derive(Clone, Copy)]
enum Net {
    V4,
    V6,
}

/// Decodes one frame. See the crate documentation.
///
/// On error, [`DecodeError::offset`] is the start of the header that could not
/// be decoded (for `NotIp`, the start of the unknown link-layer payload).
///
/// Choices a caller may notice:
/// - Only the fixed part of an L4 header must be captured (TCP 20, UDP 8,
///   ICMP/ICMPv6 4, SCTP 12 bytes); TCP options cut by the snaplen leave an
///   empty payload instead of dropping the packet.
/// - The ICMP payload starts after type, code and checksum.
/// - An IPv6 payload length of 0 counts as a jumbogram (captured length) only
///   when a hop-by-hop header follows, where RFC 2675 puts the real length;
///   otherwise it is an empty packet of 40 bytes.
/// - An empty payload is the empty slice at the end of the frame, so a
///   payload always points into the frame.
pub fn decode(link: LinkType, frame: &[u8]) -> Result<Packet<'_>, DecodeError> {
    let mut pkt = Packet::default();
    let (net, off) = link_layer(link, frame, &mut pkt)?;
    match net {
        Net::V4 => ipv4(frame, off, &mut pkt)?,
        Net::V6 => ipv6(frame, off, &mut pkt)?,
    }
    Ok(pkt)
}

#[inline(always)]
fn fail<T>(reason: DropReason, offset: usize) -> Result<T, DecodeError> {
    Err(DecodeError { reason, offset })
}

/// The `N` bytes at `off`, or `reason` at `off` when the buffer is shorter.
#[inline(always)]
fn header<const N: usize>(
    buf: &[u8],
    off: usize,
    reason: DropReason,
) -> Result<&[u8; N], DecodeError> {
    match buf.get(off..).and_then(<[u8]>::first_chunk) {
        Some(h) => Ok(h),
        None => fail(reason, off),
    }
}

/// Copies a field out of a header whose length [`header`] already checked.
/// The fallback is never taken; it only keeps the read panic-free, and the
/// optimiser removes it because `at + N <= M` is known at each call site.
#[inline(always)]
fn field<const N: usize, const M: usize>(h: &[u8; M], at: usize) -> [u8; N] {
    h.get(at..)
        .and_then(<[u8]>::first_chunk)
        .copied()
        .unwrap_or([0; N])
}

#[inline(always)]
fn be16<const M: usize>(h: &[u8; M], at: usize) -> u16 {
    u16::from_be_bytes(field(h, at))
}

#[inline(always)]
fn be32<const M: usize>(h: &[u8; M], at: usize) -> u32 {
    u32::from_be_bytes(field(h, at))
}

/// `buf` cut to at most `end` bytes.
#[inline(always)]
fn clip(buf: &[u8], end: usize) -> &[u8] {
    buf.get(..end).unwrap_or(buf)
}

/// Everything from `off` on; past the end, the empty slice at the end, so that
/// a payload always points into the frame.
#[inline(always)]
fn rest(buf: &[u8], off: usize) -> &[u8] {
    buf.get(off.min(buf.len())..).unwrap_or_default()
}

fn link_layer(
    link: LinkType,
    frame: &[u8],
    pkt: &mut Packet<'_>,
) -> Result<(Net, usize), DecodeError> {
    match link {
        LinkType::Ethernet => ethernet(frame, pkt),
        LinkType::LinuxSll => linux_sll(frame, pkt),
        LinkType::LinuxSll2 => linux_sll2(frame, pkt),
        LinkType::Null | LinkType::Loop => loopback(frame),
        LinkType::RawIp => ip_by_version(frame, 0, DropReason::MalformedIp),
        LinkType::Ipv4 => Ok((Net::V4, 0)),
        LinkType::Ipv6 => Ok((Net::V6, 0)),
    }
}

fn ethernet(frame: &[u8], pkt: &mut Packet<'_>) -> Result<(Net, usize), DecodeError> {
    let h: &[u8; ETHERNET_LEN] = header(frame, 0, DropReason::TruncatedLink)?;
    pkt.dst_mac = field(h, 0);
    pkt.src_mac = field(h, 6);
    // An 802.3 length field (< 0x0600) followed by LLC falls through to NotIp.
    after_ethertype(frame, be16(h, 12), ETHERNET_LEN, pkt)
}

/// Linux cooked capture v1: packet type, ARPHRD type, address length,
/// 8 address bytes, protocol.
fn linux_sll(frame: &[u8], pkt: &mut Packet<'_>) -> Result<(Net, usize), DecodeError> {
    let h: &[u8; SLL_LEN] = header(frame, 0, DropReason::TruncatedLink)?;
    if be16(h, 4) == 6 {
        pkt.src_mac = field(h, 6);
    }
    after_ethertype(frame, be16(h, 14), SLL_LEN, pkt)
}

/// Linux cooked capture v2: protocol, reserved, ifindex, ARPHRD type,
/// packet type, address length, 8 address bytes.
fn linux_sll2(frame: &[u8], pkt: &mut Packet<'_>) -> Result<(Net, usize), DecodeError> {
    let h: &[u8; SLL2_LEN] = header(frame, 0, DropReason::TruncatedLink)?;
    if h[11] == 6 {
        pkt.src_mac = field(h, 12);
    }
    after_ethertype(frame, be16(h, 0), SLL2_LEN, pkt)
}

/// BSD loopback. NULL stores the address family in the byte order of the
/// capturing host, which the file does not record; LOOP stores it big-endian.
/// Families fit in 16 bits, so a value that does not was read in the wrong
/// order, and swapping it handles both link types and both hosts.
fn loopback(frame: &[u8]) -> Result<(Net, usize), DecodeError> {
    let h: &[u8; 4] = header(frame, 0, DropReason::TruncatedLink)?;
    let mut af = u32::from_le_bytes(*h);
    if af > 0xffff {
        af = af.swap_bytes();
    }
    match af {
        family::INET => Ok((Net::V4, 4)),
        family::INET6_BSD | family::INET6_FREEBSD | family::INET6_DARWIN => Ok((Net::V6, 4)),
        _ => fail(DropReason::NotIp, 4),
    }
}

/// Follows an EtherType through VLAN tags, MPLS and PPPoE down to IP.
fn after_ethertype(
    frame: &[u8],
    mut ty: u16,
    mut off: usize,
    pkt: &mut Packet<'_>,
) -> Result<(Net, usize), DecodeError> {
    let mut n_tags = 0;
    loop {
        match ty {
            ethertype::IPV4 => return Ok((Net::V4, off)),
            ethertype::IPV6 => return Ok((Net::V6, off)),
            ethertype::VLAN | ethertype::QINQ | ethertype::QINQ_OLD => {
                if n_tags == MAX_VLAN_TAGS {
                    return fail(DropReason::TooManyHeaders, off);
                }
                let tag: &[u8; 4] = header(frame, off, DropReason::TruncatedLink)?;
                let vlan_id = be16(tag, 0) & 0x0fff;
                match n_tags {
                    0 => pkt.vlan = vlan_id,
                    1 => pkt.vlan_inner = vlan_id,
                    _ => {}
                }
                n_tags += 1;
                ty = be16(tag, 2);
                off += 4;
            }
            ethertype::MPLS_UNICAST | ethertype::MPLS_MULTICAST => return mpls(frame, off, pkt),
            ethertype::PPPOE_SESSION => return pppoe_session(frame, off),
            _ => return fail(DropReason::NotIp, off),
        }
    }
}

/// Skips MPLS label stack entries up to bottom-of-stack. MPLS does not say
/// what it carries, so the IP version nibble decides, as routers do.
fn mpls(frame: &[u8], mut off: usize, pkt: &mut Packet<'_>) -> Result<(Net, usize), DecodeError> {
    for depth in 1..=MAX_MPLS_LABELS {
        let entry = u32::from_be_bytes(*header(frame, off, DropReason::TruncatedLink)?);
        if depth == 1 {
            pkt.mpls_label = entry >> 12;
        }
        pkt.mpls_depth = depth as u8;
        off += 4;
        let bottom_of_stack = entry & 0x100 != 0;
        if bottom_of_stack {
            // Anything else (a pseudowire control word, say) is not ours to decode.
            return ip_by_version(frame, off, DropReason::NotIp);
        }
    }
    fail(DropReason::TooManyHeaders, off)
}

/// PPPoE session header (version/type, code, session id, length) then the
/// 2-byte PPP protocol.
fn pppoe_session(frame: &[u8], off: usize) -> Result<(Net, usize), DecodeError> {
    let h: &[u8; 8] = header(frame, off, DropReason::TruncatedLink)?;
    let ip_off = off + 8;
    match be16(h, 6) {
        ppp::IPV4 => Ok((Net::V4, ip_off)),
        ppp::IPV6 => Ok((Net::V6, ip_off)),
        _ => fail(DropReason::NotIp, ip_off),
    }
}

/// Picks IPv4 or IPv6 by the version nibble; any other value is `otherwise`.
#[inline]
fn ip_by_version(
    frame: &[u8],
    off: usize,
    otherwise: DropReason,
) -> Result<(Net, usize), DecodeError> {
    match frame.get(off).map(|b| b >> 4) {
        Some(4) => Ok((Net::V4, off)),
        Some(6) => Ok((Net::V6, off)),
        Some(_) => fail(otherwise, off),
        None => fail(DropReason::TruncatedIp, off),
    }
}

fn ipv4<'a>(frame: &'a [u8], off: usize, pkt: &mut Packet<'a>) -> Result<(), DecodeError> {
    let h: &[u8; IPV4_MIN_LEN] = header(frame, off, DropReason::TruncatedIp)?;
    let header_len = usize::from(h[0] & 0x0f) * 4;
    let total_len = usize::from(be16(h, 2));
    if h[0] >> 4 != 4 || header_len < IPV4_MIN_LEN || total_len < header_len {
        return fail(DropReason::MalformedIp, off);
    }
    if frame.len() < off + header_len {
        return fail(DropReason::TruncatedIp, off);
    }
    let flags_offset = be16(h, 6);
    pkt.ip_version = 4;
    pkt.tos = h[1];
    pkt.ttl = h[8];
    pkt.proto = h[9];
    pkt.ip_len = total_len as u32;
    pkt.frag = Fragment {
        id: u32::from(be16(h, 4)),
        offset: (flags_offset & 0x1fff) << 3,
        more: flags_offset & 0x2000 != 0,
    };
    pkt.src_ip = Ipv4Addr::from(field::<4, IPV4_MIN_LEN>(h, 12)).to_ipv6_mapped();
    pkt.dst_ip = Ipv4Addr::from(field::<4, IPV4_MIN_LEN>(h, 16)).to_ipv6_mapped();
    // Cutting at the total length drops Ethernet padding; a snaplen cut is
    // already shorter and stays as it is.
    let datagram = clip(frame, off + total_len);
    transport(datagram, off + header_len, pkt)
}

fn ipv6<'a>(frame: &'a [u8], off: usize, pkt: &mut Packet<'a>) -> Result<(), DecodeError> {
    let h: &[u8; IPV6_LEN] = header(frame, off, DropReason::TruncatedIp)?;
    if h[0] >> 4 != 6 {
        return fail(DropReason::MalformedIp, off);
    }
    let payload_len = usize::from(be16(h, 4));
    let next = h[6];
    // A zero payload length means a jumbogram (RFC 2675), whose real length
    // sits in a hop-by-hop option; the captured length is the best we have.
    let ip_len = if payload_len == 0 && next == proto::HOP_BY_HOP {
        frame.len() - off
    } else {
        IPV6_LEN + payload_len
    };
    pkt.ip_version = 6;
    pkt.tos = (be16(h, 0) >> 4) as u8;
    pkt.ttl = h[7];
    pkt.ip_len = u32::try_from(ip_len).unwrap_or(u32::MAX);
    pkt.src_ip = Ipv6Addr::from(field::<16, IPV6_LEN>(h, 8));
    pkt.dst_ip = Ipv6Addr::from(field::<16, IPV6_LEN>(h, 24));
    let datagram = clip(frame, off + ip_len);
    let (upper, upper_off) = ipv6_extensions(datagram, off + IPV6_LEN, next, &mut pkt.frag)?;
    pkt.proto = upper;
    transport(datagram, upper_off, pkt)
}

/// Walks IPv6 extension headers; returns the upper-layer protocol and its
/// offset. ESP (50), no-next-header (59) and anything unknown end the walk as
/// the upper layer, since what follows them is not a header we could skip.
/// The mobility header (135) has the generic extension-header layout and its
/// first byte names the payload protocol (usually 59), so it is walked like
/// the options headers: the final protocol is what FlowTest reports.
fn ipv6_extensions(
    datagram: &[u8],
    mut off: usize,
    mut next: u8,
    frag: &mut Fragment,
) -> Result<(u8, usize), DecodeError> {
    let mut n_headers = 0;
    loop {
        let (after, len) = match next {
            proto::HOP_BY_HOP | proto::ROUTING | proto::DST_OPTS | proto::MOBILITY => {
                let h: &[u8; 2] = header(datagram, off, DropReason::TruncatedIp)?;
                (h[0], (usize::from(h[1]) + 1) * 8)
            }
            proto::FRAGMENT => {
                let h: &[u8; 8] = header(datagram, off, DropReason::TruncatedIp)?;
                let offset_flags = be16(h, 2);
                *frag = Fragment {
                    id: be32(h, 4),
                    offset: offset_flags & 0xfff8,
                    more: offset_flags & 1 != 0,
                };
                // Past a later fragment's header comes the middle of the
                // datagram, not another header.
                if frag.is_later() {
                    return Ok((h[0], off + 8));
                }
                (h[0], 8)
            }
            proto::AH => {
                let h: &[u8; 2] = header(datagram, off, DropReason::TruncatedIp)?;
                (h[0], (usize::from(h[1]) + 2) * 4)
            }
            upper => return Ok((upper, off)),
        };
        n_headers += 1;
        if n_headers > MAX_IPV6_EXT_HEADERS {
            return fail(DropReason::TooManyHeaders, off);
        }
        if datagram.len() < off + len {
            return fail(DropReason::TruncatedIp, off);
        }
        next = after;
        off += len;
    }
}

/// Reads ports (and TCP flags) of the protocols we enter. Later fragments and
/// other protocols (tunnels, ESP, ...) keep the IP payload as their payload.
fn transport<'a>(datagram: &'a [u8], off: usize, pkt: &mut Packet<'a>) -> Result<(), DecodeError> {
    pkt.payload = rest(datagram, off);
    if pkt.frag.is_later() {
        return Ok(());
    }
    match pkt.proto {
        proto::TCP => tcp(datagram, off, pkt),
        proto::UDP => udp(datagram, off, pkt),
        proto::ICMP | proto::ICMPV6 => icmp(datagram, off, pkt),
        proto::SCTP => sctp(datagram, off, pkt),
        _ => Ok(()),
    }
}

/// TCP options cut by the snaplen are tolerated: ports and flags sit in the
/// fixed 20 bytes, and dropping such packets would lose them from the flow.
fn tcp<'a>(datagram: &'a [u8], off: usize, pkt: &mut Packet<'a>) -> Result<(), DecodeError> {
    let h: &[u8; TCP_MIN_LEN] = header(datagram, off, DropReason::TruncatedL4)?;
    let header_len = usize::from(h[12] >> 4) * 4;
    if header_len < TCP_MIN_LEN {
        return fail(DropReason::MalformedL4, off);
    }
    pkt.has_l4 = true;
    pkt.src_port = be16(h, 0);
    pkt.dst_port = be16(h, 2);
    pkt.tcp_flags = h[13];
    pkt.payload = rest(datagram, off + header_len);
    Ok(())
}

fn udp<'a>(datagram: &'a [u8], off: usize, pkt: &mut Packet<'a>) -> Result<(), DecodeError> {
    let h: &[u8; UDP_LEN] = header(datagram, off, DropReason::TruncatedL4)?;
    let udp_len = usize::from(be16(h, 4));
    if udp_len < UDP_LEN {
        return fail(DropReason::MalformedL4, off);
    }
    pkt.has_l4 = true;
    pkt.src_port = be16(h, 0);
    pkt.dst_port = be16(h, 2);
    pkt.payload = rest(clip(datagram, off + udp_len), off + UDP_LEN);
    Ok(())
}

/// ICMP has no ports; type and code stand in for the destination port, as
/// NetFlow exporters and nfdump do.
fn icmp<'a>(datagram: &'a [u8], off: usize, pkt: &mut Packet<'a>) -> Result<(), DecodeError> {
    let h: &[u8; ICMP_LEN] = header(datagram, off, DropReason::TruncatedL4)?;
    pkt.has_l4 = true;
    pkt.dst_port = be16(h, 0);
    pkt.payload = rest(datagram, off + ICMP_LEN);
    Ok(())
}

fn sctp<'a>(datagram: &'a [u8], off: usize, pkt: &mut Packet<'a>) -> Result<(), DecodeError> {
    let h: &[u8; SCTP_LEN] = header(datagram, off, DropReason::TruncatedL4)?;
    pkt.has_l4 = true;
    pkt.src_port = be16(h, 0);
    pkt.dst_port = be16(h, 2);
    pkt.payload = rest(datagram, off + SCTP_LEN);
    Ok(())
}

#[cfg(test)]
mod tests;
