//! The 9-byte frame header (RFC 9113 §4.1), the frame types (§6) and their flags, and what
//! the header alone says about a frame's validity: its length against the maximum frame size
//! and its type, its stream identifier against its type.

use super::FrameError;

/// Bytes in a frame header: length (24 bits), type, flags, reserved bit + stream id (31 bits).
pub const HEADER_LEN: usize = 9;

/// SETTINGS_MAX_FRAME_SIZE until the receiver announces another (§6.5.2), and its minimum.
pub const DEFAULT_MAX_FRAME_SIZE: u32 = 16_384;

/// The largest SETTINGS_MAX_FRAME_SIZE a peer may announce: 2^24 − 1.
pub const MAX_FRAME_SIZE_LIMIT: u32 = (1 << 24) - 1;

/// END_STREAM (DATA, HEADERS): the sender's last frame on the stream.
pub const END_STREAM: u8 = 0x01;
/// ACK (SETTINGS, PING): an acknowledgement; same bit as END_STREAM.
pub const ACK: u8 = 0x01;
/// END_HEADERS (HEADERS, PUSH_PROMISE, CONTINUATION): the header block ends with this frame.
pub const END_HEADERS: u8 = 0x04;
/// PADDED (DATA, HEADERS, PUSH_PROMISE): a pad length byte first, that much padding last.
pub const PADDED: u8 = 0x08;
/// PRIORITY (HEADERS): 5 bytes of stream dependency and weight before the fragment.
pub const PRIORITY: u8 = 0x20;

/// The type octet of a frame, named when RFC 9113 defines it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameType {
    /// 0x0: stream payload.
    Data,
    /// 0x1: opens a stream or carries trailers; a header block fragment.
    Headers,
    /// 0x2: deprecated stream priority (5 bytes).
    Priority,
    /// 0x3: ends a stream (4-byte error code).
    RstStream,
    /// 0x4: connection parameters, 6 bytes each, or an acknowledgement.
    Settings,
    /// 0x5: a server push: the promised stream and its request's header block fragment.
    PushPromise,
    /// 0x6: liveness (8 opaque bytes).
    Ping,
    /// 0x7: connection shutdown: last processed stream, error code, debug data.
    GoAway,
    /// 0x8: flow control credit (4 bytes).
    WindowUpdate,
    /// 0x9: the rest of a header block.
    Continuation,
    /// Any other type: extensions, to be ignored (§5.5).
    Unknown(u8),
}

/// Which stream identifiers a frame type allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StreamRule {
    /// Connection-level frames: stream 0 only.
    Zero,
    /// Stream frames: never stream 0.
    NonZero,
    /// WINDOW_UPDATE and unknown types.
    Any,
}

impl FrameType {
    /// The type of the type octet `code`.
    pub fn from_u8(code: u8) -> Self {
        match code {
            0x0 => FrameType::Data,
            0x1 => FrameType::Headers,
            0x2 => FrameType::Priority,
            0x3 => FrameType::RstStream,
            0x4 => FrameType::Settings,
            0x5 => FrameType::PushPromise,
            0x6 => FrameType::Ping,
            0x7 => FrameType::GoAway,
            0x8 => FrameType::WindowUpdate,
            0x9 => FrameType::Continuation,
            other => FrameType::Unknown(other),
        }
    }

    /// The type octet.
    pub fn to_u8(self) -> u8 {
        match self {
            FrameType::Data => 0x0,
            FrameType::Headers => 0x1,
            FrameType::Priority => 0x2,
            FrameType::RstStream => 0x3,
            FrameType::Settings => 0x4,
            FrameType::PushPromise => 0x5,
            FrameType::Ping => 0x6,
            FrameType::GoAway => 0x7,
            FrameType::WindowUpdate => 0x8,
            FrameType::Continuation => 0x9,
            FrameType::Unknown(code) => code,
        }
    }

    /// The flags RFC 9113 defines for this type (a sender leaves the others unset; a
    /// receiver ignores them). None for unknown types.
    pub fn defined_flags(self) -> Option<u8> {
        Some(match self {
            FrameType::Data => END_STREAM | PADDED,
            FrameType::Headers => END_STREAM | END_HEADERS | PADDED | PRIORITY,
            FrameType::Settings | FrameType::Ping => ACK,
            FrameType::PushPromise => END_HEADERS | PADDED,
            FrameType::Continuation => END_HEADERS,
            FrameType::Priority
            | FrameType::RstStream
            | FrameType::GoAway
            | FrameType::WindowUpdate => 0,
            FrameType::Unknown(_) => return None,
        })
    }

    fn stream_rule(self) -> StreamRule {
        match self {
            FrameType::Settings | FrameType::Ping | FrameType::GoAway => StreamRule::Zero,
            FrameType::Data
            | FrameType::Headers
            | FrameType::Priority
            | FrameType::RstStream
            | FrameType::PushPromise
            | FrameType::Continuation => StreamRule::NonZero,
            FrameType::WindowUpdate | FrameType::Unknown(_) => StreamRule::Any,
        }
    }
}

/// A parsed frame header. The reserved bit is kept apart from the stream identifier
/// (receivers ignore it; the boundary finder requires it clear).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// Payload length in bytes (24 bits).
    pub len: u32,
    /// Frame type.
    pub kind: FrameType,
    /// Flags octet, as sent (undefined bits included).
    pub flags: u8,
    /// Stream identifier (31 bits).
    pub stream: u32,
    /// The reserved high bit of the stream identifier field.
    pub reserved: bool,
}

impl FrameHeader {
    /// Parses 9 header bytes.
    pub fn parse(b: &[u8; HEADER_LEN]) -> Self {
        let id = u32::from_be_bytes([b[5], b[6], b[7], b[8]]);
        FrameHeader {
            len: u32::from_be_bytes([0, b[0], b[1], b[2]]),
            kind: FrameType::from_u8(b[3]),
            flags: b[4],
            stream: id & 0x7fff_ffff,
            reserved: id & 0x8000_0000 != 0,
        }
    }

    /// Whether `flag` is set.
    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    /// Bytes before a header block fragment or DATA payload, pad length byte included:
    /// what the payload must at least hold.
    pub(crate) fn prefix_len(&self) -> u32 {
        let padded = u32::from(self.has(PADDED));
        match self.kind {
            FrameType::Data => padded,
            FrameType::Headers => padded + if self.has(PRIORITY) { 5 } else { 0 },
            FrameType::PushPromise => padded + 4,
            _ => 0,
        }
    }

    /// The checks the header alone allows (§4.2, §6): length within `max_frame_size` and
    /// right for the type, stream identifier zero or not as the type requires. Flags are not
    /// checked (receivers ignore undefined ones); neither is the reserved bit.
    pub fn check(&self, max_frame_size: u32) -> Result<(), FrameError> {
        if self.len > max_frame_size {
            return Err(FrameError::TooLarge);
        }
        match (self.kind.stream_rule(), self.stream) {
            (StreamRule::Zero, s) if s != 0 => return Err(FrameError::StreamNotZero),
            (StreamRule::NonZero, 0) => return Err(FrameError::StreamZero),
            _ => {}
        }
        let len = self.len;
        let length_ok = match self.kind {
            FrameType::Priority => len == 5,
            FrameType::RstStream | FrameType::WindowUpdate => len == 4,
            FrameType::Ping => len == 8,
            FrameType::GoAway => len >= 8,
            FrameType::Settings if self.has(ACK) => len == 0,
            FrameType::Settings => len.is_multiple_of(6),
            FrameType::Data | FrameType::Headers | FrameType::PushPromise => {
                len >= self.prefix_len()
            }
            FrameType::Continuation | FrameType::Unknown(_) => true,
        };
        if length_ok {
            Ok(())
        } else {
            Err(FrameError::BadLength)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(len: u32, kind: u8, flags: u8, stream: u32) -> FrameHeader {
        let l = len.to_be_bytes();
        let s = stream.to_be_bytes();
        FrameHeader::parse(&[l[1], l[2], l[3], kind, flags, s[0], s[1], s[2], s[3]])
    }

    #[test]
    fn parse_fields() {
        let h = FrameHeader::parse(&[0x01, 0x02, 0x03, 0x01, 0x25, 0x80, 0, 0, 0x07]);
        assert_eq!(h.len, 0x010203);
        assert_eq!(h.kind, FrameType::Headers);
        assert_eq!(h.flags, 0x25);
        assert_eq!(h.stream, 7);
        assert!(h.reserved);
        assert!(h.has(END_STREAM) && h.has(END_HEADERS) && h.has(PRIORITY) && !h.has(PADDED));
    }

    #[test]
    fn type_codes_round_trip() {
        for code in 0..=255u8 {
            assert_eq!(FrameType::from_u8(code).to_u8(), code);
        }
        assert_eq!(FrameType::from_u8(0xa), FrameType::Unknown(0xa));
    }

    #[test]
    fn checks_table() {
        use FrameError::*;
        let max = DEFAULT_MAX_FRAME_SIZE;
        // (len, type, flags, stream, result)
        type Case = (u32, u8, u8, u32, Result<(), FrameError>);
        let cases: &[Case] = &[
            (16_384, 0x0, 0, 1, Ok(())),
            (16_385, 0x0, 0, 1, Err(TooLarge)),
            (0, 0x0, 0, 0, Err(StreamZero)),
            (0, 0x0, PADDED, 1, Err(BadLength)),
            (1, 0x0, PADDED, 1, Ok(())),
            (4, 0x1, PRIORITY, 1, Err(BadLength)),
            (5, 0x1, PRIORITY, 1, Ok(())),
            (5, 0x1, PRIORITY | PADDED, 1, Err(BadLength)),
            (6, 0x1, PRIORITY | PADDED, 1, Ok(())),
            (5, 0x2, 0, 1, Ok(())),
            (4, 0x2, 0, 1, Err(BadLength)),
            (5, 0x2, 0, 0, Err(StreamZero)),
            (4, 0x3, 0, 3, Ok(())),
            (8, 0x3, 0, 3, Err(BadLength)),
            (0, 0x4, 0, 0, Ok(())),
            (12, 0x4, 0, 0, Ok(())),
            (7, 0x4, 0, 0, Err(BadLength)),
            (6, 0x4, ACK, 0, Err(BadLength)),
            (0, 0x4, ACK, 0, Ok(())),
            (0, 0x4, 0, 1, Err(StreamNotZero)),
            (3, 0x5, 0, 1, Err(BadLength)),
            (4, 0x5, 0, 1, Ok(())),
            (4, 0x5, PADDED, 1, Err(BadLength)),
            (8, 0x6, 0, 0, Ok(())),
            (8, 0x6, 0, 1, Err(StreamNotZero)),
            (9, 0x6, 0, 0, Err(BadLength)),
            (8, 0x7, 0, 0, Ok(())),
            (100, 0x7, 0, 0, Ok(())),
            (7, 0x7, 0, 0, Err(BadLength)),
            (4, 0x8, 0, 0, Ok(())),
            (4, 0x8, 0, 5, Ok(())),
            (5, 0x8, 0, 5, Err(BadLength)),
            (0, 0x9, END_HEADERS, 1, Ok(())),
            (0, 0x9, 0, 0, Err(StreamZero)),
            (100, 0xfa, 0xff, 0, Ok(())),
            (100, 0xfa, 0xff, 9, Ok(())),
        ];
        for &(len, kind, flags, stream, want) in cases {
            let h = header(len, kind, flags, stream);
            assert_eq!(h.check(max), want, "{h:?}");
        }
        // A larger maximum in force admits larger frames, up to 2^24 - 1.
        assert_eq!(
            header(MAX_FRAME_SIZE_LIMIT, 0, 0, 1).check(MAX_FRAME_SIZE_LIMIT),
            Ok(())
        );
    }
}
