//! JSON writing's entry points for x86_64 CPUs with AVX2 or AVX-512, which
//! `json` dispatches to once `arch` says the CPU has them: the portable
//! escaping (`escape::steps`) with the vector steps of
//! `arch::x86_64::escape` plugged in (`Shuffle`, `Expansion`), the short
//! strings and the header list. Each is compiled with the features of the
//! steps it runs, which are inlined into it; the steps and what they
//! promise are in `arch::x86_64::escape`.

use super::escape::{ROOM, Wide, steps};
use super::{json_str_rest, str_pairs_with};
use crate::arch::x86_64::escape as vx;

// The vector steps write up to 64 bytes (66 with the quotes of
// `Ascii32::quoted`, which has ROOM + 2): the room each step has.
const _: () = assert!(ROOM >= 64);

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

/// The vector steps by byte shuffles: for callers built for AVX2 and POPCNT.
pub struct Shuffle;

impl Wide for Shuffle {
    const VECTOR: bool = true;
    const LAST: usize = 16;

    #[inline(always)]
    unsafe fn step32(src: *const u8, latin1: bool, dst: *mut u8) -> Option<usize> {
        // SAFETY: the caller's: 32 readable bytes at `src`, ROOM (>= 64)
        // writable at `dst`, AVX2 and POPCNT.
        unsafe { vx::shuffle32(src, latin1, dst) }
    }

    #[inline(always)]
    unsafe fn step16(src: *const u8, latin1: bool, dst: *mut u8) -> Option<usize> {
        // SAFETY: the caller's: sixteen readable bytes at `src`, ROOM
        // writable at `dst`, AVX2 and POPCNT.
        unsafe { vx::shuffle16(src, latin1, dst) }
    }

    /// Under sixteen bytes, loaded without reading past `rest`.
    #[inline(always)]
    unsafe fn last(rest: &[u8], latin1: bool, dst: *mut u8) -> Option<usize> {
        // SAFETY: the caller's: ROOM writable at `dst`, AVX2 and POPCNT.
        unsafe { vx::shuffle_short(rest, latin1, dst) }
    }
}

/// The vector steps by byte expansion: for callers built for AVX-512 (F,
/// BW, VL, VBMI2), BMI2 and POPCNT.
pub struct Expansion;

impl Wide for Expansion {
    const VECTOR: bool = true;
    const LAST: usize = 32;

    #[inline(always)]
    unsafe fn step32(src: *const u8, latin1: bool, dst: *mut u8) -> Option<usize> {
        // SAFETY: the caller's: 32 readable bytes at `src`, ROOM (>= 64)
        // writable at `dst`, the features above.
        unsafe { vx::expand32(src, latin1, dst) }
    }

    /// Never asked: `last` takes every rest (under 32 bytes).
    #[inline(always)]
    unsafe fn step16(_: *const u8, _: bool, _: *mut u8) -> Option<usize> {
        None
    }

    /// A masked load reads the rest and nothing past it: one step.
    #[inline(always)]
    unsafe fn last(rest: &[u8], latin1: bool, dst: *mut u8) -> Option<usize> {
        // SAFETY: the caller's: ROOM writable at `dst`, the features above.
        unsafe { vx::expand_short(rest, latin1, dst) }
    }
}

/// A string of up to 32 bytes (most header names and values) at once
/// (`whole32`): true when written, false (nothing written) when it needs
/// the general steps. `latin1: None` from a caller that has not looked at
/// the bytes: only ASCII is taken then.
///
/// # Safety
/// The CPU must have AVX2 and POPCNT (`arch::avx2`).
#[target_feature(enable = "avx2,popcnt")]
pub fn escape_short(out: &mut Vec<u8>, b: &[u8], latin1: Option<bool>) -> bool {
    out.reserve(ROOM);
    let len = out.len();
    // SAFETY: `len` is inside the allocation, with ROOM (>= 64) bytes
    // reserved after it for the step's writes; the CPU has AVX2 and POPCNT.
    match unsafe { vx::whole32(b, latin1, out.as_mut_ptr().add(len)) } {
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

/// `json_str` of up to 32 ASCII bytes with AVX-512 (`Ascii32`): one masked
/// load (which reads nothing past `b`), one expanding step, the quotes
/// around it. False (nothing written) when `b` is not ASCII or has a rare
/// special.
///
/// # Safety
/// The CPU must have AVX-512 F, BW, VL and VBMI2, BMI2 and POPCNT
/// (`arch::avx512`).
#[target_feature(enable = "avx2,popcnt,bmi2,avx512f,avx512bw,avx512vl,avx512vbmi2")]
#[inline]
pub fn json_short_avx512(out: &mut Vec<u8>, b: &[u8]) -> bool {
    // SAFETY: built for AVX-512 BW and VL.
    let Some(s) = (unsafe { vx::Ascii32::load(b) }) else {
        return false;
    };
    out.reserve(ROOM + 2);
    let len = out.len();
    // SAFETY: `len` is inside the allocation, with ROOM + 2 (>= 66) bytes
    // reserved after it for the writes; built for what `quoted` needs.
    match unsafe { s.quoted(out.as_mut_ptr().add(len)) } {
        Some(w) => {
            // SAFETY: written up to here.
            unsafe { out.set_len(len + w) };
            true
        }
        None => false,
    }
}
