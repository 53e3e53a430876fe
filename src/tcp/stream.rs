//! One direction of a connection: its sequence space, and the reassembly of
//! its bytes for the parser over a window from the pool.
//!
//! In-order bytes go straight from the capture buffer to the parser; only
//! bytes it cannot use yet (an incomplete head) and segments that arrive
//! early are copied into a window. A hole that can never be filled (the peer
//! acknowledged past it, the window is full, the connection ends) is reported
//! to the parser as a gap, and the held bytes after it are delivered.

use super::assembler::Assembler;
use super::{Ctx, Direction, Ends, Env, Parser};
use crate::pool::{NIL, WINDOW, Windows};
use crate::wire::SeqNumber;

/// The layer above as one direction's stream sees it: the connection's
/// parser, told which direction the bytes are, and what it works with.
pub(super) struct Upper<'a, 'e, P: Parser> {
    pub parser: &'a mut P,
    pub dir: Direction,
    pub ends: &'a Ends,
    pub env: &'a mut Env<'e, P>,
}

impl<P: Parser> Upper<'_, '_, P> {
    #[inline]
    fn data(&mut self, bytes: &[u8], cx: &Ctx) -> usize {
        self.parser.data(self.dir, bytes, cx, self.ends, self.env)
    }
    #[inline]
    fn gap(&mut self, lost: u64, ts: u64) {
        self.parser.gap(self.dir, lost, ts, self.ends, self.env)
    }
    /// The pool had no window to spare.
    fn no_window(&mut self) {
        self.env.stats.pool_exhausted += 1;
    }
}

/// One direction's reassembly state.
///
/// The window (when there is one) holds, from its start: `win_len` bytes in
/// sequence that the parser has not consumed yet (an incomplete head), then
/// the ranges that arrived early (`held`, as window offsets). Its first byte
/// is sequence number `next_seq - win_len`.
#[derive(Clone, Copy, Default, Debug)]
pub(super) struct Stream {
    /// `next_seq` is known: a SYN, a FIN or a byte of this direction was seen.
    pub seen: bool,
    /// A FIN was seen; it comes after the byte before `fin_seq`.
    pub fin: bool,
    /// The peer acknowledged `peer_ack` (valid when `acked`).
    acked: bool,
    /// This direction's latest acknowledgement number (valid when `own_acked`):
    /// stands in for the ACK of bytes parsed later from the window.
    own_acked: bool,
    own_ack: SeqNumber,
    /// The next byte the parser expects.
    pub next_seq: SeqNumber,
    pub fin_seq: SeqNumber,
    peer_ack: SeqNumber,
    /// Pool window holding pending bytes, or NIL.
    win: u32,
    /// Contiguous bytes at the start of the window not yet consumed by the parser.
    win_len: u32,
    /// Capture time and ACK of the packet that brought the first pending byte.
    win_ts: u64,
    win_ack: Option<SeqNumber>,
    /// Byte ranges that arrived early, all past `win_len`.
    held: Assembler,
}

impl Stream {
    pub fn new() -> Stream {
        Stream {
            win: NIL,
            ..Stream::default()
        }
    }

    /// Every byte before the FIN has been delivered.
    #[inline]
    pub fn finished(&self) -> bool {
        self.fin && self.next_seq >= self.fin_seq
    }

    /// A SYN with initial sequence number `isn`.
    pub fn syn(&mut self, isn: SeqNumber) {
        if !self.seen {
            self.seen = true;
            self.next_seq = isn + 1;
        }
    }

    /// A FIN that follows the byte before `at`.
    pub fn fin(&mut self, at: SeqNumber) {
        if !self.fin {
            self.fin = true;
            self.fin_seq = at;
            if !self.seen {
                self.seen = true;
                self.next_seq = at;
            }
        }
    }

    /// This direction acknowledged `ack` of the other's bytes.
    pub fn sent_ack(&mut self, ack: SeqNumber) {
        self.own_acked = true;
        self.own_ack = ack;
    }

    /// The peer acknowledged `ack` of this direction's bytes. Held bytes below
    /// it that we lack were lost by the capture, not the network: the holes
    /// are given up. True when that happened.
    pub fn peer_acked<P: Parser>(
        &mut self,
        windows: &mut Windows,
        up: &mut Upper<P>,
        ack: SeqNumber,
        ts: u64,
    ) -> bool {
        if !self.acked || self.peer_ack < ack {
            self.acked = true;
            self.peer_ack = ack;
        }
        if self.seen && !self.held.is_empty() && self.next_seq < ack {
            let held_end = self.seq_at(self.used_end());
            let upto = if held_end < ack { held_end } else { ack };
            self.flush_holes(windows, up, Some(upto), ts);
            return true;
        }
        false
    }

    /// Payload starting at `cx.seq`, captured at `cx.ts`. True when bytes were
    /// delivered in order (not only held, nor all old).
    pub fn receive<P: Parser>(
        &mut self,
        windows: &mut Windows,
        up: &mut Upper<P>,
        mut data: &[u8],
        cx: &Ctx,
    ) -> bool {
        if !self.seen {
            self.seen = true;
            self.next_seq = cx.seq;
        }
        let mut seq = cx.seq;
        let off = seq - self.next_seq;
        if off < 0 {
            let skip = off.unsigned_abs() as usize;
            if skip >= data.len() {
                return false; // retransmission of bytes already delivered
            }
            data = &data[skip..];
            seq = self.next_seq;
        } else if off > 0 {
            let lost = self.acked && self.peer_ack >= seq;
            if lost || !self.hold(windows, up, off as u32, data) {
                // Cannot wait for the hole: give up on it and go on from here.
                self.flush_holes(windows, up, Some(seq), cx.ts);
            } else {
                return false;
            }
        }
        self.in_order(windows, up, data, &Ctx { seq, ..*cx });
        true
    }

    /// The connection ends: deliver what is held (holes become gaps, and so
    /// do bytes a FIN or the peer's ACK prove were sent) unless the parser is
    /// `done`, then give the window back.
    pub fn drain<P: Parser>(
        &mut self,
        windows: &mut Windows,
        up: &mut Upper<P>,
        done: bool,
        ts: u64,
    ) {
        if !done {
            self.flush_holes(windows, up, None, ts);
            let end = if self.fin {
                self.fin_seq
            } else {
                self.peer_ack
            };
            if self.seen && (self.fin || self.acked) && self.next_seq < end {
                self.flush_holes(windows, up, Some(end), ts);
            }
        }
        // Whatever is still held (a done connection is not flushed) goes
        // with the window: a late ACK must not find ranges without one.
        if self.win != NIL {
            windows.give(self.win);
            self.win = NIL;
        }
        self.win_len = 0;
        self.held.clear();
    }

    /// Sequence number of window offset `off`.
    #[inline]
    fn seq_at(&self, off: u32) -> SeqNumber {
        self.next_seq - self.win_len + off
    }

    /// One past the last window byte in use.
    fn used_end(&self) -> u32 {
        self.held.end().unwrap_or(self.win_len)
    }

    /// Keep an early segment `off` bytes past the next expected one. False: no room.
    fn hold<P: Parser>(
        &mut self,
        windows: &mut Windows,
        up: &mut Upper<P>,
        off: u32,
        data: &[u8],
    ) -> bool {
        let start = self.win_len as usize + off as usize;
        let end = start + data.len();
        if end > WINDOW {
            return false;
        }
        if self.win == NIL {
            match windows.take() {
                Some(w) => self.win = w,
                None => {
                    up.no_window();
                    return false;
                }
            }
        }
        if !self.held.insert(start as u32, end as u32) {
            return false;
        }
        windows.get_mut(self.win)[start..end].copy_from_slice(data);
        true
    }

    /// Deliver in-order bytes at `next_seq`.
    fn in_order<P: Parser>(
        &mut self,
        windows: &mut Windows,
        up: &mut Upper<P>,
        data: &[u8],
        cx: &Ctx,
    ) {
        if self.win != NIL {
            return self.buffered(windows, up, data, cx);
        }
        // Fast path: parse straight from the capture buffer.
        self.next_seq = self.next_seq + data.len() as u32;
        let used = up.data(data, cx);
        if used == data.len() {
            return;
        }
        let rest = &data[used..];
        let Some(w) = windows.take() else {
            // No room to wait for the rest of a head: it is lost.
            up.no_window();
            up.gap(rest.len() as u64, cx.ts);
            return;
        };
        // Pretend the rest has not been delivered yet and take the slow path.
        self.win = w;
        self.win_len = 0;
        self.next_seq = self.next_seq - rest.len() as u32;
        let cx = Ctx {
            seq: cx.seq + used as u32,
            ..*cx
        };
        self.buffered(windows, up, rest, &cx);
    }

    /// Append in-order bytes to the window and parse from it.
    fn buffered<P: Parser>(
        &mut self,
        windows: &mut Windows,
        up: &mut Upper<P>,
        mut data: &[u8],
        cx: &Ctx,
    ) {
        loop {
            let at = self.win_len as usize;
            if at == 0 {
                self.win_ts = cx.ts;
                self.win_ack = cx.ack;
            }
            let n = data.len().min(WINDOW - at);
            windows.get_mut(self.win)[at..at + n].copy_from_slice(&data[..n]);
            data = &data[n..];
            self.win_len += n as u32;
            self.next_seq = self.next_seq + n as u32;
            self.absorb();
            let before = self.win_len;
            self.parse_window(windows, up, cx.ts);
            if self.win_len > 0 && self.win_len < before {
                // A message ended inside this packet: what is left came with it.
                self.win_ts = cx.ts;
                self.win_ack = cx.ack;
            }
            if data.is_empty() {
                break;
            }
        }
        self.release_if_idle(windows);
    }

    /// Extend the contiguous prefix with held ranges that now touch it.
    fn absorb(&mut self) {
        let end = self.held.absorb(self.win_len);
        self.next_seq = self.next_seq + (end - self.win_len);
        self.win_len = end;
    }

    /// Offer the window's contiguous bytes to the parser and drop what it used.
    fn parse_window<P: Parser>(&mut self, windows: &mut Windows, up: &mut Upper<P>, ts: u64) {
        let cx = Ctx {
            ts,
            first_ts: if self.win_ts == 0 {
                ts
            } else {
                self.win_ts.min(ts)
            },
            seq: self.seq_at(0),
            // The latest ACK of this direction: never older than that of any
            // byte in the window (an older one could veto a right pairing).
            ack: self.own_acked.then_some(self.own_ack).or(self.win_ack),
        };
        let win = &windows.get(self.win)[..self.win_len as usize];
        let used = up.data(win, &cx);
        let used = if used == 0 && self.win_len as usize == WINDOW {
            // Full and nothing usable: cannot happen with the parser's own
            // limits, but never wedge the connection.
            WINDOW
        } else {
            used
        };
        self.consume(windows, used as u32);
    }

    /// Drop `n` bytes (no more than `win_len`) from the front of the window.
    fn consume(&mut self, windows: &mut Windows, n: u32) {
        if n == 0 {
            return;
        }
        let end = self.used_end();
        self.win_len -= n;
        self.held.shift(n);
        if end > n {
            windows
                .get_mut(self.win)
                .copy_within(n as usize..end as usize, 0);
        }
    }

    /// Give the window back when it holds nothing.
    fn release_if_idle(&mut self, windows: &mut Windows) {
        if self.win != NIL && self.win_len == 0 && self.held.is_empty() {
            windows.give(self.win);
            self.win = NIL;
        }
    }

    /// Give up on holes: deliver held ranges with gaps between them, up to
    /// `upto` (all when None), and move `next_seq` to `upto` if it is past
    /// them. `ts` is the connection's latest capture time.
    fn flush_holes<P: Parser>(
        &mut self,
        windows: &mut Windows,
        up: &mut Upper<P>,
        upto: Option<SeqNumber>,
        ts: u64,
    ) {
        loop {
            if !self.seen {
                return;
            }
            let base = self.seq_at(0);
            let (gap_to, next_range) = match self.held.first_start() {
                Some(s) => {
                    let s_seq = base + s;
                    match upto {
                        Some(u) if u < s_seq => (u, None),
                        _ => (s_seq, Some(s)),
                    }
                }
                None => match upto {
                    Some(u) if self.next_seq < u => (u, None),
                    _ => return,
                },
            };
            // Pending bytes (an incomplete head) and the hole are lost together.
            let lost = (gap_to - base) as u32 as u64;
            up.gap(lost, ts);
            match next_range {
                None => {
                    // Nothing held before `gap_to`: the window's start moves
                    // to `gap_to`, dropping the pending bytes and the part of
                    // the hole given up. Held ranges (all past `gap_to`) move
                    // with it, so each still stands for the bytes it holds.
                    self.next_seq = gap_to;
                    if self.win != NIL {
                        let drop = if self.held.is_empty() {
                            self.win_len
                        } else {
                            lost as u32
                        };
                        self.win_len = drop; // consume takes it off again
                        self.consume(windows, drop);
                    }
                    self.release_if_idle(windows);
                    return;
                }
                Some(s) => {
                    // Slide the first held range to the front and parse it.
                    self.win_len = s;
                    self.next_seq = base + s;
                    self.consume(windows, s);
                    self.absorb();
                    self.parse_window(windows, up, ts);
                    self.release_if_idle(windows);
                    if self.held.is_empty() && upto.is_none() {
                        return;
                    }
                }
            }
        }
    }
}
