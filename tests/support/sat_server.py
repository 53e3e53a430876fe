#!/usr/bin/env python3
"""A test satellite for tests/satellite.rs: records what the sensor POSTs.

Usage: sat_server.py --record FILE [--bind ADDR] [--port PORT]
                     [--mode ok|fail500|hang|429|400] [--fail-count K]
                     [--down] [--tls-cert PEM --tls-key PEM] [--record-keys A,B,...]
                     [--metrics-record FILE2] [--metrics-answer CODE]

Binds (port 0 = any free port) and prints "listening PORT" on stdout.

Every request is recorded, in arrival order, as one JSON line appended to
FILE (written and flushed before it is answered; "down" never comes between
the two):
  {"seq": 1, "method": "POST", "path": "/v1/traces",
   "content_type": "application/json", "content_encoding": null,
   "answer": 200 | "hang", "peer_port": 40000 (the client's port: one per
   connection), "body": "<the body, decoded from UTF-8>"}
(a body that is not UTF-8 is recorded as "body_base64" instead of "body";
a gzip or deflate Content-Encoding is undone before recording).
--record-keys A,B: instead of the body, "keys": one list per span of the
values of its attributes A, B (null when absent; "span.F" is the span's own
field F, e.g. span.startTimeUnixNano), in body order: compact enough for a
soak test's hundreds of megabytes of spans. Then one
event line goes to stdout:
  post SEQ ANSWER SPANS      (SPANS: spans in the body, -1 if it is not
                              OTLP-shaped JSON; ANSWER: status or "hang")

GET /health answers 200 "ok" and is not recorded (for checking the TLS set-up
with curl).

POST .../v1/metrics (the sensor's own metrics) is recorded apart, so that
FILE holds the traces alone: one JSON line per post appended to FILE2
(--metrics-record; without it they are not recorded), with its own "seq"
from 1 and the same keys as above (always the body), and the event line
  metrics SEQ ANSWER
It is answered --metrics-answer (a status, default 200, whatever the mode:
the modes are about traces; an empty JSON object for 200), or "hang": read,
recorded and never answered, as mode hang does.

Modes (the answer to POST /v1/traces; any other request gets 404):
  ok       200 with an empty JSON object (ExportTraceServiceResponse)
  fail500  500 every time
  hang     reads the request, then never answers and keeps the connection
           open until the server exits
  429      429 (Retry-After: 1) to the first K posts (--fail-count), then 200
  400      400 with a body that starts "test-satellite-rejects-this-batch"

--down: bind the port but do not listen, so connections are refused (the
port stays reserved); the line "up" on stdin starts listening, and prints
"up" on stdout once it does.
The line "down" on stdin stops a listening satellite as a redeploy would:
the listening socket is closed (the port stays reserved by a socket bound
and not listening, so connections are refused), every open connection is
shut down, and "down" is printed once that is done; "up" listens again. A
request read whole just before the down but not yet recorded is not
recorded at all (it could not be answered: recording it would say the
sensor delivered what it had to send again).
Other stdin lines: "mode NAME" switches the mode (prints "mode NAME").
When stdin reaches EOF the server exits: it never outlives the test.

--tls-cert/--tls-key: serve HTTPS; the handshake happens in the connection's
thread, a failed handshake is printed as "tls-error REASON" on stdout.
"""

import argparse
import base64
import json
import os
import socket
import ssl
import sys
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STATE = {"mode": "ok", "fail_count": 0, "seq": 0, "record": None, "keys": None,
         "mseq": 0, "metrics_record": None, "metrics_answer": 200}
LOCK = threading.Lock()
OUT_LOCK = threading.Lock()
NEVER = threading.Event()
# The connections being served (closed by "down").
CONNS = set()
# The peers of the connections "down" shut, until "up": a request read
# from one before the shut but not yet recorded is not recorded (its answer
# could not be sent).
SHUT = set()


def say(line):
    with OUT_LOCK:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def spans_of(body):
    """The spans of an OTLP/HTTP JSON body, None if it is not OTLP-shaped."""
    try:
        doc = json.loads(body)
        out = []
        for rs in doc["resourceSpans"]:
            for ss in rs.get("scopeSpans", []):
                out.extend(ss.get("spans", []))
        return out
    except Exception:  # anything that is not OTLP-shaped JSON
        return None


def count_spans(body):
    spans = spans_of(body)
    return -1 if spans is None else len(spans)


def attr_value(v):
    for k in ("stringValue", "intValue", "boolValue", "doubleValue"):
        if k in v:
            return v[k]
    return None


def span_keys(spans, keys):
    out = []
    for sp in spans:
        attrs = {a.get("key"): attr_value(a.get("value", {})) for a in sp.get("attributes", [])}
        out.append([sp.get(k[5:]) if k.startswith("span.") else attrs.get(k) for k in keys])
    return out


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "test-satellite/1"
    sys_version = ""

    def version_string(self):
        return self.server_version

    def log_message(self, fmt, *args):
        pass

    def read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n)

    def answer(self, status, body, ctype="application/json", extra=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def handle_any(self):
        raw = self.read_body()
        if self.command == "GET" and self.path == "/health":
            self.answer(200, b"ok", "text/plain")  # not recorded
            return
        enc = (self.headers.get("Content-Encoding") or "").lower() or None
        if enc == "gzip":
            raw = zlib.decompress(raw, 16 + zlib.MAX_WBITS)
        elif enc == "deflate":
            raw = zlib.decompress(raw)
        is_traces = self.command == "POST" and self.path.endswith("/v1/traces")
        if self.command == "POST" and self.path.endswith("/v1/metrics"):
            self.metrics(raw, enc)
            return
        with LOCK:
            if self.client_address in SHUT:
                return  # "down" came between reading it and this
            STATE["seq"] += 1
            seq = STATE["seq"]
            mode = STATE["mode"]
            if not is_traces:
                ans = 404
            elif mode == "ok":
                ans = 200
            elif mode == "fail500":
                ans = 500
            elif mode == "hang":
                ans = "hang"
            elif mode == "429":
                ans = 429 if seq <= STATE["fail_count"] else 200
            elif mode == "400":
                ans = 400
            else:
                raise ValueError("unknown mode %r" % mode)
            rec = {
                "seq": seq,
                "method": self.command,
                "path": self.path,
                "content_type": self.headers.get("Content-Type"),
                "content_encoding": enc,
                "answer": ans,
                "peer_port": self.client_address[1],
            }
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = None
            parsed = spans_of(text) if text is not None else None
            if STATE["keys"] is not None:
                rec["keys"] = None if parsed is None else span_keys(parsed, STATE["keys"])
            elif text is not None:
                rec["body"] = text
            else:
                rec["body_base64"] = base64.b64encode(raw).decode()
            STATE["record"].write(json.dumps(rec) + "\n")
            STATE["record"].flush()
            spans = -1 if parsed is None else len(parsed)
            say("post %d %s %d" % (seq, ans, spans))
            if ans != "hang":
                # Answered under the lock: "down" never falls between the
                # record of a batch and its answer.
                self.send_answer(ans)
                return
        NEVER.wait()

    def metrics(self, raw, enc):
        with LOCK:
            if self.client_address in SHUT:
                return
            STATE["mseq"] += 1
            ans = STATE["metrics_answer"]
            rec = {
                "seq": STATE["mseq"],
                "method": self.command,
                "path": self.path,
                "content_type": self.headers.get("Content-Type"),
                "content_encoding": enc,
                "answer": ans,
                "peer_port": self.client_address[1],
                "body": raw.decode("utf-8", errors="replace"),
            }
            if STATE["metrics_record"] is not None:
                STATE["metrics_record"].write(json.dumps(rec) + "\n")
                STATE["metrics_record"].flush()
            say("metrics %d %s" % (STATE["mseq"], ans))
            if ans != "hang":
                self.send_answer(ans)
                return
        NEVER.wait()

    def send_answer(self, ans):
        if ans == 200:
            self.answer(200, b"{}")
        elif ans == 429:
            self.answer(429, b'{"error":"slow down"}', extra=[("Retry-After", "1")])
        elif ans == 400:
            self.answer(400, b"test-satellite-rejects-this-batch: bad spans", "text/plain")
        elif ans == 500:
            self.answer(500, b"test-satellite-internal-error", "text/plain")
        elif ans == 404:
            self.answer(404, b"no such endpoint", "text/plain")
        else:
            self.answer(ans, b"test-satellite-answers-%d" % ans, "text/plain")

    do_POST = handle_any
    do_PUT = handle_any
    do_GET = handle_any


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = False
    request_queue_size = 128
    tls = None

    def handle_error(self, request, client_address):
        # A connection "down" shut, or that the client closed: expected.
        if isinstance(sys.exc_info()[1], (ConnectionError, OSError)):
            return
        super().handle_error(request, client_address)

    def process_request_thread(self, request, client_address):
        # So that "down" can bind the port again while this connection is
        # still closing (a bind conflicts with any socket on the port that
        # lacks SO_REUSEADDR).
        request.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        with LOCK:
            CONNS.add(request)
        try:
            super().process_request_thread(request, client_address)
        finally:
            with LOCK:
                CONNS.discard(request)

    def finish_request(self, request, client_address):
        # Runs in the connection's own thread: a client that never finishes
        # the handshake blocks nothing else.
        if self.tls is not None:
            try:
                request.settimeout(10)
                request = self.tls.wrap_socket(request, server_side=True)
                request.settimeout(None)
            except (ssl.SSLError, OSError) as e:
                say("tls-error %s" % str(e).replace("\n", " "))
                return
        self.RequestHandlerClass(request, client_address, self)


def reserve(srv, addr):
    """A socket bound to the satellite's address and not listening: it keeps
    the port while connections to it are refused."""
    s = socket.socket(srv.address_family, srv.socket_type)
    # The old listener's connections may linger in TIME_WAIT on this port.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(addr)
    return s


def control(srv, down):
    listening = not down
    addr = srv.server_address
    for line in sys.stdin:
        words = line.split()
        if words == ["up"] and not listening:
            with LOCK:
                SHUT.clear()
            srv.server_activate()
            listening = True
            threading.Thread(target=srv.serve_forever, daemon=True).start()
            say("up")
        elif words == ["down"] and listening:
            srv.shutdown()  # the serve_forever loop has returned
            srv.socket.close()
            srv.socket = reserve(srv, addr)
            # Under the lock: no request is between its record and its answer.
            with LOCK:
                for c in list(CONNS):
                    try:
                        SHUT.add(c.getpeername())
                        c.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
            listening = False
            say("down")
        elif len(words) == 2 and words[0] == "mode":
            with LOCK:
                STATE["mode"] = words[1]
            say("mode %s" % words[1])
    os._exit(0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--record", required=True)
    ap.add_argument("--mode", default="ok", choices=["ok", "fail500", "hang", "429", "400"])
    ap.add_argument("--fail-count", type=int, default=2)
    ap.add_argument("--down", action="store_true")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--record-keys")
    ap.add_argument("--metrics-record")
    ap.add_argument("--metrics-answer", default="200")
    args = ap.parse_args()
    ma = args.metrics_answer
    STATE["metrics_answer"] = ma if ma == "hang" else int(ma)
    if args.metrics_record:
        STATE["metrics_record"] = open(args.metrics_record, "a", encoding="utf-8")
    if args.record_keys:
        STATE["keys"] = args.record_keys.split(",")
    STATE["mode"] = args.mode
    STATE["fail_count"] = args.fail_count
    STATE["record"] = open(args.record, "a", encoding="utf-8")
    srv = Server((args.bind, args.port), Handler, bind_and_activate=False)
    srv.server_bind()
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        srv.tls = ctx
    if not args.down:
        srv.server_activate()
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    say("listening %d" % srv.server_address[1])
    control(srv, args.down)


if __name__ == "__main__":
    sys.exit(main())
