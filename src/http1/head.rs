//! Parsing an HTTP/1 message head: the request or status line and the
//! headers (httparse, set lenient where that is harmless; a request line
//! with a space inside its target read by hand), and what the headers say
//! about the body's framing (Content-Length, Transfer-Encoding).
//!
//! A head is parsed once: its parts point into the bytes, and the caller
//! writes the index of the heads it keeps (`exchange::index`).

use crate::exchange::Method;
use crate::exchange::index::{
    Header, MAX_HEADERS, Parts, ReqLine, Slots, StartLine, StatusLine, uninit_headers,
};
use crate::pool::WINDOW;

use super::detect::looks_like_request;

/// A complete head: its bytes, its parts (pointing into them) and its
/// framing.
pub struct Head<'b, 'h> {
    pub bytes: &'b [u8],
    pub parts: Parts<'h, 'b>,
    pub framing: Framing,
}

/// What parsing the bytes at a message start gave.
pub enum Parsed<'b, 'h> {
    Complete(Head<'b, 'h>),
    /// A head may yet end in later bytes.
    Partial,
    /// Not a head.
    Invalid,
}

/// What a head's headers say about its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Framing {
    /// The Content-Length (the first one, when there are several).
    pub content_length: Option<u64>,
    /// The last transfer coding is chunked.
    pub chunked: bool,
    /// A Content-Length is not a number, or several disagree.
    pub bad: bool,
}

/// Parse the head at the start of `b`, a request head if `request`, a
/// response head otherwise, and hand the result to `then`.
///
/// The result is handed on, not returned, because the header slots it
/// points into live in the parsing frame: httparse's here, and those of the
/// hand-read request line in that cold path's own frame (so the common
/// path neither reserves nor clears them, and needs no unsafe code to lend
/// one set of slots to two attempts).
#[inline]
pub fn parse<'b, R>(
    b: &'b [u8],
    request: bool,
    then: impl for<'h> FnOnce(&Parsed<'b, 'h>) -> R,
) -> R {
    let mut slots = uninit_headers();
    if !request {
        return then(&response(b, &mut slots));
    }
    match strict_request(b, &mut slots) {
        Some(p) => then(&p),
        None => lenient_request(b, then),
    }
}

/// The lenient-where-harmless settings every head is parsed with.
pub fn parser_config() -> httparse::ParserConfig {
    let mut c = httparse::ParserConfig::default();
    c.allow_multiple_spaces_in_request_line_delimiters(true)
        .allow_multiple_spaces_in_response_status_delimiters(true)
        .allow_obsolete_multiline_headers_in_responses(true)
        .allow_spaces_after_header_name_in_responses(true)
        .ignore_invalid_headers_in_requests(true)
        .ignore_invalid_headers_in_responses(true);
    c
}

/// What a request's method says about its response.
pub fn method(name: &str) -> Method {
    match name {
        "HEAD" => Method::Head,
        "CONNECT" => Method::Connect,
        _ => Method::Other,
    }
}

/// Does `b` hold the blank line that ends a head?
pub fn has_head_end(b: &[u8]) -> bool {
    let mut i = 0;
    while let Some(nl) = b[i..].iter().position(|&c| c == b'\n') {
        let j = i + nl + 1;
        match b.get(j) {
            Some(b'\n') => return true,
            Some(b'\r') if b.get(j + 1) == Some(&b'\n') => return true,
            _ => i = j,
        }
    }
    false
}

/// The head of `n` bytes of `b`, with its parts.
#[inline(always)]
fn complete<'b, 'h>(
    b: &'b [u8],
    n: usize,
    start: StartLine<'b>,
    headers: &'h [Header<'b>],
) -> Parsed<'b, 'h> {
    Parsed::Complete(Head {
        bytes: &b[..n],
        parts: Parts { start, headers },
        framing: framing(headers),
    })
}

/// A response head as httparse reads it.
#[inline(always)]
fn response<'b, 'h>(b: &'b [u8], slots: &'h mut Slots<'b>) -> Parsed<'b, 'h> {
    let mut resp = httparse::Response::new(&mut []);
    match parser_config().parse_response_with_uninit_headers(&mut resp, b, slots) {
        Ok(httparse::Status::Complete(n)) => {
            let line = StatusLine {
                status: resp.code.unwrap_or(0),
                reason: resp.reason.unwrap_or(""),
                version: resp.version.unwrap_or(1),
            };
            complete(b, n, StartLine::Response(line), resp.headers)
        }
        Ok(httparse::Status::Partial) => Parsed::Partial,
        Err(_) => Parsed::Invalid,
    }
}

/// A request head as httparse reads it; `None` when it refuses.
#[inline(always)]
fn strict_request<'b, 'h>(b: &'b [u8], slots: &'h mut Slots<'b>) -> Option<Parsed<'b, 'h>> {
    let mut req = httparse::Request::new(&mut []);
    match parser_config().parse_request_with_uninit_headers(&mut req, b, slots) {
        Ok(httparse::Status::Complete(n)) => {
            let line = ReqLine {
                method: req.method.unwrap_or(""),
                target: req.path.unwrap_or(""),
                version: req.version.unwrap_or(1),
            };
            Some(complete(b, n, StartLine::Request(line), req.headers))
        }
        Ok(httparse::Status::Partial) => Some(Parsed::Partial),
        Err(_) => None,
    }
}

/// After httparse refused a request head: when it refused only the
/// request line, read the line by hand (METHOD SP target SP HTTP/1.x, the
/// target being everything between, spaces included, as some clients send)
/// and the headers with httparse.
#[cold]
#[inline(never)]
fn lenient_request<'b, R>(b: &'b [u8], then: impl for<'h> FnOnce(&Parsed<'b, 'h>) -> R) -> R {
    let (eol, line) = match lenient_line(b) {
        Ok(l) => l,
        Err(p) => return then(&p),
    };
    let mut hs = [httparse::EMPTY_HEADER; MAX_HEADERS];
    match httparse::parse_headers(&b[eol + 1..], &mut hs) {
        Ok(httparse::Status::Complete((n, hs))) => {
            then(&complete(b, eol + 1 + n, StartLine::Request(line), hs))
        }
        Ok(httparse::Status::Partial) => then(&Parsed::Partial),
        Err(_) => then(&Parsed::Invalid),
    }
}

/// The request line of `b` read by hand, and where it ends; or what `b` is
/// instead (`Partial` while the line may still be coming).
fn lenient_line<'b>(b: &'b [u8]) -> Result<(usize, ReqLine<'b>), Parsed<'b, 'b>> {
    // Which part was refused? The request line alone (no header slots: a
    // good line then stops at TooManyHeaders).
    let mut probe = httparse::Request::new(&mut []);
    match parser_config().parse_request(&mut probe, b) {
        Err(httparse::Error::TooManyHeaders) | Ok(_) => return Err(Parsed::Invalid),
        Err(_) => {}
    }
    let Some(eol) = b.iter().position(|&c| c == b'\n') else {
        // The line may still be coming: wait while it starts like a request.
        return Err(if b.len() < WINDOW && looks_like_request(b).is_none() {
            Parsed::Partial
        } else {
            Parsed::Invalid
        });
    };
    let line = b[..eol].strip_suffix(b"\r").unwrap_or(&b[..eol]);
    let invalid = Err(Parsed::Invalid);
    let Some(sp) = line.iter().position(|&c| c == b' ') else {
        return invalid;
    };
    let method = &line[..sp];
    let Some(v) = line.len().checked_sub(9).filter(|&v| v > sp) else {
        return invalid;
    };
    let (rest, ver) = (&line[sp + 1..v], &line[v..]);
    let version = match ver {
        b" HTTP/1.0" => 0,
        b" HTTP/1.1" => 1,
        _ => return invalid,
    };
    let (Ok(target), Ok(method)) = (std::str::from_utf8(rest), std::str::from_utf8(method)) else {
        return invalid;
    };
    let target = target.trim();
    if method.is_empty()
        || !method
            .bytes()
            .all(|c| c.is_ascii_uppercase() || c == b'_' || c == b'-')
        || target.is_empty()
        || target.bytes().any(|c| c < 0x20 || c == 0x7f)
    {
        return invalid;
    }
    let line = ReqLine {
        method,
        target,
        version,
    };
    Ok((eol, line))
}

fn header_eq(name: &str, want: &str) -> bool {
    name.eq_ignore_ascii_case(want)
}

fn framing(headers: &[Header<'_>]) -> Framing {
    let mut f = Framing::default();
    for h in headers {
        if header_eq(h.name, "content-length") {
            let v = trim(h.value);
            // A list "5, 5" is allowed when every element agrees.
            let mut val = None;
            for part in v.split(|&c| c == b',') {
                let p = trim(part);
                match parse_dec(p) {
                    Some(n) if val.is_none() || val == Some(n) => val = Some(n),
                    _ => f.bad = true,
                }
            }
            match (f.content_length, val) {
                (None, v) => f.content_length = v,
                (Some(a), Some(b)) if a != b => f.bad = true,
                _ => {}
            }
        } else if header_eq(h.name, "transfer-encoding") {
            let v = trim(h.value);
            let last = v.rsplit(|&c| c == b',').next().map(trim).unwrap_or(b"");
            f.chunked = last.eq_ignore_ascii_case(b"chunked");
        }
    }
    f
}

fn trim(mut b: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = b {
        if first.is_ascii_whitespace() {
            b = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = b {
        if last.is_ascii_whitespace() {
            b = rest;
        } else {
            break;
        }
    }
    b
}

fn parse_dec(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 19 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0u64, |a, &d| a * 10 + (d - b'0') as u64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::index::{self, Buf};

    /// What a parse gave, for comparing: the start line's parts, the
    /// headers and what follows the head, or "partial" / "invalid".
    fn outcome(b: &[u8], request: bool) -> String {
        parse(b, request, |p| match p {
            Parsed::Complete(h) => {
                let start = match h.parts.start {
                    StartLine::Request(l) => format!("{} [{}] {}", l.method, l.target, l.version),
                    StartLine::Response(s) => format!("{} [{}] {}", s.status, s.reason, s.version),
                };
                let hs: Vec<String> = (h.parts.headers.iter())
                    .map(|h| format!("{}={}", h.name, String::from_utf8_lossy(h.value)))
                    .collect();
                let rest = String::from_utf8_lossy(&b[h.bytes.len()..]);
                format!("{start} {}|{rest}", hs.join(","))
            }
            Parsed::Partial => "partial".into(),
            Parsed::Invalid => "invalid".into(),
        })
    }

    #[test]
    fn request_heads() {
        let many: String = (0..MAX_HEADERS + 1)
            .map(|k| format!("h{k}: v\r\n"))
            .collect();
        let many = format!("GET / HTTP/1.1\r\n{many}\r\n");
        let cases: &[(&[u8], &str)] = &[
            (
                b"GET /x HTTP/1.1\r\nHost: a\r\n\r\nbody",
                "GET [/x] 1 Host=a|body",
            ),
            (b"GET /x HTTP/1.0\n\n", "GET [/x] 0 |"),
            (b"GET  /x  HTTP/1.1\r\n\r\n", "GET [/x] 1 |"),
            (
                b"GET /x HTTP/1.1\r\nBad\x01: x\r\nA: b\r\n\r\n",
                "GET [/x] 1 A=b|",
            ),
            (b"GET /x HTTP/1.1\r\nHost: a\r\n", "partial"),
            (b"GET /x HT", "partial"),
            (many.as_bytes(), "invalid"),
            // The lenient request line: a target with spaces.
            (
                b"GET /with space HTTP/1.1\r\nHost: y\r\n\r\n",
                "GET [/with space] 1 Host=y|",
            ),
            (b"PUT /a b  HTTP/1.0\r\n\r\n", "PUT [/a b] 0 |"),
            (b"GET /a b HTTP/1.1\r\nHost: y\r\n", "partial"),
            (b"GET /a b HTTP/1.1", "partial"),
            (b"GET /a b HTTP/2.0\r\n\r\n", "invalid"),
            (b"get /a b HTTP/1.1\r\n\r\n", "invalid"),
            (b"GET /a\x01b HTTP/1.1\r\n\r\n", "invalid"),
            (b"GET  HTTP/1.1\r\n\r\n", "invalid"),
            (
                b"GET /a b HTTP/1.1\r\nA: 1\r\n\r\nrest",
                "GET [/a b] 1 A=1|rest",
            ),
            // ... whose headers are read strictly.
            (b"GET /a b HTTP/1.1\r\nBad\x01: x\r\n\r\n", "invalid"),
            (b"\x16\x03\x01\x00", "invalid"),
        ];
        for &(b, want) in cases {
            assert_eq!(outcome(b, true), want, "{}", String::from_utf8_lossy(b));
        }
    }

    #[test]
    fn response_heads() {
        let cases: &[(&[u8], &str)] = &[
            (b"HTTP/1.1 200 OK\r\nA: 1\r\n\r\n{}", "200 [OK] 1 A=1|{}"),
            (b"HTTP/1.0 404 \r\n\r\n", "404 [] 0 |"),
            (
                b"HTTP/1.1 204\r\nX: a\r\n  b\r\n\r\n",
                "204 [] 1 X=a\r\n  b|",
            ),
            (
                b"HTTP/1.1 301  Moved\r\nLocation : /n\r\n\r\n",
                "301 [Moved] 1 Location=/n|",
            ),
            (b"HTTP/1.1 200 OK\r\n", "partial"),
            (b"HTTP/1.1 2x0 OK\r\n\r\n", "invalid"),
            (b"GET / HTTP/1.1\r\n\r\n", "invalid"),
        ];
        for &(b, want) in cases {
            assert_eq!(outcome(b, false), want, "{}", String::from_utf8_lossy(b));
        }
    }

    #[test]
    fn framing_from_headers() {
        let f = |cl: Option<u64>, chunked: bool, bad: bool| Framing {
            content_length: cl,
            chunked,
            bad,
        };
        let cases: &[(&[(&str, &str)], Framing)] = &[
            (&[], f(None, false, false)),
            (&[("Content-Length", "5")], f(Some(5), false, false)),
            (&[("content-length", " 5 ")], f(Some(5), false, false)),
            (&[("Content-Length", "5, 5")], f(Some(5), false, false)),
            (&[("Content-Length", "5, 6")], f(Some(5), false, true)),
            (&[("Content-Length", "abc")], f(None, false, true)),
            (&[("Content-Length", "")], f(None, false, true)),
            (&[("Content-Length", "-1")], f(None, false, true)),
            (
                &[("Content-Length", "12345678901234567890")],
                f(None, false, true),
            ),
            (
                &[("Content-Length", "1234567890123456789")],
                f(Some(1234567890123456789), false, false),
            ),
            (
                &[("Content-Length", "5"), ("Content-Length", "5")],
                f(Some(5), false, false),
            ),
            (
                &[("Content-Length", "5"), ("Content-Length", "6")],
                f(Some(5), false, true),
            ),
            (
                &[("Content-Length", "5"), ("Content-Length", "x")],
                f(Some(5), false, true),
            ),
            (&[("Transfer-Encoding", "chunked")], f(None, true, false)),
            (
                &[("Transfer-Encoding", "gzip, Chunked ")],
                f(None, true, false),
            ),
            (
                &[("Transfer-Encoding", "chunked, gzip")],
                f(None, false, false),
            ),
            (
                &[
                    ("Transfer-Encoding", "chunked"),
                    ("Transfer-Encoding", "gzip"),
                ],
                f(None, false, false),
            ),
            (
                &[("Transfer-Encoding", "chunked"), ("Content-Length", "5")],
                f(Some(5), true, false),
            ),
            (
                &[("Content-Lengths", "5"), ("X", "chunked")],
                f(None, false, false),
            ),
        ];
        for (hs, want) in cases {
            let hs: Vec<Header> = (hs.iter())
                .map(|&(name, v)| Header {
                    name,
                    value: v.as_bytes(),
                })
                .collect();
            assert_eq!(framing(&hs), *want, "{hs:?}");
        }
    }

    #[test]
    fn head_ends() {
        let cases: &[(&[u8], bool)] = &[
            (b"", false),
            (b"GET / HTTP/1.1\r\n", false),
            (b"GET / HTTP/1.1\r\n\r\n", true),
            (b"GET / HTTP/1.1\n\n", true),
            (b"A: b\r\n\r", false),
            (b"A: b\n\r\n", true),
            (b"\n\n", true),
            (b"A: b\r\n \r\n", false),
            (b"\r\n\r\n", true),
        ];
        for &(b, want) in cases {
            assert_eq!(has_head_end(b), want, "{}", String::from_utf8_lossy(b));
        }
    }

    #[test]
    fn methods() {
        let cases = [
            ("HEAD", Method::Head),
            ("CONNECT", Method::Connect),
            ("GET", Method::Other),
            ("head", Method::Other),
        ];
        for (name, want) in cases {
            assert_eq!(method(name), want, "{name}");
        }
    }

    fn pairs(hs: &[Header<'_>]) -> Vec<(String, Vec<u8>)> {
        hs.iter()
            .map(|h| (h.name.to_string(), h.value.to_vec()))
            .collect()
    }

    /// Whatever the parser accepts comes back from its index as the parser
    /// said it.
    fn round_trip(b: &[u8], request: bool) -> bool {
        parse(b, request, |p| {
            let Parsed::Complete(h) = p else {
                return false;
            };
            let mut buf = Buf::uninit();
            let ix = index::index(&mut buf, h.bytes, &h.parts);
            let mut hb = uninit_headers();
            match h.parts.start {
                StartLine::Request(line) => {
                    let (l2, hs2) = index::request(h.bytes, ix, &mut hb);
                    assert_eq!(
                        (l2.method, l2.target, l2.version),
                        (line.method, line.target, line.version)
                    );
                    assert_eq!(pairs(hs2), pairs(h.parts.headers), "{b:?}");
                }
                StartLine::Response(s) => {
                    let (s2, hs2) = index::response(h.bytes, ix, &mut hb);
                    assert_eq!(
                        (s2.status, s2.reason, s2.version),
                        (s.status, s.reason, s.version)
                    );
                    assert_eq!(pairs(hs2), pairs(h.parts.headers), "{b:?}");
                }
            }
            true
        })
    }

    /// For requests (strict and lenient start-lines) and responses, with
    /// empty values, obsolete line folding and skipped invalid lines.
    #[test]
    fn index_gives_back_what_the_parser_said() {
        let requests: &[&[u8]] = &[
            b"GET /a?b=c HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n",
            b"POST /p HTTP/1.0\r\nContent-Length: 0\r\nX-Empty:\r\n\r\nbody",
            b"GET /with space HTTP/1.1\r\nHost: y\r\n\r\n",
            b"GET / HTTP/1.1\r\n\r\n",
        ];
        for &b in requests {
            assert!(round_trip(b, true), "{}", String::from_utf8_lossy(b));
        }
        let responses: &[&[u8]] = &[
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
            b"HTTP/1.0 404 \r\nServer: s\r\n\r\n",
            b"HTTP/1.1 204\r\nX-Folded: a\r\n  b\r\nbad line\r\nX-After: c\r\n\r\n",
            b"HTTP/1.1 301 Moved  Permanently\r\nLocation : /new\r\n\r\n",
        ];
        for &b in responses {
            assert!(round_trip(b, false), "{}", String::from_utf8_lossy(b));
        }
    }

    /// Heads put together at random from good, odd and bad lines.
    #[test]
    fn index_agrees_with_the_parser_on_mixed_heads() {
        let starts: &[&[u8]] = &[
            b"GET /x HTTP/1.1\r\n",
            b"PUT  /a%20b?q=1  HTTP/1.0\r\n",
            b"GET /sp ace HTTP/1.1\r\n",
            b"HTTP/1.1 200 OK\r\n",
            b"HTTP/1.0 500 Internal \xe9rror\r\n",
            b"HTTP/1.1 404\r\n",
        ];
        let lines: &[&[u8]] = &[
            b"Host: example.com\r\n",
            b"X-Empty:\r\n",
            b"X-Spaces:   padded   \r\n",
            b"X-Tab:\tv\r\n",
            b"Name : spaced\r\n",
            b"  folded continuation\r\n",
            b"bad line without colon\r\n",
            b"X-High: caf\xc3\xa9\r\n",
            b"Content-Length: 10\n",
            b"X-Quote: \"q\" \\ b\r\n",
        ];
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut parsed = 0;
        for _ in 0..3000 {
            let mut b = starts[next() as usize % starts.len()].to_vec();
            for _ in 0..next() % 12 {
                b.extend_from_slice(lines[next() as usize % lines.len()]);
            }
            b.extend_from_slice(b"\r\nbody");
            if round_trip(&b, !b.starts_with(b"HTTP/")) {
                parsed += 1;
            }
        }
        // Most heads parse (the bad lines are skipped, not fatal).
        assert!(parsed > 1000, "{parsed}");
    }
}
