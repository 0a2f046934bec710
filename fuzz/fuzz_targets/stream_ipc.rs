//! Fuzzes the stream interfaces' IPC reader: any bytes on a socket or in a
//! file give messages or an error, never a panic that escapes, and reading
//! ends.
//!
//! arrow-ipc's decoder panics on some malformed buffers and node lengths;
//! `MessageReader` checks what it can before (schemas, buffer bounds,
//! decompressed sizes: `test_data/stream/fuzz-*.arrows` are the inputs this
//! target found) and contains the rest with `catch_unwind`, turning them
//! into errors. This target replaces libFuzzer's abort-on-panic hook so it
//! checks exactly that: a panic only counts if it escapes the reader.
//! Every batch read must also pass arrow's full validation.
#![no_main]

use libfuzzer_sys::fuzz_target;
use arrow_array::Array;
use stream::ipc::{Message, MessageReader};

fuzz_target!(|data: &[u8]| {
    static QUIET: std::sync::Once = std::sync::Once::new();
    QUIET.call_once(|| std::panic::set_hook(Box::new(|_| {})));
    let mut reader = MessageReader::new(data);
    // Every message consumes bytes, so this ends; the cap is a safety net.
    for _ in 0..10_000 {
        match reader.next_message() {
            // A batch read is valid, whether arrow validated it or
            // `stream::layout` let the reader skip that.
            Ok(Some(Message::Batch(b))) => {
                for c in b.columns() {
                    c.to_data().validate_full().expect("a batch read is valid");
                }
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => break,
        }
    }
});
