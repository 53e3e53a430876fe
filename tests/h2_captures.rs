//! The recorded HTTP/2 and gRPC captures (tests/data/h2/, recorded by
//! tests/data/h2/record_peers.py with the live tests' peers) read by the sensor, and judged
//! against what the clients did (NAME.client.jsonl) and what tshark decodes
//! (NAME.tsv): every exchange a trace, every header of every trace equal to the wire's,
//! HAR and OTLP in HTTP/2's and gRPC's terms (issue 17, "Must show").
//!
//! The first two tests check the test bed itself (the truth files are tshark's, the
//! client records agree with the wire); they pass whatever the sensor does. The others
//! fail until the sensor decodes HTTP/2: today it prints no trace for these captures (it
//! counts the connections as `http2_flows`), and they say so.
//!
//! Needs tshark (truth) and python3; no root.

mod support;

use serde_json::{Value, json};
use std::time::Duration;
use support::h2_expect::{
    Exchange, assert_fresh_methods_decoded, assert_har_matches, assert_shapes, assert_spans_match,
    assert_traces_match, assert_traces_match_truth,
};
use support::h2_truth::{
    RECORDED, Recorded, StreamTruth, parse_tsv, recorded, streams, tshark_knowable, tshark_truth,
};
use support::offline::{apidump_args, run_sensor};
use support::process::{TempDir, read_json};
use support::sat::{SatOpts, SatSensor, Satellite};

/// The captures of one connection's start (all but grpc_mid).
const FROM_THE_START: [&str; 4] = ["h2load", "curl_prior", "curl_upgrade", "grpc_calls"];

/// What a decoder starting where grpc_mid.pcap starts can know of its streams (tshark on
/// grpc_calls.pcap, which grpc_mid.pcap was cut from).
fn mid_knowable(mid: &Recorded) -> Vec<StreamTruth> {
    let whole = recorded("grpc_calls");
    let from = mid.manifest["mid_from"]
        .as_u64()
        .expect("grpc_mid's mid_from");
    streams(
        &parse_tsv(&tshark_knowable(&whole.pcap, whole.port, from)),
        whole.port,
    )
}

/// The sensor's JSON Lines for a recorded capture (exit 0 required).
fn traces_of(rec: &Recorded) -> Vec<Value> {
    let run = run_sensor(&apidump_args(&rec.pcap, &["--out", "-"]), &[]);
    assert!(run.status.success(), "{}", run.describe());
    let traces = run.traces();
    eprintln!(
        "{}: {} traces; {}",
        rec.name,
        traces.len(),
        run.stderr_lines().last().unwrap_or(&"")
    );
    traces
}

/// The stream of the truth an exchange was, by what the client knows of it.
fn stream_is(s: &StreamTruth, ex: &Exchange) -> bool {
    let request_ok = match s.request {
        // The request an Upgrade turned into stream 1 was HTTP/1.1: no HEADERS of its own.
        None => ex.upgraded && s.stream_id == 1,
        Some(_) => {
            s.method() == Some(ex.method.as_str())
                && s.path() == Some(ex.target.as_str())
                && s.authority() == Some(ex.authority.as_str())
        }
    };
    // A gzip-compressed call says so (grpc-encoding), the others do not.
    let compressed = s.request.as_ref().is_some_and(|r| {
        r.iter()
            .any(|(n, v)| n == "grpc-encoding" && v != "identity")
    });
    request_ok
        && compressed == (ex.raw["compressed"] == true)
        && s.status() == Some(ex.status)
        && ex.grpc.as_ref().is_none_or(|g| {
            s.grpc_status() == Some(g.status_code)
                && s.grpc_message().unwrap_or_default() == g.status_message
        })
        && ex.local_port.is_none_or(|p| p == s.client_port)
}

/// The committed truth files are what tshark says of the committed captures now (a cut
/// capture's truth comes from the capture it was cut from).
#[test]
fn truth_files_are_what_tshark_says() {
    for name in RECORDED {
        let rec = recorded(name);
        let (pcap, from) = match rec.manifest["cut_from"].as_str() {
            Some(whole) => (
                recorded(whole).pcap,
                Some(rec.manifest["mid_from"].as_u64().expect("mid_from")),
            ),
            None => (rec.pcap.clone(), None),
        };
        let now = tshark_truth(&pcap, rec.port, from, name == "curl_upgrade");
        assert!(
            now == rec.truth_text,
            "tests/data/h2/{name}.tsv is not what tshark says of the capture now: re-record \
             with tests/data/h2/record_peers.py"
        );
        assert!(!rec.truth.is_empty(), "{name}: tshark decoded no stream");
    }
}

/// Every exchange a client recorded is a stream on the wire with the same method, path,
/// authority, status and gRPC status (and client port when the client knows it), and every
/// stream on the wire is an exchange a client recorded: the records and the truth can judge
/// the sensor.
#[test]
fn client_records_agree_with_the_wire() {
    for name in RECORDED {
        let rec = recorded(name);
        assert_eq!(
            rec.client.len() as u64,
            rec.manifest["exchanges"].as_u64().unwrap(),
            "{name}: client records vs manifest"
        );
        let pairs = support::h2_expect::assign(rec.client.len(), rec.truth.len(), |e, s| {
            stream_is(&rec.truth[s], &rec.client[e])
        });
        for (e, p) in pairs.iter().enumerate() {
            assert!(
                p.is_some(),
                "{name}: no stream on the wire for {}; streams:\n{}",
                rec.client[e].describe(),
                rec.truth
                    .iter()
                    .map(StreamTruth::describe)
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
        assert_eq!(
            rec.truth.len(),
            rec.client.len(),
            "{name}: streams on the wire that no client recorded"
        );
    }
    // The mid-connection capture: phase 2 of grpc_calls, all of it, and only it.
    let whole = recorded("grpc_calls");
    let mid = recorded("grpc_mid");
    let phase2: Vec<&Exchange> = whole.client.iter().filter(|e| e.phase == Some(2)).collect();
    assert_eq!(phase2.len(), mid.client.len());
    assert!(whole.client.iter().any(|e| e.phase == Some(1)));
    // The connection the channel opened before the cut is the one after it.
    let ports: std::collections::BTreeSet<u16> =
        whole.truth.iter().map(|s| s.client_port).collect();
    assert_eq!(ports.len(), 1, "grpc_calls: one channel, one connection");
}

fn every_exchange_traced(name: &str) {
    let rec = recorded(name);
    let traces = traces_of(&rec);
    assert_traces_match(&traces, &rec.client, &format!("{name}.pcap"));
    assert_traces_match_truth(&traces, &rec.truth, true, &format!("{name}.pcap"));
}

/// h2load -n 16 -c 2 -m 4 against nghttpd: 16 traces on 2 connections, four streams in
/// flight on each, every one with its path, status, size and all its headers.
#[test]
fn h2load_capture_every_exchange_traced() {
    every_exchange_traced("h2load");
}

/// curl --http2-prior-knowledge against hypercorn: a query, a POST body, trailers
/// (`response.trailers`), a 404, a body of several DATA frames.
#[test]
fn curl_prior_knowledge_capture_every_exchange_traced() {
    every_exchange_traced("curl_prior");
}

/// curl --http2 (Upgrade: h2c) against hypercorn: the upgraded request answered on stream
/// 1 is one trace with the 200 of stream 1 (not the 101), the next three are streams 3-7.
#[test]
fn curl_upgrade_capture_every_exchange_traced() {
    every_exchange_traced("curl_upgrade");
}

/// Every gRPC call kind on one channel: the `grpc` object (service, method, status and
/// percent-decoded message from trailers or a trailers-only response, message counts),
/// bodies as base64 equal to the client's length-prefixed messages.
#[test]
fn grpc_capture_every_call_traced() {
    every_exchange_traced("grpc_calls");
}

/// The gRPC capture that starts mid-connection (the suffix of grpc_calls.pcap from the
/// mark): every call of phase 2 is a trace, nothing any trace shows differs from the wire,
/// headers that cannot be known are counted, a stream whose :path is unknown is flagged,
/// and the methods first called after the cut show every field a decoder starting at the
/// cut can know (tshark on grpc_calls.pcap says which: h2_tshark.py --knowable).
#[test]
fn grpc_mid_connection_capture_nothing_wrong() {
    let mid = recorded("grpc_mid");
    let whole = recorded("grpc_calls");
    let traces = traces_of(&mid);
    assert_traces_match_truth(&traces, &mid.truth, false, "grpc_mid.pcap");
    assert_shapes(&traces, "grpc_mid.pcap");
    let before: Vec<Exchange> = whole
        .client
        .iter()
        .filter(|e| e.phase == Some(1))
        .cloned()
        .collect();
    let knowable = mid_knowable(&mid);
    assert_fresh_methods_decoded(
        &traces,
        &mid.truth,
        &knowable,
        &before,
        &mid.client,
        "grpc_mid.pcap",
    );
}

/// HAR (`--out FILE.har`): every exchange of every capture from a connection's start is an
/// entry saying HTTP/2.
#[test]
fn har_entries_say_http2() {
    let dir = TempDir::new("h2-har");
    for name in FROM_THE_START {
        let rec = recorded(name);
        let out = dir.path(&format!("{name}.har"));
        let run = run_sensor(
            &apidump_args(&rec.pcap, &["--out", out.to_str().unwrap()]),
            &[],
        );
        assert!(run.status.success(), "{}", run.describe());
        let har = read_json(&out);
        assert_har_matches(&har, &rec.client, &format!("{name}.har"));
    }
}

/// OTLP: every exchange is a span with network.protocol.version "2"; gRPC spans carry
/// rpc.system/service/method/grpc.status_code, are named service/method, and are ERROR
/// exactly for the server error codes of the conventions.
#[test]
fn otlp_spans_follow_the_conventions() {
    let mut sat = Satellite::start(SatOpts::mode(support::sat::Mode::Ok));
    for name in FROM_THE_START {
        let rec = recorded(name);
        let fin = SatSensor::spawn(
            &[
                "-r",
                rec.pcap.to_str().unwrap(),
                "--satellite-url",
                &sat.url(),
            ],
            &[],
        )
        .wait_exit(Duration::from_secs(30));
        fin.assert_exit_0();
    }
    let otlp = sat.check();
    for name in FROM_THE_START {
        let rec = recorded(name);
        let spans: Vec<&Value> = otlp
            .delivered()
            .into_iter()
            .filter(|s| s["attributes"]["server.port"] == rec.port)
            .collect();
        assert_spans_match(&spans, &rec.client, &format!("{name}.pcap as OTLP"));
    }
}

/// The checks themselves: the traces the wire and the clients describe
/// (`h2_expect::ideal_trace`) pass every check above, and altered ones fail: a wrong header
/// value, a pseudo-header in the headers, a wrong gRPC status, a missing trace; on the
/// mid-connection capture, honest partial traces (path null, flagged, headers counted)
/// pass, a wrong path does not. So the tests above can pass, and only with right traces.
#[test]
fn checks_accept_right_traces_and_reject_wrong_ones() {
    use std::panic::{AssertUnwindSafe, catch_unwind};
    use support::h2_expect::{assign, check_shape, check_trace, ideal_trace, partial_trace};
    let fails = |f: &dyn Fn()| catch_unwind(AssertUnwindSafe(f)).is_err();
    let ideal = |rec: &Recorded| -> Vec<Value> {
        let pairs = assign(rec.client.len(), rec.truth.len(), |e, s| {
            stream_is(&rec.truth[s], &rec.client[e])
        });
        pairs
            .iter()
            .zip(&rec.client)
            .map(|(s, ex)| ideal_trace(ex, &rec.truth[s.expect("a stream per exchange")]))
            .collect()
    };
    for name in FROM_THE_START {
        let rec = recorded(name);
        let traces = ideal(&rec);
        assert_traces_match(&traces, &rec.client, name);
        assert_traces_match_truth(&traces, &rec.truth, true, name);

        let mut wrong = traces.clone();
        let t = wrong
            .iter_mut()
            .find(|t| {
                t["response"]["headers"]
                    .as_array()
                    .is_some_and(|h| !h.is_empty())
            })
            .unwrap();
        t["response"]["headers"][0][1] = "not-what-the-wire-said".into();
        assert!(fails(&|| assert_traces_match_truth(
            &wrong, &rec.truth, false, name
        )));

        let mut pseudo = traces[0].clone();
        pseudo["request"]["headers"] = json!([[":authority", "x"]]);
        assert!(
            !check_shape(&pseudo).is_empty(),
            "{name}: a pseudo-header must be refused"
        );
        assert!(fails(&|| assert_traces_match(
            &traces[1..],
            &rec.client,
            name
        )));
    }
    let rec = recorded("grpc_calls");
    let traces = ideal(&rec);
    let (i, ex) = rec
        .client
        .iter()
        .enumerate()
        .find(|(_, e)| e.grpc.as_ref().unwrap().status_code == 13)
        .unwrap();
    let t = traces.iter().find(|t| ex.is_traced_by(t)).unwrap();
    let mut wrong = t.clone();
    wrong["grpc"]["status_message"] = "broke after two".into();
    assert!(!check_trace(&wrong, &rec.client[i]).is_empty());

    // Mid-connection: repeated methods as partial traces, fresh ones complete.
    let whole = recorded("grpc_calls");
    let mid = recorded("grpc_mid");
    let before: Vec<Exchange> = whole
        .client
        .iter()
        .filter(|e| e.phase == Some(1))
        .cloned()
        .collect();
    let pairs = assign(mid.client.len(), mid.truth.len(), |e, s| {
        stream_is(&mid.truth[s], &mid.client[e])
    });
    let traces: Vec<Value> = pairs
        .iter()
        .zip(&mid.client)
        .map(|(s, ex)| {
            let s = &mid.truth[s.unwrap()];
            if before.iter().any(|b| b.target == ex.target) {
                partial_trace(ex, s)
            } else {
                ideal_trace(ex, s)
            }
        })
        .collect();
    assert_traces_match_truth(&traces, &mid.truth, false, "grpc_mid (partial)");
    assert_shapes(&traces, "grpc_mid (partial)");
    let knowable = mid_knowable(&mid);
    assert_fresh_methods_decoded(
        &traces,
        &mid.truth,
        &knowable,
        &before,
        &mid.client,
        "grpc_mid",
    );
    let mut wrong = traces.clone();
    let t = wrong
        .iter_mut()
        .find(|t| t["request"]["path"].is_null())
        .unwrap();
    t["request"]["path"] = "/demo.Echo/Other".into();
    t["request"]["target"] = "/demo.Echo/Other".into();
    assert!(fails(&|| assert_traces_match_truth(
        &wrong,
        &mid.truth,
        false,
        "wrong path"
    )));
    let mut unflagged = traces[0].clone();
    if unflagged["request"]["path"].is_null() {
        unflagged[support::h2_expect::PARTIAL] = Value::Null;
        assert!(
            !check_shape(&unflagged).is_empty(),
            "a null path must be flagged"
        );
    }
}
