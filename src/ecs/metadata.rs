//! Task metadata v4 (`$ECS_CONTAINER_METADATA_URI_V4/task`), read once at start.
//!
//! AWS adds fields over time, so everything is read leniently: a missing or
//! oddly typed field is simply absent.

use serde_json::Value;

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Task {
    pub cluster_arn: Option<String>,
    pub task_arn: Option<String>,
    pub family: Option<String>,
    pub revision: Option<String>,
    pub availability_zone: Option<String>,
    pub launch_type: Option<String>,
    pub service_name: Option<String>,
    pub region: Option<String>,
}

fn text(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Read the task document from a metadata base URI.
pub fn fetch(base: &str) -> Result<Task, String> {
    let url = format!("{}/task", base.trim_end_matches('/'));
    let r = minreq::get(&url)
        .with_timeout(2)
        .send()
        .map_err(|e| format!("{url}: {e}"))?;
    if r.status_code != 200 {
        return Err(format!("{url}: HTTP {}", r.status_code));
    }
    parse(r.as_bytes()).map_err(|e| format!("{url}: {e}"))
}

pub fn parse(body: &[u8]) -> Result<Task, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let task_arn = text(&v, "TaskARN");
    // arn:aws:ecs:REGION:ACCOUNT:task/...
    let region = task_arn
        .as_deref()
        .and_then(|a| a.split(':').nth(3))
        .filter(|r| !r.is_empty())
        .map(str::to_string);
    let mut cluster = text(&v, "Cluster");
    if let (Some(c), Some(arn)) = (&cluster, &task_arn)
        && !c.starts_with("arn:")
    {
        // EC2 launch type reports the cluster's name; build its ARN from the task's.
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        if parts.len() == 6 {
            cluster = Some(format!(
                "{}:{}:{}:{}:{}:cluster/{c}",
                parts[0], parts[1], parts[2], parts[3], parts[4]
            ));
        }
    }
    Ok(Task {
        cluster_arn: cluster,
        task_arn,
        family: text(&v, "Family"),
        revision: text(&v, "Revision"),
        availability_zone: text(&v, "AvailabilityZone"),
        launch_type: text(&v, "LaunchType").map(|s| s.to_ascii_lowercase()),
        service_name: text(&v, "ServiceName"),
        region,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fargate_shape() {
        let doc = br#"{"Cluster":"arn:aws:ecs:us-west-2:111122223333:cluster/prod",
          "TaskARN":"arn:aws:ecs:us-west-2:111122223333:task/prod/0123456789abcdef0123456789abcdef",
          "Family":"orders","Revision":"7","DesiredStatus":"RUNNING","KnownStatus":"RUNNING",
          "Limits":{"CPU":0.25,"Memory":512},"AvailabilityZone":"us-west-2a","LaunchType":"FARGATE",
          "ServiceName":"orders-svc","Containers":[{"Name":"app","DockerId":"0123456789abcdef0123456789abcdef-1234567890"}],
          "SomethingNew":{"x":[1,2]}}"#;
        let t = parse(doc).unwrap();
        assert_eq!(t.family.as_deref(), Some("orders"));
        assert_eq!(t.revision.as_deref(), Some("7"));
        assert_eq!(t.launch_type.as_deref(), Some("fargate"));
        assert_eq!(t.region.as_deref(), Some("us-west-2"));
        assert_eq!(t.service_name.as_deref(), Some("orders-svc"));
    }

    #[test]
    fn ec2_cluster_name_becomes_arn() {
        let doc = br#"{"Cluster":"default","TaskARN":"arn:aws:ecs:eu-west-1:1:task/default/abc","Revision":3}"#;
        let t = parse(doc).unwrap();
        assert_eq!(
            t.cluster_arn.as_deref(),
            Some("arn:aws:ecs:eu-west-1:1:cluster/default")
        );
        assert_eq!(t.revision.as_deref(), Some("3"));
    }
}
