//! The text formats must stay byte for byte what they were before the fast
//! rendering: random records go through the crate's `TextSink` and through
//! the verbatim copy of the old code in `reference/`, and the outputs must
//! be equal (headers, every record line and nfdump's summary included).

mod reference;

use std::net::{Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use record::format::{Format, TextSink};
use record::{EndReason, FlowRecord, FlowSink, Reverse};

const DAY_NS: u64 = 86_400_000_000_000;
/// 2023-04-21, a typical capture date; records near it share days.
const BASE_NS: u64 = 1_682_060_808_588_123_456;

fn reference_format(format: Format) -> reference::Format {
    match format {
        Format::Line => reference::Format::Line,
        Format::Long => reference::Format::Long,
        Format::Csv => reference::Format::Csv,
        Format::Json => reference::Format::Json,
        Format::L7(_) => unreachable!("the reference predates the L7 formats"),
    }
}

/// Writes `records` in two batches (the split exercises state kept between
/// calls, such as the cached date) and returns everything the sink wrote.
fn render_new(
    format: Format,
    biflow: bool,
    decorations: bool,
    records: &[FlowRecord],
    split: usize,
) -> String {
    let mut out = Vec::new();
    let mut sink = TextSink::new(&mut out, format, biflow);
    sink.decorations = decorations;
    let (a, b) = records.split_at(split.min(records.len()));
    sink.write(a).unwrap();
    sink.write(b).unwrap();
    sink.finish().unwrap();
    drop(sink);
    String::from_utf8(out).unwrap()
}

fn render_old(format: Format, biflow: bool, decorations: bool, records: &[FlowRecord]) -> String {
    let mut out = Vec::new();
    let mut sink = reference::TextSink::new(&mut out, reference_format(format), biflow);
    sink.decorations = decorations;
    sink.write(records).unwrap();
    sink.finish().unwrap();
    drop(sink);
    String::from_utf8(out).unwrap()
}

fn assert_same(records: &[FlowRecord], split: usize) {
    for format in [Format::Csv, Format::Json, Format::Line, Format::Long] {
        for biflow in [false, true] {
            for decorations in [false, true] {
                let new = render_new(format, biflow, decorations, records, split);
                let old = render_old(format, biflow, decorations, records);
                assert_eq!(
                    new, old,
                    "{format:?} biflow={biflow} decorations={decorations}"
                );
            }
        }
    }
}

/// Any time, times near one day (shared dates), and day boundaries.
fn time() -> impl Strategy<Value = u64> {
    prop_oneof![
        any::<u64>(),
        (0..3 * DAY_NS).prop_map(|d| BASE_NS - DAY_NS + d),
        (0..=u64::MAX / DAY_NS, 0u64..3)
            .prop_map(|(day, ns)| (day * DAY_NS).saturating_add(ns).saturating_sub(1)),
        Just(0),
        Just(u64::MAX),
    ]
}

/// Segments with many zeros so that every run pattern of `::` shows up.
fn segment() -> impl Strategy<Value = u16> {
    prop_oneof![Just(0u16), Just(0xffff), any::<u16>(), 0u16..0x10]
}

fn address() -> impl Strategy<Value = Ipv6Addr> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|b| Ipv4Addr::from(b).to_ipv6_mapped()),
        any::<[u16; 8]>().prop_map(Ipv6Addr::from),
        proptest::array::uniform8(segment()).prop_map(Ipv6Addr::from),
        Just(Ipv6Addr::UNSPECIFIED),
        Just(Ipv6Addr::LOCALHOST),
    ]
}

fn counter() -> impl Strategy<Value = u64> {
    prop_oneof![
        any::<u64>(),
        0u64..2_000_000,
        Just(u64::MAX),
        Just(999_999),
        Just(1_000_000)
    ]
}

fn end_reason() -> impl Strategy<Value = EndReason> {
    prop_oneof![
        Just(EndReason::Idle),
        Just(EndReason::Active),
        Just(EndReason::EndOfFlow),
        Just(EndReason::Forced),
        Just(EndReason::Eviction),
    ]
}

fn reverse() -> impl Strategy<Value = Option<Reverse>> {
    let rev = (time(), time(), counter(), counter(), any::<u8>()).prop_map(
        |(first_ns, last_ns, packets, bytes, tcp_flags)| Reverse {
            first_ns,
            last_ns,
            packets,
            bytes,
            tcp_flags,
        },
    );
    proptest::option::of(rev)
}

prop_compose! {
    fn record()(
        (first_ns, last_ns) in (time(), time()),
        (src_ip, dst_ip) in (address(), address()),
        (src_port, dst_port, proto) in (any::<u16>(), any::<u16>(), prop_oneof![Just(1u8), Just(6), Just(17), Just(58), any::<u8>()]),
        (tcp_flags, tos, vlan) in (any::<u8>(), any::<u8>(), any::<u16>()),
        (packets, bytes) in (counter(), counter()),
        (src_mac, dst_mac) in (any::<[u8; 6]>(), any::<[u8; 6]>()),
        end_reason in end_reason(),
        reverse in reverse(),
    ) -> FlowRecord {
        FlowRecord {
            first_ns, last_ns, src_ip, dst_ip, src_port, dst_port, proto, tcp_flags, tos,
            packets, bytes, vlan, src_mac, dst_mac, end_reason, reverse, l7: None,
            ..FlowRecord::default()
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn new_output_equals_reference(records in proptest::collection::vec(record(), 0..24), split in 0usize..24) {
        assert_same(&records, split);
    }
}

#[test]
fn edge_records_equal_reference() {
    let max = FlowRecord {
        first_ns: u64::MAX,
        last_ns: u64::MAX,
        src_ip: Ipv6Addr::from([0xffff; 8]),
        dst_ip: Ipv4Addr::BROADCAST.to_ipv6_mapped(),
        src_port: u16::MAX,
        dst_port: u16::MAX,
        proto: u8::MAX,
        tcp_flags: u8::MAX,
        tos: u8::MAX,
        packets: u64::MAX,
        bytes: u64::MAX,
        vlan: u16::MAX,
        src_mac: [0xff; 6],
        dst_mac: [0xab; 6],
        end_reason: EndReason::Eviction,
        reverse: Some(Reverse {
            first_ns: 0,
            last_ns: u64::MAX,
            packets: u64::MAX,
            bytes: 1,
            tcp_flags: 0xff,
        }),
        l7: None,
        ..FlowRecord::default()
    };
    let zero = FlowRecord {
        src_ip: Ipv4Addr::UNSPECIFIED.to_ipv6_mapped(),
        ..FlowRecord::default()
    };
    assert_same(&[max.clone(), zero.clone(), FlowRecord::default(), max], 2);
    assert_same(&[], 0);
    assert_same(&[zero], 0);
}
