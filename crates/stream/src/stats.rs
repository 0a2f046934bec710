//! Counters per interface, shared between the threads that move data and
//! whoever reports them (the `-S` line, the control socket).

use std::sync::atomic::{AtomicU64, Ordering};

/// One interface's counters. Relaxed atomics: they are statistics, read
/// while being written.
#[derive(Debug, Default)]
pub struct IfcStats {
    pub records: AtomicU64,
    pub batches: AtomicU64,
    pub bytes: AtomicU64,
    /// Records an output dropped (slow or no client under `:drop`), or an
    /// input refused (a schema lacking required fields).
    pub dropped: AtomicU64,
    /// Connected clients (outputs) or 1/0 connected (inputs).
    pub clients: AtomicU64,
    /// Invalid streams, refused schemas, write errors.
    pub errors: AtomicU64,
    /// Connections made (inputs) or accepted (outputs).
    pub connects: AtomicU64,
}

impl IfcStats {
    pub fn add(&self, counter: &AtomicU64, n: u64) {
        let _ = self;
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// The counters as JSON object members.
    pub fn json(&self) -> String {
        format!(
            "\"records\":{},\"batches\":{},\"bytes\":{},\"dropped\":{},\"clients\":{},\"errors\":{},\"connects\":{}",
            Self::get(&self.records),
            Self::get(&self.batches),
            Self::get(&self.bytes),
            Self::get(&self.dropped),
            Self::get(&self.clients),
            Self::get(&self.errors),
            Self::get(&self.connects),
        )
    }
}

/// CPU seconds (user + system) and resident memory of this process, from
/// /proc (zeros elsewhere).
pub fn process_usage() -> (f64, u64) {
    let ticks = 100.0; // USER_HZ on every Linux platform eddy runs on
    let cpu = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // Fields after the command name (which may hold spaces) in parentheses.
            let rest = &s[s.rfind(')')? + 2..];
            let f: Vec<&str> = rest.split_whitespace().collect();
            let utime: f64 = f.get(11)?.parse().ok()?;
            let stime: f64 = f.get(12)?.parse().ok()?;
            Some((utime + stime) / ticks)
        })
        .unwrap_or(0.0);
    let rss = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096);
    (cpu, rss)
}
