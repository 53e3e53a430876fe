//! The policy document from [`PolicyArgs`]: one statement per
//! [`Grant`](super::grants::Grant), its resources narrowed as far as the
//! flags say and IAM allows, then the optional `iam:PassRole` statement;
//! and the notes that say what was left open and how to narrow it.

use super::args::PolicyArgs;
use super::grants::{
    GRANTS, MARKER_TAG_KEYS, PASS_ROLE_ACTION, PASS_ROLE_SID, PASSED_TO_SERVICE, Scope,
};
use serde_json::{Value, json};

/// The document (IAM policy grammar, version 2012-10-17) and the notes
/// said beside it.
#[derive(Debug, Clone)]
pub struct Policy {
    pub document: Value,
    pub notes: Vec<String>,
}

/// The keys of a statement, in the order IAM's documentation writes them.
const STATEMENT_KEYS: &[&str] = &["Sid", "Effect", "Action", "Resource", "Condition"];

impl Policy {
    /// The document as printed: pretty JSON with `Version` before
    /// `Statement` and each statement's keys in [`STATEMENT_KEYS`] order
    /// (serde_json's maps would sort them).
    pub fn text(&self) -> String {
        let pretty = |v: &Value, indent: &str| {
            serde_json::to_string_pretty(v)
                .expect("JSON serialises")
                .replace('\n', &format!("\n{indent}"))
        };
        let mut out = String::from("{\n");
        out.push_str(&format!(
            "  \"Version\": {},\n  \"Statement\": [",
            pretty(&self.document["Version"], "  ")
        ));
        let statements = self.document["Statement"].as_array().map_or(&[][..], |l| l);
        for (i, st) in statements.iter().enumerate() {
            out.push_str(if i == 0 { "\n    {" } else { ",\n    {" });
            let fields: Vec<String> = STATEMENT_KEYS
                .iter()
                .filter_map(|k| {
                    st.get(*k)
                        .map(|v| format!("\n      \"{k}\": {}", pretty(v, "      ")))
                })
                .collect();
            out.push_str(&fields.join(","));
            out.push_str("\n    }");
        }
        out.push_str("\n  ]\n}\n");
        out
    }
}

/// `value`, or `*` when not given.
fn or_any(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("*")
}

/// `arn:PARTITION:ecs:REGION:ACCOUNT:resource`.
fn ecs_arn(a: &PolicyArgs, resource: &str) -> String {
    format!(
        "arn:{}:ecs:{}:{}:{resource}",
        a.partition(),
        or_any(&a.region),
        or_any(&a.account)
    )
}

fn cluster_arn(a: &PolicyArgs) -> String {
    ecs_arn(a, &format!("cluster/{}", or_any(&a.cluster)))
}

/// The services named, else every service of the cluster.
fn service_arns(a: &PolicyArgs) -> Vec<String> {
    let cluster = or_any(&a.cluster);
    if a.services.is_empty() {
        return vec![ecs_arn(a, &format!("service/{cluster}/*"))];
    }
    a.services
        .iter()
        .map(|s| ecs_arn(a, &format!("service/{cluster}/{s}")))
        .collect()
}

/// The roles to pass: those given (names become ARNs of the account),
/// else every role of the account.
fn role_arns(a: &PolicyArgs) -> Vec<String> {
    let role = |name: &str| {
        format!(
            "arn:{}:iam::{}:role/{name}",
            a.partition(),
            or_any(&a.account)
        )
    };
    if a.roles.is_empty() {
        return vec![role("*")];
    }
    a.roles
        .iter()
        .map(|r| {
            if r.starts_with("arn:") {
                r.clone()
            } else {
                role(r)
            }
        })
        .collect()
}

fn statement(
    sid: &str,
    actions: &[&str],
    resources: Vec<String>,
    condition: Option<Value>,
) -> Value {
    let mut s = json!({
        "Sid": sid,
        "Effect": "Allow",
        "Action": actions,
        "Resource": resources,
    });
    if let Some(c) = condition {
        s["Condition"] = c;
    }
    s
}

/// The policy for `ecs add` with what `a` says.
pub fn policy(a: &PolicyArgs) -> Policy {
    let mut statements = Vec::new();
    for g in GRANTS {
        let any = || vec!["*".to_string()];
        let (resources, condition) = match g.scope {
            Scope::Any => (any(), None),
            Scope::AnyOfCluster => (
                any(),
                a.cluster
                    .as_ref()
                    .map(|_| json!({"ArnLike": {"ecs:cluster": cluster_arn(a)}})),
            ),
            Scope::Cluster => (vec![cluster_arn(a)], None),
            Scope::ClusterServices => (
                vec![ecs_arn(a, &format!("service/{}/*", or_any(&a.cluster)))],
                None,
            ),
            Scope::Services => (service_arns(a), None),
            Scope::ServicesMarkerTags => (
                service_arns(a),
                Some(json!({"ForAllValues:StringEquals": {"aws:TagKeys": MARKER_TAG_KEYS}})),
            ),
            Scope::Family => (
                vec![ecs_arn(
                    a,
                    &format!("task-definition/{}:*", or_any(&a.family)),
                )],
                None,
            ),
        };
        statements.push(statement(g.sid, g.actions, resources, condition));
    }
    if a.pass_role {
        statements.push(statement(
            PASS_ROLE_SID,
            &[PASS_ROLE_ACTION],
            role_arns(a),
            Some(json!({"StringEquals": {"iam:PassedToService": PASSED_TO_SERVICE}})),
        ));
    }
    Policy {
        document: json!({"Version": "2012-10-17", "Statement": statements}),
        notes: notes(a),
    }
}

/// What was left open (each with the flag that narrows it), and why
/// `iam:PassRole` is there.
fn notes(a: &PolicyArgs) -> Vec<String> {
    let mut n = Vec::new();
    let mut open = Vec::new();
    if a.region.is_none() {
        open.push("any region (--region)");
    }
    if a.account.is_none() {
        open.push("any account (--account)");
    }
    if a.cluster.is_none() {
        open.push("any cluster (--cluster)");
    }
    if a.services.is_empty() {
        open.push("any service of the cluster (--service, repeatable)");
    }
    if a.family.is_none() {
        open.push("any task family (--task-family)");
    }
    if a.pass_role && a.roles.is_empty() {
        open.push("any role of the account for iam:PassRole (--task-role, --execution-role)");
    }
    if !open.is_empty() {
        n.push(format!("wildcards left: {}", open.join(", ")));
    }
    if let Some(c) = &a.cluster {
        n.push(format!(
            "run ecs add with --cluster {c}: without it, its cluster menu describes every \
             cluster, which this policy does not allow"
        ));
    }
    if a.region.is_none() && a.partition.is_none() {
        n.push("the ARNs are in the aws partition; give --region for China or GovCloud".into());
    }
    n.push(
        "ec2:DescribeRegions, ecs:ListClusters, ecs:ListTaskDefinitionFamilies and \
         ecs:DescribeTaskDefinition allow no resource narrower than \"*\"; ecs:ListServices \
         neither, but is held to the cluster by the ecs:cluster condition when --cluster is \
         given; ecs:DescribeServices covers every service of the cluster, which ecs add reads \
         to find those that run the family"
            .into(),
    );
    if a.pass_role {
        n.push(format!(
            "{PASS_ROLE_SID} ({PASS_ROLE_ACTION}) is not one of ecs add's ten calls: AWS checks \
             it when RegisterTaskDefinition names a task role or task execution role (a Fargate \
             task has one), and ecs add copies those of the task; --no-pass-role leaves it out \
             if the user may pass them already"
        ));
    }
    n
}
