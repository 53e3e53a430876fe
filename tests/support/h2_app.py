#!/usr/bin/env python3
"""HTTP/2 cleartext test server: a small ASGI app served by hypercorn (tests/h2_live.rs,
tests/data/h2/record_peers.py). Run it with the venv python that has PyPI hypercorn
(./build.sh test creates .cache/venv-h2 and names it in PCAP_SENSOR_H2_PY).

Usage: h2_app.py [--bind ADDR]

Binds ADDR (default 127.0.0.1) on a free port, listens, prints "listening PORT" on stdout,
then serves until killed: HTTP/2 with prior knowledge, HTTP/1.1, and HTTP/1.1 upgraded with
`Upgrade: h2c` (the upgraded request is answered on stream 1).

After each response it prints one JSON line on stdout, what the server really saw and sent:
  {"event": "request", "http_version": "2" | "1.1", "method", "path", "query",
   "headers": [[name, value], ...] (the request's, as the app got them: no pseudo-headers),
   "body_size", "status", "response_headers": [[name, value], ...] (the app's own; hypercorn
   adds date and server), "response_body_size", "trailers": [[name, value], ...],
   "client_port"}

Bodies are built from PATTERN (as tests/support/live_server.py): pattern(n) is PATTERN
repeated and cut to n bytes.

Endpoints:
  GET  /hello            200 text/plain "hello over HTTP/<version>\\n"
  GET  /bytes/N          200 application/octet-stream, content-length N, body pattern(N)
  POST /echo             200, the request body back, with the request's content-type
                         (application/octet-stream when it has none)
  GET  /status/N         status N, body "status N\\n" (none for 204 and 304)
  GET  /trailers         200 "body before trailers\\n", then trailers x-checksum and x-rows
                         when the request has "te: trailers" (HTTP/2 only)
  anything else          404 "not found\\n"
Every response has "x-app: h2-testbed".
"""

import argparse
import asyncio
import json
import socket
import sys

from hypercorn.asyncio import serve
from hypercorn.config import Config

PATTERN = b"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-\n"
assert len(PATTERN) == 64

TRAILERS = [(b"x-checksum", b"sha256-4f2a91"), (b"x-rows", b"3")]


def pattern(n):
    return (PATTERN * (n // len(PATTERN) + 1))[:n]


def text(pairs):
    return [[n.decode("latin-1"), v.decode("latin-1")] for n, v in pairs]


def route(method, path, headers, body, http_version):
    """(status, headers, body, trailers) for a request."""
    own = [(b"x-app", b"h2-testbed")]
    if path == "/hello" and method == "GET":
        return 200, own + [(b"content-type", b"text/plain")], \
            b"hello over HTTP/%s\n" % http_version.encode(), []
    if path.startswith("/bytes/") and method == "GET" and path[7:].isdigit():
        n = int(path[7:])
        return 200, own + [(b"content-type", b"application/octet-stream"),
                           (b"content-length", str(n).encode())], pattern(n), []
    if path == "/echo" and method == "POST":
        ct = dict(headers).get(b"content-type", b"application/octet-stream")
        return 200, own + [(b"content-type", ct)], body, []
    if path.startswith("/status/") and path[8:].isdigit():
        n = int(path[8:])
        out = b"" if n in (204, 304) else b"status %d\n" % n
        return n, own + [(b"content-type", b"text/plain")], out, []
    if path == "/trailers" and method == "GET":
        wants = http_version == "2" and (b"te", b"trailers") in headers
        return 200, own + [(b"content-type", b"text/plain")], b"body before trailers\n", \
            (TRAILERS if wants else [])
    return 404, own + [(b"content-type", b"text/plain")], b"not found\n", []


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        body += message.get("body", b"")
        if not message.get("more_body", False):
            break
    method = scope["method"]
    path = scope["path"]
    headers = list(scope["headers"])
    status, out_headers, out, trailers = route(method, path, headers, body,
                                               scope["http_version"])
    await send({"type": "http.response.start", "status": status, "headers": out_headers,
                "trailers": bool(trailers)})
    await send({"type": "http.response.body", "body": out, "more_body": False})
    if trailers:
        await send({"type": "http.response.trailers", "headers": trailers,
                    "more_trailers": False})
    client = scope.get("client") or (None, None)
    print(json.dumps({
        "event": "request",
        "http_version": scope["http_version"],
        "method": method,
        "path": path,
        "query": scope["query_string"].decode("latin-1"),
        "headers": text(headers),
        "body_size": len(body),
        "status": status,
        "response_headers": text(out_headers),
        "response_body_size": len(out),
        "trailers": text(trailers),
        "client_port": client[1],
    }), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bind", default="127.0.0.1")
    args = ap.parse_args()
    sock = socket.socket(socket.AF_INET6 if ":" in args.bind else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.bind, 0))
    # Listening before the port is announced: a client that connects at once waits in the
    # backlog until hypercorn accepts.
    sock.listen(128)
    config = Config()
    config.bind = ["fd://%d" % sock.fileno()]
    config.accesslog = None
    config.errorlog = "-"
    config.loglevel = "WARNING"
    print("listening %d" % sock.getsockname()[1], flush=True)
    asyncio.run(serve(app, config))


if __name__ == "__main__":
    sys.exit(main())
