//! Data records to [`record::FlowRecord`]: the IANA elements the record has
//! columns for; everything else is ignored here (it stays readable through
//! [`crate::message::DataRecord::fields`]).

use std::net::{Ipv4Addr, Ipv6Addr};

use record::{EndReason, FlowRecord};

use crate::decode::Context;
use crate::message::{be, DataRecord, Field};
use crate::registry::PEN_NETFLOW_V9;

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

/// Maps one data record. Missing fields stay at their defaults. With
/// [`Context::apply_sampling`], packets and bytes are scaled up by
/// [`Context::sampling_interval`].
pub fn to_flow(ctx: &Context, rec: &DataRecord<'_, '_>) -> FlowRecord {
    let mut flow = FlowRecord::default();
    let mut times = Times::default();
    let mut totals = (None, None);
    for field in rec.fields() {
        // v9 types above 127 mostly reuse IANA's numbers (Cisco's 152/153,
        // the NAT fields), so they get IANA's meaning here.
        if field.spec.pen == 0 || field.spec.pen == PEN_NETFLOW_V9 {
            apply(&mut flow, &mut times, &mut totals, field);
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
/// systemInitTimeMilliseconds when the record has it, else against the
/// NetFlow header's (export time, sysUptime) pair.
fn set_times(flow: &mut FlowRecord, ctx: &Context, times: &Times) {
    for slot in 0..2 {
        let ns = times.ns[slot].map(|(_, ns)| ns).or_else(|| {
            let up = times.uptime[slot]?;
            uptime_ms(ctx, times.system_init_ms, up).map(|ms| ms.saturating_mul(1_000_000))
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
