//! Attack modes: each attack shows up with its documented addresses, ports
//! and shape, the benign traffic around it is untouched, and the output is
//! deterministic.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::net::Ipv4Addr;

use common::{check_frame, records};
use trafgen::attacks::*;
use trafgen::{write_pcap, Attack, GenConfig, GenSummary};

const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const ACK: u8 = 0x10;

/// An IPv4 TCP or UDP packet, decoded.
#[derive(Clone, Debug)]
struct Pkt {
    ts_usec: u64,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    proto: u8,
    sport: u16,
    dport: u16,
    flags: u8,
    ip_len: usize,
    payload: Vec<u8>,
}

fn decode(file: &[u8]) -> Vec<Pkt> {
    let mut out = Vec::new();
    for r in records(file) {
        let info = check_frame(r.frame);
        if info.v6 || !matches!(info.proto, 6 | 17) {
            continue;
        }
        let at = if info.vlan { 18 } else { 14 };
        let ip = &r.frame[at..];
        let l4 = &ip[20..];
        let (flags, hlen) = if info.proto == 6 {
            (l4[13], usize::from(l4[12] >> 4) * 4)
        } else {
            (0, 8)
        };
        out.push(Pkt {
            ts_usec: r.ts_usec,
            src: Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]),
            dst: Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]),
            proto: info.proto,
            sport: u16::from_be_bytes([l4[0], l4[1]]),
            dport: u16::from_be_bytes([l4[2], l4[3]]),
            flags,
            ip_len: ip.len(),
            payload: l4[hlen..].to_vec(),
        });
    }
    out
}

fn config(attacks: &[Attack]) -> GenConfig {
    GenConfig {
        flows: 300,
        seed: 11,
        attacks: attacks.to_vec(),
        ..GenConfig::default()
    }
}

fn generate(cfg: &GenConfig) -> (Vec<u8>, GenSummary) {
    let mut out = Vec::new();
    let s = write_pcap(cfg, &mut out).unwrap();
    (out, s)
}

fn with(attack: Attack) -> (Vec<Pkt>, GenSummary) {
    let (bytes, s) = generate(&config(&[attack]));
    assert_eq!(s.attacks.len(), 1);
    assert_eq!(s.attacks[0].attack, attack);
    assert!(s.attacks[0].packets > 0);
    (decode(&bytes), s)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn text(p: &Pkt) -> &str {
    std::str::from_utf8(&p.payload).unwrap_or("")
}

#[test]
fn attack_names_parse() {
    assert_eq!(Attack::parse_list("all").unwrap(), Attack::ALL.to_vec());
    assert_eq!(
        Attack::parse_list("sshbf,vscan,sshbf").unwrap(),
        vec![Attack::VScan, Attack::SshBf]
    );
    assert!(Attack::parse_list("vscan,nope").is_err());
    for a in Attack::ALL {
        assert_eq!(Attack::from_name(a.name()), Some(a));
    }
}

#[test]
fn vertical_scan() {
    let (pkts, _) = with(Attack::VScan);
    let probes: Vec<&Pkt> = pkts
        .iter()
        .filter(|p| p.src == VSCAN_ATTACKER && p.dst == VSCAN_VICTIM && p.flags == SYN)
        .collect();
    assert_eq!(probes.len(), usize::from(VSCAN_PORTS));
    let ports: BTreeSet<u16> = probes.iter().map(|p| p.dport).collect();
    assert_eq!(ports.len(), usize::from(VSCAN_PORTS));
    let rsts = pkts
        .iter()
        .filter(|p| p.src == VSCAN_VICTIM && p.flags == RST | ACK)
        .count();
    assert_eq!(rsts, usize::from(VSCAN_PORTS) - VSCAN_OPEN.len());
}

#[test]
fn horizontal_scan() {
    let (pkts, _) = with(Attack::HScan);
    let victims: BTreeSet<Ipv4Addr> = pkts
        .iter()
        .filter(|p| p.src == HSCAN_ATTACKER && p.dport == HSCAN_PORT && p.flags == SYN)
        .map(|p| p.dst)
        .collect();
    assert_eq!(victims.len(), HSCAN_VICTIMS as usize);
    assert!(victims.contains(&hscan_victim(0)));
    assert!(victims.contains(&hscan_victim(HSCAN_VICTIMS - 1)));
    let answers = pkts.iter().filter(|p| victims.contains(&p.src)).count();
    assert!(answers * 5 < HSCAN_VICTIMS as usize, "{answers} answers");
}

#[test]
fn syn_flood() {
    let mut cfg = config(&[Attack::SynFlood]);
    cfg.synflood_flows = 2500;
    let (bytes, s) = generate(&cfg);
    let pkts = decode(&bytes);
    let syns: Vec<&Pkt> = pkts
        .iter()
        .filter(|p| p.dst == SYNFLOOD_VICTIM && p.dport == SYNFLOOD_PORT && p.flags == SYN)
        .collect();
    assert_eq!(syns.len(), 2500);
    assert_eq!(s.attacks[0].conversations, 2500);
    assert!(syns.iter().all(|p| (40..=60).contains(&p.ip_len)));
    let sources: HashSet<(Ipv4Addr, u16)> = syns.iter().map(|p| (p.src, p.sport)).collect();
    assert!(sources.len() > 2400);
    let answers = pkts.iter().filter(|p| p.src == SYNFLOOD_VICTIM).count();
    assert!(answers * 5 < 2500);
}

#[test]
fn dns_amplification() {
    let (pkts, s) = with(Attack::DnsAmp);
    let resolvers: BTreeSet<Ipv4Addr> = (0..DNSAMP_RESOLVERS).map(dnsamp_resolver).collect();
    let responses: Vec<&Pkt> = pkts
        .iter()
        .filter(|p| p.dst == DNSAMP_VICTIM && p.sport == 53 && p.proto == 17)
        .collect();
    assert_eq!(responses.len() as u64, GenConfig::default().dnsamp_flows);
    assert!(responses.iter().all(|p| resolvers.contains(&p.src)));
    assert!(responses
        .iter()
        .all(|p| p.ip_len >= 1200 && p.ip_len <= 1500));
    let top = responses
        .iter()
        .filter(|p| p.src == DNSAMP_RESOLVER_FIRST)
        .count();
    assert!(top > 1000, "{top} responses from the first resolver");
    let ports: HashSet<u16> = responses.iter().map(|p| p.dport).collect();
    assert!(ports.len() > 1500);
    let queries = pkts
        .iter()
        .filter(|p| p.src == DNSAMP_VICTIM && p.dport == 53)
        .count();
    assert_eq!(queries, DNSAMP_RESOLVERS as usize);
    assert_eq!(
        s.attacks[0].conversations,
        GenConfig::default().dnsamp_flows + u64::from(DNSAMP_RESOLVERS)
    );
}

/// Per connection (client port): client packets and IP bytes, server
/// packets and IP bytes.
fn connections(pkts: &[Pkt], client: Ipv4Addr, server: Ipv4Addr, port: u16) -> Vec<[usize; 4]> {
    let mut by: BTreeMap<u16, [usize; 4]> = BTreeMap::new();
    for p in pkts {
        if p.src == client && p.dst == server && p.dport == port {
            let e = by.entry(p.sport).or_default();
            e[0] += 1;
            e[1] += p.ip_len;
        } else if p.src == server && p.dst == client && p.sport == port {
            let e = by.entry(p.dport).or_default();
            e[2] += 1;
            e[3] += p.ip_len;
        }
    }
    by.into_values().collect()
}

#[test]
fn ssh_brute_force() {
    let (pkts, _) = with(Attack::SshBf);
    let conns = connections(&pkts, SSHBF_ATTACKER, SSHBF_SERVER, 22);
    assert_eq!(conns.len(), SSHBF_CONNECTIONS as usize);
    for [cp, cb, sp, sb] in conns {
        assert!((11..=25).contains(&cp), "client packets {cp}");
        assert!((1000..=5000).contains(&cb), "client bytes {cb}");
        assert!((11..=50).contains(&sp), "server packets {sp}");
        assert!((1000..=11000).contains(&sb), "server bytes {sb}");
    }
    let banners = pkts
        .iter()
        .filter(|p| p.src == SSHBF_SERVER && p.payload.starts_with(b"SSH-2.0-"))
        .count();
    assert_eq!(banners, SSHBF_CONNECTIONS as usize);
}

#[test]
fn rdp_brute_force() {
    let (pkts, _) = with(Attack::RdpBf);
    let conns = connections(&pkts, RDPBF_ATTACKER, RDPBF_SERVER, 3389);
    assert_eq!(conns.len(), RDPBF_CONNECTIONS as usize);
    for [cp, cb, _, _] in conns {
        assert!((20..=100).contains(&cp), "client packets {cp}");
        assert!((3000..=6000).contains(&cb), "client bytes {cb}");
    }
    let cookies = pkts
        .iter()
        .filter(|p| contains(&p.payload, b"Cookie: mstshash="))
        .count();
    assert_eq!(cookies, RDPBF_CONNECTIONS as usize);
}

#[test]
fn sip_brute_force() {
    let (pkts, _) = with(Attack::SipBf);
    let registers: Vec<&Pkt> = pkts
        .iter()
        .filter(|p| p.src == SIPBF_ATTACKER && p.dst == SIP_SERVER && p.dport == 5060)
        .collect();
    assert_eq!(registers.len(), SIPBF_ATTEMPTS as usize);
    let to = format!("To: <sip:{SIPBF_USER}@{SIP_SERVER}>\r\n");
    for p in &registers {
        let t = text(p);
        assert!(
            t.starts_with(&format!("REGISTER sip:{SIP_SERVER} SIP/2.0\r\n")),
            "{t}"
        );
        assert!(t.contains(&to) && t.contains("\r\nCSeq: 1 REGISTER\r\n"));
        assert!(t.contains("\r\nCall-ID: ") && t.ends_with("Content-Length: 0\r\n\r\n"));
    }
    let rejects = pkts
        .iter()
        .filter(|p| p.src == SIP_SERVER && p.dst == SIPBF_ATTACKER)
        .filter(|p| {
            let t = text(p);
            t.starts_with("SIP/2.0 401 Unauthorized\r\n") && t.contains("\r\nCSeq: 1 REGISTER\r\n")
        })
        .count();
    assert_eq!(rejects, SIPBF_ATTEMPTS as usize);
}

#[test]
fn toll_fraud() {
    let (pkts, _) = with(Attack::TollFraud);
    let invites: Vec<&Pkt> = pkts
        .iter()
        .filter(|p| p.src == TOLLFRAUD_ATTACKER && text(p).starts_with("INVITE sip:00420"))
        .collect();
    assert_eq!(invites.len(), TOLLFRAUD_CALLS as usize);
    let prefixes: BTreeSet<&str> = invites.iter().map(|p| &text(p)[11..21]).collect();
    assert_eq!(prefixes.len(), TOLLFRAUD_CALLS as usize);
    for p in &invites {
        let number = &text(p)[11..25];
        assert!(number.bytes().all(|b| b.is_ascii_digit()), "{number}");
        assert!(text(p)[25..].starts_with(&format!("@{SIP_SERVER} SIP/2.0\r\n")));
    }
    let span = invites.last().unwrap().ts_usec - invites[0].ts_usec;
    assert!(span < 10_000_000, "{span} us");
    let answers = pkts
        .iter()
        .filter(|p| p.src == SIP_SERVER)
        .filter(|p| text(p).starts_with("SIP/2.0 404 ") || text(p).starts_with("SIP/2.0 403 "))
        .count();
    assert_eq!(answers, TOLLFRAUD_CALLS as usize);
}

/// The question name of a DNS message.
fn qname(msg: &[u8]) -> String {
    let mut at = 12;
    let mut labels = Vec::new();
    while msg[at] != 0 {
        let n = usize::from(msg[at]);
        labels.push(String::from_utf8(msg[at + 1..at + 1 + n].to_vec()).unwrap());
        at += 1 + n;
    }
    labels.join(".")
}

#[test]
fn dns_tunnel() {
    let (pkts, _) = with(Attack::DnsTunnel);
    let queries: Vec<&Pkt> = pkts
        .iter()
        .filter(|p| p.src == DNSTUNNEL_CLIENT && p.dst == RESOLVER && p.dport == 53)
        .collect();
    assert_eq!(queries.len(), DNSTUNNEL_QUERIES as usize);
    let names: HashSet<String> = queries.iter().map(|p| qname(&p.payload)).collect();
    assert_eq!(names.len(), queries.len());
    let suffix = format!(".{DNSTUNNEL_DOMAIN}");
    assert!(names.iter().all(|n| n.ends_with(&suffix) && n.len() >= 60));
    let mean = queries.iter().map(|p| p.payload.len()).sum::<usize>() / queries.len();
    assert!((70..=100).contains(&mean), "mean query {mean} bytes");
    let answers = pkts
        .iter()
        .filter(|p| p.src == RESOLVER && p.dst == DNSTUNNEL_CLIENT && p.payload.len() > 180)
        .count();
    assert_eq!(answers, DNSTUNNEL_QUERIES as usize);
    let span = queries.last().unwrap().ts_usec - queries[0].ts_usec;
    assert!(span > 60_000_000);
}

#[test]
fn stratum_miner() {
    let (pkts, _) = with(Attack::Stratum);
    let up: Vec<&Pkt> = pkts
        .iter()
        .filter(|p| p.src == STRATUM_MINER && p.dst == STRATUM_POOL && p.dport == STRATUM_PORT)
        .collect();
    let with_data: Vec<&&Pkt> = up.iter().filter(|p| !p.payload.is_empty()).collect();
    assert!(text(with_data[0]).starts_with("{\"id\":1,\"method\":\"mining.subscribe\""));
    let secs = (up.last().unwrap().ts_usec - up[0].ts_usec) / 1_000_000;
    assert!(secs >= 600, "{secs} s");
    let per_min = up.len() as u64 * 60 / secs;
    assert!((8..=30).contains(&per_min), "{per_min} packets/min");
    let bpp = up.iter().map(|p| p.ip_len).sum::<usize>() / up.len();
    assert!((50..=130).contains(&bpp), "{bpp} bytes/packet");
    let acks = up.iter().filter(|p| p.flags & ACK != 0).count();
    assert!(acks * 10 > up.len() * 8);
    assert!(up.len() > 20);
}

#[test]
fn blacklisted_destinations() {
    let (pkts, _) = with(Attack::Blacklist);
    for client in BLACKLIST_CLIENTS {
        let from: Vec<&Pkt> = pkts.iter().filter(|p| p.src == client).collect();
        let host = format!("\r\nHost: {BLACKLIST_DOMAIN}\r\n");
        assert!(from
            .iter()
            .any(|p| p.dst == BLACKLIST_DOMAIN_ADDR && p.dport == 80 && text(p).contains(&host)));
        assert!(from.iter().any(|p| p.dst == BLACKLIST_DOMAIN_ADDR
            && p.dport == 443
            && p.payload.first() == Some(&0x16)
            && contains(&p.payload, BLACKLIST_DOMAIN.as_bytes())));
        assert!(from
            .iter()
            .any(|p| p.dst == RESOLVER && qname(&p.payload) == BLACKLIST_DOMAIN));
        assert!(from.iter().any(|p| p.dst == BLACKLIST_IP && p.dport == 80));
        assert!(from.iter().any(|p| p.dst == BLACKLIST_IP
            && p.dport == 443
            && contains(&p.payload, BLACKLIST_IP_SNI.as_bytes())));
        // The resolver answers with the domain's address.
        assert!(pkts.iter().any(|p| p.src == RESOLVER
            && p.dst == client
            && p.payload.ends_with(&BLACKLIST_DOMAIN_ADDR.octets())));
    }
}

#[test]
fn benign_traffic_is_untouched_and_output_is_deterministic() {
    let (benign, sb) = generate(&config(&[]));
    assert!(sb.attacks.is_empty());
    let cfg = config(&Attack::ALL);
    let (mixed, sm) = generate(&cfg);
    let (again, sa) = generate(&cfg);
    assert_eq!(mixed, again);
    assert_eq!(sm, sa);
    let (other, _) = generate(&GenConfig {
        seed: 12,
        ..cfg.clone()
    });
    assert_ne!(mixed, other);

    assert_eq!(sm.attacks.len(), Attack::ALL.len());
    let attack_pkts: u64 = sm.attacks.iter().map(|a| a.packets).sum();
    let attack_bytes: u64 = sm.attacks.iter().map(|a| a.bytes).sum();
    assert_eq!(sm.packets, sb.packets + attack_pkts);
    assert_eq!(sm.bytes, sb.bytes + attack_bytes);
    assert_eq!((sm.flows, sm.by_kind), (sb.flows, sb.by_kind));
    assert!(sm.last_ns >= sm.first_ns + STRATUM_SECS * 1_000_000_000);

    // The benign records appear in the mixed file, in order, unchanged.
    let b = records(&benign);
    let m = records(&mixed);
    assert_eq!(m.len() as u64, sm.packets);
    assert!(m.windows(2).all(|w| w[0].ts_usec <= w[1].ts_usec));
    let mut i = 0;
    for r in &m {
        if i < b.len() && r.ts_usec == b[i].ts_usec && r.frame == b[i].frame {
            i += 1;
        }
    }
    assert_eq!(i, b.len());
    // Attacks interleave with the benign traffic rather than trail it.
    let benign_end = b.last().unwrap().ts_usec;
    let first_attack = sm.attacks.iter().map(|a| a.first_ns).min().unwrap() / 1000;
    assert!(first_attack < benign_end);
}

#[test]
fn attacks_alone() {
    let cfg = GenConfig {
        flows: 0,
        ..config(&[Attack::VScan, Attack::SipBf])
    };
    let (bytes, s) = generate(&cfg);
    assert_eq!(s.flows, 0);
    assert_eq!(s.packets, s.attacks.iter().map(|a| a.packets).sum::<u64>());
    assert_eq!(decode(&bytes).len() as u64, s.packets);
}
