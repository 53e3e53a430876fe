//! The dynamic table in caller-placed storage, and what it proves about the encoder's table.
//!
//! Storage layout, `storage_len(cap)` bytes:
//! - an arena of `cap` bytes used as a ring: entries oldest to newest, each a 5-byte header
//!   (flags, name length, value length; u16 little-endian) followed by the name and value
//!   bytes that are stored (an unknown part stores nothing). HPACK counts 32 bytes of overhead
//!   per entry, so whatever fits a `cap`-byte HPACK table fits the arena with its headers;
//! - `cap / 32` slots (u16 little-endian): the arena offset of each entry, in a ring, so that
//!   index i is found in one step. `cap / 32` is the most entries a `cap`-byte table holds.
//!
//! The knowledge rules (which entries are surely evicted, when we hold all of the encoder's
//! entries) are argued in the module documentation of [`super`].

use super::{CapacityError, Unknown};

/// Bytes of an entry's header in the arena.
const HEADER: usize = 5;
/// HPACK's per-entry overhead (RFC 7541 §4.1).
const OVERHEAD: u64 = 32;

const NAME_STORED: u8 = 1;
const VALUE_STORED: u8 = 2;
const NAME_TOO_LONG: u8 = 4;
const VALUE_TOO_LONG: u8 = 8;

/// Smallest and largest capacity: one entry's overhead, and what u16 offsets address.
pub(crate) const MIN_CAPACITY: usize = 32;
pub(crate) const MAX_CAPACITY: usize = u16::MAX as usize;

/// Bytes of storage a table of `capacity` bytes needs.
pub const fn storage_len(capacity: usize) -> usize {
    capacity + 2 * (capacity / 32)
}

/// A name or value handed to [`Table::insert`].
#[derive(Clone, Copy, Debug)]
pub(crate) enum Part<'a> {
    Known(&'a [u8]),
    /// Unknown, with a lower bound of its length (0 when nothing is known).
    Unknown(Unknown, usize),
}

impl Part<'_> {
    fn len(&self) -> usize {
        match self {
            Part::Known(b) => b.len(),
            Part::Unknown(_, len) => *len,
        }
    }
}

/// A name or value of an entry we hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Held {
    /// Stored at this arena offset (the bytes may wrap around the arena's end).
    Stored { at: usize, len: usize },
    /// Unknown, with a lower bound of its length.
    Unknown(Unknown, usize),
}

/// What a dynamic index (1 = newest) refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lookup {
    Entry {
        name: Held,
        value: Held,
    },
    /// An entry we never saw or dropped.
    Unknown,
    /// Past the encoder's table: we hold all of its entries and have fewer.
    OutOfRange,
}

/// The dynamic table: entries we hold, and what we know of the encoder's.
pub(crate) struct Table<S> {
    storage: S,
    cap: u32,
    slots: u32,
    /// Arena offset of the oldest entry's header.
    head: u32,
    /// Arena bytes in use.
    used: u32,
    /// Slot of the oldest entry.
    first: u32,
    /// Entries held.
    len: u32,
    /// Sum of the entries' sizes as HPACK counts them, each a lower bound.
    size: u64,
    /// The encoder's table size limit, when known.
    encoder_max: Option<u32>,
    /// The encoder holds no entry beyond ours.
    complete: bool,
}

impl<S: AsRef<[u8]> + AsMut<[u8]>> Table<S> {
    /// A table of `capacity` bytes over `storage`, knowing nothing of the encoder.
    pub(crate) fn new(storage: S, capacity: usize) -> Result<Self, CapacityError> {
        if !(MIN_CAPACITY..=MAX_CAPACITY).contains(&capacity)
            || storage.as_ref().len() < storage_len(capacity)
        {
            return Err(CapacityError);
        }
        Ok(Table {
            storage,
            cap: capacity as u32,
            slots: (capacity / 32) as u32,
            head: 0,
            used: 0,
            first: 0,
            len: 0,
            size: 0,
            encoder_max: None,
            complete: false,
        })
    }

    pub(crate) fn capacity(&self) -> usize {
        self.cap as usize
    }

    pub(crate) fn len(&self) -> usize {
        self.len as usize
    }

    /// Sum of the entries' sizes (lower bounds), for tests.
    #[cfg(test)]
    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    pub(crate) fn encoder_max(&self) -> Option<u32> {
        self.encoder_max
    }

    pub(crate) fn complete(&self) -> bool {
        self.complete
    }

    /// The start of a connection: the encoder's table is empty, limited to `encoder_max`.
    pub(crate) fn start(&mut self, encoder_max: u32) {
        self.clear();
        self.encoder_max = Some(encoder_max);
        self.complete = true;
    }

    /// Nothing known: the start of a capture mid-connection, or after a loss.
    pub(crate) fn forget(&mut self) {
        self.clear();
        self.encoder_max = None;
        self.complete = false;
    }

    fn clear(&mut self) {
        self.head = 0;
        self.used = 0;
        self.first = 0;
        self.len = 0;
        self.size = 0;
    }

    /// A dynamic table size update to `max`.
    pub(crate) fn size_update(&mut self, max: u32) {
        self.encoder_max = Some(max);
        let mut dropped = false;
        while self.len > 0 && self.size > u64::from(max) {
            self.pop();
            dropped = true;
        }
        if dropped {
            self.complete = true;
        }
        self.note_full();
    }

    /// A literal with incremental indexing.
    pub(crate) fn insert(&mut self, name: Part<'_>, value: Part<'_>) {
        let size = OVERHEAD + name.len() as u64 + value.len() as u64;
        if let Some(max) = self.encoder_max.map(u64::from) {
            if size > max {
                // Surely larger than the encoder's table: it emptied it (RFC 7541 §4.4).
                self.clear();
                self.complete = true;
                return;
            }
            // The encoder's table is a newest run of total size <= max: it cannot hold
            // entries past the point where ours (lower bounds) exceed max.
            let mut dropped = false;
            while self.len > 0 && self.size + size > max {
                self.pop();
                dropped = true;
            }
            if dropped {
                self.complete = true;
            }
        }
        // What fits our arena: the value goes first, then the name.
        let cap = self.cap as usize;
        let mut name_stored = matches!(name, Part::Known(_));
        let mut value_stored = matches!(value, Part::Known(_));
        let stored = |on: bool, part: &Part<'_>| if on { part.len() } else { 0 };
        if HEADER + stored(name_stored, &name) + stored(value_stored, &value) > cap {
            value_stored = false;
        }
        if HEADER + stored(name_stored, &name) > cap {
            name_stored = false;
        }
        let need = HEADER + stored(name_stored, &name) + stored(value_stored, &value);
        while self.len == self.slots || cap - (self.used as usize) < need {
            // Our memory, not the encoder: it may still hold what we drop.
            self.pop();
            self.complete = false;
        }
        let flags = part_flags(&name, name_stored, NAME_STORED, NAME_TOO_LONG)
            | part_flags(&value, value_stored, VALUE_STORED, VALUE_TOO_LONG);
        let name_len = name.len().min(u16::MAX as usize) as u16;
        let value_len = value.len().min(u16::MAX as usize) as u16;
        let [n0, n1] = name_len.to_le_bytes();
        let [v0, v1] = value_len.to_le_bytes();
        let at = (self.head + self.used) % self.cap;
        let mut w = self.write(at as usize, &[flags, n0, n1, v0, v1]);
        if let (true, Part::Known(bytes)) = (name_stored, name) {
            w = self.write(w, bytes);
        }
        if let (true, Part::Known(bytes)) = (value_stored, value) {
            self.write(w, bytes);
        }
        let slot = ((self.first + self.len) % self.slots) as usize;
        let offset = cap + 2 * slot;
        self.storage.as_mut()[offset..offset + 2].copy_from_slice(&(at as u16).to_le_bytes());
        self.len += 1;
        self.used += need as u32;
        self.size += OVERHEAD + u64::from(name_len) + u64::from(value_len);
        self.note_full();
    }

    /// With a known limit, when no entry of at least 32 bytes fits beside ours, the encoder
    /// holds nothing we do not.
    fn note_full(&mut self) {
        if let Some(max) = self.encoder_max
            && self.size + OVERHEAD > u64::from(max)
        {
            self.complete = true;
        }
    }

    /// Dynamic index `index` (1 = newest).
    pub(crate) fn lookup(&self, index: u32) -> Lookup {
        if index == 0 || index > self.len {
            return if self.complete {
                Lookup::OutOfRange
            } else {
                Lookup::Unknown
            };
        }
        let slot = ((self.first + self.len - index) % self.slots) as usize;
        let offset = self.cap as usize + 2 * slot;
        let bytes = self.storage.as_ref();
        let at = u16::from_le_bytes([bytes[offset], bytes[offset + 1]]) as usize;
        let (flags, name_len, value_len) = self.header(at);
        let name_at = (at + HEADER) % self.cap as usize;
        let name = held(flags, NAME_STORED, NAME_TOO_LONG, name_at, name_len);
        let name_stored = if flags & NAME_STORED != 0 {
            name_len
        } else {
            0
        };
        let value_at = (name_at + name_stored) % self.cap as usize;
        let value = held(flags, VALUE_STORED, VALUE_TOO_LONG, value_at, value_len);
        Lookup::Entry { name, value }
    }

    /// Stored bytes at arena offset `at`: the part before the arena's end, and the rest.
    pub(crate) fn bytes(&self, at: usize, len: usize) -> (&[u8], &[u8]) {
        let arena = &self.storage.as_ref()[..self.cap as usize];
        let first = len.min(arena.len() - at);
        (&arena[at..at + first], &arena[..len - first])
    }

    fn header(&self, at: usize) -> (u8, usize, usize) {
        let cap = self.cap as usize;
        let arena = &self.storage.as_ref()[..cap];
        let b = |i: usize| arena[(at + i) % cap];
        let name_len = u16::from_le_bytes([b(1), b(2)]) as usize;
        let value_len = u16::from_le_bytes([b(3), b(4)]) as usize;
        (b(0), name_len, value_len)
    }

    /// Writes `bytes` into the arena ring at `at`; returns the offset after them.
    fn write(&mut self, at: usize, bytes: &[u8]) -> usize {
        let cap = self.cap as usize;
        let arena = &mut self.storage.as_mut()[..cap];
        let first = bytes.len().min(cap - at);
        arena[at..at + first].copy_from_slice(&bytes[..first]);
        arena[..bytes.len() - first].copy_from_slice(&bytes[first..]);
        (at + bytes.len()) % cap
    }

    /// Drops the oldest entry.
    fn pop(&mut self) {
        let (flags, name_len, value_len) = self.header(self.head as usize);
        let mut stored = HEADER;
        if flags & NAME_STORED != 0 {
            stored += name_len;
        }
        if flags & VALUE_STORED != 0 {
            stored += value_len;
        }
        self.len -= 1;
        self.size -= OVERHEAD + name_len as u64 + value_len as u64;
        if self.len == 0 {
            self.clear();
        } else {
            self.head = ((self.head as usize + stored) % self.cap as usize) as u32;
            self.used -= stored as u32;
            self.first = (self.first + 1) % self.slots;
        }
    }
}

fn part_flags(part: &Part<'_>, stored: bool, stored_flag: u8, too_long_flag: u8) -> u8 {
    match part {
        _ if stored => stored_flag,
        Part::Known(_) | Part::Unknown(Unknown::TooLong, _) => too_long_flag,
        Part::Unknown(Unknown::NotSeen, _) => 0,
    }
}

fn held(flags: u8, stored_flag: u8, too_long_flag: u8, at: usize, len: usize) -> Held {
    if flags & stored_flag != 0 {
        Held::Stored { at, len }
    } else if flags & too_long_flag != 0 {
        Held::Unknown(Unknown::TooLong, len)
    } else {
        Held::Unknown(Unknown::NotSeen, len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(cap: usize) -> Table<Vec<u8>> {
        Table::new(vec![0; storage_len(cap)], cap).unwrap()
    }

    fn text(t: &Table<Vec<u8>>, h: Held) -> Option<Vec<u8>> {
        match h {
            Held::Stored { at, len } => {
                let (a, b) = t.bytes(at, len);
                Some([a, b].concat())
            }
            Held::Unknown(..) => None,
        }
    }

    /// Name and value, None for an unknown part.
    type Pair = (Option<Vec<u8>>, Option<Vec<u8>>);

    /// Dynamic index i, Err for no entry.
    fn get(t: &Table<Vec<u8>>, i: u32) -> Result<Pair, Lookup> {
        match t.lookup(i) {
            Lookup::Entry { name, value } => Ok((text(t, name), text(t, value))),
            other => Err(other),
        }
    }

    fn put(t: &mut Table<Vec<u8>>, name: &str, value: &str) {
        t.insert(Part::Known(name.as_bytes()), Part::Known(value.as_bytes()));
    }

    fn known(name: &str, value: &str) -> Pair {
        (Some(name.into()), Some(value.into()))
    }

    #[test]
    fn memory_of_one_table() {
        // One direction of one connection at HTTP/2's default table size.
        assert_eq!(storage_len(4096), 4352);
        assert_eq!(std::mem::size_of::<Table<Box<[u8]>>>(), 64);
        assert_eq!(
            std::mem::size_of::<Table<[u8; storage_len(4096)]>>(),
            4352 + 48
        );
    }

    #[test]
    fn capacity_limits() {
        assert_eq!(storage_len(4096), 4096 + 256);
        assert!(Table::new(vec![0; storage_len(31)], 31).is_err());
        assert!(Table::new(vec![0; storage_len(65536)], 65536).is_err());
        assert!(Table::new(vec![0; storage_len(4096) - 1], 4096).is_err());
        assert!(Table::new([0u8; storage_len(32)], 32).is_ok());
        assert!(Table::new(&mut [0u8; storage_len(65535)][..], 65535).is_ok());
    }

    #[test]
    fn newest_is_index_one_and_eviction_is_oldest_first() {
        let mut t = table(4096);
        t.start(100);
        put(&mut t, "a", "1"); // 34 bytes
        put(&mut t, "b", "2"); // 68
        assert_eq!(get(&t, 1), Ok(known("b", "2")));
        assert_eq!(get(&t, 2), Ok(known("a", "1")));
        assert_eq!(get(&t, 3), Err(Lookup::OutOfRange));
        put(&mut t, "c", "3"); // 102 > 100: "a" goes
        assert_eq!(t.len(), 2);
        assert_eq!(get(&t, 1), Ok(known("c", "3")));
        assert_eq!(get(&t, 2), Ok(known("b", "2")));
        assert_eq!(get(&t, 3), Err(Lookup::OutOfRange));
    }

    #[test]
    fn entry_larger_than_the_table_empties_it() {
        let mut t = table(4096);
        t.start(100);
        put(&mut t, "a", "1");
        put(&mut t, "name", &"v".repeat(65)); // 32 + 4 + 65 = 101 > 100
        assert_eq!(t.len(), 0);
        assert_eq!(get(&t, 1), Err(Lookup::OutOfRange));
        // Exactly the limit fits, alone.
        put(&mut t, "a", "1");
        put(&mut t, "name", &"v".repeat(64));
        assert_eq!(t.len(), 1);
        assert_eq!(get(&t, 1), Ok(known("name", &"v".repeat(64))));
    }

    #[test]
    fn size_update_evicts_and_zero_empties() {
        let mut t = table(4096);
        t.start(4096);
        for (n, v) in [("a", "1"), ("b", "2"), ("c", "3")] {
            put(&mut t, n, v);
        }
        t.size_update(70);
        assert_eq!(t.len(), 2);
        assert_eq!(get(&t, 2), Ok(known("b", "2")));
        t.size_update(0);
        assert_eq!(t.len(), 0);
        t.size_update(4096);
        assert_eq!(get(&t, 1), Err(Lookup::OutOfRange));
    }

    #[test]
    fn ring_wraps_and_stays_readable() {
        let mut t = table(64);
        t.start(u32::MAX);
        // Entries of 5 + 1 + 10 = 16 arena bytes wrap the 64-byte arena many times.
        for i in 0..50u8 {
            let v = format!("{i:010}");
            put(&mut t, "k", &v);
            assert_eq!(get(&t, 1), Ok(known("k", &v)));
            if i > 0 {
                assert_eq!(get(&t, 2), Ok(known("k", &format!("{:010}", i - 1))));
            }
        }
        // 64 / 32 = 2 slots: the third entry back was dropped for our memory, so unknown.
        assert_eq!(get(&t, 3), Err(Lookup::Unknown));
        assert!(!t.complete());
    }

    #[test]
    fn forgotten_table_reports_unknown_past_what_it_holds() {
        let mut t = table(4096);
        t.forget();
        assert_eq!(get(&t, 1), Err(Lookup::Unknown));
        put(&mut t, "a", "1");
        assert_eq!(get(&t, 1), Ok(known("a", "1")));
        assert_eq!(get(&t, 2), Err(Lookup::Unknown));
        // A size update alone does not prove the encoder has no older entries...
        t.size_update(4096);
        assert_eq!(get(&t, 2), Err(Lookup::Unknown));
        // ...but one too small for another entry beside ours does.
        t.size_update(34 + 31);
        assert_eq!(get(&t, 2), Err(Lookup::OutOfRange));
    }

    #[test]
    fn unknown_name_keeps_its_place_and_its_value() {
        let mut t = table(4096);
        t.forget();
        put(&mut t, "a", "1");
        t.insert(Part::Unknown(Unknown::NotSeen, 0), Part::Known(b"v"));
        put(&mut t, "c", "3");
        assert_eq!(get(&t, 1), Ok(known("c", "3")));
        assert_eq!(get(&t, 2), Ok((None, Some(b"v".to_vec()))));
        assert_eq!(get(&t, 3), Ok(known("a", "1")));
        match t.lookup(2) {
            Lookup::Entry { name, .. } => assert_eq!(name, Held::Unknown(Unknown::NotSeen, 0)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn entry_larger_than_our_memory_is_a_placeholder() {
        let mut t = table(64);
        t.forget();
        put(&mut t, "a", "1");
        put(&mut t, "big", &"x".repeat(100));
        match t.lookup(1) {
            Lookup::Entry { name, value } => {
                assert!(matches!(name, Held::Stored { len: 3, .. }));
                assert_eq!(value, Held::Unknown(Unknown::TooLong, 100));
            }
            other => panic!("{other:?}"),
        }
        // The older entry is still there: the placeholder takes only its header.
        assert_eq!(get(&t, 2), Ok(known("a", "1")));
    }

    #[test]
    fn known_limit_and_unknown_sizes() {
        let mut t = table(4096);
        t.forget();
        t.size_update(200);
        // Lower bound 32 + 0 + 50: the real size is larger by the unknown name's length.
        t.insert(Part::Unknown(Unknown::NotSeen, 0), Part::Known(&[b'v'; 50]));
        put(&mut t, "a", &"1".repeat(50)); // 83
        // 82 + 83 + 32 = 197 <= 200: an older entry of 32+ bytes could still be there.
        assert!(!t.complete());
        // A third of 83: lower bounds 82 + 83 + 83 > 200, so the oldest is surely gone.
        put(&mut t, "b", &"2".repeat(50));
        assert_eq!(t.len(), 2);
        assert!(t.complete());
        // An entry whose lower bound alone exceeds the limit surely emptied the table.
        t.insert(
            Part::Unknown(Unknown::NotSeen, 0),
            Part::Known(&[b'v'; 169]),
        );
        assert_eq!(t.len(), 0);
        assert!(t.complete());
    }

    #[test]
    fn tiny_entries_are_bounded_by_slots() {
        let mut t = table(4096);
        t.forget();
        for _ in 0..10_000 {
            put(&mut t, "", "");
        }
        assert_eq!(t.len(), 128);
        assert!(!t.complete());
    }
}
