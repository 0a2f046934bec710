//! Our own encoder for the store's required fixed-width columns (times
//! excepted): addresses, MACs, the exporter, ports, counters, interfaces.
//!
//! Why: parquet-rs's Arrow writer hands every fixed-size binary value over
//! as a `Bytes` of its own, interns it through a byte-slice hash map and
//! compares it with `memcmp` for the statistics; with integers it walks the
//! same generic paths per value. On collector data those 19 columns were
//! about 370 of the 420 ns a row cost to encode, the larger part of what
//! kept `eddy collect` from 2 M records/s on one core (BENCHMARKS.md).
//! Here a column chunk is turned into integer keys (a 16-byte address is a
//! `u128`, big-endian so that integer order is Parquet's unsigned byte
//! order), dictionary-encoded through an integer hash map, split into data
//! pages and compressed; the pages, statistics, column index and offset
//! index are then handed to parquet-rs's file writer
//! (`SerializedRowGroupWriter::append_column`), which writes the footer.
//!
//! The output is what parquet-rs would write with the same settings: format
//! 2.0 data pages, a PLAIN dictionary page and RLE_DICTIONARY indices (or
//! the column's encoding, PLAIN or deltas, when the dictionary is off or
//! would pass its size limit),
//! page statistics in the column index, chunk statistics in the metadata.
//! Only required (non-null) columns come here; everything else, and any
//! column whose settings this encoder does not cover (bloom filters, an
//! explicit encoding, codecs other than zstd), stays with parquet-rs.

use std::hash::Hash;

use arrow_array::cast::AsArray;
use arrow_array::types::{TimestampNanosecondType, UInt16Type, UInt32Type, UInt64Type, UInt8Type};
use arrow_array::Array;
use arrow_schema::{DataType, Field, TimeUnit};
use bytes::Bytes;
use parquet::basic::{BoundaryOrder, Compression, Encoding, EncodingMask, PageType, Type};
use parquet::column::page::{CompressedPage, Page, PageWriter};
use parquet::column::writer::ColumnCloseResult;
use parquet::data_type::{ByteArray, FixedLenByteArray};
use parquet::errors::{ParquetError, Result};
use parquet::file::metadata::{
    ColumnChunkMetaData, ColumnIndexBuilder, OffsetIndexBuilder, PageEncodingStats,
};
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterVersion};
use parquet::file::reader::{ChunkReader, Length};
use parquet::file::statistics::{Statistics, ValueStatistics};
use parquet::file::writer::{SerializedPageWriter, TrackedWrite};
use parquet::schema::types::ColumnDescPtr;

/// Whether the file-level settings let this encoder write `descr`'s
/// chunks at all.
fn settings_fit(descr: &ColumnDescPtr, props: &WriterProperties) -> bool {
    let path = descr.path();
    descr.max_rep_level() == 0
        && props.bloom_filter_properties(path).is_none()
        && props.statistics_enabled(path) == EnabledStatistics::Page
        && matches!(
            props.compression(path),
            Compression::ZSTD(_) | Compression::UNCOMPRESSED
        )
        && props.writer_version() == WriterVersion::PARQUET_2_0
}

/// Whether this encoder writes `field`'s column chunks under `props`
/// (required fixed-width columns).
pub(crate) fn supports(field: &Field, descr: &ColumnDescPtr, props: &WriterProperties) -> bool {
    let encoding = props.encoding(descr.path());
    let type_ok = match field.data_type() {
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => {
            encoding.is_none_or(|e| e == Encoding::PLAIN)
        }
        DataType::FixedSizeBinary(w) => {
            (1..=16).contains(w) && encoding.is_none_or(|e| e == Encoding::PLAIN)
        }
        // Times: a dictionary when enabled and small enough, else deltas
        // (or PLAIN).
        DataType::Timestamp(_, _) => {
            encoding.is_none_or(|e| matches!(e, Encoding::PLAIN | Encoding::DELTA_BINARY_PACKED))
        }
        _ => false,
    };
    !field.is_nullable() && descr.max_def_level() == 0 && type_ok && settings_fit(descr, props)
}

/// Whether this encoder writes a chunk of `descr` that is null throughout
/// (any type: no value is written).
pub(crate) fn supports_nulls(descr: &ColumnDescPtr, props: &WriterProperties) -> bool {
    descr.max_def_level() == 1 && settings_fit(descr, props)
}

/// Encodes a column [`supports`] accepted (no nulls) as one column chunk:
/// its values are `parts` one after the other, taken in `order` (indices
/// into that sequence) when given. Gathering the keys straight from the
/// parts spares the row group a sorted copy of every column. The chunk's
/// bytes are left in `scratch` ([`Scratch::chunk`]); what `append_column`
/// needs to place them is returned.
pub(crate) fn encode(
    descr: &ColumnDescPtr,
    parts: &[&dyn Array],
    order: Option<&[u32]>,
    props: &WriterProperties,
    scratch: &mut Scratch,
) -> Result<ColumnCloseResult> {
    if parts.iter().any(|a| a.null_count() != 0) {
        return Err(ParquetError::General(format!(
            "column {} has nulls but is required",
            descr.path()
        )));
    }
    let Some(data_type) = parts.first().map(|a| a.data_type().clone()) else {
        return Err(ParquetError::General(format!(
            "column {}: no rows",
            descr.path()
        )));
    };
    let mut keys = Keys::take(scratch);
    let result = match data_type.clone() {
        DataType::UInt8 => keys.u64(parts, order, |a, out| {
            out.extend(
                a.as_primitive::<UInt8Type>()
                    .values()
                    .iter()
                    .map(|&v| u64::from(v)),
            )
        }),
        DataType::UInt16 => keys.u64(parts, order, |a, out| {
            out.extend(
                a.as_primitive::<UInt16Type>()
                    .values()
                    .iter()
                    .map(|&v| u64::from(v)),
            )
        }),
        DataType::UInt32 => keys.u64(parts, order, |a, out| {
            out.extend(
                a.as_primitive::<UInt32Type>()
                    .values()
                    .iter()
                    .map(|&v| u64::from(v)),
            )
        }),
        DataType::UInt64 => keys.u64(parts, order, |a, out| {
            out.extend_from_slice(a.as_primitive::<UInt64Type>().values())
        }),
        DataType::Timestamp(TimeUnit::Nanosecond, _) => {
            keys.i64(parts, order, |a, out| {
                out.extend_from_slice(a.as_primitive::<TimestampNanosecondType>().values())
            });
            Ok(())
        }
        DataType::FixedSizeBinary(width) if width <= 8 => keys.u64(parts, order, |a, out| {
            let fsb = a.as_fixed_size_binary();
            let w = fsb.value_length() as usize;
            out.extend(
                fsb.value_data()[..fsb.len() * w]
                    .chunks_exact(w)
                    .map(be_u64),
            )
        }),
        DataType::FixedSizeBinary(_) => {
            keys.u128(parts, order, |a, out| {
                let fsb = a.as_fixed_size_binary();
                let w = fsb.value_length() as usize;
                out.extend(
                    fsb.value_data()[..fsb.len() * w]
                        .chunks_exact(w)
                        .map(be_u128),
                )
            });
            Ok(())
        }
        other => Err(ParquetError::General(format!(
            "no fast encoding for {other} (column {})",
            descr.path()
        ))),
    };
    let close = result.and_then(|()| {
        let layout = match data_type {
            DataType::UInt8 | DataType::UInt16 | DataType::UInt32 => Layout::Le(4),
            DataType::FixedSizeBinary(w) => Layout::Be(w as usize),
            _ => Layout::Le(8),
        };
        let encoder = ChunkEncoder::new(descr, props, scratch, layout);
        match data_type {
            DataType::Timestamp(_, _) => encoder.run(&keys.i64),
            DataType::FixedSizeBinary(w) if w > 8 => encoder.run(&keys.u128),
            _ => encoder.run(&keys.u64),
        }
    });
    keys.give_back(scratch);
    close
}

/// A chunk's keys in row order, in vectors borrowed from [`Scratch`]
/// (`arrival` holds them in arrival order when they are reordered).
struct Keys {
    u64: Vec<u64>,
    i64: Vec<i64>,
    u128: Vec<u128>,
    arrival: Vec<u128>,
}

impl Keys {
    fn take(scratch: &mut Scratch) -> Keys {
        Keys {
            u64: std::mem::take(&mut scratch.keys64),
            i64: std::mem::take(&mut scratch.keys_i64),
            u128: std::mem::take(&mut scratch.keys128),
            arrival: std::mem::take(&mut scratch.arrival),
        }
    }

    fn give_back(self, scratch: &mut Scratch) {
        scratch.keys64 = self.u64;
        scratch.keys_i64 = self.i64;
        scratch.keys128 = self.u128;
        scratch.arrival = self.arrival;
    }

    fn u64(
        &mut self,
        parts: &[&dyn Array],
        order: Option<&[u32]>,
        fill: impl Fn(&dyn Array, &mut Vec<u64>),
    ) -> Result<()> {
        gather(
            parts,
            order,
            fill,
            &mut self.u64,
            &mut self.arrival,
            |k| k as u128,
            |w| w as u64,
        );
        Ok(())
    }

    fn i64(
        &mut self,
        parts: &[&dyn Array],
        order: Option<&[u32]>,
        fill: impl Fn(&dyn Array, &mut Vec<i64>),
    ) {
        gather(
            parts,
            order,
            fill,
            &mut self.i64,
            &mut self.arrival,
            |k| k as u128,
            |w| w as i64,
        );
    }

    fn u128(
        &mut self,
        parts: &[&dyn Array],
        order: Option<&[u32]>,
        fill: impl Fn(&dyn Array, &mut Vec<u128>),
    ) {
        gather(
            parts,
            order,
            fill,
            &mut self.u128,
            &mut self.arrival,
            |k| k,
            |w| w,
        );
    }
}

/// `out` = the values of `parts` in sequence, reordered by `order`; the
/// arrival-order copy goes through `arrival` (as u128, one buffer for every
/// key type).
fn gather<K: Copy>(
    parts: &[&dyn Array],
    order: Option<&[u32]>,
    fill: impl Fn(&dyn Array, &mut Vec<K>),
    out: &mut Vec<K>,
    arrival: &mut Vec<u128>,
    widen: impl Fn(K) -> u128,
    narrow: impl Fn(u128) -> K,
) {
    out.clear();
    for part in parts {
        fill(*part, out);
    }
    if let Some(order) = order {
        arrival.clear();
        arrival.extend(out.iter().map(|&k| widen(k)));
        out.clear();
        out.extend(order.iter().map(|&i| narrow(arrival[i as usize])));
    }
}

/// Encodes `rows` nulls of a column [`supports_nulls`] accepted.
pub(crate) fn encode_nulls(
    descr: &ColumnDescPtr,
    rows: usize,
    props: &WriterProperties,
    scratch: &mut Scratch,
) -> Result<ColumnCloseResult> {
    // The layout is never used: no value is written.
    let mut chunk = ChunkEncoder::new(descr, props, scratch, Layout::Le(0));
    let rows_per_page = props.data_page_row_count_limit().max(1);
    let mut start = 0;
    while start < rows {
        let n = rows_per_page.min(rows - start);
        // Definition levels (1 bit, all 0) as one RLE run, uncompressed in
        // a 2.0 page; the values section is empty.
        let mut levels = Vec::with_capacity(6);
        put_uleb((n as u64) << 1, &mut levels);
        levels.push(0);
        let values = chunk.scratch.zstd.compress(chunk.codec, &[])?;
        let levels_len = levels.len();
        levels.extend_from_slice(&values);
        let page = Page::DataPageV2 {
            buf: Bytes::from(levels),
            num_values: n as u32,
            encoding: Encoding::PLAIN,
            num_nulls: n as u32,
            num_rows: n as u32,
            def_levels_byte_len: levels_len as u32,
            rep_levels_byte_len: 0,
            is_compressed: chunk.is_compressed(),
            statistics: None,
        };
        chunk.write_data_page(CompressedPage::new(page, levels_len), Encoding::PLAIN, n)?;
        chunk.column_index.append(true, vec![], vec![], n as i64);
        start += n;
    }
    let statistics = Statistics::new::<i32>(None, None, None, Some(rows as u64), false);
    let statistics = match descr.physical_type() {
        Type::INT32 => statistics,
        Type::INT64 => Statistics::new::<i64>(None, None, None, Some(rows as u64), false),
        Type::BYTE_ARRAY => {
            Statistics::new::<ByteArray>(None, None, None, Some(rows as u64), false)
        }
        Type::FIXED_LEN_BYTE_ARRAY => {
            Statistics::new::<FixedLenByteArray>(None, None, None, Some(rows as u64), false)
        }
        Type::BOOLEAN => Statistics::new::<bool>(None, None, None, Some(rows as u64), false),
        Type::FLOAT => Statistics::new::<f32>(None, None, None, Some(rows as u64), false),
        Type::DOUBLE => Statistics::new::<f64>(None, None, None, Some(rows as u64), false),
        Type::INT96 => return Err(ParquetError::General("INT96 is not written".into())),
    };
    chunk.finish(
        rows,
        None,
        &[Encoding::PLAIN, Encoding::RLE],
        Some(statistics),
    )
}

fn be_u64(bytes: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    b[8 - bytes.len()..].copy_from_slice(bytes);
    u64::from_be_bytes(b)
}

fn be_u128(bytes: &[u8]) -> u128 {
    let mut b = [0u8; 16];
    b[16 - bytes.len()..].copy_from_slice(bytes);
    u128::from_be_bytes(b)
}

/// How a key is laid out as a PLAIN value: little-endian integers (INT32,
/// INT64) or big-endian fixed-size binaries, `width` bytes.
#[derive(Clone, Copy)]
enum Layout {
    Le(usize),
    Be(usize),
}

impl Layout {
    fn width(self) -> usize {
        match self {
            Layout::Le(w) | Layout::Be(w) => w,
        }
    }

    fn put(self, key: u128, out: &mut Vec<u8>) {
        match self {
            Layout::Le(w) => out.extend_from_slice(&key.to_le_bytes()[..w]),
            Layout::Be(w) => out.extend_from_slice(&key.to_be_bytes()[16 - w..]),
        }
    }

    /// [`Layout::put`] for many keys, with the width known in the loop.
    fn put_all<K: Key>(self, keys: &[K], out: &mut Vec<u8>) {
        fn fixed<const W: usize, K: Key>(keys: &[K], out: &mut Vec<u8>, be: bool) {
            out.reserve(keys.len() * W);
            for k in keys {
                let bytes: [u8; W] = match be {
                    true => k.bits().to_be_bytes()[16 - W..]
                        .try_into()
                        .expect("W <= 16"),
                    false => k.bits().to_le_bytes()[..W].try_into().expect("W <= 16"),
                };
                out.extend_from_slice(&bytes);
            }
        }
        match self {
            Layout::Le(4) => fixed::<4, K>(keys, out, false),
            Layout::Le(8) => fixed::<8, K>(keys, out, false),
            Layout::Be(6) => fixed::<6, K>(keys, out, true),
            Layout::Be(16) => fixed::<16, K>(keys, out, true),
            _ => keys.iter().for_each(|k| self.put(k.bits(), out)),
        }
    }

    fn bytes(self, key: u128) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.width());
        self.put(key, &mut out);
        out
    }
}

/// A column value as an integer whose order is the column's Parquet sort
/// order; `bits` is its PLAIN value (two's complement for `i64`).
trait Key: Copy + Eq + Hash + Ord {
    fn bits(self) -> u128;
}

impl Key for u8 {
    fn bits(self) -> u128 {
        self.into()
    }
}

impl Key for u16 {
    fn bits(self) -> u128 {
        self.into()
    }
}

impl Key for u32 {
    fn bits(self) -> u128 {
        self.into()
    }
}

impl Key for u64 {
    fn bits(self) -> u128 {
        self.into()
    }
}

impl Key for u128 {
    fn bits(self) -> u128 {
        self
    }
}

impl Key for i64 {
    fn bits(self) -> u128 {
        (self as u64).into()
    }
}

/// What encoding reuses from chunk to chunk: the zstd context, the
/// dictionary's map and vectors, the keys, the chunk's bytes. Fresh buffers
/// of these sizes (megabytes per column) cost page faults, and the kernel
/// zeroing huge pages was a fifth of the collector's time.
pub(crate) struct Scratch {
    zstd: Zstd,
    table: Slots,
    dictionary: Vec<u128>,
    indices: Vec<u32>,
    keys64: Vec<u64>,
    keys_i64: Vec<i64>,
    keys128: Vec<u128>,
    arrival: Vec<u128>,
    values: Vec<u8>,
    sink: Vec<u8>,
}

impl Scratch {
    pub(crate) fn new() -> Scratch {
        Scratch {
            zstd: Zstd::new(),
            table: Slots::new(),
            dictionary: Vec::new(),
            indices: Vec::new(),
            keys64: Vec::new(),
            keys_i64: Vec::new(),
            keys128: Vec::new(),
            arrival: Vec::new(),
            values: Vec::new(),
            sink: Vec::new(),
        }
    }

    /// The bytes of the chunk encoded last, for `append_column`.
    pub(crate) fn chunk(&self) -> ChunkBytes<'_> {
        ChunkBytes(&self.sink)
    }
}

/// A borrowed column chunk, readable by `append_column`.
pub(crate) struct ChunkBytes<'a>(&'a [u8]);

impl Length for ChunkBytes<'_> {
    fn len(&self) -> u64 {
        self.0.len() as u64
    }
}

impl<'a> ChunkReader for ChunkBytes<'a> {
    type T = &'a [u8];

    fn get_read(&self, start: u64) -> Result<&'a [u8]> {
        self.0
            .get(start as usize..)
            .ok_or_else(|| ParquetError::EOF(format!("offset {start} past the chunk")))
    }

    fn get_bytes(&self, start: u64, length: usize) -> Result<Bytes> {
        let start = start as usize;
        self.0
            .get(start..start.saturating_add(length))
            .map(Bytes::copy_from_slice)
            .ok_or_else(|| ParquetError::EOF(format!("{length} bytes at {start} past the chunk")))
    }
}

/// A reusable zstd context (or none, for uncompressed files).
struct Zstd {
    level: i32,
    context: Option<zstd::bulk::Compressor<'static>>,
}

impl Zstd {
    fn new() -> Zstd {
        Zstd {
            level: i32::MIN,
            context: None,
        }
    }

    /// `data` compressed with `codec` (which [`supports`] checked).
    fn compress(&mut self, codec: Compression, data: &[u8]) -> Result<Vec<u8>> {
        let Compression::ZSTD(level) = codec else {
            return Ok(data.to_vec());
        };
        let level = level.compression_level();
        if self.context.is_none() || self.level != level {
            let context = zstd::bulk::Compressor::new(level)
                .map_err(|e| ParquetError::External(Box::new(e)))?;
            self.context = Some(context);
            self.level = level;
        }
        let context = self.context.as_mut().expect("set above");
        context
            .compress(data)
            .map_err(|e| ParquetError::External(Box::new(e)))
    }
}

/// Where a page went, from the page writer's report.
#[derive(Clone, Copy)]
struct Written {
    page_type: PageType,
    offset: i64,
    compressed_size: i64,
    uncompressed_size: i64,
    bytes_written: u64,
}

/// How a chunk's values are encoded.
enum Values {
    Dictionary(Dictionary),
    Plain,
    Delta,
}

/// One column chunk being encoded.
struct ChunkEncoder<'a> {
    descr: &'a ColumnDescPtr,
    props: &'a WriterProperties,
    scratch: &'a mut Scratch,
    layout: Layout,
    codec: Compression,
    sink: TrackedWrite<Vec<u8>>,
    written: Vec<Written>,
    column_index: ColumnIndexBuilder,
    offset_index: OffsetIndexBuilder,
    encoding_stats: Vec<PageEncodingStats>,
    ascending: bool,
    descending: bool,
}

impl<'a> ChunkEncoder<'a> {
    fn new(
        descr: &'a ColumnDescPtr,
        props: &'a WriterProperties,
        scratch: &'a mut Scratch,
        layout: Layout,
    ) -> Self {
        let mut sink = std::mem::take(&mut scratch.sink);
        sink.clear();
        ChunkEncoder {
            descr,
            props,
            scratch,
            layout,
            codec: props.compression(descr.path()),
            sink: TrackedWrite::new(sink),
            written: Vec::new(),
            column_index: ColumnIndexBuilder::new(descr.physical_type()),
            offset_index: OffsetIndexBuilder::new(),
            encoding_stats: Vec::new(),
            ascending: true,
            descending: true,
        }
    }

    fn is_compressed(&self) -> bool {
        !matches!(self.codec, Compression::UNCOMPRESSED)
    }

    fn run<K: Key>(mut self, keys: &[K]) -> Result<ColumnCloseResult> {
        let path = self.descr.path();
        let width = self.layout.width();
        let rows_per_page = self
            .props
            .data_page_row_count_limit()
            .min(self.props.column_data_page_size_limit(path) / width)
            .max(1);
        // As parquet-rs does: the dictionary when enabled and within its
        // page limit, else the column's encoding.
        let fallback = match self.props.encoding(path) {
            Some(Encoding::DELTA_BINARY_PACKED) => Values::Delta,
            _ => Values::Plain,
        };
        let values = if self.props.dictionary_enabled(path) {
            let limit = self.props.column_dictionary_page_size_limit(path) / width;
            Dictionary::build(keys, limit.max(1), self.scratch).map_or(fallback, Values::Dictionary)
        } else {
            fallback
        };
        let mut dictionary_offset = None;
        let mut buf = std::mem::take(&mut self.scratch.values);
        if let Values::Dictionary(dict) = &values {
            buf.clear();
            self.layout.put_all(&dict.values, &mut buf);
            let compressed = self.scratch.zstd.compress(self.codec, &buf)?;
            let page = Page::DictionaryPage {
                buf: Bytes::from(compressed),
                num_values: dict.values.len() as u32,
                encoding: Encoding::PLAIN,
                is_sorted: false,
            };
            let written = self.write(CompressedPage::new(page, buf.len()))?;
            dictionary_offset = Some(written.offset);
            self.encoding_stats.push(PageEncodingStats {
                page_type: PageType::DICTIONARY_PAGE,
                encoding: Encoding::PLAIN,
                count: 1,
            });
        }
        let mut last_page: Option<(K, K)> = None;
        let mut chunk_bounds: Option<(K, K)> = None;
        for (page, start) in keys.chunks(rows_per_page).zip((0..).step_by(rows_per_page)) {
            buf.clear();
            let encoding = match &values {
                Values::Dictionary(dict) => {
                    let indices = &dict.indices[start..start + page.len()];
                    let bits = bit_width(dict.values.len() as u32 - 1);
                    buf.push(bits);
                    encode_hybrid(indices, bits, &mut buf);
                    Encoding::RLE_DICTIONARY
                }
                Values::Plain => {
                    self.layout.put_all(page, &mut buf);
                    Encoding::PLAIN
                }
                Values::Delta => {
                    encode_delta(page, &mut buf);
                    Encoding::DELTA_BINARY_PACKED
                }
            };
            let (min, max) = min_max(page);
            chunk_bounds = Some(match chunk_bounds {
                None => (min, max),
                Some((lo, hi)) => (lo.min(min), hi.max(max)),
            });
            if let Some((last_min, last_max)) = last_page {
                self.ascending &= last_min <= min && last_max <= max;
                self.descending &= last_min >= min && last_max >= max;
            }
            last_page = Some((min, max));
            let (min_bytes, max_bytes) =
                (self.layout.bytes(min.bits()), self.layout.bytes(max.bits()));
            self.column_index.append(false, min_bytes, max_bytes, 0);
            let compressed = self.scratch.zstd.compress(self.codec, &buf)?;
            let rows = page.len() as u32;
            let page = Page::DataPageV2 {
                buf: Bytes::from(compressed),
                num_values: rows,
                encoding,
                num_nulls: 0,
                num_rows: rows,
                def_levels_byte_len: 0,
                rep_levels_byte_len: 0,
                is_compressed: self.is_compressed(),
                statistics: None,
            };
            self.write_data_page(
                CompressedPage::new(page, buf.len()),
                encoding,
                rows as usize,
            )?;
        }
        self.scratch.values = buf;
        let statistics = chunk_bounds.map(|(min, max)| self.statistics(min.bits(), max.bits()));
        let encodings: &[Encoding] = match &values {
            Values::Dictionary(_) => &[Encoding::PLAIN, Encoding::RLE, Encoding::RLE_DICTIONARY],
            Values::Plain => &[Encoding::PLAIN, Encoding::RLE],
            Values::Delta => &[Encoding::RLE, Encoding::DELTA_BINARY_PACKED],
        };
        if let Values::Dictionary(dict) = values {
            self.scratch.dictionary = dict.values;
            self.scratch.indices = dict.indices;
        }
        self.finish(keys.len(), dictionary_offset, encodings, statistics)
    }

    fn write(&mut self, page: CompressedPage) -> Result<Written> {
        let spec = SerializedPageWriter::new(&mut self.sink).write_page(page)?;
        let written = Written {
            page_type: spec.page_type,
            offset: spec.offset as i64,
            compressed_size: spec.compressed_size as i64,
            uncompressed_size: spec.uncompressed_size as i64,
            bytes_written: spec.bytes_written,
        };
        self.written.push(written);
        Ok(written)
    }

    /// Writes a data page of `rows` rows and notes it in the offset index
    /// and encoding statistics (the column index entry is the caller's).
    fn write_data_page(
        &mut self,
        page: CompressedPage,
        encoding: Encoding,
        rows: usize,
    ) -> Result<()> {
        let written = self.write(page)?;
        self.offset_index
            .append_offset_and_size(written.offset, written.compressed_size as i32);
        self.offset_index.append_row_count(rows as i64);
        match self.encoding_stats.last_mut() {
            Some(s) if s.page_type == PageType::DATA_PAGE_V2 => s.count += 1,
            _ => self.encoding_stats.push(PageEncodingStats {
                page_type: PageType::DATA_PAGE_V2,
                encoding,
                count: 1,
            }),
        }
        Ok(())
    }

    fn finish(
        mut self,
        rows: usize,
        dictionary_offset: Option<i64>,
        encodings: &[Encoding],
        statistics: Option<Statistics>,
    ) -> Result<ColumnCloseResult> {
        self.column_index.set_boundary_order(if self.ascending {
            BoundaryOrder::ASCENDING
        } else if self.descending {
            BoundaryOrder::DESCENDING
        } else {
            BoundaryOrder::UNORDERED
        });
        let data_offset = self
            .written
            .iter()
            .find(|s| s.page_type == PageType::DATA_PAGE_V2)
            .map_or(0, |s| s.offset);
        let mut metadata = ColumnChunkMetaData::builder(self.descr.clone())
            .set_compression(self.codec)
            .set_encodings_mask(EncodingMask::new_from_encodings(encodings.iter()))
            .set_page_encoding_stats(self.encoding_stats)
            .set_total_compressed_size(self.written.iter().map(|s| s.compressed_size).sum())
            .set_total_uncompressed_size(self.written.iter().map(|s| s.uncompressed_size).sum())
            .set_num_values(rows as i64)
            .set_data_page_offset(data_offset)
            .set_dictionary_page_offset(dictionary_offset);
        if let Some(statistics) = statistics {
            metadata = metadata.set_statistics(statistics);
        }
        let bytes_written = self.written.iter().map(|s| s.bytes_written).sum();
        self.scratch.sink = self
            .sink
            .into_inner()
            .map_err(|e| ParquetError::General(format!("column buffer: {e}")))?;
        Ok(ColumnCloseResult {
            bytes_written,
            rows_written: rows as u64,
            metadata: metadata.build()?,
            bloom_filter: None,
            column_index: Some(self.column_index.build()?),
            offset_index: Some(self.offset_index.build()),
        })
    }

    /// Chunk statistics with the column's physical type; signed columns
    /// (times) also fill the deprecated min/max, as parquet-rs does.
    fn statistics(&self, min: u128, max: u128) -> Statistics {
        match self.descr.physical_type() {
            Type::INT32 => Statistics::new(
                Some(min as u32 as i32),
                Some(max as u32 as i32),
                None,
                Some(0),
                false,
            ),
            Type::INT64 => {
                let stats = ValueStatistics::new(
                    Some(min as u64 as i64),
                    Some(max as u64 as i64),
                    None,
                    Some(0),
                    false,
                );
                stats
                    .with_backwards_compatible_min_max(self.descr.sort_order().is_signed())
                    .into()
            }
            _ => Statistics::new(
                Some(FixedLenByteArray::from(self.layout.bytes(min))),
                Some(FixedLenByteArray::from(self.layout.bytes(max))),
                None,
                Some(0),
                false,
            ),
        }
    }
}

/// DELTA_BINARY_PACKED for `values`: blocks of 256 deltas in 4 miniblocks
/// of 64 (parquet-rs's shape for 64-bit values), each miniblock bit-packed
/// at its own width after the block's minimum delta is taken off.
fn encode_delta<K: Key>(values: &[K], out: &mut Vec<u8>) {
    const BLOCK: usize = 256;
    const MINIBLOCKS: usize = 4;
    const MINI: usize = BLOCK / MINIBLOCKS;
    let as_i64 = |k: K| k.bits() as u64 as i64;
    put_uleb(BLOCK as u64, out);
    put_uleb(MINIBLOCKS as u64, out);
    put_uleb(values.len() as u64, out);
    let Some(&first) = values.first() else {
        put_uleb(0, out);
        return;
    };
    put_uleb(zigzag(as_i64(first)), out);
    let mut deltas = [0i64; BLOCK];
    let mut previous = as_i64(first);
    for block in values[1..].chunks(BLOCK) {
        for (d, &v) in deltas.iter_mut().zip(block) {
            let v = as_i64(v);
            *d = v.wrapping_sub(previous);
            previous = v;
        }
        let deltas = &deltas[..block.len()];
        let min = deltas.iter().copied().min().unwrap_or(0);
        put_uleb(zigzag(min), out);
        let widths_at = out.len();
        out.extend_from_slice(&[0; MINIBLOCKS]);
        for (m, mini) in deltas.chunks(MINI).enumerate() {
            let max = mini
                .iter()
                .map(|&d| d.wrapping_sub(min) as u64)
                .max()
                .unwrap_or(0);
            let bits = 64 - max.leading_zeros();
            out[widths_at + m] = bits as u8;
            // A short last miniblock is padded to its full size.
            let mut acc: u128 = 0;
            let mut filled = 0u32;
            for i in 0..MINI {
                let v = mini.get(i).map_or(0, |&d| d.wrapping_sub(min) as u64);
                acc |= u128::from(v) << filled;
                filled += bits;
                while filled >= 8 {
                    out.push(acc as u8);
                    acc >>= 8;
                    filled -= 8;
                }
            }
        }
    }
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn min_max<K: Key>(keys: &[K]) -> (K, K) {
    let mut min = keys[0];
    let mut max = keys[0];
    for &k in keys {
        min = min.min(k);
        max = max.max(k);
    }
    (min, max)
}

/// A chunk's distinct values in order of first appearance (as
/// [`Key::bits`]), and each row's index into them.
struct Dictionary {
    values: Vec<u128>,
    indices: Vec<u32>,
}

impl Dictionary {
    /// None when there are more than `limit` distinct values (the
    /// column's own encoding then).
    /// The table and vectors come from `scratch` (and go back to it).
    fn build<K: Key>(keys: &[K], limit: usize, scratch: &mut Scratch) -> Option<Dictionary> {
        let table = &mut scratch.table;
        table.reset();
        let mut values = std::mem::take(&mut scratch.dictionary);
        let mut indices = std::mem::take(&mut scratch.indices);
        values.clear();
        indices.clear();
        indices.reserve(keys.len());
        // Hashes of the next rows, computed (and their slots prefetched)
        // `AHEAD` rows early.
        let mut hashes = [0u64; AHEAD];
        for (i, &k) in keys.iter().take(AHEAD).enumerate() {
            hashes[i] = table.hash(k.bits());
        }
        let mut last: Option<(K, u32)> = None;
        for (i, &k) in keys.iter().enumerate() {
            let hash = hashes[i % AHEAD];
            if let Some(&ahead) = keys.get(i + AHEAD) {
                hashes[i % AHEAD] = table.hash(ahead.bits());
                table.prefetch(hashes[i % AHEAD]);
            }
            // Runs of one value (the exporter, unused fields) skip the table.
            let index = match last {
                Some((lk, li)) if lk == k => li,
                _ => {
                    let index = match table.find(hash, k.bits(), &values) {
                        Ok(index) => index,
                        Err(slot) => {
                            if values.len() == limit {
                                scratch.dictionary = values;
                                scratch.indices = indices;
                                return None;
                            }
                            values.push(k.bits());
                            table.insert(slot, &values);
                            values.len() as u32 - 1
                        }
                    };
                    last = Some((k, index));
                    index
                }
            };
            indices.push(index);
        }
        Some(Dictionary { values, indices })
    }
}

/// How many rows ahead [`Dictionary::build`] prefetches.
const AHEAD: usize = 8;

/// Where each distinct key of a chunk sits in its dictionary: open
/// addressing with linear probing over slots that hold `index + 1` (0 is
/// empty); the keys themselves are the dictionary's values. At four bytes
/// a slot, a row group's table (tens of thousands of addresses) stays in
/// the L2 cache, where hashbrown's 32-byte `(u128, u32)` buckets did not,
/// and the slots of the rows ahead are prefetched: the lookups were a
/// tenth of the collector's time (BENCHMARKS.md). The hash is seeded per
/// process, so crafted addresses cannot make the probes long.
struct Slots {
    slots: Vec<u32>,
    /// 64 minus log2 of the slot count: a hash's top bits pick its slot.
    shift: u32,
    hasher: foldhash::fast::RandomState,
}

impl Slots {
    /// log2 of the slots a chunk starts with (16 KiB); doubled as needed.
    const FIRST_BITS: u32 = 12;

    fn new() -> Slots {
        Slots {
            slots: Vec::new(),
            shift: 64 - Slots::FIRST_BITS,
            hasher: foldhash::fast::RandomState::default(),
        }
    }

    fn reset(&mut self) {
        self.resize(Slots::FIRST_BITS);
    }

    fn resize(&mut self, bits: u32) {
        self.slots.clear();
        self.slots.resize(1 << bits, 0);
        self.shift = 64 - bits;
    }

    fn hash(&self, key: u128) -> u64 {
        use std::hash::BuildHasher;
        self.hasher.hash_one(key)
    }

    fn home(&self, hash: u64) -> usize {
        (hash >> self.shift) as usize
    }

    fn prefetch(&self, hash: u64) {
        let slot = self.slots.as_ptr().wrapping_add(self.home(hash));
        record::text::prefetch(slot.cast());
    }

    /// `key`'s dictionary index, or the empty slot where it goes.
    fn find(&self, hash: u64, key: u128, values: &[u128]) -> Result<u32, usize> {
        let mask = self.slots.len() - 1;
        let mut at = self.home(hash);
        loop {
            match self.slots[at] {
                0 => return Err(at),
                s if values[s as usize - 1] == key => return Ok(s - 1),
                _ => at = (at + 1) & mask,
            }
        }
    }

    /// Points the empty `slot` (from [`Slots::find`]) at the last of
    /// `values`, and doubles the table when it is half full.
    fn insert(&mut self, slot: usize, values: &[u128]) {
        self.slots[slot] = values.len() as u32;
        if values.len() * 2 > self.slots.len() {
            let bits = self.slots.len().trailing_zeros() + 1;
            self.resize(bits);
            for (i, &v) in values.iter().enumerate() {
                // Dictionary values are distinct: each finds an empty slot.
                if let Err(empty) = self.find(self.hash(v), v, &values[..i]) {
                    self.slots[empty] = i as u32 + 1;
                }
            }
        }
    }
}

/// Bits needed for values up to `max`.
fn bit_width(max: u32) -> u8 {
    (32 - max.leading_zeros()) as u8
}

/// Appends `values` in Parquet's RLE / bit-packing hybrid at `bits` bits
/// per value: runs of at least 8 equal values as RLE runs, the rest as
/// bit-packed groups of 8 (the last group padded with zeros, which readers
/// ignore past the page's value count).
fn encode_hybrid(values: &[u32], bits: u8, out: &mut Vec<u8>) {
    let value_bytes = (bits as usize).div_ceil(8);
    let mut packed: Vec<u32> = Vec::new();
    let mut i = 0;
    while i < values.len() {
        let v = values[i];
        let run = values[i..].iter().take_while(|&&x| x == v).count();
        if run >= 8 {
            flush_packed(&mut packed, bits, out);
            put_uleb((run as u64) << 1, out);
            out.extend_from_slice(&v.to_le_bytes()[..value_bytes]);
            i += run;
        } else {
            let end = (i + 8).min(values.len());
            packed.extend_from_slice(&values[i..end]);
            packed.resize(packed.len().next_multiple_of(8), 0);
            i = end;
            if packed.len() == 63 * 8 {
                flush_packed(&mut packed, bits, out);
            }
        }
    }
    flush_packed(&mut packed, bits, out);
}

/// Writes the pending groups of 8 as one bit-packed run.
fn flush_packed(packed: &mut Vec<u32>, bits: u8, out: &mut Vec<u8>) {
    if packed.is_empty() {
        return;
    }
    put_uleb(((packed.len() / 8) as u64) << 1 | 1, out);
    let mut acc: u64 = 0;
    let mut filled = 0u32;
    for &v in packed.iter() {
        acc |= u64::from(v) << filled;
        filled += u32::from(bits);
        while filled >= 8 {
            out.push(acc as u8);
            acc >>= 8;
            filled -= 8;
        }
    }
    // Groups of 8 values fill whole bytes: nothing is left over.
    debug_assert_eq!(filled, 0);
    packed.clear();
}

fn put_uleb(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes the hybrid encoding (a reference for the tests).
    fn decode_hybrid(mut data: &[u8], bits: u8, n: usize) -> Vec<u32> {
        let mut out = Vec::new();
        let value_bytes = (bits as usize).div_ceil(8);
        while out.len() < n {
            let mut header = 0u64;
            let mut shift = 0;
            loop {
                let b = data[0];
                data = &data[1..];
                header |= u64::from(b & 0x7f) << shift;
                shift += 7;
                if b < 0x80 {
                    break;
                }
            }
            if header & 1 == 0 {
                let mut v = [0u8; 4];
                v[..value_bytes].copy_from_slice(&data[..value_bytes]);
                data = &data[value_bytes..];
                out.extend(std::iter::repeat_n(
                    u32::from_le_bytes(v),
                    (header >> 1) as usize,
                ));
            } else {
                let count = (header >> 1) as usize * 8;
                let bytes = count * bits as usize / 8;
                let mut acc: u128 = 0;
                let mut have = 0;
                let mut src = data[..bytes].iter();
                for _ in 0..count {
                    while have < u32::from(bits) {
                        acc |= u128::from(*src.next().unwrap()) << have;
                        have += 8;
                    }
                    out.push((acc & ((1u128 << bits) - 1)) as u32);
                    acc >>= bits;
                    have -= u32::from(bits);
                }
                data = &data[bytes..];
            }
        }
        out.truncate(n);
        out
    }

    #[test]
    fn the_hybrid_encoding_round_trips_runs_and_mixed_values() {
        let mut cases: Vec<(Vec<u32>, u8)> = vec![
            (vec![0; 100], 0),
            (vec![5; 3], 3),
            ((0..100).collect(), 7),
            ((0..1000).map(|i| i % 7).collect(), 3),
            (
                (0..2000)
                    .map(|i| if i % 50 < 20 { 9 } else { i % 16 })
                    .collect(),
                4,
            ),
            ((0..700).map(|i| i * 7919 % 70000).collect(), 17),
        ];
        cases.push((
            (0..5000u32)
                .map(|i| i.wrapping_mul(2654435761) >> 8)
                .collect(),
            24,
        ));
        for (values, bits) in cases {
            let mut out = Vec::new();
            encode_hybrid(&values, bits, &mut out);
            assert_eq!(
                decode_hybrid(&out, bits, values.len()),
                values,
                "bits {bits}"
            );
        }
    }

    #[test]
    fn a_dictionary_keeps_first_appearance_order_as_its_table_grows() {
        // 30,000 IPv4-mapped addresses, each twice, in a scrambled order:
        // the table doubles several times from its first 4,096 slots.
        let mapped = 0xffff_u128 << 32;
        let keys: Vec<u128> = (0..60_000u128)
            .map(|i| mapped | ((i * 7_919) % 30_000))
            .collect();
        let mut scratch = Scratch::new();
        let d = Dictionary::build(&keys, 1 << 20, &mut scratch).unwrap();
        assert_eq!(d.values.len(), 30_000);
        let mut first = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for &k in &keys {
            if seen.insert(k) {
                first.push(k);
            }
        }
        assert_eq!(d.values, first);
        assert!(d
            .indices
            .iter()
            .zip(&keys)
            .all(|(&i, &k)| d.values[i as usize] == k));
        // The scratch table is reused: a second chunk starts empty.
        let small = Dictionary::build(&[5u64, 5, 6], 10, &mut scratch).unwrap();
        assert_eq!((small.values, small.indices), (vec![5, 6], vec![0, 0, 1]));
    }

    #[test]
    fn a_dictionary_gives_up_past_its_limit() {
        let keys: Vec<u64> = (0..100).map(|i| i % 10).collect();
        let mut scratch = Scratch::new();
        let d = Dictionary::build(&keys, 10, &mut scratch).unwrap();
        assert_eq!(d.values.len(), 10);
        assert!(d
            .indices
            .iter()
            .zip(&keys)
            .all(|(&i, &k)| d.values[i as usize] == u128::from(k)));
        assert!(Dictionary::build(&keys, 9, &mut scratch).is_none());
    }
}
