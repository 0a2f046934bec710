//! Data records to [`record::FlowRecord`]: the IANA elements the record has
//! columns for, and the CESNET (8057) / Flowmon (39499) elements eddy's
//! encoder writes for L7 fields ([`crate::encode::l7_column`]); everything
//! else is ignored here (it stays readable through
//! [`crate::message::DataRecord::fields`]).
//!
//! L7 values and absence: the encoder's templates are fixed, so an absent
//! value goes out as an empty string, a zero number or (tls_ja3) sixteen
//! zero bytes. The decoder reads each of these as absent: an `Option` field
//! stays `None`, a plain one keeps its default (0, ""). A record whose
//! template has a protocol's elements gets that protocol's [`L7Fields`]
//! even when every value is absent. What the wire cannot tell apart comes
//! back in one form: a DNS message is a response (`is_response`) when its
//! rcode or answer count is not zero (a NOERROR response without answers
//! reads as a query), an HTTP/SIP status or TLS version 0 is `None`, an
//! empty string is `None`. Columns without an element (`dns_qclass`,
//! `sip_method`, `tls_cipher_suite`, the SMTP MAIL/RCPT counts, DNS flags,
//! QUIC) come back empty. Strings are not cut to [`l7::MAX_FIELD_LEN`]: a
//! message bounds them; bytes that are not UTF-8 are replaced.

use std::net::{Ipv4Addr, Ipv6Addr};

use l7::{col, L7Fields, Value};
use record::text::HEX_DIGITS;
use record::{EndReason, FlowRecord};

use crate::decode::Context;
use crate::encode::l7_column;
use crate::message::{be, DataRecord, Field, VARLEN};
use crate::registry::{PEN_CESNET, PEN_FLOWMON, PEN_NETFLOW_V9};

/// Seconds between the NTP era (1900) and the Unix epoch.
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

/// Start/end times in the forms an exporter may choose; the finest wins.
#[derive(Default)]
struct Times {
    /// (resolution rank, ns since epoch) for start and end.
    ns: [Option<(u8, u64)>; 2],
    uptime: [Option<u32>; 2],
    system_init_ms: Option<u64>,
}

/// Maps one data record. Missing fields stay at their defaults; `odid`
/// comes from the context (`exporter` is the caller's to fill in: the codec
/// does not know addresses). With [`Context::apply_sampling`], packets and
/// bytes are scaled up by [`Context::sampling_interval`]. A record without
/// L7 elements costs no allocation.
pub fn to_flow(ctx: &Context, rec: &DataRecord<'_, '_>) -> FlowRecord {
    let mut flow = FlowRecord {
        odid: ctx.odid,
        ..FlowRecord::default()
    };
    let mut times = Times::default();
    let mut totals = (None, None);
    for field in rec.fields() {
        let pen = field.spec.pen;
        // v9 types above 127 mostly reuse IANA's numbers (Cisco's 152/153,
        // the NAT fields), so they get IANA's meaning here.
        if pen == 0 || pen == PEN_NETFLOW_V9 {
            apply(&mut flow, &mut times, &mut totals, field);
        } else if pen == PEN_CESNET || pen == PEN_FLOWMON {
            apply_l7(&mut flow.l7, field);
        }
    }
    if flow.packets == 0 {
        flow.packets = totals.0.unwrap_or(0);
    }
    if flow.bytes == 0 {
        flow.bytes = totals.1.unwrap_or(0);
    }
    set_times(&mut flow, ctx, &times);
    if ctx.apply_sampling && ctx.sampling_interval > 1 {
        let n = u64::from(ctx.sampling_interval);
        flow.packets = flow.packets.saturating_mul(n);
        flow.bytes = flow.bytes.saturating_mul(n);
    }
    flow
}

fn uint(f: &Field<'_, '_>) -> u64 {
    be(f.value, 0, f.value.len())
}

fn apply(
    flow: &mut FlowRecord,
    times: &mut Times,
    totals: &mut (Option<u64>, Option<u64>),
    f: Field<'_, '_>,
) {
    let v = f.value;
    match f.spec.id {
        1 => flow.bytes = uint(&f),
        2 => flow.packets = uint(&f),
        85 => totals.1 = Some(uint(&f)),
        86 => totals.0 = Some(uint(&f)),
        4 => flow.proto = uint(&f) as u8,
        5 => flow.tos = uint(&f) as u8,
        // The 16-bit form carries the 8 classic flags in its low byte.
        6 => flow.tcp_flags = uint(&f) as u8,
        7 => flow.src_port = uint(&f) as u16,
        11 => flow.dst_port = uint(&f) as u16,
        32 | 139 if flow.dst_port == 0 => flow.dst_port = uint(&f) as u16,
        8 => set_v4(&mut flow.src_ip, v),
        12 => set_v4(&mut flow.dst_ip, v),
        27 => set_v6(&mut flow.src_ip, v),
        28 => set_v6(&mut flow.dst_ip, v),
        58 | 243 if flow.vlan == 0 => flow.vlan = uint(&f) as u16,
        10 => flow.in_if = uint(&f) as u32,
        14 => flow.out_if = uint(&f) as u32,
        // ingress/egressPhysicalInterface when the logical ones are absent.
        252 if flow.in_if == 0 => flow.in_if = uint(&f) as u32,
        253 if flow.out_if == 0 => flow.out_if = uint(&f) as u32,
        16 => flow.src_as = uint(&f) as u32,
        17 => flow.dst_as = uint(&f) as u32,
        56 => set_mac(&mut flow.src_mac, v, true),
        81 => set_mac(&mut flow.src_mac, v, false),
        80 => set_mac(&mut flow.dst_mac, v, true),
        57 => set_mac(&mut flow.dst_mac, v, false),
        136 => flow.end_reason = end_reason(uint(&f)),
        150 | 151 => set_time(
            times,
            f.spec.id - 150,
            0,
            uint(&f).saturating_mul(1_000_000_000),
        ),
        152 | 153 => set_time(
            times,
            f.spec.id - 152,
            1,
            uint(&f).saturating_mul(1_000_000),
        ),
        154 | 155 => set_time(times, f.spec.id - 154, 2, ntp_ns(v)),
        156 | 157 => set_time(times, f.spec.id - 156, 3, ntp_ns(v)),
        22 => times.uptime[0] = Some(uint(&f) as u32),
        21 => times.uptime[1] = Some(uint(&f) as u32),
        160 => times.system_init_ms = Some(uint(&f)),
        _ => {}
    }
}

/// One CESNET/Flowmon element into the record's L7 fields (see the module
/// doc for what counts as absent). The first L7 element decides the
/// protocol; elements of another protocol in the same record are ignored.
/// Cold: kept out of the L4 loop, which most records only run.
#[cold]
fn apply_l7(l7: &mut Option<L7Fields>, f: Field<'_, '_>) {
    let Some((column, wire_len)) = l7_column(f.spec.pen, f.spec.id) else {
        return;
    };
    if l7.is_none() {
        *l7 = L7Fields::empty_for_column(column);
    }
    let Some(fields) = l7.as_mut() else {
        return;
    };
    let v = f.value;
    if column == col::TLS_JA3 && v.len() == 16 {
        if v.iter().any(|&b| b != 0) {
            let mut hex = [0u8; 32];
            for (i, b) in v.iter().enumerate() {
                hex[2 * i] = HEX_DIGITS[usize::from(b >> 4)];
                hex[2 * i + 1] = HEX_DIGITS[usize::from(b & 15)];
            }
            if let Ok(s) = std::str::from_utf8(&hex) {
                fields.set(column, Value::Str(s));
            }
        }
    } else if wire_len == VARLEN || column == col::TLS_JA3 {
        // Fixed-length strings from other exporters may be NUL-padded.
        let end = if f.spec.variable {
            v.len()
        } else {
            v.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1)
        };
        if end > 0 {
            fields.set(column, Value::Str(&String::from_utf8_lossy(&v[..end])));
        }
    } else if (1..=8).contains(&v.len()) {
        let n = be(v, 0, v.len());
        if n != 0 {
            // A value too wide for its column (another exporter's) is dropped.
            fields.set(column, Value::Num(n));
        }
    }
}

fn set_v4(dst: &mut Ipv6Addr, v: &[u8]) {
    if let Ok(b) = <[u8; 4]>::try_from(v) {
        *dst = Ipv4Addr::from(b).to_ipv6_mapped();
    }
}

fn set_v6(dst: &mut Ipv6Addr, v: &[u8]) {
    if let Ok(b) = <[u8; 16]>::try_from(v) {
        *dst = Ipv6Addr::from(b);
    }
}

/// `primary` elements (pre-observation MACs) override the post- forms.
fn set_mac(dst: &mut [u8; 6], v: &[u8], primary: bool) {
    if let Ok(b) = <[u8; 6]>::try_from(v) {
        if primary || *dst == [0; 6] {
            *dst = b;
        }
    }
}

/// An exporter may send one time in several units; the finest wins,
/// whatever the order of the fields in the template.
fn set_time(times: &mut Times, slot: u16, rank: u8, ns: u64) {
    let slot = &mut times.ns[usize::from(slot.min(1))];
    if slot.is_none_or(|(old_rank, _)| rank >= old_rank) {
        *slot = Some((rank, ns));
    }
}

/// IPFIX dateTimeMicro/Nanoseconds: NTP seconds since 1900 and a binary fraction.
fn ntp_ns(v: &[u8]) -> u64 {
    if v.len() != 8 {
        return 0;
    }
    let secs = be(v, 0, 4).saturating_sub(NTP_UNIX_OFFSET);
    let frac = (be(v, 4, 4) * 1_000_000_000) >> 32;
    secs * 1_000_000_000 + frac
}

fn end_reason(v: u64) -> EndReason {
    match v {
        2 => EndReason::Active,
        3 => EndReason::EndOfFlow,
        4 => EndReason::Forced,
        5 => EndReason::Eviction,
        _ => EndReason::Idle,
    }
}

/// Absolute times win; uptime-relative ones are placed against
/// systemInitTimeMilliseconds when the record has it or an options record
/// of its domain announced it ([`Context::system_init_ms`]), else against
/// the NetFlow header's (export time, sysUptime) pair.
fn set_times(flow: &mut FlowRecord, ctx: &Context, times: &Times) {
    for slot in 0..2 {
        let ns = times.ns[slot].map(|(_, ns)| ns).or_else(|| {
            let up = times.uptime[slot]?;
            let init = times.system_init_ms.or(ctx.system_init_ms);
            uptime_ms(ctx, init, up).map(|ms| ms.saturating_mul(1_000_000))
        });
        let ns = ns.unwrap_or(0);
        if slot == 0 {
            flow.first_ns = ns;
        } else {
            flow.last_ns = ns;
        }
    }
}

fn uptime_ms(ctx: &Context, system_init_ms: Option<u64>, up: u32) -> Option<u64> {
    if let Some(init) = system_init_ms {
        return Some(init.saturating_add(u64::from(up)));
    }
    // How long before export the event happened, as a signed 32-bit
    // difference: that survives a sysUptime counter that rolled over between
    // event and export, and an exporter (nprobe) whose times run slightly
    // ahead of its header.
    let ago = ctx.sys_uptime_ms?.wrapping_sub(up) as i32;
    Some(ctx.export_ms.saturating_add_signed(-i64::from(ago)))
}
