//! Which names, and which bytes, may hold a secret: the words looked for
//! (token, secret, session, password, passwd, api-key and its spellings) in
//! parameter, header and field names, and anywhere in a JSON body before it
//! is redacted. Here are the portable scan, the definition every scan is
//! tested against, and the vector scans where the CPU has AVX2 or AVX-512:
//! the first letters looked for many positions at a time
//! (`arch::x86_64::secret`), the whole word checked only where they appear.

#[cfg(target_arch = "x86_64")]
use crate::arch::x86_64::secret as x86;

/// Could `b` hold a secret name anywhere? (When not, a JSON body needs no
/// redaction.) Runs over every JSON body, so where the CPU has AVX2 it looks
/// for the first three letters of the words 32 positions at a time (64 with
/// AVX-512) and checks the whole word only where they appear.
pub fn mentions_secret(b: &[u8]) -> bool {
    #[cfg(target_arch = "x86_64")]
    if crate::arch::avx512() {
        // SAFETY: the CPU has what `mentions_secret_avx512` is built for.
        return unsafe { mentions_secret_avx512(b) };
    }
    #[cfg(target_arch = "x86_64")]
    if crate::arch::avx2() {
        // SAFETY: the CPU has what `mentions_secret_avx2` is built for.
        return unsafe { mentions_secret_avx2(b) };
    }
    word_check(b)
}

/// `mentions_secret` 64 positions at a time (`x86::starts64`); masked loads
/// read the bytes of `b` and nothing past them, so there is no separate
/// tail.
///
/// # Safety
/// The CPU must have AVX-512 F, BW and VL (`arch::avx512`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl")]
fn mentions_secret_avx512(b: &[u8]) -> bool {
    let n = b.len();
    let mut i = 0;
    // A word needs five bytes from its start.
    while n >= i + 5 {
        // SAFETY: built for what `starts64` needs; i + 2 < n.
        let mut starts = unsafe { x86::starts64(b, i) };
        while starts != 0 {
            if secret_at(b, i + starts.trailing_zeros() as usize) {
                return true;
            }
            starts &= starts - 1;
        }
        i += 64;
    }
    false
}

/// `mentions_secret` 32 positions at a time (`x86::starts32`), the last
/// bytes by the word check.
///
/// # Safety
/// The CPU must have AVX2 (`arch::avx2`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn mentions_secret_avx2(b: &[u8]) -> bool {
    let mut i = 0;
    while b.len() - i >= 34 {
        // SAFETY: built for AVX2, as `starts32` needs.
        let mut m = unsafe { x86::starts32(b[i..i + 34].try_into().unwrap()) };
        while m != 0 {
            if secret_at(b, i + m.trailing_zeros() as usize) {
                return true;
            }
            m &= m - 1;
        }
        i += 32;
    }
    word_check(&b[i..])
}

/// Does a secret word start at `name[i]`?
#[inline]
fn secret_at(name: &[u8], i: usize) -> bool {
    let at = |w: &str| {
        name.len() - i >= w.len() && name[i..i + w.len()].eq_ignore_ascii_case(w.as_bytes())
    };
    match name[i] | 0x20 {
        b't' => at("token"),
        b's' => at("secret") || at("session"),
        b'p' => at("password") || at("passwd"),
        b'a' => at("api-key") || at("apikey") || at("api_key"),
        _ => false,
    }
}

/// Can a secret word start with this byte?
static WORD_START: [bool; 256] = {
    let mut t = [false; 256];
    let mut k = 0;
    while k < 4 {
        let c = b"tspa"[k];
        t[c as usize] = true;
        t[(c - 32) as usize] = true;
        k += 1;
    }
    t
};

/// Does a parameter or field name look like it holds a secret?
///
/// Runs for every header of every trace: with AVX-512, names up to 64
/// bytes in one step of the body scan; else one pass, looking at the words
/// only where their first letter appears.
pub fn secret_name(name: &[u8]) -> bool {
    #[cfg(target_arch = "x86_64")]
    if name.len() <= 64 && crate::arch::avx512() {
        // SAFETY: the CPU has what `mentions_secret_avx512` is built for.
        return unsafe { mentions_secret_avx512(name) };
    }
    word_check(name)
}

/// The definition the vector scans are checked against: the words looked
/// for where their first letter appears.
fn word_check(name: &[u8]) -> bool {
    // The words have five letters or more.
    let starts = name.len().saturating_sub(4);
    (0..starts).any(|i| WORD_START[name[i] as usize] && secret_at(name, i))
}

#[cfg(test)]
mod tests {
    use super::*;

    type Scan = fn(&[u8]) -> bool;

    /// Every way a secret word is looked for on this machine.
    fn scanners() -> Vec<(&'static str, Scan)> {
        // Pushed to on x86_64 only.
        #[cfg_attr(not(target_arch = "x86_64"), allow(unused_mut))]
        let mut v: Vec<(&'static str, Scan)> = vec![
            ("word_check", word_check),
            ("mentions_secret", mentions_secret),
            ("secret_name", secret_name),
        ];
        #[cfg(target_arch = "x86_64")]
        if crate::arch::avx2() {
            // SAFETY: the CPU has what it needs.
            v.push(("avx2", |b| unsafe { mentions_secret_avx2(b) }));
        }
        #[cfg(target_arch = "x86_64")]
        if crate::arch::avx512() {
            // SAFETY: the CPU has what it needs.
            v.push(("avx512", |b| unsafe { mentions_secret_avx512(b) }));
        }
        v
    }

    #[test]
    fn body_scan_finds_every_word_at_every_offset() {
        let words = [
            "token", "SECRET", "Session", "password", "passwd", "api-key", "apikey", "api_key",
        ];
        let near = [
            "toke", "secre", "sessio", "passw0rd", "api key", "apkey", "tok",
        ];
        for len in [
            0usize, 5, 17, 18, 19, 33, 34, 35, 60, 61, 62, 63, 64, 65, 70, 128, 131,
        ] {
            for at in 0..=len {
                let filler: Vec<u8> = (0..len).map(|k| b"xq_ -{\"}:1"[k % 10]).collect();
                for w in words.iter().chain(&near) {
                    let mut b = filler[..at].to_vec();
                    b.extend_from_slice(w.as_bytes());
                    b.extend_from_slice(&filler[at..]);
                    for (name, scan) in scanners() {
                        assert_eq!(scan(&b), words.contains(w), "{name}: {w} at {at} of {len}");
                    }
                }
            }
        }
    }

    #[test]
    fn body_scan_classes_every_byte_as_the_word_check_does() {
        // Each letter of each word replaced by its neighbours in the
        // classing tables (other case, same low or high four bits, from
        // 0x80): found exactly when the word check finds it.
        let words = [
            "token", "secret", "session", "password", "passwd", "api-key", "apikey", "api_key",
        ];
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for w in words {
            for k in 0..w.len() {
                for flip in [0u8, 0x20, 0x80, 0x40, 0x10, 0x01, 0x08, 0x30] {
                    let mut word = w.as_bytes().to_vec();
                    word[k] ^= flip;
                    for at in [
                        0usize, 1, 2, 15, 16, 29, 30, 31, 32, 33, 34, 61, 62, 63, 64, 65, 127,
                    ] {
                        let mut b: Vec<u8> = (0..at + 24)
                            .map(|_| {
                                seed ^= seed << 13;
                                seed ^= seed >> 7;
                                seed ^= seed << 17;
                                b"xq_ -{\"}:1zZ\x90"[(seed >> 20) as usize % 13]
                            })
                            .collect();
                        b.splice(at..at, word.iter().copied());
                        let want = flip == 0 || flip == 0x20 && word[k].is_ascii_alphabetic();
                        assert_eq!(word_check(&b), want, "{w} with {k} ^ {flip:#x} at {at}");
                        for (name, scan) in scanners() {
                            assert_eq!(scan(&b), want, "{name}: {w} with {k} ^ {flip:#x} at {at}");
                        }
                    }
                }
            }
        }
    }
}
