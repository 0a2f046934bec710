//! The L7 fields as named columns: the names the store, CSV, JSON and the
//! filter language use (`../shared/DESIGN.md` section 3), and a visitor that
//! hands a record's values to an output without knowing the protocol.

use crate::L7Fields;

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

/// Emits a string column when present.
fn text<'a>(f: &mut dyn FnMut(usize, Value<'a>), column: usize, value: &'a Option<String>) {
    if let Some(v) = value {
        f(column, Value::Str(v));
    }
}

/// Emits a number column when present.
fn num<'a>(f: &mut dyn FnMut(usize, Value<'a>), column: usize, value: Option<impl Into<u64>>) {
    if let Some(v) = value {
        f(column, Value::Num(v.into()));
    }
}

/// The client direction has commands and addresses; the server direction
/// its reply counts. Zero counts of the other direction are left out.
fn visit_smtp<'a>(m: &'a crate::smtp::SmtpFields, f: &mut dyn FnMut(usize, Value<'a>)) {
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

fn visit_sip<'a>(m: &'a crate::sip::SipFields, f: &mut dyn FnMut(usize, Value<'a>)) {
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

fn visit_http<'a>(h: &'a crate::http::HttpFields, f: &mut dyn FnMut(usize, Value<'a>)) {
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
fn visit_dns<'a>(d: &'a crate::dns::DnsFields, f: &mut dyn FnMut(usize, Value<'a>)) {
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

fn visit_tls<'a>(t: &'a crate::tls::TlsFields, f: &mut dyn FnMut(usize, Value<'a>)) {
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
}
