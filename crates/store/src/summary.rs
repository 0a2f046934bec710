//! Window summaries: a window's flows added up per address, written beside
//! the window's file so that `eddy query`'s top-N statistics need not read
//! every flow.
//!
//! A summary has one row group per address *cut*: the flows grouped by
//! source address, protocol and TCP flags, by destination address,
//! protocol and TCP flags, then by source address alone and by
//! destination address alone (see [`row_group`]). Then comes the *port
//! cut*, the flows grouped by protocol, source port and destination port,
//! in one row group per protocol (see [`PORT_CUT_START`]). A row holds the
//! group's key columns (named and typed as in the flow schema, the
//! columns of other cuts null; in the address-only cuts `proto` is 0; in
//! the address-only cuts and the port cut `tcp_flags` is the OR of the
//! group's), its flow count, packet and byte sums, and its earliest
//! `first` and latest `last`. A query whose statistic, aggregation keys
//! and filter use only one cut's columns gets the same groups, counters
//! and times from the summary as from the flows; anything else reads the
//! flows.
//!
//! Times are stored in milliseconds when every flow's times are whole
//! milliseconds, as collected IPFIX and NetFlow times are: that took the
//! bench window summary's times from 5.3 to 4.4 bytes a flow (their column
//! chunks' sizes in the footer). Otherwise (the meter's own times) they stay in nanoseconds.
//! Either way they are the flows' times exactly.
//!
//! Protocol and flags are in the key because scanner searches
//! (`proto tcp and flags S and not flags A`) are the commonest filtered
//! statistic: on the generated bench traffic such a cut has about twice as
//! many rows as there are distinct addresses, a fifth of the window's
//! flows. The address-only cuts, which top talkers read, have half as many
//! and are made from the others when the window closes, at no cost a row.
//! The port cut answers port statistics under port and protocol filters
//! (`-s dstport 'proto udp and not port 53'`); its row groups per protocol
//! let such a query read only the protocols its filter admits.
//!
//! The address column of each address-only cut carries a Parquet Bloom
//! filter, and the footer the exact set of each side's ports and of the
//! protocols ([`ValueSet`]), so that `eddy query` can skip the windows
//! where none of a filter's addresses, ports or protocols appears
//! ([`window_filters`]).
//!
//! The file is `summary.STAMP[.PART].parquet` (see [`summary_path`]); it
//! is written, synced and renamed into place before its flows file, so a
//! flows file in place has its summary. A store written before summaries
//! existed simply has none, and queries read its flows; one written before
//! the port cut ([`Layout::AddressCuts`]) answers the address cuts only.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    ArrowPrimitiveType, TimestampNanosecondType, UInt16Type, UInt64Type, UInt8Type,
};
use arrow_array::{
    ArrayRef, FixedSizeBinaryArray, RecordBatch, TimestampMillisecondArray,
    TimestampNanosecondArray, UInt16Array, UInt64Array, UInt8Array,
};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef, TimeUnit};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::arrow_writer::compute_leaves;
use parquet::arrow::{ArrowWriter, ProjectionMask};
use parquet::basic::{Compression, ZstdLevel};
use parquet::bloom_filter::Sbbf;
use parquet::file::metadata::{KeyValue, ParquetMetaDataReader};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use crate::layout::temp_name;
use crate::Error;

const NANOS_PER_MS: i64 = 1_000_000;

/// The address column of each cut, in row-group order.
pub const CUTS: [&str; 2] = ["src_ip", "dst_ip"];

/// The flow columns a summary is made of.
pub const FLOW_COLUMNS: [&str; 10] = [
    "src_ip",
    "dst_ip",
    "src_port",
    "dst_port",
    "proto",
    "tcp_flags",
    "packets",
    "bytes",
    "first",
    "last",
];

/// The columns a cut is keyed by besides its address.
pub const CUT_KEYS: [&str; 2] = ["proto", "tcp_flags"];

/// The row groups of a summary's address cuts: side `i`'s cut by
/// (address, proto, flags) is row group `i`, and by address alone row
/// group `CUTS.len() + i` (proto 0, `tcp_flags` the OR of the address's
/// flows).
pub const ADDRESS_ROW_GROUPS: usize = 2 * CUTS.len();

/// The first row group of the port cut, which has one row group per
/// protocol of the window, in protocol order, rows sorted by destination
/// port, then source port.
pub const PORT_CUT_START: usize = ADDRESS_ROW_GROUPS;

/// The columns the port cut is keyed by.
pub const PORT_CUT_KEYS: [&str; 3] = ["proto", "src_port", "dst_port"];

/// What a summary file holds, told by its schema.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// The address cuts alone (written before the port cut).
    AddressCuts,
    /// The address cuts and the port cut.
    WithPortCut,
}

/// The layout of a summary whose Arrow schema is `schema`; None if it is
/// not a summary this eddy reads.
pub fn layout_of(schema: &Schema) -> Option<Layout> {
    let fields = schema.fields();
    [TimeUnit::Nanosecond, TimeUnit::Millisecond]
        .into_iter()
        .find_map(|unit| {
            let current = summary_schema(unit);
            if fields == current.fields() {
                Some(Layout::WithPortCut)
            } else if fields[..] == current.fields()[..ADDRESS_CUT_FIELDS] {
                Some(Layout::AddressCuts)
            } else {
                None
            }
        })
}

/// How many of the summary's fields summaries had before the port cut
/// (whose times were always nanoseconds).
const ADDRESS_CUT_FIELDS: usize = 9;

/// The row group of `side`'s cut, by address alone or with proto and
/// flags.
pub fn row_group(side: usize, by_proto_flags: bool) -> usize {
    if by_proto_flags {
        side
    } else {
        CUTS.len() + side
    }
}

/// How often an address filter may say "maybe" for an address the window
/// does not hold. Filters are folded to a power-of-two size that keeps
/// the rate below this: for the bench window's 55k addresses a side, 64 KB
/// and 1.6 % measured (1 % would take 128 KB); the two take 0.26 bytes a
/// flow (BENCHMARKS.md).
pub const ADDRESS_FILTER_FPP: f64 = 0.02;

/// The column whose Bloom filter row group `rg` keeps: the address of an
/// address-only cut (each cut's address set once; the finer cuts repeat
/// it, and the other side's column is null).
fn address_filter_column(rg: usize) -> Option<usize> {
    (0..CUTS.len()).find(|&side| row_group(side, false) == rg)
}

/// The addresses of one side of a window, as its summary knows them: a
/// Bloom filter over them (no false "no") and their range.
pub struct AddressFilter {
    bloom: Sbbf,
    /// Lowest and highest address (big-endian integers); `min > max` for
    /// a window without flows.
    min: u128,
    max: u128,
}

impl AddressFilter {
    /// Whether a flow of the window may have `addr` on this side; false
    /// means none has.
    pub fn may_hold(&self, addr: u128) -> bool {
        self.may_hold_range(addr, addr) && self.bloom.check(&addr.to_be_bytes()[..])
    }

    /// Whether a flow may have an address in `lo..=hi`; false means none has.
    pub fn may_hold_range(&self, lo: u128, hi: u128) -> bool {
        lo <= self.max && hi >= self.min
    }
}

/// What a window's summary tells of its addresses, ports and protocols,
/// for skipping the window. Each part is None when the window has no
/// summary, when its summary was written before it kept that part
/// (`eddy store summarize` rewrites such summaries), or when it was not
/// [`Wanted`].
#[derive(Default)]
pub struct WindowFilters {
    /// `[source, destination]`.
    pub addresses: Option<[AddressFilter; 2]>,
    /// `[source, destination]`.
    pub ports: Option<[ValueSet; 2]>,
    pub protos: Option<ValueSet>,
}

/// The parts of [`WindowFilters`] a caller wants.
#[derive(Clone, Copy, Debug, Default)]
pub struct Wanted {
    pub addresses: bool,
    pub ports: bool,
    pub protos: bool,
}

impl Wanted {
    pub const ALL: Wanted = Wanted {
        addresses: true,
        ports: true,
        protos: true,
    };
}

/// The [`WindowFilters`] of the window whose flows file is `flows` (one
/// read of its summary's footer): the parts `wanted` (the others None).
pub fn window_filters(flows: &Path, wanted: Wanted) -> Result<WindowFilters, Error> {
    let Some((path, file)) = open_summary(flows)? else {
        return Ok(WindowFilters::default());
    };
    let meta = ParquetMetaDataReader::new()
        .parse_and_finish(&file)
        .map_err(|e| Error::parquet("reading", &path, e))?;
    let kv = meta.file_metadata().key_value_metadata();
    Ok(WindowFilters {
        addresses: match wanted.addresses {
            true => address_filters_of(&path, &file, &meta)?,
            false => None,
        },
        ports: match wanted.ports {
            true => port_sets_of(&path, kv)?,
            false => None,
        },
        protos: match wanted.protos {
            true => value_set_of(&path, kv, PROTO_KEY)?,
            false => None,
        },
    })
}

/// The layout of the summary of the flows file `flows` (one read of its
/// footer); None if the window has no summary.
pub fn layout(flows: &Path) -> Result<Option<Layout>, Error> {
    let Some((path, file)) = open_summary(flows)? else {
        return Ok(None);
    };
    let meta = ParquetMetaDataReader::new()
        .parse_and_finish(&file)
        .map_err(|e| Error::parquet("reading", &path, e))?;
    // From the Parquet schema alone: parquet-rs panics on some damaged
    // embedded Arrow schemas (arrow-ipc's `fb_to_schema` unwraps).
    let schema = parquet::arrow::parquet_to_arrow_schema(meta.file_metadata().schema_descr(), None)
        .map_err(|e| Error::parquet("reading", &path, e))?;
    layout_of(&schema).map(Some).ok_or_else(|| {
        Error::config(format!(
            "{}: not a summary this eddy reads (`eddy store summarize --force` rewrites it)",
            path.display()
        ))
    })
}

fn address_filters_of(
    path: &Path,
    file: &File,
    meta: &parquet::file::metadata::ParquetMetaData,
) -> Result<Option<[AddressFilter; 2]>, Error> {
    if meta.num_row_groups() < ADDRESS_ROW_GROUPS {
        return Err(Error::config(format!(
            "{}: {} row groups where a summary has at least {ADDRESS_ROW_GROUPS}",
            path.display(),
            meta.num_row_groups()
        )));
    }
    let file_len = file
        .metadata()
        .map_err(|e| Error::io("reading", path, e))?
        .len();
    let mut filters = Vec::with_capacity(CUTS.len());
    for (side, name) in CUTS.iter().enumerate() {
        let rg = meta.row_group(row_group(side, false));
        if rg.num_columns() <= side {
            return Err(Error::config(format!(
                "{}: {} columns where a summary has {}",
                path.display(),
                rg.num_columns(),
                summary_schema(TimeUnit::Nanosecond).fields().len()
            )));
        }
        let column = rg.column(side);
        if column.column_path().string() != *name {
            return Err(Error::config(format!(
                "{}: column {side} is {}, not {}",
                path.display(),
                column.column_path(),
                name
            )));
        }
        // parquet-rs trusts the footer's filter length (or, without one,
        // the size the filter's header claims) and the filter's size (an
        // empty one fails its lookups), so all are checked here. eddy
        // always writes the length.
        let (Some(offset), Some(len)) =
            (column.bloom_filter_offset(), column.bloom_filter_length())
        else {
            return Ok(None);
        };
        let inside = u64::try_from(offset)
            .ok()
            .zip(u64::try_from(len).ok())
            .is_some_and(|(o, l)| o.saturating_add(l) <= file_len);
        if !inside {
            return Err(Error::config(format!(
                "{}: the {} filter lies outside the file",
                path.display(),
                name
            )));
        }
        let Some(bloom) = Sbbf::read_from_column_chunk(column, file)
            .map_err(|e| Error::parquet("reading", path, e))?
            .filter(|b| b.num_blocks() > 0)
        else {
            return Ok(None);
        };
        let bound = |b: Option<&[u8]>| b.and_then(|b| <[u8; 16]>::try_from(b).ok());
        let stats = column.statistics();
        let (min, max) = match (
            bound(stats.and_then(|s| s.min_bytes_opt())),
            bound(stats.and_then(|s| s.max_bytes_opt())),
        ) {
            (Some(lo), Some(hi)) => (u128::from_be_bytes(lo), u128::from_be_bytes(hi)),
            // No bounds: the cut is empty, or the statistics are missing
            // (then every address may be there).
            _ if rg.num_rows() == 0 => (u128::MAX, 0),
            _ => (0, u128::MAX),
        };
        filters.push(AddressFilter { bloom, min, max });
    }
    Ok(filters.try_into().ok())
}

/// The footer keys of the port sets, source then destination.
pub const PORT_KEYS: [&str; 2] = ["eddy.src_ports", "eddy.dst_ports"];

/// The footer key of the protocol set.
pub const PROTO_KEY: &str = "eddy.protos";

/// Which of the 65,536 values of a 16-bit column occur in a window (the
/// ports of one side, or the protocols): exact, so a filter can rule a
/// window out (`port 4444` over a week of windows reads only those where
/// some flow used 4444).
#[derive(Clone, PartialEq, Eq)]
pub struct ValueSet(Box<[u64; 1024]>);

impl Default for ValueSet {
    fn default() -> Self {
        ValueSet(Box::new([0; 1024]))
    }
}

impl std::fmt::Debug for ValueSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ValueSet({})", self.to_text())
    }
}

impl ValueSet {
    pub fn insert(&mut self, value: u16) {
        self.0[usize::from(value >> 6)] |= 1 << (value & 63);
    }

    pub fn contains(&self, value: u16) -> bool {
        self.0[usize::from(value >> 6)] & (1 << (value & 63)) != 0
    }

    /// Whether some value in `lo..=hi` occurs.
    pub fn any_in(&self, lo: u16, hi: u16) -> bool {
        if lo > hi {
            return false;
        }
        let (first, last) = (usize::from(lo >> 6), usize::from(hi >> 6));
        let from_lo = !0u64 << (lo & 63);
        let to_hi = !0u64 >> (63 - (hi & 63));
        if first == last {
            return self.0[first] & from_lo & to_hi != 0;
        }
        self.0[first] & from_lo != 0
            || self.0[first + 1..last].iter().any(|&w| w != 0)
            || self.0[last] & to_hi != 0
    }

    /// The set as text for the summary's footer: the runs of values, as
    /// `a-b,c,...` (`-` alone for none).
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let mut value = 0u32;
        while value < 65_536 {
            if !self.contains(value as u16) {
                value += 1;
                continue;
            }
            let start = value;
            while value < 65_536 && self.contains(value as u16) {
                value += 1;
            }
            if !out.is_empty() {
                out.push(',');
            }
            match value - 1 == start {
                true => out.push_str(&start.to_string()),
                false => out.push_str(&format!("{start}-{}", value - 1)),
            }
        }
        if out.is_empty() {
            out.push('-');
        }
        out
    }

    /// The set from [`Self::to_text`]'s text; None if it is not such text.
    pub fn from_text(text: &str) -> Option<ValueSet> {
        let mut set = ValueSet::default();
        if text == "-" {
            return Some(set);
        }
        for run in text.split(',') {
            let (lo, hi) = match run.split_once('-') {
                Some((a, b)) => (a.parse::<u16>().ok()?, b.parse::<u16>().ok()?),
                None => {
                    let p = run.parse::<u16>().ok()?;
                    (p, p)
                }
            };
            if lo > hi {
                return None;
            }
            (lo..=hi).for_each(|p| set.insert(p));
        }
        Some(set)
    }
}

fn port_sets_of(path: &Path, kv: Option<&Vec<KeyValue>>) -> Result<Option<[ValueSet; 2]>, Error> {
    let (Some(src), Some(dst)) = (
        value_set_of(path, kv, PORT_KEYS[0])?,
        value_set_of(path, kv, PORT_KEYS[1])?,
    ) else {
        return Ok(None);
    };
    Ok(Some([src, dst]))
}

/// The set under footer key `key`; None if the footer has no such key.
fn value_set_of(
    path: &Path,
    kv: Option<&Vec<KeyValue>>,
    key: &str,
) -> Result<Option<ValueSet>, Error> {
    let Some(text) = kv
        .and_then(|kv| kv.iter().find(|e| e.key == key))
        .and_then(|e| e.value.as_deref())
    else {
        return Ok(None);
    };
    ValueSet::from_text(text).map(Some).ok_or_else(|| {
        Error::config(format!(
            "{}: {key} is not a list of numbers",
            path.display()
        ))
    })
}

/// The summary of the flows file `flows`, opened; None if it has none.
fn open_summary(flows: &Path) -> Result<Option<(PathBuf, File)>, Error> {
    let Some(path) = summary_path(flows) else {
        return Ok(None);
    };
    match File::open(&path) {
        Ok(f) => Ok(Some((path, f))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("opening", &path, e)),
    }
}

/// The counters of one group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Counters {
    flows: u64,
    packets: u64,
    bytes: u64,
    first: i64,
    last: i64,
}

impl Counters {
    fn add(&mut self, o: &Counters) {
        self.flows += o.flows;
        self.packets = self.packets.saturating_add(o.packets);
        self.bytes = self.bytes.saturating_add(o.bytes);
        self.first = self.first.min(o.first);
        self.last = self.last.max(o.last);
    }
}

/// Address (as a big-endian integer, in two halves so that a map entry
/// is 8-byte aligned and one 64-byte line), protocol, TCP flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct GroupKey {
    hi: u64,
    lo: u64,
    proto: u8,
    flags: u8,
}

impl GroupKey {
    fn addr(&self) -> u128 {
        (u128::from(self.hi) << 64) | u128::from(self.lo)
    }
}

/// A window's summary being added up, one table per cut.
#[derive(Default)]
pub struct Summary {
    cuts: [Table; 2],
    /// Keyed by proto, ports (in `lo`) and flags; the flags are ORed when
    /// the summary is written.
    port_cut: Table,
    /// Whether some flow's `first` or `last` is not a whole millisecond.
    sub_ms_times: bool,
    /// The ports of each side (source, destination).
    ports: [ValueSet; 2],
    /// The protocols.
    protos: ValueSet,
    /// Each row's key hash, reused from batch to batch.
    hashes: Vec<u64>,
}

/// One group in a [`Table`]: one cache line (24 bytes of key, 40 of
/// counters). An empty slot is one whose flow count is 0, since every
/// group holds at least one flow; a `used` flag of its own made a slot 72
/// bytes, so that most straddled two lines and a probe missed twice.
#[derive(Clone, Copy, Debug)]
#[repr(C, align(64))]
struct Slot {
    key: GroupKey,
    counters: Counters,
}

const _: () = assert!(std::mem::size_of::<Slot>() == 64);

impl Slot {
    fn used(&self) -> bool {
        self.counters.flows != 0
    }
}

const EMPTY: Slot = Slot {
    key: GroupKey {
        hi: 0,
        lo: 0,
        proto: 0,
        flags: 0,
    },
    counters: Counters {
        flows: 0,
        packets: 0,
        bytes: 0,
        first: 0,
        last: 0,
    },
};

/// An open-addressing table of groups (linear probing, at most half
/// full) that can be asked ahead for a hash's slot. A window has about
/// a tenth as many groups as flows, a few megabytes of them: with
/// `HashMap` nearly every row's lookup missed the cache (the collector
/// spent 190 ns a row on the two cuts); asking for the slot 16 rows ahead
/// hides the miss.
struct Table {
    slots: Vec<Slot>,
    len: usize,
    hasher: foldhash::fast::RandomState,
}

impl Default for Table {
    fn default() -> Table {
        Table {
            slots: vec![EMPTY; 1 << 12],
            len: 0,
            hasher: foldhash::fast::RandomState::default(),
        }
    }
}

/// How many rows ahead a slot is asked for.
const AHEAD: usize = 16;

impl Table {
    fn hash(&self, key: &GroupKey) -> u64 {
        use std::hash::BuildHasher;
        self.hasher.hash_one(key)
    }

    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    fn prefetch(&self, hash: u64) {
        let slot = &self.slots[hash as usize & self.mask()];
        record::text::prefetch((slot as *const Slot).cast());
    }

    /// Adds `c` to the group of `key` (whose hash is `hash`).
    fn add(&mut self, key: GroupKey, hash: u64, c: &Counters) {
        let mask = self.mask();
        let mut i = hash as usize & mask;
        loop {
            let slot = &mut self.slots[i];
            if !slot.used() {
                debug_assert!(c.flows != 0, "a group of no flows would read as empty");
                *slot = Slot { key, counters: *c };
                self.len += 1;
                if self.len * 2 > self.slots.len() {
                    self.grow();
                }
                return;
            }
            if slot.key == key {
                slot.counters.add(c);
                return;
            }
            i = (i + 1) & mask;
        }
    }

    fn grow(&mut self) {
        let bigger = vec![EMPTY; self.slots.len() * 2];
        let old = std::mem::replace(&mut self.slots, bigger);
        self.len = 0;
        for s in old.iter().filter(|s| s.used()) {
            let h = self.hash(&s.key);
            self.add(s.key, h, &s.counters);
        }
    }

    fn groups(&self) -> impl Iterator<Item = (&GroupKey, &Counters)> {
        self.slots
            .iter()
            .filter(|s| s.used())
            .map(|s| (&s.key, &s.counters))
    }
}

/// Sorted rows with each run of rows that `same` calls equal added up into
/// its first row, the flags ORed.
fn merge_runs(
    rows: impl IntoIterator<Item = (GroupKey, Counters)>,
    same: impl Fn(&GroupKey, &GroupKey) -> bool,
) -> Vec<(GroupKey, Counters)> {
    let mut out: Vec<(GroupKey, Counters)> = Vec::new();
    for (k, c) in rows {
        match out.last_mut() {
            Some((l, g)) if same(l, &k) => {
                l.flags |= k.flags;
                g.add(&c);
            }
            _ => out.push((k, c)),
        }
    }
    out
}

/// Adds each of `rows` rows' `flow` to `cut` under its `key`, the slot of
/// the row `AHEAD` rows on asked for first (`hashes` is scratch).
fn add_rows(
    cut: &mut Table,
    hashes: &mut Vec<u64>,
    rows: usize,
    key: impl Fn(usize) -> GroupKey,
    flow: impl Fn(usize) -> Counters,
) {
    hashes.clear();
    hashes.extend((0..rows).map(|row| cut.hash(&key(row))));
    for row in 0..rows {
        if let Some(&ahead) = hashes.get(row + AHEAD) {
            cut.prefetch(ahead);
        }
        cut.add(key(row), hashes[row], &flow(row));
    }
}

/// The Arrow schema of a summary file whose times are in `unit`.
pub fn summary_schema(unit: TimeUnit) -> SchemaRef {
    let field = |name: &str, nullable: bool| {
        let t = match name {
            "first" | "last" => DataType::Timestamp(unit, Some("UTC".into())),
            _ => schema::column_type(name).expect("a flow column"),
        };
        Field::new(name, t, nullable)
    };
    Arc::new(Schema::new(vec![
        field("src_ip", true),
        field("dst_ip", true),
        field("proto", false),
        field("tcp_flags", false),
        Field::new("flows", DataType::UInt64, false),
        field("packets", false),
        field("bytes", false),
        field("first", false),
        field("last", false),
        field("src_port", true),
        field("dst_port", true),
    ]))
}

/// The summary file of the flows file at `flows` (`flows.X.parquet` ->
/// `summary.X.parquet` in the same folder); None for other names.
pub fn summary_path(flows: &Path) -> Option<PathBuf> {
    let name = flows.file_name()?.to_str()?;
    let rest = name.strip_prefix("flows.")?;
    Some(flows.with_file_name(format!("summary.{rest}")))
}

/// Whether `name` is a summary file's (readers of flows skip them).
pub fn is_summary_name(name: &str) -> bool {
    name.starts_with("summary.") && name.ends_with(".parquet")
}

impl Summary {
    pub fn new() -> Summary {
        Summary::default()
    }

    /// Adds the flows of `batch` (flow layout: it must hold the
    /// [`FLOW_COLUMNS`]).
    pub fn add(&mut self, batch: &RecordBatch) -> Result<(), ArrowError> {
        let addr = |name: &str| {
            column(batch, name)?
                .as_fixed_size_binary_opt()
                .ok_or_else(|| wrong_type(name))
        };
        let addrs = [addr("src_ip")?, addr("dst_ip")?];
        let u8s = |name| values::<UInt8Type>(batch, name);
        let u64s = |name| values::<UInt64Type>(batch, name);
        let times = |name| values::<TimestampNanosecondType>(batch, name);
        let (proto, flags) = (u8s("proto")?, u8s("tcp_flags")?);
        proto.iter().for_each(|&p| self.protos.insert(u16::from(p)));
        let (packets, bytes) = (u64s("packets")?, u64s("bytes")?);
        let (first, last) = (times("first")?, times("last")?);
        if !self.sub_ms_times {
            self.sub_ms_times = first.iter().chain(last).any(|&t| t % NANOS_PER_MS != 0);
        }
        for (set, name) in self.ports.iter_mut().zip(["src_port", "dst_port"]) {
            values::<UInt16Type>(batch, name)?
                .iter()
                .for_each(|&p| set.insert(p));
        }
        let rows = batch.num_rows();
        let flow = |row: usize| Counters {
            flows: 1,
            packets: packets[row],
            bytes: bytes[row],
            first: first[row],
            last: last[row],
        };
        for (cut, addrs) in self.cuts.iter_mut().zip(addrs) {
            if addrs.value_length() != 16 {
                return Err(ArrowError::SchemaError(
                    "summary: addresses are not 16 bytes".into(),
                ));
            }
            let key = |row: usize| {
                let mut a = [0u8; 16];
                a.copy_from_slice(addrs.value(row));
                let addr = u128::from_be_bytes(a);
                GroupKey {
                    hi: (addr >> 64) as u64,
                    lo: addr as u64,
                    proto: proto[row],
                    flags: flags[row],
                }
            };
            add_rows(cut, &mut self.hashes, rows, key, flow);
        }
        let (src_ports, dst_ports) = (
            values::<UInt16Type>(batch, "src_port")?,
            values::<UInt16Type>(batch, "dst_port")?,
        );
        let key = |row: usize| GroupKey {
            hi: 0,
            lo: u64::from(src_ports[row]) << 16 | u64::from(dst_ports[row]),
            proto: proto[row],
            flags: flags[row],
        };
        add_rows(&mut self.port_cut, &mut self.hashes, rows, key, flow);
        Ok(())
    }

    /// The unit of the summary's times: milliseconds when every flow's
    /// times are whole milliseconds (as IPFIX and NetFlow exporters send
    /// them), else nanoseconds.
    pub fn time_unit(&self) -> TimeUnit {
        match self.sub_ms_times {
            true => TimeUnit::Nanosecond,
            false => TimeUnit::Millisecond,
        }
    }

    /// One batch per row group (see [`row_group`] and [`PORT_CUT_START`]),
    /// rows in key order, times in [`Self::time_unit`].
    pub fn batches(&self) -> Result<Vec<RecordBatch>, ArrowError> {
        let unit = self.time_unit();
        let mut fine = Vec::with_capacity(CUTS.len());
        let mut coarse = Vec::with_capacity(CUTS.len());
        for (side, cut) in self.cuts.iter().enumerate() {
            let mut rows: Vec<(GroupKey, Counters)> = cut.groups().map(|(k, c)| (*k, *c)).collect();
            rows.sort_unstable_by_key(|(k, _)| *k);
            fine.push(cut_batch(CutKind::Address(side), &rows, unit)?);
            // By address alone: the sorted rows of an address run together.
            let by_addr = merge_runs(
                rows.iter().map(|(k, c)| (GroupKey { proto: 0, ..*k }, *c)),
                |a, b| a.addr() == b.addr(),
            );
            coarse.push(cut_batch(CutKind::Address(side), &by_addr, unit)?);
        }
        fine.extend(coarse);
        fine.extend(self.port_batches(unit)?);
        Ok(fine)
    }

    /// The port cut: (proto, destination port, source port) order, flags
    /// ORed, one batch per protocol.
    fn port_batches(&self, unit: TimeUnit) -> Result<Vec<RecordBatch>, ArrowError> {
        let ports = |k: &GroupKey| (k.proto, k.lo as u16, (k.lo >> 16) as u16);
        let mut rows: Vec<(GroupKey, Counters)> =
            self.port_cut.groups().map(|(k, c)| (*k, *c)).collect();
        rows.sort_unstable_by_key(|(k, _)| (ports(k), k.flags));
        merge_runs(rows, |a, b| ports(a) == ports(b))
            .chunk_by(|a, b| a.0.proto == b.0.proto)
            .map(|rows| cut_batch(CutKind::Ports, rows, unit))
            .collect()
    }

    /// Writes the summary to `path` (under a temporary name, synced, then
    /// renamed), one row group per address cut and per protocol of the
    /// port cut.
    pub fn write(&self, path: &Path) -> Result<(), Error> {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| Error::config(format!("summary path {}", path.display())))?;
        let temp = path.with_file_name(temp_name(name));
        let batches = self
            .batches()
            .map_err(|e| Error::parquet("summing up", path, e))?;
        // Dictionaries everywhere made the smallest files (measured with
        // the two finer cuts alone: 2.26 MB for the bench window's 214k
        // groups, 2.95 MB without dictionaries for addresses, times and
        // bytes), and a window's summary is written once.
        let mut props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(
                ZstdLevel::try_new(1).expect("a valid level"),
            ))
            .set_statistics_enabled(EnabledStatistics::Chunk)
            .set_created_by(format!("eddy {}", env!("CARGO_PKG_VERSION")));
        // Bloom filters on the addresses, kept only for the address-only
        // cuts (see `address_filter_column`), folded down to the target
        // rate for what was put in.
        // Sized for the addresses there are (the address-only cuts' rows),
        // so that no filter is made larger than it needs and folded back.
        let addresses = (0..CUTS.len())
            .map(|side| batches[row_group(side, false)].num_rows())
            .max()
            .unwrap_or(0)
            .max(1) as u64;
        for column in CUTS {
            props = props
                .set_column_bloom_filter_max_ndv(ColumnPath::from(column), addresses)
                .set_column_bloom_filter_fpp(ColumnPath::from(column), ADDRESS_FILTER_FPP);
        }
        let file = File::create(&temp).map_err(|e| Error::io("creating", &temp, e))?;
        let schema = summary_schema(self.time_unit());
        let writer = ArrowWriter::try_new(file, schema.clone(), Some(props.build()))
            .and_then(ArrowWriter::into_serialized_writer)
            .map_err(|e| Error::parquet("starting", &temp, e))?;
        let (mut writer, factory) = writer;
        for (rg, batch) in batches.iter().enumerate() {
            let keep_filter = address_filter_column(rg);
            let mut columns = factory
                .create_column_writers(rg)
                .map_err(|e| Error::parquet("writing", &temp, e))?;
            let mut row_group = writer
                .next_row_group()
                .map_err(|e| Error::parquet("writing", &temp, e))?;
            for (c, (column, field)) in columns.iter_mut().zip(schema.fields()).enumerate() {
                for leaf in compute_leaves(field, batch.column(c))
                    .map_err(|e| Error::parquet("writing", &temp, e))?
                {
                    column
                        .write(&leaf)
                        .map_err(|e| Error::parquet("writing", &temp, e))?;
                }
            }
            for (c, column) in columns.into_iter().enumerate() {
                let mut chunk = column
                    .close()
                    .map_err(|e| Error::parquet("writing", &temp, e))?;
                if keep_filter != Some(c) {
                    chunk.close_mut().bloom_filter = None;
                }
                chunk
                    .append_to_row_group(&mut row_group)
                    .map_err(|e| Error::parquet("writing", &temp, e))?;
            }
            row_group
                .close()
                .map_err(|e| Error::parquet("writing", &temp, e))?;
        }
        for (key, set) in PORT_KEYS.iter().zip(&self.ports) {
            writer.append_key_value_metadata(KeyValue::new(key.to_string(), set.to_text()));
        }
        writer
            .append_key_value_metadata(KeyValue::new(PROTO_KEY.to_string(), self.protos.to_text()));
        let file = writer
            .into_inner()
            .map_err(|e| Error::parquet("closing", &temp, e))?;
        file.sync_all()
            .map_err(|e| Error::io("syncing", &temp, e))?;
        drop(file);
        std::fs::rename(&temp, path).map_err(|e| Error::io("renaming into place", path, e))
    }
}

/// The column `name` of a flow batch.
fn column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a ArrayRef, ArrowError> {
    batch
        .column_by_name(name)
        .ok_or_else(|| ArrowError::SchemaError(format!("summary: no column {name}")))
}

fn wrong_type(name: &str) -> ArrowError {
    ArrowError::SchemaError(format!("summary: column {name} has the wrong type"))
}

/// The values of the primitive column `name` of a flow batch.
fn values<'a, T: ArrowPrimitiveType>(
    batch: &'a RecordBatch,
    name: &str,
) -> Result<&'a [T::Native], ArrowError> {
    column(batch, name)?
        .as_primitive_opt::<T>()
        .map(|a| a.values().as_ref())
        .ok_or_else(|| wrong_type(name))
}

/// Which cut a batch of rows belongs to.
#[derive(Clone, Copy)]
enum CutKind {
    /// Side `i`'s address cuts: the address in the key's `hi` and `lo`.
    Address(usize),
    /// The port cut: the source port in bits 16-31 of the key's `lo`, the
    /// destination port below.
    Ports,
}

/// Sorted rows of one cut as a batch, times in `unit` (nanoseconds or
/// milliseconds).
fn cut_batch(
    kind: CutKind,
    rows: &[(GroupKey, Counters)],
    unit: TimeUnit,
) -> Result<RecordBatch, ArrowError> {
    let n = rows.len();
    let addrs = || -> ArrayRef {
        Arc::new(
            FixedSizeBinaryArray::try_from_iter(rows.iter().map(|(k, _)| k.addr().to_be_bytes()))
                .unwrap_or_else(|_| FixedSizeBinaryArray::new_null(16, 0)),
        )
    };
    let no_addrs = || -> ArrayRef { Arc::new(FixedSizeBinaryArray::new_null(16, n)) };
    let ports = |shift: u32| -> ArrayRef {
        Arc::new(UInt16Array::from_iter_values(
            rows.iter().map(|(k, _)| (k.lo >> shift) as u16),
        ))
    };
    let no_ports = || -> ArrayRef { Arc::new(UInt16Array::new_null(n)) };
    let (src, dst, src_port, dst_port) = match kind {
        CutKind::Address(0) => (addrs(), no_addrs(), no_ports(), no_ports()),
        CutKind::Address(_) => (no_addrs(), addrs(), no_ports(), no_ports()),
        CutKind::Ports => (no_addrs(), no_addrs(), ports(16), ports(0)),
    };
    let u64s = |f: fn(&Counters) -> u64| -> ArrayRef {
        Arc::new(UInt64Array::from_iter_values(
            rows.iter().map(|(_, c)| f(c)),
        ))
    };
    let times = |f: fn(&Counters) -> i64| -> ArrayRef {
        let values = rows.iter().map(|(_, c)| f(c));
        match unit {
            TimeUnit::Millisecond => Arc::new(
                TimestampMillisecondArray::from_iter_values(values.map(|t| t / NANOS_PER_MS))
                    .with_timezone("UTC"),
            ),
            _ => Arc::new(TimestampNanosecondArray::from_iter_values(values).with_timezone("UTC")),
        }
    };
    let columns: Vec<ArrayRef> = vec![
        src,
        dst,
        Arc::new(UInt8Array::from_iter_values(
            rows.iter().map(|(k, _)| k.proto),
        )),
        Arc::new(UInt8Array::from_iter_values(
            rows.iter().map(|(k, _)| k.flags),
        )),
        u64s(|c| c.flows),
        u64s(|c| c.packets),
        u64s(|c| c.bytes),
        times(|c| c.first),
        times(|c| c.last),
        src_port,
        dst_port,
    ];
    RecordBatch::try_new(summary_schema(unit), columns)
}

/// Writes the summary of the flows file at `flows` from its rows (for
/// stores written before summaries, `eddy store summarize`); returns the
/// summary's path.
pub fn summarize_file(flows: &Path) -> Result<PathBuf, Error> {
    let path = summary_path(flows)
        .ok_or_else(|| Error::config(format!("{} is not a flows file", flows.display())))?;
    let file = File::open(flows).map_err(|e| Error::io("opening", flows, e))?;
    let builder =
        ParquetRecordBatchReaderBuilder::try_new_with_options(file, crate::reader_options())
            .map_err(|e| Error::parquet("reading", flows, e))?;
    let mask = ProjectionMask::columns(builder.parquet_schema(), FLOW_COLUMNS);
    let reader = builder
        .with_projection(mask)
        .with_batch_size(64 * 1024)
        .build()
        .map_err(|e| Error::parquet("reading", flows, e))?;
    let mut summary = Summary::new();
    for batch in reader {
        let batch = batch.map_err(|e| Error::parquet("reading", flows, e))?;
        summary
            .add(&batch)
            .map_err(|e| Error::parquet("summing up", flows, e))?;
    }
    summary.write(&path)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_adds_up_as_a_map_does_while_it_grows() {
        let mut table = Table::default();
        let mut want = std::collections::BTreeMap::new();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for i in 0..60_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let key = GroupKey {
                hi: x % 3,
                lo: x % 9_000,
                proto: (x % 2) as u8 * 11,
                flags: (x % 5) as u8,
            };
            let c = Counters {
                flows: 1,
                packets: i,
                bytes: x % 1000,
                first: (x % 77) as i64,
                last: (x % 99) as i64,
            };
            let h = table.hash(&key);
            table.add(key, h, &c);
            let e = want.entry(key).or_insert(Counters {
                flows: 0,
                packets: 0,
                bytes: 0,
                first: i64::MAX,
                last: i64::MIN,
            });
            e.flows += 1;
            e.packets += c.packets;
            e.bytes += c.bytes;
            e.first = e.first.min(c.first);
            e.last = e.last.max(c.last);
        }
        assert!(want.len() > 1 << 12, "the table grew");
        let got: std::collections::BTreeMap<GroupKey, Counters> =
            table.groups().map(|(k, c)| (*k, *c)).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn summary_names_follow_the_flows_file() {
        let p = Path::new("/s/src/2026/01/01/flows.202601010005.parquet");
        assert_eq!(
            summary_path(p).unwrap(),
            Path::new("/s/src/2026/01/01/summary.202601010005.parquet")
        );
        let p = Path::new("/s/flows.202601010005.2.parquet");
        assert_eq!(
            summary_path(p).unwrap(),
            Path::new("/s/summary.202601010005.2.parquet")
        );
        assert!(summary_path(Path::new("/s/other.parquet")).is_none());
        assert!(is_summary_name("summary.202601010005.parquet"));
        assert!(!is_summary_name("flows.202601010005.parquet"));
    }
}
