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
pub use config::DetectConfig;
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
pub mod config;
pub mod dns_tunnel;
pub mod haddrscan;
pub mod hoststats;
pub mod l7filter;
pub mod miner;
pub mod sip_bf;
pub mod voip_fraud;
pub mod vportscan;

#[cfg(test)]
pub(crate) mod testing;

/// Detectors run side by side on the same flows, with the record clock
/// that drives their ticks (once per second of record time).
pub struct DetectorSet {
    pub detectors: Vec<Box<dyn Detector>>,
    now_ns: u64,
    next_tick_ns: u64,
    /// Flows seen.
    pub flows: u64,
}

impl DetectorSet {
    pub fn new(detectors: Vec<Box<dyn Detector>>) -> DetectorSet {
        DetectorSet {
            detectors,
            now_ns: 0,
            next_tick_ns: 0,
            flows: 0,
        }
    }

    /// Feeds one batch to every detector, then ticks them if record time
    /// passed a second boundary. Errors name what the batch lacks.
    pub fn observe(
        &mut self,
        batch: &arrow_array::RecordBatch,
        out: &mut Vec<Alert>,
    ) -> Result<(), String> {
        let flows = Flows::new(batch)?;
        self.flows += flows.len as u64;
        for d in &mut self.detectors {
            d.observe(&flows, out);
        }
        self.now_ns = self.now_ns.max(flows.max_last());
        if self.now_ns >= self.next_tick_ns {
            for d in &mut self.detectors {
                d.tick(self.now_ns, out);
            }
            self.next_tick_ns = self.now_ns + NS;
        }
        Ok(())
    }

    /// The input ended.
    pub fn finish(&mut self, out: &mut Vec<Alert>) {
        for d in &mut self.detectors {
            d.tick(self.now_ns, out);
            d.finish(out);
        }
    }
}

/// The detectors that run with default settings and no files, by name.
pub fn by_name(name: &str) -> Option<Box<dyn Detector>> {
    Some(match name {
        "vportscan" => Box::new(vportscan::VPortScan::new(Default::default())),
        "haddrscan" => Box::new(haddrscan::HAddrScan::new(Default::default())),
        "bruteforce" => Box::new(bruteforce::BruteForce::new(Default::default())),
        "amplification" => Box::new(amplification::Amplification::new(Default::default())),
        "hoststats" => Box::new(hoststats::HostStats::new(Default::default())),
        "sip_bf" => Box::new(sip_bf::SipBruteForce::new(Default::default())),
        "voip_fraud" => Box::new(voip_fraud::VoipFraud::new(Default::default())),
        "dns_tunnel" => Box::new(dns_tunnel::DnsTunnel::new(Default::default())),
        "miner" => Box::new(miner::Miner::new(Default::default())),
        _ => return None,
    })
}

/// Names [`by_name`] knows.
pub const NAMES: &[&str] = &[
    "vportscan",
    "haddrscan",
    "bruteforce",
    "amplification",
    "hoststats",
    "sip_bf",
    "voip_fraud",
    "dns_tunnel",
    "miner",
];
