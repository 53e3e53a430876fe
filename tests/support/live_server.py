#!/usr/bin/env python3
"""HTTP/1.1 test server for the live capture tests (tests/live.rs).

Usage: live_server.py [--bind ADDR] [--port PORT]

Binds (port 0 = any free port), prints "listening PORT" on stdout and serves
until killed. Keep-alive is on (HTTP/1.1); every response carries a
Content-Length or is chunked, so one connection can carry many exchanges.

Bodies are built from PATTERN so the tests can predict every byte:
pattern(n) is PATTERN repeated and cut to n bytes (offset 0).

Endpoints (any method unless said otherwise):
  GET  /bytes/N           200, Content-Length N, body pattern(N)
  GET  /binary/N          200, application/octet-stream, body bytes (i % 256)
  GET  /text/WORD         200, body "this is WORD"
  POST /text/WORD         200, body "this is WORD, received N bytes"
  GET  /chunked?sizes=a,b chunked by hand: one chunk per size (the first with a
                          chunk extension), then a trailer; body pattern(sum)
  GET  /stream?seconds=S&total=T
                          chunked, 64 KiB chunks, paced so that T bytes take
                          about S seconds, then the last chunk
  HEAD/GET /head          200, Content-Length 1234 (HEAD: no body)
  GET  /status/204        204, no body
  GET  /status/304        304 with ETag, no body
  POST|PUT anything else  reads the body (Content-Length or chunked; the
                          server answers "Expect: 100-continue" with an
                          interim 100 itself), 200 "received N bytes"
Every response has "X-Server: live-server"; when the request has an
X-Test-Req header its value comes back as "X-Echo: VALUE".
"""

import argparse
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

PATTERN = b"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-\n"
assert len(PATTERN) == 64


def pattern(n):
    reps = n // len(PATTERN) + 1
    return (PATTERN * reps)[:n]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "live-server/1"
    sys_version = ""

    def version_string(self):
        return self.server_version

    def log_message(self, fmt, *args):  # keep test output quiet
        pass

    # ---- helpers -------------------------------------------------------
    def common_headers(self):
        self.send_header("X-Server", "live-server")
        echo = self.headers.get("X-Test-Req")
        if echo is not None:
            self.send_header("X-Echo", echo)

    def send_body(self, status, body, ctype="text/plain"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.common_headers()
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def read_request_body(self):
        """Reads the whole request body; returns its length."""
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            total = 0
            while True:
                line = self.rfile.readline()
                size = int(line.split(b";")[0].strip(), 16)
                if size == 0:
                    # trailers until the empty line
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return total
                left = size
                while left:
                    got = self.rfile.read(min(left, 1 << 16))
                    if not got:
                        raise ConnectionError("eof in chunk")
                    left -= len(got)
                total += size
                self.rfile.readline()  # CRLF after the chunk
        n = int(self.headers.get("Content-Length") or 0)
        left = n
        while left:
            got = self.rfile.read(min(left, 1 << 16))
            if not got:
                raise ConnectionError("eof in body")
            left -= len(got)
        return n

    def write_chunk(self, data, ext=b""):
        self.wfile.write(b"%x%s\r\n" % (len(data), ext) + data + b"\r\n")

    # ---- methods -------------------------------------------------------
    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        url = urlsplit(self.path)
        parts = url.path.strip("/").split("/")
        query = parse_qs(url.query)
        head = parts[0] if parts else ""
        if head == "bytes" and len(parts) == 2:
            self.send_body(200, pattern(int(parts[1])))
        elif head == "binary" and len(parts) == 2:
            n = int(parts[1])
            self.send_body(200, bytes(i % 256 for i in range(n)), "application/octet-stream")
        elif head == "text" and len(parts) == 2:
            self.send_body(200, ("this is %s" % parts[1]).encode())
        elif head == "head":
            self.send_body(200, pattern(1234))
        elif head == "status" and parts[1:] == ["204"]:
            self.send_response(204)
            self.common_headers()
            self.end_headers()
        elif head == "status" and parts[1:] == ["304"]:
            self.send_response(304)
            self.send_header("ETag", '"v1"')
            self.common_headers()
            self.end_headers()
        elif head == "chunked":
            sizes = [int(s) for s in query.get("sizes", ["10"])[0].split(",")]
            body = pattern(sum(sizes))
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Trailer", "X-Trailer")
            self.common_headers()
            self.end_headers()
            off = 0
            for i, size in enumerate(sizes):
                self.write_chunk(body[off : off + size], b";ext=1" if i == 0 else b"")
                off += size
            self.wfile.write(b"0\r\nX-Trailer: done\r\n\r\n")
        elif head == "stream":
            seconds = float(query.get("seconds", ["3"])[0])
            total = int(query.get("total", [str(50 << 20)])[0])
            chunk = pattern(1 << 16)
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.common_headers()
            self.end_headers()
            start = time.monotonic()
            sent = 0
            while sent < total:
                piece = chunk[: min(len(chunk), total - sent)]
                self.write_chunk(piece)
                sent += len(piece)
                # pace: sent/total of the bytes after sent/total of the time
                ahead = start + seconds * sent / total - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.send_body(404, b"not found")

    def do_POST(self):
        n = self.read_request_body()
        url = urlsplit(self.path)
        parts = url.path.strip("/").split("/")
        if parts[0] == "text" and len(parts) == 2:
            self.send_body(200, ("this is %s, received %d bytes" % (parts[1], n)).encode())
        else:
            self.send_body(200, ("received %d bytes" % n).encode())

    do_PUT = do_POST


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # clients that reset their connection (the flood test) are expected
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    if ":" in args.bind:
        Server.address_family = __import__("socket").AF_INET6
    srv = Server((args.bind, args.port), Handler)
    print("listening %d" % srv.server_address[1], flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
