//! Inputs: threads that receive messages and queue them for the pipeline.
//!
//! UDP: one socket, one session per exporter address; a full queue drops
//! the datagram and counts it (the exporter will not wait for us), and the
//! kernel's own drop counter for the socket is read for the statistics.
//! TCP: one thread per connection reads IPFIX messages by their length
//! field and waits when the queue is full (TCP flow control pushes back on
//! the exporter). Files: messages in file order, waiting likewise.

use std::io::{self, Read};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::config::InputConfig;

/// Where a message came from: the pipeline keeps template state per session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SessionKey {
    /// A UDP exporter: (input index, exporter address).
    Udp(usize, SocketAddr),
    /// A TCP connection or a file: unique per connection/file.
    Stream(u64),
}

/// What inputs tell the pipeline.
#[derive(Debug)]
pub enum Event {
    Message {
        input: usize,
        session: SessionKey,
        /// The exporter's address (None for files).
        exporter: Option<SocketAddr>,
        arrived_ms: u64,
        bytes: Vec<u8>,
    },
    /// A TCP connection or a file ended; `reason` says why when it is an error.
    SessionEnded {
        input: usize,
        session: SessionKey,
        reason: Option<String>,
    },
    /// An input finished (files read to the end).
    InputDone { input: usize },
}

/// The pipeline's queue: bounded in messages by the channel and in bytes by
/// a shared budget, so 64 KiB stream messages cannot pile up hundreds of
/// megabytes while UDP datagrams still get a deep queue.
#[derive(Clone)]
pub struct Queue {
    tx: SyncSender<Event>,
    queued: Arc<AtomicUsize>,
    max_bytes: usize,
}

/// Bytes queued beyond which inputs that can wait (TCP, files) do. UDP
/// cannot wait, so it alone may fill the rest of the budget, to ride out a
/// burst. A file is read far faster than the pipeline decodes: with the
/// whole budget, 32 MiB of messages stood in the queue, memory the kernel
/// had to hand over fresh and zero; a few megabytes keep the pipeline as
/// busy (BENCHMARKS.md).
const WAITING_INPUT_BYTES: usize = 4 << 20;

impl Queue {
    pub fn new(tx: SyncSender<Event>, max_bytes: usize) -> (Queue, Arc<AtomicUsize>) {
        let queued = Arc::new(AtomicUsize::new(0));
        let q = Queue {
            tx,
            queued: queued.clone(),
            max_bytes,
        };
        (q, queued)
    }

    fn over(&self, budget: usize, len: usize) -> bool {
        self.queued.load(Ordering::Relaxed) + len > budget
    }

    fn over_budget(&self, len: usize) -> bool {
        self.over(self.max_bytes, len)
    }

    /// Queues a message or gives it back when the queue is full (UDP).
    fn try_send(&self, event: Event) -> Result<(), TrySendError<Event>> {
        let len = event.queued_bytes();
        if self.over_budget(len) {
            return Err(TrySendError::Full(event));
        }
        self.queued.fetch_add(len, Ordering::Relaxed);
        self.tx.try_send(event).inspect_err(|_| {
            self.queued.fetch_sub(len, Ordering::Relaxed);
        })
    }

    /// Queues a message, waiting while the queue is full (TCP, files).
    /// Err when the pipeline is gone or on shutdown.
    fn send(&self, event: Event, stop: &AtomicBool) -> Result<(), ()> {
        let len = event.queued_bytes();
        let budget = self.max_bytes.min(WAITING_INPUT_BYTES);
        while self.over(budget, len) && self.queued.load(Ordering::Relaxed) > 0 {
            if stop.load(Ordering::Relaxed) {
                return Err(());
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        self.queued.fetch_add(len, Ordering::Relaxed);
        self.tx.send(event).map_err(|_| ())
    }

    /// Control events (session ends) bypass the byte budget.
    fn send_control(&self, event: Event) {
        let _ = self.tx.send(event);
    }
}

impl Event {
    /// Bytes the event holds against the queue's budget.
    pub fn queued_bytes(&self) -> usize {
        match self {
            Event::Message { bytes, .. } => bytes.len(),
            _ => 0,
        }
    }
}

/// Counters an input shares with the statistics.
#[derive(Debug, Default)]
pub struct InputStats {
    pub datagrams: AtomicU64,
    pub bytes: AtomicU64,
    /// Datagrams dropped because the pipeline queue was full.
    pub queue_full: AtomicU64,
    /// Receive errors (and unreadable files).
    pub errors: AtomicU64,
}

/// A running input.
pub struct RunningInput {
    pub name: String,
    pub stats: Arc<InputStats>,
    /// The bound address of a UDP/TCP input (useful with port 0).
    pub local_addr: Option<SocketAddr>,
    /// The kernel's drop counter of a UDP socket, read from /proc.
    udp_port: Option<u16>,
    thread: Option<JoinHandle<()>>,
}

impl RunningInput {
    /// Datagrams the kernel dropped on this UDP socket (receive buffer full).
    pub fn kernel_drops(&self) -> Option<u64> {
        self.udp_port.and_then(udp_kernel_drops)
    }

    /// Whether the input's thread has ended.
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(|t| t.is_finished())
    }

    pub fn join(&mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

static NEXT_STREAM: AtomicU64 = AtomicU64::new(1);

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// How long blocking calls wait before checking the stop flag.
const POLL: Duration = Duration::from_millis(200);

/// Starts an input's thread.
pub fn start(
    index: usize,
    config: &InputConfig,
    tx: Queue,
    stop: Arc<AtomicBool>,
) -> io::Result<RunningInput> {
    let stats = Arc::new(InputStats::default());
    let name = config.name();
    let (local_addr, udp_port, thread) = match config {
        InputConfig::Udp {
            listen,
            recv_buffer,
            ..
        } => {
            let socket = bind_udp(listen, *recv_buffer)?;
            let addr = socket.local_addr()?;
            let s = stats.clone();
            let t = spawn(&name, move || udp_loop(index, socket, tx, s, stop))?;
            (Some(addr), Some(addr.port()), t)
        }
        InputConfig::Tcp { listen, .. } => {
            let listener = TcpListener::bind(listen).map_err(|e| {
                io::Error::new(e.kind(), format!("listening on tcp://{listen}: {e}"))
            })?;
            listener.set_nonblocking(true)?;
            let addr = listener.local_addr()?;
            let s = stats.clone();
            let t = spawn(&name, move || tcp_accept_loop(index, listener, tx, s, stop))?;
            (Some(addr), None, t)
        }
        InputConfig::File { paths, .. } => {
            let files = expand_paths(paths)?;
            let s = stats.clone();
            let t = spawn(&name, move || file_loop(index, files, tx, s, stop))?;
            (None, None, t)
        }
    };
    Ok(RunningInput {
        name,
        stats,
        local_addr,
        udp_port,
        thread: Some(thread),
    })
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(format!("input {name}"))
        .spawn(f)
}

fn bind_udp(listen: &str, recv_buffer: usize) -> io::Result<UdpSocket> {
    use std::net::ToSocketAddrs;
    let addr = listen
        .to_socket_addrs()
        .map_err(|e| io::Error::new(e.kind(), format!("udp://{listen}: {e}")))?
        .next()
        .ok_or_else(|| io::Error::other(format!("udp://{listen}: no address")))?;
    let domain = socket2::Domain::for_address(addr);
    let socket = socket2::Socket::new(domain, socket2::Type::DGRAM, Some(socket2::Protocol::UDP))?;
    if addr.is_ipv6() {
        // [::] takes IPv4 exporters too.
        let _ = socket.set_only_v6(false);
    }
    let _ = socket.set_recv_buffer_size(recv_buffer);
    socket
        .bind(&addr.into())
        .map_err(|e| io::Error::new(e.kind(), format!("binding udp://{listen}: {e}")))?;
    let socket: UdpSocket = socket.into();
    socket.set_read_timeout(Some(POLL))?;
    Ok(socket)
}

fn udp_loop(
    index: usize,
    socket: UdpSocket,
    tx: Queue,
    stats: Arc<InputStats>,
    stop: Arc<AtomicBool>,
) {
    let mut buf = vec![0u8; 65_536];
    while !stop.load(Ordering::Relaxed) {
        let (n, peer) = match socket.recv_from(&mut buf) {
            Ok(r) => r,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                continue
            }
            Err(_) => {
                stats.errors.fetch_add(1, Ordering::Relaxed);
                continue;
            }
        };
        stats.datagrams.fetch_add(1, Ordering::Relaxed);
        stats.bytes.fetch_add(n as u64, Ordering::Relaxed);
        let event = Event::Message {
            input: index,
            session: SessionKey::Udp(index, peer),
            exporter: Some(peer),
            arrived_ms: now_ms(),
            bytes: buf[..n].to_vec(),
        };
        match tx.try_send(event) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                stats.queue_full.fetch_add(1, Ordering::Relaxed);
            }
            Err(TrySendError::Disconnected(_)) => return,
        }
    }
}

fn tcp_accept_loop(
    index: usize,
    listener: TcpListener,
    tx: Queue,
    stats: Arc<InputStats>,
    stop: Arc<AtomicBool>,
) {
    let mut connections = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((stream, peer)) => {
                let (tx, s, stop) = (tx.clone(), stats.clone(), stop.clone());
                let t = std::thread::Builder::new()
                    .name(format!("tcp {peer}"))
                    .spawn(move || tcp_session(index, stream, peer, tx, s, stop));
                match t {
                    Ok(t) => connections.push(t),
                    Err(_) => {
                        stats.errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::sleep(POLL / 4),
            Err(_) => {
                stats.errors.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(POLL / 4);
            }
        }
        connections.retain(|t: &JoinHandle<()>| !t.is_finished());
    }
    for t in connections {
        let _ = t.join();
    }
}

/// Reads IPFIX messages (version 10, length from the header) until the
/// exporter closes, an error, or shutdown.
fn tcp_session(
    index: usize,
    mut stream: TcpStream,
    peer: SocketAddr,
    tx: Queue,
    stats: Arc<InputStats>,
    stop: Arc<AtomicBool>,
) {
    let session = SessionKey::Stream(NEXT_STREAM.fetch_add(1, Ordering::Relaxed));
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(POLL));
    let reason = loop {
        let mut header = [0u8; 4];
        match read_full(&mut stream, &mut header, &stop) {
            Ok(true) => {}
            Ok(false) => break None,
            Err(e) => break Some(e.to_string()),
        }
        let version = u16::from_be_bytes([header[0], header[1]]);
        let length = usize::from(u16::from_be_bytes([header[2], header[3]]));
        if version != 10 {
            break Some(format!(
                "not an IPFIX message (version {version}): closing the session"
            ));
        }
        if length < 16 {
            break Some(format!(
                "IPFIX message length {length} is below the header's 16 bytes"
            ));
        }
        let mut bytes = vec![0u8; length];
        bytes[..4].copy_from_slice(&header);
        match read_full(&mut stream, &mut bytes[4..], &stop) {
            Ok(true) => {}
            Ok(false) => break Some("connection closed inside a message".into()),
            Err(e) => break Some(e.to_string()),
        }
        stats.datagrams.fetch_add(1, Ordering::Relaxed);
        stats.bytes.fetch_add(length as u64, Ordering::Relaxed);
        let event = Event::Message {
            input: index,
            session,
            exporter: Some(peer),
            arrived_ms: now_ms(),
            bytes,
        };
        if tx.send(event, &stop).is_err() {
            return;
        }
    };
    tx.send_control(Event::SessionEnded {
        input: index,
        session,
        reason,
    });
}

/// Fills `buf`; false when the peer closed before the first byte (or on
/// shutdown), an error when it closed in the middle.
fn read_full(stream: &mut TcpStream, buf: &mut [u8], stop: &AtomicBool) -> io::Result<bool> {
    let mut filled = 0;
    while filled < buf.len() {
        if stop.load(Ordering::Relaxed) {
            return Ok(false);
        }
        match stream.read(&mut buf[filled..]) {
            Ok(0) if filled == 0 => return Ok(false),
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed inside a message",
                ))
            }
            Ok(n) => filled += n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// Files as given; folders as their files in name order (hidden ones skipped).
pub fn expand_paths(paths: &[PathBuf]) -> io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| io::Error::new(e.kind(), format!("reading {}: {e}", p.display())))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.is_file() && !is_hidden(f))
                .collect();
            files.sort();
            out.extend(files);
        } else if p.exists() {
            out.push(p.clone());
        } else {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{}: no such file or folder", p.display()),
            ));
        }
    }
    Ok(out)
}

fn is_hidden(p: &Path) -> bool {
    p.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
}

fn file_loop(
    index: usize,
    files: Vec<PathBuf>,
    tx: Queue,
    stats: Arc<InputStats>,
    stop: Arc<AtomicBool>,
) {
    for path in files {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let session = SessionKey::Stream(NEXT_STREAM.fetch_add(1, Ordering::Relaxed));
        // Message by message: memory stays at one message (and the
        // kernel does not zero a file-sized buffer per file).
        let file = match std::fs::File::open(&path) {
            Ok(f) => std::io::BufReader::with_capacity(1 << 18, f),
            Err(e) => {
                stats.errors.fetch_add(1, Ordering::Relaxed);
                tx.send_control(Event::SessionEnded {
                    input: index,
                    session,
                    reason: Some(format!("reading {}: {e}", path.display())),
                });
                continue;
            }
        };
        let mut reason = None;
        for msg in ipfix::MessageReader::new(file) {
            let msg = match msg {
                Ok(m) => m,
                Err(e) => {
                    stats.errors.fetch_add(1, Ordering::Relaxed);
                    reason = Some(format!("{}: {e}", path.display()));
                    break;
                }
            };
            stats.datagrams.fetch_add(1, Ordering::Relaxed);
            stats.bytes.fetch_add(msg.len() as u64, Ordering::Relaxed);
            let event = Event::Message {
                input: index,
                session,
                exporter: None,
                arrived_ms: now_ms(),
                bytes: msg,
            };
            if tx.send(event, &stop).is_err() || stop.load(Ordering::Relaxed) {
                return;
            }
        }
        tx.send_control(Event::SessionEnded {
            input: index,
            session,
            reason,
        });
    }
    tx.send_control(Event::InputDone { input: index });
}

/// The `drops` column of our socket's line in /proc/net/udp{,6}.
fn udp_kernel_drops(port: u16) -> Option<u64> {
    let want = format!(":{port:04X}");
    let mut total = None;
    for file in ["/proc/net/udp", "/proc/net/udp6"] {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.len() >= 13 && cols[1].ends_with(&want) {
                if let Ok(d) = cols[12].parse::<u64>() {
                    *total.get_or_insert(0) += d;
                }
            }
        }
    }
    total
}
