//! Captures built byte by byte in the test: both pcap byte orders and
//! timestamp units, pcapng with several sections, interfaces, resolutions and
//! block kinds, truncated tails, and every error a bad length must raise.

use std::io::{Cursor, Read};

use capture::{open_reader, CaptureError, Event, SourceStats};
use packet::LinkType;

// ---------------------------------------------------------------- builders

fn put16(out: &mut Vec<u8>, big: bool, v: u16) {
    out.extend_from_slice(&if big {
        v.to_be_bytes()
    } else {
        v.to_le_bytes()
    });
}

fn put32(out: &mut Vec<u8>, big: bool, v: u32) {
    out.extend_from_slice(&if big {
        v.to_be_bytes()
    } else {
        v.to_le_bytes()
    });
}

fn put64(out: &mut Vec<u8>, big: bool, v: u64) {
    out.extend_from_slice(&if big {
        v.to_be_bytes()
    } else {
        v.to_le_bytes()
    });
}

/// A classic pcap file.
struct Pcap {
    bytes: Vec<u8>,
    big: bool,
}

impl Pcap {
    fn new(big: bool, nanos: bool, linktype: u32) -> Pcap {
        let mut bytes = Vec::new();
        put32(
            &mut bytes,
            big,
            if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 },
        );
        put16(&mut bytes, big, 2);
        put16(&mut bytes, big, 4);
        put32(&mut bytes, big, 0); // thiszone
        put32(&mut bytes, big, 0); // sigfigs
        put32(&mut bytes, big, 65535);
        put32(&mut bytes, big, linktype);
        Pcap { bytes, big }
    }

    fn record(&mut self, sec: u32, frac: u32, data: &[u8], orig_len: u32) -> &mut Pcap {
        let big = self.big;
        put32(&mut self.bytes, big, sec);
        put32(&mut self.bytes, big, frac);
        put32(&mut self.bytes, big, data.len() as u32);
        put32(&mut self.bytes, big, orig_len);
        self.bytes.extend_from_slice(data);
        self
    }
}

/// A pcapng file; blocks use the byte order of the last section header.
struct Ng {
    bytes: Vec<u8>,
    big: bool,
}

impl Ng {
    fn new(big: bool) -> Ng {
        let mut ng = Ng {
            bytes: Vec::new(),
            big,
        };
        ng.section(big);
        ng
    }

    fn section(&mut self, big: bool) -> &mut Ng {
        self.big = big;
        let mut body = Vec::new();
        put32(&mut body, big, 0x1a2b_3c4d);
        put16(&mut body, big, 1);
        put16(&mut body, big, 0);
        put64(&mut body, big, u64::MAX); // section length unknown
        self.block(0x0a0d_0d0a, &body)
    }

    /// Writes a block: type, length, body padded to 4 bytes, length.
    fn block(&mut self, block_type: u32, body: &[u8]) -> &mut Ng {
        let padded = (body.len() + 3) & !3;
        let len = (12 + padded) as u32;
        let big = self.big;
        put32(&mut self.bytes, big, block_type);
        put32(&mut self.bytes, big, len);
        self.bytes.extend_from_slice(body);
        self.bytes.resize(self.bytes.len() + padded - body.len(), 0);
        put32(&mut self.bytes, big, len);
        self
    }

    fn idb(&mut self, linktype: u16, snaplen: u32, options: &[(u16, Vec<u8>)]) -> &mut Ng {
        let big = self.big;
        let mut body = Vec::new();
        put16(&mut body, big, linktype);
        put16(&mut body, big, 0);
        put32(&mut body, big, snaplen);
        for (code, value) in options {
            put16(&mut body, big, *code);
            put16(&mut body, big, value.len() as u16);
            body.extend_from_slice(value);
            body.resize((body.len() + 3) & !3, 0);
        }
        if !options.is_empty() {
            put32(&mut body, big, 0); // opt_endofopt
        }
        self.block(1, &body)
    }

    fn epb(&mut self, iface: u32, ts: u64, data: &[u8], orig_len: u32) -> &mut Ng {
        let big = self.big;
        let mut body = Vec::new();
        put32(&mut body, big, iface);
        put32(&mut body, big, (ts >> 32) as u32);
        put32(&mut body, big, ts as u32);
        put32(&mut body, big, data.len() as u32);
        put32(&mut body, big, orig_len);
        body.extend_from_slice(data);
        self.block(6, &body)
    }

    /// The obsolete Packet Block (type 2).
    fn pb(&mut self, iface: u16, ts: u64, data: &[u8], orig_len: u32) -> &mut Ng {
        let big = self.big;
        let mut body = Vec::new();
        put16(&mut body, big, iface);
        put16(&mut body, big, 0); // drops count
        put32(&mut body, big, (ts >> 32) as u32);
        put32(&mut body, big, ts as u32);
        put32(&mut body, big, data.len() as u32);
        put32(&mut body, big, orig_len);
        body.extend_from_slice(data);
        self.block(2, &body)
    }

    fn spb(&mut self, data: &[u8], orig_len: u32) -> &mut Ng {
        let big = self.big;
        let mut body = Vec::new();
        put32(&mut body, big, orig_len);
        body.extend_from_slice(data);
        self.block(3, &body)
    }
}

// ---------------------------------------------------------------- reading

#[derive(Debug, PartialEq, Eq)]
struct Got {
    ts_ns: u64,
    orig_len: u32,
    link: LinkType,
    data: Vec<u8>,
}

fn read_with(
    reader: Box<dyn Read + Send>,
    filter: Option<&str>,
) -> Result<(Vec<Got>, SourceStats), CaptureError> {
    let mut src = open_reader(reader, "test.cap", filter)?;
    let mut got = Vec::new();
    src.run(&mut |ev| match ev {
        Event::Frames(frames) => {
            for f in frames {
                got.push(Got {
                    ts_ns: f.ts_ns,
                    orig_len: f.orig_len,
                    link: f.link,
                    data: f.data.to_vec(),
                });
            }
        }
        Event::Tick(_) => panic!("a file source sent a tick"),
    })?;
    Ok((got, src.stats()))
}

fn read(bytes: &[u8]) -> Result<(Vec<Got>, SourceStats), CaptureError> {
    read_with(Box::new(Cursor::new(bytes.to_vec())), None)
}

fn read_ok(bytes: &[u8]) -> (Vec<Got>, SourceStats) {
    read(bytes).unwrap_or_else(|e| panic!("{e}"))
}

/// Opening or running fails with a format error at `offset` whose message
/// contains `needle`.
fn check_format_error(bytes: &[u8], offset: u64, needle: &str) {
    match read(bytes) {
        Err(CaptureError::Format {
            path,
            offset: got,
            message,
        }) => {
            assert_eq!(path, "test.cap");
            assert_eq!(got, offset, "offset of \"{message}\"");
            assert!(message.contains(needle), "\"{message}\" lacks \"{needle}\"");
        }
        other => panic!("expected a format error, got {other:?}"),
    }
}

fn got(ts_ns: u64, orig_len: u32, link: LinkType, data: &[u8]) -> Got {
    Got {
        ts_ns,
        orig_len,
        link,
        data: data.to_vec(),
    }
}

// ---------------------------------------------------------------- classic pcap

#[test]
fn pcap_both_byte_orders_and_units() {
    for big in [false, true] {
        for nanos in [false, true] {
            let mut p = Pcap::new(big, nanos, 1);
            p.record(1_700_000_000, 123_456, b"abc", 60)
                .record(1_700_000_001, 999_999, b"", 0)
                .record(u32::MAX, u32::MAX, &[7; 1500], 1500);
            let (frames, stats) = read_ok(&p.bytes);
            let unit = if nanos { 1 } else { 1000 };
            let eth = LinkType::Ethernet;
            assert_eq!(
                frames,
                vec![
                    got(1_700_000_000_000_000_000 + 123_456 * unit, 60, eth, b"abc"),
                    got(1_700_000_001_000_000_000 + 999_999 * unit, 0, eth, b""),
                    got(
                        u64::from(u32::MAX) * 1_000_000_000 + u64::from(u32::MAX) * unit,
                        1500,
                        eth,
                        &[7; 1500]
                    ),
                ],
                "big={big} nanos={nanos}"
            );
            assert_eq!(
                stats,
                SourceStats {
                    frames: 3,
                    ..SourceStats::default()
                }
            );
        }
    }
}

#[test]
fn pcap_link_type_ignores_fcs_bits() {
    // FCS length 4 in bits 28-31 and the F bit (26) set.
    let mut p = Pcap::new(false, false, 0x4400_0065);
    p.record(1, 0, b"\x45", 1);
    let (frames, _) = read_ok(&p.bytes);
    assert_eq!(frames[0].link, LinkType::RawIp);
}

#[test]
fn pcap_unsupported_link_is_counted_not_handed_out() {
    let mut p = Pcap::new(false, false, 105); // IEEE 802.11
    p.record(1, 0, b"xx", 2).record(2, 0, b"yy", 2);
    let (frames, stats) = read_ok(&p.bytes);
    assert!(frames.is_empty());
    assert_eq!((stats.frames, stats.unsupported_link), (0, 2));
}

#[test]
fn pcap_truncated_tail_ends_cleanly() {
    let mut p = Pcap::new(false, false, 1);
    p.record(1, 0, &[1; 100], 100).record(2, 0, &[2; 100], 100);
    let full = p.bytes.len();
    // Inside the last record's data, inside its header, and on a boundary.
    for (cut, frames, truncated) in [
        (full - 1, 1, 1),
        (full - 100, 1, 1),
        (full - 110, 1, 1),
        (full - 116, 1, 0),
        (24 + 3, 0, 1),
        (24, 0, 0),
    ] {
        let (got, stats) = read_ok(&p.bytes[..cut]);
        assert_eq!(got.len(), frames, "cut at {cut}");
        assert_eq!(stats.truncated_records, truncated, "cut at {cut}");
    }
}

#[test]
fn pcap_over_cap_caplen_is_an_error_with_offset() {
    let mut p = Pcap::new(false, false, 1);
    p.record(1, 0, b"ok", 2);
    let second = p.bytes.len() as u64;
    put32(&mut p.bytes, false, 3);
    put32(&mut p.bytes, false, 0);
    put32(&mut p.bytes, false, capture::MAX_PCAP_RECORD + 1);
    put32(&mut p.bytes, false, 70);
    p.bytes.extend_from_slice(&[0; 64]);
    check_format_error(&p.bytes, second + 8, "exceeds the cap of 262144");
    // The record before the bad one was delivered.
    let mut src = open_reader(Box::new(Cursor::new(p.bytes)), "test.cap", None).unwrap();
    let mut n = 0;
    assert!(src.run(&mut |_| n += 1).is_err());
    assert_eq!((n, src.stats().frames), (1, 1));
}

#[test]
fn pcap_caplen_at_cap_is_accepted() {
    let data = vec![0x5a; capture::MAX_PCAP_RECORD as usize];
    let mut p = Pcap::new(true, false, 1);
    p.record(1, 0, &data, 1 << 20);
    let (frames, _) = read_ok(&p.bytes);
    assert_eq!(frames[0].data.len(), data.len());
    assert_eq!(frames[0].orig_len, 1 << 20);
}

#[test]
fn pcap_header_errors() {
    let p = Pcap::new(false, false, 1);
    check_format_error(&p.bytes[..10], 10, "inside the 24-byte pcap file header");
    let mut v3 = p.bytes.clone();
    v3[4] = 3;
    check_format_error(&v3, 4, "unsupported pcap version 3.4");
}

// ---------------------------------------------------------------- detection

#[test]
fn empty_input_is_a_clear_error() {
    check_format_error(b"", 0, "empty file");
    check_format_error(b"\xd4\xc3", 0, "too short");
}

#[test]
fn garbage_magic_names_the_path() {
    check_format_error(b"GET / HTTP/1.1\r\n", 0, "not a pcap or pcapng file");
    let err = read(b"\x1f\x8b\x08\x00rest").map(|_| ()).unwrap_err();
    assert!(err.to_string().contains("gzip"), "{err}");
    let err = read(b"garbage!").map(|_| ()).unwrap_err();
    assert!(
        err.to_string().starts_with("test.cap: at byte 0: "),
        "{err}"
    );
}

#[test]
fn missing_file_names_the_path() {
    let path = "/nonexistent/eddy/capture.pcap";
    let err = capture::open_file(path).map(|_| ()).unwrap_err();
    assert!(matches!(err, CaptureError::Io { .. }), "{err:?}");
    assert!(err.to_string().starts_with(path), "{err}");
}

#[test]
fn open_file_reads_a_file_from_disk() {
    let mut p = Pcap::new(false, false, 1);
    p.record(5, 6, b"disk", 4);
    let path = std::env::temp_dir().join(format!("eddy-capture-{}.pcap", std::process::id()));
    std::fs::write(&path, &p.bytes).unwrap();
    let path_str = path.to_str().unwrap();
    let mut src = capture::open_file(path_str).unwrap();
    let mut n = 0;
    src.run(&mut |_| n += 1).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(n, 1);
    // Garbage on disk: the error names the path.
    std::fs::write(&path, b"not a capture").unwrap();
    let err = capture::open_file(path_str).map(|_| ()).unwrap_err();
    std::fs::remove_file(&path).unwrap();
    assert!(err.to_string().starts_with(path_str), "{err}");
}

// ---------------------------------------------------------------- pcapng

#[test]
fn pcapng_interfaces_with_link_types_and_resolutions() {
    for big in [false, true] {
        let mut ng = Ng::new(big);
        ng.idb(1, 65535, &[(9, vec![0x8a])]) // Ethernet, 2^-10 s
            .idb(101, 65535, &[(9, vec![9])]) // raw IP, ns
            .idb(1, 65535, &[]) // default: µs
            .epb(0, 1536, b"eth", 3) // 1.5 s
            .epb(1, 1_700_000_000_123_456_789, b"raw", 300)
            .epb(2, 1_700_000_000_123_456, b"usec", 4);
        let (frames, stats) = read_ok(&ng.bytes);
        assert_eq!(
            frames,
            vec![
                got(1_500_000_000, 3, LinkType::Ethernet, b"eth"),
                got(1_700_000_000_123_456_789, 300, LinkType::RawIp, b"raw"),
                got(1_700_000_000_123_456_000, 4, LinkType::Ethernet, b"usec"),
            ],
            "big={big}"
        );
        assert_eq!(stats.frames, 3);
    }
}

#[test]
fn pcapng_tsoffset_and_coarse_resolution() {
    let mut ng = Ng::new(false);
    let offset = 1_000_000_000u64.to_le_bytes().to_vec();
    ng.idb(1, 0, &[(9, vec![0]), (14, offset)]) // whole seconds, offset 1e9 s
        .epb(0, 7, b"x", 1);
    let (frames, _) = read_ok(&ng.bytes);
    assert_eq!(frames[0].ts_ns, 1_000_000_007 * 1_000_000_000);
}

#[test]
fn pcapng_simple_packet_blocks_reuse_the_last_timestamp() {
    let mut ng = Ng::new(false);
    ng.idb(1, 64, &[])
        .spb(b"before any timestamp", 20)
        .epb(0, 5_000_000, b"timed", 5)
        .spb(&[9; 64], 100) // snapped to the interface's 64 bytes
        .spb(b"short", 5);
    let (frames, _) = read_ok(&ng.bytes);
    let eth = LinkType::Ethernet;
    assert_eq!(
        frames,
        vec![
            got(0, 20, eth, b"before any timestamp"),
            got(5_000_000_000, 5, eth, b"timed"),
            got(5_000_000_000, 100, eth, &[9; 64]),
            got(5_000_000_000, 5, eth, b"short"),
        ]
    );
}

#[test]
fn pcapng_obsolete_packet_block() {
    let mut ng = Ng::new(true);
    ng.idb(1, 0, &[])
        .idb(113, 0, &[])
        .pb(1, 2_000_000, b"sll", 3);
    let (frames, _) = read_ok(&ng.bytes);
    assert_eq!(
        frames,
        vec![got(2_000_000_000, 3, LinkType::LinuxSll, b"sll")]
    );
}

#[test]
fn pcapng_unknown_blocks_are_skipped() {
    let mut ng = Ng::new(false);
    ng.block(4, &[0; 8]) // name resolution
        .idb(1, 0, &[])
        .block(5, &[0; 12]) // interface statistics
        .block(0x0000_0bad, b"custom")
        .block(0x4000_0bad, &[])
        .epb(0, 1, b"kept", 4);
    let (frames, stats) = read_ok(&ng.bytes);
    assert_eq!(frames.len(), 1);
    assert_eq!(stats.frames, 1);
}

#[test]
fn pcapng_sections_restart_interfaces_and_may_switch_byte_order() {
    let mut ng = Ng::new(false);
    ng.idb(1, 0, &[])
        .epb(0, 1_000_000, b"le", 2)
        .section(true)
        .idb(101, 0, &[])
        .epb(0, 2_000_000, b"be", 2)
        .section(true)
        .idb(229, 0, &[(9, vec![3])])
        .epb(0, 3000, b"be2", 3)
        .section(false)
        .idb(0, 0, &[])
        .epb(0, 4_000_000, b"le2", 3);
    let (frames, _) = read_ok(&ng.bytes);
    assert_eq!(
        frames,
        vec![
            got(1_000_000_000, 2, LinkType::Ethernet, b"le"),
            got(2_000_000_000, 2, LinkType::RawIp, b"be"),
            got(3_000_000_000, 3, LinkType::Ipv6, b"be2"),
            got(4_000_000_000, 3, LinkType::Null, b"le2"),
        ]
    );
    // Interface 1 of the first section does not exist in the second.
    let mut ng = Ng::new(false);
    ng.idb(1, 0, &[])
        .idb(1, 0, &[])
        .section(false)
        .idb(1, 0, &[])
        .epb(0, 1, b"ok", 2);
    let epb = ng.bytes.len() as u64;
    ng.epb(1, 1, b"bad", 3);
    check_format_error(
        &ng.bytes,
        epb + 8,
        "names interface 1 but the section describes 1",
    );
}

#[test]
fn pcapng_unsupported_link_is_counted() {
    let mut ng = Ng::new(false);
    ng.idb(1, 0, &[])
        .idb(127, 0, &[]) // radiotap
        .epb(1, 1, b"radio", 5)
        .epb(0, 1, b"eth", 3)
        .epb(1, 1, b"radio", 5);
    let (frames, stats) = read_ok(&ng.bytes);
    assert_eq!(frames.len(), 1);
    assert_eq!((stats.frames, stats.unsupported_link), (1, 2));
}

#[test]
fn pcapng_truncated_tail_ends_cleanly() {
    let mut ng = Ng::new(false);
    ng.idb(1, 0, &[])
        .epb(0, 1, &[1; 40], 40)
        .epb(0, 2, &[2; 40], 40);
    let full = ng.bytes.len();
    let block = 32 + 40;
    for (cut, frames, truncated) in [
        (full - 1, 1, 1),
        (full - 4, 1, 1),
        (full - block + 5, 1, 1),
        (full - block, 1, 0),
        (full - 2 * block, 0, 0),
        (20, 0, 1), // inside the section header
    ] {
        let (got, stats) = read_ok(&ng.bytes[..cut]);
        assert_eq!(got.len(), frames, "cut at {cut}");
        assert_eq!(stats.truncated_records, truncated, "cut at {cut}");
    }
}

#[test]
fn pcapng_length_errors_name_the_offset() {
    let mut base = Ng::new(false);
    base.idb(1, 0, &[]);
    let at = base.bytes.len() as u64;

    // Block length over the cap.
    let mut ng = Ng::new(false);
    ng.idb(1, 0, &[]);
    put32(&mut ng.bytes, false, 6);
    put32(&mut ng.bytes, false, (capture::MAX_PCAPNG_BLOCK + 4) as u32);
    ng.bytes.extend_from_slice(&[0; 64]);
    check_format_error(&ng.bytes, at + 4, "exceeds the cap of 16777216");

    // Block length not a multiple of 4, and too small.
    for len in [33u32, 8] {
        let mut ng = Ng::new(false);
        ng.idb(1, 0, &[]);
        put32(&mut ng.bytes, false, 6);
        put32(&mut ng.bytes, false, len);
        ng.bytes.extend_from_slice(&[0; 64]);
        check_format_error(&ng.bytes, at + 4, "not a multiple of 4");
    }

    // Trailer disagrees with the header.
    let mut ng = Ng::new(false);
    ng.idb(1, 0, &[]).epb(0, 1, b"abcd", 4);
    let n = ng.bytes.len();
    ng.bytes[n - 4] ^= 0x40;
    check_format_error(&ng.bytes, n as u64 - 4, "trailer");

    // Captured length past the end of the block.
    let mut ng = Ng::new(false);
    ng.idb(1, 0, &[]).epb(0, 1, b"abcd", 4);
    let caplen_at = at as usize + 20;
    ng.bytes[caplen_at] = 5;
    check_format_error(&ng.bytes, at + 20, "runs past the end");

    // Packet block shorter than its fixed fields.
    let mut ng = Ng::new(false);
    ng.idb(1, 0, &[]).block(6, &[0; 16]);
    check_format_error(&ng.bytes, at + 4, "shorter than 32");

    // Simple packet block before any interface.
    let mut ng = Ng::new(false);
    let spb_at = ng.bytes.len() as u64;
    ng.spb(b"x", 1);
    check_format_error(&ng.bytes, spb_at, "before any interface");

    // An option running past its block.
    let mut ng = Ng::new(false);
    let idb_at = ng.bytes.len();
    ng.idb(1, 0, &[(9, vec![6])]);
    ng.bytes[idb_at + 18] = 200; // option length
    check_format_error(&ng.bytes, idb_at as u64 + 18, "option 9 of 200 bytes");

    // Bad byte-order magic in the first and in a later section.
    let mut ng = Ng::new(false);
    ng.bytes[8] = 0;
    check_format_error(&ng.bytes, 8, "byte-order magic");
    let mut ng = Ng::new(false);
    ng.idb(1, 0, &[]).section(false);
    ng.bytes[at as usize + 8] = 0;
    check_format_error(&ng.bytes, at + 8, "byte-order magic");

    // Unsupported version.
    let mut ng = Ng::new(false);
    ng.bytes[12] = 2;
    check_format_error(&ng.bytes, 12, "unsupported pcapng version 2.0");
}

#[test]
fn pcapng_block_larger_than_the_read_buffer() {
    let big = vec![0xab; 5 << 20];
    let mut ng = Ng::new(false);
    ng.idb(1, 0, &[])
        .epb(0, 1, b"small", 5)
        .epb(0, 2, &big, big.len() as u32)
        .epb(0, 3, b"after", 5);
    let (frames, _) = read_ok(&ng.bytes);
    assert_eq!(frames.len(), 3);
    assert_eq!(frames[1].data, big);
    assert_eq!(frames[2].data, b"after");
}

// ---------------------------------------------------------------- buffering

/// A reader that hands out at most `chunk` bytes per call, like a pipe.
struct Trickle {
    bytes: Vec<u8>,
    pos: usize,
    chunk: usize,
}

impl Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.chunk).min(self.bytes.len() - self.pos);
        buf[..n].copy_from_slice(&self.bytes[self.pos..self.pos + n]);
        self.pos += n;
        // Vary the chunk so records straddle reads at every offset.
        self.chunk = self.chunk % 13 + 1;
        Ok(n)
    }
}

/// Records of varied sizes across several buffer refills keep their bytes.
#[test]
fn records_straddling_buffer_ends_keep_their_bytes() {
    let mut p = Pcap::new(false, false, 1);
    let mut expect = Vec::new();
    let mut total = 0;
    let mut i = 0u32;
    while total < (7 << 20) {
        let len = (i as usize * 7919) % 70_000;
        let data: Vec<u8> = (0..len).map(|j| (j as u32 ^ i) as u8).collect();
        p.record(i, 0, &data, len as u32);
        total += 16 + len;
        expect.push(data);
        i += 1;
    }
    let (frames, stats) = read_ok(&p.bytes);
    assert_eq!(stats.frames as usize, expect.len());
    for (n, (frame, data)) in frames.iter().zip(&expect).enumerate() {
        assert_eq!(&frame.data, data, "record {n}");
        assert_eq!(frame.ts_ns, n as u64 * 1_000_000_000);
    }
}

#[test]
fn small_reads_give_the_same_frames() {
    let mut ng = Ng::new(false);
    ng.idb(1, 0, &[]);
    let mut p = Pcap::new(true, true, 1);
    for i in 0..200u32 {
        let data = vec![i as u8; (i as usize * 37) % 300];
        ng.epb(0, u64::from(i), &data, data.len() as u32);
        p.record(i, i, &data, 999);
    }
    for bytes in [ng.bytes, p.bytes] {
        let whole = read_ok(&bytes);
        let trickle = Trickle {
            bytes,
            pos: 0,
            chunk: 1,
        };
        let piecemeal = read_with(Box::new(trickle), None).unwrap();
        assert_eq!(whole, piecemeal);
        assert_eq!(whole.1.frames, 200);
    }
}

/// A pcap file's records come in batches of those whole in the read
/// buffer, at most `MAX_BATCH`, never empty.
#[test]
fn pcap_records_come_in_batches() {
    let mut p = Pcap::new(false, false, 1);
    for i in 0..200u32 {
        p.record(i, 0, &[i as u8; 60], 60);
    }
    let batch_sizes = |reader: Box<dyn Read + Send>| {
        let mut src = open_reader(reader, "test.cap", None).unwrap_or_else(|e| panic!("{e}"));
        let mut sizes = Vec::new();
        src.run(&mut |ev| {
            if let Event::Frames(frames) = ev {
                sizes.push(frames.len());
            }
        })
        .unwrap_or_else(|e| panic!("{e}"));
        sizes
    };
    let whole = batch_sizes(Box::new(Cursor::new(p.bytes.clone())));
    assert_eq!(whole, [32, 32, 32, 32, 32, 32, 8]);
    assert_eq!(capture::MAX_BATCH, 32);
    let trickle = Trickle {
        bytes: p.bytes.clone(),
        pos: 0,
        chunk: 1,
    };
    let piecemeal = batch_sizes(Box::new(trickle));
    assert!(
        piecemeal.iter().all(|&n| (1..=32).contains(&n)),
        "{piecemeal:?}"
    );
    assert_eq!(piecemeal.iter().sum::<usize>(), 200);
}

/// A pcapng file's packet blocks come in batches too, split where another
/// block comes between them, with the same frames as one at a time.
#[test]
fn pcapng_packet_blocks_come_in_batches() {
    let mut ng = Ng::new(false);
    ng.idb(1, 0, &[]);
    for i in 0..40u32 {
        ng.epb(0, u64::from(i), &[i as u8; 60], 60);
    }
    ng.idb(1, 0, &[]);
    for i in 40..50u32 {
        ng.pb(1, u64::from(i), &[i as u8; 60], 60);
        ng.spb(&[i as u8; 60], 60);
    }
    let read_batches = |reader: Box<dyn Read + Send>| {
        let mut src = open_reader(reader, "test.cap", None).unwrap_or_else(|e| panic!("{e}"));
        let mut batches: Vec<Vec<(u64, Vec<u8>)>> = Vec::new();
        src.run(&mut |ev| {
            if let Event::Frames(frames) = ev {
                batches.push(frames.iter().map(|f| (f.ts_ns, f.data.to_vec())).collect());
            }
        })
        .unwrap_or_else(|e| panic!("{e}"));
        batches
    };
    let whole = read_batches(Box::new(Cursor::new(ng.bytes.clone())));
    let sizes: Vec<usize> = whole.iter().map(Vec::len).collect();
    assert_eq!(sizes, [32, 8, 20]);
    let trickle = Trickle {
        bytes: ng.bytes.clone(),
        pos: 0,
        chunk: 1,
    };
    let piecemeal = read_batches(Box::new(trickle));
    assert!(piecemeal.iter().all(|b| (1..=32).contains(&b.len())));
    let flat = |b: Vec<Vec<(u64, Vec<u8>)>>| b.into_iter().flatten().collect::<Vec<_>>();
    assert_eq!(flat(whole), flat(piecemeal));
}

#[test]
fn a_second_run_reads_nothing() {
    let mut p = Pcap::new(false, false, 1);
    p.record(1, 0, b"a", 1);
    let mut src = open_reader(Box::new(Cursor::new(p.bytes)), "x", None).unwrap();
    let mut n = 0;
    src.run(&mut |_| n += 1).unwrap();
    src.run(&mut |_| n += 1).unwrap();
    assert_eq!(n, 1);
}

// ---------------------------------------------------------------- filters

#[cfg(not(feature = "libpcap"))]
#[test]
fn filters_need_libpcap() {
    let p = Pcap::new(false, false, 1);
    match read_with(Box::new(Cursor::new(p.bytes)), Some("udp")) {
        Err(CaptureError::Unsupported(m)) => {
            assert_eq!(m, "BPF filters need eddy built with the libpcap feature")
        }
        other => panic!("{other:?}"),
    }
    let err = capture::open_file_filtered("/nonexistent", Some("udp"))
        .map(|_| ())
        .unwrap_err();
    assert!(matches!(err, CaptureError::Unsupported(_)), "{err:?}");
}

#[cfg(feature = "libpcap")]
mod filters {
    use super::*;

    /// An Ethernet + IPv4 + UDP frame to `dst_port` with `payload`.
    fn udp_frame(dst_port: u16, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00];
        f.extend_from_slice(&udp_ip(dst_port, payload));
        f
    }

    /// An IPv4 + UDP packet (the frame of a raw IP link).
    fn udp_ip(dst_port: u16, payload: &[u8]) -> Vec<u8> {
        let total = (20 + 8 + payload.len()) as u16;
        let mut p = vec![0x45, 0];
        p.extend_from_slice(&total.to_be_bytes());
        p.extend_from_slice(&[0, 1, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
        p.extend_from_slice(&40000u16.to_be_bytes());
        p.extend_from_slice(&dst_port.to_be_bytes());
        p.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        p.extend_from_slice(&[0, 0]);
        p.extend_from_slice(payload);
        p
    }

    #[test]
    fn pcap_filter_keeps_matching_frames_and_counts_the_rest() {
        let mut p = Pcap::new(false, false, 1);
        p.record(1, 0, &udp_frame(53, b"dns"), 45)
            .record(2, 0, &udp_frame(80, b"web"), 45)
            .record(3, 0, &udp_frame(53, b"dns2"), 46);
        let (frames, stats) =
            read_with(Box::new(Cursor::new(p.bytes)), Some("udp port 53")).unwrap();
        assert_eq!(frames.len(), 2);
        assert!(frames
            .iter()
            .all(|f| f.data.ends_with(b"dns") || f.data.ends_with(b"dns2")));
        assert_eq!((stats.frames, stats.filtered), (2, 1));
    }

    #[test]
    fn pcapng_filter_compiles_per_link_type() {
        let mut ng = Ng::new(false);
        ng.idb(1, 0, &[])
            .idb(101, 0, &[])
            .epb(0, 1, &udp_frame(53, b"a"), 100)
            .epb(1, 1, &udp_ip(53, b"b"), 100)
            .epb(0, 1, &udp_frame(54, b"c"), 100)
            .epb(1, 1, &udp_ip(54, b"d"), 100);
        let (frames, stats) =
            read_with(Box::new(Cursor::new(ng.bytes)), Some("udp dst port 53")).unwrap();
        let links: Vec<_> = frames.iter().map(|f| f.link).collect();
        assert_eq!(links, vec![LinkType::Ethernet, LinkType::RawIp]);
        assert_eq!((stats.frames, stats.filtered), (2, 2));
    }

    #[test]
    fn a_bad_filter_reports_libpcap_message() {
        let p = Pcap::new(false, false, 1);
        match read_with(Box::new(Cursor::new(p.bytes)), Some("udp prot 53")) {
            Err(CaptureError::Filter { expr, message }) => {
                assert_eq!(expr, "udp prot 53");
                assert!(message.contains("syntax error"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_filter_that_does_not_fit_a_later_link_type_fails_the_run() {
        let mut ng = Ng::new(false);
        ng.idb(1, 0, &[])
            .epb(0, 1, &udp_frame(53, b"a"), 100)
            .idb(101, 0, &[])
            .epb(1, 1, &udp_ip(53, b"b"), 100);
        let mut src = open_reader(
            Box::new(Cursor::new(ng.bytes)),
            "t",
            Some("ether src 02:00:00:00:00:02"),
        )
        .unwrap();
        let mut n = 0;
        let err = src.run(&mut |_| n += 1).unwrap_err();
        assert_eq!(n, 1);
        assert!(matches!(err, CaptureError::Filter { .. }), "{err:?}");
        assert!(err.to_string().contains("link type 101"), "{err}");
    }

    #[test]
    fn unsupported_frames_are_not_filtered() {
        let mut p = Pcap::new(false, false, 105);
        p.record(1, 0, b"wifi", 4);
        let (_, stats) = read_with(Box::new(Cursor::new(p.bytes)), Some("udp")).unwrap();
        assert_eq!((stats.unsupported_link, stats.filtered), (1, 0));
    }
}
