//! The flow cache: decoded packets in, finished flow records out.
//!
//! [`FlowCache`] is a plain struct with [`FlowCache::observe`] (one packet)
//! and [`FlowCache::expire`] (a clock tick); it never reads the clock itself,
//! so replaying a capture gives the same flows as live traffic did.
//!
//! The design decision a reader would question: timeouts are checked lazily.
//! A packet checks its own flow's timeouts before it is counted, so which
//! packets make up which flow is exact. Flows that get no more packets leave
//! through a timer wheel of one-second buckets: a flow is filed in the bucket
//! of its due time when created and refiled only when that bucket comes up,
//! so a packet never touches the wheel (an exact LRU list would cost several
//! cache misses per packet). An idle flow therefore leaves at most one second
//! after its timeout, and the whole cache is covered every turn of the wheel.
//! Nothing allocates after start: the slab, the index and the wheel's links
//! are sized once.
//!
//! A TCP FIN or RST marks the flow finished: it keeps the connection's last
//! packets, leaves when it goes idle (end reason "end of flow"), and a new SYN
//! on the same key starts a new flow. Defaults follow nfpcapd 1.7.1 (the
//! design asks for its flows with L7 off): DNS (UDP 53) and ICMP packets are
//! flows of their own. [`CacheConfig::like_ipfixprobe`] aggregates every
//! protocol, as ipfixprobe and the FlowTest references do.

mod cache;
mod fragments;
mod index;
mod list;

pub use cache::{CacheConfig, CacheStats, FlowCache};
pub use fragments::FragmentTable;
