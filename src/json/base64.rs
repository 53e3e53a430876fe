//! Standard base64 (with padding): how outputs show bodies that are not
//! text.

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

#[cfg(test)]
mod tests {
    use super::*;

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
            let mut o = Vec::new();
            base64(&mut o, raw);
            assert_eq!(String::from_utf8(o).unwrap(), enc);
        }
    }
}
