//! A completed exchange made readable once for every sink: heads read back
//! through their index (`exchange::index`), bodies made contiguous, decoded
//! (gzip/deflate) and redacted.
//!
//! All buffers live in `Scratch`, reserved at start-up and reused.

use std::io::Read;
use std::net::IpAddr;

use crate::exchange::index::{self, uninit_headers};
use crate::exchange::{Exchange, Msg};
use crate::policy;
use crate::pool::{Store, WINDOW};
use crate::tcp::Ends;

/// Reusable buffers for building views.
pub struct Scratch {
    req_head: Vec<u8>,
    resp_head: Vec<u8>,
    target: Vec<u8>,
    bodies: [[Vec<u8>; 2]; 2],
    max_body: usize,
}

impl Scratch {
    pub fn new(max_body: usize) -> Scratch {
        // Twice the cap: redaction writes at most `max_body` plus one token.
        let buf = || Vec::with_capacity(2 * max_body + 64);
        Scratch {
            req_head: Vec::with_capacity(WINDOW + index::MAX),
            resp_head: Vec::with_capacity(WINDOW + index::MAX),
            target: Vec::with_capacity(1024),
            bodies: [[buf(), buf()], [buf(), buf()]],
            max_body,
        }
    }

    pub fn reserved(&self) -> usize {
        self.req_head.capacity()
            + self.resp_head.capacity()
            + self.target.capacity()
            + self
                .bodies
                .iter()
                .flatten()
                .map(Vec::capacity)
                .sum::<usize>()
    }
}

/// A body ready to show.
#[derive(Debug, Clone, Copy)]
pub struct Body<'a> {
    pub bytes: &'a [u8],
    /// Decoded size of the whole body (kept or not).
    pub size: u64,
    /// Size as transferred (after de-chunking, before Content-Encoding is undone).
    pub wire_size: u64,
    pub truncated: bool,
    /// Content-Encoding could not be undone: `bytes` are as sent.
    pub decode_error: bool,
    pub text: bool,
}

/// Header name and (possibly redacted) value.
pub type Header<'a> = (&'a str, &'a [u8]);

/// Headers shown in a trace: at most this many per message (httparse reads
/// up to 256; a message with more shows its first ones).
pub const SHOWN_HEADERS: usize = 128;

/// A message's headers as shown.
pub type Headers<'a> = &'a [Header<'a>];

type Slots<'a> = [std::mem::MaybeUninit<Header<'a>>; SHOWN_HEADERS];

/// Room for the headers of one view (request and response), on the caller's
/// stack: filled by `build` without being cleared first, and never moved.
pub struct HeaderSlots<'a> {
    req: Slots<'a>,
    resp: Slots<'a>,
}

impl Default for HeaderSlots<'_> {
    fn default() -> Self {
        HeaderSlots {
            req: [const { std::mem::MaybeUninit::uninit() }; SHOWN_HEADERS],
            resp: [const { std::mem::MaybeUninit::uninit() }; SHOWN_HEADERS],
        }
    }
}

pub struct Req<'a> {
    pub method: &'a str,
    /// The request-target as sent (query secrets redacted).
    pub target: &'a [u8],
    pub path: &'a [u8],
    pub query: Option<&'a [u8]>,
    pub version: u8,
    pub host: Option<&'a [u8]>,
    pub headers: Headers<'a>,
    pub body: Body<'a>,
}

pub struct Resp<'a> {
    pub status: u16,
    pub reason: &'a str,
    pub version: u8,
    pub headers: Headers<'a>,
    pub body: Body<'a>,
}

pub struct View<'a> {
    pub start_us: u64,
    pub end_us: u64,
    pub client: (IpAddr, u16),
    pub server: (IpAddr, u16),
    pub req: Req<'a>,
    pub resp: Option<Resp<'a>>,
}

impl View<'_> {
    /// The host as filters see it: Host header without port, else the server address.
    pub fn host_for_rules(&self, buf: &mut String) {
        buf.clear();
        match self.req.host.and_then(|h| std::str::from_utf8(h).ok()) {
            Some(h) => buf.push_str(policy::host_without_port(h)),
            None => {
                use std::fmt::Write;
                let _ = write!(buf, "{}", self.server.0);
            }
        }
    }

    pub fn header<'h>(headers: &[Header<'h>], name: &str) -> Option<&'h [u8]> {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Coding {
    Identity,
    Gzip,
    Deflate,
}

fn coding(headers: &[httparse::Header<'_>]) -> Coding {
    let mut c = Coding::Identity;
    for h in headers {
        if h.name.eq_ignore_ascii_case("content-encoding") {
            let v = String::from_utf8_lossy(h.value).trim().to_ascii_lowercase();
            c = match v.as_str() {
                "gzip" | "x-gzip" => Coding::Gzip,
                "deflate" => Coding::Deflate,
                "" | "identity" => c,
                // Another coding (br, zstd, a chain): leave the body as sent.
                _ => return Coding::Identity,
            };
        }
    }
    c
}

fn is_json(headers: &[httparse::Header<'_>], body: &[u8]) -> bool {
    let ct = headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-type"))
        .map(|h| h.value);
    match ct {
        Some(v) => v.windows(4).any(|w| w.eq_ignore_ascii_case(b"json")),
        None => matches!(
            body.iter().find(|b| !b.is_ascii_whitespace()),
            Some(b'{' | b'[')
        ),
    }
}

/// Copy, decode and redact one body, in one of `bufs`.
fn prepare_body<'a>(
    store: &Store,
    m: &Msg,
    headers: &[httparse::Header<'_>],
    redact: bool,
    max: usize,
    bufs: &'a mut [Vec<u8>; 2],
) -> Body<'a> {
    let [a, b] = bufs;
    a.clear();
    let mut ascii = true;
    for s in store.slices(&m.chain, m.body_start()) {
        ascii &= extend_ascii(a, s);
    }
    let mut cur = 0;
    let mut decode_error = false;
    let mut decoded = false;
    let mut capped = false;
    let cod = coding(headers);
    if cod != Coding::Identity && !a.is_empty() {
        b.clear();
        let limit = max as u64;
        let r = match cod {
            Coding::Gzip => flate2::read::MultiGzDecoder::new(&a[..])
                .take(limit + 1)
                .read_to_end(b),
            _ => {
                let z = flate2::read::ZlibDecoder::new(&a[..])
                    .take(limit + 1)
                    .read_to_end(b);
                if z.is_err() {
                    b.clear();
                    flate2::read::DeflateDecoder::new(&a[..])
                        .take(limit + 1)
                        .read_to_end(b)
                } else {
                    z
                }
            }
        };
        match r {
            Ok(_) => {
                cur = 1;
                decoded = true;
                // More than the cap came out: keep the cap, say so.
                if b.len() as u64 > limit {
                    b.truncate(limit as usize);
                    capped = true;
                }
            }
            // A body cut short still decodes as far as it goes.
            Err(_) if (m.truncated || !m.complete) && !b.is_empty() => {
                cur = 1;
                decoded = true;
                if b.len() as u64 > limit {
                    b.truncate(limit as usize);
                    capped = true;
                }
            }
            Err(_) => decode_error = true,
        }
    }
    if redact {
        let (src, dst) = if cur == 0 {
            (&*a, &mut *b)
        } else {
            (&*b, &mut *a)
        };
        if !src.is_empty() && is_json(headers, src) && policy::mentions_secret(src) {
            dst.clear();
            if policy::redact_json_upto(dst, src, max) {
                cur = 1 - cur;
                if dst.len() > max {
                    dst.truncate(max);
                    capped = true;
                }
            }
        }
    }
    let bytes: &'a [u8] = &bufs[cur];
    Body {
        bytes,
        size: if decoded {
            bytes.len() as u64
        } else {
            m.body_size
        },
        wire_size: m.body_size,
        truncated: m.truncated || !m.complete || capped,
        decode_error,
        // Still the copy (not decoded or redacted): what the copy saw holds.
        text: text(bytes, cur == 0 && ascii),
    }
}

/// Append `s` to `out`; true if it is all ASCII. One pass where the CPU has
/// AVX2: the body copy also answers `text`'s first question.
fn extend_ascii(out: &mut Vec<u8>, s: &[u8]) -> bool {
    #[cfg(target_arch = "x86_64")]
    if crate::arch::avx2() {
        // SAFETY: the CPU has AVX2.
        return unsafe { crate::arch::x86_64::ascii::extend_ascii_avx2(out, s) };
    }
    out.extend_from_slice(s);
    s.is_ascii()
}

/// The body as a JSON string: text escaped, anything else base64 (every
/// output shows bodies this way).
pub fn body_str(out: &mut Vec<u8>, b: &Body) {
    out.push(b'"');
    if b.text {
        crate::json::escape(out, b.bytes, false);
    } else {
        crate::json::base64(out, b.bytes);
    }
    out.push(b'"');
}

/// Text (shown escaped) or not (shown as base64)? `ascii`: known ASCII.
fn text(b: &[u8], ascii: bool) -> bool {
    ascii || b.is_ascii() || std::str::from_utf8(b).is_ok()
}

/// Build the view of `ex`. Heads are not parsed again: their parts come from
/// the index the parser kept with them (`exchange::index`).
pub fn build<'s>(
    s: &'s mut Scratch,
    slots: &'s mut HeaderSlots<'s>,
    ex: &Exchange,
    ends: &Ends,
    store: &Store,
    redact: bool,
) -> View<'s> {
    let max = s.max_body;
    let Scratch {
        req_head,
        resp_head,
        target: target_buf,
        bodies: [req_bufs, resp_bufs],
        ..
    } = s;
    store.copy_prefix(&ex.req.chain, ex.req.body_start(), req_head);
    resp_head.clear();
    if ex.has_resp {
        store.copy_prefix(&ex.resp.chain, ex.resp.body_start(), resp_head);
    }
    let (req_head, req_index) = req_head.split_at((ex.req.head_len as usize).min(req_head.len()));
    let (resp_head, resp_index) =
        resp_head.split_at((ex.resp.head_len as usize).min(resp_head.len()));

    let mut hb = uninit_headers();
    let (line, req_headers) = index::request(req_head, req_index, &mut hb);
    let req_body = prepare_body(store, &ex.req, req_headers, redact, max, req_bufs);
    target_buf.clear();
    let raw_target = line.target.as_bytes();
    match raw_target.iter().position(|&b| b == b'?') {
        Some(q) if redact => {
            target_buf.extend_from_slice(&raw_target[..=q]);
            policy::redact_query(target_buf, &raw_target[q + 1..]);
        }
        _ => target_buf.extend_from_slice(raw_target),
    }
    let target: &'s [u8] = target_buf;
    let headers = collect_headers(req_headers, redact, &mut slots.req);
    let host = View::header(headers, "host");
    let (path, query) = match target.iter().position(|&b| b == b'?') {
        Some(q) => (&target[..q], Some(&target[q + 1..])),
        None => (target, None),
    };
    let req_view = Req {
        method: line.method,
        target,
        path,
        query,
        version: line.version,
        host,
        headers,
        body: req_body,
    };

    let resp_view = if ex.has_resp {
        let mut hb = uninit_headers();
        let (status, resp_headers) = index::response(resp_head, resp_index, &mut hb);
        let body = prepare_body(store, &ex.resp, resp_headers, redact, max, resp_bufs);
        Some(Resp {
            status: status.status,
            reason: status.reason,
            version: status.version,
            headers: collect_headers(resp_headers, redact, &mut slots.resp),
            body,
        })
    } else {
        None
    };
    let c = ex.client_dir;
    let sv = c.flip();
    View {
        start_us: ex.req.first_ts,
        end_us: if ex.has_resp {
            ex.resp.last_ts
        } else {
            ex.req.last_ts
        },
        client: (ends.addr[c].to_std(), ends.port[c]),
        server: (ends.addr[sv].to_std(), ends.port[sv]),
        req: req_view,
        resp: resp_view,
    }
}

fn collect_headers<'a>(
    hs: &[httparse::Header<'a>],
    redact: bool,
    slots: &'a mut Slots<'a>,
) -> Headers<'a> {
    let mut len = 0;
    for h in hs.iter().filter(|h| !h.name.is_empty()).take(SHOWN_HEADERS) {
        slots[len].write((h.name, policy::header_value(redact, h.name, h.value)));
        len += 1;
    }
    // SAFETY: the first `len` slots were written just above, and MaybeUninit<T>
    // has the layout of T.
    unsafe { std::slice::from_raw_parts(slots.as_ptr().cast::<Header<'a>>(), len) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The copy is exact and says ASCII exactly when there is no byte from
    /// 0x80, wherever that byte is, appended after what `out` had.
    #[test]
    fn copy_tells_ascii() {
        for n in 0..140 {
            let plain: Vec<u8> = (0..n).map(|k| b' ' + (k * 7 % 95) as u8).collect();
            for high in std::iter::once(None).chain((0..n).map(Some)) {
                let mut s = plain.clone();
                if let Some(k) = high {
                    s[k] = 0x80 | (k as u8);
                }
                let mut out = b"kept".to_vec();
                let ascii = extend_ascii(&mut out, &s);
                assert_eq!(&out[..4], b"kept");
                assert_eq!(&out[4..], &s[..], "n={n} high={high:?}");
                assert_eq!(ascii, high.is_none(), "n={n} high={high:?}");
            }
        }
    }
}
