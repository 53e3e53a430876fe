//! JSON building blocks and the JSON Lines form of a trace.
//!
//! Everything writes straight to the output; nothing allocates.

use std::io::{self, Write};

use crate::view::{Body, Header, View};

/// Write the exchange as one JSON line (the `--out` format).
pub fn write_json(out: &mut dyn Write, v: &View) -> io::Result<()> {
    out.write_all(b"{\"ts\":\"")?;
    write_rfc3339(out, v.start_us)?;
    write!(
        out,
        "\",\"duration_us\":{},\"client\":{{\"ip\":\"{}\",\"port\":{}}},\"server\":{{\"ip\":\"{}\",\"port\":{}}}",
        v.end_us.saturating_sub(v.start_us),
        v.client.0,
        v.client.1,
        v.server.0,
        v.server.1
    )?;
    let r = &v.req;
    out.write_all(b",\"request\":{\"method\":")?;
    json_str(out, r.method.as_bytes())?;
    out.write_all(b",\"target\":")?;
    json_str(out, r.target)?;
    out.write_all(b",\"path\":")?;
    json_str(out, r.path)?;
    out.write_all(b",\"query\":")?;
    json_opt(out, r.query)?;
    write!(out, ",\"version\":\"HTTP/1.{}\"", r.version)?;
    out.write_all(b",\"host\":")?;
    json_opt(out, r.host)?;
    out.write_all(b",\"headers\":")?;
    json_headers(out, &r.headers)?;
    json_body(out, &r.body)?;
    out.write_all(b"},\"response\":")?;
    match &v.resp {
        Some(p) => {
            write!(out, "{{\"status\":{},\"reason\":", p.status)?;
            json_str(out, p.reason.as_bytes())?;
            write!(out, ",\"version\":\"HTTP/1.{}\",\"headers\":", p.version)?;
            json_headers(out, &p.headers)?;
            json_body(out, &p.body)?;
            out.write_all(b"}")?;
        }
        None => out.write_all(b"null")?,
    }
    out.write_all(b"}\n")
}

fn json_headers(out: &mut dyn Write, hs: &[Header<'_>]) -> io::Result<()> {
    out.write_all(b"[")?;
    for (i, (name, value)) in hs.iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        out.write_all(b"[")?;
        json_str(out, name.as_bytes())?;
        out.write_all(b",")?;
        json_str(out, value)?;
        out.write_all(b"]")?;
    }
    out.write_all(b"]")
}

/// The body as a JSON string: text escaped, anything else base64.
pub fn body_str(out: &mut dyn Write, b: &Body) -> io::Result<()> {
    out.write_all(b"\"")?;
    if b.text {
        escape(out, b.bytes, false)?;
    } else {
        let mut b64 = Base64::default();
        b64.write(out, b.bytes)?;
        b64.finish(out)?;
    }
    out.write_all(b"\"")
}

fn json_body(out: &mut dyn Write, b: &Body) -> io::Result<()> {
    out.write_all(b",\"body\":")?;
    body_str(out, b)?;
    write!(
        out,
        ",\"body_encoding\":\"{}\",\"body_size\":{},\"body_truncated\":{}",
        if b.text { "utf8" } else { "base64" },
        b.size,
        b.truncated
    )?;
    if b.decode_error {
        out.write_all(b",\"body_decode_error\":true")?;
    }
    Ok(())
}

fn json_opt(out: &mut dyn Write, v: Option<&[u8]>) -> io::Result<()> {
    match v {
        Some(v) => json_str(out, v),
        None => out.write_all(b"null"),
    }
}

/// A JSON string; bytes that are not UTF-8 are taken as Latin-1.
pub fn json_str(out: &mut dyn Write, b: &[u8]) -> io::Result<()> {
    out.write_all(b"\"")?;
    escape(out, b, !b.is_ascii() && std::str::from_utf8(b).is_err())?;
    out.write_all(b"\"")
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

/// Escape for a JSON string body. `latin1`: write bytes ≥ 0x80 as \u00XX.
///
/// Besides what JSON requires, U+0085, U+2028 and U+2029 are escaped too:
/// they are valid in JSON strings but end lines for many line readers.
fn escape(out: &mut dyn Write, b: &[u8], latin1: bool) -> io::Result<()> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut start = 0;
    let mut i = 0;
    while i < b.len() {
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
        out.write_all(&b[start..i])?;
        if esc.is_empty() {
            out.write_all(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(c >> 4) as usize],
                HEX[(c & 15) as usize],
            ])?;
        } else {
            out.write_all(esc)?;
        }
        i += len;
        start = i;
    }
    out.write_all(&b[start..])
}

fn utf8_len(first: u8) -> usize {
    match first {
        0x00..=0x7f => 1,
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => 0,
    }
}

/// Is the concatenation of `parts` valid UTF-8?
pub fn utf8_ok<'a>(parts: impl Iterator<Item = &'a [u8]>) -> bool {
    let mut carry = [0u8; 4];
    let mut nc = 0;
    for mut p in parts {
        if nc > 0 {
            let need = utf8_len(carry[0]);
            let take = (need - nc).min(p.len());
            carry[nc..nc + take].copy_from_slice(&p[..take]);
            nc += take;
            p = &p[take..];
            if nc < need {
                continue;
            }
            if std::str::from_utf8(&carry[..need]).is_err() {
                return false;
            }
            nc = 0;
        }
        if let Err(e) = std::str::from_utf8(p) {
            if e.error_len().is_some() {
                return false;
            }
            let rest = &p[e.valid_up_to()..];
            if utf8_len(rest[0]) == 0 {
                return false;
            }
            carry[..rest.len()].copy_from_slice(rest);
            nc = rest.len();
        }
    }
    nc == 0
}

/// Streaming base64 (standard alphabet, padded).
#[derive(Default)]
pub struct Base64 {
    carry: [u8; 3],
    n: usize,
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn b64_quad(g: [u8; 3], n: usize) -> [u8; 4] {
    let v = (g[0] as u32) << 16 | (g[1] as u32) << 8 | g[2] as u32;
    let mut q = [
        B64[(v >> 18) as usize & 63],
        B64[(v >> 12) as usize & 63],
        B64[(v >> 6) as usize & 63],
        B64[v as usize & 63],
    ];
    if n < 3 {
        q[3] = b'=';
    }
    if n < 2 {
        q[2] = b'=';
    }
    q
}

impl Base64 {
    pub fn write(&mut self, out: &mut dyn Write, mut b: &[u8]) -> io::Result<()> {
        while self.n > 0 && self.n < 3 && !b.is_empty() {
            self.carry[self.n] = b[0];
            self.n += 1;
            b = &b[1..];
        }
        if self.n == 3 {
            out.write_all(&b64_quad(self.carry, 3))?;
            self.n = 0;
        }
        if self.n > 0 {
            return Ok(()); // `b` ran out before a group was complete
        }
        let mut buf = [0u8; 256];
        let mut chunks = b.chunks_exact(3);
        let mut k = 0;
        for g in &mut chunks {
            buf[k..k + 4].copy_from_slice(&b64_quad([g[0], g[1], g[2]], 3));
            k += 4;
            if k == buf.len() {
                out.write_all(&buf)?;
                k = 0;
            }
        }
        out.write_all(&buf[..k])?;
        let r = chunks.remainder();
        self.carry[..r.len()].copy_from_slice(r);
        self.n = r.len();
        Ok(())
    }

    pub fn finish(&mut self, out: &mut dyn Write) -> io::Result<()> {
        if self.n > 0 {
            let mut g = [0u8; 3];
            g[..self.n].copy_from_slice(&self.carry[..self.n]);
            out.write_all(&b64_quad(g, self.n))?;
            self.n = 0;
        }
        Ok(())
    }
}

/// Microseconds since the epoch as `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
pub fn write_rfc3339(out: &mut dyn Write, us: u64) -> io::Result<()> {
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
    write!(
        out,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        y,
        m,
        d,
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        frac
    )
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
        assert_eq!(
            s(|o| write_rfc3339(o, 0).unwrap()),
            "1970-01-01T00:00:00.000000Z"
        );
        assert_eq!(
            s(|o| write_rfc3339(o, 1_709_251_199_123_456).unwrap()),
            "2024-02-29T23:59:59.123456Z"
        );
    }

    #[test]
    fn base64_streaming_matches_whole() {
        let data: Vec<u8> = (0..200u32).map(|i| (i * 7) as u8).collect();
        let whole = s(|o| {
            let mut b = Base64::default();
            b.write(o, &data).unwrap();
            b.finish(o).unwrap();
        });
        for split in [1, 2, 3, 5, 100, 199] {
            let parts = s(|o| {
                let mut b = Base64::default();
                b.write(o, &data[..split]).unwrap();
                b.write(o, &data[split..]).unwrap();
                b.finish(o).unwrap();
            });
            assert_eq!(parts, whole, "split {split}");
        }
        assert_eq!(
            s(|o| {
                let mut b = Base64::default();
                b.write(o, b"hi!?").unwrap();
                b.finish(o).unwrap();
            }),
            "aGkhPw=="
        );
    }

    #[test]
    fn utf8_across_parts() {
        let t = "héllo €".as_bytes();
        for k in 0..t.len() {
            assert!(utf8_ok([&t[..k], &t[k..]].into_iter()), "split {k}");
        }
        assert!(!utf8_ok([&b"ab\xff"[..]].into_iter()));
        assert!(!utf8_ok([&t[..2]].into_iter())); // cut inside a character
    }

    #[test]
    fn escaping() {
        let v = s(|o| json_str(o, b"a\"b\\c\n\x01").unwrap());
        assert_eq!(v, r#""a\"b\\c\n\u0001""#);
        let v = s(|o| json_str(o, "a\u{2028}b\u{85}".as_bytes()).unwrap());
        assert_eq!(v, r#""a\u2028b\u0085""#);
        let v = s(|o| json_str(o, b"caf\xe9").unwrap());
        assert_eq!(v, r#""caf\u00e9""#);
        let parsed: String = serde_json::from_str(&v).unwrap();
        assert_eq!(parsed, "café");
    }
}
