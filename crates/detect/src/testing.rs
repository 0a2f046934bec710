//! Test helpers: flow records into a batch.


use arrow_array::RecordBatch;
use record::FlowRecord;

/// A flow from IPv4 `src` to `dst`, starting `t_ms` milliseconds after
/// 2024-01-01 and lasting 10 ms.
#[allow(clippy::too_many_arguments)]
pub fn flow(
    src: [u8; 4],
    dst: [u8; 4],
    sport: u16,
    dport: u16,
    proto: u8,
    flags: u8,
    packets: u64,
    t_ms: u64,
) -> FlowRecord {
    let base = 1_704_067_200_000_000_000u64;
    FlowRecord {
        first_ns: base + t_ms * 1_000_000,
        last_ns: base + t_ms * 1_000_000 + 10_000_000,
        src_ip: std::net::Ipv4Addr::from(src).to_ipv6_mapped(),
        dst_ip: std::net::Ipv4Addr::from(dst).to_ipv6_mapped(),
        src_port: sport,
        dst_port: dport,
        proto,
        tcp_flags: flags,
        packets,
        bytes: packets * 60,
        ..FlowRecord::default()
    }
}

pub fn batch(flows: &[FlowRecord]) -> RecordBatch {
    let mut b = schema::BatchBuilder::new();
    for f in flows {
        b.push(f);
    }
    b.finish()
}
