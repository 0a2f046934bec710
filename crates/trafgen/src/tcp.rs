//! TCP conversations: handshake, application messages cut into segments
//! with consistent sequence/ack numbers and options, and teardown by FIN or
//! RST. What is said is up to an [`App`]; this module only moves bytes.
//!
//! A message's bytes are never stored: each segment re-renders its slice
//! from the message's seed (heads, hellos) or from the shared pools
//! (bodies, ciphertext), so a conversation costs a couple of hundred bytes
//! however much it sends.

use crate::conv::Ctx;
use crate::http::{self, Exchange};
use crate::rng::Rng;
use crate::ssh::{self, Step};
use crate::tls::{self, Session, MIN_RECORD};
use crate::wire::{Endpoints, CLIENT, PROTO_TCP, SERVER};
use crate::world::Pools;

pub(crate) const FIN: u8 = 0x01;
pub(crate) const SYN: u8 = 0x02;
pub(crate) const RST: u8 = 0x04;
pub(crate) const PSH: u8 = 0x08;
pub(crate) const ACK: u8 = 0x10;

pub(crate) const US: u64 = 1_000;
pub(crate) const MS: u64 = 1_000_000;
pub(crate) const SEC: u64 = 1_000_000_000;
/// Linux's delayed-ACK timer: a reply later than this is preceded by a pure ACK.
const DELAYED_ACK: u64 = 40 * MS;

/// Appends a 20-byte TCP header; `opt_len` (a multiple of 4) is what the
/// caller appends next as options.
pub(crate) fn push_header(
    b: &mut Vec<u8>,
    ports: [u16; 2],
    seq: u32,
    ack: u32,
    flags: u8,
    win: u16,
    opt_len: usize,
) {
    b.extend_from_slice(&ports[0].to_be_bytes());
    b.extend_from_slice(&ports[1].to_be_bytes());
    b.extend_from_slice(&seq.to_be_bytes());
    b.extend_from_slice(&ack.to_be_bytes());
    b.push((((20 + opt_len) / 4) as u8) << 4);
    b.push(flags);
    b.extend_from_slice(&win.to_be_bytes());
    b.extend_from_slice(&[0, 0, 0, 0]);
}

/// What a message carries; decides how its bytes are rendered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Part {
    HttpRequest,
    HttpResponse,
    TlsClientHello,
    /// ServerHello onwards; for TLS 1.3 followed by encrypted records.
    TlsServerFlight,
    TlsClientFinished,
    /// Application data, one record per segment.
    TlsData,
    TlsClose,
    /// A plaintext key-exchange step; the client's NEWKEYS is followed by
    /// ciphertext in the same message.
    Ssh(Step),
    /// Ciphertext without framing (SSH after NEWKEYS).
    Opaque,
    /// An unknown protocol: each segment is one frame, see [`push_frame`].
    Framed,
}

impl Part {
    /// The smallest piece of the stream part a segment may carry: whole
    /// records and frames, and SSH ciphertext at least as long as a MAC
    /// plus a length (a shorter piece makes the SSH dissector throw).
    fn min_piece(self) -> usize {
        match self {
            Part::TlsServerFlight | Part::TlsData | Part::Framed => MIN_RECORD,
            Part::Opaque | Part::Ssh(Step::ClientNewKeys) => 32,
            _ => 0,
        }
    }
}

/// Appends one frame of the made-up protocol on "other" ports: a magic
/// byte, a message type below 64, a 16-bit length, then opaque bytes. The
/// fixed start keeps Wireshark's heuristic dissectors (Thrift, RTCP, TLS
/// and some seventy more) from claiming random bytes and then calling them
/// malformed. `n >= MIN_RECORD`.
pub(crate) fn push_frame(out: &mut Vec<u8>, pools: &Pools, shift: u64, n: usize) {
    out.extend_from_slice(&[0xd7, (shift % 64) as u8]);
    out.extend_from_slice(&((n - 4) as u16).to_be_bytes());
    out.extend_from_slice(Pools::slice(&pools.random, shift, n - 4));
}

/// One message: `len` bytes from `dir`, the first `head` of them a
/// re-rendered prefix, the rest a stream.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Msg {
    pub dir: u8,
    pub part: Part,
    pub head: u16,
    pub len: u32,
    pub sent: u32,
    pub seed: u64,
    /// Delay from the previous packet to this message's first segment.
    pub think_ns: u64,
}

/// How long side `to` takes to react to a packet from the other side, as
/// seen at the capture point next to the clients: the server's reaction
/// includes the round trip, the client's does not.
pub(crate) fn react(rng: &mut Rng, rtt_ns: u64, to: usize) -> u64 {
    if to == SERVER {
        rtt_ns + rng.range(20 * US, 400 * US)
    } else {
        rng.range(20 * US, 300 * US)
    }
}

fn burst_gap(rng: &mut Rng) -> u64 {
    rng.range(10 * US, 150 * US)
}

/// User think time between exchanges on one connection.
fn idle(rng: &mut Rng, long: bool) -> u64 {
    if long {
        rng.range(2 * SEC, 15 * SEC)
    } else if rng.chance(85) {
        rng.range(MS, 60 * MS)
    } else {
        rng.range(100 * MS, 1500 * MS)
    }
}

/// Server processing time before a response.
fn serve(rng: &mut Rng, rtt: u64) -> u64 {
    rtt + if rng.chance(90) {
        rng.range(200 * US, 20 * MS)
    } else {
        rng.range(20 * MS, 300 * MS)
    }
}

/// The application layer of a connection; `step` counts messages planned.
#[derive(Clone, Debug)]
pub(crate) enum App {
    Http {
        site: u32,
        ua: u8,
        server: u8,
        step: u8,
        left: u8,
        server_closes: bool,
        ex: Exchange,
    },
    Tls {
        s: Session,
        step: u8,
        left: u8,
        close_notify: bool,
    },
    Ssh {
        flavour: u8,
        step: u8,
        left: u8,
    },
    Opaque {
        step: u8,
        left: u8,
    },
}

const SSH_STEPS: [(usize, Step); 7] = [
    (SERVER, Step::ServerBanner),
    (CLIENT, Step::ClientBanner),
    (CLIENT, Step::ClientKexInit),
    (SERVER, Step::ServerKexInit),
    (CLIENT, Step::ClientEcdhInit),
    (SERVER, Step::ServerEcdhReply),
    (CLIENT, Step::ClientNewKeys),
];

impl App {
    /// Plans the next message; `None` means the connection closes.
    fn next(
        &mut self,
        rng: &mut Rng,
        rtt: u64,
        long: bool,
        closer: usize,
        scratch: &mut Vec<u8>,
    ) -> Option<Msg> {
        let seed = rng.next_u64();
        let mut m = Msg {
            dir: CLIENT as u8,
            part: Part::Opaque,
            head: 0,
            len: 0,
            sent: 0,
            seed,
            think_ns: 0,
        };
        scratch.clear();
        match self {
            App::Http {
                site,
                ua,
                server,
                step,
                left,
                server_closes,
                ex,
            } => {
                if *step % 2 == 0 {
                    if *left == 0 {
                        return None;
                    }
                    *left -= 1;
                    *ex = Exchange::pick(rng);
                    ex.close = *left == 0 && *server_closes;
                    http::write_request(seed, *site, *ua, ex, *step == 0, scratch);
                    m.part = Part::HttpRequest;
                    m.think_ns = if *step == 0 {
                        rng.range(20 * US, 300 * US)
                    } else {
                        idle(rng, long)
                    };
                    m.head = scratch.len() as u16;
                    m.len = scratch.len() as u32;
                } else {
                    http::write_response_head(seed, *site, *server, ex, 0, scratch);
                    m.dir = SERVER as u8;
                    m.part = Part::HttpResponse;
                    m.think_ns = serve(rng, rtt);
                    m.head = scratch.len() as u16;
                    m.len = scratch.len() as u32 + ex.body_len;
                }
                *step += 1;
            }
            App::Tls {
                s,
                step,
                left,
                close_notify,
            } => {
                match *step {
                    0 => {
                        tls::write_client_hello(seed, s, scratch);
                        m.part = Part::TlsClientHello;
                        m.think_ns = rng.range(20 * US, 300 * US);
                    }
                    1 => {
                        tls::write_server_hello(seed, s, scratch);
                        m.dir = SERVER as u8;
                        m.part = Part::TlsServerFlight;
                        m.think_ns = rtt + rng.range(200 * US, 5 * MS);
                        if s.v13 {
                            // EncryptedExtensions, Certificate, CertificateVerify, Finished.
                            m.len = rng.octave(1800, 3, 40) as u32;
                        }
                    }
                    2 => {
                        tls::write_client_finished(seed, s, scratch);
                        m.part = Part::TlsClientFinished;
                        m.think_ns = rng.range(300 * US, 3 * MS);
                    }
                    k if (k - 3) % 2 == 0 && *left > 0 => {
                        m.part = Part::TlsData;
                        m.think_ns = if k == 3 {
                            burst_gap(rng)
                        } else {
                            idle(rng, long)
                        };
                        m.len = rng.octave(80, 4, 50) as u32;
                    }
                    k if (k - 3) % 2 == 1 && *left > 0 => {
                        *left -= 1;
                        m.dir = SERVER as u8;
                        m.part = Part::TlsData;
                        m.think_ns = serve(rng, rtt);
                        m.len = rng.octave(200, 10, 55) as u32;
                    }
                    _ if *close_notify => {
                        *close_notify = false;
                        tls::write_close_notify(seed, s, scratch);
                        m.dir = closer as u8;
                        m.part = Part::TlsClose;
                        m.think_ns = close_idle(rng, closer, long);
                    }
                    _ => return None,
                }
                *step += 1;
                m.head = scratch.len() as u16;
                m.len += scratch.len() as u32;
            }
            App::Ssh {
                flavour,
                step,
                left,
            } => {
                let k = *step as usize;
                *step += 1;
                if let Some(&(dir, st)) = SSH_STEPS.get(k) {
                    ssh::write_step(st, seed, *flavour, scratch);
                    m.dir = dir as u8;
                    m.part = Part::Ssh(st);
                    m.head = scratch.len() as u16;
                    m.len = scratch.len() as u32;
                    m.think_ns = match (k, dir) {
                        (0, _) => rtt / 2 + rng.range(100 * US, 2 * MS),
                        (2, _) => burst_gap(rng),
                        (_, SERVER) => react(rng, rtt, SERVER) + rng.range(100 * US, MS),
                        _ => react(rng, rtt, CLIENT) + rng.range(100 * US, MS),
                    };
                    if st == Step::ClientNewKeys {
                        // SERVICE_REQUEST "ssh-userauth", already encrypted.
                        m.len += 68;
                    }
                    return Some(m);
                }
                let k = k - SSH_STEPS.len();
                if k % 2 == 0 {
                    m.dir = SERVER as u8;
                    m.think_ns = react(rng, rtt, SERVER) + rng.range(100 * US, 5 * MS);
                    m.len = rng.octave(36, 8, 45) as u32;
                } else {
                    if *left == 0 {
                        return None;
                    }
                    *left -= 1;
                    m.think_ns = idle(rng, long);
                    m.len = if rng.chance(90) {
                        36 + 16 * rng.below(4) as u32
                    } else {
                        rng.octave(100, 7, 50) as u32
                    };
                }
            }
            App::Opaque { step, left } => {
                m.part = Part::Framed;
                if *step % 2 == 0 {
                    if *left == 0 {
                        return None;
                    }
                    *left -= 1;
                    m.think_ns = if *step == 0 {
                        rng.range(20 * US, 300 * US)
                    } else {
                        idle(rng, long)
                    };
                    m.len = rng.octave(40, 6, 50) as u32;
                } else {
                    m.dir = SERVER as u8;
                    m.think_ns = serve(rng, rtt);
                    m.len = rng.octave(60, 9, 50) as u32;
                }
                *step += 1;
            }
        }
        Some(m)
    }

    /// Appends the next `n` bytes of message `m` to the packet.
    fn render(&self, m: &Msg, n: usize, now: u64, ctx: &mut Ctx) {
        let (out, scratch, pools) = (&mut ctx.pkt.buf, &mut *ctx.scratch, ctx.pools);
        let from = m.sent as usize;
        let head = usize::from(m.head);
        let end = from + n;
        if from < head {
            scratch.clear();
            match (self, m.part) {
                (
                    App::Http {
                        site, ua, ex, step, ..
                    },
                    Part::HttpRequest,
                ) => http::write_request(m.seed, *site, *ua, ex, *step == 1, scratch),
                (
                    App::Http {
                        site, server, ex, ..
                    },
                    Part::HttpResponse,
                ) => http::write_response_head(m.seed, *site, *server, ex, now, scratch),
                (App::Tls { s, .. }, Part::TlsClientHello) => {
                    tls::write_client_hello(m.seed, s, scratch)
                }
                (App::Tls { s, .. }, Part::TlsServerFlight) => {
                    tls::write_server_hello(m.seed, s, scratch)
                }
                (App::Tls { s, .. }, Part::TlsClientFinished) => {
                    tls::write_client_finished(m.seed, s, scratch)
                }
                (App::Tls { s, .. }, Part::TlsClose) => tls::write_close_notify(m.seed, s, scratch),
                (App::Ssh { flavour, .. }, Part::Ssh(step)) => {
                    ssh::write_step(step, m.seed, *flavour, scratch)
                }
                _ => unreachable!("a prefix without a writer"),
            }
            debug_assert_eq!(scratch.len(), head);
            out.extend_from_slice(&scratch[from..end.min(head)]);
        }
        if end > head {
            let at = from.max(head) - head;
            let k = end - head - at;
            match (self, m.part) {
                (App::Http { ex, .. }, Part::HttpResponse) => {
                    http::push_body(out, pools, ex, m.seed, at, k)
                }
                (_, Part::TlsServerFlight | Part::TlsData) => {
                    tls::push_record(out, pools, m.seed + at as u64, k)
                }
                (_, Part::Framed) => push_frame(out, pools, m.seed + at as u64, k),
                _ => out.extend_from_slice(Pools::slice(&pools.random, m.seed + at as u64, k)),
            }
        }
    }
}

fn close_idle(rng: &mut Rng, closer: usize, long: bool) -> u64 {
    if closer == SERVER {
        if rng.chance(80) {
            rng.range(50 * US, 2 * MS)
        } else {
            rng.range(SEC, 5 * SEC)
        }
    } else {
        idle(rng, long)
    }
}

/// How a connection ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Close {
    /// FIN/ACK, FIN/ACK, ACK.
    Fin3,
    /// FIN/ACK, ACK, FIN/ACK, ACK.
    Fin4,
    /// RST/ACK from the closer.
    Rst,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Syn,
    SynAck,
    Ack,
    Data,
    Close(u8),
}

/// One TCP connection in progress.
#[derive(Clone, Debug)]
pub(crate) struct Tcp {
    app: App,
    phase: Phase,
    /// Next sequence number per side (SND.NXT).
    nxt: [u32; 2],
    /// Timestamp option: TSval = ts_off + milliseconds; `None` when the
    /// client did not offer it.
    ts_off: Option<[u32; 2]>,
    last_ts: [u32; 2],
    wscale: [u8; 2],
    syn_win: [u16; 2],
    win: [u16; 2],
    mss: [u16; 2],
    /// Payload bytes per full segment.
    seg: u16,
    rtt_ns: u64,
    long: bool,
    msg: Msg,
    /// Data segments from `burst_side` since the other side last sent.
    burst_side: u8,
    unacked: u8,
    /// A pure ACK from `ack_from` goes next, then data after `after_ack`.
    ack_due: bool,
    ack_from: u8,
    after_ack: u64,
    closer: u8,
    close: Close,
}

impl Tcp {
    /// `windows` picks the client stack: no timestamps, window scale 8.
    pub(crate) fn new(
        rng: &mut Rng,
        app: App,
        v6: bool,
        windows: bool,
        closer: usize,
        long: bool,
    ) -> Tcp {
        let use_ts = !windows;
        let mss_c: u16 = if v6 { 1440 } else { 1460 };
        let mss_s = if rng.chance(90) { mss_c } else { mss_c - 80 };
        let opt = if use_ts { 12 } else { 0 };
        let close = match rng.below(100) {
            0..=59 => Close::Fin3,
            60..=89 => Close::Fin4,
            _ => Close::Rst,
        };
        let rtt_ns = rng.octave(2 * MS, 6, 60).min(100 * MS);
        let msg = Msg {
            dir: 0,
            part: Part::Opaque,
            head: 0,
            len: 0,
            sent: 0,
            seed: 0,
            think_ns: 0,
        };
        Tcp {
            app,
            phase: Phase::Syn,
            nxt: [rng.next_u32(), rng.next_u32()],
            ts_off: use_ts.then(|| [rng.next_u32(), rng.next_u32()]),
            last_ts: [0, 0],
            wscale: [if windows { 8 } else { 7 }, *rng.pick(&[7, 9, 10])],
            syn_win: [
                if windows || rng.chance(70) {
                    64240
                } else {
                    65535
                },
                *rng.pick(&[65160, 28960, 65535]),
            ],
            win: [rng.range(500, 2100) as u16, rng.range(240, 1100) as u16],
            mss: [mss_c, mss_s],
            seg: mss_c.min(mss_s) - opt,
            rtt_ns,
            long,
            msg,
            burst_side: 0,
            unacked: 0,
            ack_due: false,
            ack_from: 0,
            after_ack: 0,
            closer: closer as u8,
            close,
        }
    }

    /// Starts a segment from `side` in `ctx.pkt`: IP and TCP headers with
    /// options; the caller appends payload and finishes the packet.
    fn open(&mut self, ctx: &mut Ctx, ep: &Endpoints, side: usize, flags: u8, now: u64) {
        let peer = side ^ 1;
        ctx.pkt.begin(ep, side, PROTO_TCP);
        let syn = flags & SYN != 0;
        let ack = if flags & ACK != 0 { self.nxt[peer] } else { 0 };
        let ts = self.ts_off.map(|off| {
            let v = off[side].wrapping_add((now / MS) as u32);
            let ecr = if flags == SYN { 0 } else { self.last_ts[peer] };
            self.last_ts[side] = v;
            (v, ecr)
        });
        let opt_len = match (syn, ts.is_some()) {
            (true, true) => 20,
            (true, false) | (false, true) => 12,
            (false, false) => 0,
        };
        let win = if syn {
            self.syn_win[side]
        } else {
            self.win[side]
        };
        let b = &mut ctx.pkt.buf;
        let ports = [ep.ports[side], ep.ports[peer]];
        push_header(b, ports, self.nxt[side], ack, flags, win, opt_len);
        let mss = self.mss[side].to_be_bytes();
        let ws = self.wscale[side];
        match (syn, ts) {
            (true, Some((v, ecr))) => {
                // Linux: MSS, SACK permitted, timestamps, NOP, window scale.
                b.extend_from_slice(&[2, 4, mss[0], mss[1], 4, 2, 8, 10]);
                b.extend_from_slice(&v.to_be_bytes());
                b.extend_from_slice(&ecr.to_be_bytes());
                b.extend_from_slice(&[1, 3, 3, ws]);
            }
            (true, None) => {
                // Windows: MSS, NOP, window scale, NOP, NOP, SACK permitted.
                b.extend_from_slice(&[2, 4, mss[0], mss[1], 1, 3, 3, ws, 1, 1, 4, 2]);
            }
            (false, Some((v, ecr))) => {
                b.extend_from_slice(&[1, 1, 8, 10]);
                b.extend_from_slice(&v.to_be_bytes());
                b.extend_from_slice(&ecr.to_be_bytes());
            }
            (false, None) => {}
        }
    }

    /// Sends a segment without payload and advances SND.NXT past SYN/FIN.
    fn control(&mut self, ctx: &mut Ctx, ep: &mut Endpoints, side: usize, flags: u8, now: u64) {
        self.open(ctx, ep, side, flags, now);
        ctx.pkt.finish(ep, side, now);
        if flags & (SYN | FIN) != 0 {
            self.nxt[side] = self.nxt[side].wrapping_add(1);
        }
        self.note(side, false);
    }

    /// Tracks how many data segments the receiver has not acknowledged.
    fn note(&mut self, side: usize, data: bool) {
        if usize::from(self.burst_side) != side {
            self.burst_side = side as u8;
            self.unacked = 0;
        }
        if data {
            self.unacked = self.unacked.saturating_add(1);
        }
    }

    /// Writes the next packet at `now`; returns the delay to the one after,
    /// or `None` when the connection is over.
    pub(crate) fn step(
        &mut self,
        now: u64,
        ep: &mut Endpoints,
        rng: &mut Rng,
        ctx: &mut Ctx,
    ) -> Option<u64> {
        match self.phase {
            Phase::Syn => {
                self.control(ctx, ep, CLIENT, SYN, now);
                self.phase = Phase::SynAck;
                Some(react(rng, self.rtt_ns, SERVER))
            }
            Phase::SynAck => {
                self.control(ctx, ep, SERVER, SYN | ACK, now);
                self.phase = Phase::Ack;
                Some(react(rng, self.rtt_ns, CLIENT))
            }
            Phase::Ack => {
                self.control(ctx, ep, CLIENT, ACK, now);
                self.phase = Phase::Data;
                Some(self.plan_next(rng, ctx))
            }
            Phase::Data => Some(self.step_data(now, ep, rng, ctx)),
            Phase::Close(k) => self.step_close(k, now, ep, rng, ctx),
        }
    }

    /// Plans the message after the current one (or the close) and returns
    /// the delay to the next packet, inserting a pure ACK when the reply
    /// takes longer than a delayed-ACK timer.
    fn plan_next(&mut self, rng: &mut Rng, ctx: &mut Ctx) -> u64 {
        let closer = usize::from(self.closer);
        match self
            .app
            .next(rng, self.rtt_ns, self.long, closer, ctx.scratch)
        {
            Some(m) => {
                // The sender of the next message received the last burst.
                let receiver = usize::from(m.dir);
                let pending = self.unacked > 0 && usize::from(self.burst_side) != receiver;
                self.msg = m;
                let ack_delay = react(rng, self.rtt_ns, receiver) + DELAYED_ACK;
                if pending && m.think_ns > ack_delay + MS {
                    self.ack_due = true;
                    self.ack_from = receiver as u8;
                    self.after_ack = m.think_ns - ack_delay;
                    ack_delay
                } else {
                    m.think_ns
                }
            }
            None => {
                self.phase = Phase::Close(0);
                close_idle(rng, closer, self.long)
            }
        }
    }

    fn seg_len(&self) -> usize {
        let m = &self.msg;
        let rem = (m.len - m.sent) as usize;
        let n = rem.min(usize::from(self.seg));
        let min = m.part.min_piece();
        if n < rem && rem - n < min {
            // Leave enough for a whole piece in the last segment.
            n - min
        } else {
            n
        }
    }

    fn step_data(&mut self, now: u64, ep: &mut Endpoints, rng: &mut Rng, ctx: &mut Ctx) -> u64 {
        if self.ack_due {
            self.ack_due = false;
            self.control(ctx, ep, usize::from(self.ack_from), ACK, now);
            return self.after_ack;
        }
        let side = usize::from(self.msg.dir);
        let n = self.seg_len();
        let last = self.msg.sent as usize + n == self.msg.len as usize;
        self.open(ctx, ep, side, ACK | if last { PSH } else { 0 }, now);
        if self.msg.sent == 0 {
            match self.msg.part {
                Part::HttpRequest => ctx.stats.http_requests += 1,
                Part::HttpResponse => ctx.stats.http_responses += 1,
                Part::TlsClientHello => ctx.stats.tls_client_hellos += 1,
                _ => {}
            }
        }
        let msg = self.msg;
        self.app.render(&msg, n, now, ctx);
        ctx.pkt.finish(ep, side, now);
        self.nxt[side] = self.nxt[side].wrapping_add(n as u32);
        self.msg.sent += n as u32;
        self.note(side, true);
        if !last {
            if self.unacked >= 2 {
                // The receiver acknowledges every second full segment.
                self.ack_due = true;
                self.ack_from = (side ^ 1) as u8;
                self.after_ack = burst_gap(rng);
                return react(rng, self.rtt_ns, side ^ 1);
            }
            return burst_gap(rng);
        }
        self.plan_next(rng, ctx)
    }

    fn step_close(
        &mut self,
        k: u8,
        now: u64,
        ep: &mut Endpoints,
        rng: &mut Rng,
        ctx: &mut Ctx,
    ) -> Option<u64> {
        let a = usize::from(self.closer);
        let b = a ^ 1;
        let rtt = self.rtt_ns;
        self.phase = Phase::Close(k + 1);
        match (self.close, k) {
            (Close::Rst, _) => {
                self.control(ctx, ep, a, RST | ACK, now);
                None
            }
            (_, 0) => {
                self.control(ctx, ep, a, FIN | ACK, now);
                Some(react(rng, rtt, b))
            }
            (Close::Fin3, 1) => {
                self.control(ctx, ep, b, FIN | ACK, now);
                Some(react(rng, rtt, a))
            }
            (Close::Fin4, 1) => {
                self.control(ctx, ep, b, ACK, now);
                Some(rng.range(50 * US, 5 * MS))
            }
            (Close::Fin4, 2) => {
                self.control(ctx, ep, b, FIN | ACK, now);
                Some(react(rng, rtt, a))
            }
            _ => {
                self.control(ctx, ep, a, ACK, now);
                None
            }
        }
    }
}
