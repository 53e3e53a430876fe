//! What `ecs add` reads from AWS, typed once: the task definition (with its
//! tags, and every field kept as returned for the new revision), the chosen
//! cluster, and the cluster's services with their deployments. A field that
//! is absent or of another type reads as `None` (counts as 0), as AWS's
//! optional fields do; nothing else looks into the JSON.

use super::platform::Platform;
use serde_json::Value;

/// Everything read before the plan (the AWS client aside).
#[derive(Debug, Clone)]
pub struct Found {
    /// The region chosen.
    pub region: String,
    pub cluster: Cluster,
    /// The cluster's services but INACTIVE ones, by name.
    pub services: Vec<Service>,
    /// The family, as the task definition names it (else as asked for).
    pub family: String,
    /// Its latest revision (or the one asked for).
    pub task: TaskDef,
}

impl Found {
    /// `family:revision` of the task definition the new revision is made from.
    pub fn base(&self) -> String {
        format!("{}:{}", self.family, self.task.revision)
    }

    /// The services of the cluster that run some revision of the family.
    pub fn of_family(&self) -> Vec<&Service> {
        self.services
            .iter()
            .filter(|s| s.family() == self.family)
            .collect()
    }
}

/// The chosen cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct Cluster {
    pub arn: String,
    pub name: String,
}

/// A cluster as `ecs:DescribeClusters` describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterInfo {
    pub arn: Option<String>,
    pub name: Option<String>,
    pub status: Option<String>,
    pub active_services: u64,
    pub running_tasks: u64,
}

impl ClusterInfo {
    pub fn from_json(v: &Value) -> ClusterInfo {
        ClusterInfo {
            arn: text(v, "clusterArn"),
            name: text(v, "clusterName"),
            status: text(v, "status"),
            active_services: num(v.get("activeServicesCount")).unwrap_or(0),
            running_tasks: num(v.get("runningTasksCount")).unwrap_or(0),
        }
    }
}

/// A task definition as `ecs:DescribeTaskDefinition` (or
/// `RegisterTaskDefinition`) returns it.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskDef {
    pub arn: Option<String>,
    pub family: Option<String>,
    /// 0 when absent.
    pub revision: u64,
    /// The network mode ECS uses: `networkMode`, else `bridge` (absent means
    /// bridge on EC2; Fargate requires awsvpc, so it is never absent there).
    pub network_mode: String,
    /// `networkMode` is absent: [`TaskDef::network_mode`] is EC2's default.
    pub network_mode_default: bool,
    /// `requiresCompatibilities` names FARGATE.
    pub fargate: bool,
    pub execution_role: Option<String>,
    /// The task's CPU units and memory (MiB), when set.
    pub cpu: Option<u64>,
    pub memory: Option<u64>,
    /// `runtimePlatform`: what the sensor will run as.
    pub platform: Platform,
    pub containers: Vec<Container>,
    /// The tags (`include: TAGS`), sent back as they came.
    pub tags: Vec<Value>,
    /// The task definition as returned, every field (known or not): what
    /// the new revision is made from.
    pub raw: Value,
}

impl TaskDef {
    /// From a `DescribeTaskDefinition` answer: `taskDefinition` and `tags`.
    pub fn from_answer(answer: &Value) -> TaskDef {
        let td = answer.get("taskDefinition").cloned().unwrap_or(Value::Null);
        let tags = answer.get("tags").and_then(Value::as_array);
        TaskDef {
            arn: text(&td, "taskDefinitionArn"),
            family: text(&td, "family"),
            revision: num(td.get("revision")).unwrap_or(0),
            network_mode: text(&td, "networkMode").unwrap_or_else(|| "bridge".into()),
            network_mode_default: td.get("networkMode").is_none(),
            fargate: td
                .get("requiresCompatibilities")
                .and_then(Value::as_array)
                .is_some_and(|a| a.iter().any(|c| c == "FARGATE")),
            execution_role: text(&td, "executionRoleArn"),
            cpu: num(td.get("cpu")),
            memory: num(td.get("memory")),
            platform: Platform::from_task(&td),
            containers: td
                .get("containerDefinitions")
                .and_then(Value::as_array)
                .map(|l| l.iter().map(Container::from_json).collect())
                .unwrap_or_default(),
            tags: tags.cloned().unwrap_or_default(),
            raw: td,
        }
    }

    /// `family:revision` as the messages name it (`?` without a family).
    pub fn name(&self) -> String {
        format!(
            "{}:{}",
            self.family.as_deref().unwrap_or("?"),
            self.revision
        )
    }
}

/// What `ecs add` needs of a container definition.
#[derive(Debug, Clone, PartialEq)]
pub struct Container {
    pub name: Option<String>,
    pub image: Option<String>,
    pub cpu: Option<u64>,
    pub memory: Option<u64>,
    pub memory_reservation: Option<u64>,
}

impl Container {
    pub fn from_json(v: &Value) -> Container {
        Container {
            name: text(v, "name"),
            image: text(v, "image"),
            cpu: num(v.get("cpu")),
            memory: num(v.get("memory")),
            memory_reservation: num(v.get("memoryReservation")),
        }
    }
}

/// A service as `ecs:DescribeServices` describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    pub name: Option<String>,
    pub arn: Option<String>,
    pub status: Option<String>,
    /// The task definition it runs (an ARN).
    pub task_definition: Option<String>,
    pub running: u64,
    pub desired: u64,
    /// `deploymentController.type`: ECS when absent.
    pub controller: String,
    pub deployments: Vec<Deployment>,
}

impl Service {
    pub fn from_json(v: &Value) -> Service {
        Service {
            name: text(v, "serviceName"),
            arn: text(v, "serviceArn"),
            status: text(v, "status"),
            task_definition: text(v, "taskDefinition"),
            running: num(v.get("runningCount")).unwrap_or(0),
            desired: num(v.get("desiredCount")).unwrap_or(0),
            controller: v
                .pointer("/deploymentController/type")
                .and_then(Value::as_str)
                .unwrap_or("ECS")
                .to_string(),
            deployments: v
                .get("deployments")
                .and_then(Value::as_array)
                .map(|l| l.iter().map(Deployment::from_json).collect())
                .unwrap_or_default(),
        }
    }

    /// The name, or `?`.
    pub fn label(&self) -> &str {
        self.name.as_deref().unwrap_or("?")
    }

    /// The family of the task definition it runs.
    pub fn family(&self) -> String {
        family_of(self.task_definition.as_deref().unwrap_or("")).0
    }

    /// `family:revision` of what it runs, if it names a task definition.
    pub fn runs(&self) -> Option<String> {
        self.task_definition.as_deref().map(short_td)
    }
}

/// One deployment of a service.
#[derive(Debug, Clone, PartialEq)]
pub struct Deployment {
    pub task_definition: Option<String>,
    pub running: u64,
    pub desired: u64,
    /// COMPLETED, FAILED, IN_PROGRESS; absent on older services.
    pub rollout_state: Option<String>,
    pub rollout_state_reason: Option<String>,
}

impl Deployment {
    pub fn from_json(v: &Value) -> Deployment {
        Deployment {
            task_definition: text(v, "taskDefinition"),
            running: num(v.get("runningCount")).unwrap_or(0),
            desired: num(v.get("desiredCount")).unwrap_or(0),
            rollout_state: text(v, "rolloutState"),
            rollout_state_reason: text(v, "rolloutStateReason"),
        }
    }
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

/// A count: a JSON number, or a string of digits (task `cpu` and `memory`
/// are strings in the API).
pub fn num(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// `arn:aws:ecs:r:a:task-definition/web:7` (or `web:7`) → ("web", Some(7)).
pub fn family_of(td_ref: &str) -> (String, Option<u64>) {
    let tail = td_ref.rsplit('/').next().unwrap_or(td_ref);
    match tail.rsplit_once(':') {
        Some((f, r)) if r.parse::<u64>().is_ok() => (f.to_string(), r.parse().ok()),
        _ => (tail.to_string(), None),
    }
}

/// `family:revision` of a task definition ARN (or the name as it is).
pub fn short_td(td_ref: &str) -> String {
    match family_of(td_ref) {
        (f, Some(r)) => format!("{f}:{r}"),
        (f, None) => f,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_of_task_definitions() {
        assert_eq!(
            family_of("arn:aws:ecs:us-east-1:1:task-definition/web:7"),
            ("web".into(), Some(7))
        );
        assert_eq!(family_of("web"), ("web".into(), None));
        assert_eq!(short_td("arn:aws:ecs:r:1:task-definition/web:7"), "web:7");
        assert_eq!(short_td("web:latest"), "web:latest");
        assert_eq!(short_td(""), "");
    }

    #[test]
    fn counts_are_numbers_or_digit_strings() {
        for (v, want) in [
            (json!(512), Some(512)),
            (json!("1024"), Some(1024)),
            (json!(" 2048 "), Some(2048)),
            (json!("1 vCPU"), None),
            (json!(-1), None),
            (json!(1.5), None),
            (json!(null), None),
        ] {
            assert_eq!(num(Some(&v)), want, "{v}");
        }
        assert_eq!(num(None), None);
    }

    #[test]
    fn task_definition_fields() {
        let t = TaskDef::from_answer(&json!({
            "taskDefinition": {
                "taskDefinitionArn": "arn:aws:ecs:us-east-1:1:task-definition/web:7",
                "family": "web", "revision": 7, "cpu": "1024", "memory": "2048",
                "requiresCompatibilities": ["EC2", "FARGATE"], "executionRoleArn": "role",
                "containerDefinitions": [
                    {"name": "app", "image": "app:1", "cpu": 256, "memoryReservation": 100},
                    {"image": 5}
                ],
                "futureField": 1
            },
            "tags": [{"key": "team", "value": "a"}]
        }));
        assert_eq!(t.name(), "web:7");
        assert_eq!(
            (t.network_mode.as_str(), t.network_mode_default),
            ("bridge", true)
        );
        assert!(t.fargate);
        assert_eq!((t.cpu, t.memory), (Some(1024), Some(2048)));
        assert_eq!(t.containers.len(), 2);
        assert_eq!(t.containers[0].memory_reservation, Some(100));
        assert_eq!(t.containers[1].name, None);
        assert_eq!(t.containers[1].image, None);
        assert_eq!(t.tags, vec![json!({"key": "team", "value": "a"})]);
        assert_eq!(t.raw["futureField"], 1);
        assert_eq!(t.platform, Platform::default());
        let t = TaskDef::from_answer(&json!({"taskDefinition": {
            "runtimePlatform": {"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"}
        }}));
        assert_eq!(t.platform.image_platform(), Some("linux/arm64"));
        // A mode that is there but not text: bridge, but not "the default".
        let t = TaskDef::from_answer(&json!({"taskDefinition": {"networkMode": null}}));
        assert_eq!(
            (t.network_mode.as_str(), t.network_mode_default),
            ("bridge", false)
        );
        // Nothing at all.
        let t = TaskDef::from_answer(&json!({}));
        assert_eq!(t.name(), "?:0");
        assert!(t.raw.is_null() && t.tags.is_empty() && !t.fargate);
    }

    #[test]
    fn services_and_deployments() {
        let s = Service::from_json(&json!({
            "serviceName": "web-svc", "taskDefinition": "arn:aws:ecs:r:1:task-definition/web:2",
            "runningCount": 1, "desiredCount": "2",
            "deploymentController": {"type": "CODE_DEPLOY"},
            "deployments": [{"taskDefinition": "x", "rolloutState": "IN_PROGRESS", "runningCount": 1}]
        }));
        assert_eq!(
            (s.label(), s.family(), s.runs()),
            ("web-svc", "web".into(), Some("web:2".into()))
        );
        assert_eq!(
            (s.running, s.desired, s.controller.as_str()),
            (1, 2, "CODE_DEPLOY")
        );
        assert_eq!(
            s.deployments[0].rollout_state.as_deref(),
            Some("IN_PROGRESS")
        );
        assert_eq!(s.deployments[0].desired, 0);
        let s = Service::from_json(&json!({}));
        assert_eq!(
            (s.label(), s.family(), s.runs()),
            ("?", String::new(), None)
        );
        assert_eq!(s.controller, "ECS");
    }
}
