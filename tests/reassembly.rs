//! Property and fault-injection tests of TCP reassembly and HTTP/1.x parsing, driven through the
//! library in-process (`support::pipeline`: frames → decode → tracker → view → JSON line).
//!
//! The framework is in `support::reasm`: a seeded generator builds realistic HTTP/1.1
//! conversations on one client→server connection (keep-alive, pipelining, chunked bodies,
//! 100-continue, HEAD, 204, 304, close-delimited HTTP/1.0, wrapping sequence numbers, IPv4 and
//! IPv6, every link type), a synthetic capture turns them into frames, the fault injector
//! (`pcap_sensor::source::fault`) wraps it, an oracle says what must come out, a shrinker
//! minimises failures. Then:
//!
//! * `in_order_…`: MSS-sized segments in order give exactly the expected trace per exchange
//!   (method, target, path, query, version, host, headers, bodies, sizes, flags, addresses).
//! * `timestamps_…`: `ts` is the request's first packet, `duration_us` ends at the response's last.
//! * `harmless_faults_…`: random segmentation (down to 1-byte segments), duplicates, reordering
//!   within 30 KiB (never past an ACK that covers the segment), overlapping retransmissions,
//!   every packet twice in a row (`-i any` on loopback: traces identical, ts included), a capture
//!   that starts mid-connection at a message boundary, and all of them combined: same traces.
//!   (Duplicates, reordering and the doubled packets are the injector's; segmentation,
//!   retransmissions and where the capture starts are the generator's: see `reasm::cases`.)
//! * `lost_bytes_…`: a segment the peer acknowledged lost by the injector, or a capture that
//!   starts inside a message: no panic, every exchange not touching lost bytes (see `affected`)
//!   comes out exactly and in order, a gap is counted, nothing is invented.
//! * `thousand_connections_…`: 1000 interleaved connections through an 8-flow table.
//! * `random_and_truncated_frames_…`, `tracker_survives_…`: random, mutated and truncated frames
//!   of every link type, random segments with hostile payloads: no panic, valid JSON, no leak.
//! * Small hand-written regressions, one per bug class the properties found.
//!
//! Every run ends with `close_all` and checks that every pool window and chunk was given back.
//!
//! A failing property prints, for each kind of failure, a minimised case (fewer exchanges, shorter
//! bodies, larger segments) with the segments as the sensor saw them; other failing seeds are
//! listed one per line.
//! `REASM_SEED=0x...` runs only that seed in every property test; `REASM_CASES=N` changes how many
//! cases run (defaults keep the whole file under ~20 s in a debug build).

mod support;

use std::net::IpAddr;

use serde_json::json;

use support::packet::{ACK, ALL_LINKS, FIN, RST, SYN, TcpHeader, dlt, ip_bytes, tcp_bytes};
use support::pipeline::{Feeder, Limits, decode, decode_checked, link_supported};
use support::reasm::capture::{run, run_schedule};
use support::reasm::cases::{Fault, run_hand};
use support::reasm::conversation::{Conv, build_conv, gen_spec, small_spec};
use support::reasm::garbage::{garbage_payload, valid_frame};
use support::reasm::oracle::{expect_json, first_diff, owner, show, trace_for, without_times};
use support::reasm::segments::{
    C, Pkt, S, build_packets, hand, hand_segments, mss_segmenter, seq_gt, stamp,
};
use support::reasm::shrink::{Failures, catch};
use support::rng::{Rng, mix, seeds};
use support::text::rfc3339_from_micros as rfc3339;

// ───────────────────────────── the properties ─────────────────────────────

#[test]
fn in_order_capture_gives_exactly_the_conversation() {
    let mut f = Failures::new("in_order");
    for s in seeds("in_order", 100) {
        let spec = gen_spec(&mut Rng::new(s));
        f.check(&spec, Fault::InOrder, mix(s, 1), s);
    }
    f.finish();
}

/// `ts` is the request's first packet, `duration_us` runs to the response's last packet.
#[test]
fn timestamps_are_first_request_packet_to_last_response_packet() {
    let mut f = Failures::new("timing");
    for s in seeds("in_order", 100) {
        let spec = gen_spec(&mut Rng::new(s));
        f.check(&spec, Fault::Timing, mix(s, 1), s);
    }
    f.finish();
}

#[test]
fn harmless_faults_change_nothing() {
    let mut f = Failures::new("harmless");
    for s in seeds("harmless", 30) {
        let spec = gen_spec(&mut Rng::new(s));
        for (k, fault) in [
            Fault::Segmentation,
            Fault::Duplicates,
            Fault::Reorder,
            Fault::Retransmit,
            Fault::BackToBack,
            Fault::MidBoundary,
            Fault::Combined,
        ]
        .into_iter()
        .enumerate()
        {
            f.check(&spec, fault, mix(s, 10 + k as u64), s);
        }
    }
    f.finish();
}

#[test]
fn lost_bytes_resynchronise_and_invent_nothing() {
    let mut f = Failures::new("lossy");
    for s in seeds("lossy", 100) {
        let spec = gen_spec(&mut Rng::new(s));
        f.check(&spec, Fault::DropSegment, mix(s, 20), s);
        f.check(&spec, Fault::MidMessage, mix(s, 21), s);
    }
    f.finish();
}

// ───────────────────────────── bounds: many connections, few flows ─────────────────────────────

#[test]
fn thousand_connections_through_eight_flows() {
    for s in seeds("bounds", 2) {
        let r = catch(false, || {
            let mut rng = Rng::new(s);
            let n = 1000;
            let lim = Limits {
                max_flows: 8,
                pool_bytes: 4 << 20,
                timeout_us: 10_000_000,
                max_body: 1 << 20,
            };
            let convs: Vec<Conv> = (0..n + 100)
                .map(|i| build_conv(&small_spec(i, &mut rng)))
                .collect();
            let pkts: Vec<Vec<Pkt>> = convs
                .iter()
                .map(|c| build_packets(c, &mut mss_segmenter(1460)).0)
                .collect();
            let longest = pkts.iter().map(Vec::len).max().unwrap();

            // 1. All 1000 interleaved packet by packet: far more live connections than flows.
            let rr: Vec<(usize, usize)> = (0..longest)
                .flat_map(|k| (0..n).map(move |i| (i, k)))
                .filter(|&(i, k)| k < pkts[i].len())
                .collect();
            let out = run_schedule(&convs, &pkts, &rr, &lim)?;
            if out.stats.flows_evicted == 0 {
                return Err("1000 interleaved connections, 8 flows, but flows_evicted=0".into());
            }
            for t in &out.traces {
                owner(&convs, t)?;
            }

            // 2. The same background, with 100 short connections run back to back at random
            //    moments: each completes while it is the most recent flow, so each comes out.
            let mut order = Vec::new();
            let mut at: Vec<usize> = (0..100).map(|_| rng.below(rr.len())).collect();
            at.sort_unstable();
            let mut fg = at.iter().enumerate().peekable();
            for (pos, &x) in rr.iter().enumerate() {
                while let Some(&(j, &p)) = fg.peek() {
                    if p != pos {
                        break;
                    }
                    order.extend((0..pkts[n + j].len()).map(|k| (n + j, k)));
                    fg.next();
                }
                order.push(x);
            }
            let out = run_schedule(&convs, &pkts, &order, &lim)?;
            if out.stats.flows_evicted == 0 {
                return Err("background of 1000 connections but flows_evicted=0".into());
            }
            let mut seen = vec![0; n + 100];
            for t in &out.traces {
                let i = owner(&convs, t)?;
                seen[i] += 1;
                if i >= n {
                    let want = expect_json(&convs[i], &convs[i].exs[0]);
                    if let Some(d) = first_diff(&want, &without_times(t), "") {
                        return Err(format!("short connection {}: {d}", i - n));
                    }
                }
            }
            if let Some(j) = (n..n + 100).find(|&i| seen[i] != 1) {
                return Err(format!(
                    "short connection {} (between evictions) gave {} traces, not 1",
                    j - n,
                    seen[j]
                ));
            }

            // 3. At most 6 connections at a time, round robin: all fit, all come out.
            let lanes = 6;
            let mut order = Vec::new();
            let mut cur: Vec<(usize, usize)> = (0..lanes).map(|l| (l, 0)).collect();
            let mut next_conn = lanes;
            while !cur.is_empty() {
                let mut l = 0;
                while l < cur.len() {
                    let (i, k) = cur[l];
                    order.push((i, k));
                    if k + 1 < pkts[i].len() {
                        cur[l].1 += 1;
                    } else if next_conn < n {
                        cur[l] = (next_conn, 0);
                        next_conn += 1;
                    } else {
                        cur.remove(l);
                        continue;
                    }
                    l += 1;
                }
            }
            let out = run_schedule(&convs, &pkts, &order, &lim)?;
            if out.stats.flows_evicted != 0 {
                return Err(format!(
                    "6 concurrent connections in 8 flows, yet flows_evicted={}",
                    out.stats.flows_evicted
                ));
            }
            let mut seen = vec![0; n];
            for t in &out.traces {
                let i = owner(&convs, t)?;
                let want = expect_json(&convs[i], &convs[i].exs[0]);
                if let Some(d) = first_diff(&want, &without_times(t), "") {
                    return Err(format!("connection {i}: {d}"));
                }
                seen[i] += 1;
            }
            if let Some(i) = (0..n).find(|&i| seen[i] != 1) {
                return Err(format!("connection {i} gave {} traces, not 1", seen[i]));
            }
            Ok(())
        });
        if let Err(e) = r {
            panic!("bounds (seed {s:#x}, rerun with REASM_SEED={s:#x}): {e}");
        }
    }
}

// ───────────────────────────── garbage: decoder and tracker ─────────────────────────────

#[test]
fn random_and_truncated_frames_of_every_link_type() {
    for lt in ALL_LINKS {
        assert!(link_supported(*lt), "link type {lt} not supported");
    }
    for s in seeds("frames", 3) {
        let r = catch(false, || {
            let mut rng = Rng::new(s);
            let mut fd = Feeder::new(&Limits {
                max_flows: 4,
                pool_bytes: 1 << 20,
                timeout_us: 1_000_000,
                max_body: 300,
            });
            for &lt in ALL_LINKS.iter().chain(&[2, 147, -1, 65535]) {
                let known = ALL_LINKS.contains(&lt);
                // Random bytes of random lengths.
                for _ in 0..400 {
                    let len = rng.below(200);
                    let f = rng.bytes(len);
                    if let Some(seg) = decode_checked(lt, &f) {
                        fd.feed(&seg, 7);
                    }
                }
                if !known {
                    let (f, _) = valid_frame(&mut rng, dlt::RAW);
                    if decode(lt, &f).is_ok() {
                        return Err(format!("unknown link type {lt} decoded"));
                    }
                    continue;
                }
                // Every prefix of valid frames: headers cut → skipped; payload cut → the rest is
                // reported missing.
                for _ in 0..12 {
                    let (f, payload) = valid_frame(&mut rng, lt);
                    let full = decode_checked(lt, &f)
                        .ok_or_else(|| format!("link type {lt}: valid frame not decoded"))?;
                    if full.payload != &payload[..] || full.missing != 0 {
                        return Err(format!("link type {lt}: valid frame decoded wrong"));
                    }
                    let ps = f.len() - payload.len();
                    for n in 0..f.len() {
                        let r = decode_checked(lt, &f[..n]);
                        match r {
                            Some(_) if n < ps => {
                                return Err(format!(
                                    "link type {lt}: frame cut at {n} inside the headers (payload at {ps}) decoded"
                                ));
                            }
                            Some(seg) => {
                                let have = n - ps;
                                if seg.payload != &payload[..have]
                                    || seg.missing as usize != payload.len() - have
                                {
                                    return Err(format!(
                                        "link type {lt}: frame cut at {n}: payload {} missing {}, want {have} and {}",
                                        seg.payload.len(),
                                        seg.missing,
                                        payload.len() - have
                                    ));
                                }
                                fd.feed(&seg, 3);
                            }
                            None if n >= ps && lt != dlt::NFLOG => {
                                return Err(format!(
                                    "link type {lt}: frame cut at {n} inside the payload not decoded"
                                ));
                            }
                            None => {}
                        }
                    }
                }
                // Valid frames with a few bytes changed, some also cut.
                for _ in 0..400 {
                    let (mut f, _) = valid_frame(&mut rng, lt);
                    for _ in 0..rng.range(1, 4) {
                        let at = rng.below(f.len().min(90));
                        f[at] = if rng.chance(1, 2) {
                            rng.next() as u8
                        } else {
                            f[at] ^ (1 << rng.below(8))
                        };
                    }
                    if rng.chance(1, 3) {
                        f.truncate(rng.below(f.len() + 1));
                    }
                    if let Some(seg) = decode_checked(lt, &f) {
                        fd.feed(&seg, 11);
                    }
                }
            }
            fd.finish().map(|_| ())
        });
        if let Err(e) = r {
            panic!("frames (seed {s:#x}, rerun with REASM_SEED={s:#x}): {e}");
        }
    }
}

#[test]
fn tracker_survives_random_segments() {
    for s in seeds("garbage", 12) {
        let r = catch(false, || {
            let mut rng = Rng::new(s);
            let convs: Vec<Conv> = (0..4).map(|_| build_conv(&gen_spec(&mut rng))).collect();
            let lim = Limits {
                max_flows: rng.range(1, 12) as u32,
                pool_bytes: rng.pick(&[0, 100_000, 300_000, 2 << 20]),
                timeout_us: rng.pick(&[1_000, 1_000_000, 10_000_000]),
                max_body: rng.pick(&[0, 1, 100, 5000, 1 << 20]),
            };
            let mut fd = Feeder::new(&lim);
            let hosts = [
                IpAddr::from([10, 0, 0, 1]),
                IpAddr::from([10, 0, 0, 2]),
                IpAddr::from([127, 0, 0, 1]),
                "fd00::1".parse().unwrap(),
            ];
            let ports = [80u16, 8080, 40_000, 40_001, 0];
            // Per (host, port) pair a running sequence number, so that many segments land
            // near the ones before them (in order, overlapping, or just ahead).
            let mut cursor = [[0u32; 5]; 4];
            for row in cursor.iter_mut() {
                for c in row.iter_mut() {
                    *c = if rng.chance(1, 2) {
                        u32::MAX - rng.below(5000) as u32
                    } else {
                        rng.next() as u32
                    };
                }
            }
            for _ in 0..1500 {
                let (a, b) = (rng.below(4), rng.below(4));
                let (b, v6) = if (a == 3) != (b == 3) {
                    (a, a == 3) // same family: talk to itself
                } else {
                    (b, a == 3)
                };
                let _ = v6;
                let (pa, pb) = (rng.below(5), rng.below(5));
                let data = garbage_payload(&mut rng, &convs);
                let seq = match rng.below(6) {
                    0 => rng.next() as u32,
                    1 => cursor[a][pa].wrapping_sub(rng.below(3000) as u32),
                    2 => cursor[a][pa].wrapping_add(rng.below(70_000) as u32),
                    _ => cursor[a][pa],
                };
                if !seq_gt(cursor[a][pa], seq.wrapping_add(data.len() as u32)) {
                    cursor[a][pa] = seq.wrapping_add(data.len() as u32);
                }
                let ack = match rng.below(4) {
                    0 => rng.next() as u32,
                    _ => cursor[b][pb].wrapping_add(rng.below(3) as u32),
                };
                let flags = match rng.below(40) {
                    0..=1 => SYN,
                    2 => SYN | ACK,
                    3..=4 => FIN | ACK,
                    5 => RST,
                    6 => RST | ACK,
                    7 => rng.next() as u8,
                    8 => 0,
                    _ => ACK,
                };
                let h = TcpHeader {
                    sport: ports[pa],
                    dport: ports[pb],
                    seq,
                    ack,
                    flags,
                };
                let tcp = tcp_bytes(&h, &data, rng.chance(1, 2));
                let ip = ip_bytes(hosts[a], hosts[b], &tcp, false);
                let mut s = decode(dlt::RAW, &ip)?;
                if rng.chance(1, 30) {
                    s.missing = rng.below(3000) as u32;
                }
                s.md5 = rng.chance(1, 30);
                let dt = match rng.below(20) {
                    0 => rng.below(20_000_000) as u64,
                    1 => 0,
                    _ => rng.below(2000) as u64,
                };
                fd.feed(&s, dt);
                if rng.chance(1, 10) {
                    fd.expire();
                }
            }
            fd.finish().map(|_| ())
        });
        if let Err(e) = r {
            panic!("garbage (seed {s:#x}, rerun with REASM_SEED={s:#x}): {e}");
        }
    }
}

/// A response head cut by a lost segment, then a complete exchange whose response head comes in
/// fragments: the second exchange gets its own response (the property tests found responses
/// completed in the reassembly window being paired without their ACK number; fixed in 7d6ed3b).
#[test]
fn response_after_a_cut_response_is_paired_by_ack() {
    let out = run_hand(
        &[
            (C, b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n", 0),
            (S, b"HTTP/1.1 200 OK\r\nAllow: GET, DEL", 0),
            (S, b"ET", 0), // lost
            (S, b"E\r\nContent-Length: 0\r\n\r\n", 0),
            (C, b"GET /b HTTP/1.1\r\nHost: x\r\n\r\n", 0),
            (S, b"HTT", 0),
            (S, b"P/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", 0),
        ],
        &[2],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let b =
        trace_for(&out, "/b").unwrap_or_else(|| panic!("no single trace for /b:{}", show(&out)));
    assert_eq!(b["response"]["status"], json!(404), "{}", show(&out));
    if let Some(a) = trace_for(&out, "/a") {
        assert!(
            a["response"].is_null() || a["response"]["body_truncated"] == json!(true),
            "/a shows a complete response it never got:{}",
            show(&out)
        );
    }
}

/// The first bytes of a request line lost: what follows ("ETE /x HTTP/1.1") is not a request.
#[test]
fn request_line_cut_by_a_loss_is_not_a_new_method() {
    let out = run_hand(
        &[
            (C, b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n", 0),
            (S, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0),
            (C, b"DEL", 0), // lost
            (C, b"ETE /x HTTP/1.1\r\nHost: x\r\n\r\n", 0),
            (S, b"HTTP/1.1 204 No Content\r\n\r\n", 0),
            (C, b"GET /c HTTP/1.1\r\nHost: x\r\n\r\n", 0),
            (S, b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nc", 0),
        ],
        &[2],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    for t in &out.traces {
        let m = t["request"]["method"].as_str().unwrap_or("");
        assert!(
            m == "GET" || m == "DELETE",
            "invented method {m:?}:{}",
            show(&out)
        );
    }
    let c = trace_for(&out, "/c").unwrap_or_else(|| panic!("/c lost:{}", show(&out)));
    assert_eq!(c["response"]["status"], json!(200), "{}", show(&out));
}

/// The last data segment of a close-delimited response lost, then FIN: the response is cut, so
/// it must be flagged truncated, and the hole counted as a gap.
#[test]
fn close_delimited_response_missing_its_tail_is_truncated() {
    let out = run_hand(
        &[
            (C, b"GET /legacy HTTP/1.0\r\n\r\n", 0),
            (
                S,
                b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nfirst part, ",
                0,
            ),
            (S, b"second part", 0), // lost
            (S, b"", FIN),
            (C, b"", FIN),
            (S, b"", 0),
        ],
        &[2],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let t = trace_for(&out, "/legacy").unwrap_or_else(|| panic!("no trace:{}", show(&out)));
    assert_eq!(
        t["response"]["body_truncated"],
        json!(true),
        "the response lost its last 11 bytes but is shown complete:{}",
        show(&out)
    );
    assert!(
        out.stats.gaps > 0,
        "a lost segment but gaps=0:{}",
        show(&out)
    );
}

/// A capture that starts after a HEAD request: its response (Content-Length, no body) has no
/// request to pair with; the next exchange must still come out whole.
#[test]
fn response_to_an_unseen_head_request_does_not_swallow_the_next_one() {
    let out = run_hand(
        &[
            (C, b"HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n", 0), // before the capture
            (S, b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", 0),
            (C, b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n", 0),
            (S, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 0),
        ],
        &[0],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let t = trace_for(&out, "/next").unwrap_or_else(|| panic!("/next lost:{}", show(&out)));
    assert_eq!(t["response"]["body"], json!("ok"), "{}", show(&out));
}

/// `ts` is the request's first packet, also when its head spans two segments.
#[test]
fn ts_is_the_first_packet_of_a_request_split_over_segments() {
    let parts: &[(usize, &[u8], u8)] = &[
        (C, b"GET /ts HTTP/1.1\r\n", 0),
        (C, b"Host: x\r\n\r\n", 0),
        (S, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0),
    ];
    let pkts = hand(parts);
    let out = run_hand(parts, &[]).unwrap_or_else(|e| panic!("{e}"));
    let t = trace_for(&out, "/ts").unwrap_or_else(|| panic!("no trace:{}", show(&out)));
    assert_eq!(t["ts"], json!(rfc3339(pkts[0].ts)), "{}", show(&out));
    assert_eq!(t["duration_us"], json!(pkts[2].ts - pkts[0].ts));
}

/// Minimal repro found by `tracker_survives_random_segments`: a request head that the message
/// pool cannot hold whole (pool of 16 chunks = 32 KiB, head of 40 KB) followed by a body.
#[test]
fn head_larger_than_the_free_pool_then_a_body() {
    let r = catch(true, || {
        let mut head = b"POST /big HTTP/1.1\r\nX-Big: ".to_vec();
        head.resize(head.len() + 40_000, b'a');
        head.extend_from_slice(b"\r\nContent-Length: 1\r\n\r\nx");
        let resp: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        let mut spec = small_spec(0, &mut Rng::new(1));
        spec.isn = [999, 4999];
        let mut pkts = hand_segments(&[(0, &head), (1, resp)]);
        stamp(&mut pkts, spec.t0);
        let lim = Limits {
            max_flows: 4,
            pool_bytes: 0, // the minimum: 2 windows, 16 chunks
            timeout_us: 10_000_000,
            max_body: 1000,
        };
        let out = run(&spec, &pkts, &lim)?;
        // The head could not be kept: no trace, and the loss is counted.
        if !out.traces.is_empty() || out.stats.pool_exhausted == 0 {
            return Err(format!(
                "want no trace and pool_exhausted > 0, got {} trace(s), {}",
                out.traces.len(),
                out.stats.line()
            ));
        }
        Ok(())
    });
    if let Err(e) = r {
        panic!(
            "one 40 KB request head + 1-byte body, then the response, with a 32 KiB message pool: {e}"
        );
    }
}
