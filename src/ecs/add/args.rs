//! The flags of `pcap-sensor ecs add`: parsed and checked once into
//! [`AddArgs`], and which of them a run without a terminal still lacks.

use crate::cli::UsageError;
use crate::ecs::aws;
use crate::ecs::container_def::{self, SidecarOptions};
use std::ffi::OsString;

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
            Long("spool") => a.sidecar.spool = true,
            Long("spool-mb") => a.sidecar.spool_mb = Some(units(p.value()?, "--spool-mb")?),
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

pub(super) fn parse_rate(s: &str) -> Result<f64, UsageError> {
    match s.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && x >= 0.0 => Ok(x),
        _ => Err(UsageError(format!(
            "--rate-limit expects traces per minute ≥ 0 (0 = no limit), e.g. --rate-limit 1000, but got '{s}'"
        ))),
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
}
