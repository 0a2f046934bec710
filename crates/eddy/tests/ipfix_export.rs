//! `eddy meter --ipfix`: the exported flows equal the CSV output, read back
//! with the ipfix crate (file export) and with nfcapd/nfdump (UDP export).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{
    eddy, have_tool, l7_from_csv, l7_from_record, parse_csv, shared_testdata, start_nfcapd,
    stderr_of, Row, TempDir,
};
use record::FlowRecord;

fn tls12() -> PathBuf {
    shared_testdata().join("pcap/tls/flowtest_tls12.pcap")
}

/// Runs `eddy meter -r PCAP -o csv -q --ipfix DEST ARGS...`.
fn meter_with_export(pcap: &Path, dest: &str, args: &[&str]) -> Vec<Row> {
    let out = eddy()
        .args(["meter", "-o", "csv", "-q", "-r"])
        .arg(pcap)
        .args(["--ipfix", dest])
        .args(args)
        .output()
        .expect("run eddy");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    parse_csv(&String::from_utf8(out.stdout).unwrap())
}

/// ms since the epoch from `2023-04-21T07:06:48.588381Z` (truncated, as
/// flowStart/EndMilliseconds carry it).
fn csv_time_ms(s: &str) -> u64 {
    let s = s.trim_end_matches('Z');
    let (date, time) = s.split_once('T').unwrap();
    let mut d = date.split('-').map(|x| x.parse::<i64>().unwrap());
    let (y, m, day) = (d.next().unwrap(), d.next().unwrap(), d.next().unwrap());
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let mut t = hms.split(':').map(|x| x.parse::<u64>().unwrap());
    let (hh, mm, ss) = (t.next().unwrap(), t.next().unwrap(), t.next().unwrap());
    let ms: u64 = format!("{frac:0<3}")[..3].parse().unwrap();
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = (era * 146_097 + doe - 719_468) as u64;
    (days * 86_400 + hh * 3600 + mm * 60 + ss) * 1000 + ms
}

fn mac(m: [u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The columns IPFIX carries, as text.
fn from_csv(r: &Row) -> Vec<String> {
    let mut v: Vec<String> = [
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
    ]
    .iter()
    .map(|c| r.get(c).to_string())
    .collect();
    v.push(csv_time_ms(r.get("first")).to_string());
    v.push(csv_time_ms(r.get("last")).to_string());
    v
}

fn from_ipfix(f: &FlowRecord) -> Vec<String> {
    vec![
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
    ]
}

/// A decoded record's raw fields as (enterprise, id, value).
type RawFields = Vec<(u32, u16, Vec<u8>)>;

fn raw(fields: &RawFields, pen: u32, id: u16) -> Option<&[u8]> {
    fields
        .iter()
        .find(|f| (f.0, f.1) == (pen, id))
        .map(|f| f.2.as_slice())
}

fn read_ipfix_file(path: &Path) -> Vec<FlowRecord> {
    read_ipfix_file_raw(path).into_iter().map(|r| r.0).collect()
}

fn read_ipfix_file_raw(path: &Path) -> Vec<(FlowRecord, RawFields)> {
    let bytes = std::fs::read(path).expect("ipfix file");
    let mut decoder = ipfix::Decoder::new();
    let mut flows = Vec::new();
    for msg in ipfix::file_messages(&bytes) {
        let msg = msg.expect("a well-formed message");
        let (decoded, errors) = decoder.decode(1, msg, &mut |ctx, rec| {
            let mut flow = ipfix::to_flow(ctx, rec);
            flow.reverse = ipfix::encode::reverse_of(rec);
            let fields = rec
                .fields()
                .map(|f| (f.spec.pen, f.spec.id, f.value.to_vec()))
                .collect();
            flows.push((flow, fields));
        });
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(decoded.context.odid, 1);
    }
    flows
}

#[test]
fn file_export_decodes_to_the_csv_flows() {
    let dir = TempDir::new("ipfix-file");
    let path = dir.0.join("flows.ipfix");
    let dest = format!("file:{}", path.display());
    let rows = meter_with_export(&tls12(), &dest, &[]);
    assert!(!rows.is_empty());
    let records = read_ipfix_file_raw(&path);
    let want: Vec<_> = rows.iter().map(from_csv).collect();
    let got: Vec<_> = records.iter().map(|r| from_ipfix(&r.0)).collect();
    assert_eq!(got, want);
    // The TLS fields travel in the CESNET/Flowmon elements ipfixprobe uses.
    let (cesnet, flowmon) = (ipfix::registry::PEN_CESNET, ipfix::registry::PEN_FLOWMON);
    let mut with_tls = 0;
    for (row, (_, fields)) in rows.iter().zip(&records) {
        if row.get("tls_version").is_empty() {
            continue;
        }
        with_tls += 1;
        let version = raw(fields, flowmon, 333).expect("tls_version");
        assert_eq!(
            u16::from_be_bytes([version[0], version[1]]).to_string(),
            row.get("tls_version")
        );
        assert_eq!(
            raw(fields, cesnet, 809),
            Some(row.get("tls_ja4").as_bytes())
        );
        assert_eq!(
            raw(fields, cesnet, 808),
            Some(row.get("tls_sni").as_bytes())
        );
        let ja3: String = raw(fields, flowmon, 357)
            .expect("tls_ja3")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let want_ja3 = match row.get("tls_ja3") {
            "" => "0".repeat(32),
            hex => hex.to_string(),
        };
        assert_eq!(ja3, want_ja3);
    }
    assert!(with_tls > 0, "the capture has TLS hellos");
}

/// HTTP, DNS, TLS, SMTP and SIP fields of the CSV come back from the
/// exported file, column by column (see `ipfix::flow` for what the wire
/// cannot carry).
#[test]
fn l7_columns_survive_the_export() {
    let dir = TempDir::new("ipfix-l7");
    let mut protocols = std::collections::BTreeSet::new();
    for pcap in [
        "pcap/http/ipfixprobe_http.pcap",
        "pcap/dns/ipfixprobe_dns.pcap",
        "pcap/tls/flowtest_tls12.pcap",
        "pcap/smtp/ipfixprobe_smtp.pcap",
        "pcap/sip/nfstream_sip.pcap",
    ] {
        let path = dir.0.join("flows.ipfix");
        let dest = format!("file:{}", path.display());
        let rows = meter_with_export(&shared_testdata().join(pcap), &dest, &[]);
        let flows = read_ipfix_file(&path);
        assert_eq!(flows.len(), rows.len(), "{pcap}");
        let mut n_l7 = 0;
        for (i, (row, flow)) in rows.iter().zip(&flows).enumerate() {
            assert_eq!(from_ipfix(flow), from_csv(row), "{pcap}: record {i}");
            let want = l7_from_csv(row);
            assert_eq!(l7_from_record(flow), want, "{pcap}: record {i}");
            if let Some(l7) = flow.l7.as_ref() {
                protocols.insert(l7.protocol());
                n_l7 += usize::from(want.iter().any(|c| c.1.is_some()));
            }
        }
        assert!(n_l7 > 0, "{pcap}: no L7 fields compared");
        let _ = std::fs::remove_file(&path);
    }
    assert_eq!(
        protocols.into_iter().collect::<Vec<_>>(),
        ["dns", "http", "sip", "smtp", "tls"]
    );
}

#[test]
fn biflow_export_keeps_the_reverse_counters() {
    let dir = TempDir::new("ipfix-biflow");
    let path = dir.0.join("flows.ipfix");
    let dest = format!("file:{}", path.display());
    let rows = meter_with_export(&tls12(), &dest, &["--biflow"]);
    let flows = read_ipfix_file(&path);
    assert_eq!(flows.len(), rows.len());
    let mut reversed = 0;
    for (row, flow) in rows.iter().zip(&flows) {
        assert_eq!(from_ipfix(flow), from_csv(row));
        let rev = flow.reverse.expect("biflow records carry reverse counters");
        assert_eq!(rev.packets, row.num("rev_packets"));
        assert_eq!(rev.bytes, row.num("rev_bytes"));
        reversed += usize::from(rev.packets > 0);
    }
    assert!(reversed > 0, "the capture has answered connections");
}

/// A child process killed and reaped if the test fails before it ends.
#[test]
fn nfcapd_receives_the_csv_flows_over_udp() {
    if !have_tool("nfcapd") || !have_tool("nfdump") {
        return;
    }
    let dir = TempDir::new("ipfix-nfcapd");
    let (mut nfcapd, port) = start_nfcapd(&dir.0);
    let rows = meter_with_export(&tls12(), &format!("udp://127.0.0.1:{port}"), &[]);
    // Loopback delivery is immediate; give nfcapd a moment to process.
    std::thread::sleep(Duration::from_millis(300));
    let killed = Command::new("kill")
        .args(["-TERM", &nfcapd.0.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let status = nfcapd.0.wait().expect("nfcapd exits");
    assert!(
        status.success(),
        "nfcapd: {status}: {}",
        stderr_of(&mut nfcapd.0)
    );
    let out = Command::new("nfdump")
        .arg("-R")
        .arg(&dir.0)
        .args(["-q", "-N", "-o", "fmt:%sa|%da|%sp|%dp|%pr|%pkt|%byt"])
        .output()
        .expect("run nfdump");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut got: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains('|'))
        .map(|l| l.split('|').map(str::trim).collect::<Vec<_>>().join(" "))
        .collect();
    let mut want: Vec<String> = rows
        .iter()
        .map(|r| {
            [
                "src_ip", "dst_ip", "src_port", "dst_port", "proto", "packets", "bytes",
            ]
            .map(|c| r.get(c))
            .join(" ")
        })
        .collect();
    got.sort();
    want.sort();
    assert!(!want.is_empty());
    assert_eq!(got, want);
}
