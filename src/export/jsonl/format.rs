//! The JSON Lines form of a trace (the `--out` format): one object per
//! exchange, on one line.

use std::net::IpAddr;

use crate::http2::frame::error_code_name;
use crate::json::{json_str, put_ip, put_u64, str_pairs, write_rfc3339};
use crate::view::{Body, H2, View, body_str, version_text};

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
    let h2 = v.h2.as_ref();
    let path_unknown = h2.is_some_and(|h| h.path_unknown);
    out.extend_from_slice(b",\"request\":{\"method\":");
    if h2.is_some_and(|h| h.method_unknown) {
        out.extend_from_slice(b"null");
    } else {
        json_str(out, r.method.as_bytes());
    }
    if path_unknown {
        out.extend_from_slice(b",\"target\":null,\"path\":null,\"query\":null");
    } else {
        out.extend_from_slice(b",\"target\":");
        json_str(out, r.target);
        out.extend_from_slice(b",\"path\":");
        json_str(out, r.path);
        out.extend_from_slice(b",\"query\":");
        json_opt(out, r.query);
    }
    match r.odd_version {
        None => {
            out.extend_from_slice(b",\"version\":\"");
            out.extend_from_slice(version_text(r.version));
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
    if let Some(n) = h2.map(|h| h.req_unknown).filter(|&n| n > 0) {
        out.extend_from_slice(b",\"headers_unknown\":");
        put_u64(out, n as u64);
    }
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
            out.extend_from_slice(b",\"version\":\"");
            out.extend_from_slice(version_text(p.version));
            out.extend_from_slice(b"\",\"headers\":");
            str_pairs(out, p.headers);
            json_body(out, &p.body);
            if let Some(h) = h2 {
                if let Some(t) = h.trailers {
                    out.extend_from_slice(b",\"trailers\":");
                    str_pairs(out, t);
                }
                if h.resp_unknown > 0 {
                    out.extend_from_slice(b",\"headers_unknown\":");
                    put_u64(out, h.resp_unknown as u64);
                }
            }
            out.push(b'}');
        }
        None => out.extend_from_slice(b"null"),
    }
    if let Some(h) = h2 {
        h2_parts(out, h);
    }
    out.extend_from_slice(b"}\n");
}

/// What an HTTP/2 trace has besides HTTP/1's: the stream, gRPC, whether
/// something could not be known, how the stream was cut short.
fn h2_parts(out: &mut Vec<u8>, h: &H2) {
    out.extend_from_slice(b",\"stream_id\":");
    put_u64(out, h.stream as u64);
    if let Some(g) = &h.grpc {
        out.extend_from_slice(b",\"grpc\":{\"service\":");
        json_opt(out, g.service);
        out.extend_from_slice(b",\"method\":");
        json_opt(out, g.method);
        out.extend_from_slice(b",\"status_code\":");
        num_opt(out, g.status);
        out.extend_from_slice(b",\"status_message\":");
        json_opt(out, g.message);
        out.extend_from_slice(b",\"request_messages\":");
        num_opt(out, g.req_messages);
        out.extend_from_slice(b",\"response_messages\":");
        num_opt(out, g.resp_messages);
        out.push(b'}');
    }
    if h.partial() {
        out.extend_from_slice(b",\"partial\":true");
    }
    if let Some(r) = &h.reset {
        out.extend_from_slice(b",\"reset\":{\"by\":");
        out.extend_from_slice(if r.by_server {
            b"\"server\""
        } else {
            b"\"client\""
        });
        out.extend_from_slice(b",\"code\":");
        match error_code_name(r.code) {
            Some(name) => json_str(out, name.as_bytes()),
            None => put_u64(out, r.code as u64),
        }
        if r.goaway {
            out.extend_from_slice(b",\"goaway\":true");
        }
        out.push(b'}');
    }
}

fn num_opt(out: &mut Vec<u8>, v: Option<u32>) {
    match v {
        Some(n) => put_u64(out, n as u64),
        None => out.extend_from_slice(b"null"),
    }
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
