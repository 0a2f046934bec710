//! Skipping message bodies without looking at them: a byte count for
//! Content-Length, a small state machine for chunked transfer coding
//! (RFC 9112 section 7.1). Chunk data is skipped in O(1); only the short
//! chunk-size and trailer lines are read byte by byte. Body bytes that need
//! no look and have not arrived yet are handed to the flow cache to drop
//! ([`Body::skip_unseen`], [`crate::Feed::Skip`]).

use super::parser::MAX_CHUNK_SIZE_DIGITS;

/// Longest chunk-size line (size and extensions) or trailer line accepted;
/// anything longer means the stream is not what the head announced.
pub const MAX_CHUNK_LINE: usize = 4096;

/// Where a body skip stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Body {
    /// Bytes of a Content-Length body still to come.
    Length(u64),
    Chunked(Chunk),
}

/// Position inside a chunked body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chunk {
    /// Reading a chunk-size line: the size so far, its digit count, whether
    /// extensions started, and the line length.
    Size {
        size: u64,
        digits: usize,
        in_extension: bool,
        line_len: usize,
    },
    /// Chunk data bytes still to come.
    Data(u64),
    /// The CR LF after chunk data; `seen_cr` once its CR arrived.
    DataEnd { seen_cr: bool },
    /// Trailer lines after the last chunk; `line_len` of the current one.
    Trailer { line_len: usize },
}

/// What skipping did with the bytes it was given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skip {
    /// All bytes were body; more body follows.
    Consumed,
    /// The body ended after this many bytes.
    Ended(usize),
    /// The bytes do not follow the framing: the stream is out of sync.
    Broken,
}

impl Body {
    pub fn chunked() -> Body {
        Body::Chunked(Chunk::size_line())
    }

    /// Takes the body bytes that come next and need no look (the rest of a
    /// Content-Length body, the rest of the current chunk's data), at most
    /// `u32::MAX` of them, as skipped unseen: the flow cache will not feed
    /// them. Returns how many (0 when the next bytes must be read) and
    /// whether the body ends with them.
    pub fn skip_unseen(&mut self) -> (u32, bool) {
        match self {
            Body::Length(remaining) => {
                let n = (*remaining).min(u64::from(u32::MAX));
                *remaining -= n;
                (n as u32, *remaining == 0)
            }
            Body::Chunked(chunk) => {
                let Chunk::Data(remaining) = *chunk else {
                    return (0, false);
                };
                let n = remaining.min(u64::from(u32::MAX));
                *chunk = if n == remaining {
                    Chunk::DataEnd { seen_cr: false }
                } else {
                    Chunk::Data(remaining - n)
                };
                (n as u32, false)
            }
        }
    }

    /// Skips the body bytes at the front of `bytes`.
    pub fn skip(&mut self, bytes: &[u8]) -> Skip {
        match self {
            Body::Length(remaining) => skip_length(remaining, bytes),
            Body::Chunked(chunk) => skip_chunked(chunk, bytes),
        }
    }
}

fn skip_length(remaining: &mut u64, bytes: &[u8]) -> Skip {
    let available = bytes.len() as u64;
    if available < *remaining {
        *remaining -= available;
        return Skip::Consumed;
    }
    // `remaining` fits in usize here: it is at most `bytes.len()`.
    let end = *remaining as usize;
    *remaining = 0;
    Skip::Ended(end)
}

fn skip_chunked(chunk: &mut Chunk, bytes: &[u8]) -> Skip {
    let mut pos = 0;
    while pos < bytes.len() {
        match step(chunk, &bytes[pos..]) {
            Step::Advanced(n) => pos += n,
            Step::Finished(n) => return Skip::Ended(pos + n),
            Step::Broken => return Skip::Broken,
        }
    }
    Skip::Consumed
}

enum Step {
    Advanced(usize),
    Finished(usize),
    Broken,
}

/// One move of the chunked state machine over the non-empty `bytes`.
fn step(chunk: &mut Chunk, bytes: &[u8]) -> Step {
    match *chunk {
        Chunk::Data(remaining) => {
            let take = remaining.min(bytes.len() as u64);
            *chunk = if take == remaining {
                Chunk::DataEnd { seen_cr: false }
            } else {
                Chunk::Data(remaining - take)
            };
            Step::Advanced(take as usize)
        }
        _ => match bytes.first() {
            Some(&b) => step_byte(chunk, b),
            None => Step::Broken,
        },
    }
}

fn step_byte(chunk: &mut Chunk, b: u8) -> Step {
    match *chunk {
        Chunk::Size {
            size,
            digits,
            in_extension,
            line_len,
        } => {
            if line_len >= MAX_CHUNK_LINE {
                return Step::Broken;
            }
            size_byte(chunk, b, size, digits, in_extension, line_len)
        }
        Chunk::DataEnd { seen_cr } => match b {
            b'\r' if !seen_cr => {
                *chunk = Chunk::DataEnd { seen_cr: true };
                Step::Advanced(1)
            }
            b'\n' => {
                *chunk = Chunk::size_line();
                Step::Advanced(1)
            }
            _ => Step::Broken,
        },
        Chunk::Trailer { line_len } => match b {
            b'\n' if line_len == 0 => Step::Finished(1),
            b'\n' => {
                *chunk = Chunk::Trailer { line_len: 0 };
                Step::Advanced(1)
            }
            b'\r' => Step::Advanced(1),
            _ if line_len >= MAX_CHUNK_LINE => Step::Broken,
            _ => {
                *chunk = Chunk::Trailer {
                    line_len: line_len + 1,
                };
                Step::Advanced(1)
            }
        },
        Chunk::Data(_) => Step::Broken,
    }
}

fn size_byte(
    chunk: &mut Chunk,
    b: u8,
    size: u64,
    digits: usize,
    in_extension: bool,
    line_len: usize,
) -> Step {
    let line_len = line_len + 1;
    if b == b'\n' {
        *chunk = match (digits, size) {
            (0, _) => return Step::Broken,
            (_, 0) => Chunk::Trailer { line_len: 0 },
            (_, n) => Chunk::Data(n),
        };
        return Step::Advanced(1);
    }
    let hex = (b as char).to_digit(16);
    *chunk = match hex {
        Some(d) if !in_extension => {
            if digits >= MAX_CHUNK_SIZE_DIGITS {
                return Step::Broken;
            }
            Chunk::Size {
                size: size << 4 | u64::from(d),
                digits: digits + 1,
                in_extension,
                line_len,
            }
        }
        // Extensions (`;name=value`), whitespace and the CR: skipped.
        _ if digits > 0 => Chunk::Size {
            size,
            digits,
            in_extension: true,
            line_len,
        },
        _ => return Step::Broken,
    };
    Step::Advanced(1)
}

impl Chunk {
    fn size_line() -> Chunk {
        Chunk::Size {
            size: 0,
            digits: 0,
            in_extension: false,
            line_len: 0,
        }
    }
}
