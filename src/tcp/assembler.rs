//! `Assembler`: the byte ranges one direction holds out of order, past the
//! bytes it has in sequence, in a fixed-capacity list (no allocation).

/// Ranges one direction can hold.
pub const CAPACITY: usize = 8;

/// Byte ranges `[start, end)` held past a contiguous prefix, as offsets into
/// the direction's window.
///
/// Invariant, kept by every method:
/// - at most [`CAPACITY`] ranges, each non-empty (`start < end`);
/// - sorted, disjoint and never adjacent: `r[i].end < r[i + 1].start`
///   (a range that overlaps or touches others is merged with them).
///
/// The stream that owns it keeps one more: every range starts past its
/// contiguous prefix (`absorb` takes in the ranges that no longer do).
#[derive(Clone, Copy, Default, Debug)]
pub struct Assembler {
    n: u8,
    ranges: [(u32, u32); CAPACITY],
}

impl Assembler {
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// The held ranges, in order.
    #[inline]
    pub fn ranges(&self) -> &[(u32, u32)] {
        &self.ranges[..self.n as usize]
    }

    /// Where the first held range starts.
    #[inline]
    pub fn first_start(&self) -> Option<u32> {
        self.ranges().first().map(|r| r.0)
    }

    /// One past the last held byte.
    #[inline]
    pub fn end(&self) -> Option<u32> {
        self.ranges().last().map(|r| r.1)
    }

    /// Hold `[start, end)` (`start < end`), merged with what it overlaps or
    /// touches. False when that would take a range more than the capacity:
    /// nothing changes then.
    pub fn insert(&mut self, start: u32, end: u32) -> bool {
        debug_assert!(start < end);
        let n = self.n as usize;
        // The first range that ends at or after `start`...
        let mut i = 0;
        while i < n && self.ranges[i].1 < start {
            i += 1;
        }
        // ...and those from it on that start at or before `end` merge.
        let mut j = i;
        let (mut s, mut e) = (start, end);
        while j < n && self.ranges[j].0 <= end {
            s = s.min(self.ranges[j].0);
            e = e.max(self.ranges[j].1);
            j += 1;
        }
        let merged = j - i;
        if merged == 0 {
            if n == CAPACITY {
                return false;
            }
            self.ranges.copy_within(i..n, i + 1);
            self.n += 1;
        } else if merged > 1 {
            self.ranges.copy_within(j..n, i + 1);
            self.n -= (merged - 1) as u8;
        }
        self.ranges[i] = (s, e);
        true
    }

    /// The contiguous prefix now ends at `prefix`: take in (and drop) the
    /// ranges that start inside it or right at its end. Returns where the
    /// prefix ends with them.
    pub fn absorb(&mut self, mut prefix: u32) -> u32 {
        let n = self.n as usize;
        let mut k = 0;
        while k < n && self.ranges[k].0 <= prefix {
            prefix = prefix.max(self.ranges[k].1);
            k += 1;
        }
        if k > 0 {
            self.ranges.copy_within(k..n, 0);
            self.n -= k as u8;
        }
        prefix
    }

    /// The window dropped its first `by` bytes (no more than where the first
    /// range starts): every offset moves down.
    #[inline]
    pub fn shift(&mut self, by: u32) {
        for r in &mut self.ranges[..self.n as usize] {
            r.0 -= by;
            r.1 -= by;
        }
    }

    pub fn clear(&mut self) {
        self.n = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_invariant(a: &Assembler) {
        let r = a.ranges();
        assert!(r.len() <= CAPACITY);
        assert!(r.iter().all(|&(s, e)| s < e), "{r:?}");
        assert!(r.windows(2).all(|w| w[0].1 < w[1].0), "{r:?}");
    }

    #[test]
    fn ranges_merge() {
        let mut a = Assembler::default();
        assert!(a.insert(10, 20));
        assert!(a.insert(30, 40));
        assert!(a.insert(15, 32));
        assert_eq!(a.ranges(), &[(10, 40)]);
        assert!(a.insert(0, 5));
        assert_eq!(a.ranges(), &[(0, 5), (10, 40)]);
        assert_eq!(a.absorb(5), 5);
        assert_eq!(a.ranges(), &[(10, 40)]);
        assert!(a.insert(40, 41)); // touching merges
        assert_eq!(a.ranges(), &[(10, 41)]);
        assert_eq!((a.first_start(), a.end()), (Some(10), Some(41)));
        assert_eq!(a.absorb(10), 41);
        assert!(a.is_empty());
    }

    #[test]
    fn range_list_is_bounded() {
        let mut a = Assembler::default();
        for i in 0..CAPACITY as u32 {
            assert!(a.insert(i * 10, i * 10 + 5));
        }
        assert!(!a.insert(1000, 1001));
        assert_eq!(a.ranges().len(), CAPACITY);
        // Merging into an existing range still works when full.
        assert!(a.insert(1, 3));
        // One range bridging two frees a place.
        assert!(a.insert(5, 10));
        assert!(a.insert(1000, 1001));
        check_invariant(&a);
    }

    #[test]
    fn shift_moves_every_range() {
        let mut a = Assembler::default();
        a.insert(10, 20);
        a.insert(30, 40);
        a.shift(10);
        assert_eq!(a.ranges(), &[(0, 10), (20, 30)]);
        a.clear();
        assert!(a.is_empty() && a.end().is_none());
    }

    /// Maximal runs of held offsets in the obviously-correct model (one bool
    /// per offset): what the range list must be.
    fn runs(held: &[bool]) -> Vec<(u32, u32)> {
        let mut v = Vec::new();
        let mut i = 0;
        while i < held.len() {
            if held[i] {
                let s = i;
                while i < held.len() && held[i] {
                    i += 1;
                }
                v.push((s as u32, i as u32));
            } else {
                i += 1;
            }
        }
        v
    }

    /// xorshift64*: deterministic test randomness.
    struct Rng(u64);
    impl Rng {
        fn below(&mut self, n: u32) -> u32 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32 % n
        }
    }

    /// Random inserts past the prefix, prefix growth and window slides, the
    /// same on the assembler and on a bitmap with a prefix; after each step
    /// the ranges are the bitmap's runs and the invariant holds.
    #[test]
    fn matches_a_bitmap_model() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _case in 0..3000 {
            let mut a = Assembler::default();
            let mut held = vec![false; 1024];
            let mut prefix = 0u32;
            for _op in 0..40 {
                match rng.below(6) {
                    0..=3 => {
                        // A segment past the prefix, short or long.
                        let s = prefix + 1 + rng.below(160);
                        let longest = if rng.below(2) == 0 { 4 } else { 30 };
                        let e = s + 1 + rng.below(longest);
                        let mut after = held.clone();
                        after[s as usize..e as usize].fill(true);
                        let fits = runs(&after).len() <= CAPACITY;
                        assert_eq!(a.insert(s, e), fits, "{s}..{e} into {:?}", a.ranges());
                        if fits {
                            held = after;
                        }
                    }
                    4 => {
                        // In-order bytes extend the prefix, which takes in what it reaches.
                        let grown = prefix + rng.below(8);
                        let mut p = grown as usize;
                        while held[p] {
                            p += 1;
                        }
                        held[..p].fill(false);
                        prefix = p as u32;
                        assert_eq!(a.absorb(grown), prefix);
                    }
                    _ => {
                        // The parser used some of the prefix: the window slides down.
                        let by = rng.below(prefix + 1);
                        a.shift(by);
                        prefix -= by;
                        held.drain(..by as usize);
                        held.resize(1024, false);
                    }
                }
                check_invariant(&a);
                assert_eq!(a.ranges(), &runs(&held)[..]);
                assert!(a.first_start().is_none_or(|s| s > prefix));
            }
        }
    }
}
