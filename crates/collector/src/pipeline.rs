//! The pipeline thread's work: decode a message with its session's template
//! state, run the stages, hand the records to the outputs, and count
//! everything on the way.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};

use ipfix::encode::PEN_REVERSE;
use ipfix::session::{DomainStats, SessionConfig, Sessions, Transport};
use ipfix::{to_flow, Decoder, ErrorKind};
use record::{to_mapped, FlowRecord};

use crate::config::{Config, InputConfig};
use crate::input::{RunningInput, SessionKey};
use crate::log;
use crate::output::Output;
use crate::stage::{self, Stage};

/// Counters of one source (an exporter address, or a file input's name).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExporterStats {
    pub messages: u64,
    /// Flow records decoded (options records not included).
    pub records: u64,
    /// Records that reached the outputs.
    pub accepted: u64,
    /// Records dropped, by stage name.
    pub rejected: BTreeMap<String, u64>,
    /// Decode errors by kind (each costs a set or, on TCP, the session).
    pub decode_errors: BTreeMap<String, u64>,
    /// Data sets that arrived for a template we did not have, by template id.
    pub unknown_template_sets: BTreeMap<u16, u64>,
    /// What sequence numbers say never arrived (records; packets for v9),
    /// over sessions that ended and those still open.
    pub missing: u64,
    /// Sessions (TCP connections, files) that ended with an error.
    pub broken_sessions: u64,
}

/// Counters of one output.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OutputStats {
    pub name: String,
    pub written: u64,
    pub lost: u64,
    pub errors: u64,
}

/// Everything the collector counted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub sources: BTreeMap<String, ExporterStats>,
    pub outputs: Vec<OutputStats>,
    /// Per input: (name, messages received, dropped for a full queue, kernel drops).
    pub inputs: Vec<(String, u64, u64, Option<u64>)>,
    /// Messages whose header could not be read.
    pub malformed_messages: u64,
}

impl Stats {
    /// Records decoded over all sources.
    pub fn records(&self) -> u64 {
        self.sources.values().map(|s| s.records).sum()
    }
}

struct SessionInfo {
    id: u64,
    source: String,
    exporter: Option<IpAddr>,
}

/// Decoding, stages and outputs; owned by the pipeline thread.
pub struct Pipeline {
    decoder: Decoder,
    sessions: Sessions,
    session_ids: HashMap<SessionKey, SessionInfo>,
    next_session: u64,
    stages: Vec<Box<dyn Stage>>,
    outputs: Vec<Output>,
    stats: Stats,
    batch: Vec<FlowRecord>,
    /// Missing-record counts of domains whose session ended.
    ended_missing: HashMap<String, u64>,
    last_retention_secs: u64,
    /// When the last statistics lines were made, and the records then.
    last_stats: Option<(std::time::Instant, u64)>,
}

/// A pipeline's stages and outputs (rebuilt on reload).
type Parts = (Vec<Box<dyn Stage>>, Vec<Output>);

/// How often store retention runs.
const RETENTION_EVERY_SECS: u64 = 60;

impl Pipeline {
    /// Builds the configured stages (the built-in ones; `extra` are the
    /// caller's, in the order the configuration lists `filter` stages) and
    /// opens the outputs.
    pub fn new(config: &Config, extra: Vec<Box<dyn Stage>>) -> Result<Pipeline, String> {
        let (stages, outputs) = Pipeline::new_parts(config, extra)?;
        let sessions = Sessions::new(SessionConfig {
            template_lifetime_ms: config.template_lifetime.saturating_mul(1000),
            ..SessionConfig::default()
        });
        Ok(Pipeline {
            decoder: Decoder::new(),
            sessions,
            session_ids: HashMap::new(),
            next_session: 1,
            stages,
            outputs,
            stats: Stats::default(),
            batch: Vec::new(),
            ended_missing: HashMap::new(),
            last_retention_secs: 0,
            last_stats: Some((std::time::Instant::now(), 0)),
        })
    }

    /// The configured stages and opened outputs.
    fn new_parts(config: &Config, extra: Vec<Box<dyn Stage>>) -> Result<Parts, String> {
        let stages = Pipeline::new_stages(config, extra)?;
        let outputs = config
            .outputs
            .iter()
            .map(|o| Output::open(o, config.spool_by_default()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((stages, outputs))
    }

    /// The configured stages.
    fn new_stages(
        config: &Config,
        extra: Vec<Box<dyn Stage>>,
    ) -> Result<Vec<Box<dyn Stage>>, String> {
        let mut extra = extra.into_iter();
        let mut stages = Vec::new();
        for s in &config.stages {
            match stage::builtin(s) {
                Some(built) => stages.push(built?),
                None => stages.push(extra.next().ok_or_else(|| {
                    format!("stage {s:?}: not available in this build of the collector")
                })?),
            }
        }
        stages.extend(extra);
        Ok(stages)
    }

    fn session(
        &mut self,
        input: &InputConfig,
        key: SessionKey,
        exporter: Option<SocketAddr>,
    ) -> (u64, String) {
        if let Some(s) = self.session_ids.get(&key) {
            return (s.id, s.source.clone());
        }
        let id = self.next_session;
        self.next_session += 1;
        let source = match (input, exporter) {
            (InputConfig::File { .. }, _) | (_, None) => input.name(),
            (_, Some(addr)) => record::unmap(to_mapped(addr.ip())).to_string(),
        };
        let what = match key {
            SessionKey::Udp(..) => "UDP exporter",
            SessionKey::Stream(_) if exporter.is_some() => "TCP exporter",
            SessionKey::Stream(_) => "file",
        };
        if !self.stats.sources.contains_key(&source) {
            log(&format!(
                "new {what} {}{} on {} (source '{source}')",
                exporter.map(|a| a.to_string()).unwrap_or_default(),
                if exporter.is_some() { "" } else { "(file)" },
                input.name(),
            ));
        }
        self.stats.sources.entry(source.clone()).or_default();
        self.session_ids.insert(
            key,
            SessionInfo {
                id,
                source: source.clone(),
                exporter: exporter.map(|a| a.ip()),
            },
        );
        (id, source)
    }

    /// One received message.
    pub fn message(
        &mut self,
        input: &InputConfig,
        _input_index: usize,
        key: SessionKey,
        exporter: Option<SocketAddr>,
        arrived_ms: u64,
        bytes: &[u8],
    ) -> Result<(), String> {
        let (id, source) = self.session(input, key, exporter);
        let transport = match key {
            SessionKey::Udp(..) => Transport::Udp,
            SessionKey::Stream(_) => Transport::Stream,
        };
        let exporter_ip = exporter
            .map(|a| to_mapped(a.ip()))
            .unwrap_or(std::net::Ipv6Addr::UNSPECIFIED);
        let mut batch = std::mem::take(&mut self.batch);
        batch.clear();
        let malformed_before = self.sessions.malformed;
        let (decoded, errors) = self.sessions.decode(
            &mut self.decoder,
            id,
            transport,
            bytes,
            Some(arrived_ms),
            &mut |ctx, rec| {
                if rec.template.options {
                    return;
                }
                let mut f = to_flow(ctx, rec);
                if rec.template.fields.iter().any(|s| s.pen == PEN_REVERSE) {
                    f.reverse = ipfix::encode::reverse_of(rec);
                }
                f.exporter = exporter_ip;
                batch.push(f);
            },
        );
        self.stats.malformed_messages += self.sessions.malformed - malformed_before;
        let templates = decoded.templates;
        let stats = self.stats.sources.entry(source.clone()).or_default();
        stats.messages += 1;
        stats.records += batch.len() as u64;
        if templates > 0 && stats.messages <= 1 {
            log(&format!(
                "source '{source}': {templates} template record(s) in its first message"
            ));
        }
        let mut ends_session = None;
        for e in &errors {
            let kind = kind_name(&e.kind);
            let n = stats.decode_errors.entry(kind).or_default();
            *n += 1;
            if let (ErrorKind::UnknownTemplate, Some(t)) = (&e.kind, e.template_id) {
                let held = stats.unknown_template_sets.entry(t).or_default();
                *held += 1;
                if *held == 1 || held.is_power_of_two() {
                    let fate = match transport {
                        Transport::Udp => {
                            "held until its template arrives (bounded in bytes and time)"
                        }
                        Transport::Stream => "dropped",
                    };
                    log(&format!(
                        "source '{source}' odid {}: data set for unknown template {t}: {fate} ({held} so far)",
                        decoded.context.odid
                    ));
                }
            } else if *n == 1 || n.is_power_of_two() {
                log(&format!("source '{source}': {e} ({n} so far)"));
            }
            if e.kind.ends_session() {
                ends_session = Some(e.to_string());
            }
        }
        // Stages, in order; each drop counted under the stage's name.
        let stages = &mut self.stages;
        let rejected = &mut stats.rejected;
        batch.retain_mut(|r| {
            for s in stages.iter_mut() {
                if !s.apply(r) {
                    *rejected.entry(s.name().to_string()).or_default() += 1;
                    return false;
                }
            }
            true
        });
        stats.accepted += batch.len() as u64;
        let arrived_secs = arrived_ms / 1000;
        for o in &mut self.outputs {
            o.push(&source, arrived_secs, &batch);
        }
        self.batch = batch;
        if let Some(reason) = ends_session {
            // RFC 7011 section 8: a template error on a stream ends it; the
            // input cannot be told from here, so the session's state goes and
            // the next message starts over.
            log(&format!("source '{source}': session reset: {reason}"));
            self.forget(key);
        }
        Ok(())
    }

    /// A TCP connection or file ended.
    pub fn session_ended(&mut self, input: &str, key: SessionKey, reason: Option<String>) {
        if let Some(r) = &reason {
            match self.session_ids.get(&key) {
                Some(info) => {
                    let source = info.source.clone();
                    let stats = self.stats.sources.entry(source.clone()).or_default();
                    stats.broken_sessions += 1;
                    log(&format!("{input}: session of '{source}' ended: {r}"));
                }
                // Nothing decoded from it: no source to count it under.
                None => log(&format!(
                    "{input}: a session ended before its first message: {r}"
                )),
            }
        }
        self.forget(key);
    }

    fn forget(&mut self, key: SessionKey) {
        if let Some(info) = self.session_ids.remove(&key) {
            let missing: u64 = self
                .sessions
                .stats()
                .iter()
                .filter(|d| d.key.session == info.id)
                .map(|d| d.missing)
                .sum();
            *self.ended_missing.entry(info.source).or_default() += missing;
            self.sessions.remove_session(info.id);
            self.decoder.remove_session(info.id);
            let _ = info.exporter;
        }
    }

    /// Replaces the stages and outputs with `config`'s (SIGHUP). An
    /// output whose configuration did not change is kept as it is (a store
    /// keeps writing its open windows: no second part of the current
    /// window). Outputs that changed or went are closed, so what they
    /// buffered is written; decoder state (templates, sessions) and
    /// counters are kept. On an error the old stages and outputs stay.
    pub fn reload(&mut self, config: &Config, extra: Vec<Box<dyn Stage>>) -> Result<(), String> {
        let stages = Pipeline::new_stages(config, extra)?;
        let mut old: Vec<Option<Output>> = std::mem::take(&mut self.outputs)
            .into_iter()
            .map(Some)
            .collect();
        // Which old output each configured one reuses, if any.
        let mut reuse: Vec<Option<usize>> = Vec::with_capacity(config.outputs.len());
        let mut taken = vec![false; old.len()];
        for c in &config.outputs {
            let i = (0..old.len())
                .find(|&i| !taken[i] && old[i].as_ref().is_some_and(|o| o.config == *c));
            if let Some(i) = i {
                taken[i] = true;
            }
            reuse.push(i);
        }
        // Open the new ones first: on an error nothing has changed yet.
        let mut opened = Vec::new();
        for (c, r) in config.outputs.iter().zip(&reuse) {
            if r.is_some() {
                continue;
            }
            match Output::open(c, config.spool_by_default()) {
                Ok(o) => opened.push(o),
                Err(e) => {
                    for mut o in opened {
                        let _ = o.close();
                    }
                    self.outputs = old.into_iter().flatten().collect();
                    return Err(e);
                }
            }
        }
        let mut opened = opened.into_iter();
        let mut outputs = Vec::with_capacity(config.outputs.len());
        for r in reuse {
            match r.and_then(|i| old[i].take()) {
                Some(o) => outputs.push(o),
                None => outputs.extend(opened.next()),
            }
        }
        for mut o in old.into_iter().flatten() {
            if let Err(e) = o.close() {
                log(&format!("reload: closing {}: {e}", o.name));
            }
        }
        self.stages = stages;
        self.outputs = outputs;
        Ok(())
    }

    /// Periodic work: outputs flushed and store windows rolled, templates
    /// of silent UDP exporters expired, retention.
    pub fn tick(&mut self, _inputs: &[RunningInput]) -> Result<(), String> {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let now_secs = now_ms / 1000;
        let retention_due = now_secs >= self.last_retention_secs + RETENTION_EVERY_SECS;
        if retention_due {
            self.last_retention_secs = now_secs;
        }
        for o in &mut self.outputs {
            o.tick(now_secs, retention_due);
        }
        self.sessions.expire(&mut self.decoder.templates, now_ms);
        Ok(())
    }

    fn snapshot(&mut self, inputs: &[RunningInput]) -> Stats {
        use std::sync::atomic::Ordering::Relaxed;
        let mut stats = self.stats.clone();
        // Sequence gaps: ended sessions plus the open ones.
        for (source, m) in &self.ended_missing {
            stats.sources.entry(source.clone()).or_default().missing += m;
        }
        let open: Vec<&DomainStats> = self.sessions.stats();
        for info in self.session_ids.values() {
            let m: u64 = open
                .iter()
                .filter(|d| d.key.session == info.id)
                .map(|d| d.missing)
                .sum();
            stats
                .sources
                .entry(info.source.clone())
                .or_default()
                .missing += m;
        }
        stats.outputs = self
            .outputs
            .iter()
            .map(|o| OutputStats {
                name: o.name.clone(),
                written: o.written,
                lost: o.lost(),
                errors: o.errors,
            })
            .collect();
        stats.inputs = inputs
            .iter()
            .map(|i| {
                (
                    i.name.clone(),
                    i.stats.datagrams.load(Relaxed),
                    i.stats.queue_full.load(Relaxed),
                    i.kernel_drops(),
                )
            })
            .collect();
        stats
    }

    /// The `-S` lines: per input, per source, per output.
    pub fn stats_lines(&mut self, inputs: &[RunningInput]) -> Vec<String> {
        let stats = self.snapshot(inputs);
        let mut lines = Vec::new();
        let now = std::time::Instant::now();
        let total = stats.records();
        if let Some((then, before)) = self.last_stats {
            let secs = now.duration_since(then).as_secs_f64().max(1e-3);
            lines.push(format!(
                "{:.0} records/s over the last {secs:.0} s ({total} records in all)",
                (total - before.min(total)) as f64 / secs
            ));
        }
        self.last_stats = Some((now, total));
        for (name, messages, full, kernel) in &stats.inputs {
            lines.push(format!(
                "input {name}: {messages} messages, {full} dropped (queue full){}",
                kernel
                    .map(|k| format!(", {k} dropped by the kernel"))
                    .unwrap_or_default()
            ));
        }
        for (source, s) in &stats.sources {
            let errors: u64 = s.decode_errors.values().sum();
            let unknown: u64 = s.unknown_template_sets.values().sum();
            let rejected: u64 = s.rejected.values().sum();
            lines.push(format!(
                "source {source}: {} messages, {} records, {} stored/forwarded, {rejected} rejected by stages, {errors} decode errors ({unknown} sets without template), {} missing by sequence numbers",
                s.messages, s.records, s.accepted, s.missing
            ));
        }
        for o in &stats.outputs {
            lines.push(format!(
                "output {}: {} written, {} lost, {} errors",
                o.name, o.written, o.lost, o.errors
            ));
        }
        for o in &self.outputs {
            for (source, window, rows) in o.open_windows() {
                lines.push(format!(
                    "open window: {source} {} ({rows} rows)",
                    store::layout::stamp(window)
                ));
            }
        }
        lines
    }

    /// Shutdown: every output flushed and closed; the final statistics.
    pub fn close(&mut self, inputs: &[RunningInput]) -> Result<Stats, String> {
        let mut first_error = None;
        for o in &mut self.outputs {
            if let Err(e) = o.close() {
                log(&e);
                first_error.get_or_insert(e);
            }
        }
        let stats = self.snapshot(inputs);
        for line in self.stats_lines(inputs) {
            log(&line);
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(stats),
        }
    }
}

/// An error kind's variant name without its values ("UnsupportedVersion",
/// not "UnsupportedVersion(61085)"), so counts and log lines group by kind.
fn kind_name(kind: &ErrorKind) -> String {
    let full = format!("{kind:?}");
    let end = full.find(['(', ' ', '{']).unwrap_or(full.len());
    full[..end].to_string()
}
