//! Log lines on stderr: one line per event, as text or (for CloudWatch) JSON.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

static JSON: AtomicBool = AtomicBool::new(false);

pub fn set_json(on: bool) {
    JSON.store(on, Ordering::Relaxed);
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// Write one event. `fields` are extra `key=value` pairs (values are numbers).
pub fn event(level: &str, msg: &str, fields: &[(&str, u64)]) {
    let mut line = Vec::with_capacity(256);
    if JSON.load(Ordering::Relaxed) {
        line.extend_from_slice(b"{\"ts\":\"");
        crate::json::write_rfc3339(&mut line, now_us());
        let _ = write!(line, "\",\"level\":\"{level}\",\"msg\":");
        crate::json::json_str(&mut line, msg.as_bytes());
        for (k, v) in fields {
            let _ = write!(line, ",\"{k}\":{v}");
        }
        line.extend_from_slice(b"}\n");
    } else {
        line.extend_from_slice(b"pcap-sensor: ");
        if level != "info" {
            let _ = write!(line, "{level}: ");
        }
        line.extend_from_slice(msg.as_bytes());
        for (k, v) in fields {
            let _ = write!(line, " {k}={v}");
        }
        line.push(b'\n');
    }
    let _ = std::io::stderr().write_all(&line);
}

pub fn info(msg: &str) {
    event("info", msg, &[]);
}

pub fn warn(msg: &str) {
    event("warning", msg, &[]);
}

pub fn error(msg: &str) {
    event("error", msg, &[]);
}
