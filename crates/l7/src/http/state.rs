//! One direction of one HTTP/1.x connection: where the next head starts,
//! which body bytes to skip, and the transaction in progress. Body bytes of
//! known extent beyond a packet are not fed at all: `feed` returns
//! [`Feed::Skip`] and counts them as consumed.

use super::body::{Body, Skip};
use super::parser::{
    check_start_line, find_head_end, is_h2_preface, parse_cut_start_line, read_head, Framing, Kind,
    LineCheck, StartLine,
};
use super::HttpFields;
use crate::{Feed, L7Fields, Parser, MAX_BUFFER};

/// Where the next payload byte belongs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// A head starts at the next byte (after stray CR/LF).
    Head,
    /// A head split over segments: its first bytes wait in the buffer.
    InHead,
    /// A body whose framing the head announced.
    Body(Body),
    /// Body delimited by the close, or bytes that did not parse: only a
    /// segment that starts with a valid start line brings a head back.
    Resync,
    /// The connection left HTTP/1.x (upgrade, tunnel).
    Done,
}

/// Parser state for one flow direction.
pub struct HttpState {
    stage: Stage,
    /// Requests or responses, fixed by the first head.
    kind: Option<Kind>,
    /// The bytes of a head split over segments (at most `MAX_BUFFER`).
    buf: Vec<u8>,
    /// Head-end search in `buf` resumes here.
    scanned: usize,
    /// `buf` holds a complete, valid start line (its transaction began).
    line_checked: bool,
    /// Whether the head being read becomes the current transaction: only
    /// the first new head of a packet does, as one packet yields at most
    /// one boundary.
    keep_fields: bool,
    /// Boxed, as the record takes it: a state waiting for the next head
    /// keeps 16 bytes instead of two 176-byte field sets.
    current: Option<Box<HttpFields>>,
    /// The current response is a 1xx interim one: the final response
    /// replaces it rather than starting a new transaction.
    current_interim: bool,
    finished: Option<Box<HttpFields>>,
}

impl HttpState {
    pub fn new() -> Self {
        HttpState {
            stage: Stage::Head,
            kind: None,
            buf: Vec::new(),
            scanned: 0,
            line_checked: false,
            keep_fields: true,
            current: None,
            current_interim: false,
            finished: None,
        }
    }

    /// Bytes held for a split head (tests check the cap).
    #[cfg(test)]
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    fn kind_fits(&self, kind: Kind) -> bool {
        self.kind.is_none_or(|k| k == kind)
    }

    /// Whether a segment starts with a complete start line of this
    /// direction's kind: the only place a head is trusted after a body of
    /// unknown length.
    fn starts_with_head(&self, payload: &[u8]) -> bool {
        match check_start_line(skip_line_ends(payload)) {
            LineCheck::Valid { line, .. } => self.kind_fits(line.kind()),
            _ => false,
        }
    }

    /// A valid start line arrived: the previous transaction (if any) is
    /// finished, unless it was an interim response.
    fn start_transaction(&mut self, kind: Kind, boundary: &mut bool) {
        self.kind = Some(kind);
        self.keep_fields = true;
        if self.current.is_none() || self.current_interim {
            return;
        }
        if *boundary {
            self.keep_fields = false;
        } else {
            self.finished = self.current.take();
            *boundary = true;
        }
    }

    /// Takes in a complete head (or, from `give_up_head`, what arrived of
    /// one) and decides what follows it.
    fn finish_head(&mut self, head: &[u8], whole: bool) {
        let LineCheck::Valid { line, len } = check_start_line(head) else {
            self.stage = Stage::Resync;
            return;
        };
        self.finish_checked_head(line, head.get(len..).unwrap_or_default(), whole);
    }

    /// [`HttpState::finish_head`] with the start line already checked;
    /// `headers` is the rest of the head.
    fn finish_checked_head(&mut self, line: StartLine<'_>, headers: &[u8], whole: bool) {
        let info = read_head(line, headers);
        if self.keep_fields {
            self.current = Some(Box::new(info.fields));
            self.current_interim = info.interim;
        }
        self.stage = match info.framing {
            _ if info.switches_protocol => Stage::Done,
            _ if !whole => Stage::Resync,
            Framing::None | Framing::Length(0) => Stage::Head,
            Framing::Length(n) => Stage::Body(Body::Length(n)),
            Framing::Chunked => Stage::Body(Body::chunked()),
            Framing::UntilClose => Stage::Resync,
        };
    }

    /// Reads a head starting at `payload[pos]`; returns where parsing goes on.
    fn begin_head(&mut self, payload: &[u8], pos: usize, boundary: &mut bool) -> usize {
        let bytes = skip_line_ends(payload.get(pos..).unwrap_or_default());
        if bytes.is_empty() {
            return payload.len();
        }
        match check_start_line(bytes) {
            LineCheck::Invalid => {
                self.stage = if is_h2_preface(bytes) {
                    Stage::Done
                } else {
                    Stage::Resync
                };
            }
            LineCheck::Incomplete => self.buffer_head(bytes, false),
            LineCheck::Valid { line, len } if self.kind_fits(line.kind()) => {
                self.start_transaction(line.kind(), boundary);
                match find_head_end(bytes, len) {
                    Some(end) => {
                        let headers = bytes.get(len..end).unwrap_or_default();
                        self.finish_checked_head(line, headers, true);
                        return payload.len() - bytes.len() + end;
                    }
                    None => self.buffer_head(bytes, true),
                }
            }
            LineCheck::Valid { .. } => self.stage = Stage::Resync,
        }
        payload.len()
    }

    /// Keeps the start of a head that continues in later segments.
    fn buffer_head(&mut self, bytes: &[u8], line_checked: bool) {
        self.buf.clear();
        self.buf
            .extend_from_slice(&bytes[..bytes.len().min(MAX_BUFFER)]);
        self.scanned = self.buf.len();
        self.line_checked = line_checked;
        self.stage = Stage::InHead;
        if self.buf.len() >= MAX_BUFFER {
            self.give_up_head();
        }
    }

    /// The buffered head will not complete (too long, or a new head came):
    /// keep the fields of its complete lines and wait for a new head.
    fn give_up_head(&mut self) {
        let buf = std::mem::take(&mut self.buf);
        if self.line_checked {
            self.finish_head(&buf, false);
        }
        self.stage = if self.stage == Stage::Done {
            Stage::Done
        } else {
            Stage::Resync
        };
        self.buf = buf;
        self.buf.clear();
        self.line_checked = false;
    }

    /// Adds a segment to the buffered head; returns where parsing goes on.
    fn continue_head(&mut self, payload: &[u8], boundary: &mut bool) -> usize {
        if self.line_checked && self.starts_with_head(payload) {
            // The buffered head never ended (FlowTest `http_404` sends body
            // right after the header lines); a new message starts here.
            self.give_up_head();
            if self.stage == Stage::Done {
                return payload.len();
            }
            self.stage = Stage::Head;
            return 0;
        }
        let old_len = self.buf.len();
        let take = payload.len().min(MAX_BUFFER.saturating_sub(old_len));
        self.buf.extend_from_slice(&payload[..take]);
        if !self.line_checked && !self.check_buffered_line(boundary) {
            return payload.len();
        }
        match find_head_end(&self.buf, self.scanned) {
            Some(end) => {
                let buf = std::mem::take(&mut self.buf);
                self.finish_head(&buf[..end], true);
                self.buf = buf;
                self.buf.clear();
                self.line_checked = false;
                end.saturating_sub(old_len)
            }
            None => {
                self.scanned = self.buf.len();
                if self.buf.len() >= MAX_BUFFER {
                    self.give_up_head();
                }
                payload.len()
            }
        }
    }

    /// Checks the start line of the buffer once it is complete; false when
    /// parsing of this segment should stop (line incomplete or invalid).
    fn check_buffered_line(&mut self, boundary: &mut bool) -> bool {
        let (kind, len) = match check_start_line(&self.buf) {
            LineCheck::Valid { line, len } => (line.kind(), len),
            LineCheck::Incomplete if self.buf.len() < MAX_BUFFER => return false,
            LineCheck::Invalid if is_h2_preface(&self.buf) => {
                self.stage = Stage::Done;
                return false;
            }
            _ => {
                self.stage = Stage::Resync;
                self.buf.clear();
                return false;
            }
        };
        if !self.kind_fits(kind) {
            self.stage = Stage::Resync;
            self.buf.clear();
            return false;
        }
        self.start_transaction(kind, boundary);
        self.line_checked = true;
        self.scanned = len;
        true
    }
}

/// `bytes` without leading CR/LF (clients may send extra line ends after
/// a body, RFC 9112 section 2.2).
fn skip_line_ends(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(bytes.len());
    &bytes[start..]
}

impl Default for HttpState {
    fn default() -> Self {
        HttpState::new()
    }
}

impl Parser for HttpState {
    fn feed(&mut self, payload: &[u8]) -> Feed {
        if self.stage == Stage::Done {
            return Feed::Done;
        }
        let mut boundary = false;
        let mut pos = 0;
        while pos < payload.len() {
            pos = match self.stage {
                Stage::Head => self.begin_head(payload, pos, &mut boundary),
                Stage::InHead if pos == 0 => self.continue_head(payload, &mut boundary),
                Stage::Body(mut body) => match body.skip(&payload[pos..]) {
                    Skip::Consumed => {
                        self.stage = Stage::Body(body);
                        payload.len()
                    }
                    Skip::Ended(n) => {
                        self.stage = Stage::Head;
                        pos + n
                    }
                    Skip::Broken => {
                        self.stage = Stage::Resync;
                        payload.len()
                    }
                },
                Stage::Resync if pos == 0 && self.starts_with_head(payload) => {
                    self.stage = Stage::Head;
                    0
                }
                Stage::InHead | Stage::Resync | Stage::Done => payload.len(),
            };
        }
        match (boundary, self.stage) {
            // The cache takes no skip with a boundary: body bytes after this
            // packet are fed and skipped here, and the next packet asks.
            (true, _) => Feed::Boundary,
            (false, Stage::Done) => Feed::Done,
            (false, Stage::Body(mut body)) => match body.skip_unseen() {
                (0, _) => Feed::More,
                (n, ended) => {
                    self.stage = if ended {
                        Stage::Head
                    } else {
                        Stage::Body(body)
                    };
                    Feed::Skip(n)
                }
            },
            (false, _) => Feed::More,
        }
    }

    fn take_finished(&mut self) -> Option<L7Fields> {
        self.finished.take().map(L7Fields::Http)
    }

    fn take_current(&mut self) -> Option<L7Fields> {
        if self.stage == Stage::InHead && self.line_checked {
            self.give_up_head();
        } else if self.stage == Stage::InHead && self.current.is_none() {
            // zeek_communityid_tcp: the snap length cut the request line.
            if let Some(line) = parse_cut_start_line(&self.buf) {
                self.current = Some(Box::new(read_head(line, &[]).fields));
            }
        }
        self.current.take().map(L7Fields::Http)
    }
}
