#!/usr/bin/env python3
"""ECS task metadata endpoint v4 fixture for tests/policy.rs.

usage: policy_ecs.py MODE ID

Listens on 127.0.0.1 (a free port), prints "listening PORT", then one line
"GET PATH" per request received (before answering it). The sensor is given
ECS_CONTAINER_METADATA_URI_V4=http://127.0.0.1:PORT/v4/ID and reads ${that}/task.

MODE:
  fargate   /task as a Fargate task of a service returns it (Revision a string,
            Limits.CPU 0.25, ServiceName, DockerId <32 hex>-<10 digits>, ...)
  ec2       a standalone task on EC2 (no ServiceName, LaunchType EC2), eu-central-1
  error500  every request answers 500 with a text body
The responses follow the shape AWS documents for v4, with a few fields no
client knows about (AWS adds fields over time).
"""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TASK_ID = "e9028f8d5d8e4f258373e7b93ce9a3c3"
ACCOUNT = "111122223333"


def fargate_task():
    region = "us-west-2"
    cluster = "arn:aws:ecs:%s:%s:cluster/prod-cluster" % (region, ACCOUNT)
    task_arn = "arn:aws:ecs:%s:%s:task/prod-cluster/%s" % (region, ACCOUNT, TASK_ID)

    def container(name, image, index, ip):
        return {
            "DockerId": "%s-%d" % (TASK_ID, 2495160603 + index),
            "Name": name,
            "DockerName": name,
            "Image": image,
            "ImageID": "sha256:" + ("%02x" % (index + 7)) * 32,
            "Labels": {
                "com.amazonaws.ecs.cluster": cluster,
                "com.amazonaws.ecs.container-name": name,
                "com.amazonaws.ecs.task-arn": task_arn,
                "com.amazonaws.ecs.task-definition-family": "orders-api",
                "com.amazonaws.ecs.task-definition-version": "7",
            },
            "DesiredStatus": "RUNNING",
            "KnownStatus": "RUNNING",
            "Limits": {"CPU": 0, "Memory": 0} if index else {"CPU": 0.125, "Memory": 384},
            "CreatedAt": "2024-05-01T11:58:02.125439182Z",
            "StartedAt": "2024-05-01T11:58:03.001921536Z",
            "Type": "NORMAL",
            "LogDriver": "awslogs",
            "LogOptions": {
                "awslogs-create-group": "true",
                "awslogs-group": "/ecs/orders-api",
                "awslogs-region": region,
                "awslogs-stream": "ecs/%s/%s" % (name, TASK_ID),
            },
            "ContainerARN": "arn:aws:ecs:%s:%s:container/prod-cluster/%s/%s"
            % (region, ACCOUNT, TASK_ID, "0b6f1d1e-4c1a-4a57-9d0c-5c%010d" % index),
            "Networks": [
                {
                    "NetworkMode": "awsvpc",
                    "IPv4Addresses": [ip],
                    "AttachmentIndex": 0,
                    "MACAddress": "0a:de:f6:10:51:e5",
                    "IPv4SubnetCIDRBlock": "172.31.0.0/20",
                    "DomainNameServers": ["172.31.0.2"],
                    "DomainNameSearchList": ["%s.compute.internal" % region],
                    "PrivateDNSName": "ip-%s.%s.compute.internal" % (ip.replace(".", "-"), region),
                    "SubnetGatewayIpv4Address": "172.31.0.1/20",
                }
            ],
            "Snapshotter": "overlayfs",
            "RestartCount": 0,
        }

    return {
        "Cluster": cluster,
        "TaskARN": task_arn,
        "Family": "orders-api",
        "Revision": "7",
        "ServiceName": "orders-api-svc",
        "DesiredStatus": "RUNNING",
        "KnownStatus": "RUNNING",
        "Limits": {"CPU": 0.25, "Memory": 512},
        "PullStartedAt": "2024-05-01T11:57:41.532811081Z",
        "PullStoppedAt": "2024-05-01T11:58:01.941068435Z",
        "AvailabilityZone": "us-west-2d",
        "LaunchType": "FARGATE",
        "Containers": [
            container("orders-api", "%s.dkr.ecr.us-west-2.amazonaws.com/orders-api:1.4.2" % ACCOUNT, 0,
                      "172.31.10.52"),
            container("levo-pcap-sensor", "levoai/pcap-sensor:0.1.9", 1, "172.31.10.52"),
        ],
        "ClockDrift": {
            "ClockErrorBound": 0.4461,
            "ReferenceTimestamp": "2024-05-01T11:59:50Z",
            "ClockSynchronizationStatus": "SYNCHRONIZED",
        },
        "EphemeralStorageMetrics": {"Utilized": 261, "Reserved": 20496},
        "VPCID": "vpc-0123456789abcdef0",
        "FaultInjectionEnabled": False,
        "FutureThing": {"nested": [1, 2.5, None, {"x": "y"}]},
    }


def ec2_task():
    region = "eu-central-1"
    cluster = "arn:aws:ecs:%s:%s:cluster/batch" % (region, ACCOUNT)
    task_arn = "arn:aws:ecs:%s:%s:task/batch/%s" % (region, ACCOUNT, TASK_ID)
    return {
        "Cluster": cluster,
        "TaskARN": task_arn,
        "Family": "nightly-report",
        "Revision": "12",
        "DesiredStatus": "RUNNING",
        "KnownStatus": "RUNNING",
        "Limits": {"CPU": 1, "Memory": 2048},
        "PullStartedAt": "2024-05-01T02:00:01.1Z",
        "PullStoppedAt": "2024-05-01T02:00:02.2Z",
        "AvailabilityZone": "eu-central-1a",
        "LaunchType": "EC2",
        "Containers": [
            {
                "DockerId": "9f2c1d0e8b7a6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d",
                "Name": "report",
                "DockerName": "ecs-nightly-report-12-report-a4b2c0d1e2f3",
                "Image": "%s.dkr.ecr.%s.amazonaws.com/report:latest" % (ACCOUNT, region),
                "Labels": {"com.amazonaws.ecs.task-definition-family": "nightly-report"},
                "Limits": {"CPU": 1024, "Memory": 2048},
                "Type": "NORMAL",
                "Networks": [{"NetworkMode": "bridge", "IPv4Addresses": ["172.17.0.3"]}],
            }
        ],
        "TaskTags": {"team": "reports"},
        "SomethingNew": True,
    }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    mode = "fargate"
    base = "/v4/x"

    def log_message(self, fmt, *args):
        pass

    def answer(self, status, ctype, body):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        sys.stdout.write("GET %s\n" % self.path)
        sys.stdout.flush()
        if self.mode == "error500":
            return self.answer(500, "text/plain", b"internal error\n")
        if self.path == self.base + "/task":
            task = fargate_task() if self.mode == "fargate" else ec2_task()
            body = json.dumps(task, indent=2).encode()
            return self.answer(200, "application/json", body)
        if self.path == self.base:
            task = fargate_task() if self.mode == "fargate" else ec2_task()
            return self.answer(200, "application/json", json.dumps(task["Containers"][-1]).encode())
        return self.answer(404, "text/plain", b"404 page not found\n")


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("fargate", "ec2", "error500"):
        raise SystemExit("usage: policy_ecs.py fargate|ec2|error500 ID")
    Handler.mode = sys.argv[1]
    Handler.base = "/v4/" + sys.argv[2]
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    sys.stdout.write("listening %d\n" % srv.server_address[1])
    sys.stdout.flush()
    srv.serve_forever()


if __name__ == "__main__":
    main()
