//! Fuzzes the TLS parser: the input is a list of chunks, each a length
//! byte then that many bytes (the last one takes what is left), fed as
//! consecutive TCP payloads of one flow direction after `probe` saw the
//! first. Any panic is a bug; so are fields over the length cap.
#![no_main]

use l7::{Feed, L7Fields, Transport, MAX_FIELD_LEN};
use libfuzzer_sys::fuzz_target;

const TRANSPORT: Transport = Transport {
    proto: 6,
    src_port: 50000,
    dst_port: 443,
};

fn chunks(mut data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while let Some((&len, rest)) = data.split_first() {
        let (chunk, tail) = rest.split_at(usize::from(len).min(rest.len()));
        out.push(chunk);
        data = tail;
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let chunks = chunks(data);
    if let Some(first) = chunks.first() {
        let _ = l7::tls::probe(&TRANSPORT, first);
    }
    let mut parser = l7::tls::new_parser();
    for chunk in &chunks {
        if parser.feed(chunk) == Feed::Done {
            break;
        }
    }
    assert!(parser.take_finished().is_none());
    if let Some(L7Fields::Tls(fields)) = parser.take_current() {
        for text in [&fields.sni, &fields.alpn, &fields.ja3, &fields.ja4]
            .into_iter()
            .flatten()
        {
            assert!(text.len() <= MAX_FIELD_LEN);
        }
    }
});
