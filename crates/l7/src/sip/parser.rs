//! Stateless SIP head parsing (RFC 3261 section 7): the start line and the
//! few headers eddy keeps, as borrowed views into the head.

use std::borrow::Cow;

/// Longest method token accepted (the longest registered method is 9 bytes).
const MAX_METHOD_LEN: usize = 32;
/// Most digits read from a Content-Length value; more cannot be real.
const MAX_LENGTH_DIGITS: usize = 10;

/// The first line of a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartLine<'a> {
    Request { method: &'a [u8], uri: &'a [u8] },
    Response { status: u16 },
}

/// A parsed head: start line and the headers eddy keeps (first occurrence of
/// each; values trimmed, possibly folded over several lines).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head<'a> {
    pub start: StartLine<'a>,
    pub call_id: Option<&'a [u8]>,
    pub from: Option<&'a [u8]>,
    pub to: Option<&'a [u8]>,
    pub via: Option<&'a [u8]>,
    pub user_agent: Option<&'a [u8]>,
    pub cseq: Option<&'a [u8]>,
    /// `None` when absent or unreadable.
    pub content_length: Option<u64>,
}

/// ipfixprobe's SIP_MSG_TYPE codes: requests by method, 99 for every
/// response, 0 for a method outside this list.
const MESSAGE_TYPES: [(&[u8], u16); 10] = [
    (b"INVITE", 1),
    (b"ACK", 2),
    (b"CANCEL", 3),
    (b"BYE", 4),
    (b"REGISTER", 5),
    (b"OPTIONS", 6),
    (b"PUBLISH", 7),
    (b"NOTIFY", 8),
    (b"INFO", 9),
    (b"SUBSCRIBE", 10),
];
/// `sip_msg_type` of a response.
pub const MSG_TYPE_STATUS: u16 = 99;
/// `sip_msg_type` of a request whose method has no code.
pub const MSG_TYPE_OTHER: u16 = 0;

/// The `sip_msg_type` of a start line.
pub fn message_type(start: &StartLine<'_>) -> u16 {
    match start {
        StartLine::Response { .. } => MSG_TYPE_STATUS,
        StartLine::Request { method, .. } => MESSAGE_TYPES
            .iter()
            .find(|(name, _)| name == method)
            .map_or(MSG_TYPE_OTHER, |&(_, code)| code),
    }
}

/// The protocol version ending a request line.
const SIP_VERSION: &[u8] = b"SIP/2.0";

/// Parses a start line (without its line ending): `METHOD uri SIP/2.0` or
/// `SIP/2.0 NNN reason`.
pub fn parse_start_line(line: &[u8]) -> Option<StartLine<'_>> {
    let line = trim(line);
    if let Some(rest) = strip_prefix_ignore_case(line, b"SIP/2.0 ") {
        return parse_status(rest).map(|status| StartLine::Response { status });
    }
    // A request line ends with its version. Most lines probed are other
    // protocols' (every HTTP flow's first line comes here), so this check
    // comes before splitting the line.
    let tail = line.get(line.len().saturating_sub(SIP_VERSION.len())..);
    if !tail.is_some_and(|tail| tail.eq_ignore_ascii_case(SIP_VERSION)) {
        return None;
    }
    let mut parts = line.split(|&b| b == b' ').filter(|part| !part.is_empty());
    let (method, uri, version) = (parts.next()?, parts.next()?, parts.next()?);
    let is_method = method.len() <= MAX_METHOD_LEN && method.iter().all(|&b| is_token_byte(b));
    let is_uri = uri.contains(&b':');
    if !is_method || !is_uri || !version.eq_ignore_ascii_case(SIP_VERSION) || parts.next().is_some()
    {
        return None;
    }
    Some(StartLine::Request { method, uri })
}

/// Whether `uri` has the scheme a SIP request line carries (sip:, sips:).
pub fn is_sip_uri(uri: &[u8]) -> bool {
    strip_prefix_ignore_case(uri, b"sip:").is_some()
        || strip_prefix_ignore_case(uri, b"sips:").is_some()
}

fn parse_status(rest: &[u8]) -> Option<u16> {
    let digits = rest.get(..3)?;
    if !digits.iter().all(u8::is_ascii_digit) || !matches!(rest.get(3), None | Some(b' ')) {
        return None;
    }
    Some(
        digits
            .iter()
            .fold(0u16, |acc, &b| acc * 10 + u16::from(b - b'0')),
    )
}

/// Whether `bytes` (the start of a message, maybe cut) can begin a start
/// line: a complete valid first line, or a cut one that still could be.
pub fn plausible_start(bytes: &[u8]) -> bool {
    match bytes.iter().position(|&b| b == b'\n') {
        Some(end) => parse_start_line(bytes.get(..end).unwrap_or_default()).is_some(),
        None => plausible_cut_start(bytes),
    }
}

fn plausible_cut_start(bytes: &[u8]) -> bool {
    let version = b"SIP/2.0 ";
    let n = version.len().min(bytes.len());
    if bytes
        .get(..n)
        .zip(version.get(..n))
        .is_some_and(|(a, b)| a.eq_ignore_ascii_case(b))
    {
        return true;
    }
    // Methods are case-sensitive and all registered ones are upper case.
    let method_len = bytes.iter().position(|&b| b == b' ').unwrap_or(bytes.len());
    let method = bytes.get(..method_len).unwrap_or_default();
    !method.is_empty()
        && method.len() <= MAX_METHOD_LEN
        && method.iter().all(|b| b.is_ascii_uppercase())
}

/// Where the head ends (just past its blank line), searching for the blank
/// line from `from` on.
pub fn head_end(bytes: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    while let Some(newline) = bytes.get(at..)?.iter().position(|&b| b == b'\n') {
        let next = at + newline + 1;
        match (bytes.get(next), bytes.get(next + 1)) {
            (Some(b'\n'), _) => return Some(next + 1),
            (Some(b'\r'), Some(b'\n')) => return Some(next + 2),
            _ => at = next,
        }
    }
    None
}

/// Parses a head (start line and header lines; a cut last line is ignored).
pub fn parse_head(head: &[u8]) -> Option<Head<'_>> {
    let first_end = head.iter().position(|&b| b == b'\n')?;
    let start = parse_start_line(head.get(..first_end)?)?;
    let mut parsed = Head {
        start,
        call_id: None,
        from: None,
        to: None,
        via: None,
        user_agent: None,
        cseq: None,
        content_length: None,
    };
    let mut rest = head.get(first_end + 1..).unwrap_or_default();
    while let Some((name, value, tail)) = next_header(rest) {
        rest = tail;
        parsed.apply(name, value);
    }
    Some(parsed)
}

impl<'a> Head<'a> {
    fn apply(&mut self, name: &[u8], value: &'a [u8]) {
        let slot = match canonical_name(name) {
            Some(Header::CallId) => &mut self.call_id,
            Some(Header::From) => &mut self.from,
            Some(Header::To) => &mut self.to,
            Some(Header::Via) => &mut self.via,
            Some(Header::UserAgent) => &mut self.user_agent,
            Some(Header::CSeq) => &mut self.cseq,
            Some(Header::ContentLength) => {
                if self.content_length.is_none() {
                    self.content_length = parse_length(value);
                }
                return;
            }
            None => return,
        };
        if slot.is_none() {
            *slot = Some(value);
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Header {
    CallId,
    From,
    To,
    Via,
    UserAgent,
    CSeq,
    ContentLength,
}

/// Header names, long and compact (RFC 3261 section 7.3.3), case-insensitive.
const HEADER_NAMES: [(&[u8], Header); 12] = [
    (b"Call-ID", Header::CallId),
    (b"i", Header::CallId),
    (b"From", Header::From),
    (b"f", Header::From),
    (b"To", Header::To),
    (b"t", Header::To),
    (b"Via", Header::Via),
    (b"v", Header::Via),
    (b"User-Agent", Header::UserAgent),
    (b"CSeq", Header::CSeq),
    (b"Content-Length", Header::ContentLength),
    (b"l", Header::ContentLength),
];

fn canonical_name(name: &[u8]) -> Option<Header> {
    HEADER_NAMES
        .iter()
        .find(|(known, _)| known.eq_ignore_ascii_case(name))
        .map(|&(_, header)| header)
}

/// The next complete header: its name, its value (continuation lines
/// included, trimmed) and the bytes after it. `None` at the blank line or
/// when only a cut line is left.
fn next_header(bytes: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let mut end = bytes.iter().position(|&b| b == b'\n')?;
    let line = trim(bytes.get(..end)?);
    if line.is_empty() {
        return None;
    }
    // Lines starting with blanks continue this header (folding).
    while matches!(bytes.get(end + 1), Some(b' ' | b'\t')) {
        end += 1 + bytes.get(end + 1..)?.iter().position(|&b| b == b'\n')?;
    }
    let header = bytes.get(..end)?;
    let tail = bytes.get(end + 1..).unwrap_or_default();
    match header.iter().position(|&b| b == b':') {
        Some(colon) => Some((
            trim(header.get(..colon)?),
            trim(header.get(colon + 1..)?),
            tail,
        )),
        // Not a header: skip the line, keep looking.
        None => Some((&[], &[], tail)),
    }
}

fn parse_length(value: &[u8]) -> Option<u64> {
    if value.is_empty() || value.len() > MAX_LENGTH_DIGITS {
        return None;
    }
    value.iter().try_fold(0u64, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + u64::from(b - b'0'))
    })
}

/// The first entry of a Via value (several may share one header, comma
/// separated).
pub fn first_via(value: &[u8]) -> &[u8] {
    let end = value.iter().position(|&b| b == b',').unwrap_or(value.len());
    trim(value.get(..end).unwrap_or_default())
}

/// A value with its folding (line break plus blanks) turned into one space.
pub fn unfold(value: &[u8]) -> Cow<'_, [u8]> {
    if !value.contains(&b'\n') {
        return Cow::Borrowed(value);
    }
    let mut out = Vec::with_capacity(value.len());
    let mut in_break = false;
    for &b in value {
        if matches!(b, b'\r' | b'\n') || (in_break && matches!(b, b' ' | b'\t')) {
            in_break = true;
            continue;
        }
        if in_break {
            out.push(b' ');
            in_break = false;
        }
        out.push(b);
    }
    Cow::Owned(out)
}

/// RFC 3261 `token` characters.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b)
}

fn strip_prefix_ignore_case<'a>(bytes: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    let head = bytes.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| bytes.get(prefix.len()..).unwrap_or_default())
}

fn trim(bytes: &[u8]) -> &[u8] {
    let is_blank = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let start = bytes
        .iter()
        .position(|b| !is_blank(b))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !is_blank(b))
        .map_or(start, |i| i + 1);
    bytes.get(start..end).unwrap_or_default()
}

/// `bytes` without leading CR/LF (keep-alives and stray line ends between
/// messages).
pub fn skip_blank_lines(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(bytes.len());
    bytes.get(start..).unwrap_or_default()
}
