//! `--wait`: follow each updated service's deployment of the new revision
//! (`ecs:DescribeServices` every poll interval) until all complete, one
//! fails, or the time is up. A change of a service's state is said once.

use super::Fail;
use super::model::{Cluster, Service, short_td};
use super::prompt::Prompt;
use crate::ecs::aws::Client;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Where a service's rollout of the new revision is.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// COMPLETED, FAILED, IN_PROGRESS (or what else ECS says).
    pub state: String,
    pub running: u64,
    pub desired: u64,
    pub reason: Option<String>,
}

/// The rollout of `new_arn` in `svc`; `None` when it has no deployment of
/// it (any more).
pub fn progress(svc: &Service, new_arn: &str) -> Option<Progress> {
    let dep = svc
        .deployments
        .iter()
        .find(|d| d.task_definition.as_deref() == Some(new_arn))?;
    let state = match &dep.rollout_state {
        Some(st) => st.clone(),
        // No rollout state (older services): done when the new deployment
        // is the only one and fully running.
        None if svc.deployments.len() == 1 && dep.running >= dep.desired => "COMPLETED".into(),
        None => "IN_PROGRESS".into(),
    };
    Some(Progress {
        state,
        running: dep.running,
        desired: dep.desired,
        reason: dep.rollout_state_reason.clone(),
    })
}

/// Follow `services` (names, in `cluster`) until their rollout of `new_arn`
/// completes; an error when one fails or disappears, or after `timeout`
/// seconds (checking every `poll_interval` seconds).
pub fn rollout(
    c: &Client,
    cluster: &Cluster,
    services: &[String],
    new_arn: &str,
    timeout: f64,
    poll_interval: f64,
    ui: &mut dyn Prompt,
) -> Result<(), Fail> {
    let deadline = Instant::now() + Duration::from_secs_f64(timeout);
    let mut pending: Vec<String> = services.to_vec();
    let mut last: Vec<(String, String)> = Vec::new();
    loop {
        let r = c.ecs(
            "DescribeServices",
            &json!({"cluster": cluster.arn, "services": pending}),
        )?;
        let list: Vec<Service> = r
            .get("services")
            .and_then(Value::as_array)
            .map(|l| l.iter().map(Service::from_json).collect())
            .unwrap_or_default();
        let mut still = Vec::new();
        for name in &pending {
            let Some(svc) = list.iter().find(|x| x.name.as_ref() == Some(name)) else {
                return Err(Fail::Error(format!(
                    "service {name} disappeared while waiting for its rollout"
                )));
            };
            let Some(p) = progress(svc, new_arn) else {
                return Err(Fail::Error(format!(
                    "service {name} has no deployment of {} any more (replaced by another \
                     update?): check it in the ECS console",
                    short_td(new_arn)
                )));
            };
            let status = format!("{} ({} of {} tasks running)", p.state, p.running, p.desired);
            if !last.iter().any(|(n, st)| n == name && *st == status) {
                ui.say(&format!("service {name}: rollout {status}"));
                last.retain(|(n, _)| n != name);
                last.push((name.clone(), status));
            }
            match p.state.as_str() {
                "COMPLETED" => {}
                "FAILED" => {
                    return Err(Fail::Error(format!(
                        "service {name}: the rollout of {} FAILED: {}",
                        short_td(new_arn),
                        p.reason.as_deref().unwrap_or("no reason given")
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
                timeout,
                short_td(new_arn),
                pending.join(", ")
            )));
        }
        std::thread::sleep(left.min(Duration::from_secs_f64(poll_interval)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NEW: &str = "arn:aws:ecs:us-east-1:1:task-definition/web:3";
    const OLD: &str = "arn:aws:ecs:us-east-1:1:task-definition/web:2";

    fn svc(deployments: Value) -> Service {
        Service::from_json(&json!({"serviceName": "web", "deployments": deployments}))
    }

    #[test]
    fn progress_of_a_rollout() {
        let dep = |td: &str, state: Option<&str>, running: u64, desired: u64| {
            let mut d =
                json!({"taskDefinition": td, "runningCount": running, "desiredCount": desired});
            if let Some(s) = state {
                d["rolloutState"] = json!(s);
            }
            d
        };
        for (deployments, want) in [
            (
                json!([dep(NEW, Some("IN_PROGRESS"), 0, 2)]),
                Some(("IN_PROGRESS", 0, 2)),
            ),
            (
                json!([dep(NEW, Some("COMPLETED"), 2, 2)]),
                Some(("COMPLETED", 2, 2)),
            ),
            (
                json!([dep(NEW, Some("FAILED"), 0, 2), dep(OLD, None, 2, 2)]),
                Some(("FAILED", 0, 2)),
            ),
            // No rollout state: complete when it is the only deployment, fully running.
            (json!([dep(NEW, None, 2, 2)]), Some(("COMPLETED", 2, 2))),
            (json!([dep(NEW, None, 1, 2)]), Some(("IN_PROGRESS", 1, 2))),
            (
                json!([dep(NEW, None, 2, 2), dep(OLD, None, 2, 2)]),
                Some(("IN_PROGRESS", 2, 2)),
            ),
            // Replaced by another deployment.
            (json!([dep(OLD, Some("COMPLETED"), 2, 2)]), None),
            (json!([]), None),
        ] {
            let got = progress(&svc(deployments.clone()), NEW);
            assert_eq!(
                got.as_ref()
                    .map(|p| (p.state.as_str(), p.running, p.desired)),
                want,
                "{deployments}"
            );
        }
        let s = svc(json!([{"taskDefinition": NEW, "rolloutState": "FAILED",
                             "rolloutStateReason": "circuit breaker"}]));
        assert_eq!(
            progress(&s, NEW).unwrap().reason.as_deref(),
            Some("circuit breaker")
        );
    }
}
