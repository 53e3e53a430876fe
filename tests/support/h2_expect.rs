//! The trace an HTTP/2 or gRPC exchange must become (issue 17, Scope 4), written down as
//! checks, and the matchers the HTTP/2 tests judge the sensor's output with.
//!
//! A JSON Lines trace of an HTTP/2 stream is the same object as HTTP/1's, with:
//! - `request.version` "HTTP/2"; `request.method` from `:method`; `request.target` the
//!   `:path`, split into `request.path` and `request.query` at the first '?';
//!   `request.host` from `:authority`; `response.status` from `:status`;
//! - no pseudo-header (a name starting with ':') in `request.headers`,
//!   `response.headers` or `response.trailers`;
//! - `response.trailers`: a list of [name, value] pairs, when the stream had trailers (a
//!   second HEADERS block with END_STREAM);
//! - for gRPC (request content-type `application/grpc*`): `"grpc": {"service", "method",
//!   "status_code", "status_message", "request_messages", "response_messages"}`, the
//!   status from the trailers or a trailers-only response, the message percent-decoded;
//!   bodies (the length-prefixed messages) as base64;
//! - mid-connection: a header that cannot be known is left out and counted in the
//!   message's [`HEADERS_UNKNOWN`]; a value is never wrong; a stream whose `:path` cannot
//!   be known has `request.path` and `request.target` null and the trace says
//!   [`PARTIAL`]: true.
//!
//! OTLP: `network.protocol.version` "2"; for gRPC `rpc.system` "grpc", `rpc.service`,
//! `rpc.method`, `rpc.grpc.status_code` (int), span name `service/method`, span status
//! ERROR exactly for [`GRPC_SERVER_ERRORS`]; other HTTP/2 spans are named and flagged as
//! HTTP/1's ("METHOD path", ERROR for 5xx). HAR: `httpVersion` "HTTP/2" on request and
//! response.
//!
//! An [`Exchange`] is what a client really did (one JSON line of tests/support/h2_*.py);
//! the matchers pair each with one trace, span or HAR entry by method, target, status and
//! gRPC status (and the client port when the client knows it), then check every field.
//! [`StreamTruth`] (tshark) judges traces header by header, also when the capture started
//! mid-connection.

use super::h2_truth::{StreamTruth, regular};
use super::text::base64_decode;
use super::trace::{body_bytes, summarize};
use serde_json::Value;

/// The trace-level flag of a stream whose `:path` could not be known (the name the
/// connection layer is asked to use).
pub const PARTIAL: &str = "partial";
/// The count, on `request` and `response`, of header fields that could not be known.
pub const HEADERS_UNKNOWN: &str = "headers_unknown";

/// gRPC status codes that make a server span an error (OpenTelemetry semantic conventions
/// up to 1.37): UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS.
pub const GRPC_SERVER_ERRORS: [i64; 6] = [2, 4, 12, 13, 14, 15];

/// The gRPC side of an exchange, as the client saw it.
#[derive(Clone, Debug, PartialEq)]
pub struct Grpc {
    pub service: String,
    pub method: String,
    pub status_code: i64,
    /// As the client got it (percent-decoded); "" when there was none.
    pub status_message: String,
}

/// One exchange as a client really made it (a line of h2_clients.py or h2_grpc.py).
#[derive(Clone, Debug)]
pub struct Exchange {
    /// "h2load", "curl-prior", "curl-upgrade", "grpc".
    pub client: String,
    pub method: String,
    /// `:path`: the path and the query.
    pub target: String,
    pub authority: String,
    pub status: u16,
    pub grpc: Option<Grpc>,
    pub request_body_size: Option<u64>,
    pub response_body_size: Option<u64>,
    /// The exact DATA payload, when the client knows it (gRPC, uncompressed).
    pub request_body: Option<Vec<u8>>,
    pub response_body: Option<Vec<u8>>,
    pub request_messages: Option<u64>,
    pub response_messages: Option<u64>,
    /// The client's TCP port, when the client knows it (curl).
    pub local_port: Option<u16>,
    /// 1 before the sensor started (or the capture's cut), 2 after; None: one phase.
    pub phase: Option<u64>,
    /// The HTTP/1.1 request that carried `Upgrade: h2c` (answered on stream 1): its request
    /// was HTTP/1.1 on the wire, so its trace may say "HTTP/1.1" or "HTTP/2".
    pub upgraded: bool,
    pub raw: Value,
}

impl Exchange {
    pub fn from_json(v: &Value) -> Exchange {
        let s = |k: &str| {
            v[k].as_str()
                .unwrap_or_else(|| panic!("client record without {k}: {v}"))
                .to_string()
        };
        let b64 = |k: &str| {
            v[k].as_str()
                .map(|b| base64_decode(b).unwrap_or_else(|| panic!("{k} is not base64 in {v}")))
        };
        Exchange {
            client: s("client"),
            method: s("method"),
            target: s("path"),
            authority: s("authority"),
            status: v["status"].as_u64().expect("client record status") as u16,
            grpc: v.get("grpc").filter(|g| g.is_object()).map(|g| Grpc {
                service: g["service"].as_str().unwrap().to_string(),
                method: g["method"].as_str().unwrap().to_string(),
                status_code: g["status_code"].as_i64().unwrap(),
                status_message: g["status_message"].as_str().unwrap_or("").to_string(),
            }),
            request_body_size: v["request_body_size"].as_u64(),
            response_body_size: v["response_body_size"].as_u64(),
            request_body: b64("request_body_b64"),
            response_body: b64("response_body_b64"),
            request_messages: v["request_messages"].as_u64(),
            response_messages: v["response_messages"].as_u64(),
            local_port: v["local_port"].as_u64().map(|p| p as u16),
            phase: v["phase"].as_u64(),
            upgraded: v["upgraded"] == true,
            raw: v.clone(),
        }
    }

    /// Every JSON line of a client's output that is an exchange.
    pub fn parse_lines(text: &str) -> Vec<Exchange> {
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str::<Value>(l).expect("client line is JSON"))
            .filter(|v| v.get("client").is_some())
            .map(|v| Exchange::from_json(&v))
            .collect()
    }

    pub fn path(&self) -> &str {
        self.target.split_once('?').map_or(&self.target, |(p, _)| p)
    }

    pub fn query(&self) -> Option<&str> {
        self.target.split_once('?').map(|(_, q)| q)
    }

    /// One line, for messages.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "{} {} {} -> {}",
            self.client, self.method, self.target, self.status
        );
        if let Some(g) = &self.grpc {
            s.push_str(&format!(
                " grpc-status {} {:?}",
                g.status_code, g.status_message
            ));
        }
        if let Some(p) = self.local_port {
            s.push_str(&format!(" (client port {p})"));
        }
        if let Some(p) = self.phase {
            s.push_str(&format!(" [phase {p}]"));
        }
        s
    }

    /// Whether a trace is this exchange's: method, target, status, gRPC status, port.
    pub fn is_traced_by(&self, t: &Value) -> bool {
        let (req, resp) = (&t["request"], &t["response"]);
        req["method"] == self.method.as_str()
            && req["target"] == self.target.as_str()
            && resp["status"] == self.status
            && self
                .grpc
                .as_ref()
                .is_none_or(|g| t["grpc"]["status_code"] == g.status_code)
            && self.local_port.is_none_or(|p| t["client"]["port"] == p)
    }
}

/// Pairs left items with right items, each at most once, where `fits` says they may pair:
/// a maximum matching (augmenting paths), so that identical exchanges never steal each
/// other's traces. Returns, for each left item, its right item.
pub fn assign(
    left: usize,
    right: usize,
    fits: impl Fn(usize, usize) -> bool,
) -> Vec<Option<usize>> {
    let ok: Vec<Vec<usize>> = (0..left)
        .map(|l| (0..right).filter(|&r| fits(l, r)).collect())
        .collect();
    let mut owner: Vec<Option<usize>> = vec![None; right];
    fn augment(
        l: usize,
        ok: &[Vec<usize>],
        owner: &mut [Option<usize>],
        seen: &mut [bool],
    ) -> bool {
        for &r in &ok[l] {
            if seen[r] {
                continue;
            }
            seen[r] = true;
            if owner[r].is_none_or(|o| augment(o, ok, owner, seen)) {
                owner[r] = Some(l);
                return true;
            }
        }
        false
    }
    for l in 0..left {
        let mut seen = vec![false; right];
        augment(l, &ok, &mut owner, &mut seen);
    }
    let mut out = vec![None; left];
    for (r, o) in owner.iter().enumerate() {
        if let Some(l) = o {
            out[*l] = Some(r);
        }
    }
    out
}

/// Pairs exchanges with items (traces, spans, entries) by `key`, preferring pairs that are
/// `good` (no problem found): identical keys (two unary calls of one method, both OK) then
/// pair with the items that are really theirs (their bodies), and a problem is reported
/// only when no assignment without one exists.
pub fn pair_best(
    exchanges: usize,
    items: usize,
    key: impl Fn(usize, usize) -> bool,
    good: impl Fn(usize, usize) -> bool,
) -> Vec<Option<usize>> {
    let mut pairs = assign(exchanges, items, |e, i| key(e, i) && good(e, i));
    let left: Vec<usize> = (0..exchanges).filter(|&e| pairs[e].is_none()).collect();
    let free: Vec<usize> = (0..items).filter(|i| !pairs.contains(&Some(*i))).collect();
    let more = assign(left.len(), free.len(), |e, i| key(left[e], free[i]));
    for (e, i) in more.iter().enumerate() {
        if let Some(i) = i {
            pairs[left[e]] = Some(free[*i]);
        }
    }
    pairs
}

/// The traces that say they are HTTP/2.
pub fn h2_traces(traces: &[Value]) -> Vec<&Value> {
    traces
        .iter()
        .filter(|t| t["request"]["version"] == "HTTP/2")
        .collect()
}

fn summaries(traces: &[Value]) -> String {
    if traces.is_empty() {
        return "  (none)".into();
    }
    traces
        .iter()
        .map(|t| format!("  {}", summarize(t)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every client exchange matched by its own trace, and every HTTP/2 trace by an exchange;
/// then every field of every pair checked ([`check_trace`]). Panics with the whole report
/// (unmatched exchanges first: with the sensor ignoring HTTP/2, that is all of them).
pub fn assert_traces_match(traces: &[Value], exchanges: &[Exchange], what: &str) {
    assert!(!exchanges.is_empty(), "{what}: no client exchange to match");
    let pairs = pair_best(
        exchanges.len(),
        traces.len(),
        |e, t| exchanges[e].is_traced_by(&traces[t]),
        |e, t| check_trace(&traces[t], &exchanges[e]).is_empty(),
    );
    let unmatched: Vec<String> = pairs
        .iter()
        .zip(exchanges)
        .filter(|(p, _)| p.is_none())
        .map(|(_, e)| format!("  {}", e.describe()))
        .collect();
    if !unmatched.is_empty() {
        panic!(
            "{what}: {} of {} client exchanges have no trace (by method, target, status, gRPC \
             status, client port); the sensor printed {} traces, {} of them HTTP/2.\nExchanges \
             without a trace:\n{}\nTraces:\n{}",
            unmatched.len(),
            exchanges.len(),
            traces.len(),
            h2_traces(traces).len(),
            unmatched.join("\n"),
            summaries(traces)
        );
    }
    let used: Vec<usize> = pairs.iter().flatten().copied().collect();
    let extra: Vec<String> = traces
        .iter()
        .enumerate()
        .filter(|(i, t)| !used.contains(i) && t["request"]["version"] == "HTTP/2")
        .map(|(_, t)| format!("  {}", summarize(t)))
        .collect();
    let mut problems: Vec<String> = Vec::new();
    if !extra.is_empty() {
        problems.push(format!(
            "HTTP/2 traces no client exchange explains:\n{}",
            extra.join("\n")
        ));
    }
    for (e, t) in pairs.iter().enumerate() {
        let t = &traces[t.unwrap()];
        for p in check_trace(t, &exchanges[e]) {
            problems.push(format!("{}: {p}", exchanges[e].describe()));
        }
    }
    assert!(
        problems.is_empty(),
        "{what}: every exchange has its trace, but:\n{}",
        problems.join("\n")
    );
}

/// Problems with the shape of an HTTP/2 trace, whatever the exchange.
pub fn check_shape(t: &Value) -> Vec<String> {
    let mut p = Vec::new();
    let (req, resp) = (&t["request"], &t["response"]);
    if req["version"] != "HTTP/2" {
        p.push(format!(
            "request.version is {}, want \"HTTP/2\"",
            req["version"]
        ));
    }
    for (what, list) in [
        ("request.headers", &req["headers"]),
        ("response.headers", &resp["headers"]),
        ("response.trailers", &resp["trailers"]),
    ] {
        if list.is_null() && what == "response.trailers" {
            continue;
        }
        let Some(items) = list.as_array() else {
            p.push(format!("{what} is not a list: {list}"));
            continue;
        };
        for h in items {
            let pair = h
                .as_array()
                .filter(|a| a.len() == 2 && a.iter().all(Value::is_string));
            match pair {
                None => p.push(format!(
                    "{what} has an item that is not a [name, value] pair: {h}"
                )),
                Some(a) if a[0].as_str().unwrap().starts_with(':') => {
                    p.push(format!("{what} repeats the pseudo-header {}", a[0]))
                }
                Some(_) => {}
            }
        }
    }
    match (req["path"].as_str(), req["target"].as_str()) {
        (Some(path), Some(target)) => {
            let want = match req["query"].as_str() {
                Some(q) => format!("{path}?{q}"),
                None => path.to_string(),
            };
            if target != want {
                p.push(format!(
                    "request.target {target:?} is not path?query ({want:?})"
                ));
            }
        }
        (None, None) => {
            if t[PARTIAL] != true {
                p.push(format!(
                    "request.path is null but the trace is not flagged \"{PARTIAL}\": true"
                ));
            }
        }
        (path, target) => p.push(format!(
            "request.path {path:?} and request.target {target:?}: both or neither"
        )),
    }
    p
}

/// Adds a problem when `got` is not `want`.
fn eq(p: &mut Vec<String>, what: &str, got: &Value, want: Value) {
    if *got != want {
        p.push(format!("{what} is {got}, want {want}"));
    }
}

/// Adds a problem when a trace's value differs from the wire's (`want`, None: absent from
/// the wire); with `complete`, also when the trace lacks it.
fn same(p: &mut Vec<String>, complete: bool, what: &str, got: &Value, want: Option<Value>) {
    match (got.is_null(), want) {
        (true, Some(w)) if complete => p.push(format!("{what} is null, the wire says {w}")),
        (false, Some(w)) if *got != w => p.push(format!("{what} is {got}, the wire says {w}")),
        (false, None) => p.push(format!("{what} is {got}, the wire has none")),
        _ => {}
    }
}

/// Problems with a trace as the trace of exchange `ex` (shape included).
pub fn check_trace(t: &Value, ex: &Exchange) -> Vec<String> {
    let mut p = check_shape(t);
    if ex.upgraded && t["request"]["version"] == "HTTP/1.1" {
        p.retain(|m| !m.starts_with("request.version"));
    }
    let (req, resp) = (&t["request"], &t["response"]);
    eq(
        &mut p,
        "request.method",
        &req["method"],
        ex.method.as_str().into(),
    );
    eq(
        &mut p,
        "request.target",
        &req["target"],
        ex.target.as_str().into(),
    );
    eq(&mut p, "request.path", &req["path"], ex.path().into());
    eq(
        &mut p,
        "request.query",
        &req["query"],
        ex.query().map_or(Value::Null, Into::into),
    );
    eq(
        &mut p,
        "request.host",
        &req["host"],
        ex.authority.as_str().into(),
    );
    eq(&mut p, "response.status", &resp["status"], ex.status.into());
    if let Some(n) = ex.request_body_size {
        eq(&mut p, "request.body_size", &req["body_size"], n.into());
    }
    if let Some(n) = ex.response_body_size {
        eq(&mut p, "response.body_size", &resp["body_size"], n.into());
    }
    if let Some(port) = ex.local_port {
        eq(&mut p, "client.port", &t["client"]["port"], port.into());
    }
    let Some(g) = &ex.grpc else {
        if !t["grpc"].is_null() {
            p.push(format!(
                "a trace that is not gRPC has \"grpc\": {}",
                t["grpc"]
            ));
        }
        return p;
    };
    let tg = &t["grpc"];
    if !tg.is_object() {
        p.push(format!("no \"grpc\" object (got {tg})"));
        return p;
    }
    eq(
        &mut p,
        "grpc.service",
        &tg["service"],
        g.service.as_str().into(),
    );
    eq(
        &mut p,
        "grpc.method",
        &tg["method"],
        g.method.as_str().into(),
    );
    eq(
        &mut p,
        "grpc.status_code",
        &tg["status_code"],
        g.status_code.into(),
    );
    let msg = tg["status_message"].as_str().unwrap_or("");
    if msg != g.status_message
        || !(tg["status_message"].is_string() || tg["status_message"].is_null())
    {
        p.push(format!(
            "grpc.status_message is {}, want {:?} (percent-decoded)",
            tg["status_message"], g.status_message
        ));
    }
    if let Some(n) = ex.request_messages {
        eq(
            &mut p,
            "grpc.request_messages",
            &tg["request_messages"],
            n.into(),
        );
    }
    if let Some(n) = ex.response_messages {
        eq(
            &mut p,
            "grpc.response_messages",
            &tg["response_messages"],
            n.into(),
        );
    }
    for (what, msg, body) in [
        ("request", req, &ex.request_body),
        ("response", resp, &ex.response_body),
    ] {
        let Some(body) = body else { continue };
        if body.is_empty() {
            continue;
        }
        if msg["body_encoding"] != "base64" {
            p.push(format!(
                "{what}.body_encoding is {}, want \"base64\" (gRPC)",
                msg["body_encoding"]
            ));
        } else if msg["body_truncated"] != true && body_bytes(msg) != *body {
            p.push(format!(
                "{what}.body is not the {} bytes the client saw",
                body.len()
            ));
        }
    }
    p
}

/// The pairs of a header list (request/response headers or trailers); empty when absent.
fn pairs_of(list: &Value) -> Vec<(String, String)> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|h| {
            Some((
                h.get(0)?.as_str()?.to_string(),
                h.get(1)?.as_str()?.to_string(),
            ))
        })
        .collect()
}

/// Whether every pair of `got` is in `truth` (as a multiset, names case-insensitive).
fn missing_from(got: &[(String, String)], truth: &[(String, String)]) -> Vec<(String, String)> {
    let mut left: Vec<&(String, String)> = truth.iter().collect();
    let mut wrong = Vec::new();
    for g in got {
        match left
            .iter()
            .position(|t| t.0.eq_ignore_ascii_case(&g.0) && t.1 == g.1)
        {
            Some(i) => {
                left.remove(i);
            }
            None => wrong.push(g.clone()),
        }
    }
    wrong
}

/// Problems with a trace as the trace of the stream `s` as tshark saw it. Nothing the trace
/// shows may differ from the wire (a value is never wrong); with `complete`, nothing may
/// be missing either: every header of every block is in the trace.
pub fn check_against_truth(t: &Value, s: &StreamTruth, complete: bool) -> Vec<String> {
    let mut p = Vec::new();
    let (req, resp) = (&t["request"], &t["response"]);
    if s.request.is_some() {
        same(
            &mut p,
            complete,
            "request.method",
            &req["method"],
            s.method().map(Into::into),
        );
        same(
            &mut p,
            complete,
            "request.target",
            &req["target"],
            s.path().map(Into::into),
        );
        same(
            &mut p,
            complete,
            "request.host",
            &req["host"],
            s.authority().map(Into::into),
        );
    }
    same(
        &mut p,
        complete,
        "response.status",
        &resp["status"],
        s.status().map(Into::into),
    );
    let grpc_truth = s
        .content_type()
        .is_some_and(|c| c.starts_with("application/grpc"));
    if grpc_truth {
        let g = &t["grpc"];
        same(
            &mut p,
            complete,
            "grpc.status_code",
            &g["status_code"],
            s.grpc_status().map(Into::into),
        );
        let msg = s.grpc_message().unwrap_or_default();
        let got = g["status_message"].as_str().unwrap_or("");
        if !g["status_message"].is_null() && got != msg {
            p.push(format!(
                "grpc.status_message is {got:?}, the wire says {msg:?}"
            ));
        }
    }
    let check = |p: &mut Vec<String>,
                 what: &str,
                 got: Vec<(String, String)>,
                 truth: Vec<(String, String)>,
                 unknown: &Value| {
        let wrong = missing_from(&got, &truth);
        if !wrong.is_empty() {
            p.push(format!(
                "{what} has fields the wire does not: {wrong:?} (wire: {truth:?})"
            ));
        }
        if complete {
            let absent = missing_from(&truth, &got);
            if !absent.is_empty() {
                p.push(format!("{what} lacks fields of the wire: {absent:?}"));
            }
        } else if got.len() < truth.len() && unknown.as_u64().unwrap_or(0) == 0 {
            p.push(format!(
                "{what} has {} of the wire's {} fields but does not count the others in \"{HEADERS_UNKNOWN}\"",
                got.len(),
                truth.len()
            ));
        }
    };
    if let Some(r) = &s.request {
        check(
            &mut p,
            "request.headers",
            pairs_of(&req["headers"]),
            regular(r),
            &req[HEADERS_UNKNOWN],
        );
    }
    // A trailers-only response has one block: its grpc-status may be read as a header or
    // as a trailer; both must be on the wire, in that block.
    let (resp_truth, trailers_truth) = match (&s.response, &s.trailers) {
        (Some(r), Some(tr)) => (regular(r), regular(tr)),
        (Some(r), None) => (regular(r), Vec::new()),
        (None, tr) => (Vec::new(), tr.as_deref().map(regular).unwrap_or_default()),
    };
    let mut got_resp = pairs_of(&resp["headers"]);
    let mut got_trailers = pairs_of(&resp["trailers"]);
    if s.trailers.is_none() {
        got_resp.append(&mut got_trailers);
    }
    check(
        &mut p,
        "response.headers",
        got_resp,
        resp_truth,
        &resp[HEADERS_UNKNOWN],
    );
    if s.trailers.is_some() {
        check(
            &mut p,
            "response.trailers",
            got_trailers,
            trailers_truth,
            &resp[HEADERS_UNKNOWN],
        );
    }
    p
}

/// Pairs traces with tshark's streams: same client port, and nothing in the trace differs
/// from the stream (`check_against_truth` with complete = false). For each stream, its
/// trace.
pub fn match_truth(traces: &[&Value], streams: &[StreamTruth]) -> Vec<Option<usize>> {
    assign(streams.len(), traces.len(), |s, t| {
        traces[t]["client"]["port"] == streams[s].client_port
            && check_against_truth(traces[t], &streams[s], false).is_empty()
    })
}

/// Every stream of the truth has its trace, each trace is right about everything it shows,
/// and with `complete` it shows everything (a capture from the connection's start).
pub fn assert_traces_match_truth(
    traces: &[Value],
    streams: &[StreamTruth],
    complete: bool,
    what: &str,
) {
    // All traces, not only those saying HTTP/2: an upgraded request may say HTTP/1.1.
    let h2: Vec<&Value> = traces.iter().collect();
    let pairs = match_truth(&h2, streams);
    let mut problems = Vec::new();
    for (s, t) in streams.iter().zip(&pairs) {
        match t {
            None => {
                // Say why: the closest trace's problems, when there is one on the connection.
                let near: Vec<String> = h2
                    .iter()
                    .filter(|t| t["client"]["port"] == s.client_port)
                    .map(|t| check_against_truth(t, s, false).join("; "))
                    .take(3)
                    .collect();
                problems.push(format!(
                    "no trace for {}{}",
                    s.describe(),
                    if near.is_empty() {
                        String::new()
                    } else {
                        format!(" (traces of that connection differ: {near:?})")
                    }
                ));
            }
            Some(t) if complete => {
                for p in check_against_truth(h2[*t], s, true) {
                    problems.push(format!("{}: {p}", s.describe()));
                }
            }
            Some(_) => {}
        }
    }
    if h2.len() > streams.len() {
        problems.push(format!(
            "{} traces for {} streams on the wire",
            h2.len(),
            streams.len()
        ));
    }
    assert!(
        problems.is_empty(),
        "{what}: {} problem(s) against tshark's truth ({} streams, {} traces, {} saying HTTP/2):\n{}\nTraces:\n{}",
        problems.len(),
        streams.len(),
        traces.len(),
        h2_traces(traces).len(),
        problems.join("\n"),
        summaries(traces)
    );
}

// ---------------------------------------------------------------------------------------
// OTLP spans (flattened by tests/support/sat_otlp_check.py) and HAR entries

/// Whether a span is exchange `ex`'s.
pub fn span_is(span: &Value, ex: &Exchange) -> bool {
    let a = &span["attributes"];
    let port_ok = ex.local_port.is_none_or(|p| a["client.port"] == p);
    match &ex.grpc {
        Some(g) => {
            a["rpc.service"] == g.service.as_str()
                && a["rpc.method"] == g.method.as_str()
                && a["rpc.grpc.status_code"] == g.status_code
                && port_ok
        }
        None => {
            a["http.request.method"] == ex.method.as_str()
                && a["url.path"] == ex.path()
                && a["url.query"] == ex.query().map_or(Value::Null, Into::into)
                && a["http.response.status_code"] == ex.status
                && port_ok
        }
    }
}

/// Problems with a span as exchange `ex`'s.
pub fn check_span(span: &Value, ex: &Exchange) -> Vec<String> {
    let mut p = Vec::new();
    let a = &span["attributes"];
    eq(
        &mut p,
        "network.protocol.version",
        &a["network.protocol.version"],
        "2".into(),
    );
    eq(
        &mut p,
        "http.request.method",
        &a["http.request.method"],
        ex.method.as_str().into(),
    );
    eq(&mut p, "url.path", &a["url.path"], ex.path().into());
    eq(
        &mut p,
        "http.response.status_code",
        &a["http.response.status_code"],
        ex.status.into(),
    );
    match &ex.grpc {
        Some(g) => {
            eq(&mut p, "rpc.system", &a["rpc.system"], "grpc".into());
            eq(
                &mut p,
                "rpc.service",
                &a["rpc.service"],
                g.service.as_str().into(),
            );
            eq(
                &mut p,
                "rpc.method",
                &a["rpc.method"],
                g.method.as_str().into(),
            );
            eq(
                &mut p,
                "rpc.grpc.status_code",
                &a["rpc.grpc.status_code"],
                g.status_code.into(),
            );
            eq(
                &mut p,
                "name",
                &span["name"],
                format!("{}/{}", g.service, g.method).into(),
            );
            let error = GRPC_SERVER_ERRORS.contains(&g.status_code);
            eq(
                &mut p,
                "status.code (2 = ERROR)",
                &span["status_code"],
                if error { 2 } else { 0 }.into(),
            );
        }
        None => {
            eq(&mut p, "rpc.system", &a["rpc.system"], Value::Null);
            eq(
                &mut p,
                "name",
                &span["name"],
                format!("{} {}", ex.method, ex.path()).into(),
            );
            let error = ex.status >= 500;
            eq(
                &mut p,
                "status.code (2 = ERROR)",
                &span["status_code"],
                if error { 2 } else { 0 }.into(),
            );
        }
    }
    p
}

/// Every exchange has its delivered span and every span is right.
pub fn assert_spans_match(spans: &[&Value], exchanges: &[Exchange], what: &str) {
    let pairs = pair_best(
        exchanges.len(),
        spans.len(),
        |e, s| span_is(spans[s], &exchanges[e]),
        |e, s| check_span(spans[s], &exchanges[e]).is_empty(),
    );
    let mut problems = Vec::new();
    for (e, s) in pairs.iter().enumerate() {
        match s {
            None => problems.push(format!("no span for {}", exchanges[e].describe())),
            Some(s) => problems.extend(
                check_span(spans[*s], &exchanges[e])
                    .into_iter()
                    .map(|p| format!("{}: {p}", exchanges[e].describe())),
            ),
        }
    }
    assert!(
        problems.is_empty(),
        "{what}: {} problem(s) with {} spans for {} exchanges:\n{}\nSpans: {:#?}",
        problems.len(),
        spans.len(),
        exchanges.len(),
        problems.join("\n"),
        spans
            .iter()
            .map(|s| format!("{} {}", s["name"], s["attributes"]))
            .collect::<Vec<_>>()
    );
}

/// Whether a HAR entry is exchange `ex`'s.
pub fn har_entry_is(entry: &Value, ex: &Exchange) -> bool {
    entry["request"]["method"] == ex.method.as_str()
        && entry["request"]["url"]
            .as_str()
            .is_some_and(|u| u.ends_with(&format!("{}{}", ex.authority, ex.target)))
        && entry["response"]["status"] == ex.status
}

/// Every exchange has its HAR entry, saying HTTP/2.
pub fn assert_har_matches(har: &Value, exchanges: &[Exchange], what: &str) {
    let entries: Vec<&Value> = har["log"]["entries"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    let pairs = assign(exchanges.len(), entries.len(), |e, i| {
        har_entry_is(entries[i], &exchanges[e])
    });
    let mut problems = Vec::new();
    for (e, i) in pairs.iter().enumerate() {
        let Some(i) = i else {
            problems.push(format!("no HAR entry for {}", exchanges[e].describe()));
            continue;
        };
        for side in ["request", "response"] {
            if entries[*i][side]["httpVersion"] != "HTTP/2" {
                problems.push(format!(
                    "{}: {side}.httpVersion is {}, want \"HTTP/2\"",
                    exchanges[e].describe(),
                    entries[*i][side]["httpVersion"]
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{what}: {} problem(s), {} HAR entries for {} exchanges:\n{}\nEntries: {:?}",
        problems.len(),
        entries.len(),
        exchanges.len(),
        problems.join("\n"),
        entries
            .iter()
            .map(|e| format!(
                "{} {} -> {}",
                e["request"]["method"], e["request"]["url"], e["response"]["status"]
            ))
            .collect::<Vec<_>>()
    );
}

// ---------------------------------------------------------------------------------------
// Mid-connection

/// Every trace has the HTTP/2 shape ([`check_shape`]: a null path is flagged).
pub fn assert_shapes(traces: &[Value], what: &str) {
    let problems: Vec<String> = traces
        .iter()
        .flat_map(|t| {
            check_shape(t)
                .into_iter()
                .map(move |p| format!("{}: {p}", summarize(t)))
        })
        .collect();
    assert!(problems.is_empty(), "{what}:\n{}", problems.join("\n"));
}

/// The methods first called after the start (`after` exchanges whose target no `before`
/// exchange had) are decoded as far as the wire allows: each has its trace (same method,
/// target and status), nothing it shows differs from the wire (`truth`), and it shows every
/// field a decoder starting with the capture can know (`knowable`: h2_tshark.py
/// --knowable). With grpcio's encoder that is `:method`, `:scheme`, the new `:path`,
/// `:status` and what the server sent as literals (grpc-message, a new grpc-status): the
/// other fields refer to table entries made before the start, which cannot be known.
pub fn assert_fresh_methods_decoded(
    traces: &[Value],
    truth: &[StreamTruth],
    knowable: &[StreamTruth],
    before: &[Exchange],
    after: &[Exchange],
    what: &str,
) {
    let fresh: Vec<&Exchange> = after
        .iter()
        .filter(|e| !before.iter().any(|b| b.target == e.target))
        .collect();
    assert!(
        fresh.len() >= 3,
        "{what}: the test must call at least 3 methods first after the start (got {})",
        fresh.len()
    );
    let mut problems = Vec::new();
    for ex in fresh {
        let s = truth.iter().find(|s| {
            s.path() == Some(ex.target.as_str())
                && s.grpc_status() == ex.grpc.as_ref().map(|g| g.status_code)
                && ex.local_port.is_none_or(|p| p == s.client_port)
        });
        let Some(s) = s else {
            panic!("{what}: no stream on the wire for {}", ex.describe());
        };
        let k = knowable
            .iter()
            .find(|k| k.tcp_stream == s.tcp_stream && k.stream_id == s.stream_id);
        let Some(k) = k else {
            panic!(
                "{what}: nothing knowable of stream {} for {}",
                s.stream_id,
                ex.describe()
            );
        };
        assert_eq!(
            k.path(),
            Some(ex.target.as_str()),
            "{what}: the test bed: a fresh method's :path is a new literal, always knowable"
        );
        let found = traces.iter().find(|t| {
            t["request"]["method"] == ex.method.as_str()
                && t["request"]["target"] == ex.target.as_str()
                && t["response"]["status"] == ex.status
                && t["client"]["port"] == s.client_port
        });
        let Some(t) = found else {
            problems.push(format!(
                "{} was first called after the start: its method, path and status can be known, it has no trace",
                ex.describe()
            ));
            continue;
        };
        // What the client saw, where the wire lets a decoder know it.
        let grpc_known = k
            .content_type()
            .is_some_and(|c| c.starts_with("application/grpc"))
            || k.grpc_status().is_some()
            || k.grpc_message().is_some();
        let client_side = check_trace(t, ex).into_iter().filter(|p| {
            !(p.starts_with("request.host") && k.authority().is_none()
                || p.starts_with("grpc.status_code") && k.grpc_status().is_none()
                || p.starts_with("no \"grpc\" object") && !grpc_known)
        });
        // Everything knowable is there (not null, no field lacking)...
        let complete = check_against_truth(t, k, true)
            .into_iter()
            .filter(|p| p.contains(" is null, ") || p.contains(" lacks fields "));
        // ... and nothing differs from the wire.
        let right = check_against_truth(t, s, false);
        for p in client_side.chain(complete).chain(right) {
            problems.push(format!(
                "{} (first called after the start): {p}",
                ex.describe()
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{what}: {} problem(s) with methods first called after the start:\n{}\nTraces:\n{}",
        problems.len(),
        problems.join("\n"),
        summaries(traces)
    );
}

// ---------------------------------------------------------------------------------------
// The shape, as an example

/// The trace the sensor should print for exchange `ex`, whose stream on the wire was `s`:
/// the shape of this module's doc as one object (fields the checks do not look at, as
/// `ts`, are placeholders). The tests use it to show the checks accept it and reject it
/// altered; it is also the example for whoever writes the sensor's side.
pub fn ideal_trace(ex: &Exchange, s: &StreamTruth) -> Value {
    use super::text::base64_encode;
    let pairs = |fields: &Option<Vec<(String, String)>>| -> Value {
        fields
            .as_deref()
            .map(regular)
            .unwrap_or_default()
            .into_iter()
            .map(|(n, v)| serde_json::json!([n, v]))
            .collect()
    };
    let body = |size: Option<u64>, bytes: &Option<Vec<u8>>| -> Value {
        let mut m = serde_json::json!({"body_size": size, "body_truncated": false});
        if let Some(b) = bytes.as_ref().filter(|b| !b.is_empty()) {
            m["body"] = base64_encode(b).into();
            m["body_encoding"] = "base64".into();
        }
        m
    };
    let mut request = body(ex.request_body_size, &ex.request_body);
    request["method"] = ex.method.as_str().into();
    request["target"] = ex.target.as_str().into();
    request["path"] = ex.path().into();
    request["query"] = ex.query().map_or(Value::Null, Into::into);
    request["version"] = "HTTP/2".into();
    request["host"] = ex.authority.as_str().into();
    request["headers"] = pairs(&s.request);
    let mut response = body(ex.response_body_size, &ex.response_body);
    response["status"] = ex.status.into();
    response["headers"] = pairs(&s.response);
    if s.trailers.is_some() {
        response["trailers"] = pairs(&s.trailers);
    }
    let mut t = serde_json::json!({
        "ts": "1970-01-01T00:00:00.000000Z",
        "duration_us": 0,
        "client": {"ip": "127.0.0.1", "port": s.client_port},
        "server": {"ip": "127.0.0.1", "port": s.server_port},
        "request": request,
        "response": response,
    });
    if let Some(g) = &ex.grpc {
        t["grpc"] = serde_json::json!({
            "service": g.service,
            "method": g.method,
            "status_code": g.status_code,
            "status_message": g.status_message,
            "request_messages": ex.request_messages,
            "response_messages": ex.response_messages,
        });
    }
    t
}

/// What a mid-connection trace may honestly say of `ex`/`s` when nothing of its request but
/// the method could be known: path and target null, flagged, its request headers counted
/// as unknown.
pub fn partial_trace(ex: &Exchange, s: &StreamTruth) -> Value {
    let mut t = ideal_trace(ex, s);
    let n = t["request"]["headers"].as_array().map_or(0, Vec::len);
    for k in ["target", "path", "query", "host"] {
        t["request"][k] = Value::Null;
    }
    t["request"]["headers"] = serde_json::json!([]);
    t["request"][HEADERS_UNKNOWN] = (n + 2).into();
    t[PARTIAL] = true.into();
    t
}
