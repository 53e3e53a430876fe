//! What bytes are, before they are parsed: the first bytes of a direction
//! (a request line, a status line, TLS, the HTTP/2 preface) and, after a
//! loss or a mid-stream start, where the next message starts.
//!
//! Every answer may be "too short to tell" (`None`): the caller waits for
//! more bytes.

use crate::pool::WINDOW;

/// What a direction of a connection sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Role {
    /// Not known yet.
    #[default]
    Unknown,
    Request,
    Response,
}

/// Bytes scanned for a message start before a connection is called non-HTTP.
pub const MAX_SCAN: u32 = 256 * 1024;

/// What the first bytes of a direction are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum First {
    /// A TLS handshake record.
    Tls,
    /// The HTTP/2 connection preface.
    Http2,
    /// A status line: this direction sends responses.
    Status,
    /// A request line (with any method token: the caller decides whether
    /// to trust one that is not registered).
    Request,
    /// Neither: the bytes start mid-stream.
    Other,
}

/// What `b`, a direction's first bytes, are. `None`: too short to tell.
pub fn first(b: &[u8]) -> Option<First> {
    if b.len() >= 3 && b[0] == 0x16 && b[1] == 0x03 && b[2] <= 0x04 {
        return Some(First::Tls);
    }
    const H2: &[u8] = b"PRI * HTTP/2.0";
    let n = b.len().min(H2.len());
    if b[..n] == H2[..n] {
        if n < H2.len() {
            return None;
        }
        return Some(First::Http2);
    }
    Some(if looks_like_response(b)? {
        First::Status
    } else if looks_like_request(b)? {
        First::Request
    } else {
        First::Other
    })
}

/// Where a message may start in bytes searched after a loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// A message starts at this offset.
    Start(usize),
    /// A line from this offset (not 0) is too short to tell: skip to it.
    Cut(usize),
    /// The first line is too short to tell: wait for more.
    Wait,
    /// No message starts in these bytes.
    Nothing,
}

/// Look for the start of a message of `role` (either kind when unknown) at
/// the start of a line of `b`. `line_start`: `b` starts a line (otherwise a
/// start at offset 0 is believed only with a status line or a registered
/// method).
pub fn find_start(role: Role, b: &[u8], line_start: bool) -> Found {
    let mut line = 0;
    loop {
        let mut verdict = looks_like(role, &b[line..]);
        if line == 0
            && !line_start
            && verdict == Some(true)
            && looks_like_response(b) != Some(true)
            && !known_method(b)
        {
            // Mid-line after a loss: "ET /x HTTP/1.1" is not a request.
            verdict = Some(false);
        }
        match verdict {
            Some(true) => return Found::Start(line),
            // Could be a message start cut by the end of what we have.
            None if line > 0 => return Found::Cut(line),
            None => return Found::Wait,
            Some(false) => {}
        }
        match b[line..].iter().position(|&c| c == b'\n') {
            Some(nl) => line += nl + 1,
            None => break,
        }
        if line >= b.len() {
            break;
        }
    }
    Found::Nothing
}

/// Does `b` start with a registered method and a space?
pub fn known_method(b: &[u8]) -> bool {
    const M: &[&[u8]] = &[
        b"GET ",
        b"HEAD ",
        b"POST ",
        b"PUT ",
        b"DELETE ",
        b"CONNECT ",
        b"OPTIONS ",
        b"TRACE ",
        b"PATCH ",
        b"PROPFIND ",
        b"PROPPATCH ",
        b"MKCOL ",
        b"COPY ",
        b"MOVE ",
        b"LOCK ",
        b"UNLOCK ",
        b"SEARCH ",
        b"REPORT ",
        b"PURGE ",
    ];
    M.iter().any(|m| b.starts_with(m))
}

/// Does `b` start like a request line? `None`: too short to tell.
pub fn looks_like_request(b: &[u8]) -> Option<bool> {
    let mut i = 0;
    while i < b.len() && i < 24 {
        let c = b[i];
        if c == b' ' {
            if i < 2 {
                return Some(false);
            }
            // Method, then a target and " HTTP/1." before the end of the line.
            let line_end = b[i..].iter().position(|&c| c == b'\n');
            let line = match line_end {
                Some(e) => &b[i..i + e],
                None if b.len() - i > WINDOW => return Some(false),
                None => return None,
            };
            return Some(find(line, b" HTTP/1.").is_some() || find(line, b" HTTP/0.9").is_some());
        }
        let ok =
            c.is_ascii_uppercase() || (i > 0 && (c == b'_' || c == b'-' || c.is_ascii_digit()));
        if !ok {
            return Some(false);
        }
        i += 1;
    }
    if i == b.len() { None } else { Some(false) }
}

/// Does `b` start like a status line? `None`: too short to tell.
pub fn looks_like_response(b: &[u8]) -> Option<bool> {
    const P: &[u8] = b"HTTP/1.";
    let n = b.len().min(P.len());
    if b[..n] != P[..n] {
        return Some(false);
    }
    if b.len() < 12 {
        return None;
    }
    Some((b[7] == b'0' || b[7] == b'1') && b[8] == b' ' && b[9..12].iter().all(u8::is_ascii_digit))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn looks_like(role: Role, b: &[u8]) -> Option<bool> {
    match role {
        Role::Request => looks_like_request(b),
        Role::Response => looks_like_response(b),
        Role::Unknown => match (looks_like_request(b), looks_like_response(b)) {
            (Some(true), _) | (_, Some(true)) => Some(true),
            (None, _) | (_, None) => None,
            _ => Some(false),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_bytes() {
        let cases: &[(&[u8], Option<First>)] = &[
            (b"\x16\x03\x01\x02\x00", Some(First::Tls)),
            (b"\x16\x03\x04", Some(First::Tls)),
            (b"\x16\x03\x05", Some(First::Other)),
            (b"\x16\x03", Some(First::Other)),
            (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", Some(First::Http2)),
            (b"PRI * HTTP/2.0", Some(First::Http2)),
            (b"PRI * HT", None),
            (b"", None),
            (b"HTTP/1.1 200 OK\r\n", Some(First::Status)),
            (b"HTTP/1.0 404 \r\n", Some(First::Status)),
            (b"HTTP/1.1 20", None),
            (b"HTTP/1.2 200 OK\r\n", Some(First::Other)),
            (b"HTTP/2 200\r\n", Some(First::Other)),
            (b"GET / HTTP/1.1\r\n", Some(First::Request)),
            (b"FOO-2 /x HTTP/1.0\n", Some(First::Request)),
            (b"GET /x HTTP/0.9\n", Some(First::Request)),
            (b"GET / HTTP/1.1", None),
            (b"GE", None),
            (b"GET /x\r\n", Some(First::Other)),
            (b"get / HTTP/1.1\r\n", Some(First::Other)),
            (b"G / HTTP/1.1\r\n", Some(First::Other)),
            (b"2GET / HTTP/1.1\r\n", Some(First::Other)),
            (b"{\"a\":1}", Some(First::Other)),
        ];
        for &(b, want) in cases {
            assert_eq!(first(b), want, "{}", String::from_utf8_lossy(b));
        }
    }

    /// A request line too long to hold is not waited for.
    #[test]
    fn endless_request_line_is_not_a_request() {
        let mut b = b"GET /".to_vec();
        b.resize(WINDOW + 10, b'a');
        assert_eq!(looks_like_request(&b), Some(false));
        b.truncate(WINDOW);
        assert_eq!(looks_like_request(&b), None);
    }

    #[test]
    fn registered_methods() {
        let cases: &[(&[u8], bool)] = &[
            (b"GET /", true),
            (b"PROPPATCH /", true),
            (b"PURGE /", true),
            (b"GET", false),
            (b"GETS /", false),
            (b"get /", false),
            (b"FOO /", false),
        ];
        for &(b, want) in cases {
            assert_eq!(known_method(b), want, "{}", String::from_utf8_lossy(b));
        }
    }

    #[test]
    fn next_message_start() {
        use Found::*;
        use Role::*;
        let cases: &[(Role, &[u8], bool, Found)] = &[
            (Request, b"GET / HTTP/1.1\r\n", true, Start(0)),
            (Request, b"GET / HTTP/1.1\r\n", false, Start(0)),
            (Request, b"FOO /x HTTP/1.1\r\n", true, Start(0)),
            // Mid-line: only a registered method is believed.
            (Request, b"FOO /x HTTP/1.1\r\n", false, Nothing),
            (
                Request,
                b"ET /x HTTP/1.1\r\nGET / HTTP/1.1\r\n",
                false,
                Start(16),
            ),
            (Request, b"x\nFOO /x HTTP/1.1\r\n", false, Start(2)),
            (Request, b"x\nGET / HT", false, Cut(2)),
            (Request, b"GET / HT", true, Wait),
            (Request, b"HTTP/1.1 200 OK\r\n", true, Nothing),
            (Request, b"abc", false, Nothing),
            (Response, b"junk\nHTTP/1.1 200 OK\r\n", false, Start(5)),
            (Response, b"HTTP/1.1 200 OK\r\n", false, Start(0)),
            (Response, b"junk\nHTTP/1.", false, Cut(5)),
            (Response, b"HTTP/1.", false, Wait),
            (Response, b"abc\n", true, Nothing),
            (Response, b"GET / HTTP/1.1\r\n", true, Nothing),
            (Unknown, b"xx\nHTTP/1.0 404 x\r\n", false, Start(3)),
            (Unknown, b"xx\nGET / HTTP/1.1\r\n", false, Start(3)),
            (Unknown, b"HTTP/1.1 200 OK\r\n", false, Start(0)),
            (Unknown, b"xx\n\n", false, Nothing),
        ];
        for &(role, b, line_start, want) in cases {
            let got = find_start(role, b, line_start);
            assert_eq!(
                got,
                want,
                "{role:?} {line_start} {}",
                String::from_utf8_lossy(b)
            );
        }
    }
}
