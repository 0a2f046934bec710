//! A bounds-checked cursor over wire bytes, shared by the binary parsers
//! (TLS, QUIC): every read returns `None` instead of reading past the end.

/// A bounds-checked cursor over wire bytes.
#[derive(Clone, Copy, Debug)]
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader { rest: bytes }
    }

    pub fn rest(&self) -> &'a [u8] {
        self.rest
    }

    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.rest.len() {
            return None;
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Some(head)
    }

    pub fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    pub fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }

    pub fn u24(&mut self) -> Option<u32> {
        self.take(3)
            .map(|b| u32::from_be_bytes([0, b[0], b[1], b[2]]))
    }

    pub fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A variable-length integer (RFC 9000 section 16): the two high bits
    /// of the first byte give its length, 1, 2, 4 or 8 bytes.
    pub fn varint(&mut self) -> Option<u64> {
        let first = *self.rest.first()?;
        let len = 1usize << (first >> 6);
        let bytes = self.take(len)?;
        let mut value = u64::from(first & 0x3f);
        for byte in bytes.iter().skip(1) {
            value = value << 8 | u64::from(*byte);
        }
        Some(value)
    }

    /// A vector with a one-byte length prefix.
    pub fn vec8(&mut self) -> Option<&'a [u8]> {
        let n = self.u8()?;
        self.take(usize::from(n))
    }

    /// A vector with a two-byte length prefix.
    pub fn vec16(&mut self) -> Option<&'a [u8]> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }

    /// A vector with a varint length prefix.
    pub fn vec_varint(&mut self) -> Option<&'a [u8]> {
        let n = usize::try_from(self.varint()?).ok()?;
        self.take(n)
    }
}
