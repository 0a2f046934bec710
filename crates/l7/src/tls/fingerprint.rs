//! JA3 and JA4 client fingerprints of a ClientHello.
//!
//! JA3 (Salesforce): MD5 of
//! `SSLVersion,Ciphers,Extensions,EllipticCurves,EllipticCurvePointFormats`
//! in decimal, `-` joined, GREASE values skipped.
//! JA4 (FoxIO): `t13d1516h2_8daaf6152771_b186095e22b6`, see [`ja4`].

use std::fmt::Write;

use md5::{Digest, Md5};
use sha2::Sha256;

use super::parser::{is_grease, ClientHello, Ssl2ClientHello, EXT_ALPN, EXT_SERVER_NAME};

/// Most list entries a fingerprint looks at; a ClientHello fits in
/// [`crate::MAX_BUFFER`], so this only bounds the sort buffers.
const MAX_ENTRIES: usize = crate::MAX_BUFFER / 2;

fn lower_hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        // Writing to a String cannot fail.
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Appends `values` in decimal joined by `-`.
fn push_dash_list(out: &mut String, values: impl Iterator<Item = u32>) {
    for (i, value) in values.enumerate() {
        if i > 0 {
            out.push('-');
        }
        let _ = write!(out, "{value}");
    }
}

fn not_grease(value: &u16) -> bool {
    !is_grease(*value)
}

/// The JA3 string (before hashing) of a TLS ClientHello.
pub fn ja3_string(hello: &ClientHello) -> String {
    let mut out = String::with_capacity(256);
    let _ = write!(out, "{},", hello.legacy_version);
    push_dash_list(&mut out, hello.ciphers().filter(not_grease).map(u32::from));
    out.push(',');
    push_dash_list(
        &mut out,
        hello
            .extensions()
            .map(|e| e.ext_type)
            .filter(not_grease)
            .map(u32::from),
    );
    out.push(',');
    push_dash_list(
        &mut out,
        hello.supported_groups().filter(not_grease).map(u32::from),
    );
    out.push(',');
    push_dash_list(
        &mut out,
        hello.ec_point_formats().iter().map(|f| u32::from(*f)),
    );
    out
}

/// The JA3 string of an SSLv2 CLIENT-HELLO: version and the 24-bit cipher
/// specs; SSLv2 has no extensions, so the last three fields are empty.
pub fn ja3_string_ssl2(hello: &Ssl2ClientHello) -> String {
    let mut out = String::with_capacity(128);
    let _ = write!(out, "{},", hello.version);
    push_dash_list(&mut out, hello.ciphers());
    out.push_str(",,,");
    out
}

/// Lowercase hex MD5 of a JA3 string.
pub fn ja3_hash(ja3: &str) -> String {
    lower_hex(&Md5::digest(ja3.as_bytes()))
}

/// JA4's two-character version code.
fn ja4_version(version: u16) -> &'static str {
    match version {
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        0x0002 => "s2",
        0xfeff => "d1",
        0xfefd => "d2",
        0xfefc => "d3",
        _ => "00",
    }
}

/// A count printed with two digits, capped at 99 as JA4 asks.
fn two_digits(count: usize) -> String {
    format!("{:02}", count.min(99))
}

/// JA4's ALPN part: first and last character of the first offered name;
/// when either is not ASCII alphanumeric, the first and last hex digits of
/// the name's bytes instead; `00` without ALPN.
fn ja4_alpn(hello: &ClientHello) -> String {
    let first = hello
        .alpn()
        .and_then(|mut names| names.next())
        .unwrap_or(&[]);
    match (first.first(), first.last()) {
        (Some(&a), Some(&b)) if a.is_ascii_alphanumeric() && b.is_ascii_alphanumeric() => {
            [char::from(a), char::from(b)].iter().collect()
        }
        (Some(&a), Some(&b)) => {
            let hex = |nibble: u8| char::from_digit(u32::from(nibble), 16).unwrap_or('0');
            [hex(a >> 4), hex(b & 0x0f)].iter().collect()
        }
        _ => "00".to_string(),
    }
}

/// First 12 hex digits of the SHA-256 of `text`, or twelve zeros when the
/// list hashed is empty.
fn truncated_sha256(text: &str, list_is_empty: bool) -> String {
    if list_is_empty {
        return "000000000000".to_string();
    }
    let mut hex = lower_hex(&Sha256::digest(text.as_bytes()));
    hex.truncate(12);
    hex
}

/// Four-digit lowercase hex values joined by `,`.
fn hex_list(values: &[u16]) -> String {
    let mut out = String::with_capacity(values.len() * 5);
    for (i, value) in values.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{value:04x}");
    }
    out
}

/// The JA4 fingerprint of a ClientHello seen over TCP:
/// `t` + version (highest non-GREASE supported_versions entry, else the
/// legacy version) + `d`/`i` (SNI present or not) + cipher count +
/// extension count (GREASE skipped, SNI and ALPN counted) + ALPN part,
/// `_`, truncated SHA-256 of the sorted ciphers, `_`, truncated SHA-256 of
/// the sorted extensions without SNI and ALPN, then `_` and the signature
/// algorithms in wire order (left out when there are none).
pub fn ja4(hello: &ClientHello) -> String {
    let version = hello
        .supported_versions()
        .and_then(|versions| versions.filter(not_grease).max())
        .unwrap_or(hello.legacy_version);
    let mut ciphers: Vec<u16> = hello
        .ciphers()
        .filter(not_grease)
        .take(MAX_ENTRIES)
        .collect();
    let extensions: Vec<u16> = hello
        .extensions()
        .map(|e| e.ext_type)
        .filter(not_grease)
        .take(MAX_ENTRIES)
        .collect();
    let has_sni = extensions.contains(&EXT_SERVER_NAME);
    let part_a = format!(
        "t{}{}{}{}{}",
        ja4_version(version),
        if has_sni { 'd' } else { 'i' },
        two_digits(ciphers.len()),
        two_digits(extensions.len()),
        ja4_alpn(hello)
    );
    ciphers.sort_unstable();
    let part_b = truncated_sha256(&hex_list(&ciphers), ciphers.is_empty());
    let mut hashed_extensions: Vec<u16> = extensions
        .into_iter()
        .filter(|e| *e != EXT_SERVER_NAME && *e != EXT_ALPN)
        .collect();
    hashed_extensions.sort_unstable();
    let signature_algorithms: Vec<u16> = hello
        .signature_algorithms()
        .filter(not_grease)
        .take(MAX_ENTRIES)
        .collect();
    let mut text = hex_list(&hashed_extensions);
    if !signature_algorithms.is_empty() {
        text.push('_');
        text.push_str(&hex_list(&signature_algorithms));
    }
    let part_c = truncated_sha256(&text, hashed_extensions.is_empty());
    format!("{part_a}_{part_b}_{part_c}")
}
