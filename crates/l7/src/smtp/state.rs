//! One SMTP flow direction: lines reassembled over segments (bounded), the
//! DATA body and BDAT chunks skipped, fields accumulated for the whole flow.

use super::parser::{self, Command, CommandLine};
use super::SmtpFields;
use crate::{field_string, Feed, L7Fields, Parser};

/// Longest line kept while waiting for its end. RFC 5321 allows 512 octets
/// for a command line and 512 for a reply line; longer lines are skipped.
const MAX_LINE: usize = 2048;
/// Consecutive lines that are neither commands nor replies before the
/// direction is given up as not (or no longer) SMTP.
const MAX_JUNK_LINES: u32 = 8;

/// Which side this direction is, learnt from its first line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Role {
    #[default]
    Unknown,
    Client,
    Server,
}

/// Where the client is in the DATA body: the end is a line holding only `.`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Body {
    /// At the start of a line.
    LineStart,
    /// Saw `.` at the start of a line.
    Dot,
    /// Saw `.` `\r` at the start of a line.
    DotCr,
    /// Inside a line.
    Mid,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Mode {
    #[default]
    Lines,
    Body(Body),
    /// Bytes of a BDAT chunk still to skip.
    Chunk(u64),
    Done,
}

#[derive(Debug, Default)]
pub struct SmtpState {
    fields: SmtpFields,
    role: Role,
    mode: Mode,
    /// Start of a line split over segments (at most [`MAX_LINE`] bytes).
    line: Vec<u8>,
    /// The line being read is longer than [`MAX_LINE`]: skip to its end.
    skipping_line: bool,
    /// After AUTH, lines that are not commands are credentials: not flagged.
    in_auth: bool,
    /// A 220 reply was seen (the greeting); another one accepts STARTTLS.
    greeted: bool,
    junk_lines: u32,
    seen_line: bool,
}

impl Parser for SmtpState {
    fn feed(&mut self, payload: &[u8]) -> Feed {
        let mut rest = payload;
        while !rest.is_empty() {
            rest = match self.mode {
                Mode::Done => break,
                Mode::Lines => self.feed_lines(rest),
                Mode::Body(body) => self.skip_body(body, rest),
                Mode::Chunk(left) => self.skip_chunk(left, rest),
            };
        }
        if self.mode == Mode::Done {
            self.line = Vec::new();
            Feed::Done
        } else {
            Feed::More
        }
    }

    fn take_finished(&mut self) -> Option<L7Fields> {
        // One record per flow: there is never a finished transaction.
        None
    }

    fn take_current(&mut self) -> Option<L7Fields> {
        if !self.seen_line {
            return None;
        }
        self.seen_line = false;
        Some(L7Fields::from(std::mem::take(&mut self.fields)))
    }
}

impl SmtpState {
    /// Reads up to the end of the next line; returns the bytes after it.
    fn feed_lines<'a>(&mut self, data: &'a [u8]) -> &'a [u8] {
        let Some(newline) = parser::find_newline(data) else {
            self.keep_partial(data);
            return &[];
        };
        let (head, rest) = data.split_at(newline);
        let rest = rest.get(1..).unwrap_or_default();
        if self.skipping_line {
            self.skipping_line = false;
        } else if self.line.is_empty() {
            self.handle_line(head);
        } else if self.line.len() + head.len() <= MAX_LINE {
            let mut line = std::mem::take(&mut self.line);
            line.extend_from_slice(head);
            self.handle_line(&line);
            line.clear();
            self.line = line;
        }
        self.line.clear();
        rest
    }

    /// Buffers the start of a line split over segments, or gives up on it
    /// when it grows past [`MAX_LINE`].
    fn keep_partial(&mut self, data: &[u8]) {
        if self.skipping_line {
            return;
        }
        if self.line.len() + data.len() > MAX_LINE {
            self.line = Vec::new();
            self.skipping_line = true;
        } else {
            self.line.extend_from_slice(data);
        }
    }

    fn handle_line(&mut self, line: &[u8]) {
        if line.iter().all(u8::is_ascii_whitespace) {
            // Blank lines (a person typing at a terminal) say nothing.
            return;
        }
        if self.role == Role::Unknown {
            self.role = if parser::parse_reply(line).is_some() {
                Role::Server
            } else {
                Role::Client
            };
        }
        let understood = match self.role {
            Role::Server => self.handle_reply(line),
            _ => self.handle_command(line),
        };
        if understood {
            self.junk_lines = 0;
            self.seen_line = true;
        } else {
            self.junk_lines += 1;
            if self.junk_lines >= MAX_JUNK_LINES {
                self.mode = Mode::Done;
            }
        }
    }

    /// Counts a reply when its last line arrives; returns whether the line
    /// was a reply line at all.
    fn handle_reply(&mut self, line: &[u8]) -> bool {
        let Some(reply) = parser::parse_reply(line) else {
            return false;
        };
        if !reply.last {
            return true;
        }
        let fields = &mut self.fields;
        fields.status_flags |= parser::status_flag(reply.code);
        match reply.code / 100 {
            2 => fields.status_2xx += 1,
            3 => fields.status_3xx += 1,
            4 => fields.status_4xx += 1,
            5 => fields.status_5xx += 1,
            _ => {}
        }
        if reply.code == 220 {
            // 220 is the greeting, or, after it, "ready to start TLS".
            if self.greeted {
                self.mode = Mode::Done;
            }
            self.greeted = true;
        }
        true
    }

    /// Records a client command; returns whether the line looked like one.
    fn handle_command(&mut self, line: &[u8]) -> bool {
        let parsed = parser::parse_command(line);
        if parsed.command == Command::Other && self.in_auth {
            // A SASL response (credentials): neither stored nor flagged.
            return true;
        }
        self.in_auth = parsed.command == Command::Auth;
        if parsed.command == Command::Other && !parsed.wordlike {
            return false;
        }
        self.fields.commands |= parser::command_flag(parsed.command);
        self.apply_command(parsed);
        true
    }

    fn apply_command(&mut self, parsed: CommandLine<'_>) {
        let fields = &mut self.fields;
        match parsed.command {
            Command::Ehlo | Command::Helo if fields.domain.is_none() => {
                let domain = parser::first_word(parsed.argument);
                if !domain.is_empty() {
                    fields.domain = Some(field_string(domain));
                }
            }
            Command::Mail => {
                fields.mail_count += 1;
                if fields.sender.is_none() {
                    fields.sender = Some(field_string(parser::mail_path(parsed.argument)));
                }
            }
            Command::Rcpt => {
                fields.rcpt_count += 1;
                if fields.recipient.is_none() {
                    fields.recipient = Some(field_string(parser::mail_path(parsed.argument)));
                }
            }
            Command::Data => self.mode = Mode::Body(Body::LineStart),
            Command::Bdat => {
                if let Some(size) = parser::bdat_size(parsed.argument) {
                    self.mode = Mode::Chunk(size);
                }
            }
            Command::StartTls => self.mode = Mode::Done,
            _ => {}
        }
    }

    /// Skips DATA body bytes up to the end-of-data line; returns what follows.
    fn skip_body<'a>(&mut self, mut body: Body, data: &'a [u8]) -> &'a [u8] {
        let mut at = 0;
        while let Some(&byte) = data.get(at) {
            if body == Body::Mid {
                // The fast path: jump to the next line start.
                match data.get(at..).and_then(parser::find_newline) {
                    Some(newline) => {
                        at += newline + 1;
                        body = Body::LineStart;
                        continue;
                    }
                    None => break,
                }
            }
            at += 1;
            body = match (body, byte) {
                (Body::LineStart, b'.') => Body::Dot,
                (Body::LineStart, b'\n') => Body::LineStart,
                (Body::Dot, b'\r') => Body::DotCr,
                (Body::Dot | Body::DotCr, b'\n') => {
                    self.mode = Mode::Lines;
                    return data.get(at..).unwrap_or_default();
                }
                _ => Body::Mid,
            };
        }
        self.mode = Mode::Body(body);
        &[]
    }

    fn skip_chunk<'a>(&mut self, left: u64, data: &'a [u8]) -> &'a [u8] {
        let len = data.len() as u64;
        if len < left {
            self.mode = Mode::Chunk(left - len);
            return &[];
        }
        self.mode = Mode::Lines;
        // `left <= len`, which is a usize, so the cast is lossless.
        data.get(left as usize..).unwrap_or_default()
    }
}

#[cfg(test)]
impl SmtpState {
    /// Bytes held between packets (for the bounded-buffer tests).
    pub(super) fn buffered(&self) -> usize {
        self.line.len()
    }
}
