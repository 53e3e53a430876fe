#!/usr/bin/env python3
"""Raw-socket HTTP clients for the live capture tests (tests/live.rs).

  live_client.py pipeline HOST PORT REQUESTS_JSON
      REQUESTS_JSON: [{"method": "GET", "target": "/x", "body": "..."}, ...]
      Writes every request in ONE send() on one connection, then reads one
      response per request (Content-Length framed). Prints one JSON line:
      {"local_port": N, "sent_in_one_send": true,
       "responses": [{"status": 200, "body": "..."}, ...]}

  live_client.py flood HOST PORT N
      Opens N connections one after another; on each sends the start of a
      request (no blank line, so it never completes) and keeps it open.
      Prints "ready N" once all are open, then waits until stdin reaches
      EOF (or a line arrives, or 120 s pass), resets every connection
      (SO_LINGER 0: one RST each, so the server sends nothing more on them)
      and prints "closed".
"""

import json
import select
import socket
import struct
import sys
import time

HARD_LIMIT_S = 120


def read_response(f):
    status_line = f.readline()
    if not status_line:
        raise ConnectionError("connection closed before a response")
    version, status, *_ = status_line.decode("latin-1").split(" ", 2)
    headers = {}
    while True:
        line = f.readline()
        if line in (b"\r\n", b"\n"):
            break
        if not line:
            raise ConnectionError("connection closed in the headers")
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    n = int(headers.get("content-length", "0"))
    body = f.read(n)
    return {"version": version, "status": int(status), "body": body.decode("latin-1")}


def pipeline(host, port, requests):
    wire = b""
    for r in requests:
        body = r.get("body", "").encode()
        wire += ("%s %s HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: live-client\r\n" % (
            r["method"], r["target"], host, port)).encode()
        if body or r["method"] in ("POST", "PUT"):
            wire += b"Content-Length: %d\r\n" % len(body)
        wire += b"\r\n" + body
    s = socket.create_connection((host, port), timeout=30)
    sent = s.send(wire)  # one send() for all the requests
    if sent != len(wire):
        raise RuntimeError("send() took %d of %d bytes" % (sent, len(wire)))
    f = s.makefile("rb")
    responses = [read_response(f) for _ in requests]
    out = {"local_port": s.getsockname()[1], "sent_in_one_send": True, "responses": responses}
    s.close()
    print(json.dumps(out), flush=True)


def flood(host, port, n):
    socks = []
    for i in range(n):
        s = socket.create_connection((host, port), timeout=30)
        s.sendall(b"GET /partial/%d HTTP/1.1\r\nHost: %s\r\nX-Partial: never-ends" % (i, host.encode()))
        socks.append(s)
    print("ready %d" % len(socks), flush=True)
    deadline = time.monotonic() + HARD_LIMIT_S
    while time.monotonic() < deadline:
        r, _, _ = select.select([sys.stdin], [], [], max(0.0, deadline - time.monotonic()))
        if r:
            break
    for s in socks:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    print("closed", flush=True)


def main():
    mode = sys.argv[1]
    host, port = sys.argv[2], int(sys.argv[3])
    if mode == "pipeline":
        pipeline(host, port, json.loads(sys.argv[4]))
    elif mode == "flood":
        flood(host, port, int(sys.argv[4]))
    else:
        raise SystemExit("unknown mode %r" % mode)


if __name__ == "__main__":
    main()
