//! Packet sources: pcap and pcapng files (or stdin), and live interfaces.
//!
//! A source pushes borrowed frames to a callback (no copy, no allocation per
//! packet) and, for live capture, wall-clock ticks so that the flow cache can
//! expire flows when traffic stops. File readers parse in place in one large
//! read buffer; every length read from a file is checked against a named cap
//! ([`MAX_PCAP_RECORD`], [`MAX_PCAPNG_BLOCK`]) before the buffer may grow,
//! and a bad length is a [`CaptureError::Format`] naming the file and offset.
//!
//! The format is told by the first four bytes, not by the file name: shared
//! captures named `.pcap` are often pcapng and the other way round.
//!
//! What it does not do: decode frames (the `packet` crate does), reorder
//! frames by time, or read compressed files (pipe them through `zcat` into
//! `-`). BPF filters and live capture use the system libpcap and exist only
//! with the `libpcap` feature. The file readers are our own rather than
//! libpcap's: they are the hot path, they must fail on hostile input with the
//! offset of the bad length, and they work where libpcap is not installed.
//!
//! A file cut in the middle of its last record (a capture killed while
//! writing) ends the run normally and sets [`SourceStats::truncated_records`]
//! so that the caller can warn.

mod bpf;
mod classic;
mod input;
#[cfg(feature = "libpcap")]
mod live;
mod pcapng;

use std::io::Read;

use packet::LinkType;

pub use classic::MAX_RECORD as MAX_PCAP_RECORD;
pub use pcapng::{MAX_BLOCK as MAX_PCAPNG_BLOCK, MAX_INTERFACES as MAX_PCAPNG_INTERFACES};

/// One captured frame, borrowed from the source's buffer.
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    /// Capture time, nanoseconds since the Unix epoch.
    pub ts_ns: u64,
    /// Length of the packet on the wire (may exceed `data.len()` when snapped).
    pub orig_len: u32,
    pub link: LinkType,
    pub data: &'a [u8],
}

impl Frame<'_> {
    /// A frame of no bytes, to fill arrays with.
    pub const EMPTY: Frame<'static> = Frame {
        ts_ns: 0,
        orig_len: 0,
        link: LinkType::Ethernet,
        data: &[],
    };
}

/// Most frames in one [`Event::Frames`].
pub const MAX_BATCH: usize = 32;

/// What a source hands to its callback.
#[derive(Clone, Copy, Debug)]
pub enum Event<'a> {
    /// Frames in capture order, at least one and at most [`MAX_BATCH`]. A
    /// file source hands over the records that lie whole in its read
    /// buffer together, so that the consumer can ask for the memory of the
    /// packets ahead while it works on the current one; a live source hands
    /// over one frame at a time.
    Frames(&'a [Frame<'a>]),
    /// Wall-clock time (ns since epoch); live sources send one at least every second.
    Tick(u64),
}

/// Counters a source keeps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SourceStats {
    /// Frames handed to the callback.
    pub frames: u64,
    /// Frames the BPF filter rejected (file sources; a live source filters
    /// in the kernel and never sees them).
    pub filtered: u64,
    /// Frames whose link type we cannot decode (counted, skipped).
    pub unsupported_link: u64,
    /// Frames the kernel dropped (live capture only).
    pub kernel_dropped: u64,
    /// Records cut short by the end of the input (0 or 1: a file killed
    /// mid-write ends inside its last record). The run still succeeds.
    pub truncated_records: u64,
}

#[derive(Debug)]
pub enum CaptureError {
    Io {
        path: String,
        source: std::io::Error,
    },
    Format {
        path: String,
        offset: u64,
        message: String,
    },
    Unsupported(String),
    /// A BPF filter that libpcap cannot compile (its message included).
    Filter {
        expr: String,
        message: String,
    },
    /// libpcap refused to open or read a live interface.
    Live {
        iface: String,
        message: String,
    },
}

impl std::fmt::Display for CaptureError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CaptureError::Io { path, source } => write!(f, "{path}: {source}"),
            CaptureError::Format {
                path,
                offset,
                message,
            } => {
                write!(f, "{path}: at byte {offset}: {message}")
            }
            CaptureError::Unsupported(m) => f.write_str(m),
            CaptureError::Filter { expr, message } => {
                write!(f, "filter \"{expr}\": {message}")
            }
            CaptureError::Live { iface, message } => write!(f, "interface {iface}: {message}"),
        }
    }
}

/// The I/O cause is part of the message, so `source()` stays `None`:
/// error chains (anyhow's `{:#}`) would print it twice otherwise.
impl std::error::Error for CaptureError {}

/// A packet source (push model).
pub trait PacketSource {
    /// Runs until the input ends (or a live source is stopped), calling
    /// `on_event` for every frame and tick.
    fn run(&mut self, on_event: &mut dyn FnMut(Event<'_>)) -> Result<(), CaptureError>;
    fn stats(&self) -> SourceStats;
}

/// Opens a pcap or pcapng file; `-` reads standard input.
pub fn open_file(path: &str) -> Result<Box<dyn PacketSource>, CaptureError> {
    open_file_filtered(path, None)
}

/// Opens a pcap or pcapng file (`-` for standard input), keeping only the
/// frames that the BPF expression `filter` accepts. Filters need the
/// `libpcap` feature; without it any filter is `CaptureError::Unsupported`.
pub fn open_file_filtered(
    path: &str,
    filter: Option<&str>,
) -> Result<Box<dyn PacketSource>, CaptureError> {
    // A filter we cannot apply is refused before the input is touched.
    let filter = filter.map(bpf::Filter::new).transpose()?;
    if path == "-" {
        return open_with(Box::new(std::io::stdin()), "<stdin>", filter);
    }
    let file = std::fs::File::open(path).map_err(|source| CaptureError::Io {
        path: path.to_string(),
        source,
    })?;
    open_with(Box::new(file), path, filter)
}

/// Reads a capture from any reader (memory, a pipe, a socket); `name` is what
/// errors call it.
pub fn open_reader(
    reader: Box<dyn Read + Send>,
    name: &str,
    filter: Option<&str>,
) -> Result<Box<dyn PacketSource>, CaptureError> {
    let filter = filter.map(bpf::Filter::new).transpose()?;
    open_with(reader, name, filter)
}

/// Tells the format by the magic number and opens the matching reader.
fn open_with(
    reader: Box<dyn Read + Send>,
    name: &str,
    filter: Option<bpf::Filter>,
) -> Result<Box<dyn PacketSource>, CaptureError> {
    let mut input = input::Input::new(reader, name);
    if !input.fill(4)? {
        let message = if input.avail() == 0 {
            "empty file: no pcap or pcapng header".to_string()
        } else {
            format!(
                "file of {} bytes is too short for a pcap or pcapng header",
                input.avail()
            )
        };
        return Err(input.error_at(0, message));
    }
    let magic = input
        .window()
        .first_chunk::<4>()
        .copied()
        .unwrap_or_default();
    Ok(match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] => {
            Box::new(classic::PcapSource::open(input, false, false, filter)?)
        }
        [0xa1, 0xb2, 0xc3, 0xd4] => {
            Box::new(classic::PcapSource::open(input, true, false, filter)?)
        }
        [0x4d, 0x3c, 0xb2, 0xa1] => {
            Box::new(classic::PcapSource::open(input, false, true, filter)?)
        }
        [0xa1, 0xb2, 0x3c, 0x4d] => Box::new(classic::PcapSource::open(input, true, true, filter)?),
        [0x0a, 0x0d, 0x0d, 0x0a] => Box::new(pcapng::PcapngSource::open(input, filter)?),
        [0x1f, 0x8b, _, _] => {
            return Err(input.error_at(
                0,
                "gzip-compressed file: decompress it first (zcat FILE | ... -r -)".into(),
            ))
        }
        [0x34, 0xcd, 0xb2, 0xa1] | [0xa1, 0xb2, 0xcd, 0x34] => {
            return Err(input.error_at(
                0,
                "modified (Kuznetzov) pcap format is not supported; convert it with editcap".into(),
            ))
        }
        _ => {
            return Err(input.error_at(
                0,
                format!("not a pcap or pcapng file (starts with {magic:02x?})"),
            ))
        }
    })
}

/// Captures from a live interface (promiscuous, `snaplen` bytes per frame,
/// BPF `filter` applied in the kernel) until `stop` is set. The source sends
/// an [`Event::Tick`] at least once a second and reports kernel drops in
/// [`SourceStats::kernel_dropped`]. Needs the `libpcap` feature and usually
/// root or `CAP_NET_RAW`.
#[cfg(feature = "libpcap")]
pub fn open_live(
    iface: &str,
    filter: Option<&str>,
    snaplen: u32,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> Result<Box<dyn PacketSource>, CaptureError> {
    Ok(Box::new(live::LiveSource::open(
        iface, filter, snaplen, stop,
    )?))
}

/// Without the `libpcap` feature live capture is unavailable; this says so
/// instead of failing to link, so the binary can offer the option anyway.
#[cfg(not(feature = "libpcap"))]
pub fn open_live(
    _iface: &str,
    _filter: Option<&str>,
    _snaplen: u32,
    _stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> Result<Box<dyn PacketSource>, CaptureError> {
    Err(CaptureError::Unsupported(
        "live capture needs eddy built with the libpcap feature".to_string(),
    ))
}
