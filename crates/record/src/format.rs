//! Text output formats: nfdump's `line` and `long`, and `csv` / `json` (one
//! object per line) with the store's column names, so scripts written for
//! one work on the other.

use std::fmt::Write as _;
use std::io::{self, Write};

use crate::{format_datetime, proto_name, tcp_flags_string, unmap, DateStyle, FlowRecord, FlowSink};

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
    "first", "last", "src_ip", "dst_ip", "src_port", "dst_port", "proto", "tcp_flags", "tos",
    "packets", "bytes", "vlan", "src_mac", "dst_mac", "end_reason",
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
        self.packets += r.packets + r.reverse.map_or(0, |rev| rev.packets);
        self.bytes += r.bytes + r.reverse.map_or(0, |rev| rev.bytes);
    }

    /// `Summary: total flows: 3, total bytes: 7016, ...` as nfdump prints it.
    pub fn summary_line(&self) -> String {
        let secs = self.last_ns.saturating_sub(self.first_ns) as f64 / 1e9;
        let (bps, pps) = if secs > 0.0 {
            ((self.bytes as f64 * 8.0 / secs) as u64, (self.packets as f64 / secs) as u64)
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
    let packets = r.packets + r.reverse.map_or(0, |rev| rev.packets);
    let bytes = r.bytes + r.reverse.map_or(0, |rev| rev.bytes);
    let _ = write!(out, " {:>8} {:>8} {:>5}", scaled(packets), scaled(bytes), 1);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{to_mapped, EndReason};

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
    fn line_matches_nfdump() {
        // The second line is what `nfdump -o line` prints for the same flow.
        let text = render(Format::Line, &sample());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], LINE_HEADER);
        assert_eq!(
            lines[1],
            "2023-04-21 07:06:48.588     00:00:00.075 TCP      10.100.50.139:7001  ->     10.100.50.48:46588        9     3687     1"
        );
        assert!(lines[2].starts_with("Summary: total flows: 1, total bytes: 3687, total packets: 9"));
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
    }
}
