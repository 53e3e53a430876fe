//! OTLP/HTTP JSON export to the satellite: each trace becomes one span
//! (span.rs), spans wait in a bounded byte queue (queue.rs) and leave in
//! batches, each request body the resource's envelope around the oldest
//! spans, sent by the exporter (exporter.rs): a satellite that cannot be
//! reached is probed with connects, one that answers 429/5xx gets backoff;
//! with `--spool-dir`, batches it cannot take wait on disk (spool.rs). The
//! stats line's counters go too, as metrics with the same resource
//! (metrics.rs), between batches.

mod exporter;
mod metrics;
mod queue;
mod span;
pub mod spool;

use std::io::{self, Write};

pub use exporter::Exporter;
pub use span::write_span;
use span::{attr_int, attr_str, plain};

/// A resource attribute value.
pub enum Value {
    Str(String),
    Int(i64),
}

/// What describes the sensor and its task, sent with every batch.
pub struct Resource {
    pub attrs: Vec<(&'static str, Value)>,
}

/// A tiny PRNG for ids and jitter (not for secrets).
pub struct Rng(u64);

impl Rng {
    pub fn seeded() -> Rng {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        Rng(t ^ ((std::process::id() as u64) << 32) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        // xorshift64*
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// The start and end of every request body around the spans.
fn envelope(res: &Resource) -> (Vec<u8>, Vec<u8>) {
    let mut p = Vec::with_capacity(1024);
    p.extend_from_slice(b"{\"resourceSpans\":[");
    resource_and_scope(&mut p, res, "scopeSpans", "spans");
    (p, b"]}]}]}".to_vec())
}

/// `{"resource":{"attributes":[...]},"<scopes>":[{"scope":{...},"<items>":[`:
/// the same resource and scope for traces and metrics.
fn resource_and_scope(p: &mut Vec<u8>, res: &Resource, scopes: &str, items: &str) {
    p.extend_from_slice(b"{\"resource\":{\"attributes\":[");
    for (k, v) in &res.attrs {
        debug_assert!(plain(k.as_bytes()), "{k}");
        let key = |kind: &str| format!("{{\"key\":\"{k}\",\"value\":{{\"{kind}\":");
        match v {
            Value::Str(s) => attr_str(p, key("stringValue").as_bytes(), s.as_bytes()),
            Value::Int(i) => attr_int(p, key("intValue").as_bytes(), *i),
        }
    }
    if p.last() == Some(&b',') {
        p.pop();
    }
    let _ = write!(
        p,
        "]}},\"{scopes}\":[{{\"scope\":{{\"name\":\"pcap-sensor\",\"version\":\"{}\"}},\"{items}\":[",
        crate::cli::VERSION
    );
}

/// Write a whole request body for `spans` (tests and tools).
pub fn request_body(res: &Resource, spans: &[u8]) -> io::Result<Vec<u8>> {
    let (mut p, s) = envelope(res);
    p.extend_from_slice(spans.strip_suffix(b",").unwrap_or(spans));
    p.extend_from_slice(&s);
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_is_json() {
        let res = Resource {
            attrs: vec![
                ("service.name", Value::Str("svc".into())),
                ("x", Value::Int(3)),
            ],
        };
        let body = request_body(&res, b"").unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            v["resourceSpans"][0]["resource"]["attributes"][0]["value"]["stringValue"],
            "svc"
        );
    }
}
