//! Finding frame boundaries without the preface: the rules one by one, every starting offset
//! of a conversation, the span bound, random bytes and HTTP/1 text.

use super::super::{Boundary, DEFAULT_MAX_FRAME_SIZE, SYNC_RUN, find_boundary, sync_span};
use super::*;

const MAX: u32 = DEFAULT_MAX_FRAME_SIZE;

fn find(bytes: &[u8]) -> Boundary {
    find_boundary(bytes, MAX)
}

/// Frame start offsets of well-formed `bytes`.
fn boundaries(bytes: &[u8]) -> Vec<usize> {
    let mut at = 0;
    let mut out = Vec::new();
    while at + 9 <= bytes.len() {
        out.push(at);
        at += 9
            + (usize::from(bytes[at]) << 16
                | usize::from(bytes[at + 1]) << 8
                | usize::from(bytes[at + 2]));
    }
    out
}

fn small_frames(n: u32) -> Vec<u8> {
    (0..n)
        .flat_map(|i| frame(DATA, 0, 2 * i + 1, b"payload"))
        .collect()
}

#[test]
fn found_at_the_start_of_frames() {
    assert_eq!(find(&conversation()), Boundary::Found(0));
    assert_eq!(find(&small_frames(SYNC_RUN as u32)), Boundary::Found(0));
}

#[test]
fn text_before_frames_is_skipped() {
    let mut bytes = b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n".to_vec();
    let garbage = bytes.len();
    bytes.extend(conversation());
    assert_eq!(find(&bytes), Boundary::Found(garbage));
}

#[test]
fn every_starting_offset_finds_a_true_boundary() {
    let bytes = conversation();
    let truth = boundaries(&bytes);
    for start in 0..bytes.len() {
        match find(&bytes[start..]) {
            Boundary::Found(p) => assert!(truth.contains(&(start + p)), "from {start}: {p}"),
            // Near the end the chain is too short to tell yet.
            Boundary::Skip(_) | Boundary::NeedMore => {
                let after = truth.iter().filter(|&&b| b >= start).count();
                assert!(
                    after < SYNC_RUN,
                    "from {start}: undecided with {after} frames left"
                );
            }
        }
    }
}

#[test]
fn one_frame_is_not_enough_two_ending_at_the_end_are() {
    let one = frame(HEADERS, END_HEADERS, 1, b"\x82\x86\x84");
    assert_eq!(find(&one[..9]), Boundary::NeedMore);
    assert_eq!(find(&one), Boundary::NeedMore);
    let two = [one.clone(), frame(DATA, END_STREAM, 1, b"{}")].concat();
    assert_eq!(find(&two), Boundary::Found(0));
    // Two frames and the start of a third: undecided until the third is whole or the run long.
    let more = [two.clone(), frame(DATA, 0, 3, b"abc")[..5].to_vec()].concat();
    assert_eq!(find(&more), Boundary::NeedMore);
    // Two frames ending at the end, but a header block still open: not enough.
    let open = [
        frame(HEADERS, 0, 1, b"\x82"),
        frame(CONTINUATION, 0, 1, b"\x86"),
    ]
    .concat();
    assert_eq!(find(&open), Boundary::NeedMore);
}

#[test]
fn skip_says_how_much_can_go() {
    let mut bytes = vec![0xffu8; 100];
    bytes.extend(&frame(DATA, 0, 1, b"abc")[..4]);
    // The 4 bytes of a plausible partial header stay; everything before goes.
    assert_eq!(find(&bytes), Boundary::Skip(100));
    assert_eq!(find(&[0xff; 9]), Boundary::Skip(9));
    assert_eq!(find(&[]), Boundary::NeedMore);
}

#[test]
fn implausible_headers_break_the_chain() {
    let run = |f: Vec<u8>| [small_frames(2), f, small_frames(2)].concat();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("unknown type", frame(0xa, 0, 1, b"x")),
        ("undefined flag", frame(DATA, 0x2, 1, b"x")),
        ("reserved bit", frame(DATA, 0, 0x8000_0001, b"x")),
        ("data on stream 0", frame(DATA, 0, 0, b"x")),
        ("settings on stream 1", frame(SETTINGS, 0, 1, b"")),
        ("ping of 7", frame(PING, 0, 0, &[0; 7])),
        ("empty data without end stream", frame(DATA, 0, 1, b"")),
        ("empty headers", frame(HEADERS, END_HEADERS, 1, b"")),
        ("window update of 0", frame(WINDOW_UPDATE, 0, 1, &[0; 4])),
        ("pad too long", frame(DATA, PADDED, 1, &[3, 0, 0])),
        (
            "odd promised stream",
            frame(PUSH_PROMISE, END_HEADERS, 1, &[0, 0, 0, 3, 0x82]),
        ),
        (
            "self dependency",
            frame(PRIORITY_FRAME, 0, 1, &[0, 0, 0, 1, 16]),
        ),
        ("data on an even stream", frame(DATA, 0, 2, b"x")),
        (
            "headers on an even stream",
            frame(HEADERS, END_HEADERS, 4, b"\x88"),
        ),
    ];
    for (what, bad) in cases {
        let bytes = run(bad.clone());
        // The chain from 0 stops at the bad frame, so the first boundary found is after it.
        let after_bad = small_frames(2).len() + bad.len();
        assert_eq!(find(&bytes), Boundary::Found(after_bad), "{what}");
    }
    // An empty DATA frame ending a stream chains, but does not open a chain.
    let end = [frame(DATA, END_STREAM, 1, b""), small_frames(3)].concat();
    assert_eq!(find(&end), Boundary::Found(9));
    let end = [
        small_frames(1),
        frame(DATA, END_STREAM, 1, b""),
        small_frames(2),
    ]
    .concat();
    assert_eq!(find(&end), Boundary::Found(0));
    // A CONTINUATION after DATA breaks the chain from before it, but may open one.
    let bytes = run(frame(CONTINUATION, END_HEADERS, 1, b"x"));
    assert_eq!(find(&bytes), Boundary::Found(small_frames(2).len()));
}

#[test]
fn header_blocks_chain_only_through_their_continuations() {
    let block = [
        frame(HEADERS, 0, 1, b"\x82"),
        frame(CONTINUATION, 0, 1, b"\x86"),
        frame(CONTINUATION, END_HEADERS, 1, b"\x84"),
    ]
    .concat();
    let bytes = [block.clone(), small_frames(1)].concat();
    assert_eq!(find(&bytes), Boundary::Found(0));
    // HEADERS without END_HEADERS, then DATA: not a chain from the HEADERS.
    let broken = [frame(HEADERS, 0, 1, b"\x82"), small_frames(4)].concat();
    assert_eq!(find(&broken), Boundary::Found(10));
    // A CONTINUATION may open the chain (its HEADERS came before the bytes offered).
    let tail = [
        frame(CONTINUATION, END_HEADERS, 1, b"\x84"),
        small_frames(3),
    ]
    .concat();
    assert_eq!(find(&tail), Boundary::Found(0));
}

#[test]
fn span_bounds_what_must_be_held() {
    let max = frame(DATA, 0, 1, &[0x55; MAX as usize]);
    let bytes = [max.clone(), max.clone(), max, frame(DATA, 0, 1, b"tail")].concat();
    let span = sync_span(MAX);
    assert_eq!(span, 49_188);
    assert_eq!(find(&bytes[..span]), Boundary::Found(0));
    assert_eq!(find(&bytes[..span - 1]), Boundary::NeedMore);
    // Frames longer than the maximum given are not plausible.
    // Frames longer than the maximum given are not plausible: only the last frame is left,
    // too short a chain to tell.
    assert_eq!(find_boundary(&bytes, MAX - 1), Boundary::Skip(3 * 16_393));
}

/// Runs the finder as a TCP layer would: bytes arrive in `segments`, a window holds at most
/// 64 KiB, Skip drops bytes, a Found is counted and scanning goes on past it.
pub(crate) fn count_found<'a>(segments: impl IntoIterator<Item = &'a [u8]>) -> usize {
    let mut window: Vec<u8> = Vec::new();
    let mut found = 0;
    for segment in segments {
        window.extend_from_slice(segment);
        loop {
            match find(&window) {
                Boundary::Found(p) => {
                    found += 1;
                    window.drain(..=p);
                }
                Boundary::Skip(n) => {
                    window.drain(..n);
                    break;
                }
                Boundary::NeedMore => break,
            }
        }
        assert!(
            window.len() <= sync_span(MAX),
            "window grew to {}",
            window.len()
        );
    }
    found
}

#[test]
fn random_bytes_find_nothing() {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let mut bytes = vec![0u8; 4 << 20];
    rng.fill(&mut bytes);
    let segments = bytes.chunks(1448);
    assert_eq!(count_found(segments), 0);
}

#[test]
fn http1_text_finds_nothing() {
    let mut text = Vec::new();
    for i in 0..2000 {
        text.extend(
            format!(
                "POST /api/v1/items/{i} HTTP/1.1\r\nHost: example.com\r\nContent-Length: 17\r\n\r\n\
             {{\"id\": {i:08}}}\r\nHTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n"
            )
            .bytes(),
        );
    }
    assert_eq!(count_found(text.chunks(1000)), 0);
}

#[test]
fn zero_bytes_find_nothing() {
    // Zero-filled bodies: every header there is DATA of length 0 on stream 0.
    assert_eq!(count_found([&[0u8; 100_000][..]]), 0);
}
