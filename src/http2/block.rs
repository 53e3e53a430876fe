//! [`BlockAssembler`]: joins the header block fragments of one direction (a HEADERS or
//! PUSH_PROMISE and its CONTINUATIONs, RFC 9113 §4.3, §6.10) into a caller's fixed buffer,
//! and hands out each complete block for HPACK decoding.
//!
//! A CONTINUATION must directly follow its HEADERS or PUSH_PROMISE, on the same stream, with
//! no other frame between (the [`FrameReader`](super::frame::FrameReader) enforces it), so a
//! direction has at most one block open and one assembler per direction is enough.
//!
//! A block that arrives in one piece is lent from the input without a copy; only blocks split
//! across segments or CONTINUATION frames are joined in the buffer, so the buffer can be
//! small. A block longer than the buffer is not cut: its bytes past the buffer are counted and
//! dropped, and at END_HEADERS the assembler reports [`Assembled::TooLarge`]. The caller then
//! calls the direction's [`hpack::Decoder::forget`](super::hpack::Decoder::forget) (the block
//! may have changed the encoder's table), counts it, and marks that message's headers
//! unknown. A CONTINUATION flood (fragments without END_HEADERS, forever) therefore costs
//! nothing beyond the buffer; [`BlockAssembler::block_len`] and
//! [`BlockAssembler::block_frames`] show it growing, for a caller that wants to give up early.

#![deny(missing_docs)]

use super::frame::{Fragment, FragmentOf};

/// The frame that opened a header block, and what it said.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockOf {
    /// HEADERS: request or response headers, or trailers.
    Headers {
        /// END_STREAM was set on the HEADERS frame: the stream ends with this block.
        end_stream: bool,
    },
    /// PUSH_PROMISE: the request of a pushed stream.
    PushPromise {
        /// The promised stream.
        promised: u32,
    },
}

/// What a fragment piece completed.
#[derive(Debug, PartialEq, Eq)]
pub enum Assembled<'a> {
    /// Nothing yet (or a piece outside any block, ignored).
    Pending,
    /// A complete header block, for [`hpack::Decoder::decode`](super::hpack::Decoder::decode).
    Complete {
        /// Its stream.
        stream: u32,
        /// The frame that opened it.
        of: BlockOf,
        /// The block: every fragment joined, in order.
        block: &'a [u8],
    },
    /// A complete header block that did not fit the buffer; its bytes are lost.
    TooLarge {
        /// Its stream.
        stream: u32,
        /// The frame that opened it.
        of: BlockOf,
        /// Its length in bytes (saturating).
        len: u64,
    },
}

/// Joins one direction's header block fragments into a buffer of the caller's (`[u8; N]`,
/// `Box<[u8]>`, or a `&mut [u8]` slot of a pool), which bounds the largest block kept.
#[derive(Debug)]
pub struct BlockAssembler<B> {
    buf: B,
    /// Bytes kept in `buf`.
    kept: usize,
    /// Bytes of the open block, kept or not.
    len: u64,
    /// Frames of the open block.
    frames: u32,
    /// The open block: its stream and opening frame.
    open: Option<(u32, BlockOf)>,
}

impl<B: AsRef<[u8]> + AsMut<[u8]>> BlockAssembler<B> {
    /// An assembler keeping blocks of up to `buf`'s length.
    pub fn new(buf: B) -> Self {
        BlockAssembler {
            buf,
            kept: 0,
            len: 0,
            frames: 0,
            open: None,
        }
    }

    /// Forgets the open block, if any: after a resynchronisation.
    pub fn reset(&mut self) {
        self.open = None;
        self.kept = 0;
        self.len = 0;
        self.frames = 0;
    }

    /// The largest block kept.
    pub fn capacity(&self) -> usize {
        self.buf.as_ref().len()
    }

    /// Whether a block is open (its END_HEADERS not seen yet).
    pub fn in_block(&self) -> bool {
        self.open.is_some()
    }

    /// Bytes of the open block so far, dropped ones included (0 when none is open).
    pub fn block_len(&self) -> u64 {
        self.len
    }

    /// Frames of the open block so far: its HEADERS or PUSH_PROMISE and CONTINUATIONs.
    pub fn block_frames(&self) -> u32 {
        self.frames
    }

    /// Takes the next piece of the direction's header block fragments, as the frame reader
    /// hands them out. A block that comes as a single piece (a whole HEADERS frame with
    /// END_HEADERS in one segment) is handed out from the piece itself, whatever its length;
    /// the buffer holds only blocks split across pieces or frames. A HEADERS or PUSH_PROMISE
    /// piece that starts a frame opens a new block
    /// (forgetting any open one, which a valid sender never leaves); pieces outside a block
    /// (CONTINUATIONs seen mid-connection) or of another stream are ignored.
    pub fn push<'a>(&'a mut self, piece: &Fragment<'a>) -> Assembled<'a> {
        let opening = match piece.of {
            FragmentOf::Headers => Some(BlockOf::Headers {
                end_stream: piece.end_stream,
            }),
            FragmentOf::PushPromise { promised } => Some(BlockOf::PushPromise { promised }),
            FragmentOf::Continuation => None,
        };
        // A block in one piece (the usual case) is lent from the input: no copy, no limit.
        if let (Some(of), true, true, true) = (opening, piece.first, piece.last, piece.end_headers)
        {
            self.reset();
            return Assembled::Complete {
                stream: piece.stream,
                of,
                block: piece.bytes,
            };
        }
        match (opening, piece.first) {
            (Some(of), true) => {
                self.reset();
                self.open = Some((piece.stream, of));
                self.frames = 1;
            }
            (None, true) if self.open.is_some_and(|(s, _)| s == piece.stream) => {
                self.frames = self.frames.saturating_add(1);
            }
            _ => {}
        }
        let Some((stream, mut of)) = self.open else {
            return Assembled::Pending;
        };
        if piece.stream != stream {
            return Assembled::Pending;
        }
        let len = piece.bytes.len();
        let buf = self.buf.as_mut();
        if self.len == self.kept as u64 && len <= buf.len() - self.kept {
            buf[self.kept..self.kept + len].copy_from_slice(piece.bytes);
            self.kept += len;
        }
        self.len = self.len.saturating_add(len as u64);
        if let BlockOf::Headers { end_stream } = &mut of {
            *end_stream |= piece.end_stream;
        }
        self.open = Some((stream, of));
        if !piece.end_headers {
            return Assembled::Pending;
        }
        let (kept, len) = (self.kept, self.len);
        self.reset();
        if kept as u64 == len {
            Assembled::Complete {
                stream,
                of,
                block: &self.buf.as_ref()[..kept],
            }
        } else {
            Assembled::TooLarge { stream, of, len }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn piece<'a>(
        of: FragmentOf,
        stream: u32,
        bytes: &'a [u8],
        first: bool,
        last: bool,
    ) -> Fragment<'a> {
        Fragment {
            stream,
            of,
            bytes,
            first,
            last,
            end_headers: false,
            end_stream: false,
        }
    }

    fn end(mut f: Fragment<'_>, end_stream: bool) -> Fragment<'_> {
        f.end_headers = true;
        f.end_stream = end_stream && f.of == FragmentOf::Headers;
        f
    }

    const H: FragmentOf = FragmentOf::Headers;
    const C: FragmentOf = FragmentOf::Continuation;

    #[test]
    fn one_frame_block() {
        let mut a = BlockAssembler::new([0u8; 16]);
        let got = a.push(&end(piece(H, 1, b"\x82\x86", true, true), true));
        let of = BlockOf::Headers { end_stream: true };
        assert_eq!(
            got,
            Assembled::Complete {
                stream: 1,
                of,
                block: b"\x82\x86"
            }
        );
        assert!(!a.in_block());
    }

    #[test]
    fn pieces_and_continuations_are_joined() {
        let mut a = BlockAssembler::new(vec![0u8; 64]);
        let mut headers_last = piece(H, 3, b"cd", false, true);
        headers_last.end_stream = true;
        let steps = [
            piece(H, 3, b"ab", true, false),
            headers_last,
            piece(C, 3, b"", true, true),
            piece(C, 3, b"ef", true, false),
        ];
        for p in &steps {
            assert_eq!(a.push(p), Assembled::Pending);
        }
        assert_eq!((a.block_len(), a.block_frames()), (6, 3));
        let got = a.push(&end(piece(C, 3, b"g", false, true), false));
        let of = BlockOf::Headers { end_stream: true };
        assert_eq!(
            got,
            Assembled::Complete {
                stream: 3,
                of,
                block: b"abcdefg"
            }
        );
        assert_eq!((a.block_len(), a.block_frames()), (0, 0));
    }

    #[test]
    fn push_promise_block() {
        let mut a = BlockAssembler::new([0u8; 8]);
        let of = FragmentOf::PushPromise { promised: 2 };
        assert_eq!(
            a.push(&piece(of, 1, b"\x82", true, true)),
            Assembled::Pending
        );
        let got = a.push(&end(piece(C, 1, b"\x87", true, true), false));
        let of = BlockOf::PushPromise { promised: 2 };
        assert_eq!(
            got,
            Assembled::Complete {
                stream: 1,
                of,
                block: b"\x82\x87"
            }
        );
    }

    #[test]
    fn a_block_in_one_piece_is_lent_whatever_its_length() {
        let mut a = BlockAssembler::new([0u8; 4]);
        let long = [0x82u8; 100];
        let f = end(piece(H, 7, &long, true, true), false);
        match a.push(&f) {
            Assembled::Complete {
                stream: 7, block, ..
            } => {
                assert!(std::ptr::eq(block, &long[..]), "lent, not copied");
            }
            other => panic!("{other:?}"),
        }
        assert!(!a.in_block());
    }

    #[test]
    fn block_exactly_the_buffer_fits() {
        let mut a = BlockAssembler::new([0u8; 4]);
        a.push(&piece(H, 1, b"ab", true, false));
        let got = a.push(&end(piece(H, 1, b"cd", false, true), false));
        assert!(matches!(got, Assembled::Complete { block: b"abcd", .. }));
    }

    #[test]
    fn block_larger_than_the_buffer_is_reported_then_the_next_fits() {
        let mut a = BlockAssembler::new([0u8; 4]);
        assert_eq!(a.push(&piece(H, 1, b"abc", true, true)), Assembled::Pending);
        // This piece would overflow: it and every later byte of the block are dropped.
        assert_eq!(a.push(&piece(C, 1, b"de", true, true)), Assembled::Pending);
        assert_eq!(a.push(&piece(C, 1, b"f", true, false)), Assembled::Pending);
        let got = a.push(&end(piece(C, 1, b"", false, true), false));
        let of = BlockOf::Headers { end_stream: false };
        assert_eq!(
            got,
            Assembled::TooLarge {
                stream: 1,
                of,
                len: 6
            }
        );
        let got = a.push(&end(piece(H, 3, b"xy", true, true), true));
        assert!(matches!(
            got,
            Assembled::Complete {
                stream: 3,
                block: b"xy",
                ..
            }
        ));
    }

    #[test]
    fn continuation_flood_costs_only_the_buffer() {
        let mut a = BlockAssembler::new([0u8; 1024]);
        a.push(&piece(H, 1, &[0x82; 100], true, true));
        let chunk = [0x40u8; 16_384];
        for _ in 0..10_000 {
            assert_eq!(a.push(&piece(C, 1, &chunk, true, true)), Assembled::Pending);
        }
        assert!(a.in_block());
        assert_eq!(a.block_frames(), 10_001);
        assert_eq!(a.block_len(), 100 + 10_000 * 16_384);
        assert_eq!(a.capacity(), 1024);
    }

    #[test]
    fn pieces_outside_a_block_or_of_another_stream_are_ignored() {
        let mut a = BlockAssembler::new([0u8; 16]);
        // Mid-connection: the end of a block whose start was not seen.
        assert_eq!(
            a.push(&end(piece(C, 5, b"zz", true, true), false)),
            Assembled::Pending
        );
        assert!(!a.in_block());
        a.push(&piece(H, 1, b"a", true, true));
        assert_eq!(a.push(&piece(C, 9, b"zz", true, true)), Assembled::Pending);
        let got = a.push(&end(piece(C, 1, b"b", true, true), false));
        assert!(matches!(got, Assembled::Complete { block: b"ab", .. }));
    }

    #[test]
    fn a_new_block_replaces_an_open_one_and_reset_forgets() {
        let mut a = BlockAssembler::new([0u8; 16]);
        a.push(&piece(H, 1, b"old", true, true));
        a.push(&piece(H, 3, b"new", true, true));
        let got = a.push(&end(piece(C, 3, b"!", true, true), false));
        assert!(matches!(
            got,
            Assembled::Complete {
                stream: 3,
                block: b"new!",
                ..
            }
        ));
        a.push(&piece(H, 5, b"x", true, true));
        a.reset();
        assert!(!a.in_block());
        assert_eq!(
            a.push(&end(piece(C, 5, b"y", true, true), false)),
            Assembled::Pending
        );
    }
}
