//! State per (transport session, observation domain) kept beside the
//! stateless [`Decoder`]: sequence-number gap counting, UDP template expiry
//! and the statistics a collector prints.
//!
//! What a sequence number counts depends on the protocol: IPFIX counts the
//! data records sent before the message (per ODID, modulo 2^32), NetFlow v9
//! counts export packets and v5 counts flows. A number ahead of the expected
//! one is a gap (that many records, or packets for v9, never arrived); one
//! a little behind is a late message, or a duplicate when we saw that very
//! number recently; one far behind (or a v5/v9 sysUptime that went back) is
//! an exporter restart, counted as a reset and not as a four-billion gap.
//! When a message's record count is unknown (a data set for a missing
//! template, a broken set) the next message resynchronises instead of
//! reporting a gap we cannot measure.
//!
//! Over UDP a data set may arrive before its template (a collector that
//! starts while the exporter runs, reordering): such sets are held, up to
//! [`SessionConfig::hold_bytes`] per session for
//! [`SessionConfig::hold_ms`], and decoded when the template arrives; the
//! oldest go first when the budget is full. Every held set ends released,
//! dropped for room or expired, and each is counted in [`DomainStats`].
//!
//! Templates over UDP are refreshed periodically and die when the exporter
//! stops refreshing them (RFC 7011 section 8.4); we remove a template not
//! refreshed within [`SessionConfig::template_lifetime_ms`] (1800 s by
//! default, ipfixcol2's UDP template timeout), measured on the exporter's
//! export time or on a clock the caller passes in.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;

use crate::decode::{Context, Decoded, Decoder};
use crate::error::{DecodeError, ErrorKind};
use crate::message::{be, DataRecord, IPFIX_HEADER_LEN, V9_HEADER_LEN};
use crate::template::{TemplateCache, TemplateKey};

/// ipfixcol2's UDP template timeout.
pub const DEFAULT_TEMPLATE_LIFETIME_MS: u64 = 1_800_000;

/// Bytes of data sets waiting for their template, per UDP session.
pub const DEFAULT_HOLD_BYTES: usize = 1 << 20;

/// How long a data set waits for its template: eddy's own exporter
/// refreshes UDP templates at least this often.
pub const DEFAULT_HOLD_MS: u64 = 60_000;

/// How often (on the session's clock) one domain's templates are checked
/// for expiry: a template may outlive its lifetime by this much.
pub const EXPIRY_CHECK_MS: u64 = 1000;

/// Where the messages come from: templates expire on UDP only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Udp,
    /// TCP, SCTP and files: templates live until withdrawn or the session ends.
    Stream,
}

/// Tunables of session tracking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionConfig {
    /// UDP templates not refreshed within this long are removed; 0 keeps them.
    pub template_lifetime_ms: u64,
    /// How far behind the expected IPFIX or v5 sequence number (in records)
    /// a message still counts as late rather than as an exporter restart.
    pub reorder_window_records: u32,
    /// The same for NetFlow v9, whose sequence counts packets.
    pub reorder_window_packets: u32,
    /// UDP: most bytes of data sets for unknown templates held per session
    /// until their template arrives (0: none are held).
    pub hold_bytes: usize,
    /// UDP: how long a held data set waits for its template (on the
    /// session's clock, as template expiry).
    pub hold_ms: u64,
}

impl Default for SessionConfig {
    fn default() -> SessionConfig {
        SessionConfig {
            template_lifetime_ms: DEFAULT_TEMPLATE_LIFETIME_MS,
            reorder_window_records: 100_000,
            reorder_window_packets: 1000,
            hold_bytes: DEFAULT_HOLD_BYTES,
            hold_ms: DEFAULT_HOLD_MS,
        }
    }
}

/// One exporter's observation domain within one transport session.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DomainKey {
    pub session: u64,
    pub odid: u32,
}

/// Counters of one (session, ODID); every drop is visible here.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DomainStats {
    pub key: DomainKey,
    /// 5, 9 or 10: the unit of `missing` (records, packets, records).
    pub version: u16,
    pub messages: u64,
    /// Data records decoded (options records included).
    pub records: u64,
    /// Template records seen (definitions, refreshes and withdrawals).
    pub template_records: u64,
    /// Decode errors (a broken set, an unknown template, ...).
    pub errors: u64,
    /// What the sequence numbers say never arrived: records for IPFIX and
    /// v5, packets for v9. A late message gives its records back.
    pub missing: u64,
    /// Messages that arrived behind the expected sequence number.
    pub late: u64,
    /// Messages whose sequence number we had just seen.
    pub duplicates: u64,
    /// Sequence numbers (or v5/v9 sysUptime) that went far back: restarts.
    pub resets: u64,
    /// Templates removed because the exporter stopped refreshing them.
    pub expired_templates: u64,
    /// Data sets that arrived for a template we did not have, by template
    /// id (held, when holding is on, else dropped).
    pub unknown_templates: BTreeMap<u16, u64>,
    /// UDP data sets kept to wait for their template.
    pub held_sets: u64,
    /// Held sets decoded when their template arrived, and their records
    /// (also counted in `records`).
    pub released_sets: u64,
    pub released_records: u64,
    /// Held sets dropped to make room within [`SessionConfig::hold_bytes`]
    /// (or larger than it).
    pub held_dropped: u64,
    /// Held sets whose template did not come within [`SessionConfig::hold_ms`].
    pub held_expired: u64,
    /// TCP/SCTP/file sessions: template redefinitions without withdrawal
    /// and withdrawals of unknown templates (RFC 7011 section 8), errors
    /// that end the session ([`crate::ErrorKind::ends_session`]). Also
    /// counted in `errors`.
    pub template_violations: u64,
    /// Export time of the latest message, ms since the epoch.
    pub last_export_ms: u64,
}

impl DomainStats {
    /// Data sets that came for unknown templates, all ids together.
    pub fn unknown_template_sets(&self) -> u64 {
        self.unknown_templates.values().sum()
    }
}

impl fmt::Display for DomainStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (proto, unit) = match self.version {
            5 => ("NetFlow v5", "records"),
            9 => ("NetFlow v9", "packets"),
            _ => ("IPFIX", "records"),
        };
        write!(
            f,
            "session {} odid {} ({proto}): {} messages, {} records, {} template records, \
             {} errors, {} missing {unit}, {} late, {} duplicate, {} resets, {} templates expired",
            self.key.session,
            self.key.odid,
            self.messages,
            self.records,
            self.template_records,
            self.errors,
            self.missing,
            self.late,
            self.duplicates,
            self.resets,
            self.expired_templates,
        )?;
        if self.template_violations > 0 {
            write!(
                f,
                ", {} template rule violations (session must close)",
                self.template_violations
            )?;
        }
        if !self.unknown_templates.is_empty() {
            write!(
                f,
                ", {} data sets for unknown templates (",
                self.unknown_template_sets()
            )?;
            for (i, (id, n)) in self.unknown_templates.iter().enumerate() {
                let sep = if i == 0 { "" } else { ", " };
                write!(f, "{sep}{id} x{n}")?;
            }
            write!(f, ")")?;
        }
        if self.held_sets > 0 {
            write!(
                f,
                ", {} held for their template ({} released with {} records, \
                 {} dropped for room, {} expired)",
                self.held_sets,
                self.released_sets,
                self.released_records,
                self.held_dropped,
                self.held_expired
            )?;
        }
        Ok(())
    }
}

/// What one sequence number told us.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeqEvent {
    /// The first message, or the first after one whose count was unknown.
    Sync,
    InOrder,
    /// This many records (packets for v9) were skipped.
    Gap(u32),
    Late,
    Duplicate,
    Reset,
}

/// How many recent sequence numbers are remembered to tell duplicates from
/// late messages.
const RECENT: usize = 16;

/// A v5/v9 sysUptime that goes back by more than this is a restart, not a
/// reordered packet.
const UPTIME_SLACK_MS: i32 = 60_000;

/// Expected next sequence number of one domain.
#[derive(Clone, Debug, Default)]
pub struct SequenceTracker {
    expected: Option<u32>,
    recent: [u32; RECENT],
    n_recent: usize,
    next_recent: usize,
    uptime_ms: Option<u32>,
}

impl SequenceTracker {
    /// Takes the sequence number of one message that advances the counter
    /// by `count` (None: unknown, resynchronise on the next message).
    /// `window`: how far back is still late rather than a reset. `uptime_ms`:
    /// the NetFlow header's sysUptime, which tells restarts apart too.
    pub fn observe(
        &mut self,
        sequence: u32,
        count: Option<u32>,
        window: u32,
        uptime_ms: Option<u32>,
    ) -> SeqEvent {
        let restarted = match (self.uptime_ms, uptime_ms) {
            // A signed difference survives the 49.7-day wrap of sysUptime.
            (Some(prev), Some(now)) => (now.wrapping_sub(prev) as i32) < -UPTIME_SLACK_MS,
            _ => false,
        };
        let event = match self.expected {
            None => SeqEvent::Sync,
            Some(_) if restarted => SeqEvent::Reset,
            Some(expected) => {
                let ahead = sequence.wrapping_sub(expected) as i32;
                if ahead == 0 {
                    SeqEvent::InOrder
                } else if ahead > 0 {
                    SeqEvent::Gap(ahead as u32)
                } else if self.recent[..self.n_recent].contains(&sequence) {
                    SeqEvent::Duplicate
                } else if ahead.unsigned_abs() <= window {
                    SeqEvent::Late
                } else {
                    SeqEvent::Reset
                }
            }
        };
        match event {
            SeqEvent::Duplicate => {}
            SeqEvent::Late => self.remember(sequence),
            _ => {
                self.expected = count.map(|c| sequence.wrapping_add(c));
                if event == SeqEvent::Reset {
                    self.n_recent = 0;
                }
                self.remember(sequence);
                // A late packet's older uptime must not hide a later restart.
                if uptime_ms.is_some() {
                    self.uptime_ms = uptime_ms;
                }
            }
        }
        event
    }

    fn remember(&mut self, sequence: u32) {
        self.recent[self.next_recent] = sequence;
        self.next_recent = (self.next_recent + 1) % RECENT;
        self.n_recent = (self.n_recent + 1).min(RECENT);
    }
}

/// A data set waiting for its template, inside a message of its own (the
/// original header, then the set) that the decoder can take as it is.
#[derive(Clone, Debug)]
struct Held {
    key: DomainKey,
    template_id: u16,
    at_ms: u64,
    msg: Vec<u8>,
}

/// The held sets of one session, oldest first.
#[derive(Clone, Debug, Default)]
struct HeldQueue {
    bytes: usize,
    sets: VecDeque<Held>,
}

#[derive(Clone, Debug, Default)]
struct Domain {
    stats: DomainStats,
    sequence: SequenceTracker,
    next_expiry_check_ms: u64,
}

/// Sessions of a collector: per (session, ODID) sequence tracking, template
/// expiry and statistics. Feed it every message with [`Sessions::decode`],
/// or call [`Sessions::observe`] after [`Decoder::decode`] yourself.
#[derive(Clone, Debug, Default)]
pub struct Sessions {
    pub config: SessionConfig,
    domains: HashMap<DomainKey, Domain>,
    /// Messages whose header could not be read (no domain to count them in).
    pub malformed: u64,
    expired: Vec<TemplateKey>,
    held: HashMap<u64, HeldQueue>,
}

impl Sessions {
    pub fn new(config: SessionConfig) -> Sessions {
        Sessions {
            config,
            ..Sessions::default()
        }
    }

    /// Decodes one message: on UDP first removes the domain's templates not
    /// refreshed within the lifetime (on `clock_ms`, or the message's export
    /// time when None), then decodes, then counts.
    pub fn decode(
        &mut self,
        decoder: &mut Decoder,
        session: u64,
        transport: Transport,
        msg: &[u8],
        clock_ms: Option<u64>,
        on_record: &mut dyn FnMut(&Context, &DataRecord<'_, '_>),
    ) -> (Decoded, Vec<DecodeError>) {
        if let (Transport::Udp, Some((odid, export_ms))) = (transport, peek(msg)) {
            let now = clock_ms.unwrap_or(export_ms);
            let lifetime = self.config.template_lifetime_ms;
            let domain = self.domain(DomainKey { session, odid });
            // A clock that went back (an exporter restart) checks at once.
            let due = now >= domain.next_expiry_check_ms
                || now.saturating_add(EXPIRY_CHECK_MS) < domain.next_expiry_check_ms;
            if lifetime > 0 && due {
                domain.next_expiry_check_ms = now.saturating_add(EXPIRY_CHECK_MS);
                let before = now.saturating_sub(lifetime);
                self.expired.clear();
                decoder
                    .templates
                    .expire(Some((session, odid)), before, &mut self.expired);
                let n = self.expired.len() as u64;
                self.domain(DomainKey { session, odid })
                    .stats
                    .expired_templates += n;
            }
        }
        let (decoded, mut errors) = decoder.decode_on(session, transport, msg, clock_ms, on_record);
        self.observe(&decoded, &errors);
        let version = decoded.context.version;
        if transport == Transport::Udp && self.config.hold_bytes > 0 && matches!(version, 9 | 10) {
            let now = clock_ms.unwrap_or(decoded.context.export_ms);
            self.expire_held(Some(session), now);
            let header = if version == 10 {
                IPFIX_HEADER_LEN
            } else {
                V9_HEADER_LEN
            };
            let key = DomainKey {
                session,
                odid: decoded.context.odid,
            };
            for e in &errors {
                if let (ErrorKind::UnknownTemplate, Some(id)) = (&e.kind, e.template_id) {
                    self.hold(key, id, now, msg, header, e.offset);
                }
            }
            // A template in this message may be for sets held before, or
            // for a set that came ahead of it in this very message.
            if decoded.templates > 0 {
                self.release(decoder, session, clock_ms, on_record, &mut errors);
            }
        }
        (decoded, errors)
    }

    /// Keeps the set at `offset` of `msg` (behind a copy of its header),
    /// making room within the session's budget by dropping the oldest.
    fn hold(
        &mut self,
        key: DomainKey,
        template_id: u16,
        now: u64,
        msg: &[u8],
        header: usize,
        offset: usize,
    ) {
        let set_len = be(msg, offset + 2, 2) as usize;
        let (Some(head), Some(set)) = (msg.get(..header), msg.get(offset..offset + set_len)) else {
            return;
        };
        let mut held = head.to_vec();
        held.extend_from_slice(set);
        if header == IPFIX_HEADER_LEN {
            // The message length; a set never makes it longer than the original.
            let len = held.len() as u16;
            held[2..4].copy_from_slice(&len.to_be_bytes());
        }
        let budget = self.config.hold_bytes;
        let queue = self.held.entry(key.session).or_default();
        let mut dropped = Vec::new();
        if held.len() > budget {
            dropped.push(key);
        } else {
            while queue.bytes + held.len() > budget {
                let Some(old) = queue.sets.pop_front() else {
                    break;
                };
                queue.bytes -= old.msg.len();
                dropped.push(old.key);
            }
            queue.bytes += held.len();
            queue.sets.push_back(Held {
                key,
                template_id,
                at_ms: now,
                msg: held,
            });
        }
        // Every set offered counts as held, so that held = released +
        // dropped + expired + still waiting.
        self.domain(key).stats.held_sets += 1;
        for k in dropped {
            self.domain(k).stats.held_dropped += 1;
        }
    }

    /// Decodes the session's held sets whose template is known now, oldest
    /// first, through `on_record`.
    fn release(
        &mut self,
        decoder: &mut Decoder,
        session: u64,
        clock_ms: Option<u64>,
        on_record: &mut dyn FnMut(&Context, &DataRecord<'_, '_>),
        errors: &mut Vec<DecodeError>,
    ) {
        let Some(queue) = self.held.get_mut(&session) else {
            return;
        };
        let mut ready = Vec::new();
        let mut i = 0;
        while i < queue.sets.len() {
            let h = &queue.sets[i];
            if decoder
                .templates
                .get(session, h.key.odid, h.template_id)
                .is_some()
            {
                if let Some(h) = queue.sets.remove(i) {
                    queue.bytes -= h.msg.len();
                    ready.push(h);
                }
            } else {
                i += 1;
            }
        }
        for h in ready {
            let (decoded, errs) =
                decoder.decode_on(session, Transport::Udp, &h.msg, clock_ms, on_record);
            let stats = &mut self.domain(h.key).stats;
            stats.released_sets += 1;
            stats.released_records += decoded.records as u64;
            stats.records += decoded.records as u64;
            stats.errors += errs.len() as u64;
            errors.extend(errs);
        }
    }

    /// Drops the held sets (of one session or all) older than the hold time.
    fn expire_held(&mut self, session: Option<u64>, now_ms: u64) {
        let hold_ms = self.config.hold_ms;
        let mut expired = Vec::new();
        let mut expire = |queue: &mut HeldQueue| {
            while let Some(h) = queue.sets.front() {
                if now_ms.saturating_sub(h.at_ms) <= hold_ms {
                    break;
                }
                if let Some(h) = queue.sets.pop_front() {
                    queue.bytes -= h.msg.len();
                    expired.push(h.key);
                }
            }
        };
        match session {
            Some(s) => {
                if let Some(queue) = self.held.get_mut(&s) {
                    expire(queue);
                }
            }
            None => {
                self.held.values_mut().for_each(&mut expire);
                self.held.retain(|_, q| !q.sets.is_empty());
            }
        }
        for k in expired {
            self.domain(k).stats.held_expired += 1;
        }
    }

    /// Bytes of data sets held for their templates, over all sessions.
    pub fn held_bytes(&self) -> usize {
        self.held.values().map(|q| q.bytes).sum()
    }

    /// Counts one decoded message: statistics and sequence numbers.
    pub fn observe(&mut self, decoded: &Decoded, errors: &[DecodeError]) {
        let ctx = decoded.context;
        if ctx.version == 0 {
            self.malformed += 1;
            return;
        }
        let config = self.config;
        let domain = self.domain(DomainKey {
            session: ctx.session,
            odid: ctx.odid,
        });
        let stats = &mut domain.stats;
        stats.version = ctx.version;
        stats.messages += 1;
        stats.records += decoded.records as u64;
        stats.template_records += decoded.templates as u64;
        stats.errors += errors.len() as u64;
        stats.last_export_ms = ctx.export_ms;
        for e in errors {
            if let (ErrorKind::UnknownTemplate, Some(id)) = (&e.kind, e.template_id) {
                *stats.unknown_templates.entry(id).or_default() += 1;
            }
            if e.kind.ends_session() {
                stats.template_violations += 1;
            }
        }
        // With errors the number of records the exporter sent is unknown.
        let records = errors.is_empty().then_some(decoded.records as u32);
        let (count, window) = match ctx.version {
            9 => (Some(1), config.reorder_window_packets),
            _ => (records, config.reorder_window_records),
        };
        let uptime = ctx.sys_uptime_ms.filter(|_| ctx.version != 10);
        match domain.sequence.observe(ctx.sequence, count, window, uptime) {
            SeqEvent::Gap(n) => stats.missing += u64::from(n),
            SeqEvent::Late => {
                stats.late += 1;
                let back = count.map_or(0, u64::from);
                stats.missing = stats.missing.saturating_sub(back);
            }
            SeqEvent::Duplicate => stats.duplicates += 1,
            SeqEvent::Reset => stats.resets += 1,
            SeqEvent::Sync | SeqEvent::InOrder => {}
        }
    }

    /// Removes, over every domain, the templates not refreshed within the
    /// lifetime before `now_ms`. Only meaningful when templates were stamped
    /// with the same clock (`clock_ms` in [`Sessions::decode`]), e.g. from a
    /// collector's periodic tick so silent exporters lose theirs too.
    /// Returns how many templates were removed.
    /// Held data sets older than [`SessionConfig::hold_ms`] go too (counted
    /// in their domain's `held_expired`, not in the return value).
    pub fn expire(&mut self, templates: &mut TemplateCache, now_ms: u64) -> usize {
        self.expire_held(None, now_ms);
        if self.config.template_lifetime_ms == 0 {
            return 0;
        }
        let before = now_ms.saturating_sub(self.config.template_lifetime_ms);
        let mut expired = std::mem::take(&mut self.expired);
        expired.clear();
        templates.expire(None, before, &mut expired);
        for k in &expired {
            self.domain(DomainKey {
                session: k.session,
                odid: k.odid,
            })
            .stats
            .expired_templates += 1;
        }
        let n = expired.len();
        self.expired = expired;
        n
    }

    /// The statistics of one domain.
    pub fn get(&self, session: u64, odid: u32) -> Option<&DomainStats> {
        let key = DomainKey { session, odid };
        self.domains.get(&key).map(|d| &d.stats)
    }

    /// Every domain's statistics, in key order.
    pub fn stats(&self) -> Vec<&DomainStats> {
        let mut out: Vec<_> = self.domains.values().map(|d| &d.stats).collect();
        out.sort_by_key(|s| s.key);
        out
    }

    /// Forgets a closed session (its statistics included).
    pub fn remove_session(&mut self, session: u64) {
        self.domains.retain(|k, _| k.session != session);
        self.held.remove(&session);
    }

    fn domain(&mut self, key: DomainKey) -> &mut Domain {
        self.domains.entry(key).or_insert_with(|| Domain {
            stats: DomainStats {
                key,
                ..DomainStats::default()
            },
            ..Domain::default()
        })
    }
}

/// (ODID, export time in ms) from a message header, before decoding.
fn peek(msg: &[u8]) -> Option<(u32, u64)> {
    match be(msg, 0, 2) {
        10 if msg.len() >= 16 => Some((be(msg, 12, 4) as u32, be(msg, 4, 4) * 1000)),
        9 if msg.len() >= 20 => Some((be(msg, 16, 4) as u32, be(msg, 8, 4) * 1000)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(t: &mut SequenceTracker, seqs: &[(u32, u32)]) -> Vec<SeqEvent> {
        seqs.iter()
            .map(|&(s, n)| t.observe(s, Some(n), 1000, None))
            .collect()
    }

    #[test]
    fn in_order_gap_and_wrap_around() {
        let mut t = SequenceTracker::default();
        let start = u32::MAX - 40;
        let events = run(
            &mut t,
            &[
                (start, 30),
                (start.wrapping_add(30), 30), // crosses 2^32
                (start.wrapping_add(60 + 5), 30),
            ],
        );
        assert_eq!(
            events,
            [SeqEvent::Sync, SeqEvent::InOrder, SeqEvent::Gap(5)]
        );
    }

    #[test]
    fn late_duplicate_and_reset() {
        let mut t = SequenceTracker::default();
        let events = run(
            &mut t,
            &[
                (100_000, 10),
                (100_020, 10),
                (100_010, 10),
                (100_010, 10),
                (100_030, 10),
                (5, 10),
            ],
        );
        use SeqEvent::*;
        assert_eq!(events, [Sync, Gap(10), Late, Duplicate, InOrder, Reset]);
        // After the reset it follows the new numbers.
        assert_eq!(run(&mut t, &[(15, 10)]), [InOrder]);
    }

    #[test]
    fn uptime_going_back_is_a_restart() {
        let mut t = SequenceTracker::default();
        assert_eq!(
            t.observe(1000, Some(1), 10, Some(5_000_000)),
            SeqEvent::Sync
        );
        // A slightly older uptime (reordering) is not.
        assert_eq!(
            t.observe(1001, Some(1), 10, Some(4_999_000)),
            SeqEvent::InOrder
        );
        assert_eq!(t.observe(1002, Some(1), 10, Some(1000)), SeqEvent::Reset);
        // sysUptime wrapping at 2^32 ms is not either.
        let mut t = SequenceTracker::default();
        t.observe(1, Some(1), 10, Some(u32::MAX - 10));
        assert_eq!(t.observe(2, Some(1), 10, Some(500)), SeqEvent::InOrder);
    }

    #[test]
    fn unknown_count_resynchronises() {
        let mut t = SequenceTracker::default();
        t.observe(0, Some(10), 1000, None);
        assert_eq!(t.observe(10, None, 1000, None), SeqEvent::InOrder);
        assert_eq!(t.observe(500, Some(10), 1000, None), SeqEvent::Sync);
        assert_eq!(t.observe(510, Some(10), 1000, None), SeqEvent::InOrder);
    }
}
