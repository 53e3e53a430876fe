//! What can go wrong: a malformed header block ([`Error`]) or a table that cannot be placed
//! in the storage offered ([`CapacityError`]).

use std::fmt;

/// A header block that no valid HPACK encoder produces. The decoder has forgotten its dynamic
/// table when it returns one of these (its indices can no longer be trusted).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The block ends inside a representation, or a string is longer than what remains.
    Truncated,
    /// An integer above 2^32 − 1 or with more than 5 continuation bytes.
    IntegerOverflow,
    /// Index 0, which names no entry.
    IndexZero,
    /// A dynamic index past the encoder's table, known here to hold no more entries than ours.
    IndexOutOfRange,
    /// A Huffman string containing the EOS symbol.
    HuffmanEos,
    /// A Huffman string ending in more than 7 bits of padding, or padding that is not all ones.
    HuffmanPadding,
    /// A dynamic table size update after the first field of the block.
    SizeUpdateAfterField,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::Truncated => "header block truncated",
            Error::IntegerOverflow => "integer too large",
            Error::IndexZero => "index 0",
            Error::IndexOutOfRange => "index past the dynamic table",
            Error::HuffmanEos => "EOS inside a Huffman string",
            Error::HuffmanPadding => "bad Huffman padding",
            Error::SizeUpdateAfterField => "table size update after a field",
        })
    }
}

impl std::error::Error for Error {}

/// The capacity asked for is outside 32..=65535 bytes, or the storage is shorter than
/// [`storage_len`](super::storage_len) of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CapacityError;

impl fmt::Display for CapacityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "HPACK table capacity must be 32..=65535 bytes with storage_len bytes of storage",
        )
    }
}

impl std::error::Error for CapacityError {}
