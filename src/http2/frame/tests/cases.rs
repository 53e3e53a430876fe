//! One small test per case of frame reading.

use super::super::{DEFAULT_MAX_FRAME_SIZE, FrameType};
use super::*;

#[test]
fn data_pieces_carry_end_stream_on_the_last_only() {
    let bytes = frame(DATA, END_STREAM, 7, b"abcdef");
    let mut r = FrameReader::new();
    let mut pieces = Vec::new();
    for chunk in bytes.chunks(11) {
        r.feed(chunk, |e| {
            if let Event::Data(d) = e {
                pieces.push((d.bytes.to_vec(), d.first, d.last, d.end_stream));
            }
        });
    }
    // 9 header bytes + 2 payload bytes, then 4 payload bytes.
    assert_eq!(
        pieces,
        [
            (b"ab".to_vec(), true, false, false),
            (b"cdef".to_vec(), false, true, true)
        ]
    );
}

#[test]
fn padding_is_stripped() {
    let bytes = padded(DATA, END_STREAM, 1, &[], b"body", 200);
    assert_eq!(without_headers(read(&bytes)), [data(1, b"body", true)]);
    // Padding filling the whole payload: an empty piece.
    let bytes = padded(DATA, 0, 1, &[], b"", 9);
    assert_eq!(without_headers(read(&bytes)), [data(1, b"", false)]);
    // A pad length of 0 is just the byte.
    let bytes = padded(HEADERS, END_HEADERS, 1, &[], b"\x82", 0);
    let want = fragment(1, FragmentOf::Headers, b"\x82", END_HEADERS);
    assert_eq!(without_headers(read(&bytes)), [want]);
}

#[test]
fn end_stream_comes_before_the_padding_arrives() {
    // The last data piece is handed out as soon as the data ends, padding still to come.
    let bytes = padded(DATA, END_STREAM, 1, &[], b"xy", 50);
    let mut r = FrameReader::new();
    let mut c = Collect::default();
    r.feed(&bytes[..9 + 1 + 2], |e| c.event(e));
    assert_eq!(without_headers(c.got), [data(1, b"xy", true)]);
    assert!(!r.at_boundary());
    r.feed(&bytes[12..], |_| panic!("padding gives no event"));
    assert!(r.at_boundary());
}

#[test]
fn priority_fields_are_stripped() {
    let bytes = frame(
        HEADERS,
        PRIORITY | END_HEADERS,
        3,
        &[&priority_fields(1, 255)[..], b"\x82\x84"].concat(),
    );
    let want = fragment(3, FragmentOf::Headers, b"\x82\x84", END_HEADERS);
    assert_eq!(without_headers(read(&bytes)), std::slice::from_ref(&want));
    // Padded and with priority: pad length, then priority, then the fragment.
    let bytes = padded(
        HEADERS,
        PRIORITY | END_HEADERS,
        3,
        &priority_fields(1, 9),
        b"\x82\x84",
        7,
    );
    assert_eq!(without_headers(read(&bytes)), [want]);
}

#[test]
fn continuation_joins_the_stream_of_its_headers() {
    let mut bytes = frame(HEADERS, END_STREAM, 5, b"\x82");
    bytes.extend(frame(CONTINUATION, 0, 5, b""));
    bytes.extend(frame(CONTINUATION, END_HEADERS, 5, b"\x84"));
    bytes.extend(frame(DATA, 0, 5, b"!"));
    assert_eq!(
        without_headers(read(&bytes)),
        [
            // END_STREAM rides on the HEADERS frame's last piece; END_HEADERS on the last
            // CONTINUATION's.
            fragment(5, FragmentOf::Headers, b"\x82", END_STREAM),
            fragment(5, FragmentOf::Continuation, b"", 0),
            fragment(5, FragmentOf::Continuation, b"\x84", END_HEADERS),
            data(5, b"!", false),
        ]
    );
    let mut r = FrameReader::new();
    r.feed(&bytes[..10], |_| {});
    assert!(r.in_header_block());
}

#[test]
fn push_promise_gives_the_promised_stream() {
    let mut bytes = frame(
        PUSH_PROMISE,
        0,
        1,
        &[&0x8000_0002u32.to_be_bytes()[..], b"\x82"].concat(),
    );
    bytes.extend(frame(CONTINUATION, END_HEADERS, 1, b"\x87"));
    let of = FragmentOf::PushPromise { promised: 2 };
    assert_eq!(
        without_headers(read(&bytes)),
        [
            fragment(1, of, b"\x82", 0),
            fragment(1, FragmentOf::Continuation, b"\x87", END_HEADERS)
        ]
    );
}

#[test]
fn settings_each_parameter_then_ack() {
    let mut payload = Vec::new();
    for (id, value) in [
        (1u16, 65536u32),
        (3, 100),
        (4, 1 << 20),
        (5, 1 << 20),
        (0xabcd, 7),
    ] {
        payload.extend(id.to_be_bytes());
        payload.extend(value.to_be_bytes());
    }
    let mut bytes = frame(SETTINGS, 0, 0, &payload);
    bytes.extend(frame(SETTINGS, 0, 0, b""));
    bytes.extend(frame(SETTINGS, 0x1, 0, b""));
    assert_eq!(
        without_headers(read(&bytes)),
        [
            Got::Setting(1, 65536),
            Got::Setting(3, 100),
            Got::Setting(4, 1 << 20),
            Got::Setting(5, 1 << 20),
            Got::Setting(0xabcd, 7),
            Got::SettingsAck,
        ]
    );
}

#[test]
fn rst_stream_and_goaway() {
    let mut bytes = frame(RST_STREAM, 0, 9, &0x8u32.to_be_bytes());
    let mut goaway = 0xffff_ffffu32.to_be_bytes().to_vec();
    goaway.extend(0x2u32.to_be_bytes());
    bytes.extend(frame(GOAWAY, 0, 0, &goaway));
    assert_eq!(
        without_headers(read(&bytes)),
        [Got::Rst(9, 8), Got::GoAway(0x7fff_ffff, 2)]
    );
}

#[test]
fn skipped_types_give_only_their_header() {
    let mut bytes = frame(PING, 0x1, 0, b"abcdefgh");
    bytes.extend(frame(PRIORITY_FRAME, 0, 1, &priority_fields(0, 1)));
    bytes.extend(frame(WINDOW_UPDATE, 0, 1, &1u32.to_be_bytes()));
    bytes.extend(frame(0x10, 0, 0, b"priority_update"));
    bytes.extend(frame(0xff, 0xff, 77, &[0; 1000]));
    let got = read(&bytes);
    let kinds: Vec<FrameType> = got
        .iter()
        .map(|g| match g {
            Got::Frame(h) => h.kind,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            FrameType::Ping,
            FrameType::Priority,
            FrameType::WindowUpdate,
            FrameType::Unknown(0x10),
            FrameType::Unknown(0xff)
        ]
    );
}

#[test]
fn reserved_bit_is_ignored() {
    let bytes = frame(DATA, 0, 0x8000_0001, b"z");
    assert_eq!(without_headers(read(&bytes)), [data(1, b"z", false)]);
}

#[test]
fn zero_length_frame_at_the_end_of_input_is_not_delayed() {
    // A DATA frame with only END_STREAM, last in the segment: its event comes now.
    let bytes = frame(DATA, END_STREAM, 1, b"");
    let mut r = FrameReader::new();
    let mut c = Collect::default();
    assert_eq!(r.feed(&bytes, |e| c.event(e)), 9);
    assert_eq!(without_headers(c.got), [data(1, b"", true)]);
    assert!(r.at_boundary());
}

#[test]
fn max_frame_size_can_grow() {
    let big = vec![7u8; 20_000];
    let bytes = frame(DATA, 0, 1, &big);
    assert_eq!(
        without_headers(read(&bytes)),
        [Got::Error(FrameError::TooLarge)]
    );
    let mut r = FrameReader::new();
    assert_eq!(r.max_frame_size(), DEFAULT_MAX_FRAME_SIZE);
    r.set_max_frame_size(1 << 20);
    let (got, consumed) = read_with(&mut r, &bytes, &[5000]);
    assert_eq!(
        (without_headers(got), consumed),
        (vec![data(1, &big, false)], bytes.len())
    );
    // Clamped to the protocol's range.
    r.set_max_frame_size(0);
    assert_eq!(r.max_frame_size(), DEFAULT_MAX_FRAME_SIZE);
    r.set_max_frame_size(u32::MAX);
    assert_eq!(r.max_frame_size(), (1 << 24) - 1);
}

#[test]
fn resume_skips_a_block_started_before() {
    // Mid-connection: the first frames continue a header block whose HEADERS was missed.
    let mut bytes = frame(CONTINUATION, 0, 7, b"lost");
    bytes.extend(frame(CONTINUATION, END_HEADERS, 7, b"lost too"));
    bytes.extend(frame(HEADERS, END_HEADERS, 9, b"\x82"));
    let mut r = FrameReader::new();
    r.resume();
    let (got, consumed) = read_with(&mut r, &bytes, &[]);
    assert_eq!(consumed, bytes.len());
    let want = fragment(9, FragmentOf::Headers, b"\x82", END_HEADERS);
    assert_eq!(without_headers(got), [want]);
    // Once another frame came, a CONTINUATION is an error again.
    let bytes = frame(CONTINUATION, END_HEADERS, 9, b"");
    let (got, _) = read_with(&mut r, &bytes, &[]);
    assert_eq!(got, [Got::Error(FrameError::ContinuationUnexpected)]);
}

#[test]
fn resume_orphan_continuations_stay_on_their_stream() {
    let mut bytes = frame(CONTINUATION, 0, 7, b"lost");
    bytes.extend(frame(DATA, 0, 7, b"x"));
    let mut r = FrameReader::new();
    r.resume();
    let (got, consumed) = read_with(&mut r, &bytes, &[]);
    assert_eq!(
        without_headers(got),
        [Got::Error(FrameError::ContinuationExpected)]
    );
    assert_eq!(consumed, bytes.len() - 1);
}

#[test]
fn resume_after_an_error() {
    let mut bytes = frame(RST_STREAM, 0, 1, &[0; 5]);
    let good = frame(DATA, 0, 1, b"ok");
    let mut r = FrameReader::new();
    let (got, consumed) = read_with(&mut r, &bytes, &[]);
    assert_eq!(
        (got, consumed),
        (vec![Got::Error(FrameError::BadLength)], 9)
    );
    // Lost: nothing is consumed, no event.
    assert_eq!(r.feed(&good, |e| panic!("{e:?}")), 0);
    assert!(r.is_lost());
    r.resume();
    bytes.clear();
    let (got, _) = read_with(&mut r, &good, &[]);
    assert_eq!(without_headers(got), [data(1, b"ok", false)]);
}

#[test]
fn state_is_small() {
    // What a direction costs, whatever its frames: see the module doc.
    let size = std::mem::size_of::<FrameReader>();
    assert!(size <= 48, "{size} bytes");
}

#[test]
fn frame_header_split_across_pieces() {
    // 9 header bytes in 4 pieces (2 + 3 + 1 + 3), then the payload in 2.
    let bytes = frame(HEADERS, END_HEADERS | END_STREAM, 11, b"\x82\x86\x84");
    let (got, consumed) = read_cut(&bytes, &[2, 5, 6, 9, 10]);
    assert_eq!(consumed, bytes.len());
    let want = fragment(
        11,
        FragmentOf::Headers,
        b"\x82\x86\x84",
        END_HEADERS | END_STREAM,
    );
    assert_eq!(without_headers(got), [want]);
    // Nothing comes out before the header is whole.
    let mut r = FrameReader::new();
    assert_eq!(r.feed(&bytes[..8], |e| panic!("{e:?}")), 8);
    assert!(!r.at_boundary());
}
