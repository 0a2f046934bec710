//! Per flow direction QUIC state: the version of the first long header,
//! the client's Initial keys (cached per Destination Connection ID), and
//! the CRYPTO stream reassembled from the Initial packets' CRYPTO frames
//! (out of order within and across packets, at most [`MAX_BUFFER`] bytes)
//! until its ClientHello's server_name shows.

use super::crypto::{initial_keys, open_initial, InitialKeys, Side};
use super::parser::{client_hello, protocol_names, version_params, CryptoFrames, LongHeader};
use super::QuicFields;
use crate::{field_string, Feed, L7Fields, Parser, MAX_BUFFER};

/// Datagrams looked at before giving up: a ClientHello spans one to three
/// Initials (post-quantum key shares make it ~1.8 kB), and a Retry or
/// 0-RTT packets may come between.
const MAX_DATAGRAMS: u8 = 6;
/// Disjoint pieces of the crypto stream kept apart while waiting for the
/// gaps between them; more pieces than this are dropped (no client
/// fragments its hello that much).
const MAX_RANGES: usize = 32;

/// The start of the CRYPTO stream, possibly with holes.
#[derive(Debug, Default)]
struct CryptoStream {
    /// Stream bytes from offset 0 (holes are zero until filled).
    bytes: Vec<u8>,
    /// Filled `[start, end)` ranges, sorted, disjoint and not adjacent.
    filled: Vec<(usize, usize)>,
}

impl CryptoStream {
    /// Stores `data` at stream offset `offset`; bytes past [`MAX_BUFFER`]
    /// are dropped.
    fn insert(&mut self, offset: u64, data: &[u8]) {
        let Ok(start) = usize::try_from(offset) else {
            return;
        };
        let end = start.saturating_add(data.len()).min(MAX_BUFFER);
        if start >= end || (self.filled.len() >= MAX_RANGES && !self.touches(start, end)) {
            return;
        }
        if self.bytes.len() < end {
            self.bytes.resize(end, 0);
        }
        self.bytes[start..end].copy_from_slice(&data[..end - start]);
        self.mark_filled(start, end);
    }

    fn touches(&self, start: usize, end: usize) -> bool {
        self.filled.iter().any(|&(s, e)| start <= e && s <= end)
    }

    fn mark_filled(&mut self, start: usize, end: usize) {
        let mut merged = (start, end);
        self.filled.retain(|&(s, e)| {
            let overlaps = s <= merged.1 && merged.0 <= e;
            if overlaps {
                merged = (merged.0.min(s), merged.1.max(e));
            }
            !overlaps
        });
        let at = self.filled.partition_point(|&(s, _)| s < merged.0);
        self.filled.insert(at, merged);
    }

    /// The bytes from offset 0 with no hole.
    fn contiguous(&self) -> &[u8] {
        match self.filled.first() {
            Some(&(0, end)) => self.bytes.get(..end).unwrap_or(&[]),
            _ => &[],
        }
    }
}

/// Keys cached for the connection ID and version they were derived from.
#[derive(Debug)]
struct CachedKeys {
    version: u32,
    dcid: Vec<u8>,
    keys: InitialKeys,
}

/// One direction of one QUIC flow.
#[derive(Debug, Default)]
pub struct QuicState {
    fields: QuicFields,
    datagrams: u8,
    stream: CryptoStream,
    keys: Option<CachedKeys>,
    /// Scratch copy of the packet being decrypted in place.
    scratch: Vec<u8>,
    done: bool,
}

impl QuicState {
    /// Decrypts one Initial packet with the client keys and adds its
    /// CRYPTO frames to the stream; false when it does not decrypt (a
    /// server Initial, whose keys come from the other direction's
    /// connection ID, or damaged bytes).
    ///
    /// The keys of the connection ID that first worked are tried first:
    /// once the server answered, the client's Initials carry the server's
    /// connection ID but keep the keys of its original one. Keys of the
    /// packet's own connection ID come second (the first packet, or a new
    /// one the server imposed with a Retry).
    fn absorb_initial(&mut self, packet: &[u8], header: &LongHeader<'_>) -> bool {
        let mut scratch = std::mem::take(&mut self.scratch);
        let mut opened = false;
        if let Some(cached) = self.keys.as_ref().filter(|c| c.version == header.version) {
            opened = self.open_with(&mut scratch, packet, header.pn_offset, &cached.keys.clone());
        }
        let fresh = !self
            .keys
            .as_ref()
            .is_some_and(|c| c.version == header.version && c.dcid == header.dcid);
        if !opened && fresh {
            let params = version_params(header.version);
            if let Some(keys) = params.and_then(|p| initial_keys(&p, header.dcid, Side::Client)) {
                opened = self.open_with(&mut scratch, packet, header.pn_offset, &keys);
                if opened {
                    self.keys = Some(CachedKeys {
                        version: header.version,
                        dcid: header.dcid.to_vec(),
                        keys,
                    });
                }
            }
        }
        self.scratch = scratch;
        opened
    }

    /// Decrypts a copy of `packet` in `scratch` with `keys` and stores its
    /// CRYPTO frames; false when it does not authenticate.
    fn open_with(
        &mut self,
        scratch: &mut Vec<u8>,
        packet: &[u8],
        pn_offset: usize,
        keys: &InitialKeys,
    ) -> bool {
        scratch.clear();
        scratch.extend_from_slice(packet);
        let Some(frames) = open_initial(scratch, pn_offset, keys) else {
            return false;
        };
        for frame in CryptoFrames::new(frames) {
            self.stream.insert(frame.offset, frame.data);
        }
        true
    }

    /// Reads the ClientHello so far; true when nothing more can come of it.
    fn read_hello(&mut self) -> bool {
        let Some(hello) = client_hello(self.stream.contiguous()) else {
            return false;
        };
        if let Some(name) = hello.server_name {
            self.fields.sni = Some(field_string(name));
        }
        if let Some(list) = hello.alpn {
            let names: Vec<&[u8]> = protocol_names(list).collect();
            self.fields.alpn = Some(field_string(&names.join(&b","[..])));
        }
        hello.server_name.is_some() || hello.complete
    }
}

impl Parser for QuicState {
    fn feed(&mut self, payload: &[u8]) -> Feed {
        if self.done {
            return Feed::Done;
        }
        let Some(&first) = payload.first() else {
            return Feed::More;
        };
        if first & 0x80 == 0 {
            // A short header: the handshake is over, all later is 1-RTT.
            self.done = true;
            return Feed::Done;
        }
        self.datagrams = self.datagrams.saturating_add(1);
        let (mut initials, mut opened) = (0, 0);
        let mut rest = payload;
        // A datagram may coalesce several long header packets (Initial,
        // 0-RTT, Handshake); walk them by their Length fields.
        while let Some(header) = LongHeader::parse(rest) {
            self.fields.version.get_or_insert(header.version);
            let (packet, tail) = rest.split_at(header.packet_len.min(rest.len()));
            if header.is_initial {
                initials += 1;
                opened += usize::from(self.absorb_initial(packet, &header));
            }
            if tail.len() == rest.len() {
                break;
            }
            rest = tail;
        }
        let undecryptable = initials > 0 && opened == 0 && self.stream.filled.is_empty();
        let finished = opened > 0 && self.read_hello();
        if finished || undecryptable || self.datagrams >= MAX_DATAGRAMS {
            self.done = true;
            return Feed::Done;
        }
        Feed::More
    }

    fn take_finished(&mut self) -> Option<L7Fields> {
        None
    }

    fn take_current(&mut self) -> Option<L7Fields> {
        self.fields.version?;
        Some(L7Fields::from(std::mem::take(&mut self.fields)))
    }
}

#[cfg(test)]
impl QuicState {
    /// Bytes of crypto stream held (the reassembly buffer).
    pub(super) fn buffered(&self) -> usize {
        self.stream.bytes.len()
    }
}
