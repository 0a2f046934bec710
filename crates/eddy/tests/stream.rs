//! Stream modules end to end: real `eddy module` processes chained over
//! unix sockets, TCP and files.
//!
//! - replay (from the store) → filter → logger prints exactly the flows
//!   `eddy query` selects with the same filter;
//! - a filter restarted mid-stream loses nothing under `:wait`, and under
//!   `:drop` what it missed is counted;
//! - pyarrow reads a `u:` stream and an `f:` file eddy wrote, and writes a
//!   stream an eddy logger reads;
//! - garbage on a socket, a truncated file and a schema without the fields
//!   a module needs give clear errors, and the module keeps serving its
//!   other inputs.

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{eddy, parse_csv, shared_testdata, test_data, Row, TempDir};

/// A store made the way an operator makes one: meter → IPFIX file → collect.
fn make_store(dir: &Path, pcaps: &[PathBuf]) -> PathBuf {
    let store = dir.join("store");
    for (i, pcap) in pcaps.iter().enumerate() {
        let ipfix = dir.join(format!("{i}.ipfix"));
        run_ok(
            eddy()
                .args(["meter", "-q", "-o", "csv", "-r"])
                .arg(pcap)
                .arg("--ipfix")
                .arg(format!("file:{}", ipfix.display())),
        );
        run_ok(
            eddy()
                .args(["collect", "-r"])
                .arg(&ipfix)
                .arg("-w")
                .arg(&store),
        );
    }
    store
}

fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("run eddy");
    assert!(
        out.status.success(),
        "{:?}: {}",
        cmd,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn generated_pcap(dir: &Path, flows: u32) -> PathBuf {
    let pcap = dir.join(format!("gen{flows}.pcap"));
    run_ok(
        eddy()
            .args(["gen", "pcap", "--flows", &flows.to_string()])
            .arg(&pcap),
    );
    pcap
}

/// A running module, killed if the test fails before it ends.
struct Module {
    child: Option<Child>,
    what: String,
}

impl Module {
    fn start(sockets: &Path, args: &[&str]) -> Module {
        let child = eddy()
            .arg("module")
            .args(args)
            .env("EDDY_SOCKET_DIR", sockets)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start eddy module");
        Module {
            child: Some(child),
            what: args.join(" "),
        }
    }

    /// Waits for the module to end by itself; returns stdout and stderr.
    fn wait(mut self, limit: Duration) -> (String, String) {
        let mut child = self.child.take().expect("running");
        let start = Instant::now();
        // Read stdout while waiting, so a large output cannot block the module.
        let mut stdout = child.stdout.take().expect("piped");
        let reader = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stdout.read_to_string(&mut s);
            s
        });
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                let out = reader.join().expect("stdout");
                let mut err = String::new();
                let _ = child.stderr.take().expect("piped").read_to_string(&mut err);
                assert!(status.success(), "{} failed: {err}", self.what);
                return (out, err);
            }
            if start.elapsed() > limit {
                let _ = child.kill();
                let _ = child.wait();
                let mut err = String::new();
                let _ = child.stderr.take().expect("piped").read_to_string(&mut err);
                panic!("{} did not end within {limit:?}: {err}", self.what);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, then wait.
    fn terminate(mut self) -> (String, String) {
        if let Some(child) = &self.child {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
        }
        let child = self.child.take();
        Module {
            child,
            what: std::mem::take(&mut self.what),
        }
        .wait(Duration::from_secs(20))
    }
}

impl Drop for Module {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The columns `eddy query -o eddy-csv` prints (the logger prints them all), as
/// one key per row.
fn keys(rows: &[Row]) -> BTreeMap<String, usize> {
    let cols = [
        "first",
        "last",
        "src_ip",
        "dst_ip",
        "src_port",
        "dst_port",
        "proto",
        "tcp_flags",
        "tos",
        "packets",
        "bytes",
        "vlan",
        "src_mac",
        "dst_mac",
        "end_reason",
    ];
    let mut out = BTreeMap::new();
    for r in rows {
        let key: Vec<&str> = cols.iter().map(|c| r.get(c)).collect();
        *out.entry(key.join("|")).or_insert(0) += 1;
    }
    out
}

/// Equal multisets of rows, or a short account of the difference.
fn assert_same_rows(got: &[Row], want: &[Row], what: &str) {
    let (g, w) = (keys(got), keys(want));
    if g != w {
        let extra: Vec<_> = g.keys().filter(|k| !w.contains_key(*k)).take(3).collect();
        let missing: Vec<_> = w.keys().filter(|k| !g.contains_key(*k)).take(3).collect();
        panic!(
            "{what}: {} rows vs query's {}; extra {extra:?}; missing {missing:?}",
            got.len(),
            want.len()
        );
    }
}

fn query(store: &Path, filter: &str) -> Vec<Row> {
    let out = run_ok(
        eddy()
            .args(["query", "-q", "-o", "eddy-csv", "-R"])
            .arg(store)
            .arg(filter),
    );
    parse_csv(&String::from_utf8(out.stdout).expect("utf-8"))
}

fn l7_pcaps() -> Vec<PathBuf> {
    vec![
        test_data().join("sample.pcap"),
        shared_testdata().join("pcap/http/ipfixprobe_http.pcap"),
        shared_testdata().join("pcap/tls/flowtest_tls12.pcap"),
        shared_testdata().join("pcap/dns/ipfixprobe_dns.pcap"),
    ]
    .into_iter()
    .filter(|p| p.exists())
    .collect()
}

const FILTERS: &[&str] = &[
    "any",
    "proto tcp",
    "dst port 80 or dst port 443",
    "proto udp and not port 53",
    "bytes > 1000 and packets < 20",
    "http_host contains \"e\"",
    "dns_qname ~ \"\\.\" or tls_sni ~ \"\\.\"",
    "proto 99",
    "net 10.0.0.0/8 or ip 192.168.0.0/16",
];

#[test]
fn replay_filter_logger_over_unix_sockets_selects_what_query_selects() {
    let dir = TempDir::new("stream-chain");
    let mut pcaps = l7_pcaps();
    pcaps.push(generated_pcap(&dir.0, 3000));
    let store = make_store(&dir.0, &pcaps);
    let sockets = dir.0.join("s");
    for filter in FILTERS {
        let logger = Module::start(&sockets, &["logger", "-i", "u:filtered"]);
        let filt = Module::start(
            &sockets,
            &["filter", "-i", "u:flows,u:filtered", "-F", filter],
        );
        let replay = Module::start(
            &sockets,
            &["replay", "-i", "u:flows", "-R", store.to_str().unwrap()],
        );
        replay.wait(Duration::from_secs(60));
        filt.wait(Duration::from_secs(60));
        let (csv, _) = logger.wait(Duration::from_secs(60));
        // No record passed: the stream was empty and the logger printed nothing.
        let got = if csv.is_empty() {
            Vec::new()
        } else {
            parse_csv(&csv)
        };
        let want = query(&store, filter);
        assert!(!want.is_empty() || *filter != "any", "the store is empty");
        eprintln!("filter '{filter}': {} flows", want.len());
        assert_same_rows(&got, &want, &format!("filter '{filter}'"));
    }
}

#[test]
fn tcp_and_file_interfaces_carry_the_same_records() {
    let dir = TempDir::new("stream-tcp");
    let store = make_store(&dir.0, &l7_pcaps());
    let sockets = dir.0.join("s");
    let port = free_port();
    let arrows = dir.0.join("out.arrows");
    let filter = "proto tcp or proto udp";
    // Replay serves TCP; filter reads it and writes a file; logger reads the file.
    let filt = Module::start(
        &sockets,
        &[
            "filter",
            "-i",
            &format!("t:localhost:{port},f:{}", arrows.display()),
            "-F",
            filter,
        ],
    );
    let replay = Module::start(
        &sockets,
        &[
            "replay",
            "-i",
            &format!("t:{port}"),
            "-R",
            store.to_str().unwrap(),
        ],
    );
    replay.wait(Duration::from_secs(60));
    filt.wait(Duration::from_secs(60));
    let logger = Module::start(
        &sockets,
        &["logger", "-i", &format!("f:{}", arrows.display())],
    );
    let (csv, _) = logger.wait(Duration::from_secs(60));
    assert_same_rows(
        &parse_csv(&csv),
        &query(&store, filter),
        "over TCP and a file",
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The `out SPEC: N records, M dropped` numbers of a module's last statistics line.
fn output_counts(stderr: &str, spec: &str) -> (u64, u64) {
    let line = stderr
        .lines()
        .rev()
        .find(|l| l.contains(&format!("out {spec}:")))
        .unwrap_or_else(|| panic!("no stats for {spec} in {stderr}"));
    let part = line.split(&format!("out {spec}: ")).nth(1).unwrap();
    let nums: Vec<u64> = part
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    (nums[0], nums[1])
}

/// A replay paced to last a few seconds, a filter restarted in the middle.
fn restart_filter_midstream(policy: &str) -> (u64, u64, u64) {
    let dir = TempDir::new(&format!("stream-restart-{policy}"));
    let pcap = generated_pcap(&dir.0, 20000);
    let store = make_store(&dir.0, &[pcap]);
    let total = query(&store, "any").len() as u64;
    let sockets = dir.0.join("s");
    let logger = Module::start(&sockets, &["logger", "-i", "u:out"]);
    let start_filter = || Module::start(&sockets, &["filter", "-i", "u:in,u:out", "-F", "any"]);
    let filt = start_filter();
    let out_spec = format!("u:in:{policy}:buffer=500");
    let replay = Module::start(
        &sockets,
        &[
            "replay",
            "-i",
            &out_spec,
            "-R",
            store.to_str().unwrap(),
            "--rate",
            "4000",
            "-S",
            "60",
        ],
    );
    std::thread::sleep(Duration::from_millis(1500));
    filt.terminate();
    std::thread::sleep(Duration::from_millis(700));
    let filt = start_filter();
    let (_, replay_err) = replay.wait(Duration::from_secs(60));
    filt.wait(Duration::from_secs(60));
    let (csv, _) = logger.wait(Duration::from_secs(60));
    let (sent, dropped) = output_counts(&replay_err, &out_spec);
    (total, parse_csv(&csv).len() as u64, dropped.min(sent))
}

#[test]
fn a_restarted_module_loses_nothing_under_wait() {
    let (total, logged, dropped) = restart_filter_midstream("wait");
    assert_eq!(dropped, 0);
    assert_eq!(logged, total, "records lost across the restart");
}

#[test]
fn under_drop_what_a_restart_missed_is_counted() {
    let (total, logged, dropped) = restart_filter_midstream("drop");
    assert!(
        dropped > 0,
        "nothing was dropped: the restart came too late?"
    );
    assert_eq!(
        logged + dropped,
        total,
        "logged {logged} + dropped {dropped} != {total}"
    );
}

fn have_pyarrow() -> bool {
    let found = Command::new("python3")
        .args(["-c", "import pyarrow.ipc"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "python3 with pyarrow is required in CI"
        );
        eprintln!("skipping: pyarrow is not installed");
    }
    found
}

const PY_READ_SOCKET: &str = r#"
import socket, sys, time, pyarrow.ipc as ipc
s = socket.socket(socket.AF_UNIX)
for _ in range(200):
    try:
        s.connect(sys.argv[1]); break
    except OSError:
        time.sleep(0.05)
r = ipc.open_stream(s.makefile("rb"))
t = r.read_all()
print(t.num_rows, sum(t.column("bytes").to_pylist()), t.schema.field("src_ip").type)
"#;

const PY_READ_FILE: &str = r#"
import sys, pyarrow.ipc as ipc
t = ipc.open_stream(open(sys.argv[1], "rb")).read_all()
print(t.num_rows, sum(t.column("bytes").to_pylist()), t.schema.field("src_ip").type)
"#;

const PY_WRITE: &str = r#"
import sys, pyarrow as pa, pyarrow.ipc as ipc
ip = lambda s: bytes(10) + b"\xff\xff" + bytes(int(x) for x in s.split("."))
t = pa.table({
    "src_ip": pa.array([ip("10.0.0.1"), ip("10.0.0.2")], pa.binary(16)),
    "dst_port": pa.array([80, 443], pa.uint16()),
    "bytes": pa.array([1000, 2000], pa.int64()),
    "note": ["from", "python"],
})
w = ipc.new_stream(sys.stdout.buffer, t.schema)
w.write_table(t)
w.close()
"#;

#[test]
fn pyarrow_reads_and_writes_eddy_streams() {
    if !have_pyarrow() {
        return;
    }
    let dir = TempDir::new("stream-py");
    let store = make_store(&dir.0, &l7_pcaps());
    let sockets = dir.0.join("s");
    let want = query(&store, "any");
    let want_bytes: u64 = want.iter().map(|r| r.num("bytes")).sum();
    let expect = format!("{} {want_bytes} fixed_size_binary[16]", want.len());

    // A u: stream, read by pyarrow.
    let replay = Module::start(
        &sockets,
        &["replay", "-i", "u:py", "-R", store.to_str().unwrap()],
    );
    let py = run_ok(
        Command::new("python3")
            .args(["-c", PY_READ_SOCKET])
            .arg(sockets.join("py.sock")),
    );
    replay.wait(Duration::from_secs(60));
    assert_eq!(String::from_utf8_lossy(&py.stdout).trim(), expect);

    // An f: file, written by replay, read by pyarrow.
    let file = dir.0.join("flows.arrows");
    Module::start(
        &sockets,
        &[
            "replay",
            "-i",
            &format!("f:{}", file.display()),
            "-R",
            store.to_str().unwrap(),
        ],
    )
    .wait(Duration::from_secs(60));
    let py = run_ok(
        Command::new("python3")
            .args(["-c", PY_READ_FILE])
            .arg(&file),
    );
    assert_eq!(String::from_utf8_lossy(&py.stdout).trim(), expect);

    // A stream written by pyarrow, read by the logger on stdin.
    let mut py = Command::new("python3")
        .args(["-c", PY_WRITE])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = eddy()
        .args(["module", "logger", "-i", "-"])
        .env("EDDY_SOCKET_DIR", &sockets)
        .stdin(py.stdout.take().unwrap())
        .output()
        .unwrap();
    py.wait().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "src_ip,dst_port,bytes,note\n10.0.0.1,80,1000,from\n10.0.0.2,443,2000,python\n"
    );
}

#[test]
fn bad_input_is_a_clear_error_and_other_inputs_go_on() {
    let dir = TempDir::new("stream-bad");
    let store = make_store(&dir.0, &[test_data().join("sample.pcap")]);
    let sockets = dir.0.join("s");
    std::fs::create_dir_all(&sockets).unwrap();
    let n_flows = query(&store, "any").len();

    // A "sender" that writes garbage, beside a good one.
    let listener = UnixListener::bind(sockets.join("bad.sock")).unwrap();
    let garbage = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let _ = conn.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n this is not arrow");
        std::thread::sleep(Duration::from_millis(300));
    });
    let logger = Module::start(
        &sockets,
        &[
            "logger",
            "-i",
            "u:bad,u:good",
            "--no-eof",
            "-c",
            &n_flows.to_string(),
        ],
    );
    let replay = Module::start(
        &sockets,
        &["replay", "-i", "u:good", "-R", store.to_str().unwrap()],
    );
    replay.wait(Duration::from_secs(60));
    let (csv, err) = logger.wait(Duration::from_secs(60));
    garbage.join().unwrap();
    assert!(err.contains("u:bad: not an Arrow IPC stream"), "{err}");
    assert_eq!(parse_csv(&csv).len(), n_flows);

    // A truncated file.
    let file = dir.0.join("flows.arrows");
    Module::start(
        &sockets,
        &[
            "replay",
            "-i",
            &format!("f:{}", file.display()),
            "-R",
            store.to_str().unwrap(),
        ],
    )
    .wait(Duration::from_secs(60));
    let bytes = std::fs::read(&file).unwrap();
    let cut = dir.0.join("cut.arrows");
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let (_, err) = Module::start(&sockets, &["logger", "-i", &format!("f:{}", cut.display())])
        .wait(Duration::from_secs(60));
    assert!(err.contains("truncated"), "{err}");

    // A stream without the fields the filter needs.
    let slim = dir.0.join("slim.arrows");
    Module::start(
        &sockets,
        &[
            "filter",
            "-i",
            &format!("f:{},f:{}", file.display(), slim.display()),
            "-F",
            "any",
            "-O",
            "src_ip,dst_ip",
        ],
    )
    .wait(Duration::from_secs(60));
    let (_, err) = Module::start(
        &sockets,
        &[
            "filter",
            "-i",
            &format!("f:{},b:", slim.display()),
            "-F",
            "proto tcp and dst port 80",
        ],
    )
    .wait(Duration::from_secs(60));
    assert!(
        err.contains("lacks fields this module needs: dst_port, proto"),
        "{err}"
    );
}

#[test]
fn the_meter_and_the_collector_produce_streams() {
    let dir = TempDir::new("stream-producers");
    let sockets = dir.0.join("s");
    let pcap = shared_testdata().join("pcap/http/ipfixprobe_http.pcap");
    let arrows = dir.0.join("meter.arrows");
    let ipfix = dir.0.join("x.ipfix");
    let out = run_ok(
        eddy()
            .args(["meter", "-q", "-o", "csv", "-r"])
            .arg(&pcap)
            .arg("--stream")
            .arg(format!("f:{}", arrows.display()))
            .arg("--ipfix")
            .arg(format!("file:{}", ipfix.display())),
    );
    let meter_rows = parse_csv(&String::from_utf8(out.stdout).unwrap());
    let (csv, _) = Module::start(
        &sockets,
        &["logger", "-i", &format!("f:{}", arrows.display())],
    )
    .wait(Duration::from_secs(30));
    let logged = parse_csv(&csv);
    // The logger prints the meter's CSV columns exactly as the meter does.
    let cols = [
        "first",
        "last",
        "src_ip",
        "dst_ip",
        "src_port",
        "dst_port",
        "proto",
        "tcp_flags",
        "packets",
        "bytes",
        "end_reason",
        "http_host",
        "http_url",
    ];
    let key = |rows: &[Row]| -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for r in rows {
            let k: Vec<&str> = cols.iter().map(|c| r.get(c)).collect();
            *m.entry(k.join("|")).or_insert(0) += 1;
        }
        m
    };
    assert_eq!(key(&logged), key(&meter_rows));

    // The collector's stream output.
    let config = dir.0.join("c.toml");
    let collected = dir.0.join("collected.arrows");
    std::fs::write(
        &config,
        format!(
            "[[input]]\nkind = \"file\"\npaths = [\"{}\"]\n[[output]]\nkind = \"stream\"\nto = \"f:{}\"\n",
            ipfix.display(),
            collected.display()
        ),
    )
    .unwrap();
    run_ok(
        eddy()
            .args(["collect", "-c"])
            .arg(&config)
            .env("EDDY_SOCKET_DIR", &sockets),
    );
    let (csv, _) = Module::start(
        &sockets,
        &["logger", "-i", &format!("f:{}", collected.display())],
    )
    .wait(Duration::from_secs(30));
    assert_eq!(parse_csv(&csv).len(), meter_rows.len());
}

#[test]
fn replay_reads_the_meters_csv_and_json_lines() {
    let dir = TempDir::new("stream-text");
    let sockets = dir.0.join("s");
    let pcap = shared_testdata().join("pcap/http/ipfixprobe_http.pcap");
    let meter_rows = parse_csv(
        &String::from_utf8(
            run_ok(eddy().args(["meter", "-q", "-o", "csv", "-r"]).arg(&pcap)).stdout,
        )
        .unwrap(),
    );
    let cols = [
        "first",
        "last",
        "src_ip",
        "dst_ip",
        "src_port",
        "dst_port",
        "proto",
        "packets",
        "bytes",
        "end_reason",
        "http_host",
        "http_url",
    ];
    let key = |rows: &[Row]| -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for r in rows {
            let k: Vec<&str> = cols.iter().map(|c| r.get(c)).collect();
            *m.entry(k.join("|")).or_insert(0) += 1;
        }
        m
    };
    for format in ["csv", "json"] {
        let file = dir.0.join(format!("flows.{format}"));
        let out = run_ok(eddy().args(["meter", "-q", "-o", format, "-r"]).arg(&pcap));
        std::fs::write(&file, out.stdout).unwrap();
        // The seed's command line: logreplay -i u:sock1 -f file.
        let logger = Module::start(&sockets, &["logger", "-i", "u:sock1"]);
        Module::start(
            &sockets,
            &["replay", "-i", "u:sock1", "-f", file.to_str().unwrap()],
        )
        .wait(Duration::from_secs(30));
        let (csv, _) = logger.wait(Duration::from_secs(30));
        assert_eq!(
            key(&parse_csv(&csv)),
            key(&meter_rows),
            "replay -f {format}"
        );
    }
}

#[test]
fn merger_anonymize_and_a_rules_file() {
    let dir = TempDir::new("stream-more");
    let store = make_store(&dir.0, &[test_data().join("sample.pcap")]);
    let sockets = dir.0.join("s");
    let n = query(&store, "any").len();
    let s = store.to_str().unwrap();

    // Two replays merged: every record of both.
    let logger = Module::start(&sockets, &["logger", "-i", "u:merged"]);
    let merger = Module::start(&sockets, &["merger", "-i", "u:a,u:b,u:merged"]);
    let a = Module::start(&sockets, &["replay", "-i", "u:a", "-R", s]);
    let b = Module::start(&sockets, &["replay", "-i", "u:b", "-R", s]);
    a.wait(Duration::from_secs(30));
    b.wait(Duration::from_secs(30));
    merger.wait(Duration::from_secs(30));
    let (csv, _) = logger.wait(Duration::from_secs(30));
    assert_eq!(parse_csv(&csv).len(), 2 * n);

    // Truncation keeps /24 of IPv4 addresses.
    let logger = Module::start(&sockets, &["logger", "-i", "u:anon", "-O", "src_ip,dst_ip"]);
    let anon = Module::start(
        &sockets,
        &["anonymize", "-i", "u:in,u:anon", "--truncate", "24/48"],
    );
    Module::start(&sockets, &["replay", "-i", "u:in", "-R", s]).wait(Duration::from_secs(30));
    anon.wait(Duration::from_secs(30));
    let (csv, _) = logger.wait(Duration::from_secs(30));
    let rows = parse_csv(&csv);
    assert_eq!(rows.len(), n);
    for r in &rows {
        for col in ["src_ip", "dst_ip"] {
            let ip = r.get(col);
            assert!(
                ip.contains(':') || ip.ends_with(".0"),
                "{col} {ip} is not truncated"
            );
        }
    }

    // A rules file: one output per rule, each with its fields.
    let rules = dir.0.join("rules");
    std::fs::write(
        &rules,
        "# web\nsrc_ip,dst_ip,dst_port: dst port 80 or dst port 443;\n: proto udp;\n",
    )
    .unwrap();
    let (web, udp) = (dir.0.join("web.arrows"), dir.0.join("udp.arrows"));
    let filt = Module::start(
        &sockets,
        &[
            "filter",
            "-i",
            &format!("u:in2,f:{},f:{}", web.display(), udp.display()),
            "-f",
            rules.to_str().unwrap(),
        ],
    );
    Module::start(&sockets, &["replay", "-i", "u:in2", "-R", s]).wait(Duration::from_secs(30));
    filt.wait(Duration::from_secs(30));
    let log = |f: &Path| {
        let (csv, _) = Module::start(&sockets, &["logger", "-i", &format!("f:{}", f.display())])
            .wait(Duration::from_secs(30));
        csv
    };
    let web_csv = log(&web);
    assert!(web_csv.starts_with("src_ip,dst_ip,dst_port\n"), "{web_csv}");
    assert_eq!(
        parse_csv(&web_csv).len(),
        query(&store, "dst port 80 or dst port 443").len()
    );
    assert_eq!(
        parse_csv(&log(&udp)).len(),
        query(&store, "proto udp").len()
    );
}

#[test]
fn the_control_socket_answers_stats() {
    let dir = TempDir::new("stream-ctl");
    let sockets = dir.0.join("s");
    let logger = Module::start(&sockets, &["logger", "-i", "u:nothing", "--name", "lg"]);
    let ctl = sockets.join("lg.ctl");
    let start = Instant::now();
    let reply = loop {
        if let Ok(mut c) = std::os::unix::net::UnixStream::connect(&ctl) {
            c.write_all(b"stats\n").unwrap();
            let mut line = String::new();
            let mut byte = [0u8; 1];
            while c.read(&mut byte).unwrap() == 1 && byte[0] != b'\n' {
                line.push(byte[0] as char);
            }
            break line;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no control socket"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let v: serde_yaml::Value = serde_yaml::from_str(&reply).expect("JSON");
    assert_eq!(v["module"].as_str(), Some("logger"));
    assert_eq!(v["name"].as_str(), Some("lg"));
    assert_eq!(v["inputs"][0]["spec"].as_str(), Some("u:nothing"));
    assert_eq!(v["inputs"][0]["records"].as_u64(), Some(0));
    assert!(v["rss_bytes"].as_u64().unwrap() > 0);
    assert!(v["cpu_s"].as_f64().is_some());
    logger.terminate();
}

#[test]
fn sighup_reloads_filter_rules_and_refuses_a_bad_set() {
    let dir = TempDir::new("stream-hup");
    let pcap = generated_pcap(&dir.0, 3000);
    let store = make_store(&dir.0, &[pcap]);
    let total = query(&store, "any").len();
    let tcp = query(&store, "proto tcp").len();
    let sockets = dir.0.join("s");
    let rules = dir.0.join("rules");
    std::fs::write(&rules, ": any;\n").unwrap();
    let out = dir.0.join("out.arrows");
    let filt = Module::start(
        &sockets,
        &[
            "filter",
            "-i",
            &format!("u:in,f:{}", out.display()),
            "-f",
            rules.to_str().unwrap(),
        ],
    );
    let pid = filt.child.as_ref().unwrap().id().to_string();
    let replay = Module::start(
        &sockets,
        &[
            "replay",
            "-i",
            "u:in:buffer=200",
            "-R",
            store.to_str().unwrap(),
            "--rate",
            "3000",
        ],
    );
    let hup = || {
        Command::new("kill").args(["-HUP", &pid]).status().unwrap();
    };
    std::thread::sleep(Duration::from_millis(800));
    // Two rules for one output: refused, the old rule stays.
    std::fs::write(&rules, ": any;\n: proto udp;\n").unwrap();
    hup();
    std::thread::sleep(Duration::from_millis(400));
    std::fs::write(&rules, ": proto tcp;\n").unwrap();
    hup();
    replay.wait(Duration::from_secs(60));
    let (_, err) = filt.wait(Duration::from_secs(60));
    assert!(
        err.contains("reload failed, keeping the old settings"),
        "{err}"
    );
    assert!(err.contains("reloaded"), "{err}");
    let (csv, _) = Module::start(&sockets, &["logger", "-i", &format!("f:{}", out.display())])
        .wait(Duration::from_secs(30));
    let passed = parse_csv(&csv).len();
    // Records before the reload passed `any`, after it only TCP ones: so
    // fewer than all and more than the TCP ones alone.
    assert!(
        passed < total && passed > tcp,
        "{passed} of {total} (tcp {tcp})"
    );
}

/// Unused nullable flow columns stay off the wire (a DNS capture's stream
/// has no HTTP, TLS, SMTP or SIP columns and is much smaller than under
/// `:dense`), yet the logger prints the same CSV from both, every column,
/// and a filter on an absent column (`http_host`) runs on it as nulls.
#[test]
fn unused_flow_columns_stay_off_the_wire() {
    let dir = TempDir::new("stream-sparse");
    let sockets = dir.0.join("s");
    let pcap = shared_testdata().join("pcap/dns/ipfixprobe_dns.pcap");
    let sparse = dir.0.join("sparse.arrows");
    let dense = dir.0.join("dense.arrows");
    let out = run_ok(
        eddy()
            .args(["meter", "-q", "-o", "csv", "-r"])
            .arg(&pcap)
            .arg("--stream")
            .arg(format!("f:{}", sparse.display())),
    );
    let meter_csv = String::from_utf8(out.stdout).unwrap();
    run_ok(
        eddy()
            .args(["meter", "-q", "-o", "csv", "-r"])
            .arg(&pcap)
            .arg("--stream")
            .arg(format!("f:{}:dense", dense.display())),
    );
    let (s, d) = (
        std::fs::metadata(&sparse).unwrap().len(),
        std::fs::metadata(&dense).unwrap().len(),
    );
    assert!(s * 3 < d * 2, "sparse {s} bytes, dense {d} bytes");

    let log = |file: &Path| -> String {
        let (csv, _) = Module::start(
            &sockets,
            &["logger", "-i", &format!("f:{}", file.display())],
        )
        .wait(Duration::from_secs(30));
        csv
    };
    let logged = log(&sparse);
    assert_eq!(logged, log(&dense));
    assert_eq!(parse_csv(&logged).len(), parse_csv(&meter_csv).len());
    let filtered = dir.0.join("filtered.arrows");
    Module::start(
        &sockets,
        &[
            "filter",
            "-i",
            &format!("f:{},f:{}", sparse.display(), filtered.display()),
            "-F",
            "not http_host ~ \"example\"",
        ],
    )
    .wait(Duration::from_secs(30));
    assert_eq!(log(&filtered), logged);
}

#[test]
fn replay_stops_with_an_error_at_a_broken_store_file() {
    // Windows are read ahead on a thread: an error there must still stop
    // the replay with the file's name, not end it quietly.
    let dir = TempDir::new("stream-broken-store");
    let made = make_store(&dir.0, &[test_data().join("sample.pcap")]);
    let files = store::list_files(&made, None, None, store::DEFAULT_WINDOW_SECS).unwrap();
    let one = &files.first().expect("a stored file").path;
    let day = dir.0.join("copy/bench/2026/01/01");
    std::fs::create_dir_all(&day).unwrap();
    std::fs::copy(one, day.join("flows.202601010000.parquet")).unwrap();
    let bytes = std::fs::read(one).unwrap();
    std::fs::write(
        day.join("flows.202601010005.parquet"),
        &bytes[..bytes.len() / 2],
    )
    .unwrap();
    std::fs::copy(one, day.join("flows.202601010010.parquet")).unwrap();
    let out = eddy()
        .args(["module", "replay", "-i", "b:", "-R"])
        .arg(dir.0.join("copy"))
        .output()
        .expect("run eddy");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("flows.202601010005.parquet"), "{stderr}");
}
