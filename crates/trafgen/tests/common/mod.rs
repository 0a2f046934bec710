//! Helpers shared by the integration tests: a pcap reader and an
//! independent checksum and length checker (it does not use the crate's
//! own checksum code).

#![allow(dead_code)]

pub struct Record<'a> {
    pub ts_usec: u64,
    pub frame: &'a [u8],
}

/// Checks the global header and returns the records.
pub fn records(file: &[u8]) -> Vec<Record<'_>> {
    assert!(file.len() >= 24, "no pcap header");
    assert_eq!(
        &file[0..4],
        &0xa1b2_c3d4u32.to_le_bytes(),
        "little-endian microsecond magic"
    );
    assert_eq!(u16::from_le_bytes([file[4], file[5]]), 2);
    assert_eq!(u16::from_le_bytes([file[6], file[7]]), 4);
    assert_eq!(
        u32::from_le_bytes(file[16..20].try_into().unwrap()),
        65535,
        "snaplen"
    );
    assert_eq!(
        u32::from_le_bytes(file[20..24].try_into().unwrap()),
        1,
        "LINKTYPE_ETHERNET"
    );
    let mut out = Vec::new();
    let mut at = 24;
    while at < file.len() {
        let h = &file[at..at + 16];
        let sec = u64::from(u32::from_le_bytes(h[0..4].try_into().unwrap()));
        let usec = u64::from(u32::from_le_bytes(h[4..8].try_into().unwrap()));
        assert!(usec < 1_000_000);
        let incl = u32::from_le_bytes(h[8..12].try_into().unwrap()) as usize;
        let orig = u32::from_le_bytes(h[12..16].try_into().unwrap()) as usize;
        assert_eq!(incl, orig, "nothing is truncated");
        assert!(incl <= 1518, "frames fit an Ethernet MTU");
        out.push(Record {
            ts_usec: sec * 1_000_000 + usec,
            frame: &file[at + 16..at + 16 + incl],
        });
        at += 16 + incl;
    }
    assert_eq!(at, file.len(), "no trailing bytes");
    out
}

/// FNV-1a, 64 bit: a hash that will not change with the standard library.
pub fn fnv1a(data: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for &b in data {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn sum16(data: &[u8]) -> u32 {
    let mut s = 0u32;
    for pair in data.chunks(2) {
        let hi = u32::from(pair[0]) << 8;
        let lo = pair.get(1).map_or(0, |&b| u32::from(b));
        s += hi | lo;
    }
    s
}

fn folds_to_ffff(mut s: u32) -> bool {
    while s >> 16 != 0 {
        s = (s & 0xffff) + (s >> 16);
    }
    s == 0xffff
}

/// What [`check_frame`] found in a frame.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FrameInfo {
    pub vlan: bool,
    pub v6: bool,
    pub proto: u8,
}

/// Verifies lengths and every checksum of one frame byte by byte.
pub fn check_frame(f: &[u8]) -> FrameInfo {
    let mut info = FrameInfo::default();
    let mut at = 12;
    let mut ethertype = u16::from_be_bytes([f[at], f[at + 1]]);
    if ethertype == 0x8100 {
        info.vlan = true;
        at += 4;
        ethertype = u16::from_be_bytes([f[at], f[at + 1]]);
    }
    at += 2;
    let ip = &f[at..];
    let (l4, pseudo) = match ethertype {
        0x0800 => {
            assert_eq!(ip[0], 0x45);
            assert_eq!(
                u16::from_be_bytes([ip[2], ip[3]]) as usize,
                ip.len(),
                "IPv4 total length"
            );
            assert!(folds_to_ffff(sum16(&ip[..20])), "IPv4 header checksum");
            info.proto = ip[9];
            let l4 = &ip[20..];
            let mut p = sum16(&ip[12..20]);
            p += u32::from(info.proto) + l4.len() as u32;
            (l4, if info.proto == 1 { 0 } else { p })
        }
        0x86dd => {
            info.v6 = true;
            assert_eq!(ip[0] >> 4, 6);
            assert_eq!(
                u16::from_be_bytes([ip[4], ip[5]]) as usize,
                ip.len() - 40,
                "IPv6 payload length"
            );
            info.proto = ip[6];
            let l4 = &ip[40..];
            let p = sum16(&ip[8..40]) + u32::from(info.proto) + l4.len() as u32;
            (l4, p)
        }
        other => panic!("unexpected ethertype {other:#06x}"),
    };
    match info.proto {
        6 => assert!(l4.len() >= usize::from(l4[12] >> 4) * 4, "TCP data offset"),
        17 => assert_eq!(
            u16::from_be_bytes([l4[4], l4[5]]) as usize,
            l4.len(),
            "UDP length"
        ),
        1 | 58 => {}
        other => panic!("unexpected protocol {other}"),
    }
    assert!(
        folds_to_ffff(pseudo + sum16(l4)),
        "L4 checksum, protocol {}",
        info.proto
    );
    info
}
