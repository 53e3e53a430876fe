//! The terminal view (`--format text`, the default when `--out -` is a
//! terminal): one readable line per exchange, for a person watching a live
//! capture or taking a one-shot look at a capture file.
//!
//! ```text
//! 12:00:00.123 10.1.0.1:40000 → 10.1.0.2:8080 POST /api/users?active=1 201 1.23ms req 12B resp 2B
//! 12:00:00.130 10.1.0.1:40002 → 10.1.0.2:8080 GET /big 200 35.1ms resp 4.0MiB [truncated]
//! 12:00:01.001 10.1.0.1:40004 → 10.1.0.2:8080 GET /slow [no response] 10.0s
//! ```
//!
//! The time of the request's first packet (UTC, as the JSON's `ts`, to the
//! millisecond), client → server, method, request-target, status, duration
//! (to the response's last packet), the body sizes (the request's only when
//! it has a body), and in brackets what a person should not miss: a body
//! `[truncated]`, a body whose Content-Encoding could not be undone
//! (`[decode error]`), a request that got `[no response]`.
//!
//! **Escaping.** Bytes from the wire (method, target) are never written as
//! they came: the 94 visible ASCII characters `!`..`~` are, a backslash is
//! written `\\`, and every other byte — controls, space, DEL, and every byte
//! from 0x80, so also UTF-8 (no C1 controls, no bidirectional overrides) —
//! is written `\xNN`. A hostile target cannot move the cursor, set a title or
//! reorder what is shown, and a line is always one line of fields split by
//! spaces.
//!
//! **Cutting.** On a terminal, the target is cut at its end so that the whole
//! line fits the terminal's width (read before every line: it may be
//! resized), and ends in `…`; it is cut between escapes, never inside one.
//! It keeps at least 20 columns however narrow the terminal (the line then
//! wraps). A method longer than 20 columns is cut the same way. To a file or
//! a pipe (`--format text`) only a target wider than 4096 columns is cut, so
//! that every line fits the buffer reserved for it.
//!
//! **Colour** only on a terminal, and not when `NO_COLOR` is set (to anything
//! but empty) or `TERM` is `dumb`: the status by class (2xx green, 3xx cyan,
//! 4xx yellow, 5xx and no response red), the flags yellow, the time dim.
//! Outside a UTF-8 locale (`LC_ALL`, `LC_CTYPE`, `LANG`) the arrow, the
//! ellipsis and `µs` are written `->`, `...` and `us`.
//!
//! Lines are built in one buffer reserved at start-up and reused: nothing
//! is allocated per trace.

use std::io::{self, Write};
use std::net::IpAddr;
use std::os::fd::RawFd;
use std::time::Instant;

use super::{Next, Output, next};
use crate::json::{IpText, put_u64};
use crate::view::{Body, View};

/// How lines are written: for a terminal or for a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    /// Colours (ANSI SGR sequences).
    pub color: bool,
    /// `→`, `…` and `µs`; else `->`, `...` and `us`.
    pub utf8: bool,
    /// Columns the line must fit in (the target is cut); None: never cut.
    pub width: Option<usize>,
}

impl Style {
    /// For a file or a pipe: no colour, nothing cut; the locale's charset.
    pub fn plain() -> Style {
        Style {
            color: false,
            utf8: utf8_locale(&|k| std::env::var(k).ok()),
            width: None,
        }
    }

    /// For a terminal on `fd`: colour unless `NO_COLOR` or `TERM=dumb`,
    /// the terminal's width.
    pub fn terminal(fd: RawFd) -> Style {
        let env = |k: &str| std::env::var(k).ok();
        Style {
            color: wants_color(&env),
            utf8: utf8_locale(&env),
            width: columns(fd),
        }
    }
}

/// Colour unless `NO_COLOR` is set and not empty (no-color.org) or the
/// terminal is `dumb`.
fn wants_color(env: &dyn Fn(&str) -> Option<String>) -> bool {
    env("NO_COLOR").is_none_or(|v| v.is_empty()) && env("TERM").as_deref() != Some("dumb")
}

/// Does the locale's character set (the first of `LC_ALL`, `LC_CTYPE`,
/// `LANG` that is set) say UTF-8?
fn utf8_locale(env: &dyn Fn(&str) -> Option<String>) -> bool {
    ["LC_ALL", "LC_CTYPE", "LANG"]
        .iter()
        .find_map(|k| env(k).filter(|v| !v.is_empty()))
        .is_some_and(|v| {
            let v = v.to_ascii_lowercase();
            v.contains("utf-8") || v.contains("utf8")
        })
}

/// The width of the terminal on `fd`, if it is one and says.
fn columns(fd: RawFd) -> Option<usize> {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one `winsize` through the pointer, which
    // points to a live, writable `winsize` for the whole call; a bad fd or
    // a non-terminal only makes it fail.
    let r = unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws as *mut libc::winsize) };
    (r == 0 && ws.ws_col > 0).then_some(ws.ws_col as usize)
}

/// The text output: lines to a terminal, a pipe or a file.
pub struct Text {
    out: Box<dyn Write>,
    buf: Vec<u8>,
    style: Style,
    /// The terminal whose width is read before each line.
    tty: Option<RawFd>,
    /// Flush after every line (stdout: a person or a pipe is waiting).
    flush_each: bool,
}

/// Lines are written out once this much has gathered (a file).
const BATCH: usize = 64 * 1024;

impl Text {
    /// Lines in `style` to `out`; `tty`: the terminal `out` is, whose width
    /// is read again before every line.
    pub fn new(out: Box<dyn Write>, style: Style, tty: Option<RawFd>, flush_each: bool) -> Text {
        Text {
            out,
            // One batch plus a last line.
            buf: Vec::with_capacity(BATCH + MAX_LINE),
            style,
            tty,
            flush_each,
        }
    }

    fn line(&mut self, v: &View) -> io::Result<()> {
        if let Some(fd) = self.tty {
            self.style.width = columns(fd);
        }
        write_line(&mut self.buf, v, &self.style);
        if self.flush_each || self.buf.len() >= BATCH {
            let r = self.out.write_all(&self.buf);
            self.buf.clear();
            r?;
        }
        if self.flush_each {
            self.out.flush()?;
        }
        Ok(())
    }
}

impl Output for Text {
    fn write(&mut self, v: &View) -> Next {
        next(self.line(v))
    }

    fn reserved(&self) -> usize {
        self.buf.capacity()
    }

    fn finish(&mut self, _deadline: Instant) -> io::Result<()> {
        let r = self.out.write_all(&self.buf);
        self.buf.clear();
        r?;
        self.out.flush()
    }
}

/// The narrowest a target is cut to, and the longest method shown whole.
pub const MIN_TARGET: usize = 20;
const MAX_METHOD: usize = 20;
/// The widest a target is shown (to a file or a pipe; a terminal is narrower).
pub const MAX_TARGET: usize = 4096;
/// The longest line: the target and the method (escaped: ASCII, a byte a
/// column, and an ellipsis of up to 3 bytes) and the rest (addresses,
/// numbers, flags, colours: under 512 bytes).
const MAX_LINE: usize = MAX_TARGET + MAX_METHOD + 2 * 3 + 512;

const DIM: &[u8] = b"\x1b[2m";
const RED: &[u8] = b"\x1b[31m";
const GREEN: &[u8] = b"\x1b[32m";
const YELLOW: &[u8] = b"\x1b[33m";
const CYAN: &[u8] = b"\x1b[36m";
const RESET: &[u8] = b"\x1b[0m";

/// Append the exchange as one line (with its newline).
pub fn write_line(out: &mut Vec<u8>, v: &View, st: &Style) {
    let start = out.len();
    paint(out, st, DIM, |o| time_of_day(o, v.start_us));
    out.push(b' ');
    address(out, v.client);
    out.extend_from_slice(if st.utf8 { " → ".as_bytes() } else { b" -> " });
    address(out, v.server);
    out.push(b' ');
    escaped(out, v.req.method.as_bytes(), MAX_METHOD, st.utf8);
    out.push(b' ');
    // The rest first, so that the target knows its room; moved after it below.
    let at = out.len();
    out.push(b' ');
    match &v.resp {
        Some(r) => {
            let code = r.status;
            let color = match code {
                200..=299 => GREEN,
                300..=399 => CYAN,
                400..=499 => YELLOW,
                500..=599 => RED,
                _ => b"",
            };
            paint(out, st, color, |o| put_u64(o, code as u64));
        }
        None => paint(out, st, RED, |o| o.extend_from_slice(b"[no response]")),
    }
    out.push(b' ');
    duration(out, v.end_us.saturating_sub(v.start_us), st.utf8);
    let req = &v.req.body;
    if req.size > 0 || req.truncated || req.decode_error {
        body(out, b" req ", req, st);
    }
    if let Some(r) = &v.resp {
        body(out, b" resp ", &r.body, st);
    }
    let room = match st.width {
        Some(w) => w
            .saturating_sub(visible_width(&out[start..]))
            .clamp(MIN_TARGET, MAX_TARGET),
        None => MAX_TARGET,
    };
    let rest = out.len();
    escaped(out, v.req.target, room, st.utf8);
    let target_len = out.len() - rest;
    out[at..].rotate_right(target_len);
    out.push(b'\n');
}

/// `f`'s output in `color` (when colours are on and there is one).
fn paint(out: &mut Vec<u8>, st: &Style, color: &[u8], f: impl FnOnce(&mut Vec<u8>)) {
    let on = st.color && !color.is_empty();
    if on {
        out.extend_from_slice(color);
    }
    f(out);
    if on {
        out.extend_from_slice(RESET);
    }
}

/// A body's size and what is wrong with it, after `label`.
fn body(out: &mut Vec<u8>, label: &[u8], b: &Body, st: &Style) {
    out.extend_from_slice(label);
    size(out, b.size);
    let flag: &[u8] = match (b.truncated, b.decode_error) {
        (false, false) => return,
        (true, false) => b"[truncated]",
        (false, true) => b"[decode error]",
        (true, true) => b"[truncated, decode error]",
    };
    out.push(b' ');
    paint(out, st, YELLOW, |o| o.extend_from_slice(flag));
}

/// `HH:MM:SS.mmm` of a time in microseconds since the epoch (UTC).
fn time_of_day(out: &mut Vec<u8>, us: u64) {
    let secs = us / 1_000_000 % 86_400;
    let ms = us % 1_000_000 / 1000;
    two_digits(out, secs / 3600);
    out.push(b':');
    two_digits(out, secs / 60 % 60);
    out.push(b':');
    two_digits(out, secs % 60);
    out.push(b'.');
    out.push(b'0' + (ms / 100) as u8);
    two_digits(out, ms % 100);
}

/// `ip:port`, `[ipv6]:port`.
fn address(out: &mut Vec<u8>, (ip, port): (IpAddr, u16)) {
    let t = IpText::new(ip);
    if ip.is_ipv6() {
        out.push(b'[');
        out.extend_from_slice(t.as_bytes());
        out.push(b']');
    } else {
        out.extend_from_slice(t.as_bytes());
    }
    out.push(b':');
    put_u64(out, port as u64);
}

/// `n / 10^k` rounded, as `whole.frac` with `k` decimals.
fn decimals(out: &mut Vec<u8>, n: u64, k: u32) {
    let p = 10u64.pow(k);
    put_u64(out, n / p);
    if k > 0 {
        out.push(b'.');
        let mut f = n % p;
        for d in (0..k).rev() {
            let q = 10u64.pow(d);
            out.push(b'0' + (f / q) as u8);
            f %= q;
        }
    }
}

/// `x` divided by `unit`, rounded half up, in `10^-k` steps.
fn scaled(x: u64, unit: u64, k: u32) -> u64 {
    let p = 10u128.pow(k);
    ((x as u128 * p + unit as u128 / 2) / unit as u128) as u64
}

/// A duration with three significant digits: `850µs`, `1.23ms`, `12.3ms`,
/// `123ms`, `1.23s`, `12.3s`, then `2m03s` and `1h02m`.
fn duration(out: &mut Vec<u8>, us: u64, utf8: bool) {
    if us < 1000 {
        put_u64(out, us);
        out.extend_from_slice(if utf8 { "µs".as_bytes() } else { b"us" });
        return;
    }
    // (unit in µs, decimals, name, rounded value below which it is used)
    const STEPS: [(u64, u32, &[u8], u64); 5] = [
        (1000, 2, b"ms", 1000),     // 1.00ms to 9.99ms
        (1000, 1, b"ms", 1000),     // 10.0ms to 99.9ms
        (1000, 0, b"ms", 1000),     // 100ms to 999ms
        (1_000_000, 2, b"s", 1000), // 1.00s to 9.99s
        (1_000_000, 1, b"s", 600),  // 10.0s to 59.9s
    ];
    for (unit, k, name, below) in STEPS {
        let n = scaled(us, unit, k);
        if n < below {
            decimals(out, n, k);
            out.extend_from_slice(name);
            return;
        }
    }
    let secs = scaled(us, 1_000_000, 0);
    if secs < 3600 {
        put_u64(out, secs / 60);
        out.push(b'm');
        two_digits(out, secs % 60);
        out.push(b's');
    } else {
        let mins = scaled(us, 60_000_000, 0);
        put_u64(out, mins / 60);
        out.push(b'h');
        two_digits(out, mins % 60);
        out.push(b'm');
    }
}

/// `n` (below 100) as two digits.
fn two_digits(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(&[b'0' + (n / 10 % 10) as u8, b'0' + (n % 10) as u8]);
}

/// A size in bytes, binary units, at most one decimal: `812B`, `1.5KiB`,
/// `45KiB`, `1.0MiB`.
fn size(out: &mut Vec<u8>, n: u64) {
    if n < 1024 {
        put_u64(out, n);
        out.push(b'B');
        return;
    }
    let units: [&[u8]; 5] = [b"KiB", b"MiB", b"GiB", b"TiB", b"PiB"];
    for (i, name) in units.iter().enumerate() {
        let unit = 1u64 << (10 * (i + 1));
        let tenths = scaled(n, unit, 1);
        if tenths < 100 {
            decimals(out, tenths, 1);
        } else {
            let whole = scaled(n, unit, 0);
            if whole >= 1024 && i + 1 < units.len() {
                continue;
            }
            put_u64(out, whole);
        }
        out.extend_from_slice(name);
        return;
    }
}

/// Columns a byte takes once escaped.
fn escaped_width(b: u8) -> usize {
    match b {
        b'\\' => 2,
        b'!'..=b'~' => 1,
        _ => 4,
    }
}

/// Append `s` escaped (see the module's doc), cut at its end to `room`
/// columns with an ellipsis when it is wider.
fn escaped(out: &mut Vec<u8>, s: &[u8], room: usize, utf8: bool) {
    let (ellipsis, ellipsis_cols): (&[u8], usize) = if utf8 {
        ("…".as_bytes(), 1)
    } else {
        (b"...", 3)
    };
    let full: usize = s.iter().map(|&b| escaped_width(b)).sum();
    let budget = if full > room {
        room.saturating_sub(ellipsis_cols)
    } else {
        usize::MAX
    };
    let mut used = 0;
    for &b in s {
        let w = escaped_width(b);
        if used + w > budget {
            out.extend_from_slice(ellipsis);
            return;
        }
        used += w;
        match w {
            1 => out.push(b),
            2 => out.extend_from_slice(b"\\\\"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(&[
                    b'\\',
                    b'x',
                    HEX[(b >> 4) as usize],
                    HEX[(b & 15) as usize],
                ]);
            }
        }
    }
}

/// Columns `line` takes on a terminal: colour sequences take none, a UTF-8
/// character one (the line holds only ASCII and our own `→`, `…`, `µ`).
fn visible_width(line: &[u8]) -> usize {
    let mut cols = 0;
    let mut in_sgr = false;
    for &b in line {
        if in_sgr {
            in_sgr = b != b'm';
        } else if b == 0x1b {
            in_sgr = true;
        } else if !(0x80..0xc0).contains(&b) {
            cols += 1;
        }
    }
    cols
}

#[cfg(test)]
mod tests {
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
}
