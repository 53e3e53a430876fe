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

use crate::exchange::index::{ReqLine, StartLine};
use crate::exchange::{Emit, Env, ExPool, ExRef, Method, Msg, ReqInfo, Shared};
use crate::pool::{Store, WINDOW};
use crate::tcp::{self, Ctx, Direction, Ends};
use body::{BodyDecoder, End, Follows, Status, follows};
use detect::{First, Found, MAX_SCAN, Role, known_method, looks_like_response};
use head::{Head, Parsed};
use pairing::Pending;

/// The tracker of HTTP/1 connections.
pub type Tracker = tcp::Tracker<Conn>;

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
    /// slot, or the response to a refused request.
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
}

impl Default for Conn {
    fn default() -> Self {
        Conn {
            dirs: [Dir::default(); 2],
            kind: Kind::Unknown,
            pending: Pending::default(),
            resp_gap: false,
            syn_from: None,
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

    /// `lost` bytes of `dir` were never captured.
    fn gap(&mut self, dir: Direction, lost: u64, ts: u64, ends: &Ends, env: &mut tcp::Env<Self>) {
        let env = &mut Env::lend(env, ends);
        env.stats.gaps += 1;
        self.dirs[dir].line_start = false;
        self.dirs[dir].head_scan = 0;
        let skipped = match &mut self.dirs[dir].state {
            State::Ignore => return,
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
                State::Head | State::Resync | State::Ignore => {}
            }
            self.dirs[dir].state = State::Ignore;
        }
        self.emit_all(env);
        self.kind = Kind::Done;
    }
}

impl Conn {
    // Where messages start: the first bytes, the heads, what follows them.

    /// First bytes of a direction: decide what this connection is.
    /// Some(true): parse a head here; Some(false): not a message start (resync).
    fn detect(&mut self, dir: Direction, b: &[u8], env: &mut Env) -> Option<bool> {
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
        if self.dirs[dir].role == Role::Unknown && !self.detect(dir, b, env)? {
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
        self.kind = Kind::Http;
        self.dirs[dir].head_scan = 0;
        if h.framing.bad {
            env.stats.parse_errors += 1;
        }
        match h.parts.start {
            StartLine::Request(line) => self.request_head(dir, h, line, cx, env),
            StartLine::Response(line) => self.response_head(dir, h, line.status, cx, env),
        }
        Some(h.bytes.len())
    }

    /// A request head: ask the sink whether to keep the exchange, queue it.
    fn request_head(&mut self, dir: Direction, h: &Head, line: ReqLine, cx: &Ctx, env: &mut Env) {
        let info = ReqInfo {
            ts: cx.first_ts,
            method: line.method,
            target: line.target,
            host: h
                .parts
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("host"))
                .map(|h| h.value),
            server: env.ends.addr[dir.flip()],
        };
        let keep = env.sink.admit(&info);
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
            env.stats.pool_exhausted += 1;
            d.discard = true;
            self.after_head(dir, follows(f, None), cx.ts, env);
            return;
        };
        let i = r.index();
        let ex = &mut env.exs[i];
        ex.client_dir = dir;
        ex.method = method;
        ex.req_seq = cx.seq;
        ex.req_ack = cx.ack;
        ex.req.first_ts = cx.first_ts;
        ex.req.last_ts = cx.ts;
        ex.skip = !keep;
        if keep {
            ex.req.keep_head(h.bytes, &h.parts, env.pool);
        }
        self.pending.push(env.exs, i);
        let d = &mut self.dirs[dir];
        d.cur = r;
        d.discard = !keep;
        self.after_head(dir, follows(f, None), cx.ts, env);
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
        let ex = &mut env.exs[i];
        ex.has_resp = true;
        ex.resp.first_ts = cx.first_ts;
        ex.resp.last_ts = cx.ts;
        let skip = ex.skip;
        if !skip {
            ex.resp.keep_head(h.bytes, &h.parts, env.pool);
        }
        let method = ex.method;
        let d = &mut self.dirs[dir];
        d.cur = env.exs.refer(i);
        d.discard = skip;
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
        if m.truncated && !skip {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The start-up "memory ceiling" line counts flow slots, which hold a
    /// `Conn` each: a change of its size shows in the sensor's output.
    #[test]
    fn a_connection_keeps_its_size() {
        assert_eq!(std::mem::size_of::<Conn>(), 96);
    }
}
