//! A text codec between Arrow record batches and eddy's CSV and JSON-lines
//! formats, for the stream modules: `logger` prints batches, `replay` reads
//! what `eddy meter -o csv|json`, the logger or the collector's JSON output
//! wrote back into [`flow_schema`](crate::flow_schema) batches.
//!
//! Writers ([`CsvWriter`], [`JsonWriter`]) take batches of any schema, so
//! columns other programs add pass through. Values are rendered as eddy's
//! own CSV and JSON render them (`record::format`), with the same hand-written
//! helpers (`record::text`) and no `core::fmt` per value:
//!
//! | Arrow type | text |
//! |---|---|
//! | Timestamp (any unit, any zone) | RFC 3339 UTC with microseconds, `2024-01-02T03:04:05.678901Z` (times before 1970 print as the epoch) |
//! | FixedSizeBinary(16) | IP address (IPv4-mapped as dotted IPv4) |
//! | FixedSizeBinary(6) | MAC `00:1b:21:3a:4f:5e` |
//! | UInt8 named `end_reason` | `idle`, `active`, `end`, `forced`, `eviction` (other numbers in decimal) |
//! | integers, booleans | decimal, `true` / `false` |
//! | floats | Rust's shortest round-trip text (`core::fmt`: floats are not in the flow schema); non-finite ones are `null` in JSON |
//! | Utf8, LargeUtf8, Utf8View | CSV: quoted per RFC 4180 when needed; JSON: a string |
//! | Date32, Date64 | `2024-01-02` |
//! | Binary, LargeBinary, BinaryView, other FixedSizeBinary | lowercase hex (a string in JSON) |
//! | anything else (lists, structs, decimals, durations, ...) | written as null |
//! | null | empty CSV cell; the key is left out of the JSON object |
//!
//! Readers ([`CsvReader`], [`JsonReader`]) parse untrusted text: a bad line
//! never panics and never stops the reader; it is skipped, counted
//! ([`CsvReader::bad_lines`]) and the first few are kept as [`BadLine`]s.

mod parse;
mod read;
mod write;

pub use read::{BadLine, CsvReader, JsonReader, DEFAULT_BATCH_ROWS, MAX_KEPT_ERRORS, MAX_LINE};
pub use write::{CsvWriter, JsonWriter};
