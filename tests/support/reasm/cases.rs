//! The cases of the reassembly properties: for each `Fault`, the capture of a generated
//! conversation with that fault, and what the oracle must see come out of it.
//!
//! A capture is the generator's segments as frames (`capture`), wrapped in the fault injector
//! (`pcap_sensor::source::fault`). Frame-level faults are the injector's: copies, reordering,
//! every frame twice, lost frames. What is not frame-level stays with the generator: how the
//! streams are cut into segments, retransmissions that resend a range across earlier segment
//! boundaries (new segments, not copies of frames), and where a capture starts (at a message
//! boundary, or inside a message: the generator knows where messages lie, and the lost ranges
//! follow from that choice).

use std::collections::HashMap;

use pcap_sensor::source::fault::{FaultInjector, Rate, Window};
use pcap_sensor::source::{Batch, Frames, Source};

use crate::support::pipeline::{Outcome, limits};
use crate::support::reasm::capture::{capture, frame_for, run, run_source};
use crate::support::reasm::conversation::{Conv, ConvSpec, build_conv, small_spec};
use crate::support::reasm::oracle::{check_exact, check_lossy, first_diff};
use crate::support::reasm::segments::{
    Pkt, build_packets, data_packets, hand, mss_segmenter, random_segmenter, retransmit, stamp,
};
use crate::support::rng::Rng;

/// What a case does to the capture of a conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// MSS-sized segments in order (the baseline).
    InOrder,
    /// The baseline, ts and duration_us checked against the packets.
    Timing,
    Segmentation,
    Duplicates,
    Reorder,
    Retransmit,
    BackToBack,
    MidBoundary,
    Combined,
    DropSegment,
    MidMessage,
}

/// What must come out of a case.
pub enum Expect {
    /// Exactly exchanges `idx`, in order. `times`: ts and duration_us from the packets too (only
    /// when the injector changes nothing).
    Exact { idx: Vec<usize>, times: bool },
    /// Exactly what the same capture without the injector gives, ts and duration included.
    SameAsWithout,
    /// After losses: see `oracle::check_lossy`.
    Lossy {
        lost: [Vec<(u64, u64)>; 2],
        need_gap: bool,
    },
}

/// The fault injector's part of a case (none by default).
#[derive(Clone, Debug, Default)]
pub struct Inject {
    pub seed: u64,
    /// Copies at this rate, 0..=2 frames after their original.
    pub duplicate: Option<Rate>,
    /// Data segments held back at this rate, by up to 12 frames and 30 KiB.
    pub reorder: Option<Rate>,
    /// Every frame twice in a row.
    pub twice: bool,
    /// These frames of the capture lost.
    pub lose: Vec<usize>,
}

impl Inject {
    /// `src` with these faults.
    pub fn wrap(&self, src: Frames) -> FaultInjector<Frames> {
        let mut f = FaultInjector::new(src, self.seed).lose_frames(self.lose.iter().copied());
        if let Some(r) = self.duplicate {
            f = f.duplicate(r, 2);
        }
        if let Some(r) = self.reorder {
            let window = Window {
                frames: 12,
                bytes: 30 * 1024,
            };
            f = f.reorder(r, window);
        }
        if self.twice {
            f = f.twice();
        }
        f
    }
}

/// Build the segments of `c` with the generator's part of `fault` applied, the injector's part,
/// and what must come out (randomness from `seed`).
pub fn apply(c: &Conv, fault: Fault, seed: u64) -> (Vec<Pkt>, Inject, Expect) {
    let mut rng = Rng::new(seed);
    let total = c.stream[0].len() + c.stream[1].len();
    let all: Vec<usize> = (0..c.exs.len()).collect();
    let exact = |idx: Vec<usize>| Expect::Exact { idx, times: false };
    let (mut pkts, starts) = match fault {
        Fault::InOrder | Fault::Timing | Fault::BackToBack => {
            build_packets(c, &mut mss_segmenter(c.spec.mss))
        }
        _ => build_packets(c, &mut random_segmenter(&mut rng, total, c.spec.min_seg)),
    };
    let n = pkts.len();
    let mut inject = Inject::default();
    let expect = match fault {
        Fault::InOrder => exact(all),
        Fault::Timing => Expect::Exact {
            idx: all,
            times: true,
        },
        Fault::Segmentation => exact(all),
        Fault::Duplicates => {
            let k = rng.range(1, 1 + n / 4);
            inject.duplicate = Some(Rate::new(k as u64, n as u64));
            exact(all)
        }
        Fault::Reorder => {
            let k = rng.range(1, 1 + n / 3);
            inject.reorder = Some(Rate::new(k as u64, n as u64));
            exact(all)
        }
        Fault::Retransmit => {
            let k = rng.range(1, 1 + n / 6);
            retransmit(&mut rng, c, &mut pkts, k);
            exact(all)
        }
        Fault::BackToBack => {
            inject.twice = true;
            Expect::SameAsWithout
        }
        Fault::MidBoundary => {
            let k = rng.below(c.spec.items.len());
            let cut = starts[c.item_first_flight[k]];
            pkts.drain(..cut);
            exact((0..c.exs.len()).filter(|&i| c.item_of[i] >= k).collect())
        }
        Fault::Combined => {
            let k = rng.range(1, 1 + n / 4);
            inject.reorder = Some(Rate::new(k as u64, n as u64));
            let k = rng.range(1, 1 + n / 8);
            retransmit(&mut rng, c, &mut pkts, k);
            let k = rng.range(1, 1 + n / 8);
            inject.duplicate = Some(Rate::new(k as u64, n as u64));
            exact(all)
        }
        Fault::DropSegment => {
            let mut lost = [Vec::new(), Vec::new()];
            let mut cands = data_packets(&pkts);
            for _ in 0..rng.range(1, 2) {
                let i = cands.remove(rng.below(cands.len()));
                lost[pkts[i].dir].push((pkts[i].off, pkts[i].end()));
                inject.lose.push(i);
            }
            Expect::Lossy {
                lost,
                need_gap: true,
            }
        }
        Fault::MidMessage => {
            let cands: Vec<usize> = data_packets(&pkts)
                .into_iter()
                .filter(|&i| !c.msg_starts[pkts[i].dir].contains(&pkts[i].off))
                .collect();
            let cut = if cands.is_empty() {
                3
            } else {
                cands[rng.below(cands.len())]
            };
            pkts.drain(..cut);
            let mut lost = [Vec::new(), Vec::new()];
            for (d, l) in lost.iter_mut().enumerate() {
                let first = pkts
                    .iter()
                    .filter(|p| p.dir == d && !p.data.is_empty())
                    .map(|p| p.off)
                    .next()
                    .unwrap_or(c.stream[d].len() as u64);
                if first > 0 {
                    l.push((0, first));
                }
            }
            Expect::Lossy {
                lost,
                need_gap: false,
            }
        }
    };
    inject.seed = rng.next();
    stamp(&mut pkts, c.spec.t0);
    (pkts, inject, expect)
}

/// Run one case: `spec` captured with `fault` (randomness from `seed`), checked by the oracle.
pub fn check_case(spec: &ConvSpec, fault: Fault, seed: u64) -> Result<(), String> {
    let c = build_conv(spec);
    let (pkts, inject, expect) = apply(&c, fault, seed);
    let out = run_source(&mut inject.wrap(capture(spec, &pkts)?), &limits())?;
    let r = match expect {
        Expect::Exact { idx, times } => check_exact(&c, &idx, &out, times.then_some(&pkts[..])),
        Expect::Lossy { lost, need_gap } => check_lossy(&c, &lost, need_gap, &out),
        Expect::SameAsWithout => {
            check_exact(&c, &(0..c.exs.len()).collect::<Vec<_>>(), &out, None)?;
            let want = run(spec, &pkts, &limits())?;
            for (k, (w, g)) in want.traces.iter().zip(&out.traces).enumerate() {
                if let Some(d) = first_diff(w, g, "") {
                    return Err(format!(
                        "trace {k} differs from the capture without duplicates: {d}"
                    ));
                }
            }
            Ok(())
        }
    };
    r.map_err(|e| format!("{e}\n  stats: {}", out.stats.line()))
}

/// The segments as the sensor saw them, after the injector (for failure reports).
pub fn seen(spec: &ConvSpec, pkts: &[Pkt], inject: &Inject) -> Result<Vec<Pkt>, String> {
    let by_frame: HashMap<Vec<u8>, &Pkt> = pkts.iter().map(|p| (frame_for(spec, p), p)).collect();
    let mut src = inject.wrap(capture(spec, pkts)?);
    let mut out = Vec::new();
    loop {
        let b = src.dispatch(1024, &mut |fr| {
            if let Some(p) = by_frame.get(fr.data) {
                out.push(Pkt {
                    ts: fr.ts_us,
                    ..(*p).clone()
                });
            }
        })?;
        if b == Batch::End {
            return Ok(out);
        }
    }
}

/// Run hand-built segments, without those at the `lost` indexes (the capture missed them).
pub fn run_hand(parts: &[(usize, &[u8], u8)], lost: &[usize]) -> Result<Outcome, String> {
    let mut spec = small_spec(0, &mut Rng::new(1));
    spec.isn = [999, 4999];
    let inject = Inject {
        lose: lost.to_vec(),
        ..Inject::default()
    };
    run_source(&mut inject.wrap(capture(&spec, &hand(parts))?), &limits())
}
