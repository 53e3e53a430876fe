//! How many exchanges are kept over time: a token bucket, asked at each
//! request that passed the filters.

/// A token bucket: `per_minute` traces a minute, bursts up to a minute's worth.
pub struct RateLimit {
    per_us: f64,
    cap: f64,
    tokens: f64,
    last: u64,
}

impl RateLimit {
    pub fn new(per_minute: f64) -> RateLimit {
        RateLimit {
            per_us: per_minute / 60e6,
            cap: per_minute,
            tokens: per_minute,
            last: 0,
        }
    }

    /// May one more trace go at time `ts` (microseconds)?
    pub fn take(&mut self, ts: u64) -> bool {
        if self.cap <= 0.0 {
            return true; // no limit
        }
        if self.last != 0 && ts > self.last {
            self.tokens = (self.tokens + (ts - self.last) as f64 * self.per_us).min(self.cap);
        }
        if ts > self.last {
            self.last = ts;
        }
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_bucket() {
        let mut r = RateLimit::new(60.0);
        let t0 = 1_000_000_000;
        let ok = (0..100).filter(|i| r.take(t0 + i * 1000)).count();
        assert_eq!(ok, 60);
        // One second later, one more token.
        assert!(r.take(t0 + 100_000 + 1_000_000));
        assert!(!r.take(t0 + 100_000 + 1_000_001));
        let mut r = RateLimit::new(0.0);
        assert!((0..1000).all(|i| r.take(i)));
    }
}
