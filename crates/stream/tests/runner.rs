//! Two modules in one process, connected by a unix socket and by TCP:
//! every record arrives, the end of stream propagates, schema changes pass.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;

use arrow_array::{RecordBatch, UInt16Array, UInt64Array};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use stream::{run, spec, Module, ModuleError, Outputs, Produced, RunOptions};

struct Source {
    batches: Vec<RecordBatch>,
}

impl Module for Source {
    fn outputs(&self) -> usize {
        1
    }
    fn inputs(&self) -> (usize, Option<usize>) {
        (0, Some(0))
    }
    fn process(&mut self, _: usize, _: &RecordBatch, _: &mut Outputs) -> Result<(), ModuleError> {
        Ok(())
    }
    fn produce(&mut self, out: &mut Outputs) -> Result<Produced, ModuleError> {
        match self.batches.pop() {
            Some(b) => {
                out.send(0, &b)?;
                Ok(Produced::Busy)
            }
            None => Ok(Produced::Done),
        }
    }
}

struct Sink {
    rows: Arc<AtomicU64>,
    schemas: Arc<AtomicU64>,
    need: Vec<String>,
}

impl Module for Sink {
    fn outputs(&self) -> usize {
        0
    }
    fn required_fields(&self) -> Vec<String> {
        self.need.clone()
    }
    fn on_schema(&mut self, _: usize, _: &SchemaRef) -> Result<(), String> {
        self.schemas.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
    fn process(&mut self, _: usize, b: &RecordBatch, _: &mut Outputs) -> Result<(), ModuleError> {
        self.rows.fetch_add(b.num_rows() as u64, Ordering::Relaxed);
        Ok(())
    }
}

fn batch(n: usize, wide: bool) -> RecordBatch {
    let mut fields = vec![Field::new("dst_port", DataType::UInt16, false)];
    let mut cols: Vec<Arc<dyn arrow_array::Array>> =
        vec![Arc::new(UInt16Array::from(vec![80u16; n]))];
    if wide {
        fields.push(Field::new("bytes", DataType::UInt64, false));
        cols.push(Arc::new(UInt64Array::from(vec![100u64; n])));
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap()
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("eddy-stream-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn pipe(out_spec: &str, in_spec: &str, tag: &str, need: &[&str]) -> (u64, u64) {
    let dir = temp_dir(tag);
    let mut options = RunOptions::new(tag);
    options.socket_dir = dir.clone();
    options.control = false;
    let rows = Arc::new(AtomicU64::new(0));
    let schemas = Arc::new(AtomicU64::new(0));
    let sink_opts = options.clone();
    let in_spec = spec::parse(in_spec, &dir).unwrap();
    let (r, s) = (rows.clone(), schemas.clone());
    let need: Vec<String> = need.iter().map(|s| s.to_string()).collect();
    let sink = thread::spawn(move || {
        let mut m = Sink {
            rows: r,
            schemas: s,
            need,
        };
        run(&mut m, &[in_spec], &sink_opts).unwrap();
    });
    // 100 narrow batches, then 50 wide ones: a schema change mid-stream.
    let mut batches: Vec<RecordBatch> = (0..50).map(|i| batch(100 + i, true)).collect();
    batches.extend((0..100).map(|i| batch(1 + i, false)));
    let out_spec = spec::parse(out_spec, &dir).unwrap();
    run(&mut Source { batches }, &[out_spec], &options).unwrap();
    sink.join().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    (
        rows.load(Ordering::Relaxed),
        schemas.load(Ordering::Relaxed),
    )
}

/// 1 + 2 + ... + 100 narrow rows and 100 + ... + 149 wide ones.
const NARROW: u64 = 5050;
const WIDE: u64 = 6225;
const TOTAL: u64 = NARROW + WIDE;

#[test]
fn unix_socket_carries_every_record_and_the_end() {
    assert_eq!(pipe("u:t:buffer=64", "u:t", "unix", &[]), (TOTAL, 2));
}

#[test]
fn tcp_carries_every_record_and_the_end() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (rows, _) = pipe(
        &format!("t:127.0.0.1:{port}"),
        &format!("t:127.0.0.1:{port}"),
        "tcp",
        &[],
    );
    assert_eq!(rows, TOTAL);
}

#[test]
fn a_stream_without_required_fields_is_refused_until_it_has_them() {
    // The narrow stream lacks `bytes`: refused; the wide one is taken.
    let (rows, schemas) = pipe("u:t:buffer=64", "u:t", "refuse", &["bytes"]);
    assert_eq!((rows, schemas), (WIDE, 1));
}
