//! A header block decoded into a head the exchange keeps: every field HPACK could know
//! written out as a `name: value` line, pseudo-headers included, as they came (the head's
//! bytes read as the stream's header list); the index (`exchange::index`) points into them:
//! `:method` and `:path` as the request line, `:status` as the response's, the regular
//! fields as headers, `:authority` in the ext. What could not be known is left out and
//! counted; a block HPACK refuses gives nothing (its events are discarded).

use crate::exchange::index::{self, ExtHead, Header, Parts, ReqLine, StartLine, StatusLine};
use crate::http2::hpack::{self, Decoder, Event, Text};

/// Longest head kept: index offsets are 16 bits.
pub const HEAD_MAX: usize = u16::MAX as usize;
/// HPACK's scratch (Huffman-decoded strings of one block, table entries that wrap): a
/// string that does not fit is unknown.
pub const SCRATCH: usize = 64 * 1024;

/// Buffers every connection's blocks are decoded in, one at a time (reserved at start-up).
pub struct Bufs {
    /// The head being written.
    head: Vec<u8>,
    /// HPACK's scratch.
    scratch: Vec<u8>,
    /// Regular fields of the head: (name offset, name length, value offset, value length).
    fields: Vec<[u32; 4]>,
}

impl Default for Bufs {
    fn default() -> Self {
        Bufs {
            head: Vec::with_capacity(HEAD_MAX),
            scratch: vec![0; SCRATCH],
            fields: Vec::with_capacity(index::MAX_HEADERS),
        }
    }
}

impl Bufs {
    pub fn reserved(&self) -> usize {
        self.head.capacity() + self.scratch.len() + self.fields.capacity() * 16
    }
}

/// A pseudo-header of the block.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Pseudo {
    /// Not in the block (as far as can be known).
    #[default]
    Absent,
    /// In the block, its value unknown.
    Unknown,
    /// Its value: `head[off..off + len]`.
    Known(u32, u32),
}

impl Pseudo {
    fn set(&mut self, v: Pseudo) {
        // The first occurrence counts (a repeated pseudo-header is malformed).
        if *self == Pseudo::Absent {
            *self = v;
        }
    }

    pub fn known(self) -> bool {
        matches!(self, Pseudo::Known(..))
    }
}

/// What a decoded block holds.
#[derive(Clone, Copy, Debug, Default)]
pub struct Block {
    pub method: Pseudo,
    pub path: Pseudo,
    pub authority: Pseudo,
    pub scheme: Pseudo,
    pub status: Pseudo,
    /// Fields left out: unknown name or value, or past what a head keeps.
    pub unknown: u16,
    /// Fields whose name could not be known (they may have been pseudo-headers).
    pub unnamed: u16,
}

impl Block {
    /// The block is a request's: a request pseudo-header is in it.
    pub fn is_request(&self) -> bool {
        [self.method, self.path, self.scheme, self.authority]
            .iter()
            .any(|p| *p != Pseudo::Absent)
    }

    /// The block is a response's: `:status` is in it.
    pub fn is_response(&self) -> bool {
        self.status != Pseudo::Absent
    }
}

/// A decoded block, its head in the buffers: read its parts, write its index.
pub struct Decoded<'b> {
    pub block: Block,
    bufs: &'b Bufs,
}

/// Decodes `block` with `hpack` into `bufs`. None: HPACK refused it (the decoder has
/// forgotten its table; nothing of the block can be trusted).
pub fn decode<'b, S: AsRef<[u8]> + AsMut<[u8]>>(
    hpack: &mut Decoder<S>,
    bytes: &[u8],
    bufs: &'b mut Bufs,
) -> Option<Decoded<'b>> {
    let Bufs {
        head,
        scratch,
        fields,
    } = bufs;
    head.clear();
    fields.clear();
    let mut b = Block::default();
    let r = hpack.decode(bytes, scratch, |ev| {
        let Event::Field(f) = ev else { return };
        let name = match f.name {
            Text::Known(n) => n,
            Text::Unknown(_) => {
                b.unknown = b.unknown.saturating_add(1);
                b.unnamed = b.unnamed.saturating_add(1);
                return;
            }
        };
        let value = f.value.known();
        if let Some(p) = name.strip_prefix(b":") {
            let slot = match p {
                b"method" => &mut b.method,
                b"path" => &mut b.path,
                b"authority" => &mut b.authority,
                b"scheme" => &mut b.scheme,
                b"status" => &mut b.status,
                // :protocol (extended CONNECT) and others: kept in the head's bytes only.
                _ => {
                    if value.is_none_or(|v| line(head, name, v).is_none()) {
                        b.unknown = b.unknown.saturating_add(1);
                    }
                    return;
                }
            };
            match value.and_then(|v| line(head, name, v)) {
                Some((off, len)) => slot.set(Pseudo::Known(off, len)),
                None => {
                    slot.set(Pseudo::Unknown);
                    b.unknown = b.unknown.saturating_add(1);
                }
            }
            return;
        }
        let kept = value
            .filter(|_| fields.len() < index::MAX_HEADERS && std::str::from_utf8(name).is_ok());
        match kept.and_then(|v| line(head, name, v)) {
            Some((off, len)) => {
                let name_off = off - 2 - name.len() as u32;
                fields.push([name_off, name.len() as u32, off, len]);
            }
            None => b.unknown = b.unknown.saturating_add(1),
        }
    });
    r.ok()?;
    Some(Decoded { block: b, bufs })
}

/// Appends `name: value\r\n` to the head if it fits; the value's span.
fn line(head: &mut Vec<u8>, name: &[u8], value: &[u8]) -> Option<(u32, u32)> {
    let need = name.len() + value.len() + 4;
    if head.len() + need > HEAD_MAX {
        return None;
    }
    head.extend_from_slice(name);
    head.extend_from_slice(b": ");
    let off = head.len() as u32;
    head.extend_from_slice(value);
    head.extend_from_slice(b"\r\n");
    Some((off, value.len() as u32))
}

impl<'b> Decoded<'b> {
    /// The head's bytes.
    pub fn head(&self) -> &'b [u8] {
        &self.bufs.head
    }

    /// Fields written into the head: the regular ones and the known pseudo-headers.
    pub fn fields(&self) -> usize {
        let b = &self.block;
        let pseudo = [b.method, b.path, b.authority, b.scheme, b.status];
        self.bufs.fields.len() + pseudo.iter().filter(|p| p.known()).count()
    }

    /// The bytes of a known pseudo-header.
    pub fn value(&self, p: Pseudo) -> Option<&'b [u8]> {
        match p {
            Pseudo::Known(off, len) => self.bufs.head.get(off as usize..(off + len) as usize),
            _ => None,
        }
    }

    /// A known pseudo-header as text (None when unknown, absent or not UTF-8).
    pub fn text(&self, p: Pseudo) -> Option<&'b str> {
        self.value(p).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// `:status` as a number (None: unknown, absent, or not three digits).
    pub fn status(&self) -> Option<u16> {
        let v = self.value(self.block.status)?;
        if v.len() != 3 || !v.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(v).ok()?.parse().ok()
    }

    /// The regular fields, in block order.
    pub fn headers<'s>(&self, slots: &'s mut index::Slots<'b>) -> &'s [Header<'b>] {
        let head: &'b [u8] = &self.bufs.head;
        let n = self.bufs.fields.len();
        for (slot, f) in slots.iter_mut().zip(&self.bufs.fields) {
            let name = &head[f[0] as usize..(f[0] + f[1]) as usize];
            slot.write(Header {
                // Checked as UTF-8 when kept.
                name: std::str::from_utf8(name).unwrap_or(""),
                value: &head[f[2] as usize..(f[2] + f[3]) as usize],
            });
        }
        // SAFETY: the first `n` slots were written just above (there are at most
        // MAX_HEADERS fields, as many as slots), and MaybeUninit<T> has T's layout.
        unsafe { std::slice::from_raw_parts(slots.as_ptr().cast::<Header<'b>>(), n) }
    }

    /// The value of the first regular field named `name` (any case).
    #[cfg(test)]
    pub fn field(&self, name: &str) -> Option<&'b [u8]> {
        let head: &'b [u8] = &self.bufs.head;
        self.bufs.fields.iter().find_map(|f| {
            let n = &head[f[0] as usize..(f[0] + f[1]) as usize];
            n.eq_ignore_ascii_case(name.as_bytes())
                .then(|| &head[f[2] as usize..(f[2] + f[3]) as usize])
        })
    }

    /// The index of a request head (`method` and `target` empty when unknown).
    pub fn request_index<'x>(&self, buf: &'x mut index::Buf, ext: &ExtHead<'b>) -> &'x [u8] {
        let mut slots = index::uninit_headers();
        let headers = self.headers(&mut slots);
        let line = ReqLine {
            method: self.text(self.block.method).unwrap_or(""),
            target: self.text(self.block.path).unwrap_or(""),
            version: 2,
            odd_version: None,
        };
        let parts = Parts {
            start: StartLine::Request(line),
            headers,
        };
        index::index_h2(buf, self.head(), &parts, ext)
    }

    /// The index of trailers: their fields, as a response head's without a status.
    pub fn trailers_index<'x>(&self, buf: &'x mut index::Buf) -> &'x [u8] {
        let mut slots = index::uninit_headers();
        let headers = self.headers(&mut slots);
        let line = StatusLine {
            status: 0,
            reason: "",
            version: 2,
        };
        let parts = Parts {
            start: StartLine::Response(line),
            headers,
        };
        index::index(buf, self.head(), &parts)
    }

    /// The index of a response head.
    pub fn response_index<'x>(
        &self,
        buf: &'x mut index::Buf,
        status: u16,
        ext: &ExtHead<'b>,
    ) -> &'x [u8] {
        let mut slots = index::uninit_headers();
        let headers = self.headers(&mut slots);
        let line = StatusLine {
            status,
            reason: "",
            version: 2,
        };
        let parts = Parts {
            start: StartLine::Response(line),
            headers,
        };
        index::index_h2(buf, self.head(), &parts, ext)
    }
}

/// The HPACK table storage of one direction.
pub const TABLE: usize = 4096;
pub const TABLE_STORAGE: usize = hpack::storage_len(TABLE);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::index::{request, request_ext, uninit_headers};

    /// RFC 7541 C.4.1 then a block with an unknown dynamic index: the first decodes whole,
    /// the second leaves the unknown field out and counts it.
    #[test]
    fn fields_become_a_head_and_its_index() {
        let mut hpack = Decoder::new([0u8; TABLE_STORAGE], TABLE).unwrap();
        hpack.start(4096);
        let mut bufs = Bufs::default();
        let block = [
            0x82, 0x86, 0x84, 0x41, 0x8c, 0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab,
            0x90, 0xf4, 0xff, 0x40, 0x01, b'x', 0x01, b'y',
        ];
        let d = decode(&mut hpack, &block, &mut bufs).unwrap();
        assert!(d.block.is_request() && !d.block.is_response());
        assert_eq!(d.text(d.block.method), Some("GET"));
        assert_eq!(d.text(d.block.path), Some("/"));
        assert_eq!(d.value(d.block.authority), Some(&b"www.example.com"[..]));
        assert_eq!(d.field("X"), Some(&b"y"[..]));
        assert_eq!(d.block.unknown, 0);
        let mut buf = index::Buf::uninit();
        let ext = ExtHead {
            authority: d.value(d.block.authority),
            stream: 1,
            ..ExtHead::default()
        };
        let ix = d.request_index(&mut buf, &ext).to_vec();
        let head = d.head().to_vec();
        let mut hb = uninit_headers();
        let (line, hs) = request(&head, &ix, &mut hb);
        assert_eq!((line.method, line.target, line.version), ("GET", "/", 2));
        assert_eq!(hs.len(), 1);
        assert_eq!((hs[0].name, hs[0].value), ("x", &b"y"[..]));
        let e = request_ext(&head, &ix).unwrap();
        assert_eq!(e.authority, Some(&b"www.example.com"[..]));

        // Mid-connection: dynamic index 70 is unknown to a table that knows nothing.
        let mut mid = Decoder::new([0u8; TABLE_STORAGE], TABLE).unwrap();
        let d = decode(&mut mid, &[0x83, 0xc6, 0x84], &mut bufs).unwrap();
        assert_eq!(d.text(d.block.method), Some("POST"));
        assert_eq!((d.block.unknown, d.block.unnamed), (1, 1));
        // A block HPACK refuses (index 0) gives nothing.
        assert!(decode(&mut mid, &[0x80], &mut bufs).is_none());
    }
}
