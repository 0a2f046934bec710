//! Fuzzes the QUIC Initial parser: the input is a list of datagrams, each
//! a two-byte big-endian length then that many bytes (the last one takes
//! what is left; client Initials are 1200 bytes and more),
//! fed as consecutive payloads of one UDP flow direction after `probe` saw
//! the first. Random bytes rarely decrypt, so the first byte, when odd,
//! asks for each datagram to be sealed as a QUIC v1 client Initial whose
//! CRYPTO frame carries the datagram's bytes: that reaches the frame walk,
//! the reassembly and the ClientHello parsing. Any panic is a bug; so are
//! string fields over the length cap.
#![no_main]

use l7::{Feed, L7Fields, Transport, MAX_FIELD_LEN};
use libfuzzer_sys::fuzz_target;

fn chunks(mut data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while let [high, low, rest @ ..] = data {
        let len = usize::from(u16::from_be_bytes([*high, *low]));
        let (chunk, tail) = rest.split_at(len.min(rest.len()));
        out.push(chunk);
        data = tail;
    }
    out
}

fn check(fields: Option<L7Fields>) {
    if let Some(L7Fields::Quic(fields)) = fields {
        assert!(fields.sni.map_or(0, |s| s.len()) <= MAX_FIELD_LEN);
        assert!(fields.alpn.map_or(0, |s| s.len()) <= MAX_FIELD_LEN);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, data)) = data.split_first() else {
        return;
    };
    let transport = Transport {
        proto: 17,
        src_port: 40000,
        dst_port: 443,
    };
    let datagrams: Vec<Vec<u8>> = chunks(data)
        .into_iter()
        .enumerate()
        .map(|(pn, chunk)| {
            if selector & 1 == 1 {
                l7::quic::fuzz_sealed_initial(pn as u32, chunk)
            } else {
                chunk.to_vec()
            }
        })
        .collect();
    if let Some(first) = datagrams.first() {
        let _ = l7::quic::probe(&transport, first);
    }
    let mut parser = l7::quic::new_parser();
    for datagram in &datagrams {
        match parser.feed(datagram) {
            Feed::Boundary => check(parser.take_finished()),
            Feed::More | Feed::Skip(_) => {}
            Feed::Done => break,
        }
    }
    check(parser.take_current());
});
