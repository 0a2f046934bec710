//! The flow cache proper. See the crate documentation for the design.

use std::hash::BuildHasher;
use std::net::Ipv6Addr;

use l7::{Feed, Parser, ParserSpec, Transport};
use packet::{tcp_flags, Packet};
use record::text::prefetch_range;
use record::{EndReason, FlowRecord, Reverse};

use crate::fragments::FragmentTable;
use crate::index::FlowIndex;
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
    /// Application-layer parsers to run, by name (`l7::PARSERS`); empty = none.
    /// With biflow on, only the direction of the first packet is parsed.
    pub l7_parsers: Vec<&'static str>,
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
            l7_parsers: Vec::new(),
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
    /// Flows (or transactions) an application-layer parser claimed.
    pub l7_flows: u64,
}

/// The flow key. With biflow on, the two endpoints are put in a fixed order
/// so both directions find the same entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(C)]
struct FlowKey {
    a_ip: Ipv6Addr,
    b_ip: Ipv6Addr,
    a_port: u16,
    b_port: u16,
    vlan: u16,
    proto: u8,
}

/// The hot part of one flow in the cache: everything a packet of an ongoing
/// flow reads or writes, in 104 bytes (the parser pointer included). The
/// rest of the record (MACs, TOS, biflow counters) sits in
/// `FlowCache::records` under the same index, filled at creation and
/// completed at export.
#[repr(C)]
struct Slot {
    key: FlowKey,
    /// The wheel bucket the flow is filed in.
    bucket: u32,
    tcp_flags: u8,
    /// A FIN or RST was seen: the flow ends as `EndOfFlow`, and a new SYN
    /// starts a new flow.
    finished: bool,
    /// The flow's first packet went from the key's `a` endpoint to `b`.
    first_from_a: bool,
    /// Payloads should go to the L7 state: not probed yet, or a parser wants more.
    l7_wanted: bool,
    /// Payload bytes the parser asked to skip (`Feed::Skip`), e.g. the rest of an HTTP body.
    l7_skip: u32,
    last_ns: u64,
    packets: u64,
    bytes: u64,
    first_ns: u64,
    /// The parser that claimed the flow and wants more payload. None with
    /// `l7_wanted` set: not probed yet (no payload seen); None without it:
    /// nothing more to feed (a parser that finished has handed its fields
    /// to the record and been dropped, so a long-lived flow, a TLS
    /// connection after its handshake, keeps no parser state). Here rather
    /// than in an array of its own: a new flow and a payload for the parser
    /// then touch one cache line less.
    parser: Option<Box<dyn Parser>>,
}

/// Most timer-wheel buckets; a flow due later is filed in the last one and
/// refiled when it comes up.
const MAX_BUCKETS: u64 = 4096;

/// Width of one timer-wheel bucket. Idle flows leave at most this long after
/// their timeout (packet time, or wall clock for live capture); which packets
/// belong to which flow is exact regardless, because a packet checks its
/// flow's timeouts itself.
const TICK_NS: u64 = 1_000_000_000;

/// How many flows ahead of the one being expired its memory is asked for.
const PREFETCH_FLOWS: usize = 8;

/// Most packets whose memory [`FlowCache::observe_batch`] asks for at once.
const LOOKAHEAD: usize = 32;

/// How many packets before its turn a packet's parser state is asked for.
/// Its slot, which says where the state is, was asked for at the start of
/// the batch.
const PARSERS_AHEAD: usize = 4;

pub struct FlowCache {
    config: CacheConfig,
    /// Slot numbers by key hash; the keys themselves live in the slots, so
    /// the index stays small (16 to 32 bytes a flow of the capacity,
    /// 8 MiB at the default).
    index: FlowIndex,
    hasher: foldhash::fast::RandomState,
    slots: Vec<Slot>,
    /// The cold part of each slot's record.
    records: Vec<FlowRecord>,
    l7_parsers: Vec<&'static ParserSpec>,
    free: Vec<u32>,
    /// Timer wheel: bucket `t % len` holds the flows due in tick `t`. A flow
    /// is filed when created and refiled only when its bucket comes up and it
    /// is not due yet, so a packet never touches the wheel.
    wheel: Vec<List>,
    links: Vec<Links>,
    /// Every tick before this one has been processed.
    next_tick: u64,
    fragments: FragmentTable,
    per_packet_port: Box<[bool]>,
    now_ns: u64,
    stats: CacheStats,
    /// The flows of the wheel bucket being processed (reused).
    due: Vec<u32>,
}

impl FlowCache {
    pub fn new(config: CacheConfig) -> Self {
        let capacity = config.capacity.clamp(1, NIL as usize - 1);
        let mut per_packet_port = vec![false; 1 << 16].into_boxed_slice();
        for &port in &config.per_packet_udp_ports {
            per_packet_port[port as usize] = true;
        }
        // A flow is due at most one inactive timeout after the clock.
        let wheel_len = (config.inactive_timeout_ns / TICK_NS + 2).min(MAX_BUCKETS) as usize;
        FlowCache {
            index: FlowIndex::with_capacity(capacity),
            hasher: foldhash::fast::RandomState::default(),
            slots: Vec::with_capacity(capacity),
            records: Vec::with_capacity(capacity),
            l7_parsers: l7::PARSERS
                .iter()
                .filter(|spec| config.l7_parsers.contains(&spec.name))
                .collect(),
            free: Vec::with_capacity(capacity),
            wheel: vec![List::default(); wheel_len],
            links: Vec::with_capacity(capacity),
            next_tick: 0,
            fragments: FragmentTable::default(),
            per_packet_port,
            now_ns: 0,
            stats: CacheStats::default(),
            due: Vec::new(),
            config: CacheConfig { capacity, ..config },
        }
    }

    /// A new cache whose hashes are seeded as this one's, so that the two
    /// place flows and fragments alike (tests comparing two caches).
    #[cfg(test)]
    fn seeded_like(&self, config: CacheConfig) -> Self {
        FlowCache {
            hasher: self.hasher,
            fragments: FragmentTable::seeded_like(&self.fragments),
            ..FlowCache::new(config)
        }
    }

    /// Panics if the index, the slab, the free list and the wheel disagree
    /// (every indexed flow filed once, in a bucket not after its due tick).
    #[cfg(test)]
    fn check_invariants(&self) {
        let len = self.wheel.len() as u64;
        let mut seen = vec![0u32; self.slots.len()];
        for (b, list) in self.wheel.iter().enumerate() {
            let mut i = list.head;
            let mut prev = NIL;
            while i != NIL {
                assert_eq!(self.links[i as usize].prev, prev, "prev link");
                assert_eq!(self.slots[i as usize].bucket as usize, b, "bucket field");
                seen[i as usize] += 1;
                let t = (0..len)
                    .map(|k| self.next_tick + k)
                    .find(|t| t % len == b as u64)
                    .unwrap();
                let due_tick = (self.due_ns(i) / TICK_NS).max(self.next_tick);
                assert!(
                    t <= due_tick,
                    "flow {i} filed at tick {t} but due at tick {due_tick} (next_tick {})",
                    self.next_tick
                );
                prev = i;
                i = self.links[i as usize].next;
            }
            assert_eq!(list.tail, prev, "tail");
        }
        let mut in_index = 0;
        for i in self.index.slots() {
            assert_eq!(
                seen[i as usize], 1,
                "slot {i} in index filed {} times",
                seen[i as usize]
            );
            in_index += 1;
        }
        assert_eq!(
            seen.iter().map(|&n| n as usize).sum::<usize>(),
            in_index,
            "wheel entries not in index"
        );
        for &f in &self.free {
            assert_eq!(seen[f as usize], 0, "free slot filed");
        }
        assert_eq!(self.free.len() + in_index, self.slots.len());
    }

    pub fn stats(&self) -> CacheStats {
        CacheStats {
            active: self.index.len() as u64,
            ..self.stats
        }
    }

    /// Accounts one packet seen at `ts_ns`; flows that end because of it (or
    /// whose timeouts passed by then) are appended to `out`.
    pub fn observe(&mut self, ts_ns: u64, pkt: &Packet<'_>, out: &mut Vec<FlowRecord>) {
        self.observe_batch(std::slice::from_ref(&(ts_ns, *pkt)), out);
    }

    /// Accounts packets in order, exactly as [`Self::observe`] one at a time
    /// would, but looks ahead. Most of a packet's time in the cache is spent
    /// waiting for memory: its index bucket, then its flow's slot, then its
    /// parser's state, each a miss once the cache holds more flows than the
    /// CPU cache. So the buckets of every packet in the batch are asked for
    /// first, then the slots they point at, and each packet's parser state a
    /// few packets before its turn: the misses overlap instead of following
    /// one another.
    pub fn observe_batch(&mut self, packets: &[(u64, Packet<'_>)], out: &mut Vec<FlowRecord>) {
        for batch in packets.chunks(LOOKAHEAD) {
            let mut hashes = [None; LOOKAHEAD];
            for (hash, (_, pkt)) in hashes.iter_mut().zip(batch) {
                *hash = self.lookup_hash(pkt);
                if let Some(hash) = *hash {
                    self.index.prefetch(hash);
                }
            }
            let mut flows = [NIL; LOOKAHEAD];
            for (flow, hash) in flows.iter_mut().zip(&hashes[..batch.len()]) {
                if let Some(idx) = hash.and_then(|hash| self.index.candidate(hash)) {
                    *flow = idx;
                    self.prefetch_slot(idx);
                }
            }
            for (i, (ts_ns, pkt)) in batch.iter().enumerate() {
                if let Some(&ahead) = flows.get(i + PARSERS_AHEAD) {
                    self.prefetch_parser(ahead);
                }
                self.observe_one(*ts_ns, pkt, hashes[i], out);
            }
        }
    }

    /// The hash under which `pkt`'s flow is indexed, when the packet alone
    /// tells it: not for a per-packet flow (never indexed) nor for a later
    /// fragment (its ports come from the fragment table).
    fn lookup_hash(&self, pkt: &Packet<'_>) -> Option<u64> {
        if pkt.frag.is_later() || self.is_per_packet(pkt.proto, pkt.src_port, pkt.dst_port) {
            return None;
        }
        let (key, _) = self.key_of(pkt, pkt.src_port, pkt.dst_port);
        Some(self.hasher.hash_one(key))
    }

    /// [`Self::observe`] of one packet; `known_hash` is its
    /// [`Self::lookup_hash`], when that has one.
    fn observe_one(
        &mut self,
        ts_ns: u64,
        pkt: &Packet<'_>,
        known_hash: Option<u64>,
        out: &mut Vec<FlowRecord>,
    ) {
        self.stats.packets += 1;
        self.advance(ts_ns, out);

        let (src_port, dst_port) = self.ports_of(ts_ns, pkt);
        if self.is_per_packet(pkt.proto, src_port, dst_port) {
            let mut record = new_record(ts_ns, pkt, src_port, dst_port);
            record.end_reason = EndReason::EndOfFlow;
            record.l7 = self.parse_single(pkt, src_port, dst_port);
            self.stats.flows_created += 1;
            self.stats.flows_exported += 1;
            out.push(record);
            return;
        }

        let (key, from_a) = self.key_of(pkt, src_port, dst_port);
        let flags = if pkt.proto == TCP { pkt.tcp_flags } else { 0 };
        let hash = known_hash.unwrap_or_else(|| self.hasher.hash_one(key));
        let slots = &self.slots;
        let found = self.index.find(hash, |i| slots[i as usize].key == key);
        let ports = (src_port, dst_port);
        let idx = match found {
            Some(idx) => match self.ends_before(idx, ts_ns, flags) {
                Some(reason) => {
                    self.export(idx, reason, out);
                    self.insert_and_probe(key, from_a, ts_ns, pkt, ports, out)
                }
                None if self.wants_l7(idx, pkt, from_a) => {
                    self.feed_existing(idx, key, from_a, ts_ns, pkt, ports, out)
                }
                None => {
                    self.update(idx, ts_ns, pkt, from_a);
                    idx
                }
            },
            None => self.insert_and_probe(key, from_a, ts_ns, pkt, ports, out),
        };

        if flags & (tcp_flags::FIN | tcp_flags::RST) != 0 {
            // The connection's last ACKs and retransmissions still belong to
            // it, as nfpcapd, ipfixprobe and FlowTest count them, so the flow
            // stays until it goes idle or a new connection reuses the key.
            self.slots[idx as usize].finished = true;
        }
    }

    /// Whether this packet's payload goes to flow `idx`'s application-layer state.
    fn wants_l7(&self, idx: u32, pkt: &Packet<'_>, from_a: bool) -> bool {
        let slot = &self.slots[idx as usize];
        slot.l7_wanted
            && !pkt.payload.is_empty()
            && !pkt.frag.is_later()
            && (!self.config.biflow || from_a == slot.first_from_a)
    }

    /// Creates a flow for the packet and, when it carries payload, lets the
    /// parsers probe it.
    fn insert_and_probe(
        &mut self,
        key: FlowKey,
        from_a: bool,
        ts_ns: u64,
        pkt: &Packet<'_>,
        ports: (u16, u16),
        out: &mut Vec<FlowRecord>,
    ) -> u32 {
        let idx = self.insert(key, from_a, ts_ns, pkt, ports, out);
        if self.wants_l7(idx, pkt, from_a) {
            // Nothing came before the first payload, so a boundary means nothing here.
            self.feed_l7(idx, pkt, pkt.payload, ports);
        }
        idx
    }

    /// Feeds a packet of an ongoing flow to its parser before counting it: a
    /// packet that starts a new transaction ends the current record and
    /// starts the next one, which inherits the parser (same connection).
    #[allow(clippy::too_many_arguments)]
    fn feed_existing(
        &mut self,
        idx: u32,
        key: FlowKey,
        from_a: bool,
        ts_ns: u64,
        pkt: &Packet<'_>,
        ports: (u16, u16),
        out: &mut Vec<FlowRecord>,
    ) -> u32 {
        // Bytes the parser said carry nothing for it are not fed at all.
        let skip = self.slots[idx as usize].l7_skip as usize;
        if skip >= pkt.payload.len() {
            self.slots[idx as usize].l7_skip -= pkt.payload.len() as u32;
            self.update(idx, ts_ns, pkt, from_a);
            return idx;
        }
        self.slots[idx as usize].l7_skip = 0;
        if self.feed_l7(idx, pkt, &pkt.payload[skip..], ports) != Feed::Boundary {
            self.update(idx, ts_ns, pkt, from_a);
            return idx;
        }
        let Some(mut parser) = self.slots[idx as usize].parser.take() else {
            self.update(idx, ts_ns, pkt, from_a);
            return idx;
        };
        self.records[idx as usize].l7 = parser.take_finished();
        self.export(idx, EndReason::EndOfFlow, out);
        let next = self.insert(key, from_a, ts_ns, pkt, ports, out);
        self.slots[next as usize].parser = Some(parser);
        self.stats.l7_flows += 1;
        next
    }

    /// Probes (on the first payload) and feeds `payload` (the packet's, less
    /// any bytes skipped) to flow `idx`'s parser.
    fn feed_l7(
        &mut self,
        idx: u32,
        pkt: &Packet<'_>,
        payload: &[u8],
        (src_port, dst_port): (u16, u16),
    ) -> Feed {
        let slot = &mut self.slots[idx as usize];
        // Called only while `l7_wanted`: no parser means not probed yet.
        if slot.parser.is_none() {
            let transport = Transport {
                proto: pkt.proto,
                src_port,
                dst_port,
            };
            if let Some(spec) = self
                .l7_parsers
                .iter()
                .find(|spec| (spec.probe)(&transport, payload))
            {
                slot.parser = Some((spec.new)());
                self.stats.l7_flows += 1;
            }
        }
        let result = match &mut slot.parser {
            Some(parser) => parser.feed(payload),
            None => Feed::Done,
        };
        if let Feed::Skip(n) = result {
            slot.l7_skip = n;
        }
        if result == Feed::Done {
            if let Some(mut parser) = slot.parser.take() {
                self.records[idx as usize].l7 = parser.take_current();
            }
            slot.l7_wanted = false;
        }
        result
    }

    /// The fields of a flow that is a single packet (nfpcapd's DNS rule).
    fn parse_single(
        &mut self,
        pkt: &Packet<'_>,
        src_port: u16,
        dst_port: u16,
    ) -> Option<l7::L7Fields> {
        if self.l7_parsers.is_empty() || pkt.payload.is_empty() || pkt.frag.is_later() {
            return None;
        }
        let transport = Transport {
            proto: pkt.proto,
            src_port,
            dst_port,
        };
        let spec = self
            .l7_parsers
            .iter()
            .find(|spec| (spec.probe)(&transport, pkt.payload))?;
        let mut parser = (spec.new)();
        parser.feed(pkt.payload);
        self.stats.l7_flows += 1;
        parser.take_current()
    }

    /// Exports every flow whose timeout has passed at `now_ns` (a wall-clock
    /// tick for live capture; packet time otherwise).
    pub fn expire(&mut self, now_ns: u64, out: &mut Vec<FlowRecord>) {
        self.advance(now_ns, out);
    }

    /// Exports every flow (end of input): those whose timeout had passed with
    /// their timeout's reason, the rest as forced.
    pub fn flush(&mut self, out: &mut Vec<FlowRecord>) {
        for bucket in 0..self.wheel.len() {
            let b = (self.next_tick as usize + bucket) % self.wheel.len();
            while self.wheel[b].head != NIL {
                let idx = self.wheel[b].head;
                let reason = self
                    .due_reason(idx, self.now_ns)
                    .unwrap_or(EndReason::Forced);
                self.export(idx, reason, out);
            }
        }
    }

    /// Which timeout of flow `idx` has passed at `now_ns`, if any.
    fn timeout_reason(&self, idx: u32, now_ns: u64) -> Option<EndReason> {
        let slot = &self.slots[idx as usize];
        if now_ns.saturating_sub(slot.last_ns) > self.config.inactive_timeout_ns {
            // A finished connection that went quiet ended by its FIN/RST.
            Some(if slot.finished {
                EndReason::EndOfFlow
            } else {
                EndReason::Idle
            })
        } else if now_ns.saturating_sub(slot.first_ns) > self.config.active_timeout_ns {
            Some(EndReason::Active)
        } else {
            None
        }
    }

    /// Why flow `idx` has ended by `now_ns` (timeouts, or a FIN/RST seen),
    /// if it has: what the end of input asks.
    fn due_reason(&self, idx: u32, now_ns: u64) -> Option<EndReason> {
        let finished = self.slots[idx as usize].finished;
        self.timeout_reason(idx, now_ns)
            .or(finished.then_some(EndReason::EndOfFlow))
    }

    /// Whether flow `idx` ends before a packet at `ts_ns` with `flags`: its
    /// timeouts passed, or a new SYN reuses a finished connection's key.
    fn ends_before(&self, idx: u32, ts_ns: u64, flags: u8) -> Option<EndReason> {
        let new_syn = flags & (tcp_flags::SYN | tcp_flags::ACK) == tcp_flags::SYN;
        let reused = self.slots[idx as usize].finished && new_syn;
        self.timeout_reason(idx, ts_ns)
            .or(reused.then_some(EndReason::EndOfFlow))
    }

    /// The time after which flow `idx` has timed out.
    fn due_ns(&self, idx: u32) -> u64 {
        let slot = &self.slots[idx as usize];
        let idle = slot.last_ns.saturating_add(self.config.inactive_timeout_ns);
        let active = slot.first_ns.saturating_add(self.config.active_timeout_ns);
        idle.min(active)
    }

    /// The tick whose bucket flow `idx` belongs in: its due tick, kept within
    /// the wheel's reach and never one already processed.
    fn due_tick(&self, idx: u32) -> u64 {
        let last_reachable = self.next_tick + self.wheel.len() as u64 - 1;
        (self.due_ns(idx) / TICK_NS).clamp(self.next_tick, last_reachable)
    }

    /// Files flow `idx` in the bucket of its due tick.
    fn schedule(&mut self, idx: u32) {
        let bucket = (self.due_tick(idx) % self.wheel.len() as u64) as usize;
        self.wheel[bucket].push_back(&mut self.links, idx);
        self.slots[idx as usize].bucket = bucket as u32;
    }

    /// Moves the clock to `now_ns` and processes every bucket whose tick has
    /// fully passed: flows past their timeout are exported, the others refiled.
    fn advance(&mut self, now_ns: u64, out: &mut Vec<FlowRecord>) {
        self.now_ns = self.now_ns.max(now_ns);
        let now_tick = self.now_ns / TICK_NS;
        let len = self.wheel.len() as u64;
        if now_tick.saturating_sub(self.next_tick) > len {
            // One turn sees every flow; do it as the last turn before now,
            // so refiled flows land in buckets of ticks >= now_tick.
            self.next_tick = now_tick - len;
        }
        if !self.index.is_empty() {
            // After a jump longer than the wheel, one turn sees every flow.
            let ticks = now_tick
                .saturating_sub(self.next_tick)
                .min(self.wheel.len() as u64);
            for _ in 0..ticks {
                let bucket = (self.next_tick % self.wheel.len() as u64) as usize;
                self.next_tick += 1;
                self.process_bucket(bucket, out);
            }
        }
        self.next_tick = self.next_tick.max(now_tick);
    }

    fn process_bucket(&mut self, bucket: usize, out: &mut Vec<FlowRecord>) {
        // Detach the bucket first: refiled flows may land in it again.
        let mut idx = std::mem::take(&mut self.wheel[bucket]).head;
        let mut due = std::mem::take(&mut self.due);
        due.clear();
        while idx != NIL {
            due.push(idx);
            idx = std::mem::take(&mut self.links[idx as usize]).next;
        }
        // The flows of a bucket are scattered over the slab and long out of
        // the cache: each one's slot, record, parser and index bucket are
        // asked for a few flows ahead, so that their cache misses overlap.
        for (i, &idx) in due.iter().enumerate() {
            if let Some(&ahead) = due.get(i + PREFETCH_FLOWS) {
                self.prefetch_flow(ahead);
            }
            if let Some(&ahead) = due.get(i + PREFETCH_FLOWS / 2) {
                self.prefetch_parser(ahead);
                self.prefetch_index_entry(ahead);
            }
            match self.timed_out(idx) {
                Some(reason) => self.export_unfiled(idx, reason, out),
                None => self.schedule(idx),
            }
        }
        self.due = due;
    }

    /// Asks the CPU for flow `idx`'s slot: what a packet of the flow reads.
    fn prefetch_slot(&self, idx: u32) {
        if let Some(slot) = self.slots.get(idx as usize) {
            prefetch_range(std::ptr::from_ref(slot).cast(), std::mem::size_of::<Slot>());
        }
    }

    /// Asks the CPU for flow `idx`'s slot (with its L7 state) and record.
    fn prefetch_flow(&self, idx: u32) {
        self.prefetch_slot(idx);
        if let Some(record) = self.records.get(idx as usize) {
            prefetch_range(
                std::ptr::from_ref(record).cast(),
                std::mem::size_of::<FlowRecord>(),
            );
        }
    }

    /// Asks the CPU for flow `idx`'s parser state (its slot, asked for by
    /// [`Self::prefetch_flow`] earlier, says where it is).
    fn prefetch_parser(&self, idx: u32) {
        if let Some(Slot {
            parser: Some(parser),
            ..
        }) = self.slots.get(idx as usize)
        {
            let state: *const dyn Parser = &**parser;
            record::text::prefetch(state.cast());
        }
    }

    /// Asks the CPU for the index bucket where flow `idx` is looked up (its
    /// slot, asked for earlier, holds the key that says which).
    fn prefetch_index_entry(&self, idx: u32) {
        if let Some(slot) = self.slots.get(idx as usize) {
            self.index.prefetch(self.hasher.hash_one(slot.key));
        }
    }

    /// What the wheel checks: has a timeout of flow `idx` passed?
    fn timed_out(&self, idx: u32) -> Option<EndReason> {
        self.timeout_reason(idx, self.now_ns)
    }

    fn is_per_packet(&self, proto: u8, src_port: u16, dst_port: u16) -> bool {
        match proto {
            UDP => {
                self.per_packet_port[src_port as usize] || self.per_packet_port[dst_port as usize]
            }
            ICMP | ICMPV6 => self.config.per_packet_icmp,
            _ => false,
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

    /// The key of a packet (with biflow, the same for both directions) and
    /// whether the packet goes from the key's `a` endpoint to `b`.
    fn key_of(&self, pkt: &Packet<'_>, src_port: u16, dst_port: u16) -> (FlowKey, bool) {
        let forward = FlowKey {
            a_ip: pkt.src_ip,
            b_ip: pkt.dst_ip,
            a_port: src_port,
            b_port: dst_port,
            vlan: pkt.vlan,
            proto: pkt.proto,
        };
        if self.config.biflow && (pkt.dst_ip, dst_port) < (pkt.src_ip, src_port) {
            let reversed = FlowKey {
                a_ip: pkt.dst_ip,
                b_ip: pkt.src_ip,
                a_port: dst_port,
                b_port: src_port,
                ..forward
            };
            (reversed, false)
        } else {
            (forward, true)
        }
    }

    fn insert(
        &mut self,
        key: FlowKey,
        from_a: bool,
        ts_ns: u64,
        pkt: &Packet<'_>,
        (src_port, dst_port): (u16, u16),
        out: &mut Vec<FlowRecord>,
    ) -> u32 {
        if self.index.len() >= self.config.capacity {
            self.evict_one(out);
        }
        let mut record = new_record(ts_ns, pkt, src_port, dst_port);
        if self.config.biflow {
            record.reverse = Some(Reverse::default());
        }
        let slot = Slot {
            key,
            bucket: 0,
            tcp_flags: record.tcp_flags,
            finished: false,
            first_from_a: from_a,
            l7_wanted: !self.l7_parsers.is_empty() && matches!(pkt.proto, TCP | UDP),
            l7_skip: 0,
            last_ns: ts_ns,
            packets: 1,
            bytes: record.bytes,
            first_ns: ts_ns,
            parser: None,
        };
        let idx = match self.free.pop() {
            Some(idx) => {
                self.slots[idx as usize] = slot;
                self.records[idx as usize] = record;
                idx
            }
            None => {
                self.slots.push(slot);
                self.records.push(record);
                self.links.push(Links::default());
                (self.slots.len() - 1) as u32
            }
        };
        self.index.insert(self.hasher.hash_one(key), idx);
        self.schedule(idx);
        self.stats.flows_created += 1;
        idx
    }

    /// Makes room for one flow: the one due soonest goes. Flows refiled
    /// lazily may sit in an earlier bucket than their due tick, so those met
    /// on the way are refiled first; each move is forward, so this is
    /// amortised constant time. After a full turn, the first flow found goes.
    fn evict_one(&mut self, out: &mut Vec<FlowRecord>) {
        let len = self.wheel.len() as u64;
        for step in 0..2 * len {
            let tick = self.next_tick + step % len;
            let bucket = (tick % len) as usize;
            while self.wheel[bucket].head != NIL {
                let idx = self.wheel[bucket].head;
                if self.due_tick(idx) <= tick || step >= len {
                    match self.timed_out(idx) {
                        Some(reason) => self.export(idx, reason, out),
                        None => {
                            self.stats.evictions += 1;
                            self.export(idx, EndReason::Eviction, out);
                        }
                    }
                    return;
                }
                self.wheel[bucket].unlink(&mut self.links, idx);
                self.schedule(idx);
            }
        }
    }

    fn update(&mut self, idx: u32, ts_ns: u64, pkt: &Packet<'_>, from_a: bool) {
        let flags = if pkt.proto == TCP { pkt.tcp_flags } else { 0 };
        let slot = &mut self.slots[idx as usize];
        slot.last_ns = slot.last_ns.max(ts_ns);
        // A biflow record has the direction of its first packet.
        if !self.config.biflow || from_a == slot.first_from_a {
            slot.packets += 1;
            slot.bytes += u64::from(pkt.ip_len);
            slot.tcp_flags |= flags;
            if ts_ns < slot.first_ns {
                // The active due time moved earlier: refile.
                slot.first_ns = ts_ns;
                let bucket = slot.bucket as usize;
                self.wheel[bucket].unlink(&mut self.links, idx);
                self.schedule(idx);
            }
        } else {
            let rev = self.records[idx as usize]
                .reverse
                .get_or_insert_with(Reverse::default);
            rev.first_ns = if rev.packets == 0 {
                ts_ns
            } else {
                rev.first_ns.min(ts_ns)
            };
            rev.packets += 1;
            rev.bytes += u64::from(pkt.ip_len);
            rev.tcp_flags |= flags;
            rev.last_ns = rev.last_ns.max(ts_ns);
        }
    }

    /// Exports a flow that is filed in the wheel.
    fn export(&mut self, idx: u32, reason: EndReason, out: &mut Vec<FlowRecord>) {
        let bucket = self.slots[idx as usize].bucket as usize;
        self.wheel[bucket].unlink(&mut self.links, idx);
        self.export_unfiled(idx, reason, out);
    }

    /// Exports a flow that is not (or no longer) filed in the wheel.
    fn export_unfiled(&mut self, idx: u32, reason: EndReason, out: &mut Vec<FlowRecord>) {
        let hash = self.hasher.hash_one(self.slots[idx as usize].key);
        self.index.remove(hash, idx);
        let slot = &mut self.slots[idx as usize];
        slot.finished = false;
        let mut record = std::mem::take(&mut self.records[idx as usize]);
        record.first_ns = slot.first_ns;
        record.last_ns = slot.last_ns;
        record.packets = slot.packets;
        record.bytes = slot.bytes;
        record.tcp_flags = slot.tcp_flags;
        record.end_reason = reason;
        if let Some(mut parser) = slot.parser.take() {
            record.l7 = parser.take_current();
        }
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
        l7: None,
        ..FlowRecord::default()
    }
}

#[cfg(test)]
mod tests;
