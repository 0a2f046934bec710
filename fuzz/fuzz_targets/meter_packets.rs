//! Fuzzes the meter's path behind the decoder: packets through the flow
//! cache with every L7 parser on, the flows out in every text format and
//! as IPFIX. The first byte picks the cache's rules (bit 0 biflow, bit 1
//! ipfixprobe's rules, bits 2-3 the capacity, bit 4 short timeouts); then
//! each packet is a time step (a byte: 10 ms each, 255 five seconds back,
//! as captures merged from two taps go), a length (two bytes,
//! little-endian) and that many bytes of raw IPv4 or IPv6. Any panic is a
//! bug; so is a packet that decoded but is in no flow, or in two.
#![no_main]

use flow::{CacheConfig, FlowCache};
use ipfix::encode::{Encoder, EncoderConfig};
use libfuzzer_sys::fuzz_target;
use packet::LinkType;
use record::format::{Format, TextSink};
use record::{FlowRecord, FlowSink};

fn config(selector: u8) -> CacheConfig {
    let rules = match selector & 2 {
        0 => CacheConfig::like_nfpcapd(),
        _ => CacheConfig::like_ipfixprobe(),
    };
    let (active, inactive) = match selector & 16 {
        0 => (300, 30),
        _ => (2, 1),
    };
    CacheConfig {
        biflow: selector & 1 != 0,
        capacity: [4, 64, 1024, 4096][usize::from(selector >> 2) & 3],
        active_timeout_ns: active * 1_000_000_000,
        inactive_timeout_ns: inactive * 1_000_000_000,
        l7_parsers: l7::PARSERS.iter().map(|spec| spec.name).collect(),
        ..rules
    }
}

/// The packets of the input: (time, raw IP bytes).
fn packets(mut data: &[u8]) -> Vec<(u64, &[u8])> {
    let mut out = Vec::new();
    let mut now_ns = 1_700_000_000_000_000_000u64;
    while let [step, lo, hi, rest @ ..] = data {
        now_ns = match step {
            255 => now_ns - 5_000_000_000,
            _ => now_ns + u64::from(*step) * 10_000_000,
        };
        let len = usize::from(u16::from_le_bytes([*lo, *hi])).min(rest.len());
        let (frame, tail) = rest.split_at(len);
        out.push((now_ns, frame));
        data = tail;
    }
    out
}

fn packets_in(records: &[FlowRecord]) -> u64 {
    let reverse = |r: &FlowRecord| r.reverse.as_ref().map_or(0, |rev| rev.packets);
    records.iter().map(|r| r.packets + reverse(r)).sum()
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let config = config(selector);
    let biflow = config.biflow;
    let mut cache = FlowCache::new(config);
    let mut records = Vec::new();
    let mut decoded = 0u64;
    // In batches, as the meter hands them over, with the wheel turned
    // between batches as the reader's ticks do.
    for batch in packets(rest).chunks(capture::MAX_BATCH) {
        let mut views = Vec::with_capacity(batch.len());
        for &(ts, frame) in batch {
            if let Ok(pkt) = packet::decode(LinkType::RawIp, frame) {
                views.push((ts, pkt));
            }
        }
        decoded += views.len() as u64;
        cache.observe_batch(&views, &mut records);
        if let Some(&(ts, _)) = batch.last() {
            cache.expire(ts, &mut records);
        }
    }

    cache.flush(&mut records);
    assert_eq!(
        decoded,
        packets_in(&records),
        "packets lost or counted twice"
    );
    for format in Format::ALL {
        let mut sink = TextSink::new(std::io::sink(), format, biflow);
        sink.write(&records).unwrap();
        sink.finish().unwrap();
    }
    let mut messages = Vec::new();
    Encoder::new(EncoderConfig::udp(1)).encode(&records, 0, &mut messages);
    assert!(messages.iter().all(|m| m.len() <= usize::from(u16::MAX)));
});
