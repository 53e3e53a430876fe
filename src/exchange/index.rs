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
//! start-line  request:  method off, len; target off, len; version; 0
//!             response: reason off, len; 0, 0;           version; status
//! count       headers that follow
//! headers     name off, len; value off, len      (8 bytes each)
//! ```
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
    /// HTTP/1's minor version: 0 or 1.
    pub version: u8,
}

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
/// Longest index: every header slot httparse fills.
pub const MAX: usize = LINE + COUNT + PER_HEADER * MAX_HEADERS;

/// Room for an index, on the caller's stack (`Buf::uninit()`: not cleared,
/// which would cost as much as writing a short index).
pub type Buf = MaybeUninit<[u8; MAX]>;

/// Write the index of `head` (the bytes its parts point into) into `buf`.
pub fn index<'x>(buf: &'x mut Buf, head: &[u8], parts: &Parts<'_, '_>) -> &'x [u8] {
    let mut w = Writer { buf, len: 0 };
    match parts.start {
        StartLine::Request(line) => {
            w.put(span(head, line.method.as_bytes()).to_le_bytes());
            w.put(span(head, line.target.as_bytes()).to_le_bytes());
            w.put((line.version as u16).to_le_bytes());
            w.put([0, 0]);
        }
        StartLine::Response(s) => {
            w.put(span(head, s.reason.as_bytes()).to_le_bytes());
            w.put([0; 4]);
            w.put((s.version as u16).to_le_bytes());
            w.put(s.status.to_le_bytes());
        }
    }
    let hs = parts.headers;
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
    let version = r.num() as u8;
    r.num();
    let line = ReqLine {
        method,
        target,
        version,
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
mod tests {
    use super::*;

    fn pairs(hs: &[Header<'_>]) -> Vec<(String, Vec<u8>)> {
        hs.iter()
            .map(|h| (h.name.to_string(), h.value.to_vec()))
            .collect()
    }

    /// Headers of `head` as given: each line "name:value" (no parsing
    /// rules, only the split at the first colon), pointing into `head`.
    fn headers(head: &[u8]) -> Vec<Header<'_>> {
        let lines = head.split(|&c| c == b'\n').skip(1);
        lines
            .filter_map(|l| {
                let c = l.iter().position(|&c| c == b':')?;
                let name = std::str::from_utf8(&l[..c]).unwrap();
                Some(Header {
                    name,
                    value: &l[c + 1..],
                })
            })
            .collect()
    }

    /// What is written is read back, part for part: request and status
    /// lines, empty parts, no headers, every header slot.
    #[test]
    fn round_trip() {
        let many: Vec<u8> = (0..MAX_HEADERS + 3)
            .flat_map(|k| format!("\nh{k}:{k}").into_bytes())
            .collect();
        let many = [b"GET / 1".as_slice(), &many].concat();
        // (head, method, target, version)
        let requests: &[(&[u8], usize, usize, u8)] = &[
            (b"GET /a?b=c 1\nHost:x\nAccept:*/*", 3, 6, 1),
            (b"POST /p 0\nX-Empty:", 4, 2, 0),
            (b"M T 1", 1, 1, 1),
            (&many, 3, 1, 1),
        ];
        for &(head, m, t, version) in requests {
            let line = ReqLine {
                method: std::str::from_utf8(&head[..m]).unwrap(),
                target: std::str::from_utf8(&head[m + 1..m + 1 + t]).unwrap(),
                version,
            };
            let hs = headers(head);
            let parts = Parts {
                start: StartLine::Request(line),
                headers: &hs,
            };
            let mut buf = Buf::uninit();
            let ix = index(&mut buf, head, &parts);
            let mut hb = uninit_headers();
            let (l2, hs2) = request(head, ix, &mut hb);
            assert_eq!(
                (l2.method, l2.target, l2.version),
                (line.method, line.target, line.version)
            );
            let kept = hs.len().min(MAX_HEADERS);
            assert_eq!(pairs(hs2), pairs(&hs[..kept]));
            assert_eq!(ix.len(), LINE + COUNT + PER_HEADER * kept);
        }
        // (head, reason's offset and length, status, version)
        let responses: &[(&[u8], usize, usize, u16, u8)] = &[
            (b"1 200 OK\nContent-Type:application/json", 6, 2, 200, 1),
            (b"0 404 \nServer:s", 6, 0, 404, 0),
            (b"1 500 Internal \xc3\xa9rror", 6, 15, 500, 1),
        ];
        for &(head, at, len, status, version) in responses {
            let reason = std::str::from_utf8(&head[at..at + len]).unwrap();
            let hs = headers(head);
            let line = StatusLine {
                status,
                reason,
                version,
            };
            let parts = Parts {
                start: StartLine::Response(line),
                headers: &hs,
            };
            let mut buf = Buf::uninit();
            let ix = index(&mut buf, head, &parts);
            let mut hb = uninit_headers();
            let (s, hs2) = response(head, ix, &mut hb);
            assert_eq!((s.status, s.reason, s.version), (status, reason, version));
            assert_eq!(pairs(hs2), pairs(&hs));
        }
    }

    /// A part that does not point into the head is written as empty.
    #[test]
    fn parts_outside_the_head_read_as_empty() {
        let head = b"GET / 1\nHost:x";
        let elsewhere = b"Other:y";
        let hs = [
            Header {
                name: "Other",
                value: &elsewhere[6..],
            },
            Header {
                name: std::str::from_utf8(&head[8..12]).unwrap(),
                value: &head[13..],
            },
        ];
        let line = ReqLine {
            method: "GET",
            target: std::str::from_utf8(&head[4..5]).unwrap(),
            version: 1,
        };
        let parts = Parts {
            start: StartLine::Request(line),
            headers: &hs,
        };
        let mut buf = Buf::uninit();
        let ix = index(&mut buf, head, &parts);
        let mut hb = uninit_headers();
        let (l2, hs2) = request(head, ix, &mut hb);
        assert_eq!((l2.method, l2.target), ("", "/"));
        assert_eq!(
            pairs(hs2),
            [("".into(), vec![]), ("Host".into(), b"x".to_vec())]
        );
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
