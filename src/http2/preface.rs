//! The client connection preface (RFC 9113 §3.4): the 24 bytes an HTTP/2 client sends first,
//! with prior knowledge or right after an `Upgrade: h2c` exchange, before its SETTINGS frame.
//! [`check`] looks at contiguous bytes; [`PrefaceMatcher`] follows them across segments.

#![deny(missing_docs)]

/// The client connection preface.
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// What the bytes seen so far say about the preface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preface {
    /// The whole preface is there: frames start right after it.
    Complete,
    /// Every byte so far matches, but the preface is not complete yet.
    Partial,
    /// Not the preface.
    No,
}

/// Whether `bytes`, the first bytes of a client's direction, begin with the preface.
pub fn check(bytes: &[u8]) -> Preface {
    let n = bytes.len().min(PREFACE.len());
    if bytes[..n] != PREFACE[..n] {
        Preface::No
    } else if n == PREFACE.len() {
        Preface::Complete
    } else {
        Preface::Partial
    }
}

/// Matches the preface across pieces of a direction's first bytes, keeping only a count.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PrefaceMatcher {
    matched: u8,
}

/// What [`PrefaceMatcher::feed`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrefaceStatus {
    /// The preface ended after this many bytes of the input: frames follow.
    Matched(usize),
    /// All bytes offered match so far; offer more.
    Partial,
    /// Not the preface (the bytes held before this input matched but are not kept).
    Mismatch,
}

impl PrefaceMatcher {
    /// A matcher at the direction's first byte.
    pub fn new() -> Self {
        Self::default()
    }

    /// Preface bytes matched so far.
    pub fn matched(&self) -> usize {
        usize::from(self.matched)
    }

    /// Offers the next bytes. After `Matched` or `Mismatch` the matcher stays there (`Matched`
    /// then reports 0 bytes of any later input).
    pub fn feed(&mut self, input: &[u8]) -> PrefaceStatus {
        let done = usize::from(self.matched);
        if done > PREFACE.len() {
            return PrefaceStatus::Mismatch;
        }
        let want = &PREFACE[done..];
        let n = input.len().min(want.len());
        if input[..n] != want[..n] {
            self.matched = u8::MAX;
            return PrefaceStatus::Mismatch;
        }
        self.matched = (done + n) as u8;
        if done + n == PREFACE.len() {
            PrefaceStatus::Matched(n)
        } else {
            PrefaceStatus::Partial
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_cases() {
        let mut with_frame = PREFACE.to_vec();
        with_frame.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]);
        let cases: &[(&[u8], Preface)] = &[
            (b"", Preface::Partial),
            (b"PRI", Preface::Partial),
            (&PREFACE[..23], Preface::Partial),
            (PREFACE, Preface::Complete),
            (&with_frame, Preface::Complete),
            (b"PRI * HTTP/2.0\r\n\r\nSX", Preface::No),
            (b"GET / HTTP/1.1\r\n", Preface::No),
            (b"pri", Preface::No),
        ];
        for &(bytes, want) in cases {
            assert_eq!(check(bytes), want, "{:?}", String::from_utf8_lossy(bytes));
        }
    }

    #[test]
    fn matcher_at_every_split() {
        let mut stream = PREFACE.to_vec();
        stream.extend_from_slice(b"\0\0\0\x04");
        for a in 0..=stream.len() {
            for b in a..=stream.len() {
                let mut m = PrefaceMatcher::new();
                let mut end = None;
                let mut offset = 0;
                for piece in [&stream[..a], &stream[a..b], &stream[b..]] {
                    match m.feed(piece) {
                        PrefaceStatus::Matched(n) if end.is_none() => end = Some(offset + n),
                        PrefaceStatus::Matched(0) | PrefaceStatus::Partial => {}
                        other => panic!("{other:?} at {a}/{b}"),
                    }
                    offset += piece.len();
                }
                assert_eq!(end, Some(PREFACE.len()), "split {a}/{b}");
            }
        }
    }

    #[test]
    fn matcher_mismatch_sticks() {
        let mut m = PrefaceMatcher::new();
        assert_eq!(m.feed(b"PRI * HTTP/1.1"), PrefaceStatus::Mismatch);
        assert_eq!(m.feed(&PREFACE[14..]), PrefaceStatus::Mismatch);
        let mut m = PrefaceMatcher::new();
        assert_eq!(m.feed(b"PRI * "), PrefaceStatus::Partial);
        assert_eq!(m.matched(), 6);
        assert_eq!(m.feed(b"GET"), PrefaceStatus::Mismatch);
    }
}
