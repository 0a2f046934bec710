//! Address anonymisation: Crypto-PAn (prefix-preserving) and truncation.
//!
//! # Crypto-PAn
//!
//! Xu, Fan, Ammar, Moon, "Prefix-Preserving IP Address Anonymization:
//! Measurement-based Security Evaluation and a New Cryptography-based Scheme"
//! (ICNP 2002); the byte-level details (key layout, pad, which output bit is
//! used) follow Jinliang Fan's reference implementation, Crypto-PAn 1.0:
//!
//! - the 32-byte key: bytes 0..16 are the AES-128 key, bytes 16..32
//!   encrypted once with that key give the 16-byte *pad*;
//! - for every bit position `i` of the address (most significant first), the
//!   block "the first `i` bits of the address, then the pad's bits from `i`
//!   on" is encrypted; the most significant bit of the ciphertext is the
//!   `i`-th bit of a one-time pad that is XORed onto the address.
//!
//! Bit `i` of the output depends only on the first `i + 1` bits of the input,
//! hence two addresses sharing exactly `n` leading bits map to outputs sharing
//! exactly `n` leading bits.
//!
//! IPv6 is the same construction over all 128 bits (an IPv4 address is the
//! first 32 bits of the block, so IPv4 is IPv6 truncated to 32 positions).
//! This is how yacryptopan (Python), Yawning Angel's Go `cryptopan`, libanon
//! and node-cryptopan extend it; their published IPv6 vectors pass here (see
//! `test_data/enrich/cryptopan_vectors.txt`).
//!
//! ## Speed
//!
//! The straightforward algorithm costs one AES block per address bit (32 for
//! IPv4, 128 for IPv6). The blocks of one address do not depend on each other,
//! so they are encrypted as one batch (AES-NI pipelines eight at a time).
//! On top of that, since the first 16 output bits depend only on the first 16
//! input bits, [`CryptoPan::new`] precomputes them for all 65 536 prefixes
//! (65 535 distinct AES blocks, one per node of the prefix tree, a 128 KiB
//! table): an IPv4 address then costs 16 blocks, an IPv6 address 112.
//! [`CryptoPan::with_prefix_bits`] extends the table to 24 bits (a 2 MiB
//! bitmap of the tree levels 16..24, 16.7 M blocks at start): IPv4 then costs 8
//! blocks. `examples/anon_speed.rs` measures all variants; on the
//! development machine (one core of two shared, AES-NI detected at run time,
//! random addresses): IPv4 plain 12.6 M addresses/s, 16-bit table 24 M/s,
//! 24-bit table 36 M/s; IPv6 2.7 M/s. A collector stage should use the 24-bit
//! table (50-70 ms and 2 MiB at start); tools anonymising a few addresses
//! the default.

use std::fmt;
use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};

use aes::cipher::{BlockEncrypt, KeyInit};
use aes::{Aes128, Block};
use record::FlowRecord;

/// Why a Crypto-PAn key could not be read.
#[derive(Debug)]
pub enum KeyError {
    /// The key file could not be read.
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The content is neither 32 raw bytes nor 64 hex characters.
    Length { path: PathBuf, len: usize },
    /// 64 characters, but one is not a hex digit.
    Hex {
        path: PathBuf,
        offset: usize,
        byte: u8,
    },
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::Io { path, source } => {
                write!(
                    f,
                    "cannot read Crypto-PAn key file {}: {source}",
                    path.display()
                )
            }
            KeyError::Length { path, len } => write!(
                f,
                "Crypto-PAn key file {}: {len} bytes; expected 32 raw bytes or 64 hex \
                 characters (optionally followed by a newline)",
                path.display()
            ),
            KeyError::Hex { path, offset, byte } => write!(
                f,
                "Crypto-PAn key file {}: byte {byte:#04x} at offset {offset} is not a hex digit \
                 (a 64-byte key file must be 64 hex characters)",
                path.display()
            ),
        }
    }
}

impl std::error::Error for KeyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            KeyError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Parses the content of a key file: exactly 32 bytes are taken as the raw
/// key; otherwise one trailing `\n` or `\r\n` is removed and 64 hex
/// characters (either case) are expected. `path` only labels errors.
pub fn parse_key(content: &[u8], path: &Path) -> Result<[u8; 32], KeyError> {
    let mut key = [0u8; 32];
    if content.len() == 32 {
        key.copy_from_slice(content);
        return Ok(key);
    }
    let text = content
        .strip_suffix(b"\r\n")
        .or_else(|| content.strip_suffix(b"\n"))
        .unwrap_or(content);
    if text.len() != 64 {
        return Err(KeyError::Length {
            path: path.to_owned(),
            len: content.len(),
        });
    }
    let nibble = |offset: usize| -> Result<u8, KeyError> {
        let byte = text[offset];
        match byte {
            b'0'..=b'9' => Ok(byte - b'0'),
            b'a'..=b'f' => Ok(byte - b'a' + 10),
            b'A'..=b'F' => Ok(byte - b'A' + 10),
            _ => Err(KeyError::Hex {
                path: path.to_owned(),
                offset,
                byte,
            }),
        }
    };
    for (i, out) in key.iter_mut().enumerate() {
        *out = nibble(2 * i)? << 4 | nibble(2 * i + 1)?;
    }
    Ok(key)
}

/// Number of prefix bits [`CryptoPan::new`] precomputes.
const TABLE_BITS: u32 = 16;

/// A Crypto-PAn anonymiser. Cheap to share between threads (`&self`
/// everywhere); building it costs about 65 000 AES blocks (a millisecond).
#[derive(Clone)]
pub struct CryptoPan {
    cipher: Aes128,
    /// The encrypted pad, as a big-endian number.
    pad: u128,
    /// Anonymised first 16 bits for every 16-bit prefix.
    top16: Box<[u16]>,
    /// With the 24-bit table: the one-time-pad bit of every prefix-tree node
    /// of levels 16..24 (see [`CryptoPan::level_bit`] for the layout).
    level24: Option<Box<[u64]>>,
}

impl fmt::Debug for CryptoPan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print key material.
        f.debug_struct("CryptoPan")
            .field("prefix_bits", &self.prefix_bits())
            .finish_non_exhaustive()
    }
}

#[inline]
fn hi_mask(bits: u32) -> u128 {
    // `bits` leading ones; 0 gives 0 (a shift by 128 would overflow).
    if bits == 0 {
        0
    } else {
        u128::MAX << (128 - bits)
    }
}

impl CryptoPan {
    /// A Crypto-PAn instance for `key` (bytes 0..16 the AES key, 16..32 the
    /// pad seed, as the reference implementation), with the 16-bit prefix table.
    pub fn new(key: &[u8; 32]) -> Self {
        let cipher = Aes128::new_from_slice(&key[..16]).expect("16-byte AES key");
        let mut pad = Block::clone_from_slice(&key[16..]);
        cipher.encrypt_block(&mut pad);
        let pad = u128::from_be_bytes(pad.into());
        let mut cp = CryptoPan {
            cipher,
            pad,
            top16: Box::new([]),
            level24: None,
        };
        cp.top16 = cp.build_top16();
        cp
    }

    /// Like [`CryptoPan::new`] with a choice of precomputed prefix bits: 16
    /// (the default) or 24 (a further 2 MiB and about 16.7 M AES blocks at
    /// start, tens of milliseconds with AES-NI; IPv4 then needs 8 blocks per
    /// address instead of 16). Other values are rounded down to one of those.
    pub fn with_prefix_bits(key: &[u8; 32], bits: u8) -> Self {
        let mut cp = Self::new(key);
        if bits >= 24 {
            cp.level24 = Some(cp.build_level24());
        }
        cp
    }

    /// Reads a key file: 32 raw bytes, or 64 hex characters with an optional
    /// trailing newline.
    pub fn from_key_file(path: impl AsRef<Path>) -> Result<Self, KeyError> {
        let path = path.as_ref();
        let content = std::fs::read(path).map_err(|source| KeyError::Io {
            path: path.to_owned(),
            source,
        })?;
        Ok(Self::new(&parse_key(&content, path)?))
    }

    /// How many leading bits are served from the precomputed tables.
    pub fn prefix_bits(&self) -> u8 {
        if self.level24.is_some() {
            24
        } else {
            TABLE_BITS as u8
        }
    }

    /// The AES input block for bit position `pos` of the (left-aligned) address `a`.
    #[inline(always)]
    fn block(&self, a: u128, pos: u32) -> Block {
        let m = hi_mask(pos);
        Block::from(((a & m) | (self.pad & !m)).to_be_bytes())
    }

    /// One-time-pad bits for positions `from..to` of the left-aligned address
    /// `a`, returned left-aligned at their positions (bit `pos` of the result
    /// counted from the most significant). `to - from <= 128`.
    #[inline(always)]
    fn otp_bits<const N: usize>(&self, a: u128, from: u32) -> u128 {
        let mut blocks = [Block::default(); N];
        for (i, b) in blocks.iter_mut().enumerate() {
            *b = self.block(a, from + i as u32);
        }
        self.cipher.encrypt_blocks(&mut blocks);
        let mut otp = 0u128;
        for (i, b) in blocks.iter().enumerate() {
            otp |= ((b[0] >> 7) as u128) << (127 - (from + i as u32));
        }
        otp
    }

    fn build_top16(&self) -> Box<[u16]> {
        // One pad bit per node of the prefix tree, level by level: node
        // (level i, prefix q of i bits) sits at index (1 << i) + q.
        let mut node_bit = vec![0u8; 1 << TABLE_BITS];
        let mut blocks = vec![Block::default(); 1 << (TABLE_BITS - 1)];
        for level in 0..TABLE_BITS {
            let n = 1usize << level;
            for (q, b) in blocks[..n].iter_mut().enumerate() {
                let a = if level == 0 {
                    0
                } else {
                    (q as u128) << (128 - level)
                };
                *b = self.block(a, level);
            }
            self.cipher.encrypt_blocks(&mut blocks[..n]);
            for (q, b) in blocks[..n].iter().enumerate() {
                node_bit[n + q] = b[0] >> 7;
            }
        }
        let mut table = vec![0u16; 1 << TABLE_BITS];
        for (p, out) in table.iter_mut().enumerate() {
            let mut otp = 0u16;
            for level in 0..TABLE_BITS {
                let q = p >> (TABLE_BITS - level);
                otp |= (node_bit[(1 << level) + q] as u16) << (15 - level);
            }
            *out = p as u16 ^ otp;
        }
        table.into_boxed_slice()
    }

    /// Bit index in `level24` of tree node (level `16 + j`, prefix `q` of
    /// `16 + j` bits): `(1 << (16 + j)) + q - (1 << 16)`, levels 16..24 stored
    /// one after the other.
    #[inline(always)]
    fn level_bit(level24: &[u64], level: u32, q: u32) -> u32 {
        let idx = ((1u32 << level) + q - (1 << TABLE_BITS)) as usize;
        ((level24[idx / 64] >> (idx % 64)) & 1) as u32
    }

    fn build_level24(&self) -> Box<[u64]> {
        let total = (1usize << 24) - (1 << TABLE_BITS);
        let mut bits = vec![0u64; total.div_ceil(64)];
        let mut blocks = [Block::default(); 256];
        for level in TABLE_BITS..24 {
            let n = 1u32 << level;
            let base = (n - (1 << TABLE_BITS)) as usize;
            let mut q = 0u32;
            while q < n {
                for (k, b) in blocks.iter_mut().enumerate() {
                    let a = ((q + k as u32) as u128) << (128 - level);
                    *b = self.block(a, level);
                }
                self.cipher.encrypt_blocks(&mut blocks);
                for (k, b) in blocks.iter().enumerate() {
                    let idx = base + (q as usize) + k;
                    bits[idx / 64] |= ((b[0] >> 7) as u64) << (idx % 64);
                }
                q += 256;
            }
        }
        bits.into_boxed_slice()
    }

    /// The plain algorithm, one AES block per bit and no tables: the
    /// reference the fast paths are tested against, and the baseline of
    /// `examples/anon_speed.rs`.
    pub fn anonymize_v4_uncached(&self, addr: u32) -> u32 {
        let a = (addr as u128) << 96;
        let otp = self.otp_bits::<32>(a, 0);
        ((a ^ otp) >> 96) as u32
    }

    /// The plain algorithm for IPv6 (128 AES blocks, no tables).
    pub fn anonymize_v6_uncached(&self, addr: u128) -> u128 {
        addr ^ self.otp_bits::<128>(addr, 0)
    }

    /// Anonymises an IPv4 address (host-order number: `a.b.c.d` is
    /// `a << 24 | b << 16 | c << 8 | d`).
    #[inline]
    pub fn anonymize_v4(&self, addr: u32) -> u32 {
        let top = (self.top16[(addr >> 16) as usize] as u32) << 16;
        let low = match &self.level24 {
            None => {
                let a = (addr as u128) << 96;
                let otp = (self.otp_bits::<16>(a, 16) >> 96) as u32;
                (addr ^ otp) & 0xffff
            }
            Some(level24) => {
                let mut otp = 0u32;
                for level in TABLE_BITS..24 {
                    otp |= Self::level_bit(level24, level, addr >> (32 - level)) << (31 - level);
                }
                let a = (addr as u128) << 96;
                otp |= (self.otp_bits::<8>(a, 24) >> 96) as u32;
                (addr ^ otp) & 0xffff
            }
        };
        top | low
    }

    /// Anonymises an IPv6 address (big-endian number, as `u128::from(Ipv6Addr)`).
    #[inline]
    pub fn anonymize_v6(&self, addr: u128) -> u128 {
        let top = (self.top16[(addr >> 112) as usize] as u128) << 112;
        let otp = self.otp_bits::<112>(addr, 16);
        top | ((addr ^ otp) & (u128::MAX >> 16))
    }

    /// Anonymises a record address: IPv4-mapped addresses as IPv4 (the
    /// result stays IPv4-mapped), everything else as IPv6.
    #[inline]
    pub fn anonymize_ip(&self, ip: Ipv6Addr) -> Ipv6Addr {
        match ip.to_ipv4_mapped() {
            Some(v4) => self.anonymize_v4(v4.into()).into_mapped(),
            None => Ipv6Addr::from(self.anonymize_v6(ip.into())),
        }
    }

    /// Anonymises the record's source and destination addresses (not the
    /// exporter address).
    #[inline]
    pub fn anonymize(&self, rec: &mut FlowRecord) {
        rec.src_ip = self.anonymize_ip(rec.src_ip);
        rec.dst_ip = self.anonymize_ip(rec.dst_ip);
    }
}

trait IntoMapped {
    fn into_mapped(self) -> Ipv6Addr;
}

impl IntoMapped for u32 {
    #[inline]
    fn into_mapped(self) -> Ipv6Addr {
        std::net::Ipv4Addr::from(self).to_ipv6_mapped()
    }
}

/// Truncation: keeps the first `v4_bits` of IPv4 addresses and the first
/// `v6_bits` of IPv6 addresses and zeroes the rest. Not prefix-*hiding*: the
/// kept network part is visible, the host part is gone (irreversibly).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Truncate {
    /// Kept IPv4 bits, 0..=32 (larger values keep everything).
    pub v4_bits: u8,
    /// Kept IPv6 bits, 0..=128 (larger values keep everything).
    pub v6_bits: u8,
}

impl Default for Truncate {
    /// /24 for IPv4 and /48 for IPv6: a customer site stays recognisable,
    /// a host does not.
    fn default() -> Self {
        Truncate {
            v4_bits: 24,
            v6_bits: 48,
        }
    }
}

impl Truncate {
    /// Truncates one record address (IPv4-mapped addresses as IPv4, staying mapped).
    #[inline]
    pub fn anonymize_ip(&self, ip: Ipv6Addr) -> Ipv6Addr {
        match ip.to_ipv4_mapped() {
            Some(v4) => {
                let bits = u32::from(self.v4_bits.min(32));
                let mask = if bits == 0 {
                    0
                } else {
                    u32::MAX << (32 - bits)
                };
                (u32::from(v4) & mask).into_mapped()
            }
            None => {
                let mask = hi_mask(u32::from(self.v6_bits.min(128)));
                Ipv6Addr::from(u128::from(ip) & mask)
            }
        }
    }

    /// Truncates the record's source and destination addresses.
    #[inline]
    pub fn anonymize(&self, rec: &mut FlowRecord) {
        rec.src_ip = self.anonymize_ip(rec.src_ip);
        rec.dst_ip = self.anonymize_ip(rec.dst_ip);
    }
}

/// The anonymisation a stage applies, whichever method was configured.
#[derive(Clone, Debug)]
pub enum Anonymizer {
    CryptoPan(Box<CryptoPan>),
    Truncate(Truncate),
}

impl Anonymizer {
    /// Anonymises the record's source and destination addresses in place.
    #[inline]
    pub fn apply(&self, rec: &mut FlowRecord) {
        match self {
            Anonymizer::CryptoPan(cp) => cp.anonymize(rec),
            Anonymizer::Truncate(t) => t.anonymize(rec),
        }
    }

    /// Anonymises one address as [`Anonymizer::apply`] would.
    #[inline]
    pub fn anonymize_ip(&self, ip: Ipv6Addr) -> Ipv6Addr {
        match self {
            Anonymizer::CryptoPan(cp) => cp.anonymize_ip(ip),
            Anonymizer::Truncate(t) => t.anonymize_ip(ip),
        }
    }
}

impl From<CryptoPan> for Anonymizer {
    fn from(cp: CryptoPan) -> Self {
        Anonymizer::CryptoPan(Box::new(cp))
    }
}

impl From<Truncate> for Anonymizer {
    fn from(t: Truncate) -> Self {
        Anonymizer::Truncate(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const HEX: &str = "1522178d33a4cf80130a5b1649907d10d8988f837979652762574c2d2a842202";

    fn p() -> &'static Path {
        Path::new("k")
    }

    #[test]
    fn key_raw_and_hex() {
        let raw: Vec<u8> = (0..32).collect();
        assert_eq!(parse_key(&raw, p()).unwrap().to_vec(), raw);
        let want = parse_key(HEX.as_bytes(), p()).unwrap();
        assert_eq!(want[0], 21);
        assert_eq!(want[31], 2);
        for text in [format!("{HEX}\n"), format!("{HEX}\r\n"), HEX.to_uppercase()] {
            assert_eq!(parse_key(text.as_bytes(), p()).unwrap(), want);
        }
        // A 32-character text key is raw bytes (as yacryptopan's examples).
        let text = b"32-char-str-for-AES-key-and-pad.";
        assert_eq!(&parse_key(text, p()).unwrap(), text);
    }

    #[test]
    fn key_errors() {
        for len in [0usize, 16, 31, 33, 63, 66, 100] {
            let content = vec![b'a'; len];
            match parse_key(&content, p()) {
                Err(KeyError::Length { len: l, .. }) => assert_eq!(l, len),
                other => panic!("{len} bytes: {other:?}"),
            }
        }
        // Text key with a newline: 33 bytes, a length error naming the file.
        let err = parse_key(b"32-char-str-for-AES-key-and-pad.\n", p()).unwrap_err();
        assert!(err.to_string().contains("33 bytes"), "{err}");
        let mut bad = HEX.as_bytes().to_vec();
        bad[10] = b'g';
        match parse_key(&bad, p()) {
            Err(KeyError::Hex {
                offset: 10,
                byte: b'g',
                ..
            }) => {}
            other => panic!("{other:?}"),
        }
        // Two newlines: not stripped twice.
        let two = format!("{HEX}\n\n");
        assert!(matches!(
            parse_key(two.as_bytes(), p()),
            Err(KeyError::Length { len: 66, .. })
        ));
    }

    #[test]
    fn key_file() {
        let dir = std::env::temp_dir().join(format!("enrich-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let hex = dir.join("hex.key");
        std::fs::write(&hex, format!("{HEX}\n")).unwrap();
        let cp = CryptoPan::from_key_file(&hex).unwrap();
        assert_eq!(
            cp.anonymize_v4(u32::from(Ipv4Addr::new(128, 11, 68, 132))),
            u32::from(Ipv4Addr::new(135, 242, 180, 132))
        );
        let short = dir.join("short.key");
        std::fs::write(&short, [1u8; 20]).unwrap();
        let err = CryptoPan::from_key_file(&short).unwrap_err();
        assert!(
            err.to_string().contains("short.key") && err.to_string().contains("20 bytes"),
            "{err}"
        );
        let missing = CryptoPan::from_key_file(dir.join("missing.key")).unwrap_err();
        assert!(matches!(missing, KeyError::Io { .. }), "{missing}");
        std::fs::remove_dir_all(&dir).unwrap();
        // Debug never shows the key.
        assert!(!format!("{cp:?}").contains("15"), "{cp:?}");
    }

    #[test]
    fn truncate() {
        let t = Truncate::default();
        let v4 = Ipv4Addr::new(192, 0, 2, 77).to_ipv6_mapped();
        assert_eq!(
            t.anonymize_ip(v4),
            Ipv4Addr::new(192, 0, 2, 0).to_ipv6_mapped()
        );
        let v6: Ipv6Addr = "2001:db8:1234:5678::1".parse().unwrap();
        assert_eq!(
            t.anonymize_ip(v6),
            "2001:db8:1234::".parse::<Ipv6Addr>().unwrap()
        );
        let t = Truncate {
            v4_bits: 0,
            v6_bits: 0,
        };
        assert_eq!(t.anonymize_ip(v4), Ipv4Addr::UNSPECIFIED.to_ipv6_mapped());
        assert_eq!(t.anonymize_ip(v6), Ipv6Addr::UNSPECIFIED);
        let t = Truncate {
            v4_bits: 200,
            v6_bits: 200,
        };
        assert_eq!(t.anonymize_ip(v4), v4);
        assert_eq!(t.anonymize_ip(v6), v6);
        let t = Truncate {
            v4_bits: 13,
            v6_bits: 13,
        };
        assert_eq!(
            t.anonymize_ip(v4),
            Ipv4Addr::new(192, 0, 0, 0).to_ipv6_mapped()
        );
        assert_eq!(t.anonymize_ip(v6), "2000::".parse::<Ipv6Addr>().unwrap());

        let mut rec = FlowRecord {
            src_ip: v4,
            dst_ip: v6,
            exporter: v6,
            ..FlowRecord::default()
        };
        Anonymizer::from(Truncate::default()).apply(&mut rec);
        assert_eq!(rec.src_ip, Ipv4Addr::new(192, 0, 2, 0).to_ipv6_mapped());
        assert_eq!(rec.dst_ip, "2001:db8:1234::".parse::<Ipv6Addr>().unwrap());
        assert_eq!(rec.exporter, v6, "the exporter address is not anonymised");
    }

    #[test]
    fn cryptopan_record_families() {
        let key = parse_key(HEX.as_bytes(), p()).unwrap();
        let a = Anonymizer::from(CryptoPan::new(&key));
        let v6: Ipv6Addr = "2001:db8::1".parse().unwrap();
        let mut rec = FlowRecord {
            src_ip: Ipv4Addr::new(128, 11, 68, 132).to_ipv6_mapped(),
            dst_ip: v6,
            ..FlowRecord::default()
        };
        a.apply(&mut rec);
        assert_eq!(
            rec.src_ip,
            Ipv4Addr::new(135, 242, 180, 132).to_ipv6_mapped()
        );
        assert_eq!(
            rec.dst_ip,
            "4401:2bc:603f:d91d:27f:ff8e:e6f1:dc1e"
                .parse::<Ipv6Addr>()
                .unwrap()
        );
    }

    #[test]
    fn table_matches_plain_algorithm() {
        let key = parse_key(HEX.as_bytes(), p()).unwrap();
        let cp = CryptoPan::new(&key);
        // Every 16-bit prefix, with a varying host part.
        for hi in 0..=0xffffu32 {
            let a = hi << 16 | (hi.wrapping_mul(2654435761) & 0xffff);
            if hi % 64 == 0 {
                assert_eq!(cp.anonymize_v4(a), cp.anonymize_v4_uncached(a), "{a:#x}");
            } else {
                assert_eq!(
                    cp.anonymize_v4(a) >> 16,
                    cp.anonymize_v4_uncached(a & 0xffff_0000) >> 16
                );
            }
        }
    }
}
