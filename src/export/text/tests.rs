use super::*;
use crate::view::{Req, Resp};

/// 2024-05-01T12:00:00.123456Z
const T0: u64 = 1_714_564_800_123_456;

fn body(size: u64) -> Body<'static> {
    Body {
        bytes: b"",
        size,
        wire_size: size,
        truncated: false,
        decode_error: false,
        omitted: false,
        text: true,
    }
}

/// An exchange of 1.5 ms: `GET target`, 200, no bodies.
fn view(target: &'static [u8]) -> View<'static> {
    View {
        start_us: T0,
        end_us: T0 + 1500,
        client: ("10.1.0.1".parse().unwrap(), 40000),
        server: ("10.1.0.2".parse().unwrap(), 8080),
        req: Req {
            method: "GET",
            target,
            path: target,
            query: None,
            version: 1,
            odd_version: None,
            malformed: false,
            host: None,
            headers: &[],
            body: body(0),
        },
        resp: Some(Resp {
            status: 200,
            reason: "OK",
            version: 1,
            headers: &[],
            body: body(0),
        }),
        h2: None,
    }
}

fn line(v: &View, st: &Style) -> String {
    let mut out = b"before|".to_vec();
    write_line(&mut out, v, st);
    assert!(out.starts_with(b"before|"));
    assert_eq!(out.last(), Some(&b'\n'));
    assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1);
    String::from_utf8(out[7..out.len() - 1].to_vec()).unwrap()
}

const ASCII: Style = Style {
    color: false,
    utf8: false,
    width: None,
};
const UTF8: Style = Style {
    color: false,
    utf8: true,
    width: None,
};

#[test]
fn lines() {
    type Edit = fn(&mut View<'static>);
    let cases: &[(&str, Edit, &str)] = &[
        (
            "plain GET",
            |_| {},
            "12:00:00.123 10.1.0.1:40000 -> 10.1.0.2:8080 GET /a 200 1.50ms resp 0B",
        ),
        (
            "POST with bodies",
            |v| {
                v.req.method = "POST";
                v.req.body = body(12);
                v.resp.as_mut().unwrap().status = 201;
                v.resp.as_mut().unwrap().body = body(2048);
            },
            "12:00:00.123 10.1.0.1:40000 -> 10.1.0.2:8080 POST /a 201 1.50ms req 12B resp 2.0KiB",
        ),
        (
            "no response",
            |v| {
                v.resp = None;
                v.end_us = v.start_us + 10_000_000;
            },
            "12:00:00.123 10.1.0.1:40000 -> 10.1.0.2:8080 GET /a [no response] 10.0s",
        ),
        (
            "truncated response, undecodable request",
            |v| {
                v.req.body = Body {
                    decode_error: true,
                    ..body(10)
                };
                v.resp.as_mut().unwrap().body = Body {
                    truncated: true,
                    ..body(5 << 20)
                };
            },
            "12:00:00.123 10.1.0.1:40000 -> 10.1.0.2:8080 GET /a 200 1.50ms \
             req 10B [decode error] resp 5.0MiB [truncated]",
        ),
        (
            "both flags, empty request body still shown",
            |v| {
                v.req.body = Body {
                    truncated: true,
                    decode_error: true,
                    ..body(0)
                };
            },
            "12:00:00.123 10.1.0.1:40000 -> 10.1.0.2:8080 GET /a 200 1.50ms \
             req 0B [truncated, decode error] resp 0B",
        ),
        (
            "a request kept as its head only, traced for its 500 (sampling)",
            |v| {
                v.req.method = "POST";
                v.req.body = Body {
                    truncated: true,
                    omitted: true,
                    ..body(300)
                };
                v.resp.as_mut().unwrap().status = 500;
            },
            "12:00:00.123 10.1.0.1:40000 -> 10.1.0.2:8080 POST /a 500 1.50ms \
             req 300B [body not kept] resp 0B",
        ),
        (
            "malformed request",
            |v| {
                v.req.malformed = true;
                v.resp.as_mut().unwrap().status = 400;
            },
            "12:00:00.123 10.1.0.1:40000 -> 10.1.0.2:8080 GET /a 400 1.50ms resp 0B [malformed]",
        ),
        (
            "IPv6, 404",
            |v| {
                v.client = ("2001:db8::1".parse().unwrap(), 51000);
                v.server = ("::1".parse().unwrap(), 80);
                v.resp.as_mut().unwrap().status = 404;
            },
            "12:00:00.123 [2001:db8::1]:51000 -> [::1]:80 GET /a 404 1.50ms resp 0B",
        ),
        (
            "hostile target",
            |v| v.req.target = b"/\x1b]0;owned\x07\x1b[2J\r\n\\x\x7f\x9b\xc2\x9b\xe2\x80\xae a",
            "12:00:00.123 10.1.0.1:40000 -> 10.1.0.2:8080 \
             GET /\\x1b]0;owned\\x07\\x1b[2J\\x0d\\x0a\\\\x\\x7f\\x9b\\xc2\\x9b\\xe2\\x80\\xae\\x20a \
             200 1.50ms resp 0B",
        ),
        (
            "hostile method",
            |v| v.req.method = "G\u{1b}[31mET",
            "12:00:00.123 10.1.0.1:40000 -> 10.1.0.2:8080 G\\x1b[31mET /a 200 1.50ms resp 0B",
        ),
        (
            "long method cut at 20 columns",
            |v| v.req.method = "PROPFINDPROPFINDPROPFIND",
            "12:00:00.123 10.1.0.1:40000 -> 10.1.0.2:8080 PROPFINDPROPFINDP... /a 200 1.50ms resp 0B",
        ),
    ];
    for (what, edit, want) in cases {
        let mut v = view(b"/a");
        edit(&mut v);
        assert_eq!(line(&v, &ASCII), *want, "{what}");
        // A terminal wide enough changes nothing.
        let wide = Style {
            width: Some(1000),
            ..ASCII
        };
        assert_eq!(line(&v, &wide), *want, "{what}, wide terminal");
    }
    let v = view(b"/a");
    assert_eq!(
        line(&v, &UTF8),
        "12:00:00.123 10.1.0.1:40000 → 10.1.0.2:8080 GET /a 200 1.50ms resp 0B"
    );
}

/// The target is cut at its end so that the line fits, between escapes.
#[test]
fn cutting() {
    // The line without its target: 68 columns (67 with the one-column arrow).
    let fixed = "12:00:00.123 10.1.0.1:40000 -> 10.1.0.2:8080 GET  200 1.50ms resp 0B".len();
    let fixed_utf8 = fixed - 1;
    let long: &'static [u8] = b"/api/v1/users/12345/orders?page=2&sort=desc";
    let cases: &[(Style, &'static [u8], &str)] = &[
        // Fits exactly: whole.
        (
            Style {
                width: Some(fixed + long.len()),
                ..ASCII
            },
            long,
            "/api/v1/users/12345/orders?page=2&sort=desc",
        ),
        // One column short: cut, with the ellipsis in the room.
        (
            Style {
                width: Some(fixed + long.len() - 1),
                ..ASCII
            },
            long,
            "/api/v1/users/12345/orders?page=2&sort=...",
        ),
        (
            Style {
                width: Some(fixed_utf8 + long.len() - 1),
                ..UTF8
            },
            long,
            "/api/v1/users/12345/orders?page=2&sort=de…",
        ),
        (
            Style {
                width: Some(fixed_utf8 + 30),
                ..UTF8
            },
            long,
            "/api/v1/users/12345/orders?pa…",
        ),
        // Narrower than the rest of the line: 20 columns all the same.
        (
            Style {
                width: Some(40),
                ..UTF8
            },
            long,
            "/api/v1/users/12345…",
        ),
        (
            Style {
                width: Some(40),
                ..ASCII
            },
            long,
            "/api/v1/users/123...",
        ),
        // An escape is never split: \xe2 would end at column 21.
        (
            Style {
                width: Some(40),
                ..UTF8
            },
            b"/abcdefghijklmnop\xe2\x80\xae",
            "/abcdefghijklmnop…",
        ),
        (
            Style {
                width: Some(40),
                ..UTF8
            },
            b"/abcdefghijklmn\xe2\x80\xae",
            "/abcdefghijklmn\\xe2…",
        ),
        (
            Style {
                width: Some(40),
                ..UTF8
            },
            b"/abcdefghijklmnopq\\\\",
            "/abcdefghijklmnopq…",
        ),
        // Not a terminal: nothing is cut...
        (ASCII, long, "/api/v1/users/12345/orders?page=2&sort=desc"),
    ];
    for (st, target, want) in cases {
        let v = view(target);
        let got = line(&v, st);
        let shown = got.split(' ').nth(5).unwrap();
        assert_eq!(shown, *want, "{st:?}: {got}");
        if let Some(w) = st.width
            && w >= fixed + MIN_TARGET
        {
            assert!(got.chars().count() <= w, "{st:?}: {got}");
        }
    }
    // ... up to 4096 columns, escapes whole, and a terminal never gets more.
    for (len, byte, st, shown) in [
        (4096, b'x', ASCII, 4096),
        (4097, b'x', ASCII, 4093),
        (4097, b'x', UTF8, 4095),
        (1024, 0x9b, UTF8, 4096),
        (1025, 0x9b, UTF8, 4092),
        (
            9000,
            b'x',
            Style {
                width: Some(60_000),
                ..UTF8
            },
            4095,
        ),
    ] {
        let target: Vec<u8> = std::iter::repeat_n(byte, len).collect();
        let target: &'static [u8] = Box::leak(target.into_boxed_slice());
        let got = line(&view(target), &st);
        let field = got.split(' ').nth(5).unwrap();
        let ellipsis = if len * escaped_width(byte) > MAX_TARGET {
            if st.utf8 { "…" } else { "..." }
        } else {
            ""
        };
        let body = field.strip_suffix(ellipsis).unwrap();
        assert_eq!(body.len(), shown, "{len} {byte} {st:?}");
        assert!(field.chars().count() <= MAX_TARGET, "{len} {byte} {st:?}");
    }
}

/// Colours change only the escapes around fields, and the cut counts
/// none of them.
#[test]
fn colour() {
    let st = Style {
        color: true,
        utf8: true,
        width: Some(100),
    };
    let mut v = view(b"/a");
    v.resp.as_mut().unwrap().status = 503;
    v.resp.as_mut().unwrap().body = Body {
        truncated: true,
        ..body(3)
    };
    assert_eq!(
        line(&v, &st),
        "\x1b[2m12:00:00.123\x1b[0m 10.1.0.1:40000 → 10.1.0.2:8080 GET /a \
         \x1b[31m503\x1b[0m 1.50ms resp 3B \x1b[33m[truncated]\x1b[0m"
    );
    let long: Vec<u8> = std::iter::once(b'/')
        .chain(std::iter::repeat_n(b'x', 200))
        .collect();
    let long: &'static [u8] = Box::leak(long.into_boxed_slice());
    let v = view(long);
    let got = line(&v, &st);
    assert_eq!(visible_width(got.as_bytes()), 100, "{got}");
    for (code, color) in [(101, ""), (204, "32"), (304, "36"), (429, "33"), (999, "")] {
        let mut v = view(b"/a");
        v.resp.as_mut().unwrap().status = code;
        let got = line(&v, &st);
        let want = if color.is_empty() {
            format!(" {code} ")
        } else {
            format!(" \x1b[{color}m{code}\x1b[0m ")
        };
        assert!(got.contains(&want), "{code}: {got:?}");
    }
    let mut v = view(b"/a");
    v.resp = None;
    assert!(line(&v, &st).contains("\x1b[31m[no response]\x1b[0m"));
}

#[test]
fn durations() {
    for (us, want) in [
        (0, "0µs"),
        (999, "999µs"),
        (1000, "1.00ms"),
        (1234, "1.23ms"),
        (1235, "1.24ms"),
        (9994, "9.99ms"),
        (9995, "10.0ms"),
        (99_949, "99.9ms"),
        (99_950, "100ms"),
        (999_499, "999ms"),
        (999_500, "1.00s"),
        (12_340_000, "12.3s"),
        (59_949_999, "59.9s"),
        (59_950_000, "1m00s"),
        (123_000_000, "2m03s"),
        (3_599_499_999, "59m59s"),
        (3_599_500_000, "1h00m"),
        (3_720_000_000, "1h02m"),
        (100 * 3_600_000_000, "100h00m"),
    ] {
        let mut out = Vec::new();
        duration(&mut out, us, true);
        assert_eq!(String::from_utf8(out).unwrap(), want, "{us}");
    }
    let mut out = Vec::new();
    duration(&mut out, 850, false);
    assert_eq!(out, b"850us");
}

#[test]
fn sizes() {
    for (n, want) in [
        (0, "0B"),
        (1023, "1023B"),
        (1024, "1.0KiB"),
        (1500, "1.5KiB"),
        (10_188, "9.9KiB"),
        (10_189, "10KiB"),
        (46_080, "45KiB"),
        (1_047_552, "1023KiB"),
        (1_048_064, "1.0MiB"),
        (1_048_576 - 1, "1.0MiB"),
        (5 << 20, "5.0MiB"),
        (u64::MAX, "16384PiB"),
    ] {
        let mut out = Vec::new();
        size(&mut out, n);
        assert_eq!(String::from_utf8(out).unwrap(), want, "{n}");
    }
}

#[test]
fn times_of_day() {
    for (us, want) in [
        (0, "00:00:00.000"),
        (T0, "12:00:00.123"),
        (86_399_999_999, "23:59:59.999"),
        (86_400_000_000 + 61_001_000, "00:01:01.001"),
    ] {
        let mut out = Vec::new();
        time_of_day(&mut out, us);
        assert_eq!(String::from_utf8(out).unwrap(), want, "{us}");
    }
}

#[test]
fn environment() {
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |k: &str| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    };
    for (pairs, color, utf8) in [
        (&[][..], true, false),
        (&[("LANG", "C.UTF-8")][..], true, true),
        (&[("LANG", "en_US.utf8"), ("NO_COLOR", "")][..], true, true),
        (&[("LANG", "en_US.UTF-8"), ("LC_ALL", "C")][..], true, false),
        (
            &[("LC_CTYPE", "de_DE.UTF-8"), ("LANG", "C")][..],
            true,
            true,
        ),
        (&[("LC_ALL", ""), ("LANG", "C.UTF-8")][..], true, true),
        (&[("NO_COLOR", "1")][..], false, false),
        (&[("TERM", "dumb")][..], false, false),
        (&[("TERM", "xterm-256color")][..], true, false),
    ] {
        let e = env(pairs);
        assert_eq!(wants_color(&e), color, "{pairs:?}");
        assert_eq!(utf8_locale(&e), utf8, "{pairs:?}");
    }
}

/// The output writes what it was given, flushed per line or at finish.
#[test]
fn output_writes_lines() {
    use std::cell::RefCell;
    use std::rc::Rc;
    #[derive(Clone, Default)]
    struct Shared(Rc<RefCell<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.borrow_mut().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    for flush_each in [true, false] {
        let sink = Shared::default();
        let mut t = Text::new(Box::new(sink.clone()), ASCII, None, flush_each);
        assert!(t.write(&view(b"/one")).is_continue());
        assert!(t.write(&view(b"/two")).is_continue());
        assert_eq!(sink.0.borrow().is_empty(), !flush_each);
        t.finish(Instant::now()).unwrap();
        let got = String::from_utf8(sink.0.borrow().clone()).unwrap();
        assert_eq!(got.lines().count(), 2, "{got}");
        assert!(got.contains(" GET /one 200 ") && got.contains(" GET /two 200 "));
    }
}
