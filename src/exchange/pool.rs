//! The exchange slots: every exchange in flight, across connections, in one
//! table reserved at start-up ([`ExPool`]); handles that notice when their
//! slot was freed ([`ExRef`]); and first-in first-out lists of exchanges
//! linked through their slots ([`Queue`]).
//!
//! A slot is either free (in the pool's free list) or taken; a taken slot
//! is in at most one queue. Both lists run through `Exchange::next`, which
//! only this file touches.

use std::ops::{Index, IndexMut};

use super::Exchange;
use crate::pool::{NIL, Store};

/// All exchanges in flight; reserved at start-up.
pub struct ExPool {
    slots: Vec<Exchange>,
    free: u32,
    generation: u32,
}

/// A taken slot, as it was when taken: reads as gone once the slot is
/// freed (and stays gone when it is taken again).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExRef {
    i: u32,
    generation: u32,
}

impl ExRef {
    /// No exchange.
    pub const NONE: ExRef = ExRef {
        i: NIL,
        generation: 0,
    };

    /// The slot (`NIL` for `NONE`).
    pub fn index(self) -> u32 {
        self.i
    }
}

impl Default for ExRef {
    fn default() -> Self {
        ExRef::NONE
    }
}

impl ExPool {
    pub fn new(n: usize) -> ExPool {
        let mut slots = vec![Exchange::default(); n.max(1)];
        let len = slots.len();
        for (i, s) in slots.iter_mut().enumerate() {
            s.next = if i + 1 < len { i as u32 + 1 } else { NIL };
        }
        ExPool {
            slots,
            free: 0,
            generation: 0,
        }
    }

    pub fn reserved(&self) -> usize {
        self.slots.len() * std::mem::size_of::<Exchange>()
    }

    /// A fresh exchange, or `None` when every slot is taken.
    pub fn take(&mut self) -> Option<ExRef> {
        if self.free == NIL {
            return None;
        }
        let i = self.free;
        self.generation = self.generation.wrapping_add(1);
        let s = &mut self.slots[i as usize];
        self.free = s.next;
        *s = Exchange {
            generation: self.generation,
            next: NIL,
            ..Exchange::default()
        };
        Some(ExRef {
            i,
            generation: self.generation,
        })
    }

    /// Free slot `i` and the messages it kept in `pool`.
    pub(super) fn give(&mut self, i: u32, pool: &mut Store) {
        let s = &mut self.slots[i as usize];
        pool.release(&mut s.req.chain);
        pool.release(&mut s.resp.chain);
        s.generation = 0;
        s.next = self.free;
        self.free = i;
    }

    /// The exchange `r` was taken as, unless its slot was freed since.
    #[inline]
    pub fn get_mut(&mut self, r: ExRef) -> Option<&mut Exchange> {
        if r.i == NIL {
            return None;
        }
        let ex = &mut self.slots[r.i as usize];
        (ex.generation == r.generation).then_some(ex)
    }

    /// A handle on the exchange now in slot `i`.
    pub fn refer(&self, i: u32) -> ExRef {
        ExRef {
            i,
            generation: self.slots[i as usize].generation,
        }
    }
}

impl Index<u32> for ExPool {
    type Output = Exchange;
    #[inline]
    fn index(&self, i: u32) -> &Exchange {
        &self.slots[i as usize]
    }
}

impl IndexMut<u32> for ExPool {
    #[inline]
    fn index_mut(&mut self, i: u32) -> &mut Exchange {
        &mut self.slots[i as usize]
    }
}

/// Taken exchanges in the order they were pushed, linked through their
/// slots (so a queue is three numbers, and `Copy`).
#[derive(Debug, Clone, Copy)]
pub struct Queue {
    first: u32,
    last: u32,
    len: u32,
}

impl Default for Queue {
    fn default() -> Self {
        Queue {
            first: NIL,
            last: NIL,
            len: 0,
        }
    }
}

impl Queue {
    pub fn len(&self) -> u32 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.first == NIL
    }

    /// The oldest.
    pub fn front(&self) -> Option<u32> {
        (self.first != NIL).then_some(self.first)
    }

    /// Add slot `i` (taken, in no queue) at the back.
    pub fn push(&mut self, exs: &mut ExPool, i: u32) {
        if self.last == NIL {
            self.first = i;
        } else {
            exs[self.last].next = i;
        }
        self.last = i;
        self.len += 1;
    }

    /// Take the oldest out.
    pub fn pop(&mut self, exs: &ExPool) -> Option<u32> {
        let i = self.front()?;
        self.first = exs[i].next;
        if self.first == NIL {
            self.last = NIL;
        }
        self.len -= 1;
        Some(i)
    }

    /// Slots and exchanges, oldest first.
    pub fn iter<'a>(&self, exs: &'a ExPool) -> impl Iterator<Item = (u32, &'a Exchange)> {
        let mut i = self.first;
        std::iter::from_fn(move || {
            if i == NIL {
                return None;
            }
            let ex = &exs[i];
            let at = i;
            i = ex.next;
            Some((at, ex))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pool;

    /// Slots run out and come back; a handle reads as gone once its slot is
    /// freed, also after the slot is taken again.
    #[test]
    fn slots_and_handles() {
        let (_, mut store) = pool::reserve(1 << 20);
        let mut exs = ExPool::new(2);
        let a = exs.take().unwrap();
        let b = exs.take().unwrap();
        assert_eq!(exs.take(), None);
        assert!(exs.get_mut(a).is_some() && exs.get_mut(b).is_some());
        assert!(exs.get_mut(ExRef::NONE).is_none());
        exs.give(a.index(), &mut store);
        assert!(exs.get_mut(a).is_none());
        let c = exs.take().unwrap();
        assert_eq!(c.index(), a.index());
        assert!(exs.get_mut(a).is_none());
        assert!(exs.get_mut(c).is_some());
        assert_eq!(exs.refer(c.index()), c);
    }

    /// A queue gives back what was pushed, in order, across pushes and pops
    /// in any mix (ops: `true` push a fresh slot, `false` pop).
    #[test]
    fn queue_is_first_in_first_out() {
        let cases: &[&[bool]] = &[
            &[],
            &[true, false],
            &[true, true, true, false, false, false],
            &[true, false, true, true, false, true, false, false],
            &[false, true, false, false],
        ];
        for ops in cases {
            let (_, mut store) = pool::reserve(1 << 20);
            let mut exs = ExPool::new(8);
            let mut q = Queue::default();
            let mut model = std::collections::VecDeque::new();
            for &push in *ops {
                if push {
                    let i = exs.take().unwrap().index();
                    q.push(&mut exs, i);
                    model.push_back(i);
                } else {
                    let got = q.pop(&exs);
                    assert_eq!(got, model.pop_front(), "{ops:?}");
                    if let Some(i) = got {
                        exs.give(i, &mut store);
                    }
                }
                let listed: Vec<u32> = q.iter(&exs).map(|(i, _)| i).collect();
                assert_eq!(listed, Vec::from(model.clone()), "{ops:?}");
                assert_eq!(q.len() as usize, model.len());
                assert_eq!(q.is_empty(), model.is_empty());
                assert_eq!(q.front(), model.front().copied());
            }
        }
    }
}
