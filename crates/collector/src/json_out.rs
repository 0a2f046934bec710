//! Where JSON lines go: stdout, a file, rotating files, a TCP peer or UDP
//! datagrams (one line each). Each target is a `Write` the text sink writes
//! whole lines into; what a target cannot deliver is counted, not hidden.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::net::{TcpStream, ToSocketAddrs, UdpSocket};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Lines a target could not deliver (a TCP peer down, a UDP send error).
pub type Dropped = Arc<AtomicU64>;

/// `-`, `PATH`, `dir:DIR[:SECONDS]`, `tcp://HOST:PORT`, `udp://HOST:PORT`.
pub fn open(to: &str) -> Result<(Box<dyn Write + Send>, Dropped), String> {
    let dropped: Dropped = Arc::new(AtomicU64::new(0));
    let target: Box<dyn Write + Send> = if to == "-" {
        Box::new(io::stdout())
    } else if let Some(addr) = to.strip_prefix("tcp://") {
        Box::new(BufWriter::with_capacity(
            1 << 16,
            Tcp::connect(addr, dropped.clone())?,
        ))
    } else if let Some(addr) = to.strip_prefix("udp://") {
        Box::new(Udp::open(addr, dropped.clone())?)
    } else if let Some(spec) = to.strip_prefix("dir:") {
        Box::new(Rotating::open(spec)?)
    } else {
        let f = File::create(to).map_err(|e| format!("json output {to}: {e}"))?;
        Box::new(BufWriter::with_capacity(1 << 16, f))
    };
    Ok((target, dropped))
}

fn resolve(addr: &str) -> Result<std::net::SocketAddr, String> {
    addr.to_socket_addrs()
        .map_err(|e| format!("{addr}: {e}"))?
        .next()
        .ok_or_else(|| format!("{addr}: no address"))
}

/// A TCP peer, reconnected at most once a second while down; lines written
/// while it is down are dropped and counted.
struct Tcp {
    addr: std::net::SocketAddr,
    stream: Option<TcpStream>,
    last_attempt: Instant,
    dropped: Dropped,
}

impl Tcp {
    fn connect(addr: &str, dropped: Dropped) -> Result<Tcp, String> {
        let addr = resolve(addr)?;
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))
            .map_err(|e| format!("json output tcp://{addr}: {e}"))?;
        Ok(Tcp {
            addr,
            stream: Some(stream),
            last_attempt: Instant::now(),
            dropped,
        })
    }
}

impl Write for Tcp {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.stream.is_none() && self.last_attempt.elapsed() >= Duration::from_secs(1) {
            self.last_attempt = Instant::now();
            self.stream = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1)).ok();
        }
        if let Some(s) = &mut self.stream {
            if s.write_all(buf).is_ok() {
                return Ok(buf.len());
            }
            self.stream = None;
        }
        let lines = buf.iter().filter(|&&b| b == b'\n').count() as u64;
        self.dropped.fetch_add(lines.max(1), Ordering::Relaxed);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if let Some(s) = &mut self.stream {
            if s.flush().is_err() {
                self.stream = None;
            }
        }
        Ok(())
    }
}

/// One datagram per line (lines longer than a datagram are dropped and
/// counted).
struct Udp {
    socket: UdpSocket,
    line: Vec<u8>,
    dropped: Dropped,
}

impl Udp {
    fn open(addr: &str, dropped: Dropped) -> Result<Udp, String> {
        let peer = resolve(addr)?;
        let local = if peer.is_ipv4() {
            "0.0.0.0:0"
        } else {
            "[::]:0"
        };
        let socket = UdpSocket::bind(local).map_err(|e| format!("json output udp: {e}"))?;
        socket
            .connect(peer)
            .map_err(|e| format!("json output udp://{peer}: {e}"))?;
        Ok(Udp {
            socket,
            line: Vec::with_capacity(2048),
            dropped,
        })
    }
}

impl Write for Udp {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        for &b in buf {
            if b == b'\n' {
                if self.socket.send(&self.line).is_err() {
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                }
                self.line.clear();
            } else {
                self.line.push(b);
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// `DIR/eddy.YYYYMMDDhhmm.json`, a new file every `seconds` (default 300),
/// written under a hidden name and renamed when complete.
struct Rotating {
    dir: PathBuf,
    seconds: u64,
    current: Option<(u64, PathBuf, BufWriter<File>)>,
}

impl Rotating {
    fn open(spec: &str) -> Result<Rotating, String> {
        let (dir, seconds) = match spec.rsplit_once(':') {
            Some((d, s)) if s.chars().all(|c| c.is_ascii_digit()) && !s.is_empty() => (
                d,
                s.parse::<u64>()
                    .map_err(|_| format!("dir:{spec}: bad SECONDS"))?,
            ),
            _ => (spec, 300),
        };
        std::fs::create_dir_all(dir).map_err(|e| format!("json output dir:{dir}: {e}"))?;
        Ok(Rotating {
            dir: PathBuf::from(dir),
            seconds: seconds.max(1),
            current: None,
        })
    }

    fn name(&self, start: u64) -> String {
        format!("eddy.{}.json", store::layout::stamp(start))
    }

    fn close_current(&mut self) -> io::Result<()> {
        if let Some((start, temp, mut w)) = self.current.take() {
            w.flush()?;
            std::fs::rename(&temp, self.dir.join(self.name(start)))?;
        }
        Ok(())
    }

    fn file_for_now(&mut self) -> io::Result<&mut BufWriter<File>> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let start = now - now % self.seconds;
        if self.current.as_ref().is_some_and(|c| c.0 != start) {
            self.close_current()?;
        }
        if self.current.is_none() {
            let temp = self.dir.join(format!(".{}.tmp", self.name(start)));
            let f = File::create(&temp)?;
            self.current = Some((start, temp, BufWriter::with_capacity(1 << 16, f)));
        }
        match &mut self.current {
            Some((_, _, w)) => Ok(w),
            None => Err(io::Error::other("no current file")),
        }
    }
}

impl Write for Rotating {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file_for_now()?.write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if let Some((_, _, w)) = &mut self.current {
            w.flush()?;
        }
        Ok(())
    }
}

impl Drop for Rotating {
    fn drop(&mut self) {
        let _ = self.close_current();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};
    use std::net::TcpListener;

    #[test]
    fn udp_sends_a_datagram_per_line() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = rx.local_addr().unwrap();
        let (mut w, dropped) = open(&format!("udp://{addr}")).unwrap();
        w.write_all(b"{\"a\":1}\n{\"b\":").unwrap();
        w.write_all(b"2}\n").unwrap();
        let mut buf = [0u8; 64];
        let n = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"{\"a\":1}");
        let n = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"{\"b\":2}");
        assert_eq!(dropped.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn tcp_delivers_lines_and_counts_them_while_down() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (mut w, dropped) = open(&format!("tcp://{addr}")).unwrap();
        let (peer, _) = listener.accept().unwrap();
        w.write_all(b"one\ntwo\n").unwrap();
        w.flush().unwrap();
        let mut lines = BufReader::new(peer).lines();
        assert_eq!(lines.next().unwrap().unwrap(), "one");
        assert_eq!(lines.next().unwrap().unwrap(), "two");
        drop(lines);
        drop(listener);
        // The peer is gone: writes are counted, never an error.
        for _ in 0..50 {
            w.write_all(&[b'x'; 60_000]).unwrap();
            w.write_all(b"\n").unwrap();
            w.flush().unwrap();
        }
        assert!(dropped.load(Ordering::Relaxed) > 0);
        assert!(open("tcp://127.0.0.1:1").is_err());
    }

    #[test]
    fn rotating_files_are_renamed_when_complete() {
        let dir = std::env::temp_dir().join(format!("eddy-json-rot-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (mut w, _) = open(&format!("dir:{}:60", dir.display())).unwrap();
        w.write_all(b"{}\n").unwrap();
        let hidden = std::fs::read_dir(&dir).unwrap().count();
        assert_eq!(hidden, 1);
        drop(w);
        let names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        assert_eq!(names.len(), 1);
        assert!(
            names[0].starts_with("eddy.") && names[0].ends_with(".json"),
            "{names:?}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
