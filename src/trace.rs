//! JSON building blocks and the JSON Lines form of a trace.
//!
//! Everything appends to a caller's `Vec<u8>` (reused from trace to trace) and
//! formats numbers and addresses by hand: this runs for every trace.

use std::net::IpAddr;

use crate::view::{Body, Header, View};

/// Append the exchange as one JSON line (the `--out` format).
pub fn write_json(out: &mut Vec<u8>, v: &View) {
    out.extend_from_slice(b"{\"ts\":\"");
    write_rfc3339(out, v.start_us);
    out.extend_from_slice(b"\",\"duration_us\":");
    put_u64(out, v.end_us.saturating_sub(v.start_us));
    out.extend_from_slice(b",\"client\":");
    endpoint(out, v.client);
    out.extend_from_slice(b",\"server\":");
    endpoint(out, v.server);
    let r = &v.req;
    out.extend_from_slice(b",\"request\":{\"method\":");
    json_str(out, r.method.as_bytes());
    out.extend_from_slice(b",\"target\":");
    json_str(out, r.target);
    out.extend_from_slice(b",\"path\":");
    json_str(out, r.path);
    out.extend_from_slice(b",\"query\":");
    json_opt(out, r.query);
    out.extend_from_slice(b",\"version\":\"HTTP/1.");
    put_u64(out, r.version as u64);
    out.extend_from_slice(b"\",\"host\":");
    json_opt(out, r.host);
    out.extend_from_slice(b",\"headers\":");
    json_headers(out, &r.headers);
    json_body(out, &r.body);
    out.extend_from_slice(b"},\"response\":");
    match &v.resp {
        Some(p) => {
            out.extend_from_slice(b"{\"status\":");
            put_u64(out, p.status as u64);
            out.extend_from_slice(b",\"reason\":");
            json_str(out, p.reason.as_bytes());
            out.extend_from_slice(b",\"version\":\"HTTP/1.");
            put_u64(out, p.version as u64);
            out.extend_from_slice(b"\",\"headers\":");
            json_headers(out, &p.headers);
            json_body(out, &p.body);
            out.push(b'}');
        }
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b"}\n");
}

fn endpoint(out: &mut Vec<u8>, (ip, port): (IpAddr, u16)) {
    out.extend_from_slice(b"{\"ip\":\"");
    put_ip(out, ip);
    out.extend_from_slice(b"\",\"port\":");
    put_u64(out, port as u64);
    out.push(b'}');
}

fn json_headers(out: &mut Vec<u8>, hs: &[Header<'_>]) {
    out.push(b'[');
    for (i, (name, value)) in hs.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'[');
        json_str(out, name.as_bytes());
        out.push(b',');
        json_str(out, value);
        out.push(b']');
    }
    out.push(b']');
}

/// The body as a JSON string: text escaped, anything else base64.
pub fn body_str(out: &mut Vec<u8>, b: &Body) {
    out.push(b'"');
    if b.text {
        escape(out, b.bytes, false);
    } else {
        base64(out, b.bytes);
    }
    out.push(b'"');
}

fn json_body(out: &mut Vec<u8>, b: &Body) {
    out.extend_from_slice(b",\"body\":");
    body_str(out, b);
    out.extend_from_slice(if b.text {
        b",\"body_encoding\":\"utf8\",\"body_size\":"
    } else {
        b",\"body_encoding\":\"base64\",\"body_size\":"
    });
    put_u64(out, b.size);
    out.extend_from_slice(if b.truncated {
        b",\"body_truncated\":true"
    } else {
        b",\"body_truncated\":false"
    });
    if b.decode_error {
        out.extend_from_slice(b",\"body_decode_error\":true");
    }
}

fn json_opt(out: &mut Vec<u8>, v: Option<&[u8]>) {
    match v {
        Some(v) => json_str(out, v),
        None => out.extend_from_slice(b"null"),
    }
}

/// One JSON string made of several parts (each escaped on its own).
pub fn json_str_parts(out: &mut Vec<u8>, parts: &[&[u8]]) {
    out.push(b'"');
    for b in parts {
        escape(out, b, !b.is_ascii() && std::str::from_utf8(b).is_err());
    }
    out.push(b'"');
}

/// An address as text in a stack buffer (no allocation).
pub struct IpText {
    buf: [u8; 48],
    len: usize,
}

impl IpText {
    pub fn new(ip: IpAddr) -> IpText {
        use std::io::Write;
        let mut buf = [0u8; 48];
        let mut c = std::io::Cursor::new(&mut buf[..]);
        let _ = write!(c, "{ip}");
        let len = c.position() as usize;
        IpText { buf, len }
    }
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// A JSON string; bytes that are not UTF-8 are taken as Latin-1.
pub fn json_str(out: &mut Vec<u8>, b: &[u8]) {
    out.push(b'"');
    escape(out, b, !b.is_ascii() && std::str::from_utf8(b).is_err());
    out.push(b'"');
}

/// Append `b`. Short runs are copied byte by byte: a `memcpy` call has a
/// fixed cost that dominates for a few bytes (musl's more than glibc's), and
/// JSON building is mostly short, variable-length runs.
#[inline]
pub fn put(out: &mut Vec<u8>, b: &[u8]) {
    if b.len() <= 32 {
        out.reserve(b.len());
        for &c in b {
            out.push(c);
        }
    } else {
        out.extend_from_slice(b);
    }
}

/// Decimal digits of `n`.
pub fn put_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    put(out, &buf[i..]);
}

/// `n` as exactly `width` digits, zero-padded.
fn put_padded(out: &mut Vec<u8>, n: u64, width: usize) {
    let mut buf = [b'0'; 20];
    let mut n = n;
    for d in buf[..width].iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
    put(out, &buf[..width]);
}

pub fn put_ip(out: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        IpAddr::V4(a) => {
            for (i, o) in a.octets().iter().enumerate() {
                if i > 0 {
                    out.push(b'.');
                }
                put_u64(out, *o as u64);
            }
        }
        IpAddr::V6(a) => {
            use std::io::Write;
            let _ = write!(out, "{a}");
        }
    }
}

/// Bytes that `escape` must look at: controls, '"', '\\', DEL, and (for the
/// line separators and Latin-1) everything from 0x80.
static SPECIAL: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = i < 0x20 || i == b'"' as usize || i == b'\\' as usize || i >= 0x7f;
        i += 1;
    }
    t
};

/// True when none of the eight bytes of `w` is special for `escape`.
#[inline]
fn plain8(w: u64) -> bool {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    // A byte is zero in `x` exactly where `w` has the byte `v`.
    let has = |v: u8| {
        let x = w ^ (LO * v as u64);
        x.wrapping_sub(LO) & !x & HI
    };
    // Bytes below 0x20, and bytes from 0x80 (high bit set).
    let below = w.wrapping_sub(LO * 0x20) & !w & HI;
    (below | (w & HI) | has(b'"') | has(b'\\') | has(0x7f)) == 0
}

/// Escape for a JSON string body. `latin1`: write bytes ≥ 0x80 as \u00XX.
///
/// Besides what JSON requires, U+0085, U+2028 and U+2029 are escaped too:
/// they are valid in JSON strings but end lines for many line readers.
fn escape(out: &mut Vec<u8>, b: &[u8], latin1: bool) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.reserve(b.len() + 16);
    let mut start = 0;
    let mut i = 0;
    while i < b.len() {
        // Skip eight plain bytes at a time.
        while i + 8 <= b.len() && plain8(u64::from_le_bytes(b[i..i + 8].try_into().unwrap())) {
            i += 8;
        }
        if i >= b.len() {
            break;
        }
        let c = b[i];
        if !SPECIAL[c as usize] {
            i += 1;
            continue;
        }
        let (esc, len): (&[u8], usize) = match c {
            b'"' => (b"\\\"", 1),
            b'\\' => (b"\\\\", 1),
            b'\n' => (b"\\n", 1),
            b'\r' => (b"\\r", 1),
            b'\t' => (b"\\t", 1),
            0..=0x1f | 0x7f => (b"", 1),
            0x80.. if latin1 => (b"", 1),
            0xc2 if b.get(i + 1) == Some(&0x85) => (b"\\u0085", 2),
            0xe2 if b.get(i + 1) == Some(&0x80) && matches!(b.get(i + 2), Some(0xa8 | 0xa9)) => (
                if b[i + 2] == 0xa8 {
                    b"\\u2028"
                } else {
                    b"\\u2029"
                },
                3,
            ),
            _ => {
                i += 1;
                continue;
            }
        };
        put(out, &b[start..i]);
        if esc.is_empty() {
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(c >> 4) as usize],
                HEX[(c & 15) as usize],
            ]);
        } else {
            put(out, esc);
        }
        i += len;
        start = i;
    }
    put(out, &b[start..]);
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding.
pub fn base64(out: &mut Vec<u8>, b: &[u8]) {
    out.reserve(b.len().div_ceil(3) * 4);
    let mut chunks = b.chunks_exact(3);
    for g in &mut chunks {
        let v = (g[0] as u32) << 16 | (g[1] as u32) << 8 | g[2] as u32;
        out.extend_from_slice(&[
            B64[(v >> 18) as usize & 63],
            B64[(v >> 12) as usize & 63],
            B64[(v >> 6) as usize & 63],
            B64[v as usize & 63],
        ]);
    }
    let r = chunks.remainder();
    if !r.is_empty() {
        let v = (r[0] as u32) << 16 | (*r.get(1).unwrap_or(&0) as u32) << 8;
        out.push(B64[(v >> 18) as usize & 63]);
        out.push(B64[(v >> 12) as usize & 63]);
        out.push(if r.len() == 2 {
            B64[(v >> 6) as usize & 63]
        } else {
            b'='
        });
        out.push(b'=');
    }
}

/// Microseconds since the epoch as `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
pub fn write_rfc3339(out: &mut Vec<u8>, us: u64) {
    let secs = us / 1_000_000;
    let frac = us % 1_000_000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (proleptic Gregorian).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    put_padded(out, y as u64, 4);
    out.push(b'-');
    put_padded(out, m as u64, 2);
    out.push(b'-');
    put_padded(out, d as u64, 2);
    out.push(b'T');
    put_padded(out, rem / 3600, 2);
    out.push(b':');
    put_padded(out, rem / 60 % 60, 2);
    out.push(b':');
    put_padded(out, rem % 60, 2);
    out.push(b'.');
    put_padded(out, frac, 6);
    out.push(b'Z');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut v = Vec::new();
        f(&mut v);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn rfc3339() {
        assert_eq!(s(|o| write_rfc3339(o, 0)), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            s(|o| write_rfc3339(o, 1_709_251_199_123_456)),
            "2024-02-29T23:59:59.123456Z"
        );
    }

    #[test]
    fn base64_known_values() {
        for (raw, enc) in [
            (&b""[..], ""),
            (b"f", "Zg=="),
            (b"fo", "Zm8="),
            (b"foo", "Zm9v"),
            (b"hi!?", "aGkhPw=="),
            (&[0xff, 0xfe, 0x00][..], "//4A"),
        ] {
            assert_eq!(s(|o| base64(o, raw)), enc);
        }
    }

    #[test]
    fn numbers_and_addresses() {
        for n in [0u64, 7, 10, 65535, u64::MAX] {
            assert_eq!(s(|o| put_u64(o, n)), n.to_string());
        }
        assert_eq!(
            s(|o| put_ip(o, "10.0.255.1".parse().unwrap())),
            "10.0.255.1"
        );
        assert_eq!(s(|o| put_ip(o, "fe80::1".parse().unwrap())), "fe80::1");
    }

    #[test]
    fn word_check_agrees_with_table() {
        for c in 0..=255u8 {
            for pos in 0..8 {
                let mut w = *b"abcdefgh";
                w[pos] = c;
                assert_eq!(
                    plain8(u64::from_le_bytes(w)),
                    !SPECIAL[c as usize],
                    "byte {c:#x} at {pos}"
                );
            }
        }
    }

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
