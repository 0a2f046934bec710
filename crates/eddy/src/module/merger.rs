//! `eddy module merger -i IN1,...,INn,OUT`: every input's batches, in the
//! order they arrive, on one output (NEMEA's merger). Inputs may differ in
//! schema: each change starts a new IPC stream on the output, which
//! receivers follow.

use anyhow::Result;
use arrow_array::RecordBatch;
use clap::Args;
use stream::{Module, ModuleError, Outputs};

use super::Common;

#[derive(Args)]
pub struct MergerArgs {
    #[command(flatten)]
    common: Common,
}

struct Merger {
    records: u64,
}

impl Module for Merger {
    fn outputs(&self) -> usize {
        1
    }

    fn process(
        &mut self,
        _input: usize,
        batch: &RecordBatch,
        out: &mut Outputs,
    ) -> Result<(), ModuleError> {
        self.records += batch.num_rows() as u64;
        out.send(0, batch)
    }

    fn stats_json(&self) -> String {
        format!("\"merged\":{}", self.records)
    }
}

pub fn run(args: MergerArgs) -> Result<()> {
    super::run_module("merger", &args.common, &mut Merger { records: 0 })
}
