//! [`Decoder`]: one direction's header blocks, representation by representation (RFC 7541
//! §6), against its dynamic table.

use super::table::{Held, Lookup, Part, Table};
use super::{CapacityError, Error, Event, Field, Text, Unknown, huffman, integer, static_table};

/// Entries in the static table; dynamic indices follow.
const STATIC_LEN: u32 = 61;

/// The HPACK decoder of one direction of a connection, over a dynamic table in `storage`
/// (see [`storage_len`](super::storage_len)). It starts knowing nothing (as mid-connection):
/// call [`start`](Self::start) when the connection is seen from its beginning.
pub struct Decoder<S> {
    table: Table<S>,
}

/// Where a literal's name or value is, before it is handed out.
#[derive(Clone, Copy)]
enum Src {
    /// `block[start..start + len]`.
    Block(usize, usize),
    /// `scratch[start..start + len]`.
    Scratch(usize, usize),
    Static(&'static [u8]),
    Unknown(Unknown, usize),
}

/// A stored part of an indexed entry, made contiguous.
#[derive(Clone, Copy)]
enum Joined {
    /// Contiguous in the table (or not stored at all).
    InPlace,
    /// Wrapped around the arena's end, now at `scratch[start..]`.
    Copied(usize),
    /// Wrapped, and longer than the scratch left.
    TooLong,
}

/// How a literal affects the table and the field.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Literal {
    Incremental,
    Without,
    Never,
}

impl<S: AsRef<[u8]> + AsMut<[u8]>> Decoder<S> {
    /// A decoder whose dynamic table mirrors completely an encoder table of up to
    /// `capacity` bytes (as HPACK counts them: name + value + 32 per entry), in `storage` of
    /// at least [`storage_len(capacity)`](super::storage_len) bytes; `capacity` is
    /// 32..=65535. Facing a larger encoder table, it keeps as many of the newest entries as
    /// its `capacity` bytes and `capacity / 32` slots hold.
    pub fn new(storage: S, capacity: usize) -> Result<Self, CapacityError> {
        Ok(Decoder {
            table: Table::new(storage, capacity)?,
        })
    }

    /// The connection is seen from its first header block: the encoder's table is empty and
    /// limited to `encoder_max` bytes (4096 in HTTP/2 until a size update says otherwise).
    pub fn start(&mut self, encoder_max: u32) {
        self.table.start(encoder_max);
    }

    /// Forgets every entry and what is known of the encoder: for a capture that starts
    /// mid-connection, or after a header block of this direction was lost.
    pub fn forget(&mut self) {
        self.table.forget();
    }

    /// The capacity given to [`new`](Self::new).
    pub fn capacity(&self) -> usize {
        self.table.capacity()
    }

    /// Entries held in the dynamic table.
    pub fn entries(&self) -> usize {
        self.table.len()
    }

    /// The encoder's table size limit, when known (from [`start`](Self::start) or a size update).
    pub fn encoder_max(&self) -> Option<u32> {
        self.table.encoder_max()
    }

    /// Whether the encoder is known to hold no entry beyond ours (then a larger index is an
    /// error rather than unknown).
    pub fn holds_all_entries(&self) -> bool {
        self.table.complete()
    }

    /// The dynamic table, for tests.
    #[cfg(test)]
    pub(crate) fn table(&self) -> &Table<S> {
        &self.table
    }

    /// Decodes one complete header block, calling `on_event` for each field and size update
    /// in block order. Huffman strings are decoded into `scratch`, and stored entries that
    /// wrap around the table's ring are copied there; a string or entry that does not fit is
    /// reported as [`Unknown::TooLong`] (a scratch buffer as large as the table capacity, or
    /// as the largest header block, avoids that).
    ///
    /// On error, the events already delivered for this block should be discarded; the
    /// decoder has forgotten its table, as after [`forget`](Self::forget).
    pub fn decode<F>(
        &mut self,
        block: &[u8],
        scratch: &mut [u8],
        mut on_event: F,
    ) -> Result<(), Error>
    where
        F: FnMut(Event<'_>),
    {
        let result = self.decode_block(block, scratch, &mut on_event);
        if result.is_err() {
            self.table.forget();
        }
        result
    }

    fn decode_block<F>(
        &mut self,
        block: &[u8],
        scratch: &mut [u8],
        on_event: &mut F,
    ) -> Result<(), Error>
    where
        F: FnMut(Event<'_>),
    {
        let mut pos = 0;
        let mut fields = false;
        while let Some(&first) = block.get(pos) {
            if first & 0x80 != 0 {
                // 1xxxxxxx: indexed field (§6.1).
                let index = integer::decode(block, &mut pos, 7)?;
                self.indexed(index, scratch, on_event)?;
                fields = true;
            } else if first & 0x40 != 0 {
                // 01xxxxxx: literal with incremental indexing (§6.2.1).
                self.literal(block, &mut pos, 6, Literal::Incremental, scratch, on_event)?;
                fields = true;
            } else if first & 0x20 != 0 {
                // 001xxxxx: dynamic table size update (§6.3), only before the first field.
                if fields {
                    return Err(Error::SizeUpdateAfterField);
                }
                let max = integer::decode(block, &mut pos, 5)?;
                self.table.size_update(max);
                on_event(Event::SizeUpdate(max));
            } else {
                // 0001xxxx never indexed (§6.2.3), 0000xxxx without indexing (§6.2.2).
                let kind = if first & 0x10 != 0 {
                    Literal::Never
                } else {
                    Literal::Without
                };
                self.literal(block, &mut pos, 4, kind, scratch, on_event)?;
                fields = true;
            }
        }
        Ok(())
    }

    fn indexed<F>(&self, index: u32, scratch: &mut [u8], on_event: &mut F) -> Result<(), Error>
    where
        F: FnMut(Event<'_>),
    {
        if index == 0 {
            return Err(Error::IndexZero);
        }
        if let Some((name, value)) = static_table::get(index) {
            on_event(field(Text::Known(name), Text::Known(value), false));
            return Ok(());
        }
        let (name, value) = match self.table.lookup(index - STATIC_LEN) {
            Lookup::OutOfRange => return Err(Error::IndexOutOfRange),
            Lookup::Unknown => {
                let unknown = Text::Unknown(Unknown::NotSeen);
                on_event(field(unknown, unknown, false));
                return Ok(());
            }
            Lookup::Entry { name, value } => (name, value),
        };
        // Contiguous parts are lent from the table; wrapped ones are first joined in scratch.
        let mut used = 0;
        let name_copy = self.join(name, scratch, &mut used);
        let value_copy = self.join(value, scratch, &mut used);
        let scratch = &*scratch;
        let name = self.held_text(name, name_copy, scratch);
        let value = self.held_text(value, value_copy, scratch);
        on_event(field(name, value, false));
        Ok(())
    }

    /// Copies a stored part that wraps around the arena's end into `scratch[*used..]`.
    fn join(&self, held: Held, scratch: &mut [u8], used: &mut usize) -> Joined {
        let Held::Stored { at, len } = held else {
            return Joined::InPlace;
        };
        let (a, b) = self.table.bytes(at, len);
        if b.is_empty() {
            return Joined::InPlace;
        }
        let Some(out) = scratch.get_mut(*used..*used + len) else {
            return Joined::TooLong;
        };
        out[..a.len()].copy_from_slice(a);
        out[a.len()..].copy_from_slice(b);
        *used += len;
        Joined::Copied(*used - len)
    }

    fn held_text<'a>(&'a self, held: Held, joined: Joined, scratch: &'a [u8]) -> Text<'a> {
        match (held, joined) {
            (Held::Unknown(why, _), _) => Text::Unknown(why),
            (Held::Stored { at, len }, Joined::InPlace) => Text::Known(self.table.bytes(at, len).0),
            (Held::Stored { len, .. }, Joined::Copied(start)) => {
                Text::Known(&scratch[start..start + len])
            }
            (Held::Stored { .. }, Joined::TooLong) => Text::Unknown(Unknown::TooLong),
        }
    }

    fn literal<F>(
        &mut self,
        block: &[u8],
        pos: &mut usize,
        prefix: u8,
        kind: Literal,
        scratch: &mut [u8],
        on_event: &mut F,
    ) -> Result<(), Error>
    where
        F: FnMut(Event<'_>),
    {
        let mut used = 0;
        let name_index = integer::decode(block, pos, prefix)?;
        let name = if name_index == 0 {
            string(block, pos, scratch, &mut used)?
        } else if let Some((name, _)) = static_table::get(name_index) {
            Src::Static(name)
        } else {
            match self.table.lookup(name_index - STATIC_LEN) {
                Lookup::OutOfRange => return Err(Error::IndexOutOfRange),
                Lookup::Unknown => Src::Unknown(Unknown::NotSeen, 0),
                Lookup::Entry {
                    name: Held::Unknown(why, len),
                    ..
                } => Src::Unknown(why, len),
                // Copied, since inserting may overwrite the entry it comes from.
                Lookup::Entry {
                    name: Held::Stored { at, len },
                    ..
                } => match scratch.get_mut(used..used + len) {
                    Some(out) => {
                        let (a, b) = self.table.bytes(at, len);
                        out[..a.len()].copy_from_slice(a);
                        out[a.len()..].copy_from_slice(b);
                        used += len;
                        Src::Scratch(used - len, len)
                    }
                    None => Src::Unknown(Unknown::TooLong, len),
                },
            }
        };
        let value = string(block, pos, scratch, &mut used)?;
        let scratch = &*scratch;
        if kind == Literal::Incremental {
            self.table
                .insert(part(name, block, scratch), part(value, block, scratch));
        }
        on_event(field(
            text(name, block, scratch),
            text(value, block, scratch),
            kind == Literal::Never,
        ));
        Ok(())
    }
}

/// A string literal (§5.2) at `block[*pos..]`: raw strings stay in the block, Huffman ones
/// are decoded into `scratch[*used..]`.
fn string(
    block: &[u8],
    pos: &mut usize,
    scratch: &mut [u8],
    used: &mut usize,
) -> Result<Src, Error> {
    let huffman = block.get(*pos).ok_or(Error::Truncated)? & 0x80 != 0;
    let len = integer::decode(block, pos, 7)? as usize;
    let start = *pos;
    let end = start.checked_add(len).ok_or(Error::Truncated)?;
    let raw = block.get(start..end).ok_or(Error::Truncated)?;
    *pos = end;
    if !huffman {
        return Ok(Src::Block(start, len));
    }
    let out = &mut scratch[*used..];
    let n = huffman::decode(raw, out)?;
    if n > out.len() {
        return Ok(Src::Unknown(Unknown::TooLong, n));
    }
    *used += n;
    Ok(Src::Scratch(*used - n, n))
}

fn part<'a>(src: Src, block: &'a [u8], scratch: &'a [u8]) -> Part<'a> {
    match text(src, block, scratch) {
        Text::Known(bytes) => Part::Known(bytes),
        Text::Unknown(why) => match src {
            Src::Unknown(_, len) => Part::Unknown(why, len),
            _ => Part::Unknown(why, 0),
        },
    }
}

fn text<'a>(src: Src, block: &'a [u8], scratch: &'a [u8]) -> Text<'a> {
    match src {
        Src::Block(start, len) => Text::Known(&block[start..start + len]),
        Src::Scratch(start, len) => Text::Known(&scratch[start..start + len]),
        Src::Static(bytes) => Text::Known(bytes),
        Src::Unknown(why, _) => Text::Unknown(why),
    }
}

fn field<'a>(name: Text<'a>, value: Text<'a>, never_indexed: bool) -> Event<'a> {
    Event::Field(Field {
        name,
        value,
        never_indexed,
    })
}
