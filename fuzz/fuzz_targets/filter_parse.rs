//! The filter language on arbitrary input: parsing must give a filter or an
//! error (never a panic), and a parsed filter must evaluate on a record.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match filter::parse(&text) {
        Ok(f) => {
            let mut r = record::FlowRecord::default();
            let _ = f.matches(&r);
            r.src_ip = "::ffff:10.0.0.1".parse().unwrap();
            r.proto = 6;
            r.packets = 3;
            r.bytes = 180;
            r.last_ns = 2_000_000_000;
            r.l7 = Some(l7::L7Fields::from(l7::http::HttpFields {
                host: Some("example.com".into()),
                status: Some(200),
                ..Default::default()
            }));
            let _ = f.matches(&r);
            let _ = f.expr.to_string();
        }
        Err(e) => {
            assert!(e.pos <= text.len());
            let _ = e.to_string();
        }
    }
});
