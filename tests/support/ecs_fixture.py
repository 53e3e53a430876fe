#!/usr/bin/env python3
"""A small stand-in for the ECS (JSON 1.1) and EC2 (query) APIs, for what moto
does not model: pagination with nextToken, deployments with rollout states,
the exact JSON error shapes (including AccessDeniedException), throttling,
5xx answers and dropped connections. Used by tests/ecs_add.rs.

usage: ecs_fixture.py SCENARIO.json

Listens on 127.0.0.1 on a free port and prints "port N" once it accepts
connections. Stops when stdin closes (the test dropped its handle) or on
SIGTERM.

The scenario (JSON):
  page_size      items per page of every List call (nextToken is opaque)
  regions        names DescribeRegions returns
  credentials    {"access_key_id", "secret_access_key"}: every request must
                 carry a valid SigV4 signature for them (checked here,
                 independently of the client: hashlib + hmac)
  clusters       ["prod", ...]
  task_definitions  [{...a DescribeTaskDefinition taskDefinition...}]
  td_tags        {"family:revision": [{"key","value"}]}
  services       [{"cluster", "serviceName", "taskDefinition" ("family:rev"),
                   "desiredCount", "deploymentController"?}]
  rollout        {"states": ["IN_PROGRESS", ..., "COMPLETED"|"FAILED"],
                  "reason": "..."}: after UpdateService, each DescribeServices
                 of that service moves its new deployment one state on
  faults         [{"op": "ListServices", "kind": K, "times": N}]: the next N
                 calls of op fail that way (-1: all). K is one of throttle,
                 throttle_header (code only in X-Amzn-Errortype), http503,
                 drop (connection closed, no answer), access_denied,
                 client_error, unauthorized_xml (EC2-style XML error)

GET /fixture/log    every request seen: op, body, region and service of the
                    credential scope, security token present, answer
GET /fixture/state  task definitions, services (with deployments), tags
"""

import hashlib
import hmac
import json
import signal
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ACCOUNT = "123456789012"
TARGET_PREFIX = "AmazonEC2ContainerServiceV20141113."
WRITABLE = {
    "containerDefinitions", "cpu", "enableFaultInjection", "ephemeralStorage",
    "executionRoleArn", "family", "inferenceAccelerators", "ipcMode", "memory",
    "networkMode", "pidMode", "placementConstraints", "proxyConfiguration",
    "requiresCompatibilities", "runtimePlatform", "tags", "taskRoleArn",
    "trustedExecutionConfiguration", "volumes",
}


class ApiError(Exception):
    def __init__(self, status, code, message, header_only=False, xml=False):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.header_only, self.xml = header_only, xml


class Drop(Exception):
    pass


class State:
    def __init__(self, sc):
        self.sc = sc
        self.lock = threading.Lock()
        self.log = []
        self.page_size = sc.get("page_size", 100)
        self.faults = [dict(f) for f in sc.get("faults", [])]
        self.tds = {}  # (family, rev) -> td
        for td in sc.get("task_definitions", []):
            self.tds[(td["family"], td["revision"])] = td
        self.tags = {}  # arn -> [tags]
        self.region = "us-east-1"
        for ref, tags in sc.get("td_tags", {}).items():
            fam, rev = ref.split(":")
            self.tags[self.td_arn(fam, int(rev))] = list(tags)
        self.services = []
        for s in sc.get("services", []):
            s = dict(s)
            fam, rev = s["taskDefinition"].split(":")
            s["taskDefinition"] = self.td_arn(fam, int(rev))
            s.setdefault("desiredCount", 1)
            s["serviceArn"] = f"arn:aws:ecs:{self.region}:{ACCOUNT}:service/{s['cluster']}/{s['serviceName']}"
            s["clusterArn"] = self.cluster_arn(s["cluster"])
            s["status"] = "ACTIVE"
            s["runningCount"] = s["desiredCount"]
            s["deployments"] = [self.deployment(s, s["taskDefinition"], "PRIMARY", "COMPLETED")]
            s["_rollout"] = None
            self.services.append(s)
        self.deploy_seq = 0

    def td_arn(self, fam, rev):
        return f"arn:aws:ecs:{self.region}:{ACCOUNT}:task-definition/{fam}:{rev}"

    def cluster_arn(self, name):
        return f"arn:aws:ecs:{self.region}:{ACCOUNT}:cluster/{name}"

    def deployment(self, s, td, status, rollout):
        self.deploy_seq = getattr(self, "deploy_seq", 0) + 1
        return {
            "id": f"ecs-svc/{self.deploy_seq:019d}",
            "status": status,
            "taskDefinition": td,
            "desiredCount": s["desiredCount"],
            "runningCount": s["desiredCount"] if rollout == "COMPLETED" else 0,
            "rolloutState": rollout,
        }

    def fault_for(self, op):
        for f in self.faults:
            if f["op"] == op and f.get("times", 1) != 0:
                if f.get("times", 1) > 0:
                    f["times"] = f.get("times", 1) - 1
                return f["kind"]
        return None


def page(state, items, body):
    token = body.get("nextToken")
    start = int(token.split("-")[1]) if token else 0
    end = start + state.page_size
    out = {"items": items[start:end]}
    if end < len(items):
        out["nextToken"] = f"tok-{end}-{hashlib.sha1(str(end).encode()).hexdigest()[:8]}"
    return out


def find_td(state, ref):
    ref = ref.rsplit("/", 1)[-1]
    if ":" in ref:
        fam, rev = ref.split(":")
        td = state.tds.get((fam, int(rev)))
    else:
        revs = [r for (f, r), t in state.tds.items() if f == ref and t.get("status", "ACTIVE") == "ACTIVE"]
        td = state.tds.get((ref, max(revs))) if revs else None
    if td is None:
        raise ApiError(400, "ClientException", "Unable to describe task definition.")
    return td


def cluster_name(state, ref):
    name = ref.rsplit("/", 1)[-1]
    if name not in state.sc.get("clusters", []):
        raise ApiError(400, "ClusterNotFoundException", "Cluster not found.")
    return name


def find_service(state, cluster, ref):
    name = ref.rsplit("/", 1)[-1]
    for s in state.services:
        if s["cluster"] == cluster and s["serviceName"] == name:
            return s
    return None


def public(s):
    return {k: v for k, v in s.items() if not k.startswith("_") and k != "cluster"}


def ecs_op(state, op, body):
    if op == "ListClusters":
        p = page(state, [state.cluster_arn(c) for c in state.sc.get("clusters", [])], body)
        return {"clusterArns": p["items"], **({"nextToken": p["nextToken"]} if "nextToken" in p else {})}
    if op == "DescribeClusters":
        out, failures = [], []
        for ref in body.get("clusters", []):
            name = ref.rsplit("/", 1)[-1]
            if name in state.sc.get("clusters", []):
                n = sum(1 for s in state.services if s["cluster"] == name)
                out.append({"clusterArn": state.cluster_arn(name), "clusterName": name, "status": "ACTIVE",
                            "activeServicesCount": n, "runningTasksCount": n})
            else:
                failures.append({"arn": ref, "reason": "MISSING"})
        return {"clusters": out, "failures": failures}
    if op == "ListTaskDefinitionFamilies":
        fams = sorted({f for (f, _), t in state.tds.items() if t.get("status", "ACTIVE") == "ACTIVE"})
        p = page(state, fams, body)
        return {"families": p["items"], **({"nextToken": p["nextToken"]} if "nextToken" in p else {})}
    if op == "DescribeTaskDefinition":
        td = find_td(state, body["taskDefinition"])
        out = {"taskDefinition": td}
        if "TAGS" in body.get("include", []):
            out["tags"] = state.tags.get(td["taskDefinitionArn"], [])
        return out
    if op == "RegisterTaskDefinition":
        extra = set(body) - WRITABLE
        if extra:
            raise ApiError(400, "ClientException", f"Unknown parameter(s): {sorted(extra)}")
        fam = body["family"]
        rev = max([r for (f, r) in state.tds if f == fam] or [0]) + 1
        td = {k: v for k, v in body.items() if k != "tags"}
        td.update(taskDefinitionArn=state.td_arn(fam, rev), revision=rev, status="ACTIVE",
                  compatibilities=["EC2", "FARGATE"], registeredAt=1700000000.0,
                  registeredBy=f"arn:aws:iam::{ACCOUNT}:user/ci",
                  requiresAttributes=[{"name": "com.amazonaws.ecs.capability.docker-remote-api.1.18"}])
        state.tds[(fam, rev)] = td
        if body.get("tags"):
            state.tags[td["taskDefinitionArn"]] = list(body["tags"])
        return {"taskDefinition": td, "tags": body.get("tags", [])}
    if op == "ListServices":
        cl = cluster_name(state, body["cluster"])
        arns = [s["serviceArn"] for s in state.services if s["cluster"] == cl]
        p = page(state, arns, body)
        return {"serviceArns": p["items"], **({"nextToken": p["nextToken"]} if "nextToken" in p else {})}
    if op == "DescribeServices":
        cl = cluster_name(state, body["cluster"])
        refs = body.get("services", [])
        if len(refs) > 10:
            raise ApiError(400, "InvalidParameterException", "services can have at most 10 items.")
        out, failures = [], []
        for ref in refs:
            s = find_service(state, cl, ref)
            if s is None:
                failures.append({"arn": ref, "reason": "MISSING"})
                continue
            r = s["_rollout"]
            if r is not None:
                dep = s["deployments"][0]
                dep["rolloutState"] = r["states"][min(r["step"], len(r["states"]) - 1)]
                if dep["rolloutState"] == "FAILED":
                    dep["rolloutStateReason"] = r.get("reason", "")
                if dep["rolloutState"] == "COMPLETED":
                    dep["runningCount"] = dep["desiredCount"]
                    s["deployments"] = [dep]
                r["step"] += 1
            out.append(public(s))
        return {"services": out, "failures": failures}
    if op == "UpdateService":
        cl = cluster_name(state, body["cluster"])
        s = find_service(state, cl, body["service"])
        if s is None:
            raise ApiError(400, "ServiceNotFoundException", "Service not found.")
        td = find_td(state, body["taskDefinition"])
        s["taskDefinition"] = td["taskDefinitionArn"]
        for d in s["deployments"]:
            d["status"] = "ACTIVE"
        r = state.sc.get("rollout", {"states": ["COMPLETED"]})
        s["deployments"].insert(0, state.deployment(s, td["taskDefinitionArn"], "PRIMARY", r["states"][0]))
        s["_rollout"] = {"states": r["states"], "reason": r.get("reason", ""), "step": 0}
        return {"service": public(s)}
    if op == "TagResource":
        arn = body["resourceArn"]
        cur = [t for t in state.tags.get(arn, []) if t["key"] not in {x["key"] for x in body["tags"]}]
        state.tags[arn] = cur + list(body["tags"])
        return {}
    raise ApiError(400, "UnknownOperationException", f"unknown operation {op}")


def ec2_op(state, form):
    action = form.get("Action", [""])[0]
    if action != "DescribeRegions":
        raise ApiError(400, "InvalidAction", f"The action {action} is not valid for this web service.", xml=True)
    items = "".join(
        f"<item><regionName>{r}</regionName><regionEndpoint>ec2.{r}.amazonaws.com</regionEndpoint>"
        f"<optInStatus>opt-in-not-required</optInStatus></item>"
        for r in state.sc.get("regions", ["us-east-1"])
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<DescribeRegionsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">'
        f"<requestId>r-1</requestId><regionInfo>{items}</regionInfo></DescribeRegionsResponse>"
    )


def check_signature(state, method, path, headers, body):
    """SigV4 check, written from AWS's description of the algorithm."""
    creds = state.sc.get("credentials")
    auth = headers.get("authorization", "")
    if not auth.startswith("AWS4-HMAC-SHA256 "):
        raise ApiError(403, "MissingAuthenticationTokenException", "Missing Authentication Token")
    fields = dict(p.strip().split("=", 1) for p in auth[len("AWS4-HMAC-SHA256 "):].split(","))
    key_id, date, region, service, term = fields["Credential"].split("/")
    info = {"key_id": key_id, "region": region, "service": service,
            "token": "x-amz-security-token" in headers,
            "signed_headers": fields["SignedHeaders"]}
    if creds is None:
        return info
    if key_id != creds["access_key_id"]:
        raise ApiError(400, "UnrecognizedClientException", "The security token included in the request is invalid.")
    names = fields["SignedHeaders"].split(";")
    canon_headers = "".join(f"{n}:{' '.join(headers.get(n, '').split())}\n" for n in names)
    creq = "\n".join([method, path, "", canon_headers, fields["SignedHeaders"], hashlib.sha256(body).hexdigest()])
    amz_date = headers.get("x-amz-date", "")
    scope = f"{date}/{region}/{service}/{term}"
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(creq.encode()).hexdigest()])

    def h(k, m):
        return hmac.new(k, m.encode(), hashlib.sha256).digest()

    k = h(h(h(h(("AWS4" + creds["secret_access_key"]).encode(), date), region), service), "aws4_request")
    want = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    if want != fields["Signature"]:
        raise ApiError(400, "InvalidSignatureException",
                       "The request signature we calculated does not match the signature you provided.")
    if creds.get("session_token") and headers.get("x-amz-security-token") != creds["session_token"]:
        raise ApiError(400, "UnrecognizedClientException", "The security token included in the request is invalid.")
    return info


def fault_error(kind, op):
    if kind == "throttle":
        return ApiError(400, "ThrottlingException", "Rate exceeded")
    if kind == "throttle_header":
        return ApiError(400, "ThrottlingException", "Rate exceeded", header_only=True)
    if kind == "http503":
        return ApiError(503, "ServiceUnavailable", "Service Unavailable")
    if kind == "access_denied":
        return ApiError(400, "AccessDeniedException",
                        f"User: arn:aws:iam::{ACCOUNT}:user/ci is not authorized to perform: ecs:{op} "
                        f"on resource: * because no identity-based policy allows the ecs:{op} action")
    if kind == "client_error":
        return ApiError(400, "ClientException", f"{op} is not possible right now.")
    if kind == "unauthorized_xml":
        return ApiError(403, "UnauthorizedOperation",
                        "You are not authorized to perform this operation.", xml=True)
    if kind == "drop":
        return Drop()
    raise ValueError(kind)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, status, body, ctype, extra=()):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", "11111111-2222-3333-4444-555555555555")
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        st = self.server.state
        with st.lock:
            if self.path == "/fixture/log":
                return self.reply(200, json.dumps(st.log), "application/json")
            if self.path == "/fixture/state":
                out = {
                    "task_definitions": sorted(st.tds.values(), key=lambda t: (t["family"], t["revision"])),
                    "services": [public(s) for s in st.services],
                    "tags": st.tags,
                }
                return self.reply(200, json.dumps(out), "application/json")
        self.reply(404, "not found", "text/plain")

    def do_POST(self):
        st = self.server.state
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        headers = {k.lower(): v for k, v in self.headers.items()}
        target = headers.get("x-amz-target", "")
        op = target[len(TARGET_PREFIX):] if target.startswith(TARGET_PREFIX) else None
        form = urllib.parse.parse_qs(body.decode()) if op is None else {}
        name = op or form.get("Action", ["?"])[0]
        entry = {"op": name}
        with st.lock:
            st.log.append(entry)
            try:
                info = check_signature(st, "POST", self.path, headers, body)
                entry.update(info)
                want = "ecs" if op else "ec2"
                if info["service"] != want:
                    raise ApiError(400, "InvalidSignatureException", f"credential scope names {info['service']}, not {want}")
                kind = st.fault_for(name)
                if kind:
                    entry["fault"] = kind
                    raise fault_error(kind, name)
                if op:
                    if headers.get("content-type") != "application/x-amz-json-1.1":
                        raise ApiError(400, "SerializationException", "wrong content type")
                    req = json.loads(body or b"{}")
                    entry["body"] = req
                    out = json.dumps(ecs_op(st, op, req))
                    entry["status"] = 200
                    return self.reply(200, out, "application/x-amz-json-1.1")
                entry["body"] = {k: v[0] for k, v in form.items()}
                out = ec2_op(st, form)
                entry["status"] = 200
                return self.reply(200, out, "text/xml;charset=UTF-8")
            except Drop:
                entry["status"] = "dropped"
                self.close_connection = True
                try:
                    self.connection.shutdown(2)
                except OSError:
                    pass
                return
            except ApiError as e:
                entry["status"] = e.status
                entry["code"] = e.code
                if e.xml or not op:
                    xml = (f"<Response><Errors><Error><Code>{e.code}</Code><Message>{e.message}</Message>"
                           f"</Error></Errors><RequestID>r-err</RequestID></Response>")
                    return self.reply(e.status, xml, "text/xml")
                if e.header_only:
                    return self.reply(e.status, json.dumps({"message": e.message}), "application/x-amz-json-1.1",
                                      [("X-Amzn-Errortype", f"{e.code}:http://internal.amazon.com/coral/com.amazon.coral.availability/")])
                return self.reply(e.status, json.dumps({"__type": f"com.amazonaws.ecs#{e.code}", "message": e.message}),
                                  "application/x-amz-json-1.1", [("X-Amzn-Errortype", e.code)])


def main():
    with open(sys.argv[1]) as f:
        sc = json.load(f)
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.state = State(sc)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    print(f"port {srv.server_address[1]}", flush=True)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    try:
        sys.stdin.read()  # until the test closes our stdin (or exits)
    finally:
        srv.shutdown()


if __name__ == "__main__":
    main()
