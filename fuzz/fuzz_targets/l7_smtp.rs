//! Feeds arbitrary bytes to the SMTP parser in chunks: each chunk is
//! announced by a length byte, so the fuzzer controls segment boundaries.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let transport = l7::Transport {
        proto: 6,
        src_port: 40000,
        dst_port: 25,
    };
    let _ = l7::smtp::probe(&transport, data);
    let mut parser = l7::smtp::new_parser();
    let mut rest = data;
    while let Some((&len, tail)) = rest.split_first() {
        let n = usize::from(len).min(tail.len());
        let (chunk, tail) = tail.split_at(n);
        rest = tail;
        if parser.feed(chunk) == l7::Feed::Done {
            break;
        }
    }
    let _ = parser.take_finished();
    let _ = parser.take_current();
});
