//! Queries over the flow store: nfdump's filter language and command-line
//! habits on DataFusion.
//!
//! - [`lower`]: the filter AST ([`filter::Expr`]) as a DataFusion
//!   expression, with the in-memory evaluator's semantics;
//! - [`select`]: which files `-r`, `-R`, `-M` and `-t` read;
//! - [`engine`]: the DataFusion session (Parquet scan with statistics
//!   pruning and projection, every core, spilling aggregation) and the
//!   queries `eddy query` runs: totals, flow listings, groups for `-s`/`-A`;
//! - [`rollup`]: `-s` and `-A` from the store's window summaries, when
//!   their keys and filter fit a summary's columns;
//! - [`prune`]: windows whose summaries rule out the filter's addresses,
//!   left out before any query reads them;
//! - [`output`]: nfdump's text (the `-s` table, `-A`/`fmt:` columns,
//!   number scaling, summary lines).
//!
//! This is the only crate that depends on DataFusion.

pub mod engine;
pub mod lower;
pub mod output;
pub mod prune;
pub mod report;
pub mod rollup;
pub mod select;

pub use engine::{Config, Engine, Error, Group, Key, Order, Result, Totals};
pub use lower::lower;
pub use report::{OutputFormat, Request, Stat};
pub use select::{Input, Relative, Selection, TimeWindow};

/// The filter crate, for callers that parse filters without depending on it.
pub use filter;
