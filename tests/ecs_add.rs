//! `pcap-sensor ecs add` end to end, against two servers:
//!
//! - moto's server (PyPI `moto[ecs,ec2,server]`, in the venv `./build.sh test`
//!   creates; `$PCAP_SENSOR_MOTO` names its `moto_server`): the whole flow on
//!   a Fargate service, with moto's signature and IAM checking switched on,
//!   dry-run, and the refusals. State is read back with boto3
//!   (tests/support/ecs_moto.py), not with our own client. Without the venv
//!   (`$PCAP_SENSOR_MOTO`, else .cache/venv-moto) these tests fail, saying
//!   to run ./build.sh test.
//! - a fixture server (tests/support/ecs_fixture.py, plain python3) for what
//!   moto does not model: pagination with nextToken, deployments and rollout
//!   states (`--wait`), JSON error shapes, throttling, 5xx and dropped
//!   connections. It also checks every request's SigV4 signature itself.
//!
//! The interactive path runs once through a pseudo-terminal
//! (tests/support/ecs_pty.py). Every wait has a deadline; servers are stopped
//! by PID.

mod support;

use pcap_sensor::ecs::add::{TAG_KEY, TAG_TIME_KEY};
use pcap_sensor::ecs::container_def::{self, SidecarOptions};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use support::iam::{self, Request};
use support::process::{SENSOR, TempDir, free_port, run_with_deadline, script, send_signal};
use support::require::{moto_server, python3};

/// Bound on one run of the command (retries with backoff included).
const RUN_DEADLINE: Duration = Duration::from_secs(90);
/// Bound on a server's start.
const START_DEADLINE: Duration = Duration::from_secs(60);
const STOP_DEADLINE: Duration = Duration::from_secs(10);

const IMAGE: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/pcap-sensor:0.1.0";
/// A digest to pin the image by (whose, `ecs add` cannot know).
const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const KEY_ID: &str = "AKIAFIXTUREKEY000001";
const SECRET: &str = "fixture/secret/KEY+abcdefghijklmnopqrstu";

/// SIGTERM by PID, then SIGKILL if it does not exit in time.
fn stop(child: &mut Child) {
    if child.try_wait().ok().flatten().is_some() {
        return;
    }
    send_signal(child.id(), libc::SIGTERM);
    let deadline = Instant::now() + STOP_DEADLINE;
    while Instant::now() < deadline {
        if child.try_wait().ok().flatten().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Run to the end with a deadline (killed and failed after it).
fn run(mut cmd: Command) -> Run {
    let o = run_with_deadline(&mut cmd, RUN_DEADLINE);
    Run {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// `pcap-sensor ecs add --endpoint-url URL ARGS` in a clean environment:
/// an empty HOME (no ~/.aws), no terminal, and `env`.
fn add(endpoint: &str, env: &[(&str, &str)], args: &[&str], home: &Path) -> Run {
    let mut cmd = Command::new(SENSOR);
    cmd.args(["ecs", "add", "--endpoint-url", endpoint])
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let r = run(cmd);
    eprintln!(
        "--- ecs add {} → exit {}\n{}",
        args.join(" "),
        r.code,
        r.stderr
    );
    r
}

/// Every value a run without a terminal needs, for a family and service of
/// cluster `prod` in us-east-1.
fn flags<'a>(family: &'a str, service: &'a str) -> Vec<&'a str> {
    vec![
        "--region",
        "us-east-1",
        "--cluster",
        "prod",
        "--task-family",
        family,
        "--service",
        service,
        "--image",
        IMAGE,
        "--satellite-url",
        "http://levoai-satellite:9999",
        "--levo-env",
        "staging",
        "--levoai-org-id",
        "org-1234",
        "--rate-limit",
        "250",
    ]
}

/// The sidecar's values those flags give.
fn expected_options(family: &str) -> SidecarOptions {
    SidecarOptions {
        image: Some(IMAGE.into()),
        satellite_url: Some("http://levoai-satellite:9999".into()),
        levo_env: Some("staging".into()),
        org_id: Some("org-1234".into()),
        rate_limit: Some(250.0),
        region: Some("us-east-1".into()),
        log_group: Some(format!("/ecs/{family}-pcap")),
        ..SidecarOptions::default()
    }
}

/// The sidecar those flags ask for (what `ecs container-definition` prints).
fn expected_sidecar(family: &str) -> Value {
    container_def::sidecar(&expected_options(family))
}

/// RegisterTaskDefinition's fields but `tags` (from the API reference; kept
/// here apart from the installer's own list on purpose).
const WRITABLE_FIELDS: &[&str] = &[
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

/// The writable part of a task definition (what a revision is made of).
fn writable(td: &Value) -> serde_json::Map<String, Value> {
    td.as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| WRITABLE_FIELDS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn tag<'a>(tags: &'a Value, key: &str) -> Option<&'a str> {
    tags.as_array()?
        .iter()
        .find(|t| t["key"] == key)
        .and_then(|t| t["value"].as_str())
}

// ---------------------------------------------------------------------------
// the IAM policy (`pcap-sensor ecs iam-policy`)

const ACCOUNT: &str = "123456789012";

/// `pcap-sensor ecs iam-policy ARGS`: the policy document (stdout).
fn iam_policy(args: &[&str]) -> Value {
    let mut cmd = Command::new(SENSOR);
    cmd.args(["ecs", "iam-policy"]).args(args);
    let r = run(cmd);
    assert_eq!(r.code, 0, "{}", r.stderr);
    serde_json::from_str(&r.stdout).expect("the policy is JSON")
}

/// The actions of a policy's statements but the iam:PassRole one.
fn policy_actions(policy: &Value) -> BTreeSet<String> {
    policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["Action"].as_array().unwrap().clone())
        .map(|a| a.as_str().unwrap().to_string())
        .filter(|a| a != "iam:PassRole")
        .collect()
}

/// The actions of the calls in a fixture log (`ec2:`/`ecs:` + operation).
fn called_actions(log: &[Value]) -> BTreeSet<String> {
    log.iter()
        .map(|e| {
            format!(
                "{}:{}",
                e["service"].as_str().unwrap(),
                e["op"].as_str().unwrap()
            )
        })
        .collect()
}

/// The IAM requests behind every call in a fixture log.
fn iam_requests(log: &[Value], new_task_definition: &str) -> Vec<Request> {
    log.iter()
        .flat_map(|e| {
            iam::requests_of_call(
                e["op"].as_str().unwrap(),
                &e["body"],
                e["region"].as_str().unwrap(),
                ACCOUNT,
                new_task_definition,
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------
// moto

struct Moto {
    child: Child,
    url: String,
    python: PathBuf,
    _dir: TempDir,
}

fn post(url: &str, body: &str) -> Result<u16, String> {
    minreq::post(url)
        .with_header("Content-Type", "text/plain")
        .with_body(body)
        .with_timeout(10)
        .send()
        .map(|r| r.status_code as u16)
        .map_err(|e| e.to_string())
}

impl Moto {
    fn start() -> Moto {
        let server = moto_server();
        let python = server.with_file_name("python");
        let dir = TempDir::new("moto");
        // A port found free can be taken before moto binds it: try again.
        for _ in 0..3 {
            let port = free_port();
            let log = std::fs::File::create(dir.0.join("moto.log")).unwrap();
            let mut child = Command::new(&server)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .expect("start moto_server");
            let url = format!("http://127.0.0.1:{port}");
            let deadline = Instant::now() + START_DEADLINE;
            loop {
                if child.try_wait().unwrap().is_some() {
                    break; // exited (port taken?): next port
                }
                if post(&format!("{url}/moto-api/reset"), "") == Ok(200) {
                    return Moto {
                        child,
                        url,
                        python,
                        _dir: dir,
                    };
                }
                if Instant::now() > deadline {
                    stop(&mut child);
                    panic!(
                        "moto_server did not answer within {START_DEADLINE:?}: {}",
                        std::fs::read_to_string(dir.0.join("moto.log")).unwrap_or_default()
                    );
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        panic!(
            "moto_server exited three times: {}",
            std::fs::read_to_string(dir.0.join("moto.log")).unwrap_or_default()
        );
    }

    /// Clear every resource (POST /moto-api/reset).
    fn reset(&self) {
        assert_eq!(post(&format!("{}/moto-api/reset", self.url), ""), Ok(200));
    }

    /// Signature and IAM checking after `free` more unchecked calls
    /// (POST /moto-api/reset-auth; "inf" switches it off).
    fn auth_after(&self, free: &str) {
        assert_eq!(
            post(&format!("{}/moto-api/reset-auth", self.url), free),
            Ok(200)
        );
    }

    /// tests/support/ecs_moto.py with these credentials; its JSON answer.
    fn py(&self, args: &[&str], key: (&str, &str)) -> Value {
        let mut cmd = Command::new(&self.python);
        cmd.arg(script("ecs_moto.py"))
            .arg(args[0])
            .arg(&self.url)
            .args(&args[1..])
            .env("AWS_ACCESS_KEY_ID", key.0)
            .env("AWS_SECRET_ACCESS_KEY", key.1)
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN");
        let r = run(cmd);
        assert_eq!(r.code, 0, "ecs_moto.py {args:?}: {}", r.stderr);
        serde_json::from_str(&r.stdout).unwrap()
    }

    fn inspect(&self, family: &str, services: &[&str], key: (&str, &str)) -> Value {
        let mut a = vec!["inspect", "prod", family];
        a.extend_from_slice(services);
        self.py(&a, key)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

const TESTING: (&str, &str) = ("testing", "testing");

fn env_key<'a>(key: (&'a str, &'a str)) -> Vec<(&'static str, &'a str)> {
    vec![
        ("AWS_ACCESS_KEY_ID", key.0),
        ("AWS_SECRET_ACCESS_KEY", key.1),
    ]
}

/// The Fargate task's second revision is the first plus exactly the sidecar.
fn assert_sidecar_added(state: &Value, family: &str) {
    let revs = state["revisions"].as_array().unwrap();
    assert_eq!(revs.len(), 2, "one new revision: {state:#}");
    let (old, new) = (&revs[0]["taskDefinition"], &revs[1]["taskDefinition"]);
    assert_eq!(new["revision"], 2);
    let (mut w_old, mut w_new) = (writable(old), writable(new));
    let c_old = w_old.remove("containerDefinitions").unwrap();
    let c_new = w_new.remove("containerDefinitions").unwrap();
    // Every other setting is kept as it was.
    assert_eq!(w_new, w_old, "task settings changed");
    for k in [
        "taskRoleArn",
        "executionRoleArn",
        "runtimePlatform",
        "volumes",
        "ephemeralStorage",
        "cpu",
        "memory",
        "networkMode",
        "requiresCompatibilities",
    ] {
        assert!(w_new.contains_key(k), "{k} missing in the new revision");
    }
    assert!(
        w_new["volumes"][0]["efsVolumeConfiguration"]["fileSystemId"] == "fs-0123456789abcdef0"
    );
    // The containers: the old ones unchanged (secrets, dependsOn, mounts...),
    // then the sidecar.
    let (c_old, c_new) = (c_old.as_array().unwrap(), c_new.as_array().unwrap());
    assert_eq!(c_new.len(), c_old.len() + 1);
    assert_eq!(&c_new[..c_old.len()], &c_old[..]);
    let app = &c_new[1];
    assert_eq!(app["secrets"][0]["name"], "DB_PASSWORD");
    assert_eq!(app["dependsOn"][0]["containerName"], "init");
    assert_eq!(c_new[c_old.len()], expected_sidecar(family));
    // With its health check, as ECS keeps it (issue 20), and the flag that
    // keeps the sensor up to report a capture failure to it.
    let sc = &c_new[c_old.len()];
    assert_eq!(
        sc["healthCheck"],
        json!({"command": ["CMD", "./bin/init", "health"], "interval": 30,
               "timeout": 10, "retries": 3, "startPeriod": 15}),
        "{sc}"
    );
    assert!(
        sc["entryPoint"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "--keep-running"),
        "{sc}"
    );
    // Tags: the old ones, and the marker.
    let tags = &revs[1]["tags"];
    assert_eq!(tag(tags, "team"), Some("payments"));
    assert_eq!(tag(tags, "cost-center"), Some("42"));
    assert_eq!(tag(tags, TAG_KEY), Some(format!("{family}:2").as_str()));
    assert_eq!(tag(&revs[0]["tags"], TAG_KEY), None);
}

#[test]
fn moto_fargate_service_gets_the_sidecar() {
    let moto = Moto::start();
    let made = moto.py(&["setup", "fargate"], TESTING);
    assert_eq!(made["service"], "web-svc");
    let home = TempDir::new("home");
    let r = add(
        &moto.url,
        &env_key(TESTING),
        &[flags("web", "web-svc"), vec!["--yes"]].concat(),
        &home.0,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let new_arn = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:2";
    assert_eq!(r.stdout.trim(), new_arn);
    assert!(r.stderr.contains("registered web:2"), "{}", r.stderr);
    // The task is ARM64 (runtimePlatform, which moto keeps): the plan says
    // so; the image is a tag, so there is nothing to caution about.
    assert!(
        r.stderr
            .contains("\n  platform   linux/arm64 (task runtimePlatform ARM64)\n"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("pinned by digest"), "{}", r.stderr);
    // No secret in anything it printed.
    assert!(!r.stderr.contains("testing") && !r.stdout.contains("testing"));

    let state = moto.inspect("web", &["web-svc"], TESTING);
    assert_sidecar_added(&state, "web");
    let svc = &state["services"][0];
    assert_eq!(svc["taskDefinition"], new_arn);
    assert_eq!(tag(&svc["tags"], TAG_KEY), Some("web:2"));
    assert!(tag(&svc["tags"], TAG_TIME_KEY).is_some_and(|t| t.ends_with('Z')));
}

/// --spool on the Fargate task: the new revision has the task's volumes
/// and the spool's (a name, no host: task-scoped storage), the sidecar
/// mounts it at /var/spool/pcap-sensor with --spool-dir (and --spool-mb),
/// its root file system still read-only; everything else as without it.
#[test]
fn moto_fargate_service_gets_the_spool() {
    let moto = Moto::start();
    moto.py(&["setup", "fargate"], TESTING);
    let home = TempDir::new("home");
    let r = add(
        &moto.url,
        &env_key(TESTING),
        &[
            flags("web", "web-svc"),
            vec!["--spool", "--spool-mb", "512", "--yes"],
        ]
        .concat(),
        &home.0,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("spool 512 MiB at /var/spool/pcap-sensor on task volume pcap-sensor-spool"),
        "{}",
        r.stderr
    );
    let state = moto.inspect("web", &["web-svc"], TESTING);
    let revs = state["revisions"].as_array().unwrap();
    assert_eq!(revs.len(), 2, "one new revision: {state:#}");
    let (old, new) = (&revs[0]["taskDefinition"], &revs[1]["taskDefinition"]);
    let (mut w_old, mut w_new) = (writable(old), writable(new));
    let (v_old, v_new) = (
        w_old.remove("volumes").unwrap(),
        w_new.remove("volumes").unwrap(),
    );
    let (v_old, v_new) = (v_old.as_array().unwrap(), v_new.as_array().unwrap());
    assert_eq!(v_new.len(), v_old.len() + 1, "{v_new:?}");
    assert_eq!(
        &v_new[..v_old.len()],
        &v_old[..],
        "the task's own volumes are kept"
    );
    let spool = &v_new[v_old.len()];
    assert_eq!(spool["name"], "pcap-sensor-spool");
    assert!(
        spool.pointer("/host/sourcePath").is_none()
            && spool.get("efsVolumeConfiguration").is_none()
            && spool.get("dockerVolumeConfiguration").is_none(),
        "a task-scoped volume: {spool}"
    );
    let c_new = w_new.remove("containerDefinitions").unwrap();
    w_old.remove("containerDefinitions");
    assert_eq!(w_new, w_old, "task settings changed");
    let sidecar = c_new.as_array().unwrap().last().unwrap().clone();
    let want = container_def::sidecar(&SidecarOptions {
        spool: true,
        spool_mb: Some(512),
        ..expected_options("web")
    });
    assert_eq!(
        want["mountPoints"],
        serde_json::json!([{
            "sourceVolume": "pcap-sensor-spool",
            "containerPath": "/var/spool/pcap-sensor",
            "readOnly": false
        }])
    );
    assert!(want["entryPoint"].as_array().unwrap().ends_with(&[
        Value::from("--spool-dir"),
        Value::from("/var/spool/pcap-sensor"),
        Value::from("--spool-mb"),
        Value::from("512")
    ]));
    assert_eq!(sidecar, want);
    assert_eq!(sidecar["readonlyRootFilesystem"], true);
}

#[test]
fn moto_with_signature_checking() {
    let moto = Moto::start();
    moto.py(&["setup", "fargate"], TESTING);
    // The installer's user has exactly the permissions of the reference
    // table; state is read back by another user.
    let key = |v: Value| {
        (
            v["AccessKeyId"].as_str().unwrap().to_string(),
            v["SecretAccessKey"].as_str().unwrap().to_string(),
        )
    };
    let (id, secret) = key(moto.py(&["iam-user", "installer", "installer"], TESTING));
    let (aid, asecret) = key(moto.py(&["iam-user", "admin", "admin"], TESTING));
    let admin = (aid.as_str(), asecret.as_str());
    moto.auth_after("0");
    let home = TempDir::new("home");
    let args = [flags("web", "web-svc"), vec!["--yes"]].concat();

    // A wrong secret: refused at the first call, nothing changed.
    let wrong = format!("{secret}x");
    let r = add(&moto.url, &env_key((&id, &wrong)), &args, &home.0);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("AuthFailure") && r.stderr.contains("secret access key is wrong"),
        "{}",
        r.stderr
    );
    assert!(
        !r.stderr.contains(&secret),
        "the secret must not be printed"
    );
    assert_eq!(r.stderr.trim().lines().count(), 2, "{}", r.stderr);
    let state = moto.inspect("web", &["web-svc"], admin);
    assert_eq!(state["revisions"].as_array().unwrap().len(), 1);

    // The right key: the whole flow goes through moto's checks.
    let r = add(&moto.url, &env_key((&id, &secret)), &args, &home.0);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let state = moto.inspect("web", &["web-svc"], admin);
    assert_sidecar_added(&state, "web");
    assert_eq!(
        state["services"][0]["taskDefinition"],
        "arn:aws:ecs:us-east-1:123456789012:task-definition/web:2"
    );

    // Start again (POST /moto-api/reset) with a user whose policy is the
    // one 'ecs iam-policy' prints. moto checks it as a document (its IAM
    // policy validator), and authorises by action only (every request's
    // resource is "*" to moto, and it fills in no condition keys), so the
    // user gets its actions on "*": the whole flow goes through with them.
    moto.auth_after("inf");
    moto.reset();
    moto.py(&["setup", "fargate"], TESTING);
    let dir = TempDir::new("policy");
    for (name, words) in [
        ("default", vec![]),
        (
            "narrowed",
            vec![
                "--region",
                "us-east-1",
                "--account",
                "123456789012",
                "--cluster",
                "prod",
                "--service",
                "web-svc",
                "--task-family",
                "web",
                "--execution-role",
                "ecsTaskExecutionRole",
                "--task-role",
                "web-task",
            ],
        ),
    ] {
        let file = dir.0.join(format!("{name}.json"));
        std::fs::write(&file, iam_policy(&words).to_string()).unwrap();
        moto.py(
            &[
                "iam-user",
                &format!("printed-{name}"),
                &format!("policy:{}", file.display()),
            ],
            TESTING,
        );
    }
    let printed = iam_policy(&[]);
    let actions: Vec<String> = policy_actions(&printed).into_iter().collect();
    let file = dir.0.join("actions.json");
    std::fs::write(
        &file,
        json!({"Version": "2012-10-17",
               "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]})
        .to_string(),
    )
    .unwrap();
    let (id, secret) = key(moto.py(
        &["iam-user", "printed", &format!("policy:{}", file.display())],
        TESTING,
    ));
    let (aid, asecret) = key(moto.py(&["iam-user", "admin", "admin"], TESTING));
    moto.auth_after("0");
    let r = add(&moto.url, &env_key((&id, &secret)), &args, &home.0);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_sidecar_added(&moto.inspect("web", &["web-svc"], (&aid, &asecret)), "web");

    // Start again with a user whose policy denies ecs:UpdateService: the
    // error names that permission.
    moto.auth_after("inf");
    moto.reset();
    moto.py(&["setup", "fargate"], TESTING);
    let (id, secret) = key(moto.py(&["iam-user", "limited", "deny:ecs:UpdateService"], TESTING));
    moto.auth_after("0");
    let r = add(&moto.url, &env_key((&id, &secret)), &args, &home.0);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("ecs:UpdateService failed: AccessDenied")
            && r.stderr
                .contains("lack the IAM permission ecs:UpdateService"),
        "{}",
        r.stderr
    );
    // What was done and how to finish are said.
    assert!(
        r.stderr
            .contains("--service NAME --task-definition web:2' for web-svc"),
        "{}",
        r.stderr
    );
}

#[test]
fn moto_dry_run_and_refusals() {
    let moto = Moto::start();
    moto.py(&["setup", "both"], TESTING);
    let home = TempDir::new("home");
    let env = env_key(TESTING);

    // Dry run: the RegisterTaskDefinition request on stdout, nothing changed.
    let r = add(
        &moto.url,
        &env,
        &[flags("web", "web-svc"), vec!["--dry-run"]].concat(),
        &home.0,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let req: Value = serde_json::from_str(&r.stdout).expect("the new task definition as JSON");
    for k in req.as_object().unwrap().keys() {
        assert!(
            WRITABLE_FIELDS.contains(&k.as_str()) || k == "tags",
            "{k} is not a RegisterTaskDefinition field"
        );
    }
    let containers = req["containerDefinitions"].as_array().unwrap();
    assert_eq!(containers.last().unwrap(), &expected_sidecar("web"));
    assert!(r.stderr.contains("dry run: nothing was changed"));
    assert!(r.stderr.contains("Plan:"), "{}", r.stderr);
    let state = moto.inspect("web", &["web-svc"], TESTING);
    assert_eq!(state["revisions"].as_array().unwrap().len(), 1);
    assert!(
        state["services"][0]["taskDefinition"]
            .as_str()
            .unwrap()
            .ends_with("web:1")
    );
    assert_eq!(tag(&state["services"][0]["tags"], TAG_KEY), None);

    // The image pinned by digest in this ARM64 task: the caution says which
    // digest works here, once before the plan and once in it.
    let pinned = format!("{}@{DIGEST}", IMAGE.rsplit_once(':').unwrap().0);
    let r = add(
        &moto.url,
        &env,
        &[
            flags("web", "web-svc"),
            vec!["--image", &pinned, "--dry-run"],
        ]
        .concat(),
        &home.0,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let caution = "the image is pinned by digest (sha256:0123456789ab...): it must be the image \
                   index's digest";
    assert_eq!(r.stderr.matches(caution).count(), 2, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("or the linux/arm64 image's (this task runs linux/arm64)"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("  note: the image is pinned by digest"));
    let req: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        req["containerDefinitions"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()["image"],
        pinned
    );
    assert_eq!(req["runtimePlatform"]["cpuArchitecture"], "ARM64");

    // Bridge network mode: refused with the reason and the way out.
    let r = add(
        &moto.url,
        &env,
        &[flags("legacy", "legacy-svc"), vec!["--yes"]].concat(),
        &home.0,
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("'bridge' network mode")
            && r.stderr.contains("would not see the application's traffic")
            && r.stderr.contains("--force"),
        "{}",
        r.stderr
    );
    let state = moto.inspect("legacy", &["legacy-svc"], TESTING);
    assert_eq!(state["revisions"].as_array().unwrap().len(), 1);
    // ... unless forced (here as a dry run).
    let r = add(
        &moto.url,
        &env,
        &[flags("legacy", "legacy-svc"), vec!["--force", "--dry-run"]].concat(),
        &home.0,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("adding it anyway (--force)"));
    // An EC2 task definition without runtimePlatform: ECS's default.
    assert!(
        r.stderr.contains(
            "\n  platform   linux/amd64 (no runtimePlatform.cpuArchitecture: ECS's default, X86_64)\n"
        ),
        "{}",
        r.stderr
    );

    // Added once; a second time it is already there.
    let r = add(
        &moto.url,
        &env,
        &[flags("web", "web-svc"), vec!["--yes"]].concat(),
        &home.0,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = add(
        &moto.url,
        &env,
        &[flags("web", "web-svc"), vec!["--yes"]].concat(),
        &home.0,
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("task definition web:2 already has the sensor (container 'levo-pcap-sensor'"),
        "{}",
        r.stderr
    );
    let state = moto.inspect("web", &["web-svc"], TESTING);
    assert_eq!(state["revisions"].as_array().unwrap().len(), 2);
}

// ---------------------------------------------------------------------------
// the fixture server

struct Fixture {
    child: Child,
    stdin: Option<ChildStdin>,
    url: String,
    _dir: TempDir,
}

impl Fixture {
    fn start(scenario: &Value) -> Fixture {
        let dir = TempDir::new("fixture");
        let file = dir.0.join("scenario.json");
        std::fs::write(&file, scenario.to_string()).unwrap();
        let mut child = Command::new(python3())
            .arg(script("ecs_fixture.py"))
            .arg(&file)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start python3 ecs_fixture.py");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = match rx.recv_timeout(START_DEADLINE) {
            Ok(l) => l,
            Err(_) => {
                stop(&mut child);
                panic!("the fixture did not start within {START_DEADLINE:?}");
            }
        };
        let port: u16 = line
            .trim()
            .strip_prefix("port ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("fixture said {line:?}"));
        Fixture {
            stdin: child.stdin.take(),
            child,
            url: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        }
    }

    fn get(&self, path: &str) -> Value {
        let r = minreq::get(format!("{}{path}", self.url))
            .with_timeout(10)
            .send()
            .unwrap();
        serde_json::from_slice(r.as_bytes()).unwrap()
    }

    /// Every request, in order.
    fn log(&self) -> Vec<Value> {
        self.get("/fixture/log").as_array().unwrap().clone()
    }

    fn calls(&self, op: &str) -> Vec<Value> {
        self.log().into_iter().filter(|e| e["op"] == op).collect()
    }

    fn state(&self) -> Value {
        self.get("/fixture/state")
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        drop(self.stdin.take());
        stop(&mut self.child);
    }
}

fn fixture_td(family: &str, rev: u64) -> Value {
    json!({
        "taskDefinitionArn": format!("arn:aws:ecs:us-east-1:123456789012:task-definition/{family}:{rev}"),
        "family": family, "revision": rev, "status": "ACTIVE",
        "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"],
        "compatibilities": ["EC2", "FARGATE"], "cpu": "1024", "memory": "2048",
        "taskRoleArn": "arn:aws:iam::123456789012:role/task",
        "executionRoleArn": "arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
        "runtimePlatform": {"cpuArchitecture": "X86_64", "operatingSystemFamily": "LINUX"},
        "pidMode": "task",
        "volumes": [{"name": "efs", "efsVolumeConfiguration": {"fileSystemId": "fs-1"}}],
        "placementConstraints": [],
        "containerDefinitions": [{
            "name": "app", "image": format!("app:{rev}"), "essential": true,
            "cpu": 256, "memory": 512,
            "secrets": [{"name": "TOKEN", "valueFrom": "arn:aws:ssm:us-east-1:123456789012:parameter/t"}]
        }],
        "requiresAttributes": [{"name": "ecs.capability.secrets.ssm.environment-variables"}],
        "registeredAt": 1700000000.5,
        "registeredBy": "arn:aws:iam::123456789012:user/dev"
    })
}

/// 3 clusters, 4 families, 21 services in `prod` (web-svc last), one item
/// per page: every List call takes several pages.
fn scenario() -> Value {
    let mut services: Vec<Value> = (0..20)
        .map(|i| json!({"cluster": "prod", "serviceName": format!("filler-{i:02}"), "taskDefinition": "api:1"}))
        .collect();
    services.push(json!({"cluster": "prod", "serviceName": "web-svc", "taskDefinition": "web:2", "desiredCount": 2}));
    json!({
        "page_size": 1,
        "regions": ["eu-west-1", "us-east-1", "us-west-2"],
        "credentials": {"access_key_id": KEY_ID, "secret_access_key": SECRET},
        "clusters": ["dev", "prod", "staging"],
        "task_definitions": [fixture_td("web", 1), fixture_td("web", 2), fixture_td("api", 1), fixture_td("worker", 1)],
        "td_tags": {"web:2": [{"key": "team", "value": "payments"}]},
        "services": services,
        "rollout": {"states": ["IN_PROGRESS", "IN_PROGRESS", "COMPLETED"]},
        "faults": []
    })
}

fn fixture_env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("AWS_ACCESS_KEY_ID", KEY_ID),
        ("AWS_SECRET_ACCESS_KEY", SECRET),
    ]
}

fn wait_flags() -> Vec<&'static str> {
    vec!["--yes", "--wait", "--poll-interval", "0.05"]
}

#[test]
fn fixture_pagination_and_rollout_completed() {
    let fx = Fixture::start(&scenario());
    let home = TempDir::new("home");
    let r = add(
        &fx.url,
        &fixture_env(),
        &[flags("web", "web-svc"), wait_flags()].concat(),
        &home.0,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let new_arn = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:3";
    assert_eq!(r.stdout.trim(), new_arn);
    assert!(
        r.stderr
            .contains("\n  platform   linux/amd64 (task runtimePlatform X86_64)\n"),
        "{}",
        r.stderr
    );

    // ListServices: 21 pages, each after the first with the token of the one before.
    let pages = fx.calls("ListServices");
    assert_eq!(pages.len(), 21);
    assert!(pages[0]["body"].get("nextToken").is_none());
    for p in &pages[1..] {
        assert!(
            p["body"]["nextToken"]
                .as_str()
                .is_some_and(|t| t.starts_with("tok-"))
        );
    }
    // DescribeServices: at most 10 a call, every service of the cluster seen.
    let described: Vec<Value> = fx.calls("DescribeServices");
    let first_three: Vec<usize> = described[..3]
        .iter()
        .map(|c| c["body"]["services"].as_array().unwrap().len())
        .collect();
    assert_eq!(first_three, vec![10, 10, 1]);
    // Every call was signed for the right service and region.
    for e in fx.log() {
        assert_eq!(e["status"], 200, "{e}");
        assert_eq!(e["region"], "us-east-1", "{e}");
        let svc = if e["op"] == "DescribeRegions" {
            "ec2"
        } else {
            "ecs"
        };
        assert_eq!(e["service"], svc, "{e}");
        assert_eq!(e["key_id"], KEY_ID);
    }
    // The new revision: read-only fields dropped (the fixture rejects them),
    // web:2's settings and tags kept, the sidecar last.
    let reg = &fx.calls("RegisterTaskDefinition")[0]["body"];
    let mut want = writable(&fixture_td("web", 2));
    want["containerDefinitions"]
        .as_array_mut()
        .unwrap()
        .push(expected_sidecar("web"));
    want.insert("tags".into(), json!([{"key": "team", "value": "payments"}]));
    assert_eq!(reg, &Value::Object(want));
    // Moved, tagged, and followed until COMPLETED.
    let upd = fx.calls("UpdateService");
    assert_eq!(upd.len(), 1);
    assert_eq!(upd[0]["body"]["taskDefinition"], new_arn);
    let st = fx.state();
    let web = st["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["serviceName"] == "web-svc")
        .unwrap();
    assert_eq!(web["taskDefinition"], new_arn);
    assert_eq!(web["deployments"][0]["rolloutState"], "COMPLETED");
    assert_eq!(tag(&st["tags"][new_arn], TAG_KEY), Some("web:3"));
    assert_eq!(
        tag(
            &st["tags"]["arn:aws:ecs:us-east-1:123456789012:service/prod/web-svc"],
            TAG_KEY
        ),
        Some("web:3")
    );
    assert!(
        r.stderr
            .contains("service web-svc: rollout IN_PROGRESS (0 of 2 tasks running)")
    );
    assert!(
        r.stderr
            .contains("service web-svc: rollout COMPLETED (2 of 2 tasks running)")
    );
    assert!(r.stderr.contains("rollout completed"));

    // A cluster that is not there: the error lists every cluster (3 pages).
    let r = add(
        &fx.url,
        &fixture_env(),
        &[
            flags("web", "web-svc"),
            vec!["--cluster", "nope", "--dry-run"],
        ]
        .concat(),
        &home.0,
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("cluster 'nope' not found in us-east-1 (clusters there: dev, prod, staging)"),
        "{}",
        r.stderr
    );
}

/// The policy 'ecs iam-policy' prints for this run's region, account,
/// cluster, service and family allows every request 'ecs add --wait' made;
/// narrowed to another cluster, service and family or account, it denies
/// exactly the requests on the resources it no longer covers.
#[test]
fn fixture_a_narrowed_policy_allows_this_run_and_no_other() {
    let fx = Fixture::start(&scenario());
    let home = TempDir::new("home");
    let r = add(
        &fx.url,
        &fixture_env(),
        &[flags("web", "web-svc"), wait_flags()].concat(),
        &home.0,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let requests = iam_requests(&fx.log(), r.stdout.trim());
    let policy = |cluster: &str, service: &str, family: &str, account: &str| {
        iam_policy(&[
            "--region",
            "us-east-1",
            "--account",
            account,
            "--cluster",
            cluster,
            "--service",
            service,
            "--task-family",
            family,
        ])
    };
    let denied = |p: &Value| -> BTreeSet<&str> {
        requests
            .iter()
            .filter(|r| !iam::allowed(p, r))
            .map(|r| r.action.as_str())
            .collect()
    };
    assert_eq!(
        denied(&policy("prod", "web-svc", "web", ACCOUNT)),
        BTreeSet::new()
    );
    assert_eq!(denied(&iam_policy(&[])), BTreeSet::new());
    let set = |l: &[&'static str]| l.iter().copied().collect::<BTreeSet<&str>>();
    assert_eq!(
        denied(&policy("staging", "web-svc", "web", ACCOUNT)),
        set(&[
            "ecs:DescribeClusters",
            "ecs:DescribeServices",
            "ecs:ListServices",
            "ecs:TagResource",
            "ecs:UpdateService"
        ])
    );
    assert_eq!(
        denied(&policy("prod", "api-svc", "api", ACCOUNT)),
        set(&[
            "ecs:RegisterTaskDefinition",
            "ecs:TagResource",
            "ecs:UpdateService"
        ])
    );
    assert_eq!(
        denied(&policy("prod", "web-svc", "web", "210987654321")),
        set(&[
            "ecs:DescribeClusters",
            "ecs:DescribeServices",
            "ecs:ListServices",
            "ecs:RegisterTaskDefinition",
            "ecs:TagResource",
            "ecs:UpdateService"
        ])
    );
    // Tags other than the marker's on a service: not allowed.
    let foreign = Request::new(
        "ecs:TagResource",
        &format!("arn:aws:ecs:us-east-1:{ACCOUNT}:service/prod/web-svc"),
    )
    .with("aws:TagKeys", vec!["owner".into()]);
    assert!(!iam::allowed(
        &policy("prod", "web-svc", "web", ACCOUNT),
        &foreign
    ));
    // The globbing the check relies on.
    for (pattern, text, want) in [
        ("*", "*", true),
        ("arn:aws:ecs:*:*:cluster/*", "*", false),
        (
            "arn:aws:ecs:*:*:cluster/prod",
            "arn:aws:ecs:us-east-1:1:cluster/prod2",
            false,
        ),
        (
            "arn:aws:ecs:*:*:task-definition/web:*",
            "arn:aws:ecs:r:1:task-definition/web:3",
            true,
        ),
        ("a?c*", "abcdef", true),
    ] {
        assert_eq!(iam::glob(pattern, text), want, "{pattern} ~ {text}");
    }
}

#[test]
fn fixture_rollout_failed_and_wait_timeout() {
    let mut sc = scenario();
    sc["rollout"] = json!({"states": ["IN_PROGRESS", "FAILED"],
        "reason": "ECS deployment circuit breaker: tasks failed to start."});
    let fx = Fixture::start(&sc);
    let home = TempDir::new("home");
    let r = add(
        &fx.url,
        &fixture_env(),
        &[flags("web", "web-svc"), wait_flags()].concat(),
        &home.0,
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains(
            "service web-svc: the rollout of web:3 FAILED: ECS deployment circuit breaker: tasks failed to start."
        ),
        "{}",
        r.stderr
    );

    let mut sc = scenario();
    sc["rollout"] = json!({"states": ["IN_PROGRESS"]});
    let fx = Fixture::start(&sc);
    let start = Instant::now();
    let r = add(
        &fx.url,
        &fixture_env(),
        &[
            flags("web", "web-svc"),
            wait_flags(),
            vec!["--wait-timeout", "0.5"],
        ]
        .concat(),
        &home.0,
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains(
            "gave up waiting after 0.5 s: the rollout of web:3 is still in progress for web-svc"
        ),
        "{}",
        r.stderr
    );
    // A deadline on behaviour (--wait-timeout 0.5 is honoured), not a speed
    // figure: without it the command would poll the never-ending rollout
    // until RUN_DEADLINE; 30 s is slack for registering the task definition
    // and updating the service on a loaded machine.
    assert!(start.elapsed() < Duration::from_secs(30));
    assert!(fx.calls("DescribeServices").len() > 4, "polled");
}

#[test]
fn fixture_error_shapes_and_missing_permissions() {
    let home = TempDir::new("home");
    // `com.amazonaws.ecs#ClientException` → ClientException, with its message.
    let fx = Fixture::start(&scenario());
    let r = add(
        &fx.url,
        &fixture_env(),
        &[flags("nosuch", "web-svc"), vec!["--yes"]].concat(),
        &home.0,
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains(
            "task definition 'nosuch' not found in us-east-1: ecs:DescribeTaskDefinition failed: \
             ClientException: Unable to describe task definition. (HTTP 400, request id"
        ),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("com.amazonaws"));

    // UpdateService denied: the permission is named; the registered revision
    // and the command that finishes the job are said.
    let mut sc = scenario();
    sc["faults"] = json!([{"op": "UpdateService", "kind": "access_denied"}]);
    let fx = Fixture::start(&sc);
    let r = add(
        &fx.url,
        &fixture_env(),
        &[flags("web", "web-svc"), vec!["--yes"]].concat(),
        &home.0,
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains(
            "ecs:UpdateService failed: AccessDeniedException: User: arn:aws:iam::123456789012:user/ci \
             is not authorized to perform: ecs:UpdateService"
        ) && r.stderr.contains(
            "the credentials lack the IAM permission ecs:UpdateService (resource: the cluster's services), \
             needed to move the services to the new revision"
        ),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("web:3 is registered, but web-svc could not be updated")
    );
    assert_eq!(fx.calls("UpdateService").len(), 1, "not retried");
    // Run again: web:3 has the sensor already; the way to move the service is said.
    let r = add(
        &fx.url,
        &fixture_env(),
        &[flags("web", "web-svc"), vec!["--yes"]].concat(),
        &home.0,
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("task definition web:3 already has the sensor")
            && r.stderr.contains(
                "(web-svc still runs an older revision: 'aws ecs update-service --cluster prod \
                 --service NAME --task-definition web:3' moves it)"
            ),
        "{}",
        r.stderr
    );
    assert_eq!(fx.calls("RegisterTaskDefinition").len(), 1);

    // DescribeRegions (XML error) and TagResource denied: warnings, the
    // sensor is still added.
    let mut sc = scenario();
    sc["faults"] = json!([
        {"op": "DescribeRegions", "kind": "unauthorized_xml"},
        {"op": "TagResource", "kind": "access_denied", "times": -1}
    ]);
    let fx = Fixture::start(&sc);
    let r = add(
        &fx.url,
        &fixture_env(),
        &[flags("web", "web-svc"), vec!["--yes"]].concat(),
        &home.0,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("ec2:DescribeRegions failed: UnauthorizedOperation: You are not authorized")
            && r.stderr.contains("IAM permission ec2:DescribeRegions")
            && r.stderr.contains("using the region as given"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("could not tag web:3")
            && r.stderr.contains("IAM permission ecs:TagResource")
            && r.stderr.contains("only the marker tag is missing"),
        "{}",
        r.stderr
    );
    assert_eq!(fx.calls("UpdateService").len(), 1);

    // Throttled for good (code only in the X-Amzn-Errortype header): given
    // up after five attempts, with the code.
    let mut sc = scenario();
    sc["faults"] = json!([{"op": "DescribeClusters", "kind": "throttle_header", "times": -1}]);
    let fx = Fixture::start(&sc);
    let r = add(
        &fx.url,
        &fixture_env(),
        &[flags("web", "web-svc"), vec!["--yes"]].concat(),
        &home.0,
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("ecs:DescribeClusters failed: ThrottlingException: Rate exceeded (HTTP 400"),
        "{}",
        r.stderr
    );
    assert_eq!(fx.calls("DescribeClusters").len(), 5);
    assert!(fx.calls("RegisterTaskDefinition").is_empty());

    // A wrong secret: the fixture's own signature check refuses it.
    let fx = Fixture::start(&scenario());
    let r = add(
        &fx.url,
        &[
            ("AWS_ACCESS_KEY_ID", KEY_ID),
            ("AWS_SECRET_ACCESS_KEY", "not-the-secret"),
        ],
        &[flags("web", "web-svc"), vec!["--yes"]].concat(),
        &home.0,
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("InvalidSignatureException")
            && r.stderr
                .contains("the secret access key does not match the access key id"),
        "{}",
        r.stderr
    );
}

#[test]
fn fixture_retries_throttling_and_network_failures() {
    let mut sc = scenario();
    // Session credentials: the token is sent and signed.
    sc["credentials"]["session_token"] = json!("FwoGZXIvYXdzEXAMPLETOKEN==");
    sc["faults"] = json!([
        {"op": "ListServices", "kind": "throttle", "times": 2},
        {"op": "DescribeClusters", "kind": "http503"},
        {"op": "DescribeTaskDefinition", "kind": "drop"},
        {"op": "RegisterTaskDefinition", "kind": "throttle_header"}
    ]);
    let fx = Fixture::start(&sc);
    let home = TempDir::new("home");
    let mut env = fixture_env();
    env.push(("AWS_SESSION_TOKEN", "FwoGZXIvYXdzEXAMPLETOKEN=="));
    let r = add(
        &fx.url,
        &env,
        &[flags("web", "web-svc"), vec!["--yes"]].concat(),
        &home.0,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    for (op, why) in [
        ("ListServices", "throttled (ThrottlingException)"),
        ("DescribeClusters", "HTTP 503 (ServiceUnavailable)"),
        ("RegisterTaskDefinition", "throttled (ThrottlingException)"),
    ] {
        assert!(
            r.stderr.contains(&format!("ecs:{op}: {why}; retrying in")),
            "{op}: {}",
            r.stderr
        );
    }
    assert!(
        r.stderr.contains("ecs:DescribeTaskDefinition: ") && r.stderr.contains("retrying in"),
        "{}",
        r.stderr
    );
    assert_eq!(fx.calls("ListServices").len(), 21 + 2);
    assert_eq!(fx.calls("DescribeClusters").len(), 2);
    assert_eq!(fx.calls("DescribeTaskDefinition").len(), 2);
    let regs = fx.calls("RegisterTaskDefinition");
    assert_eq!(regs.len(), 2);
    assert_eq!(regs[0]["code"], "ThrottlingException");
    // One new revision in the end, and the service on it.
    let st = fx.state();
    let revs: Vec<&Value> = st["task_definitions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["family"] == "web")
        .collect();
    assert_eq!(revs.len(), 3);
    for e in fx.log() {
        assert_eq!(e["token"], true, "the token goes with every call: {e}");
        assert!(
            e["signed_headers"]
                .as_str()
                .unwrap()
                .contains("x-amz-security-token"),
            "{e}"
        );
    }
}

#[test]
fn missing_flags_without_a_terminal() {
    let fx = Fixture::start(&scenario());
    let home = TempDir::new("home");
    let r = add(
        &fx.url,
        &fixture_env(),
        &[
            "--region",
            "us-east-1",
            "--cluster",
            "prod",
            "--image",
            IMAGE,
        ],
        &home.0,
    );
    assert_eq!(r.code, 2);
    assert_eq!(
        r.stderr.trim(),
        "pcap-sensor: no terminal to ask on, so these flags are needed: --task-family --service \
         --satellite-url --levo-env --levoai-org-id --rate-limit --yes (see 'pcap-sensor ecs add --help')"
    );
    // Without a region from anywhere, --region is named too.
    let r = add(&fx.url, &fixture_env(), &["--dry-run"], &home.0);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("needed: --region --cluster"),
        "{}",
        r.stderr
    );
    // A bad value is named before anything else.
    let r = add(
        &fx.url,
        &fixture_env(),
        &[flags("web", "web-svc"), vec!["--rate-limit", "lots"]].concat(),
        &home.0,
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--rate-limit") && r.stderr.contains("lots"));
    // No credentials at all: said, with what to do.
    let r = add(
        &fx.url,
        &[],
        &[flags("web", "web-svc"), vec!["--yes"]].concat(),
        &home.0,
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("no AWS credentials") && r.stderr.contains("aws configure"),
        "{}",
        r.stderr
    );
    assert!(fx.log().is_empty(), "no AWS call was made: {:?}", fx.log());
}

#[test]
fn profiles_from_the_shared_files() {
    let fx = Fixture::start(&scenario());
    let home = TempDir::new("home");
    let aws = home.0.join(".aws");
    std::fs::create_dir_all(&aws).unwrap();
    std::fs::write(
        aws.join("credentials"),
        format!(
            "[default]\naws_access_key_id = AKIAWRONGDEFAULT0000\naws_secret_access_key = nope\n\n\
             [ci]\naws_access_key_id = {KEY_ID}\naws_secret_access_key = {SECRET}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        aws.join("config"),
        "[default]\nregion = eu-west-1\n\n[profile ci]\nregion = us-east-1\n",
    )
    .unwrap();
    let mut args = flags("web", "web-svc");
    args.drain(0..2); // the region comes from the profile
    args.extend(["--profile", "ci", "--dry-run"]);
    let r = add(&fx.url, &[], &args, &home.0);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("region: us-east-1 (from profile 'ci')"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("from profile 'ci' in"), "{}", r.stderr);
    assert!(!r.stderr.contains(SECRET));
    // AWS_PROFILE does the same; the default profile's key is refused by the fixture.
    let mut args = flags("web", "web-svc");
    args.push("--dry-run");
    let r = add(&fx.url, &[("AWS_PROFILE", "ci")], &args, &home.0);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = add(&fx.url, &[], &args, &home.0);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("profile 'default'"), "{}", r.stderr);
}

#[test]
fn interactive_menus_through_a_pty() {
    let mut sc = scenario();
    sc["services"] = json!([
        {"cluster": "prod", "serviceName": "api-svc", "taskDefinition": "api:1"},
        {"cluster": "prod", "serviceName": "web-a", "taskDefinition": "web:2", "desiredCount": 2},
        {"cluster": "prod", "serviceName": "web-b", "taskDefinition": "web:2"},
        {"cluster": "dev", "serviceName": "web-dev", "taskDefinition": "web:1"}
    ]);
    let fx = Fixture::start(&sc);
    let home = TempDir::new("home");
    let steps = json!([
        {"expect": "Region \\[1-3\\]: ", "send": "9"},
        {"expect": "please type a number from 1 to 3", "send": "{pick:us-east-1}"},
        {"expect": "Cluster \\[1-3\\]: ", "send": "{pick:prod}"},
        {"expect": "Task family \\[1-3\\]: ", "send": "{pick:web  (services: web-a, web-b)}"},
        {"expect": "Services to update \\[numbers, e.g. 1 3; Enter = all 2\\]: ", "send": "{pick:web-a}"},
        {"expect": "Sensor image \\(--image[^\\n]*: ", "send": IMAGE},
        {"expect": "Satellite URL \\(--satellite-url, http\\(s\\)://host:port\\): ", "send": "satellite:9999"},
        {"expect": "expects http\\(s\\)://host\\[:port\\][^\\n]*\\n[^\\n]*Satellite URL[^\\n]*: ", "send": "http://levoai-satellite:9999"},
        {"expect": "Environment \\(--levo-env\\) \\[staging\\]: ", "send": ""},
        {"expect": "Organisation id \\(--levoai-org-id\\): ", "send": "org-1234"},
        {"expect": "Traces per minute \\(--rate-limit, 0 = no limit\\) \\[1000\\]: ", "send": "250"},
        {"expect": "Plan:(.|\\n)*update service web-a \\(runs web:2\\)(.|\\n)*Proceed\\? \\[y/N\\] ", "send": "y"}
    ]);
    let dir = TempDir::new("pty");
    let steps_file = dir.0.join("steps.json");
    std::fs::write(&steps_file, steps.to_string()).unwrap();
    let mut cmd = Command::new(python3());
    cmd.arg(script("ecs_pty.py"))
        .arg(&steps_file)
        .arg("--")
        .args([SENSOR, "ecs", "add", "--endpoint-url", &fx.url])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &home.0)
        .env("TERM", "dumb")
        .env("AWS_ACCESS_KEY_ID", KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", SECRET);
    let r = run(cmd);
    let out: Value = serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("{e}: {} {}", r.stdout, r.stderr));
    let transcript = out["transcript"].as_str().unwrap().replace('\r', "");
    eprintln!("--- transcript\n{transcript}");
    assert_eq!(out["failed_step"], Value::Null, "{transcript}");
    assert_eq!(out["status"], 0, "{transcript}");
    // The menus listed what every page of the List calls returned.
    for item in [
        "eu-west-1",
        "us-west-2",
        "dev  (",
        "staging  (",
        "worker  (no service",
    ] {
        assert!(transcript.contains(item), "{item} not offered");
    }
    assert!(transcript.contains("registered web:3"));

    // Only web-a moved; the sidecar has the answers typed in.
    let st = fx.state();
    let svc = |n: &str| {
        st["services"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["serviceName"] == n)
            .unwrap()["taskDefinition"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(svc("web-a").ends_with("web:3"));
    assert!(svc("web-b").ends_with("web:2"));
    let reg = &fx.calls("RegisterTaskDefinition")[0]["body"];
    assert_eq!(
        reg["containerDefinitions"]
            .as_array()
            .unwrap()
            .last()
            .unwrap(),
        &expected_sidecar("web")
    );
    assert!(fx.calls("ListTaskDefinitionFamilies").len() >= 3, "paged");

    // This run made every one of the ten calls: exactly the actions of the
    // policy 'ecs iam-policy' prints, which allows each request made.
    let log = fx.log();
    let policy = iam_policy(&[]);
    assert_eq!(called_actions(&log), policy_actions(&policy));
    assert_eq!(policy_actions(&policy).len(), 10);
    let new_td = format!("arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/web:3");
    for r in iam_requests(&log, &new_td) {
        assert!(iam::allowed(&policy, &r), "denied: {r:?}");
    }
}
