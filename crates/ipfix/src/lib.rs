//! IPFIX (RFC 7011) and NetFlow v5/v9 (RFC 3954) decoding for eddy's
//! collector: an element registry, zero-copy message views, a template
//! cache and the mapping of data records to [`record::FlowRecord`]; and the
//! meter's side: IPFIX encoding of flow records ([`encode`]) and an
//! exporter over UDP, TCP or to a file ([`export`]).
//!
//! Not here: collector sockets; the collector builds those on top. State
//! over time per (session, ODID) (sequence gaps, UDP template expiry, data
//! sets held until their template arrives, statistics) lives beside the
//! stateless decoder in [`session`]. The decision a reader may
//! question: decoding is callback-based ([`Decoder::decode`] hands each
//! [`DataRecord`] to a closure while it still borrows the datagram and the
//! template) rather than returning owned records, so a collector that only
//! wants [`record::FlowRecord`]s or a few raw fields pays no allocation per
//! field. A malformed set costs that set: every call returns what it decoded
//! and a `Vec` of errors that say where (offset, set id, template id).

pub mod decode;
pub mod encode;
pub mod error;
pub mod export;
pub mod flow;
pub mod message;
pub mod netflow;
pub mod registry;
pub mod session;
pub mod template;

pub use decode::{file_messages, Context, Decoded, Decoder, MessageReader, ReadError};
pub use encode::{Encoder, EncoderConfig};
pub use error::{DecodeError, ErrorKind};
pub use export::{Destination, ExportStats, IpfixSink};
pub use flow::to_flow;
pub use message::{DataRecord, Field};
pub use registry::{lookup, DataType, Element};
pub use template::{FieldSpec, Template, TemplateCache, TemplateKey};
