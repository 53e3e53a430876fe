//! The x86_64 routines: each is compiled for the CPU features its caller
//! has checked (`arch::avx2`, `arch::avx512`), or for the baseline. Whole
//! routines (`ascii`, `memcopy`) carry their features themselves; the
//! kernels (`escape`, `secret`) are inlined into a caller built for the
//! features their Safety sections name.

pub mod ascii;
pub mod escape;
pub mod memcopy;
pub mod secret;
