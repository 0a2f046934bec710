//! Fuzz target: any bytes given to the capture reader (pcap or pcapng, told by
//! the magic number) are read to the end or rejected with an error, without a
//! panic and with frames that stay inside the input.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let reader = Box::new(std::io::Cursor::new(data.to_vec()));
    let Ok(mut source) = capture::open_reader(reader, "fuzz", None) else {
        return;
    };
    let mut frames = 0u64;
    let mut bytes = 0u64;
    let _ = source.run(&mut |event| {
        if let capture::Event::Frames(batch) = event {
            assert!((1..=capture::MAX_BATCH).contains(&batch.len()));
            for frame in batch {
                frames += 1;
                bytes += frame.data.len() as u64;
            }
        }
    });
    let stats = source.stats();
    assert_eq!(stats.frames, frames);
    assert!(bytes <= data.len() as u64);
});
