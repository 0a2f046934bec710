//! Stateless parsing of TLS record headers, ClientHello and ServerHello
//! bodies, and SSLv2 hellos, over borrowed bytes.
//!
//! Every length read from the wire is checked against the bytes at hand
//! before use (the [`Reader`] returns `None` instead of panicking), and
//! lists are handed out as borrowed slices walked by iterators.

/// Record content type of handshake messages.
pub const CONTENT_HANDSHAKE: u8 = 22;
/// Record content type of alerts.
pub const CONTENT_ALERT: u8 = 21;
/// Handshake type of a ClientHello (also the SSLv2 CLIENT-HELLO code).
pub const CLIENT_HELLO: u8 = 1;
/// Handshake type of a ServerHello.
pub const SERVER_HELLO: u8 = 2;
/// SSLv2 SERVER-HELLO message code.
pub const SSL2_SERVER_HELLO: u8 = 4;
/// SSLv2's version number (FlowTest and JA3 report it as 2).
pub const SSL2_VERSION: u16 = 0x0002;

/// Bytes of a TLS record header: type, version, length.
pub const RECORD_HEADER_LEN: usize = 5;
/// Bytes of a handshake message header: type, 24-bit length.
pub const HANDSHAKE_HEADER_LEN: usize = 4;
/// Bytes of an SSLv2 two-byte record header.
pub const SSL2_HEADER_LEN: usize = 2;
/// Largest record body RFC 8446 allows (2^14 plus expansion); longer
/// lengths mean the bytes are not TLS.
pub const MAX_RECORD_LEN: usize = (1 << 14) + 2048;

pub const EXT_SERVER_NAME: u16 = 0x0000;
pub const EXT_SUPPORTED_GROUPS: u16 = 0x000a;
pub const EXT_EC_POINT_FORMATS: u16 = 0x000b;
pub const EXT_SIGNATURE_ALGORITHMS: u16 = 0x000d;
pub const EXT_ALPN: u16 = 0x0010;
pub const EXT_SUPPORTED_VERSIONS: u16 = 0x002b;

/// Whether a 16-bit value is a GREASE value (RFC 8701: 0x0a0a, 0x1a1a, ...
/// 0xfafa), which fingerprints and version choices ignore.
pub fn is_grease(value: u16) -> bool {
    value & 0x0f0f == 0x0a0a && value >> 8 == value & 0xff
}

pub use crate::reader::Reader;

/// Big-endian 16-bit values of a list (a trailing odd byte is ignored).
pub fn u16_list(bytes: &[u8]) -> impl Iterator<Item = u16> + '_ {
    bytes
        .chunks_exact(2)
        .map(|pair| u16::from_be_bytes([pair[0], pair[1]]))
}

/// A TLS record header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordHeader {
    pub content_type: u8,
    pub version: u16,
    pub len: usize,
}

impl RecordHeader {
    /// Parses the first five bytes; `None` when they are not a plausible
    /// TLS record (SSL 3.0 to TLS 1.3 record versions, sane length).
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        let mut reader = Reader::new(bytes);
        let content_type = reader.u8()?;
        let version = reader.u16()?;
        let len = usize::from(reader.u16()?);
        let plausible = (20..=24).contains(&content_type)
            && (0x0300..=0x0304).contains(&version)
            && len <= MAX_RECORD_LEN;
        plausible.then_some(RecordHeader {
            content_type,
            version,
            len,
        })
    }
}

/// The type and body length of a handshake message header.
pub fn handshake_header(bytes: &[u8]) -> Option<(u8, usize)> {
    let mut reader = Reader::new(bytes);
    let msg_type = reader.u8()?;
    let len = reader.u24()?;
    Some((msg_type, usize::try_from(len).ok()?))
}

/// One extension: type and data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Extension<'a> {
    pub ext_type: u16,
    pub data: &'a [u8],
}

/// Walks an extensions block; stops at the first truncated extension.
#[derive(Clone, Debug)]
pub struct Extensions<'a> {
    reader: Reader<'a>,
}

impl<'a> Iterator for Extensions<'a> {
    type Item = Extension<'a>;

    fn next(&mut self) -> Option<Extension<'a>> {
        let ext_type = self.reader.u16()?;
        let data = self.reader.vec16();
        if data.is_none() {
            // Truncated: stop here rather than yield garbage.
            self.reader = Reader::new(&[]);
        }
        Some(Extension {
            ext_type,
            data: data?,
        })
    }
}

/// A ClientHello body (after the handshake header).
#[derive(Clone, Copy, Debug)]
pub struct ClientHello<'a> {
    pub legacy_version: u16,
    /// Two bytes per suite.
    pub cipher_suites: &'a [u8],
    /// The extensions block without its length (empty when absent).
    pub extensions: &'a [u8],
}

impl<'a> ClientHello<'a> {
    pub fn parse(body: &'a [u8]) -> Option<Self> {
        let mut reader = Reader::new(body);
        let legacy_version = reader.u16()?;
        reader.take(32)?; // random
        reader.vec8()?; // session id
        let cipher_suites = reader.vec16()?;
        reader.vec8()?; // compression methods
                        // Hellos before TLS 1.0 may end here: no extensions.
        let extensions = if reader.is_empty() {
            &[][..]
        } else {
            reader.vec16()?
        };
        Some(ClientHello {
            legacy_version,
            cipher_suites,
            extensions,
        })
    }

    pub fn ciphers(&self) -> impl Iterator<Item = u16> + 'a {
        u16_list(self.cipher_suites)
    }

    pub fn extensions(&self) -> Extensions<'a> {
        Extensions {
            reader: Reader::new(self.extensions),
        }
    }

    /// One walk over the extensions instead of one per question: the data
    /// of the first extension of each type the fields and fingerprints
    /// read and every non-GREASE extension type in order.
    pub fn scan(&self) -> ClientExtensions<'a> {
        let mut out = ClientExtensions {
            legacy_version: self.legacy_version,
            server_name: None,
            alpn: None,
            supported_versions: None,
            signature_algorithms: None,
            supported_groups: None,
            ec_point_formats: None,
            types: U16List::new(),
        };
        for ext in self.extensions() {
            let slot = match ext.ext_type {
                EXT_SERVER_NAME => &mut out.server_name,
                EXT_ALPN => &mut out.alpn,
                EXT_SUPPORTED_VERSIONS => &mut out.supported_versions,
                EXT_SIGNATURE_ALGORITHMS => &mut out.signature_algorithms,
                EXT_SUPPORTED_GROUPS => &mut out.supported_groups,
                EXT_EC_POINT_FORMATS => &mut out.ec_point_formats,
                other => {
                    if !is_grease(other) {
                        out.types.push(other);
                    }
                    continue;
                }
            };
            if slot.is_none() {
                *slot = Some(ext.data);
            }
            out.types.push(ext.ext_type);
        }
        out
    }
}

/// One extension walk per question: the reference [`ClientHello::scan`]
/// is tested against.
#[cfg(test)]
impl<'a> ClientHello<'a> {
    pub fn extension(&self, ext_type: u16) -> Option<&'a [u8]> {
        self.extensions()
            .find(|e| e.ext_type == ext_type)
            .map(|e| e.data)
    }

    /// The first host_name entry of the server_name extension.
    pub fn server_name(&self) -> Option<&'a [u8]> {
        server_name_in(self.extension(EXT_SERVER_NAME))
    }

    /// The offered ALPN protocol names, in order.
    pub fn alpn(&self) -> Option<ProtocolNames<'a>> {
        alpn_in(self.extension(EXT_ALPN))
    }

    /// The supported_versions list, GREASE included.
    pub fn supported_versions(&self) -> Option<impl Iterator<Item = u16> + 'a> {
        supported_versions_in(self.extension(EXT_SUPPORTED_VERSIONS))
    }

    /// The signature_algorithms list, in order.
    pub fn signature_algorithms(&self) -> impl Iterator<Item = u16> + 'a {
        list16_in(self.extension(EXT_SIGNATURE_ALGORITHMS))
    }

    /// The supported_groups (elliptic curves) list, in order.
    pub fn supported_groups(&self) -> impl Iterator<Item = u16> + 'a {
        list16_in(self.extension(EXT_SUPPORTED_GROUPS))
    }

    /// The ec_point_formats list, in order.
    pub fn ec_point_formats(&self) -> &'a [u8] {
        ec_point_formats_in(self.extension(EXT_EC_POINT_FORMATS))
    }

    /// The version the client offers: its first non-GREASE
    /// supported_versions entry (clients list them by preference, highest
    /// first), else the legacy version field.
    pub fn offered_version(&self) -> u16 {
        offered_version_in(self.extension(EXT_SUPPORTED_VERSIONS), self.legacy_version)
    }
}

/// The first host_name entry of a server_name extension's data.
fn server_name_in(data: Option<&[u8]>) -> Option<&[u8]> {
    let mut list = Reader::new(Reader::new(data?).vec16()?);
    while !list.is_empty() {
        let name_type = list.u8()?;
        let name = list.vec16()?;
        if name_type == 0 {
            return Some(name);
        }
    }
    None
}

/// The protocol names of an ALPN extension's data.
fn alpn_in(data: Option<&[u8]>) -> Option<ProtocolNames<'_>> {
    let list = Reader::new(data?).vec16()?;
    Some(ProtocolNames {
        reader: Reader::new(list),
    })
}

/// The versions of a ClientHello's supported_versions extension data.
fn supported_versions_in(data: Option<&[u8]>) -> Option<impl Iterator<Item = u16> + '_> {
    let list = Reader::new(data?).vec8()?;
    Some(u16_list(list))
}

/// The 16-bit entries of an extension holding one vector with a two-byte
/// length (signature_algorithms, supported_groups); none without it.
fn list16_in(data: Option<&[u8]>) -> impl Iterator<Item = u16> + '_ {
    let list = data.and_then(|d| Reader::new(d).vec16());
    u16_list(list.unwrap_or(&[]))
}

/// The formats of an ec_point_formats extension's data.
fn ec_point_formats_in(data: Option<&[u8]>) -> &[u8] {
    data.and_then(|d| Reader::new(d).vec8()).unwrap_or(&[])
}

/// The first non-GREASE entry of supported_versions data, else `legacy`.
fn offered_version_in(data: Option<&[u8]>, legacy: u16) -> u16 {
    supported_versions_in(data)
        .and_then(|mut versions| versions.find(|v| !is_grease(*v)))
        .unwrap_or(legacy)
}

/// Most entries a [`U16List`] keeps on the stack. Real hellos have a few
/// dozen cipher suites and extensions (and a fingerprint key, all lists
/// of a hello together, about a hundred); longer (hostile) lists spill to
/// the heap, so nothing is ever cut. Every list starts zeroed, and a
/// ClientHello's fingerprints make six: 256 entries cost 3 KB of `memset`
/// a hello.
pub const INLINE_ENTRIES: usize = 128;

/// A list of 16-bit values on the stack, spilling to the heap only past
/// [`INLINE_ENTRIES`].
pub struct U16List {
    len: usize,
    inline: [u16; INLINE_ENTRIES],
    heap: Vec<u16>,
}

impl U16List {
    pub fn new() -> Self {
        U16List {
            len: 0,
            inline: [0; INLINE_ENTRIES],
            heap: Vec::new(),
        }
    }

    #[inline]
    pub fn push(&mut self, value: u16) {
        if let Some(slot) = self.inline.get_mut(self.len) {
            *slot = value;
        } else {
            if self.heap.is_empty() {
                self.heap.reserve(2 * INLINE_ENTRIES);
                self.heap.extend_from_slice(&self.inline);
            }
            self.heap.push(value);
        }
        self.len += 1;
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn as_slice(&self) -> &[u16] {
        if self.len <= INLINE_ENTRIES {
            &self.inline[..self.len]
        } else {
            &self.heap
        }
    }

    pub fn as_mut_slice(&mut self) -> &mut [u16] {
        if self.len <= INLINE_ENTRIES {
            &mut self.inline[..self.len]
        } else {
            &mut self.heap
        }
    }
}

impl Default for U16List {
    fn default() -> Self {
        Self::new()
    }
}

/// What [`ClientHello::scan`] finds: the same answers as the
/// [`ClientHello`] methods of the same names, from one extension walk.
pub struct ClientExtensions<'a> {
    legacy_version: u16,
    server_name: Option<&'a [u8]>,
    alpn: Option<&'a [u8]>,
    supported_versions: Option<&'a [u8]>,
    signature_algorithms: Option<&'a [u8]>,
    supported_groups: Option<&'a [u8]>,
    ec_point_formats: Option<&'a [u8]>,
    /// Every non-GREASE extension type, in wire order.
    pub types: U16List,
}

impl<'a> ClientExtensions<'a> {
    pub fn server_name(&self) -> Option<&'a [u8]> {
        server_name_in(self.server_name)
    }

    pub fn alpn(&self) -> Option<ProtocolNames<'a>> {
        alpn_in(self.alpn)
    }

    pub fn supported_versions(&self) -> Option<impl Iterator<Item = u16> + 'a> {
        supported_versions_in(self.supported_versions)
    }

    pub fn signature_algorithms(&self) -> impl Iterator<Item = u16> + 'a {
        list16_in(self.signature_algorithms)
    }

    pub fn supported_groups(&self) -> impl Iterator<Item = u16> + 'a {
        list16_in(self.supported_groups)
    }

    pub fn ec_point_formats(&self) -> &'a [u8] {
        ec_point_formats_in(self.ec_point_formats)
    }

    pub fn offered_version(&self) -> u16 {
        offered_version_in(self.supported_versions, self.legacy_version)
    }
}

/// Walks an ALPN protocol name list (each name has a one-byte length).
#[derive(Clone, Debug)]
pub struct ProtocolNames<'a> {
    reader: Reader<'a>,
}

impl<'a> Iterator for ProtocolNames<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        self.reader.vec8()
    }
}

/// A ServerHello body (after the handshake header).
#[derive(Clone, Copy, Debug)]
pub struct ServerHello<'a> {
    pub legacy_version: u16,
    pub cipher_suite: u16,
    pub extensions: &'a [u8],
}

impl<'a> ServerHello<'a> {
    pub fn parse(body: &'a [u8]) -> Option<Self> {
        let mut reader = Reader::new(body);
        let legacy_version = reader.u16()?;
        reader.take(32)?; // random
        reader.vec8()?; // session id (legacy_session_id_echo)
        let cipher_suite = reader.u16()?;
        reader.u8()?; // compression method
        let extensions = if reader.is_empty() {
            &[][..]
        } else {
            reader.vec16()?
        };
        Some(ServerHello {
            legacy_version,
            cipher_suite,
            extensions,
        })
    }

    /// The negotiated version (supported_versions' selected version when
    /// present, TLS 1.3, else the legacy version field) and the selected
    /// ALPN protocol (a list of exactly one name), from one walk over the
    /// extensions (the first extension of each type counts).
    pub fn version_and_alpn(&self) -> (u16, Option<&'a [u8]>) {
        let mut versions = None;
        let mut alpn = None;
        let walk = Extensions {
            reader: Reader::new(self.extensions),
        };
        for ext in walk {
            let slot = match ext.ext_type {
                EXT_SUPPORTED_VERSIONS => &mut versions,
                EXT_ALPN => &mut alpn,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(ext.data);
            }
            if versions.is_some() && alpn.is_some() {
                break;
            }
        }
        let version = versions
            .and_then(|data| Reader::new(data).u16())
            .unwrap_or(self.legacy_version);
        let alpn = alpn
            .and_then(|data| Reader::new(data).vec16())
            .and_then(|list| Reader::new(list).vec8());
        (version, alpn)
    }
}

/// The length of an SSLv2 record with a two-byte header (high bit set),
/// or `None` when the first byte does not start one.
pub fn ssl2_record_len(bytes: &[u8]) -> Option<usize> {
    let mut reader = Reader::new(bytes);
    let head = reader.u16()?;
    (head & 0x8000 != 0).then_some(usize::from(head & 0x7fff))
}

/// An SSLv2 CLIENT-HELLO (or SSLv2-compatible TLS ClientHello) message,
/// starting at its message code.
#[derive(Clone, Copy, Debug)]
pub struct Ssl2ClientHello<'a> {
    pub version: u16,
    /// Three bytes per cipher spec.
    pub cipher_specs: &'a [u8],
}

impl<'a> Ssl2ClientHello<'a> {
    pub fn parse(msg: &'a [u8]) -> Option<Self> {
        let mut reader = Reader::new(msg);
        (reader.u8()? == CLIENT_HELLO).then_some(())?;
        let version = reader.u16()?;
        let specs_len = usize::from(reader.u16()?);
        reader.u16()?; // session id length
        reader.u16()?; // challenge length
        let cipher_specs = reader.take(specs_len)?;
        Some(Ssl2ClientHello {
            version,
            cipher_specs,
        })
    }

    pub fn ciphers(&self) -> impl Iterator<Item = u32> + 'a {
        cipher_specs(self.cipher_specs)
    }
}

/// An SSLv2 SERVER-HELLO message, starting at its message code.
#[derive(Clone, Copy, Debug)]
pub struct Ssl2ServerHello<'a> {
    pub version: u16,
    pub cipher_specs: &'a [u8],
}

impl<'a> Ssl2ServerHello<'a> {
    pub fn parse(msg: &'a [u8]) -> Option<Self> {
        let mut reader = Reader::new(msg);
        (reader.u8()? == SSL2_SERVER_HELLO).then_some(())?;
        reader.u8()?; // session id hit
        reader.u8()?; // certificate type
        let version = reader.u16()?;
        let cert_len = usize::from(reader.u16()?);
        let specs_len = usize::from(reader.u16()?);
        reader.u16()?; // connection id length
        reader.take(cert_len)?;
        let cipher_specs = reader.take(specs_len)?;
        Some(Ssl2ServerHello {
            version,
            cipher_specs,
        })
    }
}

/// 24-bit SSLv2 cipher specs of a list.
pub fn cipher_specs(bytes: &[u8]) -> impl Iterator<Item = u32> + '_ {
    bytes
        .chunks_exact(3)
        .map(|spec| u32::from_be_bytes([0, spec[0], spec[1], spec[2]]))
}
