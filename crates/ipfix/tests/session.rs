//! Session state over whole messages: sequence gaps, late and duplicate
//! messages, exporter restarts, UDP template expiry and the statistics line.

use ipfix::session::{SessionConfig, Sessions, Transport, DEFAULT_TEMPLATE_LIFETIME_MS};
use ipfix::{DecodeError, Decoded, Decoder};

const T0: u32 = 1_700_000_000;

fn set(id: u16, body: &[u8]) -> Vec<u8> {
    let mut out = id.to_be_bytes().to_vec();
    out.extend_from_slice(&((body.len() + 4) as u16).to_be_bytes());
    out.extend_from_slice(body);
    out
}

fn ipfix(export_secs: u32, sequence: u32, sets: &[Vec<u8>]) -> Vec<u8> {
    let body = sets.concat();
    let mut out = vec![0, 10];
    out.extend_from_slice(&((body.len() + 16) as u16).to_be_bytes());
    out.extend_from_slice(&export_secs.to_be_bytes());
    out.extend_from_slice(&sequence.to_be_bytes());
    out.extend_from_slice(&7u32.to_be_bytes());
    out.extend_from_slice(&body);
    out
}

/// Template 256: sourceIPv4Address, packetDeltaCount (4 bytes).
fn template() -> Vec<u8> {
    set(2, &[1, 0, 0, 2, 0, 8, 0, 4, 0, 2, 0, 4])
}

/// A data set of `n` records for template 256.
fn data(n: usize) -> Vec<u8> {
    set(256, &[10, 0, 0, 1, 0, 0, 0, 9].repeat(n))
}

struct Collector {
    decoder: Decoder,
    sessions: Sessions,
    transport: Transport,
}

impl Collector {
    fn new(transport: Transport) -> Collector {
        Collector {
            decoder: Decoder::new(),
            sessions: Sessions::new(SessionConfig::default()),
            transport,
        }
    }

    fn feed(&mut self, msg: &[u8]) -> (Decoded, Vec<DecodeError>) {
        self.feed_at(msg, None)
    }

    fn feed_at(&mut self, msg: &[u8], clock_ms: Option<u64>) -> (Decoded, Vec<DecodeError>) {
        let c = &mut *self;
        c.sessions.decode(
            &mut c.decoder,
            1,
            c.transport,
            msg,
            clock_ms,
            &mut |_, _| {},
        )
    }

    fn stats(&self) -> &ipfix::session::DomainStats {
        self.sessions.get(1, 7).expect("domain seen")
    }
}

#[test]
fn gap_then_late_message_then_duplicate() {
    let mut c = Collector::new(Transport::Udp);
    c.feed(&ipfix(T0, 0, &[template(), data(3)]));
    c.feed(&ipfix(T0, 3, &[data(3)]));
    // The message with records 6..9 is held up in the network.
    c.feed(&ipfix(T0, 9, &[data(3)]));
    assert_eq!((c.stats().missing, c.stats().late), (3, 0));
    c.feed(&ipfix(T0, 6, &[data(3)]));
    assert_eq!((c.stats().missing, c.stats().late), (0, 1));
    c.feed(&ipfix(T0, 6, &[data(3)]));
    c.feed(&ipfix(T0, 12, &[data(3)]));
    let s = c.stats();
    assert_eq!((s.duplicates, s.missing, s.resets), (1, 0, 0));
    assert_eq!((s.messages, s.records), (6, 18));
}

#[test]
fn sequence_wraps_around_without_a_gap() {
    let mut c = Collector::new(Transport::Udp);
    c.feed(&ipfix(T0, u32::MAX - 1, &[template(), data(3)]));
    c.feed(&ipfix(T0, 1, &[data(3)]));
    c.feed(&ipfix(T0, 4 + 2, &[data(3)]));
    let s = c.stats();
    assert_eq!((s.missing, s.late, s.resets), (2, 0, 0));
}

#[test]
fn exporter_restart_is_a_reset_not_a_huge_gap() {
    let mut c = Collector::new(Transport::Udp);
    c.feed(&ipfix(T0, 5_000_000, &[template(), data(3)]));
    c.feed(&ipfix(T0 + 1, 0, &[template(), data(3)]));
    c.feed(&ipfix(T0 + 1, 3, &[data(3)]));
    let s = c.stats();
    assert_eq!((s.resets, s.missing, s.late), (1, 0, 0));
}

#[test]
fn unknown_template_is_counted_by_id_and_resynchronises() {
    let mut c = Collector::new(Transport::Udp);
    c.feed(&ipfix(T0, 0, &[set(300, &[0; 8]), data(3)]));
    // Records of the unknown set are uncountable: no gap afterwards.
    c.feed(&ipfix(T0, 20, &[template(), data(3)]));
    c.feed(&ipfix(T0, 23, &[data(3), set(300, &[0; 8])]));
    let s = c.stats();
    assert_eq!(s.missing, 0);
    assert_eq!(s.unknown_templates.get(&300), Some(&2));
    // The first data set came before its template, too.
    assert_eq!(s.unknown_templates.get(&256), Some(&1));
    assert_eq!(s.unknown_template_sets(), 3);
    assert_eq!(s.errors, 3);
}

#[test]
fn udp_templates_expire_without_refresh() {
    let lifetime = (DEFAULT_TEMPLATE_LIFETIME_MS / 1000) as u32;
    let mut c = Collector::new(Transport::Udp);
    c.feed(&ipfix(T0, 0, &[template(), data(1)]));
    let (d, errors) = c.feed(&ipfix(T0 + lifetime, 1, &[data(1)]));
    assert!(errors.is_empty() && d.records == 1);
    let (d, errors) = c.feed(&ipfix(T0 + lifetime + 1, 2, &[data(1)]));
    assert_eq!((d.records, errors.len()), (0, 1));
    assert_eq!(c.stats().expired_templates, 1);
    assert_eq!(c.stats().unknown_templates.get(&256), Some(&1));
    assert!(c.decoder.templates.is_empty());
}

#[test]
fn refreshed_templates_live_on() {
    let lifetime = (DEFAULT_TEMPLATE_LIFETIME_MS / 1000) as u32;
    let mut c = Collector::new(Transport::Udp);
    c.feed(&ipfix(T0, 0, &[template()]));
    c.feed(&ipfix(T0 + lifetime - 10, 0, &[template()]));
    let (d, errors) = c.feed(&ipfix(T0 + lifetime + 100, 0, &[data(2)]));
    assert!(errors.is_empty() && d.records == 2);
    assert_eq!(c.stats().expired_templates, 0);
}

#[test]
fn templates_do_not_expire_on_streams() {
    let mut c = Collector::new(Transport::Stream);
    c.feed(&ipfix(T0, 0, &[template()]));
    let (d, errors) = c.feed(&ipfix(T0 + 100_000, 0, &[data(1)]));
    assert!(errors.is_empty() && d.records == 1);
}

#[test]
fn explicit_clock_and_periodic_expiry() {
    let mut c = Collector::new(Transport::Udp);
    c.sessions.config.template_lifetime_ms = 60_000;
    // The exporter's clock is wrong by a day; ours decides.
    c.feed_at(&ipfix(T0 - 86_400, 0, &[template()]), Some(1_000_000));
    let (d, _) = c.feed_at(&ipfix(T0, 0, &[data(1)]), Some(1_050_000));
    assert_eq!(d.records, 1);
    assert_eq!(c.sessions.expire(&mut c.decoder.templates, 1_059_999), 0);
    assert_eq!(c.sessions.expire(&mut c.decoder.templates, 1_060_001), 1);
    assert_eq!(c.stats().expired_templates, 1);
}

/// NetFlow v9: the sequence counts export packets.
#[test]
fn netflow_v9_counts_missing_packets() {
    let v9 = |seq: u32, uptime: u32| {
        let mut msg = vec![0, 9, 0, 1];
        msg.extend_from_slice(&uptime.to_be_bytes());
        msg.extend_from_slice(&T0.to_be_bytes());
        msg.extend_from_slice(&seq.to_be_bytes());
        msg.extend_from_slice(&7u32.to_be_bytes());
        msg.extend_from_slice(&set(0, &[1, 0, 0, 1, 0, 8, 0, 4]));
        msg
    };
    let mut c = Collector::new(Transport::Udp);
    for (seq, uptime) in [(10, 100_000), (11, 101_000), (14, 102_000), (12, 101_500)] {
        c.feed(&v9(seq, uptime));
    }
    // The router rebooted: sysUptime starts over with a low sequence.
    c.feed(&v9(0, 500));
    c.feed(&v9(1, 1500));
    let s = c.stats();
    assert_eq!((s.version, s.missing, s.late, s.resets), (9, 1, 1, 1));
    assert_eq!(s.template_records, 6);
}

#[test]
fn statistics_print_on_one_line() {
    let mut c = Collector::new(Transport::Udp);
    c.feed(&ipfix(T0, 0, &[template(), data(3)]));
    c.feed(&ipfix(T0, 5, &[data(3), set(259, &[0; 4])]));
    c.feed(&[0, 10, 0]);
    assert_eq!(c.sessions.malformed, 1);
    assert_eq!(
        c.stats().to_string(),
        "session 1 odid 7 (IPFIX): 2 messages, 6 records, 1 template records, 1 errors, \
         2 missing records, 0 late, 0 duplicate, 0 resets, 0 templates expired, \
         1 data sets for unknown templates (259 x1), \
         1 held for their template (0 released with 0 records, 0 dropped for room, 0 expired)"
    );
    assert_eq!(c.sessions.stats().len(), 1);
}

/// RFC 7011 section 8 over TCP: a redefinition without withdrawal and a
/// withdrawal of an unknown template are errors that end the session,
/// counted apart; over UDP the redefinition simply replaces.
#[test]
fn stream_template_violations_are_counted_and_reported() {
    // Template 256 again, with one field.
    let redefined = set(2, &[1, 0, 0, 1, 0, 8, 0, 4]);
    let withdraw_unknown = set(2, &[1, 0x90, 0, 0]);
    let mut c = Collector::new(Transport::Stream);
    c.feed(&ipfix(T0, 0, &[template(), data(1)]));
    // An identical repeat is harmless.
    let (_, errors) = c.feed(&ipfix(T0, 1, &[template(), data(1)]));
    assert!(errors.is_empty(), "{errors:?}");
    let (_, errors) = c.feed(&ipfix(T0, 2, &[redefined.clone(), data(1)]));
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].kind, ipfix::ErrorKind::TemplateRedefined);
    assert!(errors[0].kind.ends_session());
    let (_, errors) = c.feed(&ipfix(T0, 3, std::slice::from_ref(&withdraw_unknown)));
    assert_eq!(errors[0].kind, ipfix::ErrorKind::UnknownWithdrawal);
    assert_eq!(errors[0].template_id, Some(400));
    assert_eq!(
        errors[0].to_string(),
        "at byte 16, set 2, template 400: withdrawal of an unknown template (stream session)"
    );
    assert_eq!((c.stats().template_violations, c.stats().errors), (2, 2));
    assert!(c
        .stats()
        .to_string()
        .ends_with(", 2 template rule violations (session must close)"));
    let mut u = Collector::new(Transport::Udp);
    u.feed(&ipfix(T0, 0, &[template(), data(1)]));
    let (_, errors) = u.feed(&ipfix(T0, 1, &[redefined, withdraw_unknown]));
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(u.stats().template_violations, 0);
}

/// Feeds `msg` over UDP at `clock_ms`; returns the flows' packet counts.
fn feed_udp(
    d: &mut Decoder,
    sessions: &mut Sessions,
    msg: &[u8],
    clock_ms: u64,
) -> (Vec<u64>, Vec<DecodeError>) {
    let mut packets = Vec::new();
    let (_, errors) = sessions.decode(
        d,
        1,
        Transport::Udp,
        msg,
        Some(clock_ms),
        &mut |ctx, rec| {
            packets.push(ipfix::to_flow(ctx, rec).packets);
        },
    );
    (packets, errors)
}

/// A data set of `n` records of template 256 whose packet counts are `packets`.
fn data_with(n: usize, packets: u8) -> Vec<u8> {
    set(256, &[10, 0, 0, 1, 0, 0, 0, packets].repeat(n))
}

/// UDP: data sets ahead of their template wait for it and are decoded
/// when it comes, in order, with the statistics to show it.
#[test]
fn udp_data_before_its_template_is_held_then_released() {
    let mut d = Decoder::new();
    let mut s = Sessions::new(SessionConfig::default());
    let (got, errors) = feed_udp(&mut d, &mut s, &ipfix(T0, 0, &[data_with(2, 1)]), 0);
    assert!(got.is_empty());
    assert_eq!(errors[0].kind, ipfix::ErrorKind::UnknownTemplate);
    feed_udp(&mut d, &mut s, &ipfix(T0, 2, &[data_with(1, 2)]), 10);
    assert!(s.held_bytes() > 0);
    // The template comes with data of its own: that data, then the held sets.
    let (got, errors) = feed_udp(
        &mut d,
        &mut s,
        &ipfix(T0, 3, &[template(), data_with(1, 3)]),
        20,
    );
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(got, [3, 1, 1, 2]);
    let st = s.get(1, 7).unwrap();
    assert_eq!(
        (st.held_sets, st.released_sets, st.released_records),
        (2, 2, 3)
    );
    assert_eq!((st.held_dropped, st.held_expired, st.records), (0, 0, 4));
    assert_eq!(s.held_bytes(), 0);
    assert!(st.to_string().contains(
        "2 held for their template (2 released with 3 records, 0 dropped for room, 0 expired)"
    ));
    // A data set ahead of the template in the same message is released by it.
    let mut d = Decoder::new();
    let mut s = Sessions::new(SessionConfig::default());
    let (got, _) = feed_udp(
        &mut d,
        &mut s,
        &ipfix(T0, 0, &[data_with(1, 9), template()]),
        0,
    );
    assert_eq!(got, [9]);
}

#[test]
fn held_sets_are_bounded_in_bytes_and_time() {
    let msg_len = ipfix(T0, 0, &[data_with(1, 1)]).len();
    let config = SessionConfig {
        hold_bytes: 2 * msg_len,
        hold_ms: 1000,
        ..SessionConfig::default()
    };
    let mut d = Decoder::new();
    let mut s = Sessions::new(config);
    for (i, packets) in [1u8, 2, 3].into_iter().enumerate() {
        feed_udp(
            &mut d,
            &mut s,
            &ipfix(T0, i as u32, &[data_with(1, packets)]),
            0,
        );
    }
    // The oldest made room for the third; a set bigger than the budget is
    // not kept at all.
    feed_udp(&mut d, &mut s, &ipfix(T0, 3, &[data_with(10, 4)]), 0);
    let st = s.get(1, 7).unwrap();
    assert_eq!((st.held_sets, st.held_dropped), (4, 2));
    let (got, _) = feed_udp(&mut d, &mut s, &ipfix(T0, 4, &[template()]), 500);
    assert_eq!(got, [2, 3]);
    // Too old by the time the template comes: expired, not decoded.
    d.templates.withdraw(1, 7, 256);
    feed_udp(&mut d, &mut s, &ipfix(T0, 5, &[data_with(1, 5)]), 1000);
    let (got, _) = feed_udp(&mut d, &mut s, &ipfix(T0, 6, &[template()]), 2001);
    assert!(got.is_empty());
    let st = s.get(1, 7).unwrap();
    assert_eq!(
        (
            st.held_sets,
            st.released_sets,
            st.held_dropped,
            st.held_expired
        ),
        (5, 2, 2, 1)
    );
    // The periodic expiry drops them too, and a closed session its own.
    d.templates.withdraw(1, 7, 256);
    feed_udp(&mut d, &mut s, &ipfix(T0, 7, &[data_with(1, 6)]), 3000);
    s.expire(&mut d.templates, 5000);
    assert_eq!(s.get(1, 7).unwrap().held_expired, 2);
    feed_udp(&mut d, &mut s, &ipfix(T0, 8, &[data_with(1, 6)]), 5000);
    s.remove_session(1);
    assert_eq!(s.held_bytes(), 0);
}

#[test]
fn streams_and_disabled_holding_keep_nothing() {
    let mut c = Collector::new(Transport::Stream);
    c.feed(&ipfix(T0, 0, &[data(1)]));
    assert_eq!(c.stats().held_sets, 0);
    assert_eq!(c.sessions.held_bytes(), 0);
    let mut d = Decoder::new();
    let mut s = Sessions::new(SessionConfig {
        hold_bytes: 0,
        ..SessionConfig::default()
    });
    feed_udp(&mut d, &mut s, &ipfix(T0, 0, &[data(1)]), 0);
    let (got, _) = feed_udp(&mut d, &mut s, &ipfix(T0, 1, &[template()]), 0);
    assert!(got.is_empty());
    assert_eq!(s.get(1, 7).unwrap().held_sets, 0);
}

/// NetFlow v9 over UDP: a flowset ahead of its template is held too.
#[test]
fn netflow_v9_flowsets_are_held_too() {
    let v9 = |seq: u32, sets: &[Vec<u8>]| {
        let mut out = vec![0, 9, 0, 1];
        out.extend_from_slice(&1000u32.to_be_bytes()); // sysUptime
        out.extend_from_slice(&T0.to_be_bytes());
        out.extend_from_slice(&seq.to_be_bytes());
        out.extend_from_slice(&7u32.to_be_bytes()); // source id
        out.extend_from_slice(&sets.concat());
        out
    };
    let template = set(0, &[1, 0, 0, 2, 0, 8, 0, 4, 0, 2, 0, 4]);
    let mut d = Decoder::new();
    let mut s = Sessions::new(SessionConfig::default());
    let (got, _) = feed_udp(&mut d, &mut s, &v9(0, &[data_with(2, 4)]), 0);
    assert!(got.is_empty());
    let (got, errors) = feed_udp(&mut d, &mut s, &v9(1, &[template]), 0);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(got, [4, 4]);
    let st = s.get(1, 7).unwrap();
    assert_eq!(
        (st.version, st.released_sets, st.released_records),
        (9, 1, 2)
    );
}
