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
