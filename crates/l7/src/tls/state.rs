//! Per flow direction state: reassembles the first handshake message (a
//! ClientHello or ServerHello, possibly split over TCP segments and TLS
//! records) and turns it into [`TlsFields`].

use std::mem;

use super::fingerprint::{ja3, ja3_ssl2, ja4_of};
use super::parser::{
    handshake_header, ssl2_record_len, ClientHello, RecordHeader, ServerHello, Ssl2ClientHello,
    Ssl2ServerHello, CLIENT_HELLO, CONTENT_ALERT, CONTENT_HANDSHAKE, HANDSHAKE_HEADER_LEN,
    RECORD_HEADER_LEN, SERVER_HELLO, SSL2_HEADER_LEN, SSL2_SERVER_HELLO,
};
use super::TlsFields;
use crate::{field_string, joined_field, Feed, L7Fields, Parser, MAX_BUFFER};

/// Longest hello body kept for reassembly: the whole buffer minus the
/// handshake header. Real hellos are a few hundred bytes (post-quantum key
/// shares push ClientHellos past 1,500).
const MAX_HELLO_LEN: usize = MAX_BUFFER - HANDSHAKE_HEADER_LEN;

/// How the flow direction frames its first message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Framing {
    /// No byte seen yet.
    Unknown,
    /// TLS records (SSL 3.0 and later).
    Tls,
    /// An SSLv2 (or SSLv2-compatible) hello with a two-byte header.
    Ssl2,
}

/// One direction of one TLS flow.
pub struct TlsState {
    fields: TlsFields,
    framing: Framing,
    /// A record header split over packets.
    header: [u8; RECORD_HEADER_LEN],
    header_len: usize,
    /// Body bytes of the current record still to come.
    record_left: usize,
    /// Handshake bytes of a message that spans packets or records.
    handshake: Vec<u8>,
    done: bool,
}

impl TlsState {
    pub fn new() -> Self {
        TlsState {
            fields: TlsFields::default(),
            framing: Framing::Unknown,
            header: [0; RECORD_HEADER_LEN],
            header_len: 0,
            record_left: 0,
            handshake: Vec::new(),
            done: false,
        }
    }

    fn header_size(&self) -> usize {
        match self.framing {
            Framing::Ssl2 => SSL2_HEADER_LEN,
            _ => RECORD_HEADER_LEN,
        }
    }

    /// Walks `rest` record by record until the hello is parsed, the bytes
    /// turn out not to be a hello, or the packet ends.
    fn consume(&mut self, mut rest: &[u8]) -> Feed {
        while let Some(&first) = rest.first() {
            if self.framing == Framing::Unknown {
                // SSLv2 headers set the high bit; TLS content types never do.
                self.framing = if first & 0x80 != 0 {
                    Framing::Ssl2
                } else {
                    Framing::Tls
                };
            }
            if self.record_left == 0 {
                rest = self.fill_header(rest);
                if self.header_len < self.header_size() {
                    return Feed::More;
                }
                self.header_len = 0;
                if let Some(outcome) = self.start_record() {
                    return outcome;
                }
            }
            let (chunk, tail) = rest.split_at(self.record_left.min(rest.len()));
            rest = tail;
            self.record_left -= chunk.len();
            if self.on_handshake_bytes(chunk) == Feed::Done {
                return Feed::Done;
            }
        }
        Feed::More
    }

    /// Copies header bytes into `self.header`; returns what follows them.
    fn fill_header<'a>(&mut self, rest: &'a [u8]) -> &'a [u8] {
        let wanted = self
            .header_size()
            .saturating_sub(self.header_len)
            .min(rest.len());
        let (bytes, tail) = rest.split_at(wanted);
        if let Some(slot) = self
            .header
            .get_mut(self.header_len..self.header_len + wanted)
        {
            slot.copy_from_slice(bytes);
        }
        self.header_len += wanted;
        tail
    }

    /// Reads the complete header in `self.header`: `None` when a record
    /// body carrying handshake bytes follows, else the final outcome.
    fn start_record(&mut self) -> Option<Feed> {
        if self.framing == Framing::Ssl2 {
            return match ssl2_record_len(&self.header) {
                Some(len) if (1..=MAX_BUFFER).contains(&len) => {
                    self.record_left = len;
                    None
                }
                _ => Some(Feed::Done),
            };
        }
        let Some(record) = RecordHeader::parse(&self.header) else {
            return Some(Feed::Done);
        };
        match record.content_type {
            CONTENT_HANDSHAKE if record.len > 0 => {
                self.record_left = record.len;
                None
            }
            CONTENT_ALERT => {
                // A server that refuses the ClientHello answers with an
                // alert: its record version is all it says about versions.
                if self.fields == TlsFields::default() {
                    self.fields.version = Some(record.version);
                }
                Some(Feed::Done)
            }
            _ => Some(Feed::Done),
        }
    }

    /// Handles the next bytes of handshake data: parses straight from the
    /// packet when it holds the whole message (the common case, no copy),
    /// else buffers up to [`MAX_BUFFER`] bytes.
    fn on_handshake_bytes(&mut self, chunk: &[u8]) -> Feed {
        if self.handshake.is_empty() {
            if let Some(outcome) = self.try_message(chunk) {
                return outcome;
            }
            // Size the buffer for the whole message once (try_message
            // refused lengths past the buffer).
            let whole = match self.framing {
                Framing::Ssl2 => Some(chunk.len() + self.record_left),
                _ => handshake_header(chunk).map(|(_, len)| HANDSHAKE_HEADER_LEN + len),
            };
            let wanted = whole.unwrap_or(0).max(chunk.len()).min(MAX_BUFFER);
            self.handshake.reserve_exact(wanted);
        }
        if self.handshake.len() + chunk.len() > MAX_BUFFER {
            return Feed::Done;
        }
        self.handshake.extend_from_slice(chunk);
        let buffered = mem::take(&mut self.handshake);
        let outcome = self.try_message(&buffered);
        self.handshake = buffered;
        outcome.unwrap_or(Feed::More)
    }

    /// Parses the message at the start of `bytes`: `None` while it is
    /// incomplete, `Some(Feed::Done)` once parsed or hopeless.
    fn try_message(&mut self, bytes: &[u8]) -> Option<Feed> {
        if self.framing == Framing::Ssl2 {
            // The SSLv2 message is the whole record.
            if self.record_left > 0 {
                return None;
            }
            self.on_ssl2_message(bytes);
            return Some(Feed::Done);
        }
        let (msg_type, len) = handshake_header(bytes)?;
        if !(msg_type == CLIENT_HELLO || msg_type == SERVER_HELLO) || len > MAX_HELLO_LEN {
            return Some(Feed::Done);
        }
        let body = bytes.get(HANDSHAKE_HEADER_LEN..HANDSHAKE_HEADER_LEN + len)?;
        if msg_type == CLIENT_HELLO {
            self.on_client_hello(body);
        } else {
            self.on_server_hello(body);
        }
        Some(Feed::Done)
    }

    fn on_client_hello(&mut self, body: &[u8]) {
        let Some(hello) = ClientHello::parse(body) else {
            return;
        };
        let ext = hello.scan();
        let fields = &mut self.fields;
        fields.legacy_version = Some(hello.legacy_version);
        fields.version = Some(ext.offered_version());
        fields.sni = ext.server_name().map(field_string);
        fields.alpn = ext
            .alpn()
            .map(|names| joined_field(names, b','))
            .filter(|s| !s.is_empty());
        fields.ja3 = Some(ja3(&hello, &ext));
        fields.ja4 = Some(ja4_of(&hello, &ext));
    }

    fn on_server_hello(&mut self, body: &[u8]) {
        let Some(hello) = ServerHello::parse(body) else {
            return;
        };
        let fields = &mut self.fields;
        let (version, alpn) = hello.version_and_alpn();
        fields.legacy_version = Some(hello.legacy_version);
        fields.version = Some(version);
        fields.cipher_suite = Some(u32::from(hello.cipher_suite));
        fields.alpn = alpn.map(field_string);
    }

    fn on_ssl2_message(&mut self, msg: &[u8]) {
        match msg.first() {
            Some(&CLIENT_HELLO) => {
                if let Some(hello) = Ssl2ClientHello::parse(msg) {
                    self.fields.legacy_version = Some(hello.version);
                    self.fields.version = Some(hello.version);
                    self.fields.ja3 = Some(ja3_ssl2(&hello));
                }
            }
            Some(&SSL2_SERVER_HELLO) => {
                if let Some(hello) = Ssl2ServerHello::parse(msg) {
                    self.fields.legacy_version = Some(hello.version);
                    self.fields.version = Some(hello.version);
                    self.fields.cipher_suite =
                        super::parser::cipher_specs(hello.cipher_specs).next();
                }
            }
            _ => {}
        }
    }
}

impl Default for TlsState {
    fn default() -> Self {
        Self::new()
    }
}

impl Parser for TlsState {
    fn feed(&mut self, payload: &[u8]) -> Feed {
        if self.done {
            return Feed::Done;
        }
        let outcome = self.consume(payload);
        if outcome == Feed::Done {
            self.done = true;
            self.handshake = Vec::new();
        }
        outcome
    }

    fn take_finished(&mut self) -> Option<L7Fields> {
        // One hello per flow direction: no transaction boundaries.
        None
    }

    fn take_current(&mut self) -> Option<L7Fields> {
        let fields = mem::take(&mut self.fields);
        (fields != TlsFields::default()).then(|| L7Fields::from(fields))
    }
}

#[cfg(test)]
impl TlsState {
    /// Bytes held for reassembly (for the bounded-buffer tests).
    pub fn buffered(&self) -> usize {
        self.handshake.len() + self.header_len
    }
}
