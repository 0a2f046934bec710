//! A batch of flow records seen as typed column slices: what detectors
//! read per record without touching Arrow's dynamic types.

use std::net::Ipv6Addr;

use arrow_array::cast::AsArray;
use arrow_array::types::{TimestampNanosecondType, UInt16Type, UInt32Type, UInt64Type, UInt8Type};
use arrow_array::{Array, FixedSizeBinaryArray, RecordBatch, StringArray, UInt32Array};

/// The columns every detector may read; a stream must have them all.
pub const REQUIRED: &[&str] = &[
    "first",
    "last",
    "src_ip",
    "dst_ip",
    "src_port",
    "dst_port",
    "proto",
    "tcp_flags",
    "packets",
    "bytes",
];

/// One batch's flows.
pub struct Flows<'a> {
    pub len: usize,
    /// Nanoseconds since the epoch.
    pub first: &'a [i64],
    pub last: &'a [i64],
    src_ip: &'a FixedSizeBinaryArray,
    dst_ip: &'a FixedSizeBinaryArray,
    pub src_port: &'a [u16],
    pub dst_port: &'a [u16],
    pub proto: &'a [u8],
    pub tcp_flags: &'a [u8],
    pub packets: &'a [u64],
    pub bytes: &'a [u64],
    batch: &'a RecordBatch,
}

impl<'a> Flows<'a> {
    /// The view, or what is missing or of the wrong type.
    pub fn new(batch: &'a RecordBatch) -> Result<Flows<'a>, String> {
        let col = |name: &str| {
            batch
                .column_by_name(name)
                .ok_or_else(|| format!("the stream has no field {name}"))
        };
        let wrong = |name: &str| format!("field {name} does not have eddy's flow type");
        let ts = |name: &str| -> Result<&'a [i64], String> {
            let c = col(name)?;
            c.as_primitive_opt::<TimestampNanosecondType>()
                .map(|a| &a.values()[..])
                .ok_or_else(|| wrong(name))
        };
        let ip = |name: &str| -> Result<&'a FixedSizeBinaryArray, String> {
            let c = col(name)?;
            c.as_fixed_size_binary_opt()
                .filter(|a| a.value_length() == 16)
                .ok_or_else(|| wrong(name))
        };
        macro_rules! prim {
            ($name:expr, $t:ty) => {{
                let c = col($name)?;
                c.as_primitive_opt::<$t>()
                    .map(|a| &a.values()[..])
                    .ok_or_else(|| wrong($name))?
            }};
        }
        Ok(Flows {
            len: batch.num_rows(),
            first: ts("first")?,
            last: ts("last")?,
            src_ip: ip("src_ip")?,
            dst_ip: ip("dst_ip")?,
            src_port: prim!("src_port", UInt16Type),
            dst_port: prim!("dst_port", UInt16Type),
            proto: prim!("proto", UInt8Type),
            tcp_flags: prim!("tcp_flags", UInt8Type),
            packets: prim!("packets", UInt64Type),
            bytes: prim!("bytes", UInt64Type),
            batch,
        })
    }

    /// The source address of flow `i` (16 bytes, IPv4 mapped).
    #[inline]
    pub fn src(&self, i: usize) -> [u8; 16] {
        addr(self.src_ip, i)
    }

    #[inline]
    pub fn dst(&self, i: usize) -> [u8; 16] {
        addr(self.dst_ip, i)
    }

    /// The newest `last` time in the batch (0 when empty).
    pub fn max_last(&self) -> u64 {
        self.last.iter().copied().max().unwrap_or(0).max(0) as u64
    }

    /// An L7 text column (`http_host`, `dns_qname`, `sip_request_uri`, ...),
    /// when the stream has it.
    pub fn text(&self, name: &str) -> Option<&'a StringArray> {
        self.batch.column_by_name(name)?.as_string_opt::<i32>()
    }

    /// An L7 numeric column (`sip_status`, `dns_qtype`, ...), when the stream has it.
    pub fn number(&self, name: &str) -> Option<&'a UInt32Array> {
        self.batch
            .column_by_name(name)?
            .as_primitive_opt::<UInt32Type>()
    }

    /// The text value of row `i`, `None` when null or absent.
    pub fn text_at(column: Option<&'a StringArray>, i: usize) -> Option<&'a str> {
        let c = column?;
        (i < c.len() && c.is_valid(i)).then(|| c.value(i))
    }

    pub fn batch(&self) -> &'a RecordBatch {
        self.batch
    }
}

#[inline]
fn addr(a: &FixedSizeBinaryArray, i: usize) -> [u8; 16] {
    a.value(i).try_into().unwrap_or([0; 16])
}

/// The address as text (IPv4 mapped shown as IPv4).
pub fn ip_text(ip: [u8; 16]) -> String {
    let v6 = Ipv6Addr::from(ip);
    match v6.to_ipv4_mapped() {
        Some(v4) => v4.to_string(),
        None => v6.to_string(),
    }
}
