//! VoIP toll fraud by dial-plan guessing (NEMEA's voip_fraud_detection,
//! prefix examination): an attacker with access to a PBX tries the same
//! foreign number behind many dial prefixes (`0`, `00`, `9`, `900`, ...)
//! to find the one that routes an expensive call out.
//!
//! Per source (the caller, the INVITE's source address) the called numbers
//! are taken from the Request-URI of SIP INVITE requests (`sip_msg_type`
//! 1, or `sip_method` INVITE): `sip:+420123456789@host` or
//! `tel:+420123456789` gives `420123456789` (a leading `+` and the visual
//! separators `-`, `.`, `(`, `)` dropped; user parts with other characters
//! are not numbers). Numbers shorter than 9 digits (internal extensions)
//! are ignored. Each number's prefix of up to 10 digits (the first 10, or
//! the whole number when shorter) is a node of the source's prefix tree,
//! kept as a set of (digits, length) keys. Within a detection interval (10 s,
//! starting at the first INVITE after the previous one ended) the distinct
//! prefixes examined are counted; at 10 the source is reported, and the
//! source is not examined for 30 s after an alert. A source's data expire
//! 14 days after its last INVITE.
//!
//! Category Attempt.Login, as NEMEA's report2idea maps it (toll fraud is
//! unauthorized use of a telephony account; IDEA's `Fraud.UnauthorizedUsage`
//! would also fit). Source = the caller, Target = the SIP server(s) the
//! INVITEs went to.

use arrow_array::Array;

use crate::blacklist::proto_name;
use crate::sip_bf::uri_user;
use crate::{Alert, Detector, Endpoint, Flows, Map, Set, NS};

#[derive(Clone, Copy, Debug, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Longest prefix kept per number (10, at most 18).
    pub max_prefix_len: usize,
    /// Shortest called number taken (9 digits).
    pub min_number_len: usize,
    /// Distinct prefixes within one interval that make an alert (10).
    pub threshold: usize,
    /// The detection interval (10 s).
    #[serde(rename = "interval_secs", with = "crate::config::secs")]
    pub interval_ns: u64,
    /// No detection for a source this long after its alert (30 s).
    #[serde(rename = "pause_secs", with = "crate::config::secs")]
    pub pause_ns: u64,
    /// A source's data are dropped this long after its last INVITE (14 days).
    #[serde(rename = "expire_secs", with = "crate::config::secs")]
    pub expire_ns: u64,
    /// Most prefixes kept in a source's long-term tree (100,000).
    pub max_tree: usize,
    /// How often `tick` drops expired sources (60 s).
    #[serde(rename = "check_secs", with = "crate::config::secs")]
    pub check_ns: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_prefix_len: 10,
            min_number_len: 9,
            threshold: 10,
            interval_ns: 10 * NS,
            pause_ns: 30 * NS,
            expire_ns: 14 * 86_400 * NS,
            max_tree: 100_000,
            check_ns: 60 * NS,
        }
    }
}

#[derive(Default)]
struct Source {
    /// Every prefix called since the data were last dropped.
    tree: Set<u64>,
    /// Prefixes examined in the current interval, in order.
    window: Vec<u64>,
    window_start_ns: u64,
    window_first_ns: u64,
    pause_until_ns: u64,
    last_ns: u64,
    targets: Vec<[u8; 16]>,
    ports: Vec<u16>,
    proto: u8,
    flows: u64,
    packets: u64,
    bytes: u64,
    alerts: u64,
}

pub struct VoipFraud {
    config: Config,
    sources: Map<[u8; 16], Source>,
    next_check_ns: u64,
}

/// A prefix key: the digits' value times 32 plus the length (so leading
/// zeros count: `0042` ≠ `42`).
fn key(value: u64, len: usize) -> u64 {
    value * 32 + len as u64
}

fn key_text(k: u64) -> String {
    let len = (k % 32) as usize;
    format!("{:0len$}", k / 32)
}

/// The called number's prefix key and digit count, when the user part is
/// a number.
fn number_prefix(user: &str, max_prefix: usize) -> Option<(u64, usize)> {
    let user = user.strip_prefix('+').unwrap_or(user);
    let mut value = 0u64;
    let mut n = 0usize;
    for c in user.bytes() {
        match c {
            b'0'..=b'9' => {
                if n < max_prefix {
                    value = value * 10 + u64::from(c - b'0');
                }
                n += 1;
            }
            b'-' | b'.' | b'(' | b')' => {}
            _ => return None,
        }
    }
    (n > 0).then(|| (key(value, n.min(max_prefix)), n))
}

impl VoipFraud {
    pub fn new(mut config: Config) -> VoipFraud {
        config.max_prefix_len = config.max_prefix_len.clamp(1, 18);
        VoipFraud {
            config,
            sources: Map::default(),
            next_check_ns: 0,
        }
    }

    /// Sources with state.
    pub fn sources_len(&self) -> usize {
        self.sources.len()
    }

    fn invite(&mut self, f: &Flows<'_>, i: usize, prefix: u64, out: &mut Vec<Alert>) {
        let cfg = self.config;
        let src = f.src(i);
        let first = f.first[i].max(0) as u64;
        let t = f.last[i].max(0) as u64;
        let s = self.sources.entry(src).or_default();
        s.last_ns = s.last_ns.max(t);
        if s.tree.len() < cfg.max_tree {
            s.tree.insert(prefix);
        }
        if t < s.pause_until_ns {
            return;
        }
        if s.window.is_empty() || t >= s.window_start_ns + cfg.interval_ns {
            s.window.clear();
            s.window_start_ns = t;
            s.window_first_ns = first;
            s.targets.clear();
            s.ports.clear();
            s.flows = 0;
            s.packets = 0;
            s.bytes = 0;
        }
        s.flows += 1;
        s.packets += f.packets[i];
        s.bytes += f.bytes[i];
        s.proto = f.proto[i];
        let dst = f.dst(i);
        if s.targets.len() < 16 && !s.targets.contains(&dst) {
            s.targets.push(dst);
        }
        let port = f.dst_port[i];
        if s.ports.len() < 16 && !s.ports.contains(&port) {
            s.ports.push(port);
        }
        if !s.window.contains(&prefix) {
            s.window.push(prefix);
        }
        if s.window.len() < cfg.threshold {
            return;
        }
        s.alerts += 1;
        let p = proto_name(s.proto);
        let protos: Vec<&'static str> = if p.is_empty() {
            vec!["sip"]
        } else {
            vec![p, "sip"]
        };
        let mut ports = s.ports.clone();
        ports.sort_unstable();
        let sample: Vec<String> = s.window.iter().take(10).map(|&k| key_text(k)).collect();
        out.push(Alert {
            detector: "voip_fraud",
            category: vec!["Attempt.Login"],
            description: format!(
                "VoIP toll fraud (dial prefix guessing): {} number prefixes examined within {} s ({}{})",
                s.window.len(),
                cfg.interval_ns / NS,
                sample.join(", "),
                if s.window.len() > sample.len() { ", ..." } else { "" }
            ),
            detect_time_ns: t,
            event_time_ns: s.window_first_ns,
            cease_time_ns: t,
            sources: vec![Endpoint {
                ip: src,
                ports: Vec::new(),
                proto: protos.clone(),
            }],
            targets: s
                .targets
                .iter()
                .map(|&ip| Endpoint {
                    ip,
                    ports: ports.clone(),
                    proto: protos.clone(),
                })
                .collect(),
            flows: s.flows,
            packets: s.packets,
            bytes: s.bytes,
        });
        s.window.clear();
        s.pause_until_ns = t + cfg.pause_ns;
    }
}

impl Detector for VoipFraud {
    fn name(&self) -> &'static str {
        "voip_fraud"
    }

    fn observe(&mut self, f: &Flows<'_>, out: &mut Vec<Alert>) {
        let Some(ruri) = f.text("sip_request_uri") else {
            return;
        };
        let msg_type = f.number("sip_msg_type");
        let method = f.text("sip_method");
        for i in 0..f.len {
            if ruri.is_null(i) {
                continue;
            }
            let invite = match msg_type {
                Some(m) if m.is_valid(i) => m.value(i) == 1,
                _ => Flows::text_at(method, i).is_some_and(|m| m.eq_ignore_ascii_case("INVITE")),
            };
            if !invite {
                continue;
            }
            let Some(user) = uri_user(ruri.value(i), true) else {
                continue;
            };
            let Some((prefix, digits)) = number_prefix(user, self.config.max_prefix_len) else {
                continue;
            };
            if digits < self.config.min_number_len {
                continue;
            }
            self.invite(f, i, prefix, out);
        }
    }

    fn tick(&mut self, now_ns: u64, _out: &mut Vec<Alert>) {
        if now_ns < self.next_check_ns {
            return;
        }
        self.next_check_ns = now_ns + self.config.check_ns;
        let expire = self.config.expire_ns;
        self.sources.retain(|_, s| s.last_ns + expire > now_ns);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flows::ip_text;
    use crate::testing::{at_ms, flow, l7_batch, L7};

    const PBX: [u8; 4] = [192, 0, 2, 5];

    /// INVITEs from `src`: (Request-URI, time in ms).
    fn run(d: &mut VoipFraud, src: [u8; 4], calls: &[(String, u64)]) -> Vec<Alert> {
        let flows: Vec<_> = calls
            .iter()
            .map(|(_, t)| flow(src, PBX, 5060, 5060, 17, 0, 1, *t))
            .collect();
        let l7: Vec<Vec<(&str, L7<'_>)>> = calls
            .iter()
            .map(|(uri, _)| {
                vec![
                    ("sip_msg_type", L7::Num(1)),
                    ("sip_method", L7::Text("INVITE")),
                    ("sip_request_uri", L7::Text(uri.as_str())),
                ]
            })
            .collect();
        let b = l7_batch(&flows, &l7);
        let mut out = Vec::new();
        d.observe(&Flows::new(&b).unwrap(), &mut out);
        out
    }

    /// The same foreign number behind `n` different dial prefixes.
    fn guesses(n: usize, t0: u64, step_ms: u64) -> Vec<(String, u64)> {
        (0..n)
            .map(|k| {
                (
                    format!("sip:{k}{k}00420123456789@pbx.example.com;user=phone"),
                    t0 + k as u64 * step_ms,
                )
            })
            .collect()
    }

    #[test]
    fn numbers_and_prefixes() {
        assert_eq!(
            number_prefix("+420123456789", 10),
            Some((key(4_201_234_567, 10), 12))
        );
        assert_eq!(number_prefix("00420", 10), Some((key(420, 5), 5)));
        assert_eq!(key_text(key(420, 5)), "00420");
        assert_eq!(number_prefix("123-456-7890", 4), Some((key(1234, 4), 10)));
        assert_eq!(number_prefix("alice", 10), None);
        assert_eq!(number_prefix("*123456789", 10), None);
    }

    #[test]
    fn ten_prefixes_within_the_interval_alert_and_nine_do_not() {
        let mut d = VoipFraud::new(Config::default());
        assert!(run(&mut d, [10, 0, 0, 9], &guesses(9, 0, 500)).is_empty());
        let mut d = VoipFraud::new(Config::default());
        let a = run(&mut d, [10, 0, 0, 9], &guesses(10, 0, 500));
        assert_eq!(a.len(), 1, "{a:?}");
        assert_eq!(a[0].category, vec!["Attempt.Login"]);
        assert_eq!(ip_text(a[0].sources[0].ip), "10.0.0.9");
        assert_eq!(ip_text(a[0].targets[0].ip), "192.0.2.5");
        assert_eq!(a[0].targets[0].ports, vec![5060]);
        assert_eq!(a[0].flows, 10);
        assert!(
            a[0].description.contains("0000420123"),
            "{}",
            a[0].description
        );
    }

    #[test]
    fn the_interval_bounds_the_count() {
        // 10 prefixes spread over 12 s: two intervals of fewer than 10.
        let mut d = VoipFraud::new(Config::default());
        assert!(run(&mut d, [10, 0, 0, 9], &guesses(10, 0, 1200)).is_empty());
    }

    #[test]
    fn repeats_short_numbers_and_other_methods_do_not_count() {
        let mut d = VoipFraud::new(Config::default());
        // The same number 20 times; 8-digit numbers; prefixes beyond 10 digits.
        let mut calls: Vec<(String, u64)> = (0..20)
            .map(|k| ("sip:+420123456789@h".to_string(), k * 100))
            .collect();
        calls.extend((0..20).map(|k| (format!("sip:{:08}@h", 10_000_000 + k), k * 100)));
        calls.extend((0..20).map(|k| (format!("tel:+42012345678{k:02}"), k * 100)));
        assert!(run(&mut d, [10, 0, 0, 9], &calls).is_empty());
        // Not INVITEs.
        let mut d = VoipFraud::new(Config::default());
        let flows: Vec<_> = (0..20)
            .map(|k| flow([10, 0, 0, 8], PBX, 5060, 5060, 17, 0, 1, k))
            .collect();
        let uris: Vec<String> = guesses(20, 0, 1).into_iter().map(|g| g.0).collect();
        let l7: Vec<Vec<(&str, L7<'_>)>> = uris
            .iter()
            .map(|u| {
                vec![
                    ("sip_msg_type", L7::Num(6)),
                    ("sip_method", L7::Text("OPTIONS")),
                    ("sip_request_uri", L7::Text(u.as_str())),
                ]
            })
            .collect();
        let b = l7_batch(&flows, &l7);
        let mut out = Vec::new();
        d.observe(&Flows::new(&b).unwrap(), &mut out);
        assert!(out.is_empty());
        assert_eq!(d.sources_len(), 0);
    }

    #[test]
    fn pause_after_an_alert_then_detects_again() {
        let mut d = VoipFraud::new(Config::default());
        let src = [10, 0, 0, 9];
        assert_eq!(run(&mut d, src, &guesses(10, 0, 100)).len(), 1);
        // Within the 30 s pause: nothing.
        assert!(run(&mut d, src, &guesses(20, 5_000, 100)).is_empty());
        // After it: again.
        assert_eq!(run(&mut d, src, &guesses(10, 40_000, 100)).len(), 1);
        // Another source is independent.
        assert_eq!(
            run(&mut d, [10, 0, 0, 10], &guesses(10, 5_000, 100)).len(),
            1
        );
    }

    #[test]
    fn data_expire_after_fourteen_days() {
        let mut d = VoipFraud::new(Config::default());
        run(&mut d, [10, 0, 0, 9], &guesses(3, 0, 100));
        let mut out = Vec::new();
        d.tick(at_ms(13 * 86_400_000), &mut out);
        assert_eq!(d.sources_len(), 1);
        d.tick(at_ms(14 * 86_400_000 + 1000), &mut out);
        assert_eq!(d.sources_len(), 0);
        assert!(out.is_empty());
    }
}
