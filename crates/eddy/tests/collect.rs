//! `eddy collect`: flows exported by `eddy meter --ipfix` (as a file, and
//! replayed by `eddy send` over UDP and TCP) come out of the flow store
//! equal to the meter's CSV output, L7 fields included (those IPFIX
//! carries), and survive a kill -9.

mod common;

use std::collections::BTreeMap;
use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{
    eddy, l7_from_csv, l7_from_record, parse_csv, shared_testdata, test_data, Row, TempDir,
};
use record::FlowRecord;

/// The meter's CSV and its IPFIX file export of one capture.
fn meter(pcap: &Path, ipfix: &Path) -> Vec<Row> {
    let out = eddy()
        .args(["meter", "-o", "csv", "-q", "-r"])
        .arg(pcap)
        .arg("--ipfix")
        .arg(format!("file:{}", ipfix.display()))
        .output()
        .expect("run eddy meter");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    parse_csv(&String::from_utf8(out.stdout).unwrap())
}

/// Every record in every store file under `root`, and the files' sources.
fn read_store(root: &Path) -> (Vec<FlowRecord>, Vec<String>) {
    let files = store::list_files(root, None, None, 300).expect("list the store");
    let mut records = Vec::new();
    let mut sources = Vec::new();
    for f in files {
        records.extend(store::read_file(&f.path).expect("read a store file"));
        sources.push(f.source);
    }
    (records, sources)
}

/// Multiset of the columns both sides carry, as text; times in ms.
fn key_of_csv(r: &Row) -> String {
    let cols = [
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
    let mut v: Vec<String> = cols.iter().map(|c| r.get(c).to_string()).collect();
    v.push(rfc3339_ms(r.get("first")).to_string());
    v.push(rfc3339_ms(r.get("last")).to_string());
    v.push(format!("{:?}", l7_from_csv(r)));
    v.join("|")
}

fn key_of_record(f: &FlowRecord) -> String {
    let mac = |m: [u8; 6]| {
        m.iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":")
    };
    [
        f.src_addr().to_string(),
        f.dst_addr().to_string(),
        f.src_port.to_string(),
        f.dst_port.to_string(),
        f.proto.to_string(),
        f.tcp_flags.to_string(),
        f.tos.to_string(),
        f.packets.to_string(),
        f.bytes.to_string(),
        f.vlan.to_string(),
        mac(f.src_mac),
        mac(f.dst_mac),
        f.end_reason.name().to_string(),
        (f.first_ns / 1_000_000).to_string(),
        (f.last_ns / 1_000_000).to_string(),
        format!("{:?}", l7_from_record(f)),
    ]
    .join("|")
}

/// ms since the epoch of `2023-04-21T07:06:48.588381Z`, truncated.
fn rfc3339_ms(s: &str) -> u64 {
    let s = s.trim_end_matches('Z');
    let (date, time) = s.split_once('T').unwrap();
    let d: Vec<i64> = date.split('-').map(|x| x.parse().unwrap()).collect();
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let t: Vec<u64> = hms.split(':').map(|x| x.parse().unwrap()).collect();
    let ms: u64 = format!("{frac:0<3}")[..3].parse().unwrap();
    let days = record::days_from_civil(d[0], d[1] as u32, d[2] as u32) as u64;
    (days * 86_400 + t[0] * 3600 + t[1] * 60 + t[2]) * 1000 + ms
}

fn counts<I: IntoIterator<Item = String>>(keys: I) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for k in keys {
        *m.entry(k).or_insert(0) += 1;
    }
    m
}

fn assert_same_flows(csv: &[Row], stored: &[FlowRecord]) {
    assert_eq!(csv.len(), stored.len(), "record count");
    let want = counts(csv.iter().map(key_of_csv));
    let got = counts(stored.iter().map(key_of_record));
    assert_eq!(want, got);
}

fn captures() -> Vec<PathBuf> {
    vec![
        test_data().join("sample.pcap"),
        shared_testdata().join("pcap/tls/flowtest_tls12.pcap"),
        shared_testdata().join("pcap/http/ipfixprobe_http.pcap"),
        shared_testdata().join("pcap/smtp/ipfixprobe_smtp.pcap"),
        shared_testdata().join("pcap/sip/nfstream_sip.pcap"),
    ]
}

#[test]
fn ipfix_files_are_stored_as_the_meter_saw_them() {
    for pcap in captures() {
        let dir = TempDir::new("collect-file");
        let ipfix = dir.0.join("export.ipfix");
        let csv = meter(&pcap, &ipfix);
        let store_dir = dir.0.join("store");
        let out = eddy()
            .args(["collect", "-r"])
            .arg(&ipfix)
            .arg("-w")
            .arg(&store_dir)
            .output()
            .unwrap();
        let log = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{log}");
        assert!(log.contains("0 decode errors"), "{log}");
        // Files are their own spool: none is written.
        assert!(log.contains("no spool, every input is a file"), "{log}");
        assert!(!store_dir.join(".spool").exists());
        let (stored, sources) = read_store(&store_dir);
        assert_same_flows(&csv, &stored);
        assert!(sources.iter().all(|s| s == "file"), "{sources:?}");
    }
}

struct Collector {
    child: Child,
}

impl Collector {
    fn start(args: &[String]) -> Collector {
        let child = eddy()
            .arg("collect")
            .args(args)
            .stderr(Stdio::piped())
            .spawn()
            .expect("start eddy collect");
        // Give the sockets time to bind.
        std::thread::sleep(Duration::from_millis(500));
        Collector { child }
    }

    /// SIGTERM, then wait: the collector must flush and close everything.
    fn stop(mut self) -> String {
        let pid = self.child.id().to_string();
        let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let mut log = String::new();
                use std::io::Read;
                self.child
                    .stderr
                    .take()
                    .unwrap()
                    .read_to_string(&mut log)
                    .unwrap();
                assert!(status.success(), "collector failed: {log}");
                return log;
            }
            assert!(
                Instant::now() < deadline,
                "collector did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn send(ipfix: &Path, port: u16, transport: &str) {
    let out = eddy()
        .args(["send", "-i"])
        .arg(ipfix)
        .args(["-d", "127.0.0.1", "-p", &port.to_string(), "-t", transport])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn udp_and_tcp_exports_are_stored_completely() {
    let pcap = shared_testdata().join("pcap/tls/flowtest_tls12.pcap");
    for transport in ["udp", "tcp"] {
        let dir = TempDir::new("collect-net");
        let ipfix = dir.0.join("export.ipfix");
        let csv = meter(&pcap, &ipfix);
        let store_dir = dir.0.join("store");
        let port = if transport == "udp" {
            free_udp_port()
        } else {
            free_tcp_port()
        };
        let collector = Collector::start(&[
            "-l".into(),
            format!("{transport}://127.0.0.1:{port}"),
            "-w".into(),
            store_dir.display().to_string(),
        ]);
        send(&ipfix, port, transport);
        // Let the pipeline take what the socket holds.
        std::thread::sleep(Duration::from_millis(500));
        let log = collector.stop();
        let (stored, sources) = read_store(&store_dir);
        assert_same_flows(&csv, &stored);
        assert!(sources.iter().all(|s| s == "127.0.0.1"), "{sources:?}");
        assert!(stored
            .iter()
            .all(|r| r.exporter == "::ffff:127.0.0.1".parse::<std::net::Ipv6Addr>().unwrap()));
        assert!(log.contains("new "), "{log}");
        assert!(log.contains("0 dropped (queue full)"), "{log}");
    }
}

#[test]
fn bad_configuration_is_a_clear_error() {
    let dir = TempDir::new("collect-config");
    let config = dir.0.join("c.toml");
    std::fs::write(
        &config,
        "[[input]]\nkind = \"udp\"\nlisten = \":0\"\nlisen = 1\n",
    )
    .unwrap();
    let out = eddy()
        .args(["collect", "-c"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("lisen") && err.contains("c.toml"), "{err}");
    let out = eddy().args(["collect", "-l", ":0"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no output"));
}

/// Every record in the spools under `store/.spool`, counting whole batches
/// only (what the collector had acknowledged).
fn spooled_rows(store_dir: &Path) -> usize {
    let mut rows = 0;
    let Ok(sources) = std::fs::read_dir(store_dir.join(".spool")) else {
        return 0;
    };
    for s in sources.flatten() {
        for f in std::fs::read_dir(s.path()).unwrap().flatten() {
            let Ok(file) = std::fs::File::open(f.path()) else {
                continue;
            };
            let Ok(reader) = arrow_ipc::reader::StreamReader::try_new(file, None) else {
                continue;
            };
            for batch in reader {
                let Ok(batch) = batch else { break };
                rows += batch.num_rows();
            }
        }
    }
    rows
}

/// kill -9 during a load: every record the collector had acknowledged (the
/// complete files and the whole batches in its spools at that moment) is in
/// the store exactly once after a restart, and every visible file is whole.
#[test]
fn kill_9_loses_no_acknowledged_record() {
    let dir = TempDir::new("collect-kill");
    let pcap = dir.0.join("gen.pcap");
    let out = eddy()
        .args(["gen", "pcap", "--flows", "20000"])
        .arg(&pcap)
        .output()
        .unwrap();
    assert!(out.status.success());
    let ipfix = dir.0.join("export.ipfix");
    let csv = meter(&pcap, &ipfix);
    let store_dir = dir.0.join("store");
    let port = free_tcp_port();
    let args = [
        "-l".to_string(),
        format!("tcp://127.0.0.1:{port}"),
        "-w".into(),
        store_dir.display().to_string(),
        "--window".into(),
        "1".into(),
    ];
    let mut collector = Collector::start(&args);
    let mut sender = eddy()
        .args(["send", "-q", "-t", "tcp", "-r", "20", "-i"])
        .arg(&ipfix)
        .args(["-p", &port.to_string()])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    collector.child.kill().unwrap(); // SIGKILL
    collector.child.wait().unwrap();
    let _ = sender.kill();
    let _ = sender.wait();
    let (complete, _) = read_store(&store_dir);
    let acknowledged = complete.len() + spooled_rows(&store_dir);
    assert!(acknowledged > 0, "nothing was acknowledged before the kill");
    assert!(
        acknowledged < csv.len(),
        "the kill came after the whole load"
    );

    // A restart recovers; stopping it right away leaves the store final.
    let restarted = Collector::start(&args);
    let log = restarted.stop();
    assert!(log.contains("recovered"), "{log}");
    let (stored, _) = read_store(&store_dir);
    assert_eq!(stored.len(), acknowledged, "{log}");
    // Exactly once: each stored record is one the meter made, none twice
    // more often than the meter made it.
    let want = counts(csv.iter().map(key_of_csv));
    let got = counts(stored.iter().map(key_of_record));
    for (k, n) in &got {
        assert!(want.get(k).is_some_and(|m| n <= m), "{k} stored {n} times");
    }
    assert_eq!(spooled_rows(&store_dir), 0);
}

/// SIGHUP re-reads the configuration: outputs switch without losing what
/// the old ones buffered; an unchanged store output keeps its open window
/// (one file, not a second part); a broken file is refused and the old one
/// stays.
#[test]
fn sighup_reloads_outputs_without_losing_records() {
    let dir = TempDir::new("collect-hup");
    let ipfix = dir.0.join("export.ipfix");
    let csv = meter(&test_data().join("sample.pcap"), &ipfix);
    let port = free_tcp_port();
    let config = dir.0.join("c.toml");
    let store_dir = dir.0.join("store");
    let write_config = |json: &Path| {
        std::fs::write(
            &config,
            format!(
                "[[input]]\nkind = \"tcp\"\nlisten = \"127.0.0.1:{port}\"\n[[output]]\nkind = \"json\"\nto = \"{}\"\n[[output]]\nkind = \"store\"\npath = \"{}\"\nwindow = 86400\n",
                json.display(),
                store_dir.display()
            ),
        )
        .unwrap();
    };
    let (a, b) = (dir.0.join("a.json"), dir.0.join("b.json"));
    write_config(&a);
    let collector = Collector::start(&["-c".into(), config.display().to_string()]);
    let hup = |c: &Collector| {
        let pid = c.child.id().to_string();
        assert!(Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap()
            .success());
        std::thread::sleep(Duration::from_millis(1500));
    };
    send(&ipfix, port, "tcp");
    std::thread::sleep(Duration::from_millis(300));
    write_config(&b);
    hup(&collector);
    // A broken file is refused: b stays the output.
    std::fs::write(&config, "[[input]]\nkind = \"tcp\"\nlisten = 1\n").unwrap();
    hup(&collector);
    send(&ipfix, port, "tcp");
    std::thread::sleep(Duration::from_millis(300));
    let log = collector.stop();
    let lines = |p: &Path| std::fs::read_to_string(p).unwrap().lines().count();
    assert_eq!(lines(&a), csv.len(), "{log}");
    assert_eq!(lines(&b), csv.len(), "{log}");
    assert!(log.contains("reloaded"), "{log}");
    assert!(log.contains("reload refused"), "{log}");
    // The store output did not change: both sends are in one file.
    let files = store::list_files(&store_dir, None, None, 86400).unwrap();
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(read_store(&store_dir).0.len(), 2 * csv.len());
}

/// A tmpfs mount that goes away with the test.
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// None (with a note) where mounting is not allowed (not root).
    fn mount(path: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(path).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("note: cannot mount a tmpfs here (not root?); skipping the full-disk check");
            return None;
        }
        Some(Tmpfs(path.to_path_buf()))
    }

    fn resize(&self, size: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// A full store disk: a clear error, the records wait in the spool (on
/// another disk), and the next start stores every one of them.
#[test]
fn a_full_store_disk_keeps_records_in_the_spool() {
    let dir = TempDir::new("collect-full");
    let Some(disk) = Tmpfs::mount(&dir.0.join("store"), "64k") else {
        return;
    };
    let pcap = dir.0.join("gen.pcap");
    let out = eddy()
        .args(["gen", "pcap", "--flows", "5000"])
        .arg(&pcap)
        .output()
        .unwrap();
    assert!(out.status.success());
    let ipfix = dir.0.join("export.ipfix");
    let csv = meter(&pcap, &ipfix);
    let config = dir.0.join("c.toml");
    let port = free_tcp_port();
    std::fs::write(
        &config,
        format!(
            "[[input]]\nkind = \"tcp\"\nlisten = \"127.0.0.1:{port}\"\n[[output]]\nkind = \"store\"\npath = \"{}\"\nwindow = 1\nspool_dir = \"{}\"\n",
            disk.0.display(),
            dir.0.join("spool").display()
        ),
    )
    .unwrap();
    let args = ["-c".to_string(), config.display().to_string()];
    let collector = Collector::start(&args);
    send(&ipfix, port, "tcp");
    std::thread::sleep(Duration::from_millis(2500));
    let log = collector.stop();
    assert!(log.contains("No space left on device"), "{log}");
    assert!(log.contains("stay in the spool"), "{log}");

    disk.resize("64m");
    let collector = Collector::start(&args);
    let log = collector.stop();
    assert!(log.contains("recovered"), "{log}");
    let (stored, _) = read_store(&disk.0);
    assert_same_flows(&csv, &stored);
}

/// The anonymize, geoip, filter and odid stages from a configuration file,
/// in order: JSON lines show what each did.
#[test]
fn configured_stages_change_records_in_order() {
    let dir = TempDir::new("collect-stages");
    let ipfix = dir.0.join("export.ipfix");
    let csv = meter(&test_data().join("sample.pcap"), &ipfix);
    let json = dir.0.join("out.json");
    let config = dir.0.join("c.toml");
    let mmdb = shared_testdata().join("mmdb");
    std::fs::write(
        &config,
        format!(
            r#"[[input]]
kind = "file"
paths = ["{ipfix}"]
[[stage]]
kind = "filter"
expr = "proto udp"
[[stage]]
kind = "anonymize"
mode = "truncate"
v4_bits = 16
[[stage]]
kind = "geoip"
country_db = "{country}"
asn_db = "{asn}"
[[stage]]
kind = "odid"
join = 42
[[output]]
kind = "json"
to = "{json}"
"#,
            ipfix = ipfix.display(),
            country = mmdb.join("GeoIP2-Country-Test.mmdb").display(),
            asn = mmdb.join("GeoLite2-ASN-Test.mmdb").display(),
            json = json.display()
        ),
    )
    .unwrap();
    let out = eddy()
        .args(["collect", "-c"])
        .arg(&config)
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    let udp = csv.iter().filter(|r| r.get("proto") == "17").count();
    let text = std::fs::read_to_string(&json).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), udp, "{log}");
    assert!(udp > 0 && udp < csv.len());
    for line in lines {
        assert!(line.contains("\"proto\":17"), "{line}");
        assert!(line.contains("\"odid\":42"), "{line}");
        // /16 truncation of IPv4 addresses: the last two octets are zero.
        let src = line
            .split("\"src_ip\":\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        if src.contains('.') {
            assert!(src.ends_with(".0.0"), "{src}");
        }
    }
    assert!(log.contains("rejected by stages"), "{log}");
}
