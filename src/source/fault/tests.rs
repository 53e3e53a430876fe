//! The fault injector's own tests: each fault alone on small recordings of
//! raw IPv4 TCP frames, and the reordering rules over many seeds.

use super::*;
use crate::source::Frames;
use crate::wire::dlt;

const FIN: u8 = TcpFlags::FIN.bits();
const SYN: u8 = TcpFlags::SYN.bits();
const ACK: u8 = TcpFlags::ACK.bits();

const CLIENT: ([u8; 4], u16) = ([10, 0, 0, 1], 40000);
const SERVER: ([u8; 4], u16) = ([10, 0, 0, 2], 80);

/// A raw IPv4 frame of one TCP segment (direction 0: client → server) at
/// `ts`, with `len` payload bytes.
fn seg(ts: u64, dir: usize, seq: u32, ack: Option<u32>, flags: u8, len: usize) -> OwnedFrame {
    let ((sa, sp), (da, dp)) = if dir == 0 {
        (CLIENT, SERVER)
    } else {
        (SERVER, CLIENT)
    };
    let mut p = vec![0u8; 40];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&((40 + len) as u16).to_be_bytes());
    p[8] = 64;
    p[9] = 6;
    p[12..16].copy_from_slice(&sa);
    p[16..20].copy_from_slice(&da);
    p[20..22].copy_from_slice(&sp.to_be_bytes());
    p[22..24].copy_from_slice(&dp.to_be_bytes());
    p[24..28].copy_from_slice(&seq.to_be_bytes());
    p[28..32].copy_from_slice(&ack.unwrap_or(0).to_be_bytes());
    p[32] = 5 << 4;
    p[33] = flags | if ack.is_some() { ACK } else { 0 };
    p.extend((0..len).map(|i| (seq as usize + i) as u8));
    OwnedFrame {
        ts_us: ts,
        linktype: dlt::RAW,
        data: p,
    }
}

/// A connection: handshake, then `n` client segments of `mss` bytes with a
/// server ACK after every `ack_every`, then the close; 10 µs apart.
fn conversation(n: usize, mss: usize, ack_every: usize) -> Vec<OwnedFrame> {
    let (c, s) = (0xffff_fff0u32, 7000u32); // the client's sequence numbers wrap
    let c_at = |off: u32| c.wrapping_add(1).wrapping_add(off);
    let mut v = vec![
        seg(0, 0, c, None, SYN, 0),
        seg(0, 1, s, Some(c_at(0)), SYN, 0),
        seg(0, 0, c_at(0), Some(s + 1), 0, 0),
    ];
    let mut sent = 0u32;
    for k in 0..n {
        v.push(seg(0, 0, c_at(sent), Some(s + 1), 0, mss));
        sent += mss as u32;
        if (k + 1) % ack_every == 0 || k + 1 == n {
            v.push(seg(0, 1, s + 1, Some(c_at(sent)), 0, 0));
        }
    }
    v.push(seg(0, 0, c_at(sent), Some(s + 1), FIN, 0));
    v.push(seg(0, 1, s + 1, Some(c_at(sent + 1)), FIN, 0));
    for (i, f) in v.iter_mut().enumerate() {
        f.ts_us = 1_000_000 + 10 * i as u64;
    }
    v
}

fn source(frames: &[OwnedFrame]) -> Frames {
    Frames::new("test", dlt::RAW, frames.iter().cloned())
}

/// Everything `s` hands on, in batches of `max`; and the batch sizes.
fn read_all(s: &mut impl Source, max: usize) -> (Vec<OwnedFrame>, Vec<Batch>) {
    let (mut frames, mut batches) = (Vec::new(), Vec::new());
    loop {
        let b = s.dispatch(max, &mut |f| frames.push(f.into())).unwrap();
        batches.push(b);
        match b {
            Batch::End => return (frames, batches),
            Batch::Frames(n) => assert!(0 < n && n <= max.max(1), "batch of {n}, max {max}"),
        }
    }
}

fn datas(v: &[OwnedFrame]) -> Vec<&[u8]> {
    v.iter().map(|f| &f.data[..]).collect()
}

fn assert_times_in_order(v: &[OwnedFrame]) {
    for w in v.windows(2) {
        assert!(w[0].ts_us <= w[1].ts_us, "times out of order: {w:?}");
    }
}

#[test]
fn without_faults_every_frame_passes_unchanged() {
    let frames = conversation(5, 100, 2);
    let mut s = FaultInjector::new(source(&frames), 1);
    assert_eq!(
        (s.name(), s.linktype(), s.pace()),
        ("test", dlt::RAW, Pace::Replay)
    );
    let (got, batches) = read_all(&mut s, 4);
    assert_eq!(got, frames);
    assert_eq!(batches.len(), frames.len().div_ceil(4) + 1);
    assert_eq!(s.counts(), Counts::default());
}

#[test]
fn lose_frames_loses_exactly_those() {
    let frames = conversation(5, 100, 2);
    let mut s = FaultInjector::new(source(&frames), 1).lose_frames([4, 1]);
    let (got, _) = read_all(&mut s, 3);
    let want: Vec<OwnedFrame> = frames
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 1 && *i != 4)
        .map(|(_, f)| f.clone())
        .collect();
    assert_eq!(got, want);
    assert_eq!(s.counts().lost, 2);
    assert!(s.counts().missed_any());
}

#[test]
fn losses_at_a_rate_follow_the_seed() {
    let frames = conversation(400, 10, 1);
    let run = |seed| {
        read_all(
            &mut FaultInjector::new(source(&frames), seed).lose(Rate::new(1, 4)),
            64,
        )
        .0
    };
    let (a, b, c) = (run(7), run(7), run(8));
    assert_eq!(a, b, "the same seed loses the same frames");
    assert_ne!(a, c, "another seed loses others");
    let lost = frames.len() - a.len();
    assert!(
        (150..250).contains(&lost),
        "{lost} of {} lost at 1 in 4",
        frames.len()
    );
    // What is left is in its order.
    let mut it = frames.iter();
    assert!(a.iter().all(|f| it.any(|g| g == f)));
}

#[test]
fn a_batch_is_not_empty_while_frames_are_left() {
    let frames = conversation(10, 10, 2);
    let n = frames.len();
    let mut s = FaultInjector::new(source(&frames), 1).lose_frames(0..n - 2);
    let (got, batches) = read_all(&mut s, 3);
    assert_eq!(got, frames[n - 2..]);
    assert_eq!(batches, [Batch::Frames(2), Batch::End]);
}

#[test]
fn twice_hands_every_frame_on_twice_in_a_row() {
    let frames = conversation(3, 50, 1);
    let mut s = FaultInjector::new(source(&frames), 1).twice();
    let (got, _) = read_all(&mut s, 3);
    assert_eq!(got.len(), 2 * frames.len());
    for (f, pair) in frames.iter().zip(got.chunks(2)) {
        assert_eq!(pair[0], *f);
        assert_eq!((&pair[1].data, pair[1].ts_us), (&f.data, f.ts_us + 1));
    }
    assert_eq!(s.counts().copied, frames.len() as u64);
    assert!(!s.counts().missed_any());
}

#[test]
fn copies_follow_within_the_gap_and_a_syn_at_once() {
    let frames = conversation(40, 100, 3);
    for seed in 0..20 {
        let mut s = FaultInjector::new(source(&frames), seed).duplicate(Rate::ALWAYS, 3);
        let (got, _) = read_all(&mut s, 5);
        assert_eq!(got.len(), 2 * frames.len());
        assert_times_in_order(&got);
        for f in &frames {
            let at: Vec<usize> = (0..got.len()).filter(|&i| got[i].data == f.data).collect();
            assert_eq!(at.len(), 2, "each frame and one copy");
            // Originals between the two: each first appearance.
            let gap = (at[0] + 1..at[1])
                .filter(|&i| !got[..i].iter().any(|g| g.data == got[i].data))
                .count();
            assert!(gap <= 3, "a copy {gap} frames after its original");
            if tcp_of(&f.frame()).unwrap().bare_syn {
                assert_eq!(at[1], at[0] + 1, "a SYN's copy comes right after it");
            }
        }
    }
}

/// Over many seeds: every frame comes out once; frames without payload keep
/// their order; a held segment never comes after a peer's segment that
/// acknowledges it, nor is it overtaken by more than the window.
#[test]
fn reordering_keeps_to_acks_and_the_window() {
    let frames = conversation(60, 700, 4);
    let window = Window {
        frames: 6,
        bytes: 3000,
    };
    let tcp = |f: &OwnedFrame| tcp_of(&f.frame()).unwrap();
    let mut delayed = 0;
    for seed in 0..200 {
        let mut s = FaultInjector::new(source(&frames), seed).reorder(Rate::new(1, 3), window);
        let (got, _) = read_all(&mut s, 7);
        delayed += s.counts().delayed;
        let mut sorted = datas(&got);
        sorted.sort();
        let mut want = datas(&frames);
        want.sort();
        assert_eq!(sorted, want, "seed {seed}: each frame once");
        assert_times_in_order(&got);
        let bare = |v: &[OwnedFrame]| -> Vec<Vec<u8>> {
            v.iter()
                .filter(|f| tcp(f).len == 0)
                .map(|f| f.data.clone())
                .collect()
        };
        assert_eq!(
            bare(&got),
            bare(&frames),
            "seed {seed}: bare segments keep their order"
        );
        let input_at = |f: &OwnedFrame| frames.iter().position(|g| g.data == f.data).unwrap();
        for (k, h) in got.iter().enumerate() {
            let ht = tcp(h);
            let i = input_at(h);
            // The frames of its direction that came after it in the input
            // and before it in the output: how far it was overtaken.
            let mut span = ht.len;
            let mut passed = 0;
            for p in &got[..k] {
                let pt = tcp(p);
                if input_at(p) < i {
                    continue;
                }
                passed += 1;
                assert!(
                    !(pt.src == ht.dst && pt.ack.is_some_and(|a| a > ht.seq)),
                    "seed {seed}: segment at seq {:?} handed on after an ACK of it",
                    ht.seq
                );
                if pt.src == ht.src {
                    span = span.max(((pt.seq + pt.len) - ht.seq) as u32);
                }
            }
            assert!(
                passed <= window.frames,
                "seed {seed}: overtaken by {passed} frames"
            );
            assert!(
                span <= window.bytes,
                "seed {seed}: {span} bytes out of order"
            );
        }
    }
    assert!(delayed > 1000, "{delayed} segments held back in 200 runs");
}

#[test]
fn snaplen_cuts_longer_frames() {
    let frames = conversation(4, 100, 2);
    let mut s = FaultInjector::new(source(&frames), 1).snaplen(60);
    let (got, _) = read_all(&mut s, 8);
    for (g, f) in got.iter().zip(&frames) {
        assert_eq!(g.data, f.data[..f.data.len().min(60)]);
    }
    assert_eq!(s.counts().cut, 4);
    // A cut segment still decodes, with the rest counted missing.
    let seg = wire::decode(dlt::RAW, &got[3].data).unwrap();
    assert_eq!((seg.payload.len(), seg.missing), (20, 80));
}

#[test]
fn end_after_stops_the_capture() {
    let frames = conversation(4, 100, 2);
    let mut s = FaultInjector::new(source(&frames), 1)
        .reorder(
            Rate::ALWAYS,
            Window {
                frames: 3,
                bytes: 1 << 20,
            },
        )
        .end_after(5);
    let (got, batches) = read_all(&mut s, 2);
    assert_eq!(got.len(), 5);
    assert_eq!(batches.last(), Some(&Batch::End));
    assert!(s.counts().ended_early && s.counts().missed_any());
    // A limit the recording does not reach changes nothing.
    let mut s = FaultInjector::new(source(&frames), 1).end_after(frames.len() as u64);
    assert_eq!(read_all(&mut s, 4).0, frames);
    assert!(!s.counts().ended_early);
}

#[test]
fn frames_that_are_not_tcp_are_never_held() {
    let mut frames = conversation(6, 100, 2);
    frames[4].data[9] = 17; // UDP: data, but not a segment
    let window = Window {
        frames: 2,
        bytes: 1 << 20,
    };
    let mut s = FaultInjector::new(source(&frames), 3).reorder(Rate::ALWAYS, window);
    let (got, _) = read_all(&mut s, 16);
    assert_eq!(got.len(), frames.len());
    let udp = got.iter().position(|f| f.data[9] == 17).unwrap();
    assert!(
        got[..udp].iter().all(|f| frames[..4].contains(f)),
        "a frame after it in the input passed it: it was held"
    );
}
