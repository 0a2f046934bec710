//! `eddy send -i FILE -d HOST -p PORT -t udp|tcp`: replays an IPFIX file
//! (RFC 5655) to a collector, as ipfixsend does.
//!
//! Each message goes out unchanged: one UDP datagram per message, or all of
//! them back to back over one TCP connection. `--rate` paces the messages
//! against an absolute schedule (message k leaves at start + k/rate), so a
//! late message is sent at once and the lateness does not accumulate; the
//! sender only sleeps when it is more than [`SLEEP_THRESHOLD`] ahead, which
//! makes high rates go out in short bursts instead of one sleep per message.

use std::fs;
use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};

/// Sleep only when the schedule is at least this far ahead: shorter sleeps
/// cost more in timer slack than they gain in smoothness.
const SLEEP_THRESHOLD: Duration = Duration::from_micros(200);

#[derive(Args, Debug)]
pub struct SendArgs {
    /// IPFIX file to send (RFC 5655: messages back to back).
    #[arg(short = 'i', long = "input")]
    input: PathBuf,
    /// Collector host name or address.
    #[arg(short = 'd', long = "dest", default_value = "127.0.0.1")]
    dest: String,
    /// Collector port.
    #[arg(short = 'p', long = "port", default_value_t = 4739)]
    port: u16,
    /// Transport: each message as one UDP datagram, or one TCP connection.
    #[arg(short = 't', long = "transport", value_enum, default_value_t = Transport::Udp)]
    transport: Transport,
    /// Messages per second (0: as fast as possible).
    #[arg(short = 'r', long, default_value_t = 0.0)]
    rate: f64,
    /// How many times to send the whole file.
    #[arg(short = 'n', long, default_value_t = 1,
          value_parser = clap::value_parser!(u64).range(1..))]
    loops: u64,
    /// No summary on stderr.
    #[arg(short = 'q', long)]
    quiet: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Transport {
    Udp,
    Tcp,
}

impl Transport {
    fn name(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
        }
    }
}

/// Where the messages go.
enum Link {
    Udp { socket: UdpSocket, to: SocketAddr },
    Tcp(TcpStream),
}

impl Link {
    fn open(transport: Transport, host: &str, port: u16) -> Result<Link> {
        let addrs: Vec<SocketAddr> = (host, port)
            .to_socket_addrs()
            .with_context(|| format!("cannot resolve {host}:{port}"))?
            .collect();
        match transport {
            Transport::Udp => {
                let to = *addrs
                    .first()
                    .with_context(|| format!("{host}:{port} resolves to no address"))?;
                let local: SocketAddr = if to.is_ipv4() {
                    ([0u8; 4], 0).into()
                } else {
                    ([0u16; 8], 0).into()
                };
                // Not connected: an ICMP port unreachable from a collector
                // that is not up yet must not stop a replay over UDP.
                let socket = UdpSocket::bind(local)
                    .with_context(|| format!("cannot open a UDP socket for {to}"))?;
                Ok(Link::Udp { socket, to })
            }
            Transport::Tcp => {
                let stream = TcpStream::connect(&addrs[..])
                    .with_context(|| format!("cannot connect to tcp://{host}:{port}"))?;
                // Paced messages should leave when they are due.
                stream.set_nodelay(true).ok();
                Ok(Link::Tcp(stream))
            }
        }
    }

    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        match self {
            Link::Udp { socket, to } => {
                let n = socket.send_to(msg, *to)?;
                if n != msg.len() {
                    return Err(io::Error::new(
                        io::ErrorKind::WriteZero,
                        format!("datagram cut to {n} of {} bytes", msg.len()),
                    ));
                }
                Ok(())
            }
            Link::Tcp(stream) => stream.write_all(msg),
        }
    }

    fn finish(self) -> io::Result<()> {
        match self {
            Link::Udp { .. } => Ok(()),
            Link::Tcp(mut stream) => {
                stream.flush()?;
                stream.shutdown(std::net::Shutdown::Write)
            }
        }
    }
}

/// Splits a whole file into its messages, or says where it stops being IPFIX.
fn split<'a>(buf: &'a [u8], path: &str) -> Result<Vec<&'a [u8]>> {
    let mut messages = Vec::new();
    let mut pos = 0usize;
    for msg in ipfix::file_messages(buf) {
        match msg {
            Ok(msg) => {
                pos += msg.len();
                messages.push(msg);
            }
            Err(e) => bail!(
                "{path} is not a clean IPFIX file: message {} (starting at byte {pos}), {e}",
                messages.len() + 1
            ),
        }
    }
    if messages.is_empty() {
        bail!("{path} holds no IPFIX message");
    }
    Ok(messages)
}

pub fn run(args: SendArgs) -> Result<()> {
    let path = args.input.display().to_string();
    let buf = fs::read(&args.input).with_context(|| format!("cannot read {path}"))?;
    let messages = split(&buf, &path)?;
    if !args.rate.is_finite() || args.rate < 0.0 {
        bail!("--rate must be a number of messages per second, 0 or more");
    }
    let dest = format!("{}://{}:{}", args.transport.name(), args.dest, args.port);
    let mut link = Link::open(args.transport, &args.dest, args.port)?;

    // Seconds between messages; None: no pacing.
    let interval = (args.rate > 0.0).then(|| 1.0 / args.rate);
    let start = Instant::now();
    let mut sent: u64 = 0;
    let mut bytes: u64 = 0;
    for round in 0..args.loops {
        for (i, msg) in messages.iter().enumerate() {
            if let Some(interval) = interval {
                let due = start + Duration::from_secs_f64(sent as f64 * interval);
                let now = Instant::now();
                if due > now + SLEEP_THRESHOLD {
                    std::thread::sleep(due - now);
                }
            }
            link.send(msg).with_context(|| {
                format!(
                    "cannot send message {} of {path} (loop {}) to {dest}",
                    i + 1,
                    round + 1
                )
            })?;
            sent += 1;
            bytes += msg.len() as u64;
        }
    }
    link.finish()
        .with_context(|| format!("cannot close the connection to {dest}"))?;
    let elapsed = start.elapsed().as_secs_f64();

    if !args.quiet {
        let rate = if elapsed > 0.0 {
            sent as f64 / elapsed
        } else {
            f64::INFINITY
        };
        eprintln!(
            "sent {sent} messages, {bytes} bytes to {dest} in {elapsed:.3} s ({rate:.1} msg/s, {:.3} Mbit/s)",
            if elapsed > 0.0 {
                bytes as f64 * 8.0 / elapsed / 1e6
            } else {
                f64::INFINITY
            }
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_reports_the_offset_of_a_bad_message() {
        let mut file = Vec::new();
        for _ in 0..2 {
            file.extend_from_slice(&[0, 10, 0, 16]);
            file.extend_from_slice(&[0; 12]);
        }
        assert_eq!(split(&file, "f").unwrap().len(), 2);
        file.extend_from_slice(&[0, 9, 0, 16]);
        let err = split(&file, "f").unwrap_err().to_string();
        assert!(err.contains("message 3 (starting at byte 32)"), "{err}");
        assert!(split(&[], "f").is_err());
    }
}
