//! `eddy module anonymize -i IN,OUT -k KEY`: the collector's anonymisation
//! stage as a module. Rewrites `src_ip` and `dst_ip` (16-byte addresses)
//! with Crypto-PAn (prefix-preserving, keyed) or truncation; every other
//! column passes through untouched.

use std::net::Ipv6Addr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use arrow_array::{Array, ArrayRef, FixedSizeBinaryArray, RecordBatch};
use arrow_schema::{DataType, SchemaRef};
use clap::Args;
use enrich::{Anonymizer, CryptoPan, Truncate};
use stream::{Module, ModuleError, Outputs};

use super::Common;

#[derive(Args)]
pub struct AnonymizeArgs {
    #[command(flatten)]
    common: Common,
    /// Crypto-PAn key file (32 raw bytes or 64 hex digits).
    #[arg(
        short = 'k',
        long = "key-file",
        value_name = "FILE",
        conflicts_with = "truncate"
    )]
    key_file: Option<PathBuf>,
    /// Truncate instead: keep V4/V6 leading bits (e.g. 24/48).
    #[arg(long, value_name = "V4/V6")]
    truncate: Option<String>,
}

const ADDRESS_COLUMNS: [&str; 2] = ["src_ip", "dst_ip"];

struct Anonymize {
    anonymizer: Anonymizer,
    /// Indices of the address columns in the current stream.
    columns: Vec<usize>,
    records: u64,
}

impl Module for Anonymize {
    fn outputs(&self) -> usize {
        1
    }

    fn inputs(&self) -> (usize, Option<usize>) {
        (1, Some(1))
    }

    fn on_schema(&mut self, _input: usize, schema: &SchemaRef) -> Result<(), String> {
        self.columns.clear();
        for name in ADDRESS_COLUMNS {
            if let Some((i, field)) = schema.column_with_name(name) {
                if field.data_type() != &DataType::FixedSizeBinary(16) {
                    return Err(format!(
                        "field {name} has type {}, expected FixedSizeBinary(16)",
                        field.data_type()
                    ));
                }
                self.columns.push(i);
            }
        }
        Ok(())
    }

    fn process(
        &mut self,
        _input: usize,
        batch: &RecordBatch,
        out: &mut Outputs,
    ) -> Result<(), ModuleError> {
        let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
        for &i in &self.columns {
            columns[i] = anonymize_column(&self.anonymizer, batch.column(i))?;
        }
        self.records += batch.num_rows() as u64;
        out.send(0, &RecordBatch::try_new(batch.schema(), columns)?)
    }

    fn stats_json(&self) -> String {
        format!("\"anonymized\":{}", self.records)
    }
}

fn anonymize_column(anonymizer: &Anonymizer, column: &ArrayRef) -> Result<ArrayRef, ModuleError> {
    let addrs = column
        .as_any()
        .downcast_ref::<FixedSizeBinaryArray>()
        .ok_or("address column is not FixedSizeBinary(16)")?;
    let values: Vec<Option<[u8; 16]>> = (0..addrs.len())
        .map(|row| {
            if addrs.is_null(row) {
                return None;
            }
            let bytes: [u8; 16] = addrs.value(row).try_into().ok()?;
            Some(anonymizer.anonymize_ip(Ipv6Addr::from(bytes)).octets())
        })
        .collect();
    let array = FixedSizeBinaryArray::try_from_sparse_iter_with_size(values.into_iter(), 16)?;
    Ok(Arc::new(array))
}

fn anonymizer(args: &AnonymizeArgs) -> Result<Anonymizer> {
    if let Some(path) = &args.key_file {
        let pan = CryptoPan::from_key_file(path)
            .with_context(|| format!("key file {}", path.display()))?;
        return Ok(Anonymizer::CryptoPan(Box::new(pan)));
    }
    if let Some(bits) = &args.truncate {
        let (v4, v6) = bits.split_once('/').unwrap_or((bits.as_str(), "48"));
        let (Ok(v4), Ok(v6)) = (v4.parse::<u8>(), v6.parse::<u8>()) else {
            bail!("--truncate {bits}: expected V4/V6 prefix lengths such as 24/48");
        };
        if v4 > 32 || v6 > 128 {
            bail!("--truncate {bits}: IPv4 keeps at most 32 bits, IPv6 at most 128");
        }
        return Ok(Anonymizer::Truncate(Truncate {
            v4_bits: v4,
            v6_bits: v6,
        }));
    }
    bail!("anonymize needs -k KEY_FILE (Crypto-PAn) or --truncate V4/V6")
}

pub fn run(args: AnonymizeArgs) -> Result<()> {
    let mut module = Anonymize {
        anonymizer: anonymizer(&args)?,
        columns: Vec::new(),
        records: 0,
    };
    super::run_module("anonymize", &args.common, &mut module)
}
