//! Outputs: the flow store, JSON lines, and IPFIX (files or forwarding).
//! Each may be limited to some sources; each counts what it wrote and what
//! it lost.

use ipfix::{Destination, IpfixSink};
use record::format::{Format, TextSink};
use record::{FlowRecord, FlowSink};
use store::{Retention, Store, StoreConfig, StoreFile};

use crate::config::{ForwardMode, OutputConfig};
use crate::log;

pub(crate) enum Kind {
    Store {
        store: Store,
        retention: Retention,
    },
    /// Record sinks: JSON, IPFIX files or collectors (all, or in turn).
    Sinks {
        sinks: Vec<Box<dyn FlowSink + Send>>,
        mode: ForwardMode,
        next: usize,
    },
}

pub(crate) struct Output {
    pub name: String,
    /// What it was opened from: a reload keeps an output whose
    /// configuration did not change.
    pub config: OutputConfig,
    pub kind: Kind,
    pub sources: Option<Vec<String>>,
    pub written: u64,
    /// Records lost to write errors.
    pub lost: u64,
    pub errors: u64,
    pub last_error: Option<String>,
    /// Records buffered for the sinks (written per message, not per record).
    pending: Vec<FlowRecord>,
    /// Lines a JSON target could not deliver (TCP peer down, UDP errors).
    delivery_drops: Option<crate::json_out::Dropped>,
    /// A stream output's counters (records a slow or absent client missed).
    stream_stats: Option<std::sync::Arc<stream::stats::IfcStats>>,
}

impl Output {
    /// Opens an output; a store keeps a spool when its `spool` says so,
    /// or by `spool_by_default` ([`crate::Config::spool_by_default`]).
    pub fn open(config: &OutputConfig, spool_by_default: bool) -> Result<Output, String> {
        let mut json_dropped = None;
        let mut stream_stats = None;
        let (name, kind) = match config {
            OutputConfig::Store {
                path,
                window,
                max_age,
                max_bytes,
                spool,
                spool_dir,
                ..
            } => {
                let mut c = StoreConfig::new(path);
                c.window_secs = *window;
                c.writer.spool = spool.unwrap_or(spool_by_default);
                if spool.is_none() && !spool_by_default {
                    log(&format!(
                        "store {}: no spool, every input is a file (after a crash, read the files again; `spool = true` keeps one)",
                        path.display()
                    ));
                }
                c.writer.spool_dir = spool_dir.clone();
                recover_store(path, &c)?;
                let store = Store::open(c).map_err(|e| e.to_string())?;
                let retention = Retention {
                    max_age_secs: *max_age,
                    max_bytes: *max_bytes,
                };
                (
                    format!("store {}", path.display()),
                    Kind::Store { store, retention },
                )
            }
            OutputConfig::Json { to, .. } => {
                let (out, dropped) = crate::json_out::open(to)?;
                json_dropped = Some(dropped);
                let sink = TextSink::new(out, Format::Json, false);
                (
                    format!("json {to}"),
                    Kind::Sinks {
                        sinks: vec![Box::new(sink)],
                        mode: ForwardMode::All,
                        next: 0,
                    },
                )
            }
            OutputConfig::Stream { to, .. } => {
                let writer = stream::FlowWriter::open_for_collector(to)
                    .map_err(|e| format!("stream output {to}: {e}"))?;
                stream_stats = writer.stats();
                (
                    format!("stream {to}"),
                    Kind::Sinks {
                        sinks: vec![Box::new(writer)],
                        mode: ForwardMode::All,
                        next: 0,
                    },
                )
            }
            OutputConfig::Ipfix { to, mode, odid, .. } => {
                let mut sinks: Vec<Box<dyn FlowSink + Send>> = Vec::new();
                for d in to {
                    let dest = Destination::parse(d)?;
                    let sink = IpfixSink::open(dest, *odid)
                        .map_err(|e| format!("ipfix output {d}: {e}"))?;
                    sinks.push(Box::new(sink));
                }
                (
                    format!("ipfix {}", to.join(",")),
                    Kind::Sinks {
                        sinks,
                        mode: *mode,
                        next: 0,
                    },
                )
            }
        };
        Ok(Output {
            name,
            config: config.clone(),
            kind,
            sources: config.sources().map(<[String]>::to_vec),
            written: 0,
            lost: 0,
            errors: 0,
            last_error: None,
            pending: Vec::new(),
            delivery_drops: json_dropped,
            stream_stats,
        })
    }

    pub fn wants(&self, source: &str) -> bool {
        self.sources
            .as_ref()
            .is_none_or(|s| s.iter().any(|x| x == source))
    }

    /// Takes one message's records.
    pub fn push(&mut self, source: &str, arrived_secs: u64, records: &[FlowRecord]) {
        if records.is_empty() || !self.wants(source) {
            return;
        }
        match &mut self.kind {
            Kind::Store { store, .. } => {
                let mut failures = Vec::new();
                for r in records {
                    match store.push(source, arrived_secs, r) {
                        Ok(pushed) => {
                            self.written += 1;
                            match pushed.finished {
                                Ok(Some(f)) => log_file(&f),
                                Ok(None) => {}
                                Err(e) => failures.push(kept_in_spool(store, e)),
                            }
                        }
                        Err(e) => {
                            self.lost += 1;
                            failures.push(e.to_string());
                        }
                    }
                }
                failures.into_iter().for_each(|e| self.fail(e));
            }
            Kind::Sinks { .. } => self.pending.extend_from_slice(records),
        }
        if self.pending.len() >= 4096 {
            self.flush_pending();
        }
    }

    fn fail(&mut self, e: String) {
        self.errors += 1;
        // The first error and then every thousandth, so a full disk does not
        // flood the log but stays visible.
        if self.errors == 1 || self.errors % 1000 == 0 {
            log(&format!(
                "{}: {e} ({} errors so far)",
                self.name, self.errors
            ));
        }
        self.last_error = Some(e);
    }

    fn flush_pending(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let records = std::mem::take(&mut self.pending);
        let mut failure = None;
        if let Kind::Sinks { sinks, mode, next } = &mut self.kind {
            let targets: Vec<usize> = match mode {
                ForwardMode::All => (0..sinks.len()).collect(),
                ForwardMode::RoundRobin => {
                    let i = *next % sinks.len().max(1);
                    *next = next.wrapping_add(1);
                    vec![i]
                }
            };
            for i in targets {
                if let Err(e) = sinks[i].write(&records) {
                    failure = Some(e.to_string());
                }
            }
        }
        match failure {
            None => self.written += records.len() as u64,
            Some(e) => {
                self.lost += records.len() as u64;
                self.fail(e);
            }
        }
        self.pending = records;
        self.pending.clear();
    }

    /// Periodic work: pending records out, sinks flushed, ended store
    /// windows finished, retention applied (every `retention_due`).
    pub fn tick(&mut self, now_secs: u64, retention_due: bool) {
        self.flush_pending();
        let mut failure = None;
        match &mut self.kind {
            Kind::Store { store, retention } => {
                // What arrived since the last tick becomes crash-safe.
                if let Err(e) = store.spool() {
                    failure = Some(e.to_string());
                }
                match store.roll(now_secs) {
                    Ok(files) => files.iter().for_each(log_file),
                    Err(e) => failure = Some(kept_in_spool(store, e)),
                }
                if retention_due
                    && (retention.max_age_secs.is_some() || retention.max_bytes.is_some())
                {
                    let c = store.config();
                    match store::expire(&c.root, c.window_secs, *retention, now_secs) {
                        Ok(r) if r.files_removed > 0 => log(&format!(
                            "{}: expired {} file(s), {} bytes; {} bytes left",
                            self.name, r.files_removed, r.bytes_removed, r.bytes_left
                        )),
                        Ok(_) => {}
                        Err(e) => failure = Some(e.to_string()),
                    }
                }
            }
            Kind::Sinks { sinks, .. } => {
                for s in sinks.iter_mut() {
                    if let Err(e) = s.flush() {
                        failure = Some(e.to_string());
                    }
                }
            }
        }
        if let Some(e) = failure {
            self.fail(e);
        }
    }

    /// Shutdown: everything written and closed.
    pub fn close(&mut self) -> Result<(), String> {
        self.flush_pending();
        match &mut self.kind {
            Kind::Store { store, .. } => {
                let files = store
                    .close_all()
                    .map_err(|e| format!("{}: {e}", self.name))?;
                files.iter().for_each(log_file);
            }
            Kind::Sinks { sinks, .. } => {
                for s in sinks.iter_mut() {
                    s.finish().map_err(|e| format!("{}: {e}", self.name))?;
                }
            }
        }
        Ok(())
    }

    /// Records lost: write errors, lines a JSON target could not deliver,
    /// records a stream client missed.
    pub fn lost(&self) -> u64 {
        let relaxed = std::sync::atomic::Ordering::Relaxed;
        self.lost
            + self.delivery_drops.as_ref().map_or(0, |d| d.load(relaxed))
            + self
                .stream_stats
                .as_ref()
                .map_or(0, |s| s.dropped.load(relaxed))
    }

    /// (source, window start, rows) of open store windows.
    pub fn open_windows(&self) -> Vec<(String, u64, u64)> {
        match &self.kind {
            Kind::Store { store, .. } => store.open_windows(),
            Kind::Sinks { .. } => Vec::new(),
        }
    }
}

/// A window's file could not be finished: say where its rows wait.
fn kept_in_spool(store: &Store, e: store::Error) -> String {
    let c = store.config();
    if c.writer.spool {
        format!(
            "{e}; the window's records stay in the spool {} and are stored at the next start",
            store::spool_root(&c.root, &c.writer).display()
        )
    } else {
        format!("{e}; the window's records are lost (the spool is off)")
    }
}

/// Turns what a crash left in the store (spools, temporary files) into
/// complete files before new ones are written.
fn recover_store(path: &std::path::Path, config: &StoreConfig) -> Result<(), String> {
    if !path.exists() {
        return Ok(());
    }
    let r = store::recover(path, &config.writer)
        .map_err(|e| format!("recovering the store {}: {e}", path.display()))?;
    if r.temp_files_removed > 0 || r.already_complete > 0 || !r.files.is_empty() {
        log(&format!(
            "store {}: recovered {} record(s) into {} file(s) from the spool of a previous run ({} spool(s) already stored, {} unfinished file(s) removed)",
            path.display(),
            r.rows,
            r.files.len(),
            r.already_complete,
            r.temp_files_removed
        ));
    }
    r.files.iter().for_each(log_file);
    Ok(())
}

fn log_file(f: &StoreFile) {
    log(&format!("stored {} ({} bytes)", f.path.display(), f.bytes));
}
