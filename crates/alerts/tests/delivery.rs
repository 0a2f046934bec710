//! Webhook and email delivery from queues: a stalled server does not hold
//! up routing, full queues drop (counted), failures are retried, and the
//! end drains the queues (against local listeners playing the server).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use alerts::{AlertQuery, AlertRow, AlertStore, Config, Kind, Outcome, Router};

const S: i64 = 1_000_000_000;
const T0: i64 = 1_767_323_045 * S;

struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "eddy-delivery-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Alert `i`: each its own attack (another target), so none aggregate.
fn alert(i: usize) -> AlertRow {
    let id = format!("d{i}");
    AlertRow {
        id: id.clone(),
        detect_time: T0 + i as i64 * S,
        event_time: T0,
        cease_time: T0 + i as i64 * S,
        detector: "bruteforce".into(),
        category: "Attempt.Login".into(),
        source: Some("203.0.113.31".into()),
        target: Some(format!("10.0.{}.{}", i / 250, i % 250 + 1)),
        description: "bruteforce".into(),
        flows: 10,
        merged: 1,
        idea: format!("{{\"Format\":\"IDEA0\",\"ID\":\"{id}\"}}"),
    }
}

/// A server that accepts connections and never answers (holding them
/// open); each accepted connection is signalled.
fn stalled_server() -> (u16, mpsc::Receiver<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming() {
            let Ok(s) = s else { continue };
            held.push(s);
            let _ = tx.send(());
        }
    });
    (port, rx)
}

/// Reads one HTTP request; the body.
fn read_request(s: &TcpStream) -> String {
    let mut r = BufReader::new(s);
    let mut len = 0;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
            break;
        }
        if let Some(v) = line.strip_prefix("Content-Length: ") {
            len = v.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body).unwrap();
    String::from_utf8(body).unwrap()
}

/// A server answering one request per connection with `statuses` in turn,
/// each after `delay`; the bodies it got.
fn http_server(statuses: Vec<u16>, delay: Duration) -> (u16, thread::JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = thread::spawn(move || {
        let mut bodies = Vec::new();
        for status in statuses {
            let (mut s, _) = listener.accept().unwrap();
            bodies.push(read_request(&s));
            thread::sleep(delay);
            s.write_all(format!("HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n").as_bytes())
                .unwrap();
        }
        bodies
    });
    (port, server)
}

fn rows(db: &std::path::Path) -> usize {
    AlertStore::open(db)
        .unwrap()
        .query(&AlertQuery::default())
        .unwrap()
        .len()
}

#[test]
fn a_stalled_webhook_and_smtp_server_do_not_hold_up_routing() {
    let dir = TempDir::new();
    let (port, _accepted) = stalled_server();
    let db = dir.0.join("a.db");
    let text = format!(
        "timeout = 5\ndrain = 0.2\n[[route]]\n\
         to = {{ store = \"{}\", webhook = \"http://127.0.0.1:{port}/hook\",\n\
         email = {{ smtp = \"127.0.0.1:{port}\", from = \"a@b\", to = [\"c@d\"] }} }}\n",
        db.display()
    );
    let mut router = Router::new(&Config::parse(&text).unwrap()).unwrap();
    let start = Instant::now();
    for i in 0..100 {
        assert_eq!(router.route(&alert(i)), Outcome::Delivered);
    }
    let took = start.elapsed();
    assert!(took < Duration::from_secs(1), "routing took {took:?}");
    // The store has every alert at once.
    assert_eq!(rows(&db), 100);
    let stats = router.stats();
    assert_eq!(stats.get(Kind::Store).delivered, 100);
    for kind in [Kind::Webhook, Kind::Email] {
        let s = stats.get(kind);
        assert_eq!(
            (s.delivered, s.failed, s.dropped, s.pending),
            (0, 0, 0, 100),
            "{kind:?}"
        );
    }
    // The end waits 0.2 s, not the server's 5 s, and counts the loss.
    let start = Instant::now();
    assert_eq!(router.drain(), 200);
    let took = start.elapsed();
    assert!(took < Duration::from_secs(2), "draining took {took:?}");
    let stats = router.stats();
    for kind in [Kind::Webhook, Kind::Email] {
        let s = stats.get(kind);
        assert_eq!((s.delivered, s.pending, s.lost), (0, 0, 100), "{kind:?}");
    }
    let json = stats.to_json();
    assert!(
        json.contains("\"webhook\":{\"delivered\":0,\"aggregated\":0,\"failed\":0,\"dropped\":0,\"pending\":0,\"lost\":100}"),
        "{json}"
    );
    assert!(
        json.contains(&format!(
            "{{\"kind\":\"webhook\",\"name\":\"http://127.0.0.1:{port}/hook\",\"delivered\":0,\"failed\":0,\"dropped\":0,\"pending\":0,\"lost\":100}}"
        )),
        "{json}"
    );
}

#[test]
fn a_full_queue_drops_and_counts_exactly() {
    let (port, accepted) = stalled_server();
    let text = format!(
        "drain = 0.1\n[[route]]\nto = {{ webhook = \"http://127.0.0.1:{port}/\", queue = 2 }}\n"
    );
    let mut router = Router::new(&Config::parse(&text).unwrap()).unwrap();
    router.route(&alert(0));
    // The thread has taken the first and is stuck sending it.
    accepted.recv_timeout(Duration::from_secs(5)).unwrap();
    for i in 1..=10 {
        router.route(&alert(i));
    }
    // Two queued, eight dropped.
    let s = router.stats().get(Kind::Webhook);
    assert_eq!((s.dropped, s.pending, s.delivered), (8, 3, 0));
    let d = &router.stats().destinations;
    assert_eq!(d.len(), 1);
    assert_eq!((d[0].counts.dropped, d[0].counts.pending), (8, 3));
    assert_eq!(router.drain(), 3);
    let s = router.stats().get(Kind::Webhook);
    assert_eq!((s.dropped, s.pending, s.lost), (8, 0, 3));
}

#[test]
fn a_failed_delivery_is_retried() {
    let (port, server) = http_server(vec![500, 204], Duration::ZERO);
    let text = format!(
        "retry = [0.05, 0.05]\n[[route]]\nto = {{ webhook = \"http://127.0.0.1:{port}/\" }}\n"
    );
    let mut router = Router::new(&Config::parse(&text).unwrap()).unwrap();
    let a = alert(1);
    router.route(&a);
    assert_eq!(router.drain(), 0);
    let bodies = server.join().unwrap();
    assert_eq!(bodies, [a.idea.clone(), a.idea]);
    let s = router.stats().get(Kind::Webhook);
    assert_eq!((s.delivered, s.failed, s.lost), (1, 0, 0));
}

#[test]
fn the_end_delivers_what_is_queued() {
    let (port, server) = http_server(vec![204; 5], Duration::from_millis(200));
    let text = format!("[[route]]\nto = {{ webhook = \"http://127.0.0.1:{port}/\" }}\n");
    let mut router = Router::new(&Config::parse(&text).unwrap()).unwrap();
    let start = Instant::now();
    for i in 0..5 {
        router.route(&alert(i));
    }
    assert!(start.elapsed() < Duration::from_millis(150));
    assert!(router.stats().get(Kind::Webhook).pending > 0);
    assert_eq!(router.drain(), 0);
    assert!(start.elapsed() >= Duration::from_millis(900));
    let bodies = server.join().unwrap();
    let want: Vec<String> = (0..5).map(|i| alert(i).idea).collect();
    assert_eq!(bodies, want, "in order");
    let s = router.stats().get(Kind::Webhook);
    assert_eq!(
        (s.delivered, s.failed, s.dropped, s.pending, s.lost),
        (5, 0, 0, 0, 0)
    );
    // Routing after the end still counts what it cannot send.
    router.route(&alert(9));
    assert_eq!(router.stats().get(Kind::Webhook).dropped, 1);
}

#[test]
fn queue_retry_and_drain_keys() {
    let c = Config::parse(
        "retry = [0.5]\ndrain = 3\n[[route]]\nto = { webhook = \"http://h/\", queue = 7 }\n",
    )
    .unwrap();
    assert_eq!((c.retry.as_slice(), c.drain), ([0.5].as_slice(), 3.0));
    assert_eq!(c.route[0].to.queue, Some(7));
    let c = Config::parse("[[route]]\nto = { store = \"a.db\" }\n").unwrap();
    assert_eq!((c.retry.as_slice(), c.drain), ([1.0, 5.0].as_slice(), 10.0));
    let e = Config::parse("[[route]]\nto = { webhook = \"http://h/\", queue = 0 }\n").unwrap_err();
    assert!(e.contains("queue = 0"), "{e}");
    let e = Config::parse("retry = [-1]\n[[route]]\nto = { store = \"a.db\" }\n").unwrap_err();
    assert!(e.contains("retry"), "{e}");
    let e = Config::parse("[[route]]\nto = { webhook = \"http://h/\", queu = 5 }\n").unwrap_err();
    assert!(e.contains("unknown field `queu`"), "{e}");
}
