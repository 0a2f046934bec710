//! Hostile input never panics: random bytes, and real messages cut short or
//! with bytes flipped, through every entry point.

mod common;

use ipfix::Decoder;
use proptest::prelude::*;

/// Real messages (templates first) from the logstash samples.
fn samples() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for dir in [
        "ipfix/logstash_dat",
        "netflow/v5/logstash_dat",
        "netflow/v9/logstash_dat",
    ] {
        let mut paths = common::files(dir, ".dat");
        paths.sort_by_key(|p| !p.to_string_lossy().contains("tpl"));
        out.extend(paths.iter().map(|p| std::fs::read(p).unwrap()));
    }
    out
}

/// A decoder primed with every template in the samples, so mutated data
/// sets reach the record walk instead of stopping at "unknown template".
fn primed(samples: &[Vec<u8>]) -> Decoder {
    let mut decoder = Decoder::new();
    for msg in samples {
        decoder.decode(1, msg, &mut |_, _| {});
    }
    decoder
}

fn exercise(decoder: &mut Decoder, msg: &[u8]) {
    let (flows, _) = decoder.decode_flows(1, msg);
    for f in &flows {
        let _ = f.duration_ns();
    }
    for m in ipfix::file_messages(msg).flatten() {
        decoder.decode(2, m, &mut |_, rec| {
            for field in rec.fields() {
                let _ = field.spec.element();
            }
        });
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600), version in prop_oneof![Just(5u16), Just(9), Just(10)]) {
        let mut msg = bytes;
        // Half the time, a plausible version and length so the set walk runs.
        if msg.len() >= 4 && msg[0] & 1 == 0 {
            msg[..2].copy_from_slice(&version.to_be_bytes());
            let len = msg.len() as u16;
            msg[2..4].copy_from_slice(&len.to_be_bytes());
        }
        let mut decoder = Decoder::new();
        exercise(&mut decoder, &msg);
    }

    #[test]
    fn cut_or_flipped_messages_never_panic(idx in any::<prop::sample::Index>(), cut in any::<prop::sample::Index>(), flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8)) {
        let samples = samples();
        let mut decoder = primed(&samples);
        let mut msg = samples[idx.index(samples.len())].clone();
        for (at, byte) in flips {
            let i = at.index(msg.len());
            msg[i] ^= byte;
        }
        msg.truncate(cut.index(msg.len() + 1));
        exercise(&mut decoder, &msg);
    }
}
