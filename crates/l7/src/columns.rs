//! The L7 fields as named columns: the names the store, CSV, JSON and the
//! filter language use (`../shared/DESIGN.md` section 3), and a visitor that
//! hands a record's values to an output without knowing the protocol.

use compact_str::ToCompactString;

use crate::{FieldStr, L7Fields};

/// One column value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value<'a> {
    Str(&'a str),
    Num(u64),
}

/// Every L7 column, in output order.
pub const COLUMNS: &[&str] = &[
    "http_method",
    "http_host",
    "http_url",
    "http_user_agent",
    "http_referer",
    "http_status",
    "http_content_type",
    "http_server",
    "dns_id",
    "dns_qname",
    "dns_qtype",
    "dns_qclass",
    "dns_rcode",
    "dns_answers",
    "dns_answer",
    "dns_ttl",
    "tls_sni",
    "tls_version",
    "tls_alpn",
    "tls_ja3",
    "tls_ja4",
    "tls_cipher_suite",
    "smtp_commands",
    "smtp_mail_count",
    "smtp_rcpt_count",
    "smtp_sender",
    "smtp_recipient",
    "smtp_2xx",
    "smtp_3xx",
    "smtp_4xx",
    "smtp_5xx",
    "smtp_domain",
    "sip_msg_type",
    "sip_method",
    "sip_status",
    "sip_call_id",
    "sip_from",
    "sip_to",
    "sip_via",
    "sip_user_agent",
    "sip_request_uri",
    "sip_cseq",
    "quic_version",
    "quic_sni",
    "quic_alpn",
];

/// Each column's index in [`COLUMNS`], so visitors need no name lookups.
pub mod col {
    pub const HTTP_METHOD: usize = 0;
    pub const HTTP_HOST: usize = 1;
    pub const HTTP_URL: usize = 2;
    pub const HTTP_USER_AGENT: usize = 3;
    pub const HTTP_REFERER: usize = 4;
    pub const HTTP_STATUS: usize = 5;
    pub const HTTP_CONTENT_TYPE: usize = 6;
    pub const HTTP_SERVER: usize = 7;
    pub const DNS_ID: usize = 8;
    pub const DNS_QNAME: usize = 9;
    pub const DNS_QTYPE: usize = 10;
    pub const DNS_QCLASS: usize = 11;
    pub const DNS_RCODE: usize = 12;
    pub const DNS_ANSWERS: usize = 13;
    pub const DNS_ANSWER: usize = 14;
    pub const DNS_TTL: usize = 15;
    pub const TLS_SNI: usize = 16;
    pub const TLS_VERSION: usize = 17;
    pub const TLS_ALPN: usize = 18;
    pub const TLS_JA3: usize = 19;
    pub const TLS_JA4: usize = 20;
    pub const TLS_CIPHER_SUITE: usize = 21;
    pub const SMTP_COMMANDS: usize = 22;
    pub const SMTP_MAIL_COUNT: usize = 23;
    pub const SMTP_RCPT_COUNT: usize = 24;
    pub const SMTP_SENDER: usize = 25;
    pub const SMTP_RECIPIENT: usize = 26;
    pub const SMTP_2XX: usize = 27;
    pub const SMTP_3XX: usize = 28;
    pub const SMTP_4XX: usize = 29;
    pub const SMTP_5XX: usize = 30;
    pub const SMTP_DOMAIN: usize = 31;
    pub const SIP_MSG_TYPE: usize = 32;
    pub const SIP_METHOD: usize = 33;
    pub const SIP_STATUS: usize = 34;
    pub const SIP_CALL_ID: usize = 35;
    pub const SIP_FROM: usize = 36;
    pub const SIP_TO: usize = 37;
    pub const SIP_VIA: usize = 38;
    pub const SIP_USER_AGENT: usize = 39;
    pub const SIP_REQUEST_URI: usize = 40;
    pub const SIP_CSEQ: usize = 41;
    pub const QUIC_VERSION: usize = 42;
    pub const QUIC_SNI: usize = 43;
    pub const QUIC_ALPN: usize = 44;
}

/// Index of a column in [`COLUMNS`].
pub fn column_index(name: &str) -> Option<usize> {
    COLUMNS.iter().position(|c| *c == name)
}

impl L7Fields {
    /// The protocol's name (`http`, `dns`, ...).
    pub fn protocol(&self) -> &'static str {
        match self {
            L7Fields::Http(_) => "http",
            L7Fields::Dns(_) => "dns",
            L7Fields::Tls(_) => "tls",
            L7Fields::Smtp(_) => "smtp",
            L7Fields::Sip(_) => "sip",
            L7Fields::Quic(_) => "quic",
        }
    }

    /// Calls `f(column index, value)` for each column this record has a value for.
    pub fn visit<'a>(&'a self, f: &mut dyn FnMut(usize, Value<'a>)) {
        self.for_each_value(f);
    }

    /// [`L7Fields::visit`] with the callback's type known, so it is
    /// inlined rather than called through a pointer per value (the CSV
    /// writer's hot loop). Values come in column order.
    pub fn for_each_value<'a, F: FnMut(usize, Value<'a>) + ?Sized>(&'a self, f: &mut F) {
        match self {
            L7Fields::Tls(t) => visit_tls(t, f),
            L7Fields::Dns(d) => visit_dns(d, f),
            L7Fields::Http(h) => visit_http(h, f),
            L7Fields::Smtp(m) => visit_smtp(m, f),
            L7Fields::Sip(m) => visit_sip(m, f),
            L7Fields::Quic(q) => {
                num(f, col::QUIC_VERSION, q.version);
                text(f, col::QUIC_SNI, &q.sni);
                text(f, col::QUIC_ALPN, &q.alpn);
            }
        }
    }
}

impl L7Fields {
    /// An empty record of the protocol that owns `column` (an index into
    /// [`COLUMNS`]), ready for [`L7Fields::set`]; None past the last column.
    pub fn empty_for_column(column: usize) -> Option<L7Fields> {
        Some(match column {
            col::HTTP_METHOD..=col::HTTP_SERVER => L7Fields::Http(Default::default()),
            col::DNS_ID..=col::DNS_TTL => L7Fields::Dns(Default::default()),
            col::TLS_SNI..=col::TLS_CIPHER_SUITE => L7Fields::Tls(Default::default()),
            col::SMTP_COMMANDS..=col::SMTP_DOMAIN => L7Fields::Smtp(Default::default()),
            col::SIP_MSG_TYPE..=col::SIP_CSEQ => L7Fields::Sip(Default::default()),
            col::QUIC_VERSION..=col::QUIC_ALPN => L7Fields::Quic(Default::default()),
            _ => return None,
        })
    }

    /// Sets one column: the inverse of [`L7Fields::visit`], for readers of
    /// stored or received columns. A text value for a number column is
    /// parsed, a number for a text column written in decimal. Setting
    /// `dns_rcode` or `dns_answers` marks the DNS message a response (visit
    /// shows them for responses only). Returns false, changing nothing, when
    /// the column belongs to another protocol (or is past the last one) or
    /// the value does not fit the column's type.
    pub fn set(&mut self, column: usize, value: Value<'_>) -> bool {
        match self {
            L7Fields::Http(h) => set_http(h, column, value),
            L7Fields::Dns(d) => set_dns(d, column, value),
            L7Fields::Tls(t) => set_tls(t, column, value),
            L7Fields::Smtp(m) => set_smtp(m, column, value),
            L7Fields::Sip(m) => set_sip(m, column, value),
            L7Fields::Quic(q) => match column {
                col::QUIC_VERSION => put_opt(&mut q.version, value),
                col::QUIC_SNI => put_text(&mut q.sni, value),
                col::QUIC_ALPN => put_text(&mut q.alpn, value),
                _ => false,
            },
        }
    }
}

fn owned_text(value: Value<'_>) -> FieldStr {
    match value {
        Value::Str(s) => FieldStr::new(s),
        Value::Num(n) => n.to_compact_string(),
    }
}

/// A number of type `T` from a value; None when it does not fit.
fn number<T: TryFrom<u64>>(value: Value<'_>) -> Option<T> {
    let n = match value {
        Value::Num(n) => n,
        Value::Str(s) => s.trim().parse().ok()?,
    };
    T::try_from(n).ok()
}

fn put_text(dst: &mut Option<FieldStr>, value: Value<'_>) -> bool {
    *dst = Some(owned_text(value));
    true
}

fn put_string(dst: &mut FieldStr, value: Value<'_>) -> bool {
    *dst = owned_text(value);
    true
}

fn put_opt<T: TryFrom<u64>>(dst: &mut Option<T>, value: Value<'_>) -> bool {
    number(value).map(|n| *dst = Some(n)).is_some()
}

fn put_num<T: TryFrom<u64>>(dst: &mut T, value: Value<'_>) -> bool {
    number(value).map(|n| *dst = n).is_some()
}

fn set_http(h: &mut crate::http::HttpFields, column: usize, value: Value<'_>) -> bool {
    match column {
        col::HTTP_METHOD => put_text(&mut h.method, value),
        col::HTTP_HOST => put_text(&mut h.host, value),
        col::HTTP_URL => put_text(&mut h.url, value),
        col::HTTP_USER_AGENT => put_text(&mut h.user_agent, value),
        col::HTTP_REFERER => put_text(&mut h.referer, value),
        col::HTTP_STATUS => put_opt(&mut h.status, value),
        col::HTTP_CONTENT_TYPE => put_text(&mut h.content_type, value),
        col::HTTP_SERVER => put_text(&mut h.server, value),
        _ => false,
    }
}

fn set_dns(d: &mut crate::dns::DnsFields, column: usize, value: Value<'_>) -> bool {
    match column {
        col::DNS_ID => put_num(&mut d.id, value),
        col::DNS_QNAME => put_string(&mut d.qname, value),
        col::DNS_QTYPE => put_num(&mut d.qtype, value),
        col::DNS_QCLASS => put_num(&mut d.qclass, value),
        col::DNS_RCODE => {
            let ok = put_num(&mut d.rcode, value);
            d.is_response |= ok;
            ok
        }
        col::DNS_ANSWERS => {
            let ok = put_num(&mut d.answers, value);
            d.is_response |= ok;
            ok
        }
        col::DNS_ANSWER => put_string(&mut d.answer_data, value),
        col::DNS_TTL => put_num(&mut d.answer_ttl, value),
        _ => false,
    }
}

fn set_tls(t: &mut crate::tls::TlsFields, column: usize, value: Value<'_>) -> bool {
    match column {
        col::TLS_SNI => put_text(&mut t.sni, value),
        col::TLS_VERSION => put_opt(&mut t.version, value),
        col::TLS_ALPN => put_text(&mut t.alpn, value),
        col::TLS_JA3 => put_text(&mut t.ja3, value),
        col::TLS_JA4 => put_text(&mut t.ja4, value),
        col::TLS_CIPHER_SUITE => put_opt(&mut t.cipher_suite, value),
        _ => false,
    }
}

fn set_smtp(m: &mut crate::smtp::SmtpFields, column: usize, value: Value<'_>) -> bool {
    match column {
        col::SMTP_COMMANDS => put_num(&mut m.commands, value),
        col::SMTP_MAIL_COUNT => put_num(&mut m.mail_count, value),
        col::SMTP_RCPT_COUNT => put_num(&mut m.rcpt_count, value),
        col::SMTP_SENDER => put_text(&mut m.sender, value),
        col::SMTP_RECIPIENT => put_text(&mut m.recipient, value),
        col::SMTP_2XX => put_num(&mut m.status_2xx, value),
        col::SMTP_3XX => put_num(&mut m.status_3xx, value),
        col::SMTP_4XX => put_num(&mut m.status_4xx, value),
        col::SMTP_5XX => put_num(&mut m.status_5xx, value),
        col::SMTP_DOMAIN => put_text(&mut m.domain, value),
        _ => false,
    }
}

fn set_sip(m: &mut crate::sip::SipFields, column: usize, value: Value<'_>) -> bool {
    match column {
        col::SIP_MSG_TYPE => put_num(&mut m.msg_type, value),
        col::SIP_METHOD => put_text(&mut m.method, value),
        col::SIP_STATUS => put_opt(&mut m.status, value),
        col::SIP_CALL_ID => put_text(&mut m.call_id, value),
        col::SIP_FROM => put_text(&mut m.from, value),
        col::SIP_TO => put_text(&mut m.to, value),
        col::SIP_VIA => put_text(&mut m.via, value),
        col::SIP_USER_AGENT => put_text(&mut m.user_agent, value),
        col::SIP_REQUEST_URI => put_text(&mut m.request_uri, value),
        col::SIP_CSEQ => put_text(&mut m.cseq, value),
        _ => false,
    }
}

/// Emits a string column when present.
#[inline(always)]
fn text<'a, F: FnMut(usize, Value<'a>) + ?Sized>(
    f: &mut F,
    column: usize,
    value: &'a Option<FieldStr>,
) {
    if let Some(v) = value {
        f(column, Value::Str(v));
    }
}

/// Emits a number column when present.
#[inline(always)]
fn num<'a, F: FnMut(usize, Value<'a>) + ?Sized>(
    f: &mut F,
    column: usize,
    value: Option<impl Into<u64>>,
) {
    if let Some(v) = value {
        f(column, Value::Num(v.into()));
    }
}

/// The client direction has commands and addresses; the server direction
/// its reply counts. Zero counts of the other direction are left out.
fn visit_smtp<'a, F: FnMut(usize, Value<'a>) + ?Sized>(m: &'a crate::smtp::SmtpFields, f: &mut F) {
    let nonzero = |n: u32| (n > 0).then_some(n);
    num(f, col::SMTP_COMMANDS, nonzero(m.commands));
    num(f, col::SMTP_MAIL_COUNT, nonzero(m.mail_count));
    num(f, col::SMTP_RCPT_COUNT, nonzero(m.rcpt_count));
    text(f, col::SMTP_SENDER, &m.sender);
    text(f, col::SMTP_RECIPIENT, &m.recipient);
    num(f, col::SMTP_2XX, nonzero(m.status_2xx));
    num(f, col::SMTP_3XX, nonzero(m.status_3xx));
    num(f, col::SMTP_4XX, nonzero(m.status_4xx));
    num(f, col::SMTP_5XX, nonzero(m.status_5xx));
    text(f, col::SMTP_DOMAIN, &m.domain);
}

fn visit_sip<'a, F: FnMut(usize, Value<'a>) + ?Sized>(m: &'a crate::sip::SipFields, f: &mut F) {
    f(col::SIP_MSG_TYPE, Value::Num(m.msg_type.into()));
    text(f, col::SIP_METHOD, &m.method);
    num(f, col::SIP_STATUS, m.status);
    text(f, col::SIP_CALL_ID, &m.call_id);
    text(f, col::SIP_FROM, &m.from);
    text(f, col::SIP_TO, &m.to);
    text(f, col::SIP_VIA, &m.via);
    text(f, col::SIP_USER_AGENT, &m.user_agent);
    text(f, col::SIP_REQUEST_URI, &m.request_uri);
    text(f, col::SIP_CSEQ, &m.cseq);
}

fn visit_http<'a, F: FnMut(usize, Value<'a>) + ?Sized>(h: &'a crate::http::HttpFields, f: &mut F) {
    text(f, col::HTTP_METHOD, &h.method);
    text(f, col::HTTP_HOST, &h.host);
    text(f, col::HTTP_URL, &h.url);
    text(f, col::HTTP_USER_AGENT, &h.user_agent);
    text(f, col::HTTP_REFERER, &h.referer);
    num(f, col::HTTP_STATUS, h.status);
    text(f, col::HTTP_CONTENT_TYPE, &h.content_type);
    text(f, col::HTTP_SERVER, &h.server);
}

/// A query carries its question; a response also its code, answer count
/// and first answer.
fn visit_dns<'a, F: FnMut(usize, Value<'a>) + ?Sized>(d: &'a crate::dns::DnsFields, f: &mut F) {
    f(col::DNS_ID, Value::Num(d.id.into()));
    f(col::DNS_QNAME, Value::Str(&d.qname));
    f(col::DNS_QTYPE, Value::Num(d.qtype.into()));
    f(col::DNS_QCLASS, Value::Num(d.qclass.into()));
    if d.is_response {
        f(col::DNS_RCODE, Value::Num(d.rcode.into()));
        f(col::DNS_ANSWERS, Value::Num(d.answers.into()));
    }
    if !d.answer_data.is_empty() {
        f(col::DNS_ANSWER, Value::Str(&d.answer_data));
        f(col::DNS_TTL, Value::Num(d.answer_ttl.into()));
    }
}

fn visit_tls<'a, F: FnMut(usize, Value<'a>) + ?Sized>(t: &'a crate::tls::TlsFields, f: &mut F) {
    text(f, col::TLS_SNI, &t.sni);
    num(f, col::TLS_VERSION, t.version);
    text(f, col::TLS_ALPN, &t.alpn);
    text(f, col::TLS_JA3, &t.ja3);
    text(f, col::TLS_JA4, &t.ja4);
    num(f, col::TLS_CIPHER_SUITE, t.cipher_suite);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_constants_match_names() {
        assert_eq!(COLUMNS[col::HTTP_METHOD], "http_method");
        assert_eq!(COLUMNS[col::DNS_QCLASS], "dns_qclass");
        assert_eq!(COLUMNS[col::TLS_CIPHER_SUITE], "tls_cipher_suite");
        assert_eq!(COLUMNS[col::SIP_CSEQ], "sip_cseq");
        assert_eq!(col::QUIC_ALPN + 1, COLUMNS.len());
    }

    #[test]
    fn empty_for_column_picks_the_owning_protocol() {
        let protocols: Vec<&str> = (0..COLUMNS.len())
            .map(|c| L7Fields::empty_for_column(c).unwrap().protocol())
            .collect();
        for (c, name) in COLUMNS.iter().enumerate() {
            assert!(name.starts_with(protocols[c]), "{name}: {}", protocols[c]);
        }
        assert!(L7Fields::empty_for_column(COLUMNS.len()).is_none());
    }

    /// Every column of every protocol, set from what `visit` gave, comes
    /// back: `set` is `visit`'s inverse.
    #[test]
    fn set_inverts_visit() {
        let mut samples = Vec::new();
        for (c, name) in COLUMNS.iter().enumerate() {
            let mut f = L7Fields::empty_for_column(c).unwrap();
            let numeric = matches!(
                c,
                col::HTTP_STATUS
                    | col::DNS_ID
                    | col::DNS_QTYPE
                    | col::DNS_QCLASS..=col::DNS_ANSWERS
                    | col::DNS_TTL
                    | col::TLS_VERSION
                    | col::TLS_CIPHER_SUITE
                    | col::SMTP_COMMANDS..=col::SMTP_RCPT_COUNT
                    | col::SMTP_2XX..=col::SMTP_5XX
                    | col::SIP_MSG_TYPE
                    | col::SIP_STATUS
                    | col::QUIC_VERSION
            );
            let value = if numeric {
                Value::Num(c as u64 + 1)
            } else {
                Value::Str(name)
            };
            assert!(f.set(c, value), "{name}");
            samples.push((f, c, value));
        }
        for (f, c, value) in samples {
            let mut seen = Vec::new();
            f.visit(&mut |column, v| seen.push((column, v)));
            // DNS_TTL shows only beside an answer.
            if c != col::DNS_TTL {
                assert!(seen.contains(&(c, value)), "{}: {seen:?}", COLUMNS[c]);
            }
        }
    }

    /// CSV output writes values as they come and relies on this order.
    #[test]
    fn visit_goes_in_column_order() {
        let mut full: Vec<L7Fields> = Vec::new();
        for (c, name) in COLUMNS.iter().enumerate() {
            let fresh = L7Fields::empty_for_column(c).unwrap();
            if full.last().map(L7Fields::protocol) != Some(fresh.protocol()) {
                full.push(fresh);
            }
            let f = full.last_mut().unwrap();
            if !f.set(c, Value::Num(c as u64 + 1)) {
                assert!(f.set(c, Value::Str(name)), "{name}");
            }
        }
        for f in &full {
            let mut seen = Vec::new();
            f.visit(&mut |column, _| seen.push(column));
            assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
            assert!(seen.len() > 1, "{seen:?}");
        }
    }

    #[test]
    fn set_refuses_other_protocols_and_misfits() {
        let mut f = L7Fields::empty_for_column(col::HTTP_HOST).unwrap();
        assert!(!f.set(col::DNS_QNAME, Value::Str("x")));
        assert!(!f.set(col::HTTP_STATUS, Value::Num(70_000)));
        assert!(!f.set(col::HTTP_STATUS, Value::Str("abc")));
        assert!(!f.set(COLUMNS.len(), Value::Num(1)));
        assert_eq!(f, L7Fields::empty_for_column(col::HTTP_HOST).unwrap());
        assert!(f.set(col::HTTP_STATUS, Value::Str("404")));
        let mut d = L7Fields::empty_for_column(col::DNS_ID).unwrap();
        assert!(d.set(col::DNS_RCODE, Value::Num(3)));
        let L7Fields::Dns(d) = d else { unreachable!() };
        assert!(d.is_response && d.rcode == 3);
    }
}
