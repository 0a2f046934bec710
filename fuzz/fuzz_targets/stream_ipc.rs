//! Fuzzes the stream interfaces' IPC reader: any bytes on a socket or in a
//! file give messages or an error, never a panic, and reading ends.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stream::ipc::MessageReader;

fuzz_target!(|data: &[u8]| {
    let mut reader = MessageReader::new(data);
    // Every message consumes bytes, so this ends; the cap is a safety net.
    for _ in 0..10_000 {
        match reader.next_message() {
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => break,
        }
    }
});
