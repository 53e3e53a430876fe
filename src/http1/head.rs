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
mod tests;
