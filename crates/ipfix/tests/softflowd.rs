//! Cross-check against softflowd: it meters shared captures and exports
//! NetFlow v5, v9 and IPFIX to a socket of ours on 127.0.0.1; we decode every
//! datagram and compare with the flows softflowd itself reports expiring
//! (its `-D` debug dump, one `EXPIRED:` line per bidirectional flow, one
//! exported record per direction that saw packets).
//!
//! Skipped, with a note, when softflowd is not installed, unless `CI` is
//! set: then it fails.

mod common;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ipfix::Decoder;

/// (src, dst, sport, dport, proto, packets, bytes).
type Key = (Ipv6Addr, Ipv6Addr, u16, u16, u8, u64, u64);

/// One record softflowd reports: its key, first and last packet (ms).
#[derive(Debug)]
struct Reported {
    key: Key,
    first_ms: u64,
    last_ms: u64,
}

fn have_softflowd() -> bool {
    let found = Command::new("softflowd").arg("-h").output().is_ok();
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "softflowd is not installed (CI is set, so this is a failure)"
        );
        eprintln!("note: softflowd not installed; skipping the softflowd cross-check");
    }
    found
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("eddy-softflowd-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn mapped(ip: IpAddr) -> Ipv6Addr {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

/// `[ADDR]:PORT`.
fn endpoint(s: &str) -> (IpAddr, u16) {
    let (addr, port) = s
        .rsplit_once("]:")
        .unwrap_or_else(|| panic!("endpoint {s}"));
    (
        addr.trim_start_matches('[').parse().unwrap(),
        port.parse().unwrap(),
    )
}

/// Days since the epoch of a proleptic Gregorian date (Hinnant's
/// days_from_civil).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `2023-04-21T07:06:48.588` (UTC: softflowd runs with TZ=UTC) to ms.
fn parse_time(s: &str) -> u64 {
    let num = |r: std::ops::Range<usize>| -> i64 { s[r].parse().unwrap() };
    let days = days_from_civil(num(0..4), num(5..7), num(8..10));
    let secs = days * 86_400 + num(11..13) * 3600 + num(14..16) * 60 + num(17..19);
    secs as u64 * 1000 + num(20..23) as u64
}

/// The records softflowd's `EXPIRED:` lines say it exported.
fn parse_dump(stdout: &str, v4_only: bool) -> Vec<Reported> {
    let mut out = Vec::new();
    for line in stdout.lines() {
        let Some(rest) = line.strip_prefix("EXPIRED: ") else {
            continue;
        };
        let words: Vec<&str> = rest.split_whitespace().collect();
        let (a, ap) = endpoint(words[1]);
        assert_eq!(words[2], "<>", "{line}");
        let (b, bp) = endpoint(words[3]);
        let field = |name: &str| -> &str {
            words
                .iter()
                .find_map(|w| w.strip_prefix(name))
                .unwrap_or_else(|| panic!("no {name} in {line}"))
        };
        let proto: u8 = field("proto:").parse().unwrap();
        let num = |name: &str| -> u64 { field(name).parse().unwrap() };
        let first_ms = parse_time(field("start:"));
        let last_ms = parse_time(field("finish:"));
        if v4_only && !(a.is_ipv4() && b.is_ipv4()) {
            continue;
        }
        let (a, b) = (mapped(a), mapped(b));
        for (src, dst, sp, dp, pkts, bytes) in [
            (a, b, ap, bp, num("packets>:"), num("octets>:")),
            (b, a, bp, ap, num("packets<:"), num("octets<:")),
        ] {
            if pkts > 0 {
                out.push(Reported {
                    key: (src, dst, sp, dp, proto, pkts, bytes),
                    first_ms,
                    last_ms,
                });
            }
        }
    }
    out
}

/// How softflowd sends IPFIX times.
#[derive(Clone, Copy, PartialEq)]
enum IpfixTimes {
    /// `-A milli`: absolute flowStart/EndMilliseconds.
    Milli,
    /// The default: flowStart/EndSysUpTime, relative to the
    /// systemInitTimeMilliseconds of an options record.
    Uptime,
}

/// Runs softflowd over `pcap` exporting `version` to a socket of ours;
/// returns the datagrams and softflowd's debug output.
fn run_softflowd(
    pcap: &Path,
    version: u8,
    times: IpfixTimes,
    work: &Path,
) -> (Vec<Vec<u8>>, String) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    let port = socket.local_addr().unwrap().port();
    let done = Arc::new(AtomicBool::new(false));
    let receiver = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut got = Vec::new();
            let mut buf = vec![0u8; 65_536];
            loop {
                match socket.recv(&mut buf) {
                    Ok(n) => got.push(buf[..n].to_vec()),
                    // Quiet for a second after softflowd has exited: all in.
                    Err(_) if done.load(Ordering::SeqCst) => break,
                    Err(_) => {}
                }
            }
            got
        })
    };
    let output = Command::new("softflowd")
        .env("TZ", "UTC")
        .arg("-r")
        .arg(pcap)
        .args(["-n", &format!("127.0.0.1:{port}")])
        .args(["-v", &version.to_string()])
        // -D: foreground, the EXPIRED dump, IPv6 flows tracked too.
        .arg("-D")
        // -a: the export header's clock follows the capture's, so the
        // sysUptime-relative NetFlow times land on the packets' times.
        .arg("-a")
        // IPFIX: absolute flowStart/EndMilliseconds, or by default
        // uptime-relative times and systemInitTimeMilliseconds in an
        // options record (the decoder keeps it per domain).
        .args(if version == 10 && times == IpfixTimes::Milli {
            &["-A", "milli"][..]
        } else {
            &[]
        })
        .arg("-p")
        .arg(work.join("softflowd.pid"))
        // No control socket: with a long socket path softflowd 1.1.0 never
        // exits at the end of the file.
        .args(["-c", "none"])
        .output()
        .expect("run softflowd");
    done.store(true, Ordering::SeqCst);
    let datagrams = receiver.join().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "softflowd failed:\n{stdout}");
    (datagrams, stdout)
}

fn check(pcap: &str) {
    check_modes(
        pcap,
        &[
            (5, IpfixTimes::Milli),
            (9, IpfixTimes::Milli),
            (10, IpfixTimes::Milli),
        ],
    );
}

fn check_modes(pcap: &str, modes: &[(u8, IpfixTimes)]) {
    if !have_softflowd() {
        return;
    }
    let pcap = common::testdata().join(pcap);
    let stem = pcap.file_stem().unwrap().to_str().unwrap();
    let work = scratch_dir(&format!("{stem}-{}", modes.len()));
    for &(version, times) in modes {
        let (datagrams, dump) = run_softflowd(&pcap, version, times, &work);
        // NetFlow v5 carries IPv4 only: softflowd leaves the v6 flows out.
        let want = parse_dump(&dump, version == 5);
        assert!(
            !want.is_empty(),
            "v{version}: no flows in the dump:\n{dump}"
        );
        let mut decoder = Decoder::new();
        let mut got = Vec::new();
        for d in &datagrams {
            let (flows, errors) = decoder.decode_flows(1, d);
            assert!(errors.is_empty(), "v{version}: {errors:?}");
            assert_eq!(
                u16::from_be_bytes([d[0], d[1]]),
                u16::from(version),
                "version"
            );
            got.extend(flows);
        }
        // softflowd's own count: "Flows exported: F (R records) in P packets (0 failures)".
        let summary = dump
            .lines()
            .find_map(|l| l.strip_prefix("Flows exported: "))
            .unwrap_or_else(|| panic!("no summary in:\n{dump}"));
        let words: Vec<&str> = summary.split_whitespace().collect();
        let records: usize = words[1].trim_start_matches('(').parse().unwrap();
        let packets: usize = words[4].parse().unwrap();
        assert_eq!(words[6], "(0", "v{version}: send failures: {summary}");
        assert_eq!(
            (got.len(), datagrams.len()),
            (records, packets),
            "v{version}: records and datagrams vs softflowd's {summary}"
        );
        let key = |f: &record::FlowRecord| -> Key {
            (
                f.src_ip, f.dst_ip, f.src_port, f.dst_port, f.proto, f.packets, f.bytes,
            )
        };
        let mut got_keys: Vec<Key> = got.iter().map(key).collect();
        let mut want_keys: Vec<Key> = want.iter().map(|r| r.key).collect();
        got_keys.sort();
        want_keys.sort();
        assert_eq!(
            got_keys,
            want_keys,
            "{}: v{version}: decoded flows differ from softflowd's",
            pcap.display()
        );
        // Times: NetFlow's are sysUptime-relative in ms (placed against the
        // header's export time, whole seconds); IPFIX's are absolute, or
        // relative to the exporter's systemInitTimeMilliseconds.
        let tolerance_ms: u64 = if version == 10 { 1 } else { 1000 };
        let mut by_key: HashMap<Key, Vec<&Reported>> = HashMap::new();
        for r in &want {
            by_key.entry(r.key).or_default().push(r);
        }
        for f in &got {
            let (first, last) = (f.first_ns / 1_000_000, f.last_ns / 1_000_000);
            let candidates = &by_key[&key(f)];
            assert!(
                candidates
                    .iter()
                    .any(|r| r.first_ms.abs_diff(first) <= tolerance_ms
                        && r.last_ms.abs_diff(last) <= tolerance_ms),
                "{}: v{version}: {:?}: times {first}..{last} ms, softflowd says {:?}",
                pcap.display(),
                key(f),
                candidates
                    .iter()
                    .map(|r| (r.first_ms, r.last_ms))
                    .collect::<Vec<_>>()
            );
        }
        eprintln!(
            "{}: v{version}: {} datagrams, {} flows agree",
            pcap.display(),
            datagrams.len(),
            got.len()
        );
    }
    let _ = std::fs::remove_dir_all(&work);
}

#[test]
fn tls12_capture_matches_softflowd() {
    check("pcap/tls/flowtest_tls12.pcap");
}

#[test]
fn mixed_capture_matches_softflowd() {
    check("pcap/basic/ipfixprobe_mixed.pcap");
}

/// softflowd's default IPFIX times: flowStart/EndSysUpTime (22/21) placed
/// against the systemInitTimeMilliseconds (160) of its options record.
#[test]
fn ipfix_uptime_times_use_the_system_init_time() {
    check_modes("pcap/tls/flowtest_tls12.pcap", &[(10, IpfixTimes::Uptime)]);
    check_modes(
        "pcap/basic/ipfixprobe_mixed.pcap",
        &[(10, IpfixTimes::Uptime)],
    );
}
