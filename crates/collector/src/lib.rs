//! `eddy collect`: IPFIXcol's job. Inputs receive IPFIX and NetFlow (UDP,
//! TCP, files), the pipeline decodes each message with the exporter's
//! template state, passes the records through the configured stages in
//! order, and hands them to the outputs (the Parquet store, JSON lines,
//! IPFIX files and forwarding).
//!
//! Threads: one per input (one per TCP connection), queueing raw messages
//! into a bounded channel; one pipeline thread doing everything else, so
//! template state, stages and outputs need no locks. Nothing is dropped
//! silently: a full queue (UDP), a decode error, a data set without its
//! template, a record a stage rejects and an output error are each counted,
//! per exporter or per output, in [`Stats`] and the `-S` lines.
//!
//! Crash safety is the store's spool ([`store::WriterConfig::spool`]), on
//! by default unless every input is a file ([`Config::spool_by_default`]).
//! SIGHUP reloads stages and outputs ([`Collector::reload_on`]).

pub mod config;
pub mod input;
mod json_out;
mod output;
mod pipeline;
pub mod stage;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use config::{Config, InputConfig, OutputConfig, StageConfig};
pub use input::RunningInput;
pub use pipeline::{ExporterStats, OutputStats, Pipeline, Stats};
pub use stage::Stage;

use input::Event;

/// How often the pipeline wakes without traffic: rolls store windows,
/// expires templates, prints statistics.
const TICK: Duration = Duration::from_millis(500);

/// Gives the configuration to switch to on reload.
pub type Reloader = dyn Fn() -> Result<Config, String> + Send;

/// A running collector.
pub struct Collector {
    reload: Option<(Arc<AtomicBool>, Box<Reloader>)>,
    config: Config,
    inputs: Vec<RunningInput>,
    rx: Receiver<Event>,
    stop: Arc<AtomicBool>,
    pipeline: Pipeline,
    inputs_done: usize,
    file_inputs: usize,
    /// Bytes of messages queued (the inputs add, the pipeline subtracts).
    queued: Arc<std::sync::atomic::AtomicUsize>,
}

/// Most message bytes queued between the inputs and the pipeline.
const QUEUE_BYTES: usize = 32 << 20;

impl Collector {
    /// Opens the outputs, builds the stages (`extra_stages` come from the
    /// caller: stages whose crates the collector does not depend on, such
    /// as the filter language) and starts the inputs. `stop` ends
    /// [`Collector::run`] when set (SIGTERM/SIGINT).
    pub fn start(
        config: Config,
        stages: Vec<Box<dyn Stage>>,
        stop: Arc<AtomicBool>,
    ) -> Result<Collector, String> {
        config.check()?;
        let pipeline = Pipeline::new(&config, stages)?;
        let (tx, rx) = sync_channel(config.queue);
        let (tx, queued) = input::Queue::new(tx, QUEUE_BYTES);
        let mut inputs = Vec::new();
        for (i, input) in config.inputs.iter().enumerate() {
            let running = input::start(i, input, tx.clone(), stop.clone())
                .map_err(|e| format!("input {}: {e}", input.name()))?;
            log(&format!(
                "listening: {}{}",
                running.name,
                running
                    .local_addr
                    .map(|a| format!(" on {a}"))
                    .unwrap_or_default()
            ));
            inputs.push(running);
        }
        let file_inputs = config
            .inputs
            .iter()
            .filter(|i| matches!(i, InputConfig::File { .. }))
            .count();
        Ok(Collector {
            reload: None,
            config,
            inputs,
            rx,
            stop,
            pipeline,
            inputs_done: 0,
            file_inputs,
            queued,
        })
    }

    /// The running inputs (their bound addresses, counters).
    pub fn inputs(&self) -> &[RunningInput] {
        &self.inputs
    }

    /// Reloads when `flag` is set (SIGHUP): `load` gives the new
    /// configuration. Stages and outputs change at once; a change of
    /// inputs needs a restart (logged).
    pub fn reload_on(mut self, flag: Arc<AtomicBool>, load: Box<Reloader>) -> Collector {
        self.reload = Some((flag, load));
        self
    }

    fn maybe_reload(&mut self) {
        let Some((flag, load)) = &self.reload else {
            return;
        };
        if !flag.swap(false, Ordering::Relaxed) {
            return;
        }
        let config = match load() {
            Ok(c) => c,
            Err(e) => {
                log(&format!(
                    "reload refused, the running configuration stays: {e}"
                ));
                return;
            }
        };
        if config.inputs != self.config.inputs {
            log("reload: the inputs changed; restart the collector to apply that");
        }
        match self.pipeline.reload(&config, Vec::new()) {
            Ok(()) => {
                log("reloaded: stages replaced; changed outputs closed (their buffered records written) and reopened, unchanged ones kept");
                let inputs = std::mem::take(&mut self.config.inputs);
                self.config = Config { inputs, ..config };
            }
            Err(e) => log(&format!(
                "reload refused, the running configuration stays: {e}"
            )),
        }
    }

    /// Processes messages until `stop` is set, or, when every input is a
    /// file input, until the files are read. Then flushes and closes every
    /// output and returns the final statistics.
    pub fn run(mut self) -> Result<Stats, String> {
        let stats_every = Duration::from_secs(self.config.stats_interval);
        let mut next_stats = Instant::now() + stats_every;
        let only_files = self.file_inputs == self.inputs.len();
        loop {
            if self.stop.load(Ordering::Relaxed) {
                break;
            }
            match self.rx.recv_timeout(TICK) {
                Ok(event) => self.handle(event)?,
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            // Drain what is queued before looking at the clock again (a
            // bounded number, so a flood cannot keep the tick away).
            for _ in 0..self.config.queue {
                match self.rx.try_recv() {
                    Ok(event) => self.handle(event)?,
                    Err(_) => break,
                }
            }
            self.maybe_reload();
            self.pipeline.tick(&self.inputs)?;
            if self.config.stats_interval > 0 && Instant::now() >= next_stats {
                next_stats = Instant::now() + stats_every;
                for line in self.pipeline.stats_lines(&self.inputs) {
                    log(&line);
                }
            }
            if only_files && self.inputs_done == self.inputs.len() {
                break;
            }
        }
        self.shutdown()
    }

    fn handle(&mut self, event: Event) -> Result<(), String> {
        self.queued
            .fetch_sub(event.queued_bytes(), Ordering::Relaxed);
        match event {
            Event::Message {
                input,
                session,
                exporter,
                arrived_ms,
                bytes,
            } => self.pipeline.message(
                &self.config.inputs[input],
                input,
                session,
                exporter,
                arrived_ms,
                &bytes,
            ),
            Event::SessionEnded {
                input,
                session,
                reason,
            } => {
                self.pipeline
                    .session_ended(&self.config.inputs[input].name(), session, reason);
                Ok(())
            }
            Event::InputDone { .. } => {
                self.inputs_done += 1;
                Ok(())
            }
        }
    }

    fn shutdown(mut self) -> Result<Stats, String> {
        self.stop.store(true, Ordering::Relaxed);
        // Keep taking messages while the inputs stop: one blocked on a full
        // queue must get through to see the stop flag. What they queued is
        // still ours to store.
        while self.inputs.iter().any(|i| !i.is_finished()) {
            if let Ok(event) = self.rx.recv_timeout(Duration::from_millis(20)) {
                self.handle(event)?;
            }
        }
        for input in &mut self.inputs {
            input.join();
        }
        while let Ok(event) = self.rx.try_recv() {
            self.handle(event)?;
        }
        self.pipeline.close(&self.inputs)
    }
}

/// One line on stderr, prefixed so it is clear who speaks.
pub fn log(line: &str) {
    eprintln!("eddy collect: {line}");
}
