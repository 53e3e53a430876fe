#!/usr/bin/env python3
"""Checks what the test satellite recorded (tests/support/sat_server.py) as
OTLP/HTTP JSON and prints it as plain JSON for tests/satellite.rs.

Usage: sat_otlp_check.py RECORD_FILE

Needs PyPI opentelemetry-proto (and protobuf). Every recorded body must be
accepted by google.protobuf.json_format.Parse into an
ExportTraceServiceRequest (unknown fields are errors). On top of that:
  - traceId is 32 hex digits, spanId 16, parentSpanId absent/empty or 16
    (OTLP's JSON encoding writes ids as hex, which the generic protobuf
    JSON mapping would read as base64, so they are checked on the raw JSON);
    no id is all zeros;
  - 0 < startTimeUnixNano <= endTimeUnixNano;
  - no attribute key appears twice in one attribute list.
Any problem: the list goes to stderr, exit 1.

Output (stdout), one JSON document:
  {"posts": [{"seq", "method", "path", "content_type", "content_encoding",
              "answer", "peer_port", "spans"}],
   "spans": [{"post": SEQ, "answer": 200, "resource": {KEY: VALUE},
              "scope": {"name", "version"}, "trace_id", "span_id",
              "parent_span_id", "name", "kind", "start_ns", "end_ns",
              "status_code", "status_message", "attributes": {KEY: VALUE}}]}
VALUE: string, int, bool, float, list of VALUE (arrayValue), object
(kvlistValue), or null for an empty AnyValue.
"""

import base64
import json
import re
import sys

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)

HEX32 = re.compile(r"^[0-9a-fA-F]{32}$")
HEX16 = re.compile(r"^[0-9a-fA-F]{16}$")


def any_value(v):
    kind = v.WhichOneof("value")
    if kind is None:
        return None
    if kind == "string_value":
        return v.string_value
    if kind == "int_value":
        return v.int_value
    if kind == "bool_value":
        return v.bool_value
    if kind == "double_value":
        return v.double_value
    if kind == "bytes_value":
        return base64.b64encode(v.bytes_value).decode()
    if kind == "array_value":
        return [any_value(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return attrs(v.kvlist_value.values, [], "kvlist")
    raise ValueError("unknown AnyValue kind %r" % kind)


def attrs(kvs, problems, where):
    out = {}
    for kv in kvs:
        if kv.key in out:
            problems.append("%s: attribute %r appears twice" % (where, kv.key))
        out[kv.key] = any_value(kv.value)
    return out


def raw_field(obj, camel, snake):
    if camel in obj:
        return obj[camel]
    return obj.get(snake)


def check_id(value, pattern, what, problems, optional=False):
    if value in (None, "") and optional:
        return ""
    if not isinstance(value, str) or not pattern.match(value):
        problems.append("%s is not hex of the right length: %r" % (what, value))
        return value
    if set(value) == {"0"}:
        problems.append("%s is all zeros" % what)
    return value.lower()


def main():
    record_file = sys.argv[1]
    posts, spans, problems = [], [], []
    with open(record_file, encoding="utf-8") as f:
        records = [json.loads(line) for line in f if line.strip()]
    for rec in records:
        seq = rec["seq"]
        post = {k: rec.get(k) for k in
                ("seq", "method", "path", "content_type", "content_encoding", "answer",
                 "peer_port")}
        post["spans"] = 0
        posts.append(post)
        where = "post %d" % seq
        body = rec.get("body")
        if body is None:
            problems.append("%s: body is not UTF-8" % where)
            continue
        msg = ExportTraceServiceRequest()
        try:
            json_format.Parse(body, msg)
        except json_format.ParseError as e:
            problems.append("%s: json_format.Parse rejects the body: %s" % (where, e))
            continue
        raw = json.loads(body)
        raw_rs = raw_field(raw, "resourceSpans", "resource_spans") or []
        for i, rs in enumerate(msg.resource_spans):
            resource = attrs(rs.resource.attributes, problems, "%s resource %d" % (where, i))
            raw_ss = raw_field(raw_rs[i], "scopeSpans", "scope_spans") or []
            for j, ss in enumerate(rs.scope_spans):
                scope = {"name": ss.scope.name, "version": ss.scope.version}
                raw_spans = raw_ss[j].get("spans") or []
                for k, sp in enumerate(ss.spans):
                    w = "%s span %d.%d.%d (%s)" % (where, i, j, k, sp.name)
                    rsp = raw_spans[k]
                    trace_id = check_id(raw_field(rsp, "traceId", "trace_id"), HEX32,
                                        w + " traceId", problems)
                    span_id = check_id(raw_field(rsp, "spanId", "span_id"), HEX16,
                                       w + " spanId", problems)
                    parent = check_id(raw_field(rsp, "parentSpanId", "parent_span_id"), HEX16,
                                      w + " parentSpanId", problems, optional=True)
                    start, end = sp.start_time_unix_nano, sp.end_time_unix_nano
                    if not 0 < start <= end:
                        problems.append("%s: start %d / end %d out of order" % (w, start, end))
                    spans.append({
                        "post": seq,
                        "answer": rec.get("answer"),
                        "resource": resource,
                        "scope": scope,
                        "trace_id": trace_id,
                        "span_id": span_id,
                        "parent_span_id": parent,
                        "name": sp.name,
                        "kind": sp.kind,
                        "start_ns": start,
                        "end_ns": end,
                        "status_code": sp.status.code,
                        "status_message": sp.status.message,
                        "attributes": attrs(sp.attributes, problems, w),
                    })
                    post["spans"] += 1
    if problems:
        sys.stderr.write("%d problem(s) in %s:\n" % (len(problems), record_file))
        for p in problems[:50]:
            sys.stderr.write("  " + p + "\n")
        return 1
    json.dump({"posts": posts, "spans": spans}, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
