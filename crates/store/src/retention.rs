//! Retention: old windows are removed by age and, oldest first, until the
//! store fits a size limit (`eddy store expire`, and the collector
//! periodically), as nfexpire does for nfcapd folders.

use std::path::Path;

use crate::layout::list_files;
use crate::Error;

/// Limits; `None` = no limit of that kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Retention {
    /// Remove windows that ended more than this many seconds before now.
    pub max_age_secs: Option<u64>,
    /// Then remove the oldest windows until the store is at most this big.
    pub max_bytes: Option<u64>,
}

/// What an expiry run removed and left.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Expired {
    pub files_removed: u64,
    pub bytes_removed: u64,
    pub files_left: u64,
    pub bytes_left: u64,
}

/// Applies `retention` to the store at `root` at time `now_secs`. Whole
/// windows go (every source's file of the oldest window first, so sources
/// keep the same time range); empty day folders are removed.
pub fn expire(
    root: &Path,
    window_secs: u64,
    retention: Retention,
    now_secs: u64,
) -> Result<Expired, Error> {
    let files = list_files(root, None, None, window_secs)?;
    let mut total: u64 = files.iter().map(|f| f.bytes).sum();
    let mut report = Expired::default();
    let cutoff = retention
        .max_age_secs
        .map(|age| now_secs.saturating_sub(age));
    let mut kept = Vec::new();
    for f in files {
        let ended = f.window_start.saturating_add(window_secs);
        let too_old = cutoff.is_some_and(|c| ended <= c);
        let too_big = retention.max_bytes.is_some_and(|max| total > max);
        if too_old || too_big {
            if let Some(summary) = crate::summary::summary_path(&f.path) {
                remove(&summary)?;
            }
            remove(&f.path)?;
            total -= f.bytes;
            report.files_removed += 1;
            report.bytes_removed += f.bytes;
        } else {
            kept.push(f);
        }
    }
    report.files_left = kept.len() as u64;
    report.bytes_left = total;
    remove_empty_dirs(root);
    Ok(report)
}

fn remove(path: &Path) -> Result<(), Error> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("removing", path, e)),
    }
}

/// Removes empty folders below `root` (never `root` itself).
fn remove_empty_dirs(root: &Path) {
    fn walk(dir: &Path, is_root: bool) -> bool {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return false;
        };
        let mut empty = true;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                if !walk(&path, false) {
                    empty = false;
                }
            } else {
                empty = false;
            }
        }
        if empty && !is_root {
            return std::fs::remove_dir(dir).is_ok();
        }
        empty
    }
    walk(root, true);
}

/// Removes the hidden temporary files of unfinished windows (after a crash;
/// the caller replays their rows from its spool). Returns how many.
pub fn remove_temp_files(root: &Path) -> Result<u64, Error> {
    fn walk(dir: &Path, n: &mut u64) -> Result<(), Error> {
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io("listing", dir, e)),
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if path.is_dir() {
                walk(&path, n)?;
            } else if name.starts_with(".flows.") && name.ends_with(".parquet.tmp") {
                remove(&path)?;
                *n += 1;
            }
        }
        Ok(())
    }
    let mut n = 0;
    walk(root, &mut n)?;
    Ok(n)
}
