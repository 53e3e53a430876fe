//! The sidecar's ECS container definition: one builder for everything that
//! adds the sensor to a task.
//!
//! `pcap-sensor ecs container-definition` prints it, `deploy/ecs/*.json` are
//! its output, the Terraform module builds the same object (a test compares
//! them), and `pcap-sensor ecs add` appends it to a task definition.
//!
//! ```
//! use pcap_sensor::ecs::container_def::{sidecar, SidecarOptions};
//! let c = sidecar(&SidecarOptions {
//!     satellite_url: Some("http://levoai-satellite:9999".into()),
//!     region: Some("us-west-2".into()),
//!     ..SidecarOptions::default()
//! });
//! assert_eq!(c["name"], "levo-pcap-sensor");
//! assert_eq!(c["entryPoint"][3], "http://levoai-satellite:9999");
//! ```
//!
//! A value that is not given becomes the reference product's `< INSERT ... >`
//! placeholder, so a printed definition shows what is left to fill in.
//! Keys come out in alphabetical order (`serde_json`'s map), which is also
//! what Terraform's `jsonencode` does.

use std::ffi::OsString;
use std::process::ExitCode;

use serde_json::{Value, json};

use crate::cli::{self, UsageError};

/// The sidecar's container name (the reference product's: tools that look for
/// the sensor in a task find it by this name).
pub const SIDECAR_NAME: &str = "levo-pcap-sensor";

/// `awslogs-stream-prefix` of the sidecar's log configuration.
pub const LOG_STREAM_PREFIX: &str = "ecs-pcap";

/// The task volume the spool lives on (`--spool`): one with no host, so it
/// is task-scoped storage (on Fargate, the task's ephemeral storage), gone
/// with the task; the root file system stays read-only.
pub const SPOOL_VOLUME: &str = "pcap-sensor-spool";
/// Where the sidecar mounts it, and apidump's `--spool-dir`.
pub const SPOOL_PATH: &str = "/var/spool/pcap-sensor";

/// The task definition's `volumes` entry the spool needs.
pub fn spool_volume() -> Value {
    json!({"name": SPOOL_VOLUME})
}

/// The container health check (`healthCheck`): `pcap-sensor health` (the
/// image has no shell, so `CMD`, not `CMD-SHELL`), which asks the sensor's
/// read loop and waits at most 5 s for its answer (`health::STALL_SECS`).
/// - `interval` 30 s (ECS's default): one question costs the loop one
///   accept and one send; more often says nothing new, since ECS does not
///   act on a non-essential container's health.
/// - `timeout` 10 s: above the command's own 5 s wait plus its start, so
///   the command always prints its reason (ECS drops a timed-out check's
///   output).
/// - `retries` 3: UNHEALTHY after three failures in a row (a minute and a
///   half), not because one answer came late while a batch was being sent.
/// - `startPeriod` 15 s: the sensor answers once its capture is open, the
///   task metadata read (2 s timeout) and its memory reserved, in a second
///   or two; failures before that do not count.
pub const HEALTH_CHECK: HealthCheck = HealthCheck {
    command: &["CMD", "./bin/init", "health"],
    interval: 30,
    timeout: 10,
    retries: 3,
    start_period: 15,
};

/// A container health check as ECS takes it (seconds).
#[derive(Debug, Clone, Copy)]
pub struct HealthCheck {
    pub command: &'static [&'static str],
    pub interval: u32,
    pub timeout: u32,
    pub retries: u32,
    pub start_period: u32,
}

impl HealthCheck {
    /// The `healthCheck` object of a container definition.
    pub fn json(&self) -> Value {
        json!({
            "command": self.command,
            "interval": self.interval,
            "timeout": self.timeout,
            "retries": self.retries,
            "startPeriod": self.start_period,
        })
    }
}

/// The placeholders of the reference product's container definition, word for
/// word (spaces included), plus one for the image (see [`placeholder::IMAGE`]).
pub mod placeholder {
    /// There is no public registry for this image: `./build.sh image` tags
    /// `localhost/pcap-sensor:VERSION`, which an ECS task cannot pull, so the
    /// user pushes it to a registry of theirs (ECR) and names it here.
    pub const IMAGE: &str =
        "< INSERT IMAGE URI (123456789012.dkr.ecr.us-west-2.amazonaws.com/pcap-sensor:VERSION) >";
    pub const SATELLITE_URL: &str = "< INSERT SATELLITE URL (http(s)://hostname|IP:port) >";
    pub const LEVO_ENV: &str = "<INSERT APPLICATION ENVIRONMENT (staging, production etc.)>";
    pub const ORG_ID: &str = "< INSERT LEVO ORG ID >";
    pub const RATE_LIMIT: &str = "<INSERT NUMBER OF TRACES PER MINUTE>";
    pub const REGION: &str = "< INSERT AWS REGION (us-west-2) >";
    pub const LOG_GROUP: &str = "< INSERT LOGS IDENTIFIER (/ecs/your-application-pcap) >";
}

/// CPU units (1 vCPU = 1024) and MiB of the standard profile: apidump's
/// default limits, whose peak RSS measured 22 MiB under heavy load (see
/// deploy/ecs/README.md), so 128 MiB leaves more than 5x headroom.
pub const STANDARD_CPU: u32 = 256;
pub const STANDARD_MEMORY: u32 = 128;

/// CPU units and MiB of the low-resource profile (`--low-resource`), and the
/// apidump settings that keep the sensor inside them: peak RSS measured 13.5 MiB
/// (see deploy/ecs/README.md), so 64 MiB leaves more than 4x headroom.
pub const LOW_CPU: u32 = 128;
pub const LOW_MEMORY: u32 = 64;
/// `--rate-limit` of the low-resource profile when none is given.
pub const LOW_RATE_LIMIT: f64 = 100.0;
/// `--trace-export-interval` (seconds) of the low-resource profile when none is given.
pub const LOW_TRACE_EXPORT_INTERVAL: f64 = 1.0;
/// `--stream-timeout-seconds` of the low-resource profile when none is given.
pub const LOW_STREAM_TIMEOUT_SECONDS: f64 = 2.0;
/// The low-resource profile's memory limits, appended after the timing flags.
/// The Terraform module (deploy/terraform/modules/sidecar) has the same list.
pub const LOW_RESOURCE_FLAGS: &[&str] = &[
    "--max-http-length",
    "65536",
    "--buffer-pool-mb",
    "4",
    "--max-flows",
    "1024",
    "--pcap-buffer-mb",
    "8",
    "--export-queue-mb",
    "2",
    "--max-batch-kb",
    "256",
];

/// What the sidecar is made of. `None` means "not given": a placeholder (or
/// the profile's default, for `cpu`, `memory` and, with `low_resource`,
/// `rate_limit`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SidecarOptions {
    /// Image reference; placeholder when None.
    pub image: Option<String>,
    /// `--satellite-url` of apidump, http(s)://host:port.
    pub satellite_url: Option<String>,
    /// `--levo-env`.
    pub levo_env: Option<String>,
    /// `--levoai-org-id`.
    pub org_id: Option<String>,
    /// `--rate-limit`, traces per minute (0 = no limit); written as Terraform
    /// writes numbers (`50`, `12.5`).
    pub rate_limit: Option<f64>,
    /// `--trace-export-interval` in seconds; left out when None (apidump's
    /// default, 10 s), or 1 with `low_resource`.
    pub trace_export_interval: Option<f64>,
    /// `--stream-timeout-seconds`; left out when None (apidump's default,
    /// 10 s), or 2 with `low_resource`.
    pub stream_timeout_seconds: Option<f64>,
    /// AWS region: `LEVO_AWS_REGION` and `awslogs-region`.
    pub region: Option<String>,
    /// CloudWatch log group (`awslogs-group`, created if absent).
    pub log_group: Option<String>,
    /// CPU units; default [`STANDARD_CPU`], or [`LOW_CPU`] with `low_resource`.
    pub cpu: Option<u32>,
    /// Hard memory limit in MiB; default [`STANDARD_MEMORY`], or
    /// [`LOW_MEMORY`] with `low_resource`.
    pub memory: Option<u32>,
    /// The strict-budget profile: smaller defaults and [`LOW_RESOURCE_FLAGS`].
    pub low_resource: bool,
    /// A spool for outages of the satellite: the [`SPOOL_VOLUME`] mounted at
    /// [`SPOOL_PATH`] and `--spool-dir` set to it (the task definition must
    /// have the volume: [`spool_volume`]).
    pub spool: bool,
    /// `--spool-mb` with `spool` (apidump's default, 256, when None).
    pub spool_mb: Option<u32>,
    /// More apidump flags, appended to the entry point after everything else
    /// (so they win over the profile's flags), e.g. `["--filter", "not port 8888"]`.
    pub extra_args: Vec<String>,
}

/// A number as Terraform's `tostring` writes it: no `.0` on whole numbers.
pub fn format_number(x: f64) -> String {
    format!("{x}")
}

/// The sidecar's `entryPoint`: `./bin/init apidump` with the reference's four
/// flags, `--keep-running` (a capture that cannot start or fails leaves the
/// sensor up to tell the health check why, instead of stopping the container
/// and its health check with it), `--trace-export-interval` and
/// `--stream-timeout-seconds` when set, the low-resource limits, the spool's
/// flags, then `extra_args`.
pub fn entry_point(o: &SidecarOptions) -> Vec<String> {
    let or = |v: &Option<String>, p: &str| v.clone().unwrap_or_else(|| p.to_string());
    let rate = match (o.rate_limit, o.low_resource) {
        (Some(r), _) => format_number(r),
        (None, true) => format_number(LOW_RATE_LIMIT),
        (None, false) => placeholder::RATE_LIMIT.to_string(),
    };
    let mut e: Vec<String> = vec![
        "./bin/init".into(),
        "apidump".into(),
        "--satellite-url".into(),
        or(&o.satellite_url, placeholder::SATELLITE_URL),
        "--levo-env".into(),
        or(&o.levo_env, placeholder::LEVO_ENV),
        "--levoai-org-id".into(),
        or(&o.org_id, placeholder::ORG_ID),
        "--rate-limit".into(),
        rate,
        "--keep-running".into(),
    ];
    let low = |x: f64| Some(x).filter(|_| o.low_resource);
    if let Some(t) = o.trace_export_interval.or(low(LOW_TRACE_EXPORT_INTERVAL)) {
        e.extend(["--trace-export-interval".into(), format_number(t)]);
    }
    if let Some(t) = o.stream_timeout_seconds.or(low(LOW_STREAM_TIMEOUT_SECONDS)) {
        e.extend(["--stream-timeout-seconds".into(), format_number(t)]);
    }
    if o.low_resource {
        e.extend(LOW_RESOURCE_FLAGS.iter().map(|s| s.to_string()));
    }
    if o.spool {
        e.extend(["--spool-dir".into(), SPOOL_PATH.into()]);
        if let Some(mb) = o.spool_mb {
            e.extend(["--spool-mb".into(), mb.to_string()]);
        }
    }
    e.extend(o.extra_args.iter().cloned());
    e
}

/// The container definition (an element of a task definition's
/// `containerDefinitions`).
pub fn sidecar(o: &SidecarOptions) -> Value {
    let (cpu, memory) = if o.low_resource {
        (LOW_CPU, LOW_MEMORY)
    } else {
        (STANDARD_CPU, STANDARD_MEMORY)
    };
    let region = o.region.as_deref().unwrap_or(placeholder::REGION);
    let mounts = if o.spool {
        json!([{"sourceVolume": SPOOL_VOLUME, "containerPath": SPOOL_PATH, "readOnly": false}])
    } else {
        json!([])
    };
    json!({
        "name": SIDECAR_NAME,
        "image": o.image.as_deref().unwrap_or(placeholder::IMAGE),
        "cpu": o.cpu.unwrap_or(cpu),
        "memory": o.memory.unwrap_or(memory),
        "essential": false,
        "portMappings": [],
        "mountPoints": mounts,
        "volumesFrom": [],
        // The sensor writes nothing to its root file system (traces go to the
        // satellite; the spool, if any, to its volume).
        "readonlyRootFilesystem": true,
        "entryPoint": entry_point(o),
        "healthCheck": HEALTH_CHECK.json(),
        "environment": [{"name": "LEVO_AWS_REGION", "value": region}],
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": o.log_group.as_deref().unwrap_or(placeholder::LOG_GROUP),
                "awslogs-create-group": "true",
                "awslogs-region": region,
                "awslogs-stream-prefix": LOG_STREAM_PREFIX,
            }
        }
    })
}

/// Is this container definition the sensor? (by name, as the reference does)
pub fn is_sidecar(container: &Value) -> bool {
    container.get("name").and_then(Value::as_str) == Some(SIDECAR_NAME)
}

/// The sidecar as printed: pretty JSON (two-space indent) and a newline.
pub fn render(o: &SidecarOptions) -> String {
    let mut s = serde_json::to_string_pretty(&sidecar(o)).expect("a JSON value serialises");
    s.push('\n');
    s
}

/// apidump flags that the container definition sets itself: in `extra_args`
/// they would silently override (or duplicate) the options.
const OWN_FLAGS: &[&str] = &[
    "--satellite-url",
    "--levo-env",
    "--levoai-org-id",
    "--rate-limit",
    "--trace-export-interval",
    "--stream-timeout-seconds",
];

/// Check the given values the way apidump will (through its own parser), so a
/// typo is found when the definition is made, not when the task starts.
pub fn check(o: &SidecarOptions) -> Result<(), UsageError> {
    let mut words: Vec<String> = vec!["apidump".into(), "--out".into(), "-".into()];
    if let Some(u) = &o.satellite_url {
        words.extend(["--satellite-url".into(), u.clone()]);
    }
    if let Some(r) = o.rate_limit
        && (!r.is_finite() || r < 0.0)
    {
        return Err(UsageError(format!(
            "--rate-limit expects traces per minute ≥ 0 (0 = no limit), e.g. --rate-limit 1000, but got '{r}'"
        )));
    }
    for (flag, v) in [
        ("--trace-export-interval", o.trace_export_interval),
        ("--stream-timeout-seconds", o.stream_timeout_seconds),
    ] {
        if let Some(x) = v
            && !(x.is_finite() && x > 0.0)
        {
            return Err(UsageError(format!(
                "{flag} expects seconds greater than 0, e.g. {flag} 1.0, but got '{x}'"
            )));
        }
    }
    for (k, what) in [(&o.levo_env, "--levo-env"), (&o.org_id, "--levoai-org-id")] {
        if let Some(v) = k
            && v.trim().is_empty()
        {
            return Err(UsageError(format!("{what} cannot be empty")));
        }
    }
    if let Some(img) = &o.image
        && (img.is_empty() || img.len() > 255 || img.chars().any(char::is_whitespace))
    {
        return Err(UsageError(format!(
            "--image '{img}' is not an image reference (e.g. --image 123456789012.dkr.ecr.us-west-2.amazonaws.com/pcap-sensor:{})",
            cli::VERSION
        )));
    }
    if let Some(r) = &o.region
        && !valid_region(r)
    {
        return Err(UsageError(format!(
            "--region '{r}' is not an AWS region name (e.g. --region us-west-2)"
        )));
    }
    if let Some(g) = &o.log_group
        && !valid_log_group(g)
    {
        return Err(UsageError(format!(
            "--log-group '{g}' is not a CloudWatch log group name (1-512 of A-Z a-z 0-9 . _ - / #, e.g. --log-group /ecs/my-app-pcap)"
        )));
    }
    if o.spool_mb.is_some() && !o.spool {
        return Err(UsageError("--spool-mb sizes the spool: add --spool".into()));
    }
    if o.spool_mb == Some(0) {
        return Err(UsageError(
            "--spool-mb must be greater than 0 (e.g. --spool-mb 256)".into(),
        ));
    }
    if let Some(m) = o.memory
        && m < 6
    {
        return Err(UsageError(format!(
            "--memory {m}: ECS needs at least 6 MiB for a container (the sensor needs more: see deploy/ecs/README.md)"
        )));
    }
    let mut i = 0;
    while i < o.extra_args.len() {
        let a = o.extra_args[i].as_str();
        let name = a.split('=').next().unwrap_or(a);
        if matches!(name, "--spool-dir" | "--spool-mb") {
            return Err(UsageError(format!(
                "{name}: use --spool (and --spool-mb N) before --, which also mounts a volume for it (the root file system is read-only)"
            )));
        }
        if let Some(own) = OWN_FLAGS.iter().find(|f| **f == name) {
            return Err(UsageError(format!(
                "{own} is an option of 'ecs container-definition': give it before --, not after"
            )));
        }
        if matches!(name, "-r" | "--read-file") {
            return Err(UsageError(format!(
                "{name} makes no sense in a sidecar (it captures live): remove it"
            )));
        }
        // --ca-cert names a file inside the container, not here: not checked.
        if name == "--ca-cert" {
            i += if a.contains('=') { 1 } else { 2 };
            continue;
        }
        words.push(o.extra_args[i].clone());
        i += 1;
    }
    cli::parse(words).map(|_| ())
}

/// A region name as AWS spells them (`us-west-2`, `us-gov-east-1`).
pub(crate) fn valid_region(r: &str) -> bool {
    let parts: Vec<&str> = r.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
}

fn valid_log_group(g: &str) -> bool {
    !g.is_empty()
        && g.len() <= 512
        && g.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-/#".contains(&b))
}

pub const HELP: &str = "\
pcap-sensor ecs container-definition: print the sidecar's ECS container definition (JSON)

usage: pcap-sensor ecs container-definition [FLAGS] [-- APIDUMP FLAGS...]

Paste the output into a task definition's containerDefinitions (console: Task
definitions > your task > Create new revision > JSON). A value not given is
left as a '< INSERT ... >' placeholder to fill in.

      --image REF             the sensor's image, e.g. an ECR repository:tag
                              (no default: there is no public image)
      --satellite-url URL     where traces go, http(s)://host:port
      --levo-env ENV          deployment environment, e.g. staging
      --levoai-org-id ID      organisation id
      --rate-limit N          traces per minute (0 = no limit; default 100 with
                              --low-resource)
      --trace-export-interval SECS
                              how often batches are sent (apidump's default 10 s;
                              1 with --low-resource)
      --stream-timeout-seconds SECS
                              idle time before a connection is closed (apidump's
                              default 10 s; 2 with --low-resource)
      --region REGION         AWS region (LEVO_AWS_REGION and the logs' region)
      --log-group NAME        CloudWatch log group, created if absent
      --cpu UNITS             CPU units, 1 vCPU = 1024 (default 256; 128 low-resource)
      --memory MIB            hard memory limit in MiB (default 128; 64 low-resource)
      --low-resource          the strict-budget profile: 128 units, 64 MiB and the
                              flags that fit them (rate limit, timeouts, body size,
                              buffer pool, flows, capture buffer, export queue)
      --spool                 keep batches the satellite cannot take on disk: mounts
                              the task volume pcap-sensor-spool at /var/spool/pcap-sensor
                              and sets --spool-dir (add {\"name\": \"pcap-sensor-spool\"}
                              to the task definition's volumes: on Fargate it is the
                              task's ephemeral storage)
      --spool-mb N            the spool's size in MiB (apidump's default 256)
  -h, --help                  this text

Everything after -- is appended to the entry point as apidump flags (checked
by apidump's own parser), e.g.  -- --filter 'not port 8888' --path-exclusions '^/health'
";

/// Parse the flags of `ecs container-definition` (the words after it).
/// `Ok(None)` means help was asked for.
pub fn parse_args(args: &[OsString]) -> Result<Option<SidecarOptions>, UsageError> {
    use lexopt::prelude::*;
    let mut o = SidecarOptions::default();
    // Everything after the first `--` is apidump flags, passed through as they are.
    let (own, extra) = match args.iter().position(|a| a == "--") {
        Some(i) => (&args[..i], &args[i + 1..]),
        None => (args, &[][..]),
    };
    let mut p = lexopt::Parser::from_args(own.iter().cloned());
    let text = |v: OsString, flag: &str| -> Result<String, UsageError> {
        v.into_string()
            .map_err(|_| UsageError(format!("{flag} expects UTF-8 text")))
    };
    let units = |v: OsString, flag: &str| -> Result<u32, UsageError> {
        let s = v.to_string_lossy().into_owned();
        s.trim().parse::<u32>().map_err(|_| {
            UsageError(format!(
                "{flag} expects a whole number, but got '{s}' (e.g. {flag} 128)"
            ))
        })
    };
    while let Some(arg) = p.next()? {
        match arg {
            Short('h') | Long("help") => return Ok(None),
            Long("image") => o.image = Some(text(p.value()?, "--image")?),
            Long("satellite-url") => {
                o.satellite_url = Some(text(p.value()?, "--satellite-url")?.trim().into())
            }
            Long("levo-env") => o.levo_env = Some(text(p.value()?, "--levo-env")?),
            Long("levoai-org-id") => o.org_id = Some(text(p.value()?, "--levoai-org-id")?),
            Long("rate-limit") => {
                let s = text(p.value()?, "--rate-limit")?;
                o.rate_limit = Some(s.trim().parse::<f64>().map_err(|_| {
                    UsageError(format!(
                        "--rate-limit expects traces per minute ≥ 0 (0 = no limit), e.g. --rate-limit 1000, but got '{s}'"
                    ))
                })?)
            }
            Long("trace-export-interval") => {
                let v = text(p.value()?, "--trace-export-interval")?;
                o.trace_export_interval = Some(cli::parse_duration("--trace-export-interval", &v)?)
            }
            Long("stream-timeout-seconds") => {
                let v = text(p.value()?, "--stream-timeout-seconds")?;
                o.stream_timeout_seconds =
                    Some(cli::parse_duration("--stream-timeout-seconds", &v)?)
            }
            Long("region") => o.region = Some(text(p.value()?, "--region")?),
            Long("log-group") => o.log_group = Some(text(p.value()?, "--log-group")?),
            Long("cpu") => o.cpu = Some(units(p.value()?, "--cpu")?),
            Long("memory") => o.memory = Some(units(p.value()?, "--memory")?),
            Long("low-resource") => o.low_resource = true,
            Long("spool") => o.spool = true,
            Long("spool-mb") => o.spool_mb = Some(units(p.value()?, "--spool-mb")?),
            Value(v) => {
                return Err(UsageError(format!(
                    "unexpected argument '{}' (apidump flags go after --, e.g. -- --filter 'not port 8888')",
                    v.to_string_lossy()
                )));
            }
            Long(f) => {
                return Err(UsageError(format!(
                    "unknown flag '--{f}' (see 'pcap-sensor ecs container-definition --help'; apidump flags go after --)"
                )));
            }
            Short(c) => {
                return Err(UsageError(format!(
                    "unknown flag '-{c}' (see 'pcap-sensor ecs container-definition --help')"
                )));
            }
        }
    }
    for v in extra {
        o.extra_args
            .push(text(v.clone(), "an apidump flag after --")?);
    }
    check(&o)?;
    Ok(Some(o))
}

/// `pcap-sensor ecs container-definition ...` (arguments after the subcommand).
pub fn main(args: &[OsString]) -> ExitCode {
    match parse_args(args) {
        Ok(None) => {
            print!("{HELP}");
            ExitCode::SUCCESS
        }
        Ok(Some(o)) => {
            print!("{}", render(&o));
            if o.spool {
                eprintln!(
                    "pcap-sensor: note: the task definition needs the volume {} in its \"volumes\" for the spool (on Fargate it is the task's ephemeral storage, 20 GiB unless set)",
                    spool_volume()
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("pcap-sensor: {e}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn order_of_the_entry_point() {
        let o = SidecarOptions {
            satellite_url: Some("http://sat:9999".into()),
            rate_limit: Some(50.0),
            trace_export_interval: Some(0.5),
            low_resource: true,
            extra_args: vec!["--filter".into(), "not port 8888".into()],
            ..SidecarOptions::default()
        };
        let e = entry_point(&o);
        assert_eq!(
            e[..4],
            [
                "./bin/init",
                "apidump",
                "--satellite-url",
                "http://sat:9999"
            ]
        );
        assert_eq!(
            e[8..15],
            [
                "--rate-limit",
                "50",
                "--keep-running",
                "--trace-export-interval",
                "0.5",
                "--stream-timeout-seconds",
                "2"
            ]
        );
        assert_eq!(e[15..15 + LOW_RESOURCE_FLAGS.len()], *LOW_RESOURCE_FLAGS);
        assert_eq!(e[e.len() - 2..], ["--filter", "not port 8888"]);
        let c = sidecar(&o);
        assert_eq!(
            (c["cpu"].as_u64(), c["memory"].as_u64()),
            (Some(128), Some(64))
        );
        assert!(is_sidecar(&c));
        assert!(render(&o).ends_with("}\n"));
    }

    #[test]
    fn standard_profile_has_placeholders_only() {
        let c = sidecar(&SidecarOptions::default());
        assert_eq!(entry_point(&SidecarOptions::default()).len(), 11);
        assert_eq!(c["image"], placeholder::IMAGE);
        assert_eq!(c["entryPoint"][9], placeholder::RATE_LIMIT);
        assert_eq!(
            (c["cpu"].as_u64(), c["memory"].as_u64()),
            (Some(256), Some(128))
        );
        assert_eq!(
            c["healthCheck"],
            json!({"command": ["CMD", "./bin/init", "health"], "interval": 30,
                   "timeout": 10, "retries": 3, "startPeriod": 15})
        );
    }

    /// The health check's numbers are in ECS's ranges, and its timeout
    /// leaves the command its whole wait.
    #[test]
    fn health_check_fits_ecs() {
        let h = HEALTH_CHECK;
        assert!((5..=300).contains(&h.interval));
        assert!((2..=60).contains(&h.timeout) && h.timeout < h.interval);
        assert!((1..=10).contains(&h.retries));
        assert!(h.start_period <= 300);
        assert!(f64::from(h.timeout) >= crate::health::STALL_SECS + 2.0);
        // The command is the one the image's entry point runs.
        assert!(matches!(
            crate::cli::parse(h.command[2..].iter().copied()),
            Ok(crate::cli::Command::Health(_))
        ));
        assert_eq!(h.command[..2], ["CMD", "./bin/init"]);
    }

    #[test]
    fn the_spool_mounts_its_volume_and_sets_the_flag() {
        let o = SidecarOptions {
            spool: true,
            spool_mb: Some(512),
            extra_args: vec!["--filter".into(), "not port 8888".into()],
            ..SidecarOptions::default()
        };
        let c = sidecar(&o);
        assert_eq!(
            c["mountPoints"],
            json!([{"sourceVolume": "pcap-sensor-spool", "containerPath": "/var/spool/pcap-sensor", "readOnly": false}])
        );
        assert_eq!(c["readonlyRootFilesystem"], true);
        let e = entry_point(&o);
        assert_eq!(
            e[e.len() - 6..],
            [
                "--spool-dir",
                SPOOL_PATH,
                "--spool-mb",
                "512",
                "--filter",
                "not port 8888"
            ]
        );
        assert_eq!(spool_volume()["name"], c["mountPoints"][0]["sourceVolume"]);
        check(&o).unwrap();
        assert_eq!(
            sidecar(&SidecarOptions::default())["mountPoints"],
            json!([])
        );
        for bad in [
            &["--spool-mb", "64"][..],
            &["--spool", "--spool-mb", "0"],
            &["--", "--spool-dir", "/x"],
            &["--spool", "--", "--spool-mb=5"],
        ] {
            assert!(parse_args(&os(bad)).is_err(), "{bad:?}");
        }
        let o = parse_args(&os(&["--spool", "--spool-mb", "64"]))
            .unwrap()
            .unwrap();
        assert_eq!((o.spool, o.spool_mb), (true, Some(64)));
    }

    #[test]
    fn numbers_as_terraform_writes_them() {
        assert_eq!(format_number(50.0), "50");
        assert_eq!(format_number(12.5), "12.5");
        assert_eq!(format_number(0.1), "0.1");
    }

    #[test]
    fn parse_and_check() {
        let o = parse_args(&os(&[
            "--region",
            "us-east-1",
            "--low-resource",
            "--",
            "--max-flows",
            "10",
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(o.region.as_deref(), Some("us-east-1"));
        assert!(o.low_resource);
        assert_eq!(o.extra_args, ["--max-flows", "10"]);
        assert!(parse_args(&os(&["-h"])).unwrap().is_none());
        for bad in [
            &["--region", "us_east_1"][..],
            &["--", "--rate-limit=5"],
            &["--", "--read-file", "x"],
            &["--stream-timeout-seconds", "soon"],
            &["--image", "has space"],
            &["--levo-env", " "],
        ] {
            assert!(parse_args(&os(bad)).is_err(), "{bad:?}");
        }
        // --ca-cert names a file inside the container: not looked for here.
        assert!(parse_args(&os(&["--", "--ca-cert", "/etc/ca.pem"])).is_ok());
    }
}
