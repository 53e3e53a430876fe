//! The exporter: spans queued in a bounded byte buffer, sent in batches by
//! the client (client.rs) when a batch is full or the interval has passed,
//! and delivered within the shutdown deadline at the end.
//!
//! While the satellite fails, what happens depends on how:
//! - it cannot be reached (connection refused, no route, a connect that
//!   times out, a name that does not resolve): a connect is tried every
//!   [`PROBE_EVERY`] (a socket and a SYN, nothing sent), without waiting on
//!   the capture thread (the loop polls the socket), and the oldest batch
//!   leaves as soon as one is made. A satellite that comes back is found
//!   within that period; one that stays away costs a connect attempt per
//!   period.
//! - it answers, but with 429 or 5xx, or fails the request once connected
//!   (times out, resets): it is protecting itself, or broken in a way a
//!   connect does not show, so the batch is tried again after a backoff
//!   (1 s doubling to 60 s, with jitter).
//!
//! Without a spool, spans wait in the queue (`--export-queue-mb`) and the
//! oldest are dropped, and counted, past it. With one (`--spool-dir`), every
//! batch that falls due while the satellite fails goes to a file instead
//! (spool.rs), so the queue holds about one batch, and a crash or restart
//! loses no more; once the satellite takes traces again the spool is sent
//! first, oldest first, and batches that fall due before it is empty join
//! its end: every trace leaves in the order it was queued. Sending from the
//! spool takes at most half of the capture thread's time (after a batch
//! that took d, the next waits d), so the capture keeps up with the
//! traffic while a backlog leaves.
//!
//! The stats line's counters (metrics.rs) go to `/v1/metrics` on the same
//! connection, never ahead of traces: a body written at a stats line makes
//! the queue's batch due, and leaves once the queue is empty and no batch
//! from the spool is due. It is tried once: a failure (or the satellite
//! being down meanwhile) drops that body and counts it
//! (`metrics_failures`); the next is cumulative anyway. A request that
//! fails once sent (a satellite that takes traces but hangs on metrics) is
//! not tried again for a minute, doubling to 16 (its timeout held the
//! capture thread). Nothing else about the traces' delivery depends on it.

use std::io;
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

use super::metrics::{self, Metrics};
use super::queue::SpanQueue;
use super::spool::Spool;
use super::{Resource, Rng, envelope, write_span};
use crate::export::client::{self, Connect};
use crate::export::{Next, Output};
use crate::health::Ago;
use crate::log;
use crate::stats::{SpoolStats, Stats};
use crate::view::View;

/// Counters of the delivery path.
#[derive(Default, Debug, Clone)]
struct Counters {
    pub exported: u64,
    pub export_batches: u64,
    pub export_failures: u64,
    pub export_dropped: u64,
    /// Spans whose bodies were cut to fit in a batch.
    pub export_truncated: u64,
    /// Metrics bodies that did not reach the satellite.
    pub metrics_failures: u64,
}

/// Why deliveries fail, for logging once per outage and for what is tried
/// next.
#[derive(PartialEq, Clone, Copy, Debug)]
enum Failure {
    /// No connection can be made: probe.
    Unreachable,
    /// The satellite answered with this status (429, 5xx).
    Status(i32),
    /// The request failed on a connection that was made (timeout, reset).
    Request,
}

/// Time allowed for one POST.
const SEND_TIMEOUT_S: u64 = 3;
/// Time allowed for a connect made to send a batch.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// While the satellite cannot be reached: a connect is tried this often...
pub const PROBE_EVERY: Duration = Duration::from_millis(250);
/// ...and given this long (a SYN the kernel has to send again takes 1 s).
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// Bytes of the latest failure's words kept for the health check.
const LAST_ERROR: usize = 160;
/// Batches sent (or spooled) per tick at most.
const PER_TICK: usize = 4;
/// The span scratch buffer's usual size; it may hold up to a batch, and
/// shrinks back to this after a trace larger than that.
const SPAN_ROOM: usize = 64 * 1024;

/// Where the next batch comes from.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Origin {
    Spool,
    Queue,
}

pub struct Exporter {
    url: String,
    /// Our client (client.rs), for `http://` and `https://`.
    client: client::Client,
    prefix: Vec<u8>,
    suffix: Vec<u8>,
    /// Spans, each followed by a comma, oldest first.
    queue: SpanQueue,
    /// Older batches than the queue's, on disk (`--spool-dir`).
    spool: Option<Spool>,
    batch_cap: usize,
    interval: Duration,
    next_send: Instant,
    /// No attempt (connect or send) before this time: a backoff, or the
    /// next probe.
    hold: Option<Instant>,
    /// No batch from the spool before this time: sending from the spool
    /// takes at most half of the capture thread's time, so that the capture
    /// keeps up (the kernel's buffer does not overflow) while a backlog
    /// leaves.
    replay_at: Instant,
    backoff: Duration,
    failing: Option<Failure>,
    /// Since when sends fail, and the latest failure's words (for the
    /// health check; in place, cut to fit).
    failing_since: Option<Instant>,
    last_error: [u8; LAST_ERROR],
    last_error_len: usize,
    counters: Counters,
    rng: Rng,
    span: Vec<u8>,
    /// Seconds one POST may take (lowered near a shutdown deadline).
    attempt_timeout: u64,
    /// Wait for connects (a recording: waiting holds up nothing but the
    /// reading, and not waiting would let it fill the queue meanwhile).
    wait_connects: bool,
    /// The latest stats line's counters, for `/v1/metrics`.
    metrics: Metrics,
}

impl Exporter {
    pub fn new(
        satellite: &str,
        res: &Resource,
        interval: f64,
        queue_bytes: usize,
        batch_bytes: usize,
        spool: Option<Spool>,
    ) -> Result<Exporter, String> {
        let (prefix, suffix) = envelope(res);
        let interval = Duration::from_secs_f64(interval);
        let url = format!("{}/v1/traces", satellite.trim_end_matches('/'));
        let bad =
            |_| format!("'{satellite}' is not an http:// or https:// URL the sensor can send to");
        let target = crate::url::Target::parse(&url).map_err(bad)?;
        let metrics_url = format!("{}/v1/metrics", satellite.trim_end_matches('/'));
        let metrics_path = crate::url::Target::parse(&metrics_url).map_err(bad)?.path;
        // The fields of the stats lines to come (the spool's with one).
        let fields = Stats {
            spool: spool.as_ref().map(|_| SpoolStats::default()),
            ..Stats::default()
        }
        .fields();
        Ok(Exporter {
            url,
            client: client::Client::new(target),
            prefix,
            suffix,
            queue: SpanQueue::new(queue_bytes, queue_bytes / 256 + 16),
            spool,
            batch_cap: batch_bytes.min(queue_bytes),
            interval,
            next_send: Instant::now() + interval,
            hold: None,
            replay_at: Instant::now(),
            backoff: Duration::from_secs(1),
            failing: None,
            failing_since: None,
            last_error: [0; LAST_ERROR],
            last_error_len: 0,
            counters: Counters::default(),
            rng: Rng::seeded(),
            span: Vec::with_capacity(SPAN_ROOM),
            attempt_timeout: SEND_TIMEOUT_S,
            wait_connects: false,
            metrics: Metrics::new(res, &fields, metrics_path),
        })
    }

    /// Wait for connects instead of polling them from the loop: for a
    /// recording (`-r`), read as fast as batches leave, as before.
    pub fn waiting_for_connects(mut self, on: bool) -> Exporter {
        self.wait_connects = on;
        self
    }

    /// How long to wait for a connect under way at a tick.
    fn connect_wait(&self) -> Duration {
        if self.wait_connects {
            self.client.pending_deadline().map_or(Duration::ZERO, |d| {
                d.saturating_duration_since(Instant::now())
            })
        } else {
            Duration::ZERO
        }
    }

    /// The largest batch, for sizing the spool's read buffer.
    pub fn batch_bytes(batch_bytes: usize, queue_bytes: usize) -> usize {
        batch_bytes.min(queue_bytes)
    }

    /// Queue the span of `v`; the oldest spans make room when the queue is
    /// full. A full batch goes out at once (unless sending is held back by a
    /// failure): the queue then holds little more than one batch, and what a
    /// send leaves behind is small to move.
    fn push(&mut self, v: &View) {
        let mut span = std::mem::take(&mut self.span);
        span.clear();
        let mut text = write_span(&mut span, v, &mut self.rng, usize::MAX);
        if span.len() > self.batch_cap && text > 0 {
            // Larger than a batch may be: the bodies are cut (and marked
            // truncated) until it fits, the trace is not lost. Each try
            // shrinks the longest body by what the text has to lose.
            let longest = |b: &crate::view::Body| b.bytes.len();
            let mut limit =
                longest(&v.req.body).max(v.resp.as_ref().map_or(0, |p| longest(&p.body)));
            for _ in 0..8 {
                let rest = span.len() - text;
                if span.len() <= self.batch_cap || rest >= self.batch_cap || limit == 0 {
                    break;
                }
                let room = (self.batch_cap - rest) as u64;
                limit = (limit as u64 * room * 9 / 10 / text as u64) as usize;
                span.clear();
                text = write_span(&mut span, v, &mut self.rng, limit);
            }
            if span.len() <= self.batch_cap {
                self.counters.export_truncated += 1;
            }
        }
        if span.len() > self.batch_cap {
            // Still larger than a batch (its heads alone): it can never be sent.
            self.counters.export_dropped += 1;
        } else {
            self.counters.export_dropped += self.queue.push(&span) as u64;
        }
        if span.capacity() > SPAN_ROOM.max(self.batch_cap) {
            // A trace far larger than usual (escaped bodies can be several
            // times their size): give the memory back.
            span.clear();
            span.shrink_to(SPAN_ROOM);
        }
        self.span = span;
        if self.queue.bytes() >= self.batch_cap {
            self.send_due(Instant::now(), false);
        }
    }

    fn spool_empty(&self) -> bool {
        self.spool.as_ref().is_none_or(Spool::is_empty)
    }

    /// Nothing waits for the satellite.
    fn idle(&self) -> bool {
        self.queue.is_empty() && self.spool_empty()
    }

    /// Is the satellite failing in a way that holds batches back (not a
    /// batch it rejected for good)?
    fn down(&self) -> bool {
        match self.failing {
            Some(Failure::Status(s)) => s == 429 || s >= 500,
            Some(_) => true,
            None => false,
        }
    }

    /// May a connect or a send be tried at `now`?
    fn allowed(&self, now: Instant, force: bool) -> bool {
        force || self.hold.is_none_or(|h| now >= h)
    }

    /// Is a batch due: one from the spool (when its turn has come), a full
    /// one, or the interval passed?
    fn due_now(&self, now: Instant, force: bool) -> bool {
        if !self.spool_empty() {
            return force || now >= self.replay_at;
        }
        // (metrics waiting: the traces queued before them go first)
        !self.queue.is_empty()
            && (force
                || self.queue.bytes() >= self.batch_cap
                || now >= self.next_send
                || self.metrics.pending)
    }

    /// Send what is due, or probe, or (with a spool, while failing) set it
    /// aside. `force`: ignore the interval and any backoff (shutdown).
    fn send_due(&mut self, now: Instant, force: bool) {
        for _ in 0..PER_TICK {
            if self.idle() {
                self.next_send = now + self.interval;
                return;
            }
            // A connection under way: see how it stands, without waiting
            // (but for a recording).
            if self.client.connecting() {
                match self.client.poll(self.connect_wait()) {
                    Connect::Pending => return self.set_aside(now),
                    Connect::Failed(e) => {
                        self.unreachable(now, &e);
                        return self.set_aside(now);
                    }
                    Connect::Ready => {}
                }
            }
            if !self.allowed(now, force) {
                return self.set_aside(now);
            }
            let due = self.due_now(now, force);
            // While unreachable, a connect is tried whatever is due: the
            // probe. Otherwise only for a batch that is due.
            let probe = self.failing == Some(Failure::Unreachable) && !self.client.has_conn();
            if !(due || probe) {
                // (a full batch joins a spool that is not sending yet)
                return self.set_aside(now);
            }
            if !self.client.ready() {
                let timeout = if self.down() && !force {
                    PROBE_TIMEOUT
                } else {
                    CONNECT_TIMEOUT.min(Duration::from_secs(self.attempt_timeout.max(1)))
                };
                if let Err(e) = self.client.begin(now + timeout) {
                    self.unreachable(now, &e);
                    return self.set_aside(now);
                }
                match self.client.poll(self.connect_wait()) {
                    Connect::Pending => return self.set_aside(now),
                    Connect::Failed(e) => {
                        self.unreachable(now, &e);
                        return self.set_aside(now);
                    }
                    Connect::Ready => {}
                }
            }
            if !due {
                return self.set_aside(now);
            }
            let (from, full) = match self.send_one() {
                Sent::Done(from, full) => (from, full),
                Sent::Reconnect => continue,
                Sent::Failed => return self.set_aside(now),
            };
            if from == Origin::Queue && !full && !force {
                self.next_send = now + self.interval;
                return;
            }
        }
    }

    /// With a spool: while the satellite fails, a batch that is due goes to
    /// a file; and while the spool holds batches, a full batch of the queue
    /// joins them (so that traces leave in order, and the queue stays
    /// small).
    fn set_aside(&mut self, now: Instant) {
        let down = self.down();
        let Some(spool) = self.spool.as_mut() else {
            return;
        };
        for _ in 0..PER_TICK {
            if self.queue.is_empty() {
                return;
            }
            let full = self.queue.bytes() >= self.batch_cap;
            let due = full || now >= self.next_send;
            if !(due && (down || (full && !spool.is_empty()))) {
                return;
            }
            let (n, spans) = self.queue.front(self.batch_cap);
            if !spool.write(n as u32, spans) {
                return;
            }
            self.queue.pop(n);
            if !full {
                self.next_send = now + self.interval;
            }
        }
    }

    /// POST the oldest batch: the spool's front, else the queue's.
    fn send_one(&mut self) -> Sent {
        let from = if self.spool_empty() {
            Origin::Queue
        } else {
            Origin::Spool
        };
        let full = self.queue.bytes() >= self.batch_cap;
        let (n, spans): (usize, &[u8]) = match from {
            Origin::Queue => self.queue.front(self.batch_cap),
            Origin::Spool => match self.spool.as_mut().and_then(Spool::front) {
                Some((n, spans)) => (n as usize, spans),
                // Only corrupt files were left: nothing to send from there.
                None => return Sent::Reconnect,
            },
        };
        // The request body, in place: the envelope around the oldest spans
        // (without the last comma).
        let parts = [
            &self.prefix[..],
            &spans[..spans.len() - 1],
            &self.suffix[..],
        ];
        let timeout = Duration::from_secs(self.attempt_timeout.max(1));
        let t0 = Instant::now();
        // (status, the start of the answer's body when it is not a success)
        let answer = |status: i32, body: &[u8]| {
            let ok = (200..300).contains(&status);
            (status, if ok { String::new() } else { snippet(body) })
        };
        let r = self
            .client
            .post(HEADERS, &parts, Instant::now() + timeout)
            .map(|a| answer(a.status as i32, a.body));
        let now = Instant::now();
        if from == Origin::Spool {
            // As long again for the capture before the next one.
            self.replay_at = now + (now - t0);
        }
        match r {
            Ok((status, _)) if (200..300).contains(&status) => {
                self.counters.exported += n as u64;
                self.counters.export_batches += 1;
                self.taken(from, n);
                self.hold = None;
                self.backoff = Duration::from_secs(1);
                self.failing_since = None;
                if self.failing.take().is_some() {
                    log::info(&format!("satellite {} accepts traces again", self.url));
                }
                Sent::Done(from, full)
            }
            Ok((status, body)) if status == 429 || status >= 500 => {
                self.fail(
                    now,
                    Failure::Status(status),
                    &format!("HTTP {status}: {body}"),
                );
                Sent::Failed
            }
            Ok((status, body)) => {
                // The satellite will never take this batch: drop it, say so once.
                self.counters.export_failures += 1;
                self.counters.export_dropped += n as u64;
                let f = Failure::Status(status);
                self.note(&body);
                if self.failing != Some(f) {
                    log::error(&format!(
                        "satellite {} rejected a batch of {n} traces with HTTP {status}: {body} (batch dropped)",
                        self.url,
                    ));
                    self.failing = Some(f);
                }
                match from {
                    Origin::Queue => self.queue.pop(n),
                    Origin::Spool => {
                        self.spool.as_mut().map(Spool::reject);
                    }
                }
                Sent::Done(from, full)
            }
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Sent::Reconnect,
            Err(e) => {
                self.fail(now, Failure::Request, &e.to_string());
                Sent::Failed
            }
        }
    }

    /// Keep `detail` as the latest failure's words, and since when sends fail.
    fn note(&mut self, detail: &str) {
        self.failing_since.get_or_insert_with(Instant::now);
        let mut end = detail.len().min(LAST_ERROR);
        while !detail.is_char_boundary(end) {
            end -= 1;
        }
        self.last_error[..end].copy_from_slice(&detail.as_bytes()[..end]);
        self.last_error_len = end;
    }

    /// The satellite accepted `n` traces from `from`.
    fn taken(&mut self, from: Origin, n: usize) {
        match from {
            Origin::Queue => self.queue.pop(n),
            Origin::Spool => {
                if let Some(s) = self.spool.as_mut() {
                    s.commit();
                }
            }
        }
    }

    /// A connect failed: probe again after [`PROBE_EVERY`].
    fn unreachable(&mut self, now: Instant, e: &io::Error) {
        self.counters.export_failures += 1;
        self.warn_once(Failure::Unreachable, &e.to_string());
        // A little jitter, so that sensors started together spread out.
        let jitter = 0.9 + (self.rng.next_u64() % 200) as f64 / 1000.0;
        self.hold = Some(now + PROBE_EVERY.mul_f64(jitter));
    }

    /// The satellite answered with an error, or the request failed on a
    /// connection that was made: back off.
    fn fail(&mut self, now: Instant, f: Failure, detail: &str) {
        self.counters.export_failures += 1;
        self.warn_once(f, detail);
        let jitter = 0.8 + (self.rng.next_u64() % 400) as f64 / 1000.0;
        self.hold = Some(now + self.backoff.mul_f64(jitter));
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
    }

    /// Once per outage, whatever mix of errors it shows; the failure in
    /// force is `f` from now on.
    fn warn_once(&mut self, f: Failure, detail: &str) {
        self.note(detail);
        if self.failing.is_none() {
            let how = match f {
                Failure::Unreachable => format!(
                    "checking every {} ms whether it is back",
                    PROBE_EVERY.as_millis()
                ),
                _ => "retrying with backoff".to_string(),
            };
            let keep = match &self.spool {
                Some(s) => format!("batches go to the spool in {}", s.dir().display()),
                None => "oldest dropped past --export-queue-mb".to_string(),
            };
            log::warn(&format!(
                "cannot deliver traces to {}: {detail} ({how}; {} traces queued, {keep})",
                self.url,
                self.queue.len()
            ));
        }
        self.failing = Some(f);
    }
}

impl Exporter {
    /// POST the latest metrics body, if one waits and no trace batch is due
    /// before it; otherwise leave it for a later tick (a connect under way,
    /// the queue's batch not gone yet), or drop it while the satellite is
    /// down. With nothing queued while the satellite was failing, the hold
    /// (probe period or backoff) having passed, it is tried: no batch would
    /// find out meanwhile that the satellite is back.
    fn send_metrics(&mut self, now: Instant) {
        if !self.metrics.pending {
            return;
        }
        if self.down() && !(self.idle() && self.allowed(now, false)) {
            return self.drop_metrics(None);
        }
        if self.metrics.hold.is_some_and(|h| now < h) {
            return self.drop_metrics(None);
        }
        if !self.queue.is_empty() || (!self.spool_empty() && now >= self.replay_at) {
            return; // traces first (their batch is due: see due_now)
        }
        if !self.client.connecting()
            && !self.client.ready()
            && let Err(e) = self.client.begin(now + CONNECT_TIMEOUT)
        {
            return self.drop_metrics(Some(&e.to_string()));
        }
        if self.client.connecting() {
            match self.client.poll(Duration::ZERO) {
                Connect::Pending => return,
                Connect::Failed(e) => return self.drop_metrics(Some(&e.to_string())),
                Connect::Ready => {}
            }
        }
        let timeout = Duration::from_secs(self.attempt_timeout.max(1));
        let m = &self.metrics;
        let r = self
            .client
            .post_to(Some(&m.path), HEADERS, &[m.body()], now + timeout)
            .map(|a| (a.status, answer_of(a.status, a.body)));
        match r {
            Ok((status, _)) if (200..300).contains(&status) => self.metrics_sent(),
            Ok((status, body)) => self.drop_metrics(Some(&format!("HTTP {status}: {body}"))),
            // A kept-alive connection the satellite had closed: a new one
            // at the next tick.
            Err(e) if e.kind() == io::ErrorKind::NotConnected => {}
            Err(e) => {
                // It may have taken the whole timeout: not again for a while.
                let m = &mut self.metrics;
                m.hold = Some(Instant::now() + m.backoff);
                let held = m.backoff;
                m.backoff = (m.backoff * 2).min(metrics::HOLD_MAX);
                self.drop_metrics(Some(&format!(
                    "{e}; the next metrics in {} s",
                    held.as_secs()
                )));
            }
        }
    }

    fn metrics_sent(&mut self) {
        self.metrics.pending = false;
        self.metrics.hold = None;
        self.metrics.backoff = metrics::HOLD_FIRST;
        if self.metrics.failing {
            self.metrics.failing = false;
            log::info(&format!(
                "satellite {} accepts metrics again",
                self.metrics_url()
            ));
        }
    }

    /// The metrics body waiting will not leave: count it; say why (`why`),
    /// once until one is delivered. None: the satellite is down, which the
    /// traces' warning has said.
    fn drop_metrics(&mut self, why: Option<&str>) {
        self.metrics.pending = false;
        self.counters.metrics_failures += 1;
        if let Some(why) = why
            && !self.metrics.failing
        {
            self.metrics.failing = true;
            log::warn(&format!(
                "cannot deliver metrics to {}: {why} (each interval's metrics are tried once, \
                 then dropped and counted in metrics_failures; traces are not affected)",
                self.metrics_url()
            ));
        }
    }

    fn metrics_url(&self) -> String {
        format!("{}/v1/metrics", self.url.trim_end_matches("/v1/traces"))
    }
}

/// What became of a send.
enum Sent {
    /// Delivered, or dropped for good (a 4xx): where it came from, and
    /// whether the queue held a full batch.
    Done(Origin, bool),
    /// There was no usable connection: make one and try again.
    Reconnect,
    /// Not delivered; it stays, and the failure is in force.
    Failed,
}

impl Output for Exporter {
    /// Queue the trace's span; the satellite being away never stops the
    /// capture (spans wait, the oldest dropped past the queue's size).
    fn write(&mut self, v: &View) -> Next {
        self.push(v);
        Next::Continue(())
    }

    /// The queue, the span scratch buffer, the client's buffers (TLS
    /// included) and the spool's read buffer: all that grows while the
    /// satellite is away is in there.
    fn reserved(&self) -> usize {
        self.queue.reserved()
            + self.span.capacity().max(self.batch_cap)
            + self.client.reserved()
            + self.spool.as_ref().map_or(0, Spool::reserved)
            + self.metrics.reserved()
    }

    fn tick(&mut self, now: Instant) {
        self.send_due(now, false);
        self.send_metrics(now);
    }

    /// The counters of a stats line: written as the metrics body (replacing
    /// one that has not left, which is counted), sent when the traces
    /// queued before it have gone.
    fn metrics(&mut self, fields: &[(&'static str, u64)]) {
        if self.metrics.pending {
            self.drop_metrics(None);
        }
        self.metrics.write(fields, metrics::now_ns());
        self.metrics.pending = true;
        self.tick(Instant::now());
    }

    /// The final stats line's counters, after `finish`: sent at once,
    /// waiting for the connect (capture has stopped), unless the satellite
    /// is down (or metrics are held back after a request that failed).
    fn final_metrics(&mut self, fields: &[(&'static str, u64)], deadline: Instant) {
        self.metrics.write(fields, metrics::now_ns());
        self.metrics.pending = true;
        let now = Instant::now();
        if self.down() || self.metrics.hold.is_some_and(|h| now < h) {
            return self.drop_metrics(None);
        }
        // At least a second, at most one attempt's time.
        let until = deadline
            .max(now + Duration::from_secs(1))
            .min(now + Duration::from_secs(SEND_TIMEOUT_S));
        let m = &self.metrics;
        let r = self
            .client
            .post_blocking_to(Some(&m.path), HEADERS, &[m.body()], until)
            .map(|a| (a.status, answer_of(a.status, a.body)));
        match r {
            Ok((status, _)) if (200..300).contains(&status) => self.metrics_sent(),
            Ok((status, body)) => self.drop_metrics(Some(&format!("HTTP {status}: {body}"))),
            Err(e) => self.drop_metrics(Some(&e.to_string())),
        }
        self.client.disconnect();
    }

    /// When the next send, probe or spool write could happen (for the
    /// capture loop's poll timeout).
    fn due(&self) -> Option<Instant> {
        let now = Instant::now();
        let spool_due = !self.spool_empty() && now >= self.replay_at;
        if self.metrics.pending && self.queue.is_empty() && !spool_due {
            // No batch before them: sent (or dropped) at the next tick,
            // unless a connect is under way.
            return Some(self.client.pending_deadline().unwrap_or(now));
        }
        if self.idle() {
            return None;
        }
        if let Some(d) = self.client.pending_deadline() {
            // The loop also wakes when the socket is made (wait_fd).
            return Some(d);
        }
        let next = if self.spool_empty() {
            // (metrics waiting make the queue's batch due: see due_now)
            if self.metrics.pending {
                now
            } else {
                self.next_send
            }
        } else {
            self.replay_at.max(now)
        };
        Some(match self.hold {
            // Held back: the next probe or retry; with a spool, a batch falling
            // due is set aside meanwhile.
            Some(h) if h > now => {
                if self.spool.is_some() && !self.queue.is_empty() {
                    h.min(self.next_send)
                } else {
                    h
                }
            }
            _ if self.failing == Some(Failure::Unreachable) && !self.client.has_conn() => now,
            _ => next,
        })
    }

    fn wait_fd(&self) -> Option<RawFd> {
        self.client.pending_fd()
    }

    /// Deliver queued traces (the spool's first), retrying within
    /// `deadline`; what is left of the queue goes to the spool, or is
    /// dropped and counted without one.
    fn finish(&mut self, deadline: Instant) -> io::Result<()> {
        if self.metrics.pending {
            // The final stats line's body replaces it.
            self.drop_metrics(None);
        }
        while !self.idle() && Instant::now() < deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.as_secs() == 0 {
                break; // not even a second left for one more attempt
            }
            self.attempt_timeout = left.as_secs().min(3);
            if self.client.connecting() {
                // Here the connect may be waited for (capture has stopped).
                if let Connect::Failed(e) = self.client.poll(left.min(Duration::from_millis(200))) {
                    self.unreachable(Instant::now(), &e);
                }
            }
            let before = (
                self.queue.len(),
                self.counters.exported,
                self.counters.export_dropped,
            );
            self.send_due(Instant::now(), true);
            let after = (
                self.queue.len(),
                self.counters.exported,
                self.counters.export_dropped,
            );
            if after == before && !self.client.connecting() {
                // Not delivered: wait a little, within the deadline.
                let wait = deadline
                    .saturating_duration_since(Instant::now())
                    .min(Duration::from_millis(200));
                std::thread::sleep(wait);
            }
        }
        self.client.disconnect();
        if let Some(spool) = self.spool.as_mut() {
            // Kept for the next start, oldest first.
            while !self.queue.is_empty() {
                let (n, spans) = self.queue.front(self.batch_cap);
                if !spool.write(n as u32, spans) {
                    break;
                }
                self.queue.pop(n);
            }
            if spool.counters().spooled > 0 && !spool.is_empty() {
                log::info(&format!(
                    "shutdown: {} bytes of batches wait in the spool {} for the next start",
                    spool.bytes(),
                    spool.dir().display()
                ));
            }
        }
        if !self.queue.is_empty() {
            self.counters.export_dropped += self.queue.len() as u64;
            log::warn(&format!(
                "shutdown: {} traces could not be delivered in time and are dropped",
                self.queue.len()
            ));
            self.queue.pop(self.queue.len());
        }
        Ok(())
    }

    /// The satellite's state: delivering, or failing since when and why
    /// (an outage is reported, the sensor stays healthy); what waits in the
    /// queue, and in the spool when it holds anything.
    fn health(&self, out: &mut dyn std::fmt::Write) {
        let url = self.url.trim_end_matches("/v1/traces");
        let queued = self.queue.len();
        // Whole characters only were kept (see note).
        let why = std::str::from_utf8(&self.last_error[..self.last_error_len]).unwrap_or("");
        let _ = match (&self.failing, self.failing_since) {
            (Some(Failure::Status(s)), Some(t)) if *s != 429 && *s < 500 => write!(
                out,
                "; satellite {url} rejects batches (HTTP {s}: {why}) since {} ago, {queued} queued",
                Ago(t.elapsed())
            ),
            (Some(_), Some(t)) => write!(
                out,
                "; satellite {url} failing for {} ({why}), {queued} queued",
                Ago(t.elapsed()),
            ),
            _ => write!(
                out,
                "; satellite {url}: {} traces delivered, {queued} queued",
                self.counters.exported
            ),
        };
        // With a spool, what waits on disk too.
        if let Some(s) = self.spool.as_ref().filter(|s| !s.is_empty()) {
            let _ = write!(out, ", {} bytes spooled", s.bytes());
        }
    }

    fn report(&self, st: &mut Stats) {
        let c = &self.counters;
        st.exported = c.exported;
        st.export_batches = c.export_batches;
        st.export_failures = c.export_failures;
        st.export_dropped = c.export_dropped;
        st.export_truncated = c.export_truncated;
        st.export_queued = self.queue.len() as u64;
        st.metrics_failures = c.metrics_failures;
        st.spool = self.spool.as_ref().map(|s| {
            let c = s.counters();
            SpoolStats {
                spooled: c.spooled,
                replayed: c.replayed,
                spool_dropped: c.dropped,
                spool_corrupt: c.corrupt,
                spool_bytes: s.bytes(),
            }
        });
    }
}

/// Header lines of every request (besides Host and Content-Length).
const HEADERS: &str = concat!(
    "Content-Type: application/json\r\nUser-Agent: pcap-sensor/",
    env!("CARGO_PKG_VERSION"),
    "\r\n"
);

/// What a log message says of an answer that is not a success: the start
/// of its body (nothing is made of a success).
fn answer_of(status: u16, body: &[u8]) -> String {
    if (200..300).contains(&status) {
        String::new()
    } else {
        snippet(body)
    }
}

/// The start of an answer's body, on one line, for a log message.
fn snippet(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(&b[..b.len().min(200)]);
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
