//! `-s` and `-A` from the store's window summaries must print what the
//! same request prints from the flows: for statistics and aggregations
//! over addresses, protocols and ports, under filters the summaries can
//! answer (addresses of the statistic's side, protocols, TCP flags; or
//! protocols and ports) and filters they cannot (which read the flows
//! either way), in every order.

mod common;

use arrow_schema::{DataType, TimeUnit};
use common::*;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use query::report::{parse_aggregation, Request};
use query::rollup::Cut;
use query::{Order, OutputFormat, Stat};

/// `a and b`, `a or b` or `not a`.
fn combined(rng: &mut Rng, a: &str, b: &str) -> String {
    match rng.below(3) {
        0 => format!("({a}) and ({b})"),
        1 => format!("({a}) or ({b})"),
        _ => format!("not ({a})"),
    }
}

/// A filter over the columns a summary holds, from the grammar.
fn summary_filter(rng: &mut Rng, side: &str, depth: u32) -> String {
    if side == "ports" {
        return port_filter(rng, depth);
    }
    if depth > 0 && rng.below(3) == 0 {
        let a = summary_filter(rng, side, depth - 1);
        let b = summary_filter(rng, side, depth - 1);
        return combined(rng, &a, &b);
    }
    match rng.below(5) {
        0 => format!("{side} ip {}", rng.pick(ADDRS)),
        1 => format!(
            "{side} net {}",
            rng.pick(&["10.0.0.0/24", "10.0/16", "192.168.1.0/25", "2001:db8::/32"])
        ),
        2 => format!("proto {}", rng.pick(&["tcp", "udp", "icmp", "50"])),
        3 => format!(
            "flags {}",
            rng.pick(&["S", "SA", "F", "R", "AP", "S and not flags A"])
        ),
        _ => rng.pick(&["ipv4", "ipv6", "any"]).to_string(),
    }
}

/// A filter over the port cut's columns (protocol and ports).
fn port_filter(rng: &mut Rng, depth: u32) -> String {
    if depth > 0 && rng.below(3) == 0 {
        let a = port_filter(rng, depth - 1);
        let b = port_filter(rng, depth - 1);
        return combined(rng, &a, &b);
    }
    let dir = rng.pick(&["", "src ", "dst "]);
    match rng.below(4) {
        0 => format!("{dir}port {}", rng.pick(PORTS)),
        1 => format!(
            "{dir}port {} {}",
            rng.pick(&["<", ">", ">="]),
            rng.pick(PORTS)
        ),
        2 => format!("{dir}port in [53 80 443]"),
        _ => format!("proto {}", rng.pick(&["tcp", "udp", "icmp", "50", "132"])),
    }
}

fn two_threads() -> query::Engine {
    query::Engine::new(&query::Config {
        threads: 2,
        ..Default::default()
    })
    .unwrap()
}

fn run(engine: &query::Engine, req: &Request) -> String {
    let mut out = Vec::new();
    query::report::run(engine, req, &mut out).unwrap();
    String::from_utf8(out)
        .unwrap()
        .lines()
        // The query's own time differs.
        .filter(|l| !l.starts_with("Wall:") && !l.starts_with("Sys:"))
        // So does the count of files read, when summaries leave some out.
        .map(|l| match l.find(", files read:") {
            Some(at) if l.starts_with("Total flows passed:") => &l[..at],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn summaries_answer_as_the_flows_do() {
    summaries_answer_as_the_flows_do_for(&records(2000), TimeUnit::Nanosecond);
}

/// Flows whose times are whole milliseconds (as collected from IPFIX) get
/// summaries with times in milliseconds: they must answer the same.
#[test]
fn summaries_in_milliseconds_answer_as_the_flows_do() {
    let mut recs = records(2000);
    for r in &mut recs {
        r.first_ns -= r.first_ns % 1_000_000;
        r.last_ns -= r.last_ns % 1_000_000;
    }
    summaries_answer_as_the_flows_do_for(&recs, TimeUnit::Millisecond);
}

fn summaries_answer_as_the_flows_do_for(recs: &[record::FlowRecord], unit: TimeUnit) {
    let root = std::env::temp_dir().join(format!(
        "eddy-query-summaries-{unit:?}-{}",
        std::process::id()
    ));
    let files = write_store(&root, recs);
    for f in &files {
        let summary = store::summary::summary_path(f).unwrap();
        let schema =
            ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(summary).unwrap())
                .unwrap()
                .schema()
                .clone();
        let first = schema.field_with_name("first").unwrap().data_type();
        assert_eq!(first, &DataType::Timestamp(unit, Some("UTC".into())));
    }
    let engine = two_threads();
    let stats = [
        ("srcip", "src"),
        ("dstip", "dst"),
        ("ip", ""),
        ("proto", "src"),
        ("srcport", "ports"),
        ("dstport", "ports"),
        ("port", "ports"),
    ];
    let aggregations = [
        ("srcip", "src"),
        ("dstip", "dst"),
        ("srcip4/24", "src"),
        ("dstip6/64", "dst"),
        ("proto,srcip", "src"),
        ("dstip,proto", "dst"),
        ("srcip,srcip4/16", "src"),
        ("dstport", "ports"),
        ("proto,srcport", "ports"),
        ("srcport,dstport", "ports"),
        ("proto,srcport,dstport", "ports"),
    ];
    let orders = [
        "flows", "packets", "bytes", "pps", "bps", "bpp", "tstart", "tend",
    ];
    let mut rng = Rng(7);
    let (mut planned, mut ports_planned, mut compared) = (0, 0, 0);
    for i in 0..200 {
        let aggregation = *rng.pick(&aggregations);
        let stat = *rng.pick(&stats);
        let (_, side) = if i % 3 == 0 { aggregation } else { stat };
        // Mostly filters a summary answers, now and then one it does not.
        let text = match (i % 6, i % 2 == 0) {
            (5, _) => random_filter(&mut rng, 1),
            (_, true) => summary_filter(&mut rng, if side.is_empty() { "src" } else { side }, 2),
            _ => summary_filter(&mut rng, "src", 2),
        };
        let Ok(f) = filter::parse(&text) else {
            continue;
        };
        let order: &&str = rng.pick(&orders);
        let order = Order::parse(order).unwrap();
        let mut req = Request {
            top: Some(*rng.pick(&[1, 3, 10, 1000])),
            ..Request::listing(&files, f.expr)
        };
        let alternatives = if i % 3 == 0 {
            let (a, _) = aggregation;
            let fields = parse_aggregation(a).unwrap();
            req.order = Some(order);
            let keys = fields.iter().map(|f| f.key.clone()).collect::<Vec<_>>();
            req.aggregate = Some(fields);
            if rng.below(2) == 0 {
                req.format = Some(OutputFormat::parse("csv").unwrap());
            }
            vec![keys]
        } else {
            let (s, _) = stat;
            // `-s` orders by counters and rates only.
            let order = rng.pick(&orders[..6]);
            let stat = Stat::parse(&format!("{s}/{order}")).unwrap();
            let alts = stat.keys.iter().map(|k| vec![k.clone()]).collect();
            req.stats = vec![stat];
            alts
        };
        if let Some(plan) = query::rollup::plan(&req.files, &req.filter, &alternatives) {
            planned += 1;
            ports_planned += usize::from(plan.cuts.contains(&Cut::Ports));
        }
        let from_summaries = run(&engine, &req);
        req.summaries = false;
        let from_flows = run(&engine, &req);
        assert_eq!(
            from_summaries,
            from_flows,
            "`{text}` with {:?} {:?}",
            req.stats.first().map(|s| &s.title),
            req.aggregate
                .as_ref()
                .map(|a| a.iter().map(|f| &f.tag).collect::<Vec<_>>())
        );
        compared += 1;
    }
    let _ = std::fs::remove_dir_all(&root);
    assert!(compared >= 160, "only {compared} requests ran");
    assert!(planned >= 100, "only {planned} requests read the summaries");
    assert!(
        ports_planned >= 25,
        "only {ports_planned} requests read the port cut"
    );
}

#[test]
fn only_requests_a_summary_answers_read_it() {
    let root = std::env::temp_dir().join(format!("eddy-query-plan-{}", std::process::id()));
    let files = write_store(&root, &records(50));
    let keys = |s: &str| -> Vec<Vec<query::Key>> {
        Stat::parse(s)
            .unwrap()
            .keys
            .iter()
            .map(|k| vec![k.clone()])
            .collect()
    };
    let agg = |s: &str| {
        vec![parse_aggregation(s)
            .unwrap()
            .into_iter()
            .map(|f| f.key)
            .collect()]
    };
    let plans = |alts: &[Vec<query::Key>], f: &str| {
        let f = filter::parse(f).unwrap().expr;
        query::rollup::plan(&files, &f, alts).map(|p| p.cuts)
    };
    assert_eq!(plans(&keys("srcip"), "any"), Some(vec![Cut::Address(2)]));
    assert_eq!(
        plans(&keys("dstip/bytes"), "proto tcp and flags S"),
        Some(vec![Cut::Address(1)])
    );
    assert_eq!(
        plans(&keys("ip"), "proto udp"),
        Some(vec![Cut::Address(0), Cut::Address(1)])
    );
    assert_eq!(
        plans(&keys("ip/bytes"), "any"),
        Some(vec![Cut::Address(2), Cut::Address(3)])
    );
    assert_eq!(
        plans(&agg("dstip6/64"), "dst net 2001:db8::/32"),
        Some(vec![Cut::Address(3)])
    );
    assert_eq!(
        plans(&keys("proto"), "dst net 10.0.0.0/8"),
        Some(vec![Cut::Address(1)])
    );
    assert_eq!(
        plans(&agg("srcip4/24,proto"), "src ip 10.0.0.1"),
        Some(vec![Cut::Address(0)])
    );
    // Ports and protocols: the port cut.
    assert_eq!(
        plans(&keys("dstport/bytes"), "proto udp and not port 53"),
        Some(vec![Cut::Ports])
    );
    assert_eq!(
        plans(&keys("port"), "any"),
        Some(vec![Cut::Ports, Cut::Ports])
    );
    assert_eq!(plans(&keys("proto"), "port 53"), Some(vec![Cut::Ports]));
    assert_eq!(
        plans(&agg("srcport,dstport"), "proto tcp"),
        Some(vec![Cut::Ports])
    );
    // Both addresses, an address with a port, flags with a port, keys
    // past 32 bits, times, counters, the other side: the flows.
    assert_eq!(plans(&keys("srcip"), "host 10.0.0.1"), None);
    assert_eq!(plans(&keys("dstport"), "src ip 10.0.0.1"), None);
    assert_eq!(plans(&keys("dstport"), "flags S"), None);
    assert_eq!(plans(&agg("proto,srcport,dstport"), "any"), None);
    assert_eq!(plans(&keys("srcip"), "dst net 10.0.0.0/8"), None);
    assert_eq!(plans(&keys("ip"), "src net 10.0.0.0/8"), None);
    assert_eq!(plans(&keys("srcip"), "port 53"), None);
    assert_eq!(plans(&keys("srcip"), "bytes > 100"), None);
    assert_eq!(plans(&keys("srcip"), "duration > 100"), None);
    assert_eq!(plans(&agg("srcip,dstip"), "any"), None);
    assert_eq!(plans(&agg("srcip,srcip4/16"), "any"), None);
    // A `-t` range that holds every flow: the summaries, no time test.
    let timed = |f: &str, w: &str| {
        let window = query::TimeWindow::parse(w).unwrap().to_filter();
        let f = filter::Expr::and(vec![filter::parse(f).unwrap().expr, window]);
        query::rollup::plan(&files, &f, &keys("srcip"))
    };
    let plan = timed("proto tcp", "2026/01/01.00:00").unwrap();
    assert_eq!(plan.cuts, vec![Cut::Address(0)]);
    assert!(plan.sources.iter().all(|s| matches!(
        s,
        query::rollup::Source::Summary { filter, .. } if *filter == filter::parse("proto tcp").unwrap().expr
    )));
    // One that holds none: nothing to read.
    let plan = timed("proto tcp", "2026/01/02.00:00").unwrap();
    assert!(plan.sources.is_empty());
    // One that cuts through the only window: the flows.
    assert_eq!(timed("proto tcp", "2026/01/01.00:00:30"), None);
    // A window without its summary: the flows.
    std::fs::remove_file(store::summary::summary_path(&files[0]).unwrap()).unwrap();
    assert_eq!(plans(&keys("srcip"), "any"), None);
    let _ = std::fs::remove_dir_all(&root);
}

/// A store of one-minute windows: flows of a window start in the windows
/// before it, so `-t` ranges hold some windows wholly and cut through
/// others.
fn minute_store(root: &std::path::Path, recs: &[record::FlowRecord]) -> Vec<std::path::PathBuf> {
    let _ = std::fs::remove_dir_all(root);
    let mut config = store::StoreConfig {
        window_secs: 60,
        ..store::StoreConfig::new(root)
    };
    // Several row groups a window, so that a window's time span is the
    // union of theirs and a range can rule some of them out.
    config.writer.row_group_rows = 100;
    let mut s = store::Store::open(config).unwrap();
    // In arrival order, as a collector sees them: a window is closed once
    // time has passed it.
    let mut recs: Vec<&record::FlowRecord> = recs.iter().collect();
    recs.sort_by_key(|r| r.last_ns);
    for r in recs {
        s.push("test", r.last_ns / 1_000_000_000 + 5, r).unwrap();
    }
    s.close_all().unwrap();
    let files = store::list_files(root, None, None, 60).unwrap();
    files.into_iter().map(|f| f.path).collect()
}

/// (aggregation or statistic, the side its filters name).
const TIMED_AGGREGATIONS: [(&str, &str); 3] = [
    ("srcip", "src"),
    ("srcip4/24,proto", "src"),
    ("dstip", "dst"),
];
const TIMED_ORDERS: [&str; 6] = ["flows", "packets", "bytes", "bps", "tstart", "tend"];
const TIMED_STATS: [(&str, &str); 4] = [
    ("srcip/bytes", "src"),
    ("dstip/pps", "dst"),
    ("ip/flows", "src"),
    ("proto/packets", "dst"),
];

#[test]
fn time_ranges_read_summaries_of_the_windows_they_hold() {
    let root = std::env::temp_dir().join(format!("eddy-query-timed-{}", std::process::id()));
    let mut recs = records(3000);
    for (i, r) in recs.iter_mut().enumerate() {
        // Spread over about twelve minutes.
        let shift = (i as u64 % 10) * 60_000_000_000;
        r.first_ns += shift;
        r.last_ns += shift;
        // Every third flow on whole seconds, so that windows' first and
        // last times meet `-t`'s bounds (whole seconds) exactly.
        if i % 3 == 0 {
            r.first_ns -= r.first_ns % 1_000_000_000;
            r.last_ns -= r.last_ns % 1_000_000_000;
            r.last_ns = r.last_ns.max(r.first_ns);
        }
    }
    let files = minute_store(&root, &recs);
    assert!(files.len() >= 10, "{} windows", files.len());
    let engine = two_threads();
    let base = BASE_MS / 1000;
    let mut rng = Rng(11);
    let mut mixed = 0;
    for i in 0..120 {
        let start = base - 5 + rng.below(720);
        let end = match rng.below(4) {
            0 => u64::MAX,
            _ => start + rng.below(600),
        };
        let window = query::TimeWindow { start, end };
        let (key, side) = match i % 2 {
            0 => *rng.pick(&TIMED_AGGREGATIONS),
            _ => *rng.pick(&TIMED_STATS),
        };
        let text = summary_filter(&mut rng, side, 2);
        let Ok(f) = filter::parse(&text) else {
            continue;
        };
        let f = f.expr;
        let mut req = Request {
            top: Some(*rng.pick(&[3, 1000])),
            ..Request::listing(&files, filter::Expr::and(vec![f, window.to_filter()]))
        };
        let alternatives: Vec<Vec<query::Key>> = if i % 2 == 0 {
            let fields = parse_aggregation(key).unwrap();
            let order = *rng.pick(&TIMED_ORDERS);
            req.order = Some(Order::parse(order).unwrap());
            let keys = vec![fields.iter().map(|f| f.key.clone()).collect()];
            req.aggregate = Some(fields);
            keys
        } else {
            let stat = Stat::parse(key).unwrap();
            let alts = stat.keys.iter().map(|k| vec![k.clone()]).collect();
            req.stats = vec![stat];
            alts
        };
        if let Some(plan) = query::rollup::plan(&req.files, &req.filter, &alternatives) {
            let flows = plan
                .sources
                .iter()
                .filter(|s| matches!(s, query::rollup::Source::Flows { .. }))
                .count();
            if flows > 0 && flows < plan.sources.len() {
                mixed += 1;
            }
        }
        let from_summaries = run(&engine, &req);
        req.summaries = false;
        let from_flows = run(&engine, &req);
        assert_eq!(from_summaries, from_flows, "`{text}` -t {start}-{end}");
    }
    let _ = std::fs::remove_dir_all(&root);
    assert!(
        mixed >= 30,
        "only {mixed} requests read both summaries and flows"
    );
}

const ADDRESS_STATS: [&str; 3] = ["dstport/bytes", "srcip", "proto/flows"];
const ADDRESS_AGGREGATIONS: [&str; 2] = ["srcip,dstport", "proto"];

/// A filter that tests addresses, ports or protocols (each window holds
/// only some of them), now and then combined with one from the whole
/// grammar.
fn indexed_filter(rng: &mut Rng, depth: u32) -> String {
    if depth > 0 && rng.below(3) == 0 {
        let a = indexed_filter(rng, depth - 1);
        let b = match rng.below(3) {
            0 => random_filter(rng, 0),
            _ => indexed_filter(rng, depth - 1),
        };
        return combined(rng, &a, &b);
    }
    match rng.below(12) {
        10 => format!("proto {}", rng.pick(PROTOS)),
        11 => format!(
            "proto {} and not port {}",
            rng.pick(PROTOS),
            rng.pick(PORTS)
        ),
        6 => format!("port {}", rng.pick(PORTS)),
        7 => format!(
            "{} port {} {}",
            rng.pick(&["src", "dst"]),
            rng.pick(&["<", ">", "=", "<=", ">="]),
            rng.pick(PORTS)
        ),
        8 => format!("port in [ {} {} ]", rng.pick(PORTS), rng.pick(PORTS)),
        9 => format!("dst port {} and host {}", rng.pick(PORTS), rng.pick(ADDRS)),
        0 => format!("host {}", rng.pick(ADDRS)),
        1 => format!("src ip {}", rng.pick(ADDRS)),
        2 => format!("dst ip {}", rng.pick(ADDRS)),
        3 => format!("ip in [ {} {} ]", rng.pick(ADDRS), rng.pick(ADDRS)),
        4 => format!(
            "{} net {}",
            rng.pick(&["src", "dst"]),
            rng.pick(&[
                "10.0.0.0/24",
                "192.168.1.0/25",
                "2001:db8::/32",
                "8.0.0.0/8"
            ])
        ),
        _ => format!(
            "host {} and proto {}",
            rng.pick(ADDRS),
            rng.pick(&["tcp", "udp"])
        ),
    }
}

/// Windows whose summaries rule out a filter's addresses, ports or
/// protocols are not read, and the answers stay those of every window's
/// flows: listings, `-s` and `-A`, under filters on addresses, ports and
/// protocols some windows never saw.
#[test]
fn summaries_leave_out_windows_without_the_addresses_ports_or_protocols() {
    let root = std::env::temp_dir().join(format!("eddy-query-hosts-{}", std::process::id()));
    let mut recs = records(2400);
    for (i, r) in recs.iter_mut().enumerate() {
        let minute = i as u64 % 8;
        let shift = minute * 60_000_000_000;
        r.first_ns += shift;
        r.last_ns += shift;
        // Each minute's flows use a few of the addresses only.
        let pick = |k: u64| common::addr(ADDRS[((minute * 3 + k) % ADDRS.len() as u64) as usize]);
        r.src_ip = pick(i as u64 % 3);
        r.dst_ip = pick(5 + i as u64 % 4);
        // And a few of the ports.
        let port = |k: u64| PORTS[((minute * 2 + k) % PORTS.len() as u64) as usize];
        r.src_port = port(i as u64 % 2);
        r.dst_port = port(4 + i as u64 % 3);
        // And of the protocols.
        r.proto = PROTOS[((minute + i as u64 % 3) % PROTOS.len() as u64) as usize];
    }
    let files = minute_store(&root, &recs);
    assert!(files.len() >= 8, "{} windows", files.len());
    let engine = two_threads();
    let mut rng = Rng(23);
    let (mut pruned, mut emptied, mut by_port, mut by_proto) = (0, 0, 0, 0);
    for i in 0..150 {
        let text = indexed_filter(&mut rng, 2);
        let Ok(f) = filter::parse(&text) else {
            continue;
        };
        let (kept, skipped) = query::prune::by_summaries(&files, &f.expr, 1 + i % 3);
        assert_eq!(kept.len() + skipped, files.len());
        pruned += usize::from(skipped > 0);
        let mut columns = Vec::new();
        f.expr.columns(&mut columns);
        let named = |suffix: &str| columns.iter().any(|c| c.name().ends_with(suffix));
        by_port += usize::from(skipped > 0 && !named("_ip") && !named("proto"));
        by_proto += usize::from(skipped > 0 && !named("_ip") && !named("_port"));
        emptied += usize::from(kept.is_empty());
        let mut req = Request::listing(&files, f.expr);
        match i % 3 {
            0 => req.format = Some(OutputFormat::parse("csv").unwrap()),
            1 => req.stats = vec![Stat::parse(rng.pick::<&str>(&ADDRESS_STATS)).unwrap()],
            _ => {
                req.aggregate =
                    Some(parse_aggregation(rng.pick::<&str>(&ADDRESS_AGGREGATIONS)).unwrap());
                req.order = Some(Order::parse("bytes").unwrap());
            }
        }
        let with = run(&engine, &req);
        req.summaries = false;
        let without = run(&engine, &req);
        assert_eq!(with, without, "{:?}", req.filter);
    }
    assert!(pruned >= 50, "{pruned} requests left windows out");
    assert!(emptied >= 5, "{emptied} requests left every window out");
    assert!(
        by_port >= 10,
        "{by_port} requests left windows out by port alone"
    );
    assert!(
        by_proto >= 5,
        "{by_proto} requests left windows out by protocol alone"
    );
    let _ = std::fs::remove_dir_all(&root);
}
