//! Which exchanges become traces under a rate limit, endpoint by endpoint.
//!
//! **The hard cap.** One token bucket of N traces a minute, bursts up to N,
//! exactly as the plain rate limit: every trace, whatever the reason it is
//! kept, takes a token from it, so in any minute there are at most N traces
//! plus what the bucket held at its start (N at most).
//!
//! **Within it**, in order:
//! 1. *New endpoint*: an exchange of an endpoint that has no trace yet takes
//!    any token left.
//! 2. *New error*: a response that opens an (endpoint, 4xx) or (endpoint,
//!    5xx) pair that has no trace yet takes any token left. The status is
//!    known only at the response: an exchange passed over at its request may
//!    be marked `Head` (keep the request head, not its body), so that it can
//!    still be traced then, flagged as such.
//! 3. *Fair share*: every endpoint may have one more trace each `1/r`
//!    minutes, the same fair rate `r` for all, but only from tokens above a
//!    reserve of N/4 kept for (1) and (2). `r` adapts so that the budget is
//!    used: it rises while the bucket is full (tokens would go unused) and
//!    falls while the bucket is below half (N/4 above the reserve, so that
//!    an endpoint whose turn comes finds a token), by a factor e per 10 s
//!    at most, between N / (endpoints active in this or the last minute)
//!    and N. Endpoints that need fewer than `r` traces a minute get every
//!    one they ask for; the rest get `r` each: max-min fair shares, so a
//!    health check or a hot path cannot starve the others.
//! 4. *Spare*: while there is no contention — `r` is at its most, N, as it
//!    is at the start and again after the bucket stayed full for a while —
//!    any exchange takes a token above the reserve, as the plain bucket
//!    would: traffic that fits in the budget (light, or a burst of up to
//!    N/2 from a full bucket) is traced whole, not spaced out. The bucket
//!    falling below half lowers `r` and ends it. Counted as fair share.
//!
//! Every decision is O(1) and allocation-free: a few fields of the
//! endpoint's slot and of the bucket.
//!
//! `Mode::Uniform` is the plain rate limit: a token, if there is one, for
//! every exchange at its request, in arrival order.

/// How the budget is spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The plain token bucket, blind to endpoints (`--sampling uniform`).
    Uniform,
    /// New endpoints and errors first, then fair shares (the default).
    Endpoints,
}

/// Why an exchange is traced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// No rate limit is set.
    Unlimited,
    /// `Mode::Uniform` had a token.
    Uniform,
    /// The first trace of its endpoint.
    NewEndpoint,
    /// The first trace of its (endpoint, 4xx/5xx) pair (at the response).
    NewError,
    /// The endpoint's fair share.
    FairShare,
}

/// The decision at the request head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Trace it: keep the request and then its response.
    Keep(Reason),
    /// Passed over, but keep the request head (no body): its response may
    /// still make it a trace (see `Late`).
    Head,
    /// Passed over: keep nothing (pair the response, as today).
    Pass,
}

/// The decision at the response head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Late {
    /// Nothing changes: a kept exchange stays kept, a passed one passed.
    AsDecided,
    /// A `Head` exchange opened a new (endpoint, error) pair: trace it, from
    /// the request head kept and the whole response, flagged as having no
    /// request body.
    Promote,
    /// A `Head` exchange stays passed over: let go of its request head now
    /// and keep nothing of the response.
    Release,
}

/// Traces kept, by reason (sampling mode only).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Kept {
    pub new_endpoint: u64,
    pub new_error: u64,
    pub fair_share: u64,
}

/// The token bucket, with the arithmetic of the plain rate limit.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    per_us: f64,
    cap: f64,
    tokens: f64,
    last: u64,
}

impl Bucket {
    fn new(per_minute: f64) -> Bucket {
        Bucket {
            per_us: per_minute / 60e6,
            cap: per_minute,
            tokens: per_minute,
            last: 0,
        }
    }

    fn unlimited(&self) -> bool {
        self.cap <= 0.0
    }

    fn refill(&mut self, ts: u64) {
        if self.last != 0 && ts > self.last {
            self.tokens = (self.tokens + (ts - self.last) as f64 * self.per_us).min(self.cap);
        }
        if ts > self.last {
            self.last = ts;
        }
    }

    /// Take a token when at least `floor` (≥ 1) are there.
    fn take(&mut self, floor: f64) -> bool {
        if self.tokens >= floor {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

const TRACED: u8 = 1;
const TRACED_4XX: u8 = 2;
const TRACED_5XX: u8 = 4;

/// An endpoint's sampling state.
#[derive(Debug, Default, Clone, Copy)]
struct Share {
    /// When its next fair-share trace may be taken.
    due: u64,
    /// When a `Head` was last given (0: never).
    head_at: u64,
    /// The minute window it was last seen in, plus one (0: never).
    window: u32,
    flags: u8,
}

// SAFETY: integers only: all zeroes is `Share::default()`.
unsafe impl super::Zeroed for Share {}

/// Time over which the fair rate changes by a factor e.
const ADAPT_US: f64 = 10e6;

pub struct Sampler {
    bucket: Bucket,
    mode: Mode,
    per_minute: f64,
    /// Tokens only (1) and (2) may take.
    reserve: f64,
    /// At least this long between two `Head`s of one endpoint.
    head_gap_us: u64,
    share: Box<[Share]>,
    /// The fair rate, traces a minute per endpoint.
    rate: f64,
    /// When `rate` last changed.
    adapted: u64,
    /// Time of the first decision; minute windows count from it.
    t0: Option<u64>,
    window: u64,
    active_now: u32,
    active_before: u32,
    pub kept: Kept,
}

impl Sampler {
    /// `per_minute` ≤ 0: no limit. `slots`: one state per endpoint slot.
    pub fn new(per_minute: f64, mode: Mode, slots: usize, head_gap_us: u64) -> Sampler {
        Sampler {
            bucket: Bucket::new(per_minute),
            mode,
            per_minute,
            reserve: per_minute / 4.0,
            head_gap_us,
            share: super::zeroed(slots),
            rate: per_minute,
            adapted: 0,
            t0: None,
            window: 0,
            active_now: 0,
            active_before: 0,
            kept: Kept::default(),
        }
    }

    /// Bytes reserved per endpoint slot.
    pub const fn bytes_per_slot() -> usize {
        size_of::<Share>()
    }

    pub fn reserved(&self) -> usize {
        self.share.len() * size_of::<Share>()
    }

    /// A slot now holds a new endpoint.
    pub fn reset(&mut self, slot: u32) {
        self.share[slot as usize] = Share::default();
    }

    /// The fair rate now (traces a minute per endpoint), for tests and stats.
    pub fn fair_rate(&self) -> f64 {
        self.rate
    }

    /// Endpoints seen in the current and the previous minute window.
    pub fn active(&self) -> u32 {
        self.active_now.max(self.active_before).max(1)
    }

    /// Decide at the request head of an exchange of the endpoint in `slot`
    /// at time `ts` (microseconds).
    pub fn request(&mut self, slot: u32, ts: u64) -> Verdict {
        if self.bucket.unlimited() {
            return Verdict::Keep(Reason::Unlimited);
        }
        self.bucket.refill(ts);
        if self.mode == Mode::Uniform {
            return if self.bucket.take(1.0) {
                Verdict::Keep(Reason::Uniform)
            } else {
                Verdict::Pass
            };
        }
        self.note_active(slot, ts);
        self.adapt(ts);
        let interval = self.interval();
        let s = &mut self.share[slot as usize];
        let spare = self.rate >= self.per_minute;
        let reason = if s.flags & TRACED == 0 {
            self.bucket.take(1.0).then_some(Reason::NewEndpoint)
        } else if ts >= s.due || spare {
            self.bucket
                .take(1.0 + self.reserve)
                .then_some(Reason::FairShare)
        } else {
            None
        };
        match reason {
            Some(r) => {
                s.flags |= TRACED;
                s.due = ts.saturating_add(interval);
                match r {
                    Reason::NewEndpoint => self.kept.new_endpoint += 1,
                    _ => self.kept.fair_share += 1,
                }
                Verdict::Keep(r)
            }
            None if s.flags & (TRACED_4XX | TRACED_5XX) != TRACED_4XX | TRACED_5XX
                && (s.head_at == 0 || ts >= s.head_at.saturating_add(self.head_gap_us)) =>
            {
                s.head_at = ts.max(1);
                Verdict::Head
            }
            None => Verdict::Pass,
        }
    }

    /// Decide at the response head (final status `status`, time `ts`) of an
    /// exchange decided `verdict` at its request.
    pub fn response(&mut self, slot: u32, verdict: Verdict, ts: u64, status: u16) -> Late {
        let class = match status {
            400..=499 => TRACED_4XX,
            500..=599 => TRACED_5XX,
            _ => 0,
        };
        match verdict {
            Verdict::Keep(_) => {
                if self.mode == Mode::Endpoints {
                    self.share[slot as usize].flags |= class;
                }
                Late::AsDecided
            }
            Verdict::Pass => Late::AsDecided,
            Verdict::Head => {
                if class == 0 || self.share[slot as usize].flags & class != 0 {
                    return Late::Release;
                }
                self.bucket.refill(ts);
                if !self.bucket.take(1.0) {
                    return Late::Release;
                }
                let interval = self.interval();
                let s = &mut self.share[slot as usize];
                s.flags |= TRACED | class;
                s.due = s.due.max(ts.saturating_add(interval));
                self.kept.new_error += 1;
                Late::Promote
            }
        }
    }

    /// Count the endpoint in its minute window.
    fn note_active(&mut self, slot: u32, ts: u64) {
        let t0 = *self.t0.get_or_insert(ts);
        let w = (ts.saturating_sub(t0) / 60_000_000).max(self.window);
        if w != self.window {
            self.active_before = if w == self.window + 1 {
                self.active_now
            } else {
                0
            };
            self.active_now = 0;
            self.window = w;
        }
        let s = &mut self.share[slot as usize];
        let mark = (w as u32).wrapping_add(1).max(1);
        if s.window != mark {
            s.window = mark;
            self.active_now += 1;
        }
    }

    /// Move the fair rate: up while the bucket is full, down while it is
    /// below half; by at most a factor e per `ADAPT_US`.
    fn adapt(&mut self, ts: u64) {
        let dt = ts.saturating_sub(self.adapted) as f64;
        if self.adapted == 0 || dt <= 0.0 {
            self.adapted = ts;
            return;
        }
        self.adapted = ts;
        let step = 1.0 + (dt / ADAPT_US).min(1.0);
        if self.bucket.tokens >= self.bucket.cap - 1.0 {
            self.rate *= step;
        } else if self.bucket.tokens < 1.0 + self.reserve + self.bucket.cap / 4.0 {
            self.rate /= step;
        }
        let floor = self.per_minute / self.active() as f64;
        self.rate = self.rate.clamp(floor, self.per_minute);
    }

    /// Time between two fair-share traces of one endpoint.
    fn interval(&self) -> u64 {
        (60e6 / self.rate.max(self.per_minute / self.active() as f64)) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000;
    const T0: u64 = 1_714_564_800 * S;

    /// A sampler of `per_minute` for `slots` endpoints, under contention:
    /// two more endpoints (the last two slots) have taken spare tokens just
    /// before `T0` until the bucket fell below half and spare tokens stopped.
    fn contended(per_minute: f64, slots: usize) -> Sampler {
        let mut s = Sampler::new(per_minute, Mode::Endpoints, slots + 2, 0);
        let mut t = T0 - 10_000;
        while matches!(
            s.request((slots + (t % 2) as usize) as u32, t),
            Verdict::Keep(_)
        ) {
            t += 1;
        }
        assert!(s.fair_rate() < per_minute);
        s
    }

    #[test]
    fn spare_tokens_go_to_anyone_until_there_is_contention() {
        // 100/min: a burst of 40 exchanges of two endpoints fits: all
        // traced, as by the plain bucket.
        let mut s = Sampler::new(100.0, Mode::Endpoints, 3, 0);
        let ask = |s: &mut Sampler, i: u64| s.request((i % 2) as u32, T0 + i);
        for i in 0..40 {
            assert!(matches!(ask(&mut s, i), Verdict::Keep(_)), "{i}");
        }
        assert_eq!((s.kept.new_endpoint, s.kept.fair_share), (2, 38));
        // Ten more, and the bucket is below half (51 tokens): the fair rate
        // falls, and each endpoint waits for its share.
        let kept = (40..60)
            .filter(|&i| matches!(ask(&mut s, i), Verdict::Keep(_)))
            .count();
        assert_eq!(kept, 10);
        assert!(s.fair_rate() < 100.0);
        // A new endpoint still has its token.
        assert_eq!(s.request(2, T0 + 61), Verdict::Keep(Reason::NewEndpoint));
        // Quiet for five minutes: the bucket is full, the fair rate back at
        // its most, and spare tokens go to anyone again.
        let t = T0 + 300 * S;
        for i in 0..20 {
            assert!(matches!(s.request(0, t + i), Verdict::Keep(_)), "{i}");
        }
        assert_eq!(s.fair_rate(), 100.0);
    }

    #[test]
    fn one_endpoint_alone_has_the_whole_budget_above_the_reserve() {
        // Its fair share is everything: no contention to wait for.
        let mut s = Sampler::new(100.0, Mode::Endpoints, 1, 0);
        let kept = (0..200)
            .filter(|&i| matches!(s.request(0, T0 + i), Verdict::Keep(_)))
            .count();
        assert_eq!(kept, 75, "down to the reserve of 25");
    }

    #[test]
    fn uniform_is_the_plain_bucket() {
        let mut s = Sampler::new(60.0, Mode::Uniform, 4, 0);
        let ok = (0..100)
            .filter(|i| s.request((i % 4) as u32, T0 + i * 1000) != Verdict::Pass)
            .count();
        assert_eq!(ok, 60);
        assert_eq!(
            s.request(0, T0 + 100_000 + S),
            Verdict::Keep(Reason::Uniform)
        );
        assert_eq!(s.request(0, T0 + 100_000 + S + 1), Verdict::Pass);
        assert_eq!(
            s.response(0, Verdict::Pass, T0 + 2 * S, 500),
            Late::AsDecided
        );
        assert_eq!(s.kept, Kept::default());
    }

    #[test]
    fn no_limit_keeps_everything() {
        let mut s = Sampler::new(0.0, Mode::Endpoints, 1, 0);
        assert!((0..1000).all(|i| s.request(0, T0 + i) == Verdict::Keep(Reason::Unlimited)));
    }

    #[test]
    fn the_reserve_is_for_new_endpoints_and_errors() {
        // 8/min: a reserve of 2 tokens.
        let mut s = Sampler::new(8.0, Mode::Endpoints, 10, 0);
        for e in 0..6 {
            assert_eq!(
                s.request(e, T0 + e as u64),
                Verdict::Keep(Reason::NewEndpoint)
            );
        }
        // Ten seconds on (3.33 tokens), 0 and 1 are due: 0 takes one, 1
        // would dig into the reserve.
        let t = T0 + 10 * S;
        assert_eq!(s.request(0, t), Verdict::Keep(Reason::FairShare));
        assert_eq!(s.request(1, t + 1), Verdict::Head);
        // New endpoints take the reserve, to the last token.
        assert_eq!(s.request(6, t + 2), Verdict::Keep(Reason::NewEndpoint));
        assert_eq!(s.request(7, t + 3), Verdict::Keep(Reason::NewEndpoint));
        assert_eq!(s.request(8, t + 4), Verdict::Head);
        assert_eq!(s.kept.new_endpoint, 8);
        assert_eq!(s.kept.fair_share, 1);
    }

    #[test]
    fn a_head_is_promoted_once_per_error_class() {
        let mut s = contended(10.0, 1);
        assert_eq!(s.request(0, T0), Verdict::Keep(Reason::NewEndpoint));
        assert_eq!(
            s.response(0, Verdict::Keep(Reason::NewEndpoint), T0 + 1, 200),
            Late::AsDecided
        );
        // Not due: passed over, head kept while error classes are open.
        assert_eq!(s.request(0, T0 + 2), Verdict::Head);
        assert_eq!(s.response(0, Verdict::Head, T0 + 3, 200), Late::Release);
        assert_eq!(s.request(0, T0 + 4), Verdict::Head);
        assert_eq!(s.response(0, Verdict::Head, T0 + 5, 503), Late::Promote);
        assert_eq!(s.request(0, T0 + 6), Verdict::Head);
        assert_eq!(
            s.response(0, Verdict::Head, T0 + 7, 500),
            Late::Release,
            "5xx has its trace"
        );
        assert_eq!(s.request(0, T0 + 8), Verdict::Head);
        assert_eq!(s.response(0, Verdict::Head, T0 + 9, 404), Late::Promote);
        // Both classes traced: nothing more to keep heads for.
        assert_eq!(s.request(0, T0 + 10), Verdict::Pass);
        assert_eq!(s.kept.new_error, 2);
    }

    #[test]
    fn a_kept_error_closes_its_pair() {
        let mut s = contended(10.0, 1);
        let v = s.request(0, T0);
        assert_eq!(s.response(0, v, T0 + 1, 404), Late::AsDecided);
        assert_eq!(s.request(0, T0 + 2), Verdict::Head);
        assert_eq!(s.response(0, Verdict::Head, T0 + 3, 404), Late::Release);
        assert_eq!(s.request(0, T0 + 4), Verdict::Head);
        assert_eq!(s.response(0, Verdict::Head, T0 + 5, 500), Late::Promote);
    }

    #[test]
    fn heads_are_spaced_per_endpoint() {
        let mut s = Sampler::new(1.0, Mode::Endpoints, 2, 10_000);
        assert_eq!(s.request(0, T0), Verdict::Keep(Reason::NewEndpoint));
        assert_eq!(s.request(1, T0), Verdict::Head, "no token left");
        assert_eq!(s.request(0, T0 + 100), Verdict::Head, "per endpoint");
        assert_eq!(s.request(0, T0 + 200), Verdict::Pass);
        assert_eq!(s.request(1, T0 + 300), Verdict::Pass);
        assert_eq!(s.request(0, T0 + 10_100), Verdict::Head);
    }

    #[test]
    fn fair_shares_are_equal_among_the_hungry() {
        // 60/min; endpoint 0 asks 50 times a second, endpoint 1 five times,
        // 2 once a second, 3..=12 once a minute each (10/min together).
        let mut s = Sampler::new(60.0, Mode::Endpoints, 13, 0);
        let mut kept = [0u32; 13];
        let minutes = 30;
        for ms in 0..minutes * 60_000u64 {
            let t = T0 + ms * 1000;
            let mut ask = |e: usize| {
                if matches!(s.request(e as u32, t), Verdict::Keep(_)) {
                    kept[e] += 1;
                }
            };
            if ms % 20 == 0 {
                ask(0);
            }
            if ms % 200 == 7 {
                ask(1);
            }
            if ms % 1000 == 11 {
                ask(2);
            }
            if ms % 60_000 >= 13 && ms % 60_000 < 23 {
                ask(3 + (ms % 60_000 - 13) as usize);
            }
        }
        let total: u32 = kept.iter().sum();
        assert!(total as u64 <= 60 * minutes + 60, "{total}");
        // The quiet ones get every exchange traced.
        for (e, &k) in kept.iter().enumerate().skip(3) {
            assert_eq!(k as u64, minutes, "endpoint {e}");
        }
        // The three hungry ones share the other 50/min nearly equally.
        let per_min = |e: usize| kept[e] as f64 / minutes as f64;
        for e in 0..3 {
            assert!((per_min(e) - 50.0 / 3.0).abs() < 3.0, "{e}: {:?}", kept);
        }
    }
}
