//! HTTP/1.x over one TCP connection: [`Conn`] keeps each direction's
//! place and coordinates the parts that do the work.
//!
//! Bytes arrive in order from the reassembler (`tcp`, through the
//! [`tcp::Parser`] trait). What they are is told by `detect` (first bytes,
//! and where messages start again after a loss); heads are parsed by `head`
//! and must be contiguous: `data` returns how many bytes it consumed, and the
//! caller keeps the rest (an incomplete head) and offers it again with more.
//! Bodies are decoded by `body` as they come, and only `--max-http-length`
//! bytes of each are kept. Each request's exchange waits in `pairing`'s
//! queue until its response is over; which request a response answers is
//! decided there too (by order; TCP acknowledgement numbers only veto
//! impossible pairings and help to re-pair after a loss). What comes out is
//! the protocol-neutral `exchange`.

mod body;
mod detect;
mod head;
mod pairing;

pub use pairing::MAX_PENDING;

use crate::exchange::index::{self, ReqLine, StartLine};
use crate::exchange::{
    Emit, Env, ExPool, ExRef, Exchange, Form, Method, Msg, ReqInfo, Shared, Ticket,
};
use crate::pool::{Store, WINDOW};
use crate::tcp::{self, Ctx, Direction, Ends};
use body::{BodyDecoder, End, Follows, Status, follows};
use detect::{First, Found, MAX_SCAN, Role, known_method, looks_like_response};
use head::{Head, Malformed, Parsed};
use pairing::Pending;

/// What a direction expects next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum State {
    /// Expecting a message head (or, with an unknown role, the first bytes).
    #[default]
    Head,
    /// Inside a message body.
    Body(BodyDecoder),
    /// Lost track: looking for the next message start.
    Resync,
    /// Not (or no longer) HTTP/1.x: bytes are dropped.
    Ignore,
    /// The server accepted `Upgrade: h2c` (a 101): the bytes from here are
    /// HTTP/2, left to the layer above ([`Conn::switched`]).
    Switched,
}

/// One direction's place in its byte stream.
#[derive(Debug, Clone, Copy)]
struct Dir {
    state: State,
    role: Role,
    /// The exchange this direction's current message belongs to.
    cur: ExRef,
    /// The current message is not kept: an interim (1xx) or orphan
    /// response, a request the policy refused or that found no exchange
    /// slot, or the response to a refused request (or to one kept as a
    /// head only and then released: `Env::keep_response`).
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
            cur: ExRef::NONE,
            discard: false,
            scanned: 0,
            line_start: false,
            body_start: false,
            head_scan: 0,
        }
    }
}

/// What the connection is known to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Kind {
    /// No head parsed yet.
    #[default]
    Unknown,
    /// A head was parsed.
    Http,
    /// Nothing more is parsed (closed, tunnel, TLS, HTTP/2, not HTTP).
    Done,
}

/// HTTP/1 state of one TCP connection, kept by value in its flow slot.
#[derive(Debug, Clone, Copy)]
pub struct Conn {
    dirs: [Dir; 2],
    kind: Kind,
    /// Outstanding exchanges, oldest first.
    pending: Pending,
    /// The response direction lost bytes since its last response head.
    resp_gap: bool,
    /// Seen a SYN from this direction (a hint for who the client is).
    syn_from: Option<Direction>,
    /// The latest request asked to switch to HTTP/2 (`Upgrade: h2c`).
    h2c: bool,
}

impl Default for Conn {
    fn default() -> Self {
        Conn {
            dirs: [Dir::default(); 2],
            kind: Kind::Unknown,
            pending: Pending::default(),
            resp_gap: false,
            syn_from: None,
            h2c: false,
        }
    }
}

/// The HTTP/1 parser of a connection, as the TCP layer drives it. Each call
/// borrows what it needs besides the connection as one [`Env`].
impl tcp::Parser for Conn {
    type Shared = Shared;
    type Sink = dyn Emit;

    fn shared(l: &tcp::Limits, store: Store) -> Shared {
        Shared::new(l, store)
    }
    fn reserved(s: &Shared) -> usize {
        s.reserved()
    }

    /// That side is the client.
    fn syn(&mut self, dir: Direction) {
        if self.syn_from.is_none() {
            self.syn_from = Some(dir);
        }
    }

    fn is_done(&self) -> bool {
        self.kind == Kind::Done
    }

    /// Offer in-order bytes of `dir`. Returns how many were consumed; the
    /// rest (an incomplete head) must be offered again with what follows.
    fn data(
        &mut self,
        dir: Direction,
        bytes: &[u8],
        cx: &Ctx,
        ends: &Ends,
        env: &mut tcp::Env<Self>,
    ) -> usize {
        let env = &mut Env::lend(env, ends);
        let mut pos = 0;
        while pos < bytes.len() {
            let rest = &bytes[pos..];
            if self.dirs[dir].body_start && matches!(self.dirs[dir].state, State::Body(_)) {
                // A status line where the body should start: the response had
                // none (its request, e.g. HEAD, was not seen or was lost).
                match looks_like_response(rest) {
                    None if rest.len() < 12 => return pos,
                    Some(true) => {
                        self.dirs[dir].body_start = false;
                        self.end_message(dir, cx.ts, env);
                        continue;
                    }
                    _ => self.dirs[dir].body_start = false,
                }
            }
            let used = match self.dirs[dir].state {
                State::Ignore => return bytes.len(),
                State::Switched => return pos,
                State::Head => {
                    let at = Ctx {
                        seq: cx.seq + pos as u32,
                        // Bytes after the first message came with the latest packet at the earliest.
                        first_ts: if pos == 0 { cx.first_ts } else { cx.ts },
                        ..*cx
                    };
                    match self.head(dir, rest, &at, env) {
                        Some(n) => n,
                        None => return pos,
                    }
                }
                State::Resync => match self.resync(dir, rest, env) {
                    Some(n) => n,
                    None => return pos,
                },
                State::Body(ref mut dec) => {
                    let st = dec.feed(rest);
                    self.fed(dir, rest, st, cx.ts, env)
                }
            };
            pos += used;
        }
        pos
    }

    /// The snap length cut `pending`, an incomplete head of `dir`: a request
    /// line in it that shows a method and a target, even cut, is a request
    /// if a server answers it, reported with what there is of it (flagged
    /// malformed).
    fn snapped(
        &mut self,
        dir: Direction,
        pending: &[u8],
        cx: &Ctx,
        ends: &Ends,
        env: &mut tcp::Env<Self>,
    ) {
        let d = &self.dirs[dir];
        let client = match d.role {
            Role::Request => true,
            Role::Unknown => self.syn_from == Some(dir),
            Role::Response => false,
        };
        if d.state != State::Head || !client || self.kind == Kind::Done {
            return;
        }
        let env = &mut Env::lend(env, ends);
        head::cut(pending, |h| {
            if let Some(h) = h
                && let StartLine::Request(line) = h.parts.start
            {
                self.aside(dir, h, line, true, cx, env);
            }
        });
    }

    /// `lost` bytes of `dir` were never captured.
    fn gap(&mut self, dir: Direction, lost: u64, ts: u64, ends: &Ends, env: &mut tcp::Env<Self>) {
        let env = &mut Env::lend(env, ends);
        env.stats.gaps += 1;
        self.dirs[dir].line_start = false;
        self.dirs[dir].head_scan = 0;
        let skipped = match &mut self.dirs[dir].state {
            State::Ignore | State::Switched => return,
            State::Body(dec) => dec.skip(lost),
            State::Head | State::Resync => None,
        };
        match skipped {
            Some(done) => {
                self.skip_body(dir, lost, env);
                if done {
                    self.end_message(dir, ts, env);
                }
            }
            None => {
                // The current message (if any) is cut short; find the next one.
                self.cut_message(dir, env);
                if self.dirs[dir].role == Role::Response {
                    self.resp_gap = true;
                }
                self.dirs[dir].state = State::Resync;
            }
        }
    }

    /// `dir` sent FIN (all its bytes have been offered).
    fn fin(&mut self, dir: Direction, ts: u64, ends: &Ends, env: &mut tcp::Env<Self>) {
        let env = &mut Env::lend(env, ends);
        if self.dirs[dir].state == State::Body(BodyDecoder::UntilClose) {
            self.end_message(dir, ts, env);
            self.dirs[dir].state = State::Ignore;
        }
    }

    /// The connection is gone: finish what can be finished and emit everything.
    fn close(&mut self, ends: &Ends, env: &mut tcp::Env<Self>) {
        let env = &mut Env::lend(env, ends);
        if self.kind == Kind::Done {
            // Not (or no longer) HTTP: only requests kept aside may wait.
            self.emit_all(env);
            return;
        }
        for dir in Direction::BOTH {
            let d = self.dirs[dir];
            match d.state {
                State::Body(BodyDecoder::UntilClose) => {
                    let ts = self.cur_msg(dir, env.exs).map(|m| m.last_ts).unwrap_or(0);
                    self.end_message(dir, ts, env);
                }
                State::Body(_) => self.cut_message(dir, env),
                State::Head | State::Resync | State::Ignore | State::Switched => {}
            }
            self.dirs[dir].state = State::Ignore;
        }
        self.emit_all(env);
        self.kind = Kind::Done;
    }
}

impl Conn {
    // What the layer above asks: whether the connection may still be
    // something else than HTTP/1, and the switch to HTTP/2 (`Upgrade: h2c`).

    /// No HTTP/1 head parsed yet, and the connection not given up: it may
    /// still turn out to be another protocol.
    pub fn undecided(&self) -> bool {
        self.kind == Kind::Unknown
    }

    /// No HTTP/1 head parsed yet and `dir` looking for where messages start
    /// (its first bytes were not a message start).
    pub fn searching(&self, dir: Direction) -> bool {
        self.kind == Kind::Unknown && self.dirs[dir].state == State::Resync
    }

    /// Nothing of `dir` has been recognised yet (its first bytes come next,
    /// or were too short to tell).
    pub fn at_first_bytes(&self, dir: Direction) -> bool {
        let d = &self.dirs[dir];
        d.role == Role::Unknown && d.state == State::Head
    }

    /// The side that sent a SYN without ACK: the client.
    pub fn syn_from(&self) -> Option<Direction> {
        self.syn_from
    }

    /// After a 101 that accepted `Upgrade: h2c`: the direction that sent it
    /// (the server's), and the exchange of the request it answered (its
    /// response, the 101, kept). `data` consumed nothing after the 101's
    /// head. The layer above then either takes the exchange over
    /// ([`take_switched`](Self::take_switched)) or lets the connection end
    /// as any switch of protocols ([`refuse_switch`](Self::refuse_switch)).
    pub fn switched(&self) -> Option<(Direction, ExRef)> {
        Direction::BOTH
            .into_iter()
            .find(|&d| self.dirs[d].state == State::Switched)
            .map(|d| (d, self.dirs[d].cur))
    }

    /// The switch is taken over: the upgraded request's exchange leaves the
    /// queue (its response is to come on HTTP/2's stream 1; any other
    /// request waiting is reported unanswered) and HTTP/1 parsing ends.
    pub fn take_switched(&mut self, env: &mut tcp::Env<Self>, ends: &Ends) -> Option<u32> {
        let env = &mut Env::lend(env, ends);
        let (_, upgraded) = self.switched()?;
        let mut taken = None;
        while let Some(i) = self.pending.pop(env.exs) {
            if i == upgraded.index() && env.exs.get_mut(upgraded).is_some() {
                taken = Some(i);
            } else {
                env.emit(i);
            }
        }
        self.ignore_all();
        taken
    }

    /// The switch is not taken over: the 101 ends HTTP/1 parsing as any
    /// switch of protocols does (`ts`: when it came).
    pub fn refuse_switch(&mut self, ts: u64, ends: &Ends, env: &mut tcp::Env<Self>) {
        let env = &mut Env::lend(env, ends);
        if let Some((dir, _)) = self.switched() {
            self.dirs[dir].state = State::Head;
            self.after_head(dir, Follows::Tunnel, ts, env);
        }
    }

    // Where messages start: the first bytes, the heads, what follows them.

    /// First bytes of a direction: decide what this connection is.
    /// Some(true): parse a head here; Some(false): not a message start (resync).
    fn detect(&mut self, dir: Direction, b: &[u8], cx: &Ctx, env: &mut Env) -> Option<bool> {
        let role = match detect::first(b)? {
            First::Tls => {
                env.stats.tls_flows += 1;
                let ends = env.ends;
                env.stats.unread.tls(b, ends.end(dir), ends.end(dir.flip()));
                self.ignore_all();
                return Some(false);
            }
            First::Http2 => {
                env.stats.http2_flows += 1;
                let server = env.ends.end(dir.flip());
                env.stats.unread.http2(server);
                self.ignore_all();
                return Some(false);
            }
            First::Status => Role::Response,
            First::Request
                if self.syn_from.is_some() || self.dirs[dir].line_start || known_method(b) =>
            {
                Role::Request
            }
            First::Request | First::Other => {
                self.dirs[dir].state = State::Resync;
                self.first_malformed(dir, b, cx, env);
                // Mid-stream start: look for a start of either kind.
                return Some(false);
            }
        };
        self.set_role(dir, role);
        Some(true)
    }

    /// `dir` sends `role`'s messages, the other direction the others.
    fn set_role(&mut self, dir: Direction, role: Role) {
        self.dirs[dir].role = role;
        self.dirs[dir.flip()].role = match role {
            Role::Request => Role::Response,
            _ => Role::Request,
        };
    }

    /// Look for the next message start; returns bytes to skip, or None to wait for more.
    fn resync(&mut self, dir: Direction, b: &[u8], env: &mut Env) -> Option<usize> {
        let d = &mut self.dirs[dir];
        match detect::find_start(d.role, b, d.line_start) {
            Found::Start(at) => {
                if at > 0 {
                    d.line_start = true;
                }
                d.state = State::Head;
                d.scanned = 0;
                Some(at)
            }
            Found::Cut(at) => {
                d.line_start = true;
                Some(at)
            }
            Found::Wait => None,
            Found::Nothing => {
                d.line_start = b.last() == Some(&b'\n');
                d.scanned = d.scanned.saturating_add(b.len() as u32);
                if d.scanned > MAX_SCAN && self.kind == Kind::Unknown {
                    // A doubtful first request kept aside was noise after all.
                    self.emit_all(env);
                    env.stats.non_http_flows += 1;
                    let ends = env.ends;
                    let both = [ends.end(Direction::FromLow), ends.end(Direction::FromHigh)];
                    env.stats
                        .unread
                        .other(both, self.syn_from.map(Direction::index));
                    self.ignore_all();
                }
                Some(b.len())
            }
        }
    }

    /// Parse a head at the start of `b`. None: incomplete, wait for more.
    fn head(&mut self, dir: Direction, b: &[u8], cx: &Ctx, env: &mut Env) -> Option<usize> {
        if self.dirs[dir].role == Role::Unknown && !self.detect(dir, b, cx, env)? {
            return Some(0);
        }
        // An incomplete head is parsed again only once its end has arrived:
        // re-parsing it per segment would cost quadratic time on slow senders.
        let scanned = self.dirs[dir].head_scan as usize;
        if scanned > 0
            && b.len() < WINDOW
            && !head::has_head_end(&b[scanned.saturating_sub(3).min(b.len())..])
        {
            self.dirs[dir].head_scan = b.len() as u32;
            return None;
        }
        let request = self.dirs[dir].role == Role::Request;
        head::parse(b, request, |p| self.parsed(dir, b, p, cx, env))
    }

    /// What parsing `b` gave: a head to act on, or bytes to wait for or to
    /// skip. Returns bytes consumed, or None to wait for more.
    fn parsed(
        &mut self,
        dir: Direction,
        b: &[u8],
        p: &Parsed,
        cx: &Ctx,
        env: &mut Env,
    ) -> Option<usize> {
        let h = match p {
            Parsed::Complete(h) => h,
            Parsed::Partial if b.len() < WINDOW => {
                self.dirs[dir].head_scan = b.len().max(1) as u32;
                return None;
            }
            Parsed::Partial | Parsed::Invalid => {
                // Too large to ever complete, or not HTTP at all.
                env.stats.parse_errors += 1;
                let d = &mut self.dirs[dir];
                d.state = State::Resync;
                d.line_start = false;
                d.head_scan = 0;
                if d.role != Role::Request {
                    // Bytes that are not a response where one should start: the
                    // start of a response (and maybe more) was not captured.
                    self.resp_gap = true;
                }
                return Some(if b.is_empty() { 0 } else { 1 });
            }
        };
        if h.malformed != Some(Malformed::Line) {
            // A malformed request line is HTTP only if a server answers it.
            self.kind = Kind::Http;
        }
        self.dirs[dir].head_scan = 0;
        if h.framing.bad || h.malformed.is_some() {
            env.stats.parse_errors += 1;
        }
        match h.parts.start {
            StartLine::Request(line) => {
                self.request_head(dir, h, line, cx, env);
                if let Some(at) = h.framing.other_length {
                    self.other_reading(dir, b, h.bytes.len() as u64 + at, cx, env);
                }
            }
            StartLine::Response(line) => self.response_head(dir, h, line.status, cx, env),
        }
        Some(h.bytes.len())
    }

    /// A request head: ask the sink what to keep of the exchange, queue it.
    fn request_head(&mut self, dir: Direction, h: &Head, line: ReqLine, cx: &Ctx, env: &mut Env) {
        // A doubtful request is put to the policy when a server answers it.
        let ticket = if h.malformed == Some(Malformed::Line) {
            Ticket::keep_all()
        } else {
            env.sink.admit(&info(dir, h, &line, cx, env.ends))
        };
        self.h2c = upgrades_to_h2c(h.parts.headers);
        let method = head::method(line.method);
        let f = &h.framing;
        if self.pending.is_full() {
            // Answers stopped coming: report the oldest as unanswered.
            self.emit_front(env);
        }
        let d = &mut self.dirs[dir];
        d.discard = false;
        d.cur = ExRef::NONE;
        let Some(r) = env.exs.take() else {
            d.discard = true;
            env.no_slot(ticket);
            self.after_head(dir, follows(f, None), cx.ts, env);
            return;
        };
        let i = r.index();
        fill(&mut env.exs[i], dir, h, method, cx);
        let keep = env.keep_request(i, ticket, h.bytes, &h.parts);
        self.pending.push(env.exs, i);
        let d = &mut self.dirs[dir];
        d.cur = r;
        d.discard = !keep;
        self.after_head(dir, follows(f, None), cx.ts, env);
    }

    // Malformed requests off the usual path (a head's own parse handles the
    // others): first bytes a server may yet answer, a head the snap length
    // cut, the other reading of a body's length.

    /// A malformed request kept aside of the direction's parsing, which
    /// goes on looking for the next message: queued for its response
    /// (unless refused by policy or without a slot). Its body, if it has
    /// one, is not read; `cut`: its head did not end either (the snap length
    /// cut it).
    fn aside(
        &mut self,
        dir: Direction,
        h: &Head,
        line: ReqLine,
        cut: bool,
        cx: &Ctx,
        env: &mut Env,
    ) {
        let ticket = if cut || h.malformed == Some(Malformed::Line) {
            Ticket::keep_all()
        } else {
            env.sink.admit(&info(dir, h, &line, cx, env.ends))
        };
        if self.pending.is_full() {
            self.emit_front(env);
        }
        let Some(r) = env.exs.take() else {
            env.no_slot(ticket);
            return;
        };
        let i = r.index();
        fill(&mut env.exs[i], dir, h, head::method(line.method), cx);
        env.keep_request(i, ticket, h.bytes, &h.parts);
        let ex = &mut env.exs[i];
        if cut {
            // Whatever its line, a cut head is a request only if answered.
            ex.req.form = Form::Doubtful;
        }
        ex.req.complete = !cut && matches!(follows(&h.framing, None), Follows::Nothing);
        ex.req.truncated = !ex.req.complete;
        self.pending.push(env.exs, i);
    }

    /// The first bytes `b` of `dir` are no request line the detection
    /// believes, but the client (it sent the SYN) may have sent a malformed
    /// one: keep it aside, reported only if a server answers it.
    #[cold]
    #[inline(never)]
    fn first_malformed(&mut self, dir: Direction, b: &[u8], cx: &Ctx, env: &mut Env) {
        if self.syn_from != Some(dir) {
            return;
        }
        head::parse(b, true, |p| {
            if let Parsed::Complete(h) = p
                && h.malformed == Some(Malformed::Line)
                && let StartLine::Request(line) = h.parts.start
            {
                self.aside(dir, h, line, false, cx, env);
            }
        });
    }

    /// A request's Content-Lengths disagree: another reader would end its
    /// body at `at` bytes into `b` (where the head starts). A request that
    /// starts there, in the bytes at hand, is one a server may have seen
    /// (request smuggling): reported at once, without response, flagged
    /// malformed, with what there is of its body.
    #[cold]
    #[inline(never)]
    fn other_reading(&mut self, dir: Direction, b: &[u8], at: u64, cx: &Ctx, env: &mut Env) {
        let Some(rest) = usize::try_from(at).ok().and_then(|at| b.get(at..)) else {
            return;
        };
        if rest.is_empty() {
            return;
        }
        let cx = &Ctx {
            seq: cx.seq + at as u32,
            ..*cx
        };
        head::parse(rest, true, |p| {
            let Parsed::Complete(h) = p else { return };
            let StartLine::Request(line) = h.parts.start else {
                return;
            };
            if h.malformed.is_some() {
                return;
            }
            let ticket = env.sink.admit(&info(dir, h, &line, cx, env.ends));
            let Some(r) = env.exs.take() else {
                env.no_slot(ticket);
                return;
            };
            let i = r.index();
            fill(&mut env.exs[i], dir, h, head::method(line.method), cx);
            let keep = env.keep_request(i, ticket, h.bytes, &h.parts);
            let ex = &mut env.exs[i];
            ex.req.form = Form::Malformed;
            let body = &rest[h.bytes.len()..];
            ex.req.complete = match follows(&h.framing, None) {
                Follows::Body(mut dec) => {
                    let st = dec.feed(body);
                    if keep {
                        let m = &mut ex.req;
                        m.keep_body(&body[st.body], cx.ts, env.max_body, env.pool, env.stats);
                    }
                    st.end == End::Done
                }
                Follows::Nothing | Follows::Tunnel => true,
            };
            ex.req.truncated |= !ex.req.complete;
            env.emit(i);
        });
    }

    /// A response head: pair it with its request.
    fn response_head(&mut self, dir: Direction, h: &Head, status: u16, cx: &Ctx, env: &mut Env) {
        let f = &h.framing;
        let d = &mut self.dirs[dir];
        d.cur = ExRef::NONE;
        d.discard = true;
        if (100..200).contains(&status) && status != 101 {
            // Interim response: the final one follows for the same request.
            self.after_head(dir, follows(f, Some((status, Method::Other))), cx.ts, env);
            return;
        }
        let c = self.pending.choose(env.exs, cx.seq, cx.ack, self.resp_gap);
        for _ in 0..c.unanswered {
            self.emit_front(env);
        }
        self.resp_gap = false;
        let Some(i) = c.answers else {
            env.stats.orphan_responses += 1;
            self.after_head(dir, follows(f, Some((status, Method::Other))), cx.ts, env);
            return;
        };
        let ex = &env.exs[i];
        if ex.req.form == Form::Doubtful && !ex.skip && !ex.req.lost {
            let ticket = admit_answered(ex, env.pool, env.sink, env.ends);
            env.answered(i, ticket);
        }
        let ex = &mut env.exs[i];
        ex.has_resp = true;
        ex.resp.first_ts = cx.first_ts;
        ex.resp.last_ts = cx.ts;
        let method = ex.method;
        let keep = env.keep_response(i, cx.first_ts, status, h.bytes, &h.parts);
        let d = &mut self.dirs[dir];
        d.cur = env.exs.refer(i);
        d.discard = !keep;
        if status == 101 && self.h2c && upgrades_to_h2c(h.parts.headers) {
            // HTTP/2 from the next byte: the layer above decides (`switched`).
            self.dirs[dir].state = State::Switched;
            return;
        }
        self.after_head(dir, follows(f, Some((status, method))), cx.ts, env);
    }

    /// Set the body state after a head; ends the message when it has no body.
    fn after_head(&mut self, dir: Direction, next: Follows, ts: u64, env: &mut Env) {
        match next {
            Follows::Body(dec) => {
                let d = &mut self.dirs[dir];
                d.state = State::Body(dec);
                d.body_start = d.role == Role::Response;
            }
            Follows::Nothing => self.end_message(dir, ts, env),
            Follows::Tunnel => {
                self.end_message(dir, ts, env);
                env.stats.tunnels += 1;
                // Later requests (none expected) would never be answered.
                self.emit_all(env);
                self.ignore_all();
            }
        }
    }

    // Bodies.

    /// What the body decoder of `dir` did with `b`: keep the body bytes, end
    /// the message when it is over. Returns the bytes used.
    #[inline]
    fn fed(&mut self, dir: Direction, b: &[u8], st: Status, ts: u64, env: &mut Env) -> usize {
        if !st.body.is_empty() {
            self.body(dir, &b[st.body], ts, env);
        }
        match st.end {
            End::More => {}
            End::Done => self.end_message(dir, ts, env),
            End::Error => {
                env.stats.parse_errors += 1;
                self.cut_message(dir, env);
                self.dirs[dir].state = State::Resync;
            }
        }
        st.used
    }

    /// Keep body bytes of the current message (up to the cap).
    #[inline]
    fn body(&mut self, dir: Direction, bytes: &[u8], ts: u64, env: &mut Env) {
        if let Some(m) = self.cur_msg(dir, env.exs) {
            m.keep_body(bytes, ts, env.max_body, env.pool, env.stats);
        }
    }

    /// `n` body bytes were lost: counted, not kept.
    fn skip_body(&mut self, dir: Direction, n: u64, env: &mut Env) {
        if let Some(m) = self.cur_msg(dir, env.exs) {
            m.lose_body(n);
        }
    }

    /// The message `dir` is reading, unless it is not kept.
    fn cur_msg<'e>(&self, dir: Direction, exs: &'e mut ExPool) -> Option<&'e mut Msg> {
        let d = &self.dirs[dir];
        if d.discard {
            return None;
        }
        let ex = exs.get_mut(d.cur)?;
        Some(if d.role == Role::Request {
            &mut ex.req
        } else {
            &mut ex.resp
        })
    }

    // Where messages end, and exchanges with them.

    /// The current message of `dir` ends as its framing says, at `ts`; a
    /// head may follow.
    fn end_message(&mut self, dir: Direction, ts: u64, env: &mut Env) {
        self.finish(dir, ts, true, env);
        let d = &mut self.dirs[dir];
        d.cur = ExRef::NONE;
        d.discard = false;
        if d.state != State::Ignore {
            d.state = State::Head;
        }
    }

    /// The current message of `dir` ends abnormally (gap or close mid-message).
    fn cut_message(&mut self, dir: Direction, env: &mut Env) {
        let is_resp = self.dirs[dir].role == Role::Response;
        if let Some(ex) = env.exs.get_mut(self.dirs[dir].cur) {
            let m = if is_resp { &mut ex.resp } else { &mut ex.req };
            m.truncated = true;
            let ts = m.last_ts;
            self.finish(dir, ts, false, env);
        }
        self.dirs[dir].cur = ExRef::NONE;
    }

    /// The current message of `dir` is over (`complete`: as its framing
    /// says); when it is a response, emit the exchanges now answered.
    fn finish(&mut self, dir: Direction, ts: u64, complete: bool, env: &mut Env) {
        let is_resp = self.dirs[dir].role == Role::Response;
        let cur = self.dirs[dir].cur;
        let Some(ex) = env.exs.get_mut(cur) else {
            return;
        };
        let skip = ex.skip;
        let m = if is_resp { &mut ex.resp } else { &mut ex.req };
        m.complete = complete;
        m.last_ts = m.last_ts.max(ts);
        if m.truncated && !skip && !m.body_omitted {
            env.stats.truncated_bodies += 1;
        }
        if is_resp {
            // Responses complete in order: emit every finished exchange at the front.
            while self.pending.front_answered(env.exs, cur, !complete) {
                self.emit_front(env);
            }
        }
    }

    /// Emit the oldest outstanding exchange.
    fn emit_front(&mut self, env: &mut Env) {
        if let Some(i) = self.pending.pop(env.exs) {
            env.emit(i);
        }
    }

    /// Emit every outstanding exchange.
    fn emit_all(&mut self, env: &mut Env) {
        while let Some(i) = self.pending.pop(env.exs) {
            env.emit(i);
        }
    }

    /// Not (or no longer) HTTP/1: drop every later byte.
    fn ignore_all(&mut self) {
        self.dirs[0].state = State::Ignore;
        self.dirs[1].state = State::Ignore;
        self.kind = Kind::Done;
    }
}

/// What the policy is asked about a request head.
fn info<'a>(
    dir: Direction,
    h: &Head<'a, '_>,
    line: &ReqLine<'a>,
    cx: &Ctx,
    ends: &Ends,
) -> ReqInfo<'a> {
    ReqInfo {
        ts: cx.first_ts,
        method: line.method,
        target: line.target,
        host: h
            .parts
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("host"))
            .map(|h| h.value),
        server: ends.addr[dir.flip()],
    }
}

/// The policy's answer for the doubtful request of `ex` now that a server
/// answered it (asked only now, so that noise nobody answers takes no share
/// of the rate limit): its head and index read back from `pool`.
#[cold]
#[inline(never)]
fn admit_answered(ex: &Exchange, pool: &Store, sink: &mut dyn Emit, ends: &Ends) -> Ticket {
    let m = &ex.req;
    let mut buf = [0u8; WINDOW + index::MAX];
    let n = m.body_start().min(buf.len());
    let mut at = 0;
    for s in pool.slices(&m.chain, 0) {
        let k = s.len().min(n - at);
        buf[at..at + k].copy_from_slice(&s[..k]);
        at += k;
        if at == n {
            break;
        }
    }
    let (head, ix) = buf[..at].split_at((m.head_len as usize).min(at));
    let mut hb = index::uninit_headers();
    let (line, headers) = index::request(head, ix, &mut hb);
    sink.admit(&ReqInfo {
        ts: m.first_ts,
        method: line.method,
        target: line.target,
        host: headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("host"))
            .map(|h| h.value),
        server: ends.addr[ex.client_dir.flip()],
    })
}

/// A new exchange for the request head `h` of `dir`, read in `cx` (what
/// is kept of it is `Env::keep_request`'s to say).
#[inline(always)]
fn fill(ex: &mut Exchange, dir: Direction, h: &Head, method: Method, cx: &Ctx) {
    ex.client_dir = dir;
    ex.req.form = match h.malformed {
        Some(Malformed::Line) => Form::Doubtful,
        Some(Malformed::Headers) => Form::Malformed,
        None if h.framing.bad => Form::Malformed,
        None => Form::WellFormed,
    };
    ex.method = method;
    ex.req_seq = cx.seq;
    ex.req_ack = cx.ack;
    ex.req.first_ts = cx.first_ts;
    ex.req.last_ts = cx.ts;
}

/// Whether `headers` have `Upgrade: h2c` (a token of the list, any case):
/// on a request, an offer to switch to HTTP/2; on a 101, its acceptance.
fn upgrades_to_h2c(headers: &[httparse::Header<'_>]) -> bool {
    headers.iter().any(|h| {
        h.name.eq_ignore_ascii_case("upgrade")
            && h.value
                .split(|&c| c == b',')
                .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"h2c"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The start-up "memory ceiling" line counts flow slots, which hold a
    /// `Conn` each: a change of its size shows in the sensor's output.
    #[test]
    fn a_connection_keeps_its_size() {
        assert_eq!(std::mem::size_of::<Conn>(), 96);
    }

    use crate::endpoint::{self, Endpoints, Reason};

    /// HTTP/1 alone under the TCP layer (the sensor's `proto::Tracker` puts
    /// HTTP/2 beside it).
    type Tracker = tcp::Tracker<Conn>;
    use crate::exchange::{Exchange, Late, Ticket, Verdict};
    use crate::wire::{Addr, Segment, SeqNumber, TcpFlags};

    /// A sink that samples with a real `Endpoints` and records what left.
    struct Sampled {
        e: Endpoints,
        /// Traced: (target's first bytes, request body omitted, its size,
        /// request bytes kept).
        traced: Vec<(String, bool, u64, usize)>,
        /// Every exchange that left: its verdict and whether it was traced.
        done: Vec<(Verdict, bool)>,
    }

    impl Emit for Sampled {
        fn admit(&mut self, r: &ReqInfo) -> Ticket {
            self.e.request(r.ts, r.method, "h", r.target)
        }
        fn respond(&mut self, t: &mut Ticket, ts: u64, status: u16) -> Late {
            self.e.response(t, ts, status)
        }
        fn emit(&mut self, ex: &Exchange, _: &Ends, pool: &Store) {
            let mut head = Vec::new();
            pool.copy_prefix(&ex.req.chain, 12, &mut head);
            self.traced.push((
                String::from_utf8_lossy(&head).into_owned(),
                ex.req.body_omitted,
                ex.req.body_size,
                ex.req.chain.len(),
            ));
        }
        fn done(&mut self, ex: &Exchange, traced: bool) {
            self.done.push((ex.ticket.verdict(), traced));
        }
    }

    fn seg(from_client: bool, seq: u32, ack: u32, payload: &[u8]) -> Segment<'_> {
        let (c, s) = (
            (Addr::v4([10, 0, 0, 1]), 40000),
            (Addr::v4([10, 0, 0, 2]), 80),
        );
        let (src, dst) = if from_client { (c, s) } else { (s, c) };
        Segment {
            src: src.0,
            dst: dst.0,
            sport: src.1,
            dport: dst.1,
            seq: SeqNumber(seq),
            ack: SeqNumber(ack),
            flags: TcpFlags::ACK,
            payload,
            missing: 0,
            md5: false,
        }
    }

    /// A small tracker and a sink sampling 60 traces a minute.
    fn sampled_tracker() -> (Tracker, Sampled) {
        let t = Tracker::new(&tcp::Limits {
            max_flows: 4,
            pool_bytes: 1 << 20,
            timeout_us: 10_000_000,
            max_body: 1 << 20,
            max_h2: 0,
        });
        let sink = Sampled {
            e: Endpoints::new(&endpoint::Config {
                per_minute: 60.0,
                head_gap_us: 0,
                ..endpoint::Config::default()
            }),
            traced: Vec::new(),
            done: Vec::new(),
        };
        (t, sink)
    }

    /// A request whose line is malformed is put to the sampler only when a
    /// server answers it: one nobody answers takes no endpoint and no share
    /// of the budget; an answered one is admitted then, and traced with the
    /// ticket the sampler gave it.
    #[test]
    fn a_doubtful_request_meets_the_sampler_at_its_answer() {
        let (mut t, mut sink) = sampled_tracker();
        let ts = 1_714_564_800_000_000u64;
        let line = "GET /odd HTTP/1.\r\nHost: h\r\n\r\n";
        let answer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        let mut cs = 1000u32;
        t.segment(&seg(true, cs, 5000, line.as_bytes()), ts, &mut sink);
        cs += line.len() as u32;
        assert_eq!(sink.e.counters().endpoints_known, 0, "not asked yet");
        t.segment(&seg(false, 5000, cs, answer.as_bytes()), ts + 10, &mut sink);
        assert_eq!(sink.e.counters().endpoints_known, 1, "asked at the answer");
        assert_eq!(sink.done, [(Verdict::Keep(Reason::NewEndpoint), true)]);
        assert_eq!(sink.traced[0].0, "GET /odd HTT");
        // The same line again, never answered: noise, not a trace.
        t.segment(&seg(true, cs, 5002, line.as_bytes()), ts + 20, &mut sink);
        t.close_all(&mut sink);
        assert_eq!(sink.traced.len(), 1);
        assert_eq!(sink.done.len(), 2);
        assert!(!sink.done[1].1, "the unanswered one is not traced");
        assert_eq!(sink.e.counters().traces_fair_share, 0);
        assert_eq!((t.stats.traces, t.stats.malformed_requests), (1, 1));
    }

    /// Head, Promote and Release through the parser: a kept head costs
    /// its chunks of the store from the request head to the response head;
    /// its body is counted, not kept; a new error traces it, flagged; any
    /// other answer gives the chunks back at once; no answer, no trace.
    #[test]
    fn a_request_kept_as_its_head_is_promoted_or_released() {
        let (mut t, mut sink) = sampled_tracker();
        // Contention first (two other endpoints took spare tokens until the
        // bucket fell below half), so that exchanges wait for their share.
        let mut ts = 1_714_564_800_000_000u64;
        while sink
            .e
            .request(ts, "GET", "o", ["/a", "/b"][ts as usize % 2])
            .traced()
        {
            ts += 1;
        }
        let body = "x".repeat(3000);
        let post = |n: u32| {
            format!("POST /items/{n} HTTP/1.1\r\nHost: h\r\nContent-Length: 3000\r\n\r\n{body}")
        };
        let answer = |status: &str| format!("HTTP/1.1 {status}\r\nContent-Length: 2\r\n\r\nok");
        let (mut cs, mut ss) = (1000u32, 5000u32);
        let mut send = |t: &mut Tracker, sink: &mut Sampled, client: bool, text: &str| {
            let (seq, ack) = if client { (&mut cs, ss) } else { (&mut ss, cs) };
            for piece in text.as_bytes().chunks(1400) {
                t.segment(&seg(client, *seq, ack, piece), ts, sink);
                *seq = seq.wrapping_add(piece.len() as u32);
                ts += 100;
            }
        };
        let free = |t: &Tracker| t.shared.pool.free_count();
        let empty = free(&t);
        // The first of its endpoint: kept.
        send(&mut t, &mut sink, true, &post(1));
        send(&mut t, &mut sink, false, &answer("200 OK"));
        assert_eq!(sink.done, [(Verdict::Keep(Reason::NewEndpoint), true)]);
        assert_eq!(free(&t), empty);
        // Not due: its head only, until the response; a 500 promotes it.
        send(&mut t, &mut sink, true, &post(2));
        let held = empty - free(&t);
        assert_eq!(held, 1, "one chunk for the head and its index");
        send(
            &mut t,
            &mut sink,
            false,
            &answer("500 Internal Server Error"),
        );
        assert_eq!(sink.done[1], (Verdict::Keep(Reason::NewError), true));
        let (head, omitted, size, kept) = sink.traced[1].clone();
        assert_eq!(head, "POST /items/");
        assert!(omitted);
        assert_eq!(size, 3000, "the body is counted");
        assert!(kept < 200, "no body kept: {kept}");
        assert_eq!(t.stats.truncated_bodies, 0);
        // A 200: released at its response head, before the exchange ends.
        send(&mut t, &mut sink, true, &post(3));
        assert_eq!(empty - free(&t), 1);
        send(
            &mut t,
            &mut sink,
            false,
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n",
        );
        assert_eq!(free(&t), empty, "given back at the response head");
        send(&mut t, &mut sink, false, "ok");
        assert_eq!(sink.done[2], (Verdict::Pass, false));
        // No response at all: not traced.
        send(&mut t, &mut sink, true, &post(4));
        t.close_all(&mut sink);
        assert_eq!(sink.done[3], (Verdict::Head, false));
        assert_eq!(sink.traced.len(), 2);
        assert_eq!(free(&t), empty);
        assert_eq!((t.stats.traces, t.stats.pool_exhausted), (2, 0));
    }
}
