//! What is kept: host/path filters, the rate limit, and redaction of secrets.

use regex_lite::Regex;

#[cfg(target_arch = "x86_64")]
use crate::arch::x86_64::secret as x86;

/// Host and path rules.
pub struct Filters {
    host_allow: Vec<Regex>,
    path_allow: Vec<Regex>,
    host_deny: Vec<Regex>,
    path_deny: Vec<Regex>,
}

fn compile(v: &[String]) -> Vec<Regex> {
    // The command line checked every expression already.
    v.iter().filter_map(|r| Regex::new(r).ok()).collect()
}

impl Filters {
    pub fn new(
        host_allow: &[String],
        path_allow: &[String],
        host_deny: &[String],
        path_deny: &[String],
    ) -> Filters {
        Filters {
            host_allow: compile(host_allow),
            path_allow: compile(path_allow),
            host_deny: compile(host_deny),
            path_deny: compile(path_deny),
        }
    }

    /// `host` is the Host header without its port (or the server address);
    /// `path` is the request path without the query.
    pub fn pass(&self, host: &str, path: &str) -> bool {
        let any = |rs: &[Regex], s: &str| rs.iter().any(|r| r.is_match(s));
        (self.host_allow.is_empty() || any(&self.host_allow, host))
            && (self.path_allow.is_empty() || any(&self.path_allow, path))
            && !any(&self.host_deny, host)
            && !any(&self.path_deny, path)
    }
}

/// The Host header value without a port (`[v6]:port` keeps the brackets' content).
pub fn host_without_port(h: &str) -> &str {
    let h = h.trim();
    if let Some(rest) = h.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match h.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !host.contains(':') => {
            host
        }
        _ => h,
    }
}

/// A token bucket: `per_minute` traces a minute, bursts up to a minute's worth.
pub struct RateLimit {
    per_us: f64,
    cap: f64,
    tokens: f64,
    last: u64,
}

impl RateLimit {
    pub fn new(per_minute: f64) -> RateLimit {
        RateLimit {
            per_us: per_minute / 60e6,
            cap: per_minute,
            tokens: per_minute,
            last: 0,
        }
    }

    /// May one more trace go at time `ts` (microseconds)?
    pub fn take(&mut self, ts: u64) -> bool {
        if self.cap <= 0.0 {
            return true; // no limit
        }
        if self.last != 0 && ts > self.last {
            self.tokens = (self.tokens + (ts - self.last) as f64 * self.per_us).min(self.cap);
        }
        if ts > self.last {
            self.last = ts;
        }
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

pub const REDACTED: &str = "[REDACTED]";

const SECRET_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "x-amz-security-token",
];

/// Could `b` hold a secret name anywhere? (When not, a JSON body needs no
/// redaction.) Runs over every JSON body, so where the CPU has AVX2 it looks
/// for the first three letters of the words 32 positions at a time (64 with
/// AVX-512) and checks the whole word only where they appear.
pub fn mentions_secret(b: &[u8]) -> bool {
    #[cfg(target_arch = "x86_64")]
    if crate::arch::avx512() {
        // SAFETY: the CPU has what `mentions_secret_avx512` is built for.
        return unsafe { x86::mentions_secret_avx512(b) };
    }
    #[cfg(target_arch = "x86_64")]
    if crate::arch::avx2() {
        // SAFETY: the CPU has what `mentions_secret_avx2` is built for.
        return unsafe { x86::mentions_secret_avx2(b) };
    }
    word_check(b)
}

/// Does a secret word start at `name[i]`?
#[inline]
pub(crate) fn secret_at(name: &[u8], i: usize) -> bool {
    let at = |w: &str| {
        name.len() - i >= w.len() && name[i..i + w.len()].eq_ignore_ascii_case(w.as_bytes())
    };
    match name[i] | 0x20 {
        b't' => at("token"),
        b's' => at("secret") || at("session"),
        b'p' => at("password") || at("passwd"),
        b'a' => at("api-key") || at("apikey") || at("api_key"),
        _ => false,
    }
}

/// Can a secret word start with this byte?
static WORD_START: [bool; 256] = {
    let mut t = [false; 256];
    let mut k = 0;
    while k < 4 {
        let c = b"tspa"[k];
        t[c as usize] = true;
        t[(c - 32) as usize] = true;
        k += 1;
    }
    t
};

/// Does a parameter or field name look like it holds a secret?
///
/// Runs for every header of every trace: with AVX-512, names up to 64
/// bytes in one step of the body scan; else one pass, looking at the words
/// only where their first letter appears.
pub fn secret_name(name: &[u8]) -> bool {
    #[cfg(target_arch = "x86_64")]
    if name.len() <= 64 && crate::arch::avx512() {
        // SAFETY: the CPU has what `mentions_secret_avx512` is built for.
        return unsafe { x86::mentions_secret_avx512(name) };
    }
    word_check(name)
}

/// The definition the vector scans are checked against: the words looked
/// for where their first letter appears.
pub(crate) fn word_check(name: &[u8]) -> bool {
    // The words have five letters or more.
    let starts = name.len().saturating_sub(4);
    (0..starts).any(|i| WORD_START[name[i] as usize] && secret_at(name, i))
}

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
    #[cfg(target_arch = "x86_64")]
    use crate::arch::x86_64::secret::{mentions_secret_avx2, mentions_secret_avx512};

    type Scan = fn(&[u8]) -> bool;

    /// Every way a secret word is looked for on this machine.
    fn scanners() -> Vec<(&'static str, Scan)> {
        // Pushed to on x86_64 only.
        #[cfg_attr(not(target_arch = "x86_64"), allow(unused_mut))]
        let mut v: Vec<(&'static str, Scan)> = vec![
            ("word_check", word_check),
            ("mentions_secret", mentions_secret),
            ("secret_name", secret_name),
        ];
        #[cfg(target_arch = "x86_64")]
        if crate::arch::avx2() {
            // SAFETY: the CPU has what it needs.
            v.push(("avx2", |b| unsafe { mentions_secret_avx2(b) }));
        }
        #[cfg(target_arch = "x86_64")]
        if crate::arch::avx512() {
            // SAFETY: the CPU has what it needs.
            v.push(("avx512", |b| unsafe { mentions_secret_avx512(b) }));
        }
        v
    }

    #[test]
    fn body_scan_finds_every_word_at_every_offset() {
        let words = [
            "token", "SECRET", "Session", "password", "passwd", "api-key", "apikey", "api_key",
        ];
        let near = [
            "toke", "secre", "sessio", "passw0rd", "api key", "apkey", "tok",
        ];
        for len in [
            0usize, 5, 17, 18, 19, 33, 34, 35, 60, 61, 62, 63, 64, 65, 70, 128, 131,
        ] {
            for at in 0..=len {
                let filler: Vec<u8> = (0..len).map(|k| b"xq_ -{\"}:1"[k % 10]).collect();
                for w in words.iter().chain(&near) {
                    let mut b = filler[..at].to_vec();
                    b.extend_from_slice(w.as_bytes());
                    b.extend_from_slice(&filler[at..]);
                    for (name, scan) in scanners() {
                        assert_eq!(scan(&b), words.contains(w), "{name}: {w} at {at} of {len}");
                    }
                }
            }
        }
    }

    #[test]
    fn body_scan_classes_every_byte_as_the_word_check_does() {
        // Each letter of each word replaced by its neighbours in the
        // classing tables (other case, same low or high four bits, from
        // 0x80): found exactly when the word check finds it.
        let words = [
            "token", "secret", "session", "password", "passwd", "api-key", "apikey", "api_key",
        ];
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for w in words {
            for k in 0..w.len() {
                for flip in [0u8, 0x20, 0x80, 0x40, 0x10, 0x01, 0x08, 0x30] {
                    let mut word = w.as_bytes().to_vec();
                    word[k] ^= flip;
                    for at in [
                        0usize, 1, 2, 15, 16, 29, 30, 31, 32, 33, 34, 61, 62, 63, 64, 65, 127,
                    ] {
                        let mut b: Vec<u8> = (0..at + 24)
                            .map(|_| {
                                seed ^= seed << 13;
                                seed ^= seed >> 7;
                                seed ^= seed << 17;
                                b"xq_ -{\"}:1zZ\x90"[(seed >> 20) as usize % 13]
                            })
                            .collect();
                        b.splice(at..at, word.iter().copied());
                        let want = flip == 0 || flip == 0x20 && word[k].is_ascii_alphabetic();
                        assert_eq!(word_check(&b), want, "{w} with {k} ^ {flip:#x} at {at}");
                        for (name, scan) in scanners() {
                            assert_eq!(scan(&b), want, "{name}: {w} with {k} ^ {flip:#x} at {at}");
                        }
                    }
                }
            }
        }
    }

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

    #[test]
    fn filters() {
        let f = Filters::new(&["^api\\.".into()], &[], &[], &["^/health".into()]);
        assert!(f.pass("api.example.com", "/users"));
        assert!(!f.pass("www.example.com", "/users"));
        assert!(!f.pass("api.example.com", "/healthz"));
        assert_eq!(host_without_port("api.example.com:8080"), "api.example.com");
        assert_eq!(host_without_port("[::1]:80"), "::1");
        assert_eq!(host_without_port("::1"), "::1");
    }

    #[test]
    fn rate_limit_bucket() {
        let mut r = RateLimit::new(60.0);
        let t0 = 1_000_000_000;
        let ok = (0..100).filter(|i| r.take(t0 + i * 1000)).count();
        assert_eq!(ok, 60);
        // One second later, one more token.
        assert!(r.take(t0 + 100_000 + 1_000_000));
        assert!(!r.take(t0 + 100_000 + 1_000_001));
        let mut r = RateLimit::new(0.0);
        assert!((0..1000).all(|i| r.take(i)));
    }
}
