//! Delivery to the satellite (issue 4): the sensor POSTs OTLP/HTTP JSON to a
//! test satellite (tests/support/sat_server.py, python http.server) that
//! records every body; every body is then checked with
//! `google.protobuf.json_format.Parse` into `ExportTraceServiceRequest`
//! (tests/support/sat_otlp_check.py, PyPI opentelemetry-proto, run with the
//! venv python of $PCAP_SENSOR_PY or .cache/venv) and its attributes are
//! compared with what the clients really did.
//!
//! Live tests capture on loopback (root) with a filter on their own server's
//! port; every server and satellite binds port 0, so tests run in parallel.
//! Waits are on pipes with deadlines: the sensor's "capturing on" line, its
//! periodic stats lines, the satellite's one line per request received.
//!
//! Time bounds on exit after SIGTERM: --shutdown-timeout + one export
//! attempt in flight (3 s connect/read timeout) + 2 s slack.

mod support;

use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use support::live::*;
use support::process::{SENSOR, run_with_deadline};
use support::require::corpus;
use support::require::require_root;
use support::sat::*;
use support::trace::parse_stats;

/// How long the satellite may wait for traces of traffic that has ended.
const DELIVERY_DEADLINE: Duration = Duration::from_secs(30);
/// --pcap-buffer-mb for the memory tests.
const PCAP_BUFFER_MB: u64 = 2;
const VERSION: &str = env!("CARGO_PKG_VERSION");

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

fn attr<'a>(span: &'a Value, key: &str) -> &'a Value {
    &span["attributes"][key]
}

fn has_attr(span: &Value, key: &str) -> bool {
    span["attributes"].get(key).is_some()
}

/// One `pcap-sensor apidump ARGS` run to its end (with a deadline): its
/// exit code, stdout and stderr.
fn apidump(args: &[&str]) -> (Option<i32>, Vec<u8>, String) {
    let out = run_with_deadline(
        std::process::Command::new(SENSOR).arg("apidump").args(args),
        Duration::from_secs(60),
    );
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code(), out.stdout, err)
}

/// curl one URL with extra arguments; returns curl's `%{local_port}`.
fn curl_port(extra: &[&str], url: &str) -> u16 {
    let mut args = vec!["-o", "/dev/null", "-w", "%{local_port}"];
    args.extend_from_slice(extra);
    args.push(url);
    let out = curl(&args);
    out.trim()
        .parse()
        .unwrap_or_else(|_| panic!("curl -w %{{local_port}} printed {out:?}"))
}

/// One curl run over keep-alive for all these paths of `app`; checks every
/// response was 200.
fn curl_all_ok(app: &Server, paths: &[String]) {
    let mut args: Vec<String> = vec!["-w".into(), "%{http_code}\\n".into()];
    for p in paths {
        args.extend(["-o".into(), "/dev/null".into(), app.url(p)]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = curl(&args);
    let codes: Vec<&str> = out.lines().collect();
    assert_eq!(codes.len(), paths.len(), "curl output: {out}");
    assert!(codes.iter().all(|c| *c == "200"), "curl codes: {out}");
}

fn paths(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("/text/{prefix}{i}")).collect()
}

/// url.path of every delivered span, with repeats.
fn delivered_paths(otlp: &Otlp) -> Vec<String> {
    otlp.delivered()
        .iter()
        .map(|s| attr(s, "url.path").as_str().unwrap_or("<none>").to_string())
        .collect()
}

fn assert_same_set(got: &[String], want: &[String], what: &str, otlp: &Otlp) {
    let mut g = got.to_vec();
    let mut w = want.to_vec();
    g.sort();
    w.sort();
    assert_eq!(g, w, "{what}; spans:{}", otlp.summary());
}

/// The sensor's own peak_rss_kb (final stats) and the VmHWM the test read
/// from /proc just before the signal both stay under ceiling + allowance.
fn assert_rss_bounded(fin: &SatFinished, ceiling: u64, vm_hwm_kb: u64) {
    let limit = rss_limit_bytes(ceiling);
    assert!(
        vm_hwm_kb * 1024 <= limit,
        "VmHWM {vm_hwm_kb} KiB is over the ceiling {ceiling} + allowance = {limit} bytes"
    );
    let peak = fin.stat("peak_rss_kb") * 1024;
    assert!(
        peak <= limit,
        "peak_rss_kb {} (VmHWM read by the test: {vm_hwm_kb} KiB) is over the ceiling \
         {ceiling} + allowance = {limit} bytes\n{}",
        peak / 1024,
        fin.stderr_text()
    );
}

/// The resource attributes with no ECS metadata and no region.
fn resource_plain(env: &str, org: &str) -> Value {
    json!({
        "service.name": "unknown_service",
        "deployment.environment.name": env,
        "levoai.org_id": org,
    })
}

/// Resource attributes that come only from ECS metadata or a region.
const CLOUD_KEYS: [&str; 9] = [
    "cloud.provider",
    "cloud.platform",
    "cloud.region",
    "cloud.availability_zone",
    "aws.ecs.cluster.arn",
    "aws.ecs.task.arn",
    "aws.ecs.task.family",
    "aws.ecs.task.revision",
    "aws.ecs.launchtype",
];

/// Every attribute of `want` is in the resource with that value; the
/// cloud/ECS attributes not in `want` are absent (others, such as
/// telemetry.sdk.*, may be there).
fn assert_resource(resource: &Value, want: &Value) {
    for (k, v) in want.as_object().unwrap() {
        assert_eq!(&resource[k], v, "resource attribute {k} in {resource}");
    }
    for k in CLOUD_KEYS {
        if want.get(k).is_none() {
            assert!(
                resource.get(k).is_none(),
                "resource attribute {k} without metadata or region: {resource}"
            );
        }
    }
}

fn assert_resource_and_scope(span: &Value, want: &Value) {
    assert_resource(&span["resource"], want);
    assert_eq!(
        span["scope"],
        json!({"name": "pcap-sensor", "version": VERSION}),
        "scope of {span}"
    );
}

// ---------------------------------------------------------------------------
// Traces arrive, as OTLP, with the right values

/// Live capture on lo, export every 500 ms: three exchanges (GET with a
/// query, POST with a body, GET with a W3C traceparent) reach the satellite
/// as three SERVER spans whose attributes match what curl did.
#[test]
fn live_capture_reaches_the_satellite_as_otlp() {
    require_root("live capture");
    let app = Server::start("127.0.0.1");
    let mut sat = Satellite::start(SatOpts::mode(Mode::Ok));
    let (url, filter) = (sat.url(), app.filter());
    let sensor = SatSensor::start_live(
        &[
            "-i",
            "lo",
            "--filter",
            &filter,
            "--satellite-url",
            &url,
            "--trace-export-interval",
            "500ms",
            "--levo-env",
            "test-env",
            "--levoai-org-id",
            "org-1234",
        ],
        &[],
    );
    let t0 = now_ns();
    let ua = ["-A", "sat-test/1"];
    let p_get = curl_port(&ua, &app.url("/text/hello?x=1&y=two"));
    let p_post = curl_port(
        &["-A", "sat-test/1", "--data-binary", "abc=1"],
        &app.url("/text/post"),
    );
    let traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let p_tp = curl_port(
        &[
            "-A",
            "sat-test/1",
            "-H",
            &format!("traceparent: {traceparent}"),
        ],
        &app.url("/bytes/1000"),
    );
    let t1 = now_ns();

    sat.wait_delivered(3, DELIVERY_DEADLINE);
    let fin = sensor.stop(libc::SIGTERM, Duration::from_secs(5));
    fin.assert_exit_0();
    fin.assert_stat("traces", 3);
    fin.assert_stat("exported", 3);
    fin.assert_stat_at_least("export_batches", 1);
    fin.assert_stat("export_failures", 0);
    fin.assert_stat("export_dropped", 0);

    let otlp = sat.check();
    assert_posts_shape(&otlp, "/v1/traces");
    assert_eq!(otlp.delivered().len(), 3, "spans:{}", otlp.summary());
    let resource = resource_plain("test-env", "org-1234");
    let mut span_ids = BTreeSet::new();
    for s in otlp.delivered() {
        assert_resource_and_scope(s, &resource);
        assert_eq!(s["kind"], 2, "kind SERVER: {s}");
        assert_eq!(s["status_code"], 0, "status unset below 500: {s}");
        let (start, end) = (
            s["start_ns"].as_u64().unwrap(),
            s["end_ns"].as_u64().unwrap(),
        );
        assert!(
            t0 - 1_000_000_000 <= start && end <= t1 + 1_000_000_000,
            "span times {start}..{end} outside the traffic's {t0}..{t1}: {s}"
        );
        assert!(span_ids.insert(s["span_id"].to_string()), "span ids repeat");
        // Common HTTP attributes.
        assert_eq!(attr(s, "url.scheme"), "http", "{s}");
        assert_eq!(attr(s, "server.address"), "127.0.0.1", "{s}");
        assert_eq!(attr(s, "server.port"), app.port, "{s}");
        assert_eq!(attr(s, "client.address"), "127.0.0.1", "{s}");
        assert_eq!(attr(s, "network.protocol.version"), "1.1", "{s}");
        assert_eq!(attr(s, "http.response.status_code"), 200, "{s}");
        assert_eq!(attr(s, "user_agent.original"), "sat-test/1", "{s}");
        assert_eq!(
            attr(s, "http.request.header.user-agent"),
            &json!(["sat-test/1"]),
            "{s}"
        );
        assert_eq!(
            attr(s, "http.request.header.host"),
            &json!([app.host_header()]),
            "{s}"
        );
        assert_eq!(
            attr(s, "http.response.header.x-server"),
            &json!(["live-server"]),
            "{s}"
        );
    }
    let trace_ids: BTreeSet<String> = otlp
        .delivered()
        .iter()
        .map(|s| s["trace_id"].to_string())
        .collect();
    assert_eq!(trace_ids.len(), 3, "each exchange is its own trace");

    let get = otlp.by_path("/text/hello");
    assert_eq!(get["name"], "GET /text/hello");
    assert_eq!(attr(get, "http.request.method"), "GET");
    assert_eq!(attr(get, "url.query"), "x=1&y=two");
    assert_eq!(attr(get, "client.port"), p_get);
    assert_eq!(attr(get, "http.request.body.size"), 0);
    assert_eq!(attr(get, "http.response.body"), "this is hello");
    assert_eq!(attr(get, "http.response.body.size"), 13);
    assert_eq!(
        attr(get, "http.response.header.content-length"),
        &json!(["13"])
    );
    assert_eq!(get["parent_span_id"], "", "no traceparent, no parent");

    let post = otlp.by_path("/text/post");
    assert_eq!(post["name"], "POST /text/post");
    assert_eq!(attr(post, "http.request.method"), "POST");
    assert!(
        !has_attr(post, "url.query"),
        "no query, no url.query: {post}"
    );
    assert_eq!(attr(post, "client.port"), p_post);
    assert_eq!(attr(post, "http.request.body"), "abc=1");
    assert_eq!(attr(post, "http.request.body.size"), 5);
    let resp = "this is post, received 5 bytes";
    assert_eq!(attr(post, "http.response.body"), resp);
    assert_eq!(attr(post, "http.response.body.size"), resp.len());

    let tp = otlp.by_path("/bytes/1000");
    assert_eq!(attr(tp, "client.port"), p_tp);
    assert_eq!(tp["trace_id"], "0af7651916cd43dd8448eb211c80319c");
    assert_eq!(tp["parent_span_id"], "b7ad6b7169203331");
    assert_ne!(tp["span_id"], "b7ad6b7169203331");
    assert_eq!(
        attr(tp, "http.request.header.traceparent"),
        &json!([traceparent])
    );
    let want_body = String::from_utf8(pattern(1000)).unwrap();
    assert_eq!(attr(tp, "http.response.body"), want_body.as_str());
    assert_eq!(attr(tp, "http.response.body.size"), 1000);
    assert!(!has_attr(tp, "http.response.body.truncated"));
}

/// A trace larger than a batch (`--max-batch-kb`) could never be sent: its
/// body is cut to fit, marked truncated and counted (export_truncated), and
/// the trace is delivered instead of dropped. The kept text is the start of
/// the body, its size the whole body's.
#[test]
fn trace_larger_than_a_batch_is_delivered_with_its_body_cut() {
    let mut sat = Satellite::start(SatOpts::mode(Mode::Ok));
    let pcap = corpus("zeek/http__get.pcap");
    let (_, full, _) = apidump(&["-r", pcap.to_str().unwrap(), "--out", "-"]);
    let full: Value = serde_json::from_slice(&full).unwrap();
    let full = full["response"]["body"].as_str().unwrap().to_string();
    assert_eq!(full.len(), 4705);
    let fin = SatSensor::spawn(
        &[
            "-r",
            pcap.to_str().unwrap(),
            "--satellite-url",
            &sat.url(),
            "--max-batch-kb",
            "4",
        ],
        &[],
    )
    .wait_exit(Duration::from_secs(30));
    fin.assert_exit_0();
    fin.assert_stat("exported", 1);
    fin.assert_stat("export_truncated", 1);
    fin.assert_stat("export_dropped", 0);
    sat.wait_delivered(1, Duration::from_secs(5));
    let otlp = sat.check();
    let s = otlp.by_path("/download/CHANGES.bro-aux.txt");
    let kept = attr(s, "http.response.body").as_str().unwrap();
    assert!(kept.len() > 1000 && kept.len() < 4096, "{}", kept.len());
    assert!(full.starts_with(kept));
    assert_eq!(attr(s, "http.response.body.size"), 4705);
    assert_eq!(attr(s, "http.response.body.truncated"), true);
    assert_eq!(attr(s, "http.request.header.host"), &json!(["bro.org"]));
}

/// A capture whose link type takes no address filters (NFLOG): the filter
/// that leaves out the sensor's own export traffic cannot be installed, and
/// a file holds none of that traffic, so the file is read without it (said
/// once on stderr) and its exchange still reaches the satellite. Before,
/// the sensor stopped with "bad --filter" for a filter the user never gave.
/// A live capture on such a link type would trace its own exports: it stops.
#[test]
fn nflog_file_reaches_the_satellite_without_the_own_traffic_filter() {
    let mut sat = Satellite::start(SatOpts::mode(Mode::Ok));
    let pcap = corpus("zeek/nflog-http.pcap");
    let fin = SatSensor::spawn(
        &["-r", pcap.to_str().unwrap(), "--satellite-url", &sat.url()],
        &[],
    )
    .wait_exit(Duration::from_secs(30));
    fin.assert_exit_0();
    fin.assert_stat("traces", 1);
    fin.assert_stat("exported", 1);
    let err = fin.stderr_text();
    assert_eq!(
        err.matches("NFLOG link-layer type filtering not implemented")
            .count(),
        1,
        "{err}"
    );
    assert!(
        err.contains("without leaving out traffic to the satellite"),
        "{err}"
    );
    sat.wait_delivered(1, Duration::from_secs(5));
    let otlp = sat.check();
    assert_eq!(otlp.delivered().len(), 1, "spans:{}", otlp.summary());
    assert_eq!(otlp.delivered()[0]["name"], "GET /");

    // The user's own filter is still the user's to fix: libpcap's reason, exit 2.
    let (code, _, err) = apidump(&[
        "-r",
        pcap.to_str().unwrap(),
        "--filter",
        "tcp port 80",
        "--satellite-url",
        &sat.url(),
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("bad --filter 'tcp port 80'") && err.contains("NFLOG"),
        "{err}"
    );

    // Live, the sensor would trace its own exports: it stops and says why.
    let (code, _, err) = apidump(&[
        "-i",
        "nflog",
        "--duration",
        "1",
        "--satellite-url",
        &sat.url(),
    ]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("own export traffic to the satellite cannot be left out")
            && err.contains("NFLOG"),
        "{err}"
    );
}

/// `-r` a pcap: its exchange reaches the satellite (at a base path) when
/// the file ends, with packet times, addresses and headers from the file;
/// --service-name and LEVO_AWS_REGION go to the resource. A 500 answer
/// (a second file) gives the span status ERROR.
#[test]
fn pcap_file_reaches_the_satellite_as_otlp() {
    let mut sat = Satellite::start(SatOpts::mode(Mode::Ok));
    let base = format!("{}/collector", sat.url());
    for (file, n) in [("zeek/http__get.pcap", 1), ("arkime/http-500-head.pcap", 2)] {
        let pcap = corpus(file);
        let fin = SatSensor::spawn(
            &[
                "-r",
                pcap.to_str().unwrap(),
                "--satellite-url",
                &base,
                "--levo-env",
                "production",
                "--levoai-org-id",
                "org-pcap",
                "--service-name",
                "checkout",
            ],
            &[("LEVO_AWS_REGION", "eu-west-1")],
        )
        .wait_exit(Duration::from_secs(30));
        fin.assert_exit_0();
        fin.assert_stat("traces", 1);
        fin.assert_stat("exported", 1);
        fin.assert_stat("export_failures", 0);
        sat.wait_delivered(n, Duration::from_secs(5));
    }
    let otlp = sat.check();
    assert_posts_shape(&otlp, "/collector/v1/traces");
    assert_eq!(otlp.delivered().len(), 2, "spans:{}", otlp.summary());
    let resource = json!({
        "service.name": "checkout",
        "deployment.environment.name": "production",
        "levoai.org_id": "org-pcap",
        "cloud.provider": "aws",
        "cloud.region": "eu-west-1",
    });

    let s = otlp.by_path("/download/CHANGES.bro-aux.txt");
    assert_resource_and_scope(s, &resource);
    assert_eq!(s["name"], "GET /download/CHANGES.bro-aux.txt");
    assert_eq!(s["kind"], 2);
    assert_eq!(s["status_code"], 0);
    // Frame 4 (the request) and frame 9 (the response's last segment).
    assert_eq!(s["start_ns"], 1_362_692_526_939_527_000u64);
    assert_eq!(s["end_ns"], 1_362_692_527_009_775_000u64);
    let want = json!({
        "http.request.method": "GET",
        "url.path": "/download/CHANGES.bro-aux.txt",
        "url.scheme": "http",
        "server.address": "bro.org",
        "server.port": 80,
        "client.address": "141.142.228.5",
        "client.port": 59856,
        "network.protocol.version": "1.1",
        "http.response.status_code": 200,
        "user_agent.original": "Wget/1.14 (darwin12.2.0)",
        "http.request.header.host": ["bro.org"],
        "http.request.header.accept": ["*/*"],
        "http.request.header.connection": ["Keep-Alive"],
        "http.response.header.server": ["Apache/2.4.3 (Fedora)"],
        "http.response.header.etag": ["\"1261-4c870358a6fc0\""],
        "http.response.header.content-length": ["4705"],
        "http.response.header.content-type": ["text/plain; charset=UTF-8"],
        "http.request.body.size": 0,
        "http.response.body.size": 4705,
    });
    for (k, v) in want.as_object().unwrap() {
        assert_eq!(attr(s, k), v, "attribute {k} of {s}");
    }
    assert!(!has_attr(s, "url.query"));
    assert!(!has_attr(s, "http.response.body.truncated"));
    let body = attr(s, "http.response.body")
        .as_str()
        .expect("response body");
    assert_eq!(body.len(), 4705);
    assert!(body.starts_with("\n0.26 | 2012-08-24 15:10:04 -0700\n"));
    assert!(body.ends_with(" of bro/aux from SVN r7088. (Jon Siwek)\n"));

    let e = otlp.by_path("/UpdataConfig.dat");
    assert_resource_and_scope(e, &resource);
    assert_eq!(e["name"], "HEAD /UpdataConfig.dat");
    assert_eq!(attr(e, "http.request.method"), "HEAD");
    assert_eq!(attr(e, "http.response.status_code"), 500);
    assert_eq!(e["status_code"], 2, "5xx: span status ERROR: {e}");
    assert_eq!(attr(e, "server.address"), "samples.example.com");
    assert_eq!(attr(e, "client.address"), "10.172.10.16");
    assert_eq!(attr(e, "client.port"), 49323);
    assert_eq!(attr(e, "http.response.body.size"), 0);
}

/// The sensor's own POSTs to the satellite are never traced, even with a
/// capture filter that matches the satellite's port.
#[test]
fn own_export_traffic_is_not_captured() {
    require_root("live capture");
    let app = Server::start("127.0.0.1");
    let mut sat = Satellite::start(SatOpts::mode(Mode::Ok));
    let url = sat.url();
    let filter = format!("tcp port {} or tcp port {}", app.port, sat.port);
    let sensor = SatSensor::start_live(
        &[
            "-i",
            "lo",
            "--filter",
            &filter,
            "--satellite-url",
            &url,
            "--trace-export-interval",
            "500ms",
        ],
        &[],
    );
    let first = paths("own", 3);
    curl_all_ok(&app, &first);
    sat.wait_delivered(3, DELIVERY_DEADLINE);
    // The first POST is over; had it been captured, its trace would travel
    // with this one.
    curl_all_ok(&app, &["/text/after".to_string()]);
    sat.wait_delivered(4, DELIVERY_DEADLINE);
    let fin = sensor.stop(libc::SIGTERM, Duration::from_secs(5));
    fin.assert_exit_0();
    fin.assert_stat("traces", 4);
    fin.assert_stat("exported", 4);
    let otlp = sat.check();
    let mut want = first.clone();
    want.push("/text/after".into());
    assert_same_set(&delivered_paths(&otlp), &want, "delivered paths", &otlp);
}

// ---------------------------------------------------------------------------
// The reference page's entrypoint, by flags and by environment

const HOST_ALLOW: &str = r"(^|\.)example\.com$";
const PATH_ALLOW: &str = r"^/api/";
const HOST_EXCLUSIONS: &str = r"^internal\.";
const PATH_EXCLUSIONS: &str = r"health";

/// Seven requests, three of which pass the filters above. Returns nothing:
/// the satellite says what passed.
fn entrypoint_traffic(app: &Server) {
    let cases: [(&str, &str, Option<&str>); 7] = [
        // passes: the query is not part of the path matched by "health"
        ("api.example.com", "/api/users?check=health", None),
        // passes: the Host's port is not part of the host matched
        ("api.example.com:8443", "/api/orders", None),
        // host excluded
        ("internal.example.com", "/api/users", None),
        // path excluded
        ("api.example.com", "/api/health/live", None),
        // host not allowed
        ("other.org", "/api/users", None),
        // path not allowed
        ("api.example.com", "/static/app.js", None),
        // passes (POST with a body)
        ("shop.example.com", "/api/cart", Some("item=1")),
    ];
    for (host, path, body) in cases {
        let h = format!("Host: {host}");
        let mut args = vec!["-o", "/dev/null", "-H", &h];
        if let Some(b) = body {
            args.extend(["--data-binary", b]);
        }
        let url = app.url(path);
        args.push(&url);
        curl(&args);
    }
}

/// (method, server.address, url.path, url.query, status) of every delivered
/// span, sorted, plus the resource of the first.
fn entrypoint_result(otlp: &Otlp) -> (Vec<Value>, Value) {
    let mut rows: Vec<Value> = otlp
        .delivered()
        .iter()
        .map(|s| {
            json!([
                attr(s, "http.request.method"),
                attr(s, "server.address"),
                attr(s, "url.path"),
                attr(s, "url.query"),
                attr(s, "http.response.status_code"),
            ])
        })
        .collect();
    rows.sort_by_key(|r| r.to_string());
    let resource = otlp
        .delivered()
        .first()
        .map(|s| s["resource"].clone())
        .unwrap_or(Value::Null);
    (rows, resource)
}

fn run_entrypoint(app: &Server, by_env: bool) -> ((Vec<Value>, Value), SatFinished) {
    let mut sat = Satellite::start(SatOpts::mode(Mode::Ok));
    let url = sat.url();
    let filter = app.filter();
    let org = "3fa85f64-5717-4562-b3fc-2c963f66afa6";
    // The page's task definition sets LEVO_AWS_REGION in "environment".
    let mut env = vec![("LEVO_AWS_REGION", "us-west-2")];
    let mut args: Vec<&str> = Vec::new();
    if by_env {
        env.extend([
            ("LEVO_SATELLITE_URL", url.as_str()),
            ("LEVO_ENV", "staging"),
            ("LEVO_ORG_ID", org),
            ("LEVO_RATE_LIMIT", "100"),
            ("LEVO_TRACE_EXPORT_INTERVAL", "1.0"),
            ("LEVO_FILTER", filter.as_str()),
            ("LEVO_HOST_ALLOW_RE", HOST_ALLOW),
            ("LEVO_PATH_ALLOW_RE", PATH_ALLOW),
            ("LEVO_HOST_EXCLUSIONS_RE", HOST_EXCLUSIONS),
            ("LEVO_PATH_EXCLUSIONS_RE", PATH_EXCLUSIONS),
        ]);
    } else {
        // The entrypoint words of the page, in its order, then its
        // "additional flags" (no -i: the default interface).
        args.extend([
            "--satellite-url",
            &url,
            "--levo-env",
            "staging",
            "--levoai-org-id",
            org,
            "--rate-limit",
            "100",
            "--trace-export-interval",
            "1.0",
            "--filter",
            &filter,
            "--host-allow",
            HOST_ALLOW,
            "--path-allow",
            PATH_ALLOW,
            "--host-exclusions",
            HOST_EXCLUSIONS,
            "--path-exclusions",
            PATH_EXCLUSIONS,
        ]);
    }
    let sensor = SatSensor::start_live(&args, &env);
    entrypoint_traffic(app);
    sat.wait_delivered(3, DELIVERY_DEADLINE);
    let fin = sensor.stop(libc::SIGTERM, Duration::from_secs(5));
    let otlp = sat.check();
    assert_posts_shape(&otlp, "/v1/traces");
    assert_eq!(
        otlp.delivered().len(),
        3,
        "by_env={by_env}: spans:{}",
        otlp.summary()
    );
    (entrypoint_result(&otlp), fin)
}

/// `apidump --satellite-url URL --levo-env staging --levoai-org-id ORG
/// --rate-limit 100 --trace-export-interval 1.0 --filter 'tcp port P'
/// --host-allow .. --path-allow .. --host-exclusions .. --path-exclusions ..`
/// runs and delivers exactly the exchanges the filters let through; the
/// same settings given only by environment variables give the same result.
#[test]
fn reference_entrypoint_by_flags_and_by_env_vars() {
    require_root("live capture");
    let app = Server::start("127.0.0.1");
    let (by_flags, fin_flags) = run_entrypoint(&app, false);
    let (by_env, fin_env) = run_entrypoint(&app, true);
    let want_rows = vec![
        json!(["GET", "api.example.com", "/api/orders", null, 404]),
        json!(["GET", "api.example.com", "/api/users", "check=health", 404]),
        json!(["POST", "shop.example.com", "/api/cart", null, 200]),
    ];
    let want_resource = json!({
        "service.name": "unknown_service",
        "deployment.environment.name": "staging",
        "levoai.org_id": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
        "cloud.provider": "aws",
        "cloud.region": "us-west-2",
    });
    assert_eq!(by_flags.0, want_rows, "delivered by the flags' run");
    assert_resource(&by_flags.1, &want_resource);
    assert_eq!(by_env, by_flags, "env vars' run vs flags' run");
    for fin in [&fin_flags, &fin_env] {
        fin.assert_exit_0();
        fin.assert_stat("filtered", 4);
        fin.assert_stat("rate_limited", 0);
        fin.assert_stat("exported", 3);
        fin.assert_stat("export_failures", 0);
    }
}

/// A flag wins over its environment variable; variables without a flag
/// still apply.
#[test]
fn flags_win_over_env_vars() {
    let mut sat = Satellite::start(SatOpts::mode(Mode::Ok));
    let url = sat.url();
    let pcap = corpus("zeek/http__get.pcap");
    // Nothing listens on port 9 of 127.0.0.1 unless someone runs discard.
    let fin = SatSensor::spawn(
        &[
            "-r",
            pcap.to_str().unwrap(),
            "--satellite-url",
            &url,
            "--levo-env",
            "from-flag",
        ],
        &[
            ("LEVO_SATELLITE_URL", "http://127.0.0.1:9"),
            ("LEVO_ENV", "from-env"),
            ("LEVO_ORG_ID", "org-from-env"),
        ],
    )
    .wait_exit(Duration::from_secs(30));
    fin.assert_exit_0();
    fin.assert_stat("exported", 1);
    sat.wait_delivered(1, Duration::from_secs(5));
    let otlp = sat.check();
    let s = otlp.by_path("/download/CHANGES.bro-aux.txt");
    assert_resource_and_scope(s, &resource_plain("from-flag", "org-from-env"));
}

// ---------------------------------------------------------------------------
// A satellite that is down, failing, hanging, throttling or rejecting

/// Nothing listens on the satellite's port when the sensor starts (the
/// port is bound, not listening: connections are refused); exports fail;
/// once it listens, every trace arrives.
#[test]
fn satellite_down_at_start_then_up_gets_every_trace() {
    require_root("live capture");
    let app = Server::start("127.0.0.1");
    let mut sat = Satellite::start(SatOpts {
        mode: Mode::Ok,
        down: true,
        tls: None,
    });
    let (url, filter) = (sat.url(), app.filter());
    let mut sensor = SatSensor::start_live(
        &[
            "-i",
            "lo",
            "--filter",
            &filter,
            "--satellite-url",
            &url,
            "--trace-export-interval",
            "500ms",
            "--stats-interval",
            "1",
        ],
        &[],
    );
    let sent = paths("down", 5);
    curl_all_ok(&app, &sent);
    sensor.wait_stats(Duration::from_secs(20), "export_failures >= 1", |s| {
        s.get("export_failures").is_some_and(|&n| n >= 1)
    });
    sat.drain();
    assert!(sat.posts.is_empty(), "nothing can arrive while down");
    sat.up();
    sat.wait_delivered(5, DELIVERY_DEADLINE);
    let fin = sensor.stop(libc::SIGTERM, Duration::from_secs(5));
    fin.assert_exit_0();
    fin.assert_stat("traces", 5);
    fin.assert_stat("exported", 5);
    fin.assert_stat_at_least("export_failures", 1);
    fin.assert_stat("export_dropped", 0);
    let otlp = sat.check();
    assert_posts_shape(&otlp, "/v1/traces");
    assert_same_set(&delivered_paths(&otlp), &sent, "delivered once each", &otlp);
}

/// A satellite answering 500 to everything: the sensor keeps capturing
/// (every exchange counted), retries, drops the oldest traces when its
/// 1 MiB queue is full and counts them, stays under its memory ceiling,
/// and exits 0 on SIGTERM within the bound.
#[test]
fn satellite_answering_500_no_crash_bounded_memory_drops_counted() {
    require_root("live capture");
    let app = Server::start("127.0.0.1");
    let mut sat = Satellite::start(SatOpts::mode(Mode::Fail500));
    let (url, filter) = (sat.url(), app.filter());
    let shutdown = 2;
    let pcap_mb = PCAP_BUFFER_MB.to_string();
    let shutdown_s = shutdown.to_string();
    let mut sensor = SatSensor::start_live(
        &[
            "-i",
            "lo",
            "--filter",
            &filter,
            "--satellite-url",
            &url,
            "--trace-export-interval",
            "200ms",
            "--stats-interval",
            "1",
            "--pcap-buffer-mb",
            &pcap_mb,
            "--export-queue-mb",
            "1",
            "--max-http-length",
            "16384",
            "--shutdown-timeout",
            &shutdown_s,
        ],
        &[],
    );
    let ceiling = sensor.memory_ceiling();
    // 2 x 60 responses of 16000 bytes: about 2 MB of traces for a 1 MiB queue.
    let round1: Vec<String> = (0..60).map(|i| format!("/bytes/16000?r=1&i={i}")).collect();
    curl_all_ok(&app, &round1);
    sensor.wait_stats(Duration::from_secs(20), "export_failures >= 1", |s| {
        s.get("export_failures").is_some_and(|&n| n >= 1)
    });
    let round2: Vec<String> = (0..60).map(|i| format!("/bytes/16000?r=2&i={i}")).collect();
    curl_all_ok(&app, &round2);
    sensor.wait_stats(Duration::from_secs(20), "traces >= 120", |s| {
        s.get("traces").is_some_and(|&n| n >= 120)
    });
    let hwm = sensor.vm_hwm_kb();
    let fin = sensor.stop(
        libc::SIGTERM,
        Duration::from_secs(shutdown) + ATTEMPT_TIMEOUT,
    );
    fin.assert_exit_0();
    fin.assert_stat("traces", 120);
    fin.assert_stat("exported", 0);
    fin.assert_stat_at_least("export_failures", 1);
    assert!(
        fin.stat("export_dropped") > 0,
        "a full queue drops and counts\n{}",
        fin.stderr_text()
    );
    assert_rss_bounded(&fin, ceiling, hwm);
    sat.drain();
    assert!(!sat.posts.is_empty(), "the sensor tried");
    assert!(sat.posts.iter().all(|p| p.answer == "500"));
    // Even the rejected bodies are valid OTLP.
    let otlp = sat.check();
    assert_posts_shape(&otlp, "/v1/traces");
}

/// A satellite that accepts the POST and never answers: attempts time out,
/// the traffic that came meanwhile is still captured, memory stays bounded,
/// SIGTERM still ends the sensor with exit 0 within the bound.
#[test]
fn satellite_never_answering_does_not_stop_capture() {
    require_root("live capture");
    let app = Server::start("127.0.0.1");
    let mut sat = Satellite::start(SatOpts::mode(Mode::Hang));
    let (url, filter) = (sat.url(), app.filter());
    let shutdown = 2;
    let pcap_mb = PCAP_BUFFER_MB.to_string();
    let shutdown_s = shutdown.to_string();
    let mut sensor = SatSensor::start_live(
        &[
            "-i",
            "lo",
            "--filter",
            &filter,
            "--satellite-url",
            &url,
            "--trace-export-interval",
            "500ms",
            "--stats-interval",
            "1",
            "--pcap-buffer-mb",
            &pcap_mb,
            "--shutdown-timeout",
            &shutdown_s,
        ],
        &[],
    );
    let ceiling = sensor.memory_ceiling();
    curl_all_ok(&app, &paths("hang-a", 5));
    sat.wait(DELIVERY_DEADLINE, "a POST left hanging", |s| {
        s.posts.iter().any(|p| p.answer == "hang")
    });
    // The sensor is inside a POST that will never be answered.
    curl_all_ok(&app, &paths("hang-b", 5));
    sensor.wait_stats(Duration::from_secs(30), "traces >= 10", |s| {
        s.get("traces").is_some_and(|&n| n >= 10)
    });
    sensor.wait_stats(Duration::from_secs(30), "export_failures >= 1", |s| {
        s.get("export_failures").is_some_and(|&n| n >= 1)
    });
    let hwm = sensor.vm_hwm_kb();
    let fin = sensor.stop(
        libc::SIGTERM,
        Duration::from_secs(shutdown) + ATTEMPT_TIMEOUT,
    );
    fin.assert_exit_0();
    fin.assert_stat("traces", 10);
    fin.assert_stat("exported", 0);
    fin.assert_stat_at_least("export_failures", 1);
    assert_rss_bounded(&fin, ceiling, hwm);
    let otlp = sat.check();
    assert_posts_shape(&otlp, "/v1/traces");
}

/// 429 twice, then 200: the batch is kept and retried, and arrives once.
#[test]
fn satellite_429_then_200_gets_every_trace() {
    require_root("live capture");
    let app = Server::start("127.0.0.1");
    let mut sat = Satellite::start(SatOpts::mode(Mode::TooManyThenOk(2)));
    let (url, filter) = (sat.url(), app.filter());
    let sensor = SatSensor::start_live(
        &[
            "-i",
            "lo",
            "--filter",
            &filter,
            "--satellite-url",
            &url,
            "--trace-export-interval",
            "500ms",
        ],
        &[],
    );
    let sent = paths("throttled", 4);
    curl_all_ok(&app, &sent);
    sat.wait_delivered(4, DELIVERY_DEADLINE);
    let fin = sensor.stop(libc::SIGTERM, Duration::from_secs(5));
    fin.assert_exit_0();
    fin.assert_stat("traces", 4);
    fin.assert_stat("exported", 4);
    fin.assert_stat_at_least("export_failures", 2);
    fin.assert_stat("export_dropped", 0);
    sat.drain();
    let answers: Vec<&str> = sat.posts.iter().map(|p| p.answer.as_str()).collect();
    assert_eq!(&answers[..2], ["429", "429"], "posts: {:?}", sat.posts);
    let otlp = sat.check();
    assert_posts_shape(&otlp, "/v1/traces");
    assert_same_set(&delivered_paths(&otlp), &sent, "delivered once each", &otlp);
}

/// True if `line` has "400" as a word (not inside 4000 or 14003).
fn mentions_400(line: &str) -> bool {
    line.split(|c: char| !c.is_ascii_alphanumeric())
        .any(|w| w == "400")
}

/// 400: the batch is dropped (not retried) and counted, and one log line
/// gives the status and the start of the satellite's answer.
#[test]
fn satellite_400_drops_the_batch_and_says_so_once() {
    require_root("live capture");
    let app = Server::start("127.0.0.1");
    let mut sat = Satellite::start(SatOpts::mode(Mode::Reject400));
    let (url, filter) = (sat.url(), app.filter());
    // A long interval: the one batch goes at SIGTERM.
    let mut sensor = SatSensor::start_live(
        &[
            "-i",
            "lo",
            "--filter",
            &filter,
            "--satellite-url",
            &url,
            "--trace-export-interval",
            "60s",
            "--stats-interval",
            "1",
        ],
        &[],
    );
    curl_all_ok(&app, &paths("rejected", 3));
    sensor.wait_stats(Duration::from_secs(20), "traces >= 3", |s| {
        s.get("traces").is_some_and(|&n| n >= 3)
    });
    let fin = sensor.stop(libc::SIGTERM, Duration::from_secs(5));
    fin.assert_exit_0();
    fin.assert_stat("traces", 3);
    fin.assert_stat("exported", 0);
    fin.assert_stat("export_dropped", 3);
    sat.drain();
    assert_eq!(sat.posts.len(), 1, "a 400 is not retried: {:?}", sat.posts);
    assert_eq!(sat.posts[0].answer, "400");
    assert_eq!(sat.posts[0].spans, 3);
    let lines: Vec<&String> = fin
        .stderr
        .iter()
        .filter(|l| !l.contains("stats ") && mentions_400(l))
        .collect();
    assert_eq!(
        lines.len(),
        1,
        "one log line about the 400\n{}",
        fin.stderr_text()
    );
    assert!(
        lines[0].contains("test-satellite-rejects-this-batch"),
        "the line gives the start of the answer: {}",
        lines[0]
    );
    let otlp = sat.check();
    assert_posts_shape(&otlp, "/v1/traces");
}

// ---------------------------------------------------------------------------
// https

/// A --ca-cert file with no PEM certificate in it (a DER file, a key, the
/// wrong file): said once at start, not left to show as a certificate error
/// at every attempt.
#[test]
fn ca_cert_without_a_certificate_is_reported_at_start() {
    let dir = std::env::temp_dir().join(format!("pcap-sensor-nopem-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("ca.der");
    std::fs::write(&file, [0x30u8, 0x82, 0x01, 0x0a, 0x02, 0x82]).unwrap();
    let pcap = corpus("zeek/http__get.pcap");
    let (code, _, err) = apidump(&[
        "-r",
        pcap.to_str().unwrap(),
        "--satellite-url",
        "https://127.0.0.1:1",
        "--shutdown-timeout",
        "1",
        "--ca-cert",
        file.to_str().unwrap(),
    ]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        err.matches("no PEM certificate could be read from").count(),
        1,
        "{err}"
    );
    assert!(err.contains("ca.der"), "{err}");
}

/// An https satellite with a certificate from a private test CA: delivery
/// works with --ca-cert, batch after batch over one kept-alive connection,
/// and without it every attempt fails (no crash, nothing delivered, failures
/// counted).
#[test]
fn https_satellite_with_a_test_ca() {
    require_root("live capture");
    let ca = TestCa::create();
    let mut sat = Satellite::start(SatOpts {
        mode: Mode::Ok,
        down: false,
        tls: Some((ca.server_cert.clone(), ca.server_key.clone())),
    });
    let url = sat.url();
    assert!(url.starts_with("https://127.0.0.1:"));
    // The set-up is right for a real client.
    let cacert = ca.ca_cert.to_str().unwrap();
    assert_eq!(curl(&["--cacert", cacert, &format!("{url}/health")]), "ok");

    let app = Server::start("127.0.0.1");
    let filter = app.filter();
    let base = [
        "-i",
        "lo",
        "--filter",
        &filter,
        "--satellite-url",
        &url,
        "--trace-export-interval",
        "500ms",
        "--stats-interval",
        "1",
        "--shutdown-timeout",
        "2",
    ];

    let mut args = base.to_vec();
    args.extend(["--ca-cert", cacert]);
    let sensor = SatSensor::start_live(&args, &[]);
    // Three rounds, each delivered before the next: three batches, over one
    // kept-alive TLS connection (one handshake, not one per batch).
    let mut with_ca = Vec::new();
    for round in 1..=3 {
        let p = paths(&format!("tls-with-ca-{round}"), 2);
        curl_all_ok(&app, &p);
        with_ca.extend(p);
        sat.wait_delivered(with_ca.len() as i64, DELIVERY_DEADLINE);
    }
    let fin = sensor.stop(libc::SIGTERM, Duration::from_secs(2) + ATTEMPT_TIMEOUT);
    fin.assert_exit_0();
    fin.assert_stat("exported", 6);
    fin.assert_stat("export_failures", 0);
    fin.assert_stat("export_batches", 3);

    let mut sensor = SatSensor::start_live(&base, &[]);
    curl_all_ok(&app, &paths("tls-without-ca", 2));
    sensor.wait_stats(Duration::from_secs(20), "export_failures >= 1", |s| {
        s.get("export_failures").is_some_and(|&n| n >= 1)
    });
    let fin = sensor.stop(libc::SIGTERM, Duration::from_secs(2) + ATTEMPT_TIMEOUT);
    fin.assert_exit_0();
    fin.assert_stat("traces", 2);
    fin.assert_stat("exported", 0);
    fin.assert_stat_at_least("export_failures", 1);

    let otlp = sat.check();
    assert_posts_shape(&otlp, "/v1/traces");
    assert_same_set(
        &delivered_paths(&otlp),
        &with_ca,
        "only the run with --ca-cert delivers",
        &otlp,
    );
    let ports: std::collections::BTreeSet<_> = otlp
        .posts
        .iter()
        .filter(|p| p["answer"] == 200)
        .map(|p| p["peer_port"].as_u64().unwrap())
        .collect();
    assert_eq!(ports.len(), 1, "one connection for the batches: {ports:?}");
}

// ---------------------------------------------------------------------------
// SIGTERM

/// 20 exchanges, all answered, then SIGTERM at once with a 60 s export
/// interval: the final flush delivers all 20, exit 0 within the bound.
#[test]
fn sigterm_right_after_traffic_delivers_every_exchange() {
    require_root("live capture");
    let app = Server::start("127.0.0.1");
    let mut sat = Satellite::start(SatOpts::mode(Mode::Ok));
    let (url, filter) = (sat.url(), app.filter());
    let sensor = SatSensor::start_live(
        &[
            "-i",
            "lo",
            "--filter",
            &filter,
            "--satellite-url",
            &url,
            "--trace-export-interval",
            "60s",
            "--shutdown-timeout",
            "5",
        ],
        &[],
    );
    let sent = paths("final", 20);
    curl_all_ok(&app, &sent);
    let fin = sensor.stop(libc::SIGTERM, Duration::from_secs(5));
    fin.assert_exit_0();
    fin.assert_stat("traces", 20);
    fin.assert_stat("exported", 20);
    sat.wait_delivered(20, Duration::from_secs(5));
    let otlp = sat.check();
    assert_posts_shape(&otlp, "/v1/traces");
    assert_same_set(&delivered_paths(&otlp), &sent, "every exchange", &otlp);
}

/// A client keeps making requests while SIGTERM arrives: every exchange
/// that completed before the signal reaches the satellite, nothing is
/// delivered twice or invented, exit 0 within the bound.
#[test]
fn sigterm_during_traffic_delivers_every_complete_exchange() {
    require_root("live capture");
    let app = Server::start("127.0.0.1");
    let mut sat = Satellite::start(SatOpts::mode(Mode::Ok));
    let (url, filter) = (sat.url(), app.filter());
    let sensor = SatSensor::start_live(
        &[
            "-i",
            "lo",
            "--filter",
            &filter,
            "--satellite-url",
            &url,
            "--trace-export-interval",
            "500ms",
            "--shutdown-timeout",
            "5",
        ],
        &[],
    );
    // The client: one curl per request, in order, until told to stop
    // (at most 300); each completed index goes on the channel.
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel::<usize>();
    let base = app.url("/text/");
    let client = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            for i in 0..300 {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let out = curl(&[
                    "-o",
                    "/dev/null",
                    "-w",
                    "%{http_code}",
                    &format!("{base}busy{i}"),
                ]);
                assert_eq!(out, "200");
                if tx.send(i).is_err() {
                    break;
                }
            }
        })
    };
    let mut completed = 0;
    while completed < 15 {
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(_) => completed += 1,
            Err(e) => panic!("client stalled after {completed} requests: {e}"),
        }
    }
    // Every request counted here completed before the signal.
    while rx.try_recv().is_ok() {
        completed += 1;
    }
    let before_signal = completed;
    let fin = sensor.stop(libc::SIGTERM, Duration::from_secs(5));
    stop.store(true, Ordering::SeqCst);
    client.join().expect("client thread");
    while rx.try_recv().is_ok() {
        completed += 1;
    }
    fin.assert_exit_0();
    sat.wait_delivered(fin.stat("exported") as i64, Duration::from_secs(5));
    let otlp = sat.check();
    assert_posts_shape(&otlp, "/v1/traces");
    let got = delivered_paths(&otlp);
    let unique: BTreeSet<&String> = got.iter().collect();
    assert_eq!(
        unique.len(),
        got.len(),
        "delivered twice:{}",
        otlp.summary()
    );
    let made: BTreeSet<String> = (0..completed).map(|i| format!("/text/busy{i}")).collect();
    for p in &got {
        assert!(made.contains(p), "{p} was never requested");
    }
    for i in 0..before_signal {
        let p = format!("/text/busy{i}");
        assert!(
            unique.contains(&p),
            "{p} completed before SIGTERM but never reached the satellite \
             ({before_signal} before the signal, {completed} in all, {} delivered)\n{}",
            got.len(),
            fin.stderr_text()
        );
    }
    fin.assert_stat("exported", got.len() as u64);
    fin.assert_stat("traces", fin.stat("exported"));
}

// ---------------------------------------------------------------------------
// The sensor's own metrics (issue 20 item 2)

/// A body's metrics as the stats line's `key -> value`.
fn metric_values(body: &Value) -> BTreeMap<String, u64> {
    body["metrics"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, m)| (k.clone(), m["value"].as_u64().unwrap()))
        .collect()
}

/// Every stats line (periodic, then the final one) among the sensor's
/// stderr lines.
fn stats_lines(stderr: &[String]) -> Vec<BTreeMap<String, u64>> {
    stderr
        .iter()
        .filter(|l| is_periodic_stats(l) || l.contains("final stats"))
        .map(|l| parse_stats(l))
        .collect()
}

/// The live run of the metrics tests: `n` exchanges delivered, then the
/// sensor (stats every second) stopped once the satellite has had
/// `metrics` metrics posts. Returns the paths requested.
fn metered_run(sat: &mut Satellite, n: usize, metrics: usize) -> (Vec<String>, SatFinished) {
    let app = Server::start("127.0.0.1");
    let (url, filter) = (sat.url(), app.filter());
    let sensor = SatSensor::start_live(
        &[
            "-i",
            "lo",
            "--filter",
            &filter,
            "--satellite-url",
            &url,
            "--trace-export-interval",
            "500ms",
            "--stats-interval",
            "1",
            "--levo-env",
            "test-env",
            "--levoai-org-id",
            "org-1234",
        ],
        &[],
    );
    let sent = paths("metered", n);
    curl_all_ok(&app, &sent);
    sat.wait_delivered(n as i64, DELIVERY_DEADLINE);
    let after = sat.metrics_posts.len() + metrics;
    sat.wait(
        Duration::from_secs(20),
        &format!("{metrics} metrics posts after the traces"),
        |s| s.metrics_posts.len() >= after,
    );
    let fin = sensor.stop(libc::SIGTERM, Duration::from_secs(5));
    fin.assert_exit_0();
    sat.drain();
    (sent, fin)
}

/// With a satellite and --stats-interval 1, the stats line's counters reach
/// {satellite}/v1/metrics every second and once at exit. Every body is a
/// valid OTLP/HTTP JSON ExportMetricsServiceRequest (checked with
/// opentelemetry-proto by sat_metrics_check.py) with the traces' resource
/// and scope; each body holds exactly the values of one stats line, in
/// order, and the last (sent after every trace) the final line's; counters
/// are cumulative sums from the sensor's start, levels gauges with units.
#[test]
fn metrics_reach_the_satellite_and_match_the_stats_lines() {
    require_root("live capture");
    let mut sat = Satellite::start(SatOpts::mode(Mode::Ok));
    let t0 = now_ns();
    let (sent, fin) = metered_run(&mut sat, 5, 2);
    let t1 = now_ns();
    fin.assert_stat("traces", 5);
    fin.assert_stat("exported", 5);
    fin.assert_stat("metrics_failures", 0);
    fin.assert_stat("export_queued", 0);

    let otlp = sat.check();
    assert_posts_shape(&otlp, "/v1/traces");
    assert_same_set(&delivered_paths(&otlp), &sent, "every trace", &otlp);
    let bodies = sat.check_metrics();
    let lines = stats_lines(&fin.stderr);
    assert_eq!(
        bodies.len(),
        lines.len(),
        "one metrics post per stats line (none dropped: metrics_failures=0)\n{}",
        fin.stderr_text()
    );
    assert!(sat.metrics_posts.iter().all(|p| p.answer == "200"));
    for (k, (body, line)) in bodies.iter().zip(&lines).enumerate() {
        assert_eq!(body["path"], "/v1/metrics", "{body}");
        assert_eq!(body["content_type"], "application/json", "{body}");
        assert_eq!(
            body["resource"],
            otlp.delivered()[0]["resource"],
            "the traces' resource"
        );
        assert_eq!(
            body["scope"],
            json!({"name": "pcap-sensor", "version": VERSION})
        );
        assert_eq!(
            &metric_values(body),
            line,
            "body {k} against stats line {k}\n{}",
            fin.stderr_text()
        );
    }
    // The last body is the final line's, and came after every trace.
    let last = bodies.last().unwrap();
    assert_eq!(metric_values(last), fin.final_stats);
    let last_trace = sat.posts.iter().map(|p| p.at).max().unwrap();
    assert!(
        sat.metrics_posts.last().unwrap().at > last_trace,
        "the final metrics before a trace batch: {:?} {:?}",
        sat.posts,
        sat.metrics_posts
    );
    // Kinds and units.
    let m = &last["metrics"];
    for (field, kind, unit) in [
        ("packets", "sum", "{packets}"),
        ("bytes", "sum", "By"),
        ("kernel_drops", "sum", "{packets}"),
        ("traces", "sum", "{traces}"),
        ("exported", "sum", "{traces}"),
        ("metrics_failures", "sum", "{exports}"),
        ("peak_rss_kb", "gauge", "KiBy"),
        ("export_queued", "gauge", "{traces}"),
    ] {
        assert_eq!(m[field]["kind"], kind, "{field}: {}", m[field]);
        assert_eq!(m[field]["unit"], unit, "{field}: {}", m[field]);
    }
    // Sums start at the sensor's start and never go down; time goes on.
    let start = m["packets"]["start_ns"].as_u64().unwrap();
    assert!(
        t0 <= start && start <= t1,
        "start {start} not in [{t0}, {t1}]"
    );
    let mut prev: Option<&Value> = None;
    for b in &bodies {
        for (field, x) in b["metrics"].as_object().unwrap() {
            let time = x["time_ns"].as_u64().unwrap();
            assert!(start <= time && time <= t1, "{field}: {x}");
            if x["kind"] == "sum" {
                assert_eq!(x["start_ns"].as_u64(), Some(start), "{field}: {x}");
            }
            if let Some(p) = prev {
                let was = &p["metrics"][field];
                assert!(
                    was["time_ns"].as_u64() < Some(time),
                    "{field}: {was} then {x}"
                );
                if x["kind"] == "sum" {
                    assert!(was["value"].as_u64() <= x["value"].as_u64(), "{field}");
                }
            }
        }
        prev = Some(b);
    }
}

/// A satellite that answers 404 to /v1/metrics (a collector without a
/// metrics pipeline) still gets every trace, once; each metrics post is
/// tried once, failed and counted (metrics_failures), and said once on
/// stderr.
#[test]
fn a_satellite_rejecting_metrics_still_gets_every_trace() {
    require_root("live capture");
    let mut sat = Satellite::start_answering_metrics(SatOpts::mode(Mode::Ok), "404");
    let (sent, fin) = metered_run(&mut sat, 6, 2);
    fin.assert_stat("traces", 6);
    fin.assert_stat("exported", 6);
    fin.assert_stat("export_failures", 0);
    fin.assert_stat("export_dropped", 0);
    let otlp = sat.check();
    assert_posts_shape(&otlp, "/v1/traces");
    assert_same_set(&delivered_paths(&otlp), &sent, "delivered once each", &otlp);
    assert!(sat.metrics_posts.len() >= 3, "{:?}", sat.metrics_posts);
    assert!(
        sat.metrics_posts.iter().all(|p| p.answer == "404"),
        "{:?}",
        sat.metrics_posts
    );
    fin.assert_stat("metrics_failures", sat.metrics_posts.len() as u64);
    let said: Vec<&String> = fin
        .stderr
        .iter()
        .filter(|l| l.contains("cannot deliver metrics"))
        .collect();
    assert_eq!(said.len(), 1, "said once\n{}", fin.stderr_text());
    assert!(said[0].contains("HTTP 404"), "{}", said[0]);
    // The bodies were still valid OTLP.
    assert_eq!(sat.check_metrics().len(), sat.metrics_posts.len());
}

/// A satellite that takes traces but never answers /v1/metrics: the one
/// metrics request times out, and none is tried for a minute after it (each
/// would hold the capture thread for its timeout); every body meanwhile is
/// dropped and counted, and traces before and after are all delivered, once.
#[test]
fn a_satellite_hanging_on_metrics_is_not_asked_again_at_once() {
    require_root("live capture");
    let app = Server::start("127.0.0.1");
    let mut sat = Satellite::start_answering_metrics(SatOpts::mode(Mode::Ok), "hang");
    let (url, filter) = (sat.url(), app.filter());
    let mut sensor = SatSensor::start_live(
        &[
            "-i",
            "lo",
            "--filter",
            &filter,
            "--satellite-url",
            &url,
            "--trace-export-interval",
            "500ms",
            "--stats-interval",
            "1",
        ],
        &[],
    );
    let before = paths("before-hang", 4);
    curl_all_ok(&app, &before);
    sat.wait_delivered(4, DELIVERY_DEADLINE);
    sat.wait(Duration::from_secs(20), "a metrics post", |s| {
        !s.metrics_posts.is_empty()
    });
    // The hung request has failed, and three more intervals have passed.
    sensor.wait_stats(Duration::from_secs(30), "metrics_failures >= 4", |s| {
        s.get("metrics_failures").is_some_and(|&n| n >= 4)
    });
    let after = paths("after-hang", 4);
    curl_all_ok(&app, &after);
    sat.wait_delivered(8, DELIVERY_DEADLINE);
    let fin = sensor.stop(libc::SIGTERM, Duration::from_secs(5));
    fin.assert_exit_0();
    fin.assert_stat("traces", 8);
    fin.assert_stat("exported", 8);
    fin.assert_stat("export_dropped", 0);
    sat.drain();
    assert_eq!(
        sat.metrics_posts.len(),
        1,
        "tried again within the minute: {:?}",
        sat.metrics_posts
    );
    // Every stats line's body failed: the one that hung, the rest not sent.
    fin.assert_stat("metrics_failures", stats_lines(&fin.stderr).len() as u64);
    let otlp = sat.check();
    let mut sent = before.clone();
    sent.extend(after);
    assert_same_set(&delivered_paths(&otlp), &sent, "delivered once each", &otlp);
    let said: Vec<&String> = fin
        .stderr
        .iter()
        .filter(|l| l.contains("cannot deliver metrics"))
        .collect();
    assert_eq!(said.len(), 1, "said once\n{}", fin.stderr_text());
    assert!(said[0].contains("the next metrics in 60 s"), "{}", said[0]);
}
