//! One `eddy query` run: options as nfdump takes them, the queries they
//! need, and the text nfdump would print.

use std::io::Write;
use std::net::Ipv6Addr;
use std::path::PathBuf;
use std::time::Instant;

use datafusion::common::ScalarValue;
use record::FlowRecord;

use crate::engine::{scalar_u64, Engine, Error, Group, Key, Order, Result, Totals};
use crate::output::{self, Fmt, Row, Style};
use crate::rollup;

/// How records are printed.
#[derive(Clone, Debug)]
pub enum OutputFormat {
    /// nfdump-style columns from `%` tags (`line`, `long`, `extended`, `fmt:`, `csv:`).
    Fmt { fmt: String, csv: bool },
    /// nfdump's `-o csv`: its 48 columns, header and summary block.
    NfdumpCsv,
    /// nfdump's `-o json`: an array of objects with nfdump's keys.
    NfdumpJson,
    /// The record crate's formats with store column names (`eddy-csv`,
    /// `json`, `ndjson`) and the named L7 lines (`http`, `dns`, `tls`,
    /// `smtp`, `sip`).
    Record(record::format::Format),
}

impl OutputFormat {
    pub fn parse(s: &str) -> Result<OutputFormat> {
        let f = |fmt: &str| OutputFormat::Fmt {
            fmt: fmt.to_string(),
            csv: false,
        };
        Ok(match s {
            "line" => f(output::LINE),
            "long" => f(output::LONG),
            "extended" => f(output::EXTENDED),
            "biline" => f(output::BILINE),
            "csv" => OutputFormat::NfdumpCsv,
            "json" => OutputFormat::NfdumpJson,
            "eddy-json" => OutputFormat::Record(record::format::Format::Json),
            // eddy's own CSV (the meter's and the logger's; `replay -f` reads it).
            "eddy-csv" => OutputFormat::Record(record::format::Format::Csv),
            _ => {
                if let Some(x) = s.strip_prefix("fmt:") {
                    f(x)
                } else if let Some(x) = s.strip_prefix("csv:") {
                    OutputFormat::Fmt {
                        fmt: x.to_string(),
                        csv: true,
                    }
                } else {
                    OutputFormat::Record(s.parse().map_err(|e: String| {
                        Error(format!(
                            "{e}; or line, long, extended, csv, eddy-csv, json, eddy-json, ndjson, fmt:FORMAT, csv:FORMAT"
                        ))
                    })?)
                }
            }
        })
    }
}

/// One `-s` statistic.
#[derive(Clone, Debug)]
pub struct Stat {
    /// nfdump's title (`Src IP Addr`).
    pub title: String,
    /// Alternatives: a flow counts once for each (`ip` = source and destination).
    pub keys: Vec<Key>,
    pub order: Order,
    /// The `-s proto` table prints the protocol's name in the Proto column.
    pub is_proto: bool,
}

impl Stat {
    /// `srcip`, `dstport/bytes`, `http_host/packets`, ...
    pub fn parse(s: &str) -> Result<Stat> {
        let (name, order) = match s.split_once('/') {
            Some((n, o)) => (
                n,
                Order::parse(o).ok_or_else(|| {
                    Error(format!(
                        "statistic '{s}': unknown order '{o}' (flows, packets, bytes, pps, bps, bpp, tstart, tend)"
                    ))
                })?,
            ),
            None => (s, Order::Flows),
        };
        let lower = name.to_ascii_lowercase();
        let c = |x: &str| Key::Column(x.to_string());
        let (title, keys): (&str, Vec<Key>) = match lower.as_str() {
            "srcip" => ("Src IP Addr", vec![c("src_ip")]),
            "dstip" => ("Dst IP Addr", vec![c("dst_ip")]),
            "ip" => ("IP Addr", vec![c("src_ip"), c("dst_ip")]),
            "srcport" => ("Src Port", vec![c("src_port")]),
            "dstport" => ("Dst Port", vec![c("dst_port")]),
            "port" => ("Port", vec![c("src_port"), c("dst_port")]),
            "proto" => ("Protocol", vec![c("proto")]),
            "srcas" => ("Src AS", vec![c("src_as")]),
            "dstas" => ("Dst AS", vec![c("dst_as")]),
            "as" => ("AS", vec![c("src_as"), c("dst_as")]),
            "srcgeo" => ("Src Geo", vec![c("src_country")]),
            "dstgeo" => ("Dst Geo", vec![c("dst_country")]),
            "geo" => ("Geo", vec![c("src_country"), c("dst_country")]),
            "inif" => ("Input If", vec![c("in_if")]),
            "outif" => ("Output If", vec![c("out_if")]),
            "if" => ("In/Out If", vec![c("in_if"), c("out_if")]),
            "tos" | "srctos" => ("Tos", vec![c("tos")]),
            "flags" => ("Flags", vec![c("tcp_flags")]),
            "vlan" | "srcvlan" => ("Src Vlan", vec![c("vlan")]),
            "exporter" | "router" => ("Router IP", vec![c("exporter")]),
            "srcmac" => ("Src Mac", vec![c("src_mac")]),
            "dstmac" => ("Dst Mac", vec![c("dst_mac")]),
            other => {
                let Some(i) = l7::column_index(other) else {
                    return Err(Error(format!(
                        "unknown statistic '{name}': srcip, dstip, ip, srcport, dstport, port, proto, srcas, dstas, as, srcgeo, dstgeo, geo, inif, outif, if, tos, flags, vlan, exporter, srcmac, dstmac, or an L7 column ({})",
                        l7::COLUMNS.join(", ")
                    )));
                };
                return Ok(Stat {
                    title: l7::COLUMNS[i].to_string(),
                    keys: vec![c(l7::COLUMNS[i])],
                    order,
                    is_proto: false,
                });
            }
        };
        Ok(Stat {
            title: title.to_string(),
            keys,
            order,
            is_proto: lower == "proto",
        })
    }
}

/// One `-A` field: its grouping key and the `%` tag that prints it.
#[derive(Clone, Debug)]
pub struct AggField {
    pub key: Key,
    pub tag: String,
}

/// nfdump's `-A` list (`proto,srcip,dstport`, `srcip4/24`, `dstip6/64`,
/// L7 column names).
pub fn parse_aggregation(s: &str) -> Result<Vec<AggField>> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let lower = part.to_ascii_lowercase();
        let f = |col: &str, tag: &str| AggField {
            key: Key::Column(col.to_string()),
            tag: tag.to_string(),
        };
        let masked = |col: &str, rest: &str, v4: bool| -> Result<AggField> {
            let bits: u8 = rest
                .strip_prefix('/')
                .and_then(|b| b.parse().ok())
                .filter(|b| if v4 { *b <= 32 } else { *b <= 128 })
                .ok_or_else(|| {
                    Error(format!(
                        "aggregation '{part}': expected /N with N at most {}",
                        if v4 { 32 } else { 128 }
                    ))
                })?;
            let tag = if col == "src_ip" { "%sa" } else { "%da" };
            Ok(AggField {
                key: Key::Masked {
                    column: col.to_string(),
                    bits,
                    v4,
                },
                tag: tag.to_string(),
            })
        };
        let field = match lower.as_str() {
            "proto" => f("proto", "%pr"),
            "srcip" => f("src_ip", "%sa"),
            "dstip" => f("dst_ip", "%da"),
            "srcport" => f("src_port", "%sp"),
            "dstport" => f("dst_port", "%dp"),
            "srcas" => f("src_as", "%sas"),
            "dstas" => f("dst_as", "%das"),
            "inif" => f("in_if", "%in"),
            "outif" => f("out_if", "%out"),
            "srctos" => f("tos", "%stos"),
            "tos" => f("tos", "%tos"),
            "srcvlan" | "vlan" => f("vlan", "%svln"),
            "srcmac" => f("src_mac", "%ismc"),
            "dstmac" => f("dst_mac", "%odmc"),
            "exporter" | "router" => f("exporter", "%ra"),
            x if x.starts_with("srcip4") => masked("src_ip", &x[6..], true)?,
            x if x.starts_with("dstip4") => masked("dst_ip", &x[6..], true)?,
            x if x.starts_with("srcip6") => masked("src_ip", &x[6..], false)?,
            x if x.starts_with("dstip6") => masked("dst_ip", &x[6..], false)?,
            x => match l7::column_index(x) {
                Some(i) => f(l7::COLUMNS[i], &format!("%{}", l7::COLUMNS[i])),
                None => {
                    return Err(Error(format!(
                        "unknown aggregation field '{part}': proto, srcip, dstip, srcport, dstport, srcas, dstas, inif, outif, srctos, srcvlan, srcmac, dstmac, exporter, srcip4/N, dstip4/N, srcip6/N, dstip6/N, or an L7 column"
                    )))
                }
            },
        };
        out.push(field);
    }
    if out.is_empty() {
        return Err(Error(format!("aggregation '{s}': no fields")));
    }
    Ok(out)
}

/// A whole `eddy query` request.
#[derive(Clone, Debug)]
pub struct Request {
    pub files: Vec<PathBuf>,
    pub filter: filter::Expr,
    pub stats: Vec<Stat>,
    pub aggregate: Option<Vec<AggField>>,
    /// `-b`: conversations, both directions joined.
    pub bidir: bool,
    pub order: Option<Order>,
    /// `-n`: top N (default 10 for `-s`; all for `-A`).
    pub top: Option<usize>,
    /// `-c`: at most this many records listed.
    pub limit: Option<usize>,
    pub format: Option<OutputFormat>,
    pub quiet: bool,
    pub style: Style,
    /// Let `-s` and `-A` read the window summaries where they answer the
    /// request ([`rollup`]); off, every query reads the flows.
    pub summaries: bool,
}

impl Request {
    /// A plain listing of `files`' flows under `filter` in the default
    /// format, summaries on: `eddy query` with no options but a filter.
    pub fn listing(files: &[PathBuf], filter: filter::Expr) -> Request {
        Request {
            files: files.to_vec(),
            filter,
            stats: vec![],
            aggregate: None,
            bidir: false,
            order: None,
            top: None,
            limit: None,
            format: None,
            quiet: false,
            style: Style::default(),
            summaries: true,
        }
    }
}

/// Runs the request, printing to `out`.
pub fn run(engine: &Engine, req: &Request, out: &mut dyn Write) -> Result<()> {
    let start = Instant::now();
    // Windows whose summaries rule out the filter's addresses, ports or
    // protocols are not read.
    let (pruned, skipped);
    let req = match req.summaries {
        true => {
            let (files, n) = crate::prune::by_summaries(&req.files, &req.filter, engine.threads());
            skipped = n;
            pruned = Request {
                files,
                ..req.clone()
            };
            &pruned
        }
        false => {
            skipped = 0;
            req
        }
    };
    let filter = crate::lower::lower(&req.filter);
    let io = |e: std::io::Error| Error(format!("writing output: {e}"));
    let listing = req.stats.is_empty() && req.aggregate.is_none() && !req.bidir;
    let mut totals = Totals::default();
    if req.bidir {
        if !req.stats.is_empty() || req.aggregate.is_some() {
            return Err(Error("-b cannot be combined with -s, -A or -a".into()));
        }
        totals = conversations(engine, req, &filter, out)?;
    } else if !req.stats.is_empty() {
        // Each statistic's groups; the totals come from the first one whose
        // keys are never null (every flow in one group per alternative),
        // else from a query of their own.
        let mut results = Vec::new();
        for s in &req.stats {
            let alts: Vec<Vec<Key>> = s.keys.iter().map(|k| vec![k.clone()]).collect();
            let n = req.top.unwrap_or(10);
            let res = groups(engine, req, &filter, &alts, s.order, Some(n), false)?;
            if totals.flows == 0 && s.keys.iter().all(|k| !nullable_key(k)) {
                totals = divided(res.sums, alts.len() as u64);
            }
            results.push((s, n, res.groups));
        }
        if totals.flows == 0 {
            totals = engine.totals(&req.files, &filter)?;
        }
        let csv = matches!(req.format, Some(OutputFormat::NfdumpCsv));
        for (s, n, groups) in results {
            if csv {
                // nfdump prints each statistic's CSV header even with -q.
                writeln!(out, "{}", output::nfdump_csv_stat_header(s.order)).map_err(io)?;
            } else if !req.quiet {
                writeln!(out, "Top {n} {} ordered by {}:", s.title, s.order.name()).map_err(io)?;
                writeln!(out, "{}", output::stat_header(&s.title, req.style)).map_err(io)?;
            }
            for g in &groups {
                let key = g
                    .keys
                    .first()
                    .map(|k| key_text(k, req.style))
                    .unwrap_or_default();
                let proto_col = if s.is_proto {
                    g.keys
                        .first()
                        .and_then(scalar_u64)
                        .map(|p| {
                            if req.style.plain && !csv {
                                p.to_string()
                            } else {
                                output::proto(p as u8)
                            }
                        })
                        .unwrap_or_default()
                } else {
                    "any".to_string()
                };
                let line = if csv {
                    let key = g
                        .keys
                        .first()
                        .map(|k| {
                            key_text(
                                k,
                                Style {
                                    long_addrs: true,
                                    ..req.style
                                },
                            )
                        })
                        .unwrap_or_default();
                    output::nfdump_csv_stat_row(g, &proto_col, &key, &totals)
                } else {
                    output::stat_row(g, &proto_col, &key, &totals, req.style)
                };
                writeln!(out, "{line}").map_err(io)?;
            }
            writeln!(out).map_err(io)?;
        }
    } else if let Some(fields) = &req.aggregate {
        let keys: Vec<Key> = fields.iter().map(|f| f.key.clone()).collect();
        let order = req.order.unwrap_or(Order::Tstart);
        let exact = keys.iter().all(|k| !nullable_key(k));
        let res = groups(
            engine,
            req,
            &filter,
            &[keys],
            order,
            req.top.or(req.limit),
            true,
        )?;
        totals = if exact {
            res.sums
        } else {
            engine.totals(&req.files, &filter)?
        };
        let groups = res.groups;
        if matches!(req.format, Some(OutputFormat::NfdumpCsv)) {
            if !req.quiet {
                writeln!(out, "{}", output::NFDUMP_CSV_HEADER).map_err(io)?;
            }
            let mut line = String::new();
            for g in &groups {
                line.clear();
                output::nfdump_csv_row(&group_record(g, fields), &mut line);
                writeln!(out, "{line}").map_err(io)?;
            }
            return finish_nfdump_csv(req, &totals, out);
        }
        let fmt = match &req.format {
            Some(OutputFormat::Fmt { fmt, csv }) => Fmt::parse(fmt, *csv).map_err(Error)?,
            Some(OutputFormat::Record(_) | OutputFormat::NfdumpCsv | OutputFormat::NfdumpJson) => {
                return Err(Error(
                    "-A prints nfdump columns: use -o line, long, extended, csv, fmt: or csv:"
                        .into(),
                ))
            }
            None => {
                // nfdump's: the fields in the order given, set off by two spaces.
                let tags: Vec<&str> = fields.iter().map(|a| a.tag.as_str()).collect();
                let f = format!("%ts %td  {}  %pkt %byt %bps %bpp %fl", tags.join(" "));
                Fmt::parse(&f, false).map_err(Error)?
            }
        };
        if !req.quiet {
            writeln!(out, "{}", fmt.header(req.style)).map_err(io)?;
        }
        let mut line = String::new();
        for g in &groups {
            let r = group_record(g, fields);
            line.clear();
            fmt.render(
                &Row {
                    r: &r,
                    flows: g.flows,
                },
                req.style,
                &mut line,
            );
            writeln!(out, "{line}").map_err(io)?;
        }
    } else {
        // As nfdump, the summary of a listing counts the flows listed.
        totals = list(engine, req, &filter, out)?;
        match req.format {
            Some(OutputFormat::NfdumpCsv) => return finish_nfdump_csv(req, &totals, out),
            // nfdump prints no summary after JSON.
            Some(OutputFormat::NfdumpJson) => return out.flush().map_err(io),
            _ => {}
        }
    }
    if matches!(req.format, Some(OutputFormat::NfdumpCsv)) {
        return finish_nfdump_csv(req, &totals, out);
    }
    // Record formats (CSV, JSON, the L7 lines) end without nfdump's
    // statistics: machine formats stay clean, the L7 lines print their own.
    let record_format = listing && matches!(req.format, Some(OutputFormat::Record(_)));
    if !req.quiet && !record_format {
        writeln!(out, "{}", output::summary_line(&totals, req.style)).map_err(io)?;
        if totals.flows > 0 {
            writeln!(out, "{}", output::time_window_line(&totals)).map_err(io)?;
        }
        let wall = start.elapsed().as_secs_f64();
        write!(
            out,
            "Total flows passed: {}, files read: {}",
            totals.flows,
            req.files.len()
        )
        .map_err(io)?;
        if skipped > 0 {
            write!(out, ", windows skipped by their summaries: {skipped}").map_err(io)?;
        }
        writeln!(out).map_err(io)?;
        writeln!(
            out,
            "Wall: {wall:.4}s flows/second: {:.1}",
            if wall > 0.0 {
                totals.flows as f64 / wall
            } else {
                0.0
            }
        )
        .map_err(io)?;
    }
    out.flush().map_err(io)
}

/// `-b`: one line per conversation, nfdump's `biline` unless `-o` says
/// otherwise (`fmt:`/`csv:` with `%ipkt %opkt %ibyt %obyt`).
fn conversations(
    engine: &Engine,
    req: &Request,
    filter: &datafusion::logical_expr::Expr,
    out: &mut dyn Write,
) -> Result<Totals> {
    let io = |e: std::io::Error| Error(format!("writing output: {e}"));
    let fmt = match &req.format {
        None => Fmt::parse(output::BILINE, false).map_err(Error)?,
        Some(OutputFormat::Fmt { fmt, csv }) => Fmt::parse(fmt, *csv).map_err(Error)?,
        Some(OutputFormat::Record(_) | OutputFormat::NfdumpCsv | OutputFormat::NfdumpJson) => {
            return Err(Error(
                "-b prints nfdump columns: use -o biline, line, fmt: or csv: (with %ipkt %opkt %ibyt %obyt)"
                    .into(),
            ))
        }
    };
    let order = req.order.unwrap_or(Order::Tstart);
    let (convs, totals) = engine.conversations(&req.files, filter, order, req.limit)?;
    if !req.quiet {
        writeln!(out, "{}", fmt.header(req.style)).map_err(io)?;
    }
    let mut line = String::new();
    for c in &convs {
        let r = FlowRecord {
            first_ns: c.first_ns,
            last_ns: c.last_ns,
            src_ip: c.src,
            dst_ip: c.dst,
            src_port: c.src_port,
            dst_port: c.dst_port,
            proto: c.proto,
            packets: c.in_packets,
            bytes: c.in_bytes,
            reverse: Some(record::Reverse {
                first_ns: c.first_ns,
                last_ns: c.last_ns,
                packets: c.out_packets,
                bytes: c.out_bytes,
                tcp_flags: 0,
            }),
            ..FlowRecord::default()
        };
        line.clear();
        fmt.render(
            &Row {
                r: &r,
                flows: c.flows,
            },
            req.style,
            &mut line,
        );
        writeln!(out, "{line}").map_err(io)?;
    }
    Ok(totals)
}

fn list(
    engine: &Engine,
    req: &Request,
    filter: &datafusion::logical_expr::Expr,
    out: &mut dyn Write,
) -> Result<Totals> {
    let io = |e: std::io::Error| Error(format!("writing output: {e}"));
    let mut totals = Totals::default();
    let mut count = |recs: &[FlowRecord]| {
        for r in recs {
            if totals.flows == 0 || r.first_ns < totals.first_ns {
                totals.first_ns = r.first_ns;
            }
            totals.last_ns = totals.last_ns.max(r.last_ns);
            totals.flows += 1;
            totals.packets = totals.packets.saturating_add(r.packets);
            totals.bytes = totals.bytes.saturating_add(r.bytes);
        }
    };
    let format = req.format.clone().unwrap_or(OutputFormat::Fmt {
        fmt: output::LINE.into(),
        csv: false,
    });
    // Listings with nfdump's columns read the base and biflow columns only.
    let nfdump_cols: &[&str] = &schema::BASE_COLUMNS[..28];
    match format {
        OutputFormat::Fmt { fmt, csv } => {
            let fmt = Fmt::parse(&fmt, csv).map_err(Error)?;
            if !req.quiet {
                writeln!(out, "{}", fmt.header(req.style)).map_err(io)?;
            }
            let cols: Option<&[&str]> = if fmt.has_l7() {
                None
            } else {
                Some(&schema::BASE_COLUMNS[..23])
            };
            write_records(engine, req, filter, cols, &mut count, out, |r, line| {
                fmt.render(&Row { r, flows: 1 }, req.style, line);
                line.push('\n');
            })?;
        }
        OutputFormat::NfdumpCsv => {
            if !req.quiet {
                writeln!(out, "{}", output::NFDUMP_CSV_HEADER).map_err(io)?;
            }
            write_records(
                engine,
                req,
                filter,
                Some(nfdump_cols),
                &mut count,
                out,
                |r, line| {
                    output::nfdump_csv_row(r, line);
                    line.push('\n');
                },
            )?;
        }
        OutputFormat::NfdumpJson => {
            // As nfdump: an array, except under -q, where the objects come
            // without brackets (separated by commas all the same).
            let brackets = !req.quiet;
            let mut first = true;
            write_records(
                engine,
                req,
                filter,
                Some(nfdump_cols),
                &mut count,
                out,
                |r, line| {
                    line.push_str(match (first, brackets) {
                        (true, true) => "[\n",
                        (true, false) => "",
                        (false, _) => ",\n",
                    });
                    first = false;
                    output::nfdump_json_record(r, line);
                },
            )?;
            let end = match (first, brackets) {
                (true, true) => "[\n]\n",
                (true, false) => "",
                (false, true) => "]\n",
                (false, false) => "\n",
            };
            out.write_all(end.as_bytes()).map_err(io)?;
        }
        OutputFormat::Record(f) => {
            use record::FlowSink;
            let mut sink = record::format::TextSink::new(&mut *out, f, false);
            // The L7 lines print their header and summary themselves; CSV
            // keeps its header even with -q (scripts read columns by name).
            sink.decorations = !req.quiet && matches!(f, record::format::Format::L7(_));
            let mut err = None;
            engine.flows(&req.files, filter, None, req.order, req.limit, |recs| {
                count(&recs);
                if let Err(e) = sink.write(&recs) {
                    err = Some(e);
                    return Ok(false);
                }
                Ok(true)
            })?;
            if let Some(e) = err {
                return Err(io(e));
            }
            sink.finish().map_err(io)?;
        }
    }
    Ok(totals)
}

/// Streams the records a listing selects to `out`, each as `render`
/// appends it to a reused line, counting them through `count`.
fn write_records(
    engine: &Engine,
    req: &Request,
    filter: &datafusion::logical_expr::Expr,
    cols: Option<&[&str]>,
    count: &mut dyn FnMut(&[FlowRecord]),
    out: &mut dyn Write,
    mut render: impl FnMut(&FlowRecord, &mut String),
) -> Result<()> {
    let mut line = String::new();
    let mut err = None;
    engine.flows(&req.files, filter, cols, req.order, req.limit, |recs| {
        count(&recs);
        for r in &recs {
            line.clear();
            render(r, &mut line);
            if let Err(e) = out.write_all(line.as_bytes()) {
                err = Some(e);
                return Ok(false);
            }
        }
        Ok(true)
    })?;
    match err {
        Some(e) => Err(Error(format!("writing output: {e}"))),
        None => Ok(()),
    }
}

/// The end of nfdump's `-o csv`: its summary block (none with `-q`).
fn finish_nfdump_csv(req: &Request, totals: &Totals, out: &mut dyn Write) -> Result<()> {
    let io = |e: std::io::Error| Error(format!("writing output: {e}"));
    if !req.quiet {
        writeln!(out, "{}", output::nfdump_csv_summary(totals)).map_err(io)?;
    }
    out.flush().map_err(io)
}

/// A group dressed as a record for the `%` tags: the key fields set, the
/// counters summed, the span from the earliest start to the latest end.
/// As in nfdump 1.7.1's aggregated records, TCP flags are kept only for the
/// whole 5-tuple, and an
/// address the group does not key on is the zero address of the family
/// of the one it keys on (IPv4 when it keys on neither; nfdump takes the
/// family of the group's first record there).
fn group_record(g: &Group, fields: &[AggField]) -> FlowRecord {
    let mut r = FlowRecord {
        first_ns: g.first_ns,
        last_ns: g.last_ns,
        packets: g.packets,
        bytes: g.bytes,
        ..FlowRecord::default()
    };
    for (f, v) in fields.iter().zip(&g.keys) {
        let n = scalar_u64(v).unwrap_or(0);
        match f.key.column() {
            "proto" => r.proto = n as u8,
            "src_port" => r.src_port = n as u16,
            "dst_port" => r.dst_port = n as u16,
            "src_as" => r.src_as = n as u32,
            "dst_as" => r.dst_as = n as u32,
            "in_if" => r.in_if = n as u32,
            "out_if" => r.out_if = n as u32,
            "tos" => r.tos = n as u8,
            "vlan" => r.vlan = n as u16,
            "src_ip" => r.src_ip = scalar_addr(v).unwrap_or(Ipv6Addr::UNSPECIFIED),
            "dst_ip" => r.dst_ip = scalar_addr(v).unwrap_or(Ipv6Addr::UNSPECIFIED),
            "exporter" => r.exporter = scalar_addr(v).unwrap_or(Ipv6Addr::UNSPECIFIED),
            "src_mac" | "dst_mac" => {
                if let ScalarValue::FixedSizeBinary(6, Some(b)) = v {
                    let mut m = [0u8; 6];
                    m.copy_from_slice(b);
                    if f.key.column() == "src_mac" {
                        r.src_mac = m;
                    } else {
                        r.dst_mac = m;
                    }
                }
            }
            _ => {}
        }
    }
    let keyed = |column: &str| fields.iter().any(|f| f.key.column() == column);
    let (src_keyed, dst_keyed) = (keyed("src_ip"), keyed("dst_ip"));
    let v6 = |a: Ipv6Addr| matches!(record::unmap(a), std::net::IpAddr::V6(_));
    let zero = match (src_keyed, dst_keyed) {
        (true, _) if v6(r.src_ip) => Ipv6Addr::UNSPECIFIED,
        (false, true) if v6(r.dst_ip) => Ipv6Addr::UNSPECIFIED,
        _ => std::net::Ipv4Addr::UNSPECIFIED.to_ipv6_mapped(),
    };
    if !src_keyed {
        r.src_ip = zero;
    }
    if !dst_keyed {
        r.dst_ip = zero;
    }
    // Aggregated on the whole 5-tuple (`-a`), a group is one connection's
    // records, and nfdump keeps their flags.
    if ["src_port", "dst_port", "proto"].iter().all(|c| keyed(c)) && src_keyed && dst_keyed {
        r.tcp_flags = g.tcp_flags;
    }
    // L7 keys: rebuilt through the schema's batch reader.
    let l7_keys: Vec<(&str, &ScalarValue)> = fields
        .iter()
        .zip(&g.keys)
        .filter(|(f, _)| l7::column_index(f.key.column()).is_some())
        .map(|(f, v)| (f.key.column(), v))
        .collect();
    if !l7_keys.is_empty() {
        if let Some(l7) = l7_record(&l7_keys) {
            r.l7 = l7.l7;
        }
    }
    r
}

fn l7_record(keys: &[(&str, &ScalarValue)]) -> Option<FlowRecord> {
    use datafusion::arrow::array::RecordBatch;
    use datafusion::arrow::datatypes::{Field, Schema};
    use std::sync::Arc;
    let mut fields = Vec::new();
    let mut cols = Vec::new();
    for (name, v) in keys {
        let a = v.to_array().ok()?;
        fields.push(Field::new(*name, a.data_type().clone(), true));
        cols.push(a);
    }
    let b = RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).ok()?;
    schema::records(&b).ok()?.into_iter().next()
}

fn scalar_addr(v: &ScalarValue) -> Option<Ipv6Addr> {
    crate::engine::key_addr(v)
}

/// A `-s` key as nfdump prints it.
fn key_text(v: &ScalarValue, style: Style) -> String {
    match v {
        ScalarValue::FixedSizeBinary(16, Some(_)) | ScalarValue::Decimal128(Some(_), _, _) => {
            scalar_addr(v)
                .map(|a| output::addr(a, style.long_addrs))
                .unwrap_or_default()
        }
        ScalarValue::FixedSizeBinary(6, Some(b)) => b
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect::<Vec<_>>()
            .join(":"),
        ScalarValue::Utf8(Some(s))
        | ScalarValue::LargeUtf8(Some(s))
        | ScalarValue::Utf8View(Some(s)) => s.clone(),
        other => scalar_u64(other).map(|n| n.to_string()).unwrap_or_default(),
    }
}

/// [`Engine::groups`] of the request's files, from the window summaries
/// when [`rollup::plan`] says they answer it (the same groups), else from
/// the flows. A summary that cannot be read sends the query to the flows,
/// with a warning.
#[allow(clippy::too_many_arguments)]
fn groups(
    engine: &Engine,
    req: &Request,
    filter: &datafusion::logical_expr::Expr,
    alternatives: &[Vec<Key>],
    order: Order,
    limit: Option<usize>,
    flags: bool,
) -> Result<crate::engine::Groups> {
    if req.summaries {
        if let Some(plan) = rollup::plan(&req.files, &req.filter, alternatives) {
            match rollup::groups(
                &plan,
                &req.filter,
                alternatives,
                order,
                limit,
                flags,
                engine.threads(),
            ) {
                Ok(g) => return Ok(g),
                Err(e) => eprintln!("eddy query: {e}; reading the flows instead"),
            }
        }
    }
    engine.groups(&req.files, filter, alternatives, order, limit, flags)
}

/// Whether a grouping key may be null (L7 fields, countries).
fn nullable_key(k: &Key) -> bool {
    let c = k.column();
    l7::column_index(c).is_some() || c == "src_country" || c == "dst_country"
}

/// Sums over `n` alternatives of every flow, back to per-flow totals.
fn divided(t: Totals, n: u64) -> Totals {
    let n = n.max(1);
    Totals {
        flows: t.flows / n,
        packets: t.packets / n,
        bytes: t.bytes / n,
        ..t
    }
}

/// Totals of a request (for callers that want the numbers, not the text).
pub fn totals(engine: &Engine, req: &Request) -> Result<Totals> {
    engine.totals(&req.files, &crate::lower::lower(&req.filter))
}
