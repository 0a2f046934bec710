//! TLS: the first handshake message of each flow direction. The client
//! direction's ClientHello gives the SNI, the offered ALPN list, the offered
//! version and the JA3 and JA4 fingerprints; the server direction's
//! ServerHello gives the negotiated version, the chosen cipher suite and
//! the selected ALPN. A hello split over TCP segments and TLS records is
//! reassembled (at most [`crate::MAX_BUFFER`] bytes); after it the parser
//! reports [`Feed::Done`](crate::Feed::Done): TLS has no transaction
//! boundary and everything later is encrypted. SSLv2 hellos (two-byte
//! header with the high bit set) are parsed too: version, cipher specs,
//! JA3. A server that answers the ClientHello with an alert yields the
//! alert record's version, the only version it states.
//!
//! Deliberately not here: certificates (TLS 1.3 encrypts them and they are
//! not flow fields in eddy), JA3S, JA4 for SSLv2 and QUIC/DTLS, decryption,
//! and TLS that starts mid-flow (STARTTLS): the probe only claims flows
//! whose first payload is a hello (or an alert).

mod fingerprint;
mod parser;
mod state;

#[cfg(test)]
mod tests;

use crate::{FieldStr, Parser, Transport};
use parser::{
    ssl2_record_len, RecordHeader, CLIENT_HELLO, CONTENT_ALERT, CONTENT_HANDSHAKE,
    RECORD_HEADER_LEN, SERVER_HELLO, SSL2_SERVER_HELLO, SSL2_VERSION,
};

/// Fields of the hello of one TLS flow direction.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsFields {
    /// tls_sni (8057/808): the ClientHello's server_name (host_name entry).
    pub sni: Option<FieldStr>,
    /// tls_version (39499/333): client direction, the version offered (first
    /// non-GREASE supported_versions entry, else the legacy version); server
    /// direction, the negotiated version (supported_versions when present,
    /// else the legacy version; an alert's record version when the server
    /// refused the hello). SSLv2 is 0x0002.
    pub version: Option<u16>,
    /// The hello's legacy_version field as sent (0x0303 for TLS 1.3).
    pub legacy_version: Option<u16>,
    /// tls_alpn (39499/337): client direction, the offered protocols joined
    /// by `,` in order; server direction, the selected protocol.
    pub alpn: Option<FieldStr>,
    /// The cipher suite the server chose (FlowTest `tls_cipher_suite`); an
    /// SSLv2 server's first 24-bit cipher spec.
    pub cipher_suite: Option<u32>,
    /// tls_ja3 (39499/357): JA3 client fingerprint, lowercase hex MD5.
    pub ja3: Option<FieldStr>,
    /// tls_ja4 (8057/809): JA4 client fingerprint (`t13d1516h2_..._...`).
    pub ja4: Option<FieldStr>,
}

/// Whether the first payload of a TCP flow starts a TLS hello (or an alert
/// refusing one), on any port.
pub fn probe(transport: &Transport, payload: &[u8]) -> bool {
    transport.proto == 6 && (starts_tls_record(payload) || starts_ssl2_hello(payload))
}

/// A handshake record whose first message is a Client/ServerHello, or a
/// two-byte alert record (a server refusing the ClientHello).
fn starts_tls_record(payload: &[u8]) -> bool {
    let Some(record) = RecordHeader::parse(payload) else {
        return false;
    };
    let body = payload.get(RECORD_HEADER_LEN..).unwrap_or(&[]);
    match record.content_type {
        CONTENT_HANDSHAKE => matches!(body.first(), Some(&CLIENT_HELLO | &SERVER_HELLO)),
        // level warning (1) or fatal (2), then any description.
        CONTENT_ALERT => record.len == 2 && matches!(body.first(), Some(1 | 2)),
        _ => false,
    }
}

/// An SSLv2 CLIENT-HELLO (version 2 or an SSLv2-compatible TLS hello) or
/// SERVER-HELLO with a two-byte header.
fn starts_ssl2_hello(payload: &[u8]) -> bool {
    let Some(len) = ssl2_record_len(payload) else {
        return false;
    };
    let version_at = |offset: usize| {
        payload
            .get(offset..offset + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
    };
    let known = |v: u16| v == SSL2_VERSION || (0x0300..=0x0304).contains(&v);
    match payload.get(2) {
        // code, version, three lengths
        Some(&CLIENT_HELLO) => len >= 9 && version_at(3).is_some_and(known),
        // code, session id hit, certificate type, version, three lengths
        Some(&SSL2_SERVER_HELLO) => len >= 11 && version_at(5) == Some(SSL2_VERSION),
        _ => false,
    }
}

pub fn new_parser() -> Box<dyn Parser> {
    Box::new(state::TlsState::new())
}
