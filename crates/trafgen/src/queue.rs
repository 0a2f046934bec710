//! The event queue: a radix heap (Ahuja, Mehlhorn, Orlin and Tarjan, 1990).
//!
//! Keys are microseconds since the start of the capture, and no event is
//! ever scheduled before the one being processed, so the queue only needs
//! to be monotone. A radix heap files each entry under the highest bit in
//! which its key differs from the last key popped; popping scans one small
//! bucket now and then instead of sifting through a binary heap, which was
//! a third of the generator's time.

/// A monotone min-queue of `(key, id)`. Entries with equal keys come out in
/// an unspecified but deterministic order.
pub(crate) struct RadixQueue {
    last: u64,
    len: usize,
    /// Bucket 0 holds keys equal to `last`; bucket b keys whose highest bit
    /// differing from `last` is bit b - 1.
    buckets: [Vec<(u64, u32)>; 65],
}

impl RadixQueue {
    pub(crate) fn new() -> RadixQueue {
        RadixQueue {
            last: 0,
            len: 0,
            buckets: std::array::from_fn(|_| Vec::new()),
        }
    }

    fn bucket(last: u64, key: u64) -> usize {
        (64 - (key ^ last).leading_zeros()) as usize
    }

    /// Adds an entry; `key` must not be below the last key popped.
    pub(crate) fn push(&mut self, key: u64, id: u32) {
        debug_assert!(key >= self.last, "radix queue is monotone");
        self.buckets[Self::bucket(self.last, key)].push((key, id));
        self.len += 1;
    }

    pub(crate) fn pop(&mut self) -> Option<(u64, u32)> {
        if self.buckets[0].is_empty() {
            let b = self.buckets.iter().position(|v| !v.is_empty())?;
            let mut moving = std::mem::take(&mut self.buckets[b]);
            self.last = moving
                .iter()
                .map(|e| e.0)
                .min()
                .expect("bucket is not empty");
            // Everything in bucket b agrees with the new minimum above bit
            // b - 1, so it all lands in lower buckets.
            for e in moving.drain(..) {
                self.buckets[Self::bucket(self.last, e.0)].push(e);
            }
            self.buckets[b] = moving;
        }
        self.len -= 1;
        self.buckets[0].pop()
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    #[test]
    fn pops_in_key_order_while_pushing() {
        let mut rng = Rng::new(3);
        let mut q = RadixQueue::new();
        let mut popped = Vec::new();
        for i in 0..100 {
            q.push(rng.below(1000), i);
        }
        let mut now = 0;
        let mut next_id = 100;
        while let Some((k, _)) = q.pop() {
            assert!(k >= now);
            now = k;
            popped.push(k);
            if next_id < 5000 {
                // Reschedule at or after now, sometimes at the same key.
                q.push(now + rng.below(3) * rng.below(2000), next_id);
                next_id += 1;
            }
        }
        assert_eq!(popped.len(), 5000);
        assert_eq!(q.len(), 0);
    }
}
