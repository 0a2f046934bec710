//! `eddy detect -r CAPTURE | -R STORE_DIR [--detectors a,b] [--config F]`: for the
//! analyst with a capture or stored flows: meters the capture (or reads the
//! store in time order) and runs the chosen detectors in this one process,
//! printing the IDEA alerts as JSON lines.

use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use detect::{Alert, DetectorSet};
use record::{FlowRecord, FlowSink};
use schema::BatchBuilder;

use crate::module::replay::{BatchSource, StoreSource};

#[derive(Args)]
pub struct DetectArgs {
    /// A pcap or pcapng capture to meter (- for stdin).
    #[arg(
        short = 'r',
        long = "read",
        value_name = "FILE",
        conflicts_with = "store"
    )]
    read: Option<String>,
    /// Stored flows: the store folder or one source's folder in it.
    #[arg(short = 'R', long = "store", value_name = "DIR")]
    store: Option<PathBuf>,
    /// Detectors to run, comma separated [default: all that need no files,
    /// plus blacklist and l7filter when --config gives their files].
    #[arg(long, value_name = "LIST")]
    detectors: Option<String>,
    /// Detector settings (TOML, one table per detector; see examples/detect.toml).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

/// Batches of flows in, alerts out as IDEA lines.
struct Detecting<W: Write> {
    set: DetectorSet,
    /// Puts back the L7 columns the store reader left out (null in a whole
    /// window), so filter rules see what the meter made.
    filler: Option<(arrow_schema::SchemaRef, stream::sparse::Filler)>,
    builder: BatchBuilder,
    alerts: Vec<Alert>,
    out: W,
    printed: u64,
}

impl<W: Write> Detecting<W> {
    fn run_batch(&mut self, batch: &arrow_array::RecordBatch) -> io::Result<()> {
        let schema = batch.schema();
        if self.filler.as_ref().is_none_or(|(s, _)| *s != schema) {
            let f = stream::sparse::Filler::new(&schema, &[], &stream::Wanted::WholeFlows)
                .map_err(|missing| io::Error::other(missing.join(", ")))?;
            self.filler = Some((schema, f));
        }
        let Some((_, filler)) = &mut self.filler else {
            unreachable!()
        };
        let batch = filler.fill(batch.clone()).map_err(io::Error::other)?;
        self.set
            .observe(&batch, &mut self.alerts)
            .map_err(io::Error::other)?;
        self.print()
    }

    fn print(&mut self) -> io::Result<()> {
        let created = crate::module::detect::now_ns();
        for a in self.alerts.drain(..) {
            writeln!(self.out, "{}", a.to_idea(created))?;
            self.printed += 1;
        }
        Ok(())
    }

    fn built(&mut self) -> io::Result<()> {
        if !self.builder.is_empty() {
            let batch = self.builder.finish();
            self.run_batch(&batch)?;
        }
        Ok(())
    }
}

impl<W: Write> FlowSink for Detecting<W> {
    fn write(&mut self, records: &[FlowRecord]) -> io::Result<()> {
        for r in records {
            self.builder.push(r);
            if self.builder.len() >= 8192 {
                self.built()?;
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.built()?;
        self.out.flush()
    }

    fn finish(&mut self) -> io::Result<()> {
        self.built()?;
        self.set.finish(&mut self.alerts);
        self.print()?;
        self.out.flush()
    }
}

pub fn run(args: DetectArgs) -> Result<()> {
    let config = match &args.config {
        Some(path) => detect::DetectConfig::load(path).map_err(|e| anyhow!(e))?,
        None => detect::DetectConfig::default(),
    };
    let names: Vec<&str> = match &args.detectors {
        Some(list) => list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect(),
        None => {
            let mut names = detect::NAMES.to_vec();
            names.extend(
                ["blacklist", "l7filter"]
                    .into_iter()
                    .filter(|n| config.has_files(n)),
            );
            names
        }
    };
    if names.contains(&"blacklist") {
        crate::module::detect::start_downloads(&config)?;
    }
    let mut detectors = Vec::new();
    for n in &names {
        detectors.push(config.build(n).map_err(|e| anyhow!(e))?);
    }
    let mut d = Detecting {
        set: DetectorSet::new(detectors),
        filler: None,
        builder: BatchBuilder::new(),
        alerts: Vec::new(),
        out: io::BufWriter::new(io::stdout().lock()),
        printed: 0,
    };
    match (&args.read, &args.store) {
        (Some(pcap), None) => {
            let mut source = crate::meter::open_file(pcap, None)?;
            crate::meter::meter(source.as_mut(), crate::meter::default_config(), &mut d)?;
        }
        (None, Some(dir)) => {
            let mut source = StoreSource::open(dir, 8192)?;
            while let Some(batch) = source.next_batch() {
                let batch = batch.map_err(|e| anyhow!("{e}"))?;
                d.run_batch(&batch).context("running detectors")?;
            }
            d.finish()?;
        }
        _ => bail!("detect needs -r CAPTURE or -R STORE_DIR"),
    }
    eprintln!(
        "eddy detect: {} flows, {} alerts ({})",
        d.set.flows,
        d.printed,
        names.join(", ")
    );
    Ok(())
}
