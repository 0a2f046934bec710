//! Batch operations that skip columns null in every row. Flow batches have
//! about 60 L7 columns of which a batch usually uses a handful; gathering
//! the offsets and validity of the others row by row was a tenth of a
//! filter module's time. A column that is null throughout is made null
//! directly instead.

use std::sync::Arc;

use arrow_array::{
    make_array, new_null_array, Array, ArrayRef, BooleanArray, RecordBatch, StringArray,
};
use arrow_buffer::{BooleanBuffer, Buffer, MutableBuffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow_data::transform::MutableArrayData;
use arrow_data::ArrayData;
use arrow_schema::{ArrowError, DataType, SchemaRef};

fn all_null(a: &dyn Array) -> bool {
    a.null_count() == a.len()
}

/// The rows of `batch` where `mask` is true (`filter_record_batch`).
pub fn filter(batch: &RecordBatch, mask: &BooleanArray) -> Result<RecordBatch, ArrowError> {
    if mask.len() != batch.num_rows() {
        return Err(ArrowError::InvalidArgumentError(format!(
            "filter: a mask of {} rows for a batch of {}",
            mask.len(),
            batch.num_rows()
        )));
    }
    let n = mask.true_count();
    if n == batch.num_rows() {
        return Ok(batch.clone());
    }
    let predicate = arrow_select::filter::FilterBuilder::new(mask)
        .optimize()
        .build();
    // Nulls in the mask select nothing, as in arrow's filter.
    let selection = match mask.nulls() {
        Some(nulls) => mask.values() & nulls.inner(),
        None => mask.values().clone(),
    };
    // The selected rows, listed once for every string column (and only
    // for a batch that has one).
    let mut rows: Option<Vec<u32>> = None;
    let columns = batch
        .columns()
        .iter()
        .map(|c| {
            if all_null(c.as_ref()) {
                return Ok(new_null_array(c.data_type(), n));
            }
            let kept_nulls = || {
                let nulls = c.nulls().filter(|v| v.null_count() > 0);
                nulls.map(|v| NullBuffer::new(select_bits(v.inner(), &selection)))
            };
            if let Some(strings) = c.as_any().downcast_ref::<StringArray>() {
                let rows =
                    rows.get_or_insert_with(|| selection.set_indices().map(|i| i as u32).collect());
                Ok(Arc::new(filter_strings(strings, rows, kept_nulls())) as ArrayRef)
            } else if has_flat_values(c.data_type()) {
                filter_flat(&predicate, c, kept_nulls())
            } else {
                predicate.filter(c.as_ref())
            }
        })
        .collect::<Result<Vec<ArrayRef>, ArrowError>>()?;
    RecordBatch::try_new(batch.schema(), columns)
}

/// Whether an array of `t` holds a value in every slot, null or not, and
/// nothing else (no offsets, no children): primitives and fixed-size
/// binaries.
fn has_flat_values(t: &DataType) -> bool {
    t.is_primitive() || matches!(t, DataType::FixedSizeBinary(_))
}

/// The selected rows of a column of [`has_flat_values`], `nulls` their
/// validity. Arrow's filter picks a column's validity bit by bit (a tenth
/// of the filter module's time, with twenty-odd nullable L7 numbers), so
/// the values are filtered without their nulls, and the nulls, picked by
/// [`select_bits`], put back.
fn filter_flat(
    predicate: &arrow_select::filter::FilterPredicate,
    column: &ArrayRef,
    nulls: Option<NullBuffer>,
) -> Result<ArrayRef, ArrowError> {
    let Some(nulls) = nulls else {
        return predicate.filter(column.as_ref());
    };
    // SAFETY: the column's type has flat values (the caller checks), so
    // without its validity the data is still a valid array.
    let values = make_array(unsafe {
        column
            .to_data()
            .into_builder()
            .nulls(None)
            .build_unchecked()
    });
    let kept = predicate.filter(values.as_ref())?;
    Ok(make_array(
        kept.into_data().into_builder().nulls(Some(nulls)).build()?,
    ))
}

/// The bits of `bits` where `selection` (of the same length) is set, packed
/// in order: a validity bitmap filtered by a mask.
fn select_bits(bits: &BooleanBuffer, selection: &BooleanBuffer) -> BooleanBuffer {
    let mut out = BitPacker::with_capacity(selection.count_set_bits());
    pick_all(word_pairs(bits, selection), &mut out);
    out.finish()
}

/// The 64-bit words of `bits` and of `selection` side by side, the last
/// ones partial (zeros past the end).
fn word_pairs<'a>(
    bits: &'a BooleanBuffer,
    selection: &'a BooleanBuffer,
) -> impl Iterator<Item = (u64, u64)> + 'a {
    let words = bits.inner().bit_chunks(bits.offset(), bits.len());
    let picks = selection
        .inner()
        .bit_chunks(selection.offset(), selection.len());
    let tail = (words.remainder_bits(), picks.remainder_bits());
    words.into_iter().zip(picks).chain(std::iter::once(tail))
}

/// [`pick`]s every (bits, selection) word pair into `out`, with the CPU's
/// bit-extract instruction where it has a fast one.
fn pick_all(pairs: impl Iterator<Item = (u64, u64)>, out: &mut BitPacker) {
    #[cfg(target_arch = "x86_64")]
    if fast_pext() {
        // SAFETY: `fast_pext` is true only on a CPU with BMI2.
        unsafe { pick_all_bmi2(pairs, out) };
        return;
    }
    pick_all_portable(pairs, out);
}

fn pick_all_portable(pairs: impl Iterator<Item = (u64, u64)>, out: &mut BitPacker) {
    for (word, selected) in pairs {
        out.push(pick(word, selected), selected.count_ones());
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "bmi2")]
unsafe fn pick_all_bmi2(pairs: impl Iterator<Item = (u64, u64)>, out: &mut BitPacker) {
    for (word, selected) in pairs {
        out.push(
            std::arch::x86_64::_pext_u64(word, selected),
            selected.count_ones(),
        );
    }
}

/// Whether the CPU has BMI2's bit extract (`pext`) and it is fast: on AMD
/// and Hygon CPUs before Zen 3 (family 19h) it is microcoded, tens to
/// hundreds of cycles by the number of bits selected, slower than the
/// portable loop. Asked once (CPUID traps to the hypervisor in a VM).
#[cfg(target_arch = "x86_64")]
fn fast_pext() -> bool {
    static FAST: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *FAST.get_or_init(|| {
        if !std::arch::is_x86_feature_detected!("bmi2") {
            return false;
        }
        // SAFETY: CPUID exists on every x86-64 CPU; leaves 0 and 1 always.
        #[allow(unused_unsafe)]
        let (vendor, signature) =
            unsafe { (std::arch::x86_64::__cpuid(0), std::arch::x86_64::__cpuid(1)) };
        let name = [vendor.ebx, vendor.edx, vendor.ecx];
        let amd = name == [0x6874_7541, 0x6974_6e65, 0x444d_4163]; // AuthenticAMD
        let hygon = name == [0x6f67_7948, 0x6e65_476e, 0x656e_6975]; // HygonGenuine
        !(amd || hygon) || cpu_family(signature.eax) >= 0x19
    })
}

/// The family in CPUID leaf 1's EAX: the base family, plus the extended
/// family when the base is 0xF.
#[cfg(any(target_arch = "x86_64", test))]
fn cpu_family(eax: u32) -> u32 {
    let base = (eax >> 8) & 0xf;
    match base {
        0xf => base + ((eax >> 20) & 0xff),
        _ => base,
    }
}

/// The bits of `word` where `selected` is set, packed into the low bits.
fn pick(word: u64, mut selected: u64) -> u64 {
    let mut picked = 0;
    let mut at = 0;
    while selected != 0 {
        picked |= ((word >> selected.trailing_zeros()) & 1) << at;
        at += 1;
        selected &= selected - 1;
    }
    picked
}

/// Appends runs of up to 64 bits to a bitmap.
struct BitPacker {
    words: Vec<u64>,
    /// Bits not yet in `words`, in its low `fill` bits.
    pending: u64,
    fill: u32,
    len: usize,
}

impl BitPacker {
    fn with_capacity(bits: usize) -> BitPacker {
        BitPacker {
            words: Vec::with_capacity(bits.div_ceil(64)),
            pending: 0,
            fill: 0,
            len: 0,
        }
    }

    /// Appends the low `n` bits of `bits` (the rest zero), `n` at most 64.
    #[inline(always)]
    fn push(&mut self, bits: u64, n: u32) {
        if n == 0 {
            return;
        }
        self.len += n as usize;
        self.pending |= bits << self.fill;
        let fill = self.fill + n;
        if fill >= 64 {
            self.words.push(self.pending);
            // The bits that did not fit (none when `fill` was 0).
            self.pending = bits.checked_shr(64 - self.fill).unwrap_or(0);
            self.fill = fill - 64;
        } else {
            self.fill = fill;
        }
    }

    /// Appends `n` bits of `bytes` (a bitmap, least significant bit first)
    /// from bit `start`: whole words, not a bit or a byte at a time.
    fn push_range(&mut self, bytes: &[u8], start: usize, n: usize) {
        let (mut at, end) = (start, start + n);
        while at < end {
            // A word read from the byte holding `at` has at least 56 of
            // its bits from `at` on.
            let take = (end - at).min(56);
            let word = read_word(bytes, at / 8) >> (at % 8);
            self.push(word & (u64::MAX >> (64 - take)), take as u32);
            at += take;
        }
    }

    /// Appends `n` set bits.
    fn push_ones(&mut self, mut n: usize) {
        while n > 0 {
            let take = n.min(64);
            self.push(u64::MAX >> (64 - take), take as u32);
            n -= take;
        }
    }

    fn finish(mut self) -> BooleanBuffer {
        if self.fill > 0 {
            self.words.push(self.pending);
        }
        BooleanBuffer::new(Buffer::from_vec(self.words), 0, self.len)
    }
}

/// The eight bytes of `bytes` from `at` as a little-endian word, zeros
/// past the end.
#[inline(always)]
fn read_word(bytes: &[u8], at: usize) -> u64 {
    match bytes.get(at..at + 8) {
        Some(b) => u64::from_le_bytes(b.try_into().unwrap_or([0; 8])),
        None => {
            let mut b = [0u8; 8];
            let rest = bytes.get(at..).unwrap_or(&[]);
            b[..rest.len()].copy_from_slice(rest);
            u64::from_le_bytes(b)
        }
    }
}

/// The rows `rows` (rising, each below the array's length) of `strings`,
/// with `nulls` their validity. Selected rows whose bytes follow each
/// other in the source (consecutive rows, or rows apart by only empty or
/// null ones, as in most L7 columns) are copied at once: arrow's filter
/// copies each row's bytes on its own, a tenth of the filter module's time.
fn filter_strings(strings: &StringArray, rows: &[u32], nulls: Option<NullBuffer>) -> StringArray {
    let offsets: &[i32] = strings.value_offsets();
    let bytes = strings.value_data();
    let mut out_offsets: Vec<i32> = Vec::with_capacity(rows.len() + 1);
    out_offsets.push(0);
    let mut values: Vec<u8> = Vec::new();
    let mut end = 0i32;
    // The source bytes not yet copied: one range grown while rows adjoin.
    let (mut from, mut to) = (0usize, 0usize);
    for &i in rows {
        let i = i as usize;
        let (start, stop) = (offsets[i], offsets[i + 1]);
        end += stop - start;
        out_offsets.push(end);
        if start as usize != to {
            values.extend_from_slice(&bytes[from..to]);
            from = start as usize;
        }
        to = stop as usize;
    }
    values.extend_from_slice(&bytes[from..to]);
    // SAFETY: the offsets add up the selected rows' lengths from 0, so they
    // rise and end at the length of `values`, which holds exactly those
    // rows' bytes in order: whole values of a valid string array, so each
    // value is valid UTF-8. The validity has one bit per selected row.
    unsafe {
        StringArray::new_unchecked(
            OffsetBuffer::new_unchecked(ScalarBuffer::from(out_offsets)),
            Buffer::from_vec(values),
            nulls,
        )
    }
}

/// One batch of all of `batches` (same schema), in order.
pub fn concat(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<RecordBatch, ArrowError> {
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    let mut columns = Vec::with_capacity(schema.fields().len());
    let mut arrays: Vec<&dyn Array> = Vec::with_capacity(batches.len());
    for (i, field) in schema.fields().iter().enumerate() {
        arrays.clear();
        arrays.extend(batches.iter().map(|b| b.column(i).as_ref()));
        if arrays.iter().all(|a| all_null(*a)) {
            columns.push(new_null_array(field.data_type(), rows));
        } else {
            columns.push(arrow_select::concat::concat(&arrays)?);
        }
    }
    RecordBatch::try_new(Arc::clone(schema), columns)
}

/// A run of rows: (batch index, first row, rows).
pub type Segment = (usize, usize, usize);

/// The rows of `segments`, in order, out of `batches` (one schema; at
/// least one batch). Each segment of each column is copied at once: the
/// replay's merge of a window's row groups finds segments of a few dozen
/// rows, and `interleave` copied every string on its own, then arrow's
/// `MutableArrayData` cost about 57 ns per segment and column
/// (BENCHMARKS.md). Fixed-width columns (integers, times, addresses) and
/// strings are copied here; other types go through `MutableArrayData`.
pub fn take_segments(
    batches: &[RecordBatch],
    segments: &[Segment],
) -> Result<RecordBatch, ArrowError> {
    let Some(first) = batches.first() else {
        return Err(ArrowError::InvalidArgumentError(
            "take_segments: no batches".into(),
        ));
    };
    let schema = first.schema();
    let rows: usize = segments.iter().map(|s| s.2).sum();
    for &(b, pos, n) in segments {
        let fits = batches.get(b).is_some_and(|batch| {
            pos.checked_add(n)
                .is_some_and(|end| end <= batch.num_rows())
        });
        if !fits {
            return Err(ArrowError::InvalidArgumentError(format!(
                "take_segments: rows {pos}..+{n} of batch {b} do not exist"
            )));
        }
    }
    let mut columns = Vec::with_capacity(schema.fields().len());
    let mut arrays: Vec<&dyn Array> = Vec::with_capacity(batches.len());
    for (c, field) in schema.fields().iter().enumerate() {
        arrays.clear();
        arrays.extend(batches.iter().map(|b| b.column(c).as_ref()));
        if field.is_nullable() && arrays.iter().all(|a| all_null(*a)) {
            columns.push(new_null_array(field.data_type(), rows));
        } else {
            columns.push(take_column(&arrays, segments, rows)?);
        }
    }
    RecordBatch::try_new(schema, columns)
}

fn take_column(
    arrays: &[&dyn Array],
    segments: &[Segment],
    rows: usize,
) -> Result<ArrayRef, ArrowError> {
    let data_type = arrays[0].data_type();
    // Only the batches the segments use: a window has dozens, an output
    // batch's segments come from a few.
    let mut data: Vec<Option<ArrayData>> = vec![None; arrays.len()];
    for &(b, _, _) in segments {
        if data[b].is_none() {
            data[b] = Some(arrays[b].to_data());
        }
    }
    let width = match data_type {
        DataType::FixedSizeBinary(w) => usize::try_from(*w).ok(),
        DataType::Utf8 | DataType::Binary => None,
        other => other.primitive_width(),
    };
    let buffers = match (data_type, width) {
        (DataType::Utf8 | DataType::Binary, _) => take_bytes(&data, segments, rows)?,
        (_, Some(w)) => vec![take_fixed(&data, segments, rows, w)?],
        _ => {
            let empty = ArrayData::new_empty(data_type);
            let sources = data.iter().map(|d| d.as_ref().unwrap_or(&empty)).collect();
            let mut out = MutableArrayData::new(sources, false, rows);
            for &(b, pos, n) in segments {
                out.try_extend(b, pos, pos + n)?;
            }
            return Ok(make_array(out.freeze()));
        }
    };
    let builder = ArrayData::builder(data_type.clone())
        .len(rows)
        .buffers(buffers)
        .nulls(take_nulls(arrays, segments, rows));
    // SAFETY: every segment lies within its source array (checked by
    // `take_segments`), whose data is valid: fixed-width values are copied
    // whole, and string offsets are the source's, shifted to start where
    // the copied bytes start, so they rise, end at the values' length and
    // fall on the source's value boundaries (UTF-8 stays whole).
    Ok(make_array(unsafe { builder.build_unchecked() }))
}

/// The values of a fixed-width column (`width` bytes a row).
fn take_fixed(
    data: &[Option<ArrayData>],
    segments: &[Segment],
    rows: usize,
    width: usize,
) -> Result<Buffer, ArrowError> {
    let mut out = MutableBuffer::with_capacity(rows * width);
    for &(b, pos, n) in segments {
        let d = data[b].as_ref().ok_or_else(unprepared)?;
        let start = (d.offset() + pos) * width;
        out.extend_from_slice(&d.buffers()[0].as_slice()[start..start + n * width]);
    }
    Ok(out.into())
}

fn unprepared() -> ArrowError {
    ArrowError::InvalidArgumentError("take_segments: a segment's batch was not prepared".into())
}

/// The offsets and values of a string or binary column (32-bit offsets).
fn take_bytes(
    data: &[Option<ArrayData>],
    segments: &[Segment],
    rows: usize,
) -> Result<Vec<Buffer>, ArrowError> {
    let mut offsets: Vec<i32> = Vec::with_capacity(rows + 1);
    offsets.push(0);
    let mut values = MutableBuffer::new(0);
    for &(b, pos, n) in segments {
        let d = data[b].as_ref().ok_or_else(unprepared)?;
        let source: &[i32] = d.buffers()[0].typed_data();
        let source = &source[d.offset() + pos..d.offset() + pos + n + 1];
        let (first, last) = (source[0], source[n]);
        let shift = i32::try_from(values.len())
            .ok()
            .and_then(|at| at.checked_sub(first))
            .ok_or(ArrowError::OffsetOverflowError(values.len()))?;
        offsets.extend(source[1..].iter().map(|&o| o + shift));
        let bytes = d.buffers()[1].as_slice();
        values.extend_from_slice(&bytes[first as usize..last as usize]);
    }
    i32::try_from(values.len()).map_err(|_| ArrowError::OffsetOverflowError(values.len()))?;
    Ok(vec![Buffer::from_vec(offsets), values.into()])
}

/// The validity of the segments' rows; None when no source has nulls.
/// A segment's bits are copied a word at a time: with segments of a few
/// rows, arrow's bitmap builder (made for long runs) cost more than the
/// copy.
fn take_nulls(arrays: &[&dyn Array], segments: &[Segment], rows: usize) -> Option<NullBuffer> {
    let nulls: Vec<Option<&NullBuffer>> = arrays.iter().map(|a| a.nulls()).collect();
    if nulls.iter().all(|n| n.is_none_or(|n| n.null_count() == 0)) {
        return None;
    }
    let mut out = BitPacker::with_capacity(rows);
    for &(b, pos, n) in segments {
        match nulls[b] {
            Some(v) => out.push_range(v.validity(), v.offset() + pos, n),
            None => out.push_ones(n),
        }
    }
    Some(NullBuffer::new(out.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{StringArray, UInt16Array};
    use arrow_schema::{DataType, Field, Schema};

    fn batch(ports: &[u16], hosts: &[Option<&str>]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("dst_port", DataType::UInt16, false),
            Field::new("http_host", DataType::Utf8, true),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(UInt16Array::from(ports.to_vec())),
                Arc::new(StringArray::from(hosts.to_vec())),
            ],
        )
        .unwrap()
    }

    #[test]
    fn same_answers_as_arrow_with_and_without_null_columns() {
        for hosts in [vec![None, None, None], vec![Some("a"), None, Some("c")]] {
            let b = batch(&[1, 2, 3], &hosts);
            let mask = BooleanArray::from(vec![true, false, true]);
            assert_eq!(
                filter(&b, &mask).unwrap(),
                arrow_select::filter::filter_record_batch(&b, &mask).unwrap()
            );
            let both = [b.clone(), b.clone()];
            assert_eq!(
                concat(&b.schema(), &both).unwrap(),
                arrow_select::concat::concat_batches(&b.schema(), &both).unwrap()
            );
        }
    }
}

#[cfg(test)]
mod take_tests {
    use super::*;
    use arrow_array::{
        BooleanArray, FixedSizeBinaryArray, StringArray, TimestampNanosecondArray, UInt16Array,
    };
    use arrow_schema::{Field, Schema, TimeUnit};

    /// A batch of every kind `take_segments` copies itself (and a boolean
    /// one that it leaves to arrow), with nulls, rows numbered from `base`.
    fn batch(base: usize, rows: usize) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("port", DataType::UInt16, false),
            Field::new(
                "first",
                DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
                false,
            ),
            Field::new("addr", DataType::FixedSizeBinary(16), true),
            Field::new("host", DataType::Utf8, true),
            Field::new("flag", DataType::Boolean, true),
            Field::new("unused", DataType::Utf8, true),
        ]));
        let ids: Vec<usize> = (base..base + rows).collect();
        let addrs: Vec<Option<[u8; 16]>> = ids
            .iter()
            .map(|&i| (i % 4 != 1).then_some([i as u8; 16]))
            .collect();
        let hosts: StringArray = ids
            .iter()
            .map(|&i| (i % 3 != 0).then(|| "h".repeat(i % 7)))
            .collect();
        let flags: BooleanArray = ids
            .iter()
            .map(|&i| (i % 5 != 0).then_some(i % 2 == 0))
            .collect();
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(UInt16Array::from_iter_values(ids.iter().map(|&i| i as u16))),
                Arc::new(
                    TimestampNanosecondArray::from_iter_values(ids.iter().map(|&i| i as i64 * 7))
                        .with_timezone("UTC"),
                ),
                Arc::new(
                    FixedSizeBinaryArray::try_from_sparse_iter_with_size(addrs.into_iter(), 16)
                        .unwrap(),
                ),
                Arc::new(hosts),
                Arc::new(flags),
                new_null_array(&DataType::Utf8, rows),
            ],
        )
        .unwrap()
    }

    #[test]
    fn segments_come_out_as_arrow_concatenates_their_slices() {
        // Four batches, the second a slice (its data starts at an offset),
        // the last without nulls in its nullable columns but the unused
        // one; segments of every length in a pseudo-random order.
        let dense = {
            let b = batch(500, 70);
            let columns: Vec<ArrayRef> = (0..b.num_columns())
                .map(|c| match c {
                    2..=4 => {
                        let data = b.column(c).to_data().into_builder().nulls(None);
                        make_array(data.build().unwrap())
                    }
                    _ => b.column(c).clone(),
                })
                .collect();
            RecordBatch::try_new(b.schema(), columns).unwrap()
        };
        let batches = vec![
            batch(0, 50),
            batch(100, 80).slice(13, 60),
            batch(300, 40),
            dense,
        ];
        let mut x = 11u64;
        let mut next = |m: usize| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) as usize % m
        };
        // Long ones too: a segment's bits are copied 56 at a time.
        let mut segments = vec![(3, 1, 69), (0, 5, 45), (1, 0, 60), (3, 0, 57)];
        for _ in 0..300 {
            let b = next(batches.len());
            let rows = batches[b].num_rows();
            let pos = next(rows);
            let n = next(rows - pos + 1);
            segments.push((b, pos, n));
        }
        let taken = take_segments(&batches, &segments).unwrap();
        let slices: Vec<RecordBatch> = segments
            .iter()
            .map(|&(b, pos, n)| batches[b].slice(pos, n))
            .collect();
        let want = arrow_select::concat::concat_batches(&batches[0].schema(), &slices).unwrap();
        assert_eq!(taken, want);
        taken
            .columns()
            .iter()
            .for_each(|c| c.to_data().validate_full().unwrap());
        assert_eq!(taken.column(5).null_count(), taken.num_rows());
    }

    #[test]
    fn segments_outside_the_batches_are_an_error() {
        let batches = vec![batch(0, 10)];
        for bad in [(1, 0, 1), (0, 5, 6), (0, usize::MAX, 2)] {
            assert!(take_segments(&batches, &[bad]).is_err(), "{bad:?}");
        }
        assert!(take_segments(&[], &[]).is_err());
    }
}

#[cfg(test)]
mod filter_tests {
    use super::*;
    use arrow_array::{FixedSizeBinaryArray, UInt32Array};
    use arrow_schema::{Field, Schema};

    /// A pseudo-random sequence, the same on every run.
    fn next(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    #[test]
    fn strings_filtered_as_arrow_filters_them() {
        let words = ["", "a", "žluť", "example.com", "ü"];
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for round in 0..200 {
            let rows = 1 + (next(&mut seed) % 90) as usize;
            // Mostly null columns, dense ones, and some in between.
            let null_every = 1 + (round % 4) as u64;
            let values: Vec<Option<&str>> = (0..rows)
                .map(|_| {
                    let r = next(&mut seed);
                    (r % null_every == 0).then(|| words[(r >> 8) as usize % words.len()])
                })
                .collect();
            let mask: BooleanArray = (0..rows)
                .map(|_| match next(&mut seed) % 7 {
                    0 => None,
                    1..=3 => Some(true),
                    _ => Some(false),
                })
                .collect();
            // A nullable number and address beside the strings, null where
            // the string is (as L7 columns are), or dense.
            let numbers: UInt32Array = values
                .iter()
                .enumerate()
                .map(|(i, v)| (v.is_some() || round % 5 == 0).then_some(i as u32))
                .collect();
            let addresses = FixedSizeBinaryArray::try_from_sparse_iter_with_size(
                values.iter().map(|v| v.map(|s| [s.len() as u8; 16])),
                16,
            )
            .unwrap();
            let schema = Arc::new(Schema::new(vec![
                Field::new("s", DataType::Utf8, true),
                Field::new("n", DataType::UInt32, true),
                Field::new("a", DataType::FixedSizeBinary(16), true),
            ]));
            let whole = RecordBatch::try_new(
                schema,
                vec![
                    Arc::new(StringArray::from(values)),
                    Arc::new(numbers),
                    Arc::new(addresses),
                ],
            )
            .unwrap();
            // Also a slice, whose offsets start past 0.
            let cut = rows / 3;
            for (b, m) in [
                (whole.clone(), mask.clone()),
                (whole.slice(cut, rows - cut), mask.slice(cut, rows - cut)),
            ] {
                let ours = filter(&b, &m).unwrap();
                let arrows = arrow_select::filter::filter_record_batch(&b, &m).unwrap();
                assert_eq!(ours, arrows, "round {round}");
                for c in ours.columns() {
                    c.to_data().validate_full().unwrap();
                }
            }
        }
    }

    #[test]
    fn selected_bits_come_out_packed_in_order() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for round in 0..300 {
            let len = (next(&mut seed) % 300) as usize;
            let bits: Vec<bool> = (0..len).map(|_| next(&mut seed) % 3 != 0).collect();
            // Dense, sparse and empty selections.
            let every = 1 + round % 4;
            let chosen: Vec<bool> = (0..len).map(|_| next(&mut seed) % every == 0).collect();
            let start = if len > 0 {
                round as usize % len.min(70)
            } else {
                0
            };
            let whole_bits = BooleanBuffer::from(bits.clone());
            let whole_chosen = BooleanBuffer::from(chosen.clone());
            let (b, c) = (
                whole_bits.slice(start, len - start),
                whole_chosen.slice(start, len - start),
            );
            let expected: Vec<bool> = (start..len)
                .filter(|&i| chosen[i])
                .map(|i| bits[i])
                .collect();
            let got = select_bits(&b, &c);
            assert_eq!(got.iter().collect::<Vec<_>>(), expected, "round {round}");
            // The portable path gives the same words as the CPU's.
            let mut soft = BitPacker::with_capacity(expected.len());
            pick_all_portable(word_pairs(&b, &c), &mut soft);
            assert_eq!(soft.finish(), got, "round {round}");
        }
    }

    #[test]
    fn cpu_families_from_their_signatures() {
        assert_eq!(cpu_family(0x0083_0F10), 0x17); // AMD EPYC 7002 (Zen 2)
        assert_eq!(cpu_family(0x00A0_0F11), 0x19); // AMD EPYC 7003 (Zen 3)
        assert_eq!(cpu_family(0x00B0_0F21), 0x1A); // AMD Zen 5
        assert_eq!(cpu_family(0x0009_06EA), 6); // Intel
    }

    #[test]
    fn a_mask_of_another_length_is_an_error() {
        let schema = Arc::new(Schema::new(vec![Field::new("s", DataType::Utf8, true)]));
        let b = RecordBatch::try_new(schema, vec![Arc::new(StringArray::from(vec!["a", "b"]))])
            .unwrap();
        let mask = BooleanArray::from(vec![true, false, true]);
        assert!(filter(&b, &mask).is_err());
    }
}
