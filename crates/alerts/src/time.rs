//! Times of `eddy alerts`: parsing `--since`/`--until` and printing.

/// RFC 3339 (`2026-01-02T03:04:05Z`, `...05.5+01:00`) or nfdump's
/// `YYYY/MM/DD[.hh[:mm[:ss]]]` (UTC), as ns since the epoch.
pub fn parse_time(s: &str) -> Result<i64, String> {
    let bad = || {
        format!("time '{s}': expected RFC 3339 (2026-01-02T03:04:05Z) or YYYY/MM/DD.hh:mm:ss (UTC)")
    };
    let s = s.trim();
    let slash = s.contains('/');
    let (date, rest) = match s.split_once(['T', 't', ' ', '.']) {
        Some((d, r)) => (d, Some(r)),
        _ => (s, None),
    };
    let sep = if slash { '/' } else { '-' };
    let num = |x: Option<&str>, lo: i64, hi: i64| -> Result<i64, String> {
        let x = x.ok_or_else(bad)?;
        if x.is_empty() || x.len() > 4 || !x.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        let v: i64 = x.parse().map_err(|_| bad())?;
        if v < lo || v > hi {
            return Err(bad());
        }
        Ok(v)
    };
    let mut d = date.split(sep);
    let year = num(d.next(), 1970, 9999)?;
    let month = num(d.next(), 1, 12)?;
    let day = num(d.next(), 1, 31)?;
    if d.next().is_some() {
        return Err(bad());
    }
    let mut ns: i64 = 0;
    let mut offset: i64 = 0;
    let (mut hh, mut mm, mut ss) = (0, 0, 0);
    if let Some(t) = rest {
        let mut t = t;
        if !slash {
            // Zone: Z or ±hh:mm (required by RFC 3339; absent means UTC).
            if let Some(x) = t.strip_suffix(['Z', 'z']) {
                t = x;
            } else if let Some(i) = t.rfind(['+', '-']) {
                let (clock, zone) = t.split_at(i);
                let sign = if zone.starts_with('-') { -1 } else { 1 };
                let (zh, zm) = zone[1..].split_once(':').ok_or_else(bad)?;
                offset = sign * (num(Some(zh), 0, 23)? * 3600 + num(Some(zm), 0, 59)? * 60);
                t = clock;
            }
            if let Some((clock, frac)) = t.split_once('.') {
                if frac.is_empty() || frac.len() > 9 || !frac.bytes().all(|c| c.is_ascii_digit()) {
                    return Err(bad());
                }
                ns = frac.parse::<i64>().map_err(|_| bad())? * 10i64.pow(9 - frac.len() as u32);
                t = clock;
            }
        }
        let mut p = t.split(':');
        hh = num(p.next(), 0, 23)?;
        if let Some(x) = p.next() {
            mm = num(Some(x), 0, 59)?;
        }
        if let Some(x) = p.next() {
            ss = num(Some(x), 0, 60)?;
        }
        if p.next().is_some() {
            return Err(bad());
        }
    }
    let days = record::days_from_civil(year, month as u32, day as u32);
    let secs = days * 86400 + hh * 3600 + mm * 60 + ss - offset;
    Ok(secs * 1_000_000_000 + ns)
}

/// `2026-01-02T03:04:05.678Z`.
pub fn format_time(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let ms = ns.rem_euclid(1_000_000_000) / 1_000_000;
    let (y, m, d) = record::civil_from_days(secs.div_euclid(86400));
    let rest = secs.rem_euclid(86400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_767_323_045_000_000_000; // 2026-01-02T03:04:05Z

    #[test]
    fn parses_both_forms() {
        assert_eq!(parse_time("2026-01-02T03:04:05Z").unwrap(), T);
        assert_eq!(parse_time("2026-01-02T04:04:05+01:00").unwrap(), T);
        assert_eq!(
            parse_time("2026-01-02T03:04:05.5Z").unwrap(),
            T + 500_000_000
        );
        assert_eq!(parse_time("2026/01/02.03:04:05").unwrap(), T);
        assert_eq!(
            parse_time("2026/01/02").unwrap(),
            T - (3 * 3600 + 4 * 60 + 5) * 1_000_000_000
        );
        assert_eq!(
            parse_time("2026-01-02").unwrap(),
            parse_time("2026/01/02").unwrap()
        );
        assert!(parse_time("yesterday").is_err());
        assert!(parse_time("2026-13-02T00:00:00Z").is_err());
        assert_eq!(format_time(T + 678_000_000), "2026-01-02T03:04:05.678Z");
    }
}
