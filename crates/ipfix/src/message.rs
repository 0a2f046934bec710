//! Zero-copy views over IPFIX (RFC 7011) and NetFlow v9 (RFC 3954)
//! messages: headers, sets, template records and data records.
//!
//! Every view checks its lengths once when it is built; accessors after that
//! read through [`be`] which cannot panic, so a bug in a length check shows
//! up as a zero, not as a crash on a hostile datagram.

use crate::error::{DecodeError, ErrorKind};
use crate::registry::{PEN_NETFLOW_V9, PEN_NETFLOW_V9_HIGH};
use crate::template::{FieldSpec, Template};

/// IPFIX message header length.
pub const IPFIX_HEADER_LEN: usize = 16;
/// NetFlow v9 packet header length.
pub const V9_HEADER_LEN: usize = 20;
/// Set (and v9 flowset) header length.
pub const SET_HEADER_LEN: usize = 4;
/// Field length that announces a variable-length field (IPFIX only).
pub const VARLEN: u16 = 65535;
/// IPFIX set ids.
pub const SET_TEMPLATE: u16 = 2;
pub const SET_OPTIONS_TEMPLATE: u16 = 3;
/// NetFlow v9 flowset ids.
pub const V9_SET_TEMPLATE: u16 = 0;
pub const V9_SET_OPTIONS_TEMPLATE: u16 = 1;
/// Data sets use template ids from here on, in both protocols.
pub const MIN_DATA_SET_ID: u16 = 256;

/// Reads a big-endian unsigned integer of 1 to 8 bytes at `off`; bytes past
/// the end read as zero (callers have checked lengths, this is the backstop).
pub fn be(buf: &[u8], off: usize, len: usize) -> u64 {
    let mut v = 0u64;
    for i in 0..len.min(8) {
        v = (v << 8) | u64::from(buf.get(off + i).copied().unwrap_or(0));
    }
    v
}

fn be16(buf: &[u8], off: usize) -> u16 {
    be(buf, off, 2) as u16
}

fn be32(buf: &[u8], off: usize) -> u32 {
    be(buf, off, 4) as u32
}

fn need(buf: &[u8], n: usize, offset: usize) -> Result<(), DecodeError> {
    if buf.len() < n {
        return Err(DecodeError::at(
            offset,
            ErrorKind::Truncated {
                need: n,
                have: buf.len(),
            },
        ));
    }
    Ok(())
}

/// The version field shared by NetFlow v5, v9 and IPFIX.
pub fn version(buf: &[u8]) -> Option<u16> {
    (buf.len() >= 2).then(|| be16(buf, 0))
}

/// An IPFIX message, trimmed to its header's length.
#[derive(Clone, Copy, Debug)]
pub struct IpfixMessage<'a> {
    buf: &'a [u8],
}

impl<'a> IpfixMessage<'a> {
    /// Checks the header; bytes after the message length are ignored (the
    /// caller splits streams and files with [`IpfixMessage::len`]).
    pub fn new(buf: &'a [u8]) -> Result<IpfixMessage<'a>, DecodeError> {
        need(buf, IPFIX_HEADER_LEN, 0)?;
        if be16(buf, 0) != 10 {
            return Err(DecodeError::at(
                0,
                ErrorKind::UnsupportedVersion(be16(buf, 0)),
            ));
        }
        let len = usize::from(be16(buf, 2));
        if len < IPFIX_HEADER_LEN || len > buf.len() {
            return Err(DecodeError::at(2, ErrorKind::BadMessageLength(len)));
        }
        Ok(IpfixMessage { buf: &buf[..len] })
    }

    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        self.buf.len()
    }
    /// Seconds since the Unix epoch.
    pub fn export_time(&self) -> u32 {
        be32(self.buf, 4)
    }
    pub fn sequence(&self) -> u32 {
        be32(self.buf, 8)
    }
    pub fn odid(&self) -> u32 {
        be32(self.buf, 12)
    }
    pub fn sets(&self) -> Sets<'a> {
        Sets::new(self.buf, IPFIX_HEADER_LEN)
    }
}

/// A NetFlow v9 export packet.
#[derive(Clone, Copy, Debug)]
pub struct V9Packet<'a> {
    buf: &'a [u8],
}

impl<'a> V9Packet<'a> {
    pub fn new(buf: &'a [u8]) -> Result<V9Packet<'a>, DecodeError> {
        need(buf, V9_HEADER_LEN, 0)?;
        if be16(buf, 0) != 9 {
            return Err(DecodeError::at(
                0,
                ErrorKind::UnsupportedVersion(be16(buf, 0)),
            ));
        }
        Ok(V9Packet { buf })
    }
    /// Records (templates and data) the exporter says it put in; informative only.
    pub fn count(&self) -> u16 {
        be16(self.buf, 2)
    }
    pub fn sys_uptime_ms(&self) -> u32 {
        be32(self.buf, 4)
    }
    pub fn unix_secs(&self) -> u32 {
        be32(self.buf, 8)
    }
    pub fn sequence(&self) -> u32 {
        be32(self.buf, 12)
    }
    pub fn source_id(&self) -> u32 {
        be32(self.buf, 16)
    }
    pub fn sets(&self) -> Sets<'a> {
        Sets::new(self.buf, V9_HEADER_LEN)
    }
}

/// One set (flowset): its id, the offset of its header in the message and
/// its body after the 4-byte header.
#[derive(Clone, Copy, Debug)]
pub struct Set<'a> {
    pub id: u16,
    pub offset: usize,
    pub body: &'a [u8],
}

/// Iterates the sets of a message. A set length that cannot be right ends
/// the walk with one error: the next set's start is unknown after it.
#[derive(Clone, Debug)]
pub struct Sets<'a> {
    msg: &'a [u8],
    pos: usize,
}

impl<'a> Sets<'a> {
    fn new(msg: &'a [u8], pos: usize) -> Sets<'a> {
        Sets { msg, pos }
    }
}

impl<'a> Iterator for Sets<'a> {
    type Item = Result<Set<'a>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.msg.get(self.pos..)?;
        if rest.is_empty() {
            return None;
        }
        let offset = self.pos;
        if rest.len() < SET_HEADER_LEN {
            self.pos = self.msg.len();
            let kind = ErrorKind::Truncated {
                need: SET_HEADER_LEN,
                have: rest.len(),
            };
            return Some(Err(DecodeError::at(offset, kind)));
        }
        let id = be16(rest, 0);
        let len = usize::from(be16(rest, 2));
        if len < SET_HEADER_LEN || len > rest.len() {
            self.pos = self.msg.len();
            let err = DecodeError::at(offset + 2, ErrorKind::BadSetLength(len)).in_set(id);
            return Some(Err(err));
        }
        self.pos += len;
        let body = rest.get(SET_HEADER_LEN..len).unwrap_or(&[]);
        Some(Ok(Set { id, offset, body }))
    }
}

/// Which wire format a template set uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    Ipfix,
    V9,
}

/// What one template record says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TemplateDef {
    Define(Template),
    /// Withdraw one template (IPFIX field count 0).
    Withdraw(u16),
    /// Withdraw every template (or options template) of the domain: IPFIX
    /// withdrawal with the set id as template id.
    WithdrawAll,
}

/// Iterates the template records of a template or options template set.
/// After an error the rest of the set is skipped.
#[derive(Clone, Debug)]
pub struct TemplateRecords<'a> {
    set: Set<'a>,
    flavor: Flavor,
    options: bool,
    pos: usize,
}

impl<'a> TemplateRecords<'a> {
    pub fn new(set: Set<'a>, flavor: Flavor) -> TemplateRecords<'a> {
        let options = match flavor {
            Flavor::Ipfix => set.id == SET_OPTIONS_TEMPLATE,
            Flavor::V9 => set.id == V9_SET_OPTIONS_TEMPLATE,
        };
        TemplateRecords {
            set,
            flavor,
            options,
            pos: 0,
        }
    }

    fn err(&self, at: usize, kind: ErrorKind) -> DecodeError {
        DecodeError::at(self.set.offset + SET_HEADER_LEN + at, kind).in_set(self.set.id)
    }

    fn next_def(&mut self, rest: &'a [u8]) -> Result<TemplateDef, DecodeError> {
        let tid = be16(rest, 0);
        let count = be16(rest, 2);
        if self.flavor == Flavor::Ipfix && count == 0 {
            self.pos += 4;
            if tid == self.set.id {
                return Ok(TemplateDef::WithdrawAll);
            }
            return Ok(TemplateDef::Withdraw(tid));
        }
        if tid < MIN_DATA_SET_ID {
            let err = self.err(self.pos, ErrorKind::BadTemplate("template id below 256"));
            return Err(err.with_template(tid));
        }
        let (header, scope, total) = match (self.flavor, self.options) {
            (Flavor::Ipfix, false) => (4, 0, count),
            (Flavor::Ipfix, true) => {
                need(rest, 6, 0).map_err(|_| self.truncated(rest.len(), 6, tid))?;
                (6, be16(rest, 4), count)
            }
            (Flavor::V9, false) => (4, 0, count),
            // v9 options templates give byte lengths of the scope and option
            // field lists, four bytes per field.
            (Flavor::V9, true) => {
                need(rest, 6, 0).map_err(|_| self.truncated(rest.len(), 6, tid))?;
                let scope = count / 4;
                (6, scope, scope + be16(rest, 4) / 4)
            }
        };
        // RFC 7011 forbids an IPFIX options template without scope; v9
        // exporters send them anyway and they decode fine.
        let no_scope = scope == 0 && self.flavor == Flavor::Ipfix;
        if self.options && (no_scope || scope > total) {
            let err = self.err(self.pos, ErrorKind::BadTemplate("bad scope field count"));
            return Err(err.with_template(tid));
        }
        let (fields, used) = self.fields(rest, header, total, tid)?;
        self.pos += used;
        if self.flavor == Flavor::V9 && self.options {
            // v9 pads each options template record to four bytes.
            self.pos += (4 - used % 4) % 4;
        }
        Ok(TemplateDef::Define(Template::new(
            tid,
            self.options,
            scope,
            fields,
        )))
    }

    fn truncated(&self, have: usize, need: usize, tid: u16) -> DecodeError {
        self.err(self.pos, ErrorKind::Truncated { need, have })
            .with_template(tid)
    }

    fn fields(
        &self,
        rest: &[u8],
        mut pos: usize,
        count: u16,
        tid: u16,
    ) -> Result<(Vec<FieldSpec>, usize), DecodeError> {
        // The set length bounds the field count: no allocation beyond what
        // the bytes can describe.
        let mut fields = Vec::with_capacity(usize::from(count).min(rest.len() / 4));
        for _ in 0..count {
            if rest.len() < pos + 4 {
                return Err(self.truncated(rest.len(), pos + 4, tid));
            }
            let raw = be16(rest, pos);
            let len = be16(rest, pos + 2);
            pos += 4;
            let spec = match self.flavor {
                Flavor::Ipfix if raw & 0x8000 != 0 => {
                    if rest.len() < pos + 4 {
                        return Err(self.truncated(rest.len(), pos + 4, tid));
                    }
                    let pen = be32(rest, pos);
                    pos += 4;
                    FieldSpec::new(pen, raw & 0x7fff, len, len == VARLEN)
                }
                Flavor::Ipfix => FieldSpec::new(0, raw, len, len == VARLEN),
                Flavor::V9 => v9_field(raw, len),
            };
            fields.push(spec);
        }
        Ok((fields, pos))
    }
}

/// NetFlow v9 field types as IPFIX elements: below 128 the meanings agree;
/// above that they live under ipfixcol2's reserved enterprise numbers.
/// v9 has no variable-length fields, so 65535 is a (hopeless) fixed length.
fn v9_field(raw: u16, len: u16) -> FieldSpec {
    match raw {
        0..=127 => FieldSpec::new(0, raw, len, false),
        128..=32767 => FieldSpec::new(PEN_NETFLOW_V9, raw, len, false),
        _ => FieldSpec::new(PEN_NETFLOW_V9_HIGH, raw & 0x7fff, len, false),
    }
}

impl Iterator for TemplateRecords<'_> {
    type Item = Result<TemplateDef, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.set.body.get(self.pos..)?;
        // Fewer than four bytes, or a zero template id, is set padding.
        if rest.len() < 4 || be16(rest, 0) == 0 {
            self.pos = self.set.body.len();
            return None;
        }
        let res = self.next_def(rest);
        if res.is_err() {
            self.pos = self.set.body.len();
        }
        Some(res)
    }
}

/// One data record: its bytes, split into fields by its template.
#[derive(Clone, Copy, Debug)]
pub struct DataRecord<'a, 't> {
    pub template: &'t Template,
    pub data: &'a [u8],
}

/// One field value of a data record.
#[derive(Clone, Copy, Debug)]
pub struct Field<'a, 't> {
    pub spec: &'t FieldSpec,
    pub value: &'a [u8],
}

impl<'a, 't> DataRecord<'a, 't> {
    pub fn fields(&self) -> Fields<'a, 't> {
        Fields {
            specs: self.template.fields.iter(),
            data: self.data,
        }
    }
}

/// Iterates the fields of a data record (validated when the record was cut).
#[derive(Clone, Debug)]
pub struct Fields<'a, 't> {
    specs: std::slice::Iter<'t, FieldSpec>,
    data: &'a [u8],
}

impl<'a, 't> Iterator for Fields<'a, 't> {
    type Item = Field<'a, 't>;

    fn next(&mut self) -> Option<Self::Item> {
        let spec = self.specs.next()?;
        let (skip, len) = field_len(spec, self.data)?;
        let value = self.data.get(skip..skip + len)?;
        self.data = self.data.get(skip + len..)?;
        Some(Field { spec, value })
    }
}

/// (length-prefix size, value length) of the field at the start of `data`,
/// or None when the prefix itself is cut off.
fn field_len(spec: &FieldSpec, data: &[u8]) -> Option<(usize, usize)> {
    if !spec.variable {
        return Some((0, usize::from(spec.len)));
    }
    match *data.first()? {
        255 => {
            let long = data.get(1..3)?;
            Some((3, usize::from(u16::from_be_bytes([long[0], long[1]]))))
        }
        n => Some((1, usize::from(n))),
    }
}

/// Length of the record at the start of `data`, or None when it runs past
/// the end.
fn record_len(template: &Template, data: &[u8]) -> Option<usize> {
    let mut pos = 0;
    for spec in &template.fields {
        let (skip, len) = field_len(spec, data.get(pos..)?)?;
        pos += skip + len;
    }
    (pos <= data.len()).then_some(pos)
}

/// Iterates the data records of a data set given its template.
#[derive(Clone, Debug)]
pub struct DataRecords<'a, 't> {
    template: &'t Template,
    set: Set<'a>,
    pos: usize,
}

impl<'a, 't> DataRecords<'a, 't> {
    pub fn new(set: Set<'a>, template: &'t Template) -> DataRecords<'a, 't> {
        DataRecords {
            template,
            set,
            pos: 0,
        }
    }
}

impl DataRecords<'_, '_> {
    fn cut_short(&mut self) -> DecodeError {
        let at = self.set.offset + SET_HEADER_LEN + self.pos;
        self.pos = self.set.body.len();
        DecodeError::at(at, ErrorKind::BadRecord)
            .in_set(self.set.id)
            .with_template(self.template.id)
    }
}

impl<'a, 't> Iterator for DataRecords<'a, 't> {
    type Item = Result<DataRecord<'a, 't>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.set.body.get(self.pos..)?;
        // A template whose records take no bytes would loop forever.
        if rest.is_empty() || self.template.min_len == 0 {
            self.pos = self.set.body.len();
            return None;
        }
        // What is left and shorter than the smallest record is padding.
        // Exporters pad with junk too (nprobe leaves 17 non-zero bytes), and
        // the records before it are fine, so it is not worth an error.
        if rest.len() < self.template.min_len {
            self.pos = self.set.body.len();
            return None;
        }
        let Some(len) = record_len(self.template, rest) else {
            return Some(Err(self.cut_short()));
        };
        let data = rest.get(..len).unwrap_or(&[]);
        self.pos += len;
        Some(Ok(DataRecord {
            template: self.template,
            data,
        }))
    }
}
