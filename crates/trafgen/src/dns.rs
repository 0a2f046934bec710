//! DNS queries and their responses (RFC 1035): A, AAAA, MX, TXT and CNAME
//! answers with name compression, CNAME chains to a CDN, NXDOMAIN with the
//! zone's SOA, and EDNS(0).

use crate::rng::Rng;
use crate::world::{push_dec, push_hex, site_name, site_v4, site_v6};

pub(crate) const A: u16 = 1;
pub(crate) const CNAME: u16 = 5;
pub(crate) const MX: u16 = 15;
pub(crate) const TXT: u16 = 16;
pub(crate) const AAAA: u16 = 28;
const NS_SOA: u16 = 6;
const OPT: u16 = 41;

/// One lookup; the response is a function of it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Lookup {
    pub id: u16,
    pub qtype: u16,
    pub site: u32,
    pub nxdomain: bool,
    pub edns: bool,
    /// Fixes the random label of a failing name and the answer details.
    pub seed: u64,
}

impl Lookup {
    pub(crate) fn pick(rng: &mut Rng, site: u32, v6: bool) -> Lookup {
        let qtype = match rng.below(100) {
            0..=54 if !v6 => A,
            0..=24 => A,
            25..=54 => AAAA,
            55..=74 => AAAA,
            75..=84 => CNAME,
            85..=92 => MX,
            _ => TXT,
        };
        Lookup {
            id: rng.below(1 << 16) as u16,
            qtype,
            site,
            nxdomain: rng.chance(6),
            edns: rng.chance(60),
            seed: rng.next_u64(),
        }
    }
}

fn label(out: &mut Vec<u8>, l: &[u8]) {
    out.push(l.len() as u8);
    out.extend_from_slice(l);
}

fn pointer(out: &mut Vec<u8>, off: usize) {
    out.extend_from_slice(&(0xc000 | off as u16).to_be_bytes());
}

/// Writes the question name and returns the offset of its zone (the
/// "domain.tld" part) for later compression pointers.
fn qname(out: &mut Vec<u8>, q: &Lookup) -> usize {
    let (prefix, domain, tld) = site_name(q.site);
    if q.nxdomain {
        // A name nobody registered below a real zone: a typo or a stale host.
        let mut rng = Rng::new(q.seed ^ 1);
        let mut tmp = [0u8; 12];
        let n = rng.range(6, 12) as usize;
        for b in &mut tmp[..n] {
            *b = b"abcdefghijklmnopqrstuvwxyz0123456789"[rng.below(36) as usize];
        }
        label(out, &tmp[..n]);
    } else if !matches!(q.qtype, MX | TXT) {
        label(out, prefix.as_bytes());
    }
    let zone = out.len();
    label(out, domain.as_bytes());
    label(out, tld.as_bytes());
    out.push(0);
    zone
}

fn header(out: &mut Vec<u8>, id: u16, flags: u16, counts: [u16; 4]) {
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&flags.to_be_bytes());
    for c in counts {
        out.extend_from_slice(&c.to_be_bytes());
    }
}

fn opt(out: &mut Vec<u8>, udp_size: u16) {
    out.push(0);
    out.extend_from_slice(&OPT.to_be_bytes());
    out.extend_from_slice(&udp_size.to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
}

/// Owner, type, class IN, TTL; returns where RDLENGTH goes.
fn rr(out: &mut Vec<u8>, owner: usize, rtype: u16, ttl: u32) -> usize {
    pointer(out, owner);
    out.extend_from_slice(&rtype.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&ttl.to_be_bytes());
    let at = out.len();
    out.extend_from_slice(&[0, 0]);
    at
}

fn rdlen(out: &mut [u8], at: usize) {
    let n = (out.len() - at - 2) as u16;
    out[at..at + 2].copy_from_slice(&n.to_be_bytes());
}

pub(crate) fn write_query(q: &Lookup, out: &mut Vec<u8>) {
    let start = out.len();
    header(out, q.id, 0x0100, [1, 0, 0, u16::from(q.edns)]);
    qname(out, q);
    debug_assert!(out.len() > start);
    out.extend_from_slice(&q.qtype.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    if q.edns {
        opt(out, 1232);
    }
}

const CDNS: [(&str, &str); 4] = [
    ("edgekey", "net"),
    ("cloudfront", "net"),
    ("fastly", "net"),
    ("azureedge", "net"),
];

/// Writes the answer to `q`. Offsets for compression pointers are relative
/// to the start of the DNS message, which is where `out` starts being written.
pub(crate) fn write_response(q: &Lookup, out: &mut Vec<u8>) {
    let base = out.len();
    let mut rng = Rng::new(q.seed);
    let rcode = if q.nxdomain { 3 } else { 0 };
    header(out, q.id, 0x8180 | rcode, [1, 0, 0, u16::from(q.edns)]);
    let zone = qname(out, q) - base;
    out.extend_from_slice(&q.qtype.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    let qname_off = 12;
    let mut answers = 0u16;
    let mut authority = 0u16;
    let ttl = *rng.pick(&[30, 60, 300, 300, 600, 3600, 86_400]);
    if q.nxdomain {
        let at = rr(out, zone, NS_SOA, 900);
        label(out, b"ns1");
        pointer(out, zone);
        label(out, b"hostmaster");
        pointer(out, zone);
        for v in [
            2_025_120_100 + rng.below(99) as u32,
            7200,
            3600,
            1_209_600,
            300,
        ] {
            out.extend_from_slice(&v.to_be_bytes());
        }
        rdlen(out, at);
        authority = 1;
    } else {
        match q.qtype {
            A | AAAA => {
                let mut owner = qname_off;
                if rng.chance(30) {
                    // A CNAME to a CDN host; the addresses belong to that name.
                    let at = rr(out, owner, CNAME, ttl);
                    owner = out.len() - base;
                    let (cdn, tld) = *rng.pick(&CDNS);
                    out.extend_from_slice(&[9, b'e']);
                    push_hex(out, rng.next_u64(), 8);
                    label(out, cdn.as_bytes());
                    label(out, tld.as_bytes());
                    out.push(0);
                    rdlen(out, at);
                    answers += 1;
                }
                let n = rng.range(1, 4) as u32;
                for k in 0..n {
                    let at = rr(out, owner, q.qtype, ttl);
                    if q.qtype == A {
                        out.extend_from_slice(&site_v4(q.site, k).to_be_bytes());
                    } else {
                        out.extend_from_slice(&site_v6(q.site, k).to_be_bytes());
                    }
                    rdlen(out, at);
                    answers += 1;
                }
            }
            CNAME => {
                // www.example.com is an alias of example.com.
                let at = rr(out, qname_off, CNAME, ttl);
                pointer(out, zone);
                rdlen(out, at);
                answers = 1;
            }
            MX => {
                for k in 1..=rng.range(1, 3) {
                    let at = rr(out, qname_off, MX, ttl);
                    out.extend_from_slice(&(10 * k as u16).to_be_bytes());
                    let mut lab = *b"mx0";
                    lab[2] = b'0' + k as u8;
                    label(out, &lab);
                    pointer(out, zone);
                    rdlen(out, at);
                    answers += 1;
                }
            }
            _ => {
                let at = rr(out, qname_off, TXT, ttl);
                txt(
                    out,
                    b"v=spf1 ip4:198.18.0.0/15 include:_spf.example.net ~all",
                );
                rdlen(out, at);
                answers = 1;
                if rng.chance(50) {
                    let at = rr(out, qname_off, TXT, ttl);
                    // TXT strings are not compressed; this one is 18 + 44 bytes.
                    out.push(18 + 44);
                    out.extend_from_slice(b"site-verification=");
                    for _ in 0..4 {
                        push_hex(out, rng.next_u64(), 11);
                    }
                    rdlen(out, at);
                    answers += 1;
                }
                if rng.chance(30) {
                    let at = rr(out, qname_off, TXT, ttl);
                    out.push(13);
                    out.extend_from_slice(b"MS=ms");
                    push_dec(out, rng.range(10_000_000, 99_999_999));
                    rdlen(out, at);
                    answers += 1;
                }
            }
        }
    }
    if q.edns {
        opt(out, 1232);
    }
    out[base + 6..base + 8].copy_from_slice(&answers.to_be_bytes());
    out[base + 8..base + 10].copy_from_slice(&authority.to_be_bytes());
}

fn txt(out: &mut Vec<u8>, s: &[u8]) {
    out.push(s.len() as u8);
    out.extend_from_slice(s);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_counts_match() {
        for seed in 0..200 {
            let mut rng = Rng::new(seed);
            let q = Lookup::pick(&mut rng, seed as u32, seed % 3 == 0);
            let mut out = Vec::new();
            write_response(&q, &mut out);
            let an = u16::from_be_bytes([out[6], out[7]]);
            let ns = u16::from_be_bytes([out[8], out[9]]);
            assert_eq!(ns == 1, q.nxdomain);
            assert_eq!(an == 0, q.nxdomain);
            assert_eq!(out[3] & 0xf, if q.nxdomain { 3 } else { 0 });
        }
    }
}
