//! UTC date formatting without a date crate: the meter prints millions of
//! timestamps, so this writes digits into a fixed buffer.

/// How a timestamp is printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DateStyle {
    /// `2026-01-01 12:00:00.123`, as nfdump's line formats.
    NfdumpMillis,
    /// `2026-01-01T12:00:00.123456Z` (RFC 3339, microseconds), for CSV and JSON.
    Rfc3339Micros,
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn push_num(out: &mut String, value: u64, width: usize) {
    let mut digits = [b'0'; 20];
    let mut v = value;
    let mut i = digits.len();
    while v > 0 || i == digits.len() {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    for _ in (digits.len() - i)..width {
        out.push('0');
    }
    for &d in &digits[i..] {
        out.push(d as char);
    }
}

/// Appends `ts_ns` (ns since the epoch, UTC) to `out` in the given style.
pub fn format_datetime(out: &mut String, ts_ns: u64, style: DateStyle) {
    let secs = ts_ns / 1_000_000_000;
    let nanos = ts_ns % 1_000_000_000;
    let (year, month, day) = civil_from_days((secs / 86_400) as i64);
    let sod = secs % 86_400;
    push_num(out, year as u64, 4);
    out.push('-');
    push_num(out, month.into(), 2);
    out.push('-');
    push_num(out, day.into(), 2);
    out.push(match style {
        DateStyle::NfdumpMillis => ' ',
        DateStyle::Rfc3339Micros => 'T',
    });
    push_num(out, sod / 3600, 2);
    out.push(':');
    push_num(out, sod % 3600 / 60, 2);
    out.push(':');
    push_num(out, sod % 60, 2);
    out.push('.');
    match style {
        DateStyle::NfdumpMillis => push_num(out, nanos / 1_000_000, 3),
        DateStyle::Rfc3339Micros => {
            push_num(out, nanos / 1_000, 6);
            out.push('Z');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(ts_ns: u64, style: DateStyle) -> String {
        let mut s = String::new();
        format_datetime(&mut s, ts_ns, style);
        s
    }

    #[test]
    fn formats_known_dates() {
        // 2023-04-21 07:06:48.588 UTC (from flowtest_tls12.pcap, as nfdump prints it).
        let ts = 1_682_060_808_588_123_456;
        assert_eq!(fmt(ts, DateStyle::NfdumpMillis), "2023-04-21 07:06:48.588");
        assert_eq!(fmt(ts, DateStyle::Rfc3339Micros), "2023-04-21T07:06:48.588123Z");
        assert_eq!(fmt(0, DateStyle::NfdumpMillis), "1970-01-01 00:00:00.000");
        // A leap day.
        assert_eq!(fmt(1_709_164_800 * 1_000_000_000, DateStyle::NfdumpMillis), "2024-02-29 00:00:00.000");
    }
}
