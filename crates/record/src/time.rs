//! UTC date formatting without a date crate: the meter prints millions of
//! timestamps, so this writes digits into a fixed buffer.

use crate::text::{two_digits, TextOut};

/// How a timestamp is printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DateStyle {
    /// `2026-01-01 12:00:00.123`, as nfdump's line formats.
    NfdumpMillis,
    /// `2026-01-01T12:00:00.123456Z` (RFC 3339, microseconds), for CSV and JSON.
    Rfc3339Micros,
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
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

/// (year, month 1-12, day 1-31) to days since 1970-01-01; the inverse of
/// [`civil_from_days`]. Out-of-range months and days are not checked.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date part (`2026-01-01`) of the last day formatted. Records arrive
/// roughly in time order, so consecutive timestamps nearly always share the
/// day and skip [`civil_from_days`].
#[derive(Clone, Copy, Debug)]
pub struct DateCache {
    day: u64,
    text: [u8; 10],
}

impl Default for DateCache {
    fn default() -> Self {
        DateCache {
            day: 0,
            text: *b"1970-01-01",
        }
    }
}

impl DateCache {
    fn date(&mut self, day: u64) -> [u8; 10] {
        if day != self.day {
            self.day = day;
            self.text = date_text(day);
        }
        self.text
    }
}

/// `YYYY-MM-DD` of `day` days since the epoch. A u64 of nanoseconds ends in
/// 2554, so the year always has four digits.
fn date_text(day: u64) -> [u8; 10] {
    let (year, month, day) = civil_from_days(day as i64);
    let year = year as u64;
    let [y1, y2] = two_digits(year / 100);
    let [y3, y4] = two_digits(year);
    let [m1, m2] = two_digits(month.into());
    let [d1, d2] = two_digits(day.into());
    [y1, y2, y3, y4, b'-', m1, m2, b'-', d1, d2]
}

/// The longest timestamp, `2026-01-01T12:00:00.123456Z`.
const MAX_LEN: usize = 27;

/// Writes the text of `ts_ns` in `style` to the start of `text` and
/// returns its length.
#[inline(always)]
fn fill_datetime(
    text: &mut [u8; MAX_LEN],
    dates: &mut DateCache,
    ts_ns: u64,
    style: DateStyle,
) -> usize {
    let secs = ts_ns / 1_000_000_000;
    let nanos = ts_ns % 1_000_000_000;
    let sod = secs % 86_400;
    text[..10].copy_from_slice(&dates.date(secs / 86_400));
    text[10] = match style {
        DateStyle::NfdumpMillis => b' ',
        DateStyle::Rfc3339Micros => b'T',
    };
    text[11..13].copy_from_slice(&two_digits(sod / 3600));
    text[13] = b':';
    text[14..16].copy_from_slice(&two_digits(sod % 3600 / 60));
    text[16] = b':';
    text[17..19].copy_from_slice(&two_digits(sod % 60));
    text[19] = b'.';
    match style {
        DateStyle::NfdumpMillis => {
            let millis = nanos / 1_000_000;
            text[20] = b'0' + (millis / 100) as u8;
            text[21..23].copy_from_slice(&two_digits(millis));
            23
        }
        DateStyle::Rfc3339Micros => {
            let micros = nanos / 1_000;
            text[20..22].copy_from_slice(&two_digits(micros / 10_000));
            text[22..24].copy_from_slice(&two_digits(micros / 100));
            text[24..26].copy_from_slice(&two_digits(micros));
            text[26] = b'Z';
            27
        }
    }
}

/// Appends `ts_ns` (ns since the epoch, UTC) to `out` in the given style,
/// reusing the date of the previous call when the day is the same.
#[inline(always)]
pub fn push_datetime(out: &mut impl TextOut, dates: &mut DateCache, ts_ns: u64, style: DateStyle) {
    let mut text = [0; MAX_LEN];
    let len = fill_datetime(&mut text, dates, ts_ns, style);
    // The whole buffer cut back: a fixed-size copy, not a call to memcpy.
    out.put_cut(&text, len);
}

/// Appends `ts_ns` (ns since the epoch, UTC) to `out` in the given style.
pub fn format_datetime(out: &mut String, ts_ns: u64, style: DateStyle) {
    let mut text = [0; MAX_LEN];
    let len = fill_datetime(&mut text, &mut DateCache::default(), ts_ns, style);
    // Always ASCII, so this never fails.
    if let Ok(text) = std::str::from_utf8(&text[..len]) {
        out.push_str(text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_from_civil_inverts_civil_from_days() {
        for days in (-800_000..800_000).step_by(97) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    }

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
        assert_eq!(
            fmt(ts, DateStyle::Rfc3339Micros),
            "2023-04-21T07:06:48.588123Z"
        );
        assert_eq!(fmt(0, DateStyle::NfdumpMillis), "1970-01-01 00:00:00.000");
        // A leap day.
        assert_eq!(
            fmt(1_709_164_800 * 1_000_000_000, DateStyle::NfdumpMillis),
            "2024-02-29 00:00:00.000"
        );
    }

    /// The cached date must never leak into another day: alternate days,
    /// years and the epoch, and compare with a fresh cache each time.
    #[test]
    fn cached_date_follows_the_day() {
        let mut dates = DateCache::default();
        let day = 86_400_000_000_000;
        let times = [
            0,
            day - 1,
            day,
            5 * day + 7,
            day,
            0,
            20_000 * day,
            u64::MAX,
            3,
            u64::MAX - day,
        ];
        for ts in times {
            for style in [DateStyle::NfdumpMillis, DateStyle::Rfc3339Micros] {
                let mut cached = Vec::new();
                push_datetime(&mut cached, &mut dates, ts, style);
                assert_eq!(String::from_utf8(cached).unwrap(), fmt(ts, style), "{ts}");
            }
        }
        assert_eq!(
            fmt(u64::MAX, DateStyle::Rfc3339Micros),
            "2554-07-21T23:34:33.709551Z"
        );
    }
}
