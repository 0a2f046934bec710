//! Classic pcap files (libpcap's savefile format).
//!
//! A 24-byte file header (magic, version, snaplen, link type) and then
//! records of a 16-byte header plus the captured bytes. The magic number gives
//! the byte order (as the writer's CPU had it) and the timestamp unit
//! (microseconds for 0xa1b2c3d4, nanoseconds for 0xa1b23c4d). The loop is
//! generic over the byte order so that reading a record costs a few loads.
//!
//! The writer's snaplen is not trusted to bound records (tools write 0 or
//! 65535 and then exceed it); [`MAX_RECORD`] does, as in libpcap. A captured
//! length above the original length is passed on as it is: libpcap and
//! Wireshark accept such files, and the frame bytes are all there.

use packet::LinkType;

use crate::bpf::Filter;
use crate::input::{u16_at, u32_at, Be, Input, Le, Order};
use crate::{CaptureError, Event, Frame, PacketSource, SourceStats, MAX_BATCH};

/// Size of the file header.
const FILE_HEADER_LEN: usize = 24;
/// Size of a record header.
const RECORD_HEADER_LEN: usize = 16;
/// Largest captured length we accept in a record (libpcap's largest snaplen).
pub const MAX_RECORD: u32 = 256 << 10;

pub(crate) struct PcapSource {
    input: Input,
    big_endian: bool,
    /// Nanoseconds per timestamp fraction unit (1000 for µs files, 1 for ns).
    frac_ns: u64,
    link: Option<LinkType>,
    filter: Option<(Filter, usize)>,
    stats: SourceStats,
    done: bool,
}

impl PcapSource {
    /// Reads the file header; `input` holds at least the 4 magic bytes.
    pub fn open(
        mut input: Input,
        big_endian: bool,
        nanos: bool,
        filter: Option<Filter>,
    ) -> Result<PcapSource, CaptureError> {
        if !input.fill(FILE_HEADER_LEN)? {
            let n = input.avail();
            return Err(input.error_at(
                n,
                format!("file ends inside the {FILE_HEADER_LEN}-byte pcap file header"),
            ));
        }
        let header = input.window();
        let (major, minor, linkfield) = if big_endian {
            read_header::<Be>(header)
        } else {
            read_header::<Le>(header)
        };
        if major != 2 {
            return Err(input.error_at(4, format!("unsupported pcap version {major}.{minor}")));
        }
        // The upper bits carry the FCS length and reserved flags.
        let linktype = linkfield & 0xffff;
        let link = LinkType::from_linktype(linktype);
        let filter = match (filter, link) {
            (Some(mut filter), Some(_)) => {
                let idx = filter.program_for(linktype)?;
                Some((filter, idx))
            }
            _ => None,
        };
        input.consume(FILE_HEADER_LEN);
        Ok(PcapSource {
            input,
            big_endian,
            frac_ns: if nanos { 1 } else { 1000 },
            link,
            filter,
            stats: SourceStats::default(),
            done: false,
        })
    }

    fn run_order<O: Order>(
        &mut self,
        on_event: &mut dyn FnMut(Event<'_>),
    ) -> Result<(), CaptureError> {
        loop {
            let input = &mut self.input;
            let stats = &mut self.stats;
            if input.avail() < RECORD_HEADER_LEN && !input.fill(RECORD_HEADER_LEN)? {
                if input.avail() > 0 {
                    stats.truncated_records += 1;
                }
                return Ok(());
            }
            let Some(header) = input.window().first_chunk::<RECORD_HEADER_LEN>() else {
                return Ok(());
            };
            let caplen = u32_at::<O>(header, 8);
            if caplen > MAX_RECORD {
                return Err(input.error_at(
                    8,
                    format!(
                        "record captured length {caplen} exceeds the cap of {MAX_RECORD} bytes"
                    ),
                ));
            }
            let record_len = RECORD_HEADER_LEN + caplen as usize;
            if input.avail() < record_len && !input.fill(record_len)? {
                stats.truncated_records += 1;
                return Ok(());
            }
            // At least that record is whole in the buffer: it goes out with
            // those after it that are whole too.
            let used = self.deliver_whole_records::<O>(on_event);
            self.input.consume(used);
        }
    }

    /// Hands the records at the start of the read buffer that lie whole in
    /// it (at most [`MAX_BATCH`]) to `on_event` as one batch, and returns
    /// the bytes they take. A record cut by the buffer's end, or with a bad
    /// length, is left for `run_order`, which reads on or reports it.
    fn deliver_whole_records<O: Order>(&mut self, on_event: &mut dyn FnMut(Event<'_>)) -> usize {
        let window = self.input.window();
        let stats = &mut self.stats;
        let mut frames = [Frame::EMPTY; MAX_BATCH];
        let mut batched = 0;
        let mut used = 0;
        for _ in 0..MAX_BATCH {
            let Some(header) = window
                .get(used..)
                .and_then(|rest| rest.first_chunk::<RECORD_HEADER_LEN>())
            else {
                break;
            };
            let caplen = u32_at::<O>(header, 8);
            if caplen > MAX_RECORD {
                break;
            }
            let record_len = RECORD_HEADER_LEN + caplen as usize;
            let Some(data) = window.get(used + RECORD_HEADER_LEN..used + record_len) else {
                break;
            };
            used += record_len;
            let Some(link) = self.link else {
                stats.unsupported_link += 1;
                continue;
            };
            if let Some((filter, idx)) = &self.filter {
                if !filter.matches(*idx, data) {
                    stats.filtered += 1;
                    continue;
                }
            }
            let ts_sec = u32_at::<O>(header, 0);
            let ts_frac = u32_at::<O>(header, 4);
            frames[batched] = Frame {
                ts_ns: u64::from(ts_sec) * 1_000_000_000 + u64::from(ts_frac) * self.frac_ns,
                orig_len: u32_at::<O>(header, 12),
                link,
                data,
            };
            batched += 1;
        }
        stats.frames += batched as u64;
        if batched > 0 {
            on_event(Event::Frames(&frames[..batched]));
        }
        used
    }
}

fn read_header<O: Order>(header: &[u8]) -> (u16, u16, u32) {
    (
        u16_at::<O>(header, 4),
        u16_at::<O>(header, 6),
        u32_at::<O>(header, 20),
    )
}

impl PacketSource for PcapSource {
    fn run(&mut self, on_event: &mut dyn FnMut(Event<'_>)) -> Result<(), CaptureError> {
        if self.done {
            return Ok(());
        }
        let result = if self.big_endian {
            self.run_order::<Be>(on_event)
        } else {
            self.run_order::<Le>(on_event)
        };
        self.done = true;
        result
    }

    fn stats(&self) -> SourceStats {
        self.stats
    }
}
