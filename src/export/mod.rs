//! Where traces go. The pipeline decides what is kept (the filters, then the
//! endpoint table and its sampler under the rate limit: at the request, and
//! for a request kept as a head only, at the response), builds each kept
//! exchange's view once (decoded, redacted), and hands it to every output:
//! JSON Lines, HAR, the satellite. Every exchange that leaves, traced or
//! not, goes into the endpoint inventory (`endpoint`, written by
//! `inventory.rs`).
//!
//! Each output answers every trace with what the capture loop must do next:
//! go on, or stop and why. The pipeline folds the answers (and `--count`)
//! into one, which the loop reads between frames.

pub mod client;
pub mod har;
pub mod inventory;
pub mod jsonl;
pub mod otlp;
pub mod text;

use std::fs::File;
use std::io::{self, IsTerminal};
use std::ops::ControlFlow;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Instant;

use crate::cli::Format;
use crate::endpoint::Endpoints;
use crate::exchange::{Emit, Exchange, Late, ReqInfo, Ticket, Verdict};
use crate::policy::{Filters, host_without_port};
use crate::pool::Store;
use crate::stats::Stats;
use crate::tcp::Ends;
use crate::view::{self, Scratch, View};

/// Why the capture loop must stop taking frames.
#[derive(Debug)]
pub enum Stop {
    /// `--count` traces were written.
    Count,
    /// An output could not be written. A broken pipe is a reader that went
    /// away (`| head`): the sensor stops without calling it an error.
    Failed(io::Error),
}

/// What the loop must do after an output took a trace.
pub type Next = ControlFlow<Stop>;

/// Go on when `r` is Ok, else stop with its error.
pub fn next(r: io::Result<()>) -> Next {
    match r {
        Ok(()) => ControlFlow::Continue(()),
        Err(e) => ControlFlow::Break(Stop::Failed(e)),
    }
}

/// Something traces are written to.
pub trait Output {
    /// Take one trace; say whether the loop may go on.
    fn write(&mut self, v: &View) -> Next;

    /// Bytes reserved at start-up (for the memory ceiling).
    fn reserved(&self) -> usize;

    /// Do what is due at `now` (an output that works on a timer: send batches).
    fn tick(&mut self, _now: Instant) {}

    /// When this output next wants a `tick` (the loop sleeps no longer).
    fn due(&self) -> Option<Instant> {
        None
    }

    /// A socket the loop should also wait on, until it is writable (a
    /// connection being made): the output then wants a `tick`.
    fn wait_fd(&self) -> Option<RawFd> {
        None
    }

    /// Close the output, delivering what it holds, giving up at `deadline`.
    fn finish(&mut self, deadline: Instant) -> io::Result<()>;

    /// Put this output's counters in the stats line.
    fn report(&self, _stats: &mut Stats) {}

    /// The fields of a periodic stats line, for an output that exports them
    /// (the satellite's metrics).
    fn metrics(&mut self, _fields: &[(&'static str, u64)]) {}

    /// The fields of the final stats line, after `finish`: deliver them
    /// now, giving up around `deadline`.
    fn final_metrics(&mut self, _fields: &[(&'static str, u64)], _deadline: Instant) {}

    /// Add to the health check's answer what this output has to say (a
    /// satellite's state), as `; ...`.
    fn health(&self, _out: &mut dyn std::fmt::Write) {}
}

/// The local output `--out` names: `-` (stdout), a `.har` file (HAR), or
/// any other file; in `format`, else JSON Lines, except on a terminal,
/// which gets the readable lines (`text.rs`).
pub fn local(out: &str, format: Option<Format>) -> io::Result<Box<dyn Output>> {
    if out == "-" {
        let stdout = io::stdout();
        let tty = stdout.is_terminal();
        let chosen = format.unwrap_or(if tty { Format::Text } else { Format::Json });
        if chosen == Format::Json {
            return Ok(Box::new(jsonl::JsonLines::new(Box::new(stdout), true)));
        }
        let fd = stdout.as_raw_fd();
        let (style, tty) = if tty {
            (text::Style::terminal(fd), Some(fd))
        } else {
            (text::Style::plain(), None)
        };
        return Ok(Box::new(text::Text::new(
            Box::new(stdout),
            style,
            tty,
            true,
        )));
    }
    let f = Box::new(File::create(out)?);
    if out.to_ascii_lowercase().ends_with(".har") {
        Ok(Box::new(har::Har::new(f)?))
    } else if format == Some(Format::Text) {
        Ok(Box::new(text::Text::new(
            f,
            text::Style::plain(),
            None,
            false,
        )))
    } else {
        Ok(Box::new(jsonl::JsonLines::new(f, false)))
    }
}

/// Counters kept by the pipeline.
#[derive(Default, Debug, Clone)]
struct Counters {
    filtered: u64,
    rate_limited: u64,
    decode_errors: u64,
    written: u64,
}

pub struct Pipeline {
    filters: Filters,
    /// The endpoint table, the sampler (with the rate limit's bucket) and
    /// the inventory.
    endpoints: Endpoints,
    redact: bool,
    /// Written in this order, finished in this order.
    outputs: Vec<Box<dyn Output>>,
    scratch: Scratch,
    host: String,
    counters: Counters,
    /// Stop after this many traces (`--count`).
    limit: Option<u64>,
    /// Set once, by the first trace after which the loop must stop.
    stop: Option<Stop>,
}

impl Pipeline {
    pub fn new(
        filters: Filters,
        endpoints: Endpoints,
        redact: bool,
        outputs: Vec<Box<dyn Output>>,
        max_body: usize,
        limit: Option<u64>,
    ) -> Pipeline {
        Pipeline {
            filters,
            endpoints,
            redact,
            outputs,
            scratch: Scratch::new(max_body),
            host: String::with_capacity(256),
            counters: Counters::default(),
            limit,
            stop: (limit == Some(0)).then_some(Stop::Count),
        }
    }

    pub fn reserved(&self) -> usize {
        self.scratch.reserved()
            + self.endpoints.reserved()
            + self.outputs.iter().map(|o| o.reserved()).sum::<usize>()
    }

    /// The endpoint table and inventory (for `--endpoints`).
    pub fn endpoints(&mut self) -> &mut Endpoints {
        &mut self.endpoints
    }

    /// What the loop must do next, from every trace written so far.
    pub fn next(&self) -> ControlFlow<&Stop> {
        match &self.stop {
            None => ControlFlow::Continue(()),
            Some(s) => ControlFlow::Break(s),
        }
    }

    /// Why the loop stopped (None: its input ended, or a signal), taken.
    pub fn take_stop(&mut self) -> Option<Stop> {
        self.stop.take()
    }

    /// Let timed outputs do what is due.
    pub fn tick(&mut self, now: Instant) {
        for o in &mut self.outputs {
            o.tick(now);
        }
    }

    /// When an output next wants a tick.
    pub fn due(&self) -> Option<Instant> {
        self.outputs.iter().filter_map(|o| o.due()).min()
    }

    /// A socket an output waits on (to be writable), if any.
    pub fn wait_fd(&self) -> Option<RawFd> {
        self.outputs.iter().find_map(|o| o.wait_fd())
    }

    /// Close every output, giving up at `deadline`; the first error.
    pub fn finish(&mut self, deadline: Instant) -> io::Result<()> {
        let mut first = Ok(());
        for o in &mut self.outputs {
            let r = o.finish(deadline);
            if first.is_ok() {
                first = r;
            }
        }
        first
    }

    /// Hand a periodic stats line's fields to the outputs that export them.
    pub fn metrics(&mut self, fields: &[(&'static str, u64)]) {
        for o in &mut self.outputs {
            o.metrics(fields);
        }
    }

    /// Hand the final stats line's fields to the outputs that export them.
    pub fn final_metrics(&mut self, fields: &[(&'static str, u64)], deadline: Instant) {
        for o in &mut self.outputs {
            o.final_metrics(fields, deadline);
        }
    }

    /// Put the pipeline's and the outputs' counters in the stats line.
    pub fn report(&self, st: &mut Stats) {
        let c = &self.counters;
        st.filtered = c.filtered;
        st.rate_limited = c.rate_limited;
        st.decode_errors = c.decode_errors;
        let e = self.endpoints.counters();
        st.endpoints_known = e.endpoints_known;
        st.endpoint_evictions = e.endpoint_evictions;
        st.traces_new_endpoint = e.traces_new_endpoint;
        st.traces_new_error = e.traces_new_error;
        st.traces_fair_share = e.traces_fair_share;
        for o in &self.outputs {
            o.report(st);
        }
    }
}

impl Pipeline {
    /// The outputs' words for the health check's answer.
    pub fn health(&self, out: &mut dyn std::fmt::Write) {
        for o in &self.outputs {
            o.health(out);
        }
    }
}

/// `rate_limited` counts each exchange the rate limit passed over once: at
/// the request (`Pass`), at the response (a head `Release`d), or when it
/// leaves (a head that no response promoted, or that the store could not
/// take).
impl Emit for Pipeline {
    fn admit(&mut self, r: &ReqInfo) -> Ticket {
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
            return Ticket::default();
        }
        let t = self.endpoints.request(r.ts, r.method, &self.host, r.target);
        if t.verdict() == Verdict::Pass {
            self.counters.rate_limited += 1;
        }
        t
    }

    fn respond(&mut self, t: &mut Ticket, ts: u64, status: u16) -> Late {
        let late = self.endpoints.response(t, ts, status);
        if late == Late::Release {
            self.counters.rate_limited += 1;
        }
        late
    }

    fn done(&mut self, ex: &Exchange, traced: bool) {
        if ex.ticket.verdict() == Verdict::Head {
            self.counters.rate_limited += 1;
        }
        let (status, end) = if ex.has_resp {
            (Some(ex.status), ex.resp.last_ts)
        } else {
            (None, ex.req.last_ts)
        };
        self.endpoints
            .finish(ex.ticket, status, ex.req.first_ts, end, traced);
    }

    fn emit(&mut self, ex: &Exchange, ends: &Ends, store: &Store) {
        if self.stop.is_some() {
            return;
        }
        let mut slots = view::HeaderSlots::default();
        let v = view::build(&mut self.scratch, &mut slots, ex, ends, store, self.redact);
        if v.req.body.decode_error || v.resp.as_ref().is_some_and(|r| r.body.decode_error) {
            self.counters.decode_errors += 1;
        }
        // Every output takes the trace; the first that says stop decides why.
        for o in &mut self.outputs {
            if let ControlFlow::Break(why) = o.write(&v) {
                self.stop.get_or_insert(why);
            }
        }
        self.counters.written += 1;
        if self.limit.is_some_and(|l| self.counters.written >= l) {
            self.stop.get_or_insert(Stop::Count);
        }
    }
}
