//! Text output formats: nfdump's `line` and `long`, and `csv` / `json` (one
//! object per line) with the store's column names, so scripts written for
//! one work on the other.
//!
//! Records are rendered without `core::fmt` (see `text.rs`): at half a
//! million flows per run its per-field overhead was a fifth of the meter's
//! time. `tests/format_equivalence.rs` holds the output to the old code's.

use std::io::{self, Write};

use crate::text::{
    align_left, align_right, prefetch, prefetch_range, push_csv_str, push_ip, push_json_str,
    push_mac, push_u64, push_u64_padded, Decimal,
};
use crate::time::{push_datetime, DateCache};
use crate::{proto_name, tcp_flags_string, DateStyle, FlowRecord, FlowSink};

/// An output format chosen with `-o`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Line,
    Long,
    Csv,
    Json,
    /// nfdump's line plus one protocol's L7 columns (`-o http`, `-o dns`, ...).
    L7(L7Format),
}

/// The named L7 formats and the columns each shows after the flow's key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L7Format {
    Http,
    Dns,
    Tls,
    Smtp,
    Sip,
}

impl L7Format {
    fn columns(self) -> &'static [&'static str] {
        match self {
            L7Format::Http => &["http_method", "http_status", "http_host", "http_url"],
            L7Format::Dns => &[
                "dns_id",
                "dns_qtype",
                "dns_rcode",
                "dns_qname",
                "dns_answer",
            ],
            L7Format::Tls => &["tls_version", "tls_sni", "tls_alpn", "tls_ja3"],
            L7Format::Smtp => &[
                "smtp_domain",
                "smtp_sender",
                "smtp_recipient",
                "smtp_2xx",
                "smtp_5xx",
            ],
            L7Format::Sip => &[
                "sip_method",
                "sip_status",
                "sip_from",
                "sip_to",
                "sip_call_id",
            ],
        }
    }
}

impl Format {
    /// Every format `-o` offers (`ndjson` is `json` by another name).
    pub const ALL: [Format; 9] = [
        Format::Line,
        Format::Long,
        Format::Csv,
        Format::Json,
        Format::L7(L7Format::Http),
        Format::L7(L7Format::Dns),
        Format::L7(L7Format::Tls),
        Format::L7(L7Format::Smtp),
        Format::L7(L7Format::Sip),
    ];
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "line" => Format::Line,
            "long" => Format::Long,
            "csv" => Format::Csv,
            "json" | "ndjson" => Format::Json,
            "http" => Format::L7(L7Format::Http),
            "dns" => Format::L7(L7Format::Dns),
            "tls" => Format::L7(L7Format::Tls),
            "smtp" => Format::L7(L7Format::Smtp),
            "sip" => Format::L7(L7Format::Sip),
            other => {
                return Err(format!(
                    "unknown output format '{other}': expected line, long, csv, json, http, dns, tls, smtp or sip"
                ))
            }
        })
    }
}

/// CSV columns (the store's column names), in order.
pub const CSV_COLUMNS: &[&str] = &[
    "first",
    "last",
    "src_ip",
    "dst_ip",
    "src_port",
    "dst_port",
    "proto",
    "tcp_flags",
    "tos",
    "packets",
    "bytes",
    "vlan",
    "src_mac",
    "dst_mac",
    "end_reason",
];
/// Extra CSV columns of biflow records.
pub const CSV_REVERSE_COLUMNS: &[&str] = &["rev_packets", "rev_bytes", "rev_tcp_flags"];

const LINE_HEADER: &str = "Date first seen             Duration     Proto      Src IP Addr:Port          Dst IP Addr:Port   Packets    Bytes Flows";
const LONG_HEADER: &str = "Date first seen             Duration     Proto      Src IP Addr:Port          Dst IP Addr:Port     Flags Tos  Packets    Bytes Flows";

/// Totals for nfdump's summary line.
#[derive(Clone, Copy, Debug, Default)]
pub struct Totals {
    pub flows: u64,
    pub packets: u64,
    pub bytes: u64,
    pub first_ns: u64,
    pub last_ns: u64,
}

impl Totals {
    fn add(&mut self, r: &FlowRecord) {
        if self.flows == 0 || r.first_ns < self.first_ns {
            self.first_ns = r.first_ns;
        }
        self.last_ns = self.last_ns.max(r.last_ns);
        self.flows += 1;
        // Saturate: a plain `+` panics in debug builds on absurd counters.
        self.packets = self.packets.saturating_add(r.total_packets());
        self.bytes = self.bytes.saturating_add(r.total_bytes());
    }

    /// `Summary: total flows: 3, total bytes: 7016, ...` as nfdump prints it.
    pub fn summary_line(&self) -> String {
        let secs = self.last_ns.saturating_sub(self.first_ns) as f64 / 1e9;
        let (bps, pps) = if secs > 0.0 {
            (
                (self.bytes as f64 * 8.0 / secs) as u64,
                (self.packets as f64 / secs) as u64,
            )
        } else {
            (0, 0)
        };
        let bpp = self.bytes.checked_div(self.packets).unwrap_or(0);
        format!(
            "Summary: total flows: {}, total bytes: {}, total packets: {}, avg bps: {bps}, avg pps: {pps}, avg bpp: {bpp}",
            self.flows, self.bytes, self.packets
        )
    }
}

/// Writes records as text to any `Write`.
pub struct TextSink<W: Write> {
    out: W,
    format: Format,
    biflow: bool,
    header_done: bool,
    /// Print nfdump's header and summary lines (line/long formats).
    pub decorations: bool,
    /// CSV carries the L7 columns (`l7::COLUMNS`) after the flow's.
    pub l7_columns: bool,
    totals: Totals,
    /// One rendered record, reused so rendering does not allocate.
    buf: Vec<u8>,
    /// The last date written: consecutive records nearly always share it.
    dates: DateCache,
}

impl FlowRecord {
    /// Forward plus reverse packets, saturating.
    fn total_packets(&self) -> u64 {
        self.packets
            .saturating_add(self.reverse.map_or(0, |rev| rev.packets))
    }
    /// Forward plus reverse bytes, saturating.
    fn total_bytes(&self) -> u64 {
        self.bytes
            .saturating_add(self.reverse.map_or(0, |rev| rev.bytes))
    }
}

impl<W: Write> TextSink<W> {
    pub fn new(out: W, format: Format, biflow: bool) -> Self {
        TextSink {
            out,
            format,
            biflow,
            header_done: false,
            decorations: true,
            l7_columns: false,
            totals: Totals::default(),
            buf: Vec::with_capacity(512),
            dates: DateCache::default(),
        }
    }

    pub fn totals(&self) -> Totals {
        self.totals
    }

    fn header(&mut self) -> io::Result<()> {
        match self.format {
            Format::Csv => {
                let mut line = CSV_COLUMNS.join(",");
                if self.biflow {
                    line.push(',');
                    line.push_str(&CSV_REVERSE_COLUMNS.join(","));
                }
                if self.l7_columns {
                    line.push(',');
                    line.push_str(&l7::COLUMNS.join(","));
                }
                writeln!(self.out, "{line}")
            }
            Format::L7(which) if self.decorations => {
                writeln!(self.out, "{LINE_HEADER} {}", which.columns().join(" "))
            }
            Format::Line if self.decorations => writeln!(self.out, "{LINE_HEADER}"),
            Format::Long if self.decorations => writeln!(self.out, "{LONG_HEADER}"),
            _ => Ok(()),
        }
    }

    /// Formats one record into `self.buf` (cleared first).
    fn render(&mut self, r: &FlowRecord) {
        self.buf.clear();
        let (out, dates) = (&mut self.buf, &mut self.dates);
        match self.format {
            Format::Csv => {
                render_csv(out, dates, r, self.biflow);
                if self.l7_columns {
                    render_csv_l7(out, r);
                }
            }
            Format::Json => render_json(out, dates, r),
            Format::L7(which) => render_l7_line(out, dates, r, which),
            Format::Line => render_nfdump(out, dates, r, false),
            Format::Long => render_nfdump(out, dates, r, true),
        }
        out.push(b'\n');
    }
}

/// How far ahead of the record being written its L7 fields are asked for.
/// A flow's L7 fields and their strings were allocated when its packets
/// came, often tens of seconds before it ends, and are long out of the
/// cache: reading them missed twice per record (the boxed fields, then
/// each string), the larger part of what writing L7 columns cost.
const PREFETCH_RECORDS: usize = 8;

/// Asks the CPU to fetch a record's boxed L7 fields, every cache line of
/// them: fetching only the first left the visit of the strings' pointers
/// (in [`prefetch_l7_strings`]) waiting for the others.
fn prefetch_l7_fields(r: &FlowRecord) {
    if let Some(fields) = &r.l7 {
        let (start, len) = fields.boxed_bytes();
        prefetch_range(start, len);
    }
}

/// Asks the CPU to fetch the strings of a record's L7 fields (whose box
/// [`prefetch_l7_fields`] asked for a few records earlier). A short string
/// lives inline in that box, so its fetch is already a hit.
fn prefetch_l7_strings(r: &FlowRecord) {
    if let Some(fields) = &r.l7 {
        fields.for_each_value(&mut |_, v| {
            if let l7::Value::Str(s) = v {
                prefetch(s.as_ptr());
                if s.len() > 64 {
                    prefetch(s.as_ptr().wrapping_add(64));
                }
            }
        });
    }
}

impl<W: Write> FlowSink for TextSink<W> {
    fn write(&mut self, records: &[FlowRecord]) -> io::Result<()> {
        if !self.header_done {
            self.header()?;
            self.header_done = true;
        }
        for (i, r) in records.iter().enumerate() {
            if let Some(ahead) = records.get(i + PREFETCH_RECORDS) {
                prefetch_l7_fields(ahead);
            }
            if let Some(ahead) = records.get(i + PREFETCH_RECORDS / 2) {
                prefetch_l7_strings(ahead);
            }
            self.totals.add(r);
            self.render(r);
            self.out.write_all(&self.buf)?;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    fn finish(&mut self) -> io::Result<()> {
        if !self.header_done {
            self.header()?;
            self.header_done = true;
        }
        if self.decorations && matches!(self.format, Format::Line | Format::Long | Format::L7(_)) {
            writeln!(self.out, "{}", self.totals.summary_line())?;
        }
        self.out.flush()
    }
}

/// Appends `,` and `n`.
#[inline]
fn csv_number(out: &mut Vec<u8>, n: impl Decimal) {
    out.push(b',');
    n.push_decimal(out);
}

fn render_csv(out: &mut Vec<u8>, dates: &mut DateCache, r: &FlowRecord, biflow: bool) {
    push_datetime(out, dates, r.first_ns, DateStyle::Rfc3339Micros);
    out.push(b',');
    push_datetime(out, dates, r.last_ns, DateStyle::Rfc3339Micros);
    out.push(b',');
    push_ip(out, r.src_ip);
    out.push(b',');
    push_ip(out, r.dst_ip);
    csv_number(out, r.src_port);
    csv_number(out, r.dst_port);
    csv_number(out, r.proto);
    csv_number(out, r.tcp_flags);
    csv_number(out, r.tos);
    csv_number(out, r.packets);
    csv_number(out, r.bytes);
    csv_number(out, r.vlan);
    out.push(b',');
    push_mac(out, &r.src_mac);
    out.push(b',');
    push_mac(out, &r.dst_mac);
    out.push(b',');
    out.extend_from_slice(r.end_reason.name().as_bytes());
    if biflow {
        let rev = r.reverse.unwrap_or_default();
        csv_number(out, rev.packets);
        csv_number(out, rev.bytes);
        csv_number(out, rev.tcp_flags);
    }
}

/// Appends `key` (the JSON text before the value) and `n`. Inlined, so each
/// literal key is a fixed-size copy.
#[inline]
fn json_number(out: &mut Vec<u8>, key: &[u8], n: impl Decimal) {
    out.extend_from_slice(key);
    n.push_decimal(out);
}

/// The L7 columns of a CSV row: every column, empty where the record has no value.
fn render_csv_l7(out: &mut Vec<u8>, r: &FlowRecord) {
    let columns = l7::COLUMNS.len().min(MAX_L7_COLUMNS);
    let Some(fields) = &r.l7 else {
        out.extend_from_slice(&COMMAS[..columns]);
        return;
    };
    // Values come in column order (each protocol's visitor walks its
    // columns in order), so the commas of the empty columns before each
    // value go out in one copy. A visitor out of order falls back to
    // collecting the values first.
    let start = out.len();
    let mut written = 0;
    let mut ordered = true;
    fields.for_each_value(&mut |i, v| {
        if !ordered || i < written || i >= columns {
            ordered = false;
            return;
        }
        out.extend_from_slice(&COMMAS[..i + 1 - written]);
        push_csv_value(out, v);
        written = i + 1;
    });
    if ordered {
        out.extend_from_slice(&COMMAS[..columns - written]);
        return;
    }
    out.truncate(start);
    let mut values: [Option<l7::Value<'_>>; MAX_L7_COLUMNS] = [None; MAX_L7_COLUMNS];
    fields.visit(&mut |i, v| {
        if let Some(slot) = values.get_mut(i) {
            *slot = Some(v);
        }
    });
    for value in values.iter().take(columns) {
        out.push(b',');
        if let Some(v) = value {
            push_csv_value(out, *v);
        }
    }
}

fn push_csv_value(out: &mut Vec<u8>, value: l7::Value<'_>) {
    match value {
        l7::Value::Num(n) => push_u64(out, n),
        l7::Value::Str(s) => push_csv_str(out, s),
    }
}

/// The separators of empty L7 columns, copied in one go.
const COMMAS: [u8; MAX_L7_COLUMNS] = [b','; MAX_L7_COLUMNS];

/// Room for every L7 column (checked by a test against `l7::COLUMNS`).
const MAX_L7_COLUMNS: usize = 48;

/// The L7 members of a JSON object: only the values the record has.
fn render_json_l7(out: &mut Vec<u8>, r: &FlowRecord) {
    let Some(fields) = &r.l7 else { return };
    fields.visit(&mut |i, v| {
        out.extend_from_slice(b",\"");
        out.extend_from_slice(l7::COLUMNS[i].as_bytes());
        out.extend_from_slice(b"\":");
        match v {
            l7::Value::Num(n) => push_u64(out, n),
            l7::Value::Str(s) => push_json_str(out, s),
        }
    });
}

/// nfdump's line, then the chosen protocol's columns (`-` where empty).
fn render_l7_line(out: &mut Vec<u8>, dates: &mut DateCache, r: &FlowRecord, which: L7Format) {
    render_nfdump(out, dates, r, false);
    let wanted = which.columns();
    let mut cells: [Option<l7::Value<'_>>; 8] = [None; 8];
    if let Some(fields) = &r.l7 {
        fields.visit(&mut |i, v| {
            if let Some(k) = wanted.iter().position(|c| *c == l7::COLUMNS[i]) {
                if let Some(cell) = cells.get_mut(k) {
                    *cell = Some(v);
                }
            }
        });
    }
    for cell in cells.iter().take(wanted.len()) {
        out.push(b' ');
        match cell {
            Some(l7::Value::Num(n)) => push_u64(out, *n),
            Some(l7::Value::Str(s)) if !s.is_empty() => out.extend_from_slice(s.as_bytes()),
            _ => out.push(b'-'),
        }
    }
}

fn render_json(out: &mut Vec<u8>, dates: &mut DateCache, r: &FlowRecord) {
    out.extend_from_slice(b"{\"first\":\"");
    push_datetime(out, dates, r.first_ns, DateStyle::Rfc3339Micros);
    out.extend_from_slice(b"\",\"last\":\"");
    push_datetime(out, dates, r.last_ns, DateStyle::Rfc3339Micros);
    out.extend_from_slice(b"\",\"src_ip\":\"");
    push_ip(out, r.src_ip);
    out.extend_from_slice(b"\",\"dst_ip\":\"");
    push_ip(out, r.dst_ip);
    json_number(out, b"\",\"src_port\":", r.src_port);
    json_number(out, b",\"dst_port\":", r.dst_port);
    json_number(out, b",\"proto\":", r.proto);
    json_number(out, b",\"tcp_flags\":", r.tcp_flags);
    json_number(out, b",\"tos\":", r.tos);
    json_number(out, b",\"packets\":", r.packets);
    json_number(out, b",\"bytes\":", r.bytes);
    json_number(out, b",\"vlan\":", r.vlan);
    out.extend_from_slice(b",\"src_mac\":\"");
    push_mac(out, &r.src_mac);
    out.extend_from_slice(b"\",\"dst_mac\":\"");
    push_mac(out, &r.dst_mac);
    out.extend_from_slice(b"\",\"end_reason\":\"");
    out.extend_from_slice(r.end_reason.name().as_bytes());
    out.push(b'"');
    render_json_origin(out, r);
    if let Some(rev) = r.reverse {
        json_number(out, b",\"rev_packets\":", rev.packets);
        json_number(out, b",\"rev_bytes\":", rev.bytes);
        json_number(out, b",\"rev_tcp_flags\":", rev.tcp_flags);
    }
    render_json_l7(out, r);
    out.push(b'}');
}

/// The collector's columns (interfaces, AS numbers, countries, exporter,
/// ODID), each only when set, so the meter's lines stay as they were.
fn render_json_origin(out: &mut Vec<u8>, r: &FlowRecord) {
    let numbers: [(&[u8], u32); 5] = [
        (b",\"in_if\":", r.in_if),
        (b",\"out_if\":", r.out_if),
        (b",\"src_as\":", r.src_as),
        (b",\"dst_as\":", r.dst_as),
        (b",\"odid\":", r.odid),
    ];
    for (name, value) in numbers {
        if value != 0 {
            json_number(out, name, u64::from(value));
        }
    }
    for (name, code) in [
        (&b",\"src_country\":\""[..], r.src_country),
        (&b",\"dst_country\":\""[..], r.dst_country),
    ] {
        if code != [0, 0] && code.iter().all(u8::is_ascii_alphanumeric) {
            out.extend_from_slice(name);
            out.extend_from_slice(&code);
            out.push(b'"');
        }
    }
    if !r.exporter.is_unspecified() {
        out.extend_from_slice(b",\"exporter\":\"");
        push_ip(out, r.exporter);
        out.push(b'"');
    }
}

/// nfdump's scaled number: `3687`, `  1.2 M`.
fn push_scaled(out: &mut Vec<u8>, value: u64) {
    // The float comparisons are the old code's, so rounding at the
    // thresholds is unchanged; the rare scaled case may use `fmt`.
    let v = value as f64;
    let _ = if v >= 1e12 {
        write!(out, "{:5.1} T", v / 1e12)
    } else if v >= 1e9 {
        write!(out, "{:5.1} G", v / 1e9)
    } else if v >= 1e6 {
        write!(out, "{:5.1} M", v / 1e6)
    } else {
        push_u64(out, value);
        Ok(())
    };
}

/// `hh:mm:ss.mmm`; hours grow past two digits rather than wrap.
fn push_duration(out: &mut Vec<u8>, ns: u64) {
    let ms = ns / 1_000_000;
    let secs = ms / 1000;
    push_u64_padded(out, secs / 3600, 2);
    out.push(b':');
    push_u64_padded(out, secs % 3600 / 60, 2);
    out.push(b':');
    push_u64_padded(out, secs % 60, 2);
    out.push(b'.');
    push_u64_padded(out, ms % 1000, 3);
}

/// Appends `write`'s text right-aligned in `width` columns.
fn right(out: &mut Vec<u8>, width: usize, write: impl FnOnce(&mut Vec<u8>)) {
    let start = out.len();
    write(out);
    align_right(out, start, width);
}

/// Appends `write`'s text left-aligned in `width` columns.
fn left(out: &mut Vec<u8>, width: usize, write: impl FnOnce(&mut Vec<u8>)) {
    let start = out.len();
    write(out);
    align_left(out, start, width);
}

fn push_proto(out: &mut Vec<u8>, proto: u8) {
    match proto_name(proto) {
        Some(name) => out.extend_from_slice(name.as_bytes()),
        None => proto.push_decimal(out),
    }
}

/// The destination port column; ICMP shows `type.code` there, as nfdump does.
fn push_dst_port(out: &mut Vec<u8>, r: &FlowRecord) {
    if matches!(r.proto, 1 | 58) {
        ((r.dst_port >> 8) as u8).push_decimal(out);
        out.push(b'.');
        (r.dst_port as u8).push_decimal(out);
    } else {
        r.dst_port.push_decimal(out);
    }
}

fn render_nfdump(out: &mut Vec<u8>, dates: &mut DateCache, r: &FlowRecord, long: bool) {
    push_datetime(out, dates, r.first_ns, DateStyle::NfdumpMillis);
    out.push(b' ');
    right(out, 16, |o| push_duration(o, r.duration_ns()));
    out.push(b' ');
    left(out, 5, |o| push_proto(o, r.proto));
    out.push(b' ');
    right(out, 16, |o| push_ip(o, r.src_ip));
    out.push(b':');
    left(out, 5, |o| r.src_port.push_decimal(o));
    out.extend_from_slice(b" -> ");
    right(out, 16, |o| push_ip(o, r.dst_ip));
    out.push(b':');
    left(out, 5, |o| push_dst_port(o, r));
    if long {
        out.push(b' ');
        out.extend_from_slice(&tcp_flags_string(r.tcp_flags));
        out.push(b' ');
        right(out, 3, |o| r.tos.push_decimal(o));
    }
    out.push(b' ');
    right(out, 8, |o| push_scaled(o, r.total_packets()));
    out.push(b' ');
    right(out, 8, |o| push_scaled(o, r.total_bytes()));
    // The flow count column: always one record.
    out.extend_from_slice(b"     1");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{to_mapped, EndReason};

    #[test]
    fn all_formats_are_the_names_o_takes() {
        let names = [
            "line", "long", "csv", "json", "http", "dns", "tls", "smtp", "sip",
        ];
        let parsed: Vec<Format> = names.iter().map(|n| n.parse().unwrap()).collect();
        assert_eq!(parsed, Format::ALL);
        let err = "nope".parse::<Format>().unwrap_err();
        assert!(names.iter().all(|n| err.contains(n)), "{err}");
    }

    fn sample() -> FlowRecord {
        FlowRecord {
            first_ns: 1_682_060_808_588_000_000,
            last_ns: 1_682_060_808_663_000_000,
            src_ip: to_mapped("10.100.50.139".parse().unwrap()),
            dst_ip: to_mapped("10.100.50.48".parse().unwrap()),
            src_port: 7001,
            dst_port: 46588,
            proto: 6,
            tcp_flags: 0x1a,
            packets: 9,
            bytes: 3687,
            end_reason: EndReason::Idle,
            ..FlowRecord::default()
        }
    }

    fn render(format: Format, r: &FlowRecord) -> String {
        let mut sink = TextSink::new(Vec::new(), format, false);
        sink.write(std::slice::from_ref(r)).unwrap();
        sink.finish().unwrap();
        String::from_utf8(sink.out).unwrap()
    }

    #[test]
    fn every_l7_column_fits() {
        assert!(l7::COLUMNS.len() <= MAX_L7_COLUMNS);
        for which in [
            L7Format::Http,
            L7Format::Dns,
            L7Format::Tls,
            L7Format::Smtp,
            L7Format::Sip,
        ] {
            assert!(which.columns().len() <= 8);
            assert!(which
                .columns()
                .iter()
                .all(|c| l7::column_index(c).is_some()));
        }
    }

    #[test]
    fn line_matches_nfdump() {
        // The second line is what `nfdump -o line` prints for the same flow.
        let text = render(Format::Line, &sample());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], LINE_HEADER);
        assert_eq!(
            lines[1],
            "2023-04-21 07:06:48.588     00:00:00.075 TCP      10.100.50.139:7001  ->     10.100.50.48:46588        9     3687     1"
        );
        assert!(
            lines[2].starts_with("Summary: total flows: 1, total bytes: 3687, total packets: 9")
        );
    }

    #[test]
    fn long_matches_nfdump() {
        let text = render(Format::Long, &sample());
        assert_eq!(
            text.lines().nth(1).unwrap(),
            "2023-04-21 07:06:48.588     00:00:00.075 TCP      10.100.50.139:7001  ->     10.100.50.48:46588 ...AP.S.   0        9     3687     1"
        );
    }

    #[test]
    fn csv_has_header_and_store_columns() {
        let text = render(Format::Csv, &sample());
        let mut lines = text.lines();
        assert_eq!(lines.next().unwrap(), CSV_COLUMNS.join(","));
        assert_eq!(
            lines.next().unwrap(),
            "2023-04-21T07:06:48.588000Z,2023-04-21T07:06:48.663000Z,10.100.50.139,10.100.50.48,7001,46588,6,26,0,9,3687,0,00:00:00:00:00:00,00:00:00:00:00:00,idle"
        );
    }

    #[test]
    fn json_is_one_object_per_line() {
        let text = render(Format::Json, &sample());
        assert_eq!(text.lines().count(), 1);
        assert!(text.starts_with("{\"first\":\"2023-04-21T07:06:48.588000Z\""));
        assert!(text.contains("\"src_ip\":\"10.100.50.139\""));
        assert!(text.trim_end().ends_with("\"end_reason\":\"idle\"}"));
        // The collector's columns appear only when set.
        let collected = FlowRecord {
            in_if: 3,
            src_as: 64500,
            src_country: *b"CZ",
            exporter: "::ffff:192.0.2.1".parse().unwrap(),
            odid: 7,
            ..FlowRecord::default()
        };
        let line = render(Format::Json, &collected);
        assert!(
            line.contains(
                r#""in_if":3,"src_as":64500,"odid":7,"src_country":"CZ","exporter":"192.0.2.1"}"#
            ),
            "{line}"
        );
    }
}
