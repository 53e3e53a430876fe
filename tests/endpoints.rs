//! Endpoint-aware sampling in the sensor binary (issue 19): the traces it
//! writes, its counters and its `--endpoints` inventory.
//!
//! Offline: the hour of API traffic tests/support/endpoints_mkpcap.py
//! writes (about 60,000 exchanges on 300 endpoints: 30% health checks, a
//! Zipf mix, a tail seen 1-3 times, a few percent of 4xx/5xx) read with
//! `apidump -r` at `--rate-limit 100`:
//! - sampling (the default) traces at least 99% of the endpoints and 95% of
//!   the (endpoint, 4xx/5xx) pairs, within the rate limit (N a minute plus
//!   the initial burst, and at most 2N in any minute); the exchanges passed
//!   over at their request and traced for a new error carry
//!   `"body_omitted":true` and an error status; the counters and the
//!   inventory add up to the generator's truth;
//! - `--sampling uniform` traces exactly the exchanges today's token bucket
//!   takes (`RateLimit`, in request order; that the bytes are those of the
//!   base binary is `./build.sh compare`'s to show);
//! - without a rate limit every exchange is traced and the inventory still
//!   counts them all, and so does sampling under a rate limit the traffic
//!   fits in; a table smaller than the endpoints evicts, counts it,
//!   and holds the limit; the inventory is a table on a terminal.
//!
//! Live, as root: nginx on loopback with several locations, one of them
//! hammered (curl, 100 requests on one connection, at 24 traces a minute),
//! shows the quiet endpoints traced while the hot one is limited,
//! a 500 passed over at its request traced at its response (request head
//! only, flagged), the hot endpoint's first 5xx traced too, and the
//! inventory file rewritten at each stats interval; the same traffic under
//! `--sampling uniform` gives the hot endpoint the whole burst.
//!
//! Needs python3 (standard library only); the live test needs root, nginx
//! and curl.

mod support;

use pcap_sensor::policy::RateLimit;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::endpoints::{Endpoint, Generated, coverage, error_class, generate};
use support::live::{Nginx, Sensor};
use support::offline::{Run, apidump_args, run_sensor_within};
use support::process::{SENSOR, TempDir, run_with_deadline, script};
use support::require::{python3, require_root, require_tool};
use support::text::parse_rfc3339_micros;

const SEED: u64 = 19;
const RATE: f64 = 100.0;
const MINUTE: u64 = 60_000_000;
/// A debug build reads the hour (57 MB) in a few seconds.
const DEADLINE: Duration = Duration::from_secs(300);

/// What one offline run of the sensor over a generated capture wrote.
struct Output {
    run: Run,
    traces: Vec<Value>,
    /// The `--endpoints` file, one JSON value per line.
    inventory: Vec<Value>,
}

/// `apidump -r CAPTURE --out F --endpoints I --stats-interval 0 EXTRA...`.
fn sensor(g: &Generated, dir: &TempDir, name: &str, extra: &[&str]) -> Output {
    let out = dir.path(&format!("{name}.jsonl"));
    let inv = dir.path(&format!("{name}-endpoints.jsonl"));
    let pcap = g.pcap.as_ref().expect("a capture");
    let (o, i) = (out.to_str().unwrap(), inv.to_str().unwrap());
    let mut args = apidump_args(
        pcap,
        &["--out", o, "--endpoints", i, "--stats-interval", "0"],
    );
    args.extend_from_slice(extra);
    let run = run_sensor_within(&args, &[], DEADLINE);
    assert!(run.status.success(), "{}", run.describe());
    Output {
        traces: json_lines(&out),
        inventory: json_lines(&inv),
        run,
    }
}

fn json_lines(p: &Path) -> Vec<Value> {
    std::fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str()
        .unwrap_or_else(|| panic!("no string {k} in {v}"))
}

/// A trace's request: (method, Host header, target).
fn request_key(t: &Value) -> (String, String, String) {
    let r = &t["request"];
    (
        s(r, "method").to_string(),
        s(r, "host").to_string(),
        s(r, "target").to_string(),
    )
}

/// The status of a trace's response (None: no response).
fn status(t: &Value) -> Option<u16> {
    t["response"]["status"].as_u64().map(|s| s as u16)
}

/// The start of a trace (its request's first packet), µs since 1970.
fn start_us(t: &Value) -> u64 {
    parse_rfc3339_micros(s(t, "ts")).expect("ts")
}

/// Traces as (the generator's endpoint, status), for `coverage`.
fn endpoints_of(g: &Generated, traces: &[Value]) -> Vec<(Endpoint, u16)> {
    let templates = g.template_of();
    traces
        .iter()
        .map(|t| {
            let (m, h, target) = request_key(t);
            let tmpl = templates
                .get(&(m.clone(), h.clone(), target.clone()))
                .unwrap_or_else(|| panic!("a trace the generator did not send: {t}"))
                .clone();
            ((m, h, tmpl), status(t).expect("every exchange is answered"))
        })
        .collect()
}

/// When each trace took its token: at its request, or (a head promoted by
/// its response) at its response, of which the trace has the last packet:
/// a little later than the token, so this check is that much lenient.
fn token_times(traces: &[Value]) -> Vec<u64> {
    let mut v: Vec<u64> = traces
        .iter()
        .map(|t| {
            let start = start_us(t);
            if t["request"]["body_omitted"] == true {
                start + t["duration_us"].as_u64().unwrap()
            } else {
                start
            }
        })
        .collect();
    v.sort_unstable();
    v
}

/// Panics unless the traces stay within the bucket: by any time t, at most
/// N + N·(t - start)/minute; in any minute, at most 2N. Returns the most in
/// a minute.
fn assert_within_the_limit(name: &str, start: u64, times: &[u64]) -> usize {
    for (k, &t) in times.iter().enumerate() {
        let allowed = RATE + RATE * t.saturating_sub(start) as f64 / MINUTE as f64;
        assert!(
            (k + 1) as f64 <= allowed + 1e-9,
            "{name}: trace {} at +{} µs, more than {allowed}",
            k + 1,
            t - start
        );
    }
    let (mut most, mut j) = (0, 0);
    for i in 0..times.len() {
        while j < times.len() && times[j] < times[i] + MINUTE {
            j += 1;
        }
        most = most.max(j - i);
    }
    assert!(
        most as f64 <= 2.0 * RATE,
        "{name}: {most} traces in a minute"
    );
    most
}

/// Panics unless the inventory lists every endpoint of the truth once, with
/// its exchanges and error answers; returns the sum of its `traced`.
fn assert_inventory_adds_up(g: &Generated, inventory: &[Value]) -> u64 {
    let truth = g.endpoints();
    let mut seen = BTreeSet::new();
    let mut traced = 0;
    let mut last = u64::MAX;
    for v in inventory {
        let k = (
            s(v, "method").to_string(),
            s(v, "host").to_string(),
            s(v, "template").to_string(),
        );
        let &(n, e4, e5) = truth
            .get(&k)
            .unwrap_or_else(|| panic!("an endpoint the generator does not have: {v}"));
        assert_eq!(v["seen"], n, "{k:?}");
        assert_eq!(v["status"]["4xx"], e4, "{k:?}");
        assert_eq!(v["status"]["5xx"], e5, "{k:?}");
        assert_eq!(v["status"]["none"], 0, "{k:?}");
        let seen_n = v["seen"].as_u64().unwrap();
        assert!(seen_n <= last, "most seen first: {v}");
        last = seen_n;
        assert!(v["p50_us"].as_u64().unwrap() <= v["p99_us"].as_u64().unwrap());
        traced += v["traced"].as_u64().unwrap();
        assert!(seen.insert(k.clone()), "{k:?} twice");
    }
    assert_eq!(seen.len(), truth.len(), "endpoints in the inventory");
    traced
}

#[test]
fn sampling_traces_every_endpoint_and_error_of_an_hour_within_the_limit() {
    let dir = TempDir::new("endpoints-sampling");
    let g = generate(&dir, SEED, 60.0, true);
    let exchanges = g.exchanges.len() as u64;
    let o = sensor(&g, &dir, "sampling", &["--rate-limit", "100"]);
    let st = |k: &str| o.run.stat(k).unwrap();
    let cov = coverage(&g, endpoints_of(&g, &o.traces));
    let start = g.exchanges[0].ts_us;
    let most = assert_within_the_limit("sampling", start, &token_times(&o.traces));
    let promoted: Vec<&Value> = o
        .traces
        .iter()
        .filter(|t| t["request"]["body_omitted"] == true)
        .collect();
    eprintln!(
        "sampling at {RATE}/min: {} traces of {exchanges} exchanges; endpoints {}/{} ({:.1}%), \
         (endpoint, error) pairs {}/{} ({:.1}%); most in a minute {most}; new endpoint {}, new \
         error {} (request head only), fair share {}",
        o.traces.len(),
        cov.endpoints_traced,
        cov.endpoints,
        100.0 * cov.endpoint_share(),
        cov.pairs_traced,
        cov.pairs,
        100.0 * cov.pair_share(),
        st("traces_new_endpoint"),
        st("traces_new_error"),
        st("traces_fair_share"),
    );
    assert!(cov.endpoint_share() >= 0.99, "{cov:?}");
    assert!(cov.pair_share() >= 0.95, "{cov:?}");
    // The counters add up.
    let traces = o.traces.len() as u64;
    assert_eq!(st("traces"), traces);
    assert_eq!(st("traces") + st("rate_limited"), exchanges);
    assert_eq!(
        st("traces_new_endpoint") + st("traces_new_error") + st("traces_fair_share"),
        traces
    );
    assert_eq!(st("endpoints_known"), 300);
    assert_eq!(st("endpoint_evictions"), 0);
    assert_eq!(st("pool_exhausted"), 0);
    assert_eq!(st("truncated_bodies"), 0);
    // The budget is used: within 5% of what the bucket allows.
    let span = (g.exchanges.last().unwrap().end_us - start) as f64 / MINUTE as f64;
    assert!(traces as f64 >= 0.95 * RATE * (1.0 + span), "{traces}");
    // A trace promoted at its response: an error, its request head without
    // its body, flagged as such; one per new (endpoint, error class).
    assert_eq!(promoted.len() as u64, st("traces_new_error"));
    assert!(!promoted.is_empty());
    let mut pairs = BTreeSet::new();
    for t in &promoted {
        let code = status(t).unwrap();
        assert!(
            error_class(code).is_some(),
            "promoted without an error: {t}"
        );
        let r = &t["request"];
        assert_eq!(r["body"], "", "{t}");
        assert_eq!(
            r["body_truncated"],
            r["body_size"].as_u64().unwrap() > 0,
            "{t}"
        );
        assert!(!r["headers"].as_array().unwrap().is_empty(), "{t}");
        assert!(t["response"]["body_size"].as_u64().unwrap() > 0, "{t}");
        let (m, h, target) = request_key(t);
        assert!(
            pairs.insert((
                m,
                h,
                target.split('?').next().unwrap().to_string(),
                code / 100
            )),
            "two promoted traces of one pair"
        );
    }
    assert_eq!(
        o.traces
            .iter()
            .filter(|t| t.to_string().contains("body_omitted"))
            .count(),
        promoted.len(),
        "body_omitted appears on promoted traces only"
    );
    // The inventory: every endpoint, as the generator made them (the
    // template rules on realistic paths), with its traces.
    assert_eq!(assert_inventory_adds_up(&g, &o.inventory), traces);
    let health = o
        .inventory
        .iter()
        .find(|v| v["template"] == "/healthz")
        .unwrap();
    assert_eq!(o.inventory[0], *health, "the health check is seen most");
    eprintln!("the health check: {health}");
    assert!(
        health["traced"].as_u64().unwrap() * 50 < traces,
        "the health check takes no more than its share: {health}"
    );
}

#[test]
fn uniform_traces_what_the_plain_bucket_takes() {
    let dir = TempDir::new("endpoints-uniform");
    let g = generate(&dir, SEED, 60.0, true);
    let o = sensor(
        &g,
        &dir,
        "uniform",
        &["--rate-limit", "100", "--sampling", "uniform"],
    );
    // Today's bucket over the requests, in the order the sensor sees them.
    let mut bucket = RateLimit::new(RATE);
    let mut want: BTreeMap<(u64, String, String), usize> = BTreeMap::new();
    for x in &g.exchanges {
        if bucket.take(x.ts_us) {
            *want
                .entry((x.ts_us, x.method.clone(), x.target.clone()))
                .or_default() += 1;
        }
    }
    let mut got: BTreeMap<(u64, String, String), usize> = BTreeMap::new();
    for t in &o.traces {
        let (m, _, target) = request_key(t);
        *got.entry((start_us(t), m, target)).or_default() += 1;
    }
    assert_eq!(
        got.values().sum::<usize>(),
        want.values().sum::<usize>(),
        "traces"
    );
    assert!(got == want, "uniform traced other exchanges than RateLimit");
    let cov = coverage(&g, endpoints_of(&g, &o.traces));
    eprintln!(
        "uniform at {RATE}/min: {} traces; endpoints {}/{} ({:.1}%), pairs {}/{} ({:.1}%)",
        o.traces.len(),
        cov.endpoints_traced,
        cov.endpoints,
        100.0 * cov.endpoint_share(),
        cov.pairs_traced,
        cov.pairs,
        100.0 * cov.pair_share(),
    );
    let st = |k: &str| o.run.stat(k).unwrap();
    for k in [
        "traces_new_endpoint",
        "traces_new_error",
        "traces_fair_share",
    ] {
        assert_eq!(st(k), 0, "{k}");
    }
    assert_eq!(st("traces") + st("rate_limited"), g.exchanges.len() as u64);
    assert!(
        o.traces
            .iter()
            .all(|t| t["request"]["body_omitted"].is_null())
    );
    // The inventory is kept all the same.
    assert_eq!(
        assert_inventory_adds_up(&g, &o.inventory),
        o.traces.len() as u64
    );
}

#[test]
fn without_a_rate_limit_everything_is_traced_and_the_inventory_counts_it() {
    let dir = TempDir::new("endpoints-unlimited");
    let g = generate(&dir, 5, 10.0, true);
    let o = sensor(&g, &dir, "unlimited", &[]);
    assert_eq!(o.traces.len(), g.exchanges.len());
    // Under a rate limit the traffic fits in (1,000 exchanges a minute at
    // 2,000 traces a minute), sampling traces everything too: spare tokens.
    let within = sensor(&g, &dir, "within", &["--rate-limit", "2000"]);
    assert_eq!(within.traces, o.traces);
    assert_eq!(within.run.stat("rate_limited").unwrap(), 0);
    assert!(
        o.traces
            .iter()
            .all(|t| t["request"]["body_omitted"].is_null())
    );
    assert_eq!(o.run.stat("rate_limited").unwrap(), 0);
    assert_eq!(
        o.run.stat("endpoints_known").unwrap(),
        g.endpoints().len() as u64
    );
    assert_eq!(
        assert_inventory_adds_up(&g, &o.inventory),
        g.exchanges.len() as u64
    );
    // `--endpoints -` through a pipe: JSON Lines on stdout, at exit.
    let pcap = g.pcap.as_ref().unwrap();
    let run = run_sensor_within(
        &apidump_args(
            pcap,
            &[
                "--out",
                "/dev/null",
                "--endpoints",
                "-",
                "--stats-interval",
                "0",
            ],
        ),
        &[],
        DEADLINE,
    );
    assert!(run.status.success(), "{}", run.describe());
    assert_eq!(run.traces(), o.inventory);
}

#[test]
fn a_small_endpoint_table_evicts_counts_it_and_holds_the_limit() {
    let dir = TempDir::new("endpoints-small");
    let g = generate(&dir, SEED, 60.0, true);
    let o = sensor(
        &g,
        &dir,
        "small",
        &["--rate-limit", "100", "--max-endpoints", "64"],
    );
    let st = |k: &str| o.run.stat(k).unwrap();
    assert_eq!(st("endpoints_known"), 64);
    assert!(st("endpoint_evictions") > 0);
    assert_eq!(o.inventory.len(), 64);
    assert_within_the_limit(
        "64 endpoints",
        g.exchanges[0].ts_us,
        &token_times(&o.traces),
    );
    let cov = coverage(&g, endpoints_of(&g, &o.traces));
    eprintln!(
        "64 endpoints for 300: {} evictions; endpoints {:.1}%, pairs {:.1}%; memory ceiling line: {}",
        st("endpoint_evictions"),
        100.0 * cov.endpoint_share(),
        100.0 * cov.pair_share(),
        o.run
            .stderr_lines()
            .iter()
            .find(|l| l.contains("memory ceiling"))
            .unwrap()
    );
    // The endpoints seen most are still known.
    let mut by_count: Vec<(u64, Endpoint)> = g
        .endpoints()
        .into_iter()
        .map(|(k, (n, _, _))| (n, k))
        .collect();
    by_count.sort_by_key(|b| std::cmp::Reverse(b.0));
    let known: BTreeSet<Endpoint> = o
        .inventory
        .iter()
        .map(|v| {
            (
                s(v, "method").into(),
                s(v, "host").into(),
                s(v, "template").into(),
            )
        })
        .collect();
    for (n, k) in by_count.iter().take(10) {
        assert!(known.contains(k), "{k:?} ({n} exchanges) was forgotten");
    }
}

#[test]
fn bad_sampling_flags_are_usage_errors() {
    for (args, says) in [
        (
            &["--sampling", "fair"][..],
            "--sampling takes endpoints or uniform",
        ),
        (
            &["--max-endpoints", "0"][..],
            "--max-endpoints must be greater than 0",
        ),
        (
            &["--max-endpoints", "lots"][..],
            "--max-endpoints expects a number",
        ),
        (
            &["--max-endpoints", "99999999"][..],
            "--max-endpoints 99999999 is more than",
        ),
        (&["--endpoints"][..], "--endpoints needs a value"),
    ] {
        let mut a = vec!["apidump", "-r", "x.pcap"];
        a.extend_from_slice(args);
        let run = run_sensor_within(&a, &[], DEADLINE);
        assert_eq!(run.status.code(), Some(2), "{args:?}: {}", run.describe());
        let lines = run.stderr_lines();
        assert_eq!(lines.len(), 1, "{args:?}: {lines:?}");
        assert!(lines[0].contains(says), "{args:?}: {}", lines[0]);
    }
}

/// `--endpoints -` on a terminal (tests/support/ecs_pty.py, 160 columns):
/// the table, most seen first, after nothing else on stdout.
#[test]
fn the_inventory_on_a_terminal_is_a_table() {
    let dir = TempDir::new("endpoints-pty");
    let g = generate(&dir, 3, 2.0, true);
    let steps = dir.path("steps.json");
    std::fs::write(&steps, "[]").unwrap();
    let pcap = g.pcap.as_ref().unwrap().to_str().unwrap().to_string();
    let mut cmd = Command::new(python3());
    cmd.arg(script("ecs_pty.py"))
        .arg(&steps)
        .args(["--columns", "160", "--"])
        .args([
            SENSOR,
            "apidump",
            "-r",
            &pcap,
            "--out",
            "/dev/null",
            "--endpoints",
            "-",
            "--stats-interval",
            "0",
            "--log-format",
            "json",
        ])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("TERM", "xterm-256color")
        .env("LANG", "C.UTF-8");
    let out = run_with_deadline(&mut cmd, DEADLINE);
    let r: Value = serde_json::from_slice(&out.stdout).expect("ecs_pty.py prints JSON");
    assert_eq!(r["status"], 0, "{r}");
    let text = r["transcript"].as_str().unwrap().replace("\r\n", "\n");
    // Stderr (JSON log lines) shares the terminal: the table is the rest.
    let table: Vec<&str> = text.lines().filter(|l| !l.starts_with('{')).collect();
    assert!(
        table[0].split_whitespace().collect::<Vec<_>>()
            == [
                "SEEN", "TRACED", "2XX", "3XX", "4XX", "5XX", "OTHER", "NONE", "P50", "P99",
                "METHOD", "HOST", "TEMPLATE"
            ],
        "{text}"
    );
    assert_eq!(table.len(), 1 + g.endpoints().len(), "{text}");
    let healthz = table[1].split_whitespace().collect::<Vec<_>>();
    assert_eq!(healthz.last(), Some(&"/healthz"), "{text}");
    let truth = g.endpoints();
    let n = truth
        .iter()
        .find(|(k, _)| k.2 == "/healthz")
        .map(|(_, v)| v.0)
        .unwrap();
    assert_eq!(healthz[0], n.to_string());
    assert_eq!(healthz[1], n.to_string(), "no rate limit: all traced");
}

// ---------------------------------------------------------------------------
// Live

/// `curl` (keep-alive, sequential) for `paths` of `server`, with `more`
/// flags first; its output is not looked at.
fn curl(server: &Nginx, more: &[&str], paths: &[&str]) {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "--max-time", "60"])
        .args(more)
        .args(paths.iter().map(|p| server.url(p)))
        .stdin(Stdio::null());
    let out = run_with_deadline(&mut cmd, Duration::from_secs(90));
    assert!(
        out.status.success(),
        "curl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// nginx's locations: the quiet endpoints, the hot one (GET /status/2xx),
/// its 503, one path answering 200 or 500 by its query, 404 for the rest.
const LOCATIONS: &str = r#"
    location = /text/alpha { return 200 "this is alpha\n"; }
    location ~ ^/bytes/[0-9]+$ { return 200 "abcdefghijkl"; }
    location = /head { return 200 "head\n"; }
    location ~ ^/status/2[0-9][0-9]$ { return 200 "status 200\n"; }
    location = /status/503 { return 503 "status 503\n"; }
    location = /answer {
      if ($arg_status = 500) { return 500 "answer 500\n"; }
      return 200 "answer 200\n";
    }
    location / { return 404 "not found\n"; }
"#;

/// Quiet endpoints, one exchange each (a 404 among them): two before the
/// hot one starts, two after.
const QUIET: [&str; 4] = ["/text/alpha", "/bytes/12", "/head", "/missing"];
/// Requests of the hot endpoint GET /status/{int}.
const HOT: usize = 100;
/// The rate limit of the live runs (a reserve of 6 for new endpoints and
/// errors): the hot endpoint alone asks for 4 times as many.
const LIVE_RATE: &str = "24";
const LIVE_N: f64 = 24.0;
/// Exchanges in all.
const LIVE_EXCHANGES: u64 = (HOT + QUIET.len() + 3) as u64;

/// The traffic: two quiet endpoints; the hot endpoint hammered; the two
/// other quiet endpoints; GET /answer twice, a 200 and a 500; a 503 of the
/// hot endpoint. curl spaces all but the hammering 100 ms apart (`--rate`):
/// the second /answer comes long before its endpoint is due a fair share,
/// and after the sampler's spacing of kept heads (10 ms per endpoint).
fn live_traffic(server: &Nginx) {
    curl(server, &["--rate", "10/s"], &QUIET[..2]);
    curl(server, &[], &vec!["/status/200"; HOT]);
    let mut last: Vec<&str> = QUIET[2..].to_vec();
    last.extend(["/answer?status=200", "/answer?status=500", "/status/503"]);
    curl(server, &["--rate", "10/s"], &last);
}

/// Traces by path.
fn by_path(traces: &[Value]) -> HashMap<String, Vec<&Value>> {
    let mut m: HashMap<String, Vec<&Value>> = HashMap::new();
    for t in traces {
        m.entry(s(&t["request"], "path").to_string())
            .or_default()
            .push(t);
    }
    m
}

#[test]
fn live_quiet_endpoints_are_traced_while_the_hot_one_is_limited() {
    require_root("live capture");
    require_tool("curl", "curl");
    let server = Nginx::start(LOCATIONS);
    let dir = TempDir::new("endpoints-live");
    let inv = dir.path("endpoints.jsonl");
    let filter = server.filter();
    let host = "127.0.0.1";

    // Sampling (the default under a rate limit).
    let started = Instant::now();
    let mut sensor = Sensor::start(&[
        "-i",
        "lo",
        "--filter",
        &filter,
        "--rate-limit",
        LIVE_RATE,
        "--stats-interval",
        "1",
        "--endpoints",
        inv.to_str().unwrap(),
    ]);
    live_traffic(&server);
    let err = sensor.wait_target("/status/503", Duration::from_secs(30));
    // The inventory file is rewritten before each stats line: once a line
    // counts all six endpoints, the file has them.
    sensor.wait_stderr("endpoints_known=6 ", Duration::from_secs(30));
    let periodic = json_lines(&inv);
    let fin = sensor.stop(libc::SIGINT);
    fin.assert_exit_0();
    let seconds = started.elapsed().as_secs_f64();
    let paths = by_path(&fin.traces);
    let hot = paths.get("/status/200").map_or(0, Vec::len);
    eprintln!(
        "sampling at {LIVE_RATE}/min: {} traces in {seconds:.1} s: /status/200 {hot} of {HOT}, \
         quiet {:?}, /answer {}, the 503: {}",
        fin.traces.len(),
        QUIET.map(|p| paths.get(p).map_or(0, Vec::len)),
        paths.get("/answer").map_or(0, Vec::len),
        if err["request"]["body_omitted"] == true {
            "promoted at its response (new error)"
        } else {
            "kept at its request (fair share)"
        }
    );
    for p in QUIET {
        assert_eq!(
            paths.get(p).map(Vec::len),
            Some(1),
            "quiet {p} traced\n{}",
            fin.stderr.join("\n")
        );
    }
    assert_eq!(status(&err), Some(503));
    // Its first traces come from spare tokens (no contention yet), down to
    // half the bucket; then it waits for its share, while the reserve keeps
    // what the endpoints and errors still to come need.
    assert!(
        (1..HOT / 2).contains(&hot),
        "the hot endpoint is limited: {hot}"
    );
    // GET /answer: its 200 traced as a new endpoint; its 500, passed over
    // at the request (not due), traced at its response as a new error,
    // from its request head.
    let answer = &paths["/answer"];
    assert_eq!(answer.len(), 2, "{answer:?}");
    assert_eq!(answer[0]["request"]["body_omitted"], Value::Null);
    assert_eq!(status(answer[1]), Some(500));
    assert_eq!(answer[1]["request"]["body_omitted"], true, "{}", answer[1]);
    assert_eq!(answer[1]["request"]["target"], "/answer?status=500");
    assert_eq!(
        fin.stat("traces_new_endpoint"),
        6,
        "hot, quiet and /answer: each traced first as new"
    );
    assert!(fin.stat("traces_new_error") >= 1);
    assert_eq!(
        fin.stat("traces_new_error") + fin.stat("traces_fair_share") + 6,
        fin.stat("traces")
    );
    assert_eq!(
        fin.stat("traces") + fin.stat("rate_limited"),
        LIVE_EXCHANGES
    );
    let allowance = LIVE_N + (LIVE_N * seconds / 60.0).ceil();
    assert!(fin.traces.len() as f64 <= allowance, "{}", fin.traces.len());
    // The inventory at a stats interval and at exit.
    let templates = |inv: &[Value]| -> BTreeSet<String> {
        inv.iter().map(|v| s(v, "template").to_string()).collect()
    };
    let want: BTreeSet<String> = [
        "/status/{int}",
        "/text/alpha",
        "/bytes/{int}",
        "/head",
        "/missing",
        "/answer",
    ]
    .map(String::from)
    .into();
    assert_eq!(templates(&periodic), want);
    let at_exit = json_lines(&inv);
    assert_eq!(templates(&at_exit), want);
    let hot_line = &at_exit[0];
    assert_eq!(hot_line["template"], "/status/{int}");
    assert_eq!(hot_line["host"], host);
    assert_eq!(hot_line["seen"], HOT as u64 + 1);
    assert_eq!(hot_line["status"]["2xx"], HOT as u64);
    assert_eq!(hot_line["status"]["5xx"], 1);
    assert_eq!(hot_line["traced"], hot as u64 + 1);
    let missing = at_exit
        .iter()
        .find(|v| v["template"] == "/missing")
        .unwrap();
    assert_eq!(
        (
            missing["seen"].clone(),
            missing["traced"].clone(),
            missing["status"]["4xx"].clone()
        ),
        (json!(1), json!(1), json!(1))
    );

    // The same traffic under the plain bucket: the hot endpoint takes the
    // whole burst.
    let sensor = Sensor::start(&[
        "-i",
        "lo",
        "--filter",
        &filter,
        "--rate-limit",
        LIVE_RATE,
        "--sampling",
        "uniform",
    ]);
    live_traffic(&server);
    let fin = sensor.stop(libc::SIGINT);
    fin.assert_exit_0();
    let paths = by_path(&fin.traces);
    let hot_u = paths.get("/status/200").map_or(0, Vec::len);
    let quiet_u = QUIET.iter().filter(|p| paths.contains_key(**p)).count();
    eprintln!(
        "uniform at {LIVE_RATE}/min: {} traces: /status/200 {hot_u} of {HOT}, quiet traced {quiet_u} of {}, \
         the 503 {}",
        fin.traces.len(),
        QUIET.len(),
        if paths.contains_key("/status/503") {
            "traced"
        } else {
            "not traced"
        }
    );
    assert!(
        hot_u as f64 >= LIVE_N - 2.0,
        "the hot endpoint took the burst: {hot_u}"
    );
    assert_eq!(
        fin.stat("traces") + fin.stat("rate_limited"),
        LIVE_EXCHANGES
    );
    assert_eq!(fin.stat("traces_new_endpoint"), 0);
}
