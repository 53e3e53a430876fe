//! A fixed-size sketch of durations for one endpoint: 128 log-scale buckets
//! of 16-bit counts (256 bytes), from which p50 and p99 are read.
//!
//! Buckets: durations in microseconds below 8 are exact; above, each power
//! of two is split in four equal buckets (the two bits after the leading
//! one). A quantile is reported as the middle of its bucket, so it is within
//! **12.5%** of the true nearest-rank quantile (half a bucket, whose width
//! is at most a quarter of its lower bound). Durations of 2^33 µs (2.4 h)
//! and more fall in the last bucket. When a bucket would pass 65,535 every
//! count is halved (rounding up), which keeps the proportions, and so the
//! quantiles, of everything seen.

/// Number of buckets.
pub const BUCKETS: usize = 128;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sketch {
    counts: [u16; BUCKETS],
}

impl Default for Sketch {
    fn default() -> Sketch {
        Sketch {
            counts: [0; BUCKETS],
        }
    }
}

/// The bucket of a duration.
fn bucket(us: u64) -> usize {
    if us < 8 {
        return us as usize;
    }
    let e = 63 - us.leading_zeros() as usize; // 3 or more
    let m = ((us >> (e - 2)) & 3) as usize;
    (4 * (e - 1) + m).min(BUCKETS - 1)
}

/// The middle of a bucket (the value reported for it).
fn middle(b: usize) -> u64 {
    if b < 8 {
        return b as u64;
    }
    let e = b / 4 + 1;
    let m = (b % 4) as u64;
    let low = (4 + m) << (e - 2);
    low + (1u64 << (e - 2)) / 2
}

impl Sketch {
    /// Count one duration.
    pub fn add(&mut self, us: u64) {
        let b = bucket(us);
        if self.counts[b] == u16::MAX {
            for c in &mut self.counts {
                *c = c.div_ceil(2);
            }
        }
        self.counts[b] += 1;
    }

    /// Durations counted (after any halving).
    pub fn total(&self) -> u64 {
        self.counts.iter().map(|&c| c as u64).sum()
    }

    /// The nearest-rank quantile `q` (0 < q ≤ 1) in microseconds; None when
    /// nothing was counted.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        let total = self.total();
        if total == 0 {
            return None;
        }
        let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = 0u64;
        for (b, &c) in self.counts.iter().enumerate() {
            seen += c as u64;
            if seen >= rank {
                return Some(middle(b));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_ordered_and_cover_their_middles() {
        let mut prev = 0;
        for us in 0..100_000u64 {
            let b = bucket(us);
            assert!(b >= prev && b <= prev + 1, "{us}");
            prev = b;
        }
        for b in 0..BUCKETS {
            assert_eq!(bucket(middle(b)), b, "bucket {b}");
        }
        assert_eq!(bucket(u64::MAX), BUCKETS - 1);
        assert_eq!(bucket(1 << 33), BUCKETS - 1);
        assert!(bucket((1 << 33) - 1) == BUCKETS - 1);
    }

    #[test]
    fn every_value_within_an_eighth_of_its_bucket_middle() {
        let mut us = 1u64;
        while us < 1 << 33 {
            let m = middle(bucket(us));
            let err = m.abs_diff(us) as f64 / us as f64;
            assert!(err <= 0.125, "{us} reported as {m}");
            us = us * 17 / 16 + 1;
        }
    }

    #[test]
    fn quantiles_of_a_known_distribution() {
        let mut s = Sketch::default();
        assert_eq!(s.quantile(0.5), None);
        // 1..=1000 ms.
        for ms in 1..=1000u64 {
            s.add(ms * 1000);
        }
        let p50 = s.quantile(0.5).unwrap() as f64;
        let p99 = s.quantile(0.99).unwrap() as f64;
        assert!((p50 / 500_000.0 - 1.0).abs() <= 0.125, "{p50}");
        assert!((p99 / 990_000.0 - 1.0).abs() <= 0.125, "{p99}");
    }

    #[test]
    fn halving_keeps_the_proportions() {
        let mut s = Sketch::default();
        for i in 0..200_000u64 {
            s.add(if i % 100 == 0 { 1_000_000 } else { 1_000 });
        }
        assert!(s.total() < 200_000);
        assert_eq!(s.quantile(0.5), Some(middle(bucket(1_000))));
        assert_eq!(s.quantile(0.999), Some(middle(bucket(1_000_000))));
    }
}
