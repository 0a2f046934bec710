//! Test helpers shared by the parsers' tests: payloads out of real captures.

#![allow(dead_code)]

use std::net::IpAddr;
use std::path::PathBuf;

/// `../shared/testdata/<rel>`.
pub fn shared(rel: &str) -> PathBuf {
    std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("../../../shared/testdata")
    .join(rel)
}

/// One packet's L4 payload with its direction.
#[derive(Clone, Debug)]
pub struct Payload {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub src_port: u16,
    pub dst_port: u16,
    pub proto: u8,
    pub ts_ns: u64,
    pub data: Vec<u8>,
}

impl Payload {
    pub fn transport(&self) -> crate::Transport {
        crate::Transport {
            proto: self.proto,
            src_port: self.src_port,
            dst_port: self.dst_port,
        }
    }
}

fn unmap(a: std::net::Ipv6Addr) -> IpAddr {
    match a.to_ipv4_mapped() {
        Some(v4) => IpAddr::V4(v4),
        None => IpAddr::V6(a),
    }
}

/// Every TCP/UDP packet of a capture (relative to the shared test data),
/// in file order, empty payloads included.
pub fn payloads(rel: &str) -> Vec<Payload> {
    let mut source = capture::open_file(shared(rel).to_str().unwrap()).expect("open capture");
    let mut out = Vec::new();
    source
        .run(&mut |event| {
            if let capture::Event::Frames(frames) = event {
                for frame in frames {
                    if let Ok(pkt) = packet::decode(frame.link, frame.data) {
                        if pkt.has_l4 && (pkt.proto == 6 || pkt.proto == 17) {
                            out.push(Payload {
                                src: unmap(pkt.src_ip),
                                dst: unmap(pkt.dst_ip),
                                src_port: pkt.src_port,
                                dst_port: pkt.dst_port,
                                proto: pkt.proto,
                                ts_ns: frame.ts_ns,
                                data: pkt.payload.to_vec(),
                            });
                        }
                    }
                }
            }
        })
        .expect("read capture");
    out
}

/// The payloads of one direction: packets from `src_port` to `dst_port`.
pub fn direction(all: &[Payload], src_port: u16, dst_port: u16) -> Vec<Payload> {
    all.iter()
        .filter(|p| p.src_port == src_port && p.dst_port == dst_port)
        .cloned()
        .collect()
}

/// Feeds payloads to a fresh parser the way the flow cache will: collects
/// each finished transaction and, at the end, the current one.
pub fn run_parser(
    new: fn() -> Box<dyn crate::Parser>,
    payloads: &[Payload],
) -> Vec<crate::L7Fields> {
    let mut parser = new();
    let mut out = Vec::new();
    let mut skip = 0usize;
    for p in payloads {
        // What the flow cache does with `Feed::Skip`.
        if skip >= p.data.len() {
            skip -= p.data.len();
            continue;
        }
        let data = &p.data[skip..];
        skip = 0;
        match parser.feed(data) {
            crate::Feed::More => {}
            crate::Feed::Skip(n) => skip = n as usize,
            crate::Feed::Boundary => out.extend(parser.take_finished()),
            crate::Feed::Done => break,
        }
    }
    out.extend(parser.take_current());
    out
}
