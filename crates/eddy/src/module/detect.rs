//! `eddy module <detector> -i IN,OUT [--idea FILE]`: a detector as a stream
//! module. Flows come in; alerts go out as a stream of alert records (one
//! row per alert: times, detector, category, first source and target,
//! description, counts, and the whole IDEA message) and, with `--idea`,
//! as IDEA JSON lines to a file or stdout.

use std::fs::OpenOptions;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use arrow_array::builder::{StringBuilder, TimestampNanosecondBuilder, UInt64Builder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use clap::Args;
use detect::{Alert, DetectorSet};
use stream::{Module, ModuleError, Outputs};

use super::Common;

#[derive(Args)]
pub struct DetectArgs {
    #[command(flatten)]
    common: Common,
    /// Also write each alert as one line of IDEA JSON to FILE (- for stdout; appends).
    #[arg(long, value_name = "FILE")]
    idea: Option<PathBuf>,
    /// Detector settings (TOML; see examples/detect.toml): this detector's
    /// table, with its list, pool or rule files (--ip-list, --domain-list,
    /// --url-list, --pools and -f add to those files; the table's other
    /// keys override the defaults).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

impl DetectArgs {
    fn config(&self) -> Result<detect::DetectConfig> {
        match &self.config {
            Some(path) => detect::DetectConfig::load(path).map_err(|e| anyhow::anyhow!(e)),
            None => Ok(detect::DetectConfig::default()),
        }
    }
}

/// The alert stream's columns.
pub fn alert_schema() -> SchemaRef {
    let ts = DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()));
    Arc::new(Schema::new(vec![
        Field::new("detect_time", ts.clone(), false),
        Field::new("event_time", ts.clone(), false),
        Field::new("cease_time", ts, false),
        Field::new("detector", DataType::Utf8, false),
        Field::new("category", DataType::Utf8, false),
        Field::new("source", DataType::Utf8, true),
        Field::new("target", DataType::Utf8, true),
        Field::new("description", DataType::Utf8, false),
        Field::new("flows", DataType::UInt64, false),
        Field::new("idea", DataType::Utf8, false),
    ]))
}

pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// Alerts as one batch of [`alert_schema`], and their IDEA lines.
pub fn alert_batch(alerts: &[Alert], idea: &mut Vec<String>) -> Result<RecordBatch, ModuleError> {
    let created = now_ns();
    let mut detect = TimestampNanosecondBuilder::new().with_timezone("UTC");
    let mut event = TimestampNanosecondBuilder::new().with_timezone("UTC");
    let mut cease = TimestampNanosecondBuilder::new().with_timezone("UTC");
    let (mut detector, mut category, mut source, mut target, mut description, mut json) = (
        StringBuilder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
    );
    let mut flows = UInt64Builder::new();
    for a in alerts {
        let ts = |ns: u64| i64::try_from(ns).unwrap_or(i64::MAX);
        detect.append_value(ts(a.detect_time_ns));
        event.append_value(ts(a.event_time_ns));
        cease.append_value(ts(a.cease_time_ns));
        detector.append_value(a.detector);
        category.append_value(a.category.join(","));
        source.append_option(a.sources.first().map(|e| detect::flows::ip_text(e.ip)));
        target.append_option(a.targets.first().map(|e| detect::flows::ip_text(e.ip)));
        description.append_value(&a.description);
        flows.append_value(a.flows);
        let line = a.to_idea(created);
        json.append_value(&line);
        idea.push(line);
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(detect.finish()),
        Arc::new(event.finish()),
        Arc::new(cease.finish()),
        Arc::new(detector.finish()),
        Arc::new(category.finish()),
        Arc::new(source.finish()),
        Arc::new(target.finish()),
        Arc::new(description.finish()),
        Arc::new(flows.finish()),
        Arc::new(json.finish()),
    ];
    Ok(RecordBatch::try_new(alert_schema(), columns)?)
}

struct DetectModule {
    set: DetectorSet,
    idea_out: Option<Box<dyn Write>>,
    alerts: Vec<Alert>,
    lines: Vec<String>,
    raised: u64,
    /// The blacklist's list downloads, when it has some.
    downloads: Option<Arc<crate::download::DownloadStats>>,
}

impl DetectModule {
    fn emit(&mut self, out: &mut Outputs) -> Result<(), ModuleError> {
        if self.alerts.is_empty() {
            return Ok(());
        }
        self.lines.clear();
        let batch = alert_batch(&self.alerts, &mut self.lines)?;
        self.raised += self.alerts.len() as u64;
        self.alerts.clear();
        if let Some(w) = &mut self.idea_out {
            for line in &self.lines {
                writeln!(w, "{line}")?;
            }
            w.flush()?;
        }
        out.send(0, &batch)
    }
}

impl Module for DetectModule {
    fn outputs(&self) -> usize {
        1
    }

    fn required_fields(&self) -> Vec<String> {
        detect::flows::REQUIRED
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    fn wanted(&self) -> stream::Wanted {
        // L7 columns a sender left out come back as nulls, so rules and
        // lists see the stream as the meter made it.
        stream::Wanted::WholeFlows
    }

    fn process(
        &mut self,
        _input: usize,
        batch: &RecordBatch,
        out: &mut Outputs,
    ) -> Result<(), ModuleError> {
        self.set.observe(batch, &mut self.alerts)?;
        self.emit(out)
    }

    fn finish(&mut self, out: &mut Outputs) -> Result<(), ModuleError> {
        self.set.finish(&mut self.alerts);
        self.emit(out)
    }

    fn stats_json(&self) -> String {
        let mut json = format!("\"flows\":{},\"alerts\":{}", self.set.flows, self.raised);
        if let Some(d) = &self.downloads {
            json.push_str(&format!(
                ",\"list_downloads\":{},\"list_download_failures\":{}",
                d.ok.load(Ordering::Relaxed),
                d.failed.load(Ordering::Relaxed)
            ));
        }
        json
    }
}

/// `eddy module blacklist`: lists from files (reloaded when they change).
#[derive(Args)]
pub struct BlacklistArgs {
    #[command(flatten)]
    detect: DetectArgs,
    /// An IP/CIDR list (one per line, CSV first column, or Spamhaus DROP),
    /// with the IDEA category of its alerts. Repeatable; added to the
    /// `[[blacklist.lists]]` of --config.
    #[arg(long = "ip-list", value_name = "FILE[:CATEGORY]")]
    ip: Vec<String>,
    /// A domain list (matched with subdomains against DNS names, HTTP
    /// hosts, TLS SNI). Repeatable; added to the lists of --config.
    #[arg(long = "domain-list", value_name = "FILE[:CATEGORY]")]
    domain: Vec<String>,
    /// A URL list (`host/path` prefixes of HTTP requests). Repeatable;
    /// added to the lists of --config.
    #[arg(long = "url-list", value_name = "FILE[:CATEGORY]")]
    url: Vec<String>,
}

/// `eddy module l7filter`: alert rules in the filter language.
#[derive(Args)]
pub struct L7FilterArgs {
    #[command(flatten)]
    detect: DetectArgs,
    /// Rules, one per line: `CATEGORY | DESCRIPTION | FILTER` (added to
    /// the `rules` file of --config; one of the two is needed).
    #[arg(short = 'f', long = "rules", value_name = "FILE")]
    rules: Option<PathBuf>,
}

pub fn run_blacklist(args: BlacklistArgs) -> Result<()> {
    use detect::blacklist::{Kind, List};
    let config = args.detect.config()?;
    let mut lists = Vec::new();
    for (specs, kind) in [
        (&args.ip, Kind::Ip),
        (&args.domain, Kind::Domain),
        (&args.url, Kind::Url),
    ] {
        for spec in specs {
            let (path, category) = match spec.rsplit_once(':') {
                Some((p, c)) if c.contains('.') => (p, c),
                _ => (spec.as_str(), "Intrusion.Botnet"),
            };
            let name = std::path::Path::new(path)
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("list");
            lists.push(List::load(path, kind, name, category).map_err(|e| anyhow::anyhow!(e))?);
        }
    }
    let (downloads, stats) = start_downloads(&config)?;
    let blacklist = config.blacklist(lists).map_err(|e| anyhow::anyhow!(e))?;
    let stop = Arc::new(AtomicBool::new(false));
    let refresher = crate::download::spawn_refresher(downloads, stats.clone(), stop.clone());
    let result = run_detector_with("blacklist", Box::new(blacklist), args.detect, Some(stats));
    stop.store(true, Ordering::Relaxed);
    if let Some(h) = refresher {
        let _ = h.join();
    }
    result
}

/// Downloads the config's lists that have a `url` into their `path` (an
/// earlier copy serves when the download fails), before they are loaded.
pub(crate) fn start_downloads(
    config: &detect::DetectConfig,
) -> Result<(
    Vec<crate::download::Download>,
    Arc<crate::download::DownloadStats>,
)> {
    let stats = Arc::new(crate::download::DownloadStats::default());
    let mut downloads = Vec::new();
    for l in config.lists().map_err(|e| anyhow::anyhow!(e))? {
        if let Some(url) = l.url {
            let d = crate::download::Download {
                url,
                path: l.path,
                every: std::time::Duration::from_secs(l.refresh_secs),
            };
            crate::download::fetch_at_start(&d, &stats).map_err(|e| anyhow::anyhow!(e))?;
            downloads.push(d);
        }
    }
    Ok((downloads, stats))
}

/// `eddy module miner`: the flow-shape score, plus an optional pool list.
#[derive(Args)]
pub struct MinerArgs {
    #[command(flatten)]
    detect: DetectArgs,
    /// Mining pools, one `IP` or `IP:PORT` (`[IPv6]:PORT`) per line, `#`
    /// comments: a connection to one alerts at once (added to the `pools`
    /// file of --config).
    #[arg(long, value_name = "FILE")]
    pools: Option<PathBuf>,
}

pub fn run_miner(args: MinerArgs) -> Result<()> {
    let miner = args
        .detect
        .config()?
        .miner(args.pools.as_deref())
        .map_err(|e| anyhow::anyhow!(e))?;
    run_detector("miner", Box::new(miner), args.detect)
}

pub fn run_l7filter(args: L7FilterArgs) -> Result<()> {
    let rules = match &args.rules {
        Some(path) => detect::l7filter::load_rules(path).map_err(|e| anyhow::anyhow!(e))?,
        None => Vec::new(),
    };
    let detector = args
        .detect
        .config()?
        .l7filter(rules)
        .map_err(|e| anyhow::anyhow!(e))?;
    run_detector("l7filter", Box::new(detector), args.detect)
}

pub fn run(name: &'static str, args: DetectArgs) -> Result<()> {
    let detector = args.config()?.build(name).map_err(|e| anyhow::anyhow!(e))?;
    run_detector(name, detector, args)
}

fn run_detector(
    name: &'static str,
    detector: Box<dyn detect::Detector>,
    args: DetectArgs,
) -> Result<()> {
    run_detector_with(name, detector, args, None)
}

/// [`run_detector`], with the list downloads' counters in its stats.
fn run_detector_with(
    name: &'static str,
    detector: Box<dyn detect::Detector>,
    args: DetectArgs,
    downloads: Option<Arc<crate::download::DownloadStats>>,
) -> Result<()> {
    let idea_out: Option<Box<dyn Write>> = match &args.idea {
        None => None,
        Some(p) if p.as_os_str() == "-" => Some(Box::new(std::io::stdout())),
        Some(p) => Some(Box::new(BufWriter::new(
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .with_context(|| format!("opening {}", p.display()))?,
        ))),
    };
    let mut module = DetectModule {
        set: DetectorSet::new(vec![detector]),
        idea_out,
        alerts: Vec::new(),
        lines: Vec::new(),
        raised: 0,
        downloads,
    };
    super::run_module(name, &args.common, &mut module)
}
