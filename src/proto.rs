//! Which protocol a connection speaks, and its parser: what the TCP layer keeps in each
//! flow slot ([`Proto`], small and `Copy`).
//!
//! A connection starts as HTTP/1 (`http1::Conn`, which also tells requests, responses and
//! TLS apart from its first bytes). It becomes HTTP/2 (a slot of `http2::conn::Pool`, the
//! state reserved at start-up for `--max-h2-connections` connections) in three ways:
//! - prior knowledge: a side's first bytes are the client connection preface;
//! - `Upgrade: h2c`: HTTP/1 parsed the request and its 101 (`http1::Conn::switched`); the
//!   upgraded request's exchange becomes stream 1's;
//! - mid-connection: while HTTP/1 has found no message start on a side (no head parsed
//!   yet, the side looking for one), the bytes HTTP/1 was given are also offered to
//!   `frame::find_boundary`; a run of plausible frames within them makes the connection
//!   HTTP/2 from there. Nothing is held for the search: HTTP/1 reads every connection
//!   exactly as it would alone (holding bytes would take reassembly windows from HTTP/1's
//!   flows, since any binary connection met mid-way has candidate frame headers), at the
//!   cost of missing a run of frames that no one segment (or bytes HTTP/1 holds) contains.
//!
//! A connection that would be HTTP/2 but finds every slot taken is counted (`h2_skipped`)
//! and left as it was before HTTP/2 was decoded: counted as `http2_flows`, its server port
//! in the no-HTTP summary, a 101 a tunnel.

use crate::exchange::{self, Emit};
use crate::http1;
use crate::http2::conn::{Pool, Start};
use crate::http2::frame::{Boundary, DEFAULT_MAX_FRAME_SIZE, find_boundary};
use crate::http2::preface::{self, Preface};
use crate::pool::Store;
use crate::stats::Stats;
use crate::tcp::{self, Ctx, Direction, Ends, Parser};

/// The tracker of every connection.
pub type Tracker = tcp::Tracker<Proto>;

/// A connection's protocol and the state of its parser, kept in its flow slot.
#[derive(Clone, Copy, Debug)]
pub enum Proto {
    /// HTTP/1, or not decided yet.
    Http1(http1::Conn),
    /// HTTP/2: the connection's slot in the pool.
    Http2(u32),
    /// Nothing more is read: an HTTP/2 connection that ended (its slot given back), or a
    /// connection given up.
    Done,
}

impl Default for Proto {
    fn default() -> Self {
        Proto::Http1(http1::Conn::default())
    }
}

/// What every connection's parser shares: HTTP/1's (the message store, exchange slots,
/// body limit) and the HTTP/2 connection states.
pub struct Shared {
    pub http: exchange::Shared,
    pub h2: Pool,
}

/// The exchange environment of a parser call, from the tracker's.
fn lend<'a>(
    http: &'a mut exchange::Shared,
    stats: &'a mut Stats,
    sink: &'a mut dyn Emit,
    ends: &'a Ends,
) -> exchange::Env<'a> {
    exchange::Env {
        ends,
        pool: &mut http.pool,
        exs: &mut http.exs,
        stats,
        sink,
        max_body: http.max_body,
    }
}

/// The tracker's environment as HTTP/1's parser sees it.
fn http1_env<'a>(env: &'a mut tcp::Env<'_, Proto>) -> tcp::Env<'a, http1::Conn> {
    tcp::Env {
        shared: &mut env.shared.http,
        stats: env.stats,
        sink: env.sink,
    }
}

/// Bytes `used` into `bytes` of a call: the same packet, the later part of it.
fn after(cx: &Ctx, used: usize) -> Ctx {
    Ctx {
        seq: cx.seq + used as u32,
        first_ts: if used == 0 { cx.first_ts } else { cx.ts },
        ..*cx
    }
}

impl tcp::Parser for Proto {
    type Shared = Shared;
    type Sink = dyn Emit;

    fn shared(l: &tcp::Limits, store: Store) -> Shared {
        Shared {
            http: exchange::Shared::new(l, store),
            h2: Pool::new(l.max_h2 as usize),
        }
    }

    fn reserved(s: &Shared) -> usize {
        s.http.reserved() + s.h2.reserved()
    }

    fn syn(&mut self, dir: Direction) {
        if let Proto::Http1(c) = self {
            c.syn(dir);
        }
    }

    fn is_done(&self) -> bool {
        match self {
            Proto::Http1(c) => c.is_done(),
            Proto::Http2(_) => false,
            Proto::Done => true,
        }
    }

    fn data(
        &mut self,
        dir: Direction,
        bytes: &[u8],
        cx: &Ctx,
        ends: &Ends,
        env: &mut tcp::Env<Self>,
    ) -> usize {
        match *self {
            Proto::Http1(ref mut c) if !c.undecided() => {
                let used = c.data(dir, bytes, cx, ends, &mut http1_env(env));
                if c.switched().is_some() {
                    return self.upgrade(dir, bytes, used, cx, ends, env);
                }
                used
            }
            Proto::Http1(..) => self.undecided(dir, bytes, cx, ends, env),
            Proto::Http2(slot) => {
                let s = &mut *env.shared;
                let mut x = lend(&mut s.http, env.stats, env.sink, ends);
                s.h2.data(slot, dir, bytes, cx, &mut x)
            }
            Proto::Done => bytes.len(),
        }
    }

    fn snapped(
        &mut self,
        dir: Direction,
        pending: &[u8],
        cx: &Ctx,
        ends: &Ends,
        env: &mut tcp::Env<Self>,
    ) {
        // What a cut head shows is HTTP/1's to read (a malformed request).
        if let Proto::Http1(c) = self {
            c.snapped(dir, pending, cx, ends, &mut http1_env(env));
        }
    }

    fn gap(&mut self, dir: Direction, lost: u64, ts: u64, ends: &Ends, env: &mut tcp::Env<Self>) {
        match *self {
            Proto::Http1(ref mut c) => {
                c.gap(dir, lost, ts, ends, &mut http1_env(env));
            }
            Proto::Http2(slot) => {
                let s = &mut *env.shared;
                let mut x = lend(&mut s.http, env.stats, env.sink, ends);
                s.h2.gap(slot, dir, lost, ts, &mut x);
            }
            Proto::Done => {}
        }
    }

    fn fin(&mut self, dir: Direction, ts: u64, ends: &Ends, env: &mut tcp::Env<Self>) {
        if let Proto::Http1(c) = self {
            c.fin(dir, ts, ends, &mut http1_env(env));
        }
    }

    fn close(&mut self, ends: &Ends, env: &mut tcp::Env<Self>) {
        match *self {
            Proto::Http1(ref mut c) => c.close(ends, &mut http1_env(env)),
            Proto::Http2(slot) => {
                let s = &mut *env.shared;
                let mut x = lend(&mut s.http, env.stats, env.sink, ends);
                s.h2.close(slot, &mut x);
                *self = Proto::Done;
            }
            Proto::Done => {}
        }
    }
}

impl Proto {
    /// Bytes of a connection HTTP/1 has not recognised yet: the HTTP/2 preface, else
    /// HTTP/1 on them, then (while it still finds no message start on this side) HTTP/2's
    /// boundary search over the same bytes.
    fn undecided(
        &mut self,
        dir: Direction,
        bytes: &[u8],
        cx: &Ctx,
        ends: &Ends,
        env: &mut tcp::Env<Self>,
    ) -> usize {
        let Proto::Http1(ref mut c) = *self else {
            unreachable!("an undecided connection is HTTP/1's")
        };
        if c.at_first_bytes(dir) {
            match preface::check(bytes) {
                // HTTP/1 waits for these bytes too.
                Preface::Partial => return 0,
                Preface::Complete => {
                    let start = Start::Preface {
                        client: dir,
                        server_at_start: c.at_first_bytes(dir.flip()),
                    };
                    if let Some(used) = self.h2(start, dir, bytes, cx, ends, env) {
                        return used;
                    }
                    // No slot: HTTP/1 counts the connection as it always did.
                    let Proto::Http1(ref mut c) = *self else {
                        return bytes.len();
                    };
                    return c.data(dir, bytes, cx, ends, &mut http1_env(env));
                }
                Preface::No => {}
            }
        }
        // HTTP/1 first.
        let read = c.data(dir, bytes, cx, ends, &mut http1_env(env));
        if !c.undecided() || !c.searching(dir) {
            // HTTP/1 found its start (or gave up, or waits for a head).
            return read;
        }
        match find_boundary(bytes, DEFAULT_MAX_FRAME_SIZE) {
            Boundary::Found(p) => {
                let start = Start::Midway {
                    at: dir,
                    client: c.syn_from(),
                };
                let syn = c.syn_from();
                match self.h2(start, dir, &bytes[p..], &after(cx, p), ends, env) {
                    Some(used) => p + used,
                    None => {
                        // No slot: counted, and not read any further.
                        let server = match syn {
                            Some(client) => ends.end(client.flip()),
                            None if ends.port[0] <= ends.port[1] => ends.end(Direction::FromLow),
                            None => ends.end(Direction::FromHigh),
                        };
                        env.stats.http2_flows += 1;
                        env.stats.unread.http2(server);
                        *self = Proto::Done;
                        bytes.len()
                    }
                }
            }
            // Not HTTP/2 as far as these bytes tell: nothing is held for the search, so
            // HTTP/1 reads the connection exactly as it would alone (holding would take
            // reassembly windows from HTTP/1's flows: every binary connection met mid-way
            // has candidates). A run of frames must be within the bytes of one call.
            Boundary::NeedMore | Boundary::Skip(_) => read,
        }
    }

    /// Read the connection as HTTP/2 from the start of `bytes` of `dir` (`cx`
    /// describes them), started as `start`. None: every slot is taken
    /// (counted).
    fn h2(
        &mut self,
        start: Start,
        dir: Direction,
        bytes: &[u8],
        cx: &Ctx,
        ends: &Ends,
        env: &mut tcp::Env<Self>,
    ) -> Option<usize> {
        let s = &mut *env.shared;
        let mut x = lend(&mut s.http, env.stats, env.sink, ends);
        let Some(slot) = s.h2.open(start, cx.ts, &mut x) else {
            x.stats.h2_skipped += 1;
            return None;
        };
        x.stats.http2_flows += 1;
        x.stats.h2_connections += 1;
        *self = Proto::Http2(slot);
        Some(s.h2.data(slot, dir, bytes, cx, &mut x))
    }

    /// HTTP/1 read a 101 that accepted `Upgrade: h2c` (after `used` bytes of `bytes`): the
    /// rest is HTTP/2, with the upgraded request as stream 1, when a slot is free.
    fn upgrade(
        &mut self,
        dir: Direction,
        bytes: &[u8],
        used: usize,
        cx: &Ctx,
        ends: &Ends,
        env: &mut tcp::Env<Self>,
    ) -> usize {
        let Proto::Http1(ref mut c) = *self else {
            return used;
        };
        let Some((server, _)) = c.switched() else {
            return used;
        };
        if env.shared.h2.in_use() >= env.shared.h2.capacity() {
            // No room: a switch of protocols as any other (a tunnel), counted.
            c.refuse_switch(cx.ts, ends, &mut http1_env(env));
            env.stats.h2_skipped += 1;
            env.stats.http2_flows += 1;
            env.stats.unread.http2(ends.end(server));
            return bytes.len();
        }
        let request = c.take_switched(&mut http1_env(env), ends);
        let client = server.flip();
        let start = match request {
            Some(request) => Start::Upgrade { client, request },
            None => Start::Preface {
                client,
                server_at_start: true,
            },
        };
        let rest = self.h2(start, dir, &bytes[used..], &after(cx, used), ends, env);
        used + rest.expect("a slot was free")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A flow slot holds a `Proto`: HTTP/2's state is in the pool; the slot is no larger
    /// than HTTP/1's own state and a tag.
    #[test]
    fn a_flow_slot_stays_small() {
        assert!(std::mem::size_of::<Proto>() <= std::mem::size_of::<http1::Conn>() + 8);
    }
}
