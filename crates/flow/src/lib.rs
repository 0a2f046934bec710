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
//! A TCP FIN or RST marks the flow finished: it keeps the connection's last
//! packets, leaves when it goes idle (end reason "end of flow"), and a new SYN
//! on the same key starts a new flow. Defaults follow nfpcapd 1.7.1 (the
//! design asks for its flows with L7 off): DNS (UDP 53) and ICMP packets are
//! flows of their own. [`CacheConfig::like_ipfixprobe`] aggregates every
//! protocol, as ipfixprobe and the FlowTest references do.

mod cache;
mod fragments;
mod list;

pub use cache::{CacheConfig, CacheStats, FlowCache};
pub use fragments::FragmentTable;
