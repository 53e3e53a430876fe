//! What this CPU can do beyond its architecture's baseline, for the few
//! loops that run over every byte of every trace.

/// SSSE3 (byte shuffles) and POPCNT: every x86_64 of the last fifteen years.
/// Checked once by std, then a load.
#[cfg(target_arch = "x86_64")]
#[inline]
pub fn shuffles() -> bool {
    std::is_x86_feature_detected!("ssse3") && std::is_x86_feature_detected!("popcnt")
}
