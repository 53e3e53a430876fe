//! Tests of the plan's rules.

use super::*;
use serde_json::json;

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

fn task(td: Value) -> TaskDef {
    TaskDef::from_answer(&json!({"taskDefinition": td, "tags": [{"key": "team", "value": "a"}]}))
}

fn options() -> SidecarOptions {
    SidecarOptions {
        image: Some("repo/pcap-sensor:1".into()),
        cpu: Some(512),
        memory: Some(512),
        ..SidecarOptions::default()
    }
}

fn sidecar() -> Value {
    container_def::sidecar(&options())
}

fn sensor() -> Container {
    Container::from_json(&sidecar())
}

#[test]
fn new_revision_keeps_writable_fields_only() {
    let tags = json!([{"key": "team", "value": "a"}]);
    let (r, unknown) = new_task_definition(&td(), tags.as_array().unwrap(), &sidecar());
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
    let (r, _) = new_task_definition(&td(), &[], &sidecar());
    assert!(r.get("tags").is_none());
}

#[test]
fn refusals() {
    let refusal = |t: &Value, force: bool| refusal(&task(t.clone()), &sensor(), force);
    let text = |t: &Value, force: bool| refusal(t, force).unwrap_err().to_string();
    assert!(refusal(&td(), false).unwrap().is_empty());
    // already there (by name, or by image repository)
    let mut t = td();
    t["containerDefinitions"]
        .as_array_mut()
        .unwrap()
        .push(sidecar());
    let e = text(&t, true);
    assert!(e.contains("already has the sensor"), "{e}");
    let mut t = td();
    t["containerDefinitions"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "other", "image": "repo/pcap-sensor:0.9"}));
    assert!(refusal(&t, true).is_err());
    // bridge (also by default on EC2), unless --force
    let mut t = td();
    t["networkMode"] = json!("bridge");
    let e = text(&t, false);
    assert!(e.contains("bridge") && e.contains("--force"), "{e}");
    assert_eq!(refusal(&t, true).unwrap().len(), 1);
    let mut t = td();
    t.as_object_mut().unwrap().remove("networkMode");
    assert!(text(&t, false).contains("default"));
    // Fargate without an execution role
    let mut t = td();
    t.as_object_mut().unwrap().remove("executionRoleArn");
    assert!(text(&t, false).contains("execution role"));
    // no room
    let mut t = td();
    t["memory"] = json!("768");
    let e = text(&t, false);
    assert!(e.contains("--memory 256"), "{e}");
    let mut t = td();
    t["cpu"] = json!("512");
    let e = text(&t, false);
    assert!(e.contains("--cpu 256"), "{e}");
}
