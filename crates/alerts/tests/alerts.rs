//! The alert store, routing rules, aggregation and the webhook and email
//! destinations (against local listeners playing the server).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;

use alerts::{AlertQuery, AlertRow, AlertStore, Config, Kind, Outcome, Router};

const S: i64 = 1_000_000_000;
const T0: i64 = 1_767_323_045 * S;

struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "eddy-alerts-{}-{}",
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

fn row(id: &str, t: i64, detector: &str, category: &str, src: &str, dst: &str) -> AlertRow {
    AlertRow {
        id: id.into(),
        detect_time: t,
        event_time: t - 10 * S,
        cease_time: t,
        detector: detector.into(),
        category: category.into(),
        source: Some(src.into()),
        target: Some(dst.into()),
        description: format!("{detector} from {src}"),
        flows: 10,
        merged: 1,
        idea: format!("{{\"Format\":\"IDEA0\",\"ID\":\"{id}\",\"Category\":[\"{category}\"]}}"),
    }
}

fn ids(rows: &[AlertRow]) -> Vec<&str> {
    rows.iter().map(|r| r.id.as_str()).collect()
}

#[test]
fn store_insert_and_query() {
    let dir = TempDir::new();
    let store = AlertStore::open(&dir.0.join("a.db")).unwrap();
    let a = row(
        "a",
        T0,
        "vportscan",
        "Recon.Scanning",
        "203.0.113.11",
        "10.0.0.5",
    );
    let b = row(
        "b",
        T0 + 60 * S,
        "bruteforce",
        "Attempt.Login",
        "203.0.113.31",
        "10.0.0.22",
    );
    let c = row(
        "c",
        T0 + 120 * S,
        "haddrscan",
        "Recon.Scanning",
        "198.51.100.7",
        "10.0.0.5",
    );
    let d = row(
        "d",
        T0 + 180 * S,
        "blacklist",
        "Intrusion.Botnet,Recon_x",
        "10.0.0.9",
        "192.0.2.1",
    );
    for r in [&a, &b, &c, &d] {
        assert!(store.insert(r).unwrap());
    }
    assert!(!store.insert(&a).unwrap(), "same ID twice is kept once");

    let all = store.query(&AlertQuery::default()).unwrap();
    assert_eq!(ids(&all), ["d", "c", "b", "a"], "newest first");
    assert_eq!(all[3], a, "a row comes back as written");

    let q = |f: fn(&mut AlertQuery)| {
        let mut q = AlertQuery::default();
        f(&mut q);
        ids(&store.query(&q).unwrap())
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>()
    };
    assert_eq!(q(|q| q.category = Some("Recon".into())), ["d", "c", "a"]);
    assert_eq!(
        q(|q| q.category = Some("recon".into())),
        Vec::<String>::new()
    );
    assert_eq!(
        q(|q| q.category = Some("Recon.Scanning".into())),
        ["c", "a"]
    );
    assert_eq!(
        q(|q| q.category = Some("Botnet".into())),
        Vec::<String>::new()
    );
    assert_eq!(q(|q| q.category = Some("Attempt".into())), ["b"]);
    // A later category of a list matches; LIKE wildcards are literal.
    assert_eq!(q(|q| q.category = Some("Intrusion".into())), ["d"]);
    assert_eq!(q(|q| q.category = Some("Recon_".into())), ["d"]);
    assert_eq!(q(|q| q.category = Some("Re%".into())), Vec::<String>::new());
    assert_eq!(q(|q| q.detector = Some("bruteforce".into())), ["b"]);
    assert_eq!(q(|q| q.address = Some("10.0.0.5".into())), ["c", "a"]);
    assert_eq!(q(|q| q.address = Some("10.0.0.9".into())), ["d"]);
    assert_eq!(
        q(|q| {
            q.since = Some(T0 + 60 * S);
            q.until = Some(T0 + 180 * S);
        }),
        ["c", "b"]
    );
    assert_eq!(q(|q| q.limit = Some(1)), ["d"]);
    assert_eq!(
        q(|q| {
            q.category = Some("Recon".into());
            q.address = Some("203.0.113.11".into());
        }),
        ["a"]
    );
    drop(store);
    let ro = AlertStore::open_read(&dir.0.join("a.db")).unwrap();
    assert_eq!(ro.query(&AlertQuery::default()).unwrap().len(), 4);
    assert!(AlertStore::open_read(&dir.0.join("none.db"))
        .err()
        .unwrap()
        .contains("no alert store"));
}

#[test]
fn routes_match_categories_detectors_and_address_groups() {
    let dir = TempDir::new();
    let d = dir.0.display();
    let text = format!(
        r#"
        [groups]
        internal = ["10.0.0.0/8", "2001:db8::/32"]

        [[route]]
        match = {{ category = ["Recon"], target = ["@internal"] }}
        to = {{ file = "{d}/recon.jsonl" }}

        [[route]]
        match = {{ detector = ["bruteforce"], source = ["203.0.113.0/24"] }}
        to = {{ file = "{d}/bf.jsonl" }}

        [[route]]
        to = {{ store = "{d}/all.db", file = "{d}/recon.jsonl" }}
        "#
    );
    let config = Config::parse(&text).unwrap();
    let mut router = Router::new(&config).unwrap();
    let alerts = [
        row(
            "1",
            T0,
            "vportscan",
            "Recon.Scanning",
            "203.0.113.11",
            "10.0.0.5",
        ),
        row(
            "2",
            T0,
            "vportscan",
            "Recon.Scanning",
            "203.0.113.11",
            "192.0.2.5",
        ),
        row(
            "3",
            T0,
            "bruteforce",
            "Attempt.Login",
            "203.0.113.31",
            "10.1.0.22",
        ),
        row(
            "4",
            T0,
            "bruteforce",
            "Attempt.Login",
            "198.51.100.1",
            "2001:db8::1",
        ),
        row(
            "5",
            T0,
            "haddrscan",
            "Recon.Scanning",
            "198.51.100.1",
            "2001:db8::7",
        ),
    ];
    for a in &alerts {
        assert_eq!(router.route(a), Outcome::Delivered);
    }
    let read = |name: &str| -> Vec<String> {
        std::fs::read_to_string(dir.0.join(name))
            .unwrap()
            .lines()
            .map(|l| l.split("\"ID\":\"").nth(1).unwrap()[..1].to_string())
            .collect()
    };
    // recon.jsonl is named by two routes, and gets each alert once.
    assert_eq!(read("recon.jsonl"), ["1", "2", "3", "4", "5"]);
    assert_eq!(read("bf.jsonl"), ["3"]);
    let store = AlertStore::open(&dir.0.join("all.db")).unwrap();
    assert_eq!(store.query(&AlertQuery::default()).unwrap().len(), 5);
    assert_eq!(router.stats().get(Kind::File).delivered, 6);
    assert_eq!(router.stats().get(Kind::Store).delivered, 5);
}

#[test]
fn unmatched_alerts_are_counted() {
    let dir = TempDir::new();
    let text = format!(
        "[[route]]\nmatch = {{ category = [\"Attempt\"] }}\nto = {{ store = \"{}\" }}\n",
        dir.0.join("a.db").display()
    );
    let mut router = Router::new(&Config::parse(&text).unwrap()).unwrap();
    let a = row(
        "1",
        T0,
        "vportscan",
        "Recon.Scanning",
        "203.0.113.11",
        "10.0.0.5",
    );
    assert_eq!(router.route(&a), Outcome::Unrouted);
    assert_eq!(router.stats().unrouted, 1);
}

#[test]
fn an_ongoing_attack_is_aggregated() {
    let dir = TempDir::new();
    let text = format!(
        "aggregate = 600\n[[route]]\nto = {{ store = \"{0}/a.db\", file = \"{0}/a.jsonl\" }}\n",
        dir.0.display()
    );
    let mut router = Router::new(&Config::parse(&text).unwrap()).unwrap();
    let attack = |id: &str, t: i64| {
        row(
            id,
            t,
            "bruteforce",
            "Attempt.Login",
            "203.0.113.31",
            "10.0.0.22",
        )
    };
    assert_eq!(router.route(&attack("a1", T0)), Outcome::Delivered);
    assert_eq!(
        router.route(&attack("a2", T0 + 300 * S)),
        Outcome::Aggregated
    );
    assert_eq!(
        router.route(&attack("a3", T0 + 599 * S)),
        Outcome::Aggregated
    );
    // Another target is another attack.
    let other = row(
        "o1",
        T0 + 10 * S,
        "bruteforce",
        "Attempt.Login",
        "203.0.113.31",
        "10.0.0.23",
    );
    assert_eq!(router.route(&other), Outcome::Delivered);
    // The window has passed: reported again, a new window.
    assert_eq!(
        router.route(&attack("a4", T0 + 600 * S)),
        Outcome::Delivered
    );
    assert_eq!(
        router.route(&attack("a5", T0 + 700 * S)),
        Outcome::Aggregated
    );

    let store = AlertStore::open(&dir.0.join("a.db")).unwrap();
    let rows = store.query(&AlertQuery::default()).unwrap();
    assert_eq!(ids(&rows), ["a4", "o1", "a1"]);
    let a1 = &rows[2];
    assert_eq!((a1.merged, a1.flows, a1.cease_time), (3, 30, T0 + 599 * S));
    assert_eq!((rows[0].merged, rows[0].flows), (2, 20));
    // Merging the same alert again (the stream reported twice) counts once.
    let again = attack("a2", T0 + 300 * S);
    assert_eq!(store.merge("a1", &again).unwrap(), alerts::Merge::Already);
    assert_eq!(store.merge("zz", &again).unwrap(), alerts::Merge::Missing);
    let rows = store.query(&AlertQuery::default()).unwrap();
    assert_eq!((rows[2].merged, rows[2].flows), (3, 30));
    let lines = std::fs::read_to_string(dir.0.join("a.jsonl")).unwrap();
    assert_eq!(
        lines.lines().count(),
        3,
        "aggregated alerts are not re-sent"
    );
    let s = router.stats().get(Kind::File);
    assert_eq!((s.delivered, s.aggregated, s.failed), (3, 3, 0));
    assert!(router
        .stats()
        .to_json()
        .contains("\"store\":{\"delivered\":3,\"aggregated\":3,\"failed\":0}"));
}

#[test]
fn webhook_posts_the_idea_json() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = thread::spawn(move || {
        let (s, _) = listener.accept().unwrap();
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut head = Vec::new();
        loop {
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            if line == "\r\n" {
                break;
            }
            head.push(line.trim_end().to_string());
        }
        let len: usize = head
            .iter()
            .find_map(|h| h.strip_prefix("Content-Length: "))
            .unwrap()
            .parse()
            .unwrap();
        let mut body = vec![0; len];
        r.read_exact(&mut body).unwrap();
        (&s).write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
            .unwrap();
        (head, String::from_utf8(body).unwrap())
    });
    let text = format!("[[route]]\nto = {{ webhook = \"http://127.0.0.1:{port}/hooks/eddy\" }}\n");
    let mut router = Router::new(&Config::parse(&text).unwrap()).unwrap();
    let a = row(
        "w1",
        T0,
        "vportscan",
        "Recon.Scanning",
        "203.0.113.11",
        "10.0.0.5",
    );
    router.route(&a);
    router.drain();
    let (head, body) = server.join().unwrap();
    assert_eq!(head[0], "POST /hooks/eddy HTTP/1.1");
    assert!(
        head.contains(&format!("Host: 127.0.0.1:{port}")),
        "{head:?}"
    );
    assert!(
        head.contains(&"Content-Type: application/json".to_string()),
        "{head:?}"
    );
    assert_eq!(body, a.idea);
    assert_eq!(router.stats().get(Kind::Webhook).delivered, 1);
}

#[test]
fn webhook_failures_are_counted() {
    // A port nobody listens on, and a server answering 500.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = closed.local_addr().unwrap().port();
    drop(closed);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = [0; 4096];
        let _ = s.read(&mut buf);
        s.write_all(b"HTTP/1.1 500 Oops\r\n\r\n").unwrap();
    });
    let text = format!(
        "timeout = 2\nretry = []\n[[route]]\nto = {{ webhook = \"http://127.0.0.1:{dead}/\" }}\n\
         [[route]]\nto = {{ webhook = \"http://127.0.0.1:{port}/\" }}\n"
    );
    let mut router = Router::new(&Config::parse(&text).unwrap()).unwrap();
    router.route(&row(
        "f1",
        T0,
        "vportscan",
        "Recon.Scanning",
        "203.0.113.11",
        "10.0.0.5",
    ));
    router.drain();
    server.join().unwrap();
    let s = router.stats().get(Kind::Webhook);
    assert_eq!((s.delivered, s.failed), (0, 2));
}

#[test]
fn email_goes_through_smtp() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = thread::spawn(move || {
        let (s, _) = listener.accept().unwrap();
        let mut w = s.try_clone().unwrap();
        let mut r = BufReader::new(s);
        let mut said = Vec::new();
        let read = |r: &mut BufReader<_>| {
            let mut line = String::new();
            BufRead::read_line(r, &mut line).unwrap();
            line.trim_end_matches(['\r', '\n']).to_string()
        };
        w.write_all(b"220 sink ESMTP\r\n").unwrap();
        for _ in 0..4 {
            // HELO, MAIL FROM, RCPT TO x2
            said.push(read(&mut r));
            w.write_all(b"250 ok\r\n").unwrap();
        }
        said.push(read(&mut r)); // DATA
        w.write_all(b"354 go on\r\n").unwrap();
        let mut data = Vec::new();
        loop {
            let line = read(&mut r);
            if line == "." {
                break;
            }
            data.push(line);
        }
        w.write_all(b"250 queued\r\n").unwrap();
        said.push(read(&mut r)); // QUIT
        w.write_all(b"221 bye\r\n").unwrap();
        (said, data)
    });
    let text = format!(
        r#"
        [[route]]
        match = {{ category = ["Attempt"] }}
        to = {{ email = {{ smtp = "127.0.0.1:{port}", from = "eddy@example.org",
                 to = ["csirt@example.org", "noc@example.org"],
                 subject = "{{category}} from {{source}} to {{target}} by {{detector}}" }} }}
        "#
    );
    let mut router = Router::new(&Config::parse(&text).unwrap()).unwrap();
    let mut a = row(
        "m1",
        T0,
        "bruteforce",
        "Attempt.Login",
        "203.0.113.31",
        "10.0.0.22",
    );
    a.description = ".leading dot".into();
    assert_eq!(router.route(&a), Outcome::Delivered);
    router.drain();
    let (said, data) = server.join().unwrap();
    assert_eq!(
        said,
        [
            "HELO eddy",
            "MAIL FROM:<eddy@example.org>",
            "RCPT TO:<csirt@example.org>",
            "RCPT TO:<noc@example.org>",
            "DATA",
            "QUIT"
        ]
    );
    assert!(data.contains(
        &"Subject: Attempt.Login from 203.0.113.31 to 10.0.0.22 by bruteforce".to_string()
    ));
    assert!(data.contains(&"To: csirt@example.org, noc@example.org".to_string()));
    assert!(data.contains(&"Description: .leading dot".to_string()));
    assert!(data.contains(&a.idea), "{data:?}");
    let s = router.stats().get(Kind::Email);
    assert_eq!((s.delivered, s.failed), (1, 0));
}

#[test]
fn email_failure_is_counted() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.write_all(b"554 go away\r\n").unwrap();
    });
    let text = format!(
        "retry = []\n[[route]]\nto = {{ email = {{ smtp = \"127.0.0.1:{port}\", from = \"a@b\", to = [\"c@d\"] }} }}\n"
    );
    let mut router = Router::new(&Config::parse(&text).unwrap()).unwrap();
    router.route(&row(
        "e1",
        T0,
        "bruteforce",
        "Attempt.Login",
        "203.0.113.31",
        "10.0.0.22",
    ));
    router.drain();
    server.join().unwrap();
    assert_eq!(router.stats().get(Kind::Email).failed, 1);
}

#[test]
fn bad_config_is_rejected_clearly() {
    let e =
        Config::parse("[[route]]\nto = { store = \"a.db\" }\nmatch = { categroy = [\"Recon\"] }\n")
            .unwrap_err();
    assert!(e.contains("unknown field `categroy`"), "{e}");
    assert!(
        e.contains("category"),
        "the message lists the known fields: {e}"
    );
    let e = Config::parse("aggregat = 5\n[[route]]\nto = { store = \"a.db\" }\n").unwrap_err();
    assert!(e.contains("unknown field `aggregat`"), "{e}");
    let e = Config::parse("[[route]]\nto = { webhook = \"https://x/\" }\n").unwrap_err();
    assert!(e.contains("no TLS"), "{e}");
    let e = Config::parse(
        "[[route]]\nmatch = { source = [\"10.0.0.0/33\"] }\nto = { store = \"a.db\" }\n",
    )
    .unwrap_err();
    assert!(e.contains("10.0.0.0/33"), "{e}");
    let e =
        Config::parse("[[route]]\nmatch = { source = [\"@nope\"] }\nto = { store = \"a.db\" }\n")
            .unwrap_err();
    assert!(e.contains("no address group 'nope'"), "{e}");
    let e = Config::parse("[[route]]\nto = {}\n").unwrap_err();
    assert!(e.contains("names no store"), "{e}");
    assert!(Config::parse("").unwrap_err().contains("no [[route]]"));
}

#[test]
fn cidrs_and_urls() {
    let c: alerts::Cidr = "10.0.0.0/8".parse().unwrap();
    assert!(c.contains("10.200.1.1".parse().unwrap()));
    assert!(!c.contains("11.0.0.1".parse().unwrap()));
    assert!(!c.contains("::a00:1".parse().unwrap()));
    let all: alerts::Cidr = "0.0.0.0/0".parse().unwrap();
    assert!(all.contains("1.2.3.4".parse().unwrap()));
    let v6: alerts::Cidr = "2001:db8::/32".parse().unwrap();
    assert!(v6.contains("2001:db8:1::1".parse().unwrap()));
    let one: alerts::Cidr = "192.0.2.1".parse().unwrap();
    assert!(one.contains("192.0.2.1".parse().unwrap()));
    assert!(!one.contains("192.0.2.2".parse().unwrap()));
    let u = alerts::Url::parse("http://example.org/a/b").unwrap();
    assert_eq!(
        (u.addr.as_str(), u.path.as_str()),
        ("example.org:80", "/a/b")
    );
    let u = alerts::Url::parse("http://[::1]:8080").unwrap();
    assert_eq!((u.addr.as_str(), u.path.as_str()), ("[::1]:8080", "/"));
}
