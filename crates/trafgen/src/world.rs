//! The fixed "world" conversations draw from: web sites with names and
//! addresses, client hosts, resolvers, scanners, and byte pools for payload.
//!
//! Sites are a pure function of their index, so a DNS answer, the TCP
//! connection that follows it, its `Host` header and its TLS SNI all agree.

use crate::rng::Rng;

const PREFIXES: [&str; 16] = [
    "www", "api", "cdn", "static", "img", "m", "login", "mail", "docs", "shop", "news", "app",
    "assets", "auth", "media", "blog",
];
const DOMAINS: [&str; 32] = [
    "example",
    "contoso",
    "fabrikam",
    "northwind",
    "adventure-works",
    "tailspintoys",
    "wingtiptoys",
    "litwareinc",
    "proseware",
    "woodgrovebank",
    "acme",
    "globex",
    "initech",
    "umbrella-corp",
    "hooli",
    "piedpiper",
    "waynecorp",
    "starkindustries",
    "cyberdyne",
    "soylent",
    "tyrellcorp",
    "massivedynamic",
    "vandelay",
    "dundermifflin",
    "bluthcompany",
    "wonka",
    "oscorp",
    "aperturescience",
    "blackmesa",
    "gringotts",
    "monsters-inc",
    "nakatomi",
];
const TLDS: [&str; 8] = ["com", "net", "org", "io", "de", "cz", "eu", "dev"];

/// Number of distinct sites (host names).
pub(crate) const N_SITES: u32 = (PREFIXES.len() * DOMAINS.len() * TLDS.len()) as u32;

/// A site's host name as (prefix, domain, tld), e.g. ("www", "contoso", "com").
pub(crate) fn site_name(site: u32) -> (&'static str, &'static str, &'static str) {
    let p = site as usize % PREFIXES.len();
    let d = (site as usize / PREFIXES.len()) % DOMAINS.len();
    let t = (site as usize / (PREFIXES.len() * DOMAINS.len())) % TLDS.len();
    (PREFIXES[p], DOMAINS[d], TLDS[t])
}

/// Appends "prefix.domain.tld".
pub(crate) fn push_host(out: &mut Vec<u8>, site: u32) {
    let (p, d, t) = site_name(site);
    for (i, part) in [p, d, t].iter().enumerate() {
        if i > 0 {
            out.push(b'.');
        }
        out.extend_from_slice(part.as_bytes());
    }
}

/// A site by popularity: a few sites get many connections, most get few.
pub(crate) fn pick_site(rng: &mut Rng) -> u32 {
    // Popularity ranks in octaves 0-3, 4-11, 12-27, ..., each next one
    // taken with 70%: a Zipf-like head and a long tail.
    let rank = (rng.octave(4, 10, 70) - 4) as u32;
    // An odd multiplier permutes 0..4096, so popular ranks spread over
    // different domains instead of all being www/api/cdn.example.
    rank.wrapping_mul(0x9E37_79B1) % N_SITES
}

/// Stateless 64-bit mixer for deriving fixed attributes from an index.
pub(crate) fn mix(x: u64) -> u64 {
    Rng::new(x ^ 0x5eed_0fed_d1e5).next_u64()
}

/// A site's IPv4 address in 198.18.0.0/15 (RFC 2544 benchmarking), plus
/// `k` for the k-th extra A record.
pub(crate) fn site_v4(site: u32, k: u32) -> u32 {
    let h = mix(u64::from(site)) as u32;
    let host = (h & 0x1_ff00) | (1 + (h.wrapping_add(k)) % 253);
    0xc612_0000 | host
}

/// A site's IPv6 address in 2001:db8::/32 (documentation).
pub(crate) fn site_v6(site: u32, k: u32) -> u128 {
    let h = u128::from(mix(u64::from(site) | 1 << 40));
    (0x2001_0db8u128 << 96) | ((h & 0xffff_ffff) << 64) | u128::from(k + 1)
}

/// Client subnets: four private /16s.
const CLIENT_NETS: [u32; 4] = [0x0a0a_0000, 0x0a14_0000, 0xac10_0000, 0xc0a8_0000];
/// Number of distinct client hosts.
pub(crate) const N_CLIENTS: u64 = 20_000;

pub(crate) fn pick_client(rng: &mut Rng) -> u64 {
    // Some hosts are busier than others, none is silent.
    if rng.chance(50) {
        rng.below(N_CLIENTS / 20)
    } else {
        rng.below(N_CLIENTS)
    }
}

pub(crate) fn client_v4(client: u64) -> u32 {
    let h = mix(client | 1 << 48) as u32;
    let net = CLIENT_NETS[(client % 4) as usize];
    net | ((h & 0xff00) | (1 + (h & 0xff) % 253))
}

/// fd0e:dd1e:0:<net>::<interface id> (a unique-local /48).
pub(crate) fn client_v6(client: u64) -> u128 {
    let h = u128::from(mix(client | 1 << 49));
    (0xfd0e_dd1e_0000u128 << 80) | (u128::from(client % 4) << 64) | (h & 0xffff_ffff_ffff_ffff) | 1
}

/// A locally administered MAC per client host.
pub(crate) fn client_mac(client: u64) -> [u8; 6] {
    let h = mix(client | 1 << 50).to_be_bytes();
    [0x02, h[0], h[1], h[2], h[3], h[4]]
}

/// The default gateway every client talks through (the VRRP virtual MAC).
pub(crate) const GATEWAY_MAC: [u8; 6] = [0x00, 0x00, 0x5e, 0x00, 0x01, 0x01];

/// Resolvers and NTP servers live in the three documentation /24s.
pub(crate) const RESOLVERS_V4: [u32; 3] = [0xc000_0235, 0xc633_6435, 0xcb00_7135];
pub(crate) const RESOLVERS_V6: [u128; 2] = [
    0x2001_0db8_0000_0000_0000_0000_0000_0053,
    0x2001_0db8_0053_0000_0000_0000_0000_0053,
];
pub(crate) const NTP_V4: [u32; 3] = [0xc000_027b, 0xc633_647b, 0xcb00_717b];
pub(crate) const NTP_V6: [u128; 1] = [0x2001_0db8_0000_0000_0000_0000_0000_0123];
/// A few scanners outside, knocking on inside addresses.
pub(crate) const SCANNERS_V4: [u32; 4] = [0xcb00_7107, 0xcb00_7142, 0xcb00_7181, 0xc633_64c8];
pub(crate) const SCANNERS_V6: [u128; 2] = [
    0x2001_0db8_05ca_0000_0000_0000_0000_0007,
    0x2001_0db8_05ca_0000_0000_0000_0000_0042,
];

/// A random server outside for non-web traffic.
pub(crate) fn other_server_v4(rng: &mut Rng) -> u32 {
    0xc612_0000 | (rng.below(0x2_0000) as u32 & 0x1_ff00) | rng.range(1, 254) as u32
}

pub(crate) fn other_server_v6(rng: &mut Rng) -> u128 {
    (0x2001_0db8_0ff0u128 << 80) | u128::from(rng.next_u64() | 1)
}

const LOREM: &str = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod \
tempor incididunt ut labore et dolore magna aliqua ut enim ad minim veniam quis nostrud \
exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat duis aute irure dolor \
in reprehenderit in voluptate velit esse cillum dolore eu fugiat nulla pariatur excepteur \
sint occaecat cupidatat non proident sunt in culpa qui officia deserunt mollit anim id est \
laborum ";

/// Payload bytes shared by all conversations: slices are copied out of them
/// instead of drawing every byte from the PRNG.
pub(crate) struct Pools {
    /// Uniformly random bytes (looks encrypted), with a 2 KiB wrap tail so
    /// any slice of up to 2 KiB at an offset below `POOL` is contiguous.
    pub random: Vec<u8>,
    /// Plain text: letters, spaces and newlines only, so it is safe inside
    /// HTML, CSS comments, JSON strings and JavaScript strings.
    pub text: Vec<u8>,
}

pub(crate) const POOL: usize = 1 << 16;
const WRAP: usize = 2048;

impl Pools {
    pub(crate) fn new(rng: &mut Rng) -> Pools {
        let mut random = Vec::with_capacity(POOL + WRAP);
        while random.len() < POOL {
            random.extend_from_slice(&rng.next_u64().to_le_bytes());
        }
        random.extend_from_within(..WRAP);
        let mut text = Vec::with_capacity(POOL + WRAP);
        let mut col = 0;
        while text.len() < POOL {
            for w in LOREM.split(' ').filter(|w| !w.is_empty()) {
                text.extend_from_slice(w.as_bytes());
                col += w.len() + 1;
                if col > 72 {
                    text.push(b'\n');
                    col = 0;
                } else {
                    text.push(b' ');
                }
            }
        }
        text.truncate(POOL);
        text.extend_from_within(..WRAP);
        Pools { random, text }
    }

    /// `n <= 2048` bytes of `pool` starting at logical offset `off`.
    pub(crate) fn slice(pool: &[u8], off: u64, n: usize) -> &[u8] {
        debug_assert!(n <= WRAP);
        let at = (off % POOL as u64) as usize;
        &pool[at..at + n]
    }
}

/// Appends a decimal number without going through `fmt`.
pub(crate) fn push_dec(out: &mut Vec<u8>, mut v: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&tmp[i..]);
}

/// Appends `n` lowercase hex digits of `v`.
pub(crate) fn push_hex(out: &mut Vec<u8>, v: u64, n: u32) {
    for i in (0..n).rev() {
        out.push(b"0123456789abcdef"[((v >> (4 * i)) & 0xf) as usize]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sites_have_names_and_addresses() {
        let mut out = Vec::new();
        push_host(&mut out, 17);
        assert_eq!(out, b"api.contoso.com");
        let a = site_v4(17, 0);
        assert_eq!(a >> 17, 0xc612_0000 >> 17);
        assert_ne!(a & 0xff, 0);
        assert_ne!(a & 0xff, 255);
    }

    #[test]
    fn numbers_format() {
        let mut out = Vec::new();
        push_dec(&mut out, 0);
        out.push(b' ');
        push_dec(&mut out, 1234567);
        out.push(b' ');
        push_hex(&mut out, 0xbeef, 6);
        assert_eq!(out, b"0 1234567 00beef");
    }
}
