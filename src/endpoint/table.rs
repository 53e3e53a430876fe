//! The endpoint table: a fixed number of slots reserved at start-up, each
//! holding an endpoint's key — (method, host, template) in bounded fixed
//! fields — found through a hash index (keyed SipHash, so crafted paths
//! cannot pile up in one chain).
//!
//! When the table is full, the **least useful** entry goes, counted as an
//! eviction. Entries live on two lists ordered by when they were last seen
//! (segmented LRU): *probation* for entries seen once since they arrived,
//! *main* for entries seen again. The victim is the least recently seen
//! entry of probation, else of main; main holds at most three quarters of
//! the table (beyond that its least recently seen entry goes back to
//! probation), so an entry seen once survives at least a quarter of a
//! table's worth of newcomers, a flood of one-off paths (a scanner) only
//! churns probation, and endpoints seen repeatedly are forgotten only once
//! nobody calls them. The entry being created is never its own victim. An
//! evicted endpoint that comes back is new again.
//!
//! Every slot has a generation, bumped when it is reused, so a reference
//! held by an exchange in flight (slot, generation) can tell that its
//! endpoint was evicted meanwhile.

use std::hash::{BuildHasher, Hasher};

use super::{Zeroed, zeroed};

/// Bytes of a method kept (longer ones are cut).
pub const METHOD_MAX: usize = 16;
/// Bytes of a host kept (longer ones are cut at a character boundary).
pub const HOST_MAX: usize = 64;
/// Bytes of a template (longer ones end in `/…`, see `template`).
pub const TEMPLATE_MAX: usize = 128;

const NIL: u32 = u32::MAX;

/// An endpoint: (method, host, path template), in fixed fields.
#[derive(Clone, Copy)]
pub struct Key {
    method: [u8; METHOD_MAX],
    host: [u8; HOST_MAX],
    template: [u8; TEMPLATE_MAX],
    method_len: u8,
    host_len: u8,
    template_len: u8,
}

impl Default for Key {
    fn default() -> Key {
        Key {
            method: [0; METHOD_MAX],
            host: [0; HOST_MAX],
            template: [0; TEMPLATE_MAX],
            method_len: 0,
            host_len: 0,
            template_len: 0,
        }
    }
}

/// The first `max` bytes of `s` or fewer, ending at a character boundary.
fn cut(s: &str, max: usize) -> &[u8] {
    let mut n = s.len().min(max);
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    &s.as_bytes()[..n]
}

impl Key {
    /// The endpoint of a request: `method` as sent, `host` (without its
    /// port) in small letters and without a trailing dot, the template of
    /// `target`'s path.
    pub fn new(method: &str, host: &str, target: &str) -> Key {
        let mut k = Key::default();
        let m = cut(method, METHOD_MAX);
        k.method[..m.len()].copy_from_slice(m);
        k.method_len = m.len() as u8;
        let h = cut(host.strip_suffix('.').unwrap_or(host), HOST_MAX);
        for (d, s) in k.host.iter_mut().zip(h) {
            *d = s.to_ascii_lowercase();
        }
        k.host_len = h.len() as u8;
        k.template_len = super::template::write(target, &mut k.template) as u8;
        k
    }

    pub fn method(&self) -> &[u8] {
        &self.method[..self.method_len as usize]
    }

    pub fn host(&self) -> &[u8] {
        &self.host[..self.host_len as usize]
    }

    pub fn template(&self) -> &[u8] {
        &self.template[..self.template_len as usize]
    }

    fn hash(&self, s: &std::hash::RandomState) -> u64 {
        let mut h = s.build_hasher();
        h.write(&[self.method_len, self.host_len, self.template_len]);
        h.write(self.method());
        h.write(self.host());
        h.write(self.template());
        h.finish()
    }
}

// SAFETY: byte arrays and bytes: all zeroes is the empty key, `Key::default()`.
unsafe impl Zeroed for Key {}

impl PartialEq for Key {
    fn eq(&self, o: &Key) -> bool {
        self.method() == o.method() && self.host() == o.host() && self.template() == o.template()
    }
}

impl Eq for Key {}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}{}",
            String::from_utf8_lossy(self.method()),
            String::from_utf8_lossy(self.host()),
            String::from_utf8_lossy(self.template())
        )
    }
}

/// Which list a slot is on.
#[derive(Clone, Copy, PartialEq, Eq, Default, Debug)]
#[repr(u8)]
enum On {
    #[default]
    Nothing = 0,
    Probation,
    Main,
}

#[derive(Clone, Copy, Default)]
struct Meta {
    hash: u64,
    /// Next slot in the same hash bucket.
    chain: u32,
    /// Towards the most (prev) and least (next) recently seen.
    prev: u32,
    next: u32,
    generation: u32,
    on: On,
}

// SAFETY: integers and `On`, whose zero is `Nothing` (`#[repr(u8)]`): all
// zeroes is `Meta::default()`.
unsafe impl Zeroed for Meta {}

#[derive(Clone, Copy)]
struct List {
    /// Most recently seen.
    head: u32,
    /// Least recently seen.
    tail: u32,
    len: u32,
}

const EMPTY: List = List {
    head: NIL,
    tail: NIL,
    len: 0,
};

/// What `find_or_insert` found or made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found {
    pub slot: u32,
    pub generation: u32,
    /// The endpoint was not in the table (its slot's state must be reset).
    pub new: bool,
    /// Making room for it evicted another endpoint.
    pub evicted: bool,
}

pub struct Table {
    keys: Box<[Key]>,
    meta: Box<[Meta]>,
    /// Hash index: the first slot of each bucket's chain, plus one (0:
    /// none, so that the index starts as zeroed memory).
    buckets: Box<[u32]>,
    hasher: std::hash::RandomState,
    /// Slots used so far (0..used); once full, slots are reused.
    used: u32,
    probation: List,
    main: List,
    main_max: u32,
    /// Endpoints forgotten to make room.
    pub evictions: u64,
}

impl Table {
    /// A table of `cap` endpoints (at least one), all reserved now.
    pub fn new(cap: usize) -> Table {
        let cap = cap.clamp(1, NIL as usize - 1);
        let nb = (cap * 2).next_power_of_two();
        Table {
            keys: zeroed(cap),
            meta: zeroed(cap),
            buckets: vec![0; nb].into_boxed_slice(),
            hasher: std::hash::RandomState::new(),
            used: 0,
            probation: EMPTY,
            main: EMPTY,
            main_max: (cap - cap / 4) as u32,
            evictions: 0,
        }
    }

    /// Bytes reserved for a table of `cap` endpoints.
    pub fn bytes_for(cap: usize) -> usize {
        let cap = cap.max(1);
        cap * (size_of::<Key>() + size_of::<Meta>()) + (cap * 2).next_power_of_two() * 4
    }

    pub fn reserved(&self) -> usize {
        self.keys.len() * (size_of::<Key>() + size_of::<Meta>()) + self.buckets.len() * 4
    }

    pub fn capacity(&self) -> usize {
        self.keys.len()
    }

    /// Endpoints known now.
    pub fn len(&self) -> usize {
        self.used as usize
    }

    pub fn is_empty(&self) -> bool {
        self.used == 0
    }

    pub fn key(&self, slot: u32) -> &Key {
        &self.keys[slot as usize]
    }

    /// Does `slot` still hold the endpoint it held at `generation`?
    pub fn current(&self, slot: u32, generation: u32) -> bool {
        self.meta
            .get(slot as usize)
            .is_some_and(|m| m.generation == generation && m.on != On::Nothing)
    }

    /// Find `key`, marking it seen now; or add it, evicting the least useful
    /// entry when the table is full.
    pub fn find_or_insert(&mut self, key: &Key) -> Found {
        let hash = key.hash(&self.hasher);
        let b = hash as usize & (self.buckets.len() - 1);
        let mut i = self.buckets[b].wrapping_sub(1);
        while i != NIL {
            let m = self.meta[i as usize];
            if m.hash == hash && self.keys[i as usize] == *key {
                self.seen_again(i);
                return Found {
                    slot: i,
                    generation: m.generation,
                    new: false,
                    evicted: false,
                };
            }
            i = m.chain;
        }
        let (slot, evicted) = if (self.used as usize) < self.keys.len() {
            self.used += 1;
            (self.used - 1, false)
        } else {
            (self.evict(), true)
        };
        let s = slot as usize;
        self.keys[s] = *key;
        let generation = self.meta[s].generation.wrapping_add(1);
        self.meta[s] = Meta {
            hash,
            chain: self.buckets[b].wrapping_sub(1),
            prev: NIL,
            next: NIL,
            generation,
            on: On::Nothing,
        };
        self.buckets[b] = slot + 1;
        self.push_front(slot, On::Probation);
        Found {
            slot,
            generation,
            new: true,
            evicted,
        }
    }

    /// The slot of the least useful entry, taken off its list and its chain.
    fn evict(&mut self) -> u32 {
        let victim = if self.probation.len > 0 {
            self.probation.tail
        } else {
            self.main.tail
        };
        self.unlink(victim);
        let m = self.meta[victim as usize];
        let b = m.hash as usize & (self.buckets.len() - 1);
        if self.buckets[b] == victim + 1 {
            self.buckets[b] = m.chain.wrapping_add(1);
        } else {
            let mut i = self.buckets[b] - 1;
            while self.meta[i as usize].chain != victim {
                i = self.meta[i as usize].chain;
            }
            self.meta[i as usize].chain = m.chain;
        }
        self.evictions += 1;
        victim
    }

    /// The slot of `key`, without marking it seen (for tests).
    #[cfg(test)]
    fn find(&self, key: &Key) -> Option<u32> {
        let hash = key.hash(&self.hasher);
        let mut i = self.buckets[hash as usize & (self.buckets.len() - 1)].wrapping_sub(1);
        while i != NIL {
            if self.meta[i as usize].hash == hash && self.keys[i as usize] == *key {
                return Some(i);
            }
            i = self.meta[i as usize].chain;
        }
        None
    }

    fn seen_again(&mut self, i: u32) {
        self.unlink(i);
        self.push_front(i, On::Main);
        if self.main.len > self.main_max {
            let old = self.main.tail;
            self.unlink(old);
            self.push_front(old, On::Probation);
        }
    }

    fn list(&mut self, on: On) -> &mut List {
        match on {
            On::Main => &mut self.main,
            _ => &mut self.probation,
        }
    }

    fn unlink(&mut self, i: u32) {
        let m = self.meta[i as usize];
        if m.prev != NIL {
            self.meta[m.prev as usize].next = m.next;
        } else {
            self.list(m.on).head = m.next;
        }
        if m.next != NIL {
            self.meta[m.next as usize].prev = m.prev;
        } else {
            self.list(m.on).tail = m.prev;
        }
        self.list(m.on).len -= 1;
        let m = &mut self.meta[i as usize];
        m.on = On::Nothing;
        m.prev = NIL;
        m.next = NIL;
    }

    fn push_front(&mut self, i: u32, on: On) {
        let l = *self.list(on);
        {
            let m = &mut self.meta[i as usize];
            m.on = on;
            m.prev = NIL;
            m.next = l.head;
        }
        if l.head != NIL {
            self.meta[l.head as usize].prev = i;
        }
        let l = self.list(on);
        l.head = i;
        if l.tail == NIL {
            l.tail = i;
        }
        l.len += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(path: &str) -> Key {
        Key::new("GET", "api.example.com", path)
    }

    #[test]
    fn key_fields() {
        let key = Key::new("GET", "API.Example.COM.", "/users/42?x=1");
        assert_eq!(key.method(), b"GET");
        assert_eq!(key.host(), b"api.example.com");
        assert_eq!(key.template(), b"/users/{int}");
        assert_eq!(key, Key::new("GET", "api.example.com", "/users/7"));
        assert_ne!(key, Key::new("POST", "api.example.com", "/users/7"));
        let long = "h".repeat(70) + ".example.com";
        assert_eq!(Key::new("GET", &long, "/").host().len(), HOST_MAX);
        let long = "é".repeat(40);
        assert_eq!(Key::new("GET", &long, "/").host().len(), HOST_MAX);
        assert!(std::str::from_utf8(Key::new("GET", &long, "/").host()).is_ok());
        assert_eq!(
            Key::new("VERY-LONG-CUSTOM-METHOD", "h", "/").method(),
            b"VERY-LONG-CUSTOM"
        );
    }

    #[test]
    fn finds_what_it_inserted() {
        let mut t = Table::new(8);
        let a = t.find_or_insert(&k("/a"));
        assert!(a.new && !a.evicted);
        let b = t.find_or_insert(&k("/b"));
        assert_ne!(a.slot, b.slot);
        let a2 = t.find_or_insert(&k("/a"));
        assert_eq!(
            (a2.slot, a2.generation, a2.new),
            (a.slot, a.generation, false)
        );
        assert_eq!(t.len(), 2);
        assert_eq!(t.key(b.slot).template(), b"/b");
    }

    #[test]
    fn once_seen_entries_go_first_then_the_least_recently_seen() {
        let mut t = Table::new(4);
        // a, b seen twice (main); c, d once (probation).
        for p in ["/a", "/b", "/a", "/b", "/c", "/d"] {
            t.find_or_insert(&k(p));
        }
        // e evicts c: the least recently seen of those seen once.
        let e = t.find_or_insert(&k("/e"));
        assert!(e.new && e.evicted);
        assert_eq!(t.evictions, 1);
        assert!(t.find(&k("/c")).is_none());
        for p in ["/a", "/b", "/d", "/e"] {
            assert!(t.find(&k(p)).is_some(), "{p}");
        }
        // With probation empty, main's least recently seen goes.
        let mut t = Table::new(2);
        for p in ["/a", "/b", "/a", "/b", "/a"] {
            t.find_or_insert(&k(p));
        }
        // main_max is 2: both in main, b the least recently seen.
        t.find_or_insert(&k("/c"));
        assert!(t.find(&k("/b")).is_none());
        assert!(t.find(&k("/a")).is_some());
    }

    #[test]
    fn main_holds_three_quarters_so_newcomers_survive() {
        let mut t = Table::new(8);
        // Eight endpoints seen twice each: main holds 6, two go back to probation.
        for _ in 0..2 {
            for i in 0..8 {
                t.find_or_insert(&k(&format!("/r{i}")));
            }
        }
        // A flood of one-off paths: each newcomer survives the next one.
        for i in 0..100 {
            let f = t.find_or_insert(&k(&format!("/scan{i}")));
            assert!(f.new);
            if i > 0 {
                assert!(t.find(&k(&format!("/scan{}", i - 1))).is_some());
            }
        }
        // The six most recently seen regulars were never evicted.
        for i in 2..8 {
            assert!(t.find(&k(&format!("/r{i}"))).is_some(), "r{i}");
        }
        assert_eq!(t.evictions, 100);
    }

    #[test]
    fn generations_tell_a_reused_slot() {
        let mut t = Table::new(1);
        let a = t.find_or_insert(&k("/a"));
        assert!(t.current(a.slot, a.generation));
        let b = t.find_or_insert(&k("/b"));
        assert_eq!(b.slot, a.slot);
        assert!(b.evicted);
        assert!(!t.current(a.slot, a.generation));
        assert!(t.current(b.slot, b.generation));
    }

    #[test]
    fn chains_survive_eviction_in_the_middle() {
        // A table of 3 with 8 buckets: insert and evict many times, then
        // check every remaining key is found and the lists add up.
        let mut t = Table::new(3);
        for i in 0..1000 {
            t.find_or_insert(&k(&format!("/p{}", i % 7)));
            t.find_or_insert(&k(&format!("/p{}", (i * 3) % 5)));
            assert_eq!((t.probation.len + t.main.len) as usize, t.len());
        }
        for s in 0..t.len() as u32 {
            let key = *t.key(s);
            let f = t.find_or_insert(&key);
            assert_eq!(f.slot, s);
            assert!(!f.new);
        }
    }

    #[test]
    fn zeroed_slots_are_the_defaults() {
        let k: Box<[Key]> = zeroed(1);
        assert!(k[0] == Key::default() && k[0].template().is_empty());
        let m: Box<[Meta]> = zeroed(1);
        let d = Meta::default();
        assert_eq!(
            (
                m[0].hash,
                m[0].chain,
                m[0].prev,
                m[0].next,
                m[0].generation,
                m[0].on
            ),
            (d.hash, d.chain, d.prev, d.next, d.generation, d.on)
        );
    }

    #[test]
    fn reserved_bytes() {
        let t = Table::new(1024);
        assert_eq!(t.reserved(), Table::bytes_for(1024));
        assert_eq!(size_of::<Key>(), 211);
    }
}
