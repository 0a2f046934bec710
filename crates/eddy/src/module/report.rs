//! `eddy module report -i ALERTS1[,ALERTS2...] [-c RULES.toml] [--db FILE]`:
//! reads alert streams (the detectors' output, [`super::detect::alert_schema`])
//! and routes each alert by the rules to the alert store (SQLite), IDEA JSON
//! lines files, webhooks and email; alerts of an ongoing attack are merged
//! (see `alerts::router`). No config: everything to the store `./alerts.db`.
//! Webhooks and email are sent from a queue and thread each, so a slow
//! server never holds up the stream; at the end (end of stream, SIGTERM)
//! `finish` drains those queues for at most the config's `drain` seconds.

use std::path::PathBuf;

use anyhow::{anyhow, Result};
use arrow_array::cast::AsArray;
use arrow_array::types::{TimestampNanosecondType, UInt64Type};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::DataType;
use clap::Args;
use stream::{Module, ModuleError, Outputs};

use super::Common;

#[derive(Args)]
pub struct ReportArgs {
    #[command(flatten)]
    common: Common,
    /// Routing rules (TOML: [[route]] match = {...}, to = {store, file, webhook, email, queue}).
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    config: Option<PathBuf>,
    /// The alert store: without -c, every alert goes there (default
    /// ./alerts.db); with -c, every alert goes there too.
    #[arg(long = "db", value_name = "FILE")]
    db: Option<PathBuf>,
}

/// The alert stream's columns the report reads.
const REQUIRED: [&str; 6] = [
    "idea",
    "detect_time",
    "detector",
    "category",
    "source",
    "target",
];

struct Report {
    router: ::alerts::Router,
    alerts: u64,
    /// Rows whose IDEA JSON had no ID.
    bad: u64,
}

fn column<'a>(batch: &'a RecordBatch, name: &str) -> Option<&'a ArrayRef> {
    batch.schema().index_of(name).ok().map(|i| batch.column(i))
}

fn text(col: Option<&ArrayRef>, row: usize) -> Result<Option<String>, String> {
    let Some(a) = col else { return Ok(None) };
    if a.is_null(row) {
        return Ok(None);
    }
    match a.data_type() {
        DataType::Utf8 => Ok(Some(a.as_string::<i32>().value(row).to_string())),
        DataType::LargeUtf8 => Ok(Some(a.as_string::<i64>().value(row).to_string())),
        DataType::Utf8View => Ok(Some(a.as_string_view().value(row).to_string())),
        t => Err(format!("a text column is {t}")),
    }
}

fn time(col: Option<&ArrayRef>, row: usize) -> Result<Option<i64>, String> {
    let Some(a) = col else { return Ok(None) };
    if a.is_null(row) {
        return Ok(None);
    }
    match a.data_type() {
        DataType::Timestamp(arrow_schema::TimeUnit::Nanosecond, _) => {
            Ok(Some(a.as_primitive::<TimestampNanosecondType>().value(row)))
        }
        t => Err(format!("a time column is {t}, not a ns timestamp")),
    }
}

impl Module for Report {
    fn outputs(&self) -> usize {
        0
    }

    fn required_fields(&self) -> Vec<String> {
        REQUIRED.iter().map(|s| s.to_string()).collect()
    }

    fn process(
        &mut self,
        _input: usize,
        batch: &RecordBatch,
        _out: &mut Outputs,
    ) -> Result<(), ModuleError> {
        let cols = [
            "idea",
            "detect_time",
            "event_time",
            "cease_time",
            "detector",
            "category",
            "source",
            "target",
            "description",
            "flows",
        ]
        .map(|n| column(batch, n));
        let [idea, detect, event, cease, detector, category, source, target, description, flows] =
            cols;
        let flows = match flows {
            Some(a) if a.data_type() == &DataType::UInt64 => Some(a.as_primitive::<UInt64Type>()),
            _ => None,
        };
        for row in 0..batch.num_rows() {
            let Some(json) = text(idea, row)? else {
                self.bad += 1;
                continue;
            };
            let id = serde_json::from_str::<serde_json::Value>(&json)
                .ok()
                .and_then(|v| v.get("ID").and_then(|i| i.as_str()).map(str::to_string));
            let Some(id) = id else {
                self.bad += 1;
                eprintln!("report: an alert without an IDEA ID: {json}");
                continue;
            };
            let detect_time = time(detect, row)?.unwrap_or(0);
            let alert = ::alerts::AlertRow {
                id,
                detect_time,
                event_time: time(event, row)?.unwrap_or(detect_time),
                cease_time: time(cease, row)?.unwrap_or(detect_time),
                detector: text(detector, row)?.unwrap_or_default(),
                category: text(category, row)?.unwrap_or_default(),
                source: text(source, row)?,
                target: text(target, row)?,
                description: text(description, row)?.unwrap_or_default(),
                flows: flows
                    .filter(|f| !f.is_null(row))
                    .map_or(0, |f| f.value(row)),
                merged: 1,
                idea: json,
            };
            self.alerts += 1;
            self.router.route(&alert);
        }
        Ok(())
    }

    fn finish(&mut self, _out: &mut Outputs) -> Result<(), ModuleError> {
        // Counts and logs what the deadline leaves undelivered.
        self.router.drain();
        Ok(())
    }

    fn stats_json(&self) -> String {
        format!(
            "\"alerts\":{},\"bad\":{},{}",
            self.alerts,
            self.bad,
            self.router.stats().to_json()
        )
    }
}

pub fn run(args: ReportArgs) -> Result<()> {
    let config = match (&args.config, &args.db) {
        (None, None) => ::alerts::Config::default(),
        (None, Some(db)) => ::alerts::Config::store_only(db.clone()),
        (Some(path), db) => {
            let mut config = ::alerts::Config::load(path).map_err(|e| anyhow!(e))?;
            if let Some(db) = db {
                config
                    .route
                    .extend(::alerts::Config::store_only(db.clone()).route);
            }
            config
        }
    };
    let router = ::alerts::Router::new(&config).map_err(|e| anyhow!(e))?;
    let mut module = Report {
        router,
        alerts: 0,
        bad: 0,
    };
    super::run_module("report", &args.common, &mut module)
}
