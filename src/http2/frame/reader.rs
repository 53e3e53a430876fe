//! [`FrameReader`]: one direction's frames, read push style from in-order bytes split
//! anywhere, in a few dozen bytes of state whatever the frame sizes.

use super::header::{END_HEADERS, END_STREAM, PADDED, PRIORITY};
use super::{
    DEFAULT_MAX_FRAME_SIZE, Data, Event, Fragment, FragmentOf, FrameError, FrameHeader, FrameType,
    HEADER_LEN, MAX_FRAME_SIZE_LIMIT,
};

/// Reads the frames of one direction of a connection. Offer it the direction's bytes in
/// order, split anywhere, with [`feed`](Self::feed); it calls back with [`Event`]s and keeps
/// only a partial frame header or fixed field (at most 9 bytes) and a few counters. Payloads
/// (DATA, header block fragments) are handed out as pieces borrowed from the input; padding,
/// priority fields and the payloads of PING, PRIORITY, WINDOW_UPDATE and unknown frames are
/// skipped.
///
/// A protocol error ([`FrameError`]) is reported once as [`Event::Error`]; the reader is then
/// lost and consumes nothing until [`resume`](Self::resume) (at a boundary found by
/// [`find_boundary`](super::find_boundary)). Work is constant per byte plus one step per
/// event; nothing panics.
#[derive(Clone, Debug)]
pub struct FrameReader {
    /// A partial frame header, or a partial fixed field of the payload.
    buf: [u8; HEADER_LEN],
    /// Bytes held in `buf`.
    have: u8,
    state: State,
    /// The current frame's header.
    header: FrameHeader,
    /// Payload bytes of the current frame not consumed yet.
    left: u32,
    /// Padding at the end of the current frame's payload.
    pad: u32,
    /// The next piece is the frame's first.
    first: bool,
    /// The current PUSH_PROMISE's promised stream.
    promised: u32,
    block: Block,
    max_frame_size: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Collecting a frame header.
    Header,
    /// Collecting a fixed field of the payload.
    Field(Field),
    /// Handing out the payload (DATA) or fragment, up to the padding.
    Body,
    /// Skipping the rest of the frame's payload.
    Skip,
    /// After a protocol error.
    Lost,
}

/// Fixed-size fields read from payloads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    PadLength,
    /// HEADERS' stream dependency and weight (skipped).
    Priority,
    Promised,
    RstStream,
    GoAway,
    Setting,
}

impl Field {
    fn len(self) -> usize {
        match self {
            Field::PadLength => 1,
            Field::Priority => 5,
            Field::Promised | Field::RstStream => 4,
            Field::Setting => 6,
            Field::GoAway => 8,
        }
    }
}

/// Where the direction is with respect to header blocks (§6.10).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Block {
    /// No block open: any frame but CONTINUATION.
    Closed,
    /// A block of this stream is open: only its CONTINUATION may follow.
    Open(u32),
    /// Resumed mid-connection: the first frames may continue a block we never saw the start
    /// of; those CONTINUATIONs are skipped (of this stream, once one was seen).
    Orphan(Option<u32>),
}

impl Default for FrameReader {
    fn default() -> Self {
        Self::new()
    }
}

impl FrameReader {
    /// A reader at the first frame of a direction (after the client preface, for the
    /// client), with the initial maximum frame size (16384).
    pub fn new() -> Self {
        FrameReader {
            buf: [0; HEADER_LEN],
            have: 0,
            state: State::Header,
            header: FrameHeader::parse(&[0; HEADER_LEN]),
            left: 0,
            pad: 0,
            first: false,
            promised: 0,
            block: Block::Closed,
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
        }
    }

    /// Starts again at a frame boundary found mid-connection (capture started late, a TCP
    /// gap, a protocol error): the next byte offered is a frame's first. CONTINUATIONs
    /// whose block started before that point are skipped. The maximum frame size is kept.
    pub fn resume(&mut self) {
        self.have = 0;
        self.state = State::Header;
        self.block = Block::Orphan(None);
    }

    /// Sets the maximum frame size in force: the SETTINGS_MAX_FRAME_SIZE announced by the
    /// endpoint that *receives* this direction (its peer reading the other direction sees
    /// it), clamped to 16384..=2^24 − 1.
    pub fn set_max_frame_size(&mut self, max: u32) {
        self.max_frame_size = max.clamp(DEFAULT_MAX_FRAME_SIZE, MAX_FRAME_SIZE_LIMIT);
    }

    /// The maximum frame size in force.
    pub fn max_frame_size(&self) -> u32 {
        self.max_frame_size
    }

    /// Whether a protocol error was reported since the last [`resume`](Self::resume).
    pub fn is_lost(&self) -> bool {
        self.state == State::Lost
    }

    /// Whether the next byte offered starts a frame.
    pub fn at_boundary(&self) -> bool {
        self.state == State::Header && self.have == 0
    }

    /// Whether a header block is open: the next frame must be its CONTINUATION.
    pub fn in_header_block(&self) -> bool {
        matches!(self.block, Block::Open(_))
    }

    /// Reads `input`, the next bytes of the direction, calling `on_event` for each event.
    /// Returns the bytes consumed: all of them, unless a protocol error was reported (then
    /// the bytes up to the one that showed it; the caller may look for a frame boundary in
    /// the rest) or the reader was already lost (then 0).
    pub fn feed<F>(&mut self, input: &[u8], mut on_event: F) -> usize
    where
        F: FnMut(Event<'_>),
    {
        let mut pos = 0;
        loop {
            let step = match self.state {
                State::Lost => return pos,
                State::Header => {
                    if !self.collect(input, &mut pos, HEADER_LEN) {
                        return pos;
                    }
                    self.start_frame(&mut on_event)
                }
                State::Field(field) => {
                    if !self.collect(input, &mut pos, field.len()) {
                        return pos;
                    }
                    self.end_field(field, &mut on_event)
                }
                State::Body => {
                    let body_left = self.left - self.pad;
                    let n = (input.len() - pos).min(body_left as usize);
                    if n == 0 && body_left > 0 {
                        return pos;
                    }
                    let last = n == body_left as usize;
                    let piece = &input[pos..pos + n];
                    pos += n;
                    self.left -= n as u32;
                    self.piece(piece, last, &mut on_event);
                    if last {
                        self.state = State::Skip;
                    }
                    Ok(())
                }
                State::Skip => {
                    let n = (input.len() - pos).min(self.left as usize);
                    pos += n;
                    self.left -= n as u32;
                    if self.left > 0 {
                        return pos;
                    }
                    self.state = State::Header;
                    Ok(())
                }
            };
            if let Err(error) = step {
                self.state = State::Lost;
                on_event(Event::Error(error));
                return pos;
            }
        }
    }

    /// Copies bytes into `buf` until it holds `need`; true when it does (and then empties it
    /// for the next use: the caller reads `buf[..need]` right away).
    fn collect(&mut self, input: &[u8], pos: &mut usize, need: usize) -> bool {
        let have = usize::from(self.have);
        let n = (input.len() - *pos).min(need - have);
        self.buf[have..have + n].copy_from_slice(&input[*pos..*pos + n]);
        *pos += n;
        if have + n == need {
            self.have = 0;
            true
        } else {
            self.have = (have + n) as u8;
            false
        }
    }

    fn start_frame<F: FnMut(Event<'_>)>(&mut self, on_event: &mut F) -> Result<(), FrameError> {
        let h = FrameHeader::parse(&self.buf);
        h.check(self.max_frame_size)?;
        let continuation = h.kind == FrameType::Continuation;
        let orphan = match self.block {
            Block::Open(s) if continuation && s == h.stream => false,
            Block::Open(_) => return Err(FrameError::ContinuationExpected),
            Block::Closed if continuation => return Err(FrameError::ContinuationUnexpected),
            Block::Closed => false,
            Block::Orphan(s) if continuation && s.is_none_or(|s| s == h.stream) => true,
            Block::Orphan(Some(_)) => return Err(FrameError::ContinuationExpected),
            Block::Orphan(None) => false,
        };
        let end_headers = h.has(END_HEADERS);
        self.block = match h.kind {
            FrameType::Headers | FrameType::PushPromise if !end_headers => Block::Open(h.stream),
            FrameType::Continuation if !end_headers && orphan => Block::Orphan(Some(h.stream)),
            FrameType::Continuation if !end_headers => Block::Open(h.stream),
            _ => Block::Closed,
        };
        on_event(Event::Frame(h));
        self.header = h;
        self.left = h.len;
        self.pad = 0;
        self.first = true;
        self.state = match h.kind {
            FrameType::Data | FrameType::Headers | FrameType::PushPromise if h.has(PADDED) => {
                State::Field(Field::PadLength)
            }
            FrameType::Headers if h.has(PRIORITY) => State::Field(Field::Priority),
            FrameType::PushPromise => State::Field(Field::Promised),
            FrameType::Data | FrameType::Headers => State::Body,
            FrameType::Continuation if orphan => State::Skip,
            FrameType::Continuation => State::Body,
            FrameType::RstStream => State::Field(Field::RstStream),
            FrameType::GoAway => State::Field(Field::GoAway),
            FrameType::Settings if h.has(super::ACK) => {
                on_event(Event::SettingsAck);
                State::Skip
            }
            FrameType::Settings => self.next_setting(),
            FrameType::Priority
            | FrameType::Ping
            | FrameType::WindowUpdate
            | FrameType::Unknown(_) => State::Skip,
        };
        Ok(())
    }

    fn next_setting(&self) -> State {
        if self.left as usize >= Field::Setting.len() {
            State::Field(Field::Setting)
        } else {
            State::Skip
        }
    }

    fn end_field<F: FnMut(Event<'_>)>(
        &mut self,
        field: Field,
        on_event: &mut F,
    ) -> Result<(), FrameError> {
        // The header checks guarantee the payload holds each field; saturate anyway.
        self.left = self.left.saturating_sub(field.len() as u32);
        let h = self.header;
        let b = self.buf;
        let word = |at: usize| u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
        self.state = match field {
            Field::PadLength => {
                let after = match h.kind {
                    FrameType::Headers if h.has(PRIORITY) => 5,
                    FrameType::PushPromise => 4,
                    _ => 0,
                };
                let pad = u32::from(b[0]);
                if pad > self.left.saturating_sub(after) {
                    return Err(FrameError::Padding);
                }
                self.pad = pad;
                match h.kind {
                    FrameType::Headers if h.has(PRIORITY) => State::Field(Field::Priority),
                    FrameType::PushPromise => State::Field(Field::Promised),
                    _ => State::Body,
                }
            }
            Field::Priority => State::Body,
            Field::Promised => {
                self.promised = word(0) & 0x7fff_ffff;
                if self.promised == 0 {
                    return Err(FrameError::StreamZero);
                }
                State::Body
            }
            Field::RstStream => {
                on_event(Event::RstStream {
                    stream: h.stream,
                    code: word(0),
                });
                State::Skip
            }
            Field::GoAway => {
                on_event(Event::GoAway {
                    last_stream: word(0) & 0x7fff_ffff,
                    code: word(4),
                });
                State::Skip
            }
            Field::Setting => {
                on_event(Event::Setting {
                    id: u16::from_be_bytes([b[0], b[1]]),
                    value: word(2),
                });
                self.next_setting()
            }
        };
        Ok(())
    }

    fn piece<F: FnMut(Event<'_>)>(&mut self, bytes: &[u8], last: bool, on_event: &mut F) {
        let h = self.header;
        let first = std::mem::replace(&mut self.first, false);
        let end_stream = last && h.has(END_STREAM);
        let of = match h.kind {
            FrameType::Data => {
                on_event(Event::Data(Data {
                    stream: h.stream,
                    bytes,
                    first,
                    last,
                    end_stream,
                }));
                return;
            }
            FrameType::Headers => FragmentOf::Headers,
            FrameType::PushPromise => FragmentOf::PushPromise {
                promised: self.promised,
            },
            _ => FragmentOf::Continuation,
        };
        on_event(Event::Fragment(Fragment {
            stream: h.stream,
            of,
            bytes,
            first,
            last,
            end_headers: last && h.has(END_HEADERS),
            end_stream: end_stream && of == FragmentOf::Headers,
        }));
    }
}
