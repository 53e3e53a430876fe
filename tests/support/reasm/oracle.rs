//! The oracle of the reassembly properties: the trace each generated exchange must give
//! (`expect_json`, from the conversation's own model, never from the sensor's code), and the
//! checks of what came out: exactly these exchanges in order (with times, when asked), or, after
//! losses, every exchange that touched no lost byte exactly and in order and nothing invented
//! (`affected` says which exchanges a loss may spoil). Failure messages say where the traces
//! first differ.

use serde_json::{Value, json};

use crate::support::packet::FIN;
use crate::support::pipeline::Outcome;
use crate::support::reasm::conversation::{Conv, Exch, ip_of};
use crate::support::reasm::segments::Pkt;
use crate::support::text::{
    base64_decode as b64_decode, base64_encode as b64, rfc3339_from_micros as rfc3339,
};

/// A body as a trace shows it: the text, or base64 when it is not UTF-8.
fn body_json(body: &[u8]) -> (Value, &'static str) {
    match std::str::from_utf8(body) {
        Ok(s) => (json!(s), "utf8"),
        Err(_) => (json!(b64(body)), "base64"),
    }
}

/// The body bytes a trace message shows.
fn shown_body(m: &Value) -> Option<Vec<u8>> {
    let b = m.get("body")?.as_str()?;
    match m.get("body_encoding")?.as_str()? {
        "utf8" => Some(b.as_bytes().to_vec()),
        "base64" => b64_decode(b),
        _ => None,
    }
}

/// Headers as a trace lists them: `[[name, value], ...]`.
fn headers_json(hs: &[(String, String)]) -> Value {
    Value::Array(hs.iter().map(|(n, v)| json!([n, v])).collect())
}

/// The trace for exchange `e`, without `ts` and `duration_us`.
pub fn expect_json(c: &Conv, e: &Exch) -> Value {
    let (qb, qenc) = body_json(&e.req_body);
    let (rb, renc) = body_json(&e.resp_body);
    let (path, query) = match e.target.find('?') {
        Some(q) => (&e.target[..q], Some(&e.target[q + 1..])),
        None => (&e.target[..], None),
    };
    let host = e
        .req_headers
        .iter()
        .find(|(n, _)| n == "Host")
        .map(|(_, v)| v.clone());
    json!({
        "client": {"ip": ip_of(&c.spec, 0).to_string(), "port": c.spec.ports[0]},
        "server": {"ip": ip_of(&c.spec, 1).to_string(), "port": c.spec.ports[1]},
        "request": {
            "method": e.method, "target": e.target, "path": path, "query": query,
            "version": format!("HTTP/1.{}", e.req_version), "host": host,
            "headers": headers_json(&e.req_headers),
            "body": qb, "body_encoding": qenc, "body_size": e.req_body.len(),
            "body_truncated": false,
        },
        "response": {
            "status": e.status, "reason": e.reason,
            "version": format!("HTTP/1.{}", e.resp_version),
            "headers": headers_json(&e.resp_headers),
            "body": rb, "body_encoding": renc, "body_size": e.resp_body.len(),
            "body_truncated": false,
        },
    })
}

/// A trace without `ts` and `duration_us`.
pub fn without_times(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("ts");
        o.remove("duration_us");
    }
    v
}

/// Where two JSON values first differ, for messages.
pub fn first_diff(a: &Value, b: &Value, path: &str) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys()) {
                let (p, q) = (x.get(k), y.get(k));
                match (p, q) {
                    (Some(p), Some(q)) => {
                        if let Some(d) = first_diff(p, q, &format!("{path}.{k}")) {
                            return Some(d);
                        }
                    }
                    _ => return Some(format!("{path}.{k}: {p:?} vs {q:?}")),
                }
            }
            None
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (p, q))| first_diff(p, q, &format!("{path}[{i}]"))),
        _ if a == b => None,
        _ => {
            let s = |v: &Value| {
                let t = v.to_string();
                if t.len() > 300 {
                    format!("{}… ({} chars)", &t[..t.floor_char_boundary(300)], t.len())
                } else {
                    t
                }
            };
            Some(format!("{path}: expected {} but got {}", s(a), s(b)))
        }
    }
}

/// One line for a trace, for messages.
pub fn summary(v: &Value) -> String {
    let r = &v["request"];
    let s = &v["response"];
    format!(
        "{} {} → {} (req body {}{}, resp body {}{})",
        r["method"].as_str().unwrap_or("?"),
        r["target"].as_str().unwrap_or("?"),
        s["status"],
        r["body_size"],
        if r["body_truncated"] == json!(true) {
            " truncated"
        } else {
            ""
        },
        s["body_size"],
        if s["body_truncated"] == json!(true) {
            " truncated"
        } else {
            ""
        },
    )
}

/// One line per trace, numbered, for messages.
pub fn summaries(vs: &[Value]) -> String {
    vs.iter()
        .enumerate()
        .map(|(i, v)| format!("\n    [{i}] {}", summary(v)))
        .collect()
}

/// ts of the first packet (in capture order) carrying stream byte `off` of `dir`.
fn first_carrying(pkts: &[Pkt], dir: usize, off: u64) -> Option<u64> {
    pkts.iter()
        .find(|p| p.dir == dir && p.off <= off && off < p.end())
        .map(|p| p.ts)
}

/// The traces must be exactly exchanges `idx`, in order; with `times`, ts and duration too.
pub fn check_exact(
    c: &Conv,
    idx: &[usize],
    out: &Outcome,
    times: Option<&[Pkt]>,
) -> Result<(), String> {
    let exp: Vec<Value> = idx.iter().map(|&i| expect_json(c, &c.exs[i])).collect();
    let got: Vec<Value> = out.traces.iter().map(without_times).collect();
    if got.len() != exp.len() {
        return Err(format!(
            "expected {} traces:{}\n  got {}:{}",
            exp.len(),
            summaries(&exp),
            got.len(),
            summaries(&got)
        ));
    }
    for (k, (e, g)) in exp.iter().zip(&got).enumerate() {
        if let Some(d) = first_diff(e, g, "") {
            return Err(format!("trace {k} (exchange {}): {d}", idx[k]));
        }
    }
    if let Some(pkts) = times {
        for (k, &i) in idx.iter().enumerate() {
            let first = first_carrying(pkts, 0, c.req_range[i].0).unwrap();
            let e = c.resp_range[i].1;
            let mut last = first_carrying(pkts, 1, e - 1).unwrap();
            if c.exs[i].req_version == 0 {
                // Close-delimited: the response ends with the server's FIN.
                last = pkts
                    .iter()
                    .find(|p| p.dir == 1 && p.flags & FIN != 0)
                    .unwrap()
                    .ts;
            }
            let t = &out.traces[k];
            let want_ts = rfc3339(first);
            if t["ts"] != json!(want_ts) {
                return Err(format!(
                    "trace {k} (exchange {i}, {}): ts {} but the request's first packet is at {want_ts}",
                    summary(t),
                    t["ts"]
                ));
            }
            if t["duration_us"] != json!(last - first) {
                return Err(format!(
                    "trace {k} (exchange {i}, {}): duration_us {} but request's first packet → response's last is {}",
                    summary(t),
                    t["duration_us"],
                    last - first
                ));
            }
        }
    }
    Ok(())
}

/// Does byte range `r` touch any range of `lost`?
fn overlaps(r: (u64, u64), lost: &[(u64, u64)]) -> bool {
    lost.iter().any(|&(a, b)| a < r.1 && r.0 < b)
}

/// Exchanges the sensor cannot be required to get right after losing `lost`: those whose request
/// or response bytes were lost; in a pipelined batch, every exchange after a touched one (ACK
/// numbers cannot tell how many requests or responses a hole in a batch held); and the first
/// untouched exchange after such a batch (a wrong pairing inside the batch may use up its
/// response; the one after it must be found again).
pub fn affected(c: &Conv, lost: &[Vec<(u64, u64)>; 2]) -> Vec<bool> {
    let n = c.exs.len();
    let mut affected = vec![false; n];
    let mut batch_hit = false;
    for i in 0..n {
        let same_batch = i > 0 && c.pipelined[i] && c.item_of[i] == c.item_of[i - 1];
        affected[i] = overlaps(c.req_range[i], &lost[0])
            || overlaps(c.resp_range[i], &lost[1])
            || (same_batch && affected[i - 1]);
        if !affected[i] && batch_hit && !same_batch {
            affected[i] = true;
            batch_hit = false;
        } else if affected[i] && c.pipelined[i] {
            batch_hit = true;
        }
    }
    affected
}

/// After losses: every exchange not `affected` comes out exactly and in order; nothing is
/// invented: every request shown was sent, and a body not flagged truncated is one that was sent.
pub fn check_lossy(
    c: &Conv,
    lost: &[Vec<(u64, u64)>; 2],
    need_gap: bool,
    out: &Outcome,
) -> Result<(), String> {
    let n = c.exs.len();
    let affected = affected(c, lost);
    let got: Vec<Value> = out.traces.iter().map(without_times).collect();
    let mut used = vec![false; got.len()];
    let mut at = 0;
    for i in (0..n).filter(|&i| !affected[i]) {
        let want = expect_json(c, &c.exs[i]);
        match (at..got.len()).find(|&k| got[k] == want) {
            Some(k) => {
                used[k] = true;
                at = k + 1;
            }
            None => {
                let near = got
                    .iter()
                    .filter(|g| g["request"]["target"] == want["request"]["target"])
                    .filter_map(|g| first_diff(&want, g, ""))
                    .next()
                    .unwrap_or_else(|| "no trace with that target".into());
                return Err(format!(
                    "exchange {i} ({}) does not touch lost bytes but is missing or wrong after trace {at}: {near}\n  affected: {:?}\n  got:{}",
                    summary(&want),
                    (0..n).filter(|&i| affected[i]).collect::<Vec<_>>(),
                    summaries(&got)
                ));
            }
        }
    }
    // The others: requests and responses that exist, bodies that are right unless flagged truncated.
    for (k, g) in got.iter().enumerate().filter(|(k, _)| !used[*k]) {
        let r = &g["request"];
        let cand: Vec<&Exch> = c
            .exs
            .iter()
            .filter(|e| r["method"] == json!(e.method) && r["target"] == json!(e.target))
            .collect();
        if cand.is_empty() {
            return Err(format!("trace {k} invents a request: {}", summary(g)));
        }
        if r["body_truncated"] == json!(false)
            && !cand.iter().any(|e| {
                shown_body(r).as_deref() == Some(&e.req_body[..])
                    && r["body_size"] == json!(e.req_body.len())
            })
        {
            return Err(format!(
                "trace {k} shows a request body that was never sent and is not flagged truncated: {}",
                summary(g)
            ));
        }
        // A response paired with a HEAD request has no body, whichever response it was.
        let head = r["method"] == json!("HEAD");
        let s = &g["response"];
        if !s.is_null()
            && s["body_truncated"] == json!(false)
            && !c.exs.iter().any(|e| {
                s["status"] == json!(e.status)
                    && if head {
                        s["body_size"] == json!(0)
                    } else {
                        shown_body(s).as_deref() == Some(&e.resp_body[..])
                            && s["body_size"] == json!(e.resp_body.len())
                    }
            })
        {
            return Err(format!(
                "trace {k} shows a response that was never sent and is not flagged truncated: {}",
                summary(g)
            ));
        }
    }
    if need_gap && out.stats.gaps == 0 {
        return Err("bytes were lost but stats.gaps is 0".into());
    }
    Ok(())
}

/// Which connection a trace belongs to (by client port); its request must be that connection's,
/// and its response, when there is one, too (truncated bodies excepted).
pub fn owner(convs: &[Conv], t: &Value) -> Result<usize, String> {
    let port = t["client"]["port"].as_u64().ok_or("no client port")?;
    let i = (port as usize)
        .checked_sub(10_000)
        .filter(|&i| i < convs.len())
        .ok_or_else(|| format!("trace of an unknown connection: {t}"))?;
    let want = expect_json(&convs[i], &convs[i].exs[0]);
    let got = without_times(t);
    if let Some(d) = first_diff(&want["request"], &got["request"], "request") {
        return Err(format!("connection {i}: {d}"));
    }
    let r = &got["response"];
    if !r.is_null() {
        if r["status"] != want["response"]["status"] {
            return Err(format!("connection {i}: response of another exchange: {t}"));
        }
        if r["body_truncated"] == json!(false)
            && let Some(d) = first_diff(&want["response"], r, "response")
        {
            return Err(format!("connection {i}: {d}"));
        }
    }
    Ok(i)
}

/// The traces and the counters of a run, for messages.
pub fn show(out: &Outcome) -> String {
    format!("{}\n  stats: {}", summaries(&out.traces), out.stats.line())
}

/// The trace for `target`, if exactly one.
pub fn trace_for<'a>(out: &'a Outcome, target: &str) -> Option<&'a Value> {
    let v: Vec<&Value> = out
        .traces
        .iter()
        .filter(|t| t["request"]["target"] == json!(target))
        .collect();
    (v.len() == 1).then(|| v[0])
}
