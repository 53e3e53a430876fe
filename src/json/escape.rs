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
//! always keeps room for one step's worst case. With AVX-512 one byte
//! expansion does what the shuffles do. The general steps are here and run
//! everywhere; the vector steps of `arch::x86_64::escape` plug into them
//! (`Wide`) in `json::x86_64`, which compiles them with their features.

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

#[cfg(target_arch = "x86_64")]
pub(crate) use crate::arch::x86_64::escape::specials;
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

/// How `steps` takes what a vector step can: 32 bytes at a time, and the
/// last bytes of a string, when their specials all take two-byte escapes.
/// `Plain` takes none (general steps of sixteen only); the vector ways are
/// in `json::x86_64` (byte shuffles with AVX2, one byte expansion with
/// AVX-512, the steps of `arch::x86_64::escape`), each compiled into an
/// entry point built for its features.
///
/// Each step escapes the bytes it is given when their specials all take
/// two-byte escapes and returns how many bytes that wrote; otherwise None,
/// and nothing it wrote is to be relied on (the general step follows).
pub(super) trait Wide {
    /// Whether the steps below are tried at all.
    const VECTOR: bool;

    /// `last` takes fewer bytes than this; the last bytes of a string (under
    /// 32) start with `step16` when there are this many. 16 or more where
    /// `VECTOR`.
    const LAST: usize;

    /// The 32 bytes at `src`.
    ///
    /// # Safety
    /// `src` readable for 32 bytes, `dst` writable for `ROOM` bytes, and the
    /// CPU has the features of the implementation.
    unsafe fn step32(src: *const u8, latin1: bool, dst: *mut u8) -> Option<usize>;

    /// The sixteen bytes at `src`.
    ///
    /// # Safety
    /// As for `step32`, with sixteen readable bytes.
    unsafe fn step16(src: *const u8, latin1: bool, dst: *mut u8) -> Option<usize>;

    /// All of `rest` (fewer than `LAST` bytes), read without going past it.
    ///
    /// # Safety
    /// `dst` writable for `ROOM` bytes, and the CPU has the features of the
    /// implementation.
    unsafe fn last(rest: &[u8], latin1: bool, dst: *mut u8) -> Option<usize>;
}

/// No vector steps: the portable escaping, for every machine.
pub(super) struct Plain;

impl Wide for Plain {
    const VECTOR: bool = false;
    const LAST: usize = 0;

    #[inline(always)]
    unsafe fn step32(_: *const u8, _: bool, _: *mut u8) -> Option<usize> {
        None
    }

    #[inline(always)]
    unsafe fn step16(_: *const u8, _: bool, _: *mut u8) -> Option<usize> {
        None
    }

    #[inline(always)]
    unsafe fn last(_: &[u8], _: bool, _: *mut u8) -> Option<usize> {
        None
    }
}

/// `escape`, what it can of it by the vector steps of `W`. Inlined into
/// each entry point, so that it is compiled with that entry's features.
#[inline(always)]
pub(super) fn steps<W: Wide>(out: &mut Vec<u8>, b: &[u8], latin1: bool) {
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
        if W::VECTOR && at.j == at.i {
            // SAFETY: 32 bytes of `b` from `i` (the loop's condition); ROOM
            // bytes of capacity from `len` (made sure of above); the caller
            // has the features of `W`.
            let w =
                unsafe { W::step32(b.as_ptr().add(at.i), latin1, out.as_mut_ptr().add(at.len)) };
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
    // Straight from `b` too where the vector steps take it (most header
    // names and values): sixteen bytes first if `last` takes fewer than
    // what is left, then the last ones.
    if W::VECTOR && at.j == at.i {
        let dst = out.as_mut_ptr();
        if n - at.i >= W::LAST {
            // SAFETY: sixteen bytes of `b` from `i` (LAST is 16 or more);
            // the writes stay inside the first ROOM of the room reserved
            // above; the caller has the features of `W`.
            let w = unsafe { W::step16(b.as_ptr().add(at.i), latin1, dst.add(at.len)) };
            if let Some(w) = w {
                at = Cursor {
                    i: at.i + 16,
                    j: at.i + 16,
                    len: at.len + w,
                };
            }
        }
        let rest = &b[at.i..];
        if rest.len() < W::LAST {
            // SAFETY: the writes stay inside the room reserved above (the
            // sixteen-byte step wrote at most 32); the caller has the
            // features of `W`.
            if let Some(w) = unsafe { W::last(rest, latin1, dst.add(at.len)) } {
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
    // SAFETY: the bytes up to `len` have been written.
    unsafe { out.set_len(t.len) };
}

/// Sixteen bytes escaped as \u00XX each, and a copy's overhang.
pub(super) const ROOM: usize = 16 * 6 + 16;

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
    // For every copy below: reads are `src[j..j + 16]` with j < i + 16,
    // and `src[p]` with p < i + 16, so inside `src`; writes stay within ROOM
    // bytes from the `len` the step started with: at most six output bytes
    // for each input byte of the step, then sixteen of a copy's overhang
    // (both asserted above). Every bit left in `m` is at or after `j`: a
    // multi-byte escape clears the bits it consumed.
    while m != 0 {
        let p = i + m.trailing_zeros() as usize;
        m &= m - 1;
        // SAFETY: the plain run before `p` (j <= p), as said above.
        unsafe { std::ptr::copy_nonoverlapping(p0.add(j), dst.add(len), 16) };
        len += p - j;
        // SAFETY: p < i + 16, inside `src`.
        let c = unsafe { *p0.add(p) };
        let e = ESC2[c as usize];
        if e != 0 {
            // SAFETY: two bytes of output for one of input, inside ROOM.
            unsafe { std::ptr::copy_nonoverlapping([b'\\', e].as_ptr(), dst.add(len), 2) };
            len += 2;
            j = p + 1;
        } else {
            let (esc, wrote, used) = escape_rare(src, p, latin1);
            // SAFETY: six bytes (`wrote` of them kept) for at least one of
            // input, inside ROOM.
            unsafe { std::ptr::copy_nonoverlapping(esc.as_ptr(), dst.add(len), 6) };
            len += wrote;
            j = p + used;
            m &= (!0u32).checked_shl((j - i) as u32).unwrap_or(0);
        }
    }
    let stop = (i + 16).min(end);
    if j < stop {
        // SAFETY: j < i + 16, so the sixteen bytes read are inside `src`;
        // the write is the overhang ROOM leaves for.
        unsafe { std::ptr::copy_nonoverlapping(p0.add(j), dst.add(len), 16) };
        len += stop - j;
        j = stop;
    }
    *c = Cursor { i: i + 16, j, len };
}

#[cfg(test)]
mod tests;
