//! Sampling: the interval is recorded per (session, ODID) from the v5 header
//! and from v9/IPFIX options data, shown in the decode `Context`, and applied
//! to packets and bytes only when the decoder is asked to.

mod common;

use ipfix::{Context, Decoder};

fn words(ws: &[u16]) -> Vec<u8> {
    ws.iter().flat_map(|w| w.to_be_bytes()).collect()
}

/// A set: id, then body, length filled in.
fn set(id: u16, body: &[u8]) -> Vec<u8> {
    let mut out = id.to_be_bytes().to_vec();
    out.extend_from_slice(&((body.len() + 4) as u16).to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// A v5 packet with one record (5 packets, 700 bytes) and the given
/// header sampling field (2 bits mode, 14 bits interval).
fn v5(sampling: u16) -> Vec<u8> {
    let mut msg = words(&[5, 1]);
    msg.extend_from_slice(&10_000u32.to_be_bytes()); // sysUptime
    msg.extend_from_slice(&1000u32.to_be_bytes()); // unix_secs
    msg.extend_from_slice(&0u32.to_be_bytes()); // unix_nsecs
    msg.extend_from_slice(&0u32.to_be_bytes()); // flow_sequence
    msg.extend_from_slice(&words(&[0x0102, sampling])); // engine type/id, sampling
    let mut rec = [0u8; 48];
    rec[0..4].copy_from_slice(&[192, 0, 2, 1]);
    rec[16..20].copy_from_slice(&5u32.to_be_bytes());
    rec[20..24].copy_from_slice(&700u32.to_be_bytes());
    rec[38] = 17;
    msg.extend_from_slice(&rec);
    msg
}

/// Decodes, returning the context and packets/bytes of each non-options record.
fn flows(d: &mut Decoder, session: u64, msg: &[u8]) -> Vec<(Context, u64, u64)> {
    let mut out = Vec::new();
    let (_, errors) = d.decode(session, msg, &mut |ctx, rec| {
        if !rec.template.options {
            let f = ipfix::to_flow(ctx, rec);
            out.push((*ctx, f.packets, f.bytes));
        }
    });
    assert!(errors.is_empty(), "{errors:?}");
    out
}

#[test]
fn v5_header_interval_is_recorded_and_applied_on_request() {
    // Mode 01 (deterministic), interval 100.
    let msg = v5(0x4000 | 100);
    let mut d = Decoder::new();
    let got = flows(&mut d, 1, &msg);
    assert_eq!(got[0].0.sampling_interval, 100);
    assert!(!got[0].0.apply_sampling);
    assert_eq!((got[0].1, got[0].2), (5, 700));
    assert_eq!(d.sampling_interval(1, 0x0102), 100);
    assert_eq!(d.sampling_interval(2, 0x0102), 1);

    d.apply_sampling = true;
    let got = flows(&mut d, 1, &msg);
    assert_eq!((got[0].1, got[0].2), (500, 70_000));
    let (fl, _) = d.decode_flows(1, &msg);
    assert_eq!((fl[0].packets, fl[0].bytes), (500, 70_000));

    // Unsampled: interval 1, nothing multiplied.
    let got = flows(&mut d, 3, &v5(0));
    assert_eq!(got[0].0.sampling_interval, 1);
    assert_eq!((got[0].1, got[0].2), (5, 700));
}

/// A v9 packet (source id 9) around `sets`.
fn v9(sets: &[Vec<u8>]) -> Vec<u8> {
    let mut msg = words(&[9, sets.len() as u16]);
    msg.extend_from_slice(&10_000u32.to_be_bytes()); // sysUptime
    msg.extend_from_slice(&1000u32.to_be_bytes()); // unix_secs
    msg.extend_from_slice(&1u32.to_be_bytes()); // sequence
    msg.extend_from_slice(&9u32.to_be_bytes()); // source id
    msg.extend_from_slice(&sets.concat());
    msg
}

/// Data template 260: IN_PKTS(4), IN_BYTES(4), FLOW_SAMPLER_ID(1).
fn v9_template() -> Vec<u8> {
    set(0, &words(&[260, 3, 2, 4, 1, 4, 48, 1]))
}

fn v9_data(sampler: u8) -> Vec<u8> {
    let mut body = 3u32.to_be_bytes().to_vec();
    body.extend_from_slice(&300u32.to_be_bytes());
    body.push(sampler);
    body.extend_from_slice(&[0, 0, 0]); // padding
    set(260, &body)
}

#[test]
fn v9_options_sampling_interval_is_recorded() {
    // Options template 256 scoped to the system: samplingInterval(4),
    // samplingAlgorithm(1).
    let opt_tpl = set(1, &words(&[256, 4, 8, 1, 4, 34, 4, 35, 1]));
    let mut body = vec![10, 0, 0, 1];
    body.extend_from_slice(&512u32.to_be_bytes());
    body.push(2); // random
    body.extend_from_slice(&[0, 0, 0]);
    let opt_data = set(256, &body);

    let mut d = Decoder::new();
    // In one packet: the data after the options sees the interval.
    let got = flows(
        &mut d,
        1,
        &v9(&[opt_tpl, opt_data, v9_template(), v9_data(0)]),
    );
    assert_eq!(got[0].0.sampling_interval, 512);
    assert_eq!((got[0].1, got[0].2), (3, 300));
    assert_eq!(d.sampling_interval(1, 9), 512);
    // And in a later packet, applied on request.
    d.apply_sampling = true;
    let got = flows(&mut d, 1, &v9(&[v9_data(0)]));
    assert_eq!(got[0].0.sampling_interval, 512);
    assert_eq!((got[0].1, got[0].2), (3 * 512, 300 * 512));
    // Another domain knows nothing of it.
    assert_eq!(d.sampling_interval(2, 9), 1);
}

#[test]
fn v9_flow_sampler_id_picks_its_sampler() {
    // Options template 257 scoped to the system, flowSamplerId(1),
    // flowSamplerMode(1), flowSamplerRandomInterval(4).
    let opt_tpl = set(1, &words(&[257, 4, 12, 1, 4, 48, 1, 49, 1, 50, 4]));
    let rec = |id: u8, interval: u32| {
        let mut r = vec![10, 0, 0, 1, id, 2];
        r.extend_from_slice(&interval.to_be_bytes());
        r
    };
    let mut body = rec(1, 10);
    body.extend_from_slice(&rec(2, 1000));
    let opt_data = set(257, &body);
    let mut d = Decoder::new();
    d.apply_sampling = true;
    flows(&mut d, 1, &v9(&[opt_tpl, opt_data, v9_template()]));
    assert_eq!(d.sampler_interval(1, 9, 1), Some(10));
    assert_eq!(d.sampler_interval(1, 9, 2), Some(1000));
    let got = flows(&mut d, 1, &v9(&[v9_data(1), v9_data(2)]));
    assert_eq!(got[0].0.sampling_interval, 10);
    assert_eq!(got[0].1, 30);
    assert_eq!(got[1].0.sampling_interval, 1000);
    assert_eq!(got[1].1, 3000);
}

#[test]
fn ipfix_packet_interval_and_space() {
    // Options template 300 scoped to the ODID (149): 305, 306.
    let opt_tpl = set(3, &words(&[300, 3, 1, 149, 4, 305, 4, 306, 4]));
    let mut body = 7u32.to_be_bytes().to_vec();
    body.extend_from_slice(&1u32.to_be_bytes());
    body.extend_from_slice(&99u32.to_be_bytes());
    let body: Vec<u8> = [opt_tpl, set(300, &body)].concat();
    let mut msg = vec![0, 10];
    msg.extend_from_slice(&((body.len() + 16) as u16).to_be_bytes());
    msg.extend_from_slice(&1000u32.to_be_bytes());
    msg.extend_from_slice(&1u32.to_be_bytes());
    msg.extend_from_slice(&7u32.to_be_bytes());
    msg.extend_from_slice(&body);
    let mut d = Decoder::new();
    flows(&mut d, 1, &msg);
    // 1 packet sampled, 99 skipped: 1 in 100.
    assert_eq!(d.sampling_interval(1, 7), 100);
}

#[test]
fn cisco_asr9k_interface_options_carry_no_sampling() {
    let dir = common::testdata().join("netflow/v9/logstash_dat");
    let mut d = Decoder::new();
    let mut options = 0;
    let mut intervals = Vec::new();
    for name in ["opttpl256", "data256"] {
        let msg = std::fs::read(dir.join(format!("netflow9_test_cisco_asr9k_{name}.dat"))).unwrap();
        let (_, errors) = d.decode(1, &msg, &mut |ctx, rec| {
            options += usize::from(rec.template.options);
            intervals.push(ctx.sampling_interval);
        });
        assert!(errors.is_empty(), "{errors:?}");
    }
    // tshark (-d udp.port==2055,cflow on the two payloads wrapped with
    // text2pcap) shows options template 256 scoped to System with
    // INPUT_SNMP and IF_DESC only: no sampling field, so unsampled (1).
    assert!(options > 0);
    assert!(intervals.iter().all(|&i| i == 1));
    assert_eq!(d.sampling_interval(1, 0x881), 1);
}

#[test]
fn pmacct_cisco_ipfix_sampling_options() {
    let path = common::testdata()
        .join("ipfix/pmacct_104-IPFIXv10-IPv6-CISCO-sampling_option_traffic-00.pcap");
    let mut d = Decoder::new();
    let mut seen = Vec::new();
    let mut sessions = Vec::new();
    for (session, payload) in common::udp_payloads(&path) {
        let (decoded, errors) = d.decode(session, &payload, &mut |ctx, rec| {
            seen.push((rec.template.options, ctx.sampling_interval));
        });
        assert!(errors.is_empty(), "{errors:?}");
        sessions.push((session, decoded.context.odid));
    }
    // `tshark -r FILE -d udp.port==9992,cflow -V | grep -i sampl` shows
    // options template 257 (scope selectorId) and one options record:
    // Sampling Packet Interval 1, Sampling Size 1, Sampling Population 256,
    // Random n-out-of-N: 1 packet in 256.
    let (session, odid) = sessions[0];
    assert_eq!(odid, 0);
    assert_eq!(d.sampling_interval(session, odid), 256);
    // The flow records carry selectorId 1.
    assert_eq!(d.sampler_interval(session, odid, 1), Some(256));
    let first_options = seen.iter().position(|&(o, _)| o).expect("options record");
    assert_eq!(seen[first_options].1, 256);
    let after: Vec<_> = seen[first_options..].iter().filter(|&&(o, _)| !o).collect();
    assert!(!after.is_empty());
    assert!(after.iter().all(|&&(_, i)| i == 256));
}
