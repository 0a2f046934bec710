//! Fuzzes the DNS parser: the first byte picks UDP or TCP (and whether the
//! port is a DNS port), the rest is a list of chunks, each a length byte
//! then that many bytes (the last one takes what is left), fed as
//! consecutive payloads of one flow direction after `probe` saw the first.
//! Any panic is a bug; so are string fields over the length cap.
#![no_main]

use l7::{Feed, L7Fields, Transport, MAX_FIELD_LEN};
use libfuzzer_sys::fuzz_target;

fn chunks(mut data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while let Some((&len, rest)) = data.split_first() {
        let (chunk, tail) = rest.split_at(usize::from(len).min(rest.len()));
        out.push(chunk);
        data = tail;
    }
    out
}

fn check(fields: Option<L7Fields>) {
    if let Some(L7Fields::Dns(fields)) = fields {
        assert!(fields.qname.len() <= MAX_FIELD_LEN);
        assert!(fields.answer_data.len() <= MAX_FIELD_LEN);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, data)) = data.split_first() else {
        return;
    };
    let proto = if selector & 1 == 0 { 17 } else { 6 };
    let dst_port = if selector & 2 == 0 { 53 } else { 40001 };
    let transport = Transport {
        proto,
        src_port: 40000,
        dst_port,
    };
    let chunks = chunks(data);
    if let Some(first) = chunks.first() {
        let _ = l7::dns::probe(&transport, first);
    }
    let mut parser = l7::dns::new_parser();
    for chunk in &chunks {
        match parser.feed(chunk) {
            Feed::Boundary => check(parser.take_finished()),
            Feed::More | Feed::Skip(_) => {}
            Feed::Done => break,
        }
    }
    check(parser.take_current());
});
