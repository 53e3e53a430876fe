//! What a frame reader refuses ([`FrameError`]): the protocol errors (RFC 9113 §4.2, §6) that
//! show the byte stream is not, or no longer, a sequence of HTTP/2 frames in sync.

use std::fmt;

/// A frame no valid HTTP/2 sender produces. For a passive reader each of these means the
/// direction is out of sync (or was never HTTP/2): the caller counts it and looks for frame
/// boundaries again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// A frame longer than the maximum frame size in force (§4.2).
    TooLarge,
    /// A length wrong for the type: RST_STREAM or WINDOW_UPDATE not 4, PRIORITY not 5, PING
    /// not 8, GOAWAY under 8, SETTINGS not a multiple of 6 (or an ACK with a payload), or too
    /// short for the pad length, priority or promised stream the flags announce.
    BadLength,
    /// Padding that does not fit the payload left after the fields before it (§6.1, §6.2).
    Padding,
    /// A stream frame (DATA, HEADERS, PRIORITY, RST_STREAM, PUSH_PROMISE, CONTINUATION) on
    /// stream 0, or a PUSH_PROMISE promising stream 0.
    StreamZero,
    /// A connection frame (SETTINGS, PING, GOAWAY) on a stream other than 0.
    StreamNotZero,
    /// A header block left open (no END_HEADERS) followed by anything but a CONTINUATION of
    /// the same stream (§6.10).
    ContinuationExpected,
    /// A CONTINUATION with no header block open (§6.10).
    ContinuationUnexpected,
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FrameError::TooLarge => "frame larger than the maximum frame size",
            FrameError::BadLength => "frame length wrong for its type",
            FrameError::Padding => "padding longer than the payload",
            FrameError::StreamZero => "stream frame on stream 0",
            FrameError::StreamNotZero => "connection frame on a stream",
            FrameError::ContinuationExpected => "header block not continued",
            FrameError::ContinuationUnexpected => "CONTINUATION outside a header block",
        })
    }
}

impl std::error::Error for FrameError {}
