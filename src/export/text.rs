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
//! (`[decode error]`), a request that got `[no response]`, a request that
//! was not well-formed (`[malformed]`).
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
    if let Some(h) = &v.h2 {
        h2_flags(out, h, st);
    }
    out.push(b' ');
    duration(out, v.end_us.saturating_sub(v.start_us), st.utf8);
    let req = &v.req.body;
    if req.size > 0 || req.truncated || req.decode_error || req.omitted {
        body(out, b" req ", req, st);
    }
    if let Some(r) = &v.resp {
        body(out, b" resp ", &r.body, st);
    }
    if v.req.malformed {
        out.push(b' ');
        paint(out, st, YELLOW, |o| o.extend_from_slice(b"[malformed]"));
    }
    let room = match st.width {
        Some(w) => w
            .saturating_sub(visible_width(&out[start..]))
            .clamp(MIN_TARGET, MAX_TARGET),
        None => MAX_TARGET,
    };
    let rest = out.len();
    let unknown = v.h2.as_ref().is_some_and(|h| h.path_unknown);
    escaped(
        out,
        if unknown { b"?" } else { v.req.target },
        room,
        st.utf8,
    );
    let target_len = out.len() - rest;
    out[at..].rotate_right(target_len);
    out.push(b'\n');
}

/// After an HTTP/2 stream's status: its gRPC status (`grpc 14`, red for
/// the server errors), and `[reset]` when an RST_STREAM or GOAWAY cut it.
fn h2_flags(out: &mut Vec<u8>, h: &crate::view::H2, st: &Style) {
    if let Some(code) = h.grpc.as_ref().and_then(|g| g.status) {
        out.extend_from_slice(b" grpc ");
        let server_error = h.grpc.as_ref().is_some_and(|g| g.server_error());
        let color = match code {
            0 => GREEN,
            _ if server_error => RED,
            _ => YELLOW,
        };
        paint(out, st, color, |o| put_u64(o, code as u64));
    }
    if h.reset.is_some() {
        out.push(b' ');
        paint(out, st, YELLOW, |o| o.extend_from_slice(b"[reset]"));
    }
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
        _ if b.omitted => b"[body not kept]",
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
mod tests;
