//! `eddy gen pcap OUT --flows N --seed S`: seeded synthetic traffic.

use std::fs::File;
use std::io::{self, BufWriter, Write};

use anyhow::{Context, Result};
use clap::{Args, Subcommand};

#[derive(Args, Debug)]
pub struct GenArgs {
    #[command(subcommand)]
    what: GenWhat,
}

#[derive(Subcommand, Debug)]
enum GenWhat {
    /// Write a pcap file of generated traffic ("-" for stdout).
    Pcap {
        out: String,
        /// Number of conversations.
        #[arg(long, default_value_t = 10_000)]
        flows: u64,
        /// PRNG seed: the same seed gives the same bytes.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// New conversations per second of capture time.
        #[arg(long, default_value_t = 20_000)]
        rate: u64,
        /// Share of conversations over IPv6, in percent.
        #[arg(long, default_value_t = 10)]
        ipv6: u8,
        /// Share of conversations with an 802.1Q tag, in percent.
        #[arg(long, default_value_t = 0)]
        vlan: u8,
    },
}

pub fn run(args: GenArgs) -> Result<()> {
    match args.what {
        GenWhat::Pcap {
            out,
            flows,
            seed,
            rate,
            ipv6,
            vlan,
        } => {
            let config = trafgen::GenConfig {
                flows,
                seed,
                flows_per_sec: rate,
                ipv6_share_pct: ipv6,
                vlan_share_pct: vlan,
                ..trafgen::GenConfig::default()
            };
            let writer: Box<dyn Write> = if out == "-" {
                Box::new(io::stdout().lock())
            } else {
                Box::new(File::create(&out).with_context(|| format!("cannot create {out}"))?)
            };
            let summary = trafgen::write_pcap(&config, BufWriter::with_capacity(1 << 20, writer))
                .with_context(|| format!("cannot write {out}"))?;
            eprintln!(
                "eddy gen: {} conversations, {} packets, {} bytes",
                summary.flows, summary.packets, summary.bytes
            );
            Ok(())
        }
    }
}
