//! ISO 8601 times for `first seen` / `last seen` and the `first` / `last`
//! columns. Times are UTC (nfdump uses the local time zone; eddy's store
//! and output are UTC, so the filter is too).

/// Milliseconds since the epoch of `yyyy[-MM[-dd[Thh[:mm[:ss[.fff]]]]]]`
/// (`/` may stand for `-`, and `.` or a space for `T`, as in nfdump's legacy
/// `yyyy/MM/dd.hh:mm:ss`). Missing parts are the start of the period.
pub(crate) fn parse_ms(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    let mut i = 0;
    let num = |i: &mut usize, n: usize| -> Option<u64> {
        let d = b.get(*i..*i + n)?;
        if !d.iter().all(u8::is_ascii_digit) {
            return None;
        }
        *i += n;
        Some(d.iter().fold(0u64, |a, c| a * 10 + (c - b'0') as u64))
    };
    let year = num(&mut i, 4)?;
    let (mut month, mut day, mut hour, mut min, mut sec, mut ms) = (1, 1, 0, 0, 0, 0);
    let sep = |i: &mut usize, set: &[u8]| -> bool {
        match b.get(*i) {
            Some(c) if set.contains(c) => {
                *i += 1;
                true
            }
            _ => false,
        }
    };
    'parts: {
        if i == b.len() {
            break 'parts;
        }
        if !sep(&mut i, b"-/") {
            return None;
        }
        month = num(&mut i, 2)?;
        if i == b.len() {
            break 'parts;
        }
        if !sep(&mut i, b"-/") {
            return None;
        }
        day = num(&mut i, 2)?;
        if i == b.len() {
            break 'parts;
        }
        if !sep(&mut i, b"Tt. ") {
            return None;
        }
        hour = num(&mut i, 2)?;
        if i == b.len() {
            break 'parts;
        }
        if !sep(&mut i, b":") {
            return None;
        }
        min = num(&mut i, 2)?;
        if i == b.len() {
            break 'parts;
        }
        if !sep(&mut i, b":") {
            return None;
        }
        sec = num(&mut i, 2)?;
        if i == b.len() {
            break 'parts;
        }
        if !sep(&mut i, b".") {
            return None;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() && i - start < 9 {
            i += 1;
        }
        if i == start || i != b.len() {
            return None;
        }
        // Milliseconds: the first three digits, padded.
        let digits = &b[start..i];
        for k in 0..3 {
            ms = ms * 10 + digits.get(k).map_or(0, |c| (c - b'0') as u64);
        }
    }
    if !(1970..=9999).contains(&year)
        || !(1..=12).contains(&month)
        || !(1..=days_in_month(year, month)).contains(&day)
        || hour > 23
        || min > 59
        || sec > 60
    {
        return None;
    }
    let days = days_from_civil(year as i64, month as i64, day as i64);
    let secs = days as u64 * 86400 + hour * 3600 + min * 60 + sec;
    Some(secs * 1000 + ms)
}

fn days_in_month(y: u64, m: u64) -> u64 {
    match m {
        2 if matches!((y % 4, y % 100, y % 400), (0, 1.., _) | (_, _, 0)) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// `yyyy-MM-ddThh:mm:ss.fff` (UTC) of nanoseconds since the epoch.
pub(crate) fn format_ns(ns: u64) -> String {
    let ms = ns / 1_000_000;
    let secs = ms / 1000;
    let days = (secs / 86400) as i64;
    let rem = secs % 86400;
    // civil_from_days
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        ms % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_iso_and_legacy_forms() {
        assert_eq!(parse_ms("1970"), Some(0));
        assert_eq!(parse_ms("2004-07-11T10:30:00"), Some(1_089_541_800_000));
        assert_eq!(parse_ms("2004/07/11.10:30:00"), Some(1_089_541_800_000));
        assert_eq!(parse_ms("2004-07-11 10:30:00.25"), Some(1_089_541_800_250));
        assert_eq!(parse_ms("2004-07-11T10:30"), Some(1_089_541_800_000));
        assert_eq!(parse_ms("2004-07"), Some(1_088_640_000_000));
        assert_eq!(parse_ms("2024-02-29"), Some(1_709_164_800_000));
        assert_eq!(parse_ms("2023-02-29"), None);
        assert_eq!(parse_ms("2004-13-01"), None);
        assert_eq!(parse_ms("2004-07-11X"), None);
        assert_eq!(parse_ms("20"), None);
        assert_eq!(parse_ms(""), None);
        assert_eq!(parse_ms("2004-07-11T10:30:00."), None);
    }

    #[test]
    fn formats_round_trip() {
        let ms = parse_ms("2004-07-11T10:30:00.123").unwrap();
        assert_eq!(format_ns(ms * 1_000_000), "2004-07-11T10:30:00.123");
        assert_eq!(format_ns(0), "1970-01-01T00:00:00.000");
    }
}
