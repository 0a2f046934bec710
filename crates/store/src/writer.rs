//! Writing one window's file: records are built into Arrow batches, each
//! batch is appended to the window's spool (an Arrow IPC stream, when
//! spooling is on) as soon as it is cut, and batches are gathered into row
//! groups sorted by time, zstd-compressed with page statistics, in a hidden
//! temporary file renamed (after fsync) when the window is finished. The
//! encoder thread also adds the rows up into the window's summary
//! ([`crate::summary`]), written just before the flows file is renamed.
//!
//! The spool is what makes accepted records survive a crash: a record is
//! acknowledged once its batch is in the spool file (the kernel has it, so
//! a killed process loses nothing; a power cut may lose what was not yet
//! synced). The spool is deleted after the Parquet file is in place, and
//! [`crate::recover`] rebuilds the file of any window whose spool is left.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use arrow_array::{Array, RecordBatch, TimestampNanosecondArray, UInt32Array};
use arrow_ipc::writer::StreamWriter;
use arrow_schema::{ArrowError, SchemaRef};
use parquet::arrow::arrow_writer::{compute_leaves, ArrowRowGroupWriterFactory};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::errors::ParquetError;
use parquet::file::metadata::SortingColumn;
use parquet::file::properties::{
    EnabledStatistics, WriterProperties, WriterPropertiesBuilder, WriterPropertiesPtr,
    WriterVersion,
};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::{ColumnDescPtr, ColumnPath};
use record::FlowRecord;
use schema::sparse::Thinner;
use schema::{flow_schema, BatchBuilder};

use crate::chunk;
use crate::layout::{day_dir, file_name, source_dir_name, temp_name};
use crate::summary::{summary_path, Summary};
use crate::{Error, StoreFile};

/// The folder under the store root that holds spools (hidden, so listings
/// and other readers skip it).
pub const SPOOL_DIR: &str = ".spool";

/// How files are written.
#[derive(Clone, Debug)]
pub struct WriterConfig {
    /// Rows per row group (and most rows buffered in memory per open file).
    pub row_group_rows: usize,
    /// Records per Arrow batch: a batch is cut (and spooled) when this many
    /// are buffered, or when the caller calls [`WindowWriter::spool`].
    pub batch_rows: usize,
    /// zstd level (1 is fast and already much smaller than nfdump's LZ4).
    pub zstd_level: i32,
    /// Bloom filters on the address columns (bigger files; exact-address
    /// lookups skip more row groups).
    pub address_bloom_filters: bool,
    /// Keep a spool per open window so records survive a crash.
    pub spool: bool,
    /// Where spools live (default `ROOT/.spool`). Elsewhere, a full store
    /// disk leaves the records in the spool, stored at the next start.
    pub spool_dir: Option<PathBuf>,
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig {
            row_group_rows: 128 * 1024,
            batch_rows: 8192,
            zstd_level: 1,
            address_bloom_filters: false,
            spool: false,
            spool_dir: None,
        }
    }
}

/// The largest dictionary page of end times: 32k values.
const END_TIME_DICTIONARY_BYTES: usize = 256 << 10;

/// The Parquet writer settings of the store's files.
pub fn properties(config: &WriterConfig) -> Result<WriterProperties, Error> {
    properties_from(WriterProperties::builder(), config)
}

/// The store's settings on top of `base` (tests start from other limits).
pub(crate) fn properties_from(
    base: WriterPropertiesBuilder,
    config: &WriterConfig,
) -> Result<WriterProperties, Error> {
    let level = ZstdLevel::try_new(config.zstd_level)
        .map_err(|e| Error::config(format!("zstd level {}: {e}", config.zstd_level)))?;
    let mut props = base
        .set_compression(Compression::ZSTD(level))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(config.row_group_rows.max(1)))
        .set_sorting_columns(Some(vec![SortingColumn {
            column_idx: 0,
            descending: false,
            nulls_first: false,
        }]))
        .set_created_by(format!("eddy {}", env!("CARGO_PKG_VERSION")));
    // Start times are sorted within a row group and compress best as
    // deltas. End times are not sorted; where exporters send milliseconds
    // (IPFIX and NetFlow collectors), many flows end in the same
    // millisecond, and a dictionary of a row group's end times took 1.6
    // instead of 2.8 bytes a flow on the bench traffic (6-15k distinct
    // values in 100-140k flows, BENCHMARKS.md). Finer, nearly unique times
    // (the meter's) pass the dictionary's limit (32k values) and fall back
    // to deltas.
    for column in ["first", "last", "rev_first", "rev_last"] {
        let path = ColumnPath::from(column);
        let ends = column.ends_with("last");
        props = props
            .set_column_dictionary_enabled(path.clone(), ends)
            .set_column_encoding(path.clone(), Encoding::DELTA_BINARY_PACKED);
        if ends {
            props = props.set_column_dictionary_page_size_limit(path, END_TIME_DICTIONARY_BYTES);
        }
    }
    // Byte counts keep the default dictionary: flows of one or a few
    // packets repeat a few thousand sizes per row group (6 % distinct on
    // the bench traffic), so a query decompresses two-byte indices instead
    // of eight-byte values; scans that read `bytes` got 8-16 % faster for
    // 1 % larger files (BENCHMARKS.md). Where sizes are all distinct, the
    // dictionary passes its page limit and the chunk falls back to PLAIN.
    // Format 2.0 pages let fixed-size binaries (addresses, MACs, the
    // exporter) be dictionary-encoded, which parquet-rs refuses for 1.0.
    // A row group's addresses repeat (hosts talk many times), and a query
    // then decompresses small dictionary indices instead of 16 bytes per
    // row: `host X` over 30 M flows took 0.87 s instead of 1.15 s, files
    // are 5 % smaller, encoding costs 8 % more (BENCHMARKS.md). The
    // dictionary page may grow to 4 MiB, a quarter million addresses.
    props = props.set_writer_version(WriterVersion::PARQUET_2_0);
    for column in ["src_ip", "dst_ip"] {
        props = props.set_column_dictionary_page_size_limit(ColumnPath::from(column), 4 << 20);
    }
    if config.address_bloom_filters {
        for column in ["src_ip", "dst_ip"] {
            props = props.set_column_bloom_filter_enabled(ColumnPath::from(column), true);
        }
    }
    Ok(props.build())
}

/// The folder holding the spools of the store at `root`.
pub fn spool_root(root: &Path, config: &WriterConfig) -> PathBuf {
    config
        .spool_dir
        .clone()
        .unwrap_or_else(|| root.join(SPOOL_DIR))
}

/// The spool file of a window's part, under `spool_root`.
pub fn spool_path(spool_root: &Path, source_dir: &str, window_start: u64, part: u32) -> PathBuf {
    spool_root
        .join(source_dir)
        .join(format!("{}.arrows", file_name(window_start, part)))
}

/// A window's spool: Arrow IPC streams, one after the other in one file.
/// Nullable flow columns that no batch has used yet are left out (for L4
/// records, most of a flow's bytes would be the offsets of empty L7
/// columns); when a batch uses one, the current stream ends and a new one
/// with that column follows. Recovery puts the missing columns back.
struct Spool {
    path: PathBuf,
    stream: SpoolStream,
    thinner: Thinner,
}

enum SpoolStream {
    /// No stream started yet (the file exists, so the part is taken).
    Idle(BufWriter<File>),
    Open(Box<StreamWriter<BufWriter<File>>>, SchemaRef),
    /// A write failed; the error was reported.
    Broken,
}

impl Spool {
    /// Appends `batch` and hands it to the kernel.
    fn write(&mut self, batch: &RecordBatch) -> Result<(), ArrowError> {
        let thin = self.thinner.thin(batch)?;
        let schema = thin.schema();
        let file = match std::mem::replace(&mut self.stream, SpoolStream::Broken) {
            SpoolStream::Open(writer, current) if current == schema => {
                self.stream = SpoolStream::Open(writer, current);
                None
            }
            SpoolStream::Open(writer, _) => Some(writer.into_inner()?),
            SpoolStream::Idle(file) => Some(file),
            SpoolStream::Broken => {
                return Err(ArrowError::IoError(
                    "an earlier write failed".into(),
                    std::io::Error::other("spool broken"),
                ))
            }
        };
        if let Some(file) = file {
            let writer = Box::new(StreamWriter::try_new(file, &schema)?);
            self.stream = SpoolStream::Open(writer, schema);
        }
        let SpoolStream::Open(writer, _) = &mut self.stream else {
            unreachable!("the spool stream was just opened")
        };
        writer.write(&thin)?;
        writer.flush()
    }
}

/// One window's file being written.
pub struct WindowWriter {
    source: String,
    window_start: u64,
    part: u32,
    temp: PathBuf,
    path: PathBuf,
    encoder: Encoder,
    builder: BatchBuilder,
    /// Cut batches not yet in a row group.
    batches: Vec<RecordBatch>,
    batched_rows: usize,
    spool: Option<Spool>,
    row_group_rows: usize,
    batch_rows: usize,
    rows: u64,
}

impl WindowWriter {
    /// Starts the file of `source`'s window at `window_start` (seconds) under
    /// `root`, as the next free part of that window (a part is taken when
    /// its file or its spool exists). A stale temporary file of the same
    /// part is replaced.
    pub fn create(
        root: &Path,
        source: &str,
        window_start: u64,
        config: &WriterConfig,
    ) -> Result<WindowWriter, Error> {
        let dir = day_dir(root, source, window_start);
        let source_dir = source_dir_name(source);
        let mut part = 0;
        while dir.join(file_name(window_start, part)).exists()
            || spool_path(&spool_root(root, config), &source_dir, window_start, part).exists()
        {
            part += 1;
        }
        Self::create_part(root, source, window_start, part, config)
    }

    /// Starts a given part (recovery rebuilds the part its spool names).
    pub(crate) fn create_part(
        root: &Path,
        source: &str,
        window_start: u64,
        part: u32,
        config: &WriterConfig,
    ) -> Result<WindowWriter, Error> {
        let dir = day_dir(root, source, window_start);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io("creating", &dir, e))?;
        let name = file_name(window_start, part);
        let path = dir.join(&name);
        let temp = dir.join(temp_name(&name));
        let props = properties(config)?;
        let spool = if config.spool {
            let path = spool_path(
                &spool_root(root, config),
                &source_dir_name(source),
                window_start,
                part,
            );
            Some(open_spool(path)?)
        } else {
            None
        };
        Ok(WindowWriter {
            source: source.to_string(),
            window_start,
            part,
            encoder: Encoder::start(props, temp.clone())?,
            temp,
            path,
            builder: BatchBuilder::new(),
            batches: Vec::new(),
            batched_rows: 0,
            spool,
            row_group_rows: config.row_group_rows.max(1),
            batch_rows: config.batch_rows.max(1),
            rows: 0,
        })
    }

    /// Adds a record. Full batches are cut (and spooled), full row groups
    /// sorted and written.
    pub fn push(&mut self, record: &FlowRecord) -> Result<(), Error> {
        self.builder.push(record);
        if self.builder.len() >= self.batch_rows {
            self.spool()?;
        }
        Ok(())
    }

    /// Adds a batch in the flow layout (recovery).
    pub(crate) fn push_batch(&mut self, batch: RecordBatch) -> Result<(), Error> {
        self.batched_rows += batch.num_rows();
        self.batches.push(batch);
        if self.batched_rows >= self.row_group_rows {
            self.write_row_group()?;
        }
        Ok(())
    }

    /// Cuts the records pushed so far into a batch and appends it to the
    /// spool: from here on they survive a crash. The collector calls this
    /// after every message batch and on its tick.
    pub fn spool(&mut self) -> Result<(), Error> {
        if self.builder.is_empty() {
            return Ok(());
        }
        let batch = self.builder.finish();
        if let Some(s) = &mut self.spool {
            s.write(&batch)
                .map_err(|e| Error::parquet("writing the spool", &s.path, e))?;
        }
        self.push_batch(batch)
    }

    /// Rows accepted so far.
    pub fn rows(&self) -> u64 {
        self.rows + (self.batched_rows + self.builder.len()) as u64
    }

    pub fn window_start(&self) -> u64 {
        self.window_start
    }

    /// The path the file will have when finished.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write_row_group(&mut self) -> Result<(), Error> {
        if self.batched_rows == 0 {
            return Ok(());
        }
        let batches = std::mem::take(&mut self.batches);
        self.rows += self.batched_rows as u64;
        self.batched_rows = 0;
        self.encoder.send(batches)
    }

    /// Writes what is buffered, closes the file, syncs it, gives it its
    /// final name and then deletes the spool. A window with no rows leaves
    /// no file.
    pub fn finish(mut self) -> Result<Option<StoreFile>, Error> {
        self.spool()?;
        self.write_row_group()?;
        let spool = self.spool.take();
        let Some((writer, summary)) = self.encoder.finish()? else {
            // No rows: no file.
            remove_spool(spool);
            return Ok(None);
        };
        let file = writer
            .into_inner()
            .map_err(|e| Error::parquet("closing", &self.temp, e))?;
        file.sync_all()
            .map_err(|e| Error::io("syncing", &self.temp, e))?;
        let bytes = file
            .metadata()
            .map_err(|e| Error::io("reading metadata of", &self.temp, e))?
            .len();
        drop(file);
        // The summary goes into place first: a flows file in place has its
        // summary (a crash between the two leaves a summary whose flows
        // the spool rebuilds).
        if let Some(summary_path) = summary_path(&self.path) {
            summary.write(&summary_path)?;
        }
        std::fs::rename(&self.temp, &self.path)
            .map_err(|e| Error::io("renaming into place", &self.path, e))?;
        if let Some(dir) = self.path.parent() {
            // Make the rename durable before the spool goes; failing that is
            // not fatal.
            let _ = File::open(dir).and_then(|d| d.sync_all());
        }
        remove_spool(spool);
        let bytes = bytes + crate::layout::summary_bytes(&self.path);
        Ok(Some(StoreFile {
            source: source_dir_name(&self.source),
            window_start: self.window_start,
            part: self.part,
            path: self.path,
            bytes,
        }))
    }

    /// Drops the file being written and its spool (the rows are lost).
    pub fn abandon(mut self) {
        let temp = self.temp.clone();
        remove_spool(self.spool.take());
        drop(self);
        let _ = std::fs::remove_file(temp);
    }
}

/// A window's file, ready to close, and its summary.
type Encoded = (FileEncoder, Summary);

/// Encodes row groups on a thread of its own, so the collector's pipeline
/// thread decodes the next messages while Parquet encodes and compresses
/// (the larger part of a record's cost). At most two row groups wait.
struct Encoder {
    tx: Option<std::sync::mpsc::SyncSender<Vec<RecordBatch>>>,
    thread: Option<std::thread::JoinHandle<Result<Option<Encoded>, Error>>>,
}

impl Encoder {
    /// The file is created with the first row group, so a store disk that
    /// is full (or gone) fails the encoding, not the window: its rows wait
    /// in the spool.
    fn start(props: WriterProperties, temp: PathBuf) -> Result<Encoder, Error> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<RecordBatch>>(1);
        let thread = std::thread::Builder::new()
            .name("parquet".into())
            .spawn(move || {
                let mut writer: Option<FileEncoder> = None;
                let mut summary = Summary::new();
                for batches in rx {
                    let w = match &mut writer {
                        Some(w) => w,
                        None => writer.insert(FileEncoder::create(&temp, props.clone())?),
                    };
                    w.write_row_group_of(&batches)
                        .map_err(|e| Error::parquet("writing", &temp, e))?;
                    for b in &batches {
                        summary
                            .add(b)
                            .map_err(|e| Error::parquet("summing up", &temp, e))?;
                    }
                }
                Ok(writer.map(|w| (w, summary)))
            })
            .map_err(|e| Error::io("starting the encoder thread for", Path::new(""), e))?;
        Ok(Encoder {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    /// Hands a row group over; an error the thread met comes back here.
    fn send(&mut self, batches: Vec<RecordBatch>) -> Result<(), Error> {
        let sent = self.tx.as_ref().is_some_and(|tx| tx.send(batches).is_ok());
        if sent {
            Ok(())
        } else {
            // The thread stopped on an error: report it.
            self.finish().map(|_| ())
        }
    }

    /// Waits for the queued row groups; the writer (None when no row group
    /// came), ready to close, and the window's summary.
    fn finish(&mut self) -> Result<Option<Encoded>, Error> {
        self.tx = None;
        match self.thread.take().map(std::thread::JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(Error::config("the Parquet encoder thread panicked".into())),
            None => Err(Error::config("the Parquet encoder already stopped".into())),
        }
    }
}

/// A store file being written: parquet-rs's file writer (schema with the
/// Arrow schema embedded, row group bookkeeping, footer and page indexes)
/// and its column writers, except for the required fixed-width columns and
/// columns null throughout, which [`chunk`] encodes several times faster.
/// Public for measurements (`examples/encode_cost.rs`).
pub struct FileEncoder<W: Write + Send = File> {
    file: SerializedFileWriter<W>,
    columns: ArrowRowGroupWriterFactory,
    props: WriterPropertiesPtr,
    leaves: Vec<ColumnDescPtr>,
    /// Per column: whether [`chunk`] encodes it (when not null throughout).
    ours: Vec<bool>,
    scratch: chunk::Scratch,
    row_groups: usize,
}

impl FileEncoder<File> {
    fn create(path: &Path, props: WriterProperties) -> Result<FileEncoder, Error> {
        let file = File::create(path).map_err(|e| Error::io("creating", path, e))?;
        Self::new(file, props).map_err(|e| Error::parquet("starting", path, e))
    }
}

impl<W: Write + Send> FileEncoder<W> {
    /// Starts a file in the flow layout on `file`.
    pub fn new(file: W, props: WriterProperties) -> Result<FileEncoder<W>, ParquetError> {
        let schema = flow_schema();
        let (file, columns) =
            ArrowWriter::try_new(file, schema.clone(), Some(props))?.into_serialized_writer()?;
        let props = file.properties().clone();
        let leaves = file.schema_descr().columns().to_vec();
        if leaves.len() != schema.fields().len() {
            return Err(ParquetError::General("the flow schema is not flat".into()));
        }
        let ours = schema
            .fields()
            .iter()
            .zip(&leaves)
            .map(|(field, descr)| chunk::supports(field, descr, &props))
            .collect();
        Ok(FileEncoder {
            file,
            columns,
            props,
            leaves,
            ours,
            scratch: chunk::Scratch::new(),
            row_groups: 0,
        })
    }

    /// Writes `batch` (flow layout) as one row group, in order of `first`.
    pub fn write_row_group(&mut self, batch: &RecordBatch) -> Result<(), ParquetError> {
        self.write_row_group_of(std::slice::from_ref(batch))
    }

    /// Writes the rows of `batches` (flow layout) as one row group, in order
    /// of `first` (stable: equal times keep their arrival order). Sorting by
    /// time inside the row group makes the time statistics tight and lets
    /// readers stop early. Our columns gather their values straight from
    /// the batches; a column parquet-rs encodes is concatenated and sorted
    /// first.
    pub fn write_row_group_of(&mut self, batches: &[RecordBatch]) -> Result<(), ParquetError> {
        let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
        if rows == 0 {
            return Ok(());
        }
        let order = time_order(batches)?;
        let columns = self.leaves.len();
        let parts_of = |c: usize| -> Vec<&dyn Array> {
            batches.iter().map(|b| b.column(c).as_ref()).collect()
        };
        let null_throughout =
            |parts: &[&dyn Array]| parts.iter().all(|a| a.null_count() == a.len());
        let ours: Vec<bool> = (0..columns)
            .map(|c| {
                self.ours[c]
                    || (null_throughout(&parts_of(c))
                        && chunk::supports_nulls(&self.leaves[c], &self.props))
            })
            .collect();
        // parquet-rs's writers only when a column needs them: making them
        // costs (a megabyte buffer per delta-encoded column, zeroed).
        let mut writers = match ours.iter().all(|&o| o) {
            true => None,
            false => Some(
                self.columns
                    .create_column_writers(self.row_groups)?
                    .into_iter(),
            ),
        };
        self.row_groups += 1;
        let schema = flow_schema();
        let mut row_group = self.file.next_row_group()?;
        for (c, &ours) in ours.iter().enumerate() {
            let writer = writers.as_mut().and_then(Iterator::next);
            let parts = parts_of(c);
            let descr = &self.leaves[c];
            if ours {
                let close = match null_throughout(&parts) {
                    true => chunk::encode_nulls(descr, rows, &self.props, &mut self.scratch)?,
                    false => chunk::encode(
                        descr,
                        &parts,
                        order.as_deref(),
                        &self.props,
                        &mut self.scratch,
                    )?,
                };
                row_group.append_column(&self.scratch.chunk(), close)?;
            } else {
                let mut writer =
                    writer.ok_or_else(|| ParquetError::General("no column writer".into()))?;
                let array = match parts.as_slice() {
                    [one] => one.slice(0, one.len()),
                    _ => arrow_select::concat::concat(&parts)?,
                };
                let array = match &order {
                    Some(order) => {
                        let order = UInt32Array::from(order.clone());
                        arrow_select::take::take(array.as_ref(), &order, None)?
                    }
                    None => array,
                };
                for leaf in compute_leaves(schema.field(c), &array)? {
                    writer.write(&leaf)?;
                }
                writer.close()?.append_to_row_group(&mut row_group)?;
            }
        }
        row_group.close()?;
        Ok(())
    }

    /// Writes the footer; the file, for syncing.
    pub fn into_inner(self) -> Result<W, ParquetError> {
        self.file.into_inner()
    }
}

fn open_spool(path: PathBuf) -> Result<Spool, Error> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io("creating", dir, e))?;
    }
    let file = File::create(&path).map_err(|e| Error::io("creating", &path, e))?;
    Ok(Spool {
        path,
        stream: SpoolStream::Idle(BufWriter::with_capacity(1 << 16, file)),
        thinner: Thinner::new(),
    })
}

fn remove_spool(spool: Option<Spool>) {
    if let Some(s) = spool {
        let path = s.path.clone();
        drop(s);
        let _ = std::fs::remove_file(path);
    }
}

/// The order of `batches`' rows (indices into their sequence) by `first`,
/// stable; None when they already are in that order.
fn time_order(batches: &[RecordBatch]) -> Result<Option<Vec<u32>>, ArrowError> {
    let mut times: Vec<i64> = Vec::new();
    for b in batches {
        let first = b
            .column(0)
            .as_any()
            .downcast_ref::<TimestampNanosecondArray>()
            .ok_or_else(|| ArrowError::SchemaError("column 0 is not `first`".into()))?;
        times.extend_from_slice(first.values());
    }
    if times.windows(2).all(|w| w[0] <= w[1]) {
        return Ok(None);
    }
    let mut order: Vec<u32> = (0..times.len() as u32).collect();
    order.sort_by_key(|&i| times[i as usize]);
    Ok(Some(order))
}
