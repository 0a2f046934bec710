//! Fuzzes the HTTP/1.x parser: the input is a list of chunks, each a length
//! byte then that many bytes (bytes 0xf0..=0xff mean 1 to 16 KiB, so heads
//! can outgrow the buffer cap; the last chunk takes what is left), fed as
//! consecutive payloads of one TCP flow direction after `probe` saw the
//! first, dropping the bytes a `Feed::Skip` covers as the flow cache does.
//! Any panic is a bug; so are string fields over the length cap.
#![no_main]

use l7::{Feed, L7Fields, Transport, MAX_FIELD_LEN};
use libfuzzer_sys::fuzz_target;

fn chunk_len(byte: u8) -> usize {
    match byte {
        0xf0..=0xff => (usize::from(byte - 0xf0) + 1) * 1024,
        n => usize::from(n),
    }
}

fn chunks(mut data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while let Some((&len, rest)) = data.split_first() {
        let (chunk, tail) = rest.split_at(chunk_len(len).min(rest.len()));
        out.push(chunk);
        data = tail;
    }
    out
}

fn check(fields: Option<L7Fields>) {
    if let Some(L7Fields::Http(f)) = fields {
        let strings = [
            &f.method,
            &f.host,
            &f.url,
            &f.user_agent,
            &f.referer,
            &f.content_type,
            &f.server,
        ];
        for s in strings.into_iter().flatten() {
            assert!(s.len() <= MAX_FIELD_LEN);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let transport = Transport {
        proto: 6,
        src_port: 40000,
        dst_port: 80,
    };
    let chunks = chunks(data);
    if let Some(first) = chunks.first() {
        let _ = l7::http::probe(&transport, first);
    }
    let mut parser = l7::http::new_parser();
    // Bytes the parser asked to skip are dropped, as the flow cache does.
    let mut skip = 0usize;
    for chunk in &chunks {
        if skip >= chunk.len() {
            skip -= chunk.len();
            continue;
        }
        let payload = &chunk[skip..];
        skip = 0;
        match parser.feed(payload) {
            Feed::Boundary => check(parser.take_finished()),
            Feed::More => {}
            Feed::Skip(n) => skip = n as usize,
            Feed::Done => break,
        }
    }
    check(parser.take_current());
});
