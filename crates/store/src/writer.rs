//! Writing one window's file: rows buffered into row groups, each sorted by
//! time, zstd-compressed with page statistics, written under a hidden name
//! and renamed (after fsync) when the window is finished.

use std::fs::File;
use std::path::{Path, PathBuf};

use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::SortingColumn;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use record::FlowRecord;
use schema::{flow_schema, BatchBuilder};

use crate::layout::{day_dir, file_name, temp_name};
use crate::{Error, StoreFile};

/// How files are written.
#[derive(Clone, Debug)]
pub struct WriterConfig {
    /// Rows per row group (and most rows buffered in memory per open file).
    pub row_group_rows: usize,
    /// zstd level (1 is fast and already much smaller than nfdump's LZ4).
    pub zstd_level: i32,
    /// Bloom filters on the address columns (bigger files; exact-address
    /// lookups skip more row groups).
    pub address_bloom_filters: bool,
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig {
            row_group_rows: 256 * 1024,
            zstd_level: 1,
            address_bloom_filters: false,
        }
    }
}

fn properties(config: &WriterConfig) -> Result<WriterProperties, Error> {
    let level = ZstdLevel::try_new(config.zstd_level)
        .map_err(|e| Error::config(format!("zstd level {}: {e}", config.zstd_level)))?;
    let mut props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(level))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(config.row_group_rows.max(1)))
        .set_sorting_columns(Some(vec![SortingColumn {
            column_idx: 0,
            descending: false,
            nulls_first: false,
        }]))
        .set_created_by(format!("eddy {}", env!("CARGO_PKG_VERSION")));
    if config.address_bloom_filters {
        for column in ["src_ip", "dst_ip"] {
            props = props.set_column_bloom_filter_enabled(ColumnPath::from(column), true);
        }
    }
    Ok(props.build())
}

/// One window's file being written.
pub struct WindowWriter {
    source: String,
    window_start: u64,
    part: u32,
    temp: PathBuf,
    path: PathBuf,
    writer: ArrowWriter<File>,
    pending: Vec<FlowRecord>,
    builder: BatchBuilder,
    row_group_rows: usize,
    rows: u64,
}

impl WindowWriter {
    /// Starts the file of `source`'s window at `window_start` (seconds) under
    /// `root`, as the next free part of that window. A stale temporary file
    /// of the same part (left by a crash) is replaced.
    pub fn create(
        root: &Path,
        source: &str,
        window_start: u64,
        config: &WriterConfig,
    ) -> Result<WindowWriter, Error> {
        let dir = day_dir(root, source, window_start);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io("creating", &dir, e))?;
        let mut part = 0;
        while dir.join(file_name(window_start, part)).exists() {
            part += 1;
        }
        let name = file_name(window_start, part);
        let path = dir.join(&name);
        let temp = dir.join(temp_name(&name));
        let file = File::create(&temp).map_err(|e| Error::io("creating", &temp, e))?;
        let writer = ArrowWriter::try_new(file, flow_schema(), Some(properties(config)?))
            .map_err(|e| Error::parquet("starting", &temp, e))?;
        Ok(WindowWriter {
            source: source.to_string(),
            window_start,
            part,
            temp,
            path,
            writer,
            pending: Vec::new(),
            builder: BatchBuilder::new(),
            row_group_rows: config.row_group_rows.max(1),
            rows: 0,
        })
    }

    /// Adds a record; a full row group is sorted and written.
    pub fn push(&mut self, record: FlowRecord) -> Result<(), Error> {
        self.pending.push(record);
        if self.pending.len() >= self.row_group_rows {
            self.write_row_group()?;
        }
        Ok(())
    }

    /// Rows accepted so far.
    pub fn rows(&self) -> u64 {
        self.rows + self.pending.len() as u64
    }

    pub fn window_start(&self) -> u64 {
        self.window_start
    }

    /// The path the file will have when finished.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write_row_group(&mut self) -> Result<(), Error> {
        if self.pending.is_empty() {
            return Ok(());
        }
        // Sorting by time inside the row group makes the time statistics
        // tight and lets readers stop early; rows arrive nearly sorted, so
        // this is cheap.
        self.pending
            .sort_by_key(|r| (r.first_ns, r.last_ns, r.src_ip, r.src_port));
        for r in self.pending.drain(..) {
            self.builder.push(&r);
        }
        let batch = self.builder.finish();
        self.rows += batch.num_rows() as u64;
        self.writer
            .write(&batch)
            .and_then(|()| self.writer.flush())
            .map_err(|e| Error::parquet("writing", &self.temp, e))
    }

    /// Writes what is buffered, closes the file, syncs it and gives it its
    /// final name. A window with no rows leaves no file.
    pub fn finish(mut self) -> Result<Option<StoreFile>, Error> {
        self.write_row_group()?;
        let file = self
            .writer
            .into_inner()
            .map_err(|e| Error::parquet("closing", &self.temp, e))?;
        if self.rows == 0 {
            drop(file);
            let _ = std::fs::remove_file(&self.temp);
            return Ok(None);
        }
        file.sync_all()
            .map_err(|e| Error::io("syncing", &self.temp, e))?;
        let bytes = file
            .metadata()
            .map_err(|e| Error::io("reading metadata of", &self.temp, e))?
            .len();
        drop(file);
        std::fs::rename(&self.temp, &self.path)
            .map_err(|e| Error::io("renaming into place", &self.path, e))?;
        if let Some(dir) = self.path.parent() {
            // Make the rename itself durable; failing that is not fatal.
            let _ = File::open(dir).and_then(|d| d.sync_all());
        }
        Ok(Some(StoreFile {
            source: self.source,
            window_start: self.window_start,
            part: self.part,
            path: self.path,
            bytes,
        }))
    }

    /// Drops the file being written (its rows are lost unless the caller
    /// keeps them elsewhere, e.g. in a spool).
    pub fn abandon(self) {
        let temp = self.temp.clone();
        drop(self);
        let _ = std::fs::remove_file(temp);
    }
}
