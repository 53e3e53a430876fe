//! The streams in flight on one HTTP/2 connection: a fixed table, each entry the stream's
//! exchange and what the connection layer learns about it until it ends.

use crate::exchange::ExRef;
use crate::http2::grpc::MessageCounter;

/// Streams one connection tracks at once. When a new stream finds the table full, the one
/// quiet for longest is reported as it is (cut) to make room.
pub const MAX_STREAMS: usize = 32;

/// What is known of a stream ([`Stream::flags`]).
pub mod flag {
    /// The request's head was read.
    pub const REQ: u16 = 1;
    /// The request ended (END_STREAM).
    pub const REQ_END: u16 = 2;
    /// The final response's head was read.
    pub const RESP: u16 = 4;
    /// The response ended (END_STREAM).
    pub const RESP_END: u16 = 8;
    /// The response's trailers were read.
    pub const TRAILERS: u16 = 16;
    /// Nothing of the exchange is kept (refused by the policy, or no exchange slot).
    pub const SKIP: u16 = 32;
    /// The request head has an HTTP/2 ext (not a request an `Upgrade: h2c` carried).
    pub const REQ_EXT: u16 = 64;
    /// Bytes of the request's, of the response's DATA were lost: messages are not counted.
    pub const REQ_GAP: u16 = 128;
    pub const RESP_GAP: u16 = 256;
}

/// One stream in flight. `id` 0: a free entry.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stream {
    pub id: u32,
    /// Its exchange (NONE when it got no slot).
    pub ex: ExRef,
    /// [`flag`]s.
    pub flags: u16,
    /// The response's trailers kept at the end of its chain: head and index bytes.
    pub trailers: (u16, u16),
    /// Trailer fields left out.
    pub trailers_unknown: u16,
    /// gRPC messages of the request and of the response.
    pub messages: [MessageCounter; 2],
    /// When a frame of the stream last came.
    pub last_ts: u64,
}

impl Stream {
    pub fn has(&self, f: u16) -> bool {
        self.flags & f != 0
    }
}

/// The table.
#[derive(Clone, Copy, Debug)]
pub struct Streams {
    slots: [Stream; MAX_STREAMS],
}

impl Default for Streams {
    fn default() -> Self {
        Streams {
            slots: [Stream::default(); MAX_STREAMS],
        }
    }
}

impl Streams {
    /// The entry of stream `id`.
    pub fn find(&self, id: u32) -> Option<usize> {
        if id == 0 {
            return None;
        }
        self.slots.iter().position(|s| s.id == id)
    }

    /// A free entry for stream `id` (not in the table), or None when the table is full.
    pub fn open(&mut self, id: u32, ts: u64) -> Option<usize> {
        let i = self.slots.iter().position(|s| s.id == 0)?;
        self.slots[i] = Stream {
            id,
            last_ts: ts,
            ..Stream::default()
        };
        Some(i)
    }

    /// The entry quiet for longest (the lowest stream among equals).
    pub fn quietest(&self) -> Option<usize> {
        self.live()
            .min_by_key(|&i| (self.slots[i].last_ts, self.slots[i].id))
    }

    /// The entry of the lowest stream id.
    pub fn lowest(&self) -> Option<usize> {
        self.live().min_by_key(|&i| self.slots[i].id)
    }

    /// Entries in use.
    pub fn live(&self) -> impl Iterator<Item = usize> + '_ {
        (0..MAX_STREAMS).filter(|&i| self.slots[i].id != 0)
    }

    pub fn free(&mut self, i: usize) {
        self.slots[i] = Stream::default();
    }

    pub fn clear(&mut self) {
        self.slots = [Stream::default(); MAX_STREAMS];
    }
}

impl std::ops::Index<usize> for Streams {
    type Output = Stream;
    fn index(&self, i: usize) -> &Stream {
        &self.slots[i]
    }
}

impl std::ops::IndexMut<usize> for Streams {
    fn index_mut(&mut self, i: usize) -> &mut Stream {
        &mut self.slots[i]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_find_free() {
        let mut t = Streams::default();
        assert_eq!(t.find(0), None);
        let a = t.open(1, 10).unwrap();
        let b = t.open(3, 5).unwrap();
        assert_eq!((t.find(1), t.find(3), t.find(5)), (Some(a), Some(b), None));
        assert_eq!(t.quietest(), Some(b));
        assert_eq!(t.lowest(), Some(a));
        t.free(a);
        assert_eq!(t.find(1), None);
        for k in 0..MAX_STREAMS as u32 - 1 {
            assert!(t.open(5 + 2 * k, 1).is_some());
        }
        assert_eq!(t.open(999, 1), None, "full");
        assert_eq!(t.live().count(), MAX_STREAMS);
        t.clear();
        assert_eq!(t.live().count(), 0);
    }
}
