//! The exporter: spans queued in a bounded byte buffer, sent in batches by
//! the blocking client (client.rs) when a batch is full or the interval has
//! passed, retried with backoff while the satellite is away, and delivered
//! within the shutdown deadline at the end.

use std::io;
use std::time::{Duration, Instant};

use super::queue::SpanQueue;
use super::{Resource, Rng, envelope, write_span};
use crate::export::{Next, Output, client};
use crate::health::Ago;
use crate::log;
use crate::stats::Stats;
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
}

/// Why a send failed, for logging once per condition.
#[derive(PartialEq, Clone, Debug)]
enum Failure {
    Unreachable,
    Status(i32),
}

pub struct Exporter {
    url: String,
    /// Our client (client.rs), for `http://` and `https://`.
    client: client::Client,
    prefix: Vec<u8>,
    suffix: Vec<u8>,
    /// Spans, each followed by a comma, oldest first.
    queue: SpanQueue,
    batch_cap: usize,
    interval: Duration,
    next_send: Instant,
    retry_at: Option<Instant>,
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
}

/// Time allowed for one POST.
const SEND_TIMEOUT_S: u64 = 3;
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// Bytes of the latest failure's words kept for the health check.
const LAST_ERROR: usize = 160;

impl Exporter {
    pub fn new(
        satellite: &str,
        res: &Resource,
        interval: f64,
        queue_bytes: usize,
        batch_bytes: usize,
    ) -> Result<Exporter, String> {
        let (prefix, suffix) = envelope(res);
        let interval = Duration::from_secs_f64(interval);
        let url = format!("{}/v1/traces", satellite.trim_end_matches('/'));
        let target = crate::url::Target::parse(&url).map_err(|_| {
            format!("'{satellite}' is not an http:// or https:// URL the sensor can send to")
        })?;
        Ok(Exporter {
            url,
            client: client::Client::new(target),
            prefix,
            suffix,
            queue: SpanQueue::new(queue_bytes, queue_bytes / 256 + 16),
            batch_cap: batch_bytes.min(queue_bytes),
            interval,
            next_send: Instant::now() + interval,
            retry_at: None,
            backoff: Duration::from_secs(1),
            failing: None,
            failing_since: None,
            last_error: [0; LAST_ERROR],
            last_error_len: 0,
            counters: Counters::default(),
            rng: Rng::seeded(),
            span: Vec::with_capacity(64 * 1024),
            attempt_timeout: SEND_TIMEOUT_S,
        })
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
        self.span = span;
        if self.queue.bytes() >= self.batch_cap {
            self.send_due(Instant::now(), false);
        }
    }

    /// Send what is due. `force`: ignore the interval (shutdown).
    fn send_due(&mut self, now: Instant, force: bool) {
        for _ in 0..4 {
            if self.queue.is_empty() {
                self.next_send = now + self.interval;
                return;
            }
            if let Some(r) = self.retry_at
                && now < r
                && !force
            {
                return;
            }
            let full = self.queue.bytes() >= self.batch_cap;
            if !(force || full || now >= self.next_send) {
                return;
            }
            if !self.send_one() {
                return;
            }
            if !full && !force {
                self.next_send = now + self.interval;
                return;
            }
        }
    }

    /// POST one batch. True when it was delivered (or dropped for good).
    fn send_one(&mut self) -> bool {
        let (n, spans) = self.queue.front(self.batch_cap);
        // The request body, in place: the envelope around the oldest spans
        // (without the last comma).
        let parts = [
            &self.prefix[..],
            &spans[..spans.len() - 1],
            &self.suffix[..],
        ];
        let timeout = Duration::from_secs(self.attempt_timeout.max(1));
        // (status, the start of the answer's body when it is not a success)
        let answer = |status: i32, body: &[u8]| {
            let ok = (200..300).contains(&status);
            (status, if ok { String::new() } else { snippet(body) })
        };
        let r = self
            .client
            .post(HEADERS, &parts, Instant::now() + timeout)
            .map(|a| answer(a.status as i32, a.body))
            .map_err(|e| e.to_string());
        match r {
            Ok((status, _)) if (200..300).contains(&status) => {
                self.counters.exported += n as u64;
                self.counters.export_batches += 1;
                self.queue.pop(n);
                self.retry_at = None;
                self.backoff = Duration::from_secs(1);
                self.failing_since = None;
                if self.failing.take().is_some() {
                    log::info(&format!("satellite {} accepts traces again", self.url));
                }
                true
            }
            Ok((status, body)) if status == 429 || status >= 500 => {
                self.fail(Failure::Status(status), &format!("HTTP {status}: {body}"));
                false
            }
            Ok((status, body)) => {
                // The satellite will never take this batch: drop it, say so once.
                self.counters.export_failures += 1;
                self.counters.export_dropped += n as u64;
                let f = Failure::Status(status);
                self.note(&body);
                if self.failing.as_ref() != Some(&f) {
                    log::error(&format!(
                        "satellite {} rejected a batch of {n} traces with HTTP {status}: {body} (batch dropped)",
                        self.url,
                    ));
                    self.failing = Some(f);
                }
                self.queue.pop(n);
                true
            }
            Err(e) => {
                self.fail(Failure::Unreachable, &e);
                false
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

    fn fail(&mut self, f: Failure, detail: &str) {
        self.counters.export_failures += 1;
        self.note(detail);
        // Once per outage, whatever mix of errors it shows.
        if self.failing.is_none() {
            log::warn(&format!(
                "cannot deliver traces to {}: {detail} (retrying with backoff; {} traces queued, oldest dropped past --export-queue-mb)",
                self.url,
                self.queue.len()
            ));
            self.failing = Some(f);
        }
        let jitter = 0.8 + (self.rng.next_u64() % 400) as f64 / 1000.0;
        self.retry_at = Some(Instant::now() + self.backoff.mul_f64(jitter));
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
    }
}

impl Output for Exporter {
    /// Queue the trace's span; the satellite being away never stops the
    /// capture (spans wait, the oldest dropped past the queue's size).
    fn write(&mut self, v: &View) -> Next {
        self.push(v);
        Next::Continue(())
    }

    fn reserved(&self) -> usize {
        self.queue.reserved() + self.span.capacity() + self.client.reserved()
    }

    fn tick(&mut self, now: Instant) {
        self.send_due(now, false);
    }

    /// When the next send could happen (for the capture loop's poll timeout).
    fn due(&self) -> Option<Instant> {
        if self.queue.is_empty() {
            return None;
        }
        Some(self.retry_at.unwrap_or(self.next_send))
    }

    /// Deliver queued traces, retrying within `deadline`; what is left is
    /// dropped and counted.
    fn finish(&mut self, deadline: Instant) -> io::Result<()> {
        while !self.queue.is_empty() && Instant::now() < deadline {
            let left = deadline.saturating_duration_since(Instant::now()).as_secs();
            if left == 0 {
                break; // not even a second left for one more attempt
            }
            self.attempt_timeout = left.min(3);
            let before = self.queue.len();
            self.send_due(Instant::now(), true);
            if self.queue.len() == before {
                // Not delivered: wait for the backoff, within the deadline.
                let wait = deadline
                    .saturating_duration_since(Instant::now())
                    .min(Duration::from_millis(200));
                std::thread::sleep(wait);
            }
        }
        if !self.queue.is_empty() {
            self.counters.export_dropped += self.queue.len() as u64;
            log::warn(&format!(
                "shutdown: {} traces could not be delivered in time and are dropped",
                self.queue.len()
            ));
        }
        Ok(())
    }

    /// The satellite's state: delivering, or failing since when and why
    /// (an outage is reported, the sensor stays healthy).
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
    }

    fn report(&self, st: &mut Stats) {
        let c = &self.counters;
        st.exported = c.exported;
        st.export_batches = c.export_batches;
        st.export_failures = c.export_failures;
        st.export_dropped = c.export_dropped;
        st.export_truncated = c.export_truncated;
    }
}

/// Header lines of every request (besides Host and Content-Length).
const HEADERS: &str = concat!(
    "Content-Type: application/json\r\nUser-Agent: pcap-sensor/",
    env!("CARGO_PKG_VERSION"),
    "\r\n"
);

/// The start of an answer's body, on one line, for a log message.
fn snippet(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(&b[..b.len().min(200)]);
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
