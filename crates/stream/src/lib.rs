//! Stream modules: processes with inputs and outputs given as interface
//! specs (`-i u:in,u:out`), passing flow records as Arrow IPC streams over
//! unix sockets, TCP, files or stdio. This is eddy's take on NEMEA's TRAP
//! and UniRec: any pyarrow, polars or DuckDB program can read or write the
//! same streams.
//!
//! - [`spec`]: the interface spec language;
//! - [`ipc`]: framing and encoding of IPC messages (size caps, schema
//!   changes as consecutive streams); [`layout`] checks a batch's buffers
//!   so that reading can skip arrow's slower validation;
//! - [`input`] and [`output`]: the transports, reconnects, fan-out, slow
//!   client policies;
//! - [`sparse`]: unused nullable flow columns left out on the wire and put
//!   back for the modules that need them;
//! - [`runner`]: the [`Module`] trait and the loop that drives one module,
//!   its control socket and statistics.
//!
//! Not here: the modules themselves (the `eddy` binary's `module` folder,
//! and the detectors).

pub mod columns;
pub mod flows;
pub mod input;
pub mod ipc;
pub mod layout;
pub mod output;
pub mod runner;
pub mod spec;
pub mod stats;

pub use flows::FlowWriter;
pub use output::Output;
pub use runner::{run, Module, ModuleError, Outputs, Produced, RunOptions, Wanted};
/// Sparse flow streams live beside the flow schema (the store's spool uses
/// them too).
pub use schema::sparse;
pub use spec::{SlowPolicy, Spec, Transport};

/// Logs a line to stderr, prefixed with the module's name.
pub fn log(line: &str) {
    let name = runner::module_name();
    eprintln!("eddy module {name}: {line}");
}
