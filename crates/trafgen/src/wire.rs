//! Frame assembly: Ethernet, 802.1Q, IPv4/IPv6 and the L4 checksum, into one
//! reused buffer that already holds room for the pcap record header.

pub(crate) const PROTO_ICMP: u8 = 1;
pub(crate) const PROTO_TCP: u8 = 6;
pub(crate) const PROTO_UDP: u8 = 17;
pub(crate) const PROTO_ICMPV6: u8 = 58;

/// Which end of a conversation sends a packet: the client opened it.
pub(crate) const CLIENT: usize = 0;
pub(crate) const SERVER: usize = 1;

/// pcap record header length; the frame starts right after it.
pub(crate) const REC_HDR: usize = 16;

#[derive(Clone, Copy, Debug)]
pub(crate) enum Addrs {
    V4([u32; 2]),
    V6([u128; 2]),
}

/// Everything about a conversation's two ends that goes into L2-L4 headers.
/// Index 0 is the client, 1 the server.
#[derive(Clone, Debug)]
pub(crate) struct Endpoints {
    pub addrs: Addrs,
    pub ports: [u16; 2],
    pub macs: [[u8; 6]; 2],
    /// 802.1Q VLAN id, 0 for untagged.
    pub vlan: u16,
    pub ttl: [u8; 2],
    /// The next IPv4 identification per sender.
    pub ip_id: [u16; 2],
    /// The IPv6 flow label per sender.
    pub flow_label: [u32; 2],
}

impl Endpoints {
    pub(crate) fn is_v6(&self) -> bool {
        matches!(self.addrs, Addrs::V6(_))
    }
}

/// The one packet buffer: `[pcap record header][frame]`, rebuilt per packet
/// without reallocating.
pub(crate) struct PacketBuf {
    pub buf: Vec<u8>,
    ip_off: usize,
    l4_off: usize,
    proto: u8,
}

impl PacketBuf {
    pub(crate) fn new() -> PacketBuf {
        PacketBuf {
            buf: Vec::with_capacity(4096),
            ip_off: 0,
            l4_off: 0,
            proto: 0,
        }
    }

    /// Starts a frame from `side` of `ep`; the caller then appends the L4
    /// header (checksum zero) and payload to `buf` and calls [`finish`].
    pub(crate) fn begin(&mut self, ep: &Endpoints, side: usize, proto: u8) {
        let peer = side ^ 1;
        let b = &mut self.buf;
        b.clear();
        b.extend_from_slice(&[0; REC_HDR]);
        b.extend_from_slice(&ep.macs[peer]);
        b.extend_from_slice(&ep.macs[side]);
        if ep.vlan != 0 {
            b.extend_from_slice(&[0x81, 0x00]);
            b.extend_from_slice(&ep.vlan.to_be_bytes());
        }
        self.ip_off = b.len() + 2;
        self.proto = proto;
        match ep.addrs {
            Addrs::V4(a) => {
                b.extend_from_slice(&[0x08, 0x00]);
                // Linux sets DF on TCP (path MTU discovery); UDP and ICMP do not here.
                let frag: u16 = if proto == PROTO_TCP { 0x4000 } else { 0 };
                b.extend_from_slice(&[0x45, 0, 0, 0]);
                b.extend_from_slice(&ep.ip_id[side].to_be_bytes());
                b.extend_from_slice(&frag.to_be_bytes());
                b.extend_from_slice(&[ep.ttl[side], proto, 0, 0]);
                b.extend_from_slice(&a[side].to_be_bytes());
                b.extend_from_slice(&a[peer].to_be_bytes());
            }
            Addrs::V6(a) => {
                b.extend_from_slice(&[0x86, 0xdd]);
                b.extend_from_slice(
                    &((6u32 << 28) | (ep.flow_label[side] & 0xf_ffff)).to_be_bytes(),
                );
                b.extend_from_slice(&[0, 0, proto, ep.ttl[side]]);
                b.extend_from_slice(&a[side].to_be_bytes());
                b.extend_from_slice(&a[peer].to_be_bytes());
            }
        }
        self.l4_off = b.len();
    }

    /// Fills in lengths and checksums, then the pcap record header.
    pub(crate) fn finish(&mut self, ep: &mut Endpoints, side: usize, t_ns: u64) {
        let b = &mut self.buf;
        let l4_len = b.len() - self.l4_off;
        let (ip, l4) = b.split_at_mut(self.l4_off);
        let ip = &mut ip[self.ip_off..];
        let mut sum: u64;
        match ep.addrs {
            Addrs::V4(_) => {
                ip[2..4].copy_from_slice(&((20 + l4_len) as u16).to_be_bytes());
                let c = fold(add_words(0, ip));
                ip[10..12].copy_from_slice(&c.to_be_bytes());
                ep.ip_id[side] = ep.ip_id[side].wrapping_add(1);
                sum = if self.proto == PROTO_ICMP {
                    0
                } else {
                    add_words(u64::from(self.proto) + l4_len as u64, &ip[12..20])
                };
            }
            Addrs::V6(_) => {
                ip[4..6].copy_from_slice(&(l4_len as u16).to_be_bytes());
                sum = add_words(u64::from(self.proto) + l4_len as u64, &ip[8..40]);
            }
        }
        let at = match self.proto {
            PROTO_TCP => 16,
            PROTO_UDP => {
                l4[4..6].copy_from_slice(&(l4_len as u16).to_be_bytes());
                6
            }
            _ => 2,
        };
        sum = add_words(sum, l4);
        let mut c = fold(sum);
        if c == 0 && self.proto == PROTO_UDP {
            // Zero means "no checksum" in UDP; its ones'-complement twin is sent.
            c = 0xffff;
        }
        l4[at..at + 2].copy_from_slice(&c.to_be_bytes());

        let frame_len = (b.len() - REC_HDR) as u32;
        let secs = (t_ns / 1_000_000_000) as u32;
        let usecs = ((t_ns % 1_000_000_000) / 1000) as u32;
        b[0..4].copy_from_slice(&secs.to_le_bytes());
        b[4..8].copy_from_slice(&usecs.to_le_bytes());
        b[8..12].copy_from_slice(&frame_len.to_le_bytes());
        b[12..16].copy_from_slice(&frame_len.to_le_bytes());
    }

    pub(crate) fn frame_len(&self) -> usize {
        self.buf.len() - REC_HDR
    }
}

/// The classic pcap file header: little-endian, microseconds, Ethernet.
pub(crate) fn pcap_header() -> [u8; 24] {
    let mut h = [0u8; 24];
    h[0..4].copy_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    h[4..6].copy_from_slice(&2u16.to_le_bytes());
    h[6..8].copy_from_slice(&4u16.to_le_bytes());
    // thiszone and sigfigs stay zero.
    h[16..20].copy_from_slice(&65535u32.to_le_bytes());
    h[20..24].copy_from_slice(&1u32.to_le_bytes());
    h
}

/// Adds `data` as big-endian 16-bit words (odd tail padded with zero) to a
/// ones'-complement accumulator. Since 2^16 = 1 in that arithmetic, the
/// 32-bit halves of each 64-bit word can be summed as plain integers and
/// folded once at the end; a frame is far too short to overflow 64 bits.
/// The loop has no carries to chain, so it vectorizes.
pub(crate) fn add_words(sum: u64, data: &[u8]) -> u64 {
    let mut chunks = data.chunks_exact(8);
    let mut acc = 0u64;
    for c in &mut chunks {
        let w = u64::from_be_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        acc += (w >> 32) + (w & 0xffff_ffff);
    }
    let rest = chunks.remainder();
    let mut tail = [0u8; 8];
    tail[..rest.len()].copy_from_slice(rest);
    let w = u64::from_be_bytes(tail);
    sum + acc + (w >> 32) + (w & 0xffff_ffff)
}

pub(crate) fn fold(mut sum: u64) -> u16 {
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_of_rfc1071_example() {
        // RFC 1071 section 3: words 0001 f203 f4f5 f6f7 sum to ddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(add_words(0, &data)), !0xddf2);
        // An odd tail byte is the high half of a word.
        assert_eq!(fold(add_words(0, &[0x12])), !0x1200);
    }
}
