//! Stateless parsing of one DNS message (RFC 1035 section 4) over `&[u8]`:
//! the header, the first question, the first answer record and the EDNS OPT
//! record. Every read goes through `get`, so no byte sequence can panic.

use std::fmt::Write as _;
use std::net::Ipv6Addr;

use compact_str::ToCompactString;

use crate::FieldStr;

/// Size of the fixed DNS header.
pub const HEADER_LEN: usize = 12;
/// Longest name on the wire, length bytes included (RFC 1035 2.3.4).
pub const MAX_NAME_WIRE_LEN: usize = 255;
/// Most labels a name may have: 255 wire bytes hold at most 127 one-byte
/// labels.
pub const MAX_LABELS: usize = 127;
/// Most compression pointers followed while reading one name; a real name
/// needs one or two, so this only stops loops and pointer chains.
pub const MAX_POINTER_JUMPS: usize = 16;
/// Most resource records walked per message (looking for the OPT record in
/// the additional section); later records are not read.
pub const MAX_RECORDS_WALKED: usize = 128;
/// Most rdata bytes shown as hex for record types without a text form
/// (twice as many hex digits still fit in [`crate::MAX_FIELD_LEN`]).
pub const MAX_HEX_RDATA: usize = crate::MAX_FIELD_LEN / 2;

/// Record types with a text form.
pub const TYPE_A: u16 = 1;
pub const TYPE_NS: u16 = 2;
pub const TYPE_CNAME: u16 = 5;
pub const TYPE_SOA: u16 = 6;
pub const TYPE_PTR: u16 = 12;
pub const TYPE_MX: u16 = 15;
pub const TYPE_TXT: u16 = 16;
pub const TYPE_AAAA: u16 = 28;
pub const TYPE_SRV: u16 = 33;
pub const TYPE_DNAME: u16 = 39;
pub const TYPE_OPT: u16 = 41;

fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    let pair = bytes.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([pair[0], pair[1]]))
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    let quad = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([quad[0], quad[1], quad[2], quad[3]]))
}

/// The fixed 12-byte header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub id: u16,
    /// QR, opcode, AA, TC, RD, RA, Z, AD, CD and RCODE as on the wire.
    pub flags: u16,
    pub qdcount: u16,
    pub ancount: u16,
    pub nscount: u16,
    pub arcount: u16,
}

impl Header {
    pub fn parse(msg: &[u8]) -> Option<Header> {
        Some(Header {
            id: u16_at(msg, 0)?,
            flags: u16_at(msg, 2)?,
            qdcount: u16_at(msg, 4)?,
            ancount: u16_at(msg, 6)?,
            nscount: u16_at(msg, 8)?,
            arcount: u16_at(msg, 10)?,
        })
    }

    pub fn is_response(&self) -> bool {
        self.flags & 0x8000 != 0
    }

    pub fn opcode(&self) -> u8 {
        ((self.flags >> 11) & 0x0f) as u8
    }

    pub fn rcode(&self) -> u8 {
        (self.flags & 0x0f) as u8
    }

    /// The Z bit, which RFC 1035 requires to be zero.
    pub fn z_bit(&self) -> bool {
        self.flags & 0x0040 != 0
    }

    fn record_count(&self) -> usize {
        usize::from(self.ancount) + usize::from(self.nscount) + usize::from(self.arcount)
    }
}

/// Why a name could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameError {
    /// The name runs past the end of the message.
    Truncated,
    /// A label type other than plain (00) or pointer (11).
    BadLabelType,
    /// A pointer that does not point backwards, or too many of them.
    BadPointer,
    /// Longer than 255 bytes or more than 127 labels.
    TooLong,
}

/// A validated (possibly compressed) name inside a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Name<'a> {
    msg: &'a [u8],
    start: usize,
}

impl<'a> Name<'a> {
    /// Reads the name at `start`; returns it and the offset just past its
    /// in-place bytes (after the terminating zero or the first pointer).
    pub fn parse(msg: &'a [u8], start: usize) -> Result<(Name<'a>, usize), NameError> {
        let mut labels = Labels::new(msg, start);
        for label in labels.by_ref() {
            label?;
        }
        let end = labels.in_place_end.ok_or(NameError::Truncated)?;
        Ok((Name { msg, start }, end))
    }

    /// The labels of the name (already validated by [`Name::parse`]).
    pub fn labels(&self) -> impl Iterator<Item = &'a [u8]> {
        Labels::new(self.msg, self.start).map_while(Result::ok)
    }

    /// Dotted text without the trailing dot; the root is "".
    pub fn to_text(self) -> FieldStr {
        crate::joined_field(self.labels(), b'.')
    }

    fn append_text(&self, out: &mut Vec<u8>) {
        for (i, label) in self.labels().enumerate() {
            if i > 0 {
                out.push(b'.');
            }
            out.extend_from_slice(label);
        }
    }
}

/// Walks the labels of a name, following compression pointers, enforcing
/// the caps; yields each label or the error that ended the walk.
struct Labels<'a> {
    msg: &'a [u8],
    pos: usize,
    /// Where the name's in-place bytes end, once known.
    in_place_end: Option<usize>,
    /// Pointers must point before the lowest offset read so far.
    lowest: usize,
    jumps: usize,
    labels: usize,
    wire_len: usize,
    done: bool,
}

impl<'a> Labels<'a> {
    fn new(msg: &'a [u8], start: usize) -> Labels<'a> {
        Labels {
            msg,
            pos: start,
            in_place_end: None,
            lowest: start,
            jumps: 0,
            labels: 0,
            wire_len: 0,
            done: false,
        }
    }

    fn fail(&mut self, error: NameError) -> Option<Result<&'a [u8], NameError>> {
        self.done = true;
        Some(Err(error))
    }
}

impl<'a> Iterator for Labels<'a> {
    type Item = Result<&'a [u8], NameError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.done {
                return None;
            }
            let Some(&len) = self.msg.get(self.pos) else {
                return self.fail(NameError::Truncated);
            };
            match len & 0xc0 {
                0x00 if len == 0 => {
                    self.done = true;
                    self.in_place_end.get_or_insert(self.pos + 1);
                    return None;
                }
                0x00 => {
                    let len = usize::from(len);
                    self.labels += 1;
                    self.wire_len += len + 1;
                    // The terminating zero byte counts towards the 255 too.
                    if self.labels > MAX_LABELS || self.wire_len + 1 > MAX_NAME_WIRE_LEN {
                        return self.fail(NameError::TooLong);
                    }
                    let Some(label) = self.msg.get(self.pos + 1..self.pos + 1 + len) else {
                        return self.fail(NameError::Truncated);
                    };
                    self.pos += 1 + len;
                    return Some(Ok(label));
                }
                0xc0 => {
                    let Some(pointer) = u16_at(self.msg, self.pos) else {
                        return self.fail(NameError::Truncated);
                    };
                    self.in_place_end.get_or_insert(self.pos + 2);
                    let target = usize::from(pointer & 0x3fff);
                    self.jumps += 1;
                    // Backward-only pointers cannot loop; the jump cap also
                    // bounds the work on long chains.
                    if target >= self.lowest || self.jumps > MAX_POINTER_JUMPS {
                        return self.fail(NameError::BadPointer);
                    }
                    self.lowest = target;
                    self.pos = target;
                }
                _ => return self.fail(NameError::BadLabelType),
            }
        }
    }
}

/// The question section's first entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Question<'a> {
    pub name: Name<'a>,
    pub qtype: u16,
    pub qclass: u16,
}

/// One resource record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    pub name: Name<'a>,
    pub rtype: u16,
    pub class: u16,
    pub ttl: u32,
    /// The whole message (compressed names in rdata point into it).
    msg: &'a [u8],
    rdata_start: usize,
    pub rdata: &'a [u8],
}

/// EDNS(0) facts from the OPT pseudo-record (RFC 6891).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Edns {
    /// Requestor's UDP payload size (the OPT record's class).
    pub udp_payload_size: u16,
    /// The DNSSEC OK bit.
    pub dnssec_ok: bool,
}

/// What could be read of one message; parsing stops at the first malformed
/// part and keeps what came before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Message<'a> {
    pub header: Header,
    pub question: Option<Question<'a>>,
    pub first_answer: Option<Record<'a>>,
    pub edns: Option<Edns>,
    /// Offset just past the last record when every counted question and
    /// record parsed (None when something was malformed or not walked).
    pub end: Option<usize>,
}

fn parse_question(msg: &[u8], at: usize) -> Option<(Question<'_>, usize)> {
    let (name, at) = Name::parse(msg, at).ok()?;
    let question = Question {
        name,
        qtype: u16_at(msg, at)?,
        qclass: u16_at(msg, at + 2)?,
    };
    Some((question, at + 4))
}

/// Reads the record at `at`. With `allow_cut`, rdata running past the end
/// of `msg` (a message cut at the reassembly cap) is kept as far as it goes.
fn parse_record(msg: &[u8], at: usize, allow_cut: bool) -> Option<(Record<'_>, usize)> {
    let (name, at) = Name::parse(msg, at).ok()?;
    let rtype = u16_at(msg, at)?;
    let class = u16_at(msg, at + 2)?;
    let ttl = u32_at(msg, at + 4)?;
    let rdlength = usize::from(u16_at(msg, at + 8)?);
    let rdata_start = at + 10;
    let rdata = match msg.get(rdata_start..rdata_start + rdlength) {
        Some(rdata) => rdata,
        None if allow_cut => msg.get(rdata_start..)?,
        None => return None,
    };
    let record = Record {
        name,
        rtype,
        class,
        ttl,
        msg,
        rdata_start,
        rdata,
    };
    Some((record, rdata_start + rdlength))
}

fn parse_first_answer<'a>(msg: &'a [u8], at: usize, header: Header) -> Option<Record<'a>> {
    let (record, _) = parse_record(msg, at, true)?;
    (header.ancount > 0).then_some(record)
}

/// Parses `msg` (one DNS message, without the TCP length prefix); None when
/// it is shorter than the header.
pub fn parse_message(msg: &[u8]) -> Option<Message<'_>> {
    let header = Header::parse(msg)?;
    let mut message = Message {
        header,
        question: None,
        first_answer: None,
        edns: None,
        end: None,
    };
    let mut at = HEADER_LEN;
    for i in 0..header.qdcount {
        let Some((question, next)) = parse_question(msg, at) else {
            return Some(message);
        };
        if i == 0 {
            message.question = Some(question);
        }
        at = next;
    }
    if header.record_count() > MAX_RECORDS_WALKED {
        // Still show the first answer; just do not walk them all.
        message.first_answer = parse_first_answer(msg, at, header);
        return Some(message);
    }
    for i in 0..header.record_count() {
        let Some((record, next)) = parse_record(msg, at, false) else {
            if i == 0 {
                message.first_answer = parse_first_answer(msg, at, header);
            }
            return Some(message);
        };
        if i == 0 && header.ancount > 0 {
            message.first_answer = Some(record);
        }
        if record.rtype == TYPE_OPT
            && i >= usize::from(header.ancount) + usize::from(header.nscount)
        {
            message.edns = Some(Edns {
                udp_payload_size: record.class,
                dnssec_ok: record.ttl & 0x8000 != 0,
            });
        }
        at = next;
    }
    message.end = Some(at);
    Some(message)
}

impl<'a> Record<'a> {
    /// The rdata as text: addresses for A/AAAA, names for CNAME/PTR/NS/DNAME,
    /// "preference exchange" for MX, the concatenated strings for TXT,
    /// "priority weight port target" for SRV, "mname rname serial refresh
    /// retry expire minimum" for SOA (the forms FlowTest and ipfixprobe
    /// show); lowercase hex of the first bytes for other types; "" when the
    /// rdata is malformed.
    pub fn rdata_text(&self) -> FieldStr {
        let text = match self.rtype {
            TYPE_A => self.ipv4_text(),
            TYPE_AAAA => self.ipv6_text(),
            TYPE_NS | TYPE_CNAME | TYPE_PTR | TYPE_DNAME => {
                self.name_at(0).map(|(name, _)| name.to_text())
            }
            TYPE_MX => self.mx_text(),
            TYPE_TXT => Some(self.txt_text()),
            TYPE_SRV => self.srv_text(),
            TYPE_SOA => self.soa_text(),
            _ => Some(self.hex_text()),
        };
        text.unwrap_or_default()
    }

    /// A name inside the rdata, which must end within the rdata.
    fn name_at(&self, offset: usize) -> Option<(Name<'a>, usize)> {
        let (name, end) = Name::parse(self.msg, self.rdata_start + offset).ok()?;
        let end_in_rdata = end - self.rdata_start;
        (end_in_rdata <= self.rdata.len()).then_some((name, end_in_rdata))
    }

    fn ipv4_text(&self) -> Option<FieldStr> {
        let octets: [u8; 4] = self.rdata.try_into().ok()?;
        Some(ipv4_string(octets))
    }

    fn ipv6_text(&self) -> Option<FieldStr> {
        let octets: [u8; 16] = self.rdata.try_into().ok()?;
        Some(Ipv6Addr::from(octets).to_compact_string())
    }

    fn mx_text(&self) -> Option<FieldStr> {
        let preference = u16_at(self.rdata, 0)?;
        let (exchange, _) = self.name_at(2)?;
        Some(crate::field_string(
            format!("{preference} {}", exchange.to_text()).as_bytes(),
        ))
    }

    fn srv_text(&self) -> Option<FieldStr> {
        let priority = u16_at(self.rdata, 0)?;
        let weight = u16_at(self.rdata, 2)?;
        let port = u16_at(self.rdata, 4)?;
        let (target, _) = self.name_at(6)?;
        let text = format!("{priority} {weight} {port} {}", target.to_text());
        Some(crate::field_string(text.as_bytes()))
    }

    fn soa_text(&self) -> Option<FieldStr> {
        let (mname, after_mname) = self.name_at(0)?;
        let (rname, after_rname) = self.name_at(after_mname)?;
        let mut text = Vec::with_capacity(128);
        mname.append_text(&mut text);
        text.push(b' ');
        rname.append_text(&mut text);
        for field in 0..5 {
            let value = u32_at(self.rdata, after_rname + 4 * field)?;
            let _ = write!(ByteWriter(&mut text), " {value}");
        }
        Some(crate::field_string(&text))
    }

    /// TXT character-strings joined as they stand (long SPF or DKIM records
    /// are split into 255-byte strings meant to be concatenated).
    fn txt_text(&self) -> FieldStr {
        let mut text = Vec::with_capacity(self.rdata.len().min(crate::MAX_FIELD_LEN));
        let mut rest = self.rdata;
        while let Some((&len, tail)) = rest.split_first() {
            let len = usize::from(len).min(tail.len());
            let (chunk, after) = tail.split_at(len);
            text.extend_from_slice(chunk);
            if text.len() >= crate::MAX_FIELD_LEN {
                break;
            }
            rest = after;
        }
        crate::field_string(&text)
    }

    fn hex_text(&self) -> FieldStr {
        let shown = self.rdata.get(..MAX_HEX_RDATA).unwrap_or(self.rdata);
        let mut text = String::with_capacity(shown.len() * 2);
        for byte in shown {
            let _ = write!(text, "{byte:02x}");
        }
        FieldStr::from(text)
    }
}

/// Lets `write!` append to a byte vector.
struct ByteWriter<'v>(&'v mut Vec<u8>);

impl std::fmt::Write for ByteWriter<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// Record classes a real question uses: IN, CH, HS, NONE, ANY.
fn is_known_class(class: u16) -> bool {
    matches!(class, 1 | 3 | 4 | 254 | 255)
}

/// Opcodes in use: QUERY, IQUERY, STATUS, NOTIFY, UPDATE, DSO.
fn is_known_opcode(opcode: u8) -> bool {
    matches!(opcode, 0 | 1 | 2 | 4 | 5 | 6)
}

/// Largest section count a plausible header has (for the loose check on DNS
/// ports: mDNS answers can carry dozens of records).
pub const MAX_PLAUSIBLE_COUNT: u16 = 512;
/// Largest answer/authority/additional count the strict check accepts.
pub const MAX_STRICT_COUNT: u16 = 64;

/// A loose check for DNS ports: the header could be DNS.
pub fn header_is_plausible(msg: &[u8]) -> bool {
    let Some(header) = Header::parse(msg) else {
        return false;
    };
    is_known_opcode(header.opcode())
        && header.qdcount <= 32
        && [header.ancount, header.nscount, header.arcount]
            .iter()
            .all(|&c| c <= MAX_PLAUSIBLE_COUNT)
}

/// A strict check for other ports: `msg` is exactly one well-formed DNS
/// message with one sane question, small counts and nothing after it.
pub fn is_strict_message(msg: &[u8]) -> bool {
    let Some(message) = parse_message(msg) else {
        return false;
    };
    let header = message.header;
    let counts_small = [header.ancount, header.nscount, header.arcount]
        .iter()
        .all(|&c| c <= MAX_STRICT_COUNT);
    // Plain queries carry no answers; NOTIFY and UPDATE may.
    let query_sane = header.is_response()
        || (header.rcode() == 0 && (header.ancount == 0 || matches!(header.opcode(), 4 | 5)));
    let question_sane = message
        .question
        .is_some_and(|q| q.qtype != 0 && is_known_class(q.qclass));
    header.qdcount == 1
        && !header.z_bit()
        && is_known_opcode(header.opcode())
        && counts_small
        && query_sane
        && question_sane
        && message.end == Some(msg.len())
}

/// Dotted decimal, by hand: `Ipv4Addr`'s `Display` goes through the
/// formatter, several times slower for a field of every A answer.
fn ipv4_string(octets: [u8; 4]) -> FieldStr {
    let mut text = [0u8; 15];
    let mut len = 0;
    for (i, octet) in octets.into_iter().enumerate() {
        if i > 0 {
            text[len] = b'.';
            len += 1;
        }
        if octet >= 100 {
            text[len] = b'0' + octet / 100;
            len += 1;
        }
        if octet >= 10 {
            text[len] = b'0' + octet / 10 % 10;
            len += 1;
        }
        text[len] = b'0' + octet % 10;
        len += 1;
    }
    FieldStr::from_utf8(&text[..len]).unwrap_or_default()
}

#[cfg(test)]
#[test]
fn ipv4_strings_match_std() {
    for a in 0..=255u8 {
        let octets = [a, 255 - a, a / 3, a.wrapping_mul(7)];
        assert_eq!(
            ipv4_string(octets),
            std::net::Ipv4Addr::from(octets).to_string()
        );
    }
}
