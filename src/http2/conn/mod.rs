//! An HTTP/2 connection as the sensor reads it: each direction's frames ([`FrameReader`]),
//! header blocks ([`BlockAssembler`]) and HPACK table ([`Decoder`]), and a fixed table of
//! the streams in flight (`streams`), each stream an exchange from its request's HEADERS to
//! the END_STREAM of both sides (or an RST_STREAM, a GOAWAY, the connection's end).
//!
//! A connection's state lives in a slot of the [`Pool`] reserved at start-up; the flow
//! slot of the TCP layer keeps only the slot's number (`proto`).
//!
//! # How a connection is read
//! - From its start ([`Start::Preface`], [`Start::Upgrade`]): the client's preface, then
//!   frames on both sides; both HPACK tables start empty and every field is known.
//! - From its middle ([`Start::Midway`]: the capture started late, a flow was evicted):
//!   each side looks for a frame boundary (`frame::find_boundary`) and reads on from
//!   there; its HPACK table knows nothing at first, so a field that refers to an entry
//!   made before is left out and counted, never guessed (`hpack`'s module notes). A
//!   stream whose `:path` cannot be known still becomes a trace (flagged partial).
//!   Responses may be read before their requests (a side still looking for a boundary
//!   holds its bytes): streams pair by id whichever side comes first.
//! - After a gap: inside a DATA frame's payload only that stream's body loses bytes;
//!   anywhere else the side looks for a boundary again and forgets its HPACK table (a lost
//!   header block may have changed it), and the open streams' messages on that side are
//!   marked truncated. A frame no valid sender writes does the same.
//!
//! # Frames and blocks
//! Frames are fed to the reader one at a time (their header, then their payload as it
//! comes), so that each knows the packet it started in. A header block is joined in the
//! side's [`BLOCK_BUF`] only when it comes in pieces; a HEADERS frame that ends its block
//! but is longer than that is held back in the reassembly window until it is whole (then
//! lent from the input, not copied). A block that cannot be read (longer than that, or
//! refused by HPACK) leaves its message with nothing known, counted.

mod head;
mod pool;
mod streams;

pub use head::{HEAD_MAX, SCRATCH, TABLE};
pub use pool::Pool;
pub use streams::MAX_STREAMS;

use crate::exchange::index::{self, ExtEnd, ExtHead, end, flags};
use crate::exchange::{Env, ExRef, Msg, ReqInfo};
use crate::http2::frame::{
    Boundary, DEFAULT_MAX_FRAME_SIZE, Data, END_HEADERS, Event, FrameHeader, FrameReader,
    FrameType, HEADER_LEN, find_boundary, settings,
};
use crate::http2::hpack::Decoder;
use crate::http2::preface::{PrefaceMatcher, PrefaceStatus};
use crate::http2::{Assembled, BlockAssembler, BlockOf};
use crate::pool::WINDOW;
use crate::tcp::{Ctx, Direction};
use head::{Bufs, Decoded, TABLE_STORAGE};
use streams::{Streams, flag};

/// Largest header block joined from pieces (HEADERS and CONTINUATIONs, or a frame split
/// across segments); a block in one piece is read in place whatever its length.
pub const BLOCK_BUF: usize = 4096;
/// Longest frame held back in the reassembly window until it is whole (a HEADERS frame
/// longer than [`BLOCK_BUF`] that ends its block).
const HOLD_MAX: usize = WINDOW / 2;

/// How a connection is first seen.
#[derive(Clone, Copy, Debug)]
pub enum Start {
    /// Prior knowledge: `client`'s next bytes are the client connection preface.
    /// `server_at_start`: none of the server's bytes were consumed before (its frames start
    /// at its next byte).
    Preface {
        client: Direction,
        server_at_start: bool,
    },
    /// A 101 accepted `Upgrade: h2c`: `client`'s next bytes are the preface, the server's
    /// frames start at its next byte, and the upgraded request (exchange slot `request`)
    /// is stream 1's, answered there.
    Upgrade { client: Direction, request: u32 },
    /// Mid-connection: a frame starts at `at`'s next byte; the other side looks for one.
    /// `client`, when known (the SYN).
    Midway {
        at: Direction,
        client: Option<Direction>,
    },
}

/// Where one side of the connection is in its bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sync {
    /// The client connection preface.
    Preface(PrefaceMatcher),
    /// Frames, read by the side's reader.
    Frames,
    /// Looking for a frame boundary.
    Search,
}

/// One side's place in its frames.
#[derive(Clone, Copy, Debug)]
struct Side {
    sync: Sync,
    /// The frame header being read (`have` bytes of it; 9: the header is whole and `left`
    /// payload bytes of the frame are still to come), as the reader reads it.
    hdr: [u8; HEADER_LEN],
    have: u8,
    left: u32,
    /// When the current frame started, and the block it opened.
    frame_ts: u64,
    block_ts: u64,
    /// A SETTINGS_MAX_FRAME_SIZE this side announced: for the other side's reader.
    max_frame: Option<u32>,
}

impl Side {
    fn new(sync: Sync) -> Side {
        Side {
            sync,
            hdr: [0; HEADER_LEN],
            have: 0,
            left: 0,
            frame_ts: 0,
            block_ts: 0,
            max_frame: None,
        }
    }

    /// The current frame's header (valid when `have` is 9).
    fn frame(&self) -> FrameHeader {
        FrameHeader::parse(&self.hdr)
    }
}

/// One HTTP/2 connection's state.
pub struct Conn {
    sides: [Side; 2],
    readers: [FrameReader; 2],
    hpack: [Decoder<[u8; TABLE_STORAGE]>; 2],
    blocks: [BlockAssembler<[u8; BLOCK_BUF]>; 2],
    streams: Streams,
    /// The side that opens streams, once known (preface, upgrade, SYN, or the first
    /// block that shows a request's or a response's pseudo-headers).
    client: Option<Direction>,
}

impl Conn {
    /// A state to start connections in ([`Conn::start`]).
    fn new() -> Conn {
        let decoder = || Decoder::new([0; TABLE_STORAGE], TABLE).expect("a valid HPACK capacity");
        Conn {
            sides: [Side::new(Sync::Search); 2],
            readers: [FrameReader::new(), FrameReader::new()],
            hpack: [decoder(), decoder()],
            blocks: [
                BlockAssembler::new([0; BLOCK_BUF]),
                BlockAssembler::new([0; BLOCK_BUF]),
            ],
            streams: Streams::default(),
            client: None,
        }
    }

    /// Make the state that of a connection seen as `start` says.
    fn start(&mut self, start: Start) {
        self.streams.clear();
        for d in Direction::BOTH {
            self.readers[d] = FrameReader::new();
            self.blocks[d].reset();
        }
        let (client, from_start) = match start {
            Start::Preface {
                client,
                server_at_start,
            } => (Some(client), [true, server_at_start]),
            Start::Upgrade { client, .. } => (Some(client), [true, true]),
            Start::Midway { client, .. } => (client, [false, false]),
        };
        self.client = client;
        for d in Direction::BOTH {
            // [client's, server's] when the client is known.
            let from_start = match client {
                Some(c) => from_start[if d == c { 0 } else { 1 }],
                None => false,
            };
            let sync = match (start, Some(d) == client) {
                (Start::Preface { .. } | Start::Upgrade { .. }, true) => {
                    Sync::Preface(PrefaceMatcher::new())
                }
                (Start::Midway { at, .. }, _) if at == d => Sync::Frames,
                (Start::Midway { .. }, _) => Sync::Search,
                _ if from_start => Sync::Frames,
                _ => Sync::Search,
            };
            self.sides[d] = Side::new(sync);
            if from_start {
                self.hpack[d].start(4096);
            } else {
                self.hpack[d].forget();
            }
        }
    }
}

/// What one call of a side's frame loop did.
enum Step {
    /// Bytes consumed.
    Used(usize),
    /// Hold the rest: a frame to read whole, or a boundary to find with more bytes.
    Hold,
}

impl Pool {
    /// Take a slot for a connection seen as `start`; None when every slot is taken.
    pub fn open(&mut self, start: Start, ts: u64, env: &mut Env) -> Option<u32> {
        let slot = self.take()?;
        let (c, _) = self.get(slot);
        c.start(start);
        if let Start::Upgrade { client, request } = start {
            // The upgraded request is stream 1, half-closed: its answer comes there, not
            // in the 101 (whose head is dropped).
            let ex = &mut env.exs[request];
            env.pool.release(&mut ex.resp.chain);
            ex.resp = Msg::default();
            ex.has_resp = false;
            ex.client_dir = client;
            if !ex.skip {
                ex.req
                    .patch_index(index::REQUEST_VERSION_AT, &2u16.to_le_bytes(), env.pool);
            }
            let skip = ex.skip;
            let r = env.exs.refer(request);
            let streams = &mut c.streams;
            let i = streams.open(1, ts).expect("an empty table has room");
            let st = &mut streams[i];
            st.ex = r;
            st.flags = flag::REQ | flag::REQ_END | if skip { flag::SKIP } else { 0 };
            env.stats.h2_streams += 1;
        }
        Some(slot)
    }

    /// In-order bytes of `dir` on the connection of `slot`; returns how many were consumed
    /// (the rest is offered again with more: a frame held back, a boundary not found yet).
    pub fn data(
        &mut self,
        slot: u32,
        dir: Direction,
        bytes: &[u8],
        cx: &Ctx,
        env: &mut Env,
    ) -> usize {
        let (c, bufs) = self.get(slot);
        c.data(dir, bytes, cx, bufs, env)
    }

    /// `lost` bytes of `dir` were never captured.
    pub fn gap(&mut self, slot: u32, dir: Direction, lost: u64, ts: u64, env: &mut Env) {
        let (c, bufs) = self.get(slot);
        c.gap(dir, lost, ts, bufs, env);
    }

    /// The connection is gone: every stream in flight is reported, the slot given back.
    pub fn close(&mut self, slot: u32, env: &mut Env) {
        let (c, _) = self.get(slot);
        c.close(env);
        self.give(slot);
    }
}

impl Conn {
    fn data(
        &mut self,
        dir: Direction,
        bytes: &[u8],
        cx: &Ctx,
        bufs: &mut Bufs,
        env: &mut Env,
    ) -> usize {
        let mut pos = 0;
        while pos < bytes.len() {
            let rest = &bytes[pos..];
            // Bytes after the first came with the latest packet at the earliest.
            let ts = if pos == 0 { cx.first_ts } else { cx.ts };
            match self.sides[dir].sync {
                Sync::Preface(mut m) => match m.feed(rest) {
                    PrefaceStatus::Matched(n) => {
                        pos += n;
                        self.sides[dir].sync = Sync::Frames;
                    }
                    PrefaceStatus::Partial => {
                        self.sides[dir].sync = Sync::Preface(m);
                        return bytes.len();
                    }
                    PrefaceStatus::Mismatch => {
                        env.stats.parse_errors += 1;
                        self.lose_sync(dir, env);
                    }
                },
                Sync::Search => match find_boundary(rest, DEFAULT_MAX_FRAME_SIZE) {
                    Boundary::Found(p) => {
                        pos += p;
                        self.resume(dir);
                    }
                    Boundary::Skip(n) => pos += n,
                    // Held: a side holding sync_span bytes always gets an answer, and the
                    // window holds more; a window full of undecided bytes is given up by the
                    // reassembly (never wedged).
                    Boundary::NeedMore => return pos,
                },
                Sync::Frames => match self.step(dir, rest, ts, cx.ts, bufs, env) {
                    Step::Used(n) => pos += n,
                    Step::Hold => return pos,
                },
            }
        }
        pos
    }

    /// Start reading frames at a boundary found: nothing read before can be trusted.
    fn resume(&mut self, dir: Direction) {
        self.readers[dir].resume();
        self.blocks[dir].reset();
        self.hpack[dir].forget();
        let max = self.sides[dir].max_frame;
        self.sides[dir] = Side::new(Sync::Frames);
        self.sides[dir].max_frame = max;
    }

    /// The side lost its place (a gap outside DATA, a protocol error): look for a frame
    /// boundary again; whatever of its streams' messages was in flight is cut.
    fn lose_sync(&mut self, dir: Direction, env: &mut Env) {
        if self.blocks[dir].in_block() {
            env.stats.h2_headers_unknown += 1;
        }
        self.sides[dir].sync = Sync::Search;
        let req = self.client == Some(dir);
        let gap = if req { flag::REQ_GAP } else { flag::RESP_GAP };
        for i in 0..MAX_STREAMS {
            let st = &mut self.streams[i];
            if st.id == 0 {
                continue;
            }
            st.flags |= gap;
            if let Some(ex) = env.exs.get_mut(st.ex) {
                let m = if req { &mut ex.req } else { &mut ex.resp };
                m.truncated = true;
            }
        }
    }

    /// One step of a side's frames: a frame header (or the part of it at hand), or as much
    /// of the current frame's payload as is at hand.
    fn step(
        &mut self,
        dir: Direction,
        rest: &[u8],
        ts: u64,
        now: u64,
        bufs: &mut Bufs,
        env: &mut Env,
    ) -> Step {
        let side = &mut self.sides[dir];
        let have = side.have as usize;
        let n = if have < HEADER_LEN {
            let take = rest.len().min(HEADER_LEN - have);
            let mut hdr = side.hdr;
            hdr[have..have + take].copy_from_slice(&rest[..take]);
            if have + take >= 5 {
                // A HEADERS or PUSH_PROMISE ending its block, too long for the block
                // buffer: read it whole, from the window.
                let len = u32::from_be_bytes([0, hdr[0], hdr[1], hdr[2]]) as usize;
                let block = matches!(hdr[3], 0x1 | 0x5) && hdr[4] & END_HEADERS != 0;
                let whole = HEADER_LEN + len;
                if block && len > BLOCK_BUF && whole <= HOLD_MAX && have + rest.len() < whole {
                    return Step::Hold;
                }
            }
            if have == 0 {
                side.frame_ts = ts;
            }
            side.hdr = hdr;
            side.have = (have + take) as u8;
            if side.have as usize == HEADER_LEN {
                side.left = side.frame().len;
            }
            take
        } else {
            rest.len().min(side.left as usize)
        };
        let used = self.feed(dir, &rest[..n], now, false, bufs, env);
        let side = &mut self.sides[dir];
        if have == HEADER_LEN {
            side.left -= used as u32;
        }
        if side.have as usize == HEADER_LEN && side.left == 0 {
            side.have = 0;
        }
        if self.readers[dir].is_lost() {
            // Counted where the reader said so: look for a boundary in what follows.
            self.lose_sync(dir, env);
            return Step::Used(used.max(1).min(rest.len()));
        }
        if let Some(max) = self.sides[dir].max_frame.take() {
            self.readers[dir.flip()].set_max_frame_size(max);
        }
        Step::Used(n)
    }

    /// Feed `bytes` to `dir`'s reader and act on what it reads. `lost`: the bytes stand in
    /// for bytes a gap took (DATA is counted, not kept). Returns what the reader consumed.
    fn feed(
        &mut self,
        dir: Direction,
        bytes: &[u8],
        now: u64,
        lost: bool,
        bufs: &mut Bufs,
        env: &mut Env,
    ) -> usize {
        let Conn {
            sides,
            readers,
            hpack,
            blocks,
            streams,
            client,
        } = self;
        let mut w = Work {
            dir,
            now,
            lost,
            side: &mut sides[dir],
            hpack: &mut hpack[dir],
            streams,
            client,
            env,
        };
        let block = &mut blocks[dir];
        readers[dir].feed(bytes, |ev| w.event(ev, block, bufs))
    }

    /// `lost` bytes of `dir` were never captured.
    fn gap(&mut self, dir: Direction, lost: u64, ts: u64, bufs: &mut Bufs, env: &mut Env) {
        env.stats.gaps += 1;
        let side = self.sides[dir];
        let in_data = side.sync == Sync::Frames
            && side.have as usize == HEADER_LEN
            && side.frame().kind == FrameType::Data
            && lost < u64::from(side.left);
        if !in_data {
            if side.sync != Sync::Search {
                self.lose_sync(dir, env);
            }
            return;
        }
        // Inside a DATA frame's payload: only that stream's body lost bytes. The reader is
        // told of them as zeros, which are counted and not kept.
        const ZEROS: [u8; 4096] = [0; 4096];
        let mut left = lost as usize;
        while left > 0 {
            let n = left.min(ZEROS.len());
            self.feed(dir, &ZEROS[..n], ts, true, bufs, env);
            left -= n;
        }
        self.sides[dir].left -= lost as u32;
    }

    /// The connection is gone: report every stream (lowest id first), count a header block
    /// left open.
    fn close(&mut self, env: &mut Env) {
        for d in Direction::BOTH {
            if self.blocks[d].in_block() {
                env.stats.h2_headers_unknown += 1;
                self.blocks[d].reset();
            }
        }
        while let Some(i) = self.streams.lowest() {
            finish(&mut self.streams, i, None, env);
        }
    }
}

/// Everything a frame's events act on, for one feed of one side.
struct Work<'a, 'e> {
    dir: Direction,
    /// The packet's time.
    now: u64,
    /// The bytes stand in for lost ones.
    lost: bool,
    side: &'a mut Side,
    hpack: &'a mut Decoder<[u8; TABLE_STORAGE]>,
    streams: &'a mut Streams,
    client: &'a mut Option<Direction>,
    env: &'a mut Env<'e>,
}

/// How a stream was cut short.
#[derive(Clone, Copy)]
struct Cut {
    code: u32,
    by_server: bool,
    goaway: bool,
}

impl Work<'_, '_> {
    fn event(
        &mut self,
        ev: Event<'_>,
        block: &mut BlockAssembler<[u8; BLOCK_BUF]>,
        bufs: &mut Bufs,
    ) {
        match ev {
            Event::Frame(h) => {
                if matches!(h.kind, FrameType::Headers | FrameType::PushPromise) {
                    self.side.block_ts = self.side.frame_ts;
                }
                if let Some(i) = self.streams.find(h.stream) {
                    self.streams[i].last_ts = self.now;
                }
            }
            Event::Fragment(f) => match block.push(&f) {
                Assembled::Pending => {}
                Assembled::Complete { stream, of, block } => {
                    self.block(stream, of, Some(block), bufs)
                }
                Assembled::TooLarge { stream, of, .. } => {
                    // Its fields may have changed the table: nothing after can be trusted.
                    self.hpack.forget();
                    self.block(stream, of, None, bufs);
                }
            },
            Event::Data(d) => self.data(&d),
            Event::RstStream { stream, code } => {
                self.env.stats.h2_resets += 1;
                if let Some(i) = self.streams.find(stream) {
                    let cut = Cut {
                        code,
                        by_server: *self.client != Some(self.dir),
                        goaway: false,
                    };
                    finish(self.streams, i, Some(cut), self.env);
                }
            }
            Event::GoAway { last_stream, code } => {
                // The server did not process the client's streams above `last_stream`.
                if self.client.is_some_and(|c| c != self.dir) {
                    let cut = Cut {
                        code,
                        by_server: true,
                        goaway: true,
                    };
                    loop {
                        let above = self
                            .streams
                            .live()
                            .find(|&i| self.streams[i].id > last_stream);
                        let Some(i) = above else { break };
                        finish(self.streams, i, Some(cut), self.env);
                    }
                }
            }
            Event::Setting { id, value } => {
                if id == settings::MAX_FRAME_SIZE {
                    self.side.max_frame = Some(value);
                }
            }
            Event::SettingsAck => {}
            Event::Error(_) => self.env.stats.parse_errors += 1,
        }
    }

    /// A complete header block of `stream` (None: it could not be kept whole).
    fn block(&mut self, stream: u32, of: BlockOf, bytes: Option<&[u8]>, bufs: &mut Bufs) {
        let BlockOf::Headers { end_stream } = of else {
            // A pushed request: decoded for the table's sake, not traced.
            if let Some(b) = bytes
                && head::decode(self.hpack, b, bufs).is_none()
            {
                self.env.stats.parse_errors += 1;
            }
            return;
        };
        let decoded = match bytes {
            Some(b) => {
                let d = head::decode(self.hpack, b, bufs);
                if d.is_none() {
                    self.env.stats.parse_errors += 1;
                }
                d
            }
            None => None,
        };
        let Some(d) = decoded else {
            self.env.stats.h2_headers_unknown += 1;
            return self.unreadable(stream, end_stream);
        };
        self.env.stats.h2_headers_unknown += u64::from(d.block.unknown);
        let from_client = if d.block.is_request() {
            true
        } else if d.block.is_response() {
            false
        } else {
            match *self.client {
                Some(c) => c == self.dir,
                // Neither side is known yet, and the block says nothing of its own.
                None => return,
            }
        };
        if self.client.is_none() {
            *self.client = Some(if from_client {
                self.dir
            } else {
                self.dir.flip()
            });
        }
        if from_client {
            self.request_block(stream, end_stream, &d);
        } else {
            self.response_block(stream, end_stream, &d);
        }
    }

    /// A block whose fields cannot be known: a request (a trace with nothing known but its
    /// being), trailers, or a response head that stays unknown.
    fn unreadable(&mut self, stream: u32, end_stream: bool) {
        let Some(client) = *self.client else { return };
        let i = self.streams.find(stream);
        if client == self.dir {
            match i {
                Some(i) if self.streams[i].has(flag::REQ) => {
                    if end_stream {
                        self.end_side(i, true);
                    }
                }
                _ => {
                    let head = b"";
                    let ext = ExtHead {
                        authority: None,
                        stream,
                        unknown: 1,
                        flags: flags::PATH_UNKNOWN | flags::METHOD_UNKNOWN,
                    };
                    let mut buf = index::Buf::uninit();
                    let line = index::ReqLine {
                        method: "",
                        target: "",
                        version: 2,
                        odd_version: None,
                    };
                    let parts = index::Parts {
                        start: index::StartLine::Request(line),
                        headers: &[],
                    };
                    let ix = index::index_h2(&mut buf, head, &parts, &ext);
                    let info = self.asked(None, None, None);
                    self.request(stream, end_stream, head, ix, &info);
                }
            }
        } else if let Some(i) = i {
            let st = &mut self.streams[i];
            if st.has(flag::RESP) {
                st.trailers_unknown = st.trailers_unknown.saturating_add(1);
                if end_stream {
                    self.end_side(i, false);
                }
            }
        }
    }

    fn request_block(&mut self, stream: u32, end_stream: bool, d: &Decoded<'_>) {
        if let Some(i) = self.streams.find(stream)
            && self.streams[i].has(flag::REQ)
        {
            // Trailers of the request: only its end matters here.
            if end_stream {
                self.end_side(i, true);
            }
            return;
        }
        let b = &d.block;
        let mut fl = 0;
        if !b.path.known() {
            fl |= flags::PATH_UNKNOWN;
        }
        if !b.method.known() {
            fl |= flags::METHOD_UNKNOWN;
        }
        let ext = ExtHead {
            authority: d.value(b.authority),
            stream,
            unknown: b.unknown,
            flags: fl,
        };
        let mut buf = index::Buf::uninit();
        let ix = d.request_index(&mut buf, &ext);
        let info = self.asked(d.text(b.method), d.text(b.path), d.value(b.authority));
        self.request(stream, end_stream, d.head(), ix, &info);
    }

    /// What the policy is asked about a request head read now (what could
    /// not be known is empty).
    fn asked<'a>(
        &self,
        method: Option<&'a str>,
        path: Option<&'a str>,
        authority: Option<&'a [u8]>,
    ) -> ReqInfo<'a> {
        ReqInfo {
            ts: self.side.block_ts,
            method: method.unwrap_or(""),
            target: path.unwrap_or(""),
            host: authority,
            server: self.env.ends.addr[self.dir.flip()],
        }
    }

    /// A request head (and its index) for `stream`: asked to the policy (`info`), kept,
    /// paired with a response read before it if there is one.
    fn request(
        &mut self,
        stream: u32,
        end_stream: bool,
        head: &[u8],
        ix: &[u8],
        info: &ReqInfo<'_>,
    ) {
        // Requests come in stream order: a response waiting for an older one never gets it.
        loop {
            let orphan = self.streams.live().find(|&i| {
                let st = &self.streams[i];
                !st.has(flag::REQ) && st.id < stream
            });
            let Some(i) = orphan else { break };
            finish(self.streams, i, None, self.env);
        }
        let Some(i) = self.stream(stream) else { return };
        let ticket = self.env.sink.admit(info);
        self.streams[i].flags |= flag::REQ;
        let Some(r) = self.exchange(i) else {
            if end_stream {
                self.end_side(i, true);
            }
            return;
        };
        let env = &mut *self.env;
        let ex = env.exs.get_mut(r).expect("taken just now");
        ex.client_dir = self.dir;
        ex.req.first_ts = self.side.block_ts;
        ex.req.last_ts = self.now;
        let answered = ex.has_resp.then_some(ex.status);
        let slot = r.index();
        let mut keep = env.keep_request_indexed(slot, ticket, head, ix);
        if let Some(status) = answered
            && keep
        {
            // Its response was read first: what the sampler says of it now.
            keep = env.respond(slot, self.now, status);
        }
        let st = &mut self.streams[i];
        if keep {
            st.flags |= flag::REQ_EXT;
        } else {
            st.flags |= flag::SKIP;
        }
        if end_stream {
            self.end_side(i, true);
        }
    }

    fn response_block(&mut self, stream: u32, end_stream: bool, d: &Decoded<'_>) {
        let found = self.streams.find(stream);
        if let Some(i) = found
            && self.streams[i].has(flag::RESP)
        {
            return self.trailers(i, end_stream, d);
        }
        let status = d.status();
        if status.is_some_and(|s| (100..200).contains(&s)) {
            return; // interim: the final response follows
        }
        // A response opens a stream only when its status is known and its stream could be
        // a request's (client-initiated, odd): its request may still come.
        if found.is_none() && (status.is_none() || stream.is_multiple_of(2)) {
            return;
        }
        let Some(i) = self.stream(stream) else { return };
        self.streams[i].flags |= flag::RESP;
        let Some(r) = self.exchange(i) else {
            if end_stream {
                self.end_side(i, false);
            }
            return;
        };
        let requested = self.streams[i].has(flag::REQ);
        let env = &mut *self.env;
        let ex = env.exs.get_mut(r).expect("taken just now");
        if !ex.has_resp && !requested {
            ex.client_dir = self.dir.flip();
        }
        ex.has_resp = true;
        ex.resp.first_ts = self.side.block_ts;
        ex.resp.last_ts = self.now;
        let status_seen = status.unwrap_or(0);
        let skip = if requested {
            // The sampler's say at the response (a request kept as its head
            // is promoted or released here).
            !env.respond(r.index(), self.side.block_ts, status_seen)
        } else {
            // No request yet: asked when it comes (`request`).
            ex.status = status_seen;
            self.streams[i].has(flag::SKIP)
        };
        if skip {
            self.streams[i].flags |= flag::SKIP;
        }
        let env = &mut *self.env;
        if let (false, Some(ex)) = (skip, env.exs.get_mut(r)) {
            let ext = ExtHead {
                authority: None,
                stream,
                unknown: d.block.unknown,
                flags: if status.is_none() {
                    flags::STATUS_UNKNOWN
                } else {
                    0
                },
            };
            let mut buf = index::Buf::uninit();
            let ix = d.response_index(&mut buf, status.unwrap_or(0), &ext);
            ex.resp.keep_indexed(d.head(), ix, env.pool);
        }
        if end_stream {
            self.end_side(i, false);
        }
    }

    /// The response's trailers: kept after its body (when the store has room for them).
    fn trailers(&mut self, i: usize, end_stream: bool, d: &Decoded<'_>) {
        let st = &mut self.streams[i];
        if st.has(flag::TRAILERS) {
            // A second block after the response's head (no valid peer sends one): its
            // fields are counted, not kept (the chain ends with the first's).
            let n = d.fields() + usize::from(d.block.unknown);
            st.trailers_unknown = st.trailers_unknown.saturating_add(n.min(0xffff) as u16);
            if end_stream {
                self.end_side(i, false);
            }
            return;
        }
        st.flags |= flag::TRAILERS;
        st.trailers_unknown = st.trailers_unknown.saturating_add(d.block.unknown);
        let skip = st.has(flag::SKIP);
        let r = st.ex;
        let pool = &mut *self.env.pool;
        if let (false, Some(ex)) = (skip, self.env.exs.get_mut(r)) {
            let mut buf = index::Buf::uninit();
            let ix = d.trailers_index(&mut buf);
            let head = d.head();
            if !ex.resp.lost && pool.room(&ex.resp.chain) >= head.len() + ix.len() {
                pool.append(&mut ex.resp.chain, head);
                pool.append(&mut ex.resp.chain, ix);
                let st = &mut self.streams[i];
                st.trailers = (head.len() as u16, ix.len() as u16);
            } else {
                self.env.stats.pool_exhausted += 1;
                let st = &mut self.streams[i];
                st.trailers_unknown = st.trailers_unknown.saturating_add(1);
            }
            ex.resp.last_ts = self.now;
        }
        if end_stream {
            self.end_side(i, false);
        }
    }

    /// A DATA piece: the stream's body on that side.
    fn data(&mut self, d: &Data<'_>) {
        let Some(i) = self.streams.find(d.stream) else {
            return; // HEADERS not seen
        };
        let Some(client) = *self.client else { return };
        let req = client == self.dir;
        let (head, end, gap, k) = if req {
            (flag::REQ, flag::REQ_END, flag::REQ_GAP, 0)
        } else {
            (flag::RESP, flag::RESP_END, flag::RESP_GAP, 1)
        };
        let st = &mut self.streams[i];
        if !st.has(head) || st.has(end) {
            return;
        }
        st.last_ts = self.now;
        if self.lost {
            st.flags |= gap;
        } else {
            st.messages[k].feed(d.bytes);
        }
        if !st.has(flag::SKIP)
            && let Some(ex) = self.env.exs.get_mut(st.ex)
        {
            let m = if req { &mut ex.req } else { &mut ex.resp };
            if self.lost {
                m.lose_body(d.bytes.len() as u64);
                m.last_ts = self.now;
            } else {
                m.keep_body(
                    d.bytes,
                    self.now,
                    self.env.max_body,
                    self.env.pool,
                    self.env.stats,
                );
            }
        }
        if d.end_stream {
            self.end_side(i, req);
        }
    }

    /// The entry of `stream`, opened if new (a full table gives its quietest stream up).
    fn stream(&mut self, stream: u32) -> Option<usize> {
        if let Some(i) = self.streams.find(stream) {
            return Some(i);
        }
        if let Some(i) = self.streams.open(stream, self.now) {
            self.env.stats.h2_streams += 1;
            return Some(i);
        }
        let q = self.streams.quietest()?;
        self.env.stats.pool_exhausted += 1;
        finish(self.streams, q, None, self.env);
        let i = self.streams.open(stream, self.now)?;
        self.env.stats.h2_streams += 1;
        Some(i)
    }

    /// The exchange of stream entry `i`, taken when it has none (None: no exchange slot;
    /// the stream is then read, not kept).
    fn exchange(&mut self, i: usize) -> Option<ExRef> {
        let st = &mut self.streams[i];
        if self.env.exs.get_mut(st.ex).is_none() {
            match self.env.exs.take() {
                Some(r) => st.ex = r,
                None => {
                    self.env.stats.pool_exhausted += 1;
                    st.flags |= flag::SKIP;
                    return None;
                }
            }
        }
        Some(st.ex)
    }

    /// One side of stream entry `i` ended (END_STREAM); the stream with both.
    fn end_side(&mut self, i: usize, req: bool) {
        let st = &mut self.streams[i];
        st.flags |= if req { flag::REQ_END } else { flag::RESP_END };
        if let Some(ex) = self.env.exs.get_mut(st.ex) {
            let m = if req { &mut ex.req } else { &mut ex.resp };
            m.complete = true;
            m.last_ts = m.last_ts.max(self.now);
        }
        if st.has(flag::REQ_END) && st.has(flag::RESP_END) && st.has(flag::REQ) {
            finish(self.streams, i, None, self.env);
        }
    }
}

/// Stream entry `i` is over (`cut`: by an RST_STREAM or a GOAWAY): what was learnt is
/// written into its heads, the exchange reported (a response whose request was never seen
/// is counted, not reported), the entry freed.
fn finish(streams: &mut Streams, i: usize, cut: Option<Cut>, env: &mut Env) {
    let st = streams[i];
    streams.free(i);
    let Some(ex) = env.exs.get_mut(st.ex) else {
        return;
    };
    let slot = st.ex.index();
    if !st.has(flag::REQ) {
        if st.has(flag::RESP) {
            env.stats.orphan_responses += 1;
        }
        ex.skip = true;
        env.emit(slot);
        return;
    }
    if !ex.skip {
        let mut fl = 0;
        let mut code = 0;
        if let Some(c) = cut {
            fl |= if c.goaway { end::GOAWAY } else { end::RESET };
            if c.by_server {
                fl |= end::BY_SERVER;
            }
            code = c.code;
        }
        let counted = |gap: u16, k: usize| {
            let ok = !st.has(gap) && !st.messages[k].in_message();
            if ok { end::COUNTED } else { 0 }
        };
        if ex.req.truncated {
            env.stats.truncated_bodies += 1;
        }
        if st.has(flag::REQ_EXT) {
            let e = ExtEnd {
                flags: fl | counted(flag::REQ_GAP, 0),
                messages: st.messages[0].messages(),
                code,
                ..ExtEnd::default()
            };
            let at = index::ext_end_at(ex.req.index_len as usize);
            ex.req.patch_index(at, &e.bytes(), env.pool);
        }
        if ex.has_resp {
            if ex.resp.truncated {
                env.stats.truncated_bodies += 1;
            }
            let e = ExtEnd {
                flags: fl | counted(flag::RESP_GAP, 1),
                trailers_head: st.trailers.0,
                trailers_index: st.trailers.1,
                trailers_unknown: st.trailers_unknown,
                messages: st.messages[1].messages(),
                code,
            };
            let at = index::ext_end_at(ex.resp.index_len as usize);
            ex.resp.patch_index(at, &e.bytes(), env.pool);
        }
    }
    env.emit(slot);
}

#[cfg(test)]
mod tests;
