//! Segments: a built conversation cut into TCP segments (handshake, flights of data with the
//! peer's ACKs, teardown) with sequence and acknowledgement numbers, and the faults that are not
//! frame-level, so they stay with the generator: segment sizes (down to 1 byte) and
//! retransmissions that resend a range across earlier segment boundaries. Also hand-built
//! segment lists for the regression tests. (Losses, copies and reordering of frames are the
//! fault injector's: see `cases`.)

use crate::support::packet::{ACK, FIN, SYN};
use crate::support::reasm::conversation::Conv;
use crate::support::rng::Rng;

/// One captured TCP segment. `off` is the stream offset of the first payload byte.
#[derive(Clone, Debug)]
pub struct Pkt {
    pub dir: usize,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub off: u64,
    pub data: Vec<u8>,
    pub ts: u64,
}

impl Pkt {
    pub fn end(&self) -> u64 {
        self.off + self.data.len() as u64
    }
}

/// `a` after `b` in sequence space (wrapping).
pub fn seq_gt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

/// Segments of the whole connection; `seg(rest)` chooses each segment's size.
/// Returns the packets and, per flight, the index of its first packet.
pub fn build_packets(c: &Conv, seg: &mut dyn FnMut(usize) -> usize) -> (Vec<Pkt>, Vec<usize>) {
    let isn = c.spec.isn;
    let mut sent = [0u64; 2];
    let mut fin = [false; 2];
    let mut out = Vec::new();
    let mut flight_start = Vec::new();
    fn mk(dir: usize, seq: u32, ack: u32, flags: u8, off: u64, data: &[u8]) -> Pkt {
        Pkt {
            dir,
            seq,
            ack,
            flags,
            off,
            data: data.to_vec(),
            ts: 0,
        }
    }
    let next_seq = |d: usize, sent: &[u64; 2], fin: &[bool; 2]| {
        isn[d]
            .wrapping_add(1)
            .wrapping_add(sent[d] as u32)
            .wrapping_add(fin[d] as u32)
    };
    out.push(mk(0, isn[0], 0, SYN, 0, b""));
    out.push(mk(1, isn[1], isn[0].wrapping_add(1), SYN | ACK, 0, b""));
    out.push(mk(
        0,
        isn[0].wrapping_add(1),
        isn[1].wrapping_add(1),
        ACK,
        0,
        b"",
    ));
    let n_flights = c.flights.len();
    for (fi, (d, bytes)) in c.flights.iter().enumerate() {
        let d = *d;
        flight_start.push(out.len());
        let mut pos = 0;
        let mut k = 0;
        while pos < bytes.len() {
            let n = seg(bytes.len() - pos).clamp(1, bytes.len() - pos);
            let mut flags = ACK;
            let last = pos + n == bytes.len();
            if last && c.server_closes && d == 1 && fi + 1 == n_flights && c.spec.fin_with_data {
                flags |= FIN;
            }
            let p = mk(
                d,
                next_seq(d, &sent, &fin),
                next_seq(1 - d, &sent, &fin),
                flags,
                sent[d],
                &bytes[pos..pos + n],
            );
            out.push(p);
            sent[d] += n as u64;
            if flags & FIN != 0 {
                fin[d] = true;
            }
            pos += n;
            k += 1;
            if k % c.spec.ack_every == 0 || last {
                let seq = next_seq(1 - d, &sent, &fin);
                out.push(mk(
                    1 - d,
                    seq,
                    next_seq(d, &sent, &fin),
                    ACK,
                    sent[1 - d],
                    b"",
                ));
            }
        }
    }
    // Teardown: whoever closes first, then the other side.
    let order = if c.server_closes { [1, 0] } else { [0, 1] };
    for d in order {
        if !fin[d] {
            let p = mk(
                d,
                next_seq(d, &sent, &fin),
                next_seq(1 - d, &sent, &fin),
                FIN | ACK,
                sent[d],
                b"",
            );
            out.push(p);
            fin[d] = true;
        }
    }
    out.push(mk(
        order[0],
        next_seq(order[0], &sent, &fin),
        next_seq(order[1], &sent, &fin),
        ACK,
        sent[order[0]],
        b"",
    ));
    (out, flight_start)
}

/// Capture times in list order: `t0`, then 31 µs apart.
pub fn stamp(pkts: &mut [Pkt], t0: u64) {
    for (i, p) in pkts.iter_mut().enumerate() {
        p.ts = t0 + i as u64 * 31;
    }
}

/// Random segment sizes down to 1 byte (fewer tiny ones for long streams; none below
/// `min_seg`, which the shrinker raises).
pub fn random_segmenter(
    rng: &mut Rng,
    total: usize,
    min_seg: usize,
) -> impl FnMut(usize) -> usize + use<> {
    // Keep the packet count bounded (debug builds), but reach 1-byte segments.
    let floor = (total / 12_000 + 1).max(min_seg);
    let max = rng.pick(&[1usize, 2, 7, 64, 300, 1460, 9000]).max(floor);
    let mut r = Rng::new(rng.next());
    move |rest: usize| {
        if r.chance(1, 8) {
            r.range(1, 3.max(floor)).min(rest)
        } else {
            r.range(1, max).min(rest)
        }
    }
}

/// Full-sized segments.
pub fn mss_segmenter(mss: usize) -> impl FnMut(usize) -> usize {
    move |rest: usize| rest.min(mss)
}

/// Insert segments that resend a random range (up to 3000 bytes) of what was already sent,
/// overlapping earlier segment boundaries.
pub fn retransmit(rng: &mut Rng, c: &Conv, pkts: &mut Vec<Pkt>, k: usize) {
    for _ in 0..k {
        let pos = rng.range(3, pkts.len());
        let d = rng.below(2);
        let mut end = 0;
        let mut ack = None;
        for q in &pkts[..pos] {
            if q.dir == d {
                end = end.max(q.end());
                if q.flags & ACK != 0 {
                    ack = Some(q.ack);
                }
            }
        }
        let (Some(ack), true) = (ack, end > 0) else {
            continue;
        };
        let a = rng.below(end as usize) as u64;
        let b = (a + rng.range(1, 3000) as u64).min(end);
        let p = Pkt {
            dir: d,
            seq: c.spec.isn[d].wrapping_add(1).wrapping_add(a as u32),
            ack,
            flags: ACK,
            off: a,
            data: c.stream[d][a as usize..b as usize].to_vec(),
            ts: 0,
        };
        pkts.insert(pos, p);
    }
}

/// Indexes of the packets that carry data.
pub fn data_packets(pkts: &[Pkt]) -> Vec<usize> {
    (0..pkts.len())
        .filter(|&i| !pkts[i].data.is_empty())
        .collect()
}

/// Segments of one client→server connection, built by hand (no handshake): (direction, payload,
/// extra flags). Client ISN+1 = 1000, server ISN+1 = 5000; a FIN takes one sequence number.
pub fn hand(parts: &[(usize, &[u8], u8)]) -> Vec<Pkt> {
    let mut sent = [0u64; 2];
    let base = [1000u32, 5000u32];
    let mut pkts: Vec<Pkt> = parts
        .iter()
        .map(|&(d, data, flags)| {
            let p = Pkt {
                dir: d,
                seq: base[d].wrapping_add(sent[d] as u32),
                ack: base[1 - d].wrapping_add(sent[1 - d] as u32),
                flags: ACK | flags,
                off: sent[d],
                data: data.to_vec(),
                ts: 0,
            };
            sent[d] += data.len() as u64 + (flags & FIN != 0) as u64;
            p
        })
        .collect();
    stamp(&mut pkts, 1_714_564_800_000_000);
    pkts
}

/// `hand` without extra flags.
pub fn hand_segments(parts: &[(usize, &[u8])]) -> Vec<Pkt> {
    hand(&parts.iter().map(|&(d, b)| (d, b, 0)).collect::<Vec<_>>())
}

/// The directions of hand-built segments: client → server, server → client.
pub const C: usize = 0;
pub const S: usize = 1;
