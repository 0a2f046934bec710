//! The flow store: one Parquet file per source and time window.
//!
//! Layout (see [`layout`]): `ROOT/SOURCE/YYYY/MM/DD/flows.YYYYMMDDhhmm.parquet`,
//! the stamp being the UTC start of the window (5 minutes by default), as
//! nfcapd names its files. A window holds the records that *arrived* in it
//! (the collector's clock, as nfcapd), so windows close in order and one file
//! per source is open at a time. Each file is zstd-compressed, its rows are
//! sorted by `first` within each row group, and it carries row-group and page
//! statistics so queries skip what a time or address range excludes. Files
//! are written under a hidden temporary name and renamed when complete:
//! a reader (eddy, pyarrow, DuckDB) never sees a partial file.
//!
//! Crash safety: with [`WriterConfig::spool`] on, every open window keeps a
//! spool (an Arrow IPC stream under `ROOT/.spool/`) that holds each batch
//! as soon as it is cut; the spool goes once the Parquet file is in place,
//! and [`recover`] (run at start) rebuilds the file of every window whose
//! spool is left, so a record the store acknowledged is in the store
//! exactly once after a crash.
//!
//! Not here: the column layout (the `schema` crate) and queries (the
//! `query` crate).

mod chunk;
pub mod layout;
mod recover;
mod retention;
pub mod summary;
mod writer;

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use parquet::arrow::arrow_reader::{ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
use record::FlowRecord;

pub use layout::{list_files, StoreFile};
pub use recover::{recover, Recovered};
pub use retention::{expire, remove_temp_files, Expired, Retention};
pub use writer::{
    properties as writer_properties, spool_path, spool_root, FileEncoder, WindowWriter,
    WriterConfig, SPOOL_DIR,
};

/// Default window length: 5 minutes, as nfcapd.
pub const DEFAULT_WINDOW_SECS: u64 = 300;

/// An error with the file it concerns.
#[derive(Debug)]
pub struct Error {
    action: &'static str,
    path: PathBuf,
    source: Box<dyn std::error::Error + Send + Sync>,
}

impl Error {
    pub(crate) fn io(action: &'static str, path: &Path, e: std::io::Error) -> Error {
        Error {
            action,
            path: path.to_path_buf(),
            source: Box::new(e),
        }
    }

    pub(crate) fn parquet(action: &'static str, path: &Path, e: impl Into<ErrorSource>) -> Error {
        Error {
            action,
            path: path.to_path_buf(),
            source: e.into().0,
        }
    }

    pub(crate) fn config(message: String) -> Error {
        Error {
            action: "configuring the store",
            path: PathBuf::new(),
            source: message.into(),
        }
    }

    /// The file or folder concerned.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The underlying I/O error kind, when it is one (a full disk is
    /// `StorageFull`, an unwritable folder `PermissionDenied`).
    pub fn io_kind(&self) -> Option<std::io::ErrorKind> {
        let mut e: Option<&(dyn std::error::Error + 'static)> = Some(self.source.as_ref());
        while let Some(err) = e {
            if let Some(io) = err.downcast_ref::<std::io::Error>() {
                return Some(io.kind());
            }
            e = err.source();
        }
        None
    }
}

/// Anything convertible into a boxed error source.
pub struct ErrorSource(Box<dyn std::error::Error + Send + Sync>);

impl From<parquet::errors::ParquetError> for ErrorSource {
    fn from(e: parquet::errors::ParquetError) -> Self {
        ErrorSource(Box::new(e))
    }
}

impl From<arrow_schema::ArrowError> for ErrorSource {
    fn from(e: arrow_schema::ArrowError) -> Self {
        ErrorSource(Box::new(e))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.as_os_str().is_empty() {
            write!(f, "{}: {}", self.action, self.source)
        } else {
            write!(
                f,
                "{} {}: {}",
                self.action,
                self.path.display(),
                self.source
            )
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.source.as_ref())
    }
}

/// How the store is laid out and written.
#[derive(Clone, Debug)]
pub struct StoreConfig {
    pub root: PathBuf,
    /// Window length in seconds (a divisor of a day keeps names aligned).
    pub window_secs: u64,
    pub writer: WriterConfig,
}

impl StoreConfig {
    pub fn new(root: impl Into<PathBuf>) -> StoreConfig {
        StoreConfig {
            root: root.into(),
            window_secs: DEFAULT_WINDOW_SECS,
            writer: WriterConfig::default(),
        }
    }

    /// The start of the window holding time `secs`.
    pub fn window_of(&self, secs: u64) -> u64 {
        let w = self.window_secs.max(1);
        secs - secs % w
    }
}

/// What [`Store::push`] did besides taking the record.
#[derive(Debug)]
pub struct Pushed {
    /// The file of the window the record closed, if it closed one (`Ok(None)`
    /// when none, or when the window had no rows); an `Err` leaves that
    /// window's rows in its spool (when spooling), for [`recover`].
    pub finished: Result<Option<StoreFile>, Error>,
}

/// The store's writing side: one open window per source.
pub struct Store {
    config: StoreConfig,
    /// Open windows by source (looked up for every record: a fast hash).
    open: HashMap<String, WindowWriter, foldhash::fast::RandomState>,
}

impl Store {
    /// Opens (creating) the store folder. Run [`recover`] first when the
    /// store may hold what a crash left (temporary files, spools).
    pub fn open(config: StoreConfig) -> Result<Store, Error> {
        if config.window_secs == 0 {
            return Err(Error::config(
                "window length must be at least 1 second".into(),
            ));
        }
        std::fs::create_dir_all(&config.root)
            .map_err(|e| Error::io("creating the store folder", &config.root, e))?;
        Ok(Store {
            config,
            open: HashMap::default(),
        })
    }

    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    /// Adds a record that arrived at `now_secs` from `source`. When the
    /// source's open window has ended, its file is finished first: the
    /// result says how that went ([`Pushed::finished`]). An `Err` means the
    /// record itself was not accepted.
    pub fn push(
        &mut self,
        source: &str,
        now_secs: u64,
        record: &FlowRecord,
    ) -> Result<Pushed, Error> {
        let window = self.config.window_of(now_secs);
        // The common case: the source's window is open. One lookup.
        if let Some(w) = self.open.get_mut(source) {
            if w.window_start() == window {
                w.push(record)?;
                return Ok(Pushed { finished: Ok(None) });
            }
        }
        let mut finished = Ok(None);
        if self
            .open
            .get(source)
            .is_some_and(|w| w.window_start() != window)
        {
            if let Some(w) = self.open.remove(source) {
                // A failure here leaves that window's rows in its spool.
                finished = w.finish();
            }
        }
        let writer = match self.open.get_mut(source) {
            Some(w) => w,
            None => {
                let w =
                    WindowWriter::create(&self.config.root, source, window, &self.config.writer)?;
                self.open.entry(source.to_string()).or_insert(w)
            }
        };
        writer.push(record)?;
        Ok(Pushed { finished })
    }

    /// Spools what every open window buffered (see [`WindowWriter::spool`]).
    pub fn spool(&mut self) -> Result<(), Error> {
        for w in self.open.values_mut() {
            w.spool()?;
        }
        Ok(())
    }

    /// Finishes every open window that ended at or before `now_secs`.
    pub fn roll(&mut self, now_secs: u64) -> Result<Vec<StoreFile>, Error> {
        let current = self.config.window_of(now_secs);
        let ended: Vec<String> = self
            .open
            .iter()
            .filter(|(_, w)| w.window_start() < current)
            .map(|(s, _)| s.clone())
            .collect();
        self.finish_sources(ended)
    }

    /// Finishes every open window (shutdown).
    pub fn close_all(&mut self) -> Result<Vec<StoreFile>, Error> {
        let all: Vec<String> = self.open.keys().cloned().collect();
        self.finish_sources(all)
    }

    fn finish_sources(&mut self, sources: Vec<String>) -> Result<Vec<StoreFile>, Error> {
        let mut done = Vec::new();
        for source in sources {
            if let Some(w) = self.open.remove(&source) {
                done.extend(w.finish()?);
            }
        }
        Ok(done)
    }

    /// (source, window start, rows) of the open windows.
    pub fn open_windows(&self) -> Vec<(String, u64, u64)> {
        let mut v: Vec<_> = self
            .open
            .iter()
            .map(|(s, w)| (s.clone(), w.window_start(), w.rows()))
            .collect();
        v.sort();
        v
    }
}

/// How store files are opened: without the Arrow schema embedded in the
/// footer, on which parquet-rs panics when it is damaged (arrow-ipc
/// unwraps). The Parquet schema says the same of every flow column
/// (`tests::a_store_file_means_the_same_without_its_embedded_arrow_schema`).
pub fn reader_options() -> ArrowReaderOptions {
    ArrowReaderOptions::new().with_skip_arrow_metadata(true)
}

/// The record batches of one store file, `batch_rows` rows at a time (the
/// file's own Arrow schema, which is the flow schema of the eddy that wrote it).
pub fn read_batches(
    path: &Path,
    batch_rows: usize,
) -> Result<impl Iterator<Item = Result<RecordBatch, Error>>, Error> {
    let file = File::open(path).map_err(|e| Error::io("opening", path, e))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new_with_options(file, reader_options())
        .and_then(|b| b.with_batch_size(batch_rows).build())
        .map_err(|e| Error::parquet("reading", path, e))?;
    let path = path.to_path_buf();
    Ok(reader.map(move |b| b.map_err(|e| Error::parquet("reading", &path, e))))
}

/// The nullable columns of a store file that are null in every row, by
/// the row groups' statistics (a column without statistics counts as
/// used). Readers that have no use for them skip their pages.
pub fn null_columns(path: &Path) -> Result<Vec<String>, Error> {
    let file = File::open(path).map_err(|e| Error::io("opening", path, e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new_with_options(file, reader_options())
        .map_err(|e| Error::parquet("reading", path, e))?;
    let meta = builder.metadata();
    let arrow = builder.schema();
    let columns = meta.file_metadata().schema_descr().columns();
    let mut out = Vec::new();
    for (i, col) in columns.iter().enumerate() {
        let nullable = arrow
            .field_with_name(col.name())
            .is_ok_and(|f| f.is_nullable());
        let all_null = meta.row_groups().iter().all(|rg| {
            rg.column(i)
                .statistics()
                .and_then(|s| s.null_count_opt())
                .is_some_and(|n| n == rg.num_rows() as u64)
        });
        // Only flat columns: a leaf's path is its column's name.
        if nullable && all_null && col.path().parts().len() == 1 {
            out.push(col.name().to_string());
        }
    }
    Ok(out)
}

/// [`read_batches`] without the columns named in `skip`.
pub fn read_batches_without(
    path: &Path,
    batch_rows: usize,
    skip: &[String],
) -> Result<impl Iterator<Item = Result<RecordBatch, Error>>, Error> {
    let file = File::open(path).map_err(|e| Error::io("opening", path, e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new_with_options(file, reader_options())
        .map_err(|e| Error::parquet("reading", path, e))?;
    let keep: Vec<usize> = builder
        .parquet_schema()
        .columns()
        .iter()
        .enumerate()
        .filter(|(_, c)| !skip.iter().any(|s| s == c.name()))
        .map(|(i, _)| i)
        .collect();
    let mask = parquet::arrow::ProjectionMask::leaves(builder.parquet_schema(), keep);
    let reader = builder
        .with_projection(mask)
        .with_batch_size(batch_rows)
        .build()
        .map_err(|e| Error::parquet("reading", path, e))?;
    let path = path.to_path_buf();
    Ok(reader.map(move |b| b.map_err(|e| Error::parquet("reading", &path, e))))
}

/// Every record of one store file (or any Parquet file in the flow layout,
/// or a projection of it).
pub fn read_file(path: &Path) -> Result<Vec<FlowRecord>, Error> {
    let mut out = Vec::new();
    for batch in read_batches(path, 64 * 1024)? {
        let batch = batch?;
        let records = schema::records(&batch).map_err(|e| Error::parquet("reading", path, e))?;
        out.extend(records);
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
