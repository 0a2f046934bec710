//! The filter AST: a few leaf predicates over named columns, combined with
//! `And`, `Or` and `Not`. nfdump's direction qualifiers (`src`, `dst`,
//! `src or dst`, `src and dst`, none) are expanded at parse time, so every
//! leaf names exactly one column.

use std::fmt;
use std::net::Ipv6Addr;

/// A column of the flow record, by the store's column name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Column {
    /// Flow start, nanoseconds since the Unix epoch (UTC).
    First,
    /// Flow end, nanoseconds since the Unix epoch (UTC).
    Last,
    SrcIp,
    DstIp,
    SrcPort,
    DstPort,
    Proto,
    TcpFlags,
    Tos,
    Packets,
    Bytes,
    Vlan,
    InIf,
    OutIf,
    SrcAs,
    DstAs,
    SrcCountry,
    DstCountry,
    Exporter,
    Odid,
    /// IPFIX flowEndReason code (1 idle, 2 active, 3 end, 4 forced, 5 eviction).
    EndReason,
    SrcMac,
    DstMac,
    /// Derived: `last_ms - first_ms`, each time truncated to milliseconds (nfdump's duration).
    Duration,
    /// Derived: `packets * 1000 / duration`, 0 when the duration is 0.
    Pps,
    /// Derived: `bytes * 8000 / duration`, 0 when the duration is 0.
    Bps,
    /// Derived: `bytes / packets`, 0 when packets is 0.
    Bpp,
    /// Derived: `dst_port >> 8` (ICMP type, as nfdump stores it in the destination port).
    IcmpType,
    /// Derived: `dst_port & 0xff` (ICMP code).
    IcmpCode,
    /// An L7 column: the index into [`l7::COLUMNS`].
    L7(u8),
}

/// What a column holds, which decides the values and operators it accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// An unsigned integer no larger than `max`.
    UInt { max: u64 },
    /// Nanoseconds since the epoch; filters give ISO 8601 times.
    Time,
    /// A 16-byte address (IPv4 mapped).
    Addr,
    /// A 6-byte MAC address.
    Mac,
    /// Text (nullable); countries are two-letter codes, unknown = null.
    Text,
}

/// Every non-L7 column, in store order, then the derived ones.
pub const CORE_COLUMNS: &[Column] = &[
    Column::First,
    Column::Last,
    Column::SrcIp,
    Column::DstIp,
    Column::SrcPort,
    Column::DstPort,
    Column::Proto,
    Column::TcpFlags,
    Column::Tos,
    Column::Packets,
    Column::Bytes,
    Column::Vlan,
    Column::InIf,
    Column::OutIf,
    Column::SrcAs,
    Column::DstAs,
    Column::SrcCountry,
    Column::DstCountry,
    Column::Exporter,
    Column::Odid,
    Column::EndReason,
    Column::SrcMac,
    Column::DstMac,
    Column::Duration,
    Column::Pps,
    Column::Bps,
    Column::Bpp,
    Column::IcmpType,
    Column::IcmpCode,
];

/// L7 columns whose values are numbers (the others are text). Kept in step
/// with `l7::L7Fields::visit` by a test.
pub(crate) const L7_NUMERIC: &[&str] = &[
    "http_status",
    "dns_id",
    "dns_qtype",
    "dns_qclass",
    "dns_rcode",
    "dns_answers",
    "dns_ttl",
    "tls_version",
    "tls_cipher_suite",
    "smtp_commands",
    "smtp_mail_count",
    "smtp_rcpt_count",
    "smtp_2xx",
    "smtp_3xx",
    "smtp_4xx",
    "smtp_5xx",
    "sip_msg_type",
    "sip_status",
    "quic_version",
];

impl Column {
    /// The store's column name (`src_ip`, `http_host`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Column::First => "first",
            Column::Last => "last",
            Column::SrcIp => "src_ip",
            Column::DstIp => "dst_ip",
            Column::SrcPort => "src_port",
            Column::DstPort => "dst_port",
            Column::Proto => "proto",
            Column::TcpFlags => "tcp_flags",
            Column::Tos => "tos",
            Column::Packets => "packets",
            Column::Bytes => "bytes",
            Column::Vlan => "vlan",
            Column::InIf => "in_if",
            Column::OutIf => "out_if",
            Column::SrcAs => "src_as",
            Column::DstAs => "dst_as",
            Column::SrcCountry => "src_country",
            Column::DstCountry => "dst_country",
            Column::Exporter => "exporter",
            Column::Odid => "odid",
            Column::EndReason => "end_reason",
            Column::SrcMac => "src_mac",
            Column::DstMac => "dst_mac",
            Column::Duration => "duration",
            Column::Pps => "pps",
            Column::Bps => "bps",
            Column::Bpp => "bpp",
            Column::IcmpType => "icmp_type",
            Column::IcmpCode => "icmp_code",
            Column::L7(i) => l7::COLUMNS.get(i as usize).copied().unwrap_or("?"),
        }
    }

    /// The column called `name` (exact, lowercase store name).
    pub fn from_name(name: &str) -> Option<Column> {
        if let Some(c) = CORE_COLUMNS.iter().find(|c| c.name() == name) {
            return Some(*c);
        }
        l7::column_index(name).map(|i| Column::L7(i as u8))
    }

    /// Whether the column is computed from others rather than stored; the
    /// query crate computes it as the variant's doc says.
    pub fn is_derived(self) -> bool {
        matches!(
            self,
            Column::Duration
                | Column::Pps
                | Column::Bps
                | Column::Bpp
                | Column::IcmpType
                | Column::IcmpCode
        )
    }

    pub fn kind(self) -> Kind {
        match self {
            Column::First | Column::Last => Kind::Time,
            Column::SrcIp | Column::DstIp | Column::Exporter => Kind::Addr,
            Column::SrcMac | Column::DstMac => Kind::Mac,
            Column::SrcCountry | Column::DstCountry => Kind::Text,
            Column::SrcPort | Column::DstPort | Column::Vlan => Kind::UInt { max: 0xffff },
            Column::Proto
            | Column::TcpFlags
            | Column::Tos
            | Column::EndReason
            | Column::IcmpType
            | Column::IcmpCode => Kind::UInt { max: 0xff },
            Column::InIf | Column::OutIf | Column::SrcAs | Column::DstAs | Column::Odid => {
                Kind::UInt {
                    max: u32::MAX as u64,
                }
            }
            Column::Packets
            | Column::Bytes
            | Column::Duration
            | Column::Pps
            | Column::Bps
            | Column::Bpp => Kind::UInt { max: u64::MAX },
            Column::L7(i) => {
                let name = self.name();
                let _ = i;
                if L7_NUMERIC.contains(&name) {
                    Kind::UInt { max: u64::MAX }
                } else {
                    Kind::Text
                }
            }
        }
    }
}

impl fmt::Display for Column {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A numeric comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    #[inline]
    pub fn eval(self, a: u64, b: u64) -> bool {
        match self {
            CmpOp::Eq => a == b,
            CmpOp::Ne => a != b,
            CmpOp::Lt => a < b,
            CmpOp::Le => a <= b,
            CmpOp::Gt => a > b,
            CmpOp::Ge => a >= b,
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

/// An address prefix over the 16-byte (IPv4-mapped) address space. An IPv4
/// `/n` is stored as its mapped form `/96+n`; a host is a `/128`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Net {
    /// The network address, host bits zero.
    pub addr: Ipv6Addr,
    /// Prefix length, 0..=128.
    pub len: u8,
}

impl Net {
    /// The prefix `addr/len`, host bits cleared.
    pub fn new(addr: Ipv6Addr, len: u8) -> Net {
        let len = len.min(128);
        Net {
            addr: Ipv6Addr::from(u128::from(addr) & mask(len)),
            len,
        }
    }

    /// All IPv4 addresses (`::ffff:0:0/96`).
    pub fn ipv4() -> Net {
        Net::new(Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0, 0), 96)
    }

    /// Lowest and highest address of the prefix: in the store's byte order a
    /// prefix is the range `lo..=hi`, which is how the query crate lowers it.
    pub fn range(&self) -> (Ipv6Addr, Ipv6Addr) {
        let lo = u128::from(self.addr);
        (Ipv6Addr::from(lo), Ipv6Addr::from(lo | !mask(self.len)))
    }

    #[inline]
    pub fn contains(&self, ip: Ipv6Addr) -> bool {
        u128::from(ip) & mask(self.len) == u128::from(self.addr)
    }
}

#[inline]
pub(crate) fn mask(len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        u128::MAX << (128 - len.min(128) as u32)
    }
}

impl fmt::Display for Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.addr.to_ipv4_mapped() {
            Some(v4) if self.len >= 96 => write!(f, "{}/{}", v4, self.len - 96),
            _ => write!(f, "{}/{}", self.addr, self.len),
        }
    }
}

/// A compiled regular expression (Rust `regex` syntax, which DataFusion's
/// `~` and `regexp_like` use too). Equal when the sources are equal.
#[derive(Clone, Debug)]
pub struct Pattern(pub regex::Regex);

impl Pattern {
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Pattern {}

/// How a text column is matched. A null (absent) value never matches,
/// whichever the operator (SQL semantics: `NULL != 'x'` is not true).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StrMatch {
    Eq(String),
    Ne(String),
    /// Substring (SQL `strpos(col, s) > 0` / `LIKE '%s%'` with escaping).
    Contains(String),
    /// Unanchored regex search (SQL `col ~ 're'`).
    Regex(Pattern),
}

/// A filter expression. Leaves name one column; a leaf on a null value is
/// false (and so `Not` of it is true, as in nfdump and unlike SQL's
/// three-valued logic: the query crate lowers `Not(e)` as
/// `NOT coalesce(e, false)`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expr {
    True,
    False,
    Not(Box<Expr>),
    /// All of; never empty.
    And(Vec<Expr>),
    /// Any of; never empty.
    Or(Vec<Expr>),
    /// `col op value` on a numeric or time column (times in ns since the epoch).
    Cmp {
        col: Column,
        op: CmpOp,
        value: u64,
    },
    /// The numeric column's value is one of `values` (sorted, no duplicates).
    In {
        col: Column,
        values: Vec<u64>,
    },
    /// All bits of `mask` are set in the numeric column (`col & mask = mask`).
    BitsSet {
        col: Column,
        mask: u64,
    },
    /// The address column lies in any of the prefixes (a host is a `/128`).
    Net {
        col: Column,
        nets: Vec<Net>,
    },
    /// The MAC column equals `mac`.
    Mac {
        col: Column,
        mac: [u8; 6],
    },
    /// A text column matches.
    Str {
        col: Column,
        m: StrMatch,
    },
    /// The column has a value (is not null).
    Present {
        col: Column,
    },
}

impl Expr {
    /// `a and b`, flattening nested `And`s.
    pub fn and(parts: Vec<Expr>) -> Expr {
        join(parts, true)
    }

    /// `a or b`, flattening nested `Or`s.
    pub fn or(parts: Vec<Expr>) -> Expr {
        join(parts, false)
    }

    #[allow(clippy::should_implement_trait)]
    pub fn not(e: Expr) -> Expr {
        Expr::Not(Box::new(e))
    }

    /// Every column the expression reads (with repeats).
    pub fn columns(&self, out: &mut Vec<Column>) {
        match self {
            Expr::True | Expr::False => {}
            Expr::Not(e) => e.columns(out),
            Expr::And(v) | Expr::Or(v) => v.iter().for_each(|e| e.columns(out)),
            Expr::Cmp { col, .. }
            | Expr::In { col, .. }
            | Expr::BitsSet { col, .. }
            | Expr::Net { col, .. }
            | Expr::Mac { col, .. }
            | Expr::Str { col, .. }
            | Expr::Present { col } => out.push(*col),
        }
    }

    /// The expression for records whose `col` lies in `lo..=hi`: each
    /// comparison on `col` that the range settles becomes `True` or
    /// `False`, and the `and`, `or` and `not` above it fold. A store
    /// window whose times lie wholly inside a `-t` range thus needs no
    /// time test at all, and one wholly outside becomes `False`. Lists
    /// (`proto in [...]`) settle too. For columns without nulls (a null
    /// fails every comparison).
    pub fn within(&self, col: Column, lo: u64, hi: u64) -> Expr {
        self.settle(&|e| match e {
            Expr::Cmp { col: c, op, value } if *c == col => {
                match (
                    all_in(*op, *value, lo, hi),
                    all_in(op.negated(), *value, lo, hi),
                ) {
                    (true, _) => Some(true),
                    (_, true) => Some(false),
                    _ => None,
                }
            }
            // Sorted and distinct: every value of the range is listed
            // when as many listed values lie in it as it holds.
            Expr::In { col: c, values } if *c == col => {
                match values.iter().filter(|&&v| lo <= v && v <= hi).count() as u64 {
                    0 => Some(false),
                    n if hi - lo == n - 1 => Some(true),
                    _ => None,
                }
            }
            _ => None,
        })
    }

    /// The expression with each test that `known` answers (`Some(true)`:
    /// every record of a set passes it, `Some(false)`: none does) replaced
    /// by `True` or `False`, and the `and`, `or` and `not` above folded.
    /// `known` sees the leaves (comparisons, lists, nets, ...), never
    /// `and`, `or` or `not`. The result selects the same records of the
    /// set as the expression; `False` means none.
    pub fn settle(&self, known: &dyn Fn(&Expr) -> Option<bool>) -> Expr {
        match self {
            Expr::True | Expr::False => self.clone(),
            Expr::Not(e) => match e.settle(known) {
                Expr::True => Expr::False,
                Expr::False => Expr::True,
                e => Expr::not(e),
            },
            Expr::And(v) => {
                let parts: Vec<Expr> = v.iter().map(|e| e.settle(known)).collect();
                if parts.contains(&Expr::False) {
                    return Expr::False;
                }
                Expr::and(parts.into_iter().filter(|e| *e != Expr::True).collect())
            }
            Expr::Or(v) => {
                let parts: Vec<Expr> = v.iter().map(|e| e.settle(known)).collect();
                if parts.contains(&Expr::True) {
                    return Expr::True;
                }
                Expr::or(parts.into_iter().filter(|e| *e != Expr::False).collect())
            }
            leaf => match known(leaf) {
                Some(true) => Expr::True,
                Some(false) => Expr::False,
                None => leaf.clone(),
            },
        }
    }
}

impl CmpOp {
    /// The comparison that holds exactly where this one does not.
    pub fn negated(self) -> CmpOp {
        match self {
            CmpOp::Eq => CmpOp::Ne,
            CmpOp::Ne => CmpOp::Eq,
            CmpOp::Lt => CmpOp::Ge,
            CmpOp::Le => CmpOp::Gt,
            CmpOp::Gt => CmpOp::Le,
            CmpOp::Ge => CmpOp::Lt,
        }
    }
}

/// Whether `v op value` holds for every `v` in `lo..=hi`.
fn all_in(op: CmpOp, value: u64, lo: u64, hi: u64) -> bool {
    match op {
        CmpOp::Eq => lo == value && hi == value,
        CmpOp::Ne => value < lo || value > hi,
        CmpOp::Lt => hi < value,
        CmpOp::Le => hi <= value,
        CmpOp::Gt => lo > value,
        CmpOp::Ge => lo >= value,
    }
}

fn join(parts: Vec<Expr>, and: bool) -> Expr {
    let mut out = Vec::with_capacity(parts.len());
    for p in parts {
        match p {
            Expr::And(v) if and => out.extend(v),
            Expr::Or(v) if !and => out.extend(v),
            p => out.push(p),
        }
    }
    match out.len() {
        0 => {
            if and {
                Expr::True
            } else {
                Expr::False
            }
        }
        1 => out.pop().unwrap_or(Expr::True),
        _ => {
            if and {
                Expr::And(out)
            } else {
                Expr::Or(out)
            }
        }
    }
}

/// A readable form of the expression for messages and debugging (close to
/// the filter language, but `has_bits` and `present` are not in it).
impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::True => f.write_str("any"),
            Expr::False => f.write_str("not any"),
            Expr::Not(e) => write!(f, "not ({e})"),
            Expr::And(v) | Expr::Or(v) => {
                let sep = if matches!(self, Expr::And(_)) {
                    " and "
                } else {
                    " or "
                };
                for (i, e) in v.iter().enumerate() {
                    if i > 0 {
                        f.write_str(sep)?;
                    }
                    write!(f, "({e})")?;
                }
                Ok(())
            }
            Expr::Cmp { col, op, value } => {
                if col.kind() == Kind::Time {
                    write!(
                        f,
                        "{col} {} {}",
                        op.symbol(),
                        crate::time::format_ns(*value)
                    )
                } else {
                    write!(f, "{col} {} {value}", op.symbol())
                }
            }
            Expr::In { col, values } => {
                write!(f, "{col} in [")?;
                for v in values {
                    write!(f, " {v}")?;
                }
                f.write_str(" ]")
            }
            Expr::BitsSet { col, mask } => write!(f, "{col} has_bits {mask:#x}"),
            Expr::Net { col, nets } => {
                write!(f, "{col} in [")?;
                for n in nets {
                    write!(f, " {n}")?;
                }
                f.write_str(" ]")
            }
            Expr::Mac { col, mac } => write!(
                f,
                "{col} = {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
                mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]
            ),
            Expr::Str { col, m } => match m {
                StrMatch::Eq(s) => write!(f, "{col} = {}", quote(s)),
                StrMatch::Ne(s) => write!(f, "{col} != {}", quote(s)),
                StrMatch::Contains(s) => write!(f, "{col} contains {}", quote(s)),
                StrMatch::Regex(p) => write!(f, "{col} ~ {}", quote(p.as_str())),
            },
            Expr::Present { col } => write!(f, "{col} present"),
        }
    }
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\\\""))
}
