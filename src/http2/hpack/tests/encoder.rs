//! A reference HPACK encoder for the tests: every representation, Huffman or raw, size
//! updates, and entries larger than the table (which empty it). Simple and slow on purpose.

use std::collections::VecDeque;

use super::super::huffman::CODES;
use super::super::static_table::STATIC;

/// How to represent one field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Repr {
    /// The index of an entry equal to the field (which must exist).
    Indexed,
    /// A literal that inserts the field into the table.
    Incremental,
    /// A literal that does not.
    Without,
    /// A literal that does not, and must never be.
    Never,
}

/// Encoder state: its dynamic table (newest first) and size limit.
pub(crate) struct Encoder {
    pub(crate) table: VecDeque<(Vec<u8>, Vec<u8>)>,
    pub(crate) max: usize,
    size: usize,
}

impl Encoder {
    pub(crate) fn new(max: usize) -> Self {
        Encoder {
            table: VecDeque::new(),
            max,
            size: 0,
        }
    }

    /// Index (combined space) of an entry equal to (name, value).
    pub(crate) fn find(&self, name: &[u8], value: &[u8]) -> Option<usize> {
        let stat = STATIC
            .iter()
            .position(|&(n, v)| n == name && v == value)
            .map(|i| i + 1);
        stat.or_else(|| {
            let dynamic = self.table.iter().position(|(n, v)| n == name && v == value);
            dynamic.map(|i| i + 62)
        })
    }

    /// Index of an entry named `name`: the first static one, else the newest dynamic one.
    pub(crate) fn find_name(&self, name: &[u8]) -> Option<usize> {
        let stat = STATIC.iter().position(|&(n, _)| n == name).map(|i| i + 1);
        stat.or_else(|| {
            self.table
                .iter()
                .position(|(n, _)| n == name)
                .map(|i| i + 62)
        })
    }

    pub(crate) fn size_update(&mut self, out: &mut Vec<u8>, max: usize) {
        self.max = max;
        self.evict(0);
        integer(out, 0x20, 5, max);
    }

    /// Encodes one field. `name_index` uses an entry's name when there is one.
    pub(crate) fn field(
        &mut self,
        out: &mut Vec<u8>,
        name: &[u8],
        value: &[u8],
        repr: Repr,
        name_index: bool,
        huffman: (bool, bool),
    ) {
        let (first, prefix) = match repr {
            Repr::Indexed => {
                let index = self.find(name, value).expect("no entry to index");
                integer(out, 0x80, 7, index);
                return;
            }
            Repr::Incremental => (0x40, 6),
            Repr::Without => (0x00, 4),
            Repr::Never => (0x10, 4),
        };
        match self.find_name(name).filter(|_| name_index) {
            Some(index) => integer(out, first, prefix, index),
            None => {
                integer(out, first, prefix, 0);
                string(out, name, huffman.0);
            }
        }
        string(out, value, huffman.1);
        if repr == Repr::Incremental {
            self.insert(name, value);
        }
    }

    fn insert(&mut self, name: &[u8], value: &[u8]) {
        let size = 32 + name.len() + value.len();
        if size > self.max {
            self.table.clear();
            self.size = 0;
            return;
        }
        self.evict(size);
        self.table.push_front((name.to_vec(), value.to_vec()));
        self.size += size;
    }

    fn evict(&mut self, room: usize) {
        while self.size + room > self.max {
            let (name, value) = self.table.pop_back().expect("size without entries");
            self.size -= 32 + name.len() + value.len();
        }
    }
}

/// An integer with an N-bit prefix after the `first` bits.
pub(crate) fn integer(out: &mut Vec<u8>, first: u8, prefix: u8, value: usize) {
    let max = (1usize << prefix) - 1;
    if value < max {
        out.push(first | value as u8);
        return;
    }
    out.push(first | max as u8);
    let mut rest = value - max;
    while rest >= 128 {
        out.push((rest % 128) as u8 | 0x80);
        rest /= 128;
    }
    out.push(rest as u8);
}

/// A string literal, raw or Huffman-coded.
pub(crate) fn string(out: &mut Vec<u8>, text: &[u8], huffman: bool) {
    if huffman {
        let coded = huffman_encode(text);
        integer(out, 0x80, 7, coded.len());
        out.extend_from_slice(&coded);
    } else {
        integer(out, 0x00, 7, text.len());
        out.extend_from_slice(text);
    }
}

/// Codes packed most significant bit first, padded with ones.
pub(crate) fn huffman_encode(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut acc: u64 = 0;
    let mut bits = 0;
    for &b in text {
        let (code, len) = CODES[b as usize];
        acc = (acc << len) | u64::from(code);
        bits += u32::from(len);
        while bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    if bits > 0 {
        out.push(((acc << (8 - bits)) | (0xff >> bits)) as u8);
    }
    out
}
