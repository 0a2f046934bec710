//! Fuzzes `ipfix::Decoder::decode` with IPFIX, NetFlow v5 and v9 messages:
//! the input is split into messages at `0xff 0xfe` markers and fed to one
//! decoder, so templates from an early message shape how later ones decode.
//! Any panic is a bug; errors are the expected answer to garbage.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut decoder = ipfix::Decoder::new();
    let mut rest = data;
    loop {
        let end = rest.windows(2).position(|w| w == [0xff, 0xfe]).unwrap_or(rest.len());
        let msg = &rest[..end];
        let mut n_fields = 0usize;
        decoder.decode(1, msg, &mut |ctx, rec| {
            // Walking the fields and mapping the record must not panic either.
            n_fields += rec.fields().count();
            let _ = ipfix::to_flow(ctx, rec);
        });
        for m in ipfix::file_messages(msg).flatten() {
            let _ = decoder.decode_flows(2, m);
        }
        // The streaming file reader must split the same messages.
        let streamed = ipfix::MessageReader::new(msg).flatten().count();
        assert_eq!(streamed, ipfix::file_messages(msg).flatten().count());
        if end + 2 > rest.len() {
            break;
        }
        rest = &rest[end + 2..];
    }
});
