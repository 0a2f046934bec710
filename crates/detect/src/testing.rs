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

/// The helpers' clock: `t_ms` milliseconds after 2024-01-01, in ns.
pub fn at_ms(t_ms: u64) -> u64 {
    1_704_067_200_000_000_000u64 + t_ms * 1_000_000
}

/// IPv4 `a` as a 16-byte IPv4-mapped address (what `Flows::src` returns).
pub fn mapped(a: [u8; 4]) -> [u8; 16] {
    std::net::Ipv4Addr::from(a).to_ipv6_mapped().octets()
}

/// Like [`flow`], with the byte count given and lasting `dur_ms`.
#[allow(clippy::too_many_arguments)]
pub fn flow_sized(
    src: [u8; 4],
    dst: [u8; 4],
    sport: u16,
    dport: u16,
    proto: u8,
    flags: u8,
    packets: u64,
    bytes: u64,
    t_ms: u64,
    dur_ms: u64,
) -> FlowRecord {
    let mut f = flow(src, dst, sport, dport, proto, flags, packets, t_ms);
    f.bytes = bytes;
    f.last_ns = f.first_ns + dur_ms * 1_000_000;
    f
}

/// An L7 column value for [`l7_batch`].
#[derive(Clone, Copy, Debug)]
pub enum L7<'a> {
    Text(&'a str),
    Num(u32),
}

/// [`batch`] with L7 columns set: `l7[i]` holds row `i`'s `(column,
/// value)` pairs (column names as in `l7::COLUMNS`); cells not given stay
/// null. Rows past `l7.len()` have no L7 values.
pub fn l7_batch(flows: &[FlowRecord], l7: &[Vec<(&str, L7<'_>)>]) -> RecordBatch {
    use arrow_array::{ArrayRef, StringArray, UInt32Array};
    use std::sync::Arc;
    let b = batch(flows);
    let schema = b.schema();
    let mut columns: Vec<ArrayRef> = b.columns().to_vec();
    let mut names: Vec<&str> = l7.iter().flatten().map(|(n, _)| *n).collect();
    names.sort_unstable();
    names.dedup();
    let cell = |row: usize, name: &str| -> Option<L7<'_>> {
        l7.get(row)?
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
    };
    for name in names {
        let idx = schema.index_of(name).expect("an L7 column");
        let array: ArrayRef = if *schema.field(idx).data_type() == arrow_schema::DataType::UInt32 {
            Arc::new(UInt32Array::from(
                (0..flows.len())
                    .map(|r| match cell(r, name) {
                        Some(L7::Num(n)) => Some(n),
                        Some(L7::Text(t)) => t.parse().ok(),
                        None => None,
                    })
                    .collect::<Vec<_>>(),
            ))
        } else {
            Arc::new(StringArray::from(
                (0..flows.len())
                    .map(|r| match cell(r, name) {
                        Some(L7::Text(t)) => Some(t.to_string()),
                        Some(L7::Num(n)) => Some(n.to_string()),
                        None => None,
                    })
                    .collect::<Vec<_>>(),
            ))
        };
        columns[idx] = array;
    }
    RecordBatch::try_new(schema, columns).expect("the same schema")
}

/// IPv6 `a` as 16 bytes.
pub fn v6(a: &str) -> [u8; 16] {
    a.parse::<std::net::Ipv6Addr>()
        .expect("an IPv6 address")
        .octets()
}

/// Like [`flow`], between IPv6 addresses.
pub fn flow6(src: &str, dst: &str, sport: u16, dport: u16, proto: u8, t_ms: u64) -> FlowRecord {
    let mut f = flow([0; 4], [0; 4], sport, dport, proto, 0, 1, t_ms);
    f.src_ip = std::net::Ipv6Addr::from(v6(src));
    f.dst_ip = std::net::Ipv6Addr::from(v6(dst));
    f
}

/// A DNS query or response flow for [`dns_batch`].
#[derive(Clone, Debug)]
pub struct DnsFlow {
    pub src: [u8; 4],
    pub dst: [u8; 4],
    pub sport: u16,
    pub dport: u16,
    pub qname: String,
    pub qtype: u32,
    /// IP bytes of the flow (one packet).
    pub bytes: u64,
    pub t_ms: u64,
}

impl DnsFlow {
    /// A UDP query from `client` port 40000 to `resolver` port 53, its
    /// size that of the question (IPv4: 28 + 12 + name + 2 + 4 bytes).
    pub fn query(
        client: [u8; 4],
        resolver: [u8; 4],
        qname: &str,
        qtype: u32,
        t_ms: u64,
    ) -> DnsFlow {
        DnsFlow {
            src: client,
            dst: resolver,
            sport: 40000,
            dport: 53,
            qname: qname.to_string(),
            qtype,
            bytes: qname.len() as u64 + 18 + 28,
            t_ms,
        }
    }

    /// The response: from `resolver` port 53 to `client`, `bytes` long.
    pub fn response(
        resolver: [u8; 4],
        client: [u8; 4],
        qname: &str,
        qtype: u32,
        bytes: u64,
        t_ms: u64,
    ) -> DnsFlow {
        DnsFlow {
            src: resolver,
            dst: client,
            sport: 53,
            dport: 40000,
            qname: qname.to_string(),
            qtype,
            bytes,
            t_ms,
        }
    }
}

/// One-packet UDP flows with `dns_qname` and `dns_qtype` set.
pub fn dns_batch(flows: &[DnsFlow]) -> RecordBatch {
    let records: Vec<FlowRecord> = flows
        .iter()
        .map(|d| flow_sized(d.src, d.dst, d.sport, d.dport, 17, 0, 1, d.bytes, d.t_ms, 1))
        .collect();
    let l7: Vec<Vec<(&str, L7<'_>)>> = flows
        .iter()
        .map(|d| {
            vec![
                ("dns_qname", L7::Text(d.qname.as_str())),
                ("dns_qtype", L7::Num(d.qtype)),
            ]
        })
        .collect();
    l7_batch(&records, &l7)
}
