//! The library driven in-process, as the sensor's read loop drives it: a `Source`'s frames →
//! decode → the flow tracker → the view → one JSON line per exchange, parsed back; then
//! `close_all` and the check that every pool window and chunk was given back.
//!
//! The one file of the support module that names the library's wire, tcp, http1, exchange, view and
//! export::jsonl APIs: when they move, only this file changes. The rest speaks in frames (`Source`),
//! `Outcome`s and JSON values.

use pcap_sensor::exchange::{Emit, Exchange};
use pcap_sensor::export::jsonl::write_json;
use pcap_sensor::http1::Tracker;
use pcap_sensor::pool::Store;
use pcap_sensor::source::{Batch, Source};
use pcap_sensor::tcp::Ends;
use pcap_sensor::view::{self, Scratch};
use pcap_sensor::wire;
use serde_json::Value;

pub use pcap_sensor::stats::Stats;
pub use pcap_sensor::tcp::Limits;
pub use pcap_sensor::wire::Segment;

/// Every exchange the tracker emits, as the JSON line the sensor would write.
pub struct Sink {
    lines: Vec<String>,
    scratch: Scratch,
}

impl Default for Sink {
    fn default() -> Self {
        Sink {
            lines: Vec::new(),
            scratch: Scratch::new(1 << 20),
        }
    }
}

impl Emit for Sink {
    fn emit(&mut self, ex: &Exchange, ends: &Ends, store: &Store) {
        let mut buf = Vec::new();
        let mut slots = view::HeaderSlots::default();
        let v = view::build(&mut self.scratch, &mut slots, ex, ends, store, false);
        write_json(&mut buf, &v);
        assert_eq!(buf.last(), Some(&b'\n'), "a trace ends with a newline");
        assert_eq!(
            buf.iter().filter(|&&b| b == b'\n').count(),
            1,
            "a trace is one line"
        );
        self.lines
            .push(String::from_utf8(buf).expect("a trace is UTF-8"));
    }
}

/// What a run gave: the traces (parsed) and the counters.
pub struct Outcome {
    pub traces: Vec<Value>,
    pub stats: Stats,
}

/// The tracker's limits for one conversation: room for everything.
pub fn limits() -> Limits {
    Limits {
        max_flows: 16,
        pool_bytes: 16 << 20,
        timeout_us: 10_000_000,
        max_body: 1 << 20,
    }
}

/// Read `src` to its end through a tracker with `lim` (every frame must decode: these captures
/// are all TCP), the idle timer run every `expire_every` frames at the frame's time; then close
/// everything.
pub fn run(src: &mut dyn Source, lim: &Limits, expire_every: usize) -> Result<Outcome, String> {
    let mut t = Tracker::new(lim);
    let mut sink = Sink::default();
    let mut n = 0;
    let mut err = None;
    loop {
        let b = src.dispatch(1024, &mut |fr| {
            if err.is_some() {
                return;
            }
            match wire::decode(fr.linktype, fr.data) {
                Ok(s) => t.segment(&s, fr.ts_us, &mut sink),
                Err(e) => err = Some(format!("frame {n}: decode failed: {e:?}")),
            }
            n += 1;
            if n % expire_every == 0 {
                t.expire(fr.ts_us, &mut sink);
            }
        })?;
        if let Some(e) = err {
            return Err(e);
        }
        if b == Batch::End {
            break;
        }
    }
    t.close_all(&mut sink);
    check_no_leak(&t)?;
    if t.stats.traces != sink.lines.len() as u64 {
        return Err(format!(
            "stats.traces = {} but {} traces were emitted",
            t.stats.traces,
            sink.lines.len()
        ));
    }
    Ok(Outcome {
        traces: parse_traces(&sink.lines)?,
        stats: t.stats.clone(),
    })
}

/// A decoded segment's TCP fields, as plain numbers.
#[derive(Debug)]
pub struct TcpFields<'a> {
    pub sport: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub payload: &'a [u8],
    pub missing: u32,
}

/// The TCP fields of `frame`, a frame of link type `lt`.
pub fn tcp_fields(lt: i32, frame: &[u8]) -> Result<TcpFields<'_>, String> {
    let s = wire::decode(lt, frame).map_err(|e| format!("decode failed: {e:?}"))?;
    Ok(TcpFields {
        sport: s.sport,
        seq: s.seq.0,
        ack: s.ack.0,
        flags: s.flags.bits(),
        payload: s.payload,
        missing: s.missing,
    })
}

/// The segment in `frame`, a frame of link type `lt`; Err: why the sensor skips it.
pub fn decode(lt: i32, frame: &[u8]) -> Result<Segment<'_>, String> {
    wire::decode(lt, frame).map_err(|e| format!("{e:?}"))
}

/// Does the sensor decode link type `lt`?
pub fn link_supported(lt: i32) -> bool {
    wire::dlt::supported(lt)
}

/// After `close_all`: no flow left, every window and chunk back in its pool.
fn check_no_leak(t: &Tracker) -> Result<(), String> {
    if t.live_flows() != 0 {
        return Err(format!("{} flows live after close_all", t.live_flows()));
    }
    if t.windows.free_count() != t.windows.count() as usize {
        return Err(format!(
            "window leak: {} of {} free after close_all",
            t.windows.free_count(),
            t.windows.count()
        ));
    }
    if t.shared.pool.free_count() != t.shared.pool.count() {
        return Err(format!(
            "chunk leak: {} of {} free after close_all",
            t.shared.pool.free_count(),
            t.shared.pool.count()
        ));
    }
    Ok(())
}

/// The lines as JSON, each with the members every trace has.
fn parse_traces(lines: &[String]) -> Result<Vec<Value>, String> {
    lines
        .iter()
        .map(|l| {
            let v: Value =
                serde_json::from_str(l).map_err(|e| format!("invalid JSON ({e}): {l}"))?;
            for k in [
                "ts",
                "duration_us",
                "client",
                "server",
                "request",
                "response",
            ] {
                if v.get(k).is_none() {
                    return Err(format!("trace without {k}: {l}"));
                }
            }
            Ok(v)
        })
        .collect()
}

/// Decode and check what any decoder result must satisfy; returns the segment.
pub fn decode_checked(lt: i32, f: &[u8]) -> Option<Segment<'_>> {
    let s = wire::decode(lt, f).ok()?;
    let (fp, pp) = (f.as_ptr() as usize, s.payload.as_ptr() as usize);
    assert!(
        pp >= fp && pp + s.payload.len() <= fp + f.len(),
        "link type {lt}: payload does not borrow the frame"
    );
    Some(s)
}

/// A tracker fed segments one by one, a clock that moves by what each feed says.
pub struct Feeder {
    t: Tracker,
    sink: Sink,
    pub ts: u64,
}

impl Feeder {
    pub fn new(lim: &Limits) -> Feeder {
        Feeder {
            t: Tracker::new(lim),
            sink: Sink::default(),
            ts: 1_714_564_800_000_000,
        }
    }
    pub fn feed(&mut self, s: &Segment, dt: u64) {
        self.ts += dt;
        self.t.segment(s, self.ts, &mut self.sink);
    }
    /// Run the idle timer now.
    pub fn expire(&mut self) {
        self.t.expire(self.ts, &mut self.sink);
    }
    /// Close everything; the number of traces.
    pub fn finish(mut self) -> Result<usize, String> {
        self.t.close_all(&mut self.sink);
        check_no_leak(&self.t)?;
        if self.t.stats.traces != self.sink.lines.len() as u64 {
            return Err("stats.traces differs from the traces emitted".into());
        }
        Ok(parse_traces(&self.sink.lines)?.len())
    }
}
