//! The message decoder: dispatches on the version field, keeps templates in
//! a [`TemplateCache`] and hands every data record to a callback.

use std::collections::HashMap;

use record::FlowRecord;

use crate::error::{DecodeError, ErrorKind};
use crate::flow::to_flow;
use crate::message::{
    self, be, DataRecord, DataRecords, Flavor, IpfixMessage, Set, Sets, TemplateDef,
    TemplateRecords, V9Packet, IPFIX_HEADER_LEN, MIN_DATA_SET_ID,
};
use crate::netflow;
use crate::session::Transport;
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
    /// systemInitTimeMilliseconds (IE 160, ms since the epoch) last
    /// announced in an options record of this (session, ODID): what
    /// uptime-relative times (flowStart/EndSysUpTime, 22/21) count from.
    pub system_init_ms: Option<u64>,
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
    /// systemInitTimeMilliseconds per (session, ODID), from options data.
    system_init: HashMap<(u64, u32), u64>,
    /// Whether the message being decoded came over TCP/SCTP or from a file
    /// ([`Decoder::decode_on`]): RFC 7011 section 8's template rules apply.
    stream: bool,
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

    /// systemInitTimeMilliseconds last announced in an options record of
    /// (session, ODID).
    pub fn system_init_ms(&self, session: u64, odid: u32) -> Option<u64> {
        self.system_init.get(&(session, odid)).copied()
    }

    /// Forgets what the decoder keeps for a closed session: its templates,
    /// sampling intervals and system init times.
    pub fn remove_session(&mut self, session: u64) {
        self.templates.remove_session(session);
        self.sampling.retain(|k, _| k.0 != session);
        self.samplers.retain(|k, _| k.0 != session);
        self.system_init.retain(|k, _| k.0 != session);
    }

    /// The context's sampling and time fields from what is recorded for its domain.
    fn stamp(&self, ctx: &mut Context) {
        ctx.sampling_interval = self.sampling_interval(ctx.session, ctx.odid);
        ctx.apply_sampling = self.apply_sampling;
        ctx.system_init_ms = self.system_init_ms(ctx.session, ctx.odid);
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
        self.decode_on(session, Transport::Udp, msg, clock_ms, on_record)
    }

    /// [`Decoder::decode_at`] for a message that came over `transport`. On
    /// [`Transport::Stream`] (TCP, SCTP, files) RFC 7011 section 8's rules
    /// hold: a template id redefined differently without a withdrawal first
    /// ([`ErrorKind::TemplateRedefined`]; the old definition stays) and a
    /// withdrawal of a template the session does not have
    /// ([`ErrorKind::UnknownWithdrawal`]) are errors that end the session
    /// ([`ErrorKind::ends_session`]). An identical repeat is harmless. Over
    /// UDP a redefinition replaces and a needless withdrawal is ignored.
    pub fn decode_on(
        &mut self,
        session: u64,
        transport: Transport,
        msg: &[u8],
        clock_ms: Option<u64>,
        on_record: &mut OnRecord<'_>,
    ) -> (Decoded, Vec<DecodeError>) {
        self.clock_ms = clock_ms;
        self.stream = transport == Transport::Stream;
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
                    let old = self.templates.get(session, odid, id);
                    if self.stream && old.is_some_and(|old| *old != t) {
                        let kind = ErrorKind::TemplateRedefined;
                        let err = DecodeError::at(set.offset, kind).in_set(set.id);
                        errors.push(err.with_template(id));
                        continue;
                    }
                    if !self.templates.insert_at(session, odid, t, at_ms) {
                        let kind = ErrorKind::BadTemplate(
                            "template cache full (for this exporter or in all)",
                        );
                        let err = DecodeError::at(set.offset, kind).in_set(set.id);
                        errors.push(err.with_template(id));
                    }
                }
                Ok(TemplateDef::Withdraw(id)) => {
                    let known = self.templates.get(session, odid, id).is_some();
                    if self.stream && !known {
                        let kind = ErrorKind::UnknownWithdrawal;
                        let err = DecodeError::at(set.offset, kind).in_set(set.id);
                        errors.push(err.with_template(id));
                    }
                    self.templates.withdraw(session, odid, id);
                }
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
        let system_init = &mut self.system_init;
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
                if let Some(init) = record_system_init(rec) {
                    system_init.insert((ctx.session, ctx.odid), init);
                    ctx.system_init_ms = Some(init);
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

/// systemInitTimeMilliseconds (IE 160) of an options record.
fn record_system_init(rec: &DataRecord<'_, '_>) -> Option<u64> {
    rec.fields()
        .find(|f| f.spec.pen == 0 && f.spec.id == 160 && f.value.len() == 8)
        .map(|f| be(f.value, 0, 8))
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

/// Reads an IPFIX file (RFC 5655: messages back to back) one message at a
/// time, so memory stays at one message however large the file. Each
/// message comes as its own buffer (the collector hands it to another
/// thread). Errors say where in the file they are.
pub struct MessageReader<R> {
    inner: R,
    offset: usize,
    failed: bool,
}

/// Why reading a file stopped early.
#[derive(Debug)]
pub enum ReadError {
    Io(std::io::Error),
    Decode(DecodeError),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Io(e) => write!(f, "{e}"),
            ReadError::Decode(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ReadError {}

impl<R: std::io::Read> MessageReader<R> {
    pub fn new(inner: R) -> MessageReader<R> {
        MessageReader {
            inner,
            offset: 0,
            failed: false,
        }
    }

    /// Fills `buf` or reports how much came before the end of the file.
    fn fill(&mut self, buf: &mut [u8]) -> Result<usize, ReadError> {
        let mut filled = 0;
        while filled < buf.len() {
            match self.inner.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(ReadError::Io(e)),
            }
        }
        Ok(filled)
    }

    fn read_message(&mut self) -> Result<Option<Vec<u8>>, ReadError> {
        let mut header = [0u8; IPFIX_HEADER_LEN];
        let have = self.fill(&mut header)?;
        if have == 0 {
            return Ok(None);
        }
        let start = self.offset;
        let at = move |e: DecodeError| {
            let mut e = e;
            e.offset += start;
            ReadError::Decode(e)
        };
        if have < IPFIX_HEADER_LEN {
            let kind = ErrorKind::Truncated {
                need: IPFIX_HEADER_LEN,
                have,
            };
            return Err(at(DecodeError::at(0, kind)));
        }
        let len = usize::from(u16::from_be_bytes([header[2], header[3]]));
        let mut message = Vec::with_capacity(len.max(IPFIX_HEADER_LEN));
        message.extend_from_slice(&header);
        let rest = len.saturating_sub(IPFIX_HEADER_LEN) as u64;
        std::io::Read::read_to_end(
            &mut std::io::Read::take(&mut self.inner, rest),
            &mut message,
        )
        .map_err(ReadError::Io)?;
        // The header checks (version, length) as for a message in memory.
        let checked = IpfixMessage::new(&message).map(|m| m.len());
        match checked {
            Ok(n) if n == len => {
                self.offset += len;
                Ok(Some(message))
            }
            Ok(_) => Err(at(DecodeError::at(2, ErrorKind::BadMessageLength(len)))),
            Err(e) => Err(at(e)),
        }
    }
}

impl<R: std::io::Read> Iterator for MessageReader<R> {
    type Item = Result<Vec<u8>, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let next = self.read_message().transpose();
        self.failed = matches!(next, Some(Err(_)));
        next
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

    #[test]
    fn interfaces_as_numbers_and_odid() {
        let mut d = Decoder::new();
        // ingress/egressInterface 10/14 (4 bytes), bgpSource/DestinationAsNumber
        // 16/17 (4 and 2 bytes), ingressPhysicalInterface 252 (ignored beside 10).
        let tpl = set(2, &words(&[256, 5, 252, 4, 10, 4, 14, 4, 16, 4, 17, 2]));
        let mut body = 99u32.to_be_bytes().to_vec();
        body.extend_from_slice(&3u32.to_be_bytes());
        body.extend_from_slice(&4u32.to_be_bytes());
        body.extend_from_slice(&65_551u32.to_be_bytes());
        body.extend_from_slice(&64_512u16.to_be_bytes());
        let (flows, errors) = d.decode_flows(1, &ipfix(&[tpl, set(256, &body)]));
        assert!(errors.is_empty(), "{errors:?}");
        let f = &flows[0];
        assert_eq!(
            (f.in_if, f.out_if, f.src_as, f.dst_as),
            (3, 4, 65_551, 64_512)
        );
        assert_eq!(f.odid, 7);
        // Only the physical one: it is used.
        let tpl = set(2, &words(&[257, 1, 253, 4]));
        let (flows, _) = d.decode_flows(1, &ipfix(&[tpl, set(257, &[0, 0, 0, 12])]));
        assert_eq!(flows[0].out_if, 12);
        // NetFlow v5: input/output and src_as/dst_as, engine type/id as ODID.
        let mut msg = words(&[5, 1]);
        msg.extend_from_slice(&[0; 16]);
        msg.extend_from_slice(&[2, 9, 0, 0]); // engine type 2, id 9, unsampled
        let mut rec = [0u8; 48];
        rec[12..14].copy_from_slice(&5u16.to_be_bytes());
        rec[14..16].copy_from_slice(&6u16.to_be_bytes());
        rec[40..42].copy_from_slice(&100u16.to_be_bytes());
        rec[42..44].copy_from_slice(&200u16.to_be_bytes());
        msg.extend_from_slice(&rec);
        let (flows, errors) = Decoder::new().decode_flows(1, &msg);
        assert!(errors.is_empty(), "{errors:?}");
        let f = &flows[0];
        assert_eq!((f.in_if, f.out_if, f.src_as, f.dst_as), (5, 6, 100, 200));
        assert_eq!(f.odid, 2 << 8 | 9);
    }

    #[test]
    fn system_init_time_from_options_places_uptimes() {
        let mut d = Decoder::new();
        // Options template 300: scope observationDomainId, systemInitTimeMilliseconds.
        let options = set(3, &words(&[300, 2, 1, 149, 4, 160, 8]));
        let mut opt = 7u32.to_be_bytes().to_vec();
        opt.extend_from_slice(&1_600_000_000_000u64.to_be_bytes());
        // Data template 256: flowStartSysUpTime, flowEndSysUpTime.
        let tpl = set(2, &words(&[256, 2, 22, 4, 21, 4]));
        let mut data = 1000u32.to_be_bytes().to_vec();
        data.extend_from_slice(&2500u32.to_be_bytes());
        // Without the options record the times cannot be placed.
        let (flows, _) = d.decode_flows(1, &ipfix(&[tpl.clone(), set(256, &data)]));
        assert_eq!(flows[0].first_ns, 0);
        let msg = ipfix(&[options, set(300, &opt), tpl, set(256, &data)]);
        let (flows, errors) = d.decode_flows(1, &msg);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(flows[0].first_ns, 1_600_000_001_000 * 1_000_000);
        assert_eq!(flows[0].last_ns, 1_600_000_002_500 * 1_000_000);
        // Later messages of the domain remember it; other domains do not.
        assert_eq!(d.system_init_ms(1, 7), Some(1_600_000_000_000));
        let (flows, _) = d.decode_flows(1, &ipfix(&[set(256, &data)]));
        assert_eq!(flows[0].first_ns, 1_600_000_001_000 * 1_000_000);
        assert_eq!(d.system_init_ms(2, 7), None);
        d.remove_session(1);
        assert_eq!(d.system_init_ms(1, 7), None);
        assert!(d.templates.is_empty());
    }

    fn decode_stream(d: &mut Decoder, transport: Transport, msg: &[u8]) -> Vec<DecodeError> {
        d.decode_on(1, transport, msg, None, &mut |_, _| {}).1
    }

    #[test]
    fn stream_sessions_keep_rfc7011_template_rules() {
        let other_256 = set(2, &words(&[256, 1, 8, 4]));
        let withdraw = |id| set(2, &words(&[id, 0]));
        // UDP: a redefinition replaces, a needless withdrawal is ignored.
        let mut d = Decoder::new();
        assert!(decode_stream(&mut d, Transport::Udp, &ipfix(&[template_256()])).is_empty());
        let msg = ipfix(&[other_256.clone(), withdraw(400)]);
        assert!(decode_stream(&mut d, Transport::Udp, &msg).is_empty());
        assert_eq!(d.templates.get(1, 7, 256).unwrap().fields.len(), 1);
        // A stream: an identical repeat is fine, a different one is an
        // error that keeps the old definition, and so is withdrawing an
        // unknown template.
        let mut d = Decoder::new();
        let msg = ipfix(&[template_256(), template_256()]);
        assert!(decode_stream(&mut d, Transport::Stream, &msg).is_empty());
        let errors = decode_stream(
            &mut d,
            Transport::Stream,
            &ipfix(std::slice::from_ref(&other_256)),
        );
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].kind, ErrorKind::TemplateRedefined);
        assert_eq!(errors[0].template_id, Some(256));
        assert!(errors[0].kind.ends_session());
        assert_eq!(d.templates.get(1, 7, 256).unwrap().fields.len(), 3);
        let errors = decode_stream(&mut d, Transport::Stream, &ipfix(&[withdraw(400)]));
        assert_eq!(errors[0].kind, ErrorKind::UnknownWithdrawal);
        assert_eq!(errors[0].template_id, Some(400));
        // Withdrawn first, the id may be defined again.
        let msg = ipfix(&[withdraw(256), other_256]);
        assert!(decode_stream(&mut d, Transport::Stream, &msg).is_empty());
        assert_eq!(d.templates.get(1, 7, 256).unwrap().fields.len(), 1);
    }

    /// A template of (enterprise, id, length) fields.
    fn enterprise_template(id: u16, fields: &[(u32, u16, u16)]) -> Vec<u8> {
        let mut body = words(&[id, fields.len() as u16]);
        for &(pen, fid, len) in fields {
            if pen == 0 {
                body.extend_from_slice(&words(&[fid, len]));
            } else {
                body.extend_from_slice(&words(&[fid | 0x8000, len]));
                body.extend_from_slice(&pen.to_be_bytes());
            }
        }
        set(2, &body)
    }

    #[test]
    fn l7_elements_from_other_exporters() {
        use crate::registry::PEN_FLOWMON;
        use l7::tls::TlsFields;
        use l7::L7Fields;
        let mut d = Decoder::new();
        // TLS: SNI as a NUL-padded fixed-length string, version, JA3 as
        // hex text, an HTTP element (another protocol: ignored), and a
        // JA4 whose value is empty.
        let tpl = enterprise_template(
            256,
            &[
                (PEN_CESNET, 808, 8),
                (PEN_FLOWMON, 333, 2),
                (PEN_FLOWMON, 357, 65535),
                (PEN_FLOWMON, 1, 65535),
                (PEN_CESNET, 809, 65535),
            ],
        );
        let mut body = b"a.cz\0\0\0\0".to_vec();
        body.extend_from_slice(&[3, 4]);
        body.push(32);
        body.extend_from_slice(b"b288289af2999820648eb3ca4d8304c5");
        body.extend_from_slice(&[4, b'h', b'o', b's', b't']);
        body.push(0);
        let (flows, errors) = d.decode_flows(1, &ipfix(&[tpl, set(256, &body)]));
        assert!(errors.is_empty(), "{errors:?}");
        let want = L7Fields::from(TlsFields {
            sni: Some("a.cz".into()),
            version: Some(0x0304),
            ja3: Some("b288289af2999820648eb3ca4d8304c5".into()),
            ..TlsFields::default()
        });
        assert_eq!(flows[0].l7.as_ref(), Some(&want));
        // A 16-byte JA3 of zeros is absent; an HTTP status too wide for
        // its column is dropped; a record with no L7 element has none.
        let tpl = enterprise_template(257, &[(PEN_FLOWMON, 357, 16), (0, 8, 4)]);
        let mut body = vec![0; 16];
        body.extend_from_slice(&[10, 0, 0, 1]);
        let tpl2 = enterprise_template(258, &[(PEN_FLOWMON, 12, 4), (0, 8, 4)]);
        let mut body2 = 70_000u32.to_be_bytes().to_vec();
        body2.extend_from_slice(&[10, 0, 0, 1]);
        let msg = ipfix(&[tpl, set(257, &body), tpl2, set(258, &body2), template_256()]);
        let (flows, errors) = d.decode_flows(1, &msg);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            flows[0].l7.as_ref(),
            Some(&L7Fields::from(TlsFields::default()))
        );
        assert!(matches!(flows[1].l7.as_ref(), Some(L7Fields::Http(h)) if h.status.is_none()));
        let (flows, _) = d.decode_flows(
            1,
            &ipfix(&[set(2, &words(&[259, 1, 8, 4])), set(259, &[1, 2, 3, 4])]),
        );
        assert!(flows[0].l7.is_none());
    }

    #[test]
    fn the_file_reader_yields_what_file_messages_yields_and_stops_at_damage() {
        let mut file = Vec::new();
        for (i, body) in [&b""[..], b"\x00\x02\x00\x05x", &[7u8; 300][..]]
            .iter()
            .enumerate()
        {
            let mut m = vec![0, 10];
            m.extend_from_slice(&((16 + body.len()) as u16).to_be_bytes());
            m.extend_from_slice(&[0, 0, 0, i as u8, 0, 0, 0, 0, 0, 0, 0, 1]);
            m.extend_from_slice(body);
            file.extend_from_slice(&m);
        }
        let whole: Vec<Vec<u8>> = file_messages(&file).map(|m| m.unwrap().to_vec()).collect();
        let read: Vec<Vec<u8>> = MessageReader::new(&file[..]).map(|m| m.unwrap()).collect();
        assert_eq!(whole.len(), 3);
        assert_eq!(read, whole);
        // Cut anywhere: the complete messages, then one error at the cut
        // message's offset, as `file_messages` reports it.
        for cut in 1..file.len() {
            let part = &file[..cut];
            let expect: Vec<_> = file_messages(part).map(|m| m.map(<[u8]>::to_vec)).collect();
            let got: Vec<_> = MessageReader::new(part).collect();
            assert_eq!(got.len(), expect.len(), "cut at {cut}");
            for (g, e) in got.iter().zip(&expect) {
                match (g, e) {
                    (Ok(g), Ok(e)) => assert_eq!(g, e),
                    (Err(ReadError::Decode(g)), Err(e)) => {
                        assert_eq!(g.offset / 16, e.offset / 16, "cut at {cut}: {g} / {e}")
                    }
                    other => panic!("cut at {cut}: {other:?}"),
                }
            }
        }
        // A bad version is an error, not a panic or a huge read.
        let mut bad = file.clone();
        bad[1] = 9;
        assert!(matches!(
            MessageReader::new(&bad[..]).next(),
            Some(Err(ReadError::Decode(_)))
        ));
    }
}
