//! The exporter: a [`record::FlowSink`] that encodes flow records
//! ([`crate::encode`]) and sends them over UDP or TCP or appends them to an
//! IPFIX file (RFC 5655: messages back to back).
//!
//! Files come in two forms: `file:PATH` is one file, written for the whole
//! run; `dir:DIR[:SECONDS[:MB]]` is a directory of rotating files, a new one
//! every SECONDS (default 300, aligned to multiples of SECONDS since the
//! epoch, as nfcapd does; 0 = never by time) and whenever the current one
//! has reached MB megabytes (10^6 bytes; default or 0 = no size limit). A
//! file is named by the UTC start of its period, `eddy.YYYYMMDDhhmm.ipfix`
//! (then `eddy.YYYYMMDDhhmm_002.ipfix`, `_003`… when that name is taken, e.g.
//! after a rotation by size, so names sort in the order written),
//! is written as `.NAME.part` and renamed once complete, so a reader that
//! ignores dot files never sees a half-written one. Every file begins with
//! the templates, so each decodes on its own. Rotation is checked before each
//! batch of records, so a file may pass MB by one batch's messages, and on
//! [`record::FlowSink::flush`] (a file whose period is over is closed even
//! when no records come).
//!
//! Not here: retransmission or buffering while a TCP collector is down.
//! The decision a reader may question: a TCP collector that goes away costs
//! the records exported until it is back (counted, logged once per outage),
//! rather than a queue that grows, because the meter must never stall on
//! its output. Export time is the wall clock, as exporters do; the flow
//! times inside the records come from the packets.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use record::{FlowRecord, FlowSink};

use crate::encode::{Encoder, EncoderConfig};

/// How long a TCP exporter waits between connection attempts while down.
const RECONNECT_EVERY: Duration = Duration::from_secs(1);
/// Connect timeout for one attempt.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Where messages go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Destination {
    Udp(String),
    Tcp(String),
    File(String),
    /// Rotating files in a directory.
    Dir(RotateSpec),
}

/// `dir:DIR[:SECONDS[:MB]]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RotateSpec {
    pub dir: String,
    /// A new file every this many seconds (0 = never by time).
    pub seconds: u64,
    /// A new file once the current one holds this many bytes (0 = no limit).
    pub max_bytes: u64,
}

/// Default rotation period of `dir:` destinations.
pub const DEFAULT_ROTATE_SECS: u64 = 300;

impl RotateSpec {
    fn parse(s: &str) -> Result<RotateSpec, String> {
        let mut parts = s.splitn(3, ':');
        let dir = parts.next().unwrap_or_default();
        if dir.is_empty() {
            return Err(format!("'dir:{s}': no directory"));
        }
        let num = |p: Option<&str>, what: &str| -> Result<Option<u64>, String> {
            p.map(|v| {
                v.parse::<u64>()
                    .map_err(|_| format!("'dir:{s}': {what} '{v}' is not a whole number"))
            })
            .transpose()
        };
        let seconds = num(parts.next(), "SECONDS")?.unwrap_or(DEFAULT_ROTATE_SECS);
        let mb = num(parts.next(), "MB")?.unwrap_or(0);
        let max_bytes = mb
            .checked_mul(1_000_000)
            .ok_or_else(|| format!("'dir:{s}': MB too large"))?;
        Ok(RotateSpec {
            dir: dir.to_string(),
            seconds,
            max_bytes,
        })
    }
}

impl Destination {
    /// `udp://HOST:PORT`, `tcp://HOST:PORT`, `file:PATH` or
    /// `dir:DIR[:SECONDS[:MB]]` (see the module documentation).
    pub fn parse(s: &str) -> Result<Destination, String> {
        if let Some(rest) = s.strip_prefix("udp://") {
            Ok(Destination::Udp(rest.to_string()))
        } else if let Some(rest) = s.strip_prefix("tcp://") {
            Ok(Destination::Tcp(rest.to_string()))
        } else if let Some(rest) = s.strip_prefix("file:") {
            Ok(Destination::File(rest.to_string()))
        } else if let Some(rest) = s.strip_prefix("dir:") {
            RotateSpec::parse(rest).map(Destination::Dir)
        } else {
            Err(format!(
                "'{s}': expected udp://HOST:PORT, tcp://HOST:PORT, file:PATH or dir:DIR[:SECONDS[:MB]]"
            ))
        }
    }
}

impl std::fmt::Display for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Destination::Udp(a) => write!(f, "udp://{a}"),
            Destination::Tcp(a) => write!(f, "tcp://{a}"),
            Destination::File(p) => write!(f, "file:{p}"),
            Destination::Dir(r) => {
                write!(f, "dir:{}:{}:{}", r.dir, r.seconds, r.max_bytes / 1_000_000)
            }
        }
    }
}

/// What the exporter did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExportStats {
    pub messages: u64,
    pub records: u64,
    pub dropped_messages: u64,
    pub dropped_records: u64,
    /// TCP connections made after the first.
    pub reconnects: u64,
    /// Records sent without their L7 fields (too long for one message).
    pub l7_dropped: u64,
}

enum Transport {
    Udp {
        socket: UdpSocket,
        peer: SocketAddr,
    },
    Tcp {
        addr: String,
        stream: Option<TcpStream>,
        last_attempt: Instant,
    },
    File(BufWriter<File>),
    Dir(Rotator),
}

/// Seconds since the Unix epoch; replaceable for tests
/// ([`IpfixSink::with_clock`]).
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// The file being written in a `dir:` destination.
struct OpenFile {
    w: BufWriter<File>,
    part: PathBuf,
    path: PathBuf,
    /// Start of its period (seconds since the epoch).
    period: u64,
    bytes: u64,
}

struct Rotator {
    spec: RotateSpec,
    current: Option<OpenFile>,
    /// Complete files written so far.
    completed: Vec<PathBuf>,
}

impl Rotator {
    fn period_of(&self, now: u64) -> u64 {
        match self.spec.seconds {
            0 => now,
            n => now - now % n,
        }
    }

    fn expired(&self, now: u64) -> bool {
        self.current
            .as_ref()
            .is_some_and(|f| self.spec.seconds > 0 && self.period_of(now) != f.period)
    }

    /// Whether the next batch needs a new file.
    fn needs_new(&self, now: u64) -> bool {
        match &self.current {
            None => true,
            Some(f) => {
                self.expired(now) || (self.spec.max_bytes > 0 && f.bytes >= self.spec.max_bytes)
            }
        }
    }

    /// Flushes and renames the current file into place.
    fn close(&mut self) -> io::Result<()> {
        let Some(mut f) = self.current.take() else {
            return Ok(());
        };
        f.w.flush()?;
        drop(f.w);
        std::fs::rename(&f.part, &f.path)?;
        self.completed.push(f.path);
        Ok(())
    }

    fn open(&mut self, now: u64) -> io::Result<()> {
        self.close()?;
        let period = self.period_of(now);
        let dir = Path::new(&self.spec.dir);
        let stem = format!("eddy.{}", utc_stamp(period));
        let mut n = 1;
        let (name, file, part) = loop {
            let name = if n == 1 {
                format!("{stem}.ipfix")
            } else {
                format!("{stem}_{n:03}.ipfix")
            };
            let part = dir.join(format!(".{name}.part"));
            if !dir.join(&name).exists() {
                // create_new: another writer's part file is not ours to clobber.
                match std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&part)
                {
                    Ok(file) => break (name, file, part),
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(e),
                }
            }
            n += 1;
        };
        self.current = Some(OpenFile {
            w: BufWriter::with_capacity(1 << 16, file),
            part,
            path: dir.join(name),
            period,
            bytes: 0,
        });
        Ok(())
    }
}

impl Drop for Rotator {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

/// `YYYYMMDDhhmm` in UTC.
fn utc_stamp(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}{:02}{:02}",
        rem / 3600,
        (rem % 3600) / 60
    )
}

/// A flow sink that exports IPFIX.
pub struct IpfixSink {
    dest: Destination,
    transport: Transport,
    encoder: Encoder,
    messages: Vec<Vec<u8>>,
    stats: ExportStats,
    clock: Clock,
}

fn resolve(addr: &str) -> io::Result<SocketAddr> {
    addr.to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("{addr}: no address")))
}

fn connect(addr: &str) -> io::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&resolve(addr)?, CONNECT_TIMEOUT)?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

impl IpfixSink {
    /// Opens the destination: binds the UDP socket, connects to the TCP
    /// collector (an unreachable one is an error here, to catch typos; later
    /// outages are survived) or creates the file.
    pub fn open(dest: Destination, odid: u32) -> io::Result<IpfixSink> {
        let (transport, config) = match &dest {
            Destination::Udp(addr) => {
                let peer = resolve(addr)?;
                let local: SocketAddr = if peer.is_ipv4() {
                    ([0, 0, 0, 0], 0).into()
                } else {
                    ([0u16; 8], 0).into()
                };
                let socket = UdpSocket::bind(local)?;
                (Transport::Udp { socket, peer }, EncoderConfig::udp(odid))
            }
            Destination::Tcp(addr) => {
                let stream = connect(addr)?;
                let transport = Transport::Tcp {
                    addr: addr.clone(),
                    stream: Some(stream),
                    last_attempt: Instant::now(),
                };
                (transport, EncoderConfig::stream(odid))
            }
            Destination::File(path) => {
                let file = File::create(path)?;
                let transport = Transport::File(BufWriter::with_capacity(1 << 16, file));
                (transport, EncoderConfig::stream(odid))
            }
            Destination::Dir(spec) => {
                std::fs::create_dir_all(&spec.dir)?;
                let transport = Transport::Dir(Rotator {
                    spec: spec.clone(),
                    current: None,
                    completed: Vec::new(),
                });
                (transport, EncoderConfig::stream(odid))
            }
        };
        Ok(IpfixSink {
            dest,
            transport,
            encoder: Encoder::new(config),
            messages: Vec::new(),
            stats: ExportStats::default(),
            clock: Arc::new(now_s),
        })
    }

    /// Replaces the wall clock (seconds since the epoch) that stamps
    /// messages and drives `dir:` rotation.
    pub fn with_clock(mut self, clock: Clock) -> IpfixSink {
        self.clock = clock;
        self
    }

    /// The complete (renamed) files of a `dir:` destination so far, oldest
    /// first; empty for the others.
    pub fn completed_files(&self) -> &[PathBuf] {
        match &self.transport {
            Transport::Dir(r) => &r.completed,
            _ => &[],
        }
    }

    /// Replaces the encoder settings (message length, template refresh).
    pub fn with_config(mut self, config: EncoderConfig) -> IpfixSink {
        self.encoder = Encoder::new(config);
        self
    }

    pub fn stats(&self) -> ExportStats {
        ExportStats {
            l7_dropped: self.encoder.l7_dropped(),
            ..self.stats
        }
    }

    pub fn destination(&self) -> &Destination {
        &self.dest
    }

    /// A TCP exporter that is down tries again, at most once a second.
    fn reconnect(&mut self) {
        let Transport::Tcp {
            addr,
            stream,
            last_attempt,
        } = &mut self.transport
        else {
            return;
        };
        if stream.is_some() || last_attempt.elapsed() < RECONNECT_EVERY {
            return;
        }
        *last_attempt = Instant::now();
        if let Ok(s) = connect(addr) {
            eprintln!("eddy: ipfix tcp://{addr}: reconnected");
            *stream = Some(s);
            self.stats.reconnects += 1;
            // A new connection is a new session: the collector has no templates.
            self.encoder.resend_templates();
        }
    }

    /// Sends one message; Err only for a file (the caller stops). Network
    /// failures are counted drops.
    fn send(&mut self, msg: &[u8]) -> io::Result<bool> {
        match &mut self.transport {
            Transport::Udp { socket, peer } => Ok(socket.send_to(msg, *peer).is_ok()),
            Transport::Tcp { addr, stream, .. } => {
                let Some(s) = stream else {
                    return Ok(false);
                };
                if let Err(err) = s.write_all(msg) {
                    eprintln!(
                        "eddy: ipfix tcp://{addr}: connection lost ({err}); dropping records until it is back"
                    );
                    *stream = None;
                    return Ok(false);
                }
                Ok(true)
            }
            Transport::File(w) => w.write_all(msg).map(|()| true),
            Transport::Dir(r) => {
                let f = r
                    .current
                    .as_mut()
                    .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "no file open"))?;
                f.w.write_all(msg)?;
                f.bytes += msg.len() as u64;
                Ok(true)
            }
        }
    }
}

/// The sequence number in a message header.
fn sequence_of(msg: &[u8]) -> u32 {
    msg.get(8..12)
        .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl FlowSink for IpfixSink {
    fn write(&mut self, records: &[FlowRecord]) -> io::Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        self.reconnect();
        let now = (self.clock)();
        if let Transport::Dir(r) = &mut self.transport {
            if r.needs_new(now) {
                r.open(now)?;
                // Every file decodes on its own.
                self.encoder.resend_templates();
            }
        }
        let mut messages = std::mem::take(&mut self.messages);
        messages.clear();
        self.encoder.encode(records, now as u32, &mut messages);
        let mut result = Ok(());
        // The sequence numbers say how many data records each message holds.
        let next_seq = self.encoder.sequence();
        for (i, msg) in messages.iter().enumerate() {
            let end = messages.get(i + 1).map_or(next_seq, |m| sequence_of(m));
            let n = u64::from(end.wrapping_sub(sequence_of(msg)));
            match self.send(msg) {
                Ok(true) => {
                    self.stats.messages += 1;
                    self.stats.records += n;
                }
                Ok(false) => {
                    self.stats.dropped_messages += 1;
                    self.stats.dropped_records += n;
                }
                Err(err) => {
                    result = Err(err);
                    break;
                }
            }
        }
        self.messages = messages;
        result
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.transport {
            Transport::File(w) => w.flush(),
            Transport::Dir(r) => {
                if r.expired((self.clock)()) {
                    r.close()
                } else {
                    r.current.as_mut().map_or(Ok(()), |f| f.w.flush())
                }
            }
            Transport::Tcp {
                stream: Some(s), ..
            } => {
                let _ = s.flush();
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn finish(&mut self) -> io::Result<()> {
        match &mut self.transport {
            Transport::Dir(r) => r.close(),
            _ => self.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_parse() {
        assert_eq!(
            Destination::parse("udp://127.0.0.1:4739"),
            Ok(Destination::Udp("127.0.0.1:4739".into()))
        );
        assert_eq!(
            Destination::parse("file:/tmp/x.ipfix"),
            Ok(Destination::File("/tmp/x.ipfix".into()))
        );
        assert!(Destination::parse("127.0.0.1:4739").is_err());
    }

    #[test]
    fn tcp_drops_are_counted_and_templates_resent_after_reconnect() {
        use std::io::Read;
        use std::net::TcpListener;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let mut sink = IpfixSink::open(Destination::Tcp(addr), 1).unwrap();
        let (mut conn, _) = listener.accept().unwrap();
        let flows = vec![FlowRecord::default(); 3];
        sink.write(&flows).unwrap();
        let mut first = vec![0u8; 16];
        conn.read_exact(&mut first).unwrap();
        drop(conn);
        // Writes to a closed peer fail once the RST has arrived.
        let mut tries = 0;
        while sink.stats().dropped_records == 0 && tries < 50 {
            sink.write(&flows).unwrap();
            std::thread::sleep(Duration::from_millis(20));
            tries += 1;
        }
        assert!(sink.stats().dropped_records > 0, "{:?}", sink.stats());
        std::thread::sleep(RECONNECT_EVERY);
        sink.write(&flows).unwrap();
        let (mut conn, _) = listener.accept().unwrap();
        assert_eq!(sink.stats().reconnects, 1);
        let mut head = vec![0u8; 18];
        conn.read_exact(&mut head).unwrap();
        // The first set of the new session is the template set.
        assert_eq!(&head[16..18], &[0, 2]);
    }

    #[test]
    fn dir_destinations_parse() {
        let spec = |dir: &str, seconds, max_bytes| {
            Ok(Destination::Dir(RotateSpec {
                dir: dir.into(),
                seconds,
                max_bytes,
            }))
        };
        assert_eq!(
            Destination::parse("dir:/var/eddy"),
            spec("/var/eddy", 300, 0)
        );
        assert_eq!(Destination::parse("dir:/d:60"), spec("/d", 60, 0));
        assert_eq!(Destination::parse("dir:/d:0:64"), spec("/d", 0, 64_000_000));
        assert!(Destination::parse("dir:").is_err());
        assert!(Destination::parse("dir:/d:5m").is_err());
        assert_eq!(
            Destination::parse("dir:/d:60:2").unwrap().to_string(),
            "dir:/d:60:2"
        );
    }

    #[test]
    fn utc_stamps() {
        assert_eq!(utc_stamp(0), "197001010000");
        // 2024-02-29T23:59:59Z
        assert_eq!(utc_stamp(1_709_251_199), "202402292359");
        assert_eq!(utc_stamp(1_709_251_200), "202403010000");
    }

    fn flows(from: u32, n: u32) -> Vec<FlowRecord> {
        (from..from + n)
            .map(|i| FlowRecord {
                src_ip: std::net::Ipv4Addr::from(0x0a00_0000 + i).to_ipv6_mapped(),
                dst_ip: std::net::Ipv4Addr::new(192, 0, 2, 1).to_ipv6_mapped(),
                src_port: (i % 60_000) as u16,
                dst_port: 443,
                proto: 6,
                packets: u64::from(i) + 1,
                bytes: u64::from(i) * 100 + 40,
                ..FlowRecord::default()
            })
            .collect()
    }

    /// Decodes one file with a fresh decoder: its records, and no errors.
    fn decode_file(path: &Path) -> Vec<(std::net::Ipv6Addr, u16, u64, u64)> {
        let bytes = std::fs::read(path).unwrap();
        let mut decoder = crate::Decoder::new();
        let mut out = Vec::new();
        for msg in crate::file_messages(&bytes) {
            let (got, errors) = decoder.decode_flows(1, msg.unwrap());
            assert!(errors.is_empty(), "{}: {errors:?}", path.display());
            out.extend(
                got.iter()
                    .map(|f| (f.src_ip, f.src_port, f.packets, f.bytes)),
            );
        }
        out
    }

    fn key(f: &FlowRecord) -> (std::net::Ipv6Addr, u16, u64, u64) {
        (f.src_ip, f.src_port, f.packets, f.bytes)
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("eddy-rotate-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    /// Complete files in `dir` (part files are dot files), sorted.
    fn listing(dir: &Path) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
            .collect();
        files.sort();
        for f in &files {
            let name = f.file_name().unwrap().to_string_lossy();
            assert!(
                name.starts_with("eddy.") && name.ends_with(".ipfix"),
                "{name}"
            );
        }
        files
    }

    fn no_part_files(dir: &Path) {
        assert_eq!(std::fs::read_dir(dir).unwrap().count(), listing(dir).len());
    }

    #[test]
    fn dir_rotates_by_size_and_every_file_decodes_alone() {
        let dir = temp_dir("size");
        let dest = Destination::Dir(RotateSpec {
            dir: dir.to_string_lossy().into_owned(),
            seconds: 0,
            max_bytes: 1, // every batch starts a new file
        });
        let t = 1_700_000_000;
        let mut sink = IpfixSink::open(dest, 7)
            .unwrap()
            .with_clock(Arc::new(move || t));
        let mut want = Vec::new();
        for batch in 0..5 {
            let f = flows(batch * 100, 100);
            sink.write(&f).unwrap();
            want.extend(f.iter().map(key));
        }
        // The fifth file is still a part file until finish.
        assert_eq!(listing(&dir).len(), 4);
        sink.finish().unwrap();
        no_part_files(&dir);
        let files = listing(&dir);
        assert_eq!(files.len(), 5);
        assert_eq!(sink.completed_files(), &files[..]);
        let stamp = utc_stamp(t);
        assert!(files[0].ends_with(format!("eddy.{stamp}.ipfix")));
        assert!(files[1].ends_with(format!("eddy.{stamp}_002.ipfix")));
        let mut got = Vec::new();
        for (i, f) in files.iter().enumerate() {
            let records = decode_file(f);
            assert_eq!(records.len(), 100, "{}", f.display());
            assert_eq!(records[0].1, (i * 100) as u16);
            got.extend(records);
        }
        assert_eq!(got, want);
        assert_eq!(sink.stats().records, 500);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn dir_rotates_by_a_fake_clock_without_losing_records() {
        use std::sync::atomic::{AtomicU64, Ordering};
        let dir = temp_dir("time");
        let dest = Destination::Dir(RotateSpec {
            dir: dir.to_string_lossy().into_owned(),
            seconds: 60,
            max_bytes: 0,
        });
        let start = 1_700_000_040; // 60 s aligned: 1_700_000_040 % 60 == 0
        assert_eq!(start % 60, 0);
        let now = Arc::new(AtomicU64::new(start + 10));
        let clock = now.clone();
        let mut sink = IpfixSink::open(dest, 7)
            .unwrap()
            .with_clock(Arc::new(move || clock.load(Ordering::SeqCst)));
        let mut want = Vec::new();
        let mut write = |sink: &mut IpfixSink, from, n| {
            let f = flows(from, n);
            sink.write(&f).unwrap();
            want.extend(f.iter().map(key));
        };
        // Period 1: two batches, one file.
        write(&mut sink, 0, 50);
        now.store(start + 59, Ordering::SeqCst);
        write(&mut sink, 50, 50);
        assert!(listing(&dir).is_empty());
        // Period 2.
        now.store(start + 60, Ordering::SeqCst);
        write(&mut sink, 100, 3000);
        assert_eq!(listing(&dir).len(), 1);
        // Period 3 comes with no records: flush closes period 2's file.
        now.store(start + 125, Ordering::SeqCst);
        sink.flush().unwrap();
        assert_eq!(listing(&dir).len(), 2);
        // Period 5 after a gap.
        now.store(start + 250, Ordering::SeqCst);
        write(&mut sink, 3100, 7);
        sink.finish().unwrap();
        no_part_files(&dir);
        let files = listing(&dir);
        let names: Vec<String> = files
            .iter()
            .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [start, start + 60, start + 240].map(|t| format!("eddy.{}.ipfix", utc_stamp(t)))
        );
        let counts: Vec<usize> = files.iter().map(|f| decode_file(f).len()).collect();
        assert_eq!(counts, [100, 3000, 7]);
        let got: Vec<_> = files.iter().flat_map(|f| decode_file(f)).collect();
        assert_eq!(got, want);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
