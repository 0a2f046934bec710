//! Crash recovery: what a killed writer left behind becomes complete files.
//!
//! A spool whose Parquet part is already in place was about to be deleted:
//! it goes. Any other spool is read up to its last whole batch (a batch cut
//! off by the crash was never acknowledged) and written as that part's
//! file. Hidden temporary Parquet files are removed.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use arrow_ipc::reader::StreamReader;
use schema::sparse::{Filler, Wanted};

use crate::layout::{day_dir, file_name, parse_file_name};
use crate::retention::remove_temp_files;
use crate::writer::{spool_root, WindowWriter, WriterConfig};
use crate::{Error, StoreFile};

/// What recovery did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Files rebuilt from spools.
    pub files: Vec<StoreFile>,
    /// Rows those files hold.
    pub rows: u64,
    /// Spools whose file was already complete (deleted).
    pub already_complete: u64,
    /// Temporary Parquet files removed.
    pub temp_files_removed: u64,
}

/// Recovers the store at `root` (see the module documentation).
pub fn recover(root: &Path, config: &WriterConfig) -> Result<Recovered, Error> {
    let mut report = Recovered {
        temp_files_removed: remove_temp_files(root)?,
        ..Recovered::default()
    };
    let spool_root = spool_root(root, config);
    let sources = match std::fs::read_dir(&spool_root) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(report),
        Err(e) => return Err(Error::io("listing", &spool_root, e)),
    };
    let mut spools = Vec::new();
    for source in sources.flatten() {
        let Ok(source_name) = source.file_name().into_string() else {
            continue;
        };
        let Ok(files) = std::fs::read_dir(source.path()) else {
            continue;
        };
        for f in files.flatten() {
            let name = f.file_name().to_string_lossy().to_string();
            if let Some((window, part)) = name.strip_suffix(".arrows").and_then(parse_file_name) {
                spools.push((source_name.clone(), window, part, f.path()));
            }
        }
    }
    spools.sort();
    let no_spool = WriterConfig {
        spool: false,
        ..config.clone()
    };
    for (source, window, part, path) in spools {
        if day_dir(root, &source, window)
            .join(file_name(window, part))
            .exists()
        {
            report.already_complete += 1;
            remove(&path)?;
            continue;
        }
        let mut writer = WindowWriter::create_part(root, &source, window, part, &no_spool)?;
        report.rows += replay(&path, &mut writer)?;
        if let Some(file) = writer.finish()? {
            report.files.push(file);
        }
        remove(&path)?;
    }
    Ok(report)
}

/// Feeds a spool's whole batches to `writer`; returns the rows. A spool is
/// one or more IPC streams, each leaving out the nullable flow columns not
/// used before it started; they are put back as nulls.
fn replay(path: &Path, writer: &mut WindowWriter) -> Result<u64, Error> {
    let file = File::open(path).map_err(|e| Error::io("opening", path, e))?;
    let mut input = BufReader::new(file);
    let mut rows = 0;
    loop {
        let reader = match StreamReader::try_new(&mut input, None) {
            Ok(r) => r,
            // The end of the spool, or a stream cut before its schema was
            // complete: nothing after that was acknowledged.
            Err(_) => return Ok(rows),
        };
        let schema = reader.schema();
        let Ok(mut filler) = Filler::new(&schema, &[], &Wanted::WholeFlows) else {
            return Err(Error::config(format!(
                "{}: the spool does not hold flow records",
                path.display()
            )));
        };
        let mut ended = true;
        for batch in reader {
            // A batch cut off by the crash ends the spool.
            let Ok(batch) = batch.and_then(|b| filler.fill(b)) else {
                ended = false;
                break;
            };
            rows += batch.num_rows() as u64;
            writer.push_batch(batch)?;
        }
        if !ended {
            return Ok(rows);
        }
    }
}

fn remove(path: &Path) -> Result<(), Error> {
    std::fs::remove_file(path).map_err(|e| Error::io("removing", path, e))
}
