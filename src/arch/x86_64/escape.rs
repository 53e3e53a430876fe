//! JSON string escaping kernels for x86_64: the sixteen-byte specials check
//! (SSE2, the baseline) and the vector steps, which escape the bytes they
//! are given when all their specials take two-byte escapes (quotes,
//! backslashes, \n \r \t): by byte shuffles with AVX2, by one byte
//! expansion with AVX-512 (`vector`). `json` runs the steps inside its own
//! loops, compiled with the features each step names, and keeps the
//! portable escaping and the tests of every path.
//!
//! What every step here keeps to: it reads only the bytes it is given (a
//! load that would go past them is masked, or made of smaller ones); it
//! writes at most 64 bytes at `dst` (66 for `Ascii32::quoted`); it returns
//! `Some(w)` when the escaped bytes are `dst[..w]`, else `None` with nothing
//! written (but the opening quote of `quoted`). `None` means a byte needs a
//! longer escape (a control, DEL, and from 0x80 every byte for Latin-1, the
//! lead bytes 0xc2 and 0xe2 of U+0085 and U+2028/9 for UTF-8), or, for the
//! short-string paths, that the string is not one they take (each says
//! which). Each is `#[inline(always)]`, so that it takes the features of
//! the function it is compiled into: the caller's duty, said in each Safety
//! section, is to be built for them.

mod vector;

use vector::{expanded32, load_short, looks32, shuffled, shuffled32};

/// Which of sixteen bytes must `escape` stop at (bit k for byte k)?
/// Controls, '"', '\\' and DEL; from 0x80, every byte for Latin-1, only the
/// lead bytes of U+0085 and U+2028/9 (0xc2, 0xe2) for UTF-8.
#[inline(always)]
pub fn specials(w: &[u8; 16], latin1: bool) -> u32 {
    // SAFETY: `w` is sixteen readable bytes, and loadu has no alignment
    // requirement.
    specials_v(
        unsafe { std::arch::x86_64::_mm_loadu_si128(w.as_ptr().cast()) },
        latin1,
    )
}

#[inline(always)]
fn specials_v(v: std::arch::x86_64::__m128i, latin1: bool) -> u32 {
    use std::arch::x86_64::*;
    // SAFETY: SSE2 is part of the x86_64 baseline.
    unsafe {
        let is = |c: u8| _mm_cmpeq_epi8(v, _mm_set1_epi8(c as i8));
        let ctl = _mm_cmpeq_epi8(_mm_max_epu8(v, _mm_set1_epi8(0x1f)), _mm_set1_epi8(0x1f));
        let mut m = _mm_or_si128(
            _mm_or_si128(ctl, is(b'"')),
            _mm_or_si128(is(b'\\'), is(0x7f)),
        );
        m = if latin1 {
            _mm_or_si128(m, _mm_cmplt_epi8(v, _mm_setzero_si128()))
        } else {
            _mm_or_si128(m, _mm_or_si128(is(0xc2), is(0xe2)))
        };
        _mm_movemask_epi8(m) as u32
    }
}

/// The 32 bytes at `src`, by byte shuffles.
///
/// # Safety
/// The caller is built for AVX2 and POPCNT; `src` is readable for 32 bytes
/// and `dst` writable for 64.
#[inline(always)]
pub unsafe fn shuffle32(src: *const u8, latin1: bool, dst: *mut u8) -> Option<usize> {
    // SAFETY: the caller's: 32 readable bytes at `src`, 64 writable at
    // `dst`, AVX2 and POPCNT.
    unsafe {
        shuffled32(
            std::arch::x86_64::_mm256_loadu_si256(src.cast()),
            !0,
            latin1,
            dst,
        )
    }
}

/// The sixteen bytes at `src`, by byte shuffles.
///
/// # Safety
/// As for `shuffle32`, with sixteen readable bytes.
#[inline(always)]
pub unsafe fn shuffle16(src: *const u8, latin1: bool, dst: *mut u8) -> Option<usize> {
    // SAFETY: the caller's: sixteen readable bytes at `src`, 64 writable at
    // `dst`, AVX2 and POPCNT.
    unsafe {
        shuffled(
            std::arch::x86_64::_mm_loadu_si128(src.cast()),
            0xffff,
            latin1,
            dst,
        )
    }
}

/// All of `b` (at most sixteen bytes), by byte shuffles; loaded without
/// reading past `b`.
///
/// # Safety
/// The caller is built for AVX2 and POPCNT; `dst` is writable for 64 bytes.
#[inline(always)]
pub unsafe fn shuffle_short(b: &[u8], latin1: bool, dst: *mut u8) -> Option<usize> {
    // SAFETY: the caller's: 64 writable bytes at `dst`, AVX2 and POPCNT.
    unsafe { shuffled(load_short(b), (1 << b.len()) - 1, latin1, dst) }
}

/// The 32 bytes at `src`, by one byte expansion.
///
/// # Safety
/// The caller is built for AVX-512 F, BW, VL and VBMI2, BMI2 and POPCNT;
/// `src` is readable for 32 bytes and `dst` writable for 64.
#[inline(always)]
pub unsafe fn expand32(src: *const u8, latin1: bool, dst: *mut u8) -> Option<usize> {
    // SAFETY: the caller's: 32 readable bytes at `src`, 64 writable at
    // `dst`, the features above.
    unsafe {
        expanded32(
            std::arch::x86_64::_mm256_loadu_si256(src.cast()),
            !0,
            latin1,
            dst,
        )
    }
}

/// All of `b` (fewer than 32 bytes), by one byte expansion; a masked load
/// reads `b` and nothing past it.
///
/// # Safety
/// The caller is built for AVX-512 F, BW, VL and VBMI2, BMI2 and POPCNT;
/// `dst` is writable for 64 bytes.
#[inline(always)]
pub unsafe fn expand_short(b: &[u8], latin1: bool, dst: *mut u8) -> Option<usize> {
    let valid = (1u32 << b.len()) - 1;
    // SAFETY: the masked load reads only the bytes of `b`; the writes stay
    // inside the 64 bytes at `dst`; the caller has the features above.
    unsafe {
        let v = std::arch::x86_64::_mm256_maskz_loadu_epi8(valid, b.as_ptr().cast());
        expanded32(v, valid, latin1, dst)
    }
}

/// A whole string of up to 32 bytes (most header names and values) with
/// AVX2: copied as it is when nothing in it needs a look (one or two loads
/// and stores); else, under sixteen bytes, one shuffled step. `latin1: None`
/// from a caller that has not looked at the bytes: only ASCII is taken then,
/// for which the choice makes no difference, and one load serves the check
/// and the escaping. `None` (nothing written) for more than 32 bytes too.
///
/// # Safety
/// The caller is built for AVX2 and POPCNT; `dst` is writable for 64 bytes.
#[inline(always)]
pub unsafe fn whole32(b: &[u8], latin1: Option<bool>, dst: *mut u8) -> Option<usize> {
    use std::arch::x86_64::*;
    let n = b.len();
    if n >= 16 {
        // SAFETY: two sixteen-byte reads inside `b` (16 <= n), overlapping
        // when n < 32; the stores write n <= 32 bytes at `dst`; the caller
        // has AVX2.
        unsafe {
            let a = _mm_loadu_si128(b.as_ptr().cast());
            let z = _mm_loadu_si128(b.as_ptr().add(n - 16).cast());
            if n > 32 || _mm256_movemask_epi8(looks32(_mm256_set_m128i(z, a))) != 0 {
                return None;
            }
            _mm_storeu_si128(dst.cast(), a);
            _mm_storeu_si128(dst.add(n - 16).cast(), z);
        }
        return Some(n);
    }
    let v = load_short(b);
    let valid = (1u32 << n) - 1;
    // SAFETY: the caller has AVX2.
    if unsafe { _mm256_movemask_epi8(looks32(_mm256_zextsi128_si256(v))) } as u32 & valid == 0 {
        // SAFETY: sixteen bytes written at `dst`.
        unsafe { _mm_storeu_si128(dst.cast(), v) };
        return Some(n);
    }
    let latin1 = match latin1 {
        Some(l) => l,
        // SAFETY: SSE2 is part of the x86_64 baseline.
        None if unsafe { _mm_movemask_epi8(v) } == 0 => false,
        None => return None,
    };
    // SAFETY: the caller's: 64 writable bytes at `dst`, AVX2 and POPCNT.
    unsafe { shuffled(v, valid, latin1, dst) }
}

/// Up to 32 ASCII bytes in a register (`load`), to be written as a JSON
/// string (`quoted`) with AVX-512.
#[derive(Clone, Copy)]
pub struct Ascii32 {
    v: std::arch::x86_64::__m256i,
    /// Bit k for each byte k of the string.
    valid: u32,
    len: usize,
}

impl Ascii32 {
    /// `b` (at most 32 bytes) by one masked load, which reads nothing past
    /// it, when it is all ASCII; else None.
    ///
    /// # Safety
    /// The caller is built for AVX-512 BW and VL.
    #[inline(always)]
    pub unsafe fn load(b: &[u8]) -> Option<Ascii32> {
        use std::arch::x86_64::*;
        let valid = ((1u64 << b.len()) - 1) as u32;
        // SAFETY: the masked load reads only the bytes of `b` (at most 32);
        // the caller has AVX-512 BW and VL.
        let v = unsafe { _mm256_maskz_loadu_epi8(valid, b.as_ptr().cast()) };
        // SAFETY: as above (AVX2).
        if unsafe { _mm256_movemask_epi8(v) } != 0 {
            return None;
        }
        Some(Ascii32 {
            v,
            valid,
            len: b.len(),
        })
    }

    /// The string with its quotes into `dst`: `Some(w)` when it is
    /// `dst[..w]`; copied as it is when nothing in it needs escaping (most
    /// names and values), else by one expanding step. `None` when a byte
    /// needs a six-byte escape (a control or DEL); then only the opening
    /// quote is written.
    ///
    /// # Safety
    /// The caller is built for AVX-512 F, BW, VL and VBMI2, BMI2 and POPCNT;
    /// `dst` is writable for 66 bytes.
    #[inline(always)]
    pub unsafe fn quoted(self, dst: *mut u8) -> Option<usize> {
        use std::arch::x86_64::*;
        let Ascii32 { v, valid, len } = self;
        // SAFETY: the quote, the step's 64 bytes after it and the closing
        // quote stay inside the 66 bytes at `dst`; the caller has what the
        // step needs.
        unsafe {
            *dst = b'"';
            if _mm256_movemask_epi8(looks32(v)) as u32 & valid == 0 {
                _mm256_storeu_si256(dst.add(1).cast(), v);
                *dst.add(1 + len) = b'"';
                return Some(len + 2);
            }
            let w = expanded32(v, valid, false, dst.add(1))?;
            *dst.add(1 + w) = b'"';
            Some(w + 2)
        }
    }
}
