//! AWS Signature Version 4 (header form), built on the `sha2` and `hmac`
//! crates: the canonical request, the string to sign, the signing key and
//! the `Authorization` header.
//!
//! The steps, as AWS documents them:
//! 1. canonical request = method, canonical URI, canonical query, canonical
//!    headers, signed header names, hex SHA-256 of the body (one per line);
//! 2. string to sign = `AWS4-HMAC-SHA256`, the request time, the credential
//!    scope `<date>/<region>/<service>/aws4_request`, hex SHA-256 of (1);
//! 3. signing key = HMAC chain over `"AWS4" + secret`, date, region, service,
//!    `aws4_request`; signature = hex HMAC of (2) under that key.
//!
//! Checked against the AWS SigV4 test suite in tests/sigv4.rs.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use std::fmt;

/// An access key. `Debug` never shows the secret or the session token.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<hidden>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<hidden>"),
            )
            .finish()
    }
}

/// What is signed. `path` and `query` are as they appear on the request
/// line (already percent-encoded where the client encoded them).
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    /// Every header to sign (`Host` included), in any order and case.
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

/// How to sign.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Remove `.`/`..` segments and repeated slashes from the path first.
    pub normalize_path: bool,
    /// Percent-encode the path once more (`%` becomes `%25`), as every
    /// service but S3 expects. When off, existing `%XX` escapes are kept.
    pub double_encode_path: bool,
    /// Add (and sign) `X-Amz-Content-Sha256` with the body's hash.
    pub content_sha256_header: bool,
    /// Sign `X-Amz-Security-Token` (when false it is still sent, unsigned).
    pub sign_session_token: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            normalize_path: true,
            double_encode_path: true,
            content_sha256_header: false,
            sign_session_token: true,
        }
    }
}

/// Everything signing produced: the headers to add to the request and,
/// for tests and debugging, the intermediate texts.
#[derive(Debug, Clone)]
pub struct Signed {
    pub canonical_request: String,
    pub string_to_sign: String,
    pub signature: String,
    /// Headers to send in addition to the request's own: `X-Amz-Date`,
    /// `X-Amz-Security-Token` and `X-Amz-Content-Sha256` when they apply, and
    /// `Authorization`.
    pub headers: Vec<(String, String)>,
}

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// Hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

/// `YYYYMMDDTHHMMSSZ` for a time given in seconds since the Unix epoch.
pub fn amz_date(unix_secs: u64) -> String {
    let mut buf = Vec::with_capacity(32);
    crate::json::write_rfc3339(&mut buf, unix_secs * 1_000_000);
    // "2015-08-30T12:36:00.000000Z" → "20150830T123600Z"
    let s = String::from_utf8_lossy(&buf);
    let digits: String = s[..19]
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    format!("{digits}Z")
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')
}

/// AWS URI encoding: every byte but the unreserved ones as `%XX` (upper-case
/// hex); `/` kept when `keep_slash`.
pub fn uri_encode(input: &[u8], keep_slash: bool) -> String {
    let mut out = String::with_capacity(input.len());
    for &b in input {
        if is_unreserved(b) || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn hex_val(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Undo `%XX` escapes (a stray `%` stays as it is); `+` is not a space.
fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex_val(b[i + 1]), hex_val(b[i + 2]))
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// Remove dot segments and empty segments, keeping a leading and a trailing
/// slash (`//a/./b/../c//` → `/a/c/`).
fn normalize_path(path: &str) -> String {
    let mut segs: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                segs.pop();
            }
            s => segs.push(s),
        }
    }
    let mut out = String::from("/");
    out.push_str(&segs.join("/"));
    let trailing = path.ends_with('/')
        || path.ends_with("/.")
        || path.ends_with("/..")
        || path == "."
        || path == "..";
    if trailing && !segs.is_empty() {
        out.push('/');
    }
    out
}

fn canonical_uri(path: &str, opts: &Options) -> String {
    let path = if path.is_empty() { "/" } else { path };
    let path = if opts.normalize_path {
        normalize_path(path)
    } else {
        path.to_string()
    };
    if opts.double_encode_path {
        uri_encode(path.as_bytes(), true)
    } else {
        // Encode what is not encoded yet; keep existing escapes.
        let b = path.as_bytes();
        let mut out = String::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%'
                && i + 2 < b.len()
                && hex_val(b[i + 1]).is_some()
                && hex_val(b[i + 2]).is_some()
            {
                out.push_str(&path[i..i + 3]);
                i += 3;
            } else {
                out.push_str(&uri_encode(&b[i..i + 1], true));
                i += 1;
            }
        }
        out
    }
}

/// Query parameters decoded, re-encoded the AWS way and sorted by name,
/// then value.
fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                uri_encode(&percent_decode(k), false),
                uri_encode(&percent_decode(v), false),
            )
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// Trim a header value and fold every run of whitespace (including the line
/// breaks of an obsolete folded header) into one space.
fn canonical_value(v: &str) -> String {
    v.split_ascii_whitespace().collect::<Vec<_>>().join(" ")
}

/// Sign `req` with `creds` for `region`/`service` at `amz_date`
/// (`YYYYMMDDTHHMMSSZ`).
pub fn sign(
    req: &Request,
    creds: &Credentials,
    region: &str,
    service: &str,
    amz_date: &str,
    opts: &Options,
) -> Signed {
    let payload_hash = sha256_hex(req.body);
    let mut added: Vec<(String, String)> = Vec::new();
    if opts.content_sha256_header {
        added.push(("X-Amz-Content-Sha256".into(), payload_hash.clone()));
    }
    added.push(("X-Amz-Date".into(), amz_date.to_string()));
    let token = creds.session_token.as_deref().filter(|t| !t.is_empty());
    if let Some(t) = token
        && opts.sign_session_token
    {
        added.push(("X-Amz-Security-Token".into(), t.to_string()));
    }

    // name (lower case) → values in order of appearance
    let mut headers: Vec<(String, Vec<String>)> = Vec::new();
    for (name, value) in req.headers.iter().chain(added.iter()) {
        let name = name.to_ascii_lowercase();
        let value = canonical_value(value);
        match headers.iter_mut().find(|(n, _)| *n == name) {
            Some((_, vs)) => vs.push(value),
            None => headers.push((name, vec![value])),
        }
    }
    headers.sort_by(|a, b| a.0.cmp(&b.0));
    let mut canonical_headers = String::new();
    for (n, vs) in &headers {
        canonical_headers.push_str(n);
        canonical_headers.push(':');
        canonical_headers.push_str(&vs.join(","));
        canonical_headers.push('\n');
    }
    let signed_headers = headers
        .iter()
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(";");

    let canonical_request = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        req.method.to_ascii_uppercase(),
        canonical_uri(req.path, opts),
        canonical_query(req.query),
        canonical_headers,
        signed_headers,
        payload_hash
    );

    let date = &amz_date[..8.min(amz_date.len())];
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        sha256_hex(canonical_request.as_bytes())
    );

    let k_secret = format!("AWS4{}", creds.secret_access_key);
    let k_date = hmac(k_secret.as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    let k_signing = hmac(&k_service, b"aws4_request");
    let signature = hex(&hmac(&k_signing, string_to_sign.as_bytes()));

    if let Some(t) = token
        && !opts.sign_session_token
    {
        added.push(("X-Amz-Security-Token".into(), t.to_string()));
    }
    added.push((
        "Authorization".into(),
        format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
            creds.access_key_id
        ),
    ));
    Signed {
        canonical_request,
        string_to_sign,
        signature,
        headers: added,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amz_date_from_unix_time() {
        // 2015-08-30T12:36:00Z, the test suite's time.
        assert_eq!(amz_date(1_440_938_160), "20150830T123600Z");
        assert_eq!(amz_date(0), "19700101T000000Z");
    }

    #[test]
    fn paths_normalize() {
        for (p, want) in [
            ("/", "/"),
            ("//example//", "/example/"),
            ("/./", "/"),
            ("/example/..", "/"),
            ("/example1/example2/../..", "/"),
            ("/./example", "/example"),
            ("/a/b/../c", "/a/c"),
        ] {
            assert_eq!(normalize_path(p), want, "{p}");
        }
    }

    #[test]
    fn query_is_sorted_and_reencoded() {
        assert_eq!(
            canonical_query("b=2&a=%7e&a=1&c"),
            "a=1&a=~&b=2&c=".to_string()
        );
        assert_eq!(canonical_query(""), "");
        assert_eq!(canonical_query("x=a%20b+c"), "x=a%20b%2Bc");
    }

    #[test]
    fn debug_hides_secrets() {
        let c = Credentials {
            access_key_id: "AKID".into(),
            secret_access_key: "SECRET".into(),
            session_token: Some("TOKEN".into()),
        };
        let d = format!("{c:?}");
        assert!(
            d.contains("AKID") && !d.contains("SECRET") && !d.contains("TOKEN"),
            "{d}"
        );
    }
}
