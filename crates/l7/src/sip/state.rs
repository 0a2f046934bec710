//! One SIP flow direction: messages framed over datagrams or a TCP stream,
//! heads reassembled (at most `MAX_BUFFER` bytes), bodies skipped, one
//! record per message.

use super::parser::{self, Head, StartLine};
use super::SipFields;
use crate::{field_string, Feed, FieldStr, L7Fields, Parser, MAX_BUFFER};

/// Where the direction is in its byte stream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Stage {
    /// Between messages.
    #[default]
    Idle,
    /// Inside a head; its start is in `head` when split over payloads.
    Head,
    /// Body bytes still to skip.
    Body(u64),
    /// Ignore the rest of this payload (a body without Content-Length, or
    /// bytes that are not SIP); the next payload starts afresh.
    RestOfPayload,
}

#[derive(Debug, Default)]
pub struct SipState {
    stage: Stage,
    /// Start of a head split over payloads (at most [`MAX_BUFFER`] bytes).
    head: Vec<u8>,
    /// The message being read or last read: its record.
    current: Option<Box<SipFields>>,
    /// A record closed by the last [`Feed::Boundary`].
    finished: Option<Box<SipFields>>,
    /// Whether the message being read gets its own record (only the first
    /// message started in a payload does).
    keep_fields: bool,
    /// Whether a message started in the payload being fed.
    started_this_feed: bool,
    boundary: bool,
}

impl Parser for SipState {
    fn feed(&mut self, payload: &[u8]) -> Feed {
        self.started_this_feed = false;
        self.boundary = false;
        if self.may_resync() && starts_message(payload) {
            // A datagram's wrong Content-Length or a cut head must not
            // swallow the next message.
            self.abandon_message();
        }
        let mut rest = payload;
        while !rest.is_empty() {
            rest = match self.stage {
                Stage::Idle => self.start_message(rest),
                Stage::Head => self.read_head(rest),
                Stage::Body(left) => self.skip_body(left, rest),
                Stage::RestOfPayload => &[],
            };
        }
        if self.stage == Stage::RestOfPayload {
            self.stage = Stage::Idle;
        }
        if self.boundary {
            Feed::Boundary
        } else {
            Feed::More
        }
    }

    fn take_finished(&mut self) -> Option<L7Fields> {
        self.finished.take().map(L7Fields::Sip)
    }

    fn take_current(&mut self) -> Option<L7Fields> {
        if self.stage == Stage::Head {
            self.abandon_message();
        }
        self.current.take().map(L7Fields::Sip)
    }
}

/// Whether a payload begins with a complete, valid start line.
fn starts_message(payload: &[u8]) -> bool {
    let payload = parser::skip_blank_lines(payload);
    // Start lines begin with an upper-case method or "SIP/2.0": checking
    // that first keeps body segments from being scanned.
    payload.first().is_some_and(u8::is_ascii_uppercase)
        && payload.contains(&b'\n')
        && parser::plausible_start(payload)
}

impl SipState {
    /// Whether a payload starting with a start line ends the message being
    /// read: yes inside a body or after a complete first line, but not while
    /// the first line itself is cut (`I` + `NVITE sip:...` is one line).
    fn may_resync(&self) -> bool {
        match self.stage {
            Stage::Idle | Stage::RestOfPayload => false,
            Stage::Body(_) => true,
            Stage::Head => self.head.contains(&b'\n'),
        }
    }

    /// Begins a message at `data` (blank lines skipped), ending the previous
    /// record if this is a later payload.
    fn start_message<'a>(&mut self, data: &'a [u8]) -> &'a [u8] {
        let data = parser::skip_blank_lines(data);
        if data.is_empty() {
            return data;
        }
        if !parser::plausible_start(data) {
            self.stage = Stage::RestOfPayload;
            return &[];
        }
        if !self.started_this_feed {
            if let Some(previous) = self.current.take() {
                self.finished = Some(previous);
                self.boundary = true;
            }
        }
        self.keep_fields = !self.started_this_feed;
        self.started_this_feed = true;
        self.stage = Stage::Head;
        data
    }

    /// Reads head bytes; returns what follows the head (body and beyond).
    fn read_head<'a>(&mut self, data: &'a [u8]) -> &'a [u8] {
        if self.head.is_empty() {
            if let Some(end) = parser::head_end(data, 0) {
                let (head, rest) = data.split_at(end);
                self.finish_head(head);
                return rest;
            }
            return self.keep_partial(data);
        }
        let old_len = self.head.len();
        let room = MAX_BUFFER.saturating_sub(old_len);
        self.head
            .extend_from_slice(data.get(..room.min(data.len())).unwrap_or_default());
        // The blank line may straddle the two pieces: look 3 bytes back.
        match parser::head_end(&self.head, old_len.saturating_sub(3)) {
            Some(end) => {
                let head = std::mem::take(&mut self.head);
                self.finish_head(head.get(..end).unwrap_or_default());
                self.head = head;
                self.head.clear();
                data.get(end.saturating_sub(old_len)..).unwrap_or_default()
            }
            None => self.check_partial(),
        }
    }

    /// Buffers the start of a head split over payloads.
    fn keep_partial<'a>(&mut self, data: &'a [u8]) -> &'a [u8] {
        let take = data.len().min(MAX_BUFFER);
        self.head
            .extend_from_slice(data.get(..take).unwrap_or_default());
        self.check_partial()
    }

    /// Gives up on a buffered head that is full or whose first line is not a
    /// start line; keeps what it already says.
    fn check_partial<'a>(&mut self) -> &'a [u8] {
        let full = self.head.len() >= MAX_BUFFER;
        if full || !parser::plausible_start(&self.head) {
            self.abandon_message();
            self.stage = Stage::RestOfPayload;
        }
        &[]
    }

    /// Ends the message being read: a cut head still yields its complete
    /// header lines.
    fn abandon_message(&mut self) {
        if self.stage == Stage::Head {
            let head = std::mem::take(&mut self.head);
            if let Some(parsed) = parser::parse_head(&head) {
                self.record(&parsed);
            }
            self.head = head;
            self.head.clear();
        }
        self.stage = Stage::Idle;
    }

    fn finish_head(&mut self, head: &[u8]) {
        let Some(parsed) = parser::parse_head(head) else {
            self.stage = Stage::RestOfPayload;
            return;
        };
        self.record(&parsed);
        self.stage = match parsed.content_length {
            Some(0) => Stage::Idle,
            Some(length) => Stage::Body(length),
            None => Stage::RestOfPayload,
        };
    }

    fn record(&mut self, head: &Head<'_>) {
        if self.keep_fields {
            self.current = Some(Box::new(fields_of(head)));
            self.keep_fields = false;
        }
    }

    fn skip_body<'a>(&mut self, left: u64, data: &'a [u8]) -> &'a [u8] {
        let len = data.len() as u64;
        if len < left {
            self.stage = Stage::Body(left - len);
            return &[];
        }
        self.stage = Stage::Idle;
        // `left <= len`, a usize, so the cast is lossless.
        data.get(left as usize..).unwrap_or_default()
    }
}

fn text(value: Option<&[u8]>) -> Option<FieldStr> {
    value.map(|v| field_string(&parser::unfold(v)))
}

fn fields_of(head: &Head<'_>) -> SipFields {
    let (method, status, request_uri) = match head.start {
        StartLine::Request { method, uri } => {
            (Some(field_string(method)), None, Some(field_string(uri)))
        }
        StartLine::Response { status } => (None, Some(status), None),
    };
    SipFields {
        msg_type: parser::message_type(&head.start),
        method,
        status,
        call_id: text(head.call_id),
        from: text(head.from),
        to: text(head.to),
        via: head
            .via
            .map(|v| field_string(parser::first_via(&parser::unfold(v)))),
        user_agent: text(head.user_agent),
        request_uri,
        cseq: text(head.cseq),
    }
}

#[cfg(test)]
impl SipState {
    /// Bytes held between packets (for the bounded-buffer tests).
    pub(super) fn buffered(&self) -> usize {
        self.head.len()
    }
}
