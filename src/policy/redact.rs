//! Redaction: secret header values, query parameters and JSON body members
//! replaced by "[REDACTED]" in what is shown.

use super::secret::secret_name;

/// What a secret is replaced with.
pub const REDACTED: &str = "[REDACTED]";

const SECRET_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "x-amz-security-token",
];

/// Is this header's value a secret?
pub fn secret_header(name: &str) -> bool {
    if name.eq_ignore_ascii_case("traceparent") || name.eq_ignore_ascii_case("tracestate") {
        return false;
    }
    SECRET_HEADERS.iter().any(|h| name.eq_ignore_ascii_case(h)) || secret_name(name.as_bytes())
}

/// Write `query` with the values of secret parameters replaced.
pub fn redact_query(out: &mut Vec<u8>, query: &[u8]) {
    for (i, pair) in query.split(|&b| b == b'&').enumerate() {
        if i > 0 {
            out.push(b'&');
        }
        match pair.iter().position(|&b| b == b'=') {
            Some(eq) if secret_name(&pair[..eq]) => {
                out.extend_from_slice(&pair[..=eq]);
                out.extend_from_slice(REDACTED.as_bytes());
            }
            _ => out.extend_from_slice(pair),
        }
    }
}

/// Copy a JSON document, replacing the value of every member whose name is a
/// secret (at any depth) with "[REDACTED]". Streaming and allocation-free
/// apart from `out`; input that is not JSON is copied as far as it scans and
/// the caller is told (false) so it can fall back.
pub fn redact_json(out: &mut Vec<u8>, src: &[u8]) -> bool {
    redact_json_upto(out, src, usize::MAX)
}

/// `redact_json` that stops once it has written more than `limit` bytes (a
/// redacted body can be longer than the original; the caller cuts it at
/// `limit`, which keeps memory within its reserve).
pub fn redact_json_upto(out: &mut Vec<u8>, src: &[u8], limit: usize) -> bool {
    out.reserve(src.len().min(limit));
    let mut i = 0;
    // After a member name that is a secret, the next value is replaced.
    let mut redact_next = false;
    // Nesting of containers; `true` = object (so a string at key position is a name).
    let mut stack = [false; 64];
    let mut depth = 0usize;
    let mut expect_key = false;
    while i < src.len() {
        if out.len() > limit {
            return true; // the caller cuts it at `limit`
        }
        let c = src[i];
        match c {
            b' ' | b'\t' | b'\r' | b'\n' | b',' | b':' => {
                if c == b',' && depth > 0 && stack[depth - 1] {
                    expect_key = true;
                }
                out.push(c);
                i += 1;
            }
            b'{' | b'[' => {
                if redact_next {
                    let end = match skip_value(src, i) {
                        Some(e) => e,
                        None => return false,
                    };
                    out.extend_from_slice(b"\"[REDACTED]\"");
                    redact_next = false;
                    i = end;
                    continue;
                }
                if depth == stack.len() {
                    return false;
                }
                stack[depth] = c == b'{';
                depth += 1;
                expect_key = c == b'{';
                out.push(c);
                i += 1;
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                expect_key = false;
                out.push(c);
                i += 1;
            }
            b'"' => {
                let end = match string_end(src, i) {
                    Some(e) => e,
                    None => return false,
                };
                if expect_key {
                    redact_next = secret_name(&src[i + 1..end - 1]);
                    expect_key = false;
                    out.extend_from_slice(&src[i..end]);
                } else if redact_next {
                    out.extend_from_slice(b"\"[REDACTED]\"");
                    redact_next = false;
                } else {
                    out.extend_from_slice(&src[i..end]);
                }
                i = end;
            }
            _ => {
                // number, true, false, null
                let mut end = i;
                while end < src.len() && !b" \t\r\n,:]}".contains(&src[end]) {
                    end += 1;
                }
                if redact_next {
                    out.extend_from_slice(b"\"[REDACTED]\"");
                    redact_next = false;
                } else {
                    out.extend_from_slice(&src[i..end]);
                }
                i = end.max(i + 1);
            }
        }
    }
    true
}

/// One past the closing quote of the string starting at `i`.
fn string_end(src: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    while j < src.len() {
        match src[j] {
            b'\\' => j += 2,
            b'"' => return Some(j + 1),
            _ => j += 1,
        }
    }
    None
}

/// One past the end of the object or array starting at `i`.
fn skip_value(src: &[u8], i: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut j = i;
    while j < src.len() {
        match src[j] {
            b'"' => {
                j = string_end(src, j)?;
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth -= 1;
                if depth == 0 {
                    return Some(j + 1);
                }
            }
            _ => {}
        }
        j += 1;
    }
    None
}

/// A header value as shown: redacted when its name says it is a secret.
pub fn header_value<'a>(redact: bool, name: &str, value: &'a [u8]) -> &'a [u8] {
    if redact && secret_header(name) {
        REDACTED.as_bytes()
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rj(s: &str) -> String {
        let mut out = Vec::new();
        assert!(redact_json(&mut out, s.as_bytes()));
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn json_fields_at_any_depth() {
        assert_eq!(
            rj(
                r#"{"user":{"name":"a","secret":"x","n":1},"password":"p","list":[{"apiKey":12}],"s":"password"}"#
            ),
            r#"{"user":{"name":"a","secret":"[REDACTED]","n":1},"password":"[REDACTED]","list":[{"apiKey":"[REDACTED]"}],"s":"password"}"#
        );
        assert_eq!(
            rj(r#"{"token": {"a": [1, "x"]}, "b": 2}"#),
            r#"{"token": "[REDACTED]", "b": 2}"#
        );
        assert_eq!(
            rj(r#"[1, "session", {"x_session":null}]"#),
            r#"[1, "session", {"x_session":"[REDACTED]"}]"#
        );
        assert_eq!(
            rj(r#"{"a\"password":"v"}"#),
            r#"{"a\"password":"[REDACTED]"}"#
        );
    }

    #[test]
    fn json_not_json() {
        let mut out = Vec::new();
        assert!(!redact_json(&mut out, b"{\"a\": \"unterminated"));
    }

    #[test]
    fn headers_and_query() {
        for h in [
            "Authorization",
            "cookie",
            "Set-Cookie",
            "X-Api-Key",
            "X-Auth-Token",
            "X-Session-Id",
            "X-Amz-Security-Token",
        ] {
            assert!(secret_header(h), "{h}");
        }
        for h in ["traceparent", "tracestate", "Content-Type", "Host"] {
            assert!(!secret_header(h), "{h}");
        }
        let mut out = Vec::new();
        redact_query(&mut out, b"a=1&api_key=xyz&password=p&flag&Token=t");
        assert_eq!(
            out,
            b"a=1&api_key=[REDACTED]&password=[REDACTED]&flag&Token=[REDACTED]"
        );
    }
}
