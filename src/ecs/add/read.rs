//! The AWS reads of `ecs add`, each done once, in the order of the
//! permission table: the credentials and a client; the region
//! (`ec2:DescribeRegions`); the cluster (`ecs:DescribeClusters`,
//! `ecs:ListClusters`); its services (`ecs:ListServices`,
//! `ecs:DescribeServices`); the family (`ecs:ListTaskDefinitionFamilies`);
//! its latest revision with tags (`ecs:DescribeTaskDefinition`). Where the
//! flags leave a choice open, the menu among what was read is offered here.
//! The result is a typed [`Found`]; nothing here changes anything.

use super::Fail;
use super::args::AddArgs;
use super::model::{Cluster, ClusterInfo, Found, Service, TaskDef};
use super::prompt::{self, Prompt};
use crate::ecs::aws::{self, AwsError, Client};
use crate::ecs::creds::{self, Env};
use serde_json::{Value, json};

/// Everything up to the task definition (said as `task definition: web:7`).
/// `known_region`: the region and where it came from, if any source names one.
pub fn read(
    a: &AddArgs,
    known_region: Option<(String, String)>,
    ui: &mut dyn Prompt,
    env: Env,
) -> Result<(Client, Found), Fail> {
    let (probe, overridden) = connect(a, known_region.as_ref(), ui, env)?;
    let c = choose_region(known_region, &probe, ui, overridden)?;
    let cluster = choose_cluster(a.cluster.as_deref(), &c, ui)?;
    let services = cluster_services(&c, &cluster)?;
    let family = choose_family(a.task_family.as_deref(), &c, &services, ui)?;
    let task = task_definition(&c, &family)?;
    let found = Found {
        region: c.region.clone(),
        cluster,
        services,
        family: task.family.clone().unwrap_or(family),
        task,
    };
    ui.say(&format!("task definition: {}", found.base()));
    Ok((c, found))
}

/// The credentials (said, key masked) and a client for the region known so
/// far (else us-east-1) to ask which regions there are. Also whether an
/// endpoint was given (then it serves every region).
fn connect(
    a: &AddArgs,
    known_region: Option<&(String, String)>,
    ui: &mut dyn Prompt,
    env: Env,
) -> Result<(Client, bool), Fail> {
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
    Ok((probe, overridden))
}

/// Shown instead of the access key id: its last four characters.
fn masked(key_id: &str) -> String {
    let n = key_id.chars().count();
    let tail: String = key_id.chars().skip(n.saturating_sub(4)).collect();
    format!("****{tail}")
}

/// The region, asked for or checked against `ec2:DescribeRegions`.
fn choose_region(
    known: Option<(String, String)>,
    probe: &Client,
    ui: &mut dyn Prompt,
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
            let i = prompt::choose(ui, "Region", &list)?;
            list[i].clone()
        }
    };
    Ok(probe.for_region(&region, endpoint_override))
}

/// `ecs:DescribeClusters`, 100 at a time.
fn describe_clusters(c: &Client, ids: &[String]) -> Result<Vec<ClusterInfo>, AwsError> {
    let mut out = Vec::new();
    for chunk in ids.chunks(100) {
        let r = c.ecs("DescribeClusters", &json!({ "clusters": chunk }))?;
        if let Some(list) = r.get("clusters").and_then(Value::as_array) {
            out.extend(list.iter().map(ClusterInfo::from_json));
        }
    }
    Ok(out)
}

/// Every page of an `ecs:List...` call: the texts of `list_key`.
fn list_all(
    c: &Client,
    op: &str,
    request: &Value,
    list_key: &str,
) -> Result<Vec<String>, AwsError> {
    Ok(c.ecs_all(op, request, list_key)?
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect())
}

/// The cluster `want` (name or ARN), or one picked from the cluster list.
fn choose_cluster(want: Option<&str>, c: &Client, ui: &mut dyn Prompt) -> Result<Cluster, Fail> {
    if let Some(want) = want {
        let found = describe_clusters(c, &[want.to_string()])?;
        if let Some(cl) = found.iter().find(|x| x.status.as_deref() == Some("ACTIVE")) {
            let cl = Cluster {
                arn: cl.arn.clone().unwrap_or_else(|| want.to_string()),
                name: cl.name.clone().unwrap_or_else(|| want.to_string()),
            };
            ui.say(&format!("cluster: {}", cl.name));
            return Ok(cl);
        }
        // Say which clusters there are (if they can be listed).
        let there = list_all(
            c,
            "ListClusters",
            &json!({"maxResults": 100}),
            "clusterArns",
        )
        .map(|arns| {
            let names: Vec<&str> = arns
                .iter()
                .map(|x| x.rsplit('/').next().unwrap_or(x))
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
    let arns = list_all(
        c,
        "ListClusters",
        &json!({"maxResults": 100}),
        "clusterArns",
    )?;
    if arns.is_empty() {
        return Err(Fail::Error(format!(
            "there are no ECS clusters in {} (another region? --region)",
            c.region
        )));
    }
    let mut clusters = describe_clusters(c, &arns)?;
    clusters.retain(|x| x.status.as_deref() != Some("INACTIVE"));
    clusters.sort_by(|x, y| x.name.cmp(&y.name));
    let labels: Vec<String> = clusters
        .iter()
        .map(|x| {
            let (services, tasks) = (x.active_services, x.running_tasks);
            format!(
                "{}  ({services} service{}, {tasks} running task{})",
                x.name.as_deref().unwrap_or("?"),
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
    let i = prompt::choose(ui, "Cluster", &labels)?;
    Ok(Cluster {
        arn: clusters[i].arn.clone().unwrap_or_default(),
        name: clusters[i].name.clone().unwrap_or_default(),
    })
}

/// Every active service of the cluster, described (10 a call), by name.
fn cluster_services(c: &Client, cluster: &Cluster) -> Result<Vec<Service>, AwsError> {
    let arns = list_all(
        c,
        "ListServices",
        &json!({"cluster": cluster.arn, "maxResults": 100}),
        "serviceArns",
    )?;
    let mut out = Vec::new();
    for chunk in arns.chunks(10) {
        let r = c.ecs(
            "DescribeServices",
            &json!({"cluster": cluster.arn, "services": chunk}),
        )?;
        if let Some(list) = r.get("services").and_then(Value::as_array) {
            out.extend(
                list.iter()
                    .map(Service::from_json)
                    .filter(|x| x.status.as_deref() != Some("INACTIVE")),
            );
        }
    }
    out.sort_by(|x, y| x.name.cmp(&y.name));
    Ok(out)
}

/// The family given, or one picked from the active families (those that
/// services of the cluster run first).
fn choose_family(
    want: Option<&str>,
    c: &Client,
    services: &[Service],
    ui: &mut dyn Prompt,
) -> Result<String, Fail> {
    if let Some(f) = want {
        return Ok(f.to_string());
    }
    let mut families = list_all(
        c,
        "ListTaskDefinitionFamilies",
        &json!({"status": "ACTIVE", "maxResults": 100}),
        "families",
    )?;
    if families.is_empty() {
        return Err(Fail::Error(format!(
            "there are no active task definition families in {}",
            c.region
        )));
    }
    let users = |f: &str| -> Vec<String> {
        services
            .iter()
            .filter(|x| x.family() == f)
            .filter_map(|x| x.name.clone())
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
    let i = prompt::choose(ui, "Task family", &labels)?;
    Ok(families[i].clone())
}

/// `ecs:DescribeTaskDefinition` of `family` (or `family:revision`), with tags.
fn task_definition(c: &Client, family: &str) -> Result<TaskDef, Fail> {
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
    Ok(TaskDef::from_answer(&d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_keys_are_masked() {
        assert_eq!(masked("AKIAABCDEFGH1234"), "****1234");
        assert_eq!(masked("AB"), "****AB");
    }
}
