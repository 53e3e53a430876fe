//! Tests of `ecs iam-policy`: the actions against the list `ecs add` works
//! from and against the calls its code makes, the policy grammar, the
//! document as printed, each narrowing flag, and the flags' checks.

use super::grants::{GRANTS, PASS_ROLE_ACTION, PASS_ROLE_SID};
use super::*;
use crate::ecs::aws::PERMISSIONS;
use serde_json::{Value, json};
use std::collections::BTreeSet;

fn args(words: &[&str]) -> Result<PolicyArgs, String> {
    let v: Vec<OsString> = words.iter().map(OsString::from).collect();
    match parse_args(&v) {
        Ok(Some(a)) => Ok(a),
        Ok(None) => Err("help".into()),
        Err(e) => Err(e.0),
    }
}

fn doc(words: &[&str]) -> Value {
    policy(&args(words).unwrap()).document
}

/// The actions of the statements, but `iam:PassRole`'s.
fn ecs_add_actions(d: &Value) -> BTreeSet<String> {
    d["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["Sid"] != PASS_ROLE_SID)
        .flat_map(|s| s["Action"].as_array().unwrap().clone())
        .map(|a| a.as_str().unwrap().to_string())
        .collect()
}

/// The AWS operations the code of `ecs add` calls, read from its source:
/// `c.ecs("Op", ...)`, `list_all(c, "Op", ...)` (ECS), and
/// `describe_regions()` (EC2).
fn calls_in_the_code() -> BTreeSet<String> {
    let sources = [
        include_str!("../add/mod.rs"),
        include_str!("../add/read.rs"),
        include_str!("../add/ask.rs"),
        include_str!("../add/plan.rs"),
        include_str!("../add/apply.rs"),
        include_str!("../add/wait.rs"),
    ];
    let ecs = regex_lite::Regex::new(
        r#"(?:\.ecs|\.ecs_all|[^A-Za-z0-9_]list_all)\(\s*(?:c,\s*)?"([A-Za-z]+)""#,
    )
    .unwrap();
    let mut out = BTreeSet::new();
    for src in sources {
        for m in ecs.captures_iter(src) {
            out.insert(format!("ecs:{}", &m[1]));
        }
        if src.contains(".describe_regions()") {
            out.insert("ec2:DescribeRegions".to_string());
        }
    }
    out
}

#[test]
fn the_actions_are_exactly_those_ecs_add_calls() {
    let table: BTreeSet<String> = PERMISSIONS.iter().map(|(a, _, _)| a.to_string()).collect();
    assert_eq!(table.len(), 10);
    // The code calls exactly the table's actions ...
    assert_eq!(calls_in_the_code(), table);
    // ... and every policy has exactly them (iam:PassRole apart).
    let grants: BTreeSet<String> = GRANTS
        .iter()
        .flat_map(|g| g.actions.iter().map(|a| a.to_string()))
        .collect();
    assert_eq!(grants, table);
    for words in [
        &[][..],
        &["--no-pass-role"],
        &[
            "--region",
            "eu-west-1",
            "--account",
            "123456789012",
            "--cluster",
            "prod",
            "--service",
            "web",
            "--task-family",
            "web",
            "--task-role",
            "web-task",
        ],
    ] {
        assert_eq!(ecs_add_actions(&doc(words)), table, "{words:?}");
    }
    // --no-pass-role: nothing but the ten.
    let d = doc(&["--no-pass-role"]);
    let all: Vec<&Value> = d["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["Action"].as_array().unwrap())
        .collect();
    assert!(!all.iter().any(|a| *a == PASS_ROLE_ACTION));
}

/// IAM policy grammar: Version 2012-10-17; Statement a non-empty array of
/// objects with a unique alphanumeric Sid, Effect Allow, Action and
/// Resource non-empty arrays of strings (actions `service:Name`, resources
/// `*` or ARNs), and an optional Condition of operator → key → values.
fn assert_grammar(d: &Value) {
    let obj = d.as_object().unwrap();
    assert_eq!(
        obj.keys().collect::<Vec<_>>(),
        vec!["Statement", "Version"],
        "{d:#}"
    );
    assert_eq!(d["Version"], "2012-10-17");
    let statements = d["Statement"].as_array().unwrap();
    assert!(!statements.is_empty());
    let mut sids = BTreeSet::new();
    for s in statements {
        let keys: BTreeSet<&str> = s.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        let allowed: BTreeSet<&str> = ["Sid", "Effect", "Action", "Resource", "Condition"].into();
        assert!(keys.is_subset(&allowed), "{s}");
        let sid = s["Sid"].as_str().unwrap();
        assert!(
            !sid.is_empty() && sid.bytes().all(|b| b.is_ascii_alphanumeric()),
            "{sid}"
        );
        assert!(sids.insert(sid), "Sid {sid} twice");
        assert_eq!(s["Effect"], "Allow");
        for a in s["Action"].as_array().unwrap() {
            let (service, name) = a.as_str().unwrap().split_once(':').unwrap();
            assert!(["ec2", "ecs", "iam"].contains(&service), "{a}");
            assert!(name.bytes().all(|b| b.is_ascii_alphabetic()), "{a}");
        }
        let resources = s["Resource"].as_array().unwrap();
        assert!(!resources.is_empty());
        for r in resources {
            let r = r.as_str().unwrap();
            assert!(
                r == "*" || r.split(':').count() >= 6 && r.starts_with("arn:"),
                "{r}"
            );
        }
        if let Some(c) = s.get("Condition") {
            for (op, keys) in c.as_object().unwrap() {
                assert!(
                    ["ArnLike", "StringEquals", "ForAllValues:StringEquals"].contains(&op.as_str()),
                    "{op}"
                );
                for (_key, v) in keys.as_object().unwrap() {
                    assert!(
                        v.is_string()
                            || v.as_array().is_some_and(|l| l.iter().all(Value::is_string))
                    );
                }
            }
        }
    }
}

#[test]
fn every_policy_is_grammatical() {
    for words in [
        &[][..],
        &["--no-pass-role"],
        &["--region", "cn-north-1", "--cluster", "prod"],
        &[
            "--region",
            "us-west-2",
            "--account",
            "123456789012",
            "--cluster",
            "prod",
            "--service",
            "a",
            "--service",
            "b",
            "--task-family",
            "web:3",
            "--task-role",
            "web-task",
            "--execution-role",
            "arn:aws:iam::123456789012:role/service/ecsTaskExecutionRole",
        ],
    ] {
        let d = doc(words);
        assert_grammar(&d);
        // And as printed: valid JSON that reads back the same.
        let text = policy(&args(words).unwrap()).text();
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), d, "{text}");
    }
}

#[test]
fn the_default_policy() {
    let p = policy(&args(&[]).unwrap());
    assert_eq!(
        p.document,
        json!({
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "EcsAddFindRegionsClustersAndTaskDefinitions", "Effect": "Allow",
                 "Action": ["ec2:DescribeRegions", "ecs:ListClusters",
                            "ecs:ListTaskDefinitionFamilies", "ecs:DescribeTaskDefinition"],
                 "Resource": ["*"]},
                {"Sid": "EcsAddListTheClusterServices", "Effect": "Allow",
                 "Action": ["ecs:ListServices"], "Resource": ["*"]},
                {"Sid": "EcsAddDescribeTheCluster", "Effect": "Allow",
                 "Action": ["ecs:DescribeClusters"], "Resource": ["arn:aws:ecs:*:*:cluster/*"]},
                {"Sid": "EcsAddDescribeTheClusterServices", "Effect": "Allow",
                 "Action": ["ecs:DescribeServices"], "Resource": ["arn:aws:ecs:*:*:service/*/*"]},
                {"Sid": "EcsAddRegisterAndTagTheNewRevision", "Effect": "Allow",
                 "Action": ["ecs:RegisterTaskDefinition", "ecs:TagResource"],
                 "Resource": ["arn:aws:ecs:*:*:task-definition/*:*"]},
                {"Sid": "EcsAddUpdateTheServices", "Effect": "Allow",
                 "Action": ["ecs:UpdateService"], "Resource": ["arn:aws:ecs:*:*:service/*/*"]},
                {"Sid": "EcsAddMarkTheServices", "Effect": "Allow",
                 "Action": ["ecs:TagResource"], "Resource": ["arn:aws:ecs:*:*:service/*/*"],
                 "Condition": {"ForAllValues:StringEquals":
                     {"aws:TagKeys": ["pcap-sensor:sidecar", "pcap-sensor:added-at"]}}},
                {"Sid": "PassTheTaskRolesToEcsTasks", "Effect": "Allow",
                 "Action": ["iam:PassRole"], "Resource": ["arn:aws:iam::*:role/*"],
                 "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}}
            ]
        })
    );
    assert_eq!(p.notes.len(), 4, "{:#?}", p.notes);
    assert_eq!(
        p.notes[0],
        "wildcards left: any region (--region), any account (--account), any cluster \
         (--cluster), any service of the cluster (--service, repeatable), any task family \
         (--task-family), any role of the account for iam:PassRole (--task-role, \
         --execution-role)"
    );
    assert!(p.notes[1].contains("aws partition"));
    assert!(p.notes[3].starts_with("PassTheTaskRolesToEcsTasks (iam:PassRole) is not one"));
}

#[test]
fn narrowed_by_every_flag() {
    let p = policy(
        &args(&[
            "--region",
            "eu-west-1",
            "--account",
            "123456789012",
            "--cluster",
            "prod",
            "--service",
            "web-a",
            "--service",
            "web-b",
            "--task-family",
            "web",
            "--task-role",
            "web-task",
            "--execution-role",
            "ecsTaskExecutionRole",
        ])
        .unwrap(),
    );
    let st = p.document["Statement"].as_array().unwrap();
    let by_sid = |sid: &str| st.iter().find(|s| s["Sid"] == sid).unwrap().clone();
    let arn = |r: &str| format!("arn:aws:ecs:eu-west-1:123456789012:{r}");
    assert_eq!(
        by_sid("EcsAddFindRegionsClustersAndTaskDefinitions")["Resource"],
        json!(["*"])
    );
    let ls = by_sid("EcsAddListTheClusterServices");
    assert_eq!(ls["Resource"], json!(["*"]));
    assert_eq!(
        ls["Condition"],
        json!({"ArnLike": {"ecs:cluster": arn("cluster/prod")}})
    );
    assert_eq!(
        by_sid("EcsAddDescribeTheCluster")["Resource"],
        json!([arn("cluster/prod")])
    );
    assert_eq!(
        by_sid("EcsAddDescribeTheClusterServices")["Resource"],
        json!([arn("service/prod/*")])
    );
    assert_eq!(
        by_sid("EcsAddRegisterAndTagTheNewRevision")["Resource"],
        json!([arn("task-definition/web:*")])
    );
    let services = json!([arn("service/prod/web-a"), arn("service/prod/web-b")]);
    assert_eq!(by_sid("EcsAddUpdateTheServices")["Resource"], services);
    assert_eq!(by_sid("EcsAddMarkTheServices")["Resource"], services);
    assert_eq!(
        by_sid("PassTheTaskRolesToEcsTasks")["Resource"],
        json!([
            "arn:aws:iam::123456789012:role/web-task",
            "arn:aws:iam::123456789012:role/ecsTaskExecutionRole"
        ])
    );
    // Nothing left open: the notes on --cluster for ecs add, on what cannot
    // be narrowed, and on PassRole.
    assert_eq!(p.notes.len(), 3, "{:#?}", p.notes);
    assert_eq!(
        p.notes[0],
        "run ecs add with --cluster prod: without it, its cluster menu describes every \
         cluster, which this policy does not allow"
    );
}

#[test]
fn arns_given_narrow_too() {
    let a = args(&[
        "--service",
        "arn:aws-cn:ecs:cn-north-1:123456789012:service/prod/web",
        "--execution-role",
        "arn:aws-cn:iam::123456789012:role/exec",
    ])
    .unwrap();
    assert_eq!(
        (
            a.partition(),
            a.region.as_deref(),
            a.account.as_deref(),
            a.cluster.as_deref()
        ),
        (
            "aws-cn",
            Some("cn-north-1"),
            Some("123456789012"),
            Some("prod")
        )
    );
    assert_eq!(a.services, vec!["web"]);
    let d = policy(&a).document;
    assert_eq!(
        d["Statement"][5]["Resource"],
        json!(["arn:aws-cn:ecs:cn-north-1:123456789012:service/prod/web"])
    );
    let a = args(&[
        "--cluster",
        "arn:aws:ecs:us-east-1:123456789012:cluster/prod",
        "--task-family",
        "web:7",
    ])
    .unwrap();
    assert_eq!(
        (a.region.as_deref(), a.family.as_deref()),
        (Some("us-east-1"), Some("web"))
    );
    // Partitions from regions.
    for (region, partition) in [
        ("us-east-1", "aws"),
        ("cn-northwest-1", "aws-cn"),
        ("us-gov-west-1", "aws-us-gov"),
        ("us-iso-east-1", "aws-iso"),
        ("us-isob-east-1", "aws-iso-b"),
    ] {
        assert_eq!(args(&["--region", region]).unwrap().partition(), partition);
    }
}

#[test]
fn flags_are_checked_once() {
    #[rustfmt::skip]
    let rows: &[(&[&str], &str)] = &[
        (&["--region", "Mars"], "--region 'Mars' is not a region name"),
        (&["--account", "1234"], "--account '1234' is not an AWS account id"),
        (&["--cluster", "prod cluster"], "a cluster name has letters, digits"),
        (&["--cluster", "arn:aws:ecs:us-east-1:123456789012:service/prod/web"], "is not an ECS cluster ARN"),
        (&["--cluster", "arn:aws:ecs:nowhere:123456789012:cluster/prod"], "does not read as arn:PARTITION:ecs"),
        (&["--cluster", "a", "--cluster", "b"], "says cluster b, but cluster a was given"),
        (&["--region", "us-east-1", "--cluster", "arn:aws:ecs:eu-west-1:123456789012:cluster/prod"],
            "the ARN of --cluster says region eu-west-1, but region us-east-1 was given"),
        (&["--cluster", "prod", "--service", "arn:aws:ecs:us-east-1:123456789012:service/dev/web"],
            "the ARN of --service says cluster dev, but cluster prod was given"),
        (&["--service", "web/api"], "a service name has letters"),
        (&["--task-family", "web:latest"], "a family name has letters"),
        (&["--task-role", "arn:aws:iam::123456789012:user/me"], "is not an IAM role ARN"),
        (&["--task-role", "no such role"], "a role name has letters"),
        (&["--account", "123456789012", "--execution-role", "arn:aws:iam::210987654321:role/x"],
            "says account 210987654321, but account 123456789012 was given"),
        (&["--no-pass-role", "--task-role", "web"], "--no-pass-role leaves out"),
        (&["--region"], "--region needs a value"),
        (&["--profile", "x"], "unknown flag '--profile'"),
        (&["prod"], "unexpected argument 'prod'"),
        (&["--cluster", " "], "--cluster cannot be empty"),
    ];
    for (words, want) in rows {
        let e = args(words).unwrap_err();
        assert!(e.contains(want), "{words:?}: {e}");
    }
    assert_eq!(args(&["--help"]), Err("help".into()));
    // Repeats that agree are fine; a service named twice counts once.
    let a = args(&[
        "--cluster",
        "p",
        "--cluster",
        "p",
        "--service",
        "s",
        "--service",
        "s",
    ])
    .unwrap();
    assert_eq!(a.services, vec!["s"]);
    assert!(args(&[]).unwrap().pass_role);
}

#[test]
fn printed_in_the_usual_order() {
    let text = policy(&args(&["--cluster", "prod"]).unwrap()).text();
    assert!(
        text.starts_with(
            "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\n      \"Sid\": \
             \"EcsAddFindRegionsClustersAndTaskDefinitions\",\n      \"Effect\": \"Allow\",\n      \
             \"Action\": [\n        \"ec2:DescribeRegions\",\n"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "      \"Resource\": [\n        \"*\"\n      ],\n      \"Condition\": {\n        \
             \"ArnLike\": {\n          \"ecs:cluster\": \"arn:aws:ecs:*:*:cluster/prod\"\n        }\n      }\n    },"
        ),
        "{text}"
    );
    assert!(text.ends_with("    }\n  ]\n}\n"), "{text}");
}
