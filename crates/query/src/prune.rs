//! Windows left out by their summaries' address filters.
//!
//! An analyst's commonest question is about one address: "which flows did
//! 192.0.2.7 have this week?". Most windows of a store never saw that
//! address, yet a scan reads every one of them. Each window summary keeps
//! a Bloom filter and the range of the window's source addresses and of
//! its destination addresses ([`store::summary::address_filters`]). A test
//! of an address (`host`, `src ip`, `dst net`, `ip in [...]`) that a
//! window's filters rule out is `False` for every flow of that window;
//! [`filter::Expr::settle`] folds the rest of the filter, and a window
//! whose filter folds to `False` is not read. A Bloom filter never says
//! "no" for an address it holds, so only windows without a selected flow
//! are left out.

use std::path::PathBuf;

use filter::{Column, Expr};
use store::summary::AddressFilter;

/// The files of `files` that may hold flows `filter` selects, and how many
/// were left out. Files without a summary, or whose summary has no address
/// filters or cannot be read, are kept (their flows answer as before).
pub fn by_addresses(files: &[PathBuf], filter: &Expr) -> (Vec<PathBuf>, usize) {
    if !tests_addresses(filter) {
        return (files.to_vec(), 0);
    }
    let kept: Vec<PathBuf> = files
        .iter()
        .filter(|f| match store::summary::address_filters(f) {
            Ok(Some(sides)) => settle(filter, &sides) != Expr::False,
            _ => true,
        })
        .cloned()
        .collect();
    let skipped = files.len() - kept.len();
    (kept, skipped)
}

/// The filter over one window, address tests its filters rule out made
/// `False`.
pub fn settle(filter: &Expr, sides: &[AddressFilter; 2]) -> Expr {
    filter.settle(&|leaf| match leaf {
        Expr::Net { col, nets } => {
            let side = side_of(*col)?;
            let may = nets.iter().any(|net| {
                let (lo, hi) = net.range();
                let (lo, hi) = (u128::from(lo), u128::from(hi));
                match lo == hi {
                    true => sides[side].may_hold(lo),
                    false => sides[side].may_hold_range(lo, hi),
                }
            });
            (!may).then_some(false)
        }
        _ => None,
    })
}

/// Whether the filter tests a source or destination address.
fn tests_addresses(filter: &Expr) -> bool {
    let mut columns = Vec::new();
    filter.columns(&mut columns);
    columns.iter().any(|c| side_of(*c).is_some())
}

fn side_of(col: Column) -> Option<usize> {
    match col {
        Column::SrcIp => Some(0),
        Column::DstIp => Some(1),
        _ => None,
    }
}
