//! Measures how fast a capture is read and handed out, with a callback that
//! only counts: `cargo run --release -p capture --example readspeed -- FILE [ROUNDS]`.
//! Run it twice so that the second run reads from the page cache.

use std::error::Error;
use std::time::Instant;

use capture::{open_file, Event};

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: readspeed FILE [ROUNDS]")?;
    let rounds: u32 = match args.next() {
        Some(r) => r.parse()?,
        None => 3,
    };
    for _ in 0..rounds {
        let start = Instant::now();
        let mut source = open_file(&path)?;
        let (mut frames, mut bytes) = (0u64, 0u64);
        source.run(&mut |event| {
            if let Event::Frames(batch) = event {
                for frame in batch {
                    frames += 1;
                    bytes += frame.data.len() as u64;
                }
            }
        })?;
        let secs = start.elapsed().as_secs_f64();
        println!(
            "{frames} frames, {:.0} MB in {secs:.3} s: {:.1} M frames/s, {:.2} GB/s of frame data",
            bytes as f64 / 1e6,
            frames as f64 / secs / 1e6,
            bytes as f64 / secs / 1e9,
        );
    }
    Ok(())
}
