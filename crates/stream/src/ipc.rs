//! The Arrow IPC streaming format, read and written message by message.
//!
//! Reading frames messages itself (rather than through arrow-ipc's
//! `StreamReader`) for three reasons: sizes are capped before anything is
//! allocated, so a hostile peer cannot make a receiver buffer gigabytes; an
//! end-of-stream marker may be followed by a new schema (a sender that
//! changed its schema starts a new stream on the same connection); and a
//! malformed message is a clear error, never a panic.
//!
//! Writing encodes each batch once into bytes that every client of an
//! output gets; [`Encoder`] keeps the schema message apart for clients that
//! connect mid-stream.

use std::collections::HashMap;
use std::io::{self, IoSlice, Read, Write};
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch};
use arrow_buffer::Buffer;
use arrow_ipc::writer::{IpcWriteOptions, StreamEncoder};
use arrow_ipc::{MessageHeader, MetadataVersion};
use arrow_schema::{ArrowError, DataType, SchemaRef};

/// Largest message header (flatbuffer) accepted.
pub const MAX_METADATA: usize = 16 << 20;
/// Largest message body accepted (one record batch).
pub const MAX_BODY: usize = 512 << 20;

const CONTINUATION: [u8; 4] = [0xff; 4];

/// What one message of a stream carried.
#[derive(Debug)]
pub enum Message {
    /// A stream starts (the first message, or after an end marker).
    Schema(SchemaRef),
    Batch(RecordBatch),
    /// The IPC end-of-stream marker.
    End,
}

/// Why reading stopped.
#[derive(Debug)]
pub enum ReadError {
    Io(io::Error),
    /// The bytes are not a valid Arrow IPC stream.
    Invalid(String),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Io(e) => write!(f, "{e}"),
            ReadError::Invalid(why) => write!(f, "not an Arrow IPC stream: {why}"),
        }
    }
}

impl std::error::Error for ReadError {}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> Self {
        ReadError::Io(e)
    }
}

fn invalid(why: impl Into<String>) -> ReadError {
    ReadError::Invalid(why.into())
}

/// Reads the messages of one or more consecutive IPC streams.
pub struct MessageReader<R> {
    inner: R,
    schema: Option<SchemaRef>,
    dictionaries: HashMap<i64, ArrayRef>,
    /// Bytes consumed, for error messages.
    offset: u64,
}

impl<R: Read> MessageReader<R> {
    pub fn new(inner: R) -> Self {
        MessageReader {
            inner,
            schema: None,
            dictionaries: HashMap::new(),
            offset: 0,
        }
    }

    /// The schema of the stream being read.
    pub fn schema(&self) -> Option<&SchemaRef> {
        self.schema.as_ref()
    }

    /// The next message; `Ok(None)` at a clean end of input (between
    /// messages). Dictionary messages are absorbed.
    pub fn next_message(&mut self) -> Result<Option<Message>, ReadError> {
        loop {
            let at = self.offset;
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.read_one()));
            let step = match result {
                Ok(step) => step,
                Err(_) => Err(invalid(format!("malformed message at byte {at}"))),
            };
            match step? {
                Step::Message(m) => return Ok(Some(m)),
                Step::Eof => return Ok(None),
                Step::Again => continue,
            }
        }
    }

    fn read_one(&mut self) -> Result<Step, ReadError> {
        let mut word = [0u8; 4];
        let got = read_full(&mut self.inner, &mut word)?;
        if got == 0 {
            return Ok(Step::Eof);
        }
        if got < 4 {
            return Err(self.truncated());
        }
        self.offset += 4;
        if word == CONTINUATION {
            if read_full(&mut self.inner, &mut word)? < 4 {
                return Err(self.truncated());
            }
            self.offset += 4;
        }
        let meta_len = i32::from_le_bytes(word);
        if meta_len == 0 {
            self.schema = None;
            self.dictionaries.clear();
            return Ok(Step::Message(Message::End));
        }
        let meta_len = usize::try_from(meta_len)
            .ok()
            .filter(|n| *n <= MAX_METADATA)
            .ok_or_else(|| invalid(format!("message length {meta_len} at byte {}", self.offset)))?;
        let mut meta = vec![0u8; meta_len];
        if read_full(&mut self.inner, &mut meta)? < meta_len {
            return Err(self.truncated());
        }
        self.offset += meta_len as u64;
        let message = arrow_ipc::root_as_message(&meta)
            .map_err(|e| invalid(format!("bad message header at byte {}: {e}", self.offset)))?;
        let body_len = usize::try_from(message.bodyLength())
            .ok()
            .filter(|n| *n <= MAX_BODY)
            .ok_or_else(|| invalid(format!("body length {} too large", message.bodyLength())))?;
        // Read into fresh capacity: zeroing megabytes per batch first was
        // a memset of every byte the stream carries.
        let mut body = Vec::with_capacity(body_len);
        (&mut self.inner)
            .take(body_len as u64)
            .read_to_end(&mut body)?;
        if body.len() < body_len {
            return Err(self.truncated());
        }
        self.offset += body_len as u64;
        let body = Buffer::from_vec(body);
        let version = message.version();
        match message.header_type() {
            MessageHeader::Schema => {
                if self.schema.is_some() {
                    return Err(invalid("a second schema without an end-of-stream marker"));
                }
                let fb = message
                    .header_as_schema()
                    .ok_or_else(|| invalid("schema message without a schema"))?;
                check_schema(&fb)?;
                let schema = Arc::new(arrow_ipc::convert::fb_to_schema(fb));
                self.schema = Some(schema.clone());
                Ok(Step::Message(Message::Schema(schema)))
            }
            MessageHeader::RecordBatch => {
                let schema = self
                    .schema
                    .clone()
                    .ok_or_else(|| invalid("a record batch before the schema"))?;
                let fb = message
                    .header_as_record_batch()
                    .ok_or_else(|| invalid("record batch message without a batch"))?;
                check_decompressed_size(&fb, &body)?;
                let checked = version == MetadataVersion::V5
                    && crate::layout::is_valid(&schema, &fb, body.as_slice());
                let mut decoder = arrow_ipc::reader::RecordBatchDecoder::try_new(
                    &body,
                    fb,
                    schema,
                    &self.dictionaries,
                    &version,
                )
                .map_err(|e| invalid(format!("bad record batch: {e}")))?;
                if checked {
                    let mut skip = arrow_data::UnsafeFlag::new();
                    // SAFETY: `layout::is_valid` checked every rule arrow's
                    // validation applies to this batch's columns (buffer
                    // bounds and lengths, row and null counts, offsets,
                    // UTF-8); its tests hold it to arrow's own answers.
                    unsafe { skip.set(true) };
                    decoder = decoder.with_skip_validation(skip);
                }
                let batch = decoder
                    .read_record_batch()
                    .map_err(|e| invalid(format!("bad record batch: {e}")))?;
                Ok(Step::Message(Message::Batch(batch)))
            }
            MessageHeader::DictionaryBatch => {
                let schema = self
                    .schema
                    .clone()
                    .ok_or_else(|| invalid("a dictionary before the schema"))?;
                let fb = message
                    .header_as_dictionary_batch()
                    .ok_or_else(|| invalid("dictionary message without a dictionary"))?;
                arrow_ipc::reader::read_dictionary(
                    &body,
                    fb,
                    &schema,
                    &mut self.dictionaries,
                    &version,
                )
                .map_err(|e| invalid(format!("bad dictionary: {e}")))?;
                Ok(Step::Again)
            }
            other => Err(invalid(format!("unexpected message type {other:?}"))),
        }
    }

    fn truncated(&self) -> ReadError {
        invalid(format!("truncated message at byte {}", self.offset))
    }
}

/// arrow-ipc's schema conversion panics on many malformed or unusual
/// schemas (found by fuzzing), so a schema is checked first: fields
/// present, each of a type eddy accepts with the parts the conversion
/// reads, nesting bounded.
fn check_schema(fb: &arrow_ipc::Schema<'_>) -> Result<(), ReadError> {
    let fields = fb
        .fields()
        .ok_or_else(|| invalid("a schema without fields"))?;
    check_metadata(fb.custom_metadata())?;
    for f in fields {
        check_field(&f, 0)?;
    }
    Ok(())
}

fn check_metadata(
    md: Option<flatbuffers::Vector<'_, flatbuffers::ForwardsUOffset<arrow_ipc::KeyValue<'_>>>>,
) -> Result<(), ReadError> {
    for kv in md.into_iter().flatten() {
        if kv.key().is_none() || kv.value().is_none() {
            return Err(invalid("schema metadata with a key or value missing"));
        }
    }
    Ok(())
}

fn check_field(f: &arrow_ipc::Field<'_>, depth: usize) -> Result<(), ReadError> {
    use arrow_ipc::Type;
    if depth > 8 {
        return Err(invalid("fields nested deeper than 8 levels"));
    }
    check_metadata(f.custom_metadata())?;
    let name = f.name().unwrap_or("?");
    let bad = |what: &str| invalid(format!("field {name}: {what}"));
    if let Some(d) = f.dictionary() {
        let ok = d
            .indexType()
            .is_some_and(|i| matches!(i.bitWidth(), 8 | 16 | 32 | 64));
        if !ok {
            return Err(bad("a dictionary without a valid index type"));
        }
    }
    let children = f.children();
    let n_children = children.as_ref().map_or(0, |c| c.len());
    let ok = match f.type_type() {
        Type::Null
        | Type::Bool
        | Type::Utf8
        | Type::LargeUtf8
        | Type::Binary
        | Type::LargeBinary
        | Type::Utf8View
        | Type::BinaryView => true,
        Type::Int => f
            .type_as_int()
            .is_some_and(|i| matches!(i.bitWidth(), 8 | 16 | 32 | 64)),
        Type::FloatingPoint => f.type_as_floating_point().is_some_and(|p| {
            matches!(
                p.precision(),
                arrow_ipc::Precision::HALF
                    | arrow_ipc::Precision::SINGLE
                    | arrow_ipc::Precision::DOUBLE
            )
        }),
        Type::FixedSizeBinary => f
            .type_as_fixed_size_binary()
            .is_some_and(|b| b.byteWidth() >= 0),
        Type::Timestamp => f
            .type_as_timestamp()
            .is_some_and(|t| time_unit_ok(t.unit())),
        Type::Duration => f.type_as_duration().is_some_and(|t| time_unit_ok(t.unit())),
        Type::Date => f.type_as_date().is_some_and(|d| {
            matches!(
                d.unit(),
                arrow_ipc::DateUnit::DAY | arrow_ipc::DateUnit::MILLISECOND
            )
        }),
        Type::List | Type::LargeList => n_children == 1,
        Type::Struct_ => true,
        other => {
            return Err(bad(&format!(
                "type {other:?} is not accepted on eddy's streams"
            )))
        }
    };
    if !ok {
        return Err(bad("a malformed type"));
    }
    for c in children.into_iter().flatten() {
        check_field(&c, depth + 1)?;
    }
    Ok(())
}

fn time_unit_ok(u: arrow_ipc::TimeUnit) -> bool {
    matches!(
        u,
        arrow_ipc::TimeUnit::SECOND
            | arrow_ipc::TimeUnit::MILLISECOND
            | arrow_ipc::TimeUnit::MICROSECOND
            | arrow_ipc::TimeUnit::NANOSECOND
    )
}

/// Largest total a compressed batch may claim to decompress to: the
/// decompressor allocates what the sender claims, so the claim is checked
/// first.
pub const MAX_DECOMPRESSED: u64 = 1 << 30;

fn check_decompressed_size(
    fb: &arrow_ipc::RecordBatch<'_>,
    body: &Buffer,
) -> Result<(), ReadError> {
    // Every buffer must lie in the body: arrow-ipc slices without checking.
    for b in fb.buffers().into_iter().flatten() {
        let end = u64::try_from(b.offset())
            .ok()
            .zip(u64::try_from(b.length()).ok())
            .and_then(|(o, l)| o.checked_add(l));
        if end.is_none_or(|e| e > body.len() as u64) {
            return Err(invalid("a buffer lies outside the message body"));
        }
    }
    let negative = fb.length() < 0
        || fb
            .nodes()
            .into_iter()
            .flatten()
            .any(|n| n.length() < 0 || n.null_count() < 0);
    if negative {
        return Err(invalid("negative lengths in a record batch"));
    }
    if fb.compression().is_none() {
        return Ok(());
    }
    let mut total: u64 = 0;
    for b in fb.buffers().into_iter().flatten() {
        let (offset, len) = (b.offset(), b.length());
        if len < 8 {
            continue;
        }
        let start = usize::try_from(offset)
            .ok()
            .filter(|o| o.saturating_add(8) <= body.len());
        let Some(start) = start else {
            return Err(invalid("a compressed buffer lies outside the message body"));
        };
        let mut claim = [0u8; 8];
        claim.copy_from_slice(&body[start..start + 8]);
        let claim = i64::from_le_bytes(claim);
        // -1: the buffer is stored uncompressed.
        if claim > 0 {
            total = total.saturating_add(claim as u64);
        }
    }
    if total > MAX_DECOMPRESSED {
        return Err(invalid(format!(
            "a batch claims to decompress to {total} bytes"
        )));
    }
    Ok(())
}

enum Step {
    Message(Message),
    Eof,
    Again,
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Encodes one stream's messages: the schema message once (for every
/// client that joins), then each batch, then the end marker.
pub struct Encoder {
    inner: StreamEncoder,
    schema_message: Bytes,
    schema: SchemaRef,
}

impl Encoder {
    pub fn new(
        schema: SchemaRef,
        compression: crate::spec::Compression,
    ) -> Result<Encoder, ArrowError> {
        if let Some(f) = schema
            .fields()
            .iter()
            .find(|f| matches!(f.data_type(), DataType::Dictionary(..)))
        {
            // A client that joins mid-stream would miss dictionaries sent
            // before it came; eddy's flow schema has none.
            return Err(ArrowError::SchemaError(format!(
                "field {} is dictionary-encoded, which stream outputs do not support; cast it to its value type",
                f.name()
            )));
        }
        let codec = match compression {
            crate::spec::Compression::None => None,
            crate::spec::Compression::Lz4 => Some(arrow_ipc::CompressionType::LZ4_FRAME),
            crate::spec::Compression::Zstd => Some(arrow_ipc::CompressionType::ZSTD),
        };
        let options = IpcWriteOptions::default().try_with_compression(codec)?;
        let mut inner = StreamEncoder::try_new_with_options(&schema, options)?;
        // The encoder puts the schema message before its first batch: an
        // empty batch takes it out, and the schema message is kept apart.
        let first = Encoded::new(inner.encode(&RecordBatch::new_empty(schema.clone()))?).to_vec();
        let schema_len = first
            .get(4..8)
            .filter(|_| first.starts_with(&CONTINUATION))
            .map(|w| 8 + i32::from_le_bytes([w[0], w[1], w[2], w[3]]).max(0) as usize)
            .filter(|n| *n <= first.len())
            .ok_or_else(|| ArrowError::IpcError("unexpected schema message framing".into()))?;
        Ok(Encoder {
            inner,
            schema_message: Arc::new(Encoded::from_slice(&first[..schema_len])),
            schema,
        })
    }

    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// The schema message every client gets first.
    pub fn schema_message(&self) -> Bytes {
        self.schema_message.clone()
    }

    /// One batch's message. Its body shares the batch's buffers: the rows
    /// go to the socket without first being copied into a message.
    pub fn encode(&mut self, batch: &RecordBatch) -> Result<Bytes, ArrowError> {
        Ok(Arc::new(Encoded::new(self.inner.encode(batch)?)))
    }
}

/// An encoded message as the buffers it is made of, in order: framing,
/// header and padding, and the body's buffers (the arrays' own, shared).
pub struct Encoded {
    parts: Vec<Buffer>,
    len: usize,
}

impl Encoded {
    fn new(parts: Vec<Buffer>) -> Encoded {
        let len = parts.iter().map(Buffer::len).sum();
        Encoded { parts, len }
    }

    pub fn from_slice(bytes: &[u8]) -> Encoded {
        Encoded::new(vec![Buffer::from(bytes)])
    }

    /// Bytes in the message.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The message as one contiguous vector.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len);
        for p in &self.parts {
            out.extend_from_slice(p.as_slice());
        }
        out
    }

    /// Writes the whole message, many parts per call (`writev` on sockets
    /// and files), resuming after short writes.
    pub fn write_to<W: Write + ?Sized>(&self, w: &mut W) -> io::Result<()> {
        const PER_CALL: usize = 64;
        let mut part = 0;
        let mut skip = 0;
        while part < self.parts.len() {
            let mut slices = [IoSlice::new(&[]); PER_CALL];
            let mut count = 0;
            for p in self.parts[part..].iter().take(PER_CALL) {
                let from = if count == 0 { skip } else { 0 };
                slices[count] = IoSlice::new(&p.as_slice()[from..]);
                count += 1;
            }
            let mut written = match w.write_vectored(&slices[..count]) {
                Ok(0) if slices[..count].iter().any(|s| !s.is_empty()) => {
                    return Err(io::ErrorKind::WriteZero.into());
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            // Past what was written, and past empty parts.
            while part < self.parts.len() {
                let left = self.parts[part].len() - skip;
                if written < left {
                    skip += written;
                    break;
                }
                written -= left;
                part += 1;
                skip = 0;
            }
        }
        Ok(())
    }
}

/// An encoded message, shared by every client it goes to.
pub type Bytes = Arc<Encoded>;

/// The IPC end-of-stream marker.
pub const END_OF_STREAM: [u8; 8] = [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0];

/// Metadata version eddy writes (for tests).
pub const VERSION: MetadataVersion = MetadataVersion::V5;

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{StringArray, UInt16Array};
    use arrow_schema::{Field, Schema};

    fn batch(ports: &[u16]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("dst_port", DataType::UInt16, false),
            Field::new("http_host", DataType::Utf8, true),
        ]));
        let hosts: Vec<Option<&str>> = ports
            .iter()
            .map(|p| (p % 2 == 0).then_some("x.cz"))
            .collect();
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(UInt16Array::from(ports.to_vec())),
                Arc::new(StringArray::from(hosts)),
            ],
        )
        .unwrap()
    }

    fn stream(batches: &[RecordBatch]) -> Vec<u8> {
        let mut enc = Encoder::new(batches[0].schema(), crate::spec::Compression::None).unwrap();
        let mut out = enc.schema_message().to_vec();
        for b in batches {
            out.extend_from_slice(&enc.encode(b).unwrap().to_vec());
        }
        out.extend_from_slice(&END_OF_STREAM);
        out
    }

    fn read_all(bytes: &[u8]) -> (Vec<Message>, Option<ReadError>) {
        let mut r = MessageReader::new(bytes);
        let mut out = Vec::new();
        loop {
            match r.next_message() {
                Ok(Some(m)) => out.push(m),
                Ok(None) => return (out, None),
                Err(e) => return (out, Some(e)),
            }
        }
    }

    #[test]
    fn messages_are_the_bytes_arrows_stream_writer_makes() {
        let whole = batch(&(0..40).collect::<Vec<u16>>());
        // A slice starts mid-byte of the validity bits and mid-offsets.
        for b in [whole.clone(), whole.slice(3, 29)] {
            let mut expected = Vec::new();
            let mut w =
                arrow_ipc::writer::StreamWriter::try_new(&mut expected, &b.schema()).unwrap();
            w.write(&b).unwrap();
            w.finish().unwrap();
            drop(w);
            assert_eq!(stream(std::slice::from_ref(&b)), expected);
        }
    }

    /// Takes at most 5 bytes a call, from the first slice only.
    struct Trickle(Vec<u8>);

    impl Write for Trickle {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let n = buf.len().min(5);
            self.0.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn short_writes_resume_where_they_stopped() {
        let mut enc =
            Encoder::new(batch(&[1, 2, 3]).schema(), crate::spec::Compression::None).unwrap();
        let msg = enc.encode(&batch(&(0..300).collect::<Vec<u16>>())).unwrap();
        let mut out = Trickle(Vec::new());
        msg.write_to(&mut out).unwrap();
        assert_eq!(out.0, msg.to_vec());
        assert_eq!(out.0.len(), msg.len());
    }

    #[test]
    fn pyarrow_compatible_bytes_round_trip() {
        let b1 = batch(&[80, 443]);
        let b2 = batch(&[53]);
        let bytes = stream(&[b1.clone(), b2.clone()]);
        // arrow-ipc's own reader accepts what the encoder writes.
        let std_reader = arrow_ipc::reader::StreamReader::try_new(&bytes[..], None).unwrap();
        let got: Vec<_> = std_reader.map(|b| b.unwrap()).collect();
        assert_eq!(got, vec![b1.clone(), b2.clone()]);
        let (msgs, err) = read_all(&bytes);
        assert!(err.is_none());
        assert!(matches!(msgs[0], Message::Schema(_)));
        assert!(matches!(&msgs[1], Message::Batch(b) if *b == b1));
        assert!(matches!(&msgs[2], Message::Batch(b) if *b == b2));
        assert!(matches!(msgs[3], Message::End));
    }

    #[test]
    fn a_new_stream_may_follow_the_end_marker() {
        let mut bytes = stream(&[batch(&[1])]);
        bytes.extend(stream(&[batch(&[2, 3])]));
        let (msgs, err) = read_all(&bytes);
        assert!(err.is_none());
        let kinds: Vec<&str> = msgs
            .iter()
            .map(|m| match m {
                Message::Schema(_) => "s",
                Message::Batch(_) => "b",
                Message::End => "e",
            })
            .collect();
        assert_eq!(kinds, ["s", "b", "e", "s", "b", "e"]);
    }

    #[test]
    fn truncated_and_garbage_input_are_errors_not_panics() {
        let bytes = stream(&[batch(&[1, 2, 3])]);
        for cut in 1..bytes.len() - 8 {
            // Cut inside a message: an error; at a message boundary: no end marker.
            let (msgs, err) = read_all(&bytes[..cut]);
            let ended = msgs.iter().any(|m| matches!(m, Message::End));
            assert!(err.is_some() || !ended, "cut at {cut}");
        }
        let (_, err) = read_all(b"GET / HTTP/1.1\r\n\r\n");
        assert!(err.unwrap().to_string().contains("not an Arrow IPC stream"));
        // Flipping any byte never panics.
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x5a;
            let _ = read_all(&bad);
        }
    }

    /// Hands out its bytes a few at a time, as a socket does.
    struct Pieces<'a> {
        bytes: &'a [u8],
        sizes: std::iter::Cycle<std::slice::Iter<'a, usize>>,
    }

    impl Read for Pieces<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = (*self.sizes.next().unwrap_or(&1))
                .min(buf.len())
                .min(self.bytes.len());
            buf[..n].copy_from_slice(&self.bytes[..n]);
            self.bytes = &self.bytes[n..];
            Ok(n)
        }
    }

    #[test]
    fn bodies_read_in_pieces() {
        // Bodies from a few bytes to over a hundred kilobytes, read in
        // pieces smaller and larger than a message.
        let batches: Vec<RecordBatch> = [1usize, 3, 20_000, 70_000, 2, 40_000]
            .iter()
            .map(|&n| batch(&(0..n).map(|i| i as u16).collect::<Vec<u16>>()))
            .collect();
        let mut bytes = stream(&batches);
        bytes.extend(stream(&batches[..2]));
        for sizes in [&[1usize][..], &[7, 4096, 3], &[65_536 + 13], &[1 << 20]] {
            let source = Pieces {
                bytes: &bytes,
                sizes: sizes.iter().cycle(),
            };
            let mut r = MessageReader::new(source);
            let mut got = Vec::new();
            while let Some(m) = r.next_message().unwrap() {
                if let Message::Batch(b) = m {
                    got.push(b);
                }
            }
            let expected: Vec<RecordBatch> = batches.iter().chain(&batches[..2]).cloned().collect();
            assert_eq!(got, expected, "reads of {sizes:?}");
        }
        // Cut inside a large body: an error, not a short batch.
        let cut = &bytes[..bytes.len() / 2];
        let (_, err) = read_all(cut);
        assert!(err.unwrap().to_string().contains("truncated"));
    }

    #[test]
    fn huge_lengths_are_refused_before_allocating() {
        let mut bytes = CONTINUATION.to_vec();
        bytes.extend_from_slice(&i32::MAX.to_le_bytes());
        let (_, err) = read_all(&bytes);
        assert!(err.unwrap().to_string().contains("message length"));
    }
}

#[cfg(test)]
mod compression_tests {
    use super::*;
    use crate::spec::Compression;
    use arrow_array::UInt64Array;
    use arrow_schema::{Field, Schema};

    #[test]
    fn compressed_batches_read_back() {
        let schema = Arc::new(Schema::new(vec![Field::new(
            "bytes",
            DataType::UInt64,
            false,
        )]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(UInt64Array::from((0..5000).collect::<Vec<u64>>()))],
        )
        .unwrap();
        for c in [Compression::Lz4, Compression::Zstd] {
            let mut enc = Encoder::new(schema.clone(), c).unwrap();
            let mut bytes = enc.schema_message().to_vec();
            bytes.extend_from_slice(&enc.encode(&batch).unwrap().to_vec());
            bytes.extend_from_slice(&END_OF_STREAM);
            let mut r = MessageReader::new(&bytes[..]);
            assert!(matches!(
                r.next_message().unwrap(),
                Some(Message::Schema(_))
            ));
            match r.next_message().unwrap() {
                Some(Message::Batch(b)) => assert_eq!(b, batch),
                other => panic!("{other:?}"),
            }
            assert!(bytes.len() < 5000 * 8, "{c:?} did not compress");
        }
    }
}

#[cfg(test)]
mod fuzz_regressions {
    use super::*;

    /// Inputs the `stream_ipc` fuzz target found. The schema and buffer
    /// cases are caught by checks before arrow-ipc runs; the node-length
    /// case panics inside arrow-ipc and is contained by `next_message`.
    /// Each is an error, never a panic out of the reader.
    #[test]
    fn inputs_that_panicked_arrow_ipc_are_errors() {
        let dir = std::path::PathBuf::from(
            std::env::var_os("CARGO_MANIFEST_DIR")
                .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
        )
        .join("../../test_data/stream");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if !name.starts_with("fuzz-") {
                continue;
            }
            n += 1;
            let bytes = std::fs::read(&path).unwrap();
            let mut r = MessageReader::new(&bytes[..]);
            let err = loop {
                match r.next_message() {
                    Ok(Some(_)) => continue,
                    Ok(None) => panic!("{name}: read without an error"),
                    Err(e) => break e,
                }
            };
            assert!(
                err.to_string().contains("not an Arrow IPC stream"),
                "{name}: {err}"
            );
        }
        assert!(n >= 5);
    }
}
