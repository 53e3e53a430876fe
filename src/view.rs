//! A completed exchange made readable once for every sink: heads read back
//! through their index (`exchange::index`), bodies made contiguous, decoded
//! (gzip/deflate) and redacted.
//!
//! All buffers live in `Scratch`, reserved at start-up and reused.

use std::io::Read;
use std::net::IpAddr;

use crate::exchange::index::{self, Ext, uninit_headers};
use crate::exchange::{Exchange, Form, Msg};
use crate::http2::grpc;
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
    /// HTTP/2: a response's trailers (head and index), and a gRPC status
    /// message percent-decoded.
    trailers: Vec<u8>,
    grpc_message: Vec<u8>,
}

/// Longest gRPC status message shown (longer ones are cut at a character).
const GRPC_MESSAGE: usize = 4096;

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
            trailers: Vec::with_capacity(WINDOW + index::MAX),
            grpc_message: vec![0; GRPC_MESSAGE],
        }
    }

    pub fn reserved(&self) -> usize {
        self.req_head.capacity()
            + self.resp_head.capacity()
            + self.trailers.capacity()
            + self.grpc_message.capacity()
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
    /// Not kept on purpose: the sampler kept only this request's head,
    /// and traced the exchange for its response (a new error).
    pub omitted: bool,
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

/// Room for the headers of one view (request, response and trailers), on
/// the caller's stack: filled by `build` without being cleared first, and
/// never moved.
pub struct HeaderSlots<'a> {
    req: Slots<'a>,
    resp: Slots<'a>,
    trailers: Slots<'a>,
}

impl Default for HeaderSlots<'_> {
    fn default() -> Self {
        HeaderSlots {
            req: [const { std::mem::MaybeUninit::uninit() }; SHOWN_HEADERS],
            resp: [const { std::mem::MaybeUninit::uninit() }; SHOWN_HEADERS],
            trailers: [const { std::mem::MaybeUninit::uninit() }; SHOWN_HEADERS],
        }
    }
}

pub struct Req<'a> {
    pub method: &'a str,
    /// The request-target as sent (query secrets redacted).
    pub target: &'a [u8],
    pub path: &'a [u8],
    pub query: Option<&'a [u8]>,
    /// HTTP/1's minor version (0, 1), or 2 for HTTP/2 ([`version_text`]).
    pub version: u8,
    /// A malformed request line's version as seen (empty when it had none);
    /// None when it said HTTP/1.0 or HTTP/1.1 (`version`).
    pub odd_version: Option<&'a str>,
    /// The request was not well-formed (`exchange::Form`): what could be
    /// read of it.
    pub malformed: bool,
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
    /// What an HTTP/2 stream has besides HTTP/1's parts (None for HTTP/1).
    pub h2: Option<H2<'a>>,
}

/// `HTTP/1.0`, `HTTP/1.1` or `HTTP/2`, from a message's version.
pub fn version_text(version: u8) -> &'static [u8] {
    match version {
        0 => b"HTTP/1.0",
        2 => b"HTTP/2",
        _ => b"HTTP/1.1",
    }
}

/// An HTTP/2 stream's own parts.
#[derive(Clone, Copy, Debug, Default)]
pub struct H2<'a> {
    pub stream: u32,
    /// The request's `:path` could not be known (capture started
    /// mid-connection): target, path and query are empty, shown as null.
    pub path_unknown: bool,
    /// Its `:method` could not be known: the method is empty, shown as null.
    pub method_unknown: bool,
    /// Header fields left out of the request, of the response (trailers
    /// included): they could not be known, or did not fit.
    pub req_unknown: u32,
    pub resp_unknown: u32,
    /// The response's trailers, when it had some.
    pub trailers: Option<Headers<'a>>,
    /// The stream was ended by an RST_STREAM or a GOAWAY.
    pub reset: Option<Reset>,
    /// A gRPC call (request or response content-type `application/grpc*`).
    pub grpc: Option<Grpc<'a>>,
}

impl H2<'_> {
    /// Something the trace would show is missing: `:path` or `:method`.
    pub fn partial(&self) -> bool {
        self.path_unknown || self.method_unknown
    }
}

/// How a stream was cut short.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reset {
    /// The error code (RFC 9113 §7).
    pub code: u32,
    /// Sent by the server (else the client).
    pub by_server: bool,
    /// A GOAWAY (the stream was above the last one the server processed),
    /// not an RST_STREAM.
    pub goaway: bool,
}

/// A gRPC call's parts.
#[derive(Clone, Copy, Debug, Default)]
pub struct Grpc<'a> {
    /// From `:path` (`/service/method`); None when it has another shape or
    /// is unknown.
    pub service: Option<&'a [u8]>,
    pub method: Option<&'a [u8]>,
    /// `grpc-status` from the trailers or a trailers-only response, else
    /// what an RST_STREAM means; None when not seen.
    pub status: Option<u32>,
    /// `grpc-message`, percent-decoded.
    pub message: Option<&'a [u8]>,
    /// Messages each way, when counted (not across a capture gap).
    pub req_messages: Option<u32>,
    pub resp_messages: Option<u32>,
}

impl Grpc<'_> {
    /// The status is one the OpenTelemetry conventions call a server error.
    pub fn server_error(&self) -> bool {
        self.status
            .and_then(grpc::Code::from_u32)
            .is_some_and(grpc::Code::is_server_error)
    }
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

/// How the bodies of an exchange are shown.
#[derive(Clone, Copy)]
struct Shown {
    /// Secrets in them are redacted.
    redact: bool,
    /// Longest decoded body kept.
    max: usize,
    /// Shown as base64 whatever the bytes (gRPC messages).
    binary: bool,
}

/// Copy, decode and redact one body (the chain's bytes up to `end`), in
/// one of `bufs`, as `how` says.
fn prepare_body<'a>(
    store: &Store,
    m: &Msg,
    end: usize,
    headers: &[httparse::Header<'_>],
    how: Shown,
    bufs: &'a mut [Vec<u8>; 2],
) -> Body<'a> {
    let Shown {
        redact,
        max,
        binary,
    } = how;
    let [a, b] = bufs;
    a.clear();
    let mut ascii = true;
    for s in store.slices_to(&m.chain, m.body_start(), end) {
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
        omitted: m.body_omitted,
        // Still the copy (not decoded or redacted): what the copy saw holds.
        text: !binary && text(bytes, cur == 0 && ascii),
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
    // HTTP/2 (version 2): the ext of each head, the gRPC content type.
    let req_ext = (line.version == 2).then(|| index::request_ext(req_head, req_index));
    let mut resp_hb = uninit_headers();
    let (status, resp_headers) = if ex.has_resp {
        index::response(resp_head, resp_index, &mut resp_hb)
    } else {
        (
            index::StatusLine {
                status: 0,
                reason: "",
                version: 1,
            },
            &[][..],
        )
    };
    let resp_ext = (ex.has_resp && status.version == 2)
        .then(|| index::response_ext(resp_head, resp_index))
        .flatten();
    // Trailers (HTTP/2) are kept after the response's body, at its chain's end.
    let kept = resp_ext.map_or(0, |e| {
        e.end.trailers_head as usize + e.end.trailers_index as usize
    });
    let body_end = ex.resp.chain.len().saturating_sub(kept);
    let mut trailer_hb = uninit_headers();
    let trailer_headers = if kept > 0 && body_end >= ex.resp.body_start() {
        let e = resp_ext.unwrap_or_default().end;
        let buf = &mut s.trailers;
        buf.clear();
        buf.extend(store.slices(&ex.resp.chain, body_end).flatten());
        let (head, ix) = buf.split_at((e.trailers_head as usize).min(buf.len()));
        Some(index::response(head, ix, &mut trailer_hb).1)
    } else {
        None
    };
    let grpc_type = match (req_ext, resp_ext) {
        (None, None) => None,
        _ => grpc_content_type(req_headers)
            .or_else(|| grpc_content_type(resp_headers))
            .or_else(|| {
                // The content types unknown (mid-connection): gRPC's own response fields.
                let grpc_field = |h: &httparse::Header<'_>| {
                    h.name.eq_ignore_ascii_case("grpc-status")
                        || h.name.eq_ignore_ascii_case("grpc-message")
                };
                (resp_headers.iter().any(grpc_field)
                    || trailer_headers.is_some_and(|t| t.iter().any(grpc_field)))
                .then_some(grpc::ContentType::Grpc)
            }),
    };
    let how = Shown {
        redact,
        max,
        binary: grpc_type.is_some_and(grpc::ContentType::counts_messages),
    };
    let req_body = prepare_body(
        store,
        &ex.req,
        ex.req.chain.len(),
        req_headers,
        how,
        req_bufs,
    );
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
    let HeaderSlots {
        req: req_slots,
        resp: resp_slots,
        trailers: trailer_slots,
    } = slots;
    let headers = collect_headers(req_headers, redact, req_slots);
    let host = match req_ext {
        // HTTP/2: `:authority`.
        Some(Some(e)) => e.authority,
        _ => View::header(headers, "host"),
    };
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
        odd_version: line.odd_version,
        malformed: ex.req.form != Form::WellFormed,
        host,
        headers,
        body: req_body,
    };

    let trailers = trailer_headers.map(|hs| collect_headers(hs, redact, trailer_slots));
    let resp_view = if ex.has_resp {
        let body = prepare_body(store, &ex.resp, body_end, resp_headers, how, resp_bufs);
        Some(Resp {
            status: status.status,
            reason: status.reason,
            version: status.version,
            headers: collect_headers(resp_headers, redact, resp_slots),
            body,
        })
    } else {
        None
    };
    let h2 = match (req_ext, resp_ext) {
        (None, None) => None,
        _ => Some(h2_parts(
            req_ext.flatten(),
            resp_ext,
            &req_view,
            resp_view.as_ref(),
            trailers,
            grpc_type,
            &mut s.grpc_message,
        )),
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
        h2,
    }
}

/// What the request's (or response's) content-type says of gRPC.
fn grpc_content_type(headers: &[httparse::Header<'_>]) -> Option<grpc::ContentType> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-type"))
        .and_then(|h| grpc::content_type(h.value))
}

/// An HTTP/2 stream's own parts, from its heads' exts and what the view
/// already holds; a gRPC status message is decoded into `message_buf`.
fn h2_parts<'a>(
    req: Option<Ext<'_>>,
    resp: Option<Ext<'_>>,
    rv: &Req<'a>,
    pv: Option<&Resp<'a>>,
    trailers: Option<Headers<'a>>,
    grpc_type: Option<grpc::ContentType>,
    message_buf: &'a mut [u8],
) -> H2<'a> {
    use index::{end, flags};
    let r = req.unwrap_or_default();
    let p = resp.unwrap_or_default();
    let reset = [r.end, p.end]
        .into_iter()
        .find(|e| e.flags & (end::RESET | end::GOAWAY) != 0)
        .map(|e| Reset {
            code: e.code,
            by_server: e.flags & end::BY_SERVER != 0,
            goaway: e.flags & end::GOAWAY != 0,
        });
    let path_unknown = r.flags & flags::PATH_UNKNOWN != 0;
    let grpc = grpc_type.map(|_| {
        let call = (!path_unknown).then(|| grpc::split_path(rv.path)).flatten();
        // The status: the trailers', else a trailers-only response's.
        let field = |name: &str| {
            trailers
                .and_then(|t| View::header(t, name))
                .or_else(|| pv.and_then(|p| View::header(p.headers, name)))
        };
        let status = field("grpc-status")
            .and_then(grpc::parse_status)
            .or_else(|| {
                reset
                    .filter(|r| !r.goaway)
                    .and_then(|r| grpc::status_from_reset(r.code))
                    .map(grpc::Code::as_u32)
            });
        let message = field("grpc-message").map(|m| {
            let d = grpc::percent_decode(m, message_buf);
            &message_buf[..d.len]
        });
        let counted = |e: &Ext| (e.end.flags & end::COUNTED != 0).then_some(e.end.messages);
        Grpc {
            service: call.map(|c| c.service),
            method: call.map(|c| c.method),
            status,
            message,
            req_messages: req.as_ref().and_then(counted),
            resp_messages: resp.as_ref().and_then(counted),
        }
    });
    H2 {
        stream: if req.is_some() { r.stream } else { p.stream },
        path_unknown,
        method_unknown: r.flags & flags::METHOD_UNKNOWN != 0,
        req_unknown: r.unknown as u32,
        resp_unknown: p.unknown as u32 + p.end.trailers_unknown as u32,
        trailers,
        reset,
        grpc,
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
