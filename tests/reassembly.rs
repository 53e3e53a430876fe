//! Property and fault-injection tests of TCP reassembly and HTTP/1.x parsing, driven through the
//! library API (`wire::decode` → `tcp::Tracker::segment` → `view::build` → `export::jsonl::write_json`).
//!
//! A seeded generator (splitmix64, no dependencies) builds realistic HTTP/1.1 conversations on
//! one client→server connection: handshake, keep-alive, pipelined batches, Content-Length and
//! chunked bodies with chunk extensions and trailers, HEAD with Content-Length, 204, 304,
//! 100-continue then the final response, a close-delimited HTTP/1.0 response, binary bodies,
//! queries, sequence numbers that wrap at 2^32, IPv4 and IPv6, every link type. Then:
//!
//! * `in_order_…`: MSS-sized segments in order give exactly the expected trace per exchange
//!   (method, target, path, query, version, host, headers, bodies, sizes, flags, addresses).
//! * `timestamps_…`: `ts` is the request's first packet, `duration_us` ends at the response's last.
//! * `harmless_faults_…`: random segmentation (down to 1-byte segments), duplicates, reordering
//!   within 30 KiB (never past an ACK that covers the segment), overlapping retransmissions,
//!   every packet twice in a row (`-i any` on loopback: traces identical, ts included), a capture
//!   that starts mid-connection at a message boundary, and all of them combined: same traces.
//! * `lost_bytes_…`: a dropped segment the peer acknowledged, or a capture that starts inside a
//!   message: no panic, every exchange not touching lost bytes (see `affected`) comes out exactly
//!   and in order, a gap is counted, nothing is invented.
//! * `thousand_connections_…`: 1000 interleaved connections through an 8-flow table.
//! * `random_and_truncated_frames_…`, `tracker_survives_…`: random, mutated and truncated frames
//!   of every link type, random segments with hostile payloads: no panic, valid JSON, no leak.
//! * Small hand-written regressions, one per bug class the properties found.
//!
//! Every run ends with `close_all` and checks that every pool window and chunk was given back.
//!
//! A failing property prints, for each kind of failure, a minimised case (fewer exchanges, shorter
//! bodies, larger segments) with its segment list; other failing seeds are listed one per line.
//! `REASM_SEED=0x...` runs only that seed in every property test; `REASM_CASES=N` changes how many
//! cases run (defaults keep the whole file under ~20 s in a debug build).

mod support;

use std::cell::Cell;
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

use pcap_sensor::export::jsonl::write_json;
use pcap_sensor::http::{Emit, Exchange, Tracker};
use pcap_sensor::pool::Store;
use pcap_sensor::tcp::{Ends, Limits};
use pcap_sensor::view::{self, Scratch};
use pcap_sensor::wire::{self, Segment, SeqNumber, TcpFlags, dlt};
use serde_json::{Value, json};
use support::text::{
    base64_decode as b64_decode, base64_encode as b64, rfc3339_from_micros as rfc3339,
};

/// TCP flag bits as the packet builders below write them.
const FIN: u8 = TcpFlags::FIN.bits();
const SYN: u8 = TcpFlags::SYN.bits();
const RST: u8 = TcpFlags::RST.bits();
const ACK: u8 = TcpFlags::ACK.bits();

// ───────────────────────────── deterministic randomness ─────────────────────────────

/// splitmix64: tiny, seedable, good enough to drive test cases.
#[derive(Clone, Debug)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in 0..n (0 when n == 0).
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    /// Uniform in lo..=hi.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }
    fn chance(&mut self, num: usize, den: usize) -> bool {
        self.below(den) < num
    }
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())]
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn mix(a: u64, b: u64) -> u64 {
    Rng::new(a ^ b.wrapping_mul(0x2545_f491_4f6c_dd1d)).next()
}

/// Case seeds: REASM_SEED alone, or `cases` seeds derived from a fixed base.
fn seeds(test: &str, cases: usize) -> Vec<u64> {
    if let Ok(s) = std::env::var("REASM_SEED") {
        let s = s.trim();
        let v = match s.strip_prefix("0x") {
            Some(h) => u64::from_str_radix(h, 16),
            None => s.parse(),
        };
        return vec![v.expect("REASM_SEED: a decimal or 0x-hex number")];
    }
    let cases = std::env::var("REASM_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(cases);
    let base = test.bytes().fold(0x5eed_2024_u64, |h, b| mix(h, b as u64));
    (0..cases as u64).map(|i| mix(base, i)).collect()
}

// Panics while shrinking a failing case are expected: keep them off stderr.
thread_local! {
    static QUIET: Cell<bool> = const { Cell::new(false) };
    static WHERE: Cell<Option<String>> = const { Cell::new(None) };
}

fn install_quiet_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            WHERE.with(|w| w.set(info.location().map(|l| l.to_string())));
            if !QUIET.with(Cell::get) {
                default(info);
            }
        }));
    });
}

/// Run `f`; a panic becomes an error carrying its message.
fn catch<T>(quiet: bool, f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    install_quiet_hook();
    QUIET.with(|q| q.set(quiet));
    let r = panic::catch_unwind(AssertUnwindSafe(f));
    QUIET.with(|q| q.set(false));
    match r {
        Ok(r) => r,
        Err(p) => Err(format!(
            "panic at {}: {}",
            WHERE.with(Cell::take).unwrap_or_default(),
            p.downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| p.downcast_ref::<&str>().copied())
                .unwrap_or("(non-string payload)")
        )),
    }
}

// ───────────────────────────── HTTP conversation model ─────────────────────────────

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Get,
    GetQuery,
    Post,
    Put100,
    Head,
    NoContent,
    NotModified,
    Options,
    Legacy10,
}

const PIPELINABLE: &[Kind] = &[
    Kind::Get,
    Kind::GetQuery,
    Kind::Post,
    Kind::Head,
    Kind::NoContent,
    Kind::NotModified,
    Kind::Options,
];
const SINGLE: &[Kind] = &[
    Kind::Get,
    Kind::GetQuery,
    Kind::Post,
    Kind::Put100,
    Kind::Head,
    Kind::NoContent,
    Kind::NotModified,
    Kind::Options,
];

/// Parameters of one exchange; the bytes are derived from `seed`.
#[derive(Clone, Debug)]
struct ExSpec {
    kind: Kind,
    seed: u64,
    req_len: usize,
    resp_len: usize,
    binary: bool,
    chunked_req: bool,
    chunked_resp: bool,
    ext: bool,
    trailers: bool,
}

#[derive(Clone, Debug)]
enum Item {
    Single(ExSpec),
    /// Requests written back to back, then responses back to back.
    Pipelined(Vec<ExSpec>),
}

impl Item {
    fn exs(&self) -> &[ExSpec] {
        match self {
            Item::Single(e) => std::slice::from_ref(e),
            Item::Pipelined(v) => v,
        }
    }
}

#[derive(Clone, Debug)]
struct ConvSpec {
    items: Vec<Item>,
    v6: bool,
    isn: [u32; 2],
    ports: [u16; 2],
    client_ip: [u8; 4],
    /// The peer sends a pure ACK after this many data segments of a flight (and at its end).
    ack_every: usize,
    /// The server's FIN rides on the last data segment of a close-delimited response.
    fin_with_data: bool,
    mss: usize,
    /// Smallest segment the random segmenter may choose (raised while shrinking a failure).
    min_seg: usize,
    linktype: i32,
    variant: u8,
    t0: u64,
}

/// One exchange as written on the wire and as the trace must show it.
#[derive(Clone, Debug)]
struct Exch {
    method: &'static str,
    target: String,
    req_version: u8,
    req_headers: Vec<(String, String)>,
    req_body: Vec<u8>,
    req_head: Vec<u8>,
    req_body_wire: Vec<u8>,
    /// `HTTP/1.1 100 Continue` (empty unless 100-continue).
    interim: Vec<u8>,
    status: u16,
    reason: &'static str,
    resp_version: u8,
    resp_headers: Vec<(String, String)>,
    /// The decoded body the trace must show (empty for HEAD, 204, 304).
    resp_body: Vec<u8>,
    resp_wire: Vec<u8>,
}

/// A built conversation: exchanges, the flights that carry them, and where each lies in the streams.
#[derive(Clone, Debug)]
struct Conv {
    spec: ConvSpec,
    exs: Vec<Exch>,
    /// Item index of each exchange, and whether that item is pipelined.
    item_of: Vec<usize>,
    pipelined: Vec<bool>,
    /// Byte ranges (stream offsets) of each exchange: request in stream 0, responses in stream 1.
    req_range: Vec<(u64, u64)>,
    resp_range: Vec<(u64, u64)>,
    flights: Vec<(usize, Vec<u8>)>,
    item_first_flight: Vec<usize>,
    stream: [Vec<u8>; 2],
    /// Offsets where a message (request, interim or final response) starts.
    msg_starts: [BTreeSet<u64>; 2],
    server_closes: bool,
}

fn text(rng: &mut Rng, n: usize) -> Vec<u8> {
    const ALPHABET: &[&str] = &[
        "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q", "r",
        "s", "t", "u", "v", "w", "x", "y", "z", "0", "1", "7", "9", " ", " ", " ", ".", ",", ":",
        "\"", "\\", "{", "}", "[", "]", "/", "-", "_", "=", "é", "€", "ß", "\t", "\n", "\r\n",
    ];
    let mut v = Vec::with_capacity(n + 4);
    while v.len() < n {
        v.extend_from_slice(rng.pick(ALPHABET).as_bytes());
    }
    v
}

fn binary(rng: &mut Rng, n: usize) -> Vec<u8> {
    let mut v = rng.bytes(n);
    if n > 0 {
        let at = rng.below(n);
        v[at] = 0xff; // never valid UTF-8
    }
    v
}

fn body_bytes(rng: &mut Rng, n: usize, bin: bool) -> Vec<u8> {
    if bin { binary(rng, n) } else { text(rng, n) }
}

fn size(rng: &mut Rng) -> usize {
    match rng.below(30) {
        0..=3 => 0,
        4..=17 => rng.range(1, 200),
        18..=24 => rng.range(200, 3000),
        25..=28 => rng.range(3000, 20_000),
        _ => rng.range(60_000, 80_000), // larger than a reassembly window
    }
}

fn chunk_encode(rng: &mut Rng, body: &[u8], ext: bool, trailers: bool) -> Vec<u8> {
    let mut w = Vec::new();
    let mut pos = 0;
    while pos < body.len() {
        let cap = rng.pick(&[1usize, 16, 500, 4096, 20_000]);
        let n = rng.range(1, (body.len() - pos).min(cap));
        if rng.chance(1, 2) {
            write!(Wr(&mut w), "{n:x}").unwrap();
        } else {
            write!(Wr(&mut w), "{n:X}").unwrap();
        }
        if ext && rng.chance(1, 2) {
            w.extend_from_slice(rng.pick(&[&b";name=value"[..], b";ieof", b" ;q=\"x y\""]));
        }
        w.extend_from_slice(b"\r\n");
        w.extend_from_slice(&body[pos..pos + n]);
        w.extend_from_slice(b"\r\n");
        pos += n;
    }
    w.extend_from_slice(if rng.chance(1, 3) { b"000" } else { b"0" });
    if ext {
        w.extend_from_slice(b";final=1");
    }
    w.extend_from_slice(b"\r\n");
    if trailers {
        w.extend_from_slice(b"X-Checksum: 9f86d081\r\nServer-Timing: db;dur=53\r\n");
    }
    w.extend_from_slice(b"\r\n");
    w
}

/// `fmt::Write` over a byte vector.
struct Wr<'a>(&'a mut Vec<u8>);
impl std::fmt::Write for Wr<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

fn h(name: &str, value: impl Into<String>) -> (String, String) {
    (name.to_string(), value.into())
}

fn head_bytes(start: &str, headers: &[(String, String)]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(start.as_bytes());
    v.extend_from_slice(b"\r\n");
    for (n, val) in headers {
        write!(Wr(&mut v), "{n}: {val}\r\n").unwrap();
    }
    v.extend_from_slice(b"\r\n");
    v
}

/// Add framing headers for `body` and return its wire form.
fn frame_body(
    rng: &mut Rng,
    headers: &mut Vec<(String, String)>,
    body: &[u8],
    chunked: bool,
    ext: bool,
    trailers: bool,
) -> Vec<u8> {
    if chunked {
        headers.push(h("Transfer-Encoding", "chunked"));
        if trailers {
            headers.push(h("Trailer", "X-Checksum, Server-Timing"));
        }
        chunk_encode(rng, body, ext, trailers)
    } else {
        headers.push(h("Content-Length", body.len().to_string()));
        body.to_vec()
    }
}

fn build_exchange(s: &ExSpec, host: &str) -> Exch {
    let mut rng = Rng::new(s.seed);
    let id = rng.below(100_000);
    let ctype = if s.binary {
        "application/octet-stream"
    } else {
        "application/json; charset=utf-8"
    };
    let mut req_headers = vec![h("Host", host), h("User-Agent", "reasm-test/1.0")];
    let mut req_body = Vec::new();
    let mut req_body_wire = Vec::new();
    let mut resp_headers = vec![
        h("Server", "reasm"),
        h("Date", "Wed, 01 May 2024 12:00:00 GMT"),
    ];
    let mut resp_body = Vec::new();
    let mut resp_body_wire = Vec::new();
    let mut interim = Vec::new();
    let mut req_version = 1;
    let mut resp_version = 1;
    let (method, target, status, reason) = match s.kind {
        Kind::Get | Kind::GetQuery => {
            let target = if s.kind == Kind::Get {
                format!("/api/v1/items/{id}")
            } else {
                format!("/search?q=caf%C3%A9+{id}&page={}&sort=-date&empty=", id % 7)
            };
            req_headers.push(h("Accept", "*/*"));
            resp_headers.push(h("Content-Type", ctype));
            resp_body = body_bytes(&mut rng, s.resp_len, s.binary);
            resp_body_wire = frame_body(
                &mut rng,
                &mut resp_headers,
                &resp_body,
                s.chunked_resp,
                s.ext,
                s.trailers,
            );
            ("GET", target, 200, "OK")
        }
        Kind::Post => {
            req_headers.push(h("Content-Type", ctype));
            req_body = body_bytes(&mut rng, s.req_len, s.binary);
            req_body_wire = frame_body(
                &mut rng,
                &mut req_headers,
                &req_body,
                s.chunked_req,
                s.ext,
                s.trailers,
            );
            resp_headers.push(h("Content-Type", "application/json"));
            resp_headers.push(h("Location", format!("/api/v1/items/{id}")));
            resp_body = text(&mut rng, s.resp_len.min(300));
            resp_body_wire = frame_body(
                &mut rng,
                &mut resp_headers,
                &resp_body,
                s.chunked_resp,
                s.ext,
                false,
            );
            (
                "POST",
                format!("/api/v1/items?dry_run={}", id % 2),
                201,
                "Created",
            )
        }
        Kind::Put100 => {
            req_headers.push(h("Content-Type", "application/octet-stream"));
            req_headers.push(h("Expect", "100-continue"));
            req_body = body_bytes(&mut rng, s.req_len.max(1), s.binary);
            req_body_wire = frame_body(
                &mut rng,
                &mut req_headers,
                &req_body,
                s.chunked_req,
                s.ext,
                s.trailers,
            );
            interim = b"HTTP/1.1 100 Continue\r\n\r\n".to_vec();
            resp_headers.push(h("Content-Type", "text/plain"));
            resp_body = text(&mut rng, s.resp_len.min(100));
            resp_body_wire = frame_body(
                &mut rng,
                &mut resp_headers,
                &resp_body,
                s.chunked_resp,
                s.ext,
                false,
            );
            ("PUT", format!("/upload/{id}.bin"), 200, "OK")
        }
        Kind::Head => {
            resp_headers.push(h("Content-Type", "application/gzip"));
            if s.chunked_resp {
                resp_headers.push(h("Transfer-Encoding", "chunked"));
            } else {
                resp_headers.push(h("Content-Length", (s.resp_len + 1).to_string()));
            }
            ("HEAD", format!("/files/{id}.tar.gz"), 200, "OK")
        }
        Kind::NoContent => ("DELETE", format!("/api/v1/items/{id}"), 204, "No Content"),
        Kind::NotModified => {
            req_headers.push(h("If-None-Match", format!("\"v{id}\"")));
            resp_headers.push(h("ETag", format!("\"v{id}\"")));
            resp_headers.push(h("Cache-Control", "max-age=60"));
            if s.ext {
                // A 304 may repeat the representation's length: still no body.
                resp_headers.push(h("Content-Length", (s.resp_len + 10).to_string()));
            }
            ("GET", format!("/static/app.{id}.js"), 304, "Not Modified")
        }
        Kind::Options => {
            resp_headers.push(h("Allow", "GET, HEAD, POST, PUT, DELETE, OPTIONS"));
            resp_headers.push(h("Content-Length", "0"));
            ("OPTIONS", "*".to_string(), 200, "OK")
        }
        Kind::Legacy10 => {
            req_version = 0;
            resp_version = 0;
            if s.ext {
                req_headers.remove(0); // an HTTP/1.0 request may omit Host
            }
            resp_headers.push(h("Content-Type", "text/plain"));
            resp_body = body_bytes(&mut rng, s.resp_len, s.binary);
            resp_body_wire = resp_body.clone(); // delimited by the server closing
            ("GET", "/legacy/report.txt".to_string(), 200, "OK")
        }
    };
    let req_head = head_bytes(
        &format!("{method} {target} HTTP/1.{req_version}"),
        &req_headers,
    );
    let mut resp_wire = head_bytes(
        &format!("HTTP/1.{resp_version} {status} {reason}"),
        &resp_headers,
    );
    resp_wire.extend_from_slice(&resp_body_wire);
    Exch {
        method,
        target,
        req_version,
        req_headers,
        req_body,
        req_head,
        req_body_wire,
        interim,
        status,
        reason,
        resp_version,
        resp_headers,
        resp_body,
        resp_wire,
    }
}

fn gen_ex(rng: &mut Rng, kinds: &[Kind]) -> ExSpec {
    ExSpec {
        kind: rng.pick(kinds),
        seed: rng.next(),
        req_len: size(rng),
        resp_len: size(rng),
        binary: rng.chance(1, 4),
        chunked_req: rng.chance(1, 3),
        chunked_resp: rng.chance(2, 5),
        ext: rng.chance(1, 2),
        trailers: rng.chance(1, 2),
    }
}

const LINKS_V4: &[i32] = &[
    dlt::EN10MB,
    dlt::LINUX_SLL,
    dlt::LINUX_SLL2,
    dlt::NULL,
    dlt::LOOP,
    dlt::RAW,
    dlt::LINKTYPE_RAW,
    dlt::IPV4,
    dlt::C_HDLC,
    dlt::NFLOG,
    dlt::ARCNET_LINUX,
    dlt::IEEE802_11_RADIO,
];
const LINKS_V6: &[i32] = &[
    dlt::EN10MB,
    dlt::LINUX_SLL,
    dlt::LINUX_SLL2,
    dlt::NULL,
    dlt::LOOP,
    dlt::RAW,
    dlt::RAW_OPENBSD,
    dlt::IPV6,
    dlt::C_HDLC,
    dlt::NFLOG,
    dlt::ARCNET_LINUX,
    dlt::IEEE802_11_RADIO,
];

fn gen_spec(rng: &mut Rng) -> ConvSpec {
    let n = rng.range(1, 6);
    let mut items = Vec::new();
    for _ in 0..n {
        if rng.chance(1, 4) {
            let k = rng.range(2, 4);
            items.push(Item::Pipelined(
                (0..k).map(|_| gen_ex(rng, PIPELINABLE)).collect(),
            ));
        } else {
            items.push(Item::Single(gen_ex(rng, SINGLE)));
        }
    }
    if rng.chance(1, 4) {
        items.push(Item::Single(gen_ex(rng, &[Kind::Legacy10])));
    }
    let isn = |rng: &mut Rng| {
        if rng.chance(1, 2) {
            u32::MAX - rng.below(3000) as u32 // wraps a few KiB into the stream
        } else {
            rng.next() as u32
        }
    };
    let v6 = rng.chance(1, 3);
    ConvSpec {
        items,
        v6,
        isn: [isn(rng), isn(rng)],
        ports: [
            rng.range(32768, 60999) as u16,
            rng.pick(&[80, 8080, 3000, 5000]),
        ],
        client_ip: [
            10,
            rng.below(256) as u8,
            rng.below(256) as u8,
            rng.range(2, 254) as u8,
        ],
        ack_every: rng.range(2, 6),
        fin_with_data: rng.chance(1, 2),
        mss: rng.pick(&[536, 1448, 1460, 8948, 16384]),
        min_seg: 0,
        linktype: rng.pick(if v6 { LINKS_V6 } else { LINKS_V4 }),
        variant: rng.below(256) as u8,
        t0: 1_714_564_800_000_000 + rng.below(1 << 30) as u64,
    }
}

fn host_of(spec: &ConvSpec) -> String {
    if spec.v6 {
        format!("[fd00::1]:{}", spec.ports[1])
    } else {
        format!("10.0.0.1:{}", spec.ports[1])
    }
}

fn build_conv(spec: &ConvSpec) -> Conv {
    let host = host_of(spec);
    let mut c = Conv {
        spec: spec.clone(),
        exs: Vec::new(),
        item_of: Vec::new(),
        pipelined: Vec::new(),
        req_range: Vec::new(),
        resp_range: Vec::new(),
        flights: Vec::new(),
        item_first_flight: Vec::new(),
        stream: [Vec::new(), Vec::new()],
        msg_starts: [BTreeSet::new(), BTreeSet::new()],
        server_closes: false,
    };
    let push = |c: &mut Conv, dir: usize, bytes: &[u8]| {
        if bytes.is_empty() {
            return;
        }
        c.stream[dir].extend_from_slice(bytes);
        let item_start = c.item_first_flight.last() == Some(&c.flights.len());
        match c.flights.last_mut() {
            Some((d, b)) if *d == dir && !item_start => b.extend_from_slice(bytes),
            _ => c.flights.push((dir, bytes.to_vec())),
        }
    };
    for (ii, item) in spec.items.iter().enumerate() {
        let exs: Vec<Exch> = item
            .exs()
            .iter()
            .map(|s| build_exchange(s, &host))
            .collect();
        let piped = matches!(item, Item::Pipelined(_));
        // Mark the item start so its first flight is never merged with the previous one.
        c.item_first_flight.push(c.flights.len());
        let first = c.exs.len();
        for e in &exs {
            let at = c.stream[0].len() as u64;
            c.msg_starts[0].insert(at);
            if e.interim.is_empty() {
                push(&mut c, 0, &e.req_head);
                push(&mut c, 0, &e.req_body_wire);
            } else {
                push(&mut c, 0, &e.req_head);
            }
            c.req_range.push((at, 0));
            c.item_of.push(ii);
            c.pipelined.push(piped);
            if !piped {
                if !e.interim.is_empty() {
                    let at1 = c.stream[1].len() as u64;
                    c.msg_starts[1].insert(at1);
                    push(&mut c, 1, &e.interim);
                    push(&mut c, 0, &e.req_body_wire);
                    c.resp_range.push((at1, 0));
                } else {
                    c.resp_range.push((c.stream[1].len() as u64, 0));
                }
                let r = c.req_range.last_mut().unwrap();
                r.1 = c.stream[0].len() as u64;
                c.msg_starts[1].insert(c.stream[1].len() as u64);
                push(&mut c, 1, &e.resp_wire);
                c.resp_range.last_mut().unwrap().1 = c.stream[1].len() as u64;
            } else {
                c.req_range.last_mut().unwrap().1 = c.stream[0].len() as u64;
            }
            if e.req_version == 0 {
                c.server_closes = true;
            }
        }
        if piped {
            for e in &exs {
                let at = c.stream[1].len() as u64;
                c.msg_starts[1].insert(at);
                push(&mut c, 1, &e.resp_wire);
                c.resp_range.push((at, c.stream[1].len() as u64));
            }
        }
        assert_eq!(c.resp_range.len(), first + exs.len());
        c.exs.extend(exs);
    }
    c
}

// ───────────────────────────── packets and frames ─────────────────────────────

/// One captured TCP segment. `off` is the stream offset of the first payload byte.
#[derive(Clone, Debug)]
struct Pkt {
    dir: usize,
    seq: u32,
    ack: u32,
    flags: u8,
    off: u64,
    data: Vec<u8>,
    ts: u64,
}

impl Pkt {
    fn end(&self) -> u64 {
        self.off + self.data.len() as u64
    }
}

fn seq_gt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

/// Segments of the whole connection; `seg(rest)` chooses each segment's size.
/// Returns the packets and, per flight, the index of its first packet.
fn build_packets(c: &Conv, seg: &mut dyn FnMut(usize) -> usize) -> (Vec<Pkt>, Vec<usize>) {
    let isn = c.spec.isn;
    let mut sent = [0u64; 2];
    let mut fin = [false; 2];
    let mut out = Vec::new();
    let mut flight_start = Vec::new();
    fn mk(dir: usize, seq: u32, ack: u32, flags: u8, off: u64, data: &[u8]) -> Pkt {
        Pkt {
            dir,
            seq,
            ack,
            flags,
            off,
            data: data.to_vec(),
            ts: 0,
        }
    }
    let next_seq = |d: usize, sent: &[u64; 2], fin: &[bool; 2]| {
        isn[d]
            .wrapping_add(1)
            .wrapping_add(sent[d] as u32)
            .wrapping_add(fin[d] as u32)
    };
    out.push(mk(0, isn[0], 0, SYN, 0, b""));
    out.push(mk(1, isn[1], isn[0].wrapping_add(1), SYN | ACK, 0, b""));
    out.push(mk(
        0,
        isn[0].wrapping_add(1),
        isn[1].wrapping_add(1),
        ACK,
        0,
        b"",
    ));
    let n_flights = c.flights.len();
    for (fi, (d, bytes)) in c.flights.iter().enumerate() {
        let d = *d;
        flight_start.push(out.len());
        let mut pos = 0;
        let mut k = 0;
        while pos < bytes.len() {
            let n = seg(bytes.len() - pos).clamp(1, bytes.len() - pos);
            let mut flags = ACK;
            let last = pos + n == bytes.len();
            if last && c.server_closes && d == 1 && fi + 1 == n_flights && c.spec.fin_with_data {
                flags |= FIN;
            }
            let p = mk(
                d,
                next_seq(d, &sent, &fin),
                next_seq(1 - d, &sent, &fin),
                flags,
                sent[d],
                &bytes[pos..pos + n],
            );
            out.push(p);
            sent[d] += n as u64;
            if flags & FIN != 0 {
                fin[d] = true;
            }
            pos += n;
            k += 1;
            if k % c.spec.ack_every == 0 || last {
                let seq = next_seq(1 - d, &sent, &fin);
                out.push(mk(
                    1 - d,
                    seq,
                    next_seq(d, &sent, &fin),
                    ACK,
                    sent[1 - d],
                    b"",
                ));
            }
        }
    }
    // Teardown: whoever closes first, then the other side.
    let order = if c.server_closes { [1, 0] } else { [0, 1] };
    for d in order {
        if !fin[d] {
            let p = mk(
                d,
                next_seq(d, &sent, &fin),
                next_seq(1 - d, &sent, &fin),
                FIN | ACK,
                sent[d],
                b"",
            );
            out.push(p);
            fin[d] = true;
        }
    }
    out.push(mk(
        order[0],
        next_seq(order[0], &sent, &fin),
        next_seq(order[1], &sent, &fin),
        ACK,
        sent[order[0]],
        b"",
    ));
    (out, flight_start)
}

fn stamp(pkts: &mut [Pkt], t0: u64) {
    for (i, p) in pkts.iter_mut().enumerate() {
        p.ts = t0 + i as u64 * 31;
    }
}

fn ip_of(spec: &ConvSpec, dir: usize) -> IpAddr {
    if spec.v6 {
        let mut a = [0u8; 16];
        a[0] = 0xfd;
        a[15] = if dir == 0 { 2 } else { 1 };
        a[14] = if dir == 0 { spec.client_ip[3] } else { 0 };
        IpAddr::from(a)
    } else if dir == 0 {
        IpAddr::from(spec.client_ip)
    } else {
        IpAddr::from([10, 0, 0, 1])
    }
}

fn tcp_bytes(sport: u16, dport: u16, p: &Pkt, opts: bool) -> Vec<u8> {
    let hl = if opts { 32 } else { 20 };
    let mut t = vec![0u8; hl];
    t[0..2].copy_from_slice(&sport.to_be_bytes());
    t[2..4].copy_from_slice(&dport.to_be_bytes());
    t[4..8].copy_from_slice(&p.seq.to_be_bytes());
    t[8..12].copy_from_slice(&p.ack.to_be_bytes());
    t[12] = ((hl / 4) as u8) << 4;
    t[13] = p.flags;
    t[14..16].copy_from_slice(&65535u16.to_be_bytes());
    if opts {
        // NOP, NOP, timestamps
        t[20..32].copy_from_slice(&[1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]);
    }
    t.extend_from_slice(&p.data);
    t
}

fn ip_bytes(src: IpAddr, dst: IpAddr, tcp: &[u8], hop_by_hop: bool) -> Vec<u8> {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let total = 20 + tcp.len();
            let mut p = vec![0u8; 20];
            p[0] = 0x45;
            let tl = if total > 65535 { 0 } else { total as u16 };
            p[2..4].copy_from_slice(&tl.to_be_bytes());
            p[6] = 0x40;
            p[8] = 64;
            p[9] = 6;
            p[12..16].copy_from_slice(&s.octets());
            p[16..20].copy_from_slice(&d.octets());
            p.extend_from_slice(tcp);
            p
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let ext: &[u8] = if hop_by_hop {
                &[6, 0, 1, 4, 0, 0, 0, 0] // hop-by-hop: next=TCP, PadN
            } else {
                &[]
            };
            let plen = ext.len() + tcp.len();
            let mut p = vec![0u8; 40];
            p[0] = 0x60;
            p[4..6].copy_from_slice(&(plen as u16).to_be_bytes());
            p[6] = if hop_by_hop { 0 } else { 6 };
            p[7] = 64;
            p[8..24].copy_from_slice(&s.octets());
            p[24..40].copy_from_slice(&d.octets());
            p.extend_from_slice(ext);
            p.extend_from_slice(tcp);
            p
        }
        _ => unreachable!("mixed address families"),
    }
}

/// Wrap an IP packet in the link header of `lt`; `variant` picks among the forms each takes.
fn link_frame(lt: i32, ip: &[u8], variant: u8) -> Vec<u8> {
    let v6 = ip[0] >> 4 == 6;
    let et: [u8; 2] = if v6 { [0x86, 0xdd] } else { [0x08, 0x00] };
    let mut f = Vec::with_capacity(ip.len() + 48);
    match lt {
        dlt::EN10MB => {
            f.extend_from_slice(&[2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2]);
            match variant % 3 {
                0 => {}
                1 => f.extend_from_slice(&[0x81, 0x00, 0x00, 0x07]),
                _ => f.extend_from_slice(&[0x88, 0xa8, 0x00, 0x64, 0x81, 0x00, 0x00, 0x07]),
            }
            f.extend_from_slice(&et);
        }
        dlt::LINUX_SLL => {
            f.extend_from_slice(&[0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0]);
            f.extend_from_slice(&et);
        }
        dlt::LINUX_SLL2 => {
            f.extend_from_slice(&et);
            f.extend_from_slice(&[0, 0, 0, 0, 0, 1, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0]);
        }
        dlt::NULL => {
            let fam: u32 = if v6 {
                [10, 24, 28, 30][variant as usize % 4]
            } else {
                2
            };
            if variant & 4 == 0 {
                f.extend_from_slice(&fam.to_le_bytes());
            } else {
                f.extend_from_slice(&fam.to_be_bytes());
            }
        }
        dlt::LOOP => {
            let fam: u32 = if v6 { 24 } else { 2 };
            f.extend_from_slice(&fam.to_be_bytes());
        }
        dlt::RAW | dlt::RAW_OPENBSD | dlt::LINKTYPE_RAW | dlt::IPV4 | dlt::IPV6 => {}
        dlt::C_HDLC => {
            f.extend_from_slice(&[0x0f, 0x00]);
            f.extend_from_slice(&et);
        }
        dlt::ARCNET_LINUX => {
            if v6 {
                f.extend_from_slice(&[1, 2, 0, 0, 0xc4, 0, 0, 0]);
            } else if variant & 1 == 0 {
                f.extend_from_slice(&[1, 2, 0, 0, 240]);
            } else {
                f.extend_from_slice(&[1, 2, 0, 0, 212, 0, 0, 0]);
            }
        }
        dlt::NFLOG => {
            f.extend_from_slice(&[if v6 { 10 } else { 2 }, 0, 0, 1]);
            // NFULA_PREFIX "test\0" (length 9, padded to 12), then the packet (type 9).
            f.extend_from_slice(&[9, 0, 10, 0, b't', b'e', b's', b't', 0, 0, 0, 0]);
            let len = (4 + ip.len()) as u16;
            f.extend_from_slice(&len.to_le_bytes());
            f.extend_from_slice(&9u16.to_le_bytes());
        }
        dlt::IEEE802_11_RADIO => {
            f.extend_from_slice(&[0, 0, 8, 0, 0, 0, 0, 0]); // radiotap, no fields
            let qos = variant & 1 == 1;
            f.push(if qos { 0x88 } else { 0x08 }); // data frame
            f.push(0x01); // to DS
            f.extend_from_slice(&[0; 22]); // duration, 3 addresses, sequence control
            if qos {
                f.extend_from_slice(&[0, 0]);
            }
            f.extend_from_slice(&[0xaa, 0xaa, 0x03, 0, 0, 0]);
            f.extend_from_slice(&et);
        }
        _ => panic!("no frame builder for link type {lt}"),
    }
    f.extend_from_slice(ip);
    f
}

fn frame_for(spec: &ConvSpec, p: &Pkt) -> Vec<u8> {
    let tcp = tcp_bytes(spec.ports[p.dir], spec.ports[1 - p.dir], p, p.seq & 1 == 0);
    let ip = ip_bytes(
        ip_of(spec, p.dir),
        ip_of(spec, 1 - p.dir),
        &tcp,
        spec.variant & 8 != 0,
    );
    link_frame(spec.linktype, &ip, spec.variant)
}

// ───────────────────────────── running the tracker ─────────────────────────────

struct Sink {
    lines: Vec<String>,
    scratch: Scratch,
}

impl Default for Sink {
    fn default() -> Self {
        Sink {
            lines: Vec::new(),
            scratch: Scratch::new(1 << 20),
        }
    }
}

impl Emit for Sink {
    fn emit(&mut self, ex: &Exchange, ends: &Ends, store: &Store) {
        let mut buf = Vec::new();
        let mut slots = view::HeaderSlots::default();
        let v = view::build(&mut self.scratch, &mut slots, ex, ends, store, false);
        write_json(&mut buf, &v);
        assert_eq!(buf.last(), Some(&b'\n'), "a trace ends with a newline");
        assert_eq!(
            buf.iter().filter(|&&b| b == b'\n').count(),
            1,
            "a trace is one line"
        );
        self.lines
            .push(String::from_utf8(buf).expect("a trace is UTF-8"));
    }
}

struct Outcome {
    traces: Vec<Value>,
    stats: pcap_sensor::stats::Stats,
}

fn limits() -> Limits {
    Limits {
        max_flows: 16,
        pool_bytes: 16 << 20,
        timeout_us: 10_000_000,
        max_body: 1 << 20,
    }
}

/// After `close_all`: no flow left, every window and chunk back in its pool.
fn check_no_leak(t: &Tracker) -> Result<(), String> {
    if t.live_flows() != 0 {
        return Err(format!("{} flows live after close_all", t.live_flows()));
    }
    if t.windows.free_count() != t.windows.count() as usize {
        return Err(format!(
            "window leak: {} of {} free after close_all",
            t.windows.free_count(),
            t.windows.count()
        ));
    }
    if t.shared.pool.free_count() != t.shared.pool.count() {
        return Err(format!(
            "chunk leak: {} of {} free after close_all",
            t.shared.pool.free_count(),
            t.shared.pool.count()
        ));
    }
    Ok(())
}

fn parse_traces(lines: &[String]) -> Result<Vec<Value>, String> {
    lines
        .iter()
        .map(|l| {
            let v: Value =
                serde_json::from_str(l).map_err(|e| format!("invalid JSON ({e}): {l}"))?;
            for k in [
                "ts",
                "duration_us",
                "client",
                "server",
                "request",
                "response",
            ] {
                if v.get(k).is_none() {
                    return Err(format!("trace without {k}: {l}"));
                }
            }
            Ok(v)
        })
        .collect()
}

/// Feed `pkts` as frames of the conversation's link type, then close everything.
fn run(spec: &ConvSpec, pkts: &[Pkt], lim: &Limits) -> Result<Outcome, String> {
    let mut t = Tracker::new(lim);
    let mut sink = Sink::default();
    for (i, p) in pkts.iter().enumerate() {
        let f = frame_for(spec, p);
        let s = wire::decode(spec.linktype, &f)
            .map_err(|e| format!("packet {i}: decode failed: {e:?}"))?;
        if s.seq != SeqNumber(p.seq)
            || s.ack != SeqNumber(p.ack)
            || s.flags.bits() != p.flags
            || s.payload != &p.data[..]
        {
            return Err(format!("packet {i}: decoded differently: {s:?}"));
        }
        if s.sport != spec.ports[p.dir] || s.missing != 0 {
            return Err(format!("packet {i}: decoded differently: {s:?}"));
        }
        t.segment(&s, p.ts, &mut sink);
        if i % 50 == 49 {
            t.expire(p.ts, &mut sink);
        }
    }
    t.close_all(&mut sink);
    check_no_leak(&t)?;
    if t.stats.traces != sink.lines.len() as u64 {
        return Err(format!(
            "stats.traces = {} but {} traces were emitted",
            t.stats.traces,
            sink.lines.len()
        ));
    }
    Ok(Outcome {
        traces: parse_traces(&sink.lines)?,
        stats: t.stats.clone(),
    })
}

// ───────────────────────────── expectations ─────────────────────────────

fn body_json(body: &[u8]) -> (Value, &'static str) {
    match std::str::from_utf8(body) {
        Ok(s) => (json!(s), "utf8"),
        Err(_) => (json!(b64(body)), "base64"),
    }
}

/// The body bytes a trace message shows.
fn shown_body(m: &Value) -> Option<Vec<u8>> {
    let b = m.get("body")?.as_str()?;
    match m.get("body_encoding")?.as_str()? {
        "utf8" => Some(b.as_bytes().to_vec()),
        "base64" => b64_decode(b),
        _ => None,
    }
}

fn headers_json(hs: &[(String, String)]) -> Value {
    Value::Array(hs.iter().map(|(n, v)| json!([n, v])).collect())
}

/// The trace for exchange `e`, without `ts` and `duration_us`.
fn expect_json(c: &Conv, e: &Exch) -> Value {
    let (qb, qenc) = body_json(&e.req_body);
    let (rb, renc) = body_json(&e.resp_body);
    let (path, query) = match e.target.find('?') {
        Some(q) => (&e.target[..q], Some(&e.target[q + 1..])),
        None => (&e.target[..], None),
    };
    let host = e
        .req_headers
        .iter()
        .find(|(n, _)| n == "Host")
        .map(|(_, v)| v.clone());
    json!({
        "client": {"ip": ip_of(&c.spec, 0).to_string(), "port": c.spec.ports[0]},
        "server": {"ip": ip_of(&c.spec, 1).to_string(), "port": c.spec.ports[1]},
        "request": {
            "method": e.method, "target": e.target, "path": path, "query": query,
            "version": format!("HTTP/1.{}", e.req_version), "host": host,
            "headers": headers_json(&e.req_headers),
            "body": qb, "body_encoding": qenc, "body_size": e.req_body.len(),
            "body_truncated": false,
        },
        "response": {
            "status": e.status, "reason": e.reason,
            "version": format!("HTTP/1.{}", e.resp_version),
            "headers": headers_json(&e.resp_headers),
            "body": rb, "body_encoding": renc, "body_size": e.resp_body.len(),
            "body_truncated": false,
        },
    })
}

fn without_times(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("ts");
        o.remove("duration_us");
    }
    v
}

/// Where two JSON values first differ, for messages.
fn first_diff(a: &Value, b: &Value, path: &str) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys()) {
                let (p, q) = (x.get(k), y.get(k));
                match (p, q) {
                    (Some(p), Some(q)) => {
                        if let Some(d) = first_diff(p, q, &format!("{path}.{k}")) {
                            return Some(d);
                        }
                    }
                    _ => return Some(format!("{path}.{k}: {p:?} vs {q:?}")),
                }
            }
            None
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (p, q))| first_diff(p, q, &format!("{path}[{i}]"))),
        _ if a == b => None,
        _ => {
            let s = |v: &Value| {
                let t = v.to_string();
                if t.len() > 300 {
                    format!("{}… ({} chars)", &t[..t.floor_char_boundary(300)], t.len())
                } else {
                    t
                }
            };
            Some(format!("{path}: expected {} but got {}", s(a), s(b)))
        }
    }
}

fn summary(v: &Value) -> String {
    let r = &v["request"];
    let s = &v["response"];
    format!(
        "{} {} → {} (req body {}{}, resp body {}{})",
        r["method"].as_str().unwrap_or("?"),
        r["target"].as_str().unwrap_or("?"),
        s["status"],
        r["body_size"],
        if r["body_truncated"] == json!(true) {
            " truncated"
        } else {
            ""
        },
        s["body_size"],
        if s["body_truncated"] == json!(true) {
            " truncated"
        } else {
            ""
        },
    )
}

fn summaries(vs: &[Value]) -> String {
    vs.iter()
        .enumerate()
        .map(|(i, v)| format!("\n    [{i}] {}", summary(v)))
        .collect()
}

/// ts of the first packet (in capture order) carrying stream byte `off` of `dir`.
fn first_carrying(pkts: &[Pkt], dir: usize, off: u64) -> Option<u64> {
    pkts.iter()
        .find(|p| p.dir == dir && p.off <= off && off < p.end())
        .map(|p| p.ts)
}

/// The traces must be exactly exchanges `idx`, in order; with `times`, ts and duration too.
fn check_exact(
    c: &Conv,
    idx: &[usize],
    out: &Outcome,
    times: Option<&[Pkt]>,
) -> Result<(), String> {
    let exp: Vec<Value> = idx.iter().map(|&i| expect_json(c, &c.exs[i])).collect();
    let got: Vec<Value> = out.traces.iter().map(without_times).collect();
    if got.len() != exp.len() {
        return Err(format!(
            "expected {} traces:{}\n  got {}:{}",
            exp.len(),
            summaries(&exp),
            got.len(),
            summaries(&got)
        ));
    }
    for (k, (e, g)) in exp.iter().zip(&got).enumerate() {
        if let Some(d) = first_diff(e, g, "") {
            return Err(format!("trace {k} (exchange {}): {d}", idx[k]));
        }
    }
    if let Some(pkts) = times {
        for (k, &i) in idx.iter().enumerate() {
            let first = first_carrying(pkts, 0, c.req_range[i].0).unwrap();
            let e = c.resp_range[i].1;
            let mut last = first_carrying(pkts, 1, e - 1).unwrap();
            if c.exs[i].req_version == 0 {
                // Close-delimited: the response ends with the server's FIN.
                last = pkts
                    .iter()
                    .find(|p| p.dir == 1 && p.flags & FIN != 0)
                    .unwrap()
                    .ts;
            }
            let t = &out.traces[k];
            let want_ts = rfc3339(first);
            if t["ts"] != json!(want_ts) {
                return Err(format!(
                    "trace {k} (exchange {i}, {}): ts {} but the request's first packet is at {want_ts}",
                    summary(t),
                    t["ts"]
                ));
            }
            if t["duration_us"] != json!(last - first) {
                return Err(format!(
                    "trace {k} (exchange {i}, {}): duration_us {} but request's first packet → response's last is {}",
                    summary(t),
                    t["duration_us"],
                    last - first
                ));
            }
        }
    }
    Ok(())
}

fn overlaps(r: (u64, u64), lost: &[(u64, u64)]) -> bool {
    lost.iter().any(|&(a, b)| a < r.1 && r.0 < b)
}

/// Exchanges the sensor cannot be required to get right after losing `lost`: those whose request
/// or response bytes were lost; in a pipelined batch, every exchange after a touched one (ACK
/// numbers cannot tell how many requests or responses a hole in a batch held); and the first
/// untouched exchange after such a batch (a wrong pairing inside the batch may use up its
/// response; the one after it must be found again).
fn affected(c: &Conv, lost: &[Vec<(u64, u64)>; 2]) -> Vec<bool> {
    let n = c.exs.len();
    let mut affected = vec![false; n];
    let mut batch_hit = false;
    for i in 0..n {
        let same_batch = i > 0 && c.pipelined[i] && c.item_of[i] == c.item_of[i - 1];
        affected[i] = overlaps(c.req_range[i], &lost[0])
            || overlaps(c.resp_range[i], &lost[1])
            || (same_batch && affected[i - 1]);
        if !affected[i] && batch_hit && !same_batch {
            affected[i] = true;
            batch_hit = false;
        } else if affected[i] && c.pipelined[i] {
            batch_hit = true;
        }
    }
    affected
}

/// After losses: every exchange not `affected` comes out exactly and in order; nothing is
/// invented: every request shown was sent, and a body not flagged truncated is one that was sent.
fn check_lossy(
    c: &Conv,
    lost: &[Vec<(u64, u64)>; 2],
    need_gap: bool,
    out: &Outcome,
) -> Result<(), String> {
    let n = c.exs.len();
    let affected = affected(c, lost);
    let got: Vec<Value> = out.traces.iter().map(without_times).collect();
    let mut used = vec![false; got.len()];
    let mut at = 0;
    for i in (0..n).filter(|&i| !affected[i]) {
        let want = expect_json(c, &c.exs[i]);
        match (at..got.len()).find(|&k| got[k] == want) {
            Some(k) => {
                used[k] = true;
                at = k + 1;
            }
            None => {
                let near = got
                    .iter()
                    .filter(|g| g["request"]["target"] == want["request"]["target"])
                    .filter_map(|g| first_diff(&want, g, ""))
                    .next()
                    .unwrap_or_else(|| "no trace with that target".into());
                return Err(format!(
                    "exchange {i} ({}) does not touch lost bytes but is missing or wrong after trace {at}: {near}\n  affected: {:?}\n  got:{}",
                    summary(&want),
                    (0..n).filter(|&i| affected[i]).collect::<Vec<_>>(),
                    summaries(&got)
                ));
            }
        }
    }
    // The others: requests and responses that exist, bodies that are right unless flagged truncated.
    for (k, g) in got.iter().enumerate().filter(|(k, _)| !used[*k]) {
        let r = &g["request"];
        let cand: Vec<&Exch> = c
            .exs
            .iter()
            .filter(|e| r["method"] == json!(e.method) && r["target"] == json!(e.target))
            .collect();
        if cand.is_empty() {
            return Err(format!("trace {k} invents a request: {}", summary(g)));
        }
        if r["body_truncated"] == json!(false)
            && !cand.iter().any(|e| {
                shown_body(r).as_deref() == Some(&e.req_body[..])
                    && r["body_size"] == json!(e.req_body.len())
            })
        {
            return Err(format!(
                "trace {k} shows a request body that was never sent and is not flagged truncated: {}",
                summary(g)
            ));
        }
        // A response paired with a HEAD request has no body, whichever response it was.
        let head = r["method"] == json!("HEAD");
        let s = &g["response"];
        if !s.is_null()
            && s["body_truncated"] == json!(false)
            && !c.exs.iter().any(|e| {
                s["status"] == json!(e.status)
                    && if head {
                        s["body_size"] == json!(0)
                    } else {
                        shown_body(s).as_deref() == Some(&e.resp_body[..])
                            && s["body_size"] == json!(e.resp_body.len())
                    }
            })
        {
            return Err(format!(
                "trace {k} shows a response that was never sent and is not flagged truncated: {}",
                summary(g)
            ));
        }
    }
    if need_gap && out.stats.gaps == 0 {
        return Err("bytes were lost but stats.gaps is 0".into());
    }
    Ok(())
}

// ───────────────────────────── faults ─────────────────────────────

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    /// MSS-sized segments in order (the baseline).
    InOrder,
    /// The baseline, ts and duration_us checked against the packets.
    Timing,
    Segmentation,
    Duplicates,
    Reorder,
    Retransmit,
    BackToBack,
    MidBoundary,
    Combined,
    DropSegment,
    MidMessage,
}

enum Expect {
    /// Exactly exchanges `idx`, in order. `times`: ts and duration_us from the packets too.
    Exact { idx: Vec<usize>, times: bool },
    /// Exactly what the same capture without its duplicates gives, ts and duration included.
    SameAs(Vec<Pkt>),
    Lossy {
        lost: [Vec<(u64, u64)>; 2],
        need_gap: bool,
    },
}

fn random_segmenter(
    rng: &mut Rng,
    total: usize,
    min_seg: usize,
) -> impl FnMut(usize) -> usize + use<> {
    // Keep the packet count bounded (debug builds), but reach 1-byte segments.
    let floor = (total / 12_000 + 1).max(min_seg);
    let max = rng.pick(&[1usize, 2, 7, 64, 300, 1460, 9000]).max(floor);
    let mut r = Rng::new(rng.next());
    move |rest: usize| {
        if r.chance(1, 8) {
            r.range(1, 3.max(floor)).min(rest)
        } else {
            r.range(1, max).min(rest)
        }
    }
}

fn mss_segmenter(mss: usize) -> impl FnMut(usize) -> usize {
    move |rest: usize| rest.min(mss)
}

/// Delay data segments past later ones, within 30 KiB of sequence space, never past a packet
/// of the peer that acknowledges them (the peer cannot have seen them yet).
fn reorder(rng: &mut Rng, pkts: &mut Vec<Pkt>, moves: usize) {
    for _ in 0..moves {
        if pkts.len() < 5 {
            return;
        }
        let i = rng.range(3, pkts.len() - 1);
        if pkts[i].data.is_empty() {
            continue;
        }
        let dist = rng.range(1, 12);
        let (dir, s) = (pkts[i].dir, pkts[i].seq);
        let mut j = i;
        while j + 1 < pkts.len() && j - i < dist {
            let q = &pkts[j + 1];
            if q.dir != dir && q.flags & ACK != 0 && seq_gt(q.ack, s) {
                break;
            }
            if q.dir == dir && q.seq.wrapping_add(q.data.len() as u32).wrapping_sub(s) > 30 * 1024 {
                break;
            }
            j += 1;
        }
        if j > i {
            let p = pkts.remove(i);
            pkts.insert(j, p);
        }
    }
}

/// Insert segments that resend a random range (up to 3000 bytes) of what was already sent,
/// overlapping earlier segment boundaries.
fn retransmit(rng: &mut Rng, c: &Conv, pkts: &mut Vec<Pkt>, k: usize) {
    for _ in 0..k {
        let pos = rng.range(3, pkts.len());
        let d = rng.below(2);
        let mut end = 0;
        let mut ack = None;
        for q in &pkts[..pos] {
            if q.dir == d {
                end = end.max(q.end());
                if q.flags & ACK != 0 {
                    ack = Some(q.ack);
                }
            }
        }
        let (Some(ack), true) = (ack, end > 0) else {
            continue;
        };
        let a = rng.below(end as usize) as u64;
        let b = (a + rng.range(1, 3000) as u64).min(end);
        let p = Pkt {
            dir: d,
            seq: c.spec.isn[d].wrapping_add(1).wrapping_add(a as u32),
            ack,
            flags: ACK,
            off: a,
            data: c.stream[d][a as usize..b as usize].to_vec(),
            ts: 0,
        };
        pkts.insert(pos, p);
    }
}

/// Copies of random packets a little later (a SYN only right after itself).
fn duplicate(rng: &mut Rng, pkts: &mut Vec<Pkt>, k: usize) {
    for _ in 0..k {
        let i = rng.below(pkts.len());
        let dist = if pkts[i].flags == SYN {
            1
        } else {
            rng.range(1, 4)
        };
        let p = pkts[i].clone();
        pkts.insert((i + dist).min(pkts.len()), p);
    }
}

fn data_packets(pkts: &[Pkt]) -> Vec<usize> {
    (0..pkts.len())
        .filter(|&i| !pkts[i].data.is_empty())
        .collect()
}

/// Build the packets of `c` with `fault` applied (randomness from `seed`) and what must come out.
fn apply(c: &Conv, fault: Fault, seed: u64) -> (Vec<Pkt>, Expect) {
    let mut rng = Rng::new(seed);
    let total = c.stream[0].len() + c.stream[1].len();
    let all: Vec<usize> = (0..c.exs.len()).collect();
    let exact = |idx: Vec<usize>| Expect::Exact { idx, times: false };
    let (mut pkts, starts) = match fault {
        Fault::InOrder | Fault::Timing | Fault::BackToBack => {
            build_packets(c, &mut mss_segmenter(c.spec.mss))
        }
        _ => build_packets(c, &mut random_segmenter(&mut rng, total, c.spec.min_seg)),
    };
    let n = pkts.len();
    let expect = match fault {
        Fault::InOrder => exact(all),
        Fault::Timing => Expect::Exact {
            idx: all,
            times: true,
        },
        Fault::Segmentation => exact(all),
        Fault::Duplicates => {
            let k = rng.range(1, 1 + n / 4);
            duplicate(&mut rng, &mut pkts, k);
            exact(all)
        }
        Fault::Reorder => {
            let k = rng.range(1, 1 + n / 3);
            reorder(&mut rng, &mut pkts, k);
            exact(all)
        }
        Fault::Retransmit => {
            let k = rng.range(1, 1 + n / 6);
            retransmit(&mut rng, c, &mut pkts, k);
            exact(all)
        }
        Fault::BackToBack => {
            stamp(&mut pkts, c.spec.t0);
            let pkts2: Vec<Pkt> = pkts
                .iter()
                .flat_map(|p| {
                    let mut q = p.clone();
                    q.ts += 1;
                    [p.clone(), q]
                })
                .collect();
            return (pkts2, Expect::SameAs(pkts));
        }
        Fault::MidBoundary => {
            let k = rng.below(c.spec.items.len());
            let cut = starts[c.item_first_flight[k]];
            pkts.drain(..cut);
            exact((0..c.exs.len()).filter(|&i| c.item_of[i] >= k).collect())
        }
        Fault::Combined => {
            let k = rng.range(1, 1 + n / 4);
            reorder(&mut rng, &mut pkts, k);
            let k = rng.range(1, 1 + n / 8);
            retransmit(&mut rng, c, &mut pkts, k);
            let k = rng.range(1, 1 + n / 8);
            duplicate(&mut rng, &mut pkts, k);
            exact(all)
        }
        Fault::DropSegment => {
            let mut lost = [Vec::new(), Vec::new()];
            for _ in 0..rng.range(1, 2) {
                let cands = data_packets(&pkts);
                let i = cands[rng.below(cands.len())];
                let p = pkts.remove(i);
                lost[p.dir].push((p.off, p.end()));
            }
            Expect::Lossy {
                lost,
                need_gap: true,
            }
        }
        Fault::MidMessage => {
            let cands: Vec<usize> = data_packets(&pkts)
                .into_iter()
                .filter(|&i| !c.msg_starts[pkts[i].dir].contains(&pkts[i].off))
                .collect();
            let cut = if cands.is_empty() {
                3
            } else {
                cands[rng.below(cands.len())]
            };
            pkts.drain(..cut);
            let mut lost = [Vec::new(), Vec::new()];
            for (d, l) in lost.iter_mut().enumerate() {
                let first = pkts
                    .iter()
                    .filter(|p| p.dir == d && !p.data.is_empty())
                    .map(|p| p.off)
                    .next()
                    .unwrap_or(c.stream[d].len() as u64);
                if first > 0 {
                    l.push((0, first));
                }
            }
            Expect::Lossy {
                lost,
                need_gap: false,
            }
        }
    };
    stamp(&mut pkts, c.spec.t0);
    (pkts, expect)
}

fn check_case(spec: &ConvSpec, fault: Fault, seed: u64) -> Result<(), String> {
    let c = build_conv(spec);
    let (pkts, expect) = apply(&c, fault, seed);
    let out = run(spec, &pkts, &limits())?;
    let r = match expect {
        Expect::Exact { idx, times } => check_exact(&c, &idx, &out, times.then_some(&pkts[..])),
        Expect::Lossy { lost, need_gap } => check_lossy(&c, &lost, need_gap, &out),
        Expect::SameAs(base) => {
            check_exact(&c, &(0..c.exs.len()).collect::<Vec<_>>(), &out, None)?;
            let want = run(spec, &base, &limits())?;
            for (k, (w, g)) in want.traces.iter().zip(&out.traces).enumerate() {
                if let Some(d) = first_diff(w, g, "") {
                    return Err(format!(
                        "trace {k} differs from the capture without duplicates: {d}"
                    ));
                }
            }
            Ok(())
        }
    };
    r.map_err(|e| format!("{e}\n  stats: {}", out.stats.line()))
}

// ───────────────────────────── shrinking and reporting ─────────────────────────────

/// Smaller variants of a spec: one item fewer, one pipelined request fewer, shorter bodies.
fn shrink_candidates(s: &ConvSpec) -> Vec<ConvSpec> {
    let mut v = Vec::new();
    for m in [65_000, 1460, 300, 40, 8] {
        if s.min_seg < m {
            let mut t = s.clone();
            t.min_seg = m;
            v.push(t);
        }
    }
    for i in 0..s.items.len() {
        if s.items.len() > 1 {
            let mut t = s.clone();
            t.items.remove(i);
            v.push(t);
        }
        if let Item::Pipelined(exs) = &s.items[i] {
            for j in 0..exs.len() {
                let mut t = s.clone();
                let mut e = exs.clone();
                e.remove(j);
                t.items[i] = if e.len() == 1 {
                    Item::Single(e.remove(0))
                } else {
                    Item::Pipelined(e)
                };
                v.push(t);
            }
        }
    }
    for i in 0..s.items.len() {
        for j in 0..s.items[i].exs().len() {
            for f in 0..4 {
                let mut t = s.clone();
                let e = match &mut t.items[i] {
                    Item::Single(e) => e,
                    Item::Pipelined(v) => &mut v[j],
                };
                match f {
                    0 if e.req_len > 0 => e.req_len /= 2,
                    1 if e.resp_len > 0 => e.resp_len /= 2,
                    2 if e.ext || e.trailers => (e.ext, e.trailers) = (false, false),
                    3 if e.binary => e.binary = false,
                    _ => continue,
                }
                v.push(t);
            }
        }
    }
    v
}

fn dump_packets(c: &Conv, pkts: &[Pkt]) -> String {
    let mut s = String::new();
    for (i, p) in pkts.iter().enumerate() {
        if pkts.len() > 100 && i == 40 {
            let _ = write!(s, "\n  … {} segments …", pkts.len() - 80);
        }
        if pkts.len() > 100 && (40..pkts.len() - 40).contains(&i) {
            continue;
        }
        let mut fl = String::new();
        for (b, ch) in [(SYN, 'S'), (FIN, 'F'), (RST, 'R'), (ACK, '.')] {
            if p.flags & b != 0 {
                fl.push(ch);
            }
        }
        let rel = |d: usize, v: u32| v.wrapping_sub(c.spec.isn[d].wrapping_add(1)) as i32;
        let _ = write!(
            s,
            "\n  #{i:<4} {} seq={:<7} ack={:<7} {fl:<3} len={:<5}",
            if p.dir == 0 { "c→s" } else { "s→c" },
            rel(p.dir, p.seq),
            if p.flags & ACK != 0 {
                rel(1 - p.dir, p.ack)
            } else {
                0
            },
            p.data.len()
        );
        if !p.data.is_empty() {
            let shown: String = p.data[..p.data.len().min(48)]
                .iter()
                .flat_map(|&b| std::ascii::escape_default(b))
                .map(char::from)
                .collect();
            let _ = write!(
                s,
                " \"{shown}{}\"",
                if p.data.len() > 48 { "…" } else { "" }
            );
        }
    }
    s
}

/// Failing cases of one test: the first of each fault kind is shrunk and shown in full, the
/// others by seed and message; the test fails at the end with all of them.
struct Failures {
    test: &'static str,
    shown: Vec<(Fault, String)>,
    list: Vec<String>,
}

/// The kind of a failure, so that shrinking does not drift to another one.
fn class(err: &str) -> String {
    const KINDS: &[&str] = &[
        "does not touch lost bytes",
        "invents a request",
        "request body that was never sent",
        "response that was never sent",
        "stats.gaps is 0",
        "traces differs",
        "differs from the capture without duplicates",
        "leak",
        ": ts ",
        ": duration_us ",
    ];
    if let Some(p) = err.strip_prefix("panic at ") {
        return p.split(':').next().unwrap_or("").to_string() + " panic";
    }
    if let Some(k) = KINDS.iter().find(|k| err.contains(*k)) {
        return k.to_string();
    }
    if err.starts_with("expected ") && err.contains(" traces") {
        return "trace count".into();
    }
    err.chars()
        .filter(|c| !c.is_ascii_digit())
        .take(40)
        .collect()
}

impl Failures {
    fn new(test: &'static str) -> Failures {
        Failures {
            test,
            shown: Vec::new(),
            list: Vec::new(),
        }
    }

    fn check(&mut self, spec: &ConvSpec, fault: Fault, seed: u64, case_seed: u64) {
        let Err(err) = catch(true, || check_case(spec, fault, seed)) else {
            return;
        };
        let key = (fault, class(&err));
        if self.shown.contains(&key) {
            self.list.push(format!(
                "{fault:?}, case seed {case_seed:#x}: {}",
                err.lines().next().unwrap_or("")
            ));
        } else {
            self.shown.push(key);
            self.list
                .push(minimise(self.test, spec, fault, seed, case_seed, err));
        }
    }

    fn finish(self) {
        if !self.list.is_empty() {
            panic!(
                "{}: {} failing case(s)\n\n{}",
                self.test,
                self.list.len(),
                self.list.join("\n\n")
            );
        }
    }
}

/// Shrink a failing case and describe it: the error, the minimal conversation and its segments.
fn minimise(
    test: &str,
    spec: &ConvSpec,
    fault: Fault,
    seed: u64,
    case_seed: u64,
    err: String,
) -> String {
    let mut best = spec.clone();
    let mut best_err = err.clone();
    let mut rounds = 0;
    let want = class(&err);
    let started = std::time::Instant::now();
    'outer: while rounds < 200 && started.elapsed() < std::time::Duration::from_secs(5) {
        rounds += 1;
        for cand in shrink_candidates(&best) {
            if let Err(e) = catch(true, || check_case(&cand, fault, seed))
                && class(&e) == want
            {
                best = cand;
                best_err = e;
                continue 'outer;
            }
        }
        break;
    }
    let c = build_conv(&best);
    let (pkts, expect) = apply(&c, fault, seed);
    let lost = match &expect {
        Expect::Lossy { lost, .. } => format!(
            "\n  lost stream bytes: client→server {:?}, server→client {:?}",
            lost[0], lost[1]
        ),
        _ => String::new(),
    };
    let mut exs = String::new();
    for (i, e) in c.exs.iter().enumerate() {
        let _ = write!(
            exs,
            "\n  exchange {i}: {} {} → {} (req {}..{}, resp {}..{}{})",
            e.method,
            e.target,
            e.status,
            c.req_range[i].0,
            c.req_range[i].1,
            c.resp_range[i].0,
            c.resp_range[i].1,
            if c.pipelined[i] { ", pipelined" } else { "" }
        );
    }
    format!(
        "{test}: fault {fault:?} failed (case seed {case_seed:#x}, fault seed {seed:#x}; \
         rerun with REASM_SEED={case_seed:#x}):\n  {err}\n\
         minimised ({} exchange(s), ISNs {:#x}/{:#x}, link type {}): {best_err}{exs}\n\
         segments (seq/ack relative to ISN+1):{}{lost}\n  spec: {best:?}",
        c.exs.len(),
        best.isn[0],
        best.isn[1],
        best.linktype,
        dump_packets(&c, &pkts),
    )
}

// ───────────────────────────── the properties ─────────────────────────────

#[test]
fn in_order_capture_gives_exactly_the_conversation() {
    let mut f = Failures::new("in_order");
    for s in seeds("in_order", 100) {
        let spec = gen_spec(&mut Rng::new(s));
        f.check(&spec, Fault::InOrder, mix(s, 1), s);
    }
    f.finish();
}

/// `ts` is the request's first packet, `duration_us` runs to the response's last packet.
#[test]
fn timestamps_are_first_request_packet_to_last_response_packet() {
    let mut f = Failures::new("timing");
    for s in seeds("in_order", 100) {
        let spec = gen_spec(&mut Rng::new(s));
        f.check(&spec, Fault::Timing, mix(s, 1), s);
    }
    f.finish();
}

#[test]
fn harmless_faults_change_nothing() {
    let mut f = Failures::new("harmless");
    for s in seeds("harmless", 30) {
        let spec = gen_spec(&mut Rng::new(s));
        for (k, fault) in [
            Fault::Segmentation,
            Fault::Duplicates,
            Fault::Reorder,
            Fault::Retransmit,
            Fault::BackToBack,
            Fault::MidBoundary,
            Fault::Combined,
        ]
        .into_iter()
        .enumerate()
        {
            f.check(&spec, fault, mix(s, 10 + k as u64), s);
        }
    }
    f.finish();
}

#[test]
fn lost_bytes_resynchronise_and_invent_nothing() {
    let mut f = Failures::new("lossy");
    for s in seeds("lossy", 100) {
        let spec = gen_spec(&mut Rng::new(s));
        f.check(&spec, Fault::DropSegment, mix(s, 20), s);
        f.check(&spec, Fault::MidMessage, mix(s, 21), s);
    }
    f.finish();
}

// ───────────────────────────── bounds: many connections, few flows ─────────────────────────────

fn small_spec(i: usize, rng: &mut Rng) -> ConvSpec {
    ConvSpec {
        items: vec![Item::Single(ExSpec {
            kind: Kind::Get,
            seed: rng.next(),
            req_len: 0,
            resp_len: rng.range(1, 400),
            binary: false,
            chunked_req: false,
            chunked_resp: rng.chance(1, 2),
            ext: false,
            trailers: false,
        })],
        v6: false,
        isn: [rng.next() as u32, rng.next() as u32],
        ports: [10_000 + i as u16, 8080],
        client_ip: [10, 9, (i / 250) as u8, (i % 250 + 1) as u8],
        ack_every: 4,
        fin_with_data: false,
        mss: 1460,
        min_seg: 0,
        linktype: dlt::RAW,
        variant: 0,
        t0: 1_714_564_800_000_000,
    }
}

/// Feed `(connection, packet)` pairs in order through an 8-flow tracker.
fn run_schedule(
    convs: &[Conv],
    pkts: &[Vec<Pkt>],
    order: &[(usize, usize)],
) -> Result<Outcome, String> {
    let lim = Limits {
        max_flows: 8,
        pool_bytes: 4 << 20,
        timeout_us: 10_000_000,
        max_body: 1 << 20,
    };
    let mut t = Tracker::new(&lim);
    let mut sink = Sink::default();
    for (n, &(i, k)) in order.iter().enumerate() {
        let f = frame_for(&convs[i].spec, &pkts[i][k]);
        let s = wire::decode(dlt::RAW, &f).map_err(|e| format!("decode: {e:?}"))?;
        let ts = convs[i].spec.t0 + n as u64 * 10;
        t.segment(&s, ts, &mut sink);
        if n % 100 == 99 {
            t.expire(ts, &mut sink);
        }
    }
    t.close_all(&mut sink);
    check_no_leak(&t)?;
    Ok(Outcome {
        traces: parse_traces(&sink.lines)?,
        stats: t.stats.clone(),
    })
}

/// Which connection a trace belongs to (by client port); its request must be that connection's,
/// and its response, when there is one, too (truncated bodies excepted).
fn owner(convs: &[Conv], t: &Value) -> Result<usize, String> {
    let port = t["client"]["port"].as_u64().ok_or("no client port")?;
    let i = (port as usize)
        .checked_sub(10_000)
        .filter(|&i| i < convs.len())
        .ok_or_else(|| format!("trace of an unknown connection: {t}"))?;
    let want = expect_json(&convs[i], &convs[i].exs[0]);
    let got = without_times(t);
    if let Some(d) = first_diff(&want["request"], &got["request"], "request") {
        return Err(format!("connection {i}: {d}"));
    }
    let r = &got["response"];
    if !r.is_null() {
        if r["status"] != want["response"]["status"] {
            return Err(format!("connection {i}: response of another exchange: {t}"));
        }
        if r["body_truncated"] == json!(false)
            && let Some(d) = first_diff(&want["response"], r, "response")
        {
            return Err(format!("connection {i}: {d}"));
        }
    }
    Ok(i)
}

#[test]
fn thousand_connections_through_eight_flows() {
    for s in seeds("bounds", 2) {
        let r = catch(false, || {
            let mut rng = Rng::new(s);
            let n = 1000;
            let convs: Vec<Conv> = (0..n + 100)
                .map(|i| build_conv(&small_spec(i, &mut rng)))
                .collect();
            let pkts: Vec<Vec<Pkt>> = convs
                .iter()
                .map(|c| build_packets(c, &mut mss_segmenter(1460)).0)
                .collect();
            let longest = pkts.iter().map(Vec::len).max().unwrap();

            // 1. All 1000 interleaved packet by packet: far more live connections than flows.
            let rr: Vec<(usize, usize)> = (0..longest)
                .flat_map(|k| (0..n).map(move |i| (i, k)))
                .filter(|&(i, k)| k < pkts[i].len())
                .collect();
            let out = run_schedule(&convs, &pkts, &rr)?;
            if out.stats.flows_evicted == 0 {
                return Err("1000 interleaved connections, 8 flows, but flows_evicted=0".into());
            }
            for t in &out.traces {
                owner(&convs, t)?;
            }

            // 2. The same background, with 100 short connections run back to back at random
            //    moments: each completes while it is the most recent flow, so each comes out.
            let mut order = Vec::new();
            let mut at: Vec<usize> = (0..100).map(|_| rng.below(rr.len())).collect();
            at.sort_unstable();
            let mut fg = at.iter().enumerate().peekable();
            for (pos, &x) in rr.iter().enumerate() {
                while let Some(&(j, &p)) = fg.peek() {
                    if p != pos {
                        break;
                    }
                    order.extend((0..pkts[n + j].len()).map(|k| (n + j, k)));
                    fg.next();
                }
                order.push(x);
            }
            let out = run_schedule(&convs, &pkts, &order)?;
            if out.stats.flows_evicted == 0 {
                return Err("background of 1000 connections but flows_evicted=0".into());
            }
            let mut seen = vec![0; n + 100];
            for t in &out.traces {
                let i = owner(&convs, t)?;
                seen[i] += 1;
                if i >= n {
                    let want = expect_json(&convs[i], &convs[i].exs[0]);
                    if let Some(d) = first_diff(&want, &without_times(t), "") {
                        return Err(format!("short connection {}: {d}", i - n));
                    }
                }
            }
            if let Some(j) = (n..n + 100).find(|&i| seen[i] != 1) {
                return Err(format!(
                    "short connection {} (between evictions) gave {} traces, not 1",
                    j - n,
                    seen[j]
                ));
            }

            // 3. At most 6 connections at a time, round robin: all fit, all come out.
            let lanes = 6;
            let mut order = Vec::new();
            let mut cur: Vec<(usize, usize)> = (0..lanes).map(|l| (l, 0)).collect();
            let mut next_conn = lanes;
            while !cur.is_empty() {
                let mut l = 0;
                while l < cur.len() {
                    let (i, k) = cur[l];
                    order.push((i, k));
                    if k + 1 < pkts[i].len() {
                        cur[l].1 += 1;
                    } else if next_conn < n {
                        cur[l] = (next_conn, 0);
                        next_conn += 1;
                    } else {
                        cur.remove(l);
                        continue;
                    }
                    l += 1;
                }
            }
            let out = run_schedule(&convs, &pkts, &order)?;
            if out.stats.flows_evicted != 0 {
                return Err(format!(
                    "6 concurrent connections in 8 flows, yet flows_evicted={}",
                    out.stats.flows_evicted
                ));
            }
            let mut seen = vec![0; n];
            for t in &out.traces {
                let i = owner(&convs, t)?;
                let want = expect_json(&convs[i], &convs[i].exs[0]);
                if let Some(d) = first_diff(&want, &without_times(t), "") {
                    return Err(format!("connection {i}: {d}"));
                }
                seen[i] += 1;
            }
            if let Some(i) = (0..n).find(|&i| seen[i] != 1) {
                return Err(format!("connection {i} gave {} traces, not 1", seen[i]));
            }
            Ok(())
        });
        if let Err(e) = r {
            panic!("bounds (seed {s:#x}, rerun with REASM_SEED={s:#x}): {e}");
        }
    }
}

// ───────────────────────────── garbage: decoder and tracker ─────────────────────────────

const ALL_LINKS: &[i32] = &[
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
];

/// A valid frame of link type `lt` and its TCP payload.
fn valid_frame(rng: &mut Rng, lt: i32) -> (Vec<u8>, Vec<u8>) {
    let v6 = match lt {
        dlt::IPV4 => false,
        dlt::IPV6 => true,
        _ => rng.chance(1, 2),
    };
    let mut spec = small_spec(rng.below(1000), rng);
    spec.v6 = v6;
    spec.linktype = lt;
    spec.variant = rng.below(256) as u8;
    let len = rng.pick(&[0, 1, 2, 100, 1400]);
    let p = Pkt {
        dir: rng.below(2),
        seq: rng.next() as u32,
        ack: rng.next() as u32,
        flags: rng.pick(&[ACK, SYN, SYN | ACK, FIN | ACK, RST, ACK | 0x08]),
        off: 0,
        data: rng.bytes(len),
        ts: 0,
    };
    (frame_for(&spec, &p), p.data)
}

/// Decode and check what any decoder result must satisfy; returns the segment.
fn decode_checked(lt: i32, f: &[u8]) -> Option<Segment<'_>> {
    let s = wire::decode(lt, f).ok()?;
    let (fp, pp) = (f.as_ptr() as usize, s.payload.as_ptr() as usize);
    assert!(
        pp >= fp && pp + s.payload.len() <= fp + f.len(),
        "link type {lt}: payload does not borrow the frame"
    );
    Some(s)
}

struct Feeder {
    t: Tracker,
    sink: Sink,
    ts: u64,
}

impl Feeder {
    fn new(lim: &Limits) -> Feeder {
        Feeder {
            t: Tracker::new(lim),
            sink: Sink::default(),
            ts: 1_714_564_800_000_000,
        }
    }
    fn feed(&mut self, s: &Segment, dt: u64) {
        self.ts += dt;
        self.t.segment(s, self.ts, &mut self.sink);
    }
    fn finish(mut self) -> Result<usize, String> {
        self.t.close_all(&mut self.sink);
        check_no_leak(&self.t)?;
        if self.t.stats.traces != self.sink.lines.len() as u64 {
            return Err("stats.traces differs from the traces emitted".into());
        }
        Ok(parse_traces(&self.sink.lines)?.len())
    }
}

#[test]
fn random_and_truncated_frames_of_every_link_type() {
    for lt in ALL_LINKS {
        assert!(dlt::supported(*lt), "link type {lt} not supported");
    }
    for s in seeds("frames", 3) {
        let r = catch(false, || {
            let mut rng = Rng::new(s);
            let mut fd = Feeder::new(&Limits {
                max_flows: 4,
                pool_bytes: 1 << 20,
                timeout_us: 1_000_000,
                max_body: 300,
            });
            for &lt in ALL_LINKS.iter().chain(&[2, 147, -1, 65535]) {
                let known = ALL_LINKS.contains(&lt);
                // Random bytes of random lengths.
                for _ in 0..400 {
                    let len = rng.below(200);
                    let f = rng.bytes(len);
                    if let Some(seg) = decode_checked(lt, &f) {
                        fd.feed(&seg, 7);
                    }
                }
                if !known {
                    let (f, _) = valid_frame(&mut rng, dlt::RAW);
                    if wire::decode(lt, &f).is_ok() {
                        return Err(format!("unknown link type {lt} decoded"));
                    }
                    continue;
                }
                // Every prefix of valid frames: headers cut → skipped; payload cut → the rest is
                // reported missing.
                for _ in 0..12 {
                    let (f, payload) = valid_frame(&mut rng, lt);
                    let full = decode_checked(lt, &f)
                        .ok_or_else(|| format!("link type {lt}: valid frame not decoded"))?;
                    if full.payload != &payload[..] || full.missing != 0 {
                        return Err(format!("link type {lt}: valid frame decoded wrong"));
                    }
                    let ps = f.len() - payload.len();
                    for n in 0..f.len() {
                        let r = decode_checked(lt, &f[..n]);
                        match r {
                            Some(_) if n < ps => {
                                return Err(format!(
                                    "link type {lt}: frame cut at {n} inside the headers (payload at {ps}) decoded"
                                ));
                            }
                            Some(seg) => {
                                let have = n - ps;
                                if seg.payload != &payload[..have]
                                    || seg.missing as usize != payload.len() - have
                                {
                                    return Err(format!(
                                        "link type {lt}: frame cut at {n}: payload {} missing {}, want {have} and {}",
                                        seg.payload.len(),
                                        seg.missing,
                                        payload.len() - have
                                    ));
                                }
                                fd.feed(&seg, 3);
                            }
                            None if n >= ps && lt != dlt::NFLOG => {
                                return Err(format!(
                                    "link type {lt}: frame cut at {n} inside the payload not decoded"
                                ));
                            }
                            None => {}
                        }
                    }
                }
                // Valid frames with a few bytes changed, some also cut.
                for _ in 0..400 {
                    let (mut f, _) = valid_frame(&mut rng, lt);
                    for _ in 0..rng.range(1, 4) {
                        let at = rng.below(f.len().min(90));
                        f[at] = if rng.chance(1, 2) {
                            rng.next() as u8
                        } else {
                            f[at] ^ (1 << rng.below(8))
                        };
                    }
                    if rng.chance(1, 3) {
                        f.truncate(rng.below(f.len() + 1));
                    }
                    if let Some(seg) = decode_checked(lt, &f) {
                        fd.feed(&seg, 11);
                    }
                }
            }
            fd.finish().map(|_| ())
        });
        if let Err(e) = r {
            panic!("frames (seed {s:#x}, rerun with REASM_SEED={s:#x}): {e}");
        }
    }
}

/// Payload material: pieces of real conversations, hostile heads and bodies, random bytes.
fn garbage_payload(rng: &mut Rng, convs: &[Conv]) -> Vec<u8> {
    const PIECES: &[&[u8]] = &[
        b"HTTP/1.1 100 Continue\r\n\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
        b"HTTP/1.1 200 Connection established\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
        b"HTTP/1.0 200 OK\r\n\r\n",
        b"HTTP/1.1 204 No Content\r\nContent-Length: 30\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03",
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"HEAD /h HTTP/1.1\r\n\r\n",
        b"GET /a?b=1 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"POST /p HTTP/1.1\r\nContent-Length: 5, 6\r\n\r\n",
        b"POST /p HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
        b"POST /p HTTP/1.1\r\nContent-Length: 18446744073709551615\r\n\r\n",
        b"PUT /u HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n",
        b"ffffffffffffffffffff\r\n",
        b"7fffffffffffffff\r\n",
        b"5;ext=\"a\"\r\nhello\r\n",
        b"0\r\nTrailer: x\r\n\r\n",
        b"0\r\n\r\n",
        b"\r\n",
        b"\n",
        b"GET",
        b" HTTP/1.1\r\n",
        b"X-Header: value\r\n",
        b"HTTP/1.",
        b"HTTP/1.1 999 Weird\r\n\r\n",
        b"GET /\xff\xfe HTTP/1.1\r\nX: \x80\x81\r\n\r\n",
        b"OPTIONS * HTTP/1.1\r\n\r\n",
    ];
    let mut v = Vec::new();
    for _ in 0..rng.range(1, 4) {
        match rng.below(10) {
            0..=3 => v.extend_from_slice(rng.pick(PIECES)),
            4..=6 => {
                let c = &convs[rng.below(convs.len())];
                let st = &c.stream[rng.below(2)];
                let a = rng.below(st.len());
                let b = (a + rng.range(1, 3000)).min(st.len());
                v.extend_from_slice(&st[a..b]);
            }
            7 => {
                let n = rng.below(1500);
                v.extend(rng.bytes(n));
            }
            8 if rng.chance(1, 3) => {
                // A head too big for a window, or with too many headers.
                v.extend_from_slice(b"GET /big HTTP/1.1\r\n");
                if rng.chance(1, 2) {
                    v.extend_from_slice(b"X-Big: ");
                    v.resize(v.len() + rng.range(60_000, 70_000), b'a');
                    v.extend_from_slice(b"\r\n\r\n");
                } else {
                    for i in 0..300 {
                        v.extend_from_slice(format!("X-{i}: {i}\r\n").as_bytes());
                    }
                    v.extend_from_slice(b"\r\n");
                }
            }
            _ => {}
        }
    }
    if rng.chance(1, 4) {
        v.truncate(rng.below(v.len() + 1));
    }
    v.truncate(60_000);
    v
}

#[test]
fn tracker_survives_random_segments() {
    for s in seeds("garbage", 12) {
        let r = catch(false, || {
            let mut rng = Rng::new(s);
            let convs: Vec<Conv> = (0..4).map(|_| build_conv(&gen_spec(&mut rng))).collect();
            let lim = Limits {
                max_flows: rng.range(1, 12) as u32,
                pool_bytes: rng.pick(&[0, 100_000, 300_000, 2 << 20]),
                timeout_us: rng.pick(&[1_000, 1_000_000, 10_000_000]),
                max_body: rng.pick(&[0, 1, 100, 5000, 1 << 20]),
            };
            let mut fd = Feeder::new(&lim);
            let hosts = [
                IpAddr::from([10, 0, 0, 1]),
                IpAddr::from([10, 0, 0, 2]),
                IpAddr::from([127, 0, 0, 1]),
                "fd00::1".parse().unwrap(),
            ];
            let ports = [80u16, 8080, 40_000, 40_001, 0];
            // Per (host, port) pair a running sequence number, so that many segments land
            // near the ones before them (in order, overlapping, or just ahead).
            let mut cursor = [[0u32; 5]; 4];
            for row in cursor.iter_mut() {
                for c in row.iter_mut() {
                    *c = if rng.chance(1, 2) {
                        u32::MAX - rng.below(5000) as u32
                    } else {
                        rng.next() as u32
                    };
                }
            }
            for _ in 0..1500 {
                let (a, b) = (rng.below(4), rng.below(4));
                let (b, v6) = if (a == 3) != (b == 3) {
                    (a, a == 3) // same family: talk to itself
                } else {
                    (b, a == 3)
                };
                let _ = v6;
                let (pa, pb) = (rng.below(5), rng.below(5));
                let data = garbage_payload(&mut rng, &convs);
                let seq = match rng.below(6) {
                    0 => rng.next() as u32,
                    1 => cursor[a][pa].wrapping_sub(rng.below(3000) as u32),
                    2 => cursor[a][pa].wrapping_add(rng.below(70_000) as u32),
                    _ => cursor[a][pa],
                };
                if !seq_gt(cursor[a][pa], seq.wrapping_add(data.len() as u32)) {
                    cursor[a][pa] = seq.wrapping_add(data.len() as u32);
                }
                let ack = match rng.below(4) {
                    0 => rng.next() as u32,
                    _ => cursor[b][pb].wrapping_add(rng.below(3) as u32),
                };
                let flags = match rng.below(40) {
                    0..=1 => SYN,
                    2 => SYN | ACK,
                    3..=4 => FIN | ACK,
                    5 => RST,
                    6 => RST | ACK,
                    7 => rng.next() as u8,
                    8 => 0,
                    _ => ACK,
                };
                let p = Pkt {
                    dir: 0,
                    seq,
                    ack,
                    flags,
                    off: 0,
                    data,
                    ts: 0,
                };
                let tcp = tcp_bytes(ports[pa], ports[pb], &p, rng.chance(1, 2));
                let ip = ip_bytes(hosts[a], hosts[b], &tcp, false);
                let mut s = wire::decode(dlt::RAW, &ip).map_err(|e| format!("{e:?}"))?;
                if rng.chance(1, 30) {
                    s.missing = rng.below(3000) as u32;
                }
                s.md5 = rng.chance(1, 30);
                let dt = match rng.below(20) {
                    0 => rng.below(20_000_000) as u64,
                    1 => 0,
                    _ => rng.below(2000) as u64,
                };
                fd.feed(&s, dt);
                if rng.chance(1, 10) {
                    fd.t.expire(fd.ts, &mut fd.sink);
                }
            }
            fd.finish().map(|_| ())
        });
        if let Err(e) = r {
            panic!("garbage (seed {s:#x}, rerun with REASM_SEED={s:#x}): {e}");
        }
    }
}

/// Segments of one client→server connection, built by hand (no handshake): (direction, payload,
/// extra flags). Client ISN+1 = 1000, server ISN+1 = 5000; a FIN takes one sequence number.
fn hand(parts: &[(usize, &[u8], u8)]) -> Vec<Pkt> {
    let mut sent = [0u64; 2];
    let base = [1000u32, 5000u32];
    let mut pkts: Vec<Pkt> = parts
        .iter()
        .map(|&(d, data, flags)| {
            let p = Pkt {
                dir: d,
                seq: base[d].wrapping_add(sent[d] as u32),
                ack: base[1 - d].wrapping_add(sent[1 - d] as u32),
                flags: ACK | flags,
                off: sent[d],
                data: data.to_vec(),
                ts: 0,
            };
            sent[d] += data.len() as u64 + (flags & FIN != 0) as u64;
            p
        })
        .collect();
    stamp(&mut pkts, 1_714_564_800_000_000);
    pkts
}

fn hand_segments(parts: &[(usize, &[u8])]) -> Vec<Pkt> {
    hand(&parts.iter().map(|&(d, b)| (d, b, 0)).collect::<Vec<_>>())
}

/// Run hand-built segments, without those at the `lost` indexes (the capture missed them).
fn run_hand(parts: &[(usize, &[u8], u8)], lost: &[usize]) -> Result<Outcome, String> {
    let mut spec = small_spec(0, &mut Rng::new(1));
    spec.isn = [999, 4999];
    let pkts: Vec<Pkt> = hand(parts)
        .into_iter()
        .enumerate()
        .filter(|(i, _)| !lost.contains(i))
        .map(|(_, p)| p)
        .collect();
    run(&spec, &pkts, &limits())
}

fn show(out: &Outcome) -> String {
    format!("{}\n  stats: {}", summaries(&out.traces), out.stats.line())
}

/// The trace for `target`, if exactly one.
fn trace_for<'a>(out: &'a Outcome, target: &str) -> Option<&'a Value> {
    let v: Vec<&Value> = out
        .traces
        .iter()
        .filter(|t| t["request"]["target"] == json!(target))
        .collect();
    (v.len() == 1).then(|| v[0])
}

const C: usize = 0;
const S: usize = 1;

/// A response head cut by a lost segment, then a complete exchange whose response head comes in
/// fragments: the second exchange gets its own response (the property tests found responses
/// completed in the reassembly window being paired without their ACK number; fixed in 7d6ed3b).
#[test]
fn response_after_a_cut_response_is_paired_by_ack() {
    let out = run_hand(
        &[
            (C, b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n", 0),
            (S, b"HTTP/1.1 200 OK\r\nAllow: GET, DEL", 0),
            (S, b"ET", 0), // lost
            (S, b"E\r\nContent-Length: 0\r\n\r\n", 0),
            (C, b"GET /b HTTP/1.1\r\nHost: x\r\n\r\n", 0),
            (S, b"HTT", 0),
            (S, b"P/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", 0),
        ],
        &[2],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let b =
        trace_for(&out, "/b").unwrap_or_else(|| panic!("no single trace for /b:{}", show(&out)));
    assert_eq!(b["response"]["status"], json!(404), "{}", show(&out));
    if let Some(a) = trace_for(&out, "/a") {
        assert!(
            a["response"].is_null() || a["response"]["body_truncated"] == json!(true),
            "/a shows a complete response it never got:{}",
            show(&out)
        );
    }
}

/// The first bytes of a request line lost: what follows ("ETE /x HTTP/1.1") is not a request.
#[test]
fn request_line_cut_by_a_loss_is_not_a_new_method() {
    let out = run_hand(
        &[
            (C, b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n", 0),
            (S, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0),
            (C, b"DEL", 0), // lost
            (C, b"ETE /x HTTP/1.1\r\nHost: x\r\n\r\n", 0),
            (S, b"HTTP/1.1 204 No Content\r\n\r\n", 0),
            (C, b"GET /c HTTP/1.1\r\nHost: x\r\n\r\n", 0),
            (S, b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nc", 0),
        ],
        &[2],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    for t in &out.traces {
        let m = t["request"]["method"].as_str().unwrap_or("");
        assert!(
            m == "GET" || m == "DELETE",
            "invented method {m:?}:{}",
            show(&out)
        );
    }
    let c = trace_for(&out, "/c").unwrap_or_else(|| panic!("/c lost:{}", show(&out)));
    assert_eq!(c["response"]["status"], json!(200), "{}", show(&out));
}

/// The last data segment of a close-delimited response lost, then FIN: the response is cut, so
/// it must be flagged truncated, and the hole counted as a gap.
#[test]
fn close_delimited_response_missing_its_tail_is_truncated() {
    let out = run_hand(
        &[
            (C, b"GET /legacy HTTP/1.0\r\n\r\n", 0),
            (
                S,
                b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nfirst part, ",
                0,
            ),
            (S, b"second part", 0), // lost
            (S, b"", FIN),
            (C, b"", FIN),
            (S, b"", 0),
        ],
        &[2],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let t = trace_for(&out, "/legacy").unwrap_or_else(|| panic!("no trace:{}", show(&out)));
    assert_eq!(
        t["response"]["body_truncated"],
        json!(true),
        "the response lost its last 11 bytes but is shown complete:{}",
        show(&out)
    );
    assert!(
        out.stats.gaps > 0,
        "a lost segment but gaps=0:{}",
        show(&out)
    );
}

/// A capture that starts after a HEAD request: its response (Content-Length, no body) has no
/// request to pair with; the next exchange must still come out whole.
#[test]
fn response_to_an_unseen_head_request_does_not_swallow_the_next_one() {
    let out = run_hand(
        &[
            (C, b"HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n", 0), // before the capture
            (S, b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", 0),
            (C, b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n", 0),
            (S, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 0),
        ],
        &[0],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let t = trace_for(&out, "/next").unwrap_or_else(|| panic!("/next lost:{}", show(&out)));
    assert_eq!(t["response"]["body"], json!("ok"), "{}", show(&out));
}

/// `ts` is the request's first packet, also when its head spans two segments.
#[test]
fn ts_is_the_first_packet_of_a_request_split_over_segments() {
    let parts: &[(usize, &[u8], u8)] = &[
        (C, b"GET /ts HTTP/1.1\r\n", 0),
        (C, b"Host: x\r\n\r\n", 0),
        (S, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0),
    ];
    let pkts = hand(parts);
    let out = run_hand(parts, &[]).unwrap_or_else(|e| panic!("{e}"));
    let t = trace_for(&out, "/ts").unwrap_or_else(|| panic!("no trace:{}", show(&out)));
    assert_eq!(t["ts"], json!(rfc3339(pkts[0].ts)), "{}", show(&out));
    assert_eq!(t["duration_us"], json!(pkts[2].ts - pkts[0].ts));
}

/// Minimal repro found by `tracker_survives_random_segments`: a request head that the message
/// pool cannot hold whole (pool of 16 chunks = 32 KiB, head of 40 KB) followed by a body.
#[test]
fn head_larger_than_the_free_pool_then_a_body() {
    let r = catch(true, || {
        let mut head = b"POST /big HTTP/1.1\r\nX-Big: ".to_vec();
        head.resize(head.len() + 40_000, b'a');
        head.extend_from_slice(b"\r\nContent-Length: 1\r\n\r\nx");
        let resp: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        let mut spec = small_spec(0, &mut Rng::new(1));
        spec.isn = [999, 4999];
        let mut pkts = hand_segments(&[(0, &head), (1, resp)]);
        stamp(&mut pkts, spec.t0);
        let lim = Limits {
            max_flows: 4,
            pool_bytes: 0, // the minimum: 2 windows, 16 chunks
            timeout_us: 10_000_000,
            max_body: 1000,
        };
        let out = run(&spec, &pkts, &lim)?;
        // The head could not be kept: no trace, and the loss is counted.
        if !out.traces.is_empty() || out.stats.pool_exhausted == 0 {
            return Err(format!(
                "want no trace and pool_exhausted > 0, got {} trace(s), {}",
                out.traces.len(),
                out.stats.line()
            ));
        }
        Ok(())
    });
    if let Err(e) = r {
        panic!(
            "one 40 KB request head + 1-byte body, then the response, with a 32 KiB message pool: {e}"
        );
    }
}
