//! Where traces go. The pipeline decides what is kept (filters and rate
//! limit, at the request), builds each kept exchange's view once (decoded,
//! redacted), and hands it to every sink: JSON Lines, HAR, the satellite.

pub mod client;
pub mod har;
pub mod jsonl;
pub mod otlp;

use std::io;
use std::time::Instant;

use crate::http::{Emit, Ends, Exchange, ReqInfo};
use crate::policy::{Filters, RateLimit, host_without_port};
use crate::pool::Store;
use crate::view::{self, Scratch};

/// Counters kept by the pipeline.
#[derive(Default, Debug, Clone)]
pub struct Counters {
    pub filtered: u64,
    pub rate_limited: u64,
    pub decode_errors: u64,
    pub written: u64,
}

pub enum Local {
    Lines(jsonl::JsonLines),
    Har(har::Har),
}

pub struct Pipeline {
    pub filters: Filters,
    pub rate: RateLimit,
    pub redact: bool,
    pub local: Option<Local>,
    pub satellite: Option<otlp::Exporter>,
    scratch: Scratch,
    host: String,
    pub counters: Counters,
    /// Stop after this many traces (`--count`).
    pub limit: Option<u64>,
    error: Option<io::Error>,
}

impl Pipeline {
    pub fn new(
        filters: Filters,
        rate: RateLimit,
        redact: bool,
        local: Option<Local>,
        satellite: Option<otlp::Exporter>,
        max_body: usize,
        limit: Option<u64>,
    ) -> Pipeline {
        Pipeline {
            filters,
            rate,
            redact,
            local,
            satellite,
            scratch: Scratch::new(max_body),
            host: String::with_capacity(256),
            counters: Counters::default(),
            limit,
            error: None,
        }
    }

    pub fn reserved(&self) -> usize {
        self.scratch.reserved()
            + match &self.local {
                Some(Local::Lines(l)) => l.reserved(),
                Some(Local::Har(h)) => h.reserved(),
                None => 0,
            }
            + self.satellite.as_ref().map_or(0, |s| s.reserved())
    }

    /// The `--count` limit is reached.
    pub fn full(&self) -> bool {
        self.limit.is_some_and(|l| self.counters.written >= l)
    }

    pub fn has_failed(&self) -> bool {
        self.error.is_some()
    }

    pub fn take_error(&mut self) -> Option<io::Error> {
        self.error.take()
    }

    /// Send whatever batches are due.
    pub fn tick(&mut self, now: Instant) {
        if let Some(s) = &mut self.satellite {
            s.tick(now, false);
        }
    }

    /// When the exporter next wants to run.
    pub fn due(&self) -> Option<Instant> {
        self.satellite.as_ref().and_then(|s| s.due())
    }

    /// Close local outputs and deliver queued traces, giving up at `deadline`.
    pub fn finish(&mut self, deadline: Instant) -> io::Result<()> {
        if let Some(s) = &mut self.satellite {
            while s.queued() > 0 && Instant::now() < deadline {
                let left = deadline.saturating_duration_since(Instant::now()).as_secs();
                if left == 0 {
                    break; // not even a second left for one more attempt
                }
                s.attempt_timeout = left.min(3);
                let before = s.queued();
                s.tick(Instant::now(), true);
                if s.queued() == before {
                    // Not delivered: wait for the backoff, within the deadline.
                    let wait = deadline
                        .saturating_duration_since(Instant::now())
                        .min(std::time::Duration::from_millis(200));
                    std::thread::sleep(wait);
                }
            }
            if s.queued() > 0 {
                s.counters.export_dropped += s.queued() as u64;
                crate::log::warn(&format!(
                    "shutdown: {} traces could not be delivered in time and are dropped",
                    s.queued()
                ));
            }
        }
        match &mut self.local {
            Some(Local::Lines(l)) => l.finish(),
            Some(Local::Har(h)) => h.finish(),
            None => Ok(()),
        }
    }
}

impl Emit for Pipeline {
    fn admit(&mut self, r: &ReqInfo) -> bool {
        self.host.clear();
        match r.host.and_then(|h| std::str::from_utf8(h).ok()) {
            Some(h) if !h.trim().is_empty() => self.host.push_str(host_without_port(h)),
            _ => {
                use std::fmt::Write;
                let _ = write!(self.host, "{}", r.server.to_std());
            }
        }
        let path = r.target.split('?').next().unwrap_or("");
        if !self.filters.pass(&self.host, path) {
            self.counters.filtered += 1;
            return false;
        }
        if !self.rate.take(r.ts) {
            self.counters.rate_limited += 1;
            return false;
        }
        true
    }

    fn emit(&mut self, ex: &Exchange, ends: &Ends, store: &Store) {
        if self.full() || self.error.is_some() {
            return;
        }
        let mut slots = view::HeaderSlots::default();
        let v = view::build(&mut self.scratch, &mut slots, ex, ends, store, self.redact);
        if v.req.body.decode_error || v.resp.as_ref().is_some_and(|r| r.body.decode_error) {
            self.counters.decode_errors += 1;
        }
        let r = match &mut self.local {
            Some(Local::Lines(l)) => l.write(&v),
            Some(Local::Har(h)) => h.write(&v),
            None => Ok(()),
        };
        if let Err(e) = r {
            self.error = Some(e);
        }
        if let Some(s) = &mut self.satellite {
            s.push(&v);
        }
        self.counters.written += 1;
    }
}
