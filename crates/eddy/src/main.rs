//! `eddy`: one binary for the whole stack. Each subcommand lives in its own
//! module; this file only parses the command line and dispatches.

mod alerts;
mod collect;
mod detect;
mod download;
mod gen;
mod meter;
mod module;
mod query;
mod send;
mod store_cmd;

use clap::{Parser, Subcommand};

/// L7 records own their strings and every parsed flow its parser state, so
/// the meter allocates per flow; mimalloc makes that about twice as cheap as
/// glibc's allocator (see BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "eddy",
    version,
    about = "Flow monitoring: packets to flows, with nfdump's habits"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Turn packets (a capture file or a live interface) into flow records.
    Meter(meter::MeterArgs),
    /// Generate synthetic traffic for tests and benchmarks.
    Gen(gen::GenArgs),
    /// Send an IPFIX file to a collector over UDP or TCP, as ipfixsend does.
    Send(send::SendArgs),
    /// Receive IPFIX and NetFlow, run stages, write the flow store and other outputs.
    Collect(collect::CollectArgs),
    /// Query the flow store with nfdump's options and filter language.
    Query(query::QueryArgs),
    /// Run a stream module (replay, logger, filter, merger, anonymize, detectors).
    Module(module::ModuleArgs),
    /// Run detectors over a capture or stored flows; print IDEA alerts.
    Detect(detect::DetectArgs),
    /// Manage the flow store: expire old windows, show what it holds.
    Store(store_cmd::StoreArgs),
    /// List alerts from the alert store.
    Alerts(alerts::AlertsArgs),
}

fn main() {
    keep_freed_memory_longer();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Meter(args) => meter::run(args),
        Command::Gen(args) => gen::run(args),
        Command::Send(args) => send::run(args),
        Command::Collect(args) => {
            keep_arena_memory();
            collect::run(args)
        }
        Command::Query(args) => {
            reuse_batch_buffers();
            query::run(args)
        }
        Command::Module(args) => {
            reuse_batch_buffers();
            module::run(args)
        }
        Command::Detect(args) => detect::run(args),
        Command::Store(args) => store_cmd::run(args),
        Command::Alerts(args) => alerts::run(args),
    };
    if let Err(err) = result {
        if is_broken_pipe(&err) {
            // `eddy meter ... | head` is normal use, not an error.
            std::process::exit(0);
        }
        eprintln!("eddy: {err:#}");
        std::process::exit(1);
    }
}

/// mimalloc gives freed memory back to the OS 10 ms after it is freed; the
/// meter and the collector free and reuse large buffers all the time (flow
/// records, record batches, Parquet pages), and the kernel zeroing those
/// pages again cost a third of the collector's time and a fifth of the
/// meter's (BENCHMARKS.md). Keeping them for a second costs no more memory
/// at the peak.
fn keep_freed_memory_longer() {
    /// `mi_option_purge_delay` in mimalloc's `mi_option_t` (mimalloc.h; the
    /// same index in versions 2 and 3); libmimalloc-sys does not name it.
    const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
    // SAFETY: sets a plain integer option before any thread is started;
    // mimalloc reads options atomically.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 1000) };
    keep_c_heap_memory();
}

/// zstd, inside the Parquet writer, takes its contexts (megabytes per
/// column chunk) from the C heap, not from mimalloc. With glibc's defaults
/// the encoder thread's heap shrank and grew again with every row group,
/// and big contexts were mapped and unmapped: the kernel zeroing those
/// pages was a quarter of the collector's time. Keeping up to 512 MiB of
/// freed C heap and serving requests below 32 MiB from the heap cut its
/// page faults threefold (BENCHMARKS.md).
fn keep_c_heap_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt takes two integers and only changes glibc's policy
    // for later frees; no thread is running yet. A failure leaves defaults.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 512 << 20);
    }
}

/// Stream modules and queries allocate and free a batch's buffers
/// (megabytes) for every batch, on many threads, and the kernel zeroing
/// fresh pages was a fifth of a replay's time and up to half of a query's:
/// on transparent huge pages every 2 MiB page that mimalloc gave back was
/// zeroed whole on its next use. Without THP, and with freed arena memory
/// kept 100 s instead of 10 s, the replay of 21 M stored flows took 6.0 s
/// instead of 6.8 s, and `eddy query -s srcip` over 30 M flows 0.84-0.93 s
/// instead of 1.1-1.7 s, at a third of the memory (BENCHMARKS.md). Not for
/// the meter, whose flow slab gains from huge pages.
fn reuse_batch_buffers() {
    keep_arena_memory();
    // SAFETY: prctl with integer arguments only; it affects this process's
    // future page faults and nothing else. A failure (old kernel) is harmless.
    unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
}

/// Freed arena memory is kept 100 s instead of 1 s. The collector's
/// threads hand every message, batch and page to the next thread, which
/// frees it; with the default the kernel zeroed the pages again three times
/// as often (`eddy collect` on 4.3 M records: 1,360 page faults instead of
/// 3,000-7,700, up to 0.4 s less system time; BENCHMARKS.md).
fn keep_arena_memory() {
    /// `mi_option_arena_purge_mult` in mimalloc 3's `mi_option_t`.
    const MI_OPTION_ARENA_PURGE_MULT: libmimalloc_sys::mi_option_t = 24;
    // SAFETY: sets a plain integer option; mimalloc reads options atomically.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_ARENA_PURGE_MULT, 100) };
    // A purge scheduled before main (with the 1 s delay) would still come
    // due a second in and give back everything freed until then: purging
    // the little freed so far now clears that deadline.
    // SAFETY: mi_collect takes a flag and only tidies mimalloc's own state.
    unsafe { libmimalloc_sys::mi_collect(true) };
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
