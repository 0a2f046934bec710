//! Live capture from a network interface through libpcap.
//!
//! The handle is non-blocking and we wait on its file descriptor with
//! `poll(2)` ourselves, for at most [`POLL_MS`]: libpcap's own read timeout
//! does not fire on Linux's TPACKET_V3 ring while no packet arrives, and the
//! flow cache needs wall-clock [`Event::Tick`]s precisely when traffic stops.
//! The ring keeps its batching (a block is handed over when full or after the
//! 100 ms read timeout), so a busy interface costs one `pcap_dispatch` per
//! block, not per packet.
//!
//! The BPF filter runs in the kernel, so frames it rejects are never seen and
//! `SourceStats::filtered` stays 0 for live sources.

use std::os::unix::io::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use packet::LinkType;
use pcap::{Active, Capture};

use crate::{CaptureError, Event, Frame, PacketSource, SourceStats};

/// Longest wait for packets before looking at the stop flag and the clock.
const POLL_MS: i32 = 100;
/// libpcap's read timeout: how long a partly filled ring block waits.
const READ_TIMEOUT_MS: i32 = 100;
/// Interval of wall-clock ticks; with [`POLL_MS`] of slack this keeps the
/// promise of at least one tick per second.
const TICK_NS: u64 = 500_000_000;
/// Kernel ring size: large enough to ride out a slow flow-cache pass at
/// millions of packets per second.
const RING_BYTES: i32 = 64 << 20;

pub(crate) struct LiveSource {
    iface: String,
    capture: Capture<Active>,
    /// The capture socket, for poll(2).
    fd: std::os::unix::io::RawFd,
    link: LinkType,
    stop: Arc<AtomicBool>,
    stats: SourceStats,
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

impl LiveSource {
    pub fn open(
        iface: &str,
        filter: Option<&str>,
        snaplen: u32,
        stop: Arc<AtomicBool>,
    ) -> Result<LiveSource, CaptureError> {
        let live_error = |message: String| CaptureError::Live {
            iface: iface.to_string(),
            message,
        };
        let snaplen = i32::try_from(snaplen).unwrap_or(i32::MAX);
        let mut capture = Capture::from_device(iface)
            .map_err(|e| live_error(e.to_string()))?
            .promisc(true)
            .snaplen(snaplen)
            .timeout(READ_TIMEOUT_MS)
            .buffer_size(RING_BYTES)
            .open()
            .map_err(|e| live_error(e.to_string()))?
            .setnonblock()
            .map_err(|e| live_error(e.to_string()))?;
        let linktype = capture.get_datalink();
        let link = u32::try_from(linktype.0)
            .ok()
            .and_then(LinkType::from_linktype)
            .ok_or_else(|| {
                let name = linktype.get_name().unwrap_or_default();
                CaptureError::Unsupported(format!(
                    "{iface}: link type {} ({name}) is not one eddy decodes",
                    linktype.0
                ))
            })?;
        if let Some(expr) = filter {
            capture
                .filter(expr, true)
                .map_err(|e| CaptureError::Filter {
                    expr: expr.to_string(),
                    message: e.to_string(),
                })?;
        }
        // Every activated live capture on Linux and the BSDs has a socket.
        let fd = capture.as_raw_fd();
        Ok(LiveSource {
            iface: iface.to_string(),
            capture,
            fd,
            link,
            stop,
            stats: SourceStats::default(),
        })
    }

    /// Waits until the descriptor is readable or `POLL_MS` pass.
    fn wait(&self) -> Result<(), CaptureError> {
        let mut pfd = libc::pollfd {
            fd: self.fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: `pfd` is one valid pollfd that outlives the call.
        let rc = unsafe { libc::poll(&mut pfd, 1, POLL_MS) };
        if rc < 0 {
            let err = std::io::Error::last_os_error();
            if err.kind() != std::io::ErrorKind::Interrupted {
                return Err(CaptureError::Live {
                    iface: self.iface.clone(),
                    message: format!("poll: {err}"),
                });
            }
        }
        Ok(())
    }

    /// Copies the kernel's drop counters into our stats.
    fn update_drops(&mut self) {
        if let Ok(stat) = self.capture.stats() {
            self.stats.kernel_dropped = u64::from(stat.dropped) + u64::from(stat.if_dropped);
        }
    }
}

impl PacketSource for LiveSource {
    fn run(&mut self, on_event: &mut dyn FnMut(Event<'_>)) -> Result<(), CaptureError> {
        let mut last_tick = now_ns();
        on_event(Event::Tick(last_tick));
        while !self.stop.load(Ordering::Relaxed) {
            let link = self.link;
            let frames = &mut self.stats.frames;
            let n = self
                .capture
                .dispatch(None, |packet| {
                    let ts = packet.header.ts;
                    let secs = u64::try_from(ts.tv_sec).unwrap_or(0);
                    let usecs = u64::try_from(ts.tv_usec).unwrap_or(0);
                    *frames += 1;
                    let frame = Frame {
                        ts_ns: secs
                            .saturating_mul(1_000_000_000)
                            .saturating_add(usecs.saturating_mul(1000)),
                        orig_len: packet.header.len,
                        link,
                        data: packet.data,
                    };
                    on_event(Event::Frames(std::slice::from_ref(&frame)));
                })
                .map_err(|e| CaptureError::Live {
                    iface: self.iface.clone(),
                    message: e.to_string(),
                })?;
            let now = now_ns();
            if now.saturating_sub(last_tick) >= TICK_NS {
                self.update_drops();
                on_event(Event::Tick(now));
                last_tick = now;
            }
            if n == 0 {
                self.wait()?;
            }
        }
        self.update_drops();
        Ok(())
    }

    fn stats(&self) -> SourceStats {
        self.stats
    }
}
