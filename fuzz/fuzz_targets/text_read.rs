//! Fuzzes the replay module's CSV and JSON-lines readers: the first byte
//! picks the reader, the rest is the text. Bad lines are counted, never a
//! panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use schema::text::{CsvReader, JsonReader};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, text)) = data.split_first() else {
        return;
    };
    if selector % 2 == 0 {
        let mut r = CsvReader::new(text).with_batch_rows(7);
        while let Some(batch) = r.next_batch() {
            let _ = batch;
        }
    } else {
        let mut r = JsonReader::new(text).with_batch_rows(7);
        while let Some(batch) = r.next_batch() {
            let _ = batch;
        }
    }
});
