#!/usr/bin/env python3
"""Hostile HTTP peers for tests/hostile.rs (raw sockets, python stdlib only).

Every mode prints one line "ready ..." once its connections are open (or its
server listens), does its work, prints one line "done ..." and exits. Modes
that hold connections open wait for a line (or EOF) on stdin before closing,
so the test decides when; a hard limit of 120 s ends every mode regardless.

Clients (HOST PORT ...):
  headers HOST PORT N           a request with N headers, then the response
  longline HOST PORT BYTES      a request with one BYTES-long header line
  trickle HOST PORT BYTES       a request whose head is BYTES long, sent one
                                byte per send() with TCP_NODELAY (one segment
                                per byte), then the response
  slowloris HOST PORT N GAP SECS  N connections; each sends a request line and
                                then one byte of a header every GAP seconds
                                for SECS seconds; then waits for stdin and
                                resets them (RST)
  endless HOST PORT SECS RATE   POST with a chunked body of 16 KiB chunks at
                                RATE bytes/s that never ends; after SECS
                                seconds waits for stdin, then resets (RST)
  garbage HOST PORT CONNS BYTES SEED
                                CONNS connections, each sends BYTES of seeded
                                random bytes (never a line starting with an
                                HTTP method or "HTTP/"), reads what comes back
                                until the server closes or 5 s pass
  hold HOST PORT                GET /gigabyte, reads the head and what body
                                arrives for 1 s, prints "ready BODYBYTES",
                                then waits for stdin (the connection idles)
Servers (listen on BIND:0, print "ready PORT", serve until stdin closes):
  gigabyte BIND                 answers every request with Content-Length:
                                1073741824 and 10240 body bytes, then sends
                                nothing more and keeps the connection open
  satfault BIND KIND            a broken satellite: KIND "rst" reads the
                                request head and resets the connection; KIND
                                "close" closes it at once without reading;
                                prints "conn N" for each connection accepted
"""

import os
import random
import select
import socket
import struct
import sys
import threading
import time

HARD_LIMIT = 120
START = time.monotonic()


def say(*words):
    print(*words, flush=True)


def wait_stdin():
    left = HARD_LIMIT - (time.monotonic() - START)
    if left > 0:
        select.select([sys.stdin], [], [], left)


def connect(host, port):
    s = socket.create_connection((host, port), timeout=30)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def reset(s):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def read_status(s, limit=10.0):
    """Reads until the end of a response head (or close); returns the status line."""
    s.settimeout(limit)
    buf = b""
    try:
        while b"\r\n\r\n" not in buf and len(buf) < 1 << 20:
            b = s.recv(65536)
            if not b:
                break
            buf += b
    except (socket.timeout, ConnectionError):
        pass
    return buf.split(b"\r\n", 1)[0].decode("latin-1")


def headers(host, port, n):
    s = connect(host, port)
    head = b"GET /bomb/headers HTTP/1.1\r\nHost: %s\r\n" % host.encode()
    head += b"".join(b"X-Bomb-%d: value-%d\r\n" % (i, i) for i in range(n))
    say("ready", len(head))
    s.sendall(head + b"\r\n")
    st = read_status(s)
    s.close()
    say("done", st or "-")


def longline(host, port, size):
    s = connect(host, port)
    head = b"GET /bomb/line HTTP/1.1\r\nHost: %s\r\nX-Long: " % host.encode()
    say("ready", size)
    s.sendall(head + b"a" * size + b"\r\n\r\n")
    st = read_status(s)
    s.close()
    say("done", st or "-")


def trickle(host, port, size):
    s = connect(host, port)
    line = b"GET /bomb/trickle HTTP/1.1\r\nHost: %s\r\n" % host.encode()
    pad = max(0, size - len(line) - 2 - len(b"X-Pad: \r\n"))
    head = line + b"X-Pad: " + b"p" * pad + b"\r\n\r\n"
    say("ready", len(head))
    for i in range(len(head)):
        s.send(head[i : i + 1])
    st = read_status(s)
    s.close()
    say("done", st or "-")


def slowloris(host, port, n, gap, secs):
    socks = []
    for i in range(n):
        s = connect(host, port)
        s.sendall(b"GET /slowloris/%d HTTP/1.1\r\nHost: %s\r\nX-Slow: " % (i, host.encode()))
        socks.append(s)
    say("ready", n)
    end = time.monotonic() + secs
    sent = 0
    while time.monotonic() < end:
        for s in socks:
            s.send(b"z")
            sent += 1
        time.sleep(gap)
    say("done", sent)
    wait_stdin()
    for s in socks:
        reset(s)


def endless(host, port, secs, rate):
    s = connect(host, port)
    s.sendall(
        b"POST /endless HTTP/1.1\r\nHost: %s\r\nTransfer-Encoding: chunked\r\n"
        b"Content-Type: application/octet-stream\r\n\r\n" % host.encode()
    )
    say("ready")
    chunk = b"%x\r\n%s\r\n" % (16384, b"e" * 16384)
    start = time.monotonic()
    sent = 0
    while time.monotonic() - start < secs:
        s.sendall(chunk)
        sent += 16384
        ahead = start + sent / rate - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)
    say("done", sent)
    wait_stdin()
    reset(s)


def garbage(host, port, conns, size, seed):
    rnd = random.Random(seed)
    for _ in range(conns):
        data = bytearray(rnd.randbytes(size))
        # No line may start like a request or a response: the bytes are noise.
        for i in range(len(data)):
            if data[i] in (0x0A, 0x0D):
                data[i] = 0x20
        s = connect(host, port)
        try:
            s.sendall(bytes(data))
        except ConnectionError:
            pass
        read_status(s, 5.0)
        s.close()
    say("ready", conns)
    say("done", conns)


def hold(host, port):
    s = connect(host, port)
    s.sendall(b"GET /gigabyte HTTP/1.1\r\nHost: %s\r\n\r\n" % host.encode())
    s.settimeout(1.0)
    got = b""
    end = time.monotonic() + 1.0
    try:
        while time.monotonic() < end:
            b = s.recv(65536)
            if not b:
                break
            got += b
    except socket.timeout:
        pass
    body = len(got.split(b"\r\n\r\n", 1)[1]) if b"\r\n\r\n" in got else 0
    say("ready", body)
    wait_stdin()
    reset(s)
    say("done", body)


def gigabyte(bind):
    srv = socket.socket()
    srv.bind((bind, 0))
    srv.listen(16)
    say("ready", srv.getsockname()[1])
    conns = []

    def serve(c):
        buf = b""
        while b"\r\n\r\n" not in buf:
            b = c.recv(65536)
            if not b:
                return
            buf += b
        c.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
            b"Content-Length: 1073741824\r\n\r\n" + b"g" * 10240
        )

    def accept():
        while True:
            c, _ = srv.accept()
            conns.append(c)
            threading.Thread(target=serve, args=(c,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    wait_stdin()
    say("done", len(conns))
    os._exit(0)


def satfault(bind, kind):
    srv = socket.socket()
    srv.bind((bind, 0))
    srv.listen(64)
    say("ready", srv.getsockname()[1])
    count = [0]

    def accept():
        while True:
            c, _ = srv.accept()
            count[0] += 1
            say("conn", count[0])
            if kind == "rst":
                c.settimeout(5)
                buf = b""
                try:
                    while b"\r\n\r\n" not in buf:
                        b = c.recv(65536)
                        if not b:
                            break
                        buf += b
                except (socket.timeout, ConnectionError):
                    pass
                reset(c)
            else:
                c.close()

    threading.Thread(target=accept, daemon=True).start()
    wait_stdin()
    say("done", count[0])
    os._exit(0)


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "gigabyte":
        return gigabyte(args[0])
    if mode == "satfault":
        return satfault(args[0], args[1])
    host, port = args[0], int(args[1])
    rest = args[2:]
    if mode == "headers":
        headers(host, port, int(rest[0]))
    elif mode == "longline":
        longline(host, port, int(rest[0]))
    elif mode == "trickle":
        trickle(host, port, int(rest[0]))
    elif mode == "slowloris":
        slowloris(host, port, int(rest[0]), float(rest[1]), float(rest[2]))
    elif mode == "endless":
        endless(host, port, float(rest[0]), float(rest[1]))
    elif mode == "garbage":
        garbage(host, port, int(rest[0]), int(rest[1]), int(rest[2]))
    elif mode == "hold":
        hold(host, port)
    else:
        raise SystemExit("unknown mode %r" % mode)


if __name__ == "__main__":
    main()
