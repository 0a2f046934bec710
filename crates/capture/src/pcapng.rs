//! pcapng files (the format of Wireshark and dumpcap).
//!
//! A file is a list of sections; each starts with a Section Header Block whose
//! byte-order magic fixes the byte order of every block up to the next
//! section. Interface Description Blocks number the interfaces of a section
//! (link type, snap length, timestamp resolution and offset), and packets come
//! in Enhanced Packet Blocks (interface, 64-bit timestamp), Simple Packet
//! Blocks (interface 0, no timestamp: the last timestamp seen is reused, so
//! flows keep a sane time) or the obsolete Packet Block. Every other block
//! (statistics, name resolution, secrets, custom) is skipped.
//!
//! Block lengths are validated once against [`MAX_BLOCK`] and the block's own
//! trailer; after that, fields are read from the borrowed block. The parse loop
//! is generic over the byte order and returns to [`PcapngSource::run`] when a
//! section of the other byte order begins, which is rare enough not to matter.

use packet::LinkType;

use crate::bpf::Filter;
use crate::input::{u16_at, u32_at, Be, Input, Le, Order};
use crate::{CaptureError, Event, Frame, PacketSource, SourceStats, MAX_BATCH};

const SECTION_HEADER: u32 = 0x0A0D_0D0A;
const INTERFACE_DESCRIPTION: u32 = 1;
/// The obsolete Packet Block (replaced by the Enhanced Packet Block).
const PACKET: u32 = 2;
const SIMPLE_PACKET: u32 = 3;
const ENHANCED_PACKET: u32 = 6;

/// Largest block we accept (Wireshark's own limit for one block is 16 MiB).
pub const MAX_BLOCK: usize = 16 << 20;
/// Most interfaces one section may describe: each costs a little memory, and
/// real captures have a handful.
pub const MAX_INTERFACES: usize = 1 << 16;

/// Type, length, and trailing length.
const MIN_BLOCK: usize = 12;
/// Block header, byte-order magic, version, section length, trailer.
const MIN_SECTION_HEADER: usize = 28;
/// Block header, link type, reserved, snap length, trailer.
const MIN_INTERFACE_DESCRIPTION: usize = 20;
/// Block header, interface, timestamp, lengths (20 bytes), trailer; the same
/// layout serves the Packet Block (16-bit interface, 16-bit drop count).
const MIN_PACKET: usize = 32;
/// Offset of the packet data in an Enhanced Packet Block or Packet Block.
const PACKET_DATA: usize = 28;
/// Block header, original length, trailer.
const MIN_SIMPLE_PACKET: usize = 16;
/// Offset of the packet data in a Simple Packet Block.
const SIMPLE_PACKET_DATA: usize = 12;

const OPT_END: u16 = 0;
const OPT_IF_TSRESOL: u16 = 9;
const OPT_IF_TSOFFSET: u16 = 14;

/// How an interface's timestamp units become nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TsScale {
    /// Units of 10^-k s with k <= 9: multiply.
    Mul(u64),
    /// Units of 10^-k s with k > 9: divide.
    Div(u64),
    /// Units of 2^-k s.
    Pow2(u32),
}

impl TsScale {
    /// The `if_tsresol` option: bit 7 clear is 10^-value, set is 2^-value.
    fn from_tsresol(value: u8) -> TsScale {
        let exp = u32::from(value & 0x7f);
        if value & 0x80 != 0 {
            TsScale::Pow2(exp)
        } else if exp <= 9 {
            TsScale::Mul(10u64.pow(9 - exp))
        } else {
            // 10^20 and above do not fit; every u64 timestamp is then 0 ns.
            TsScale::Div(10u64.checked_pow(exp - 9).unwrap_or(u64::MAX))
        }
    }

    #[inline]
    fn to_ns(self, ts: u64) -> u64 {
        match self {
            TsScale::Mul(m) => ts.saturating_mul(m),
            TsScale::Div(d) => ts / d,
            TsScale::Pow2(k) => {
                let ns = (u128::from(ts) * 1_000_000_000) >> k;
                u64::try_from(ns).unwrap_or(u64::MAX)
            }
        }
    }
}

/// What we keep of an Interface Description Block.
#[derive(Debug)]
struct Interface {
    linktype: u32,
    link: Option<LinkType>,
    snaplen: u32,
    scale: TsScale,
    /// `if_tsoffset`, converted to nanoseconds.
    offset_ns: i64,
    /// Index of the BPF program for this link type, when filtering.
    program: Option<usize>,
}

impl Interface {
    #[inline]
    fn ts_ns(&self, ts: u64) -> u64 {
        self.scale.to_ns(ts).saturating_add_signed(self.offset_ns)
    }
}

/// Where the block loop stopped.
enum Step {
    /// End of input (clean or truncated).
    End,
    /// A section of the other byte order starts at the current position.
    Switch,
}

pub(crate) struct PcapngSource {
    input: Input,
    big_endian: bool,
    interfaces: Vec<Interface>,
    /// Timestamp of the last timestamped packet, for Simple Packet Blocks.
    last_ts_ns: u64,
    filter: Option<Filter>,
    stats: SourceStats,
    done: bool,
}

/// The byte order a Section Header Block declares (`Some(true)` for big
/// endian); `block` holds at least 12 bytes.
fn section_byte_order(block: &[u8]) -> Option<bool> {
    match block.get(8..12) {
        Some([0x1a, 0x2b, 0x3c, 0x4d]) => Some(true),
        Some([0x4d, 0x3c, 0x2b, 0x1a]) => Some(false),
        _ => None,
    }
}

fn bad_byte_order(block: &[u8]) -> String {
    let magic = block.get(8..12).unwrap_or_default();
    format!("section header block has a bad byte-order magic {magic:02x?}")
}

impl PcapngSource {
    /// Checks the first Section Header Block's byte order; `input` holds at
    /// least the 4 magic bytes.
    pub fn open(mut input: Input, filter: Option<Filter>) -> Result<PcapngSource, CaptureError> {
        if !input.fill(MIN_BLOCK)? {
            let n = input.avail();
            return Err(input.error_at(n, "file ends inside the first section header".into()));
        }
        let Some(big_endian) = section_byte_order(input.window()) else {
            return Err(input.error_at(8, bad_byte_order(input.window())));
        };
        Ok(PcapngSource {
            input,
            big_endian,
            interfaces: Vec::new(),
            last_ts_ns: 0,
            filter,
            stats: SourceStats::default(),
            done: false,
        })
    }

    /// Reads blocks of one byte order until the input ends or a section of the
    /// other byte order begins.
    fn run_section<O: Order>(
        &mut self,
        on_event: &mut dyn FnMut(Event<'_>),
    ) -> Result<Step, CaptureError> {
        loop {
            // Packet blocks that lie whole in the buffer go out in batches;
            // any other block, and a packet block that does not (cut by the
            // buffer's end, or bad), is read below.
            let used = self.deliver_packet_blocks::<O>(on_event);
            if used > 0 {
                self.input.consume(used);
                continue;
            }
            let input = &mut self.input;
            if input.avail() < MIN_BLOCK && !input.fill(MIN_BLOCK)? {
                if input.avail() > 0 {
                    self.stats.truncated_records += 1;
                }
                return Ok(Step::End);
            }
            let head = input.window();
            // The section header's type reads the same in both byte orders.
            let block_type = u32_at::<O>(head, 0);
            if block_type == SECTION_HEADER {
                match section_byte_order(head) {
                    None => return Err(input.error_at(8, bad_byte_order(head))),
                    Some(big) if big != O::BIG => {
                        self.big_endian = big;
                        return Ok(Step::Switch);
                    }
                    Some(_) => {}
                }
            }
            let len = u32_at::<O>(head, 4) as usize;
            check_block_len(len).map_err(|(offset, message)| input.error_at(offset, message))?;
            if input.avail() < len && !input.fill(len)? {
                self.stats.truncated_records += 1;
                return Ok(Step::End);
            }
            let block = input.window().get(..len).unwrap_or_default();
            check_trailer::<O>(block)
                .map_err(|(offset, message)| input.error_at(offset, message))?;
            match block_type {
                ENHANCED_PACKET | PACKET | SIMPLE_PACKET => {
                    let packet =
                        packet_block::<O>(block_type, block, &self.interfaces, self.last_ts_ns)
                            .map_err(|(offset, message)| input.error_at(offset, message))?;
                    self.last_ts_ns = packet.ts_ns;
                    if let Some(frame) =
                        packet.frame(&self.interfaces, self.filter.as_ref(), &mut self.stats)
                    {
                        on_event(Event::Frames(std::slice::from_ref(&frame)));
                    }
                }
                INTERFACE_DESCRIPTION => {
                    if self.interfaces.len() >= MAX_INTERFACES {
                        return Err(input.error_at(
                            0,
                            format!("more than {MAX_INTERFACES} interfaces in one section"),
                        ));
                    }
                    let mut iface = parse_interface::<O>(block)
                        .map_err(|(offset, message)| input.error_at(offset, message))?;
                    if let (Some(filter), Some(_)) = (self.filter.as_mut(), iface.link) {
                        iface.program = Some(filter.program_for(iface.linktype)?);
                    }
                    self.interfaces.push(iface);
                }
                SECTION_HEADER => {
                    check_section_header::<O>(block)
                        .map_err(|(offset, message)| input.error_at(offset, message))?;
                    // Interface numbers start again in every section.
                    self.interfaces.clear();
                }
                _ => {}
            }
            input.consume(len);
        }
    }
}

/// What a packet block (enhanced, obsolete or simple) holds.
struct PacketBlock<'a> {
    /// Index into the section's interfaces.
    iface: usize,
    ts_ns: u64,
    orig_len: u32,
    data: &'a [u8],
}

impl<'a> PacketBlock<'a> {
    /// The block as a frame, counted, unless its link type is unknown or
    /// the filter rejects it (counted too).
    #[inline]
    fn frame(
        &self,
        interfaces: &[Interface],
        filter: Option<&Filter>,
        stats: &mut SourceStats,
    ) -> Option<Frame<'a>> {
        let iface = interfaces.get(self.iface)?;
        let Some(link) = iface.link else {
            stats.unsupported_link += 1;
            return None;
        };
        if let (Some(filter), Some(idx)) = (filter, iface.program) {
            if !filter.matches(idx, self.data) {
                stats.filtered += 1;
                return None;
            }
        }
        stats.frames += 1;
        Some(Frame {
            ts_ns: self.ts_ns,
            orig_len: self.orig_len,
            link,
            data: self.data,
        })
    }
}

/// Reads a whole packet block of type `block_type` (its length and trailer
/// checked). A simple packet block has no timestamp: it gets `last_ts_ns`.
fn packet_block<'a, O: Order>(
    block_type: u32,
    block: &'a [u8],
    interfaces: &[Interface],
    last_ts_ns: u64,
) -> Result<PacketBlock<'a>, BlockError> {
    let len = block.len();
    if block_type == SIMPLE_PACKET {
        if len < MIN_SIMPLE_PACKET {
            return Err((
                4,
                format!("simple packet block of {len} bytes is shorter than {MIN_SIMPLE_PACKET}"),
            ));
        }
        let Some(iface) = interfaces.first() else {
            return Err((
                0,
                "simple packet block before any interface description".into(),
            ));
        };
        let orig_len = u32_at::<O>(block, 8);
        // The captured length is implied: the original length limited by
        // the snap length and by the block.
        let mut caplen = (orig_len as usize).min(len - MIN_SIMPLE_PACKET);
        if iface.snaplen != 0 {
            caplen = caplen.min(iface.snaplen as usize);
        }
        let data = block
            .get(SIMPLE_PACKET_DATA..SIMPLE_PACKET_DATA + caplen)
            .unwrap_or_default();
        return Ok(PacketBlock {
            iface: 0,
            ts_ns: last_ts_ns,
            orig_len,
            data,
        });
    }
    if len < MIN_PACKET {
        return Err((
            4,
            format!("packet block of {len} bytes is shorter than {MIN_PACKET}"),
        ));
    }
    let iface_id = if block_type == ENHANCED_PACKET {
        u32_at::<O>(block, 8)
    } else {
        u32::from(u16_at::<O>(block, 8))
    };
    let ts = u64::from(u32_at::<O>(block, 12)) << 32 | u64::from(u32_at::<O>(block, 16));
    let caplen = u32_at::<O>(block, 20) as usize;
    let orig_len = u32_at::<O>(block, 24);
    if caplen > len - MIN_PACKET {
        return Err((
            20,
            format!("captured length {caplen} runs past the end of the {len}-byte block"),
        ));
    }
    let Some(iface) = interfaces.get(iface_id as usize) else {
        return Err((
            8,
            format!(
                "packet block names interface {iface_id} but the section describes {}",
                interfaces.len()
            ),
        ));
    };
    let data = block
        .get(PACKET_DATA..PACKET_DATA + caplen)
        .unwrap_or_default();
    Ok(PacketBlock {
        iface: iface_id as usize,
        ts_ns: iface.ts_ns(ts),
        orig_len,
        data,
    })
}

impl PcapngSource {
    /// Hands the packet blocks at the start of the read buffer that lie
    /// whole and sound in it (at most [`MAX_BATCH`]) to `on_event` as one
    /// batch, and returns the bytes they take. It stops at any other block
    /// and at a packet block that is cut or bad: `run_section` reads on or
    /// reports it.
    fn deliver_packet_blocks<O: Order>(&mut self, on_event: &mut dyn FnMut(Event<'_>)) -> usize {
        let window = self.input.window();
        let mut frames = [Frame::EMPTY; MAX_BATCH];
        let mut batched = 0;
        let mut used = 0;
        for _ in 0..MAX_BATCH {
            let Some(head) = window.get(used..used + MIN_BLOCK) else {
                break;
            };
            let block_type = u32_at::<O>(head, 0);
            if !matches!(block_type, ENHANCED_PACKET | PACKET | SIMPLE_PACKET) {
                break;
            }
            let len = u32_at::<O>(head, 4) as usize;
            if check_block_len(len).is_err() {
                break;
            }
            let Some(block) = window.get(used..used + len) else {
                break;
            };
            if check_trailer::<O>(block).is_err() {
                break;
            }
            let Ok(packet) =
                packet_block::<O>(block_type, block, &self.interfaces, self.last_ts_ns)
            else {
                break;
            };
            used += len;
            self.last_ts_ns = packet.ts_ns;
            if let Some(frame) =
                packet.frame(&self.interfaces, self.filter.as_ref(), &mut self.stats)
            {
                frames[batched] = frame;
                batched += 1;
            }
        }
        if batched > 0 {
            on_event(Event::Frames(&frames[..batched]));
        }
        used
    }
}

/// Errors of block parsers: offset in the block and message.
type BlockError = (usize, String);

/// Checks a block's length field (at offset 4) against the cap and the
/// format's rules.
#[inline]
fn check_block_len(len: usize) -> Result<(), BlockError> {
    if len > MAX_BLOCK {
        return Err((
            4,
            format!("block length {len} exceeds the cap of {MAX_BLOCK} bytes"),
        ));
    }
    if len < MIN_BLOCK || len & 3 != 0 {
        return Err((
            4,
            format!("block length {len} is not a multiple of 4 of at least {MIN_BLOCK}"),
        ));
    }
    Ok(())
}

/// Checks that a whole block (its length already checked) ends with its
/// length again.
#[inline]
fn check_trailer<O: Order>(block: &[u8]) -> Result<(), BlockError> {
    let len = block.len();
    let trailer = u32_at::<O>(block, len - 4) as usize;
    if trailer != len {
        return Err((
            len - 4,
            format!("block trailer says {trailer} bytes but its header says {len}"),
        ));
    }
    Ok(())
}

fn check_section_header<O: Order>(block: &[u8]) -> Result<(), BlockError> {
    let len = block.len();
    if len < MIN_SECTION_HEADER {
        return Err((
            4,
            format!("section header block of {len} bytes is shorter than {MIN_SECTION_HEADER}"),
        ));
    }
    let major = u16_at::<O>(block, 12);
    let minor = u16_at::<O>(block, 14);
    if major != 1 {
        return Err((12, format!("unsupported pcapng version {major}.{minor}")));
    }
    Ok(())
}

fn parse_interface<O: Order>(block: &[u8]) -> Result<Interface, BlockError> {
    let len = block.len();
    if len < MIN_INTERFACE_DESCRIPTION {
        return Err((
            4,
            format!(
                "interface description block of {len} bytes is shorter than {MIN_INTERFACE_DESCRIPTION}"
            ),
        ));
    }
    let linktype = u32::from(u16_at::<O>(block, 8));
    let mut iface = Interface {
        linktype,
        link: LinkType::from_linktype(linktype),
        snaplen: u32_at::<O>(block, 12),
        scale: TsScale::Mul(1000),
        offset_ns: 0,
        program: None,
    };
    for_each_option::<O>(block, 16, len - 4, |code, value| match code {
        OPT_IF_TSRESOL => {
            if let Some(&resol) = value.first() {
                iface.scale = TsScale::from_tsresol(resol);
            }
        }
        OPT_IF_TSOFFSET => {
            if let Some(&bytes) = value.first_chunk::<8>() {
                let seconds = O::u64(bytes) as i64;
                iface.offset_ns = seconds.saturating_mul(1_000_000_000);
            }
        }
        _ => {}
    })?;
    Ok(iface)
}

/// Calls `f(code, value)` for each option in `block[from..to]`. Options are
/// padded to 4 bytes; one that runs past `to` is an error.
fn for_each_option<O: Order>(
    block: &[u8],
    from: usize,
    to: usize,
    mut f: impl FnMut(u16, &[u8]),
) -> Result<(), BlockError> {
    let mut at = from;
    while at + 4 <= to {
        let code = u16_at::<O>(block, at);
        let len = usize::from(u16_at::<O>(block, at + 2));
        if code == OPT_END {
            break;
        }
        let padded = (len + 3) & !3;
        if at + 4 + padded > to {
            return Err((
                at + 2,
                format!("option {code} of {len} bytes runs past the end of its block"),
            ));
        }
        f(code, block.get(at + 4..at + 4 + len).unwrap_or_default());
        at += 4 + padded;
    }
    Ok(())
}

impl PacketSource for PcapngSource {
    fn run(&mut self, on_event: &mut dyn FnMut(Event<'_>)) -> Result<(), CaptureError> {
        if self.done {
            return Ok(());
        }
        let result = loop {
            let step = if self.big_endian {
                self.run_section::<Be>(on_event)
            } else {
                self.run_section::<Le>(on_event)
            };
            match step {
                Ok(Step::Switch) => continue,
                Ok(Step::End) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        self.done = true;
        result
    }

    fn stats(&self) -> SourceStats {
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::TsScale;

    #[test]
    fn tsresol_forms() {
        assert_eq!(TsScale::from_tsresol(6), TsScale::Mul(1000));
        assert_eq!(TsScale::from_tsresol(9), TsScale::Mul(1));
        assert_eq!(TsScale::from_tsresol(0), TsScale::Mul(1_000_000_000));
        assert_eq!(TsScale::from_tsresol(12), TsScale::Div(1000));
        assert_eq!(TsScale::from_tsresol(0x8a), TsScale::Pow2(10));
        assert_eq!(TsScale::from_tsresol(127).to_ns(1 << 63), 0);
        assert_eq!(TsScale::from_tsresol(0xff).to_ns(u64::MAX), 0);
        assert_eq!(TsScale::from_tsresol(0x80).to_ns(u64::MAX), u64::MAX);
        // 1.5 s in units of 2^-10 s.
        assert_eq!(TsScale::Pow2(10).to_ns(1536), 1_500_000_000);
        assert_eq!(TsScale::Div(1000).to_ns(1_500_000_000_000), 1_500_000_000);
        assert_eq!(TsScale::Mul(1000).to_ns(u64::MAX), u64::MAX);
    }
}
