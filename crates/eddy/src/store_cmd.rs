//! `eddy store expire -w DIR [--max-age AGE] [--max-size SIZE]`: remove old
//! windows from the flow store as nfexpire does for nfcapd folders (the
//! collector also applies its outputs' limits periodically), and `eddy
//! store info` to see what a store holds, `eddy store summarize` to add
//! window summaries to windows stored before they existed.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};

#[derive(Args)]
pub struct StoreArgs {
    #[command(subcommand)]
    command: StoreCommand,
}

#[derive(Subcommand)]
enum StoreCommand {
    /// Remove windows older than --max-age, then the oldest until the
    /// store is at most --max-size.
    Expire {
        /// The store folder.
        #[arg(short = 'w', long = "store", value_name = "DIR")]
        store: PathBuf,
        /// Keep windows that ended within AGE: seconds, or with a unit
        /// s, m, h, d, w (as nfexpire's -t: `30d`, `12h`).
        #[arg(long, value_name = "AGE")]
        max_age: Option<String>,
        /// Keep at most SIZE bytes: a number with an optional unit K, M,
        /// G, T (powers of 1024, as nfexpire's -s: `100G`).
        #[arg(long, value_name = "SIZE")]
        max_size: Option<String>,
        /// Window length of the store, in seconds.
        #[arg(long, default_value_t = store::DEFAULT_WINDOW_SECS)]
        window: u64,
    },
    /// Write the window summaries that `eddy query` reads for `-s`/`-A`
    /// and to skip windows by address, port or protocol (the collector
    /// writes them with each window; this adds them to windows stored
    /// before, rewrites those written before the address filters, the
    /// port and protocol sets or the port cut, or all with --force).
    Summarize {
        #[arg(short = 'w', long = "store", value_name = "DIR")]
        store: PathBuf,
        /// Rewrite summaries that exist.
        #[arg(long)]
        force: bool,
        #[arg(long, default_value_t = store::DEFAULT_WINDOW_SECS)]
        window: u64,
    },
    /// Files, bytes and the time range of a store.
    Info {
        #[arg(short = 'w', long = "store", value_name = "DIR")]
        store: PathBuf,
        #[arg(long, default_value_t = store::DEFAULT_WINDOW_SECS)]
        window: u64,
    },
}

pub fn run(args: StoreArgs) -> Result<()> {
    match args.command {
        StoreCommand::Expire {
            store: root,
            max_age,
            max_size,
            window,
        } => {
            let retention = store::Retention {
                max_age_secs: max_age.as_deref().map(parse_age).transpose()?,
                max_bytes: max_size.as_deref().map(parse_size).transpose()?,
            };
            if retention == store::Retention::default() {
                bail!("give --max-age and/or --max-size");
            }
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let e = store::expire(&root, window, retention, now)
                .with_context(|| format!("expiring {}", root.display()))?;
            println!(
                "removed {} files ({} bytes); left {} files ({} bytes)",
                e.files_removed, e.bytes_removed, e.files_left, e.bytes_left
            );
        }
        StoreCommand::Summarize {
            store: root,
            force,
            window,
        } => {
            let files = store::list_files(&root, None, None, window)
                .with_context(|| format!("listing {}", root.display()))?;
            let (mut written, mut kept) = (0, 0);
            for f in &files {
                // A summary from before the address filters, the port and
                // protocol sets or the port cut is rewritten too, so that
                // queries can skip its window and read its ports.
                let current = store::summary::layout(&f.path)
                    .is_ok_and(|l| l == Some(store::summary::Layout::WithPortCut))
                    && store::summary::window_filters(&f.path, store::summary::Wanted::ALL)
                        .is_ok_and(|w| {
                            w.addresses.is_some() && w.ports.is_some() && w.protos.is_some()
                        });
                if current && !force {
                    kept += 1;
                    continue;
                }
                store::summary::summarize_file(&f.path)
                    .with_context(|| format!("summarizing {}", f.path.display()))?;
                written += 1;
            }
            println!("summaries written {written}, already there {kept}");
        }
        StoreCommand::Info {
            store: root,
            window,
        } => {
            let files = store::list_files(&root, None, None, window)
                .with_context(|| format!("listing {}", root.display()))?;
            let bytes: u64 = files.iter().map(|f| f.bytes).sum();
            let mut sources: Vec<&str> = files.iter().map(|f| f.source.as_str()).collect();
            sources.sort_unstable();
            sources.dedup();
            println!(
                "files {}, bytes {bytes}, sources {}",
                files.len(),
                sources.join(",")
            );
            if let (Some(first), Some(last)) = (files.first(), files.last()) {
                println!(
                    "windows {} to {}",
                    store::layout::stamp(first.window_start),
                    store::layout::stamp(last.window_start + window)
                );
            }
        }
    }
    Ok(())
}

/// `3600`, `90m`, `12h`, `30d`, `2w` → seconds.
fn parse_age(s: &str) -> Result<u64> {
    let (num, unit) = split_unit(s);
    let n: u64 = num
        .parse()
        .with_context(|| format!("--max-age {s}: expected a number with s, m, h, d or w"))?;
    let mult = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => bail!("--max-age {s}: unknown unit '{unit}' (s, m, h, d, w)"),
    };
    n.checked_mul(mult)
        .with_context(|| format!("--max-age {s}: too large"))
}

/// `1000`, `500M`, `100G`, `2T` → bytes (powers of 1024).
fn parse_size(s: &str) -> Result<u64> {
    let (num, unit) = split_unit(s);
    let n: u64 = num
        .parse()
        .with_context(|| format!("--max-size {s}: expected a number with K, M, G or T"))?;
    let shift = match unit.to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" => 10,
        "M" | "MB" => 20,
        "G" | "GB" => 30,
        "T" | "TB" => 40,
        _ => bail!("--max-size {s}: unknown unit '{unit}' (K, M, G, T)"),
    };
    n.checked_mul(1u64 << shift)
        .with_context(|| format!("--max-size {s}: too large"))
}

fn split_unit(s: &str) -> (&str, &str) {
    let i = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    (&s[..i], &s[i..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_and_sizes_take_nfexpire_units() {
        assert_eq!(parse_age("30d").unwrap(), 30 * 86_400);
        assert_eq!(parse_age("3600").unwrap(), 3600);
        assert_eq!(parse_age("2w").unwrap(), 1_209_600);
        assert!(parse_age("3y").is_err());
        assert_eq!(parse_size("100G").unwrap(), 100 << 30);
        assert_eq!(parse_size("512").unwrap(), 512);
        assert_eq!(parse_size("1k").unwrap(), 1024);
        assert!(parse_size("big").is_err());
    }
}
