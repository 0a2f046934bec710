//! nfdump 1.7's text: `%` tags of `-o fmt:` (and the `line`, `long` and
//! `extended` formats built from them), the `-s` table, number scaling
//! (`1.4 M`) and the summary lines. Widths and headers follow what nfdump
//! 1.7.1 prints, so scripts that cut its columns keep working; the
//! differential test `crates/eddy/tests/query_nfdump.rs` holds them to it.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv6Addr};

use record::{DateStyle, FlowRecord};

/// How numbers and addresses are printed.
#[derive(Clone, Copy, Debug, Default)]
pub struct Style {
    /// `-N`: plain numbers, no `M`/`G`/`T` scaling.
    pub plain: bool,
    /// `-6`: addresses at full length.
    pub long_addrs: bool,
}

/// nfdump's scaled number: `1.4 M` from a million on (powers of 1000).
pub fn scaled(n: u64, plain: bool) -> String {
    const K: f64 = 1000.0;
    let f = n as f64;
    if plain || f < K * K {
        n.to_string()
    } else if f < K * K * K {
        format!("{:.1} M", f / (K * K))
    } else if f < K * K * K * K {
        format!("{:.1} G", f / (K * K * K))
    } else {
        format!("{:.1} T", f / (K * K * K * K))
    }
}

/// `yyyy-MM-dd hh:mm:ss.mmm` (UTC).
pub fn date_ms(ns: u64) -> String {
    let mut s = String::new();
    record::format_datetime(&mut s, ns, DateStyle::NfdumpMillis);
    s
}

/// `yyyy-MM-dd hh:mm:ss` (UTC).
pub fn date_s(ns: u64) -> String {
    let mut s = date_ms(ns);
    s.truncate(19);
    s
}

/// nfdump's duration: `    hh:mm:ss.mmm`, or `NNd hh:mm:ss.mmm` past a day
/// (16 characters).
pub fn duration(ms: u64) -> String {
    let days = ms / 86_400_000;
    let rest = ms % 86_400_000;
    let (h, m, s, f) = (
        rest / 3_600_000,
        rest / 60_000 % 60,
        rest / 1000 % 60,
        rest % 1000,
    );
    if days > 0 {
        format!("{days:>2}d {h:02}:{m:02}:{s:02}.{f:03}")
    } else {
        format!("    {h:02}:{m:02}:{s:02}.{f:03}")
    }
}

/// An address as nfdump prints it: IPv4 dotted, IPv6 condensed to 16
/// characters (`2001:db..506d::1`) unless `long`.
pub fn addr(a: Ipv6Addr, long: bool) -> String {
    let s = match record::unmap(a) {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => v6.to_string(),
    };
    if !long && s.len() > 16 {
        format!("{}..{}", &s[..7], &s[s.len() - 7..])
    } else {
        s
    }
}

fn is_v6(a: Ipv6Addr) -> bool {
    matches!(record::unmap(a), IpAddr::V6(_))
}

/// nfdump's protocol column: a name, or the number.
pub fn proto(p: u8) -> String {
    match record::proto_name(p) {
        Some(n) => n.to_string(),
        None => p.to_string(),
    }
}

fn duration_ms(r: &FlowRecord) -> u64 {
    span_ms(r.first_ns, r.last_ns)
}

/// Milliseconds from `first_ns` to `last_ns`, both cut to milliseconds
/// first, as nfdump keeps them.
fn span_ms(first_ns: u64, last_ns: u64) -> u64 {
    (last_ns / 1_000_000).saturating_sub(first_ns / 1_000_000)
}

/// `x` as a percentage of `total` (0 for an empty total).
fn share(x: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        x as f64 * 100.0 / total as f64
    }
}

/// Per second over a span of `ms` milliseconds, in floating point and
/// truncated as nfdump does (`8 * 931 / 0.14` is 53199): `scale` is 1 for
/// packets per second, 8 for bits.
fn rate(count: u64, scale: u64, ms: u64) -> u64 {
    if ms == 0 {
        0
    } else {
        (count.saturating_mul(scale) as f64 / (ms as f64 / 1000.0)) as u64
    }
}

/// One output row: a record (or an aggregate dressed as one) and how many
/// flows it stands for.
pub struct Row<'a> {
    pub r: &'a FlowRecord,
    pub flows: u64,
}

/// One piece of a `fmt:` format.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Text(String),
    Tag(&'static str),
    /// An L7 column by store name (`%http_host`).
    L7(usize),
}

/// The tags nfdump 1.7.1 knows and eddy prints, longest first within a prefix.
const TAGS: &[&str] = &[
    "ts", "te", "td", "pr", "sap", "dap", "sa", "da", "sp", "dp", "pkt", "byt", "fl", "flg",
    "stos", "dtos", "tos", "sas", "das", "in", "out", "bps", "pps", "bpp", "ipkt", "ibyt", "opkt",
    "obyt", "ra", "svln", "dvln", "ismc", "odmc",
];

/// A parsed `fmt:` format.
#[derive(Clone, Debug)]
pub struct Fmt {
    pieces: Vec<Piece>,
    csv: bool,
}

/// nfdump's named formats as `fmt:` strings.
pub const LINE: &str = "%ts %td %pr %sap -> %dap %pkt %byt %fl";
pub const LONG: &str = "%ts %td %pr %sap -> %dap %flg %tos %pkt %byt %fl";
pub const EXTENDED: &str = "%ts %td %pr %sap -> %dap %flg %tos %pkt %byt %pps %bps %bpp %fl";
/// `-b`'s conversations: both directions (In: source to destination).
pub const BILINE: &str = "%ts %td %pr %sap <-> %dap %opkt %ipkt %obyt %ibyt %fl";

impl Fmt {
    /// Parses a format; `csv` formats print values unpadded (`csv:%ts,%sa`).
    pub fn parse(s: &str, csv: bool) -> Result<Fmt, String> {
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut rest = s;
        while let Some(i) = rest.find('%') {
            text.push_str(&rest[..i]);
            rest = &rest[i + 1..];
            // Longest tag that matches (nfdump's tags, then L7 column names).
            let l7 = l7::COLUMNS
                .iter()
                .enumerate()
                .filter(|(_, c)| rest.starts_with(**c))
                .max_by_key(|(_, c)| c.len());
            let tag = TAGS
                .iter()
                .filter(|t| rest.starts_with(**t))
                .max_by_key(|t| t.len());
            match (tag, l7) {
                (_, Some((i, c))) if tag.is_none_or(|t| c.len() > t.len()) => {
                    if !text.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut text)));
                    }
                    pieces.push(Piece::L7(i));
                    rest = &rest[c.len()..];
                }
                (Some(t), _) => {
                    if !text.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut text)));
                    }
                    pieces.push(Piece::Tag(t));
                    rest = &rest[t.len()..];
                }
                _ => {
                    let end = rest
                        .find(|c: char| !c.is_ascii_alphanumeric() && c != '_')
                        .unwrap_or(rest.len());
                    return Err(format!(
                        "output format: unknown tag '%{}' (known: %{}, and %COLUMN for L7 columns)",
                        &rest[..end],
                        TAGS.join(" %")
                    ));
                }
            }
        }
        text.push_str(rest);
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        Ok(Fmt { pieces, csv })
    }

    /// Whether the format prints L7 columns.
    pub fn has_l7(&self) -> bool {
        self.pieces.iter().any(|p| matches!(p, Piece::L7(_)))
    }

    /// The header line: each tag's title at its width, text as spaces.
    pub fn header(&self, style: Style) -> String {
        let mut out = String::new();
        for p in &self.pieces {
            match p {
                Piece::Text(t) => {
                    if self.csv {
                        out.push_str(t);
                    } else {
                        out.extend(t.chars().map(|_| ' '));
                    }
                }
                Piece::Tag(t) => {
                    let (title, width, left) = title(t, style.long_addrs);
                    if self.csv {
                        out.push_str(title.trim());
                    } else if left {
                        let _ = write!(out, "{title:<width$}");
                    } else {
                        let _ = write!(out, "{title:>width$}");
                    }
                }
                Piece::L7(i) => out.push_str(l7::COLUMNS[*i]),
            }
        }
        out.trim_end().to_string()
    }

    /// One row.
    pub fn render(&self, row: &Row<'_>, style: Style, out: &mut String) {
        for p in &self.pieces {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Tag(t) => {
                    let (_, width, mut left) = title(t, style.long_addrs);
                    if *t == "td" && style.plain {
                        left = false;
                    }
                    let v = value(t, row, style);
                    if self.csv {
                        out.push_str(v.trim());
                    } else if left {
                        let _ = write!(out, "{v:<width$}");
                    } else {
                        let _ = write!(out, "{v:>width$}");
                    }
                }
                Piece::L7(i) => {
                    let mut s = String::new();
                    if let Some(f) = &row.r.l7 {
                        f.visit(&mut |c, v| {
                            if c == *i {
                                s = match v {
                                    l7::Value::Str(x) => x.to_string(),
                                    l7::Value::Num(n) => n.to_string(),
                                };
                            }
                        });
                    }
                    out.push_str(&s);
                }
            }
        }
    }
}

/// A tag's title, width and alignment (true: left).
fn title(tag: &str, long: bool) -> (&'static str, usize, bool) {
    let aw = if long { 39 } else { 16 };
    match tag {
        "ts" => ("Date first seen", 23, true),
        "te" => ("Date last seen", 23, true),
        "td" => ("    Duration", 16, true),
        "pr" => ("Proto", 5, true),
        "sa" => ("Src IP Addr", aw, false),
        "da" => ("Dst IP Addr", aw, false),
        "sap" => ("Src IP Addr:Port ", aw + 6, false),
        "dap" => ("Dst IP Addr:Port ", aw + 6, false),
        "sp" => ("Src Pt", 6, false),
        "dp" => ("Dst Pt", 6, false),
        "pkt" => ("Packets", 8, false),
        "byt" => ("Bytes", 8, false),
        "fl" => ("Flows", 5, false),
        "flg" => ("Flags", 8, false),
        "tos" => ("Tos", 3, false),
        "stos" => ("STos", 4, false),
        "dtos" => ("DTos", 4, false),
        "sas" => ("Src AS", 6, false),
        "das" => ("Dst AS", 6, false),
        "in" => ("Input", 6, false),
        "out" => ("Output", 6, false),
        "bps" => ("bps", 8, false),
        "pps" => ("pps", 8, false),
        "bpp" => ("Bpp", 6, false),
        "ipkt" => ("In Pkt", 8, false),
        "ibyt" => ("In Byte", 8, false),
        "opkt" => ("Out Pkt", 8, false),
        "obyt" => ("Out Byte", 8, false),
        "ra" => ("Router IP", aw, false),
        "svln" => ("SVlan", 5, false),
        "dvln" => ("DVlan", 5, false),
        "ismc" => ("In src MAC Addr", 17, false),
        "odmc" => ("Out dst MAC Addr", 17, false),
        _ => ("", 0, true),
    }
}

fn mac(m: &[u8; 6]) -> String {
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    )
}

/// The ICMP type.code nfdump prints in place of the destination port.
fn dst_port(r: &FlowRecord) -> String {
    if r.proto == 1 || r.proto == 58 {
        format!("{}.{}", r.dst_port >> 8, r.dst_port & 0xff)
    } else {
        r.dst_port.to_string()
    }
}

fn addr_port(a: Ipv6Addr, port: String, style: Style) -> String {
    let aw = if style.long_addrs { 39 } else { 16 };
    let sep = if is_v6(a) { '.' } else { ':' };
    format!("{:>aw$}{sep}{port:<5}", addr(a, style.long_addrs))
}

fn value(tag: &str, row: &Row<'_>, style: Style) -> String {
    let r = row.r;
    let n = |x: u64| scaled(x, style.plain);
    let ms = duration_ms(r);
    match tag {
        "ts" => date_ms(r.first_ns),
        "te" => date_ms(r.last_ns),
        "td" if style.plain => format!("{:.3}", ms as f64 / 1000.0),
        "td" => duration(ms),
        "pr" if style.plain => r.proto.to_string(),
        "pr" => proto(r.proto),
        "sa" => addr(r.src_ip, style.long_addrs),
        "da" => addr(r.dst_ip, style.long_addrs),
        "sap" => addr_port(r.src_ip, r.src_port.to_string(), style),
        "dap" => addr_port(r.dst_ip, dst_port(r), style),
        "sp" => r.src_port.to_string(),
        "dp" => dst_port(r),
        "pkt" | "ipkt" => n(r.packets),
        "byt" | "ibyt" => n(r.bytes),
        "opkt" => n(r.reverse.as_ref().map_or(0, |v| v.packets)),
        "obyt" => n(r.reverse.as_ref().map_or(0, |v| v.bytes)),
        "fl" => row.flows.to_string(),
        "flg" => String::from_utf8_lossy(&record::tcp_flags_string(r.tcp_flags)).into_owned(),
        "tos" | "stos" => r.tos.to_string(),
        "dtos" => "0".into(),
        "sas" => r.src_as.to_string(),
        "das" => r.dst_as.to_string(),
        "in" => r.in_if.to_string(),
        "out" => r.out_if.to_string(),
        "bps" => n(rate(r.bytes, 8, ms)),
        "pps" => n(rate(r.packets, 1, ms)),
        "bpp" => r.bytes.checked_div(r.packets).unwrap_or(0).to_string(),
        "ra" => addr(r.exporter, style.long_addrs),
        "svln" => r.vlan.to_string(),
        "dvln" => "0".into(),
        "ismc" => mac(&r.src_mac),
        "odmc" => mac(&r.dst_mac),
        _ => String::new(),
    }
}

/// The `-s` table's header line for a statistic titled `name`.
pub fn stat_header(name: &str, style: Style) -> String {
    let kw = if style.long_addrs { 39 } else { 17 };
    format!(
        "Date first seen                 Duration Proto {name:>kw$}    Flows(%)     Packets(%)       Bytes(%)         pps      bps   bpp"
    )
}

/// One `-s` row: the group's span, protocol column, key and counters with
/// their share of `totals`.
pub fn stat_row(
    g: &crate::engine::Group,
    proto_col: &str,
    key: &str,
    totals: &crate::Totals,
    style: Style,
) -> String {
    let (first_ns, last_ns) = (g.first_ns, g.last_ns);
    let (flows, packets, bytes) = (g.flows, g.packets, g.bytes);
    let ms = span_ms(first_ns, last_ns);
    let dur = if style.long_addrs {
        format!("{:>9.3}", ms as f64 / 1000.0)
    } else if style.plain {
        format!("{:>16.3}", ms as f64 / 1000.0)
    } else {
        duration(ms)
    };
    let kw = if style.long_addrs { 39 } else { 17 };
    let n = |x: u64| scaled(x, style.plain);
    format!(
        "{} {dur} {proto_col:<5} {key:>kw$} {:>8}({:>4.1}) {:>8}({:>4.1}) {:>8}({:>4.1}) {:>8} {:>8} {:>5}",
        date_ms(first_ns),
        n(flows),
        share(flows, totals.flows),
        n(packets),
        share(packets, totals.packets),
        n(bytes),
        share(bytes, totals.bytes),
        n(rate(packets, 1, ms)),
        n(rate(bytes, 8, ms)),
        bytes.checked_div(packets).unwrap_or(0),
    )
}

/// nfdump 1.7's `-o csv` columns (its header line).
pub const NFDUMP_CSV_HEADER: &str = "ts,te,td,sa,da,sp,dp,pr,flg,fwd,stos,ipkt,ibyt,opkt,obyt,in,out,sas,das,smk,dmk,dtos,dir,nh,nhb,svln,dvln,ismc,odmc,idmc,osmc,mpls1,mpls2,mpls3,mpls4,mpls5,mpls6,mpls7,mpls8,mpls9,mpls10,cl,sl,al,ra,eng,exid,tr";

/// One record in nfdump 1.7's `-o csv` layout. Columns the store does not
/// keep print as nfdump prints them when unset (masks, next hops, MPLS
/// labels, latencies, the egress MACs, and the engine type/id, which
/// nfcapd leaves 0/0 for IPFIX). Two are stand-ins: `exid` (nfdump's
/// internal exporter number) is 0, and `tr` (when nfcapd received the
/// record) is the flow's end.
pub fn nfdump_csv_row(r: &FlowRecord, out: &mut String) {
    let ms = duration_ms(r);
    let (opkt, obyt) = r.reverse.as_ref().map_or((0, 0), |v| (v.packets, v.bytes));
    let router = if r.exporter.is_unspecified() {
        "0.0.0.0".to_string()
    } else {
        addr(r.exporter, true)
    };
    let _ = write!(
        out,
        "{},{},{:.3},{},{},{},{},{},{},0,{},{},{},{opkt},{obyt},{},{},{},{},0,0,0,0,0.0.0.0,0.0.0.0,{},0,{},00:00:00:00:00:00,{},00:00:00:00:00:00,",
        date_s(r.first_ns),
        date_s(r.last_ns),
        ms as f64 / 1000.0,
        addr(r.src_ip, true),
        addr(r.dst_ip, true),
        r.src_port,
        r.dst_port,
        proto(r.proto),
        String::from_utf8_lossy(&record::tcp_flags_string(r.tcp_flags)),
        r.tos,
        r.packets,
        r.bytes,
        r.in_if,
        r.out_if,
        r.src_as,
        r.dst_as,
        r.vlan,
        mac(&r.src_mac),
        mac(&r.dst_mac),
    );
    for _ in 0..10 {
        out.push_str("0-0-0,");
    }
    let _ = write!(
        out,
        "    0.000,    0.000,    0.000,{router},0/0,0,{}",
        date_ms(r.last_ns)
    );
}

/// nfdump 1.7's `-o csv` header of a `-s` statistic: input counters
/// (`ipkt`, `ibyt`, ...) when ordered by flows, plain ones otherwise.
pub fn nfdump_csv_stat_header(order: crate::engine::Order) -> &'static str {
    if order == crate::engine::Order::Flows {
        "ts,te,td,pr,val,fl,flP,ipkt,ipktP,ibyt,ibytP,ipps,ibps,ibpp"
    } else {
        "ts,te,td,pr,val,fl,flP,pkt,pktP,byt,bytP,pps,bps,bpp"
    }
}

/// One `-s` row in nfdump 1.7's `-o csv`: unscaled counters, shares with
/// one decimal, the key at full length.
pub fn nfdump_csv_stat_row(
    g: &crate::engine::Group,
    proto_col: &str,
    key: &str,
    totals: &crate::Totals,
) -> String {
    let (first_ns, last_ns) = (g.first_ns, g.last_ns);
    let (flows, packets, bytes) = (g.flows, g.packets, g.bytes);
    let ms = span_ms(first_ns, last_ns);
    format!(
        "{},{},{:.3},{proto_col},{key},{flows},{:.1},{packets},{:.1},{bytes},{:.1},{},{},{}",
        date_s(first_ns),
        date_s(last_ns),
        ms as f64 / 1000.0,
        share(flows, totals.flows),
        share(packets, totals.packets),
        share(bytes, totals.bytes),
        rate(packets, 1, ms),
        rate(bytes, 8, ms),
        bytes.checked_div(packets).unwrap_or(0),
    )
}

/// One record as nfdump 1.7.1's `-o json` object (tab-indented, `key :
/// value` lines). nfdump prints an extension's keys when the exporter sent
/// it; the store does not keep which elements came, so the optional blocks
/// (VLANs, AS numbers, router address, MAC addresses, out counters) are
/// printed when they hold a value. Stand-ins as in the CSV: `export_sysid`
/// is 0 and `received` is the flow's end.
pub fn nfdump_json_record(r: &FlowRecord, out: &mut String) {
    let time = |ns: u64| date_ms(ns).replacen(' ', "T", 1);
    let mut fields: Vec<(&str, String)> = vec![
        ("type", "\"FLOW\"".into()),
        ("sampled", "0".into()),
        ("export_sysid", "0".into()),
        ("first", format!("\"{}\"", time(r.first_ns))),
        ("last", format!("\"{}\"", time(r.last_ns))),
        ("received", format!("\"{}\"", time(r.last_ns))),
        ("in_packets", r.packets.to_string()),
        ("in_bytes", r.bytes.to_string()),
        ("proto", r.proto.to_string()),
    ];
    if r.proto == 1 || r.proto == 58 {
        fields.push(("icmp_type", (r.dst_port >> 8).to_string()));
        fields.push(("icmp_code", (r.dst_port & 0xff).to_string()));
    } else {
        let flags = record::tcp_flags_string(r.tcp_flags);
        fields.push((
            "tcp_flags",
            format!("\"{}\"", String::from_utf8_lossy(&flags)),
        ));
        fields.push(("src_port", r.src_port.to_string()));
        fields.push(("dst_port", r.dst_port.to_string()));
    }
    fields.push(("src_tos", r.tos.to_string()));
    let (src_key, dst_key) = if is_v6(r.src_ip) {
        ("src6_addr", "dst6_addr")
    } else {
        ("src4_addr", "dst4_addr")
    };
    fields.push((src_key, format!("\"{}\"", addr(r.src_ip, true))));
    fields.push((dst_key, format!("\"{}\"", addr(r.dst_ip, true))));
    fields.push(("input_snmp", r.in_if.to_string()));
    fields.push(("output_snmp", r.out_if.to_string()));
    for key in ["src_mask", "dst_mask"] {
        fields.push((key, "0".into()));
    }
    for key in ["src_net", "dst_net"] {
        fields.push((key, "\"\"".into()));
    }
    for key in ["fwd_status", "direction", "dst_tos"] {
        fields.push((key, "0".into()));
    }
    if let Some(rev) = &r.reverse {
        fields.push(("out_packets", rev.packets.to_string()));
        fields.push(("out_bytes", rev.bytes.to_string()));
        fields.push(("aggr_flows", "1".into()));
    }
    if r.vlan != 0 {
        fields.push(("src_vlan", r.vlan.to_string()));
        fields.push(("dst_vlan", "0".into()));
    }
    if r.src_as != 0 || r.dst_as != 0 {
        fields.push(("src_as", r.src_as.to_string()));
        fields.push(("dst_as", r.dst_as.to_string()));
    }
    if !r.exporter.is_unspecified() {
        let key = if is_v6(r.exporter) {
            "ip6_router"
        } else {
            "ip4_router"
        };
        fields.push((key, format!("\"{}\"", addr(r.exporter, true))));
    }
    if r.src_mac != [0; 6] || r.dst_mac != [0; 6] {
        let zero = mac(&[0; 6]);
        fields.push(("in_src_mac", format!("\"{}\"", mac(&r.src_mac))));
        fields.push(("out_dst_mac", format!("\"{zero}\"")));
        fields.push(("in_dst_mac", format!("\"{}\"", mac(&r.dst_mac))));
        fields.push(("out_src_mac", format!("\"{zero}\"")));
    }
    fields.push(("label", "\"<none>\"".into()));
    out.push_str("{\n");
    for (i, (key, value)) in fields.iter().enumerate() {
        let comma = if i + 1 < fields.len() { "," } else { "" };
        let _ = writeln!(out, "\t\"{key}\" : {value}{comma}");
    }
    out.push('}');
}

/// nfdump 1.7's summary after `-o csv` rows.
pub fn nfdump_csv_summary(t: &crate::Totals) -> String {
    let ms = span_ms(t.first_ns, t.last_ns);
    format!(
        "Summary\nflows,bytes,packets,avg_bps,avg_pps,avg_bpp\n{},{},{},{},{},{}",
        t.flows,
        t.bytes,
        t.packets,
        rate(t.bytes, 8, ms),
        rate(t.packets, 1, ms),
        t.bytes.checked_div(t.packets).unwrap_or(0)
    )
}

/// nfdump's `Summary:` line.
pub fn summary_line(t: &crate::Totals, style: Style) -> String {
    let ms = span_ms(t.first_ns, t.last_ns);
    let n = |x: u64| scaled(x, style.plain);
    format!(
        "Summary: total flows: {}, total bytes: {}, total packets: {}, avg bps: {}, avg pps: {}, avg bpp: {}",
        t.flows,
        n(t.bytes),
        n(t.packets),
        n(rate(t.bytes, 8, ms)),
        n(rate(t.packets, 1, ms)),
        t.bytes.checked_div(t.packets).unwrap_or(0)
    )
}

/// `Time window: first - last` (seconds, UTC).
pub fn time_window_line(t: &crate::Totals) -> String {
    format!(
        "Time window: {} - {}",
        date_s(t.first_ns),
        date_s(t.last_ns)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_scale_like_nfdump() {
        assert_eq!(scaled(999_999, false), "999999");
        assert_eq!(scaled(1_352_026, false), "1.4 M");
        assert_eq!(scaled(1_352_026, true), "1352026");
        assert_eq!(scaled(23_400_000_000, false), "23.4 G");
        assert_eq!(duration(298), "    00:00:00.298");
        assert_eq!(duration(91_052), "    00:01:31.052");
        assert_eq!(
            addr("2001:db8:af8b:506d::1".parse().unwrap(), false),
            "2001:db..506d::1"
        );
    }

    #[test]
    fn line_header_is_nfdumps() {
        let f = Fmt::parse(LINE, false).unwrap();
        assert_eq!(
            f.header(Style::default()),
            "Date first seen             Duration     Proto      Src IP Addr:Port          Dst IP Addr:Port   Packets    Bytes Flows"
        );
        let f = Fmt::parse(LONG, false).unwrap();
        assert_eq!(
            f.header(Style::default()),
            "Date first seen             Duration     Proto      Src IP Addr:Port          Dst IP Addr:Port     Flags Tos  Packets    Bytes Flows"
        );
        assert!(Fmt::parse("%ts %nope", false).is_err());
        assert!(Fmt::parse("%ts %http_host", false).unwrap().has_l7());
    }
}
