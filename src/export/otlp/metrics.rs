//! The stats line's counters as one OTLP/HTTP JSON
//! `ExportMetricsServiceRequest`, for the satellite's `/v1/metrics`: each
//! counter a cumulative monotonic sum `pcap_sensor.<counter>` (from the
//! sensor's start), each level (peak RSS, the queue, the spool) a gauge.
//!
//! The body is written into one buffer sized at start-up for the largest
//! values the counters can take, so writing it every `--stats-interval`
//! allocates nothing. Only the latest body is kept: the sums are cumulative,
//! so a body that could not leave is made up for by the next one.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::{Resource, resource_and_scope};
use crate::json::put_u64;

/// What a stats line's field is, as a metric.
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Kind {
    /// A count since the start: a cumulative monotonic sum.
    Count,
    /// A level now (or a peak): a gauge.
    Level,
}

/// Every field of the stats line: its kind and its unit (UCUM, with
/// annotations in braces for things counted). A field not listed here is
/// sent as a count of unit "1" (the unit test says so before that happens).
pub fn kind_unit(field: &str) -> (Kind, &'static str) {
    use Kind::*;
    match field {
        "bytes" => (Count, "By"),
        "packets" | "kernel_drops" | "if_drops" | "non_tcp" | "ip_fragments" | "malformed"
        | "snaplen_cut" => (Count, "{packets}"),
        "flows_opened" | "flows_evicted" | "flows_timed_out" | "non_http_flows" | "tls_flows"
        | "http2_flows" | "tunnels" | "h2_connections" | "h2_skipped" => (Count, "{connections}"),
        "h2_streams" => (Count, "{streams}"),
        "h2_resets" => (Count, "{frames}"),
        "h2_headers_unknown" => (Count, "{fields}"),
        "endpoint_evictions" => (Count, "{endpoints}"),
        "traces"
        | "requests_without_response"
        | "exported"
        | "export_dropped"
        | "export_truncated"
        | "spooled"
        | "replayed"
        | "spool_dropped"
        | "malformed_requests"
        | "traces_new_endpoint"
        | "traces_new_error"
        | "traces_fair_share" => (Count, "{traces}"),
        "orphan_responses" => (Count, "{responses}"),
        "filtered" | "rate_limited" => (Count, "{exchanges}"),
        "truncated_bodies" | "decode_errors" => (Count, "{bodies}"),
        "parse_errors" => (Count, "{errors}"),
        "pool_exhausted" => (Count, "{events}"),
        "gaps" => (Count, "{gaps}"),
        "export_batches" => (Count, "{batches}"),
        "export_failures" => (Count, "{attempts}"),
        "metrics_failures" => (Count, "{exports}"),
        "spool_corrupt" => (Count, "{files}"),
        "export_queued" => (Level, "{traces}"),
        "endpoints_known" => (Level, "{endpoints}"),
        "spool_bytes" => (Level, "By"),
        "peak_rss_kb" => (Level, "KiBy"),
        _ => (Count, "1"),
    }
}

/// Nanoseconds since the epoch, now.
pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

pub struct Metrics {
    /// The body, up to and including `"metrics":[`.
    prefix: Vec<u8>,
    /// The latest body; its capacity fixed at start-up.
    body: Vec<u8>,
    /// When the sums began: the sensor's start.
    start_ns: u64,
    /// `body` has not left yet.
    pub pending: bool,
    /// The satellite's `/v1/metrics` (path and query).
    pub path: String,
    /// The last attempt failed (its reason is logged once per streak).
    pub failing: bool,
    /// After a request that failed once sent (timed out, reset: it may
    /// have held the capture thread for its whole timeout), none is tried
    /// before this; the wait doubles while it goes on.
    pub hold: Option<Instant>,
    pub backoff: Duration,
}

/// The first wait after a metrics request failed once sent...
pub const HOLD_FIRST: Duration = Duration::from_secs(60);
/// ...and the longest.
pub const HOLD_MAX: Duration = Duration::from_secs(16 * 60);

impl Metrics {
    /// For the stats lines whose fields are `names` (the values at start-up
    /// are not looked at: the buffer is sized for the largest), posted to
    /// `path`.
    pub fn new(res: &Resource, names: &[(&'static str, u64)], path: String) -> Metrics {
        let mut prefix = Vec::with_capacity(1024);
        prefix.extend_from_slice(b"{\"resourceMetrics\":[");
        resource_and_scope(&mut prefix, res, "scopeMetrics", "metrics");
        let mut m = Metrics {
            prefix,
            body: Vec::new(),
            start_ns: now_ns(),
            pending: false,
            path,
            failing: false,
            hold: None,
            backoff: HOLD_FIRST,
        };
        let largest: Vec<(&'static str, u64)> = names.iter().map(|&(k, _)| (k, u64::MAX)).collect();
        m.write(&largest, u64::MAX);
        m.body.shrink_to_fit();
        m.body.clear();
        m
    }

    /// Bytes reserved (the body and its prefix).
    pub fn reserved(&self) -> usize {
        self.prefix.capacity() + self.body.capacity()
    }

    /// The body last written.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// Write the body for a stats line's `fields`, taken at `now_ns`.
    pub fn write(&mut self, fields: &[(&'static str, u64)], now_ns: u64) {
        let b = &mut self.body;
        b.clear();
        b.extend_from_slice(&self.prefix);
        for &(name, value) in fields {
            debug_assert!(name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_'));
            let (kind, unit) = kind_unit(name);
            b.extend_from_slice(b"{\"name\":\"pcap_sensor.");
            b.extend_from_slice(name.as_bytes());
            b.extend_from_slice(b"\",\"unit\":\"");
            b.extend_from_slice(unit.as_bytes());
            b.extend_from_slice(match kind {
                Kind::Count => b"\",\"sum\":{\"dataPoints\":[{\"startTimeUnixNano\":\"",
                Kind::Level => b"\",\"gauge\":{\"dataPoints\":[{",
            });
            if kind == Kind::Count {
                put_u64(b, self.start_ns.min(now_ns));
                b.extend_from_slice(b"\",");
            }
            b.extend_from_slice(b"\"timeUnixNano\":\"");
            put_u64(b, now_ns);
            b.extend_from_slice(b"\",\"asInt\":\"");
            // (an int64 on the wire)
            put_u64(b, value.min(i64::MAX as u64));
            b.extend_from_slice(match kind {
                // AGGREGATION_TEMPORALITY_CUMULATIVE
                Kind::Count => b"\"}],\"aggregationTemporality\":2,\"isMonotonic\":true}},",
                Kind::Level => b"\"}]}},",
            });
        }
        if b.last() == Some(&b',') {
            b.pop();
        }
        b.extend_from_slice(b"]}]}]}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::otlp::Value;
    use crate::stats::{SpoolStats, Stats};

    fn resource() -> Resource {
        Resource {
            attrs: vec![
                ("service.name", Value::Str("svc".into())),
                ("x", Value::Int(3)),
            ],
        }
    }

    /// Every field of the stats line (with a spool) has a kind and a unit of
    /// its own: a new counter must say what it is before it is sent.
    #[test]
    fn every_field_has_a_kind_and_unit() {
        let st = Stats {
            spool: Some(SpoolStats::default()),
            ..Stats::default()
        };
        for (name, _) in st.fields() {
            assert_ne!(kind_unit(name).1, "1", "{name} has no unit in kind_unit");
        }
        for level in ["peak_rss_kb", "export_queued", "spool_bytes"] {
            assert_eq!(kind_unit(level).0, Kind::Level, "{level}");
        }
    }

    /// The body parses as JSON with one metric per field, named, typed and
    /// valued as the stats line says; writing it again allocates nothing.
    #[test]
    fn body_is_the_stats_line() {
        let st = Stats {
            packets: 12,
            bytes: 3400,
            peak_rss_kb: 9000,
            export_queued: 5,
            ..Stats::default()
        };
        let fields = st.fields();
        let mut m = Metrics::new(&resource(), &fields, "/v1/metrics".into());
        let cap = m.body.capacity();
        m.write(&fields, 2_000_000_000_000_000_000);
        m.write(&fields, 2_000_000_000_000_000_000);
        assert_eq!(m.body.capacity(), cap, "the buffer grew");
        let v: serde_json::Value = serde_json::from_slice(m.body()).unwrap();
        let rm = &v["resourceMetrics"][0];
        assert_eq!(rm["resource"]["attributes"][0]["key"], "service.name");
        let sm = &rm["scopeMetrics"][0];
        assert_eq!(sm["scope"]["name"], "pcap-sensor");
        let metrics = sm["metrics"].as_array().unwrap();
        assert_eq!(metrics.len(), fields.len());
        let by_name = |n: &str| {
            metrics
                .iter()
                .find(|m| m["name"] == format!("pcap_sensor.{n}"))
                .unwrap_or_else(|| panic!("no {n}"))
        };
        let packets = by_name("packets");
        assert_eq!(packets["unit"], "{packets}");
        assert_eq!(packets["sum"]["aggregationTemporality"], 2);
        assert_eq!(packets["sum"]["isMonotonic"], true);
        let p = &packets["sum"]["dataPoints"][0];
        assert_eq!(p["asInt"], "12");
        assert_eq!(p["timeUnixNano"], "2000000000000000000");
        let start: u64 = p["startTimeUnixNano"].as_str().unwrap().parse().unwrap();
        assert!(start > 0 && start <= 2_000_000_000_000_000_000);
        let rss = by_name("peak_rss_kb");
        assert_eq!(rss["unit"], "KiBy");
        assert_eq!(rss["gauge"]["dataPoints"][0]["asInt"], "9000");
        assert!(rss["gauge"]["dataPoints"][0]["startTimeUnixNano"].is_null());
        assert_eq!(by_name("bytes")["sum"]["dataPoints"][0]["asInt"], "3400");
        assert_eq!(
            by_name("export_queued")["gauge"]["dataPoints"][0]["asInt"],
            "5"
        );
    }
}
