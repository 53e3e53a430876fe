//! JSON string escaping with x86_64 vector instructions: the sixteen-byte
//! specials check (SSE2, the baseline), and where the CPU has AVX2 or
//! AVX-512 the entry points `json::escape` and `json::json_str` dispatch to,
//! with the steps that escape 32 bytes at a time (byte shuffles with AVX2,
//! one byte expansion with AVX-512) and the short-string paths for header
//! names and values. The portable escaping these plug into, and its tests
//! (which run every path the CPU has), are in `json::escape`.

use crate::json::escape::{ROOM, Wide, steps};
use crate::json::{json_str_rest, str_pairs_with};

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

    /// Sixteen bytes, then the last ones loaded without reading past `rest`.
    #[inline(always)]
    unsafe fn tail(rest: &[u8], latin1: bool, dst: *mut u8) -> (usize, usize) {
        let (mut used, mut wrote) = (0, 0);
        if rest.len() >= 16 {
            // SAFETY: sixteen bytes of `rest`; the writes stay inside the
            // first ROOM bytes at `dst`; the caller has AVX2 and POPCNT.
            let v = unsafe { std::arch::x86_64::_mm_loadu_si128(rest.as_ptr().cast()) };
            // SAFETY: as above.
            match unsafe { shuffled(v, 0xffff, latin1, dst) } {
                Some(w) => (used, wrote) = (16, w),
                None => return (0, 0),
            }
        }
        let last = &rest[used..];
        // SAFETY: the writes stay inside the second ROOM bytes at `dst`
        // (the first step wrote at most 32); the caller has AVX2 and POPCNT.
        let w = unsafe {
            shuffled(
                load_short(last),
                (1 << last.len()) - 1,
                latin1,
                dst.add(wrote),
            )
        };
        match w {
            Some(w) => (rest.len(), wrote + w),
            None => (used, wrote),
        }
    }
}

/// The vector steps by byte expansion (`expanded32`): for callers built for
/// AVX-512 (F, BW, VL, VBMI2), BMI2 and POPCNT.
pub struct Expansion;

impl Wide for Expansion {
    const VECTOR: bool = true;

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

    /// A masked load reads the rest and nothing past it: one step.
    #[inline(always)]
    unsafe fn tail(rest: &[u8], latin1: bool, dst: *mut u8) -> (usize, usize) {
        let valid = (1u32 << rest.len()) - 1;
        // SAFETY: the masked load reads only the bytes of `rest`; the writes
        // stay inside the room at `dst`; the caller has the features above.
        let w = unsafe {
            let v = std::arch::x86_64::_mm256_maskz_loadu_epi8(valid, rest.as_ptr().cast());
            expanded32(v, valid, latin1, dst)
        };
        match w {
            Some(w) => (rest.len(), w),
            None => (0, 0),
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

/// Bytes of `v` that escaping may change (0xff where so): controls, '"',
/// '\\', DEL and everything from 0x80.
#[inline(always)]
unsafe fn looks32(v: std::arch::x86_64::__m256i) -> std::arch::x86_64::__m256i {
    use std::arch::x86_64::*;
    // SAFETY: the caller has AVX2.
    unsafe {
        let low = _mm256_cmpgt_epi8(_mm256_set1_epi8(0x20), v);
        _mm256_or_si256(
            _mm256_or_si256(low, eq32(v, b'"')),
            _mm256_or_si256(eq32(v, b'\\'), eq32(v, 0x7f)),
        )
    }
}

/// `shuffled32` for sixteen bytes (the upper half of the vector unused).
#[inline(always)]
unsafe fn shuffled(
    v: std::arch::x86_64::__m128i,
    valid: u32,
    latin1: bool,
    dst: *mut u8,
) -> Option<usize> {
    // SAFETY: the caller's, as for `shuffled32`.
    unsafe {
        shuffled32(
            std::arch::x86_64::_mm256_zextsi128_si256(v),
            valid,
            latin1,
            dst,
        )
    }
}

/// Escape the bytes of `v` marked in `valid` (the low ones) into `dst` when
/// all their specials take two-byte escapes; returns how many bytes that
/// wrote, or None (nothing to rely on written) for the general step. Each
/// 128-bit lane of the shuffles spreads out two groups of eight, next to
/// eight backslashes; past the valid bytes the output is overwritten by what
/// follows. Writes 64 bytes at most. Only for callers built for AVX2 and
/// POPCNT.
#[inline(always)]
unsafe fn shuffled32(
    v: std::arch::x86_64::__m256i,
    valid: u32,
    latin1: bool,
    dst: *mut u8,
) -> Option<usize> {
    use std::arch::x86_64::*;
    // SAFETY: the caller's: features, and 64 writable bytes at `dst`.
    unsafe {
        let (all, e) = marks32(v, valid, latin1)?;
        let bs = _mm256_set1_epi8(b'\\' as i8);
        // Per lane: bytes 0..8 / 16..24 (lo) and 8..16 / 24..32 (hi), each
        // next to eight backslashes.
        let lo = _mm256_unpacklo_epi64(e, bs);
        let hi = _mm256_unpackhi_epi64(e, bs);
        let lo = _mm256_shuffle_epi8(lo, order(all, 0, 16));
        let hi = _mm256_shuffle_epi8(hi, order(all, 8, 24));
        let mut len = 0;
        for (part, shift) in [
            (_mm256_castsi256_si128(lo), 0),
            (_mm256_castsi256_si128(hi), 8),
            (_mm256_extracti128_si256(lo, 1), 16),
            (_mm256_extracti128_si256(hi, 1), 24),
        ] {
            _mm_storeu_si128(dst.add(len).cast(), part);
            len += 8 + (all >> shift & 0xff).count_ones() as usize;
        }
        Some((valid.count_ones() + all.count_ones()) as usize)
    }
}

/// `shuffled32` with AVX-512: the same bytes, written by one byte expansion.
/// Each input byte takes one output slot, or two (backslash, letter) when
/// marked; laying the marks out two bits per byte (`pdep`) and gathering
/// the backslash bits through the slots that exist (`pext`) gives where the
/// backslashes go, and `vpexpandb` spreads the letters over the other slots
/// of a vector of backslashes. Writes 64 bytes. Only for callers built for
/// AVX-512 (F, BW, VL, VBMI2), BMI2 and POPCNT.
#[inline(always)]
unsafe fn expanded32(
    v: std::arch::x86_64::__m256i,
    valid: u32,
    latin1: bool,
    dst: *mut u8,
) -> Option<usize> {
    use std::arch::x86_64::*;
    // SAFETY: the caller's: features, and 64 writable bytes at `dst`.
    unsafe {
        let (marked, e) = marks32(v, valid, latin1)?;
        // Two bits per input byte: its first slot (always), its second
        // (when marked); the first slot of a marked byte is its backslash.
        let m = marked as u64;
        let slots = 0x5555_5555_5555_5555 | _pdep_u64(m, 0xaaaa_aaaa_aaaa_aaaa);
        let backslashes = _pext_u64(_pdep_u64(m, 0x5555_5555_5555_5555), slots);
        let out = _mm512_mask_expand_epi8(
            _mm512_set1_epi8(b'\\' as i8),
            !backslashes,
            _mm512_zextsi256_si512(e),
        );
        _mm512_storeu_si512(dst.cast(), out);
        Some((valid.count_ones() + marked.count_ones()) as usize)
    }
}

/// For the bytes of `v` marked in `valid`: those that take two-byte escapes
/// (bit mask), and `v` with \t \n \r turned into the letters of their
/// escapes; None when one needs the general step. Shared by the shuffled and
/// the expanding step.
#[inline(always)]
unsafe fn marks32(
    v: std::arch::x86_64::__m256i,
    valid: u32,
    latin1: bool,
) -> Option<(u32, std::arch::x86_64::__m256i)> {
    use std::arch::x86_64::*;
    // SAFETY: the caller has AVX2.
    unsafe {
        let ctl = _mm256_cmpeq_epi8(
            _mm256_max_epu8(v, _mm256_set1_epi8(0x1f)),
            _mm256_set1_epi8(0x1f),
        );
        let c3 = _mm256_or_si256(
            _mm256_or_si256(eq32(v, b'\n'), eq32(v, b'\r')),
            eq32(v, b'\t'),
        );
        let high = if latin1 {
            _mm256_cmpgt_epi8(_mm256_setzero_si256(), v)
        } else {
            _mm256_or_si256(eq32(v, 0xc2), eq32(v, 0xe2))
        };
        let rare = _mm256_or_si256(
            _mm256_andnot_si256(c3, ctl),
            _mm256_or_si256(eq32(v, 0x7f), high),
        );
        let two = _mm256_or_si256(c3, _mm256_or_si256(eq32(v, b'"'), eq32(v, b'\\')));
        let flip = _mm256_shuffle_epi8(
            _mm256_broadcastsi128_si256(_mm_loadu_si128(FLIP.as_ptr().cast())),
            v,
        );
        if _mm256_movemask_epi8(rare) as u32 & valid != 0 {
            return None;
        }
        let e = _mm256_xor_si256(v, _mm256_and_si256(flip, c3));
        Some((_mm256_movemask_epi8(two) as u32 & valid, e))
    }
}

// Helpers for the vector steps, `#[inline(always)]` so that they are
// compiled into each caller with its target features.

/// Where `v` has the byte `c`.
#[inline(always)]
unsafe fn eq32(v: std::arch::x86_64::__m256i, c: u8) -> std::arch::x86_64::__m256i {
    use std::arch::x86_64::*;
    // SAFETY: the caller has AVX2.
    unsafe { _mm256_cmpeq_epi8(v, _mm256_set1_epi8(c as i8)) }
}

/// The EXPAND orders for the groups of eight at bits `a` (low lane) and `b`
/// (high lane) of `mask`.
#[inline(always)]
unsafe fn order(mask: u32, a: u32, b: u32) -> std::arch::x86_64::__m256i {
    use std::arch::x86_64::*;
    // SAFETY: the caller has AVX2; each entry is sixteen bytes.
    unsafe {
        _mm256_loadu2_m128i(
            EXPAND[(mask >> b & 0xff) as usize].as_ptr().cast(),
            EXPAND[(mask >> a & 0xff) as usize].as_ptr().cast(),
        )
    }
}

/// Up to sixteen bytes in a register, zeros after them, read without going
/// past `b` (overlapping loads of eight, four or one bytes).
#[inline(always)]
fn load_short(b: &[u8]) -> std::arch::x86_64::__m128i {
    use std::arch::x86_64::*;
    let n = b.len();
    let word = |at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap());
    let half = |at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap()) as u64;
    let (lo, hi) = match n {
        16.. => (word(0), word(8)),
        9.. => (word(0), word(n - 8) >> (8 * (16 - n))),
        8 => (word(0), 0),
        4.. => (half(0) | half(n - 4) << (8 * (n - 4)), 0),
        1.. => (
            b[0] as u64 | (b[n / 2] as u64) << (8 * (n / 2)) | (b[n - 1] as u64) << (8 * (n - 1)),
            0,
        ),
        0 => (0, 0),
    };
    // SAFETY: SSE2 is part of the x86_64 baseline.
    unsafe { _mm_set_epi64x(hi as i64, lo as i64) }
}

/// For the shuffled steps: what turns \t \n \r (by their low four bits)
/// into t n r when xored in.
static FLIP: [u8; 16] = {
    let mut t = [0u8; 16];
    t[9] = b'\t' ^ b't';
    t[10] = b'\n' ^ b'n';
    t[13] = b'\r' ^ b'r';
    t
};

/// For the shuffled steps: for each mask of eight bytes, where each output
/// byte comes from (0..8: the byte; 8: a backslash), a backslash before each
/// marked byte. Output past 8 + (marked bytes) is don't-care.
static EXPAND: [[u8; 16]; 256] = {
    let mut t = [[0x80u8; 16]; 256];
    let mut m = 0;
    while m < 256 {
        let (mut k, mut bit) = (0, 0);
        while bit < 8 {
            if m >> bit & 1 == 1 {
                t[m][k] = 8;
                k += 1;
            }
            t[m][k] = bit as u8;
            k += 1;
            bit += 1;
        }
        m += 1;
    }
    t
};
