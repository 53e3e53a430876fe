//! The x86_64 routines: each is compiled for the CPU features its caller
//! has checked (`arch::avx2`, `arch::avx512`), or for the baseline.

pub mod ascii;
pub mod escape;
pub mod memcopy;
pub mod secret;
