//! `eddy module replay -i OUT (-f FILE | -R STORE_DIR)`: flows to a stream,
//! as NEMEA's logreplay. From CSV or JSON lines (eddy's `-o csv|json`, the
//! logger's output), or from the flow store in time order: a source folder
//! or the whole store, window by window, each window's rows (all sources)
//! sorted by `first`. As fast as possible, or paced at `--speed` times real
//! time by the records' start times.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use arrow_array::{Array, RecordBatch, TimestampNanosecondArray};
use clap::Args;
use stream::{Module, ModuleError, Outputs, Produced};

use super::Common;

#[derive(Args)]
pub struct ReplayArgs {
    #[command(flatten)]
    common: Common,
    /// CSV (with a header line) or JSON lines; - for stdin.
    #[arg(
        short = 'f',
        long = "file",
        value_name = "FILE",
        conflicts_with = "store"
    )]
    file: Option<PathBuf>,
    /// Stored flows: the store folder, or one source's folder in it.
    #[arg(short = 'R', long = "store", value_name = "DIR")]
    store: Option<PathBuf>,
    /// Pace by the records' start times at this many times real time
    /// (1 = real time) [default: as fast as possible].
    #[arg(long, value_name = "FACTOR", conflicts_with = "rate")]
    speed: Option<f64>,
    /// Send at most this many records per second.
    #[arg(long, value_name = "RECORDS")]
    rate: Option<u64>,
    /// Stop after this many records.
    #[arg(short = 'c', long = "count", value_name = "N")]
    count: Option<u64>,
    /// Rows per batch sent.
    #[arg(long, default_value_t = 8192, value_name = "ROWS")]
    batch: usize,
}

/// Where batches come from.
pub(crate) trait BatchSource {
    fn next_batch(&mut self) -> Option<Result<RecordBatch, ModuleError>>;
}

struct Replay {
    source: Box<dyn BatchSource>,
    /// The batch being sent and the next row to send.
    current: Option<(RecordBatch, usize)>,
    slice_rows: usize,
    pace: Option<Pace>,
    remaining: u64,
    sent: u64,
}

/// How fast to send: by the records' times, or a fixed rate.
enum Pace {
    Speed {
        speed: f64,
        /// Wall clock and record time of the first record.
        origin: Option<(Instant, i64)>,
    },
    Rate {
        per_sec: u64,
        start: Option<Instant>,
    },
}

impl Pace {
    /// How long to wait before sending the next record (which started at
    /// `ns`, when known) after `sent` records.
    fn wait(&mut self, ns: Option<i64>, sent: u64) -> Duration {
        match self {
            Pace::Speed { speed, origin } => {
                let Some(ns) = ns else { return Duration::ZERO };
                let (wall, t0) = *origin.get_or_insert((Instant::now(), ns));
                let due = Duration::from_secs_f64((ns - t0).max(0) as f64 / 1e9 / *speed);
                due.saturating_sub(wall.elapsed())
            }
            Pace::Rate { per_sec, start } => {
                let start = *start.get_or_insert_with(Instant::now);
                let due = Duration::from_secs_f64(sent as f64 / *per_sec as f64);
                due.saturating_sub(start.elapsed())
            }
        }
    }
}

impl Module for Replay {
    fn outputs(&self) -> usize {
        1
    }

    fn inputs(&self) -> (usize, Option<usize>) {
        (0, Some(0))
    }

    fn process(&mut self, _: usize, _: &RecordBatch, _: &mut Outputs) -> Result<(), ModuleError> {
        Ok(())
    }

    fn produce(&mut self, out: &mut Outputs) -> Result<Produced, ModuleError> {
        if self.remaining == 0 {
            return Ok(Produced::Done);
        }
        let (batch, offset) = match self.current.take() {
            Some((b, o)) if o < b.num_rows() => (b, o),
            _ => match self.source.next_batch() {
                Some(b) => (b?, 0),
                None => return Ok(Produced::Done),
            },
        };
        let rows = self
            .slice_rows
            .min(batch.num_rows() - offset)
            .min(self.remaining.min(usize::MAX as u64) as usize);
        if let Some(pace) = &mut self.pace {
            let wait = pace.wait(first_time(&batch, offset), self.sent);
            if !wait.is_zero() {
                std::thread::sleep(wait.min(Duration::from_millis(50)));
                self.current = Some((batch, offset));
                return Ok(Produced::Idle);
            }
        }
        out.send(0, &batch.slice(offset, rows))?;
        self.sent += rows as u64;
        self.remaining -= rows as u64;
        self.current = Some((batch, offset + rows));
        Ok(Produced::Busy)
    }

    fn stats_json(&self) -> String {
        format!("\"replayed\":{}", self.sent)
    }
}

/// The `first` time of a row, if the batch has that column.
fn first_time(batch: &RecordBatch, row: usize) -> Option<i64> {
    let col = batch.column_by_name("first")?;
    let times = col.as_any().downcast_ref::<TimestampNanosecondArray>()?;
    (row < times.len() && times.is_valid(row)).then(|| times.value(row))
}

/// Stored flows, window after window, each window's rows in order of
/// `first`: a window's files are read whole, cut into the runs that are
/// already sorted (row groups are), and the runs merged a batch at a time
/// (one copy of each row, no sort of the whole window).
///
/// A thread reads the next window while this one is merged and sent.
/// Read in line, a window's Parquet decoding (tens of milliseconds) left
/// the modules downstream idle, their socket buffers holding a tenth of a
/// batch; the cost is a second window in memory.
pub(crate) struct StoreSource {
    /// Windows read ahead, oldest first, from the reading thread.
    windows: mpsc::Receiver<Result<Merge, ModuleError>>,
    /// Windows not yet received: the channel closing before they all came
    /// means the thread died (a panic), which must not pass for the end.
    remaining: usize,
    merge: Option<Merge>,
}

impl StoreSource {
    pub(crate) fn open(dir: &Path, batch_rows: usize) -> Result<StoreSource> {
        let (root, sources) = store_root(dir)?;
        let files = store::list_files(&root, sources.as_deref(), None, store::DEFAULT_WINDOW_SECS)
            .with_context(|| format!("listing {}", dir.display()))?;
        if files.is_empty() {
            bail!("no flow files under {}", dir.display());
        }
        let mut windows: Vec<Vec<PathBuf>> = Vec::new();
        let mut last = None;
        for f in files {
            if last != Some(f.window_start) {
                windows.push(Vec::new());
                last = Some(f.window_start);
            }
            if let Some(w) = windows.last_mut() {
                w.push(f.path);
            }
        }
        // A rendezvous: the thread holds one window ready while this side
        // merges the one before. It stops when this side is dropped.
        let remaining = windows.len();
        let (tx, rx) = mpsc::sync_channel(0);
        std::thread::Builder::new()
            .name("replay-read".into())
            .spawn(move || {
                for files in windows {
                    if tx.send(Self::read_window(&files, batch_rows)).is_err() {
                        break;
                    }
                }
            })
            .context("starting the store reading thread")?;
        Ok(StoreSource {
            windows: rx,
            remaining,
            merge: None,
        })
    }

    fn read_window(files: &[PathBuf], batch_rows: usize) -> Result<Merge, ModuleError> {
        // Columns null in every file of the window (most L7 columns of
        // most windows) are not read: their pages would only decode to
        // nulls, and the stream leaves them out anyway. Every file is read
        // with the same columns, so the window's runs can be merged.
        let mut skip: Option<Vec<String>> = None;
        for path in files {
            let nulls = store::null_columns(path)?;
            skip = Some(match skip {
                None => nulls,
                Some(s) => s.into_iter().filter(|c| nulls.contains(c)).collect(),
            });
        }
        let skip = skip.unwrap_or_default();
        let mut batches = Vec::new();
        for path in files {
            for b in store::read_batches_without(path, 64 * 1024, &skip)? {
                let b = b?;
                if b.num_rows() > 0 {
                    batches.push(b);
                }
            }
        }
        Ok(Merge::new(batches, batch_rows))
    }
}

impl BatchSource for StoreSource {
    fn next_batch(&mut self) -> Option<Result<RecordBatch, ModuleError>> {
        loop {
            if let Some(m) = &mut self.merge {
                match m.next_chunk() {
                    Some(b) => return Some(b),
                    None => self.merge = None,
                }
            }
            if self.remaining == 0 {
                return None;
            }
            let Ok(window) = self.windows.recv() else {
                self.remaining = 0;
                return Some(Err(
                    "the thread reading the store stopped before the last window".into(),
                ));
            };
            self.remaining -= 1;
            match window {
                Ok(m) => self.merge = Some(m),
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

/// A k-way merge of sorted runs by `first`.
struct Merge {
    batches: Vec<RecordBatch>,
    /// Per batch, its `first` values (empty when the batch has none).
    times: Vec<arrow_buffer::ScalarBuffer<i64>>,
    /// Runs as (batch, next row, end row), each sorted by `first`.
    runs: Vec<(usize, usize, usize)>,
    batch_rows: usize,
    /// Set when the window cannot be merged (no `first` column, files of
    /// different schemas): its batches go out as they are.
    unsorted: bool,
}

impl Merge {
    fn new(batches: Vec<RecordBatch>, batch_rows: usize) -> Merge {
        let mut times = Vec::with_capacity(batches.len());
        let mut runs = Vec::new();
        let same_schema = batches.windows(2).all(|w| w[0].schema() == w[1].schema());
        let mut unsorted = !same_schema;
        for (b, batch) in batches.iter().enumerate() {
            let t = batch
                .column_by_name("first")
                .and_then(|c| c.as_any().downcast_ref::<TimestampNanosecondArray>())
                .map(|a| a.values().clone());
            let Some(t) = t else {
                unsorted = true;
                times.push(arrow_buffer::ScalarBuffer::from(Vec::<i64>::new()));
                continue;
            };
            let mut start = 0;
            for i in 1..t.len() {
                if t[i] < t[i - 1] {
                    runs.push((b, start, i));
                    start = i;
                }
            }
            runs.push((b, start, t.len()));
            times.push(t);
        }
        if unsorted {
            runs = (0..batches.len())
                .map(|b| (b, 0, batches[b].num_rows()))
                .collect();
        }
        runs.reverse();
        Merge {
            batches,
            times,
            runs,
            batch_rows,
            unsorted,
        }
    }

    fn next_chunk(&mut self) -> Option<Result<RecordBatch, ModuleError>> {
        self.runs.retain(|r| r.1 < r.2);
        if self.runs.is_empty() {
            return None;
        }
        // One run left (or no order to keep): slices, no copy.
        if self.runs.len() == 1 || self.unsorted {
            let last = self.runs.len() - 1;
            let (b, pos, end) = self.runs[last];
            let n = self.batch_rows.min(end - pos);
            self.runs[last].1 += n;
            return Some(Ok(self.batches[b].slice(pos, n)));
        }
        // The runs are long and overlap little (row groups of arrival
        // order), so the merge takes segments: from the run with the
        // earliest head, every row up to the next run's head at once.
        let mut segments: Vec<(usize, usize, usize)> = Vec::new();
        let mut rows = 0;
        while rows < self.batch_rows {
            let mut best: Option<(usize, i64)> = None;
            let mut second = i64::MAX;
            for (k, &(b, pos, end)) in self.runs.iter().enumerate() {
                if pos >= end {
                    continue;
                }
                let t = self.times[b][pos];
                match best {
                    Some((_, tb)) if t >= tb => second = second.min(t),
                    Some((_, tb)) => {
                        second = tb;
                        best = Some((k, t));
                    }
                    None => best = Some((k, t)),
                }
            }
            let Some((k, _)) = best else { break };
            let (b, pos, end) = self.runs[k];
            let limit = end.min(pos + (self.batch_rows - rows));
            let n = count_at_most(&self.times[b][pos..limit], second).max(1);
            segments.push((b, pos, n));
            self.runs[k].1 += n;
            rows += n;
        }
        if let [(b, pos, n)] = segments[..] {
            return Some(Ok(self.batches[b].slice(pos, n)));
        }
        Some(stream::columns::take_segments(&self.batches, &segments).map_err(Into::into))
    }
}

/// How many of the sorted `times` are at most `bound` (`partition_point`),
/// found by galloping from the start: a merge's segments are a few rows
/// long, and a binary search over the whole run touched a cache line per
/// step.
fn count_at_most(times: &[i64], bound: i64) -> usize {
    // Every time before `lo` is at most `bound`.
    let mut lo = 0;
    let mut step = 1;
    while lo + step <= times.len() && times[lo + step - 1] <= bound {
        lo += step;
        step *= 2;
    }
    let hi = (lo + step).min(times.len());
    lo + times[lo..hi].partition_point(|&t| t <= bound)
}

/// The store root and the sources to read: DIR itself is the root, unless
/// it is one source's folder (it holds year folders).
fn store_root(dir: &Path) -> Result<(PathBuf, Option<Vec<String>>)> {
    if !dir.is_dir() {
        bail!("{} is not a folder", dir.display());
    }
    let holds_years = std::fs::read_dir(dir)?.flatten().any(|e| {
        e.file_name()
            .to_str()
            .is_some_and(|n| n.len() == 4 && n.bytes().all(|b| b.is_ascii_digit()))
    });
    if holds_years {
        let parent = dir.parent().unwrap_or(Path::new(".")).to_path_buf();
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .map(String::from)
            .unwrap_or_default();
        return Ok((parent, Some(vec![name])));
    }
    Ok((dir.to_path_buf(), None))
}

/// CSV or JSON lines, told apart by the first non-blank character. Bad
/// lines are skipped, counted and the first few logged.
enum TextSource {
    Csv(schema::text::CsvReader<Box<dyn BufRead>>),
    Json(schema::text::JsonReader<Box<dyn BufRead>>),
}

impl TextSource {
    fn open(path: &Path, batch_rows: usize) -> Result<TextSource> {
        let mut reader: Box<dyn BufRead> = if path == Path::new("-") {
            Box::new(BufReader::with_capacity(1 << 20, std::io::stdin()))
        } else {
            let f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
            Box::new(BufReader::with_capacity(1 << 20, f))
        };
        let head = reader
            .fill_buf()
            .with_context(|| format!("reading {}", path.display()))?;
        let json = head.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
        Ok(if json {
            TextSource::Json(schema::text::JsonReader::new(reader).with_batch_rows(batch_rows))
        } else {
            TextSource::Csv(schema::text::CsvReader::new(reader).with_batch_rows(batch_rows))
        })
    }

    fn report(&self) {
        let (bad, errors, ignored) = match self {
            TextSource::Csv(r) => (r.bad_lines(), r.errors(), r.ignored_columns()),
            TextSource::Json(r) => (r.bad_lines(), r.errors(), r.ignored_columns()),
        };
        if !ignored.is_empty() {
            stream::log(&format!(
                "ignored columns eddy does not know: {}",
                ignored.join(", ")
            ));
        }
        if bad > 0 {
            let first: Vec<String> = errors.iter().map(ToString::to_string).collect();
            stream::log(&format!("skipped {bad} bad line(s): {}", first.join("; ")));
        }
    }
}

impl BatchSource for TextSource {
    fn next_batch(&mut self) -> Option<Result<RecordBatch, ModuleError>> {
        let next = match self {
            TextSource::Csv(r) => r.next_batch(),
            TextSource::Json(r) => r.next_batch(),
        };
        if next.is_none() {
            self.report();
        }
        next.map(|r| r.map_err(Into::into))
    }
}

pub fn run(args: ReplayArgs) -> Result<()> {
    let source: Box<dyn BatchSource> = match (&args.file, &args.store) {
        (Some(f), None) => Box::new(TextSource::open(f, args.batch.max(1))?),
        (None, Some(dir)) => Box::new(StoreSource::open(dir, args.batch.max(1))?),
        _ => bail!("replay needs -f FILE (CSV or JSON lines) or -R STORE_DIR"),
    };
    let pace = match (args.speed, args.rate) {
        (Some(s), _) if s > 0.0 && s.is_finite() => Some(Pace::Speed {
            speed: s,
            origin: None,
        }),
        (Some(s), _) => bail!("--speed {s}: expected a factor > 0"),
        (None, Some(0)) => bail!("--rate 0: expected records per second > 0"),
        (None, Some(r)) => Some(Pace::Rate {
            per_sec: r,
            start: None,
        }),
        (None, None) => None,
    };
    let mut module = Replay {
        source,
        current: None,
        slice_rows: match (&pace, args.rate) {
            (_, Some(r)) => (r / 100).clamp(1, 8192) as usize,
            (Some(_), None) => 256,
            (None, None) => args.batch.max(1),
        },
        pace,
        remaining: args.count.unwrap_or(u64::MAX),
        sent: 0,
    };
    super::run_module("replay", &args.common, &mut module)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use arrow_array::{StringArray, TimestampNanosecondArray, UInt64Array};
    use arrow_schema::{DataType, Field, Schema, TimeUnit};

    /// A row's name: a string of its id, null for every third row.
    fn name_of(id: u64) -> Option<String> {
        (!id.is_multiple_of(3)).then(|| format!("host-{id}"))
    }

    /// A batch of sorted runs: `first` times, a row id, a partly null
    /// string column and one null throughout.
    fn batch(times: Vec<i64>, ids: Vec<u64>) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new(
                "first",
                DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
                false,
            ),
            Field::new("id", DataType::UInt64, false),
            Field::new("name", DataType::Utf8, true),
            Field::new("unused", DataType::Utf8, true),
        ]));
        let names: StringArray = ids.iter().map(|&i| name_of(i)).collect();
        let unused = arrow_array::new_null_array(&DataType::Utf8, ids.len());
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(TimestampNanosecondArray::from(times).with_timezone("UTC")),
                Arc::new(UInt64Array::from(ids)),
                Arc::new(names),
                unused,
            ],
        )
        .unwrap()
    }

    /// (first, id) of every row the merge puts out; each row's other
    /// columns are checked against its id on the way.
    fn drain(mut m: Merge) -> Vec<(i64, u64)> {
        let mut out = Vec::new();
        while let Some(b) = m.next_chunk() {
            let b = b.unwrap();
            let t = b
                .column(0)
                .as_any()
                .downcast_ref::<TimestampNanosecondArray>()
                .unwrap();
            let id = b.column(1).as_any().downcast_ref::<UInt64Array>().unwrap();
            let name = b.column(2).as_any().downcast_ref::<StringArray>().unwrap();
            for i in 0..b.num_rows() {
                let want = name_of(id.value(i));
                assert_eq!(name.is_valid(i).then(|| name.value(i).to_string()), want);
            }
            assert_eq!(b.column(3).null_count(), b.num_rows());
            out.extend((0..b.num_rows()).map(|i| (t.value(i), id.value(i))));
        }
        out
    }

    #[test]
    fn galloping_counts_as_partition_point_does() {
        for len in 0..70 {
            let times: Vec<i64> = (0..len).map(|i| i / 3).collect();
            for bound in -1..=len / 3 + 1 {
                assert_eq!(
                    count_at_most(&times, bound),
                    times.partition_point(|&t| t <= bound),
                    "{len} {bound}"
                );
            }
        }
    }

    #[test]
    fn the_merge_puts_every_row_out_once_in_time_order() {
        // Pseudo-random sorted runs, long overlapping ones and short
        // interleaved ones, in three batches (one with two runs).
        let mut x = 7u64;
        let mut next = || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) as i64
        };
        let mut id = 0u64;
        let mut make = |n: usize, spread: i64, offset: i64, runs: usize| {
            let mut times = Vec::new();
            for _ in 0..runs {
                let mut run: Vec<i64> = (0..n).map(|_| offset + next() % spread).collect();
                run.sort_unstable();
                times.extend(run);
            }
            let ids: Vec<u64> = (0..times.len() as u64).map(|i| id + i).collect();
            id += times.len() as u64;
            batch(times, ids)
        };
        let batches = vec![
            make(5000, 1_000_000, 0, 2),
            make(3000, 1_000_000, 900_000, 1),
            make(20, 2_000_000, 0, 1),
        ];
        let total: usize = batches.iter().map(|b| b.num_rows()).sum();
        for rows in [1, 7, 100, 8192] {
            let out = drain(Merge::new(batches.clone(), rows));
            assert_eq!(out.len(), total);
            assert!(
                out.windows(2).all(|w| w[0].0 <= w[1].0),
                "batch rows {rows}"
            );
            let mut ids: Vec<u64> = out.iter().map(|r| r.1).collect();
            ids.sort_unstable();
            assert!(ids.iter().enumerate().all(|(i, &v)| v == i as u64));
        }
    }
}
