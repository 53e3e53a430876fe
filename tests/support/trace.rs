//! Reading what the sensor prints: its stats lines (`key=value` words), the
//! "memory ceiling N bytes" start line, and the JSON Lines traces (headers,
//! bodies, a one-line summary for failure messages).

use super::text::base64_decode;
use serde_json::Value;
use std::collections::BTreeMap;

/// Parses the `key=value` words of a stats line (values that are not
/// integers are left out).
pub fn parse_stats(line: &str) -> BTreeMap<String, u64> {
    line.split_whitespace()
        .filter_map(|w| w.split_once('='))
        .filter_map(|(k, v)| v.parse().ok().map(|v| (k.to_string(), v)))
        .collect()
}

/// The counters of the `final stats` line among `lines`, if there is one.
pub fn final_stats<'a>(lines: impl IntoIterator<Item = &'a str>) -> Option<BTreeMap<String, u64>> {
    lines
        .into_iter()
        .find(|l| l.contains("final stats"))
        .map(parse_stats)
}

/// Counter `key` of a final stats map; panics with the sensor's stderr when
/// the line lacks it.
pub fn stat(stats: &BTreeMap<String, u64>, key: &str, stderr: &[String]) -> u64 {
    match stats.get(key) {
        Some(v) => *v,
        None => panic!(
            "final stats line has no '{key}'\nstderr:\n{}",
            stderr.join("\n")
        ),
    }
}

/// The N of a "memory ceiling N bytes" line (printed at start).
pub fn parse_memory_ceiling(line: &str) -> Option<u64> {
    line.split("memory ceiling")
        .nth(1)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// First value of header `name` (case-insensitive) in a `[[name, value]]` list.
pub fn header<'a>(headers: &'a Value, name: &str) -> Option<&'a str> {
    headers.as_array()?.iter().find_map(|h| {
        let (n, v) = (h.get(0)?.as_str()?, h.get(1)?.as_str()?);
        n.eq_ignore_ascii_case(name).then_some(v)
    })
}

/// The headers as (name, value) pairs, in order.
pub fn header_pairs(headers: &Value) -> Vec<(String, String)> {
    headers
        .as_array()
        .unwrap_or_else(|| panic!("headers is not a list: {headers}"))
        .iter()
        .map(|h| {
            (
                h[0].as_str().unwrap_or_default().to_string(),
                h[1].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// The kept body bytes of a request or response object (utf8 or base64).
pub fn body_bytes(msg: &Value) -> Vec<u8> {
    let body = msg["body"].as_str().unwrap_or("");
    match msg["body_encoding"].as_str() {
        Some("base64") => {
            base64_decode(body).unwrap_or_else(|| panic!("body is not base64: {body:?}"))
        }
        Some("utf8") | None => body.as_bytes().to_vec(),
        Some(other) => panic!("unknown body_encoding {other:?}"),
    }
}

/// One line per trace: method target -> status, sizes, endpoints.
pub fn summarize(t: &Value) -> String {
    let req = &t["request"];
    let resp = &t["response"];
    format!(
        "{} {} {} -> {} req_body_size={} resp_body_size={} resp_truncated={} client={}:{} server={}:{}",
        t["ts"],
        req["method"],
        req["target"],
        resp.get("status").unwrap_or(&Value::Null),
        req["body_size"],
        resp.get("body_size").unwrap_or(&Value::Null),
        resp.get("body_truncated").unwrap_or(&Value::Null),
        t["client"]["ip"],
        t["client"]["port"],
        t["server"]["ip"],
        t["server"]["port"],
    )
}
