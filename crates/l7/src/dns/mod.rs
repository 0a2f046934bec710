//! DNS (RFC 1035) over UDP and TCP: one transaction per message. From each
//! message it extracts the header (transaction id, flags word, QR, rcode,
//! answer count), the first question (name, type, class), the first answer
//! record (type, TTL, data as text) and EDNS facts from the OPT record (UDP
//! payload size, DNSSEC OK), in whichever direction the message travels: a
//! query flow gets the question, a response flow the question and answers.
//!
//! Names are decoded with compression pointers (backward only, at most
//! [`parser::MAX_POINTER_JUMPS`] jumps, 255 wire bytes, 127 labels), kept in
//! the case they were sent, without the trailing dot; the root is "" (as
//! ipfixprobe shows it). A malformed part ends parsing of that message and
//! keeps what came before.
//!
//! Answer data follows FlowTest's and ipfixprobe's text forms: A/AAAA
//! address, CNAME/PTR/NS/DNAME name, MX "preference exchange", TXT strings
//! concatenated, SRV "priority weight port target", SOA "mname rname serial
//! refresh retry expire minimum"; any other type is the lowercase hex of its
//! first [`parser::MAX_HEX_RDATA`] rdata bytes (ipfixprobe prints some of
//! those types in its own text forms, e.g. RRSIG; we do not).
//!
//! Deliberately not done: records beyond the first answer (no lists), the
//! authority section, EDNS options, DNSSEC validation, name case folding,
//! matching queries to responses (each direction is a separate flow). Over
//! TCP, when several messages start in one packet only the first one's
//! fields are kept, because a flow record can only end between packets.

mod parser;
mod state;
#[cfg(test)]
mod tests;

use crate::{FieldStr, Parser, Transport};
use parser::Message;

/// Ports DNS, mDNS and LLMNR use; a flow on them is DNS if its first
/// payload is not obviously something else.
const DNS_PORTS: [u16; 3] = [53, 5353, 5355];
/// Ports of protocols that reuse the DNS message format but are not DNS:
/// NetBIOS name service (RFC 1002) queries pass the strict check.
const DNS_LOOKALIKE_PORTS: [u16; 1] = [137];

/// Fields of one DNS message (one transaction) in one flow direction.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DnsFields {
    /// dns_id (8057/10): transaction id.
    pub id: u16,
    /// Header flags word (QR, opcode, AA, TC, RD, RA, Z, AD, CD, RCODE) as on
    /// the wire: FlowTest `dns_flags` (flowmon:dnsFlagsCodes).
    pub flags: u16,
    /// Whether the message is a response (the QR flag).
    pub is_response: bool,
    /// dns_qname (8057/2): first question's name, "" for the root.
    pub qname: FieldStr,
    /// dns_qtype (8057/3): first question's type.
    pub qtype: u16,
    /// dns_class (8057/4): first question's class.
    pub qclass: u16,
    /// dns_rcode (8057/1): header response code (low 4 bits of the flags).
    pub rcode: u8,
    /// dns_answers (8057/14): answer count from the header.
    pub answers: u16,
    /// Type of the first answer record, 0 when there is none (FlowTest
    /// `dns_resp_rr.type`; no CESNET element carries it).
    pub answer_type: u16,
    /// dns_rr_ttl (8057/5): TTL of the first answer record.
    pub answer_ttl: u32,
    /// dns_rdata (8057/7): first answer's data as text (see the module doc).
    pub answer_data: FieldStr,
    /// dns_psize (8057/8): EDNS UDP payload size (0 without an OPT record).
    pub edns_udp_size: u16,
    /// dns_do (8057/9): the EDNS DNSSEC OK bit.
    pub dnssec_ok: bool,
}

impl DnsFields {
    fn from_message(message: &Message<'_>) -> DnsFields {
        let header = message.header;
        let mut fields = DnsFields {
            id: header.id,
            flags: header.flags,
            is_response: header.is_response(),
            rcode: header.rcode(),
            answers: header.ancount,
            ..DnsFields::default()
        };
        if let Some(question) = message.question {
            fields.qname = question.name.to_text();
            fields.qtype = question.qtype;
            fields.qclass = question.qclass;
        }
        if let Some(answer) = message.first_answer {
            fields.answer_type = answer.rtype;
            fields.answer_ttl = answer.ttl;
            fields.answer_data = answer.rdata_text();
        }
        if let Some(edns) = message.edns {
            fields.edns_udp_size = edns.udp_payload_size;
            fields.dnssec_ok = edns.dnssec_ok;
        }
        fields
    }
}

/// Whether a flow whose first payload is `payload` speaks DNS: on the DNS
/// ports any plausible header (or a payload too short to tell); elsewhere
/// only exactly one well-formed message with one sane question, so random
/// UDP is not claimed.
pub fn probe(transport: &Transport, payload: &[u8]) -> bool {
    let dns_port = is_dns_port(transport);
    if !dns_port && on_ports(transport, &DNS_LOOKALIKE_PORTS) {
        return false;
    }
    let message = match transport.proto {
        6 => match payload.split_first_chunk::<2>() {
            None => return dns_port,
            Some((_, rest)) if dns_port => {
                return rest.len() < parser::HEADER_LEN || parser::header_is_plausible(rest)
            }
            Some((prefix, rest)) if usize::from(u16::from_be_bytes(*prefix)) == rest.len() => rest,
            Some(_) => return false,
        },
        17 if dns_port => return payload.is_empty() || parser::header_is_plausible(payload),
        17 => payload,
        _ => return false,
    };
    parser::is_strict_message(message)
}

fn on_ports(transport: &Transport, ports: &[u16]) -> bool {
    ports.contains(&transport.src_port) || ports.contains(&transport.dst_port)
}

fn is_dns_port(transport: &Transport) -> bool {
    on_ports(transport, &DNS_PORTS)
}

/// A fresh per-direction DNS state.
pub fn new_parser() -> Box<dyn Parser> {
    Box::new(state::DnsState::new())
}
