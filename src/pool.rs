//! The buffer pool: all memory that traffic can fill, reserved once at start-up.
//!
//! Two kinds of buffers come from it:
//! - *windows*: fixed-size contiguous buffers that hold a direction's bytes
//!   while a message head is incomplete or segments arrive out of order;
//! - *chunks*: small blocks chained together to keep a message's head and
//!   (up to `--max-http-length` of) its body until the exchange is emitted.
//!
//! Both are free lists over one preallocated `Vec<u8>` each; nothing here
//! allocates after `reserve`.

/// Size of one reassembly window: the largest message head the sensor can
/// parse, and the span of out-of-order data it can hold for one direction.
pub const WINDOW: usize = 64 * 1024;
/// Size of one message-store chunk.
pub const CHUNK: usize = 2048;

/// No slot: the index that ends a free list, a chain or a linked list, or
/// stands for "no buffer" / "no entry". The one sentinel of the crate's
/// u32 slot indexes (windows, chunks, flows, exchanges).
pub const NIL: u32 = u32::MAX;

/// Reassembly windows.
pub struct Windows {
    data: Vec<u8>,
    free: Vec<u32>,
    count: u32,
}

/// The message store: chunks chained per message.
pub struct Store {
    chunks: Vec<u8>,
    next: Vec<u32>,
    free_head: u32,
    free_chunks: u32,
    count: u32,
}

/// A chain of chunks holding one message's kept bytes.
#[derive(Debug, Clone, Copy)]
pub struct Chain {
    first: u32,
    last: u32,
    len: u32,
}

impl Default for Chain {
    fn default() -> Self {
        Chain {
            first: NIL,
            last: NIL,
            len: 0,
        }
    }
}

impl Chain {
    pub fn len(&self) -> usize {
        self.len as usize
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Reserve `bytes` in all: a quarter for windows (at least 2), the rest for chunks.
pub fn reserve(bytes: usize) -> (Windows, Store) {
    let n_windows = (bytes / 4 / WINDOW).max(2);
    let n_chunks = (bytes.saturating_sub(n_windows * WINDOW) / CHUNK).max(16);
    (Windows::new(n_windows), Store::new(n_chunks))
}

impl Windows {
    pub fn new(n: usize) -> Windows {
        Windows {
            data: vec![0u8; n * WINDOW],
            free: (0..n as u32).rev().collect(),
            count: n as u32,
        }
    }

    pub fn reserved(&self) -> usize {
        self.data.len() + self.free.capacity() * 4
    }
    pub fn count(&self) -> u32 {
        self.count
    }
    pub fn free_count(&self) -> usize {
        self.free.len()
    }

    pub fn take(&mut self) -> Option<u32> {
        self.free.pop()
    }

    pub fn give(&mut self, w: u32) {
        debug_assert!(!self.free.contains(&w));
        self.free.push(w);
    }

    pub fn get(&self, w: u32) -> &[u8] {
        let at = w as usize * WINDOW;
        &self.data[at..at + WINDOW]
    }

    pub fn get_mut(&mut self, w: u32) -> &mut [u8] {
        let at = w as usize * WINDOW;
        &mut self.data[at..at + WINDOW]
    }
}

impl Store {
    pub fn new(n: usize) -> Store {
        let n = n.max(1);
        let mut next = Vec::with_capacity(n);
        for i in 0..n {
            next.push(if i + 1 < n { i as u32 + 1 } else { NIL });
        }
        Store {
            chunks: vec![0u8; n * CHUNK],
            next,
            free_head: 0,
            free_chunks: n as u32,
            count: n as u32,
        }
    }

    pub fn reserved(&self) -> usize {
        self.chunks.len() + self.next.len() * 4
    }
    pub fn count(&self) -> u32 {
        self.count
    }
    pub fn free_count(&self) -> u32 {
        self.free_chunks
    }

    fn take_chunk(&mut self) -> Option<u32> {
        if self.free_head == NIL {
            return None;
        }
        let c = self.free_head;
        self.free_head = self.next[c as usize];
        self.next[c as usize] = NIL;
        self.free_chunks -= 1;
        Some(c)
    }
    /// Append `data` to `chain`; returns how many bytes were kept (fewer when
    /// the pool is exhausted).
    pub fn append(&mut self, chain: &mut Chain, mut data: &[u8]) -> usize {
        let mut kept = 0;
        while !data.is_empty() {
            let used = chain.len as usize % CHUNK;
            if chain.last == NIL || (used == 0 && chain.len > 0) {
                let Some(c) = self.take_chunk() else {
                    return kept;
                };
                if chain.last == NIL {
                    chain.first = c;
                } else {
                    self.next[chain.last as usize] = c;
                }
                chain.last = c;
            }
            let used = chain.len as usize % CHUNK;
            let room = CHUNK - used;
            let n = room.min(data.len());
            let at = chain.last as usize * CHUNK + used;
            self.chunks[at..at + n].copy_from_slice(&data[..n]);
            chain.len += n as u32;
            kept += n;
            data = &data[n..];
        }
        kept
    }

    /// Bytes `chain` can still take: the rest of its last chunk and every
    /// free chunk.
    pub fn room(&self, chain: &Chain) -> usize {
        let tail = match chain.len as usize % CHUNK {
            0 => 0,
            used => CHUNK - used,
        };
        self.free_chunks as usize * CHUNK + tail
    }

    /// Return every chunk of `chain` to the free list and empty it.
    pub fn release(&mut self, chain: &mut Chain) {
        if chain.first != NIL {
            let n = (chain.len as usize).div_ceil(CHUNK).max(1) as u32;
            self.next[chain.last as usize] = self.free_head;
            self.free_head = chain.first;
            self.free_chunks += n;
        }
        *chain = Chain::default();
    }

    /// The chain's bytes from `from` on, as a sequence of slices.
    pub fn slices(&self, chain: &Chain, from: usize) -> Slices<'_> {
        self.slices_to(chain, from, chain.len as usize)
    }

    /// The chain's bytes from `from` to `end` (at most its length), as a
    /// sequence of slices.
    pub fn slices_to(&self, chain: &Chain, from: usize, end: usize) -> Slices<'_> {
        Slices {
            pool: self,
            cur: chain.first,
            pos: 0,
            end: end.min(chain.len as usize),
            from,
        }
    }

    /// Overwrite the chain's bytes from `at` with `data`, as far as the
    /// chain goes (a parser writing what it learnt later into a kept head).
    pub fn write_at(&mut self, chain: &Chain, at: usize, data: &[u8]) {
        let end = at.saturating_add(data.len()).min(chain.len as usize);
        let mut c = chain.first;
        let mut base = 0;
        let mut pos = at;
        while pos < end && c != NIL {
            if base + CHUNK > pos {
                let off = pos - base;
                let n = (CHUNK - off).min(end - pos);
                let to = c as usize * CHUNK + off;
                self.chunks[to..to + n].copy_from_slice(&data[pos - at..pos - at + n]);
                pos += n;
            }
            base += CHUNK;
            c = self.next[c as usize];
        }
    }

    /// Copy the first `n` bytes of the chain into `out` (cleared first).
    pub fn copy_prefix(&self, chain: &Chain, n: usize, out: &mut Vec<u8>) {
        out.clear();
        for s in self.slices(chain, 0) {
            let take = (n - out.len()).min(s.len());
            out.extend_from_slice(&s[..take]);
            if out.len() == n {
                break;
            }
        }
    }
}

/// Iterator over a chain's bytes, chunk by chunk.
pub struct Slices<'a> {
    pool: &'a Store,
    cur: u32,
    pos: usize,
    end: usize,
    from: usize,
}

impl<'a> Iterator for Slices<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        loop {
            if self.cur == NIL || self.pos >= self.end {
                return None;
            }
            let start = self.pos;
            let stop = (start + CHUNK).min(self.end);
            let base = self.cur as usize * CHUNK;
            self.cur = self.pool.next[self.cur as usize];
            self.pos = stop;
            if stop <= self.from {
                continue;
            }
            let skip = self.from.saturating_sub(start);
            return Some(&self.pool.chunks[base + skip..base + (stop - start)]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(p: &Store, c: &Chain, from: usize) -> Vec<u8> {
        p.slices(c, from).flatten().copied().collect()
    }

    #[test]
    fn append_read_release() {
        let mut p = Store::new(8);
        let total = p.free_count();
        let mut c = Chain::default();
        let data: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
        assert_eq!(p.append(&mut c, &data[..100]), 100);
        assert_eq!(p.append(&mut c, &data[100..]), 4900);
        assert_eq!(collect(&p, &c, 0), data);
        assert_eq!(collect(&p, &c, 2100), &data[2100..]);
        assert_eq!(p.free_count(), total - 3);
        p.release(&mut c);
        assert_eq!(p.free_count(), total);
        assert!(c.is_empty());
    }

    /// Bytes written in place land where they are read, across chunks,
    /// and never past the chain's end.
    #[test]
    fn write_at_overwrites_in_place() {
        let mut p = Store::new(8);
        let mut c = Chain::default();
        let data: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
        p.append(&mut c, &data);
        for (at, n) in [(0, 3), (2040, 20), (4090, 100), (4999, 5), (6000, 4)] {
            let mut want = data.clone();
            let patch = vec![0xee; n];
            let end = (at + n).min(want.len());
            if at < end {
                want[at..end].copy_from_slice(&patch[..end - at]);
            }
            let mut c2 = Chain::default();
            p.append(&mut c2, &data);
            p.write_at(&c2, at, &patch);
            assert_eq!(collect(&p, &c2, 0), want, "at {at} n {n}");
            assert_eq!(
                p.slices_to(&c2, 10, 2100)
                    .flatten()
                    .copied()
                    .collect::<Vec<u8>>(),
                &want[10..2100]
            );
            p.release(&mut c2);
        }
        p.release(&mut c);
    }

    #[test]
    fn exhaustion_keeps_what_fits() {
        let mut p = Store::new(16);
        let n = p.count() as usize;
        let mut a = Chain::default();
        let big = vec![7u8; (n + 3) * CHUNK];
        assert_eq!(p.append(&mut a, &big), n * CHUNK);
        let mut b = Chain::default();
        assert_eq!(p.append(&mut b, b"x"), 0);
        p.release(&mut a);
        assert_eq!(p.append(&mut b, b"x"), 1);
    }

    #[test]
    fn exact_chunk_boundaries() {
        let mut p = Store::new(16);
        let total = p.free_count();
        let mut c = Chain::default();
        p.append(&mut c, &[1u8; CHUNK]);
        p.append(&mut c, &[2u8; CHUNK]);
        assert_eq!(p.free_count(), total - 2);
        let v = collect(&p, &c, 0);
        assert_eq!(v.len(), 2 * CHUNK);
        assert_eq!(v[CHUNK], 2);
        p.release(&mut c);
        assert_eq!(p.free_count(), total);
    }
}
