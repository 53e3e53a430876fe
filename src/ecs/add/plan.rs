//! The decisions of `ecs add`, pure: from what was read ([`Found`]), the
//! services chosen and the sensor's values, either a [`Plan`] (the new
//! revision's body, the services to move, notes) or a [`Refusal`]. No AWS
//! call and no question here; [`super::apply`] carries a plan out.

use super::model::{Cluster, Container, Found, Service, TaskDef, family_of, num};
use super::platform::{self, Platform};
use super::refusal::{Behind, Listing, Refusal, network_mode_problem};
use crate::ecs::container_def::{self, SidecarOptions};
use serde_json::Value;

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

/// Everything decided before the first change.
#[derive(Debug, Clone)]
pub struct Plan {
    pub region: String,
    pub cluster: Cluster,
    /// `family:revision` the new revision is made from.
    pub base: String,
    /// The `RegisterTaskDefinition` request.
    pub request: Value,
    /// The services to move to the new revision.
    pub services: Vec<Service>,
    /// What the sensor will run as (the task's `runtimePlatform`).
    pub platform: Platform,
    /// The sensor's values, complete.
    pub sidecar: SidecarOptions,
    /// Said before the plan, and in it as notes.
    pub warnings: Vec<String>,
}

/// The plan for adding the sidecar of `sensor` to `found`'s task definition
/// and moving `services` (chosen already: [`services_named`] or a menu of
/// [`services_running`], then [`deployable`]) to it.
pub fn plan(
    found: &Found,
    services: Vec<Service>,
    sensor: SidecarOptions,
    force: bool,
) -> Result<Plan, Refusal> {
    let sidecar = container_def::sidecar(&sensor);
    let mut warnings = check(found, &sidecar, force)?;
    let platform = found.task.platform.clone();
    if let Some(note) = sensor
        .image
        .as_deref()
        .and_then(|image| platform::digest_note(image, &platform))
    {
        warnings.push(note);
    }
    if let Some(note) = spool_note(&found.task, &sensor) {
        warnings.push(note);
    }
    let base = found.base();
    let (request, unknown) = new_task_definition(&found.task.raw, &found.task.tags, &sidecar);
    if !unknown.is_empty() {
        warnings.push(format!(
            "not copied (fields pcap-sensor does not know): {}",
            unknown.join(", ")
        ));
    }
    for svc in &services {
        let runs = svc.runs().unwrap_or_default();
        if runs != base {
            warnings.push(format!(
                "service {} runs {runs}; the new revision is based on {base}, so the service \
                 also gets what changed between them",
                svc.label()
            ));
        }
    }
    Ok(Plan {
        region: found.region.clone(),
        cluster: found.cluster.clone(),
        base,
        request,
        services,
        platform,
        sidecar: sensor,
        warnings,
    })
}

/// [`refusal`] of `found`'s task definition, where "already has the sensor"
/// also says how to move the services of the family that still run an
/// older revision. `Ok`: warnings.
pub fn check(found: &Found, sidecar: &Value, force: bool) -> Result<Vec<String>, Refusal> {
    // The volumes the sidecar mounts (the spool's) are added to the task:
    // one of the same name must not be there already.
    let task_volumes = volume_names(&found.task.raw);
    if let Some(v) = mounted_volumes(sidecar)
        .into_iter()
        .find(|v| task_volumes.contains(v))
    {
        return Err(Refusal::SpoolVolumeTaken {
            task: found.task.name(),
            volume: v,
        });
    }
    refusal(&found.task, &Container::from_json(sidecar), force).map_err(|r| match r {
        Refusal::AlreadyThere {
            task,
            container,
            image,
            behind: None,
        } => {
            let base = found.base();
            let services: Vec<String> = found
                .of_family()
                .into_iter()
                .filter(|svc| svc.runs().unwrap_or_default() != base)
                .filter_map(|svc| svc.name.clone())
                .collect();
            Refusal::AlreadyThere {
                task,
                container,
                image,
                behind: (!services.is_empty()).then(|| {
                    Box::new(Behind {
                        services,
                        cluster: found.cluster.name.clone(),
                        base,
                    })
                }),
            }
        }
        other => other,
    })
}

/// Reasons not to add `sidecar` to `task` (the first that applies).
/// `force` allows network modes where it sees nothing. `Ok`: warnings.
pub fn refusal(task: &TaskDef, sidecar: &Container, force: bool) -> Result<Vec<String>, Refusal> {
    let name = task.name();
    if let Some(c) = sensor_container(task, sidecar) {
        return Err(Refusal::AlreadyThere {
            task: name,
            container: c.name.clone().unwrap_or_else(|| "?".into()),
            image: c.image.clone().unwrap_or_else(|| "?".into()),
            behind: None,
        });
    }
    if task.platform.windows() {
        return Err(Refusal::Windows {
            task: name,
            os_family: task.platform.os_family.clone().unwrap_or_default(),
        });
    }
    let mut warnings = task.platform.warnings();
    let mode = &task.network_mode;
    if mode == "bridge" || mode == "none" {
        if !force {
            return Err(Refusal::NetworkMode {
                task: name,
                mode: mode.clone(),
                default: task.network_mode_default,
            });
        }
        let why = network_mode_problem(&name, mode, task.network_mode_default);
        warnings.push(format!("{why}; adding it anyway (--force)"));
    }
    if task.fargate && task.execution_role.is_none() {
        return Err(Refusal::NoExecutionRole { task: name });
    }
    // Room in the task's CPU and memory for the sensor.
    let used_cpu: u64 = task.containers.iter().map(|c| c.cpu.unwrap_or(0)).sum();
    let used_memory: u64 = task
        .containers
        .iter()
        .map(|c| c.memory.or(c.memory_reservation).unwrap_or(0))
        .sum();
    let need_cpu = sidecar.cpu.unwrap_or(0);
    let need_memory = sidecar.memory.unwrap_or(0);
    if let Some(total) = task.cpu {
        let left = total.saturating_sub(used_cpu);
        if need_cpu > left {
            return Err(Refusal::NoCpu {
                task: name,
                total,
                reserved: total - left,
                left,
                need: need_cpu,
            });
        }
    }
    if let Some(total) = task.memory {
        let left = total.saturating_sub(used_memory);
        if need_memory > left {
            return Err(Refusal::NoMemory {
                task: name,
                total,
                reserved: total - left,
                left,
                need: need_memory,
            });
        }
    }
    Ok(warnings)
}

/// With `--spool` on Fargate: a note when the spool may not fit in the
/// task's ephemeral storage (`ephemeralStorage.sizeInGiB`, 20 GiB unless
/// set), which the application's containers share.
fn spool_note(task: &TaskDef, o: &SidecarOptions) -> Option<String> {
    if !o.spool || !task.fargate {
        return None;
    }
    let gib = task
        .raw
        .pointer("/ephemeralStorage/sizeInGiB")
        .and_then(Value::as_u64)
        .unwrap_or(20);
    let mb = o.spool_mb.unwrap_or(256) as u64;
    (mb * 2 > gib * 1024).then(|| {
        format!(
            "the spool may hold {mb} MiB, more than half of the task's {gib} GiB of ephemeral \
             storage, which the other containers share: lower --spool-mb or raise the task's \
             ephemeralStorage"
        )
    })
}

/// The sensor's container in `task`, if it has one: by name (as
/// [`container_def::is_sidecar`]), or by the image repository of `sidecar`
/// (whatever the tag or digest).
pub fn sensor_container<'t>(task: &'t TaskDef, sidecar: &Container) -> Option<&'t Container> {
    let image = sidecar.image.as_deref().unwrap_or("");
    let repo = |i: &str| {
        let i = i.split('@').next().unwrap_or(i);
        match i.rsplit_once(':') {
            Some((r, tag)) if !tag.contains('/') => r.to_string(),
            _ => i.to_string(),
        }
    };
    task.containers.iter().find(|c| {
        c.name.as_deref() == Some(container_def::SIDECAR_NAME)
            || (!image.is_empty() && c.image.as_deref().map(repo) == Some(repo(image)))
    })
}

/// The cluster's services for a refusal's message.
fn listing(found: &Found) -> Listing {
    Listing(
        found
            .services
            .iter()
            .map(|s| {
                let runs = s.runs().unwrap_or_else(|| "?".into());
                (s.label().to_string(), runs)
            })
            .collect(),
    )
}

/// The services named by `--service` (name or ARN), in that order: each
/// must be in the cluster and run the family.
pub fn services_named(found: &Found, wanted: &[String]) -> Result<Vec<Service>, Refusal> {
    let mut out = Vec::new();
    for want in wanted {
        let Some(svc) = found
            .services
            .iter()
            .find(|x| x.name.as_ref() == Some(want) || x.arn.as_ref() == Some(want))
        else {
            return Err(Refusal::NoSuchService {
                want: want.clone(),
                cluster: found.cluster.name.clone(),
                services: listing(found),
            });
        };
        if svc.family() != found.family {
            return Err(Refusal::OtherFamily {
                want: want.clone(),
                runs: svc.runs().unwrap_or_else(|| "?".into()),
                its_family: svc.family(),
                family: found.family.clone(),
            });
        }
        out.push(svc.clone());
    }
    Ok(out)
}

/// The services of the cluster that run the family (to choose from): at
/// least one.
pub fn services_running(found: &Found) -> Result<Vec<&Service>, Refusal> {
    let using = found.of_family();
    if using.is_empty() {
        return Err(Refusal::Unused {
            cluster: found.cluster.name.clone(),
            family: found.family.clone(),
            services: listing(found),
        });
    }
    Ok(using)
}

/// Every service's deployments can be started by `UpdateService` (the ECS
/// deployment controller).
pub fn deployable(services: &[Service]) -> Result<(), Refusal> {
    match services.iter().find(|s| s.controller != "ECS") {
        Some(s) => Err(Refusal::Controller {
            service: s.label().to_string(),
            controller: s.controller.clone(),
        }),
        None => Ok(()),
    }
}

/// The names of a task definition's volumes.
fn volume_names(td: &Value) -> Vec<String> {
    td.get("volumes")
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .filter_map(|v| v.get("name").and_then(Value::as_str).map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The volumes a container definition mounts (`mountPoints[].sourceVolume`).
fn mounted_volumes(container: &Value) -> Vec<String> {
    container
        .get("mountPoints")
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .filter_map(|m| {
                    m.get("sourceVolume")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The `RegisterTaskDefinition` request: the writable fields of `td` (the
/// task definition as read, unknown fields included), its tags, `sidecar`
/// appended to the containers, and a task-scoped volume (a name, no host)
/// for each volume the sidecar mounts that the task lacks (the spool's).
/// Also returns the fields that were neither known writable nor known
/// read-only (not copied).
pub fn new_task_definition(td: &Value, tags: &[Value], sidecar: &Value) -> (Value, Vec<String>) {
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
    let have = volume_names(td);
    let add: Vec<Value> = mounted_volumes(sidecar)
        .into_iter()
        .filter(|v| !have.contains(v))
        .map(|v| serde_json::json!({ "name": v }))
        .collect();
    if !add.is_empty() {
        let volumes = out
            .entry("volumes")
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(list) = volumes {
            list.extend(add);
        }
    }
    if !tags.is_empty() {
        out.insert("tags".into(), Value::Array(tags.to_vec()));
    }
    (Value::Object(out), unknown)
}

impl Plan {
    /// The plan as shown before it is carried out; `wait`: the `--wait`
    /// timeout, if the rollout is followed.
    pub fn text(&self, wait: Option<f64>) -> String {
        let o = &self.sidecar;
        let sc = self.request["containerDefinitions"]
            .as_array()
            .and_then(|l| l.last().cloned())
            .unwrap_or(Value::Null);
        let mut lines = vec![
            "Plan:".to_string(),
            format!("  region     {}", self.region),
            format!("  cluster    {}", self.cluster.name),
            format!("  platform   {}", self.platform.describe()),
            format!(
                "  1. register a new revision of {} = {} + container '{}'",
                family_of(&self.base).0,
                self.base,
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
        let hc = &sc["healthCheck"];
        if let Some(cmd) = hc["command"].as_array() {
            let words: Vec<&str> = cmd.iter().skip(1).filter_map(Value::as_str).collect();
            lines.push(format!(
                "       health check '{}' every {} s (timeout {} s, {} retries, {} s start period)",
                words.join(" "),
                num(hc.get("interval")).unwrap_or(0),
                num(hc.get("timeout")).unwrap_or(0),
                num(hc.get("retries")).unwrap_or(0),
                num(hc.get("startPeriod")).unwrap_or(0),
            ));
        }
        if o.spool {
            lines.push(format!(
                "       spool {} MiB at {} on task volume {} (added; task-scoped storage)",
                o.spool_mb.unwrap_or(256),
                container_def::SPOOL_PATH,
                container_def::SPOOL_VOLUME
            ));
        }
        if !o.extra_args.is_empty() {
            lines.push(format!("       apidump flags: {}", o.extra_args.join(" ")));
        }
        for svc in &self.services {
            lines.push(format!(
                "  2. update service {} (runs {}) to the new revision",
                svc.label(),
                svc.runs().unwrap_or_else(|| "?".into())
            ));
        }
        lines.push(format!(
            "  3. tag the new revision and the service{} with {TAG_KEY}",
            if self.services.len() == 1 { "" } else { "s" }
        ));
        if let Some(timeout) = wait {
            lines.push(format!("  4. wait for the rollout (up to {timeout} s)"));
        }
        for w in &self.warnings {
            lines.push(format!("  note: {w}"));
        }
        lines.join("\n")
    }
}

#[cfg(test)]
mod tests;
