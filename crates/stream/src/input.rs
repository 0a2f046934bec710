//! Input interfaces: a thread per input reads IPC messages and hands them
//! to the module's loop through one bounded channel (back-pressure reaches
//! the sender through the socket).
//!
//! Socket inputs connect to their sender and reconnect when it goes away
//! without an end-of-stream marker (a restarted module). A stream whose
//! schema lacks fields the module needs is refused: the input logs the
//! missing names and counts the stream's records as dropped.

use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

use crate::ipc::{Message, MessageReader};
use crate::log;
use crate::output::STOP;
use crate::sparse::Filler;
use crate::spec::{Spec, Transport};
use crate::stats::IfcStats;

/// What an input thread tells the module loop.
pub enum Event {
    /// A stream (re)starts with this schema.
    Schema {
        input: usize,
        schema: SchemaRef,
    },
    Batch {
        input: usize,
        batch: RecordBatch,
    },
    /// The input's data is complete (end-of-stream marker, end of file).
    End {
        input: usize,
    },
    /// The input thread stopped for good (after a stop request or an error
    /// on a file).
    Closed {
        input: usize,
    },
}

/// How long a socket input waits between connection attempts.
const RETRY: Duration = Duration::from_millis(200);

/// A running input.
pub struct Input {
    pub spec: Spec,
    pub stats: Arc<IfcStats>,
    /// The live connection, so a stop request can be written to it.
    conn: Arc<Mutex<Option<Box<dyn Stoppable>>>>,
    thread: Option<JoinHandle<()>>,
}

/// What the runner needs of an input's connection to ask the sender to stop.
trait Stoppable: Send {
    fn request_stop(&mut self);
}

impl Stoppable for UnixStream {
    fn request_stop(&mut self) {
        let _ = self.write_all(&[STOP]);
        let _ = self.shutdown(Shutdown::Write);
    }
}

impl Stoppable for TcpStream {
    fn request_stop(&mut self) {
        let _ = self.write_all(&[STOP]);
        let _ = self.shutdown(Shutdown::Write);
    }
}

/// Options shared by a module's inputs.
#[derive(Clone)]
pub struct InputOptions {
    /// Fields every stream must have (the module's needs); nullable flow
    /// columns a stream lacks are put back as nulls.
    pub required: Arc<Vec<String>>,
    /// Whether the module wants whole flows (every flow column).
    pub wanted: crate::sparse::Wanted,
    /// End the input at an end-of-stream marker (else wait for the next stream).
    pub end_on_eos: bool,
    pub stop: Arc<AtomicBool>,
}

impl Input {
    pub fn spawn(
        index: usize,
        spec: Spec,
        events: SyncSender<Event>,
        options: InputOptions,
    ) -> io::Result<Input> {
        if matches!(spec.transport, Transport::Blackhole) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{spec}: b: is an output only"),
            ));
        }
        let stats = Arc::new(IfcStats::default());
        let conn: Arc<Mutex<Option<Box<dyn Stoppable>>>> = Arc::new(Mutex::new(None));
        let worker = Worker {
            index,
            spec: spec.clone(),
            events,
            options,
            stats: stats.clone(),
            conn: conn.clone(),
        };
        let thread = thread::Builder::new()
            .name(format!("input-{index}"))
            .spawn(move || worker.run())?;
        Ok(Input {
            spec,
            stats,
            conn,
            thread: Some(thread),
        })
    }

    /// Asks the sender to stop after its current message; the input then
    /// reads what is left and closes.
    pub fn request_stop(&self) {
        if let Some(c) = self.conn.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            c.request_stop();
        }
    }

    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(|t| t.is_finished())
    }
}

struct Worker {
    index: usize,
    spec: Spec,
    events: SyncSender<Event>,
    options: InputOptions,
    stats: Arc<IfcStats>,
    conn: Arc<Mutex<Option<Box<dyn Stoppable>>>>,
}

/// How reading one connection or file ended.
enum Ended {
    /// End-of-stream marker (and the input ends at one).
    Complete,
    /// The peer went away mid-stream, or sent something invalid.
    Broken,
    /// The module loop is gone.
    Gone,
}

impl Worker {
    fn run(self) {
        let i = self.index;
        match &self.spec.transport {
            Transport::File { path, .. } => {
                match File::open(path) {
                    Ok(f) => {
                        self.read_stream(BufReader::with_capacity(1 << 20, f));
                    }
                    Err(e) => {
                        log(&format!("{}: {}: {e}", self.spec, path.display()));
                        self.stats.add(&self.stats.errors, 1);
                    }
                }
                let _ = self.events.send(Event::End { input: i });
            }
            Transport::Stdio => {
                self.read_stream(BufReader::with_capacity(1 << 20, io::stdin().lock()));
                let _ = self.events.send(Event::End { input: i });
            }
            Transport::Unix(_) | Transport::Tcp { .. } => self.run_socket(),
            Transport::Blackhole => {}
        }
        let _ = self.events.send(Event::Closed { input: i });
    }

    fn run_socket(&self) {
        let mut said_waiting = false;
        while !self.options.stop.load(Ordering::Relaxed) {
            let conn = self.connect();
            let ended = match conn {
                Ok((reader, stopper)) => {
                    said_waiting = false;
                    self.stats.add(&self.stats.connects, 1);
                    self.stats.clients.store(1, Ordering::Relaxed);
                    *self.conn.lock().unwrap_or_else(|p| p.into_inner()) = Some(stopper);
                    if self.options.stop.load(Ordering::Relaxed) {
                        self.request_stop_now();
                    }
                    let ended = self.read_stream(BufReader::with_capacity(1 << 20, reader));
                    *self.conn.lock().unwrap_or_else(|p| p.into_inner()) = None;
                    self.stats.clients.store(0, Ordering::Relaxed);
                    ended
                }
                Err(e) => {
                    if !said_waiting {
                        log(&format!("{}: waiting for the sender ({e})", self.spec));
                        said_waiting = true;
                    }
                    thread::sleep(RETRY);
                    continue;
                }
            };
            match ended {
                Ended::Complete => {
                    let _ = self.events.send(Event::End { input: self.index });
                    return;
                }
                Ended::Gone => return,
                Ended::Broken => {
                    if !self.options.stop.load(Ordering::Relaxed) {
                        log(&format!("{}: sender went away; reconnecting", self.spec));
                    }
                    thread::sleep(RETRY);
                }
            }
        }
    }

    fn request_stop_now(&self) {
        if let Some(c) = self.conn.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            c.request_stop();
        }
    }

    fn connect(&self) -> io::Result<(Box<dyn Read + Send>, Box<dyn Stoppable>)> {
        match &self.spec.transport {
            Transport::Unix(path) => {
                let s = UnixStream::connect(path)
                    .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
                Ok((Box::new(s.try_clone()?), Box::new(s)))
            }
            Transport::Tcp { host, port } => {
                let host = host.as_deref().unwrap_or("localhost");
                let s = TcpStream::connect((host, *port))
                    .map_err(|e| io::Error::new(e.kind(), format!("{host}:{port}: {e}")))?;
                let _ = s.set_nodelay(true);
                Ok((Box::new(s.try_clone()?), Box::new(s)))
            }
            _ => Err(io::Error::other("not a socket")),
        }
    }

    /// Reads messages until the stream ends; streams may follow each other.
    fn read_stream(&self, reader: impl Read) -> Ended {
        let mut r = MessageReader::new(reader);
        let mut refused = false;
        let mut between_streams = true;
        let mut filler: Option<Filler> = None;
        let mut saw_stream = false;
        loop {
            let msg = match r.next_message() {
                Ok(Some(m)) => m,
                Ok(None) => {
                    if !between_streams {
                        if is_file(&self.spec) {
                            log(&format!(
                                "{}: the data ends without an end-of-stream marker (truncated?)",
                                self.spec
                            ));
                            self.stats.add(&self.stats.errors, 1);
                        }
                        return Ended::Broken;
                    }
                    // An end marker then the end of the connection: the
                    // sender's data is complete. (An end marker followed by
                    // a schema is a schema change.)
                    return if saw_stream && self.options.end_on_eos {
                        Ended::Complete
                    } else {
                        Ended::Broken
                    };
                }
                Err(e) => {
                    log(&format!("{}: {e}", self.spec));
                    self.stats.add(&self.stats.errors, 1);
                    return Ended::Broken;
                }
            };
            let event = match msg {
                Message::Schema(schema) => {
                    between_streams = false;
                    saw_stream = true;
                    // An empty stream (a sender that had nothing to send)
                    // has no fields to lack.
                    let made = if schema.fields().is_empty() {
                        Ok(None)
                    } else {
                        Filler::new(&schema, &self.options.required, &self.options.wanted).map(Some)
                    };
                    let missing = match made {
                        Ok(f) => {
                            filler = f;
                            Vec::new()
                        }
                        Err(missing) => missing,
                    };
                    if !missing.is_empty() {
                        log(&format!(
                            "{}: refused a stream: it lacks fields this module needs: {}",
                            self.spec,
                            missing.join(", ")
                        ));
                        self.stats.add(&self.stats.errors, 1);
                        refused = true;
                        // Its batches are read and counted as dropped until
                        // the sender starts a stream with another schema
                        // (refusing the connection would only make a
                        // waiting sender offer the same batches again).
                        continue;
                    }
                    refused = false;
                    Event::Schema {
                        input: self.index,
                        schema: match &filler {
                            Some(f) => Arc::clone(f.schema(&schema)),
                            None => schema,
                        },
                    }
                }
                Message::Batch(batch) => {
                    if refused {
                        self.stats.add(&self.stats.dropped, batch.num_rows() as u64);
                        continue;
                    }
                    self.stats.add(&self.stats.records, batch.num_rows() as u64);
                    self.stats.add(&self.stats.batches, 1);
                    let batch = match &mut filler {
                        Some(f) => match f.fill(batch) {
                            Ok(b) => b,
                            Err(e) => {
                                log(&format!("{}: {e}", self.spec));
                                self.stats.add(&self.stats.errors, 1);
                                return Ended::Broken;
                            }
                        },
                        None => batch,
                    };
                    Event::Batch {
                        input: self.index,
                        batch,
                    }
                }
                Message::End => {
                    between_streams = true;
                    refused = false;
                    continue;
                }
            };
            if self.events.send(event).is_err() {
                return Ended::Gone;
            }
        }
    }
}

fn is_file(spec: &Spec) -> bool {
    !matches!(spec.transport, Transport::Unix(_) | Transport::Tcp { .. })
}

/// The required field names the schema lacks.
pub fn missing_fields(schema: &SchemaRef, required: &[String]) -> Vec<String> {
    required
        .iter()
        .filter(|name| schema.field_with_name(name).is_err())
        .cloned()
        .collect()
}
