//! Flow records into a stream output: the producers' side (`eddy meter
//! --stream`, the collector's `stream` output). Records are gathered into
//! flow-schema batches and sent through one [`Output`].

use std::io;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use record::{FlowRecord, FlowSink};
use schema::BatchBuilder;

use crate::output::Output;
use crate::spec::{self, SlowPolicy, Spec};
use crate::stats::IfcStats;

/// Writes flow records to one stream interface.
pub struct FlowWriter {
    output: Option<Output>,
    builder: BatchBuilder,
    batch_rows: usize,
}

impl FlowWriter {
    /// Opens the output `spec` (`u:NAME`, `t:PORT`, `f:PATH`, ...; `u:`
    /// names in `$EDDY_SOCKET_DIR` or /tmp/eddy). `stop` ends a wait for
    /// clients (SIGTERM).
    pub fn open(spec: &str, stop: Arc<AtomicBool>) -> io::Result<FlowWriter> {
        let spec: Spec = spec::parse(spec, &spec::default_socket_dir())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.0))?;
        let batch_rows = spec.buffer_rows;
        Ok(FlowWriter {
            output: Some(Output::open(&spec, stop)?),
            builder: BatchBuilder::new(),
            batch_rows,
        })
    }

    /// For the collector: unless the spec says `:wait`, a slow or absent
    /// client misses records (counted) rather than stalling collection.
    pub fn open_for_collector(spec: &str) -> io::Result<FlowWriter> {
        let mut parsed: Spec = spec::parse(spec, &spec::default_socket_dir())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.0))?;
        if !spec.split(':').any(|part| part == "wait") {
            parsed.policy = SlowPolicy::Drop;
        }
        Ok(FlowWriter {
            batch_rows: parsed.buffer_rows,
            output: Some(Output::open(&parsed, Arc::new(AtomicBool::new(false)))?),
            builder: BatchBuilder::new(),
        })
    }

    pub fn stats(&self) -> Option<Arc<IfcStats>> {
        self.output.as_ref().map(|o| o.stats.clone())
    }

    fn send_built(&mut self) -> io::Result<()> {
        if self.builder.is_empty() {
            return Ok(());
        }
        let batch = self.builder.finish();
        match &mut self.output {
            Some(o) => o.send(&batch).map_err(io::Error::other),
            None => Ok(()),
        }
    }

    /// Sends what is gathered and ends the stream with the end marker.
    pub fn close(&mut self) -> io::Result<()> {
        self.send_built()?;
        match self.output.take() {
            Some(o) => o.close(true).map_err(io::Error::other),
            None => Ok(()),
        }
    }
}

impl FlowSink for FlowWriter {
    fn write(&mut self, records: &[FlowRecord]) -> io::Result<()> {
        for r in records {
            self.builder.push(r);
            if self.builder.len() >= self.batch_rows {
                self.send_built()?;
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send_built()?;
        match &mut self.output {
            Some(o) => o.flush().map_err(io::Error::other),
            None => Ok(()),
        }
    }

    fn finish(&mut self) -> io::Result<()> {
        self.close()
    }
}
