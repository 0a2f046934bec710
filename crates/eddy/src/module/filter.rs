//! `eddy module filter -i IN,OUT -F FILTER [-O FIELDS]`, NEMEA's
//! unirecfilter: pass on the records matching a filter (nfdump's language
//! plus eddy's columns), optionally only some fields. With `-f RULES`
//! every rule `FIELDS:FILTER;` feeds its own output, in order. SIGHUP
//! re-reads the rules; a bad new set keeps the old one (no record is lost
//! either way: batches are filtered whole by one rule set or the other).

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use clap::Args;
use filter::batch::BatchFilter;
use stream::{Module, ModuleError, Outputs};

use super::Common;

#[derive(Args)]
pub struct FilterArgs {
    #[command(flatten)]
    common: Common,
    /// The filter expression (nfdump's language, plus eddy's columns).
    #[arg(
        short = 'F',
        long = "filter",
        value_name = "EXPR",
        conflicts_with = "rules"
    )]
    filter: Option<String>,
    /// A rules file: `FIELDS:FILTER;` per output (FIELDS may be empty for
    /// every field; `#` starts a comment line).
    #[arg(short = 'f', long = "rules", value_name = "FILE")]
    rules: Option<PathBuf>,
    /// Output only these fields, comma separated (with -F).
    #[arg(short = 'O', long = "fields", value_name = "FIELDS")]
    fields: Option<String>,
}

/// One rule: which records, which fields, to which output.
struct Rule {
    filter: filter::Filter,
    fields: Option<Vec<String>>,
    /// Compiled for the current stream's schema.
    compiled: Option<(BatchFilter, Option<Vec<usize>>)>,
    passed: u64,
}

struct FilterModule {
    /// Where the rules come from, for reloads.
    args_filter: Option<String>,
    args_fields: Option<String>,
    rules_file: Option<PathBuf>,
    rules: Vec<Rule>,
    schema: Option<SchemaRef>,
    seen: u64,
}

impl FilterModule {
    fn load(&self) -> Result<Vec<Rule>> {
        match (&self.args_filter, &self.rules_file) {
            (Some(expr), None) => Ok(vec![rule(expr, self.args_fields.as_deref())?]),
            (None, Some(path)) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading rules {}", path.display()))?;
                parse_rules(&text).with_context(|| format!("in {}", path.display()))
            }
            _ => bail!("filter needs -F FILTER or -f RULES_FILE"),
        }
    }

    fn compile(rules: &mut [Rule], schema: &SchemaRef) -> Result<(), String> {
        for r in rules.iter_mut() {
            let filter = BatchFilter::new(&r.filter.expr, schema).map_err(|e| e.to_string())?;
            let projection = match &r.fields {
                None => None,
                Some(names) => {
                    let mut idx = Vec::new();
                    let mut missing = Vec::new();
                    for n in names {
                        match schema.index_of(n) {
                            Ok(i) => idx.push(i),
                            Err(_) => missing.push(n.as_str()),
                        }
                    }
                    if !missing.is_empty() {
                        return Err(format!(
                            "the stream lacks output fields: {}",
                            missing.join(", ")
                        ));
                    }
                    Some(idx)
                }
            };
            r.compiled = Some((filter, projection));
        }
        Ok(())
    }
}

fn rule(expr: &str, fields: Option<&str>) -> Result<Rule> {
    let filter = filter::parse(expr).map_err(|e| anyhow::anyhow!("filter '{expr}': {e}"))?;
    let fields = fields
        .map(|f| {
            f.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
        })
        .filter(|v| !v.is_empty());
    Ok(Rule {
        filter,
        fields,
        compiled: None,
        passed: 0,
    })
}

/// `FIELDS:FILTER;` rules. The field list is optional; a colon that starts
/// an IPv6 address (`host ::1`) is not mistaken for its end.
fn parse_rules(text: &str) -> Result<Vec<Rule>> {
    let body: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    let mut rules = Vec::new();
    for item in body.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        let (fields, expr) = split_rule(item);
        rules.push(rule(expr.trim(), fields)?);
    }
    if rules.is_empty() {
        bail!("no rules (expected FIELDS:FILTER; per output)");
    }
    Ok(rules)
}

fn split_rule(item: &str) -> (Option<&str>, &str) {
    let Some(colon) = item.find(':') else {
        return (None, item);
    };
    let (head, tail) = (&item[..colon], &item[colon + 1..]);
    let is_field_list = head.split(',').all(|n| {
        n.trim().is_empty()
            || n.trim()
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    });
    if is_field_list && !tail.starts_with(':') {
        (Some(head), tail)
    } else {
        (None, item)
    }
}

impl Module for FilterModule {
    fn outputs(&self) -> usize {
        self.rules.len()
    }

    fn required_fields(&self) -> Vec<String> {
        let mut need: Vec<String> = Vec::new();
        for r in &self.rules {
            need.extend(
                filter::batch::required_columns(&r.filter.expr)
                    .into_iter()
                    .map(String::from),
            );
            need.extend(r.fields.iter().flatten().cloned());
        }
        need.sort();
        need.dedup();
        need
    }

    fn on_schema(&mut self, _input: usize, schema: &SchemaRef) -> Result<(), String> {
        Self::compile(&mut self.rules, schema)?;
        self.schema = Some(schema.clone());
        Ok(())
    }

    fn process(
        &mut self,
        _input: usize,
        batch: &RecordBatch,
        out: &mut Outputs,
    ) -> Result<(), ModuleError> {
        if self.schema.as_ref() != Some(&batch.schema()) {
            let schema = batch.schema();
            Self::compile(&mut self.rules, &schema)?;
            self.schema = Some(schema);
        }
        self.seen += batch.num_rows() as u64;
        for (i, r) in self.rules.iter_mut().enumerate() {
            let Some((compiled, projection)) = &r.compiled else {
                continue;
            };
            let mask = compiled.eval(batch);
            let mut passed = stream::columns::filter(batch, &mask)?;
            if passed.num_rows() == 0 {
                continue;
            }
            if let Some(p) = projection {
                passed = passed.project(p)?;
            }
            r.passed += passed.num_rows() as u64;
            out.send(i, &passed)?;
        }
        Ok(())
    }

    fn reload(&mut self) -> Result<(), String> {
        let mut rules = self.load().map_err(|e| format!("{e:#}"))?;
        if rules.len() != self.rules.len() {
            return Err(format!(
                "the rules now need {} outputs, the module has {}",
                rules.len(),
                self.rules.len()
            ));
        }
        if let Some(schema) = &self.schema {
            Self::compile(&mut rules, schema)?;
        }
        self.rules = rules;
        Ok(())
    }

    fn stats_json(&self) -> String {
        let passed: Vec<String> = self.rules.iter().map(|r| r.passed.to_string()).collect();
        format!("\"seen\":{},\"passed\":[{}]", self.seen, passed.join(","))
    }
}

pub fn run(args: FilterArgs) -> Result<()> {
    if args.rules.is_some() && args.fields.is_some() {
        bail!("-O applies to -F; in a rules file each rule names its fields");
    }
    let mut module = FilterModule {
        args_filter: args.filter.clone(),
        args_fields: args.fields.clone(),
        rules_file: args.rules.clone(),
        rules: Vec::new(),
        schema: None,
        seen: 0,
    };
    module.rules = module.load()?;
    super::run_module("filter", &args.common, &mut module)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_split_fields_from_filters() {
        assert_eq!(
            split_rule("src_ip,dst_ip:proto tcp"),
            (Some("src_ip,dst_ip"), "proto tcp")
        );
        assert_eq!(split_rule(":proto tcp"), (Some(""), "proto tcp"));
        assert_eq!(split_rule("host ::1"), (None, "host ::1"));
        assert_eq!(split_rule("src_ip:host ::1"), (Some("src_ip"), "host ::1"));
        assert_eq!(split_rule("proto udp"), (None, "proto udp"));
        let rules = parse_rules("# web\nsrc_ip,dst_port: dst port 80;\n: proto udp;\n").unwrap();
        assert_eq!(rules.len(), 2);
        assert_eq!(
            rules[0].fields.as_deref(),
            Some(&["src_ip".to_string(), "dst_port".to_string()][..])
        );
        assert!(rules[1].fields.is_none());
        assert!(parse_rules("# nothing\n").is_err());
        assert!(parse_rules("x:proto bogus;").is_err());
    }
}
