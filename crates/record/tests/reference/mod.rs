//! The text formats exactly as they were before the fast rendering (a
//! verbatim copy of `src/format.rs` and the formatter of `src/time.rs` at
//! commit bfba749), so the property test and the `format_speed` example can
//! check the new code byte for byte and time it against the old.
//!
//! Do not "fix" or speed up anything here: it is the oracle. The one
//! deviation: the packet and byte sums (`Totals::add`, the line formats'
//! forward + reverse counters) saturate, as the new code does, instead of
//! overflowing (a panic in debug builds, a wrapped number in release), so
//! the tests can use counters up to `u64::MAX`.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::io::{self, Write};

use record::{proto_name, tcp_flags_string, unmap, DateStyle, FlowRecord, FlowSink};

/// An output format chosen with `-o`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Line,
    Long,
    Csv,
    Json,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "line" => Format::Line,
            "long" => Format::Long,
            "csv" => Format::Csv,
            "json" | "ndjson" => Format::Json,
            other => {
                return Err(format!(
                    "unknown output format '{other}': expected line, long, csv or json"
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
        self.packets = self.packets.saturating_add(
            r.packets
                .saturating_add(r.reverse.map_or(0, |rev| rev.packets)),
        );
        self.bytes = self
            .bytes
            .saturating_add(r.bytes.saturating_add(r.reverse.map_or(0, |rev| rev.bytes)));
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
    totals: Totals,
    buf: String,
}

impl<W: Write> TextSink<W> {
    pub fn new(out: W, format: Format, biflow: bool) -> Self {
        TextSink {
            out,
            format,
            biflow,
            header_done: false,
            decorations: true,
            totals: Totals::default(),
            buf: String::with_capacity(256),
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
                writeln!(self.out, "{line}")
            }
            Format::Line if self.decorations => writeln!(self.out, "{LINE_HEADER}"),
            Format::Long if self.decorations => writeln!(self.out, "{LONG_HEADER}"),
            _ => Ok(()),
        }
    }

    /// Formats one record into `self.buf` (cleared first).
    fn render(&mut self, r: &FlowRecord) {
        self.buf.clear();
        match self.format {
            Format::Csv => render_csv(&mut self.buf, r, self.biflow),
            Format::Json => render_json(&mut self.buf, r),
            Format::Line => render_nfdump(&mut self.buf, r, false),
            Format::Long => render_nfdump(&mut self.buf, r, true),
        }
        self.buf.push('\n');
    }
}

impl<W: Write> FlowSink for TextSink<W> {
    fn write(&mut self, records: &[FlowRecord]) -> io::Result<()> {
        if !self.header_done {
            self.header()?;
            self.header_done = true;
        }
        for r in records {
            self.totals.add(r);
            self.render(r);
            self.out.write_all(self.buf.as_bytes())?;
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
        if self.decorations && matches!(self.format, Format::Line | Format::Long) {
            writeln!(self.out, "{}", self.totals.summary_line())?;
        }
        self.out.flush()
    }
}

fn push_mac(out: &mut String, mac: &[u8; 6]) {
    for (i, b) in mac.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        let _ = write!(out, "{b:02x}");
    }
}

fn render_csv(out: &mut String, r: &FlowRecord, biflow: bool) {
    format_datetime(out, r.first_ns, DateStyle::Rfc3339Micros);
    out.push(',');
    format_datetime(out, r.last_ns, DateStyle::Rfc3339Micros);
    let _ = write!(
        out,
        ",{},{},{},{},{},{},{},{},{},{},",
        unmap(r.src_ip),
        unmap(r.dst_ip),
        r.src_port,
        r.dst_port,
        r.proto,
        r.tcp_flags,
        r.tos,
        r.packets,
        r.bytes,
        r.vlan
    );
    push_mac(out, &r.src_mac);
    out.push(',');
    push_mac(out, &r.dst_mac);
    out.push(',');
    out.push_str(r.end_reason.name());
    if biflow {
        let rev = r.reverse.unwrap_or_default();
        let _ = write!(out, ",{},{},{}", rev.packets, rev.bytes, rev.tcp_flags);
    }
}

fn render_json(out: &mut String, r: &FlowRecord) {
    out.push_str("{\"first\":\"");
    format_datetime(out, r.first_ns, DateStyle::Rfc3339Micros);
    out.push_str("\",\"last\":\"");
    format_datetime(out, r.last_ns, DateStyle::Rfc3339Micros);
    let _ = write!(
        out,
        "\",\"src_ip\":\"{}\",\"dst_ip\":\"{}\",\"src_port\":{},\"dst_port\":{},\"proto\":{},\"tcp_flags\":{},\"tos\":{},\"packets\":{},\"bytes\":{},\"vlan\":{},\"src_mac\":\"",
        unmap(r.src_ip),
        unmap(r.dst_ip),
        r.src_port,
        r.dst_port,
        r.proto,
        r.tcp_flags,
        r.tos,
        r.packets,
        r.bytes,
        r.vlan
    );
    push_mac(out, &r.src_mac);
    out.push_str("\",\"dst_mac\":\"");
    push_mac(out, &r.dst_mac);
    let _ = write!(out, "\",\"end_reason\":\"{}\"", r.end_reason.name());
    if let Some(rev) = r.reverse {
        let _ = write!(
            out,
            ",\"rev_packets\":{},\"rev_bytes\":{},\"rev_tcp_flags\":{}",
            rev.packets, rev.bytes, rev.tcp_flags
        );
    }
    out.push('}');
}

/// nfdump's scaled number: `3687`, `  1.2 M`.
fn scaled(value: u64) -> String {
    let v = value as f64;
    if v >= 1e12 {
        format!("{:5.1} T", v / 1e12)
    } else if v >= 1e9 {
        format!("{:5.1} G", v / 1e9)
    } else if v >= 1e6 {
        format!("{:5.1} M", v / 1e6)
    } else {
        value.to_string()
    }
}

fn duration_string(ns: u64) -> String {
    let ms = ns / 1_000_000;
    let secs = ms / 1000;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60,
        ms % 1000
    )
}

fn render_nfdump(out: &mut String, r: &FlowRecord, long: bool) {
    format_datetime(out, r.first_ns, DateStyle::NfdumpMillis);
    let proto = match proto_name(r.proto) {
        Some(name) => name.to_string(),
        None => r.proto.to_string(),
    };
    // ICMP shows type.code in the destination port column, as nfdump does.
    let dst_port = if matches!(r.proto, 1 | 58) {
        format!("{}.{}", r.dst_port >> 8, r.dst_port & 0xff)
    } else {
        r.dst_port.to_string()
    };
    let _ = write!(
        out,
        " {:>16} {:<5} {:>16}:{:<5} -> {:>16}:{:<5}",
        duration_string(r.duration_ns()),
        proto,
        unmap(r.src_ip).to_string(),
        r.src_port,
        unmap(r.dst_ip).to_string(),
        dst_port
    );
    if long {
        let flags = tcp_flags_string(r.tcp_flags);
        let _ = write!(out, " {} {:>3}", String::from_utf8_lossy(&flags), r.tos);
    }
    let packets = r
        .packets
        .saturating_add(r.reverse.map_or(0, |rev| rev.packets));
    let bytes = r.bytes.saturating_add(r.reverse.map_or(0, |rev| rev.bytes));
    let _ = write!(out, " {:>8} {:>8} {:>5}", scaled(packets), scaled(bytes), 1);
}

// ---- src/time.rs ----

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn push_num(out: &mut String, value: u64, width: usize) {
    let mut digits = [b'0'; 20];
    let mut v = value;
    let mut i = digits.len();
    while v > 0 || i == digits.len() {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    for _ in (digits.len() - i)..width {
        out.push('0');
    }
    for &d in &digits[i..] {
        out.push(d as char);
    }
}

/// Appends `ts_ns` (ns since the epoch, UTC) to `out` in the given style.
pub fn format_datetime(out: &mut String, ts_ns: u64, style: DateStyle) {
    let secs = ts_ns / 1_000_000_000;
    let nanos = ts_ns % 1_000_000_000;
    let (year, month, day) = civil_from_days((secs / 86_400) as i64);
    let sod = secs % 86_400;
    push_num(out, year as u64, 4);
    out.push('-');
    push_num(out, month.into(), 2);
    out.push('-');
    push_num(out, day.into(), 2);
    out.push(match style {
        DateStyle::NfdumpMillis => ' ',
        DateStyle::Rfc3339Micros => 'T',
    });
    push_num(out, sod / 3600, 2);
    out.push(':');
    push_num(out, sod % 3600 / 60, 2);
    out.push(':');
    push_num(out, sod % 60, 2);
    out.push('.');
    match style {
        DateStyle::NfdumpMillis => push_num(out, nanos / 1_000_000, 3),
        DateStyle::Rfc3339Micros => {
            push_num(out, nanos / 1_000, 6);
            out.push('Z');
        }
    }
}
