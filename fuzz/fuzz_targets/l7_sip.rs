//! Feeds arbitrary bytes to the SIP parser in chunks: each chunk is
//! announced by a length byte (two bytes, so a chunk can exceed 255), which
//! lets the fuzzer play both datagrams and TCP segments.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let transport = l7::Transport {
        proto: 17,
        src_port: 40000,
        dst_port: 5060,
    };
    let _ = l7::sip::probe(&transport, data);
    let mut parser = l7::sip::new_parser();
    let mut rest = data;
    while let [hi, lo, tail @ ..] = rest {
        let n = usize::from(u16::from_be_bytes([*hi, *lo])).min(tail.len());
        let (chunk, tail) = tail.split_at(n);
        rest = tail;
        if parser.feed(chunk) == l7::Feed::Boundary {
            let _ = parser.take_finished();
        }
    }
    let _ = parser.take_current();
});
