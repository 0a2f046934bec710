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

/// The files of `files` that may hold flows `filter` selects, in their
/// order, and how many were left out; the summaries are read on `threads`
/// threads. Files without a summary, or whose summary has no address
/// filters or cannot be read, are kept (their flows answer as before).
pub fn by_addresses(files: &[PathBuf], filter: &Expr, threads: usize) -> (Vec<PathBuf>, usize) {
    if !tests_addresses(filter) {
        return (files.to_vec(), 0);
    }
    let may_hold = |f: &PathBuf| match store::summary::address_filters(f) {
        Ok(Some(sides)) => settle(filter, &sides) != Expr::False,
        _ => true,
    };
    // A summary costs a footer and two filters of tens of kilobytes read:
    // a fraction of a millisecond, but a year of five-minute windows has
    // over 100,000.
    let per_thread = files.len().div_ceil(threads.max(1)).max(1);
    let keep: Vec<bool> = std::thread::scope(|scope| {
        let parts: Vec<_> = files
            .chunks(per_thread)
            .map(|part| scope.spawn(move || part.iter().map(may_hold).collect::<Vec<bool>>()))
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
