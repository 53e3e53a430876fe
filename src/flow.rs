//! TCP connections: a fixed-size flow table with LRU eviction and idle
//! timeout, and per-direction reassembly into pooled windows.
//!
//! In-order segments go straight from the capture buffer to the HTTP parser;
//! only bytes the parser cannot use yet (an incomplete head) or segments that
//! arrive early are copied into a window from the pool. A hole that can never
//! be filled (the peer acknowledged past it, the window is full, or the
//! connection ends) is reported to the parser as a gap, and parsing resumes at
//! the next message start.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

use crate::http::{Conn, Ctx, Emit, Ends, Env, ExPool};
use crate::pool::{self, NIL, Store, WINDOW, Windows};
use crate::stats::Stats;
use crate::tcp::assembler::Assembler;
use crate::wire::{Addr, Segment, SeqNumber, TcpFlags};

#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, Debug)]
struct Key {
    a: Addr,
    b: Addr,
    pa: u16,
    pb: u16,
}

#[derive(Clone, Copy, Default, Debug)]
struct Half {
    seen: bool,
    fin: bool,
    /// The peer acknowledged `peer_ack` (valid when `acked`).
    acked: bool,
    /// This direction's latest acknowledgement number (valid when `own_acked`):
    /// stands in for the ACK of bytes parsed later from the window.
    own_acked: bool,
    own_ack: SeqNumber,
    next_seq: SeqNumber,
    fin_seq: SeqNumber,
    peer_ack: SeqNumber,
    /// Pool window holding pending bytes, or NIL.
    win: u32,
    /// Contiguous bytes at the start of the window not yet consumed by the parser.
    win_len: u32,
    /// Capture time and ACK of the packet that brought the first pending byte.
    win_ts: u64,
    win_ack: Option<SeqNumber>,
    /// Out-of-order byte ranges, as window offsets, all past `win_len`.
    held: Assembler,
}

#[derive(Clone, Copy, Debug)]
struct Flow {
    key: Key,
    ends: Ends,
    halves: [Half; 2],
    conn: Conn,
    last_seen: u64,
    prev: u32,
    next: u32,
}

/// Everything the flow layer owns: the table, the pools, the counters.
pub struct Tracker {
    flows: Vec<Flow>,
    free: Vec<u32>,
    index: Vec<u32>,
    mask: usize,
    seed: u64,
    head: u32,
    tail: u32,
    live: u32,
    pub windows: Windows,
    pub pool: Store,
    pub exs: ExPool,
    pub stats: Stats,
    timeout_us: u64,
    max_body: u64,
}

impl Half {
    fn new() -> Half {
        Half {
            win: NIL,
            ..Half::default()
        }
    }
}

fn empty_flow() -> Flow {
    Flow {
        key: Key::default(),
        ends: Ends {
            addr: [Addr::default(); 2],
            port: [0; 2],
        },
        halves: [Half::new(); 2],
        conn: Conn::default(),
        last_seen: 0,
        prev: NIL,
        next: NIL,
    }
}

/// Sizes of everything the tracker reserves.
pub struct Limits {
    pub max_flows: u32,
    pub pool_bytes: usize,
    pub timeout_us: u64,
    pub max_body: u64,
}

macro_rules! env {
    ($t:expr, $sink:expr) => {
        Env {
            pool: &mut $t.pool,
            exs: &mut $t.exs,
            stats: &mut $t.stats,
            sink: $sink,
            max_body: $t.max_body,
        }
    };
}

impl Tracker {
    pub fn new(l: &Limits) -> Tracker {
        let n = l.max_flows.max(1) as usize;
        let slots = (n * 2).next_power_of_two();
        let (windows, pool) = pool::reserve(l.pool_bytes);
        Tracker {
            flows: vec![empty_flow(); n],
            free: (0..n as u32).rev().collect(),
            index: vec![NIL; slots],
            mask: slots - 1,
            seed: RandomState::new().hash_one(0x5eed_u64) | 1,
            head: NIL,
            tail: NIL,
            live: 0,
            windows,
            pool,
            exs: ExPool::new(n * 2 + 64),
            stats: Stats::default(),
            timeout_us: l.timeout_us,
            max_body: l.max_body,
        }
    }

    /// Bytes reserved at start-up.
    pub fn reserved(&self) -> usize {
        self.flows.len() * std::mem::size_of::<Flow>()
            + self.free.capacity() * 4
            + self.index.len() * 4
            + self.windows.reserved()
            + self.pool.reserved()
            + self.exs.reserved()
    }

    pub fn live_flows(&self) -> u32 {
        self.live
    }

    /// A keyed multiply-xor hash of the four-tuple: much cheaper per packet
    /// than SipHash, and the random key keeps crafted flows from piling up
    /// in one probe chain.
    fn hash(&self, k: &Key) -> usize {
        const M: u64 = 0x9e37_79b9_7f4a_7c15;
        let w = |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap());
        let mut h = self.seed;
        for x in [
            w(&k.a.0[..8]),
            w(&k.a.0[8..]),
            w(&k.b.0[..8]),
            w(&k.b.0[8..]),
            (k.pa as u64) << 16 | k.pb as u64,
        ] {
            h = (h ^ x).wrapping_mul(M);
            h ^= h >> 29;
        }
        h as usize
    }

    fn lookup(&self, k: &Key) -> Option<u32> {
        let mut i = self.hash(k) & self.mask;
        loop {
            let f = self.index[i];
            if f == NIL {
                return None;
            }
            if self.flows[f as usize].key == *k {
                return Some(f);
            }
            i = (i + 1) & self.mask;
        }
    }

    fn index_insert(&mut self, k: &Key, f: u32) {
        let mut i = self.hash(k) & self.mask;
        while self.index[i] != NIL {
            i = (i + 1) & self.mask;
        }
        self.index[i] = f;
    }

    /// Remove `f` from the open-addressing index (backward-shift deletion).
    fn index_remove(&mut self, f: u32) {
        let k = self.flows[f as usize].key;
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
            let home = self.hash(&self.flows[g as usize].key) & self.mask;
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

    fn lru_unlink(&mut self, f: u32) {
        let (p, n) = (self.flows[f as usize].prev, self.flows[f as usize].next);
        if p == NIL {
            self.head = n;
        } else {
            self.flows[p as usize].next = n;
        }
        if n == NIL {
            self.tail = p;
        } else {
            self.flows[n as usize].prev = p;
        }
    }

    fn lru_push_front(&mut self, f: u32) {
        self.flows[f as usize].prev = NIL;
        self.flows[f as usize].next = self.head;
        if self.head != NIL {
            self.flows[self.head as usize].prev = f;
        }
        self.head = f;
        if self.tail == NIL {
            self.tail = f;
        }
    }

    /// Handle one TCP segment captured at `ts` (microseconds).
    pub fn segment(&mut self, s: &Segment, ts: u64, sink: &mut dyn Emit) {
        let fwd = (s.src, s.sport) <= (s.dst, s.dport);
        let key = if fwd {
            Key {
                a: s.src,
                b: s.dst,
                pa: s.sport,
                pb: s.dport,
            }
        } else {
            Key {
                a: s.dst,
                b: s.src,
                pa: s.dport,
                pb: s.sport,
            }
        };
        let dir = if fwd { 0 } else { 1 };
        if s.missing > 0 {
            self.stats.snaplen_cut += 1;
        }
        let syn = s.flags.contains(TcpFlags::SYN);
        let mut f = self.lookup(&key);
        if let Some(fi) = f {
            // A new connection on the same addresses (SYN after data): start over.
            let fl = &self.flows[fi as usize];
            if syn
                && !s.flags.contains(TcpFlags::ACK)
                && (fl.halves[0].fin || fl.halves[1].fin || fl.conn.is_done())
            {
                self.close(fi, sink);
                f = None;
            }
        }
        let fi = match f {
            Some(fi) => {
                self.lru_unlink(fi);
                fi
            }
            None => {
                if !syn && s.payload.is_empty() {
                    return; // a stray ACK/FIN/RST of a connection not tracked
                }
                self.open(key, dir, s, sink)
            }
        };
        self.lru_push_front(fi);
        self.flows[fi as usize].last_seen = ts;

        if s.flags.contains(TcpFlags::ACK) {
            let h = &mut self.flows[fi as usize].halves[dir];
            h.own_acked = true;
            h.own_ack = s.ack;
            self.peer_acked(fi, 1 - dir, s.ack, ts, sink);
        }
        let mut seq = s.seq;
        if syn {
            let h = &mut self.flows[fi as usize].halves[dir];
            if !h.seen {
                h.seen = true;
                h.next_seq = s.seq + 1;
            }
            if !s.flags.contains(TcpFlags::ACK) {
                self.flows[fi as usize].conn.syn(dir);
            }
            seq = seq + 1;
        }
        if !s.payload.is_empty() {
            let cx = Ctx {
                ts,
                first_ts: ts,
                seq,
                ack: s.flags.contains(TcpFlags::ACK).then_some(s.ack),
            };
            self.receive(fi, dir, s.payload, &cx, sink);
        }
        // A reset ends the connection, unless it is signed (RFC 2385) for a
        // peer that has no key: such segments are dropped by the receiver.
        if s.flags.contains(TcpFlags::RST) && !s.md5 {
            self.finish(fi, sink);
            return;
        }
        if s.flags.contains(TcpFlags::FIN) {
            let h = &mut self.flows[fi as usize].halves[dir];
            if !h.fin {
                h.fin = true;
                h.fin_seq = seq + s.payload.len() as u32 + s.missing;
                if !h.seen {
                    h.seen = true;
                    h.next_seq = h.fin_seq;
                }
            }
            self.check_fin(fi, dir, ts, sink);
        }
    }

    fn open(&mut self, key: Key, dir: usize, s: &Segment, sink: &mut dyn Emit) -> u32 {
        if self.free.is_empty() {
            let victim = self.tail;
            if !self.flows[victim as usize].conn.is_done() {
                self.stats.flows_evicted += 1;
            }
            self.close(victim, sink);
        }
        let fi = self.free.pop().expect("a free flow slot after eviction");
        let mut fl = empty_flow();
        fl.key = key;
        fl.ends.addr[dir] = s.src;
        fl.ends.port[dir] = s.sport;
        fl.ends.addr[1 - dir] = s.dst;
        fl.ends.port[1 - dir] = s.dport;
        self.flows[fi as usize] = fl;
        self.index_insert(&key, fi);
        self.live += 1;
        self.stats.flows_opened += 1;
        fi
    }

    /// The connection ended (FIN both ways, or RST): report everything now,
    /// but keep the entry until it idles out so that late retransmissions
    /// are recognised as such instead of opening a new connection.
    fn finish(&mut self, fi: u32, sink: &mut dyn Emit) {
        self.drain(fi, sink);
    }

    /// Deliver what is held (holes become gaps), emit every exchange, free windows.
    fn drain(&mut self, fi: u32, sink: &mut dyn Emit) {
        let done = self.flows[fi as usize].conn.is_done();
        for dir in 0..2 {
            if !done {
                self.flush_holes(fi, dir, None, sink);
                // Bytes the FIN or the peer's ACK prove were sent but the capture missed.
                let h = self.flows[fi as usize].halves[dir];
                let end = if h.fin { h.fin_seq } else { h.peer_ack };
                if h.seen && (h.fin || h.acked) && h.next_seq < end {
                    self.flush_holes(fi, dir, Some(end), sink);
                }
            }
            // Whatever is still held (a done connection is not flushed) goes
            // with the window: a late ACK must not find ranges without one.
            let h = &mut self.flows[fi as usize].halves[dir];
            if h.win != NIL {
                self.windows.give(h.win);
                h.win = NIL;
            }
            h.win_len = 0;
            h.held.clear();
        }
        let fl = &mut self.flows[fi as usize];
        let ends = fl.ends;
        let mut env = env!(self, sink);
        fl.conn.close(&ends, &mut env);
    }

    /// Forget a connection: drain it and free its slot.
    fn close(&mut self, fi: u32, sink: &mut dyn Emit) {
        self.drain(fi, sink);
        self.index_remove(fi);
        self.lru_unlink(fi);
        self.free.push(fi);
        self.live -= 1;
    }

    /// Close connections idle for longer than the stream timeout.
    pub fn expire(&mut self, now: u64, sink: &mut dyn Emit) {
        while self.tail != NIL {
            let t = self.tail;
            if self.flows[t as usize]
                .last_seen
                .saturating_add(self.timeout_us)
                > now
            {
                break;
            }
            if !self.flows[t as usize].conn.is_done() {
                self.stats.flows_timed_out += 1;
            }
            self.close(t, sink);
        }
    }

    /// Close every connection (end of input).
    pub fn close_all(&mut self, sink: &mut dyn Emit) {
        while self.tail != NIL {
            let t = self.tail;
            self.close(t, sink);
        }
    }

    /// The other side acknowledged `ack` of direction `dir`'s bytes.
    fn peer_acked(&mut self, fi: u32, dir: usize, ack: SeqNumber, ts: u64, sink: &mut dyn Emit) {
        let h = &mut self.flows[fi as usize].halves[dir];
        if !h.acked || h.peer_ack < ack {
            h.acked = true;
            h.peer_ack = ack;
        }
        // Data below the ack that we do not hold was lost by the capture, not the network.
        if h.seen && !h.held.is_empty() && h.next_seq < ack {
            let upto = self.flows[fi as usize].halves[dir].ooo_end_seq();
            let upto = if upto < ack { upto } else { ack };
            self.flush_holes(fi, dir, Some(upto), sink);
            self.check_fin(fi, dir, ts, sink);
        }
    }

    fn check_fin(&mut self, fi: u32, dir: usize, ts: u64, sink: &mut dyn Emit) {
        let fl = &mut self.flows[fi as usize];
        let h = fl.halves[dir];
        if h.fin && h.next_seq >= h.fin_seq {
            let ends = fl.ends;
            let mut env = env!(self, sink);
            fl.conn.fin(dir, ts, &ends, &mut env);
            let o = fl.halves[1 - dir];
            if o.fin && o.next_seq >= o.fin_seq {
                self.finish(fi, sink);
            }
        }
    }

    /// Payload of direction `dir` starting at `cx.seq`.
    fn receive(&mut self, fi: u32, dir: usize, mut data: &[u8], cx: &Ctx, sink: &mut dyn Emit) {
        if self.flows[fi as usize].conn.is_done() {
            return; // finished, or not HTTP: nothing more to parse
        }
        let h = &mut self.flows[fi as usize].halves[dir];
        if !h.seen {
            h.seen = true;
            h.next_seq = cx.seq;
        }
        let mut seq = cx.seq;
        let off = seq - h.next_seq;
        if off < 0 {
            let skip = off.unsigned_abs() as usize;
            if skip >= data.len() {
                return; // retransmission of bytes already delivered
            }
            data = &data[skip..];
            seq = h.next_seq;
        } else if off > 0 {
            let lost = h.acked && h.peer_ack >= seq;
            if lost || !self.hold(fi, dir, off as u32, data) {
                // Cannot wait for the hole: give up on it and go on from here.
                self.flush_holes(fi, dir, Some(seq), sink);
            } else {
                return;
            }
        }
        let cx = Ctx { seq, ..*cx };
        self.in_order(fi, dir, data, &cx, sink);
        self.check_fin(fi, dir, cx.ts, sink);
    }

    /// Keep an early segment `off` bytes past the next expected one. False: no room.
    fn hold(&mut self, fi: u32, dir: usize, off: u32, data: &[u8]) -> bool {
        let h = self.flows[fi as usize].halves[dir];
        let start = h.win_len as usize + off as usize;
        let end = start + data.len();
        if end > WINDOW {
            return false;
        }
        let win = if h.win == NIL {
            match self.windows.take() {
                Some(w) => w,
                None => {
                    self.stats.pool_exhausted += 1;
                    return false;
                }
            }
        } else {
            h.win
        };
        let h = &mut self.flows[fi as usize].halves[dir];
        h.win = win;
        if !h.held.insert(start as u32, end as u32) {
            return false;
        }
        self.windows.get_mut(win)[start..end].copy_from_slice(data);
        true
    }

    /// Deliver in-order bytes at `next_seq`.
    fn in_order(&mut self, fi: u32, dir: usize, data: &[u8], cx: &Ctx, sink: &mut dyn Emit) {
        let fl = &mut self.flows[fi as usize];
        let ends = fl.ends;
        let h = &mut fl.halves[dir];
        if h.win == NIL {
            // Fast path: parse straight from the capture buffer.
            h.next_seq = h.next_seq + data.len() as u32;
            let mut env = env!(self, sink);
            let used = fl.conn.data(dir, data, cx, &ends, &mut env);
            if used == data.len() {
                return;
            }
            let rest = &data[used..];
            let Some(w) = self.windows.take() else {
                // No room to wait for the rest of a head: it is lost.
                self.stats.pool_exhausted += 1;
                let mut env = env!(self, sink);
                fl.conn.gap(dir, rest.len() as u64, cx.ts, &ends, &mut env);
                return;
            };
            // Pretend the rest has not been delivered yet and take the slow path.
            let h = &mut fl.halves[dir];
            h.win = w;
            h.win_len = 0;
            h.next_seq = h.next_seq - rest.len() as u32;
            let cx = Ctx {
                seq: cx.seq + used as u32,
                ..*cx
            };
            return self.buffered(fi, dir, rest, &cx, sink);
        }
        self.buffered(fi, dir, data, cx, sink);
    }

    /// Append in-order bytes to the window and parse from it.
    fn buffered(&mut self, fi: u32, dir: usize, mut data: &[u8], cx: &Ctx, sink: &mut dyn Emit) {
        loop {
            let fl = &mut self.flows[fi as usize];
            let h = &mut fl.halves[dir];
            let w = h.win;
            let at = h.win_len as usize;
            if at == 0 {
                h.win_ts = cx.ts;
                h.win_ack = cx.ack;
            }
            let n = data.len().min(WINDOW - at);
            self.windows.get_mut(w)[at..at + n].copy_from_slice(&data[..n]);
            data = &data[n..];
            h.win_len += n as u32;
            h.next_seq = h.next_seq + n as u32;
            h.absorb_ooo();
            let before = self.flows[fi as usize].halves[dir].win_len;
            self.parse_window(fi, dir, cx.ts, sink);
            let h = &mut self.flows[fi as usize].halves[dir];
            if h.win_len > 0 && h.win_len < before {
                // A message ended inside this packet: what is left came with it.
                h.win_ts = cx.ts;
                h.win_ack = cx.ack;
            }
            if data.is_empty() {
                break;
            }
        }
        self.maybe_release(fi, dir);
    }

    /// Offer the window's contiguous bytes to the parser and drop what it used.
    fn parse_window(&mut self, fi: u32, dir: usize, ts: u64, sink: &mut dyn Emit) {
        let fl = &mut self.flows[fi as usize];
        let ends = fl.ends;
        let h = fl.halves[dir];
        let base = h.next_seq - h.win_len;
        let cx = Ctx {
            ts,
            first_ts: if h.win_ts == 0 { ts } else { h.win_ts.min(ts) },
            seq: base,
            // The latest ACK of this direction: never older than that of any
            // byte in the window (an older one could veto a right pairing).
            ack: h.own_acked.then_some(h.own_ack).or(h.win_ack),
        };
        let win = &self.windows.get(h.win)[..h.win_len as usize];
        let mut env = env!(self, sink);
        let used = fl.conn.data(dir, win, &cx, &ends, &mut env);
        let used = if used == 0 && h.win_len as usize == WINDOW {
            // Full and nothing usable: cannot happen with the parser's own
            // limits, but never wedge the connection.
            WINDOW
        } else {
            used
        };
        self.consume_window(fi, dir, used as u32);
    }

    /// Drop `n` bytes from the front of the window.
    fn consume_window(&mut self, fi: u32, dir: usize, n: u32) {
        if n == 0 {
            return;
        }
        let h = &mut self.flows[fi as usize].halves[dir];
        let end = h.used_end();
        let w = h.win;
        h.win_len -= n;
        h.held.shift(n);
        if end > n {
            self.windows
                .get_mut(w)
                .copy_within(n as usize..end as usize, 0);
        }
    }

    fn maybe_release(&mut self, fi: u32, dir: usize) {
        let h = &mut self.flows[fi as usize].halves[dir];
        if h.win != NIL && h.win_len == 0 && h.held.is_empty() {
            self.windows.give(h.win);
            h.win = NIL;
        }
    }

    /// Give up on holes: deliver held ranges with gaps between them, up to
    /// `upto` (all when None), and move `next_seq` to `upto` if it is past them.
    fn flush_holes(&mut self, fi: u32, dir: usize, upto: Option<SeqNumber>, sink: &mut dyn Emit) {
        loop {
            let fl = &mut self.flows[fi as usize];
            let h = fl.halves[dir];
            if !h.seen {
                return;
            }
            let ends = fl.ends;
            let base = h.next_seq - h.win_len;
            let (gap_to, next_range) = if let Some(s) = h.held.first_start() {
                let s_seq = base + s;
                match upto {
                    Some(u) if u < s_seq => (u, None),
                    _ => (s_seq, Some(s)),
                }
            } else {
                match upto {
                    Some(u) if h.next_seq < u => (u, None),
                    _ => return,
                }
            };
            // Pending bytes (an incomplete head) and the hole are lost together.
            let lost = (gap_to - base) as u32 as u64;
            let mut env = env!(self, sink);
            fl.conn.gap(dir, lost, fl.last_seen, &ends, &mut env);
            let h = &mut fl.halves[dir];
            match next_range {
                None => {
                    // Nothing held before `gap_to`: drop the pending bytes.
                    let drop = h.win_len;
                    h.next_seq = gap_to;
                    if h.win != NIL {
                        h.win_len = drop; // consume_window subtracts it again
                        self.consume_window(fi, dir, drop);
                    }
                    self.maybe_release(fi, dir);
                    return;
                }
                Some(s) => {
                    // Slide the first held range to the front and parse it.
                    let h = &mut self.flows[fi as usize].halves[dir];
                    h.win_len = s;
                    h.next_seq = base + s;
                    self.consume_window(fi, dir, s);
                    let h = &mut self.flows[fi as usize].halves[dir];
                    h.absorb_ooo();
                    let ts = self.flows[fi as usize].last_seen;
                    self.parse_window(fi, dir, ts, sink);
                    self.maybe_release(fi, dir);
                    if self.flows[fi as usize].halves[dir].held.is_empty() && upto.is_none() {
                        return;
                    }
                }
            }
        }
    }
}

impl Half {
    /// One past the last window byte in use.
    fn used_end(&self) -> u32 {
        self.held.end().unwrap_or(self.win_len)
    }

    fn ooo_end_seq(&self) -> SeqNumber {
        self.next_seq - self.win_len + self.used_end()
    }

    /// Extend the contiguous prefix with held ranges that now touch it.
    fn absorb_ooo(&mut self) {
        let end = self.held.absorb(self.win_len);
        self.next_seq = self.next_seq + (end - self.win_len);
        self.win_len = end;
    }
}

/// Flows for a given number of connections: used by `--help` arithmetic and tests.
pub fn flow_bytes() -> usize {
    std::mem::size_of::<Flow>()
}
