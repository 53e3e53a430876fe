//! The SigV4 signer (src/ecs/sigv4.rs) against the AWS SigV4 test suite in
//! tests/data/sigv4/v4 (Apache-2.0, see tests/data/sigv4/NOTICE): for every
//! case, the canonical request, the string to sign, the signature and the
//! `Authorization` header must be exactly the suite's.

mod support;

use pcap_sensor::ecs::sigv4::{self, Credentials, Options};
use serde_json::Value;
use std::path::{Path, PathBuf};
use support::process::repo;

fn suite() -> PathBuf {
    repo("tests/data/sigv4/v4")
}

fn read(case: &Path, file: &str) -> Option<String> {
    std::fs::read_to_string(case.join(file)).ok()
}

/// A request as the suite writes it: request line, `Name:value` headers
/// (a line starting with whitespace continues the previous value), an empty
/// line, the body.
struct Parsed {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn parse_request(text: &str) -> Parsed {
    let (head, body) = match text.find("\n\n") {
        Some(i) => (&text[..i], text.as_bytes()[i + 2..].to_vec()),
        None => (text, Vec::new()),
    };
    let mut lines = head.lines();
    let line = lines.next().expect("a request line");
    // The path may contain spaces (get-space-unnormalized): method is the
    // first word, the version the last.
    let (method, rest) = line.split_once(' ').expect("method");
    let target = match rest.rsplit_once(' ') {
        Some((t, v)) if v.starts_with("HTTP/") => t,
        _ => rest,
    };
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut headers: Vec<(String, String)> = Vec::new();
    for l in lines {
        if l.starts_with([' ', '\t']) {
            let last = headers.last_mut().expect("a header before a continuation");
            last.1.push('\n');
            last.1.push_str(l);
            continue;
        }
        let (k, v) = l.split_once(':').expect("Name:value");
        headers.push((k.to_string(), v.to_string()));
    }
    Parsed {
        method: method.to_string(),
        path: path.to_string(),
        query: query.to_string(),
        headers,
        body,
    }
}

/// "2015-08-30T12:36:00Z" → "20150830T123600Z"
fn amz_date(rfc3339: &str) -> String {
    rfc3339.chars().filter(|c| *c != '-' && *c != ':').collect()
}

struct Case {
    name: String,
    req: Parsed,
    creds: Credentials,
    region: String,
    service: String,
    date: String,
    opts: Options,
}

fn load(name: &str) -> Case {
    let dir = suite().join(name);
    let mut req = parse_request(&read(&dir, "request.txt").expect("request.txt"));
    let ctx: Value = serde_json::from_str(&read(&dir, "context.json").expect("context.json"))
        .expect("context.json is JSON");
    let c = &ctx["credentials"];
    let s = |v: &Value| v.as_str().unwrap().to_string();
    // A date header in the request is the signing time; the signer adds its own.
    req.headers
        .retain(|(k, _)| !k.eq_ignore_ascii_case("x-amz-date"));
    Case {
        name: name.to_string(),
        req,
        creds: Credentials {
            access_key_id: s(&c["access_key_id"]),
            secret_access_key: s(&c["secret_access_key"]),
            session_token: c["token"].as_str().map(str::to_string),
        },
        region: s(&ctx["region"]),
        service: s(&ctx["service"]),
        date: amz_date(ctx["timestamp"].as_str().unwrap()),
        opts: Options {
            normalize_path: ctx["normalize"].as_bool().unwrap(),
            // The CRT cases expect the request's own escapes kept (single
            // encoding); the two `double-*` cases test double encoding.
            double_encode_path: false,
            content_sha256_header: ctx["sign_body"].as_bool().unwrap(),
            sign_session_token: !ctx["omit_session_token"].as_bool().unwrap_or(false),
        },
    }
}

fn sign(c: &Case) -> sigv4::Signed {
    sigv4::sign(
        &sigv4::Request {
            method: &c.req.method,
            path: &c.req.path,
            query: &c.req.query,
            headers: &c.req.headers,
            body: &c.req.body,
        },
        &c.creds,
        &c.region,
        &c.service,
        &c.date,
        &c.opts,
    )
}

/// The `Authorization` value and the other added headers of a
/// header-signed-request.txt.
fn expected_headers(dir: &Path) -> Vec<(String, String)> {
    parse_request(&read(dir, "header-signed-request.txt").unwrap())
        .headers
        .into_iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_string()))
        .collect()
}

fn crt_cases() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(suite())
        .expect("tests/data/sigv4/v4")
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| suite().join(n).join("context.json").exists())
        .collect();
    names.sort();
    names
}

#[test]
fn every_case_of_the_suite_is_here() {
    let names = crt_cases();
    // 38 cases with a context.json, plus the two older double-encoding cases.
    assert_eq!(names.len(), 38, "{names:?}");
    for n in ["double-url-encode", "double-encode-path"] {
        assert!(suite().join(n).join("request.txt").exists(), "{n}");
    }
}

#[test]
fn canonical_request_string_to_sign_and_signature() {
    let mut failures = Vec::new();
    for name in crt_cases() {
        let case = load(&name);
        let dir = suite().join(&name);
        let got = sign(&case);
        let want_creq = read(&dir, "header-canonical-request.txt").unwrap();
        let want_sts = read(&dir, "header-string-to-sign.txt").unwrap();
        let want_sig = read(&dir, "header-signature.txt").unwrap();
        if got.canonical_request != want_creq {
            failures.push(format!(
                "{}: canonical request\n--- want\n{want_creq}\n--- got\n{}",
                case.name, got.canonical_request
            ));
            continue;
        }
        if got.string_to_sign != want_sts {
            failures.push(format!(
                "{}: string to sign\n--- want\n{want_sts}\n--- got\n{}",
                case.name, got.string_to_sign
            ));
            continue;
        }
        if got.signature != want_sig.trim() {
            failures.push(format!(
                "{}: signature want {} got {}",
                case.name,
                want_sig.trim(),
                got.signature
            ));
            continue;
        }
        // The headers the signer adds are the ones the signed request has.
        let want = expected_headers(&dir);
        for (k, v) in &got.headers {
            let k = k.to_ascii_lowercase();
            match want.iter().find(|(wk, _)| *wk == k) {
                Some((_, wv)) if wv == v => {}
                other => failures.push(format!(
                    "{}: header {k}: want {other:?}, got {v}",
                    case.name
                )),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn session_token_signed_or_sent_after() {
    // get-vanilla-with-session-token / post-sts-header-before sign the token;
    // post-sts-header-after sends it without signing it.
    for (name, signed) in [
        ("get-vanilla-with-session-token", true),
        ("post-sts-header-before", true),
        ("post-sts-header-after", false),
    ] {
        let got = sign(&load(name));
        let auth = &got
            .headers
            .iter()
            .find(|(k, _)| k == "Authorization")
            .unwrap()
            .1;
        assert_eq!(
            auth.contains("x-amz-security-token"),
            signed,
            "{name}: {auth}"
        );
        assert!(
            got.headers.iter().any(|(k, _)| k == "X-Amz-Security-Token"),
            "{name}: the token is always sent"
        );
    }
}

#[test]
fn double_encoded_paths() {
    // double-url-encode: Lambda in us-east-2, the example key, 2021-05-11.
    let dir = suite().join("double-url-encode");
    let mut req = parse_request(&read(&dir, "request.txt").unwrap());
    req.headers
        .retain(|(k, _)| !k.eq_ignore_ascii_case("x-amz-date"));
    let creds = Credentials {
        access_key_id: "AKIDEXAMPLE".into(),
        secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
        session_token: None,
    };
    let got = sigv4::sign(
        &sigv4::Request {
            method: &req.method,
            path: &req.path,
            query: &req.query,
            headers: &req.headers,
            body: &req.body,
        },
        &creds,
        "us-east-2",
        "lambda",
        "20210511T154045Z",
        &Options::default(),
    );
    assert_eq!(
        got.canonical_request,
        read(&dir, "header-canonical-request.txt").unwrap()
    );
    // (this older case's file ends with a newline; the CRT cases' do not)
    assert_eq!(
        got.string_to_sign,
        read(&dir, "header-string-to-sign.txt").unwrap().trim_end()
    );
    let want_auth = expected_headers(&dir)
        .into_iter()
        .find(|(k, _)| k == "authorization")
        .unwrap()
        .1;
    let auth = &got
        .headers
        .iter()
        .find(|(k, _)| k == "Authorization")
        .unwrap()
        .1;
    assert_eq!(auth, &want_auth);

    // double-encode-path: `@` and an existing `%3D` escape. Its files
    // disagree on the date (request 2015, canonical request 2021), so only
    // the canonical URI (second line) is compared.
    let dir = suite().join("double-encode-path");
    let req = parse_request(&read(&dir, "request.txt").unwrap());
    let got = sigv4::sign(
        &sigv4::Request {
            method: &req.method,
            path: &req.path,
            query: &req.query,
            headers: &[],
            body: &req.body,
        },
        &creds,
        "us-east-1",
        "service",
        "20150830T123600Z",
        &Options::default(),
    );
    let want = read(&dir, "header-canonical-request.txt").unwrap();
    assert_eq!(
        got.canonical_request.lines().nth(1),
        want.lines().nth(1),
        "canonical URI"
    );
}

#[test]
fn a_changed_byte_changes_the_signature() {
    let base = load("post-x-www-form-urlencoded");
    let sig = sign(&base).signature;
    let mut other = load("post-x-www-form-urlencoded");
    other.req.body[0] ^= 1;
    assert_ne!(sign(&other).signature, sig, "body");
    let mut other = load("post-x-www-form-urlencoded");
    other.creds.secret_access_key.push('x');
    assert_ne!(sign(&other).signature, sig, "secret");
    let mut other = load("post-x-www-form-urlencoded");
    other.region = "us-west-2".into();
    assert_ne!(sign(&other).signature, sig, "region");
}
