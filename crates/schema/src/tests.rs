use super::*;
use l7::http::HttpFields;
use proptest::prelude::*;

fn sample() -> FlowRecord {
    FlowRecord {
        first_ns: 1_700_000_000_123_456_789,
        last_ns: 1_700_000_001_000_000_000,
        src_ip: "::ffff:10.0.0.1".parse().unwrap(),
        dst_ip: "2001:db8::1".parse().unwrap(),
        src_port: 40000,
        dst_port: 80,
        proto: 6,
        tcp_flags: 0x1b,
        tos: 4,
        packets: 10,
        bytes: 1234,
        vlan: 7,
        in_if: 3,
        out_if: 4,
        src_as: 64500,
        dst_as: 15169,
        src_country: *b"CZ",
        dst_country: *b"US",
        exporter: "::ffff:192.0.2.9".parse().unwrap(),
        odid: 5,
        end_reason: EndReason::EndOfFlow,
        src_mac: [1, 2, 3, 4, 5, 6],
        dst_mac: [6, 5, 4, 3, 2, 1],
        reverse: Some(Reverse {
            first_ns: 1_700_000_000_200_000_000,
            last_ns: 1_700_000_000_900_000_000,
            packets: 8,
            bytes: 9000,
            tcp_flags: 0x12,
        }),
        l7: None,
    }
}

#[test]
fn schema_has_every_column_once() {
    let schema = flow_schema();
    assert_eq!(
        schema.fields().len(),
        BASE_COLUMNS.len() + l7::COLUMNS.len()
    );
    let mut names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), schema.fields().len());
    assert_eq!(schema.field(L7_OFFSET).name(), l7::COLUMNS[0]);
    assert_eq!(
        schema.field_with_name("http_status").unwrap().data_type(),
        &DataType::UInt32
    );
    assert_eq!(
        schema.field_with_name("http_host").unwrap().data_type(),
        &DataType::Utf8
    );
}

#[test]
fn base_fields_round_trip() {
    let records = vec![sample(), FlowRecord::default(), sample()];
    let mut b = BatchBuilder::new();
    records.iter().for_each(|r| b.push(r));
    assert_eq!(b.len(), 3);
    let batch = b.finish();
    assert!(b.is_empty());
    assert_eq!(batch.num_rows(), 3);
    assert_eq!(self::records(&batch).unwrap(), records);
}

#[test]
fn l7_values_land_in_their_columns() {
    let mut r = sample();
    r.l7 = Some(L7Fields::from(HttpFields {
        method: Some("GET".into()),
        host: Some("example.com".into()),
        status: None,
        ..HttpFields::default()
    }));
    let mut b = BatchBuilder::new();
    b.push(&r);
    b.push(&sample());
    let batch = b.finish();
    let host = batch
        .column_by_name("http_host")
        .unwrap()
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    assert_eq!(host.value(0), "example.com");
    assert!(host.is_null(1));
    let proto = batch.column_by_name("l7_proto").unwrap();
    assert_eq!(proto.null_count(), 1);
    let status = batch.column_by_name("http_status").unwrap();
    assert_eq!(status.null_count(), 2);
    for c in 0..l7::COLUMNS.len() {
        assert_eq!(batch.column(L7_OFFSET + c).len(), 2, "{}", l7::COLUMNS[c]);
    }
}

#[test]
fn projections_and_reordered_columns_read() {
    let mut b = BatchBuilder::new();
    b.push(&sample());
    let batch = b.finish();
    let projected = batch.project(&[9, 2]).unwrap();
    let got = records(&projected).unwrap();
    assert_eq!(got[0].packets, 10);
    assert_eq!(got[0].src_ip, sample().src_ip);
    assert_eq!(got[0].dst_port, 0);
}

#[test]
fn a_column_of_the_wrong_type_is_an_error() {
    let schema = Arc::new(Schema::new(vec![Field::new(
        "packets",
        DataType::Utf8,
        false,
    )]));
    let batch = RecordBatch::try_new(
        schema,
        vec![Arc::new(StringArray::from(vec!["x"])) as ArrayRef],
    )
    .unwrap();
    let err = records(&batch).unwrap_err().to_string();
    assert!(err.contains("packets"), "{err}");
}

#[test]
fn odd_country_codes_are_unknown() {
    let mut r = sample();
    r.src_country = [0xff, b'A'];
    let mut b = BatchBuilder::new();
    b.push(&r);
    let got = records(&b.finish()).unwrap();
    assert_eq!(got[0].src_country, [0, 0]);
    assert_eq!(got[0].dst_country, *b"US");
}

proptest! {
    #[test]
    fn random_records_round_trip(
        first in 0u64..i64::MAX as u64,
        dur in 0u64..1_000_000_000_000,
        src in any::<u128>(),
        dst in any::<[u8; 4]>(),
        ports in any::<(u16, u16, u8, u8, u8)>(),
        counts in any::<(u64, u64, u16, u32, u32)>(),
        rev in any::<Option<(u64, u8)>>(),
    ) {
        let r = FlowRecord {
            first_ns: first,
            last_ns: first.saturating_add(dur).min(i64::MAX as u64),
            src_ip: Ipv6Addr::from(src),
            dst_ip: std::net::Ipv4Addr::from(dst).to_ipv6_mapped(),
            src_port: ports.0,
            dst_port: ports.1,
            proto: ports.2,
            tcp_flags: ports.3,
            tos: ports.4,
            packets: counts.0,
            bytes: counts.1,
            vlan: counts.2,
            in_if: counts.3,
            src_as: counts.4,
            reverse: rev.map(|(n, f)| Reverse { packets: n, tcp_flags: f, ..Reverse::default() }),
            ..FlowRecord::default()
        };
        let mut b = BatchBuilder::new();
        b.push(&r);
        prop_assert_eq!(records(&b.finish()).unwrap(), vec![r]);
    }
}

#[test]
fn l7_fields_round_trip() {
    use l7::dns::DnsFields;
    let mut http = sample();
    http.l7 = Some(L7Fields::from(HttpFields {
        method: Some("GET".into()),
        host: Some("example.com".into()),
        url: Some("/a?b=c".into()),
        status: Some(200),
        ..HttpFields::default()
    }));
    let mut dns = sample();
    dns.l7 = Some(L7Fields::from(DnsFields {
        id: 7,
        qname: "example.org".into(),
        qtype: 28,
        qclass: 1,
        is_response: true,
        rcode: 3,
        answers: 0,
        ..DnsFields::default()
    }));
    let records = vec![http, FlowRecord::default(), dns];
    let mut b = BatchBuilder::new();
    records.iter().for_each(|r| b.push(r));
    assert_eq!(self::records(&b.finish()).unwrap(), records);
}
