//! NetFlow v5 (fixed 48-byte records). Its records are cut with a built-in
//! template of IPFIX elements, so the flow mapping is shared with IPFIX and
//! v9. (NetFlow v9 is in [`crate::message`] and [`crate::decode`]: it is
//! IPFIX with other set ids.)

use std::sync::LazyLock;

use crate::decode::{Context, Decoded};
use crate::error::{DecodeError, ErrorKind};
use crate::message::{be, DataRecord};
use crate::template::{FieldSpec, Template};

pub const V5_HEADER_LEN: usize = 24;
pub const V5_RECORD_LEN: usize = 48;
/// The v5 record layout as IPFIX elements (id, length); 210 is padding.
const V5_FIELDS: [(u16, u16); 20] = [
    (8, 4),   // srcaddr
    (12, 4),  // dstaddr
    (15, 4),  // nexthop
    (10, 2),  // input
    (14, 2),  // output
    (2, 4),   // dPkts
    (1, 4),   // dOctets
    (22, 4),  // First (sysUptime ms)
    (21, 4),  // Last
    (7, 2),   // srcport
    (11, 2),  // dstport
    (210, 1), // pad1
    (6, 1),   // tcp_flags
    (4, 1),   // prot
    (5, 1),   // tos
    (16, 2),  // src_as
    (17, 2),  // dst_as
    (9, 1),   // src_mask
    (13, 1),  // dst_mask
    (210, 2), // pad2
];

/// The template every v5 record follows (id 0: it never appears on the wire).
pub static V5_TEMPLATE: LazyLock<Template> = LazyLock::new(|| {
    let fields = V5_FIELDS
        .iter()
        .map(|&(id, len)| FieldSpec::new(0, id, len, false))
        .collect();
    Template::new(0, false, 0, fields)
});

/// Decodes a v5 packet. A count that promises more records than the packet
/// holds yields the records that are there and one error.
pub(crate) fn decode_v5(
    session: u64,
    buf: &[u8],
    apply_sampling: bool,
    on_record: &mut dyn FnMut(&Context, &DataRecord<'_, '_>),
    decoded: &mut Decoded,
    errors: &mut Vec<DecodeError>,
) {
    if buf.len() < V5_HEADER_LEN {
        let kind = ErrorKind::Truncated {
            need: V5_HEADER_LEN,
            have: buf.len(),
        };
        return errors.push(DecodeError::at(0, kind));
    }
    let count = be(buf, 2, 2) as usize;
    let secs = be(buf, 8, 4);
    let nsecs = be(buf, 12, 4);
    decoded.context = Context {
        version: 5,
        session,
        // engine_type << 8 | engine_id tells apart the engines of one router.
        odid: be(buf, 20, 2) as u32,
        sequence: be(buf, 16, 4) as u32,
        export_ms: secs * 1000 + nsecs / 1_000_000,
        sys_uptime_ms: Some(be(buf, 4, 4) as u32),
        // sampling_interval: 2 bits of mode, 14 of interval (0: unsampled).
        sampling_interval: (be(buf, 22, 2) as u32 & 0x3fff).max(1),
        apply_sampling,
        system_init_ms: None,
    };
    let need = V5_HEADER_LEN + count * V5_RECORD_LEN;
    if buf.len() < need {
        let kind = ErrorKind::Truncated {
            need,
            have: buf.len(),
        };
        errors.push(DecodeError::at(2, kind));
    }
    let body = buf.get(V5_HEADER_LEN..).unwrap_or(&[]);
    let ctx = decoded.context;
    for data in body.chunks_exact(V5_RECORD_LEN).take(count) {
        decoded.records += 1;
        let rec = DataRecord {
            template: &V5_TEMPLATE,
            data,
        };
        on_record(&ctx, &rec);
    }
}
