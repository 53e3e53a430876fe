//! The secret-word scan's kernels for x86_64: where one of the words
//! `policy::secret` looks for may start, as a bit mask over 32 positions
//! with AVX2 (`starts32`) or 64 with AVX-512 (`starts64`). A bit is set
//! where the first three letters of a word are, in either case: "tok",
//! "sec", "ses", "pas" or "api"; the caller checks the whole word there.
//! Each is `#[inline(always)]`, so that it takes the features of the loop
//! it is compiled into (policy's scans, tested there against the portable
//! word check); the caller's duty is to be built for them.

/// Bit k set when a secret word may start at `w[k]` (k < 32): its first three
/// letters, in either case, are there. Each byte is classed by two table
/// look-ups (low and high four bits, one shuffle each): bit 0 for "tok",
/// 1 for "sec"/"ses", 2 for "pas", 3 for "api", per letter position.
///
/// # Safety
/// The caller is built for AVX2.
#[inline(always)]
pub unsafe fn starts32(w: &[u8; 34]) -> u32 {
    use std::arch::x86_64::*;
    // SAFETY: the caller has AVX2; each load reads 32 of the 34 bytes of
    // `w`, unaligned.
    unsafe {
        let m = _mm256_and_si256(
            _mm256_and_si256(class(w, 0, &FIRST), class(w, 1, &SECOND)),
            class(w, 2, &THIRD),
        );
        !(_mm256_movemask_epi8(_mm256_cmpeq_epi8(m, _mm256_setzero_si256())) as u32)
    }
}

/// The classes (`starts32`) of the 32 bytes of `w` from `at`, for one letter
/// position.
///
/// # Safety
/// The caller is built for AVX2; `at <= 2`.
#[inline(always)]
unsafe fn class(w: &[u8; 34], at: usize, t: &[[u8; 16]; 2]) -> std::arch::x86_64::__m256i {
    use std::arch::x86_64::*;
    // SAFETY: the caller's: AVX2, and at <= 2.
    unsafe {
        let v = _mm256_loadu_si256(w.as_ptr().add(at).cast());
        let nib = _mm256_set1_epi8(0x0f);
        let lo = _mm256_and_si256(v, nib);
        let hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), nib);
        let lo_t = _mm256_broadcastsi128_si256(_mm_loadu_si128(t[0].as_ptr().cast()));
        let hi_t = _mm256_broadcastsi128_si256(_mm_loadu_si128(t[1].as_ptr().cast()));
        _mm256_and_si256(_mm256_shuffle_epi8(lo_t, lo), _mm256_shuffle_epi8(hi_t, hi))
    }
}

/// Bit k set when a secret word may start at `b[at + k]` (k < 64): its first
/// three letters are there. Masked loads read the bytes of `b` from `at` and
/// nothing past them; a word whose first letters would run past `b` is not
/// marked.
///
/// # Safety
/// The caller is built for AVX-512 F, BW and VL; `at + 2 <= b.len()`.
#[inline(always)]
pub unsafe fn starts64(b: &[u8], at: usize) -> u64 {
    use std::arch::x86_64::*;
    let bits = |k: usize| if k >= 64 { !0u64 } else { (1u64 << k) - 1 };
    let left = b.len() - at;
    // SAFETY: each masked load reads the bytes of `b` from at + k for as
    // many as are left (at most 64): inside `b`; at + 2 <= b.len(). The
    // caller has AVX-512 BW.
    unsafe {
        let p = b.as_ptr().add(at);
        let m = _mm512_and_si512(
            _mm512_and_si512(
                class64(_mm512_maskz_loadu_epi8(bits(left), p.cast()), &FIRST),
                class64(
                    _mm512_maskz_loadu_epi8(bits(left - 1), p.add(1).cast()),
                    &SECOND,
                ),
            ),
            class64(
                _mm512_maskz_loadu_epi8(bits(left - 2), p.add(2).cast()),
                &THIRD,
            ),
        );
        _mm512_test_epi8_mask(m, m)
    }
}

/// `class` for 64 bytes in a register.
///
/// # Safety
/// The caller is built for AVX-512 BW.
#[inline(always)]
unsafe fn class64(v: std::arch::x86_64::__m512i, t: &[[u8; 16]; 2]) -> std::arch::x86_64::__m512i {
    use std::arch::x86_64::*;
    // SAFETY: the caller has AVX-512 BW.
    unsafe {
        let nib = _mm512_set1_epi8(0x0f);
        let lo = _mm512_and_si512(v, nib);
        let hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), nib);
        let lo_t = _mm512_broadcast_i32x4(_mm_loadu_si128(t[0].as_ptr().cast()));
        let hi_t = _mm512_broadcast_i32x4(_mm_loadu_si128(t[1].as_ptr().cast()));
        _mm512_and_si512(_mm512_shuffle_epi8(lo_t, lo), _mm512_shuffle_epi8(hi_t, hi))
    }
}

/// The classes of `starts32` for a letter position: by low four bits, and by
/// high four bits (rows 4/5 are capitals, 6/7 small letters, of the same
/// low bits).
const fn letter_class(letters: &[(u8, u8)]) -> [[u8; 16]; 2] {
    let mut t = [[0u8; 16]; 2];
    let mut k = 0;
    while k < letters.len() {
        let (c, bits) = letters[k];
        t[0][(c & 15) as usize] |= bits;
        t[1][(c >> 4) as usize] |= bits;
        t[1][((c >> 4) - 2) as usize] |= bits;
        k += 1;
    }
    t
}

static FIRST: [[u8; 16]; 2] = letter_class(&[(b't', 1), (b's', 2), (b'p', 4), (b'a', 8)]);
static SECOND: [[u8; 16]; 2] = letter_class(&[(b'o', 1), (b'e', 2), (b'a', 4), (b'p', 8)]);
static THIRD: [[u8; 16]; 2] = letter_class(&[(b'k', 1), (b'c', 2), (b's', 2 | 4), (b'i', 8)]);
