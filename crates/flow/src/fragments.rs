//! Ports for IP fragments: the first fragment carries the L4 header, later
//! ones do not, so we remember the first fragment's ports and give them to
//! the rest of the datagram (as ipfixprobe's fragment cache does). A later
//! fragment whose first one was never seen keeps ports 0 and is counted.
//!
//! A direct-mapped table: fixed size, no allocation after creation, and an
//! entry older than [`FRAGMENT_TTL_NS`] is ignored. Collisions overwrite, which
//! at worst leaves a later fragment without ports (counted), never wrong ports
//! for another datagram, because the whole identity is compared.

use std::hash::{BuildHasher, Hash};
use std::net::Ipv6Addr;

/// How long a first fragment's ports are remembered.
pub const FRAGMENT_TTL_NS: u64 = 30_000_000_000;
/// Table size (a power of two).
pub const FRAGMENT_SLOTS: usize = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct DatagramId {
    src: Ipv6Addr,
    dst: Ipv6Addr,
    id: u32,
    proto: u8,
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    id: DatagramId,
    seen_ns: u64,
    src_port: u16,
    dst_port: u16,
}

pub struct FragmentTable {
    slots: Box<[Option<Entry>]>,
    hasher: foldhash::fast::RandomState,
}

impl Default for FragmentTable {
    fn default() -> Self {
        FragmentTable {
            slots: vec![None; FRAGMENT_SLOTS].into_boxed_slice(),
            hasher: foldhash::fast::RandomState::default(),
        }
    }
}

impl FragmentTable {
    /// An empty table that places datagrams as `other` does (tests that
    /// compare two caches: collisions depend on the seed).
    #[cfg(test)]
    pub(crate) fn seeded_like(other: &FragmentTable) -> Self {
        FragmentTable {
            hasher: other.hasher,
            ..FragmentTable::default()
        }
    }

    fn slot(&self, id: &DatagramId) -> usize {
        let mut h = self.hasher.build_hasher();
        id.hash(&mut h);
        std::hash::Hasher::finish(&h) as usize & (FRAGMENT_SLOTS - 1)
    }

    /// Remembers the ports of a first fragment.
    pub fn remember(&mut self, pkt: &packet::Packet<'_>, ts_ns: u64) {
        let id = datagram_id(pkt);
        let slot = self.slot(&id);
        self.slots[slot] = Some(Entry {
            id,
            seen_ns: ts_ns,
            src_port: pkt.src_port,
            dst_port: pkt.dst_port,
        });
    }

    /// Ports of the datagram a later fragment belongs to, if its first fragment was seen.
    pub fn ports(&self, pkt: &packet::Packet<'_>, ts_ns: u64) -> Option<(u16, u16)> {
        let id = datagram_id(pkt);
        match self.slots[self.slot(&id)] {
            Some(e) if e.id == id && ts_ns.saturating_sub(e.seen_ns) <= FRAGMENT_TTL_NS => {
                Some((e.src_port, e.dst_port))
            }
            _ => None,
        }
    }
}

fn datagram_id(pkt: &packet::Packet<'_>) -> DatagramId {
    DatagramId {
        src: pkt.src_ip,
        dst: pkt.dst_ip,
        id: pkt.frag.id,
        proto: pkt.proto,
    }
}
