//! The filter AST has two evaluators: `filter::Filter::matches` on records
//! in memory, and this crate's lowering to DataFusion over the store's
//! Parquet files. For several hundred expressions (every matching check of
//! `test_data/filter/*.tsv` plus expressions generated from the grammar
//! over the values the records hold) both must select the same records.

mod common;

use std::collections::BTreeSet;

use common::*;
use record::FlowRecord;

#[test]
fn datafusion_and_in_memory_evaluation_agree() {
    let root = std::env::temp_dir().join(format!("eddy-query-lowering-{}", std::process::id()));
    let recs = records(600);
    let files = write_store(&root, &recs);
    let engine = query::Engine::new(&query::Config {
        threads: 2,
        ..Default::default()
    })
    .unwrap();

    let mut exprs = corpus_from_tsv();
    let mut rng = Rng(42);
    for i in 0..250 {
        exprs.push(random_filter(&mut rng, (i % 4) as u32));
    }
    let (mut run, mut nonempty, mut partial) = (0, 0, 0);
    let mut failures = Vec::new();
    for text in &exprs {
        let Ok(f) = filter::parse(text) else {
            // Parse errors are the filter crate's business (nftest.rs).
            continue;
        };
        run += 1;
        let want: BTreeSet<u64> = recs
            .iter()
            .filter(|r| f.matches(r))
            .map(|r| r.packets)
            .collect();
        let lowered = query::lower(&f.expr);
        let mut got = BTreeSet::new();
        let res = engine.flows(&files, &lowered, Some(&["packets"]), None, None, |b| {
            got.extend(b.iter().map(|r| r.packets));
            Ok(true)
        });
        if let Err(e) = res {
            failures.push(format!("`{text}`: error {e}"));
            continue;
        }
        if !want.is_empty() {
            nonempty += 1;
        }
        if !want.is_empty() && want.len() < recs.len() {
            partial += 1;
        }
        if want != got {
            let only_mem: Vec<_> = want.difference(&got).take(5).collect();
            let only_df: Vec<_> = got.difference(&want).take(5).collect();
            failures.push(format!(
                "`{text}` ({}): in memory {} rows, DataFusion {}; only in memory {only_mem:?}, only DataFusion {only_df:?}",
                f.expr,
                want.len(),
                got.len()
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&root);
    assert!(
        failures.is_empty(),
        "{} of {run} differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(run >= 400, "only {run} expressions ran");
    // The corpus must discriminate: many expressions select some but not all rows.
    assert!(
        partial >= 200,
        "only {partial} expressions select a proper subset ({nonempty} non-empty)"
    );
}

#[test]
fn totals_and_groups_match_the_records() {
    let root = std::env::temp_dir().join(format!("eddy-query-groups-{}", std::process::id()));
    let recs = records(300);
    let files = write_store(&root, &recs);
    let engine = query::Engine::new(&query::Config {
        threads: 2,
        ..Default::default()
    })
    .unwrap();
    let f = filter::parse("proto tcp or proto udp").unwrap();
    let lowered = query::lower(&f.expr);
    let sel: Vec<&FlowRecord> = recs.iter().filter(|r| f.matches(r)).collect();
    let t = engine.totals(&files, &lowered).unwrap();
    assert_eq!(t.flows, sel.len() as u64);
    assert_eq!(t.packets, sel.iter().map(|r| r.packets).sum::<u64>());
    assert_eq!(t.bytes, sel.iter().map(|r| r.bytes).sum::<u64>());
    assert_eq!(t.first_ns, sel.iter().map(|r| r.first_ns).min().unwrap());
    assert_eq!(t.last_ns, sel.iter().map(|r| r.last_ns).max().unwrap());

    // -s ip: a flow counts for its source and its destination.
    let groups = engine
        .groups(
            &files,
            &lowered,
            &[
                vec![query::Key::Column("src_ip".into())],
                vec![query::Key::Column("dst_ip".into())],
            ],
            query::Order::Bytes,
            None,
            false,
        )
        .unwrap()
        .groups;
    let mut want = std::collections::BTreeMap::<[u8; 16], (u64, u64)>::new();
    for r in &sel {
        for a in [r.src_ip, r.dst_ip] {
            let e = want.entry(a.octets()).or_default();
            e.0 += 1;
            e.1 += r.bytes;
        }
    }
    assert_eq!(groups.len(), want.len());
    for w in groups.windows(2) {
        assert!(w[0].bytes >= w[1].bytes);
    }
    for g in &groups {
        let k = query::engine::key_addr(&g.keys[0]).unwrap().octets();
        assert_eq!(want[&k], (g.flows, g.bytes));
    }

    // -A srcip4/24: prefixes.
    let groups = engine
        .groups(
            &files,
            &query::lower(&filter::Expr::True),
            &[vec![query::Key::Masked {
                column: "src_ip".into(),
                bits: 24,
                v4: true,
            }]],
            query::Order::Flows,
            Some(3),
            true,
        )
        .unwrap()
        .groups;
    assert_eq!(groups.len(), 3);
    let _ = std::fs::remove_dir_all(&root);
}
