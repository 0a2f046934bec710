//! Live capture on the loopback interface. Needs the `libpcap` feature and
//! root (or CAP_NET_RAW); otherwise the test prints why it is skipped.

#![cfg(feature = "libpcap")]

use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use capture::{open_live, CaptureError, Event};

/// Whether the effective user id is 0 (from /proc, to avoid unsafe code).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("Uid:"))?;
            let euid = line.split_whitespace().nth(2)?;
            Some(euid == "0")
        })
        .unwrap_or(false)
}

/// True when the error means "not allowed here" (a container without
/// CAP_NET_RAW) rather than a bug.
fn not_permitted(err: &CaptureError) -> bool {
    let text = err.to_string().to_lowercase();
    text.contains("permission") || text.contains("not permitted")
}

#[test]
fn loopback_capture_sees_our_datagrams_and_ticks() {
    if !is_root() {
        eprintln!("note: live capture test skipped: not running as root");
        return;
    }
    let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = receiver.local_addr().unwrap().port();
    let stop = Arc::new(AtomicBool::new(false));
    let filter = format!("udp dst port {port}");
    let mut src = match open_live("lo", Some(&filter), 65535, stop.clone()) {
        Ok(src) => src,
        Err(e) if not_permitted(&e) => {
            eprintln!("note: live capture test skipped: {e}");
            return;
        }
        Err(e) => panic!("{e}"),
    };

    const SENT: usize = 40;
    let marker = b"eddy-capture-live-test";
    let sender = std::thread::spawn({
        let stop = stop.clone();
        move || {
            let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
            for _ in 0..SENT {
                socket.send_to(marker, ("127.0.0.1", port)).unwrap();
                std::thread::sleep(Duration::from_millis(10));
            }
            // Then a quiet stretch: ticks must keep coming without traffic.
            std::thread::sleep(Duration::from_millis(1200));
            stop.store(true, Ordering::Relaxed);
        }
    });

    let started = Instant::now();
    let mut ours = 0;
    let mut ticks = Vec::new();
    src.run(&mut |ev| match ev {
        Event::Frames(frames) => {
            for f in frames {
                if f.data.ends_with(marker) {
                    ours += 1;
                }
            }
        }
        Event::Tick(t) => ticks.push((t, Instant::now())),
    })
    .unwrap();
    let ended = Instant::now();
    sender.join().unwrap();

    assert_eq!(ours, SENT, "datagrams seen on lo");
    assert!(src.stats().frames >= SENT as u64);
    assert_eq!(src.stats().kernel_dropped, 0);
    // Ticks come at least once a second, from the start to the end.
    assert!(ticks.len() >= 2, "{} ticks", ticks.len());
    let mut previous = started;
    for &(_, at) in &ticks {
        assert!(
            at - previous <= Duration::from_millis(1100),
            "tick gap {:?}",
            at - previous
        );
        previous = at;
    }
    assert!(ended - previous <= Duration::from_millis(1100));
    // Tick times are wall clock.
    let now_ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let (last_tick_ns, _) = ticks[ticks.len() - 1];
    assert!(now_ns - last_tick_ns < 5_000_000_000);
    // The run ends soon after the stop flag is set.
    assert!(ended - started < Duration::from_secs(3));
}

#[test]
fn live_errors_name_the_interface_or_filter() {
    if !is_root() {
        eprintln!("note: live capture test skipped: not running as root");
        return;
    }
    let stop = Arc::new(AtomicBool::new(true));
    match open_live("no-such-if0", None, 65535, stop.clone()) {
        Err(e @ CaptureError::Live { .. }) => assert!(e.to_string().contains("no-such-if0"), "{e}"),
        Err(e) => panic!("{e:?}"),
        Ok(_) => panic!("opened a missing interface"),
    }
    match open_live("lo", Some("udp prot 1"), 65535, stop) {
        Err(CaptureError::Filter { message, .. }) => {
            assert!(message.contains("syntax error"), "{message}")
        }
        Err(e) if not_permitted(&e) => eprintln!("note: live filter test skipped: {e}"),
        Err(e) => panic!("{e:?}"),
        Ok(_) => panic!("a bad filter compiled"),
    }
}
