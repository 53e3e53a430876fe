//! Reading HTTP/2 allocates nothing: a counting global allocator around the frame reader, the
//! header block assembler, the HPACK decoder, the boundary finder and gRPC's helpers, over
//! the recorded gRPC connection (tests/data/h2/grpc.pcap) and the same bytes cut at every
//! 7th byte, from the start and from a boundary found mid-connection.
//!
//! A test binary of its own, with a single test, so that nothing else allocates meanwhile.

mod support;

use pcap_sensor::http2::frame::{
    Boundary, DEFAULT_MAX_FRAME_SIZE, Event, FrameReader, find_boundary,
};
use pcap_sensor::http2::hpack::{self, Decoder, storage_len};
use pcap_sensor::http2::{Assembled, BlockAssembler, grpc, preface};

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::allocations;

/// One direction's state, reserved up front as a connection slot would be.
struct Direction {
    reader: FrameReader,
    blocks: BlockAssembler<Box<[u8]>>,
    decoder: Decoder<Box<[u8]>>,
    /// gRPC message counters for streams 1..=31 (odd ones used).
    messages: [grpc::MessageCounter; 32],
}

impl Direction {
    fn new() -> Self {
        Direction {
            reader: FrameReader::new(),
            blocks: BlockAssembler::new(vec![0u8; 16 * 1024].into_boxed_slice()),
            decoder: Decoder::new(vec![0u8; storage_len(4096)].into_boxed_slice(), 4096).unwrap(),
            messages: [grpc::MessageCounter::new(); 32],
        }
    }

    fn start(&mut self) {
        self.reader = FrameReader::new();
        self.blocks.reset();
        self.decoder.start(4096);
        self.messages = [grpc::MessageCounter::new(); 32];
    }

    /// Reads `bytes` cut every `cut` bytes; counts into `tally`.
    fn read(&mut self, bytes: &[u8], cut: usize, scratch: &mut [u8], tally: &mut Tally) {
        let Direction {
            reader,
            blocks,
            decoder,
            messages,
        } = self;
        for piece in bytes.chunks(cut) {
            let used = reader.feed(piece, |event| match event {
                Event::Fragment(f) => {
                    if let Assembled::Complete { block, .. } = blocks.push(&f) {
                        let (mut status, mut message) = (None, [0u8; 64]);
                        decoder
                            .decode(block, scratch, |e| {
                                let hpack::Event::Field(f) = e else { return };
                                tally.fields += 1;
                                match (f.name.known(), f.value.known()) {
                                    (Some(b":path"), Some(v)) => {
                                        tally.rpcs += usize::from(grpc::split_path(v).is_some());
                                    }
                                    (Some(b"grpc-status"), Some(v)) => {
                                        status = grpc::parse_status(v)
                                    }
                                    (Some(b"grpc-message"), Some(v)) => {
                                        tally.message_bytes +=
                                            grpc::percent_decode(v, &mut message).len;
                                    }
                                    (Some(b"content-type"), Some(v)) => {
                                        tally.grpc += usize::from(grpc::content_type(v).is_some());
                                    }
                                    _ => {}
                                }
                            })
                            .unwrap();
                        tally.statuses += usize::from(status.is_some());
                    }
                }
                Event::Data(d) => {
                    if let Some(m) = messages.get_mut(d.stream as usize) {
                        tally.messages += m.feed(d.bytes) as usize;
                    }
                }
                Event::Error(e) => panic!("{e}"),
                _ => {}
            });
            assert_eq!(used, piece.len());
        }
    }
}

#[derive(Default, Debug, PartialEq, Eq, Clone, Copy)]
struct Tally {
    fields: usize,
    rpcs: usize,
    grpc: usize,
    statuses: usize,
    message_bytes: usize,
    messages: usize,
    found: usize,
}

#[test]
fn reading_http2_does_not_allocate() {
    // Everything is reserved here, before counting.
    let dirs = support::h2::tcp_directions(&support::h2::data("grpc.pcap"));
    let mut streams: Vec<Vec<u8>> = dirs.values().map(|d| d.runs[0].bytes()).collect();
    assert_eq!(streams.len(), 2);
    streams.sort_by_key(|s| preface::check(s) != preface::Preface::Complete);
    let client = &streams[0][preface::PREFACE.len()..];
    let server = &streams[1][..];
    let mut directions = [Direction::new(), Direction::new()];
    let mut scratch = vec![0u8; 16 * 1024];
    let mut tallies = [Tally::default(); 3];

    let before = allocations();
    for (round, cut) in [usize::MAX, 7, 1].into_iter().enumerate() {
        let tally = &mut tallies[round];
        for (dir, bytes) in directions.iter_mut().zip([client, server]) {
            dir.start();
            dir.read(bytes, cut, &mut scratch, tally);
        }
        // Mid-connection: from the first boundary found after byte 100 of the server's bytes.
        let (dir, bytes) = (&mut directions[1], &server[100..]);
        if let Boundary::Found(at) = find_boundary(bytes, DEFAULT_MAX_FRAME_SIZE) {
            tally.found += 1;
            dir.reader.resume();
            dir.blocks.reset();
            dir.decoder.forget();
            dir.read(&bytes[at..], cut, &mut scratch, &mut Tally::default());
        }
    }
    let after = allocations();

    assert_eq!(after - before, 0, "allocations while reading");
    assert_eq!(tallies[0], tallies[1]);
    assert_eq!(tallies[0], tallies[2]);
    let t = tallies[0];
    // 7 calls: 7 paths, both directions' content types, 7 statuses, 10 request and 8 response
    // messages, the two error messages.
    assert_eq!(
        (t.rpcs, t.grpc, t.statuses, t.found),
        (7, 14, 7, 1),
        "{t:?}"
    );
    let errors = "no such item: café 100%".len() + "broke after one".len();
    assert_eq!((t.messages, t.message_bytes), (18, errors), "{t:?}");
}
