//! A small blocking AWS client for the calls `ecs add` makes: ECS over the
//! JSON 1.1 protocol and EC2 `DescribeRegions` over the EC2 query protocol,
//! signed with SigV4, sent with minreq.
//!
//! - ECS: `POST /`, `X-Amz-Target: AmazonEC2ContainerServiceV20141113.<Op>`,
//!   `Content-Type: application/x-amz-json-1.1`, JSON in and out; errors are
//!   `{"__type": "...#Code", "message": "..."}` (the part up to `#` is
//!   dropped). Some front ends answer errors as XML even here, so both are read.
//! - EC2: `POST /` with a form body `Action=...&Version=2016-11-15`, XML out;
//!   errors under `<Response><Errors><Error>`.
//!
//! Network failures, 5xx answers and throttling are retried with exponential
//! backoff (with jitter). Errors keep the operation, code and message; an
//! access-denied error names the IAM permission from the table of what
//! `ecs add` needs ([`PERMISSIONS`]).

use super::sigv4::{self, Credentials};
use serde_json::{Value, json};
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub const ECS_TARGET_PREFIX: &str = "AmazonEC2ContainerServiceV20141113";
pub const EC2_VERSION: &str = "2016-11-15";

/// The IAM permissions `ecs add` needs: action, resource, why.
pub const PERMISSIONS: &[(&str, &str, &str)] = &[
    (
        "ec2:DescribeRegions",
        "*",
        "find the regions enabled for the account (without it, a built-in list is used)",
    ),
    ("ecs:ListClusters", "*", "find the ECS clusters"),
    (
        "ecs:DescribeClusters",
        "arn:aws:ecs:<region>:<account>:cluster/*",
        "read the clusters' names",
    ),
    (
        "ecs:ListTaskDefinitionFamilies",
        "*",
        "find the task definition families",
    ),
    (
        "ecs:DescribeTaskDefinition",
        "*",
        "read the task definition in order to copy it",
    ),
    (
        "ecs:RegisterTaskDefinition",
        "*",
        "register the new revision with the sensor",
    ),
    ("ecs:ListServices", "*", "find the services of the cluster"),
    (
        "ecs:DescribeServices",
        "the cluster's services",
        "find the services that run the task definition",
    ),
    (
        "ecs:UpdateService",
        "the cluster's services",
        "move the services to the new revision",
    ),
    (
        "ecs:TagResource",
        "the services and task definitions",
        "mark what pcap-sensor changed",
    ),
];

/// The entry of [`PERMISSIONS`] for an action such as `ecs:ListClusters`.
pub fn permission(action: &str) -> Option<(&'static str, &'static str, &'static str)> {
    PERMISSIONS.iter().copied().find(|(a, _, _)| *a == action)
}

/// Regions to offer when `ec2:DescribeRegions` is not allowed.
pub const BUILTIN_REGIONS: &[&str] = &[
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "af-south-1",
    "ap-east-1",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-south-1",
    "eu-south-2",
    "eu-north-1",
    "il-central-1",
    "me-south-1",
    "me-central-1",
    "sa-east-1",
];

/// What went wrong with one AWS call.
#[derive(Debug, Clone)]
pub enum Problem {
    /// AWS answered with an error.
    Api {
        status: u16,
        code: String,
        message: String,
        request_id: Option<String>,
    },
    /// No answer (connection, DNS, TLS, timeout), after every retry.
    Network(String),
    /// An answer that is not what the protocol says.
    BadResponse(String),
}

#[derive(Debug, Clone)]
pub struct AwsError {
    /// `ecs:ListClusters`, `ec2:DescribeRegions`, ...
    pub action: String,
    pub endpoint: String,
    pub attempts: u32,
    /// Where the access key came from (for messages about the key).
    pub key_hint: String,
    pub problem: Box<Problem>,
}

const ACCESS_DENIED: &[&str] = &[
    "AccessDeniedException",
    "AccessDenied",
    "UnauthorizedOperation",
    "UnauthorizedException",
];

const BAD_KEY: &[&str] = &[
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "InvalidAccessKeyId",
];

/// EC2's answer to an unknown key and to a wrong signature alike.
const AUTH_FAILURE: &str = "AuthFailure";

const BAD_SIGNATURE: &[&str] = &[
    "SignatureDoesNotMatch",
    "InvalidSignatureException",
    "IncompleteSignature",
];

const EXPIRED: &[&str] = &[
    "ExpiredToken",
    "ExpiredTokenException",
    "RequestExpired",
    "TokenRefreshRequired",
];

const THROTTLED: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
];

impl AwsError {
    pub fn code(&self) -> Option<&str> {
        match self.problem.as_ref() {
            Problem::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    pub fn is_access_denied(&self) -> bool {
        self.code().is_some_and(|c| ACCESS_DENIED.contains(&c))
    }

    /// The key itself is wrong (unknown, bad secret, expired): every call
    /// will fail the same way.
    pub fn is_bad_credentials(&self) -> bool {
        self.code().is_some_and(|c| {
            BAD_KEY.contains(&c)
                || BAD_SIGNATURE.contains(&c)
                || EXPIRED.contains(&c)
                || c == AUTH_FAILURE
        })
    }

    /// What to do about it, when there is something to say.
    pub fn advice(&self) -> Option<String> {
        let code = self.code()?;
        if ACCESS_DENIED.contains(&code) {
            // Registering a task definition that names roles also needs
            // iam:PassRole on them; AWS's message names that action.
            if let Problem::Api { message, .. } = self.problem.as_ref()
                && message.contains("iam:PassRole")
            {
                return Some(
                    "the credentials may not pass the task's roles (iam:PassRole), which \
                     registering a task definition that names a task role or task execution role \
                     needs: grant it on those roles ('pcap-sensor ecs iam-policy' prints the \
                     statement)"
                        .into(),
                );
            }
            let (perm, resource, why) =
                permission(&self.action).unwrap_or((self.action.as_str(), "*", "this step"));
            return Some(format!(
                "the credentials lack the IAM permission {perm} (resource: {resource}), needed to {why}: \
                 grant it to the user or role ('pcap-sensor ecs iam-policy' prints the policy \
                 ecs add needs)"
            ));
        }
        if BAD_SIGNATURE.contains(&code) {
            return Some(format!(
                "the secret access key does not match the access key id ({}): check the secret",
                self.key_hint
            ));
        }
        if BAD_KEY.contains(&code) {
            return Some(format!(
                "AWS does not accept this access key id or session token ({}): check them \
                 (the key may have been deleted, or the session may have ended)",
                self.key_hint
            ));
        }
        if code == AUTH_FAILURE {
            return Some(format!(
                "AWS could not validate the credentials ({}): the access key id or its secret \
                 access key is wrong",
                self.key_hint
            ));
        }
        if EXPIRED.contains(&code) {
            return Some(format!(
                "the session credentials have expired ({}): get fresh ones",
                self.key_hint
            ));
        }
        None
    }
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.problem.as_ref() {
            Problem::Api {
                status,
                code,
                message,
                request_id,
            } => {
                write!(f, "{} failed: {code}", self.action)?;
                if !message.is_empty() {
                    write!(f, ": {message}")?;
                }
                write!(f, " (HTTP {status}")?;
                if let Some(id) = request_id {
                    write!(f, ", request id {id}")?;
                }
                f.write_str(")")?;
                if let Some(a) = self.advice() {
                    write!(f, "; {a}")?;
                }
                Ok(())
            }
            Problem::Network(e) => write!(
                f,
                "{} failed: no answer from {} after {} attempt{}: {e}",
                self.action,
                self.endpoint,
                self.attempts,
                if self.attempts == 1 { "" } else { "s" }
            ),
            Problem::BadResponse(e) => write!(
                f,
                "{} failed: unexpected answer from {}: {e}",
                self.action, self.endpoint
            ),
        }
    }
}

/// Where a service is reached.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// `https://ecs.us-east-1.amazonaws.com/`
    pub url: String,
    /// host[:port] as written in the URL (what minreq sends as `Host`).
    pub authority: String,
    pub path: String,
}

impl Endpoint {
    pub fn parse(url: &str) -> Result<Endpoint, String> {
        let url = url.trim();
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
            .ok_or_else(|| {
                format!("endpoint '{url}' must start with http:// or https:// (e.g. http://127.0.0.1:5000)")
            })?;
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.is_empty() || path.contains('?') {
            return Err(format!(
                "endpoint '{url}' should be scheme://host[:port][/path], without a query"
            ));
        }
        let path = if path.is_empty() { "/" } else { path };
        let scheme = &url[..url.len() - rest.len()];
        Ok(Endpoint {
            url: format!("{scheme}{authority}{path}"),
            authority: authority.to_string(),
            path: path.to_string(),
        })
    }

    /// The public endpoint of `service` in `region`.
    pub fn aws(service: &str, region: &str) -> Endpoint {
        let domain = if region.starts_with("cn-") {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        };
        Endpoint::parse(&format!("https://{service}.{region}.{domain}/"))
            .expect("a well-formed URL")
    }
}

/// Retry policy: attempts in all, first delay, ceiling.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    pub attempts: u32,
    pub base: Duration,
    pub cap: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            attempts: 5,
            base: Duration::from_millis(200),
            cap: Duration::from_secs(5),
        }
    }
}

/// A client for one region.
pub struct Client {
    pub region: String,
    creds: Credentials,
    key_hint: String,
    ecs: Endpoint,
    ec2: Endpoint,
    pub retry: Retry,
    pub timeout_secs: u64,
    /// Said when a call is retried (stderr by default).
    pub on_retry: Box<dyn Fn(&str)>,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A pseudo-random fraction in [0.5, 1) for backoff jitter.
fn jitter() -> f64 {
    let n = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    // xorshift on the nanoseconds: enough to spread retries apart.
    let mut x = n as u64 | 1;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    0.5 + (x % 1000) as f64 / 2000.0
}

struct Answer {
    status: u16,
    body: Vec<u8>,
    error_type_header: Option<String>,
    request_id: Option<String>,
}

/// Undo the five XML entities and numeric character references.
pub fn xml_unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let Some(end) = tail.find(';').filter(|&e| e <= 10) else {
            out.push('&');
            rest = &tail[1..];
            continue;
        };
        let ent = &tail[1..end];
        let c = match ent {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => ent
                .strip_prefix("#x")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| ent.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match c {
            Some(c) => {
                out.push(c);
                rest = &tail[end + 1..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The text of every `<tag>...</tag>` element, in order (no nesting of the
/// same tag; enough for the answers read here).
pub fn xml_texts(xml: &str, tag: &str) -> Vec<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(i) = rest.find(&open) {
        let after = &rest[i + open.len()..];
        let Some(j) = after.find(&close) else { break };
        out.push(xml_unescape(after[..j].trim()));
        rest = &after[j + close.len()..];
    }
    out
}

/// `"com.amazonaws.ecs#ClientException"` → `"ClientException"`;
/// `"AccessDeniedException:http://..."` (the header form) → `"AccessDeniedException"`.
pub fn clean_error_type(t: &str) -> String {
    let t = t.rsplit('#').next().unwrap_or(t);
    let t = t.split(':').next().unwrap_or(t);
    t.trim().to_string()
}

/// Code and message of an error answer, whatever its shape (JSON 1.1 or XML).
fn parse_error(a: &Answer) -> (String, String) {
    let text = String::from_utf8_lossy(&a.body);
    if let Ok(v) = serde_json::from_slice::<Value>(&a.body) {
        let code = v
            .get("__type")
            .or_else(|| v.get("code"))
            .or_else(|| v.get("Code"))
            .and_then(Value::as_str)
            .map(clean_error_type)
            .or_else(|| a.error_type_header.as_deref().map(clean_error_type));
        let message = v
            .get("message")
            .or_else(|| v.get("Message"))
            .or_else(|| v.get("errorMessage"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if let Some(code) = code {
            return (code, message);
        }
    }
    if text.trim_start().starts_with('<') {
        let code = xml_texts(&text, "Code").into_iter().next();
        let message = xml_texts(&text, "Message").into_iter().next();
        if let Some(code) = code {
            return (clean_error_type(&code), message.unwrap_or_default());
        }
    }
    let code = a
        .error_type_header
        .as_deref()
        .map(clean_error_type)
        .unwrap_or_else(|| format!("HTTP{}", a.status));
    let mut message: String = text.trim().chars().take(300).collect();
    if message.is_empty() {
        message = "(empty body)".into();
    }
    (code, message)
}

fn retryable(status: u16, code: &str) -> bool {
    status == 429 || status >= 500 || THROTTLED.contains(&code)
}

impl Client {
    /// `endpoint`: one URL for both services (`--endpoint-url`), else the
    /// public endpoints of the region; `ecs_endpoint`/`ec2_endpoint` win
    /// over it (`AWS_ENDPOINT_URL_ECS` / `AWS_ENDPOINT_URL_EC2`).
    pub fn new(
        region: &str,
        creds: Credentials,
        key_hint: String,
        endpoint: Option<&str>,
        ecs_endpoint: Option<&str>,
        ec2_endpoint: Option<&str>,
    ) -> Result<Client, String> {
        let pick = |specific: Option<&str>, service: &str| -> Result<Endpoint, String> {
            match specific.or(endpoint) {
                Some(u) => Endpoint::parse(u),
                None => Ok(Endpoint::aws(service, region)),
            }
        };
        Ok(Client {
            region: region.to_string(),
            creds,
            key_hint,
            ecs: pick(ecs_endpoint, "ecs")?,
            ec2: pick(ec2_endpoint, "ec2")?,
            retry: Retry::default(),
            timeout_secs: 30,
            on_retry: Box::new(crate::log::warn),
        })
    }

    /// The same account and endpoints, another region.
    pub fn for_region(&self, region: &str, endpoint_override: bool) -> Client {
        Client {
            region: region.to_string(),
            creds: self.creds.clone(),
            key_hint: self.key_hint.clone(),
            ecs: if endpoint_override {
                self.ecs.clone()
            } else {
                Endpoint::aws("ecs", region)
            },
            ec2: if endpoint_override {
                self.ec2.clone()
            } else {
                Endpoint::aws("ec2", region)
            },
            retry: self.retry,
            timeout_secs: self.timeout_secs,
            on_retry: Box::new(crate::log::warn),
        }
    }

    pub fn access_key_id(&self) -> &str {
        &self.creds.access_key_id
    }

    fn send_once(
        &self,
        ep: &Endpoint,
        service: &str,
        extra: &[(String, String)],
        content_type: &str,
        body: &[u8],
    ) -> Result<Answer, String> {
        let mut headers: Vec<(String, String)> = vec![
            ("Host".into(), ep.authority.clone()),
            ("Content-Type".into(), content_type.into()),
        ];
        headers.extend(extra.iter().cloned());
        let (path, query) = match ep.path.split_once('?') {
            Some((p, q)) => (p, q),
            None => (ep.path.as_str(), ""),
        };
        let signed = sigv4::sign(
            &sigv4::Request {
                method: "POST",
                path,
                query,
                headers: &headers,
                body,
            },
            &self.creds,
            &self.region,
            service,
            &sigv4::amz_date(unix_now()),
            &sigv4::Options::default(),
        );
        let mut req = minreq::post(&ep.url)
            .with_timeout(self.timeout_secs)
            .with_header(
                "User-Agent",
                concat!("pcap-sensor/", env!("CARGO_PKG_VERSION"), " (ecs add)"),
            )
            .with_body(body.to_vec());
        // minreq writes Host itself, from the URL (the same text as signed).
        for (k, v) in headers.iter().chain(signed.headers.iter()) {
            if !k.eq_ignore_ascii_case("host") {
                req = req.with_header(k.as_str(), v.as_str());
            }
        }
        let r = req.send().map_err(|e| e.to_string())?;
        let h = |name: &str| {
            r.headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        Ok(Answer {
            status: r.status_code as u16,
            error_type_header: h("x-amzn-errortype"),
            request_id: h("x-amzn-requestid").or_else(|| h("x-amz-request-id")),
            body: r.into_bytes(),
        })
    }

    /// Send with retries; Ok is a 2xx answer's body.
    fn call(
        &self,
        action: &str,
        ep: &Endpoint,
        service: &str,
        extra: &[(String, String)],
        content_type: &str,
        body: &[u8],
    ) -> Result<Vec<u8>, AwsError> {
        let err = |attempts: u32, problem: Problem| AwsError {
            action: action.to_string(),
            endpoint: ep.url.clone(),
            attempts,
            key_hint: self.key_hint.clone(),
            problem: Box::new(problem),
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (problem, why) = match self.send_once(ep, service, extra, content_type, body) {
                Ok(a) if (200..300).contains(&a.status) => return Ok(a.body),
                Ok(a) => {
                    let (code, message) = parse_error(&a);
                    let again = retryable(a.status, &code);
                    let why = if THROTTLED.contains(&code.as_str()) || a.status == 429 {
                        format!("throttled ({code})")
                    } else {
                        format!("HTTP {} ({code})", a.status)
                    };
                    let p = Problem::Api {
                        status: a.status,
                        code,
                        message,
                        request_id: a.request_id,
                    };
                    if !again {
                        return Err(err(attempt, p));
                    }
                    (p, why)
                }
                Err(e) => (Problem::Network(e.clone()), e),
            };
            if attempt >= self.retry.attempts {
                return Err(err(attempt, problem));
            }
            let exp = self.retry.base.as_secs_f64() * 2f64.powi(attempt as i32 - 1);
            let delay = Duration::from_secs_f64(exp.min(self.retry.cap.as_secs_f64()) * jitter());
            (self.on_retry)(&format!(
                "{action}: {why}; retrying in {:.1} s (attempt {} of {})",
                delay.as_secs_f64(),
                attempt + 1,
                self.retry.attempts
            ));
            std::thread::sleep(delay);
        }
    }

    /// One ECS operation (`ListClusters`, ...) with a JSON request.
    pub fn ecs(&self, op: &str, request: &Value) -> Result<Value, AwsError> {
        let action = format!("ecs:{op}");
        let body = serde_json::to_vec(request).expect("a JSON value serialises");
        let extra = [(
            "X-Amz-Target".to_string(),
            format!("{ECS_TARGET_PREFIX}.{op}"),
        )];
        let out = self.call(
            &action,
            &self.ecs,
            "ecs",
            &extra,
            "application/x-amz-json-1.1",
            &body,
        )?;
        if out.iter().all(u8::is_ascii_whitespace) {
            return Ok(json!({}));
        }
        serde_json::from_slice(&out).map_err(|e| AwsError {
            action,
            endpoint: self.ecs.url.clone(),
            attempts: 1,
            key_hint: self.key_hint.clone(),
            problem: Box::new(Problem::BadResponse(format!("not JSON: {e}"))),
        })
    }

    /// Every item of a paginated ECS list (`list_key` of each page), following
    /// `nextToken` to the end.
    pub fn ecs_all(
        &self,
        op: &str,
        request: &Value,
        list_key: &str,
    ) -> Result<Vec<Value>, AwsError> {
        let mut items = Vec::new();
        let mut req = request.clone();
        let mut seen: Vec<String> = Vec::new();
        loop {
            let page = self.ecs(op, &req)?;
            if let Some(list) = page.get(list_key).and_then(Value::as_array) {
                items.extend(list.iter().cloned());
            }
            match page.get("nextToken").and_then(Value::as_str) {
                Some(t) if !t.is_empty() => {
                    if seen.iter().any(|s| s == t) || seen.len() > 10_000 {
                        return Err(AwsError {
                            action: format!("ecs:{op}"),
                            endpoint: self.ecs.url.clone(),
                            attempts: 1,
                            key_hint: self.key_hint.clone(),
                            problem: Box::new(Problem::BadResponse(
                                "the same nextToken came back twice".into(),
                            )),
                        });
                    }
                    seen.push(t.to_string());
                    req["nextToken"] = Value::String(t.to_string());
                }
                _ => return Ok(items),
            }
        }
    }

    /// `ec2:DescribeRegions`: the names of the regions enabled for the account.
    pub fn describe_regions(&self) -> Result<Vec<String>, AwsError> {
        let body = format!("Action=DescribeRegions&Version={EC2_VERSION}");
        let out = self.call(
            "ec2:DescribeRegions",
            &self.ec2,
            "ec2",
            &[],
            "application/x-www-form-urlencoded; charset=utf-8",
            body.as_bytes(),
        )?;
        let text = String::from_utf8_lossy(&out);
        if !text.contains("DescribeRegionsResponse") {
            return Err(AwsError {
                action: "ec2:DescribeRegions".into(),
                endpoint: self.ec2.url.clone(),
                attempts: 1,
                key_hint: self.key_hint.clone(),
                problem: Box::new(Problem::BadResponse(
                    "no DescribeRegionsResponse in the answer".into(),
                )),
            });
        }
        let mut names = xml_texts(&text, "regionName");
        names.sort();
        names.dedup();
        Ok(names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str, header: Option<&str>) -> Answer {
        Answer {
            status,
            body: body.as_bytes().to_vec(),
            error_type_header: header.map(str::to_string),
            request_id: None,
        }
    }

    #[test]
    fn json_error_shapes() {
        let a = answer(
            400,
            r#"{"__type":"com.amazonaws.ecs#ClientException","message":"Unable to describe task definition."}"#,
            None,
        );
        assert_eq!(
            parse_error(&a),
            (
                "ClientException".into(),
                "Unable to describe task definition.".into()
            )
        );
        let a = answer(
            400,
            r#"{"__type":"AccessDeniedException","Message":"no"}"#,
            None,
        );
        assert_eq!(
            parse_error(&a),
            ("AccessDeniedException".into(), "no".into())
        );
        let a = answer(
            400,
            r#"{"message":"slow down"}"#,
            Some("ThrottlingException:http://internal.amazon.com/coral/"),
        );
        assert_eq!(
            parse_error(&a),
            ("ThrottlingException".into(), "slow down".into())
        );
    }

    #[test]
    fn xml_error_shapes() {
        let a = answer(
            400,
            "<Response><Errors><Error><Code>UnauthorizedOperation</Code>\
             <Message>You are not authorized &amp; that&apos;s it</Message></Error></Errors>\
             <RequestID>r-1</RequestID></Response>",
            None,
        );
        assert_eq!(
            parse_error(&a),
            (
                "UnauthorizedOperation".into(),
                "You are not authorized & that's it".into()
            )
        );
        let a = answer(
            403,
            "<ErrorResponse><Error><Type>Sender</Type><Code>SignatureDoesNotMatch</Code>\
             <Message>The request signature we calculated does not match</Message></Error></ErrorResponse>",
            None,
        );
        assert_eq!(parse_error(&a).0, "SignatureDoesNotMatch");
        let a = answer(502, "Bad Gateway", None);
        assert_eq!(parse_error(&a), ("HTTP502".into(), "Bad Gateway".into()));
    }

    #[test]
    fn retry_decisions() {
        assert!(retryable(400, "ThrottlingException"));
        assert!(retryable(400, "RequestLimitExceeded"));
        assert!(retryable(503, "ServiceUnavailable"));
        assert!(retryable(429, "x"));
        assert!(!retryable(400, "ClientException"));
        assert!(!retryable(400, "AccessDeniedException"));
    }

    #[test]
    fn access_denied_names_the_permission() {
        let e = AwsError {
            action: "ecs:UpdateService".into(),
            endpoint: "https://ecs.us-east-1.amazonaws.com/".into(),
            attempts: 1,
            key_hint: "AKID from environment".into(),
            problem: Box::new(Problem::Api {
                status: 400,
                code: "AccessDeniedException".into(),
                message: "User: arn:aws:iam::1:user/u is not authorized".into(),
                request_id: Some("abc".into()),
            }),
        };
        let s = e.to_string();
        assert!(
            s.contains("ecs:UpdateService failed: AccessDeniedException"),
            "{s}"
        );
        assert!(s.contains("IAM permission ecs:UpdateService"), "{s}");
        assert!(s.contains("request id abc"), "{s}");
        for (action, _, _) in PERMISSIONS {
            assert!(permission(action).is_some());
        }
        assert!(s.ends_with("('pcap-sensor ecs iam-policy' prints the policy ecs add needs)"));
        // Denied iam:PassRole while registering: that is what is said.
        let e = AwsError {
            action: "ecs:RegisterTaskDefinition".into(),
            problem: Box::new(Problem::Api {
                status: 400,
                code: "AccessDeniedException".into(),
                message: "User: arn:aws:iam::1:user/u is not authorized to perform: iam:PassRole \
                          on resource: arn:aws:iam::1:role/ecsTaskExecutionRole"
                    .into(),
                request_id: None,
            }),
            ..e
        };
        let s = e.to_string();
        assert!(
            s.contains("; the credentials may not pass the task's roles (iam:PassRole)"),
            "{s}"
        );
    }

    #[test]
    fn endpoints() {
        let e = Endpoint::parse("http://127.0.0.1:5000").unwrap();
        assert_eq!(e.url, "http://127.0.0.1:5000/");
        assert_eq!(e.authority, "127.0.0.1:5000");
        assert_eq!(e.path, "/");
        let e = Endpoint::aws("ecs", "cn-north-1");
        assert_eq!(e.url, "https://ecs.cn-north-1.amazonaws.com.cn/");
        assert!(Endpoint::parse("127.0.0.1:5000").is_err());
    }

    #[test]
    fn xml_helpers() {
        let x = "<a><regionName>eu-west-1</regionName><regionName>us-east-1</regionName></a>";
        assert_eq!(xml_texts(x, "regionName"), vec!["eu-west-1", "us-east-1"]);
        assert_eq!(xml_unescape("a&lt;b&#65;&#x42;&bogus"), "a<bAB&bogus");
    }
}
