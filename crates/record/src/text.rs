//! Numbers, MACs and addresses written straight into a byte buffer. On the
//! per-record path `core::fmt` (formatter setup, padding logic, one virtual
//! call per piece) cost about a fifth of a whole `eddy meter -o csv` run;
//! these helpers produce the same text without it.

use std::net::{Ipv4Addr, Ipv6Addr};

/// `00` to `99`: two digits per lookup halves the divisions.
const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
                            2021222324252627282930313233343536373839\
                            4041424344454647484950515253545556575859\
                            6061626364656667686970717273747576777879\
                            8081828384858687888990919293949596979899";

/// Lowercase hex digits by value.
pub const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Where the text helpers write: a `Vec<u8>`, or a writer of its own that
/// keeps its length in a register (see `schema::text`).
pub trait TextOut {
    /// Appends `bytes`.
    fn put(&mut self, bytes: &[u8]);
    /// Appends one byte.
    fn put_byte(&mut self, b: u8);
    /// Appends the first `len` bytes of `bytes` by copying all of them and
    /// keeping `len`: one fixed-size copy when `bytes` has a constant length,
    /// instead of a call to `memcpy`.
    fn put_cut(&mut self, bytes: &[u8], len: usize);
}

impl TextOut for Vec<u8> {
    #[inline(always)]
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }

    #[inline(always)]
    fn put_byte(&mut self, b: u8) {
        self.push(b);
    }

    #[inline(always)]
    fn put_cut(&mut self, bytes: &[u8], len: usize) {
        let end = self.len() + len.min(bytes.len());
        self.extend_from_slice(bytes);
        self.truncate(end);
    }
}

/// The two ASCII digits of `n % 100`.
pub fn two_digits(n: u64) -> [u8; 2] {
    let i = (n % 100) as usize * 2;
    [PAIRS[i], PAIRS[i + 1]]
}

/// Appends `n` in decimal, as `Display` does.
#[inline(always)]
pub fn push_u64(out: &mut impl TextOut, n: u64) {
    // Counters are often below 100: fixed-size pushes the compiler
    // inlines, without the call and the digit loop.
    if n < 10 {
        out.put_byte(b'0' + n as u8);
    } else if n < 100 {
        out.put(&two_digits(n));
    } else {
        push_u64_padded(out, n, 1);
    }
}

/// Asks the CPU to bring the cache line at `p` in, without waiting for it:
/// for writers that know which cold values they read next. Only a hint;
/// any address is fine.
#[inline(always)]
pub fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults and reads nothing into the program,
    // whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// [`prefetch`] of every cache line that the `len` bytes at `p` touch.
pub fn prefetch_range(p: *const u8, len: usize) {
    for offset in (0..len).step_by(64) {
        prefetch(p.wrapping_add(offset));
    }
    // The last line, when the bytes do not start on a line.
    prefetch(p.wrapping_add(len.saturating_sub(1)));
}

/// Appends a byte in decimal: address octets and the one-byte fields, where
/// three digits are common and the general loop is not needed.
#[inline(always)]
pub fn push_u8(out: &mut impl TextOut, n: u8) {
    let [tens, ones] = two_digits(n.into());
    if n >= 100 {
        out.put(&[b'0' + n / 100, tens, ones]);
    } else if n >= 10 {
        out.put(&[tens, ones]);
    } else {
        out.put_byte(ones);
    }
}

/// Appends a port or VLAN in decimal with fixed-size pushes per length.
#[inline(always)]
pub fn push_u16(out: &mut impl TextOut, n: u16) {
    let n = u64::from(n);
    let [c, d] = two_digits(n);
    if n < 100 {
        if n < 10 {
            out.put_byte(d);
        } else {
            out.put(&[c, d]);
        }
        return;
    }
    let [a, b] = two_digits(n / 100);
    if n < 1000 {
        out.put(&[b, c, d]);
    } else if n < 10_000 {
        out.put(&[a, b, c, d]);
    } else {
        out.put(&[b'0' + (n / 10_000) as u8, a, b, c, d]);
    }
}

/// Integers in decimal, each type through the fastest path for its range.
pub trait Decimal: Copy {
    fn push_decimal(self, out: &mut Vec<u8>);
}

impl Decimal for u8 {
    #[inline]
    fn push_decimal(self, out: &mut Vec<u8>) {
        push_u8(out, self);
    }
}

impl Decimal for u16 {
    #[inline]
    fn push_decimal(self, out: &mut Vec<u8>) {
        push_u16(out, self);
    }
}

impl Decimal for u64 {
    #[inline]
    fn push_decimal(self, out: &mut Vec<u8>) {
        push_u64(out, self);
    }
}

/// Appends `n` in decimal with leading zeros up to `width` digits, as
/// `{:0width$}` does (wider numbers are not cut).
#[inline(always)]
pub fn push_u64_padded(out: &mut impl TextOut, mut n: u64, width: usize) {
    // u64::MAX has 20 digits; the buffer starts as zeros, so padding is just
    // starting further left.
    // Digits end at index 20; the 20 bytes after them let the text go out
    // as a fixed-size copy from its first digit, cut back after.
    let mut buf = [b'0'; 40];
    let mut i = 20;
    while n >= 100 {
        i -= 2;
        buf[i..i + 2].copy_from_slice(&two_digits(n));
        n /= 100;
    }
    if n >= 10 {
        i -= 2;
        buf[i..i + 2].copy_from_slice(&two_digits(n));
    } else {
        i -= 1;
        buf[i] = b'0' + n as u8;
    }
    for _ in 20..width {
        out.put_byte(b'0');
    }
    let start = i.min(20usize.saturating_sub(width));
    out.put_cut(&buf[start..start + 20], 20 - start);
}

/// `bytes` as lowercase hex, two digits a byte.
pub fn push_hex(out: &mut impl TextOut, bytes: &[u8]) {
    for b in bytes {
        out.put(&[
            HEX_DIGITS[usize::from(b >> 4)],
            HEX_DIGITS[usize::from(b & 0xf)],
        ]);
    }
}

/// Appends a MAC as `00:1b:21:3a:4f:5e`.
#[inline(always)]
pub fn push_mac(out: &mut impl TextOut, mac: &[u8; 6]) {
    let mut text = [b':'; 17];
    for (i, b) in mac.iter().enumerate() {
        text[3 * i] = HEX_DIGITS[usize::from(b >> 4)];
        text[3 * i + 1] = HEX_DIGITS[usize::from(b & 0xf)];
    }
    out.put(&text);
}

/// Appends a record address as `Display` shows [`crate::unmap`] of it:
/// IPv4-mapped addresses as dotted IPv4, the rest as RFC 5952 IPv6.
#[inline(always)]
pub fn push_ip(out: &mut impl TextOut, addr: Ipv6Addr) {
    match addr.to_ipv4_mapped() {
        Some(v4) => push_ipv4(out, v4),
        None => push_ipv6(out, addr),
    }
}

#[inline(always)]
fn push_ipv4(out: &mut impl TextOut, addr: Ipv4Addr) {
    // Each octet's digits and a dot go into a 16-byte buffer with one
    // 4-byte store; the buffer goes out whole (a fixed-size copy) and the
    // vector is cut back to the text's length: no per-octet pushes, no
    // variable-length copy.
    let mut buf = [0u8; 16];
    let mut at = 0;
    for octet in addr.octets() {
        let (text, len) = OCTET_TEXT[usize::from(octet)];
        buf[at..at + 4].copy_from_slice(&text);
        at += len + 1;
    }
    out.put_cut(&buf, at - 1);
}

/// Per byte value: its decimal digits followed by a dot, and how many digits.
static OCTET_TEXT: [([u8; 4], usize); 256] = octet_text();

const fn octet_text() -> [([u8; 4], usize); 256] {
    let mut table = [([0u8; 4], 0usize); 256];
    let mut n = 0;
    while n < 256 {
        let (h, t, o) = ((n / 100) as u8, (n / 10 % 10) as u8, (n % 10) as u8);
        table[n] = if n >= 100 {
            ([b'0' + h, b'0' + t, b'0' + o, b'.'], 3)
        } else if n >= 10 {
            ([b'0' + t, b'0' + o, b'.', 0], 2)
        } else {
            ([b'0' + o, b'.', 0, 0], 1)
        };
        n += 1;
    }
    table
}

/// RFC 5952 text of a non-mapped address, exactly as `std` prints it: the
/// longest run of two or more zero groups (the first of equal runs) becomes
/// `::`, groups are lowercase hex without leading zeros.
#[inline(always)]
fn push_ipv6(out: &mut impl TextOut, addr: Ipv6Addr) {
    let groups = addr.segments();
    let (start, len) = longest_zero_run(&groups);
    if len > 1 {
        push_groups(out, &groups[..start]);
        out.put(b"::");
        push_groups(out, &groups[start + len..]);
    } else {
        push_groups(out, &groups);
    }
}

/// Start and length of the first longest run of zero groups.
fn longest_zero_run(groups: &[u16; 8]) -> (usize, usize) {
    let mut best = (0, 0);
    let mut current = (0, 0);
    for (i, &group) in groups.iter().enumerate() {
        if group != 0 {
            current = (i + 1, 0);
            continue;
        }
        current.1 += 1;
        // Strictly longer: a later run of equal length does not win.
        if current.1 > best.1 {
            best = current;
        }
    }
    best
}

#[inline(always)]
fn push_groups(out: &mut impl TextOut, groups: &[u16]) {
    for (i, &group) in groups.iter().enumerate() {
        if i > 0 {
            out.put_byte(b':');
        }
        push_hex16(out, group);
    }
}

/// Lowercase hex without leading zeros, as `{:x}`.
#[inline(always)]
fn push_hex16(out: &mut impl TextOut, value: u16) {
    let digits = (16 - value.leading_zeros()).div_ceil(4).max(1);
    for shift in (0..digits).rev() {
        out.put_byte(HEX_DIGITS[usize::from(value >> (4 * shift) & 0xf)]);
    }
}

/// Pads the text written since `start` with spaces on the left to `width`
/// bytes, as `{:>width}` does for ASCII.
pub fn align_right(out: &mut Vec<u8>, start: usize, width: usize) {
    let len = out.len().saturating_sub(start);
    if len < width {
        out.resize(start + width, b' ');
        out[start..].rotate_right(width - len);
    }
}

/// Pads the text written since `start` with spaces on the right to `width`
/// bytes, as `{:<width}` does for ASCII.
pub fn align_left(out: &mut Vec<u8>, start: usize, width: usize) {
    let len = out.len().saturating_sub(start);
    if len < width {
        out.resize(start + width, b' ');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn text(write: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        write(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn numbers_match_display() {
        let mut n = 1u64;
        for _ in 0..20 {
            for v in [n - 1, n, n + 1, n.saturating_mul(5), n.saturating_mul(9)] {
                assert_eq!(text(|o| push_u64(o, v)), v.to_string());
            }
            n = n.saturating_mul(10);
        }
        assert_eq!(text(|o| push_u64(o, u64::MAX)), u64::MAX.to_string());
        for v in 0..=u16::MAX {
            assert_eq!(text(|o| push_u16(o, v)), v.to_string());
        }
        for v in 0..=u8::MAX {
            assert_eq!(text(|o| push_u8(o, v)), v.to_string());
        }
        assert_eq!(text(|o| push_u64_padded(o, 0, 6)), "000000");
        assert_eq!(text(|o| push_u64_padded(o, 42, 3)), "042");
        assert_eq!(text(|o| push_u64_padded(o, 12345, 3)), "12345");
        assert_eq!(text(|o| push_u64_padded(o, 7, 0)), "7");
        assert_eq!(text(|o| push_u64_padded(o, 0, 0)), "0");
    }

    #[test]
    fn every_octet_in_every_place_matches_std() {
        for n in 0..=255u8 {
            for place in 0..4 {
                let mut octets = [10, 200, 7, 99];
                octets[place] = n;
                let v4 = std::net::Ipv4Addr::from(octets);
                // After text already in the vector, as in a CSV line.
                let mut out = b"x,".to_vec();
                push_ip(&mut out, v4.to_ipv6_mapped());
                assert_eq!(out, format!("x,{v4}").into_bytes());
            }
        }
    }

    #[test]
    fn mac_is_lowercase_hex() {
        let mac = [0x00, 0x1b, 0x21, 0x3a, 0x4f, 0xfe];
        assert_eq!(text(|o| push_mac(o, &mac)), "00:1b:21:3a:4f:fe");
    }

    /// Every pattern of zero and non-zero groups, so each placement of `::`
    /// (ties, runs of one, leading, trailing, all zero) is compared with std.
    #[test]
    fn every_zero_pattern_matches_std() {
        for pattern in 0u32..256 {
            for fill in [1u16, 0xa, 0xbeef, 0xffff, 0x100] {
                let groups: [u16; 8] =
                    std::array::from_fn(|i| if pattern >> i & 1 == 1 { fill } else { 0 });
                let addr = Ipv6Addr::from(groups);
                assert_eq!(
                    text(|o| push_ip(o, addr)),
                    crate::unmap(addr).to_string(),
                    "{groups:x?}"
                );
            }
        }
    }

    fn group() -> impl Strategy<Value = u16> {
        prop_oneof![
            Just(0u16),
            any::<u16>(),
            0u16..0x10,
            0u16..0x100,
            0u16..0x1000
        ]
    }

    proptest! {
        #[test]
        fn numbers_match_std(v in any::<u64>(), width in 0usize..24) {
            prop_assert_eq!(text(|o| push_u64(o, v)), v.to_string());
            prop_assert_eq!(text(|o| push_u8(o, v as u8)), (v as u8).to_string());
            prop_assert_eq!(text(|o| push_u16(o, v as u16)), (v as u16).to_string());
            prop_assert_eq!(text(|o| push_u64_padded(o, v, width)), format!("{v:0width$}"));
        }

        #[test]
        fn addresses_match_std(groups in proptest::array::uniform8(group()), raw in any::<[u8; 16]>(), v4 in any::<[u8; 4]>()) {
            for addr in [Ipv6Addr::from(groups), Ipv6Addr::from(raw), Ipv4Addr::from(v4).to_ipv6_mapped()] {
                prop_assert_eq!(text(|o| push_ip(o, addr)), crate::unmap(addr).to_string());
            }
        }

        #[test]
        fn csv_quoting_finds_every_special_byte(s in "[a-z,\"\r\n ]{0,40}") {
            let naive = s.bytes().any(|b| matches!(b, b',' | b'"' | b'\r' | b'\n'));
            prop_assert_eq!(needs_csv_quotes(s.as_bytes()), naive);
        }

        #[test]
        fn alignment_matches_std(s in "[a-z0-9.:]{0,20}", width in 0usize..24) {
            let right = text(|o| { o.extend_from_slice(b"x"); o.extend_from_slice(s.as_bytes()); align_right(o, 1, width) });
            prop_assert_eq!(right, format!("x{s:>width$}"));
            let left = text(|o| { o.extend_from_slice(b"x"); o.extend_from_slice(s.as_bytes()); align_left(o, 1, width) });
            prop_assert_eq!(left, format!("x{s:<width$}"));
        }
    }
}

/// Whether a CSV field holds a comma, quote or line break. Sixteen bytes
/// at a time without branches inside, which the compiler turns into SIMD
/// compares: L7 fields (URLs, user agents, fingerprints) are tens of bytes.
#[inline(always)]
fn needs_csv_quotes(bytes: &[u8]) -> bool {
    #[inline(always)]
    fn special(b: u8) -> bool {
        (b == b',') | (b == b'"') | (b == b'\r') | (b == b'\n')
    }
    let mut chunks = bytes.chunks_exact(16);
    for chunk in &mut chunks {
        let mut found = false;
        for &b in chunk {
            found |= special(b);
        }
        if found {
            return true;
        }
    }
    let rest = chunks.remainder();
    if rest.is_empty() {
        return false;
    }
    // The last sixteen bytes again (overlapping checked ones) rather than
    // a copy of the rest into a padded chunk, which cost a call to memcpy.
    let last: &[u8] = match bytes.len().checked_sub(16) {
        Some(start) => &bytes[start..],
        None => {
            let mut found = false;
            for &b in rest {
                found |= special(b);
            }
            return found;
        }
    };
    let mut found = false;
    for &b in last {
        found |= special(b);
    }
    found
}

/// Appends a CSV field, quoted (RFC 4180) when it holds a comma, quote or line break.
#[inline(always)]
pub fn push_csv_str(out: &mut impl TextOut, s: &str) {
    if !needs_csv_quotes(s.as_bytes()) {
        out.put(s.as_bytes());
        return;
    }
    // Copied in runs between quotes, not a push per byte: the ALPN list
    // ("h2,http/1.1") of nearly every TLS flow is quoted.
    out.put_byte(b'"');
    for (i, part) in s.as_bytes().split(|&b| b == b'"').enumerate() {
        if i > 0 {
            out.put(b"\"\"");
        }
        out.put(part);
    }
    out.put_byte(b'"');
}

/// Appends a JSON string literal (with its quotes), escaping what JSON requires.
pub fn push_json_str(out: &mut impl TextOut, s: &str) {
    out.put_byte(b'"');
    for b in s.bytes() {
        match b {
            b'"' => out.put(b"\\\""),
            b'\\' => out.put(b"\\\\"),
            b'\n' => out.put(b"\\n"),
            b'\r' => out.put(b"\\r"),
            b'\t' => out.put(b"\\t"),
            0..=0x1f => {
                out.put(b"\\u00");
                out.put_byte(HEX_DIGITS[usize::from(b >> 4)]);
                out.put_byte(HEX_DIGITS[usize::from(b & 0xf)]);
            }
            _ => out.put_byte(b),
        }
    }
    out.put_byte(b'"');
}

#[cfg(test)]
mod escape_tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_when_needed() {
        let mut out = Vec::new();
        push_csv_str(&mut out, "plain");
        out.push(b'|');
        push_csv_str(&mut out, "Mozilla/5.0 (X11, Linux) \"q\"");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "plain|\"Mozilla/5.0 (X11, Linux) \"\"q\"\"\""
        );
    }

    #[test]
    fn json_strings_are_escaped() {
        let mut out = Vec::new();
        push_json_str(&mut out, "a\"b\\c\nd\u{1}é");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\"a\\\"b\\\\c\\nd\\u0001é\""
        );
    }
}
