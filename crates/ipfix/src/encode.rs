//! IPFIX (RFC 7011) encoding of [`record::FlowRecord`]s: four base
//! templates (IPv4 and IPv6, each with and without the RFC 5103 reverse
//! counters), the same four extended by each L7 protocol's CESNET/Flowmon
//! elements (strings variable-length), template (re)emission and packing
//! into messages no longer than a configured length.
//!
//! Not here: sockets (see [`crate::export`]). The decision a reader may
//! question: templates are fixed lists, not built from what a record
//! happens to carry, so every record of a kind has the same fields (zero
//! MACs, VLAN 0, empty strings for absent L7 values, 0 for absent L7
//! numbers) and there are at most 24 templates; the base four go out first,
//! an L7 template the first time a record needs it (and again after a
//! refresh). A record whose L7 strings cannot fit one message goes out with
//! its base template, counted in [`Encoder::l7_dropped`].

use l7::{col, L7Fields, Value, COLUMNS};
use record::{FlowRecord, Reverse};

use crate::message::{DataRecord, IPFIX_HEADER_LEN, SET_HEADER_LEN, SET_TEMPLATE, VARLEN};
use crate::registry::{PEN_CESNET, PEN_FLOWMON};

/// RFC 5103 reverse information elements live under this enterprise number.
pub const PEN_REVERSE: u32 = 29305;

/// Base template ids; an L7 protocol's templates are these plus
/// `4 * protocol` ([`L7_PROTOCOLS`], from 1).
pub const TEMPLATE_V4: u16 = 256;
pub const TEMPLATE_V6: u16 = 257;
pub const TEMPLATE_V4_BIFLOW: u16 = 258;
pub const TEMPLATE_V6_BIFLOW: u16 = 259;
/// One past the last template id eddy uses.
pub const TEMPLATE_END: u16 = 256 + 4 * (L7_PROTOCOLS.len() as u16 + 1);

/// The protocols with L7 templates, in template order (QUIC has no
/// CESNET/Flowmon elements and goes out with the base template).
pub const L7_PROTOCOLS: [&str; 5] = ["http", "dns", "tls", "smtp", "sip"];

/// (L7 column, enterprise, element id, length; [`VARLEN`] = string).
type L7Spec = (usize, u32, u16, u16);

/// tls_ja3 travels as the 16-byte MD5 (ipfixprobe's form), not as hex.
const JA3_LEN: u16 = 16;

/// Each protocol's elements, in wire order (DESIGN.md section 3).
const L7_ELEMENTS: [&[L7Spec]; 5] = [
    &[
        (col::HTTP_METHOD, PEN_CESNET, 200, VARLEN),
        (col::HTTP_HOST, PEN_FLOWMON, 1, VARLEN),
        (col::HTTP_URL, PEN_FLOWMON, 2, VARLEN),
        (col::HTTP_USER_AGENT, PEN_FLOWMON, 20, VARLEN),
        (col::HTTP_REFERER, PEN_FLOWMON, 3, VARLEN),
        (col::HTTP_STATUS, PEN_FLOWMON, 12, 2),
        (col::HTTP_CONTENT_TYPE, PEN_FLOWMON, 10, VARLEN),
        (col::HTTP_SERVER, PEN_CESNET, 201, VARLEN),
    ],
    &[
        (col::DNS_ID, PEN_CESNET, 10, 2),
        (col::DNS_QNAME, PEN_CESNET, 2, VARLEN),
        (col::DNS_QTYPE, PEN_CESNET, 3, 2),
        (col::DNS_RCODE, PEN_CESNET, 1, 1),
        (col::DNS_ANSWERS, PEN_CESNET, 14, 2),
        (col::DNS_ANSWER, PEN_CESNET, 7, VARLEN),
        (col::DNS_TTL, PEN_CESNET, 5, 4),
    ],
    &[
        (col::TLS_SNI, PEN_CESNET, 808, VARLEN),
        (col::TLS_VERSION, PEN_FLOWMON, 333, 2),
        (col::TLS_ALPN, PEN_FLOWMON, 337, VARLEN),
        (col::TLS_JA3, PEN_FLOWMON, 357, JA3_LEN),
        (col::TLS_JA4, PEN_CESNET, 809, VARLEN),
    ],
    &[
        (col::SMTP_COMMANDS, PEN_CESNET, 810, 4),
        (col::SMTP_SENDER, PEN_CESNET, 813, VARLEN),
        (col::SMTP_RECIPIENT, PEN_CESNET, 814, VARLEN),
        (col::SMTP_2XX, PEN_CESNET, 816, 4),
        (col::SMTP_3XX, PEN_CESNET, 817, 4),
        (col::SMTP_4XX, PEN_CESNET, 818, 4),
        (col::SMTP_5XX, PEN_CESNET, 819, 4),
        (col::SMTP_DOMAIN, PEN_CESNET, 820, VARLEN),
    ],
    &[
        (col::SIP_MSG_TYPE, PEN_CESNET, 100, 2),
        (col::SIP_STATUS, PEN_CESNET, 101, 2),
        (col::SIP_CALL_ID, PEN_CESNET, 102, VARLEN),
        (col::SIP_FROM, PEN_CESNET, 103, VARLEN),
        (col::SIP_TO, PEN_CESNET, 104, VARLEN),
        (col::SIP_VIA, PEN_CESNET, 105, VARLEN),
        (col::SIP_USER_AGENT, PEN_CESNET, 106, VARLEN),
        (col::SIP_REQUEST_URI, PEN_CESNET, 107, VARLEN),
        (col::SIP_CSEQ, PEN_CESNET, 108, VARLEN),
    ],
];

/// 1-based index into [`L7_PROTOCOLS`] of a record's L7 fields; 0 = none.
fn l7_protocol(l7: Option<&L7Fields>) -> u16 {
    match l7 {
        Some(L7Fields::Http(_)) => 1,
        Some(L7Fields::Dns(_)) => 2,
        Some(L7Fields::Tls(_)) => 3,
        Some(L7Fields::Smtp(_)) => 4,
        Some(L7Fields::Sip(_)) => 5,
        Some(L7Fields::Quic(_)) | None => 0,
    }
}

/// The L7 elements of a template id (empty for a base template).
pub fn l7_elements(template_id: u16) -> &'static [L7Spec] {
    let proto = usize::from(template_id.saturating_sub(256) / 4);
    match proto.checked_sub(1) {
        Some(i) if template_id < TEMPLATE_END => L7_ELEMENTS[i],
        _ => &[],
    }
}

/// The element an L7 column travels in: (enterprise, element id, length;
/// [`VARLEN`] = string). None for a column eddy does not export (e.g.
/// `dns_qclass`, `sip_method`, the QUIC group).
pub fn l7_element(column: usize) -> Option<(u32, u16, u16)> {
    L7_ELEMENTS
        .iter()
        .flat_map(|p| p.iter())
        .find(|s| s.0 == column)
        .map(|&(_, pen, id, len)| (pen, id, len))
}

/// The L7 column an enterprise element carries, and its length as eddy
/// writes it ([`VARLEN`] = string); the inverse of [`l7_element`].
pub fn l7_column(pen: u32, id: u16) -> Option<(usize, u16)> {
    L7_ELEMENTS
        .iter()
        .flat_map(|p| p.iter())
        .find(|s| s.1 == pen && s.2 == id)
        .map(|&(column, _, _, len)| (column, len))
}

/// Largest IPFIX message (the length field is 16 bits).
pub const MAX_MESSAGE_LEN: usize = 65_535;
/// Default for UDP: fits an Ethernet MTU with IP/UDP headers and some tunnel room.
pub const UDP_MESSAGE_LEN: usize = 1400;
/// Smallest `max_message_len` accepted: the header, all templates and one
/// record must fit in one message.
pub const MIN_MESSAGE_LEN: usize = 512;

/// (enterprise, element id, length) of one template field.
type Spec = (u32, u16, u16);

const HEAD: &[Spec] = &[
    (0, 152, 8), // flowStartMilliseconds
    (0, 153, 8), // flowEndMilliseconds
];
const V4_ADDRS: &[Spec] = &[(0, 8, 4), (0, 12, 4)];
const V6_ADDRS: &[Spec] = &[(0, 27, 16), (0, 28, 16)];
const TAIL: &[Spec] = &[
    (0, 7, 2),   // sourceTransportPort
    (0, 11, 2),  // destinationTransportPort
    (0, 4, 1),   // protocolIdentifier
    (0, 6, 2),   // tcpControlBits
    (0, 5, 1),   // ipClassOfService
    (0, 2, 8),   // packetDeltaCount
    (0, 1, 8),   // octetDeltaCount
    (0, 58, 2),  // vlanId
    (0, 56, 6),  // sourceMacAddress
    (0, 80, 6),  // destinationMacAddress
    (0, 136, 1), // flowEndReason
];
const REVERSE: &[Spec] = &[
    (PEN_REVERSE, 152, 8), // reverseFlowStartMilliseconds
    (PEN_REVERSE, 153, 8), // reverseFlowEndMilliseconds
    (PEN_REVERSE, 2, 8),   // reversePacketDeltaCount
    (PEN_REVERSE, 1, 8),   // reverseOctetDeltaCount
    (PEN_REVERSE, 6, 2),   // reverseTcpControlBits
];

/// The fields of one of eddy's templates, in wire order (length
/// [`VARLEN`] for strings); empty for an id eddy does not use.
pub fn template_fields(template_id: u16) -> Vec<Spec> {
    if !(TEMPLATE_V4..TEMPLATE_END).contains(&template_id) {
        return Vec::new();
    }
    let (v6, biflow) = (is_v6(template_id), is_biflow(template_id));
    let mut out = HEAD.to_vec();
    out.extend_from_slice(if v6 { V6_ADDRS } else { V4_ADDRS });
    out.extend_from_slice(TAIL);
    if biflow {
        out.extend_from_slice(REVERSE);
    }
    out.extend(
        l7_elements(template_id)
            .iter()
            .map(|&(_, pen, id, len)| (pen, id, len)),
    );
    out
}

/// Template ids go in fours: IPv4, IPv6, IPv4 biflow, IPv6 biflow.
fn is_v6(template_id: u16) -> bool {
    template_id.wrapping_sub(256) & 1 != 0
}

fn is_biflow(template_id: u16) -> bool {
    template_id.wrapping_sub(256) & 2 != 0
}

/// Bytes a template record takes in a template set.
fn template_record_len(template_id: u16) -> usize {
    4 + template_fields(template_id)
        .iter()
        .map(|s| if s.0 == 0 { 4 } else { 8 })
        .sum::<usize>()
}

const BASE_TEMPLATES: [u16; 4] = [
    TEMPLATE_V4,
    TEMPLATE_V6,
    TEMPLATE_V4_BIFLOW,
    TEMPLATE_V6_BIFLOW,
];

/// Which base template a record goes out with (its L7 fields ignored).
pub fn base_template_for(flow: &FlowRecord) -> u16 {
    match (flow.ip_version() == 4, flow.reverse.is_some()) {
        (true, false) => TEMPLATE_V4,
        (false, false) => TEMPLATE_V6,
        (true, true) => TEMPLATE_V4_BIFLOW,
        (false, true) => TEMPLATE_V6_BIFLOW,
    }
}

/// Which template a record goes out with.
pub fn template_for(flow: &FlowRecord) -> u16 {
    base_template_for(flow) + 4 * l7_protocol(flow.l7.as_ref())
}

/// Bytes one data record of a base template takes (L7 templates have
/// variable-length fields).
pub fn record_len(template_id: u16) -> usize {
    template_fields(template_id)
        .iter()
        .map(|s| usize::from(s.2))
        .sum()
}

/// How the encoder packs and when it repeats templates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EncoderConfig {
    pub odid: u32,
    /// Longest message written, header included (clamped to
    /// [`MIN_MESSAGE_LEN`]..=[`MAX_MESSAGE_LEN`]).
    pub max_message_len: usize,
    /// Send the templates again after this many messages (0 = never).
    pub refresh_messages: u32,
    /// Send the templates again when this many seconds of export time have
    /// passed since they last went out (0 = never).
    pub refresh_secs: u32,
}

impl EncoderConfig {
    /// UDP: 1400-byte messages, templates every 20 messages or 60 seconds.
    pub fn udp(odid: u32) -> EncoderConfig {
        EncoderConfig {
            odid,
            max_message_len: UDP_MESSAGE_LEN,
            refresh_messages: 20,
            refresh_secs: 60,
        }
    }

    /// TCP and files: the largest messages, templates once per session/file.
    pub fn stream(odid: u32) -> EncoderConfig {
        EncoderConfig {
            odid,
            max_message_len: MAX_MESSAGE_LEN,
            refresh_messages: 0,
            refresh_secs: 0,
        }
    }
}

/// Turns flow records into IPFIX messages. Holds the sequence number and
/// the template schedule of one transport session and observation domain.
#[derive(Clone, Debug)]
pub struct Encoder {
    config: EncoderConfig,
    /// Data records sent before the next message (RFC 7011 section 3.1).
    sequence: u32,
    /// Messages since the templates last went out; None = never sent.
    since_templates: Option<u32>,
    templates_at_s: u32,
    messages: u64,
    /// Which L7 templates the collector has had since the last refresh.
    announced: [bool; (TEMPLATE_END - 256) as usize],
    l7_dropped: u64,
    scratch: Vec<u8>,
}

impl Encoder {
    pub fn new(config: EncoderConfig) -> Encoder {
        let config = EncoderConfig {
            max_message_len: config
                .max_message_len
                .clamp(MIN_MESSAGE_LEN, MAX_MESSAGE_LEN),
            ..config
        };
        Encoder {
            config,
            sequence: 0,
            since_templates: None,
            templates_at_s: 0,
            messages: 0,
            announced: [false; (TEMPLATE_END - 256) as usize],
            l7_dropped: 0,
            scratch: Vec::new(),
        }
    }

    pub fn config(&self) -> &EncoderConfig {
        &self.config
    }

    /// The sequence number the next message will carry.
    pub fn sequence(&self) -> u32 {
        self.sequence
    }

    /// Messages written so far.
    pub fn messages(&self) -> u64 {
        self.messages
    }

    /// Records whose L7 fields were left out because they could not fit
    /// one message.
    pub fn l7_dropped(&self) -> u64 {
        self.l7_dropped
    }

    /// The next message carries the templates again (a new TCP connection
    /// is a new session: the collector has none of them).
    pub fn resend_templates(&mut self) {
        self.since_templates = None;
    }

    fn templates_due(&self, export_time_s: u32) -> bool {
        let Some(since) = self.since_templates else {
            return true;
        };
        let by_count = self.config.refresh_messages > 0 && since >= self.config.refresh_messages;
        let by_time = self.config.refresh_secs > 0
            && export_time_s.wrapping_sub(self.templates_at_s) >= self.config.refresh_secs;
        by_count || by_time
    }

    /// Appends complete messages holding `records` to `out` (none when
    /// `records` is empty). `export_time_s` is seconds since the Unix epoch.
    pub fn encode(&mut self, records: &[FlowRecord], export_time_s: u32, out: &mut Vec<Vec<u8>>) {
        let max = self.config.max_message_len;
        let mut msg: Option<Message> = None;
        let mut scratch = std::mem::take(&mut self.scratch);
        for flow in records {
            let mut tid = template_for(flow);
            scratch.clear();
            write_record(&mut scratch, tid, flow);
            // The worst case: a fresh message with the base templates, this
            // record's L7 template and one data set. The base templates
            // alone always leave room for a record (MIN_MESSAGE_LEN).
            let base = base_template_for(flow);
            // Only an L7 record can outgrow a message; the lengths are
            // worked out for those alone (they walk the template fields).
            let too_big = || {
                let empty = IPFIX_HEADER_LEN
                    + base_template_set_len()
                    + SET_HEADER_LEN
                    + template_record_len(tid)
                    + SET_HEADER_LEN;
                empty + scratch.len() > max
            };
            if tid != base && too_big() {
                self.l7_dropped += 1;
                tid = base;
                scratch.clear();
                write_record(&mut scratch, tid, flow);
            }
            let fits = msg
                .as_ref()
                .is_some_and(|m| m.buf.len() + self.cost(m, tid) + scratch.len() <= max);
            if !fits {
                if let Some(m) = msg.take() {
                    out.push(self.finish(m));
                }
                msg = Some(self.start(export_time_s));
            }
            let mut m = msg.take().expect("a message was just started");
            self.push(&mut m, tid, &scratch);
            msg = Some(m);
        }
        if let Some(m) = msg {
            out.push(self.finish(m));
        }
        self.scratch = scratch;
    }

    fn is_announced(&self, tid: u16) -> bool {
        self.announced[usize::from(tid - 256)]
    }

    /// Bytes besides the record that adding a `tid` record to `m` costs.
    fn cost(&self, m: &Message, tid: u16) -> usize {
        let template = if self.is_announced(tid) {
            0
        } else {
            SET_HEADER_LEN + template_record_len(tid)
        };
        let set = if m.open_set == Some(tid) && template == 0 {
            0
        } else {
            SET_HEADER_LEN
        };
        template + set
    }

    fn push(&mut self, m: &mut Message, tid: u16, record: &[u8]) {
        if !self.is_announced(tid) {
            m.close_set();
            write_template_set(&mut m.buf, &[tid]);
            self.announced[usize::from(tid - 256)] = true;
        }
        if m.open_set != Some(tid) {
            m.close_set();
            m.set_start = m.buf.len();
            m.buf.extend_from_slice(&tid.to_be_bytes());
            m.buf.extend_from_slice(&0u16.to_be_bytes());
            m.open_set = Some(tid);
        }
        m.buf.extend_from_slice(record);
        m.records += 1;
    }

    fn start(&mut self, export_time_s: u32) -> Message {
        let mut buf = Vec::with_capacity(self.config.max_message_len.min(4096));
        buf.extend_from_slice(&10u16.to_be_bytes());
        buf.extend_from_slice(&0u16.to_be_bytes()); // length, filled in by finish
        buf.extend_from_slice(&export_time_s.to_be_bytes());
        buf.extend_from_slice(&self.sequence.to_be_bytes());
        buf.extend_from_slice(&self.config.odid.to_be_bytes());
        if self.templates_due(export_time_s) {
            write_template_set(&mut buf, &BASE_TEMPLATES);
            // L7 templates go out again when next used.
            self.announced = [false; (TEMPLATE_END - 256) as usize];
            for tid in BASE_TEMPLATES {
                self.announced[usize::from(tid - 256)] = true;
            }
            self.since_templates = Some(0);
            self.templates_at_s = export_time_s;
        }
        Message {
            buf,
            open_set: None,
            set_start: 0,
            records: 0,
        }
    }

    fn finish(&mut self, mut m: Message) -> Vec<u8> {
        m.close_set();
        let len = m.buf.len() as u16;
        m.buf[2..4].copy_from_slice(&len.to_be_bytes());
        self.sequence = self.sequence.wrapping_add(m.records);
        self.messages += 1;
        if let Some(since) = self.since_templates.as_mut() {
            *since += 1;
        }
        m.buf
    }
}

/// A message being built.
struct Message {
    buf: Vec<u8>,
    open_set: Option<u16>,
    set_start: usize,
    records: u32,
}

impl Message {
    fn close_set(&mut self) {
        if self.open_set.take().is_some() {
            let len = (self.buf.len() - self.set_start) as u16;
            self.buf[self.set_start + 2..self.set_start + 4].copy_from_slice(&len.to_be_bytes());
        }
    }
}

fn base_template_set_len() -> usize {
    SET_HEADER_LEN
        + BASE_TEMPLATES
            .iter()
            .map(|&t| template_record_len(t))
            .sum::<usize>()
}

fn write_template_set(buf: &mut Vec<u8>, templates: &[u16]) {
    let start = buf.len();
    buf.extend_from_slice(&SET_TEMPLATE.to_be_bytes());
    buf.extend_from_slice(&0u16.to_be_bytes());
    for &tid in templates {
        let fields = template_fields(tid);
        buf.extend_from_slice(&tid.to_be_bytes());
        buf.extend_from_slice(&(fields.len() as u16).to_be_bytes());
        for (pen, id, len) in fields {
            if pen == 0 {
                buf.extend_from_slice(&id.to_be_bytes());
                buf.extend_from_slice(&len.to_be_bytes());
            } else {
                buf.extend_from_slice(&(id | 0x8000).to_be_bytes());
                buf.extend_from_slice(&len.to_be_bytes());
                buf.extend_from_slice(&pen.to_be_bytes());
            }
        }
    }
    let len = (buf.len() - start) as u16;
    buf[start + 2..start + 4].copy_from_slice(&len.to_be_bytes());
}

fn ms(ns: u64) -> u64 {
    ns / 1_000_000
}

fn write_record(buf: &mut Vec<u8>, tid: u16, f: &FlowRecord) {
    buf.extend_from_slice(&ms(f.first_ns).to_be_bytes());
    buf.extend_from_slice(&ms(f.last_ns).to_be_bytes());
    if !is_v6(tid) {
        let v4 = |a: std::net::Ipv6Addr| a.to_ipv4_mapped().map_or([0; 4], |v| v.octets());
        buf.extend_from_slice(&v4(f.src_ip));
        buf.extend_from_slice(&v4(f.dst_ip));
    } else {
        buf.extend_from_slice(&f.src_ip.octets());
        buf.extend_from_slice(&f.dst_ip.octets());
    }
    buf.extend_from_slice(&f.src_port.to_be_bytes());
    buf.extend_from_slice(&f.dst_port.to_be_bytes());
    buf.push(f.proto);
    buf.extend_from_slice(&u16::from(f.tcp_flags).to_be_bytes());
    buf.push(f.tos);
    buf.extend_from_slice(&f.packets.to_be_bytes());
    buf.extend_from_slice(&f.bytes.to_be_bytes());
    buf.extend_from_slice(&f.vlan.to_be_bytes());
    buf.extend_from_slice(&f.src_mac);
    buf.extend_from_slice(&f.dst_mac);
    buf.push(f.end_reason as u8);
    if is_biflow(tid) {
        let r = f.reverse.unwrap_or_default();
        buf.extend_from_slice(&ms(r.first_ns).to_be_bytes());
        buf.extend_from_slice(&ms(r.last_ns).to_be_bytes());
        buf.extend_from_slice(&r.packets.to_be_bytes());
        buf.extend_from_slice(&r.bytes.to_be_bytes());
        buf.extend_from_slice(&u16::from(r.tcp_flags).to_be_bytes());
    }
    let elements = l7_elements(tid);
    if let (Some(l7), false) = (f.l7.as_ref(), elements.is_empty()) {
        write_l7(buf, l7, elements);
    }
}

fn write_l7(buf: &mut Vec<u8>, l7: &L7Fields, elements: &[L7Spec]) {
    let mut values: [Option<Value<'_>>; COLUMNS.len()] = [None; COLUMNS.len()];
    l7.visit(&mut |column, value| {
        if let Some(slot) = values.get_mut(column) {
            *slot = Some(value);
        }
    });
    for &(column, _, _, len) in elements {
        let value = values.get(column).copied().flatten();
        match (len, value) {
            (JA3_LEN, v) if column == col::TLS_JA3 => {
                let hex = match v {
                    Some(Value::Str(s)) => s,
                    _ => "",
                };
                buf.extend_from_slice(&ja3_bytes(hex));
            }
            (VARLEN, v) => {
                let text = match v {
                    Some(Value::Str(s)) => s.to_string(),
                    Some(Value::Num(n)) => n.to_string(),
                    None => String::new(),
                };
                write_varlen(buf, text.as_bytes());
            }
            (n, v) => {
                let num = match v {
                    Some(Value::Num(n)) => n,
                    _ => 0,
                };
                let bytes = num.to_be_bytes();
                buf.extend_from_slice(&bytes[8 - usize::from(n).min(8)..]);
            }
        }
    }
}

/// RFC 7011 section 7: one length byte below 255, else 255 and two bytes.
fn write_varlen(buf: &mut Vec<u8>, value: &[u8]) {
    let value = &value[..value.len().min(usize::from(u16::MAX))];
    if value.len() < 255 {
        buf.push(value.len() as u8);
    } else {
        buf.push(255);
        buf.extend_from_slice(&(value.len() as u16).to_be_bytes());
    }
    buf.extend_from_slice(value);
}

/// The MD5 behind a JA3 hex string; zeros when it is not 32 hex digits.
fn ja3_bytes(hex: &str) -> [u8; 16] {
    let mut out = [0u8; 16];
    if hex.len() != 32 {
        return out;
    }
    for (i, byte) in out.iter_mut().enumerate() {
        match u8::from_str_radix(hex.get(2 * i..2 * i + 2).unwrap_or(""), 16) {
            Ok(b) => *byte = b,
            Err(_) => return [0; 16],
        }
    }
    out
}

/// The RFC 5103 reverse counters of a decoded data record, when it has any
/// (the flow mapping, [`crate::to_flow`], covers forward fields only).
pub fn reverse_of(rec: &DataRecord<'_, '_>) -> Option<Reverse> {
    let mut rev = Reverse::default();
    let mut any = false;
    for f in rec.fields() {
        if f.spec.pen != PEN_REVERSE {
            continue;
        }
        let v = crate::message::be(f.value, 0, f.value.len());
        any = true;
        match f.spec.id {
            1 => rev.bytes = v,
            2 => rev.packets = v,
            6 => rev.tcp_flags = v as u8,
            152 => rev.first_ns = v.saturating_mul(1_000_000),
            153 => rev.last_ns = v.saturating_mul(1_000_000),
            _ => {}
        }
    }
    any.then_some(rev)
}

/// IPFIX message header length, for callers that size buffers.
pub const HEADER_LEN: usize = IPFIX_HEADER_LEN;

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(v6: bool, biflow: bool) -> FlowRecord {
        let mut f = FlowRecord {
            packets: 3,
            bytes: 180,
            ..FlowRecord::default()
        };
        if !v6 {
            f.src_ip = std::net::Ipv4Addr::new(10, 0, 0, 1).to_ipv6_mapped();
            f.dst_ip = std::net::Ipv4Addr::new(10, 0, 0, 2).to_ipv6_mapped();
        } else {
            f.src_ip = "2001:db8::1".parse().unwrap();
            f.dst_ip = "2001:db8::2".parse().unwrap();
        }
        if biflow {
            f.reverse = Some(Reverse::default());
        }
        f
    }

    #[test]
    fn record_lengths() {
        assert_eq!(record_len(TEMPLATE_V4), 16 + 8 + 39);
        assert_eq!(record_len(TEMPLATE_V6), 16 + 32 + 39);
        assert_eq!(record_len(TEMPLATE_V6_BIFLOW), 16 + 32 + 39 + 34);
    }

    #[test]
    fn templates_first_then_by_count() {
        let mut enc = Encoder::new(EncoderConfig {
            refresh_messages: 2,
            refresh_secs: 0,
            ..EncoderConfig::udp(1)
        });
        let recs = vec![flow(false, false), flow(true, true)];
        let mut out = Vec::new();
        for _ in 0..4 {
            enc.encode(&recs, 100, &mut out);
        }
        let has_templates: Vec<bool> = out.iter().map(|m| m[16..18] == [0, 2]).collect();
        assert_eq!(has_templates, [true, false, true, false]);
        assert_eq!(enc.sequence(), 8);
        let seqs: Vec<u32> = out
            .iter()
            .map(|m| u32::from_be_bytes([m[8], m[9], m[10], m[11]]))
            .collect();
        assert_eq!(seqs, [0, 2, 4, 6]);
    }

    #[test]
    fn packing_respects_the_limit() {
        let mut enc = Encoder::new(EncoderConfig::udp(1));
        let recs: Vec<_> = (0..100).map(|i| flow(i % 3 == 0, i % 5 == 0)).collect();
        let mut out = Vec::new();
        enc.encode(&recs, 5, &mut out);
        assert!(out.len() > 1);
        for m in &out {
            assert!(m.len() <= UDP_MESSAGE_LEN);
            assert_eq!(usize::from(u16::from_be_bytes([m[2], m[3]])), m.len());
        }
        let mut d = crate::Decoder::new();
        let n: usize = out.iter().map(|m| d.decode_flows(1, m).0.len()).sum();
        assert_eq!(n, 100);
    }
}
