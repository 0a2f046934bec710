//! Stages: what happens to each record between decoding and the outputs, in
//! configured order. A stage may change a record or reject it; rejections
//! are counted per stage.
//!
//! The work itself lives in light crates of its own (`filter` for the
//! filter language, `enrich` for anonymisation and GeoIP) that the stream
//! modules share; here they only become stages.

use std::collections::HashMap;
use std::path::Path;

use enrich::{Anonymizer, CryptoPan, GeoIp, Truncate};
use record::FlowRecord;

use crate::config::{AnonymizeMode, StageConfig};

/// One pipeline stage.
pub trait Stage: Send {
    /// The name in statistics (`filter`, `anonymize`, ...).
    fn name(&self) -> &str;
    /// Changes the record in place; false drops it.
    fn apply(&mut self, record: &mut FlowRecord) -> bool;
}

/// Rewrites observation domain ids (IPFIXcol's ODIP / JoinFlows): `join`
/// puts every record under one id, else `map` renames listed ids.
pub struct OdidStage {
    map: HashMap<u32, u32>,
    join: Option<u32>,
}

impl OdidStage {
    pub fn new(
        map: &std::collections::BTreeMap<String, u32>,
        join: Option<u32>,
    ) -> Result<Self, String> {
        let mut m = HashMap::new();
        for (from, to) in map {
            let from: u32 = from
                .parse()
                .map_err(|_| format!("odid stage: '{from}' is not an observation domain id"))?;
            m.insert(from, *to);
        }
        Ok(OdidStage { map: m, join })
    }
}

impl Stage for OdidStage {
    fn name(&self) -> &str {
        "odid"
    }

    fn apply(&mut self, record: &mut FlowRecord) -> bool {
        if let Some(j) = self.join {
            record.odid = j;
        } else if let Some(&to) = self.map.get(&record.odid) {
            record.odid = to;
        }
        true
    }
}

/// Prefix-preserving (Crypto-PAn) or truncating address anonymisation.
pub struct AnonymizeStage(Anonymizer);

impl Stage for AnonymizeStage {
    fn name(&self) -> &str {
        "anonymize"
    }

    fn apply(&mut self, record: &mut FlowRecord) -> bool {
        self.0.apply(record);
        true
    }
}

/// Country and AS numbers from MaxMind databases. A failed lookup (a
/// corrupt database) keeps the record, counted in `errors` and logged once.
pub struct GeoIpStage {
    geoip: GeoIp,
    pub errors: u64,
}

impl Stage for GeoIpStage {
    fn name(&self) -> &str {
        "geoip"
    }

    fn apply(&mut self, record: &mut FlowRecord) -> bool {
        if let Err(e) = self.geoip.apply(record) {
            self.errors += 1;
            if self.errors == 1 || self.errors.is_power_of_two() {
                crate::log(&format!(
                    "geoip: {e} ({} lookup errors so far)",
                    self.errors
                ));
            }
        }
        true
    }
}

fn anonymize_stage(
    mode: AnonymizeMode,
    key_file: Option<&Path>,
    v4_bits: u8,
    v6_bits: u8,
) -> Result<Box<dyn Stage>, String> {
    let anonymizer = match (mode, key_file) {
        (AnonymizeMode::Cryptopan, Some(path)) => {
            // The 24-bit prefix table (2 MiB) makes IPv4 about 1.5 times
            // faster than the default 16-bit one; a collector can afford it.
            let key = enrich::anonymize::parse_key(
                &std::fs::read(path)
                    .map_err(|e| format!("anonymize: reading {}: {e}", path.display()))?,
                path,
            )
            .map_err(|e| format!("anonymize: {e}"))?;
            Anonymizer::from(CryptoPan::with_prefix_bits(&key, 24))
        }
        (AnonymizeMode::Cryptopan, None) => {
            return Err("anonymize: mode cryptopan needs key_file".into())
        }
        (AnonymizeMode::Truncate, _) => Anonymizer::from(Truncate { v4_bits, v6_bits }),
    };
    Ok(Box::new(AnonymizeStage(anonymizer)))
}

/// Builds a configured stage; `None` for a kind this build cannot make
/// (none today: the hook is for stages outside the collector's crates).
pub fn builtin(config: &StageConfig) -> Option<Result<Box<dyn Stage>, String>> {
    match config {
        StageConfig::Odid { map, join } => {
            Some(OdidStage::new(map, *join).map(|s| Box::new(s) as Box<dyn Stage>))
        }
        StageConfig::Anonymize {
            mode,
            key_file,
            v4_bits,
            v6_bits,
        } => Some(anonymize_stage(
            *mode,
            key_file.as_deref(),
            *v4_bits,
            *v6_bits,
        )),
        StageConfig::Geoip {
            country_db,
            asn_db,
            overwrite_as,
        } => Some(
            GeoIp::open(country_db.as_deref(), asn_db.as_deref())
                .map(|g| {
                    Box::new(GeoIpStage {
                        geoip: g.overwrite_as(*overwrite_as),
                        errors: 0,
                    }) as Box<dyn Stage>
                })
                .map_err(|e| format!("geoip: {e}")),
        ),
        StageConfig::Filter { expr } => Some(
            filter::parse(expr)
                .map(|f| Box::new(FilterStage(f)) as Box<dyn Stage>)
                .map_err(|e| format!("filter stage:\n{e}")),
        ),
    }
}

/// Keeps the records that match a filter expression (nfdump's language).
pub struct FilterStage(filter::Filter);

impl Stage for FilterStage {
    fn name(&self) -> &str {
        "filter"
    }

    fn apply(&mut self, record: &mut FlowRecord) -> bool {
        self.0.matches(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odid_map_and_join() {
        let map = [("1".to_string(), 10)].into_iter().collect();
        let mut s = OdidStage::new(&map, None).unwrap();
        let mut r = FlowRecord {
            odid: 1,
            ..FlowRecord::default()
        };
        assert!(s.apply(&mut r));
        assert_eq!(r.odid, 10);
        r.odid = 2;
        s.apply(&mut r);
        assert_eq!(r.odid, 2);
        let mut j = OdidStage::new(&map, Some(7)).unwrap();
        j.apply(&mut r);
        assert_eq!(r.odid, 7);
        let bad = [("x".to_string(), 1)].into_iter().collect();
        assert!(OdidStage::new(&bad, None).is_err());
    }
}
