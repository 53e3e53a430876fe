//! Shared by the HTTP/2 tests: TCP payloads of a capture file, per direction, in sequence
//! order, with their segment boundaries. Link types Ethernet (with VLAN tags), Linux SLL and
//! SLL2, BSD NULL/LOOP and raw IP; IPv4 (no fragments) and IPv6 (no extension headers but
//! hop-by-hop, routing and destination options); TCP. Reassembly is simple on purpose:
//! retransmitted bytes are dropped, and a jump ahead (a gap, or reordering) starts a new run.
//! Independent of the sensor's own decoding, so that the tests judge the HTTP/2 code alone.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One direction of a TCP connection: src address, src port, dst address, dst port.
pub type DirKey = ([u8; 16], u16, [u8; 16], u16);

/// Contiguous bytes of a direction, as the segments that carried them.
#[derive(Default, Debug)]
pub struct Run {
    pub segments: Vec<Vec<u8>>,
}

impl Run {
    pub fn bytes(&self) -> Vec<u8> {
        self.segments.concat()
    }

    /// Offsets (in `bytes()`) where each segment ends.
    pub fn segment_ends(&self) -> Vec<usize> {
        let mut end = 0;
        self.segments
            .iter()
            .map(|s| {
                end += s.len();
                end
            })
            .collect()
    }
}

/// A direction's runs, in capture order.
#[derive(Default, Debug)]
pub struct Direction {
    pub runs: Vec<Run>,
    next: Option<u32>,
    /// Capture order of the direction's first payload, to pair directions by flow.
    pub first_seen: usize,
}

/// Directions of every TCP connection in `path` (the flow is the unordered key pair).
pub fn tcp_directions(path: &Path) -> BTreeMap<DirKey, Direction> {
    let mut out: BTreeMap<DirKey, Direction> = BTreeMap::new();
    let Ok(mut cap) = pcap::Capture::from_file(path) else {
        return out;
    };
    let linktype = cap.get_datalink().0;
    let mut index = 0;
    while let Ok(packet) = cap.next_packet() {
        index += 1;
        let Some(ip) = link_payload(linktype, packet.data) else {
            continue;
        };
        let Some(seg) = tcp_segment(ip) else {
            continue;
        };
        let dir = out.entry(seg.key).or_insert_with(|| Direction {
            first_seen: index,
            ..Direction::default()
        });
        if seg.syn {
            dir.next = Some(seg.seq.wrapping_add(1));
            dir.runs.push(Run::default());
        }
        if seg.payload.is_empty() {
            continue;
        }
        let mut payload = seg.payload;
        let mut seq = seg.seq;
        match dir.next {
            Some(next) => {
                let ahead = seq.wrapping_sub(next) as i32;
                if ahead < 0 {
                    // Retransmitted or overlapping: keep only what is new.
                    let old = ahead.unsigned_abs() as usize;
                    if old >= payload.len() {
                        continue;
                    }
                    payload = &payload[old..];
                    seq = next;
                } else if ahead > 0 || dir.runs.is_empty() {
                    dir.runs.push(Run::default());
                }
            }
            None => dir.runs.push(Run::default()),
        }
        if dir.runs.is_empty() {
            dir.runs.push(Run::default());
        }
        dir.runs.last_mut().unwrap().segments.push(payload.to_vec());
        dir.next = Some(seq.wrapping_add(payload.len() as u32));
    }
    for dir in out.values_mut() {
        dir.runs.retain(|r| !r.segments.is_empty());
    }
    out
}

/// The reverse direction's key.
pub fn reverse(key: &DirKey) -> DirKey {
    (key.2, key.3, key.0, key.1)
}

struct Segment<'a> {
    key: DirKey,
    seq: u32,
    syn: bool,
    payload: &'a [u8],
}

/// The IP packet inside a link-layer frame.
fn link_payload(linktype: i32, frame: &[u8]) -> Option<&[u8]> {
    match linktype {
        // Ethernet, with any number of VLAN tags.
        1 => {
            let mut ethertype = u16::from_be_bytes([*frame.get(12)?, *frame.get(13)?]);
            let mut at = 14;
            while matches!(ethertype, 0x8100 | 0x88a8 | 0x9100) {
                ethertype = u16::from_be_bytes([*frame.get(at + 2)?, *frame.get(at + 3)?]);
                at += 4;
            }
            ip_by_ethertype(ethertype, frame.get(at..)?)
        }
        // Linux cooked capture v1 and v2.
        113 => ip_by_ethertype(
            u16::from_be_bytes([*frame.get(14)?, *frame.get(15)?]),
            frame.get(16..)?,
        ),
        276 => ip_by_ethertype(
            u16::from_be_bytes([*frame.first()?, *frame.get(1)?]),
            frame.get(20..)?,
        ),
        // BSD loopback: a 4-byte address family, host or network order.
        0 | 108 => {
            let ip = frame.get(4..)?;
            matches!(ip.first()? >> 4, 4 | 6).then_some(ip)
        }
        // Raw IP.
        101 | 12 | 14 | 228 | 229 => Some(frame),
        _ => None,
    }
}

fn ip_by_ethertype(ethertype: u16, ip: &[u8]) -> Option<&[u8]> {
    matches!(ethertype, 0x0800 | 0x86dd).then_some(ip)
}

fn tcp_segment(ip: &[u8]) -> Option<Segment<'_>> {
    let (src, dst, tcp) = match ip.first()? >> 4 {
        4 => {
            let ihl = usize::from(ip[0] & 0xf) * 4;
            let total = usize::from(u16::from_be_bytes([*ip.get(2)?, *ip.get(3)?]));
            let fragment = u16::from_be_bytes([*ip.get(6)?, *ip.get(7)?]);
            if *ip.get(9)? != 6 || fragment & 0x3fff != 0 || ihl < 20 {
                return None;
            }
            let mut src = [0u8; 16];
            let mut dst = [0u8; 16];
            src[12..].copy_from_slice(ip.get(12..16)?);
            dst[12..].copy_from_slice(ip.get(16..20)?);
            (src, dst, ip.get(ihl..total.min(ip.len()))?)
        }
        6 => {
            let payload_len = usize::from(u16::from_be_bytes([*ip.get(4)?, *ip.get(5)?]));
            let mut next = *ip.get(6)?;
            let mut at = 40;
            while matches!(next, 0 | 43 | 60) {
                next = *ip.get(at)?;
                at += (usize::from(*ip.get(at + 1)?) + 1) * 8;
            }
            if next != 6 {
                return None;
            }
            let src: [u8; 16] = ip.get(8..24)?.try_into().ok()?;
            let dst: [u8; 16] = ip.get(24..40)?.try_into().ok()?;
            (src, dst, ip.get(at..(40 + payload_len).min(ip.len()))?)
        }
        _ => return None,
    };
    let offset = usize::from(*tcp.get(12)? >> 4) * 4;
    if offset < 20 {
        return None;
    }
    Some(Segment {
        key: (
            src,
            u16::from_be_bytes([tcp[0], tcp[1]]),
            dst,
            u16::from_be_bytes([tcp[2], tcp[3]]),
        ),
        seq: u32::from_be_bytes([tcp[4], tcp[5], tcp[6], tcp[7]]),
        syn: tcp[13] & 0x02 != 0,
        payload: tcp.get(offset..)?,
    })
}

/// A capture committed under tests/data/h2/.
pub fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/h2")
        .join(name)
}

/// The shared capture corpus's `corpus/` directory (`$PCAP_CORPUS`, else `../shared/pcaps`
/// beside the repository); a test that needs it fails when it is missing, naming what to do.
#[track_caller]
pub fn corpus_dir() -> PathBuf {
    super::require::corpus_dir().join("corpus")
}

/// Every capture file under `dir` (not compressed ones), sorted.
pub fn captures(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p
                .extension()
                .is_some_and(|x| x == "pcap" || x == "pcapng" || x == "cap")
            {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}
