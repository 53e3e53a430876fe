//! What this CPU can do beyond its architecture's baseline, for the few
//! loops that run over every byte of every trace.

/// AVX2 (32-byte vectors, byte shuffles) and POPCNT: every x86_64 server
/// CPU of the last ten years (Haswell, Zen). Checked once by std, then a
/// load; older CPUs take the plain paths.
#[cfg(target_arch = "x86_64")]
#[inline]
pub fn avx2() -> bool {
    std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("popcnt")
}

/// AVX-512 with byte operations and byte expansion (BW, VL, VBMI2) and BMI2
/// (pdep/pext): Ice Lake and Sapphire Rapids Xeons, Zen 4 and later. Implies
/// `avx2`.
#[cfg(target_arch = "x86_64")]
#[inline]
pub fn avx512() -> bool {
    avx2()
        && std::is_x86_feature_detected!("avx512f")
        && std::is_x86_feature_detected!("avx512bw")
        && std::is_x86_feature_detected!("avx512vl")
        && std::is_x86_feature_detected!("avx512vbmi2")
        && std::is_x86_feature_detected!("bmi2")
}
