//! `eddy module NAME -i SPECS [options]`: the stream modules, NEMEA's
//! logreplay, logger, unirecfilter, merger and anonymizer. Each runs under
//! the `stream` crate's runner; this folder holds what each one does to
//! the batches.

mod anonymize;
pub(crate) mod detect;
mod filter;
mod logger;
mod merger;
pub(crate) mod replay;
mod report;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Result};
use clap::{Args, Subcommand};
use stream::RunOptions;

/// Options every module takes.
#[derive(Args, Clone)]
pub struct Common {
    /// Interfaces, inputs first then outputs: u:NAME (unix socket in the
    /// socket folder), t:[HOST:]PORT, f:PATH[:a][:time=MIN][:size=MB], b:
    /// (discard), - (stdin/stdout). Output options: :wait (default) or
    /// :drop, :autoflush=MS|off, :buffer=ROWS.
    #[arg(short = 'i', long = "ifc", value_name = "SPECS")]
    ifc: String,
    /// Folder of u: sockets and control sockets [env EDDY_SOCKET_DIR, default /tmp/eddy].
    #[arg(long, value_name = "DIR")]
    socket_dir: Option<PathBuf>,
    /// Instance name: the control socket is SOCKET_DIR/NAME.ctl [default: MODULE-PID].
    #[arg(long)]
    name: Option<String>,
    /// Print interface statistics every SECONDS (and once at the end).
    #[arg(short = 'S', long = "stats", value_name = "SECONDS")]
    stats: Option<f64>,
    /// Keep running when the input streams end (wait for the next ones)
    /// instead of ending and passing the end on.
    #[arg(long)]
    no_eof: bool,
}

#[derive(Subcommand)]
pub enum ModuleCommand {
    /// Send flows from CSV or JSON lines (-f) or the flow store (-R) to a stream.
    Replay(replay::ReplayArgs),
    /// Print a stream as CSV (with a header line) or JSON lines.
    Logger(logger::LoggerArgs),
    /// Pass on the records matching a filter (-F), or one output per rule (-f).
    Filter(filter::FilterArgs),
    /// Merge several input streams into one output.
    Merger(merger::MergerArgs),
    /// Anonymise addresses (Crypto-PAn or truncation), as the collector's stage does.
    Anonymize(anonymize::AnonymizeArgs),
    /// Detector: vertical port scans (TCP SYN flows to 50+ ports of one host).
    Vportscan(detect::DetectArgs),
    /// Detector: horizontal scans (one-packet SYN flows to 50+ hosts on one port).
    Haddrscan(detect::DetectArgs),
    /// Detector: SSH, RDP and Telnet login brute force (flow shapes).
    Bruteforce(detect::DetectArgs),
    /// Detector: reflection/amplification DDoS on DNS, NTP, SSDP, memcached, CharGen, SNMP, CLDAP.
    Amplification(detect::DetectArgs),
    /// Detector: per-host statistics (SYN scan, SYN flood, DNS amplification, SSH brute force).
    Hoststats(detect::DetectArgs),
    /// Detector: SIP brute force (401/407 answers per user), user scans, possible breaches.
    #[command(name = "sip_bf", alias = "sip-bf")]
    SipBf(detect::DetectArgs),
    /// Detector: toll fraud by dial-plan guessing (INVITE number prefixes per source).
    #[command(name = "voip_fraud", alias = "voip-fraud")]
    VoipFraud(detect::DetectArgs),
    /// Detector: DNS tunnels (long, random, unique query names under one domain per client).
    #[command(name = "dns_tunnel", alias = "dns-tunnel")]
    DnsTunnel(detect::DetectArgs),
    /// Detector: Stratum crypto mining (long, steady, ACK-heavy connections; pool list).
    Miner(detect::MinerArgs),
    /// Detector: traffic to listed addresses, domains (DNS, HTTP host, TLS SNI) and URLs.
    Blacklist(detect::BlacklistArgs),
    /// Detector: alert rules written in the filter language over L7 fields.
    L7filter(detect::L7FilterArgs),
    /// Route alert streams to the alert store (SQLite), IDEA files, webhooks and email.
    Report(report::ReportArgs),
}

#[derive(Args)]
pub struct ModuleArgs {
    #[command(subcommand)]
    module: ModuleCommand,
}

pub fn run(args: ModuleArgs) -> Result<()> {
    match args.module {
        ModuleCommand::Replay(a) => replay::run(a),
        ModuleCommand::Logger(a) => logger::run(a),
        ModuleCommand::Filter(a) => filter::run(a),
        ModuleCommand::Merger(a) => merger::run(a),
        ModuleCommand::Anonymize(a) => anonymize::run(a),
        ModuleCommand::Vportscan(a) => detect::run("vportscan", a),
        ModuleCommand::Haddrscan(a) => detect::run("haddrscan", a),
        ModuleCommand::Bruteforce(a) => detect::run("bruteforce", a),
        ModuleCommand::Amplification(a) => detect::run("amplification", a),
        ModuleCommand::Hoststats(a) => detect::run("hoststats", a),
        ModuleCommand::SipBf(a) => detect::run("sip_bf", a),
        ModuleCommand::VoipFraud(a) => detect::run("voip_fraud", a),
        ModuleCommand::DnsTunnel(a) => detect::run("dns_tunnel", a),
        ModuleCommand::Miner(a) => detect::run_miner(a),
        ModuleCommand::Blacklist(a) => detect::run_blacklist(a),
        ModuleCommand::L7filter(a) => detect::run_l7filter(a),
        ModuleCommand::Report(a) => report::run(a),
    }
}

/// Runs `module` with the common options; SIGTERM/SIGINT stop it cleanly,
/// SIGHUP asks it to reload.
fn run_module(kind: &str, common: &Common, module: &mut dyn stream::Module) -> Result<()> {
    let mut options = RunOptions::new(kind);
    if let Some(dir) = &common.socket_dir {
        options.socket_dir = dir.clone();
    }
    if let Some(name) = &common.name {
        options.name = name.clone();
    }
    options.stats_every = common
        .stats
        .filter(|s| *s > 0.0)
        .map(Duration::from_secs_f64);
    options.end_on_eof = !common.no_eof;
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&options.stop))?;
    }
    signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&options.reload))?;
    let specs = stream::spec::parse_list(&common.ifc, &options.socket_dir)?;
    stream::run(module, &specs, &options).map_err(|e| anyhow!("{e}"))
}
