//! The generator's own PRNG, so that a seed gives the same bytes whatever
//! crate versions are in the lock file.

/// SplitMix64 (Steele, Lea and Flood, 2014): 64 bits of state, a Weyl
/// sequence through a strong 64-bit mixer. Each conversation forks its own
/// instance, so its packets do not depend on how conversations interleave.
#[derive(Clone, Debug)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub(crate) fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    /// A new, independent stream seeded from this one.
    pub(crate) fn fork(&mut self) -> Rng {
        Rng(self.next_u64())
    }

    /// Uniform in `0..n` (Lemire's multiply-shift; the bias is below 2^-32
    /// for the small `n` used here). `n == 0` gives 0.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    pub(crate) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `pct` percent.
    pub(crate) fn chance(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }

    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// Index into `weights` with probability proportional to its weight.
    pub(crate) fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
        let mut x = self.below(total);
        for (i, &w) in weights.iter().enumerate() {
            if x < u64::from(w) {
                return i;
            }
            x -= u64::from(w);
        }
        weights.len() - 1
    }

    /// A heavy-tailed size in `lo..lo << octaves`: the octave is geometric
    /// (each next one taken with `keep_pct` percent), then uniform inside it.
    /// Integer-only, so the same on every platform.
    pub(crate) fn octave(&mut self, lo: u64, octaves: u32, keep_pct: u64) -> u64 {
        let mut k = 0;
        while k + 1 < octaves && self.chance(keep_pct) {
            k += 1;
        }
        let base = lo << k;
        base + self.below(base)
    }

    /// Exponentially distributed with the given mean, in the same unit.
    pub(crate) fn exp(&mut self, mean: u64) -> u64 {
        // u in (0, 1]; -ln(u) is at most 36.8.
        let u = ((self.next_u64() >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64);
        (-ln(u) * mean as f64) as u64
    }
}

/// Natural logarithm from IEEE basic operations only. `f64::ln` goes to the
/// platform's libm, whose last bit may differ between systems, and that
/// would break "same seed, same bytes".
fn ln(x: f64) -> f64 {
    const LN2: f64 = std::f64::consts::LN_2;
    const SQRT2: f64 = std::f64::consts::SQRT_2;
    let bits = x.to_bits();
    let mut e = ((bits >> 52) & 0x7ff) as i64 - 1023;
    let mut m = f64::from_bits((bits & ((1u64 << 52) - 1)) | (1023u64 << 52));
    if m > SQRT2 {
        m *= 0.5;
        e += 1;
    }
    // ln(m) = 2 atanh(s), s = (m-1)/(m+1), |s| < 0.172: ten terms reach 1e-16.
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let mut term = s;
    let mut sum = 0.0;
    for k in 0..10 {
        sum += term / f64::from(2 * k + 1);
        term *= s2;
    }
    2.0 * sum + e as f64 * LN2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ln_matches_std() {
        for &x in &[1e-16, 1e-9, 0.001, 0.25, 0.5, 0.7, 0.99, 1.0] {
            assert!((ln(x) - x.ln()).abs() < 1e-12, "{x}");
        }
    }

    #[test]
    fn exp_mean_is_close() {
        let mut rng = Rng::new(7);
        let n = 100_000;
        let sum: u64 = (0..n).map(|_| rng.exp(1_000_000)).sum();
        let mean = sum / n;
        assert!((980_000..1_020_000).contains(&mean), "{mean}");
    }

    #[test]
    fn below_stays_in_range() {
        let mut rng = Rng::new(1);
        assert!((0..10_000).all(|_| rng.below(7) < 7));
        assert!((0..10_000).all(|_| (3..=9).contains(&rng.range(3, 9))));
    }
}
