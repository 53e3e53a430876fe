//! Where the parts of a parsed head are, so that it is parsed once.
//!
//! When the streaming parser (`http`) keeps a head (of an exchange the
//! policy admitted) it writes an index of it (the start-line's parts and
//! each header's name and value, as offsets into the head) and keeps it in
//! the message's chain right after the head; heads not kept cost no index.
//! The view (`view`) reads the parts back from the index instead of running
//! httparse over the head a second time.
//!
//! The index, all numbers little-endian u16:
//!
//! ```text
//! start-line  request:  method off, len; target off, len; version; 0
//!             response: reason off, len; 0, 0;           version; status
//! count       headers that follow
//! headers     name off, len; value off, len      (8 bytes each)
//! ```
//!
//! Offsets fit in 16 bits: a head is at most `pool::WINDOW` (64 KiB) long
//! and every part ends before it does.

use std::mem::MaybeUninit;

use crate::http::{MAX_HEADERS, ReqLine};

const LINE: usize = 12;
const COUNT: usize = 2;
const PER_HEADER: usize = 8;
/// Longest index: every header slot httparse fills.
pub const MAX: usize = LINE + COUNT + PER_HEADER * MAX_HEADERS;

/// Room for an index, on the caller's stack (`Buf::uninit()`: not cleared,
/// which would cost as much as writing a short index).
pub type Buf = MaybeUninit<[u8; MAX]>;

/// A parsed head's parts, as the parser gave them.
pub enum Parts<'p, 'b> {
    Request(ReqLine<'b>, &'p [httparse::Header<'b>]),
    Response(&'p httparse::Response<'p, 'b>),
}

/// Write the index of `head` (the bytes its parts point into) into `buf`.
pub fn index<'x>(buf: &'x mut Buf, head: &[u8], parts: &Parts<'_, '_>) -> &'x [u8] {
    let mut w = Writer { buf, len: 0 };
    let hs = match parts {
        Parts::Request(line, hs) => {
            w.put(span(head, line.method.as_bytes()).to_le_bytes());
            w.put(span(head, line.target.as_bytes()).to_le_bytes());
            w.put((line.version as u16).to_le_bytes());
            w.put([0, 0]);
            *hs
        }
        Parts::Response(r) => {
            w.put(span(head, r.reason.unwrap_or("").as_bytes()).to_le_bytes());
            w.put([0; 4]);
            w.put((r.version.unwrap_or(1) as u16).to_le_bytes());
            w.put(r.code.unwrap_or(0).to_le_bytes());
            &*r.headers
        }
    };
    let n = hs.len().min(MAX_HEADERS);
    w.put((n as u16).to_le_bytes());
    for h in &hs[..n] {
        let entry = span(head, h.name.as_bytes()) as u64 | (span(head, h.value) as u64) << 32;
        w.put(entry.to_le_bytes());
    }
    let len = w.len;
    // SAFETY: the first `len` bytes have been written (`put`), and
    // MaybeUninit<u8> has the layout of u8.
    unsafe { std::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), len) }
}

/// Writes an index into a `Buf` (its first `len` bytes are written). The
/// buffer is not a field of a struct holding `len`: in one, the compiler
/// cleared all of it to set `len` to zero.
struct Writer<'a> {
    buf: &'a mut Buf,
    len: usize,
}

impl Writer<'_> {
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

    fn headers<'h>(
        &mut self,
        hb: &'h mut [MaybeUninit<httparse::Header<'b>>; MAX_HEADERS],
    ) -> &'h [httparse::Header<'b>] {
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
            slot.write(httparse::Header { name, value });
        }
        // SAFETY: the first `n` slots were written just above, and
        // MaybeUninit<T> has the layout of T.
        unsafe { std::slice::from_raw_parts(hb.as_ptr().cast::<httparse::Header<'b>>(), n) }
    }
}

/// A request head's line and headers, from its index.
pub fn request<'b, 'h>(
    head: &'b [u8],
    ix: &[u8],
    hb: &'h mut [MaybeUninit<httparse::Header<'b>>; MAX_HEADERS],
) -> (ReqLine<'b>, &'h [httparse::Header<'b>]) {
    let mut r = Reader { head, ix, at: 0 };
    let method = r.part_text();
    let target = r.part_text();
    let version = r.num() as u8;
    r.num();
    let line = ReqLine {
        method,
        target,
        version,
    };
    (line, r.headers(hb))
}

/// What a response head's status line says, and its headers.
pub struct StatusLine<'b> {
    pub status: u16,
    pub reason: &'b str,
    pub version: u8,
}

/// A response head's status line and headers, from its index.
pub fn response<'b, 'h>(
    head: &'b [u8],
    ix: &[u8],
    hb: &'h mut [MaybeUninit<httparse::Header<'b>>; MAX_HEADERS],
) -> (StatusLine<'b>, &'h [httparse::Header<'b>]) {
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
mod tests {
    use super::*;
    use crate::http::{parse_request_head, parser_config, uninit_headers};

    fn pairs(hs: &[httparse::Header<'_>]) -> Vec<(String, Vec<u8>)> {
        hs.iter()
            .map(|h| (h.name.to_string(), h.value.to_vec()))
            .collect()
    }

    /// What the index gives back is what httparse said, for requests
    /// (strict and lenient start-lines) and responses, with empty values,
    /// obsolete line folding and skipped invalid lines.
    #[test]
    fn index_gives_back_what_the_parser_said() {
        let requests: &[&[u8]] = &[
            b"GET /a?b=c HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n",
            b"POST /p HTTP/1.0\r\nContent-Length: 0\r\nX-Empty:\r\n\r\nbody",
            b"GET /with space HTTP/1.1\r\nHost: y\r\n\r\n",
            b"GET / HTTP/1.1\r\n\r\n",
        ];
        for &b in requests {
            let mut hb = uninit_headers();
            let (n, line, hs) = parse_request_head(b, &mut hb).unwrap().unwrap();
            let head = &b[..n];
            let mut buf = Buf::uninit();
            let ix = index(&mut buf, head, &Parts::Request(line, hs));
            let mut hb2 = uninit_headers();
            let (l2, hs2) = request(head, ix, &mut hb2);
            assert_eq!(
                (l2.method, l2.target, l2.version),
                (line.method, line.target, line.version)
            );
            assert_eq!(pairs(hs2), pairs(hs), "{}", String::from_utf8_lossy(b));
        }
        let responses: &[&[u8]] = &[
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
            b"HTTP/1.0 404 \r\nServer: s\r\n\r\n",
            b"HTTP/1.1 204\r\nX-Folded: a\r\n  b\r\nbad line\r\nX-After: c\r\n\r\n",
            b"HTTP/1.1 301 Moved  Permanently\r\nLocation : /new\r\n\r\n",
        ];
        for &b in responses {
            let mut hb = uninit_headers();
            let mut resp = httparse::Response::new(&mut []);
            let n = match parser_config().parse_response_with_uninit_headers(&mut resp, b, &mut hb)
            {
                Ok(httparse::Status::Complete(n)) => n,
                other => panic!("{other:?}: {}", String::from_utf8_lossy(b)),
            };
            let head = &b[..n];
            let mut buf = Buf::uninit();
            let ix = index(&mut buf, head, &Parts::Response(&resp));
            let mut hb2 = uninit_headers();
            let (s, hs2) = response(head, ix, &mut hb2);
            assert_eq!(
                (s.status, s.reason, s.version),
                (
                    resp.code.unwrap(),
                    resp.reason.unwrap_or(""),
                    resp.version.unwrap()
                )
            );
            assert_eq!(
                pairs(hs2),
                pairs(resp.headers),
                "{}",
                String::from_utf8_lossy(b)
            );
        }
    }

    /// Heads put together at random from good, odd and bad lines: whatever
    /// httparse accepts comes back from the index as httparse said it.
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
            let mut hb = uninit_headers();
            if b.starts_with(b"HTTP/") {
                let mut resp = httparse::Response::new(&mut []);
                let Ok(httparse::Status::Complete(n)) =
                    parser_config().parse_response_with_uninit_headers(&mut resp, &b, &mut hb)
                else {
                    continue;
                };
                let mut buf = Buf::uninit();
                let ix = index(&mut buf, &b[..n], &Parts::Response(&resp));
                let mut hb2 = uninit_headers();
                let (s, hs2) = response(&b[..n], ix, &mut hb2);
                assert_eq!(
                    (s.status, s.reason),
                    (resp.code.unwrap(), resp.reason.unwrap_or(""))
                );
                assert_eq!(pairs(hs2), pairs(resp.headers), "{b:?}");
            } else {
                let Ok(Some((n, line, hs))) = parse_request_head(&b, &mut hb) else {
                    continue;
                };
                let mut buf = Buf::uninit();
                let ix = index(&mut buf, &b[..n], &Parts::Request(line, hs));
                let mut hb2 = uninit_headers();
                let (l2, hs2) = request(&b[..n], ix, &mut hb2);
                assert_eq!((l2.method, l2.target), (line.method, line.target));
                assert_eq!(pairs(hs2), pairs(hs), "{b:?}");
            }
            parsed += 1;
        }
        // Most heads parse (the bad lines are skipped, not fatal).
        assert!(parsed > 1000, "{parsed}");
    }

    /// A damaged or short index gives empty parts, never a panic or a part
    /// outside the head.
    #[test]
    fn short_or_damaged_index_reads_as_empty() {
        let head = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        let mut hb = uninit_headers();
        let (line, hs) = request(head, &[], &mut hb);
        assert_eq!((line.method, line.target, hs.len()), ("", "", 0));
        let mut bad = vec![0xffu8; 40];
        bad[12] = 3; // three headers, all pointing past the head
        bad[13] = 0;
        let mut hb = uninit_headers();
        let (_, hs) = request(head, &bad, &mut hb);
        assert_eq!(hs.len(), 3);
        assert!(hs.iter().all(|h| h.name.is_empty()));
    }
}
