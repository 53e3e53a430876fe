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
