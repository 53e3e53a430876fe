//! What reading frames yields: [`Event`]s, among them [`Fragment`] and [`Data`] pieces that
//! borrow the bytes offered and say where in their frame they fall.

use super::{FrameError, FrameHeader};

/// One step of a direction's frames, in byte order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// A frame header passed the checks: every frame starts with this event. PING,
    /// PRIORITY, WINDOW_UPDATE and unknown types produce no other (their payload is skipped).
    Frame(FrameHeader),
    /// A piece of a header block fragment (HEADERS, PUSH_PROMISE or CONTINUATION).
    Fragment(Fragment<'a>),
    /// A piece of a DATA frame's payload.
    Data(Data<'a>),
    /// RST_STREAM: the stream ends with this error code.
    RstStream {
        /// The stream reset.
        stream: u32,
        /// Its error code (see [`error_code_name`](super::error_code_name)).
        code: u32,
    },
    /// GOAWAY: streams above `last_stream` were not and will not be processed.
    GoAway {
        /// The highest stream the sender may have processed (reserved bit cleared).
        last_stream: u32,
        /// Its error code (see [`error_code_name`](super::error_code_name)).
        code: u32,
    },
    /// One parameter of a SETTINGS frame (not an acknowledgement), in frame order.
    Setting {
        /// The identifier (see [`settings`](super::settings)).
        id: u16,
        /// Its value.
        value: u32,
    },
    /// A SETTINGS acknowledgement: the sender applied the peer's last SETTINGS.
    SettingsAck,
    /// A protocol error: the reader is lost and consumes nothing until
    /// [`resume`](super::FrameReader::resume)d at a frame boundary.
    Error(FrameError),
}

/// Which frame a header block fragment comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FragmentOf {
    /// HEADERS: a request, response or trailers header block starts.
    Headers,
    /// PUSH_PROMISE: a promised request's header block starts.
    PushPromise {
        /// The stream the server will push on (reserved bit cleared).
        promised: u32,
    },
    /// CONTINUATION: the open block goes on.
    Continuation,
}

/// A piece of a header block fragment, padding and priority fields stripped. A frame's
/// fragment comes as one or more pieces (as its bytes arrive); an empty fragment as one empty
/// piece. The flags ride on the frame's last piece only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fragment<'a> {
    /// The frame's stream.
    pub stream: u32,
    /// The frame's type.
    pub of: FragmentOf,
    /// The bytes of this piece.
    pub bytes: &'a [u8],
    /// First piece of this frame's fragment.
    pub first: bool,
    /// Last piece of this frame's fragment.
    pub last: bool,
    /// END_HEADERS, on the last piece: the header block is complete.
    pub end_headers: bool,
    /// END_STREAM of a HEADERS frame, on its last piece: the stream ends with this block.
    pub end_stream: bool,
}

/// A piece of a DATA frame's payload, padding stripped. A frame comes as one or more pieces;
/// an empty payload as one empty piece.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Data<'a> {
    /// The frame's stream.
    pub stream: u32,
    /// The bytes of this piece.
    pub bytes: &'a [u8],
    /// First piece of this frame.
    pub first: bool,
    /// Last piece of this frame.
    pub last: bool,
    /// END_STREAM, on the last piece: the sender's last bytes on the stream.
    pub end_stream: bool,
}
