//! SIP (RFC 3261): one record per message, as ipfixprobe does. A request
//! yields its method (as ipfixprobe's numeric `sip_msg_type` and as text) and
//! Request-URI; a response its status code; both yield Call-ID, From, To,
//! the first Via, User-Agent and CSeq. Compact header names (`i:`, `f:`,
//! `t:`, `v:`, `l:`) and folded header lines are understood.
//!
//! Framing: every datagram is a message; on TCP, messages follow each other
//! and Content-Length says where the body ends. The parser is not told the
//! transport, so it uses one rule for both: a payload that begins with a
//! start line always begins a new message (a UDP datagram with a wrong
//! Content-Length cannot swallow the next one), and a message without
//! Content-Length runs to the end of its payload.
//!
//! Deliberately not done: bodies (SDP is skipped, not parsed), other
//! headers, authentication. A payload carrying several whole messages yields
//! the record of the first one started in it (the flow cache can end a
//! record only once per packet); the others are framed and skipped.

mod parser;
mod state;
#[cfg(test)]
mod tests;

use crate::{FieldStr, Parser, Transport};

pub use parser::{MSG_TYPE_OTHER, MSG_TYPE_STATUS};

/// Fields of one SIP message in one flow direction.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SipFields {
    /// sip_msg_type (8057/100): ipfixprobe's code, INVITE=1, ACK=2,
    /// CANCEL=3, BYE=4, REGISTER=5, OPTIONS=6, PUBLISH=7, NOTIFY=8, INFO=9,
    /// SUBSCRIBE=10, any response=99, another method=0 (see `method`).
    pub msg_type: u16,
    /// sip_method (no IPFIX element of its own): the request method as
    /// written; `None` for a response.
    pub method: Option<FieldStr>,
    /// sip_status (8057/101): the status code of a response.
    pub status: Option<u16>,
    /// sip_call_id (8057/102).
    pub call_id: Option<FieldStr>,
    /// sip_from (8057/103): the From value as written (display name, URI,
    /// tag).
    pub from: Option<FieldStr>,
    /// sip_to (8057/104): the To value as written.
    pub to: Option<FieldStr>,
    /// sip_via (8057/105): the first entry of the first Via header.
    pub via: Option<FieldStr>,
    /// sip_user_agent (8057/106).
    pub user_agent: Option<FieldStr>,
    /// sip_request_uri (8057/107): the Request-URI of a request.
    pub request_uri: Option<FieldStr>,
    /// sip_cseq (8057/108): the CSeq value (`1 INVITE`).
    pub cseq: Option<FieldStr>,
}

/// Ports where SIP is usual; a hint for keep-alives and cut start lines.
const SIP_PORTS: [u16; 2] = [5060, 5061];
/// Longest payload taken for a keep-alive (CRLF pings, "hello" probes) on a
/// SIP port.
const MAX_KEEPALIVE_LEN: usize = 32;

/// A UDP or TCP flow direction is SIP when its first payload starts with a
/// request line (`METHOD sip:... SIP/2.0`) or a status line (`SIP/2.0 NNN`),
/// on any port. On 5060/5061 a cut start line or a short keep-alive also
/// counts: SIP phones often open a flow with one.
pub fn probe(transport: &Transport, payload: &[u8]) -> bool {
    if transport.proto != 6 && transport.proto != 17 {
        return false;
    }
    let payload = parser::skip_blank_lines(payload);
    let line_end = memchr::memchr(b'\n', payload).unwrap_or(payload.len());
    let first_line = &payload[..line_end];
    let by_content = match parser::parse_start_line(first_line) {
        Some(parser::StartLine::Request { uri, .. }) => parser::is_sip_uri(uri),
        Some(parser::StartLine::Response { .. }) => true,
        None => false,
    };
    if by_content {
        return true;
    }
    let on_port =
        SIP_PORTS.contains(&transport.src_port) || SIP_PORTS.contains(&transport.dst_port);
    on_port && (payload.len() <= MAX_KEEPALIVE_LEN || parser::plausible_start(payload))
}

pub fn new_parser() -> Box<dyn Parser> {
    Box::new(state::SipState::default())
}
