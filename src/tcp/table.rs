//! The flow table: a fixed number of connection slots reserved at start-up,
//! found by their ends (the four-tuple) through an open-addressing hash
//! index, and kept in least-recently-used order for eviction and the idle
//! timeout.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

use super::Ends;
use crate::pool::NIL;

/// What a slot holds: a value that carries its key, a connection's ends
/// with the lower (address, port) first, so both directions find it.
pub trait Keyed: Copy {
    fn key(&self) -> &Ends;
}

/// One slot: its place in the LRU list, and its value.
#[derive(Clone, Copy, Debug)]
struct Slot<V> {
    /// Capture time of the connection's latest segment (microseconds).
    last_seen: u64,
    prev: u32,
    next: u32,
    value: V,
}

/// `capacity` slots, their index and their LRU list; nothing allocates after `new`.
pub struct Table<V> {
    /// The slots taken so far (within the capacity reserved at start-up).
    slots: Vec<Slot<V>>,
    /// Slot numbers freed, a stack: taken before a new slot is.
    free: Vec<u32>,
    /// How many slots there may be.
    cap: usize,
    /// Open addressing with linear probing: slot numbers, or NIL.
    index: Vec<u32>,
    mask: usize,
    seed: u64,
    /// Most and least recently used slots in use.
    head: u32,
    tail: u32,
    live: u32,
}

impl<V: Keyed> Table<V> {
    /// `capacity` slots (at least one). The slots are reserved here and
    /// written as they are first taken, so the memory of those never used
    /// stays untouched (not resident); `reserved` counts them all.
    pub fn new(capacity: usize) -> Table<V> {
        let n = capacity.max(1);
        let index_len = (n * 2).next_power_of_two();
        Table {
            slots: Vec::with_capacity(n),
            free: Vec::with_capacity(n),
            cap: n,
            index: vec![NIL; index_len],
            mask: index_len - 1,
            seed: RandomState::new().hash_one(0x5eed_u64) | 1,
            head: NIL,
            tail: NIL,
            live: 0,
        }
    }

    /// Bytes reserved.
    pub fn reserved(&self) -> usize {
        self.cap * std::mem::size_of::<Slot<V>>() + self.free.capacity() * 4 + self.index.len() * 4
    }

    /// Slots in use.
    pub fn live(&self) -> u32 {
        self.live
    }

    pub fn is_full(&self) -> bool {
        self.free.is_empty() && self.slots.len() == self.cap
    }

    /// The least recently used slot in use.
    pub fn oldest(&self) -> Option<u32> {
        (self.tail != NIL).then_some(self.tail)
    }

    /// Slot `id`'s state.
    #[inline]
    pub fn get(&self, id: u32) -> &V {
        &self.slots[id as usize].value
    }

    #[inline]
    pub fn get_mut(&mut self, id: u32) -> &mut V {
        &mut self.slots[id as usize].value
    }

    /// When slot `id` was last used (microseconds).
    #[inline]
    pub fn last_seen(&self, id: u32) -> u64 {
        self.slots[id as usize].last_seen
    }

    /// A keyed multiply-xor hash of the four-tuple: much cheaper per packet
    /// than SipHash, and the random key keeps crafted flows from piling up
    /// in one probe chain.
    fn hash(&self, k: &Ends) -> usize {
        const M: u64 = 0x9e37_79b9_7f4a_7c15;
        let w = |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap());
        let (a, b) = (&k.addr[0].0, &k.addr[1].0);
        let mut h = self.seed;
        for x in [
            w(&a[..8]),
            w(&a[8..]),
            w(&b[..8]),
            w(&b[8..]),
            (k.port[0] as u64) << 16 | k.port[1] as u64,
        ] {
            h = (h ^ x).wrapping_mul(M);
            h ^= h >> 29;
        }
        h as usize
    }

    /// The slot holding `k`.
    pub fn find(&self, k: &Ends) -> Option<u32> {
        let mut i = self.hash(k) & self.mask;
        loop {
            let f = self.index[i];
            if f == NIL {
                return None;
            }
            if self.slots[f as usize].value.key() == k {
                return Some(f);
            }
            i = (i + 1) & self.mask;
        }
    }

    /// Take a free slot for `value`; it becomes the most recently used,
    /// seen at `ts`. The table must not be full.
    pub fn insert(&mut self, value: V, ts: u64) -> u32 {
        let slot = Slot {
            last_seen: ts,
            prev: NIL,
            next: NIL,
            value,
        };
        let key = *value.key();
        let id = match self.free.pop() {
            Some(id) => {
                self.slots[id as usize] = slot;
                id
            }
            None => {
                assert!(
                    self.slots.len() < self.cap,
                    "a free flow slot after eviction"
                );
                // Within the capacity reserved by `new`: no allocation.
                self.slots.push(slot);
                self.slots.len() as u32 - 1
            }
        };
        let mut i = self.hash(&key) & self.mask;
        while self.index[i] != NIL {
            i = (i + 1) & self.mask;
        }
        self.index[i] = id;
        self.live += 1;
        self.push_front(id);
        id
    }

    /// `id` was just used at `ts`: it moves to the front of the LRU list.
    pub fn touch(&mut self, id: u32, ts: u64) {
        self.unlink(id);
        self.push_front(id);
        self.slots[id as usize].last_seen = ts;
    }

    /// Free slot `id`.
    pub fn remove(&mut self, id: u32) {
        self.index_remove(id);
        self.unlink(id);
        self.free.push(id);
        self.live -= 1;
    }

    /// Remove `f` from the open-addressing index (backward-shift deletion).
    fn index_remove(&mut self, f: u32) {
        let k = *self.slots[f as usize].value.key();
        let mut i = self.hash(&k) & self.mask;
        while self.index[i] != f {
            i = (i + 1) & self.mask;
        }
        let mut hole = i;
        let mut j = i;
        loop {
            j = (j + 1) & self.mask;
            let g = self.index[j];
            if g == NIL {
                break;
            }
            let home = self.hash(self.slots[g as usize].value.key()) & self.mask;
            // Move g into the hole if its home is not in (hole, j].
            let dist_home = j.wrapping_sub(home) & self.mask;
            let dist_hole = j.wrapping_sub(hole) & self.mask;
            if dist_home >= dist_hole {
                self.index[hole] = g;
                hole = j;
            }
        }
        self.index[hole] = NIL;
    }

    fn unlink(&mut self, f: u32) {
        let (p, n) = (self.slots[f as usize].prev, self.slots[f as usize].next);
        if p == NIL {
            self.head = n;
        } else {
            self.slots[p as usize].next = n;
        }
        if n == NIL {
            self.tail = p;
        } else {
            self.slots[n as usize].prev = p;
        }
    }

    fn push_front(&mut self, f: u32) {
        self.slots[f as usize].prev = NIL;
        self.slots[f as usize].next = self.head;
        if self.head != NIL {
            self.slots[self.head as usize].prev = f;
        }
        self.head = f;
        if self.tail == NIL {
            self.tail = f;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Addr;

    fn key(port: u16) -> Ends {
        Ends {
            addr: [Addr::v4([10, 0, 0, 1]), Addr::v4([10, 0, 0, 2])],
            port: [port, 80],
        }
    }

    /// A value that is its key, told apart by the client port.
    #[derive(Clone, Copy)]
    struct V(Ends);
    impl Keyed for V {
        fn key(&self) -> &Ends {
            &self.0
        }
    }

    /// Slots from least to most recently used.
    fn lru(t: &Table<V>) -> Vec<u16> {
        let mut v = Vec::new();
        let mut i = t.tail;
        while i != NIL {
            v.push(t.get(i).0.port[0]);
            i = t.slots[i as usize].prev;
        }
        v
    }

    #[test]
    fn insert_find_touch_remove() {
        let mut t = Table::new(3);
        let ids: Vec<u32> = (1..=3).map(|p| t.insert(V(key(p)), p as u64)).collect();
        assert!(t.is_full());
        assert_eq!(t.live(), 3);
        assert_eq!(lru(&t), [1, 2, 3]);
        t.touch(ids[0], 10);
        assert_eq!(lru(&t), [2, 3, 1]);
        assert_eq!(t.oldest(), Some(ids[1]));
        assert_eq!(t.find(&key(3)), Some(ids[2]));
        t.remove(ids[1]);
        assert_eq!(t.find(&key(2)), None);
        assert_eq!(t.find(&key(3)), Some(ids[2]));
        assert_eq!(lru(&t), [3, 1]);
        assert_eq!(t.last_seen(ids[0]), 10);
        assert!(!t.is_full());
    }

    #[test]
    fn index_survives_many_removals() {
        // A small table reused many times: backward-shift deletion must keep
        // every live key reachable from its home.
        let mut t = Table::new(8);
        let mut live: Vec<(u16, u32)> = Vec::new();
        for round in 0..2000u32 {
            let port = (round.wrapping_mul(2_654_435_761) >> 20) as u16;
            if live.iter().any(|&(p, _)| p == port) {
                continue;
            }
            if t.is_full() {
                let (_, id) = live.remove((round % live.len() as u32) as usize);
                t.remove(id);
            }
            live.push((port, t.insert(V(key(port)), 0)));
            for &(p, id) in &live {
                assert_eq!(t.find(&key(p)), Some(id));
            }
        }
        while let Some(id) = t.oldest() {
            t.remove(id);
        }
        assert_eq!(t.live(), 0);
        assert!(t.index.iter().all(|&i| i == NIL));
    }
}
