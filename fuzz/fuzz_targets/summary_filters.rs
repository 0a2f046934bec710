//! Fuzzes the reading of a window summary's layout, address filters and
//! value sets (footer, schema, statistics, Bloom filters, port and protocol runs): the input is the
//! summary file. A damaged summary gives filters, none, or an error, never
//! a panic. Seed the corpus with a real `summary.*.parquet` for useful
//! mutations.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir().join(format!("eddy-fuzz-summary-{}", std::process::id()));
    if std::fs::create_dir_all(&dir).is_err() {
        return;
    }
    if std::fs::write(dir.join("summary.202601010000.parquet"), data).is_ok() {
        let flows = dir.join("flows.202601010000.parquet");
        let _ = store::summary::layout(&flows);
        let _ = store::summary::window_filters(&flows, store::summary::Wanted::ALL);
    }
});
