//! HTTP/2 frames (RFC 9113 §4, §6) read from one direction's bytes, push style, in fixed
//! memory: [`FrameReader`] turns in-order bytes, split anywhere, into [`Event`]s;
//! [`find_boundary`] finds where frames start when the beginning was not seen.
//!
//! # Use
//! One [`FrameReader`] per direction, from the first frame ([`FrameReader::new`], after the
//! client's [`preface`](super::preface)) or from a boundary found mid-connection
//! ([`FrameReader::resume`]). [`FrameReader::feed`] consumes every byte offered and calls back
//! with: [`Event::Frame`] for each frame header; header block [`Fragment`] pieces and DATA
//! [`Data`] pieces, borrowed from the input, padding and priority fields stripped, flags on a
//! frame's last piece; RST_STREAM, GOAWAY, each SETTINGS parameter, SETTINGS ACK. Fragments
//! go to a [`BlockAssembler`](super::BlockAssembler) and its complete blocks to the
//! direction's [`hpack::Decoder`](super::hpack::Decoder).
//!
//! ```
//! use pcap_sensor::http2::frame::{Event, FrameReader};
//!
//! // HEADERS (stream 1, END_HEADERS, 3 bytes of fragment), then DATA (END_STREAM, "hi"),
//! // offered in two segments that split the DATA frame's header.
//! let bytes = [
//!     0, 0, 3, 0x1, 0x4, 0, 0, 0, 1, 0x82, 0x86, 0x84, //
//!     0, 0, 2, 0x0, 0x1, 0, 0, 0, 1, b'h', b'i',
//! ];
//! let mut reader = FrameReader::new();
//! let mut got = Vec::new();
//! for segment in [&bytes[..15], &bytes[15..]] {
//!     let used = reader.feed(segment, |event| match event {
//!         Event::Fragment(f) => got.push((f.stream, f.bytes.to_vec(), f.end_headers)),
//!         Event::Data(d) => got.push((d.stream, d.bytes.to_vec(), d.end_stream)),
//!         _ => {}
//!     });
//!     assert_eq!(used, segment.len());
//! }
//! assert_eq!(got, [(1, vec![0x82, 0x86, 0x84], true), (1, b"hi".to_vec(), true)]);
//! ```
//!
//! # Settings that matter
//! SETTINGS_MAX_FRAME_SIZE sent by one endpoint limits the frames its peer sends: give it to
//! the *other* direction's reader ([`FrameReader::set_max_frame_size`]). Applying it when seen
//! (not when acknowledged) is lenient in the useful direction: the sender may use the larger
//! size only after receiving it. SETTINGS_HEADER_TABLE_SIZE sent by one endpoint caps the
//! table of the peer's HPACK encoder, which the other direction's decoder mirrors; the
//! encoder's actual size comes in the header blocks (a size update).
//!
//! # Errors and resynchronisation
//! A frame no valid sender writes (see [`FrameError`]) is reported as [`Event::Error`]; the
//! reader stops there. The caller counts it, forgets the direction's HPACK table and open
//! header block, and looks for a boundary with [`find_boundary`] in the bytes that follow, as
//! after a capture gap. Work is bounded per byte; no input panics.
//!
//! # Memory
//! A [`FrameReader`] is 48 bytes; [`find_boundary`] keeps no state (the caller holds the bytes
//! it looks at: [`sync_span`] of them suffice).

#![deny(missing_docs)]

mod codes;
mod error;
mod event;
mod header;
mod reader;
mod sync;

pub use codes::{error_code_name, settings};
pub use error::FrameError;
pub use event::{Data, Event, Fragment, FragmentOf};
pub use header::{
    ACK, DEFAULT_MAX_FRAME_SIZE, END_HEADERS, END_STREAM, FrameHeader, FrameType, HEADER_LEN,
    MAX_FRAME_SIZE_LIMIT, PADDED, PRIORITY,
};
pub use reader::FrameReader;
pub use sync::{Boundary, SYNC_RUN, SYNC_RUN_AT_END, find_boundary, sync_span};

#[cfg(test)]
mod tests;
