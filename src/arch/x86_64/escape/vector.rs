//! The vector steps of escaping: the bytes of a vector whose specials all
//! take two-byte escapes (quotes, backslashes, \n \r \t) written out
//! without a branch per special, by byte shuffles chosen by the specials'
//! bit mask (AVX2) or by one byte expansion (AVX-512), and the helpers and
//! tables they share. Every function here is `#[inline(always)]` and
//! compiled into a caller built for the features it says it needs.

/// Bytes of `v` that escaping may change (0xff where so): controls, '"',
/// '\\', DEL and everything from 0x80.
///
/// # Safety
/// The caller is built for AVX2.
#[inline(always)]
pub(super) unsafe fn looks32(v: std::arch::x86_64::__m256i) -> std::arch::x86_64::__m256i {
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
///
/// # Safety
/// As for `shuffled32`.
#[inline(always)]
pub(super) unsafe fn shuffled(
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
/// follows. Writes 64 bytes at most.
///
/// # Safety
/// The caller is built for AVX2 and POPCNT; `dst` is writable for 64 bytes.
#[inline(always)]
pub(super) unsafe fn shuffled32(
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
/// of a vector of backslashes. Writes 64 bytes.
///
/// # Safety
/// The caller is built for AVX-512 (F, BW, VL, VBMI2), BMI2 and POPCNT;
/// `dst` is writable for 64 bytes.
#[inline(always)]
pub(super) unsafe fn expanded32(
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
///
/// # Safety
/// The caller is built for AVX2.
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
///
/// # Safety
/// The caller is built for AVX2.
#[inline(always)]
unsafe fn eq32(v: std::arch::x86_64::__m256i, c: u8) -> std::arch::x86_64::__m256i {
    use std::arch::x86_64::*;
    // SAFETY: the caller has AVX2.
    unsafe { _mm256_cmpeq_epi8(v, _mm256_set1_epi8(c as i8)) }
}

/// The EXPAND orders for the groups of eight at bits `a` (low lane) and `b`
/// (high lane) of `mask`.
///
/// # Safety
/// The caller is built for AVX2.
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
pub(super) fn load_short(b: &[u8]) -> std::arch::x86_64::__m128i {
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
