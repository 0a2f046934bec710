//! The flow cache: decoded packets in, finished flow records out.
//!
//! [`FlowCache`] is a plain struct with [`FlowCache::observe`] (one packet)
//! and [`FlowCache::expire`] (a clock tick); it never reads the clock itself,
//! so replaying a capture gives the same flows as live traffic did.
//!
//! The design decision a reader would question: flows live in a fixed slab of
//! slots threaded on two intrusive lists, one in order of last packet (for the
//! inactive timeout and for eviction) and one in order of first packet (for
//! the active timeout). Expiry then only looks at list heads, so every flow
//! leaves exactly when its timeout passes, without sweeping the cache and
//! without allocating: the slab, the index and the lists are sized once.
//!
//! Defaults follow nfpcapd (the design asks for its flows with L7 off): a TCP
//! FIN or RST ends the flow at once, and DNS (UDP 53) and ICMP packets are
//! flows of their own. [`CacheConfig::like_ipfixprobe`] gives the rules of
//! ipfixprobe and the FlowTest references instead: finished connections keep
//! their trailing packets until they go idle, and every protocol aggregates.

mod cache;
mod fragments;
mod list;

pub use cache::{CacheConfig, CacheStats, FlowCache, TcpEnd};
pub use fragments::FragmentTable;
