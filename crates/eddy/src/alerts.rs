//! `eddy alerts [--db FILE] [--since T] [--until T] [-c PREFIX] [--detector D]
//! [--address IP] [-n N] [-o line|json]`: lists the alert store's alerts
//! (written by `eddy module report`), newest first.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use anyhow::{anyhow, Result};
use clap::Args;

#[derive(Args)]
pub struct AlertsArgs {
    /// The alert store.
    #[arg(long, value_name = "FILE", default_value = "alerts.db")]
    db: PathBuf,
    /// Alerts detected at or after T (RFC 3339 or YYYY/MM/DD.hh:mm:ss UTC).
    #[arg(long, value_name = "T")]
    since: Option<String>,
    /// Alerts detected before T.
    #[arg(long, value_name = "T")]
    until: Option<String>,
    /// Categories starting with PREFIX (`Recon` lists `Recon.Scanning`).
    #[arg(short = 'c', long, value_name = "PREFIX")]
    category: Option<String>,
    /// Alerts of this detector.
    #[arg(long, value_name = "NAME")]
    detector: Option<String>,
    /// Alerts whose source or target is IP.
    #[arg(long, value_name = "IP")]
    address: Option<String>,
    /// At most N alerts (0: all).
    #[arg(short = 'n', long, value_name = "N", default_value_t = 100)]
    limit: usize,
    /// line (time, detector, category, source -> target, description) or
    /// json (the IDEA messages, one per line).
    #[arg(short = 'o', long = "format", default_value = "line", value_parser = ["line", "json"])]
    format: String,
}

pub fn run(args: AlertsArgs) -> Result<()> {
    let time = |t: &Option<String>| -> Result<Option<i64>> {
        t.as_deref()
            .map(::alerts::time::parse_time)
            .transpose()
            .map_err(|e| anyhow!(e))
    };
    let address = match &args.address {
        Some(a) => Some(
            a.parse::<std::net::IpAddr>()
                .map_err(|_| anyhow!("--address {a}: not an IP address"))?
                .to_string(),
        ),
        None => None,
    };
    let query = ::alerts::AlertQuery {
        since: time(&args.since)?,
        until: time(&args.until)?,
        category: args.category.clone(),
        detector: args.detector.clone(),
        address,
        limit: (args.limit > 0).then_some(args.limit),
    };
    let store = ::alerts::AlertStore::open_read(&args.db).map_err(|e| anyhow!(e))?;
    let rows = store.query(&query).map_err(|e| anyhow!(e))?;
    let mut out = BufWriter::new(io::stdout().lock());
    for r in &rows {
        let line = if args.format == "json" {
            r.idea.trim_end().to_string()
        } else {
            let merged = if r.merged > 1 {
                format!(" [{} alerts, {} flows]", r.merged, r.flows)
            } else {
                String::new()
            };
            format!(
                "{} {} {} {} -> {} {}{merged}",
                ::alerts::time::format_time(r.detect_time),
                r.detector,
                r.category,
                r.source.as_deref().unwrap_or("-"),
                r.target.as_deref().unwrap_or("-"),
                r.description
            )
        };
        if writeln!(out, "{line}").is_err() {
            // A closed pipe (`| head`) ends the listing.
            return Ok(());
        }
    }
    let _ = out.flush();
    Ok(())
}
