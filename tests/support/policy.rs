//! The policy helpers (tests/policy.rs): crafted pcaps
//! (tests/support/policy_mkpcap.py), the recording satellite (sat_server.py,
//! through `sat`), the ECS metadata fixture (policy_ecs.py), OTLP JSON access.
//!
//! Every wait has a deadline; nothing sleeps to synchronise.

use super::process::{TempDir, run_with_deadline, script, spawn_listening};
use super::require::python3;
use super::sat;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------
// Crafted pcaps

/// A message for policy_mkpcap.py: start line and header lines (CRLF added),
/// and a text body. Content-Length is added by the script (responses always,
/// requests when the body is not empty).
pub fn msg(lines: &[&str], body: &str) -> Value {
    let mut head = String::new();
    for l in lines {
        head.push_str(l);
        head.push_str("\r\n");
    }
    json!({"head": head, "body": body})
}

/// `HTTP/1.1 200 OK` with a text/plain body.
pub fn ok_text(body: &str) -> Value {
    msg(&["HTTP/1.1 200 OK", "Content-Type: text/plain"], body)
}

/// One TCP connection of a pcap spec.
pub struct Conn {
    pub client: String,
    pub server: String,
    pub sport: u16,
    pub exchanges: Vec<(Value, Option<Value>)>,
}

impl Conn {
    pub fn new(exchanges: Vec<(Value, Option<Value>)>) -> Conn {
        Conn {
            client: "10.1.0.1".into(),
            server: "10.1.0.2".into(),
            sport: 8080,
            exchanges,
        }
    }

    pub fn server(mut self, ip: &str) -> Conn {
        self.server = ip.to_string();
        self
    }
}

/// Times of one exchange in a crafted pcap (microseconds since 1970).
#[derive(Debug, Clone, Copy)]
pub struct Times {
    pub request_us: u64,
    pub response_end_us: Option<u64>,
}

/// Writes `dir/name` from these connections (consecutive in time, starting at
/// 2024-05-01T12:00:00Z, 50 µs between packets); returns its path and the
/// times of every exchange, in order.
pub fn write_pcap(dir: &TempDir, name: &str, conns: &[Conn]) -> (PathBuf, Vec<Times>) {
    let spec = json!({
        "start": 1_714_564_800.0,
        "gap_us": 50,
        "connections": conns.iter().enumerate().map(|(i, c)| json!({
            "client": c.client,
            "server": c.server,
            "cport": 40000 + i,
            "sport": c.sport,
            "exchanges": c.exchanges.iter().map(|(rq, rs)| json!({
                "request": rq, "response": rs})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    });
    let spec_path = dir.path(&format!("{name}.json"));
    std::fs::write(&spec_path, spec.to_string()).expect("write pcap spec");
    let out_path = dir.path(name);
    let out = run_with_deadline(
        Command::new(python3())
            .arg(script("policy_mkpcap.py"))
            .arg(&out_path)
            .arg(&spec_path),
        Duration::from_secs(30),
    );
    assert!(
        out.status.success(),
        "policy_mkpcap.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let times: Vec<Value> = serde_json::from_slice(&out.stdout).expect("mkpcap times JSON");
    let times = times
        .iter()
        .map(|t| Times {
            request_us: t["request_us"].as_u64().unwrap(),
            response_end_us: t["response_end_us"].as_u64(),
        })
        .collect();
    (out_path, times)
}

// ---------------------------------------------------------------------------
// Python helper processes

/// The test satellite (tests/support/sat_server.py, the one the satellite
/// and fault tests use), answering 200 to every post; what it recorded is
/// read back from its record file.
pub struct Satellite {
    inner: sat::Satellite,
    pub port: u16,
    /// Every request recorded so far (sat_server.py's record lines).
    pub records: Vec<Value>,
}

impl Satellite {
    pub fn start() -> Satellite {
        let inner = sat::Satellite::start(sat::SatOpts::mode(sat::Mode::Ok));
        Satellite {
            port: inner.port,
            inner,
            records: Vec::new(),
        }
    }

    pub fn url(&self) -> String {
        self.inner.url()
    }

    /// Waits until the posts received hold at least `spans` spans or the
    /// deadline passes; reads the records and returns the number of spans.
    pub fn wait_spans(&mut self, spans: usize, timeout: Duration) -> usize {
        let want = spans as i64;
        let _ = self
            .inner
            .wait_until(Instant::now() + timeout, |s| s.received() >= want);
        self.drain();
        self.span_count()
    }

    /// Reads whatever has been recorded so far.
    pub fn drain(&mut self) {
        self.inner.drain();
        let text = std::fs::read_to_string(&self.inner.record).unwrap_or_default();
        self.records = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("satellite record line is JSON"))
            .collect();
    }

    /// The parsed OTLP bodies of the POSTs received.
    pub fn bodies(&self) -> Vec<Value> {
        self.records
            .iter()
            .filter(|r| r["method"] == "POST")
            .map(|r| serde_json::from_str(r["body"].as_str().unwrap_or("")).unwrap_or(Value::Null))
            .collect()
    }

    pub fn span_count(&self) -> usize {
        self.bodies().iter().map(|b| spans(b).len()).sum()
    }

    /// Problems with the requests: not POST /v1/traces, not JSON, not OTLP.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        for r in &self.records {
            if r["method"] != "POST" || r["path"] != "/v1/traces" {
                p.push(format!(
                    "request {} {} (want POST /v1/traces)",
                    r["method"], r["path"]
                ));
            }
            if !r["content_type"]
                .as_str()
                .unwrap_or("")
                .starts_with("application/json")
            {
                p.push(format!(
                    "Content-Type {} (want application/json)",
                    r["content_type"]
                ));
            }
        }
        // Every body parsed as an ExportTraceServiceRequest (and more).
        if let Err(report) = self.inner.try_check() {
            p.push(format!("bodies are not OTLP/HTTP JSON: {report}"));
        }
        p
    }
}

/// The ECS task metadata fixture (tests/support/policy_ecs.py).
pub struct EcsFixture {
    child: Child,
    rx: Receiver<String>,
    pub port: u16,
    pub id: String,
    /// Request lines ("GET /path") seen so far.
    pub requests: Vec<String>,
}

impl EcsFixture {
    /// MODE: fargate, ec2 or error500.
    pub fn start(mode: &str) -> EcsFixture {
        let id = "e9028f8d5d8e4f258373e7b93ce9a3c3-2495160603".to_string();
        let mut cmd = Command::new(python3());
        cmd.arg("-u")
            .arg(script("policy_ecs.py"))
            .args([mode, &id])
            .stdin(Stdio::null());
        let (child, rx, port) = spawn_listening(&mut cmd, "policy_ecs.py");
        EcsFixture {
            child,
            rx,
            port,
            id,
            requests: Vec::new(),
        }
    }

    /// The value of ECS_CONTAINER_METADATA_URI_V4.
    pub fn uri(&self) -> String {
        format!("http://127.0.0.1:{}/v4/{}", self.port, self.id)
    }

    /// Waits (with a deadline) for the first request, then takes the rest
    /// that are already waiting.
    pub fn collect(&mut self, timeout: Duration) -> &[String] {
        if self.requests.is_empty()
            && let Ok(l) = self.rx.recv_timeout(timeout)
        {
            self.requests.push(l);
        }
        while let Ok(l) = self.rx.try_recv() {
            self.requests.push(l);
        }
        &self.requests
    }
}

impl Drop for EcsFixture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------
// OTLP JSON

/// Every span of an ExportTraceServiceRequest body.
pub fn spans(body: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for rs in body["resourceSpans"].as_array().into_iter().flatten() {
        for ss in rs["scopeSpans"].as_array().into_iter().flatten() {
            out.extend(ss["spans"].as_array().into_iter().flatten());
        }
    }
    out
}

/// key → value object of an OTLP attribute list.
pub fn attr_map(attrs: &Value) -> BTreeMap<String, Value> {
    attrs
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| Some((a["key"].as_str()?.to_string(), a["value"].clone())))
        .collect()
}

/// The resource attributes of every resourceSpans entry of every body.
pub fn resource_attrs(bodies: &[Value]) -> Vec<BTreeMap<String, Value>> {
    bodies
        .iter()
        .flat_map(|b| b["resourceSpans"].as_array().cloned().unwrap_or_default())
        .map(|rs| attr_map(&rs["resource"]["attributes"]))
        .collect()
}

/// The stringValue of attribute `key`, if it is a string attribute.
pub fn str_attr<'a>(m: &'a BTreeMap<String, Value>, key: &str) -> Option<&'a str> {
    m.get(key)?.get("stringValue")?.as_str()
}
