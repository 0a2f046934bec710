//! The exporter: a [`record::FlowSink`] that encodes flow records
//! ([`crate::encode`]) and sends them over UDP or TCP or appends them to an
//! IPFIX file (RFC 5655: messages back to back).
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
}

impl Destination {
    /// `udp://HOST:PORT`, `tcp://HOST:PORT` or `file:PATH`.
    pub fn parse(s: &str) -> Result<Destination, String> {
        if let Some(rest) = s.strip_prefix("udp://") {
            Ok(Destination::Udp(rest.to_string()))
        } else if let Some(rest) = s.strip_prefix("tcp://") {
            Ok(Destination::Tcp(rest.to_string()))
        } else if let Some(rest) = s.strip_prefix("file:") {
            Ok(Destination::File(rest.to_string()))
        } else {
            Err(format!(
                "'{s}': expected udp://HOST:PORT, tcp://HOST:PORT or file:PATH"
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
}

/// A flow sink that exports IPFIX.
pub struct IpfixSink {
    dest: Destination,
    transport: Transport,
    encoder: Encoder,
    messages: Vec<Vec<u8>>,
    stats: ExportStats,
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
        };
        Ok(IpfixSink {
            dest,
            transport,
            encoder: Encoder::new(config),
            messages: Vec::new(),
            stats: ExportStats::default(),
        })
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
        }
    }
}

/// The sequence number in a message header.
fn sequence_of(msg: &[u8]) -> u32 {
    msg.get(8..12)
        .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

fn now_s() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as u32)
}

impl FlowSink for IpfixSink {
    fn write(&mut self, records: &[FlowRecord]) -> io::Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        self.reconnect();
        let mut messages = std::mem::take(&mut self.messages);
        messages.clear();
        self.encoder.encode(records, now_s(), &mut messages);
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
        self.flush()
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
}
