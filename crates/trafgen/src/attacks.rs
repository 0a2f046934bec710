//! Attack traffic mixed into the benign world: scans, floods, brute force,
//! VoIP fraud, a DNS tunnel, a Stratum miner and visits to blacklisted
//! destinations, each shaped to trip the NEMEA-style detector for it
//! (DESIGN.md section 9) comfortably above its default thresholds.
//!
//! Every attack uses the fixed IPv4 addresses below, so a test can check
//! that a detector names the right hosts. They come from the documentation
//! ranges 192.0.2.0/24, 198.51.100.0/24 and 203.0.113.0/24 and avoid the
//! addresses the benign world gives those ranges (resolvers .53, NTP
//! servers .123, scanners 203.0.113.7/.66/.129 and 198.51.100.200); the
//! horizontal scan's 300 victims are 10.30.0.0/16, a net the benign clients
//! (10.10/16, 10.20/16, 172.16/16, 192.168/16) do not use. Two attacks use
//! a benign role on purpose: the DNS tunnel and the blacklisted lookups go
//! through the benign resolver [`RESOLVER`], as they would in a real
//! network.
//!
//! Attack packets are rendered up front and merged into the benign stream
//! by time, so the file stays time-ordered. They are few: about 12,000
//! packets and 4.5 MB with all attacks at the defaults; a larger SYN flood
//! holds about 100 bytes per flow. Each attack draws from its own PRNG stream derived from
//! the seed and the attack, and never from the benign streams: the benign
//! packets are the same with and without attacks, and an attack's packets
//! do not depend on which other attacks are chosen.
//!
//! Attacks start within the first second of the capture (the benign
//! arrivals span `flows / flows_per_sec` seconds) and last from a few
//! seconds (scans, floods) to ten minutes (the miner).

use std::net::Ipv4Addr;

use crate::rng::Rng;
use crate::ssh::{self, Step};
use crate::tcp::{self, ACK, FIN, MS, PSH, RST, SEC, SYN, US};
use crate::tls::{self, Session};
use crate::wire::{Addrs, Endpoints, PacketBuf, CLIENT, PROTO_TCP, PROTO_UDP, SERVER};
use crate::world::{push_dec, push_hex, Pools};

/// The benign resolver that the DNS tunnel and the blacklisted lookups use.
pub const RESOLVER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 53);

/// Vertical scan: SYNs to [`VSCAN_PORTS`] distinct ports of one host.
pub const VSCAN_ATTACKER: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 11);
pub const VSCAN_VICTIM: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 21);
/// Distinct destination ports probed, one SYN each in random order: the
/// open ports and the lowest others, 2-8 ms apart.
pub const VSCAN_PORTS: u16 = 200;
/// Ports the vertical-scan victim has open (it answers SYN-ACK, the
/// scanner resets); the others answer RST-ACK.
pub const VSCAN_OPEN: [u16; 3] = [22, 80, 443];

/// Horizontal scan: one SYN to port [`HSCAN_PORT`] of each of
/// [`HSCAN_VICTIMS`] hosts 10.30.0.1, 10.30.0.2, ... (see [`hscan_victim`]).
pub const HSCAN_ATTACKER: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 12);
pub const HSCAN_NET: Ipv4Addr = Ipv4Addr::new(10, 30, 0, 0);
pub const HSCAN_VICTIMS: u32 = 300;
pub const HSCAN_PORT: u16 = 445;

/// SYN flood: one-packet SYN flows of 40-60 IP bytes from random spoofed
/// sources to this host's port 80 (`GenConfig::synflood_flows` of them);
/// the victim answers one in twenty with SYN-ACK.
pub const SYNFLOOD_VICTIM: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 80);
pub const SYNFLOOD_PORT: u16 = 80;

/// DNS amplification: [`DNSAMP_RESOLVERS`] open resolvers 198.51.100.10-29
/// (see [`dnsamp_resolver`]) send `GenConfig::dnsamp_flows` responses of
/// 1200-1400 bytes (ANY for [`DNSAMP_NAME`], each to a new victim port) to
/// the victim, which also "sends" one spoofed query to each resolver. The
/// first resolver, 198.51.100.10, sends about 62 % of the responses (1240
/// of the default 2000), the others about 2 % each.
pub const DNSAMP_VICTIM: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 90);
pub const DNSAMP_RESOLVER_FIRST: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 10);
pub const DNSAMP_RESOLVERS: u32 = 20;
pub const DNSAMP_NAME: &str = "amp.example.org";

/// SSH brute force: [`SSHBF_CONNECTIONS`] connections a second apart, each
/// a full key exchange, 3-5 failed password attempts and a FIN close
/// (about 12-16 client packets and 2000-3000 IP bytes, 12-16 server
/// packets and 2000-2500 bytes).
pub const SSHBF_ATTACKER: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 31);
pub const SSHBF_SERVER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 22);
pub const SSHBF_CONNECTIONS: u32 = 80;

/// RDP brute force: [`RDPBF_CONNECTIONS`] connections a second apart to
/// port 3389, each an X.224 connection request, a TLS handshake and
/// CredSSP records (25-35 client packets, 3000-6000 client IP bytes).
pub const RDPBF_ATTACKER: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 32);
pub const RDPBF_SERVER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 33);
pub const RDPBF_CONNECTIONS: u32 = 60;
/// The server name in the RDP clients' TLS hello.
pub const RDPBF_SNI: &str = "rdp.example.org";

/// The SIP server (UDP 5060) of the SIP brute force and the toll fraud.
pub const SIP_SERVER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 50);
/// SIP brute force: [`SIPBF_ATTEMPTS`] REGISTERs for user [`SIPBF_USER`],
/// each from a new source port and answered "401 Unauthorized".
pub const SIPBF_ATTACKER: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 41);
pub const SIPBF_USER: &str = "100";
pub const SIPBF_ATTEMPTS: u32 = 80;
/// Toll fraud: [`TOLLFRAUD_CALLS`] INVITEs within 8 s to
/// `sip:00420NNNNNNNNN@192.0.2.50`, each number with a different
/// 10-digit prefix, answered 404 or 403.
pub const TOLLFRAUD_ATTACKER: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 42);
pub const TOLLFRAUD_CALLS: u32 = 30;

/// DNS tunnel: [`DNSTUNNEL_QUERIES`] TXT queries (one every half second,
/// each from a new port, over 150 s) for unique random base32 names under
/// [`DNSTUNNEL_DOMAIN`] to [`RESOLVER`], answered with one TXT string of
/// 100-250 base32 characters. Names are 60-94 characters (mean 77, so the
/// DNS query is about 95 bytes), responses 190-370 bytes.
pub const DNSTUNNEL_CLIENT: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 70);
pub const DNSTUNNEL_DOMAIN: &str = "t.tunnel.example";
pub const DNSTUNNEL_QUERIES: u32 = 300;

/// Stratum mining: one TCP connection from the miner to the pool's port
/// 3333 lasting [`STRATUM_SECS`], with mining.subscribe/authorize, then a
/// job from the pool and a share from the miner about every ten seconds.
pub const STRATUM_MINER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);
pub const STRATUM_POOL: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 77);
pub const STRATUM_PORT: u16 = 3333;
pub const STRATUM_SECS: u64 = 620;

/// Blacklisted destinations: each client resolves [`BLACKLIST_DOMAIN`] (to
/// [`BLACKLIST_DOMAIN_ADDR`]) and fetches `http://malware.example.net`
/// [`BLACKLIST_PATH`] and `https://malware.example.net/` (SNI); it also
/// fetches `http://203.0.113.250/payload.bin` and connects with TLS to
/// [`BLACKLIST_IP`] port 443 (SNI [`BLACKLIST_IP_SNI`]).
pub const BLACKLIST_CLIENTS: [Ipv4Addr; 3] = [
    Ipv4Addr::new(192, 0, 2, 110),
    Ipv4Addr::new(192, 0, 2, 111),
    Ipv4Addr::new(192, 0, 2, 112),
];
pub const BLACKLIST_DOMAIN: &str = "malware.example.net";
pub const BLACKLIST_DOMAIN_ADDR: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 66);
pub const BLACKLIST_PATH: &str = "/gate.php";
pub const BLACKLIST_IP: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 250);
pub const BLACKLIST_IP_SNI: &str = "update.example.org";

/// The `i`-th horizontal-scan victim (0-based), 10.30.0.1 onwards.
pub fn hscan_victim(i: u32) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(HSCAN_NET) + 1 + i + i / 255)
}

/// The `i`-th open resolver of the DNS amplification (0-based).
pub fn dnsamp_resolver(i: u32) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(DNSAMP_RESOLVER_FIRST) + i)
}

/// The attacks, in [`Attack::ALL`] order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Attack {
    VScan,
    HScan,
    SynFlood,
    DnsAmp,
    SshBf,
    RdpBf,
    SipBf,
    TollFraud,
    DnsTunnel,
    Stratum,
    Blacklist,
}

impl Attack {
    pub const ALL: [Attack; 11] = [
        Attack::VScan,
        Attack::HScan,
        Attack::SynFlood,
        Attack::DnsAmp,
        Attack::SshBf,
        Attack::RdpBf,
        Attack::SipBf,
        Attack::TollFraud,
        Attack::DnsTunnel,
        Attack::Stratum,
        Attack::Blacklist,
    ];

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Attack::VScan => "vscan",
            Attack::HScan => "hscan",
            Attack::SynFlood => "synflood",
            Attack::DnsAmp => "dnsamp",
            Attack::SshBf => "sshbf",
            Attack::RdpBf => "rdpbf",
            Attack::SipBf => "sipbf",
            Attack::TollFraud => "tollfraud",
            Attack::DnsTunnel => "dnstunnel",
            Attack::Stratum => "stratum",
            Attack::Blacklist => "blacklist",
        }
    }

    pub fn from_name(name: &str) -> Option<Attack> {
        Attack::ALL.into_iter().find(|a| a.name() == name)
    }

    /// Parses a comma-separated list of names or `all`; the result is in
    /// [`Attack::ALL`] order without duplicates.
    pub fn parse_list(list: &str) -> Result<Vec<Attack>, String> {
        let mut out = Vec::new();
        for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if name == "all" {
                out.extend(Attack::ALL);
                continue;
            }
            match Attack::from_name(name) {
                Some(a) => out.push(a),
                None => {
                    let names: Vec<&str> = Attack::ALL.iter().map(|a| a.name()).collect();
                    return Err(format!(
                        "unknown attack {name:?} (known: {}, all)",
                        names.join(", ")
                    ));
                }
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }
}

/// What one attack wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttackSummary {
    pub attack: Attack,
    /// Packet records and frame bytes (both also in the totals).
    pub packets: u64,
    pub bytes: u64,
    /// Connections, or request/response exchanges for UDP (a spoofed SYN
    /// and a scan probe count as one each).
    pub conversations: u64,
    /// Timestamps of its first and last packet, nanoseconds since the epoch.
    pub first_ns: u64,
    pub last_ns: u64,
}

/// Rendered attack packets: pcap records (header and frame) in one buffer.
pub(crate) struct Rendered {
    data: Vec<u8>,
    /// (time, offset, length), sorted by time.
    recs: Vec<(u64, usize, u32)>,
    next: usize,
}

impl Rendered {
    /// The next record at or before `t_ns`, if any.
    pub(crate) fn pop_until(&mut self, t_ns: u64) -> Option<(u64, &[u8])> {
        let &(t, off, len) = self.recs.get(self.next)?;
        if t > t_ns {
            return None;
        }
        self.next += 1;
        Some((t, &self.data[off..off + len as usize]))
    }
}

/// Renders `attacks` for a capture starting at `start_ns`.
pub(crate) fn render(
    attacks: &[Attack],
    seed: u64,
    start_ns: u64,
    synflood_flows: u64,
    dnsamp_flows: u64,
    pools: &Pools,
) -> (Rendered, Vec<AttackSummary>) {
    let mut em = Emitter {
        pkt: PacketBuf::new(),
        data: Vec::new(),
        recs: Vec::new(),
        pools,
    };
    let mut summaries = Vec::new();
    for &a in attacks {
        let i = a as u64;
        let mut rng = Rng::new(seed ^ 0xa77a_c4ed_0000_0000 ^ (i << 24));
        // Stagger the starts over the first second.
        let t0 = start_ns + 20 * MS + i * 80 * MS;
        let first_rec = em.recs.len();
        let conversations = match a {
            Attack::VScan => vscan(&mut em, &mut rng, t0),
            Attack::HScan => hscan(&mut em, &mut rng, t0),
            Attack::SynFlood => synflood(&mut em, &mut rng, t0, synflood_flows),
            Attack::DnsAmp => dnsamp(&mut em, &mut rng, t0, dnsamp_flows),
            Attack::SshBf => sshbf(&mut em, &mut rng, t0),
            Attack::RdpBf => rdpbf(&mut em, &mut rng, t0),
            Attack::SipBf => sipbf(&mut em, &mut rng, t0),
            Attack::TollFraud => tollfraud(&mut em, &mut rng, t0),
            Attack::DnsTunnel => dnstunnel(&mut em, &mut rng, t0),
            Attack::Stratum => stratum(&mut em, &mut rng, t0),
            Attack::Blacklist => blacklist(&mut em, &mut rng, t0),
        };
        let recs = &em.recs[first_rec..];
        summaries.push(AttackSummary {
            attack: a,
            packets: recs.len() as u64,
            bytes: recs.iter().map(|r| u64::from(r.2) - 16).sum(),
            conversations,
            first_ns: recs.iter().map(|r| r.0).min().unwrap_or(t0),
            last_ns: recs.iter().map(|r| r.0).max().unwrap_or(t0),
        });
    }
    // Stable: packets of one time keep the order they were made in.
    em.recs.sort_by_key(|r| r.0);
    (
        Rendered {
            data: em.data,
            recs: em.recs,
            next: 0,
        },
        summaries,
    )
}

struct Emitter<'a> {
    pkt: PacketBuf,
    data: Vec<u8>,
    recs: Vec<(u64, usize, u32)>,
    pools: &'a Pools,
}

impl Emitter<'_> {
    /// One packet from `side` of `ep` at `t`; `body` appends the L4 header
    /// (checksum zero) and payload.
    fn emit(
        &mut self,
        ep: &mut Endpoints,
        side: usize,
        proto: u8,
        t: u64,
        body: impl FnOnce(&mut Vec<u8>),
    ) {
        self.pkt.begin(ep, side, proto);
        body(&mut self.pkt.buf);
        self.pkt.finish(ep, side, t);
        let off = self.data.len();
        self.data.extend_from_slice(&self.pkt.buf);
        self.recs.push((t, off, self.pkt.buf.len() as u32));
    }

    /// One UDP datagram carrying `payload`.
    fn udp(&mut self, ep: &mut Endpoints, side: usize, t: u64, payload: &[u8]) {
        let ports = [ep.ports[side], ep.ports[side ^ 1]];
        self.emit(ep, side, PROTO_UDP, t, |b| {
            b.extend_from_slice(&ports[0].to_be_bytes());
            b.extend_from_slice(&ports[1].to_be_bytes());
            b.extend_from_slice(&[0, 0, 0, 0]);
            b.extend_from_slice(payload);
        });
    }
}

/// A locally administered MAC derived from an address.
fn mac(a: Ipv4Addr) -> [u8; 6] {
    let o = a.octets();
    [0x02, 0xa7, o[0], o[1], o[2], o[3]]
}

fn endpoints(
    rng: &mut Rng,
    client: Ipv4Addr,
    cport: u16,
    server: Ipv4Addr,
    sport: u16,
) -> Endpoints {
    Endpoints {
        addrs: Addrs::V4([u32::from(client), u32::from(server)]),
        ports: [cport, sport],
        macs: [mac(client), mac(server)],
        vlan: 0,
        ttl: [64 - rng.range(2, 20) as u8, 64 - rng.range(2, 12) as u8],
        ip_id: [rng.next_u64() as u16, rng.next_u64() as u16],
        flow_label: [0, 0],
    }
}

fn ephemeral(rng: &mut Rng) -> u16 {
    rng.range(32768, 60999) as u16
}

/// A TCP connection written step by step; `t` is the time of the last packet.
struct Conn {
    ep: Endpoints,
    nxt: [u32; 2],
    win: [u16; 2],
    t: u64,
    rtt: u64,
}

const MSS: usize = 1448;

impl Conn {
    fn new(rng: &mut Rng, ep: Endpoints, t: u64, rtt: u64) -> Conn {
        Conn {
            ep,
            nxt: [rng.next_u32(), rng.next_u32()],
            win: [64240, 65160],
            t,
            rtt,
        }
    }

    fn seg(&mut self, em: &mut Emitter, side: usize, flags: u8, payload: &[u8], after: u64) {
        self.t += after;
        let ports = [self.ep.ports[side], self.ep.ports[side ^ 1]];
        let seq = self.nxt[side];
        let ack = if flags & ACK != 0 {
            self.nxt[side ^ 1]
        } else {
            0
        };
        let win = self.win[side];
        let syn = flags & SYN != 0;
        em.emit(&mut self.ep, side, PROTO_TCP, self.t, |b| {
            tcp::push_header(b, ports, seq, ack, flags, win, if syn { 4 } else { 0 });
            if syn {
                b.extend_from_slice(&[2, 4, 0x05, 0xb4]);
            }
            b.extend_from_slice(payload);
        });
        let mut adv = payload.len() as u32;
        if flags & (SYN | FIN) != 0 {
            adv += 1;
        }
        self.nxt[side] = self.nxt[side].wrapping_add(adv);
    }

    fn handshake(&mut self, em: &mut Emitter, rng: &mut Rng) {
        self.seg(em, CLIENT, SYN, &[], 0);
        self.seg(
            em,
            SERVER,
            SYN | ACK,
            &[],
            self.rtt + rng.range(20 * US, 200 * US),
        );
        self.seg(em, CLIENT, ACK, &[], rng.range(20 * US, 300 * US));
    }

    /// Sends `data` from `side`, `after` the previous packet, in MSS-sized
    /// segments; the last one carries PSH.
    fn send(
        &mut self,
        em: &mut Emitter,
        rng: &mut Rng,
        side: usize,
        data: &[u8],
        after: (u64, u64),
    ) {
        let after = rng.range(after.0, after.1);
        let n = data.len().div_ceil(MSS).max(1);
        for (k, chunk) in data.chunks(MSS).enumerate() {
            let flags = if k + 1 == n { ACK | PSH } else { ACK };
            let gap = if k == 0 {
                after
            } else {
                rng.range(10 * US, 100 * US)
            };
            self.seg(em, side, flags, chunk, gap);
        }
    }

    /// A pure ACK from `side`.
    fn ack(&mut self, em: &mut Emitter, rng: &mut Rng, side: usize, after: (u64, u64)) {
        let after = rng.range(after.0, after.1);
        self.seg(em, side, ACK, &[], after);
    }

    /// FIN from `closer`, FIN from the peer, last ACK.
    fn close(&mut self, em: &mut Emitter, rng: &mut Rng, closer: usize, after: (u64, u64)) {
        let after = rng.range(after.0, after.1);
        let (rtt, peer) = (self.rtt, closer ^ 1);
        self.seg(em, closer, FIN | ACK, &[], after);
        let d = if peer == SERVER { rtt } else { 0 } + rng.range(50 * US, 2 * MS);
        self.seg(em, peer, FIN | ACK, &[], d);
        let d = if closer == SERVER { rtt } else { 0 } + rng.range(20 * US, 300 * US);
        self.seg(em, closer, ACK, &[], d);
    }
}

/// Random bytes of the shared pool (ciphertext).
fn random_bytes(em: &Emitter, rng: &mut Rng, n: usize) -> Vec<u8> {
    Pools::slice(&em.pools.random, rng.next_u64(), n).to_vec()
}

/// A TLS application-data record of `n` bytes in all.
fn record(em: &Emitter, rng: &mut Rng, n: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(n);
    tls::push_record(&mut v, em.pools, rng.next_u64(), n);
    v
}

fn vscan(em: &mut Emitter, rng: &mut Rng, t0: u64) -> u64 {
    let sport = ephemeral(rng);
    let mut ports: Vec<u16> = VSCAN_OPEN.to_vec();
    let mut p = 1;
    while ports.len() < usize::from(VSCAN_PORTS) {
        if !VSCAN_OPEN.contains(&p) {
            ports.push(p);
        }
        p += 1;
    }
    // nmap probes in random order.
    for i in (1..ports.len()).rev() {
        ports.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let mut t = t0;
    for &port in &ports {
        t += rng.range(2 * MS, 8 * MS);
        let ep = endpoints(rng, VSCAN_ATTACKER, sport, VSCAN_VICTIM, port);
        let mut c = Conn::new(rng, ep, t, 0);
        c.win = [1024, 0];
        c.seg(em, CLIENT, SYN, &[], 0);
        let rtt = rng.range(10 * MS, 30 * MS);
        if VSCAN_OPEN.contains(&port) {
            c.win[SERVER] = 64240;
            c.seg(em, SERVER, SYN | ACK, &[], rtt);
            c.seg(em, CLIENT, RST, &[], rng.range(20 * US, 200 * US));
        } else {
            c.seg(em, SERVER, RST | ACK, &[], rtt);
        }
    }
    u64::from(VSCAN_PORTS)
}

fn hscan(em: &mut Emitter, rng: &mut Rng, t0: u64) -> u64 {
    let sport = ephemeral(rng);
    let mut t = t0;
    for i in 0..HSCAN_VICTIMS {
        t += rng.range(3 * MS, 12 * MS);
        let ep = endpoints(rng, HSCAN_ATTACKER, sport, hscan_victim(i), HSCAN_PORT);
        let mut c = Conn::new(rng, ep, t, 0);
        c.win = [1024, 0];
        c.seg(em, CLIENT, SYN, &[], 0);
        // Most hosts are filtered or absent; a few reset.
        if rng.chance(8) {
            c.seg(em, SERVER, RST | ACK, &[], rng.range(MS, 20 * MS));
        }
    }
    u64::from(HSCAN_VICTIMS)
}

/// A random "public" address for spoofing: not private, loopback,
/// link-local, multicast or one of the documentation and benchmark ranges.
fn spoofed(rng: &mut Rng) -> Ipv4Addr {
    loop {
        let a = rng.next_u32();
        let o = a.to_be_bytes();
        if matches!(o[0], 0 | 10 | 100 | 127 | 169 | 172 | 192 | 198 | 203)
            || o[0] >= 224
            || o[3] == 0
            || o[3] == 255
        {
            continue;
        }
        return Ipv4Addr::from(a);
    }
}

/// SYN options of 0, 4, ... 20 bytes, as flood tools copy them from
/// real stacks: MSS, window scale, SACK permitted, timestamps.
const SYN_OPTIONS: [&[u8]; 6] = [
    &[],
    &[2, 4, 0x05, 0xb4],
    &[2, 4, 0x05, 0xb4, 1, 3, 3, 7],
    &[2, 4, 0x05, 0xb4, 1, 1, 4, 2, 1, 3, 3, 7],
    &[
        2, 4, 0x05, 0xb4, 1, 1, 8, 10, 0, 0x12, 0x34, 0x56, 0, 0, 0, 0,
    ],
    // Linux's order: MSS, SACK permitted, timestamps, NOP, window scale.
    &[
        2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0x12, 0x34, 0x56, 0, 0, 0, 0, 1, 3, 3, 7,
    ],
];

fn synflood(em: &mut Emitter, rng: &mut Rng, t0: u64, flows: u64) -> u64 {
    // 2000 SYNs per second, so a large flood spreads over time.
    let gap = SEC / 2000;
    let mut t = t0;
    for _ in 0..flows {
        t += rng.range(gap / 4, gap * 7 / 4);
        let src = spoofed(rng);
        let cport = rng.range(1024, 65535) as u16;
        let ep = endpoints(rng, src, cport, SYNFLOOD_VICTIM, SYNFLOOD_PORT);
        let mut c = Conn::new(rng, ep, t, 0);
        c.win = [*rng.pick(&[512u16, 1024, 5840, 65535]), 64240];
        // 40-60 IP bytes: a bare header, or with up to 20 bytes of options.
        let opts = 4 * rng.below(6) as usize;
        let ports = [c.ep.ports[CLIENT], c.ep.ports[SERVER]];
        let (seq, win) = (c.nxt[CLIENT], c.win[CLIENT]);
        em.emit(&mut c.ep, CLIENT, PROTO_TCP, t, |b| {
            tcp::push_header(b, ports, seq, 0, SYN, win, opts);
            b.extend_from_slice(SYN_OPTIONS[opts / 4]);
        });
        c.nxt[CLIENT] = seq.wrapping_add(1);
        if rng.chance(5) {
            c.seg(em, SERVER, SYN | ACK, &[], rng.range(20 * US, 200 * US));
        }
    }
    flows
}

// --- DNS -----------------------------------------------------------------

const DNS_A: u16 = 1;
const DNS_TXT: u16 = 16;
const DNS_ANY: u16 = 255;

fn dns_name(out: &mut Vec<u8>, name: &str) {
    for l in name.split('.') {
        out.push(l.len() as u8);
        out.extend_from_slice(l.as_bytes());
    }
    out.push(0);
}

fn dns_query(out: &mut Vec<u8>, id: u16, name: &str, qtype: u16, edns: Option<u16>) {
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&0x0100u16.to_be_bytes());
    out.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, u8::from(edns.is_some())]);
    dns_name(out, name);
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    if let Some(size) = edns {
        out.push(0);
        out.extend_from_slice(&41u16.to_be_bytes());
        out.extend_from_slice(&size.to_be_bytes());
        out.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    }
}

/// A response to `dns_query(id, name, qtype, edns)` with answers of
/// (type, rdata) owned by the question name.
fn dns_response(
    out: &mut Vec<u8>,
    id: u16,
    name: &str,
    qtype: u16,
    edns: Option<u16>,
    answers: &[(u16, Vec<u8>)],
    ttl: u32,
) {
    let base = out.len();
    dns_query(out, id, name, qtype, None);
    out[base + 2..base + 4].copy_from_slice(&0x8180u16.to_be_bytes());
    out[base + 6..base + 8].copy_from_slice(&(answers.len() as u16).to_be_bytes());
    for (ty, rdata) in answers {
        out.extend_from_slice(&0xc00cu16.to_be_bytes());
        out.extend_from_slice(&ty.to_be_bytes());
        out.extend_from_slice(&1u16.to_be_bytes());
        out.extend_from_slice(&ttl.to_be_bytes());
        out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        out.extend_from_slice(rdata);
    }
    if let Some(size) = edns {
        out[base + 11] = 1;
        out.push(0);
        out.extend_from_slice(&41u16.to_be_bytes());
        out.extend_from_slice(&size.to_be_bytes());
        out.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    }
}

const B32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn push_chars(out: &mut Vec<u8>, rng: &mut Rng, alphabet: &[u8], n: usize) {
    for _ in 0..n {
        out.push(alphabet[rng.below(alphabet.len() as u64) as usize]);
    }
}

/// TXT rdata: one character-string of `n <= 255` characters.
fn txt_rdata(rng: &mut Rng, alphabet: &[u8], n: usize) -> Vec<u8> {
    let mut v = vec![n as u8];
    push_chars(&mut v, rng, alphabet, n);
    v
}

fn dnsamp(em: &mut Emitter, rng: &mut Rng, t0: u64, flows: u64) -> u64 {
    let mut out = Vec::new();
    // The spoofed queries: one from the victim to each resolver.
    let mut t = t0;
    for r in 0..DNSAMP_RESOLVERS {
        t += rng.range(MS, 5 * MS);
        let cport = ephemeral(rng);
        let mut ep = endpoints(rng, DNSAMP_VICTIM, cport, dnsamp_resolver(r), 53);
        out.clear();
        dns_query(
            &mut out,
            rng.next_u32() as u16,
            DNSAMP_NAME,
            DNS_ANY,
            Some(4096),
        );
        em.udp(&mut ep, CLIENT, t, &out);
    }
    // The responses, 500 per second, each to a new victim port.
    for _ in 0..flows {
        t += rng.range(SEC / 1000, SEC * 3 / 1000);
        // The first resolver carries most of it, so one (server, victim)
        // pair alone passes the amplification detector's 1000 flows.
        let r = if rng.chance(60) {
            0
        } else {
            rng.below(u64::from(DNSAMP_RESOLVERS)) as u32
        };
        let cport = rng.range(1024, 65535) as u16;
        let mut ep = endpoints(rng, DNSAMP_VICTIM, cport, dnsamp_resolver(r), 53);
        let answers: Vec<(u16, Vec<u8>)> = (0..5)
            .map(|_| {
                let n = rng.range(230, 255) as usize;
                (DNS_TXT, txt_rdata(rng, B64, n))
            })
            .collect();
        out.clear();
        dns_response(
            &mut out,
            rng.next_u32() as u16,
            DNSAMP_NAME,
            DNS_ANY,
            Some(4096),
            &answers,
            3600,
        );
        em.udp(&mut ep, SERVER, t, &out);
    }
    flows + u64::from(DNSAMP_RESOLVERS)
}

fn dnstunnel(em: &mut Emitter, rng: &mut Rng, t0: u64) -> u64 {
    let mut t = t0;
    let mut q = Vec::new();
    let mut out = Vec::new();
    for _ in 0..DNSTUNNEL_QUERIES {
        t += rng.range(300 * MS, 700 * MS);
        q.clear();
        let n1 = rng.range(38, 58) as usize;
        push_chars(&mut q, rng, B32, n1);
        q.push(b'.');
        let n2 = rng.range(4, 18) as usize;
        push_chars(&mut q, rng, B32, n2);
        q.push(b'.');
        q.extend_from_slice(DNSTUNNEL_DOMAIN.as_bytes());
        let name = std::str::from_utf8(&q).expect("ascii");
        let id = rng.next_u32() as u16;
        let cport = ephemeral(rng);
        let mut ep = endpoints(rng, DNSTUNNEL_CLIENT, cport, RESOLVER, 53);
        out.clear();
        dns_query(&mut out, id, name, DNS_TXT, None);
        em.udp(&mut ep, CLIENT, t, &out);
        let n = rng.range(100, 250) as usize;
        let answers = [(DNS_TXT, txt_rdata(rng, B32, n))];
        out.clear();
        dns_response(&mut out, id, name, DNS_TXT, None, &answers, 0);
        em.udp(&mut ep, SERVER, t + rng.range(20 * MS, 80 * MS), &out);
    }
    u64::from(DNSTUNNEL_QUERIES)
}

// --- Brute force ---------------------------------------------------------

fn sshbf(em: &mut Emitter, rng: &mut Rng, t0: u64) -> u64 {
    let mut t = t0;
    let mut port = ephemeral(rng);
    let mut buf = Vec::new();
    for _ in 0..SSHBF_CONNECTIONS {
        t += rng.range(900 * MS, 1100 * MS);
        port = if port >= 60990 {
            32768
        } else {
            port + rng.range(1, 8) as u16
        };
        let ep = endpoints(rng, SSHBF_ATTACKER, port, SSHBF_SERVER, 22);
        let rtt = rng.range(20 * MS, 40 * MS);
        let mut c = Conn::new(rng, ep, t, rtt);
        c.handshake(em, rng);
        let mut step = |c: &mut Conn,
                        em: &mut Emitter,
                        rng: &mut Rng,
                        side: usize,
                        st: Step,
                        after: (u64, u64)| {
            buf.clear();
            ssh::write_step(st, rng.next_u64(), 0, &mut buf);
            if st == Step::ClientNewKeys {
                // SERVICE_REQUEST "ssh-userauth", encrypted.
                buf.extend_from_slice(&random_bytes(em, rng, 68));
            }
            c.send(em, rng, side, &buf, after);
        };
        step(&mut c, em, rng, SERVER, Step::ServerBanner, (MS, 3 * MS));
        step(&mut c, em, rng, CLIENT, Step::ClientBanner, (100 * US, MS));
        step(
            &mut c,
            em,
            rng,
            CLIENT,
            Step::ClientKexInit,
            (50 * US, 300 * US),
        );
        step(
            &mut c,
            em,
            rng,
            SERVER,
            Step::ServerKexInit,
            (rtt + 100 * US, rtt + MS),
        );
        step(
            &mut c,
            em,
            rng,
            CLIENT,
            Step::ClientEcdhInit,
            (200 * US, MS),
        );
        step(
            &mut c,
            em,
            rng,
            SERVER,
            Step::ServerEcdhReply,
            (rtt + MS, rtt + 3 * MS),
        );
        step(
            &mut c,
            em,
            rng,
            CLIENT,
            Step::ClientNewKeys,
            (500 * US, 2 * MS),
        );
        // SERVICE_ACCEPT.
        let d = random_bytes(em, rng, 44);
        c.send(em, rng, SERVER, &d, (rtt + 100 * US, rtt + MS));
        for _ in 0..rng.range(3, 5) {
            // USERAUTH_REQUEST (password), then USERAUTH_FAILURE after
            // sshd's failure delay, long enough for a delayed ACK first.
            let n = 84 + 16 * rng.below(4) as usize;
            let d = random_bytes(em, rng, n);
            c.send(em, rng, CLIENT, &d, (MS, 5 * MS));
            c.ack(em, rng, SERVER, (rtt + 40 * MS, rtt + 42 * MS));
            let d = random_bytes(em, rng, 44);
            c.send(em, rng, SERVER, &d, (60 * MS, 260 * MS));
        }
        c.ack(em, rng, CLIENT, (20 * MS, 40 * MS));
        c.close(em, rng, CLIENT, (MS, 5 * MS));
    }
    u64::from(SSHBF_CONNECTIONS)
}

fn rdpbf(em: &mut Emitter, rng: &mut Rng, t0: u64) -> u64 {
    let mut t = t0;
    let mut buf = Vec::new();
    for _ in 0..RDPBF_CONNECTIONS {
        t += rng.range(900 * MS, 1100 * MS);
        let cport = ephemeral(rng);
        let ep = endpoints(rng, RDPBF_ATTACKER, cport, RDPBF_SERVER, 3389);
        let rtt = rng.range(20 * MS, 40 * MS);
        let mut c = Conn::new(rng, ep, t, rtt);
        c.handshake(em, rng);
        // X.224 Connection Request with a cookie and an RDP negotiation
        // request for TLS and CredSSP.
        buf.clear();
        let cookie = b"Cookie: mstshash=administrator\r\n";
        let len = 4 + 7 + cookie.len() + 8;
        buf.extend_from_slice(&[3, 0]);
        buf.extend_from_slice(&(len as u16).to_be_bytes());
        buf.extend_from_slice(&[(len - 5) as u8, 0xe0, 0, 0, 0, 0, 0]);
        buf.extend_from_slice(cookie);
        buf.extend_from_slice(&[1, 0, 8, 0, 3, 0, 0, 0]);
        c.send(em, rng, CLIENT, &buf, (100 * US, MS));
        // Connection Confirm selecting CredSSP.
        let cc = [
            3, 0, 0, 19, 14, 0xd0, 0, 0, 0x12, 0x34, 0, 2, 0x1f, 8, 0, 2, 0, 0, 0,
        ];
        c.send(em, rng, SERVER, &cc, (rtt + 200 * US, rtt + 2 * MS));
        let s = Session::pick(rng, 0);
        buf.clear();
        tls::write_client_hello_sni(rng.next_u64(), &s, Some(RDPBF_SNI.as_bytes()), &mut buf);
        c.send(em, rng, CLIENT, &buf, (200 * US, MS));
        buf.clear();
        tls::write_server_hello(rng.next_u64(), &s, &mut buf);
        // The certificate and the rest of the server's flight, encrypted.
        let n = rng.range(900, 1300) as usize;
        buf.extend_from_slice(&record(em, rng, n));
        c.send(em, rng, SERVER, &buf, (rtt + MS, rtt + 4 * MS));
        buf.clear();
        tls::write_client_finished(rng.next_u64(), &s, &mut buf);
        c.send(em, rng, CLIENT, &buf, (300 * US, 2 * MS));
        // CredSSP/NTLM rounds, then the server refuses and closes.
        for k in 0..rng.range(11, 13) {
            let n = rng.range(120, 300) as usize;
            let d = record(em, rng, n);
            c.send(em, rng, CLIENT, &d, (MS, 10 * MS));
            let n = rng.range(60, 250) as usize;
            let d = record(em, rng, n);
            c.send(em, rng, SERVER, &d, (rtt + MS, rtt + 20 * MS));
            if k % 2 == 1 {
                c.ack(em, rng, CLIENT, (20 * MS, 40 * MS));
            }
        }
        c.close(em, rng, SERVER, (10 * MS, 50 * MS));
    }
    u64::from(RDPBF_CONNECTIONS)
}

// --- SIP -----------------------------------------------------------------

fn push_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(s.as_bytes());
}

fn push_ip(out: &mut Vec<u8>, a: Ipv4Addr) {
    push_str(out, &a.to_string());
}

/// A SIP request from `from_user` at `client:port` to `uri_user` at the
/// server; `ids` are the Via branch, the From tag and the Call-ID.
#[allow(clippy::too_many_arguments)]
fn sip_request(
    out: &mut Vec<u8>,
    method: &str,
    uri_user: &str,
    from_user: &str,
    client: Ipv4Addr,
    port: u16,
    ids: [u64; 3],
    cseq: u32,
    ua: &str,
    extra: &str,
    body: &str,
) {
    let [branch, tag, call] = ids;
    push_str(out, method);
    push_str(out, " sip:");
    // A REGISTER's Request-URI names the registrar only.
    if method != "REGISTER" {
        push_str(out, uri_user);
        out.push(b'@');
    }
    push_ip(out, SIP_SERVER);
    push_str(out, " SIP/2.0\r\n");
    sip_common(out, client, port, branch, from_user, tag, None);
    push_str(out, "To: <sip:");
    push_str(out, uri_user);
    out.push(b'@');
    push_ip(out, SIP_SERVER);
    push_str(out, ">\r\nCall-ID: ");
    push_hex(out, call, 16);
    out.push(b'@');
    push_ip(out, client);
    push_str(out, "\r\nCSeq: ");
    push_dec(out, u64::from(cseq));
    out.push(b' ');
    push_str(out, method);
    push_str(out, "\r\nContact: <sip:");
    push_str(out, from_user);
    out.push(b'@');
    push_ip(out, client);
    out.push(b':');
    push_dec(out, u64::from(port));
    push_str(out, ">\r\nUser-Agent: ");
    push_str(out, ua);
    push_str(out, "\r\n");
    push_str(out, extra);
    push_str(out, "Content-Length: ");
    push_dec(out, body.len() as u64);
    push_str(out, "\r\n\r\n");
    push_str(out, body);
}

/// Via (with `received` in a response), Max-Forwards (in a request) and From.
fn sip_common(
    out: &mut Vec<u8>,
    client: Ipv4Addr,
    port: u16,
    branch: u64,
    from_user: &str,
    tag: u64,
    received: Option<()>,
) {
    push_str(out, "Via: SIP/2.0/UDP ");
    push_ip(out, client);
    out.push(b':');
    push_dec(out, u64::from(port));
    push_str(out, ";branch=z9hG4bK");
    push_hex(out, branch, 12);
    if received.is_some() {
        push_str(out, ";received=");
        push_ip(out, client);
        push_str(out, ";rport=");
        push_dec(out, u64::from(port));
    } else {
        push_str(out, ";rport");
    }
    push_str(out, "\r\n");
    if received.is_none() {
        push_str(out, "Max-Forwards: 70\r\n");
    }
    push_str(out, "From: \"");
    push_str(out, from_user);
    push_str(out, "\" <sip:");
    push_str(out, from_user);
    out.push(b'@');
    push_ip(out, SIP_SERVER);
    push_str(out, ">;tag=");
    push_hex(out, tag, 8);
    push_str(out, "\r\n");
}

#[allow(clippy::too_many_arguments)]
fn sip_response(
    out: &mut Vec<u8>,
    status: &str,
    method: &str,
    uri_user: &str,
    from_user: &str,
    client: Ipv4Addr,
    port: u16,
    ids: [u64; 3],
    to_tag: u64,
    cseq: u32,
    extra: &str,
) {
    let [branch, tag, call] = ids;
    push_str(out, "SIP/2.0 ");
    push_str(out, status);
    push_str(out, "\r\n");
    sip_common(out, client, port, branch, from_user, tag, Some(()));
    push_str(out, "To: <sip:");
    push_str(out, uri_user);
    out.push(b'@');
    push_ip(out, SIP_SERVER);
    push_str(out, ">;tag=");
    push_hex(out, to_tag, 8);
    push_str(out, "\r\nCall-ID: ");
    push_hex(out, call, 16);
    out.push(b'@');
    push_ip(out, client);
    push_str(out, "\r\nCSeq: ");
    push_dec(out, u64::from(cseq));
    out.push(b' ');
    push_str(out, method);
    push_str(out, "\r\nServer: Asterisk PBX 18.20.0\r\n");
    push_str(out, extra);
    push_str(out, "Content-Length: 0\r\n\r\n");
}

fn sipbf(em: &mut Emitter, rng: &mut Rng, t0: u64) -> u64 {
    let mut t = t0;
    let mut out = Vec::new();
    let nonce = rng.next_u64();
    for k in 0..SIPBF_ATTEMPTS {
        t += rng.range(100 * MS, 300 * MS);
        let port = rng.range(5070, 65000) as u16;
        let mut ep = endpoints(rng, SIPBF_ATTACKER, port, SIP_SERVER, 5060);
        let ids = [rng.next_u64(), rng.next_u64(), rng.next_u64()];
        // From the second try on, a digest answer to the last challenge.
        let mut auth = String::new();
        if k > 0 {
            auth = format!(
                "Authorization: Digest username=\"{SIPBF_USER}\",realm=\"asterisk\",nonce=\"{nonce:016x}\",uri=\"sip:{SIP_SERVER}\",response=\"{:016x}{:016x}\",algorithm=MD5\r\n",
                rng.next_u64(),
                rng.next_u64()
            );
        }
        auth.push_str("Expires: 3600\r\n");
        out.clear();
        sip_request(
            &mut out,
            "REGISTER",
            SIPBF_USER,
            SIPBF_USER,
            SIPBF_ATTACKER,
            port,
            ids,
            1,
            "friendly-scanner",
            &auth,
            "",
        );
        debug_assert!(out.starts_with(b"REGISTER sip:192.0.2.50 SIP/2.0\r\n"));
        em.udp(&mut ep, CLIENT, t, &out);
        out.clear();
        let challenge = format!("WWW-Authenticate: Digest algorithm=MD5, realm=\"asterisk\", nonce=\"{nonce:016x}\"\r\n");
        sip_response(
            &mut out,
            "401 Unauthorized",
            "REGISTER",
            SIPBF_USER,
            SIPBF_USER,
            SIPBF_ATTACKER,
            port,
            ids,
            rng.next_u64(),
            1,
            &challenge,
        );
        em.udp(&mut ep, SERVER, t + rng.range(MS, 5 * MS), &out);
    }
    u64::from(SIPBF_ATTEMPTS)
}

fn tollfraud(em: &mut Emitter, rng: &mut Rng, t0: u64) -> u64 {
    let mut t = t0;
    let mut out = Vec::new();
    let port = 5060;
    for k in 0..TOLLFRAUD_CALLS {
        t += rng.range(150 * MS, 350 * MS);
        let mut ep = endpoints(rng, TOLLFRAUD_ATTACKER, port, SIP_SERVER, 5060);
        let ids = [rng.next_u64(), rng.next_u64(), rng.next_u64()];
        // 00420 and nine digits; the first five of them differ per call,
        // so every number has its own 10-digit prefix.
        let number = format!("00420{:05}{:04}", 60_000 + 1_237 * k, rng.below(10_000));
        let sdp = format!(
            "v=0\r\no=- {0} {0} IN IP4 {TOLLFRAUD_ATTACKER}\r\ns=-\r\nc=IN IP4 {TOLLFRAUD_ATTACKER}\r\nt=0 0\r\nm=audio {1} RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n",
            rng.range(1_000_000, 9_999_999),
            2 * rng.range(5000, 15000)
        );
        out.clear();
        sip_request(
            &mut out,
            "INVITE",
            &number,
            "100",
            TOLLFRAUD_ATTACKER,
            port,
            ids,
            1,
            "sipcli/v1.8",
            "Content-Type: application/sdp\r\n",
            &sdp,
        );
        em.udp(&mut ep, CLIENT, t, &out);
        let status = if rng.chance(70) {
            "404 Not Found"
        } else {
            "403 Forbidden"
        };
        out.clear();
        sip_response(
            &mut out,
            status,
            "INVITE",
            &number,
            "100",
            TOLLFRAUD_ATTACKER,
            port,
            ids,
            rng.next_u64(),
            1,
            "",
        );
        em.udp(&mut ep, SERVER, t + rng.range(2 * MS, 10 * MS), &out);
    }
    u64::from(TOLLFRAUD_CALLS)
}

// --- Stratum -------------------------------------------------------------

fn stratum(em: &mut Emitter, rng: &mut Rng, t0: u64) -> u64 {
    let cport = ephemeral(rng);
    let ep = endpoints(rng, STRATUM_MINER, cport, STRATUM_POOL, STRATUM_PORT);
    let rtt = rng.range(30 * MS, 60 * MS);
    let mut c = Conn::new(rng, ep, t0, rtt);
    c.handshake(em, rng);
    let msg = b"{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[\"cpuminer/2.5.1\"]}\n";
    c.send(em, rng, CLIENT, msg, (100 * US, MS));
    let mut s = Vec::new();
    s.extend_from_slice(b"{\"id\":1,\"result\":[[[\"mining.set_difficulty\",\"");
    push_hex(&mut s, rng.next_u64(), 8);
    s.extend_from_slice(b"\"],[\"mining.notify\",\"");
    push_hex(&mut s, rng.next_u64(), 8);
    s.extend_from_slice(b"\"]],\"");
    push_hex(&mut s, rng.next_u64(), 8);
    s.extend_from_slice(b"\",4],\"error\":null}\n");
    c.send(em, rng, SERVER, &s, (rtt + MS, rtt + 3 * MS));
    let msg = b"{\"id\":2,\"method\":\"mining.authorize\",\"params\":[\"4AdUndXHHZ6cfufTMvppY6JwXNouMBzSkbLYfpAV5Usx.w1\",\"x\"]}\n";
    c.send(em, rng, CLIENT, msg, (200 * US, 2 * MS));
    c.send(
        em,
        rng,
        SERVER,
        b"{\"id\":2,\"result\":true,\"error\":null}\n",
        (rtt + MS, rtt + 5 * MS),
    );
    c.send(
        em,
        rng,
        SERVER,
        b"{\"id\":null,\"method\":\"mining.set_difficulty\",\"params\":[16384]}\n",
        (100 * US, MS),
    );
    let end = t0 + STRATUM_SECS * SEC;
    let mut id = 3u64;
    let mut job = rng.next_u64();
    while c.t < end {
        // A new job from the pool (kept short: a job id, a header hash
        // and a target), acknowledged by the miner.
        job = job.wrapping_add(1);
        let mut n = Vec::new();
        n.extend_from_slice(b"{\"id\":null,\"method\":\"mining.notify\",\"params\":[\"");
        push_hex(&mut n, job, 8);
        n.extend_from_slice(b"\",\"");
        push_hex(&mut n, rng.next_u64(), 16);
        n.extend_from_slice(b"\",\"");
        push_hex(&mut n, rng.next_u64(), 8);
        n.extend_from_slice(b"\",true]}\n");
        c.send(em, rng, SERVER, &n, (3 * SEC, 6 * SEC));
        c.ack(em, rng, CLIENT, (30 * MS, 40 * MS));
        // A share about five seconds later, and the pool's verdict.
        let mut m = Vec::new();
        m.extend_from_slice(b"{\"id\":");
        push_dec(&mut m, id);
        m.extend_from_slice(b",\"method\":\"mining.submit\",\"params\":[\"w1\",\"");
        push_hex(&mut m, job, 8);
        m.extend_from_slice(b"\",\"");
        push_hex(&mut m, rng.next_u64(), 8);
        m.extend_from_slice(b"\"]}\n");
        c.send(em, rng, CLIENT, &m, (3 * SEC, 6 * SEC));
        let mut r = Vec::new();
        r.extend_from_slice(b"{\"id\":");
        push_dec(&mut r, id);
        r.extend_from_slice(b",\"result\":true,\"error\":null}\n");
        c.send(em, rng, SERVER, &r, (rtt + MS, rtt + 5 * MS));
        c.ack(em, rng, CLIENT, (30 * MS, 40 * MS));
        id += 1;
    }
    c.close(em, rng, CLIENT, (MS, 2 * SEC));
    1
}

// --- Blacklisted destinations -------------------------------------------

fn http_get(
    em: &mut Emitter,
    rng: &mut Rng,
    client: Ipv4Addr,
    server: Ipv4Addr,
    host: &str,
    path: &str,
    t: u64,
) {
    let cport = ephemeral(rng);
    let ep = endpoints(rng, client, cport, server, 80);
    let rtt = rng.range(20 * MS, 60 * MS);
    let mut c = Conn::new(rng, ep, t, rtt);
    c.handshake(em, rng);
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64)\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    );
    c.send(em, rng, CLIENT, req.as_bytes(), (100 * US, MS));
    let n = rng.range(300, 1200) as usize;
    let mut res = format!(
        "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: application/octet-stream\r\nContent-Length: {n}\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    res.extend_from_slice(Pools::slice(&em.pools.text, rng.next_u64(), n));
    c.send(em, rng, SERVER, &res, (rtt + MS, rtt + 20 * MS));
    c.close(em, rng, SERVER, (100 * US, MS));
}

fn tls_visit(
    em: &mut Emitter,
    rng: &mut Rng,
    client: Ipv4Addr,
    server: Ipv4Addr,
    sni: &str,
    t: u64,
) {
    let cport = ephemeral(rng);
    let ep = endpoints(rng, client, cport, server, 443);
    let rtt = rng.range(20 * MS, 60 * MS);
    let mut c = Conn::new(rng, ep, t, rtt);
    c.handshake(em, rng);
    let s = Session::pick(rng, 0);
    let mut b = Vec::new();
    tls::write_client_hello_sni(rng.next_u64(), &s, Some(sni.as_bytes()), &mut b);
    c.send(em, rng, CLIENT, &b, (100 * US, MS));
    b.clear();
    tls::write_server_hello(rng.next_u64(), &s, &mut b);
    if s.v13 {
        let n = rng.range(900, 1300) as usize;
        b.extend_from_slice(&record(em, rng, n));
    }
    c.send(em, rng, SERVER, &b, (rtt + MS, rtt + 4 * MS));
    b.clear();
    tls::write_client_finished(rng.next_u64(), &s, &mut b);
    c.send(em, rng, CLIENT, &b, (300 * US, 2 * MS));
    let n = rng.range(200, 600) as usize;
    let d = record(em, rng, n);
    c.send(em, rng, CLIENT, &d, (100 * US, MS));
    let n = rng.range(300, 1400) as usize;
    let d = record(em, rng, n);
    c.send(em, rng, SERVER, &d, (rtt + MS, rtt + 20 * MS));
    c.close(em, rng, CLIENT, (50 * MS, 500 * MS));
}

fn blacklist(em: &mut Emitter, rng: &mut Rng, t0: u64) -> u64 {
    let mut t = t0;
    let mut out = Vec::new();
    let mut n = 0;
    for &client in &BLACKLIST_CLIENTS {
        t += rng.range(500 * MS, 3 * SEC);
        let cport = ephemeral(rng);
        let mut ep = endpoints(rng, client, cport, RESOLVER, 53);
        let id = rng.next_u32() as u16;
        out.clear();
        dns_query(&mut out, id, BLACKLIST_DOMAIN, DNS_A, None);
        em.udp(&mut ep, CLIENT, t, &out);
        out.clear();
        let answers = [(DNS_A, BLACKLIST_DOMAIN_ADDR.octets().to_vec())];
        dns_response(&mut out, id, BLACKLIST_DOMAIN, DNS_A, None, &answers, 300);
        let d = rng.range(MS, 40 * MS);
        em.udp(&mut ep, SERVER, t + d, &out);
        t += d + rng.range(MS, 5 * MS);
        let mut path = String::from(BLACKLIST_PATH);
        path.push_str("?id=");
        path.push_str(&format!("{:08x}", rng.next_u32()));
        http_get(
            em,
            rng,
            client,
            BLACKLIST_DOMAIN_ADDR,
            BLACKLIST_DOMAIN,
            &path,
            t,
        );
        t += rng.range(200 * MS, 2 * SEC);
        tls_visit(em, rng, client, BLACKLIST_DOMAIN_ADDR, BLACKLIST_DOMAIN, t);
        t += rng.range(200 * MS, 2 * SEC);
        http_get(
            em,
            rng,
            client,
            BLACKLIST_IP,
            &BLACKLIST_IP.to_string(),
            "/payload.bin",
            t,
        );
        t += rng.range(200 * MS, 2 * SEC);
        tls_visit(em, rng, client, BLACKLIST_IP, BLACKLIST_IP_SNI, t);
        n += 5;
    }
    n
}
