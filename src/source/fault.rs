//! A `Source` wrapped so that it shows the faults real captures show: frames
//! lost, seen twice, out of order, cut short by a snap length, or a capture
//! that stops early. For tests and fuzzing (as smoltcp keeps a fault injector
//! beside its devices); the sensor binary never uses it.
//!
//! Seeded (a splitmix64 of its own, no RNG crate), so a failing case replays
//! from its seed. It allocates only for the frames it holds back or queues:
//! a frame it hands straight on is the wrapped source's, in place.
//!
//! The faults are those of a capture in front of TCP, so the injector reads
//! each frame's TCP header (through the crate's decoder) where a fault needs
//! it, and keeps to what a network and a capture can do:
//! - a segment held back (reordering) carries a payload: a handshake or a bare
//!   ACK keeps its place;
//! - it never passes a segment of its peer that acknowledges any of its bytes
//!   (the peer cannot have seen it yet), nor a segment of its own direction
//!   that would stretch what is out of order past the window's bytes of
//!   sequence space (what a receiver, and the sensor, must hold meanwhile);
//! - a copy of a bare SYN comes right after it (seen later, a SYN opens a new
//!   connection on the same ports);
//! - frame times stay in capture order: a frame handed on after later ones
//!   takes the time of the frame before it; a copy is 1 µs after its original.
//!
//! Frames that are not TCP can be lost, copied, cut and counted, never held.
//! The losses are the capture's, not the network's: nothing resends a lost
//! frame, and `drops()` stays the wrapped source's (the sensor is not told).

use std::collections::VecDeque;

use super::{Batch, Drops, Frame, OwnedFrame, Pace, Source};
use crate::wire::{self, Addr, SeqNumber, TcpFlags};

/// A chance, `num` in `den`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    num: u64,
    den: u64,
}

impl Rate {
    pub const NEVER: Rate = Rate { num: 0, den: 1 };
    pub const ALWAYS: Rate = Rate { num: 1, den: 1 };

    /// `num` in `den` (never when `den` is 0; always when `num >= den`).
    pub fn new(num: u64, den: u64) -> Rate {
        if den == 0 {
            Rate::NEVER
        } else {
            Rate { num, den }
        }
    }
}

/// How far a segment held back may be overtaken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// By at most this many of the wrapped source's frames (each held
    /// segment draws 1..=frames).
    pub frames: usize,
    /// Its own bytes and those of its direction that overtake it span at
    /// most this much sequence space.
    pub bytes: u32,
}

/// What the injector did so far.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Frames lost.
    pub lost: u64,
    /// Segments held back and handed on later.
    pub delayed: u64,
    /// Copies handed on (duplicates, and the second of `twice`).
    pub copied: u64,
    /// Frames cut by the snap length.
    pub cut: u64,
    /// The capture stopped before the wrapped source's end.
    pub ended_early: bool,
}

impl Counts {
    /// Did the sensor miss anything the wrapped source held?
    pub fn missed_any(&self) -> bool {
        self.lost > 0 || self.cut > 0 || self.ended_early
    }
}

/// `inner`, with faults: build with `new`, then the faults wanted.
pub struct FaultInjector<S: Source> {
    inner: S,
    st: State,
}

impl<S: Source> FaultInjector<S> {
    /// No fault yet; `seed` drives every chance.
    pub fn new(inner: S, seed: u64) -> FaultInjector<S> {
        FaultInjector {
            inner,
            st: State {
                cfg: Config::default(),
                rng: seed,
                taken: 0,
                handed: 0,
                held: Vec::new(),
                ready: VecDeque::new(),
                last_ts: 0,
                inner_ended: false,
                ended: false,
                counts: Counts::default(),
            },
        }
    }

    /// Lose each frame at `rate`.
    pub fn lose(mut self, rate: Rate) -> Self {
        self.st.cfg.lose = rate;
        self
    }

    /// Lose these frames of the wrapped source (0 is its first).
    pub fn lose_frames(mut self, frames: impl IntoIterator<Item = usize>) -> Self {
        self.st.cfg.lose_frames.extend(frames);
        self.st.cfg.lose_frames.sort_unstable();
        self
    }

    /// Copy frames at `rate`; a copy follows its original after at most `gap`
    /// more of the wrapped source's frames (0: right after it).
    pub fn duplicate(mut self, rate: Rate, gap: usize) -> Self {
        self.st.cfg.duplicate = rate;
        self.st.cfg.gap = gap;
        self
    }

    /// Every frame twice in a row, as `-i any` shows loopback traffic.
    pub fn twice(mut self) -> Self {
        self.st.cfg.twice = true;
        self
    }

    /// Hold segments back at `rate`, within `window`.
    pub fn reorder(mut self, rate: Rate, window: Window) -> Self {
        self.st.cfg.reorder = rate;
        self.st.cfg.window = window;
        self
    }

    /// Keep at most `bytes` of each frame, as a capture's snap length does.
    pub fn snaplen(mut self, bytes: usize) -> Self {
        self.st.cfg.snaplen = Some(bytes);
        self
    }

    /// Stop after handing on `frames` frames.
    pub fn end_after(mut self, frames: u64) -> Self {
        self.st.cfg.end_after = Some(frames);
        self
    }

    /// What was done so far.
    pub fn counts(&self) -> Counts {
        self.st.counts
    }

    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: Source> Source for FaultInjector<S> {
    /// Up to `max` frames; a recording's batch is never empty before its
    /// end, even when the faults took every frame the inner batch held.
    fn dispatch(&mut self, max: usize, f: &mut dyn FnMut(&Frame)) -> Result<Batch, String> {
        let FaultInjector { inner, st } = self;
        let mut out = Out {
            f,
            max: max.max(1),
            count: 0,
        };
        while out.count < out.max
            && let Some(fr) = st.ready.pop_front()
        {
            (out.f)(&fr.frame());
            out.count += 1;
        }
        while out.count < out.max && !st.inner_ended && !st.ended {
            let want = out.max - out.count;
            match inner.dispatch(want, &mut |fr| st.take(fr, &mut out))? {
                Batch::Frames(0) => break, // live, nothing ready
                Batch::Frames(_) => {}
                Batch::End => {
                    st.inner_ended = true;
                    st.flush(&mut out);
                }
            }
        }
        let done = (st.inner_ended || st.ended) && st.ready.is_empty();
        Ok(if done && out.count == 0 {
            Batch::End
        } else {
            Batch::Frames(out.count)
        })
    }

    fn pace(&self) -> Pace {
        self.inner.pace()
    }

    fn drops(&mut self) -> Drops {
        self.inner.drops()
    }

    fn name(&self) -> &str {
        self.inner.name()
    }

    fn linktype(&self) -> i32 {
        self.inner.linktype()
    }
}

#[derive(Debug, Clone)]
struct Config {
    lose: Rate,
    lose_frames: Vec<usize>,
    duplicate: Rate,
    gap: usize,
    twice: bool,
    reorder: Rate,
    window: Window,
    snaplen: Option<usize>,
    end_after: Option<u64>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            lose: Rate::NEVER,
            lose_frames: Vec::new(),
            duplicate: Rate::NEVER,
            gap: 0,
            twice: false,
            reorder: Rate::NEVER,
            window: Window {
                frames: 1,
                bytes: 0,
            },
            snaplen: None,
            end_after: None,
        }
    }
}

/// One end of a connection.
type End = (Addr, u16);

/// What the faults need of a frame's TCP segment.
#[derive(Debug, Clone, Copy)]
struct Tcp {
    src: End,
    dst: End,
    seq: SeqNumber,
    /// The acknowledgement number, when the ACK flag is set.
    ack: Option<SeqNumber>,
    /// SYN without ACK: the opening of a connection.
    bare_syn: bool,
    /// Payload length (captured or not).
    len: u32,
}

/// The frame's TCP segment, if it has one (the one place the injector
/// names the decoder).
fn tcp_of(fr: &Frame) -> Option<Tcp> {
    let s = wire::decode(fr.linktype, fr.data).ok()?;
    Some(Tcp {
        src: (s.src, s.sport),
        dst: (s.dst, s.dport),
        seq: s.seq,
        ack: s.flags.contains(TcpFlags::ACK).then_some(s.ack),
        bare_syn: s.flags.contains(TcpFlags::SYN) && !s.flags.contains(TcpFlags::ACK),
        len: s.payload.len() as u32 + s.missing,
    })
}

/// Must held segment `h` be handed on before `p` is?
fn must_precede(h: &Tcp, p: &Tcp, window_bytes: u32) -> bool {
    let from_peer = p.src == h.dst && p.dst == h.src;
    let same_way = p.src == h.src && p.dst == h.dst;
    // How far `p` reaches past the start of `h` (negative: `p` is behind it).
    let span = (p.seq + p.len) - h.seq;
    (from_peer && p.ack.is_some_and(|a| a > h.seq))
        || (same_way && (span < 0 || span as u32 > window_bytes))
}

/// A frame held back: a segment delayed, or a copy waiting for its turn.
struct Held {
    frame: OwnedFrame,
    tcp: Option<Tcp>,
    /// Frames of the wrapped source still to pass it before it is handed on
    /// (copies do not count: they would crowd each other out).
    left: usize,
    /// A delayed original (bound by the window and by ACKs), not a copy.
    delayed: bool,
}

/// Where frames go during one dispatch: the caller's callback, up to `max`.
struct Out<'f> {
    f: &'f mut dyn FnMut(&Frame),
    max: usize,
    count: usize,
}

struct State {
    cfg: Config,
    rng: u64,
    /// Frames taken from the wrapped source.
    taken: usize,
    /// Frames handed on (or queued to be).
    handed: u64,
    held: Vec<Held>,
    /// Frames in their final order, past this dispatch's `max`.
    ready: VecDeque<OwnedFrame>,
    last_ts: u64,
    inner_ended: bool,
    /// `end_after` reached.
    ended: bool,
    counts: Counts,
}

impl State {
    /// splitmix64.
    fn next(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn roll(&mut self, r: Rate) -> bool {
        r.num > 0 && (r.num >= r.den || self.next() % r.den < r.num)
    }

    /// Uniform in lo..=hi.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next() % (hi - lo + 1) as u64) as usize
    }

    /// One frame of the wrapped source.
    fn take(&mut self, fr: &Frame, out: &mut Out) {
        let i = self.taken;
        self.taken += 1;
        if self.ended {
            return;
        }
        if self.cfg.lose_frames.binary_search(&i).is_ok() || self.roll(self.cfg.lose) {
            self.counts.lost += 1;
            return;
        }
        let needs_tcp = self.cfg.reorder.num > 0 || self.cfg.duplicate.num > 0;
        let tcp = if needs_tcp { tcp_of(fr) } else { None };
        if tcp.is_some_and(|t| t.len > 0) && self.roll(self.cfg.reorder) {
            let left = self.range(1, self.cfg.window.frames.max(1));
            self.held.push(Held {
                frame: fr.into(),
                tcp,
                left,
                delayed: true,
            });
            self.counts.delayed += 1;
            return;
        }
        self.hand_on(fr, tcp, false, out);
    }

    /// `fr` takes its place in the capture: after the held segments it may
    /// not pass, before those whose time has not come; then its copy, if it
    /// gets one.
    fn hand_on(&mut self, fr: &Frame, tcp: Option<Tcp>, copy: bool, out: &mut Out) {
        if let Some(p) = tcp {
            let bytes = self.cfg.window.bytes;
            while let Some(k) = self
                .held
                .iter()
                .position(|h| h.delayed && h.tcp.is_some_and(|h| must_precede(&h, &p, bytes)))
            {
                let h = self.held.remove(k);
                self.hand_on(&h.frame.frame(), h.tcp, false, out);
            }
        }
        self.emit(fr, out);
        if !copy && self.roll(self.cfg.duplicate) {
            self.counts.copied += 1;
            let gap = if tcp.is_some_and(|t| t.bare_syn) {
                0
            } else {
                self.range(0, self.cfg.gap)
            };
            let again = Frame {
                ts_us: fr.ts_us + 1,
                ..*fr
            };
            if gap == 0 {
                self.emit(&again, out);
            } else {
                // Held from now: `fr` itself is not one of the `gap`.
                self.held.push(Held {
                    frame: (&again).into(),
                    tcp,
                    left: gap + 1,
                    delayed: false,
                });
            }
        }
        if !copy {
            self.tick(out);
        }
    }

    /// One more of the wrapped source's frames went past every held one:
    /// hand on those now due.
    fn tick(&mut self, out: &mut Out) {
        for h in &mut self.held {
            h.left = h.left.saturating_sub(1);
        }
        while let Some(k) = self.held.iter().position(|h| h.left == 0) {
            let h = self.held.remove(k);
            self.hand_on(&h.frame.frame(), h.tcp, !h.delayed, out);
        }
    }

    /// The wrapped source ended: what is held goes out, in the order held.
    fn flush(&mut self, out: &mut Out) {
        while !self.held.is_empty() {
            let h = self.held.remove(0);
            self.hand_on(&h.frame.frame(), h.tcp, !h.delayed, out);
        }
    }

    /// `fr` (and with `twice` its copy) into the capture.
    fn emit(&mut self, fr: &Frame, out: &mut Out) {
        self.emit_one(fr, out);
        if self.cfg.twice {
            self.counts.copied += 1;
            let again = Frame {
                ts_us: fr.ts_us + 1,
                ..*fr
            };
            self.emit_one(&again, out);
        }
    }

    fn emit_one(&mut self, fr: &Frame, out: &mut Out) {
        if self.ended {
            return;
        }
        if self.cfg.end_after.is_some_and(|n| self.handed >= n) {
            self.ended = true;
            self.counts.ended_early = true;
            self.held.clear();
            return;
        }
        let mut data = fr.data;
        if let Some(n) = self.cfg.snaplen
            && data.len() > n
        {
            data = &data[..n];
            self.counts.cut += 1;
        }
        self.last_ts = self.last_ts.max(fr.ts_us);
        self.handed += 1;
        let fr = Frame {
            ts_us: self.last_ts,
            linktype: fr.linktype,
            data,
        };
        if out.count < out.max && self.ready.is_empty() {
            (out.f)(&fr);
            out.count += 1;
        } else {
            self.ready.push_back((&fr).into());
        }
    }
}

#[cfg(test)]
mod tests;
