//! Templates and the per-session template cache.
//!
//! The cache is keyed by (session, observation domain, template id). A
//! session is an opaque `u64` the caller derives from whatever identifies an
//! exporter (a UDP source address, a TCP connection, a file): the codec does
//! not know about sockets.

use std::collections::HashMap;

use crate::registry::{self, Element};

/// Most templates one cache holds; a new template past the cap is refused
/// (and reported), so exporters cannot grow the collector without bound.
pub const MAX_TEMPLATES: usize = 65_536;

/// Most templates one session may hold, so that one exporter (or one
/// spoofed source) cannot fill the cache and lock the others out. Real
/// exporters use tens; a few observation domains of a few hundred each
/// still fit.
pub const MAX_TEMPLATES_PER_SESSION: u32 = 4096;

/// Most (session, ODID, template id) keys counted for data sets without a
/// template; later ones are counted together in
/// [`TemplateCache::unknown_uncounted`].
pub const MAX_UNKNOWN_KEYS: usize = 16_384;

/// One field of a template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldSpec {
    pub pen: u32,
    pub id: u16,
    /// Length on the wire; meaningless when `variable`.
    pub len: u16,
    /// IPFIX variable-length field (announced with length 65535).
    pub variable: bool,
}

impl FieldSpec {
    pub fn new(pen: u32, id: u16, len: u16, variable: bool) -> FieldSpec {
        FieldSpec {
            pen,
            id,
            len,
            variable,
        }
    }

    /// The registry entry, when we know the element.
    pub fn element(&self) -> Option<&'static Element> {
        registry::lookup(self.pen, self.id)
    }
}

/// A (data or options) template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    pub id: u16,
    pub options: bool,
    /// Number of leading scope fields (options templates only).
    pub scope_count: u16,
    pub fields: Vec<FieldSpec>,
    /// Smallest possible record: fixed lengths plus one byte per variable
    /// field. Less than this at the end of a set is padding.
    pub min_len: usize,
}

impl Template {
    pub fn new(id: u16, options: bool, scope_count: u16, fields: Vec<FieldSpec>) -> Template {
        let min_len = fields
            .iter()
            .map(|f| if f.variable { 1 } else { usize::from(f.len) })
            .sum();
        Template {
            id,
            options,
            scope_count,
            fields,
            min_len,
        }
    }
}

/// Where a template lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TemplateKey {
    pub session: u64,
    pub odid: u32,
    pub template_id: u16,
}

/// A cached template and when it was last defined or refreshed (ms on
/// whatever clock the caller stamps with; `None`: never expires).
#[derive(Clone, Debug)]
struct Entry {
    template: Template,
    refreshed_ms: Option<u64>,
}

/// Templates by (session, ODID, id), plus counts of data sets that arrived
/// for templates we did not have.
#[derive(Clone, Debug, Default)]
pub struct TemplateCache {
    templates: HashMap<TemplateKey, Entry>,
    /// Templates held per session.
    per_session: HashMap<u64, u32>,
    unknown: HashMap<TemplateKey, u64>,
    unknown_uncounted: u64,
}

/// One template of `session` is gone.
fn forget(per_session: &mut HashMap<u64, u32>, session: u64) {
    if let Some(n) = per_session.get_mut(&session) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            per_session.remove(&session);
        }
    }
}

impl TemplateCache {
    pub fn new() -> TemplateCache {
        TemplateCache::default()
    }

    /// Adds or replaces a template that never expires. False when the
    /// cache, or the session's share of it, is full.
    pub fn insert(&mut self, session: u64, odid: u32, template: Template) -> bool {
        self.insert_stamped(session, odid, template, None)
    }

    /// Adds or replaces (refreshes) a template seen at `at_ms`, the time
    /// [`TemplateCache::expire`] later compares against. False when the
    /// cache is full.
    pub fn insert_at(&mut self, session: u64, odid: u32, template: Template, at_ms: u64) -> bool {
        self.insert_stamped(session, odid, template, Some(at_ms))
    }

    fn insert_stamped(
        &mut self,
        session: u64,
        odid: u32,
        template: Template,
        refreshed_ms: Option<u64>,
    ) -> bool {
        let key = TemplateKey {
            session,
            odid,
            template_id: template.id,
        };
        if !self.templates.contains_key(&key) {
            let held = self.per_session.get(&session).copied().unwrap_or(0);
            if self.templates.len() >= MAX_TEMPLATES || held >= MAX_TEMPLATES_PER_SESSION {
                return false;
            }
            *self.per_session.entry(session).or_default() += 1;
        }
        let entry = Entry {
            template,
            refreshed_ms,
        };
        self.templates.insert(key, entry);
        true
    }

    /// When the template was last defined or refreshed, if it is stamped.
    pub fn refreshed_ms(&self, session: u64, odid: u32, template_id: u16) -> Option<u64> {
        let key = TemplateKey {
            session,
            odid,
            template_id,
        };
        self.templates.get(&key)?.refreshed_ms
    }

    /// Removes the stamped templates last refreshed before `before_ms`, of
    /// one (session, ODID) or of all, and appends their keys to `expired`.
    /// Unstamped templates (from [`TemplateCache::insert`]) stay.
    pub fn expire(
        &mut self,
        domain: Option<(u64, u32)>,
        before_ms: u64,
        expired: &mut Vec<TemplateKey>,
    ) {
        let per_session = &mut self.per_session;
        self.templates.retain(|k, e| {
            let mine = domain.is_none_or(|(s, o)| k.session == s && k.odid == o);
            let stale = e.refreshed_ms.is_some_and(|t| t < before_ms);
            if mine && stale {
                expired.push(*k);
                forget(per_session, k.session);
            }
            !(mine && stale)
        });
    }

    pub fn get(&self, session: u64, odid: u32, template_id: u16) -> Option<&Template> {
        let key = TemplateKey {
            session,
            odid,
            template_id,
        };
        self.templates.get(&key).map(|e| &e.template)
    }

    pub fn withdraw(&mut self, session: u64, odid: u32, template_id: u16) {
        let key = TemplateKey {
            session,
            odid,
            template_id,
        };
        if self.templates.remove(&key).is_some() {
            forget(&mut self.per_session, session);
        }
    }

    /// Withdraws all data templates (or all options templates) of a domain.
    pub fn withdraw_all(&mut self, session: u64, odid: u32, options: bool) {
        let per_session = &mut self.per_session;
        self.templates.retain(|k, e| {
            let gone = k.session == session && k.odid == odid && e.template.options == options;
            if gone {
                forget(per_session, k.session);
            }
            !gone
        });
    }

    /// Forgets every template (and unknown-template count) of a session.
    pub fn remove_session(&mut self, session: u64) {
        self.templates.retain(|k, _| k.session != session);
        self.per_session.remove(&session);
        self.unknown.retain(|k, _| k.session != session);
    }

    pub fn len(&self) -> usize {
        self.templates.len()
    }

    pub fn is_empty(&self) -> bool {
        self.templates.is_empty()
    }

    /// Counts a data set whose template was missing.
    pub fn note_unknown(&mut self, session: u64, odid: u32, template_id: u16) {
        let key = TemplateKey {
            session,
            odid,
            template_id,
        };
        if let Some(n) = self.unknown.get_mut(&key) {
            *n += 1;
        } else if self.unknown.len() < MAX_UNKNOWN_KEYS {
            self.unknown.insert(key, 1);
        } else {
            self.unknown_uncounted += 1;
        }
    }

    /// Data sets without a template that came after [`MAX_UNKNOWN_KEYS`]
    /// distinct keys were counted (all keys together).
    pub fn unknown_uncounted(&self) -> u64 {
        self.unknown_uncounted
    }

    /// Templates `session` holds.
    pub fn session_len(&self, session: u64) -> usize {
        self.per_session.get(&session).copied().unwrap_or(0) as usize
    }

    /// Data sets dropped for want of a template, by where they came from.
    pub fn unknown(&self) -> impl Iterator<Item = (&TemplateKey, u64)> + '_ {
        self.unknown.iter().map(|(k, n)| (k, *n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(id: u16) -> Template {
        Template::new(id, false, 0, vec![FieldSpec::new(0, 8, 4, false)])
    }

    #[test]
    fn one_session_cannot_take_the_whole_cache() {
        let mut c = TemplateCache::new();
        let per = MAX_TEMPLATES_PER_SESSION as usize;
        // Spread over observation domains, as a hostile exporter would.
        for i in 0..per {
            assert!(c.insert_at(1, (i / 1000) as u32, t(256 + (i % 1000) as u16), 0));
        }
        assert!(!c.insert_at(1, 99, t(256), 0), "over the session's share");
        // Redefining one it holds is fine; other exporters still get room.
        assert!(c.insert_at(1, 0, t(256), 5));
        assert!(c.insert_at(2, 0, t(256), 0));
        assert_eq!(c.session_len(1), per);
        // Withdrawals and expiry give the room back.
        c.withdraw(1, 0, 256);
        assert!(c.insert_at(1, 99, t(256), 0));
        c.withdraw_all(1, 1, false);
        assert_eq!(c.session_len(1), per - 1000);
        let mut expired = Vec::new();
        c.expire(Some((1, 0)), 1, &mut expired);
        assert_eq!(expired.len(), 999);
        assert_eq!(c.session_len(1), per - 1999);
        c.remove_session(1);
        assert_eq!(c.session_len(1), 0);
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn unknown_template_counts_are_bounded() {
        let mut c = TemplateCache::new();
        for i in 0..(MAX_UNKNOWN_KEYS as u32 + 10) {
            c.note_unknown(7, i, 300);
        }
        c.note_unknown(7, 0, 300);
        assert_eq!(c.unknown().count(), MAX_UNKNOWN_KEYS);
        assert_eq!(c.unknown_uncounted(), 10);
        assert_eq!(
            c.unknown().map(|(_, n)| n).sum::<u64>(),
            MAX_UNKNOWN_KEYS as u64 + 1
        );
    }
}
