//! Application-layer (L7) parsers: the heads of HTTP, DNS, TLS, SMTP and SIP
//! messages, turned into the flow fields `../shared/DESIGN.md` section 3
//! lists (CESNET PEN 8057 and Flowmon PEN 39499 elements).
//!
//! eddy's flows are unidirectional, so a parser sees one direction of one
//! flow: an HTTP request flow yields method, host, URL, user agent and
//! referer; its response flow yields status, content type and server. Each
//! protocol lives in its own folder: `parser.rs` parses one message over
//! `&[u8]` with no state, `state.rs` holds what a flow direction keeps between
//! packets (bounded reassembly of a head split over segments, the current
//! transaction) and implements [`Parser`].
//!
//! Not here: choosing flows, timeouts, output. The flow cache asks [`PARSERS`]
//! which parser claims a flow ([`ParserSpec::probe`], by content first, ports
//! only as a hint), feeds it each packet's payload, and ends the flow record
//! when the parser reports a transaction boundary (one record per HTTP
//! request, DNS message or SIP message, as ipfixprobe does).
//!
//! Untrusted input: no parser panics on any bytes; strings are capped at
//! [`MAX_FIELD_LEN`] bytes (cut on a UTF-8 boundary, invalid bytes replaced),
//! and per-flow buffering is capped at [`MAX_BUFFER`] bytes.

mod columns;
pub mod dns;
pub mod http;
pub mod quic;
mod reader;
pub mod sip;
pub mod smtp;
pub mod tls;

#[cfg(test)]
pub(crate) mod testutil;

pub use columns::{col, column_index, Value, COLUMNS};

/// An L7 string field. Values of up to 24 bytes (most methods, hosts,
/// server names, DNS names, content types) live inline, in the 24 bytes a
/// `String` takes for its pointer, so they cost no allocation: a record
/// allocated each such string apart, long after the flow's other memory,
/// and the allocation and the later free each missed the CPU cache.
pub type FieldStr = compact_str::CompactString;

/// Longest string field kept (longer values are cut).
pub const MAX_FIELD_LEN: usize = 255;
/// Most bytes a parser buffers per flow direction to reassemble a head split
/// over TCP segments.
pub const MAX_BUFFER: usize = 16 * 1024;

/// The L7 fields of one transaction in one direction of a flow. Each
/// protocol's fields are boxed on their own, so that a record holds 16
/// bytes and an allocation of its protocol's size: a TLS record's fields
/// took 208 bytes as the largest variant (SIP's) before, 112 now, and the
/// TLS flows of a busy link stay in the flow cache for minutes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum L7Fields {
    Http(Box<http::HttpFields>),
    Dns(Box<dns::DnsFields>),
    Tls(Box<tls::TlsFields>),
    Smtp(Box<smtp::SmtpFields>),
    Sip(Box<sip::SipFields>),
    Quic(Box<quic::QuicFields>),
}

impl L7Fields {
    /// Where the boxed fields lie and how many bytes they span: what a
    /// reader asks the CPU to fetch ahead (an HTTP record's fields span
    /// three cache lines).
    pub fn boxed_bytes(&self) -> (*const u8, usize) {
        fn span<T>(fields: &T) -> (*const u8, usize) {
            (std::ptr::from_ref(fields).cast(), std::mem::size_of::<T>())
        }
        match self {
            L7Fields::Http(f) => span(&**f),
            L7Fields::Dns(f) => span(&**f),
            L7Fields::Tls(f) => span(&**f),
            L7Fields::Smtp(f) => span(&**f),
            L7Fields::Sip(f) => span(&**f),
            L7Fields::Quic(f) => span(&**f),
        }
    }
}

macro_rules! l7_fields_from {
    ($($variant:ident($fields:ty)),*) => {$(
        impl From<$fields> for L7Fields {
            fn from(fields: $fields) -> L7Fields {
                L7Fields::$variant(Box::new(fields))
            }
        }
    )*};
}

l7_fields_from!(
    Http(http::HttpFields),
    Dns(dns::DnsFields),
    Tls(tls::TlsFields),
    Smtp(smtp::SmtpFields),
    Sip(sip::SipFields),
    Quic(quic::QuicFields)
);

/// What the flow cache knows about a flow when it asks parsers to probe it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transport {
    /// 6 (TCP) or 17 (UDP).
    pub proto: u8,
    pub src_port: u16,
    pub dst_port: u16,
}

/// What feeding one packet's payload told the parser.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Feed {
    /// Keep feeding.
    More,
    /// This packet starts a new transaction: the fields before it are
    /// complete (take them with [`Parser::take_finished`]) and the flow record
    /// should end before this packet.
    Boundary,
    /// Nothing more to learn from this flow direction (e.g. TLS after the
    /// handshake, SMTP after STARTTLS); stop feeding.
    Done,
    /// Keep feeding, but the next `n` payload bytes (after this packet's)
    /// carry nothing for the parser, e.g. an HTTP body of known length: the
    /// flow cache does not call `feed` for packets wholly inside them and
    /// passes only the bytes after them. Saves a parser call (and its cache
    /// misses) per body packet.
    Skip(u32),
}

/// Per flow direction parser state.
pub trait Parser: Send {
    /// Feeds the L4 payload of the next packet (empty payloads are fine).
    fn feed(&mut self, payload: &[u8]) -> Feed;
    /// The fields of the transaction the last [`Feed::Boundary`] closed.
    fn take_finished(&mut self) -> Option<L7Fields>;
    /// The fields of the transaction in progress (called when the flow ends).
    fn take_current(&mut self) -> Option<L7Fields>;
}

/// One entry of the parser registry.
pub struct ParserSpec {
    /// Name used on the command line (`--l7 http,dns`).
    pub name: &'static str,
    /// Whether a flow whose first payload is `payload` speaks this protocol.
    pub probe: fn(&Transport, &[u8]) -> bool,
    /// A fresh per-direction state.
    pub new: fn() -> Box<dyn Parser>,
}

/// Every parser, in the order they are probed (most specific first).
pub static PARSERS: &[ParserSpec] = &[
    ParserSpec {
        name: "tls",
        probe: tls::probe,
        new: tls::new_parser,
    },
    ParserSpec {
        name: "quic",
        probe: quic::probe,
        new: quic::new_parser,
    },
    ParserSpec {
        name: "dns",
        probe: dns::probe,
        new: dns::new_parser,
    },
    ParserSpec {
        name: "sip",
        probe: sip::probe,
        new: sip::new_parser,
    },
    ParserSpec {
        name: "http",
        probe: http::probe,
        new: http::new_parser,
    },
    ParserSpec {
        name: "smtp",
        probe: smtp::probe,
        new: smtp::new_parser,
    },
];

/// Cuts `bytes` to at most [`MAX_FIELD_LEN`] bytes and makes a string of it
/// (invalid UTF-8 replaced), never splitting a character.
pub fn field_string(bytes: &[u8]) -> FieldStr {
    // The common case, short valid text, checked a word at a time.
    if bytes.len() <= MAX_FIELD_LEN {
        if let Ok(text) = std::str::from_utf8(bytes) {
            return FieldStr::new(text);
        }
    }
    let text = String::from_utf8_lossy(bytes);
    let mut end = text.len().min(MAX_FIELD_LEN);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    FieldStr::new(&text[..end])
}

/// The field of `parts` joined by `sep` (DNS labels, ALPN names), built on
/// the stack. Parts are at most 255 bytes (one length byte on the wire), and
/// the join stops once past [`MAX_FIELD_LEN`], so a hostile list of
/// thousands of parts costs no more than one field.
pub(crate) fn joined_field<'a>(parts: impl Iterator<Item = &'a [u8]>, sep: u8) -> FieldStr {
    let mut joined = [0u8; 2 * MAX_FIELD_LEN + 2];
    let mut len = 0;
    for part in parts {
        let gap = usize::from(len > 0);
        let Some(room) = joined.get_mut(len..len + gap + part.len()) else {
            break;
        };
        room[..gap].fill(sep);
        room[gap..].copy_from_slice(part);
        len += gap + part.len();
        if len >= MAX_FIELD_LEN {
            break;
        }
    }
    field_string(&joined[..len])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_strings_are_capped_on_char_boundaries() {
        assert_eq!(field_string(b"abc"), "abc");
        let long = "é".repeat(200);
        let cut = field_string(long.as_bytes());
        assert!(cut.len() <= MAX_FIELD_LEN);
        assert!(cut.chars().all(|c| c == 'é'));
        assert_eq!(field_string(&[0xff, b'a']), "\u{fffd}a");
        let parts: [&[u8]; 3] = [b"www", b"example", b"com"];
        assert_eq!(joined_field(parts.into_iter(), b'.'), "www.example.com");
        let long = [&[b'x'; 255][..]; 1000];
        assert_eq!(joined_field(long.into_iter(), b',').len(), MAX_FIELD_LEN);
    }

    #[test]
    fn registry_names_are_unique() {
        let mut names: Vec<_> = PARSERS.iter().map(|p| p.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), PARSERS.len());
    }
}
