#!/usr/bin/env python3
"""HTTP/2 clients of the tests, run through curl and h2load, each exchange recorded on the
client side as one JSON line (tests/h2_live.rs, tests/data/h2/record_peers.py). Python 3
standard library; curl and h2load from Debian (curl, nghttp2-client).

  h2_clients.py www DIR
      Writes the files nghttpd serves in the tests into DIR (deterministic bytes) and prints
      one JSON object {name: size}.

  h2_clients.py curl prior|upgrade BASE_URL REQUESTS_JSON
      REQUESTS_JSON: [{"method", "path" (with the query), "headers": [[n, v], ...],
      "body_size" | "json_body" (a text sent as application/json)}, ...]. prior: `curl --http2-prior-knowledge`, one curl (one connection)
      per request: curl 7.88 fails every request after the first on a reused
      prior-knowledge connection ("Error in the HTTP2 framing layer"). upgrade: `curl
      --http2` (an HTTP/1.1 request with Upgrade: h2c, 101, then HTTP/2), all requests in
      one curl joined by --next, so that they share the upgraded connection: the first one
      (which must be a GET without a body) is answered on stream 1, the others are streams
      3, 5, ... A request body is pattern(body_size) (as tests/support/live_server.py).

  h2_clients.py h2load [--www DIR] N C M URL...
      `h2load -n N -c C -m M URL...` (C connections, M streams in flight on each). h2load
      says how many requests ended with which status (its --log-file, one line a request)
      but not which URL each was: it takes the URLs round robin, so with N a multiple of
      C * len(URLs) every URL was requested N / len(URLs) times. Checks every request
      succeeded with 200 and prints one line per request in that shape; the response body size
      is the size of the file under DIR (nghttpd's folder), else null.

A line: {"client": "curl-prior" | "curl-upgrade" | "h2load", "method", "path",
         "authority", "status", "http_version", "request_body_size", "response_body_size",
         "local_port" (null for h2load), "connection" (curl: the curl run; h2load: null),
         "upgraded" (curl: true for the request that carried Upgrade: h2c)}
Exit status 1 (and the tool's output on stderr) when a tool fails.
"""

import json
import os
import random
import subprocess
import sys
import tempfile
from urllib.parse import urlsplit

PATTERN = b"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-\n"
DEADLINE = 60


def pattern(n):
    return (PATTERN * (n // len(PATTERN) + 1))[:n]


def www(d):
    """Small files: every stream's body fits a few DATA frames, the captures stay small."""
    rnd = random.Random(17)
    files = {
        "index.html": ("<!doctype html>\n<html><head><title>h2 testbed</title></head><body>\n"
                       + "".join("<p>Paragraph %d: the quick brown fox.</p>\n" % i
                                 for i in range(30))
                       + "</body></html>\n").encode(),
        "data.json": json.dumps([{"id": i, "name": "item-%d" % i,
                                  "price": round(rnd.random() * 100, 2)}
                                 for i in range(40)]).encode(),
        "blob.bin": bytes(rnd.getrandbits(8) for _ in range(6000)),
        "empty.txt": b"",
    }
    os.makedirs(d, exist_ok=True)
    for name, data in files.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
    return {name: len(data) for name, data in files.items()}


def run(cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=DEADLINE)
    if p.returncode != 0:
        sys.stderr.write("%s failed (%d):\n%s%s" % (cmd[0], p.returncode,
                                                    p.stdout.decode(errors="replace"),
                                                    p.stderr.decode(errors="replace")))
        sys.exit(1)
    return p.stdout.decode()


W = "%{http_version} %{response_code} %{size_upload} %{size_download} %{local_port}\\n"


def curl(mode, base, requests):
    authority = urlsplit(base).netloc
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        def one(r, i):
            args = ["--http2-prior-knowledge" if mode == "prior" else "--http2",
                    "-X", r["method"], "-w", W, "-o", os.devnull]
            for n, v in r.get("headers", []):
                args += ["-H", "%s: %s" % (n, v)]
            size = r.get("body_size", 0)
            if "json_body" in r:
                body = os.path.join(tmp, "body%d" % i)
                with open(body, "w") as f:
                    f.write(r["json_body"])
                args += ["--data-binary", "@" + body, "-H", "content-type: application/json"]
            elif size:
                body = os.path.join(tmp, "body%d" % i)
                with open(body, "wb") as f:
                    f.write(pattern(size))
                args += ["--data-binary", "@" + body,
                         "-H", "content-type: application/octet-stream"]
            return args + [base + r["path"]]

        base_args = ["curl", "-sS", "--noproxy", "*", "--max-time", "30"]
        if mode == "prior":
            runs = [[one(r, i)] for i, r in enumerate(requests)]
        else:
            runs = [[one(r, i) for i, r in enumerate(requests)]]
        for k, group in enumerate(runs):
            cmd = list(base_args)
            for j, args in enumerate(group):
                cmd += (["--next"] if j else []) + args
            lines = run(cmd).splitlines()
            if len(lines) != len(group):
                sys.stderr.write("curl printed %r for %d requests\n" % (lines, len(group)))
                sys.exit(1)
            for line, r in zip(lines, requests[len(out):]):
                version, status, up, down, port = line.split()
                if version != "2":
                    sys.stderr.write("curl did not use HTTP/2 for %s: %s\n" % (r["path"], line))
                    sys.exit(1)
                out.append({"client": "curl-" + mode, "method": r["method"], "path": r["path"],
                            "authority": authority, "status": int(status),
                            "http_version": version, "request_body_size": int(up),
                            "response_body_size": int(down), "local_port": int(port),
                            "connection": k,
                            "upgraded": mode == "upgrade" and len(out) == 0})
    return out


def h2load(n, c, m, urls, www_dir):
    if n % (c * len(urls)):
        sys.stderr.write("N must be a multiple of C * len(URLs)\n")
        sys.exit(2)
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "log")
        text = run(["h2load", "-n", str(n), "-c", str(c), "-m", str(m), "--log-file", log]
                   + urls)
        with open(log) as f:
            statuses = [int(line.split("\t")[1]) for line in f if line.strip()]
    summary = [line for line in text.splitlines() if line.startswith("requests:")]
    want = "requests: %d total, %d started, %d done, %d succeeded, 0 failed" % (n, n, n, n)
    if not summary or not summary[0].startswith(want) or statuses != [200] * n:
        sys.stderr.write("h2load did not get %d times 200:\n%s\nlog statuses %r\n"
                         % (n, text, statuses))
        sys.exit(1)
    out = []
    for url in urls:
        u = urlsplit(url)
        size = os.path.getsize(www_dir + u.path) if www_dir else None
        for _ in range(n // len(urls)):
            out.append({"client": "h2load", "method": "GET",
                        "path": u.path + ("?" + u.query if u.query else ""),
                        "authority": u.netloc, "status": 200, "http_version": "2",
                        "request_body_size": 0, "response_body_size": size,
                        "local_port": None, "connection": None})
    return out


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "www" and len(sys.argv) == 3:
        print(json.dumps(www(sys.argv[2])))
    elif cmd == "curl" and len(sys.argv) == 5 and sys.argv[2] in ("prior", "upgrade"):
        for rec in curl(sys.argv[2], sys.argv[3], json.loads(sys.argv[4])):
            print(json.dumps(rec))
    elif cmd == "h2load" and len(sys.argv) >= 6:
        rest = sys.argv[2:]
        www_dir = None
        if rest[0] == "--www":
            www_dir, rest = rest[1], rest[2:]
        n, c, m = (int(a) for a in rest[:3])
        for rec in h2load(n, c, m, rest[3:], www_dir):
            print(json.dumps(rec))
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
