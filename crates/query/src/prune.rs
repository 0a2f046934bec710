//! Windows left out by their summaries' address filters, port and
//! protocol sets.
//!
//! An analyst's commonest question is about one address or port: "which
//! flows did 192.0.2.7 have this week?", "did anything use port 4444?".
//! Most windows of a store never saw that address or port, yet a scan
//! reads every one of them. Each window summary keeps a Bloom filter and
//! the range of the window's source addresses and of its destination
//! addresses, and the exact sets of its source ports, destination ports
//! and protocols ([`store::summary::window_filters`]). A test of an
//! address (`host`, `src ip`, `dst net`, `ip in [...]`), a port (`port 53`,
//! `dst port > 1024`, `port in [...]`) or a protocol (`proto gre`) that a
//! window's summary rules out is `False`
//! for every flow of that window; [`filter::Expr::settle`] folds the rest
//! of the filter, and a window whose filter folds to `False` is not read.
//! A Bloom filter never says "no" for an address it holds, and the sets
//! are exact, so only windows without a selected flow are left out.

use std::path::PathBuf;

use filter::{CmpOp, Column, Expr};
use store::summary::{ValueSet, Wanted, WindowFilters};

/// The files of `files` that may hold flows `filter` selects, in their
/// order, and how many were left out; the summaries are read on `threads`
/// threads. Files without a summary, or whose summary lacks a part (older
/// ones) or cannot be read, are kept as far as the missing part goes
/// (their flows answer as before).
pub fn by_summaries(files: &[PathBuf], filter: &Expr, threads: usize) -> (Vec<PathBuf>, usize) {
    let mut columns = Vec::new();
    filter.columns(&mut columns);
    let wanted = Wanted {
        addresses: columns.iter().any(|c| address_side(*c).is_some()),
        ports: columns.iter().any(|c| port_side(*c).is_some()),
        protos: columns.contains(&Column::Proto),
    };
    if !(wanted.addresses || wanted.ports || wanted.protos) {
        return (files.to_vec(), 0);
    }
    let may_pass = |f: &PathBuf| match store::summary::window_filters(f, wanted) {
        Ok(w) => settle(filter, &w) != Expr::False,
        Err(_) => true,
    };
    // A summary costs a footer and two filters of tens of kilobytes read:
    // a fraction of a millisecond, but a year of five-minute windows has
    // over 100,000.
    let per_thread = files.len().div_ceil(threads.max(1)).max(1);
    let keep: Vec<bool> = std::thread::scope(|scope| {
        let parts: Vec<_> = files
            .chunks(per_thread)
            .map(|part| scope.spawn(move || part.iter().map(may_pass).collect::<Vec<bool>>()))
            .collect();
        parts
            .into_iter()
            .flat_map(|p| p.join().unwrap_or_else(|_| vec![true; per_thread]))
            .collect()
    });
    let kept: Vec<PathBuf> = files
        .iter()
        .zip(keep.iter().chain(std::iter::repeat(&true)))
        .filter(|(_, &k)| k)
        .map(|(f, _)| f.clone())
        .collect();
    let skipped = files.len() - kept.len();
    (kept, skipped)
}

/// The filter over one window, the address, port and protocol tests its
/// summary rules out made `False`.
pub fn settle(filter: &Expr, window: &WindowFilters) -> Expr {
    filter.settle(&|leaf| {
        let none = match leaf {
            Expr::Net { col, nets } => {
                let sides = window.addresses.as_ref()?;
                let side = &sides[address_side(*col)?];
                !nets.iter().any(|net| {
                    let (lo, hi) = net.range();
                    let (lo, hi) = (u128::from(lo), u128::from(hi));
                    match lo == hi {
                        true => side.may_hold(lo),
                        false => side.may_hold_range(lo, hi),
                    }
                })
            }
            Expr::Cmp { col, op, value } => {
                let set = value_set(window, *col)?;
                !ranges(*op, *value)
                    .iter()
                    .flatten()
                    .any(|&(lo, hi)| set.any_in(lo, hi))
            }
            Expr::In { col, values } => {
                let set = value_set(window, *col)?;
                !values
                    .iter()
                    .any(|&v| u16::try_from(v).is_ok_and(|v| set.contains(v)))
            }
            _ => return None,
        };
        none.then_some(false)
    })
}

/// The set of the values a window holds of `col`, a port or the protocol.
fn value_set(window: &WindowFilters, col: Column) -> Option<&ValueSet> {
    match col {
        Column::Proto => window.protos.as_ref(),
        _ => Some(&window.ports.as_ref()?[port_side(col)?]),
    }
}

/// The 16-bit values for which `v op value` holds, as at most two ranges.
fn ranges(op: CmpOp, value: u64) -> [Option<(u16, u16)>; 2] {
    let max = u64::from(u16::MAX);
    let range = |lo: u64, hi: u64| (lo <= hi && lo <= max).then(|| (lo as u16, hi.min(max) as u16));
    match op {
        CmpOp::Eq => [range(value, value), None],
        CmpOp::Ne => [
            value.checked_sub(1).and_then(|v| range(0, v)),
            range(value.saturating_add(1), max),
        ],
        CmpOp::Lt => [value.checked_sub(1).and_then(|v| range(0, v)), None],
        CmpOp::Le => [range(0, value), None],
        CmpOp::Gt => [range(value.saturating_add(1), max), None],
        CmpOp::Ge => [range(value, max), None],
    }
}

fn address_side(col: Column) -> Option<usize> {
    match col {
        Column::SrcIp => Some(0),
        Column::DstIp => Some(1),
        _ => None,
    }
}

fn port_side(col: Column) -> Option<usize> {
    match col {
        Column::SrcPort => Some(0),
        Column::DstPort => Some(1),
        _ => None,
    }
}
