//! JSON string escaping with x86_64 vector instructions: the sixteen-byte
//! specials check (SSE2, the baseline), and where the CPU has AVX2 or
//! AVX-512 the entry points `json::escape` and `json::json_str` dispatch to,
//! with the steps that escape 32 bytes at a time (byte shuffles with AVX2,
//! one byte expansion with AVX-512: `vector`) and the short-string paths
//! for header names and values. The portable escaping these plug into, and its tests
//! (which run every path the CPU has), are in `json::escape`.

use crate::json::escape::{ROOM, Wide, steps};
use crate::json::{json_str_rest, str_pairs_with};

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

/// `json::escape` with AVX2: short strings in one step, the rest by the
/// shuffled steps.
///
/// # Safety
/// The CPU must have AVX2 and POPCNT (`arch::avx2`).
#[target_feature(enable = "avx2,popcnt")]
pub fn escape_avx2(out: &mut Vec<u8>, b: &[u8], latin1: bool) {
    if b.len() <= 32 && escape_short(out, b, Some(latin1)) {
        return;
    }
    steps::<Shuffle>(out, b, latin1)
}

/// `json::escape` with AVX-512: the expanding steps.
///
/// # Safety
/// The CPU must have AVX-512 F, BW, VL and VBMI2, BMI2 and POPCNT
/// (`arch::avx512`).
#[target_feature(enable = "avx2,popcnt,bmi2,avx512f,avx512bw,avx512vl,avx512vbmi2")]
pub fn escape_avx512(out: &mut Vec<u8>, b: &[u8], latin1: bool) {
    steps::<Expansion>(out, b, latin1)
}

/// The vector steps by byte shuffles (`shuffled32`): for callers built for
/// AVX2 and POPCNT.
pub struct Shuffle;

impl Wide for Shuffle {
    const VECTOR: bool = true;
    const LAST: usize = 16;

    #[inline(always)]
    unsafe fn step32(src: *const u8, latin1: bool, dst: *mut u8) -> Option<usize> {
        // SAFETY: the caller's: 32 readable bytes at `src`, room at `dst`,
        // AVX2 and POPCNT.
        unsafe {
            shuffled32(
                std::arch::x86_64::_mm256_loadu_si256(src.cast()),
                !0,
                latin1,
                dst,
            )
        }
    }

    #[inline(always)]
    unsafe fn step16(src: *const u8, latin1: bool, dst: *mut u8) -> Option<usize> {
        // SAFETY: the caller's: sixteen readable bytes at `src`, room at
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

    /// Under sixteen bytes, loaded without reading past `rest`.
    #[inline(always)]
    unsafe fn last(rest: &[u8], latin1: bool, dst: *mut u8) -> Option<usize> {
        // SAFETY: the caller's: room at `dst`, AVX2 and POPCNT.
        unsafe { shuffled(load_short(rest), (1 << rest.len()) - 1, latin1, dst) }
    }
}

/// The vector steps by byte expansion (`expanded32`): for callers built for
/// AVX-512 (F, BW, VL, VBMI2), BMI2 and POPCNT.
pub struct Expansion;

impl Wide for Expansion {
    const VECTOR: bool = true;
    const LAST: usize = 32;

    #[inline(always)]
    unsafe fn step32(src: *const u8, latin1: bool, dst: *mut u8) -> Option<usize> {
        // SAFETY: the caller's: 32 readable bytes at `src`, room at `dst`,
        // the features above.
        unsafe {
            expanded32(
                std::arch::x86_64::_mm256_loadu_si256(src.cast()),
                !0,
                latin1,
                dst,
            )
        }
    }

    /// Never asked: `last` takes every rest (under 32 bytes).
    #[inline(always)]
    unsafe fn step16(_: *const u8, _: bool, _: *mut u8) -> Option<usize> {
        None
    }

    /// A masked load reads the rest and nothing past it: one step.
    #[inline(always)]
    unsafe fn last(rest: &[u8], latin1: bool, dst: *mut u8) -> Option<usize> {
        let valid = (1u32 << rest.len()) - 1;
        // SAFETY: the masked load reads only the bytes of `rest`; the writes
        // stay inside the room at `dst`; the caller has the features above.
        unsafe {
            let v = std::arch::x86_64::_mm256_maskz_loadu_epi8(valid, rest.as_ptr().cast());
            expanded32(v, valid, latin1, dst)
        }
    }
}

/// A string of up to 32 bytes (most header names and values) at once: copied
/// as it is when nothing in it needs a look (one or two loads and stores);
/// else, under sixteen bytes, in one shuffled step when its specials all
/// take two-byte escapes. False (nothing written) otherwise. `latin1: None`
/// from a caller that has not looked at the bytes: only ASCII is taken then,
/// for which the choice makes no difference, and one load serves the check
/// and the escaping.
///
/// # Safety
/// The CPU must have AVX2 and POPCNT (`arch::avx2`).
#[target_feature(enable = "avx2,popcnt")]
pub fn escape_short(out: &mut Vec<u8>, b: &[u8], latin1: Option<bool>) -> bool {
    use std::arch::x86_64::*;
    let n = b.len();
    out.reserve(ROOM);
    let len = out.len();
    // SAFETY: `len` is inside the allocation (reserved above). Every store
    // below writes at most 64 bytes from there, inside the room reserved;
    // the CPU has AVX2 and POPCNT.
    let dst = unsafe { out.as_mut_ptr().add(len) };
    if n >= 16 {
        // SAFETY: two sixteen-byte reads inside `b` (16 <= n), overlapping
        // when n < 32; the stores as above.
        unsafe {
            let a = _mm_loadu_si128(b.as_ptr().cast());
            let z = _mm_loadu_si128(b.as_ptr().add(n - 16).cast());
            if n > 32 || _mm256_movemask_epi8(looks32(_mm256_set_m128i(z, a))) != 0 {
                return false;
            }
            _mm_storeu_si128(dst.cast(), a);
            _mm_storeu_si128(dst.add(n - 16).cast(), z);
            out.set_len(len + n);
        }
        return true;
    }
    let v = load_short(b);
    let valid = (1u32 << n) - 1;
    // SAFETY: the CPU has AVX2.
    if _mm256_movemask_epi8(unsafe { looks32(_mm256_zextsi128_si256(v)) }) as u32 & valid == 0 {
        // SAFETY: as above.
        unsafe {
            _mm_storeu_si128(dst.cast(), v);
            out.set_len(len + n);
        }
        return true;
    }
    let latin1 = match latin1 {
        Some(l) => l,
        None if _mm_movemask_epi8(v) == 0 => false,
        None => return false,
    };
    // SAFETY: as above.
    match unsafe { shuffled(v, valid, latin1, dst) } {
        Some(w) => {
            // SAFETY: written up to here.
            unsafe { out.set_len(len + w) };
            true
        }
        None => false,
    }
}

/// `str_pairs` with the short AVX-512 strings inlined (most header names
/// and values): one call for the list instead of two per pair.
///
/// # Safety
/// The CPU must have AVX-512 F, BW, VL and VBMI2, BMI2 and POPCNT
/// (`arch::avx512`).
#[target_feature(enable = "avx2,popcnt,bmi2,avx512f,avx512bw,avx512vl,avx512vbmi2")]
pub fn str_pairs_avx512(out: &mut Vec<u8>, pairs: &[(&str, &[u8])]) {
    str_pairs_with(out, pairs, |out, b| {
        // The closure has the features of its function.
        if b.len() > 32 || !json_short_avx512(out, b) {
            out.push(b'"');
            json_str_rest(out, b);
        }
    })
}

/// `json_str` of up to 32 ASCII bytes with AVX-512: one masked load (which
/// reads nothing past `b`), one expanding step, the quotes around it. False
/// (nothing written) when `b` is not ASCII or has a rare special.
///
/// # Safety
/// The CPU must have AVX-512 F, BW, VL and VBMI2, BMI2 and POPCNT
/// (`arch::avx512`).
#[target_feature(enable = "avx2,popcnt,bmi2,avx512f,avx512bw,avx512vl,avx512vbmi2")]
#[inline]
pub fn json_short_avx512(out: &mut Vec<u8>, b: &[u8]) -> bool {
    use std::arch::x86_64::*;
    let valid = ((1u64 << b.len()) - 1) as u32;
    // SAFETY: the masked load reads only the bytes of `b` (at most 32).
    let v = unsafe { _mm256_maskz_loadu_epi8(valid, b.as_ptr().cast()) };
    if _mm256_movemask_epi8(v) != 0 {
        return false;
    }
    out.reserve(ROOM + 2);
    let len = out.len();
    // SAFETY: the quote, the step's 64 bytes after it and the closing quote
    // stay inside the room reserved; the CPU has what the step needs.
    unsafe {
        let dst = out.as_mut_ptr().add(len);
        *dst = b'"';
        if _mm256_movemask_epi8(looks32(v)) as u32 & valid == 0 {
            // Nothing to escape (most names and values): as it is.
            _mm256_storeu_si256(dst.add(1).cast(), v);
            *dst.add(1 + b.len()) = b'"';
            out.set_len(len + b.len() + 2);
            return true;
        }
        match expanded32(v, valid, false, dst.add(1)) {
            Some(w) => {
                *dst.add(1 + w) = b'"';
                out.set_len(len + w + 2);
                true
            }
            None => false,
        }
    }
}
