//! Throughput of the text writers and readers on full flow-schema batches
//! (mostly-null L7 columns: one record in 16 has DNS fields).
//!
//! `cargo run --release -p schema --example text_speed`

use std::net::Ipv4Addr;
use std::time::Instant;

use l7::dns::DnsFields;
use l7::L7Fields;
use record::format::{Format, TextSink};
use record::{EndReason, FlowRecord, FlowSink};
use schema::text::{CsvReader, CsvWriter, JsonReader, JsonWriter};
use schema::BatchBuilder;

fn records(n: usize) -> Vec<FlowRecord> {
    (0..n)
        .map(|i| {
            let i64 = i as u64;
            let first = 1_700_000_000_000_000_000 + i64 * 1_234_567;
            FlowRecord {
                first_ns: first,
                last_ns: first + (i64 % 1000) * 1_000_000,
                src_ip: Ipv4Addr::from(0x0a00_0000 + i as u32).to_ipv6_mapped(),
                dst_ip: Ipv4Addr::from(0xc0a8_0000 + (i as u32 * 7919) % 65536).to_ipv6_mapped(),
                src_port: (1024 + i * 31 % 60000) as u16,
                dst_port: [80, 443, 53, 22][i % 4],
                proto: [6, 6, 17, 6][i % 4],
                tcp_flags: 0x1b,
                packets: 1 + i64 % 100,
                bytes: 60 + i64 % 100 * 1400,
                src_mac: [0, 0x1b, 0x21, 0x3a, 0x4f, i as u8],
                dst_mac: [0, 0x1b, 0x21, 0x3a, 0x4f, 0xfe],
                end_reason: EndReason::Idle,
                l7: (i % 16 == 0).then(|| {
                    L7Fields::from(DnsFields {
                        id: i as u16,
                        qname: "www.example.com".into(),
                        qtype: 1,
                        qclass: 1,
                        ..DnsFields::default()
                    })
                }),
                ..FlowRecord::default()
            }
        })
        .collect()
}

fn main() {
    let rows_per_batch = 8192;
    let batches: Vec<_> = records(rows_per_batch * 8)
        .chunks(rows_per_batch)
        .map(|chunk| {
            let mut b = BatchBuilder::new();
            chunk.iter().for_each(|r| b.push(r));
            b.finish()
        })
        .collect();
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    let columns = batches[0].num_columns();

    let mut out = Vec::with_capacity(64 << 20);
    let mut csv_text = Vec::new();
    let mut json_text = Vec::new();
    for (name, json) in [("csv", false), ("json", true)] {
        let mut best = f64::MAX;
        let mut bytes = 0;
        for _ in 0..10 {
            out.clear();
            let start = Instant::now();
            if json {
                let mut w = JsonWriter::new();
                for b in &batches {
                    w.write_batch(b, &mut out).unwrap();
                }
            } else {
                let mut w = CsvWriter::new();
                for b in &batches {
                    w.write_batch(b, &mut out).unwrap();
                }
            }
            best = best.min(start.elapsed().as_secs_f64());
            bytes = out.len();
        }
        println!(
            "write {name:4}: {rows} rows x {columns} columns in {:.1} ms: {:.2} M rows/s, {:.0} MB/s ({} bytes/row)",
            best * 1e3,
            rows as f64 / best / 1e6,
            bytes as f64 / best / 1e6,
            bytes / rows
        );
        if json {
            json_text = out.clone();
        } else {
            csv_text = out.clone();
        }
    }

    // For comparison: the meter's own CSV of the same records.
    let all = records(rows);
    let mut best = f64::MAX;
    for _ in 0..10 {
        out.clear();
        let start = Instant::now();
        let mut sink = TextSink::new(&mut out, Format::Csv, false);
        sink.l7_columns = true;
        sink.write(&all).unwrap();
        drop(sink);
        best = best.min(start.elapsed().as_secs_f64());
    }
    println!(
        "meter csv (record::format::TextSink, same records): {:.2} M rows/s",
        rows as f64 / best / 1e6
    );

    let start = Instant::now();
    let mut reader = CsvReader::new(&csv_text[..]);
    let mut n = 0;
    for b in &mut reader {
        n += b.unwrap().num_rows();
    }
    let t = start.elapsed().as_secs_f64();
    assert_eq!((n, reader.bad_lines()), (rows, 0));
    println!(
        "read  csv : {n} rows in {:.1} ms: {:.2} M rows/s",
        t * 1e3,
        n as f64 / t / 1e6
    );

    let start = Instant::now();
    let mut reader = JsonReader::new(&json_text[..]);
    let mut n = 0;
    for b in &mut reader {
        n += b.unwrap().num_rows();
    }
    let t = start.elapsed().as_secs_f64();
    assert_eq!((n, reader.bad_lines()), (rows, 0));
    println!(
        "read  json: {n} rows in {:.1} ms: {:.2} M rows/s",
        t * 1e3,
        n as f64 / t / 1e6
    );
}
