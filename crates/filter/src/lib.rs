//! The filter language: nfdump 1.7's filter grammar plus eddy's L7 fields,
//! parsed into one AST ([`Expr`]) and evaluated on in-memory
//! [`FlowRecord`]s. The `query` crate lowers the same AST to DataFusion
//! expressions over the store; the collector, stream modules and detectors
//! evaluate it here.
//!
//! ```
//! let f = filter::parse("proto tcp and dst port 443 and tls_sni contains \"goog\"").unwrap();
//! let r = record::FlowRecord::default();
//! assert!(!f.matches(&r));
//! ```
//!
//! # Grammar
//!
//! ```text
//! filter  := expr | (empty: matches everything)
//! expr    := expr ("or" | "||") expr          lowest
//!          | expr ("and" | "&&") expr
//!          | ("not" | "!") expr               highest
//!          | "(" expr ")" | term
//! comp    := "=" | "==" | "eq" | "!=" | "ne" | "<" | "lt" | "<=" | "le" | ">" | "gt" | ">=" | "ge"
//! dir     := "src" | "dst" | "src or dst" | "dst or src" | "src and dst" | "dst and src"
//! num     := 123 | 0x7b | 10k | 2M | 1g | 1t       (suffixes are powers of 1000, as nfdump)
//! nums    := [comp] num | "in" "[" num [","] num ... "]"
//! term    := "any" | "ipv4" | "inet" | "ipv6" | "inet6"
//!          | "proto" nums (number or name: tcp, udp, icmp, icmp6, gre, esp, ...)
//!          | [dir] ("ip" | "host") (ADDR | "in" "[" ADDR|PREFIX ... "]")
//!          | [dir] "net" (A.B.C.D/n | A.B/n | X::/n | A.B.C.D M.M.M.M)
//!          | [dir] "port" nums | [dir] "as" nums | [dir] "geo" CC
//!          | ["src"] "tos" nums | ["src"] "vlan" nums
//!          | ["in" | "out"] "if" nums
//!          | ["in"] ("packets" | "bytes") nums
//!          | "pps" nums | "bps" nums | "bpp" nums | "duration" nums (ms)
//!          | "flags" LETTERS            all of F S R P A U E C set (X = FSRPAU); implies proto tcp
//!          | "flags" comp (num | LETTERS)  the whole flags byte compared; implies proto tcp
//!          | "icmp-type" nums | "icmp-code" nums       imply proto icmp or icmp6
//!          | [dir | "in" [dir]] "mac" 0a:50:56:c0:00:01
//!          | "router" "ip" ADDR         the exporter
//!          | "observation" "domain" "id" nums
//!          | "payload" "ja3" (HEX32 | "defined")       the tls_ja3 column
//!          | ("first" | "last") "seen" [comp] TIME
//!          | COLUMN value               any column by its store name, below
//!          | PROTO FIELD... value       `http host "x"` = `http_host "x"`, `dns qname ~ "x"`
//! ```
//!
//! Keywords and column names are case-insensitive (nfdump builds its scanner
//! with `flex -i`); values are not, except protocol names, flag letters and
//! country codes. `#` starts a comment to the end of the line.
//!
//! A `COLUMN value` term takes, by the column's [`Kind`]:
//! - numbers (`src_port`, `http_status`, `dns_qtype`, `end_reason`, ...):
//!   `nums`; `proto` also takes names and `end_reason` idle, active, end,
//!   forced, eviction;
//! - addresses (`src_ip`, `dst_ip`, `exporter`): `[= | !=]` an address, a
//!   prefix or `in [ ... ]`;
//! - MACs: `[= | !=]` a MAC;
//! - times (`first`, `last`): `[comp] TIME`, `TIME` =
//!   `yyyy-MM-ddThh:mm:ss[.fff]` in UTC or a prefix of it (`2024-05`),
//!   compared at millisecond precision;
//! - text (L7 strings, `src_country`, `dst_country`): `[= | != | ~ | contains]`
//!   a quoted string or a bare word, or `in [ "a" "b" ]`. `~` is an unanchored
//!   regex search in Rust `regex` syntax (`(?i)` for case-insensitive);
//!   matching is otherwise case-sensitive.
//!
//! # Semantics
//!
//! - A direction qualifier is expanded at parse time: `port 80` is
//!   `src_port = 80 or dst_port = 80`, `src and dst net X` an `And`; so
//!   every leaf of the AST names one column.
//! - A leaf on a null value (a record without that L7 field, an unknown
//!   country) is false, whatever the operator: `http_host != "x"` does not
//!   match a DNS record. `not` of such a leaf is true.
//! - `ipv4` is `src_ip in ::ffff:0:0/96` (addresses are stored IPv4-mapped);
//!   `ipv6` its negation.
//! - Derived columns, which the query crate computes the same way:
//!   `duration` = `last_ms - first_ms` (each truncated to ms), `pps` =
//!   `packets * 1000 / duration`, `bps` = `bytes * 8000 / duration` (both 0
//!   when duration is 0), `bpp` = `bytes / packets` (0 when packets is 0),
//!   `icmp_type` = `dst_port >> 8`, `icmp_code` = `dst_port & 0xff`. All
//!   integer divisions, as nfdump.
//! - `first seen` / `last seen` (newer nfdump 1.7.x) compare the flow's
//!   start/end, truncated to milliseconds, with a UTC time (nfdump uses local
//!   time).
//!
//! # Lowering (for the query crate)
//!
//! Every leaf is one SQL predicate on one column:
//! - `Cmp` → `col op value` (time columns: `value` is ns since the epoch and
//!   a multiple of 1 ms, so a millisecond- or microsecond-precision
//!   timestamp column compares exactly);
//! - `In` → `col IN (values)`; `BitsSet` → `col & mask = mask`;
//! - `Net` → `col BETWEEN lo AND hi` per prefix ([`Net::range`]; 16-byte
//!   addresses in network byte order), ORed;
//! - `Mac` → `col = <6 bytes>`; `Present` → `col IS NOT NULL`;
//! - `Str`: `Eq` → `=`, `Ne` → `!=`, `Contains` → `strpos(col, s) > 0`,
//!   `Regex` → `col ~ pattern` (same Rust regex syntax); countries are
//!   two-letter strings, null when unknown;
//! - `Not(e)` → `NOT coalesce(e, false)` (a null leaf is false here, so its
//!   negation is true, as nfdump's: SQL's three-valued `NOT` would drop it);
//! - derived columns ([`Column::is_derived`]) as computed above, with
//!   integer division and the zero cases.
//!
//! # Extensions over nfdump 1.7
//!
//! `!=`/`ne`; comparators and `in [..]` on every numeric keyword (nfdump
//! allows them on some); `ip 10.0.0.0/8` (nfdump wants `net`); `net 10/8`
//! (nfdump lexes `10` as a number and wants `10.0/8`); `E` and `C` flags,
//! flags numbers up to 255 and `flags = SA` (exact) as in newer nfdump;
//! eddy's columns by name; `~`, `contains` and quoted strings.
//!
//! # Known differences from nfdump 1.7.1
//!
//! Checked by `tests/nfdump_diff.rs`, which runs nfdump on the shared
//! captures and compares the selected flows for ~95 filters. nfdump keeps
//! IPv4 in the low 32 bits of its 128-bit address field, so its IPv4 nets
//! that contain 0.0.0.0 also match the IPv6 address `::`; eddy stores IPv4
//! mapped and does not. nfdump builds a `/0` mask with a 64-bit shift by 64
//! (undefined in C), so its `net 0.0.0.0/0` and `net ::/0` match odd
//! subsets; eddy's match all IPv4, resp. all, addresses. `flags X` is
//! FSRPAU as in nfdump (E and C are not in it). nfdump's `host NAME`
//! resolves names; eddy refuses them.
//!
//! # Not supported, and why
//!
//! Anything eddy's record has no column for: tunnel addresses and protocol
//! (`tunip`, `tun proto`), MPLS labels, next hop and BGP next hop (`next ip`,
//! `bgpnext ip`), adjacent ASes (`prev as`, `next as`), prefix masks
//! (`mask`), NetFlow engine type/id, `nfversion`, forwarding status
//! (`fwdstat`), flow direction (`flowdir`), latencies, exporter sysid,
//! observation point id, NSEL/NEL fields (`asa`, `nat`, `xip`, `xnet`,
//! `xport`, `nip`, `nport`, `pblock`, `ingress`/`egress` VRF and ACLs),
//! the second direction's VLAN, TOS and MACs (`dst vlan`, `dst tos`,
//! `out mac`), `out packets` / `out bytes`, aggregated flow counts (`flows`,
//! `count`), payload content and regex (eddy keeps no payload), nfdump's
//! `ident` and flow labels (`%label`, `flowlabel`), and `@include`. Host
//! names are not resolved (a filter must not depend on DNS). Each gives a
//! parse error that says why. nfdump's non-contiguous netmasks are refused.
//!
//! # Tests
//!
//! `test_data/filter/nftest.tsv` ports every check of nfdump's
//! `src/test/nftest.c` (325 run and pass; 377 use constructs listed above
//! and must fail to parse; 7 need record state eddy cannot hold), and
//! `test_data/filter/eddy.tsv` checks the extensions; both run from
//! `tests/nftest.rs`. `tests/nfdump_diff.rs` compares with nfdump itself.

mod ast;
#[cfg(feature = "arrow")]
pub mod batch;
mod error;
mod eval;
mod lexer;
mod parser;
mod time;

pub use ast::{CmpOp, Column, Expr, Kind, Net, Pattern, StrMatch, CORE_COLUMNS};
#[cfg(feature = "arrow")]
pub use batch::{BatchFilter, SchemaMismatch};
pub use error::ParseError;
pub use parser::{MAX_DEPTH, MAX_LIST};

use record::FlowRecord;

/// A parsed filter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter {
    pub expr: Expr,
}

impl Filter {
    /// Whether the record passes the filter. Does not allocate.
    #[inline]
    pub fn matches(&self, r: &FlowRecord) -> bool {
        self.expr.eval(r)
    }
}

/// Parses a filter expression. Never panics; nesting of parentheses and
/// `not` is capped at [`MAX_DEPTH`].
pub fn parse(src: &str) -> Result<Filter, ParseError> {
    parser::parse_expr(src).map(|expr| Filter { expr })
}

impl std::str::FromStr for Filter {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s)
    }
}

#[cfg(test)]
mod tests;
