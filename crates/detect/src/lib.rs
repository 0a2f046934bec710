//! Detectors: stream logic that reads flow records and raises alerts in the
//! IDEA format CSIRTs exchange. Each detector is a plain struct behind the
//! [`Detector`] trait: it sees batches of flows through a [`Flows`] view
//! (typed column slices, no per-record allocation) and pushes [`Alert`]s
//! into a buffer it is given. Time comes from the records (`last` of the
//! newest flow), so a replayed capture raises the alerts live traffic
//! would.
//!
//! Not here: sockets and processes (the `eddy module <detector>` glue),
//! alert routing and storage (the reporter).

pub mod alert;
pub mod flows;

pub use alert::{Alert, Endpoint};
pub use flows::Flows;

/// One detector.
pub trait Detector: Send {
    /// The module name (`vportscan`, ...), also the IDEA `Node` name suffix.
    fn name(&self) -> &'static str;
    /// Looks at a batch of flows; alerts go to `out`.
    fn observe(&mut self, flows: &Flows<'_>, out: &mut Vec<Alert>);
    /// Record time moved on to `now_ns` (nanoseconds since the epoch):
    /// purge idle state, close windows, report what is due.
    fn tick(&mut self, _now_ns: u64, _out: &mut Vec<Alert>) {}
    /// The input ended: report what is still open.
    fn finish(&mut self, _out: &mut Vec<Alert>) {}
}

/// Hash maps keyed by addresses and ports: foldhash is several times
/// faster than SipHash, and flow keys are not attacker-chosen in a way
/// that matters for a detector's state (it is bounded by purging).
pub type Map<K, V> = hashbrown::HashMap<K, V, foldhash::fast::RandomState>;
pub type Set<K> = hashbrown::HashSet<K, foldhash::fast::RandomState>;

/// Nanoseconds per second.
pub const NS: u64 = 1_000_000_000;

pub mod amplification;
pub mod blacklist;
pub mod bruteforce;
pub mod haddrscan;
pub mod hoststats;
pub mod l7filter;
pub mod sip_bf;
pub mod voip_fraud;
pub mod vportscan;

#[cfg(test)]
pub(crate) mod testing;
