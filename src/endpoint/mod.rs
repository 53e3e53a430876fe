//! Endpoints: what an API's traffic is made of, and tracing all of it
//! under a rate limit (issue 19).
//!
//! An endpoint is (method, host, path template) (`template.rs` has the
//! rules). `Endpoints` brings together, for a fixed number of endpoints all
//! reserved at start-up: the endpoint table (`table.rs`: fixed slots, hash
//! index, segmented-LRU eviction), the sampler (`sampler.rs`: the rate
//! limit's token bucket, spent on new endpoints and new errors first, then
//! on fair shares) and the inventory (`inventory.rs`, with a duration sketch
//! per endpoint in `sketch.rs`).
//!
//! Where the pipeline calls it, per exchange, after the host/path filters:
//!
//! 1. **request head** — `request(ts, method, host, target) -> Ticket`; the
//!    ticket (12 bytes, `Copy`) travels with the exchange. `ticket.verdict()`
//!    says what to keep: `Keep` (as an admitted exchange today), `Head`
//!    (passed over, but keep the request head without its body), `Pass`
//!    (nothing, as a refused exchange today).
//! 2. **response head** (final status) — `response(&mut ticket, ts, status)
//!    -> Late`: `Promote` turns a `Head` exchange into a trace (keep the
//!    response; the trace says its request body was not kept), `Release`
//!    lets go of a `Head` exchange's request head at once.
//!
//!    A `Head` costs, while its exchange waits for the response head, its
//!    request head and head index in the buffer pool — one 2 KiB chunk for
//!    a usual head — and at most one a `Config::head_gap_us` (10 ms) per
//!    endpoint is given. It is best-effort: when the pool cannot take the
//!    head, treat it as `Pass` (not as pool exhaustion); a `Head` exchange
//!    with no response is not traced.
//! 3. **exchange done** (emitted, or dropped: paired or given up) —
//!    `finish(ticket, status, start_us, end_us, traced)` feeds the inventory.
//! 4. **stats interval / exit** — `counters()`, `write_jsonl`, `write_table`.
//!
//! Nothing here allocates after `new`. What `new` reserves is zeroed memory:
//! it counts in the memory ceiling, but becomes resident only as endpoints
//! appear (about 600 bytes each).

pub mod inventory;
pub mod sampler;
pub mod sketch;
pub mod table;
pub mod template;

use std::io::{self, Write};

pub use inventory::Stats;
pub use sampler::{Late, Mode, Reason, Verdict};
pub use table::{Key, Table};

use sampler::Sampler;

/// Types whose all-zero bytes are a valid value, equal to their `Default`.
///
/// # Safety
///
/// Implement only for types made of integers, arrays of them and field-less
/// `#[repr(u8)]` enums whose variant 0 is the default.
pub(crate) unsafe trait Zeroed: Default {}

/// `n` default values from zeroed memory: the system maps its pages only
/// when an endpoint first writes to them, so what is resident grows with
/// the endpoints seen, up to what was reserved.
pub(crate) fn zeroed<T: Zeroed>(n: usize) -> Box<[T]> {
    let b = Box::<[T]>::new_zeroed_slice(n);
    // SAFETY: `T: Zeroed`: all-zero bytes are a valid `T`.
    unsafe { b.assume_init() }
}

/// `--max-endpoints` when not given: about 0.6 MiB (`Endpoints::bytes_for`).
pub const DEFAULT_MAX_ENDPOINTS: usize = 1024;

/// The shortest time between two `Head` verdicts for one endpoint: at most
/// 100 request heads a second per endpoint are kept for a late trace.
pub const DEFAULT_HEAD_GAP_US: u64 = 10_000;

#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// Endpoints tracked at once (`--max-endpoints`).
    pub max_endpoints: usize,
    /// The rate limit, traces a minute (≤ 0: none).
    pub per_minute: f64,
    pub mode: Mode,
    pub head_gap_us: u64,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            max_endpoints: DEFAULT_MAX_ENDPOINTS,
            per_minute: 0.0,
            mode: Mode::Endpoints,
            head_gap_us: DEFAULT_HEAD_GAP_US,
        }
    }
}

/// What the pipeline keeps of an exchange in flight: its endpoint (slot and
/// generation) and the verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    slot: u32,
    generation: u32,
    verdict: Verdict,
}

impl Default for Ticket {
    fn default() -> Ticket {
        Ticket {
            slot: u32::MAX,
            generation: 0,
            verdict: Verdict::Pass,
        }
    }
}

impl Ticket {
    /// Keep the exchange, no endpoint named: what a sink without a rate
    /// limit or an endpoint table says (`Emit::admit`'s default).
    pub const fn keep_all() -> Ticket {
        Ticket {
            slot: u32::MAX,
            generation: 0,
            verdict: Verdict::Keep(Reason::Unlimited),
        }
    }

    pub fn verdict(&self) -> Verdict {
        self.verdict
    }

    /// Is it (now) to be traced?
    pub fn traced(&self) -> bool {
        matches!(self.verdict, Verdict::Keep(_))
    }
}

/// The counters for the stats line.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counters {
    /// Endpoints in the table now.
    pub endpoints_known: u64,
    /// Endpoints forgotten to make room for new ones.
    pub endpoint_evictions: u64,
    /// Traces kept as the first of their endpoint.
    pub traces_new_endpoint: u64,
    /// Traces kept as the first of their (endpoint, 4xx/5xx) pair, at the
    /// response (`Late::Promote`).
    pub traces_new_error: u64,
    /// Traces kept as their endpoint's fair share.
    pub traces_fair_share: u64,
}

pub struct Endpoints {
    table: Table,
    sampler: Sampler,
    stats: Box<[Stats]>,
    /// For sorting the inventory without allocating.
    order: Box<[u32]>,
    /// One inventory line.
    line: Vec<u8>,
}

/// Room for one inventory line: the key's fields escaped at worst (six
/// bytes each) and the rest.
const LINE_MAX: usize = 6 * (table::METHOD_MAX + table::HOST_MAX + table::TEMPLATE_MAX) + 512;

impl Endpoints {
    pub fn new(c: &Config) -> Endpoints {
        let n = c.max_endpoints.max(1);
        Endpoints {
            table: Table::new(n),
            sampler: Sampler::new(c.per_minute, c.mode, n, c.head_gap_us),
            stats: zeroed(n),
            order: vec![0; n].into_boxed_slice(),
            line: Vec::with_capacity(LINE_MAX),
        }
    }

    /// Bytes reserved for `max_endpoints` endpoints (for the memory ceiling).
    pub fn bytes_for(max_endpoints: usize) -> usize {
        let n = max_endpoints.max(1);
        Table::bytes_for(n)
            + n * (Sampler::bytes_per_slot() + size_of::<Stats>() + size_of::<u32>())
            + LINE_MAX
    }

    pub fn reserved(&self) -> usize {
        self.table.reserved()
            + self.sampler.reserved()
            + self.stats.len() * size_of::<Stats>()
            + self.order.len() * size_of::<u32>()
            + self.line.capacity()
    }

    /// At the request head of an exchange (after the filters): `host`
    /// without its port, `target` as sent.
    pub fn request(&mut self, ts: u64, method: &str, host: &str, target: &str) -> Ticket {
        let f = self.table.find_or_insert(&Key::new(method, host, target));
        if f.new {
            self.sampler.reset(f.slot);
            self.stats[f.slot as usize] = Stats::default();
        }
        self.stats[f.slot as usize].request(ts);
        let verdict = self.sampler.request(f.slot, ts);
        Ticket {
            slot: f.slot,
            generation: f.generation,
            verdict,
        }
    }

    /// At the final response head (`status`) of the exchange of `t`.
    pub fn response(&mut self, t: &mut Ticket, ts: u64, status: u16) -> Late {
        let late = if self.table.current(t.slot, t.generation) {
            self.sampler.response(t.slot, t.verdict, ts, status)
        } else if t.verdict == Verdict::Head {
            Late::Release // its endpoint was evicted meanwhile
        } else {
            Late::AsDecided
        };
        match late {
            Late::Promote => t.verdict = Verdict::Keep(Reason::NewError),
            Late::Release => t.verdict = Verdict::Pass,
            Late::AsDecided => {}
        }
        late
    }

    /// The exchange of `t` is done: `status` of its final response (None:
    /// none), from its request's first packet (`start_us`) to its
    /// response's last (`end_us`); `traced` if a trace was written.
    pub fn finish(
        &mut self,
        t: Ticket,
        status: Option<u16>,
        start_us: u64,
        end_us: u64,
        traced: bool,
    ) {
        if !self.table.current(t.slot, t.generation) {
            return;
        }
        let d = status.map(|_| end_us.saturating_sub(start_us));
        self.stats[t.slot as usize].finish(status, d, traced);
    }

    /// The endpoint of a ticket, while it is still in the table.
    pub fn key(&self, t: &Ticket) -> Option<&Key> {
        self.table
            .current(t.slot, t.generation)
            .then(|| self.table.key(t.slot))
    }

    /// What is known of the endpoint of a ticket, while it is in the table.
    pub fn stats(&self, t: &Ticket) -> Option<&Stats> {
        self.table
            .current(t.slot, t.generation)
            .then(|| &self.stats[t.slot as usize])
    }

    pub fn counters(&self) -> Counters {
        Counters {
            endpoints_known: self.table.len() as u64,
            endpoint_evictions: self.table.evictions,
            traces_new_endpoint: self.sampler.kept.new_endpoint,
            traces_new_error: self.sampler.kept.new_error,
            traces_fair_share: self.sampler.kept.fair_share,
        }
    }

    /// The fair rate now, traces a minute per endpoint.
    pub fn fair_rate(&self) -> f64 {
        self.sampler.fair_rate()
    }

    /// The inventory as JSON Lines (`--endpoints FILE`), most seen first.
    pub fn write_jsonl(&mut self, w: &mut dyn Write) -> io::Result<()> {
        inventory::write_jsonl(w, &self.table, &self.stats, &mut self.order, &mut self.line)
    }

    /// The inventory as a table for a terminal, most seen first.
    pub fn write_table(&mut self, w: &mut dyn Write) -> io::Result<()> {
        inventory::write_table(w, &self.table, &self.stats, &mut self.order)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_714_564_800_000_000;

    /// Under contention: two other endpoints took spare tokens just before
    /// `T0` until the bucket fell below half (see `sampler`).
    fn contended(c: &Config) -> Endpoints {
        let mut e = Endpoints::new(c);
        let mut t = T0 - 10_000;
        while e
            .request(t, "GET", "other", ["/a", "/b"][t as usize % 2])
            .traced()
        {
            t += 1;
        }
        e
    }

    #[test]
    fn an_exchange_through_every_call() {
        let mut e = contended(&Config {
            per_minute: 10.0,
            ..Config::default()
        });
        let before = e.counters();
        let mut t = e.request(T0, "GET", "api.example.com", "/users/42?x=1");
        assert_eq!(t.verdict(), Verdict::Keep(Reason::NewEndpoint));
        assert_eq!(e.key(&t).unwrap().template(), b"/users/{int}");
        assert_eq!(e.response(&mut t, T0 + 900, 200), Late::AsDecided);
        e.finish(t, Some(200), T0, T0 + 1000, t.traced());
        // The next one is passed over with its head kept; its 500 promotes it.
        let mut t = e.request(T0 + 2000, "GET", "api.example.com", "/users/7");
        assert_eq!(t.verdict(), Verdict::Head);
        assert_eq!(e.response(&mut t, T0 + 2500, 500), Late::Promote);
        assert_eq!(t.verdict(), Verdict::Keep(Reason::NewError));
        e.finish(t, Some(500), T0 + 2000, T0 + 3000, t.traced());
        let s = e.stats(&t).unwrap();
        assert_eq!((s.seen, s.traced, s.status[1], s.status[4]), (2, 2, 1, 1));
        assert_eq!(
            e.counters(),
            Counters {
                endpoints_known: before.endpoints_known + 1,
                endpoint_evictions: 0,
                traces_new_endpoint: before.traces_new_endpoint + 1,
                traces_new_error: 1,
                traces_fair_share: before.traces_fair_share,
            }
        );
    }

    #[test]
    fn an_evicted_endpoint_is_not_updated_through_an_old_ticket() {
        let mut e = Endpoints::new(&Config {
            max_endpoints: 1,
            per_minute: 10.0,
            ..Config::default()
        });
        let a = e.request(T0, "GET", "h", "/a");
        // Alone, /a has the budget down to the reserve; then a head is kept.
        let mut t = T0 + 1;
        let mut head = e.request(t, "GET", "h", "/a");
        while head.traced() {
            t += 1;
            head = e.request(t, "GET", "h", "/a");
        }
        assert_eq!(head.verdict(), Verdict::Head);
        let b = e.request(t + 1, "GET", "h", "/b");
        assert_eq!(e.counters().endpoint_evictions, 1);
        assert!(e.key(&a).is_none());
        assert_eq!(e.response(&mut head, t + 2, 500), Late::Release);
        e.finish(a, Some(200), T0, T0 + 5, true);
        assert_eq!(e.stats(&b).unwrap().status, [0; 7]);
        assert_eq!(e.stats(&b).unwrap().seen, 1);
    }

    #[test]
    fn a_ticket_is_small() {
        assert!(size_of::<Ticket>() <= 12, "{}", size_of::<Ticket>());
    }

    #[test]
    fn zeroed_stats_are_the_defaults() {
        let s: Box<[Stats]> = zeroed(1);
        assert_eq!(format!("{:?}", s[0]), format!("{:?}", Stats::default()));
    }

    /// Resident memory of this process, in KiB.
    fn rss_kb() -> u64 {
        let s = std::fs::read_to_string("/proc/self/status").unwrap();
        s.lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap()
    }

    #[test]
    fn reserved_is_not_resident_until_used() {
        // 64 Mi of reservations; other tests run meanwhile, so the bound is loose.
        let n = 100_000;
        let before = rss_kb();
        let mut e = Endpoints::new(&Config {
            max_endpoints: n,
            per_minute: 10.0,
            ..Config::default()
        });
        let reserved_kb = e.reserved() as u64 / 1024;
        let idle = rss_kb().saturating_sub(before);
        for i in 0..300 {
            e.request(T0 + i, "GET", "h", &format!("/r{i}/x"));
        }
        let used = rss_kb().saturating_sub(before);
        assert!(reserved_kb > 50_000, "{reserved_kb}");
        assert!(
            idle < reserved_kb / 4,
            "resident {idle} KiB of {reserved_kb} KiB"
        );
        assert!(
            used < reserved_kb / 4,
            "resident {used} KiB of {reserved_kb} KiB"
        );
    }

    #[test]
    fn memory_figures() {
        let e = Endpoints::new(&Config::default());
        assert_eq!(e.reserved(), Endpoints::bytes_for(DEFAULT_MAX_ENDPOINTS));
        let per = (Endpoints::bytes_for(4096) - Endpoints::bytes_for(2048)) / 2048;
        eprintln!(
            "endpoints: {} bytes reserved for {} ({} per endpoint)",
            e.reserved(),
            DEFAULT_MAX_ENDPOINTS,
            per
        );
        assert!(per <= 640, "{per} bytes per endpoint");
        assert!(e.reserved() <= 700 * 1024, "{}", e.reserved());
    }
}
