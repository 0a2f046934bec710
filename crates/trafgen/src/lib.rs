//! A seeded traffic generator that writes classic pcap files: TCP
//! connections carrying HTTP/1.1, TLS and SSH handshakes, DNS lookups, ICMP
//! echo, NTP, other UDP and port scans, over IPv4 and IPv6, optionally
//! VLAN-tagged. It feeds benchmarks (millions of packets against a flow
//! meter) and tests (known conversations whose counts the summary reports).
//!
//! It deliberately does not simulate a network: there is no loss, no
//! congestion control and no reordering, and the capture point is a
//! border next to the clients. What it does promise is well-formed
//! packets (checksums, lengths, sequence and acknowledgement numbers that a
//! dissector accepts, application heads a dissector parses) and the same
//! bytes for the same seed and configuration, on every platform.
//!
//! The design decision to question: the output is time-ordered without
//! holding packets. Each active conversation is a small state machine that
//! knows the time of its next packet; a monotone priority queue keyed by
//! that time (in microseconds, pcap's resolution) picks the earliest, which
//! is written and rescheduled. New conversations arrive at the configured
//! rate (exponential gaps) as long as fewer than [`MAX_ACTIVE`] are open,
//! so memory is bounded by that cap (about 14 MB), not by the number of
//! flows. Payload bytes are re-rendered per segment from seeds and shared
//! pools, so a conversation never holds its messages. Each conversation
//! draws from its own PRNG stream, forked from the seed in arrival order,
//! so what it says does not depend on how it interleaves with others.
//!
//! Wireshark is the yardstick: `tshark` reports no errors and no malformed
//! packets with checksum validation on, and dissects every HTTP request,
//! TLS server name and DNS query the summary counts. Two kinds of warning
//! remain: deliberate RSTs, and Wireshark 4.0 not decoding ed25519 SSH host
//! key signatures.
//!
//! Attacks (port scans, a SYN flood, DNS amplification, SSH/RDP/SIP brute
//! force, toll fraud, a DNS tunnel, a Stratum miner, blacklisted
//! destinations) can be mixed in with [`GenConfig::attacks`]; see
//! [`attacks`] for their fixed addresses and shapes. They are rendered
//! apart from the benign conversations and merged by time, so the benign
//! packets do not change, and without attacks the output is exactly what
//! it was before they existed.
//!
//! Volume at the defaults, per million conversations: about 15.8 million
//! packets and 8.4 GB, spanning three minutes of capture time; release
//! builds generate that in about three seconds (writing it out is the slow
//! part).

pub mod attacks;
mod conv;
mod dns;
mod http;
mod queue;
mod rng;
mod ssh;
mod tcp;
mod tls;
mod wire;
mod world;

use std::io::{self, Write};

pub use attacks::{Attack, AttackSummary};
pub use conv::Kind;
use conv::{Conv, Ctx, Stats};
use queue::RadixQueue;
use rng::Rng;
use wire::PacketBuf;
use world::Pools;

/// At most this many conversations are open at once; arrivals wait for a
/// free slot beyond it (at the default rate about 20,000 are open).
pub const MAX_ACTIVE: usize = 1 << 16;

/// The queue id of the next arrival (slots are below [`MAX_ACTIVE`]).
const ARRIVAL: u32 = u32::MAX;

/// 2026-01-01T00:00:00Z in nanoseconds since the Unix epoch.
pub const DEFAULT_START_NS: u64 = 1_767_225_600 * 1_000_000_000;

/// What to generate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenConfig {
    /// Number of conversations (each one bidirectional 5-tuple).
    pub flows: u64,
    /// PRNG seed; the same seed and configuration give the same bytes.
    pub seed: u64,
    /// Time of the first packet, nanoseconds since the Unix epoch.
    pub start_ns: u64,
    /// Mean rate of new conversations per second of capture time.
    pub flows_per_sec: u64,
    /// Share of conversations over IPv6, in percent (0-100).
    pub ipv6_share_pct: u8,
    /// Share of conversations with an 802.1Q tag, in percent (0-100).
    pub vlan_share_pct: u8,
    /// Attacks mixed into the benign traffic (see [`attacks`]); none by
    /// default. The benign packets are the same with and without them.
    pub attacks: Vec<Attack>,
    /// Spoofed SYN flows of [`Attack::SynFlood`].
    pub synflood_flows: u64,
    /// Amplified DNS responses of [`Attack::DnsAmp`].
    pub dnsamp_flows: u64,
}

impl Default for GenConfig {
    fn default() -> GenConfig {
        GenConfig {
            flows: 10_000,
            seed: 1,
            start_ns: DEFAULT_START_NS,
            flows_per_sec: 20_000,
            ipv6_share_pct: 10,
            vlan_share_pct: 0,
            attacks: Vec::new(),
            synflood_flows: 3000,
            dnsamp_flows: 2000,
        }
    }
}

/// What was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenSummary {
    /// Benign conversations written (equals `GenConfig::flows`); attack
    /// traffic is counted in `attacks` only, but its packets and bytes are
    /// in `packets` and `bytes` too.
    pub flows: u64,
    /// Packet records in the file.
    pub packets: u64,
    /// Sum of frame lengths (Ethernet header onwards; pcap headers excluded).
    pub bytes: u64,
    /// Conversations per kind, in [`Kind::ALL`] order.
    pub by_kind: [(&'static str, u64); 8],
    /// Packets per kind, in [`Kind::ALL`] order.
    pub packets_by_kind: [u64; 8],
    /// Conversations over IPv6.
    pub ipv6_flows: u64,
    /// Conversations with an 802.1Q tag.
    pub vlan_flows: u64,
    /// HTTP requests and responses (each head counted once).
    pub http_requests: u64,
    pub http_responses: u64,
    /// TLS ClientHellos; every one carries SNI.
    pub tls_client_hellos: u64,
    /// DNS queries and responses (one of each per DNS conversation).
    pub dns_queries: u64,
    pub dns_responses: u64,
    /// Timestamps of the first and last packet, nanoseconds since the epoch.
    pub first_ns: u64,
    pub last_ns: u64,
    /// What each requested attack wrote, in [`Attack::ALL`] order.
    pub attacks: Vec<AttackSummary>,
}

impl GenSummary {
    /// Conversations of one kind.
    pub fn flows_of(&self, kind: Kind) -> u64 {
        self.by_kind[kind as usize].1
    }
}

/// Writes a pcap file (little-endian, microsecond timestamps,
/// LINKTYPE_ETHERNET, snaplen 65535) of `cfg.flows` conversations to `out`,
/// in non-decreasing timestamp order. Each packet is one `write_all` of a
/// reused buffer, so pass a buffered writer (`BufWriter`); `out` is flushed
/// at the end.
pub fn write_pcap<W: Write>(cfg: &GenConfig, out: W) -> io::Result<GenSummary> {
    generate(cfg, out, MAX_ACTIVE)
}

/// [`write_pcap`] with the cap on open conversations as a parameter, so
/// tests can reach it with few flows.
fn generate<W: Write>(cfg: &GenConfig, mut out: W, max_active: usize) -> io::Result<GenSummary> {
    debug_assert!(max_active <= MAX_ACTIVE);
    // The heap keys hold 48 bits of microseconds (8.9 years); the arrivals
    // alone must fit in half of that to leave room for the long tails.
    if cfg.flows_per_sec == 0
        || cfg.flows / cfg.flows_per_sec > (1u64 << 46) / 1_000_000
        || cfg.ipv6_share_pct > 100
        || cfg.vlan_share_pct > 100
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "trafgen: flows_per_sec must be positive, flows / flows_per_sec under 2 years, shares at most 100 percent",
        ));
    }
    let mut rng = Rng::new(cfg.seed);
    let pools = Pools::new(&mut rng.fork());
    let mut pkt = PacketBuf::new();
    let mut scratch = Vec::with_capacity(4096);
    let mut stats = Stats::default();
    let mut summary = GenSummary {
        flows: 0,
        packets: 0,
        bytes: 0,
        by_kind: Kind::ALL.map(|k| (k.name(), 0)),
        packets_by_kind: [0; 8],
        ipv6_flows: 0,
        vlan_flows: 0,
        http_requests: 0,
        http_responses: 0,
        tls_client_hellos: 0,
        dns_queries: 0,
        dns_responses: 0,
        first_ns: cfg.start_ns,
        last_ns: cfg.start_ns,
        attacks: Vec::new(),
    };
    let mut chosen = cfg.attacks.clone();
    chosen.sort();
    chosen.dedup();
    // Attacks draw from streams of their own, never from `rng`.
    let (mut attack_pkts, attack_summaries) = attacks::render(
        &chosen,
        cfg.seed,
        cfg.start_ns,
        cfg.synflood_flows,
        cfg.dnsamp_flows,
        &pools,
    );
    summary.attacks = attack_summaries;
    let mut last_attack_ns = cfg.start_ns;
    // Writes the attack packets due at or before `t`.
    let mut flush_attacks = |t: u64, out: &mut W, summary: &mut GenSummary| -> io::Result<()> {
        while let Some((at, rec)) = attack_pkts.pop_until(t) {
            out.write_all(rec)?;
            if summary.packets == 0 {
                summary.first_ns = at;
            }
            summary.packets += 1;
            summary.bytes += (rec.len() - wire::REC_HDR) as u64;
            last_attack_ns = at;
        }
        Ok(())
    };
    out.write_all(&wire::pcap_header())?;

    let mean_gap_ns = (1_000_000_000 / cfg.flows_per_sec).max(1);
    // Conversation slots with the exact time of each one's next packet, a
    // free list, and the queue of (microseconds since start, slot). pcap
    // records microseconds, so ordering by them keeps the file's timestamps
    // non-decreasing. The next arrival is an entry of its own.
    let mut slots: Vec<Option<Conv>> = Vec::new();
    let mut due: Vec<u64> = Vec::new();
    let mut free: Vec<u32> = Vec::new();
    let mut queue = RadixQueue::new();
    let key = |t: u64| (t - cfg.start_ns) / 1000;
    let mut next_arrival = cfg.start_ns;
    let mut now = cfg.start_ns;
    // Set when an arrival found all MAX_ACTIVE slots busy; the next free
    // slot lets it in.
    let mut blocked = false;
    if cfg.flows > 0 {
        queue.push(0, ARRIVAL);
    }

    while let Some((_, id)) = queue.pop() {
        if id == ARRIVAL {
            if free.is_empty() && slots.len() == max_active {
                blocked = true;
                continue;
            }
            // A late arrival (the cap was reached) starts now, not in the past.
            let t = next_arrival.max(now);
            let c = Conv::new(rng.fork(), cfg.ipv6_share_pct, cfg.vlan_share_pct);
            summary.flows += 1;
            summary.by_kind[c.kind as usize].1 += 1;
            summary.ipv6_flows += u64::from(c.v6);
            summary.vlan_flows += u64::from(c.vlan);
            let slot = match free.pop() {
                Some(s) => {
                    slots[s as usize] = Some(c);
                    due[s as usize] = t;
                    s
                }
                None => {
                    slots.push(Some(c));
                    due.push(t);
                    (slots.len() - 1) as u32
                }
            };
            queue.push(key(t), slot);
            if summary.flows < cfg.flows {
                next_arrival = t + rng.exp(mean_gap_ns);
                queue.push(key(next_arrival), ARRIVAL);
            }
            continue;
        }
        let t = due[id as usize];
        now = now.max(t);
        let conv = slots[id as usize]
            .as_mut()
            .expect("scheduled slot holds a conversation");
        let mut ctx = Ctx {
            pkt: &mut pkt,
            scratch: &mut scratch,
            pools: &pools,
            stats: &mut stats,
        };
        let next = conv.step(t, &mut ctx);
        flush_attacks(t, &mut out, &mut summary)?;
        out.write_all(&pkt.buf)?;
        if summary.packets == 0 {
            summary.first_ns = t;
        }
        summary.packets += 1;
        summary.packets_by_kind[conv.kind as usize] += 1;
        summary.bytes += pkt.frame_len() as u64;
        match next {
            Some(d) => {
                due[id as usize] = t + d;
                queue.push(key(t + d), id);
            }
            None => {
                slots[id as usize] = None;
                free.push(id);
                if blocked {
                    blocked = false;
                    queue.push(key(now), ARRIVAL);
                }
            }
        }
    }
    flush_attacks(u64::MAX, &mut out, &mut summary)?;
    out.flush()?;
    summary.last_ns = now.max(last_attack_ns);
    summary.http_requests = stats.http_requests;
    summary.http_responses = stats.http_responses;
    summary.tls_client_hellos = stats.tls_client_hellos;
    summary.dns_queries = stats.dns_queries;
    summary.dns_responses = stats.dns_responses;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_delays_arrivals_but_loses_nothing() {
        // A million arrivals per second against at most 16 open conversations.
        let cfg = GenConfig {
            flows: 400,
            seed: 5,
            flows_per_sec: 1_000_000,
            ..GenConfig::default()
        };
        let mut capped = Vec::new();
        let s = generate(&cfg, &mut capped, 16).unwrap();
        assert_eq!(s.flows, 400);
        assert_eq!(s.dns_queries, s.dns_responses);
        assert_eq!(s.http_requests, s.http_responses);
        let mut free = Vec::new();
        let f = generate(&cfg, &mut free, MAX_ACTIVE).unwrap();
        assert_eq!(f.flows, 400);
        // Waiting for slots stretches the capture.
        assert!(s.last_ns - s.first_ns > f.last_ns - f.first_ns);
    }

    #[test]
    fn bad_configs_are_refused() {
        let sink = io::sink();
        assert!(write_pcap(
            &GenConfig {
                flows_per_sec: 0,
                ..GenConfig::default()
            },
            sink
        )
        .is_err());
        assert!(write_pcap(
            &GenConfig {
                ipv6_share_pct: 101,
                ..GenConfig::default()
            },
            io::sink()
        )
        .is_err());
        let none = write_pcap(
            &GenConfig {
                flows: 0,
                ..GenConfig::default()
            },
            io::sink(),
        )
        .unwrap();
        assert_eq!((none.flows, none.packets), (0, 0));
    }
}
