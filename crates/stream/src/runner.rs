//! The module loop: start inputs and outputs, feed the module the batches,
//! flush outputs on time, answer the control socket, and end cleanly.
//!
//! Two ways to end. When every input's data is complete (end-of-stream
//! markers, ends of files) the module finishes and its outputs send the end
//! marker, so the end propagates down a chain. On SIGTERM/SIGINT (the
//! `stop` flag) the inputs ask their senders to stop, the module processes
//! what already arrived, finishes, and its outputs close without an end
//! marker: receivers then wait for the module to come back.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

use crate::input::{Event, Input, InputOptions};
use crate::log;
use crate::output::Output;
pub use crate::sparse::Wanted;
use crate::spec::Spec;
use crate::stats::{process_usage, IfcStats};

pub type ModuleError = Box<dyn std::error::Error + Send + Sync>;

/// What a source module's `produce` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Produced {
    /// Sent something; call again.
    Busy,
    /// Nothing to send yet (pacing); call again soon.
    Idle,
    /// The data is complete.
    Done,
}

/// One stream module. The runner owns the interfaces; the module sees
/// batches and sends through [`Outputs`].
pub trait Module {
    /// How many of the listed interfaces are outputs (the last ones).
    fn outputs(&self) -> usize;
    /// How many inputs the module takes: at least, at most.
    fn inputs(&self) -> (usize, Option<usize>) {
        (1, None)
    }
    /// Fields every input stream must have; a stream without them is
    /// refused, except that nullable flow columns (L7 fields, ...) a sender
    /// left out are put back as nulls.
    fn required_fields(&self) -> Vec<String> {
        Vec::new()
    }
    /// [`Wanted::WholeFlows`] for a module that prints or keeps whole flow
    /// records: flow streams then reach it with every flow column, in the
    /// flow schema's order, whatever the sender left out.
    fn wanted(&self) -> Wanted {
        Wanted::Fields
    }
    /// A stream starts on `input`. An error refuses it (its batches are
    /// counted as dropped until the next stream).
    fn on_schema(&mut self, _input: usize, _schema: &SchemaRef) -> Result<(), String> {
        Ok(())
    }
    fn process(
        &mut self,
        input: usize,
        batch: &RecordBatch,
        out: &mut Outputs,
    ) -> Result<(), ModuleError>;
    /// Sources (modules without inputs) produce here.
    fn produce(&mut self, _out: &mut Outputs) -> Result<Produced, ModuleError> {
        Ok(Produced::Done)
    }
    /// Called about ten times a second.
    fn tick(&mut self, _out: &mut Outputs) -> Result<(), ModuleError> {
        Ok(())
    }
    /// The last call: send what is held.
    fn finish(&mut self, _out: &mut Outputs) -> Result<(), ModuleError> {
        Ok(())
    }
    /// True when the module wants to end (a record limit reached): the
    /// runner then stops as on SIGTERM.
    fn done(&self) -> bool {
        false
    }
    /// SIGHUP.
    fn reload(&mut self) -> Result<(), String> {
        Ok(())
    }
    /// Module counters as JSON object members (`"name":1,...`), for the
    /// control socket and the statistics line.
    fn stats_json(&self) -> String {
        String::new()
    }
}

/// The module's outputs, by index.
pub struct Outputs {
    list: Vec<Output>,
}

impl Outputs {
    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Sends a batch on output `i` (gathered until its buffer size).
    pub fn send(&mut self, i: usize, batch: &RecordBatch) -> Result<(), ModuleError> {
        match self.list.get_mut(i) {
            Some(o) => o
                .send(batch)
                .map_err(|e| format!("{}: {e}", o.spec()).into()),
            None => Err(format!("no output {i}").into()),
        }
    }

    /// Sends a batch on every output.
    pub fn send_all(&mut self, batch: &RecordBatch) -> Result<(), ModuleError> {
        for i in 0..self.list.len() {
            self.send(i, batch)?;
        }
        Ok(())
    }

    fn flush_due(&mut self, now: Instant) -> Result<(), ModuleError> {
        for o in &mut self.list {
            o.flush_due(now).map_err(|e| format!("{}: {e}", o.spec()))?;
        }
        Ok(())
    }
}

/// How to run a module.
#[derive(Clone)]
pub struct RunOptions {
    /// The module's kind (`filter`, `logger`, ...).
    pub kind: String,
    /// Its instance name (control socket `SOCKET_DIR/NAME.ctl`, log prefix).
    pub name: String,
    pub socket_dir: PathBuf,
    /// Print a statistics line this often.
    pub stats_every: Option<Duration>,
    /// End when every input's data is complete, and send end markers on.
    pub end_on_eof: bool,
    /// Answer `stats` on the control socket.
    pub control: bool,
    /// Set by SIGTERM/SIGINT.
    pub stop: Arc<AtomicBool>,
    /// Set by SIGHUP.
    pub reload: Arc<AtomicBool>,
}

impl RunOptions {
    pub fn new(kind: &str) -> RunOptions {
        RunOptions {
            kind: kind.to_string(),
            name: format!("{kind}-{}", std::process::id()),
            socket_dir: crate::spec::default_socket_dir(),
            stats_every: None,
            end_on_eof: true,
            control: true,
            stop: Arc::new(AtomicBool::new(false)),
            reload: Arc::new(AtomicBool::new(false)),
        }
    }
}

static NAME: OnceLock<String> = OnceLock::new();

/// The running module's name (for log lines).
pub fn module_name() -> &'static str {
    NAME.get().map_or("?", |s| s.as_str())
}

/// How long a stopping module waits for its senders to finish their message.
const STOP_GRACE: Duration = Duration::from_secs(3);
const TICK: Duration = Duration::from_millis(100);

/// Runs `module` on the interfaces `specs` (inputs first) until its data
/// ends or it is told to stop.
pub fn run(
    module: &mut dyn Module,
    specs: &[Spec],
    options: &RunOptions,
) -> Result<(), ModuleError> {
    let _ = NAME.set(options.name.clone());
    let n_out = module.outputs();
    if specs.len() < n_out {
        return Err(format!(
            "{} needs {n_out} output interface(s) after its inputs in -i, got {} interface(s)",
            options.kind,
            specs.len()
        )
        .into());
    }
    let (in_specs, out_specs) = specs.split_at(specs.len() - n_out);
    let (min_in, max_in) = module.inputs();
    if in_specs.len() < min_in || max_in.is_some_and(|m| in_specs.len() > m) {
        let want = match max_in {
            Some(m) if m == min_in => format!("{m}"),
            Some(m) => format!("{min_in} to {m}"),
            None => format!("at least {min_in}"),
        };
        return Err(format!(
            "{} takes {want} input(s) and {n_out} output(s); -i lists {} interface(s)",
            options.kind,
            specs.len()
        )
        .into());
    }
    let mut outputs = Outputs { list: Vec::new() };
    for spec in out_specs {
        outputs.list.push(Output::open(spec, options.stop.clone())?);
    }
    let (tx, rx) = mpsc::sync_channel::<Event>(16);
    let input_options = InputOptions {
        required: Arc::new(module.required_fields()),
        wanted: module.wanted(),
        end_on_eos: options.end_on_eof,
        stop: options.stop.clone(),
    };
    let mut inputs = Vec::new();
    for (i, spec) in in_specs.iter().enumerate() {
        inputs.push(Input::spawn(
            i,
            spec.clone(),
            tx.clone(),
            input_options.clone(),
        )?);
    }
    drop(tx);
    let module_stats = Arc::new(Mutex::new(String::new()));
    let snapshot = Snapshot {
        kind: options.kind.clone(),
        name: options.name.clone(),
        started: Instant::now(),
        inputs: inputs
            .iter()
            .map(|i| (i.spec.text.clone(), i.stats.clone()))
            .collect(),
        outputs: outputs
            .list
            .iter()
            .map(|o| (o.spec().text.clone(), o.stats.clone()))
            .collect(),
        module: module_stats.clone(),
    };
    let control = if options.control {
        serve_control(options, snapshot.clone())
    } else {
        None
    };

    let result = drive(
        module,
        &mut outputs,
        &inputs,
        &rx,
        options,
        &snapshot,
        &module_stats,
    );
    let end_marker = matches!(result, Ok(true));
    let finished = module.finish(&mut outputs);
    let mut closed = Ok(());
    for o in outputs.list {
        let spec = o.spec().text.clone();
        if let Err(e) = o.close(end_marker) {
            closed = Err(format!("{spec}: {e}"));
        }
    }
    if options.stats_every.is_some() {
        *module_stats.lock().unwrap_or_else(|p| p.into_inner()) = module.stats_json();
        log(&snapshot.line());
    }
    if let Some(path) = control {
        let _ = std::fs::remove_file(path);
    }
    result?;
    finished?;
    closed?;
    Ok(())
}

/// The loop; `Ok(true)` when the data ended, `Ok(false)` when stopped.
fn drive(
    module: &mut dyn Module,
    outputs: &mut Outputs,
    inputs: &[Input],
    rx: &mpsc::Receiver<Event>,
    options: &RunOptions,
    snapshot: &Snapshot,
    module_stats: &Mutex<String>,
) -> Result<bool, ModuleError> {
    let mut ended = vec![false; inputs.len()];
    let mut closed = vec![false; inputs.len()];
    let mut refused = vec![false; inputs.len()];
    let mut stop_deadline: Option<Instant> = None;
    let mut last_tick = Instant::now();
    let mut last_stats = Instant::now();
    loop {
        let stopping = options.stop.load(Ordering::Relaxed) || module.done();
        if stopping && stop_deadline.is_none() {
            for i in inputs {
                i.request_stop();
            }
            stop_deadline = Some(Instant::now() + STOP_GRACE);
        }
        if options.reload.swap(false, Ordering::Relaxed) {
            match module.reload() {
                Ok(()) => log("reloaded"),
                Err(e) => log(&format!("reload failed, keeping the old settings: {e}")),
            }
        }
        if inputs.is_empty() {
            if stop_deadline.is_some() {
                return Ok(false);
            }
            match module.produce(outputs)? {
                Produced::Done => return Ok(true),
                Produced::Busy => {}
                Produced::Idle => thread::sleep(Duration::from_millis(1)),
            }
        } else {
            match rx.recv_timeout(TICK) {
                Ok(Event::Schema { input, schema }) => match module.on_schema(input, &schema) {
                    Ok(()) => refused[input] = false,
                    Err(e) => {
                        log(&format!("{}: refused a stream: {e}", inputs[input].spec));
                        refused[input] = true;
                    }
                },
                Ok(Event::Batch { input, batch }) => {
                    if refused[input] {
                        let s = &inputs[input].stats;
                        s.add(&s.dropped, batch.num_rows() as u64);
                    } else {
                        module.process(input, &batch, outputs)?;
                    }
                }
                Ok(Event::End { input }) => ended[input] = true,
                Ok(Event::Closed { input }) => closed[input] = true,
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return Ok(ended.iter().all(|e| *e)),
            }
            if options.end_on_eof && ended.iter().all(|e| *e) {
                return Ok(true);
            }
            if let Some(deadline) = stop_deadline {
                if closed.iter().all(|c| *c) || inputs.iter().all(|i| i.is_finished()) {
                    return Ok(false);
                }
                if Instant::now() >= deadline {
                    log("stopping without waiting longer for senders");
                    return Ok(false);
                }
            }
        }
        let now = Instant::now();
        if now.duration_since(last_tick) >= TICK {
            last_tick = now;
            outputs.flush_due(now)?;
            module.tick(outputs)?;
            *module_stats.lock().unwrap_or_else(|p| p.into_inner()) = module.stats_json();
        }
        if let Some(every) = options.stats_every {
            if now.duration_since(last_stats) >= every {
                last_stats = now;
                log(&snapshot.line());
            }
        }
    }
}

/// What the control socket and the statistics line report.
#[derive(Clone)]
struct Snapshot {
    kind: String,
    name: String,
    started: Instant,
    inputs: Vec<(String, Arc<IfcStats>)>,
    outputs: Vec<(String, Arc<IfcStats>)>,
    module: Arc<Mutex<String>>,
}

impl Snapshot {
    fn json(&self) -> String {
        let (cpu, rss) = process_usage();
        let ifcs = |list: &[(String, Arc<IfcStats>)]| {
            list.iter()
                .map(|(spec, s)| format!("{{\"spec\":{},{}}}", json_str(spec), s.json()))
                .collect::<Vec<_>>()
                .join(",")
        };
        let module = self
            .module
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        format!(
            "{{\"module\":{},\"name\":{},\"pid\":{},\"uptime_s\":{:.3},\"cpu_s\":{cpu:.3},\"rss_bytes\":{rss},\"inputs\":[{}],\"outputs\":[{}],\"stats\":{{{module}}}}}",
            json_str(&self.kind),
            json_str(&self.name),
            std::process::id(),
            self.started.elapsed().as_secs_f64(),
            ifcs(&self.inputs),
            ifcs(&self.outputs),
        )
    }

    fn line(&self) -> String {
        let mut parts = Vec::new();
        for (spec, s) in &self.inputs {
            parts.push(format!(
                "in {spec}: {} records, {} dropped, {} errors",
                IfcStats::get(&s.records),
                IfcStats::get(&s.dropped),
                IfcStats::get(&s.errors)
            ));
        }
        for (spec, s) in &self.outputs {
            parts.push(format!(
                "out {spec}: {} records, {} dropped, {} clients",
                IfcStats::get(&s.records),
                IfcStats::get(&s.dropped),
                IfcStats::get(&s.clients)
            ));
        }
        let module = self
            .module
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if !module.is_empty() {
            parts.push(module.replace('"', ""));
        }
        parts.join("; ")
    }
}

fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Serves `SOCKET_DIR/NAME.ctl`: a line `stats` gets one line of JSON.
fn serve_control(options: &RunOptions, snapshot: Snapshot) -> Option<PathBuf> {
    let path = options.socket_dir.join(format!("{}.ctl", options.name));
    let _ = std::fs::create_dir_all(&options.socket_dir);
    let _ = std::fs::remove_file(&path);
    let listener = match UnixListener::bind(&path) {
        Ok(l) => l,
        Err(e) => {
            log(&format!("no control socket at {}: {e}", path.display()));
            return None;
        }
    };
    thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let snapshot = snapshot.clone();
            thread::spawn(move || {
                let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
                let Ok(mut writer) = conn.try_clone() else {
                    return;
                };
                let mut reader = BufReader::new(conn).take(4096);
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
                    let reply = match line.trim() {
                        "stats" => snapshot.json(),
                        other => format!(
                            "{{\"error\":{}}}",
                            json_str(&format!("unknown request '{other}'; try stats"))
                        ),
                    };
                    if writeln!(writer, "{reply}").is_err() {
                        return;
                    }
                    line.clear();
                }
            });
        }
    });
    Some(path)
}
