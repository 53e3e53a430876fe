#!/usr/bin/env python3
"""Bounded HTTP load on loopback for the memory-budget test (tests/deploy.rs).

  deploy_load.py HOST PORT SECONDS THREADS

THREADS client threads run for SECONDS (hard stop) against live_server.py:
each thread loops over a mix of exchanges, on a keep-alive connection that it
replaces every few requests (so connections open and close all the time):
  GET /bytes/N    N from 200 B to 2 MiB (bodies larger than the profile's
                  --max-http-length and than its buffer pool)
  POST /upload    request bodies from 1 KiB to 512 KiB
  GET /chunked    chunked responses
Prints one JSON line at the end: {"requests": N, "bytes": B, "errors": E}.
Only HOST (a loopback address) is ever contacted.
"""

import http.client
import json
import sys
import threading
import time

SIZES = [200, 4096, 65536, 300000, 2 * 1024 * 1024]
UPLOADS = [1024, 100000, 512 * 1024]


def worker(host, port, deadline, seed, totals, lock):
    i = seed
    done = nbytes = errors = 0
    conn = None
    while time.monotonic() < deadline:
        if conn is None or i % 7 == 0:
            if conn is not None:
                conn.close()
            conn = http.client.HTTPConnection(host, port, timeout=10)
        try:
            kind = i % 3
            if kind == 0:
                n = SIZES[i % len(SIZES)]
                conn.request("GET", "/bytes/%d?i=%d" % (n, i))
            elif kind == 1:
                body = b"x" * UPLOADS[i % len(UPLOADS)]
                conn.request(
                    "POST", "/upload?i=%d" % i, body=body,
                    headers={"Content-Type": "application/octet-stream"},
                )
            else:
                conn.request("GET", "/chunked?sizes=1000,30000,5000")
            r = conn.getresponse()
            nbytes += len(r.read())
            done += 1
        except (OSError, http.client.HTTPException):
            errors += 1
            conn.close()
            conn = None
        i += 1
    if conn is not None:
        conn.close()
    with lock:
        totals["requests"] += done
        totals["bytes"] += nbytes
        totals["errors"] += errors


def main():
    host, port, seconds, threads = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
    deadline = time.monotonic() + seconds
    totals = {"requests": 0, "bytes": 0, "errors": 0}
    lock = threading.Lock()
    ts = [
        threading.Thread(target=worker, args=(host, port, deadline, k * 1000, totals, lock), daemon=True)
        for k in range(threads)
    ]
    for t in ts:
        t.start()
    for t in ts:
        t.join(seconds + 30)
    print(json.dumps(totals), flush=True)


if __name__ == "__main__":
    main()
