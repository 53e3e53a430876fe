//! Message bodies as a push decoder, in the style of httparse: the caller
//! feeds the bytes it has, and the decoder says how many it used, which of
//! them are body, and whether the body ended or its framing broke. It keeps
//! only its place (a few bytes of state), copies nothing, and looks at body
//! bytes once (chunk data not at all: it only counts them).
//!
//! Three framings (RFC 9112 section 6): a known length, chunked, and until
//! the connection closes; [`follows`] says which one a head calls for.

use std::ops::Range;

use super::head::Framing;
use crate::exchange::Method;

/// Where a body is, and how it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyDecoder {
    /// This many bytes are left (never 0 while decoding).
    Length(u64),
    Chunked(Chunk),
    /// Everything until the connection closes (a response only).
    UntilClose,
}

/// Where a chunked body is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chunk {
    /// Reading the hex size; `digits` so far.
    Size { val: u64, digits: u8 },
    /// Chunk extension or whitespace after the size, up to LF.
    SizeRest { val: u64 },
    /// This many data bytes are left (never 0).
    Data(u64),
    /// CR LF after chunk data.
    DataEnd,
    /// At the start of a trailer line.
    TrailerStart,
    /// Inside a trailer line.
    TrailerLine,
    /// Saw CR of the final empty line.
    TrailerEnd,
}

/// What a [`BodyDecoder::feed`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// Bytes used (the rest is for the next call, or after the body).
    pub used: usize,
    /// Which of the bytes used are body (possibly none).
    pub body: Range<usize>,
    pub end: End,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The body goes on.
    More,
    /// The body ended with the last byte used.
    Done,
    /// The chunk framing broke at the last byte used.
    Error,
}

impl BodyDecoder {
    /// A chunked body, before its first chunk size.
    pub const CHUNKED: BodyDecoder = BodyDecoder::Chunked(Chunk::Size { val: 0, digits: 0 });

    /// Decode from the start of `b`. A call returns after at most one run
    /// of body bytes: call again with the bytes after `used` while there
    /// are some and the body goes on. After `Done` or `Error` the decoder
    /// is spent.
    #[inline]
    pub fn feed(&mut self, b: &[u8]) -> Status {
        match self {
            BodyDecoder::Length(left) => {
                let n = (*left).min(b.len() as u64) as usize;
                *left -= n as u64;
                let end = if *left == 0 { End::Done } else { End::More };
                Status {
                    used: n,
                    body: 0..n,
                    end,
                }
            }
            BodyDecoder::UntilClose => Status {
                used: b.len(),
                body: 0..b.len(),
                end: End::More,
            },
            BodyDecoder::Chunked(c) => c.feed(b),
        }
    }

    /// `n` bytes were lost. `Some(done)` when they were all body (`done`:
    /// the body ended with them), `None` when the decoder cannot tell where
    /// it is any more.
    pub fn skip(&mut self, n: u64) -> Option<bool> {
        match self {
            BodyDecoder::Length(left) if n <= *left => {
                *left -= n;
                Some(*left == 0)
            }
            BodyDecoder::Chunked(Chunk::Data(left)) if n <= *left => {
                let c = if *left == n {
                    Chunk::DataEnd
                } else {
                    Chunk::Data(*left - n)
                };
                *self = BodyDecoder::Chunked(c);
                Some(false)
            }
            BodyDecoder::UntilClose => Some(false),
            _ => None,
        }
    }
}

impl Chunk {
    fn feed(&mut self, b: &[u8]) -> Status {
        let mut c = *self;
        let mut i = 0;
        let end = loop {
            let Some(&ch) = b.get(i) else {
                break End::More;
            };
            c = match c {
                Chunk::Data(left) => {
                    let n = (left.min((b.len() - i) as u64)) as usize;
                    *self = if left == n as u64 {
                        Chunk::DataEnd
                    } else {
                        Chunk::Data(left - n as u64)
                    };
                    return Status {
                        used: i + n,
                        body: i..i + n,
                        end: End::More,
                    };
                }
                Chunk::Size { val, digits } => {
                    i += 1;
                    if let Some(d) = (ch as char).to_digit(16) {
                        if digits >= 15 {
                            break End::Error;
                        }
                        Chunk::Size {
                            val: val * 16 + d as u64,
                            digits: digits + 1,
                        }
                    } else if digits == 0 && (ch == b'\r' || ch == b'\n') {
                        // Tolerate a stray empty line before the size.
                        Chunk::Size { val, digits }
                    } else if digits == 0 {
                        break End::Error;
                    } else if ch == b'\n' {
                        Chunk::size_done(val)
                    } else {
                        Chunk::SizeRest { val }
                    }
                }
                Chunk::SizeRest { val } => {
                    i += 1;
                    if ch == b'\n' {
                        Chunk::size_done(val)
                    } else {
                        Chunk::SizeRest { val }
                    }
                }
                Chunk::DataEnd => {
                    if ch == b'\r' || ch == b'\n' {
                        i += 1;
                        if ch == b'\n' {
                            Chunk::Size { val: 0, digits: 0 }
                        } else {
                            Chunk::DataEnd
                        }
                    } else {
                        // Missing CRLF after the data: read the next size.
                        Chunk::Size { val: 0, digits: 0 }
                    }
                }
                Chunk::TrailerStart => {
                    i += 1;
                    match ch {
                        b'\r' => Chunk::TrailerEnd,
                        b'\n' => break End::Done,
                        _ => Chunk::TrailerLine,
                    }
                }
                Chunk::TrailerLine => {
                    i += 1;
                    if ch == b'\n' {
                        Chunk::TrailerStart
                    } else {
                        Chunk::TrailerLine
                    }
                }
                Chunk::TrailerEnd => {
                    i += 1;
                    if ch == b'\n' {
                        break End::Done;
                    }
                    Chunk::TrailerLine
                }
            };
        };
        *self = c;
        Status {
            used: i,
            body: i..i,
            end,
        }
    }

    fn size_done(val: u64) -> Chunk {
        if val == 0 {
            Chunk::TrailerStart
        } else {
            Chunk::Data(val)
        }
    }
}

/// What follows a message head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Follows {
    /// No body: the message ends with its head.
    Nothing,
    /// No body, and the connection stops being HTTP (101, or 2xx to CONNECT).
    Tunnel,
    Body(BodyDecoder),
}

/// What follows a head with framing `f`: of a request (`resp` None), or of
/// a response with `resp`'s status to a request with `resp`'s method.
pub fn follows(f: &Framing, resp: Option<(u16, Method)>) -> Follows {
    if let Some((status, method)) = resp {
        if status == 101 || (method == Method::Connect && (200..300).contains(&status)) {
            return Follows::Tunnel;
        }
        if method == Method::Head || (100..200).contains(&status) || status == 204 || status == 304
        {
            return Follows::Nothing;
        }
    }
    if f.chunked {
        Follows::Body(BodyDecoder::CHUNKED)
    } else if let Some(n) = f.content_length {
        if n > 0 {
            Follows::Body(BodyDecoder::Length(n))
        } else {
            Follows::Nothing
        }
    } else if resp.is_some() {
        Follows::Body(BodyDecoder::UntilClose)
    } else {
        Follows::Nothing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feed `input` to `dec` as it arrives `step` bytes at a time (each call
    /// gets everything arrived and not used yet, as the connection does).
    /// Returns the body bytes, how it ended and the bytes used.
    fn run(mut dec: BodyDecoder, input: &[u8], step: usize) -> (Vec<u8>, End, usize) {
        let (mut body, mut pos, mut arrived) = (Vec::new(), 0, 0);
        while arrived < input.len() {
            arrived = (arrived + step).min(input.len());
            while pos < arrived {
                let b = &input[pos..arrived];
                let st = dec.feed(b);
                assert!(st.used > 0 && st.used <= b.len(), "{st:?}");
                assert!(st.body.end <= st.used, "{st:?}");
                body.extend_from_slice(&b[st.body]);
                pos += st.used;
                if st.end != End::More {
                    return (body, st.end, pos);
                }
            }
        }
        (body, End::More, pos)
    }

    #[test]
    fn chunked() {
        use End::*;
        // (input, body, end, bytes used)
        let cases: &[(&[u8], &[u8], End, usize)] = &[
            (b"5\r\nhello\r\n0\r\n\r\n", b"hello", Done, 15),
            (b"5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1", b"hello", Done, 15),
            (
                b"A\r\n0123456789\r\n1\r\n!\r\n0\r\n\r\n",
                b"0123456789!",
                Done,
                26,
            ),
            (b"a\r\n0123456789\r\n0\r\n\r\n", b"0123456789", Done, 20),
            (b"0\r\n\r\n", b"", Done, 5),
            // Extensions and whitespace after the size.
            (
                b"5;ext=\"x\"\r\nhello\r\n0;last\r\n\r\n",
                b"hello",
                Done,
                28,
            ),
            (b"5 \r\nhello\r\n0\r\n\r\n", b"hello", Done, 16),
            (b"5xyz\nhello\r\n0\r\n\r\n", b"hello", Done, 17),
            // Trailers.
            (
                b"5\r\nhello\r\n0\r\nX-T: 1\r\nY: 2\r\n\r\n",
                b"hello",
                Done,
                29,
            ),
            (b"0\r\n\rX\n\r\n", b"", Done, 8),
            // Bare LF, a stray empty line before a size, no CRLF after data.
            (b"5\nhello\n0\n\n", b"hello", Done, 11),
            (b"\r\n\n5\r\nhello\r\n0\r\n\r\n", b"hello", Done, 18),
            (b"5\r\nhello3\r\nabc\r\n0\r\n\r\n", b"helloabc", Done, 21),
            (b"5\r\nhello\r\r\n0\r\n\r\n", b"hello", Done, 16),
            // Sizes: 15 digits are read, a 16th is an error.
            (b"000000000000003\r\nabc\r\n0\r\n\r\n", b"abc", Done, 27),
            (b"1234567890abcdef\r\n", b"", Error, 16),
            // Errors: no size where one must be.
            (b"xyz", b"", Error, 1),
            (b"5\r\nhello\r\nzz", b"hello", Error, 11),
            (b"5\r\nhello\r\n;ext\r\n", b"hello", Error, 11),
            // Not over yet.
            (b"5\r\nhel", b"hel", More, 6),
            (b"5\r\nhello\r\n0\r\nX-T: 1\r\n", b"hello", More, 21),
            (b"5\r\nhello\r\n0\r\n\r", b"hello", More, 14),
        ];
        for &(input, body, end, used) in cases {
            for step in 1..=input.len() {
                let got = run(BodyDecoder::CHUNKED, input, step);
                let show = String::from_utf8_lossy(input);
                assert_eq!(got, (body.to_vec(), end, used), "{show:?} step {step}");
            }
        }
    }

    #[test]
    fn length_and_until_close() {
        use End::*;
        type Outcome = (&'static [u8], End, usize);
        // (decoder, input, (body, end, bytes used))
        let cases: &[(BodyDecoder, &[u8], Outcome)] = &[
            (BodyDecoder::Length(5), b"hello", (b"hello", Done, 5)),
            (BodyDecoder::Length(5), b"helloGET", (b"hello", Done, 5)),
            (BodyDecoder::Length(5), b"hel", (b"hel", More, 3)),
            (BodyDecoder::Length(1), b"\r\n", (b"\r", Done, 1)),
            (
                BodyDecoder::UntilClose,
                b"0\r\n\r\n",
                (b"0\r\n\r\n", More, 5),
            ),
        ];
        for &(dec, input, (body, end, used)) in cases {
            for step in 1..=input.len() {
                let got = run(dec, input, step);
                assert_eq!(got, (body.to_vec(), end, used), "{dec:?} step {step}");
            }
        }
    }

    #[test]
    fn lost_bytes() {
        use BodyDecoder::*;
        // (decoder, bytes lost, answer, decoder after)
        let cases: &[(BodyDecoder, u64, Option<bool>, BodyDecoder)] = &[
            (Length(10), 4, Some(false), Length(6)),
            (Length(10), 10, Some(true), Length(0)),
            (Length(10), 11, None, Length(10)),
            (
                Chunked(Chunk::Data(8)),
                3,
                Some(false),
                Chunked(Chunk::Data(5)),
            ),
            (
                Chunked(Chunk::Data(8)),
                8,
                Some(false),
                Chunked(Chunk::DataEnd),
            ),
            (Chunked(Chunk::Data(8)), 9, None, Chunked(Chunk::Data(8))),
            (BodyDecoder::CHUNKED, 1, None, BodyDecoder::CHUNKED),
            (
                Chunked(Chunk::TrailerLine),
                1,
                None,
                Chunked(Chunk::TrailerLine),
            ),
            (UntilClose, 1 << 40, Some(false), UntilClose),
        ];
        for &(dec, n, want, after) in cases {
            let mut d = dec;
            assert_eq!(d.skip(n), want, "{dec:?} {n}");
            if want.is_some() {
                assert_eq!(d, after, "{dec:?} {n}");
            }
        }
    }

    #[test]
    fn what_follows_a_head() {
        use Method::*;
        let cl = |n| Framing {
            content_length: Some(n),
            ..Framing::default()
        };
        let chunked = Framing {
            chunked: true,
            ..Framing::default()
        };
        let none = Framing::default();
        let body = |n| Follows::Body(BodyDecoder::Length(n));
        let (until_close, chunks) = (
            Follows::Body(BodyDecoder::UntilClose),
            Follows::Body(BodyDecoder::CHUNKED),
        );
        type Response = Option<(u16, Method)>;
        let cases: &[(Framing, Response, Follows)] = &[
            // Requests: a body only when framed.
            (none, None, Follows::Nothing),
            (cl(0), None, Follows::Nothing),
            (cl(7), None, body(7)),
            (chunked, None, chunks),
            (
                Framing {
                    chunked: true,
                    ..cl(7)
                },
                None,
                chunks,
            ),
            // Responses.
            (none, Some((200, Other)), until_close),
            (cl(0), Some((200, Other)), Follows::Nothing),
            (cl(7), Some((200, Other)), body(7)),
            (chunked, Some((500, Other)), chunks),
            (cl(7), Some((200, Head)), Follows::Nothing),
            (chunked, Some((200, Head)), Follows::Nothing),
            (cl(7), Some((100, Other)), Follows::Nothing),
            (cl(7), Some((204, Other)), Follows::Nothing),
            (cl(7), Some((304, Other)), Follows::Nothing),
            (none, Some((205, Other)), until_close),
            (cl(7), Some((101, Other)), Follows::Tunnel),
            (none, Some((200, Connect)), Follows::Tunnel),
            (none, Some((299, Connect)), Follows::Tunnel),
            (cl(7), Some((407, Connect)), body(7)),
            (none, Some((101, Head)), Follows::Tunnel),
        ];
        for &(f, resp, want) in cases {
            assert_eq!(follows(&f, resp), want, "{f:?} {resp:?}");
        }
    }
}
