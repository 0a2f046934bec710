//! Alerts after the detectors: the alert store (SQLite), the routing rules
//! of `eddy module report` (TOML, [`config`]), its destinations (store,
//! IDEA JSON lines file, webhook, email) and the aggregation of an ongoing
//! attack's repeated alerts ([`router`]).

pub mod config;
pub mod deliver;
pub mod router;
pub mod store;
pub mod time;
mod worker;

pub use config::{Cidr, Config, Destinations, Email, Match, Route, Url};
pub use router::{DestStats, Kind, KindStats, Outcome, Router, Stats};
pub use store::{AlertQuery, AlertRow, AlertStore, Merge};
pub use worker::Counts;
