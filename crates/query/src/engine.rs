//! The query engine: DataFusion over the store's Parquet files.
//!
//! Every query reads the files it is given with the flow schema
//! ([`schema::flow_schema`], so a file that lacks a newer nullable column
//! reads it as null), filters with the lowered filter (pushed into the
//! Parquet scan: row groups and pages whose statistics exclude it are
//! skipped, and only the columns the query names are decoded), and runs
//! on every core. Aggregations run under a memory pool with spilling to a
//! temporary folder, and top-N sorts keep only N rows, so statistics over
//! millions of distinct keys stay within a bounded memory.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, Decimal128Array, FixedSizeBinaryArray, RecordBatch, UInt64Array,
};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use datafusion::dataframe::DataFrame;
use datafusion::error::DataFusionError;
use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::functions_aggregate::expr_fn::{count, max, min, sum};
use datafusion::logical_expr::{
    cast, create_udf, lit, when, ColumnarValue, Expr as DfExpr, SortExpr, Volatility,
};
use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};
use futures::StreamExt;

use crate::lower::column;

/// A query error: DataFusion's, an I/O error, or a bad argument, with context.
#[derive(Debug)]
pub struct Error(pub String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl From<DataFusionError> for Error {
    fn from(e: DataFusionError) -> Self {
        Error(format!("query engine: {e}"))
    }
}

impl From<datafusion::arrow::error::ArrowError> for Error {
    fn from(e: datafusion::arrow::error::ArrowError) -> Self {
        Error(format!("arrow: {e}"))
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// Engine settings.
#[derive(Clone, Debug)]
pub struct Config {
    /// Worker threads (0: every core).
    pub threads: usize,
    /// Memory the engine may hold for aggregations and sorts before it
    /// spills to disk, in bytes.
    pub memory_limit: usize,
    /// Where spills go (default: the system's temporary folder).
    pub spill_dir: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            threads: 0,
            memory_limit: 2 << 30,
            spill_dir: None,
        }
    }
}

/// A DataFusion session and the runtime it runs on.
pub struct Engine {
    rt: tokio::runtime::Runtime,
    ctx: SessionContext,
    threads: usize,
}

/// Totals over the selected flows (nfdump's summary line).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub flows: u64,
    pub packets: u64,
    pub bytes: u64,
    /// Earliest `first` and latest `last`, ns since the epoch (0 when no flows).
    pub first_ns: u64,
    pub last_ns: u64,
}

/// One ordering key for listings, `-A` and `-s`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    Flows,
    Packets,
    Bytes,
    Pps,
    Bps,
    Bpp,
    Tstart,
    Tend,
    Duration,
}

impl Order {
    pub fn parse(s: &str) -> Option<Order> {
        Some(match s.to_ascii_lowercase().as_str() {
            "flows" => Order::Flows,
            "packets" | "ipkg" => Order::Packets,
            "bytes" | "ibyte" => Order::Bytes,
            "pps" | "ipps" => Order::Pps,
            "bps" | "ibps" => Order::Bps,
            "bpp" | "ibpp" => Order::Bpp,
            "tstart" => Order::Tstart,
            "tend" => Order::Tend,
            "duration" => Order::Duration,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Order::Flows => "flows",
            Order::Packets => "packets",
            Order::Bytes => "bytes",
            Order::Pps => "pps",
            Order::Bps => "bps",
            Order::Bpp => "bpp",
            Order::Tstart => "tstart",
            Order::Tend => "tend",
            Order::Duration => "duration",
        }
    }

    /// The sort over aggregated columns `flows, packets, bytes, first, last`
    /// (or a plain record's, where `flows` is 1): largest first, except
    /// times, earliest first.
    fn sort(self) -> SortExpr {
        let duration = crate::lower::duration();
        let e = match self {
            Order::Flows => column("flows"),
            Order::Packets => column("packets"),
            Order::Bytes => column("bytes"),
            Order::Pps => per_ms(column("packets"), 1000, duration),
            Order::Bps => per_ms(column("bytes"), 8000, duration),
            Order::Bpp => when(column("packets").eq(lit(0u64)), lit(0u64))
                .otherwise(column("bytes") / column("packets"))
                .unwrap_or(lit(0u64)),
            Order::Tstart => column("first"),
            Order::Tend => column("last"),
            Order::Duration => duration,
        };
        let asc = matches!(self, Order::Tstart | Order::Tend);
        e.sort(asc, false)
    }
}

fn per_ms(count: DfExpr, scale: u64, duration_ms: DfExpr) -> DfExpr {
    when(duration_ms.clone().eq(lit(0u64)), lit(0u64))
        .otherwise(count * lit(scale) / duration_ms)
        .unwrap_or(lit(0u64))
}

/// A grouping key of `-s` and `-A`: a column, or an address column masked
/// as nfdump's `srcip4/N` (`v4`) or `srcip6/N` does.
///
/// nfdump keeps IPv4 in the low 32 bits of its 128-bit address, and masks
/// the whole address: a `/N` IPv4 mask masks only the low 32 bits of an
/// IPv6 address; a `/N` IPv6 mask
/// turns every IPv4 address into 0.0.0.0 (for N up to 96). eddy does the
/// same on its IPv4-mapped addresses, so the groups are nfdump's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Key {
    Column(String),
    Masked { column: String, bits: u8, v4: bool },
}

impl Key {
    /// `int_addrs`: addresses as 128-bit integer keys (faster to group on,
    /// measured: `-s srcip` over 30 M flows 3.4 s -> 2.3 s; but slower
    /// through the union of `-s ip`, so not there).
    fn expr(&self, alias: &str, int_addrs: bool) -> DfExpr {
        match self {
            Key::Column(c)
                if int_addrs && matches!(c.as_str(), "src_ip" | "dst_ip" | "exporter") =>
            {
                addr_key_udf(None).call(vec![column(c)]).alias(alias)
            }
            Key::Column(c) => column(c).alias(alias),
            Key::Masked {
                column: c,
                bits,
                v4,
            } => mask_udf(*bits, *v4).call(vec![column(c)]).alias(alias),
        }
    }

    pub fn column(&self) -> &str {
        match self {
            Key::Column(c) => c,
            Key::Masked { column, .. } => column,
        }
    }
}

/// The masking function of a [`Key::Masked`].
fn mask_udf(bits: u8, v4: bool) -> datafusion::logical_expr::ScalarUDF {
    addr_key_udf(Some((bits, v4)))
}

/// An address as a grouping key: the 16 bytes (masked when `mask` is
/// given) as a 128-bit integer with the sign bit flipped, so that integer
/// order is address order. DataFusion groups on such primitive keys much
/// faster than on 16-byte binaries; [`key_addr`] turns a key back.
fn addr_key_udf(mask: Option<(u8, bool)>) -> datafusion::logical_expr::ScalarUDF {
    let apply = move |b: &[u8]| -> i128 {
        let mut a = [0u8; 16];
        if b.len() == 16 {
            a.copy_from_slice(b);
        }
        if let Some((bits, v4)) = mask {
            a = mask_addr(a, bits, v4);
        }
        (u128::from_be_bytes(a) ^ (1u128 << 127)) as i128
    };
    let f = move |args: &[ColumnarValue]| -> std::result::Result<ColumnarValue, DataFusionError> {
        match args.first() {
            Some(ColumnarValue::Array(arr)) => {
                let a = arr
                    .as_any()
                    .downcast_ref::<FixedSizeBinaryArray>()
                    .ok_or_else(|| {
                        DataFusionError::Internal("address key: not an address".into())
                    })?;
                let out: Decimal128Array = (0..a.len())
                    .map(|i| (!a.is_null(i)).then(|| apply(a.value(i))))
                    .collect();
                let out = out.with_precision_and_scale(38, 0)?;
                Ok(ColumnarValue::Array(Arc::new(out) as ArrayRef))
            }
            Some(ColumnarValue::Scalar(ScalarValue::FixedSizeBinary(16, v))) => Ok(
                ColumnarValue::Scalar(ScalarValue::Decimal128(v.as_ref().map(|b| apply(b)), 38, 0)),
            ),
            _ => Err(DataFusionError::Internal(
                "address key: not an address".into(),
            )),
        }
    };
    let name = match mask {
        Some((bits, v4)) => format!("addr_key_{}_{bits}", if v4 { "v4" } else { "v6" }),
        None => "addr_key".to_string(),
    };
    create_udf(
        &name,
        vec![DataType::FixedSizeBinary(16)],
        DataType::Decimal128(38, 0),
        Volatility::Immutable,
        Arc::new(f),
    )
}

/// The address of a grouping key made by [`addr_key_udf`].
pub fn key_addr(v: &ScalarValue) -> Option<std::net::Ipv6Addr> {
    match v {
        ScalarValue::Decimal128(Some(x), _, _) => {
            Some(std::net::Ipv6Addr::from((*x as u128) ^ (1u128 << 127)))
        }
        ScalarValue::FixedSizeBinary(16, Some(b)) => {
            let a: [u8; 16] = b.as_slice().try_into().ok()?;
            Some(std::net::Ipv6Addr::from(a))
        }
        _ => None,
    }
}

/// nfdump's masking of a (mapped) address; see [`Key`].
pub fn mask_addr(a: [u8; 16], bits: u8, v4: bool) -> [u8; 16] {
    let x = u128::from_be_bytes(a);
    let mapped = x >> 32 == 0xffff;
    let out = match (v4, mapped) {
        (true, true) => x & (prefix_mask(96 + bits.min(32))),
        (true, false) => x & (u128::MAX << 32 | (prefix_mask(96 + bits.min(32)) & 0xffff_ffff)),
        (false, true) => {
            // nfdump's IPv4 address is the low 32 bits of zeros: a mask
            // longer than 96 bits keeps part of it.
            let low = x & 0xffff_ffff;
            0xffff_u128 << 32 | (low & prefix_mask(bits.min(128)))
        }
        (false, false) => x & prefix_mask(bits.min(128)),
    };
    out.to_be_bytes()
}

fn prefix_mask(len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        u128::MAX << (128 - len.min(128) as u32)
    }
}

/// One group of a `-s` or `-A` result: the key values (Arrow scalars, in
/// key order), the counters and the time span.
#[derive(Clone, Debug)]
pub struct Group {
    pub keys: Vec<ScalarValue>,
    pub flows: u64,
    pub packets: u64,
    pub bytes: u64,
    pub first_ns: u64,
    pub last_ns: u64,
    /// OR of the TCP flags (for `-A`).
    pub tcp_flags: u8,
}

impl Engine {
    pub fn new(config: &Config) -> Result<Engine> {
        let threads = if config.threads == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            config.threads
        };
        // DataFusion reads files through object_store, which does each read
        // on tokio's blocking pool. With the pool's default (up to 512
        // threads, started as reads come) a query over 60 windows ran on 43
        // threads; each thread's reads filled its own allocator heap, freed
        // elsewhere and given back, so buffers landed on fresh pages: a
        // fifth of `host X`'s time was the kernel zeroing them. Two per
        // worker keep the heaps few and warm (BENCHMARKS.md).
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .max_blocking_threads(2 * threads)
            .thread_name("eddy-query")
            .build()
            .map_err(|e| Error(format!("starting the query runtime: {e}")))?;
        let mut cfg = SessionConfig::new().with_target_partitions(threads);
        {
            let o = cfg.options_mut();
            o.execution.parquet.pushdown_filters = true;
            o.execution.parquet.reorder_filters = true;
            o.execution.parquet.schema_force_view_types = false;
            o.execution.parquet.pruning = true;
            o.execution.parquet.enable_page_index = true;
        }
        let mut rtb = RuntimeEnvBuilder::new()
            .with_memory_pool(Arc::new(FairSpillPool::new(config.memory_limit)));
        if let Some(d) = &config.spill_dir {
            rtb = rtb.with_temp_file_path(d.clone());
        }
        let runtime = rtb.build_arc()?;
        let ctx = SessionContext::new_with_config_rt(cfg, runtime);
        Ok(Engine { rt, ctx, threads })
    }

    pub fn threads(&self) -> usize {
        self.threads
    }

    /// The files as one table, filtered.
    fn scan(&self, files: &[PathBuf], filter: &DfExpr) -> Result<DataFrame> {
        let schema = schema::flow_schema();
        let paths: Vec<String> = files
            .iter()
            .map(|p| {
                let p = std::fs::canonicalize(p).unwrap_or_else(|_| p.clone());
                p.to_string_lossy().into_owned()
            })
            .collect();
        let opts = ParquetReadOptions {
            schema: Some(schema.as_ref()),
            ..Default::default()
        };
        let df = self.rt.block_on(self.ctx.read_parquet(paths, opts))?;
        Ok(df.filter(filter.clone())?)
    }

    /// Runs a DataFrame, calling `each` with every batch until it returns false.
    fn run(&self, df: DataFrame, mut each: impl FnMut(&RecordBatch) -> Result<bool>) -> Result<()> {
        self.rt.block_on(async {
            let mut stream = df.execute_stream().await?;
            while let Some(batch) = stream.next().await {
                if !each(&batch?)? {
                    break;
                }
            }
            Ok(())
        })
    }

    /// Totals of the flows that pass `filter`.
    pub fn totals(&self, files: &[PathBuf], filter: &DfExpr) -> Result<Totals> {
        if files.is_empty() {
            return Ok(Totals::default());
        }
        let df = self.scan(files, filter)?.aggregate(
            vec![],
            vec![
                count(lit(1u8)).alias("flows"),
                sum(column("packets")).alias("packets"),
                sum(column("bytes")).alias("bytes"),
                min(column("first")).alias("first"),
                max(column("last")).alias("last"),
            ],
        )?;
        let mut t = Totals::default();
        self.run(df, |b| {
            if b.num_rows() > 0 {
                t = Totals {
                    flows: u64_at(b.column(0), 0),
                    packets: u64_at(b.column(1), 0),
                    bytes: u64_at(b.column(2), 0),
                    first_ns: u64_at(b.column(3), 0),
                    last_ns: u64_at(b.column(4), 0),
                };
            }
            Ok(true)
        })?;
        Ok(t)
    }

    /// The flows that pass `filter`, as records, in `order` (flow start when
    /// none), at most `limit`. `columns` names the store columns to read
    /// (the filter's are read anyway); `None` reads all. `each` gets batches
    /// of records and returns false to stop.
    pub fn flows(
        &self,
        files: &[PathBuf],
        filter: &DfExpr,
        columns: Option<&[&str]>,
        order: Option<Order>,
        limit: Option<usize>,
        mut each: impl FnMut(Vec<record::FlowRecord>) -> Result<bool>,
    ) -> Result<()> {
        if files.is_empty() {
            return Ok(());
        }
        let mut df = self.scan(files, filter)?;
        if let Some(cols) = columns {
            let mut exprs: Vec<DfExpr> = cols.iter().map(|c| column(c)).collect();
            for needed in ["first", "last", "packets", "bytes"] {
                if !cols.contains(&needed) {
                    exprs.push(column(needed));
                }
            }
            df = df.select(exprs)?;
        }
        let sort = match order {
            None => column("first").sort(true, false),
            Some(Order::Flows) => column("first").sort(true, false),
            Some(o) => o.sort(),
        };
        df = df.sort(vec![sort])?;
        if let Some(n) = limit {
            df = df.limit(0, Some(n))?;
        }
        self.run(df, |b| {
            let recs = schema::records(b)?;
            each(recs)
        })
    }

    /// Groups the flows that pass `filter` by `keys` (each a list of
    /// alternatives: a flow counts once per alternative, so `[[src_ip],
    /// [dst_ip]]` is nfdump's `-s ip`), ordered by `order`, at most `limit`
    /// groups. Null keys are left out. `flags`: OR the TCP flags of each
    /// group (for `-A`; `-s` does not print them).
    pub fn groups(
        &self,
        files: &[PathBuf],
        filter: &DfExpr,
        alternatives: &[Vec<Key>],
        order: Order,
        limit: Option<usize>,
        flags: bool,
    ) -> Result<Groups> {
        if files.is_empty() || alternatives.is_empty() {
            return Ok(Groups::default());
        }
        let base = self.scan(files, filter)?;
        let nkeys = alternatives[0].len();
        let mut input: Option<DataFrame> = None;
        for alt in alternatives {
            let mut exprs: Vec<DfExpr> = alt
                .iter()
                .enumerate()
                .map(|(i, k)| k.expr(&format!("k{i}"), alternatives.len() == 1))
                .collect();
            for c in ["packets", "bytes", "first", "last"] {
                exprs.push(column(c));
            }
            exprs.push(if flags {
                column("tcp_flags")
            } else {
                lit(0u8).alias("tcp_flags")
            });
            let mut df = base.clone().select(exprs)?;
            for i in 0..alt.len() {
                df = df.filter(column(&format!("k{i}")).is_not_null())?;
            }
            input = Some(match input {
                None => df,
                Some(prev) => prev.union(df)?,
            });
        }
        let Some(input) = input else {
            return Ok(Groups::default());
        };
        let group_by: Vec<DfExpr> = (0..nkeys).map(|i| column(&format!("k{i}"))).collect();
        let df = input.aggregate(
            group_by,
            vec![
                count(lit(1u8)).alias("flows"),
                sum(column("packets")).alias("packets"),
                sum(column("bytes")).alias("bytes"),
                min(column("first")).alias("first"),
                max(column("last")).alias("last"),
                datafusion::functions_aggregate::expr_fn::bit_or(cast(
                    column("tcp_flags"),
                    DataType::UInt8,
                ))
                .alias("tcp_flags"),
            ],
        )?;
        // Every group streams out of the aggregation (which may spill); the
        // top N are kept here, so memory beyond the aggregation is N groups,
        // and the sums of all groups give the totals without a second scan.
        let mut exprs: Vec<DfExpr> = (0..nkeys).map(|i| column(&format!("k{i}"))).collect();
        exprs.push(cast(column("flows"), DataType::UInt64));
        exprs.push(cast(column("packets"), DataType::UInt64));
        exprs.push(cast(column("bytes"), DataType::UInt64));
        exprs.push(cast(
            cast(column("first"), DataType::Int64),
            DataType::UInt64,
        ));
        exprs.push(cast(
            cast(column("last"), DataType::Int64),
            DataType::UInt64,
        ));
        exprs.push(cast(column("tcp_flags"), DataType::UInt64));
        let df = df.select(exprs)?;
        let mut sink = GroupSink::new(order, limit);
        self.run(df, |b| {
            let col = |i: usize| -> Result<&UInt64Array> {
                b.column(i)
                    .as_any()
                    .downcast_ref::<UInt64Array>()
                    .ok_or_else(|| Error("aggregate column of an unexpected type".into()))
            };
            let (fl, pk, by, fi, la, tf) = (
                col(nkeys)?,
                col(nkeys + 1)?,
                col(nkeys + 2)?,
                col(nkeys + 3)?,
                col(nkeys + 4)?,
                col(nkeys + 5)?,
            );
            for row in 0..b.num_rows() {
                let g = Group {
                    keys: Vec::new(),
                    flows: fl.value(row),
                    packets: pk.value(row),
                    bytes: by.value(row),
                    first_ns: fi.value(row),
                    last_ns: la.value(row),
                    tcp_flags: (tf.value(row) & 0xff) as u8,
                };
                sink.offer(g, || {
                    (0..nkeys)
                        .map(|k| Ok(ScalarValue::try_from_array(b.column(k), row)?))
                        .collect()
                })?;
            }
            Ok(true)
        })?;
        Ok(sink.finish())
    }
}

/// One conversation of nfdump's `-b`: the flows of both directions of a
/// (proto, address:port, address:port), seen from the side that started
/// first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conversation {
    pub proto: u8,
    pub src: std::net::Ipv6Addr,
    pub src_port: u16,
    pub dst: std::net::Ipv6Addr,
    pub dst_port: u16,
    /// Source → destination ("In", as nfdump calls it).
    pub in_packets: u64,
    pub in_bytes: u64,
    /// Destination → source ("Out").
    pub out_packets: u64,
    pub out_bytes: u64,
    pub flows: u64,
    pub first_ns: u64,
    pub last_ns: u64,
}

impl Engine {
    /// nfdump's `-b`: the flows that pass `filter` joined by connection in
    /// both directions (biflow records' reverse counters go to the other
    /// direction), ordered by `order`, at most `limit`. The side whose
    /// flow started first is the source.
    pub fn conversations(
        &self,
        files: &[PathBuf],
        filter: &DfExpr,
        order: Order,
        limit: Option<usize>,
    ) -> Result<(Vec<Conversation>, Totals)> {
        if files.is_empty() {
            return Ok((Vec::new(), Totals::default()));
        }
        let (s, d, sp, dp) = (
            column("src_ip"),
            column("dst_ip"),
            column("src_port"),
            column("dst_port"),
        );
        // The key from the lower endpoint to the higher one.
        let fwd = s
            .clone()
            .lt(d.clone())
            .or(s.clone().eq(d.clone()).and(sp.clone().lt_eq(dp.clone())));
        let pick = |a: &DfExpr, b: &DfExpr| when(fwd.clone(), a.clone()).otherwise(b.clone());
        let rev = |c: &str| {
            datafusion::functions::expr_fn::coalesce(vec![
                cast(column(c), DataType::UInt64),
                lit(0u64),
            ])
        };
        let (pk, by) = (
            cast(column("packets"), DataType::UInt64),
            cast(column("bytes"), DataType::UInt64),
        );
        let df = self.scan(files, filter)?.select(vec![
            column("proto").alias("proto"),
            pick(&s, &d)?.alias("a_ip"),
            pick(&sp, &dp)?.alias("a_port"),
            pick(&d, &s)?.alias("b_ip"),
            pick(&dp, &sp)?.alias("b_port"),
            pick(&pk, &rev("rev_packets"))?.alias("ab_packets"),
            pick(&rev("rev_packets"), &pk)?.alias("ba_packets"),
            pick(&by, &rev("rev_bytes"))?.alias("ab_bytes"),
            pick(&rev("rev_bytes"), &by)?.alias("ba_bytes"),
            fwd.clone().alias("fwd"),
            column("first"),
            column("last"),
        ])?;
        let first_sort = SortExpr::new(column("first"), true, false);
        let df = df.aggregate(
            ["proto", "a_ip", "a_port", "b_ip", "b_port"]
                .iter()
                .map(|c| column(c))
                .collect(),
            vec![
                count(lit(1u8)).alias("flows"),
                sum(column("ab_packets")).alias("ab_packets"),
                sum(column("ba_packets")).alias("ba_packets"),
                sum(column("ab_bytes")).alias("ab_bytes"),
                sum(column("ba_bytes")).alias("ba_bytes"),
                min(column("first")).alias("first"),
                max(column("last")).alias("last"),
                datafusion::functions_aggregate::expr_fn::first_value(
                    column("fwd"),
                    vec![first_sort],
                )
                .alias("a_first"),
            ],
        )?;
        let u64_of = |c: &str| cast(column(c), DataType::UInt64);
        let df = df.select(vec![
            u64_of("proto"),
            column("a_ip"),
            u64_of("a_port"),
            column("b_ip"),
            u64_of("b_port"),
            u64_of("flows"),
            u64_of("ab_packets"),
            u64_of("ba_packets"),
            u64_of("ab_bytes"),
            u64_of("ba_bytes"),
            cast(cast(column("first"), DataType::Int64), DataType::UInt64),
            cast(cast(column("last"), DataType::Int64), DataType::UInt64),
            cast(column("a_first"), DataType::UInt64),
        ])?;
        let mut sink = GroupSink::new(order, limit);
        self.run(df, |b| {
            let col = |i: usize| -> Result<&UInt64Array> {
                b.column(i)
                    .as_any()
                    .downcast_ref::<UInt64Array>()
                    .ok_or_else(|| Error("conversation column of an unexpected type".into()))
            };
            let ips = |i: usize| -> Result<&FixedSizeBinaryArray> {
                b.column(i)
                    .as_any()
                    .downcast_ref::<FixedSizeBinaryArray>()
                    .ok_or_else(|| Error("address column of an unexpected type".into()))
            };
            let (proto, a_ip, a_port, b_ip, b_port) = (col(0)?, ips(1)?, col(2)?, ips(3)?, col(4)?);
            let (fl, abp, bap, abb, bab, fi, la, af) = (
                col(5)?,
                col(6)?,
                col(7)?,
                col(8)?,
                col(9)?,
                col(10)?,
                col(11)?,
                col(12)?,
            );
            for row in 0..b.num_rows() {
                let g = Group {
                    keys: Vec::new(),
                    flows: fl.value(row),
                    packets: abp.value(row).saturating_add(bap.value(row)),
                    bytes: abb.value(row).saturating_add(bab.value(row)),
                    first_ns: fi.value(row),
                    last_ns: la.value(row),
                    tcp_flags: 0,
                };
                sink.offer(g, || {
                    let ip = |a: &FixedSizeBinaryArray| -> ScalarValue {
                        ScalarValue::FixedSizeBinary(16, Some(a.value(row).to_vec()))
                    };
                    let n = |x: u64| ScalarValue::UInt64(Some(x));
                    Ok(vec![
                        n(proto.value(row)),
                        ip(a_ip),
                        n(a_port.value(row)),
                        ip(b_ip),
                        n(b_port.value(row)),
                        n(abp.value(row)),
                        n(bap.value(row)),
                        n(abb.value(row)),
                        n(bab.value(row)),
                        n(af.value(row)),
                    ])
                })?;
            }
            Ok(true)
        })?;
        let Groups { groups, sums } = sink.finish();
        let conversations = groups
            .into_iter()
            .map(|g| {
                let k = |i: usize| scalar_u64(&g.keys[i]).unwrap_or(0);
                let a = |i: usize| key_addr(&g.keys[i]).unwrap_or(std::net::Ipv6Addr::UNSPECIFIED);
                let a_started = k(9) != 0;
                let (src, sp, dst, dp) = if a_started {
                    (a(1), k(2), a(3), k(4))
                } else {
                    (a(3), k(4), a(1), k(2))
                };
                let (ip, ib, op, ob) = if a_started {
                    (k(5), k(7), k(6), k(8))
                } else {
                    (k(6), k(8), k(5), k(7))
                };
                Conversation {
                    proto: k(0) as u8,
                    src,
                    src_port: sp as u16,
                    dst,
                    dst_port: dp as u16,
                    in_packets: ip,
                    in_bytes: ib,
                    out_packets: op,
                    out_bytes: ob,
                    flows: g.flows,
                    first_ns: g.first_ns,
                    last_ns: g.last_ns,
                }
            })
            .collect();
        Ok((conversations, sums))
    }
}

/// The result of [`Engine::groups`].
#[derive(Clone, Debug, Default)]
pub struct Groups {
    /// The top groups, best first.
    pub groups: Vec<Group>,
    /// Sums over every group (flows counted once per alternative), the
    /// earliest start and latest end.
    pub sums: Totals,
}

/// How good a group is for `order`: larger is better (times are reversed,
/// earliest first).
fn order_value(order: Order, flows: u64, packets: u64, bytes: u64, first: u64, last: u64) -> u64 {
    let ms = (last / 1_000_000).saturating_sub(first / 1_000_000);
    let per = |x: u64, scale: u128| {
        if ms == 0 {
            0
        } else {
            (x as u128 * scale / ms as u128).min(u64::MAX as u128) as u64
        }
    };
    match order {
        Order::Flows => flows,
        Order::Packets => packets,
        Order::Bytes => bytes,
        Order::Pps => per(packets, 1000),
        Order::Bps => per(bytes, 8000),
        Order::Bpp => bytes.checked_div(packets).unwrap_or(0),
        Order::Tstart => u64::MAX - first,
        Order::Tend => u64::MAX - last,
        Order::Duration => ms,
    }
}

/// Where every group of a result goes: the sums over all of them, and the
/// top N (a group's keys are made only when it may enter).
pub(crate) struct GroupSink {
    order: Order,
    top: TopN,
    sums: Totals,
}

impl GroupSink {
    pub(crate) fn new(order: Order, limit: Option<usize>) -> GroupSink {
        GroupSink {
            order,
            top: TopN::new(order, limit),
            sums: Totals::default(),
        }
    }

    /// Counts `g` (its keys empty) and keeps it, with `keys()`, when it is
    /// among the best so far.
    pub(crate) fn offer(
        &mut self,
        mut g: Group,
        keys: impl FnOnce() -> Result<Vec<ScalarValue>>,
    ) -> Result<()> {
        let sums = &mut self.sums;
        if sums.flows == 0 || g.first_ns < sums.first_ns {
            sums.first_ns = g.first_ns;
        }
        sums.last_ns = sums.last_ns.max(g.last_ns);
        sums.flows += g.flows;
        sums.packets = sums.packets.saturating_add(g.packets);
        sums.bytes = sums.bytes.saturating_add(g.bytes);
        let v = order_value(
            self.order, g.flows, g.packets, g.bytes, g.first_ns, g.last_ns,
        );
        if self.top.wants(v) {
            g.keys = keys()?;
            self.top.push(v, g);
        }
        Ok(())
    }

    pub(crate) fn finish(self) -> Groups {
        Groups {
            groups: self.top.into_sorted(),
            sums: self.sums,
        }
    }
}

/// A candidate of the top N: better is a larger value, then smaller keys.
struct Cand {
    v: u64,
    g: Group,
}

impl Cand {
    fn better(&self, other: &Cand) -> std::cmp::Ordering {
        self.v.cmp(&other.v).then_with(|| {
            // Smaller keys first: reversed.
            other
                .g
                .keys
                .partial_cmp(&self.g.keys)
                .unwrap_or(std::cmp::Ordering::Equal)
        })
    }
}

impl PartialEq for Cand {
    fn eq(&self, other: &Self) -> bool {
        self.better(other) == std::cmp::Ordering::Equal
    }
}
impl Eq for Cand {}
impl PartialOrd for Cand {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Cand {
    /// Reversed, so the heap's top is the worst candidate.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        other.better(self)
    }
}

/// A bounded top N (all, when unbounded).
struct TopN {
    limit: Option<usize>,
    heap: std::collections::BinaryHeap<Cand>,
}

impl TopN {
    fn new(_order: Order, limit: Option<usize>) -> TopN {
        TopN {
            limit,
            heap: std::collections::BinaryHeap::new(),
        }
    }

    /// Whether a group of value `v` may enter (ties are decided by keys).
    fn wants(&self, v: u64) -> bool {
        match self.limit {
            None => true,
            Some(0) => false,
            Some(n) => self.heap.len() < n || self.heap.peek().is_none_or(|w| v >= w.v),
        }
    }

    fn push(&mut self, v: u64, g: Group) {
        self.heap.push(Cand { v, g });
        if let Some(n) = self.limit {
            if self.heap.len() > n {
                self.heap.pop();
            }
        }
    }

    fn into_sorted(self) -> Vec<Group> {
        // Ascending in `Ord` is best first (the order is reversed).
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|c| c.g)
            .collect()
    }
}

/// A numeric or timestamp cell as u64 (0 for null or negative).
fn u64_at(a: &ArrayRef, row: usize) -> u64 {
    match ScalarValue::try_from_array(a, row) {
        Ok(v) => scalar_u64(&v).unwrap_or(0),
        Err(_) => 0,
    }
}

/// A scalar as u64, when it is a non-null integer or timestamp.
pub fn scalar_u64(v: &ScalarValue) -> Option<u64> {
    Some(match v {
        ScalarValue::UInt8(Some(x)) => *x as u64,
        ScalarValue::UInt16(Some(x)) => *x as u64,
        ScalarValue::UInt32(Some(x)) => *x as u64,
        ScalarValue::UInt64(Some(x)) => *x,
        ScalarValue::Int8(Some(x)) => (*x).max(0) as u64,
        ScalarValue::Int16(Some(x)) => (*x).max(0) as u64,
        ScalarValue::Int32(Some(x)) => (*x).max(0) as u64,
        ScalarValue::Int64(Some(x)) => (*x).max(0) as u64,
        ScalarValue::TimestampNanosecond(Some(x), _) => (*x).max(0) as u64,
        _ => return None,
    })
}
