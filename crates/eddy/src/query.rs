//! `eddy query`: nfdump's command line over the flow store.
//! `eddy query -R store/ -t 2026/01/01.00:00-2026/01/01.01:00 -s srcip/bytes 'proto tcp'`.
//! Parsing and wiring only; the work is in the `query` crate.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{anyhow, Result};
use clap::Args;
use query::{Engine, Order, OutputFormat, Relative, Request, Selection, Stat, TimeWindow};

#[derive(Args)]
pub struct QueryArgs {
    /// Read one store file, or every Parquet file under a folder.
    #[arg(short = 'r', value_name = "FILE|DIR")]
    read: Option<PathBuf>,
    /// Read a store (or one source's folder of it) recursively.
    #[arg(short = 'R', value_name = "DIR")]
    read_dir: Option<PathBuf>,
    /// Read several sources of a store: STORE/src1:src2:... (with -r/-R, a
    /// path inside each).
    #[arg(short = 'M', value_name = "STORE/SRC1:SRC2")]
    multi: Option<String>,
    /// Time window YYYY/MM/dd.hh:mm:ss[-YYYY/MM/dd.hh:mm:ss] (UTC): flows
    /// that start at or after the start and end at or before the end. +N
    /// is the first N seconds of all flows read, -N the last N.
    #[arg(short = 't', value_name = "WINDOW", allow_hyphen_values = true)]
    time: Option<String>,
    /// Statistics: srcip, dstip, ip, srcport, dstport, port, proto, srcas,
    /// dstas, as, srcgeo, dstgeo, inif, outif, if, tos, flags, vlan,
    /// exporter, or an L7 column, optionally /ORDER (flows, packets, bytes,
    /// pps, bps, bpp). Repeatable.
    #[arg(short = 's', value_name = "STAT[/ORDER]")]
    stat: Vec<String>,
    /// Aggregate on these fields: proto, srcip, dstip, srcport, dstport,
    /// srcas, dstas, inif, outif, srctos, srcvlan, exporter, srcip4/N,
    /// dstip4/N, srcip6/N, dstip6/N, L7 columns.
    #[arg(short = 'A', value_name = "FIELDS")]
    aggregate: Option<String>,
    /// Aggregate on the 5-tuple (proto, srcip, srcport, dstip, dstport).
    #[arg(short = 'a')]
    aggregate_5: bool,
    /// Conversations: flows of both directions of a connection (proto,
    /// address:port pair) joined into one line, as nfdump's -b.
    #[arg(short = 'b')]
    bidir: bool,
    /// Order listings and aggregates: tstart, tend, flows, packets, bytes, pps, bps, bpp.
    #[arg(short = 'O', value_name = "ORDER")]
    order: Option<String>,
    /// Top N of statistics (default 10) and aggregates.
    #[arg(short = 'n', value_name = "N")]
    top: Option<usize>,
    /// List at most N records.
    #[arg(short = 'c', value_name = "N")]
    limit: Option<usize>,
    /// Output: line, long, extended, csv (nfdump's 48 columns), json
    /// (nfdump's objects), eddy-csv, eddy-json, ndjson (the store's column
    /// names, as the meter and the logger write; `replay -f` reads them),
    /// http, dns, tls, smtp, sip, fmt:FORMAT (nfdump's % tags and %COLUMN
    /// for L7 columns), csv:FORMAT.
    #[arg(short = 'o', value_name = "FORMAT")]
    output: Option<String>,
    /// Quiet: no headers or summary lines.
    #[arg(short = 'q')]
    quiet: bool,
    /// Plain numbers (no M/G/T scaling).
    #[arg(short = 'N')]
    plain: bool,
    /// Long IPv6 addresses.
    #[arg(short = '6')]
    long_addrs: bool,
    /// Worker threads (default: every core).
    #[arg(long = "threads", value_name = "N", default_value_t = 0)]
    threads: usize,
    /// Read the flows even where the store's window summaries would answer
    /// a -s or -A query (the answers are the same; for comparisons).
    #[arg(long = "no-summaries")]
    no_summaries: bool,
    /// Memory for aggregation and sorting before spilling to disk, in MiB.
    #[arg(long = "memory", value_name = "MIB", default_value_t = 2048)]
    memory_mib: usize,
    /// The filter (nfdump 1.7's language plus eddy's columns); the words
    /// are joined, as nfdump does.
    #[arg(
        value_name = "FILTER",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    filter: Vec<String>,
}

pub fn run(args: QueryArgs) -> Result<()> {
    let text = args.filter.join(" ");
    let mut expr = query::filter::parse(&text)
        .map_err(|e| anyhow!("filter '{text}': {e}"))?
        .expr;
    let selection = Selection {
        read: args.read.clone(),
        read_dir: args.read_dir.clone(),
        multi: args.multi.clone(),
    };
    let engine = Engine::new(&query::Config {
        threads: args.threads,
        memory_limit: args.memory_mib.saturating_mul(1 << 20),
        spill_dir: None,
    })
    .map_err(|e| anyhow!(e))?;
    let window = match &args.time {
        Some(t) => Some(match Relative::parse(t) {
            Some(relative) => {
                let relative = relative.map_err(|e| anyhow!(e))?;
                relative_window(&engine, &selection, relative)?
            }
            None => TimeWindow::parse(t).map_err(|e| anyhow!(e))?,
        }),
        None => None,
    };
    if let Some(w) = window {
        expr = query::filter::Expr::and(vec![expr, w.to_filter()]);
    }
    let files = selection
        .files(window)
        .map_err(|e| anyhow!(e))?
        .into_iter()
        .map(|i| i.path)
        .collect();
    let stats = args
        .stat
        .iter()
        .map(|s| Stat::parse(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow!(e))?;
    let aggregate = match (&args.aggregate, args.aggregate_5) {
        (Some(a), _) => Some(query::report::parse_aggregation(a).map_err(|e| anyhow!(e))?),
        (None, true) => Some(
            query::report::parse_aggregation("proto,srcip,srcport,dstip,dstport")
                .map_err(|e| anyhow!(e))?,
        ),
        (None, false) => None,
    };
    let order = match &args.order {
        Some(o) => Some(Order::parse(o).ok_or_else(|| {
            anyhow!("-O {o}: expected tstart, tend, flows, packets, bytes, pps, bps or bpp")
        })?),
        None => None,
    };
    let format = match &args.output {
        Some(o) => Some(OutputFormat::parse(o).map_err(|e| anyhow!(e))?),
        None => None,
    };
    let req = Request {
        files,
        filter: expr,
        stats,
        aggregate,
        bidir: args.bidir,
        order,
        top: args.top,
        limit: args.limit,
        format,
        quiet: args.quiet,
        style: query::output::Style {
            plain: args.plain,
            long_addrs: args.long_addrs,
        },
        summaries: !args.no_summaries,
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    // parquet-rs panics on some damaged footers (arrow-ipc unwraps while
    // decoding the embedded Arrow schema, which DataFusion always reads):
    // the query ends with an error instead of a crash, and the panic's own
    // report (the error carries its message) is kept quiet meanwhile.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        query::report::run(&engine, &req, &mut out)
    }));
    std::panic::set_hook(hook);
    let result = result.unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("no message");
        Err(query::Error(format!(
            "an internal error or a damaged store file ({what})"
        )))
    });
    match result {
        Ok(()) => {
            out.flush()?;
            Ok(())
        }
        // `eddy query ... | head` is normal use.
        Err(e) if e.0.contains("Broken pipe") => {
            let _ = out.into_parts();
            Ok(())
        }
        // A report cut short is not printed.
        Err(e) => {
            let _ = out.into_parts();
            Err(anyhow!(e))
        }
    }
}

/// `-t +n` / `-t -n`: the window from the span of every flow the selection
/// holds (before the filter), as nfdump's manual describes it.
fn relative_window(
    engine: &Engine,
    selection: &Selection,
    relative: Relative,
) -> Result<TimeWindow> {
    let files: Vec<_> = selection
        .files(None)
        .map_err(|e| anyhow!(e))?
        .into_iter()
        .map(|i| i.path)
        .collect();
    let all = query::lower::lower(&query::filter::Expr::True);
    let span = engine.totals(&files, &all).map_err(|e| anyhow!(e))?;
    Ok(relative.window(span.first_ns, span.last_ns))
}
