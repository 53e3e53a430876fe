//! What every protocol parser produces, whatever the protocol: a request and
//! its response as kept messages ([`Msg`], [`Exchange`]), the slots they live
//! in while in flight ([`ExPool`]), the index of their heads ([`index`]), and
//! where they go when done ([`Emit`]).
//!
//! A parser (HTTP/1 in `http1`; HTTP/2 next) asks [`Emit::admit`] when a
//! request head has been read, keeps heads and bodies in the message store
//! through `Msg`, and hands each finished exchange on with [`Env::emit`].
//! The view (`view`) and the outputs read exchanges only through this
//! module.

pub mod index;
mod pool;

pub use pool::{ExPool, ExRef, Queue};

use crate::pool::{Chain, Store};
use crate::stats::Stats;
use crate::tcp::{self, Direction, Ends};
use crate::wire::{Addr, SeqNumber};

/// One message's kept bytes and what is known of it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Msg {
    pub chain: Chain,
    /// Bytes of `chain` that are the head (request or status line and headers).
    pub head_len: u32,
    /// Bytes of `chain` after the head that are its index (`index`); the body follows.
    pub index_len: u32,
    /// Decoded body size seen so far (kept or not).
    pub body_size: u64,
    /// Some body bytes were not kept (length cap, pool exhausted, capture gap).
    pub truncated: bool,
    /// The message ended as its framing says (not cut by a close or a gap).
    pub complete: bool,
    /// The head could not be kept: the exchange cannot be reported.
    pub lost: bool,
    pub first_ts: u64,
    pub last_ts: u64,
}

impl Msg {
    /// Where the body starts in `chain`: after the head and its index.
    pub fn body_start(&self) -> usize {
        (self.head_len + self.index_len) as usize
    }

    /// Keep `head` and its index (written here, from `parts`) in a new
    /// chain; `lost` if the store could not take them.
    pub fn keep_head(&mut self, head: &[u8], parts: &index::Parts, pool: &mut Store) {
        let mut buf = index::Buf::uninit();
        let ix = index::index(&mut buf, head, parts);
        let mut chain = Chain::default();
        if pool.append(&mut chain, head) < head.len() || pool.append(&mut chain, ix) < ix.len() {
            self.lost = true;
        }
        self.chain = chain;
        self.head_len = head.len() as u32;
        self.index_len = ix.len() as u32;
    }

    /// Body bytes that arrived at `ts`: counted, and kept while the body
    /// kept so far is shorter than `max`.
    #[inline]
    pub fn keep_body(
        &mut self,
        bytes: &[u8],
        ts: u64,
        max: u64,
        pool: &mut Store,
        stats: &mut Stats,
    ) {
        self.last_ts = ts;
        // The head may not have been kept whole (pool exhausted).
        let kept = (self.chain.len() as u64).saturating_sub(self.body_start() as u64);
        let room = max.saturating_sub(kept) as usize;
        let want = room.min(bytes.len());
        self.body_size += bytes.len() as u64;
        let got = if want > 0 {
            pool.append(&mut self.chain, &bytes[..want])
        } else {
            0
        };
        if got < bytes.len() {
            if got < want && !self.truncated {
                stats.pool_exhausted += 1;
            }
            self.truncated = true;
        }
    }

    /// `n` body bytes were lost: counted, not kept.
    pub fn lose_body(&mut self, n: u64) {
        self.body_size += n;
        self.truncated = true;
    }
}

/// What a request's method says about how its response is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Method {
    #[default]
    Other,
    /// The response has no body.
    Head,
    /// A 2xx response turns the connection into a tunnel.
    Connect,
}

/// A request and (once seen) its final response.
#[derive(Debug, Clone, Copy, Default)]
pub struct Exchange {
    pub req: Msg,
    pub resp: Msg,
    pub has_resp: bool,
    /// Which direction of the connection carried the request.
    pub client_dir: Direction,
    /// Refused by policy: tracked by its parser (for pairing), never kept
    /// nor emitted.
    pub(crate) skip: bool,
    pub(crate) method: Method,
    /// Sequence number of the request's first byte.
    pub(crate) req_seq: SeqNumber,
    /// What the client had acknowledged when it sent the request.
    pub(crate) req_ack: Option<SeqNumber>,
    /// Kept by `ExPool`: bumped each time the slot is taken.
    generation: u32,
    /// Kept by `ExPool` and `Queue`: the next slot of the list this one is in.
    next: u32,
}

/// What is known of a request when its head has been read.
pub struct ReqInfo<'a> {
    pub ts: u64,
    pub method: &'a str,
    /// The request-target as sent.
    pub target: &'a str,
    pub host: Option<&'a [u8]>,
    pub server: Addr,
}

/// Where completed exchanges go.
pub trait Emit {
    /// Keep this exchange? Asked once per request, when its head is read;
    /// a refused exchange is still paired with its response, but nothing of
    /// it is kept or emitted.
    fn admit(&mut self, _req: &ReqInfo) -> bool {
        true
    }
    fn emit(&mut self, ex: &Exchange, ends: &Ends, pool: &Store);
}

/// What every connection's parser shares, kept by the tracker: the message
/// store, the exchange slots and the body limit.
pub struct Shared {
    pub pool: Store,
    pub exs: ExPool,
    pub max_body: u64,
}

impl Shared {
    /// For connections of `l`, keeping messages in `store`: two exchanges
    /// per connection and some more.
    pub fn new(l: &tcp::Limits, store: Store) -> Shared {
        Shared {
            pool: store,
            exs: ExPool::new(l.max_flows.max(1) as usize * 2 + 64),
            max_body: l.max_body,
        }
    }

    /// Bytes reserved at start-up.
    pub fn reserved(&self) -> usize {
        self.pool.reserved() + self.exs.reserved()
    }
}

/// What a parser call may use besides its connection's own state, lent for
/// one call: the connection's ends, the shared store and exchange slots,
/// the counters, and where finished exchanges go.
pub struct Env<'a> {
    pub ends: &'a Ends,
    pub pool: &'a mut Store,
    pub exs: &'a mut ExPool,
    pub stats: &'a mut Stats,
    pub sink: &'a mut dyn Emit,
    pub max_body: u64,
}

impl<'a> Env<'a> {
    /// What the tracker lends a call of a parser sharing [`Shared`], for the
    /// connection of `ends`.
    #[inline]
    pub fn lend<P>(e: &'a mut tcp::Env<'_, P>, ends: &'a Ends) -> Env<'a>
    where
        P: tcp::Parser<Shared = Shared, Sink = dyn Emit>,
    {
        Env {
            ends,
            pool: &mut e.shared.pool,
            exs: &mut e.shared.exs,
            stats: e.stats,
            sink: e.sink,
            max_body: e.shared.max_body,
        }
    }

    /// Exchange `i` is done: hand it to the sink (or count why it cannot
    /// be) and free its slot. `i` must be in no queue.
    pub fn emit(&mut self, i: u32) {
        let ex = self.exs[i];
        if ex.skip {
            // Refused by policy when the request came: counted there.
        } else if ex.req.lost || (ex.has_resp && ex.resp.lost) {
            self.stats.pool_exhausted += 1;
        } else {
            if !ex.has_resp {
                self.stats.requests_without_response += 1;
            }
            self.stats.traces += 1;
            self.sink.emit(&ex, self.ends, self.pool);
        }
        self.exs.give(i, self.pool);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The start-up "memory ceiling" line counts the exchange slots at this
    /// size: a change shows in the sensor's output.
    #[test]
    fn an_exchange_keeps_its_size() {
        assert_eq!(std::mem::size_of::<Exchange>(), 120);
    }
}
