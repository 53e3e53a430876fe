//! Tests of the plan's rules, table-driven where there are many cases.

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

fn service(name: &str, runs: &str) -> Service {
    Service::from_json(&json!({
        "serviceName": name,
        "serviceArn": format!("arn:aws:ecs:us-east-1:1:service/prod/{name}"),
        "taskDefinition": format!("arn:aws:ecs:us-east-1:1:task-definition/{runs}"),
        "runningCount": 1, "desiredCount": 2
    }))
}

fn found(td: Value) -> Found {
    Found {
        region: "us-east-1".into(),
        cluster: Cluster {
            arn: "arn:aws:ecs:us-east-1:1:cluster/prod".into(),
            name: "prod".into(),
        },
        services: vec![
            service("api", "api:1"),
            service("web-a", "web:7"),
            service("web-b", "web:6"),
        ],
        family: "web".into(),
        task: task(td),
    }
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
fn new_revision_edge_cases() {
    // Null writable fields are left out; no containers: the sensor alone.
    let (r, unknown) = new_task_definition(
        &json!({"family": "web", "taskRoleArn": null, "revision": 1}),
        &[],
        &sidecar(),
    );
    assert!(unknown.is_empty());
    assert_eq!(
        r,
        json!({"family": "web", "containerDefinitions": [sidecar()]})
    );
    // Every writable field is kept as it is, however new its content.
    let mut t = td();
    t["ephemeralStorage"] = json!({"sizeInGiB": 30});
    t["proxyConfiguration"] = json!({"type": "APPMESH", "containerName": "envoy", "new": [1]});
    let (r, _) = new_task_definition(&t, &[], &sidecar());
    assert_eq!(r["ephemeralStorage"], t["ephemeralStorage"]);
    assert_eq!(r["proxyConfiguration"], t["proxyConfiguration"]);
    // Nothing to read: only the sensor.
    let (r, unknown) = new_task_definition(&Value::Null, &[], &sidecar());
    assert!(unknown.is_empty());
    assert_eq!(r, json!({"containerDefinitions": [sidecar()]}));
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

/// Each rule on its own: a change to the task definition, --force, and
/// the refusal (or the number of warnings).
#[test]
fn refusal_table() {
    let set = |k: &'static str, v: Value| move |t: &mut Value| t[k] = v.clone();
    let remove = |k: &'static str| {
        move |t: &mut Value| {
            t.as_object_mut().unwrap().remove(k);
        }
    };
    let add = |c: Value| {
        move |t: &mut Value| {
            t["containerDefinitions"]
                .as_array_mut()
                .unwrap()
                .push(c.clone())
        }
    };
    let already = |container: &str, image: &str| {
        Err(Refusal::AlreadyThere {
            task: "web:7".into(),
            container: container.into(),
            image: image.into(),
            behind: None,
        })
    };
    let mode = |mode: &str, default: bool| {
        Err(Refusal::NetworkMode {
            task: "web:7".into(),
            mode: mode.into(),
            default,
        })
    };
    let cpu = |total, reserved, left| {
        Err(Refusal::NoCpu {
            task: "web:7".into(),
            total,
            reserved,
            left,
            need: 512,
        })
    };
    let memory = |total, reserved, left| {
        Err(Refusal::NoMemory {
            task: "web:7".into(),
            total,
            reserved,
            left,
            need: 512,
        })
    };
    let windows = |family: &str| {
        Err(Refusal::Windows {
            task: "web:7".into(),
            os_family: family.into(),
        })
    };
    let no_role = || {
        Err(Refusal::NoExecutionRole {
            task: "web:7".into(),
        })
    };
    let both = |a: Box<dyn Fn(&mut Value)>, b: Box<dyn Fn(&mut Value)>| {
        move |t: &mut Value| {
            a(t);
            b(t);
        }
    };
    type Row<'a> = (
        &'a str,
        Box<dyn Fn(&mut Value)>,
        bool,
        Result<usize, Refusal>,
    );
    #[rustfmt::skip]
    let rows: Vec<Row> = vec![
        ("as read", Box::new(|_: &mut Value| {}), false, Ok(0)),
        ("host mode", Box::new(set("networkMode", json!("host"))), false, Ok(0)),
        // The sensor is there already (--force or not).
        ("by name", Box::new(add(json!({"name": "levo-pcap-sensor", "image": "x"}))), true,
            already("levo-pcap-sensor", "x")),
        ("by repository, other tag", Box::new(add(json!({"name": "s", "image": "repo/pcap-sensor:0.9"}))),
            false, already("s", "repo/pcap-sensor:0.9")),
        ("by repository, digest", Box::new(add(json!({"name": "s", "image": "repo/pcap-sensor@sha256:ab"}))),
            false, already("s", "repo/pcap-sensor@sha256:ab")),
        ("by repository, no tag", Box::new(add(json!({"name": "s", "image": "repo/pcap-sensor"}))),
            false, already("s", "repo/pcap-sensor")),
        ("nameless", Box::new(add(json!({"image": "repo/pcap-sensor:2"}))), false,
            already("?", "repo/pcap-sensor:2")),
        ("another repository", Box::new(add(json!({"name": "s", "image": "other/pcap-sensor:1"}))),
            false, Ok(0)),
        // Network modes where the sensor sees nothing.
        ("bridge", Box::new(set("networkMode", json!("bridge"))), false, mode("bridge", false)),
        ("bridge, forced", Box::new(set("networkMode", json!("bridge"))), true, Ok(1)),
        ("none", Box::new(set("networkMode", json!("none"))), false, mode("none", false)),
        ("no mode", Box::new(remove("networkMode")), false, mode("bridge", true)),
        ("no mode, forced", Box::new(remove("networkMode")), true, Ok(1)),
        ("mode not text", Box::new(set("networkMode", Value::Null)), false, mode("bridge", false)),
        // The platform: Linux on either architecture; never Windows.
        ("arm64", Box::new(set("runtimePlatform", json!({"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"}))),
            false, Ok(0)),
        ("no runtime platform", Box::new(remove("runtimePlatform")), false, Ok(0)),
        ("an architecture the image lacks", Box::new(set("runtimePlatform", json!({"cpuArchitecture": "RISCV64"}))),
            false, Ok(1)),
        ("windows", Box::new(set("runtimePlatform", json!({"cpuArchitecture": "X86_64", "operatingSystemFamily": "WINDOWS_SERVER_2022_CORE"}))),
            true, windows("WINDOWS_SERVER_2022_CORE")),
        ("windows in bridge mode",
            Box::new(both(Box::new(set("networkMode", json!("bridge"))), Box::new(set("runtimePlatform", json!({"operatingSystemFamily": "WINDOWS_SERVER_2019_FULL"}))))),
            false, windows("WINDOWS_SERVER_2019_FULL")),
        ("windows, with the sensor already",
            Box::new(both(Box::new(add(json!({"name": "levo-pcap-sensor", "image": "x"}))), Box::new(set("runtimePlatform", json!({"operatingSystemFamily": "WINDOWS_SERVER_2019_FULL"}))))),
            false, already("levo-pcap-sensor", "x")),
        // Fargate needs an execution role for awslogs.
        ("no execution role", Box::new(remove("executionRoleArn")), true, no_role()),
        ("no execution role, on EC2",
            Box::new(both(Box::new(remove("executionRoleArn")), Box::new(set("requiresCompatibilities", json!(["EC2"]))))),
            false, Ok(0)),
        // Room for the sensor's 512 CPU units and 512 MiB (the app: 256 and 512).
        ("cpu short", Box::new(set("cpu", json!("700"))), false, cpu(700, 256, 444)),
        ("cpu just enough", Box::new(set("cpu", json!("768"))), false, Ok(0)),
        ("cpu all taken", Box::new(set("cpu", json!(200))), false, cpu(200, 200, 0)),
        ("cpu unreadable", Box::new(set("cpu", json!("1 vCPU"))), false, Ok(0)),
        ("no task size", Box::new(both(Box::new(remove("cpu")), Box::new(remove("memory")))), false, Ok(0)),
        ("memory short", Box::new(set("memory", json!("1000"))), false, memory(1000, 512, 488)),
        ("a reservation counts without a limit",
            Box::new(add(json!({"name": "b", "image": "b", "memoryReservation": 1100}))),
            false, memory(2048, 1612, 436)),
        ("the limit counts before the reservation",
            Box::new(add(json!({"name": "b", "image": "b", "memory": 100, "memoryReservation": 1100}))),
            false, Ok(0)),
        // The first rule that applies is the one said.
        ("bridge and no room",
            Box::new(both(Box::new(set("networkMode", json!("bridge"))), Box::new(set("cpu", json!("256"))))),
            false, mode("bridge", false)),
        ("no role and no room",
            Box::new(both(Box::new(remove("executionRoleArn")), Box::new(set("cpu", json!("256"))))),
            false, no_role()),
    ];
    for (what, change, force, want) in rows {
        let mut t = td();
        change(&mut t);
        let got = refusal(&task(t), &sensor(), force).map(|w| w.len());
        assert_eq!(got, want, "{what}");
    }
}

#[test]
fn refusal_messages() {
    let mut t = td();
    t["networkMode"] = json!("bridge");
    let warnings = refusal(&task(t.clone()), &sensor(), true).unwrap();
    assert_eq!(
        warnings,
        vec![
            "task definition web:7 uses the 'bridge' network mode: each container gets its own \
             network namespace there, so the sensor would not see the application's traffic; \
             adding it anyway (--force)"
        ]
    );
    t.as_object_mut().unwrap().remove("networkMode");
    assert_eq!(
        refusal(&task(t), &sensor(), false).unwrap_err().to_string(),
        "task definition web:7 uses the 'bridge' network mode (the default on EC2): each \
         container gets its own network namespace there, so the sensor would not see the \
         application's traffic. Move the task to the awsvpc (or host) network mode first, or \
         pass --force to add the sensor anyway"
    );
    let mut t = td();
    t["memory"] = json!("768");
    assert_eq!(
        refusal(&task(t), &sensor(), false).unwrap_err().to_string(),
        "task definition web:7 has 768 MiB and its containers reserve 512, which leaves 256 \
         MiB for the sensor's 512 MiB: pass --memory 256 or less (or --low-resource), or give \
         the task more memory"
    );
}

#[test]
fn already_there_says_how_to_move_the_services_behind() {
    let mut t = td();
    t["containerDefinitions"]
        .as_array_mut()
        .unwrap()
        .push(sidecar());
    let mut f = found(t);
    let e = check(&f, &sidecar(), false).unwrap_err().to_string();
    assert!(
        e.ends_with(
            "then run 'pcap-sensor ecs add' again. (web-b still runs an older revision: 'aws \
             ecs update-service --cluster prod --service NAME --task-definition web:7' moves it)"
        ),
        "{e}"
    );
    f.services.push(service("web-c", "web:1"));
    let e = check(&f, &sidecar(), false).unwrap_err().to_string();
    assert!(
        e.ends_with("(web-b, web-c still run an older revision: 'aws ecs update-service --cluster prod --service NAME --task-definition web:7' moves them)"),
        "{e}"
    );
    // All on the base revision: nothing to add.
    f.services.retain(|s| s.runs().as_deref() == Some("web:7"));
    let e = check(&f, &sidecar(), false).unwrap_err().to_string();
    assert!(e.ends_with("then run 'pcap-sensor ecs add' again"), "{e}");
    // Other refusals are as they are.
    let mut t = td();
    t["cpu"] = json!("256");
    assert!(matches!(
        check(&found(t), &sidecar(), false),
        Err(Refusal::NoCpu { .. })
    ));
}

#[test]
fn which_services() {
    let f = found(td());
    let names = |r: Result<Vec<Service>, Refusal>| -> Result<Vec<String>, String> {
        r.map(|l| l.iter().map(|s| s.label().to_string()).collect())
            .map_err(|e| e.to_string())
    };
    let named = |w: &[&str]| {
        let w: Vec<String> = w.iter().map(|s| s.to_string()).collect();
        names(services_named(&f, &w))
    };
    assert_eq!(
        named(&["web-b", "web-a"]),
        Ok(vec!["web-b".into(), "web-a".into()])
    );
    assert_eq!(
        named(&["arn:aws:ecs:us-east-1:1:service/prod/web-a"]),
        Ok(vec!["web-a".into()])
    );
    assert_eq!(
        named(&["web-a", "nope"]),
        Err(
            "service 'nope' is not in cluster prod (its services: api (runs api:1), web-a \
             (runs web:7), web-b (runs web:6))"
                .into()
        )
    );
    assert_eq!(
        named(&["api"]),
        Err(
            "service 'api' runs api:1, not task family web: choose the family it runs \
             (--task-family api) or another service"
                .into()
        )
    );
    let running: Vec<&str> = services_running(&f)
        .unwrap()
        .iter()
        .map(|s| s.label())
        .collect();
    assert_eq!(running, vec!["web-a", "web-b"]);
    let mut empty = found(td());
    empty.services.clear();
    assert_eq!(
        names(services_named(&empty, &["web".into()])),
        Err("service 'web' is not in cluster prod (it has no services)".into())
    );
    assert_eq!(
        services_running(&empty).unwrap_err().to_string(),
        "no service of cluster prod runs task family web (it has no services): nothing would \
         use the new revision"
    );
}

#[test]
fn deployment_controllers() {
    let with = |ctl: Option<&str>| {
        let mut v = json!({"serviceName": "web-a"});
        if let Some(c) = ctl {
            v["deploymentController"] = json!({"type": c});
        }
        Service::from_json(&v)
    };
    assert_eq!(deployable(&[with(None), with(Some("ECS"))]), Ok(()));
    assert_eq!(
        deployable(&[with(None), with(Some("CODE_DEPLOY"))])
            .unwrap_err()
            .to_string(),
        "service 'web-a' uses the CODE_DEPLOY deployment controller, whose deployments ECS's \
         UpdateService cannot start: register the revision with --dry-run's JSON and deploy it \
         through CodeDeploy"
    );
    assert!(
        deployable(&[with(Some("EXTERNAL"))])
            .unwrap_err()
            .to_string()
            .ends_with("deploy it through your deployment controller")
    );
}

#[test]
fn the_plan() {
    let f = found(td());
    let chosen = services_named(&f, &["web-a".into(), "web-b".into()]).unwrap();
    let mut o = options();
    o.satellite_url = Some("http://sat:9999".into());
    o.levo_env = Some("staging".into());
    o.org_id = Some("org".into());
    o.rate_limit = Some(12.5);
    o.log_group = Some("/ecs/web-pcap".into());
    o.extra_args = vec!["--filter".into(), "not port 8888".into()];
    let p = plan(&f, chosen, o.clone(), false).unwrap();
    assert_eq!(p.base, "web:7");
    assert_eq!(
        p.request,
        new_task_definition(&f.task.raw, &f.task.tags, &container_def::sidecar(&o)).0
    );
    assert_eq!(
        p.warnings,
        vec![
            "not copied (fields pcap-sensor does not know): futureField",
            "service web-b runs web:6; the new revision is based on web:7, so the service also \
             gets what changed between them"
        ]
    );
    assert_eq!(
        p.text(Some(900.0)),
        [
            "Plan:",
            "  region     us-east-1",
            "  cluster    prod",
            "  platform   linux/amd64 (task runtimePlatform X86_64)",
            "  1. register a new revision of web = web:7 + container 'levo-pcap-sensor'",
            "       image repo/pcap-sensor:1, 512 CPU units, 512 MiB",
            "       satellite http://sat:9999, environment staging, org org, 12.5 traces/min",
            "       logs to CloudWatch group /ecs/web-pcap (created if absent)",
            "       health check './bin/init health' every 30 s (timeout 10 s, 3 retries, 15 s start period)",
            "       apidump flags: --filter not port 8888",
            "  2. update service web-a (runs web:7) to the new revision",
            "  2. update service web-b (runs web:6) to the new revision",
            "  3. tag the new revision and the services with pcap-sensor:sidecar",
            "  4. wait for the rollout (up to 900 s)",
            "  note: not copied (fields pcap-sensor does not know): futureField",
            "  note: service web-b runs web:6; the new revision is based on web:7, so the service \
             also gets what changed between them",
        ]
        .join("\n")
    );
    // One service, no wait, nothing to note.
    let mut t = td();
    t.as_object_mut().unwrap().remove("futureField");
    let f = found(t);
    let p = plan(
        &f,
        services_named(&f, &["web-a".into()]).unwrap(),
        options(),
        false,
    )
    .unwrap();
    assert!(p.warnings.is_empty());
    let text = p.text(None);
    assert!(
        text.ends_with("  3. tag the new revision and the service with pcap-sensor:sidecar"),
        "{text}"
    );
    assert!(
        text.contains("satellite ?, environment ?, org ?, ? traces/min"),
        "{text}"
    );
    // The rules apply to the complete sensor too.
    let mut big = options();
    big.memory = Some(4096);
    assert!(matches!(
        plan(&f, vec![], big, true),
        Err(Refusal::NoMemory { need: 4096, .. })
    ));
}

/// The plan names the platform the sensor will run as, and an image pinned
/// by digest gets the caution naming the platform this task needs.
#[test]
fn the_plan_says_the_platform() {
    let digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    #[rustfmt::skip]
    let rows: Vec<(Option<Value>, String, &str, Option<&str>)> = vec![
        // runtimePlatform (None: absent), image, plan line, caution names
        (Some(json!({"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"})),
            "repo/pcap-sensor:1".into(),
            "  platform   linux/arm64 (task runtimePlatform ARM64)", None),
        (Some(json!({"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"})),
            format!("repo/pcap-sensor@{digest}"),
            "  platform   linux/arm64 (task runtimePlatform ARM64)",
            Some("or the linux/arm64 image's (this task runs linux/arm64)")),
        (Some(json!({"cpuArchitecture": "X86_64"})),
            format!("repo/pcap-sensor:1@{digest}"),
            "  platform   linux/amd64 (task runtimePlatform X86_64)",
            Some("or the linux/amd64 image's (this task runs linux/amd64)")),
        (None, format!("repo/pcap-sensor@{digest}"),
            "  platform   linux/amd64 (no runtimePlatform.cpuArchitecture: ECS's default, X86_64)",
            Some("or the linux/amd64 image's")),
        (None, "repo/pcap-sensor".into(),
            "  platform   linux/amd64 (no runtimePlatform.cpuArchitecture: ECS's default, X86_64)", None),
    ];
    for (runtime, image, line, caution) in rows {
        let mut t = td();
        t.as_object_mut().unwrap().remove("futureField");
        match runtime {
            Some(r) => t["runtimePlatform"] = r,
            None => {
                t.as_object_mut().unwrap().remove("runtimePlatform");
            }
        }
        let f = found(t);
        let mut o = options();
        o.image = Some(image.clone());
        let p = plan(&f, services_named(&f, &["web-a".into()]).unwrap(), o, false).unwrap();
        let text = p.text(None);
        assert_eq!(text.lines().nth(3), Some(line), "{image}: {text}");
        match caution {
            None => assert!(p.warnings.is_empty(), "{image}: {:?}", p.warnings),
            Some(c) => {
                assert_eq!(p.warnings.len(), 1, "{image}");
                let w = &p.warnings[0];
                assert!(w.starts_with("the image is pinned by digest (sha256:0123456789ab...)"));
                assert!(w.contains(c), "{w}");
                assert!(text.contains(&format!("  note: {w}")), "{text}");
            }
        }
        // The new revision keeps the runtime platform as it was.
        assert_eq!(
            p.request.get("runtimePlatform"),
            f.task.raw.get("runtimePlatform")
        );
    }
}

#[test]
fn windows_tasks_are_refused() {
    let mut t = td();
    t["runtimePlatform"] =
        json!({"cpuArchitecture": "X86_64", "operatingSystemFamily": "WINDOWS_SERVER_2022_CORE"});
    let f = found(t);
    let e = plan(&f, vec![], options(), true).unwrap_err();
    assert_eq!(
        e.to_string(),
        "task definition web:7 runs Windows containers (runtimePlatform operatingSystemFamily \
         WINDOWS_SERVER_2022_CORE), and the sensor is a Linux container: ECS runs a task's \
         containers on one operating system, so it would never start there (--force does not \
         change this). pcap-sensor captures in Linux tasks (operatingSystemFamily LINUX, on \
         X86_64 or ARM64)"
    );
}

/// --spool: the new revision gets the spool's task volume beside the
/// task's own, the sidecar mounts it and has the flag, the plan says so; a
/// task with a volume of that name is refused; a spool too large for a
/// Fargate task's ephemeral storage gets a note.
#[test]
fn the_spool_volume() {
    let mut t = td();
    t.as_object_mut().unwrap().remove("futureField");
    let f = found(t);
    let mut o = options();
    o.spool = true;
    o.spool_mb = Some(1024);
    let p = plan(
        &f,
        services_named(&f, &["web-a".into()]).unwrap(),
        o.clone(),
        false,
    )
    .unwrap();
    assert_eq!(
        p.request["volumes"],
        json!([
            {"name": "data", "efsVolumeConfiguration": {"fileSystemId": "fs-1"}},
            {"name": "pcap-sensor-spool"}
        ])
    );
    let sc = p.request["containerDefinitions"]
        .as_array()
        .unwrap()
        .last()
        .unwrap();
    assert_eq!(sc["mountPoints"][0]["sourceVolume"], "pcap-sensor-spool");
    assert_eq!(
        sc["mountPoints"][0]["containerPath"],
        "/var/spool/pcap-sensor"
    );
    let e: Vec<&str> = sc["entryPoint"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        e.ends_with(&[
            "--spool-dir",
            "/var/spool/pcap-sensor",
            "--spool-mb",
            "1024"
        ]),
        "{e:?}"
    );
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    assert!(
        p.text(None).contains(
            "\n       spool 1024 MiB at /var/spool/pcap-sensor on task volume pcap-sensor-spool (added; task-scoped storage)\n"
        ),
        "{}",
        p.text(None)
    );
    // Without --spool nothing is added.
    let p = plan(&f, vec![], options(), false).unwrap();
    assert_eq!(p.request["volumes"].as_array().unwrap().len(), 1);
    // A task without volumes gets the list.
    let mut t = td();
    t.as_object_mut().unwrap().remove("volumes");
    let (r, _) = new_task_definition(&t, &[], &container_def::sidecar(&o));
    assert_eq!(r["volumes"], json!([{"name": "pcap-sensor-spool"}]));
    // The name is taken already.
    let mut t = td();
    t["volumes"] = json!([{"name": "pcap-sensor-spool", "host": {"sourcePath": "/x"}}]);
    let e = plan(&found(t), vec![], o.clone(), false).unwrap_err();
    assert_eq!(
        e,
        Refusal::SpoolVolumeTaken {
            task: "web:7".into(),
            volume: "pcap-sensor-spool".into()
        }
    );
    assert!(e.to_string().contains("leave out --spool"), "{e}");
    // More than half of the (default 20 GiB) ephemeral storage of a Fargate task.
    o.spool_mb = Some(12_000);
    let p = plan(&f, vec![], o.clone(), false).unwrap();
    assert!(
        p.warnings.iter().any(|w| w.contains("ephemeral storage")),
        "{:?}",
        p.warnings
    );
    let mut t = td();
    t["ephemeralStorage"] = json!({"sizeInGiB": 100});
    let p = plan(&found(t), vec![], o, false).unwrap();
    assert!(
        !p.warnings.iter().any(|w| w.contains("ephemeral storage")),
        "{:?}",
        p.warnings
    );
}
