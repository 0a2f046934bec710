//! Conversations: what kinds exist, how one is set up (addresses, ports,
//! timing), and the small UDP/ICMP/scan state machines. TCP with payload
//! lives in [`crate::tcp`].

use crate::dns::{self, Lookup};
use crate::http::{Exchange, Res, N_SERVERS, N_USER_AGENTS};
use crate::rng::Rng;
use crate::tcp::{self, App, Tcp, MS, SEC, SYN, US};
use crate::tls::Session;
use crate::wire::{
    Addrs, Endpoints, PacketBuf, CLIENT, PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP, SERVER,
};
use crate::world::{self, Pools};

/// The kinds of conversation the generator emits, in [`Kind::ALL`] order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// HTTP/1.1 on port 80: one or more request/response exchanges.
    Http,
    /// TLS on port 443: ClientHello with SNI, ServerHello, encrypted data.
    Tls,
    /// Other TCP: SSH on port 22, or opaque payload to a high port.
    TcpOther,
    /// One DNS query and its response over UDP port 53.
    Dns,
    /// ICMP or ICMPv6 echo requests and replies.
    Icmp,
    /// NTP client/server exchanges on UDP port 123.
    Ntp,
    /// UDP between high ports with opaque payload.
    UdpOther,
    /// An unanswered SYN from a scanner, sometimes retransmitted.
    Scan,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::Http,
        Kind::Tls,
        Kind::TcpOther,
        Kind::Dns,
        Kind::Icmp,
        Kind::Ntp,
        Kind::UdpOther,
        Kind::Scan,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Http => "http",
            Kind::Tls => "tls",
            Kind::TcpOther => "tcp_other",
            Kind::Dns => "dns",
            Kind::Icmp => "icmp",
            Kind::Ntp => "ntp",
            Kind::UdpOther => "udp_other",
            Kind::Scan => "scan",
        }
    }
}

/// Shares of conversations, in percent, in [`Kind::ALL`] order.
const KIND_WEIGHTS: [u32; 8] = [12, 33, 8, 28, 4, 4, 5, 6];

/// Server ports for "other" traffic: none has a Wireshark dissector, so
/// opaque payload there is shown as data rather than as a broken protocol.
const OTHER_TCP_PORTS: [u16; 12] = [
    8081, 8888, 9001, 9090, 9443, 4433, 12345, 25565, 27015, 7777, 40000, 50000,
];
const OTHER_UDP_PORTS: [u16; 8] = [3074, 9987, 27015, 27016, 7777, 12345, 40000, 50000];
/// Ports in the ephemeral range that Wireshark 4 binds a dissector to
/// (`tshark -G decodes`). Clients skip them: a real stack would not, but
/// random payload on such a port gets dissected as that protocol and
/// reported malformed, which is noise in a capture meant to dissect cleanly.
const DISSECTED_EPHEMERAL: [u16; 35] = [
    34962, 34980, 37008, 41170, 44321, 44322, 44818, 45564, 47000, 47808, 48049, 48898, 49999,
    54328, 56000, 56001, 56500, 56501, 57000, 57001, 57032, 57033, 57500, 57501, 57532, 57533,
    59000, 59001, 59032, 59033, 59500, 59501, 59532, 59533, 60001,
];

/// A client port from Linux's default ephemeral range, 32768-60999.
fn ephemeral(rng: &mut Rng) -> u16 {
    loop {
        let p = rng.range(32768, 60999) as u16;
        if !DISSECTED_EPHEMERAL.contains(&p) {
            return p;
        }
    }
}

/// Ports scanners knock on most.
const SCAN_PORTS: [u16; 16] = [
    22, 23, 80, 443, 445, 3389, 8080, 21, 25, 110, 139, 1433, 3306, 5900, 6379, 8443,
];

/// Counters of application messages, for the summary.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Stats {
    pub http_requests: u64,
    pub http_responses: u64,
    pub tls_client_hellos: u64,
    pub dns_queries: u64,
    pub dns_responses: u64,
}

/// What a conversation step writes into and reads from.
pub(crate) struct Ctx<'a> {
    pub pkt: &'a mut PacketBuf,
    pub scratch: &'a mut Vec<u8>,
    pub pools: &'a Pools,
    pub stats: &'a mut Stats,
}

#[derive(Clone, Debug)]
enum Body {
    Tcp(Tcp),
    Dns {
        q: Lookup,
        step: u8,
        rtt: u64,
    },
    Icmp {
        id: u16,
        seq: u16,
        left: u8,
        reply: bool,
        windows: bool,
        rtt: u64,
        sent_ns: u64,
    },
    Ntp {
        left: u8,
        reply: bool,
        rtt: u64,
        sent_ns: u64,
    },
    Udp {
        left: u8,
        dir: u8,
        rtt: u64,
        long: bool,
    },
    Scan {
        seq: u32,
        win: u16,
        mss: bool,
        tries: u8,
    },
}

/// One conversation in progress.
#[derive(Clone, Debug)]
pub(crate) struct Conv {
    pub kind: Kind,
    pub v6: bool,
    pub vlan: bool,
    ep: Endpoints,
    rng: Rng,
    body: Body,
}

fn count(rng: &mut Rng, long: bool) -> u8 {
    if long {
        rng.range(3, 8) as u8
    } else {
        match rng.below(100) {
            0..=54 => 1,
            55..=89 => rng.range(2, 5) as u8,
            _ => rng.range(6, 12) as u8,
        }
    }
}

impl Conv {
    /// Sets up a conversation from its own PRNG stream.
    pub(crate) fn new(mut rng: Rng, ipv6_pct: u8, vlan_pct: u8) -> Conv {
        let rng = &mut rng;
        let kind = Kind::ALL[rng.weighted(&KIND_WEIGHTS)];
        let v6 = rng.below(100) < u64::from(ipv6_pct);
        let vlan = if rng.below(100) < u64::from(vlan_pct) {
            *rng.pick(&[10u16, 20, 30, 100, 200])
        } else {
            0
        };
        let client = world::pick_client(rng);
        // A host runs one stack: a third are Windows (TTL 128, no TCP timestamps).
        let windows = world::mix(client) % 3 == 0;
        let site = world::pick_site(rng);
        let eport = ephemeral(rng);
        let c_addr = if v6 {
            Addrs::V6([world::client_v6(client), 0])
        } else {
            Addrs::V4([world::client_v4(client), 0])
        };
        let mut ep = Endpoints {
            addrs: c_addr,
            ports: [eport, 0],
            macs: [world::client_mac(client), world::GATEWAY_MAC],
            vlan,
            ttl: [
                if windows { 128 } else { 64 },
                rng.pick(&[64u8, 128, 255]) - rng.range(4, 24) as u8,
            ],
            ip_id: [rng.next_u64() as u16, rng.next_u64() as u16],
            flow_label: [rng.next_u32() & 0xf_ffff, rng.next_u32() & 0xf_ffff],
        };
        let set_server = |ep: &mut Endpoints, v4: u32, v6a: u128| match &mut ep.addrs {
            Addrs::V4(a) => a[SERVER] = v4,
            Addrs::V6(a) => a[SERVER] = v6a,
        };
        let body = match kind {
            Kind::Http | Kind::Tls | Kind::TcpOther => {
                let long = rng.chance(if kind == Kind::Http { 2 } else { 4 });
                let closer;
                let app = match kind {
                    Kind::Http => {
                        set_server(&mut ep, world::site_v4(site, 0), world::site_v6(site, 0));
                        ep.ports[SERVER] = 80;
                        let server_closes = rng.chance(30);
                        closer = if server_closes { SERVER } else { CLIENT };
                        let ua = if windows {
                            *rng.pick(&[0, 4])
                        } else {
                            rng.below(N_USER_AGENTS) as u8
                        };
                        let ex = Exchange {
                            res: Res::Page,
                            status: 200,
                            post: false,
                            body_len: 0,
                            close: false,
                        };
                        App::Http {
                            site,
                            ua,
                            server: rng.below(N_SERVERS) as u8,
                            step: 0,
                            left: count(rng, long),
                            server_closes,
                            ex,
                        }
                    }
                    Kind::Tls => {
                        set_server(&mut ep, world::site_v4(site, 0), world::site_v6(site, 0));
                        ep.ports[SERVER] = 443;
                        closer = if rng.chance(75) { CLIENT } else { SERVER };
                        let s = Session::pick(rng, site);
                        App::Tls {
                            s,
                            step: 0,
                            left: count(rng, long),
                            close_notify: rng.chance(70),
                        }
                    }
                    _ => {
                        set_server(
                            &mut ep,
                            world::other_server_v4(rng),
                            world::other_server_v6(rng),
                        );
                        closer = if rng.chance(60) { CLIENT } else { SERVER };
                        if rng.chance(35) {
                            ep.ports[SERVER] = 22;
                            let left = if long {
                                rng.range(5, 12)
                            } else {
                                rng.range(2, 12)
                            } as u8;
                            App::Ssh {
                                flavour: rng.below(3) as u8,
                                step: 0,
                                left,
                            }
                        } else {
                            ep.ports[SERVER] = *rng.pick(&OTHER_TCP_PORTS);
                            App::Opaque {
                                step: 0,
                                left: count(rng, long),
                            }
                        }
                    }
                };
                Body::Tcp(Tcp::new(rng, app, v6, windows, closer, long))
            }
            Kind::Dns => {
                set_server(
                    &mut ep,
                    *rng.pick(&world::RESOLVERS_V4),
                    *rng.pick(&world::RESOLVERS_V6),
                );
                ep.ports[SERVER] = 53;
                ep.ttl[SERVER] = 64 - rng.range(2, 12) as u8;
                Body::Dns {
                    q: Lookup::pick(rng, site, v6),
                    step: 0,
                    rtt: rng.octave(MS, 5, 50),
                }
            }
            Kind::Icmp => {
                set_server(&mut ep, world::site_v4(site, 0), world::site_v6(site, 0));
                ep.ports = [0, 0];
                Body::Icmp {
                    id: rng.next_u32() as u16,
                    seq: 1,
                    left: *rng.pick(&[1u8, 3, 4, 4, 4, 5]),
                    reply: false,
                    windows,
                    rtt: rng.octave(2 * MS, 6, 60).min(100 * MS),
                    sent_ns: 0,
                }
            }
            Kind::Ntp => {
                set_server(&mut ep, *rng.pick(&world::NTP_V4), world::NTP_V6[0]);
                ep.ports = [if rng.chance(30) { 123 } else { eport }, 123];
                let left = if rng.chance(70) {
                    1
                } else {
                    rng.range(2, 4) as u8
                };
                Body::Ntp {
                    left,
                    reply: false,
                    rtt: rng.octave(MS, 6, 50),
                    sent_ns: 0,
                }
            }
            Kind::UdpOther => {
                set_server(
                    &mut ep,
                    world::other_server_v4(rng),
                    world::other_server_v6(rng),
                );
                ep.ports[SERVER] = *rng.pick(&OTHER_UDP_PORTS);
                let long = rng.chance(5);
                let left = if long {
                    rng.range(4, 10) as u8
                } else {
                    rng.range(1, 6) as u8
                };
                Body::Udp {
                    left,
                    dir: CLIENT as u8,
                    rtt: rng.octave(2 * MS, 6, 60).min(100 * MS),
                    long,
                }
            }
            Kind::Scan => {
                // The scanner is the "client"; its target is an inside host.
                let scanner = rng.below(4) as usize;
                let target = world::pick_client(rng);
                ep.addrs = match ep.addrs {
                    Addrs::V4(_) => {
                        Addrs::V4([world::SCANNERS_V4[scanner], world::client_v4(target)])
                    }
                    Addrs::V6(_) => {
                        Addrs::V6([world::SCANNERS_V6[scanner % 2], world::client_v6(target)])
                    }
                };
                ep.macs = [world::GATEWAY_MAC, world::client_mac(target)];
                ep.ttl[CLIENT] = 64 - rng.range(8, 20) as u8;
                let port = if rng.chance(80) {
                    *rng.pick(&SCAN_PORTS)
                } else {
                    rng.range(1, 65535) as u16
                };
                // masscan-like scanners use one source port, nmap-like ones many.
                let sport = if scanner % 2 == 0 {
                    61000
                } else {
                    rng.range(1024, 65535) as u16
                };
                ep.ports = [sport, port];
                let tries = match rng.below(100) {
                    0..=59 => 1,
                    60..=79 => 2,
                    _ => 3,
                };
                Body::Scan {
                    seq: rng.next_u32(),
                    win: *rng.pick(&[1024u16, 65535, 29200]),
                    mss: scanner % 2 == 1,
                    tries,
                }
            }
        };
        Conv {
            kind,
            v6,
            vlan: vlan != 0,
            ep,
            rng: rng.clone(),
            body,
        }
    }

    /// Writes this conversation's next packet at `now` into `ctx.pkt`;
    /// returns the delay to the one after, `None` when it is over.
    pub(crate) fn step(&mut self, now: u64, ctx: &mut Ctx) -> Option<u64> {
        let ep = &mut self.ep;
        let rng = &mut self.rng;
        match &mut self.body {
            Body::Tcp(t) => t.step(now, ep, rng, ctx),
            Body::Dns { q, step, rtt } => {
                let side = usize::from(*step);
                udp_begin(ctx, ep, side);
                if *step == 0 {
                    dns::write_query(q, &mut ctx.pkt.buf);
                    ctx.stats.dns_queries += 1;
                } else {
                    dns::write_response(q, &mut ctx.pkt.buf);
                    ctx.stats.dns_responses += 1;
                }
                ctx.pkt.finish(ep, side, now);
                *step += 1;
                (*step == 1).then(|| {
                    // A cache hit, or a recursive lookup.
                    *rtt + if rng.chance(80) {
                        rng.range(100 * US, 2 * MS)
                    } else {
                        rng.range(10 * MS, 150 * MS)
                    }
                })
            }
            Body::Icmp {
                id,
                seq,
                left,
                reply,
                windows,
                rtt,
                sent_ns,
            } => {
                let side = usize::from(*reply);
                let (proto, ty) = match (ep.is_v6(), *reply) {
                    (false, false) => (PROTO_ICMP, 8),
                    (false, true) => (PROTO_ICMP, 0),
                    (true, false) => (PROTO_ICMPV6, 128),
                    (true, true) => (PROTO_ICMPV6, 129),
                };
                if !*reply {
                    *sent_ns = now;
                }
                ctx.pkt.begin(ep, side, proto);
                let b = &mut ctx.pkt.buf;
                b.extend_from_slice(&[ty, 0, 0, 0]);
                b.extend_from_slice(&id.to_be_bytes());
                b.extend_from_slice(&seq.to_be_bytes());
                if *windows {
                    b.extend_from_slice(b"abcdefghijklmnopqrstuvwabcdefghi");
                } else {
                    // Linux ping: the send time as a 64-bit timeval, then 0x10, 0x11, ...
                    b.extend_from_slice(&(*sent_ns / SEC).to_le_bytes());
                    b.extend_from_slice(&(*sent_ns % SEC / 1000).to_le_bytes());
                    b.extend(0x10..0x38u8);
                }
                ctx.pkt.finish(ep, side, now);
                if !*reply {
                    *reply = true;
                    return Some(*rtt + rng.range(0, 300 * US));
                }
                *reply = false;
                *left -= 1;
                *seq += 1;
                (*left > 0).then(|| (SEC + rng.range(0, 2 * MS)).saturating_sub(now - *sent_ns))
            }
            Body::Ntp {
                left,
                reply,
                rtt,
                sent_ns,
            } => {
                let side = usize::from(*reply);
                udp_begin(ctx, ep, side);
                let b = &mut ctx.pkt.buf;
                if !*reply {
                    *sent_ns = now;
                    // v4, client mode; only the transmit timestamp is set.
                    b.extend_from_slice(&[0x23, 0, 6, 0xe9]);
                    b.extend_from_slice(&[0; 36]);
                    b.extend_from_slice(&ntp_time(now).to_be_bytes());
                } else {
                    let recv = *sent_ns + *rtt / 2;
                    b.extend_from_slice(&[0x24, 2, 6, 0xe7]);
                    b.extend_from_slice(&0x0000_0123u32.to_be_bytes());
                    b.extend_from_slice(&0x0000_0456u32.to_be_bytes());
                    b.extend_from_slice(&[192, 0, 2, 1]);
                    b.extend_from_slice(&ntp_time(recv - 300 * SEC).to_be_bytes());
                    b.extend_from_slice(&ntp_time(*sent_ns).to_be_bytes());
                    b.extend_from_slice(&ntp_time(recv).to_be_bytes());
                    b.extend_from_slice(&ntp_time(recv + 40 * US).to_be_bytes());
                }
                ctx.pkt.finish(ep, side, now);
                if !*reply {
                    *reply = true;
                    return Some(*rtt + rng.range(20 * US, 200 * US));
                }
                *reply = false;
                *left -= 1;
                // chrony's initial burst polls every two seconds.
                (*left > 0).then(|| 2 * SEC + rng.range(0, 10 * MS))
            }
            Body::Udp {
                left,
                dir,
                rtt,
                long,
            } => {
                let side = usize::from(*dir);
                udp_begin(ctx, ep, side);
                // The same framing as other TCP (see `tcp::push_frame`).
                let n = (rng.octave(24, 6, 45) as usize).min(1400);
                tcp::push_frame(&mut ctx.pkt.buf, ctx.pools, rng.next_u64(), n);
                ctx.pkt.finish(ep, side, now);
                if side == CLIENT && rng.chance(85) {
                    *dir = SERVER as u8;
                    return Some(tcp::react(rng, *rtt, SERVER));
                }
                *dir = CLIENT as u8;
                *left -= 1;
                (*left > 0).then(|| {
                    if *long {
                        rng.range(2 * SEC, 15 * SEC)
                    } else {
                        rng.range(5 * MS, 300 * MS)
                    }
                })
            }
            Body::Scan {
                seq,
                win,
                mss,
                tries,
            } => {
                ctx.pkt.begin(ep, CLIENT, PROTO_TCP);
                let b = &mut ctx.pkt.buf;
                let ports = [ep.ports[CLIENT], ep.ports[SERVER]];
                tcp::push_header(b, ports, *seq, 0, SYN, *win, if *mss { 4 } else { 0 });
                if *mss {
                    b.extend_from_slice(&[2, 4, 0x05, 0xb4]);
                }
                ctx.pkt.finish(ep, CLIENT, now);
                *tries -= 1;
                // Retransmissions back off: one second, then two more.
                (*tries > 0).then_some(if *tries == 2 { SEC } else { 2 * SEC })
            }
        }
    }
}

fn udp_begin(ctx: &mut Ctx, ep: &Endpoints, side: usize) {
    ctx.pkt.begin(ep, side, PROTO_UDP);
    let b = &mut ctx.pkt.buf;
    b.extend_from_slice(&ep.ports[side].to_be_bytes());
    b.extend_from_slice(&ep.ports[side ^ 1].to_be_bytes());
    b.extend_from_slice(&[0, 0, 0, 0]);
}

/// NTP timestamp: seconds since 1900 and a 32-bit fraction.
fn ntp_time(ns: u64) -> u64 {
    let secs = ns / SEC + 2_208_988_800;
    let frac = ((ns % SEC) << 32) / SEC;
    (secs << 32) | frac
}
