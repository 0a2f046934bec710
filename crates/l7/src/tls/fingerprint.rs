//! JA3 and JA4 client fingerprints of a ClientHello.
//!
//! JA3 (Salesforce): MD5 of
//! `SSLVersion,Ciphers,Extensions,EllipticCurves,EllipticCurvePointFormats`
//! in decimal, `-` joined, GREASE values skipped.
//! JA4 (FoxIO): `t13d1516h2_8daaf6152771_b186095e22b6`, see [`ja4_of`].
//!
//! Both run once per ClientHello, so they are built for speed: numbers are
//! written with lookup tables into a [`Text`] buffer on the stack that
//! feeds the hash in large pieces, lists are sorted as `u16` on the stack
//! ([`U16List`]), and the only allocations are the two result strings.

use md5::{Digest, Md5};
use sha2::Sha256;

use crate::FieldStr;

use super::parser::{
    is_grease, ClientExtensions, ClientHello, Ssl2ClientHello, U16List, EXT_ALPN, EXT_SERVER_NAME,
};

/// Most list entries a fingerprint looks at; a ClientHello fits in
/// [`crate::MAX_BUFFER`], so this only bounds the sort buffers.
const MAX_ENTRIES: usize = crate::MAX_BUFFER / 2;

/// `"00"` to `"99"`: two decimal digits at `2 * n`.
const DECIMAL_PAIRS: [u8; 200] = {
    let mut out = [0u8; 200];
    let mut n = 0;
    while n < 100 {
        out[2 * n] = b'0' + (n / 10) as u8;
        out[2 * n + 1] = b'0' + (n % 10) as u8;
        n += 1;
    }
    out
};

/// `"00"` to `"ff"`: the two lowercase hex digits of byte `b` at `2 * b`.
const HEX_PAIRS: [u8; 512] = {
    let digits = b"0123456789abcdef";
    let mut out = [0u8; 512];
    let mut b = 0;
    while b < 256 {
        out[2 * b] = digits[b >> 4];
        out[2 * b + 1] = digits[b & 0x0f];
        b += 1;
    }
    out
};

/// Where finished [`Text`] bytes go: a hash, or a byte vector in tests.
pub trait Absorb {
    fn absorb(&mut self, bytes: &[u8]);
}

impl Absorb for Md5 {
    fn absorb(&mut self, bytes: &[u8]) {
        self.update(bytes);
    }
}

impl Absorb for Sha256 {
    fn absorb(&mut self, bytes: &[u8]) {
        self.update(bytes);
    }
}

impl Absorb for Vec<u8> {
    fn absorb(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// Bytes held before they go to the sink; a typical JA3 string fits.
const TEXT_BUFFER: usize = 256;

/// ASCII text written piece by piece into a stack buffer and handed to its
/// sink [`TEXT_BUFFER`] bytes at a time, so text of any length costs no
/// allocation.
pub struct Text<A: Absorb> {
    buf: [u8; TEXT_BUFFER],
    len: usize,
    sink: A,
}

impl<A: Absorb> Text<A> {
    pub fn new(sink: A) -> Self {
        Text {
            buf: [0; TEXT_BUFFER],
            len: 0,
            sink,
        }
    }

    /// Makes room for `N` (at most [`TEXT_BUFFER`]) more bytes.
    #[inline(always)]
    fn room<const N: usize>(&mut self) -> &mut [u8; N] {
        if self.len + N > TEXT_BUFFER {
            self.flush();
        }
        let at = self.len;
        // In range: `at + N <= TEXT_BUFFER` after the flush above.
        <&mut [u8; N]>::try_from(&mut self.buf[at..at + N]).unwrap_or_else(|_| unreachable!())
    }

    #[inline(always)]
    fn byte(&mut self, b: u8) {
        self.room::<1>()[0] = b;
        self.len += 1;
    }

    /// `value` in decimal, after `sep` unless it is 0.
    #[inline(always)]
    fn decimal(&mut self, sep: u8, value: u32) {
        let out = self.room::<11>();
        let at = usize::from(sep != 0);
        out[0] = sep;
        let digits = &mut out[at..];
        let v = value as usize;
        let n = if v < 10 {
            digits[0] = b'0' + v as u8;
            1
        } else if v < 100 {
            digits[..2].copy_from_slice(&pair(v));
            2
        } else if v < 1000 {
            digits[0] = b'0' + (v / 100) as u8;
            digits[1..3].copy_from_slice(&pair(v % 100));
            3
        } else if v < 10_000 {
            digits[..2].copy_from_slice(&pair(v / 100));
            digits[2..4].copy_from_slice(&pair(v % 100));
            4
        } else if v < 100_000 {
            digits[0] = b'0' + (v / 10_000) as u8;
            digits[1..3].copy_from_slice(&pair(v / 100 % 100));
            digits[3..5].copy_from_slice(&pair(v % 100));
            5
        } else {
            long_decimal(value, digits)
        };
        self.len += at + n;
    }

    /// `value` as four lowercase hex digits, after `sep` unless it is 0.
    #[inline(always)]
    fn hex4(&mut self, sep: u8, value: u16) {
        let out = self.room::<5>();
        let [hi, lo] = value.to_be_bytes();
        let (hi, lo) = (usize::from(hi) * 2, usize::from(lo) * 2);
        let at = usize::from(sep != 0);
        out[0] = sep;
        out[at..at + 2].copy_from_slice(&HEX_PAIRS[hi..hi + 2]);
        out[at + 2..at + 4].copy_from_slice(&HEX_PAIRS[lo..lo + 2]);
        self.len += at + 4;
    }

    /// Hands over what is left and returns the sink.
    #[cfg(test)]
    pub fn finish(mut self) -> A {
        self.flush();
        self.sink
    }

    /// Hands over what is left.
    fn flush(&mut self) {
        self.sink.absorb(&self.buf[..self.len]);
        self.len = 0;
    }
}

impl<D: Absorb + Digest + md5::digest::FixedOutputReset> Text<D> {
    /// The digest of the text, without moving the buffer.
    fn digest(&mut self) -> md5::digest::Output<D> {
        self.flush();
        self.sink.finalize_reset()
    }
}

/// Longest text a [`Memo`] keeps to look up; longer texts stream into the
/// hash and are not remembered. Typical JA3 strings are 100 to 300 bytes.
const MEMO_TEXT: usize = 1024;

/// A hash sink that keeps the text, so that a text hashed before (clients
/// send the same few ClientHellos over and over) is looked up in a
/// [`DigestCache`] instead of hashed again.
struct Memo<D> {
    text: [u8; MEMO_TEXT],
    len: usize,
    /// The text outgrew `text` and went to `digest`.
    streaming: bool,
    digest: D,
}

impl<D: Digest> Memo<D> {
    fn new() -> Self {
        Memo {
            text: [0; MEMO_TEXT],
            len: 0,
            streaming: false,
            digest: D::new(),
        }
    }
}

impl<D: Digest> Absorb for Memo<D> {
    fn absorb(&mut self, bytes: &[u8]) {
        if !self.streaming {
            if let Some(room) = self.text.get_mut(self.len..self.len + bytes.len()) {
                room.copy_from_slice(bytes);
                self.len += bytes.len();
                return;
            }
            self.streaming = true;
            self.digest.update(&self.text[..self.len]);
        }
        self.digest.update(bytes);
    }
}

/// Bytes of a digest a cache entry keeps (SHA-256's 32; MD5 uses 16).
const DIGEST_MAX: usize = 32;

/// Entries per cache: more distinct ClientHellos than this in a row evict
/// each other, which costs only the hashing saved otherwise.
const CACHE_SLOTS: usize = 512;

#[derive(Default)]
struct CacheEntry {
    hash: u64,
    /// Empty in a slot never filled.
    text: Vec<u8>,
    digest: [u8; DIGEST_MAX],
}

/// Digests of recently hashed texts, direct-mapped by a hash of the text
/// and checked against the whole text, so a hit is exact. Bounded:
/// [`CACHE_SLOTS`] texts of at most [`MEMO_TEXT`] bytes.
#[derive(Default)]
struct DigestCache {
    slots: Vec<CacheEntry>,
}

impl DigestCache {
    /// The digest of `text`, from the cache or from `compute` (remembered).
    fn digest_of(
        &mut self,
        text: &[u8],
        compute: impl FnOnce(&[u8]) -> [u8; DIGEST_MAX],
    ) -> [u8; DIGEST_MAX] {
        if self.slots.is_empty() {
            self.slots.resize_with(CACHE_SLOTS, CacheEntry::default);
        }
        let hash = text_hash(text);
        let entry = &mut self.slots[(hash as usize) % CACHE_SLOTS];
        if entry.hash == hash && !entry.text.is_empty() && entry.text == text {
            return entry.digest;
        }
        let digest = compute(text);
        // The slot's buffer is reused: after the first texts, a miss
        // allocates nothing.
        entry.hash = hash;
        entry.text.clear();
        entry.text.extend_from_slice(text);
        entry.digest = digest;
        digest
    }
}

/// A quick 64-bit hash of a text (multiply-rotate over 8-byte words):
/// picks the cache slot and screens comparisons.
fn text_hash(text: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h = text.len() as u64;
    let mut words = text.chunks_exact(8);
    for word in &mut words {
        let w = u64::from_le_bytes(word.try_into().unwrap_or_default());
        h = (h ^ w).wrapping_mul(K).rotate_left(29);
    }
    let mut last = [0u8; 8];
    last[..words.remainder().len()].copy_from_slice(words.remainder());
    h = (h ^ u64::from_le_bytes(last)).wrapping_mul(K);
    h ^ (h >> 32)
}

/// One cache per fingerprint text: JA3, JA4's ciphers, JA4's extensions.
#[derive(Default)]
struct Caches {
    ja3: DigestCache,
    ja4_ciphers: DigestCache,
    ja4_extensions: DigestCache,
}

thread_local! {
    static CACHES: std::cell::RefCell<Caches> = std::cell::RefCell::default();
}

/// Which cache a text goes to.
#[derive(Clone, Copy)]
enum CacheFor {
    Ja3,
    Ja4Ciphers,
    Ja4Extensions,
}

impl<D: Digest> Text<Memo<D>> {
    /// The digest of the text (its first [`DIGEST_MAX`] bytes at most),
    /// looked up in the thread's cache when the text was short enough to keep.
    fn cached_digest(&mut self, cache: CacheFor) -> [u8; DIGEST_MAX] {
        self.flush();
        let memo = &mut self.sink;
        let compute = |text: &[u8]| {
            let mut out = [0u8; DIGEST_MAX];
            let digest = D::digest(text);
            let n = digest.len().min(DIGEST_MAX);
            out[..n].copy_from_slice(&digest[..n]);
            out
        };
        if memo.streaming {
            let mut out = [0u8; DIGEST_MAX];
            let digest = std::mem::replace(&mut memo.digest, D::new()).finalize();
            let n = digest.len().min(DIGEST_MAX);
            out[..n].copy_from_slice(&digest[..n]);
            return out;
        }
        let text = &memo.text[..memo.len];
        CACHES.with(|caches| match caches.try_borrow_mut() {
            Ok(mut caches) => {
                let cache = match cache {
                    CacheFor::Ja3 => &mut caches.ja3,
                    CacheFor::Ja4Ciphers => &mut caches.ja4_ciphers,
                    CacheFor::Ja4Extensions => &mut caches.ja4_extensions,
                };
                cache.digest_of(text, compute)
            }
            Err(_) => compute(text),
        })
    }
}

/// The two decimal digits of `n` (below 100).
#[inline(always)]
fn pair(n: usize) -> [u8; 2] {
    let at = (n % 100) * 2;
    [DECIMAL_PAIRS[at], DECIMAL_PAIRS[at + 1]]
}

/// Writes `value` (100000 or more) in decimal at the start of `out` and
/// returns the digit count.
#[cold]
fn long_decimal(value: u32, out: &mut [u8]) -> usize {
    let mut digits = [0u8; 10];
    let mut start = digits.len();
    let mut rest = value;
    loop {
        start -= 1;
        digits[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    let n = digits.len() - start;
    out[..n].copy_from_slice(&digits[start..]);
    n
}

/// Lowercase hex of a digest (at most [`DIGEST_MAX`] bytes shown).
fn hex_string(bytes: &[u8]) -> FieldStr {
    let mut out = [0u8; 2 * DIGEST_MAX];
    for (pair, &b) in out.chunks_exact_mut(2).zip(bytes) {
        let at = usize::from(b) * 2;
        pair.copy_from_slice(&HEX_PAIRS[at..at + 2]);
    }
    ascii_string(&out[..2 * bytes.len().min(DIGEST_MAX)])
}

/// A string of bytes that are ASCII by construction.
fn ascii_string(bytes: &[u8]) -> FieldStr {
    FieldStr::from_utf8(bytes).unwrap_or_default()
}

/// Appends `values` in decimal joined by `-`.
#[inline]
fn dash_list<A: Absorb>(out: &mut Text<A>, values: impl Iterator<Item = u32>) {
    let mut sep = 0;
    for value in values {
        out.decimal(sep, value);
        sep = b'-';
    }
}

/// Appends `values` as four-digit lowercase hex joined by `,`.
fn hex_list<A: Absorb>(out: &mut Text<A>, values: &[u16]) {
    let mut sep = 0;
    for &value in values {
        out.hex4(sep, value);
        sep = b',';
    }
}

fn not_grease(value: &u16) -> bool {
    !is_grease(*value)
}

/// Writes the JA3 string (before hashing) of a TLS ClientHello whose
/// extensions `ext` scanned.
pub fn write_ja3<A: Absorb>(out: &mut Text<A>, hello: &ClientHello, ext: &ClientExtensions) {
    out.decimal(0, u32::from(hello.legacy_version));
    out.byte(b',');
    dash_list(out, hello.ciphers().filter(not_grease).map(u32::from));
    out.byte(b',');
    dash_list(out, ext.types.as_slice().iter().map(|&t| u32::from(t)));
    out.byte(b',');
    dash_list(
        out,
        ext.supported_groups().filter(not_grease).map(u32::from),
    );
    out.byte(b',');
    dash_list(out, ext.ec_point_formats().iter().map(|&f| u32::from(f)));
}

/// Writes the JA3 string of an SSLv2 CLIENT-HELLO: version and the 24-bit
/// cipher specs; SSLv2 has no extensions, so the last three fields are
/// empty.
pub fn write_ja3_ssl2<A: Absorb>(out: &mut Text<A>, hello: &Ssl2ClientHello) {
    out.decimal(0, u32::from(hello.version));
    out.byte(b',');
    dash_list(out, hello.ciphers());
    for _ in 0..3 {
        out.byte(b',');
    }
}

/// The JA3 fingerprint (lowercase hex MD5) of a TLS ClientHello.
pub fn ja3(hello: &ClientHello, ext: &ClientExtensions) -> FieldStr {
    let mut text = Text::new(Memo::<Md5>::new());
    write_ja3(&mut text, hello, ext);
    hex_string(&text.cached_digest(CacheFor::Ja3)[..16])
}

/// The JA3 fingerprint of an SSLv2 CLIENT-HELLO.
pub fn ja3_ssl2(hello: &Ssl2ClientHello) -> FieldStr {
    let mut text = Text::new(Md5::new());
    write_ja3_ssl2(&mut text, hello);
    hex_string(&text.digest())
}

/// Lowercase hex MD5 of a JA3 string.
#[cfg(test)]
pub fn ja3_hash(ja3: &str) -> FieldStr {
    hex_string(&Md5::digest(ja3.as_bytes()))
}

/// JA4's two-character version code.
fn ja4_version(version: u16) -> &'static [u8; 2] {
    match version {
        0x0304 => b"13",
        0x0303 => b"12",
        0x0302 => b"11",
        0x0301 => b"10",
        0x0300 => b"s3",
        0x0002 => b"s2",
        0xfeff => b"d1",
        0xfefd => b"d2",
        0xfefc => b"d3",
        _ => b"00",
    }
}

/// A count printed with two digits, capped at 99 as JA4 asks.
fn two_digits(count: usize) -> [u8; 2] {
    let at = count.min(99) * 2;
    [DECIMAL_PAIRS[at], DECIMAL_PAIRS[at + 1]]
}

/// JA4's ALPN part: first and last character of the first offered name;
/// when either is not ASCII alphanumeric, the first and last hex digits of
/// the name's bytes instead; `00` without ALPN.
fn ja4_alpn(ext: &ClientExtensions) -> [u8; 2] {
    let first = ext.alpn().and_then(|mut names| names.next()).unwrap_or(&[]);
    match (first.first(), first.last()) {
        (Some(&a), Some(&b)) if a.is_ascii_alphanumeric() && b.is_ascii_alphanumeric() => [a, b],
        (Some(&a), Some(&b)) => {
            let (a, b) = (usize::from(a) * 2, usize::from(b) * 2);
            [HEX_PAIRS[a], HEX_PAIRS[b + 1]]
        }
        _ => *b"00",
    }
}

/// The plain parts of a JA4 fingerprint, besides the texts hashed.
pub struct Ja4Head {
    /// `t13d1516h2`.
    pub part_a: [u8; 10],
    /// No cipher suite was hashed: the second part is twelve zeros.
    pub no_ciphers: bool,
    /// No extension was hashed: the third part is twelve zeros.
    pub no_extensions: bool,
}

/// Writes the two texts JA4 hashes, `ciphers` (the sorted cipher suites)
/// and `extensions` (the sorted extensions without SNI and ALPN, then `_`
/// and the signature algorithms in wire order when there are any), and
/// returns the rest of the fingerprint.
pub fn write_ja4<A: Absorb>(
    hello: &ClientHello,
    ext: &ClientExtensions,
    ciphers: &mut Text<A>,
    extensions: &mut Text<A>,
) -> Ja4Head {
    let version = ext
        .supported_versions()
        .and_then(|versions| versions.filter(not_grease).max())
        .unwrap_or(hello.legacy_version);
    let mut suites = U16List::new();
    for suite in hello.ciphers().filter(not_grease).take(MAX_ENTRIES) {
        suites.push(suite);
    }
    let all_types = ext.types.as_slice();
    let types = &all_types[..all_types.len().min(MAX_ENTRIES)];
    let has_sni = types.contains(&EXT_SERVER_NAME);
    let [v0, v1] = *ja4_version(version);
    let [c0, c1] = two_digits(suites.len());
    let [e0, e1] = two_digits(types.len());
    let [a0, a1] = ja4_alpn(ext);
    let sni = if has_sni { b'd' } else { b'i' };
    let part_a = [b't', v0, v1, sni, c0, c1, e0, e1, a0, a1];

    suites.as_mut_slice().sort_unstable();
    hex_list(ciphers, suites.as_slice());

    let mut hashed = U16List::new();
    for &t in types {
        if t != EXT_SERVER_NAME && t != EXT_ALPN {
            hashed.push(t);
        }
    }
    hashed.as_mut_slice().sort_unstable();
    hex_list(extensions, hashed.as_slice());
    let signature_algorithms = ext.signature_algorithms().filter(not_grease);
    let mut sep = b'_';
    for algorithm in signature_algorithms.take(MAX_ENTRIES) {
        extensions.hex4(sep, algorithm);
        sep = b',';
    }
    Ja4Head {
        part_a,
        no_ciphers: suites.is_empty(),
        no_extensions: hashed.is_empty(),
    }
}

/// The first 12 hex digits of a SHA-256, or twelve zeros when the list
/// hashed is empty.
fn truncated_sha256(
    text: &mut Text<Memo<Sha256>>,
    list_is_empty: bool,
    cache: CacheFor,
) -> [u8; 12] {
    let mut out = [b'0'; 12];
    if !list_is_empty {
        let digest = text.cached_digest(cache);
        for (pair, &b) in out.chunks_exact_mut(2).zip(digest.iter()) {
            let at = usize::from(b) * 2;
            pair.copy_from_slice(&HEX_PAIRS[at..at + 2]);
        }
    }
    out
}

/// The JA4 fingerprint of a ClientHello seen over TCP, whose extensions
/// `ext` scanned:
/// `t` + version (highest non-GREASE supported_versions entry, else the
/// legacy version) + `d`/`i` (SNI present or not) + cipher count +
/// extension count (GREASE skipped, SNI and ALPN counted) + ALPN part,
/// `_`, truncated SHA-256 of the sorted ciphers, `_`, truncated SHA-256 of
/// the sorted extensions without SNI and ALPN, then `_` and the signature
/// algorithms in wire order (left out when there are none).
pub fn ja4_of(hello: &ClientHello, ext: &ClientExtensions) -> FieldStr {
    let mut ciphers = Text::new(Memo::<Sha256>::new());
    let mut extensions = Text::new(Memo::<Sha256>::new());
    let head = write_ja4(hello, ext, &mut ciphers, &mut extensions);
    let ciphers = truncated_sha256(&mut ciphers, head.no_ciphers, CacheFor::Ja4Ciphers);
    let extensions = truncated_sha256(&mut extensions, head.no_extensions, CacheFor::Ja4Extensions);
    let mut out = [b'_'; 36];
    out[..10].copy_from_slice(&head.part_a);
    out[11..23].copy_from_slice(&ciphers);
    out[24..].copy_from_slice(&extensions);
    ascii_string(&out)
}

/// [`ja4_of`] a ClientHello not scanned yet.
#[cfg(test)]
pub fn ja4(hello: &ClientHello) -> FieldStr {
    ja4_of(hello, &hello.scan())
}

/// The digest cache gives what hashing gives: for texts met again, texts
/// that share a slot, and texts too long to keep.
#[cfg(test)]
#[test]
fn cached_digests_match_direct_hashing() {
    let texts: Vec<Vec<u8>> = (0..3 * CACHE_SLOTS)
        .map(|i| format!("771,{i}-4865-4866,0-23-65281,29-23,0").into_bytes())
        .chain([vec![b'7'; MEMO_TEXT - 1], vec![b'7'; 3 * MEMO_TEXT]])
        .collect();
    for _ in 0..2 {
        for text in &texts {
            let mut memo = Text::new(Memo::<Md5>::new());
            for &b in text {
                memo.byte(b);
            }
            let got = memo.cached_digest(CacheFor::Ja3);
            assert_eq!(got[..16], Md5::digest(text)[..]);
            let mut memo = Text::new(Memo::<Sha256>::new());
            for &b in text {
                memo.byte(b);
            }
            let got = memo.cached_digest(CacheFor::Ja4Ciphers);
            assert_eq!(got[..], Sha256::digest(text)[..]);
        }
    }
}
