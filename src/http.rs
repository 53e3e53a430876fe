//! HTTP/1.x over one TCP connection: a streaming parser per direction and the
//! pairing of responses to requests.
//!
//! Bytes arrive in order from the reassembler. Heads are parsed with httparse
//! and must be contiguous: `Conn::data` returns how many bytes it consumed, and
//! the caller keeps the rest (an incomplete head) and offers it again with
//! more. Bodies are consumed as they come and only `--max-http-length` bytes of
//! each are kept. Responses pair with requests by order; TCP acknowledgement
//! numbers only veto impossible pairings and help to re-pair after a loss.

use crate::head;
use crate::pool::{Chain, NIL, Store, WINDOW};
use crate::stats::Stats;
use crate::tcp::{self, Ctx, Direction, Ends};
use crate::wire::{Addr, SeqNumber};

/// Most requests a connection may have outstanding (pipelined or unanswered).
pub const MAX_PENDING: u32 = 32;
/// Bytes scanned for a message start before a connection is called non-HTTP.
const MAX_SCAN: u32 = 256 * 1024;
/// Header slots handed to httparse.
pub const MAX_HEADERS: usize = 256;

/// One message's kept bytes and what is known of it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Msg {
    pub chain: Chain,
    /// Bytes of `chain` that are the head (request or status line and headers).
    pub head_len: u32,
    /// Bytes of `chain` after the head that are its index (`head`); the body follows.
    pub index_len: u32,
    /// Decoded body size seen so far (kept or not).
    pub body_size: u64,
    /// Some body bytes were not kept (length cap, pool exhausted, capture gap).
    pub truncated: bool,
    /// The message ended as its framing says (not cut by a close or a gap).
    pub complete: bool,
    /// The head could not be kept: the exchange cannot be reported.
    pub lost: bool,
    pub first_ts: u64,
    pub last_ts: u64,
}

impl Msg {
    /// Where the body starts in `chain`: after the head and its index.
    pub fn body_start(&self) -> usize {
        (self.head_len + self.index_len) as usize
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Method {
    #[default]
    Other,
    Head,
    Connect,
}

/// A request and (once seen) its final response.
#[derive(Debug, Clone, Copy, Default)]
pub struct Exchange {
    pub req: Msg,
    pub resp: Msg,
    pub has_resp: bool,
    /// Which direction of the connection carried the request.
    pub client_dir: Direction,
    /// Refused by policy: tracked for pairing only.
    skip: bool,
    method: Method,
    req_seq: SeqNumber,
    /// What the client had acknowledged when it sent the request.
    req_ack: Option<SeqNumber>,
    generation: u32,
    next: u32,
}

/// All exchanges in flight, across connections; reserved at start-up.
pub struct ExPool {
    slots: Vec<Exchange>,
    free: u32,
    generation: u32,
}

impl ExPool {
    pub fn new(n: usize) -> ExPool {
        let mut slots = vec![Exchange::default(); n.max(1)];
        let len = slots.len();
        for (i, s) in slots.iter_mut().enumerate() {
            s.next = if i + 1 < len { i as u32 + 1 } else { NIL };
        }
        ExPool {
            slots,
            free: 0,
            generation: 0,
        }
    }
    pub fn reserved(&self) -> usize {
        self.slots.len() * std::mem::size_of::<Exchange>()
    }
    fn take(&mut self) -> Option<u32> {
        if self.free == NIL {
            return None;
        }
        let i = self.free;
        self.generation = self.generation.wrapping_add(1);
        let s = &mut self.slots[i as usize];
        self.free = s.next;
        *s = Exchange {
            generation: self.generation,
            next: NIL,
            ..Exchange::default()
        };
        Some(i)
    }
    fn give(&mut self, i: u32, pool: &mut Store) {
        let s = &mut self.slots[i as usize];
        pool.release(&mut s.req.chain);
        pool.release(&mut s.resp.chain);
        s.generation = 0;
        s.next = self.free;
        self.free = i;
    }
}

/// What is known of a request when its head has been read.
pub struct ReqInfo<'a> {
    pub ts: u64,
    pub method: &'a str,
    /// The request-target as sent.
    pub target: &'a str,
    pub host: Option<&'a [u8]>,
    pub server: Addr,
}

/// Where completed exchanges go.
pub trait Emit {
    /// Keep this exchange? Asked once per request, when its head is read;
    /// a refused exchange is still paired with its response, but nothing of
    /// it is kept or emitted.
    fn admit(&mut self, _req: &ReqInfo) -> bool {
        true
    }
    fn emit(&mut self, ex: &Exchange, ends: &Ends, pool: &Store);
}

/// What every connection's HTTP state shares, kept by the tracker: the
/// message store, the exchange slots and the body limit.
pub struct Shared {
    pub pool: Store,
    pub exs: ExPool,
    pub max_body: u64,
}

/// The tracker of HTTP/1 connections.
pub type Tracker = tcp::Tracker<Conn>;

/// Shared, preallocated state every connection uses, borrowed for one call.
pub struct Env<'a> {
    pub pool: &'a mut Store,
    pub exs: &'a mut ExPool,
    pub stats: &'a mut Stats,
    pub sink: &'a mut dyn Emit,
    pub max_body: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Role {
    #[default]
    Unknown,
    Request,
    Response,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum State {
    /// Expecting a message head (or, with an unknown role, the first bytes).
    #[default]
    Head,
    /// A body of known remaining length.
    Body(u64),
    Chunked(Chunk),
    /// A response body that ends when the connection does.
    UntilClose,
    /// Lost track: looking for the next message start.
    Resync,
    /// Not (or no longer) HTTP/1.x: bytes are dropped.
    Ignore,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// Reading the hex size; `digits` so far.
    Size {
        val: u64,
        digits: u8,
    },
    /// Chunk extension or whitespace after the size, up to LF.
    SizeRest {
        val: u64,
    },
    Data(u64),
    /// CR LF after chunk data.
    DataEnd,
    /// At the start of a trailer line.
    TrailerStart,
    /// Inside a trailer line.
    TrailerLine,
    /// Saw CR of the final empty line.
    TrailerEnd,
}

#[derive(Debug, Clone, Copy)]
struct Dir {
    state: State,
    role: Role,
    /// The exchange this direction's current message belongs to, and its generation.
    cur: u32,
    cur_gen: u32,
    /// Response direction: the current message is an interim (1xx) or orphan response.
    discard: bool,
    /// Bytes looked at in `Resync` without finding a message.
    scanned: u32,
    /// The next byte offered is known to start a line (so any method token
    /// may start a request there; elsewhere only registered methods do).
    line_start: bool,
    /// A response body is about to start: a status line there means the
    /// response had none after all (its request, e.g. HEAD, was not seen).
    body_start: bool,
    /// Bytes of an incomplete head already searched for its end.
    head_scan: u32,
}

impl Default for Dir {
    fn default() -> Self {
        Dir {
            state: State::default(),
            role: Role::default(),
            // No message yet: not exchange slot 0.
            cur: NIL,
            cur_gen: 0,
            discard: false,
            scanned: 0,
            line_start: false,
            body_start: false,
            head_scan: 0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Kind {
    #[default]
    Unknown,
    Http,
    Done,
}

/// HTTP state of one TCP connection.
#[derive(Debug, Clone, Copy)]
pub struct Conn {
    dirs: [Dir; 2],
    kind: Kind,
    /// Outstanding exchanges, oldest first (a list through `Exchange::next`).
    first: u32,
    last: u32,
    pending: u32,
    /// The response direction lost bytes since its last response head.
    resp_gap: bool,
    /// Seen a SYN from this direction (a hint for who the client is).
    syn_from: Option<Direction>,
}

impl Default for Conn {
    fn default() -> Self {
        Conn {
            dirs: [Dir::default(); 2],
            kind: Kind::Unknown,
            first: NIL,
            last: NIL,
            pending: 0,
            resp_gap: false,
            syn_from: None,
        }
    }
}

/// Does `b` hold the blank line that ends a head?
fn has_head_end(b: &[u8]) -> bool {
    let mut i = 0;
    while let Some(nl) = b[i..].iter().position(|&c| c == b'\n') {
        let j = i + nl + 1;
        match b.get(j) {
            Some(b'\n') => return true,
            Some(b'\r') if b.get(j + 1) == Some(&b'\n') => return true,
            _ => i = j,
        }
    }
    false
}

/// Does `b` start with a registered method and a space?
pub fn known_method(b: &[u8]) -> bool {
    const M: &[&[u8]] = &[
        b"GET ",
        b"HEAD ",
        b"POST ",
        b"PUT ",
        b"DELETE ",
        b"CONNECT ",
        b"OPTIONS ",
        b"TRACE ",
        b"PATCH ",
        b"PROPFIND ",
        b"PROPPATCH ",
        b"MKCOL ",
        b"COPY ",
        b"MOVE ",
        b"LOCK ",
        b"UNLOCK ",
        b"SEARCH ",
        b"REPORT ",
        b"PURGE ",
    ];
    M.iter().any(|m| b.starts_with(m))
}

/// Does `b` start like a request line? `None`: too short to tell.
fn looks_like_request(b: &[u8]) -> Option<bool> {
    let mut i = 0;
    while i < b.len() && i < 24 {
        let c = b[i];
        if c == b' ' {
            if i < 2 {
                return Some(false);
            }
            // Method, then a target and " HTTP/1." before the end of the line.
            let line_end = b[i..].iter().position(|&c| c == b'\n');
            let line = match line_end {
                Some(e) => &b[i..i + e],
                None if b.len() - i > WINDOW => return Some(false),
                None => return None,
            };
            return Some(find(line, b" HTTP/1.").is_some() || find(line, b" HTTP/0.9").is_some());
        }
        let ok =
            c.is_ascii_uppercase() || (i > 0 && (c == b'_' || c == b'-' || c.is_ascii_digit()));
        if !ok {
            return Some(false);
        }
        i += 1;
    }
    if i == b.len() { None } else { Some(false) }
}

/// Does `b` start like a status line? `None`: too short to tell.
fn looks_like_response(b: &[u8]) -> Option<bool> {
    const P: &[u8] = b"HTTP/1.";
    let n = b.len().min(P.len());
    if b[..n] != P[..n] {
        return Some(false);
    }
    if b.len() < 12 {
        return None;
    }
    Some((b[7] == b'0' || b[7] == b'1') && b[8] == b' ' && b[9..12].iter().all(u8::is_ascii_digit))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn looks_like(role: Role, b: &[u8]) -> Option<bool> {
    match role {
        Role::Request => looks_like_request(b),
        Role::Response => looks_like_response(b),
        Role::Unknown => match (looks_like_request(b), looks_like_response(b)) {
            (Some(true), _) | (_, Some(true)) => Some(true),
            (None, _) | (_, None) => None,
            _ => Some(false),
        },
    }
}

fn header_eq(name: &str, want: &str) -> bool {
    name.eq_ignore_ascii_case(want)
}

/// Framing information read from a head.
struct Framing {
    content_length: Option<u64>,
    chunked: bool,
    bad: bool,
}

fn framing(headers: &[httparse::Header<'_>]) -> Framing {
    let mut f = Framing {
        content_length: None,
        chunked: false,
        bad: false,
    };
    for h in headers {
        if header_eq(h.name, "content-length") {
            let v = trim(h.value);
            // A list "5, 5" is allowed when every element agrees.
            let mut val = None;
            for part in v.split(|&c| c == b',') {
                let p = trim(part);
                match parse_dec(p) {
                    Some(n) if val.is_none() || val == Some(n) => val = Some(n),
                    _ => f.bad = true,
                }
            }
            match (f.content_length, val) {
                (None, v) => f.content_length = v,
                (Some(a), Some(b)) if a != b => f.bad = true,
                _ => {}
            }
        } else if header_eq(h.name, "transfer-encoding") {
            let v = trim(h.value);
            let last = v.rsplit(|&c| c == b',').next().map(trim).unwrap_or(b"");
            f.chunked = last.eq_ignore_ascii_case(b"chunked");
        }
    }
    f
}

fn trim(mut b: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = b {
        if first.is_ascii_whitespace() {
            b = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = b {
        if last.is_ascii_whitespace() {
            b = rest;
        } else {
            break;
        }
    }
    b
}

fn parse_dec(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 19 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0u64, |a, &d| a * 10 + (d - b'0') as u64))
}

/// Header slots for httparse, left uninitialised (it writes what it uses).
pub fn uninit_headers<'b>() -> [std::mem::MaybeUninit<httparse::Header<'b>>; MAX_HEADERS] {
    [const { std::mem::MaybeUninit::uninit() }; MAX_HEADERS]
}

/// What a request line says.
#[derive(Clone, Copy)]
pub struct ReqLine<'b> {
    pub method: &'b str,
    pub target: &'b str,
    pub version: u8,
}

/// A parsed request head: its length, its request line and its headers.
pub type ReqHead<'b, 'h> = (usize, ReqLine<'b>, &'h [httparse::Header<'b>]);

/// Parse a request head: with httparse, or — when httparse refuses only the
/// request line (a space inside the target, as some clients send) — reading
/// the line leniently and the headers with httparse. `Ok(None)`: incomplete.
pub fn parse_request_head<'b, 'h>(
    b: &'b [u8],
    hb: &'h mut [std::mem::MaybeUninit<httparse::Header<'b>>; MAX_HEADERS],
) -> Result<Option<ReqHead<'b, 'h>>, httparse::Error> {
    // The slots are borrowed by the parse's result on success only; on an
    // error they are taken again below. The borrow checker cannot see that
    // the first borrow has ended on the error path (it would with Polonius),
    // so the second comes from a raw pointer.
    let slots: *mut [std::mem::MaybeUninit<httparse::Header<'b>>; MAX_HEADERS] = hb;
    let mut req = httparse::Request::new(&mut []);
    // SAFETY: `slots` is `hb`, borrowed for 'h; nothing else uses it while
    // this borrow is live.
    let first =
        parser_config().parse_request_with_uninit_headers(&mut req, b, unsafe { &mut *slots });
    let e = match first {
        Ok(httparse::Status::Complete(n)) => {
            let line = ReqLine {
                method: req.method.unwrap_or(""),
                target: req.path.unwrap_or(""),
                version: req.version.unwrap_or(1),
            };
            return Ok(Some((n, line, req.headers)));
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => e,
    };
    // Which part was refused? The request line alone (no header slots: a
    // good line then stops at TooManyHeaders).
    let mut probe = httparse::Request::new(&mut []);
    let err = match parser_config().parse_request(&mut probe, b) {
        Err(httparse::Error::TooManyHeaders) | Ok(_) => return Err(e),
        Err(line_error) => line_error,
    };
    // SAFETY: the first parse failed, so nothing borrows the slots now.
    let hb = unsafe { &mut *slots };
    // METHOD SP target... SP HTTP/1.x CRLF, the target being everything between.
    let Some(eol) = b.iter().position(|&c| c == b'\n') else {
        // The line may still be coming: wait while it starts like a request.
        return if b.len() < WINDOW && looks_like_request(b).is_none() {
            Ok(None)
        } else {
            Err(err)
        };
    };
    let line = b[..eol].strip_suffix(b"\r").unwrap_or(&b[..eol]);
    let Some(sp) = line.iter().position(|&c| c == b' ') else {
        return Err(err);
    };
    let method = &line[..sp];
    let Some(v) = line.len().checked_sub(9).filter(|&v| v > sp) else {
        return Err(err);
    };
    let (rest, ver) = (&line[sp + 1..v], &line[v..]);
    let version = match ver {
        b" HTTP/1.0" => 0,
        b" HTTP/1.1" => 1,
        _ => return Err(err),
    };
    let target = std::str::from_utf8(rest).map_err(|_| err)?.trim();
    let method = std::str::from_utf8(method).map_err(|_| err)?;
    if method.is_empty()
        || !method
            .bytes()
            .all(|c| c.is_ascii_uppercase() || c == b'_' || c == b'-')
        || target.is_empty()
        || target.bytes().any(|c| c < 0x20 || c == 0x7f)
    {
        return Err(err);
    }
    for h in hb.iter_mut() {
        h.write(httparse::EMPTY_HEADER);
    }
    // SAFETY: every slot was initialised just above, and MaybeUninit<T> has T's layout.
    let hs: &'h mut [httparse::Header<'b>] =
        unsafe { &mut *(hb.as_mut_slice() as *mut [_] as *mut [httparse::Header<'b>]) };
    match httparse::parse_headers(&b[eol + 1..], hs) {
        Ok(httparse::Status::Complete((n, hs))) => Ok(Some((
            eol + 1 + n,
            ReqLine {
                method,
                target,
                version,
            },
            hs,
        ))),
        Ok(httparse::Status::Partial) => Ok(None),
        Err(e) => Err(e),
    }
}

/// `m` with `head` and its index kept in a new chain (`lost` if the pool
/// could not take them). The index is written here, for kept heads only.
fn keep_head(mut m: Msg, head: &[u8], parts: &head::Parts, pool: &mut Store) -> Msg {
    let mut buf = head::Buf::uninit();
    let index = head::index(&mut buf, head, parts);
    let mut chain = Chain::default();
    if pool.append(&mut chain, head) < head.len() || pool.append(&mut chain, index) < index.len() {
        m.lost = true;
    }
    m.chain = chain;
    m.head_len = head.len() as u32;
    m.index_len = index.len() as u32;
    m
}

/// The lenient-where-harmless settings every head is parsed with.
pub fn parser_config() -> httparse::ParserConfig {
    let mut c = httparse::ParserConfig::default();
    c.allow_multiple_spaces_in_request_line_delimiters(true)
        .allow_multiple_spaces_in_response_status_delimiters(true)
        .allow_obsolete_multiline_headers_in_responses(true)
        .allow_spaces_after_header_name_in_responses(true)
        .ignore_invalid_headers_in_requests(true)
        .ignore_invalid_headers_in_responses(true);
    c
}

impl Conn {
    /// A SYN was seen from `dir`: that side is the client.
    fn syn(&mut self, dir: Direction) {
        if self.syn_from.is_none() {
            self.syn_from = Some(dir);
        }
    }

    /// Nothing more will be parsed on this connection.
    fn is_done(&self) -> bool {
        self.kind == Kind::Done
    }

    /// Offer in-order bytes of `dir`. Returns how many were consumed; the
    /// rest (an incomplete head) must be offered again with what follows.
    fn data(&mut self, dir: Direction, data: &[u8], cx: &Ctx, ends: &Ends, env: &mut Env) -> usize {
        let mut pos = 0;
        while pos < data.len() {
            let rest = &data[pos..];
            let at = Ctx {
                seq: cx.seq + pos as u32,
                // Bytes after the first message came with the latest packet at the earliest.
                first_ts: if pos == 0 { cx.first_ts } else { cx.ts },
                ..*cx
            };
            if self.dirs[dir].body_start
                && matches!(
                    self.dirs[dir].state,
                    State::Body(_) | State::Chunked(_) | State::UntilClose
                )
            {
                // A status line where the body should start: the response had
                // none (its request, e.g. HEAD, was not seen or was lost).
                match looks_like_response(rest) {
                    None if rest.len() < 12 => return pos,
                    Some(true) => {
                        self.dirs[dir].body_start = false;
                        self.end_message(dir, cx.ts, ends, env);
                        continue;
                    }
                    _ => self.dirs[dir].body_start = false,
                }
            }
            let used = match self.dirs[dir].state {
                State::Ignore => return data.len(),
                State::Head => match self.head(dir, rest, &at, ends, env) {
                    Some(n) => n,
                    None => return pos,
                },
                State::Resync => match self.resync(dir, rest, ends, env) {
                    Some(n) => n,
                    None => return pos,
                },
                State::Body(left) => {
                    let n = (left.min(rest.len() as u64)) as usize;
                    self.body(dir, &rest[..n], cx.ts, env);
                    if left == n as u64 {
                        self.end_message(dir, cx.ts, ends, env);
                    } else {
                        self.dirs[dir].state = State::Body(left - n as u64);
                    }
                    n
                }
                State::Chunked(c) => self.chunked(dir, c, rest, cx.ts, ends, env),
                State::UntilClose => {
                    self.body(dir, rest, cx.ts, env);
                    rest.len()
                }
            };
            pos += used;
        }
        pos
    }

    /// `n` bytes of `dir` were lost (never captured).
    fn gap(&mut self, dir: Direction, n: u64, ts: u64, ends: &Ends, env: &mut Env) {
        env.stats.gaps += 1;
        self.dirs[dir].line_start = false;
        self.dirs[dir].head_scan = 0;
        let d = &mut self.dirs[dir];
        match d.state {
            State::Body(left) if n <= left => {
                self.skip_body(dir, n, env);
                if left == n {
                    self.end_message(dir, ts, ends, env);
                } else {
                    self.dirs[dir].state = State::Body(left - n);
                }
            }
            State::Chunked(Chunk::Data(left)) if n <= left => {
                self.skip_body(dir, n, env);
                self.dirs[dir].state = State::Chunked(if left == n {
                    Chunk::DataEnd
                } else {
                    Chunk::Data(left - n)
                });
            }
            State::UntilClose => self.skip_body(dir, n, env),
            State::Ignore => {}
            _ => {
                // The current message (if any) is cut short; find the next one.
                self.cut_message(dir, ends, env);
                if self.dirs[dir].role == Role::Response {
                    self.resp_gap = true;
                }
                self.dirs[dir].state = State::Resync;
            }
        }
    }

    /// `dir` sent FIN (all its bytes have been offered).
    fn fin(&mut self, dir: Direction, ts: u64, ends: &Ends, env: &mut Env) {
        if self.dirs[dir].state == State::UntilClose {
            self.end_message(dir, ts, ends, env);
            self.dirs[dir].state = State::Ignore;
        }
    }

    /// The connection is gone: finish what can be finished and emit everything.
    fn close(&mut self, ends: &Ends, env: &mut Env) {
        if self.kind == Kind::Done {
            return;
        }
        for dir in Direction::BOTH {
            let d = self.dirs[dir];
            match d.state {
                State::UntilClose => {
                    let ts = self.cur_msg(dir, env.exs).map(|m| m.last_ts).unwrap_or(0);
                    self.end_message(dir, ts, ends, env);
                }
                State::Head | State::Resync | State::Ignore => {}
                _ => self.cut_message(dir, ends, env),
            }
            self.dirs[dir].state = State::Ignore;
        }
        while self.first != NIL {
            self.emit_front(ends, env);
        }
        self.kind = Kind::Done;
    }

    fn cur_msg<'e>(&self, dir: Direction, exs: &'e mut ExPool) -> Option<&'e mut Msg> {
        let d = &self.dirs[dir];
        if d.discard || d.cur == NIL {
            return None;
        }
        let ex = &mut exs.slots[d.cur as usize];
        if ex.generation != d.cur_gen {
            return None;
        }
        Some(if d.role == Role::Request {
            &mut ex.req
        } else {
            &mut ex.resp
        })
    }

    /// Keep body bytes of the current message (up to the cap).
    fn body(&mut self, dir: Direction, bytes: &[u8], ts: u64, env: &mut Env) {
        let max = env.max_body;
        let Some(m) = self.cur_msg(dir, env.exs) else {
            return;
        };
        m.last_ts = ts;
        // The head may not have been kept whole (pool exhausted).
        let kept = (m.chain.len() as u64).saturating_sub(m.body_start() as u64);
        let room = max.saturating_sub(kept) as usize;
        let want = room.min(bytes.len());
        m.body_size += bytes.len() as u64;
        let got = if want > 0 {
            env.pool.append(&mut m.chain, &bytes[..want])
        } else {
            0
        };
        if got < bytes.len() {
            if got < want && !m.truncated {
                env.stats.pool_exhausted += 1;
            }
            m.truncated = true;
        }
    }

    /// `n` body bytes were lost: counted, not kept.
    fn skip_body(&mut self, dir: Direction, n: u64, env: &mut Env) {
        if let Some(m) = self.cur_msg(dir, env.exs) {
            m.body_size += n;
            m.truncated = true;
        }
    }

    /// The exchange `dir`'s current message belongs to, if it is still held.
    fn cur_exchange<'e>(&self, dir: Direction, exs: &'e mut ExPool) -> Option<&'e mut Exchange> {
        let d = &self.dirs[dir];
        if d.cur == NIL {
            return None;
        }
        let ex = &mut exs.slots[d.cur as usize];
        (ex.generation == d.cur_gen).then_some(ex)
    }

    /// The current message of `dir` ends abnormally (gap or close mid-message).
    fn cut_message(&mut self, dir: Direction, ends: &Ends, env: &mut Env) {
        let is_resp = self.dirs[dir].role == Role::Response;
        if let Some(ex) = self.cur_exchange(dir, env.exs) {
            let m = if is_resp { &mut ex.resp } else { &mut ex.req };
            m.truncated = true;
            let ts = m.last_ts;
            self.finish(dir, ts, false, ends, env);
        }
        self.dirs[dir].cur = NIL;
    }

    fn end_message(&mut self, dir: Direction, ts: u64, ends: &Ends, env: &mut Env) {
        self.finish(dir, ts, true, ends, env);
        let d = &mut self.dirs[dir];
        d.cur = NIL;
        d.discard = false;
        if d.state != State::Ignore {
            d.state = State::Head;
        }
    }

    fn finish(&mut self, dir: Direction, ts: u64, complete: bool, ends: &Ends, env: &mut Env) {
        let is_resp = self.dirs[dir].role == Role::Response;
        let Some(ex) = self.cur_exchange(dir, env.exs) else {
            return;
        };
        let skip = ex.skip;
        let m = if is_resp { &mut ex.resp } else { &mut ex.req };
        m.complete = complete;
        m.last_ts = m.last_ts.max(ts);
        if m.truncated && !skip {
            env.stats.truncated_bodies += 1;
        }
        if is_resp {
            // Responses complete in order: emit every finished exchange at the front.
            while self.first != NIL {
                let ex = &env.exs.slots[self.first as usize];
                let done = ex.has_resp
                    && (ex.resp.complete || (self.first == self.dirs[dir].cur && !complete));
                if !done {
                    break;
                }
                self.emit_front(ends, env);
            }
        }
    }

    fn emit_front(&mut self, ends: &Ends, env: &mut Env) {
        let i = self.first;
        let ex = env.exs.slots[i as usize];
        self.first = ex.next;
        if self.first == NIL {
            self.last = NIL;
        }
        self.pending -= 1;
        if ex.skip {
            // Refused by policy when the request came: counted there.
        } else if ex.req.lost || (ex.has_resp && ex.resp.lost) {
            env.stats.pool_exhausted += 1;
        } else {
            if !ex.has_resp {
                env.stats.requests_without_response += 1;
            }
            env.stats.traces += 1;
            env.sink.emit(&ex, ends, env.pool);
        }
        env.exs.give(i, env.pool);
    }

    /// Look for the next message start; returns bytes to skip, or None to wait for more.
    fn resync(&mut self, dir: Direction, b: &[u8], ends: &Ends, env: &mut Env) -> Option<usize> {
        let role = self.dirs[dir].role;
        let mut line = 0;
        loop {
            let mut verdict = looks_like(role, &b[line..]);
            if line == 0
                && !self.dirs[dir].line_start
                && verdict == Some(true)
                && looks_like_response(b) != Some(true)
                && !known_method(b)
            {
                // Mid-line after a loss: "ET /x HTTP/1.1" is not a request.
                verdict = Some(false);
            }
            match verdict {
                Some(true) => {
                    if line > 0 {
                        self.dirs[dir].line_start = true;
                    }
                    self.dirs[dir].state = State::Head;
                    self.dirs[dir].scanned = 0;
                    return Some(line);
                }
                None => {
                    // Could be a message start cut by the end of what we have.
                    if line > 0 {
                        self.dirs[dir].line_start = true;
                        return Some(line);
                    }
                    return None;
                }
                Some(false) => {}
            }
            match b[line..].iter().position(|&c| c == b'\n') {
                Some(nl) => line += nl + 1,
                None => break,
            }
            if line >= b.len() {
                break;
            }
        }
        let d = &mut self.dirs[dir];
        d.line_start = b.last() == Some(&b'\n');
        d.scanned = d.scanned.saturating_add(b.len() as u32);
        if d.scanned > MAX_SCAN && self.kind == Kind::Unknown {
            env.stats.non_http_flows += 1;
            let end = |d: Direction| (ends.addr[d], ends.port[d]);
            let ends = [end(Direction::FromLow), end(Direction::FromHigh)];
            env.stats
                .unread
                .other(ends, self.syn_from.map(Direction::index));
            self.ignore_all();
        }
        Some(b.len())
    }

    fn ignore_all(&mut self) {
        self.dirs[0].state = State::Ignore;
        self.dirs[1].state = State::Ignore;
        self.kind = Kind::Done;
    }

    /// Parse a head at the start of `b`. None: incomplete, wait for more.
    fn head(
        &mut self,
        dir: Direction,
        b: &[u8],
        cx: &Ctx,
        ends: &Ends,
        env: &mut Env,
    ) -> Option<usize> {
        if self.dirs[dir].role == Role::Unknown && !self.detect(dir, b, ends, env)? {
            return Some(0);
        }
        // An incomplete head is parsed again only once its end has arrived:
        // re-parsing it per segment would cost quadratic time on slow senders.
        let scanned = self.dirs[dir].head_scan as usize;
        if scanned > 0
            && b.len() < WINDOW
            && !has_head_end(&b[scanned.saturating_sub(3).min(b.len())..])
        {
            self.dirs[dir].head_scan = b.len() as u32;
            return None;
        }
        let mut headers = uninit_headers();
        let mut resp = httparse::Response::new(&mut []);
        let is_req = self.dirs[dir].role == Role::Request;
        let parsed = if is_req {
            match parse_request_head(b, &mut headers) {
                Ok(Some((n, line, hs))) => {
                    let method = match line.method {
                        "HEAD" => Method::Head,
                        "CONNECT" => Method::Connect,
                        _ => Method::Other,
                    };
                    let f = framing(hs);
                    let info = ReqInfo {
                        ts: cx.first_ts,
                        method: line.method,
                        target: line.target,
                        host: hs
                            .iter()
                            .find(|h| h.name.eq_ignore_ascii_case("host"))
                            .map(|h| h.value),
                        server: ends.addr[dir.flip()],
                    };
                    let keep = env.sink.admit(&info);
                    let parts = head::Parts::Request(line, hs);
                    Ok(Some((n, f, method, if keep { 0u16 } else { 1 }, parts)))
                }
                Ok(None) => Ok(None),
                Err(e) => Err(e),
            }
        } else {
            match parser_config().parse_response_with_uninit_headers(&mut resp, b, &mut headers) {
                Ok(httparse::Status::Complete(n)) => {
                    let f = framing(resp.headers);
                    let status = resp.code.unwrap_or(0);
                    Ok(Some((
                        n,
                        f,
                        Method::Other,
                        status,
                        head::Parts::Response(&resp),
                    )))
                }
                Ok(httparse::Status::Partial) => Ok(None),
                Err(e) => Err(e),
            }
        };
        match parsed {
            Ok(None) if b.len() < WINDOW => {
                self.dirs[dir].head_scan = b.len().max(1) as u32;
                None
            }
            Ok(None) | Err(_) => {
                // Too large to ever complete, or not HTTP at all.
                env.stats.parse_errors += 1;
                self.dirs[dir].state = State::Resync;
                self.dirs[dir].line_start = false;
                self.dirs[dir].head_scan = 0;
                if !is_req {
                    // Bytes that are not a response where one should start: the
                    // start of a response (and maybe more) was not captured.
                    self.resp_gap = true;
                }
                Some(if b.is_empty() { 0 } else { 1 })
            }
            Ok(Some((n, f, method, status, parts))) => {
                self.kind = Kind::Http;
                self.dirs[dir].head_scan = 0;
                if f.bad {
                    env.stats.parse_errors += 1;
                }
                let head = (&b[..n], &parts);
                if is_req {
                    let keep = status == 0;
                    self.request_head(dir, head, f, method, keep, cx, ends, env);
                } else {
                    self.response_head(dir, head, f, status, cx, ends, env);
                }
                Some(n)
            }
        }
    }

    /// First bytes of a direction: decide what this connection is.
    /// Some(true): parse a head here; Some(false): not a message start (resync).
    fn detect(&mut self, dir: Direction, b: &[u8], ends: &Ends, env: &mut Env) -> Option<bool> {
        let end = |d: Direction| (ends.addr[d], ends.port[d]);
        if b.len() >= 3 && b[0] == 0x16 && b[1] == 0x03 && b[2] <= 0x04 {
            env.stats.tls_flows += 1;
            env.stats.unread.tls(b, end(dir), end(dir.flip()));
            self.ignore_all();
            return Some(false);
        }
        const H2: &[u8] = b"PRI * HTTP/2.0";
        let n = b.len().min(H2.len());
        if b[..n] == H2[..n] {
            if n < H2.len() {
                return None;
            }
            env.stats.http2_flows += 1;
            env.stats.unread.http2(end(dir.flip()));
            self.ignore_all();
            return Some(false);
        }
        let role = if looks_like_response(b)? {
            Role::Response
        } else if looks_like_request(b)?
            && (self.syn_from.is_some() || self.dirs[dir].line_start || known_method(b))
        {
            Role::Request
        } else {
            self.dirs[dir].state = State::Resync;
            // Mid-stream start: look for a start of either kind.
            return Some(false);
        };
        self.set_role(dir, role);
        Some(true)
    }

    fn set_role(&mut self, dir: Direction, role: Role) {
        self.dirs[dir].role = role;
        self.dirs[dir.flip()].role = match role {
            Role::Request => Role::Response,
            _ => Role::Request,
        };
    }

    #[allow(clippy::too_many_arguments)]
    fn request_head(
        &mut self,
        dir: Direction,
        (head, parts): (&[u8], &head::Parts),
        f: Framing,
        method: Method,
        keep: bool,
        cx: &Ctx,
        ends: &Ends,
        env: &mut Env,
    ) {
        if self.pending >= MAX_PENDING {
            // Answers stopped coming: report the oldest as unanswered.
            self.emit_front(ends, env);
        }
        let d = &mut self.dirs[dir];
        d.discard = false;
        d.cur = NIL;
        let Some(i) = env.exs.take() else {
            env.stats.pool_exhausted += 1;
            d.discard = true;
            self.after_head(dir, &f, method, 0, cx.ts, ends, env);
            return;
        };
        let ex = &mut env.exs.slots[i as usize];
        ex.client_dir = dir;
        ex.method = method;
        ex.req_seq = cx.seq;
        ex.req_ack = cx.ack;
        ex.req.first_ts = cx.first_ts;
        ex.req.last_ts = cx.ts;
        ex.skip = !keep;
        if keep {
            ex.req = keep_head(ex.req, head, parts, env.pool);
        }
        let generation = ex.generation;
        if self.last == NIL {
            self.first = i;
        } else {
            env.exs.slots[self.last as usize].next = i;
        }
        self.last = i;
        self.pending += 1;
        let d = &mut self.dirs[dir];
        d.cur = i;
        d.cur_gen = generation;
        d.discard = !keep;
        self.after_head(dir, &f, method, 0, cx.ts, ends, env);
    }

    #[allow(clippy::too_many_arguments)]
    fn response_head(
        &mut self,
        dir: Direction,
        (head, parts): (&[u8], &head::Parts),
        f: Framing,
        status: u16,
        cx: &Ctx,
        ends: &Ends,
        env: &mut Env,
    ) {
        let d = &mut self.dirs[dir];
        d.cur = NIL;
        d.discard = true;
        if (100..200).contains(&status) && status != 101 {
            // Interim response: the final one follows for the same request.
            self.after_head(dir, &f, Method::Other, status, cx.ts, ends, env);
            return;
        }
        let target = self.pair(cx, ends, env);
        self.resp_gap = false;
        let Some(i) = target else {
            env.stats.orphan_responses += 1;
            self.after_head(dir, &f, Method::Other, status, cx.ts, ends, env);
            return;
        };
        let ex = &mut env.exs.slots[i as usize];
        ex.has_resp = true;
        ex.resp.first_ts = cx.first_ts;
        ex.resp.last_ts = cx.ts;
        let skip = ex.skip;
        if !skip {
            ex.resp = keep_head(ex.resp, head, parts, env.pool);
        }
        let method = ex.method;
        let generation = ex.generation;
        let d = &mut self.dirs[dir];
        d.cur = i;
        d.cur_gen = generation;
        d.discard = skip;
        self.after_head(dir, &f, method, status, cx.ts, ends, env);
    }

    /// Choose the request a final response answers.
    fn pair(&mut self, cx: &Ctx, ends: &Ends, env: &mut Env) -> Option<u32> {
        // The oldest request without a response.
        let mut i = self.first;
        while i != NIL && env.exs.slots[i as usize].has_resp {
            i = env.exs.slots[i as usize].next;
        }
        if i == NIL {
            return None;
        }
        let Some(ack) = cx.ack else {
            return Some(i);
        };
        // A request sent when the client had received exactly the bytes before
        // this response, and something new since the request before it, is
        // the one this response answers: older ones were answered by bytes
        // the capture lost (pipelined requests share their ACK, so only the
        // first of a batch can match).
        if i == self.first {
            let mut j = i;
            let mut prev_ack: Option<SeqNumber> = None;
            let mut cand = NIL;
            while j != NIL {
                let ex = env.exs.slots[j as usize];
                if ex.has_resp || ex.req_seq >= ack {
                    break;
                }
                if ex.req_ack == Some(cx.seq) && matches!(prev_ack, Some(p) if p < cx.seq) {
                    cand = j;
                }
                prev_ack = ex.req_ack;
                j = ex.next;
            }
            if cand != NIL {
                while self.first != cand {
                    self.emit_front(ends, env);
                }
                i = cand;
            }
        }
        if self.resp_gap {
            // Responses were lost: skip a request when the server had already
            // received its successor when it sent this response, and the client
            // had received something in between sending the two (so they were
            // not pipelined: the skipped one was answered by lost bytes).
            loop {
                let ex = env.exs.slots[i as usize];
                if ex.next == NIL {
                    break;
                }
                let nx = env.exs.slots[ex.next as usize];
                let answered_between =
                    matches!((ex.req_ack, nx.req_ack), (Some(a), Some(b)) if a < b);
                if nx.has_resp || nx.req_seq >= ack || i != self.first || !answered_between {
                    break;
                }
                // `i` will never get its response.
                self.emit_front(ends, env);
                i = self.first;
            }
        }
        // A server cannot answer a request it has not received.
        let ex = &env.exs.slots[i as usize];
        if ex.req_seq >= ack {
            return None;
        }
        Some(i)
    }

    /// Set the body state after a head; ends the message when it has no body.
    #[allow(clippy::too_many_arguments)]
    fn after_head(
        &mut self,
        dir: Direction,
        f: &Framing,
        method: Method,
        status: u16,
        ts: u64,
        ends: &Ends,
        env: &mut Env,
    ) {
        let is_resp = self.dirs[dir].role == Role::Response;
        let tunnel = is_resp
            && (status == 101 || (method == Method::Connect && (200..300).contains(&status)));
        let no_body = is_resp
            && (method == Method::Head
                || (100..200).contains(&status)
                || status == 204
                || status == 304
                || tunnel);
        let next = if no_body {
            None
        } else if f.chunked {
            Some(State::Chunked(Chunk::Size { val: 0, digits: 0 }))
        } else if let Some(n) = f.content_length {
            (n > 0).then_some(State::Body(n))
        } else if is_resp {
            Some(State::UntilClose)
        } else {
            None
        };
        match next {
            Some(s) => {
                self.dirs[dir].state = s;
                self.dirs[dir].body_start = is_resp;
            }
            None => {
                self.end_message(dir, ts, ends, env);
                if tunnel {
                    env.stats.tunnels += 1;
                    // Later requests (none expected) would never be answered.
                    while self.first != NIL {
                        self.emit_front(ends, env);
                    }
                    self.ignore_all();
                }
            }
        }
    }

    /// Run the chunked decoder over `b`; returns bytes consumed.
    fn chunked(
        &mut self,
        dir: Direction,
        mut c: Chunk,
        b: &[u8],
        ts: u64,
        ends: &Ends,
        env: &mut Env,
    ) -> usize {
        let mut i = 0;
        while i < b.len() {
            let ch = b[i];
            c = match c {
                Chunk::Data(left) => {
                    let n = (left.min((b.len() - i) as u64)) as usize;
                    self.body(dir, &b[i..i + n], ts, env);
                    i += n;
                    if left == n as u64 {
                        Chunk::DataEnd
                    } else {
                        Chunk::Data(left - n as u64)
                    }
                }
                Chunk::Size { val, digits } => {
                    i += 1;
                    if let Some(d) = (ch as char).to_digit(16) {
                        if digits >= 15 {
                            return self.chunk_error(dir, i, ends, env);
                        }
                        Chunk::Size {
                            val: val * 16 + d as u64,
                            digits: digits + 1,
                        }
                    } else if digits == 0 && (ch == b'\r' || ch == b'\n') {
                        // Tolerate a stray empty line before the size.
                        Chunk::Size { val, digits }
                    } else if digits == 0 {
                        return self.chunk_error(dir, i, ends, env);
                    } else if ch == b'\n' {
                        self.chunk_size_done(val)
                    } else {
                        Chunk::SizeRest { val }
                    }
                }
                Chunk::SizeRest { val } => {
                    i += 1;
                    if ch == b'\n' {
                        self.chunk_size_done(val)
                    } else {
                        Chunk::SizeRest { val }
                    }
                }
                Chunk::DataEnd => {
                    if ch == b'\r' || ch == b'\n' {
                        i += 1;
                        if ch == b'\n' {
                            Chunk::Size { val: 0, digits: 0 }
                        } else {
                            Chunk::DataEnd
                        }
                    } else {
                        // Missing CRLF after the data: read the next size.
                        Chunk::Size { val: 0, digits: 0 }
                    }
                }
                Chunk::TrailerStart => {
                    i += 1;
                    match ch {
                        b'\r' => Chunk::TrailerEnd,
                        b'\n' => {
                            self.end_message(dir, ts, ends, env);
                            return i;
                        }
                        _ => Chunk::TrailerLine,
                    }
                }
                Chunk::TrailerLine => {
                    i += 1;
                    if ch == b'\n' {
                        Chunk::TrailerStart
                    } else {
                        Chunk::TrailerLine
                    }
                }
                Chunk::TrailerEnd => {
                    i += 1;
                    if ch == b'\n' {
                        self.end_message(dir, ts, ends, env);
                        return i;
                    }
                    Chunk::TrailerLine
                }
            };
        }
        self.dirs[dir].state = State::Chunked(c);
        i
    }

    fn chunk_size_done(&self, val: u64) -> Chunk {
        if val == 0 {
            Chunk::TrailerStart
        } else {
            Chunk::Data(val)
        }
    }

    fn chunk_error(&mut self, dir: Direction, used: usize, ends: &Ends, env: &mut Env) -> usize {
        env.stats.parse_errors += 1;
        self.cut_message(dir, ends, env);
        self.dirs[dir].state = State::Resync;
        used
    }
}

/// The HTTP/1 parser of a connection, as the TCP layer drives it: each call
/// goes to the method of the same name with the HTTP view of the context.
impl tcp::Parser for Conn {
    type Shared = Shared;
    type Sink = dyn Emit;

    fn shared(l: &tcp::Limits, store: Store) -> Shared {
        Shared {
            pool: store,
            exs: ExPool::new(l.max_flows.max(1) as usize * 2 + 64),
            max_body: l.max_body,
        }
    }
    fn reserved(s: &Shared) -> usize {
        s.pool.reserved() + s.exs.reserved()
    }

    fn syn(&mut self, dir: Direction) {
        Conn::syn(self, dir)
    }
    fn is_done(&self) -> bool {
        Conn::is_done(self)
    }
    #[inline]
    fn data(
        &mut self,
        dir: Direction,
        bytes: &[u8],
        cx: &Ctx,
        ends: &Ends,
        env: &mut tcp::Env<Self>,
    ) -> usize {
        Conn::data(self, dir, bytes, cx, ends, &mut http_env(env))
    }
    fn gap(&mut self, dir: Direction, lost: u64, ts: u64, ends: &Ends, env: &mut tcp::Env<Self>) {
        Conn::gap(self, dir, lost, ts, ends, &mut http_env(env))
    }
    fn fin(&mut self, dir: Direction, ts: u64, ends: &Ends, env: &mut tcp::Env<Self>) {
        Conn::fin(self, dir, ts, ends, &mut http_env(env))
    }
    fn close(&mut self, ends: &Ends, env: &mut tcp::Env<Self>) {
        Conn::close(self, ends, &mut http_env(env))
    }
}

/// What the tracker lends a call, as HTTP's `Env`.
#[inline]
fn http_env<'a>(e: &'a mut tcp::Env<'_, Conn>) -> Env<'a> {
    Env {
        pool: &mut e.shared.pool,
        exs: &mut e.shared.exs,
        stats: e.stats,
        sink: e.sink,
        max_body: e.shared.max_body,
    }
}
