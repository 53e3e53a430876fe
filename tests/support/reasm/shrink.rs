//! Running the reassembly properties' cases and reporting failures: panics caught as errors
//! (quietly while shrinking), and the shrinker, which makes a failing case smaller (fewer
//! exchanges, shorter bodies, larger segments) while it fails the same way, then shows it with
//! the segments as the sensor saw them. The first failure of each kind is shrunk; the others are
//! listed by seed.

use std::cell::Cell;
use std::fmt::Write as _;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

use crate::support::packet::{ACK, FIN, RST, SYN};
use crate::support::reasm::cases::{Expect, Fault, apply, check_case, seen};
use crate::support::reasm::conversation::{Conv, ConvSpec, Item, build_conv};
use crate::support::reasm::segments::Pkt;

// Panics while shrinking a failing case are expected: keep them off stderr.
thread_local! {
    static QUIET: Cell<bool> = const { Cell::new(false) };
    static WHERE: Cell<Option<String>> = const { Cell::new(None) };
}

/// A panic hook that records where a panic happened and stays silent while `QUIET`.
fn install_quiet_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            WHERE.with(|w| w.set(info.location().map(|l| l.to_string())));
            if !QUIET.with(Cell::get) {
                default(info);
            }
        }));
    });
}

/// Run `f`; a panic becomes an error carrying its message.
pub fn catch<T>(quiet: bool, f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    install_quiet_hook();
    QUIET.with(|q| q.set(quiet));
    let r = panic::catch_unwind(AssertUnwindSafe(f));
    QUIET.with(|q| q.set(false));
    match r {
        Ok(r) => r,
        Err(p) => Err(format!(
            "panic at {}: {}",
            WHERE.with(Cell::take).unwrap_or_default(),
            p.downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| p.downcast_ref::<&str>().copied())
                .unwrap_or("(non-string payload)")
        )),
    }
}

/// Smaller variants of a spec: one item fewer, one pipelined request fewer, shorter bodies.
fn shrink_candidates(s: &ConvSpec) -> Vec<ConvSpec> {
    let mut v = Vec::new();
    for m in [65_000, 1460, 300, 40, 8] {
        if s.min_seg < m {
            let mut t = s.clone();
            t.min_seg = m;
            v.push(t);
        }
    }
    for i in 0..s.items.len() {
        if s.items.len() > 1 {
            let mut t = s.clone();
            t.items.remove(i);
            v.push(t);
        }
        if let Item::Pipelined(exs) = &s.items[i] {
            for j in 0..exs.len() {
                let mut t = s.clone();
                let mut e = exs.clone();
                e.remove(j);
                t.items[i] = if e.len() == 1 {
                    Item::Single(e.remove(0))
                } else {
                    Item::Pipelined(e)
                };
                v.push(t);
            }
        }
    }
    for i in 0..s.items.len() {
        for j in 0..s.items[i].exs().len() {
            for f in 0..4 {
                let mut t = s.clone();
                let e = match &mut t.items[i] {
                    Item::Single(e) => e,
                    Item::Pipelined(v) => &mut v[j],
                };
                match f {
                    0 if e.req_len > 0 => e.req_len /= 2,
                    1 if e.resp_len > 0 => e.resp_len /= 2,
                    2 if e.ext || e.trailers => (e.ext, e.trailers) = (false, false),
                    3 if e.binary => e.binary = false,
                    _ => continue,
                }
                v.push(t);
            }
        }
    }
    v
}

/// The segments of a case, one line each (the middle elided when there are many).
fn dump_packets(c: &Conv, pkts: &[Pkt]) -> String {
    let mut s = String::new();
    for (i, p) in pkts.iter().enumerate() {
        if pkts.len() > 100 && i == 40 {
            let _ = write!(s, "\n  … {} segments …", pkts.len() - 80);
        }
        if pkts.len() > 100 && (40..pkts.len() - 40).contains(&i) {
            continue;
        }
        let mut fl = String::new();
        for (b, ch) in [(SYN, 'S'), (FIN, 'F'), (RST, 'R'), (ACK, '.')] {
            if p.flags & b != 0 {
                fl.push(ch);
            }
        }
        let rel = |d: usize, v: u32| v.wrapping_sub(c.spec.isn[d].wrapping_add(1)) as i32;
        let _ = write!(
            s,
            "\n  #{i:<4} {} seq={:<7} ack={:<7} {fl:<3} len={:<5}",
            if p.dir == 0 { "c→s" } else { "s→c" },
            rel(p.dir, p.seq),
            if p.flags & ACK != 0 {
                rel(1 - p.dir, p.ack)
            } else {
                0
            },
            p.data.len()
        );
        if !p.data.is_empty() {
            let shown: String = p.data[..p.data.len().min(48)]
                .iter()
                .flat_map(|&b| std::ascii::escape_default(b))
                .map(char::from)
                .collect();
            let _ = write!(
                s,
                " \"{shown}{}\"",
                if p.data.len() > 48 { "…" } else { "" }
            );
        }
    }
    s
}

/// Failing cases of one test: the first of each fault kind is shrunk and shown in full, the
/// others by seed and message; the test fails at the end with all of them.
pub struct Failures {
    test: &'static str,
    shown: Vec<(Fault, String)>,
    list: Vec<String>,
}

/// The kind of a failure, so that shrinking does not drift to another one.
fn class(err: &str) -> String {
    const KINDS: &[&str] = &[
        "does not touch lost bytes",
        "invents a request",
        "request body that was never sent",
        "response that was never sent",
        "stats.gaps is 0",
        "traces differs",
        "differs from the capture without duplicates",
        "leak",
        ": ts ",
        ": duration_us ",
    ];
    if let Some(p) = err.strip_prefix("panic at ") {
        return p.split(':').next().unwrap_or("").to_string() + " panic";
    }
    if let Some(k) = KINDS.iter().find(|k| err.contains(*k)) {
        return k.to_string();
    }
    if err.starts_with("expected ") && err.contains(" traces") {
        return "trace count".into();
    }
    err.chars()
        .filter(|c| !c.is_ascii_digit())
        .take(40)
        .collect()
}

impl Failures {
    pub fn new(test: &'static str) -> Failures {
        Failures {
            test,
            shown: Vec::new(),
            list: Vec::new(),
        }
    }

    /// Run one case; a failure is recorded (shrunk and shown in full when it is the first of
    /// its kind).
    pub fn check(&mut self, spec: &ConvSpec, fault: Fault, seed: u64, case_seed: u64) {
        let Err(err) = catch(true, || check_case(spec, fault, seed)) else {
            return;
        };
        let key = (fault, class(&err));
        if self.shown.contains(&key) {
            self.list.push(format!(
                "{fault:?}, case seed {case_seed:#x}: {}",
                err.lines().next().unwrap_or("")
            ));
        } else {
            self.shown.push(key);
            self.list
                .push(minimise(self.test, spec, fault, seed, case_seed, err));
        }
    }

    /// Fail the test with every failure recorded, if any.
    pub fn finish(self) {
        if !self.list.is_empty() {
            panic!(
                "{}: {} failing case(s)\n\n{}",
                self.test,
                self.list.len(),
                self.list.join("\n\n")
            );
        }
    }
}

/// Shrink a failing case and describe it: the error, the minimal conversation and its segments.
fn minimise(
    test: &str,
    spec: &ConvSpec,
    fault: Fault,
    seed: u64,
    case_seed: u64,
    err: String,
) -> String {
    let mut best = spec.clone();
    let mut best_err = err.clone();
    let mut rounds = 0;
    let want = class(&err);
    let started = std::time::Instant::now();
    'outer: while rounds < 200 && started.elapsed() < std::time::Duration::from_secs(5) {
        rounds += 1;
        for cand in shrink_candidates(&best) {
            if let Err(e) = catch(true, || check_case(&cand, fault, seed))
                && class(&e) == want
            {
                best = cand;
                best_err = e;
                continue 'outer;
            }
        }
        break;
    }
    let c = build_conv(&best);
    let (pkts, inject, expect) = apply(&c, fault, seed);
    let seen = seen(&best, &pkts, &inject).unwrap_or(pkts);
    let lost = match &expect {
        Expect::Lossy { lost, .. } => format!(
            "\n  lost stream bytes: client→server {:?}, server→client {:?}",
            lost[0], lost[1]
        ),
        _ => String::new(),
    };
    let mut exs = String::new();
    for (i, e) in c.exs.iter().enumerate() {
        let _ = write!(
            exs,
            "\n  exchange {i}: {} {} → {} (req {}..{}, resp {}..{}{})",
            e.method,
            e.target,
            e.status,
            c.req_range[i].0,
            c.req_range[i].1,
            c.resp_range[i].0,
            c.resp_range[i].1,
            if c.pipelined[i] { ", pipelined" } else { "" }
        );
    }
    format!(
        "{test}: fault {fault:?} failed (case seed {case_seed:#x}, fault seed {seed:#x}; \
         rerun with REASM_SEED={case_seed:#x}):\n  {err}\n\
         minimised ({} exchange(s), ISNs {:#x}/{:#x}, link type {}): {best_err}{exs}\n\
         segments as the sensor saw them (seq/ack relative to ISN+1):{}{lost}\n  \
         injector: {inject:?}\n  spec: {best:?}",
        c.exs.len(),
        best.isn[0],
        best.isn[1],
        best.linktype,
        dump_packets(&c, &seen),
    )
}
