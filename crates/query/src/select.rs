//! Which files a query reads: nfdump's `-r`, `-R` and `-M`, narrowed by the
//! `-t` time window through the window stamps in the file names.
//!
//! A store window holds the records that *arrived* in it, so a window says
//! little about its flows' times: a flow ends before it arrives (by the
//! exporter's timeouts and delays, or by months when an old IPFIX file is
//! collected with `eddy collect -r`) and starts before it ends. nfdump's
//! `-t START-END` keeps flows with `first >= START` and `last <= END`. A
//! window that ends at or before START holds flows that ended before START
//! (and so started before it): such files are skipped, with
//! [`CLOCK_SLACK_SECS`] (one hour) to spare for exporter clocks ahead of
//! the collector's. Nothing bounds how late a flow arrives, so files of
//! later windows are all read, and their Parquet statistics on `first` and
//! `last` (file, row group and page) skip what the window excludes without
//! reading it. Files whose names carry no window stamp are always read.

use std::path::{Path, PathBuf};

use crate::engine::{Error, Result};

/// How far ahead of the collector's clock an exporter's may be.
pub const CLOCK_SLACK_SECS: u64 = 3600;

/// The longest store window assumed when deciding that a window ends
/// before the `-t` start (stores are written with windows of at most an hour).
pub const MAX_WINDOW_SECS: u64 = 3600;

/// A time window in seconds since the epoch, end inclusive (`-t`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeWindow {
    pub start: u64,
    /// `u64::MAX` when open.
    pub end: u64,
}

impl TimeWindow {
    /// nfdump's `-t YYYY/MM/dd.hh:mm:ss[-YYYY/MM/dd.hh:mm:ss]` (UTC): missing
    /// trailing parts of a time are the start of the period; a missing end
    /// is open.
    pub fn parse(s: &str) -> Result<TimeWindow> {
        let s = s.trim();
        if s.starts_with('+') || s.starts_with('-') {
            return Err(Error(format!(
                "time window '{s}': a relative window (+n/-n) needs the flows' span; see `Relative`"
            )));
        }
        // Dates use '/', so a '-' separates start and end.
        let (a, b) = match s.split_once('-') {
            Some((a, b)) => (a, Some(b)),
            None => (s, None),
        };
        let start = parse_time(a)?;
        let end = match b {
            Some(b) => parse_time(b)?,
            None => u64::MAX,
        };
        if end < start {
            return Err(Error(format!(
                "time window '{s}': the end is before the start"
            )));
        }
        Ok(TimeWindow { start, end })
    }

    /// The window as a filter on flows (`first >= start and last <= end`),
    /// in the filter AST so both evaluation paths share it.
    pub fn to_filter(self) -> filter::Expr {
        let mut parts = vec![filter::Expr::Cmp {
            col: filter::Column::First,
            op: filter::CmpOp::Ge,
            value: self.start.saturating_mul(1_000_000_000),
        }];
        if self.end != u64::MAX {
            parts.push(filter::Expr::Cmp {
                col: filter::Column::Last,
                op: filter::CmpOp::Le,
                value: self.end.saturating_mul(1_000_000_000),
            });
        }
        filter::Expr::and(parts)
    }
}

/// nfdump's relative `-t`: `+n` is the first n seconds of all flows, `-n`
/// the last n (as nfdump's manual says; nfdump 1.7.1 itself ignores such a
/// window and prints every flow).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relative {
    First(u64),
    Last(u64),
}

impl Relative {
    /// `None` when `s` is not relative (no leading `+` or `-`).
    pub fn parse(s: &str) -> Option<Result<Relative>> {
        let s = s.trim();
        let (sign, digits) = (s.chars().next()?, s.get(1..)?);
        if sign != '+' && sign != '-' {
            return None;
        }
        let secs = digits.parse::<u64>().map_err(|_| {
            Error(format!(
                "time window '{s}': expected +SECONDS or -SECONDS (relative to the first or last flow)"
            ))
        });
        Some(secs.map(|n| {
            if sign == '+' {
                Relative::First(n)
            } else {
                Relative::Last(n)
            }
        }))
    }

    /// The window over flows that span `first_ns..=last_ns`: from the
    /// earliest start's second for n seconds, or the n seconds up to the
    /// latest end (rounded up to a whole second).
    pub fn window(self, first_ns: u64, last_ns: u64) -> TimeWindow {
        match self {
            Relative::First(n) => {
                let start = first_ns / 1_000_000_000;
                TimeWindow {
                    start,
                    end: start.saturating_add(n),
                }
            }
            Relative::Last(n) => {
                let end = last_ns.div_ceil(1_000_000_000);
                TimeWindow {
                    start: end.saturating_sub(n),
                    end,
                }
            }
        }
    }
}

/// `YYYY/MM/dd.hh:mm:ss` or a prefix of it (`YYYY/MM/dd`, `YYYY/MM/dd.hh`),
/// in UTC, as seconds since the epoch.
pub fn parse_time(s: &str) -> Result<u64> {
    let bad = || {
        Error(format!(
            "time '{s}': expected YYYY/MM/dd[.hh[:mm[:ss]]] (UTC)"
        ))
    };
    let (date, time) = match s.split_once(['.', 'T', ' ']) {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let mut d = date.split('/');
    let num = |x: Option<&str>, lo: u32, hi: u32| -> Result<u32> {
        let x = x.ok_or_else(bad)?;
        if x.is_empty() || x.len() > 4 || !x.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        let v: u32 = x.parse().map_err(|_| bad())?;
        if v < lo || v > hi {
            return Err(bad());
        }
        Ok(v)
    };
    let year = num(d.next(), 1970, 9999)?;
    let month = match d.next() {
        Some(m) => num(Some(m), 1, 12)?,
        None => 1,
    };
    let day = match d.next() {
        Some(x) => num(Some(x), 1, 31)?,
        None => 1,
    };
    if d.next().is_some() {
        return Err(bad());
    }
    let (mut hh, mut mm, mut ss) = (0, 0, 0);
    if let Some(t) = time {
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
    let days = record::days_from_civil(year as i64, month, day);
    if days < 0 {
        return Err(bad());
    }
    Ok(days as u64 * 86400 + hh as u64 * 3600 + mm as u64 * 60 + ss as u64)
}

/// What to read: nfdump's `-r`, `-R`, `-M`.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    /// `-r FILE|DIR`.
    pub read: Option<PathBuf>,
    /// `-R DIR` (a source folder, a day, or the whole store).
    pub read_dir: Option<PathBuf>,
    /// `-M STORE/src1:src2`: folders that hold the same layout.
    pub multi: Option<String>,
}

/// A file to read and its window start, when its name carries one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Input {
    pub path: PathBuf,
    pub window_start: Option<u64>,
}

impl Selection {
    /// The files selected, narrowed by the time window, sorted by window and path.
    pub fn files(&self, window: Option<TimeWindow>) -> Result<Vec<Input>> {
        let mut roots: Vec<PathBuf> = Vec::new();
        if let Some(m) = &self.multi {
            let mut parts = m.split(':');
            let first = PathBuf::from(parts.next().unwrap_or(""));
            let parent = first.parent().map(Path::to_path_buf).unwrap_or_default();
            let mut dirs = vec![first];
            for p in parts.filter(|p| !p.is_empty()) {
                dirs.push(parent.join(p));
            }
            let sub = self.read_dir.as_ref().or(self.read.as_ref());
            for d in dirs {
                roots.push(match sub {
                    Some(s) => d.join(s),
                    None => d,
                });
            }
        } else {
            roots.extend(self.read.iter().cloned());
            roots.extend(self.read_dir.iter().cloned());
        }
        if roots.is_empty() {
            return Err(Error(
                "no input: give -r FILE|DIR, -R DIR or -M STORE/src1:src2".into(),
            ));
        }
        let mut out = Vec::new();
        for r in &roots {
            let meta = std::fs::metadata(r)
                .map_err(|e| Error(format!("cannot read '{}': {e}", r.display())))?;
            if meta.is_dir() {
                walk(r, &mut out)?;
            } else {
                out.push(input(r.clone()));
            }
        }
        if let Some(w) = window {
            out.retain(|f| match f.window_start {
                None => true,
                Some(ws) => ws.saturating_add(MAX_WINDOW_SECS + CLOCK_SLACK_SECS) > w.start,
            });
        }
        out.sort_by(|a, b| (a.window_start, &a.path).cmp(&(b.window_start, &b.path)));
        out.dedup();
        Ok(out)
    }
}

fn input(path: PathBuf) -> Input {
    let window_start = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(store::layout::parse_file_name)
        .map(|(start, _)| start);
    Input { path, window_start }
}

/// Every Parquet file under `dir`, skipping hidden names (temporary files,
/// the spool) and window summaries.
fn walk(dir: &Path, out: &mut Vec<Input>) -> Result<()> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| Error(format!("cannot list '{}': {e}", dir.display())))?;
    let mut names: Vec<_> = entries.flatten().collect();
    names.sort_by_key(|e| e.file_name());
    for e in names {
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with('.') {
            continue;
        }
        let p = e.path();
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            walk(&p, out)?;
        } else if name.ends_with(".parquet") && !store::summary::is_summary_name(name) {
            out.push(input(p));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_windows_count_from_the_first_or_last_flow() {
        assert!(Relative::parse("2026/01/01").is_none());
        assert_eq!(
            Relative::parse("+10").unwrap().unwrap(),
            Relative::First(10)
        );
        assert_eq!(
            Relative::parse(" -600").unwrap().unwrap(),
            Relative::Last(600)
        );
        assert!(Relative::parse("+ten").unwrap().is_err());
        assert!(Relative::parse("-").unwrap().is_err());
        let (first, last) = (1_767_225_600_250_000_000, 1_767_225_750_100_000_000);
        let w = Relative::First(10).window(first, last);
        assert_eq!((w.start, w.end), (1_767_225_600, 1_767_225_610));
        let w = Relative::Last(10).window(first, last);
        assert_eq!((w.start, w.end), (1_767_225_741, 1_767_225_751));
    }

    #[test]
    fn time_windows_parse_like_nfdump() {
        let t = TimeWindow::parse("2026/01/01.00:00:10-2026/01/01.00:01").unwrap();
        let base = record::days_from_civil(2026, 1, 1) as u64 * 86400;
        assert_eq!(t.start, base + 10);
        assert_eq!(t.end, base + 60);
        let t = TimeWindow::parse("2026/01/01").unwrap();
        assert_eq!((t.start, t.end), (base, u64::MAX));
        for bad in [
            "",
            "x",
            "2026/13/01",
            "2026/01/01.25:00",
            "+10",
            "2026/01/02-2026/01/01",
        ] {
            assert!(TimeWindow::parse(bad).is_err(), "{bad}");
        }
    }
}
