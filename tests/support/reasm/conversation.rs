//! The generator of the reassembly properties: realistic HTTP/1.1 conversations on one
//! client→server connection, drawn from a seed. Handshake, keep-alive, pipelined batches,
//! Content-Length and chunked bodies with chunk extensions and trailers, HEAD with
//! Content-Length, 204, 304, 100-continue then the final response, a close-delimited HTTP/1.0
//! response, binary bodies, queries, sequence numbers that wrap at 2^32, IPv4 and IPv6, every
//! link type. A `ConvSpec` is what is drawn (and shrunk); `build_conv` turns it into the bytes
//! each side sends and records where every message lies in the two streams.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::IpAddr;

use crate::support::packet::{LINKS_V4, LINKS_V6, dlt};
use crate::support::rng::Rng;

// ───────────────────────────── HTTP conversation model ─────────────────────────────

/// What an exchange is (method, status, framing).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
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
pub struct ExSpec {
    pub kind: Kind,
    pub seed: u64,
    pub req_len: usize,
    pub resp_len: usize,
    pub binary: bool,
    pub chunked_req: bool,
    pub chunked_resp: bool,
    pub ext: bool,
    pub trailers: bool,
}

/// One step of the conversation: an exchange, or a pipelined batch.
#[derive(Clone, Debug)]
pub enum Item {
    Single(ExSpec),
    /// Requests written back to back, then responses back to back.
    Pipelined(Vec<ExSpec>),
}

impl Item {
    pub fn exs(&self) -> &[ExSpec] {
        match self {
            Item::Single(e) => std::slice::from_ref(e),
            Item::Pipelined(v) => v,
        }
    }
}

/// A conversation as the generator draws it (and the shrinker makes it smaller): its exchanges,
/// its connection (addresses, ports, ISNs, link type) and how its segments are cut and acknowledged.
#[derive(Clone, Debug)]
pub struct ConvSpec {
    pub items: Vec<Item>,
    pub v6: bool,
    pub isn: [u32; 2],
    pub ports: [u16; 2],
    pub client_ip: [u8; 4],
    /// The peer sends a pure ACK after this many data segments of a flight (and at its end).
    pub ack_every: usize,
    /// The server's FIN rides on the last data segment of a close-delimited response.
    pub fin_with_data: bool,
    pub mss: usize,
    /// Smallest segment the random segmenter may choose (raised while shrinking a failure).
    pub min_seg: usize,
    pub linktype: i32,
    pub variant: u8,
    pub t0: u64,
}

/// One exchange as written on the wire and as the trace must show it.
#[derive(Clone, Debug)]
pub struct Exch {
    pub method: &'static str,
    pub target: String,
    pub req_version: u8,
    pub req_headers: Vec<(String, String)>,
    pub req_body: Vec<u8>,
    pub req_head: Vec<u8>,
    pub req_body_wire: Vec<u8>,
    /// `HTTP/1.1 100 Continue` (empty unless 100-continue).
    pub interim: Vec<u8>,
    pub status: u16,
    pub reason: &'static str,
    pub resp_version: u8,
    pub resp_headers: Vec<(String, String)>,
    /// The decoded body the trace must show (empty for HEAD, 204, 304).
    pub resp_body: Vec<u8>,
    pub resp_wire: Vec<u8>,
}

/// A built conversation: exchanges, the flights that carry them, and where each lies in the streams.
#[derive(Clone, Debug)]
pub struct Conv {
    pub spec: ConvSpec,
    pub exs: Vec<Exch>,
    /// Item index of each exchange, and whether that item is pipelined.
    pub item_of: Vec<usize>,
    pub pipelined: Vec<bool>,
    /// Byte ranges (stream offsets) of each exchange: request in stream 0, responses in stream 1.
    pub req_range: Vec<(u64, u64)>,
    pub resp_range: Vec<(u64, u64)>,
    pub flights: Vec<(usize, Vec<u8>)>,
    pub item_first_flight: Vec<usize>,
    pub stream: [Vec<u8>; 2],
    /// Offsets where a message (request, interim or final response) starts.
    pub msg_starts: [BTreeSet<u64>; 2],
    pub server_closes: bool,
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

/// A random conversation.
pub fn gen_spec(rng: &mut Rng) -> ConvSpec {
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

/// The bytes of `spec`: each exchange, the flights of bytes each side sends, the two streams.
pub fn build_conv(spec: &ConvSpec) -> Conv {
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

/// Connection `i` of many small ones: one GET on IPv4, raw IP frames, client port 10000 + `i`.
pub fn small_spec(i: usize, rng: &mut Rng) -> ConvSpec {
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

/// The address of the client (`dir` 0) or the server (1).
pub fn ip_of(spec: &ConvSpec, dir: usize) -> IpAddr {
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
