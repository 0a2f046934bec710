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

/// Bytes of a digest a cache entry keeps (SHA-256's 32; MD5 uses 16).
const DIGEST_MAX: usize = 32;

/// Entries per cache: more distinct ClientHellos than this in a row evict
/// each other, which costs only the hashing saved otherwise.
const CACHE_SLOTS: usize = 512;

/// Longest key (in values) a cache keeps; a longer list is hashed every
/// time. Typical keys hold 20 to 80 values.
const MAX_KEY: usize = 512;

#[derive(Default)]
struct CacheEntry {
    hash: u64,
    filled: bool,
    key: Vec<u16>,
    digest: [u8; DIGEST_MAX],
}

/// Digests of recently fingerprinted ClientHellos, keyed by the numbers
/// their text is written from rather than by the text: a hit costs
/// gathering the numbers, not writing them in decimal or hex (clients send
/// the same few ClientHellos over and over). Direct-mapped by a hash of
/// the key and checked against the whole key, so a hit is exact. Bounded:
/// [`CACHE_SLOTS`] keys of at most [`MAX_KEY`] values.
#[derive(Default)]
struct DigestCache {
    slots: Vec<CacheEntry>,
}

impl DigestCache {
    /// The digest of the text `key` stands for, from the cache or from
    /// `compute` (remembered). Each key must stand for one text.
    fn digest_of(
        &mut self,
        key: &[u16],
        compute: impl FnOnce() -> [u8; DIGEST_MAX],
    ) -> [u8; DIGEST_MAX] {
        if key.len() > MAX_KEY {
            return compute();
        }
        if self.slots.is_empty() {
            self.slots.resize_with(CACHE_SLOTS, CacheEntry::default);
        }
        let hash = key_hash(key);
        let entry = &mut self.slots[(hash as usize) % CACHE_SLOTS];
        if entry.filled && entry.hash == hash && entry.key == key {
            return entry.digest;
        }
        let digest = compute();
        // The slot's buffer is reused: after the first keys, a miss
        // allocates nothing.
        entry.hash = hash;
        entry.filled = true;
        entry.key.clear();
        entry.key.extend_from_slice(key);
        entry.digest = digest;
        digest
    }
}

/// A quick 64-bit hash of a key (multiply-rotate over four values at a
/// time): picks the cache slot and screens comparisons.
fn key_hash(key: &[u16]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let word = |values: &[u16]| {
        values
            .iter()
            .rev()
            .fold(0u64, |w, &v| (w << 16) | u64::from(v))
    };
    let mut h = key.len() as u64;
    let mut words = key.chunks_exact(4);
    for values in &mut words {
        h = (h ^ word(values)).wrapping_mul(K).rotate_left(29);
    }
    h = (h ^ word(words.remainder())).wrapping_mul(K);
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

/// Which cache a key goes to.
#[derive(Clone, Copy)]
enum CacheFor {
    Ja3,
    Ja4Ciphers,
    Ja4Extensions,
}

/// The digest of the text `key` stands for, looked up in the thread's
/// cache `cache`, or `compute`d.
fn cached_digest(
    cache: CacheFor,
    key: &[u16],
    compute: impl FnOnce() -> [u8; DIGEST_MAX],
) -> [u8; DIGEST_MAX] {
    CACHES.with(|caches| match caches.try_borrow_mut() {
        Ok(mut caches) => {
            let cache = match cache {
                CacheFor::Ja3 => &mut caches.ja3,
                CacheFor::Ja4Ciphers => &mut caches.ja4_ciphers,
                CacheFor::Ja4Extensions => &mut caches.ja4_extensions,
            };
            cache.digest_of(key, compute)
        }
        Err(_) => compute(),
    })
}

/// The digest of `text`'s text, its first [`DIGEST_MAX`] bytes at most.
fn digest_bytes<D: Absorb + Digest + md5::digest::FixedOutputReset>(
    text: &mut Text<D>,
) -> [u8; DIGEST_MAX] {
    let digest = text.digest();
    let mut out = [0u8; DIGEST_MAX];
    let n = digest.len().min(DIGEST_MAX);
    out[..n].copy_from_slice(&digest[..n]);
    out
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
    // The key: the text's numbers, each list followed by its length, so
    // that one key stands for one text.
    let mut key = U16List::new();
    key.push(hello.legacy_version);
    push_counted(&mut key, hello.ciphers().filter(not_grease));
    push_counted(&mut key, ext.types.as_slice().iter().copied());
    push_counted(&mut key, ext.supported_groups().filter(not_grease));
    push_counted(
        &mut key,
        ext.ec_point_formats().iter().map(|&f| u16::from(f)),
    );
    let digest = cached_digest(CacheFor::Ja3, key.as_slice(), || {
        let mut text = Text::new(Md5::new());
        write_ja3(&mut text, hello, ext);
        digest_bytes(&mut text)
    });
    hex_string(&digest[..16])
}

/// Appends `values`, then how many there were (cut to 16 bits: past
/// [`MAX_KEY`] values the key is not kept anyway).
fn push_counted(key: &mut U16List, values: impl Iterator<Item = u16>) {
    let before = key.len();
    for value in values {
        key.push(value);
    }
    key.push((key.len() - before) as u16);
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

/// The numbers a JA4 fingerprint is made of: its plain first part, the
/// cipher suites (in wire order: a client sends its suites in one order,
/// so they key the cache as they come, and are sorted only for a text),
/// the sorted extensions without SNI and ALPN (clients shuffle them), and
/// the signature algorithms in wire order.
struct Ja4Lists {
    head: Ja4Head,
    suites: U16List,
    extensions: U16List,
    signature_algorithms: U16List,
}

fn ja4_lists(hello: &ClientHello, ext: &ClientExtensions) -> Ja4Lists {
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

    let mut extensions = U16List::new();
    for &t in types {
        if t != EXT_SERVER_NAME && t != EXT_ALPN {
            extensions.push(t);
        }
    }
    extensions.as_mut_slice().sort_unstable();
    let mut signature_algorithms = U16List::new();
    for algorithm in ext
        .signature_algorithms()
        .filter(not_grease)
        .take(MAX_ENTRIES)
    {
        signature_algorithms.push(algorithm);
    }
    Ja4Lists {
        head: Ja4Head {
            part_a,
            no_ciphers: suites.is_empty(),
            no_extensions: extensions.is_empty(),
        },
        suites,
        extensions,
        signature_algorithms,
    }
}

/// JA4's second text: the sorted cipher suites in hex.
fn write_ja4_ciphers<A: Absorb>(out: &mut Text<A>, lists: &Ja4Lists) {
    let mut sorted = U16List::new();
    for &suite in lists.suites.as_slice() {
        sorted.push(suite);
    }
    sorted.as_mut_slice().sort_unstable();
    hex_list(out, sorted.as_slice());
}

/// JA4's third text: the sorted extensions in hex, then `_` and the
/// signature algorithms when there are any.
fn write_ja4_extensions<A: Absorb>(out: &mut Text<A>, lists: &Ja4Lists) {
    hex_list(out, lists.extensions.as_slice());
    let mut sep = b'_';
    for &algorithm in lists.signature_algorithms.as_slice() {
        out.hex4(sep, algorithm);
        sep = b',';
    }
}

/// Writes the two texts JA4 hashes, `ciphers` (the sorted cipher suites)
/// and `extensions` (the sorted extensions without SNI and ALPN, then `_`
/// and the signature algorithms in wire order when there are any), and
/// returns the rest of the fingerprint.
#[cfg(test)]
pub fn write_ja4<A: Absorb>(
    hello: &ClientHello,
    ext: &ClientExtensions,
    ciphers: &mut Text<A>,
    extensions: &mut Text<A>,
) -> Ja4Head {
    let lists = ja4_lists(hello, ext);
    write_ja4_ciphers(ciphers, &lists);
    write_ja4_extensions(extensions, &lists);
    lists.head
}

/// The first 12 hex digits of a digest, or twelve zeros when the list
/// hashed is empty.
fn truncated_hex(digest: Option<[u8; DIGEST_MAX]>) -> [u8; 12] {
    let mut out = [b'0'; 12];
    if let Some(digest) = digest {
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
    let lists = ja4_lists(hello, ext);
    let ciphers = (!lists.head.no_ciphers).then(|| {
        cached_digest(CacheFor::Ja4Ciphers, lists.suites.as_slice(), || {
            let mut text = Text::new(Sha256::new());
            write_ja4_ciphers(&mut text, &lists);
            digest_bytes(&mut text)
        })
    });
    let extensions = (!lists.head.no_extensions).then(|| {
        // The extensions, the signature algorithms, then how many
        // signature algorithms: one key for one text.
        let mut key = U16List::new();
        for &v in lists.extensions.as_slice() {
            key.push(v);
        }
        push_counted(
            &mut key,
            lists.signature_algorithms.as_slice().iter().copied(),
        );
        cached_digest(CacheFor::Ja4Extensions, key.as_slice(), || {
            let mut text = Text::new(Sha256::new());
            write_ja4_extensions(&mut text, &lists);
            digest_bytes(&mut text)
        })
    });
    let mut out = [b'_'; 36];
    out[..10].copy_from_slice(&lists.head.part_a);
    out[11..23].copy_from_slice(&truncated_hex(ciphers));
    out[24..].copy_from_slice(&truncated_hex(extensions));
    ascii_string(&out)
}

/// [`ja4_of`] a ClientHello not scanned yet.
#[cfg(test)]
pub fn ja4(hello: &ClientHello) -> FieldStr {
    ja4_of(hello, &hello.scan())
}

/// The digest cache gives what computing gives: for keys met again, keys
/// that share a slot, keys that differ only in their end, and keys too
/// long to keep.
#[cfg(test)]
#[test]
fn cached_digests_match_direct_hashing() {
    let keys: Vec<Vec<u16>> = (0..3 * CACHE_SLOTS as u16)
        .map(|i| vec![771, i, 4865, 4866, 3, 0, 23, 65281, 3])
        .chain((0..40u16).map(|n| (0..n).collect()))
        .chain([vec![7; MAX_KEY], vec![7; MAX_KEY + 1], vec![7; 3 * MAX_KEY]])
        .collect();
    // What each key stands for: a text made from its numbers.
    let text = |key: &[u16]| -> Vec<u8> { format!("{key:?}").into_bytes() };
    let mut computed = 0;
    for round in 0..2 {
        for key in &keys {
            for cache in [CacheFor::Ja3, CacheFor::Ja4Ciphers, CacheFor::Ja4Extensions] {
                let got = cached_digest(cache, key, || {
                    computed += 1;
                    let mut out = [0u8; DIGEST_MAX];
                    out.copy_from_slice(&Sha256::digest(text(key)));
                    out
                });
                assert_eq!(got[..], Sha256::digest(text(key))[..], "round {round}");
            }
        }
    }
    // The second round found the last keys that fit in their slots.
    assert!(computed < 2 * 3 * keys.len());
}
