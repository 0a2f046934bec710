//! Stateless HTTP/1.x head parsing: start lines, header lines and the facts
//! a flow direction needs (fields, body framing), as borrowed views of the
//! bytes.

use super::HttpFields;
use crate::{field_string, FieldStr};

/// Longest method token accepted; real methods are short, and the cap keeps
/// a probe over binary data cheap.
pub const MAX_METHOD_LEN: usize = 32;
/// Most hex digits of a chunk size (a u64 holds 16).
pub const MAX_CHUNK_SIZE_DIGITS: usize = 16;

/// The first line of an HTTP/1.x head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartLine<'a> {
    Request { method: &'a [u8], target: &'a [u8] },
    Response { status: u16, reason: &'a [u8] },
}

impl StartLine<'_> {
    pub fn kind(&self) -> Kind {
        match self {
            StartLine::Request { .. } => Kind::Request,
            StartLine::Response { .. } => Kind::Response,
        }
    }
}

/// Whether a flow direction carries requests or responses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Request,
    Response,
}

/// What the bytes at a head's start say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineCheck<'a> {
    /// A valid start line; `len` counts its line end.
    Valid { line: StartLine<'a>, len: usize },
    /// No line end yet, but every byte so far fits the grammar.
    Incomplete,
    /// Not an HTTP/1.x start line.
    Invalid,
}

/// RFC 9110 `tchar`: the bytes a method token may hold.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Bytes of a request target: anything visible, raw UTF-8 included (some
/// clients do not percent-encode).
fn is_target_byte(b: u8) -> bool {
    b > b' ' && b != 0x7f
}

/// Checks `HTTP/1.d` against the start of `bytes` (which may be cut short).
fn version_prefix_ok(bytes: &[u8]) -> bool {
    const VERSION: &[u8] = b"HTTP/1.";
    let n = bytes.len().min(VERSION.len());
    bytes[..n] == VERSION[..n] && bytes.get(VERSION.len()).is_none_or(u8::is_ascii_digit)
}

/// Parses `bytes` as a start line: `METHOD SP target SP HTTP/1.x` or
/// `HTTP/1.x SP 3DIGIT [SP reason]`. One forward pass that stops at the
/// first byte off the grammar, so body or binary bytes cost a few byte
/// reads, not a search for the line end.
pub fn check_start_line(bytes: &[u8]) -> LineCheck<'_> {
    if bytes.is_empty() {
        LineCheck::Invalid
    } else if bytes.starts_with(b"HTTP/") || b"HTTP/".starts_with(bytes) {
        check_status_line(bytes)
    } else {
        check_request_line(bytes)
    }
}

/// What follows a start line's last element: its line end, more bytes
/// still to come, or something else.
fn check_line_end(rest: &[u8], line_end: usize) -> Result<usize, LineCheck<'static>> {
    match rest {
        [b'\n', ..] => Ok(line_end + 1),
        [b'\r', b'\n', ..] => Ok(line_end + 2),
        [] | [b'\r'] => Err(LineCheck::Incomplete),
        _ => Err(LineCheck::Invalid),
    }
}

fn check_request_line(bytes: &[u8]) -> LineCheck<'_> {
    let method_len = bytes
        .iter()
        .take(MAX_METHOD_LEN + 1)
        .position(|&b| !is_tchar(b));
    let method_len = match method_len {
        None if bytes.len() <= MAX_METHOD_LEN => return LineCheck::Incomplete,
        Some(n) if n > 0 && bytes[n] == b' ' => n,
        _ => return LineCheck::Invalid,
    };
    let target_start = method_len + 1;
    let target_len = match bytes[target_start..]
        .iter()
        .position(|&b| !is_target_byte(b))
    {
        None => return LineCheck::Incomplete,
        Some(n) if n > 0 && bytes[target_start + n] == b' ' => n,
        _ => return LineCheck::Invalid,
    };
    let version_start = target_start + target_len + 1;
    let version = &bytes[version_start..];
    if version.len() < 8 {
        return if version_prefix_ok(version) {
            LineCheck::Incomplete
        } else {
            LineCheck::Invalid
        };
    }
    if !version_prefix_ok(&version[..8]) {
        return LineCheck::Invalid;
    }
    match check_line_end(&version[8..], version_start + 8) {
        Ok(len) => {
            let line = StartLine::Request {
                method: &bytes[..method_len],
                target: &bytes[target_start..target_start + target_len],
            };
            LineCheck::Valid { line, len }
        }
        Err(check) => check,
    }
}

fn check_status_line(bytes: &[u8]) -> LineCheck<'_> {
    if !status_prefix_plausible(bytes) {
        return LineCheck::Invalid;
    }
    if bytes.len() < 13 {
        return LineCheck::Incomplete;
    }
    let Some(lf) = bytes[12..].iter().position(|&b| b == b'\n').map(|i| i + 12) else {
        return LineCheck::Incomplete;
    };
    let line = &bytes[..lf];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    match parse_status_line(line) {
        Some(line) => LineCheck::Valid { line, len: lf + 1 },
        None => LineCheck::Invalid,
    }
}

/// Parses a complete status line (no line end).
fn parse_status_line(line: &[u8]) -> Option<StartLine<'_>> {
    let code = line.get(9..12)?;
    if !status_prefix_plausible(line) || !matches!(line.get(12), None | Some(b' ')) {
        return None;
    }
    let status = code.iter().fold(0u16, |n, &d| n * 10 + u16::from(d - b'0'));
    Some(StartLine::Response {
        status,
        reason: line.get(13..).unwrap_or_default(),
    })
}

/// A start line cut before its end (a capture's snap length, a flow that
/// ended mid line) that still names the method and whole target, or the
/// status code.
pub fn parse_cut_start_line(bytes: &[u8]) -> Option<StartLine<'_>> {
    if check_start_line(bytes) != LineCheck::Incomplete {
        return None;
    }
    if bytes.starts_with(b"HTTP/") {
        return parse_status_line(bytes.get(..12)?);
    }
    let (method, rest) = split_once(bytes, b' ')?;
    let (target, _) = split_once(rest, b' ')?;
    Some(StartLine::Request { method, target })
}

/// Whether the first bytes of `bytes` (up to 13) fit `HTTP/1.x SP 3DIGIT`
/// followed by a space or the line end.
fn status_prefix_plausible(bytes: &[u8]) -> bool {
    let version_ok = version_prefix_ok(bytes);
    let separator_ok = bytes.get(8).is_none_or(|&b| b == b' ');
    let code_ok = bytes
        .get(9..)
        .unwrap_or_default()
        .iter()
        .take(3)
        .all(u8::is_ascii_digit);
    let after_ok = bytes
        .get(12)
        .is_none_or(|b| matches!(b, b' ' | b'\r' | b'\n'));
    version_ok && separator_ok && code_ok && after_ok
}

fn split_once(bytes: &[u8], sep: u8) -> Option<(&[u8], &[u8])> {
    let at = bytes.iter().position(|&b| b == sep)?;
    Some((&bytes[..at], &bytes[at + 1..]))
}

/// Offset just past the empty line that ends a head starting at
/// `bytes[0]`, looking only at line ends from `from` on (earlier ones were
/// already checked). Bare LF line ends count as well as CR LF.
pub fn find_head_end(bytes: &[u8], from: usize) -> Option<usize> {
    let tail = bytes.get(from..)?;
    memchr::memchr_iter(b'\n', tail)
        .map(|i| from + i)
        .find_map(|at| {
            let before = &bytes[..at];
            (before.ends_with(b"\n") || before.ends_with(b"\n\r")).then_some(at + 1)
        })
}

/// One header line; `folded` holds the obsolete continuation lines that
/// followed it (RFC 9112 section 5.2), still with their line ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header<'a> {
    pub name: &'a [u8],
    pub value: &'a [u8],
    pub folded: &'a [u8],
}

impl Header<'_> {
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name.as_bytes())
    }

    /// The value with continuation lines joined by single spaces, capped.
    pub fn value_string(&self) -> FieldStr {
        if self.folded.is_empty() {
            return field_string(self.value);
        }
        let mut joined = self.value.to_vec();
        for part in self
            .folded
            .split(|&b| b == b'\n')
            .map(trim)
            .filter(|p| !p.is_empty())
        {
            if joined.len() > crate::MAX_FIELD_LEN {
                break;
            }
            joined.push(b' ');
            joined.extend_from_slice(part);
        }
        field_string(&joined)
    }
}

fn trim(bytes: &[u8]) -> &[u8] {
    let is_space = |b: &u8| matches!(b, b' ' | b'\t' | b'\r');
    let start = bytes
        .iter()
        .position(|b| !is_space(b))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !is_space(b))
        .map_or(start, |i| i + 1);
    &bytes[start..end.max(start)]
}

/// Header lines of a head, after its start line. Lines without a colon are
/// skipped (FlowTest `http_crlf_in_header` has header names cut by CR LF);
/// only complete lines are read, so a head cut short yields what arrived.
pub struct Headers<'a> {
    rest: &'a [u8],
}

impl<'a> Headers<'a> {
    /// `bytes` starts just after the start line.
    pub fn new(bytes: &'a [u8]) -> Self {
        Headers { rest: bytes }
    }

    /// The continuation lines at the front of `rest`, consumed.
    fn take_folded(&mut self) -> &'a [u8] {
        let mut len = 0;
        while matches!(self.rest.get(len), Some(b' ' | b'\t')) {
            match self.rest[len..].iter().position(|&b| b == b'\n') {
                Some(lf) => len += lf + 1,
                None => break,
            }
        }
        let (folded, rest) = self.rest.split_at(len);
        self.rest = rest;
        folded
    }
}

impl<'a> Iterator for Headers<'a> {
    type Item = Header<'a>;

    fn next(&mut self) -> Option<Header<'a>> {
        loop {
            let lf = memchr::memchr(b'\n', self.rest)?;
            let full = &self.rest[..lf];
            self.rest = &self.rest[lf + 1..];
            let line = full.strip_suffix(b"\r").unwrap_or(full);
            if line.is_empty() {
                self.rest = &[];
                return None;
            }
            let folded = self.take_folded();
            // Names are short: a plain scan finds the colon sooner than a
            // vectorised search would start.
            if let Some(colon) = line.iter().position(|&b| b == b':') {
                let (name, value) = line.split_at(colon);
                return Some(Header {
                    name: trim(name),
                    value: trim(value.get(1..).unwrap_or_default()),
                    folded,
                });
            }
        }
    }
}

/// How the body after a head is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// No body: the next head follows at once.
    None,
    Length(u64),
    Chunked,
    /// Up to the connection's close (or unknown: bad lengths).
    UntilClose,
}

/// What one head says: its fields and what follows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeadInfo {
    pub kind: Kind,
    pub fields: HttpFields,
    pub framing: Framing,
    /// The bytes after this head are not HTTP/1.x any more (101 upgrade,
    /// CONNECT tunnel).
    pub switches_protocol: bool,
    /// A 1xx response other than 101: the final response follows.
    pub interim: bool,
}

/// Body-related header facts gathered while reading the fields.
#[derive(Default)]
struct BodyHeaders {
    content_length: Option<Option<u64>>,
    chunked: bool,
    transfer_encoding: bool,
}

/// Reads a head: `line` is its parsed start line and `headers` the bytes
/// after the start line (a complete head or what arrived of one).
pub fn read_head(line: StartLine<'_>, headers: &[u8]) -> HeadInfo {
    let mut fields = HttpFields::default();
    let mut body = BodyHeaders::default();
    match line {
        StartLine::Request { method, target } => {
            fields.method = Some(field_string(method));
            fields.url = Some(field_string(target));
        }
        StartLine::Response { status, .. } => fields.status = Some(status),
    }
    for header in Headers::new(headers) {
        read_header(line.kind(), &header, &mut fields, &mut body);
    }
    head_info(line, fields, &body)
}

fn set_once(slot: &mut Option<FieldStr>, header: &Header<'_>) {
    if slot.is_none() && !header.value.is_empty() {
        *slot = Some(header.value_string());
    }
}

fn read_header(kind: Kind, header: &Header<'_>, fields: &mut HttpFields, body: &mut BodyHeaders) {
    match kind {
        Kind::Request if header.is("host") => set_once(&mut fields.host, header),
        Kind::Request if header.is("user-agent") => set_once(&mut fields.user_agent, header),
        Kind::Request if header.is("referer") => set_once(&mut fields.referer, header),
        // Both directions: FlowTest (http_delete, http_put) expects a
        // request's Content-Type when the response has none.
        _ if header.is("content-type") => set_once(&mut fields.content_type, header),
        Kind::Response if header.is("server") => set_once(&mut fields.server, header),
        _ if header.is("content-length") => {
            let length = parse_content_length(header.value);
            // Two different lengths make the framing unknowable (RFC 9112 6.3).
            body.content_length = match body.content_length {
                None => Some(length),
                Some(previous) if previous == length => Some(length),
                Some(_) => Some(None),
            };
        }
        _ if header.is("transfer-encoding") => {
            body.transfer_encoding = true;
            let last = header
                .value
                .rsplit(|&b| b == b',')
                .next()
                .unwrap_or_default();
            body.chunked = trim(last).eq_ignore_ascii_case(b"chunked");
        }
        _ => {}
    }
}

/// A Content-Length value: decimal digits only; `None` when malformed or
/// beyond u64.
fn parse_content_length(value: &[u8]) -> Option<u64> {
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    value.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

fn head_info(line: StartLine<'_>, fields: HttpFields, body: &BodyHeaders) -> HeadInfo {
    let framing = if body.chunked {
        Framing::Chunked
    } else if body.transfer_encoding {
        // A transfer coding other than chunked last: only the close ends it.
        Framing::UntilClose
    } else {
        match body.content_length {
            Some(Some(n)) => Framing::Length(n),
            Some(None) => Framing::UntilClose,
            None => match line.kind() {
                Kind::Request => Framing::None,
                Kind::Response => Framing::UntilClose,
            },
        }
    };
    match line {
        StartLine::Request { method, .. } => {
            let tunnel = method.eq_ignore_ascii_case(b"CONNECT");
            HeadInfo {
                kind: Kind::Request,
                fields,
                framing,
                switches_protocol: tunnel,
                interim: false,
            }
        }
        StartLine::Response { status, reason } => response_info(status, reason, fields, framing),
    }
}

fn response_info(status: u16, reason: &[u8], fields: HttpFields, framing: Framing) -> HeadInfo {
    let no_body = (100..200).contains(&status) || status == 204 || status == 304;
    let framing = if no_body { Framing::None } else { framing };
    // The 200 a proxy sends for CONNECT: the response direction never sees
    // the request, so its usual reason phrase stands in for it.
    let tunnel = (200..300).contains(&status)
        && framing == Framing::UntilClose
        && trim(reason)
            .get(..22)
            .is_some_and(|r| r.eq_ignore_ascii_case(b"connection established"));
    HeadInfo {
        kind: Kind::Response,
        fields,
        framing,
        switches_protocol: status == 101 || tunnel,
        interim: (100..200).contains(&status) && status != 101,
    }
}

/// The HTTP/2 connection preface's first line, which a client sends after
/// an h2c upgrade (RFC 9113 section 3.4).
pub fn is_h2_preface(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PRI * HTTP/2.0")
}
