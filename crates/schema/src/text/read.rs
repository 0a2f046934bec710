//! CSV and JSON lines to flow batches. Input is untrusted: every line is
//! parsed into a [`FlowRecord`] on its own, and a line that fails is
//! skipped and counted, never a panic or the end of the stream.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::{self, BufRead};
use std::sync::OnceLock;

use arrow_array::RecordBatch;
use arrow_schema::ArrowError;
use l7::{col, L7Fields, Value};
use record::{FlowRecord, Reverse};

use super::parse;
use crate::{l7_is_numeric, BatchBuilder, BASE_COLUMNS};

/// Rows per batch unless [`CsvReader::with_batch_rows`] says otherwise.
pub const DEFAULT_BATCH_ROWS: usize = 8192;
/// Longest line (a CSV record with its quoted line breaks, or a JSON line)
/// read; longer ones are bad lines.
pub const MAX_LINE: usize = 1 << 20;
/// How many [`BadLine`]s a reader keeps (it counts all of them).
pub const MAX_KEPT_ERRORS: usize = 10;
/// How many distinct ignored column names a reader keeps.
const MAX_IGNORED: usize = 100;

/// A line that was skipped, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadLine {
    /// 1-based line number (of the first line of a multi-line CSV record).
    pub line: u64,
    /// The column whose value was bad, when one was.
    pub column: Option<String>,
    pub reason: String,
}

impl fmt::Display for BadLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.column {
            Some(c) => write!(f, "line {}, column {c}: {}", self.line, self.reason),
            None => write!(f, "line {}: {}", self.line, self.reason),
        }
    }
}

/// Where a column's value goes in a [`FlowRecord`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    First,
    Last,
    SrcIp,
    DstIp,
    SrcPort,
    DstPort,
    Proto,
    TcpFlags,
    Tos,
    Packets,
    Bytes,
    Vlan,
    InIf,
    OutIf,
    SrcAs,
    DstAs,
    SrcCountry,
    DstCountry,
    Exporter,
    Odid,
    EndReason,
    SrcMac,
    DstMac,
    RevFirst,
    RevLast,
    RevPackets,
    RevBytes,
    RevTcpFlags,
    L7Proto,
    L7(usize),
}

/// The targets of [`BASE_COLUMNS`], in its order.
const BASE_TARGETS: [Target; 29] = [
    Target::First,
    Target::Last,
    Target::SrcIp,
    Target::DstIp,
    Target::SrcPort,
    Target::DstPort,
    Target::Proto,
    Target::TcpFlags,
    Target::Tos,
    Target::Packets,
    Target::Bytes,
    Target::Vlan,
    Target::InIf,
    Target::OutIf,
    Target::SrcAs,
    Target::DstAs,
    Target::SrcCountry,
    Target::DstCountry,
    Target::Exporter,
    Target::Odid,
    Target::EndReason,
    Target::SrcMac,
    Target::DstMac,
    Target::RevFirst,
    Target::RevLast,
    Target::RevPackets,
    Target::RevBytes,
    Target::RevTcpFlags,
    Target::L7Proto,
];

/// Every flow column by name.
fn targets() -> &'static HashMap<&'static str, Target> {
    static MAP: OnceLock<HashMap<&'static str, Target>> = OnceLock::new();
    MAP.get_or_init(|| {
        let base = BASE_COLUMNS.iter().copied().zip(BASE_TARGETS);
        let l7 = l7::COLUMNS
            .iter()
            .enumerate()
            .map(|(i, name)| (*name, Target::L7(i)));
        base.chain(l7).collect()
    })
}

/// The value quoted for a message: cut to 40 bytes, control characters escaped.
fn shown(s: &str) -> String {
    let mut end = s.len().min(40);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    let mut out: String = s[..end].chars().flat_map(char::escape_default).collect();
    if end < s.len() {
        out.push('…');
    }
    format!("'{out}'")
}

fn reverse(r: &mut FlowRecord) -> &mut Reverse {
    r.reverse.get_or_insert_with(Reverse::default)
}

/// The first column of each protocol, to make its empty fields from `l7_proto`.
fn protocol_column(name: &str) -> Option<usize> {
    Some(match name {
        "http" => col::HTTP_METHOD,
        "dns" => col::DNS_ID,
        "tls" => col::TLS_SNI,
        "smtp" => col::SMTP_COMMANDS,
        "sip" => col::SIP_MSG_TYPE,
        "quic" => col::QUIC_VERSION,
        _ => return None,
    })
}

/// Makes the record's L7 fields those of the protocol owning column `c`,
/// or says why they cannot be.
fn l7_fields_for(r: &mut FlowRecord, c: usize) -> Result<&mut L7Fields, String> {
    let wanted = L7Fields::empty_for_column(c).ok_or("not an L7 column")?;
    if let Some(fields) = &r.l7 {
        if fields.protocol() != wanted.protocol() {
            return Err(format!(
                "a {} value in a row of {} values",
                wanted.protocol(),
                fields.protocol()
            ));
        }
    }
    Ok(r.l7.get_or_insert(wanted))
}

/// Sets one field from its text; Err is the reason for the message.
fn set(r: &mut FlowRecord, target: Target, s: &str) -> Result<(), String> {
    let number = |max: u64| {
        parse::uint_max(s, max).ok_or_else(|| format!("{} is not a number 0-{max}", shown(s)))
    };
    let time = || {
        parse::time(s).ok_or_else(|| {
            format!(
                "{} is not a time (RFC 3339, 'YYYY-MM-DD hh:mm:ss.fff' or nanoseconds since 1970)",
                shown(s)
            )
        })
    };
    let ip = || parse::ip(s).ok_or_else(|| format!("{} is not an IP address", shown(s)));
    let mac = || parse::mac(s).ok_or_else(|| format!("{} is not a MAC address", shown(s)));
    let country = || {
        parse::country(s).ok_or_else(|| format!("{} is not a two-letter country code", shown(s)))
    };
    const U8: u64 = u8::MAX as u64;
    const U16: u64 = u16::MAX as u64;
    const U32: u64 = u32::MAX as u64;
    match target {
        Target::First => r.first_ns = time()?,
        Target::Last => r.last_ns = time()?,
        Target::SrcIp => r.src_ip = ip()?,
        Target::DstIp => r.dst_ip = ip()?,
        Target::SrcPort => r.src_port = number(U16)? as u16,
        Target::DstPort => r.dst_port = number(U16)? as u16,
        Target::Proto => {
            r.proto = parse::proto(s)
                .ok_or_else(|| format!("{} is not a protocol number 0-255 or name", shown(s)))?
        }
        Target::TcpFlags => {
            r.tcp_flags = parse::tcp_flags(s)
                .ok_or_else(|| format!("{} is not TCP flags (0-255 or 'CEUAPRSF')", shown(s)))?
        }
        Target::Tos => r.tos = number(U8)? as u8,
        Target::Packets => r.packets = number(u64::MAX)?,
        Target::Bytes => r.bytes = number(u64::MAX)?,
        Target::Vlan => r.vlan = number(U16)? as u16,
        Target::InIf => r.in_if = number(U32)? as u32,
        Target::OutIf => r.out_if = number(U32)? as u32,
        Target::SrcAs => r.src_as = number(U32)? as u32,
        Target::DstAs => r.dst_as = number(U32)? as u32,
        Target::SrcCountry => r.src_country = country()?,
        Target::DstCountry => r.dst_country = country()?,
        Target::Exporter => r.exporter = ip()?,
        Target::Odid => r.odid = number(U32)? as u32,
        Target::EndReason => {
            r.end_reason = parse::end_reason(s).ok_or_else(|| {
                format!(
                    "{} is not an end reason (idle, active, end, forced, eviction or 1-5)",
                    shown(s)
                )
            })?
        }
        Target::SrcMac => r.src_mac = mac()?,
        Target::DstMac => r.dst_mac = mac()?,
        Target::RevFirst => reverse(r).first_ns = time()?,
        Target::RevLast => reverse(r).last_ns = time()?,
        Target::RevPackets => reverse(r).packets = number(u64::MAX)?,
        Target::RevBytes => reverse(r).bytes = number(u64::MAX)?,
        Target::RevTcpFlags => {
            reverse(r).tcp_flags = parse::tcp_flags(s)
                .ok_or_else(|| format!("{} is not TCP flags (0-255 or 'CEUAPRSF')", shown(s)))?
        }
        Target::L7Proto => {
            // Derived from the L7 values; it only matters for a record of a
            // protocol without any value. Unknown names (a newer writer's
            // protocols) are ignored.
            if let Some(c) = protocol_column(s.trim_matches(' ')) {
                l7_fields_for(r, c)?;
            }
        }
        Target::L7(c) => {
            let value = if l7_is_numeric(c) {
                Value::Num(number(U32)?)
            } else {
                Value::Str(s)
            };
            if !l7_fields_for(r, c)?.set(c, value) {
                return Err(format!("{} does not fit the column", shown(s)));
            }
        }
    }
    Ok(())
}

/// What reading one line gave.
enum Line {
    Eof,
    Read,
    TooLong,
}

/// Appends one line (without its `\n`) to `buf`, reading at most `limit`
/// bytes into it: the rest of a longer line is read and dropped.
fn read_line(r: &mut impl BufRead, buf: &mut Vec<u8>, limit: usize) -> io::Result<Line> {
    let mut any = false;
    let mut too_long = false;
    loop {
        let chunk = match r.fill_buf() {
            Ok(chunk) => chunk,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            return Ok(match (any, too_long) {
                (false, _) => Line::Eof,
                (true, true) => Line::TooLong,
                (true, false) => Line::Read,
            });
        }
        any = true;
        let newline = chunk.iter().position(|&b| b == b'\n');
        let take = newline.unwrap_or(chunk.len());
        if !too_long {
            if buf.len() + take > limit {
                too_long = true;
            } else {
                buf.extend_from_slice(&chunk[..take]);
            }
        }
        r.consume(take + usize::from(newline.is_some()));
        if newline.is_some() {
            return Ok(if too_long { Line::TooLong } else { Line::Read });
        }
    }
}

/// Counters and kept messages, shared by both readers.
struct Report {
    line: u64,
    rows: u64,
    bad_lines: u64,
    errors: Vec<BadLine>,
    ignored: Vec<String>,
    ignored_set: HashSet<String>,
}

impl Report {
    fn new() -> Report {
        Report {
            line: 0,
            rows: 0,
            bad_lines: 0,
            errors: Vec::new(),
            ignored: Vec::new(),
            ignored_set: HashSet::new(),
        }
    }

    fn bad(&mut self, line: u64, column: Option<&str>, reason: String) {
        self.bad_lines += 1;
        if self.errors.len() < MAX_KEPT_ERRORS {
            self.errors.push(BadLine {
                line,
                column: column.map(str::to_string),
                reason,
            });
        }
    }

    fn ignore(&mut self, name: &str) {
        if self.ignored.len() < MAX_IGNORED && !self.ignored_set.contains(name) {
            self.ignored_set.insert(name.to_string());
            self.ignored.push(name.to_string());
        }
    }
}

/// What both readers do around their line parser: batching, I/O errors.
struct Batches {
    builder: BatchBuilder,
    batch_rows: usize,
    max_line: usize,
    /// An I/O error to hand out after the rows before it.
    pending: Option<io::Error>,
    done: bool,
}

impl Batches {
    fn new() -> Batches {
        Batches {
            builder: BatchBuilder::new(),
            batch_rows: DEFAULT_BATCH_ROWS,
            max_line: MAX_LINE,
            pending: None,
            done: false,
        }
    }

    /// Runs `step` (which reads one line and pushes what it gives; Ok(false)
    /// at the end of input) until a batch is full or the input ends.
    fn next(
        &mut self,
        mut step: impl FnMut(&mut BatchBuilder, usize) -> io::Result<bool>,
    ) -> Option<Result<RecordBatch, ArrowError>> {
        if let Some(e) = self.pending.take() {
            self.done = true;
            return Some(Err(ArrowError::IoError(format!("reading input: {e}"), e)));
        }
        if self.done {
            return None;
        }
        while self.builder.len() < self.batch_rows.max(1) {
            match step(&mut self.builder, self.max_line) {
                Ok(true) => {}
                Ok(false) => {
                    self.done = true;
                    break;
                }
                Err(e) => {
                    self.pending = Some(e);
                    break;
                }
            }
        }
        if self.builder.is_empty() {
            return self.next(step);
        }
        Some(Ok(self.builder.finish()))
    }
}

/// Reads eddy's CSV (`eddy meter -o csv`, the logger) into flow batches.
///
/// The first line names the columns: flow column names (`flow_schema`);
/// others are ignored ([`CsvReader::ignored_columns`]); flow columns the
/// header lacks keep the record defaults. Empty cells are absent values
/// (so an empty L7 string reads as null). Fields are RFC 4180 (quotes,
/// doubled quotes, line breaks inside quotes); lines end in LF or CRLF.
pub struct CsvReader<R> {
    input: R,
    batches: Batches,
    report: Report,
    /// Per CSV field: where its value goes, None = ignored.
    columns: Option<Vec<Option<Target>>>,
    /// Names from the header, for messages.
    names: Vec<String>,
    record: Vec<u8>,
    /// Unquoted field text of the current record, and each field's range.
    text: Vec<u8>,
    fields: Vec<(usize, usize)>,
}

impl<R: BufRead> CsvReader<R> {
    pub fn new(input: R) -> CsvReader<R> {
        CsvReader {
            input,
            batches: Batches::new(),
            report: Report::new(),
            columns: None,
            names: Vec::new(),
            record: Vec::new(),
            text: Vec::new(),
            fields: Vec::new(),
        }
    }

    /// At most `rows` rows per batch.
    pub fn with_batch_rows(mut self, rows: usize) -> Self {
        self.batches.batch_rows = rows.max(1);
        self
    }

    /// Records longer than `bytes` are bad lines (default [`MAX_LINE`]).
    pub fn with_max_line(mut self, bytes: usize) -> Self {
        self.batches.max_line = bytes;
        self
    }

    /// The next batch; None at the end of input. An error is an I/O error
    /// or a header without any flow column; the reader ends after it.
    pub fn next_batch(&mut self) -> Option<Result<RecordBatch, ArrowError>> {
        let CsvReader {
            input,
            batches,
            report,
            columns,
            names,
            record,
            text,
            fields,
        } = self;
        let mut header_error = None;
        let out = batches.next(|builder, max_line| {
            if header_error.is_some() {
                return Ok(false);
            }
            let mut st = CsvState {
                input: &mut *input,
                report: &mut *report,
                record: &mut *record,
                text: &mut *text,
                fields: &mut *fields,
                max_line,
            };
            let Some(start) = st.next_record()? else {
                return Ok(false);
            };
            if start == 0 {
                // A bad record: counted already.
                return Ok(true);
            }
            let Some(targets) = columns.as_ref() else {
                match header(fields, text, report) {
                    Ok((t, n)) => {
                        *columns = Some(t);
                        *names = n;
                    }
                    Err(e) => header_error = Some(e),
                }
                return Ok(true);
            };
            if fields.len() != targets.len() {
                let reason = format!("{} fields, the header has {}", fields.len(), targets.len());
                report.bad(start, None, reason);
                return Ok(true);
            }
            let mut r = FlowRecord::default();
            for (i, (&(a, b), target)) in fields.iter().zip(targets).enumerate() {
                let Some(target) = target else { continue };
                if a == b {
                    continue;
                }
                // The record was checked to be UTF-8 and quotes are ASCII.
                let value = std::str::from_utf8(&text[a..b]).unwrap_or_default();
                if let Err(reason) = set(&mut r, *target, value) {
                    report.bad(start, Some(&names[i]), reason);
                    return Ok(true);
                }
            }
            builder.push(&r);
            report.rows += 1;
            Ok(true)
        });
        if let Some(e) = header_error {
            batches.done = true;
            return Some(Err(ArrowError::ParseError(e)));
        }
        out
    }

    /// Header names that are not flow columns (at most 100 kept).
    pub fn ignored_columns(&self) -> &[String] {
        &self.report.ignored
    }

    /// Lines (records) skipped as bad.
    pub fn bad_lines(&self) -> u64 {
        self.report.bad_lines
    }

    /// The first [`MAX_KEPT_ERRORS`] bad lines.
    pub fn errors(&self) -> &[BadLine] {
        &self.report.errors
    }

    /// Rows read into batches so far.
    pub fn rows(&self) -> u64 {
        self.report.rows
    }
}

impl<R: BufRead> Iterator for CsvReader<R> {
    type Item = Result<RecordBatch, ArrowError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_batch()
    }
}

/// The header's targets and names; Err when no column is a flow column.
fn header(
    fields: &[(usize, usize)],
    text: &[u8],
    report: &mut Report,
) -> Result<(Vec<Option<Target>>, Vec<String>), String> {
    let mut targets = Vec::with_capacity(fields.len());
    let mut names = Vec::with_capacity(fields.len());
    let mut seen = HashSet::new();
    for &(a, b) in fields {
        let name = String::from_utf8_lossy(&text[a..b]);
        let name = name.trim_matches(' ').trim_start_matches('\u{feff}');
        let target = targets_lookup(name).filter(|_| seen.insert(name.to_string()));
        if target.is_none() {
            report.ignore(name);
        }
        targets.push(target);
        names.push(name.to_string());
    }
    if targets.iter().all(Option::is_none) {
        let shown: Vec<&str> = names.iter().take(10).map(String::as_str).collect();
        return Err(format!(
            "the CSV header names no flow column (it has: {})",
            shown.join(", ")
        ));
    }
    Ok((targets, names))
}

fn targets_lookup(name: &str) -> Option<Target> {
    targets().get(name).copied()
}

/// The borrowed parts of a reader that reading a record needs.
struct CsvState<'a, R> {
    input: &'a mut R,
    report: &'a mut Report,
    record: &'a mut Vec<u8>,
    text: &'a mut Vec<u8>,
    fields: &'a mut Vec<(usize, usize)>,
    max_line: usize,
}

impl<R: BufRead> CsvState<'_, R> {
    /// Reads the next non-blank record and splits it into fields. Returns
    /// its first line number, 0 for a bad record (counted here), None at
    /// the end of input.
    fn next_record(&mut self) -> io::Result<Option<u64>> {
        loop {
            self.record.clear();
            let start = self.report.line + 1;
            let mut quotes = 0usize;
            loop {
                let from = self.record.len();
                let line = read_line(self.input, self.record, self.max_line)?;
                match line {
                    Line::Eof if from == 0 => return Ok(None),
                    Line::Eof => {
                        self.report
                            .bad(start, None, "a quoted field is not closed".into());
                        return Ok(Some(0));
                    }
                    Line::TooLong => {
                        self.report.line += 1;
                        let reason = format!("longer than {} bytes", self.max_line);
                        self.report.bad(start, None, reason);
                        return Ok(Some(0));
                    }
                    Line::Read => {
                        self.report.line += 1;
                        quotes += self.record[from..].iter().filter(|&&b| b == b'"').count();
                        if quotes % 2 == 0 {
                            break;
                        }
                        // A line break inside quotes belongs to the field.
                        self.record.push(b'\n');
                    }
                }
            }
            if self.record.last() == Some(&b'\r') {
                self.record.pop();
            }
            if self.record.iter().all(|&b| b == b' ' || b == b'\t') {
                continue;
            }
            if std::str::from_utf8(self.record).is_err() {
                self.report.bad(start, None, "not valid UTF-8".into());
                return Ok(Some(0));
            }
            if let Err(reason) = split(self.record, self.text, self.fields) {
                self.report.bad(start, None, reason);
                return Ok(Some(0));
            }
            return Ok(Some(start));
        }
    }
}

/// Splits one CSV record into fields: their text (quotes removed, doubled
/// quotes undone) goes to `text`, their ranges to `fields`.
fn split(
    record: &[u8],
    text: &mut Vec<u8>,
    fields: &mut Vec<(usize, usize)>,
) -> Result<(), String> {
    text.clear();
    fields.clear();
    let mut i = 0;
    loop {
        let start = text.len();
        if record.get(i) == Some(&b'"') {
            i += 1;
            loop {
                match record.get(i) {
                    None => return Err("a quoted field is not closed".into()),
                    Some(b'"') if record.get(i + 1) == Some(&b'"') => {
                        text.push(b'"');
                        i += 2;
                    }
                    Some(b'"') => {
                        i += 1;
                        break;
                    }
                    Some(&b) => {
                        text.push(b);
                        i += 1;
                    }
                }
            }
            match record.get(i) {
                None | Some(b',') => {}
                Some(_) => {
                    return Err(format!(
                        "text after the closing quote of field {}",
                        fields.len() + 1
                    ))
                }
            }
        } else {
            let end = record[i..]
                .iter()
                .position(|&b| b == b',')
                .map_or(record.len(), |p| i + p);
            text.extend_from_slice(&record[i..end]);
            i = end;
        }
        fields.push((start, text.len()));
        if i >= record.len() {
            return Ok(());
        }
        // At a comma.
        i += 1;
    }
}

/// Reads JSON lines (`eddy meter -o json`, the logger, the collector's
/// JSON output) into flow batches: one object per line, keys the flow
/// column names (others ignored, [`JsonReader::ignored_columns`]), values
/// strings or numbers as the writers produce them; `null` is absent.
pub struct JsonReader<R> {
    input: R,
    batches: Batches,
    report: Report,
    line: Vec<u8>,
}

impl<R: BufRead> JsonReader<R> {
    pub fn new(input: R) -> JsonReader<R> {
        JsonReader {
            input,
            batches: Batches::new(),
            report: Report::new(),
            line: Vec::new(),
        }
    }

    /// At most `rows` rows per batch.
    pub fn with_batch_rows(mut self, rows: usize) -> Self {
        self.batches.batch_rows = rows.max(1);
        self
    }

    /// Lines longer than `bytes` are bad lines (default [`MAX_LINE`]).
    pub fn with_max_line(mut self, bytes: usize) -> Self {
        self.batches.max_line = bytes;
        self
    }

    /// The next batch; None at the end of input. An error is an I/O error;
    /// the reader ends after it.
    pub fn next_batch(&mut self) -> Option<Result<RecordBatch, ArrowError>> {
        let JsonReader {
            input,
            batches,
            report,
            line,
        } = self;
        batches.next(|builder, max_line| {
            line.clear();
            let read = read_line(input, line, max_line)?;
            let n = report.line + 1;
            match read {
                Line::Eof => return Ok(false),
                Line::TooLong => {
                    report.line = n;
                    report.bad(n, None, format!("longer than {max_line} bytes"));
                    return Ok(true);
                }
                Line::Read => report.line = n,
            }
            if line.iter().all(u8::is_ascii_whitespace) {
                return Ok(true);
            }
            let Ok(text) = std::str::from_utf8(line) else {
                report.bad(n, None, "not valid UTF-8".into());
                return Ok(true);
            };
            match json_record(text, report) {
                Ok(r) => {
                    builder.push(&r);
                    report.rows += 1;
                }
                Err((column, reason)) => report.bad(n, column.as_deref(), reason),
            }
            Ok(true)
        })
    }

    /// Keys that are not flow columns (at most 100 kept).
    pub fn ignored_columns(&self) -> &[String] {
        &self.report.ignored
    }

    /// Lines skipped as bad.
    pub fn bad_lines(&self) -> u64 {
        self.report.bad_lines
    }

    /// The first [`MAX_KEPT_ERRORS`] bad lines.
    pub fn errors(&self) -> &[BadLine] {
        &self.report.errors
    }

    /// Rows read into batches so far.
    pub fn rows(&self) -> u64 {
        self.report.rows
    }
}

impl<R: BufRead> Iterator for JsonReader<R> {
    type Item = Result<RecordBatch, ArrowError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_batch()
    }
}

/// One JSON line as a record; Err is (column, reason).
fn json_record(text: &str, report: &mut Report) -> Result<FlowRecord, (Option<String>, String)> {
    use serde_json::Value as J;
    let value: J = serde_json::from_str(text).map_err(|e| (None, format!("not JSON: {e}")))?;
    let J::Object(map) = value else {
        return Err((None, "not a JSON object".into()));
    };
    let mut r = FlowRecord::default();
    for (key, value) in &map {
        let Some(target) = targets_lookup(key) else {
            report.ignore(key);
            continue;
        };
        let number;
        let s = match value {
            J::Null => continue,
            J::String(s) => s.as_str(),
            J::Number(n) if n.is_u64() => {
                number = n.to_string();
                number.as_str()
            }
            J::Number(n) => {
                return Err((
                    Some(key.clone()),
                    format!("{} is not a number 0-{}", shown(&n.to_string()), u64::MAX),
                ))
            }
            J::Bool(_) | J::Array(_) | J::Object(_) => {
                return Err((Some(key.clone()), "not a string or number".into()))
            }
        };
        set(&mut r, target, s).map_err(|reason| (Some(key.clone()), reason))?;
    }
    Ok(r)
}
