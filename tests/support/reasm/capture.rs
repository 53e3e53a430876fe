//! The synthetic capture: a conversation's segments as frames of its link type (IPv4 or IPv6,
//! with the link header's variants), held in a `Frames` source that reads like a recording and
//! that the fault injector can wrap. Every frame is checked to decode back to its segment, so a
//! failing property is the sensor's fault, not the frame builder's.

use pcap_sensor::source::{Frames, OwnedFrame, Source};

use crate::support::packet::{TcpHeader, dlt, ip_bytes, link_frame, tcp_bytes};
use crate::support::pipeline::{self, Limits, Outcome, tcp_fields};
use crate::support::reasm::conversation::{Conv, ConvSpec, ip_of};
use crate::support::reasm::segments::Pkt;

/// The frame that carries `p` (TCP options on every other segment, an IPv6 hop-by-hop header
/// and the link header's form as `spec.variant` says).
pub fn frame_for(spec: &ConvSpec, p: &Pkt) -> Vec<u8> {
    let h = TcpHeader {
        sport: spec.ports[p.dir],
        dport: spec.ports[1 - p.dir],
        seq: p.seq,
        ack: p.ack,
        flags: p.flags,
    };
    let tcp = tcp_bytes(&h, &p.data, p.seq & 1 == 0);
    let ip = ip_bytes(
        ip_of(spec, p.dir),
        ip_of(spec, 1 - p.dir),
        &tcp,
        spec.variant & 8 != 0,
    );
    link_frame(spec.linktype, &ip, spec.variant)
}

/// `pkts` as a recording, each at its `ts`.
pub fn capture(spec: &ConvSpec, pkts: &[Pkt]) -> Result<Frames, String> {
    let mut frames = Vec::with_capacity(pkts.len());
    for (i, p) in pkts.iter().enumerate() {
        let data = frame_for(spec, p);
        let s = tcp_fields(spec.linktype, &data).map_err(|e| format!("packet {i}: {e}"))?;
        if s.seq != p.seq || s.ack != p.ack || s.flags != p.flags || s.payload != &p.data[..] {
            return Err(format!("packet {i}: decoded differently: {s:?}"));
        }
        if s.sport != spec.ports[p.dir] || s.missing != 0 {
            return Err(format!("packet {i}: decoded differently: {s:?}"));
        }
        frames.push(OwnedFrame {
            ts_us: p.ts,
            linktype: spec.linktype,
            data,
        });
    }
    Ok(Frames::new("synthetic", spec.linktype, frames))
}

/// Read `src` (a capture of one conversation, faults and all) through the sensor with `lim`.
pub fn run_source(src: &mut dyn Source, lim: &Limits) -> Result<Outcome, String> {
    pipeline::run(src, lim, 50)
}

/// `pkts` as the capture, read through the sensor with `lim`.
pub fn run(spec: &ConvSpec, pkts: &[Pkt], lim: &Limits) -> Result<Outcome, String> {
    run_source(&mut capture(spec, pkts)?, lim)
}

/// Many conversations (raw IP frames) interleaved: `order` lists (conversation, packet) pairs;
/// the capture times are 10 µs apart.
pub fn schedule(convs: &[Conv], pkts: &[Vec<Pkt>], order: &[(usize, usize)]) -> Frames {
    let frames = order.iter().enumerate().map(|(n, &(i, k))| OwnedFrame {
        ts_us: convs[i].spec.t0 + n as u64 * 10,
        linktype: dlt::RAW,
        data: frame_for(&convs[i].spec, &pkts[i][k]),
    });
    Frames::new("schedule", dlt::RAW, frames)
}

/// `schedule(convs, pkts, order)` read through the sensor with `lim`, the idle timer run every
/// 100 frames.
pub fn run_schedule(
    convs: &[Conv],
    pkts: &[Vec<Pkt>],
    order: &[(usize, usize)],
    lim: &Limits,
) -> Result<Outcome, String> {
    pipeline::run(&mut schedule(convs, pkts, order), lim, 100)
}
