//! Statistics from window summaries ([`store::summary`]) instead of flows.
//!
//! A `-s` statistic or an `-A` aggregation whose keys and filter use only
//! one cut's columns (an address, `proto`, `tcp_flags`; or `proto` and the
//! ports) groups the same flows whether it reads the flows or the
//! summaries' rows, which already hold each (address, protocol, flags) or
//! (protocol, source port, destination port) group's flow count, sums and
//! time span: the groups, counters, times and totals are the same, and a
//! summary has a fifth to two fifths of its window's rows and a few
//! columns. [`plan`] decides; anything it refuses (an address with a port;
//! `host`, which needs both addresses; counters; a file without a summary)
//! reads the flows through the engine. Times are decided per window: a `-t` range that holds a
//! window's flows wholly needs no time test there, and the windows it cuts
//! through are read from their flows in the same pass.
//!
//! The summaries are read with parquet-rs, filtered with the filter
//! crate's batch evaluator and added up as sorted runs merged in pairs
//! (see [`groups`]), not through DataFusion, whose grouping hashes every
//! row.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use arrow_array::cast::AsArray;
use arrow_array::types::{TimestampNanosecondType, UInt16Type, UInt64Type, UInt8Type};
use arrow_array::{Array, BooleanArray, RecordBatch, RecordBatchReader};
use datafusion::common::ScalarValue;
use datafusion::parquet::arrow::arrow_reader::{
    ArrowPredicateFn, ArrowReaderMetadata, ParquetRecordBatchReaderBuilder, RowFilter,
};
use datafusion::parquet::arrow::ProjectionMask;
use datafusion::parquet::file::metadata::{ParquetMetaDataReader, RowGroupMetaData};
use datafusion::parquet::file::statistics::Statistics;
use filter::BatchFilter;
use store::summary::{
    layout_of, row_group, summary_path, Layout, ADDRESS_ROW_GROUPS, CUTS, CUT_KEYS, PORT_CUT_KEYS,
    PORT_CUT_START,
};

use crate::engine::{mask_addr, Error, Group, GroupSink, Groups, Key, Order, Result};

/// How a request is answered from summaries: each alternative's cut and
/// where each file's groups come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub cuts: Vec<Cut>,
    pub sources: Vec<Source>,
}

/// The rows of a summary an alternative reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cut {
    /// An address cut's row group (see [`row_group`]).
    Address(usize),
    /// The port cut's row groups, those of protocols the filter admits.
    Ports,
}

/// Where one flows file's groups come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// The window's summary, under what is left of the filter once the
    /// window's time span has settled its time comparisons (all of the
    /// filter when it has none).
    Summary { path: PathBuf, filter: filter::Expr },
    /// The flows themselves, under the whole filter: a window that a
    /// time comparison (a `-t` range) cuts through.
    Flows { path: PathBuf },
}

/// Whether grouping `files`' flows that pass `filter` by `alternatives`
/// (see [`crate::Engine::groups`]) can read summaries, and which.
///
/// The keys and the filter's other columns must fit one cut. Times (a
/// `-t` range) are settled per window by the flows file's statistics
/// ([`filter::Expr::within`]): a window wholly inside reads its summary, one
/// wholly outside is skipped, one cut through reads its flows here. The
/// answer is None (the engine reads the flows) when a window has no
/// summary, or when fewer windows read their summaries than their flows:
/// the engine reads flows faster, skipping pages by their times. When
/// every window is skipped, the plan reads nothing.
pub fn plan(files: &[PathBuf], filter: &filter::Expr, alternatives: &[Vec<Key>]) -> Option<Plan> {
    if files.is_empty() || alternatives.is_empty() {
        return None;
    }
    let filter_columns = filter::batch::required_columns(filter);
    let timed = filter_columns.iter().any(|c| TIMES.contains(c));
    let untimed: Vec<&str> = filter_columns
        .into_iter()
        .filter(|c| !TIMES.contains(c))
        .collect();
    let mut cuts = Vec::with_capacity(alternatives.len());
    for alt in alternatives {
        if alt.is_empty() || alt.len() > MAX_KEYS {
            return None;
        }
        let columns: Vec<&str> = alt.iter().map(Key::column).collect();
        // The small keys share 32 bits (`-A proto,srcport,dstport` reads
        // flows).
        if columns.iter().map(|c| key_width(c)).sum::<u32>() > 32 {
            return None;
        }
        let ports = |c: &&str| *c == "src_port" || *c == "dst_port";
        if columns.iter().chain(&untimed).any(ports) {
            let fits = columns
                .iter()
                .chain(&untimed)
                .all(|c| PORT_CUT_KEYS.contains(c));
            cuts.push(fits.then_some(Cut::Ports)?);
            continue;
        }
        // A group key holds one address (`-A srcip,srcip4/24` reads flows).
        if columns.iter().filter(|c| CUTS.contains(c)).count() > 1 {
            return None;
        }
        let key_addr = cut_of(&columns)?;
        let side = match (key_addr, cut_of(&untimed)?) {
            (Some(a), Some(b)) if a != b => return None,
            (Some(a), _) | (None, Some(a)) => a,
            (None, None) => 0,
        };
        // The address-only cut when nothing asks for protocol or flags.
        let by_proto_flags = columns.iter().chain(&untimed).any(|c| CUT_KEYS.contains(c));
        cuts.push(Cut::Address(row_group(side, by_proto_flags)));
    }
    let need_ports = cuts.contains(&Cut::Ports);
    let mut sources = Vec::with_capacity(files.len());
    for f in files {
        let summary = summary_path(f).filter(|s| s.is_file())?;
        // A summary written before the port cut cannot answer ports.
        if need_ports && !matches!(store::summary::layout(f), Ok(Some(Layout::WithPortCut))) {
            return None;
        }
        let left = match timed {
            true => match time_span(f) {
                Some(span) => span.settle(filter),
                None => filter.clone(),
            },
            false => filter.clone(),
        };
        // By the columns read, so that `duration` (`last - first`) counts.
        let columns = filter::batch::required_columns(&left);
        match left {
            filter::Expr::False => {}
            _ if columns.iter().any(|c| TIMES.contains(c)) => {
                sources.push(Source::Flows { path: f.clone() })
            }
            left => sources.push(Source::Summary {
                path: summary,
                filter: left,
            }),
        }
    }
    let summaries = sources
        .iter()
        .filter(|s| matches!(s, Source::Summary { .. }))
        .count();
    if summaries < sources.len() - summaries {
        return None;
    }
    Some(Plan { cuts, sources })
}

/// The time columns, which summaries hold only as each group's span.
const TIMES: [&str; 2] = ["first", "last"];

/// The range of a flows file's `first` and `last` values, from its row
/// groups' statistics.
#[derive(Clone, Copy, Debug)]
struct TimeSpan {
    first: (u64, u64),
    last: (u64, u64),
}

impl TimeSpan {
    /// `filter` for the flows of this span.
    fn settle(&self, filter: &filter::Expr) -> filter::Expr {
        use filter::Column;
        filter
            .within(Column::First, self.first.0, self.first.1)
            .within(Column::Last, self.last.0, self.last.1)
    }

    fn union(self, o: TimeSpan) -> TimeSpan {
        let u = |a: (u64, u64), b: (u64, u64)| (a.0.min(b.0), a.1.max(b.1));
        TimeSpan {
            first: u(self.first, o.first),
            last: u(self.last, o.last),
        }
    }

    /// A row group's span; None without statistics.
    fn of_row_group(rg: &RowGroupMetaData) -> Option<TimeSpan> {
        Some(TimeSpan {
            first: column_range(rg, "first")?,
            last: column_range(rg, "last")?,
        })
    }
}

/// A flows file's time span; None when it cannot be read or has no
/// statistics (the file then counts as cut through).
fn time_span(path: &Path) -> Option<TimeSpan> {
    let file = File::open(path).ok()?;
    let meta = ParquetMetaDataReader::new().parse_and_finish(&file).ok()?;
    let mut spans = meta.row_groups().iter().map(TimeSpan::of_row_group);
    let first = spans.next()??;
    spans.try_fold(first, |acc, s| Some(acc.union(s?)))
}

/// The most keys an alternative may have (an address, proto, flags).
const MAX_KEYS: usize = 3;

/// The bits a key takes in [`Entry::small`] (an address takes none: it
/// has [`Entry::addr`]).
fn key_width(column: &str) -> u32 {
    match column {
        "src_ip" | "dst_ip" => 0,
        "src_port" | "dst_port" => 16,
        _ => 8,
    }
}

/// Where each key's value lies in [`Entry::small`]: the widths of the
/// keys before it.
fn key_shifts(keys: &[Key]) -> Vec<u32> {
    keys.iter()
        .scan(0, |shift, k| {
            let at = *shift;
            *shift += key_width(k.column());
            Some(at)
        })
        .collect()
}

/// Which cut `columns` fit: `Some(None)` when they name no address (either
/// cut), `Some(Some(i))` for cut `i`, None when they fit none.
fn cut_of(columns: &[&str]) -> Option<Option<usize>> {
    let mut addr = None;
    for c in columns {
        if CUT_KEYS.contains(c) {
            continue;
        }
        let i = CUTS.iter().position(|a| a == c)?;
        if addr.is_some_and(|a| a != i) {
            return None;
        }
        addr = Some(i);
    }
    Some(addr)
}

/// One group being added up (64 bytes): its key, the address (a
/// big-endian integer, masked as the key asks; 0 when no key is an
/// address) and the small numbers (see [`key_shifts`]), and its
/// counters. Ordered by key, address first (the first small key in the
/// low bits, so a summary's stored order is not this order: runs are
/// sorted when they are finished).
#[derive(Clone, Copy, Debug)]
struct Entry {
    addr: u128,
    small: u32,
    tcp_flags: u8,
    flows: u64,
    packets: u64,
    bytes: u64,
    first: i64,
    last: i64,
}

impl Entry {
    fn key(&self) -> (u128, u32) {
        (self.addr, self.small)
    }

    fn add(&mut self, o: &Entry) {
        self.flows += o.flows;
        self.packets = self.packets.saturating_add(o.packets);
        self.bytes = self.bytes.saturating_add(o.bytes);
        self.first = self.first.min(o.first);
        self.last = self.last.max(o.last);
        self.tcp_flags |= o.tcp_flags;
    }
}

/// Groups in key order, each key once.
type Run = Vec<Entry>;

/// [`crate::Engine::groups`] from the sources of `plan` (summaries, and the
/// flows of windows a time range cuts through), on `threads` threads; the
/// flows under `filter`.
///
/// Each file's groups become a run sorted by key (a cut's rows are stored
/// in address order, so most of a summary's keys come sorted; a flows
/// file's come in time order and are sorted), and runs are merged in
/// pairs as a binary counter does, so every group moves O(log files)
/// times, sequentially. A hash map over the groups was slower: with a
/// window's hundred thousand groups it no longer fits the cache, and each
/// row's lookup was a miss (54 % of `-s srcip`'s time, BENCHMARKS.md).
#[allow(clippy::too_many_arguments)]
pub fn groups(
    plan: &Plan,
    filter: &filter::Expr,
    alternatives: &[Vec<Key>],
    order: Order,
    limit: Option<usize>,
    flags: bool,
    threads: usize,
) -> Result<Groups> {
    let next = AtomicUsize::new(0);
    let work = || -> Result<Run> {
        let mut runs = Runs::default();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            match plan.sources.get(i) {
                None => return Ok(runs.finish()),
                Some(Source::Summary { path, filter }) => {
                    let summary = Summary::open(path)?;
                    let predicate = (!matches!(filter, filter::Expr::True)).then_some(filter);
                    for (alt, &cut) in alternatives.iter().zip(&plan.cuts) {
                        runs.push(summary.run(cut, alt, predicate, flags)?);
                    }
                }
                Some(Source::Flows { path }) => {
                    for run in flows_runs(path, alternatives, filter, flags)? {
                        runs.push(run);
                    }
                }
            }
        }
    };
    let threads = threads.clamp(1, plan.sources.len().max(1));
    let results: Vec<Result<Run>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads).map(|_| s.spawn(work)).collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Error("a summary or flows reader panicked".into())))
            })
            .collect()
    });
    let mut runs = Runs::default();
    for r in results {
        runs.push(r?);
    }
    finish(runs.finish(), &alternatives[0], order, limit)
}

/// Sorted runs waiting to be merged: run `i` of the stack holds about
/// twice as many files as run `i + 1`.
#[derive(Default)]
struct Runs {
    stack: Vec<(u32, Run)>,
}

impl Runs {
    fn push(&mut self, run: Run) {
        let mut level = 0;
        let mut run = run;
        while let Some((l, _)) = self.stack.last() {
            if *l != level {
                break;
            }
            let (_, top) = self.stack.pop().expect("just seen");
            run = merge(top, run);
            level += 1;
        }
        self.stack.push((level, run));
    }

    fn finish(mut self) -> Run {
        let mut out = self.stack.pop().map(|(_, r)| r).unwrap_or_default();
        while let Some((_, r)) = self.stack.pop() {
            out = merge(r, out);
        }
        out
    }
}

/// Two sorted runs as one, equal keys added up.
fn merge(a: Run, b: Run) -> Run {
    if a.is_empty() {
        return b;
    }
    if b.is_empty() {
        return a;
    }
    let mut out = Vec::with_capacity(a.len().max(b.len()));
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let (x, y) = (&a[i], &b[j]);
        match x.key().cmp(&y.key()) {
            std::cmp::Ordering::Less => {
                out.push(*x);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                out.push(*y);
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                let mut e = *x;
                e.add(y);
                out.push(e);
                i += 1;
                j += 1;
            }
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

/// Adds up consecutive equal keys of a sorted run in place.
fn combine(run: &mut Run) {
    let mut w = 0;
    for r in 0..run.len() {
        if w > 0 && run[w - 1].key() == run[r].key() {
            let e = run[r];
            run[w - 1].add(&e);
        } else {
            run[w] = run[r];
            w += 1;
        }
    }
    run.truncate(w);
}

fn summary_error(path: &Path, e: &dyn std::fmt::Display) -> Error {
    Error(format!(
        "summary {}: {e} (`eddy store summarize --force` rewrites summaries)",
        path.display()
    ))
}

/// A summary file, its footer read once for every alternative.
struct Summary<'a> {
    path: &'a Path,
    file: File,
    metadata: ArrowReaderMetadata,
    layout: Layout,
}

impl<'a> Summary<'a> {
    fn open(path: &'a Path) -> Result<Summary<'a>> {
        let err = |e: &dyn std::fmt::Display| summary_error(path, e);
        let file = File::open(path).map_err(|e| err(&e))?;
        let metadata =
            ArrowReaderMetadata::load(&file, store::reader_options()).map_err(|e| err(&e))?;
        let Some(layout) = layout_of(metadata.schema()) else {
            return Err(err(&"not an eddy summary of this version"));
        };
        if metadata.metadata().num_row_groups() < ADDRESS_ROW_GROUPS {
            return Err(err(&"not one row group per cut"));
        }
        Ok(Summary {
            path,
            file,
            metadata,
            layout,
        })
    }

    /// The rows of cut `cut` that pass `predicate`, keyed by `keys`, as a
    /// run.
    fn run(
        &self,
        cut: Cut,
        keys: &[Key],
        predicate: Option<&filter::Expr>,
        flags: bool,
    ) -> Result<Run> {
        let mut run = RunBuilder::default();
        match cut {
            Cut::Address(rg) => self.add_row_group(&mut run, rg, keys, predicate, flags)?,
            // `plan` sends ports only to summaries with the port cut; one
            // replaced since must not answer "no flows".
            Cut::Ports if self.layout != Layout::WithPortCut => {
                return Err(summary_error(self.path, &"written before the port cut"))
            }
            Cut::Ports => {
                let groups = self.metadata.metadata().row_groups();
                for (rg, meta) in groups.iter().enumerate().skip(PORT_CUT_START) {
                    // Each row group holds one protocol: the filter's
                    // protocol tests are settled by it.
                    let settled = match (predicate, column_range(meta, "proto")) {
                        (Some(p), Some((lo, hi))) => p.within(filter::Column::Proto, lo, hi),
                        (Some(p), None) => p.clone(),
                        (None, _) => filter::Expr::True,
                    };
                    let predicate = match &settled {
                        filter::Expr::False => continue,
                        filter::Expr::True => None,
                        p => Some(p),
                    };
                    self.add_row_group(&mut run, rg, keys, predicate, flags)?;
                }
            }
        }
        Ok(run.finish())
    }

    /// Adds the rows of row group `rg` that pass `predicate` to `run`.
    fn add_row_group(
        &self,
        run: &mut RunBuilder,
        rg: usize,
        keys: &[Key],
        predicate: Option<&filter::Expr>,
        flags: bool,
    ) -> Result<()> {
        let err = |e: &dyn std::fmt::Display| summary_error(self.path, e);
        let file = self.file.try_clone().map_err(|e| err(&e))?;
        let mut builder =
            ParquetRecordBatchReaderBuilder::new_with_metadata(file, self.metadata.clone());
        if let Some(p) = predicate {
            // The filter's columns are decoded for every row, the others
            // only for the rows that pass: a scanner search passes a few
            // rows of a hundred thousand.
            let columns = filter::batch::required_columns(p);
            let schema = builder.schema().clone();
            let positions: Vec<usize> = (0..schema.fields().len())
                .filter(|&i| columns.contains(&schema.field(i).name().as_str()))
                .collect();
            let schema = schema.project(&positions).map_err(|e| err(&e))?;
            let compiled = BatchFilter::new(p, &schema).map_err(|e| err(&e))?;
            let mask = ProjectionMask::columns(builder.parquet_schema(), columns);
            let predicate = ArrowPredicateFn::new(mask, move |batch: RecordBatch| {
                let pass = compiled.try_eval(&batch)?;
                Ok(match pass.null_count() {
                    0 => pass,
                    _ => pass.iter().map(|v| Some(v == Some(true))).collect(),
                })
            });
            builder = builder.with_row_filter(RowFilter::new(vec![Box::new(predicate)]));
        }
        let mut wanted: Vec<&str> = keys.iter().map(Key::column).collect();
        wanted.extend(["flows", "packets", "bytes", "first", "last", "tcp_flags"]);
        let mask = ProjectionMask::columns(builder.parquet_schema(), wanted);
        let reader = builder
            .with_row_groups(vec![rg])
            .with_projection(mask)
            .with_batch_size(64 * 1024)
            .build()
            .map_err(|e| err(&e))?;
        for batch in reader {
            let batch = batch.map_err(|e| err(&e))?;
            run.add_batch(&batch, keys, None, flags)
                .map_err(|e| err(&e))?;
        }
        Ok(())
    }
}

/// The range of a row group's values of the integer column `name`, from
/// its statistics; None without them or for negative values.
fn column_range(rg: &RowGroupMetaData, name: &str) -> Option<(u64, u64)> {
    let column = rg
        .columns()
        .iter()
        .find(|c| c.column_path().string() == name)?;
    let (lo, hi) = match column.statistics()? {
        Statistics::Int32(s) => (i64::from(*s.min_opt()?), i64::from(*s.max_opt()?)),
        Statistics::Int64(s) => (*s.min_opt()?, *s.max_opt()?),
        _ => return None,
    };
    Some((u64::try_from(lo).ok()?, u64::try_from(hi).ok()?))
}

/// The runs of a flows file's rows that pass `filter`, one per
/// alternative, read once for all of them (a window that a `-t` range
/// cuts through). Row groups whose time span `filter` rules out are not
/// read. Each row is one flow.
fn flows_runs(
    path: &Path,
    alternatives: &[Vec<Key>],
    filter: &filter::Expr,
    flags: bool,
) -> Result<Vec<Run>> {
    let err = |e: &dyn std::fmt::Display| Error(format!("{}: {e}", path.display()));
    let file = File::open(path).map_err(|e| err(&e))?;
    let builder =
        ParquetRecordBatchReaderBuilder::try_new_with_options(file, store::reader_options())
            .map_err(|e| err(&e))?;
    let row_groups: Vec<usize> = builder
        .metadata()
        .row_groups()
        .iter()
        .enumerate()
        .filter(|(_, rg)| {
            TimeSpan::of_row_group(rg).is_none_or(|s| s.settle(filter) != filter::Expr::False)
        })
        .map(|(i, _)| i)
        .collect();
    let mut wanted: Vec<&str> = alternatives.iter().flatten().map(Key::column).collect();
    wanted.extend(["packets", "bytes", "first", "last", "tcp_flags"]);
    wanted.extend(filter::batch::required_columns(filter));
    let mask = ProjectionMask::columns(builder.parquet_schema(), wanted);
    let reader = builder
        .with_row_groups(row_groups)
        .with_projection(mask)
        .with_batch_size(64 * 1024)
        .build()
        .map_err(|e| err(&e))?;
    // Another eddy's layout would make the typed column reads below fail.
    let flow = schema::flow_schema();
    for f in reader.schema().fields() {
        if flow
            .field_with_name(f.name())
            .map_or(true, |g| g.data_type() != f.data_type())
        {
            return Err(err(&format!(
                "column {} is not in this eddy's flow layout",
                f.name()
            )));
        }
    }
    let predicate = (!matches!(filter, filter::Expr::True))
        .then(|| BatchFilter::new(filter, &reader.schema()))
        .transpose()
        .map_err(|e| err(&e))?;
    let mut runs: Vec<RunBuilder> = alternatives.iter().map(|_| RunBuilder::default()).collect();
    for batch in reader {
        let batch = batch.map_err(|e| err(&e))?;
        let pass = passed(&batch, predicate.as_ref()).map_err(|e| err(&e))?;
        for (run, keys) in runs.iter_mut().zip(alternatives) {
            run.add_batch(&batch, keys, pass.as_ref(), flags)
                .map_err(|e| err(&e))?;
        }
    }
    Ok(runs.into_iter().map(RunBuilder::finish).collect())
}

/// Which rows of `batch` pass `predicate` (None: all).
fn passed(
    batch: &RecordBatch,
    predicate: Option<&BatchFilter>,
) -> std::result::Result<Option<BooleanArray>, String> {
    predicate
        .map(|p| p.try_eval(batch).map_err(|e| e.to_string()))
        .transpose()
}

/// A key column of a batch, typed once per batch; the small numbers with
/// their shift in [`Entry::small`].
enum KeyColumn<'a> {
    Addr(&'a arrow_array::FixedSizeBinaryArray, Option<(u8, bool)>),
    Byte(&'a [u8], u32),
    Short(&'a [u16], u32),
}

/// A run being built from rows in any order: rows with the key of the
/// last entry are added to it as they come, and the run is sorted at the
/// end if a key came before the last one.
#[derive(Default)]
struct RunBuilder {
    run: Run,
    unsorted: bool,
    /// The length at which an unsorted run is sorted and combined, so that
    /// a flows file's rows (in time order) take memory by distinct key,
    /// not by row.
    compact_at: usize,
}

/// Entries an unsorted run holds at least before it is compacted.
const COMPACT_MIN: usize = 1 << 16;

impl RunBuilder {
    fn finish(mut self) -> Run {
        self.compact();
        self.run
    }

    fn compact(&mut self) {
        if self.unsorted {
            self.run.sort_unstable_by_key(Entry::key);
            combine(&mut self.run);
            self.unsorted = false;
        }
        self.compact_at = COMPACT_MIN.max(2 * self.run.len());
    }

    /// Adds the rows of `batch` that `pass` (all when None), keyed by
    /// `keys`, adding a row to the last entry when their keys are equal. A
    /// summary's rows carry their flow count; a flows file's rows, which
    /// have no `flows` column, are one flow each.
    fn add_batch(
        &mut self,
        batch: &RecordBatch,
        keys: &[Key],
        pass: Option<&BooleanArray>,
        flags: bool,
    ) -> std::result::Result<(), String> {
        let col = |name: &str| {
            batch
                .column_by_name(name)
                .ok_or_else(|| format!("no column {name}"))
        };
        let flows = batch
            .column_by_name("flows")
            .map(|c| c.as_primitive::<UInt64Type>().values());
        let packets = col("packets")?.as_primitive::<UInt64Type>().values();
        let bytes = col("bytes")?.as_primitive::<UInt64Type>().values();
        let (first, time_scale) = times(col("first")?)?;
        let (last, _) = times(col("last")?)?;
        let tcp_flags = col("tcp_flags")?.as_primitive::<UInt8Type>().values();
        let mut key_columns = Vec::with_capacity(keys.len());
        for (k, shift) in keys.iter().zip(key_shifts(keys)) {
            let a = col(k.column())?;
            key_columns.push(match a.data_type() {
                arrow_schema::DataType::FixedSizeBinary(16) => {
                    if a.null_count() > 0 {
                        return Err("a null address in its own cut".into());
                    }
                    let mask = match k {
                        Key::Masked { bits, v4, .. } => Some((*bits, *v4)),
                        Key::Column(_) => None,
                    };
                    KeyColumn::Addr(a.as_fixed_size_binary(), mask)
                }
                arrow_schema::DataType::UInt8 if key_width(k.column()) == 8 => {
                    KeyColumn::Byte(a.as_primitive::<UInt8Type>().values(), shift)
                }
                arrow_schema::DataType::UInt16 if key_width(k.column()) == 16 => {
                    if a.null_count() > 0 {
                        return Err("a null port in the port cut".into());
                    }
                    KeyColumn::Short(a.as_primitive::<UInt16Type>().values(), shift)
                }
                t => return Err(format!("a key of type {t}")),
            });
        }
        for row in 0..batch.num_rows() {
            if pass.is_some_and(|p| !p.value(row) || p.is_null(row)) {
                continue;
            }
            let mut e = Entry {
                addr: 0,
                small: 0,
                tcp_flags: if flags { tcp_flags[row] } else { 0 },
                flows: flows.map_or(1, |f| f[row]),
                packets: packets[row],
                bytes: bytes[row],
                first: first[row]
                    .checked_mul(time_scale)
                    .ok_or("a time out of range")?,
                last: last[row]
                    .checked_mul(time_scale)
                    .ok_or("a time out of range")?,
            };
            for k in &key_columns {
                match k {
                    KeyColumn::Addr(a, mask) => {
                        let mut v: [u8; 16] = [0; 16];
                        v.copy_from_slice(a.value(row));
                        if let Some((bits, v4)) = mask {
                            v = mask_addr(v, *bits, *v4);
                        }
                        e.addr = u128::from_be_bytes(v);
                    }
                    KeyColumn::Byte(values, shift) => e.small |= u32::from(values[row]) << shift,
                    KeyColumn::Short(values, shift) => e.small |= u32::from(values[row]) << shift,
                }
            }
            match self.run.last_mut() {
                Some(l) if l.key() == e.key() => l.add(&e),
                Some(l) => {
                    self.unsorted |= l.key() > e.key();
                    self.run.push(e);
                }
                None => self.run.push(e),
            }
            if self.run.len() >= self.compact_at.max(COMPACT_MIN) {
                self.compact();
            }
        }
        Ok(())
    }
}

/// A time column's values and the nanoseconds in one of their units
/// (summaries of whole-millisecond flows store milliseconds; eddy writes
/// only milliseconds whose nanoseconds fit, but a damaged file may not).
fn times(a: &arrow_array::ArrayRef) -> std::result::Result<(&[i64], i64), String> {
    use arrow_array::types::TimestampMillisecondType;
    use arrow_schema::{DataType, TimeUnit};
    match a.data_type() {
        DataType::Timestamp(TimeUnit::Nanosecond, _) => {
            Ok((a.as_primitive::<TimestampNanosecondType>().values(), 1))
        }
        DataType::Timestamp(TimeUnit::Millisecond, _) => Ok((
            a.as_primitive::<TimestampMillisecondType>().values(),
            1_000_000,
        )),
        t => Err(format!("times of type {t}")),
    }
}

/// The top groups and the sums, as the engine gives them.
fn finish(run: Run, keys: &[Key], order: Order, limit: Option<usize>) -> Result<Groups> {
    let mut sink = GroupSink::new(order, limit);
    let shifts = key_shifts(keys);
    for a in run {
        let g = Group {
            keys: Vec::new(),
            flows: a.flows,
            packets: a.packets,
            bytes: a.bytes,
            first_ns: a.first.max(0) as u64,
            last_ns: a.last.max(0) as u64,
            tcp_flags: a.tcp_flags,
        };
        sink.offer(g, || {
            Ok(keys
                .iter()
                .zip(&shifts)
                .map(|(key, &shift)| match key_width(key.column()) {
                    0 => ScalarValue::FixedSizeBinary(16, Some(a.addr.to_be_bytes().to_vec())),
                    16 => ScalarValue::UInt16(Some((a.small >> shift) as u16)),
                    _ => ScalarValue::UInt8(Some((a.small >> shift) as u8)),
                })
                .collect())
        })?;
    }
    Ok(sink.finish())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{TimestampNanosecondArray, UInt64Array, UInt8Array};
    use arrow_schema::{DataType, Field, Schema, TimeUnit};

    use super::*;

    /// Rows in any order, more than one compaction's worth: the run holds
    /// each key once, with every row added up, as a map would.
    #[test]
    fn an_unsorted_run_compacts_to_the_sums_of_its_rows() {
        let rows = 3 * COMPACT_MIN + 123;
        let proto: Vec<u8> = (0..rows).map(|i| ((i * 7919) % 251) as u8).collect();
        let packets: Vec<u64> = (0..rows as u64).collect();
        let time = DataType::Timestamp(TimeUnit::Nanosecond, None);
        let schema = Arc::new(Schema::new(vec![
            Field::new("proto", DataType::UInt8, false),
            Field::new("packets", DataType::UInt64, false),
            Field::new("bytes", DataType::UInt64, false),
            Field::new("first", time.clone(), false),
            Field::new("last", time, false),
            Field::new("tcp_flags", DataType::UInt8, false),
        ]));
        let times: Vec<i64> = (0..rows as i64).collect();
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(UInt8Array::from(proto.clone())),
                Arc::new(UInt64Array::from(packets.clone())),
                Arc::new(UInt64Array::from(vec![1; rows])),
                Arc::new(TimestampNanosecondArray::from(times.clone())),
                Arc::new(TimestampNanosecondArray::from(times)),
                Arc::new(UInt8Array::from(
                    proto.iter().map(|p| 1 << (p % 8)).collect::<Vec<u8>>(),
                )),
            ],
        )
        .unwrap();
        let keys = [Key::Column("proto".into())];
        let mut run = RunBuilder::default();
        // In slices, as batches come.
        for start in (0..rows).step_by(10_000) {
            let part = batch.slice(start, (rows - start).min(10_000));
            run.add_batch(&part, &keys, None, true).unwrap();
            assert!(run.run.len() < 2 * COMPACT_MIN + 10_000);
        }
        let run = run.finish();
        // flows, packets, first, last, flags
        type Sums = (u64, u64, i64, i64, u8);
        let mut want = std::collections::BTreeMap::<u8, Sums>::new();
        for (i, &p) in proto.iter().enumerate() {
            let e = want.entry(p).or_insert((0, 0, i64::MAX, 0, 0));
            e.0 += 1;
            e.1 += packets[i];
            e.2 = e.2.min(i as i64);
            e.3 = e.3.max(i as i64);
            e.4 |= 1 << (p % 8);
        }
        let got: Vec<(u8, Sums)> = run
            .iter()
            .map(|e| {
                (
                    e.small as u8,
                    (e.flows, e.packets, e.first, e.last, e.tcp_flags),
                )
            })
            .collect();
        assert_eq!(got, want.into_iter().collect::<Vec<_>>());
    }
}
