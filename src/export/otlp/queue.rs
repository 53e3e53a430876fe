//! The satellite exporter's queue: whole spans, oldest first, in one buffer
//! whose capacity is fixed at start-up.
//!
//! A batch is the oldest spans, read in place from the front. Taking them
//! off only moves the start; what is left is moved back to the start of the
//! buffer when that costs no more than what was just taken, or when the end
//! of the buffer is reached. So bytes are copied about once (in), and the
//! pages in use stay at the front of the buffer: resident memory follows the
//! backlog, not the capacity (a ring would touch every page of it).

use std::collections::VecDeque;

pub struct SpanQueue {
    /// The spans from `head` to the end; never longer than `cap`.
    buf: Vec<u8>,
    cap: usize,
    /// Where the oldest span starts in `buf`.
    head: usize,
    /// The stream position (bytes ever queued, wrapping) of `buf[0]`.
    base: u32,
    /// The stream position just past each span, oldest first.
    ends: VecDeque<u32>,
}

impl SpanQueue {
    /// A queue of `cap` bytes, with room for `spans` span ends before that
    /// list has to grow.
    pub fn new(cap: usize, spans: usize) -> SpanQueue {
        assert!(
            cap < u32::MAX as usize / 2,
            "queue too large for its positions"
        );
        SpanQueue {
            buf: Vec::with_capacity(cap),
            cap,
            head: 0,
            base: 0,
            ends: VecDeque::with_capacity(spans),
        }
    }

    /// Bytes allocated (the buffer and the list of span ends).
    pub fn reserved(&self) -> usize {
        self.buf.capacity() + self.ends.capacity() * 4
    }

    /// The most bytes it holds.
    pub fn capacity(&self) -> usize {
        self.cap
    }

    /// How many spans are queued.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// How many bytes are queued.
    pub fn bytes(&self) -> usize {
        self.buf.len() - self.head
    }

    /// Where span `k`'s end is in `buf`.
    fn end(&self, k: usize) -> usize {
        self.ends[k].wrapping_sub(self.base) as usize
    }

    /// Queue `span`, making room by dropping the oldest spans when the queue
    /// is full (of bytes, or of spans: the list of their ends keeps the
    /// capacity it was made with): at least a quarter of the capacity at
    /// once, so that making room is paid rarely. Returns how many were
    /// dropped. `span` must fit in an empty queue.
    pub fn push(&mut self, span: &[u8]) -> usize {
        let cap = self.capacity();
        assert!(span.len() <= cap, "a span larger than the queue");
        let mut dropped = 0;
        let full_of_bytes = self.bytes() + span.len() > cap;
        // (the list of span ends keeps its capacity: a quarter of it is made free)
        let full_of_spans = self.ends.len() == self.ends.capacity();
        if full_of_bytes || full_of_spans {
            let mut n = 0;
            if full_of_bytes {
                let want = (self.bytes() + span.len() - cap).max(cap / 4);
                while n < self.len() && self.end(n) - self.head < want {
                    n += 1;
                }
                n += 1;
            }
            if full_of_spans {
                n = n.max(self.len() / 4).max(1);
            }
            dropped = n.min(self.len());
            self.pop(dropped);
        }
        if self.buf.len() + span.len() > cap {
            self.compact();
        }
        self.buf.extend_from_slice(span);
        self.ends
            .push_back(self.base.wrapping_add(self.buf.len() as u32));
        dropped
    }

    /// The oldest spans that fit in `max` bytes together (at least one, when
    /// any is queued): how many, and their bytes.
    pub fn front(&self, max: usize) -> (usize, &[u8]) {
        let mut n = 0;
        while n < self.len() && self.end(n) - self.head <= max {
            n += 1;
        }
        let n = n.max(1).min(self.len());
        let end = if n == 0 { self.head } else { self.end(n - 1) };
        (n, &self.buf[self.head..end])
    }

    /// Take the `n` oldest spans off.
    pub fn pop(&mut self, n: usize) {
        if n == 0 {
            return;
        }
        let taken = self.end(n - 1) - self.head;
        self.head += taken;
        self.ends.drain(..n);
        if self.bytes() <= taken {
            self.compact();
        }
    }

    /// Move the queued bytes to the start of the buffer.
    fn compact(&mut self) {
        if self.head == 0 {
            return;
        }
        self.buf.copy_within(self.head.., 0);
        self.buf.truncate(self.buf.len() - self.head);
        self.base = self.base.wrapping_add(self.head as u32);
        self.head = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The spans as a plain list, for comparing with the queue.
    fn model_front(model: &VecDeque<Vec<u8>>, max: usize) -> (usize, Vec<u8>) {
        let mut out = Vec::new();
        let mut n = 0;
        for s in model {
            if n > 0 && out.len() + s.len() > max {
                break;
            }
            if n == 0 && s.len() > max {
                return (1, s.clone());
            }
            out.extend_from_slice(s);
            n += 1;
        }
        (n, out)
    }

    #[test]
    fn spans_come_out_whole_and_in_order() {
        let mut q = SpanQueue::new(100, 4);
        assert_eq!(q.front(50), (0, &b""[..]));
        assert_eq!(q.push(b"aaaa,"), 0);
        assert_eq!(q.push(b"bbbbbbbb,"), 0);
        assert_eq!(q.push(b"cc,"), 0);
        assert_eq!((q.len(), q.bytes()), (3, 17));
        assert_eq!(q.front(14), (2, &b"aaaa,bbbbbbbb,"[..]));
        assert_eq!(q.front(13), (1, &b"aaaa,"[..]));
        // One span larger than the limit still goes alone.
        assert_eq!(q.front(2), (1, &b"aaaa,"[..]));
        q.pop(1);
        assert_eq!(q.front(100), (2, &b"bbbbbbbb,cc,"[..]));
        q.pop(2);
        assert_eq!((q.len(), q.bytes()), (0, 0));
    }

    #[test]
    fn a_full_queue_drops_its_oldest_quarter() {
        let mut q = SpanQueue::new(100, 16);
        for k in 0..10u8 {
            assert_eq!(q.push(&[b'0' + k; 10]), 0);
        }
        // Full: the next span pushes out at least 25 bytes, i.e. 3 spans.
        assert_eq!(q.push(b"xxxxxxxxxx"), 3);
        assert_eq!(q.len(), 8);
        assert_eq!(q.front(20).1, b"33333333334444444444");
    }

    /// The list of span ends does not grow: a queue full of small spans
    /// drops its oldest as one full of bytes does.
    #[test]
    fn a_queue_full_of_spans_drops_its_oldest() {
        let mut q = SpanQueue::new(1000, 4);
        let room = q.ends.capacity();
        for k in 0..room {
            assert_eq!(q.push(&[b'a' + k as u8, b',']), 0);
        }
        assert!(q.push(b"z,") >= 1);
        assert_eq!(q.ends.capacity(), room);
        assert_eq!(q.front(1000).1.last(), Some(&b','));
    }

    /// Pushes and pops at random against a list of the spans: same spans
    /// out, in the same order, whatever the moves inside; the buffer never
    /// grows.
    #[test]
    fn agrees_with_a_plain_list() {
        let cap = 1000;
        // Room for more span ends than spans fit (the bytes fill up first).
        let mut q = SpanQueue::new(cap, 2 * cap);
        let mut model: VecDeque<Vec<u8>> = VecDeque::new();
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut rnd = |m: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % m
        };
        let mut next = 0u8;
        for _ in 0..20_000 {
            if rnd(3) > 0 {
                let most = if rnd(50) == 0 { cap as u64 } else { 120 };
                let len = 1 + rnd(most) as usize;
                next = next.wrapping_add(1);
                let span = vec![next; len];
                let dropped = q.push(&span);
                for _ in 0..dropped {
                    model.pop_front();
                }
                model.push_back(span);
                let total: usize = model.iter().map(Vec::len).sum();
                assert!(total <= cap);
            } else {
                let max = rnd(400) as usize;
                let (n, bytes) = q.front(max);
                let (mn, mbytes) = model_front(&model, max);
                assert_eq!((n, bytes), (mn, &mbytes[..]));
                q.pop(n);
                for _ in 0..n {
                    model.pop_front();
                }
            }
            assert_eq!(q.len(), model.len());
            assert_eq!(q.bytes(), model.iter().map(Vec::len).sum::<usize>());
            assert_eq!(q.capacity(), cap);
        }
    }
}
