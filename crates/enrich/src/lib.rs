//! Record enrichment: the functions the collector's stages (`eddy collect`)
//! and later the stream modules (`eddy module anonymize`, …) call on each
//! [`FlowRecord`](record::FlowRecord) before it is stored or forwarded.
//!
//! - [`anonymize`]: replaces source and destination addresses, either with
//!   Crypto-PAn (keyed, prefix-preserving, one-to-one: two addresses sharing
//!   `n` leading bits map to addresses sharing exactly `n` leading bits, so
//!   subnets stay subnets and traces anonymised with the same key stay
//!   comparable) or by truncation (host bits zeroed). [`Anonymizer`] is the
//!   common interface.
//! - [`geoip`]: sets `src_country`/`dst_country` and `src_as`/`dst_as` from
//!   MaxMind DB files ([`GeoIp`]).
//!
//! Why a crate of its own: both the collector and the stream modules need
//! these, and neither should drag the other in; the crate depends only on
//! `record`, `aes` and `maxminddb` (no features).
//!
//! Decisions:
//!
//! - Addresses are 16 bytes with IPv4 stored IPv4-mapped (see `record`).
//!   Mapped addresses are treated as IPv4 everywhere here: Crypto-PAn
//!   anonymises the 32-bit address and the result stays mapped; truncation
//!   counts IPv4 bits; GeoIP looks them up as IPv4. Only `src_ip` and
//!   `dst_ip` are touched, never the exporter address.
//! - Crypto-PAn follows the reference implementation (Crypto-PAn 1.0, Jinliang
//!   Fan) bit for bit and extends it to IPv6 as yacryptopan, Go `cryptopan`
//!   and libanon do; every published vector we found passes
//!   (`test_data/enrich/cryptopan_vectors.txt` says where each comes from).
//!   The first 16 address bits come from a table built at start (128 KiB), so
//!   an IPv4 address costs 16 AES blocks rather than 32; the blocks of one
//!   address are encrypted as one batch. An optional 24-bit table halves that
//!   again ([`CryptoPan::with_prefix_bits`]).
//! - Keys: 32 bytes, first 16 the AES key, last 16 the pad seed (as the
//!   reference); key files hold 32 raw bytes or 64 hex characters.
//! - GeoIP keeps an AS number the exporter set unless told otherwise, and
//!   takes `registered_country` when `country` is missing (see [`geoip`]).
//! - Nothing here panics on bad input: key files and databases give errors
//!   naming the file and the problem; a corrupt database gives per-lookup
//!   errors from [`GeoIp::apply`], which still fills what it can.
//! - No heap allocation per record: anonymisation works on integers and
//!   stack arrays, GeoIP decodes into structs borrowing the database.

pub mod anonymize;
pub mod geoip;

pub use anonymize::{Anonymizer, CryptoPan, KeyError, Truncate};
pub use geoip::{GeoIp, GeoIpError};
