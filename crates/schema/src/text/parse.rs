//! Field values from text: what the writers print, and the forms other
//! tools print (nfdump's `2024-01-02 03:04:05.678`, nanoseconds since the
//! epoch, end reasons as numbers). Each parser returns None for text it
//! does not accept; the reader turns that into a message.

use std::net::{IpAddr, Ipv6Addr};

use record::{days_from_civil, EndReason};

/// A decimal number without sign, surrounding spaces allowed.
pub(crate) fn uint(s: &str) -> Option<u64> {
    let b = s.trim_matches(' ').as_bytes();
    if b.is_empty() || b.len() > 20 {
        return None;
    }
    let mut n: u64 = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    Some(n)
}

/// A number no larger than `max`.
pub(crate) fn uint_max(s: &str, max: u64) -> Option<u64> {
    uint(s).filter(|&n| n <= max)
}

/// An IPv4 or IPv6 address in the record's IPv4-mapped form.
pub(crate) fn ip(s: &str) -> Option<Ipv6Addr> {
    s.trim_matches(' ')
        .parse::<IpAddr>()
        .ok()
        .map(record::to_mapped)
}

/// A MAC: six hex pairs separated by `:` or `-`.
pub(crate) fn mac(s: &str) -> Option<[u8; 6]> {
    let b = s.trim_matches(' ').as_bytes();
    if b.len() != 17 {
        return None;
    }
    let sep = b[2];
    if sep != b':' && sep != b'-' {
        return None;
    }
    let mut out = [0u8; 6];
    for (i, byte) in out.iter_mut().enumerate() {
        let p = 3 * i;
        if i > 0 && b[p - 1] != sep {
            return None;
        }
        *byte = hex(b[p])? << 4 | hex(b[p + 1])?;
    }
    Some(out)
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// An end reason by name (as the meter prints it) or IPFIX number 1-5.
pub(crate) fn end_reason(s: &str) -> Option<EndReason> {
    let s = s.trim_matches(' ');
    Some(match s {
        "idle" | "1" => EndReason::Idle,
        "active" | "2" => EndReason::Active,
        "end" | "3" => EndReason::EndOfFlow,
        "forced" | "4" => EndReason::Forced,
        "eviction" | "5" => EndReason::Eviction,
        _ => return None,
    })
}

/// A protocol number, or its name as nfdump prints it (`TCP`, `udp`).
pub(crate) fn proto(s: &str) -> Option<u8> {
    if let Some(n) = uint_max(s, 255) {
        return Some(n as u8);
    }
    let s = s.trim_matches(' ');
    (0..=255u8).find(|&p| record::proto_name(p).is_some_and(|n| n.eq_ignore_ascii_case(s)))
}

/// TCP flags as a number or nfdump's eight-column string (`...AP.S.`).
pub(crate) fn tcp_flags(s: &str) -> Option<u8> {
    if let Some(n) = uint_max(s, 255) {
        return Some(n as u8);
    }
    let b = s.trim_matches(' ').as_bytes();
    if b.len() != 8 {
        return None;
    }
    let mut flags = 0u8;
    for (i, (&c, &name)) in b.iter().zip(b"CEUAPRSF").enumerate() {
        if c == name {
            flags |= 0x80 >> i;
        } else if c != b'.' {
            return None;
        }
    }
    Some(flags)
}

/// A two-character country code.
pub(crate) fn country(s: &str) -> Option<[u8; 2]> {
    match s.trim_matches(' ').as_bytes() {
        [a, b] if a.is_ascii_alphanumeric() && b.is_ascii_alphanumeric() => Some([*a, *b]),
        _ => None,
    }
}

/// A time as nanoseconds since the epoch: RFC 3339 (`T` or space between
/// date and time, any fraction up to nanoseconds, `Z`, `+hh:mm`, `+hhmm`
/// or no zone meaning UTC), or a plain integer of nanoseconds.
pub(crate) fn time(s: &str) -> Option<u64> {
    let s = s.trim_matches(' ');
    if let Some(n) = uint(s) {
        return Some(n);
    }
    let b = s.as_bytes();
    if b.len() < 19 {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let mut n = 0u32;
        for &c in b.get(r)? {
            if !c.is_ascii_digit() {
                return None;
            }
            n = n * 10 + u32::from(c - b'0');
        }
        Some(n)
    };
    let year = num(0..4)?;
    let month = num(5..7)?;
    let day = num(8..10)?;
    let hour = num(11..13)?;
    let minute = num(14..16)?;
    let second = num(17..19)?;
    if b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let mut rest = &b[19..];
    let mut nanos = 0u64;
    if let [b'.' | b',', tail @ ..] = rest {
        let digits = tail.iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        for (i, &c) in tail[..digits].iter().enumerate() {
            // Digits past nanoseconds are cut.
            if i < 9 {
                nanos = nanos * 10 + u64::from(c - b'0');
            }
        }
        for _ in digits..9 {
            nanos *= 10;
        }
        rest = &tail[digits..];
    }
    let offset_secs: i64 = match rest {
        [] | [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), zone @ ..] => {
            let (h, m) = match zone {
                [h1, h2] => (digits2(*h1, *h2)?, 0),
                [h1, h2, b':', m1, m2] | [h1, h2, m1, m2] => {
                    (digits2(*h1, *h2)?, digits2(*m1, *m2)?)
                }
                _ => return None,
            };
            if h > 23 || m > 59 {
                return None;
            }
            let secs = i64::from(h * 3600 + m * 60);
            if *sign == b'-' {
                -secs
            } else {
                secs
            }
        }
        _ => return None,
    };
    let days = days_from_civil(i64::from(year), month, day);
    let secs = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second) - offset_secs;
    let secs = u64::try_from(secs).ok()?;
    secs.checked_mul(1_000_000_000)?.checked_add(nanos)
}

fn digits2(a: u8, b: u8) -> Option<u32> {
    if a.is_ascii_digit() && b.is_ascii_digit() {
        Some(u32::from(a - b'0') * 10 + u32::from(b - b'0'))
    } else {
        None
    }
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_in_every_accepted_form() {
        let t = 1_704_164_645_678_000_000; // 2024-01-02T03:04:05.678Z
        for s in [
            "2024-01-02T03:04:05.678Z",
            "2024-01-02T03:04:05.678000Z",
            "2024-01-02T03:04:05.678000000Z",
            "2024-01-02T03:04:05.678+00:00",
            "2024-01-02 03:04:05.678",
            "2024-01-02t03:04:05,678z",
            "2024-01-02T04:04:05.678+01:00",
            "2024-01-02T02:04:05.678-0100",
            "2024-01-02T05:04:05.678+02",
            "1704164645678000000",
            " 2024-01-02T03:04:05.678Z ",
        ] {
            assert_eq!(time(s), Some(t), "{s}");
        }
        assert_eq!(
            time("2024-01-02T03:04:05Z"),
            Some(1_704_164_645_000_000_000)
        );
        assert_eq!(
            time("2024-01-02T03:04:05.1234567891Z"),
            Some(1_704_164_645_123_456_789)
        );
        assert_eq!(time("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            time("2024-02-29T00:00:00Z"),
            Some(1_709_164_800_000_000_000)
        );
        for bad in [
            "",
            "x",
            "2023-02-29T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-01-02T24:00:00Z",
            "2024-01-02T03:04:05.Z",
            "2024-01-02T03:04:05ZZ",
            "2024-01-02T03:04:05+1",
            "1969-12-31T23:59:59Z",
            "2024-01-02X03:04:05Z",
            "-5",
            "99999-01-01T00:00:00Z",
            "9999-01-01T00:00:00Z",
            "2024-01-02T03:04:05.678é",
        ] {
            assert_eq!(time(bad), None, "{bad}");
        }
    }

    #[test]
    fn numbers_macs_and_names() {
        assert_eq!(uint("0"), Some(0));
        assert_eq!(uint(" 42 "), Some(42));
        assert_eq!(uint("18446744073709551615"), Some(u64::MAX));
        assert_eq!(uint("18446744073709551616"), None);
        assert_eq!(uint("-1"), None);
        assert_eq!(uint("1e3"), None);
        assert_eq!(uint_max("65536", 65535), None);
        assert_eq!(
            mac("00:1b:21:3a:4f:FE"),
            Some([0, 0x1b, 0x21, 0x3a, 0x4f, 0xfe])
        );
        assert_eq!(
            mac("00-1b-21-3a-4f-fe"),
            Some([0, 0x1b, 0x21, 0x3a, 0x4f, 0xfe])
        );
        assert_eq!(mac("00:1b-21:3a:4f:fe"), None);
        assert_eq!(mac("00:1b:21:3a:4f:fg"), None);
        assert_eq!(end_reason("eviction"), Some(EndReason::Eviction));
        assert_eq!(end_reason("3"), Some(EndReason::EndOfFlow));
        assert_eq!(end_reason("0"), None);
        assert_eq!(proto("TCP"), Some(6));
        assert_eq!(proto("udp"), Some(17));
        assert_eq!(proto("256"), None);
        assert_eq!(tcp_flags("...AP.S."), Some(0x1a));
        assert_eq!(tcp_flags("26"), Some(26));
        assert_eq!(tcp_flags("..xAP.S."), None);
        assert_eq!(country("CZ"), Some(*b"CZ"));
        assert_eq!(country("CZE"), None);
        assert_eq!(ip("10.0.0.1"), Some("::ffff:10.0.0.1".parse().unwrap()));
        assert_eq!(ip("2001:db8::1"), Some("2001:db8::1".parse().unwrap()));
        assert_eq!(ip("10.0.0.256"), None);
    }
}
