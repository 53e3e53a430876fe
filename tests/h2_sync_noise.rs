//! False boundaries: the HTTP/2 frame boundary finder run, as a TCP layer would run it, over
//! bytes that are not HTTP/2 frames: random bytes, and every TCP payload of the shared capture
//! corpus (HTTP/1 heads and bodies, TLS, other protocols) except its cleartext HTTP/2
//! connections. Every boundary found there is false; the figures are printed. The corpus is
//! `$PCAP_CORPUS/corpus` (else `../shared/pcaps/corpus` beside the repository); without it
//! that test says so and passes.

mod support;

use std::collections::BTreeMap;

use pcap_sensor::http2::frame::{Boundary, DEFAULT_MAX_FRAME_SIZE, find_boundary, sync_span};
use pcap_sensor::http2::preface;
use support::h2::{Direction, captures, corpus_dir, reverse, tcp_directions};

/// Offers `segments` one by one to a window (as a TCP layer holding a direction's contiguous
/// bytes): Skip drops bytes, NeedMore waits for the next segment, Found is counted and the
/// search goes on after it. Returns the boundaries found.
fn count_found<'a>(segments: impl IntoIterator<Item = &'a [u8]>) -> usize {
    let mut window: Vec<u8> = Vec::new();
    let mut found = 0;
    for segment in segments {
        window.extend_from_slice(segment);
        loop {
            match find_boundary(&window, DEFAULT_MAX_FRAME_SIZE) {
                Boundary::Found(p) => {
                    found += 1;
                    window.drain(..=p);
                }
                Boundary::Skip(n) => {
                    window.drain(..n);
                    break;
                }
                Boundary::NeedMore => break,
            }
        }
        assert!(window.len() <= sync_span(DEFAULT_MAX_FRAME_SIZE));
    }
    found
}

/// xorshift64.
fn random_bytes(len: usize, mut state: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

#[test]
fn random_bytes_give_no_boundary() {
    // H2_NOISE_MIB sets the size (16 MiB by default).
    let mib = std::env::var("H2_NOISE_MIB").map_or(16, |v| v.parse().unwrap());
    let bytes = random_bytes(mib << 20, 0x2545_f491_4f6c_dd1d);
    // Segments of an Ethernet MSS, and of loopback's 64 KiB.
    for mss in [1448, 65_483] {
        let found = count_found(bytes.chunks(mss));
        println!(
            "random: {} MiB in segments of {mss}: {found} found",
            bytes.len() >> 20
        );
        assert_eq!(found, 0);
    }
}

/// Whether a connection is cleartext HTTP/2: the preface (after an Upgrade or a proxy's
/// HTTP/1 exchange too) or `Upgrade: h2c` in the first 64 KiB of either direction.
fn is_h2c(dirs: &[&Direction]) -> bool {
    dirs.iter().any(|d| {
        let head: Vec<u8> = d
            .runs
            .iter()
            .flat_map(|r| &r.segments)
            .flatten()
            .take(64 * 1024)
            .copied()
            .collect();
        head.windows(preface::PREFACE.len())
            .any(|w| w == preface::PREFACE)
            || head
                .windows(12)
                .any(|w| w.eq_ignore_ascii_case(b"upgrade: h2c"))
    })
}

#[test]
fn corpus_tcp_payloads_give_no_boundary() {
    let root = corpus_dir();
    let (mut files, mut directions, mut bytes, mut segments, mut h2c) = (0, 0, 0usize, 0, 0);
    let mut found_in: BTreeMap<String, usize> = BTreeMap::new();
    for path in captures(&root) {
        files += 1;
        let dirs = tcp_directions(&path);
        for (key, dir) in &dirs {
            let both: Vec<&Direction> = [Some(dir), dirs.get(&reverse(key))]
                .into_iter()
                .flatten()
                .collect();
            if is_h2c(&both) {
                h2c += 1;
                continue;
            }
            directions += 1;
            for run in &dir.runs {
                bytes += run.segments.iter().map(Vec::len).sum::<usize>();
                segments += run.segments.len();
                let found = count_found(run.segments.iter().map(Vec::as_slice));
                if found > 0 {
                    let name = path
                        .strip_prefix(&root)
                        .unwrap_or(&path)
                        .display()
                        .to_string();
                    *found_in.entry(name).or_default() += found;
                }
            }
        }
    }
    let found: usize = found_in.values().sum();
    println!(
        "corpus: {files} captures, {directions} TCP directions ({h2c} HTTP/2 cleartext left out), \
         {segments} segments, {:.1} MiB: {found} boundaries found {found_in:?}",
        bytes as f64 / f64::from(1 << 20)
    );
    assert_eq!(found, 0, "{found_in:?}");
}
