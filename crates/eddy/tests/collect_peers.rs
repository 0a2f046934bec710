//! Real exporters into `eddy collect`: softflowd (NetFlow v5, v9, IPFIX)
//! and nfreplay (NetFlow v9 from nfpcapd's files) send to the collector over
//! UDP; every record they send is stored, with the values they sent.
//! The decoder itself is checked against softflowd's own flow dump in
//! `crates/ipfix/tests/softflowd.rs`; here the reference is the same export
//! decoded datagram by datagram, and nfdump's reading of nfpcapd's file.

mod common;

use std::collections::BTreeMap;
use std::io::Read;
use std::net::UdpSocket;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{eddy, have_tool, shared_testdata, TempDir};
use record::FlowRecord;

/// (src, dst, sport, dport, proto, packets, bytes) as text.
type Key = String;

fn key(f: &FlowRecord) -> Key {
    format!(
        "{} {} {} {} {} {} {}",
        f.src_addr(),
        f.dst_addr(),
        f.src_port,
        f.dst_port,
        f.proto,
        f.packets,
        f.bytes
    )
}

fn multiset(keys: impl IntoIterator<Item = Key>) -> BTreeMap<Key, usize> {
    let mut m = BTreeMap::new();
    for k in keys {
        *m.entry(k).or_insert(0) += 1;
    }
    m
}

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Collector(Child);

impl Collector {
    fn start(port: u16, store: &Path) -> Collector {
        let child = eddy()
            .args(["collect", "-l", &format!("udp://127.0.0.1:{port}"), "-w"])
            .arg(store)
            .stderr(Stdio::piped())
            .spawn()
            .expect("start eddy collect");
        std::thread::sleep(Duration::from_millis(400));
        Collector(child)
    }

    fn stop(mut self) -> String {
        std::thread::sleep(Duration::from_millis(400));
        let pid = self.0.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.0.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "collector ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut log = String::new();
        self.0
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut log)
            .unwrap();
        log
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn stored(root: &Path) -> Vec<FlowRecord> {
    store::list_files(root, None, None, 300)
        .unwrap()
        .iter()
        .flat_map(|f| store::read_file(&f.path).unwrap())
        .collect()
}

/// softflowd's export of `pcap` in `version`, as datagrams sent to us.
fn softflowd_datagrams(pcap: &Path, version: u8) -> Vec<Vec<u8>> {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
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
                    Err(_) if done.load(Ordering::SeqCst) => break,
                    Err(_) => {}
                }
            }
            got
        })
    };
    run_softflowd(pcap, version, port);
    std::thread::sleep(Duration::from_millis(300));
    done.store(true, Ordering::SeqCst);
    receiver.join().unwrap()
}

fn run_softflowd(pcap: &Path, version: u8, port: u16) {
    let mut cmd = Command::new("softflowd");
    cmd.env("TZ", "UTC")
        .arg("-r")
        .arg(pcap)
        .args(["-n", &format!("127.0.0.1:{port}")])
        .args(["-v", &version.to_string()]);
    if version == 10 {
        cmd.args(["-A", "milli"]);
    }
    let out = cmd.arg("-D").output().expect("run softflowd");
    assert!(out.status.success(), "softflowd failed");
}

#[test]
fn softflowd_exports_are_stored_completely() {
    if !have_tool("softflowd") {
        return;
    }
    let pcap = shared_testdata().join("pcap/tls/flowtest_tls12.pcap");
    for version in [5u8, 9, 10] {
        let reference: Vec<FlowRecord> = {
            let mut decoder = ipfix::Decoder::new();
            softflowd_datagrams(&pcap, version)
                .iter()
                .flat_map(|d| decoder.decode_flows(1, d).0)
                .collect()
        };
        assert!(!reference.is_empty(), "v{version}: softflowd sent nothing");
        let dir = TempDir::new("collect-softflowd");
        let port = free_udp_port();
        let collector = Collector::start(port, &dir.0);
        run_softflowd(&pcap, version, port);
        let log = collector.stop();
        let got = stored(&dir.0);
        // v5/v9 times are relative to the export's wall-clock header, which
        // differs between the two softflowd runs; IPFIX (-A milli) carries
        // absolute times.
        let timed = |f: &FlowRecord| match version {
            10 => format!("{} {} {}", key(f), f.first_ns, f.last_ns),
            _ => key(f),
        };
        assert_eq!(
            multiset(got.iter().map(timed)),
            multiset(reference.iter().map(timed)),
            "v{version}: stored flows differ from softflowd's export\n{log}"
        );
        assert!(log.contains("0 decode errors"), "v{version}: {log}");
    }
}

#[test]
fn nfreplay_v9_is_stored_as_nfdump_reads_the_file() {
    if !have_tool("nfpcapd") || !have_tool("nfreplay") {
        return;
    }
    let pcap = shared_testdata().join("pcap/tls/flowtest_tls12.pcap");
    let dir = TempDir::new("collect-nfreplay");
    let nfcapd_dir = dir.0.join("nfcapd");
    std::fs::create_dir_all(&nfcapd_dir).unwrap();
    let status = Command::new("nfpcapd")
        .arg("-r")
        .arg(&pcap)
        .arg("-w")
        .arg(&nfcapd_dir)
        .output()
        .unwrap();
    assert!(status.status.success());
    let file = std::fs::read_dir(&nfcapd_dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("nfcapd.")
        })
        .expect("nfpcapd wrote a file");
    let out = Command::new("nfdump")
        .arg("-r")
        .arg(&file)
        .args(["-q", "-N", "-o", "fmt:%sa|%da|%sp|%dp|%pr|%pkt|%byt"])
        .output()
        .unwrap();
    let want: Vec<Key> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains('|'))
        .map(|l| {
            let f: Vec<&str> = l.split('|').map(str::trim).collect();
            let proto = match f[4] {
                "TCP" => "6",
                "UDP" => "17",
                "ICMP" => "1",
                other => other,
            };
            format!(
                "{} {} {} {} {} {} {}",
                f[0], f[1], f[2], f[3], proto, f[5], f[6]
            )
        })
        .collect();
    assert!(!want.is_empty());

    let store_dir = dir.0.join("store");
    let port = free_udp_port();
    let collector = Collector::start(port, &store_dir);
    let status = Command::new("nfreplay")
        .arg("-r")
        .arg(&file)
        .args(["-H", "127.0.0.1", "-p", &port.to_string(), "-v", "9"])
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let log = collector.stop();
    let got = stored(&store_dir);
    assert_eq!(
        multiset(got.iter().map(key)),
        multiset(want),
        "nfreplay v9: stored flows differ from nfdump's\n{log}"
    );
}
