//! Fuzzes `packet::decode`: the first byte picks the link type, the rest is
//! the frame. Any panic is a bug; errors are the expected answer to garbage.
#![no_main]

use libfuzzer_sys::fuzz_target;
use packet::{decode, LinkType};

const LINKS: [LinkType; 8] = [
    LinkType::Ethernet,
    LinkType::RawIp,
    LinkType::Ipv4,
    LinkType::Ipv6,
    LinkType::LinuxSll,
    LinkType::LinuxSll2,
    LinkType::Null,
    LinkType::Loop,
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, frame)) = data.split_first() else {
        return;
    };
    let link = LINKS[usize::from(selector) % LINKS.len()];
    if let Ok(pkt) = decode(link, frame) {
        // The payload must be a view into the frame, never beyond it.
        let frame_range = frame.as_ptr_range();
        let payload_range = pkt.payload.as_ptr_range();
        assert!(frame_range.start <= payload_range.start && payload_range.end <= frame_range.end);
    }
});
