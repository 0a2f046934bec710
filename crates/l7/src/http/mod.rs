//! HTTP/1.x heads into flow fields. A request direction yields method,
//! Host, URL (the request target as sent), User-Agent, Referer and the
//! request's Content-Type (FlowTest expects it when the response has none;
//! a biflow merge should prefer the response's); a response direction
//! yields status code, Content-Type and Server. One
//! record per transaction, as ipfixprobe: a second head in the same
//! direction ends the first ([`crate::Feed::Boundary`]).
//!
//! To find the next head the parser skips bodies by their framing
//! (Content-Length, chunked coding) without reading them; body bytes of
//! known extent in later packets are not even fed ([`crate::Feed::Skip`]:
//! the flow cache drops them). When a body's
//! end is unknown (a response delimited by the close, a broken length) it
//! trusts only a segment that *starts* with a valid start line, so body
//! bytes are not taken for heads. A head split over segments is buffered
//! up to [`crate::MAX_BUFFER`]; one that never ends keeps the fields of its
//! complete lines. A 101 upgrade, a CONNECT request, a "200 Connection
//! established" and the HTTP/2 preface end parsing ([`crate::Feed::Done`]).
//!
//! Deliberately not done: decoding bodies or percent-encoding, HTTP/2
//! frames after an h2c upgrade, pairing requests with responses (each
//! direction is its own flow), or telling a HEAD response's Content-Length
//! apart from a real body (the response direction never sees the method;
//! such a response swallows that many bytes of what follows).
//! At most one boundary per packet: a packet carrying several complete
//! pipelined heads records the first of them.

mod body;
mod parser;
mod state;
#[cfg(test)]
mod tests;

use crate::{FieldStr, Parser, Transport};

/// Fields of one HTTP transaction in one flow direction (request fields in
/// the request direction, response fields in the response direction).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HttpFields {
    /// http_method (8057/200): the request method token as sent.
    pub method: Option<FieldStr>,
    /// http_host (39499/1): the Host header.
    pub host: Option<FieldStr>,
    /// http_url (39499/2): the request target (path and query) as sent.
    pub url: Option<FieldStr>,
    /// http_user_agent (39499/20): the User-Agent header.
    pub user_agent: Option<FieldStr>,
    /// http_referer (39499/3): the Referer header.
    pub referer: Option<FieldStr>,
    /// http_status (39499/12): the response status code.
    pub status: Option<u16>,
    /// http_content_type (39499/10): the Content-Type header (of the
    /// response, or of the request in a request direction).
    pub content_type: Option<FieldStr>,
    /// http_server (8057/201): the response Server header.
    pub server: Option<FieldStr>,
}

/// Whether a TCP flow whose first payload is `payload` speaks HTTP/1.x: it
/// starts with a request line (any token method) or a status line, on any
/// port. A request line cut by the segment end is accepted for the
/// well-known methods only.
pub fn probe(transport: &Transport, payload: &[u8]) -> bool {
    if transport.proto != 6 {
        return false;
    }
    match parser::check_start_line(payload) {
        parser::LineCheck::Valid { .. } => true,
        parser::LineCheck::Incomplete => known_method_prefix(payload),
        parser::LineCheck::Invalid => false,
    }
}

/// Methods of RFC 9110 and RFC 5789 followed by a space and the start of a
/// target: enough to claim a flow whose first segment ends mid request line.
fn known_method_prefix(payload: &[u8]) -> bool {
    const METHODS: [&[u8]; 9] = [
        b"GET ",
        b"POST ",
        b"HEAD ",
        b"PUT ",
        b"DELETE ",
        b"OPTIONS ",
        b"PATCH ",
        b"CONNECT ",
        b"TRACE ",
    ];
    METHODS
        .iter()
        .any(|m| payload.len() > m.len() && payload.starts_with(m))
}

pub fn new_parser() -> Box<dyn Parser> {
    Box::new(state::HttpState::new())
}
