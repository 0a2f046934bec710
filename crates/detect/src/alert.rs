//! Alerts, and their IDEA0 form (the format Warden and Mentat exchange):
//! `Format`, `ID` (a random UUID), `CreateTime`, `DetectTime`, `EventTime`,
//! `CeaseTime`, `Category`, `Description`, `Source`/`Target` (`IP4`/`IP6`,
//! `Port`, `Proto`), `FlowCount`/`PacketCount`/`ByteCount` and `Node`.

use std::fmt::Write as _;
use std::net::Ipv6Addr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// One side of an alert: an address, the ports and protocols involved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// 16 bytes, IPv4 mapped.
    pub ip: [u8; 16],
    pub ports: Vec<u16>,
    /// Lowercase protocol names (`tcp`, `udp`, `ssh`, `sip`, ...).
    pub proto: Vec<&'static str>,
}

impl Endpoint {
    pub fn ip(ip: [u8; 16]) -> Endpoint {
        Endpoint {
            ip,
            ports: Vec::new(),
            proto: Vec::new(),
        }
    }
}

/// What a detector found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alert {
    /// The detector's name.
    pub detector: &'static str,
    /// IDEA categories (`Recon.Scanning`, `Attempt.Login`, ...).
    pub category: Vec<&'static str>,
    pub description: String,
    /// Record time when the detector decided, ns since the epoch.
    pub detect_time_ns: u64,
    /// First and last flow of the event.
    pub event_time_ns: u64,
    pub cease_time_ns: u64,
    pub sources: Vec<Endpoint>,
    pub targets: Vec<Endpoint>,
    pub flows: u64,
    pub packets: u64,
    pub bytes: u64,
}

impl Alert {
    /// The alert as one line of IDEA0 JSON. `create_time_ns` is the wall
    /// clock when the alert is written.
    pub fn to_idea(&self, create_time_ns: u64) -> String {
        let mut s = String::with_capacity(512);
        s.push_str("{\"Format\":\"IDEA0\",\"ID\":\"");
        s.push_str(&uuid_v4());
        s.push_str("\",\"CreateTime\":\"");
        push_time(&mut s, create_time_ns);
        s.push_str("\",\"DetectTime\":\"");
        push_time(&mut s, self.detect_time_ns);
        s.push_str("\",\"EventTime\":\"");
        push_time(&mut s, self.event_time_ns);
        s.push_str("\",\"CeaseTime\":\"");
        push_time(&mut s, self.cease_time_ns);
        s.push_str("\",\"Category\":[");
        for (i, c) in self.category.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            push_json_str(&mut s, c);
        }
        s.push_str("],\"Description\":");
        push_json_str(&mut s, &self.description);
        for (key, list) in [("Source", &self.sources), ("Target", &self.targets)] {
            if list.is_empty() {
                continue;
            }
            let _ = write!(s, ",\"{key}\":[");
            for (i, e) in list.iter().enumerate() {
                if i > 0 {
                    s.push(',');
                }
                push_endpoint(&mut s, e);
            }
            s.push(']');
        }
        for (key, n) in [
            ("FlowCount", self.flows),
            ("PacketCount", self.packets),
            ("ByteCount", self.bytes),
        ] {
            if n > 0 {
                let _ = write!(s, ",\"{key}\":{n}");
            }
        }
        let _ = write!(
            s,
            ",\"Node\":[{{\"Name\":\"org.eddy.{}\",\"SW\":[\"eddy\"],\"Type\":[\"Flow\",\"Statistical\"]}}]}}",
            self.detector
        );
        s
    }
}

/// The IDEA classification's categories (idea.cesnet.cz, after the
/// eCSIRT.net taxonomy), plus NEMEA's `Suspicious.Miner`. Categories that
/// users write (blacklist lists, l7filter rules) must be one of these, so
/// a receiving Warden or Mentat does not refuse the alert.
pub const IDEA_CATEGORIES: &[&str] = &[
    "Abusive.Spam",
    "Abusive.Harassment",
    "Abusive.Child",
    "Abusive.Sexual",
    "Abusive.Violence",
    "Malware.Virus",
    "Malware.Worm",
    "Malware.Trojan",
    "Malware.Spyware",
    "Malware.Dialer",
    "Malware.Rootkit",
    "Recon.Scanning",
    "Recon.Sniffing",
    "Recon.SocialEngineering",
    "Recon.Searching",
    "Attempt.Exploit",
    "Attempt.Login",
    "Attempt.NewSignature",
    "Intrusion.AdminCompromise",
    "Intrusion.UserCompromise",
    "Intrusion.AppCompromise",
    "Intrusion.Botnet",
    "Availability.DoS",
    "Availability.DDoS",
    "Availability.Sabotage",
    "Availability.Outage",
    "Information.UnauthorizedAccess",
    "Information.UnauthorizedModification",
    "Fraud.UnauthorizedUsage",
    "Fraud.Copyright",
    "Fraud.Masquerade",
    "Fraud.Phishing",
    "Fraud.Scam",
    "Vulnerable.Open",
    "Vulnerable.Config",
    "Anomaly.Traffic",
    "Anomaly.Connection",
    "Anomaly.Protocol",
    "Anomaly.System",
    "Anomaly.Application",
    "Anomaly.Behaviour",
    "Suspicious.Miner",
    "Other",
    "Test",
];

/// `category` as the IDEA classification spells it, or an error listing
/// the nearest ones (same top-level class).
pub fn idea_category(category: &str) -> Result<&'static str, String> {
    if let Some(c) = IDEA_CATEGORIES.iter().find(|c| **c == category) {
        return Ok(c);
    }
    let class = category.split('.').next().unwrap_or("");
    let near: Vec<&str> = IDEA_CATEGORIES
        .iter()
        .copied()
        .filter(|c| c.split('.').next() == Some(class))
        .collect();
    Err(if near.is_empty() {
        format!(
            "'{category}' is not an IDEA category (classes: Abusive, Malware, Recon, Attempt, Intrusion, Availability, Information, Fraud, Vulnerable, Anomaly, Other, Test)"
        )
    } else {
        format!(
            "'{category}' is not an IDEA category: expected one of {}",
            near.join(", ")
        )
    })
}

fn push_endpoint(s: &mut String, e: &Endpoint) {
    let v6 = Ipv6Addr::from(e.ip);
    match v6.to_ipv4_mapped() {
        Some(v4) => {
            let _ = write!(s, "{{\"IP4\":[\"{v4}\"]");
        }
        None => {
            let _ = write!(s, "{{\"IP6\":[\"{v6}\"]");
        }
    }
    if !e.ports.is_empty() {
        s.push_str(",\"Port\":[");
        for (i, p) in e.ports.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            let _ = write!(s, "{p}");
        }
        s.push(']');
    }
    if !e.proto.is_empty() {
        s.push_str(",\"Proto\":[");
        for (i, p) in e.proto.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            push_json_str(s, p);
        }
        s.push(']');
    }
    s.push('}');
}

/// RFC 3339 UTC with milliseconds.
fn push_time(s: &mut String, ns: u64) {
    let secs = ns / 1_000_000_000;
    let (y, m, d) = record::civil_from_days((secs / 86400) as i64);
    let rest = secs % 86400;
    let _ = write!(
        s,
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60,
        ns / 1_000_000 % 1000
    );
}

fn push_json_str(s: &mut String, v: &str) {
    s.push('"');
    for c in v.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                let _ = write!(s, "\\u{:04x}", c as u32);
            }
            c => s.push(c),
        }
    }
    s.push('"');
}

/// A random (version 4) UUID. Seeded once from the OS, then splitmix64:
/// alert IDs must be unique, not secret.
pub fn uuid_v4() -> String {
    static SEED: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let seed = *SEED.get_or_init(|| {
        let mut b = [0u8; 8];
        let got = std::fs::File::open("/dev/urandom")
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut b));
        if got.is_err() {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            b = (t ^ u64::from(std::process::id()) << 32).to_le_bytes();
        }
        u64::from_le_bytes(b)
    });
    let n = COUNTER.fetch_add(2, Ordering::Relaxed);
    let hi = splitmix(seed.wrapping_add(n));
    let lo = splitmix(seed.wrapping_add(n + 1));
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&hi.to_be_bytes());
    b[8..].copy_from_slice(&lo.to_be_bytes());
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(a: [u8; 4]) -> [u8; 16] {
        let mut ip = [0u8; 16];
        ip[10] = 0xff;
        ip[11] = 0xff;
        ip[12..].copy_from_slice(&a);
        ip
    }

    #[test]
    fn idea_has_the_mandatory_fields() {
        let a = Alert {
            detector: "vportscan",
            category: vec!["Recon.Scanning"],
            description: "Vertical scan of 50 ports".into(),
            detect_time_ns: 1_700_000_000_123_000_000,
            event_time_ns: 1_700_000_000_000_000_000,
            cease_time_ns: 1_700_000_000_123_000_000,
            sources: vec![Endpoint {
                ip: v4([10, 0, 0, 1]),
                ports: vec![],
                proto: vec!["tcp"],
            }],
            targets: vec![Endpoint {
                ip: v4([10, 0, 0, 2]),
                ports: vec![22, 80],
                proto: vec![],
            }],
            flows: 50,
            packets: 50,
            bytes: 2000,
        };
        let j = a.to_idea(1_700_000_001_000_000_000);
        assert!(j.starts_with("{\"Format\":\"IDEA0\",\"ID\":\""), "{j}");
        assert!(
            j.contains("\"DetectTime\":\"2023-11-14T22:13:20.123Z\""),
            "{j}"
        );
        assert!(j.contains("\"Category\":[\"Recon.Scanning\"]"), "{j}");
        assert!(
            j.contains("\"Source\":[{\"IP4\":[\"10.0.0.1\"],\"Proto\":[\"tcp\"]}]"),
            "{j}"
        );
        assert!(
            j.contains("\"Target\":[{\"IP4\":[\"10.0.0.2\"],\"Port\":[22,80]}]"),
            "{j}"
        );
        assert!(j.contains("\"FlowCount\":50"), "{j}");
        assert!(j.ends_with("}]}"), "{j}");
    }

    #[test]
    fn categories_are_checked_against_the_classification() {
        assert_eq!(idea_category("Attempt.Login"), Ok("Attempt.Login"));
        let e = idea_category("Malware").unwrap_err();
        assert!(e.contains("Malware.Trojan"), "{e}");
        let e = idea_category("Bogus.Thing").unwrap_err();
        assert!(e.contains("classes"), "{e}");
    }

    #[test]
    fn uuids_are_version_4_and_distinct() {
        let a = uuid_v4();
        let b = uuid_v4();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"), "{a}");
    }
}
