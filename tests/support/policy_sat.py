#!/usr/bin/env python3
"""A recording test satellite for tests/policy.rs.

usage: policy_sat.py

Listens on 127.0.0.1 (a free port), prints "listening PORT", then one JSON line
per request received, before answering it:
  {"method": "POST", "path": "/v1/traces", "content_type": "...",
   "body": "<the body as text>", "otlp_error": null | "why the body is not OTLP"}
Every body is checked with google.protobuf.json_format.Parse into
ExportTraceServiceRequest (PyPI opentelemetry-proto): run it with the test venv's
python. Answers 200 with "{}" (an OTLP success without partial rejections).
"""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)


def otlp_error(body):
    try:
        json_format.Parse(body, ExportTraceServiceRequest())
        return None
    except Exception as e:  # any parse failure is reported to the test
        return "%s: %s" % (type(e).__name__, e)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length", "0"))
        return self.rfile.read(n)

    def handle_any(self):
        body = self.read_body()
        text = body.decode("utf-8", "replace")
        rec = {
            "method": self.command,
            "path": self.path,
            "content_type": self.headers.get("Content-Type"),
            "body": text,
            "otlp_error": otlp_error(text) if self.command == "POST" else None,
        }
        sys.stdout.write(json.dumps(rec) + "\n")
        sys.stdout.flush()
        answer = b"{}"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    do_POST = handle_any
    do_GET = handle_any
    do_PUT = handle_any


def main():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    sys.stdout.write("listening %d\n" % srv.server_address[1])
    sys.stdout.flush()
    srv.serve_forever()


if __name__ == "__main__":
    main()
