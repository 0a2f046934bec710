//! The flow cache's index: slot numbers by key hash, in buckets of one
//! cache line each.
//!
//! Ours rather than a general hash table because the packet path looks
//! ahead: it asks the CPU for the bucket of a packet a few packets before it
//! looks the packet up ([`FlowIndex::prefetch`]), then for the slot the
//! bucket points at ([`FlowIndex::candidate`]). A general table hides where
//! a hash's entries live, so its lookup is always a demand miss.
//!
//! A bucket holds seven entries, each a 32-bit tag (bits of the hash other
//! than those that chose the bucket; 0 means empty) and a slot number. The
//! keys stay in the slots, so a lookup compares tags first and reads a slot
//! only on a tag match. A full bucket sends an insert on to the next one and
//! counts it in `passed`; a lookup goes on past a bucket only while its
//! count is not zero, and a removal takes the entry's count back off every
//! bucket it passed. With at most four entries a bucket on average (the
//! table is sized for that), few buckets ever fill.

use record::text::prefetch;

const ENTRIES: usize = 7;

#[derive(Clone, Copy, Default)]
#[repr(C, align(64))]
struct Bucket {
    tags: [u32; ENTRIES],
    /// Entries whose home is this bucket or one before it, living after it.
    passed: u32,
    slots: [u32; ENTRIES],
}

pub(crate) struct FlowIndex {
    buckets: Box<[Bucket]>,
    mask: usize,
    len: usize,
}

/// The bucket a hash starts at, and its tag (never 0).
fn split(hash: u64, mask: usize) -> (usize, u32) {
    (hash as usize & mask, (hash >> 32) as u32 | 1)
}

impl FlowIndex {
    /// An index for at most `capacity` entries; it never grows.
    pub fn with_capacity(capacity: usize) -> Self {
        let buckets = capacity.div_ceil(4).next_power_of_two();
        FlowIndex {
            buckets: vec![Bucket::default(); buckets].into_boxed_slice(),
            mask: buckets - 1,
            len: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Asks the CPU for the bucket where a lookup of `hash` starts.
    #[inline]
    pub fn prefetch(&self, hash: u64) {
        let (b, _) = split(hash, self.mask);
        if let Some(bucket) = self.buckets.get(b) {
            prefetch(std::ptr::from_ref(bucket).cast());
        }
    }

    /// The first slot in `hash`'s bucket whose tag matches, without looking
    /// at its key: a guess at where the flow lives, for a prefetch.
    #[inline]
    pub fn candidate(&self, hash: u64) -> Option<u32> {
        let (b, tag) = split(hash, self.mask);
        let bucket = self.buckets.get(b)?;
        let i = bucket.tags.iter().position(|&t| t == tag)?;
        Some(bucket.slots[i])
    }

    /// The slot whose key hashes to `hash` and that `is_key` accepts.
    #[inline]
    pub fn find(&self, hash: u64, is_key: impl Fn(u32) -> bool) -> Option<u32> {
        let (mut b, tag) = split(hash, self.mask);
        // At most once round: every bucket can have been passed at some
        // time (each by an entry that is still there), and then no bucket
        // ends the walk.
        for _ in 0..self.buckets.len() {
            let bucket = &self.buckets[b];
            for (i, &t) in bucket.tags.iter().enumerate() {
                if t == tag && is_key(bucket.slots[i]) {
                    return Some(bucket.slots[i]);
                }
            }
            if bucket.passed == 0 {
                return None;
            }
            b = (b + 1) & self.mask;
        }
        None
    }

    /// Adds `slot` under `hash`; the caller keeps keys unique and the count
    /// within the capacity, so a free entry is always found.
    pub fn insert(&mut self, hash: u64, slot: u32) {
        let (mut b, tag) = split(hash, self.mask);
        for _ in 0..self.buckets.len() {
            let bucket = &mut self.buckets[b];
            if let Some(i) = bucket.tags.iter().position(|&t| t == 0) {
                bucket.tags[i] = tag;
                bucket.slots[i] = slot;
                self.len += 1;
                return;
            }
            bucket.passed += 1;
            b = (b + 1) & self.mask;
        }
        unreachable!("flow index over capacity");
    }

    /// Removes `slot`, filed under `hash`; false if it is not there.
    pub fn remove(&mut self, hash: u64, slot: u32) -> bool {
        let (home, tag) = split(hash, self.mask);
        let mut b = home;
        // At most once round, as in `find`.
        for _ in 0..self.buckets.len() {
            let bucket = &mut self.buckets[b];
            if let Some(i) =
                (0..ENTRIES).find(|&i| bucket.tags[i] == tag && bucket.slots[i] == slot)
            {
                bucket.tags[i] = 0;
                self.len -= 1;
                let mut p = home;
                while p != b {
                    self.buckets[p].passed -= 1;
                    p = (p + 1) & self.mask;
                }
                return true;
            }
            if bucket.passed == 0 {
                return false;
            }
            b = (b + 1) & self.mask;
        }
        false
    }

    /// Every slot in the index.
    #[cfg(test)]
    pub fn slots(&self) -> impl Iterator<Item = u32> + '_ {
        self.buckets.iter().flat_map(|bucket| {
            (0..ENTRIES)
                .filter(|&i| bucket.tags[i] != 0)
                .map(|i| bucket.slots[i])
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn bucket_is_one_cache_line() {
        assert_eq!(std::mem::size_of::<Bucket>(), 64);
    }

    /// Hashes that all start at bucket 0 fill it and spill into the next
    /// buckets; removing from the front keeps the rest findable.
    #[test]
    fn full_buckets_spill_and_removal_keeps_them_findable() {
        let mut index = FlowIndex::with_capacity(64);
        let hash = |n: u32| u64::from(n) << 32;
        for n in 0..20 {
            index.insert(hash(n), n);
        }
        assert_eq!(index.len(), 20);
        for n in 0..20 {
            assert_eq!(index.find(hash(n), |s| s == n), Some(n));
        }
        for n in 0..10 {
            assert!(index.remove(hash(n), n));
        }
        assert!(!index.remove(hash(3), 3));
        for n in 10..20 {
            assert_eq!(index.find(hash(n), |s| s == n), Some(n));
        }
        assert_eq!(index.find(hash(3), |_| true), None);
        assert!(index.buckets.iter().all(|b| b.passed as usize <= 20));
        for n in 10..20 {
            assert!(index.remove(hash(n), n));
        }
        assert!(index.is_empty());
        assert!(index.buckets.iter().all(|b| b.passed == 0));
    }

    /// Every bucket passed by an entry still there: a lookup of a hash
    /// that is not in the index still ends (it used to go round for ever).
    #[test]
    fn every_bucket_passed_still_ends_lookups() {
        let mut index = FlowIndex::with_capacity(8);
        assert_eq!(index.buckets.len(), 2);
        let home = |bucket: u64, n: u64| (n + 1) << 32 | bucket;
        for n in 0..8 {
            index.insert(home(0, n), n as u32);
        }
        for n in 0..7 {
            assert!(index.remove(home(0, n), n as u32));
        }
        for n in 0..7 {
            index.insert(home(1, n), 100 + n as u32);
        }
        assert!(index.buckets.iter().all(|b| b.passed > 0));
        assert_eq!(index.find(home(0, 50), |_| true), None);
        assert_eq!(index.find(home(1, 50), |_| true), None);
        assert!(!index.remove(home(1, 50), 7));
        assert_eq!(index.find(home(0, 7), |s| s == 7), Some(7));
        assert_eq!(index.find(home(1, 6), |s| s == 106), Some(106));
    }

    proptest! {
        /// Against a plain list: inserts and removals in any order, with
        /// few distinct bucket numbers so that buckets fill and spill.
        #[test]
        fn agrees_with_a_list(ops in prop::collection::vec((any::<bool>(), 0u64..6, 0u64..40), 1..400)) {
            let mut index = FlowIndex::with_capacity(64);
            let mut model: Vec<(u64, u32)> = Vec::new();
            for (slot, (add, bucket, tag)) in ops.into_iter().enumerate() {
                let hash = tag << 32 | bucket;
                if add && model.len() < 64 {
                    index.insert(hash, slot as u32);
                    model.push((hash, slot as u32));
                } else if let Some(pos) = model.iter().position(|&(h, _)| h == hash) {
                    let (h, s) = model.swap_remove(pos);
                    prop_assert!(index.remove(h, s));
                }
                prop_assert_eq!(index.len(), model.len());
                for &(h, s) in &model {
                    prop_assert_eq!(index.find(h, |x| x == s), Some(s));
                }
            }
            let mut slots: Vec<u32> = index.slots().collect();
            let mut want: Vec<u32> = model.iter().map(|&(_, s)| s).collect();
            slots.sort_unstable();
            want.sort_unstable();
            prop_assert_eq!(slots, want);
        }
    }
}
