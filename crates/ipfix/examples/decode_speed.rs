//! Decode throughput for the typical L4 template (the IPv4 elements nfdump
//! exports): records/s for (a) walking every field of every record and
//! (b) the full mapping into `FlowRecord`s; and encode throughput of
//! `ipfix::Encoder` for the same records: (c) UDP config (1400-byte
//! messages, templates every 20) and (d) stream config (65535-byte
//! messages, templates once). For (c)/(d) the stream's 30,000 records are
//! mapped to `FlowRecord`s once, in memory, before timing; each rep encodes
//! all of them (reps x 30,000 records in all, the same records (b) maps)
//! into one reused `Vec<Vec<u8>>` (cleared between reps, outer capacity
//! kept; the encoder allocates each message's buffer).
//!
//! The messages are built by hand from RFC 7011's layout so this does not
//! depend on the encoder. Run it pinned to one core:
//! `taskset -c 0 cargo run --release -p ipfix --example decode_speed [reps]`.
//! With `--send HOST:PORT [reps]` it sends the same stream over UDP instead,
//! so a peer collector (nfcapd) can store it for a peer read figure.

use std::hint::black_box;
use std::time::Instant;

use ipfix::{to_flow, Decoder, Encoder, EncoderConfig};
use record::FlowRecord;

const MESSAGES: usize = 1000;
const RECORDS_PER_MESSAGE: usize = 30;
const TEMPLATE_ID: u16 = 256;

/// (element id, length): start/end ms, packets, bytes, IPv4 5-tuple, flags,
/// tos, forwarding status, interfaces.
const L4_FIELDS: [(u16, u16); 14] = [
    (152, 8), // flowStartMilliseconds
    (153, 8), // flowEndMilliseconds
    (2, 8),   // packetDeltaCount
    (1, 8),   // octetDeltaCount
    (8, 4),   // sourceIPv4Address
    (12, 4),  // destinationIPv4Address
    (7, 2),   // sourceTransportPort
    (11, 2),  // destinationTransportPort
    (4, 1),   // protocolIdentifier
    (6, 1),   // tcpControlBits
    (5, 1),   // ipClassOfService
    (89, 1),  // forwardingStatus
    (10, 4),  // ingressInterface
    (14, 4),  // egressInterface
];

fn header(len: usize, export_secs: u32, sequence: u32) -> Vec<u8> {
    let mut out = vec![0, 10];
    out.extend_from_slice(&(len as u16).to_be_bytes());
    out.extend_from_slice(&export_secs.to_be_bytes());
    out.extend_from_slice(&sequence.to_be_bytes());
    out.extend_from_slice(&1u32.to_be_bytes()); // ODID
    out
}

fn template_set() -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&TEMPLATE_ID.to_be_bytes());
    body.extend_from_slice(&(L4_FIELDS.len() as u16).to_be_bytes());
    for (id, len) in L4_FIELDS {
        body.extend_from_slice(&id.to_be_bytes());
        body.extend_from_slice(&len.to_be_bytes());
    }
    let mut set = 2u16.to_be_bytes().to_vec();
    set.extend_from_slice(&((body.len() + 4) as u16).to_be_bytes());
    set.extend_from_slice(&body);
    set
}

fn record(n: u64, out: &mut Vec<u8>) {
    let start = 1_700_000_000_000 + n * 7;
    out.extend_from_slice(&start.to_be_bytes());
    out.extend_from_slice(&(start + 1500).to_be_bytes());
    out.extend_from_slice(&(n % 100 + 1).to_be_bytes());
    out.extend_from_slice(&((n % 100 + 1) * 700).to_be_bytes());
    out.extend_from_slice(&[10, 0, (n >> 8) as u8, n as u8]);
    out.extend_from_slice(&[192, 0, 2, (n % 250) as u8]);
    out.extend_from_slice(&(1024 + (n % 60_000) as u16).to_be_bytes());
    out.extend_from_slice(&443u16.to_be_bytes());
    out.extend_from_slice(&[6, 0x1b, 0, 64]);
    out.extend_from_slice(&3u32.to_be_bytes());
    out.extend_from_slice(&4u32.to_be_bytes());
}

/// The template message, then `MESSAGES` data messages.
fn stream() -> Vec<Vec<u8>> {
    let tpl = template_set();
    let mut out = vec![[header(16 + tpl.len(), 1_700_000_000, 0), tpl].concat()];
    let mut n = 0u64;
    for i in 0..MESSAGES {
        let mut set = TEMPLATE_ID.to_be_bytes().to_vec();
        set.extend_from_slice(&[0, 0]);
        for _ in 0..RECORDS_PER_MESSAGE {
            record(n, &mut set);
            n += 1;
        }
        let set_len = set.len() as u16;
        set[2..4].copy_from_slice(&set_len.to_be_bytes());
        let seq = (i * RECORDS_PER_MESSAGE) as u32;
        out.push([header(16 + set.len(), 1_700_000_000, seq), set].concat());
    }
    out
}

/// Runs `pass` over the stream `reps` times and returns records/s.
fn measure(
    name: &str,
    reps: usize,
    msgs: &[Vec<u8>],
    mut pass: impl FnMut(&mut Decoder, &[u8]) -> usize,
) -> f64 {
    let mut decoder = Decoder::new();
    pass(&mut decoder, &msgs[0]);
    // One warm-up pass.
    for m in &msgs[1..] {
        pass(&mut decoder, m);
    }
    let t = Instant::now();
    let mut n = 0usize;
    for _ in 0..reps {
        for m in &msgs[1..] {
            n += pass(&mut decoder, m);
        }
    }
    let secs = t.elapsed().as_secs_f64();
    let rate = n as f64 / secs;
    println!(
        "{name}: {n} records in {secs:.3} s = {:.1} M records/s",
        rate / 1e6
    );
    rate
}

/// The stream's records as `FlowRecord`s, built before any timing.
fn flows(msgs: &[Vec<u8>]) -> Vec<FlowRecord> {
    let mut decoder = Decoder::new();
    let mut out = Vec::with_capacity(MESSAGES * RECORDS_PER_MESSAGE);
    for m in msgs {
        let (_, errors) = decoder.decode(1, m, &mut |ctx, rec| out.push(to_flow(ctx, rec)));
        assert!(errors.is_empty(), "{errors:?}");
    }
    out
}

/// Encodes `flows` `reps` times with `config` and returns records/s.
fn measure_encode(name: &str, reps: usize, flows: &[FlowRecord], config: EncoderConfig) -> f64 {
    let mut encoder = Encoder::new(config);
    let mut out: Vec<Vec<u8>> = Vec::new();
    // One warm-up pass.
    encoder.encode(flows, 1_700_000_000, &mut out);
    let t = Instant::now();
    let (mut n, mut msgs, mut bytes) = (0usize, 0usize, 0usize);
    for _ in 0..reps {
        out.clear();
        encoder.encode(flows, 1_700_000_000, &mut out);
        n += flows.len();
        msgs += out.len();
        bytes += out.iter().map(Vec::len).sum::<usize>();
        black_box(&out);
    }
    let secs = t.elapsed().as_secs_f64();
    let rate = n as f64 / secs;
    println!(
        "{name}: {n} records in {msgs} messages ({bytes} bytes) in {secs:.3} s = {:.1} M records/s",
        rate / 1e6
    );
    rate
}

/// Sends the stream `reps` times over UDP (to a peer collector such as
/// nfcapd), pausing now and then so loopback does not drop datagrams.
fn send(to: &str, reps: usize, msgs: &[Vec<u8>]) {
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let mut n = 0usize;
    for _ in 0..reps {
        for burst in msgs.chunks(50) {
            for m in burst {
                sock.send_to(m, to).expect("send");
                n += 1;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    }
    println!("sent {n} messages to {to}");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let msgs = stream();
    if let (Some("--send"), Some(to)) = (args.get(1).map(String::as_str), args.get(2)) {
        let reps = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(20);
        return send(to, reps, &msgs);
    }
    let reps: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(200);
    let bytes: usize = msgs.iter().map(Vec::len).sum();
    println!(
        "L4 template: {} fields, {} messages x {} records ({} bytes), {} reps",
        L4_FIELDS.len(),
        MESSAGES,
        RECORDS_PER_MESSAGE,
        bytes,
        reps
    );
    measure("(a) raw fields", reps, &msgs, |d, m| {
        let mut sum = 0u64;
        let (dec, errors) = d.decode(1, m, &mut |_, rec| {
            for f in rec.fields() {
                sum = sum.wrapping_add(u64::from(f.spec.id) ^ f.value.len() as u64);
                sum = sum.wrapping_add(u64::from(f.value.first().copied().unwrap_or(0)));
            }
        });
        assert!(errors.is_empty(), "{errors:?}");
        black_box(sum);
        dec.records
    });
    measure("(b) to_flow", reps, &msgs, |d, m| {
        let mut bytes = 0u64;
        let (dec, errors) = d.decode(1, m, &mut |ctx, rec| {
            let flow = to_flow(ctx, rec);
            bytes = bytes.wrapping_add(flow.bytes ^ flow.first_ns);
            black_box(&flow);
        });
        assert!(errors.is_empty(), "{errors:?}");
        black_box(bytes);
        dec.records
    });
    let flows = flows(&msgs);
    assert_eq!(flows.len(), MESSAGES * RECORDS_PER_MESSAGE);
    measure_encode("(c) encode, UDP", reps, &flows, EncoderConfig::udp(1));
    measure_encode("(d) encode, stream", reps, &flows, EncoderConfig::stream(1));
}
