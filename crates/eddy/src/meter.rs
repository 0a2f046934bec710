//! `eddy meter`: capture -> decode -> flow cache -> sink.

use std::io::{self, BufWriter, Write};

use anyhow::{bail, Context, Result};
use capture::{Event, PacketSource};
use clap::Args;
use flow::{CacheConfig, CacheStats, FlowCache};
use ipfix::{EncoderConfig, IpfixSink};
use packet::{DropReason, Packet};
use record::format::{Format, TextSink};
use record::{FlowRecord, FlowSink};

const NS_PER_SEC: u64 = 1_000_000_000;
/// Finished records are handed to the sink in batches of this many.
const WRITE_BATCH: usize = 256;

#[derive(Args, Debug)]
pub struct MeterArgs {
    /// Read packets from a pcap or pcapng file ("-" for stdin).
    #[arg(
        short = 'r',
        long = "read",
        value_name = "FILE",
        conflicts_with = "interface"
    )]
    pub file: Option<String>,
    /// Capture live on an interface (needs eddy built with the libpcap feature).
    #[arg(short = 'i', long = "interface", value_name = "IFACE")]
    pub interface: Option<String>,
    /// BPF filter expression, as tcpdump takes it.
    #[arg(short = 'f', long = "filter", value_name = "BPF")]
    pub filter: Option<String>,
    /// Active timeout in seconds: longer flows are exported and restarted.
    #[arg(long, default_value_t = 300, value_name = "S")]
    pub active: u64,
    /// Inactive timeout in seconds: flows idle for longer are exported.
    #[arg(long, default_value_t = 30, value_name = "S")]
    pub inactive: u64,
    /// Most flows held at once; when full the least recently seen is evicted (and counted).
    #[arg(long, default_value_t = 1 << 19, value_name = "N")]
    pub cache_size: usize,
    /// Pair both directions of a connection into one record (RFC 5103 biflow).
    #[arg(long)]
    pub biflow: bool,
    /// Flow rules to follow: `nfpcapd` (DNS and ICMP packets are flows of
    /// their own) or `ipfixprobe` (every protocol aggregates).
    #[arg(long, default_value = "nfpcapd", value_parser = ["nfpcapd", "ipfixprobe"], value_name = "TOOL")]
    pub like: String,
    /// Turn off application-layer parsing (the L4-only flows nfpcapd makes).
    #[arg(long, conflicts_with = "l7")]
    pub no_l7: bool,
    /// Application-layer parsers to run, comma separated (default: all of
    /// http, dns, tls, smtp, sip, quic).
    #[arg(long, value_name = "LIST", value_parser = parse_l7_list)]
    pub l7: Option<L7List>,
    /// Output format: line, long, csv, json (one object per line), or a
    /// protocol's line: http, dns, tls, smtp, sip.
    #[arg(
        short = 'o',
        long = "output",
        default_value = "line",
        value_name = "FORMAT"
    )]
    pub format: Format,
    /// Quiet: no header, no summary lines.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Also export the flows as IPFIX (RFC 7011; biflow records with RFC 5103
    /// reverse counters; L7 fields in the CESNET/Flowmon elements ipfixprobe
    /// uses) to DEST: `udp://HOST:PORT`, `tcp://HOST:PORT` (reconnects;
    /// records exported while it is down are dropped and counted) or
    /// `file:PATH` (an RFC 5655 file) or `dir:DIR[:SECONDS[:MB]]` (files
    /// rotated every SECONDS, default 300, and at MB megabytes, named
    /// `eddy.YYYYMMDDhhmm.ipfix`). Text output still goes to stdout; for
    /// IPFIX only, discard it with `-o csv > /dev/null` (the summary, with the
    /// exporter's counts, goes to stderr).
    #[arg(long, value_name = "DEST", value_parser = parse_ipfix_dest)]
    pub ipfix: Option<ipfix::Destination>,
    /// IPFIX observation domain id of the exported messages.
    #[arg(long, default_value_t = 1, value_name = "ID", requires = "ipfix")]
    pub ipfix_odid: u32,
    /// Longest IPFIX message in bytes (default: 1400 over UDP, 65535 over
    /// TCP and in files). A file meant for replay over UDP (`eddy send`)
    /// wants 1400; templates are then repeated as over UDP.
    #[arg(long, value_name = "BYTES", requires = "ipfix")]
    pub ipfix_mtu: Option<usize>,
    /// Also write the flows to a stream interface as Arrow IPC record
    /// batches, for stream modules: u:NAME (a unix socket in
    /// $EDDY_SOCKET_DIR, default /tmp/eddy), t:[HOST:]PORT, f:PATH. Socket
    /// outputs wait for a first client (add :drop not to).
    #[arg(long, value_name = "SPEC")]
    pub stream: Option<String>,
    /// Snapshot length for live capture.
    #[arg(long, default_value_t = 1522, value_name = "BYTES")]
    pub snaplen: u32,
}

#[derive(Clone, Debug)]
pub struct L7List(pub Vec<&'static str>);

fn parse_l7_list(s: &str) -> Result<L7List, String> {
    let names = s.split(',').map(str::trim).filter(|n| !n.is_empty());
    names
        .map(|name| {
            l7::PARSERS
                .iter()
                .map(|spec| spec.name)
                .find(|known| *known == name)
                .ok_or_else(|| {
                    let known: Vec<_> = l7::PARSERS.iter().map(|spec| spec.name).collect();
                    format!(
                        "unknown parser '{name}': expected some of {}",
                        known.join(", ")
                    )
                })
        })
        .collect::<Result<_, _>>()
        .map(L7List)
}

fn parse_ipfix_dest(s: &str) -> Result<ipfix::Destination, String> {
    ipfix::Destination::parse(s)
}

fn seconds_to_ns(seconds: u64, flag: &str) -> Result<u64> {
    seconds.checked_mul(NS_PER_SEC).with_context(|| {
        format!(
            "{flag} {seconds}: too large (at most {} seconds)",
            u64::MAX / NS_PER_SEC
        )
    })
}

/// What the meter counts besides the cache and the source.
#[derive(Debug, Default)]
pub(crate) struct DecodeStats {
    frames: u64,
    decoded: u64,
    dropped: [u64; DropReason::COUNT],
}

/// The meter's defaults (nfpcapd's flow rules, 300 s active and 30 s
/// inactive timeouts, every L7 parser), for commands that meter a capture
/// on the way (`eddy detect -r`).
pub(crate) fn default_config() -> CacheConfig {
    CacheConfig {
        active_timeout_ns: 300 * NS_PER_SEC,
        inactive_timeout_ns: 30 * NS_PER_SEC,
        capacity: 1 << 19,
        biflow: false,
        l7_parsers: l7::PARSERS.iter().map(|spec| spec.name).collect(),
        ..CacheConfig::like_nfpcapd()
    }
}

pub fn run(args: MeterArgs) -> Result<()> {
    if args.active == 0 || args.inactive == 0 {
        bail!("--active and --inactive must be at least 1 second");
    }
    let rules = match args.like.as_str() {
        "ipfixprobe" => CacheConfig::like_ipfixprobe(),
        _ => CacheConfig::like_nfpcapd(),
    };
    let config = CacheConfig {
        active_timeout_ns: seconds_to_ns(args.active, "--active")?,
        inactive_timeout_ns: seconds_to_ns(args.inactive, "--inactive")?,
        capacity: args.cache_size,
        biflow: args.biflow,
        l7_parsers: match (&args.l7, args.no_l7) {
            (_, true) => Vec::new(),
            (Some(list), false) => list.0.clone(),
            (None, false) => l7::PARSERS.iter().map(|spec| spec.name).collect(),
        },
        ..rules
    };
    let mut source = open_source(&args)?;
    let stdout = io::stdout().lock();
    let mut sink = TextSink::new(
        BufWriter::with_capacity(1 << 20, stdout),
        args.format,
        args.biflow,
    );
    sink.decorations = !args.quiet;
    sink.l7_columns = !config.l7_parsers.is_empty();
    let exporter = match &args.ipfix {
        Some(dest) => Some(with_mtu(
            IpfixSink::open(dest.clone(), args.ipfix_odid)
                .with_context(|| format!("cannot export IPFIX to {dest}"))?,
            args.ipfix_mtu,
            args.ipfix_odid,
        )),
        None => None,
    };
    let stream = match &args.stream {
        Some(spec) => Some(
            stream::FlowWriter::open(spec, Default::default())
                .with_context(|| format!("cannot open the stream output {spec}"))?,
        ),
        None => None,
    };
    let mut sinks = Sinks {
        text: &mut sink,
        ipfix: exporter,
        stream,
    };
    let (decode_stats, cache_stats) = meter(source.as_mut(), config, &mut sinks)?;
    if !args.quiet {
        print_summary(&decode_stats, &cache_stats, &source.stats());
        if let Some(exporter) = &sinks.ipfix {
            print_export_summary(exporter);
        }
        if let Some(stats) = sinks.stream.as_ref().and_then(|s| s.stats()) {
            print_stream_summary(args.stream.as_deref().unwrap_or(""), &stats);
        }
    }
    Ok(())
}

/// The text sink, and beside it the IPFIX exporter and the stream output
/// when they were asked for.
struct Sinks<'a> {
    text: &'a mut dyn FlowSink,
    ipfix: Option<IpfixSink>,
    stream: Option<stream::FlowWriter>,
}

impl Sinks<'_> {
    fn each(&mut self, mut f: impl FnMut(&mut dyn FlowSink) -> io::Result<()>) -> io::Result<()> {
        f(self.text)?;
        if let Some(exporter) = &mut self.ipfix {
            f(exporter)?;
        }
        if let Some(stream) = &mut self.stream {
            f(stream)?;
        }
        Ok(())
    }
}

impl FlowSink for Sinks<'_> {
    fn write(&mut self, records: &[FlowRecord]) -> io::Result<()> {
        self.each(|s| s.write(records))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.each(|s| s.flush())
    }

    fn finish(&mut self) -> io::Result<()> {
        self.each(|s| s.finish())
    }
}

fn print_stream_summary(spec: &str, stats: &stream::stats::IfcStats) {
    use stream::stats::IfcStats as S;
    eprintln!(
        "eddy meter: stream {spec}: records {}, batches {}, dropped records {}",
        S::get(&stats.records),
        S::get(&stats.batches),
        S::get(&stats.dropped)
    );
}

/// `--ipfix-mtu`: messages of at most `mtu` bytes, templates repeated as
/// over UDP (a file written this way can be replayed over UDP).
fn with_mtu(sink: IpfixSink, mtu: Option<usize>, odid: u32) -> IpfixSink {
    match mtu {
        Some(m) => sink.with_config(EncoderConfig {
            max_message_len: m,
            ..EncoderConfig::udp(odid)
        }),
        None => sink,
    }
}

fn print_export_summary(exporter: &IpfixSink) {
    let stats = exporter.stats();
    eprintln!(
        "eddy meter: ipfix {}: messages {}, records {}, dropped records {} (messages {}), reconnects {}, records without their L7 fields (too long) {}",
        exporter.destination(),
        stats.messages,
        stats.records,
        stats.dropped_records,
        stats.dropped_messages,
        stats.reconnects,
        stats.l7_dropped
    );
}

fn open_source(args: &MeterArgs) -> Result<Box<dyn PacketSource>> {
    match (&args.file, &args.interface) {
        (Some(path), None) => open_file(path, args.filter.as_deref()),
        (None, Some(iface)) => open_live(iface, args.filter.as_deref(), args.snaplen),
        _ => bail!("give a capture file with -r FILE or an interface with -i IFACE"),
    }
}

pub(crate) fn open_file(path: &str, filter: Option<&str>) -> Result<Box<dyn PacketSource>> {
    capture::open_file_filtered(path, filter).context("cannot read packets")
}

#[cfg(feature = "libpcap")]
fn open_live(iface: &str, filter: Option<&str>, snaplen: u32) -> Result<Box<dyn PacketSource>> {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let stop = Arc::new(AtomicBool::new(false));
    let on_signal = Arc::clone(&stop);
    ctrlc::set_handler(move || on_signal.store(true, Ordering::Relaxed))
        .context("cannot install the Ctrl-C handler")?;
    capture::open_live(iface, filter, snaplen, stop)
        .with_context(|| format!("cannot capture on {iface}"))
}

#[cfg(not(feature = "libpcap"))]
fn open_live(_iface: &str, _filter: Option<&str>, _snaplen: u32) -> Result<Box<dyn PacketSource>> {
    bail!("live capture needs eddy built with the libpcap feature (cargo build --features libpcap)")
}

/// Runs the packet loop: every frame is decoded and fed to the cache; flows
/// that end are written to `sink` right away, the rest at end of input.
pub(crate) fn meter(
    source: &mut dyn PacketSource,
    config: CacheConfig,
    sink: &mut dyn FlowSink,
) -> Result<(DecodeStats, CacheStats)> {
    let mut cache = FlowCache::new(config);
    let mut stats = DecodeStats::default();
    let mut finished: Vec<FlowRecord> = Vec::with_capacity(1024);
    let mut sink_error: Option<io::Error> = None;
    source.run(&mut |event| {
        if sink_error.is_some() {
            return;
        }
        let tick = match event {
            Event::Frames(frames) => {
                stats.frames += frames.len() as u64;
                // Decoded together, so that the cache can look ahead.
                for frames in frames.chunks(capture::MAX_BATCH) {
                    let mut packets = [(0, Packet::default()); capture::MAX_BATCH];
                    let mut decoded = 0;
                    for frame in frames {
                        match packet::decode(frame.link, frame.data) {
                            Ok(pkt) => {
                                packets[decoded] = (frame.ts_ns, pkt);
                                decoded += 1;
                            }
                            Err(err) => stats.dropped[err.reason as usize] += 1,
                        }
                    }
                    stats.decoded += decoded as u64;
                    cache.observe_batch(&packets[..decoded], &mut finished);
                }
                false
            }
            Event::Tick(now_ns) => {
                cache.expire(now_ns, &mut finished);
                true
            }
        };
        if finished.len() >= WRITE_BATCH || tick {
            let written = sink
                .write(&finished)
                .and_then(|()| if tick { sink.flush() } else { Ok(()) });
            if let Err(err) = written {
                sink_error = Some(err);
            }
            finished.clear();
        }
    })?;
    if let Some(err) = sink_error {
        return Err(err).context("cannot write flow records");
    }
    cache.flush(&mut finished);
    sink.write(&finished).context("cannot write flow records")?;
    sink.finish().context("cannot write flow records")?;
    Ok((stats, cache.stats()))
}

fn print_summary(decode: &DecodeStats, cache: &CacheStats, source: &capture::SourceStats) {
    let skipped: u64 = decode.dropped.iter().sum();
    let mut reasons = String::new();
    for reason in DropReason::ALL {
        let n = decode.dropped[reason as usize];
        if n > 0 {
            reasons.push_str(&format!(" {}={n}", reason.name()));
        }
    }
    let mut err = io::stderr().lock();
    let _ = writeln!(
        err,
        "eddy meter: packets read {}, decoded {}, skipped {skipped}{}{reasons}{}",
        decode.frames,
        decode.decoded,
        if reasons.is_empty() { "" } else { " (" },
        if reasons.is_empty() { "" } else { " )" },
    );
    let _ = writeln!(
        err,
        "eddy meter: flows {} (with L7 fields {}), evicted {}, fragments without first {}, filtered {}, unsupported link type {}, kernel drops {}",
        cache.flows_exported,
        cache.l7_flows,
        cache.evictions,
        cache.fragments_unmatched,
        source.filtered,
        source.unsupported_link,
        source.kernel_dropped
    );
    if source.truncated_records > 0 {
        let _ = writeln!(err, "eddy meter: warning: the capture ends in the middle of a packet record (file cut short?); the partial record was skipped");
    }
}
