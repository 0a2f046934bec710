//! SIP brute force (NEMEA's sip_bf): failed authentications, i.e.
//! `401 Unauthorized` / `407 Proxy Authentication Required` responses to
//! REGISTER or INVITE (the method from `sip_cseq`; a response without CSeq
//! is taken as a REGISTER), counted per (server, target user).
//!
//! Flows are one direction: the response's source is the SIP server, its
//! destination the client trying passwords. The user is the user part of
//! the To URI for REGISTER (the address of record being registered) and of
//! the From URI for INVITE (the account placing the call); the other header
//! when that one has none.
//!
//! Alerts (Attempt.Login unless said otherwise):
//! - 50 failed attempts on one user: brute force, naming the attacking
//!   sources (the first 50) and the server; "distributed" when 25 or more
//!   sources took part. If the attack becomes distributed after the first
//!   alert, one more alert says so.
//! - one source failing on 5 or more distinct users (on any server): a
//!   user (extension) scan, Recon.Scanning.
//! - a `200 OK` to REGISTER for an attacked user (after its alert) sent to
//!   one of the attacking sources: "possible breach" (categories
//!   Attempt.Login and Intrusion.UserCompromise), once per attack. NEMEA
//!   uses OKs after the threshold to mark false alarms instead; eddy reports
//!   the OK and leaves the judgement to the analyst.
//!
//! An attack (a user's state, an attacker's scan state) ends after 1800 s
//! without a failed attempt; state is purged on tick (checked every 300 s
//! of record time, as NEMEA).

use std::hash::BuildHasher;

use arrow_array::Array;

use crate::blacklist::proto_name;
use crate::{Alert, Detector, Endpoint, Flows, Map, Set, NS};

#[derive(Clone, Copy, Debug, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Failed attempts on one user that make an attack (50).
    pub threshold: u64,
    /// Distinct sources on one user that make it distributed (25).
    pub distributed_sources: usize,
    /// Distinct users one source fails on that make a user scan (5).
    pub scan_users: usize,
    /// An attack ends after this long without a failed attempt (1800 s).
    #[serde(rename = "attack_end_secs", with = "crate::config::secs")]
    pub attack_end_ns: u64,
    /// How often `tick` purges ended attacks (300 s).
    #[serde(rename = "check_secs", with = "crate::config::secs")]
    pub check_ns: u64,
    /// Sources remembered per user (10,000); more are counted, not listed.
    pub max_sources: usize,
    /// Sources listed in an alert (50).
    pub max_listed: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            threshold: 50,
            distributed_sources: 25,
            scan_users: 5,
            attack_end_ns: 1800 * NS,
            check_ns: 300 * NS,
            max_sources: 10_000,
            max_listed: 50,
        }
    }
}

#[derive(Default)]
struct UserState {
    attempts: u64,
    /// Attacker → failed attempts.
    sources: Map<[u8; 16], u64>,
    first_ns: u64,
    last_ns: u64,
    alerted: bool,
    distributed_reported: bool,
    breach_reported: bool,
    port: u16,
    proto: u8,
    packets: u64,
    bytes: u64,
}

#[derive(Default)]
struct ScanState {
    /// Hashes of (server, user).
    users: Set<u64>,
    /// The first few users, for the alert.
    sample: Vec<Box<str>>,
    servers: Vec<[u8; 16]>,
    first_ns: u64,
    last_ns: u64,
    alerted: bool,
    flows: u64,
    packets: u64,
    bytes: u64,
}

pub struct SipBruteForce {
    config: Config,
    /// Server → user → state.
    users: Map<[u8; 16], Map<Box<str>, UserState>>,
    attackers: Map<[u8; 16], ScanState>,
    hasher: foldhash::fast::FixedState,
    next_check_ns: u64,
}

/// The user part of the first `sip:`/`sips:` URI in a header value
/// (`"Bob" <sip:bob@example.com>;tag=1` → `bob`); with `tel_too`, also the
/// number of a `tel:` URI. None when the URI has no user part.
pub(crate) fn uri_user(s: &str, tel_too: bool) -> Option<&str> {
    let b = s.as_bytes();
    let mut start = None;
    let mut tel = false;
    for i in 0..b.len() {
        let rest = &b[i..];
        if rest.len() >= 4 && rest[..4].eq_ignore_ascii_case(b"sip:") {
            start = Some(i + 4);
        } else if rest.len() >= 5 && rest[..5].eq_ignore_ascii_case(b"sips:") {
            start = Some(i + 5);
        } else if tel_too && rest.len() >= 4 && rest[..4].eq_ignore_ascii_case(b"tel:") {
            start = Some(i + 4);
            tel = true;
        }
        if start.is_some() {
            break;
        }
    }
    let s = &s[start?..];
    let end = s
        .find(['@', ';', '>', '?', ' ', ',', '"'])
        .unwrap_or(s.len());
    let at = s.as_bytes().get(end) == Some(&b'@');
    let user = &s[..end];
    // `sip:user:password@host`: the password is not part of the user.
    let user = user.split(':').next().unwrap_or(user);
    ((at || tel) && !user.is_empty()).then_some(user)
}

/// The method of a CSeq value (`"1 REGISTER"` → `REGISTER`).
pub(crate) fn cseq_method(s: &str) -> &str {
    s.split_whitespace().nth(1).unwrap_or("")
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Method {
    Register,
    Invite,
}

impl SipBruteForce {
    pub fn new(config: Config) -> SipBruteForce {
        SipBruteForce {
            config,
            users: Map::default(),
            attackers: Map::default(),
            hasher: foldhash::fast::FixedState::with_seed(0x5157_4246),
            next_check_ns: 0,
        }
    }

    /// Users with state (all servers).
    pub fn users_len(&self) -> usize {
        self.users.values().map(Map::len).sum()
    }

    fn attack_alert(&self, server: [u8; 16], user: &str, u: &UserState, now: u64) -> Alert {
        let distributed = u.sources.len() >= self.config.distributed_sources;
        let mut srcs: Vec<(&[u8; 16], &u64)> = u.sources.iter().collect();
        srcs.sort_unstable_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let protos = protos(u.proto);
        Alert {
            detector: "sip_bf",
            category: vec!["Attempt.Login"],
            description: format!(
                "SIP brute force{} on user '{user}': {} failed authentications from {} source{}",
                if distributed { " (distributed)" } else { "" },
                u.attempts,
                u.sources.len(),
                if u.sources.len() == 1 { "" } else { "s" }
            ),
            detect_time_ns: now,
            event_time_ns: u.first_ns,
            cease_time_ns: u.last_ns,
            sources: srcs
                .iter()
                .take(self.config.max_listed)
                .map(|(ip, _)| Endpoint {
                    ip: **ip,
                    ports: Vec::new(),
                    proto: protos.clone(),
                })
                .collect(),
            targets: vec![Endpoint {
                ip: server,
                ports: if u.port == 0 { vec![] } else { vec![u.port] },
                proto: protos,
            }],
            flows: u.attempts,
            packets: u.packets,
            bytes: u.bytes,
        }
    }

    fn failed(&mut self, f: &Flows<'_>, i: usize, user: &str, out: &mut Vec<Alert>) {
        let (server, attacker) = (f.src(i), f.dst(i));
        let first = f.first[i].max(0) as u64;
        let last = f.last[i].max(0) as u64;
        let cfg = self.config;
        let per_server = self.users.entry(server).or_default();
        if !per_server.contains_key(user) {
            per_server.insert(user.into(), UserState::default());
        }
        let Some(u) = per_server.get_mut(user) else {
            return;
        };
        if u.attempts == 0 {
            u.first_ns = first;
        }
        u.first_ns = u.first_ns.min(first);
        u.last_ns = u.last_ns.max(last);
        u.attempts += 1;
        u.packets += f.packets[i];
        u.bytes += f.bytes[i];
        u.port = f.src_port[i];
        u.proto = f.proto[i];
        if let Some(n) = u.sources.get_mut(&attacker) {
            *n += 1;
        } else if u.sources.len() < cfg.max_sources {
            u.sources.insert(attacker, 1);
        }
        let alert_now = !u.alerted && u.attempts >= cfg.threshold;
        let distributed_now =
            u.alerted && !u.distributed_reported && u.sources.len() >= cfg.distributed_sources;
        if alert_now || distributed_now {
            u.alerted = true;
            u.distributed_reported = u.sources.len() >= cfg.distributed_sources;
        }
        if alert_now || distributed_now {
            let u = &self.users[&server][user];
            out.push(self.attack_alert(server, user, u, last));
        }

        // User scan by this attacker.
        let h = self.hasher.hash_one((server, user));
        let s = self.attackers.entry(attacker).or_default();
        if s.flows == 0 {
            s.first_ns = first;
        }
        s.first_ns = s.first_ns.min(first);
        s.last_ns = s.last_ns.max(last);
        s.flows += 1;
        s.packets += f.packets[i];
        s.bytes += f.bytes[i];
        if s.users.insert(h) {
            if s.sample.len() < 10 {
                s.sample.push(user.into());
            }
            if s.servers.len() < 16 && !s.servers.contains(&server) {
                s.servers.push(server);
            }
        }
        if !s.alerted && s.users.len() >= cfg.scan_users {
            s.alerted = true;
            let protos = protos(f.proto[i]);
            out.push(Alert {
                detector: "sip_bf",
                category: vec!["Recon.Scanning"],
                description: format!(
                    "SIP user scan: failed authentications for {} users ({})",
                    s.users.len(),
                    s.sample.join(", ")
                ),
                detect_time_ns: last,
                event_time_ns: s.first_ns,
                cease_time_ns: s.last_ns,
                sources: vec![Endpoint {
                    ip: attacker,
                    ports: Vec::new(),
                    proto: protos.clone(),
                }],
                targets: s
                    .servers
                    .iter()
                    .map(|&ip| Endpoint {
                        ip,
                        ports: Vec::new(),
                        proto: protos.clone(),
                    })
                    .collect(),
                flows: s.flows,
                packets: s.packets,
                bytes: s.bytes,
            });
        }
    }

    fn ok(&mut self, f: &Flows<'_>, i: usize, user: &str, out: &mut Vec<Alert>) {
        let (server, client) = (f.src(i), f.dst(i));
        let Some(u) = self.users.get_mut(&server).and_then(|m| m.get_mut(user)) else {
            return;
        };
        if !u.alerted || u.breach_reported || !u.sources.contains_key(&client) {
            return;
        }
        u.breach_reported = true;
        let last = f.last[i].max(0) as u64;
        let protos = protos(f.proto[i]);
        out.push(Alert {
            detector: "sip_bf",
            category: vec!["Attempt.Login", "Intrusion.UserCompromise"],
            description: format!(
                "SIP brute force on user '{user}': possible breach, 200 OK to REGISTER after {} failed attempts",
                u.attempts
            ),
            detect_time_ns: last,
            event_time_ns: u.first_ns,
            cease_time_ns: last,
            sources: vec![Endpoint {
                ip: client,
                ports: Vec::new(),
                proto: protos.clone(),
            }],
            targets: vec![Endpoint {
                ip: server,
                ports: vec![f.src_port[i]],
                proto: protos,
            }],
            flows: u.attempts + 1,
            packets: u.packets + f.packets[i],
            bytes: u.bytes + f.bytes[i],
        });
    }
}

fn protos(p: u8) -> Vec<&'static str> {
    let n = proto_name(p);
    if n.is_empty() {
        vec!["sip"]
    } else {
        vec![n, "sip"]
    }
}

impl Detector for SipBruteForce {
    fn name(&self) -> &'static str {
        "sip_bf"
    }

    fn observe(&mut self, f: &Flows<'_>, out: &mut Vec<Alert>) {
        let Some(status) = f.number("sip_status") else {
            return;
        };
        let cseq = f.text("sip_cseq");
        let to = f.text("sip_to");
        let from = f.text("sip_from");
        for i in 0..f.len {
            if status.is_null(i) {
                continue;
            }
            let code = status.value(i);
            if !matches!(code, 401 | 407 | 200) {
                continue;
            }
            let method = match Flows::text_at(cseq, i).map(cseq_method) {
                None => Method::Register,
                Some(m) if m.eq_ignore_ascii_case("REGISTER") => Method::Register,
                Some(m) if m.eq_ignore_ascii_case("INVITE") => Method::Invite,
                Some(_) => continue,
            };
            let to_user = Flows::text_at(to, i).and_then(|s| uri_user(s, false));
            let from_user = Flows::text_at(from, i).and_then(|s| uri_user(s, false));
            let user = match method {
                Method::Register => to_user.or(from_user),
                Method::Invite => from_user.or(to_user),
            };
            let Some(user) = user else {
                continue;
            };
            if code == 200 {
                if method == Method::Register {
                    self.ok(f, i, user, out);
                }
            } else {
                self.failed(f, i, user, out);
            }
        }
    }

    fn tick(&mut self, now_ns: u64, _out: &mut Vec<Alert>) {
        if now_ns < self.next_check_ns {
            return;
        }
        self.next_check_ns = now_ns + self.config.check_ns;
        let end = self.config.attack_end_ns;
        for m in self.users.values_mut() {
            m.retain(|_, u| u.last_ns + end > now_ns);
        }
        self.users.retain(|_, m| !m.is_empty());
        self.attackers.retain(|_, s| s.last_ns + end > now_ns);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flows::ip_text;
    use crate::testing::{at_ms, flow, l7_batch, L7};

    const SERVER: [u8; 4] = [192, 0, 2, 10];

    /// A flow, its L7 text columns and its `sip_status`.
    type Row = (record::FlowRecord, Vec<(&'static str, String)>, u32);

    /// A SIP response from the server to `client`.
    fn resp(client: [u8; 4], status: u32, cseq: &str, user: &str, t_ms: u64) -> Row {
        let f = flow(SERVER, client, 5060, 5060, 17, 0, 1, t_ms);
        let uri = format!("<sip:{user}@example.com>;tag=x");
        (
            f,
            vec![
                ("sip_cseq", cseq.to_string()),
                ("sip_to", uri.clone()),
                ("sip_from", uri),
            ],
            status,
        )
    }

    fn run(d: &mut SipBruteForce, rows: &[Row]) -> Vec<Alert> {
        let flows: Vec<_> = rows.iter().map(|r| r.0.clone()).collect();
        let l7: Vec<Vec<(&str, L7<'_>)>> = rows
            .iter()
            .map(|r| {
                let mut v: Vec<(&str, L7<'_>)> =
                    r.1.iter()
                        .map(|(n, s)| (*n, L7::Text(s.as_str())))
                        .collect();
                v.push(("sip_status", L7::Num(r.2)));
                v.push(("sip_msg_type", L7::Num(99)));
                v
            })
            .collect();
        let b = l7_batch(&flows, &l7);
        let mut out = Vec::new();
        d.observe(&Flows::new(&b).unwrap(), &mut out);
        out
    }

    fn attempts(client: [u8; 4], user: &str, n: u64, t0: u64) -> Vec<Row> {
        (0..n)
            .map(|k| resp(client, 401, "1 REGISTER", user, t0 + k * 100))
            .collect()
    }

    #[test]
    fn uri_users() {
        assert_eq!(
            uri_user("\"Bob\" <sip:bob@example.com>;tag=1", false),
            Some("bob")
        );
        assert_eq!(uri_user("<SIPS:100@10.0.0.1:5061>", false), Some("100"));
        assert_eq!(uri_user("sip:alice:secret@h", false), Some("alice"));
        assert_eq!(uri_user("<sip:example.com>", false), None);
        assert_eq!(
            uri_user("tel:+420123456789;phone-context=x", true),
            Some("+420123456789")
        );
        assert_eq!(uri_user("tel:+420123456789", false), None);
        assert_eq!(cseq_method("2 INVITE"), "INVITE");
    }

    #[test]
    fn fifty_failures_alert_and_forty_nine_do_not() {
        let mut d = SipBruteForce::new(Config::default());
        assert!(run(&mut d, &attempts([10, 0, 0, 66], "100", 49, 0)).is_empty());
        let a = run(&mut d, &attempts([10, 0, 0, 66], "100", 1, 10_000));
        assert_eq!(a.len(), 1, "{a:?}");
        assert_eq!(a[0].category, vec!["Attempt.Login"]);
        assert_eq!(ip_text(a[0].sources[0].ip), "10.0.0.66");
        assert_eq!(ip_text(a[0].targets[0].ip), "192.0.2.10");
        assert_eq!(a[0].targets[0].ports, vec![5060]);
        assert_eq!(a[0].flows, 50);
        assert!(a[0].description.contains("'100'"), "{}", a[0].description);
        assert!(!a[0].description.contains("distributed"));
        // No second alert for the same attack.
        assert!(run(&mut d, &attempts([10, 0, 0, 66], "100", 20, 20_000)).is_empty());
    }

    #[test]
    fn other_responses_and_methods_do_not_count() {
        let mut d = SipBruteForce::new(Config::default());
        let mut rows = Vec::new();
        for k in 0..60 {
            rows.push(resp([10, 0, 0, 1], 403, "1 REGISTER", "100", k));
            rows.push(resp([10, 0, 0, 1], 401, "1 OPTIONS", "100", k));
            rows.push(resp([10, 0, 0, 1], 200, "1 REGISTER", "100", k));
        }
        assert!(run(&mut d, &rows).is_empty());
        assert_eq!(d.users_len(), 0);
        // 407 to INVITE counts, per From user.
        let rows: Vec<_> = (0..50)
            .map(|k| resp([10, 0, 0, 2], 407, "7 INVITE", "200", k))
            .collect();
        assert_eq!(run(&mut d, &rows).len(), 1);
    }

    #[test]
    fn distributed_attack_at_twenty_five_sources() {
        let mut d = SipBruteForce::new(Config::default());
        // 24 sources, 2 attempts each, +2: 50 attempts, 24 sources.
        let mut rows = Vec::new();
        for s in 0..24u8 {
            rows.extend(attempts([10, 1, 0, s], "100", 2, 0));
        }
        rows.extend(attempts([10, 1, 0, 0], "100", 2, 0));
        let a = run(&mut d, &rows);
        assert_eq!(a.len(), 1);
        assert!(!a[0].description.contains("distributed"));
        assert_eq!(a[0].sources.len(), 24);
        // The 25th source: one more alert, distributed.
        let a = run(&mut d, &attempts([10, 1, 0, 99], "100", 1, 5000));
        assert_eq!(a.len(), 1);
        assert!(
            a[0].description.contains("distributed"),
            "{}",
            a[0].description
        );
        assert_eq!(a[0].sources.len(), 25);
        assert!(run(&mut d, &attempts([10, 1, 0, 100], "100", 1, 6000)).is_empty());
    }

    #[test]
    fn user_scan_at_five_extensions() {
        let mut d = SipBruteForce::new(Config::default());
        let rows: Vec<_> = ["100", "101", "102", "103"]
            .iter()
            .map(|u| resp([10, 0, 0, 7], 401, "1 REGISTER", u, 0))
            .collect();
        assert!(run(&mut d, &rows).is_empty());
        // The same user again is not a new one.
        assert!(run(&mut d, &[resp([10, 0, 0, 7], 401, "1 REGISTER", "103", 1)]).is_empty());
        let a = run(&mut d, &[resp([10, 0, 0, 7], 401, "1 REGISTER", "104", 2)]);
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].category, vec!["Recon.Scanning"]);
        assert_eq!(ip_text(a[0].sources[0].ip), "10.0.0.7");
        assert_eq!(ip_text(a[0].targets[0].ip), "192.0.2.10");
        assert!(a[0].description.contains("5 users"), "{}", a[0].description);
        assert!(run(&mut d, &[resp([10, 0, 0, 7], 401, "1 REGISTER", "105", 3)]).is_empty());
    }

    #[test]
    fn ok_after_the_attack_is_a_possible_breach() {
        let mut d = SipBruteForce::new(Config::default());
        // An OK before the threshold: nothing.
        run(&mut d, &attempts([10, 0, 0, 66], "100", 10, 0));
        assert!(run(
            &mut d,
            &[resp([10, 0, 0, 66], 200, "2 REGISTER", "100", 2000)]
        )
        .is_empty());
        assert_eq!(
            run(&mut d, &attempts([10, 0, 0, 66], "100", 40, 3000)).len(),
            1
        );
        // An OK to another host (the real phone): nothing.
        assert!(run(
            &mut d,
            &[resp([10, 0, 0, 5], 200, "3 REGISTER", "100", 9000)]
        )
        .is_empty());
        let a = run(
            &mut d,
            &[resp([10, 0, 0, 66], 200, "4 REGISTER", "100", 9000)],
        );
        assert_eq!(a.len(), 1);
        assert!(a[0].category.contains(&"Intrusion.UserCompromise"));
        assert!(a[0].description.contains("possible breach"));
        assert_eq!(ip_text(a[0].sources[0].ip), "10.0.0.66");
        // Once per attack.
        assert!(run(
            &mut d,
            &[resp([10, 0, 0, 66], 200, "5 REGISTER", "100", 9500)]
        )
        .is_empty());
    }

    #[test]
    fn attacks_end_after_idle() {
        let mut d = SipBruteForce::new(Config::default());
        run(&mut d, &attempts([10, 0, 0, 66], "100", 49, 0));
        let mut out = Vec::new();
        d.tick(at_ms(1_000_000), &mut out);
        assert_eq!(d.users_len(), 1);
        d.tick(at_ms(1_900_000), &mut out);
        assert_eq!(d.users_len(), 0);
        assert!(d.attackers.is_empty());
        // Counting starts over.
        assert!(run(&mut d, &attempts([10, 0, 0, 66], "100", 49, 1_900_000)).is_empty());
        assert!(out.is_empty());
    }
}
