//! Tests of frame reading and boundary finding: frames built here byte by byte, offered whole,
//! split at every offset, byte by byte and at random; one small test per case; errors.

mod cases;
mod errors;
mod split;
mod sync;

use super::{
    END_HEADERS, END_STREAM, Event, FragmentOf, FrameError, FrameHeader, FrameReader, PADDED,
    PRIORITY,
};

/// Frame type codes, for building frames.
pub(crate) const DATA: u8 = 0x0;
pub(crate) const HEADERS: u8 = 0x1;
pub(crate) const PRIORITY_FRAME: u8 = 0x2;
pub(crate) const RST_STREAM: u8 = 0x3;
pub(crate) const SETTINGS: u8 = 0x4;
pub(crate) const PUSH_PROMISE: u8 = 0x5;
pub(crate) const PING: u8 = 0x6;
pub(crate) const GOAWAY: u8 = 0x7;
pub(crate) const WINDOW_UPDATE: u8 = 0x8;
pub(crate) const CONTINUATION: u8 = 0x9;

/// A frame: header then payload as given.
pub(crate) fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = (payload.len() as u32).to_be_bytes();
    let mut out = vec![len[1], len[2], len[3], kind, flags];
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// A PADDED frame: pad length, `fields` (priority, promised stream), `body`, `pad` bytes of
/// padding (non-zero, to be sure they are not handed out).
pub(crate) fn padded(
    kind: u8,
    flags: u8,
    stream: u32,
    fields: &[u8],
    body: &[u8],
    pad: u8,
) -> Vec<u8> {
    let mut payload = vec![pad];
    payload.extend_from_slice(fields);
    payload.extend_from_slice(body);
    payload.extend(std::iter::repeat_n(0xee, usize::from(pad)));
    frame(kind, flags | PADDED, stream, &payload)
}

/// Priority fields: exclusive bit + dependency, weight.
pub(crate) fn priority_fields(depends_on: u32, weight: u8) -> Vec<u8> {
    let mut out = (depends_on | 0x8000_0000).to_be_bytes().to_vec();
    out.push(weight);
    out
}

/// An event, owned, with a frame's pieces joined.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Got {
    Frame(FrameHeader),
    Fragment {
        stream: u32,
        of: FragmentOf,
        bytes: Vec<u8>,
        end_headers: bool,
        end_stream: bool,
    },
    Data {
        stream: u32,
        bytes: Vec<u8>,
        end_stream: bool,
    },
    Rst(u32, u32),
    GoAway(u32, u32),
    Setting(u16, u32),
    SettingsAck,
    Error(FrameError),
}

/// Collects events, joining pieces and checking the piece contract: a frame's pieces come in
/// a row, first then last; only an empty payload gives an empty piece; flags only on the last.
#[derive(Default)]
pub(crate) struct Collect {
    pub(crate) got: Vec<Got>,
    /// A frame's pieces are being joined.
    open: bool,
}

impl Collect {
    pub(crate) fn event(&mut self, event: Event<'_>) {
        let piece = match event {
            Event::Fragment(f) => Some((f.first, f.last, f.bytes, f.end_headers || f.end_stream)),
            Event::Data(d) => Some((d.first, d.last, d.bytes, d.end_stream)),
            _ => None,
        };
        if let Some((first, last, bytes, flags)) = piece {
            assert_eq!(first, !self.open, "first piece flag: {event:?}");
            assert!(
                !bytes.is_empty() || first && last,
                "empty middle piece: {event:?}"
            );
            assert!(last || !flags, "flags before the last piece: {event:?}");
            self.open = !last;
        } else {
            assert!(!self.open, "{event:?} inside a frame's pieces");
        }
        let joined = match (event, self.got.last_mut()) {
            (
                Event::Fragment(f),
                Some(Got::Fragment {
                    bytes,
                    end_headers,
                    end_stream,
                    ..
                }),
            ) if !f.first => {
                bytes.extend_from_slice(f.bytes);
                *end_headers = f.end_headers;
                *end_stream = f.end_stream;
                true
            }
            (
                Event::Data(d),
                Some(Got::Data {
                    bytes, end_stream, ..
                }),
            ) if !d.first => {
                bytes.extend_from_slice(d.bytes);
                *end_stream = d.end_stream;
                true
            }
            _ => false,
        };
        if joined {
            return;
        }
        self.got.push(match event {
            Event::Frame(h) => Got::Frame(h),
            Event::Fragment(f) => Got::Fragment {
                stream: f.stream,
                of: f.of,
                bytes: f.bytes.to_vec(),
                end_headers: f.end_headers,
                end_stream: f.end_stream,
            },
            Event::Data(d) => Got::Data {
                stream: d.stream,
                bytes: d.bytes.to_vec(),
                end_stream: d.end_stream,
            },
            Event::RstStream { stream, code } => Got::Rst(stream, code),
            Event::GoAway { last_stream, code } => Got::GoAway(last_stream, code),
            Event::Setting { id, value } => Got::Setting(id, value),
            Event::SettingsAck => Got::SettingsAck,
            Event::Error(e) => Got::Error(e),
        });
    }
}

/// Reads `bytes` cut at `cuts` (ascending offsets) with a fresh reader; the events and the
/// bytes consumed in all.
pub(crate) fn read_cut(bytes: &[u8], cuts: &[usize]) -> (Vec<Got>, usize) {
    read_with(&mut FrameReader::new(), bytes, cuts)
}

pub(crate) fn read_with(
    reader: &mut FrameReader,
    bytes: &[u8],
    cuts: &[usize],
) -> (Vec<Got>, usize) {
    let mut c = Collect::default();
    let mut consumed = 0;
    let mut from = 0;
    for &to in cuts.iter().chain([&bytes.len()]) {
        let piece = &bytes[from..to];
        let used = reader.feed(piece, |e| c.event(e));
        assert!(used <= piece.len());
        consumed += used;
        if used < piece.len() {
            assert!(reader.is_lost(), "stopped early without an error");
        }
        from = to;
    }
    (c.got, consumed)
}

/// Reads `bytes` whole.
pub(crate) fn read(bytes: &[u8]) -> Vec<Got> {
    read_cut(bytes, &[]).0
}

/// The events of frames (their `Frame` events dropped), for tests about payloads.
pub(crate) fn without_headers(got: Vec<Got>) -> Vec<Got> {
    got.into_iter()
        .filter(|g| !matches!(g, Got::Frame(_)))
        .collect()
}

pub(crate) fn fragment(stream: u32, of: FragmentOf, bytes: &[u8], flags: u8) -> Got {
    Got::Fragment {
        stream,
        of,
        bytes: bytes.to_vec(),
        end_headers: flags & END_HEADERS != 0,
        end_stream: flags & END_STREAM != 0,
    }
}

pub(crate) fn data(stream: u32, bytes: &[u8], end_stream: bool) -> Got {
    Got::Data {
        stream,
        bytes: bytes.to_vec(),
        end_stream,
    }
}

/// A deterministic xorshift generator for the randomized tests.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub(crate) fn fill(&mut self, out: &mut [u8]) {
        for b in out {
            *b = self.next() as u8;
        }
    }
}

/// One direction's worth of frames of every kind: padding, priority, CONTINUATION, push,
/// settings, resets, skipped types, an empty DATA that ends a stream, GOAWAY with debug data.
pub(crate) fn conversation() -> Vec<u8> {
    let mut out = Vec::new();
    let settings = [0, 1, 0, 0, 0x10, 0, 0, 5, 0, 0, 0x40, 0];
    out.extend(frame(SETTINGS, 0, 0, &settings));
    out.extend(frame(WINDOW_UPDATE, 0, 0, &0x00ff_0000u32.to_be_bytes()));
    out.extend(frame(SETTINGS, 0x1, 0, &[]));
    let fields = priority_fields(0, 200);
    out.extend(padded(
        HEADERS,
        PRIORITY,
        1,
        &fields,
        b"\x82\x86\x84\x41",
        3,
    ));
    out.extend(frame(CONTINUATION, 0, 1, b"\x8c\xf1\xe3\xc2"));
    out.extend(frame(CONTINUATION, END_HEADERS, 1, b"\xe5\xf2"));
    out.extend(padded(DATA, 0, 1, &[], b"hello, ", 10));
    out.extend(frame(DATA, 0, 1, &[b'x'; 300]));
    out.extend(frame(DATA, END_STREAM, 1, b""));
    out.extend(frame(PING, 0, 0, b"12345678"));
    out.extend(frame(PRIORITY_FRAME, 0, 3, &priority_fields(1, 16)));
    out.extend(frame(0xfa, 0xff, 3, b"extension"));
    out.extend(frame(HEADERS, END_HEADERS | END_STREAM, 3, b"\x82\x87"));
    out.extend(frame(RST_STREAM, 0, 3, &8u32.to_be_bytes()));
    out.extend(padded(
        PUSH_PROMISE,
        END_HEADERS,
        3,
        &4u32.to_be_bytes(),
        b"\x82\x87",
        2,
    ));
    out.extend(padded(HEADERS, END_HEADERS | END_STREAM, 5, &[], b"", 4));
    let mut goaway = 5u32.to_be_bytes().to_vec();
    goaway.extend(11u32.to_be_bytes());
    goaway.extend(b"too many requests");
    out.extend(frame(GOAWAY, 0, 0, &goaway));
    out
}

/// What [`conversation`] reads as, frame headers dropped.
pub(crate) fn conversation_events() -> Vec<Got> {
    vec![
        Got::Setting(1, 0x1000),
        Got::Setting(5, 0x4000),
        Got::SettingsAck,
        fragment(1, FragmentOf::Headers, b"\x82\x86\x84\x41", 0),
        fragment(1, FragmentOf::Continuation, b"\x8c\xf1\xe3\xc2", 0),
        fragment(1, FragmentOf::Continuation, b"\xe5\xf2", END_HEADERS),
        data(1, b"hello, ", false),
        data(1, &[b'x'; 300], false),
        data(1, b"", true),
        fragment(
            3,
            FragmentOf::Headers,
            b"\x82\x87",
            END_HEADERS | END_STREAM,
        ),
        Got::Rst(3, 8),
        fragment(
            3,
            FragmentOf::PushPromise { promised: 4 },
            b"\x82\x87",
            END_HEADERS,
        ),
        fragment(5, FragmentOf::Headers, b"", END_HEADERS | END_STREAM),
        Got::GoAway(5, 11),
    ]
}
