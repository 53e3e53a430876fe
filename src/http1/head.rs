//! Parsing an HTTP/1 message head: the request or status line and the
//! headers (httparse, set lenient where that is harmless; a request line
//! with a space inside its target read by hand), and what the headers say
//! about the body's framing (Content-Length, Transfer-Encoding).
//!
//! A request head httparse refuses is read by hand ([`Malformed`]): probes
//! and attacks look like that, and a server may answer them. What "still a
//! request" means:
//!
//! * the request line is a method token (RFC 9110 `tchar`s, any case), one
//!   or more spaces, and a target: the bytes up to the next space (a line
//!   ending in ` HTTP/1.0` or ` HTTP/1.1` keeps that version and everything
//!   before it as its target). Whatever follows the target is the version
//!   as seen, none when nothing does (`GET /x`). The line is UTF-8; control
//!   bytes other than CR and LF may be in the target. No space, an empty
//!   target, a method byte that is not a `tchar`: not a request; nor is
//!   HTTP/2's connection preface (`PRI * HTTP/2.0`).
//! * the header lines are `name: value` with a token name (the value
//!   trimmed of spaces and tabs, any byte but CR and LF kept); other lines
//!   are skipped, except that a line that looks like a request or status
//!   line makes the whole head not a request (so that a real request after
//!   noise is found again, not swallowed as a header).
//! * the head ends at a blank line, as any head; a head that can never end
//!   ([`cut`]: the snap length cut it) gives its request line, even cut
//!   short, and its whole header lines.
//!
//! A head is parsed once: its parts point into the bytes, and the caller
//! writes the index of the heads it keeps (`exchange::index`).

use crate::exchange::Method;
use crate::exchange::index::{
    Header, MAX_HEADERS, Parts, ReqLine, Slots, StartLine, StatusLine, uninit_headers,
};
use crate::pool::WINDOW;

use super::detect::{looks_like_request, looks_like_response};

/// A complete head: its bytes, its parts (pointing into them) and its
/// framing.
pub struct Head<'b, 'h> {
    pub bytes: &'b [u8],
    pub parts: Parts<'h, 'b>,
    pub framing: Framing,
    /// Read by hand after httparse refused it: how it is not well-formed.
    pub malformed: Option<Malformed>,
}

/// How a request head read by hand is not well-formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformed {
    /// The request line is not (it shows a method and a target, no more):
    /// a request only if a server answers it.
    Line,
    /// The request line is well-formed; the header block is not (bytes
    /// httparse refuses, more headers than it reads) or was cut short.
    Headers,
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
    /// When Content-Lengths disagree: the first that differs from
    /// `content_length` (where another reader would end the body).
    pub other_length: Option<u64>,
}

/// Parse the head at the start of `b`, a request head if `request`, a
/// response head otherwise, and hand the result to `then`.
///
/// The result is handed on, not returned, because the header slots it
/// points into live in the parsing frame: httparse's here, and those of the
/// hand-read request in that cold path's own frame (so the common path
/// neither reserves nor clears them, and needs no unsafe code to lend one
/// set of slots to two attempts).
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

/// What there is of a request head that will never be completed (`b` is
/// all there is: the snap length cut it), read by hand and handed to
/// `then`: None when `b` does not show a method and a target. The head is
/// the request line and the whole header lines after it.
#[cold]
#[inline(never)]
pub fn cut<'b, R>(b: &'b [u8], then: impl for<'h> FnOnce(Option<&Head<'b, 'h>>) -> R) -> R {
    let mut hs = [httparse::EMPTY_HEADER; MAX_HEADERS];
    match by_hand(b, true, &mut hs) {
        Parsed::Complete(h) => then(Some(&h)),
        Parsed::Partial | Parsed::Invalid => then(None),
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
        malformed: None,
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
                odd_version: None,
            };
            Some(complete(b, n, StartLine::Request(line), req.headers))
        }
        Ok(httparse::Status::Partial) => Some(Parsed::Partial),
        Err(_) => None,
    }
}

/// After httparse refused a request head: read it by hand.
#[cold]
#[inline(never)]
fn lenient_request<'b, R>(b: &'b [u8], then: impl for<'h> FnOnce(&Parsed<'b, 'h>) -> R) -> R {
    let mut hs = [httparse::EMPTY_HEADER; MAX_HEADERS];
    then(&by_hand(b, false, &mut hs))
}

/// A request head httparse refused, read by hand (see the module notes),
/// its headers into `hs`. `cut`: `b` is all there is of it.
///
/// A line httparse takes, followed by headers it refuses, is
/// [`Malformed::Headers`]; a line with a space inside its target (METHOD SP
/// target SP HTTP/1.x, some clients send that) followed by headers
/// httparse takes is not malformed at all; any other line is
/// [`Malformed::Line`].
fn by_hand<'b, 'h>(
    b: &'b [u8],
    cut: bool,
    hs: &'h mut [Header<'b>; MAX_HEADERS],
) -> Parsed<'b, 'h> {
    let eol = b.iter().position(|&c| c == b'\n');
    let (line, after) = match eol {
        Some(e) => (b[..e].strip_suffix(b"\r").unwrap_or(&b[..e]), e + 1),
        None if cut => (b, b.len()),
        // The line may still be coming.
        None if b.len() < WINDOW && may_start_request(b) => return Parsed::Partial,
        None => return Parsed::Invalid,
    };
    let whole = eol.is_some();
    let (req_line, malformed) = match eol.and_then(|e| well_formed_line(&b[..=e])) {
        Some(l) => (l, Some(Malformed::Headers)),
        None => match spaced_target(line).filter(|_| whole) {
            Some(l) => (l, None),
            None => match lenient_line(line, whole) {
                Some(l) => (l, Some(Malformed::Line)),
                None => return Parsed::Invalid,
            },
        },
    };
    let rest = &b[after..];
    if malformed.is_none() && !cut {
        // The spaced target: headers as httparse reads them, if it does.
        match httparse::parse_headers(rest, hs) {
            Ok(httparse::Status::Complete((used, got))) => {
                let n = got.len();
                return done(b, after + used, req_line, &hs[..n], None);
            }
            Ok(httparse::Status::Partial) => return Parsed::Partial,
            Err(_) => {}
        }
    }
    let malformed = malformed.unwrap_or(Malformed::Headers);
    let (used, n) = match header_lines(rest, hs) {
        Lines::Ended(used, n) => (used, n),
        Lines::Open(used, n) if cut => (used, n),
        Lines::Open(..) => return Parsed::Partial,
        Lines::Foreign => return Parsed::Invalid,
    };
    done(b, after + used, req_line, &hs[..n], Some(malformed))
}

/// The request head of `n` bytes of `b`, with its parts.
fn done<'b, 'h>(
    b: &'b [u8],
    n: usize,
    line: ReqLine<'b>,
    headers: &'h [Header<'b>],
    malformed: Option<Malformed>,
) -> Parsed<'b, 'h> {
    Parsed::Complete(Head {
        bytes: &b[..n],
        parts: Parts {
            start: StartLine::Request(line),
            headers,
        },
        framing: framing(headers),
        malformed,
    })
}

/// Could `b`, a line not ended yet, still become a request line? A method
/// token so far, or one and a space.
fn may_start_request(b: &[u8]) -> bool {
    let m = b.iter().position(|&c| !is_tchar(c)).unwrap_or(b.len());
    m == b.len() || (m > 0 && b[m] == b' ')
}

/// The request line `line` (ending in its LF) as httparse reads it, if it
/// does.
fn well_formed_line(line: &[u8]) -> Option<ReqLine<'_>> {
    let mut req = httparse::Request::new(&mut []);
    match parser_config().parse_request(&mut req, line) {
        Ok(httparse::Status::Partial) => Some(ReqLine {
            method: req.method?,
            target: req.path?,
            version: req.version?,
            odd_version: None,
        }),
        _ => None,
    }
}

/// A request line with spaces inside its target: METHOD SP target SP
/// HTTP/1.x, the method in capitals, the target everything between (no
/// control bytes). Not malformed: some clients send such targets.
fn spaced_target(line: &[u8]) -> Option<ReqLine<'_>> {
    let sp = line.iter().position(|&c| c == b' ')?;
    let method = &line[..sp];
    let v = line.len().checked_sub(9).filter(|&v| v > sp)?;
    let (rest, ver) = (&line[sp + 1..v], &line[v..]);
    let version = match ver {
        b" HTTP/1.0" => 0,
        b" HTTP/1.1" => 1,
        _ => return None,
    };
    let target = std::str::from_utf8(rest).ok()?.trim();
    let method = std::str::from_utf8(method).ok()?;
    if method.is_empty()
        || !method
            .bytes()
            .all(|c| c.is_ascii_uppercase() || c == b'_' || c == b'-')
        || target.is_empty()
        || target.bytes().any(|c| c < 0x20 || c == 0x7f)
    {
        return None;
    }
    Some(ReqLine {
        method,
        target,
        version,
        odd_version: None,
    })
}

/// A request line that is not well-formed, read as a server that answers
/// it would (see the module notes); `whole`: the line ended (else it was
/// cut, and its target is what there is of it).
fn lenient_line(line: &[u8], whole: bool) -> Option<ReqLine<'_>> {
    let line = std::str::from_utf8(line).ok()?;
    let line = if whole {
        line.trim_end_matches([' ', '\t'])
    } else {
        line
    };
    if line.starts_with("PRI * HTTP/2.0") {
        // HTTP/2's connection preface: no HTTP/1 request.
        return None;
    }
    let (method, rest) = line.split_once(' ')?;
    if method.is_empty() || !method.bytes().all(is_tchar) {
        return None;
    }
    let rest = rest.trim_start_matches(' ');
    let known = |v: &str| match v {
        "HTTP/1.0" => Some(0),
        "HTTP/1.1" => Some(1),
        _ => None,
    };
    let spaced = rest
        .rsplit_once(' ')
        .filter(|_| whole)
        .and_then(|(t, v)| Some((t.trim_end_matches(' '), known(v)?)));
    let (target, version, odd_version) = match spaced {
        Some((t, v)) => (t, v, None),
        None => {
            let (t, v) = rest.split_once(' ').unwrap_or((rest, ""));
            let v = v.trim_matches([' ', '\t']);
            match known(v) {
                Some(n) => (t, n, None),
                None => (t, 0, Some(v)),
            }
        }
    };
    if target.is_empty() {
        return None;
    }
    Some(ReqLine {
        method,
        target,
        version,
        odd_version,
    })
}

/// What the lines after a request line are, read by hand.
enum Lines {
    /// A blank line ends them: bytes up to and with it, headers read.
    Ended(usize, usize),
    /// No blank line yet: headers read in the whole lines there are.
    Open(usize, usize),
    /// A line looks like a request or a status line: not a header (the
    /// head is not a request).
    Foreign,
}

/// The header lines of `b` (what follows a request line) read by hand into
/// `hs` (the first [`MAX_HEADERS`]; lines that are not headers skipped).
fn header_lines<'b>(b: &'b [u8], hs: &mut [Header<'b>; MAX_HEADERS]) -> Lines {
    let (mut at, mut n) = (0, 0);
    while let Some(nl) = b[at..].iter().position(|&c| c == b'\n') {
        let with_lf = &b[at..at + nl + 1];
        let l = &b[at..at + nl];
        let l = l.strip_suffix(b"\r").unwrap_or(l);
        at += nl + 1;
        if l.is_empty() {
            return Lines::Ended(at, n);
        }
        match header_line(l) {
            Some(h) if n < MAX_HEADERS => {
                hs[n] = h;
                n += 1;
            }
            Some(_) => {}
            None if looks_like_request(with_lf) == Some(true)
                || looks_like_response(with_lf) == Some(true) =>
            {
                return Lines::Foreign;
            }
            None => {}
        }
    }
    Lines::Open(at, n)
}

/// `name: value` with a token name, the value trimmed of spaces and tabs.
fn header_line(l: &[u8]) -> Option<Header<'_>> {
    let c = l.iter().position(|&c| c == b':')?;
    let name = &l[..c];
    if name.is_empty() || !name.iter().all(|&c| is_tchar(c)) {
        return None;
    }
    let mut value = &l[c + 1..];
    while let [b' ' | b'\t', rest @ ..] = value {
        value = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = value {
        value = rest;
    }
    Some(Header {
        // A token is ASCII.
        name: std::str::from_utf8(name).ok()?,
        value,
    })
}

/// RFC 9110's `tchar`: the bytes of a method or a header name.
fn is_tchar(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
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
                    Some(n) => {
                        f.bad = true;
                        if f.content_length.is_none_or(|a| a != n) {
                            f.other_length = f.other_length.or(Some(n));
                        }
                    }
                    None => f.bad = true,
                }
            }
            match (f.content_length, val) {
                (None, v) => f.content_length = v,
                (Some(a), Some(b)) if a != b => {
                    f.bad = true;
                    f.other_length = f.other_length.or(Some(b));
                }
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

    /// A head as text for comparing: the start line's parts (an odd
    /// version in <>; `!line` or `!headers` when read by hand), the headers
    /// and what follows the head in `b`.
    fn shown(b: &[u8], h: &Head) -> String {
        let start = match h.parts.start {
            StartLine::Request(l) => {
                let v = match l.odd_version {
                    None => l.version.to_string(),
                    Some(v) => format!("<{v}>"),
                };
                format!("{} [{}] {v}", l.method, l.target)
            }
            StartLine::Response(s) => format!("{} [{}] {}", s.status, s.reason, s.version),
        };
        let flaw = match h.malformed {
            None => "",
            Some(Malformed::Line) => " !line",
            Some(Malformed::Headers) => " !headers",
        };
        let hs: Vec<String> = (h.parts.headers.iter())
            .map(|h| format!("{}={}", h.name, String::from_utf8_lossy(h.value)))
            .collect();
        let rest = String::from_utf8_lossy(&b[h.bytes.len()..]);
        format!("{start}{flaw} {}|{rest}", hs.join(","))
    }

    /// What a parse gave: the head as `shown`, or "partial" / "invalid".
    fn outcome(b: &[u8], request: bool) -> String {
        parse(b, request, |p| match p {
            Parsed::Complete(h) => shown(b, h),
            Parsed::Partial => "partial".into(),
            Parsed::Invalid => "invalid".into(),
        })
    }

    #[test]
    fn request_heads() {
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
            (b"get /x HTTP/1.1\r\n\r\n", "get [/x] 1 |"),
            (b"GET /x HTTP/1.1\r\nHost: a\r\n", "partial"),
            (b"GET /x HT", "partial"),
            // The lenient request line: a target with spaces.
            (
                b"GET /with space HTTP/1.1\r\nHost: y\r\n\r\n",
                "GET [/with space] 1 Host=y|",
            ),
            (b"PUT /a b  HTTP/1.0\r\n\r\n", "PUT [/a b] 0 |"),
            (b"GET /a b HTTP/1.1\r\nHost: y\r\n", "partial"),
            (b"GET /a b HTTP/1.1", "partial"),
            (
                b"GET /a b HTTP/1.1\r\nA: 1\r\n\r\nrest",
                "GET [/a b] 1 A=1|rest",
            ),
            (b"\x16\x03\x01\x00", "invalid"),
        ];
        for &(b, want) in cases {
            assert_eq!(outcome(b, true), want, "{}", String::from_utf8_lossy(b));
        }
    }

    /// Heads httparse refuses, read by hand: what is a request (and how it
    /// is malformed), what may still become one, what is not one.
    #[test]
    fn malformed_request_heads() {
        let many: String = (0..MAX_HEADERS + 1)
            .map(|k| format!("h{k}: v\r\n"))
            .collect();
        let many = format!("GET / HTTP/1.1\r\n{many}\r\nnext");
        let many_want = format!(
            "GET [/] 1 !headers {}|next",
            (0..MAX_HEADERS)
                .map(|k| format!("h{k}=v"))
                .collect::<Vec<_>>()
                .join(",")
        );
        let cases: &[(&[u8], &str)] = &[
            // httparse takes any token as a method (`get`, above); small
            // letters with a spaced target, or an unregistered method on a
            // line it refuses, are read by hand. Bytes that are not tchars
            // make no method.
            (b"get /a b HTTP/1.1\r\n\r\n", "get [/a b] 1 !line |"),
            (
                b"CCM_POST / HTTP/1.\r\nHost: h\r\n\r\n",
                "CCM_POST [/] <HTTP/1.> !line Host=h|",
            ),
            (b"M@X / HTTP/1.1\r\n\r\n", "invalid"),
            (b"GET/ HTTP/1.1\r\n\r\n", "invalid"),
            (b"GET(x) / HTTP/1.1\r\n\r\n", "invalid"),
            (b"\xc3\xa9 / HTTP/1.1\r\n\r\n", "invalid"),
            // No version, a cut version, an unknown one: as seen.
            (
                b"GET /HTTP/1.1\r\nHost: h\r\n\r\n",
                "GET [/HTTP/1.1] <> !line Host=h|",
            ),
            (b"OPTIONS HTTP/1.1\r\n\r\n", "OPTIONS [HTTP/1.1] <> !line |"),
            (b"GET  HTTP/1.1\r\n\r\n", "GET [HTTP/1.1] <> !line |"),
            (b"GET / HTTP/1.\r\n\r\n", "GET [/] <HTTP/1.> !line |"),
            (b"GET / HTTP/2.0\r\n\r\n", "GET [/] <HTTP/2.0> !line |"),
            (
                b"GET /a b HTTP/2.0\r\n\r\n",
                "GET [/a] <b HTTP/2.0> !line |",
            ),
            (b"GET / HTTP/1.1 \r\n\r\n", "GET [/] 1 !line |"),
            (b"GET /x y\r\n\r\n", "GET [/x] <y> !line |"),
            // No target, no space, no method: no request.
            (b"OPTIONS\r\nHost: h\r\n\r\n", "invalid"),
            (b"OPTIONSHTTP/1.1\r\n\r\n", "invalid"),
            (b"GET \r\n\r\n", "invalid"),
            (b" / HTTP/1.1\r\n\r\n", "invalid"),
            // HTTP/2's preface is no HTTP/1 request.
            (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "invalid"),
            // Control bytes in the target are kept (the outputs escape them),
            // bytes that are not UTF-8 are not a target.
            (b"GET /a\x01b HTTP/1.1\r\n\r\n", "GET [/a\x01b] 1 !line |"),
            (b"GET /a\x00b HTTP/1.1\r\n\r\n", "GET [/a\x00b] 1 !line |"),
            (b"GET /\xff HTTP/1.1\r\n\r\n", "invalid"),
            // A good line, headers httparse refuses: the header lines that
            // can be read, others skipped.
            (
                b"POST /p HTTP/1.1\r\nA: b\x00c\r\nHost: h\r\n\r\nbody",
                "POST [/p] 1 !headers A=b\x00c,Host=h|body",
            ),
            (
                b"GET /a b HTTP/1.1\r\nBad\x01: x\r\nno colon\r\n folded\r\nA:  v  \r\n\r\n",
                "GET [/a b] 1 !headers A=v|",
            ),
            (many.as_bytes(), &many_want),
            // ... but a line that is a request or status line ends it: not a
            // request (the next one is found again, not swallowed).
            (b"get /x y\r\nGET / HTTP/1.1\r\n\r\n", "invalid"),
            (b"GET /x y\r\nHTTP/1.1 200 OK\r\n\r\n", "invalid"),
            // Waiting for the end of the head, and of the line.
            (b"GET / HTTP/1.\r\nHost: h\r\n", "partial"),
            (b"CCM_POST / HTTP/1.", "partial"),
            (b"get /a\x01", "partial"),
            (b"get", "partial"),
            (b"GET/", "invalid"),
            (b"\x01GET / HTTP/1.1", "invalid"),
            // What follows a malformed head is left for the next one.
            (
                b"GET / HTTP/1.\r\nContent-Length: 2\r\n\r\nhiGET",
                "GET [/] <HTTP/1.> !line Content-Length=2|hiGET",
            ),
        ];
        for &(b, want) in cases {
            assert_eq!(outcome(b, true), want, "{}", String::from_utf8_lossy(b));
        }
        // A line httparse refuses that never ends is not waited for past a
        // window.
        let mut endless = b"GET /\x01".to_vec();
        endless.resize(WINDOW, b'a');
        assert_eq!(outcome(&endless, true), "invalid");
    }

    /// Heads that will never end (the snap length cut them): the request
    /// line, even cut, and the whole header lines.
    #[test]
    fn cut_request_heads() {
        let cut_outcome = |b: &[u8]| cut(b, |h| h.map_or("none".into(), |h| shown(b, h)));
        let cases: &[(&[u8], &str)] = &[
            (b"GET /very/long/pa", "GET [/very/long/pa] <> !line |"),
            (b"GET /a HTT", "GET [/a] <HTT> !line |"),
            (b"GET /a HTTP/1.1", "GET [/a] 1 !line |"),
            (b"GET /a HTTP/1.1\r\n", "GET [/a] 1 !headers |"),
            (
                b"POST /p HTTP/1.1\r\nHost: h\r\nContent-Le",
                "POST [/p] 1 !headers Host=h|Content-Le",
            ),
            (
                b"GET / HTTP/1.\r\nHost: h\r\nX",
                "GET [/] <HTTP/1.> !line Host=h|X",
            ),
            (b"GET ", "none"),
            (b"GET", "none"),
            (b"", "none"),
            (b"\x00\x01 /", "none"),
            (b"GET /x y\r\nGET / HTTP/1.1\r\n", "none"),
        ];
        for &(b, want) in cases {
            assert_eq!(cut_outcome(b), want, "{}", String::from_utf8_lossy(b));
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
            other_length: None,
        };
        // Lengths that disagree: the first other one.
        let other = |cl: u64, other: u64| Framing {
            content_length: Some(cl),
            chunked: false,
            bad: true,
            other_length: Some(other),
        };
        let cases: &[(&[(&str, &str)], Framing)] = &[
            (&[], f(None, false, false)),
            (&[("Content-Length", "5")], f(Some(5), false, false)),
            (&[("content-length", " 5 ")], f(Some(5), false, false)),
            (&[("Content-Length", "5, 5")], f(Some(5), false, false)),
            (&[("Content-Length", "5, 6")], other(5, 6)),
            (&[("Content-Length", "5, 6, 7")], other(5, 6)),
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
                other(5, 6),
            ),
            (
                &[
                    ("Content-Length", "11"),
                    ("Content-Length", "11"),
                    ("Content-Length", "93"),
                    ("Content-Length", "7"),
                ],
                other(11, 93),
            ),
            (
                &[("Content-Length", "x"), ("Content-Length", "5, 6")],
                other(5, 6),
            ),
            (
                &[("Content-Length", "5"), ("Content-Length", "6, 5")],
                other(5, 6),
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
