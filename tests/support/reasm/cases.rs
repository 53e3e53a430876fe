//! The cases of the reassembly properties: for each `Fault`, the capture of a generated
//! conversation with that fault (segments from the generator, frames through the synthetic
//! capture) and what the oracle must see come out of it.

use crate::support::pipeline::{Outcome, limits};
use crate::support::reasm::capture::run;
use crate::support::reasm::conversation::{Conv, ConvSpec, build_conv, small_spec};
use crate::support::reasm::oracle::{check_exact, check_lossy, first_diff};
use crate::support::reasm::segments::{
    Pkt, build_packets, data_packets, duplicate, hand, mss_segmenter, random_segmenter, reorder,
    retransmit, stamp,
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
    /// Exactly exchanges `idx`, in order. `times`: ts and duration_us from the packets too.
    Exact { idx: Vec<usize>, times: bool },
    /// Exactly what the same capture without its duplicates gives, ts and duration included.
    SameAs(Vec<Pkt>),
    /// After losses: see `oracle::check_lossy`.
    Lossy {
        lost: [Vec<(u64, u64)>; 2],
        need_gap: bool,
    },
}

/// Build the packets of `c` with `fault` applied (randomness from `seed`) and what must come out.
pub fn apply(c: &Conv, fault: Fault, seed: u64) -> (Vec<Pkt>, Expect) {
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
    let expect = match fault {
        Fault::InOrder => exact(all),
        Fault::Timing => Expect::Exact {
            idx: all,
            times: true,
        },
        Fault::Segmentation => exact(all),
        Fault::Duplicates => {
            let k = rng.range(1, 1 + n / 4);
            duplicate(&mut rng, &mut pkts, k);
            exact(all)
        }
        Fault::Reorder => {
            let k = rng.range(1, 1 + n / 3);
            reorder(&mut rng, &mut pkts, k);
            exact(all)
        }
        Fault::Retransmit => {
            let k = rng.range(1, 1 + n / 6);
            retransmit(&mut rng, c, &mut pkts, k);
            exact(all)
        }
        Fault::BackToBack => {
            stamp(&mut pkts, c.spec.t0);
            let pkts2: Vec<Pkt> = pkts
                .iter()
                .flat_map(|p| {
                    let mut q = p.clone();
                    q.ts += 1;
                    [p.clone(), q]
                })
                .collect();
            return (pkts2, Expect::SameAs(pkts));
        }
        Fault::MidBoundary => {
            let k = rng.below(c.spec.items.len());
            let cut = starts[c.item_first_flight[k]];
            pkts.drain(..cut);
            exact((0..c.exs.len()).filter(|&i| c.item_of[i] >= k).collect())
        }
        Fault::Combined => {
            let k = rng.range(1, 1 + n / 4);
            reorder(&mut rng, &mut pkts, k);
            let k = rng.range(1, 1 + n / 8);
            retransmit(&mut rng, c, &mut pkts, k);
            let k = rng.range(1, 1 + n / 8);
            duplicate(&mut rng, &mut pkts, k);
            exact(all)
        }
        Fault::DropSegment => {
            let mut lost = [Vec::new(), Vec::new()];
            for _ in 0..rng.range(1, 2) {
                let cands = data_packets(&pkts);
                let i = cands[rng.below(cands.len())];
                let p = pkts.remove(i);
                lost[p.dir].push((p.off, p.end()));
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
    stamp(&mut pkts, c.spec.t0);
    (pkts, expect)
}

/// Run one case: `spec` captured with `fault` (randomness from `seed`), checked by the oracle.
pub fn check_case(spec: &ConvSpec, fault: Fault, seed: u64) -> Result<(), String> {
    let c = build_conv(spec);
    let (pkts, expect) = apply(&c, fault, seed);
    let out = run(spec, &pkts, &limits())?;
    let r = match expect {
        Expect::Exact { idx, times } => check_exact(&c, &idx, &out, times.then_some(&pkts[..])),
        Expect::Lossy { lost, need_gap } => check_lossy(&c, &lost, need_gap, &out),
        Expect::SameAs(base) => {
            check_exact(&c, &(0..c.exs.len()).collect::<Vec<_>>(), &out, None)?;
            let want = run(spec, &base, &limits())?;
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

/// Run hand-built segments, without those at the `lost` indexes (the capture missed them).
pub fn run_hand(parts: &[(usize, &[u8], u8)], lost: &[usize]) -> Result<Outcome, String> {
    let mut spec = small_spec(0, &mut Rng::new(1));
    spec.isn = [999, 4999];
    let pkts: Vec<Pkt> = hand(parts)
        .into_iter()
        .enumerate()
        .filter(|(i, _)| !lost.contains(i))
        .map(|(_, p)| p)
        .collect();
    run(&spec, &pkts, &limits())
}
