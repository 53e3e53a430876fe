//! JSON writing, shared by every output (JSON Lines, HAR, OTLP), the log
//! and the ECS code: strings (escaped with SIMD where the CPU has it),
//! numbers, addresses, timestamps and base64.
//!
//! Everything appends to a caller's `Vec<u8>` (reused from trace to trace) and
//! formats numbers and addresses by hand: this runs for every trace.

pub mod base64;
pub mod escape;
pub mod num;
pub mod time;

pub use base64::base64;
pub use num::{IpText, put_ip, put_u64};
pub use time::write_rfc3339;

#[cfg(target_arch = "x86_64")]
mod x86_64;
#[cfg(target_arch = "x86_64")]
use x86_64 as x86;

/// A JSON string; bytes that are not UTF-8 are taken as Latin-1.
pub fn json_str(out: &mut Vec<u8>, b: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: the CPU has what `json_short_avx512` is built for.
    if b.len() <= 32 && crate::arch::avx512() && unsafe { x86::json_short_avx512(out, b) } {
        return;
    }
    out.push(b'"');
    #[cfg(target_arch = "x86_64")]
    // SAFETY: the CPU has what `escape_short` is built for.
    if b.len() <= 32 && crate::arch::avx2() && unsafe { x86::escape_short(out, b, None) } {
        out.push(b'"');
        return;
    }
    json_str_rest(out, b);
}

/// `json_str` after its opening quote and short-string attempts (which fail
/// for this string again once one has).
fn json_str_rest(out: &mut Vec<u8>, b: &[u8]) {
    escape(out, b, !b.is_ascii() && std::str::from_utf8(b).is_err());
    out.push(b'"');
}

/// One JSON string made of several parts (each escaped on its own).
pub fn json_str_parts(out: &mut Vec<u8>, parts: &[&[u8]]) {
    out.push(b'"');
    for b in parts {
        escape(out, b, !b.is_ascii() && std::str::from_utf8(b).is_err());
    }
    out.push(b'"');
}

/// A list of pairs of strings as an array of two-string arrays
/// (`[["a","b"],...]`: header lists).
pub fn str_pairs(out: &mut Vec<u8>, pairs: &[(&str, &[u8])]) {
    #[cfg(target_arch = "x86_64")]
    if crate::arch::avx512() {
        // SAFETY: the CPU has what `str_pairs_avx512` is built for.
        return unsafe { x86::str_pairs_avx512(out, pairs) };
    }
    str_pairs_with(out, pairs, json_str)
}

/// `str_pairs` with the given string writer, inlined into each caller (the
/// AVX-512 one compiles it with its own string writer and features).
#[inline(always)]
fn str_pairs_with(
    out: &mut Vec<u8>,
    pairs: &[(&str, &[u8])],
    string: impl Fn(&mut Vec<u8>, &[u8]),
) {
    out.push(b'[');
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'[');
        string(out, name.as_bytes());
        out.push(b',');
        string(out, value);
        out.push(b']');
    }
    out.push(b']');
}

/// The body of a JSON string (no quotes) from bytes whose encoding the
/// caller knows. `latin1`: write bytes ≥ 0x80 as \u00XX (else they are
/// UTF-8).
///
/// Besides what JSON requires, U+0085, U+2028 and U+2029 are escaped too:
/// they are valid in JSON strings but end lines for many line readers.
///
/// JSON bodies have a quote every few bytes, so the cost must not grow with
/// the number of specials: see `escape` (the module) for how.
pub fn escape(out: &mut Vec<u8>, b: &[u8], latin1: bool) {
    #[cfg(target_arch = "x86_64")]
    if crate::arch::avx512() {
        // SAFETY: the CPU has the features `escape_avx512` is built for.
        return unsafe { x86::escape_avx512(out, b, latin1) };
    }
    #[cfg(target_arch = "x86_64")]
    if crate::arch::avx2() {
        // SAFETY: the CPU has the features `escape_avx2` is built for.
        return unsafe { x86::escape_avx2(out, b, latin1) };
    }
    escape::steps::<escape::Plain>(out, b, latin1)
}

/// What a test's writes made, as text.
#[cfg(test)]
fn s(f: impl FnOnce(&mut Vec<u8>)) -> String {
    let mut v = Vec::new();
    f(&mut v);
    String::from_utf8(v).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        let v = s(|o| json_str(o, b"a\"b\\c\n\x01"));
        assert_eq!(v, r#""a\"b\\c\n\u0001""#);
        let v = s(|o| json_str(o, "a\u{2028}b\u{85}".as_bytes()));
        assert_eq!(v, r#""a\u2028b\u0085""#);
        let v = s(|o| json_str(o, b"caf\xe9"));
        assert_eq!(v, r#""caf\u00e9""#);
        let parsed: String = serde_json::from_str(&v).unwrap();
        assert_eq!(parsed, "café");
    }
}
