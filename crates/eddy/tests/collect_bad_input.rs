//! Bad input into `eddy collect`: random datagrams, a malicious TCP
//! exporter (garbage, a non-IPFIX stream, a template flood) and a truncated
//! IPFIX file cost bounded memory and counted drops, never a crash; good
//! records sent after them are still stored.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{eddy, test_data, TempDir};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn meter_export(dir: &Path) -> std::path::PathBuf {
    let ipfix = dir.join("good.ipfix");
    let out = eddy()
        .args(["meter", "-q", "-o", "csv", "-r"])
        .arg(test_data().join("sample.pcap"))
        .arg("--ipfix")
        .arg(format!("file:{}", ipfix.display()))
        .output()
        .unwrap();
    assert!(out.status.success());
    ipfix
}

fn key(f: &record::FlowRecord) -> String {
    format!(
        "{} {} {} {} {} {} {}",
        f.src_addr(),
        f.dst_addr(),
        f.src_port,
        f.dst_port,
        f.proto,
        f.packets,
        f.first_ns / 1_000_000
    )
}

fn stored_records(root: &Path) -> Vec<record::FlowRecord> {
    store::list_files(root, None, None, 300)
        .unwrap()
        .iter()
        .flat_map(|f| store::read_file(&f.path).unwrap())
        .collect()
}

fn good_keys(ipfix: &Path) -> Vec<String> {
    let bytes = std::fs::read(ipfix).unwrap();
    let mut d = ipfix::Decoder::new();
    ipfix::file_messages(&bytes)
        .flat_map(|m| d.decode_flows(1, m.unwrap()).0)
        .map(|f| key(&f))
        .collect()
}

fn stored_count(root: &Path) -> usize {
    store::list_files(root, None, None, 300)
        .unwrap()
        .iter()
        .map(|f| store::read_file(&f.path).unwrap().len())
        .sum()
}

fn rss_kib(child: &Child) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Reads the collector's stderr as it comes (a full pipe would block it).
fn drain_stderr(child: &mut Child) -> std::thread::JoinHandle<String> {
    let mut stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        let mut log = String::new();
        let _ = stderr.read_to_string(&mut log);
        log
    })
}

fn stop(mut child: Child, log: std::thread::JoinHandle<String>) -> String {
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let log = log.join().unwrap();
            assert!(status.success(), "collector failed:\n{log}");
            return log;
        }
        assert!(Instant::now() < deadline, "collector ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn garbage_over_udp_and_tcp_costs_drops_not_the_collector() {
    let dir = TempDir::new("collect-bad");
    let good = meter_export(&dir.0);
    let udp_port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let tcp_port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let store_dir = dir.0.join("store");
    let mut child = eddy()
        .args(["collect", "-l", &format!("udp://127.0.0.1:{udp_port}")])
        .args(["-l", &format!("tcp://127.0.0.1:{tcp_port}"), "-w"])
        .arg(&store_dir)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let log = drain_stderr(&mut child);
    std::thread::sleep(Duration::from_millis(400));
    let mut rng = Rng(0x1234_5678_9abc_def1);

    // Random datagrams, some with plausible headers.
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    for i in 0..3000 {
        let len = (rng.next() % 1500) as usize;
        let mut d = rng.bytes(len);
        if d.len() >= 4 && i % 3 == 0 {
            let version: u16 = [5, 9, 10][i % 9 / 3];
            d[..2].copy_from_slice(&version.to_be_bytes());
            d[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        }
        udp.send_to(&d, ("127.0.0.1", udp_port)).unwrap();
        if i % 200 == 0 {
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    // A TCP exporter sending garbage after a plausible header, one that is
    // not IPFIX at all, and one flooding templates.
    let mut a = TcpStream::connect(("127.0.0.1", tcp_port)).unwrap();
    let mut msg = vec![0, 10, 0xff, 0xff];
    msg.extend(rng.bytes(65_531));
    let _ = a.write_all(&msg);
    let mut b = TcpStream::connect(("127.0.0.1", tcp_port)).unwrap();
    let _ = b.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut flood = TcpStream::connect(("127.0.0.1", tcp_port)).unwrap();
    for m in 0..200u32 {
        // One message of ~16k templates... as many as fit: each template
        // record is id + count + one field (8 bytes).
        let mut body = Vec::new();
        for t in 0..8000u32 {
            let id = 256 + ((m * 8000 + t) % 65_000) as u16;
            body.extend_from_slice(&id.to_be_bytes());
            body.extend_from_slice(&1u16.to_be_bytes());
            body.extend_from_slice(&8u16.to_be_bytes());
            body.extend_from_slice(&4u16.to_be_bytes());
        }
        let set_len = (body.len() + 4) as u16;
        let total = (body.len() + 4 + 16) as u16;
        let mut msg = vec![0, 10];
        msg.extend_from_slice(&total.to_be_bytes());
        msg.extend_from_slice(&0u32.to_be_bytes());
        msg.extend_from_slice(&m.to_be_bytes());
        msg.extend_from_slice(&1u32.to_be_bytes());
        msg.extend_from_slice(&2u16.to_be_bytes());
        msg.extend_from_slice(&set_len.to_be_bytes());
        msg.extend_from_slice(&body);
        if flood.write_all(&msg).is_err() {
            break;
        }
    }
    drop((a, b, flood));
    std::thread::sleep(Duration::from_millis(800));
    let rss = rss_kib(&child);
    assert!(rss < 400 * 1024, "collector grew to {rss} KiB");

    // Good records still get through.
    let out = eddy()
        .args(["send", "-q", "-t", "tcp", "-p", &tcp_port.to_string(), "-i"])
        .arg(&good)
        .output()
        .unwrap();
    assert!(out.status.success());
    std::thread::sleep(Duration::from_millis(500));
    let log = stop(child, log);
    // Random datagrams that happen to be well-formed NetFlow v5 (a fixed
    // layout: version 5, a count and the right length) are records too;
    // every good record must be among what was stored.
    let stored: Vec<String> = stored_records(&store_dir).iter().map(key).collect();
    for k in good_keys(&good) {
        assert!(stored.contains(&k), "good record {k} not stored\n{log}");
    }
    assert!(log.lines().count() < 200, "the log floods:\n{log}");
    assert!(
        log.contains("session"),
        "a broken TCP session is logged:\n{log}"
    );
    assert!(log.contains("not an IPFIX message"), "{log}");
}

#[test]
fn a_truncated_file_stores_its_whole_messages_and_says_where_it_broke() {
    let dir = TempDir::new("collect-truncated");
    let good = meter_export(&dir.0);
    let bytes = std::fs::read(&good).unwrap();
    let cut = dir.0.join("cut.ipfix");
    std::fs::write(&cut, &bytes[..bytes.len() - 100]).unwrap();
    let store_dir = dir.0.join("store");
    let out = eddy()
        .args(["collect", "-r"])
        .arg(&cut)
        .arg("-w")
        .arg(&store_dir)
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    assert!(
        log.contains("cut.ipfix"),
        "the error names the file:\n{log}"
    );
    // The whole messages before the cut are stored (the meter's file here
    // is one large message, so possibly none).
    let whole: usize = ipfix::file_messages(&bytes[..bytes.len() - 100])
        .filter_map(Result::ok)
        .map(|m| ipfix::Decoder::new().decode_flows(1, m).0.len())
        .sum();
    assert_eq!(stored_count(&store_dir), whole);
}
