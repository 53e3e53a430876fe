//! What is kept of HTTP/2 streams (issue 17, scope 4: "Filters, rate limit and redaction
//! apply as to HTTP/1, host = `:authority`"), on the recorded captures of real peers under
//! tests/data/h2/ (tests/data/h2/record_peers.py):
//!
//! - h2load.pcap: nghttpd and h2load, 2 connections, 16 streams over 4 URLs;
//! - grpc_calls.pcap: a grpcio server and one client channel, 15 calls of 8 methods;
//! - curl_policy.pcap: the hypercorn app and `curl --http2-prior-knowledge`, one connection
//!   per request: a GET with an authorization, a cookie, an x-api-key and a token in the
//!   query; a POST of a JSON body with a password and a client_secret, which /echo sends
//!   back as JSON; then GET /status/201 and GET /status/404, the same endpoint
//!   (`/status/{int}`) as the first request, the last one its first error.
//!
//! Every `:authority` in these captures is `127.0.0.1:PORT`, the server's address too: that
//! the host rules see `:authority` rather than the address cannot show here (tests/policy.rs
//! shows the address is used only without a Host header). gRPC errors come as HTTP 200 with a
//! grpc-status, and the sampler's error classes are HTTP's 4xx and 5xx: the promotion of a
//! request head at a new error is shown on curl_policy's 404, not on gRPC.
//!
//! Needs nothing but the sensor binary; no root.

mod support;

use serde_json::{Value, json};
use support::h2_expect::Exchange;
use support::h2_truth::{Recorded, recorded};
use support::offline::{Run, apidump_args, run_sensor};
use support::process::TempDir;
use support::trace::{body_bytes, header, header_pairs};

const REDACTED: &str = "[REDACTED]";

/// The secrets curl_policy.pcap carries (tests/data/h2/record_peers.py, CURL_POLICY).
const SECRETS: [&str; 6] = [
    "zq-qtoken-5e1a",
    "zq-authz-81c2",
    "zq-cookie-39d0",
    "zq-apikey-d7e4",
    "zq-bpass-6a0f",
    "zq-bsecret-12ab",
];

/// `apidump -r` of a recorded capture with `flags`, JSON Lines out; exit 0 required.
fn run(rec: &Recorded, flags: &[&str]) -> Run {
    let mut args = apidump_args(&rec.pcap, &["--out", "-"]);
    args.extend_from_slice(flags);
    let run = run_sensor(&args, &[]);
    assert!(run.status.success(), "{}", run.describe());
    run
}

/// Counter `key` of the run's final stats.
fn stat(run: &Run, key: &str) -> u64 {
    run.stat(key)
        .unwrap_or_else(|e| panic!("{e}\n{}", run.describe()))
}

/// The traces' `request.path`s, in output order.
fn paths(traces: &[Value]) -> Vec<String> {
    traces
        .iter()
        .map(|t| t["request"]["path"].as_str().unwrap_or("?").to_string())
        .collect()
}

/// The one trace whose request path is `path`.
fn by_path<'a>(traces: &'a [Value], path: &str) -> &'a Value {
    let found: Vec<&Value> = traces
        .iter()
        .filter(|t| t["request"]["path"] == path)
        .collect();
    assert_eq!(found.len(), 1, "traces of {path}: {:?}", paths(traces));
    found[0]
}

/// Every trace is a whole HTTP/2 exchange of the capture: a stream id, the status and the
/// body sizes its client saw (matched on client port when the client knows it, else on
/// method, target and the order of the client's records).
fn assert_whole(rec: &Recorded, traces: &[Value]) {
    let mut unused: Vec<bool> = vec![true; rec.client.len()];
    for t in traces {
        let (req, resp) = (&t["request"], &t["response"]);
        assert_eq!(req["version"], "HTTP/2", "{t}");
        assert!(t["stream_id"].as_u64().is_some(), "no stream_id: {t}");
        let port = t["client"]["port"].as_u64().map(|p| p as u16);
        let i = (0..rec.client.len())
            .find(|&i| {
                let ex = &rec.client[i];
                unused[i]
                    && ex.method == req["method"].as_str().unwrap_or("")
                    && ex.status as u64 == resp["status"].as_u64().unwrap_or(0)
                    && ex.local_port.is_none_or(|p| Some(p) == port)
                    && (ex.target == req["target"].as_str().unwrap_or("")
                        || req["target"].as_str().unwrap_or("").contains(REDACTED))
            })
            .unwrap_or_else(|| panic!("{}: no client exchange for the trace {t}", rec.name));
        unused[i] = false;
        let ex = &rec.client[i];
        if let Some(n) = ex.request_body_size {
            assert_eq!(req["body_size"], n, "request body of {t}");
        }
        if let Some(n) = ex.response_body_size {
            assert_eq!(resp["body_size"], n, "response body of {t}");
        }
        assert_ne!(req["body_truncated"], true, "{t}");
        assert_ne!(resp["body_truncated"], true, "{t}");
    }
}

// ---------------------------------------------------------------------------
// Filters

/// Host rules match `:authority` without its port: an allow rule for the address keeps every
/// stream, a rule on the port matches none, an exclusion of the host removes every stream
/// and counts each as `filtered`.
#[test]
fn host_rules_match_the_authority_without_its_port() {
    let rec = recorded("h2load");
    let n = rec.client.len() as u64;
    for (flags, kept) in [
        (vec!["--host-allow", r"^127\.0\.0\.1$"], n),
        (vec!["--host-allow", &format!(":{}$", rec.port)], 0),
        (vec!["--host-allow", &rec.port.to_string()], 0),
        (vec!["--host-exclusions", r"^127\.0\.0\.1$"], 0),
        (vec!["--host-exclusions", r"^api\."], n),
    ] {
        let run = run(&rec, &flags);
        let traces = run.traces();
        assert_eq!(traces.len() as u64, kept, "{flags:?}: {:?}", paths(&traces));
        assert_eq!(stat(&run, "traces"), kept, "{flags:?}");
        assert_eq!(stat(&run, "filtered"), n - kept, "{flags:?}");
        assert_eq!(stat(&run, "rate_limited"), 0, "{flags:?}");
        assert_whole(&rec, &traces);
    }
}

/// Path rules match `:path`'s path, not its query: h2load's /empty.txt?q=1 is kept by an
/// allow rule anchored at `.txt$`, and an exclusion of `q=1` removes nothing.
#[test]
fn path_rules_match_the_path_without_the_query() {
    let rec = recorded("h2load");
    let n = rec.client.len();
    let all = vec!["/blob.bin", "/data.json", "/empty.txt", "/index.html"];
    for (flags, want) in [
        (
            vec!["--path-allow", r"^/(index\.html|empty\.txt)$"],
            vec!["/empty.txt", "/index.html"],
        ),
        (vec!["--path-exclusions", "q=1"], all.clone()),
        (vec!["--path-allow", r"\?"], vec![]),
        (
            vec!["--path-exclusions", r"\.(bin|json)$"],
            vec!["/empty.txt", "/index.html"],
        ),
    ] {
        let run = run(&rec, &flags);
        let traces = run.traces();
        let kept: Vec<&Exchange> = rec
            .client
            .iter()
            .filter(|e| want.contains(&e.target.split('?').next().unwrap()))
            .collect();
        let mut got = paths(&traces);
        got.sort();
        got.dedup();
        assert_eq!(got, want, "{flags:?}");
        assert_eq!(traces.len(), kept.len(), "{flags:?}: {got:?}");
        assert_eq!(stat(&run, "filtered"), (n - kept.len()) as u64, "{flags:?}");
        assert_eq!(stat(&run, "traces"), kept.len() as u64, "{flags:?}");
        assert_whole(&rec, &traces);
    }
}

/// gRPC calls are filtered on their `:path` (`/service/method`): excluding the service
/// demo.Echo leaves the one call of demo.Admin, traced whole (its message, trailers and
/// grpc status); the 14 others are counted as `filtered`.
#[test]
fn path_rules_filter_grpc_calls_by_service() {
    let rec = recorded("grpc_calls");
    let run = run(&rec, &["--path-exclusions", r"^/demo\.Echo/"]);
    let traces = run.traces();
    assert_eq!(paths(&traces), ["/demo.Admin/Ping"]);
    let t = &traces[0];
    assert_eq!(t["grpc"]["service"], "demo.Admin", "{}", json!(t["grpc"]));
    assert_eq!(t["grpc"]["status_code"], 0);
    assert_eq!(t["grpc"]["response_messages"], 1);
    assert!(
        header(&t["response"]["trailers"], "grpc-status") == Some("0"),
        "trailers: {}",
        t["response"]["trailers"]
    );
    assert_eq!(stat(&run, "filtered"), rec.client.len() as u64 - 1);
    assert_eq!(stat(&run, "traces"), 1);
    assert_whole(&rec, &traces);
}

// ---------------------------------------------------------------------------
// Rate limit

/// With endpoint-aware sampling (the default) and a budget of one trace per gRPC method,
/// each of grpc_calls' 8 methods (method, `:authority`, path) has its first call traced,
/// whole, within N + burst, and the counters add up: every stream is a trace or
/// `rate_limited`, every trace is a new endpoint's.
#[test]
fn rate_limit_gives_every_grpc_method_its_first_trace() {
    let rec = recorded("grpc_calls");
    let n = 8;
    let run = run(&rec, &["--rate-limit", &n.to_string()]);
    let traces = run.traces();
    let mut methods: Vec<String> = rec.client.iter().map(|e| e.target.clone()).collect();
    methods.sort();
    methods.dedup();
    assert_eq!(methods.len(), n, "the capture's methods: {methods:?}");
    let mut got = paths(&traces);
    got.sort();
    assert_eq!(got, methods, "one trace per method");
    // The first call of each method is the one traced.
    let every = traces_without_limit(&rec);
    for t in &traces {
        let first_stream = every
            .iter()
            .filter(|u| u["request"]["path"] == t["request"]["path"])
            .map(|u| u["stream_id"].as_u64().unwrap())
            .min()
            .unwrap();
        assert_eq!(
            t["stream_id"], first_stream,
            "not the first call of {}",
            t["request"]["path"]
        );
    }
    assert!(
        traces.len() <= 2 * n,
        "{} traces over N + burst",
        traces.len()
    );
    assert_whole(&rec, &traces);
    let streams = stat(&run, "h2_streams");
    assert_eq!(streams, rec.client.len() as u64);
    assert_eq!(stat(&run, "traces"), traces.len() as u64);
    assert_eq!(stat(&run, "traces") + stat(&run, "rate_limited"), streams);
    assert_eq!(stat(&run, "endpoints_known"), n as u64);
    assert_eq!(stat(&run, "traces_new_endpoint"), n as u64);
    assert_eq!(
        stat(&run, "traces_new_endpoint")
            + stat(&run, "traces_new_error")
            + stat(&run, "traces_fair_share"),
        stat(&run, "traces")
    );
}

/// grpc_calls without a rate limit (every call a trace).
fn traces_without_limit(rec: &Recorded) -> Vec<Value> {
    let run = run(rec, &[]);
    assert_eq!(stat(&run, "rate_limited"), 0);
    run.traces()
}

/// `--sampling uniform` is the plain bucket: a full bucket of N passes the first N streams in
/// the order their requests came (grpc_calls: one connection, streams 1, 3, ... 15), the
/// others are `rate_limited`.
#[test]
fn uniform_sampling_passes_the_first_n_streams() {
    let rec = recorded("grpc_calls");
    let run = run(&rec, &["--rate-limit", "8", "--sampling", "uniform"]);
    let traces = run.traces();
    let ids: Vec<u64> = traces
        .iter()
        .map(|t| t["stream_id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, [1, 3, 5, 7, 9, 11, 13, 15]);
    assert_whole(&rec, &traces);
    assert_eq!(stat(&run, "traces"), 8);
    assert_eq!(stat(&run, "rate_limited"), rec.client.len() as u64 - 8);
    for key in [
        "traces_new_endpoint",
        "traces_new_error",
        "traces_fair_share",
    ] {
        assert_eq!(stat(&run, key), 0, "{key}");
    }
}

/// A request passed over at its head is traced at its response when that response is its
/// endpoint's first error: curl_policy at `--rate-limit 4` traces GET /status/200 (a new
/// endpoint) and POST /echo, passes over GET /status/201 (the same endpoint, traced a moment
/// ago), and promotes GET /status/404 at its 404: its request flagged `body_omitted`, its
/// response whole.
#[test]
fn a_request_head_is_promoted_at_a_new_error() {
    let rec = recorded("curl_policy");
    let run = run(&rec, &["--rate-limit", "4"]);
    let traces = run.traces();
    assert_eq!(
        paths(&traces),
        ["/status/200", "/echo", "/status/404"],
        "{}",
        run.stdout
    );
    let t = by_path(&traces, "/status/404");
    assert_eq!(t["request"]["body_omitted"], true, "{t}");
    assert_eq!(t["request"]["method"], "GET");
    assert_eq!(t["response"]["status"], 404);
    assert_eq!(body_bytes(&t["response"]), b"status 404\n");
    assert!(
        traces
            .iter()
            .filter(|u| u["request"]["path"] != "/status/404")
            .all(|u| u["request"].get("body_omitted").is_none_or(|b| b != true)),
        "body_omitted on a trace not promoted"
    );
    assert_whole(&rec, &traces);
    assert_eq!(stat(&run, "traces_new_error"), 1);
    assert_eq!(stat(&run, "traces_new_endpoint"), 2);
    assert_eq!(stat(&run, "rate_limited"), 1);
    assert_eq!(
        stat(&run, "traces") + stat(&run, "rate_limited"),
        stat(&run, "h2_streams")
    );
}

// ---------------------------------------------------------------------------
// Redaction

/// Redaction is on by default for HTTP/2 as for HTTP/1: the authorization, cookie and
/// x-api-key header values, the token in `:path`'s query and the secret-named JSON fields of
/// both bodies become "[REDACTED]"; nothing else changes, and no secret is in any output.
#[test]
fn redaction_applies_to_http2_headers_query_and_bodies() {
    let rec = recorded("curl_policy");
    let run = run(&rec, &[]);
    let everything = format!("{}\n{}", run.stdout, run.stderr);
    let leaked: Vec<&str> = SECRETS
        .into_iter()
        .filter(|s| everything.contains(s))
        .collect();
    assert!(leaked.is_empty(), "secrets in the output: {leaked:?}");
    let traces = run.traces();
    assert_eq!(traces.len(), rec.client.len());
    assert_whole(&rec, &traces);

    let get = by_path(&traces, "/status/200");
    let headers: Vec<(String, String)> = header_pairs(&get["request"]["headers"])
        .into_iter()
        .filter(|(n, _)| n != "user-agent" && n != "accept")
        .collect();
    let want: Vec<(String, String)> = [
        ("authorization", REDACTED),
        ("cookie", REDACTED),
        ("x-api-key", REDACTED),
        ("x-request-id", "req-42"),
    ]
    .iter()
    .map(|(n, v)| (n.to_string(), v.to_string()))
    .collect();
    assert_eq!(headers, want);
    assert_eq!(
        get["request"]["target"],
        format!("/status/200?access_token={REDACTED}&page=2")
    );
    assert_eq!(get["request"]["host"], format!("127.0.0.1:{}", rec.port));

    let echo = by_path(&traces, "/echo");
    let want = json!({"user": "alice", "password": REDACTED,
        "nested": {"client_secret": REDACTED, "n": 1}});
    for side in ["request", "response"] {
        let body: Value = serde_json::from_slice(&body_bytes(&echo[side]))
            .unwrap_or_else(|e| panic!("{side} body is not JSON ({e}): {echo}"));
        assert_eq!(body, want, "{side} body");
    }
}

/// `--no-redact` keeps every value of the same streams as sent.
#[test]
fn no_redact_keeps_http2_values() {
    let rec = recorded("curl_policy");
    let run = run(&rec, &["--no-redact"]);
    let missing: Vec<&str> = SECRETS
        .into_iter()
        .filter(|s| !run.stdout.contains(s))
        .collect();
    assert!(missing.is_empty(), "values missing: {missing:?}");
    let traces = run.traces();
    let get = by_path(&traces, "/status/200");
    assert_eq!(
        header(&get["request"]["headers"], "authorization"),
        Some("Bearer zq-authz-81c2")
    );
    assert_eq!(
        get["request"]["target"],
        "/status/200?access_token=zq-qtoken-5e1a&page=2"
    );
    let echo = by_path(&traces, "/echo");
    assert_eq!(body_bytes(&echo["request"]), body_bytes(&echo["response"]));
}

/// Redaction applies to every output: the HAR file of the same capture holds no secret, and
/// its /echo entry's request text is the redacted JSON.
#[test]
fn redaction_applies_to_the_http2_har() {
    let rec = recorded("curl_policy");
    let dir = TempDir::new("h2-policy-har");
    let har = dir.path("out.har");
    let args = ["apidump", "-r", rec.pcap.to_str().unwrap(), "--out"];
    let mut args = args.to_vec();
    args.push(har.to_str().unwrap());
    let run = run_sensor(&args, &[]);
    assert!(run.status.success(), "{}", run.describe());
    let text = std::fs::read_to_string(&har).expect("the HAR file");
    let leaked: Vec<&str> = SECRETS.into_iter().filter(|s| text.contains(s)).collect();
    assert!(leaked.is_empty(), "secrets in the HAR: {leaked:?}");
    let doc: Value = serde_json::from_str(&text).expect("HAR is JSON");
    let entries = doc["log"]["entries"].as_array().expect("HAR entries");
    assert_eq!(entries.len(), rec.client.len());
    let echo = entries
        .iter()
        .find(|e| {
            e["request"]["url"]
                .as_str()
                .is_some_and(|u| u.ends_with("/echo"))
        })
        .expect("the /echo entry");
    assert_eq!(echo["request"]["httpVersion"], "HTTP/2");
    let sent: Value = serde_json::from_str(echo["request"]["postData"]["text"].as_str().unwrap())
        .expect("postData is JSON");
    assert_eq!(sent["password"], REDACTED);
    assert_eq!(sent["nested"]["client_secret"], REDACTED);
    assert_eq!(sent["user"], "alice");
}
