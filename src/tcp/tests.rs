//! The tracker driven with a recording parser: what the layer above sees of
//! handshakes, reordering, holes and closes, with no HTTP involved.

use super::*;
use crate::wire::{Addr, Segment, SeqNumber, TcpFlags};

/// What the parser was told, in order.
#[derive(Debug, PartialEq, Eq)]
enum Ev {
    Data(Direction, u32, String),
    Gap(Direction, u64),
    Fin(Direction),
    Close,
}

/// A line parser: consumes up to the last newline it is offered, records
/// everything it is told.
#[derive(Clone, Copy, Default)]
struct Lines {
    closed: bool,
}

impl Parser for Lines {
    type Shared = ();
    type Sink = Vec<Ev>;

    fn shared(_: &Limits, _: Store) {}
    fn reserved(_: &()) -> usize {
        0
    }
    fn syn(&mut self, _: Direction) {}
    fn is_done(&self) -> bool {
        self.closed
    }
    fn data(&mut self, dir: Direction, b: &[u8], cx: &Ctx, _: &Ends, env: &mut Env<Self>) -> usize {
        let used = b.iter().rposition(|&c| c == b'\n').map_or(0, |i| i + 1);
        if used > 0 {
            let text = String::from_utf8_lossy(&b[..used]).into_owned();
            env.sink.push(Ev::Data(dir, cx.seq.0, text));
        }
        used
    }
    fn gap(&mut self, dir: Direction, lost: u64, _: u64, _: &Ends, env: &mut Env<Self>) {
        env.sink.push(Ev::Gap(dir, lost));
    }
    fn fin(&mut self, dir: Direction, _: u64, _: &Ends, env: &mut Env<Self>) {
        env.sink.push(Ev::Fin(dir));
    }
    fn close(&mut self, _: &Ends, env: &mut Env<Self>) {
        if !self.closed {
            env.sink.push(Ev::Close);
        }
        self.closed = true;
    }
}

const C: Direction = Direction::FromLow; // 10.0.0.1:40000
const S: Direction = Direction::FromHigh; // 10.0.0.2:80

/// Client and server sequence numbers start here (after the SYN's one).
const CI: u32 = 1000;
const SI: u32 = 0xffff_fff0; // the server's numbers wrap

fn seg(dir: Direction, seq: u32, ack: Option<u32>, flags: TcpFlags, payload: &[u8]) -> Segment<'_> {
    let (c, s) = (
        (Addr::v4([10, 0, 0, 1]), 40000),
        (Addr::v4([10, 0, 0, 2]), 80),
    );
    let (src, dst) = if dir == C { (c, s) } else { (s, c) };
    let mut flags = flags;
    if ack.is_some() {
        flags |= TcpFlags::ACK;
    }
    Segment {
        src: src.0,
        dst: dst.0,
        sport: src.1,
        dport: dst.1,
        seq: SeqNumber(seq),
        ack: SeqNumber(ack.unwrap_or(0)),
        flags,
        payload,
        missing: 0,
        md5: false,
    }
}

fn tracker() -> Tracker<Lines> {
    Tracker::new(&Limits {
        max_flows: 4,
        pool_bytes: 0,
        timeout_us: 1_000_000,
        max_body: 0,
    })
}

/// A tracker past the handshake.
fn open(t: &mut Tracker<Lines>, out: &mut Vec<Ev>) {
    let none = TcpFlags::default();
    t.segment(&seg(C, CI - 1, None, TcpFlags::SYN, b""), 1, out);
    t.segment(&seg(S, SI - 1, Some(CI), TcpFlags::SYN, b""), 2, out);
    t.segment(&seg(C, CI, Some(SI), none, b""), 3, out);
}

fn data(dir: Direction, seq: u32, s: &str) -> Ev {
    Ev::Data(dir, seq, s.to_string())
}

#[test]
fn in_order_bytes_go_straight_through_and_partial_lines_wait() {
    let (mut t, mut out) = (tracker(), Vec::new());
    open(&mut t, &mut out);
    let none = TcpFlags::default();
    t.segment(&seg(C, CI, Some(SI), none, b"one\ntw"), 4, &mut out);
    t.segment(&seg(C, CI + 6, Some(SI), none, b"o\n"), 5, &mut out);
    t.segment(&seg(S, SI, Some(CI + 8), none, b"ok\n"), 6, &mut out);
    assert_eq!(
        out,
        [
            data(C, CI, "one\n"),
            data(C, CI + 4, "two\n"),
            data(S, SI, "ok\n")
        ]
    );
    t.close_all(&mut out);
    assert_eq!(out.last(), Some(&Ev::Close));
    assert_eq!(t.windows.free_count(), t.windows.count() as usize);
}

#[test]
fn early_segments_wait_for_the_hole() {
    let (mut t, mut out) = (tracker(), Vec::new());
    open(&mut t, &mut out);
    let none = TcpFlags::default();
    t.segment(&seg(C, CI + 6, Some(SI), none, b"c\n"), 4, &mut out);
    t.segment(&seg(C, CI + 4, Some(SI), none, b"b\n"), 5, &mut out);
    assert!(out.is_empty());
    t.segment(&seg(C, CI, Some(SI), none, b"aaa\n"), 6, &mut out);
    assert_eq!(out, [data(C, CI, "aaa\nb\nc\n")]);
}

#[test]
fn a_hole_the_peer_acknowledged_becomes_a_gap() {
    let (mut t, mut out) = (tracker(), Vec::new());
    open(&mut t, &mut out);
    let none = TcpFlags::default();
    t.segment(&seg(C, CI + 4, Some(SI), none, b"b\n"), 4, &mut out);
    assert!(out.is_empty());
    // The server has all six bytes: the first four were lost by the capture.
    t.segment(&seg(S, SI, Some(CI + 6), none, b""), 5, &mut out);
    assert_eq!(out, [Ev::Gap(C, 4), data(C, CI + 4, "b\n")]);
}

#[test]
fn fins_both_ways_close_and_retransmissions_are_dropped() {
    let (mut t, mut out) = (tracker(), Vec::new());
    open(&mut t, &mut out);
    let none = TcpFlags::default();
    t.segment(&seg(C, CI, Some(SI), TcpFlags::FIN, b"bye\n"), 4, &mut out);
    t.segment(&seg(C, CI, Some(SI), none, b"bye\n"), 5, &mut out);
    t.segment(&seg(S, SI, Some(CI + 5), TcpFlags::FIN, b""), 6, &mut out);
    assert_eq!(
        out,
        [data(C, CI, "bye\n"), Ev::Fin(C), Ev::Fin(S), Ev::Close]
    );
    assert_eq!(t.live_flows(), 1); // kept until it idles out
    t.expire(6 + 1_000_000, &mut out);
    assert_eq!(t.live_flows(), 0);
    assert_eq!(t.stats.flows_timed_out, 0); // it was done
}

#[test]
fn the_oldest_connection_is_evicted_when_the_table_is_full() {
    let (mut t, mut out) = (tracker(), Vec::new());
    let none = TcpFlags::default();
    for port in 0..5u16 {
        let mut s = seg(C, CI, None, none, b"x\n");
        s.sport = 1000 + port;
        t.segment(&s, port as u64, &mut out);
    }
    assert_eq!(t.live_flows(), 4);
    assert_eq!(t.stats.flows_opened, 5);
    assert_eq!(t.stats.flows_evicted, 1);
    assert_eq!(out.iter().filter(|e| **e == Ev::Close).count(), 1);
}

#[test]
fn directions_flip_and_index() {
    assert_eq!(C.flip(), S);
    assert_eq!(S.flip().index(), 0);
    let mut a = [1, 2];
    a[S] = 5;
    assert_eq!((a[C], a[S]), (1, 5));
    assert_eq!(Direction::BOTH.map(Direction::index), [0, 1]);
}

#[test]
fn an_ack_inside_a_hole_keeps_later_held_bytes_in_place() {
    let (mut t, mut out) = (tracker(), Vec::new());
    open(&mut t, &mut out);
    let none = TcpFlags::default();
    // "c\n" arrives early at +6; the server acknowledges +3, inside the hole:
    // bytes 0..3 were lost by the capture, 3..6 may still come.
    t.segment(&seg(C, CI + 6, Some(SI), none, b"c\n"), 4, &mut out);
    t.segment(&seg(S, SI, Some(CI + 3), none, b""), 5, &mut out);
    assert_eq!(out, [Ev::Gap(C, 3)]);
    t.segment(&seg(C, CI + 3, Some(SI), none, b"bb\n"), 6, &mut out);
    t.segment(&seg(C, CI + 8, Some(SI), none, b"d\n"), 7, &mut out);
    assert_eq!(
        out,
        [
            Ev::Gap(C, 3),
            data(C, CI + 3, "bb\nc\n"),
            data(C, CI + 8, "d\n")
        ]
    );
}
