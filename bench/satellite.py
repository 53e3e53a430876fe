#!/usr/bin/env python3
"""A test satellite for the benchmark: accepts OTLP/HTTP JSON batches and answers 200.

It does as little as it can per batch (read the body, count the spans with one
bytes.count, answer), so that it does not slow the sensor down. GET /stats gives the
counts as JSON; POST /reset sets them to zero. It prints its port on stdout once it
listens (port 0 = any free port).

usage: satellite.py [PORT [CERT KEY]]   serve (PORT 0 or none: any free port), over TLS
                                       with CERT and KEY (PEM files) when given
       satellite.py stats PORT [tls]    print the counts of a running one
       satellite.py reset PORT [tls]    set them to zero
"""

import json
import ssl
import sys
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COUNTS = {"requests": 0, "spans": 0, "bytes": 0}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def answer(self, status, body, ctype="application/json"):
        # One write for head and body: two small writes would meet Nagle's algorithm and
        # the client's delayed ACK, and every batch would wait 40 ms for nothing.
        head = (f"HTTP/1.1 {status} {self.responses[status][0]}\r\n"
                f"Content-Type: {ctype}\r\nContent-Length: {len(body)}\r\n\r\n")
        self.wfile.write(head.encode() + body)

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))

    def do_POST(self):
        body = self.read_body()
        if self.path == "/reset":
            for k in COUNTS:
                COUNTS[k] = 0
            self.answer(200, b"{}")
            return
        COUNTS["requests"] += 1
        COUNTS["bytes"] += len(body)
        # Every span has exactly one "spanId" key ("parentSpanId" does not match: the
        # quote is part of the needle).
        COUNTS["spans"] += body.count(b'"spanId"')
        self.answer(200, b"{}")

    def do_GET(self):
        if self.path == "/stats":
            self.answer(200, json.dumps(COUNTS).encode())
        else:
            self.answer(404, b"{}")


def client(cmd, port, tls):
    url = f"{'https' if tls else 'http'}://127.0.0.1:{port}/{cmd}"
    data = b"" if cmd == "reset" else None
    handlers = [urllib.request.ProxyHandler({})]
    if tls:
        # Our own test certificate: the counts are not worth verifying it.
        handlers.append(urllib.request.HTTPSHandler(context=ssl._create_unverified_context()))
    opener = urllib.request.build_opener(*handlers)
    with opener.open(url, data=data, timeout=10) as r:
        print(r.read().decode())


class TlsServer(ThreadingHTTPServer):
    """The handshake runs in the connection's thread, not in the accept loop."""

    context = None

    def finish_request(self, request, client_address):
        try:
            request = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        self.RequestHandlerClass(request, client_address, self)


def main():
    if len(sys.argv) in (3, 4) and sys.argv[1] in ("stats", "reset"):
        client(sys.argv[1], int(sys.argv[2]), sys.argv[3:] == ["tls"])
        return
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    if len(sys.argv) == 4:
        srv = TlsServer(("127.0.0.1", port), Handler)
        srv.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        srv.context.load_cert_chain(sys.argv[2], sys.argv[3])
    else:
        srv = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    srv.daemon_threads = True
    print(srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
