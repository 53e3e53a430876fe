//! HTTP/2 frame reading, header block assembly, HPACK and gRPC framing on real traffic
//! recorded on loopback (tests/data/h2/, scripts beside the captures say what produced them),
//! and frame boundary finding started at every byte offset of those byte streams (and of the
//! cleartext HTTP/2 in the shared corpus, when present).

mod support;

use std::collections::BTreeMap;

use pcap_sensor::http2::frame::{
    Boundary, Event, FrameReader, FrameType, HEADER_LEN, PADDED, PRIORITY, find_boundary,
};
use pcap_sensor::http2::hpack::{self, Decoder, Text, storage_len};
use pcap_sensor::http2::{Assembled, BlockAssembler, BlockOf, grpc, preface};
use support::h2::{Run, data, reverse, tcp_directions};

/// A header field; None for a name or value HPACK could not know.
type Field = (Option<Vec<u8>>, Option<Vec<u8>>);

/// A direction read from its first frame.
#[derive(Default, Debug)]
struct Read {
    /// (stream, opening frame, fields) of every header block, in order.
    blocks: Vec<(u32, BlockOf, Vec<Field>)>,
    /// DATA per stream, joined, and whether END_STREAM came.
    data: BTreeMap<u32, (Vec<u8>, bool)>,
    /// gRPC message counters per stream.
    messages: BTreeMap<u32, grpc::MessageCounter>,
    /// Frames by type octet.
    frames: BTreeMap<u8, usize>,
    padded: usize,
    priority: usize,
    resets: Vec<(u32, u32)>,
    goaways: usize,
    settings: Vec<(u16, u32)>,
}

/// Reads a direction's bytes (the client's after its preface) segment by segment through
/// FrameReader, BlockAssembler and an HPACK decoder started at the connection's start.
fn read_direction(segments: &[&[u8]]) -> Read {
    let mut reader = FrameReader::new();
    let mut blocks = BlockAssembler::new(vec![0u8; 64 * 1024]);
    let mut decoder = Decoder::new(vec![0u8; storage_len(4096)], 4096).unwrap();
    decoder.start(4096);
    let mut scratch = vec![0u8; 64 * 1024];
    let mut out = Read::default();
    for segment in segments {
        let used = reader.feed(segment, |event| match event {
            Event::Frame(h) => {
                *out.frames.entry(h.kind.to_u8()).or_default() += 1;
                let carries = matches!(h.kind, FrameType::Data | FrameType::Headers);
                out.padded += usize::from(carries && h.has(PADDED));
                out.priority += usize::from(h.kind == FrameType::Headers && h.has(PRIORITY));
            }
            Event::Fragment(f) => match blocks.push(&f) {
                Assembled::Pending => {}
                Assembled::Complete { stream, of, block } => {
                    let mut fields = Vec::new();
                    decoder
                        .decode(block, &mut scratch, |e| {
                            if let hpack::Event::Field(f) = e {
                                let own = |t: Text<'_>| t.known().map(<[u8]>::to_vec);
                                fields.push((own(f.name), own(f.value)));
                            }
                        })
                        .expect("every header block decodes");
                    out.blocks.push((stream, of, fields));
                }
                Assembled::TooLarge { .. } => panic!("a block over 64 KiB"),
            },
            Event::Data(d) => {
                let entry = out.data.entry(d.stream).or_default();
                entry.0.extend_from_slice(d.bytes);
                entry.1 |= d.end_stream;
                out.messages.entry(d.stream).or_default().feed(d.bytes);
            }
            Event::RstStream { stream, code } => out.resets.push((stream, code)),
            Event::GoAway { .. } => out.goaways += 1,
            Event::Setting { id, value } => out.settings.push((id, value)),
            Event::SettingsAck => {}
            Event::Error(e) => panic!("protocol error {e} in recorded traffic"),
        });
        assert_eq!(used, segment.len());
    }
    assert!(reader.at_boundary(), "the direction ends inside a frame");
    out
}

/// A recorded connection: the client's and the server's direction (one run each, from the
/// connection's first byte).
struct Connection {
    client: Run,
    server: Run,
}

fn connections(capture: &str) -> Vec<Connection> {
    let mut dirs = tcp_directions(&data(capture));
    let keys: Vec<_> = dirs.keys().copied().collect();
    let mut out = Vec::new();
    for key in keys {
        let starts_with_preface = dirs[&key]
            .runs
            .first()
            .is_some_and(|r| preface::check(&r.bytes()) == preface::Preface::Complete);
        if !starts_with_preface {
            continue;
        }
        let mut client = dirs.remove(&key).unwrap();
        let mut server = dirs.remove(&reverse(&key)).expect("both directions");
        assert_eq!(
            (client.runs.len(), server.runs.len()),
            (1, 1),
            "a gap in {capture}"
        );
        out.push(Connection {
            client: client.runs.remove(0),
            server: server.runs.remove(0),
        });
    }
    out
}

/// A run's segments, the first `skip` bytes left out.
fn segments(run: &Run, skip: usize) -> Vec<&[u8]> {
    let mut left = skip;
    let mut out = Vec::new();
    for s in &run.segments {
        let cut = left.min(s.len());
        left -= cut;
        if cut < s.len() {
            out.push(&s[cut..]);
        }
    }
    out
}

fn field<'a>(fields: &'a [Field], name: &str) -> Option<&'a [u8]> {
    fields.iter().find_map(|(n, v)| {
        (n.as_deref() == Some(name.as_bytes()))
            .then_some(v.as_deref())
            .flatten()
    })
}

#[test]
fn nghttp2_traffic_reads_and_decodes() {
    let conns = connections("nghttp2.pcap");
    // 3 nghttp runs, 2 h2load connections, curl: see record.sh.
    assert_eq!(conns.len(), 6);
    let mut paths = Vec::new();
    let mut totals: BTreeMap<u8, usize> = BTreeMap::new();
    let (mut padded, mut priority, mut fields, mut known) = (0, 0, 0, 0);
    for c in &conns {
        let client = read_direction(&segments(&c.client, preface::PREFACE.len()));
        let server = read_direction(&segments(&c.server, 0));
        for (stream, of, f) in client.blocks.iter().chain(&server.blocks) {
            fields += f.len();
            known += f.iter().filter(|(n, v)| n.is_some() && v.is_some()).count();
            let pushed = matches!(of, BlockOf::PushPromise { .. });
            if let Some(path) = field(f, ":path") {
                paths.push((*stream, pushed, String::from_utf8_lossy(path).into_owned()));
            }
        }
        for r in [&client, &server] {
            for (k, n) in &r.frames {
                *totals.entry(*k).or_default() += n;
            }
            padded += r.padded;
            priority += r.priority;
        }
        // Every request the client ended got a response that ended (pushed streams too).
        for (stream, (_, end)) in &server.data {
            assert!(*end, "stream {stream} not ended");
        }
    }
    // Known from the start of each connection, every field decodes; as many as tshark 4.0
    // shows (`-d tcp.port==18080,http2 -T fields -e http2.header.name`).
    assert_eq!((known, fields), (251, 251));
    println!("frames by type: {totals:?}; padded {padded}; priority {priority}; fields {fields}");
    let requested = |p: &str| paths.iter().filter(|(_, _, q)| q == p).count();
    assert_eq!(requested("/index.html"), 1 + 4);
    assert_eq!(requested("/blob.bin"), 4);
    assert_eq!(requested("/data.json"), 2 + 4);
    assert_eq!((requested("/zeros.bin"), requested("/ints.bin")), (1, 1));
    // /style.css: pushed once (PUSH_PROMISE), fetched by curl once.
    assert!(
        paths
            .iter()
            .any(|(_, pushed, p)| *pushed && p == "/style.css"),
        "{paths:?}"
    );
    assert_eq!(requested("/style.css"), 2);
    // Frames by type, as tshark 4.0 counts them (`-e http2.type`): DATA, HEADERS, PRIORITY,
    // SETTINGS, PUSH_PROMISE, GOAWAY, WINDOW_UPDATE, CONTINUATION.
    let want = [
        (0, 24),
        (1, 37),
        (2, 10),
        (4, 22),
        (5, 1),
        (7, 5),
        (8, 3),
        (9, 2),
    ];
    assert_eq!(totals, BTreeMap::from(want));
    assert!(padded > 0 && priority > 0);
}

/// Per call of the recorded gRPC channel: path, request and response messages, status,
/// decoded grpc-message.
#[test]
fn grpc_traffic_calls() {
    let conns = connections("grpc.pcap");
    assert_eq!(conns.len(), 1);
    let c = &conns[0];
    let client = read_direction(&segments(&c.client, preface::PREFACE.len()));
    let server = read_direction(&segments(&c.server, 0));
    let mut calls = Vec::new();
    for (stream, _, fields) in &client.blocks {
        let path = field(fields, ":path").unwrap();
        let rpc = grpc::split_path(path).unwrap();
        assert_eq!(
            grpc::content_type(field(fields, "content-type").unwrap()),
            Some(grpc::ContentType::Grpc)
        );
        // The status: in the last block of the response (trailers, or trailers-only).
        let response: Vec<_> = server.blocks.iter().filter(|b| b.0 == *stream).collect();
        let trailers = &response.last().unwrap().2;
        let status = grpc::parse_status(field(trailers, "grpc-status").unwrap()).unwrap();
        let mut message = [0u8; 64];
        let raw = field(trailers, "grpc-message").unwrap_or_default();
        let decoded = grpc::percent_decode(raw, &mut message);
        assert!(decoded.complete);
        let count = |r: &Read| r.messages.get(stream).map_or(0, |m| m.messages());
        let compressed = client.messages.get(stream).map_or(0, |m| m.compressed());
        for r in [&client, &server] {
            assert!(!r.messages.get(stream).is_some_and(|m| m.in_message()));
        }
        calls.push((
            String::from_utf8_lossy(rpc.service).into_owned(),
            String::from_utf8_lossy(rpc.method).into_owned(),
            count(&client),
            compressed,
            count(&server),
            response.len(),
            grpc::Code::from_u32(status).unwrap().name(),
            String::from_utf8(message[..decoded.len].to_vec()).unwrap(),
        ));
    }
    let want = [
        ("Unary", 1, 0, 1, 2, "OK", ""),
        ("Unary", 1, 1, 1, 2, "OK", ""),
        ("Stream", 1, 0, 3, 2, "OK", ""),
        ("Collect", 4, 0, 1, 2, "OK", ""),
        // Trailers-only: one header block, no message.
        ("Fail", 1, 0, 0, 1, "NOT_FOUND", "no such item: café 100%"),
        ("Late", 1, 0, 1, 2, "INTERNAL", "broke after one"),
        ("Unary", 1, 0, 1, 2, "OK", ""),
    ];
    let want: Vec<_> = want
        .iter()
        .map(|&(method, req, z, resp, blocks, status, msg)| {
            (
                "demo.Echo".to_string(),
                method.to_string(),
                req,
                z,
                resp,
                blocks,
                status,
                msg.to_string(),
            )
        })
        .collect();
    assert_eq!(calls, want);
    assert!(grpc::Code::from_u32(13).unwrap().is_server_error());
    assert!(!grpc::Code::from_u32(5).unwrap().is_server_error());
}

/// Frame start offsets of a direction's frames from `from`.
fn boundaries(bytes: &[u8], from: usize) -> Vec<usize> {
    let mut at = from;
    let mut out = Vec::new();
    while at + HEADER_LEN <= bytes.len() {
        out.push(at);
        let len = u32::from_be_bytes([0, bytes[at], bytes[at + 1], bytes[at + 2]]);
        at += HEADER_LEN + len as usize;
    }
    assert_eq!(at, bytes.len(), "frames end with the direction");
    out
}

/// What the finder does started at every offset of a byte stream.
#[derive(Default, Debug)]
struct Resync {
    starts: usize,
    /// Found a position that is not a frame boundary.
    wrong: usize,
    /// Found the first boundary at or after the start.
    first: usize,
    /// Found a later boundary: the frames skipped, in all.
    frames_skipped: usize,
    /// Found nothing before the stream ended.
    never: usize,
    /// Never found, by frames starting after the start: 0, 1, 2, 3, 4 or more.
    never_by_frames_left: [usize; 5],
    /// Bytes past the found boundary that had to arrive first, at most.
    max_wait: usize,
}

/// Starts the finder at every offset of `bytes` (frames start at `truth`), offering bytes
/// as they arrived: up to the end of the start's segment, then segment by segment.
fn resync(bytes: &[u8], ends: &[usize], truth: &[usize], max: u32, r: &mut Resync) {
    let first_frame = truth[0];
    let n = bytes.len();
    // answer[s]: (found, end of the bytes offered when found).
    let mut answer: Vec<Option<(usize, usize)>> = vec![None; n];
    let mut unresolved = first_frame;
    for &end in ends.iter().filter(|&&e| e > first_frame) {
        // Positions unresolved so far are a suffix: [unresolved, end).
        let mut s = unresolved;
        while s < end {
            match find_boundary(&bytes[s..end], max) {
                Boundary::Found(p) => {
                    for a in &mut answer[s..=s + p] {
                        *a = Some((s + p, end));
                    }
                    s += p + 1;
                }
                Boundary::Skip(_) | Boundary::NeedMore => break,
            }
        }
        unresolved = s;
    }
    for (s, a) in answer.iter().enumerate().skip(first_frame) {
        r.starts += 1;
        let next_true = truth.partition_point(|&b| b < s);
        match a {
            None => {
                let left = truth.len() - next_true;
                r.never += 1;
                r.never_by_frames_left[left.min(4)] += 1;
            }
            Some((found, end)) => match truth.binary_search(found) {
                Err(_) => r.wrong += 1,
                Ok(i) => {
                    if i == next_true {
                        r.first += 1;
                    }
                    r.frames_skipped += i - next_true;
                    r.max_wait = r.max_wait.max(end - found);
                }
            },
        }
    }
}

fn resync_capture(capture: &str, r: &mut Resync) {
    for c in connections(capture) {
        for (run, skip) in [(&c.client, preface::PREFACE.len()), (&c.server, 0)] {
            let bytes = run.bytes();
            let truth = boundaries(&bytes, skip);
            resync(&bytes, &run.segment_ends(), &truth, 16_384, r);
        }
    }
}

/// The longest prefix of `bytes[from..]` that FrameReader reads without error and that ends
/// at a frame boundary: its frame starts, and its end.
fn valid_frames(bytes: &[u8], from: usize) -> (Vec<usize>, usize) {
    let mut reader = FrameReader::new();
    let used = from + reader.feed(&bytes[from..], |_| {});
    let (mut truth, mut at) = (Vec::new(), from);
    while at + HEADER_LEN <= used {
        let len = u32::from_be_bytes([0, bytes[at], bytes[at + 1], bytes[at + 2]]);
        let end = at + HEADER_LEN + len as usize;
        if end > used || reader.is_lost() && end == used {
            break;
        }
        truth.push(at);
        at = end;
    }
    (truth, at)
}

/// The cleartext HTTP/2 of the shared corpus: every connection whose client sent the
/// preface (with prior knowledge or after an Upgrade), both directions from their first
/// frame, each up to its first gap or protocol error.
fn resync_corpus(r: &mut Resync) -> usize {
    let root = support::h2::corpus_dir();
    let mut streams = 0;
    for path in support::h2::captures(&root) {
        let dirs = tcp_directions(&path);
        for (key, dir) in &dirs {
            let Some(run) = dir.runs.first() else {
                continue;
            };
            let bytes = run.bytes();
            let Some(at) = bytes.windows(24).position(|w| w == preface::PREFACE) else {
                continue;
            };
            let mut directions = vec![(run, at + preface::PREFACE.len())];
            if let Some(server) = dirs.get(&reverse(key)).and_then(|d| d.runs.first()) {
                let head = server.bytes();
                // After an Upgrade, frames follow the 101 response's head.
                let from = if head.starts_with(b"HTTP/1.1 101") {
                    head.windows(4)
                        .position(|w| w == b"\r\n\r\n")
                        .map(|p| p + 4)
                } else {
                    Some(0)
                };
                directions.extend(from.map(|f| (server, f)));
            }
            for (run, from) in directions {
                let bytes = run.bytes();
                let (truth, end) = valid_frames(&bytes, from);
                if truth.len() < 2 {
                    continue;
                }
                let ends: Vec<usize> = run.segment_ends().into_iter().map(|e| e.min(end)).collect();
                resync(&bytes[..end], &ends, &truth, 16_384, r);
                streams += 1;
            }
        }
    }
    streams
}

#[test]
fn resync_from_every_offset_of_corpus_http2() {
    let mut r = Resync::default();
    let streams = resync_corpus(&mut r);
    println!("corpus HTTP/2: {streams} directions: {r:?}");
    assert_eq!(r.wrong, 0, "{r:?}");
    // Only the last frames of a connection go unfound: at most 2 of them (an empty DATA
    // frame does not start a chain, and one frame alone is too little).
    assert_eq!(r.never_by_frames_left[3..], [0; 2], "{r:?}");
}

#[test]
fn resync_from_every_offset_of_recorded_traffic() {
    for capture in ["nghttp2.pcap", "grpc.pcap"] {
        let mut r = Resync::default();
        resync_capture(capture, &mut r);
        println!("{capture}: {r:?}");
        assert_eq!(r.wrong, 0, "{capture}: {r:?}");
        // Found whenever 2 frames are left, nearly always the very next frame.
        assert_eq!(r.never_by_frames_left[2..], [0; 3], "{capture}: {r:?}");
        let found = r.starts - r.never;
        assert!(r.first * 100 >= found * 98, "{capture}: {r:?}");
    }
}
