//! The flow cache proper. See the crate documentation for the design.

use std::collections::HashMap;
use std::net::Ipv6Addr;

use packet::{tcp_flags, Packet};
use record::{EndReason, FlowRecord, Reverse};

use crate::fragments::FragmentTable;
use crate::list::{Links, List, NIL};

const TCP: u8 = 6;
const UDP: u8 = 17;
const ICMP: u8 = 1;
const ICMPV6: u8 = 58;

#[derive(Clone, Debug)]
pub struct CacheConfig {
    /// A flow older than this is exported and restarted (default 300 s).
    pub active_timeout_ns: u64,
    /// A flow without packets for longer than this is exported (default 30 s).
    pub inactive_timeout_ns: u64,
    /// Most flows held at once; when full, the least recently seen is evicted.
    pub capacity: usize,
    /// UDP packets to or from these ports are flows of their own (nfpcapd does this for 53).
    pub per_packet_udp_ports: Vec<u16>,
    /// ICMP and ICMPv6 packets are flows of their own (nfpcapd does this).
    pub per_packet_icmp: bool,
    /// Pair both directions into one record (RFC 5103 style).
    pub biflow: bool,
}

impl CacheConfig {
    /// Flow rules of nfpcapd (nfdump 1.7.1): DNS (UDP 53) and ICMP packets
    /// are flows of their own. The default.
    pub fn like_nfpcapd() -> Self {
        CacheConfig::default()
    }

    /// Flow rules of ipfixprobe and the FlowTest references: every protocol
    /// aggregates.
    pub fn like_ipfixprobe() -> Self {
        CacheConfig {
            per_packet_udp_ports: Vec::new(),
            per_packet_icmp: false,
            ..CacheConfig::default()
        }
    }
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            active_timeout_ns: 300 * 1_000_000_000,
            inactive_timeout_ns: 30 * 1_000_000_000,
            capacity: 1 << 19,
            per_packet_udp_ports: vec![53],
            per_packet_icmp: true,
            biflow: false,
        }
    }
}

/// Counters, visible in the meter's summary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub packets: u64,
    pub flows_created: u64,
    pub flows_exported: u64,
    /// Flows pushed out because the cache was full.
    pub evictions: u64,
    /// Later IP fragments whose first fragment was not seen (counted without ports).
    pub fragments_unmatched: u64,
    /// Flows in the cache now.
    pub active: u64,
}

/// The flow key. With biflow on, the two endpoints are put in a fixed order
/// so both directions find the same entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct FlowKey {
    a_ip: Ipv6Addr,
    b_ip: Ipv6Addr,
    a_port: u16,
    b_port: u16,
    vlan: u16,
    proto: u8,
}

struct Slot {
    key: FlowKey,
    record: FlowRecord,
    /// A FIN or RST was seen: the flow ends as `EndOfFlow`, and a new SYN
    /// starts a new flow.
    finished: bool,
}

pub struct FlowCache {
    config: CacheConfig,
    index: HashMap<FlowKey, u32, foldhash::fast::RandomState>,
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// Ordered by last packet: head is the least recently seen.
    by_last: List,
    last_links: Vec<Links>,
    /// Ordered by first packet: head is the oldest flow.
    by_first: List,
    first_links: Vec<Links>,
    fragments: FragmentTable,
    per_packet_port: Box<[bool]>,
    now_ns: u64,
    stats: CacheStats,
}

impl FlowCache {
    pub fn new(config: CacheConfig) -> Self {
        let capacity = config.capacity.clamp(1, NIL as usize - 1);
        let mut per_packet_port = vec![false; 1 << 16].into_boxed_slice();
        for &port in &config.per_packet_udp_ports {
            per_packet_port[port as usize] = true;
        }
        FlowCache {
            index: HashMap::with_capacity_and_hasher(capacity, Default::default()),
            slots: Vec::with_capacity(capacity),
            free: Vec::with_capacity(capacity),
            by_last: List::default(),
            last_links: Vec::with_capacity(capacity),
            by_first: List::default(),
            first_links: Vec::with_capacity(capacity),
            fragments: FragmentTable::default(),
            per_packet_port,
            now_ns: 0,
            stats: CacheStats::default(),
            config: CacheConfig { capacity, ..config },
        }
    }

    pub fn stats(&self) -> CacheStats {
        CacheStats { active: self.index.len() as u64, ..self.stats }
    }

    /// Accounts one packet seen at `ts_ns`; flows that end because of it (or
    /// whose timeouts passed by then) are appended to `out`.
    pub fn observe(&mut self, ts_ns: u64, pkt: &Packet<'_>, out: &mut Vec<FlowRecord>) {
        self.stats.packets += 1;
        self.now_ns = self.now_ns.max(ts_ns);
        self.expire_due(self.now_ns, out);

        let (src_port, dst_port) = self.ports_of(ts_ns, pkt);
        if self.is_per_packet(pkt.proto, src_port, dst_port) {
            let mut record = new_record(ts_ns, pkt, src_port, dst_port);
            record.end_reason = EndReason::EndOfFlow;
            self.stats.flows_created += 1;
            self.stats.flows_exported += 1;
            out.push(record);
            return;
        }

        let key = self.key_of(pkt, src_port, dst_port);
        let flags = if pkt.proto == TCP { pkt.tcp_flags } else { 0 };
        let idx = match self.index.get(&key) {
            Some(&idx) => {
                let slot = &self.slots[idx as usize];
                let is_new_syn = flags & (tcp_flags::SYN | tcp_flags::ACK) == tcp_flags::SYN;
                if slot.finished && is_new_syn {
                    self.export(idx, EndReason::EndOfFlow, out);
                    self.insert(key, ts_ns, pkt, src_port, dst_port, out)
                } else {
                    self.update(idx, ts_ns, pkt, src_port);
                    idx
                }
            }
            None => self.insert(key, ts_ns, pkt, src_port, dst_port, out),
        };

        if flags & (tcp_flags::FIN | tcp_flags::RST) != 0 {
            // The connection's last ACKs and retransmissions still belong to
            // it, as nfpcapd, ipfixprobe and FlowTest count them, so the flow
            // stays until it goes idle or a new connection reuses the key.
            self.slots[idx as usize].finished = true;
        }
    }

    fn is_per_packet(&self, proto: u8, src_port: u16, dst_port: u16) -> bool {
        match proto {
            UDP => self.per_packet_port[src_port as usize] || self.per_packet_port[dst_port as usize],
            ICMP | ICMPV6 => self.config.per_packet_icmp,
            _ => false,
        }
    }

    /// Exports every flow whose timeout has passed at `now_ns` (a wall-clock
    /// tick for live capture; packet time otherwise).
    pub fn expire(&mut self, now_ns: u64, out: &mut Vec<FlowRecord>) {
        self.now_ns = self.now_ns.max(now_ns);
        self.expire_due(self.now_ns, out);
    }

    /// Exports every flow, oldest first (end of input).
    pub fn flush(&mut self, out: &mut Vec<FlowRecord>) {
        while self.by_first.head != NIL {
            let idx = self.by_first.head;
            let reason = if self.slots[idx as usize].finished {
                EndReason::EndOfFlow
            } else {
                EndReason::Forced
            };
            self.export(idx, reason, out);
        }
    }

    fn expire_due(&mut self, now_ns: u64, out: &mut Vec<FlowRecord>) {
        while self.by_last.head != NIL {
            let idx = self.by_last.head;
            let slot = &self.slots[idx as usize];
            if now_ns.saturating_sub(slot.record.last_ns) <= self.config.inactive_timeout_ns {
                break;
            }
            let reason = if slot.finished { EndReason::EndOfFlow } else { EndReason::Idle };
            self.export(idx, reason, out);
        }
        while self.by_first.head != NIL {
            let idx = self.by_first.head;
            let first_ns = self.slots[idx as usize].record.first_ns;
            if now_ns.saturating_sub(first_ns) <= self.config.active_timeout_ns {
                break;
            }
            self.export(idx, EndReason::Active, out);
        }
    }

    /// Ports of the packet, with later fragments given their first fragment's.
    fn ports_of(&mut self, ts_ns: u64, pkt: &Packet<'_>) -> (u16, u16) {
        if !pkt.frag.is_fragment() {
            return (pkt.src_port, pkt.dst_port);
        }
        if !pkt.frag.is_later() {
            if pkt.has_l4 {
                self.fragments.remember(pkt, ts_ns);
            }
            return (pkt.src_port, pkt.dst_port);
        }
        match self.fragments.ports(pkt, ts_ns) {
            Some(ports) => ports,
            None => {
                self.stats.fragments_unmatched += 1;
                (0, 0)
            }
        }
    }

    /// The key of a packet; with biflow, the same for both directions.
    fn key_of(&self, pkt: &Packet<'_>, src_port: u16, dst_port: u16) -> FlowKey {
        let forward = FlowKey {
            a_ip: pkt.src_ip,
            b_ip: pkt.dst_ip,
            a_port: src_port,
            b_port: dst_port,
            vlan: pkt.vlan,
            proto: pkt.proto,
        };
        if self.config.biflow && (pkt.dst_ip, dst_port) < (pkt.src_ip, src_port) {
            FlowKey {
                a_ip: pkt.dst_ip,
                b_ip: pkt.src_ip,
                a_port: dst_port,
                b_port: src_port,
                ..forward
            }
        } else {
            forward
        }
    }

    fn insert(
        &mut self,
        key: FlowKey,
        ts_ns: u64,
        pkt: &Packet<'_>,
        src_port: u16,
        dst_port: u16,
        out: &mut Vec<FlowRecord>,
    ) -> u32 {
        if self.index.len() >= self.config.capacity {
            let victim = self.by_last.head;
            self.stats.evictions += 1;
            self.export(victim, EndReason::Eviction, out);
        }
        let mut record = new_record(ts_ns, pkt, src_port, dst_port);
        if self.config.biflow {
            record.reverse = Some(Reverse::default());
        }
        let slot = Slot { key, record, finished: false };
        let idx = match self.free.pop() {
            Some(idx) => {
                self.slots[idx as usize] = slot;
                idx
            }
            None => {
                self.slots.push(slot);
                self.last_links.push(Links::default());
                self.first_links.push(Links::default());
                (self.slots.len() - 1) as u32
            }
        };
        self.index.insert(key, idx);
        self.by_last.push_back(&mut self.last_links, idx);
        self.by_first.push_back(&mut self.first_links, idx);
        self.stats.flows_created += 1;
        idx
    }

    fn update(&mut self, idx: u32, ts_ns: u64, pkt: &Packet<'_>, src_port: u16) {
        let flags = if pkt.proto == TCP { pkt.tcp_flags } else { 0 };
        let record = &mut self.slots[idx as usize].record;
        // A biflow record has the direction of its first packet.
        let same_as_first =
            !self.config.biflow || (pkt.src_ip == record.src_ip && src_port == record.src_port);
        if same_as_first {
            record.packets += 1;
            record.bytes += u64::from(pkt.ip_len);
            record.tcp_flags |= flags;
            record.first_ns = record.first_ns.min(ts_ns);
            record.last_ns = record.last_ns.max(ts_ns);
        } else {
            let rev = record.reverse.get_or_insert_with(Reverse::default);
            if rev.packets == 0 {
                rev.first_ns = ts_ns;
            }
            rev.packets += 1;
            rev.bytes += u64::from(pkt.ip_len);
            rev.tcp_flags |= flags;
            rev.last_ns = rev.last_ns.max(ts_ns);
            record.last_ns = record.last_ns.max(ts_ns);
        }
        self.by_last.move_to_back(&mut self.last_links, idx);
    }

    fn export(&mut self, idx: u32, reason: EndReason, out: &mut Vec<FlowRecord>) {
        let slot = &mut self.slots[idx as usize];
        self.index.remove(&slot.key);
        slot.finished = false;
        let mut record = std::mem::take(&mut slot.record);
        record.end_reason = reason;
        self.by_last.unlink(&mut self.last_links, idx);
        self.by_first.unlink(&mut self.first_links, idx);
        self.free.push(idx);
        self.stats.flows_exported += 1;
        out.push(record);
    }
}

fn new_record(ts_ns: u64, pkt: &Packet<'_>, src_port: u16, dst_port: u16) -> FlowRecord {
    FlowRecord {
        first_ns: ts_ns,
        last_ns: ts_ns,
        src_ip: pkt.src_ip,
        dst_ip: pkt.dst_ip,
        src_port,
        dst_port,
        proto: pkt.proto,
        tcp_flags: if pkt.proto == TCP { pkt.tcp_flags } else { 0 },
        tos: pkt.tos,
        packets: 1,
        bytes: u64::from(pkt.ip_len),
        vlan: pkt.vlan,
        src_mac: pkt.src_mac,
        dst_mac: pkt.dst_mac,
        end_reason: EndReason::Idle,
        reverse: None,
    }
}

#[cfg(test)]
mod tests;
