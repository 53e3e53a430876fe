//! Live HTTP/2 and gRPC on loopback (issue 17, "Must show"): real servers and clients
//! (nghttpd and h2load; curl with prior knowledge and with Upgrade against hypercorn; a
//! grpcio server and client, including a channel opened and used before the sensor
//! started), the sensor capturing `-i lo` with a BPF filter on the peer's port. Every
//! exchange the client recorded must be matched by a trace right in every field; in the
//! mid-connection case nothing decoded may differ from the wire (tshark's decoding of a
//! tcpdump running since the connection's start) and a method first called after the start
//! shows every field a decoder starting there can know.
//!
//! Each test ends its traffic, then sends one HTTP/1.1 request to a sentinel server inside
//! the same filter and waits for its trace: every packet before it has been read, so the
//! test fails fast and says which exchanges have no trace. Until the sensor decodes
//! HTTP/2 that is all of them (it counts the connections as `http2_flows`); everything
//! else in these tests (peers, client records, server records, truth) is checked first.
//!
//! Needs root, python3, curl, nghttpd/h2load (nghttp2-server, nghttp2-client), tcpdump,
//! tshark, and the venv of PCAP_SENSOR_H2_PY (hypercorn, grpcio): ./build.sh test.

mod support;

use serde_json::{Value, json};
use std::collections::BTreeSet;
use support::h2_expect::{
    Exchange, assert_fresh_methods_decoded, assert_shapes, assert_traces_match,
    assert_traces_match_truth,
};
use support::h2_peers::{
    CurlMode, GrpcClient, GrpcServer, H2App, Nghttpd, Tcpdump, Watch, curl_h2, h2load,
};
use support::h2_truth::{parse_tsv, streams, tshark_knowable, tshark_truth};
use support::process::TempDir;
use support::require::require_root;
use support::trace::summarize;

/// Checks traces against the hypercorn app's own records: each trace's request headers
/// are among those the server got, its response carries the app's headers, and its
/// trailers are exactly the app's.
fn assert_agrees_with_server(traces: &[Value], seen: &[Value]) {
    let pairs = |v: &Value| -> Vec<(String, String)> {
        v.as_array()
            .into_iter()
            .flatten()
            .map(|h| {
                (
                    h[0].as_str().unwrap_or("").to_ascii_lowercase(),
                    h[1].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    };
    let mut problems = Vec::new();
    for t in traces {
        let target = t["request"]["target"].as_str().unwrap_or("");
        let rec = seen.iter().find(|r| {
            let q = r["query"].as_str().unwrap_or("");
            let want = if q.is_empty() {
                r["path"].as_str().unwrap_or("").to_string()
            } else {
                format!("{}?{q}", r["path"].as_str().unwrap_or(""))
            };
            want == target && r["client_port"] == t["client"]["port"]
        });
        let Some(rec) = rec else {
            problems.push(format!("no server record for {}", summarize(t)));
            continue;
        };
        let got_req = pairs(&rec["headers"]);
        for h in pairs(&t["request"]["headers"]) {
            if !got_req.contains(&h) {
                problems.push(format!(
                    "{target}: request header {h:?} is not what the server got"
                ));
            }
        }
        let resp = pairs(&t["response"]["headers"]);
        for h in pairs(&rec["response_headers"]) {
            if !resp.contains(&h) {
                problems.push(format!("{target}: response lacks the app's header {h:?}"));
            }
        }
        if pairs(&t["response"]["trailers"]) != pairs(&rec["trailers"]) {
            problems.push(format!(
                "{target}: response.trailers {} are not the app's {}",
                t["response"]["trailers"], rec["trailers"]
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "against the server's records:\n{}",
        problems.join("\n")
    );
}

/// The server's records say every request came over HTTP/2.
fn assert_server_spoke_h2(seen: &[Value]) {
    for r in seen {
        assert_eq!(
            r["http_version"], "2",
            "the peers did not speak HTTP/2: {r}"
        );
    }
}

/// nghttpd and h2load -n 16 -c 2 -m 4 over 4 URLs: two connections, four streams in flight
/// on each; 16 traces with path, query, status, body size; two client ports.
#[test]
fn h2load_nghttpd_two_connections_four_streams_each() {
    require_root("live capture on lo");
    let srv = Nghttpd::start();
    let watch = Watch::start(srv.port);
    let urls: Vec<String> = ["/index.html", "/data.json", "/blob.bin", "/empty.txt?q=1"]
        .iter()
        .map(|p| srv.url(p))
        .collect();
    let exchanges = h2load(16, 2, 4, &urls, &srv.dir());
    assert_eq!(exchanges.len(), 16, "h2load's records");
    assert_eq!(
        exchanges[0].response_body_size,
        Some(srv.files["index.html"])
    );
    let w = watch.finish();
    assert_traces_match(&w.traces, &exchanges, "h2load -n 16 -c 2 -m 4 -> nghttpd");
    let ports: BTreeSet<String> = w
        .traces
        .iter()
        .map(|t| t["client"]["port"].to_string())
        .collect();
    assert_eq!(ports.len(), 2, "h2load -c 2: two connections");
}

/// curl --http2-prior-knowledge against hypercorn: a query, a POST body, a response with
/// trailers (te: trailers), a 404, a body of several DATA frames; traces agree with the
/// client and with what the server saw and sent (trailers exactly).
#[test]
fn curl_prior_knowledge_hypercorn() {
    require_root("live capture on lo");
    let mut app = H2App::start();
    let watch = Watch::start(app.port);
    let exchanges = curl_h2(
        CurlMode::Prior,
        &app.base(),
        &json!([
            {"method": "GET", "path": "/hello?lang=en&x=1"},
            {"method": "POST", "path": "/echo", "body_size": 3000},
            {"method": "GET", "path": "/trailers", "headers": [["te", "trailers"]]},
            {"method": "GET", "path": "/status/404"},
            {"method": "GET", "path": "/bytes/20000"},
        ]),
    );
    let seen = app.wait_seen(exchanges.len()).to_vec();
    assert_server_spoke_h2(&seen);
    assert_eq!(
        seen[2]["trailers"].as_array().map(Vec::len),
        Some(2),
        "the app sent trailers"
    );
    let w = watch.finish();
    assert_traces_match(
        &w.traces,
        &exchanges,
        "curl --http2-prior-knowledge -> hypercorn",
    );
    assert_agrees_with_server(&w.traces, &seen);
}

/// curl --http2 against hypercorn: Upgrade: h2c on the first request (answered on stream
/// 1), three more streams on the upgraded connection; four traces, one connection, the
/// upgraded request traced with stream 1's 200 (not the 101).
#[test]
fn curl_upgrade_h2c_hypercorn() {
    require_root("live capture on lo");
    let mut app = H2App::start();
    let watch = Watch::start(app.port);
    let exchanges = curl_h2(
        CurlMode::Upgrade,
        &app.base(),
        &json!([
            {"method": "GET", "path": "/hello?via=upgrade"},
            {"method": "POST", "path": "/echo", "body_size": 1000},
            {"method": "GET", "path": "/bytes/20000"},
            {"method": "GET", "path": "/status/503"},
        ]),
    );
    let ports: BTreeSet<Option<u16>> = exchanges.iter().map(|e| e.local_port).collect();
    assert_eq!(
        ports.len(),
        1,
        "curl kept one upgraded connection: {exchanges:?}"
    );
    assert!(exchanges[0].upgraded);
    let seen = app.wait_seen(exchanges.len()).to_vec();
    assert_server_spoke_h2(&seen);
    let w = watch.finish();
    assert_traces_match(
        &w.traces,
        &exchanges,
        "curl --http2 (Upgrade: h2c) -> hypercorn",
    );
    assert_agrees_with_server(&w.traces, &seen);
}

/// grpcio server and client, one channel, every call kind: unary (also gzip-compressed),
/// server streaming, client streaming, bidirectional, an error after a message (status in
/// the trailers), trailers-only errors (a percent-encoded grpc-message; UNIMPLEMENTED for a
/// missing method), a second service. Each call: its trace with the `grpc` object and
/// base64 bodies equal to the client's messages.
#[test]
fn grpc_every_call_kind() {
    require_root("live capture on lo");
    let mut server = GrpcServer::start();
    let watch = Watch::start(server.port);
    let mut client = GrpcClient::connect(server.port);
    for c in [
        "unary hello",
        "unary_gzip 300",
        "stream abc",
        "collect a bb ccc",
        "chat x y",
        "fail 5",
        "late",
        "fail 14",
        "missing",
        "ping",
    ] {
        client.call(c);
    }
    let calls = client.close();
    let codes: Vec<i64> = calls
        .iter()
        .map(|c| c.grpc.as_ref().unwrap().status_code)
        .collect();
    assert_eq!(
        codes,
        [0, 0, 0, 0, 0, 5, 13, 14, 12, 0],
        "what the calls returned"
    );
    let seen = server.wait_seen(calls.len() - 1).to_vec(); // Missing has no handler
    let conn: BTreeSet<String> = seen.iter().map(|s| s["client_port"].to_string()).collect();
    assert_eq!(conn.len(), 1, "one channel, one connection: {seen:?}");
    let w = watch.finish();
    assert_traces_match(&w.traces, &calls, "grpcio client -> grpcio server");
}

/// A grpcio channel opened and used before the sensor started, used again after: the
/// sensor sees the connection from the middle. A tcpdump running since before the channel
/// gives tshark's truth of the streams after the start. Every call after the start is a
/// trace; nothing any trace shows differs from the wire; headers that cannot be known are
/// counted; a stream whose :path is unknown is a trace with path null, flagged; the
/// methods first called after the start (Chat, Admin/Ping, Missing) show every field a
/// decoder starting there can know (h2_tshark.py --knowable: grpcio indexes :authority and
/// the other regular fields on the first call, so those stay unknown).
#[test]
fn grpc_channel_opened_before_the_sensor() {
    require_root("live capture on lo");
    let mut server = GrpcServer::start();
    let dir = TempDir::new("h2-mid");
    let full = dir.path("full.pcap");
    let mut dump = Tcpdump::start(&full, server.port, None);
    let mut client = GrpcClient::connect(server.port);
    client.phase(1);
    for c in [
        "unary hello",
        "stream abc",
        "collect a bb ccc",
        "fail 5",
        "unary again",
        "late",
    ] {
        client.call(c);
    }
    let watch = Watch::start(server.port);
    let mark = dump.mark();
    client.phase(2);
    for c in [
        "unary after-the-start",
        "stream xyz",
        "chat p q r",
        "ping",
        "fail 14",
        "missing",
        "unary_gzip 400",
        "late",
        "collect d ee",
    ] {
        client.call(c);
    }
    let calls = client.close();
    let w = watch.finish();
    let packets = dump.stop();
    assert!(
        packets >= mark,
        "tcpdump: {packets} packets, mark at {mark}"
    );

    // The test bed first: one connection throughout, and the wire after the mark holds
    // exactly the calls of phase 2.
    let handled = calls
        .iter()
        .filter(|c| !c.target.ends_with("/Missing"))
        .count();
    let seen = server.wait_seen(handled).to_vec();
    let conn: BTreeSet<String> = seen.iter().map(|s| s["client_port"].to_string()).collect();
    assert_eq!(conn.len(), 1, "the channel kept its connection: {seen:?}");
    let truth = streams(
        &parse_tsv(&tshark_truth(&full, server.port, Some(mark), false)),
        server.port,
    );
    let (before, after): (Vec<Exchange>, Vec<Exchange>) =
        calls.into_iter().partition(|c| c.phase == Some(1));
    assert_eq!(
        truth
            .iter()
            .map(|s| s.path().unwrap_or("?").to_string())
            .collect::<Vec<_>>(),
        after.iter().map(|c| c.target.clone()).collect::<Vec<_>>(),
        "tshark's streams after the mark are the calls of phase 2"
    );

    assert_traces_match_truth(&w.traces, &truth, false, "channel opened before the sensor");
    assert_shapes(&w.traces, "channel opened before the sensor");
    let knowable = streams(
        &parse_tsv(&tshark_knowable(&full, server.port, mark)),
        server.port,
    );
    assert_fresh_methods_decoded(
        &w.traces,
        &truth,
        &knowable,
        &before,
        &after,
        "channel opened before the sensor",
    );
}
