//! Per flow direction state: one transaction per DNS message, TCP framing
//! (2-byte length prefix) reassembled with at most `MAX_BUFFER` bytes kept.

use super::parser::{self, HEADER_LEN};
use super::DnsFields;
use crate::{Feed, L7Fields, Parser, MAX_BUFFER};

/// Size of the TCP length prefix (RFC 1035 4.2.2).
const TCP_PREFIX_LEN: usize = 2;
/// Buffer capacity kept between messages (most DNS messages fit).
const KEPT_BUFFER_CAPACITY: usize = 1024;

/// How messages are delimited in this flow direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Framing {
    /// Not decided yet (no payload seen).
    Unknown,
    /// One message per datagram.
    Datagram,
    /// Length-prefixed messages in a byte stream.
    Stream,
}

/// The DNS state of one flow direction.
///
/// A transaction opens when a message starts (its first byte arrives) and
/// takes the fields of that message once it is complete. Only the first
/// message starting in a packet opens a transaction, because the flow record
/// can only be cut between packets: later messages starting in the same
/// packet share it and their fields are dropped.
pub struct DnsState {
    framing: Framing,
    /// Fields of the transaction the last boundary closed.
    finished: Option<DnsFields>,
    /// Whether a transaction is open (a message has started).
    open: bool,
    /// Fields of the open transaction, once its first message parsed.
    current: Option<DnsFields>,
    /// Whether a message already started in the packet being fed.
    started_in_packet: bool,
    /// Stream: the head of the message being reassembled, prefix included,
    /// at most `MAX_BUFFER` bytes.
    head: Vec<u8>,
    /// Stream: bytes of the current message still to come after the prefix;
    /// None until the prefix is complete.
    remaining: Option<usize>,
}

impl DnsState {
    pub fn new() -> DnsState {
        DnsState {
            framing: Framing::Unknown,
            finished: None,
            open: false,
            current: None,
            started_in_packet: false,
            head: Vec::new(),
            remaining: None,
        }
    }

    /// Bytes held for reassembly (tests check the cap).
    #[cfg(test)]
    pub fn buffered(&self) -> usize {
        self.head.len()
    }

    /// A message starts in the packet being fed; true when it closes the
    /// open transaction (a boundary).
    fn message_started(&mut self) -> bool {
        if std::mem::replace(&mut self.started_in_packet, true) {
            return false;
        }
        // A transaction whose message could not be parsed has nothing to
        // report: the new message just takes it over.
        let boundary = self.open && self.current.is_some();
        if boundary {
            self.finished = self.current.take();
        }
        self.open = true;
        boundary
    }

    /// A message of the open transaction is complete (or cut at the cap).
    fn message_parsed(&mut self, fields: Option<DnsFields>) {
        if self.current.is_none() {
            self.current = fields;
        }
    }

    /// `parsed` is the payload already parsed (by [`Self::detect_framing`]
    /// on a flow's first payload), so a datagram is parsed once.
    fn feed_datagram<'p>(
        &mut self,
        payload: &'p [u8],
        parsed: Option<Option<parser::Message<'p>>>,
    ) -> bool {
        let parsed = parsed.unwrap_or_else(|| parser::parse_message(payload));
        let Some(message) = parsed else {
            // Shorter than a header: nothing to record.
            return false;
        };
        let boundary = self.message_started();
        self.message_parsed(Some(DnsFields::from_message(&message)));
        boundary
    }

    fn feed_stream(&mut self, mut payload: &[u8]) -> bool {
        let mut boundary = false;
        while !payload.is_empty() {
            if self.head.is_empty() {
                boundary |= self.message_started();
            }
            payload = self.take_stream_bytes(payload);
            if self.remaining == Some(0) {
                let fields = self.parse_head();
                self.message_parsed(fields);
                self.reset_head();
                self.remaining = None;
            }
        }
        boundary
    }

    /// Empties the reassembly buffer, giving back the memory of a big
    /// message so an idle flow keeps little.
    fn reset_head(&mut self) {
        if self.head.capacity() > KEPT_BUFFER_CAPACITY {
            self.head = Vec::new();
        } else {
            self.head.clear();
        }
    }

    /// Buffers (up to the cap) the bytes of the current message; returns
    /// what is left of the payload after it.
    fn take_stream_bytes<'p>(&mut self, payload: &'p [u8]) -> &'p [u8] {
        let Some(remaining) = self.remaining else {
            let want = TCP_PREFIX_LEN.saturating_sub(self.head.len());
            let (prefix, rest) = payload.split_at(want.min(payload.len()));
            self.head.extend_from_slice(prefix);
            if let [high, low] = self.head[..] {
                self.remaining = Some(usize::from(u16::from_be_bytes([high, low])));
            }
            return rest;
        };
        let (body, rest) = payload.split_at(remaining.min(payload.len()));
        let room = MAX_BUFFER.saturating_sub(self.head.len());
        self.head
            .extend_from_slice(body.get(..room).unwrap_or(body));
        self.remaining = Some(remaining - body.len());
        rest
    }

    /// Parses the buffered head (complete, cut at the cap, or cut by the
    /// end of the flow) into fields; None when it is shorter than a header.
    fn parse_head(&self) -> Option<DnsFields> {
        let msg = self.head.get(TCP_PREFIX_LEN..)?;
        parser::parse_message(msg).map(|m| DnsFields::from_message(&m))
    }

    /// Decides the framing from the first payload (the parser is not told
    /// the transport): a length prefix over a plausible message means a
    /// stream, unless the payload is itself exactly one complete message.
    /// Also gives the payload parsed as one datagram, for a datagram flow.
    fn detect_framing(payload: &[u8]) -> (Framing, Option<parser::Message<'_>>) {
        let as_datagram = parser::parse_message(payload);
        let whole_datagram = as_datagram
            .as_ref()
            .is_some_and(|m| m.end == Some(payload.len()));
        (Self::framing_of(payload, whole_datagram), as_datagram)
    }

    fn framing_of(payload: &[u8], whole_datagram: bool) -> Framing {
        let Some((prefix, rest)) = payload.split_first_chunk::<TCP_PREFIX_LEN>() else {
            // Half a length prefix: a datagram this short is no message.
            return Framing::Stream;
        };
        let length = usize::from(u16::from_be_bytes(*prefix));
        if length < HEADER_LEN {
            return Framing::Datagram;
        }
        if rest.len() < HEADER_LEN {
            // Prefix sent alone, or a header-only datagram.
            return if whole_datagram {
                Framing::Datagram
            } else {
                Framing::Stream
            };
        }
        let first = rest.get(..length).unwrap_or(rest);
        let as_stream = parser::header_is_plausible(first)
            && (first.len() < length
                || parser::parse_message(first)
                    .is_some_and(|m| m.question.is_some() || m.end.is_some()));
        if as_stream && !(whole_datagram && length != rest.len()) {
            Framing::Stream
        } else {
            Framing::Datagram
        }
    }
}

impl Parser for DnsState {
    fn feed(&mut self, payload: &[u8]) -> Feed {
        if payload.is_empty() {
            return Feed::More;
        }
        let mut parsed = None;
        if self.framing == Framing::Unknown {
            let (framing, as_datagram) = Self::detect_framing(payload);
            self.framing = framing;
            parsed = Some(as_datagram);
        }
        self.started_in_packet = false;
        let boundary = match self.framing {
            Framing::Stream => self.feed_stream(payload),
            _ => self.feed_datagram(payload, parsed),
        };
        if boundary {
            Feed::Boundary
        } else {
            Feed::More
        }
    }

    fn take_finished(&mut self) -> Option<L7Fields> {
        self.finished.take().map(L7Fields::from)
    }

    fn take_current(&mut self) -> Option<L7Fields> {
        if self.current.is_none() && !self.head.is_empty() {
            // The flow ended inside a message: report what arrived.
            self.current = self.parse_head();
        }
        self.open = false;
        self.current.take().map(L7Fields::from)
    }
}
