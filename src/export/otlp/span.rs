//! One trace as one OTLP span: ids (or the request's `traceparent`), name,
//! times, and the attributes of the HTTP semantic conventions, written as
//! JSON straight into the caller's buffer.

use super::Rng;
use crate::json::{IpText, json_str, json_str_parts, put_u64};
use crate::view::{Header, View, body_str};

/// The start of an attribute whose key is one of ours, as one constant:
/// `{"key":"<name>","value":{"<kind>":` (OpenTelemetry names have nothing
/// to escape).
macro_rules! key {
    ($name:expr, $kind:literal) => {
        concat!("{\"key\":\"", $name, "\",\"value\":{\"", $kind, "\":").as_bytes()
    };
}

/// An attribute with a string value; `key` from `key!(…, "stringValue")`.
pub(super) fn attr_str(out: &mut Vec<u8>, key: &[u8], v: &[u8]) {
    out.extend_from_slice(key);
    json_str(out, v);
    out.extend_from_slice(b"}},");
}

/// An attribute with an integer value; `key` from `key!(…, "intValue")`.
pub(super) fn attr_int(out: &mut Vec<u8>, key: &[u8], v: i64) {
    out.extend_from_slice(key);
    out.push(b'"');
    if v < 0 {
        out.push(b'-');
    }
    put_u64(out, v.unsigned_abs());
    out.extend_from_slice(b"\"}},");
}

/// The keys of a body's attributes.
struct BodyKeys {
    body: &'static [u8],
    encoding: &'static [u8],
    size: &'static [u8],
    truncated: &'static [u8],
    decode_error: &'static [u8],
    omitted: &'static [u8],
}

macro_rules! body_keys {
    ($name:literal) => {
        BodyKeys {
            body: key!($name, "stringValue"),
            encoding: key!(concat!($name, ".encoding"), "stringValue"),
            size: key!(concat!($name, ".size"), "intValue"),
            truncated: key!(concat!($name, ".truncated"), "boolValue"),
            decode_error: key!(concat!($name, ".decode_error"), "boolValue"),
            omitted: key!(concat!($name, ".omitted"), "boolValue"),
        }
    };
}

const REQUEST_BODY: BodyKeys = body_keys!("http.request.body");
const RESPONSE_BODY: BodyKeys = body_keys!("http.response.body");

/// Printable ASCII without quote or backslash: as it is inside a JSON string.
pub(super) fn plain(s: &[u8]) -> bool {
    !s.iter().any(|&c| needs_look(c))
}

/// Not printable ASCII, or a quote or backslash (branch-free, so that loops
/// over names run as vector code).
fn needs_look(c: u8) -> bool {
    !(b' '..0x7f).contains(&c) | (c == b'"') | (c == b'\\')
}

/// The key `prefix.<lowercased name>` of a header's attribute. Header names
/// are tokens (httparse checks), so the name is looked at and copied
/// lowercased by branch-free loops; one that is not a token is escaped
/// instead. (Read from `name`, not from the copy: loading bytes just stored
/// by memcpy stalls on store forwarding.)
fn header_key(out: &mut Vec<u8>, prefix: &str, name: &[u8]) {
    let start = out.len();
    if name.iter().fold(false, |odd, &c| odd | needs_look(c)) {
        out.extend_from_slice(b"{\"key\":");
        json_str_parts(out, &[prefix.as_bytes(), name]);
        out[start..].make_ascii_lowercase();
        out.extend_from_slice(b",\"value\":");
    } else {
        out.extend_from_slice(b"{\"key\":\"");
        out.extend_from_slice(prefix.as_bytes());
        out.extend(name.iter().map(u8::to_ascii_lowercase));
        out.extend_from_slice(b"\",\"value\":");
    }
}

/// `prefix.<lowercased name>` = every value of that header, in order.
fn attr_headers(out: &mut Vec<u8>, prefix: &str, hs: &[Header<'_>]) {
    for (i, &(name, v)) in hs.iter().enumerate() {
        let same = |h: &Header<'_>| h.0.eq_ignore_ascii_case(name);
        if hs[..i].iter().any(same) {
            continue; // grouped with its first occurrence
        }
        header_key(out, prefix, name.as_bytes());
        out.extend_from_slice(b"{\"arrayValue\":{\"values\":[{\"stringValue\":");
        json_str(out, v);
        out.push(b'}');
        for (_, v) in hs[i + 1..].iter().filter(|h| same(h)) {
            out.extend_from_slice(b",{\"stringValue\":");
            json_str(out, v);
            out.push(b'}');
        }
        out.extend_from_slice(b"]}}},");
    }
}

/// `x` as sixteen lowercase hex digits.
fn hex(out: &mut Vec<u8>, x: u64) {
    const H: &[u8; 16] = b"0123456789abcdef";
    let mut d = [0u8; 16];
    for (k, c) in d.iter_mut().enumerate() {
        *c = H[(x >> (60 - 4 * k) & 15) as usize];
    }
    out.extend_from_slice(&d);
}

/// `00-<trace id>-<parent id>-<flags>` → (trace id, parent span id), lowercase hex.
fn traceparent(v: &[u8]) -> Option<(&[u8], &[u8])> {
    let v = v.trim_ascii();
    if v.len() < 55 || v[2] != b'-' || v[35] != b'-' || v[52] != b'-' {
        return None;
    }
    let (t, p) = (&v[3..35], &v[36..52]);
    let ok = |s: &[u8]| s.iter().all(|c| c.is_ascii_hexdigit()) && s.iter().any(|&c| c != b'0');
    (ok(t) && ok(p)).then_some((t, p))
}

/// Append one span (followed by a comma) for `v`, keeping at most `limit`
/// bytes of each body. Returns how many bytes the bodies' text took.
pub fn write_span(out: &mut Vec<u8>, v: &View, rng: &mut Rng, limit: usize) -> usize {
    let r = &v.req;
    out.extend_from_slice(b"{\"traceId\":\"");
    let tp = View::header(r.headers, "traceparent").and_then(traceparent);
    match tp {
        Some((t, _)) => out.extend(t.iter().map(|c| c.to_ascii_lowercase())),
        None => {
            hex(out, rng.next_u64());
            hex(out, rng.next_u64());
        }
    }
    out.extend_from_slice(b"\",\"spanId\":\"");
    hex(out, rng.next_u64());
    out.push(b'"');
    if let Some((_, p)) = tp {
        out.extend_from_slice(b",\"parentSpanId\":\"");
        out.extend(p.iter().map(|c| c.to_ascii_lowercase()));
        out.push(b'"');
    }
    out.extend_from_slice(b",\"name\":\"");
    if plain(r.method.as_bytes()) && plain(r.path) {
        out.extend_from_slice(r.method.as_bytes());
        out.push(b' ');
        out.extend_from_slice(r.path);
        out.push(b'"');
    } else {
        out.pop();
        json_str_parts(out, &[r.method.as_bytes(), b" ", r.path]);
    }
    out.extend_from_slice(b",\"kind\":2,\"startTimeUnixNano\":\"");
    put_u64(out, v.start_us.saturating_mul(1000));
    out.extend_from_slice(b"\",\"endTimeUnixNano\":\"");
    put_u64(out, v.end_us.max(v.start_us).saturating_mul(1000));
    out.extend_from_slice(b"\",\"attributes\":[");
    attr_str(
        out,
        key!("http.request.method", "stringValue"),
        r.method.as_bytes(),
    );
    attr_str(out, key!("url.path", "stringValue"), r.path);
    if let Some(q) = r.query {
        attr_str(out, key!("url.query", "stringValue"), q);
    }
    attr_str(out, key!("url.scheme", "stringValue"), b"http");
    let server_ip = IpText::new(v.server.0);
    let host = r
        .host
        .and_then(|h| std::str::from_utf8(h).ok())
        .map(crate::policy::host_without_port)
        .filter(|h| !h.is_empty());
    attr_str(
        out,
        key!("server.address", "stringValue"),
        host.map_or(server_ip.as_bytes(), str::as_bytes),
    );
    attr_int(out, key!("server.port", "intValue"), v.server.1 as i64);
    attr_str(
        out,
        key!("client.address", "stringValue"),
        IpText::new(v.client.0).as_bytes(),
    );
    attr_int(out, key!("client.port", "intValue"), v.client.1 as i64);
    attr_str(
        out,
        key!("network.peer.address", "stringValue"),
        server_ip.as_bytes(),
    );
    attr_str(out, key!("network.protocol.name", "stringValue"), b"http");
    if r.odd_version.is_none() {
        attr_str(
            out,
            key!("network.protocol.version", "stringValue"),
            if r.version == 0 { b"1.0" } else { b"1.1" },
        );
    }
    if r.malformed {
        // Not a semantic convention: what a probe or an attack looks like.
        out.extend_from_slice(key!("http.request.malformed", "boolValue"));
        out.extend_from_slice(b"true}},");
    }
    if let Some(ua) = View::header(r.headers, "user-agent") {
        attr_str(out, key!("user_agent.original", "stringValue"), ua);
    }
    attr_headers(out, "http.request.header.", r.headers);
    let mut bodies = body_attrs(out, &REQUEST_BODY, &r.body, limit);
    if let Some(p) = &v.resp {
        attr_int(
            out,
            key!("http.response.status_code", "intValue"),
            p.status as i64,
        );
        attr_headers(out, "http.response.header.", p.headers);
        bodies += body_attrs(out, &RESPONSE_BODY, &p.body, limit);
    }
    if out.last() == Some(&b',') {
        out.pop();
    }
    out.extend_from_slice(b"],\"status\":");
    match &v.resp {
        Some(p) if p.status >= 500 => out.extend_from_slice(b"{\"code\":2}"),
        _ => out.extend_from_slice(b"{}"),
    }
    out.extend_from_slice(b"},");
    bodies
}

/// The attributes of a body, its bytes cut to `limit` (at a character
/// boundary when it is text). Returns how many bytes its text took.
fn body_attrs(out: &mut Vec<u8>, keys: &BodyKeys, b: &crate::view::Body, limit: usize) -> usize {
    let mut b = *b;
    if b.bytes.len() > limit {
        let mut n = limit;
        while b.text && n > 0 && b.bytes[n] & 0xc0 == 0x80 {
            n -= 1;
        }
        b.bytes = &b.bytes[..n];
        b.truncated = true;
    }
    let mut text = 0;
    if !b.bytes.is_empty() {
        out.extend_from_slice(keys.body);
        let at = out.len();
        body_str(out, &b);
        text = out.len() - at;
        out.extend_from_slice(b"}},");
        if !b.text {
            attr_str(out, keys.encoding, b"base64");
        }
    }
    attr_int(out, keys.size, b.size as i64);
    if b.truncated {
        out.extend_from_slice(keys.truncated);
        out.extend_from_slice(b"true}},");
    }
    if b.decode_error {
        out.extend_from_slice(keys.decode_error);
        out.extend_from_slice(b"true}},");
    }
    if b.omitted {
        out.extend_from_slice(keys.omitted);
        out.extend_from_slice(b"true}},");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_parsing() {
        let tp = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let (t, p) = traceparent(tp).unwrap();
        assert_eq!(t, b"4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(p, b"00f067aa0ba902b7");
        assert!(traceparent(b"00-00000000000000000000000000000000-00f067aa0ba902b7-01").is_none());
        assert!(traceparent(b"garbage").is_none());
    }

    fn body(bytes: &[u8], text: bool) -> crate::view::Body<'_> {
        crate::view::Body {
            bytes,
            size: bytes.len() as u64,
            wire_size: bytes.len() as u64,
            truncated: !text,
            decode_error: !text,
            omitted: false,
            text,
        }
    }

    /// One span, parsed back: every attribute as key -> value object.
    fn span_of(
        v: &View,
    ) -> (
        serde_json::Value,
        std::collections::HashMap<String, serde_json::Value>,
    ) {
        let mut out = Vec::new();
        write_span(&mut out, v, &mut Rng(7), usize::MAX);
        assert_eq!(out.pop(), Some(b','));
        let span: serde_json::Value = serde_json::from_slice(&out).unwrap();
        let mut attrs = std::collections::HashMap::new();
        for a in span["attributes"].as_array().unwrap() {
            let k = a["key"].as_str().unwrap().to_string();
            assert!(attrs.insert(k, a["value"].clone()).is_none(), "{a}");
        }
        (span, attrs)
    }

    /// The attribute keys written as constants, the headers' keys written
    /// by copying and the name written straight: the same JSON as escaping
    /// everything would give, and the escaping still taken where it is needed.
    #[test]
    fn span_keys_and_values() {
        use crate::view::{Req, Resp};
        let headers: &[crate::view::Header] = &[
            ("Host", b"example.com:8080"),
            ("X-Dup", b"one"),
            ("x-dup", b"two \"quoted\""),
            ("Odd\"Name", b"v"),
        ];
        let resp_headers: &[crate::view::Header] = &[("Content-Type", b"application/octet-stream")];
        let mut v = View {
            start_us: 1_700_000_000_123_456,
            end_us: 1_700_000_000_223_456,
            client: ("10.0.0.1".parse().unwrap(), 40000),
            server: ("fe80::1".parse().unwrap(), 8080),
            req: Req {
                method: "POST",
                target: b"/a/b?x=1",
                path: b"/a/b",
                query: Some(b"x=1"),
                version: 1,
                odd_version: None,
                malformed: false,
                host: Some(b"example.com:8080"),
                headers,
                body: body("{\"k\": \"\u{e9}\"}".as_bytes(), true),
            },
            resp: Some(Resp {
                status: 503,
                reason: "Service Unavailable",
                version: 1,
                headers: resp_headers,
                body: body(&[0, 159, 146, 150], false),
            }),
        };
        let (span, a) = span_of(&v);
        assert_eq!(span["name"], "POST /a/b");
        assert_eq!(span["kind"], 2);
        assert_eq!(span["startTimeUnixNano"], "1700000000123456000");
        assert_eq!(span["endTimeUnixNano"], "1700000000223456000");
        assert_eq!(span["status"]["code"], 2);
        assert_eq!(span["traceId"].as_str().unwrap().len(), 32);
        assert_eq!(span["spanId"].as_str().unwrap().len(), 16);
        let s = |k: &str| a[k]["stringValue"].as_str().unwrap().to_string();
        let i = |k: &str| a[k]["intValue"].as_str().unwrap().to_string();
        assert_eq!(s("http.request.method"), "POST");
        assert_eq!(s("url.path"), "/a/b");
        assert_eq!(s("url.query"), "x=1");
        assert_eq!(s("url.scheme"), "http");
        assert_eq!(s("server.address"), "example.com");
        assert_eq!(i("server.port"), "8080");
        assert_eq!(s("client.address"), "10.0.0.1");
        assert_eq!(i("client.port"), "40000");
        assert_eq!(s("network.peer.address"), "fe80::1");
        assert_eq!(s("network.protocol.version"), "1.1");
        assert_eq!(i("http.response.status_code"), "503");
        // Headers: lowercased keys, values of one name together in order.
        let values = |k: &str| a[k]["arrayValue"]["values"].clone();
        assert_eq!(
            values("http.request.header.x-dup"),
            serde_json::json!([{"stringValue": "one"}, {"stringValue": "two \"quoted\""}])
        );
        assert_eq!(
            values("http.request.header.odd\"name"),
            serde_json::json!([{"stringValue": "v"}])
        );
        assert_eq!(
            values("http.response.header.content-type"),
            serde_json::json!([{"stringValue": "application/octet-stream"}])
        );
        // Bodies: text as it is, bytes in base64, with their flags.
        assert_eq!(s("http.request.body"), "{\"k\": \"\u{e9}\"}");
        assert_eq!(i("http.request.body.size"), "11");
        assert!(!a.contains_key("http.request.body.encoding"));
        assert!(!a.contains_key("http.request.body.truncated"));
        assert_eq!(s("http.response.body"), "AJ+Slg==");
        assert_eq!(s("http.response.body.encoding"), "base64");
        assert_eq!(i("http.response.body.size"), "4");
        assert_eq!(a["http.response.body.truncated"]["boolValue"], true);
        assert_eq!(a["http.response.body.decode_error"]["boolValue"], true);

        // A name that needs escaping (a quote in the path, bytes that are
        // not UTF-8) goes the escaping way.
        v.req.method = "GET";
        v.req.path = b"/q\"\xe9";
        v.resp = None;
        let (span, a) = span_of(&v);
        assert_eq!(span["name"], "GET /q\"\u{e9}");
        assert_eq!(a["url.path"]["stringValue"], "/q\"\u{e9}");
        assert_eq!(span["status"], serde_json::json!({}));
        assert!(!a.contains_key("http.response.status_code"));
    }

    /// Bodies cut to a limit: text at a character boundary (never half of
    /// one), bytes anywhere; both marked truncated, sizes unchanged.
    #[test]
    fn bodies_cut_to_a_limit() {
        let text = "é".repeat(10);
        let bytes = [0xffu8; 20];
        for limit in 0..24 {
            let mut out = Vec::new();
            let t = body_attrs(&mut out, &REQUEST_BODY, &body(text.as_bytes(), true), limit);
            let b = body_attrs(&mut out, &RESPONSE_BODY, &body(&bytes, false), limit);
            out.pop();
            let v: serde_json::Value =
                serde_json::from_slice(&[b"[", &out[..], b"]"].concat()).unwrap();
            let a: std::collections::HashMap<_, _> = v
                .as_array()
                .unwrap()
                .iter()
                .map(|a| (a["key"].as_str().unwrap().to_string(), a["value"].clone()))
                .collect();
            let kept = |k: &str| a.get(k).map_or("", |v| v["stringValue"].as_str().unwrap());
            let want = "é".repeat(limit.min(20) / 2);
            assert_eq!(kept("http.request.body"), want, "{limit}");
            assert_eq!(t, if want.is_empty() { 0 } else { want.len() + 2 });
            assert_eq!(a["http.request.body.size"]["intValue"], "20");
            let mut want = Vec::new();
            crate::json::base64(&mut want, &bytes[..limit.min(20)]);
            assert_eq!(kept("http.response.body").as_bytes(), want, "{limit}");
            assert!(b > 0 || limit == 0);
            assert_eq!(a["http.response.body.size"]["intValue"], "20");
            // Marked truncated when cut (the binary one always is, here).
            assert_eq!(
                a.contains_key("http.request.body.truncated"),
                limit < 20,
                "{limit}"
            );
        }
    }
}
