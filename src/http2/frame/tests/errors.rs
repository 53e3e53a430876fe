//! Protocol errors: each reported once as an event, after the events of the frames before
//! it, at the byte that shows it, whatever the cuts; nothing consumed afterwards.

use super::*;

/// (what, bytes, error, bytes consumed when the error is reported)
fn cases() -> Vec<(&'static str, Vec<u8>, FrameError, usize)> {
    use FrameError::*;
    let ok = frame(DATA, 0, 1, b"ok");
    let n = ok.len();
    let with_ok = |bad: Vec<u8>| [ok.clone(), bad].concat();
    vec![
        (
            "data too large",
            with_ok(frame(DATA, 0, 1, &[0; 16_385])),
            TooLarge,
            n + 9,
        ),
        (
            "rst of 5",
            with_ok(frame(RST_STREAM, 0, 1, &[0; 5])),
            BadLength,
            n + 9,
        ),
        ("rst of 3", frame(RST_STREAM, 0, 1, &[0; 3]), BadLength, 9),
        ("ping of 7", frame(PING, 0, 0, &[0; 7]), BadLength, 9),
        (
            "priority of 4",
            frame(PRIORITY_FRAME, 0, 1, &[0; 4]),
            BadLength,
            9,
        ),
        (
            "window update of 5",
            frame(WINDOW_UPDATE, 0, 1, &[0; 5]),
            BadLength,
            9,
        ),
        (
            "settings of 5",
            frame(SETTINGS, 0, 0, &[0; 5]),
            BadLength,
            9,
        ),
        (
            "settings ack with payload",
            frame(SETTINGS, 1, 0, &[0; 6]),
            BadLength,
            9,
        ),
        ("goaway of 7", frame(GOAWAY, 0, 0, &[0; 7]), BadLength, 9),
        (
            "padded data, empty",
            frame(DATA, PADDED, 1, b""),
            BadLength,
            9,
        ),
        (
            "headers priority of 4",
            frame(HEADERS, PRIORITY, 1, &[0; 4]),
            BadLength,
            9,
        ),
        (
            "push promise of 3",
            frame(PUSH_PROMISE, 0, 1, &[0; 3]),
            BadLength,
            9,
        ),
        // Pad length 9 with 3 bytes after it.
        (
            "data padding",
            frame(DATA, PADDED, 1, &[9, 0, 0, 0]),
            Padding,
            10,
        ),
        // Pad length equal to the payload length.
        (
            "data padding = len",
            frame(DATA, PADDED, 1, &[4, 0, 0, 0]),
            Padding,
            10,
        ),
        // 1 + 5 + 3: pad length 4 leaves no room for the priority fields and padding.
        (
            "headers padding after priority",
            frame(HEADERS, PADDED | PRIORITY, 1, &[4, 0, 0, 0, 0, 0, 0, 0, 0]),
            Padding,
            10,
        ),
        (
            "push promise padding after promised",
            frame(PUSH_PROMISE, PADDED, 1, &[2, 0, 0, 0, 2, 0]),
            Padding,
            10,
        ),
        ("data on stream 0", frame(DATA, 0, 0, b"x"), StreamZero, 9),
        (
            "headers on stream 0",
            frame(HEADERS, END_HEADERS, 0, b"x"),
            StreamZero,
            9,
        ),
        (
            "rst on stream 0",
            frame(RST_STREAM, 0, 0, &[0; 4]),
            StreamZero,
            9,
        ),
        (
            "priority on stream 0",
            frame(PRIORITY_FRAME, 0, 0, &[0; 5]),
            StreamZero,
            9,
        ),
        (
            "continuation on stream 0",
            frame(CONTINUATION, 0, 0, b""),
            StreamZero,
            9,
        ),
        (
            "promised stream 0",
            frame(PUSH_PROMISE, 0, 1, &[0; 5]),
            StreamZero,
            13,
        ),
        (
            "settings on stream 1",
            frame(SETTINGS, 0, 1, b""),
            StreamNotZero,
            9,
        ),
        (
            "ping on stream 1",
            frame(PING, 0, 1, &[0; 8]),
            StreamNotZero,
            9,
        ),
        (
            "goaway on stream 1",
            frame(GOAWAY, 0, 1, &[0; 8]),
            StreamNotZero,
            9,
        ),
        (
            "data inside a header block",
            [frame(HEADERS, 0, 1, b"\x82"), frame(DATA, 0, 1, b"x")].concat(),
            ContinuationExpected,
            19,
        ),
        (
            "continuation of another stream",
            [
                frame(HEADERS, 0, 1, b"\x82"),
                frame(CONTINUATION, END_HEADERS, 3, b""),
            ]
            .concat(),
            ContinuationExpected,
            19,
        ),
        (
            "unknown frame inside a header block",
            [
                frame(PUSH_PROMISE, 0, 1, &[0, 0, 0, 2]),
                frame(0xfa, 0, 0, b""),
            ]
            .concat(),
            ContinuationExpected,
            22,
        ),
        (
            "continuation after a closed block",
            [
                frame(HEADERS, END_HEADERS, 1, b"\x82"),
                frame(CONTINUATION, 0, 1, b""),
            ]
            .concat(),
            ContinuationUnexpected,
            19,
        ),
        (
            "continuation first",
            frame(CONTINUATION, END_HEADERS, 1, b""),
            ContinuationUnexpected,
            9,
        ),
    ]
}

#[test]
fn each_error_once_at_the_byte_that_shows_it() {
    for (what, bytes, error, at) in cases() {
        let whole = read_cut(&bytes, &[]);
        assert_eq!(whole.0.last(), Some(&Got::Error(error)), "{what}");
        assert_eq!(whole.1, at, "{what}");
        let errors = whole
            .0
            .iter()
            .filter(|g| matches!(g, Got::Error(_)))
            .count();
        assert_eq!(errors, 1, "{what}");
        for cut in 0..=bytes.len().min(40) {
            assert_eq!(read_cut(&bytes, &[cut]), whole, "{what}, cut at {cut}");
        }
    }
}

#[test]
fn reserved_flags_and_bits_are_not_errors() {
    // Undefined flags and the reserved bit are ignored on receipt (§4.1).
    let bytes = frame(DATA, 0xf6, 0x8000_0003, b"x");
    assert_eq!(without_headers(read(&bytes)), [data(3, b"x", false)]);
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(12345);
    let mut buf = vec![0u8; 4096];
    for round in 0..3000 {
        let len = rng.below(buf.len());
        rng.fill(&mut buf[..len]);
        // Make plausible headers likelier: small lengths, known types.
        if round % 2 == 0 {
            for at in (0..len).step_by(13) {
                buf[at] = 0;
                if at + 3 < len {
                    buf[at + 3] %= 10;
                }
            }
        }
        let mut r = FrameReader::new();
        if round % 3 == 0 {
            r.resume();
        }
        let mut cut = 0;
        while cut < len {
            let to = (cut + 1 + rng.below(64)).min(len);
            let used = r.feed(&buf[cut..to], |_| {});
            if r.is_lost() {
                assert!(used <= to - cut);
                break;
            }
            assert_eq!(used, to - cut);
            cut = to;
        }
    }
}

#[test]
fn mutated_conversations_keep_the_piece_contract() {
    // Collect checks that pieces come in order with flags on the last, and read_with that
    // the reader stops early only after an error.
    let clean = conversation();
    let mut rng = Rng(0xdead_beef_cafe_f00d);
    for _ in 0..3000 {
        let mut bytes = clean.clone();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(bytes.len());
            bytes[at] = rng.next() as u8;
        }
        let mut cuts: Vec<usize> = (0..rng.below(8)).map(|_| rng.below(bytes.len())).collect();
        cuts.sort_unstable();
        let mut reader = FrameReader::new();
        if rng.below(2) == 0 {
            reader.resume();
        }
        let (got, consumed) = read_with(&mut reader, &bytes, &cuts);
        let errors = got.iter().filter(|g| matches!(g, Got::Error(_))).count();
        assert!(errors <= 1);
        assert_eq!(errors == 1, reader.is_lost());
        assert!(reader.is_lost() || consumed == bytes.len());
    }
}
