//! What every protocol parser produces, whatever the protocol: a request and
//! its response as kept messages ([`Msg`], [`Exchange`]), the slots they live
//! in while in flight ([`ExPool`]), the index of their heads ([`index`]), and
//! where they go when done ([`Emit`]).
//!
//! A parser (HTTP/1 in `http1`; HTTP/2 next) asks [`Emit::admit`] when a
//! request head has been read and keeps what the answer says with
//! [`Env::keep_request`]; at the final response head it calls
//! [`Env::keep_response`], which may still turn a passed-over exchange into
//! a trace (endpoint-aware sampling, `endpoint`); bodies go to the message
//! store through `Msg`, and each finished exchange leaves with
//! [`Env::emit`]. The view (`view`) and the outputs read exchanges only
//! through this module.

pub mod index;
mod pool;

pub use pool::{ExPool, ExRef, Queue};

pub use crate::endpoint::{Late, Ticket, Verdict};

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
    /// (A `u16`: an index is at most `index::MAX` bytes, and the two bytes
    /// saved keep `Msg` at 48.)
    pub index_len: u16,
    /// Decoded body size seen so far (kept or not).
    pub body_size: u64,
    /// Some body bytes were not kept (length cap, pool exhausted, capture gap).
    pub truncated: bool,
    /// The message ended as its framing says (not cut by a close or a gap).
    pub complete: bool,
    /// The head could not be kept: the exchange cannot be reported.
    pub lost: bool,
    /// Only the head is kept (a request passed over by the sampler, kept
    /// in case its response makes it a trace): body bytes are counted in
    /// `body_size`, never kept.
    pub body_omitted: bool,
    /// How well-formed the message was, as its parser read it.
    pub form: Form,
    pub first_ts: u64,
    pub last_ts: u64,
}

impl Msg {
    /// Where the body starts in `chain`: after the head and its index.
    pub fn body_start(&self) -> usize {
        self.head_len as usize + self.index_len as usize
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
        self.index_len = ix.len() as u16;
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
        let max = if self.body_omitted { 0 } else { max };
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

/// How well-formed a message was, as its parser read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Form {
    #[default]
    WellFormed,
    /// A request that is not well-formed (a header block or framing its
    /// parser refused, a head cut short), reported with what could be read.
    Malformed,
    /// So malformed that it is a request only if a server answered it (its
    /// request line is not well-formed, or its head was cut short): put to
    /// the policy (`Emit::admit`) when the answer comes, reported only with
    /// it (otherwise it is noise, not a trace).
    Doubtful,
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
    /// The final response's status (once `has_resp`).
    pub status: u16,
    /// What the sink decided at the request (`Emit::admit`), updated at the
    /// response (`Emit::respond`); handed back when the exchange leaves.
    pub ticket: Ticket,
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

/// Where exchanges go: asked what to keep of each, told when each leaves.
///
/// A parser's part, per exchange (HTTP/1: `http1::Conn::request_head` and
/// `response_head`; HTTP/2 per stream, the same calls):
/// 1. request head read: `let t = env.sink.admit(&info)`; take a slot
///    (`env.exs.take()`; when none is left, `env.no_slot(t)`); set the
///    request's times; `let body = env.keep_request(i, t, head, &parts)`:
///    offer the request's body bytes to `ex.req.keep_body` only if `body`;
/// 2. final response head (not a 1xx interim; 101 is final): set `has_resp`
///    and the response's times; `let keep = env.keep_response(i, ts, status,
///    head, &parts)` (it calls [`respond`](Emit::respond)): offer the
///    response's body bytes only if `keep`;
/// 3. exchange over: `env.emit(i)`, which calls [`emit`](Emit::emit) if it
///    is traced and [`done`](Emit::done) in any case, and frees the slot.
pub trait Emit {
    /// What to keep of this exchange, asked once per request when its head
    /// has been read. The ticket is stored in the exchange
    /// (`Exchange::ticket`); its verdict says: `Keep` the whole exchange;
    /// `Head`, keep only the request head, in case the response makes it a
    /// trace (see `respond`); `Pass`, keep nothing (the exchange is still
    /// paired with its response, but never emitted). The default keeps
    /// everything.
    fn admit(&mut self, _req: &ReqInfo) -> Ticket {
        Ticket::keep_all()
    }

    /// The final response head (`status`, at `ts`) of an exchange that was
    /// kept or kept as a head: `Late::Promote` makes a `Head` exchange a
    /// trace, `Release` lets it go. Updates the ticket.
    fn respond(&mut self, _ticket: &mut Ticket, _ts: u64, _status: u16) -> Late {
        Late::AsDecided
    }

    /// A traced exchange, complete (or given up).
    fn emit(&mut self, ex: &Exchange, ends: &Ends, pool: &Store);

    /// Exchange `ex` leaves (after `emit` when `traced`): whatever the
    /// verdict, with or without a response.
    fn done(&mut self, _ex: &Exchange, _traced: bool) {}
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

    /// A request found no exchange slot (every one is taken): counted as
    /// pool exhaustion; the sink hears that it left, untraced.
    pub fn no_slot(&mut self, ticket: Ticket) {
        self.stats.pool_exhausted += 1;
        let ex = Exchange {
            ticket,
            ..Exchange::default()
        };
        self.sink.done(&ex, false);
    }

    /// Keep what the sink decided (`ticket`, from [`Emit::admit`]) of the
    /// request head of exchange `i`: the head and then the body (`Keep`),
    /// the head alone (`Head`: its body is counted, not kept), or nothing.
    /// A `Head` is best effort: when the store cannot take it, the exchange
    /// is passed over, and that is not counted as pool exhaustion. Returns
    /// whether the request's body bytes are to be offered to its `Msg`.
    pub fn keep_request(
        &mut self,
        i: u32,
        ticket: Ticket,
        head: &[u8],
        parts: &index::Parts,
    ) -> bool {
        let ex = &mut self.exs[i];
        ex.ticket = ticket;
        match ticket.verdict() {
            Verdict::Keep(_) => {
                ex.req.keep_head(head, parts, self.pool);
                true
            }
            Verdict::Head => {
                ex.req.keep_head(head, parts, self.pool);
                if ex.req.lost {
                    self.pool.release(&mut ex.req.chain);
                    ex.req.lost = false;
                    ex.skip = true;
                    return false;
                }
                ex.req.body_omitted = true;
                true
            }
            Verdict::Pass => {
                ex.skip = true;
                false
            }
        }
    }

    /// The doubtful request of exchange `i` was answered: keep what the
    /// sink decided now (`ticket`; asked only now, so that noise nobody
    /// answers takes no share of the rate limit). Refused: its head is
    /// given back and the exchange passed over; kept as a head: its body
    /// counts as not kept and the response decides, as for any `Head`.
    pub fn answered(&mut self, i: u32, ticket: Ticket) {
        let ex = &mut self.exs[i];
        ex.ticket = ticket;
        match ticket.verdict() {
            Verdict::Keep(_) => {}
            Verdict::Head => ex.req.body_omitted = true,
            Verdict::Pass => {
                self.pool.release(&mut ex.req.chain);
                ex.skip = true;
            }
        }
    }

    /// The final response head of exchange `i` (`status`, seen at `ts`):
    /// ask the sink about it, then keep the head when the exchange is
    /// traced. A `Head` exchange is promoted to a trace (the response kept
    /// whole, its request flagged `body_omitted`) or released: its request
    /// head is given back to the store at once. Returns whether the
    /// response is kept (its body bytes are to be offered to its `Msg`).
    pub fn keep_response(
        &mut self,
        i: u32,
        ts: u64,
        status: u16,
        head: &[u8],
        parts: &index::Parts,
    ) -> bool {
        let ex = &mut self.exs[i];
        ex.status = status;
        if ex.skip {
            return false;
        }
        let late = self.sink.respond(&mut ex.ticket, ts, status);
        if ex.req.body_omitted && late != Late::Promote {
            self.pool.release(&mut ex.req.chain);
            ex.skip = true;
            return false;
        }
        ex.resp.keep_head(head, parts, self.pool);
        true
    }

    /// Exchange `i` is done: hand it to the sink if it is traced (or count
    /// why it cannot be), tell the sink it left, and free its slot. `i` must
    /// be in no queue.
    pub fn emit(&mut self, i: u32) {
        let ex = self.exs[i];
        let mut traced = false;
        if ex.skip || ex.ticket.verdict() == Verdict::Head {
            // Refused by policy when the request came (counted there), or
            // kept as a head that no response promoted.
        } else if ex.req.form == Form::Doubtful && !ex.has_resp {
            // A doubtful request nobody answered: not a request after all.
        } else if ex.req.lost || (ex.has_resp && ex.resp.lost) {
            self.stats.pool_exhausted += 1;
        } else {
            if !ex.has_resp {
                self.stats.requests_without_response += 1;
            }
            self.stats.traces += 1;
            if ex.req.form != Form::WellFormed {
                self.stats.malformed_requests += 1;
            }
            self.sink.emit(&ex, self.ends, self.pool);
            traced = true;
        }
        self.sink.done(&ex, traced);
        self.exs.give(i, self.pool);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The start-up "memory ceiling" line counts the exchange slots at this
    /// size: a change shows in the sensor's output. (120 bytes until issue
    /// 19 added the sampler's ticket and the status.)
    #[test]
    fn an_exchange_keeps_its_size() {
        assert_eq!(std::mem::size_of::<Exchange>(), 136);
    }
}
