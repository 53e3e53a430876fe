//! Deterministic randomness for generated test cases: a splitmix64 generator
//! (tiny, seedable, no dependency) and the seeds a property runs its cases
//! with. `REASM_SEED=0x...` runs only that seed; `REASM_CASES=N` changes how
//! many cases run.

/// splitmix64: tiny, seedable, good enough to drive test cases.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in 0..n (0 when n == 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    /// Uniform in lo..=hi.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }
    pub fn chance(&mut self, num: usize, den: usize) -> bool {
        self.below(den) < num
    }
    pub fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())]
    }
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// A seed derived from two (a case's seed and what it is for).
pub fn mix(a: u64, b: u64) -> u64 {
    Rng::new(a ^ b.wrapping_mul(0x2545_f491_4f6c_dd1d)).next()
}

/// Case seeds: REASM_SEED alone, or `cases` seeds derived from a fixed base.
pub fn seeds(test: &str, cases: usize) -> Vec<u64> {
    if let Ok(s) = std::env::var("REASM_SEED") {
        let s = s.trim();
        let v = match s.strip_prefix("0x") {
            Some(h) => u64::from_str_radix(h, 16),
            None => s.parse(),
        };
        return vec![v.expect("REASM_SEED: a decimal or 0x-hex number")];
    }
    let cases = std::env::var("REASM_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(cases);
    let base = test.bytes().fold(0x5eed_2024_u64, |h, b| mix(h, b as u64));
    (0..cases as u64).map(|i| mix(base, i)).collect()
}
