//! Recursive-descent parser: `or` < `and` < `not` < terms, as nfdump's
//! yacc precedence (`%left OR`, `%left AND`, `%left NEGATE`).

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::ast::{CmpOp, Column, Expr, Kind, Net, Pattern, StrMatch};
use crate::error::ParseError;
use crate::lexer::{lex, Punct, Tok, Token};

/// How deep parentheses and `not`s may nest.
pub const MAX_DEPTH: usize = 64;

/// Most entries an `in [ ... ]` list may have.
pub const MAX_LIST: usize = 1 << 20;

type PResult<T> = Result<T, ParseError>;

pub(crate) fn parse_expr(src: &str) -> PResult<Expr> {
    let toks = lex(src)?;
    let mut p = Parser {
        src,
        toks,
        i: 0,
        depth: 0,
    };
    if p.at_end() {
        // nfdump: an empty filter matches everything.
        return Ok(Expr::True);
    }
    let e = p.or()?;
    if !p.at_end() {
        return Err(p.err(p.i, "`and`, `or` or the end of the filter"));
    }
    Ok(e)
}

struct Parser<'a> {
    src: &'a str,
    toks: Vec<Token<'a>>,
    i: usize,
    depth: usize,
}

/// A direction qualifier, as written before a keyword.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dir {
    Unspec,
    Src,
    Dst,
    Either,
    Both,
    In,
    Out,
    InSrc,
    InDst,
    OutSrc,
    OutDst,
}

/// A parsed numeric condition, applied to one or two columns.
#[derive(Clone, Debug)]
enum NumPred {
    Cmp(CmpOp, u64),
    In(Vec<u64>),
}

impl NumPred {
    fn leaf(&self, col: Column) -> Expr {
        match self {
            NumPred::Cmp(op, v) => Expr::Cmp {
                col,
                op: *op,
                value: *v,
            },
            NumPred::In(values) => Expr::In {
                col,
                values: values.clone(),
            },
        }
    }
}

/// nfdump keywords eddy does not support, and why.
const UNSUPPORTED: &[(&str, &str)] = &[
    ("tunip", "eddy records carry no tunnel addresses"),
    ("tun", "eddy records carry no tunnel protocol"),
    ("mpls", "eddy records carry no MPLS labels"),
    (
        "ident",
        "eddy has no nfdump ident strings; use `exporter` and `odid`",
    ),
    ("flowlabel", "eddy has no flow labels"),
    (
        "flows",
        "eddy records are single flows (no aggregated flow count)",
    ),
    (
        "count",
        "eddy records are single flows (no aggregated flow count)",
    ),
    ("nfversion", "eddy records do not keep the NetFlow version"),
    (
        "engine-type",
        "eddy records carry no NetFlow engine type; use `odid`",
    ),
    (
        "engine-id",
        "eddy records carry no NetFlow engine id; use `odid`",
    ),
    (
        "engine",
        "eddy records carry no NetFlow engine fields; use `odid`",
    ),
    ("next", "eddy records carry no next hop or BGP adjacent AS"),
    ("prev", "eddy records carry no BGP adjacent AS"),
    ("previous", "eddy records carry no BGP adjacent AS"),
    ("bgpnext", "eddy records carry no BGP next hop"),
    ("mask", "eddy records carry no prefix masks"),
    ("fwdstat", "eddy records carry no forwarding status"),
    ("dir", "eddy records carry no flow direction"),
    ("flowdir", "eddy records carry no flow direction"),
    ("client", "eddy records carry no latency fields"),
    ("server", "eddy records carry no latency fields"),
    ("app", "eddy records carry no latency fields"),
    (
        "sysid",
        "eddy has no nfdump exporter sysids; use `exporter`",
    ),
    ("asa", "eddy has no Cisco ASA (NSEL) events"),
    ("nat", "eddy has no NAT (NEL) events"),
    ("xip", "eddy has no NAT translated addresses"),
    ("nip", "eddy has no NAT translated addresses"),
    ("xnet", "eddy has no NAT translated addresses"),
    ("xport", "eddy has no NAT translated ports"),
    ("nport", "eddy has no NAT translated ports"),
    ("pblock", "eddy has no NAT port blocks"),
    ("ingress", "eddy records carry no VRF or ACL ids"),
    ("egress", "eddy records carry no VRF or ACL ids"),
    ("vrf", "eddy records carry no VRF ids"),
    ("tunnel", "eddy records carry no tunnel fields"),
    ("latency", "eddy records carry no latency fields"),
    ("pf", "eddy has no OpenBSD pflog fields"),
];

/// Protocol names accepted by `proto NAME` (case-insensitive): IANA's
/// keywords and the short names nfdump prints.
const PROTOCOLS: &[(&str, u8)] = &[
    ("hopopt", 0),
    ("icmp", 1),
    ("igmp", 2),
    ("ggp", 3),
    ("ipip", 4),
    ("ipv4", 4),
    ("st", 5),
    ("tcp", 6),
    ("cbt", 7),
    ("egp", 8),
    ("igp", 9),
    ("pup", 12),
    ("udp", 17),
    ("xns-idp", 22),
    ("rdp", 27),
    ("dccp", 33),
    ("ipv6", 41),
    ("ipv6-route", 43),
    ("rte6", 43),
    ("ipv6-frag", 44),
    ("frag6", 44),
    ("idrp", 45),
    ("rsvp", 46),
    ("gre", 47),
    ("esp", 50),
    ("ah", 51),
    ("icmp6", 58),
    ("ipv6-icmp", 58),
    ("icmpv6", 58),
    ("ipv6-nonxt", 59),
    ("nohe6", 59),
    ("ipv6-opts", 60),
    ("opts6", 60),
    ("eigrp", 88),
    ("ospf", 89),
    ("ospfigp", 89),
    ("etherip", 97),
    ("encap", 98),
    ("pim", 103),
    ("ipcomp", 108),
    ("ipcmp", 108),
    ("pgm", 113),
    ("vrrp", 112),
    ("l2tp", 115),
    ("isis", 124),
    ("isis4", 124),
    ("sctp", 132),
    ("mobility-header", 135),
    ("mhead", 135),
    ("udplite", 136),
    ("udp-l", 136),
    ("mpls-in-ip", 137),
];

const END_REASONS: &[(&str, u8)] = &[
    ("idle", 1),
    ("active", 2),
    ("end", 3),
    ("forced", 4),
    ("eviction", 5),
];

const L7_PREFIXES: &[&str] = &["http", "dns", "tls", "smtp", "sip", "quic"];

fn lookup(table: &[(&str, u8)], name: &str) -> Option<u64> {
    table
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| *v as u64)
}

impl<'a> Parser<'a> {
    // ---- token helpers ----

    fn tok(&self, k: usize) -> &Token<'a> {
        &self.toks[(self.i + k).min(self.toks.len() - 1)]
    }

    fn at_end(&self) -> bool {
        matches!(self.tok(0).tok, Tok::End)
    }

    fn bump(&mut self) -> usize {
        let at = self.i;
        if self.i < self.toks.len() - 1 {
            self.i += 1;
        }
        at
    }

    fn word(&self, k: usize) -> Option<&'a str> {
        match self.tok(k).tok {
            Tok::Word(w) => Some(w),
            _ => None,
        }
    }

    fn is_kw(&self, k: usize, kw: &str) -> bool {
        self.word(k).is_some_and(|w| w.eq_ignore_ascii_case(kw))
    }

    fn is_punct(&self, k: usize, p: Punct) -> bool {
        self.tok(k).tok == Tok::Punct(p)
    }

    fn is_and(&self, k: usize) -> bool {
        self.is_kw(k, "and") || self.is_punct(k, Punct::AndAnd)
    }

    fn is_or(&self, k: usize) -> bool {
        self.is_kw(k, "or") || self.is_punct(k, Punct::OrOr)
    }

    fn is_not(&self, k: usize) -> bool {
        self.is_kw(k, "not") || self.is_punct(k, Punct::Bang)
    }

    fn found(&self, at: usize) -> String {
        let t = &self.toks[at.min(self.toks.len() - 1)];
        match &t.tok {
            Tok::End => "end of input".to_string(),
            Tok::Quoted(_) | Tok::Word(_) | Tok::Punct(_) => {
                format!("`{}`", &self.src[t.start..t.end])
            }
        }
    }

    fn err(&self, at: usize, expected: impl Into<String>) -> ParseError {
        let at = at.min(self.toks.len() - 1);
        ParseError {
            input: self.src.to_string(),
            pos: self.toks[at].start,
            found: self.found(at),
            expected: expected.into(),
        }
    }

    fn expect_punct(&mut self, p: Punct, what: &str) -> PResult<()> {
        if self.is_punct(0, p) {
            self.bump();
            Ok(())
        } else {
            Err(self.err(self.i, what))
        }
    }

    fn expect_kw(&mut self, kw: &str) -> PResult<()> {
        if self.is_kw(0, kw) {
            self.bump();
            Ok(())
        } else {
            Err(self.err(self.i, format!("`{kw}`")))
        }
    }

    /// A value token: a word or a quoted string (not `and`/`or`/`not`).
    fn value(&mut self, what: &str) -> PResult<(usize, String)> {
        let at = self.i;
        match &self.tok(0).tok {
            Tok::Word(w) if !is_reserved(w) => {
                let w = w.to_string();
                self.bump();
                Ok((at, w))
            }
            Tok::Quoted(s) => {
                let s = s.clone();
                self.bump();
                Ok((at, s))
            }
            _ => Err(self.err(at, what)),
        }
    }

    // ---- expressions ----

    fn or(&mut self) -> PResult<Expr> {
        let mut parts = vec![self.and()?];
        while self.is_or(0) {
            self.bump();
            parts.push(self.and()?);
        }
        Ok(Expr::or(parts))
    }

    fn and(&mut self) -> PResult<Expr> {
        let mut parts = vec![self.unary()?];
        while self.is_and(0) {
            self.bump();
            parts.push(self.unary()?);
        }
        Ok(Expr::and(parts))
    }

    fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err(
                self.i,
                format!("at most {MAX_DEPTH} nested parentheses and `not`s"),
            ));
        }
        Ok(())
    }

    fn unary(&mut self) -> PResult<Expr> {
        if self.is_not(0) {
            self.enter()?;
            self.bump();
            let e = self.unary()?;
            self.depth -= 1;
            return Ok(Expr::not(e));
        }
        if self.is_punct(0, Punct::LParen) {
            self.enter()?;
            self.bump();
            let e = self.or()?;
            self.expect_punct(Punct::RParen, "`)`, `and` or `or`")?;
            self.depth -= 1;
            if self.is_punct(0, Punct::Percent) {
                return Err(self.err(self.i, "no flow label (nfdump's `%label` is not supported)"));
            }
            return Ok(e);
        }
        if self.is_punct(0, Punct::Percent) {
            return Err(self.err(self.i, "a filter term (nfdump's `%label` is not supported)"));
        }
        self.term()
    }

    // ---- terms ----

    fn term(&mut self) -> PResult<Expr> {
        let at = self.i;
        let Some(w) = self.word(0) else {
            return Err(self.err(at, TERM));
        };
        let lw = w.to_ascii_lowercase();
        match lw.as_str() {
            "any" => {
                self.bump();
                return Ok(Expr::True);
            }
            "ipv4" | "inet" => {
                self.bump();
                return Ok(Expr::Net {
                    col: Column::SrcIp,
                    nets: vec![Net::ipv4()],
                });
            }
            "ipv6" | "inet6" => {
                self.bump();
                return Ok(Expr::not(Expr::Net {
                    col: Column::SrcIp,
                    nets: vec![Net::ipv4()],
                }));
            }
            "src" | "dst" | "in" | "out" => {
                let dir = self.dqual();
                return self.qualified(dir, at);
            }
            "ip" | "host" | "net" | "port" | "as" | "geo" | "mac" | "tos" | "vlan" | "if"
            | "packets" | "bytes" => return self.qualified(Dir::Unspec, at),
            "proto" => {
                self.bump();
                let p = self.num_pred(255, "a protocol number 0..255 or name", Some(PROTOCOLS))?;
                return Ok(p.leaf(Column::Proto));
            }
            "flags" => return self.flags(),
            "icmp-type" | "icmp-code" => {
                self.bump();
                let col = if lw == "icmp-type" {
                    Column::IcmpType
                } else {
                    Column::IcmpCode
                };
                let p = self.num_pred(255, "an ICMP type/code 0..255", None)?;
                return Ok(Expr::and(vec![
                    Expr::In {
                        col: Column::Proto,
                        values: vec![1, 58],
                    },
                    p.leaf(col),
                ]));
            }
            "router" => {
                self.bump();
                self.expect_kw("ip")?;
                let nets = self.addr_value(false)?;
                return Ok(Expr::Net {
                    col: Column::Exporter,
                    nets,
                });
            }
            "observation" => {
                self.bump();
                if self.is_kw(0, "point") {
                    return Err(self.err(
                        self.i,
                        "`domain` (eddy records carry no observation point id)",
                    ));
                }
                self.expect_kw("domain")?;
                self.expect_kw("id")?;
                let p = self.num_pred(u32::MAX as u64, "an observation domain id", None)?;
                return Ok(p.leaf(Column::Odid));
            }
            "payload" => {
                self.bump();
                if !self.is_kw(0, "ja3") {
                    return Err(self.err(
                        self.i,
                        "`ja3` (eddy keeps no payload; for L7 fields use e.g. `http_url ~ \"re\"`)",
                    ));
                }
                self.bump();
                let col = Column::from_name("tls_ja3").ok_or_else(|| self.err(at, "tls_ja3"))?;
                if self.is_kw(0, "defined") {
                    self.bump();
                    return Ok(Expr::Present { col });
                }
                let (vat, v) = self.value("a JA3 hash (32 hex digits) or `defined`")?;
                if v.len() != 32 || !v.bytes().all(|c| c.is_ascii_hexdigit()) {
                    return Err(self.err(vat, "a JA3 hash (32 hex digits) or `defined`"));
                }
                return Ok(Expr::Str {
                    col,
                    m: StrMatch::Eq(v.to_ascii_lowercase()),
                });
            }
            "first" | "last" if self.is_kw(1, "seen") => {
                self.bump();
                self.bump();
                let col = if lw == "first" {
                    Column::First
                } else {
                    Column::Last
                };
                return self.time_pred(col);
            }
            _ => {}
        }
        if let Some(col) = Column::from_name(&lw) {
            self.bump();
            return self.column_pred(col);
        }
        if L7_PREFIXES.contains(&lw.as_str()) {
            // `http host "x"`, `http user agent ~ "x"`: join words with `_`.
            for n in [2usize, 1] {
                let mut name = lw.clone();
                let mut ok = true;
                for k in 1..=n {
                    match self.word(k) {
                        Some(next) => {
                            name.push('_');
                            name.push_str(&next.to_ascii_lowercase());
                        }
                        None => ok = false,
                    }
                }
                if let (true, Some(col)) = (ok, Column::from_name(&name)) {
                    for _ in 0..=n {
                        self.bump();
                    }
                    return self.column_pred(col);
                }
            }
            return Err(self.err(
                self.i + 1,
                format!("an L7 field of `{lw}` (e.g. `{lw} ...` for a `{lw}_...` column)"),
            ));
        }
        if let Some((_, why)) = UNSUPPORTED.iter().find(|(k, _)| *k == lw) {
            return Err(self.err(at, format!("a filter term eddy supports ({why})")));
        }
        Err(self.err(at, TERM))
    }

    /// `src`, `dst`, `src or dst`, `src and dst`, `in`, `out`, `in src`, ...
    fn dqual(&mut self) -> Dir {
        let first = self.word(0).unwrap_or("").to_ascii_lowercase();
        self.bump();
        match first.as_str() {
            "src" | "dst" => {
                let other = if first == "src" { "dst" } else { "src" };
                let base = if first == "src" { Dir::Src } else { Dir::Dst };
                if self.is_kw(1, other) && (self.is_or(0) || self.is_and(0)) {
                    let both = self.is_and(0);
                    self.bump();
                    self.bump();
                    return if both { Dir::Both } else { Dir::Either };
                }
                base
            }
            _ => {
                let inb = first == "in";
                if self.is_kw(0, "src") {
                    self.bump();
                    if inb {
                        Dir::InSrc
                    } else {
                        Dir::OutSrc
                    }
                } else if self.is_kw(0, "dst") {
                    self.bump();
                    if inb {
                        Dir::InDst
                    } else {
                        Dir::OutDst
                    }
                } else if inb {
                    Dir::In
                } else {
                    Dir::Out
                }
            }
        }
    }

    /// The keyword after a direction qualifier (or a bare keyword).
    fn qualified(&mut self, dir: Dir, qual_at: usize) -> PResult<Expr> {
        let at = self.i;
        let kw = self.word(0).unwrap_or("").to_ascii_lowercase();
        let simple = matches!(
            dir,
            Dir::Unspec | Dir::Src | Dir::Dst | Dir::Either | Dir::Both
        );
        let unsupported = |p: &Self, why: &str| {
            Err(p.err(qual_at, format!("a qualifier eddy supports here ({why})")))
        };
        match kw.as_str() {
            "ip" | "host" if simple => {
                self.bump();
                let nets = self.addr_value(false)?;
                Ok(directed(
                    dir,
                    |col| Expr::Net {
                        col,
                        nets: nets.clone(),
                    },
                    Column::SrcIp,
                    Column::DstIp,
                ))
            }
            "net" if simple => {
                self.bump();
                let nets = self.addr_value(true)?;
                Ok(directed(
                    dir,
                    |col| Expr::Net {
                        col,
                        nets: nets.clone(),
                    },
                    Column::SrcIp,
                    Column::DstIp,
                ))
            }
            "port" if simple => {
                self.bump();
                let p = self.num_pred(0xffff, "a port number 0..65535", None)?;
                Ok(directed(
                    dir,
                    |c| p.leaf(c),
                    Column::SrcPort,
                    Column::DstPort,
                ))
            }
            "as" if simple => {
                self.bump();
                let p = self.num_pred(u32::MAX as u64, "an AS number 0..4294967295", None)?;
                Ok(directed(dir, |c| p.leaf(c), Column::SrcAs, Column::DstAs))
            }
            "geo" if simple => {
                self.bump();
                let m = StrMatch::Eq(self.country_value()?);
                Ok(directed(
                    dir,
                    |col| Expr::Str { col, m: m.clone() },
                    Column::SrcCountry,
                    Column::DstCountry,
                ))
            }
            "tos" | "vlan" if simple => {
                if !matches!(dir, Dir::Unspec | Dir::Src) {
                    return unsupported(
                        self,
                        &format!("eddy records have one `{kw}`, the source's"),
                    );
                }
                self.bump();
                let (col, max, what) = if kw == "tos" {
                    (Column::Tos, 255, "a TOS value 0..255")
                } else {
                    (Column::Vlan, 0xffff, "a VLAN id 0..65535")
                };
                Ok(self.num_pred(max, what, None)?.leaf(col))
            }
            "mac" => {
                let (src, dst) = (Column::SrcMac, Column::DstMac);
                let d = match dir {
                    Dir::Unspec | Dir::Src | Dir::Dst | Dir::Either | Dir::Both => dir,
                    Dir::In => Dir::Either,
                    Dir::InSrc => Dir::Src,
                    Dir::InDst => Dir::Dst,
                    Dir::Out | Dir::OutSrc | Dir::OutDst => {
                        return unsupported(self, "eddy records carry the input MACs only");
                    }
                };
                self.bump();
                let mac = self.mac_value()?;
                Ok(directed(d, |col| Expr::Mac { col, mac }, src, dst))
            }
            "if" if matches!(dir, Dir::Unspec | Dir::In | Dir::Out) => {
                self.bump();
                let p = self.num_pred(u32::MAX as u64, "an interface index", None)?;
                Ok(match dir {
                    Dir::In => p.leaf(Column::InIf),
                    Dir::Out => p.leaf(Column::OutIf),
                    _ => Expr::or(vec![p.leaf(Column::InIf), p.leaf(Column::OutIf)]),
                })
            }
            "packets" | "bytes" if matches!(dir, Dir::Unspec | Dir::In | Dir::Out) => {
                if dir == Dir::Out {
                    return unsupported(self, "eddy records have no `out` counters");
                }
                self.bump();
                let col = if kw == "packets" {
                    Column::Packets
                } else {
                    Column::Bytes
                };
                Ok(self.num_pred(u64::MAX, "a number", None)?.leaf(col))
            }
            _ => {
                let allowed = match dir {
                    Dir::In | Dir::Out => "`if`, `packets`, `bytes`, `mac`, `src mac` or `dst mac`",
                    Dir::InSrc | Dir::InDst | Dir::OutSrc | Dir::OutDst => "`mac`",
                    _ => "`ip`, `host`, `net`, `port`, `as`, `geo`, `mac`, `tos` or `vlan`",
                };
                Err(self.err(at, allowed))
            }
        }
    }

    // ---- values ----

    fn comp(&mut self) -> Option<CmpOp> {
        let op = match &self.tok(0).tok {
            Tok::Punct(Punct::Eq) => CmpOp::Eq,
            Tok::Punct(Punct::Ne) => CmpOp::Ne,
            Tok::Punct(Punct::Lt) => CmpOp::Lt,
            Tok::Punct(Punct::Le) => CmpOp::Le,
            Tok::Punct(Punct::Gt) => CmpOp::Gt,
            Tok::Punct(Punct::Ge) => CmpOp::Ge,
            Tok::Word(w) => match w.to_ascii_lowercase().as_str() {
                "eq" => CmpOp::Eq,
                "ne" => CmpOp::Ne,
                "lt" => CmpOp::Lt,
                "le" => CmpOp::Le,
                "gt" => CmpOp::Gt,
                "ge" => CmpOp::Ge,
                _ => return None,
            },
            _ => return None,
        };
        self.bump();
        Some(op)
    }

    fn number(&mut self, max: u64, what: &str, names: Option<&[(&str, u8)]>) -> PResult<u64> {
        let at = self.i;
        let v = match (&self.tok(0).tok, names) {
            (Tok::Word(w), _) if w.as_bytes().first().is_some_and(u8::is_ascii_digit) => {
                parse_number(w)
            }
            (Tok::Word(w), Some(t)) => lookup(t, w),
            (Tok::Quoted(w), Some(t)) => lookup(t, w),
            _ => None,
        };
        match v {
            Some(v) if v <= max => {
                self.bump();
                Ok(v)
            }
            _ => Err(self.err(at, what)),
        }
    }

    /// `[comp] N` or `in [ N N, N ... ]`.
    fn num_pred(&mut self, max: u64, what: &str, names: Option<&[(&str, u8)]>) -> PResult<NumPred> {
        if self.is_kw(0, "in") && self.is_punct(1, Punct::LBracket) {
            self.bump();
            self.bump();
            let mut values = Vec::new();
            loop {
                if self.is_punct(0, Punct::RBracket) && !values.is_empty() {
                    self.bump();
                    break;
                }
                if self.is_punct(0, Punct::Comma) && !values.is_empty() {
                    self.bump();
                    continue;
                }
                if values.len() >= MAX_LIST {
                    return Err(self.err(self.i, format!("`]` (at most {MAX_LIST} entries)")));
                }
                values.push(self.number(max, &format!("{what} or `]`"), names)?);
            }
            values.sort_unstable();
            values.dedup();
            return Ok(NumPred::In(values));
        }
        let op = self.comp().unwrap_or(CmpOp::Eq);
        Ok(NumPred::Cmp(op, self.number(max, what, names)?))
    }

    /// An address, a prefix, or `in [ ... ]` of both. `net` allows partial
    /// IPv4 (`172.32/16`) and `A.B.C.D M.M.M.M` masks, and requires a prefix.
    fn addr_value(&mut self, net: bool) -> PResult<Vec<Net>> {
        if self.is_kw(0, "in") && self.is_punct(1, Punct::LBracket) {
            self.bump();
            self.bump();
            let mut nets = Vec::new();
            loop {
                if self.is_punct(0, Punct::RBracket) && !nets.is_empty() {
                    self.bump();
                    break;
                }
                if self.is_punct(0, Punct::Comma) && !nets.is_empty() {
                    self.bump();
                    continue;
                }
                if nets.len() >= MAX_LIST {
                    return Err(self.err(self.i, format!("`]` (at most {MAX_LIST} entries)")));
                }
                nets.push(self.one_addr(false, "an IP address, a prefix or `]`")?);
            }
            nets.sort_unstable_by_key(|n| (u128::from(n.addr), n.len));
            nets.dedup();
            return Ok(nets);
        }
        let what = if net {
            "a network (`10.0.0.0/8`, `172.32/16`, `fe80::/10` or `10.0.0.0 255.0.0.0`)"
        } else {
            "an IP address (host names are not resolved)"
        };
        Ok(vec![self.one_addr(net, what)?])
    }

    fn one_addr(&mut self, net: bool, what: &str) -> PResult<Net> {
        let at = self.i;
        let Some(w) = self.word(0) else {
            return Err(self.err(at, what));
        };
        let has_prefix = self.is_punct(1, Punct::Slash);
        let Some((addr, v4_octets)) = parse_addr(w, has_prefix || net) else {
            return Err(self.err(at, what));
        };
        self.bump();
        let is_v4 = v4_octets > 0;
        if has_prefix {
            self.bump();
            let max = if is_v4 { 32 } else { 128 };
            let len = self.number(max, &format!("a prefix length 0..{max}"), None)? as u8;
            return Ok(Net::new(addr, if is_v4 { len + 96 } else { len }));
        }
        if net {
            // `net A.B.C.D M.M.M.M`
            if let (true, Some(m)) = (is_v4, self.word(0).and_then(|m| m.parse::<Ipv4Addr>().ok()))
            {
                let m = u32::from(m);
                if m.leading_ones() + m.trailing_zeros() != 32 {
                    return Err(self.err(self.i, "a contiguous netmask"));
                }
                self.bump();
                return Ok(Net::new(addr, 96 + m.leading_ones() as u8));
            }
            return Err(self.err(self.i, "`/` and a prefix length, or an IPv4 netmask"));
        }
        Ok(Net::new(addr, 128))
    }

    fn mac_value(&mut self) -> PResult<[u8; 6]> {
        let what = "a MAC address (`0a:50:56:c0:00:01`)";
        let (at, v) = self.value(what)?;
        parse_mac(&v).ok_or_else(|| self.err(at, what))
    }

    fn country_value(&mut self) -> PResult<String> {
        let what = "a two-letter country code";
        let (at, v) = self.value(what)?;
        if v.len() != 2 || !v.bytes().all(|c| c.is_ascii_alphabetic()) {
            return Err(self.err(at, what));
        }
        Ok(v.to_ascii_uppercase())
    }

    /// `flags [comp] (N | LETTERS)`; implies `proto tcp`. Without a
    /// comparator, letters mean "all these set"; with one, the letters'
    /// value is compared with the whole flags byte (`flags = SA`: exactly
    /// SYN and ACK, as newer nfdump's `flags =SA`).
    fn flags(&mut self) -> PResult<Expr> {
        self.bump();
        let op = self.comp();
        let what = "TCP flags: a number 0..255 or letters of `FSRPAUEC` (`X` = FSRPAU)";
        let (at, v) = self.value(what)?;
        let leaf = if v.as_bytes().first().is_some_and(u8::is_ascii_digit) {
            match parse_number(&v) {
                Some(n) if n <= 255 => Expr::Cmp {
                    col: Column::TcpFlags,
                    op: op.unwrap_or(CmpOp::Eq),
                    value: n,
                },
                _ => return Err(self.err(at, what)),
            }
        } else {
            let mut mask = 0u64;
            for c in v.chars() {
                mask |= match c.to_ascii_uppercase() {
                    'F' => 0x01,
                    'S' => 0x02,
                    'R' => 0x04,
                    'P' => 0x08,
                    'A' => 0x10,
                    'U' => 0x20,
                    'E' => 0x40,
                    'C' => 0x80,
                    'X' => 0x3f,
                    _ => return Err(self.err(at, what)),
                };
            }
            match op {
                None => Expr::BitsSet {
                    col: Column::TcpFlags,
                    mask,
                },
                Some(op) => Expr::Cmp {
                    col: Column::TcpFlags,
                    op,
                    value: mask,
                },
            }
        };
        Ok(Expr::and(vec![
            Expr::Cmp {
                col: Column::Proto,
                op: CmpOp::Eq,
                value: 6,
            },
            leaf,
        ]))
    }

    /// A time comparison, at millisecond precision: the record's time is
    /// truncated to milliseconds and compared with the given time.
    fn time_pred(&mut self, col: Column) -> PResult<Expr> {
        let op = self.comp().unwrap_or(CmpOp::Eq);
        let what = "a UTC time `yyyy-MM-ddThh:mm:ss[.fff]` (or a prefix of it)";
        let (at, v) = self.value(what)?;
        let ms = crate::time::parse_ms(&v).ok_or_else(|| self.err(at, what))?;
        // Nanoseconds in a u64 end in 2554.
        let (Some(lo), Some(hi)) = (ms.checked_mul(1_000_000), (ms + 1).checked_mul(1_000_000))
        else {
            return Err(self.err(
                at,
                "a time before the year 2554 (nanoseconds since 1970 fit 64 bits)",
            ));
        };
        let cmp = |op, value| Expr::Cmp { col, op, value };
        Ok(match op {
            CmpOp::Eq => Expr::and(vec![cmp(CmpOp::Ge, lo), cmp(CmpOp::Lt, hi)]),
            CmpOp::Ne => Expr::or(vec![cmp(CmpOp::Lt, lo), cmp(CmpOp::Ge, hi)]),
            CmpOp::Lt => cmp(CmpOp::Lt, lo),
            CmpOp::Le => cmp(CmpOp::Lt, hi),
            CmpOp::Gt => cmp(CmpOp::Ge, hi),
            CmpOp::Ge => cmp(CmpOp::Ge, lo),
        })
    }

    /// `COLUMN [op] VALUE` for any column by its store name.
    fn column_pred(&mut self, col: Column) -> PResult<Expr> {
        match col.kind() {
            Kind::UInt { max } => {
                let names = match col {
                    Column::Proto => Some(PROTOCOLS),
                    Column::EndReason => Some(END_REASONS),
                    _ => None,
                };
                let what = match col {
                    Column::Proto => "a protocol number or name".to_string(),
                    Column::EndReason => {
                        "an end reason (idle, active, end, forced, eviction) or code".to_string()
                    }
                    _ => format!("a number 0..{max}"),
                };
                Ok(self.num_pred(max, &what, names)?.leaf(col))
            }
            Kind::Time => self.time_pred(col),
            Kind::Addr => {
                let op = self.eq_ne();
                let nets = if self.is_kw(0, "in") || self.is_punct(1, Punct::Slash) {
                    self.addr_value(true)?
                } else {
                    self.addr_value(false)?
                };
                let e = Expr::Net { col, nets };
                Ok(if op == CmpOp::Ne { Expr::not(e) } else { e })
            }
            Kind::Mac => {
                let op = self.eq_ne();
                let mac = self.mac_value()?;
                let e = Expr::Mac { col, mac };
                Ok(if op == CmpOp::Ne { Expr::not(e) } else { e })
            }
            Kind::Text => self.text_pred(col),
        }
    }

    fn eq_ne(&mut self) -> CmpOp {
        match self.tok(0).tok {
            Tok::Punct(Punct::Eq) => {
                self.bump();
                CmpOp::Eq
            }
            Tok::Punct(Punct::Ne) => {
                self.bump();
                CmpOp::Ne
            }
            _ => match self.word(0).map(|w| w.to_ascii_lowercase()) {
                Some(w) if w == "eq" => {
                    self.bump();
                    CmpOp::Eq
                }
                Some(w) if w == "ne" => {
                    self.bump();
                    CmpOp::Ne
                }
                _ => CmpOp::Eq,
            },
        }
    }

    fn text_pred(&mut self, col: Column) -> PResult<Expr> {
        let country = matches!(col, Column::SrcCountry | Column::DstCountry);
        if self.is_kw(0, "in") && self.is_punct(1, Punct::LBracket) {
            self.bump();
            self.bump();
            let mut parts = Vec::new();
            loop {
                if self.is_punct(0, Punct::RBracket) && !parts.is_empty() {
                    self.bump();
                    break;
                }
                if self.is_punct(0, Punct::Comma) && !parts.is_empty() {
                    self.bump();
                    continue;
                }
                if parts.len() >= MAX_LIST {
                    return Err(self.err(self.i, format!("`]` (at most {MAX_LIST} entries)")));
                }
                let m = if country {
                    StrMatch::Eq(self.country_value()?)
                } else {
                    StrMatch::Eq(self.value("a string or `]`")?.1)
                };
                parts.push(Expr::Str { col, m });
            }
            return Ok(Expr::or(parts));
        }
        let at = self.i;
        let op = match &self.tok(0).tok {
            Tok::Punct(Punct::Eq) => Some("="),
            Tok::Punct(Punct::Ne) => Some("!="),
            Tok::Punct(Punct::Tilde) => Some("~"),
            Tok::Word(w) if w.eq_ignore_ascii_case("contains") => Some("contains"),
            Tok::Word(w) if w.eq_ignore_ascii_case("eq") => Some("="),
            Tok::Word(w) if w.eq_ignore_ascii_case("ne") => Some("!="),
            Tok::Punct(Punct::Lt | Punct::Le | Punct::Gt | Punct::Ge) => {
                return Err(self.err(
                    at,
                    format!("`=`, `!=`, `~`, `contains` or a string (`{col}` is text)"),
                ));
            }
            _ => None,
        };
        if op.is_some() {
            self.bump();
        }
        if country {
            let code = self.country_value()?;
            return Ok(match op {
                None | Some("=") => Expr::Str {
                    col,
                    m: StrMatch::Eq(code),
                },
                Some("!=") => Expr::Str {
                    col,
                    m: StrMatch::Ne(code),
                },
                _ => return Err(self.err(at, format!("`=` or `!=` (`{col}` is a country code)"))),
            });
        }
        let (vat, v) = self.value("a string (quoted, or a bare word)")?;
        let m = match op {
            None | Some("=") => StrMatch::Eq(v),
            Some("!=") => StrMatch::Ne(v),
            Some("contains") => StrMatch::Contains(v),
            _ => {
                let re = regex::RegexBuilder::new(&v)
                    .size_limit(1 << 20)
                    .dfa_size_limit(1 << 20)
                    .nest_limit(100)
                    .build()
                    .map_err(|e| {
                        let msg = e.to_string();
                        let last = msg.lines().last().unwrap_or("").trim().to_string();
                        self.err(vat, format!("a valid regular expression ({last})"))
                    })?;
                StrMatch::Regex(Pattern(re))
            }
        };
        Ok(Expr::Str { col, m })
    }
}

const TERM: &str =
    "a filter term (`any`, `proto tcp`, `ip 10.0.0.1`, `net 10.0.0.0/8`, `port 80`, \
`flags S`, `bytes > 1k`, a column such as `http_host \"example.com\"`, or `(`/`not`)";

fn is_reserved(w: &str) -> bool {
    ["and", "or", "not"]
        .iter()
        .any(|k| w.eq_ignore_ascii_case(k))
}

/// Expands a direction qualifier into leaves on the source and destination columns.
fn directed(dir: Dir, mk: impl Fn(Column) -> Expr, src: Column, dst: Column) -> Expr {
    match dir {
        Dir::Src | Dir::InSrc | Dir::OutSrc => mk(src),
        Dir::Dst | Dir::InDst | Dir::OutDst => mk(dst),
        Dir::Both => Expr::and(vec![mk(src), mk(dst)]),
        Dir::Unspec | Dir::Either | Dir::In | Dir::Out => Expr::or(vec![mk(src), mk(dst)]),
    }
}

/// Decimal (with an optional `k`/`m`/`g`/`t` suffix, powers of 1000 as
/// nfdump) or `0x` hex; `None` on anything else or overflow.
pub(crate) fn parse_number(w: &str) -> Option<u64> {
    if let Some(h) = w.strip_prefix("0x").or_else(|| w.strip_prefix("0X")) {
        if h.is_empty() || h.len() > 16 || !h.bytes().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        return u64::from_str_radix(h, 16).ok();
    }
    let (digits, mult) = match w.as_bytes().last()? {
        b'k' | b'K' => (&w[..w.len() - 1], 1_000u64),
        b'm' | b'M' => (&w[..w.len() - 1], 1_000_000),
        b'g' | b'G' => (&w[..w.len() - 1], 1_000_000_000),
        b't' | b'T' => (&w[..w.len() - 1], 1_000_000_000_000),
        _ => (w, 1),
    };
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(mult)
}

/// An IPv6 address, or an IPv4 one (mapped) with its octet count. With
/// `partial`, IPv4 may have 1 to 4 octets (`172.32` = `172.32.0.0`).
fn parse_addr(w: &str, partial: bool) -> Option<(Ipv6Addr, u8)> {
    if w.contains(':') {
        let a: Ipv6Addr = w.parse().ok()?;
        return Some((a, 0));
    }
    let mut oct = [0u8; 4];
    let mut n = 0;
    for part in w.split('.') {
        if n == 4 || part.is_empty() || part.len() > 3 || !part.bytes().all(|c| c.is_ascii_digit())
        {
            return None;
        }
        oct[n] = part.parse().ok()?;
        n += 1;
    }
    if n == 0 || (n < 4 && !partial) {
        return None;
    }
    Some((Ipv4Addr::from(oct).to_ipv6_mapped(), n as u8))
}

fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut n = 0;
    for part in s.split(':') {
        if n == 6 || part.is_empty() || part.len() > 2 {
            return None;
        }
        mac[n] = u8::from_str_radix(part, 16).ok()?;
        n += 1;
    }
    (n == 6).then_some(mac)
}
