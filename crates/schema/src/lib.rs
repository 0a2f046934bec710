//! The flow record as an Arrow schema: the one column layout the store
//! (Parquet), the stream modules (Arrow IPC) and the query engine share.
//!
//! Columns are the names `../shared/DESIGN.md` section 3 gives. Addresses
//! are 16-byte fixed-size binaries (IPv4 mapped, so byte order is numeric
//! order and a CIDR is a range that Parquet statistics can prune); times are
//! UTC nanosecond timestamps (the meter's precision; collected records carry
//! milliseconds); every L7 column is nullable and null unless the record's
//! protocol set it, so a store of L4-only flows pays almost nothing for them.
//!
//! [`BatchBuilder`] turns records into a [`RecordBatch`]; [`records`] turns a
//! batch (or a projection of one) back into records. Not here: files,
//! compression, windows (the `store` crate) and sockets (streams).

use std::net::Ipv6Addr;
use std::sync::{Arc, OnceLock};

use arrow_array::builder::{
    FixedSizeBinaryBuilder, PrimitiveBuilder, StringBuilder, TimestampNanosecondBuilder,
};
use arrow_array::types::{TimestampNanosecondType, UInt16Type, UInt32Type, UInt64Type, UInt8Type};
use arrow_array::{
    Array, ArrayRef, ArrowPrimitiveType, FixedSizeBinaryArray, PrimitiveArray, RecordBatch,
    StringArray,
};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef, TimeUnit};
use l7::{col, L7Fields, Value};
use record::{EndReason, FlowRecord, Reverse};

pub mod sparse;
pub mod text;

/// The base (non-L7) columns, in schema order.
pub const BASE_COLUMNS: &[&str] = &[
    "first",
    "last",
    "src_ip",
    "dst_ip",
    "src_port",
    "dst_port",
    "proto",
    "tcp_flags",
    "tos",
    "packets",
    "bytes",
    "vlan",
    "in_if",
    "out_if",
    "src_as",
    "dst_as",
    "src_country",
    "dst_country",
    "exporter",
    "odid",
    "end_reason",
    "src_mac",
    "dst_mac",
    "rev_first",
    "rev_last",
    "rev_packets",
    "rev_bytes",
    "rev_tcp_flags",
    "l7_proto",
];

/// L7 columns that hold numbers (UInt32); every other L7 column is a string.
const L7_NUMERIC: &[usize] = &[
    col::HTTP_STATUS,
    col::DNS_ID,
    col::DNS_QTYPE,
    col::DNS_QCLASS,
    col::DNS_RCODE,
    col::DNS_ANSWERS,
    col::DNS_TTL,
    col::TLS_VERSION,
    col::TLS_CIPHER_SUITE,
    col::SMTP_COMMANDS,
    col::SMTP_MAIL_COUNT,
    col::SMTP_RCPT_COUNT,
    col::SMTP_2XX,
    col::SMTP_3XX,
    col::SMTP_4XX,
    col::SMTP_5XX,
    col::SIP_MSG_TYPE,
    col::SIP_STATUS,
    col::QUIC_VERSION,
];

/// Whether L7 column `c` (an index into [`l7::COLUMNS`]) holds numbers.
pub fn l7_is_numeric(c: usize) -> bool {
    L7_NUMERIC.contains(&c)
}

fn time_type() -> DataType {
    DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
}

/// The Arrow type of a column, by name (base or L7).
pub fn column_type(name: &str) -> Option<DataType> {
    let t = match name {
        "first" | "last" | "rev_first" | "rev_last" => time_type(),
        "src_ip" | "dst_ip" | "exporter" => DataType::FixedSizeBinary(16),
        "src_mac" | "dst_mac" => DataType::FixedSizeBinary(6),
        "src_port" | "dst_port" | "vlan" => DataType::UInt16,
        "proto" | "tcp_flags" | "tos" | "end_reason" | "rev_tcp_flags" => DataType::UInt8,
        "packets" | "bytes" | "rev_packets" | "rev_bytes" => DataType::UInt64,
        "in_if" | "out_if" | "src_as" | "dst_as" | "odid" => DataType::UInt32,
        "src_country" | "dst_country" | "l7_proto" => DataType::Utf8,
        _ => {
            let c = l7::column_index(name)?;
            if l7_is_numeric(c) {
                DataType::UInt32
            } else {
                DataType::Utf8
            }
        }
    };
    Some(t)
}

/// Columns that may be null: the reverse (biflow) counters, the enrichment
/// strings and every L7 column.
fn nullable(name: &str) -> bool {
    name.starts_with("rev_")
        || matches!(name, "src_country" | "dst_country" | "l7_proto")
        || l7::column_index(name).is_some()
}

/// The flow schema: [`BASE_COLUMNS`] then [`l7::COLUMNS`].
pub fn flow_schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            let fields: Vec<Field> = BASE_COLUMNS
                .iter()
                .chain(l7::COLUMNS)
                .map(|name| {
                    let t = column_type(name).unwrap_or(DataType::Null);
                    Field::new(*name, t, nullable(name))
                })
                .collect();
            Arc::new(Schema::new(fields))
        })
        .clone()
}

/// Index of the first L7 column in [`flow_schema`].
pub const L7_OFFSET: usize = BASE_COLUMNS.len();

fn country(code: [u8; 2]) -> Option<&'static str> {
    // Codes are ASCII letters; anything else is treated as unknown rather
    // than written as invalid UTF-8.
    if code == [0, 0] || !code.iter().all(u8::is_ascii_alphanumeric) {
        return None;
    }
    // Leak-free static view: intern through a small table of all pairs.
    Some(country_str(code))
}

/// All 2-character alphanumeric codes as one static string, so a country
/// column value borrows instead of allocating per record.
fn country_str(code: [u8; 2]) -> &'static str {
    static TABLE: OnceLock<String> = OnceLock::new();
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let table = TABLE.get_or_init(|| {
        let mut s = String::with_capacity(ALPHABET.len() * ALPHABET.len() * 2);
        for a in ALPHABET {
            for b in ALPHABET {
                s.push(char::from(*a));
                s.push(char::from(*b));
            }
        }
        s
    });
    let pos = |c: u8| ALPHABET.iter().position(|&x| x == c).unwrap_or(0);
    let i = (pos(code[0]) * ALPHABET.len() + pos(code[1])) * 2;
    &table[i..i + 2]
}

/// Builds record batches in the [`flow_schema`] layout.
pub struct BatchBuilder {
    first: TimestampNanosecondBuilder,
    last: TimestampNanosecondBuilder,
    src_ip: FixedSizeBinaryBuilder,
    dst_ip: FixedSizeBinaryBuilder,
    src_port: PrimitiveBuilder<UInt16Type>,
    dst_port: PrimitiveBuilder<UInt16Type>,
    proto: PrimitiveBuilder<UInt8Type>,
    tcp_flags: PrimitiveBuilder<UInt8Type>,
    tos: PrimitiveBuilder<UInt8Type>,
    packets: PrimitiveBuilder<UInt64Type>,
    bytes: PrimitiveBuilder<UInt64Type>,
    vlan: PrimitiveBuilder<UInt16Type>,
    in_if: PrimitiveBuilder<UInt32Type>,
    out_if: PrimitiveBuilder<UInt32Type>,
    src_as: PrimitiveBuilder<UInt32Type>,
    dst_as: PrimitiveBuilder<UInt32Type>,
    src_country: StringBuilder,
    dst_country: StringBuilder,
    exporter: FixedSizeBinaryBuilder,
    odid: PrimitiveBuilder<UInt32Type>,
    end_reason: PrimitiveBuilder<UInt8Type>,
    src_mac: FixedSizeBinaryBuilder,
    dst_mac: FixedSizeBinaryBuilder,
    rev_first: TimestampNanosecondBuilder,
    rev_last: TimestampNanosecondBuilder,
    rev_packets: PrimitiveBuilder<UInt64Type>,
    rev_bytes: PrimitiveBuilder<UInt64Type>,
    rev_tcp_flags: PrimitiveBuilder<UInt8Type>,
    l7_proto: StringBuilder,
    l7: Vec<L7Builder>,
    /// Rows without L7 fields whose nulls are not appended yet.
    l7_nulls: usize,
    /// Rows without reverse counters whose nulls are not appended yet.
    rev_nulls: usize,
    /// Rows without a source (destination) country not appended yet.
    src_country_nulls: usize,
    dst_country_nulls: usize,
    len: usize,
}

enum L7Builder {
    Str(StringBuilder),
    Num(PrimitiveBuilder<UInt32Type>),
}

impl L7Builder {
    fn append_null(&mut self) {
        self.append_nulls(1);
    }

    fn append_nulls(&mut self, n: usize) {
        match self {
            L7Builder::Str(b) => b.append_nulls(n),
            L7Builder::Num(b) => b.append_nulls(n),
        }
    }

    /// Appends a value, converting it to the column's kind (a number in a
    /// string column is written as text; a string in a number column, which
    /// no parser produces, as null).
    fn append(&mut self, v: Value<'_>) {
        match (self, v) {
            (L7Builder::Str(b), Value::Str(s)) => b.append_value(s),
            (L7Builder::Str(b), Value::Num(n)) => b.append_value(n.to_string()),
            (L7Builder::Num(b), Value::Num(n)) => b.append_value(n.min(u64::from(u32::MAX)) as u32),
            (L7Builder::Num(b), Value::Str(_)) => b.append_null(),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            L7Builder::Str(b) => Arc::new(b.finish()),
            L7Builder::Num(b) => Arc::new(b.finish()),
        }
    }
}

fn ts_builder() -> TimestampNanosecondBuilder {
    TimestampNanosecondBuilder::new().with_timezone("UTC")
}

impl Default for BatchBuilder {
    fn default() -> Self {
        BatchBuilder::new()
    }
}

impl BatchBuilder {
    pub fn new() -> BatchBuilder {
        BatchBuilder {
            first: ts_builder(),
            last: ts_builder(),
            src_ip: FixedSizeBinaryBuilder::new(16),
            dst_ip: FixedSizeBinaryBuilder::new(16),
            src_port: PrimitiveBuilder::new(),
            dst_port: PrimitiveBuilder::new(),
            proto: PrimitiveBuilder::new(),
            tcp_flags: PrimitiveBuilder::new(),
            tos: PrimitiveBuilder::new(),
            packets: PrimitiveBuilder::new(),
            bytes: PrimitiveBuilder::new(),
            vlan: PrimitiveBuilder::new(),
            in_if: PrimitiveBuilder::new(),
            out_if: PrimitiveBuilder::new(),
            src_as: PrimitiveBuilder::new(),
            dst_as: PrimitiveBuilder::new(),
            src_country: StringBuilder::new(),
            dst_country: StringBuilder::new(),
            exporter: FixedSizeBinaryBuilder::new(16),
            odid: PrimitiveBuilder::new(),
            end_reason: PrimitiveBuilder::new(),
            src_mac: FixedSizeBinaryBuilder::new(6),
            dst_mac: FixedSizeBinaryBuilder::new(6),
            rev_first: ts_builder(),
            rev_last: ts_builder(),
            rev_packets: PrimitiveBuilder::new(),
            rev_bytes: PrimitiveBuilder::new(),
            rev_tcp_flags: PrimitiveBuilder::new(),
            l7_proto: StringBuilder::new(),
            l7: (0..l7::COLUMNS.len())
                .map(|c| {
                    if l7_is_numeric(c) {
                        L7Builder::Num(PrimitiveBuilder::new())
                    } else {
                        L7Builder::Str(StringBuilder::new())
                    }
                })
                .collect(),
            l7_nulls: 0,
            rev_nulls: 0,
            src_country_nulls: 0,
            dst_country_nulls: 0,
            len: 0,
        }
    }

    /// Rows appended since the last [`BatchBuilder::finish`].
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends one record.
    pub fn push(&mut self, r: &FlowRecord) {
        self.first.append_value(to_i64(r.first_ns));
        self.last.append_value(to_i64(r.last_ns));
        // Appending exactly 16 (or 6) bytes to a builder of that width
        // cannot fail.
        let _ = self.src_ip.append_value(r.src_ip.octets());
        let _ = self.dst_ip.append_value(r.dst_ip.octets());
        self.src_port.append_value(r.src_port);
        self.dst_port.append_value(r.dst_port);
        self.proto.append_value(r.proto);
        self.tcp_flags.append_value(r.tcp_flags);
        self.tos.append_value(r.tos);
        self.packets.append_value(r.packets);
        self.bytes.append_value(r.bytes);
        self.vlan.append_value(r.vlan);
        self.in_if.append_value(r.in_if);
        self.out_if.append_value(r.out_if);
        self.src_as.append_value(r.src_as);
        self.dst_as.append_value(r.dst_as);
        push_sparse(
            &mut self.src_country,
            &mut self.src_country_nulls,
            country(r.src_country),
        );
        push_sparse(
            &mut self.dst_country,
            &mut self.dst_country_nulls,
            country(r.dst_country),
        );
        let _ = self.exporter.append_value(r.exporter.octets());
        self.odid.append_value(r.odid);
        self.end_reason.append_value(r.end_reason as u8);
        let _ = self.src_mac.append_value(r.src_mac);
        let _ = self.dst_mac.append_value(r.dst_mac);
        match &r.reverse {
            Some(rev) => {
                self.flush_rev_nulls();
                self.rev_first.append_value(to_i64(rev.first_ns));
                self.rev_last.append_value(to_i64(rev.last_ns));
                self.rev_packets.append_value(rev.packets);
                self.rev_bytes.append_value(rev.bytes);
                self.rev_tcp_flags.append_value(rev.tcp_flags);
            }
            // Unidirectional flows (most of them) append their nulls in
            // runs, like the L7 columns.
            None => self.rev_nulls += 1,
        }
        self.push_l7(r.l7.as_ref());
        self.len += 1;
    }

    fn push_l7(&mut self, l7: Option<&L7Fields>) {
        let Some(fields) = l7 else {
            // Most records have no L7 fields: their nulls are appended in
            // runs, not 45 calls per record.
            self.l7_nulls += 1;
            return;
        };
        self.flush_l7_nulls();
        self.l7_proto.append_value(fields.protocol());
        // Columns come in increasing order from `visit`; fill the gaps
        // between them with nulls.
        let mut next = 0;
        let builders = &mut self.l7;
        fields.visit(&mut |c, v| {
            if c < next || c >= builders.len() {
                return;
            }
            builders[next..c]
                .iter_mut()
                .for_each(L7Builder::append_null);
            builders[c].append(v);
            next = c + 1;
        });
        builders[next..].iter_mut().for_each(L7Builder::append_null);
    }

    fn flush_rev_nulls(&mut self) {
        let n = std::mem::take(&mut self.rev_nulls);
        if n > 0 {
            self.rev_first.append_nulls(n);
            self.rev_last.append_nulls(n);
            self.rev_packets.append_nulls(n);
            self.rev_bytes.append_nulls(n);
            self.rev_tcp_flags.append_nulls(n);
        }
    }

    fn flush_l7_nulls(&mut self) {
        let n = std::mem::take(&mut self.l7_nulls);
        if n > 0 {
            self.l7_proto.append_nulls(n);
            self.l7.iter_mut().for_each(|b| b.append_nulls(n));
        }
    }

    /// The rows appended so far as one batch; the builder starts empty again.
    pub fn finish(&mut self) -> RecordBatch {
        let rows = self.len;
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(self.first.finish()),
            Arc::new(self.last.finish()),
            Arc::new(self.src_ip.finish()),
            Arc::new(self.dst_ip.finish()),
            Arc::new(self.src_port.finish()),
            Arc::new(self.dst_port.finish()),
            Arc::new(self.proto.finish()),
            Arc::new(self.tcp_flags.finish()),
            Arc::new(self.tos.finish()),
            Arc::new(self.packets.finish()),
            Arc::new(self.bytes.finish()),
            Arc::new(self.vlan.finish()),
            Arc::new(self.in_if.finish()),
            Arc::new(self.out_if.finish()),
            Arc::new(self.src_as.finish()),
            Arc::new(self.dst_as.finish()),
            finish_sparse(&mut self.src_country, &mut self.src_country_nulls),
            finish_sparse(&mut self.dst_country, &mut self.dst_country_nulls),
            Arc::new(self.exporter.finish()),
            Arc::new(self.odid.finish()),
            Arc::new(self.end_reason.finish()),
            Arc::new(self.src_mac.finish()),
            Arc::new(self.dst_mac.finish()),
        ];
        let schema = flow_schema();
        let nulls = |c: usize| sparse::null_array(schema.field(c).data_type(), rows);
        // A column null throughout the batch is a slice of a shared null
        // array: nothing to build, copy or spool.
        if self.rev_nulls == rows {
            self.rev_nulls = 0;
            columns.extend((columns.len()..columns.len() + 5).map(nulls));
        } else {
            self.flush_rev_nulls();
            columns.push(Arc::new(self.rev_first.finish()));
            columns.push(Arc::new(self.rev_last.finish()));
            columns.push(Arc::new(self.rev_packets.finish()));
            columns.push(Arc::new(self.rev_bytes.finish()));
            columns.push(Arc::new(self.rev_tcp_flags.finish()));
        }
        if self.l7_nulls == rows {
            self.l7_nulls = 0;
            columns.extend((columns.len()..schema.fields().len()).map(nulls));
        } else {
            self.flush_l7_nulls();
            columns.push(Arc::new(self.l7_proto.finish()));
            columns.extend(self.l7.iter_mut().map(L7Builder::finish));
        }
        self.len = 0;
        // The columns are built from the schema's own types, all of one length.
        RecordBatch::try_new(flow_schema(), columns)
            .unwrap_or_else(|e| unreachable!("flow batch does not match the flow schema: {e}"))
    }
}

/// Appends `value` to a nullable string column whose nulls are appended in
/// runs (`nulls` counts the pending ones).
fn push_sparse(builder: &mut StringBuilder, nulls: &mut usize, value: Option<&str>) {
    match value {
        None => *nulls += 1,
        Some(v) => {
            if *nulls > 0 {
                builder.append_nulls(std::mem::take(nulls));
            }
            builder.append_value(v);
        }
    }
}

/// The column [`push_sparse`] built: a shared null array when it got no
/// value.
fn finish_sparse(builder: &mut StringBuilder, nulls: &mut usize) -> ArrayRef {
    let n = std::mem::take(nulls);
    if arrow_array::builder::ArrayBuilder::is_empty(builder) {
        return sparse::null_array(&DataType::Utf8, n);
    }
    builder.append_nulls(n);
    Arc::new(builder.finish())
}

/// Nanoseconds past 2262 do not fit Arrow's i64 timestamps; they saturate.
fn to_i64(ns: u64) -> i64 {
    i64::try_from(ns).unwrap_or(i64::MAX)
}

/// Records from one batch in the flow layout. Columns may be missing (a
/// projection) or in any order: missing ones leave the record's defaults;
/// unknown ones are skipped. A known column of another type is an error.
pub fn records(batch: &RecordBatch) -> Result<Vec<FlowRecord>, ArrowError> {
    let mut out = vec![FlowRecord::default(); batch.num_rows()];
    let schema = batch.schema();
    for (i, field) in schema.fields().iter().enumerate() {
        let column = batch.column(i);
        read_column(field.name(), column.as_ref(), &mut out)?;
    }
    Ok(out)
}

fn prim<'a, T: ArrowPrimitiveType>(
    name: &str,
    a: &'a dyn Array,
) -> Result<&'a PrimitiveArray<T>, ArrowError> {
    a.as_any()
        .downcast_ref::<PrimitiveArray<T>>()
        .ok_or_else(|| wrong_type(name, a))
}

fn wrong_type(name: &str, a: &dyn Array) -> ArrowError {
    ArrowError::SchemaError(format!(
        "column {name} has unexpected type {}",
        a.data_type()
    ))
}

fn fixed<'a>(name: &str, a: &'a dyn Array) -> Result<&'a FixedSizeBinaryArray, ArrowError> {
    a.as_any()
        .downcast_ref::<FixedSizeBinaryArray>()
        .ok_or_else(|| wrong_type(name, a))
}

fn strings<'a>(name: &str, a: &'a dyn Array) -> Result<&'a StringArray, ArrowError> {
    a.as_any()
        .downcast_ref::<StringArray>()
        .ok_or_else(|| wrong_type(name, a))
}

/// Sets `set(record, value)` for each non-null value of a primitive column.
fn each<T: ArrowPrimitiveType>(
    name: &str,
    a: &dyn Array,
    out: &mut [FlowRecord],
    mut set: impl FnMut(&mut FlowRecord, T::Native),
) -> Result<(), ArrowError> {
    let a = prim::<T>(name, a)?;
    for (r, v) in out.iter_mut().zip(a.iter()) {
        if let Some(v) = v {
            set(r, v);
        }
    }
    Ok(())
}

fn each_fixed<const N: usize>(
    name: &str,
    a: &dyn Array,
    out: &mut [FlowRecord],
    mut set: impl FnMut(&mut FlowRecord, [u8; N]),
) -> Result<(), ArrowError> {
    let a = fixed(name, a)?;
    for (r, v) in out.iter_mut().zip(a.iter()) {
        if let Some(Ok(bytes)) = v.map(<[u8; N]>::try_from) {
            set(r, bytes);
        }
    }
    Ok(())
}

fn each_str(
    name: &str,
    a: &dyn Array,
    out: &mut [FlowRecord],
    mut set: impl FnMut(&mut FlowRecord, &str),
) -> Result<(), ArrowError> {
    let a = strings(name, a)?;
    for (r, v) in out.iter_mut().zip(a.iter()) {
        if let Some(v) = v {
            set(r, v);
        }
    }
    Ok(())
}

fn code(s: &str) -> [u8; 2] {
    match s.as_bytes() {
        [a, b] => [*a, *b],
        _ => [0, 0],
    }
}

fn reverse(r: &mut FlowRecord) -> &mut Reverse {
    r.reverse.get_or_insert_with(Reverse::default)
}

fn from_i64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

type Ts = TimestampNanosecondType;

fn read_column(name: &str, a: &dyn Array, out: &mut [FlowRecord]) -> Result<(), ArrowError> {
    match name {
        "first" => each::<Ts>(name, a, out, |r, v| r.first_ns = from_i64(v)),
        "last" => each::<Ts>(name, a, out, |r, v| r.last_ns = from_i64(v)),
        "src_ip" => each_fixed::<16>(name, a, out, |r, v| r.src_ip = Ipv6Addr::from(v)),
        "dst_ip" => each_fixed::<16>(name, a, out, |r, v| r.dst_ip = Ipv6Addr::from(v)),
        "src_port" => each::<UInt16Type>(name, a, out, |r, v| r.src_port = v),
        "dst_port" => each::<UInt16Type>(name, a, out, |r, v| r.dst_port = v),
        "proto" => each::<UInt8Type>(name, a, out, |r, v| r.proto = v),
        "tcp_flags" => each::<UInt8Type>(name, a, out, |r, v| r.tcp_flags = v),
        "tos" => each::<UInt8Type>(name, a, out, |r, v| r.tos = v),
        "packets" => each::<UInt64Type>(name, a, out, |r, v| r.packets = v),
        "bytes" => each::<UInt64Type>(name, a, out, |r, v| r.bytes = v),
        "vlan" => each::<UInt16Type>(name, a, out, |r, v| r.vlan = v),
        "in_if" => each::<UInt32Type>(name, a, out, |r, v| r.in_if = v),
        "out_if" => each::<UInt32Type>(name, a, out, |r, v| r.out_if = v),
        "src_as" => each::<UInt32Type>(name, a, out, |r, v| r.src_as = v),
        "dst_as" => each::<UInt32Type>(name, a, out, |r, v| r.dst_as = v),
        "src_country" => each_str(name, a, out, |r, v| r.src_country = code(v)),
        "dst_country" => each_str(name, a, out, |r, v| r.dst_country = code(v)),
        "exporter" => each_fixed::<16>(name, a, out, |r, v| r.exporter = Ipv6Addr::from(v)),
        "odid" => each::<UInt32Type>(name, a, out, |r, v| r.odid = v),
        "end_reason" => each::<UInt8Type>(name, a, out, |r, v| r.end_reason = end_reason(v)),
        "src_mac" => each_fixed::<6>(name, a, out, |r, v| r.src_mac = v),
        "dst_mac" => each_fixed::<6>(name, a, out, |r, v| r.dst_mac = v),
        "rev_first" => each::<Ts>(name, a, out, |r, v| reverse(r).first_ns = from_i64(v)),
        "rev_last" => each::<Ts>(name, a, out, |r, v| reverse(r).last_ns = from_i64(v)),
        "rev_packets" => each::<UInt64Type>(name, a, out, |r, v| reverse(r).packets = v),
        "rev_bytes" => each::<UInt64Type>(name, a, out, |r, v| reverse(r).bytes = v),
        "rev_tcp_flags" => each::<UInt8Type>(name, a, out, |r, v| reverse(r).tcp_flags = v),
        "l7_proto" => Ok(()),
        _ => match l7::column_index(name) {
            Some(c) => read_l7(name, c, a, out),
            // Columns eddy does not know are skipped: a newer writer may add some.
            None => Ok(()),
        },
    }
}

fn read_l7(name: &str, c: usize, a: &dyn Array, out: &mut [FlowRecord]) -> Result<(), ArrowError> {
    let set = |r: &mut FlowRecord, v: Value<'_>| set_l7(r, c, v);
    if l7_is_numeric(c) {
        each::<UInt32Type>(name, a, out, |r, v| set(r, Value::Num(u64::from(v))))
    } else {
        each_str(name, a, out, |r, v| set(r, Value::Str(v)))
    }
}

/// Sets one L7 column, creating the protocol's fields on the first.
pub(crate) fn set_l7(r: &mut FlowRecord, c: usize, v: Value<'_>) {
    if r.l7.is_none() {
        r.l7 = L7Fields::empty_for_column(c);
    }
    if let Some(fields) = r.l7.as_mut() {
        fields.set(c, v);
    }
}

fn end_reason(v: u8) -> EndReason {
    match v {
        2 => EndReason::Active,
        3 => EndReason::EndOfFlow,
        4 => EndReason::Forced,
        5 => EndReason::Eviction,
        _ => EndReason::Idle,
    }
}

#[cfg(test)]
mod tests;
