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
//! FIN or RST ends the flow at once and UDP port 53 packets are flows of their
//! own. [`TcpEnd::Linger`] keeps finished connections until they go idle (as
//! ipfixprobe and the FlowTest references count them), and an empty
//! `per_packet_udp_ports` turns the DNS rule off.

mod cache;
mod fragments;
mod list;

pub use cache::{CacheConfig, CacheStats, FlowCache, TcpEnd};
pub use fragments::FragmentTable;
