//! Escaping for JSON strings, the part of writing JSON that runs over every
//! byte of every header and body.
//!
//! JSON bodies have a quote every few bytes, so the cost must not grow with
//! the number of specials. Where the CPU has AVX2 (`arch::avx2`), 32 bytes
//! whose specials all take two-byte escapes (quotes, backslashes, \n \r \t)
//! are written by byte shuffles chosen by the specials' bit mask, without a
//! branch per special; the last bytes of a string (and whole header names
//! and values) go the same way sixteen at a time. Otherwise the input goes
//! in general steps of sixteen bytes: the specials found at once as a bit
//! mask, each plain run before a special stored with one sixteen-byte copy,
//! the bytes past the run overwritten by what follows; the last bytes over a
//! padded copy. Writes go straight into the spare capacity of `out`, which
//! always keeps room for one step's worst case.

/// For the two-byte escapes: the letter after the backslash.
static ESC2: [u8; 256] = {
    let mut t = [0u8; 256];
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t[b'\n' as usize] = b'n';
    t[b'\r' as usize] = b'r';
    t[b'\t' as usize] = b't';
    t
};

/// Which of sixteen bytes must `escape` stop at (bit k for byte k)?
/// Controls, '"', '\\' and DEL; from 0x80, every byte for Latin-1, only the
/// lead bytes of U+0085 and U+2028/9 (0xc2, 0xe2) for UTF-8.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn specials(w: &[u8; 16], latin1: bool) -> u32 {
    // SAFETY: `w` is sixteen readable bytes, and loadu has no alignment
    // requirement.
    specials_v(
        unsafe { std::arch::x86_64::_mm_loadu_si128(w.as_ptr().cast()) },
        latin1,
    )
}

#[cfg(target_arch = "x86_64")]
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

#[cfg(not(target_arch = "x86_64"))]
use specials_swar as specials;

/// `specials` eight bytes at a time, for other machines. Exact up to the
/// first special byte of each half; above it, borrows may mark plain bytes
/// too, which `escape` then copies as they are.
#[cfg(any(not(target_arch = "x86_64"), test))]
#[inline(always)]
fn specials_swar(w: &[u8; 16], latin1: bool) -> u32 {
    let lo = special8(u64::from_le_bytes(w[..8].try_into().unwrap()), latin1);
    let hi = special8(u64::from_le_bytes(w[8..].try_into().unwrap()), latin1);
    // The high bit of each byte, gathered into the top byte.
    let gather = |m: u64| ((m >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56) as u32;
    gather(lo) | gather(hi) << 8
}

/// The high bit of each byte of `w` that `specials_swar` marks.
#[cfg(any(not(target_arch = "x86_64"), test))]
#[inline(always)]
fn special8(w: u64, latin1: bool) -> u64 {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    // A byte is zero in `x` exactly where `w` has the byte `v`.
    let has = |v: u8| {
        let x = w ^ (LO * v as u64);
        x.wrapping_sub(LO) & !x & HI
    };
    let below = w.wrapping_sub(LO * 0x20) & !w & HI;
    let high = if latin1 {
        w & HI
    } else {
        has(0xc2) | has(0xe2)
    };
    below | high | has(b'"') | has(b'\\') | has(0x7f)
}

/// The escape for `b[i]`, which is not one of the two-byte ones: the bytes to
/// write (the first `.1` of them) and how many input bytes they stand for.
#[inline(never)]
fn escape_rare(b: &[u8], i: usize, latin1: bool) -> ([u8; 6], usize, usize) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let c = b[i];
    let u00 = [
        b'\\',
        b'u',
        b'0',
        b'0',
        HEX[(c >> 4) as usize],
        HEX[(c & 15) as usize],
    ];
    match c {
        0..=0x1f | 0x7f => (u00, 6, 1),
        0x80.. if latin1 => (u00, 6, 1),
        0xc2 if b.get(i + 1) == Some(&0x85) => (*b"\\u0085", 6, 2),
        0xe2 if b.get(i + 1) == Some(&0x80) && matches!(b.get(i + 2), Some(0xa8 | 0xa9)) => {
            let e = if b[i + 2] == 0xa8 {
                b"\\u2028"
            } else {
                b"\\u2029"
            };
            (*e, 6, 3)
        }
        // A byte that only looked special (another UTF-8 sequence, or a
        // false mark of `specials_swar`): as it is.
        _ => ([c, 0, 0, 0, 0, 0], 1, 1),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
pub(crate) fn escape_avx2(out: &mut Vec<u8>, b: &[u8], latin1: bool) {
    if b.len() <= 32 && escape_short(out, b, Some(latin1)) {
        return;
    }
    escape_steps::<SHUFFLE>(out, b, latin1)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt,bmi2,avx512f,avx512bw,avx512vl,avx512vbmi2")]
pub(crate) fn escape_avx512(out: &mut Vec<u8>, b: &[u8], latin1: bool) {
    escape_steps::<EXPANSION>(out, b, latin1)
}

/// How `escape_steps` takes 32 bytes whose specials all have two-byte
/// escapes: not at all (general steps of sixteen), by byte shuffles
/// (`shuffled32`, AVX2) or by one byte expansion (`expanded32`, AVX-512).
pub(crate) const PLAIN: u8 = 0;
#[cfg(target_arch = "x86_64")]
const SHUFFLE: u8 = 1;
#[cfg(target_arch = "x86_64")]
const EXPANSION: u8 = 2;

/// `escape`, its 32-byte steps taken as `HOW` says.
#[inline(always)]
pub(crate) fn escape_steps<const HOW: u8>(out: &mut Vec<u8>, b: &[u8], latin1: bool) {
    let n = b.len();
    out.reserve(n + ROOM);
    let mut at = Cursor {
        i: 0,
        j: 0,
        len: out.len(),
    };
    // Straight from `b` while a step's reads (up to 32 bytes on) stay inside it.
    while n - at.i >= 32 {
        if out.capacity() - at.len < ROOM {
            // SAFETY: the bytes up to `len` have been written.
            unsafe { out.set_len(at.len) };
            out.reserve(n - at.i + ROOM);
        }
        #[cfg(target_arch = "x86_64")]
        if HOW != PLAIN && at.j == at.i {
            // SAFETY: 32 bytes of `b` from `i`; the writes stay inside ROOM;
            // the caller has the features of `HOW`.
            let w = unsafe {
                let v = std::arch::x86_64::_mm256_loadu_si256(b.as_ptr().add(at.i).cast());
                let dst = out.as_mut_ptr().add(at.len);
                if HOW == EXPANSION {
                    expanded32(v, !0, latin1, dst)
                } else {
                    shuffled32(v, !0, latin1, dst)
                }
            };
            if let Some(w) = w {
                at.i += 32;
                at.j = at.i;
                at.len += w;
                continue;
            }
        }
        step(out, b, &mut at, usize::MAX, latin1);
    }
    // The rest (under 32 bytes): room for two steps made at once.
    // SAFETY: the bytes up to `len` have been written.
    unsafe { out.set_len(at.len) };
    out.reserve(2 * ROOM);
    // With AVX-512, a masked load reads the rest and nothing past it.
    #[cfg(target_arch = "x86_64")]
    if HOW == EXPANSION && at.j == at.i {
        let rest = &b[at.i..];
        let valid = (1u32 << rest.len()) - 1;
        // SAFETY: the masked load reads only the bytes of `rest`; the writes
        // stay inside the room reserved above; the caller has AVX-512.
        let w = unsafe {
            let v = std::arch::x86_64::_mm256_maskz_loadu_epi8(valid, rest.as_ptr().cast());
            expanded32(v, valid, latin1, out.as_mut_ptr().add(at.len))
        };
        if let Some(w) = w {
            // SAFETY: written up to here.
            unsafe { out.set_len(at.len + w) };
            return;
        }
    }
    // Straight from `b` too when its specials all take two-byte escapes
    // (most header names and values): sixteen bytes, then the last ones
    // loaded without reading past `b`.
    #[cfg(target_arch = "x86_64")]
    if HOW == SHUFFLE && at.j == at.i {
        let dst = out.as_mut_ptr();
        if n - at.i >= 16 {
            // SAFETY: sixteen bytes of `b` from `i`; the writes stay inside
            // the room reserved above; the caller has AVX2 and POPCNT.
            let v = unsafe { std::arch::x86_64::_mm_loadu_si128(b.as_ptr().add(at.i).cast()) };
            if let Some(w) = unsafe { shuffled(v, 0xffff, latin1, dst.add(at.len)) } {
                at = Cursor {
                    i: at.i + 16,
                    j: at.i + 16,
                    len: at.len + w,
                };
            }
        }
        let rest = &b[at.i..];
        if rest.len() < 16 {
            // SAFETY: as above, with the second step's room.
            let w = unsafe {
                shuffled(
                    load_short(rest),
                    (1 << rest.len()) - 1,
                    latin1,
                    dst.add(at.len),
                )
            };
            if let Some(w) = w {
                // SAFETY: written up to here.
                unsafe { out.set_len(at.len + w) };
                return;
            }
        }
    }
    // Otherwise from a copy padded with plain bytes.
    let mut tail = [b'a'; 64];
    let base = at.i;
    let end = n - base;
    tail[..end].copy_from_slice(&b[base..]);
    let mut t = Cursor {
        i: 0,
        j: at.j - base,
        len: at.len,
    };
    while t.i < end {
        step(out, &tail, &mut t, end, latin1);
    }
    // SAFETY: as above.
    unsafe { out.set_len(t.len) };
}

/// A string of up to 32 bytes (most header names and values) at once: copied
/// as it is when nothing in it needs a look (one or two loads and stores);
/// else, under sixteen bytes, in one shuffled step when its specials all
/// take two-byte escapes. False (nothing written) otherwise. `latin1: None`
/// from a caller that has not looked at the bytes: only ASCII is taken then,
/// for which the choice makes no difference, and one load serves the check
/// and the escaping.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
pub(crate) fn escape_short(out: &mut Vec<u8>, b: &[u8], latin1: Option<bool>) -> bool {
    use std::arch::x86_64::*;
    let n = b.len();
    out.reserve(ROOM);
    let len = out.len();
    // SAFETY (for every store): at most 64 bytes from `len`, inside the room
    // reserved; the CPU has AVX2 and POPCNT.
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
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt,bmi2,avx512f,avx512bw,avx512vl,avx512vbmi2")]
pub(crate) fn str_pairs_avx512(out: &mut Vec<u8>, pairs: &[(&str, &[u8])]) {
    super::str_pairs_with(out, pairs, |out, b| {
        // The closure has the features of its function.
        if b.len() > 32 || !json_short_avx512(out, b) {
            out.push(b'"');
            super::json_str_rest(out, b);
        }
    })
}

/// `json_str` of up to 32 ASCII bytes with AVX-512: one masked load (which
/// reads nothing past `b`), one expanding step, the quotes around it. False
/// (nothing written) when `b` is not ASCII or has a rare special.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt,bmi2,avx512f,avx512bw,avx512vl,avx512vbmi2")]
#[inline]
pub(crate) fn json_short_avx512(out: &mut Vec<u8>, b: &[u8]) -> bool {
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
#[cfg(target_arch = "x86_64")]
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

/// Sixteen bytes escaped as \u00XX each, and a copy's overhang.
const ROOM: usize = 16 * 6 + 16;

/// Where `escape` is: `src[..j]` is written, up to `len` in the output; `i`
/// is the start of the step (j - i <= 2: a three-byte escape can reach into
/// the next step).
struct Cursor {
    i: usize,
    j: usize,
    len: usize,
}

/// One step of `escape`: `src[i..i + 16]`, reading up to `src[j + 16]`
/// (`src` must have 32 bytes from `i`); nothing past `end` is output. The
/// caller makes sure `out` has ROOM bytes of capacity past `len`.
#[inline(always)]
fn step(out: &mut Vec<u8>, src: &[u8], c: &mut Cursor, end: usize, latin1: bool) {
    let Cursor { i, mut j, mut len } = *c;
    assert!(src.len() >= i + 32 && out.capacity() - len >= ROOM);
    let dst = out.as_mut_ptr();
    let p0 = src.as_ptr();
    let mut m = specials(src[i..i + 16].try_into().unwrap(), latin1) & (!0u32 << (j - i));
    // SAFETY (for every copy): reads are `src[j..j + 16]` with j < i + 16,
    // and `src[p]` with p < i + 16, so inside `src`; writes stay within ROOM
    // bytes from the `len` the step started with (both asserted above).
    // Every bit left in `m` is at or after `j`: a multi-byte escape clears
    // the bits it consumed.
    while m != 0 {
        let p = i + m.trailing_zeros() as usize;
        m &= m - 1;
        unsafe { std::ptr::copy_nonoverlapping(p0.add(j), dst.add(len), 16) };
        len += p - j;
        let c = unsafe { *p0.add(p) };
        let e = ESC2[c as usize];
        if e != 0 {
            unsafe { std::ptr::copy_nonoverlapping([b'\\', e].as_ptr(), dst.add(len), 2) };
            len += 2;
            j = p + 1;
        } else {
            let (esc, wrote, used) = escape_rare(src, p, latin1);
            unsafe { std::ptr::copy_nonoverlapping(esc.as_ptr(), dst.add(len), 6) };
            len += wrote;
            j = p + used;
            m &= (!0u32).checked_shl((j - i) as u32).unwrap_or(0);
        }
    }
    let stop = (i + 16).min(end);
    if j < stop {
        unsafe { std::ptr::copy_nonoverlapping(p0.add(j), dst.add(len), 16) };
        len += stop - j;
        j = stop;
    }
    *c = Cursor { i: i + 16, j, len };
}

/// `shuffled32` for sixteen bytes (the upper half of the vector unused).
#[cfg(target_arch = "x86_64")]
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
#[cfg(target_arch = "x86_64")]
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
#[cfg(target_arch = "x86_64")]
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
#[cfg(target_arch = "x86_64")]
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
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn eq32(v: std::arch::x86_64::__m256i, c: u8) -> std::arch::x86_64::__m256i {
    use std::arch::x86_64::*;
    // SAFETY: the caller has AVX2.
    unsafe { _mm256_cmpeq_epi8(v, _mm256_set1_epi8(c as i8)) }
}

/// The EXPAND orders for the groups of eight at bits `a` (low lane) and `b`
/// (high lane) of `mask`.
#[cfg(target_arch = "x86_64")]
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
#[cfg(target_arch = "x86_64")]
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
#[cfg(target_arch = "x86_64")]
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
#[cfg(target_arch = "x86_64")]
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

#[cfg(test)]
mod tests {
    use super::super::{json_str, str_pairs};
    use super::*;

    /// Bytes that may need escaping: controls, '"', '\\', DEL, and from 0x80.
    static SPECIAL: [bool; 256] = {
        let mut t = [false; 256];
        let mut i = 0;
        while i < 256 {
            t[i] = i < 0x20 || i == b'"' as usize || i == b'\\' as usize || i >= 0x7f;
            i += 1;
        }
        t
    };

    #[test]
    fn word_check_agrees_with_vector_check() {
        for latin1 in [false, true] {
            for c in 0..=255u8 {
                for pos in 0..16 {
                    let mut w = *b"abcdefghijklmnop";
                    w[pos] = c;
                    let want =
                        SPECIAL[c as usize] && (latin1 || c < 0x80 || c == 0xc2 || c == 0xe2);
                    let exact = specials(&w, latin1);
                    assert_eq!(exact, if want { 1 << pos } else { 0 }, "{c:#x} at {pos}");
                    // The word check: the same first mark, maybe more above it.
                    let swar = specials_swar(&w, latin1);
                    assert_eq!(
                        swar.trailing_zeros(),
                        exact.trailing_zeros(),
                        "{c:#x} at {pos}"
                    );
                    assert_eq!(swar & exact, exact, "{c:#x} at {pos}");
                }
            }
        }
    }

    /// The plain definition: one byte at a time.
    fn escape_slowly(b: &[u8], latin1: bool) -> String {
        let mut o = String::new();
        let mut i = 0;
        while i < b.len() {
            let c = b[i];
            let rest = &b[i..];
            match c {
                b'"' => o.push_str("\\\""),
                b'\\' => o.push_str("\\\\"),
                b'\n' => o.push_str("\\n"),
                b'\r' => o.push_str("\\r"),
                b'\t' => o.push_str("\\t"),
                0..=0x1f | 0x7f => o.push_str(&format!("\\u{c:04x}")),
                0x80.. if latin1 => o.push_str(&format!("\\u{c:04x}")),
                _ if rest.starts_with(&[0xc2, 0x85]) => {
                    o.push_str("\\u0085");
                    i += 1;
                }
                _ if rest.starts_with(&[0xe2, 0x80, 0xa8])
                    || rest.starts_with(&[0xe2, 0x80, 0xa9]) =>
                {
                    o.push_str(&format!("\\u{:04x}", 0x2000 + (rest[2] as u32 - 0x80)));
                    i += 2;
                }
                _ => {
                    let l = match c {
                        0..=0x7f => 1,
                        0xc0..=0xdf => 2,
                        0xe0..=0xef => 3,
                        _ => 4,
                    };
                    o.push_str(std::str::from_utf8(&b[i..i + l]).unwrap());
                    i += l - 1;
                }
            }
            i += 1;
        }
        o
    }

    type Escaper = fn(&mut Vec<u8>, &[u8], bool);

    /// Every way `escape` can run on this machine.
    fn escapers() -> Vec<(&'static str, Escaper)> {
        // Pushed to on x86_64 only.
        #[cfg_attr(not(target_arch = "x86_64"), allow(unused_mut))]
        let mut v: Vec<(&'static str, Escaper)> = vec![("steps", escape_steps::<PLAIN>)];
        #[cfg(target_arch = "x86_64")]
        if crate::arch::avx2() {
            // SAFETY: the CPU has what `escape_avx2` needs.
            v.push(("avx2", |o, b, l| unsafe { escape_avx2(o, b, l) }));
        }
        #[cfg(target_arch = "x86_64")]
        if crate::arch::avx512() {
            // SAFETY: the CPU has what `escape_avx512` needs.
            v.push(("avx512", |o, b, l| unsafe { escape_avx512(o, b, l) }));
        }
        v
    }

    #[test]
    fn escaping_agrees_with_the_plain_definition() {
        // Every kind of byte at every offset around the sixteen-byte steps,
        // (second set) runs of steps whose specials all take two-byte
        // escapes, as in JSON bodies, and (third) mostly plain strings.
        let every: &[&[u8]] = &[
            b"\"",
            b"\\",
            b"\n",
            b"\r",
            b"\t",
            b"\x01",
            b"\x7f",
            "\u{85}".as_bytes(),
            "\u{2028}".as_bytes(),
            "\u{2029}".as_bytes(),
            "\u{e9}\u{2030}".as_bytes(),
            b"plain",
        ];
        let two_byte: &[&[u8]] = &[
            b"\"",
            b"\\",
            b"\n",
            b"\r",
            b"\t",
            b"\":\"",
            "\u{e9}".as_bytes(),
        ];
        assert!(!escapers().is_empty());
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        // The third set is mostly plain: short strings with no special or
        // one.
        for (pieces, every_nth) in [(every, 3), (two_byte, 2), (every, 40)] {
            for len in 0..300 {
                let mut b = Vec::new();
                while b.len() < len {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    if seed.is_multiple_of(every_nth) {
                        b.extend_from_slice(pieces[(seed >> 8) as usize % pieces.len()]);
                    } else {
                        b.push(b'a' + (seed >> 16) as u8 % 26);
                    }
                }
                let latin1 = std::str::from_utf8(&b).is_err();
                let mut out = Vec::new();
                json_str(&mut out, &b);
                assert_eq!(
                    String::from_utf8(out).unwrap(),
                    format!("\"{}\"", escape_slowly(&b, latin1)),
                    "json_str: {b:?}"
                );
                // Header lists (their own AVX-512 routine), b as the value.
                let mut out = Vec::new();
                str_pairs(&mut out, &[("X-A", &b[..]), ("B", b"v\"")]);
                let mut want = b"[[\"X-A\",".to_vec();
                json_str(&mut want, &b);
                want.extend_from_slice(b"],[\"B\",\"v\\\"\"]]");
                assert_eq!(out, want, "str_pairs: {b:?}");
                // The short AVX2 path `json_str` takes where AVX-512 is not.
                #[cfg(target_arch = "x86_64")]
                if b.len() <= 32 && crate::arch::avx2() {
                    let mut out = Vec::new();
                    // SAFETY: the CPU has AVX2.
                    if unsafe { escape_short(&mut out, &b, None) } {
                        assert!(b.is_ascii());
                        assert_eq!(
                            String::from_utf8(out).unwrap(),
                            escape_slowly(&b, false),
                            "escape_short: {b:?}"
                        );
                    }
                }
                for (name, esc) in escapers() {
                    let mut out = b"prefix".to_vec();
                    esc(&mut out, &b, false);
                    assert_eq!(&out[..6], b"prefix");
                    assert_eq!(
                        std::str::from_utf8(&out[6..]).unwrap(),
                        escape_slowly(&b, false),
                        "{name}: {b:?}"
                    );
                    let mut out = Vec::new();
                    esc(&mut out, &b, true);
                    assert_eq!(
                        String::from_utf8(out).unwrap(),
                        escape_slowly(&b, true),
                        "{name}: {b:?}"
                    );
                }
            }
        }
    }
}
