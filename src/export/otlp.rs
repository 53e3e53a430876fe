//! OTLP/HTTP JSON export to the satellite: spans queued in a bounded byte
//! buffer, sent in batches with a blocking client, retried with backoff.

use std::io::{self, Write};
use std::time::{Duration, Instant};

use super::http1;
use super::queue::SpanQueue;
use crate::log;
use crate::trace::{IpText, body_str, json_str, json_str_parts, put_u64};
use crate::view::{Header, View};

/// A resource attribute value.
pub enum Value {
    Str(String),
    Int(i64),
}

/// What describes the sensor and its task, sent with every batch.
pub struct Resource {
    pub attrs: Vec<(&'static str, Value)>,
}

/// Counters of the delivery path.
#[derive(Default, Debug, Clone)]
pub struct Counters {
    pub exported: u64,
    pub export_batches: u64,
    pub export_failures: u64,
    pub export_dropped: u64,
}

/// A tiny PRNG for ids and jitter (not for secrets).
pub struct Rng(u64);

impl Rng {
    pub fn seeded() -> Rng {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        Rng(t ^ ((std::process::id() as u64) << 32) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        // xorshift64*
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

fn attr_key(out: &mut Vec<u8>, key: &[u8]) {
    attr_key2(out, key, b"");
}

/// An attribute key made of two parts (e.g. a prefix and a header name).
fn attr_key2(out: &mut Vec<u8>, a: &[u8], b: &[u8]) {
    out.extend_from_slice(b"{\"key\":");
    json_str_parts(out, &[a, b]);
    out.extend_from_slice(b",\"value\":");
}

fn attr_str(out: &mut Vec<u8>, key: &str, v: &[u8]) {
    attr_str2(out, key, "", v);
}

fn attr_str2(out: &mut Vec<u8>, key: &str, suffix: &str, v: &[u8]) {
    attr_key2(out, key.as_bytes(), suffix.as_bytes());
    out.extend_from_slice(b"{\"stringValue\":");
    json_str(out, v);
    out.extend_from_slice(b"}},");
}

fn attr_int(out: &mut Vec<u8>, key: &str, v: i64) {
    attr_int2(out, key, "", v);
}

fn attr_int2(out: &mut Vec<u8>, key: &str, suffix: &str, v: i64) {
    attr_key2(out, key.as_bytes(), suffix.as_bytes());
    out.extend_from_slice(b"{\"intValue\":\"");
    if v < 0 {
        out.push(b'-');
    }
    put_u64(out, v.unsigned_abs());
    out.extend_from_slice(b"\"}},");
}

fn attr_true(out: &mut Vec<u8>, key: &str, suffix: &str) {
    attr_key2(out, key.as_bytes(), suffix.as_bytes());
    out.extend_from_slice(b"{\"boolValue\":true}},");
}

/// `prefix.<lowercased name>` = every value of that header, in order.
fn attr_headers(out: &mut Vec<u8>, prefix: &str, hs: &[Header<'_>]) {
    for (i, (name, _)) in hs.iter().enumerate() {
        if hs[..i].iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
            continue; // grouped with its first occurrence
        }
        // Lowercased in place after writing (header names are ASCII tokens).
        let at = out.len();
        attr_key2(out, prefix.as_bytes(), name.as_bytes());
        out[at..].make_ascii_lowercase();
        out.extend_from_slice(b"{\"arrayValue\":{\"values\":[");
        let mut first = true;
        for (_, v) in hs[i..].iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)) {
            if !first {
                out.push(b',');
            }
            first = false;
            out.extend_from_slice(b"{\"stringValue\":");
            json_str(out, v);
            out.push(b'}');
        }
        out.extend_from_slice(b"]}}},");
    }
}

fn hex(out: &mut Vec<u8>, bytes: &[u8]) {
    const H: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(H[(b >> 4) as usize]);
        out.push(H[(b & 15) as usize]);
    }
}

/// `00-<trace id>-<parent id>-<flags>` → (trace id, parent span id), lowercase hex.
fn traceparent(v: &[u8]) -> Option<(&[u8], &[u8])> {
    let v = v.trim_ascii();
    if v.len() < 55 || v[2] != b'-' || v[35] != b'-' || v[52] != b'-' {
        return None;
    }
    let (t, p) = (&v[3..35], &v[36..52]);
    let ok = |s: &[u8]| s.iter().all(|c| c.is_ascii_hexdigit()) && s.iter().any(|&c| c != b'0');
    (ok(t) && ok(p)).then_some((t, p))
}

/// Append one span (followed by a comma) for `v`.
pub fn write_span(out: &mut Vec<u8>, v: &View, rng: &mut Rng) {
    let r = &v.req;
    out.extend_from_slice(b"{\"traceId\":\"");
    let tp = View::header(r.headers, "traceparent").and_then(traceparent);
    match tp {
        Some((t, _)) => out.extend(t.iter().map(|c| c.to_ascii_lowercase())),
        None => {
            hex(out, &rng.next_u64().to_be_bytes());
            hex(out, &rng.next_u64().to_be_bytes());
        }
    }
    out.extend_from_slice(b"\",\"spanId\":\"");
    hex(out, &rng.next_u64().to_be_bytes());
    out.push(b'"');
    if let Some((_, p)) = tp {
        out.extend_from_slice(b",\"parentSpanId\":\"");
        out.extend(p.iter().map(|c| c.to_ascii_lowercase()));
        out.push(b'"');
    }
    out.extend_from_slice(b",\"name\":");
    json_str_parts(out, &[r.method.as_bytes(), b" ", r.path]);
    let _ = write!(
        out,
        ",\"kind\":2,\"startTimeUnixNano\":\"{}\",\"endTimeUnixNano\":\"{}\",\"attributes\":[",
        v.start_us.saturating_mul(1000),
        v.end_us.max(v.start_us).saturating_mul(1000)
    );
    attr_str(out, "http.request.method", r.method.as_bytes());
    attr_str(out, "url.path", r.path);
    if let Some(q) = r.query {
        attr_str(out, "url.query", q);
    }
    attr_str(out, "url.scheme", b"http");
    let server_ip = IpText::new(v.server.0);
    let host = r
        .host
        .and_then(|h| std::str::from_utf8(h).ok())
        .map(crate::policy::host_without_port)
        .filter(|h| !h.is_empty());
    attr_str(
        out,
        "server.address",
        host.map_or(server_ip.as_bytes(), str::as_bytes),
    );
    attr_int(out, "server.port", v.server.1 as i64);
    attr_str(out, "client.address", IpText::new(v.client.0).as_bytes());
    attr_int(out, "client.port", v.client.1 as i64);
    attr_str(out, "network.peer.address", server_ip.as_bytes());
    attr_str(out, "network.protocol.name", b"http");
    attr_str(
        out,
        "network.protocol.version",
        if r.version == 0 { b"1.0" } else { b"1.1" },
    );
    if let Some(ua) = View::header(r.headers, "user-agent") {
        attr_str(out, "user_agent.original", ua);
    }
    attr_headers(out, "http.request.header.", r.headers);
    body_attrs(out, "http.request.body", &r.body);
    if let Some(p) = &v.resp {
        attr_int(out, "http.response.status_code", p.status as i64);
        attr_headers(out, "http.response.header.", p.headers);
        body_attrs(out, "http.response.body", &p.body);
    }
    if out.last() == Some(&b',') {
        out.pop();
    }
    out.extend_from_slice(b"],\"status\":");
    match &v.resp {
        Some(p) if p.status >= 500 => out.extend_from_slice(b"{\"code\":2}"),
        _ => out.extend_from_slice(b"{}"),
    }
    out.extend_from_slice(b"},");
}

fn body_attrs(out: &mut Vec<u8>, key: &str, b: &crate::view::Body) {
    if !b.bytes.is_empty() {
        attr_key(out, key.as_bytes());
        out.extend_from_slice(b"{\"stringValue\":");
        body_str(out, b);
        out.extend_from_slice(b"}},");
        if !b.text {
            attr_str2(out, key, ".encoding", b"base64");
        }
    }
    attr_int2(out, key, ".size", b.size as i64);
    if b.truncated {
        attr_true(out, key, ".truncated");
    }
    if b.decode_error {
        attr_true(out, key, ".decode_error");
    }
}

/// The start and end of every request body around the spans.
fn envelope(res: &Resource) -> (Vec<u8>, Vec<u8>) {
    let mut p = Vec::with_capacity(1024);
    p.extend_from_slice(b"{\"resourceSpans\":[{\"resource\":{\"attributes\":[");
    for (k, v) in &res.attrs {
        match v {
            Value::Str(s) => attr_str(&mut p, k, s.as_bytes()),
            Value::Int(i) => attr_int(&mut p, k, *i),
        }
    }
    if p.last() == Some(&b',') {
        p.pop();
    }
    let _ = write!(
        p,
        "]}},\"scopeSpans\":[{{\"scope\":{{\"name\":\"pcap-sensor\",\"version\":\"{}\"}},\"spans\":[",
        crate::cli::VERSION
    );
    (p, b"]}]}]}".to_vec())
}

/// Why a send failed, for logging once per condition.
#[derive(PartialEq, Clone, Debug)]
enum Failure {
    Unreachable,
    Status(i32),
}

/// How batches travel: our own client for plain `http://` URLs, minreq for
/// `https://` (and for the rare http URL ours does not take, e.g. with
/// credentials in it).
enum Transport {
    Plain(http1::Client),
    Minreq,
}

pub struct Exporter {
    url: String,
    transport: Transport,
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
    pub counters: Counters,
    pub rng: Rng,
    span: Vec<u8>,
    /// Seconds one POST may take (lowered near a shutdown deadline).
    pub attempt_timeout: u64,
}

/// Time allowed for one POST.
const SEND_TIMEOUT_S: u64 = 3;
const MAX_BACKOFF: Duration = Duration::from_secs(60);

impl Exporter {
    pub fn new(
        satellite: &str,
        res: &Resource,
        interval: f64,
        queue_bytes: usize,
        batch_bytes: usize,
    ) -> Exporter {
        let (prefix, suffix) = envelope(res);
        let interval = Duration::from_secs_f64(interval);
        let url = format!("{}/v1/traces", satellite.trim_end_matches('/'));
        let transport = match http1::Target::parse(&url) {
            Some(t) => Transport::Plain(http1::Client::new(t)),
            None => Transport::Minreq,
        };
        Exporter {
            url,
            transport,
            prefix,
            suffix,
            queue: SpanQueue::new(queue_bytes, queue_bytes / 256 + 16),
            batch_cap: batch_bytes.min(queue_bytes),
            interval,
            next_send: Instant::now() + interval,
            retry_at: None,
            backoff: Duration::from_secs(1),
            failing: None,
            counters: Counters::default(),
            rng: Rng::seeded(),
            span: Vec::with_capacity(64 * 1024),
            attempt_timeout: SEND_TIMEOUT_S,
        }
    }

    pub fn reserved(&self) -> usize {
        let client = match &self.transport {
            Transport::Plain(c) => c.reserved(),
            // minreq copies the batch into a request of its own.
            Transport::Minreq => 2 * self.batch_cap,
        };
        self.queue.reserved() + self.span.capacity() + client
    }

    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Queue the span of `v`; the oldest spans make room when the queue is
    /// full. A full batch goes out at once (unless sending is held back by a
    /// failure): the queue then holds little more than one batch, and what a
    /// send leaves behind is small to move.
    pub fn push(&mut self, v: &View) {
        let mut span = std::mem::take(&mut self.span);
        span.clear();
        write_span(&mut span, v, &mut self.rng);
        if span.len() > self.batch_cap {
            // Larger than any batch may be: it can never be sent.
            self.counters.export_dropped += 1;
        } else {
            self.counters.export_dropped += self.queue.push(&span) as u64;
        }
        self.span = span;
        if self.queue.bytes() >= self.batch_cap {
            self.tick(Instant::now(), false);
        }
    }

    /// Send what is due. `force`: ignore the interval (shutdown).
    pub fn tick(&mut self, now: Instant, force: bool) {
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

    /// When the next send could happen (for the capture loop's poll timeout).
    pub fn due(&self) -> Option<Instant> {
        if self.queue.is_empty() {
            return None;
        }
        Some(self.retry_at.unwrap_or(self.next_send))
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
        let r: Result<(i32, String), String> = match &mut self.transport {
            Transport::Plain(c) => c
                .post(HEADERS, &parts, Instant::now() + timeout)
                .map(|a| answer(a.status as i32, a.body))
                .map_err(|e| e.to_string()),
            Transport::Minreq => minreq::post(&self.url)
                .with_header("Content-Type", "application/json")
                .with_header("User-Agent", USER_AGENT)
                .with_body(parts.concat())
                .with_timeout(timeout.as_secs())
                .send()
                .map(|r| answer(r.status_code, r.as_bytes()))
                .map_err(|e| error_text(&e)),
        };
        match r {
            Ok((status, _)) if (200..300).contains(&status) => {
                self.counters.exported += n as u64;
                self.counters.export_batches += 1;
                self.queue.pop(n);
                self.retry_at = None;
                self.backoff = Duration::from_secs(1);
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

    fn fail(&mut self, f: Failure, detail: &str) {
        self.counters.export_failures += 1;
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

fn error_text(e: &minreq::Error) -> String {
    let s = e.to_string();
    if s.trim().is_empty() {
        format!("{e:?}")
    } else {
        s
    }
}

const USER_AGENT: &str = concat!("pcap-sensor/", env!("CARGO_PKG_VERSION"));
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

/// Write a whole request body for `spans` (tests and tools).
pub fn request_body(res: &Resource, spans: &[u8]) -> io::Result<Vec<u8>> {
    let (mut p, s) = envelope(res);
    p.extend_from_slice(spans.strip_suffix(b",").unwrap_or(spans));
    p.extend_from_slice(&s);
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_parsing() {
        let tp = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let (t, p) = traceparent(tp).unwrap();
        assert_eq!(t, b"4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(p, b"00f067aa0ba902b7");
        assert!(traceparent(b"00-00000000000000000000000000000000-00f067aa0ba902b7-01").is_none());
        assert!(traceparent(b"garbage").is_none());
    }

    #[test]
    fn envelope_is_json() {
        let res = Resource {
            attrs: vec![
                ("service.name", Value::Str("svc".into())),
                ("x", Value::Int(3)),
            ],
        };
        let body = request_body(&res, b"").unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            v["resourceSpans"][0]["resource"]["attributes"][0]["value"]["stringValue"],
            "svc"
        );
    }
}
