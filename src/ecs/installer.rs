//! `pcap-sensor ecs add`: add the sensor to the services of an ECS task
//! family through the AWS API.
//!
//! One AWS call of the permission table per step ([`super::aws::PERMISSIONS`]):
//! region (`ec2:DescribeRegions`), cluster (`ecs:ListClusters`,
//! `ecs:DescribeClusters`), the cluster's services (`ecs:ListServices`,
//! `ecs:DescribeServices`), task family (`ecs:ListTaskDefinitionFamilies`),
//! its latest revision with tags (`ecs:DescribeTaskDefinition`); then, after
//! the plan is shown and accepted: the new revision
//! (`ecs:RegisterTaskDefinition`), the services moved to it
//! (`ecs:UpdateService`), marker tags (`ecs:TagResource`), and with `--wait`
//! the rollout followed (`ecs:DescribeServices`).
//!
//! On a terminal, what the flags leave open is asked with numbered menus and
//! the plan must be confirmed ("Proceed? [y/N]"). Without one, every value
//! comes from flags, and the missing ones are named in one usage error.
//! Everything that can be checked is checked before the first change.

use super::aws::{self, AwsError, Client};
use super::container_def::{self, SidecarOptions};
use super::creds::{self, Env};
use crate::cli::UsageError;
use serde_json::{Value, json};
use std::ffi::OsString;
use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub const HELP: &str = "\
pcap-sensor ecs add: add the sensor to an ECS task definition and move its services to it

usage: pcap-sensor ecs add [FLAGS] [-- APIDUMP FLAGS...]

Reads the latest revision of a task family, registers a new revision with every
setting kept and the sensor container appended, and updates the services that run
the family to it. On a terminal, what the flags leave open is asked, and the plan
is shown before anything changes. Without a terminal, every value below marked *
must be given.

AWS:
      --profile NAME          profile of ~/.aws/credentials and ~/.aws/config
                              (default: the keys in AWS_ACCESS_KEY_ID and
                              AWS_SECRET_ACCESS_KEY, else profile AWS_PROFILE,
                              else 'default')
  *   --region REGION         (default: AWS_REGION, AWS_DEFAULT_REGION, the profile's)
      --endpoint-url URL      send the API calls here instead (private endpoints,
                              tests); also AWS_ENDPOINT_URL[_ECS|_EC2]

what to change:
  *   --cluster NAME|ARN      the ECS cluster
  *   --task-family NAME      the task definition family (NAME:REVISION to start
                              from that revision instead of the latest)
  *   --service NAME          a service of the cluster that runs the family
                              (repeatable; on a terminal: chosen from a list)

the sensor container (see 'pcap-sensor ecs container-definition --help'):
  *   --image REF             the sensor's image, e.g. an ECR repository:tag
  *   --satellite-url URL     where traces go, http(s)://host:port
  *   --levo-env ENV          deployment environment, e.g. staging
  *   --levoai-org-id ID      organisation id
  *   --rate-limit N          traces per minute (0 = no limit)
      --log-group NAME        CloudWatch log group (default /ecs/FAMILY-pcap)
      --cpu UNITS, --memory MIB, --low-resource
                              size (default 256 units and 128 MiB; --low-resource:
                              128 and 64, with flags that fit)

behaviour:
  *   --yes, -y               go ahead without asking (needed without a terminal)
      --dry-run               print the new task definition (JSON, on stdout) and
                              the plan; change nothing
      --force                 add the sensor even where it cannot see the traffic
                              (bridge or none network mode)
      --wait                  follow the services' rollout until it completes or fails
      --wait-timeout SECS     give up waiting after SECS (default 900)
      --poll-interval SECS    time between rollout checks (default 10)
  -h, --help                  this text

Everything after -- is appended to the sensor's apidump flags, e.g.
  -- --filter 'not port 8888'

IAM permissions used: ec2:DescribeRegions, ecs:ListClusters, ecs:DescribeClusters,
ecs:ListTaskDefinitionFamilies, ecs:DescribeTaskDefinition, ecs:RegisterTaskDefinition,
ecs:ListServices, ecs:DescribeServices, ecs:UpdateService, ecs:TagResource
(the AmazonECS_FullAccess policy has them all).
";

/// Tag put on the new revision and the updated services: value `family:revision`.
pub const TAG_KEY: &str = "pcap-sensor:sidecar";
/// Tag with the time of the change (RFC 3339, seconds).
pub const TAG_TIME_KEY: &str = "pcap-sensor:added-at";

/// Fields of `DescribeTaskDefinition` that `RegisterTaskDefinition` takes.
pub const WRITABLE_FIELDS: &[&str] = &[
    "containerDefinitions",
    "cpu",
    "enableFaultInjection",
    "ephemeralStorage",
    "executionRoleArn",
    "family",
    "inferenceAccelerators",
    "ipcMode",
    "memory",
    "networkMode",
    "pidMode",
    "placementConstraints",
    "proxyConfiguration",
    "requiresCompatibilities",
    "runtimePlatform",
    "taskRoleArn",
    "trustedExecutionConfiguration",
    "volumes",
];

/// Fields `DescribeTaskDefinition` returns that are AWS's own (not sent back).
pub const READ_ONLY_FIELDS: &[&str] = &[
    "compatibilities",
    "deleteRequestedAt",
    "deregisteredAt",
    "registeredAt",
    "registeredBy",
    "requiresAttributes",
    "revision",
    "status",
    "taskDefinitionArn",
];

/// The settings of one run.
#[derive(Debug, Clone)]
pub struct AddArgs {
    pub profile: Option<String>,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
    pub cluster: Option<String>,
    pub task_family: Option<String>,
    pub services: Vec<String>,
    /// The sensor container (its `region` is filled in from the region chosen).
    pub sidecar: SidecarOptions,
    pub yes: bool,
    pub dry_run: bool,
    pub force: bool,
    pub wait: bool,
    pub wait_timeout: f64,
    pub poll_interval: f64,
}

impl Default for AddArgs {
    fn default() -> Self {
        AddArgs {
            profile: None,
            region: None,
            endpoint_url: None,
            cluster: None,
            task_family: None,
            services: Vec::new(),
            sidecar: SidecarOptions::default(),
            yes: false,
            dry_run: false,
            force: false,
            wait: false,
            wait_timeout: 900.0,
            poll_interval: 10.0,
        }
    }
}

/// Parse the words after `ecs add`. `Ok(None)`: help was asked for.
pub fn parse_args(args: &[OsString]) -> Result<Option<AddArgs>, UsageError> {
    use lexopt::prelude::*;
    let mut a = AddArgs::default();
    let (own, extra) = match args.iter().position(|x| x == "--") {
        Some(i) => (&args[..i], &args[i + 1..]),
        None => (args, &[][..]),
    };
    let text = |v: OsString, flag: &str| -> Result<String, UsageError> {
        let s = v
            .into_string()
            .map_err(|_| UsageError(format!("{flag} expects UTF-8 text")))?;
        let s = s.trim().to_string();
        if s.is_empty() {
            return Err(UsageError(format!("{flag} cannot be empty")));
        }
        Ok(s)
    };
    let units = |v: OsString, flag: &str| -> Result<u32, UsageError> {
        let s = v.to_string_lossy().into_owned();
        match s.trim().parse::<u32>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(UsageError(format!(
                "{flag} expects a whole number greater than 0, but got '{s}' (e.g. {flag} 128)"
            ))),
        }
    };
    let secs = |v: OsString, flag: &str| -> Result<f64, UsageError> {
        let s = v.to_string_lossy().into_owned();
        match s.trim().parse::<f64>() {
            Ok(x) if x.is_finite() && x > 0.0 => Ok(x),
            _ => Err(UsageError(format!(
                "{flag} expects a number of seconds greater than 0, but got '{s}' (e.g. {flag} 10)"
            ))),
        }
    };
    let mut p = lexopt::Parser::from_args(own.iter().cloned());
    while let Some(arg) = p.next()? {
        match arg {
            Short('h') | Long("help") => return Ok(None),
            Long("profile") => a.profile = Some(text(p.value()?, "--profile")?),
            Long("region") => a.region = Some(text(p.value()?, "--region")?),
            Long("endpoint-url") => {
                let u = text(p.value()?, "--endpoint-url")?;
                aws::Endpoint::parse(&u).map_err(|e| UsageError(format!("--endpoint-url: {e}")))?;
                a.endpoint_url = Some(u);
            }
            Long("cluster") => a.cluster = Some(text(p.value()?, "--cluster")?),
            Long("task-family") => a.task_family = Some(text(p.value()?, "--task-family")?),
            Long("service") => a.services.push(text(p.value()?, "--service")?),
            Long("image") => a.sidecar.image = Some(text(p.value()?, "--image")?),
            Long("satellite-url") => {
                a.sidecar.satellite_url = Some(text(p.value()?, "--satellite-url")?)
            }
            Long("levo-env") => a.sidecar.levo_env = Some(text(p.value()?, "--levo-env")?),
            Long("levoai-org-id") => a.sidecar.org_id = Some(text(p.value()?, "--levoai-org-id")?),
            Long("rate-limit") => {
                a.sidecar.rate_limit = Some(parse_rate(&text(p.value()?, "--rate-limit")?)?)
            }
            Long("log-group") => a.sidecar.log_group = Some(text(p.value()?, "--log-group")?),
            Long("cpu") => a.sidecar.cpu = Some(units(p.value()?, "--cpu")?),
            Long("memory") => a.sidecar.memory = Some(units(p.value()?, "--memory")?),
            Long("low-resource") => a.sidecar.low_resource = true,
            Short('y') | Long("yes") => a.yes = true,
            Long("dry-run") => a.dry_run = true,
            Long("force") => a.force = true,
            Long("wait") => a.wait = true,
            Long("wait-timeout") => a.wait_timeout = secs(p.value()?, "--wait-timeout")?,
            Long("poll-interval") => a.poll_interval = secs(p.value()?, "--poll-interval")?,
            Value(v) => {
                return Err(UsageError(format!(
                    "unexpected argument '{}' (flags start with --; apidump flags go after --)",
                    v.to_string_lossy()
                )));
            }
            Long(f) => {
                return Err(UsageError(format!(
                    "unknown flag '--{f}' (see 'pcap-sensor ecs add --help'; apidump flags go after --)"
                )));
            }
            Short(c) => {
                return Err(UsageError(format!(
                    "unknown flag '-{c}' (see 'pcap-sensor ecs add --help')"
                )));
            }
        }
    }
    for v in extra {
        a.sidecar.extra_args.push(
            v.clone()
                .into_string()
                .map_err(|_| UsageError("apidump flags after -- must be UTF-8 text".into()))?,
        );
    }
    let mut probe = a.sidecar.clone();
    probe.region = a.region.clone();
    container_def::check(&probe)?;
    Ok(Some(a))
}

fn parse_rate(s: &str) -> Result<f64, UsageError> {
    match s.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && x >= 0.0 => Ok(x),
        _ => Err(UsageError(format!(
            "--rate-limit expects traces per minute ≥ 0 (0 = no limit), e.g. --rate-limit 1000, but got '{s}'"
        ))),
    }
}

/// Why the command stopped.
#[derive(Debug)]
pub enum Fail {
    /// Bad or missing flags: exit code 2.
    Usage(String),
    /// Anything else (AWS errors, refusals, a "no"): exit code 1.
    Error(String),
}

impl From<AwsError> for Fail {
    fn from(e: AwsError) -> Self {
        Fail::Error(e.to_string())
    }
}

impl From<UsageError> for Fail {
    fn from(e: UsageError) -> Self {
        Fail::Usage(e.0)
    }
}

/// Questions and answers on a terminal (or, in tests, any reader).
pub struct Ui<'a> {
    pub interactive: bool,
    input: Box<dyn BufRead + 'a>,
}

impl<'a> Ui<'a> {
    pub fn new(interactive: bool, input: Box<dyn BufRead + 'a>) -> Ui<'a> {
        Ui { interactive, input }
    }

    fn say(&self, msg: &str) {
        eprintln!("{msg}");
    }

    fn ask(&mut self, prompt: &str) -> Result<String, Fail> {
        eprint!("{prompt}");
        let _ = std::io::stderr().flush();
        let mut line = String::new();
        match self.input.read_line(&mut line) {
            Ok(0) => Err(Fail::Error(
                "no answer (input closed): nothing was changed".into(),
            )),
            Ok(_) => Ok(line.trim().to_string()),
            Err(e) => Err(Fail::Error(format!("cannot read the answer: {e}"))),
        }
    }

    /// Pick one of `items` by number. One item is taken without asking.
    fn choose(&mut self, what: &str, items: &[String]) -> Result<usize, Fail> {
        if items.len() == 1 {
            self.say(&format!("{what}: {} (the only one)", items[0]));
            return Ok(0);
        }
        self.say(&format!("{what}:"));
        for (i, it) in items.iter().enumerate() {
            self.say(&format!("  {:>3}) {it}", i + 1));
        }
        loop {
            let a = self.ask(&format!("{what} [1-{}]: ", items.len()))?;
            match a.parse::<usize>() {
                Ok(n) if (1..=items.len()).contains(&n) => return Ok(n - 1),
                _ => self.say(&format!("  please type a number from 1 to {}", items.len())),
            }
        }
    }

    /// Pick some of `items`: numbers separated by spaces or commas, or
    /// Enter for all. One item is taken without asking.
    fn choose_many(&mut self, what: &str, items: &[String]) -> Result<Vec<usize>, Fail> {
        if items.len() == 1 {
            self.say(&format!("{what}: {} (the only one)", items[0]));
            return Ok(vec![0]);
        }
        self.say(&format!("{what}:"));
        for (i, it) in items.iter().enumerate() {
            self.say(&format!("  {:>3}) {it}", i + 1));
        }
        'ask: loop {
            let a = self.ask(&format!(
                "{what} to update [numbers, e.g. 1 3; Enter = all {}]: ",
                items.len()
            ))?;
            if a.is_empty() || a.eq_ignore_ascii_case("all") {
                return Ok((0..items.len()).collect());
            }
            let mut out = Vec::new();
            for w in a.split([' ', ',']).filter(|w| !w.is_empty()) {
                match w.parse::<usize>() {
                    Ok(n) if (1..=items.len()).contains(&n) => {
                        if !out.contains(&(n - 1)) {
                            out.push(n - 1)
                        }
                    }
                    _ => {
                        self.say(&format!(
                            "  '{w}' is not a number from 1 to {}",
                            items.len()
                        ));
                        continue 'ask;
                    }
                }
            }
            return Ok(out);
        }
    }

    /// A value typed in, checked by `check` (asked again until it passes).
    fn text(
        &mut self,
        prompt: &str,
        default: Option<&str>,
        check: &dyn Fn(&str) -> Result<(), String>,
    ) -> Result<String, Fail> {
        loop {
            let p = match default {
                Some(d) => format!("{prompt} [{d}]: "),
                None => format!("{prompt}: "),
            };
            let mut a = self.ask(&p)?;
            if a.is_empty()
                && let Some(d) = default
            {
                a = d.to_string();
            }
            if a.is_empty() {
                self.say("  a value is needed");
                continue;
            }
            match check(&a) {
                Ok(()) => return Ok(a),
                Err(e) => self.say(&format!("  {e}")),
            }
        }
    }

    fn confirm(&mut self, prompt: &str) -> Result<bool, Fail> {
        let a = self.ask(&format!("{prompt} [y/N] "))?;
        Ok(matches!(a.to_ascii_lowercase().as_str(), "y" | "yes"))
    }
}

/// `pcap-sensor ecs add ...` (the words after `add`).
pub fn main(args: &[OsString]) -> ExitCode {
    let a = match parse_args(args) {
        Ok(None) => {
            print!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Ok(Some(a)) => a,
        Err(e) => {
            eprintln!("pcap-sensor: {e}");
            return ExitCode::from(2);
        }
    };
    let stdin = std::io::stdin();
    let interactive = stdin.is_terminal();
    let mut ui = Ui::new(interactive, Box::new(stdin.lock()));
    match run(&a, &mut ui, &creds::process_env) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Fail::Usage(m)) => {
            eprintln!("pcap-sensor: {m}");
            ExitCode::from(2)
        }
        Err(Fail::Error(m)) => {
            eprintln!("pcap-sensor: {m}");
            ExitCode::from(1)
        }
    }
}

/// The flags that must be given when there is no terminal to ask on.
pub fn missing_flags(a: &AddArgs, region_known: bool) -> Vec<&'static str> {
    let mut m = Vec::new();
    if !region_known {
        m.push("--region");
    }
    if a.cluster.is_none() {
        m.push("--cluster");
    }
    if a.task_family.is_none() {
        m.push("--task-family");
    }
    if a.services.is_empty() {
        m.push("--service");
    }
    let s = &a.sidecar;
    if s.image.is_none() {
        m.push("--image");
    }
    if s.satellite_url.is_none() {
        m.push("--satellite-url");
    }
    if s.levo_env.is_none() {
        m.push("--levo-env");
    }
    if s.org_id.is_none() {
        m.push("--levoai-org-id");
    }
    if s.rate_limit.is_none() {
        m.push("--rate-limit");
    }
    if !a.yes && !a.dry_run {
        m.push("--yes");
    }
    m
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn rfc3339_secs(unix: u64) -> String {
    let mut b = Vec::new();
    crate::json::write_rfc3339(&mut b, unix * 1_000_000);
    let s = String::from_utf8_lossy(&b).into_owned();
    format!("{}Z", &s[..19])
}

fn s<'v>(v: &'v Value, key: &str) -> Option<&'v str> {
    v.get(key).and_then(Value::as_str)
}

/// `arn:aws:ecs:r:a:task-definition/web:7` (or `web:7`) → ("web", Some(7)).
pub fn family_of(td_ref: &str) -> (String, Option<u64>) {
    let tail = td_ref.rsplit('/').next().unwrap_or(td_ref);
    match tail.rsplit_once(':') {
        Some((f, r)) if r.parse::<u64>().is_ok() => (f.to_string(), r.parse().ok()),
        _ => (tail.to_string(), None),
    }
}

fn short_td(td_ref: &str) -> String {
    match family_of(td_ref) {
        (f, Some(r)) => format!("{f}:{r}"),
        (f, None) => f,
    }
}

/// Shown instead of the access key id: its last four characters.
fn masked(key_id: &str) -> String {
    let n = key_id.chars().count();
    let tail: String = key_id.chars().skip(n.saturating_sub(4)).collect();
    format!("****{tail}")
}

/// The `RegisterTaskDefinition` request: the writable fields of `td`, its
/// tags, and `sidecar` appended to the containers. Also returns the fields
/// that were neither known writable nor known read-only (not copied).
pub fn new_task_definition(td: &Value, tags: &Value, sidecar: &Value) -> (Value, Vec<String>) {
    let mut out = serde_json::Map::new();
    let mut unknown = Vec::new();
    if let Some(obj) = td.as_object() {
        for (k, v) in obj {
            if WRITABLE_FIELDS.contains(&k.as_str()) {
                if !v.is_null() {
                    out.insert(k.clone(), v.clone());
                }
            } else if !READ_ONLY_FIELDS.contains(&k.as_str()) {
                unknown.push(k.clone());
            }
        }
    }
    let containers = out
        .entry("containerDefinitions")
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(list) = containers {
        list.push(sidecar.clone());
    }
    if let Some(t) = tags.as_array()
        && !t.is_empty()
    {
        out.insert("tags".into(), tags.clone());
    }
    (Value::Object(out), unknown)
}

fn num(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The network mode ECS uses: absent means `bridge` on EC2 (`awsvpc` is
/// required on Fargate, so it is never absent there).
pub fn network_mode(td: &Value) -> String {
    s(td, "networkMode").unwrap_or("bridge").to_string()
}

fn on_fargate(td: &Value) -> bool {
    let has = |key: &str| {
        td.get(key)
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|c| c == "FARGATE"))
    };
    has("requiresCompatibilities")
}

/// The sensor's container in `td`, if it has one: by name, or by the image
/// repository of `sidecar` (whatever the tag).
pub fn sensor_container<'t>(td: &'t Value, sidecar: &Value) -> Option<&'t Value> {
    let image = s(sidecar, "image").unwrap_or("");
    let repo = |i: &str| {
        let i = i.split('@').next().unwrap_or(i);
        match i.rsplit_once(':') {
            Some((r, tag)) if !tag.contains('/') => r.to_string(),
            _ => i.to_string(),
        }
    };
    td.get("containerDefinitions")?
        .as_array()?
        .iter()
        .find(|c| {
            container_def::is_sidecar(c)
                || (!image.is_empty() && s(c, "image").map(repo) == Some(repo(image)))
        })
}

/// Reasons not to add the sensor to `td` (the first that applies), with the
/// way out. `force` allows network modes where it sees nothing.
pub fn refusal(td: &Value, sidecar: &Value, force: bool) -> Result<Vec<String>, String> {
    let name = format!(
        "{}:{}",
        s(td, "family").unwrap_or("?"),
        num(td.get("revision")).unwrap_or(0)
    );
    let containers = td
        .get("containerDefinitions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if let Some(c) = sensor_container(td, sidecar) {
        return Err(format!(
            "task definition {name} already has the sensor (container '{}', image {}): nothing to do. \
             To change its settings, register a revision without that container (console or \
             'aws ecs register-task-definition'), then run 'pcap-sensor ecs add' again",
            s(c, "name").unwrap_or("?"),
            s(c, "image").unwrap_or("?")
        ));
    }
    let mut warnings = Vec::new();
    let mode = network_mode(td);
    if mode == "bridge" || mode == "none" {
        let why = format!(
            "task definition {name} uses the '{mode}' network mode{}: each container gets its own \
             network namespace there, so the sensor would not see the application's traffic",
            if td.get("networkMode").is_none() {
                " (the default on EC2)"
            } else {
                ""
            }
        );
        if !force {
            return Err(format!(
                "{why}. Move the task to the awsvpc (or host) network mode first, \
                 or pass --force to add the sensor anyway"
            ));
        }
        warnings.push(format!("{why}; adding it anyway (--force)"));
    }
    if on_fargate(td) && s(td, "executionRoleArn").is_none() {
        return Err(format!(
            "task definition {name} runs on Fargate without a task execution role, which the \
             sensor's awslogs log driver needs: set executionRoleArn (e.g. ecsTaskExecutionRole) \
             in the task definition first"
        ));
    }
    // Room in the task's CPU and memory for the sensor.
    let used = |key: &str, alt: Option<&str>| -> u64 {
        containers
            .iter()
            .map(|c| {
                num(c.get(key))
                    .or_else(|| alt.and_then(|a| num(c.get(a))))
                    .unwrap_or(0)
            })
            .sum()
    };
    let need_cpu = num(sidecar.get("cpu")).unwrap_or(0);
    let need_mem = num(sidecar.get("memory")).unwrap_or(0);
    if let Some(task_cpu) = num(td.get("cpu")) {
        let have = task_cpu.saturating_sub(used("cpu", None));
        if need_cpu > have {
            return Err(format!(
                "task definition {name} has {task_cpu} CPU units and its containers reserve {}, \
                 which leaves {have} for the sensor's {need_cpu}: pass --cpu {have} or less \
                 (or --low-resource), or give the task more CPU",
                task_cpu - have
            ));
        }
    }
    if let Some(task_mem) = num(td.get("memory")) {
        let have = task_mem.saturating_sub(used("memory", Some("memoryReservation")));
        if need_mem > have {
            return Err(format!(
                "task definition {name} has {task_mem} MiB and its containers reserve {}, \
                 which leaves {have} MiB for the sensor's {need_mem} MiB: pass --memory {have} or \
                 less (or --low-resource), or give the task more memory",
                task_mem - have
            ));
        }
    }
    Ok(warnings)
}

/// [`refusal`], and when the sensor is already in `td` while services of
/// the family still run an older revision, how to move them.
fn check_task(
    td: &Value,
    sidecar: &Value,
    force: bool,
    of_family: &[&Value],
    base: &str,
    cluster: &str,
) -> Result<Vec<String>, Fail> {
    refusal(td, sidecar, force).map_err(|m| {
        let behind: Vec<&str> = of_family
            .iter()
            .filter(|svc| short_td(s(svc, "taskDefinition").unwrap_or("")) != base)
            .filter_map(|svc| s(svc, "serviceName"))
            .collect();
        if sensor_container(td, sidecar).is_some() && !behind.is_empty() {
            Fail::Error(format!(
                "{m}. ({} still run{} an older revision: 'aws ecs update-service --cluster {cluster} \
                 --service NAME --task-definition {base}' moves {})",
                behind.join(", "),
                if behind.len() == 1 { "s" } else { "" },
                if behind.len() == 1 { "it" } else { "them" }
            ))
        } else {
            Fail::Error(m)
        }
    })
}

/// The region, asked for or checked against `ec2:DescribeRegions`.
fn choose_region(
    known: Option<(String, String)>,
    probe: &Client,
    ui: &mut Ui,
    endpoint_override: bool,
) -> Result<Client, Fail> {
    let listed = match probe.describe_regions() {
        Ok(list) if !list.is_empty() => Some(list),
        Ok(_) => None,
        Err(e) if e.code().is_some() && !e.is_bad_credentials() => {
            crate::log::warn(&format!(
                "{e}; {}",
                if known.is_some() {
                    "using the region as given"
                } else {
                    "offering a built-in list of regions"
                }
            ));
            None
        }
        Err(e) => return Err(e.into()),
    };
    let region = match known {
        Some((r, from)) => {
            if let Some(list) = &listed
                && !list.contains(&r)
            {
                return Err(Fail::Error(format!(
                    "region '{r}' (from {from}) is not enabled for this account: enabled are {}",
                    list.join(", ")
                )));
            }
            ui.say(&format!("region: {r} (from {from})"));
            r
        }
        None => {
            let list: Vec<String> = listed
                .unwrap_or_else(|| aws::BUILTIN_REGIONS.iter().map(|r| r.to_string()).collect());
            let i = ui.choose("Region", &list)?;
            list[i].clone()
        }
    };
    Ok(probe.for_region(&region, endpoint_override))
}

/// A cluster: its ARN and name.
struct Cluster {
    arn: String,
    name: String,
}

fn describe_clusters(c: &Client, ids: &[String]) -> Result<Vec<Value>, AwsError> {
    let mut out = Vec::new();
    for chunk in ids.chunks(100) {
        let r = c.ecs("DescribeClusters", &json!({ "clusters": chunk }))?;
        if let Some(list) = r.get("clusters").and_then(Value::as_array) {
            out.extend(list.iter().cloned());
        }
    }
    Ok(out)
}

fn choose_cluster(a: &AddArgs, c: &Client, ui: &mut Ui) -> Result<Cluster, Fail> {
    if let Some(want) = &a.cluster {
        let found = describe_clusters(c, std::slice::from_ref(want))?;
        if let Some(cl) = found.iter().find(|x| s(x, "status") == Some("ACTIVE")) {
            let cl = Cluster {
                arn: s(cl, "clusterArn").unwrap_or(want).to_string(),
                name: s(cl, "clusterName").unwrap_or(want).to_string(),
            };
            ui.say(&format!("cluster: {}", cl.name));
            return Ok(cl);
        }
        // Say which clusters there are (if they can be listed).
        let there = c
            .ecs_all("ListClusters", &json!({"maxResults": 100}), "clusterArns")
            .map(|arns| {
                let names: Vec<String> = arns
                    .iter()
                    .filter_map(Value::as_str)
                    .map(|x| x.rsplit('/').next().unwrap_or(x).to_string())
                    .collect();
                if names.is_empty() {
                    " (there are no clusters there)".to_string()
                } else {
                    format!(" (clusters there: {})", names.join(", "))
                }
            })
            .unwrap_or_default();
        return Err(Fail::Error(format!(
            "cluster '{want}' not found in {}{there}",
            c.region
        )));
    }
    let arns: Vec<String> = c
        .ecs_all("ListClusters", &json!({"maxResults": 100}), "clusterArns")?
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    if arns.is_empty() {
        return Err(Fail::Error(format!(
            "there are no ECS clusters in {} (another region? --region)",
            c.region
        )));
    }
    let mut clusters = describe_clusters(c, &arns)?;
    clusters.retain(|x| s(x, "status") != Some("INACTIVE"));
    clusters.sort_by(|x, y| s(x, "clusterName").cmp(&s(y, "clusterName")));
    let labels: Vec<String> = clusters
        .iter()
        .map(|x| {
            let services = num(x.get("activeServicesCount")).unwrap_or(0);
            let tasks = num(x.get("runningTasksCount")).unwrap_or(0);
            format!(
                "{}  ({services} service{}, {tasks} running task{})",
                s(x, "clusterName").unwrap_or("?"),
                if services == 1 { "" } else { "s" },
                if tasks == 1 { "" } else { "s" }
            )
        })
        .collect();
    if labels.is_empty() {
        return Err(Fail::Error(format!(
            "there are no active ECS clusters in {}",
            c.region
        )));
    }
    let i = ui.choose("Cluster", &labels)?;
    Ok(Cluster {
        arn: s(&clusters[i], "clusterArn").unwrap_or("").to_string(),
        name: s(&clusters[i], "clusterName").unwrap_or("").to_string(),
    })
}

/// Every active service of the cluster, described.
fn cluster_services(c: &Client, cluster: &Cluster) -> Result<Vec<Value>, AwsError> {
    let arns: Vec<String> = c
        .ecs_all(
            "ListServices",
            &json!({"cluster": cluster.arn, "maxResults": 100}),
            "serviceArns",
        )?
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    let mut out = Vec::new();
    for chunk in arns.chunks(10) {
        let r = c.ecs(
            "DescribeServices",
            &json!({"cluster": cluster.arn, "services": chunk}),
        )?;
        if let Some(list) = r.get("services").and_then(Value::as_array) {
            out.extend(
                list.iter()
                    .filter(|x| s(x, "status") != Some("INACTIVE"))
                    .cloned(),
            );
        }
    }
    out.sort_by(|x, y| s(x, "serviceName").cmp(&s(y, "serviceName")));
    Ok(out)
}

fn service_family(svc: &Value) -> String {
    family_of(s(svc, "taskDefinition").unwrap_or("")).0
}

fn choose_family(a: &AddArgs, c: &Client, services: &[Value], ui: &mut Ui) -> Result<String, Fail> {
    if let Some(f) = &a.task_family {
        return Ok(f.clone());
    }
    let mut families: Vec<String> = c
        .ecs_all(
            "ListTaskDefinitionFamilies",
            &json!({"status": "ACTIVE", "maxResults": 100}),
            "families",
        )?
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    if families.is_empty() {
        return Err(Fail::Error(format!(
            "there are no active task definition families in {}",
            c.region
        )));
    }
    // Families that services of the cluster run come first.
    let users = |f: &str| -> Vec<String> {
        services
            .iter()
            .filter(|x| service_family(x) == f)
            .filter_map(|x| s(x, "serviceName").map(str::to_string))
            .collect()
    };
    families.sort_by_key(|f| (users(f).is_empty(), f.clone()));
    let labels: Vec<String> = families
        .iter()
        .map(|f| {
            let u = users(f);
            if u.is_empty() {
                format!("{f}  (no service of this cluster)")
            } else {
                format!("{f}  (services: {})", u.join(", "))
            }
        })
        .collect();
    let i = ui.choose("Task family", &labels)?;
    Ok(families[i].clone())
}

fn choose_services(
    a: &AddArgs,
    cluster: &Cluster,
    family: &str,
    services: &[Value],
    ui: &mut Ui,
) -> Result<Vec<Value>, Fail> {
    let list_all = || -> String {
        if services.is_empty() {
            "it has no services".into()
        } else {
            format!(
                "its services: {}",
                services
                    .iter()
                    .map(|x| format!(
                        "{} (runs {})",
                        s(x, "serviceName").unwrap_or("?"),
                        short_td(s(x, "taskDefinition").unwrap_or("?"))
                    ))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    };
    let chosen: Vec<Value> = if !a.services.is_empty() {
        let mut out = Vec::new();
        for want in &a.services {
            let Some(svc) = services
                .iter()
                .find(|x| s(x, "serviceName") == Some(want) || s(x, "serviceArn") == Some(want))
            else {
                return Err(Fail::Error(format!(
                    "service '{want}' is not in cluster {} ({})",
                    cluster.name,
                    list_all()
                )));
            };
            if service_family(svc) != family {
                return Err(Fail::Error(format!(
                    "service '{want}' runs {}, not task family {family}: choose the family it runs \
                     (--task-family {}) or another service",
                    short_td(s(svc, "taskDefinition").unwrap_or("?")),
                    service_family(svc)
                )));
            }
            out.push(svc.clone());
        }
        out
    } else {
        let using: Vec<&Value> = services
            .iter()
            .filter(|x| service_family(x) == family)
            .collect();
        if using.is_empty() {
            return Err(Fail::Error(format!(
                "no service of cluster {} runs task family {family} ({}): nothing would use the \
                 new revision",
                cluster.name,
                list_all()
            )));
        }
        let labels: Vec<String> = using
            .iter()
            .map(|x| {
                format!(
                    "{}  (runs {}, {} of {} tasks running)",
                    s(x, "serviceName").unwrap_or("?"),
                    short_td(s(x, "taskDefinition").unwrap_or("?")),
                    num(x.get("runningCount")).unwrap_or(0),
                    num(x.get("desiredCount")).unwrap_or(0)
                )
            })
            .collect();
        ui.choose_many("Services", &labels)?
            .into_iter()
            .map(|i| using[i].clone())
            .collect()
    };
    for svc in &chosen {
        let ctl = svc
            .pointer("/deploymentController/type")
            .and_then(Value::as_str)
            .unwrap_or("ECS");
        if ctl != "ECS" {
            return Err(Fail::Error(format!(
                "service '{}' uses the {ctl} deployment controller, whose deployments ECS's \
                 UpdateService cannot start: register the revision with --dry-run's JSON and \
                 deploy it through {}",
                s(svc, "serviceName").unwrap_or("?"),
                if ctl == "CODE_DEPLOY" {
                    "CodeDeploy"
                } else {
                    "your deployment controller"
                }
            )));
        }
    }
    Ok(chosen)
}

/// Values of the sensor container that the flags left open, asked for.
fn complete_sidecar(
    a: &AddArgs,
    family: &str,
    region: &str,
    ui: &mut Ui,
) -> Result<SidecarOptions, Fail> {
    let mut o = a.sidecar.clone();
    o.region = Some(region.to_string());
    if o.log_group.is_none() {
        o.log_group = Some(format!("/ecs/{}-pcap", family.replace(':', "-")));
    }
    // A typed value is checked the way the flag would be.
    let check_with = |base: &SidecarOptions, f: &dyn Fn(&mut SidecarOptions)| {
        let mut probe = base.clone();
        f(&mut probe);
        container_def::check(&probe).map_err(|e| e.0)
    };
    if o.image.is_none() {
        let base = o.clone();
        let v = ui.text(
            "Sensor image (--image, e.g. 123456789012.dkr.ecr.us-west-2.amazonaws.com/pcap-sensor:TAG)",
            None,
            &|v| check_with(&base, &|p| p.image = Some(v.to_string())),
        )?;
        o.image = Some(v);
    }
    if o.satellite_url.is_none() {
        let base = o.clone();
        let v = ui.text(
            "Satellite URL (--satellite-url, http(s)://host:port)",
            None,
            &|v| check_with(&base, &|p| p.satellite_url = Some(v.to_string())),
        )?;
        o.satellite_url = Some(v);
    }
    if o.levo_env.is_none() {
        let v = ui.text("Environment (--levo-env)", Some("staging"), &|_| Ok(()))?;
        o.levo_env = Some(v);
    }
    if o.org_id.is_none() {
        let v = ui.text("Organisation id (--levoai-org-id)", None, &|_| Ok(()))?;
        o.org_id = Some(v);
    }
    if o.rate_limit.is_none() {
        let v = ui.text(
            "Traces per minute (--rate-limit, 0 = no limit)",
            Some("1000"),
            &|v| parse_rate(v).map(|_| ()).map_err(|e| e.0),
        )?;
        o.rate_limit = Some(parse_rate(&v)?);
    }
    container_def::check(&o)?;
    Ok(o)
}

/// Everything decided before the first change.
struct Plan {
    region: String,
    cluster: Cluster,
    base: String,
    request: Value,
    services: Vec<Value>,
    sidecar: SidecarOptions,
    warnings: Vec<String>,
}

fn show_plan(p: &Plan, a: &AddArgs, ui: &Ui) {
    let o = &p.sidecar;
    let sc = &p.request["containerDefinitions"]
        .as_array()
        .and_then(|l| l.last().cloned())
        .unwrap_or(Value::Null);
    let mut lines = vec![
        "Plan:".to_string(),
        format!("  region     {}", p.region),
        format!("  cluster    {}", p.cluster.name),
        format!(
            "  1. register a new revision of {} = {} + container '{}'",
            family_of(&p.base).0,
            p.base,
            container_def::SIDECAR_NAME
        ),
        format!(
            "       image {}, {} CPU units, {} MiB",
            o.image.as_deref().unwrap_or("?"),
            num(sc.get("cpu")).unwrap_or(0),
            num(sc.get("memory")).unwrap_or(0)
        ),
        format!(
            "       satellite {}, environment {}, org {}, {} traces/min",
            o.satellite_url.as_deref().unwrap_or("?"),
            o.levo_env.as_deref().unwrap_or("?"),
            o.org_id.as_deref().unwrap_or("?"),
            o.rate_limit
                .map(container_def::format_number)
                .unwrap_or_else(|| "?".into())
        ),
        format!(
            "       logs to CloudWatch group {} (created if absent)",
            o.log_group.as_deref().unwrap_or("?")
        ),
    ];
    if !o.extra_args.is_empty() {
        lines.push(format!("       apidump flags: {}", o.extra_args.join(" ")));
    }
    for svc in &p.services {
        lines.push(format!(
            "  2. update service {} (runs {}) to the new revision",
            s(svc, "serviceName").unwrap_or("?"),
            short_td(s(svc, "taskDefinition").unwrap_or("?"))
        ));
    }
    lines.push(format!(
        "  3. tag the new revision and the service{} with {TAG_KEY}",
        if p.services.len() == 1 { "" } else { "s" }
    ));
    if a.wait {
        lines.push(format!(
            "  4. wait for the rollout (up to {} s)",
            a.wait_timeout
        ));
    }
    for w in &p.warnings {
        lines.push(format!("  note: {w}"));
    }
    ui.say(&lines.join("\n"));
}

/// The whole command.
pub fn run(a: &AddArgs, ui: &mut Ui, env: Env) -> Result<(), Fail> {
    let known_region =
        creds::region(a.region.as_deref(), a.profile.as_deref(), env).map_err(Fail::Error)?;
    if !ui.interactive {
        let missing = missing_flags(a, known_region.is_some());
        if !missing.is_empty() {
            return Err(Fail::Usage(format!(
                "no terminal to ask on, so these flags are needed: {} (see 'pcap-sensor ecs add --help')",
                missing.join(" ")
            )));
        }
    }
    let r = creds::resolve(a.profile.as_deref(), env).map_err(Fail::Error)?;
    let key_hint = format!(
        "access key {} from {}",
        masked(&r.creds.access_key_id),
        r.source
    );
    ui.say(&format!("credentials: {key_hint}"));
    let endpoint = a.endpoint_url.clone().or_else(|| env("AWS_ENDPOINT_URL"));
    let ecs_ep = env("AWS_ENDPOINT_URL_ECS");
    let ec2_ep = env("AWS_ENDPOINT_URL_EC2");
    let overridden = endpoint.is_some() || ecs_ep.is_some() || ec2_ep.is_some();
    let probe_region = known_region
        .as_ref()
        .map(|(r, _)| r.clone())
        .unwrap_or_else(|| "us-east-1".into());
    let probe = Client::new(
        &probe_region,
        r.creds.clone(),
        key_hint,
        endpoint.as_deref(),
        ecs_ep.as_deref(),
        ec2_ep.as_deref(),
    )
    .map_err(Fail::Usage)?;

    let c = choose_region(known_region, &probe, ui, overridden)?;
    let cluster = choose_cluster(a, &c, ui)?;
    let services = cluster_services(&c, &cluster)?;
    let family = choose_family(a, &c, &services, ui)?;

    let d = c
        .ecs(
            "DescribeTaskDefinition",
            &json!({"taskDefinition": family, "include": ["TAGS"]}),
        )
        .map_err(|e| {
            if e.code() == Some("ClientException") {
                Fail::Error(format!(
                    "task definition '{family}' not found in {}: {e}",
                    c.region
                ))
            } else {
                e.into()
            }
        })?;
    let td = d.get("taskDefinition").cloned().unwrap_or(Value::Null);
    let tags = d.get("tags").cloned().unwrap_or(json!([]));
    let family_name = s(&td, "family").unwrap_or(&family).to_string();
    let base = format!("{family_name}:{}", num(td.get("revision")).unwrap_or(0));
    ui.say(&format!("task definition: {base}"));

    // What can be refused is refused before anything is asked: first with the
    // values given so far, again once the sensor's values are complete.
    let of_family: Vec<&Value> = services
        .iter()
        .filter(|x| service_family(x) == family_name)
        .collect();
    let mut early = a.sidecar.clone();
    early.region = Some(c.region.clone());
    let early = container_def::sidecar(&early);
    check_task(&td, &early, a.force, &of_family, &base, &cluster.name)?;

    let chosen = choose_services(a, &cluster, &family_name, &services, ui)?;
    let sidecar_opts = complete_sidecar(a, &family_name, &c.region, ui)?;
    let sidecar = container_def::sidecar(&sidecar_opts);
    let mut warnings = check_task(&td, &sidecar, a.force, &of_family, &base, &cluster.name)?;
    let (request, unknown) = new_task_definition(&td, &tags, &sidecar);
    if !unknown.is_empty() {
        warnings.push(format!(
            "not copied (fields pcap-sensor does not know): {}",
            unknown.join(", ")
        ));
    }
    for svc in &chosen {
        let runs = short_td(s(svc, "taskDefinition").unwrap_or(""));
        if runs != base {
            warnings.push(format!(
                "service {} runs {runs}; the new revision is based on {base}, so the service \
                 also gets what changed between them",
                s(svc, "serviceName").unwrap_or("?")
            ));
        }
    }
    let plan = Plan {
        region: c.region.clone(),
        cluster,
        base,
        request,
        services: chosen,
        sidecar: sidecar_opts,
        warnings,
    };
    for w in &plan.warnings {
        crate::log::warn(w);
    }

    if a.dry_run {
        let mut out = serde_json::to_string_pretty(&plan.request).expect("JSON serialises");
        out.push('\n');
        print!("{out}");
        let _ = std::io::stdout().flush();
        show_plan(&plan, a, ui);
        ui.say("dry run: nothing was changed (the new task definition is on stdout)");
        return Ok(());
    }
    show_plan(&plan, a, ui);
    if !a.yes {
        if !ui.interactive {
            return Err(Fail::Usage(
                "no terminal to confirm on: add --yes (or --dry-run)".into(),
            ));
        }
        if !ui.confirm("Proceed?")? {
            return Err(Fail::Error("aborted: nothing was changed".into()));
        }
    }
    apply(&c, &plan, a, ui)
}

fn apply(c: &Client, p: &Plan, a: &AddArgs, ui: &Ui) -> Result<(), Fail> {
    let r = c.ecs("RegisterTaskDefinition", &p.request)?;
    let new_td = r.get("taskDefinition").cloned().unwrap_or(Value::Null);
    let Some(new_arn) = s(&new_td, "taskDefinitionArn").map(str::to_string) else {
        return Err(Fail::Error(
            "ecs:RegisterTaskDefinition answered without a taskDefinitionArn".into(),
        ));
    };
    let new_short = short_td(&new_arn);
    ui.say(&format!("registered {new_short} ({new_arn})"));

    let mut updated: Vec<(String, String)> = Vec::new(); // (name, arn)
    let mut failed: Vec<String> = Vec::new();
    for svc in &p.services {
        let name = s(svc, "serviceName").unwrap_or("?").to_string();
        match c.ecs(
            "UpdateService",
            &json!({"cluster": p.cluster.arn, "service": name, "taskDefinition": new_arn}),
        ) {
            Ok(r) => {
                let arn = r
                    .pointer("/service/serviceArn")
                    .and_then(Value::as_str)
                    .or(s(svc, "serviceArn"))
                    .unwrap_or("")
                    .to_string();
                ui.say(&format!(
                    "service {name}: now {new_short}, deployment started"
                ));
                updated.push((name, arn));
            }
            Err(e) => {
                crate::log::error(&format!("service {name}: {e}"));
                failed.push(name);
            }
        }
    }

    let tags = json!([
        {"key": TAG_KEY, "value": new_short},
        {"key": TAG_TIME_KEY, "value": rfc3339_secs(now_unix())},
    ]);
    let mut to_tag = vec![new_arn.clone()];
    to_tag.extend(
        updated
            .iter()
            .map(|(_, arn)| arn.clone())
            .filter(|a| !a.is_empty()),
    );
    for arn in &to_tag {
        if let Err(e) = c.ecs("TagResource", &json!({"resourceArn": arn, "tags": tags})) {
            crate::log::warn(&format!(
                "could not tag {} ({e}); the sensor is in place, only the marker tag is missing",
                short_td(arn)
            ));
        }
    }

    if !failed.is_empty() {
        return Err(Fail::Error(format!(
            "{new_short} is registered{}, but {} could not be updated (see above): after fixing the \
             cause, run 'aws ecs update-service --cluster {} --service NAME --task-definition {new_short}' \
             for {}",
            if updated.is_empty() {
                String::new()
            } else {
                format!(
                    " and {} updated",
                    updated
                        .iter()
                        .map(|(n, _)| n.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            },
            failed.join(", "),
            p.cluster.name,
            failed.join(", ")
        )));
    }

    if a.wait {
        wait_for_rollout(c, p, &updated, &new_arn, a, ui)?;
    } else {
        ui.say("the services are rolling out the new revision (add --wait to follow it)");
    }
    println!("{new_arn}");
    Ok(())
}

/// Follow each service's deployment of `new_arn` until it completes or fails.
fn wait_for_rollout(
    c: &Client,
    p: &Plan,
    services: &[(String, String)],
    new_arn: &str,
    a: &AddArgs,
    ui: &Ui,
) -> Result<(), Fail> {
    let deadline = Instant::now() + Duration::from_secs_f64(a.wait_timeout);
    let mut pending: Vec<String> = services.iter().map(|(n, _)| n.clone()).collect();
    let mut last: Vec<(String, String)> = Vec::new();
    loop {
        let r = c.ecs(
            "DescribeServices",
            &json!({"cluster": p.cluster.arn, "services": pending}),
        )?;
        let list = r
            .get("services")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut still = Vec::new();
        for name in &pending {
            let Some(svc) = list.iter().find(|x| s(x, "serviceName") == Some(name)) else {
                return Err(Fail::Error(format!(
                    "service {name} disappeared while waiting for its rollout"
                )));
            };
            let deployments = svc
                .get("deployments")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let Some(dep) = deployments
                .iter()
                .find(|d| s(d, "taskDefinition") == Some(new_arn))
            else {
                return Err(Fail::Error(format!(
                    "service {name} has no deployment of {} any more (replaced by another \
                     update?): check it in the ECS console",
                    short_td(new_arn)
                )));
            };
            let running = num(dep.get("runningCount")).unwrap_or(0);
            let desired = num(dep.get("desiredCount")).unwrap_or(0);
            let state = match s(dep, "rolloutState") {
                Some(st) => st.to_string(),
                // No rollout state (older services): done when the new
                // deployment is the only one and fully running.
                None if deployments.len() == 1 && running >= desired => "COMPLETED".into(),
                None => "IN_PROGRESS".into(),
            };
            let status = format!("{state} ({running} of {desired} tasks running)");
            if !last.iter().any(|(n, st)| n == name && *st == status) {
                ui.say(&format!("service {name}: rollout {status}"));
                last.retain(|(n, _)| n != name);
                last.push((name.clone(), status));
            }
            match state.as_str() {
                "COMPLETED" => {}
                "FAILED" => {
                    return Err(Fail::Error(format!(
                        "service {name}: the rollout of {} FAILED: {}",
                        short_td(new_arn),
                        s(dep, "rolloutStateReason").unwrap_or("no reason given")
                    )));
                }
                _ => still.push(name.clone()),
            }
        }
        if still.is_empty() {
            ui.say("rollout completed");
            return Ok(());
        }
        pending = still;
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Fail::Error(format!(
                "gave up waiting after {} s: the rollout of {} is still in progress for {} \
                 (the change stays; follow it in the ECS console)",
                a.wait_timeout,
                short_td(new_arn),
                pending.join(", ")
            )));
        }
        std::thread::sleep(left.min(Duration::from_secs_f64(a.poll_interval)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Result<Option<AddArgs>, String> {
        let v: Vec<OsString> = words.iter().map(OsString::from).collect();
        parse_args(&v).map_err(|e| e.0)
    }

    #[test]
    fn flags_parse() {
        let a = args(&[
            "--region",
            "us-west-2",
            "--cluster",
            "prod",
            "--task-family",
            "web",
            "--service",
            "a",
            "--service",
            "b",
            "--image",
            "img:1",
            "--satellite-url",
            "http://sat:9999",
            "--levo-env",
            "staging",
            "--levoai-org-id",
            "org",
            "--rate-limit",
            "50",
            "--yes",
            "--wait",
            "--poll-interval",
            "0.5",
            "--",
            "--filter",
            "not port 8888",
        ])
        .unwrap()
        .unwrap();
        assert_eq!(a.services, vec!["a", "b"]);
        assert_eq!(a.sidecar.rate_limit, Some(50.0));
        assert_eq!(a.sidecar.extra_args, vec!["--filter", "not port 8888"]);
        assert!(a.yes && a.wait && !a.dry_run);
        assert_eq!(a.poll_interval, 0.5);
        assert!(missing_flags(&a, true).is_empty());
    }

    #[test]
    fn bad_flags_are_named() {
        for (w, flag) in [
            (vec!["--rate-limit", "lots"], "--rate-limit"),
            (vec!["--satellite-url", "sat:9999"], "--satellite-url"),
            (vec!["--endpoint-url", "localhost:5000"], "--endpoint-url"),
            (vec!["--bogus"], "--bogus"),
            (vec!["--cpu", "0"], "--cpu"),
            (vec!["--region", "mars"], "--region"),
        ] {
            let e = args(&w).unwrap_err();
            assert!(e.contains(flag), "{w:?}: {e}");
        }
        assert!(args(&["--help"]).unwrap().is_none());
    }

    #[test]
    fn missing_flags_listed() {
        let a = AddArgs::default();
        let m = missing_flags(&a, false);
        assert_eq!(
            m,
            vec![
                "--region",
                "--cluster",
                "--task-family",
                "--service",
                "--image",
                "--satellite-url",
                "--levo-env",
                "--levoai-org-id",
                "--rate-limit",
                "--yes"
            ]
        );
        let a = AddArgs {
            dry_run: true,
            ..AddArgs::default()
        };
        assert!(!missing_flags(&a, true).contains(&"--yes"));
    }

    fn td() -> Value {
        json!({
            "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/web:7",
            "family": "web", "revision": 7, "status": "ACTIVE",
            "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"],
            "compatibilities": ["EC2", "FARGATE"], "cpu": "1024", "memory": "2048",
            "executionRoleArn": "arn:aws:iam::123456789012:role/exec",
            "taskRoleArn": "arn:aws:iam::123456789012:role/task",
            "runtimePlatform": {"cpuArchitecture": "X86_64", "operatingSystemFamily": "LINUX"},
            "volumes": [{"name": "data", "efsVolumeConfiguration": {"fileSystemId": "fs-1"}}],
            "containerDefinitions": [{"name": "app", "image": "app:1", "cpu": 256, "memory": 512}],
            "requiresAttributes": [{"name": "ecs.capability.efs"}],
            "registeredAt": 1.7e9, "registeredBy": "me", "futureField": 1
        })
    }

    fn sidecar() -> Value {
        container_def::sidecar(&SidecarOptions {
            image: Some("repo/pcap-sensor:1".into()),
            cpu: Some(512),
            memory: Some(512),
            ..SidecarOptions::default()
        })
    }

    #[test]
    fn new_revision_keeps_writable_fields_only() {
        let tags = json!([{"key": "team", "value": "a"}]);
        let (r, unknown) = new_task_definition(&td(), &tags, &sidecar());
        assert_eq!(unknown, vec!["futureField"]);
        for k in READ_ONLY_FIELDS {
            assert!(r.get(*k).is_none(), "{k}");
        }
        for k in [
            "family",
            "taskRoleArn",
            "executionRoleArn",
            "runtimePlatform",
            "volumes",
            "cpu",
            "memory",
            "networkMode",
            "requiresCompatibilities",
        ] {
            assert_eq!(r[k], td()[k], "{k}");
        }
        assert_eq!(r["tags"], tags);
        let c = r["containerDefinitions"].as_array().unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c[0], td()["containerDefinitions"][0]);
        assert_eq!(c[1], sidecar());
        let (r, _) = new_task_definition(&td(), &json!([]), &sidecar());
        assert!(r.get("tags").is_none());
    }

    #[test]
    fn refusals() {
        assert!(refusal(&td(), &sidecar(), false).unwrap().is_empty());
        // already there (by name, or by image repository)
        let mut t = td();
        t["containerDefinitions"]
            .as_array_mut()
            .unwrap()
            .push(sidecar());
        let e = refusal(&t, &sidecar(), true).unwrap_err();
        assert!(e.contains("already has the sensor"), "{e}");
        let mut t = td();
        t["containerDefinitions"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "other", "image": "repo/pcap-sensor:0.9"}));
        assert!(refusal(&t, &sidecar(), true).is_err());
        // bridge (also by default on EC2), unless --force
        let mut t = td();
        t["networkMode"] = json!("bridge");
        let e = refusal(&t, &sidecar(), false).unwrap_err();
        assert!(e.contains("bridge") && e.contains("--force"), "{e}");
        assert_eq!(refusal(&t, &sidecar(), true).unwrap().len(), 1);
        let mut t = td();
        t.as_object_mut().unwrap().remove("networkMode");
        assert!(
            refusal(&t, &sidecar(), false)
                .unwrap_err()
                .contains("default")
        );
        // Fargate without an execution role
        let mut t = td();
        t.as_object_mut().unwrap().remove("executionRoleArn");
        assert!(
            refusal(&t, &sidecar(), false)
                .unwrap_err()
                .contains("execution role")
        );
        // no room
        let mut t = td();
        t["memory"] = json!("768");
        let e = refusal(&t, &sidecar(), false).unwrap_err();
        assert!(e.contains("--memory 256"), "{e}");
        let mut t = td();
        t["cpu"] = json!("512");
        let e = refusal(&t, &sidecar(), false).unwrap_err();
        assert!(e.contains("--cpu 256"), "{e}");
    }

    #[test]
    fn names_of_task_definitions() {
        assert_eq!(
            family_of("arn:aws:ecs:us-east-1:1:task-definition/web:7"),
            ("web".into(), Some(7))
        );
        assert_eq!(family_of("web"), ("web".into(), None));
        assert_eq!(masked("AKIAABCDEFGH1234"), "****1234");
        assert_eq!(rfc3339_secs(1_440_938_160), "2015-08-30T12:36:00Z");
    }

    fn ui_with(input: &str, interactive: bool) -> Ui<'static> {
        Ui::new(
            interactive,
            Box::new(std::io::Cursor::new(input.as_bytes().to_vec())),
        )
    }

    #[test]
    fn menus() {
        let items: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let mut ui = ui_with("9\nx\n2\n", true);
        assert_eq!(ui.choose("Thing", &items).unwrap(), 1);
        let mut ui = ui_with("1 3\n", true);
        assert_eq!(ui.choose_many("Things", &items).unwrap(), vec![0, 2]);
        let mut ui = ui_with("\n", true);
        assert_eq!(ui.choose_many("Things", &items).unwrap(), vec![0, 1, 2]);
        let mut ui = ui_with("", true);
        assert!(matches!(ui.choose("Thing", &items), Err(Fail::Error(_))));
        let mut ui = ui_with("n\n", true);
        assert!(!ui.confirm("Proceed?").unwrap());
        let mut ui = ui_with("Y\n", true);
        assert!(ui.confirm("Proceed?").unwrap());
    }
}
