//! The read buffer that file sources parse in place, and byte-order helpers.
//!
//! Records are handed out as slices of one large buffer, so a frame costs no
//! allocation and no copy beyond the `read` into the buffer. The buffer starts
//! at [`BUF_SIZE`]; a record that does not fit grows it (to the next power of
//! two) up to the cap the caller names for that record kind, so a hostile
//! length can never make us allocate more than that cap.

use std::io::{ErrorKind, Read};

use crate::CaptureError;

/// Initial size of the read buffer. Large reads amortise the system call and
/// keep most records inside the buffer; records straddling its end are moved
/// to the front (the copy is at most one record). A quarter of a core's L2
/// cache (1 MiB on the EPYC the benchmarks run on): the kernel's copy into
/// the buffer and the decoder's reads of it then stay in L2. With 2 MiB
/// every read evicted the flow cache's and parsers' lines and the frames
/// came back from memory (`perf`: the reader's own samples 208-440 ->
/// 68-115 a run, the kernel's copy fewer with L7 on; BENCHMARKS.md).
pub(crate) const BUF_SIZE: usize = 256 << 10;

/// A reader plus the window of bytes read but not yet consumed.
pub(crate) struct Input {
    reader: Box<dyn Read + Send>,
    /// What errors call the input: a path, or `<stdin>`.
    pub name: String,
    buf: Vec<u8>,
    /// First unconsumed byte in `buf`.
    start: usize,
    /// End of valid data in `buf`.
    end: usize,
    /// Offset in the input of `buf[start]`, for error messages.
    pub pos: u64,
    eof: bool,
}

impl Input {
    pub fn new(reader: Box<dyn Read + Send>, name: &str) -> Input {
        Input {
            reader,
            name: name.to_string(),
            buf: vec![0; BUF_SIZE],
            start: 0,
            end: 0,
            pos: 0,
            eof: false,
        }
    }

    /// Bytes read but not yet consumed.
    #[inline]
    pub fn avail(&self) -> usize {
        self.end - self.start
    }

    /// The unconsumed bytes.
    #[inline]
    pub fn window(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Marks `n` bytes (at most `avail()`) as consumed.
    #[inline]
    pub fn consume(&mut self, n: usize) {
        let n = n.min(self.avail());
        self.start += n;
        self.pos += n as u64;
    }

    /// Makes at least `need` bytes available unless the input ends first;
    /// returns whether they are. The caller has checked `need` against its
    /// named cap: the buffer grows to hold `need` bytes, no further.
    pub fn fill(&mut self, need: usize) -> Result<bool, CaptureError> {
        if self.avail() >= need {
            return Ok(true);
        }
        if need > self.buf.len() {
            let new_len = need.checked_next_power_of_two().unwrap_or(need);
            self.buf.resize(new_len, 0);
        }
        if self.start + need > self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        while self.avail() < need && !self.eof {
            match self.reader.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.end += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(CaptureError::Io {
                        path: self.name.clone(),
                        source,
                    })
                }
            }
        }
        Ok(self.avail() >= need)
    }

    /// A format error at `offset` bytes past the current position.
    pub fn error_at(&self, offset: usize, message: String) -> CaptureError {
        CaptureError::Format {
            path: self.name.clone(),
            offset: self.pos + offset as u64,
            message,
        }
    }
}

/// Byte order of a file or pcapng section. The parsers are generic over it so
/// that the per-packet loop has no byte-order branch.
pub(crate) trait Order {
    const BIG: bool;
    fn u16(b: [u8; 2]) -> u16;
    fn u32(b: [u8; 4]) -> u32;
    fn u64(b: [u8; 8]) -> u64;
}

pub(crate) struct Le;
pub(crate) struct Be;

impl Order for Le {
    const BIG: bool = false;
    #[inline(always)]
    fn u16(b: [u8; 2]) -> u16 {
        u16::from_le_bytes(b)
    }
    #[inline(always)]
    fn u32(b: [u8; 4]) -> u32 {
        u32::from_le_bytes(b)
    }
    #[inline(always)]
    fn u64(b: [u8; 8]) -> u64 {
        u64::from_le_bytes(b)
    }
}

impl Order for Be {
    const BIG: bool = true;
    #[inline(always)]
    fn u16(b: [u8; 2]) -> u16 {
        u16::from_be_bytes(b)
    }
    #[inline(always)]
    fn u32(b: [u8; 4]) -> u32 {
        u32::from_be_bytes(b)
    }
    #[inline(always)]
    fn u64(b: [u8; 8]) -> u64 {
        u64::from_be_bytes(b)
    }
}

/// Reads a u32 at `at`; 0 when the slice is too short (callers check lengths
/// first, this only keeps the accessor panic-free).
#[inline(always)]
pub(crate) fn u32_at<O: Order>(b: &[u8], at: usize) -> u32 {
    match b.get(at..at + 4) {
        Some(&[a, b, c, d]) => O::u32([a, b, c, d]),
        _ => 0,
    }
}

/// Reads a u16 at `at`; 0 when the slice is too short.
#[inline(always)]
pub(crate) fn u16_at<O: Order>(b: &[u8], at: usize) -> u16 {
    match b.get(at..at + 2) {
        Some(&[a, b]) => O::u16([a, b]),
        _ => 0,
    }
}
