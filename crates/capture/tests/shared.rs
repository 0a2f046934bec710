//! The shared captures (public test data of other projects): every pcap and
//! pcapng file opens and reads, and agrees with capinfos and tshark on frame
//! count, captured bytes and first/last timestamps. Cut or corrupted, they
//! never make the reader panic, and a cut after the file header still reads
//! cleanly.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use capture::{open_file, open_reader, CaptureError, Event, SourceStats};
use proptest::prelude::*;

/// The shared test data, found from the crate's folder at run time (a
/// test binary may have been built in another checkout).
fn shared() -> PathBuf {
    PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("../../../shared/testdata")
}

/// (path under testdata, frames, wire bytes (sum of original lengths), first
/// and last timestamp in ns, in file order), from `capinfos -c -d -M` and
/// `tshark -r FILE -T fields -e frame.time_epoch` (tshark 4.0). A capture
/// missing here is checked against capinfos when it is installed.
/// `EDDY_BLESS=1 cargo test -p capture --test shared -- --nocapture` prints
/// the table afresh from tshark.
#[rustfmt::skip]
const GOLDEN: &[(&str, u64, u64, u64, u64)] = &[
    ("ipfix/akvorado_ipfixprobe-data.pcap", 1, 386, 1759076323634898000, 1759076323634898000),
    ("ipfix/akvorado_ipfixprobe-templates.pcap", 1, 238, 1759076323634883000, 1759076323634883000),
    ("ipfix/nfstream_netflow-fritz.pcap", 1, 222, 1498072707863157000, 1498072707863157000),
    ("ipfix/pmacct_100-IPFIXv10-CISCO_traffic-00.pcap", 6, 2084, 1672534805000000000, 1672534805005000000),
    ("ipfix/pmacct_104-IPFIXv10-IPv6-CISCO-sampling_option_traffic-00.pcap", 5, 1538, 1672534805000000000, 1672534805004000000),
    ("netflow/v5/akvorado_nfv5.pcap", 1, 1458, 1680655485099595000, 1680655485099595000),
    ("netflow/v9/akvorado_data.pcap", 1, 326, 1662723601518767000, 1662723601518767000),
    ("netflow/v9/akvorado_icmp-data.pcap", 1, 182, 1685868005088925000, 1685868005088925000),
    ("netflow/v9/akvorado_icmp-template.pcap", 1, 502, 1685868005088854000, 1685868005088854000),
    ("netflow/v9/akvorado_options-data.pcap", 1, 254, 1662723632719039000, 1662723632719039000),
    ("netflow/v9/akvorado_options-template.pcap", 1, 98, 1662723650214950000, 1662723650214950000),
    ("netflow/v9/akvorado_template.pcap", 1, 162, 1662723663679669000, 1662723663679669000),
    ("netflow/v9/nfstream_netflowv9.pcap", 10, 13888, 1568213026961189000, 1568213026962107000),
    ("netflow/v9/pmacct_101-NFv9-CISCO-cust_primitives_traffic-00.pcap", 40, 9460, 1672534805000000000, 1672534805039000000),
    ("pcap/attack/stopddos_amp.TCP.syn.optionallyACK.optionallysamePort.pcapng", 896, 57698, 1624218177294010000, 1624218995453656000),
    ("pcap/attack/traceshare_hydra-8_tasks.pcap", 19850, 2769832, 879577000, 1201411452000),
    ("pcap/basic/flowtest_icmp.pcap", 8, 592, 1371631556838904000, 1371631560042354000),
    ("pcap/basic/flowtest_ipv4-udp-fragmented.pcap", 8, 6083, 1439405887494493000, 1439405889374077000),
    ("pcap/basic/ipfixprobe_mixed.pcap", 205, 26018, 1477674021971095000, 1477674894143021000),
    ("pcap/basic/ipfixprobe_ntp.pcap", 56, 5040, 1460314469121750000, 1460314538172525000),
    ("pcap/basic/nfstream_one_flow.pcap", 19, 5745, 1472393122365661000, 1472393123665163000),
    ("pcap/basic/zeek_tcp_reassembly.pcap", 117, 41352, 1078895630194466000, 1078895644564378000),
    ("pcap/basic/zeek_tcp_syn-synack.pcap", 2, 152, 1362692526869344000, 1362692526939084000),
    ("pcap/basic/zeek_udp-packet.pcap", 4, 192, 1584014617531081000, 1584014635499969000),
    ("pcap/communityid/zeek_communityid_arp.pcap", 6, 324, 1081889803830079000, 1081889813968358000),
    ("pcap/communityid/zeek_communityid_icmp.pcap", 12, 888, 1309144887024263000, 1309144890030473000),
    ("pcap/communityid/zeek_communityid_icmp6.pcap", 49, 4548, 921159907494265000, 921159966755968000),
    ("pcap/communityid/zeek_communityid_ipv6.pcap", 17, 1532, 1418793769660674000, 1418793781076847000),
    ("pcap/communityid/zeek_communityid_sctp.pcap", 74, 67816, 1108716598686079000, 1108716598771526000),
    ("pcap/communityid/zeek_communityid_tcp.pcap", 12, 3035, 1071580904891921000, 1071580905346457000),
    ("pcap/communityid/zeek_communityid_udp.pcap", 2, 316, 1397184859628725000, 1397184859639365000),
    ("pcap/dns/flowtest_dns_a.pcap", 2, 194, 1646928154585241000, 1646928154589530000),
    ("pcap/dns/flowtest_dns_aaaa.pcap", 2, 789, 1646928227505606000, 1646928227514947000),
    ("pcap/dns/flowtest_dns_cname.pcap", 2, 177, 1646928410720825000, 1646928410724273000),
    ("pcap/dns/flowtest_dns_mx.pcap", 2, 368, 1112172470501268000, 1112172471333401000),
    ("pcap/dns/flowtest_dns_nx_domain.pcap", 2, 166, 1112172745357346000, 1112172745375359000),
    ("pcap/dns/flowtest_dns_refused.pcap", 2, 170, 1646928454886520000, 1646928454890195000),
    ("pcap/dns/flowtest_dns_server_failure.pcap", 2, 170, 1646928478008476000, 1646928478012592000),
    ("pcap/dns/flowtest_dns_soa.pcap", 2, 210, 1335207585563861000, 1335207585564836000),
    ("pcap/dns/flowtest_dns_srv.pcap", 2, 242, 1347402965492516000, 1347402965494527000),
    ("pcap/dns/flowtest_dns_tcp.pcap", 2, 714, 1572433201092137000, 1572433201147769000),
    ("pcap/dns/flowtest_dns_zone_change.pcap", 1, 119, 1646928495006705000, 1646928495006705000),
    ("pcap/dns/ipfixprobe_dns.pcap", 16, 2546, 1460049092478747000, 1460049092878007000),
    ("pcap/dns/ndpi_dns_ambiguous_names.pcap", 20, 2787, 1625744123717337000, 1625744124461060000),
    ("pcap/dns/suricata_dns-udp-eve-txt.pcap", 4, 426, 1496936757828730000, 1496936758525601000),
    ("pcap/encap/flowtest_gre.pcap", 10, 1380, 1214049966434897000, 1214049966586923000),
    ("pcap/encap/flowtest_mpls-vpn-transport-vpn-labels.pcap", 10, 1200, 1440595540766725000, 1440595540776857000),
    ("pcap/encap/flowtest_vxlan.pcap", 8, 1184, 1467818432676047000, 1467818435680663000),
    ("pcap/encap/nfstream_4in4tunnel.pcap", 5, 850, 1537044271794779000, 1537165843864842000),
    ("pcap/encap/nfstream_6in4tunnel.pcap", 127, 40293, 1444236893450580000, 1444236915586195000),
    ("pcap/http/flowtest_http2_switch.pcap", 6, 1008, 1534095041693796000, 1534095042294392000),
    ("pcap/http/flowtest_http_400.pcap", 12, 1682, 1654642686510633000, 1654642686513462000),
    ("pcap/http/flowtest_http_401.pcap", 14, 3027, 1523037996488848000, 1523037996515103000),
    ("pcap/http/flowtest_http_404.pcap", 11, 1678, 1531747183842270000, 1531747184134260000),
    ("pcap/http/flowtest_http_500.pcap", 12, 5397, 946693898641473000, 946693898711983000),
    ("pcap/http/flowtest_http_crlf_in_header.pcap", 10, 1025, 1654642686568294000, 1654642686570987000),
    ("pcap/http/flowtest_http_delete.pcap", 10, 959, 946724387825321000, 946724387840980000),
    ("pcap/http/flowtest_http_get.pcap", 40, 24835, 1299012313266821000, 1299012313513650000),
    ("pcap/http/flowtest_http_invalid_method.pcap", 12, 1668, 1654642686582160000, 1654642686584811000),
    ("pcap/http/flowtest_http_post.pcap", 12, 2630, 946752648509392000, 946752648956662000),
    ("pcap/http/flowtest_http_put.pcap", 10, 956, 946724254011602000, 946724254026929000),
    ("pcap/http/ipfixprobe_http.pcap", 46, 66168, 1460053411194983000, 1460053414496023000),
    ("pcap/http/suricata_testmyids.pcap", 10, 920, 1464332171304062000, 1464332171900923000),
    ("pcap/http/zeek_http_get.pcap", 14, 6087, 1362692526869344000, 1362692527080972000),
    ("pcap/icmp/zeek_icmp-destunreach-udp.pcap", 1, 194, 1258568548135731000, 1258568548135731000),
    ("pcap/icmp/zeek_icmp-ping.pcap", 4, 392, 1334173763977955000, 1334173764983033000),
    ("pcap/icmp/zeek_icmp6-ping.pcap", 8, 752, 1327348947338241000, 1327348950374920000),
    ("pcap/ipv6/flowtest_ipv6-auth-header.pcap", 1, 122, 946737189311250000, 946737189311250000),
    ("pcap/ipv6/flowtest_ipv6-dst-opts.pcap", 1, 302, 1692698539161817000, 1692698539161817000),
    ("pcap/ipv6/flowtest_ipv6-esp.pcap", 1, 62, 1418173441014239000, 1418173441014239000),
    ("pcap/ipv6/flowtest_ipv6-hop-by-hop.pcap", 2, 220, 1646927981803514000, 1646927981804492000),
    ("pcap/ipv6/flowtest_ipv6-mobile.pcap", 1, 86, 946751949739752000, 946751949739752000),
    ("pcap/ipv6/flowtest_ipv6-neighbor-discovery.pcap", 3, 250, 1432738470118890000, 1432738475150571000),
    ("pcap/ipv6/flowtest_ipv6-routing-header.pcap", 10, 1440, 946751867681176000, 946751867683105000),
    ("pcap/ipv6/flowtest_ipv6-smtp.pcap", 17, 1532, 1418793769660674000, 1418793781076847000),
    ("pcap/ipv6/flowtest_ipv6-udp-fragmented.pcap", 6, 5908, 1439408113312348000, 1439408113569349000),
    ("pcap/ipv6/nfstream_http_ipv6.pcap", 193, 66327, 1448269123954061000, 1448269146970056000),
    ("pcap/quic/ipfixprobe_quic_initial-sample.pcap", 1, 1392, 1627824353513510000, 1627824353513510000),
    ("pcap/sip/ndpi_sip_hello.pcapng", 30, 5592, 1645515834707950000, 1645516326267438000),
    ("pcap/sip/nfstream_sip.pcap", 112, 49159, 1120469572844249000, 1120471094413365000),
    ("pcap/sip/suricata_sip-method.pcap", 691, 99997, 1120469540839312000, 1120471107427770000),
    ("pcap/sip/suricata_sip-sdp.pcap", 2, 2047, 1728977333934216000, 1728977333934449000),
    ("pcap/sip/suricata_sip-tcp.pcap", 11, 1818, 1643827934643122000, 1643827934687505000),
    ("pcap/smtp/ipfixprobe_smtp.pcap", 60, 26866, 1254722767492060000, 1254722776690444000),
    ("pcap/smtp/nfstream_smtp-starttls.pcap", 36, 8403, 1388017124762850000, 1388017125239930000),
    ("pcap/tls/flowtest_ssl-v2.pcap", 24, 3248, 1154371356488230000, 1154371364440651000),
    ("pcap/tls/flowtest_tls10.pcap", 26, 7717, 1682060037430945000, 1682060060464295000),
    ("pcap/tls/flowtest_tls11.pcap", 26, 7618, 1682060466244532000, 1682060487283134000),
    ("pcap/tls/flowtest_tls12.pcap", 26, 7550, 1682060808588381000, 1682060843631440000),
    ("pcap/tls/flowtest_tls12_alpn.pcap", 39, 8630, 946730129315402000, 946730129603669000),
    ("pcap/tls/flowtest_tls13.pcap", 13, 2830, 1532373668889197000, 1532373668915073000),
    ("pcap/tls/flowtest_tls13_0rtt.pcap", 31, 5326, 1532450323087399000, 1532450332016442000),
    ("pcap/tls/flowtest_tls_cipher_error.pcap", 11, 861, 1654642686554433000, 1654642686556915000),
    ("pcap/tls/flowtest_tls_invalid_cert.pcap", 11, 2634, 1654642686526220000, 1654642686528314000),
    ("pcap/tls/flowtest_tls_malformed_cert.pcap", 10, 7254, 1657551213047218000, 1657551215099359000),
    ("pcap/tls/flowtest_tls_ssl30.pcap", 26, 6755, 1682059759349273000, 1682059783382411000),
    ("pcap/tls/flowtest_tls_version_error.pcap", 11, 964, 1654642686593544000, 1654642686595585000),
    ("pcap/tls/ipfixprobe_tls.pcap", 206, 71635, 1445324973611190000, 1678439059304938000),
    ("pcap/tls/nfstream_google_ssl.pcap", 28, 9108, 1434443394683939000, 1434443401353810000),
    ("pcap/vlan/flowtest_802.1Q_tunneling.pcap", 10, 1220, 1277840495135052000, 1277840495142543000),
    ("pcap/vlan/flowtest_ICMP_across_dot1q.pcap", 9, 1062, 1213957271995619000, 1213957272997261000),
    ("pcap/vlan/ipfixprobe_vlan.pcap", 6, 1120, 946712870501268000, 946712873333401000),
    ("pcap/vlan/suricata_eve-flow-vlan.pcap", 2, 96, 1551030129070602000, 1551030129072151000),
    ("pcap/vlan/zeek_http-vlan-0.pcap", 14, 6143, 1362692526869344000, 1362692527080972000),
    ("pcap/vlan/zeek_vlan-qinqinq.pcap", 14, 6255, 1362692526869344000, 1362692527080972000),
];

#[derive(Debug, Default)]
struct Summary {
    frames: u64,
    wire_bytes: u64,
    first_ts: Option<u64>,
    last_ts: Option<u64>,
    stats: SourceStats,
}

fn read_source(src: &mut dyn capture::PacketSource) -> (Summary, Result<(), CaptureError>) {
    let mut s = Summary::default();
    let result = src.run(&mut |ev| {
        if let Event::Frames(frames) = ev {
            for f in frames {
                s.frames += 1;
                s.wire_bytes += u64::from(f.orig_len);
                s.first_ts.get_or_insert(f.ts_ns);
                s.last_ts = Some(f.ts_ns);
            }
        }
    });
    s.stats = src.stats();
    (s, result)
}

/// Every `*.pcap` and `*.pcapng` under `dir`, recursively, sorted.
fn captures(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        let entries = std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display()));
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("pcap" | "pcapng")
            ) {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn relative(path: &Path) -> String {
    path.strip_prefix(shared())
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned()
}

/// `capinfos -c -M`'s packet count, when capinfos is installed.
fn capinfos_count(path: &Path) -> Option<u64> {
    let out = std::process::Command::new("capinfos")
        .args(["-c", "-M"])
        .arg(path)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.starts_with("Number of packets"))?;
    line.split(':').nth(1)?.trim().parse().ok()
}

#[test]
fn shared_captures_match_capinfos_and_tshark() {
    let files = captures(&shared());
    assert!(
        files
            .iter()
            .filter(|p| p.starts_with(shared().join("pcap")))
            .count()
            >= 90,
        "expected the shared captures under {}",
        shared().join("pcap").display()
    );
    let mut unchecked = Vec::new();
    for path in &files {
        let rel = relative(path);
        let mut src = open_file(path.to_str().unwrap()).unwrap_or_else(|e| panic!("{e}"));
        let (s, result) = read_source(src.as_mut());
        result.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.stats.truncated_records, 0, "{rel}");
        assert_eq!(s.stats.frames, s.frames, "{rel}");
        let all = s.frames + s.stats.unsupported_link;
        match GOLDEN.iter().find(|row| row.0 == rel) {
            Some(&(_, frames, wire_bytes, first, last)) => {
                assert_eq!(all, frames, "{rel}: frames");
                if s.stats.unsupported_link == 0 {
                    assert_eq!(s.wire_bytes, wire_bytes, "{rel}: wire bytes");
                    assert_eq!(s.first_ts, Some(first), "{rel}: first timestamp");
                    assert_eq!(s.last_ts, Some(last), "{rel}: last timestamp");
                }
            }
            None => match capinfos_count(path) {
                Some(frames) => assert_eq!(all, frames, "{rel}: frames (capinfos)"),
                None => unchecked.push(rel),
            },
        }
    }
    assert!(
        unchecked.is_empty(),
        "captures neither in GOLDEN nor checkable (capinfos missing): {unchecked:?}"
    );
}

/// With `EDDY_BLESS` set, prints GOLDEN computed by tshark (frame count,
/// sum of `frame.len`, first and last `frame.time_epoch`).
#[test]
fn bless_golden_from_tshark() {
    if std::env::var_os("EDDY_BLESS").is_none() {
        return;
    }
    println!("const GOLDEN: &[(&str, u64, u64, u64, u64)] = &[");
    for path in captures(&shared()) {
        let out = std::process::Command::new("tshark")
            .args([
                "-T",
                "fields",
                "-e",
                "frame.time_epoch",
                "-e",
                "frame.len",
                "-r",
            ])
            .arg(&path)
            .output()
            .expect("tshark runs");
        let text = String::from_utf8_lossy(&out.stdout);
        let (mut frames, mut wire, mut first, mut last) = (0u64, 0u64, None, 0u64);
        for line in text.lines() {
            let mut fields = line.split('\t');
            let (Some(time), Some(len)) = (fields.next(), fields.next()) else {
                panic!("{}: odd tshark line {line:?}", path.display());
            };
            let (sec, frac) = time.split_once('.').unwrap_or((time, "0"));
            let frac = format!("{frac:0<9}");
            let ns =
                sec.parse::<u64>().unwrap() * 1_000_000_000 + frac[..9].parse::<u64>().unwrap();
            frames += 1;
            wire += len.parse::<u64>().unwrap();
            first.get_or_insert(ns);
            last = ns;
        }
        let first = first.unwrap_or(0);
        println!(
            "    (\"{}\", {frames}, {wire}, {first}, {last}),",
            relative(&path)
        );
    }
    println!("];");
}

/// Bytes of a few small shared captures of both formats and byte layouts.
fn samples() -> &'static [(String, Vec<u8>)] {
    static SAMPLES: OnceLock<Vec<(String, Vec<u8>)>> = OnceLock::new();
    SAMPLES.get_or_init(|| {
        captures(&shared())
            .into_iter()
            .filter(|p| {
                std::fs::metadata(p)
                    .map(|m| m.len() < 80_000)
                    .unwrap_or(false)
            })
            .map(|p| (relative(&p), std::fs::read(&p).unwrap()))
            .collect()
    })
}

fn read_bytes(bytes: &[u8]) -> Result<(Summary, Result<(), CaptureError>), CaptureError> {
    let mut src = open_reader(Box::new(Cursor::new(bytes.to_vec())), "cut", None)?;
    Ok(read_source(src.as_mut()))
}

/// A capture cut at any length after its header reads without error: the
/// frames before the cut, plus a truncation mark unless the cut falls on a
/// record boundary.
#[test]
fn captures_cut_at_every_length_read_cleanly() {
    let picks = [
        "pcap/basic/flowtest_icmp.pcap",
        "pcap/dns/flowtest_dns_aaaa.pcap",
        "pcap/vlan/ipfixprobe_vlan.pcap",
        "pcap/sip/ndpi_sip_hello.pcapng",
    ];
    for pick in picks {
        let Some((_, bytes)) = samples().iter().find(|(rel, _)| rel == pick) else {
            panic!("{pick} is missing from the shared captures");
        };
        let (whole, _) = read_bytes(bytes).unwrap();
        let mut last_frames = 0;
        for cut in 0..=bytes.len() {
            let opened = read_bytes(&bytes[..cut]);
            let min_header = if bytes[0] == 0x0a { 12 } else { 24 };
            let (s, result) = match opened {
                Ok(r) => r,
                Err(e) => {
                    assert!(cut < min_header, "{pick} cut at {cut}: {e}");
                    continue;
                }
            };
            result.unwrap_or_else(|e| panic!("{pick} cut at {cut}: {e}"));
            assert!(s.frames >= last_frames, "{pick} cut at {cut}");
            assert!(s.stats.truncated_records <= 1, "{pick} cut at {cut}");
            last_frames = s.frames;
        }
        assert_eq!(last_frames, whole.frames, "{pick}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any shared capture, cut anywhere and with a few bytes overwritten,
    /// reads or fails with an error: never a panic, never more frames than
    /// bytes.
    #[test]
    fn cut_and_corrupted_captures_never_panic(
        pick in any::<prop::sample::Index>(),
        cut in any::<prop::sample::Index>(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
    ) {
        let (_, bytes) = pick.get(samples());
        let mut bytes = bytes[..cut.index(bytes.len() + 1)].to_vec();
        if !bytes.is_empty() {
            for (at, value) in &flips {
                let i = at.index(bytes.len());
                bytes[i] = *value;
            }
        }
        if let Ok((s, _)) = read_bytes(&bytes) {
            prop_assert!(s.frames <= bytes.len() as u64);
        }
    }
}
