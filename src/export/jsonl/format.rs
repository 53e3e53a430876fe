//! The JSON Lines form of a trace (the `--out` format): one object per
//! exchange, on one line.

use std::net::IpAddr;

use crate::json::{json_str, put_ip, put_u64, str_pairs, write_rfc3339};
use crate::view::{Body, View, body_str};

/// Append the exchange as one JSON line (the `--out` format).
pub fn write_json(out: &mut Vec<u8>, v: &View) {
    out.extend_from_slice(b"{\"ts\":\"");
    write_rfc3339(out, v.start_us);
    out.extend_from_slice(b"\",\"duration_us\":");
    put_u64(out, v.end_us.saturating_sub(v.start_us));
    out.extend_from_slice(b",\"client\":");
    endpoint(out, v.client);
    out.extend_from_slice(b",\"server\":");
    endpoint(out, v.server);
    let r = &v.req;
    out.extend_from_slice(b",\"request\":{\"method\":");
    json_str(out, r.method.as_bytes());
    out.extend_from_slice(b",\"target\":");
    json_str(out, r.target);
    out.extend_from_slice(b",\"path\":");
    json_str(out, r.path);
    out.extend_from_slice(b",\"query\":");
    json_opt(out, r.query);
    match r.odd_version {
        None => {
            out.extend_from_slice(b",\"version\":\"HTTP/1.");
            put_u64(out, r.version as u64);
            out.push(b'"');
        }
        // A malformed request line's version as seen; null when it had none.
        Some(v) => {
            out.extend_from_slice(b",\"version\":");
            json_opt(out, Some(v.as_bytes()).filter(|v| !v.is_empty()));
        }
    }
    out.extend_from_slice(b",\"host\":");
    json_opt(out, r.host);
    out.extend_from_slice(b",\"headers\":");
    str_pairs(out, r.headers);
    json_body(out, &r.body);
    if r.malformed {
        out.extend_from_slice(b",\"malformed\":true");
    }
    out.extend_from_slice(b"},\"response\":");
    match &v.resp {
        Some(p) => {
            out.extend_from_slice(b"{\"status\":");
            put_u64(out, p.status as u64);
            out.extend_from_slice(b",\"reason\":");
            json_str(out, p.reason.as_bytes());
            out.extend_from_slice(b",\"version\":\"HTTP/1.");
            put_u64(out, p.version as u64);
            out.extend_from_slice(b"\",\"headers\":");
            str_pairs(out, p.headers);
            json_body(out, &p.body);
            out.push(b'}');
        }
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b"}\n");
}

fn endpoint(out: &mut Vec<u8>, (ip, port): (IpAddr, u16)) {
    out.extend_from_slice(b"{\"ip\":\"");
    put_ip(out, ip);
    out.extend_from_slice(b"\",\"port\":");
    put_u64(out, port as u64);
    out.push(b'}');
}

fn json_body(out: &mut Vec<u8>, b: &Body) {
    out.extend_from_slice(b",\"body\":");
    body_str(out, b);
    out.extend_from_slice(if b.text {
        b",\"body_encoding\":\"utf8\",\"body_size\":"
    } else {
        b",\"body_encoding\":\"base64\",\"body_size\":"
    });
    put_u64(out, b.size);
    out.extend_from_slice(if b.truncated {
        b",\"body_truncated\":true"
    } else {
        b",\"body_truncated\":false"
    });
    if b.decode_error {
        out.extend_from_slice(b",\"body_decode_error\":true");
    }
    if b.omitted {
        out.extend_from_slice(b",\"body_omitted\":true");
    }
}

fn json_opt(out: &mut Vec<u8>, v: Option<&[u8]>) {
    match v {
        Some(v) => json_str(out, v),
        None => out.extend_from_slice(b"null"),
    }
}
