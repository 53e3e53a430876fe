//! TCP connections: segments in, each connection's byte streams out to its
//! protocol parser.
//!
//! `Tracker` keeps a fixed table of connections (`table`), one reassembled
//! stream per direction (`stream`, holding early segments in an `assembler`)
//! and, by value in each connection's slot, the state of a parser that
//! implements [`Parser`]. This layer knows nothing of what the bytes mean:
//! it hands them on in order, says where they were lost, and says when a
//! direction or the connection ends.

pub mod assembler;
mod stream;
mod table;
#[cfg(test)]
mod tests;

use std::ops::{Index, IndexMut};

use crate::pool::{self, Store, Windows};
use crate::stats::Stats;
use crate::wire::{Addr, Segment, SeqNumber, TcpFlags};
use stream::{Stream, Upper};
use table::{Keyed, Table};

/// Which way bytes travel on a connection. The two ends are told apart by
/// the flow key, which puts the lower (address, port) first: that says
/// nothing about which end opened the connection.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum Direction {
    /// Sent by `Ends::addr[0]`, the lower (address, port).
    #[default]
    FromLow = 0,
    /// Sent by `Ends::addr[1]`.
    FromHigh = 1,
}

impl Direction {
    pub const BOTH: [Direction; 2] = [Direction::FromLow, Direction::FromHigh];

    /// The other way.
    #[inline]
    pub fn flip(self) -> Direction {
        match self {
            Direction::FromLow => Direction::FromHigh,
            Direction::FromHigh => Direction::FromLow,
        }
    }

    /// 0 or 1, for per-direction arrays.
    #[inline]
    pub fn index(self) -> usize {
        self as usize
    }
}

impl<T> Index<Direction> for [T; 2] {
    type Output = T;
    #[inline]
    fn index(&self, d: Direction) -> &T {
        &self[d as usize]
    }
}

impl<T> IndexMut<Direction> for [T; 2] {
    #[inline]
    fn index_mut(&mut self, d: Direction) -> &mut T {
        &mut self[d as usize]
    }
}

/// The connection's ends, by direction: `addr[d]`, `port[d]` sent direction
/// `d`. The lower (address, port) is first, so they are also the
/// connection's key in the flow table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ends {
    pub addr: [Addr; 2],
    pub port: [u16; 2],
}

impl Ends {
    /// The (address, port) that sends direction `d`.
    #[inline]
    pub fn end(&self, d: Direction) -> (Addr, u16) {
        (self.addr[d], self.port[d])
    }
}

/// What the packet that carried some bytes says about them.
#[derive(Debug, Clone, Copy)]
pub struct Ctx {
    /// Capture time in microseconds since the epoch.
    pub ts: u64,
    /// Capture time of the packet that carried the first byte offered
    /// (earlier than `ts` when the bytes waited in a window).
    pub first_ts: u64,
    /// Sequence number of the first byte offered.
    pub seq: SeqNumber,
    /// Acknowledgement number of that packet, if the ACK flag was set.
    pub ack: Option<SeqNumber>,
}

/// What a parser call may use besides its connection's own state.
pub struct Env<'a, P: Parser> {
    /// What all connections' parsers share, kept by the tracker.
    pub shared: &'a mut P::Shared,
    pub stats: &'a mut Stats,
    /// Where finished work goes.
    pub sink: &'a mut P::Sink,
}

/// A protocol parser for one connection, kept by value in the connection's
/// slot (so `Copy`, and `Default` is the state before any byte).
///
/// The tracker offers each direction's bytes in order and says where bytes
/// were lost. `data` may leave an incomplete message unconsumed: those bytes
/// are offered again with what follows (and are lost, as a gap, when there
/// is no window to keep them in).
pub trait Parser: Copy + Default {
    /// State every connection's parser shares (buffers, limits): one, kept
    /// by the tracker.
    type Shared;
    /// Where finished work goes: lent to each tracker call.
    type Sink: ?Sized;

    /// The shared state for connections of `l`, keeping messages in `store`
    /// (the part of the pool that is not reassembly windows).
    fn shared(l: &Limits, store: Store) -> Self::Shared;
    /// Bytes `shared` reserved at start-up.
    fn reserved(shared: &Self::Shared) -> usize;

    /// A SYN without ACK came from `dir`: that side opened the connection.
    fn syn(&mut self, dir: Direction);
    /// Nothing more will be parsed: later bytes need not be delivered.
    fn is_done(&self) -> bool;
    /// In-order bytes of `dir`; returns how many were consumed.
    fn data(
        &mut self,
        dir: Direction,
        bytes: &[u8],
        cx: &Ctx,
        ends: &Ends,
        env: &mut Env<Self>,
    ) -> usize;
    /// `lost` bytes of `dir` were never captured; `ts` is when that became known.
    fn gap(&mut self, dir: Direction, lost: u64, ts: u64, ends: &Ends, env: &mut Env<Self>);
    /// `dir` sent FIN and all its bytes have been delivered.
    fn fin(&mut self, dir: Direction, ts: u64, ends: &Ends, env: &mut Env<Self>);
    /// The connection ended (both FINs, RST) or is forgotten (eviction,
    /// timeout, end of input): comes again when a connection that ended is
    /// forgotten later.
    fn close(&mut self, ends: &Ends, env: &mut Env<Self>);
}

/// Sizes of everything the tracker reserves.
pub struct Limits {
    pub max_flows: u32,
    /// Reassembly windows and message store together.
    pub pool_bytes: usize,
    pub timeout_us: u64,
    /// Longest message body the parser keeps.
    pub max_body: u64,
}

/// One connection: its key in the table, its ends, a stream per direction
/// and its parser.
///
/// `key` and `ends` always hold the same (the lower end first): the flow
/// table of the revision this layout comes from kept both, and keeping
/// them keeps a slot's size, and so the memory ceiling the sensor prints at
/// start-up, byte for byte. One can go when that line may change (a slot
/// is then 376 bytes instead of 408).
#[derive(Clone, Copy)]
struct Flow<P> {
    key: Ends,
    ends: Ends,
    streams: [Stream; 2],
    parser: P,
}

/// Everything the TCP layer owns: the table, the windows, the parsers'
/// shared state, the counters.
pub struct Tracker<P: Parser> {
    table: Table<Flow<P>>,
    pub windows: Windows,
    pub shared: P::Shared,
    pub stats: Stats,
    timeout_us: u64,
}

/// The tracker's parts a connection's work uses besides its slot.
struct Work<'a, P: Parser> {
    windows: &'a mut Windows,
    env: Env<'a, P>,
}

impl<P: Parser> Tracker<P> {
    pub fn new(l: &Limits) -> Tracker<P> {
        let n = l.max_flows.max(1) as usize;
        let (windows, store) = pool::reserve(l.pool_bytes);
        Tracker {
            table: Table::new(n),
            windows,
            shared: P::shared(l, store),
            stats: Stats::default(),
            timeout_us: l.timeout_us,
        }
    }

    /// Bytes reserved at start-up.
    pub fn reserved(&self) -> usize {
        self.table.reserved() + self.windows.reserved() + P::reserved(&self.shared)
    }

    pub fn live_flows(&self) -> u32 {
        self.table.live()
    }

    /// Take the tracker apart: the table, and the rest for a connection's work.
    fn parts<'a>(&'a mut self, sink: &'a mut P::Sink) -> (&'a mut Table<Flow<P>>, Work<'a, P>) {
        let Tracker {
            table,
            windows,
            shared,
            stats,
            ..
        } = self;
        let env = Env {
            shared,
            stats,
            sink,
        };
        (table, Work { windows, env })
    }

    /// Handle one TCP segment captured at `ts` (microseconds).
    pub fn segment(&mut self, s: &Segment, ts: u64, sink: &mut P::Sink) {
        let (key, dir) = if (s.src, s.sport) <= (s.dst, s.dport) {
            let k = Ends {
                addr: [s.src, s.dst],
                port: [s.sport, s.dport],
            };
            (k, Direction::FromLow)
        } else {
            let k = Ends {
                addr: [s.dst, s.src],
                port: [s.dport, s.sport],
            };
            (k, Direction::FromHigh)
        };
        if s.missing > 0 {
            self.stats.snaplen_cut += 1;
        }
        let (table, mut w) = self.parts(sink);
        let syn = s.flags.contains(TcpFlags::SYN);
        let mut found = table.find(&key);
        if let Some(id) = found {
            // A new connection on the same addresses (SYN after data): start over.
            let f = table.get(id);
            if syn
                && !s.flags.contains(TcpFlags::ACK)
                && (f.streams[0].fin || f.streams[1].fin || f.parser.is_done())
            {
                close(table, &mut w, id);
                found = None;
            }
        }
        let id = match found {
            Some(id) => {
                table.touch(id, ts);
                id
            }
            None => {
                if !syn && s.payload.is_empty() {
                    return; // a stray ACK/FIN/RST of a connection not tracked
                }
                if table.is_full() {
                    let victim = table.oldest().expect("a full table has an oldest flow");
                    if !table.get(victim).parser.is_done() {
                        w.env.stats.flows_evicted += 1;
                    }
                    close(table, &mut w, victim);
                }
                let flow = Flow {
                    key,
                    ends: key,
                    streams: [Stream::new(); 2],
                    parser: P::default(),
                };
                w.env.stats.flows_opened += 1;
                table.insert(flow, ts)
            }
        };
        table.get_mut(id).segment(dir, s, ts, &mut w);
    }

    /// Close connections idle for longer than the stream timeout.
    pub fn expire(&mut self, now: u64, sink: &mut P::Sink) {
        let timeout = self.timeout_us;
        let (table, mut w) = self.parts(sink);
        while let Some(id) = table.oldest() {
            if table.last_seen(id).saturating_add(timeout) > now {
                break;
            }
            if !table.get(id).parser.is_done() {
                w.env.stats.flows_timed_out += 1;
            }
            close(table, &mut w, id);
        }
    }

    /// Close every connection (end of input).
    pub fn close_all(&mut self, sink: &mut P::Sink) {
        let (table, mut w) = self.parts(sink);
        while let Some(id) = table.oldest() {
            close(table, &mut w, id);
        }
    }
}

/// Forget a connection: drain it and free its slot.
fn close<P: Parser>(table: &mut Table<Flow<P>>, w: &mut Work<P>, id: u32) {
    let ts = table.last_seen(id);
    table.get_mut(id).drain(ts, w);
    table.remove(id);
}

impl<P: Parser> Keyed for Flow<P> {
    fn key(&self) -> &Ends {
        &self.key
    }
}

impl<P: Parser> Flow<P> {
    /// Direction `dir`'s stream, and the parser as that stream sees it.
    fn split<'a, 'e>(
        &'a mut self,
        dir: Direction,
        env: &'a mut Env<'e, P>,
    ) -> (&'a mut Stream, Upper<'a, 'e, P>) {
        let Flow {
            ends,
            streams,
            parser,
            ..
        } = self;
        let up = Upper {
            parser,
            dir,
            ends,
            env,
        };
        (&mut streams[dir], up)
    }

    /// One segment of this connection, from `dir`, captured at `ts` (which
    /// is now the connection's latest time).
    fn segment(&mut self, dir: Direction, s: &Segment, ts: u64, w: &mut Work<P>) {
        let ack = s.flags.contains(TcpFlags::ACK);
        if ack {
            self.streams[dir].sent_ack(s.ack);
            let (st, mut up) = self.split(dir.flip(), &mut w.env);
            if st.peer_acked(w.windows, &mut up, s.ack, ts) {
                self.check_fin(dir.flip(), ts, w);
            }
        }
        let mut seq = s.seq;
        if s.flags.contains(TcpFlags::SYN) {
            self.streams[dir].syn(s.seq);
            if !ack {
                self.parser.syn(dir);
            }
            seq = seq + 1;
        }
        if !s.payload.is_empty() && !self.parser.is_done() {
            let cx = Ctx {
                ts,
                first_ts: ts,
                seq,
                ack: ack.then_some(s.ack),
            };
            let (st, mut up) = self.split(dir, &mut w.env);
            if st.receive(w.windows, &mut up, s.payload, &cx) {
                self.check_fin(dir, ts, w);
            }
        }
        // A reset ends the connection, unless it is signed (RFC 2385) for a
        // peer that has no key: such segments are dropped by the receiver.
        if s.flags.contains(TcpFlags::RST) && !s.md5 {
            self.finish(ts, w);
            return;
        }
        if s.flags.contains(TcpFlags::FIN) {
            self.streams[dir].fin(seq + s.payload.len() as u32 + s.missing);
            self.check_fin(dir, ts, w);
        }
    }

    /// When `dir` has delivered everything before its FIN, tell the parser;
    /// when the other direction has too, the connection is finished.
    fn check_fin(&mut self, dir: Direction, ts: u64, w: &mut Work<P>) {
        if self.streams[dir].finished() {
            self.parser.fin(dir, ts, &self.ends, &mut w.env);
            if self.streams[dir.flip()].finished() {
                self.finish(ts, w);
            }
        }
    }

    /// The connection ended (FIN both ways, or RST): report everything now,
    /// but keep the slot until it idles out so that late retransmissions
    /// are recognised as such instead of opening a new connection.
    fn finish(&mut self, ts: u64, w: &mut Work<P>) {
        self.drain(ts, w);
    }

    /// Deliver what is held (holes become gaps), let the parser emit
    /// everything, free the windows. `ts`: the connection's latest time.
    fn drain(&mut self, ts: u64, w: &mut Work<P>) {
        let done = self.parser.is_done();
        for dir in Direction::BOTH {
            let (st, mut up) = self.split(dir, &mut w.env);
            st.drain(w.windows, &mut up, done, ts);
        }
        self.parser.close(&self.ends, &mut w.env);
    }
}
