//! Initial packet protection (RFC 9001 section 5, RFC 9369 section 3.3):
//! keys derived from the client's Destination Connection ID, header
//! protection removal with AES-128-ECB, payload decryption with
//! AES-128-GCM. Anyone on the path can do this by design; it only reveals
//! the handshake's first flight.

use aes::cipher::{BlockEncrypt, KeyInit};
use aes_gcm::{AeadInPlace, Aes128Gcm};
use hkdf::Hkdf;
use sha2::Sha256;

use super::parser::{VersionParams, SAMPLE_LEN, SAMPLE_OFFSET, TAG_LEN};

/// Which endpoint's Initial secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Client,
    /// The server's keys open the server's Initial, but only with the
    /// client's connection ID from the other direction: tests use them.
    #[cfg_attr(not(test), allow(dead_code))]
    Server,
}

/// The packet protection keys of one side's Initial packets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InitialKeys {
    pub key: [u8; 16],
    pub iv: [u8; 12],
    pub hp: [u8; 16],
}

/// Longest HKDF label this module builds ("tls13 " + "quicv2 key").
const MAX_LABEL_LEN: usize = 32;

/// HKDF-Expand-Label of TLS 1.3 (RFC 8446 section 7.1) with an empty
/// context; `label` without the "tls13 " prefix (split in two parts to
/// avoid building strings).
fn expand_label(secret: &Hkdf<Sha256>, prefix: &str, label: &str, out: &mut [u8]) -> Option<()> {
    let full_len = "tls13 ".len() + prefix.len() + label.len();
    if full_len > MAX_LABEL_LEN {
        return None;
    }
    let mut info = [0u8; 4 + MAX_LABEL_LEN];
    let out_len = u16::try_from(out.len()).ok()?.to_be_bytes();
    info[..2].copy_from_slice(&out_len);
    info[2] = u8::try_from(full_len).ok()?;
    let mut at = 3;
    for part in ["tls13 ", prefix, label] {
        info[at..at + part.len()].copy_from_slice(part.as_bytes());
        at += part.len();
    }
    info[at] = 0; // empty context
    secret.expand(&info[..=at], out).ok()
}

/// The Initial keys of `side` for a connection whose client chose
/// `client_dcid` as its first Destination Connection ID.
pub fn initial_keys(params: &VersionParams, client_dcid: &[u8], side: Side) -> Option<InitialKeys> {
    let (_, initial_secret) = Hkdf::<Sha256>::extract(Some(params.salt), client_dcid);
    let side_label = match side {
        Side::Client => "client in",
        Side::Server => "server in",
    };
    let mut side_secret = [0u8; 32];
    expand_label(&initial_secret, "", side_label, &mut side_secret)?;
    let side_secret = Hkdf::<Sha256>::from_prk(&side_secret).ok()?;
    let mut keys = InitialKeys {
        key: [0; 16],
        iv: [0; 12],
        hp: [0; 16],
    };
    expand_label(&side_secret, params.label_prefix, "key", &mut keys.key)?;
    expand_label(&side_secret, params.label_prefix, "iv", &mut keys.iv)?;
    expand_label(&side_secret, params.label_prefix, "hp", &mut keys.hp)?;
    Some(keys)
}

/// Removes header protection from `packet` (one long header packet whose
/// packet number starts at `pn_offset`) and decrypts its payload in place;
/// returns the plaintext frames, or `None` when the packet is too short or
/// does not authenticate (wrong keys, damaged bytes).
pub fn open_initial<'p>(
    packet: &'p mut [u8],
    pn_offset: usize,
    keys: &InitialKeys,
) -> Option<&'p [u8]> {
    let sample_start = pn_offset.checked_add(SAMPLE_OFFSET)?;
    let sample: [u8; SAMPLE_LEN] = packet
        .get(sample_start..sample_start.checked_add(SAMPLE_LEN)?)?
        .try_into()
        .ok()?;
    let mut mask = aes::Block::from(sample);
    aes::Aes128::new(&keys.hp.into()).encrypt_block(&mut mask);

    let first = packet.first_mut()?;
    *first ^= mask[0] & 0x0f; // long header: four protected bits
    let pn_len = usize::from(*first & 0x03) + 1;
    let pn_bytes = packet.get_mut(pn_offset..pn_offset + pn_len)?;
    let mut packet_number = 0u64;
    for (byte, mask_byte) in pn_bytes.iter_mut().zip(mask.iter().skip(1)) {
        *byte ^= mask_byte;
        packet_number = packet_number << 8 | u64::from(*byte);
    }

    let header_len = pn_offset + pn_len;
    if packet.len() < header_len + TAG_LEN {
        return None;
    }
    let (header, rest) = packet.split_at_mut(header_len);
    let (payload, tag) = rest.split_at_mut(rest.len() - TAG_LEN);
    // The nonce is the IV with the packet number XORed into its low bytes.
    // Initial packet numbers start at 0 and stay small, so the truncated
    // number is the full one.
    let mut nonce = keys.iv;
    for (n, pn) in nonce[4..].iter_mut().zip(packet_number.to_be_bytes()) {
        *n ^= pn;
    }
    let cipher = Aes128Gcm::new(&keys.key.into());
    let tag = aes_gcm::Tag::from_slice(tag);
    cipher
        .decrypt_in_place_detached(&nonce.into(), header, payload, tag)
        .ok()?;
    Some(payload)
}

/// Applies Initial packet protection in place to `packet`, a long header
/// packet with its packet number (`pn_len` bytes) at `pn_offset` and room
/// for the AEAD tag at its end: the inverse of [`open_initial`], for tests
/// and fuzzing that build packets. `None` when the packet is too short.
pub fn seal_initial(
    packet: &mut [u8],
    pn_offset: usize,
    pn_len: usize,
    keys: &InitialKeys,
) -> Option<()> {
    let header_len = pn_offset.checked_add(pn_len)?;
    let body_len = packet.len().checked_sub(header_len)?.checked_sub(TAG_LEN)?;
    let mut packet_number = 0u64;
    for byte in packet.get(pn_offset..header_len)? {
        packet_number = packet_number << 8 | u64::from(*byte);
    }
    let mut nonce = keys.iv;
    for (n, pn) in nonce[4..].iter_mut().zip(packet_number.to_be_bytes()) {
        *n ^= pn;
    }
    let (header, rest) = packet.split_at_mut(header_len);
    let (payload, tag_out) = rest.split_at_mut(body_len);
    let tag = Aes128Gcm::new(&keys.key.into())
        .encrypt_in_place_detached(&nonce.into(), header, payload)
        .ok()?;
    tag_out.copy_from_slice(&tag);

    let sample_start = pn_offset + SAMPLE_OFFSET;
    let sample: [u8; SAMPLE_LEN] = packet
        .get(sample_start..sample_start + SAMPLE_LEN)?
        .try_into()
        .ok()?;
    let mut mask = aes::Block::from(sample);
    aes::Aes128::new(&keys.hp.into()).encrypt_block(&mut mask);
    *packet.first_mut()? ^= mask[0] & 0x0f;
    for (byte, mask_byte) in packet
        .get_mut(pn_offset..header_len)?
        .iter_mut()
        .zip(&mask[1..])
    {
        *byte ^= mask_byte;
    }
    Some(())
}

/// Smallest datagram carrying a client Initial (RFC 9000 section 14.1).
const MIN_CLIENT_DATAGRAM: usize = 1200;

/// A protected client Initial of `version` to `dcid` (no source connection
/// ID, no token, 4-byte packet number) carrying `frames`, padded with
/// PADDING frames to 1200 bytes as clients must, protected with the keys of
/// `original_dcid` (the client's first connection ID). `None` for versions
/// this module has no keys for.
pub fn build_client_initial(
    params: &VersionParams,
    original_dcid: &[u8],
    dcid: &[u8],
    packet_number: u32,
    frames: &[u8],
) -> Option<Vec<u8>> {
    let mut packet = vec![0xc3 | params.initial_type << 4];
    packet.extend(params.version.to_be_bytes());
    packet.push(u8::try_from(dcid.len()).ok()?);
    packet.extend(dcid);
    packet.extend([0x00, 0x00]); // source connection ID, token
    let length_len = 4; // a 4-byte varint: any Length below 2^30
    let header_len = packet.len() + length_len + 4;
    let mut payload = frames.to_vec();
    let min_payload = MIN_CLIENT_DATAGRAM.saturating_sub(header_len + TAG_LEN);
    if payload.len() < min_payload {
        payload.resize(min_payload, 0);
    }
    let length = u32::try_from(4 + payload.len() + TAG_LEN).ok()?;
    if length >= 1 << 30 {
        return None;
    }
    packet.extend((length | 0x8000_0000).to_be_bytes());
    let pn_offset = packet.len();
    packet.extend(packet_number.to_be_bytes());
    packet.extend(payload);
    packet.extend([0u8; TAG_LEN]);
    let keys = initial_keys(params, original_dcid, Side::Client)?;
    seal_initial(&mut packet, pn_offset, 4, &keys)?;
    Some(packet)
}
