//! The escaping checked against its plain definition (one byte at a time),
//! by every way it runs on this machine: the portable steps, and the AVX2
//! and AVX-512 entry points and short-string paths where the CPU has them.

use super::*;
#[cfg(target_arch = "x86_64")]
use crate::json::x86_64::{escape_avx2, escape_avx512, escape_short};
use crate::json::{json_str, str_pairs};

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
                let want = SPECIAL[c as usize] && (latin1 || c < 0x80 || c == 0xc2 || c == 0xe2);
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
            _ if rest.starts_with(&[0xe2, 0x80, 0xa8]) || rest.starts_with(&[0xe2, 0x80, 0xa9]) => {
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
    let mut v: Vec<(&'static str, Escaper)> = vec![("steps", steps::<Plain>)];
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
