//! Batches to CSV and JSON lines. Each batch is resolved once into a list
//! of typed column renderers (one downcast per column), then rows are
//! written by looping over that list; columns that are null in the whole
//! batch become runs of separators (CSV) or disappear (JSON).

use std::io::Write;
use std::net::Ipv6Addr;
use std::ops::Range;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Date64Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{
    Array, BinaryArray, BinaryViewArray, BooleanArray, FixedSizeBinaryArray, LargeBinaryArray,
    LargeStringArray, RecordBatch, StringArray, StringViewArray,
};
use arrow_buffer::NullBuffer;
use arrow_schema::{ArrowError, DataType, Schema, TimeUnit};
use record::text::{
    push_csv_str, push_hex, push_ip, push_json_str, push_mac, push_u16, push_u64, push_u8, TextOut,
};
use record::{civil_from_days, push_datetime, DateCache, DateStyle, EndReason};

/// Rows rendered before the text goes to a `Write` (bounds the buffer).
const CHUNK_ROWS: usize = 1024;

/// How one column's values are written.
enum Kind<'a> {
    /// A run of columns without a value in this batch (CSV: only their
    /// separators; JSON: nothing).
    Nulls(usize),
    /// Timestamps and the factor to nanoseconds.
    Time(&'a [i64], u64),
    Ip(&'a FixedSizeBinaryArray),
    Mac(&'a FixedSizeBinaryArray),
    EndReason(&'a [u8]),
    U8(&'a [u8]),
    U16(&'a [u16]),
    U32(&'a [u32]),
    U64(&'a [u64]),
    I8(&'a [i8]),
    I16(&'a [i16]),
    I32(&'a [i32]),
    I64(&'a [i64]),
    F32(&'a [f32]),
    F64(&'a [f64]),
    Bool(&'a BooleanArray),
    Str(&'a StringArray),
    LargeStr(&'a LargeStringArray),
    StrView(&'a StringViewArray),
    Date32(&'a [i32]),
    Date64(&'a [i64]),
    Hex(&'a FixedSizeBinaryArray),
    Binary(&'a BinaryArray),
    LargeBinary(&'a LargeBinaryArray),
    BinaryView(&'a BinaryViewArray),
}

/// One column of the plan for a batch.
struct Col<'a> {
    kind: Kind<'a>,
    /// Only when the column has nulls, so dense columns skip the check.
    nulls: Option<&'a NullBuffer>,
    /// CSV: a comma goes before the value (every column but the first).
    sep: bool,
    /// JSON: `,"name":`.
    key: &'a [u8],
}

impl Col<'_> {
    #[inline(always)]
    fn is_null(&self, row: usize) -> bool {
        match self.nulls {
            Some(n) => n.is_null(row),
            None => false,
        }
    }
}

/// The typed renderer of an array, or None for a type without a text form here.
fn kind_of<'a>(name: &str, a: &'a dyn Array) -> Option<Kind<'a>> {
    macro_rules! prim {
        ($variant:ident, $t:ty) => {
            Kind::$variant(a.as_primitive_opt::<$t>()?.values())
        };
    }
    Some(match a.data_type() {
        DataType::Timestamp(unit, _) => {
            let (values, mul) = match unit {
                TimeUnit::Second => (
                    a.as_primitive_opt::<TimestampSecondType>()?.values(),
                    1_000_000_000,
                ),
                TimeUnit::Millisecond => (
                    a.as_primitive_opt::<TimestampMillisecondType>()?.values(),
                    1_000_000,
                ),
                TimeUnit::Microsecond => (
                    a.as_primitive_opt::<TimestampMicrosecondType>()?.values(),
                    1_000,
                ),
                TimeUnit::Nanosecond => {
                    (a.as_primitive_opt::<TimestampNanosecondType>()?.values(), 1)
                }
            };
            Kind::Time(values, mul)
        }
        DataType::FixedSizeBinary(16) => Kind::Ip(a.as_fixed_size_binary_opt()?),
        DataType::FixedSizeBinary(6) => Kind::Mac(a.as_fixed_size_binary_opt()?),
        DataType::FixedSizeBinary(_) => Kind::Hex(a.as_fixed_size_binary_opt()?),
        DataType::UInt8 if name == "end_reason" => prim!(EndReason, UInt8Type),
        DataType::UInt8 => prim!(U8, UInt8Type),
        DataType::UInt16 => prim!(U16, UInt16Type),
        DataType::UInt32 => prim!(U32, UInt32Type),
        DataType::UInt64 => prim!(U64, UInt64Type),
        DataType::Int8 => prim!(I8, Int8Type),
        DataType::Int16 => prim!(I16, Int16Type),
        DataType::Int32 => prim!(I32, Int32Type),
        DataType::Int64 => prim!(I64, Int64Type),
        DataType::Float32 => prim!(F32, Float32Type),
        DataType::Float64 => prim!(F64, Float64Type),
        DataType::Date32 => prim!(Date32, Date32Type),
        DataType::Date64 => prim!(Date64, Date64Type),
        DataType::Boolean => Kind::Bool(a.as_boolean_opt()?),
        DataType::Utf8 => Kind::Str(a.as_string_opt::<i32>()?),
        DataType::LargeUtf8 => Kind::LargeStr(a.as_string_opt::<i64>()?),
        DataType::Utf8View => Kind::StrView(a.as_string_view_opt()?),
        DataType::Binary => Kind::Binary(a.as_binary_opt::<i32>()?),
        DataType::LargeBinary => Kind::LargeBinary(a.as_binary_opt::<i64>()?),
        DataType::BinaryView => Kind::BinaryView(a.as_binary_view_opt()?),
        _ => return None,
    })
}

/// Which columns a writer prints.
#[derive(Clone, Debug)]
enum Selection {
    /// Every column of each batch, in its order.
    All,
    /// These names, in this order (a name a batch lacks prints as null).
    Names(Vec<String>),
}

impl Selection {
    fn checked(schema: &Schema, names: &[impl AsRef<str>]) -> Result<Selection, ArrowError> {
        let unknown: Vec<&str> = names
            .iter()
            .map(AsRef::as_ref)
            .filter(|n| schema.index_of(n).is_err())
            .collect();
        if !unknown.is_empty() {
            return Err(ArrowError::InvalidArgumentError(format!(
                "unknown column{} {}; known columns: {}",
                if unknown.len() == 1 { "" } else { "s" },
                unknown.join(", "),
                schema
                    .fields()
                    .iter()
                    .map(|f| f.name().as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        Ok(Selection::Names(
            names.iter().map(|n| n.as_ref().to_string()).collect(),
        ))
    }

    /// The column names printed for `schema`.
    fn names(&self, schema: &Schema) -> Vec<String> {
        match self {
            Selection::All => schema.fields().iter().map(|f| f.name().clone()).collect(),
            Selection::Names(names) => names.clone(),
        }
    }
}

/// The state both writers share: the selection and the JSON keys.
struct Common {
    selection: Selection,
    /// The names the keys below were made for.
    key_names: Vec<String>,
    /// `,"name":` per printed column.
    keys: Vec<Vec<u8>>,
    dates: DateCache,
    buf: Vec<u8>,
    prepared: bool,
}

impl Common {
    fn new(selection: Selection) -> Common {
        Common {
            selection,
            key_names: Vec::new(),
            keys: Vec::new(),
            dates: DateCache::default(),
            buf: Vec::new(),
            prepared: false,
        }
    }

    /// Makes `keys` match the batch's printed columns (rebuilt only when the
    /// names change).
    fn prepare(&mut self, schema: &Schema) {
        let fresh = self.prepared
            && match &self.selection {
                Selection::Names(_) => true,
                Selection::All => {
                    self.key_names.len() == schema.fields().len()
                        && self
                            .key_names
                            .iter()
                            .zip(schema.fields())
                            .all(|(a, f)| a == f.name())
                }
            };
        if fresh {
            return;
        }
        self.prepared = true;
        self.key_names = self.selection.names(schema);
        self.keys = self
            .key_names
            .iter()
            .map(|n| {
                let mut key = vec![b','];
                push_json_str(&mut key, n);
                key.push(b':');
                key
            })
            .collect();
    }
}

/// The per-batch plan: one [`Col`] per printed column, all-null columns
/// merged into runs.
fn plan<'a>(batch: &'a RecordBatch, names: &[String], keys: &'a [Vec<u8>]) -> Vec<Col<'a>> {
    let schema = batch.schema_ref();
    let mut cols: Vec<Col<'a>> = Vec::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        let sep = i > 0;
        // Printing every column, the name is at its own index: no search.
        let index = match schema.fields().get(i) {
            Some(f) if f.name() == name => Some(i),
            _ => schema.index_of(name).ok(),
        };
        let kind = index.and_then(|c| {
            let a = batch.column(c).as_ref();
            if a.null_count() == a.len() {
                None
            } else {
                kind_of(name, a).map(|k| (k, a.nulls().filter(|n| n.null_count() > 0)))
            }
        });
        match kind {
            Some((kind, nulls)) => cols.push(Col {
                kind,
                nulls,
                sep,
                key: &keys[i],
            }),
            None => {
                let commas = usize::from(sep);
                match cols.last_mut() {
                    Some(Col {
                        kind: Kind::Nulls(n),
                        ..
                    }) if *n + commas <= COMMAS.len() => *n += commas,
                    _ => cols.push(Col {
                        kind: Kind::Nulls(commas),
                        nulls: None,
                        sep: false,
                        key: &keys[i],
                    }),
                }
            }
        }
    }
    cols
}

const COMMAS: [u8; 64] = [b','; 64];

#[inline]
fn push_i64(out: &mut impl TextOut, n: i64) {
    if n < 0 {
        out.put_byte(b'-');
    }
    push_u64(out, n.unsigned_abs());
}

fn push_date(out: &mut impl TextOut, days: i64) {
    let (year, month, day) = civil_from_days(days);
    if !(0..=9999).contains(&year) {
        push_i64(out, year);
        out.put_byte(b'-');
    } else {
        let y = year as u64;
        out.put(&record::text::two_digits(y / 100));
        out.put(&record::text::two_digits(y));
        out.put_byte(b'-');
    }
    out.put(&record::text::two_digits(month.into()));
    out.put_byte(b'-');
    out.put(&record::text::two_digits(day.into()));
}

fn push_float(out: &mut impl TextOut, v: f64, json: bool) {
    if json && !v.is_finite() {
        out.put(b"null");
    } else {
        let _ = std::fmt::Write::write_fmt(&mut Formatted(out), format_args!("{v}"));
    }
}

/// `core::fmt` output into a [`TextOut`], without a `String` in between.
struct Formatted<'a, O>(&'a mut O);

impl<O: TextOut> std::fmt::Write for Formatted<'_, O> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.put(s.as_bytes());
        Ok(())
    }
}

fn end_reason_name(v: u8) -> Option<&'static str> {
    Some(
        match v {
            1 => EndReason::Idle,
            2 => EndReason::Active,
            3 => EndReason::EndOfFlow,
            4 => EndReason::Forced,
            5 => EndReason::Eviction,
            _ => return None,
        }
        .name(),
    )
}

/// A string value: CSV-quoted when needed, or a JSON string.
#[inline(always)]
fn push_str<const JSON: bool>(out: &mut impl TextOut, s: &str) {
    if JSON {
        push_json_str(out, s);
    } else {
        push_csv_str(out, s);
    }
}

/// Text that JSON needs in quotes (times, addresses, names, hex).
#[inline(always)]
fn quoted<const JSON: bool, O: TextOut>(out: &mut O, write: impl FnOnce(&mut O)) {
    if JSON {
        out.put_byte(b'"');
        write(out);
        out.put_byte(b'"');
    } else {
        write(out);
    }
}

/// Writes row `i` of a column (known not null).
#[inline(always)]
fn push_value<const JSON: bool, O: TextOut>(
    kind: &Kind<'_>,
    i: usize,
    out: &mut O,
    dates: &mut DateCache,
) {
    match kind {
        Kind::Nulls(_) => {}
        Kind::Time(values, mul) => {
            let ns = u64::try_from(values[i]).unwrap_or(0).saturating_mul(*mul);
            quoted::<JSON, _>(out, |o| {
                push_datetime(o, dates, ns, DateStyle::Rfc3339Micros)
            });
        }
        Kind::Ip(a) => {
            let bytes: [u8; 16] = a.value(i).try_into().unwrap_or([0; 16]);
            quoted::<JSON, _>(out, |o| push_ip(o, Ipv6Addr::from(bytes)));
        }
        Kind::Mac(a) => {
            let bytes: [u8; 6] = a.value(i).try_into().unwrap_or([0; 6]);
            quoted::<JSON, _>(out, |o| push_mac(o, &bytes));
        }
        Kind::EndReason(values) => match end_reason_name(values[i]) {
            Some(name) => quoted::<JSON, _>(out, |o| o.put(name.as_bytes())),
            None => push_u8(out, values[i]),
        },
        Kind::U8(v) => push_u8(out, v[i]),
        Kind::U16(v) => push_u16(out, v[i]),
        Kind::U32(v) => push_u64(out, u64::from(v[i])),
        Kind::U64(v) => push_u64(out, v[i]),
        Kind::I8(v) => push_i64(out, i64::from(v[i])),
        Kind::I16(v) => push_i64(out, i64::from(v[i])),
        Kind::I32(v) => push_i64(out, i64::from(v[i])),
        Kind::I64(v) => push_i64(out, v[i]),
        Kind::F32(v) => push_float(out, f64::from(v[i]), JSON),
        Kind::F64(v) => push_float(out, v[i], JSON),
        Kind::Bool(a) => out.put(if a.value(i) { b"true" } else { b"false" }),
        Kind::Str(a) => push_str::<JSON>(out, a.value(i)),
        Kind::LargeStr(a) => push_str::<JSON>(out, a.value(i)),
        Kind::StrView(a) => push_str::<JSON>(out, a.value(i)),
        Kind::Date32(v) => quoted::<JSON, _>(out, |o| push_date(o, i64::from(v[i]))),
        Kind::Date64(v) => quoted::<JSON, _>(out, |o| push_date(o, v[i].div_euclid(86_400_000))),
        Kind::Hex(a) => quoted::<JSON, _>(out, |o| push_hex(o, a.value(i))),
        Kind::Binary(a) => quoted::<JSON, _>(out, |o| push_hex(o, a.value(i))),
        Kind::LargeBinary(a) => quoted::<JSON, _>(out, |o| push_hex(o, a.value(i))),
        Kind::BinaryView(a) => quoted::<JSON, _>(out, |o| push_hex(o, a.value(i))),
    }
}

/// Rows written after their columns' values are brought into the cache.
const WARM_ROWS: usize = 256;

/// Asks for every cache line of `bytes`, so that the row-by-row pass
/// after it finds them in the cache.
fn touch(bytes: &[u8]) {
    record::text::prefetch_range(bytes.as_ptr(), bytes.len());
}

fn touch_values<T: arrow_buffer::ArrowNativeType>(values: &[T], rows: &Range<usize>) {
    if let Some(part) = values.get(rows.clone()) {
        touch(arrow_buffer::ToByteSlice::to_byte_slice(part));
    }
}

fn touch_strings<O: arrow_array::OffsetSizeTrait>(offsets: &[O], data: &[u8], rows: &Range<usize>) {
    let Some(ends) = offsets.get(rows.start..rows.end + 1) else {
        return;
    };
    touch(arrow_buffer::ToByteSlice::to_byte_slice(ends));
    if let (Some(first), Some(last)) = (ends.first(), ends.last()) {
        if let Some(bytes) = data.get(first.as_usize()..last.as_usize()) {
            touch(bytes);
        }
    }
}

/// Brings the values of rows `rows` of every column into the cache, one
/// column at a time. A CSV row reads one value from each of some 60
/// columns; going row by row through all of them at once was more streams
/// than the CPU prefetches, and loads missing the cache were most of the
/// writer's time.
fn warm(cols: &[Col<'_>], rows: &Range<usize>) {
    for c in cols {
        match &c.kind {
            Kind::Time(v, _) | Kind::I64(v) | Kind::Date64(v) => touch_values(v, rows),
            Kind::U64(v) => touch_values(v, rows),
            Kind::U32(v) => touch_values(v, rows),
            Kind::U16(v) => touch_values(v, rows),
            Kind::U8(v) | Kind::EndReason(v) => touch_values(v, rows),
            Kind::I32(v) | Kind::Date32(v) => touch_values(v, rows),
            Kind::Ip(a) | Kind::Mac(a) | Kind::Hex(a) => {
                let width = usize::try_from(a.value_length()).unwrap_or(0);
                if let Some(bytes) = a.value_data().get(rows.start * width..rows.end * width) {
                    touch(bytes);
                }
            }
            Kind::Str(a) => touch_strings(a.value_offsets(), a.value_data(), rows),
            Kind::Binary(a) => touch_strings(a.value_offsets(), a.value_data(), rows),
            _ => {}
        }
    }
}

/// Writes `rows` with `write`, [`WARM_ROWS`] at a time, each part's
/// values [`warm`]ed first.
fn in_warm_parts(cols: &[Col<'_>], rows: Range<usize>, mut write: impl FnMut(Range<usize>)) {
    let mut start = rows.start;
    while start < rows.end {
        let part = start..rows.end.min(start + WARM_ROWS);
        warm(cols, &part);
        write(part.clone());
        start = part.end;
    }
}

fn csv_rows(cols: &[Col<'_>], rows: Range<usize>, out: &mut Vec<u8>, dates: &mut DateCache) {
    in_warm_parts(cols, rows, |part| csv_rows_warm(cols, part, out, dates));
}

fn csv_rows_warm(cols: &[Col<'_>], rows: Range<usize>, out: &mut Vec<u8>, dates: &mut DateCache) {
    let mut text = RowText::new(out);
    for row in rows {
        for c in cols {
            if let Kind::Nulls(n) = c.kind {
                // A fixed-size copy cut back: no call for a copy of
                // variable length.
                text.put_cut(&COMMAS, n);
                continue;
            }
            if c.sep {
                text.put_byte(b',');
            }
            if !c.is_null(row) {
                push_value::<false, _>(&c.kind, row, &mut text, dates);
            }
        }
        text.put_byte(b'\n');
    }
    text.flush();
}

/// Rows' text on its way to the output, gathered in a few kilobytes that
/// stay in the cache. Its length is a local, which the compiler keeps in
/// a register between values; writing to the `Vec` directly, every value
/// and separator stored the vector's length and loaded it back.
struct RowText<'a> {
    out: &'a mut Vec<u8>,
    buf: [u8; ROW_TEXT],
    len: usize,
}

const ROW_TEXT: usize = 4096;

impl<'a> RowText<'a> {
    fn new(out: &'a mut Vec<u8>) -> RowText<'a> {
        RowText {
            out,
            buf: [0; ROW_TEXT],
            len: 0,
        }
    }

    /// Hands the text gathered so far to the output.
    fn flush(&mut self) {
        self.out.extend_from_slice(&self.buf[..self.len]);
        self.len = 0;
    }

    /// `put` when `bytes` does not fit: what is gathered goes out first.
    #[cold]
    fn spill(&mut self, bytes: &[u8]) {
        self.flush();
        match self.buf.get_mut(..bytes.len()) {
            Some(room) => {
                room.copy_from_slice(bytes);
                self.len = bytes.len();
            }
            None => self.out.extend_from_slice(bytes),
        }
    }
}

impl TextOut for RowText<'_> {
    #[inline(always)]
    fn put(&mut self, bytes: &[u8]) {
        match self.buf.get_mut(self.len..self.len + bytes.len()) {
            Some(room) => {
                room.copy_from_slice(bytes);
                self.len += bytes.len();
            }
            None => self.spill(bytes),
        }
    }

    #[inline(always)]
    fn put_byte(&mut self, b: u8) {
        match self.buf.get_mut(self.len) {
            Some(slot) => {
                *slot = b;
                self.len += 1;
            }
            None => self.spill(&[b]),
        }
    }

    #[inline(always)]
    fn put_cut(&mut self, bytes: &[u8], len: usize) {
        let len = len.min(bytes.len());
        match self.buf.get_mut(self.len..self.len + bytes.len()) {
            Some(room) => {
                room.copy_from_slice(bytes);
                self.len += len;
            }
            None => self.spill(&bytes[..len]),
        }
    }
}

fn json_rows(cols: &[Col<'_>], rows: Range<usize>, out: &mut Vec<u8>, dates: &mut DateCache) {
    in_warm_parts(cols, rows, |part| json_rows_warm(cols, part, out, dates));
}

fn json_rows_warm(cols: &[Col<'_>], rows: Range<usize>, out: &mut Vec<u8>, dates: &mut DateCache) {
    for row in rows {
        // Every member is written with a leading comma; the first comma
        // then becomes the opening brace.
        let start = out.len();
        for c in cols {
            if matches!(c.kind, Kind::Nulls(_)) || c.is_null(row) {
                continue;
            }
            out.extend_from_slice(c.key);
            push_value::<true, _>(&c.kind, row, out, dates);
        }
        if out.len() == start {
            out.push(b'{');
        } else {
            out[start] = b'{';
        }
        out.extend_from_slice(b"}\n");
    }
}

/// The rows of `range` that exist in the batch.
fn clamp(range: Range<usize>, rows: usize) -> Range<usize> {
    range.start.min(rows)..range.end.min(rows).max(range.start.min(rows))
}

/// Writes batches as CSV: an optional header line of column names, then one
/// line per row. Values as the module documentation lists.
pub struct CsvWriter {
    common: Common,
    header: bool,
    header_done: bool,
}

impl Default for CsvWriter {
    fn default() -> Self {
        CsvWriter::new()
    }
}

impl CsvWriter {
    /// Every column of each batch, in schema order, with a header line.
    pub fn new() -> CsvWriter {
        CsvWriter {
            common: Common::new(Selection::All),
            header: true,
            header_done: false,
        }
    }

    /// The columns `names` in this order, checked against `schema`: unknown
    /// names are an error that lists them. A later batch lacking one of
    /// them prints it empty.
    pub fn with_columns(
        schema: &Schema,
        names: &[impl AsRef<str>],
    ) -> Result<CsvWriter, ArrowError> {
        Ok(CsvWriter {
            common: Common::new(Selection::checked(schema, names)?),
            header: true,
            header_done: false,
        })
    }

    /// Whether to write the header line (before the first rows); default on.
    pub fn with_header(mut self, header: bool) -> CsvWriter {
        self.header = header;
        self
    }

    /// Appends every row of `batch` to `out`.
    pub fn write_batch(
        &mut self,
        batch: &RecordBatch,
        out: &mut Vec<u8>,
    ) -> Result<(), ArrowError> {
        self.write_rows(batch, 0..batch.num_rows(), out)
    }

    /// Appends the rows in `rows` (cut to the batch) to `out`: a `limit`
    /// writes the first n.
    pub fn write_rows(
        &mut self,
        batch: &RecordBatch,
        rows: Range<usize>,
        out: &mut Vec<u8>,
    ) -> Result<(), ArrowError> {
        let schema = batch.schema_ref();
        self.common.prepare(schema);
        if self.header && !self.header_done {
            for (i, name) in self.common.key_names.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                push_csv_str(out, name);
            }
            out.push(b'\n');
        }
        self.header_done = true;
        let common = &mut self.common;
        let cols = plan(batch, &common.key_names, &common.keys);
        csv_rows(&cols, clamp(rows, batch.num_rows()), out, &mut common.dates);
        Ok(())
    }

    /// Writes every row of `batch` to `w`, through a reused buffer.
    pub fn write_batch_to(
        &mut self,
        batch: &RecordBatch,
        w: &mut impl Write,
    ) -> Result<(), ArrowError> {
        self.write_rows_to(batch, 0..batch.num_rows(), w)
    }

    /// Writes the rows in `rows` of `batch` to `w`.
    pub fn write_rows_to(
        &mut self,
        batch: &RecordBatch,
        rows: Range<usize>,
        w: &mut impl Write,
    ) -> Result<(), ArrowError> {
        let rows = clamp(rows, batch.num_rows());
        let mut buf = std::mem::take(&mut self.common.buf);
        let mut start = rows.start;
        let result = loop {
            buf.clear();
            let end = rows.end.min(start + CHUNK_ROWS);
            if let Err(e) = self.write_rows(batch, start..end, &mut buf) {
                break Err(e);
            }
            if let Err(e) = w.write_all(&buf) {
                break Err(e.into());
            }
            start = end;
            if start >= rows.end {
                break Ok(());
            }
        };
        self.common.buf = buf;
        result
    }
}

/// Writes batches as JSON lines: one object per row, keys the column names,
/// null values left out (as eddy's JSON leaves out absent L7 values).
pub struct JsonWriter {
    common: Common,
}

impl Default for JsonWriter {
    fn default() -> Self {
        JsonWriter::new()
    }
}

impl JsonWriter {
    /// Every column of each batch, in schema order.
    pub fn new() -> JsonWriter {
        JsonWriter {
            common: Common::new(Selection::All),
        }
    }

    /// The columns `names` in this order, checked against `schema`: unknown
    /// names are an error that lists them.
    pub fn with_columns(
        schema: &Schema,
        names: &[impl AsRef<str>],
    ) -> Result<JsonWriter, ArrowError> {
        Ok(JsonWriter {
            common: Common::new(Selection::checked(schema, names)?),
        })
    }

    /// Appends every row of `batch` to `out`.
    pub fn write_batch(
        &mut self,
        batch: &RecordBatch,
        out: &mut Vec<u8>,
    ) -> Result<(), ArrowError> {
        self.write_rows(batch, 0..batch.num_rows(), out)
    }

    /// Appends the rows in `rows` (cut to the batch) to `out`.
    pub fn write_rows(
        &mut self,
        batch: &RecordBatch,
        rows: Range<usize>,
        out: &mut Vec<u8>,
    ) -> Result<(), ArrowError> {
        self.common.prepare(batch.schema_ref());
        let common = &mut self.common;
        let cols = plan(batch, &common.key_names, &common.keys);
        json_rows(&cols, clamp(rows, batch.num_rows()), out, &mut common.dates);
        Ok(())
    }

    /// Writes every row of `batch` to `w`, through a reused buffer.
    pub fn write_batch_to(
        &mut self,
        batch: &RecordBatch,
        w: &mut impl Write,
    ) -> Result<(), ArrowError> {
        self.write_rows_to(batch, 0..batch.num_rows(), w)
    }

    /// Writes the rows in `rows` of `batch` to `w`.
    pub fn write_rows_to(
        &mut self,
        batch: &RecordBatch,
        rows: Range<usize>,
        w: &mut impl Write,
    ) -> Result<(), ArrowError> {
        let rows = clamp(rows, batch.num_rows());
        let mut buf = std::mem::take(&mut self.common.buf);
        let mut start = rows.start;
        let result = loop {
            buf.clear();
            let end = rows.end.min(start + CHUNK_ROWS);
            if let Err(e) = self.write_rows(batch, start..end, &mut buf) {
                break Err(e);
            }
            if let Err(e) = w.write_all(&buf) {
                break Err(e.into());
            }
            start = end;
            if start >= rows.end {
                break Ok(());
            }
        };
        self.common.buf = buf;
        result
    }
}
