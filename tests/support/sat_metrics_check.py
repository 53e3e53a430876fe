#!/usr/bin/env python3
"""Checks the sensor's metrics posts the test satellite recorded
(tests/support/sat_server.py --metrics-record) as OTLP/HTTP JSON and prints
them as plain JSON for tests/satellite.rs.

Usage: sat_metrics_check.py METRICS_RECORD_FILE

Needs PyPI opentelemetry-proto (and protobuf). Every recorded body must be
accepted by google.protobuf.json_format.Parse into an
ExportMetricsServiceRequest (unknown fields are errors). On top of that:
  - one resource and one scope per body, no attribute key twice;
  - every metric named "pcap_sensor.<field>", once per body, with a unit;
  - every metric a sum or a gauge of exactly one integer data point;
  - a sum is cumulative and monotonic, 0 < start_time <= time;
  - a gauge has a time and no start time.
Any problem: the list goes to stderr, exit 1.

Output (stdout), one JSON document:
  {"bodies": [{"seq", "path", "content_type", "answer",
               "resource": {KEY: VALUE}, "scope": {"name", "version"},
               "metrics": {FIELD: {"kind": "sum"|"gauge", "unit",
                                   "value", "start_ns", "time_ns"}}}]}
(FIELD: the name without "pcap_sensor.").
"""

import json
import sys

from google.protobuf import json_format
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality

PREFIX = "pcap_sensor."


def any_value(v):
    kind = v.WhichOneof("value")
    return None if kind is None else getattr(v, kind)


def check_body(rec, problems):
    where = "metrics post %d" % rec["seq"]
    msg = ExportMetricsServiceRequest()
    try:
        json_format.Parse(rec["body"], msg)
    except json_format.ParseError as e:
        problems.append("%s: json_format.Parse rejects the body: %s" % (where, e))
        return None
    if len(msg.resource_metrics) != 1 or len(msg.resource_metrics[0].scope_metrics) != 1:
        problems.append("%s: want one resource and one scope" % where)
        return None
    rm = msg.resource_metrics[0]
    sm = rm.scope_metrics[0]
    resource = {}
    for kv in rm.resource.attributes:
        if kv.key in resource:
            problems.append("%s: resource attribute %r twice" % (where, kv.key))
        resource[kv.key] = any_value(kv.value)
    metrics = {}
    for m in sm.metrics:
        w = "%s metric %r" % (where, m.name)
        if not m.name.startswith(PREFIX):
            problems.append("%s: not named %s<field>" % (w, PREFIX))
            continue
        field = m.name[len(PREFIX):]
        if field in metrics:
            problems.append("%s: appears twice" % w)
        if not m.unit:
            problems.append("%s: no unit" % w)
        kind = m.WhichOneof("data")
        if kind not in ("sum", "gauge"):
            problems.append("%s: a %s, not a sum or gauge" % (w, kind))
            continue
        data = getattr(m, kind)
        if len(data.data_points) != 1:
            problems.append("%s: %d data points, want 1" % (w, len(data.data_points)))
            continue
        p = data.data_points[0]
        if p.WhichOneof("value") != "as_int":
            problems.append("%s: value is not an integer" % w)
        if p.time_unix_nano == 0:
            problems.append("%s: no time" % w)
        if kind == "sum":
            if data.aggregation_temporality != AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE:
                problems.append("%s: not cumulative" % w)
            if not data.is_monotonic:
                problems.append("%s: not monotonic" % w)
            if not 0 < p.start_time_unix_nano <= p.time_unix_nano:
                problems.append("%s: start %d / time %d out of order"
                                % (w, p.start_time_unix_nano, p.time_unix_nano))
        elif p.start_time_unix_nano != 0:
            problems.append("%s: a gauge with a start time" % w)
        metrics[field] = {
            "kind": kind,
            "unit": m.unit,
            "value": p.as_int,
            "start_ns": p.start_time_unix_nano,
            "time_ns": p.time_unix_nano,
        }
    return {
        "seq": rec["seq"],
        "path": rec.get("path"),
        "content_type": rec.get("content_type"),
        "answer": rec.get("answer"),
        "resource": resource,
        "scope": {"name": sm.scope.name, "version": sm.scope.version},
        "metrics": metrics,
    }


def main():
    problems, bodies = [], []
    with open(sys.argv[1], encoding="utf-8") as f:
        for line in f:
            if line.strip():
                b = check_body(json.loads(line), problems)
                if b is not None:
                    bodies.append(b)
    if problems:
        sys.stderr.write("%d problem(s) in %s:\n" % (len(problems), sys.argv[1]))
        for p in problems[:50]:
            sys.stderr.write("  " + p + "\n")
        return 1
    json.dump({"bodies": bodies}, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
