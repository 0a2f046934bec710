//! Where files live: `ROOT/SOURCE/YYYY/MM/DD/flows.YYYYMMDDhhmm[.N].parquet`.
//!
//! The stamp is the UTC start of the file's time window, as nfcapd names its
//! files, so a plain sort of the names sorts by time and a query can skip
//! whole days and windows by name. `.N` numbers extra parts of a window
//! (written after a restart into a window that already has a file). Files
//! being written are hidden (`.flows....parquet.tmp` in the same folder) and
//! renamed when complete, so a reader sees only whole files.

use std::path::{Path, PathBuf};

use record::{civil_from_days, days_from_civil};

use crate::Error;

/// One complete store file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreFile {
    pub source: String,
    /// Start of the file's window, seconds since the epoch (UTC).
    pub window_start: u64,
    /// Extra part number (0 for the first file of a window).
    pub part: u32,
    pub path: PathBuf,
    /// Bytes on disk: the flows file and its summary.
    pub bytes: u64,
}

/// A source name as a folder name: letters, digits, `.`, `-` and `_` kept,
/// anything else (`:` of IPv6 addresses, `/`) replaced by `_`.
pub fn source_dir_name(source: &str) -> String {
    let s: String = source
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    match s.as_str() {
        "" | "." | ".." => format!("_{s}"),
        _ => s,
    }
}

/// `YYYYMMDDhhmm` of a time in seconds.
pub fn stamp(secs: u64) -> String {
    let (y, mo, d) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!("{y:04}{mo:02}{d:02}{:02}{:02}", rem / 3600, rem % 3600 / 60)
}

/// Inverse of [`stamp`].
pub fn parse_stamp(s: &str) -> Option<u64> {
    if s.len() != 12 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s[r].parse::<u32>().ok();
    let (y, mo, d, h, mi) = (
        num(0..4)?,
        num(4..6)?,
        num(6..8)?,
        num(8..10)?,
        num(10..12)?,
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 {
        return None;
    }
    let days = u64::try_from(days_from_civil(i64::from(y), mo, d)).ok()?;
    Some(days * 86_400 + u64::from(h) * 3600 + u64::from(mi) * 60)
}

/// The folder of a source's files for the day of `window_start`.
pub fn day_dir(root: &Path, source: &str, window_start: u64) -> PathBuf {
    let (y, mo, d) = civil_from_days((window_start / 86_400) as i64);
    root.join(source_dir_name(source))
        .join(format!("{y:04}"))
        .join(format!("{mo:02}"))
        .join(format!("{d:02}"))
}

/// The file name of a window's part.
pub fn file_name(window_start: u64, part: u32) -> String {
    match part {
        0 => format!("flows.{}.parquet", stamp(window_start)),
        n => format!("flows.{}.{n}.parquet", stamp(window_start)),
    }
}

/// (window start, part) of a complete file's name; None for anything else
/// (temporary files, other files a user put there).
pub fn parse_file_name(name: &str) -> Option<(u64, u32)> {
    let rest = name.strip_prefix("flows.")?.strip_suffix(".parquet")?;
    let (stamp, part) = match rest.split_once('.') {
        Some((stamp, part)) => (stamp, part.parse::<u32>().ok().filter(|p| *p > 0)?),
        None => (rest, 0),
    };
    Some((parse_stamp(stamp)?, part))
}

/// The hidden name a file has while it is written.
pub fn temp_name(final_name: &str) -> String {
    format!(".{final_name}.tmp")
}

/// Every complete file under `root`, optionally only of some sources and
/// windows that start before `until` and end after `since` (seconds;
/// `window_secs` is the window length, used to know where a window ends).
/// Sorted by (window start, source, part).
pub fn list_files(
    root: &Path,
    sources: Option<&[String]>,
    range: Option<(u64, u64)>,
    window_secs: u64,
) -> Result<Vec<StoreFile>, Error> {
    let mut out = Vec::new();
    for source in read_dir_names(root)? {
        if source.starts_with('.') {
            continue;
        }
        if let Some(wanted) = sources {
            if !wanted.iter().any(|w| source_dir_name(w) == source) {
                continue;
            }
        }
        let dir = root.join(&source);
        if !dir.is_dir() {
            continue;
        }
        collect_source(&dir, &source, range, window_secs, &mut out)?;
    }
    out.sort_by(|a, b| {
        (a.window_start, &a.source, a.part).cmp(&(b.window_start, &b.source, b.part))
    });
    Ok(out)
}

fn collect_source(
    dir: &Path,
    source: &str,
    range: Option<(u64, u64)>,
    window_secs: u64,
    out: &mut Vec<StoreFile>,
) -> Result<(), Error> {
    for year in read_dir_names(dir)? {
        for month in read_dir_names(&dir.join(&year))? {
            for day in read_dir_names(&dir.join(&year).join(&month))? {
                let day_dir = dir.join(&year).join(&month).join(&day);
                if !day_dir.is_dir() {
                    continue;
                }
                for name in read_dir_names(&day_dir)? {
                    let Some((start, part)) = parse_file_name(&name) else {
                        continue;
                    };
                    if let Some((since, until)) = range {
                        if start >= until || start.saturating_add(window_secs) <= since {
                            continue;
                        }
                    }
                    let path = day_dir.join(&name);
                    let bytes = std::fs::metadata(&path)
                        .map_err(|e| Error::io("reading metadata of", &path, e))?
                        .len()
                        + summary_bytes(&path);
                    out.push(StoreFile {
                        source: source.to_string(),
                        window_start: start,
                        part,
                        path,
                        bytes,
                    });
                }
            }
        }
    }
    Ok(())
}

/// The size of the summary of the flows file at `flows` (0 when it has none).
pub(crate) fn summary_bytes(flows: &Path) -> u64 {
    crate::summary::summary_path(flows)
        .and_then(|p| std::fs::metadata(p).ok())
        .map_or(0, |m| m.len())
}

/// Names in a folder; a missing folder or a plain file has none.
fn read_dir_names(dir: &Path) -> Result<Vec<String>, Error> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("listing", dir, e)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("listing", dir, e))?;
        if let Ok(name) = entry.file_name().into_string() {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_sort_by_time() {
        let t = 1_764_289_500; // 2025-11-28 00:25:00
        assert_eq!(stamp(t), "202511280025");
        assert_eq!(parse_stamp("202511280025"), Some(t));
        assert_eq!(file_name(t, 0), "flows.202511280025.parquet");
        assert_eq!(parse_file_name("flows.202511280025.parquet"), Some((t, 0)));
        assert_eq!(
            parse_file_name("flows.202511280025.3.parquet"),
            Some((t, 3))
        );
        for bad in [
            ".flows.202511280025.parquet.tmp",
            "flows.202513280025.parquet",
            "flows.202511280025.0.parquet",
            "flows.2025112800.parquet",
            "nfcapd.202511280025",
        ] {
            assert_eq!(parse_file_name(bad), None, "{bad}");
        }
        assert!(file_name(t, 0) < file_name(t + 300, 0));
    }

    #[test]
    fn source_names_become_safe_folder_names() {
        assert_eq!(source_dir_name("192.0.2.1"), "192.0.2.1");
        assert_eq!(source_dir_name("2001:db8::1"), "2001_db8__1");
        assert_eq!(source_dir_name("../etc"), ".._etc");
        assert_eq!(source_dir_name(".."), "_..");
        assert_eq!(source_dir_name(""), "_");
    }
}
