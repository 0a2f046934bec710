//! Columnar evaluation of an [`Expr`] on Arrow record batches (feature
//! `arrow`), for stream modules that filter Arrow IPC batches.
//!
//! ```
//! use filter::batch::BatchFilter;
//! use record::FlowRecord;
//!
//! let mut b = schema::BatchBuilder::new();
//! b.push(&FlowRecord { proto: 6, dst_port: 443, ..Default::default() });
//! b.push(&FlowRecord::default());
//! let batch = b.finish();
//!
//! let f = filter::parse("proto tcp and dst port 443").unwrap();
//! let bf = BatchFilter::new(&f.expr, &batch.schema()).unwrap();
//! let keep = bf.eval(&batch); // a BooleanArray, e.g. for arrow_select::filter
//! assert!(keep.value(0) && !keep.value(1));
//! assert_eq!(bf.matches_count(&batch), 1);
//! assert_eq!(bf.columns(), ["dst_port", "proto"]);
//! ```
//!
//! [`BatchFilter::new`] resolves every leaf's column to an index in the
//! schema once and checks its type; [`BatchFilter::eval`] then runs each leaf
//! as one tight loop over the column's values, producing a bitmap (64 rows a
//! word), applies the column's null bitmap, and combines the bitmaps with
//! word-wise `and`, `or` and `not`. No name lookups and no per-row heap
//! allocation happen per batch; each leaf allocates one bitmap (derived
//! columns and times also one value vector).
//!
//! # Semantics
//!
//! The result for a row equals [`Expr::eval`] on the record the row holds
//! (as `schema::records` reads it back): a leaf on a null value is
//! false, `not` of it true; derived columns are computed as `eval.rs` does
//! (`duration` from millisecond-truncated times, saturating; `pps`, `bps`,
//! `bpp` with their zero rules; `icmp_type`/`icmp_code` from `dst_port`), and
//! are null when a column they read is null. A null is honoured in every
//! column, including those eddy's schema declares non-null. In a batch
//! `schema::BatchBuilder` did not write, each leaf reads its own column: a
//! row with both `http_host` and `dns_qname` set matches leaves on both.
//!
//! Accepted column types, beyond eddy's own schema (`schema::flow_schema`):
//! - integer columns: any Arrow integer type. A negative value (signed types
//!   only) is treated as null: every leaf on it is false.
//! - `first`, `last`: `Timestamp` of any unit (converted to ns, saturating)
//!   or `Int64`/`UInt64` nanoseconds; a negative time is read as 0 (before
//!   1970), as `schema::records` does.
//! - addresses: `FixedSizeBinary(16)` (IPv4-mapped IPv6); MACs:
//!   `FixedSizeBinary(6)`.
//! - text: `Utf8`, `LargeUtf8`, `Utf8View`. A country value that is not
//!   exactly two bytes (or is `"\0\0"`) is unknown, i.e. null, as the
//!   record's two-byte country code cannot hold it.
//!
//! A leaf whose operator does not fit its column (say `Net` on a port),
//! which the parser never builds, is false as in `eval.rs`, and reads no
//! column.

use std::fmt;
use std::sync::Arc;

use arrow_array::types::{
    Int16Type, Int32Type, Int64Type, Int8Type, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{
    Array, ArrowPrimitiveType, BooleanArray, FixedSizeBinaryArray, LargeStringArray,
    PrimitiveArray, RecordBatch, StringArray, StringViewArray,
};
use arrow_buffer::{BooleanBuffer, Buffer, NullBuffer};
use arrow_schema::{ArrowError, DataType, Schema, TimeUnit};

use crate::ast::{CmpOp, Column, Expr, Kind, StrMatch};
use crate::Filter;

/// What a column must hold for a leaf to read it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    Int,
    Time,
    Addr,
    Mac,
    Text,
}

impl Class {
    fn expected(self) -> &'static str {
        match self {
            Class::Int => "an integer",
            Class::Time => "a timestamp (or Int64/UInt64 nanoseconds)",
            Class::Addr => "FixedSizeBinary(16) (an IPv4-mapped IPv6 address)",
            Class::Mac => "FixedSizeBinary(6) (a MAC address)",
            Class::Text => "a string (Utf8, LargeUtf8 or Utf8View)",
        }
    }

    fn accepts(self, t: &DataType) -> bool {
        use DataType as D;
        match self {
            Class::Int => matches!(
                t,
                D::UInt8
                    | D::UInt16
                    | D::UInt32
                    | D::UInt64
                    | D::Int8
                    | D::Int16
                    | D::Int32
                    | D::Int64
            ),
            Class::Time => matches!(t, D::Timestamp(_, _) | D::Int64 | D::UInt64),
            Class::Addr => *t == D::FixedSizeBinary(16),
            Class::Mac => *t == D::FixedSizeBinary(6),
            Class::Text => matches!(t, D::Utf8 | D::LargeUtf8 | D::Utf8View),
        }
    }
}

/// Columns a [`BatchFilter`] needs that the schema lacks or holds with
/// another type. Lists every problem, not just the first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemaMismatch {
    /// Names of missing fields, sorted, without repeats.
    pub missing: Vec<&'static str>,
    /// `(field, its type, what the filter expected)`.
    pub wrong_type: Vec<(&'static str, DataType, &'static str)>,
}

impl fmt::Display for SchemaMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sep = "";
        if !self.missing.is_empty() {
            write!(
                f,
                "the stream lacks fields the filter needs: {}",
                self.missing.join(", ")
            )?;
            sep = "; ";
        }
        for (name, t, expected) in &self.wrong_type {
            write!(f, "{sep}field {name} has type {t}, expected {expected}")?;
            sep = "; ";
        }
        Ok(())
    }
}

impl std::error::Error for SchemaMismatch {}

/// A filter compiled against one Arrow schema. Cheap to share between
/// threads (`Send + Sync`); evaluation takes `&self`.
#[derive(Clone, Debug)]
pub struct BatchFilter {
    node: Node,
    columns: Vec<&'static str>,
}

#[derive(Clone, Debug)]
enum Node {
    Const(bool),
    Not(Box<Node>),
    And(Vec<Node>),
    Or(Vec<Node>),
    Leaf(Leaf),
}

#[derive(Clone, Debug)]
struct Leaf {
    src: Source,
    pred: Pred,
}

/// Where a leaf's values come from: column indices in the batch.
#[derive(Clone, Copy, Debug)]
enum Source {
    Int(usize),
    Time(usize),
    Duration {
        first: usize,
        last: usize,
    },
    Pps {
        first: usize,
        last: usize,
        packets: usize,
    },
    Bps {
        first: usize,
        last: usize,
        bytes: usize,
    },
    Bpp {
        packets: usize,
        bytes: usize,
    },
    IcmpType(usize),
    IcmpCode(usize),
    Addr(usize),
    Mac(usize),
    Text {
        idx: usize,
        country: bool,
    },
}

#[derive(Clone, Debug)]
enum Pred {
    Cmp(CmpOp, u64),
    In(Vec<u64>),
    Bits(u64),
    Present,
    /// `(mask, network)` pairs as 128-bit numbers.
    Net(Vec<(u128, u128)>),
    Mac([u8; 6]),
    Str(StrMatch),
}

/// Compiles `e`, asking `resolve(name, class)` for each column a leaf reads.
fn compile(e: &Expr, resolve: &mut dyn FnMut(&'static str, Class) -> usize) -> Node {
    match e {
        Expr::True => Node::Const(true),
        Expr::False => Node::Const(false),
        Expr::Not(e) => Node::Not(Box::new(compile(e, resolve))),
        Expr::And(v) => Node::And(v.iter().map(|e| compile(e, resolve)).collect()),
        Expr::Or(v) => Node::Or(v.iter().map(|e| compile(e, resolve)).collect()),
        Expr::Cmp { col, op, value } => numeric(*col, Pred::Cmp(*op, *value), resolve),
        Expr::In { col, values } => {
            let mut values = values.clone();
            values.sort_unstable();
            values.dedup();
            numeric(*col, Pred::In(values), resolve)
        }
        Expr::BitsSet { col, mask } => numeric(*col, Pred::Bits(*mask), resolve),
        Expr::Present { col } => match col.kind() {
            Kind::Text => text(*col, Pred::Present, resolve),
            _ => numeric(*col, Pred::Present, resolve),
        },
        Expr::Net { col, nets } => match col {
            Column::SrcIp | Column::DstIp | Column::Exporter => {
                let idx = resolve(col.name(), Class::Addr);
                let nets = nets
                    .iter()
                    .map(|n| (crate::ast::mask(n.len), u128::from(n.addr)))
                    .collect();
                Node::Leaf(Leaf {
                    src: Source::Addr(idx),
                    pred: Pred::Net(nets),
                })
            }
            _ => Node::Const(false),
        },
        Expr::Mac { col, mac } => match col {
            Column::SrcMac | Column::DstMac => Node::Leaf(Leaf {
                src: Source::Mac(resolve(col.name(), Class::Mac)),
                pred: Pred::Mac(*mac),
            }),
            _ => Node::Const(false),
        },
        Expr::Str { col, m } => text(*col, Pred::Str(m.clone()), resolve),
    }
}

fn text(col: Column, pred: Pred, resolve: &mut dyn FnMut(&'static str, Class) -> usize) -> Node {
    let country = matches!(col, Column::SrcCountry | Column::DstCountry);
    let ok = country || matches!(col, Column::L7(i) if (i as usize) < l7::COLUMNS.len());
    if !ok || col.kind() != Kind::Text {
        return Node::Const(false);
    }
    Node::Leaf(Leaf {
        src: Source::Text {
            idx: resolve(col.name(), Class::Text),
            country,
        },
        pred,
    })
}

fn numeric(col: Column, pred: Pred, resolve: &mut dyn FnMut(&'static str, Class) -> usize) -> Node {
    let mut int = |name| resolve(name, Class::Int);
    let src = match col {
        Column::First | Column::Last => Source::Time(resolve(col.name(), Class::Time)),
        Column::Duration => Source::Duration {
            first: resolve("first", Class::Time),
            last: resolve("last", Class::Time),
        },
        Column::Pps => Source::Pps {
            first: resolve("first", Class::Time),
            last: resolve("last", Class::Time),
            packets: resolve("packets", Class::Int),
        },
        Column::Bps => Source::Bps {
            first: resolve("first", Class::Time),
            last: resolve("last", Class::Time),
            bytes: resolve("bytes", Class::Int),
        },
        Column::Bpp => Source::Bpp {
            packets: int("packets"),
            bytes: int("bytes"),
        },
        Column::IcmpType => Source::IcmpType(int("dst_port")),
        Column::IcmpCode => Source::IcmpCode(int("dst_port")),
        Column::SrcIp
        | Column::DstIp
        | Column::Exporter
        | Column::SrcMac
        | Column::DstMac
        | Column::SrcCountry
        | Column::DstCountry => return Node::Const(false),
        Column::L7(i) => {
            if (i as usize) >= l7::COLUMNS.len() || !matches!(col.kind(), Kind::UInt { .. }) {
                return Node::Const(false);
            }
            Source::Int(int(col.name()))
        }
        _ => Source::Int(int(col.name())),
    };
    Node::Leaf(Leaf { src, pred })
}

/// The stored columns `expr` reads (derived columns expanded to the ones
/// they are computed from), sorted, without repeats: what a stream must
/// carry for [`BatchFilter::new`] to succeed.
pub fn required_columns(expr: &Expr) -> Vec<&'static str> {
    let mut names = Vec::new();
    compile(expr, &mut |name, _| {
        names.push(name);
        0
    });
    names.sort_unstable();
    names.dedup();
    names
}

impl BatchFilter {
    /// Compiles `expr` for batches of `schema`: each column is found by its
    /// store name and its type checked once.
    pub fn new(expr: &Expr, schema: &Schema) -> Result<BatchFilter, SchemaMismatch> {
        let mut missing = Vec::new();
        let mut wrong_type = Vec::new();
        let mut columns = Vec::new();
        let node = compile(expr, &mut |name, class| {
            columns.push(name);
            match schema.index_of(name) {
                Ok(i) => {
                    let t = schema.field(i).data_type();
                    if !class.accepts(t) && !wrong_type.iter().any(|(n, _, _)| *n == name) {
                        wrong_type.push((name, t.clone(), class.expected()));
                    }
                    i
                }
                Err(_) => {
                    missing.push(name);
                    0
                }
            }
        });
        missing.sort_unstable();
        missing.dedup();
        columns.sort_unstable();
        columns.dedup();
        if missing.is_empty() && wrong_type.is_empty() {
            Ok(BatchFilter { node, columns })
        } else {
            Err(SchemaMismatch {
                missing,
                wrong_type,
            })
        }
    }

    /// [`BatchFilter::new`] for a parsed [`Filter`].
    pub fn from_filter(filter: &Filter, schema: &Schema) -> Result<BatchFilter, SchemaMismatch> {
        BatchFilter::new(&filter.expr, schema)
    }

    /// The columns the filter reads (as [`required_columns`]).
    pub fn columns(&self) -> &[&'static str] {
        &self.columns
    }

    /// Which rows of `batch` pass; one value per row, no nulls. The batch
    /// must have the schema the filter was built for; if it does not (a
    /// column missing or of another type), every row is false. Never panics.
    pub fn eval(&self, batch: &RecordBatch) -> BooleanArray {
        self.try_eval(batch)
            .unwrap_or_else(|_| BooleanArray::new(BooleanBuffer::new_unset(batch.num_rows()), None))
    }

    /// [`BatchFilter::eval`], with an error when the batch does not fit the
    /// schema the filter was built for.
    pub fn try_eval(&self, batch: &RecordBatch) -> Result<BooleanArray, ArrowError> {
        let n = batch.num_rows();
        let mut words = eval_node(&self.node, batch.columns(), n)?;
        clear_tail(&mut words, n);
        let words: Vec<u64> = words.into_iter().map(u64::to_le).collect();
        let buffer = BooleanBuffer::new(Buffer::from_vec(words), 0, n);
        Ok(BooleanArray::new(buffer, None))
    }

    /// How many rows of `batch` pass (0 when the batch does not fit).
    pub fn matches_count(&self, batch: &RecordBatch) -> usize {
        let n = batch.num_rows();
        match eval_node(&self.node, batch.columns(), n) {
            Ok(mut words) => {
                clear_tail(&mut words, n);
                words.iter().map(|w| w.count_ones() as usize).sum()
            }
            Err(_) => 0,
        }
    }
}

type Columns = [Arc<dyn Array>];

/// A bitmap, bit `i % 64` of word `i / 64` for row `i`; bits past the last
/// row are unspecified until [`clear_tail`].
type Bits = Vec<u64>;

fn words(n: usize) -> usize {
    n.div_ceil(64)
}

fn clear_tail(w: &mut Bits, n: usize) {
    w.truncate(words(n));
    w.resize(words(n), 0);
    let tail = n % 64;
    if tail > 0 {
        if let Some(last) = w.last_mut() {
            *last &= (1u64 << tail) - 1;
        }
    }
}

fn eval_node(node: &Node, cols: &Columns, n: usize) -> Result<Bits, ArrowError> {
    Ok(match node {
        Node::Const(b) => vec![if *b { u64::MAX } else { 0 }; words(n)],
        Node::Not(e) => {
            let mut w = eval_node(e, cols, n)?;
            w.iter_mut().for_each(|x| *x = !*x);
            w
        }
        Node::And(v) | Node::Or(v) => {
            let and = matches!(node, Node::And(_));
            let mut parts = v.iter();
            let Some(first) = parts.next() else {
                return Ok(vec![if and { u64::MAX } else { 0 }; words(n)]);
            };
            let mut acc = eval_node(first, cols, n)?;
            for e in parts {
                let w = eval_node(e, cols, n)?;
                if and {
                    acc.iter_mut().zip(&w).for_each(|(a, b)| *a &= b);
                } else {
                    acc.iter_mut().zip(&w).for_each(|(a, b)| *a |= b);
                }
            }
            acc
        }
        Node::Leaf(leaf) => {
            let w = eval_leaf(leaf, cols, n)?;
            if w.len() != words(n) {
                return Err(ArrowError::ComputeError(
                    "a column is shorter than the batch".into(),
                ));
            }
            w
        }
    })
}

fn column(cols: &Columns, i: usize, n: usize) -> Result<&dyn Array, ArrowError> {
    let a = cols.get(i).ok_or_else(|| {
        ArrowError::SchemaError(format!(
            "the batch has no column {i}: not the schema the filter was built for"
        ))
    })?;
    if a.len() != n {
        return Err(ArrowError::ComputeError(format!(
            "column {i} has {} rows, the batch {n}",
            a.len()
        )));
    }
    Ok(a.as_ref())
}

fn mismatch(a: &dyn Array) -> ArrowError {
    ArrowError::SchemaError(format!(
        "a column has type {}: not the schema the filter was built for",
        a.data_type()
    ))
}

fn prim<T: ArrowPrimitiveType>(a: &dyn Array) -> Result<&PrimitiveArray<T>, ArrowError> {
    a.as_any()
        .downcast_ref::<PrimitiveArray<T>>()
        .ok_or_else(|| mismatch(a))
}

/// Clears the bits of null rows.
fn and_nulls(w: &mut Bits, nulls: Option<&NullBuffer>) {
    if let Some(nulls) = nulls {
        let chunks = nulls.inner().bit_chunks();
        w.iter_mut()
            .zip(chunks.iter_padded())
            .for_each(|(a, b)| *a &= b);
    }
}

fn and_bits(w: &mut Bits, valid: Option<&Bits>) {
    if let Some(v) = valid {
        w.iter_mut().zip(v).for_each(|(a, b)| *a &= b);
    }
}

/// `f` over a values slice, 64 rows a word: the loop the compiler vectorises.
#[inline(always)]
fn pack<T: Copy>(v: &[T], f: impl Fn(T) -> bool) -> Bits {
    let mut out = Vec::with_capacity(words(v.len()));
    let chunks = v.chunks_exact(64);
    let rem = chunks.remainder();
    for c in chunks {
        let mut w = 0u64;
        for (i, &x) in c.iter().enumerate() {
            w |= (f(x) as u64) << i;
        }
        out.push(w);
    }
    if !rem.is_empty() {
        let mut w = 0u64;
        for (i, &x) in rem.iter().enumerate() {
            w |= (f(x) as u64) << i;
        }
        out.push(w);
    }
    out
}

/// `f(row)` for rows `0..n`, 64 rows a word.
#[inline(always)]
fn pack_rows(n: usize, mut f: impl FnMut(usize) -> bool) -> Bits {
    let mut out = Vec::with_capacity(words(n));
    let mut base = 0;
    while base < n {
        let end = (base + 64).min(n);
        let mut w = 0u64;
        for i in base..end {
            w |= (f(i) as u64) << (i - base);
        }
        out.push(w);
        base = end;
    }
    out
}

/// An Arrow integer's native type.
trait Int: Copy + PartialOrd + std::ops::BitAnd<Output = Self> + 'static {
    const ZERO: Self;
    fn from_u64(v: u64) -> Option<Self>;
    /// The value as u64; only called on non-negative values.
    fn to_u64(self) -> u64;
    /// For types of at most 16 bits: the value as a table index (None for
    /// negatives and for wider types).
    fn index16(self) -> Option<usize>;
}

macro_rules! int {
    ($narrow:expr; $($t:ty),*) => {$(
        impl Int for $t {
            const ZERO: Self = 0;
            #[inline(always)]
            fn from_u64(v: u64) -> Option<Self> {
                <$t>::try_from(v).ok()
            }
            #[inline(always)]
            fn to_u64(self) -> u64 {
                self as u64
            }
            #[inline(always)]
            #[allow(unused_comparisons)]
            fn index16(self) -> Option<usize> {
                ($narrow && self >= 0).then_some(self as usize)
            }
        }
    )*};
}
int!(true; u8, u16, i8, i16);
int!(false; u32, u64, i32, i64);

/// A numeric predicate over a values slice (nulls not applied). Negative
/// values never match: `x >= ZERO` folds away for unsigned types.
fn int_bits<T: Int>(v: &[T], pred: &Pred) -> Bits {
    let z = T::ZERO;
    let none = || vec![0u64; words(v.len())];
    match pred {
        Pred::Cmp(op, c) => match T::from_u64(*c) {
            Some(c) => match op {
                CmpOp::Eq => pack(v, |x| x == c),
                CmpOp::Ne => pack(v, |x| x >= z && x != c),
                CmpOp::Lt => pack(v, |x| x >= z && x < c),
                CmpOp::Le => pack(v, |x| x >= z && x <= c),
                CmpOp::Gt => pack(v, |x| x > c),
                CmpOp::Ge => pack(v, |x| x >= c),
            },
            // The constant is above the type's range.
            None => match op {
                CmpOp::Eq | CmpOp::Gt | CmpOp::Ge => none(),
                CmpOp::Ne | CmpOp::Lt | CmpOp::Le => pack(v, |x| x >= z),
            },
        },
        Pred::In(values) => {
            let vals: Vec<T> = values.iter().filter_map(|&x| T::from_u64(x)).collect();
            match vals.as_slice() {
                [] => none(),
                [a] => {
                    let a = *a;
                    pack(v, |x| x == a)
                }
                // Up to 8 values: eight equalities (the list padded with its
                // first value), which vectorise, rather than a search per row.
                small if small.len() <= 8 => {
                    let mut a = [small[0]; 8];
                    a[..small.len()].copy_from_slice(small);
                    pack(v, |x| {
                        (x == a[0])
                            | (x == a[1])
                            | (x == a[2])
                            | (x == a[3])
                            | (x == a[4])
                            | (x == a[5])
                            | (x == a[6])
                            | (x == a[7])
                    })
                }
                // A 16-bit column: a 64 Kibit table.
                many if many[0].index16().is_some() => {
                    let mut table = vec![0u64; 1024];
                    for x in many.iter().filter_map(|x| x.index16()) {
                        table[x >> 6] |= 1 << (x & 63);
                    }
                    pack(v, |x| {
                        x.index16()
                            .is_some_and(|i| table[(i >> 6) & 1023] >> (i & 63) & 1 == 1)
                    })
                }
                // Sorted (as u64, so as T: the values are non-negative).
                many => pack(v, |x| {
                    many.binary_search_by(|p| p.partial_cmp(&x).unwrap_or(std::cmp::Ordering::Less))
                        .is_ok()
                }),
            }
        }
        Pred::Bits(m) => match T::from_u64(*m) {
            Some(m) => pack(v, |x| x >= z && x & m == m),
            None => none(),
        },
        Pred::Present => pack(v, |x| x >= z),
        Pred::Net(_) | Pred::Mac(_) | Pred::Str(_) => none(),
    }
}

/// Runs `$f::<T>(values slice, $args..)` for the integer array `$a`.
macro_rules! with_int {
    ($a:expr, $f:ident ( $($arg:expr),* )) => {{
        let a: &dyn Array = $a;
        match a.data_type() {
            DataType::UInt8 => $f(prim::<UInt8Type>(a)?.values(), $($arg),*),
            DataType::UInt16 => $f(prim::<UInt16Type>(a)?.values(), $($arg),*),
            DataType::UInt32 => $f(prim::<UInt32Type>(a)?.values(), $($arg),*),
            DataType::UInt64 => $f(prim::<UInt64Type>(a)?.values(), $($arg),*),
            DataType::Int8 => $f(prim::<Int8Type>(a)?.values(), $($arg),*),
            DataType::Int16 => $f(prim::<Int16Type>(a)?.values(), $($arg),*),
            DataType::Int32 => $f(prim::<Int32Type>(a)?.values(), $($arg),*),
            DataType::Int64 => $f(prim::<Int64Type>(a)?.values(), $($arg),*),
            _ => return Err(mismatch(a)),
        }
    }};
}

/// A numeric column as u64 values and a validity bitmap (None: all valid).
struct Nums {
    vals: Vec<u64>,
    valid: Option<Bits>,
}

fn to_u64s<T: Int>(v: &[T]) -> (Vec<u64>, Option<Bits>) {
    let z = T::ZERO;
    let vals = v
        .iter()
        .map(|&x| if x >= z { x.to_u64() } else { 0 })
        .collect();
    // Only signed types can hold negatives (`x < ZERO` folds to false for
    // unsigned ones); they are nulls.
    let signed = v.iter().any(|&x| x < z);
    (
        vals,
        if signed {
            Some(pack(v, |x| x >= z))
        } else {
            None
        },
    )
}

fn int_nums(a: &dyn Array) -> Result<Nums, ArrowError> {
    let (vals, mut valid) = with_int!(a, to_u64s());
    if let Some(nulls) = a.nulls() {
        let w = valid.get_or_insert_with(|| vec![u64::MAX; words(a.len())]);
        and_nulls(w, Some(nulls));
    }
    Ok(Nums { vals, valid })
}

fn time_nums(a: &dyn Array) -> Result<Nums, ArrowError> {
    fn scaled(v: &[i64], mul: u64) -> Vec<u64> {
        if mul == 1 {
            v.iter().map(|&x| x.max(0) as u64).collect()
        } else {
            v.iter()
                .map(|&x| (x.max(0) as u64).saturating_mul(mul))
                .collect()
        }
    }
    let vals = match a.data_type() {
        DataType::Timestamp(TimeUnit::Second, _) => {
            scaled(prim::<TimestampSecondType>(a)?.values(), 1_000_000_000)
        }
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            scaled(prim::<TimestampMillisecondType>(a)?.values(), 1_000_000)
        }
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            scaled(prim::<TimestampMicrosecondType>(a)?.values(), 1_000)
        }
        DataType::Timestamp(TimeUnit::Nanosecond, _) => {
            scaled(prim::<TimestampNanosecondType>(a)?.values(), 1)
        }
        DataType::Int64 => scaled(prim::<Int64Type>(a)?.values(), 1),
        DataType::UInt64 => prim::<UInt64Type>(a)?.values().to_vec(),
        _ => return Err(mismatch(a)),
    };
    let valid = a.nulls().map(|nulls| {
        let mut w = vec![u64::MAX; words(a.len())];
        and_nulls(&mut w, Some(nulls));
        w
    });
    Ok(Nums { vals, valid })
}

fn both(a: Option<Bits>, b: Option<Bits>) -> Option<Bits> {
    match (a, b) {
        (Some(mut a), Some(b)) => {
            a.iter_mut().zip(&b).for_each(|(x, y)| *x &= y);
            Some(a)
        }
        (a, b) => a.or(b),
    }
}

fn duration(cols: &Columns, first: usize, last: usize, n: usize) -> Result<Nums, ArrowError> {
    let f = time_nums(column(cols, first, n)?)?;
    let l = time_nums(column(cols, last, n)?)?;
    let vals = f
        .vals
        .iter()
        .zip(&l.vals)
        .map(|(&f, &l)| (l / 1_000_000).saturating_sub(f / 1_000_000))
        .collect();
    Ok(Nums {
        vals,
        valid: both(f.valid, l.valid),
    })
}

fn per_second(count: u64, scale: u128, d: u64) -> u64 {
    if d == 0 {
        0
    } else {
        (count as u128 * scale / d as u128).min(u64::MAX as u128) as u64
    }
}

fn derived(d: Nums, count: Nums, f: impl Fn(u64, u64) -> u64) -> Nums {
    let vals = d
        .vals
        .iter()
        .zip(&count.vals)
        .map(|(&d, &c)| f(d, c))
        .collect();
    Nums {
        vals,
        valid: both(d.valid, count.valid),
    }
}

fn eval_leaf(leaf: &Leaf, cols: &Columns, n: usize) -> Result<Bits, ArrowError> {
    let nums = match leaf.src {
        Source::Int(i) => {
            let a = column(cols, i, n)?;
            let mut w = with_int!(a, int_bits(&leaf.pred));
            and_nulls(&mut w, a.nulls());
            return Ok(w);
        }
        Source::Time(i) => time_nums(column(cols, i, n)?)?,
        Source::Duration { first, last } => duration(cols, first, last, n)?,
        Source::Pps {
            first,
            last,
            packets,
        } => derived(
            duration(cols, first, last, n)?,
            int_nums(column(cols, packets, n)?)?,
            |d, p| per_second(p, 1000, d),
        ),
        Source::Bps { first, last, bytes } => derived(
            duration(cols, first, last, n)?,
            int_nums(column(cols, bytes, n)?)?,
            |d, b| per_second(b, 8000, d),
        ),
        Source::Bpp { packets, bytes } => derived(
            int_nums(column(cols, packets, n)?)?,
            int_nums(column(cols, bytes, n)?)?,
            |p, b| b.checked_div(p).unwrap_or(0),
        ),
        Source::IcmpType(i) | Source::IcmpCode(i) => {
            let mut p = int_nums(column(cols, i, n)?)?;
            if matches!(leaf.src, Source::IcmpType(_)) {
                p.vals.iter_mut().for_each(|x| *x >>= 8);
            } else {
                p.vals.iter_mut().for_each(|x| *x &= 0xff);
            }
            p
        }
        Source::Addr(i) => return addr_leaf(column(cols, i, n)?, &leaf.pred, n),
        Source::Mac(i) => return mac_leaf(column(cols, i, n)?, &leaf.pred, n),
        Source::Text { idx, country } => {
            return text_leaf(column(cols, idx, n)?, &leaf.pred, country, n)
        }
    };
    let mut w = int_bits(&nums.vals, &leaf.pred);
    and_bits(&mut w, nums.valid.as_ref());
    Ok(w)
}

fn fixed(a: &dyn Array, width: usize, n: usize) -> Result<&[u8], ArrowError> {
    let f = a
        .as_any()
        .downcast_ref::<FixedSizeBinaryArray>()
        .ok_or_else(|| mismatch(a))?;
    let data = f.value_data();
    if f.value_length() as usize != width || data.len() < n * width {
        return Err(mismatch(a));
    }
    Ok(&data[..n * width])
}

fn addr_leaf(a: &dyn Array, pred: &Pred, n: usize) -> Result<Bits, ArrowError> {
    let data = fixed(a, 16, n)?;
    let Pred::Net(nets) = pred else {
        return Ok(vec![0; words(n)]);
    };
    let ip = |i: usize| {
        let mut b = [0u8; 16];
        b.copy_from_slice(&data[i * 16..i * 16 + 16]);
        u128::from_be_bytes(b)
    };
    let mut w = match nets.as_slice() {
        [] => vec![0; words(n)],
        [(m, net)] => pack_rows(n, |i| ip(i) & m == *net),
        many => pack_rows(n, |i| {
            let x = ip(i);
            many.iter().any(|(m, net)| x & m == *net)
        }),
    };
    and_nulls(&mut w, a.nulls());
    Ok(w)
}

fn mac_leaf(a: &dyn Array, pred: &Pred, n: usize) -> Result<Bits, ArrowError> {
    let data = fixed(a, 6, n)?;
    let Pred::Mac(mac) = pred else {
        return Ok(vec![0; words(n)]);
    };
    let mut w = pack_rows(n, |i| data[i * 6..i * 6 + 6] == mac[..]);
    and_nulls(&mut w, a.nulls());
    Ok(w)
}

fn text_leaf(a: &dyn Array, pred: &Pred, country: bool, n: usize) -> Result<Bits, ArrowError> {
    let mut w = match a.data_type() {
        DataType::Utf8 => {
            let s = a
                .as_any()
                .downcast_ref::<StringArray>()
                .ok_or_else(|| mismatch(a))?;
            str_bits(n, |i| s.value(i), pred, country)
        }
        DataType::LargeUtf8 => {
            let s = a
                .as_any()
                .downcast_ref::<LargeStringArray>()
                .ok_or_else(|| mismatch(a))?;
            str_bits(n, |i| s.value(i), pred, country)
        }
        DataType::Utf8View => {
            let s = a
                .as_any()
                .downcast_ref::<StringViewArray>()
                .ok_or_else(|| mismatch(a))?;
            str_bits(n, |i| s.value(i), pred, country)
        }
        _ => return Err(mismatch(a)),
    };
    and_nulls(&mut w, a.nulls());
    Ok(w)
}

/// A text predicate, row by row (`get` is only called for `i < n`, and the
/// caller checked the array has `n` rows).
fn str_bits<'a>(n: usize, get: impl Fn(usize) -> &'a str, pred: &Pred, country: bool) -> Bits {
    // A country the record's two-byte code cannot hold is unknown (null).
    let known = |s: &str| !country || (s.len() == 2 && s != "\0\0");
    match pred {
        Pred::Present => pack_rows(n, |i| known(get(i))),
        Pred::Str(m) => match m {
            StrMatch::Eq(v) => pack_rows(n, |i| {
                let s = get(i);
                s == v && known(s)
            }),
            StrMatch::Ne(v) => pack_rows(n, |i| {
                let s = get(i);
                s != v && known(s)
            }),
            StrMatch::Contains(v) => pack_rows(n, |i| {
                let s = get(i);
                s.contains(v.as_str()) && known(s)
            }),
            StrMatch::Regex(p) => pack_rows(n, |i| {
                let s = get(i);
                known(s) && p.0.is_match(s)
            }),
        },
        _ => vec![0; words(n)],
    }
}

#[cfg(test)]
#[path = "batch_tests.rs"]
mod batch_tests;
