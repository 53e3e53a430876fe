//! The HTTP/2 connection states every decoded connection takes one of: a fixed number,
//! reserved at start-up (`--max-h2-connections`), handed out by slot. A state is far too
//! big for every flow slot (its HPACK tables alone are 8.5 KiB): a flow that speaks HTTP/2
//! holds a slot number; a connection that finds every slot taken is counted and skipped.
//!
//! The vector's capacity is reserved at once and states are built in it the first time
//! their slot is used, so that memory becomes resident only as connections need it, and
//! never grows past the reservation (nothing allocates afterwards).

use super::Conn;
use super::head::Bufs;

/// The slots, and the buffers all connections decode their blocks in.
pub struct Pool {
    conns: Vec<Conn>,
    max: usize,
    free: Vec<u32>,
    bufs: Bufs,
}

impl Pool {
    /// Room for `max` connections at once.
    pub fn new(max: usize) -> Pool {
        Pool {
            conns: Vec::with_capacity(max),
            max,
            free: Vec::with_capacity(max),
            bufs: Bufs::default(),
        }
    }

    /// Connections decoded at once.
    pub fn capacity(&self) -> usize {
        self.max
    }

    /// Bytes reserved at start-up.
    pub fn reserved(&self) -> usize {
        self.max * (std::mem::size_of::<Conn>() + 4) + self.bufs.reserved()
    }

    /// Slots in use.
    pub fn in_use(&self) -> usize {
        self.conns.len() - self.free.len()
    }

    /// A free slot (its state as the last connection left it: the caller starts it), or
    /// None when every slot is taken.
    pub(super) fn take(&mut self) -> Option<u32> {
        if let Some(i) = self.free.pop() {
            return Some(i);
        }
        if self.conns.len() < self.max {
            // Within the capacity reserved at start-up: no allocation.
            self.conns.push(Conn::new());
            return Some(self.conns.len() as u32 - 1);
        }
        None
    }

    /// Give slot `i` back.
    pub(super) fn give(&mut self, i: u32) {
        debug_assert!(!self.free.contains(&i));
        self.free.push(i);
    }

    /// Slot `i`'s connection and the shared buffers.
    pub(super) fn get(&mut self, i: u32) -> (&mut Conn, &mut Bufs) {
        (&mut self.conns[i as usize], &mut self.bufs)
    }
}
