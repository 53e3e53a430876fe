//! The arm64 (Graviton) binary does what the amd64 one does (issue 18): both static musl
//! binaries read every capture of the shared corpus (`$PCAP_CORPUS/corpus`, `../shared/pcaps`
//! beside the repository by default; `.gz` files through `gzip -dc`), the foreign one under
//! qemu-user (`qemu-aarch64-static` from Debian's qemu-user-static: no binfmt needed), and
//! everything they write must be the same bytes:
//!
//! * JSON Lines: `apidump -r FILE --out -` (default flags, so redaction runs): stdout, exit
//!   code, and stderr (the final stats line without `peak_rss_kb`, which measures the
//!   process and so qemu);
//! * HAR and OTLP from one run: `--out FILE.har --satellite-url URL` to the test satellite
//!   (tests/support/sat_server.py, one per worker thread, recording every body) with
//!   `--rate-limit 0` (the limiter's clock is wall time), an export interval of an hour (so
//!   batches are cut by size only, not by how fast the binary runs) and a long shutdown
//!   timeout: the HAR file, and every POSTed body once the random ids are made equal — every
//!   `spanId`, and the `traceId` of spans without a `traceparent` (those with one carry its
//!   ids, compared as they are).
//!
//! One more capture is crafted for the comparison (tests/support/policy_mkpcap.py): requests
//! with `traceparent` headers (valid, upper-case, all-zero), secrets in headers, query and
//! JSON bodies at many offsets, long bodies dense in quotes, control characters and UTF-8,
//! binary (base64) bodies, gzip and chunked ones: the corpus has no `traceparent` at all.
//!
//! The code paths chosen by CPU features (AVX2/AVX-512 escaping, secret scan, ASCII copy,
//! memcpy) are x86_64-only; the arm64 binary runs the portable paths, so this compares them on
//! real traffic. Live capture is not tested under qemu: qemu 7.2 does not implement the
//! `SIOCETHTOOL` (ETHTOOL_GET_TS_INFO) ioctl libpcap issues when it activates a handle, so
//! live tests run the amd64 binary only.
//!
//! Inputs: `$PCAP_SENSOR_AMD64` and `$PCAP_SENSOR_ARM64` (`./build.sh test` builds
//! `dist/pcap-sensor-amd64` and `dist/pcap-sensor-arm64` and sets them; no default, so a
//! leftover `dist/` is never tested as if it were current).
//! Nothing is skipped: a missing binary, qemu or corpus fails the test and says what to
//! install or build. `ARM64_JOBS` sets the worker threads (default: the CPUs, 2 to 4);
//! `ARM64_TIMEOUT_SECS` bounds one run (default 120: qemu is 2-8x slower than native).

mod support;

use serde_json::Value;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use support::process::{run_with_deadline, script};
use support::require::{corpus_dir, require_path, require_tool};
use support::sat::{Mode, SatOpts, Satellite};
use support::text::base64_decode;

/// Differences described in full in a failure message; the rest are counted.
const MAX_LISTED: usize = 20;

// ---------------------------------------------------------------------------------------
// Inputs

/// One of the two binaries, and how to run it on this machine.
struct Binary {
    arch: &'static str,
    path: PathBuf,
    /// The qemu-user emulator for a foreign binary (None: runs natively).
    qemu: Option<&'static str>,
}

impl Binary {
    fn command(&self) -> Command {
        match self.qemu {
            Some(q) => {
                let mut c = Command::new(q);
                c.arg(&self.path);
                c
            }
            None => Command::new(&self.path),
        }
    }
}

fn binary(arch: &'static str) -> Binary {
    let var = format!("PCAP_SENSOR_{}", arch.to_uppercase());
    let path = require_path(
        &var,
        None,
        "run via ./build.sh test, which builds dist/pcap-sensor-amd64 and -arm64 and sets \
         PCAP_SENSOR_AMD64 and PCAP_SENSOR_ARM64",
    );
    let (cpu, file_says) = match arch {
        "amd64" => ("x86_64", "x86-64"),
        "arm64" => ("aarch64", "ARM aarch64"),
        _ => unreachable!(),
    };
    let qemu = (cpu != std::env::consts::ARCH).then_some(match cpu {
        "x86_64" => "qemu-x86_64-static",
        _ => "qemu-aarch64-static",
    });
    require_tool("file", "file");
    let out = Command::new("file").arg("-b").arg(&path).output().unwrap();
    let desc = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        desc.contains(file_says) && desc.contains("statically linked")
            || desc.contains(file_says) && desc.contains("static-pie linked"),
        "{} is not a static {arch} binary: {desc}",
        path.display()
    );
    if let Some(q) = qemu {
        require_tool(q, "qemu-user-static");
    }
    Binary { arch, path, qemu }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for e in entries {
        let p = e.unwrap().path();
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn env_num(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        Err(_) => default,
    }
}

// ---------------------------------------------------------------------------------------
// One capture through one binary

/// What one binary wrote for one capture.
#[derive(PartialEq)]
struct Written {
    /// JSON Lines run: exit code, stdout, stderr (normalised).
    jsonl_code: Option<i32>,
    jsonl: Vec<u8>,
    jsonl_err: String,
    /// HAR + OTLP run: exit code, the HAR file, stderr (normalised), the POSTs.
    har_code: Option<i32>,
    har: Vec<u8>,
    har_err: String,
    posts: Vec<Post>,
}

/// One request the satellite recorded, ids normalised.
#[derive(PartialEq, Debug)]
struct Post {
    method: String,
    path: String,
    content_type: String,
    content_encoding: String,
    answer: String,
    body: Vec<u8>,
}

/// stderr with the final stats line's `peak_rss_kb` (a measure of the process: qemu's own
/// memory shows in it) taken out.
fn normalise_stderr(err: &[u8]) -> String {
    String::from_utf8_lossy(err)
        .lines()
        .map(|l| match l.find(" peak_rss_kb=") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The random ids of every span made equal: each `spanId`, and the `traceId` of a span that
/// has no `parentSpanId` (a span with one took both from the request's traceparent).
/// `write_span` writes `{"traceId":"<32 hex>","spanId":"<16 hex>"` then, with a traceparent,
/// `,"parentSpanId":"…"`; quotes inside JSON strings are escaped, so these patterns only
/// occur where the span is written.
fn normalise_ids(body: &[u8]) -> Vec<u8> {
    const TRACE: &[u8] = b"{\"traceId\":\"";
    const SPAN: &[u8] = b"\",\"spanId\":\"";
    const PARENT: &[u8] = b"\",\"parentSpanId\":\"";
    let mut out = body.to_vec();
    let mut i = 0;
    while let Some(k) = find(&out[i..], TRACE) {
        let t = i + k + TRACE.len();
        let s = t + 32;
        assert!(
            out.len() >= s + SPAN.len() + 16 && &out[s..s + SPAN.len()] == SPAN,
            "a span without spanId after its traceId: {}",
            String::from_utf8_lossy(&out[i + k..(i + k + 120).min(out.len())])
        );
        let p = s + SPAN.len();
        let has_parent = out[p + 16..].starts_with(PARENT);
        for (at, len) in [(t, 32), (p, 16)] {
            assert!(
                out[at..at + len].iter().all(u8::is_ascii_hexdigit),
                "not a hex id: {}",
                String::from_utf8_lossy(&out[at..at + len])
            );
        }
        if !has_parent {
            out[t..t + 32].fill(b'0');
        }
        out[p..p + 16].fill(b'0');
        i = p + 16;
    }
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A worker's satellite and how far its record has been read.
struct Sat {
    sat: Satellite,
    offset: u64,
}

impl Sat {
    fn start() -> Sat {
        Sat {
            sat: Satellite::start(SatOpts::mode(Mode::Ok)),
            offset: 0,
        }
    }

    /// The requests recorded since the last call.
    fn take_posts(&mut self) -> Vec<Post> {
        self.sat.drain();
        let mut f = match std::fs::File::open(&self.sat.record) {
            Ok(f) => f,
            Err(_) => return Vec::new(), // nothing recorded yet
        };
        f.seek(SeekFrom::Start(self.offset)).unwrap();
        let mut text = String::new();
        f.read_to_string(&mut text).unwrap();
        // Whole lines only (the satellite writes and flushes each before answering).
        let end = text.rfind('\n').map_or(0, |i| i + 1);
        self.offset += end as u64;
        text[..end]
            .lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l).expect("satellite record line");
                let s = |k: &str| match &v[k] {
                    Value::Null => String::new(),
                    Value::String(s) => s.clone(),
                    x => x.to_string(),
                };
                let body = match (&v["body"], &v["body_base64"]) {
                    (Value::String(b), _) => b.as_bytes().to_vec(),
                    (_, Value::String(b)) => base64_decode(b).expect("body_base64 is base64"),
                    _ => panic!("record without a body: {l}"),
                };
                Post {
                    method: s("method"),
                    path: s("path"),
                    content_type: s("content_type"),
                    content_encoding: s("content_encoding"),
                    answer: s("answer"),
                    body: normalise_ids(&body),
                }
            })
            .collect()
    }
}

/// The sensor's environment: PATH only (no LEVO_*, ECS metadata or AWS settings from the
/// test's environment).
fn clean(cmd: &mut Command) -> &mut Command {
    cmd.env_clear();
    if let Some(p) = std::env::var_os("PATH") {
        cmd.env("PATH", p);
    }
    cmd
}

fn run_both(
    bin: &Binary,
    input: &Path,
    har: &Path,
    sat: &mut Sat,
    timeout: Duration,
) -> Result<Written, String> {
    let what = |run: &str| format!("{} {run} run", bin.arch);
    let mut cmd = bin.command();
    clean(&mut cmd)
        .args(["apidump", "--stats-interval", "0", "-r"])
        .arg(input)
        .args(["--out", "-"]);
    let a = run_with_deadline(&mut cmd, timeout);

    let _ = std::fs::remove_file(har);
    let url = sat.sat.url();
    let mut cmd = bin.command();
    clean(&mut cmd)
        .args(["apidump", "--stats-interval", "0", "-r"])
        .arg(input)
        .arg("--out")
        .arg(har)
        .args(["--satellite-url", &url, "--rate-limit", "0"])
        .args(["--trace-export-interval", "60m", "--shutdown-timeout", "60"]);
    let b = run_with_deadline(&mut cmd, timeout);
    let posts = sat.take_posts();
    let har_bytes = std::fs::read(har).unwrap_or_default();
    let _ = std::fs::remove_file(har);

    let err_b = normalise_stderr(&b.stderr);
    // Every trace must have reached the satellite: else the comparison of posts is partial.
    let stat = |err: &str, key: &str| -> Option<u64> {
        let line = err.lines().find(|l| l.contains("final stats"))?;
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{key}=")))
            .and_then(|v| v.parse().ok())
    };
    if b.status.success() {
        let (traces, exported) = (stat(&err_b, "traces"), stat(&err_b, "exported"));
        if traces.is_none() || traces != exported {
            return Err(format!(
                "{}: traces {traces:?} but exported {exported:?}:\n{err_b}",
                what("HAR + OTLP")
            ));
        }
    }
    Ok(Written {
        jsonl_code: a.status.code(),
        jsonl: a.stdout,
        jsonl_err: normalise_stderr(&a.stderr),
        har_code: b.status.code(),
        har: har_bytes,
        har_err: err_b,
        posts,
    })
}

/// Where two runs differ, in words (first difference of each part).
fn differences(a: &Written, b: &Written) -> Vec<String> {
    fn first_diff(x: &[u8], y: &[u8]) -> String {
        let i = x
            .iter()
            .zip(y)
            .position(|(p, q)| p != q)
            .unwrap_or(x.len().min(y.len()));
        let show = |s: &[u8]| {
            let from = i.saturating_sub(60);
            String::from_utf8_lossy(&s[from.min(s.len())..(i + 60).min(s.len())]).into_owned()
        };
        format!(
            "{} vs {} bytes, first difference at byte {i}:\n      amd64: {}\n      arm64: {}",
            x.len(),
            y.len(),
            show(x),
            show(y)
        )
    }
    let mut d = Vec::new();
    if a.jsonl_code != b.jsonl_code {
        d.push(format!(
            "JSON Lines exit code {:?} vs {:?}",
            a.jsonl_code, b.jsonl_code
        ));
    }
    if a.jsonl != b.jsonl {
        d.push(format!("JSON Lines: {}", first_diff(&a.jsonl, &b.jsonl)));
    }
    if a.jsonl_err != b.jsonl_err {
        d.push(format!(
            "JSON Lines stderr: {}",
            first_diff(a.jsonl_err.as_bytes(), b.jsonl_err.as_bytes())
        ));
    }
    if a.har_code != b.har_code {
        d.push(format!(
            "HAR run exit code {:?} vs {:?}",
            a.har_code, b.har_code
        ));
    }
    if a.har != b.har {
        d.push(format!("HAR: {}", first_diff(&a.har, &b.har)));
    }
    if a.har_err != b.har_err {
        d.push(format!(
            "HAR run stderr: {}",
            first_diff(a.har_err.as_bytes(), b.har_err.as_bytes())
        ));
    }
    if a.posts.len() != b.posts.len() {
        d.push(format!(
            "OTLP: {} vs {} POSTs",
            a.posts.len(),
            b.posts.len()
        ));
    }
    for (k, (p, q)) in a.posts.iter().zip(&b.posts).enumerate() {
        if p.body != q.body {
            d.push(format!("OTLP POST {k}: {}", first_diff(&p.body, &q.body)));
        } else if p != q {
            d.push(format!("OTLP POST {k}: {p:?} vs {q:?}"));
        }
    }
    d
}

/// Spans in a POSTed body (-1 when it is not OTLP-shaped JSON).
fn spans(body: &[u8]) -> i64 {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return -1;
    };
    let mut n = 0;
    for rs in v["resourceSpans"].as_array().into_iter().flatten() {
        for ss in rs["scopeSpans"].as_array().into_iter().flatten() {
            n += ss["spans"].as_array().map_or(0, |s| s.len() as i64);
        }
    }
    n
}

/// Writes the crafted capture (see the module comment) into `dir`.
fn crafted_capture(dir: &Path) -> PathBuf {
    use serde_json::json;
    // Text with everything the escaping and the secret scan treat apart, at shifting offsets.
    let mut dense = String::new();
    for i in 0..400 {
        dense.push_str(&"x".repeat(i % 37));
        dense.push_str(match i % 7 {
            0 => "\"q\"",
            1 => "back\\slash",
            2 => "\u{1}\t\n\r\u{1f}\u{7f}",
            3 => "é ü € 𝄞 中文",
            4 => "</script>&<>'",
            5 => "Password SESSION apikey api_key Api-Key secret",
            _ => "plain ascii words",
        });
    }
    let json_body = {
        let mut items = Vec::new();
        for i in 0..300 {
            let pad = "y".repeat(i % 70);
            items.push(json!({
                "id": i,
                "name": format!("{pad}item \"{i}\"\\"),
                "password": format!("pw{i}"),
                "nested": {"session_token": format!("t{i}"), "note": dense.chars().take((i * 13) % 900).collect::<String>()},
            }));
        }
        json!({"items": items, "apiKey": "k", "text": dense}).to_string()
    };
    let binary: String = (0..20_000)
        .map(|i| format!("{:02x}", (i * 7 + i / 256) % 256))
        .collect();
    let head = |line: &str, extra: &[&str]| {
        let mut h = format!("{line}\r\n");
        for e in extra {
            h.push_str(e);
            h.push_str("\r\n");
        }
        h
    };
    let tp = "traceparent: 00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01";
    let tp_zero = "traceparent: 00-00000000000000000000000000000000-0000000000000000-01";
    let req_h = [
        "Host: api.example:8080",
        "Authorization: Bearer abc",
        "Cookie: s=1",
    ];
    let ok = |extra: &[&str]| head("HTTP/1.1 200 OK", extra);
    let exchanges = json!([
        {"request": {"head": head("GET /a?token=t1&x=%22y%22&api_key=z HTTP/1.1",
                                  &[req_h[0], req_h[1], tp])},
         "response": {"head": ok(&["Content-Type: application/json", "Set-Cookie: a=b"]),
                      "body": json_body}},
        {"request": {"head": head("POST /upload/%C3%BC HTTP/1.1",
                                  &[req_h[0], req_h[2], "X-Note: ünï", "Content-Type: application/json", tp_zero]),
                     "body": json_body},
         "response": {"head": ok(&["Content-Type: application/json"]), "body": dense,
                      "encode": "gzip"}},
        {"request": {"head": head("PUT /bin HTTP/1.1",
                                  &[req_h[0], "Content-Type: application/octet-stream"]),
                     "body_hex": binary},
         "response": {"head": ok(&["Content-Type: text/plain"]), "body": dense, "chunked": true}},
        {"request": {"head": head("GET /deflate HTTP/1.1", &[req_h[0], "X-Api-Key: k", tp])},
         "response": {"head": head("HTTP/1.1 503 Busy", &["Content-Type: application/json"]),
                      "body": json_body, "encode": "deflate"}},
    ]);
    let spec = json!({"connections": [
        {"cport": 40001, "sport": 8080, "exchanges": exchanges},
        {"cport": 40002, "sport": 80, "exchanges": exchanges},
    ]});
    let out = dir.join("crafted.pcap");
    let mut child = Command::new("python3")
        .arg(script("policy_mkpcap.py"))
        .arg(&out)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run python3 ({e}): apt-get install python3"));
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(spec.to_string().as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success(), "policy_mkpcap.py failed");
    out
}

// ---------------------------------------------------------------------------------------
// The test

#[test]
fn arm64_and_amd64_write_the_same_bytes_for_every_capture() {
    let amd64 = binary("amd64");
    let arm64 = binary("arm64");
    let dir = corpus_dir();
    let mut captures = Vec::new();
    walk(&dir.join("corpus"), &mut captures);
    captures.sort();
    assert!(!captures.is_empty(), "no captures under {}", dir.display());

    let default_jobs = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(2, 4) as u64;
    let jobs = env_num("ARM64_JOBS", default_jobs).max(1) as usize;
    let timeout = Duration::from_secs(env_num("ARM64_TIMEOUT_SECS", 120));
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("arm64-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let crafted = crafted_capture(&tmp);
    captures.push(crafted.clone());

    let start = Instant::now();
    let next = AtomicUsize::new(0);
    let failures: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let totals = Mutex::new((0usize, 0usize, 0i64, 0usize)); // lines, HAR bytes, spans, posts
    std::thread::scope(|s| {
        for w in 0..jobs {
            let (amd64, arm64, tmp, dir) = (&amd64, &arm64, &tmp, &dir);
            let (next, failures, totals, captures) = (&next, &failures, &totals, &captures);
            let crafted = &crafted;
            s.spawn(move || {
                let mut sat = Sat::start();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(path) = captures.get(i) else { break };
                    let rel = match path.strip_prefix(dir) {
                        Ok(r) => r.display().to_string(),
                        Err(_) => "the crafted capture".to_string(),
                    };
                    let mut input = path.clone();
                    if path.extension().is_some_and(|e| e == "gz") {
                        input = tmp.join(format!("{i}.pcap"));
                        let f = std::fs::File::create(&input).unwrap();
                        let ok = Command::new("gzip")
                            .arg("-dc")
                            .arg(path)
                            .stdout(f)
                            .status()
                            .is_ok_and(|s| s.success());
                        assert!(ok, "gzip -dc {} failed", path.display());
                    }
                    let har = tmp.join(format!("w{w}.har"));
                    let a = run_both(amd64, &input, &har, &mut sat, timeout);
                    let b = run_both(arm64, &input, &har, &mut sat, timeout);
                    if input != *path {
                        let _ = std::fs::remove_file(&input);
                    }
                    let problems = match (&a, &b) {
                        (Ok(a), Ok(b)) => {
                            let mut t = totals.lock().unwrap();
                            t.0 += a.jsonl.iter().filter(|&&c| c == b'\n').count();
                            t.1 += a.har.len();
                            t.2 += a.posts.iter().map(|p| spans(&p.body).max(0)).sum::<i64>();
                            t.3 += a.posts.len();
                            let mut d = differences(a, b);
                            // The crafted capture's traceparent ids must come through as sent
                            // (lower-cased), and so be compared without normalisation.
                            let kept =
                                b"\"traceId\":\"4bf92f3577b34da6a3ce929d0e0e4736\",\"spanId\"";
                            if input == *crafted
                                && !a.posts.iter().any(|p| find(&p.body, kept).is_some())
                            {
                                d.push("no span carries the traceparent's trace id".into());
                            }
                            d
                        }
                        (a, b) => [a.as_ref().err(), b.as_ref().err()]
                            .into_iter()
                            .flatten()
                            .cloned()
                            .collect(),
                    };
                    if !problems.is_empty() {
                        failures
                            .lock()
                            .unwrap()
                            .push(format!("{rel}:\n  {}", problems.join("\n  ")));
                    }
                }
            });
        }
    });
    let _ = std::fs::remove_dir_all(&tmp);
    let (lines, har_bytes, span_count, posts) = *totals.lock().unwrap();
    eprintln!(
        "arm64 (under {}) vs amd64: {} captures, {lines} JSON lines, {har_bytes} HAR bytes, \
         {span_count} spans in {posts} POSTs compared in {:.1} s with {jobs} workers",
        arm64.qemu.or(amd64.qemu).unwrap_or("no emulator"),
        captures.len(),
        start.elapsed().as_secs_f64()
    );
    assert!(
        lines > 0 && span_count > 0 && har_bytes > 0,
        "nothing was compared"
    );
    let failures = failures.into_inner().unwrap();
    if !failures.is_empty() {
        let listed = failures.len().min(MAX_LISTED);
        panic!(
            "{} of {} captures differ between {} and {}:\n{}{}",
            failures.len(),
            captures.len(),
            amd64.path.display(),
            arm64.path.display(),
            failures[..listed].join("\n"),
            if failures.len() > listed {
                format!("\n... and {} more", failures.len() - listed)
            } else {
                String::new()
            }
        );
    }
}

/// The arm64 binary itself: static, no interpreter or shared libraries, and it runs.
#[test]
fn arm64_binary_is_static_and_runs() {
    let arm64 = binary("arm64");
    let dynamic = Command::new("readelf")
        .arg("-d")
        .arg(&arm64.path)
        .output()
        .expect("readelf (apt-get install binutils)");
    let text = String::from_utf8_lossy(&dynamic.stdout);
    assert!(!text.contains("(NEEDED)"), "readelf -d:\n{text}");
    let headers = Command::new("readelf")
        .arg("-l")
        .arg(&arm64.path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&headers.stdout);
    assert!(!text.contains("INTERP"), "an interpreter:\n{text}");
    let out = run_with_deadline(arm64.command().arg("version"), Duration::from_secs(30));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains(env!("CARGO_PKG_VERSION")),
        "version: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The id normalisation touches random ids only.
#[test]
fn only_random_ids_are_normalised() {
    let body = br#"{"spans":[{"traceId":"0123456789abcdef0123456789abcdef","spanId":"0123456789abcdef","name":"GET /"},{"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"fedcba9876543210","parentSpanId":"00f067aa0ba902b7","name":"GET /\"traceId\":\"x"}]}"#;
    let want = br#"{"spans":[{"traceId":"00000000000000000000000000000000","spanId":"0000000000000000","name":"GET /"},{"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"0000000000000000","parentSpanId":"00f067aa0ba902b7","name":"GET /\"traceId\":\"x"}]}"#;
    assert_eq!(
        String::from_utf8_lossy(&normalise_ids(body)),
        String::from_utf8_lossy(want)
    );
}
