//! The filter AST ([`filter::Expr`]) lowered to a DataFusion expression over
//! the store's columns, with the semantics of [`filter::Expr::eval`]:
//!
//! - a leaf on a null value (an absent L7 field, an unknown country) is
//!   false or null, never true; `Not(e)` becomes `e IS NOT TRUE` where `e`
//!   reads a nullable column (so a null leaf's negation is true, as in
//!   nfdump) and plain `NOT e` elsewhere (which Parquet pruning understands);
//! - numbers compare in the column's own type when the value fits it (so
//!   row-group and page statistics prune), and otherwise fold to the
//!   answer the comparison must have;
//! - prefixes are `BETWEEN lo AND hi` on the 16-byte addresses (byte order
//!   is numeric order), hosts `=`;
//! - `contains` is `LIKE '%s%'` with `%`, `_` and `\` escaped, `~` the
//!   regex match operator (Rust `regex` syntax on both sides);
//! - derived columns (`duration`, `pps`, `bps`, `bpp`, `icmp_type`,
//!   `icmp_code`) are computed as the filter crate does, in integers.

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Column as DfColumn, ScalarValue};
use datafusion::logical_expr::expr::Like;
use datafusion::logical_expr::{binary_expr, cast, lit, when, Expr as DfExpr, Operator};
use filter::{CmpOp, Column, Expr, Kind, StrMatch};

/// A store column by name.
pub fn column(name: &str) -> DfExpr {
    DfExpr::Column(DfColumn::new_unqualified(name))
}

/// The DataFusion expression for a filter expression.
pub fn lower(e: &Expr) -> DfExpr {
    match e {
        Expr::True => lit(true),
        Expr::False => lit(false),
        Expr::Not(inner) => {
            let x = lower(inner);
            if nullable(inner) {
                DfExpr::IsNotTrue(Box::new(x))
            } else {
                DfExpr::Not(Box::new(x))
            }
        }
        Expr::And(v) => fold(v, Operator::And),
        Expr::Or(v) => fold(v, Operator::Or),
        Expr::Cmp { col, op, value } => cmp(*col, *op, *value),
        Expr::In { col, values } => {
            let parts: Vec<DfExpr> = values
                .iter()
                .filter_map(|v| typed_value(*col, *v))
                .collect();
            if parts.is_empty() {
                return lit(false);
            }
            if parts.len() == 1 {
                let v = parts.into_iter().next().unwrap_or(lit(false));
                return binary_expr(value_expr(*col), Operator::Eq, v);
            }
            value_expr(*col).in_list(parts, false)
        }
        Expr::BitsSet { col, mask } => match typed_value(*col, *mask) {
            Some(m) => binary_expr(
                binary_expr(value_expr(*col), Operator::BitwiseAnd, m.clone()),
                Operator::Eq,
                m,
            ),
            None => lit(false),
        },
        Expr::Net { col, nets } => {
            let c = column(col.name());
            let parts: Vec<DfExpr> = nets
                .iter()
                .map(|n| {
                    let (lo, hi) = n.range();
                    if lo == hi {
                        c.clone().eq(addr(lo.octets()))
                    } else {
                        c.clone().between(addr(lo.octets()), addr(hi.octets()))
                    }
                })
                .collect();
            or_all(parts)
        }
        Expr::Mac { col, mac } => {
            column(col.name()).eq(lit(ScalarValue::FixedSizeBinary(6, Some(mac.to_vec()))))
        }
        Expr::Str { col, m } => {
            let c = column(col.name());
            match m {
                StrMatch::Eq(s) => c.eq(lit(s.as_str())),
                StrMatch::Ne(s) => c.not_eq(lit(s.as_str())),
                StrMatch::Contains(s) => DfExpr::Like(Like::new(
                    false,
                    Box::new(c),
                    Box::new(lit(format!("%{}%", escape_like(s)))),
                    Some('\\'),
                    false,
                )),
                StrMatch::Regex(p) => binary_expr(c, Operator::RegexMatch, lit(p.as_str())),
            }
        }
        Expr::Present { col } => {
            if col.is_derived() {
                lit(true)
            } else {
                column(col.name()).is_not_null()
            }
        }
    }
}

fn fold(v: &[Expr], op: Operator) -> DfExpr {
    let mut it = v.iter().map(lower);
    let Some(first) = it.next() else {
        return lit(op == Operator::And);
    };
    it.fold(first, |a, b| binary_expr(a, op, b))
}

fn or_all(v: Vec<DfExpr>) -> DfExpr {
    let mut it = v.into_iter();
    let Some(first) = it.next() else {
        return lit(false);
    };
    it.fold(first, |a, b| a.or(b))
}

/// Whether the expression reads a column that may be null (so a leaf may be
/// null rather than false).
pub fn nullable(e: &Expr) -> bool {
    let mut cols = Vec::new();
    e.columns(&mut cols);
    cols.iter().any(|c| column_nullable(*c))
}

fn column_nullable(c: Column) -> bool {
    matches!(c, Column::L7(_) | Column::SrcCountry | Column::DstCountry)
}

fn addr(octets: [u8; 16]) -> DfExpr {
    lit(ScalarValue::FixedSizeBinary(16, Some(octets.to_vec())))
}

/// `%`, `_` and the escape character itself, escaped for LIKE.
fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    for ch in s.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

/// The Arrow type a numeric column is stored or computed in.
fn num_type(col: Column) -> DataType {
    match col {
        Column::First | Column::Last => DataType::Int64,
        Column::SrcPort | Column::DstPort | Column::Vlan => DataType::UInt16,
        Column::Proto | Column::TcpFlags | Column::Tos | Column::EndReason => DataType::UInt8,
        Column::InIf | Column::OutIf | Column::SrcAs | Column::DstAs | Column::Odid => {
            DataType::UInt32
        }
        Column::L7(_) => DataType::UInt32,
        Column::IcmpType | Column::IcmpCode => DataType::UInt16,
        _ => DataType::UInt64,
    }
}

fn max_of(t: &DataType) -> u64 {
    match t {
        DataType::UInt8 => u8::MAX as u64,
        DataType::UInt16 => u16::MAX as u64,
        DataType::UInt32 => u32::MAX as u64,
        DataType::Int64 => i64::MAX as u64,
        _ => u64::MAX,
    }
}

/// `value` as a literal of the column's type, or `None` when it does not fit.
fn typed_value(col: Column, value: u64) -> Option<DfExpr> {
    let t = num_type(col);
    if value > max_of(&t) {
        return None;
    }
    Some(lit(match (col, t) {
        (Column::First | Column::Last, _) => {
            ScalarValue::TimestampNanosecond(Some(value as i64), Some(Arc::from("UTC")))
        }
        (_, DataType::UInt8) => ScalarValue::UInt8(Some(value as u8)),
        (_, DataType::UInt16) => ScalarValue::UInt16(Some(value as u16)),
        (_, DataType::UInt32) => ScalarValue::UInt32(Some(value as u32)),
        _ => ScalarValue::UInt64(Some(value)),
    }))
}

fn cmp(col: Column, op: CmpOp, value: u64) -> DfExpr {
    let Some(v) = typed_value(col, value) else {
        // Larger than any value of the column: `<`, `<=` and `!=` hold for
        // every (non-null) value, the others for none.
        let holds = matches!(op, CmpOp::Lt | CmpOp::Le | CmpOp::Ne);
        return if !holds {
            lit(false)
        } else if column_nullable(col) {
            column(col.name()).is_not_null()
        } else {
            lit(true)
        };
    };
    let o = match op {
        CmpOp::Eq => Operator::Eq,
        CmpOp::Ne => Operator::NotEq,
        CmpOp::Lt => Operator::Lt,
        CmpOp::Le => Operator::LtEq,
        CmpOp::Gt => Operator::Gt,
        CmpOp::Ge => Operator::GtEq,
    };
    binary_expr(value_expr(col), o, v)
}

/// The value of a numeric or time column: the stored column, or the
/// derived computation.
pub fn value_expr(col: Column) -> DfExpr {
    match col {
        Column::Duration => duration(),
        Column::Pps => per_second("packets", 1000),
        Column::Bps => per_second("bytes", 8000),
        Column::Bpp => when(column("packets").eq(lit(0u64)), lit(0u64))
            .otherwise(column("bytes") / column("packets"))
            .unwrap_or(lit(0u64)),
        Column::IcmpType => binary_expr(column("dst_port"), Operator::BitwiseShiftRight, lit(8u16)),
        Column::IcmpCode => binary_expr(column("dst_port"), Operator::BitwiseAnd, lit(0xffu16)),
        c => column(c.name()),
    }
}

/// Milliseconds since the epoch of a time column, as UInt64.
fn millis(name: &str) -> DfExpr {
    cast(
        cast(column(name), DataType::Int64) / lit(1_000_000i64),
        DataType::UInt64,
    )
}

/// `last_ms - first_ms`, 0 when negative (as the filter crate).
pub fn duration() -> DfExpr {
    when(
        millis("last").gt(millis("first")),
        millis("last") - millis("first"),
    )
    .otherwise(lit(0u64))
    .unwrap_or(lit(0u64))
}

fn per_second(counter: &str, scale: u64) -> DfExpr {
    let d = duration();
    when(d.clone().eq(lit(0u64)), lit(0u64))
        .otherwise(column(counter) * lit(scale) / d)
        .unwrap_or(lit(0u64))
}

/// The kind check the parser already made, repeated for callers that build
/// ASTs by hand: a text leaf on a numeric column is refused.
pub fn check(e: &Expr) -> Result<(), String> {
    match e {
        Expr::Not(x) => check(x),
        Expr::And(v) | Expr::Or(v) => v.iter().try_for_each(check),
        Expr::Str { col, .. } if col.kind() != Kind::Text => {
            Err(format!("column {col} is not text"))
        }
        Expr::Net { col, .. } if col.kind() != Kind::Addr => {
            Err(format!("column {col} is not an address"))
        }
        Expr::Mac { col, .. } if col.kind() != Kind::Mac => {
            Err(format!("column {col} is not a MAC address"))
        }
        Expr::Cmp { col, .. } | Expr::In { col, .. } | Expr::BitsSet { col, .. }
            if !matches!(col.kind(), Kind::UInt { .. } | Kind::Time) =>
        {
            Err(format!("column {col} is not a number"))
        }
        _ => Ok(()),
    }
}
