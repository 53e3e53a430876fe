//! The flags of `pcap-sensor ecs iam-policy`, checked once into
//! [`PolicyArgs`]: where the policy lets `ecs add` act (region, account,
//! cluster, services, task family: the flags `ecs add` takes, names or
//! ARNs) and which roles it may pass. Nothing given: wildcards.

use crate::cli::UsageError;
use crate::ecs::container_def;
use std::ffi::OsString;

/// The settings of one run; `None` (or empty) is "any".
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PolicyArgs {
    pub region: Option<String>,
    pub account: Option<String>,
    /// `aws`, `aws-cn`, ...: from an ARN given, else from the region.
    pub partition: Option<String>,
    pub cluster: Option<String>,
    pub services: Vec<String>,
    pub family: Option<String>,
    /// Roles the task definitions name (ARNs, or names in the account).
    pub roles: Vec<String>,
    /// Print the `iam:PassRole` statement (default yes).
    pub pass_role: bool,
}

impl PolicyArgs {
    /// The partition of the ARNs: as an ARN given said, else the region's.
    pub fn partition(&self) -> &str {
        if let Some(p) = &self.partition {
            return p;
        }
        match self.region.as_deref() {
            Some(r) if r.starts_with("cn-") => "aws-cn",
            Some(r) if r.starts_with("us-gov-") => "aws-us-gov",
            Some(r) if r.starts_with("us-isob-") => "aws-iso-b",
            Some(r) if r.starts_with("us-iso-") => "aws-iso",
            _ => "aws",
        }
    }
}

/// An ARN's parts: partition, service, region, account, resource.
struct Arn<'a> {
    partition: &'a str,
    service: &'a str,
    region: &'a str,
    account: &'a str,
    resource: &'a str,
}

fn arn(s: &str) -> Option<Arn<'_>> {
    let mut it = s.splitn(6, ':');
    if it.next()? != "arn" {
        return None;
    }
    Some(Arn {
        partition: it.next()?,
        service: it.next()?,
        region: it.next()?,
        account: it.next()?,
        resource: it.next()?,
    })
}

/// ECS names: letters, digits, hyphens and underscores, at most 255.
fn ecs_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// IAM role names (letters, digits and `+=,.@_-`, at most 64).
fn role_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
}

/// Twelve digits.
fn account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Set `slot` to `v`, or check that it already says the same.
fn agree(slot: &mut Option<String>, v: &str, what: &str, from: &str) -> Result<(), UsageError> {
    match slot {
        Some(old) if old != v => Err(UsageError(format!(
            "{from} says {what} {v}, but {what} {old} was given"
        ))),
        _ => {
            *slot = Some(v.to_string());
            Ok(())
        }
    }
}

impl PolicyArgs {
    /// What an ECS ARN given in `flag` says of partition, region and account.
    fn take_arn(&mut self, a: &Arn, flag: &str) -> Result<(), UsageError> {
        let from = format!("the ARN of {flag}");
        if !a.partition.starts_with("aws")
            || !container_def::valid_region(a.region)
            || !account_id(a.account)
        {
            return Err(UsageError(format!(
                "{from} does not read as arn:PARTITION:ecs:REGION:ACCOUNT:..."
            )));
        }
        agree(&mut self.partition, a.partition, "partition", &from)?;
        agree(&mut self.region, a.region, "region", &from)?;
        agree(&mut self.account, a.account, "account", &from)
    }

    fn set_cluster(&mut self, v: &str) -> Result<(), UsageError> {
        let name = match arn(v) {
            Some(a) => {
                let name = a
                    .resource
                    .strip_prefix("cluster/")
                    .filter(|_| a.service == "ecs");
                let Some(name) = name else {
                    return Err(UsageError(format!(
                        "--cluster '{v}' is not an ECS cluster ARN \
                         (arn:aws:ecs:REGION:ACCOUNT:cluster/NAME) nor a name"
                    )));
                };
                self.take_arn(&a, "--cluster")?;
                name.to_string()
            }
            None => v.to_string(),
        };
        if !ecs_name(&name) {
            return Err(UsageError(format!(
                "--cluster '{v}': a cluster name has letters, digits, hyphens and underscores only"
            )));
        }
        agree(&mut self.cluster, &name, "cluster", "--cluster")
    }

    fn add_service(&mut self, v: &str) -> Result<(), UsageError> {
        let name = match arn(v) {
            Some(a) => {
                // service/CLUSTER/NAME (the long format; the old service/NAME
                // does not say the cluster).
                let path = a
                    .resource
                    .strip_prefix("service/")
                    .filter(|_| a.service == "ecs");
                let Some(path) = path else {
                    return Err(UsageError(format!(
                        "--service '{v}' is not an ECS service ARN \
                         (arn:aws:ecs:REGION:ACCOUNT:service/CLUSTER/NAME) nor a name"
                    )));
                };
                self.take_arn(&a, "--service")?;
                match path.split_once('/') {
                    Some((cluster, name)) => {
                        agree(
                            &mut self.cluster,
                            cluster,
                            "cluster",
                            "the ARN of --service",
                        )?;
                        name.to_string()
                    }
                    None => path.to_string(),
                }
            }
            None => v.to_string(),
        };
        if !ecs_name(&name) {
            return Err(UsageError(format!(
                "--service '{v}': a service name has letters, digits, hyphens and underscores only"
            )));
        }
        if !self.services.contains(&name) {
            self.services.push(name);
        }
        Ok(())
    }

    fn set_family(&mut self, v: &str) -> Result<(), UsageError> {
        // FAMILY or FAMILY:REVISION, as `ecs add` takes it: the policy
        // covers every revision (the new one has no number yet).
        let family = match v.rsplit_once(':') {
            Some((f, rev)) if rev.parse::<u64>().is_ok() => f,
            _ => v,
        };
        if !ecs_name(family) {
            return Err(UsageError(format!(
                "--task-family '{v}': a family name has letters, digits, hyphens and underscores \
                 only (optionally :REVISION)"
            )));
        }
        agree(&mut self.family, family, "task family", "--task-family")
    }

    fn add_role(&mut self, v: &str, flag: &str) -> Result<(), UsageError> {
        match arn(v) {
            Some(a) => {
                let ok = a.service == "iam"
                    && a.region.is_empty()
                    && a.resource.strip_prefix("role/").is_some_and(|r| {
                        r.split('/').all(|part| !part.is_empty())
                            && role_name(r.rsplit('/').next().unwrap_or(""))
                    });
                if !ok {
                    return Err(UsageError(format!(
                        "{flag} '{v}' is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME) \
                         nor a role name"
                    )));
                }
                let from = format!("the ARN of {flag}");
                if !a.partition.starts_with("aws") || !account_id(a.account) {
                    return Err(UsageError(format!(
                        "{from} does not read as arn:PARTITION:iam::ACCOUNT:role/NAME"
                    )));
                }
                agree(&mut self.partition, a.partition, "partition", &from)?;
                agree(&mut self.account, a.account, "account", &from)?;
            }
            None if role_name(v) => {}
            None => {
                return Err(UsageError(format!(
                    "{flag} '{v}': a role name has letters, digits and +=,.@_- only (at most 64)"
                )));
            }
        }
        if !self.roles.iter().any(|r| r == v) {
            self.roles.push(v.to_string());
        }
        Ok(())
    }
}

/// Parse the words after `ecs iam-policy`. `Ok(None)`: help was asked for.
pub fn parse_args(args: &[OsString]) -> Result<Option<PolicyArgs>, UsageError> {
    use lexopt::prelude::*;
    let mut a = PolicyArgs {
        pass_role: true,
        ..PolicyArgs::default()
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
    let mut p = lexopt::Parser::from_args(args.iter().cloned());
    while let Some(arg) = p.next()? {
        match arg {
            Short('h') | Long("help") => return Ok(None),
            Long("region") => {
                let r = text(p.value()?, "--region")?;
                if !container_def::valid_region(&r) {
                    return Err(UsageError(format!(
                        "--region '{r}' is not a region name (e.g. --region us-west-2)"
                    )));
                }
                agree(&mut a.region, &r, "region", "--region")?;
            }
            Long("account") => {
                let id = text(p.value()?, "--account")?;
                if !account_id(&id) {
                    return Err(UsageError(format!(
                        "--account '{id}' is not an AWS account id (twelve digits, e.g. \
                         --account 123456789012)"
                    )));
                }
                agree(&mut a.account, &id, "account", "--account")?;
            }
            Long("cluster") => a.set_cluster(&text(p.value()?, "--cluster")?)?,
            Long("service") => a.add_service(&text(p.value()?, "--service")?)?,
            Long("task-family") => a.set_family(&text(p.value()?, "--task-family")?)?,
            Long("task-role") => a.add_role(&text(p.value()?, "--task-role")?, "--task-role")?,
            Long("execution-role") => {
                a.add_role(&text(p.value()?, "--execution-role")?, "--execution-role")?
            }
            Long("no-pass-role") => a.pass_role = false,
            Value(v) => {
                return Err(UsageError(format!(
                    "unexpected argument '{}' (see 'pcap-sensor ecs iam-policy --help')",
                    v.to_string_lossy()
                )));
            }
            Long(f) => {
                return Err(UsageError(format!(
                    "unknown flag '--{f}' (see 'pcap-sensor ecs iam-policy --help')"
                )));
            }
            Short(c) => {
                return Err(UsageError(format!(
                    "unknown flag '-{c}' (see 'pcap-sensor ecs iam-policy --help')"
                )));
            }
        }
    }
    if !a.pass_role && !a.roles.is_empty() {
        return Err(UsageError(
            "--no-pass-role leaves out the statement that --task-role and --execution-role \
             fill in: give one or the other"
                .into(),
        ));
    }
    Ok(Some(a))
}
