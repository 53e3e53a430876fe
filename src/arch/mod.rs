//! Architecture-specific code, in one place and at the bottom: what this
//! CPU can do beyond its architecture's baseline (detected here), and the
//! routines built for it (`x86_64`). Each loop that has such a routine asks
//! here and otherwise takes its portable path, which lives beside its
//! caller and runs on every architecture.
//!
//! Nothing here calls up into its users (json, policy, view): a routine is
//! either whole (a `#[target_feature]` function the user calls, as the
//! ASCII body copy) or a kernel with a written contract (what it reads and
//! writes, what it returns, which features its caller is built for),
//! `#[inline(always)]` so that it is compiled into the user's own loop,
//! which the user builds with those features (the escaping steps, the
//! secret-word masks).
//!
//! The questions are for the few loops that run over every byte of every
//! trace: detected once; after that each question is one load and one
//! compare (the loops ask per string).

#[cfg(target_arch = "x86_64")]
pub mod x86_64;

#[cfg(target_arch = "x86_64")]
pub use levels::{avx2, avx512};

/// The x86_64 levels the routines of `x86_64` are built for.
#[cfg(target_arch = "x86_64")]
mod levels {
    use std::sync::atomic::{AtomicU8, Ordering};

    /// 0 until detected, then 1 + the number of levels below that the CPU has.
    static LEVEL: AtomicU8 = AtomicU8::new(0);

    const BASE: u8 = 1;
    const AVX2: u8 = 2;
    const AVX512: u8 = 3;

    #[inline(always)]
    fn level() -> u8 {
        match LEVEL.load(Ordering::Relaxed) {
            0 => detect(),
            l => l,
        }
    }

    #[cold]
    fn detect() -> u8 {
        use std::is_x86_feature_detected as has;
        let l = if !(has!("avx2") && has!("popcnt")) {
            BASE
        } else if has!("avx512f")
            && has!("avx512bw")
            && has!("avx512vl")
            && has!("avx512vbmi2")
            && has!("bmi2")
        {
            AVX512
        } else {
            AVX2
        };
        LEVEL.store(l, Ordering::Relaxed);
        l
    }

    /// AVX2 (32-byte vectors, byte shuffles) and POPCNT: every x86_64 server
    /// CPU of the last ten years (Haswell, Zen); older CPUs take the plain
    /// paths.
    #[inline(always)]
    pub fn avx2() -> bool {
        level() >= AVX2
    }

    /// AVX-512 with byte operations and byte expansion (BW, VL, VBMI2) and BMI2
    /// (pdep/pext): Ice Lake and Sapphire Rapids Xeons, Zen 4 and later. Implies
    /// `avx2`.
    #[inline(always)]
    pub fn avx512() -> bool {
        level() >= AVX512
    }
}
