//! TLS handshake records: a ClientHello shaped like a real client's (SNI,
//! ALPN, supported_versions, key_share, GREASE), the server's answer, and
//! the opaque records that follow.
//!
//! Only handshakes that need no certificate in the clear are produced: TLS
//! 1.3 (everything after ServerHello is encrypted) and TLS 1.2 session
//! resumption (ServerHello, ChangeCipherSpec, encrypted Finished). A random
//! "certificate" would be dissected as malformed DER.

use crate::rng::Rng;
use crate::world::{push_host, Pools};

/// The GREASE placeholder (RFC 8701) in the tables below; the written value
/// is one of 0x0a0a, 0x1a1a, ... 0xfafa, drawn per hello.
const G: u16 = 0x0a0a;

struct Profile {
    grease: bool,
    tls13: bool,
    shuffle: bool,
    ciphers: &'static [u16],
    exts: &'static [u16],
    groups: &'static [u16],
    shares: &'static [u16],
    sigalgs: &'static [u16],
    alpn: &'static [&'static str],
}

const SIG_MODERN: [u16; 8] = [
    0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601,
];
const SIG_WIDE: [u16; 11] = [
    0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0203, 0x0201,
];

const PROFILES: [Profile; 5] = [
    // Chromium: GREASE everywhere, extension order shuffled per hello.
    Profile {
        grease: true,
        tls13: true,
        shuffle: true,
        ciphers: &[
            G, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013,
            0xc014, 0x009c, 0x009d, 0x002f, 0x0035,
        ],
        exts: &[
            G, 0, 23, 0xff01, 10, 11, 35, 16, 5, 13, 18, 51, 45, 43, 27, G,
        ],
        groups: &[G, 0x001d, 0x0017, 0x0018],
        shares: &[G, 0x001d],
        sigalgs: &SIG_MODERN,
        alpn: &["h2", "http/1.1"],
    },
    // Firefox.
    Profile {
        grease: false,
        tls13: true,
        shuffle: false,
        ciphers: &[
            0x1301, 0x1303, 0x1302, 0xc02b, 0xc02f, 0xcca9, 0xcca8, 0xc02c, 0xc030, 0xc00a, 0xc009,
            0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035,
        ],
        exts: &[0, 23, 0xff01, 10, 11, 35, 16, 5, 34, 51, 43, 13, 45, 28],
        groups: &[0x001d, 0x0017, 0x0018, 0x0019, 0x0100, 0x0101],
        shares: &[0x001d, 0x0017],
        sigalgs: &SIG_WIDE,
        alpn: &["h2", "http/1.1"],
    },
    // Safari.
    Profile {
        grease: true,
        tls13: true,
        shuffle: false,
        ciphers: &[
            G, 0x1301, 0x1302, 0x1303, 0xc02c, 0xc02b, 0xcca9, 0xc030, 0xc02f, 0xcca8, 0xc00a,
            0xc009, 0xc014, 0xc013, 0x009d, 0x009c, 0x0035, 0x002f,
        ],
        exts: &[G, 0, 23, 0xff01, 10, 11, 16, 5, 13, 18, 51, 45, 43, 27, G],
        groups: &[G, 0x001d, 0x0017, 0x0018, 0x0019],
        shares: &[G, 0x001d],
        sigalgs: &SIG_MODERN,
        alpn: &["h2", "http/1.1"],
    },
    // curl with OpenSSL 3.
    Profile {
        grease: false,
        tls13: true,
        shuffle: false,
        ciphers: &[
            0x1302, 0x1303, 0x1301, 0xc02c, 0xc030, 0x009f, 0xcca9, 0xcca8, 0xccaa, 0xc02b, 0xc02f,
            0x009e, 0xc024, 0xc028, 0x006b, 0xc023, 0xc027, 0x0067, 0xc00a, 0xc014, 0x0039, 0xc009,
            0xc013, 0x0033, 0x009d, 0x009c, 0x003d, 0x003c, 0x0035, 0x002f, 0x00ff,
        ],
        exts: &[0, 11, 10, 35, 16, 22, 23, 13, 43, 45, 51],
        groups: &[0x001d, 0x0017, 0x001e, 0x0019, 0x0018],
        shares: &[0x001d],
        sigalgs: &SIG_WIDE,
        alpn: &["h2", "http/1.1"],
    },
    // An older TLS 1.2-only stack (embedded Java, IoT).
    Profile {
        grease: false,
        tls13: false,
        shuffle: false,
        ciphers: &[
            0xc02c, 0xc02b, 0xc030, 0xc02f, 0x009f, 0x009e, 0xc024, 0xc023, 0xc028, 0xc027, 0xc00a,
            0xc009, 0xc014, 0xc013, 0x009d, 0x009c, 0x003d, 0x003c, 0x0035, 0x002f, 0x00ff,
        ],
        exts: &[0, 10, 11, 13, 35, 23],
        groups: &[0x0017, 0x0018, 0x0019],
        shares: &[],
        sigalgs: &SIG_WIDE,
        alpn: &[],
    },
];
const PROFILE_WEIGHTS: [u32; 5] = [55, 15, 15, 10, 5];

/// One TLS session's choices, drawn once per connection.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Session {
    pub site: u32,
    profile: u8,
    pub v13: bool,
    /// Seeds the session id, which the server echoes.
    sess_seed: u64,
    cipher: u16,
    /// Index into the profile's ALPN list, or 255 for none.
    alpn: u8,
}

impl Session {
    pub(crate) fn pick(rng: &mut Rng, site: u32) -> Session {
        let profile = rng.weighted(&PROFILE_WEIGHTS);
        let p = &PROFILES[profile];
        let v13 = p.tls13 && rng.chance(85);
        let cipher = if v13 {
            *rng.pick(&[0x1301, 0x1301, 0x1302, 0x1303])
        } else {
            *rng.pick(&[0xc02f, 0xc02b, 0xc030, 0xc02c])
        };
        let alpn = if p.alpn.is_empty() {
            255
        } else if rng.chance(80) {
            0
        } else {
            1
        };
        Session {
            site,
            profile: profile as u8,
            v13,
            sess_seed: rng.next_u64(),
            cipher,
            alpn,
        }
    }
}

fn grease(rng: &mut Rng) -> u16 {
    0x0a0a | ((rng.below(16) as u16) * 0x1010)
}

/// Reserves a big-endian length field of `bytes` bytes; [`end`] fills it.
fn open(out: &mut Vec<u8>, bytes: usize) -> usize {
    let at = out.len();
    out.extend_from_slice(&[0; 3][..bytes]);
    at
}

fn end(out: &mut [u8], at: usize, bytes: usize) {
    let len = out.len() - at - bytes;
    let be = (len as u32).to_be_bytes();
    out[at..at + bytes].copy_from_slice(&be[4 - bytes..]);
}

fn u16s(out: &mut Vec<u8>, vals: &[u16], g: u16) {
    for &v in vals {
        out.extend_from_slice(&(if v == G { g } else { v }).to_be_bytes());
    }
}

fn push_random(rng: &mut Rng, out: &mut Vec<u8>, n: usize) {
    for _ in 0..n / 8 {
        out.extend_from_slice(&rng.next_u64().to_le_bytes());
    }
    out.extend_from_slice(&rng.next_u64().to_le_bytes()[..n % 8]);
}

/// Writes the ClientHello record; `seed` fixes its random parts.
pub(crate) fn write_client_hello(seed: u64, s: &Session, out: &mut Vec<u8>) {
    write_client_hello_sni(seed, s, None, out);
}

/// [`write_client_hello`] with the server name `sni` instead of the
/// session's site name when it is given.
pub(crate) fn write_client_hello_sni(
    seed: u64,
    s: &Session,
    sni: Option<&[u8]>,
    out: &mut Vec<u8>,
) {
    let mut rng = Rng::new(seed);
    let p = &PROFILES[s.profile as usize];
    let g_cipher = grease(&mut rng);
    let g_ext1 = grease(&mut rng);
    let g_ext2 = g_ext1 ^ 0x1010; // must differ from the first
    let g_group = grease(&mut rng);
    let g_ver = grease(&mut rng);

    out.extend_from_slice(&[0x16, 0x03, 0x01]);
    let rec = open(out, 2);
    out.push(1);
    let hs = open(out, 3);
    out.extend_from_slice(&[0x03, 0x03]);
    push_random(&mut rng, out, 32);
    out.push(32);
    push_random(&mut Rng::new(s.sess_seed), out, 32);
    let cs = open(out, 2);
    u16s(out, p.ciphers, g_cipher);
    end(out, cs, 2);
    out.extend_from_slice(&[1, 0]);

    let mut order = [0u16; 16];
    let n = p.exts.len();
    order[..n].copy_from_slice(p.exts);
    if p.shuffle {
        // Chromium permutes everything but the GREASE ends.
        for i in (2..n - 1).rev() {
            let j = 1 + rng.below(i as u64) as usize;
            order.swap(i, j);
        }
    }
    let exts = open(out, 2);
    let mut seen_grease = false;
    for &id in &order[..n] {
        if id == G {
            let v = if seen_grease { g_ext2 } else { g_ext1 };
            out.extend_from_slice(&v.to_be_bytes());
            out.extend_from_slice(if seen_grease { &[0, 1, 0] } else { &[0, 0] });
            seen_grease = true;
            continue;
        }
        out.extend_from_slice(&id.to_be_bytes());
        let e = open(out, 2);
        match id {
            0 => {
                let list = open(out, 2);
                out.push(0);
                let name = open(out, 2);
                match sni {
                    Some(n) => out.extend_from_slice(n),
                    None => push_host(out, s.site),
                }
                end(out, name, 2);
                end(out, list, 2);
            }
            10 => {
                let list = open(out, 2);
                u16s(out, p.groups, g_group);
                end(out, list, 2);
            }
            11 => out.extend_from_slice(if s.profile == 3 {
                &[3, 0, 1, 2]
            } else {
                &[1, 0]
            }),
            13 => {
                let list = open(out, 2);
                u16s(out, p.sigalgs, 0);
                end(out, list, 2);
            }
            16 => {
                let list = open(out, 2);
                for a in p.alpn {
                    out.push(a.len() as u8);
                    out.extend_from_slice(a.as_bytes());
                }
                end(out, list, 2);
            }
            35 if !s.v13 => {
                // A session ticket to resume with (opaque to everyone but the server).
                let len = 160 + 16 * rng.below(5) as usize;
                push_random(&mut rng, out, len);
            }
            5 => out.extend_from_slice(&[1, 0, 0, 0, 0]),
            0xff01 => out.push(0),
            27 => out.extend_from_slice(&[2, 0, 2]),
            28 => out.extend_from_slice(&[0x40, 0x01]),
            34 => out.extend_from_slice(&[0, 8, 0x04, 0x03, 0x05, 0x03, 0x06, 0x03, 0x02, 0x03]),
            43 => {
                let list = open(out, 1);
                u16s(
                    out,
                    if p.grease {
                        &[G, 0x0304, 0x0303]
                    } else {
                        &[0x0304, 0x0303]
                    },
                    g_ver,
                );
                end(out, list, 1);
            }
            45 => out.extend_from_slice(&[1, 1]),
            51 => {
                let list = open(out, 2);
                for &grp in p.shares {
                    match grp {
                        G => {
                            out.extend_from_slice(&g_group.to_be_bytes());
                            out.extend_from_slice(&[0, 1, 0]);
                        }
                        0x001d => {
                            out.extend_from_slice(&[0x00, 0x1d, 0x00, 0x20]);
                            push_random(&mut rng, out, 32);
                        }
                        _ => {
                            // secp256r1: an uncompressed point.
                            out.extend_from_slice(&[0x00, 0x17, 0x00, 0x41, 0x04]);
                            push_random(&mut rng, out, 64);
                        }
                    }
                }
                end(out, list, 2);
            }
            // 18 (SCT), 22 (encrypt-then-MAC), 23 (extended master secret)
            // and a fresh session ticket request are empty.
            _ => {}
        }
        end(out, e, 2);
    }
    end(out, exts, 2);
    end(out, hs, 3);
    end(out, rec, 2);
}

/// Writes the server's first flight up to where encryption starts:
/// ServerHello and ChangeCipherSpec, plus for TLS 1.2 resumption the
/// encrypted Finished.
pub(crate) fn write_server_hello(seed: u64, s: &Session, out: &mut Vec<u8>) {
    let mut rng = Rng::new(seed);
    let p = &PROFILES[s.profile as usize];
    out.extend_from_slice(&[0x16, 0x03, 0x03]);
    let rec = open(out, 2);
    out.push(2);
    let hs = open(out, 3);
    out.extend_from_slice(&[0x03, 0x03]);
    push_random(&mut rng, out, 32);
    out.push(32);
    push_random(&mut Rng::new(s.sess_seed), out, 32);
    out.extend_from_slice(&s.cipher.to_be_bytes());
    out.push(0);
    let exts = open(out, 2);
    if s.v13 {
        out.extend_from_slice(&[0x00, 0x2b, 0x00, 0x02, 0x03, 0x04]);
        out.extend_from_slice(&[0x00, 0x33, 0x00, 0x24, 0x00, 0x1d, 0x00, 0x20]);
        push_random(&mut rng, out, 32);
    } else {
        out.extend_from_slice(&[0xff, 0x01, 0x00, 0x01, 0x00]);
        out.extend_from_slice(&[0x00, 0x17, 0x00, 0x00]);
        if let Some(a) = p.alpn.get(s.alpn as usize) {
            out.extend_from_slice(&[0x00, 0x10]);
            out.extend_from_slice(&(a.len() as u16 + 3).to_be_bytes());
            out.extend_from_slice(&(a.len() as u16 + 1).to_be_bytes());
            out.push(a.len() as u8);
            out.extend_from_slice(a.as_bytes());
        }
    }
    end(out, exts, 2);
    end(out, hs, 3);
    end(out, rec, 2);
    out.extend_from_slice(&[0x14, 0x03, 0x03, 0x00, 0x01, 0x01]);
    if !s.v13 {
        // Finished under the resumed keys: 8 nonce + 16 verify_data + 16 tag.
        out.extend_from_slice(&[0x16, 0x03, 0x03, 0x00, 0x28]);
        push_random(&mut rng, out, 40);
    }
}

/// The client's ChangeCipherSpec and encrypted Finished.
pub(crate) fn write_client_finished(seed: u64, s: &Session, out: &mut Vec<u8>) {
    let mut rng = Rng::new(seed);
    out.extend_from_slice(&[0x14, 0x03, 0x03, 0x00, 0x01, 0x01]);
    if s.v13 {
        // Finished (36) + content type (1) + AEAD tag (16), disguised as data.
        out.extend_from_slice(&[0x17, 0x03, 0x03, 0x00, 0x35]);
        push_random(&mut rng, out, 0x35);
    } else {
        out.extend_from_slice(&[0x16, 0x03, 0x03, 0x00, 0x28]);
        push_random(&mut rng, out, 0x28);
    }
}

/// An encrypted close_notify alert.
pub(crate) fn write_close_notify(seed: u64, s: &Session, out: &mut Vec<u8>) {
    let mut rng = Rng::new(seed);
    if s.v13 {
        out.extend_from_slice(&[0x17, 0x03, 0x03, 0x00, 0x13]);
        push_random(&mut rng, out, 0x13);
    } else {
        out.extend_from_slice(&[0x15, 0x03, 0x03, 0x00, 0x1a]);
        push_random(&mut rng, out, 0x1a);
    }
}

/// Smallest piece of a record stream: a header and one byte.
pub(crate) const MIN_RECORD: usize = 6;

/// Appends one application-data record of `n >= MIN_RECORD` bytes in total.
pub(crate) fn push_record(out: &mut Vec<u8>, pools: &Pools, shift: u64, n: usize) {
    out.extend_from_slice(&[0x17, 0x03, 0x03]);
    out.extend_from_slice(&((n - 5) as u16).to_be_bytes());
    out.extend_from_slice(Pools::slice(&pools.random, shift, n - 5));
}

/// The server name a session's hello carries (for tests).
#[cfg(test)]
pub(crate) fn sni(s: &Session) -> String {
    let (p, d, t) = crate::world::site_name(s.site);
    format!("{p}.{d}.{t}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_hello_lengths_add_up() {
        for seed in 0..50 {
            let mut rng = Rng::new(seed);
            let s = Session::pick(&mut rng, seed as u32 * 7);
            let mut out = Vec::new();
            write_client_hello(seed, &s, &mut out);
            assert_eq!(u16::from_be_bytes([out[3], out[4]]) as usize, out.len() - 5);
            let hs_len = u32::from_be_bytes([0, out[6], out[7], out[8]]) as usize;
            assert_eq!(hs_len, out.len() - 9);
            let name = sni(&s);
            assert!(out.windows(name.len()).any(|w| w == name.as_bytes()));
            assert!(out.len() < 1000);
        }
    }
}
