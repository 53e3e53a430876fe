//! Finding frame boundaries without the preface ([`find_boundary`]): for a capture that starts
//! mid-connection, or after a TCP gap or a protocol error, a position is believed to start a
//! frame when a run of plausible frame headers chains from it.
//!
//! # Rules
//! A header is *plausible* when a valid sender could have written it and usually does:
//! - the reserved bit is clear, the type is one of RFC 9113's ten, the flags are among those
//!   defined for the type (senders leave the others unset), the length is at most the
//!   maximum frame size given;
//! - the stream identifier is 0 for SETTINGS, PING and GOAWAY and not 0 for DATA, HEADERS,
//!   PRIORITY, RST_STREAM, PUSH_PROMISE and CONTINUATION; it is odd (client-initiated) for
//!   DATA, HEADERS and CONTINUATION: only pushed responses use even streams, and without this
//!   rule arrays of small big-endian integers (`00 00 01 1b 00 00 00 92 ...`) chain as DATA
//!   frames;
//! - the length is right for the type: RST_STREAM and WINDOW_UPDATE 4, PRIORITY 5, PING 8,
//!   GOAWAY at least 8, SETTINGS a multiple of 6 (0 for an ACK); a DATA frame is not empty
//!   unless it ends the stream; a HEADERS or PUSH_PROMISE frame has room for its pad length,
//!   priority or promised stream and at least one byte of fragment;
//! - what the payload shows, where it is at hand: the pad length fits, a WINDOW_UPDATE
//!   increment is not 0, a promised stream is even and not 0, a priority does not depend on
//!   its own stream, reserved bits are clear;
//! - in the chain: after a HEADERS or PUSH_PROMISE without END_HEADERS comes a CONTINUATION
//!   of the same stream, and a CONTINUATION comes only there (or first, continuing a block
//!   that started before the bytes offered); an empty DATA frame does not start a chain (the
//!   last 5 bytes of a header on stream 1 with flags 0, then 4 payload bytes such as a
//!   WINDOW_UPDATE increment, read as one, and the chain then merges into the true one).
//!
//! What these rules cost: frames of pushed streams, and an empty DATA frame (END_STREAM only)
//! right at the resynchronisation point, are passed over; the finder starts at a later frame.
//!
//! Position p is *found* when the headers at p, p + 9 + len₀, ... are plausible and chain
//! [`SYNC_RUN`] times, or at least [`SYNC_RUN_AT_END`] times with the last frame ending
//! exactly where the bytes end and no header block left open (a sender at rest: the bytes
//! offered should end where the received data ends, as a TCP layer's do). It is *undecided*
//! while its chain is plausible but runs past the end. The finder returns the first position
//! found, even after undecided ones; failing that, it asks the caller to keep the bytes from
//! the first undecided position.
//!
//! Why a found position wins over an earlier undecided one: a position just after a true
//! boundary often reads as a plausible header (the type byte read as a length byte, the flags
//! as a type) whose length jumps far ahead; waiting until that chain is refuted would hold up
//! every resynchronisation by up to a frame. Both cannot be true (a true chain from the earlier
//! one would pass through the later one and be found too); the found one has the evidence.
//!
//! # Bounds
//! A chain spans at most [`sync_span`] bytes, 49,188 at the default maximum frame size, so a
//! caller holding that many bytes from the first undecided position always gets an answer.
//! Work is at most [`SYNC_RUN`] header checks per position.

use super::header::{ACK, END_HEADERS, END_STREAM, PADDED, PRIORITY};
use super::{FrameHeader, FrameType, HEADER_LEN};

/// Chained plausible headers that make a boundary.
pub const SYNC_RUN: usize = 4;

/// Chained plausible headers that make a boundary when the last frame ends exactly at the end
/// of the bytes offered.
pub const SYNC_RUN_AT_END: usize = 2;

/// What [`find_boundary`] decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Boundary {
    /// A frame starts at this offset: resume reading there.
    Found(usize),
    /// No frame starts in the first this many bytes (at least 1): drop them, and offer the
    /// rest again with more bytes after it.
    Skip(usize),
    /// Undecided from the first byte: offer the same bytes again with more after them.
    NeedMore,
}

/// Bytes a chain of [`SYNC_RUN`] headers may span with frames up to `max_frame_size`: holding
/// this many bytes from the first undecided position always gives an answer.
pub fn sync_span(max_frame_size: u32) -> usize {
    (SYNC_RUN - 1) * (HEADER_LEN + max_frame_size as usize) + HEADER_LEN
}

/// Looks for a frame boundary in `bytes`, a contiguous run of one direction's bytes ending
/// where the received data ends, with frames of at most `max_frame_size` bytes (16384 unless
/// the receiver announced more: frames longer than the value given are taken as implausible).
pub fn find_boundary(bytes: &[u8], max_frame_size: u32) -> Boundary {
    let mut undecided = None;
    for start in 0..bytes.len() {
        match chain(bytes, start, max_frame_size) {
            Verdict::No => {}
            Verdict::Yes => return Boundary::Found(start),
            Verdict::Undecided => {
                undecided.get_or_insert(start);
            }
        }
    }
    match undecided.unwrap_or(bytes.len()) {
        0 => Boundary::NeedMore,
        n => Boundary::Skip(n),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    Yes,
    No,
    Undecided,
}

/// Follows the chain of headers from `start`.
fn chain(bytes: &[u8], start: usize, max: u32) -> Verdict {
    let mut at = start;
    let mut count = 0;
    // The stream whose header block is open.
    let mut open = None;
    loop {
        if at == bytes.len() && count >= SYNC_RUN_AT_END && open.is_none() {
            return Verdict::Yes;
        }
        let head = &bytes[at.min(bytes.len())..bytes.len().min(at + HEADER_LEN)];
        if !plausible_header(head, max, open, count == 0) {
            return Verdict::No;
        }
        let Ok(head) = <&[u8; HEADER_LEN]>::try_from(head) else {
            return Verdict::Undecided;
        };
        let h = FrameHeader::parse(head);
        let end = at + HEADER_LEN + h.len as usize;
        if !plausible_payload(&h, &bytes[at + HEADER_LEN..end.min(bytes.len())]) {
            return Verdict::No;
        }
        count += 1;
        if count == SYNC_RUN {
            return Verdict::Yes;
        }
        open = match h.kind {
            FrameType::Headers | FrameType::PushPromise | FrameType::Continuation
                if !h.has(END_HEADERS) =>
            {
                Some(h.stream)
            }
            _ => None,
        };
        at = end;
    }
}

/// Whether `b`, the first 0..=9 bytes of a header, may belong to a plausible header; each
/// rule is applied once the bytes it needs are there. `open` is the stream of an open header
/// block; `first` says the header starts the chain.
fn plausible_header(b: &[u8], max: u32, open: Option<u32>, first: bool) -> bool {
    // Length: compare the bytes at hand with the maximum's leading bytes.
    let known = b.len().min(3);
    let mut len = 0u32;
    for &byte in &b[..known] {
        len = len << 8 | u32::from(byte);
    }
    if len > max >> (8 * (3 - known)) {
        return false;
    }
    let Some(&code) = b.get(3) else {
        return true;
    };
    let kind = FrameType::from_u8(code);
    let Some(defined) = kind.defined_flags() else {
        return false;
    };
    let continuation = kind == FrameType::Continuation;
    if open.is_some() != continuation && !(continuation && first) {
        return false;
    }
    let Some(&flags) = b.get(4) else {
        return true;
    };
    if flags & !defined != 0 || !plausible_length(kind, flags, len) {
        return false;
    }
    // No chain starts with an empty DATA frame: the end of a header on stream 1 with flags 0
    // followed by 4 payload bytes (a WINDOW_UPDATE increment) reads as one.
    if first && kind == FrameType::Data && len <= u32::from(flags & PADDED != 0) {
        return false;
    }
    let connection = matches!(
        kind,
        FrameType::Settings | FrameType::Ping | FrameType::GoAway
    );
    if b.get(5).is_some_and(|&s| s & 0x80 != 0) || connection && b[5..].iter().any(|&s| s != 0) {
        return false;
    }
    let Ok(stream) = <[u8; 4]>::try_from(&b[5..]) else {
        return true;
    };
    let stream = u32::from_be_bytes(stream);
    let any = matches!(kind, FrameType::WindowUpdate);
    // Requests and responses travel on client-initiated (odd) streams; only pushed responses
    // use even ones.
    let odd = !matches!(
        kind,
        FrameType::Data | FrameType::Headers | FrameType::Continuation
    ) || stream % 2 == 1;
    (connection || any || stream != 0) && odd && open.is_none_or(|s| s == stream)
}

/// Length rules of a plausible frame (stricter than [`FrameHeader::check`]: no empty DATA
/// that does not end the stream, no empty fragment in HEADERS or PUSH_PROMISE).
fn plausible_length(kind: FrameType, flags: u8, len: u32) -> bool {
    let padded = u32::from(flags & PADDED != 0);
    match kind {
        FrameType::Data => len > padded || flags & END_STREAM != 0 && len == padded,
        FrameType::Headers => len > padded + if flags & PRIORITY != 0 { 5 } else { 0 },
        FrameType::PushPromise => len > padded + 4,
        FrameType::Priority => len == 5,
        FrameType::RstStream | FrameType::WindowUpdate => len == 4,
        FrameType::Settings if flags & ACK != 0 => len == 0,
        FrameType::Settings => len.is_multiple_of(6),
        FrameType::Ping => len == 8,
        FrameType::GoAway => len >= 8,
        FrameType::Continuation => true,
        FrameType::Unknown(_) => false,
    }
}

/// Payload rules, on whatever part of the payload is at hand.
fn plausible_payload(h: &FrameHeader, p: &[u8]) -> bool {
    let word = |at: usize| {
        p.get(at..at + 4)
            .map(|w| u32::from_be_bytes([w[0], w[1], w[2], w[3]]))
    };
    let skip = usize::from(h.has(PADDED));
    if let (true, Some(&pad)) = (h.has(PADDED), p.first()) {
        let after = match h.kind {
            FrameType::Headers if h.has(PRIORITY) => 5,
            FrameType::PushPromise => 4,
            _ => 0,
        };
        if h.len
            .checked_sub(1 + after)
            .is_none_or(|room| u32::from(pad) > room)
        {
            return false;
        }
    }
    match h.kind {
        FrameType::WindowUpdate => word(0).is_none_or(|w| w != 0 && w & 0x8000_0000 == 0),
        FrameType::GoAway => word(0).is_none_or(|w| w & 0x8000_0000 == 0),
        FrameType::PushPromise => {
            word(skip).is_none_or(|w| w != 0 && w % 2 == 0 && w & 0x8000_0000 == 0)
        }
        FrameType::Priority => word(0).is_none_or(|w| w & 0x7fff_ffff != h.stream),
        FrameType::Headers if h.has(PRIORITY) => {
            word(skip).is_none_or(|w| w & 0x7fff_ffff != h.stream)
        }
        _ => true,
    }
}
