//! Just enough IAM policy evaluation to check a policy printed by
//! `pcap-sensor ecs iam-policy` against the requests `ecs add` made (as
//! tests/ecs_add.rs reads them from the fixture's log): Allow statements,
//! `*` and `?` wildcards in `Action` (any case) and `Resource`, and the
//! condition operators that policy uses. As in IAM, a condition key the
//! request does not carry fails `ArnLike`/`StringEquals` and satisfies
//! `ForAllValues:...`; an operator this does not know fails the statement.

use serde_json::Value;

/// One authorisation request: an action on a resource (`*` for actions
/// without a resource type), with the condition keys it carries.
#[derive(Debug, Clone)]
pub struct Request {
    pub action: String,
    pub resource: String,
    pub context: Vec<(String, Vec<String>)>,
}

impl Request {
    pub fn new(action: &str, resource: &str) -> Request {
        Request {
            action: action.to_string(),
            resource: resource.to_string(),
            context: Vec::new(),
        }
    }

    pub fn with(mut self, key: &str, values: Vec<String>) -> Request {
        self.context.push((key.to_string(), values));
        self
    }

    fn values(&self, key: &str) -> Option<&[String]> {
        self.context
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_slice())
    }
}

/// `pattern` with `*` (any run) and `?` (any one character) matches `text`.
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(l) => l
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

fn condition_holds(op: &str, key: &str, wanted: &[String], r: &Request) -> bool {
    let got = r.values(key);
    match op {
        "ArnLike" | "StringLike" => {
            got.is_some_and(|g| g.iter().any(|v| wanted.iter().any(|w| glob(w, v))))
        }
        "ArnEquals" | "StringEquals" => got.is_some_and(|g| g.iter().any(|v| wanted.contains(v))),
        "ForAllValues:StringEquals" => got.is_none_or(|g| g.iter().all(|v| wanted.contains(v))),
        _ => false,
    }
}

fn statement_allows(s: &Value, r: &Request) -> bool {
    if s["Effect"] != "Allow" {
        return false;
    }
    let action = strings(&s["Action"])
        .iter()
        .any(|a| glob(&a.to_ascii_lowercase(), &r.action.to_ascii_lowercase()));
    let resource = strings(&s["Resource"]).iter().any(|p| glob(p, &r.resource));
    let conditions = match s.get("Condition").and_then(Value::as_object) {
        None => true,
        Some(c) => c.iter().all(|(op, keys)| {
            keys.as_object().is_some_and(|keys| {
                keys.iter()
                    .all(|(k, v)| condition_holds(op, k, &strings(v), r))
            })
        }),
    };
    action && resource && conditions
}

/// Some statement of `policy` allows `r`.
pub fn allowed(policy: &Value, r: &Request) -> bool {
    policy["Statement"]
        .as_array()
        .is_some_and(|l| l.iter().any(|s| statement_allows(s, r)))
}

/// The IAM requests one ECS or EC2 API call of `ecs add` makes AWS
/// authorise: its action on each resource it names (as ARNs in `region` of
/// `account`), with the condition keys the policy uses. `op` and `body`
/// as the call sent them; `new_task_definition`: the ARN the registered
/// revision got (the request cannot say its number).
pub fn requests_of_call(
    op: &str,
    body: &Value,
    region: &str,
    account: &str,
    new_task_definition: &str,
) -> Vec<Request> {
    let arn = |r: &str| format!("arn:aws:ecs:{region}:{account}:{r}");
    let cluster_arn = |c: &str| {
        if c.starts_with("arn:") {
            c.to_string()
        } else {
            arn(&format!("cluster/{c}"))
        }
    };
    let cluster = body["cluster"].as_str().unwrap_or("default");
    let cluster_name = cluster.rsplit('/').next().unwrap_or(cluster);
    let service_arn = |s: &str| {
        if s.starts_with("arn:") {
            s.to_string()
        } else {
            arn(&format!("service/{cluster_name}/{s}"))
        }
    };
    let tag_keys = |tags: &Value| -> Vec<String> {
        tags.as_array()
            .map(|l| {
                l.iter()
                    .filter_map(|t| t["key"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let action = format!("ecs:{op}");
    match op {
        "DescribeRegions" => vec![Request::new("ec2:DescribeRegions", "*")],
        "ListClusters" | "ListTaskDefinitionFamilies" | "DescribeTaskDefinition" => {
            vec![Request::new(&action, "*")]
        }
        "ListServices" => {
            vec![Request::new(&action, "*").with("ecs:cluster", vec![cluster_arn(cluster)])]
        }
        "DescribeClusters" => strings(&body["clusters"])
            .iter()
            .map(|c| Request::new(&action, &cluster_arn(c)))
            .collect(),
        "DescribeServices" => strings(&body["services"])
            .iter()
            .map(|s| {
                Request::new(&action, &service_arn(s))
                    .with("ecs:cluster", vec![cluster_arn(cluster)])
            })
            .collect(),
        "UpdateService" => vec![
            Request::new(
                &action,
                &service_arn(body["service"].as_str().unwrap_or("")),
            )
            .with("ecs:cluster", vec![cluster_arn(cluster)]),
        ],
        "RegisterTaskDefinition" => {
            let mut out = vec![Request::new(&action, new_task_definition)];
            // Tags in the request: tagging on creation.
            if body
                .get("tags")
                .is_some_and(|t| t.as_array().is_some_and(|l| !l.is_empty()))
            {
                out.push(
                    Request::new("ecs:TagResource", new_task_definition)
                        .with("aws:TagKeys", tag_keys(&body["tags"]))
                        .with("ecs:CreateAction", vec!["RegisterTaskDefinition".into()]),
                );
            }
            out
        }
        "TagResource" => vec![
            Request::new(&action, body["resourceArn"].as_str().unwrap_or(""))
                .with("aws:TagKeys", tag_keys(&body["tags"])),
        ],
        other => panic!("an ECS call the IAM check does not know: {other}"),
    }
}
