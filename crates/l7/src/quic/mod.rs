//! PLACEHOLDER: replaced by the QUIC Initial parser.

use crate::{Feed, L7Fields, Parser, Transport};

/// Fields of a QUIC connection's client Initial.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QuicFields {
    /// quic_version: the long header's version.
    pub version: Option<u32>,
    /// quic_sni: the server_name of the ClientHello inside the Initial.
    pub sni: Option<String>,
}

pub fn probe(_transport: &Transport, _payload: &[u8]) -> bool {
    false
}

pub fn new_parser() -> Box<dyn Parser> {
    Box::new(Placeholder)
}

struct Placeholder;

impl Parser for Placeholder {
    fn feed(&mut self, _payload: &[u8]) -> Feed {
        Feed::Done
    }
    fn take_finished(&mut self) -> Option<L7Fields> {
        None
    }
    fn take_current(&mut self) -> Option<L7Fields> {
        None
    }
}
