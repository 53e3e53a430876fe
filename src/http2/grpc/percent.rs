//! `grpc-message` values: UTF-8, percent-encoded (PROTOCOL-HTTP2.md, "Status-Message"),
//! decoded into a caller's buffer ([`percent_decode`]).
//!
//! As the protocol asks of decoders, nothing is an error: a `%` not followed by two hex digits
//! is kept as it is, and bytes outside the unencoded range are copied. A message longer than
//! the buffer is cut, never in the middle of a UTF-8 sequence, and says so.

/// What [`percent_decode`] wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decoded {
    /// Bytes written at the start of the buffer.
    pub len: usize,
    /// The whole message fitted; false when it was cut.
    pub complete: bool,
}

/// Decodes `input` into `out`: `%XX` (hex, either case) becomes that byte.
pub fn percent_decode(input: &[u8], out: &mut [u8]) -> Decoded {
    let mut at = 0;
    let mut len = 0;
    while at < input.len() {
        let (byte, used) = match input[at] {
            b'%' => match (hex(input.get(at + 1)), hex(input.get(at + 2))) {
                (Some(hi), Some(lo)) => (hi << 4 | lo, 3),
                _ => (b'%', 1),
            },
            other => (other, 1),
        };
        let Some(slot) = out.get_mut(len) else {
            return Decoded {
                len: utf8_cut(&out[..len]),
                complete: false,
            };
        };
        *slot = byte;
        len += 1;
        at += used;
    }
    Decoded {
        len,
        complete: true,
    }
}

fn hex(b: Option<&u8>) -> Option<u8> {
    let c = *b?;
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// The length of `bytes` without a trailing UTF-8 sequence that the cut left incomplete.
fn utf8_cut(bytes: &[u8]) -> usize {
    // Walk back over at most 3 continuation bytes to the sequence's lead byte.
    let tail = bytes
        .iter()
        .rev()
        .take(4)
        .take_while(|&&b| b & 0xc0 == 0x80);
    let continuations = tail.count();
    let Some(lead_at) = bytes.len().checked_sub(continuations + 1) else {
        return bytes.len();
    };
    let needed = match bytes[lead_at] {
        b if b & 0xe0 == 0xc0 => 2,
        b if b & 0xf0 == 0xe0 => 3,
        b if b & 0xf8 == 0xf0 => 4,
        _ => return bytes.len(),
    };
    if continuations + 1 < needed {
        lead_at
    } else {
        bytes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(input: &str, room: usize) -> (String, bool) {
        let mut out = vec![0u8; room];
        let d = percent_decode(input.as_bytes(), &mut out);
        (
            String::from_utf8(out[..d.len].to_vec()).unwrap(),
            d.complete,
        )
    }

    #[test]
    fn table() {
        let cases: &[(&str, usize, &str, bool)] = &[
            ("", 8, "", true),
            ("plain text", 64, "plain text", true),
            ("a%20b", 64, "a b", true),
            ("100%25", 64, "100%", true),
            ("%e2%82%ac and %E2%82%AC", 64, "€ and €", true),
            // Broken encodings are kept as they are.
            ("50%", 64, "50%", true),
            ("50%z1", 64, "50%z1", true),
            ("%4", 64, "%4", true),
            ("%%41", 64, "%A", true),
            // Cut to the buffer.
            ("abcdef", 4, "abcd", false),
            ("ab%20cd", 3, "ab ", false),
            ("abc", 3, "abc", true),
            ("abc", 0, "", false),
            // Never in the middle of a UTF-8 sequence.
            ("a%E2%82%AC", 3, "a", false),
            ("a%E2%82%AC", 4, "a€", true),
            ("a%E2%82%ACb", 4, "a€", false),
            ("%C3%A9%C3%A9", 3, "é", false),
            ("%F0%9F%98%80x", 3, "", false),
        ];
        for &(input, room, want, complete) in cases {
            assert_eq!(
                decode(input, room),
                (want.to_string(), complete),
                "{input:?} in {room}"
            );
        }
    }

    #[test]
    fn invalid_utf8_is_copied_not_judged() {
        // Bytes that are not UTF-8 pass through (the caller escapes them for JSON).
        let mut out = [0u8; 8];
        let d = percent_decode(b"%FF%C3x", &mut out);
        assert_eq!((&out[..d.len], d.complete), (&b"\xff\xc3x"[..], true));
        // A cut after a lone continuation byte keeps it (no lead byte to drop).
        let d = percent_decode(b"%80%80%80%80%80", &mut out[..3]);
        assert_eq!((d.len, d.complete), (3, false));
    }
}
