//! `eddy gen pcap OUT --flows N --seed S [--attack LIST]`: seeded synthetic
//! traffic, optionally with attacks mixed in (see `trafgen::attacks` for
//! their addresses and shapes).

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
        /// Attacks to mix in, comma-separated, or "all": vscan, hscan,
        /// synflood, dnsamp, sshbf, rdpbf, sipbf, tollfraud, dnstunnel,
        /// stratum, blacklist.
        #[arg(long, value_name = "LIST", value_parser = parse_attacks)]
        attack: Option<Attacks>,
        /// Spoofed SYN flows of the synflood attack.
        #[arg(long, value_name = "N", default_value_t = 3000)]
        synflood_flows: u64,
        /// Amplified DNS responses of the dnsamp attack.
        #[arg(long, value_name = "N", default_value_t = 2000)]
        dnsamp_flows: u64,
    },
}

/// The value of `--attack`: one argument, a comma-separated list.
#[derive(Clone, Debug)]
struct Attacks(Vec<trafgen::Attack>);

fn parse_attacks(list: &str) -> Result<Attacks, String> {
    trafgen::Attack::parse_list(list).map(Attacks)
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
            attack,
            synflood_flows,
            dnsamp_flows,
        } => {
            let config = trafgen::GenConfig {
                flows,
                seed,
                flows_per_sec: rate,
                ipv6_share_pct: ipv6,
                vlan_share_pct: vlan,
                attacks: attack.map(|a| a.0).unwrap_or_default(),
                synflood_flows,
                dnsamp_flows,
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
            for a in &summary.attacks {
                eprintln!(
                    "eddy gen: attack {}: {} conversations, {} packets, {} bytes",
                    a.attack.name(),
                    a.conversations,
                    a.packets,
                    a.bytes
                );
            }
            Ok(())
        }
    }
}
