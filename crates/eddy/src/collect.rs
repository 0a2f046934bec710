//! `eddy collect`: receive IPFIX and NetFlow, run stages, write the store
//! and other outputs. A TOML file (`-c`) describes the whole pipeline;
//! flags build or extend one for ad-hoc use:
//! `eddy collect -l udp://0.0.0.0:4739 -l :2055 -w ./flows`.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::{anyhow, Context, Result};
use clap::Args;
use collector::config::{input_from_url, ForwardMode};
use collector::{Collector, Config, InputConfig, OutputConfig, StageConfig};

#[derive(Args, Clone)]
pub struct CollectArgs {
    /// The pipeline as a TOML file (see examples/collector*.toml); the flags
    /// below add inputs and outputs to it.
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Listen for exporters: udp://ADDR:PORT (IPFIX, NetFlow v5/v9),
    /// tcp://ADDR:PORT (IPFIX), or :PORT for UDP on every address.
    /// Repeatable.
    #[arg(short = 'l', long = "listen", value_name = "URL")]
    listen: Vec<String>,
    /// Read IPFIX files (or every file in folders); with no -l, exit when
    /// they are read. Repeatable.
    #[arg(short = 'r', long = "read", value_name = "PATH")]
    read: Vec<PathBuf>,
    /// Write the flow store under DIR.
    #[arg(short = 'w', long = "store", value_name = "DIR")]
    store: Option<PathBuf>,
    /// Store window length in seconds (with -w).
    #[arg(long, default_value_t = store::DEFAULT_WINDOW_SECS, value_name = "SECONDS")]
    window: u64,
    /// Write JSON lines (the store's column names) to FILE, or - for stdout.
    #[arg(long, value_name = "FILE")]
    json: Option<String>,
    /// Export or forward IPFIX: udp://H:P, tcp://H:P, file:PATH,
    /// dir:DIR[:SECONDS[:MB]]. Repeatable (each gets every record).
    #[arg(long = "ipfix", value_name = "DEST")]
    ipfix: Vec<String>,
    /// Keep only records matching this filter (nfdump's language, plus
    /// eddy's columns); the others are counted as rejected.
    #[arg(short = 'f', long = "filter", value_name = "EXPR")]
    filter: Option<String>,
    /// Print statistics every SECONDS (records, drops by reason, sequence
    /// gaps, open windows), as IPFIXcol's -S does.
    #[arg(short = 'S', long = "stats", value_name = "SECONDS")]
    stats: Option<u64>,
}

/// The configuration the file and flags describe.
fn build_config(args: &CollectArgs) -> Result<Config> {
    let mut config = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            toml_config(&text).with_context(|| format!("in {}", path.display()))?
        }
        None => Config::default(),
    };
    if let Some(expr) = &args.filter {
        config
            .stages
            .insert(0, StageConfig::Filter { expr: expr.clone() });
    }
    for url in &args.listen {
        config
            .inputs
            .push(input_from_url(url).map_err(|e| anyhow!(e))?);
    }
    if !args.read.is_empty() {
        config.inputs.push(InputConfig::File {
            name: None,
            paths: args.read.clone(),
        });
    }
    if let Some(path) = &args.store {
        config.outputs.push(OutputConfig::Store {
            path: path.clone(),
            window: args.window,
            max_age: None,
            max_bytes: None,
            spool: None,
            spool_dir: None,
            sources: None,
        });
    }
    if let Some(to) = &args.json {
        config.outputs.push(OutputConfig::Json {
            to: to.clone(),
            sources: None,
        });
    }
    if !args.ipfix.is_empty() {
        config.outputs.push(OutputConfig::Ipfix {
            to: args.ipfix.clone(),
            mode: ForwardMode::All,
            odid: 0,
            sources: None,
        });
    }
    if let Some(s) = args.stats {
        config.stats_interval = s;
    }
    config.check().map_err(|e| anyhow!(e))?;
    Ok(config)
}

/// Parses without the final check: flags may still add inputs and outputs.
fn toml_config(text: &str) -> Result<Config> {
    Config::parse_unchecked(text).map_err(|e| anyhow!(e))
}

pub fn run(args: CollectArgs) -> Result<()> {
    let config = build_config(&args)?;
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, stop.clone())
            .context("installing the SIGINT/SIGTERM handler")?;
    }
    let mut collector = Collector::start(config, Vec::new(), stop).map_err(|e| anyhow!(e))?;
    if args.config.is_some() {
        // SIGHUP re-reads the file (with the same flags on top).
        let hup = Arc::new(AtomicBool::new(false));
        signal_hook::flag::register(signal_hook::consts::SIGHUP, hup.clone())
            .context("installing the SIGHUP handler")?;
        let reload_args = args.clone();
        collector = collector.reload_on(
            hup,
            Box::new(move || build_config(&reload_args).map_err(|e| format!("{e:#}"))),
        );
    }
    let stats = collector.run().map_err(|e| anyhow!(e))?;
    let lost: u64 = stats.outputs.iter().map(|o| o.lost).sum();
    if lost > 0 {
        return Err(anyhow!(
            "{lost} records could not be written (see the output lines above)"
        ));
    }
    Ok(())
}
