//! QUIC: the version of the first long header packet and, in the client
//! direction, the server_name (and offered ALPN) of the TLS ClientHello
//! carried in the client's Initial packets. Initial packets are protected
//! with keys anyone can derive from the Destination Connection ID (RFC 9001
//! section 5.2), so the parser removes header protection, decrypts the
//! payload (QUIC v1, v2 and drafts 29 to 32), walks the frames and
//! reassembles the CRYPTO stream (frames out of order, a hello spread over
//! several Initials, at most [`crate::MAX_BUFFER`] bytes). It reports
//! [`Feed::Done`](crate::Feed::Done) once the server_name is known, the
//! hello is complete without one, a packet does not decrypt, a short header
//! shows, or after a few datagrams.
//!
//! Deliberately not here: the server direction's Initial (its keys derive
//! from the client's connection ID, which a one-direction parser never
//! sees: that direction yields only the version), Handshake and 1-RTT
//! packets (their keys are secret), gQUIC, JA3/JA4 of the hello, transport
//! parameters (user agent), and packet number reconstruction (Initial
//! packet numbers are small, so the truncated number is taken as is).

mod crypto;
mod parser;
mod state;

#[cfg(test)]
mod tests;

use crate::{FieldStr, Parser, Transport};
use parser::{version_params, LongHeader, SAMPLE_LEN, SAMPLE_OFFSET};

/// Fields of one direction of a QUIC connection's handshake start.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QuicFields {
    /// quic_version (ipfixprobe QUIC_VERSION, PEN 8057): the version of the
    /// first long header packet (0x00000001 for v1, 0x6b3343cf for v2,
    /// 0xff00001d for draft 29).
    pub version: Option<u32>,
    /// quic_sni (ipfixprobe QUIC_SNI, PEN 8057): the server_name of the
    /// ClientHello inside the client's Initial packets.
    pub sni: Option<FieldStr>,
    /// The ClientHello's offered ALPN protocols joined by `,` in order
    /// (like tls_alpn, 39499/337).
    pub alpn: Option<FieldStr>,
}

/// Whether the first payload of a UDP flow is a QUIC Initial packet of a
/// version the parser can decrypt (client or server), on any port: long
/// header, Initial type for the version, connection IDs of at most 20
/// bytes, a Length within the datagram and room for the header protection
/// sample.
pub fn probe(transport: &Transport, payload: &[u8]) -> bool {
    if transport.proto != 17 {
        return false;
    }
    let Some(header) = LongHeader::parse(payload) else {
        return false;
    };
    header.is_initial
        && version_params(header.version).is_some()
        && header.packet_len >= header.pn_offset + SAMPLE_OFFSET + SAMPLE_LEN
}

/// A protected QUIC v1 client Initial (an arbitrary fixed connection ID,
/// packet number `packet_number`) whose plaintext is `frames` padded to a
/// 1200-byte datagram: lets the fuzz target reach the frame walk and the
/// ClientHello parsing, which random bytes never decrypt to.
#[doc(hidden)]
pub fn fuzz_sealed_initial(packet_number: u32, frames: &[u8]) -> Vec<u8> {
    const DCID: [u8; 8] = [0x5a; 8];
    version_params(parser::VERSION_1)
        .and_then(|params| {
            crypto::build_client_initial(&params, &DCID, &DCID, packet_number, frames)
        })
        .unwrap_or_default()
}

/// A fresh parser for one direction of a QUIC flow.
pub fn new_parser() -> Box<dyn Parser> {
    Box::<state::QuicState>::default()
}
