//! The fuzz harness: one function per fuzz target, each taking the raw fuzzer
//! input and panicking when the sensor misbehaves.
//!
//! This file is compiled twice: into every cargo-fuzz target under
//! `fuzz/fuzz_targets/` (`#[path = "../harness.rs"] mod harness;`) and into the
//! stable regression test `tests/fuzz_regressions.rs`, which feeds every saved
//! input under `fuzz/seeds/<target>/` and `fuzz/regressions/<target>/` through
//! exactly the same code. It uses only the sensor's library and crates the
//! sensor already depends on (flate2, serde_json).
//!
//! Besides "no panic", each target checks what the sensor promises:
//! - every trace is one valid JSON line, every OTLP span and HAR document is
//!   valid JSON, and strings and bodies survive the round trip;
//! - after `close_all` every pool window and chunk is back in the pool;
//! - the view scratch buffers stay inside what was reserved at start-up;
//! - the same bytes give the same traces however TCP cut them into segments
//!   (`http_split`, `chunked`) and, when nothing was lost, in whatever order
//!   the segments came (`reassembly`) and whatever the fault injector
//!   (`pcap_sensor::source::fault`) did to their frames (`faults`);
//! - de-chunked and decompressed bodies are the bytes that were encoded;
//! - a TLS ClientHello read from a prefix of the bytes never names another
//!   server than the whole, and what is kept stays inside its bounds.
//!
//! Input formats are described at each target; every read past the end of the
//! input yields zeros, so every byte string is a valid input.

#![allow(dead_code)]

use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;

use pcap_sensor::exchange::{Emit, Exchange};
use pcap_sensor::export::Output;
use pcap_sensor::export::har::Har;
use pcap_sensor::export::jsonl::write_json;
use pcap_sensor::export::otlp::{self, Resource};
use pcap_sensor::http1::Tracker;
use pcap_sensor::json::{base64, json_str, put_u64, write_rfc3339};
use pcap_sensor::policy;
use pcap_sensor::pool::{Store, WINDOW};
use pcap_sensor::source::fault::{FaultInjector, Rate, Window};
use pcap_sensor::source::{Batch, Frames, OwnedFrame, Source};
use pcap_sensor::stats::Stats;
use pcap_sensor::tcp::{Ends, Limits};
use pcap_sensor::view::{self, Body, Scratch};
use pcap_sensor::wire::{self, Addr, Segment, SeqNumber, TcpFlags, dlt};
use serde_json::Value;
// The tests' packet builder, text codecs and trace readers, shared with
// tests/support/ (std and serde_json only).
#[path = "../tests/support/packet.rs"]
mod packet;
#[path = "../tests/support/text.rs"]
mod text;
#[path = "../tests/support/trace.rs"]
mod traces;
use text::base64_decode;
use traces::body_bytes;

/// TCP flag bits as the packet builders below write them.
const FIN: u8 = TcpFlags::FIN.bits();
const SYN: u8 = TcpFlags::SYN.bits();
const RST: u8 = TcpFlags::RST.bits();
const ACK: u8 = TcpFlags::ACK.bits();

/// A fuzz target: panics when the sensor misbehaves on the input.
pub type Target = fn(&[u8]);

/// Every target: (name, function). `./build.sh fuzz` and the regression
/// test both walk this list (the fuzz crate has one binary per entry).
pub const TARGETS: &[(&str, Target)] = &[
    ("decode", decode),
    ("pipeline", pipeline),
    ("reassembly", reassembly),
    ("faults", faults),
    ("http_split", http_split),
    ("chunked", chunked),
    ("gzip", gzip),
    ("json", json),
    ("otlp", otlp),
    ("client_hello", client_hello),
];

// ───────────────────────────── reading the input ─────────────────────────────

/// A cursor over the fuzzer's bytes; reads past the end give zeros.
pub struct Input<'a>(pub &'a [u8]);

impl<'a> Input<'a> {
    pub fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }
    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }
    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    pub fn u64(&mut self) -> u64 {
        (self.u32() as u64) | ((self.u32() as u64) << 32)
    }
    /// Up to `n` bytes (fewer at the end of the input).
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.0.len());
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        a
    }
    /// A u16 length, then that many bytes.
    pub fn blob(&mut self) -> &'a [u8] {
        let n = self.u16() as usize;
        self.take(n)
    }
    pub fn rest(&mut self) -> &'a [u8] {
        self.take(usize::MAX)
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// `--max-http-length` values the targets pick from.
pub const MAX_BODIES: [u64; 6] = [16, 100, 1024, 4096, 65536, 1 << 20];

fn max_body(sel: u8) -> u64 {
    MAX_BODIES[sel as usize % MAX_BODIES.len()]
}

/// Link types `decode` is tried with: every one the sensor supports, and
/// some it does not.
pub const LINKTYPES: [i32; 17] = [
    dlt::NULL,
    dlt::EN10MB,
    dlt::RAW,
    dlt::RAW_OPENBSD,
    dlt::LOOP,
    dlt::LINKTYPE_RAW,
    dlt::C_HDLC,
    dlt::LINUX_SLL,
    dlt::IEEE802_11_RADIO,
    dlt::ARCNET_LINUX,
    dlt::IPV4,
    dlt::IPV6,
    dlt::NFLOG,
    dlt::LINUX_SLL2,
    147,
    -1,
    i32::MAX,
];

// ───────────────────────────── the sink ─────────────────────────────

/// A `Vec<u8>` shared with a `Box<dyn Write>` (for the HAR writer).
#[derive(Clone, Default)]
struct Shared(Rc<RefCell<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Builds the view of every exchange the tracker emits, writes it as a JSON
/// line (and, when asked, as an OTLP span and a HAR entry), checks that each
/// parses, and keeps the parsed traces.
pub struct Sink {
    scratch: Scratch,
    scratch_reserved: usize,
    max_body: u64,
    redact: bool,
    otlp: bool,
    har: Option<(Har, Shared)>,
    rng: otlp::Rng,
    line: Vec<u8>,
    span: Vec<u8>,
    pub traces: Vec<Value>,
}

/// Growth of the view scratch buffers tolerated past what they reserve: the
/// request-target buffer starts at 1 KiB and may grow to a head's size (one
/// window). Bodies must fit the buffers reserved for them.
pub const SCRATCH_SLACK: usize = WINDOW;

impl Sink {
    pub fn new(max_body: u64, redact: bool, otlp: bool, har: bool) -> Sink {
        let scratch = Scratch::new(max_body as usize);
        let har = har.then(|| {
            let buf = Shared::default();
            (Har::new(Box::new(buf.clone())).expect("HAR header"), buf)
        });
        Sink {
            scratch_reserved: scratch.reserved(),
            scratch,
            max_body,
            redact,
            otlp,
            har,
            rng: otlp::Rng::seeded(),
            line: Vec::new(),
            span: Vec::new(),
            traces: Vec::new(),
        }
    }

    /// Closes the HAR document (if any) and checks it is one valid JSON document.
    pub fn finish(&mut self) {
        if let Some((mut har, buf)) = self.har.take() {
            har.finish(std::time::Instant::now()).expect("HAR finish");
            drop(har);
            let doc = buf.0.borrow();
            let v: Value = serde_json::from_slice(&doc).unwrap_or_else(|e| {
                panic!(
                    "HAR output is not JSON ({e}): {}",
                    String::from_utf8_lossy(&doc)
                )
            });
            let n = v["log"]["entries"].as_array().map_or(0, Vec::len);
            assert_eq!(n, self.traces.len(), "HAR entries vs traces");
        }
    }
}

fn check_body(b: &Body, redact: bool, what: &str) {
    assert_eq!(
        b.text,
        std::str::from_utf8(b.bytes).is_ok(),
        "{what}: text flag disagrees with the bytes"
    );
    if !b.truncated && !redact {
        // Nothing was cut: the kept bytes are the whole (decoded) body.
        assert_eq!(
            b.bytes.len() as u64,
            b.size,
            "{what}: not truncated, but keeps {} bytes of a {}-byte body",
            b.bytes.len(),
            b.size
        );
    }
}

impl Emit for Sink {
    fn emit(&mut self, ex: &Exchange, ends: &Ends, pool: &Store) {
        let mut slots = view::HeaderSlots::default();
        let v = view::build(&mut self.scratch, &mut slots, ex, ends, pool, self.redact);
        check_body(&v.req.body, self.redact, "request");
        if let Some(r) = &v.resp {
            check_body(&r.body, self.redact, "response");
        }
        self.line.clear();
        write_json(&mut self.line, &v);
        let val = parse_line(&self.line);
        if self.otlp {
            self.span.clear();
            otlp::write_span(&mut self.span, &v, &mut self.rng, usize::MAX);
            check_span(&self.span);
            // Bodies cut as for a trace larger than a batch: still JSON,
            // text cut at a character boundary.
            let longest = v
                .req
                .body
                .bytes
                .len()
                .max(v.resp.as_ref().map_or(0, |r| r.body.bytes.len()));
            self.span.clear();
            otlp::write_span(&mut self.span, &v, &mut self.rng, longest / 2);
            check_span(&self.span);
        }
        if let Some((har, _)) = &mut self.har {
            assert!(har.write(&v).is_continue(), "HAR write failed");
        }
        let now = self.scratch.reserved();
        assert!(
            now <= self.scratch_reserved + SCRATCH_SLACK,
            "view scratch grew from {} to {} bytes (memory past the start-up reserve)",
            self.scratch_reserved,
            now
        );
        self.traces.push(val);
    }
}

/// One trace line: exactly one '\n', at the end, and valid JSON.
pub fn parse_line(line: &[u8]) -> Value {
    assert_eq!(
        line.last(),
        Some(&b'\n'),
        "a trace line ends with a newline"
    );
    assert_eq!(
        line.iter().filter(|&&b| b == b'\n').count(),
        1,
        "a trace is exactly one line"
    );
    serde_json::from_slice(line).unwrap_or_else(|e| {
        panic!(
            "trace line is not JSON ({e}): {}",
            String::from_utf8_lossy(line)
        )
    })
}

/// One span as `write_span` appends it (with a trailing comma), alone and
/// inside a whole OTLP request body.
pub fn check_span(span: &[u8]) -> Value {
    let one = span
        .strip_suffix(b",")
        .unwrap_or_else(|| panic!("span does not end with a comma"));
    let v: Value = serde_json::from_slice(one).unwrap_or_else(|e| {
        panic!(
            "OTLP span is not JSON ({e}): {}",
            String::from_utf8_lossy(one)
        )
    });
    let res = Resource {
        attrs: vec![("service.name", otlp::Value::Str("fuzz".into()))],
    };
    let body = otlp::request_body(&res, span).expect("request body");
    let doc: Value = serde_json::from_slice(&body).unwrap_or_else(|e| {
        panic!(
            "OTLP request body is not JSON ({e}): {}",
            String::from_utf8_lossy(&body)
        )
    });
    assert_eq!(
        doc["resourceSpans"][0]["scopeSpans"][0]["spans"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    v
}

// ───────────────────────────── one connection ─────────────────────────────

pub const CLIENT: ([u8; 4], u16) = ([10, 0, 0, 1], 40000);
pub const SERVER: ([u8; 4], u16) = ([10, 0, 0, 2], 80);
/// Capture time of the first packet: 2024-05-01T12:00:00Z.
pub const T0: u64 = 1_714_564_800_000_000;

/// Direction 0 is client → server.
pub fn segment(dir: usize, seq: u32, ack: Option<u32>, flags: u8, payload: &[u8]) -> Segment<'_> {
    let (c, s) = (Addr::v4(CLIENT.0), Addr::v4(SERVER.0));
    let (src, dst, sport, dport) = if dir == 0 {
        (c, s, CLIENT.1, SERVER.1)
    } else {
        (s, c, SERVER.1, CLIENT.1)
    };
    Segment {
        src,
        dst,
        sport,
        dport,
        seq: SeqNumber(seq),
        ack: SeqNumber(ack.unwrap_or(0)),
        flags: TcpFlags::from_bits(flags | if ack.is_some() { ACK } else { 0 }),
        payload,
        missing: 0,
        md5: false,
    }
}

/// A tracker sized so that the fuzzer's inputs never exhaust the pool.
pub fn tracker(max_body: u64) -> Tracker {
    Tracker::new(&Limits {
        max_flows: 8,
        pool_bytes: 4 << 20,
        timeout_us: 10_000_000,
        max_body,
    })
}

/// After `close_all`: every window and chunk is back in the pool.
pub fn check_pools(t: &Tracker) {
    assert_eq!(t.live_flows(), 0, "flows left after close_all");
    assert_eq!(
        t.windows.free_count(),
        t.windows.count() as usize,
        "reassembly windows leaked"
    );
    assert_eq!(
        t.shared.pool.free_count(),
        t.shared.pool.count(),
        "message-store chunks leaked"
    );
}

/// Ends the run: close every flow, check the pools, the HAR document, and
/// that no more bodies are counted as truncated than there were messages
/// (each trace has two; an exchange lost to the pool is counted there).
pub fn finish(t: &mut Tracker, sink: &mut Sink) {
    t.close_all(sink);
    check_pools(t);
    sink.finish();
    let st = &t.stats;
    assert!(
        st.truncated_bodies <= 2 * (st.traces + st.pool_exhausted),
        "truncated_bodies={} but only {} traces (pool_exhausted={}): messages that never existed are counted",
        st.truncated_bodies,
        st.traces,
        st.pool_exhausted
    );
}

/// A trace without its timing (`ts`, `duration_us`), for comparisons.
pub fn timeless(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("ts");
        o.remove("duration_us");
    }
    v
}

/// Stats a comparison of two runs of the same bytes looks at. Not
/// `parse_errors`: an incomplete head is only parsed again once its end has
/// arrived, so garbage that never ends is counted when it came in one piece
/// and not when it was cut (the bytes are dropped either way).
fn compared_stats(s: &Stats) -> Vec<(&'static str, u64)> {
    s.fields()
        .into_iter()
        .filter(|(k, _)| {
            matches!(
                *k,
                "traces"
                    | "requests_without_response"
                    | "orphan_responses"
                    | "truncated_bodies"
                    | "pool_exhausted"
                    | "gaps"
                    | "non_http_flows"
                    | "tls_flows"
                    | "http2_flows"
                    | "tunnels"
            )
        })
        .collect()
}

/// Segment sizes from the split bytes: 1..=200 bytes, or 1..=55 KiB.
fn split_size(b: u8) -> usize {
    if b < 200 {
        b as usize + 1
    } else {
        (b as usize - 199) * 1024
    }
}

/// Delivers the client stream, then the server stream, cut into segments by
/// `splits` (None: each stream in one segment), all at time T0. Server
/// segments acknowledge the whole client stream. Returns the traces and stats.
pub fn run_streams(
    client: &[u8],
    server: &[u8],
    splits: Option<&[u8]>,
    max_body: u64,
    redact: bool,
) -> (Vec<Value>, Stats) {
    let mut t = tracker(max_body);
    let mut sink = Sink::new(max_body, redact, true, false);
    let (isn_c, isn_s) = (0xffff_ff00u32, 0x7fff_fff0u32); // both wrap or cross 2^31
    let mut cuts = splits.unwrap_or(&[]).iter().copied();
    for (dir, stream, isn, ack) in [
        (0, client, isn_c, isn_s.wrapping_add(1)),
        (
            1,
            server,
            isn_s,
            isn_c.wrapping_add(1 + client.len() as u32),
        ),
    ] {
        let mut off = 0;
        while off < stream.len() {
            let n = match (splits, cuts.next()) {
                (Some(_), Some(b)) => split_size(b),
                _ => stream.len(),
            };
            let end = (off + n).min(stream.len());
            let seq = isn.wrapping_add(1 + off as u32);
            t.segment(
                &segment(dir, seq, Some(ack), 0, &stream[off..end]),
                T0,
                &mut sink,
            );
            off = end;
        }
    }
    finish(&mut t, &mut sink);
    (sink.traces, t.stats)
}

/// Does `b` open (after empty lines) like an HTTP message: a status line, or
/// a method token and a space? Empty counts as clean.
fn begins_like_http(b: &[u8]) -> bool {
    let b = &b[b.iter().take_while(|&&c| c == b'\r' || c == b'\n').count()..];
    let method = b.iter().take_while(|c| c.is_ascii_uppercase()).count();
    b.is_empty() || b.starts_with(b"HTTP/1.") || (method > 0 && b.get(method) == Some(&b' '))
}

/// The same streams give the same traces and counters in one segment each
/// and cut by `splits`, when they are clean HTTP (no parse error uncut).
pub fn assert_split_invariant(
    client: &[u8],
    server: &[u8],
    splits: &[u8],
    max_body: u64,
    redact: bool,
) -> Vec<Value> {
    let (whole, ws) = run_streams(client, server, None, max_body, redact);
    let (cut, cs) = run_streams(client, server, Some(splits), max_body, redact);
    if ws.parse_errors > 0 || !begins_like_http(client) || !begins_like_http(server) {
        // Not clean HTTP: after garbage (or a stream that does not open with a
        // message) the sensor looks for the next message start line by line,
        // and a segment boundary is taken for a line start: real traffic puts
        // messages straight after binary preambles (SOCKS, say), so a cut can
        // reveal a start the whole stream hides mid-line. Only "no panic,
        // valid JSON, no leak" is checked then.
        return whole;
    }
    assert_eq!(
        compared_stats(&ws),
        compared_stats(&cs),
        "counters differ between whole and cut streams\nwhole: {}\ncut:   {}",
        summary(&whole),
        summary(&cut)
    );
    assert_eq!(
        whole.len(),
        cut.len(),
        "trace count differs between whole and cut streams\nwhole: {}\ncut:   {}",
        summary(&whole),
        summary(&cut)
    );
    for (a, b) in whole.iter().zip(&cut) {
        assert_eq!(
            a, b,
            "trace differs between whole and cut streams\nwhole: {a}\ncut:   {b}"
        );
    }
    whole
}

fn summary(traces: &[Value]) -> String {
    let mut s = String::new();
    for t in traces {
        let target = t["request"]["target"].to_string();
        let target = if target.len() > 100 {
            format!(
                "{}...({} chars)",
                &target[..target.floor_char_boundary(80)],
                target.len()
            )
        } else {
            target
        };
        s.push_str(&format!(
            "\n  {} {} -> {} (req body {} / resp body {})",
            t["request"]["method"],
            target,
            t["response"]["status"],
            t["request"]["body_size"],
            t["response"]["body_size"]
        ));
    }
    s
}

// ───────────────────────────── decode ─────────────────────────────

/// `decode`: `[link-type selector u8][frame...]` → `wire::decode`.
/// A segment's payload must lie inside the frame.
pub fn decode(data: &[u8]) {
    let mut inp = Input(data);
    let linktype = LINKTYPES[inp.u8() as usize % LINKTYPES.len()];
    let frame = inp.rest();
    if let Ok(seg) = wire::decode(linktype, frame) {
        let (f0, f1) = (
            frame.as_ptr() as usize,
            frame.as_ptr() as usize + frame.len(),
        );
        let p0 = seg.payload.as_ptr() as usize;
        assert!(
            seg.payload.is_empty() || (p0 >= f0 && p0 + seg.payload.len() <= f1),
            "payload outside the frame"
        );
    }
    if !dlt::supported(linktype) {
        assert_eq!(
            wire::decode(linktype, frame).err(),
            Some(wire::Skip::UnknownLink)
        );
    }
}

// ───────────────────────────── pipeline ─────────────────────────────

/// `pipeline`: captured frames through the whole path (decode → tracker →
/// view → JSON line, OTLP span, HAR entry), as the capture loop runs it.
/// `[max-body sel u8][flags u8: 1 redact, 2 OTLP, 4 HAR]` then records
/// `[link-type sel u8][time step u8, 100 ms][length u16][frame]`.
pub fn pipeline(data: &[u8]) {
    let mut inp = Input(data);
    let mb = max_body(inp.u8());
    let flags = inp.u8();
    let mut t = tracker(mb);
    let mut sink = Sink::new(mb, flags & 1 != 0, flags & 2 != 0, flags & 4 != 0);
    let mut ts = T0;
    while !inp.is_empty() {
        let linktype = LINKTYPES[inp.u8() as usize % LINKTYPES.len()];
        ts += inp.u8() as u64 * 100_000;
        let frame = inp.blob();
        if let Ok(seg) = wire::decode(linktype, frame) {
            t.segment(&seg, ts, &mut sink);
        }
        t.expire(ts, &mut sink);
    }
    finish(&mut t, &mut sink);
}

// ───────────────────────────── reassembly ─────────────────────────────

/// `reassembly`: one connection's two byte streams sent as segments in any
/// order, overlapping, duplicated, with gaps, SYN/FIN/RST and ACKs.
///
/// `[client ISN u32][server ISN u32][max-body sel u8]`
/// `[client len u16][client bytes][server len u16][server bytes]`
/// then ops of 6 bytes: `[ctl u8][offset u16][length u16][time step u8, 100 ms]`
/// ctl: bit 0 direction (1 = server), 1 ACK, 2 FIN, 3 RST, 4 SYN (no
/// payload), 5 acknowledge only the contiguous bytes (else all sent), 6 run
/// the idle timer, 7 the segment carries a TCP-MD5 option.
///
/// Checks: no panic, valid JSON, no pool leak; and when nothing was lost (no
/// gap counted, every byte sent, each direction starting at its first byte,
/// FIN only at the end, no RST, one connection) the requests are exactly those
/// of the streams delivered in order, and so are the responses when they
/// paired the same way.
pub fn reassembly(data: &[u8]) {
    let mut inp = Input(data);
    let isn = [inp.u32(), inp.u32()];
    let mb = max_body(inp.u8());
    let streams = [inp.blob(), inp.blob()];
    let mut t = tracker(mb);
    let mut sink = Sink::new(mb, false, false, false);
    let mut ts = T0;
    // Per direction: bytes covered so far (as a bitmap), highest byte sent.
    let mut covered: [Vec<bool>; 2] =
        [vec![false; streams[0].len()], vec![false; streams[1].len()]];
    let mut sent_max = [0usize; 2];
    let mut started = [false; 2];
    let mut clean = true; // the in-order comparison applies
    while !inp.is_empty() {
        let ctl = inp.u8();
        let off = inp.u16() as usize;
        let len = inp.u16() as usize;
        ts += inp.u8() as u64 * 100_000;
        let dir = (ctl & 1) as usize;
        let s = streams[dir];
        let off = off % (s.len() + 1);
        let len = len.min(s.len() - off);
        let other = 1 - dir;
        let ack = (ctl & 2 != 0).then(|| {
            let upto = if ctl & 32 != 0 {
                covered[other]
                    .iter()
                    .position(|c| !c)
                    .unwrap_or(covered[other].len())
            } else {
                sent_max[other]
            };
            isn[other].wrapping_add(1 + upto as u32)
        });
        let mut flags = 0;
        let seg = if ctl & 16 != 0 {
            flags |= SYN;
            started[dir] = true;
            segment(dir, isn[dir], ack, flags, &[])
        } else {
            if ctl & 4 != 0 {
                flags |= FIN;
                if off + len != s.len() {
                    clean = false;
                }
            }
            if ctl & 8 != 0 {
                flags |= RST;
                if ctl & 128 == 0 {
                    clean = false;
                }
            }
            if len > 0 {
                if !started[dir] && off != 0 {
                    clean = false; // the capture starts mid-stream
                }
                started[dir] = true;
                covered[dir][off..off + len]
                    .iter_mut()
                    .for_each(|c| *c = true);
                sent_max[dir] = sent_max[dir].max(off + len);
            }
            let seq = isn[dir].wrapping_add(1 + off as u32);
            segment(dir, seq, ack, flags, &s[off..off + len])
        };
        let seg = Segment {
            md5: ctl & 128 != 0,
            ..seg
        };
        t.segment(&seg, ts, &mut sink);
        if ctl & 64 != 0 {
            t.expire(ts, &mut sink);
        }
    }
    finish(&mut t, &mut sink);

    let st = &t.stats;
    let all_sent = covered.iter().all(|c| c.iter().all(|&b| b));
    if !(clean
        && all_sent
        && st.gaps == 0
        && st.flows_opened <= 1
        && st.pool_exhausted == 0
        && st.tls_flows + st.http2_flows + st.non_http_flows + st.tunnels == 0)
    {
        return;
    }
    let (whole, ws) = run_streams(streams[0], streams[1], None, mb, false);
    if ws.tls_flows + ws.http2_flows + ws.non_http_flows + ws.tunnels + ws.pool_exhausted != 0
        || ws.parse_errors > 0
    {
        return;
    }
    let reqs = |ts: &[Value]| {
        let mut v: Vec<String> = ts.iter().map(|t| t["request"].to_string()).collect();
        v.sort();
        v
    };
    assert_eq!(
        reqs(&whole),
        reqs(&sink.traces),
        "nothing was lost, yet the requests differ from the in-order streams\nin order: {}\nscrambled: {}",
        summary(&whole),
        summary(&sink.traces)
    );
    let paired_alike = st.orphan_responses == 0
        && ws.orphan_responses == 0
        && st.requests_without_response == ws.requests_without_response
        && whole.len() <= pcap_sensor::http1::MAX_PENDING as usize;
    if paired_alike {
        let all = |ts: &[Value]| {
            let mut v: Vec<String> = ts.iter().map(|t| timeless(t).to_string()).collect();
            v.sort();
            v
        };
        assert_eq!(
            all(&whole),
            all(&sink.traces),
            "nothing was lost and responses paired alike, yet the traces differ\nin order: {}\nscrambled: {}",
            summary(&whole),
            summary(&sink.traces)
        );
    }
}

// ───────────────────────────── faults ─────────────────────────────

/// `faults`: real conversations as the frames of one connection, read as
/// the sensor reads a capture, through the fault injector. The frames: the
/// handshake; the client's stream, then the server's, cut by the split sizes
/// (at most 16 KiB a segment), the peer acknowledging every second segment;
/// the close; 1 ms apart, in one link type.
/// `[max-body sel u8][faults u8][rate u8][snap length u16][end after u16]`
/// `[seed u64][link sel u8][client len u16][client bytes][server len u16]`
/// `[server bytes][split sizes u8...]`
/// faults: bit 0 copies (up to 3 frames later), 1 reordering (by up to
/// 1 + rate % 16 frames and 30 KiB), 2 every frame twice, 3 losses (copies,
/// reordering and losses at rate + 1 in 256), 4 a snap length of
/// 40 + n % 1500 bytes, 5 the capture ends after n % 256 + 1 frames.
///
/// Checks: no panic, valid JSON, no pool leak; and when the injector made
/// the sensor miss nothing (no loss, no cut, no early end) and the streams
/// are clean HTTP, the traces (times aside: a frame handed on late takes the
/// time of the one before it) and counters are those of the same frames read
/// without it.
pub fn faults(data: &[u8]) {
    let mut inp = Input(data);
    let mb = max_body(inp.u8());
    let which = inp.u8();
    let rate = inp.u8();
    let snap = inp.u16() as usize;
    let end = inp.u16() as u64;
    let seed = inp.u64();
    let link = inp.u8() as usize;
    let client = inp.blob();
    let server = inp.blob();
    let splits = inp.rest();
    let links = packet::LINKS_V4;
    let lt = links[link % links.len()];
    let frames = connection_frames(lt, (link / links.len()) as u8, client, server, splits);
    let mut src = FaultInjector::new(Frames::new("faults", lt, frames.clone()), seed);
    let r = Rate::new(rate as u64 + 1, 256);
    if which & 1 != 0 {
        src = src.duplicate(r, 3);
    }
    if which & 2 != 0 {
        let window = Window {
            frames: 1 + rate as usize % 16,
            bytes: 30 * 1024,
        };
        src = src.reorder(r, window);
    }
    if which & 4 != 0 {
        src = src.twice();
    }
    if which & 8 != 0 {
        src = src.lose(r);
    }
    if which & 16 != 0 {
        src = src.snaplen(40 + snap % 1500);
    }
    if which & 32 != 0 {
        src = src.end_after(end % 256 + 1);
    }
    let (got, gs) = read_capture(&mut src, mb);
    if src.counts().missed_any() || !begins_like_http(client) || !begins_like_http(server) {
        return;
    }
    let (want, ws) = read_capture(&mut Frames::new("faults", lt, frames), mb);
    if ws.parse_errors > 0 {
        return; // not clean HTTP: see assert_split_invariant
    }
    let timeless_all = |ts: &[Value]| ts.iter().map(timeless).collect::<Vec<_>>();
    assert_eq!(
        compared_stats(&ws),
        compared_stats(&gs),
        "counters differ with the injector's faults ({:?})\nwithout: {}\nwith:    {}",
        src.counts(),
        summary(&want),
        summary(&got)
    );
    assert_eq!(
        timeless_all(&want),
        timeless_all(&got),
        "traces differ with the injector's faults ({:?})\nwithout: {}\nwith:    {}",
        src.counts(),
        summary(&want),
        summary(&got)
    );
}

/// The frames of one connection carrying `client` and `server` (see
/// `faults`), of link type `lt` in its form `variant`.
fn connection_frames(
    lt: i32,
    variant: u8,
    client: &[u8],
    server: &[u8],
    splits: &[u8],
) -> Vec<OwnedFrame> {
    let isn = [0xffff_ff00u32, 0x7fff_fff0u32]; // both wrap or cross 2^31
    let ends = [CLIENT, SERVER];
    let mut frames = Vec::new();
    let mut push = |dir: usize, seq: u32, ack: u32, flags: u8, payload: &[u8]| {
        let (from, to) = (ends[dir], ends[1 - dir]);
        let h = packet::TcpHeader {
            sport: from.1,
            dport: to.1,
            seq,
            ack,
            flags,
        };
        let tcp = packet::tcp_bytes(&h, payload, false);
        let ip = packet::ip_bytes(from.0.into(), to.0.into(), &tcp, false);
        frames.push(OwnedFrame {
            ts_us: T0 + 1000 * frames.len() as u64,
            linktype: lt,
            data: packet::link_frame(lt, &ip, variant),
        });
    };
    // Sequence number of byte `off` of direction `d`'s stream.
    let at = |d: usize, off: usize| isn[d].wrapping_add(1).wrapping_add(off as u32);
    push(0, isn[0], 0, SYN, b"");
    push(1, isn[1], at(0, 0), SYN | ACK, b"");
    push(0, at(0, 0), at(1, 0), ACK, b"");
    let streams = [client, server];
    let mut cuts = splits.iter().copied();
    let mut sent = [0usize; 2];
    for d in 0..2 {
        let s = streams[d];
        let mut k = 0;
        while sent[d] < s.len() {
            let n = cuts.next().map_or(s.len(), split_size).min(16 * 1024);
            let end = (sent[d] + n).min(s.len());
            push(
                d,
                at(d, sent[d]),
                at(1 - d, sent[1 - d]),
                ACK,
                &s[sent[d]..end],
            );
            sent[d] = end;
            k += 1;
            if k % 2 == 0 || sent[d] == s.len() {
                push(1 - d, at(1 - d, sent[1 - d]), at(d, sent[d]), ACK, b"");
            }
        }
    }
    let fin = |d: usize| at(d, sent[d]);
    push(0, fin(0), fin(1), FIN | ACK, b"");
    push(1, fin(1), fin(0).wrapping_add(1), FIN | ACK, b"");
    push(0, fin(0).wrapping_add(1), fin(1).wrapping_add(1), ACK, b"");
    frames
}

/// Everything `src` hands over, through decode and a tracker, as the
/// sensor's read loop does; then `finish`. The traces and the counters.
fn read_capture(src: &mut dyn Source, max_body: u64) -> (Vec<Value>, Stats) {
    let mut t = tracker(max_body);
    let mut sink = Sink::new(max_body, false, false, false);
    loop {
        let b = src
            .dispatch(64, &mut |fr| {
                if let Ok(seg) = wire::decode(fr.linktype, fr.data) {
                    t.segment(&seg, fr.ts_us, &mut sink);
                }
            })
            .expect("a source in memory does not fail");
        if b == Batch::End {
            break;
        }
    }
    finish(&mut t, &mut sink);
    (sink.traces, t.stats)
}

// ───────────────────────────── http_split ─────────────────────────────

/// `http_split`: real HTTP conversations cut into segments anywhere.
/// `[max-body sel u8][flags u8: 1 redact][client len u16][client bytes]`
/// `[server len u16][server bytes][split sizes u8...]`
/// The traces and counters must be those of the uncut streams.
pub fn http_split(data: &[u8]) {
    let mut inp = Input(data);
    let mb = max_body(inp.u8());
    let redact = inp.u8() & 1 != 0;
    let client = inp.blob();
    let server = inp.blob();
    let splits = inp.rest();
    assert_split_invariant(client, server, splits, mb, redact);
}

// ───────────────────────────── chunked ─────────────────────────────

/// A strict RFC 9112 chunked-body decoder: the body, and the bytes consumed,
/// or None when the input is not exactly one valid chunked body.
pub fn strict_dechunk(b: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut i = 0;
    let line = |i: usize| -> Option<(usize, &[u8])> {
        let rel = b[i..].windows(2).position(|w| w == b"\r\n")?;
        Some((i + rel + 2, &b[i..i + rel]))
    };
    loop {
        let (next, l) = line(i)?;
        let hex_end = l
            .iter()
            .position(|c| !c.is_ascii_hexdigit())
            .unwrap_or(l.len());
        if hex_end == 0 || hex_end > 15 {
            return None;
        }
        let ext = &l[hex_end..];
        if !ext.is_empty() && (ext[0] != b';' || ext.contains(&b'\n') || ext.contains(&b'\r')) {
            return None;
        }
        let size = usize::from_str_radix(std::str::from_utf8(&l[..hex_end]).ok()?, 16).ok()?;
        i = next;
        if size == 0 {
            // Trailer lines, then the empty line.
            loop {
                let (next, l) = line(i)?;
                i = next;
                if l.is_empty() {
                    return (i == b.len()).then_some(out);
                }
                if l.contains(&b'\n') {
                    return None;
                }
            }
        }
        if b.len() < i + size + 2 || &b[i + size..i + size + 2] != b"\r\n" {
            return None;
        }
        out.extend_from_slice(&b[i..i + size]);
        i += size + 2;
    }
}

/// Encodes `data` as a chunked body with sizes from `sizes` (cycled), an
/// extension on some chunks and trailers when `trailers`.
pub fn enchunk(data: &[u8], sizes: &[u8], trailers: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut off = 0;
    let mut k = 0;
    while off < data.len() {
        let s = sizes.get(k % sizes.len().max(1)).copied().unwrap_or(255);
        let n = (split_size(s)).min(data.len() - off);
        let _ = write!(out, "{n:x}");
        if s % 7 == 3 {
            out.extend_from_slice(b";name=\"v\"");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&data[off..off + n]);
        out.extend_from_slice(b"\r\n");
        off += n;
        k += 1;
    }
    out.extend_from_slice(b"0\r\n");
    if trailers {
        out.extend_from_slice(b"X-Checksum: 1234\r\nX-Other: a;b\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

const CHUNKED_REQS: &[u8] =
    b"GET /chunked HTTP/1.1\r\nHost: fuzz\r\n\r\nGET /after HTTP/1.1\r\nHost: fuzz\r\n\r\n";

fn chunked_server(body: &[u8]) -> Vec<u8> {
    let mut s = b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    s.extend_from_slice(body);
    s.extend_from_slice(b"HTTP/1.1 204 No Content\r\nX-After: yes\r\n\r\n");
    s
}

/// `chunked`: a chunked response body, then a second response.
/// `[mode u8][max-body sel u8][split sizes: len u16 + bytes]` then
/// - mode even: the rest is the body's *data*, encoded here (chunk sizes from
///   the split bytes, extensions, trailers when mode & 2);
/// - mode odd: the rest *is* the chunked body, as sent.
///
/// Checks split invariance; when the body is valid chunked encoding, the
/// trace's body is the decoded data (up to the cap), body_size its length,
/// and the 204 after it is paired with the second request.
pub fn chunked(data: &[u8]) {
    let mut inp = Input(data);
    let mode = inp.u8();
    let mb = max_body(inp.u8());
    let splits = inp.blob();
    let rest = inp.rest();
    let body = if mode & 1 == 0 {
        enchunk(rest, splits, mode & 2 != 0)
    } else {
        rest.to_vec()
    };
    let server = chunked_server(&body);
    let traces = assert_split_invariant(CHUNKED_REQS, &server, splits, mb, false);
    let Some(want) = strict_dechunk(&body) else {
        return;
    };
    assert_eq!(
        traces.len(),
        2,
        "a valid chunked body then a 204: two traces\n{}",
        summary(&traces)
    );
    let r = &traces[0]["response"];
    assert_eq!(r["status"], 200);
    assert_eq!(
        r["body_size"].as_u64(),
        Some(want.len() as u64),
        "body_size"
    );
    let kept = body_bytes(r);
    let cap = want.len().min(mb as usize);
    assert!(
        kept == want[..cap],
        "de-chunked body differs: kept {} bytes, want the first {cap} of {}",
        kept.len(),
        want.len()
    );
    assert_eq!(
        r["body_truncated"],
        want.len() > mb as usize,
        "body_truncated"
    );
    assert_eq!(traces[1]["request"]["target"], "/after");
    assert_eq!(traces[1]["response"]["status"], 204);
}

// ───────────────────────────── gzip ─────────────────────────────

/// `gzip`: Content-Encoding undone when the view is built.
/// `[mode u8][max-body sel u8][flags u8: 1 redact, 2 chunked]` then the payload.
/// mode % 8: 0 payload sent as a gzip body, 1 as deflate (zlib), 2 as raw
/// deflate; 3 payload gzip-compressed here, 4 zlib, 5 raw deflate, 6 gzip
/// then cut short (cut point: mode / 8 of 32 parts), 7 two gzip members.
///
/// Checks: no panic; when the sensor had to decode a valid compressed body
/// whose compressed form was kept whole, the body is the payload (up to the
/// cap), and a body cut at the cap says so.
pub fn gzip(data: &[u8]) {
    use flate2::Compression;
    use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};
    let mut inp = Input(data);
    let mode = inp.u8();
    let mb = max_body(inp.u8());
    let flags = inp.u8();
    let payload = inp.rest();
    let level = Compression::new((mode as u32 / 8) % 10);
    let gz = |p: &[u8]| {
        let mut e = GzEncoder::new(Vec::new(), level);
        e.write_all(p).unwrap();
        e.finish().unwrap()
    };
    let (coding, body, valid): (&str, Vec<u8>, bool) = match mode % 8 {
        0 => ("gzip", payload.to_vec(), false),
        1 => ("deflate", payload.to_vec(), false),
        2 => ("deflate", payload.to_vec(), false),
        3 => ("gzip", gz(payload), true),
        4 => {
            let mut e = ZlibEncoder::new(Vec::new(), level);
            e.write_all(payload).unwrap();
            ("deflate", e.finish().unwrap(), true)
        }
        5 => {
            let mut e = DeflateEncoder::new(Vec::new(), level);
            e.write_all(payload).unwrap();
            ("deflate", e.finish().unwrap(), true)
        }
        6 => {
            let mut z = gz(payload);
            let cut = z.len() * (mode as usize / 8) / 32;
            z.truncate(cut);
            ("gzip", z, false)
        }
        _ => {
            let half = payload.len() / 2;
            let mut z = gz(&payload[..half]);
            z.extend_from_slice(&gz(&payload[half..]));
            ("gzip", z, true)
        }
    };
    let redact = flags & 1 != 0;
    let ctype = if redact {
        "application/json"
    } else {
        "application/octet-stream"
    };
    let mut server =
        format!("HTTP/1.1 200 OK\r\nContent-Encoding: {coding}\r\nContent-Type: {ctype}\r\n")
            .into_bytes();
    if flags & 2 != 0 {
        server.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
        server.extend_from_slice(&enchunk(&body, &[211, 30, 250], false));
    } else {
        let _ = write!(server, "Content-Length: {}\r\n\r\n", body.len());
        server.extend_from_slice(&body);
    }
    let client = b"GET /gz HTTP/1.1\r\nHost: fuzz\r\nAccept-Encoding: gzip, deflate\r\n\r\n";
    let (traces, _) = run_streams(client, &server, None, mb, redact);
    assert_eq!(traces.len(), 1, "one exchange");
    let r = &traces[0]["response"];
    if !valid || body.len() as u64 > mb {
        return; // the sensor saw a cut or undecodable body: no panic is the check
    }
    assert!(
        r.get("body_decode_error").is_none(),
        "valid {coding} body reported as undecodable"
    );
    let kept = body_bytes(r);
    let cap = payload.len().min(mb as usize);
    if !redact {
        assert!(
            kept == payload[..cap],
            "decoded {coding} body differs: kept {} bytes, want the first {cap} of {}",
            kept.len(),
            payload.len()
        );
    }
    if payload.len() as u64 > mb {
        assert_eq!(
            r["body_truncated"],
            true,
            "the decoded body ({} bytes) was cut at --max-http-length {mb}, but the trace says it is whole (body_size {})",
            payload.len(),
            r["body_size"]
        );
    } else if !redact {
        // (Redaction may lengthen a body past the cap: then it is cut.)
        assert_eq!(
            r["body_truncated"],
            false,
            "the decoded body ({} bytes) fits --max-http-length {mb}, but the trace says it was cut",
            payload.len()
        );
        assert_eq!(
            r["body_size"].as_u64(),
            Some(payload.len() as u64),
            "body_size of a decoded body"
        );
    }
}

// ───────────────────────────── json ─────────────────────────────

/// What `json_str` promises: bytes that are UTF-8 come back as that string,
/// anything else as Latin-1.
fn expect_str(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(s) => s.to_string(),
        Err(_) => b.iter().map(|&c| c as char).collect(),
    }
}

/// Reference: does any member name (as written, between its quotes) say
/// secret, and is its value replaced? Walks a parsed document.
fn check_redacted(v: &Value, path: &str) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let plain = k
                    .bytes()
                    .all(|c| (0x20..0x7f).contains(&c) && c != b'"' && c != b'\\');
                if plain && policy::secret_name(k.as_bytes()) {
                    assert_eq!(
                        x,
                        &Value::String(policy::REDACTED.into()),
                        "member {path}.{k} names a secret but is not redacted"
                    );
                } else {
                    check_redacted(x, &format!("{path}.{k}"));
                }
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                check_redacted(x, &format!("{path}[{i}]"));
            }
        }
        _ => {}
    }
}

/// Nesting depth of a JSON document (containers).
fn depth(v: &Value) -> usize {
    match v {
        Value::Object(m) => 1 + m.values().map(depth).max().unwrap_or(0),
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// `json`: the JSON building blocks with arbitrary bytes.
/// `[selector u8]` then the bytes: 0 json_str, 1 base64, 2 RFC 3339 time
/// from 8 bytes, 3 put_u64, 4 redact_json, 5 redact_query; anything else
/// runs all of them.
pub fn json(data: &[u8]) {
    let mut inp = Input(data);
    let sel = inp.u8();
    let b = inp.rest();
    let all = sel > 5;
    let mut out = Vec::new();
    if all || sel == 0 {
        out.clear();
        json_str(&mut out, b);
        let s: String = serde_json::from_slice(&out).unwrap_or_else(|e| {
            panic!(
                "json_str output is not a JSON string ({e}): {}",
                String::from_utf8_lossy(&out)
            )
        });
        assert_eq!(s, expect_str(b), "json_str round trip");
        for bad in ["\u{2028}", "\u{2029}", "\u{85}", "\n", "\r"] {
            assert!(
                !std::str::from_utf8(&out).unwrap().contains(bad),
                "json_str left a line break {bad:?} unescaped"
            );
        }
    }
    if all || sel == 1 {
        out.clear();
        base64(&mut out, b);
        let s = std::str::from_utf8(&out).expect("base64 is ASCII");
        assert_eq!(base64_decode(s).as_deref(), Some(b), "base64 round trip");
    }
    if all || sel == 2 {
        let us = Input(b).u64();
        out.clear();
        write_rfc3339(&mut out, us);
        let s = std::str::from_utf8(&out).unwrap();
        // Year 9999 ends at 253402300800 s; later times cannot be RFC 3339.
        if us < 253_402_300_800_000_000 {
            assert!(
                text::is_rfc3339_micros(s),
                "write_rfc3339({us}) = {s:?} is not RFC 3339"
            );
            assert_eq!(
                text::parse_rfc3339_micros(s),
                Some(us),
                "write_rfc3339({us}) = {s} names another instant"
            );
        }
    }
    if all || sel == 3 {
        let n = Input(b).u64();
        out.clear();
        put_u64(&mut out, n);
        assert_eq!(out, n.to_string().as_bytes());
    }
    if all || sel == 4 {
        out.clear();
        let ok = policy::redact_json(&mut out, b);
        if let Ok(v) = serde_json::from_slice::<Value>(b)
            && depth(&v) < 64
        {
            assert!(ok, "redact_json refused valid JSON");
            // Member names written with escapes (\u0074oken) are compared as
            // written by the sensor; the reference sees them decoded.
            let escaped_names = b.windows(2).any(|w| w == b"\\u");
            let r: Value = serde_json::from_slice(&out).unwrap_or_else(|e| {
                panic!(
                    "redact_json turned valid JSON into invalid JSON ({e}):\nin:  {}\nout: {}",
                    String::from_utf8_lossy(b),
                    String::from_utf8_lossy(&out)
                )
            });
            if !escaped_names {
                check_redacted(&r, "$");
            }
        }
    }
    if all || sel == 5 {
        out.clear();
        policy::redact_query(&mut out, b);
        let got: Vec<&[u8]> = out.split(|&c| c == b'&').collect();
        let want: Vec<&[u8]> = b.split(|&c| c == b'&').collect();
        assert_eq!(got.len(), want.len(), "redact_query keeps every parameter");
        for (g, w) in got.iter().zip(&want) {
            match w.iter().position(|&c| c == b'=') {
                Some(eq) if policy::secret_name(&w[..eq]) => {
                    assert_eq!(&g[..=eq], &w[..=eq]);
                    assert_eq!(&g[eq + 1..], policy::REDACTED.as_bytes());
                }
                _ => assert_eq!(g, w),
            }
        }
    }
}

// ───────────────────────────── otlp ─────────────────────────────

/// Appends `name: value` header lines from the input (CR and LF in them
/// become spaces, so each stays one line). Framing and coding headers are
/// renamed: the harness frames the bodies itself.
fn header_lines(inp: &mut Input<'_>, out: &mut Vec<u8>) -> usize {
    let n = (inp.u8() % 40) as usize;
    for _ in 0..n {
        let name = inp.blob();
        let value = inp.blob();
        let framing = [
            &b"content-length"[..],
            b"transfer-encoding",
            b"content-encoding",
        ]
        .iter()
        .any(|f| name.trim_ascii().eq_ignore_ascii_case(f));
        if framing {
            out.extend_from_slice(b"X-Renamed");
        } else {
            out.extend(name.iter().map(|&c| match c {
                b'\r' | b'\n' | b':' => b'-',
                c => c,
            }));
        }
        out.extend_from_slice(b": ");
        out.extend(
            value
                .iter()
                .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c }),
        );
        out.extend_from_slice(b"\r\n");
    }
    n
}

/// `otlp`: one exchange made of arbitrary method, target, header names and
/// values, reason phrase and bodies, at an arbitrary capture time, written as
/// a JSON line, an OTLP span (alone and in a request body) and a HAR entry.
/// `[flags u8: 1 redact, 2 JSON bodies][capture time u64][duration u32]`
/// `[method blob][target blob][req headers: n u8, (name blob, value blob)...]`
/// `[req body blob][status u16][reason blob][resp headers][resp body blob]`
/// (blob: u16 length + bytes). Checks that every output parses and that
/// method, target and bodies come back as sent.
pub fn otlp(data: &[u8]) {
    let mut inp = Input(data);
    let flags = inp.u8();
    let ts = inp.u64();
    let dur = inp.u32() as u64;
    let method: Vec<u8> = inp
        .blob()
        .iter()
        .map(|&c| if c <= b' ' { b'_' } else { c })
        .collect();
    let target: Vec<u8> = inp
        .blob()
        .iter()
        .map(|&c| if c <= b' ' { b'_' } else { c })
        .collect();
    let mut client = Vec::new();
    client.extend_from_slice(&method);
    client.push(b' ');
    client.extend_from_slice(&target);
    client.extend_from_slice(b" HTTP/1.1\r\n");
    header_lines(&mut inp, &mut client);
    if flags & 2 != 0 {
        client.extend_from_slice(b"Content-Type: application/json\r\n");
    }
    let req_body = inp.blob();
    let _ = write!(client, "Content-Length: {}\r\n\r\n", req_body.len());
    client.extend_from_slice(req_body);
    let status = 200 + inp.u16() % 400;
    let reason: Vec<u8> = inp
        .blob()
        .iter()
        .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c })
        .collect();
    let mut server = format!("HTTP/1.1 {status} ").into_bytes();
    server.extend_from_slice(&reason);
    server.extend_from_slice(b"\r\n");
    header_lines(&mut inp, &mut server);
    if flags & 2 != 0 {
        server.extend_from_slice(b"Content-Type: application/json\r\n");
    }
    let resp_body = inp.blob();
    // No response body where HTTP says there is none (HEAD, tunnels, 204, 304).
    let body_allowed = !(status == 204
        || status == 304
        || method == b"HEAD"
        || (method == b"CONNECT" && status < 300));
    let resp_body: &[u8] = if body_allowed { resp_body } else { b"" };
    let _ = write!(server, "Content-Length: {}\r\n\r\n", resp_body.len());
    server.extend_from_slice(resp_body);

    let redact = flags & 1 != 0;
    let mb = 1 << 20;
    let mut t = tracker(mb);
    let mut sink = Sink::new(mb, redact, true, true);
    let (isn_c, isn_s) = (1000u32, 2000u32);
    t.segment(&segment(0, isn_c, Some(isn_s), 0, &client), ts, &mut sink);
    let ack = isn_c.wrapping_add(client.len() as u32);
    t.segment(
        &segment(1, isn_s, Some(ack), 0, &server),
        ts.saturating_add(dur),
        &mut sink,
    );
    finish(&mut t, &mut sink);
    let Some(tr) = sink.traces.first() else {
        return; // not a request httparse takes: nothing to compare
    };
    let r = &tr["request"];
    assert_eq!(
        r["method"],
        Value::String(expect_str(&method)),
        "method round trip"
    );
    if !redact {
        assert_eq!(
            r["target"],
            Value::String(expect_str(&target)),
            "target round trip"
        );
        if sink.traces.len() == 1 && flags & 2 == 0 {
            assert_eq!(body_bytes(r), req_body, "request body round trip");
            if tr["response"]["status"] == status {
                assert_eq!(
                    body_bytes(&tr["response"]),
                    resp_body,
                    "response body round trip"
                );
            }
        }
    }
}

// ───────────────────────────── client_hello ─────────────────────────────

/// `client_hello`: the first bytes a client sent on a connection. An input
/// that does not start like a TLS handshake record (0x16 0x03) is put in one
/// (so most inputs reach the ClientHello's fields). Checks: no panic; a
/// hello's name and ALPN list within their bounds, the name lower case; any
/// prefix of the bytes gives the whole's name or none (never another); the
/// unread tables take the connection and their log lines stay printable,
/// on one line.
pub fn client_hello(data: &[u8]) {
    use pcap_sensor::tls::client_hello::{MAX_ALPN, MAX_NAME, parse};
    use pcap_sensor::unread::Unread;
    let bytes: Vec<u8> = if data.starts_with(&[0x16, 0x03]) {
        data.to_vec()
    } else {
        let n = data.len().min(1 << 14);
        let mut b = vec![0x16, 0x03, 0x01];
        b.extend_from_slice(&(n as u16).to_be_bytes());
        b.extend_from_slice(&data[..n]);
        b
    };
    let whole = parse(&bytes);
    if let Ok(h) = &whole {
        let name = h.name().unwrap_or(&[]);
        assert!(
            name.len() <= MAX_NAME && h.alpn().len() <= MAX_ALPN,
            "{h:?}"
        );
        assert!(!name.iter().any(u8::is_ascii_uppercase), "{h:?}");
        // Some prefixes (every one of a short input).
        let step = (bytes.len() / 64).max(1);
        for cut in (0..bytes.len()).step_by(step) {
            if let Ok(p) = parse(&bytes[..cut]) {
                assert!(!p.complete, "complete when cut at {cut}: {p:?}");
                if let Some(n) = p.name() {
                    assert_eq!(Some(n), h.name(), "cut at {cut}: {p:?} vs {h:?}");
                }
            }
        }
    }
    let mut u = Unread::default();
    let a = (Addr::v4([10, 0, 0, 1]), 40000);
    let b = (Addr::v4([10, 0, 0, 2]), 443);
    u.tls(&bytes, a, b);
    u.tls(&bytes, b, a);
    for line in [u.encrypted(), u.ports()].into_iter().flatten() {
        assert!(
            line.bytes().all(|c| (0x20..0x7f).contains(&c)),
            "not printable on one line: {line:?}"
        );
    }
}
