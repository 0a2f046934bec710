//! The message decoder: dispatches on the version field, keeps templates in
//! a [`TemplateCache`] and hands every data record to a callback.

use std::collections::HashMap;

use record::FlowRecord;

use crate::error::{DecodeError, ErrorKind};
use crate::flow::to_flow;
use crate::message::{
    self, be, DataRecord, DataRecords, Flavor, IpfixMessage, Set, Sets, TemplateDef,
    TemplateRecords, V9Packet, MIN_DATA_SET_ID,
};
use crate::netflow;
use crate::template::TemplateCache;

/// What a record needs to know about the message it came in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Context {
    /// 5, 9 or 10.
    pub version: u16,
    pub session: u64,
    /// IPFIX observation domain, v9 source id, v5 engine type/id.
    pub odid: u32,
    pub sequence: u32,
    /// Export time, milliseconds since the Unix epoch.
    pub export_ms: u64,
    /// NetFlow's sysUptime at export (ms); IPFIX has none in its header.
    pub sys_uptime_ms: Option<u32>,
    /// The packet sampling interval in force for this record (1 in N
    /// packets): from the v5 header, or recorded per (session, ODID) from
    /// v9/IPFIX options data (samplingInterval 34, flowSamplerRandomInterval
    /// 50, samplingPacketInterval/Space 305/306, samplingSize/Population
    /// 309/310), or per sampler for records carrying flowSamplerId (48) or
    /// selectorId (302).
    /// 1 (and 0, which a default `Context` has) means unsampled.
    pub sampling_interval: u32,
    /// Whether [`crate::to_flow`] multiplies packets and bytes by
    /// `sampling_interval` (copied from [`Decoder::apply_sampling`]).
    pub apply_sampling: bool,
}

/// Summary of one decoded message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Decoded {
    pub context: Context,
    /// Template records seen (definitions and withdrawals).
    pub templates: usize,
    /// Data records handed to the callback.
    pub records: usize,
}

/// Decodes IPFIX messages and NetFlow v5/v9 packets. Templates persist
/// between calls, stamped with the time they were last (re)defined so a UDP
/// collector can expire them ([`crate::session::Sessions`]); nothing else
/// persists.
#[derive(Clone, Debug, Default)]
pub struct Decoder {
    pub templates: TemplateCache,
    /// Multiply packets and bytes in [`crate::to_flow`]'s output by the
    /// sampling interval (default false: the interval is only recorded, in
    /// [`Context::sampling_interval`] and [`Decoder::sampling_interval`]).
    pub apply_sampling: bool,
    /// The clock of the message being decoded ([`Decoder::decode_at`]).
    clock_ms: Option<u64>,
    /// Sampling interval per (session, ODID), from options data or the v5 header.
    sampling: HashMap<(u64, u32), u32>,
    /// Sampling interval per (session, ODID, flowSamplerId).
    samplers: HashMap<(u64, u32, u64), u32>,
}

type OnRecord<'f> = dyn FnMut(&Context, &DataRecord<'_, '_>) + 'f;

impl Decoder {
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// The sampling interval last recorded for (session, ODID) from options
    /// data or a v5 header; 1 when none was (unsampled, as far as we know).
    pub fn sampling_interval(&self, session: u64, odid: u32) -> u32 {
        self.sampling.get(&(session, odid)).copied().unwrap_or(1)
    }

    /// The interval recorded for one flowSamplerId (48) of (session, ODID).
    pub fn sampler_interval(&self, session: u64, odid: u32, sampler: u64) -> Option<u32> {
        self.samplers.get(&(session, odid, sampler)).copied()
    }

    /// The context's sampling fields from what is recorded for its domain.
    fn stamp(&self, ctx: &mut Context) {
        ctx.sampling_interval = self.sampling_interval(ctx.session, ctx.odid);
        ctx.apply_sampling = self.apply_sampling;
    }

    /// Decodes one message from `session`, calling `on_record` for each data
    /// record (options data included: `record.template.options` tells).
    /// A broken set costs that set; the errors say where.
    /// Templates it defines are stamped with the message's export time.
    pub fn decode(
        &mut self,
        session: u64,
        msg: &[u8],
        on_record: &mut OnRecord<'_>,
    ) -> (Decoded, Vec<DecodeError>) {
        self.decode_at(session, msg, None, on_record)
    }

    /// [`Decoder::decode`], stamping the templates the message defines with
    /// `clock_ms` (ms since the epoch on the caller's clock) instead of the
    /// message's export time.
    pub fn decode_at(
        &mut self,
        session: u64,
        msg: &[u8],
        clock_ms: Option<u64>,
        on_record: &mut OnRecord<'_>,
    ) -> (Decoded, Vec<DecodeError>) {
        self.clock_ms = clock_ms;
        let mut decoded = Decoded::default();
        let mut errors = Vec::new();
        match message::version(msg) {
            Some(10) => self.ipfix(session, msg, on_record, &mut decoded, &mut errors),
            Some(9) => self.v9(session, msg, on_record, &mut decoded, &mut errors),
            Some(5) => {
                let apply = self.apply_sampling;
                netflow::decode_v5(session, msg, apply, on_record, &mut decoded, &mut errors);
                let ctx = decoded.context;
                if ctx.version == 5 && ctx.sampling_interval > 1 {
                    self.sampling
                        .insert((session, ctx.odid), ctx.sampling_interval);
                }
            }
            Some(v) => errors.push(DecodeError::at(0, ErrorKind::UnsupportedVersion(v))),
            None => errors.push(DecodeError::at(
                0,
                ErrorKind::Truncated {
                    need: 2,
                    have: msg.len(),
                },
            )),
        }
        (decoded, errors)
    }

    /// Decodes one message into flow records (options data skipped).
    pub fn decode_flows(
        &mut self,
        session: u64,
        msg: &[u8],
    ) -> (Vec<FlowRecord>, Vec<DecodeError>) {
        let mut flows = Vec::new();
        let (_, errors) = self.decode(session, msg, &mut |ctx, rec| {
            if !rec.template.options {
                flows.push(to_flow(ctx, rec));
            }
        });
        (flows, errors)
    }

    fn ipfix(
        &mut self,
        session: u64,
        buf: &[u8],
        on_record: &mut OnRecord<'_>,
        decoded: &mut Decoded,
        errors: &mut Vec<DecodeError>,
    ) {
        let msg = match IpfixMessage::new(buf) {
            Ok(m) => m,
            Err(e) => return errors.push(e),
        };
        decoded.context = Context {
            version: 10,
            session,
            odid: msg.odid(),
            sequence: msg.sequence(),
            export_ms: u64::from(msg.export_time()) * 1000,
            sys_uptime_ms: None,
            ..Context::default()
        };
        self.stamp(&mut decoded.context);
        self.sets(msg.sets(), Flavor::Ipfix, on_record, decoded, errors);
    }

    fn v9(
        &mut self,
        session: u64,
        buf: &[u8],
        on_record: &mut OnRecord<'_>,
        decoded: &mut Decoded,
        errors: &mut Vec<DecodeError>,
    ) {
        let pkt = match V9Packet::new(buf) {
            Ok(p) => p,
            Err(e) => return errors.push(e),
        };
        decoded.context = Context {
            version: 9,
            session,
            odid: pkt.source_id(),
            sequence: pkt.sequence(),
            export_ms: u64::from(pkt.unix_secs()) * 1000,
            sys_uptime_ms: Some(pkt.sys_uptime_ms()),
            ..Context::default()
        };
        self.stamp(&mut decoded.context);
        self.sets(pkt.sets(), Flavor::V9, on_record, decoded, errors);
    }

    fn sets(
        &mut self,
        sets: Sets<'_>,
        flavor: Flavor,
        on_record: &mut OnRecord<'_>,
        decoded: &mut Decoded,
        errors: &mut Vec<DecodeError>,
    ) {
        let template_ids = match flavor {
            Flavor::Ipfix => [message::SET_TEMPLATE, message::SET_OPTIONS_TEMPLATE],
            Flavor::V9 => [message::V9_SET_TEMPLATE, message::V9_SET_OPTIONS_TEMPLATE],
        };
        for set in sets {
            let set = match set {
                Ok(s) => s,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            if template_ids.contains(&set.id) {
                self.template_set(set, flavor, decoded, errors);
            } else if set.id >= MIN_DATA_SET_ID {
                self.data_set(set, on_record, decoded, errors);
            } else {
                errors.push(DecodeError::at(set.offset, ErrorKind::ReservedSetId).in_set(set.id));
            }
        }
    }

    fn template_set(
        &mut self,
        set: Set<'_>,
        flavor: Flavor,
        decoded: &mut Decoded,
        errors: &mut Vec<DecodeError>,
    ) {
        let (session, odid) = (decoded.context.session, decoded.context.odid);
        let at_ms = self.clock_ms.unwrap_or(decoded.context.export_ms);
        let records = TemplateRecords::new(set, flavor);
        for def in records {
            decoded.templates += 1;
            match def {
                Ok(TemplateDef::Define(t)) => {
                    let id = t.id;
                    if !self.templates.insert_at(session, odid, t, at_ms) {
                        let kind = ErrorKind::BadTemplate("template cache full");
                        let err = DecodeError::at(set.offset, kind).in_set(set.id);
                        errors.push(err.with_template(id));
                    }
                }
                Ok(TemplateDef::Withdraw(id)) => self.templates.withdraw(session, odid, id),
                Ok(TemplateDef::WithdrawAll) => {
                    let options = set.id == message::SET_OPTIONS_TEMPLATE;
                    self.templates.withdraw_all(session, odid, options);
                }
                Err(e) => errors.push(e),
            }
        }
    }

    fn data_set(
        &mut self,
        set: Set<'_>,
        on_record: &mut OnRecord<'_>,
        decoded: &mut Decoded,
        errors: &mut Vec<DecodeError>,
    ) {
        let ctx = decoded.context;
        let Some(template) = self.templates.get(ctx.session, ctx.odid, set.id) else {
            self.templates.note_unknown(ctx.session, ctx.odid, set.id);
            let err = DecodeError::at(set.offset, ErrorKind::UnknownTemplate).in_set(set.id);
            errors.push(err.with_template(set.id));
            return;
        };
        // Options records may update the sampling state (disjoint fields of
        // `self`, so the template stays borrowed).
        let (sampling, samplers) = (&mut self.sampling, &mut self.samplers);
        let per_sampler = !template.options
            && !samplers.is_empty()
            && template
                .fields
                .iter()
                .any(|f| f.pen == 0 && matches!(f.id, 48 | 302));
        let mut deliver = |rec: &DataRecord<'_, '_>| {
            decoded.records += 1;
            if template.options {
                let ctx = &mut decoded.context;
                let s = record_sampling(rec);
                // The latest interval announced is the domain's; one
                // scoped to a sampler also applies to the records naming it.
                if let Some(i) = s.interval {
                    if let Some(id) = s.sampler {
                        samplers.insert((ctx.session, ctx.odid, id), i);
                    }
                    sampling.insert((ctx.session, ctx.odid), i);
                    ctx.sampling_interval = i;
                }
                on_record(ctx, rec);
            } else if per_sampler {
                let mut ctx = decoded.context;
                if let Some(id) = record_sampling(rec).sampler {
                    if let Some(&i) = samplers.get(&(ctx.session, ctx.odid, id)) {
                        ctx.sampling_interval = i;
                    }
                }
                on_record(&ctx, rec);
            } else {
                on_record(&decoded.context, rec);
            }
        };
        // Fixed-length records (the common case) are cut without walking
        // the fields: what is left shorter than a record is padding, as in
        // `DataRecords`, which handles variable-length templates.
        let fixed = template.min_len;
        if fixed > 0 && !template.fields.iter().any(|f| f.variable) {
            for data in set.body.chunks_exact(fixed) {
                deliver(&DataRecord { template, data });
            }
            return;
        }
        for rec in DataRecords::new(set, template) {
            match rec {
                Ok(rec) => deliver(&rec),
                Err(e) => errors.push(e),
            }
        }
    }
}

/// What one record says about sampling.
#[derive(Default)]
struct Sampling {
    interval: Option<u32>,
    sampler: Option<u64>,
}

fn record_sampling(rec: &DataRecord<'_, '_>) -> Sampling {
    let mut sampler = None;
    let mut direct = None;
    let (mut pkt_interval, mut pkt_space, mut size, mut population) = (None, None, None, None);
    for f in rec.fields() {
        if f.spec.pen != 0 || f.value.is_empty() || f.value.len() > 8 {
            continue;
        }
        let v = be(f.value, 0, f.value.len());
        match f.spec.id {
            // samplingInterval, flowSamplerRandomInterval
            34 | 50 => direct = Some(v),
            // flowSamplerId (v9), selectorId (IPFIX)
            48 | 302 => sampler = Some(v),
            305 => pkt_interval = Some(v),
            306 => pkt_space = Some(v),
            309 => size = Some(v),
            310 => population = Some(v),
            _ => {}
        }
    }
    // samplingPacketInterval packets taken, then samplingPacketSpace
    // skipped; or samplingSize taken out of samplingPopulation.
    let interval = direct.or_else(|| match (pkt_interval, pkt_space, size, population) {
        (Some(i), Some(sp), _, _) => i.saturating_add(sp).checked_div(i),
        (_, _, Some(n), Some(p)) => p.checked_div(n),
        _ => None,
    });
    Sampling {
        interval: interval
            .filter(|&i| i > 0)
            .map(|i| u32::try_from(i).unwrap_or(u32::MAX)),
        sampler,
    }
}

/// Splits an IPFIX file (RFC 5655: messages back to back) into messages.
/// Stops with an error at the first header that cannot be right.
pub fn file_messages(buf: &[u8]) -> FileMessages<'_> {
    FileMessages { buf, pos: 0 }
}

#[derive(Clone, Debug)]
pub struct FileMessages<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for FileMessages<'a> {
    type Item = Result<&'a [u8], DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.buf.get(self.pos..).filter(|r| !r.is_empty())?;
        match IpfixMessage::new(rest) {
            Ok(msg) => {
                self.pos += msg.len();
                rest.get(..msg.len()).map(Ok)
            }
            Err(mut e) => {
                e.offset += self.pos;
                self.pos = self.buf.len();
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{PEN_CESNET, PEN_NETFLOW_V9, PEN_NETFLOW_V9_HIGH};

    /// A set: id, then body, length filled in.
    fn set(id: u16, body: &[u8]) -> Vec<u8> {
        let mut out = id.to_be_bytes().to_vec();
        out.extend_from_slice(&((body.len() + 4) as u16).to_be_bytes());
        out.extend_from_slice(body);
        out
    }

    /// An IPFIX message (export time 1000 s, ODID 7) around `sets`.
    fn ipfix(sets: &[Vec<u8>]) -> Vec<u8> {
        let body: Vec<u8> = sets.concat();
        let mut out = vec![0, 10];
        out.extend_from_slice(&((body.len() + 16) as u16).to_be_bytes());
        out.extend_from_slice(&1000u32.to_be_bytes());
        out.extend_from_slice(&1u32.to_be_bytes());
        out.extend_from_slice(&7u32.to_be_bytes());
        out.extend_from_slice(&body);
        out
    }

    fn words(ws: &[u16]) -> Vec<u8> {
        ws.iter().flat_map(|w| w.to_be_bytes()).collect()
    }

    /// Template 256: sourceIPv4Address(4), CESNET TLS_SNI (variable), packetDeltaCount(4).
    fn template_256() -> Vec<u8> {
        let mut body = words(&[256, 3, 8, 4, 0x8000 | 808, 65535]);
        body.extend_from_slice(&PEN_CESNET.to_be_bytes());
        body.extend_from_slice(&words(&[2, 4]));
        set(2, &body)
    }

    fn data_256() -> Vec<u8> {
        let mut body = vec![10, 0, 0, 1, 3, b'a', b'b', b'c', 0, 0, 0, 5];
        // The long form of the variable length: 255 then two bytes.
        body.extend_from_slice(&[10, 0, 0, 2, 255, 0, 2, b'x', b'y', 0, 0, 0, 6]);
        body.extend_from_slice(&[0, 0, 0]); // padding
        set(256, &body)
    }

    /// A record as (pen, id, value) triples.
    type Fields = Vec<(u32, u16, Vec<u8>)>;

    /// Decodes and returns the records and the errors.
    fn check(d: &mut Decoder, msg: &[u8]) -> (Vec<Fields>, Vec<DecodeError>) {
        let mut recs = Vec::new();
        let (_, errors) = d.decode(1, msg, &mut |_, rec| {
            recs.push(
                rec.fields()
                    .map(|f| (f.spec.pen, f.spec.id, f.value.to_vec()))
                    .collect(),
            );
        });
        (recs, errors)
    }

    #[test]
    fn enterprise_and_variable_length_fields() {
        let mut d = Decoder::new();
        let (recs, errors) = check(&mut d, &ipfix(&[template_256(), data_256()]));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0][1], (PEN_CESNET, 808, b"abc".to_vec()));
        assert_eq!(recs[1][1].2, b"xy");
        assert_eq!(recs[1][2].2, [0, 0, 0, 6]);
        let (flows, _) = d.decode_flows(1, &ipfix(&[data_256()]));
        assert_eq!(flows[1].packets, 6);
        assert_eq!(flows[1].src_addr().to_string(), "10.0.0.2");
    }

    #[test]
    fn withdrawal_then_data_is_reported_and_counted() {
        let mut d = Decoder::new();
        check(&mut d, &ipfix(&[template_256()]));
        let (recs, errors) = check(&mut d, &ipfix(&[set(2, &words(&[256, 0])), data_256()]));
        assert!(recs.is_empty());
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].kind, ErrorKind::UnknownTemplate);
        assert_eq!(
            (errors[0].set_id, errors[0].template_id),
            (Some(256), Some(256))
        );
        let unknown: Vec<_> = d.templates.unknown().collect();
        assert_eq!(unknown.len(), 1);
        assert_eq!((unknown[0].0.odid, unknown[0].1), (7, 1));
    }

    #[test]
    fn withdraw_all_keeps_options_templates() {
        let mut d = Decoder::new();
        let options = set(3, &words(&[300, 2, 1, 149, 4, 41, 8]));
        check(&mut d, &ipfix(&[template_256(), options]));
        assert_eq!(d.templates.len(), 2);
        check(&mut d, &ipfix(&[set(2, &words(&[2, 0]))]));
        assert!(d.templates.get(1, 7, 256).is_none());
        assert!(d
            .templates
            .get(1, 7, 300)
            .is_some_and(|t| t.options && t.scope_count == 1));
    }

    #[test]
    fn options_data_is_delivered_but_not_a_flow() {
        let mut d = Decoder::new();
        let options = set(3, &words(&[300, 2, 1, 149, 4, 41, 8]));
        let data = set(300, &[0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 9]);
        let msg = ipfix(&[options, data]);
        let (recs, errors) = check(&mut d, &msg);
        assert!(errors.is_empty());
        assert_eq!(recs[0][1], (0, 41, vec![0, 0, 0, 0, 0, 0, 0, 9]));
        assert!(d.decode_flows(1, &msg).0.is_empty());
    }

    #[test]
    fn a_bad_set_costs_only_that_set() {
        let mut d = Decoder::new();
        check(&mut d, &ipfix(&[template_256()]));
        let bad = set(2, &words(&[5, 1, 8, 4]));
        let (recs, errors) = check(&mut d, &ipfix(&[data_256(), bad, data_256()]));
        assert_eq!(recs.len(), 4);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].set_id, Some(2));
        assert_eq!(errors[0].template_id, Some(5));
        assert_eq!(errors[0].offset, 16 + data_256().len() + 4);
    }

    #[test]
    fn bad_set_length_says_where() {
        let mut d = Decoder::new();
        let mut msg = ipfix(&[template_256()]);
        msg[18..20].copy_from_slice(&500u16.to_be_bytes());
        let (_, errors) = check(&mut d, &msg);
        assert_eq!(errors[0].kind, ErrorKind::BadSetLength(500));
        assert_eq!(
            errors[0].to_string(),
            "at byte 18, set 2: bad set length 500"
        );
    }

    #[test]
    fn ipfix_times_in_all_units() {
        let mut d = Decoder::new();
        // 152 ms start, 155 NTP microseconds end, and 22 relative to 160.
        let tpl = set(2, &words(&[256, 4, 152, 8, 155, 8, 22, 4, 160, 8]));
        let mut body = 1_500_000_000_123u64.to_be_bytes().to_vec();
        let ntp_secs = 1_500_000_001u64 + 2_208_988_800;
        body.extend_from_slice(&((ntp_secs << 32) | (1u64 << 31)).to_be_bytes());
        body.extend_from_slice(&5000u32.to_be_bytes());
        body.extend_from_slice(&1_400_000_000_000u64.to_be_bytes());
        let (flows, errors) = d.decode_flows(1, &ipfix(&[tpl, set(256, &body)]));
        assert!(errors.is_empty());
        // The absolute start wins over the uptime-relative one.
        assert_eq!(flows[0].first_ns, 1_500_000_000_123_000_000);
        assert_eq!(flows[0].last_ns, 1_500_000_001_500_000_000);
        let tpl = set(2, &words(&[257, 2, 22, 4, 160, 8]));
        let mut body = 5000u32.to_be_bytes().to_vec();
        body.extend_from_slice(&1_400_000_000_000u64.to_be_bytes());
        let (flows, _) = d.decode_flows(1, &ipfix(&[tpl, set(257, &body)]));
        assert_eq!(flows[0].first_ns, 1_400_000_005_000_000_000);
    }

    #[test]
    fn netflow_v5_times_are_uptime_relative() {
        let mut msg = words(&[5, 1]);
        msg.extend_from_slice(&10_000u32.to_be_bytes()); // sysUptime
        msg.extend_from_slice(&1000u32.to_be_bytes()); // unix_secs
        msg.extend_from_slice(&500_000_000u32.to_be_bytes()); // unix_nsecs
        msg.extend_from_slice(&[0; 8]);
        let mut rec = [0u8; 48];
        rec[0..4].copy_from_slice(&[192, 0, 2, 1]);
        rec[24..28].copy_from_slice(&4000u32.to_be_bytes());
        rec[28..32].copy_from_slice(&9000u32.to_be_bytes());
        rec[38] = 6;
        msg.extend_from_slice(&rec);
        let (flows, errors) = Decoder::new().decode_flows(1, &msg);
        assert!(errors.is_empty());
        assert_eq!(flows[0].first_ns, 994_500 * 1_000_000);
        assert_eq!(flows[0].last_ns, 999_500 * 1_000_000);
        assert_eq!(
            (flows[0].proto, flows[0].src_addr().to_string().as_str()),
            (6, "192.0.2.1")
        );
        // A count beyond the packet: the records that are there, and an error.
        msg[3] = 3;
        let (flows, errors) = Decoder::new().decode_flows(1, &msg);
        assert_eq!((flows.len(), errors.len()), (1, 1));
    }

    #[test]
    fn netflow_v9_high_field_types_get_reserved_enterprises() {
        let mut msg = words(&[9, 2]);
        msg.extend_from_slice(&[0; 12]);
        msg.extend_from_slice(&3u32.to_be_bytes()); // source id
        msg.extend_from_slice(&set(0, &words(&[260, 3, 8, 4, 225, 4, 40000, 2])));
        msg.extend_from_slice(&set(260, &[1, 2, 3, 4, 5, 6, 7, 8, 0, 9]));
        let (recs, errors) = check(&mut Decoder::new(), &msg);
        assert!(errors.is_empty(), "{errors:?}");
        let ids: Vec<_> = recs[0].iter().map(|f| (f.0, f.1)).collect();
        assert_eq!(
            ids,
            [
                (0, 8),
                (PEN_NETFLOW_V9, 225),
                (PEN_NETFLOW_V9_HIGH, 40000 - 32768)
            ]
        );
    }
}
