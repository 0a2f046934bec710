//! Live capture on the loopback interface: flows leave on the wall clock
//! (no packets needed to drive the timeout), and SIGINT flushes the rest.
//! Needs root and the `libpcap` feature; skipped otherwise.

#![cfg(feature = "libpcap")]

mod common;

use std::net::UdpSocket;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{eddy, parse_csv};

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0"))
        .unwrap_or(false)
}

#[test]
fn live_flows_expire_on_the_wall_clock_and_flush_on_sigint() {
    if !is_root() {
        eprintln!("skipping: live capture needs root");
        return;
    }
    let port = 39_000 + (std::process::id() % 1000) as u16;
    let child = eddy()
        .args(["meter", "-i", "lo", "-o", "csv", "-q", "--inactive", "1"])
        .args(["-f", &format!("udp port {port}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start eddy meter");
    std::thread::sleep(Duration::from_millis(800));
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    for _ in 0..3 {
        socket
            .send_to(b"eddy live test", ("127.0.0.1", port))
            .unwrap();
    }
    // Idle for 1 s: the flow must leave by the wall clock.
    std::thread::sleep(Duration::from_millis(2500));
    socket.send_to(b"second flow", ("127.0.0.1", port)).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    send_sigint(child.id());
    let output = child.wait_with_output().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "meter did not stop promptly"
    );
    let rows = parse_csv(&String::from_utf8(output.stdout).unwrap());
    let summary: Vec<_> = rows
        .iter()
        .map(|r| (r.num("packets"), r.get("end_reason").to_string()))
        .collect();
    assert_eq!(
        summary,
        [(3, "idle".to_string()), (1, "forced".to_string())]
    );
}

/// Sends SIGINT with the `kill` command (no libc dependency in tests).
fn send_sigint(pid: u32) {
    let status = std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}
