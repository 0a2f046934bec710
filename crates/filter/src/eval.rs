//! Evaluation of an [`Expr`] on one in-memory [`FlowRecord`]. Nothing here
//! allocates: lists are sorted at parse time, regexes compiled, L7 values
//! borrowed through `L7Fields::visit`.

use record::FlowRecord;

use crate::ast::{Column, Expr, StrMatch};

impl Expr {
    /// Whether the record satisfies the expression.
    pub fn eval(&self, r: &FlowRecord) -> bool {
        match self {
            Expr::True => true,
            Expr::False => false,
            Expr::Not(e) => !e.eval(r),
            Expr::And(v) => v.iter().all(|e| e.eval(r)),
            Expr::Or(v) => v.iter().any(|e| e.eval(r)),
            Expr::Cmp { col, op, value } => uint(*col, r).is_some_and(|x| op.eval(x, *value)),
            Expr::In { col, values } => {
                uint(*col, r).is_some_and(|x| values.binary_search(&x).is_ok())
            }
            Expr::BitsSet { col, mask } => uint(*col, r).is_some_and(|x| x & mask == *mask),
            Expr::Net { col, nets } => {
                let ip = match col {
                    Column::SrcIp => r.src_ip,
                    Column::DstIp => r.dst_ip,
                    Column::Exporter => r.exporter,
                    _ => return false,
                };
                nets.iter().any(|n| n.contains(ip))
            }
            Expr::Mac { col, mac } => match col {
                Column::SrcMac => r.src_mac == *mac,
                Column::DstMac => r.dst_mac == *mac,
                _ => false,
            },
            Expr::Str { col, m } => with_text(*col, r, |s| match (s, m) {
                (None, _) => false,
                (Some(s), StrMatch::Eq(v)) => s == v,
                (Some(s), StrMatch::Ne(v)) => s != v,
                (Some(s), StrMatch::Contains(v)) => s.contains(v.as_str()),
                (Some(s), StrMatch::Regex(p)) => p.0.is_match(s),
            }),
            Expr::Present { col } => match col.kind() {
                crate::ast::Kind::Text => with_text(*col, r, |s| s.is_some()),
                _ => uint(*col, r).is_some(),
            },
        }
    }
}

/// nfdump's duration: milliseconds between the (millisecond) times.
#[inline]
fn duration_ms(r: &FlowRecord) -> u64 {
    (r.last_ns / 1_000_000).saturating_sub(r.first_ns / 1_000_000)
}

#[inline]
fn per_second(count: u64, scale: u128, d: u64) -> u64 {
    if d == 0 {
        0
    } else {
        (count as u128 * scale / d as u128).min(u64::MAX as u128) as u64
    }
}

/// A numeric column's value; `None` for null (absent L7 value) or a text column.
#[inline]
fn uint(col: Column, r: &FlowRecord) -> Option<u64> {
    Some(match col {
        Column::First => r.first_ns,
        Column::Last => r.last_ns,
        Column::SrcPort => r.src_port as u64,
        Column::DstPort => r.dst_port as u64,
        Column::Proto => r.proto as u64,
        Column::TcpFlags => r.tcp_flags as u64,
        Column::Tos => r.tos as u64,
        Column::Packets => r.packets,
        Column::Bytes => r.bytes,
        Column::Vlan => r.vlan as u64,
        Column::InIf => r.in_if as u64,
        Column::OutIf => r.out_if as u64,
        Column::SrcAs => r.src_as as u64,
        Column::DstAs => r.dst_as as u64,
        Column::Odid => r.odid as u64,
        Column::EndReason => r.end_reason as u8 as u64,
        Column::Duration => duration_ms(r),
        Column::Pps => per_second(r.packets, 1000, duration_ms(r)),
        Column::Bps => per_second(r.bytes, 8000, duration_ms(r)),
        Column::Bpp => r.bytes.checked_div(r.packets).unwrap_or(0),
        Column::IcmpType => (r.dst_port >> 8) as u64,
        Column::IcmpCode => (r.dst_port & 0xff) as u64,
        Column::L7(i) => {
            let l7 = r.l7.as_ref()?;
            let mut out = None;
            l7.visit(&mut |c, v| {
                if c == i as usize {
                    if let l7::Value::Num(n) = v {
                        out = Some(n);
                    }
                }
            });
            return out;
        }
        Column::SrcIp
        | Column::DstIp
        | Column::Exporter
        | Column::SrcMac
        | Column::DstMac
        | Column::SrcCountry
        | Column::DstCountry => return None,
    })
}

/// Calls `f` with a text column's value (`None` when null).
#[inline]
fn with_text(col: Column, r: &FlowRecord, f: impl FnOnce(Option<&str>) -> bool) -> bool {
    match col {
        Column::SrcCountry | Column::DstCountry => {
            let cc = if col == Column::SrcCountry {
                &r.src_country
            } else {
                &r.dst_country
            };
            if *cc == [0, 0] {
                f(None)
            } else {
                f(std::str::from_utf8(cc).ok())
            }
        }
        Column::L7(i) => {
            let Some(l7) = r.l7.as_ref() else {
                return f(None);
            };
            let mut out = None;
            l7.visit(&mut |c, v| {
                if c == i as usize {
                    if let l7::Value::Str(s) = v {
                        out = Some(s);
                    }
                }
            });
            f(out)
        }
        _ => f(None),
    }
}
