//! Stateless parsing of QUIC long headers (RFC 9000 section 17.2, RFC 9369
//! section 3.2), of the frames an Initial packet may carry (RFC 9000
//! section 17.2.2: PADDING, PING, ACK, CRYPTO, CONNECTION_CLOSE) and of the
//! server_name and ALPN extensions of a ClientHello, over borrowed bytes.
//!
//! Every length read from the wire is checked against the bytes at hand
//! before use: the [`Reader`] returns `None` instead of panicking.

pub use crate::reader::Reader;

/// QUIC version 1 (RFC 9000).
pub const VERSION_1: u32 = 0x0000_0001;
/// QUIC version 2 (RFC 9369).
pub const VERSION_2: u32 = 0x6b33_43cf;
/// IETF drafts 29 to 32 share draft 29's Initial salt and labels.
pub const DRAFT_29: u32 = 0xff00_001d;
pub const DRAFT_32: u32 = 0xff00_0020;

/// Longest connection ID RFC 9000 section 17.2 allows in version 1 and 2.
pub const MAX_CID_LEN: usize = 20;
/// Bytes the header protection sample starts after the packet number
/// offset (RFC 9001 section 5.4.2: as if the packet number were 4 bytes).
pub const SAMPLE_OFFSET: usize = 4;
/// Bytes of the header protection sample and of the AEAD tag.
pub const SAMPLE_LEN: usize = 16;
pub const TAG_LEN: usize = 16;

/// Frame types an Initial packet may carry.
const FRAME_PADDING: u64 = 0x00;
const FRAME_PING: u64 = 0x01;
const FRAME_ACK: u64 = 0x02;
const FRAME_ACK_ECN: u64 = 0x03;
const FRAME_CRYPTO: u64 = 0x06;
const FRAME_CLOSE_TRANSPORT: u64 = 0x1c;
const FRAME_CLOSE_APPLICATION: u64 = 0x1d;

/// Handshake type of a ClientHello.
pub const CLIENT_HELLO: u8 = 1;
const EXT_SERVER_NAME: u16 = 0x0000;
const EXT_ALPN: u16 = 0x0010;

/// What one QUIC version needs for its Initial packets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VersionParams {
    pub version: u32,
    /// The initial_salt of RFC 9001 section 5.2 (or its draft/v2 variant).
    pub salt: &'static [u8; 20],
    /// Prefix of the key, iv and hp labels: "quic " or "quicv2 ".
    pub label_prefix: &'static str,
    /// The long packet type bits of an Initial (v1 0b00, v2 0b01).
    pub initial_type: u8,
}

const SALT_V1: [u8; 20] = [
    0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad,
    0xcc, 0xbb, 0x7f, 0x0a,
];
const SALT_V2: [u8; 20] = [
    0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb,
    0xf9, 0xbd, 0x2e, 0xd9,
];
const SALT_DRAFT_29: [u8; 20] = [
    0xaf, 0xbf, 0xec, 0x28, 0x99, 0x93, 0xd2, 0x4c, 0x9e, 0x97, 0x86, 0xf1, 0x9c, 0x61, 0x11, 0xe0,
    0x43, 0x90, 0xa8, 0x99,
];

/// The Initial parameters of a version this parser can decrypt; `None` for
/// other versions (gQUIC, older drafts, version negotiation, greased).
pub fn version_params(version: u32) -> Option<VersionParams> {
    let (salt, label_prefix, initial_type) = match version {
        VERSION_1 => (&SALT_V1, "quic ", 0b00),
        VERSION_2 => (&SALT_V2, "quicv2 ", 0b01),
        DRAFT_29..=DRAFT_32 => (&SALT_DRAFT_29, "quic ", 0b00),
        _ => return None,
    };
    Some(VersionParams {
        version,
        salt,
        label_prefix,
        initial_type,
    })
}

/// A long header packet, its protected parts still protected.
#[derive(Clone, Copy, Debug)]
pub struct LongHeader<'a> {
    pub version: u32,
    /// The Destination Connection ID (the client's first one keys the
    /// Initials).
    pub dcid: &'a [u8],
    /// Whether the packet type bits say Initial for this version (always
    /// false for versions this parser does not know).
    pub is_initial: bool,
    /// Offset of the packet number in the packet (0 for Retry packets and
    /// unknown versions, whose layout is not known).
    pub pn_offset: usize,
    /// Bytes of the whole packet (header and protected payload); for types
    /// without a Length field, the rest of the datagram.
    pub packet_len: usize,
}

impl<'a> LongHeader<'a> {
    /// Parses the long header at the start of `datagram`; `None` for short
    /// headers, a clear fixed bit (RFC 9000 section 17.2; RFC 9287 greasing
    /// is not expected in Initials), connection IDs over 20 bytes, or a
    /// Length past the datagram's end.
    pub fn parse(datagram: &'a [u8]) -> Option<Self> {
        let mut reader = Reader::new(datagram);
        let first = reader.u8()?;
        if first & 0xc0 != 0xc0 {
            return None;
        }
        let version = reader.u32()?;
        let dcid = reader.vec8()?;
        let scid = reader.vec8()?;
        if dcid.len() > MAX_CID_LEN || scid.len() > MAX_CID_LEN {
            return None;
        }
        let params = version_params(version);
        let packet_type = (first >> 4) & 0b11;
        let is_initial = params.is_some_and(|p| p.initial_type == packet_type);
        // Retry packets (type 0b11 in v1, 0b00 in v2) and unknown versions
        // have no Length: they take the rest of the datagram.
        let retry_type = if version == VERSION_2 { 0b00 } else { 0b11 };
        if params.is_none() || packet_type == retry_type {
            return Some(LongHeader {
                version,
                dcid,
                is_initial: false,
                pn_offset: 0,
                packet_len: datagram.len(),
            });
        }
        if is_initial {
            reader.vec_varint()?; // token
        }
        let length = usize::try_from(reader.varint()?).ok()?;
        let pn_offset = datagram.len() - reader.rest().len();
        let packet_len = pn_offset.checked_add(length)?;
        if packet_len > datagram.len() {
            return None;
        }
        Some(LongHeader {
            version,
            dcid,
            is_initial,
            pn_offset,
            packet_len,
        })
    }
}

/// One CRYPTO frame: its offset in the crypto stream and its data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CryptoFrame<'a> {
    pub offset: u64,
    pub data: &'a [u8],
}

/// Walks the frames of a decrypted Initial payload and yields its CRYPTO
/// frames; stops at the first frame type an Initial may not carry (its
/// length is unknown) or at a truncated frame.
#[derive(Clone, Debug)]
pub struct CryptoFrames<'a> {
    reader: Reader<'a>,
}

impl<'a> CryptoFrames<'a> {
    pub fn new(payload: &'a [u8]) -> Self {
        CryptoFrames {
            reader: Reader::new(payload),
        }
    }

    /// Skips one non-CRYPTO frame; `None` when it cannot be skipped.
    fn skip_frame(&mut self, frame_type: u64) -> Option<()> {
        let r = &mut self.reader;
        match frame_type {
            FRAME_PADDING | FRAME_PING => {}
            FRAME_ACK | FRAME_ACK_ECN => {
                r.varint()?; // largest acknowledged
                r.varint()?; // ack delay
                let ranges = r.varint()?;
                r.varint()?; // first range
                for _ in 0..ranges {
                    // Each range is two varints of at least a byte: a count
                    // past the bytes left ends the walk at the first miss.
                    r.varint()?;
                    r.varint()?;
                }
                if frame_type == FRAME_ACK_ECN {
                    r.varint()?;
                    r.varint()?;
                    r.varint()?;
                }
            }
            FRAME_CLOSE_TRANSPORT | FRAME_CLOSE_APPLICATION => {
                r.varint()?; // error code
                if frame_type == FRAME_CLOSE_TRANSPORT {
                    r.varint()?; // frame type
                }
                r.vec_varint()?; // reason phrase
            }
            _ => return None,
        }
        Some(())
    }
}

impl<'a> Iterator for CryptoFrames<'a> {
    type Item = CryptoFrame<'a>;

    fn next(&mut self) -> Option<CryptoFrame<'a>> {
        loop {
            // Padding runs are long (a client Initial fills 1200 bytes):
            // skip them in one go.
            let padding = self.reader.rest().iter().take_while(|b| **b == 0).count();
            self.reader.take(padding)?;
            let frame_type = self.reader.varint()?;
            if frame_type == FRAME_CRYPTO {
                let parsed = self.crypto_frame();
                if parsed.is_none() {
                    self.reader = Reader::new(&[]);
                }
                return parsed;
            }
            if self.skip_frame(frame_type).is_none() {
                self.reader = Reader::new(&[]);
                return None;
            }
        }
    }
}

impl<'a> CryptoFrames<'a> {
    fn crypto_frame(&mut self) -> Option<CryptoFrame<'a>> {
        let offset = self.reader.varint()?;
        let data = self.reader.vec_varint()?;
        Some(CryptoFrame { offset, data })
    }
}

/// What a (possibly partial) ClientHello tells.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HelloView<'a> {
    /// The first host_name entry of the server_name extension.
    pub server_name: Option<&'a [u8]>,
    /// The ALPN extension's protocol name list (one-byte length each).
    pub alpn: Option<&'a [u8]>,
    /// Whether the whole ClientHello was at hand (more bytes cannot add
    /// anything).
    pub complete: bool,
}

/// Parses the ClientHello at the start of the crypto stream `stream`, of
/// which only a prefix may have arrived: extensions wholly inside that
/// prefix are read. `None` when the stream does not start a ClientHello or
/// its fixed part is not complete yet.
pub fn client_hello(stream: &[u8]) -> Option<HelloView<'_>> {
    let mut reader = Reader::new(stream);
    if reader.u8()? != CLIENT_HELLO {
        return None;
    }
    let body_len = usize::try_from(reader.u24()?).ok()?;
    let body = reader.rest();
    let complete = body.len() >= body_len;
    let mut body = Reader::new(body.get(..body_len).unwrap_or(body));
    body.u16()?; // legacy_version
    body.take(32)?; // random
    body.vec8()?; // legacy_session_id
    body.vec16()?; // cipher_suites
    body.vec8()?; // legacy_compression_methods
    let mut view = HelloView {
        complete,
        ..HelloView::default()
    };
    let Some(declared) = body.u16() else {
        return Some(view);
    };
    let all = body.rest();
    let mut extensions = Reader::new(all.get(..usize::from(declared)).unwrap_or(all));
    while let (Some(ext_type), Some(data)) = (extensions.u16(), extensions.vec16()) {
        match ext_type {
            EXT_SERVER_NAME => view.server_name = first_host_name(data),
            EXT_ALPN => view.alpn = Reader::new(data).vec16(),
            _ => {}
        }
    }
    Some(view)
}

/// The first host_name (type 0) entry of a server_name extension.
fn first_host_name(extension: &[u8]) -> Option<&[u8]> {
    let mut list = Reader::new(Reader::new(extension).vec16()?);
    while !list.is_empty() {
        let name_type = list.u8()?;
        let name = list.vec16()?;
        if name_type == 0 {
            return Some(name);
        }
    }
    None
}

/// Walks an ALPN protocol name list.
pub fn protocol_names(list: &[u8]) -> impl Iterator<Item = &[u8]> + '_ {
    let mut reader = Reader::new(list);
    std::iter::from_fn(move || reader.vec8())
}
