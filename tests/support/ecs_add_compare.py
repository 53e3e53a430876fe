#!/usr/bin/env python3
"""`pcap-sensor ecs add`, old binary against new: ~70 cases (every flag path,
refusal, AWS fault, menu and answer) run against tests/support/ecs_fixture.py
with each binary, comparing the exit code, stdout, stderr (the fixture's port,
the temporary HOME, retry delays and tag times masked), every AWS request the
fixture logged (operation, body, credential scope, answer) and its final state.
Used to check that a refactoring of src/ecs/add changes no byte.

usage: ecs_add_compare.py OLD_BIN NEW_BIN [CASE...]

Prints "same NAME" or "DIFF NAME" and the start of the diff per case; both
transcripts of a differing case are kept in a temporary folder (named at the
end). Exit status 1 when any case differs. Needs python3 only.
"""

import copy
import difflib
import json
import os
import pty
import re
import subprocess
import sys
import tempfile
import termios

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OLD, NEW = sys.argv[1:3]
ONLY = sys.argv[3:]
KEY_ID = "AKIAFIXTUREKEY000001"
SECRET = "fixture/secret/KEY+abcdefghijklmnopqrstu"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/pcap-sensor:0.1.0"


def td(family, rev, **over):
    t = {
        "taskDefinitionArn": f"arn:aws:ecs:us-east-1:123456789012:task-definition/{family}:{rev}",
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
            "name": "app", "image": f"app:{rev}", "essential": True,
            "cpu": 256, "memory": 512,
            "secrets": [{"name": "TOKEN", "valueFrom": "arn:aws:ssm:us-east-1:123456789012:parameter/t"}]
        }],
        "requiresAttributes": [{"name": "ecs.capability.secrets.ssm.environment-variables"}],
        "registeredAt": 1700000000.5,
        "registeredBy": "arn:aws:iam::123456789012:user/dev",
    }
    for k, v in over.items():
        if v is None:
            t.pop(k, None)
        elif v == "NULL":
            t[k] = None
        else:
            t[k] = v
    return t


def scenario(**over):
    services = [{"cluster": "prod", "serviceName": f"filler-{i:02}", "taskDefinition": "api:1"} for i in range(20)]
    services.append({"cluster": "prod", "serviceName": "web-svc", "taskDefinition": "web:2", "desiredCount": 2})
    sc = {
        "page_size": 1,
        "regions": ["eu-west-1", "us-east-1", "us-west-2"],
        "credentials": {"access_key_id": KEY_ID, "secret_access_key": SECRET},
        "clusters": ["dev", "prod", "staging"],
        "task_definitions": [td("web", 1), td("web", 2), td("api", 1), td("worker", 1)],
        "td_tags": {"web:2": [{"key": "team", "value": "payments"}]},
        "services": services,
        "rollout": {"states": ["IN_PROGRESS", "IN_PROGRESS", "COMPLETED"]},
        "faults": [],
    }
    sc.update(over)
    return sc


def small(**over):
    """Few services, page size 100: for menus."""
    sc = scenario(page_size=100, services=[
        {"cluster": "prod", "serviceName": "api-svc", "taskDefinition": "api:1"},
        {"cluster": "prod", "serviceName": "web-a", "taskDefinition": "web:2", "desiredCount": 2},
        {"cluster": "prod", "serviceName": "web-b", "taskDefinition": "web:1"},
        {"cluster": "dev", "serviceName": "web-dev", "taskDefinition": "web:1"},
    ])
    sc.update(over)
    return sc


def flags(family="web", service="web-svc", region=True):
    f = ["--region", "us-east-1"] if region else []
    f += ["--cluster", "prod", "--task-family", family]
    if service:
        f += ["--service", service]
    f += ["--image", IMAGE, "--satellite-url", "http://levoai-satellite:9999",
          "--levo-env", "staging", "--levoai-org-id", "org-1234", "--rate-limit", "250"]
    return f


YES = ["--yes"]
WAIT = ["--yes", "--wait", "--poll-interval", "0.05"]
ENV = {"AWS_ACCESS_KEY_ID": KEY_ID, "AWS_SECRET_ACCESS_KEY": SECRET}

# name -> (scenario, [run, ...]); run = dict(args=[...], env={...}, tty=None|input text)
CASES = {}


def case(name, sc, *runs):
    CASES[name] = (sc, list(runs))


def run(args, env=ENV, tty=None, normalize_polls=False):
    return {"args": args, "env": env, "tty": tty, "polls": normalize_polls}


case("help", scenario(), run(["--help"]), run(["-h", "--cluster", "x"]))
case("bad-flags", scenario(),
     run(["--bogus"]), run(["-z"]), run(["stray"]), run(["--cpu", "0"]), run(["--rate-limit", "lots"]),
     run(["--region", "mars"]), run(["--endpoint-url2", "x"]), run(["--wait-timeout", "-1"]),
     run(["--poll-interval", "abc"]), run(["--cluster", "  "]), run(["--satellite-url", "sat:1"]),
     run(flags() + ["--", "--satellite-url", "http://x:1"]))
case("missing-flags", scenario(),
     run(["--region", "us-east-1", "--cluster", "prod", "--image", IMAGE]),
     run(["--dry-run"]), run([], env={}), run(flags() + YES, env={}))
case("full-wait", scenario(), run(flags() + WAIT), run(flags() + YES))
case("full-nowait", scenario(), run(flags() + YES))
case("dry-run-extras", scenario(),
     run(flags() + ["--dry-run", "--low-resource", "--log-group", "/x/y", "--", "--filter", "not port 8888"]),
     run(flags() + ["--dry-run", "--cpu", "300", "--memory", "200", "--wait", "--wait-timeout", "12.5"]),
     run(flags() + ["--dry-run", "--rate-limit", "12.5", "--profile", "nosuch"]))
case("rollout-failed", scenario(rollout={"states": ["IN_PROGRESS", "FAILED"], "reason": "circuit breaker"}),
     run(flags() + WAIT))
case("rollout-failed-noreason", scenario(rollout={"states": ["FAILED"]}), run(flags() + WAIT))
case("rollout-timeout", scenario(rollout={"states": ["IN_PROGRESS"]}),
     run(flags() + WAIT + ["--wait-timeout", "0.3"], normalize_polls=True))
case("update-denied", scenario(faults=[{"op": "UpdateService", "kind": "access_denied"}]),
     run(flags() + YES), run(flags() + YES))
case("two-services-one-denied",
     small(faults=[{"op": "UpdateService", "kind": "access_denied"}]),
     run(flags(service="web-a") + ["--service", "web-b"] + YES))
case("two-services-other-denied",
     small(faults=[{"op": "UpdateService", "kind": "client_error", "times": 1}]),
     run(flags(service="web-b") + ["--service", "web-a"] + WAIT))
case("all-denied", small(faults=[{"op": "UpdateService", "kind": "access_denied", "times": -1}]),
     run(flags(service="web-a") + ["--service", "web-b"] + YES))
case("regions-and-tags-denied", scenario(faults=[
    {"op": "DescribeRegions", "kind": "unauthorized_xml"},
    {"op": "TagResource", "kind": "access_denied", "times": -1}]), run(flags() + YES))
case("regions-denied-no-region", scenario(faults=[{"op": "DescribeRegions", "kind": "unauthorized_xml"}]),
     run(flags(region=False) + ["--dry-run"], tty="9\n2\n"))
case("region-not-enabled", scenario(), run(["--region", "ap-south-1"] + flags(region=False) + YES))
case("regions-empty", scenario(regions=[]), run(flags() + ["--dry-run"]))
case("cluster-not-found", scenario(), run(["--region", "us-east-1", "--cluster", "nosuch"] + flags(region=False)[2:] + YES))
case("cluster-not-found-empty", scenario(clusters=[]), run(flags() + YES))
case("cluster-not-found-list-denied",
     scenario(faults=[{"op": "ListClusters", "kind": "access_denied"}]), run(["--cluster", "nosuch"] + flags()[:2] + flags()[4:] + YES))
case("cluster-by-arn", scenario(), run(flags()[:2] + ["--cluster", "arn:aws:ecs:us-east-1:123456789012:cluster/prod"] + flags()[4:] + ["--dry-run"]))
case("td-not-found", scenario(), run(flags(family="nosuch") + YES))
case("td-revision", small(), run(flags(family="web:1", service="web-b") + ["--dry-run"]),
     run(flags(family="web:1", service="web-a") + ["--dry-run"]))
case("td-describe-denied", scenario(faults=[{"op": "DescribeTaskDefinition", "kind": "access_denied"}]),
     run(flags() + YES))
case("service-missing", small(), run(flags(service="nope") + YES))
case("service-missing-empty", small(services=[]), run(flags(service="nope") + YES))
case("service-other-family", small(), run(flags(service="api-svc") + YES))
case("service-by-arn", small(), run(flags(service="arn:aws:ecs:us-east-1:123456789012:service/prod/web-a") + YES))
case("service-older-revision", small(), run(flags(service="web-b") + ["--dry-run"]),
     run(flags(service="web-b") + ["--service", "web-a", "--service", "web-b"] + WAIT))
case("code-deploy", small(services=[{"cluster": "prod", "serviceName": "web-a", "taskDefinition": "web:2",
                                      "deploymentController": {"type": "CODE_DEPLOY"}}]),
     run(flags(service="web-a") + YES))
case("external", small(services=[{"cluster": "prod", "serviceName": "web-a", "taskDefinition": "web:2",
                                   "deploymentController": {"type": "EXTERNAL"}}]),
     run(flags(service="web-a") + YES))
case("bridge", small(task_definitions=[td("web", 2, networkMode="bridge", requiresCompatibilities=["EC2"])]),
     run(flags(service="web-a") + YES), run(flags(service="web-a") + ["--force", "--dry-run"]),
     run(flags(service="web-a") + ["--force", "--yes"]))
case("default-network", small(task_definitions=[td("web", 2, networkMode=None, requiresCompatibilities=["EC2"])]),
     run(flags(service="web-a") + YES), run(flags(service="web-a") + ["--force", "--dry-run"]))
case("none-network", small(task_definitions=[td("web", 2, networkMode="none", requiresCompatibilities=None)]),
     run(flags(service="web-a") + YES), run(flags(service="web-a") + ["--force", "--dry-run"]))
case("host-network", small(task_definitions=[td("web", 2, networkMode="host", requiresCompatibilities=["EC2"], executionRoleArn=None)]),
     run(flags(service="web-a") + ["--dry-run"]))
case("null-network", small(task_definitions=[td("web", 2, networkMode="NULL")]),
     run(flags(service="web-a") + YES), run(flags(service="web-a") + ["--force", "--dry-run"]))
case("no-exec-role", small(task_definitions=[td("web", 2, executionRoleArn=None)]), run(flags(service="web-a") + YES))
case("bridge-and-no-exec-role", small(task_definitions=[td("web", 2, networkMode="bridge", executionRoleArn=None)]),
     run(flags(service="web-a") + ["--force", "--yes"]))
case("no-cpu", small(task_definitions=[td("web", 2, cpu="384")]), run(flags(service="web-a") + YES),
     run(flags(service="web-a") + ["--low-resource", "--dry-run"]), run(flags(service="web-a") + ["--cpu", "256", "--dry-run"]))
case("no-memory", small(task_definitions=[td("web", 2, memory="600")]), run(flags(service="web-a") + YES),
     run(flags(service="web-a") + ["--memory", "88", "--dry-run"]))
case("memory-reservation", small(task_definitions=[td("web", 2, memory=700, cpu=None, containerDefinitions=[
    {"name": "app", "image": "app:2", "memoryReservation": 600}, {"name": "b", "image": "b", "memory": "10", "memoryReservation": 50}])]),
     run(flags(service="web-a") + YES))
case("no-task-size", small(task_definitions=[td("web", 2, memory=None, cpu=None, containerDefinitions=None)]),
     run(flags(service="web-a") + ["--dry-run"]))
case("unknown-fields", small(task_definitions=[td("web", 2, futureField=1, anotherOne={"a": 1}, volumes=None, pidMode=None, ipcMode=None, ephemeralStorage={"sizeInGiB": 30})]),
     run(flags(service="web-a") + ["--dry-run"]))
case("null-fields", small(task_definitions=[td("web", 2, taskRoleArn=None, ipcMode=None)]),
     run(flags(service="web-a") + ["--dry-run"]))
case("no-tags", small(td_tags={}), run(flags(service="web-a") + YES))
case("already-by-image", small(task_definitions=[td("web", 2, containerDefinitions=[
    {"name": "app", "image": "app:2"}, {"name": "sensor", "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/pcap-sensor:0.0.9"}])]),
     run(flags(service="web-a") + YES), run(flags(service="web-b", family="web") + ["--force", "--yes"]))
case("already-by-name", small(task_definitions=[td("web", 2, containerDefinitions=[
    {"name": "app", "image": "app:2"}, {"name": "levo-pcap-sensor", "image": "other@sha256:abc"}])]),
     run(flags(service="web-a") + YES))
case("already-two-behind", small(services=[
    {"cluster": "prod", "serviceName": "web-a", "taskDefinition": "web:1"},
    {"cluster": "prod", "serviceName": "web-b", "taskDefinition": "web:1"},
    {"cluster": "prod", "serviceName": "web-c", "taskDefinition": "web:2"}],
    task_definitions=[td("web", 1), td("web", 2, containerDefinitions=[{"name": "levo-pcap-sensor", "image": "x"}])]),
     run(flags(service="web-a") + YES))
case("retries", scenario(faults=[
    {"op": "ListServices", "kind": "throttle", "times": 2},
    {"op": "DescribeClusters", "kind": "http503"},
    {"op": "DescribeTaskDefinition", "kind": "drop"},
    {"op": "RegisterTaskDefinition", "kind": "throttle_header"}]), run(flags() + YES))
case("register-fails", scenario(faults=[{"op": "RegisterTaskDefinition", "kind": "client_error"}]), run(flags() + YES))
case("throttled-for-good", scenario(faults=[{"op": "DescribeClusters", "kind": "throttle_header", "times": -1}]),
     run(flags() + YES))
case("wrong-secret", scenario(), run(flags() + YES, env={"AWS_ACCESS_KEY_ID": KEY_ID, "AWS_SECRET_ACCESS_KEY": "x"}))
case("session-token", scenario(credentials={"access_key_id": KEY_ID, "secret_access_key": SECRET, "session_token": "TOK"}),
     run(flags() + YES, env=dict(ENV, AWS_SESSION_TOKEN="TOK")))
case("env-endpoints", small(), run(flags(service="web-a") + ["--dry-run"], env=dict(ENV, AWS_REGION="eu-west-1")))
case("wait-small", small(),
     run(flags(service="web-a") + WAIT))

# interactive (a pseudo-terminal on stdin; answers typed ahead, echo off)
case("tty-full", small(),
     run([], tty="9\nx\n2\n2\n2\n\n" + IMAGE + "\nsatellite:9999\nhttp://levoai-satellite:9999\n\norg-1\nlots\n250\ny\n"))
case("tty-pick-some", small(), run([], tty="2\n2\n2\n1\n" + IMAGE + "\nhttp://s:1\n\n\n\n\n"))
case("tty-some-flags", small(), run(["--region", "us-east-1", "--image", IMAGE, "--rate-limit", "5"],
                                    tty="2\n2\n0,3 x\n1, 2 2\nhttp://s:1\nprod\norg\nY\n"))
case("tty-all-keyword", small(), run(["--region", "us-east-1", "--cluster", "prod", "--task-family", "web", "--wait",
                                      "--poll-interval", "0.05"],
                                     tty="ALL\n" + IMAGE + "\nhttp://s:1\nenv\norg\n0\nyes\n"))
case("tty-abort", small(), run(flags(service="web-a"), tty="n\n"))
case("tty-eof", small(), run(flags(service="web-a"), tty=""))
case("tty-eof-menu", small(), run(["--region", "us-east-1"], tty=""))
case("tty-dry-run", small(), run(flags(service="web-a") + ["--dry-run"], tty=""))
case("tty-one-cluster", small(clusters=["prod"], regions=["us-east-1"]), run(["--task-family", "api"], tty="\n" + IMAGE + "\nhttp://s:1\n\norg\n\nno\n"))
case("tty-family-no-service", small(), run(["--region", "us-east-1", "--cluster", "prod", "--task-family", "worker"], tty=""))
case("tty-family-menu-no-service", small(), run(["--region", "us-east-1", "--cluster", "prod"], tty="3\n"))
case("tty-no-families", small(task_definitions=[]), run(["--region", "us-east-1", "--cluster", "prod"], tty=""))
case("tty-no-clusters", small(clusters=[]), run(["--region", "us-east-1"], tty=""))
case("tty-bridge-early", small(task_definitions=[td("web", 2, networkMode="bridge")]),
     run(["--region", "us-east-1", "--cluster", "prod", "--task-family", "web"], tty=""))
case("tty-cpu-late", small(task_definitions=[td("web", 2, cpu="600")]),
     run(["--region", "us-east-1", "--cluster", "prod", "--task-family", "web", "--cpu", "400"],
         tty="1\n" + IMAGE + "\nhttp://s:1\n\norg\n\n"))
case("tty-cpu-late-image", small(task_definitions=[td("web", 2, containerDefinitions=[
    {"name": "app", "image": "app:2"}, {"name": "s", "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/pcap-sensor"}])]),
     run(["--region", "us-east-1", "--cluster", "prod", "--task-family", "web"],
         tty="1\n" + IMAGE + "\nhttp://s:1\n\norg\n\n"))


def start_fixture(sc, tmp):
    path = os.path.join(tmp, "scenario.json")
    with open(path, "w") as f:
        json.dump(sc, f)
    p = subprocess.Popen([sys.executable, os.path.join(REPO, "tests/support/ecs_fixture.py"), path],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    line = p.stdout.readline().decode()
    return p, int(line.split()[1])


def get(port, path):
    import urllib.request
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
        return json.loads(r.read())


def norm(text, port, home=None):
    text = text.replace(f"127.0.0.1:{port}", "127.0.0.1:PORT")
    if home:
        text = text.replace(home, "HOME")
    text = re.sub(r"retrying in \d+\.\d s", "retrying in N s", text)
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "TIME", text)
    return text


def exec_one(binary, r, port, home):
    env = {"PATH": os.environ["PATH"], "HOME": home}
    env.update(r["env"])
    cmd = [binary, "ecs", "add", "--endpoint-url", f"http://127.0.0.1:{port}"] + r["args"]
    if r["tty"] is None:
        p = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
        return p.returncode, p.stdout.decode(), p.stderr.decode()
    master, slave = pty.openpty()
    attrs = termios.tcgetattr(slave)
    attrs[3] &= ~termios.ECHO
    termios.tcsetattr(slave, termios.TCSANOW, attrs)
    p = subprocess.Popen(cmd, env=env, stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    os.close(slave)
    os.write(master, (r["tty"] + "\x04").encode())
    out, err = p.communicate(timeout=120)
    os.close(master)
    return p.returncode, out.decode(), err.decode()


def run_case(binary, name):
    sc, runs = CASES[name]
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        fx, port = start_fixture(copy.deepcopy(sc), tmp)
        try:
            for r in runs:
                code, so, se = exec_one(binary, r, port, tmp)
                out.append(f"$ {' '.join(r['args'])}  [tty={r['tty'] is not None}]\nexit {code}\n"
                           f"--- stdout\n{norm(so, port, tmp)}--- stderr\n{norm(se, port, tmp)}")
            log = get(port, "/fixture/log")
            lines = [norm(json.dumps(e, sort_keys=True), port) for e in log]
            if any(r["polls"] for r in runs):
                lines = [l for i, l in enumerate(lines) if i == 0 or l != lines[i - 1]]
            out.append("--- calls\n" + "\n".join(lines))
            out.append("--- state\n" + norm(json.dumps(get(port, "/fixture/state"), sort_keys=True, indent=1), port))
        finally:
            fx.stdin.close()
            fx.wait(timeout=10)
    return "\n".join(out) + "\n"


def main():
    names = ONLY or list(CASES)
    unknown = [n for n in names if n not in CASES]
    if unknown:
        sys.exit(f"unknown cases: {unknown}")
    keep = tempfile.mkdtemp(prefix="ecs-add-compare-")
    bad = 0
    for name in names:
        a, b = run_case(OLD, name), run_case(NEW, name)
        if a != b:
            bad += 1
            for suffix, text in (("old", a), ("new", b)):
                with open(os.path.join(keep, f"{name}.{suffix}"), "w") as f:
                    f.write(text)
            print(f"DIFF {name}")
            diff = difflib.unified_diff(a.splitlines(True), b.splitlines(True), "old", "new")
            sys.stdout.writelines(list(diff)[:60])
        else:
            print(f"same {name}")
    print(f"{len(names)} cases, {bad} differ" + (f" (transcripts in {keep})" if bad else ""))
    if not bad:
        os.rmdir(keep)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
