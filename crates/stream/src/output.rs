//! Output interfaces: gather rows, encode each batch once, hand the bytes
//! to every client (sockets) or write them (files, stdout).
//!
//! Socket outputs are servers: each client gets a writer thread fed by a
//! small bounded queue, so one slow client delays only the batches queued
//! for it. Under `:wait` the module blocks on a full queue (back-pressure)
//! and while no client is connected; under `:drop` it counts and drops.
//!
//! A receiver that stops on purpose (SIGTERM) first writes one byte, [`STOP`],
//! on the connection: its writer thread finishes the message it is writing,
//! closes the connection, and gives back what was still queued. When no
//! other client is connected those messages are kept and sent first to the
//! next client, so restarting a module under `:wait` loses nothing.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arrow_array::RecordBatch;
use arrow_schema::ArrowError;

use crate::ipc::{Bytes, Encoded, Encoder, END_OF_STREAM};
use crate::log;
use crate::spec::{Rotation, SlowPolicy, Spec, Transport};
use crate::stats::IfcStats;

/// The byte a receiver writes to ask its sender to stop after the current message.
pub const STOP: u8 = b'S';

/// Batches queued per client.
const CLIENT_QUEUE: usize = 8;

/// Encoded bytes and the records they carry (0 for schema and end markers).
#[derive(Clone)]
struct Msg {
    bytes: Bytes,
    rows: usize,
}

impl Msg {
    /// The IPC end-of-stream marker.
    fn end_of_stream() -> Msg {
        Msg {
            bytes: Arc::new(Encoded::from_slice(&END_OF_STREAM)),
            rows: 0,
        }
    }
}

/// One output interface.
pub struct Output {
    spec: Spec,
    sink: Sink,
    encoder: Option<Encoder>,
    /// Leaves out unused nullable flow columns (`None` under `:dense`).
    thinner: Option<crate::sparse::Thinner>,
    pending: Vec<RecordBatch>,
    pending_rows: usize,
    pending_since: Option<Instant>,
    pub stats: Arc<IfcStats>,
}

enum Sink {
    Server(Arc<Server>),
    Stream(Box<dyn Write + Send>),
    File(RotatingFile),
    Blackhole,
}

impl Output {
    /// Opens the interface: binds sockets (replacing a stale unix socket
    /// file), creates files.
    pub fn open(spec: &Spec, stop: Arc<AtomicBool>) -> io::Result<Output> {
        let stats = Arc::new(IfcStats::default());
        let sink = match &spec.transport {
            Transport::Unix(path) => {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                remove_stale_socket(path)?;
                let listener = UnixListener::bind(path).map_err(|e| {
                    io::Error::new(
                        e.kind(),
                        format!("{}: cannot listen on {}: {e}", spec, path.display()),
                    )
                })?;
                Sink::Server(Server::start(
                    Listener::Unix(listener, path.clone()),
                    spec.policy,
                    stats.clone(),
                    stop,
                ))
            }
            Transport::Tcp { host, port } => {
                let host = host.as_deref().unwrap_or("0.0.0.0");
                let listener = TcpListener::bind((host, *port)).map_err(|e| {
                    io::Error::new(
                        e.kind(),
                        format!("{spec}: cannot listen on {host}:{port}: {e}"),
                    )
                })?;
                Sink::Server(Server::start(
                    Listener::Tcp(listener),
                    spec.policy,
                    stats.clone(),
                    stop,
                ))
            }
            Transport::File {
                path,
                append,
                rotate,
            } => Sink::File(RotatingFile::open(path.clone(), *append, *rotate)?),
            Transport::Stdio => {
                Sink::Stream(Box::new(BufWriter::with_capacity(1 << 20, io::stdout())))
            }
            Transport::Blackhole => Sink::Blackhole,
        };
        Ok(Output {
            spec: spec.clone(),
            sink,
            encoder: None,
            thinner: (!spec.dense).then(crate::sparse::Thinner::new),
            pending: Vec::new(),
            pending_rows: 0,
            pending_since: None,
            stats,
        })
    }

    pub fn spec(&self) -> &Spec {
        &self.spec
    }

    /// Queues a batch; sends when enough rows are gathered.
    pub fn send(&mut self, batch: &RecordBatch) -> Result<(), ArrowError> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        if let Some(first) = self.pending.first() {
            if first.schema() != batch.schema() {
                self.flush()?;
            }
        }
        self.pending_rows += batch.num_rows();
        self.pending.push(batch.clone());
        self.pending_since.get_or_insert_with(Instant::now);
        if self.pending_rows >= self.spec.buffer_rows {
            self.flush()?;
        }
        Ok(())
    }

    /// Sends gathered rows that have waited longer than the autoflush interval.
    pub fn flush_due(&mut self, now: Instant) -> Result<(), ArrowError> {
        match (self.spec.autoflush, self.pending_since) {
            (Some(every), Some(since)) if now.duration_since(since) >= every => self.flush(),
            _ => Ok(()),
        }
    }

    /// Sends everything gathered: small batches joined into one, batches
    /// of a quarter of the buffer or more each as its own message (joining
    /// them would copy every row once more for no gain to the receiver).
    pub fn flush(&mut self) -> Result<(), ArrowError> {
        self.pending_since = None;
        if self.pending.is_empty() {
            return self.flush_sink();
        }
        let batches = std::mem::take(&mut self.pending);
        let rows = std::mem::take(&mut self.pending_rows);
        let join = batches.len() > 1 && rows < batches.len() * (self.spec.buffer_rows / 4);
        if join {
            let batch = crate::columns::concat(&batches[0].schema(), &batches)?;
            self.encode_and_deliver(batch)?;
        } else {
            for batch in batches {
                self.encode_and_deliver(batch)?;
            }
        }
        self.flush_sink()
    }

    /// One batch as one message, after a new stream's start if its schema
    /// (once thinned) differs from the last one's.
    fn encode_and_deliver(&mut self, batch: RecordBatch) -> Result<(), ArrowError> {
        let rows = batch.num_rows();
        let batch = match &mut self.thinner {
            Some(t) => t.thin(&batch)?,
            None => batch,
        };
        let schema = batch.schema();
        if self.encoder.as_ref().is_none_or(|e| *e.schema() != schema) {
            // A new schema starts a new IPC stream: end the old one first.
            if self.encoder.is_some() {
                self.deliver(Msg::end_of_stream(), None)?;
            }
            let encoder = Encoder::new(schema, self.spec.compression)?;
            let schema_msg = Msg {
                bytes: encoder.schema_message(),
                rows: 0,
            };
            self.encoder = Some(encoder);
            self.deliver(schema_msg.clone(), Some(schema_msg))?;
        }
        let encoder = self.encoder.as_mut().unwrap_or_else(|| unreachable!());
        let bytes = encoder.encode(&batch)?;
        self.stats.add(&self.stats.records, rows as u64);
        self.stats.add(&self.stats.batches, 1);
        self.stats.add(&self.stats.bytes, bytes.len() as u64);
        self.deliver(Msg { bytes, rows }, None)
    }

    fn flush_sink(&mut self) -> Result<(), ArrowError> {
        match &mut self.sink {
            Sink::Stream(w) => w.flush().map_err(io_err),
            _ => Ok(()),
        }
    }

    /// Hands a message to the sink. `schema` marks a stream start, which a
    /// server remembers for clients that join later.
    fn deliver(&mut self, msg: Msg, schema: Option<Msg>) -> Result<(), ArrowError> {
        match &mut self.sink {
            Sink::Server(server) => {
                server.broadcast(msg, schema.is_some());
                Ok(())
            }
            Sink::Stream(w) => msg.bytes.write_to(w).map_err(io_err),
            Sink::File(f) => {
                let schema_bytes = self.encoder.as_ref().map(|e| e.schema_message());
                f.write(&msg.bytes, schema_bytes.as_deref(), schema.is_some())
                    .map_err(io_err)
            }
            Sink::Blackhole => Ok(()),
        }
    }

    /// Flushes, then ends the stream: with `end_marker` every client gets
    /// the IPC end-of-stream marker (the data is complete); without it the
    /// connections just close (the module stopped; receivers reconnect).
    pub fn close(mut self, end_marker: bool) -> Result<(), ArrowError> {
        let flushed = self.flush();
        if end_marker && self.encoder.is_none() {
            // No batch was ever sent: an empty stream (a schema without
            // fields, then the end), so the end still reaches receivers.
            let encoder = Encoder::new(
                Arc::new(arrow_schema::Schema::empty()),
                self.spec.compression,
            )?;
            let schema_msg = Msg {
                bytes: encoder.schema_message(),
                rows: 0,
            };
            self.encoder = Some(encoder);
            self.deliver(schema_msg.clone(), Some(schema_msg))?;
        }
        if end_marker {
            self.deliver(Msg::end_of_stream(), None)?;
        }
        match self.sink {
            Sink::Server(server) => server.close(),
            Sink::Stream(mut w) => w.flush().map_err(io_err)?,
            Sink::File(f) => f.close().map_err(io_err)?,
            Sink::Blackhole => {}
        }
        flushed
    }
}

fn io_err(e: io::Error) -> ArrowError {
    ArrowError::IoError(e.to_string(), e)
}

/// Removes a unix socket file nobody listens on (left by a killed module);
/// refuses to take over a live one.
fn remove_stale_socket(path: &Path) -> io::Result<()> {
    if !path.exists() {
        return Ok(());
    }
    if UnixStream::connect(path).is_ok() {
        return Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            format!("{} is in use by another module", path.display()),
        ));
    }
    std::fs::remove_file(path)
}

enum Listener {
    Unix(UnixListener, PathBuf),
    Tcp(TcpListener),
}

/// A connection to a client, either kind.
enum Conn {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Conn {
    fn try_clone(&self) -> io::Result<Conn> {
        Ok(match self {
            Conn::Unix(s) => Conn::Unix(s.try_clone()?),
            Conn::Tcp(s) => Conn::Tcp(s.try_clone()?),
        })
    }

    fn shutdown(&self) {
        let _ = match self {
            Conn::Unix(s) => s.shutdown(Shutdown::Write),
            Conn::Tcp(s) => s.shutdown(Shutdown::Write),
        };
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Unix(s) => s.read(buf),
            Conn::Tcp(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Unix(s) => s.write(buf),
            Conn::Tcp(s) => s.write(buf),
        }
    }
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Conn::Unix(s) => s.write_vectored(bufs),
            Conn::Tcp(s) => s.write_vectored(bufs),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

struct ClientSlot {
    id: u64,
    tx: SyncSender<Msg>,
}

struct ServerState {
    clients: Vec<ClientSlot>,
    /// The current stream's schema message, sent first to each new client.
    schema: Option<Msg>,
    /// Messages no client took (a client left on purpose and none is left),
    /// sent to the next client that joins.
    backlog: Vec<Msg>,
    next_id: u64,
    closed: bool,
    /// Client writer threads, registered under the same lock as the client,
    /// so closing the output always waits for every one of them.
    writers: Vec<JoinHandle<()>>,
}

struct Server {
    state: Mutex<ServerState>,
    joined: Condvar,
    policy: SlowPolicy,
    stats: Arc<IfcStats>,
    stop: Arc<AtomicBool>,
    path: Option<PathBuf>,
}

impl Server {
    fn start(
        listener: Listener,
        policy: SlowPolicy,
        stats: Arc<IfcStats>,
        stop: Arc<AtomicBool>,
    ) -> Arc<Server> {
        let path = match &listener {
            Listener::Unix(_, p) => Some(p.clone()),
            Listener::Tcp(_) => None,
        };
        let server = Arc::new(Server {
            state: Mutex::new(ServerState {
                clients: Vec::new(),
                schema: None,
                backlog: Vec::new(),
                next_id: 0,
                closed: false,
                writers: Vec::new(),
            }),
            joined: Condvar::new(),
            policy,
            stats,
            stop,
            path,
        });
        let s = server.clone();
        thread::spawn(move || loop {
            let conn = match &listener {
                Listener::Unix(l, _) => l.accept().map(|(c, _)| Conn::Unix(c)),
                Listener::Tcp(l) => l.accept().map(|(c, _)| {
                    let _ = c.set_nodelay(true);
                    Conn::Tcp(c)
                }),
            };
            match conn {
                Ok(conn) => {
                    if !s.join(conn) {
                        return;
                    }
                }
                Err(e) => {
                    log(&format!("accept failed: {e}"));
                    thread::sleep(Duration::from_millis(100));
                }
            }
        });
        server
    }

    /// Registers a new client; false once the server is closed.
    fn join(self: &Arc<Self>, conn: Conn) -> bool {
        let Ok(reader) = conn.try_clone() else {
            return true;
        };
        let (tx, rx) = mpsc::sync_channel::<Msg>(CLIENT_QUEUE);
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.closed {
            return false;
        }
        let id = state.next_id;
        state.next_id += 1;
        let mut first = Vec::new();
        if let Some(schema) = &state.schema {
            first.push(schema.clone());
        }
        first.append(&mut state.backlog);
        state.clients.push(ClientSlot { id, tx });
        self.stats.add(&self.stats.clients, 1);
        self.stats.add(&self.stats.connects, 1);
        let leaving = Arc::new(AtomicBool::new(false));
        let l = leaving.clone();
        thread::spawn(move || watch_client(reader, l));
        let s = self.clone();
        let handle = thread::spawn(move || s.write_client(id, conn, first, rx, leaving));
        state.writers.push(handle);
        drop(state);
        self.joined.notify_all();
        true
    }

    /// Gives the message to every client, by the output's policy. A schema
    /// message is also kept for clients that join later (under the same
    /// lock, so a joining client gets it exactly once).
    fn broadcast(&self, msg: Msg, is_schema: bool) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if is_schema {
            state.schema = Some(msg.clone());
        }
        // A schema waits for no one (a client that joins gets it first);
        // batches and end markers wait under `:wait`.
        if is_schema && state.clients.is_empty() {
            return;
        }
        if self.policy == SlowPolicy::Wait {
            while state.clients.is_empty() && !self.stop.load(Ordering::Relaxed) {
                state = self
                    .joined
                    .wait_timeout(state, Duration::from_millis(100))
                    .map(|(s, _)| s)
                    .unwrap_or_else(|p| p.into_inner().0);
            }
        }
        if state.clients.is_empty() {
            self.stats.add(&self.stats.dropped, msg.rows as u64);
            return;
        }
        let mut gone = Vec::new();
        for c in &state.clients {
            let sent = match self.policy {
                SlowPolicy::Wait => c.tx.send(msg.clone()).is_ok(),
                SlowPolicy::Drop => match c.tx.try_send(msg.clone()) {
                    Ok(()) => true,
                    Err(TrySendError::Full(_)) => {
                        self.stats.add(&self.stats.dropped, msg.rows as u64);
                        true
                    }
                    Err(TrySendError::Disconnected(_)) => false,
                },
            };
            if !sent {
                gone.push(c.id);
            }
        }
        state.clients.retain(|c| !gone.contains(&c.id));
    }

    /// A client's writer thread: the first messages, then the queue, until
    /// the client leaves or the output closes.
    fn write_client(
        &self,
        id: u64,
        mut conn: Conn,
        first: Vec<Msg>,
        rx: Receiver<Msg>,
        leaving: Arc<AtomicBool>,
    ) {
        let write = |conn: &mut Conn, m: &Msg| m.bytes.write_to(conn);
        let mut failed = false;
        for m in &first {
            if write(&mut conn, m).is_err() {
                failed = true;
                break;
            }
        }
        let mut returned: Vec<Msg> = if failed { first } else { Vec::new() };
        while !failed {
            if leaving.load(Ordering::Relaxed) {
                break;
            }
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(m) => {
                    if write(&mut conn, &m).is_err() {
                        returned.push(m);
                        failed = true;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                // The output closed: everything was written.
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        conn.shutdown();
        // Leave the client list; keep taking queued messages meanwhile so a
        // module blocked on this client's full queue can go on.
        loop {
            while let Ok(m) = rx.try_recv() {
                returned.push(m);
            }
            if let Ok(mut state) = self.state.try_lock() {
                while let Ok(m) = rx.try_recv() {
                    returned.push(m);
                }
                let was_listed = state.clients.iter().any(|c| c.id == id);
                state.clients.retain(|c| c.id != id);
                if was_listed {
                    self.stats.clients.fetch_sub(1, Ordering::Relaxed);
                }
                let rows: usize = returned.iter().map(|m| m.rows).sum();
                if rows > 0 {
                    if state.clients.is_empty() && self.policy == SlowPolicy::Wait && !state.closed
                    {
                        // Batches only (schema and end markers are resent as needed).
                        state
                            .backlog
                            .extend(returned.into_iter().filter(|m| m.rows > 0));
                    } else if state.clients.is_empty() {
                        self.stats.add(&self.stats.dropped, rows as u64);
                    }
                }
                return;
            }
            thread::sleep(Duration::from_millis(1));
        }
    }

    /// Closes the output: no new clients; queued messages are written,
    /// then connections close. Under `:wait`, batches kept for an absent
    /// client wait for one until the module is told to stop.
    fn close(self: Arc<Self>) {
        loop {
            let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            let waiting = !state.backlog.is_empty() && state.clients.is_empty();
            drop(state);
            if !waiting || self.stop.load(Ordering::Relaxed) {
                break;
            }
            thread::sleep(Duration::from_millis(50));
        }
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.closed = true;
        let lost: usize = state.backlog.iter().map(|m| m.rows).sum();
        self.stats.add(&self.stats.dropped, lost as u64);
        // Dropping the senders lets each writer finish its queue and exit.
        state.clients.clear();
        let writers = std::mem::take(&mut state.writers);
        drop(state);
        for w in writers {
            let _ = w.join();
        }
        if let Some(path) = &self.path {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Reads what a client writes back: [`STOP`] or the end of its connection
/// both mean it is leaving.
fn watch_client(mut conn: Conn, leaving: Arc<AtomicBool>) {
    let mut buf = [0u8; 64];
    loop {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) if buf[..n].contains(&STOP) => break,
            Ok(_) => {}
        }
    }
    leaving.store(true, Ordering::Relaxed);
}

/// A file output: each file is a complete IPC stream; with rotation a new
/// file `PATH.YYYYMMDDhhmmss` starts every interval or size.
struct RotatingFile {
    base: PathBuf,
    append: bool,
    rotate: Rotation,
    file: Option<BufWriter<File>>,
    opened: Instant,
    written: u64,
}

impl RotatingFile {
    fn open(base: PathBuf, append: bool, rotate: Rotation) -> io::Result<RotatingFile> {
        let mut f = RotatingFile {
            base,
            append,
            rotate,
            file: None,
            opened: Instant::now(),
            written: 0,
        };
        f.start()?;
        Ok(f)
    }

    fn rotating(&self) -> bool {
        self.rotate.every.is_some() || self.rotate.max_bytes.is_some()
    }

    fn start(&mut self) -> io::Result<()> {
        let path = if self.rotating() {
            rotated_name(&self.base)
        } else {
            self.base.clone()
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .append(self.append)
            .truncate(!self.append)
            .open(&path)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        self.file = Some(BufWriter::with_capacity(1 << 20, file));
        self.opened = Instant::now();
        self.written = 0;
        Ok(())
    }

    /// Writes a message; rotates first if due (then the new file starts
    /// with the schema).
    fn write(
        &mut self,
        msg: &Encoded,
        schema: Option<&Encoded>,
        is_schema: bool,
    ) -> io::Result<()> {
        let due = self.written > 0
            && !is_schema
            && (self
                .rotate
                .every
                .is_some_and(|e| self.opened.elapsed() >= e)
                || self.rotate.max_bytes.is_some_and(|m| self.written >= m));
        if due {
            self.finish_file()?;
            self.start()?;
            if let Some(s) = schema {
                self.put(s)?;
            }
        }
        self.put(msg)
    }

    fn put(&mut self, msg: &Encoded) -> io::Result<()> {
        if let Some(f) = &mut self.file {
            msg.write_to(f)?;
            self.written += msg.len() as u64;
        }
        Ok(())
    }

    fn finish_file(&mut self) -> io::Result<()> {
        self.put(&Msg::end_of_stream().bytes)?;
        if let Some(mut f) = self.file.take() {
            f.flush()?;
        }
        Ok(())
    }

    fn close(mut self) -> io::Result<()> {
        if let Some(mut f) = self.file.take() {
            f.flush()?;
        }
        Ok(())
    }
}

fn rotated_name(base: &Path) -> PathBuf {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (y, m, d) = record::civil_from_days((secs / 86400) as i64);
    let rest = secs % 86400;
    let mut name = base.as_os_str().to_owned();
    name.push(format!(
        ".{y:04}{m:02}{d:02}{:02}{:02}{:02}",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    ));
    // Size rotation can start two files in one second: never overwrite.
    let mut path = PathBuf::from(&name);
    let mut n = 1;
    while path.exists() {
        let mut numbered = name.clone();
        numbered.push(format!(".{n}"));
        path = PathBuf::from(numbered);
        n += 1;
    }
    path
}
