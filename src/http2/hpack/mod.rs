//! HPACK (RFC 7541): HTTP/2 header-block decoding in memory the caller reserves at start-up,
//! able to start in the middle of a connection without ever reporting a wrong value.
//!
//! # Use
//! One [`Decoder`] per direction of a connection. Its dynamic table lives in storage the caller
//! places (`Box<[u8]>` from start-up, `[u8; N]` inside a connection slot, or `&mut [u8]` cut
//! from a pool) of [`storage_len`] bytes: 4352 bytes for the usual 4096-byte table.
//! [`Decoder::decode`] takes one complete header block (HEADERS + CONTINUATION payloads joined,
//! padding removed) and a scratch buffer, and calls back once per [`Event`]: a [`Field`] whose
//! name and value are each [`Text::Known`] bytes or [`Text::Unknown`], or a table size update.
//! Nothing allocates; raw string literals are slices of the block, Huffman strings are decoded
//! into the scratch buffer (a string that does not fit is reported unknown, never cut).
//!
//! ```
//! use pcap_sensor::http2::hpack::{Decoder, Event, Text, storage_len};
//!
//! // At start-up: one table's storage (or a slot of a pool), and a shared scratch buffer.
//! let mut decoder = Decoder::new(vec![0u8; storage_len(4096)].into_boxed_slice(), 4096).unwrap();
//! let mut scratch = [0u8; 4096];
//! // A connection seen from its start; mid-connection, leave the decoder as it is.
//! decoder.start(4096);
//! // RFC 7541 C.4.1: GET http://www.example.com/, the authority Huffman-coded.
//! let block = [
//!     0x82, 0x86, 0x84, 0x41, 0x8c, 0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab, 0x90,
//!     0xf4, 0xff,
//! ];
//! let mut authority = None;
//! decoder
//!     .decode(&block, &mut scratch, |event| {
//!         if let Event::Field(f) = event {
//!             if let (Text::Known(b":authority"), Text::Known(value)) = (f.name, f.value) {
//!                 authority = Some(value.to_vec()); // a real caller copies into its own pool
//!             }
//!         }
//!     })
//!     .unwrap();
//! assert_eq!(authority.as_deref(), Some(&b"www.example.com"[..]));
//! assert_eq!(decoder.entries(), 1);
//! ```
//!
//! Every header block of the direction must be decoded, in order, even those of streams the
//! caller ignores: each may insert entries. When one is lost (a capture gap, a block the
//! caller could not assemble), call [`Decoder::forget`]; after a decoding error the decoder
//! forgets by itself.
//!
//! # What a table started mid-connection can know
//! HPACK's dynamic table is first-in first-out: a "literal with incremental indexing" inserts
//! at index 1 (62 in the combined space) and shifts the others; evictions, whether to make
//! room or after a size update, always remove the oldest entry; an entry larger than the
//! whole table empties the table and is not inserted (RFC 7541 §4.4). So at any moment the
//! encoder's table holds exactly its *newest k* successful insertions, for some k.
//!
//! This decoder appends every incremental-indexing literal it sees, in order, even when it
//! cannot know the entry's content (its name refers to an entry we never saw: the entry keeps
//! a known value and an unknown name), and even when it cannot know whether the encoder
//! really inserted it (an entry larger than a table size it does not know). Its m entries are
//! therefore the newest m insertions it saw. Claim: **whenever a valid encoder refers to
//! dynamic index i ≤ m, our entry i is the encoder's entry i.** The encoder's entry i is its
//! i-th newest successful insertion. If all of our newest i entries were really inserted, that
//! is our entry i. If one of them, say our entry j ≤ i, was not (it was larger than the
//! encoder's table), the encoder's table was emptied at that moment and has since received
//! fewer than j entries, so it has no entry i and a valid encoder cannot refer to it.
//! Neither entry sizes nor the encoder's table size enter the argument: an entry whose size
//! we do not know (unknown name) does not make any later index uncertain.
//!
//! Hence the rules, all implemented in [`Decoder`]:
//! - static indices 1–61 are always known;
//! - dynamic index i ≤ m gives our entry i, whose name and value are each known or unknown
//!   (unknown name copied from an unknown entry, or a string too long for our memory);
//! - dynamic index i > m is unknown (the encoder holds entries we never saw or dropped) —
//!   unless we can *prove* the encoder holds at most m entries, and then it is a decoding error,
//!   as for any HPACK decoder.
//!
//! What sizes are still used for, only where provable: they decide which of our entries the
//! encoder has surely evicted (so our memory holds what it still holds) and when we hold all
//! of its entries. The size we track is a lower bound: 32 + the lengths we know (an unknown
//! name counts as 0). The encoder's table size limit is known from the start of a connection
//! (the protocol's initial value, 4096 for HTTP/2) or from a size update seen in this capture.
//! With a known limit L:
//! - an insertion whose lower-bound size exceeds L surely emptied the encoder's table: ours
//!   is emptied too, and now holds all of the encoder's entries (none);
//! - our oldest entries are dropped while the lower-bound sizes of our entries (and the new
//!   one) exceed L: the encoder, holding a newest run of total size ≤ L, cannot hold them;
//!   when that happens, or when our lower-bound total + 32 exceeds L (no further entry of at
//!   least 32 bytes fits), the encoder holds nothing beyond our entries.
//!
//! Our own capacity (chosen by the caller) may be smaller than the encoder's table (a size
//! update above it, a 4 GiB one included, is simply recorded): then our oldest entries are
//! dropped to make room, later indices reaching them become unknown, and we no longer claim to
//! hold all of the encoder's entries. A string longer than our capacity is inserted as an entry
//! of known size whose content is unknown.
//!
//! "Valid encoder" is the one assumption: an encoder that refers past its own table breaks its
//! peer's decoder too (a compression error ends the connection), and when we cannot tell,
//! we may show the value that our table holds at that index.
//!
//! # Errors and bounded work
//! A malformed block (truncated representation or string, integer over 32 bits or longer than
//! 5 continuation bytes, index 0, Huffman EOS or bad padding, size update after a field,
//! an index proven out of range) returns an [`Error`]; decoding never panics. Work is bounded
//! per input byte: each representation consumes at least one byte; Huffman decoding is one
//! table step per 4 bits; evictions are paid for by the insertions that made them; copies
//! are bounded by the string being reported.

#![deny(missing_docs)]

mod decoder;
mod error;
mod field;
mod huffman;
mod integer;
mod static_table;
mod table;

pub use decoder::Decoder;
pub use error::{CapacityError, Error};
pub use field::{Event, Field, Text, Unknown};
pub use table::storage_len;

#[cfg(test)]
mod tests;
