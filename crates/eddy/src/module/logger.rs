//! `eddy module logger -i IN[,IN2...]`: print a stream as CSV with a header
//! line (the store's column names, values as `eddy meter -o csv` prints
//! them) or as JSON lines, to stdout or a file; NEMEA's logger.

use std::fs::OpenOptions;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use clap::Args;
use schema::text::{CsvWriter, JsonWriter};
use stream::{Module, ModuleError, Outputs};

use super::Common;

#[derive(Args)]
pub struct LoggerArgs {
    #[command(flatten)]
    common: Common,
    /// csv (with a header line) or json (one object per line).
    #[arg(short = 'o', long = "format", default_value = "csv", value_parser = ["csv", "json"])]
    format: String,
    /// Print only these fields, comma separated, in this order.
    #[arg(short = 'O', long = "fields", value_name = "FIELDS")]
    fields: Option<String>,
    /// No CSV header line.
    #[arg(long)]
    no_header: bool,
    /// Stop after this many records.
    #[arg(short = 'c', long = "count", value_name = "N")]
    count: Option<u64>,
    /// Write to FILE instead of stdout.
    #[arg(
        short = 'w',
        long = "write",
        value_name = "FILE",
        conflicts_with = "append"
    )]
    write: Option<PathBuf>,
    /// Append to FILE.
    #[arg(short = 'a', long = "append", value_name = "FILE")]
    append: Option<PathBuf>,
}

enum Writer {
    Csv(CsvWriter),
    Json(JsonWriter),
}

struct Logger {
    json: bool,
    fields: Option<Vec<String>>,
    header: bool,
    out: Box<dyn Write>,
    buf: Vec<u8>,
    /// A writer per input, made for the input's current schema.
    writers: Vec<Option<(SchemaRef, Writer)>>,
    remaining: u64,
    printed: u64,
}

impl Logger {
    fn writer_for(&mut self, input: usize, schema: &SchemaRef) -> Result<&mut Writer, String> {
        if self.writers.len() <= input {
            self.writers.resize_with(input + 1, || None);
        }
        let stale = self.writers[input]
            .as_ref()
            .is_none_or(|(s, _)| s != schema);
        if stale {
            let fields = self.fields.as_deref();
            // A new schema gets a new writer, and so its own header line:
            // each part of the output says what its columns are.
            let w = match (self.json, fields) {
                (true, None) => Writer::Json(JsonWriter::new()),
                (true, Some(f)) => {
                    Writer::Json(JsonWriter::with_columns(schema, f).map_err(|e| e.to_string())?)
                }
                (false, None) => Writer::Csv(CsvWriter::new().with_header(self.header)),
                (false, Some(f)) => Writer::Csv(
                    CsvWriter::with_columns(schema, f)
                        .map_err(|e| e.to_string())?
                        .with_header(self.header),
                ),
            };
            self.writers[input] = Some((schema.clone(), w));
        }
        match &mut self.writers[input] {
            Some((_, w)) => Ok(w),
            None => Err("no writer".into()),
        }
    }
}

impl Module for Logger {
    fn outputs(&self) -> usize {
        0
    }

    fn required_fields(&self) -> Vec<String> {
        self.fields.clone().unwrap_or_default()
    }

    fn wanted(&self) -> stream::Wanted {
        // Every flow column, so the CSV columns stay those of `eddy meter
        // -o csv` whatever the sender left out of the stream.
        match self.fields {
            Some(_) => stream::Wanted::Fields,
            None => stream::Wanted::WholeFlows,
        }
    }

    fn on_schema(&mut self, input: usize, schema: &SchemaRef) -> Result<(), String> {
        self.writer_for(input, schema).map(|_| ())
    }

    fn process(
        &mut self,
        input: usize,
        batch: &RecordBatch,
        _out: &mut Outputs,
    ) -> Result<(), ModuleError> {
        if self.remaining == 0 {
            return Ok(());
        }
        let rows = (batch.num_rows() as u64).min(self.remaining) as usize;
        let batch = batch.slice(0, rows);
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        match self.writer_for(input, &batch.schema())? {
            Writer::Csv(w) => w.write_batch(&batch, &mut buf)?,
            Writer::Json(w) => w.write_batch(&batch, &mut buf)?,
        }
        self.out.write_all(&buf)?;
        self.buf = buf;
        self.remaining -= rows as u64;
        self.printed += rows as u64;
        Ok(())
    }

    fn tick(&mut self, _out: &mut Outputs) -> Result<(), ModuleError> {
        // A quiet stream's lines still show within a tick.
        Ok(self.out.flush()?)
    }

    fn finish(&mut self, _out: &mut Outputs) -> Result<(), ModuleError> {
        Ok(self.out.flush()?)
    }

    fn done(&self) -> bool {
        self.remaining == 0
    }

    fn stats_json(&self) -> String {
        format!("\"printed\":{}", self.printed)
    }
}

pub fn run(args: LoggerArgs) -> Result<()> {
    let out: Box<dyn Write> = match (&args.write, &args.append) {
        (Some(path), _) | (_, Some(path)) => {
            let file = OpenOptions::new()
                .create(true)
                .write(true)
                .append(args.append.is_some())
                .truncate(args.append.is_none())
                .open(path)
                .with_context(|| format!("opening {}", path.display()))?;
            Box::new(BufWriter::with_capacity(1 << 20, file))
        }
        _ => Box::new(BufWriter::with_capacity(1 << 20, io::stdout())),
    };
    let fields = args.fields.as_deref().map(|f| {
        f.split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
    });
    if fields.as_ref().is_some_and(|f| f.is_empty()) {
        bail!("-O needs at least one field name");
    }
    let mut module = Logger {
        json: args.format == "json",
        fields,
        header: !args.no_header,
        out,
        buf: Vec::with_capacity(1 << 20),
        writers: Vec::new(),
        remaining: args.count.unwrap_or(u64::MAX),
        printed: 0,
    };
    super::run_module("logger", &args.common, &mut module)
}
