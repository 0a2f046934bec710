//! Alert rules written in the filter language (the `filter` crate) over
//! flow and L7 fields: each [`Rule`] has a name, an IDEA category and a
//! description; a flow matching its filter is an event of the flow's
//! source host. Rules are compiled per stream schema into
//! [`filter::BatchFilter`]s (cached while the schema stays the same) and
//! evaluated column-wise on each batch.
//!
//! Alerts are aggregated as the blacklist's: one per (rule, source host)
//! at its first match, further matches within the aggregation interval
//! (60 s of record time) counted and reported with the next alert after
//! it. Source = the flow's source, Target = its destination (with the
//! destination ports).
//!
//! Rules file ([`parse_rules`]): one rule per line,
//!
//! ```text
//! # comment
//! category | description | filter
//! Attempt.Exploit | Demo bot | http_user_agent ~ "demo_bot-.*" or http_url ~ "/demo/bot$"
//! ```
//!
//! The first two `|` separate the fields, so the filter itself may use
//! `||`. Blank lines and lines whose first non-blank character is `#` are
//! skipped. The rule's name is `line N`, or `NAME:` written before the
//! category (`demo: Attempt.Exploit | ...`).

use std::sync::Arc;

use arrow_schema::Schema;
use filter::BatchFilter;

use crate::blacklist::{intern, Aggregator, Hit, Report};
use crate::{Alert, Detector, Flows, NS};

/// One alert rule.
#[derive(Clone, Debug)]
pub struct Rule {
    pub name: String,
    /// IDEA category (`Attempt.Exploit`, `Malware.Trojan`, ...; one of
    /// [`crate::alert::IDEA_CATEGORIES`]).
    pub category: String,
    pub description: String,
    pub filter: filter::Filter,
}

impl Rule {
    /// A rule from its filter text; the error says where the text is wrong.
    pub fn new(
        name: &str,
        category: &str,
        description: &str,
        filter: &str,
    ) -> Result<Rule, String> {
        let category = crate::alert::idea_category(category.trim())?;
        let filter = filter::parse(filter).map_err(|e| e.to_string())?;
        Ok(Rule {
            name: name.to_string(),
            category: category.to_string(),
            description: description.trim().to_string(),
            filter,
        })
    }
}

/// Rules of a rules file's text (format in the module docs); errors name
/// the line.
pub fn parse_rules(text: &str) -> Result<Vec<Rule>, String> {
    let mut rules = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let n = n + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.splitn(3, '|');
        let (Some(head), Some(description), Some(filter)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(format!(
                "line {n}: expected `category | description | filter`"
            ));
        };
        let (name, category) = match head.split_once(':') {
            Some((name, c)) => (name.trim().to_string(), c.trim()),
            None => (format!("line {n}"), head.trim()),
        };
        if category.is_empty() || filter.trim().is_empty() {
            return Err(format!("line {n}: empty category or filter"));
        }
        rules.push(
            Rule::new(&name, category, description, filter)
                .map_err(|e| format!("line {n}: {e}"))?,
        );
    }
    Ok(rules)
}

/// [`parse_rules`] of a file.
pub fn load_rules(path: impl AsRef<std::path::Path>) -> Result<Vec<Rule>, String> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse_rules(&text).map_err(|e| format!("{}: {e}", path.display()))
}

#[derive(Clone, Copy, Debug, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Matches of one (rule, source) within this much record time of its
    /// last alert are counted, not alerted (60 s).
    #[serde(rename = "aggregation_secs", with = "crate::config::secs")]
    pub aggregation_ns: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            aggregation_ns: 60 * NS,
        }
    }
}

struct Compiled {
    category: &'static str,
    rule: Rule,
}

/// (rule, source host).
type Key = (u32, [u8; 16]);

pub struct L7Filter {
    rules: Vec<Compiled>,
    /// Filters compiled for `schema`; `None` for a rule whose columns the
    /// stream lacks (the reason is in `errors`).
    schema: Option<Arc<Schema>>,
    compiled: Vec<Option<BatchFilter>>,
    agg: Aggregator<Key>,
    due: Vec<(Key, Report)>,
    /// Rules that cannot run on the current stream, and why.
    pub errors: Vec<String>,
}

impl L7Filter {
    pub fn new(rules: Vec<Rule>) -> L7Filter {
        L7Filter::with_config(rules, Config::default())
    }

    pub fn with_config(rules: Vec<Rule>, config: Config) -> L7Filter {
        L7Filter {
            rules: rules
                .into_iter()
                .map(|rule| Compiled {
                    category: intern(&rule.category),
                    rule,
                })
                .collect(),
            schema: None,
            compiled: Vec::new(),
            agg: Aggregator::new(config.aggregation_ns),
            due: Vec::new(),
            errors: Vec::new(),
        }
    }

    /// Compiles the rules for `schema` unless they already are.
    fn compile_for(&mut self, schema: &Arc<Schema>) {
        if let Some(s) = &self.schema {
            if Arc::ptr_eq(s, schema) {
                return;
            }
            if **s == **schema {
                self.schema = Some(schema.clone());
                return;
            }
        }
        self.errors.clear();
        self.compiled = self
            .rules
            .iter()
            .map(|c| match BatchFilter::from_filter(&c.rule.filter, schema) {
                Ok(f) => Some(f),
                Err(e) => {
                    self.errors.push(format!("rule {}: {e}", c.rule.name));
                    None
                }
            })
            .collect();
        self.schema = Some(schema.clone());
    }

    fn alert(&self, (ri, src): Key, r: &Report, out: &mut Vec<Alert>) {
        let Some(c) = self.rules.get(ri as usize) else {
            return;
        };
        let (sources, targets) = r.endpoints(src);
        out.push(Alert {
            detector: "l7filter",
            category: vec![c.category],
            description: format!(
                "{} (rule {}, {} flow{})",
                c.rule.description,
                c.rule.name,
                r.flows,
                if r.flows == 1 { "" } else { "s" }
            ),
            detect_time_ns: r.detect_ns,
            event_time_ns: r.first_ns,
            cease_time_ns: r.last_ns,
            sources,
            targets,
            flows: r.flows,
            packets: r.packets,
            bytes: r.bytes,
        });
    }
}

impl Detector for L7Filter {
    fn name(&self) -> &'static str {
        "l7filter"
    }

    fn observe(&mut self, f: &Flows<'_>, out: &mut Vec<Alert>) {
        let batch = f.batch();
        self.compile_for(batch.schema_ref());
        for ri in 0..self.compiled.len() {
            let Some(bf) = &self.compiled[ri] else {
                continue;
            };
            let hits = bf.eval(batch);
            if hits.true_count() == 0 {
                continue;
            }
            for i in hits.values().set_indices() {
                let h = Hit::of(f, i, Some(f.dst(i)), f.dst_port[i]);
                let key = (ri as u32, f.src(i));
                if let Some(r) = self.agg.hit(key, &h) {
                    self.alert(key, &r, out);
                }
            }
        }
    }

    fn tick(&mut self, now_ns: u64, out: &mut Vec<Alert>) {
        let mut due = std::mem::take(&mut self.due);
        self.agg.due(now_ns, &mut due);
        for (k, r) in due.drain(..) {
            self.alert(k, &r, out);
        }
        self.due = due;
    }

    fn finish(&mut self, out: &mut Vec<Alert>) {
        let mut due = std::mem::take(&mut self.due);
        self.agg.drain(&mut due);
        for (k, r) in due.drain(..) {
            self.alert(k, &r, out);
        }
        self.due = due;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flows::ip_text;
    use crate::testing::{at_ms, batch, flow, l7_batch, L7};

    const SEED: &str = r#"http_user_agent ~ "demo_bot-.*" or http_url ~ "/demo/bot$" or http_host ~ "evilcorp.com$""#;

    fn run(d: &mut L7Filter, b: &arrow_array::RecordBatch) -> Vec<Alert> {
        let mut out = Vec::new();
        d.observe(&Flows::new(b).unwrap(), &mut out);
        out
    }

    fn http(rows: &[(u8, &str, &str, &str)], t_ms: u64) -> arrow_array::RecordBatch {
        let flows: Vec<_> = rows
            .iter()
            .map(|r| flow([10, 0, 0, r.0], [192, 0, 2, 1], 40000, 80, 6, 0x1b, 5, t_ms))
            .collect();
        let l7: Vec<_> = rows
            .iter()
            .map(|r| {
                vec![
                    ("http_user_agent", L7::Text(r.1)),
                    ("http_url", L7::Text(r.2)),
                    ("http_host", L7::Text(r.3)),
                ]
            })
            .collect();
        l7_batch(&flows, &l7)
    }

    #[test]
    fn the_seed_rule_matches_each_alternative() {
        let rules = vec![Rule::new("demo", "Attempt.Exploit", "Demo bot", SEED).unwrap()];
        let mut d = L7Filter::new(rules);
        let b = http(
            &[
                (1, "demo_bot-1.0", "/", "example.com"),
                (2, "curl/8", "/x/demo/bot", "example.com"),
                (3, "curl/8", "/", "www.evilcorp.com"),
                (4, "curl/8", "/demo/bot/no", "evilcorp.com.example"),
                (5, "Demo_Bot-1", "/", "example.com"),
            ],
            0,
        );
        let a = run(&mut d, &b);
        let srcs: Vec<String> = a.iter().map(|a| ip_text(a.sources[0].ip)).collect();
        assert_eq!(srcs, vec!["10.0.0.1", "10.0.0.2", "10.0.0.3"]);
        assert_eq!(a[0].category, vec!["Attempt.Exploit"]);
        assert_eq!(ip_text(a[0].targets[0].ip), "192.0.2.1");
        assert_eq!(a[0].targets[0].ports, vec![80]);
        assert!(
            a[0].description.starts_with("Demo bot (rule demo"),
            "{}",
            a[0].description
        );
        // Flows without HTTP fields never match.
        let plain = batch(&[flow([10, 0, 0, 9], [192, 0, 2, 1], 1, 80, 6, 0, 1, 0)]);
        assert!(run(&mut d, &plain).is_empty());
    }

    #[test]
    fn matches_are_aggregated_per_rule_and_source() {
        let rules = parse_rules(&format!(
            "# demo rules\n\ndemo: Attempt.Exploit | Demo bot | {SEED}\n\
             Malware.Trojan | Evil host | http_host = \"evil.example\" || http_host = \"evil2.example\"\n"
        ))
        .unwrap();
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[0].name, "demo");
        assert_eq!(rules[1].name, "line 4");
        assert_eq!(rules[1].category, "Malware.Trojan");
        let mut d = L7Filter::new(rules);
        let row = (1, "demo_bot-2", "/", "evil2.example");
        // Both rules match: one alert each.
        assert_eq!(run(&mut d, &http(&[row], 0)).len(), 2);
        // Within 60 s: counted only.
        assert!(run(&mut d, &http(&[row, row], 10_000)).is_empty());
        let a = run(&mut d, &http(&[row], 60_020));
        assert_eq!(a.len(), 2);
        assert_eq!(a[0].flows, 3);
        let mut t = Vec::new();
        assert!(run(&mut d, &http(&[row], 70_000)).is_empty());
        d.tick(at_ms(100_000), &mut t);
        assert!(t.is_empty());
        d.tick(at_ms(121_000), &mut t);
        assert_eq!(t.len(), 2);
        assert!(t.iter().all(|a| a.flows == 1));
    }

    #[test]
    fn schema_is_compiled_once_and_again_when_it_changes() {
        let mut d = L7Filter::new(vec![Rule::new("a", "Other", "x", SEED).unwrap()]);
        let b = http(&[(1, "demo_bot-1", "/", "h")], 0);
        run(&mut d, &b);
        let first = d.schema.clone().unwrap();
        run(&mut d, &http(&[(2, "demo_bot-1", "/", "h")], 0));
        assert!(
            Arc::ptr_eq(&first, d.schema.as_ref().unwrap())
                || *first == **d.schema.as_ref().unwrap()
        );
        // A stream without the HTTP columns: the rule is disabled with a reason.
        let keep: Vec<usize> = (0..b.num_columns())
            .filter(|&i| !b.schema().field(i).name().starts_with("http_"))
            .collect();
        let narrow = b.project(&keep).unwrap();
        assert!(run(&mut d, &narrow).is_empty());
        assert_eq!(d.errors.len(), 1, "{:?}", d.errors);
        assert!(d.errors[0].contains("http_"), "{:?}", d.errors);
        // Back to the full schema: works again.
        assert_eq!(
            run(&mut d, &http(&[(3, "demo_bot-1", "/", "h")], 0)).len(),
            1
        );
        assert!(d.errors.is_empty());
    }

    #[test]
    fn bad_rules_files_name_the_line() {
        let e = parse_rules("# ok\nOther | no filter\n").unwrap_err();
        assert!(e.starts_with("line 2"), "{e}");
        let e = parse_rules("Other | bad | http_host ~~ \n").unwrap_err();
        assert!(e.starts_with("line 1"), "{e}");
        assert!(parse_rules("# only comments\n\n").unwrap().is_empty());
    }
}
