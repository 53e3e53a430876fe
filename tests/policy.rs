//! Policy tests of issue 4: host/path filters, the rate limit, redaction,
//! Content-Encoding decoding, HAR output, ECS task metadata in the OTLP
//! resource, and bad flag values.
//!
//! Input is crafted offline: tests/support/policy_mkpcap.py writes pcaps
//! (Ethernet/IPv4/TCP with handshakes and correct sequence numbers) from a
//! spec built here, so every exchange, host, path, header and body is known.
//! The sensor reads them with `-r` and writes JSON Lines (`--out -`), HAR
//! (`--out FILE.har`, read back with PyPI haralyzer) or OTLP to a recording
//! satellite (tests/support/sat_server.py; tests/support/sat_otlp_check.py
//! checks each body with opentelemetry-proto). The ECS metadata endpoint is a
//! fixture on 127.0.0.1 (tests/support/policy_ecs.py).
//!
//! Needs python3 (stdlib) and the test venv (.cache/venv, or PCAP_SENSOR_PY)
//! with haralyzer and opentelemetry-proto. No root needed.

mod support;

use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;
use support::offline::{Run, apidump_args, run_sensor};
use support::policy::*;
use support::process::{TempDir, free_port, run_with_deadline, script};
use support::require::venv_python;
use support::text::{base64_decode, hex, query_pairs};
use support::trace::{body_bytes, header, header_pairs};

const REDACTED: &str = "[REDACTED]";

/// Adds `key: value` to a policy_mkpcap message.
fn with(mut m: Value, key: &str, value: Value) -> Value {
    m[key] = value;
    m
}

/// Panics with every failure collected by a table-driven test.
fn report(failures: Vec<String>) {
    assert!(
        failures.is_empty(),
        "{} failure(s):\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// Checks that a run exited 0; Err(description) otherwise.
fn exited_ok(run: &Run) -> Result<(), String> {
    if run.status.success() {
        Ok(())
    } else {
        Err(format!("exit status {}, want 0", run.status))
    }
}

/// A small pcap of three ordinary exchanges (GET, POST, GET 404).
fn simple_pcap(dir: &TempDir) -> (PathBuf, Vec<Times>) {
    let conns = vec![Conn::new(vec![
        (
            msg(
                &[
                    "GET /v1/items?limit=2 HTTP/1.1",
                    "Host: shop.example.com",
                    "User-Agent: policy-test/1",
                ],
                "",
            ),
            Some(msg(
                &["HTTP/1.1 200 OK", "Content-Type: application/json"],
                "[1,2]",
            )),
        ),
        (
            msg(
                &[
                    "POST /v1/items HTTP/1.1",
                    "Host: shop.example.com",
                    "Content-Type: application/json",
                ],
                r#"{"name":"widget"}"#,
            ),
            Some(msg(
                &["HTTP/1.1 201 Created", "Content-Type: application/json"],
                r#"{"id":3}"#,
            )),
        ),
        (
            msg(&["GET /v1/nothing HTTP/1.1", "Host: shop.example.com"], ""),
            Some(msg(
                &["HTTP/1.1 404 Not Found", "Content-Type: text/plain"],
                "no",
            )),
        ),
    ])];
    write_pcap(dir, "simple.pcap", &conns)
}

// ---------------------------------------------------------------------------
// 1. Filters

struct FilterCase {
    host: Option<&'static str>,
    method: &'static str,
    target: &'static str,
    server: &'static str,
}

/// Request N carries `X-Case: N`.
const FILTER_EXCHANGES: [FilterCase; 8] = [
    FilterCase {
        host: Some("api.example.com:8080"),
        method: "GET",
        target: "/v1/users?id=1",
        server: "10.1.0.2",
    },
    FilterCase {
        host: Some("api.example.com"),
        method: "GET",
        target: "/v1/orders",
        server: "10.1.0.2",
    },
    FilterCase {
        host: Some("admin.example.com"),
        method: "GET",
        target: "/v1/users",
        server: "10.1.0.2",
    },
    FilterCase {
        host: Some("api.example.com"),
        method: "GET",
        target: "/health",
        server: "10.1.0.2",
    },
    // HTTP/1.0 without a Host header: host rules see the server IP.
    FilterCase {
        host: None,
        method: "GET",
        target: "/v1/users",
        server: "10.9.8.7",
    },
    FilterCase {
        host: Some("cdn.example.net"),
        method: "GET",
        target: "/static/app.js",
        server: "10.1.0.2",
    },
    FilterCase {
        host: Some("api.example.com"),
        method: "GET",
        target: "/v1/search?q=health&x=1",
        server: "10.1.0.2",
    },
    FilterCase {
        host: Some("api.example.com:8443"),
        method: "POST",
        target: "/v1/orders",
        server: "10.1.0.2",
    },
];

fn filter_pcap(dir: &TempDir) -> PathBuf {
    let conns: Vec<Conn> = FILTER_EXCHANGES
        .iter()
        .enumerate()
        .map(|(n, c)| {
            let version = if c.host.is_some() {
                "HTTP/1.1"
            } else {
                "HTTP/1.0"
            };
            let mut lines = vec![format!("{} {} {version}", c.method, c.target)];
            if let Some(h) = c.host {
                lines.push(format!("Host: {h}"));
            }
            lines.push(format!("X-Case: {n}"));
            lines.push("User-Agent: policy-test/1".into());
            let body = if c.method == "POST" {
                lines.push("Content-Type: application/json".into());
                r#"{"q":1}"#
            } else {
                ""
            };
            let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
            let status = format!("{version} 200 OK");
            let resp = msg(
                &[status.as_str(), "Content-Type: text/plain"],
                &format!("case {n}"),
            );
            Conn::new(vec![(msg(&refs, body), Some(resp))]).server(c.server)
        })
        .collect();
    write_pcap(dir, "filters.pcap", &conns).0
}

/// The X-Case numbers of the traces, sorted; each trace must be complete.
fn case_numbers(traces: &[Value]) -> Result<Vec<usize>, String> {
    let mut out = Vec::new();
    for t in traces {
        let n = header(&t["request"]["headers"], "X-Case")
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("trace without X-Case: {t}"))?;
        if t["response"]["status"] != 200 {
            return Err(format!("trace of case {n} has no 200 response: {t}"));
        }
        out.push(n);
    }
    out.sort_unstable();
    Ok(out)
}

#[test]
fn filters_keep_the_right_exchanges_and_count_the_rest() {
    let dir = TempDir::new("filters");
    let pcap = filter_pcap(&dir);
    let all: Vec<usize> = (0..FILTER_EXCHANGES.len()).collect();
    type Scenario = (
        &'static str,
        Vec<&'static str>,
        Vec<(&'static str, &'static str)>,
        Vec<usize>,
    );
    let scenarios: Vec<Scenario> = vec![
        ("no rules: everything passes", vec![], vec![], all.clone()),
        (
            "host-allow matches the Host header without its port",
            vec!["--host-allow", r"^api\.example\.com$"],
            vec![],
            vec![0, 1, 3, 6, 7],
        ),
        (
            "two host-allow rules: any one is enough; no Host header -> server IP",
            vec!["--host-allow", r"^api\.", "--host-allow", r"^10\.9\.8\.7$"],
            vec![],
            vec![0, 1, 3, 4, 6, 7],
        ),
        (
            "the server IP is used only when there is no Host header",
            vec!["--host-allow", r"^10\."],
            vec![],
            vec![4],
        ),
        (
            "host-exclusions do not see the port",
            vec!["--host-exclusions", "8080|8443"],
            vec![],
            all.clone(),
        ),
        (
            "path-allow prefix",
            vec!["--path-allow", "^/v1/"],
            vec![],
            vec![0, 1, 2, 4, 6, 7],
        ),
        (
            "path-allow sees the path without the query",
            vec!["--path-allow", "^/v1/users$"],
            vec![],
            vec![0, 2, 4],
        ),
        (
            "path-allow on a word of the query matches nothing",
            vec!["--path-allow", "id=1"],
            vec![],
            vec![],
        ),
        (
            "path-exclusions do not see the query",
            vec!["--path-exclusions", "health"],
            vec![],
            vec![0, 1, 2, 4, 5, 6, 7],
        ),
        (
            "host and path exclusions together",
            vec![
                "--host-exclusions",
                r"^admin\.",
                "--path-exclusions",
                "^/static/",
            ],
            vec![],
            vec![0, 1, 3, 4, 6, 7],
        ),
        (
            "allow rules of both kinds and an exclusion",
            vec![
                "--host-allow",
                r"^api\.",
                "--path-allow",
                "^/v1/",
                "--path-exclusions",
                "^/v1/orders$",
            ],
            vec![],
            vec![0, 6],
        ),
        (
            "env LEVO_HOST_EXCLUSIONS_RE and LEVO_PATH_ALLOW_RE",
            vec![],
            vec![
                ("LEVO_HOST_EXCLUSIONS_RE", r"^admin\."),
                ("LEVO_PATH_ALLOW_RE", "^/v1/"),
            ],
            vec![0, 1, 4, 6, 7],
        ),
        (
            "env LEVO_HOST_ALLOW_RE and LEVO_PATH_EXCLUSIONS_RE",
            vec![],
            vec![
                ("LEVO_HOST_ALLOW_RE", r"^api\."),
                ("LEVO_PATH_EXCLUSIONS_RE", "^/health$"),
            ],
            vec![0, 1, 6, 7],
        ),
        (
            "the flag wins over its env variable",
            vec!["--host-allow", r"^api\."],
            vec![("LEVO_HOST_ALLOW_RE", r"^admin\.")],
            vec![0, 1, 3, 6, 7],
        ),
    ];
    let mut failures = Vec::new();
    for (name, flags, env, want) in &scenarios {
        let mut args = apidump_args(&pcap, &["--out", "-"]);
        args.extend_from_slice(flags);
        let run = run_sensor(&args, env);
        let check = || -> Result<(), String> {
            exited_ok(&run)?;
            let got = case_numbers(&run.traces())?;
            if &got != want {
                return Err(format!("exchanges out: {got:?}, want {want:?}"));
            }
            let removed = (FILTER_EXCHANGES.len() - want.len()) as u64;
            let filtered = run.stat("filtered")?;
            if filtered != removed {
                return Err(format!("filtered={filtered}, want {removed}"));
            }
            let limited = run.stat("rate_limited")?;
            if limited != 0 {
                return Err(format!("rate_limited={limited}, want 0"));
            }
            let traces = run.stat("traces")?;
            if traces != want.len() as u64 {
                return Err(format!("traces={traces}, want {}", want.len()));
            }
            Ok(())
        };
        if let Err(e) = check() {
            failures.push(format!("[{name}] {e}\n{}", run.describe()));
        }
    }
    report(failures);
}

/// A usage error: exit 2, nothing on stdout, exactly one stderr line, which
/// contains one of `names`.
fn usage_error(run: &Run, names: &[&str]) -> Result<(), String> {
    if run.status.code() != Some(2) {
        return Err(format!("exit status {}, want 2", run.status));
    }
    if !run.stdout.trim().is_empty() {
        return Err(format!("stdout not empty: {:?}", run.stdout));
    }
    let lines = run.stderr_lines();
    if lines.len() != 1 {
        return Err(format!("{} stderr lines, want exactly 1", lines.len()));
    }
    if !names.iter().any(|n| lines[0].contains(n)) {
        return Err(format!("the stderr line names none of {names:?}"));
    }
    Ok(())
}

#[test]
fn filters_bad_regex_is_a_usage_error_naming_the_flag() {
    let dir = TempDir::new("badregex");
    let (pcap, _) = simple_pcap(&dir);
    let cases: [(&str, &str); 5] = [
        ("--host-allow", "("),
        ("--path-allow", "[a-"),
        ("--host-exclusions", "a)"),
        ("--path-exclusions", "(?P<name"),
        ("--host-allow", "*"),
    ];
    let mut failures = Vec::new();
    for (flag, re) in cases {
        let mut args = apidump_args(&pcap, &["--out", "-"]);
        args.extend_from_slice(&[flag, re]);
        let run = run_sensor(&args, &[]);
        if let Err(e) = usage_error(&run, &[flag]) {
            failures.push(format!("[{flag} {re:?}] {e}\n{}", run.describe()));
        }
    }
    // The same through the env variables (the line names the variable or the flag).
    let env_cases = [
        ("LEVO_HOST_ALLOW_RE", "--host-allow"),
        ("LEVO_PATH_EXCLUSIONS_RE", "--path-exclusions"),
    ];
    for (var, flag) in env_cases {
        let args = apidump_args(&pcap, &["--out", "-"]);
        let run = run_sensor(&args, &[(var, "(")]);
        if let Err(e) = usage_error(&run, &[var, flag]) {
            failures.push(format!("[{var}=(] {e}\n{}", run.describe()));
        }
    }
    report(failures);
}

// ---------------------------------------------------------------------------
// 2. Rate limit

/// 100 exchanges /r/0 .. /r/99 on 10 keep-alive connections, all within a few
/// milliseconds of capture time.
fn rate_pcap(dir: &TempDir) -> PathBuf {
    let conns: Vec<Conn> = (0..10)
        .map(|c| {
            Conn::new(
                (0..10)
                    .map(|k| {
                        let i = c * 10 + k;
                        let start = format!("GET /r/{i} HTTP/1.1");
                        (
                            msg(&[start.as_str(), "Host: api.example.com"], ""),
                            Some(ok_text(&format!("r{i}"))),
                        )
                    })
                    .collect(),
            )
        })
        .collect();
    let (p, times) = write_pcap(dir, "rate.pcap", &conns);
    let span = times.last().unwrap().response_end_us.unwrap() - times[0].request_us;
    assert!(span < 1_000_000, "rate pcap spans {span} µs, want < 1 s");
    p
}

#[test]
fn rate_limit_is_a_bucket_of_one_minute() {
    let dir = TempDir::new("rate");
    let pcap = rate_pcap(&dir);
    type Scenario = (
        &'static str,
        Vec<&'static str>,
        Vec<(&'static str, &'static str)>,
        usize,
    );
    let scenarios: Vec<Scenario> = vec![
        ("--rate-limit 60", vec!["--rate-limit", "60"], vec![], 60),
        (
            "--rate-limit 60.0",
            vec!["--rate-limit", "60.0"],
            vec![],
            60,
        ),
        (
            "--rate-limit 0 = no limit",
            vec!["--rate-limit", "0"],
            vec![],
            100,
        ),
        ("default (1000 per minute)", vec![], vec![], 100),
        (
            "LEVO_RATE_LIMIT=60",
            vec![],
            vec![("LEVO_RATE_LIMIT", "60")],
            60,
        ),
        (
            "LEVO_RATE_LIMIT_NUMBER=60",
            vec![],
            vec![("LEVO_RATE_LIMIT_NUMBER", "60")],
            60,
        ),
        (
            "flag 0 wins over LEVO_RATE_LIMIT=60",
            vec!["--rate-limit", "0"],
            vec![("LEVO_RATE_LIMIT", "60")],
            100,
        ),
        (
            "flag 60 wins over LEVO_RATE_LIMIT=0",
            vec!["--rate-limit", "60"],
            vec![("LEVO_RATE_LIMIT", "0")],
            60,
        ),
    ];
    let mut failures = Vec::new();
    for (name, flags, env, want) in &scenarios {
        let mut args = apidump_args(&pcap, &["--out", "-"]);
        args.extend_from_slice(flags);
        let run = run_sensor(&args, env);
        let check = || -> Result<(), String> {
            exited_ok(&run)?;
            let traces = run.traces();
            let mut got = BTreeSet::new();
            for t in &traces {
                let i: usize = t["request"]["target"]
                    .as_str()
                    .and_then(|s| s.strip_prefix("/r/"))
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| format!("unexpected trace {t}"))?;
                // Decided at the request: a kept request keeps its response.
                if t["response"]["status"] != 200 || t["response"]["body"] != format!("r{i}") {
                    return Err(format!("trace /r/{i} lacks its response: {t}"));
                }
                got.insert(i);
            }
            // The bucket starts full: the first `want` requests pass.
            let expect: BTreeSet<usize> = (0..*want).collect();
            if traces.len() != *want || got != expect {
                return Err(format!(
                    "{} traces {:?}, want /r/0../r/{}",
                    traces.len(),
                    got,
                    want - 1
                ));
            }
            let limited = run.stat("rate_limited")?;
            if limited != (100 - want) as u64 {
                return Err(format!("rate_limited={limited}, want {}", 100 - want));
            }
            let filtered = run.stat("filtered")?;
            if filtered != 0 {
                return Err(format!("filtered={filtered}, want 0"));
            }
            let counted = run.stat("traces")?;
            if counted != *want as u64 {
                return Err(format!("traces={counted}, want {want}"));
            }
            Ok(())
        };
        if let Err(e) = check() {
            failures.push(format!("[{name}] {e}\n{}", run.describe()));
        }
    }
    report(failures);
}

// ---------------------------------------------------------------------------
// 3. Redaction

const SECRETS: &[&str] = &[
    "zq-qapikey-28c1",
    "zq-qpass-93aa",
    "zq-authz-7c41e9",
    "zq-proxyauth-11f0",
    "zq-cookie-4be2",
    "zq-apikey-8d03",
    "zq-session-62a9",
    "zq-authtoken-0f7e",
    "zq-amztoken-5c88",
    "zq-bpass-41d2",
    "zq-bsecret-a9e0",
    "zq-barrkey-3b17",
    "zq-setcookie-77e3",
    "zq-rtoken-c6d5",
    "zq-rsession-19b4",
    "zq-qsession-e8a1",
    "zq-cookie2-50c3",
    "zq-lcauth-3e2d",
    "zq-clsecret-77aa",
    "zq-appapikey-0c9f",
    "zq-passwd-51be",
    "zq-qaccess-4410",
    "zq-arrtoken-8812",
];

/// Request headers of the /profile exchange (names in other spellings and
/// cases): (name, value, redacted?).
const PROFILE_HEADERS: &[(&str, &str, bool)] = &[
    ("Host", "api.example.com", false),
    ("Cookie", "zq-cookie2-50c3", true),
    ("authorization", "Basic zq-lcauth-3e2d", true),
    ("X-Client-Secret", "zq-clsecret-77aa", true),
    ("X-App-ApiKey", "zq-appapikey-0c9f", true),
    ("X-Passwd", "zq-passwd-51be", true),
    ("Accept", "application/json", false),
];
const PROFILE_TARGET: &str =
    "/profile?session=zq-qsession-e8a1&lang=en&access_token=zq-qaccess-4410";
const PROFILE_RESP_BODY: &str = r#"[{"token":"zq-arrtoken-8812","id":1},{"id":2}]"#;

const LOGIN_TARGET: &str = "/login?api_key=zq-qapikey-28c1&password=zq-qpass-93aa&page=2";
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const LOGIN_BODY: &str = r#"{"username":"alice","password":"zq-bpass-41d2","user":{"secret":"zq-bsecret-a9e0","name":"bob"},"items":[{"api_key":"zq-barrkey-3b17","qty":2}]}"#;
const LOGIN_RESP_BODY: &str = r#"{"ok":true,"access_token":"zq-rtoken-c6d5","profile":{"id":7,"session_key":"zq-rsession-19b4"}}"#;

/// Request headers of the login exchange: (name, value, redacted?).
const LOGIN_HEADERS: &[(&str, &str, bool)] = &[
    ("Host", "api.example.com", false),
    ("User-Agent", "policy-test/1", false),
    ("Authorization", "Bearer zq-authz-7c41e9", true),
    ("Proxy-Authorization", "Basic zq-proxyauth-11f0", true),
    ("Cookie", "sid=zq-cookie-4be2; theme=dark", true),
    ("X-Api-Key", "zq-apikey-8d03", true),
    ("X-Session-Id", "zq-session-62a9", true),
    ("X-Auth-Token", "zq-authtoken-0f7e", true),
    ("X-Amz-Security-Token", "zq-amztoken-5c88", true),
    ("traceparent", TRACEPARENT, false),
    ("tracestate", "vendor=opaque-value-1", false),
    ("X-Request-Id", "req-7781", false),
    ("Content-Type", "application/json", false),
];

fn redaction_pcap(dir: &TempDir) -> PathBuf {
    let start = format!("POST {LOGIN_TARGET} HTTP/1.1");
    let mut lines = vec![start];
    lines.extend(LOGIN_HEADERS.iter().map(|(n, v, _)| format!("{n}: {v}")));
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let mut profile = vec![format!("GET {PROFILE_TARGET} HTTP/1.1")];
    profile.extend(PROFILE_HEADERS.iter().map(|(n, v, _)| format!("{n}: {v}")));
    let profile_refs: Vec<&str> = profile.iter().map(String::as_str).collect();
    let conns = vec![Conn::new(vec![
        (
            msg(&refs, LOGIN_BODY),
            Some(msg(
                &[
                    "HTTP/1.1 200 OK",
                    "Content-Type: application/json",
                    "Set-Cookie: session=zq-setcookie-77e3; Path=/; HttpOnly",
                ],
                LOGIN_RESP_BODY,
            )),
        ),
        (
            msg(&profile_refs, ""),
            Some(msg(
                &["HTTP/1.1 200 OK", "Content-Type: application/json"],
                PROFILE_RESP_BODY,
            )),
        ),
    ])];
    write_pcap(dir, "redaction.pcap", &conns).0
}

fn by_path<'a>(traces: &'a [Value], path: &str) -> Result<&'a Value, String> {
    let found: Vec<&Value> = traces
        .iter()
        .filter(|t| t["request"]["path"] == path)
        .collect();
    match found.as_slice() {
        [t] => Ok(t),
        _ => Err(format!(
            "want one trace with path {path}, got {}",
            found.len()
        )),
    }
}

fn check_query(t: &Value, want: &[(&str, &str)]) -> Result<(), String> {
    let req = &t["request"];
    let q = req["query"].as_str().ok_or("query is not a string")?;
    let got = query_pairs(q);
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    if got != want {
        return Err(format!("query {q:?} decodes to {got:?}, want {want:?}"));
    }
    let target = format!("{}?{q}", req["path"].as_str().unwrap_or(""));
    if req["target"] != target.as_str() {
        return Err(format!(
            "target {} is not path?query = {target:?}",
            req["target"]
        ));
    }
    Ok(())
}

fn json_body(msg: &Value) -> Result<Value, String> {
    let bytes = body_bytes(msg);
    serde_json::from_slice(&bytes).map_err(|e| {
        format!(
            "body is not JSON ({e}): {:?}",
            String::from_utf8_lossy(&bytes)
        )
    })
}

fn check_redacted(run: &Run) -> Result<(), String> {
    exited_ok(run)?;
    let everything = format!("{}\n{}", run.stdout, run.stderr);
    let leaked: Vec<&&str> = SECRETS
        .iter()
        .filter(|s| everything.contains(**s))
        .collect();
    if !leaked.is_empty() {
        return Err(format!("secrets in the output: {leaked:?}"));
    }
    let traces = run.traces();
    let login = by_path(&traces, "/login")?;
    let got = header_pairs(&login["request"]["headers"]);
    let want: Vec<(String, String)> = LOGIN_HEADERS
        .iter()
        .map(|(n, v, r)| (n.to_string(), if *r { REDACTED } else { v }.to_string()))
        .collect();
    let mut errors = Vec::new();
    // Content-Length is added by the pcap writer; compare the others in order.
    let got_no_len: Vec<(String, String)> = got
        .iter()
        .filter(|(n, _)| !n.eq_ignore_ascii_case("Content-Length"))
        .cloned()
        .collect();
    if got_no_len != want {
        errors.push(format!(
            "request headers:\n got  {got_no_len:?}\n want {want:?}"
        ));
    }
    if let Err(e) = check_query(
        login,
        &[("api_key", REDACTED), ("password", REDACTED), ("page", "2")],
    ) {
        errors.push(e);
    }
    match json_body(&login["request"]) {
        Ok(b) => {
            let want = json!({"username":"alice","password":REDACTED,
                "user":{"secret":REDACTED,"name":"bob"},"items":[{"api_key":REDACTED,"qty":2}]});
            if b != want {
                errors.push(format!("request body {b}, want {want}"));
            }
        }
        Err(e) => errors.push(format!("request {e}")),
    }
    let resp = &login["response"];
    if header(&resp["headers"], "Set-Cookie") != Some(REDACTED) {
        errors.push(format!("Set-Cookie not redacted: {}", resp["headers"]));
    }
    if header(&resp["headers"], "Content-Type") != Some("application/json") {
        errors.push(format!("Content-Type changed: {}", resp["headers"]));
    }
    match json_body(resp) {
        Ok(b) => {
            let want = json!({"ok":true,"access_token":REDACTED,
                "profile":{"id":7,"session_key":REDACTED}});
            if b != want {
                errors.push(format!("response body {b}, want {want}"));
            }
        }
        Err(e) => errors.push(format!("response {e}")),
    }
    let profile = by_path(&traces, "/profile")?;
    if let Err(e) = check_query(
        profile,
        &[
            ("session", REDACTED),
            ("lang", "en"),
            ("access_token", REDACTED),
        ],
    ) {
        errors.push(e);
    }
    let got = header_pairs(&profile["request"]["headers"]);
    let want: Vec<(String, String)> = PROFILE_HEADERS
        .iter()
        .map(|(n, v, r)| (n.to_string(), if *r { REDACTED } else { v }.to_string()))
        .collect();
    if got != want {
        errors.push(format!(
            "/profile request headers:\n got  {got:?}\n want {want:?}"
        ));
    }
    match json_body(&profile["response"]) {
        Ok(b) => {
            let want = json!([{"token":REDACTED,"id":1},{"id":2}]);
            if b != want {
                errors.push(format!("/profile response body {b}, want {want}"));
            }
        }
        Err(e) => errors.push(format!("/profile response {e}")),
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("\n"))
    }
}

#[test]
fn redaction_is_on_by_default() {
    let dir = TempDir::new("redact");
    let pcap = redaction_pcap(&dir);
    let run = run_sensor(&apidump_args(&pcap, &["--out", "-"]), &[]);
    if let Err(e) = check_redacted(&run) {
        panic!("{e}\n{}\nstdout:\n{}", run.describe(), run.stdout);
    }
}

#[test]
fn no_redact_keeps_every_value_and_warns_at_start() {
    let dir = TempDir::new("noredact");
    let pcap = redaction_pcap(&dir);
    let run = run_sensor(&apidump_args(&pcap, &["--out", "-", "--no-redact"]), &[]);
    let check = || -> Result<(), String> {
        exited_ok(&run)?;
        let missing: Vec<&&str> = SECRETS
            .iter()
            .filter(|s| !run.stdout.contains(**s))
            .collect();
        if !missing.is_empty() {
            return Err(format!("values missing from the traces: {missing:?}"));
        }
        let traces = run.traces();
        let login = by_path(&traces, "/login")?;
        for (n, v, _) in LOGIN_HEADERS {
            if header(&login["request"]["headers"], n) != Some(v) {
                return Err(format!(
                    "header {n} is not {v:?}: {}",
                    login["request"]["headers"]
                ));
            }
        }
        if login["request"]["target"] != LOGIN_TARGET {
            return Err(format!("target {}", login["request"]["target"]));
        }
        let profile = by_path(&traces, "/profile")?;
        for (n, v, _) in PROFILE_HEADERS {
            if header(&profile["request"]["headers"], n) != Some(v) {
                return Err(format!(
                    "header {n} is not {v:?}: {}",
                    profile["request"]["headers"]
                ));
            }
        }
        if profile["request"]["target"] != PROFILE_TARGET {
            return Err(format!("target {}", profile["request"]["target"]));
        }
        if body_bytes(&profile["response"]) != PROFILE_RESP_BODY.as_bytes() {
            return Err(format!("response body {}", profile["response"]["body"]));
        }
        if body_bytes(&login["request"]) != LOGIN_BODY.as_bytes() {
            return Err(format!("request body {}", login["request"]["body"]));
        }
        if body_bytes(&login["response"]) != LOGIN_RESP_BODY.as_bytes() {
            return Err(format!("response body {}", login["response"]["body"]));
        }
        let lines = run.stderr_lines();
        let warn = lines
            .iter()
            .position(|l| l.to_ascii_lowercase().contains("redact"));
        let fin = lines.iter().position(|l| l.contains("final stats"));
        match (warn, fin) {
            (Some(w), Some(f)) if w < f => Ok(()),
            _ => Err("no warning line about redaction being off before the final stats".into()),
        }
    };
    if let Err(e) = check() {
        panic!("{e}\n{}", run.describe());
    }
}

#[test]
fn redaction_applies_to_the_otlp_export() {
    let dir = TempDir::new("redact-otlp");
    let pcap = redaction_pcap(&dir);
    let (run, sat) = export_pcap(&pcap, 2, &[], &[]);
    let check = || -> Result<(), String> {
        exited_ok(&run)?;
        let p = sat.problems();
        if !p.is_empty() {
            return Err(p.join("\n"));
        }
        let bodies = sat.bodies();
        let all: Vec<&Value> = bodies.iter().flat_map(spans).collect();
        if all.len() != 2 {
            return Err(format!("{} spans, want 2", all.len()));
        }
        let everything = format!(
            "{}\n{}\n{}",
            run.stdout,
            run.stderr,
            sat.records
                .iter()
                .map(|r| r["body"].as_str().unwrap_or(""))
                .collect::<Vec<_>>()
                .join("\n")
        );
        let leaked: Vec<&&str> = SECRETS
            .iter()
            .filter(|s| everything.contains(**s))
            .collect();
        if !leaked.is_empty() {
            return Err(format!("secrets exported or logged: {leaked:?}"));
        }
        let login = all
            .iter()
            .map(|s| attr_map(&s["attributes"]))
            .find(|a| str_attr(a, "url.path") == Some("/login"))
            .ok_or("no span with url.path /login")?;
        let mut errors = Vec::new();
        for (key, want) in [
            ("http.request.header.authorization", REDACTED),
            ("http.request.header.cookie", REDACTED),
            ("http.request.header.x-session-id", REDACTED),
            ("http.request.header.traceparent", TRACEPARENT),
        ] {
            let got = login
                .get(key)
                .and_then(|v| v["arrayValue"]["values"][0]["stringValue"].as_str());
            if got != Some(want) {
                errors.push(format!("{key}: {:?}, want [{want:?}]", login.get(key)));
            }
        }
        match str_attr(&login, "url.query").map(query_pairs) {
            Some(q)
                if q == [
                    ("api_key".to_string(), REDACTED.to_string()),
                    ("password".to_string(), REDACTED.to_string()),
                    ("page".to_string(), "2".to_string()),
                ] => {}
            other => errors.push(format!("url.query {other:?}")),
        }
        match str_attr(&login, "http.request.body").map(serde_json::from_str::<Value>) {
            Some(Ok(b)) if b["password"] == REDACTED && b["user"]["secret"] == REDACTED => {}
            other => errors.push(format!("http.request.body {other:?}")),
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("\n"))
        }
    };
    if let Err(e) = check() {
        panic!("{e}\n{}\nsatellite: {:?}", run.describe(), sat.records);
    }
}

// ---------------------------------------------------------------------------
// 4. Content-Encoding

fn gz_text() -> String {
    "hello gzip world, line of text\n".repeat(40)
}

fn deflate_text() -> String {
    "deflate me please: zlib stream\n".repeat(30)
}

fn chunked_text() -> String {
    "chunked and gzipped\n".repeat(50)
}

/// A gzip header, then a deflate block of the reserved type 3: fails at once.
fn corrupt_gzip() -> Vec<u8> {
    let mut v = vec![0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff];
    v.extend(b"\xde\xad\xbe\xef".repeat(8));
    v
}

const GZ_JSON: &str = r#"{"message":"hi there","password":"zq-gzpass-6a1c","nested":{"client_secret":"zq-gzsecret-d04e","n":1}}"#;

fn encoding_pcap(dir: &TempDir) -> PathBuf {
    let get = |p: &str| {
        let start = format!("GET {p} HTTP/1.1");
        msg(&[start.as_str(), "Host: api.example.com"], "")
    };
    let conns = vec![Conn::new(vec![
        (
            get("/gzip"),
            Some(with(ok_text(&gz_text()), "encode", json!("gzip"))),
        ),
        (
            get("/deflate"),
            Some(with(ok_text(&deflate_text()), "encode", json!("deflate"))),
        ),
        (
            get("/gzip-chunked"),
            Some(with(
                with(ok_text(&chunked_text()), "encode", json!("gzip")),
                "chunked",
                json!(true),
            )),
        ),
        (
            get("/corrupt"),
            Some(with(
                msg(
                    &[
                        "HTTP/1.1 200 OK",
                        "Content-Type: text/plain",
                        "Content-Encoding: gzip",
                    ],
                    "",
                ),
                "body_hex",
                json!(hex(&corrupt_gzip())),
            )),
        ),
        (
            get("/gzip-json"),
            Some(with(
                msg(
                    &["HTTP/1.1 200 OK", "Content-Type: application/json"],
                    GZ_JSON,
                ),
                "encode",
                json!("gzip"),
            )),
        ),
    ])];
    write_pcap(dir, "encoding.pcap", &conns).0
}

fn check_decoded_text(traces: &[Value], path: &str, text: &str) -> Result<(), String> {
    let r = &by_path(traces, path)?["response"];
    if r["body_encoding"] != "utf8" || r["body"] != text {
        return Err(format!(
            "{path}: body not decoded: encoding {} body {}",
            r["body_encoding"], r["body"]
        ));
    }
    if r["body_size"] != text.len() {
        return Err(format!(
            "{path}: body_size {}, want the decoded size {}",
            r["body_size"],
            text.len()
        ));
    }
    if r["body_truncated"] != false {
        return Err(format!("{path}: body_truncated {}", r["body_truncated"]));
    }
    if r["body_decode_error"] == true {
        return Err(format!("{path}: body_decode_error true"));
    }
    Ok(())
}

#[test]
fn content_encoding_gzip_and_deflate_are_decoded_then_redacted() {
    let dir = TempDir::new("encoding");
    let pcap = encoding_pcap(&dir);
    let run = run_sensor(&apidump_args(&pcap, &["--out", "-"]), &[]);
    let check = || -> Result<(), String> {
        exited_ok(&run)?;
        let traces = run.traces();
        let mut errors = Vec::new();
        for (path, text) in [
            ("/gzip", gz_text()),
            ("/deflate", deflate_text()),
            ("/gzip-chunked", chunked_text()),
        ] {
            if let Err(e) = check_decoded_text(&traces, path, &text) {
                errors.push(e);
            }
        }
        // Corrupt: kept raw (base64), flagged.
        let r = &by_path(&traces, "/corrupt")?["response"];
        let raw = corrupt_gzip();
        if r["body_encoding"] != "base64"
            || base64_decode(r["body"].as_str().unwrap_or("")) != Some(raw.clone())
        {
            errors.push(format!(
                "/corrupt: want the raw bytes in base64, got encoding {} body {}",
                r["body_encoding"], r["body"]
            ));
        }
        if r["body_decode_error"] != true {
            errors.push(format!(
                "/corrupt: body_decode_error {}, want true",
                r["body_decode_error"]
            ));
        }
        if r["body_size"] != raw.len() {
            errors.push(format!(
                "/corrupt: body_size {}, want the raw size {}",
                r["body_size"],
                raw.len()
            ));
        }
        // Decoded JSON is redacted.
        let r = &by_path(&traces, "/gzip-json")?["response"];
        match json_body(r) {
            Ok(b) => {
                let want = json!({"message":"hi there","password":REDACTED,
                    "nested":{"client_secret":REDACTED,"n":1}});
                if b != want {
                    errors.push(format!("/gzip-json body {b}, want {want}"));
                }
            }
            Err(e) => errors.push(format!("/gzip-json {e}")),
        }
        for s in ["zq-gzpass-6a1c", "zq-gzsecret-d04e"] {
            if run.stdout.contains(s) || run.stderr.contains(s) {
                errors.push(format!("secret {s} in the output"));
            }
        }
        match run.stat("decode_errors") {
            Ok(1) => {}
            Ok(n) => errors.push(format!("decode_errors={n}, want 1")),
            Err(e) => errors.push(e),
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("\n"))
        }
    };
    if let Err(e) = check() {
        panic!("{e}\n{}\nstdout:\n{}", run.describe(), run.stdout);
    }
}

#[test]
fn content_encoding_decoding_is_bounded_by_max_http_length() {
    let dir = TempDir::new("bomb");
    // 4 MB of one byte: a few KB of gzip.
    let big = "A".repeat(4 << 20);
    let conns = vec![Conn::new(vec![(
        msg(&["GET /bomb HTTP/1.1", "Host: api.example.com"], ""),
        Some(with(ok_text(&big), "encode", json!("gzip"))),
    )])];
    let (pcap, _) = write_pcap(&dir, "bomb.pcap", &conns);
    let run = run_sensor(
        &apidump_args(&pcap, &["--out", "-", "--max-http-length", "1000"]),
        &[],
    );
    let check = || -> Result<(), String> {
        exited_ok(&run)?;
        let traces = run.traces();
        let r = &by_path(&traces, "/bomb")?["response"];
        let kept = body_bytes(r);
        if kept.len() > 1000 || kept.is_empty() || kept.iter().any(|&b| b != b'A') {
            return Err(format!(
                "kept {} bytes, want 1..=1000 decoded 'A's",
                kept.len()
            ));
        }
        if r["body_truncated"] != true {
            return Err(format!("body_truncated {}, want true", r["body_truncated"]));
        }
        Ok(())
    };
    if let Err(e) = check() {
        panic!("{e}\n{}", run.describe());
    }
}

// ---------------------------------------------------------------------------
// 5. HAR

const HAR_SECRETS: &[&str] = &["zq-har-auth-2f9b", "zq-har-pass-7d11"];

fn har_report_text() -> String {
    "report line\n".repeat(20)
}

fn har_pcap(dir: &TempDir) -> (PathBuf, Vec<Times>) {
    let conns = vec![Conn::new(vec![
        (
            msg(
                &[
                    "GET /v1/items?limit=5&sort=asc HTTP/1.1",
                    "Host: api.example.com:8080",
                    "User-Agent: policy-har/1",
                    "Accept: application/json",
                    "Authorization: Bearer zq-har-auth-2f9b",
                ],
                "",
            ),
            Some(msg(
                &["HTTP/1.1 200 OK", "Content-Type: application/json"],
                r#"{"items":[1,2,3]}"#,
            )),
        ),
        (
            msg(
                &[
                    "POST /v1/items HTTP/1.1",
                    "Host: api.example.com:8080",
                    "Content-Type: application/json",
                ],
                r#"{"name":"widget","password":"zq-har-pass-7d11"}"#,
            ),
            Some(msg(
                &[
                    "HTTP/1.1 201 Created",
                    "Location: /v1/items/9",
                    "Content-Type: application/json",
                ],
                r#"{"id":9}"#,
            )),
        ),
        (
            msg(
                &["GET /v1/report HTTP/1.1", "Host: api.example.com:8080"],
                "",
            ),
            Some(with(ok_text(&har_report_text()), "encode", json!("gzip"))),
        ),
        (
            msg(
                &["GET /v1/missing HTTP/1.1", "Host: api.example.com:8080"],
                "",
            ),
            Some(msg(
                &["HTTP/1.1 404 Not Found", "Content-Type: text/plain"],
                "no such item",
            )),
        ),
    ])];
    write_pcap(dir, "har.pcap", &conns)
}

fn pairs_of(v: &Value) -> Vec<(String, String)> {
    v.as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            (
                p[0].as_str().unwrap_or("").to_string(),
                p[1].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn has_pair(v: &Value, name: &str, value: &str) -> bool {
    pairs_of(v)
        .iter()
        .any(|(n, x)| n.eq_ignore_ascii_case(name) && x == value)
}

#[test]
fn har_output_loads_in_haralyzer_with_the_right_entries() {
    let dir = TempDir::new("har");
    let (pcap, times) = har_pcap(&dir);
    let har = dir.path("out.har");
    let run = run_sensor(&apidump_args(&pcap, &["--out", har.to_str().unwrap()]), &[]);
    assert!(run.status.success(), "{}", run.describe());
    assert!(
        run.stdout.trim().is_empty(),
        "stdout not empty with --out FILE.har: {}",
        run.stdout
    );
    let text = std::fs::read_to_string(&har)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}\n{}", har.display(), run.describe()));
    for s in HAR_SECRETS {
        assert!(!text.contains(s), "secret {s} in the HAR file:\n{text}");
    }
    let out = run_with_deadline(
        std::process::Command::new(venv_python())
            .arg(script("policy_har.py"))
            .arg(&har),
        Duration::from_secs(60),
    );
    assert!(
        out.status.success(),
        "haralyzer cannot load the HAR: {}\nHAR:\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rep: Value = serde_json::from_slice(&out.stdout).expect("policy_har.py JSON");
    let mut errors = Vec::new();
    if rep["problems"].as_array().is_none_or(|p| !p.is_empty()) {
        errors.push(format!("HAR 1.2 problems: {}", rep["problems"]));
    }
    if rep["version"] != "1.2" {
        errors.push(format!("log.version {}, want \"1.2\"", rep["version"]));
    }
    if rep["creator"]["name"] != "pcap-sensor" {
        errors.push(format!("log.creator {}", rep["creator"]));
    }
    let entries = rep["entries"].as_array().cloned().unwrap_or_default();
    if entries.len() != 4 {
        errors.push(format!("{} entries, want 4", entries.len()));
    }
    let base = "http://api.example.com:8080";
    let find = |url: &str| entries.iter().find(|e| e["url"] == url);
    type Want = (
        usize,
        &'static str,
        String,
        u64,
        &'static str,
        &'static str,
        String,
    );
    let wants: Vec<Want> = vec![
        (
            0,
            "GET",
            format!("{base}/v1/items?limit=5&sort=asc"),
            200,
            "OK",
            "application/json",
            r#"{"items":[1,2,3]}"#.into(),
        ),
        (
            1,
            "POST",
            format!("{base}/v1/items"),
            201,
            "Created",
            "application/json",
            r#"{"id":9}"#.into(),
        ),
        (
            2,
            "GET",
            format!("{base}/v1/report"),
            200,
            "OK",
            "text/plain",
            har_report_text(),
        ),
        (
            3,
            "GET",
            format!("{base}/v1/missing"),
            404,
            "Not Found",
            "text/plain",
            "no such item".into(),
        ),
    ];
    for (i, method, url, status, reason, mime, content) in &wants {
        let Some(e) = find(url) else {
            errors.push(format!("no entry with url {url}"));
            continue;
        };
        let mut bad = Vec::new();
        if e["method"] != *method {
            bad.push(format!("method {}", e["method"]));
        }
        if e["httpVersion"] != "HTTP/1.1" {
            bad.push(format!("httpVersion {}", e["httpVersion"]));
        }
        if e["status"] != *status || e["statusText"] != *reason {
            bad.push(format!("status {} {}", e["status"], e["statusText"]));
        }
        if !e["content_mimeType"]
            .as_str()
            .unwrap_or("")
            .starts_with(mime)
        {
            bad.push(format!("content.mimeType {}", e["content_mimeType"]));
        }
        if e["content_text"] != content.as_str() || e["content_encoding"] == "base64" {
            bad.push(format!(
                "content.text {} (encoding {})",
                e["content_text"], e["content_encoding"]
            ));
        }
        if e["content_size"] != content.len() {
            bad.push(format!(
                "content.size {}, want {}",
                e["content_size"],
                content.len()
            ));
        }
        if !has_pair(&e["request_headers"], "Host", "api.example.com:8080") {
            bad.push(format!("request headers {}", e["request_headers"]));
        }
        if !has_pair(&e["response_headers"], "Content-Type", mime) {
            bad.push(format!("response headers {}", e["response_headers"]));
        }
        let t = times[*i];
        match e["started_us"].as_i64() {
            Some(s) if (s - t.request_us as i64).abs() < 1000 => {}
            other => bad.push(format!(
                "startedDateTime is {other:?} µs, want {} (the request's first packet)",
                t.request_us
            )),
        }
        let dur_us = (t.response_end_us.unwrap() - t.request_us) as f64;
        match e["time"].as_f64() {
            Some(ms) if ms >= 0.0 && (ms * 1000.0 - dur_us).abs() <= 1000.0 => {}
            other => bad.push(format!("time {other:?} ms, want about {dur_us} µs")),
        }
        if !bad.is_empty() {
            errors.push(format!("entry {url}: {}", bad.join("; ")));
        }
    }
    if let Some(e) = find(&format!("{base}/v1/items?limit=5&sort=asc")) {
        if !has_pair(&e["request_headers"], "Authorization", REDACTED) {
            errors.push(format!(
                "Authorization not redacted in HAR: {}",
                e["request_headers"]
            ));
        }
        if !has_pair(&e["request_headers"], "User-Agent", "policy-har/1") {
            errors.push(format!("User-Agent: {}", e["request_headers"]));
        }
        let q = pairs_of(&e["queryString"]);
        if q != [("limit".into(), "5".into()), ("sort".into(), "asc".into())] {
            errors.push(format!("queryString {q:?}"));
        }
    }
    if let Some(e) = find(&format!("{base}/v1/items")) {
        match e["postData"].as_str().map(serde_json::from_str::<Value>) {
            Some(Ok(b)) if b == json!({"name":"widget","password":REDACTED}) => {}
            other => errors.push(format!("postData {other:?}, want the redacted JSON")),
        }
        if !has_pair(&e["response_headers"], "Location", "/v1/items/9") {
            errors.push(format!("Location: {}", e["response_headers"]));
        }
    }
    assert!(
        errors.is_empty(),
        "{}\nreport: {rep}\nHAR:\n{text}",
        errors.join("\n")
    );
}

// ---------------------------------------------------------------------------
// 6. ECS metadata → OTLP resource attributes

const EXPORT_DEADLINE: Duration = Duration::from_secs(30);

/// Runs the sensor on the three-exchange pcap with a satellite; waits for
/// its exit (at end of file it flushes the queue) and for 3 spans.
fn export_run(extra: &[&str], env: &[(&str, &str)]) -> (Run, Satellite) {
    let dir = TempDir::new(&format!(
        "ecs-{}",
        std::thread::current().name().unwrap_or("t")
    ));
    let (pcap, _) = simple_pcap(&dir);
    export_pcap(&pcap, 3, extra, env)
}

/// Runs the sensor on `pcap` with a satellite; waits for its exit and for
/// `spans` spans.
fn export_pcap(
    pcap: &std::path::Path,
    spans: usize,
    extra: &[&str],
    env: &[(&str, &str)],
) -> (Run, Satellite) {
    let mut sat = Satellite::start();
    let url = sat.url();
    let mut args = apidump_args(
        pcap,
        &[
            "--satellite-url",
            &url,
            "--levo-env",
            "staging",
            "--levoai-org-id",
            "org-4711",
            "--trace-export-interval",
            "1",
        ],
    );
    args.extend_from_slice(extra);
    let run = run_sensor(&args, env);
    sat.wait_spans(spans, EXPORT_DEADLINE);
    sat.drain();
    (run, sat)
}

/// Exit 0, every POST is OTLP, exactly 3 spans; returns the resource
/// attribute maps (at least one).
fn exported(
    run: &Run,
    sat: &Satellite,
) -> Result<Vec<std::collections::BTreeMap<String, Value>>, String> {
    exited_ok(run)?;
    let p = sat.problems();
    if !p.is_empty() {
        return Err(p.join("\n"));
    }
    let n = sat.span_count();
    if n != 3 {
        return Err(format!("{n} spans at the satellite, want 3"));
    }
    let res = resource_attrs(&sat.bodies());
    if res.is_empty() {
        return Err("no resourceSpans".into());
    }
    Ok(res)
}

fn check_attrs(
    res: &[std::collections::BTreeMap<String, Value>],
    want: &[(&str, Option<&str>)],
) -> Result<(), String> {
    let mut errors = Vec::new();
    for (i, m) in res.iter().enumerate() {
        for (k, v) in want {
            let got = str_attr(m, k);
            if got != *v {
                errors.push(format!(
                    "resourceSpans[{i}] {k}: {:?}, want {v:?} (as a string value)",
                    m.get(*k)
                ));
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("\n"))
    }
}

const TASK_ARN: &str =
    "arn:aws:ecs:us-west-2:111122223333:task/prod-cluster/e9028f8d5d8e4f258373e7b93ce9a3c3";
const CLUSTER_ARN: &str = "arn:aws:ecs:us-west-2:111122223333:cluster/prod-cluster";

#[test]
fn ecs_fargate_task_metadata_fills_the_resource() {
    let mut ecs = EcsFixture::start("fargate");
    let uri = ecs.uri();
    let (run, sat) = export_run(
        &[],
        &[
            ("ECS_CONTAINER_METADATA_URI_V4", &uri),
            ("LEVO_AWS_REGION", "us-west-2"),
        ],
    );
    let requests = ecs.collect(Duration::from_secs(5)).to_vec();
    let check = || -> Result<(), String> {
        let res = exported(&run, &sat)?;
        check_attrs(
            &res,
            &[
                ("service.name", Some("orders-api")),
                ("aws.ecs.task.family", Some("orders-api")),
                ("aws.ecs.task.revision", Some("7")),
                ("aws.ecs.cluster.arn", Some(CLUSTER_ARN)),
                ("aws.ecs.task.arn", Some(TASK_ARN)),
                ("aws.ecs.launchtype", Some("fargate")),
                ("cloud.availability_zone", Some("us-west-2d")),
                ("cloud.platform", Some("aws_ecs")),
                ("cloud.provider", Some("aws")),
                ("cloud.region", Some("us-west-2")),
                ("deployment.environment.name", Some("staging")),
                ("levoai.org_id", Some("org-4711")),
            ],
        )?;
        let task_reads = requests
            .iter()
            .filter(|r| **r == format!("GET /v4/{}/task", ecs.id))
            .count();
        if task_reads != 1 {
            return Err(format!(
                "{task_reads} reads of /task, want 1 (read once at start); requests: {requests:?}"
            ));
        }
        Ok(())
    };
    if let Err(e) = check() {
        panic!("{e}\n{}\nsatellite: {:?}", run.describe(), sat.records);
    }
}

#[test]
fn ecs_ec2_standalone_task_without_service_name() {
    let ecs = EcsFixture::start("ec2");
    let uri = ecs.uri();
    let (run, sat) = export_run(
        &[],
        &[
            ("ECS_CONTAINER_METADATA_URI_V4", &uri),
            ("AWS_REGION", "eu-central-1"),
        ],
    );
    let check = || -> Result<(), String> {
        let res = exported(&run, &sat)?;
        check_attrs(
            &res,
            &[
                ("service.name", Some("nightly-report")),
                ("aws.ecs.task.family", Some("nightly-report")),
                ("aws.ecs.task.revision", Some("12")),
                ("aws.ecs.launchtype", Some("ec2")),
                ("cloud.availability_zone", Some("eu-central-1a")),
                ("cloud.platform", Some("aws_ecs")),
                ("cloud.region", Some("eu-central-1")),
            ],
        )
    };
    if let Err(e) = check() {
        panic!("{e}\n{}\nsatellite: {:?}", run.describe(), sat.records);
    }
}

#[test]
fn ecs_service_name_flag_wins_over_the_task_family() {
    let ecs = EcsFixture::start("fargate");
    let uri = ecs.uri();
    let (run, sat) = export_run(
        &["--service-name", "checkout"],
        &[("ECS_CONTAINER_METADATA_URI_V4", &uri)],
    );
    let check = || -> Result<(), String> {
        let res = exported(&run, &sat)?;
        check_attrs(
            &res,
            &[
                ("service.name", Some("checkout")),
                ("aws.ecs.task.family", Some("orders-api")),
                ("aws.ecs.task.revision", Some("7")),
            ],
        )
    };
    if let Err(e) = check() {
        panic!("{e}\n{}\nsatellite: {:?}", run.describe(), sat.records);
    }
}

#[test]
fn ecs_metadata_failure_is_a_warning_and_traces_still_go_out() {
    let refused = format!("http://127.0.0.1:{}/v4/gone", free_port());
    let failing = EcsFixture::start("error500");
    let failing_uri = failing.uri();
    let mut failures = Vec::new();
    for (name, uri) in [
        ("connection refused", refused.as_str()),
        ("500 answer", failing_uri.as_str()),
    ] {
        let (run, sat) = export_run(&[], &[("ECS_CONTAINER_METADATA_URI_V4", uri)]);
        let check = || -> Result<(), String> {
            let res = exported(&run, &sat)?;
            let warned = run.stderr_lines().iter().any(|l| {
                let l = l.to_ascii_lowercase();
                l.contains("metadata") && !l.contains("final stats")
            });
            if !warned {
                return Err("no warning line about the ECS metadata".into());
            }
            check_attrs(
                &res,
                &[
                    ("service.name", Some("unknown_service")),
                    ("cloud.platform", None),
                    ("aws.ecs.task.arn", None),
                    ("aws.ecs.task.family", None),
                ],
            )
        };
        if let Err(e) = check() {
            failures.push(format!(
                "[{name}] {e}\n{}\nsatellite: {:?}",
                run.describe(),
                sat.records
            ));
        }
    }
    report(failures);
}

// ---------------------------------------------------------------------------
// 7. Bad values

#[test]
fn bad_values_fail_at_start_with_one_line_and_exit_2() {
    let dir = TempDir::new("badvalues");
    let (pcap, _) = simple_pcap(&dir);
    let p = pcap.to_str().unwrap();
    type Case = (
        &'static str,
        Vec<&'static str>,
        Vec<(&'static str, &'static str)>,
        Vec<&'static str>,
    );
    let cases: Vec<Case> = vec![
        (
            "ftp satellite URL",
            vec!["--out", "-", "--satellite-url", "ftp://x"],
            vec![],
            vec!["--satellite-url"],
        ),
        (
            "satellite URL without a host",
            vec!["--out", "-", "--satellite-url", "http://"],
            vec![],
            vec!["--satellite-url"],
        ),
        (
            "satellite URL that is not a URL",
            vec![
                "--out",
                "-",
                "--satellite-url",
                "satellite.example.com:9999",
            ],
            vec![],
            vec!["--satellite-url"],
        ),
        (
            "LEVO_SATELLITE_URL ftp",
            vec!["--out", "-"],
            vec![("LEVO_SATELLITE_URL", "ftp://x")],
            vec!["LEVO_SATELLITE_URL", "--satellite-url"],
        ),
        (
            "negative rate limit (=)",
            vec!["--out", "-", "--rate-limit=-1"],
            vec![],
            vec!["--rate-limit"],
        ),
        (
            "negative rate limit",
            vec!["--out", "-", "--rate-limit", "-5"],
            vec![],
            vec!["--rate-limit"],
        ),
        (
            "rate limit not a number",
            vec!["--out", "-", "--rate-limit", "lots"],
            vec![],
            vec!["--rate-limit"],
        ),
        (
            "negative LEVO_RATE_LIMIT",
            vec!["--out", "-"],
            vec![("LEVO_RATE_LIMIT", "-1")],
            vec!["LEVO_RATE_LIMIT", "--rate-limit"],
        ),
        (
            "export interval abc",
            vec!["--out", "-", "--trace-export-interval", "abc"],
            vec![],
            vec!["--trace-export-interval"],
        ),
        (
            "export interval -1s",
            vec!["--out", "-", "--trace-export-interval", "-1s"],
            vec![],
            vec!["--trace-export-interval"],
        ),
        (
            "export interval =-1s",
            vec!["--out", "-", "--trace-export-interval=-1s"],
            vec![],
            vec!["--trace-export-interval"],
        ),
        (
            "LEVO_TRACE_EXPORT_INTERVAL abc",
            vec!["--out", "-"],
            vec![("LEVO_TRACE_EXPORT_INTERVAL", "abc")],
            vec!["LEVO_TRACE_EXPORT_INTERVAL", "--trace-export-interval"],
        ),
        (
            "format yaml",
            vec!["--format", "yaml"],
            vec![],
            vec!["--format"],
        ),
        (
            "format text for a HAR file",
            vec!["--format", "text", "--out", "x.har"],
            vec![],
            vec!["--format"],
        ),
        (
            "format with a satellite and no --out",
            vec!["--format", "json"],
            vec![("LEVO_SATELLITE_URL", "http://127.0.0.1:9")],
            vec!["--format"],
        ),
    ];
    let mut failures = Vec::new();
    for (name, extra, env, names) in &cases {
        let mut args = vec!["apidump", "-r", p];
        args.extend_from_slice(extra);
        let run = run_sensor(&args, env);
        if let Err(e) = usage_error(&run, names) {
            failures.push(format!("[{name}] {e}\n{}", run.describe()));
        }
    }
    // Neither --out nor --satellite-url: not an error, stdout (as tcpdump
    // -r); through a pipe, the JSON Lines of --out - (tests/terminal.rs has
    // the terminal).
    let run = run_sensor(&["apidump", "-r", p], &[]);
    let with_out = run_sensor(&["apidump", "-r", p, "--out", "-"], &[]);
    if !run.status.success() || run.stdout.is_empty() || run.stdout != with_out.stdout {
        failures.push(format!(
            "[no --out, no --satellite-url] want the JSON Lines of --out -\n{}\n{}",
            run.describe(),
            with_out.describe()
        ));
    }
    report(failures);
}

#[test]
fn good_values_are_accepted() {
    let dir = TempDir::new("goodvalues");
    let (pcap, _) = simple_pcap(&dir);
    let p = pcap.to_str().unwrap();
    type Case = (Vec<&'static str>, Vec<(&'static str, &'static str)>);
    let cases: Vec<Case> = vec![
        (vec!["--trace-export-interval", "10"], vec![]),
        (vec!["--trace-export-interval", "10s"], vec![]),
        (vec!["--trace-export-interval", "1.0"], vec![]),
        (vec!["--trace-export-interval", "500ms"], vec![]),
        (vec![], vec![("LEVO_TRACE_EXPORT_INTERVAL", "500ms")]),
        (vec!["--rate-limit", "50.0"], vec![]),
        (vec!["--stream-timeout-seconds", "1.0"], vec![]),
        (vec!["--max-http-length", "1000000"], vec![]),
        (vec![], vec![("LEVO_RATE_LIMIT", "100")]),
    ];
    let mut failures = Vec::new();
    for (extra, env) in &cases {
        let mut args = vec!["apidump", "-r", p, "--out", "-"];
        args.extend_from_slice(extra);
        let run = run_sensor(&args, env);
        let n = if run.status.success() {
            run.traces().len()
        } else {
            0
        };
        if !run.status.success() || n != 3 {
            failures.push(format!("{n} traces, want 3\n{}", run.describe()));
        }
    }
    report(failures);
}
