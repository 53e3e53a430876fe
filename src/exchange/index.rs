//! The index of a kept message head, so that a head is parsed once.
//!
//! When a parser keeps a head (of an exchange the policy admitted) it writes
//! an index of it (the start line's parts and each header's name and value,
//! as offsets into the head) and keeps it in the message's chain right after
//! the head (`Msg::head_len`, `Msg::index_len`); heads not kept cost no
//! index. The view (`view`) reads the parts back from the index instead of
//! parsing the head a second time.
//!
//! The format belongs to the exchange, not to one protocol: HTTP/1 points
//! into the head as it came off the wire; a parser whose headers arrive
//! encoded (HTTP/2) writes the decoded fields as the head and indexes those.
//! Writers hand their parts over as [`Parts`]; headers are `httparse`'s
//! name/value pair, which the view also reads.
//!
//! The index, all numbers little-endian u16:
//!
//! ```text
//! start-line  request:  method off, len; target off, len; version; ext
//!             request whose line says no HTTP/1.0 or HTTP/1.1 (a malformed one, HTTP/1 only):
//!                       method off, len; target off, len; version text off; 0x8000 | its len
//!             response: reason off, len; ext, 0;         version; status
//! count       headers that follow
//! headers     name off, len; value off, len      (8 bytes each)
//! ext         `ext` bytes (0 for HTTP/1): what an HTTP/2 head keeps besides
//! ```
//!
//! `version` is HTTP/1's minor version (0 or 1), or 2 for HTTP/2. An HTTP/2
//! head written by the HTTP/2 parser ends with an [`Ext`] ([`EXT_LEN`]
//! bytes): the `:authority`, what could not be known, and what the parser
//! learns when the stream ends, written in place then ([`ExtEnd`],
//! [`ext_end_at`]). A request that an `Upgrade: h2c` turned into stream 1
//! keeps its HTTP/1 index with `version` set to 2 and no ext. Readers of
//! HTTP/1 heads never see an ext: `ext` is 0 there, as it always was.
//!
//! Offsets fit in 16 bits: a head is at most `pool::WINDOW` (64 KiB) long
//! and every part ends before it does.

use std::mem::MaybeUninit;

pub use httparse::Header;

/// Most headers a head's index holds (and header slots a parser fills).
pub const MAX_HEADERS: usize = 256;

/// Room for a head's headers, left uninitialised (the parser or the index
/// reader writes the slots it uses).
pub type Slots<'b> = [MaybeUninit<Header<'b>>; MAX_HEADERS];

/// Header slots, uninitialised.
pub fn uninit_headers<'b>() -> Slots<'b> {
    [const { MaybeUninit::uninit() }; MAX_HEADERS]
}

/// What a request line says.
#[derive(Clone, Copy, Debug)]
pub struct ReqLine<'b> {
    pub method: &'b str,
    pub target: &'b str,
    /// HTTP/1's minor version: 0 or 1 (0 when `odd_version` is set).
    pub version: u8,
    /// A malformed line that does not end in HTTP/1.0 or HTTP/1.1: its version
    /// as seen, empty when the line has none (`GET /x`). None on every
    /// well-formed line.
    pub odd_version: Option<&'b str>,
}

/// In a request's index, the flag (on the fourth number) saying the third is
/// the offset of an odd version's text and the fourth's other bits its length.
const ODD_VERSION: u16 = 0x8000;

/// What a status line says.
#[derive(Clone, Copy, Debug)]
pub struct StatusLine<'b> {
    pub status: u16,
    pub reason: &'b str,
    /// HTTP/1's minor version: 0 or 1.
    pub version: u8,
}

/// A head's first line.
#[derive(Clone, Copy, Debug)]
pub enum StartLine<'b> {
    Request(ReqLine<'b>),
    Response(StatusLine<'b>),
}

/// A parsed head's parts, pointing into the head's bytes.
#[derive(Clone, Copy)]
pub struct Parts<'p, 'b> {
    pub start: StartLine<'b>,
    pub headers: &'p [Header<'b>],
}

const LINE: usize = 12;
const COUNT: usize = 2;
const PER_HEADER: usize = 8;
/// Longest index: every header slot filled, and an HTTP/2 ext.
pub const MAX: usize = LINE + COUNT + PER_HEADER * MAX_HEADERS + EXT_LEN;
/// Where a request line keeps its version (what an `Upgrade: h2c` sets to 2).
pub const REQUEST_VERSION_AT: usize = 8;
/// Where the start line keeps the ext's length: request, response.
const REQUEST_EXT_AT: usize = 10;
const RESPONSE_EXT_AT: usize = 4;
// `Msg::index_len` is a u16.
const _: () = assert!(MAX <= u16::MAX as usize);

/// Room for an index, on the caller's stack (`Buf::uninit()`: not cleared,
/// which would cost as much as writing a short index).
pub type Buf = MaybeUninit<[u8; MAX]>;

/// Write the index of `head` (the bytes its parts point into) into `buf`.
pub fn index<'x>(buf: &'x mut Buf, head: &[u8], parts: &Parts<'_, '_>) -> &'x [u8] {
    let mut w = Writer { buf, len: 0 };
    w.parts(head, parts, 0);
    let len = w.len;
    // SAFETY: the first `len` bytes have been written (`put`), and
    // MaybeUninit<u8> has the layout of u8.
    unsafe { std::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), len) }
}

/// Write the index of an HTTP/2 head (`parts` with version 2) and its ext
/// into `buf`. The ext's end part is written empty: the parser writes it in
/// place when the stream ends ([`ext_end_at`]).
pub fn index_h2<'x>(
    buf: &'x mut Buf,
    head: &[u8],
    parts: &Parts<'_, '_>,
    ext: &ExtHead<'_>,
) -> &'x [u8] {
    let mut w = Writer { buf, len: 0 };
    w.parts(head, parts, EXT_LEN as u16);
    let authority = ext.authority.map_or(0, |a| span(head, a));
    w.put(authority.to_le_bytes());
    w.put(ext.stream.to_le_bytes());
    w.put(ext.unknown.to_le_bytes());
    w.put(ext.flags.to_le_bytes());
    w.put(ExtEnd::default().bytes());
    let len = w.len;
    // SAFETY: the first `len` bytes have been written (`put`), and
    // MaybeUninit<u8> has the layout of u8.
    unsafe { std::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), len) }
}

/// Bytes of the ext of an HTTP/2 head.
pub const EXT_LEN: usize = 12 + END_LEN;
/// Bytes of its end part.
const END_LEN: usize = 16;

/// Flags of an HTTP/2 head ([`ExtHead::flags`]).
pub mod flags {
    /// The request's `:path` could not be known (target, path, query unknown).
    pub const PATH_UNKNOWN: u16 = 1;
    /// The request's `:method` could not be known.
    pub const METHOD_UNKNOWN: u16 = 2;
    /// The response's `:status` could not be known.
    pub const STATUS_UNKNOWN: u16 = 4;
}

/// Flags of the end of an HTTP/2 stream ([`ExtEnd::flags`]).
pub mod end {
    /// The message's gRPC messages were counted ([`ExtEnd::messages`](super::ExtEnd)).
    pub const COUNTED: u16 = 1;
    /// An RST_STREAM ended the stream, with [`ExtEnd::code`](super::ExtEnd).
    pub const RESET: u16 = 2;
    /// A GOAWAY ended it (its stream was above the last one the sender processed).
    pub const GOAWAY: u16 = 4;
    /// The reset or GOAWAY came from the server (else from the client).
    pub const BY_SERVER: u16 = 8;
}

/// What an HTTP/2 head says when it is read.
#[derive(Clone, Copy, Debug, Default)]
pub struct ExtHead<'b> {
    /// `:authority` (pointing into the head), when known.
    pub authority: Option<&'b [u8]>,
    pub stream: u32,
    /// Header fields left out: they could not be known (mid-connection
    /// HPACK), or did not fit what a head keeps.
    pub unknown: u16,
    /// [`flags`].
    pub flags: u16,
}

/// What the HTTP/2 parser writes into a head's ext when its stream ends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExtEnd {
    /// [`end`].
    pub flags: u16,
    /// A response's trailers: the bytes of their head and of its index,
    /// kept after the body at the end of the message's chain.
    pub trailers_head: u16,
    pub trailers_index: u16,
    /// Trailer fields left out (as [`ExtHead::unknown`]).
    pub trailers_unknown: u16,
    /// gRPC messages of the message (valid with [`end::COUNTED`]).
    pub messages: u32,
    /// The RST_STREAM or GOAWAY error code.
    pub code: u32,
}

impl ExtEnd {
    /// The end part as it is kept.
    pub fn bytes(&self) -> [u8; END_LEN] {
        let mut b = [0; END_LEN];
        b[0..2].copy_from_slice(&self.flags.to_le_bytes());
        b[2..4].copy_from_slice(&self.trailers_head.to_le_bytes());
        b[4..6].copy_from_slice(&self.trailers_index.to_le_bytes());
        b[6..8].copy_from_slice(&self.trailers_unknown.to_le_bytes());
        b[8..12].copy_from_slice(&self.messages.to_le_bytes());
        b[12..16].copy_from_slice(&self.code.to_le_bytes());
        b
    }

    fn read(b: &[u8]) -> ExtEnd {
        let u16_at = |at: usize| u16::from_le_bytes([b[at], b[at + 1]]);
        let u32_at = |at: usize| u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
        ExtEnd {
            flags: u16_at(0),
            trailers_head: u16_at(2),
            trailers_index: u16_at(4),
            trailers_unknown: u16_at(6),
            messages: u32_at(8),
            code: u32_at(12),
        }
    }
}

/// Where, in an index of `index_len` bytes written by [`index_h2`], the
/// ext's end part starts.
pub fn ext_end_at(index_len: usize) -> usize {
    index_len.saturating_sub(END_LEN)
}

/// An HTTP/2 head's ext, read back.
#[derive(Clone, Copy, Debug, Default)]
pub struct Ext<'b> {
    pub authority: Option<&'b [u8]>,
    pub stream: u32,
    pub unknown: u16,
    pub flags: u16,
    pub end: ExtEnd,
}

/// The ext of a request head (None: HTTP/1, or an upgraded request).
pub fn request_ext<'b>(head: &'b [u8], ix: &[u8]) -> Option<Ext<'b>> {
    ext(head, ix, REQUEST_EXT_AT)
}

/// The ext of a response head (None: HTTP/1).
pub fn response_ext<'b>(head: &'b [u8], ix: &[u8]) -> Option<Ext<'b>> {
    ext(head, ix, RESPONSE_EXT_AT)
}

fn ext<'b>(head: &'b [u8], ix: &[u8], len_at: usize) -> Option<Ext<'b>> {
    let len = u16::from_le_bytes(ix.get(len_at..len_at + 2)?.try_into().ok()?) as usize;
    if len != EXT_LEN || ix.len() < LINE + COUNT + EXT_LEN {
        return None;
    }
    let e = &ix[ix.len() - EXT_LEN..];
    let authority = u32::from_le_bytes(e[0..4].try_into().unwrap());
    Some(Ext {
        authority: (authority != 0).then(|| at(head, authority)),
        stream: u32::from_le_bytes(e[4..8].try_into().unwrap()),
        unknown: u16::from_le_bytes([e[8], e[9]]),
        flags: u16::from_le_bytes([e[10], e[11]]),
        end: ExtEnd::read(&e[12..]),
    })
}

/// Writes an index into a `Buf` (its first `len` bytes are written). The
/// buffer is not a field of a struct holding `len`: in one, the compiler
/// cleared all of it to set `len` to zero.
struct Writer<'a> {
    buf: &'a mut Buf,
    len: usize,
}

impl Writer<'_> {
    /// The start line (with `ext`, the length of an ext that follows), the
    /// count and the headers.
    #[inline(always)]
    fn parts(&mut self, head: &[u8], parts: &Parts<'_, '_>, ext: u16) {
        match parts.start {
            StartLine::Request(line) => {
                self.put(span(head, line.method.as_bytes()).to_le_bytes());
                self.put(span(head, line.target.as_bytes()).to_le_bytes());
                match line.odd_version {
                    None => {
                        self.put((line.version as u16).to_le_bytes());
                        self.put(ext.to_le_bytes());
                    }
                    Some(v) => {
                        // Offset and length (at most 15 bits: cut) of the
                        // text. Only HTTP/1 lines are odd: no ext follows.
                        debug_assert_eq!(ext, 0);
                        let v = &v.as_bytes()[..v.len().min(ODD_VERSION as usize - 1)];
                        let s = span(head, v);
                        self.put((s as u16).to_le_bytes());
                        self.put((ODD_VERSION | (s >> 16) as u16).to_le_bytes());
                    }
                }
            }
            StartLine::Response(s) => {
                self.put(span(head, s.reason.as_bytes()).to_le_bytes());
                self.put(ext.to_le_bytes());
                self.put([0; 2]);
                self.put((s.version as u16).to_le_bytes());
                self.put(s.status.to_le_bytes());
            }
        }
        let hs = parts.headers;
        let n = hs.len().min(MAX_HEADERS);
        self.put((n as u16).to_le_bytes());
        for h in &hs[..n] {
            let entry = span(head, h.name.as_bytes()) as u64 | (span(head, h.value) as u64) << 32;
            self.put(entry.to_le_bytes());
        }
    }

    #[inline(always)]
    fn put<const N: usize>(&mut self, bytes: [u8; N]) {
        assert!(self.len + N <= MAX);
        // SAFETY: N bytes inside the buffer (asserted).
        unsafe {
            let p = self.buf.as_mut_ptr().cast::<u8>().add(self.len);
            std::ptr::write_unaligned(p.cast::<[u8; N]>(), bytes);
        }
        self.len += N;
    }
}

/// `part` as offset (low 16 bits) and length in `head`; an empty part, or
/// one that is not inside `head`, as empty. Inside a head of at most 64 KiB
/// both fit (see the module notes).
#[inline(always)]
fn span(head: &[u8], part: &[u8]) -> u32 {
    let off = (part.as_ptr() as usize).wrapping_sub(head.as_ptr() as usize);
    match head.len().checked_sub(part.len()) {
        Some(last)
            if !part.is_empty()
                && off <= last
                && off <= u16::MAX as usize
                && part.len() <= u16::MAX as usize =>
        {
            off as u32 | (part.len() as u32) << 16
        }
        _ => 0,
    }
}

/// The bytes of `head` a span points at (empty when they are not there).
#[inline(always)]
fn at(head: &[u8], span: u32) -> &[u8] {
    let (off, len) = ((span & 0xffff) as usize, (span >> 16) as usize);
    head.get(off..off + len).unwrap_or(&[])
}

/// Text of a part: names, methods, targets and reasons, which the parser
/// took as ASCII (or, for a lenient target or a reason, as UTF-8).
#[inline(always)]
fn text(b: &[u8]) -> &str {
    if b.is_ascii() {
        // SAFETY: ASCII is UTF-8.
        unsafe { std::str::from_utf8_unchecked(b) }
    } else {
        std::str::from_utf8(b).unwrap_or("")
    }
}

/// An index read back over its head.
struct Reader<'b, 'i> {
    head: &'b [u8],
    ix: &'i [u8],
    at: usize,
}

impl<'b> Reader<'b, '_> {
    /// The next N bytes of the index (zeros past its end).
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let v = match self.ix.get(self.at..self.at + N) {
            Some(b) => b.try_into().unwrap(),
            None => [0; N],
        };
        self.at += N;
        v
    }

    fn num(&mut self) -> u16 {
        u16::from_le_bytes(self.take())
    }

    /// The next span's part, as text.
    fn part_text(&mut self) -> &'b str {
        text(at(self.head, u32::from_le_bytes(self.take())))
    }

    fn headers<'h>(&mut self, hb: &'h mut Slots<'b>) -> &'h [Header<'b>] {
        let n = (self.num() as usize).min(MAX_HEADERS);
        let entries = self
            .ix
            .get(self.at..)
            .unwrap_or(&[])
            .chunks_exact(PER_HEADER);
        let n = n.min(entries.len());
        for (slot, e) in hb[..n].iter_mut().zip(entries) {
            let e = u64::from_le_bytes(e.try_into().unwrap());
            let name = text(at(self.head, e as u32));
            let value = at(self.head, (e >> 32) as u32);
            slot.write(Header { name, value });
        }
        // SAFETY: the first `n` slots were written just above, and
        // MaybeUninit<T> has the layout of T.
        unsafe { std::slice::from_raw_parts(hb.as_ptr().cast::<Header<'b>>(), n) }
    }
}

/// A request head's line and headers, from its index.
pub fn request<'b, 'h>(
    head: &'b [u8],
    ix: &[u8],
    hb: &'h mut Slots<'b>,
) -> (ReqLine<'b>, &'h [Header<'b>]) {
    let mut r = Reader { head, ix, at: 0 };
    let method = r.part_text();
    let target = r.part_text();
    let (version, flags) = (r.num(), r.num());
    let line = if flags & ODD_VERSION == 0 {
        ReqLine {
            method,
            target,
            version: version as u8,
            odd_version: None,
        }
    } else {
        let s = version as u32 | ((flags & !ODD_VERSION) as u32) << 16;
        ReqLine {
            method,
            target,
            version: 0,
            odd_version: Some(text(at(head, s))),
        }
    };
    (line, r.headers(hb))
}

/// A response head's status line and headers, from its index.
pub fn response<'b, 'h>(
    head: &'b [u8],
    ix: &[u8],
    hb: &'h mut Slots<'b>,
) -> (StatusLine<'b>, &'h [Header<'b>]) {
    let mut r = Reader { head, ix, at: 0 };
    let reason = r.part_text();
    r.take::<4>();
    let version = r.num() as u8;
    let status = r.num();
    (
        StatusLine {
            status,
            reason,
            version,
        },
        r.headers(hb),
    )
}

#[cfg(test)]
mod tests;
