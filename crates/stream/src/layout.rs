//! A record batch's layout checked straight on the IPC message, so that
//! the reader can skip arrow's own validation of the arrays.
//!
//! Why: arrow validates string offsets one by one through an iterator of
//! `Result`s, about a tenth of the filter module's time on flow streams,
//! whose forty-odd string columns are mostly null. The checks here are
//! the same rules, as flat loops over the raw buffers: a string column
//! costs one pass over its offsets and an ASCII test of its bytes.
//!
//! The check covers the types eddy's flow streams use; a batch with any
//! other type, compressed buffers, or anything found wrong is left to
//! arrow's validation (which then also words the error).

use arrow_buffer::bit_chunk_iterator::UnalignedBitChunk;
use arrow_ipc::RecordBatch as BatchHeader;
use arrow_schema::{DataType, Schema};

/// Whether the uncompressed batch `header` with `body` is a valid batch of
/// `schema` by every rule arrow's full validation applies to these
/// columns: buffers inside the body and long enough, row counts equal,
/// null counts matching the validity bits (and none in non-nullable
/// columns), string offsets rising within the values and cutting them
/// into valid UTF-8.
pub fn is_valid(schema: &Schema, header: &BatchHeader<'_>, body: &[u8]) -> bool {
    check(schema, header, body).is_some()
}

fn check(schema: &Schema, header: &BatchHeader<'_>, body: &[u8]) -> Option<()> {
    if header.compression().is_some() || header.variadicBufferCounts().is_some() {
        return None;
    }
    let rows = usize::try_from(header.length()).ok().filter(|&n| n > 0)?;
    let nodes = header.nodes()?;
    let buffers = header.buffers()?;
    if nodes.len() != schema.fields().len() {
        return None;
    }
    let mut next = 0;
    for (field, node) in schema.fields().iter().zip(nodes.iter()) {
        if usize::try_from(node.length()).ok()? != rows {
            return None;
        }
        let nulls = usize::try_from(node.null_count())
            .ok()
            .filter(|&n| n <= rows)?;
        if nulls > 0 && !field.is_nullable() {
            return None;
        }
        let count = buffer_count(field.data_type())?;
        if next + count > buffers.len() {
            return None;
        }
        let mut parts: [&[u8]; 3] = [&[]; 3];
        for (k, part) in parts.iter_mut().enumerate().take(count) {
            let b = buffers.get(next + k);
            let start = usize::try_from(b.offset()).ok()?;
            let len = usize::try_from(b.length()).ok()?;
            *part = body.get(start..start.checked_add(len)?)?;
        }
        next += count;
        if matches!(field.data_type(), DataType::Null) {
            if nulls != rows {
                return None;
            }
            continue;
        }
        if nulls > 0 && unset_bits(parts[0], rows)? != nulls {
            return None;
        }
        check_values(field.data_type(), rows, &parts[1..])?;
    }
    (next == buffers.len()).then_some(())
}

/// Buffers a column of this type has in a version 5 message; None for the
/// types left to arrow.
fn buffer_count(data_type: &DataType) -> Option<usize> {
    use DataType::*;
    match data_type {
        Null => Some(0),
        Utf8 => Some(3),
        Boolean | UInt8 | UInt16 | UInt32 | UInt64 | Int8 | Int16 | Int32 | Int64 | Float32
        | Float64 | Timestamp(..) | FixedSizeBinary(_) => Some(2),
        _ => None,
    }
}

fn check_values(data_type: &DataType, rows: usize, parts: &[&[u8]]) -> Option<()> {
    let need = match data_type {
        DataType::Boolean => rows.div_ceil(8),
        DataType::FixedSizeBinary(size) => {
            rows.checked_mul(usize::try_from(*size).ok().filter(|&s| s > 0)?)?
        }
        DataType::Utf8 => return check_strings(rows, parts[0], parts[1]),
        other => rows.checked_mul(other.primitive_width()?)?,
    };
    (parts[0].len() >= need).then_some(())
}

/// Offsets that start at 0 or more, never fall, end within the values, and
/// cut the values they span into valid UTF-8.
fn check_strings(rows: usize, offsets: &[u8], values: &[u8]) -> Option<()> {
    // Arrow reads the offsets buffer as whole `i32`s (and refuses a ragged one).
    if offsets.len() % 4 != 0 {
        return None;
    }
    let offsets = offsets.get(..(rows + 1) * 4)?;
    let offset = |i: usize| {
        let b = &offsets[i * 4..i * 4 + 4];
        i32::from_le_bytes([b[0], b[1], b[2], b[3]])
    };
    let (first, last) = (offset(0), offset(rows));
    if first < 0 || last < first || last as usize > values.len() {
        return None;
    }
    // One flat pass (no early exit, so it vectorises): any fall shows.
    let mut fell = false;
    let mut previous = first;
    for pair in offsets.chunks_exact(4).skip(1) {
        let o = i32::from_le_bytes([pair[0], pair[1], pair[2], pair[3]]);
        fell |= o < previous;
        previous = o;
    }
    if fell {
        return None;
    }
    let text = &values[first as usize..last as usize];
    if text.is_ascii() {
        return Some(());
    }
    let text = std::str::from_utf8(text).ok()?;
    // Valid as a whole: each cut must also fall between characters.
    (0..=rows)
        .all(|i| text.is_char_boundary((offset(i) - first) as usize))
        .then_some(())
}

/// Zero bits among the first `rows` bits of `bitmap` (None if it is short).
fn unset_bits(bitmap: &[u8], rows: usize) -> Option<usize> {
    let bitmap = bitmap.get(..rows.div_ceil(8))?;
    Some(rows - UnalignedBitChunk::new(bitmap, 0, rows).count_ones())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{
        Array, ArrayRef, BooleanArray, FixedSizeBinaryArray, NullArray, RecordBatch, StringArray,
        TimestampNanosecondArray, UInt16Array, UInt64Array, UInt8Array,
    };
    use arrow_buffer::Buffer;
    use arrow_schema::{Field, Schema, TimeUnit};

    use super::*;

    /// Every type the check covers, nulls in the nullable columns, strings
    /// with multi-byte characters at the starts and ends of values.
    fn batch(rows: usize) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new(
                "first",
                DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
                false,
            ),
            Field::new("src_ip", DataType::FixedSizeBinary(16), true),
            Field::new("dst_port", DataType::UInt16, false),
            Field::new("proto", DataType::UInt8, true),
            Field::new("bytes", DataType::UInt64, false),
            Field::new("http_host", DataType::Utf8, true),
            Field::new("dns_qname", DataType::Utf8, true),
            Field::new("seen", DataType::Boolean, true),
            Field::new("nothing", DataType::Null, true),
        ]));
        let words = ["é", "aé", "éa", "x", "", "žluťoučký kůň", "ab"];
        let columns: Vec<ArrayRef> = vec![
            Arc::new(
                TimestampNanosecondArray::from((0..rows as i64).collect::<Vec<_>>())
                    .with_timezone("UTC"),
            ),
            Arc::new(
                FixedSizeBinaryArray::try_from_sparse_iter_with_size(
                    (0..rows).map(|i| (i % 3 != 0).then_some([i as u8; 16])),
                    16,
                )
                .unwrap(),
            ),
            Arc::new(UInt16Array::from((0..rows as u16).collect::<Vec<_>>())),
            Arc::new(UInt8Array::from(
                (0..rows)
                    .map(|i| (i % 4 != 1).then_some(i as u8))
                    .collect::<Vec<_>>(),
            )),
            Arc::new(UInt64Array::from((0..rows as u64).collect::<Vec<_>>())),
            Arc::new(StringArray::from(
                (0..rows)
                    .map(|i| (i % 2 == 0).then(|| words[i % words.len()]))
                    .collect::<Vec<_>>(),
            )),
            Arc::new(StringArray::from(
                (0..rows)
                    .map(|i| Some(words[(i * 3) % words.len()]))
                    .collect::<Vec<_>>(),
            )),
            Arc::new(BooleanArray::from(
                (0..rows)
                    .map(|i| (i % 5 != 2).then_some(i % 2 == 0))
                    .collect::<Vec<_>>(),
            )),
            Arc::new(NullArray::new(rows)),
        ];
        RecordBatch::try_new(schema, columns).unwrap()
    }

    /// The record batch message of `b` (after its stream's schema message).
    fn message(b: &RecordBatch) -> Vec<u8> {
        let mut enc = crate::ipc::Encoder::new(b.schema(), crate::spec::Compression::None).unwrap();
        enc.encode(b).unwrap().to_vec()
    }

    /// What the check says of a message, and what arrow's validating
    /// reader says (Ok only if every column also passes `validate_full`;
    /// a panic counts as a refusal). Arrow is asked only when the check
    /// accepts, or always with `always`.
    fn verdicts(schema: &Arc<Schema>, msg: &[u8], always: bool) -> Option<(bool, bool)> {
        let meta_len = i32::from_le_bytes(msg.get(4..8)?.try_into().ok()?);
        let meta_end = 8 + usize::try_from(meta_len).ok()?;
        let message = arrow_ipc::root_as_message(msg.get(8..meta_end)?).ok()?;
        let header = message.header_as_record_batch()?;
        let body = Buffer::from(msg.get(meta_end..)?);
        let ours = is_valid(schema, &header, body.as_slice());
        if !ours && !always {
            return Some((false, false));
        }
        let arrow = std::panic::catch_unwind(|| {
            arrow_ipc::reader::read_record_batch(
                &body,
                header,
                schema.clone(),
                &Default::default(),
                None,
                &message.version(),
            )
            .is_ok_and(|b| {
                b.columns()
                    .iter()
                    .all(|c| c.to_data().validate_full().is_ok())
            })
        })
        .unwrap_or(false);
        Some((ours, arrow))
    }

    #[test]
    fn valid_batches_pass_and_read_back_the_same() {
        for b in [batch(1), batch(37), batch(64), batch(200).slice(13, 101)] {
            let msg = message(&b);
            assert_eq!(verdicts(&b.schema(), &msg, true), Some((true, true)));
            let mut stream = crate::ipc::Encoder::new(b.schema(), crate::spec::Compression::None)
                .unwrap()
                .schema_message()
                .to_vec();
            stream.extend_from_slice(&msg);
            let mut r = crate::ipc::MessageReader::new(&stream[..]);
            r.next_message().unwrap();
            match r.next_message().unwrap() {
                Some(crate::ipc::Message::Batch(read)) => assert_eq!(read, b),
                other => panic!("{other:?}"),
            }
        }
    }

    /// Every byte of a message flipped three ways: whatever the check
    /// accepts, arrow's full validation accepts too.
    #[test]
    fn nothing_arrow_would_refuse_gets_through() {
        let b = batch(23);
        let schema = b.schema();
        let msg = message(&b);
        let (mut accepted, mut refused) = (0, 0);
        for at in 0..msg.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut bad = msg.clone();
                bad[at] ^= flip;
                let Some((ours, arrow)) = verdicts(&schema, &bad, false) else {
                    continue;
                };
                assert!(
                    !ours || arrow,
                    "byte {at} ^ {flip:#x}: the check let through what arrow refuses"
                );
                if ours {
                    accepted += 1;
                } else {
                    refused += 1;
                }
            }
        }
        // Both kinds happened (values changed; offsets and counts broken).
        assert!(accepted > 100 && refused > 100, "{accepted} {refused}");
    }

    #[test]
    fn a_cut_inside_a_character_is_refused() {
        let schema = Arc::new(Schema::new(vec![Field::new("s", DataType::Utf8, false)]));
        let strings = StringArray::from(vec!["é", "é"]);
        let b = RecordBatch::try_new(schema.clone(), vec![Arc::new(strings)]).unwrap();
        let msg = message(&b);
        // The offsets are 0, 2, 4: make the middle one 1, inside the first é.
        let at = msg
            .windows(12)
            .position(|w| w == [0, 0, 0, 0, 2, 0, 0, 0, 4, 0, 0, 0])
            .unwrap();
        let mut bad = msg.clone();
        bad[at + 4] = 1;
        assert_eq!(verdicts(&schema, &bad, true), Some((false, false)));
    }
}
