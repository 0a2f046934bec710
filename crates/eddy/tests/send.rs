//! `eddy send`: replays an IPFIX file to a collector bound here on 127.0.0.1.

mod common;

use std::io::Read;
use std::net::{TcpListener, UdpSocket};
use std::path::PathBuf;
use std::process::Output;
use std::thread;
use std::time::{Duration, Instant};

use common::{eddy, shared_testdata};

fn example() -> PathBuf {
    shared_testdata().join("ipfix/ipfixcol2_example_flows.ipfix")
}

/// The file's messages, split by their length fields.
fn messages(buf: &[u8]) -> Vec<Vec<u8>> {
    ipfix::file_messages(buf)
        .map(|m| m.expect("the example file is clean").to_vec())
        .collect()
}

fn send(args: &[&str]) -> Output {
    eddy().arg("send").args(args).output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Receives `count` datagrams in a thread while `eddy send` runs.
fn udp_collect(count: usize, args: &[&str]) -> (Vec<Vec<u8>>, Output) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let port = socket.local_addr().unwrap().port().to_string();
    let receiver = thread::spawn(move || {
        let mut got = Vec::new();
        let mut buf = vec![0u8; 65_536];
        while got.len() < count {
            match socket.recv(&mut buf) {
                Ok(n) => got.push(buf[..n].to_vec()),
                Err(_) => break,
            }
        }
        got
    });
    let file = example();
    let mut all = vec![
        "-i",
        file.to_str().unwrap(),
        "-d",
        "127.0.0.1",
        "-p",
        &port,
        "-t",
        "udp",
    ];
    all.extend_from_slice(args);
    let out = send(&all);
    (receiver.join().unwrap(), out)
}

#[test]
fn udp_sends_each_message_as_one_datagram_in_order() {
    let expected = messages(&std::fs::read(example()).unwrap());
    assert_eq!(expected.len(), 68);
    // A modest rate so that the loopback receive buffer cannot overflow.
    let (got, out) = udp_collect(2 * expected.len(), &["--loops", "2", "--rate", "2000"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(got.len(), 2 * expected.len());
    for (i, datagram) in got.iter().enumerate() {
        assert_eq!(
            datagram,
            &expected[i % expected.len()],
            "datagram {i} differs"
        );
    }
    let summary = stderr(&out);
    assert!(summary.contains("sent 136 messages"), "{summary}");
    assert!(summary.contains("400064 bytes"), "{summary}");
}

#[test]
fn tcp_sends_the_file_as_one_byte_stream() {
    let file_bytes = std::fs::read(example()).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let receiver = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut got = Vec::new();
        stream.read_to_end(&mut got).unwrap();
        got
    });
    let file = example();
    let out = send(&[
        "-i",
        file.to_str().unwrap(),
        "-d",
        "127.0.0.1",
        "-p",
        &port,
        "-t",
        "tcp",
        "--loops",
        "2",
        "-q",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(out.stderr.is_empty(), "-q: {}", stderr(&out));
    let got = receiver.join().unwrap();
    assert_eq!(got.len(), 2 * file_bytes.len());
    assert!(got[..file_bytes.len()] == file_bytes[..]);
    assert!(got[file_bytes.len()..] == file_bytes[..]);
}

#[test]
fn rate_paces_the_messages() {
    // 68 messages at 200/s: the last one is due after 67/200 = 0.335 s.
    let started = Instant::now();
    let (got, out) = udp_collect(68, &["--rate", "200"]);
    let elapsed = started.elapsed();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(got.len(), 68);
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
    assert!(elapsed <= Duration::from_millis(1500), "{elapsed:?}");
}

#[test]
fn garbage_file_is_a_clear_error_with_the_offset() {
    let dir = std::env::temp_dir().join(format!("eddy-send-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // One good message, then bytes that are not an IPFIX header.
    let mut bad = std::fs::read(example()).unwrap();
    let first = messages(&bad)[0].len();
    bad.truncate(first);
    bad.extend_from_slice(b"this is not IPFIX at all");
    let path = dir.join("garbage.ipfix");
    std::fs::write(&path, &bad).unwrap();
    let out = send(&["-i", path.to_str().unwrap(), "-p", "9", "-t", "udp"]);
    std::fs::remove_dir_all(&dir).ok();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("not a clean IPFIX file"), "{err}");
    assert!(err.contains("message 2"), "{err}");
    assert!(err.contains(&format!("byte {first}")), "{err}");
}

#[test]
fn unreachable_tcp_collector_names_the_destination() {
    // A port that was just free: nothing listens there.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let file = example();
    let out = send(&[
        "-i",
        file.to_str().unwrap(),
        "-d",
        "127.0.0.1",
        "-p",
        &port,
        "-t",
        "tcp",
    ]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains(&format!("cannot connect to tcp://127.0.0.1:{port}")),
        "{err}"
    );
}
