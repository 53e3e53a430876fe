#!/usr/bin/env python3
"""Writes the seed corpus fuzz/seeds/<target>/ from real HTTP conversations.

Usage: python3 fuzz/make_seeds.py [OUT_DIR]      (default: fuzz/seeds next to this file)

A small HTTP/1.1 server (python's http.server) runs on loopback behind a
recording TCP relay; real clients (curl, and python sockets for pipelining,
HTTP/1.0 and a 100-continue upload) talk to it through the relay, which keeps
the exact bytes each side sent on each connection. Those conversations are
then written in the input format of every fuzz target (see fuzz/harness.rs):
as frames of every link type the sensor decodes, as segment schedules for the
reassembler, as split lists for the HTTP parser, as the frames of one
connection for the fault injector, as chunked and compressed
bodies, and as strings for the JSON and OTLP encoders.

The output is deterministic for a given set of conversations (file names are
content hashes); the seeds are committed, so neither CI nor `./build.sh fuzz`
needs to run this. Needs python3 and curl; no root, no network beyond loopback.
"""

import gzip
import hashlib
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))

# ───────────────────────────── the server ─────────────────────────────

ITEMS = [{"id": i, "name": "item-%d" % i, "price": i * 1.25, "tags": ["a", "b"]} for i in range(40)]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "seed-server/1"

    def log_message(self, *a):
        pass

    def send(self, status, body, ctype="application/json", extra=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        for k, v in extra:
            self.send_header(k, v)
        if body is not None:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body is not None and self.command != "HEAD":
            self.wfile.write(body)

    def chunks(self, parts, ctype="application/json", extra=(), trailer=True):
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Transfer-Encoding", "chunked")
        for k, v in extra:
            self.send_header(k, v)
        if trailer:
            self.send_header("Trailer", "X-Checksum")
        self.end_headers()
        for i, p in enumerate(parts):
            ext = b";part=%d" % i if i == 0 else b""
            self.wfile.write(b"%x%s\r\n%s\r\n" % (len(p), ext, p))
        self.wfile.write(b"0\r\n" + (b"X-Checksum: 9f86d081\r\n" if trailer else b"") + b"\r\n")

    def read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or ""):
            data = b""
            while True:
                n = int(self.rfile.readline().split(b";")[0], 16)
                if n == 0:
                    while self.rfile.readline() not in (b"\r\n", b""):
                        pass
                    return data
                data += self.rfile.read(n)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        p = self.path.split("?")[0]
        doc = json.dumps({"items": ITEMS[:8], "token": "abc123", "user": {"password": "hunter2"}}).encode()
        if p == "/json":
            self.send(200, doc, extra=[("Set-Cookie", "session=s3cr3t; HttpOnly"), ("Cache-Control", "no-store")])
        elif p == "/gzip":
            self.send(200, gzip.compress(doc, mtime=0), extra=[("Content-Encoding", "gzip"), ("Vary", "Accept-Encoding")])
        elif p == "/deflate":
            self.send(200, zlib.compress(json.dumps(ITEMS).encode()), extra=[("Content-Encoding", "deflate")])
        elif p == "/gzip-chunked":
            z = gzip.compress(json.dumps(ITEMS).encode(), mtime=0)
            self.chunks([z[:100], z[100:]], extra=[("Content-Encoding", "gzip")])
        elif p == "/chunked":
            body = json.dumps(ITEMS).encode()
            self.chunks([body[i : i + 333] for i in range(0, len(body), 333)])
        elif p == "/big":
            self.send(200, (b"0123456789abcdef" * 1300), "application/octet-stream")
        elif p == "/binary":
            self.send(200, bytes(range(256)) * 4, "image/png")
        elif p == "/text":
            self.send(200, "caf\u00e9 \u2028 line\u2029 \u0085 \"quoted\" \\ tab\t".encode(), "text/plain; charset=utf-8")
        elif p == "/latin1":
            self.send(200, "caf\u00e9 na\u00efve".encode("latin-1"), "text/plain; charset=iso-8859-1")
        elif p == "/204":
            self.send(204, None)
        elif p == "/304":
            self.send(304, None, extra=[("ETag", '"v1"')])
        elif p == "/redirect":
            self.send(302, b"", "text/html", extra=[("Location", "/json")])
        elif p == "/empty-chunked":
            self.chunks([], trailer=False)
        else:
            self.send(404, b'{"error":"not found"}')

    def do_POST(self):
        body = self.read_body()
        self.send(201, json.dumps({"received": len(body), "api_key": "k-123"}).encode(), extra=[("Location", "/items/41")])

    do_PUT = do_POST

    def do_DELETE(self):
        self.send(204, None)


class Server(ThreadingHTTPServer):
    daemon_threads = True


# ───────────────────────────── the recording relay ─────────────────────────────

CONVERSATIONS = []  # (name, client bytes, server bytes)
LOCK = threading.Lock()


def relay(listener, upstream, name_of):
    def pump(src, dst, buf):
        while True:
            try:
                b = src.recv(65536)
            except OSError:
                b = b""
            if not b:
                try:
                    dst.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                return
            buf.append(b)
            dst.sendall(b)

    def one(conn):
        up = socket.create_connection(upstream)
        c, s = [], []
        t1 = threading.Thread(target=pump, args=(conn, up, c))
        t2 = threading.Thread(target=pump, args=(up, conn, s))
        t1.start()
        t2.start()
        t1.join()
        t2.join()
        conn.close()
        up.close()
        with LOCK:
            CONVERSATIONS.append((name_of(), b"".join(c), b"".join(s)))

    while True:
        conn, _ = listener.accept()
        threading.Thread(target=one, args=(conn,), daemon=True).start()


CURRENT = {"name": ""}


def record(name, fn):
    """Runs one client (fn) and waits until its connections are recorded."""
    before = len(CONVERSATIONS)
    CURRENT["name"] = name
    n = fn()
    for _ in range(500):
        with LOCK:
            if len(CONVERSATIONS) >= before + n:
                return
        threading.Event().wait(0.01)
    raise SystemExit("conversation %s was not recorded" % name)


def curl(port, *args):
    def run():
        subprocess.run(
            ["curl", "-sS", "--noproxy", "*", "-o", "/dev/null", "--max-time", "10"] + list(args),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        return 1

    return run


def raw(port, data, read_until_close=True):
    def run():
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        while s.recv(65536):
            pass
        s.close()
        return 1

    return run


def conversations():
    srv = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(64)
    port = lst.getsockname()[1]
    threading.Thread(target=relay, args=(lst, srv.server_address, lambda: CURRENT["name"]), daemon=True).start()
    u = lambda p: "http://127.0.0.1:%d%s" % (port, p)
    long_q = "/search?q=" + "x" * 10000 + "&token=t0k3n"
    record("keepalive", curl(port, u("/json?user=1&password=pw"), u("/text"), u("/204"), u("/redirect"), u("/nope")))
    record("gzip", curl(port, "--compressed", u("/gzip"), u("/deflate"), u("/gzip-chunked")))
    record("chunked", curl(port, u("/chunked"), u("/empty-chunked"), u("/binary"), u("/latin1")))
    record("big", curl(port, u("/big")))
    record("head-304", curl(port, "-I", u("/json")))
    record("conditional", curl(port, "-H", 'If-None-Match: "v1"', u("/304")))
    record("post-json", curl(port, "-H", "Content-Type: application/json", "-H", "Authorization: Bearer abc.def",
                               "--data-binary", json.dumps({"name": "x", "secret": "s", "n": [1, 2, {"apiKey": 3}]}), u("/items")))
    record("post-chunked", curl(port, "-H", "Transfer-Encoding: chunked", "-H", "Content-Type: application/json",
                                  "--data-binary", json.dumps(ITEMS[:5]), u("/upload")))
    record("expect-100", curl(port, "-H", "Expect: 100-continue", "--data-binary", "a=1&b=2" * 300, u("/form")))
    record("put-delete", curl(port, "-X", "PUT", "--data-binary", "{}", u("/items/1"), "--next", "-o", "/dev/null",
                                "-X", "DELETE", u("/items/1")))
    record("long-url", curl(port, u(long_q)))
    record("traceparent", curl(port, "-H", "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                                 "-H", "User-Agent: Mozilla/5.0 (X11; Linux x86_64)", "-H", "Cookie: a=b; session=c", u("/json")))
    pipelined = b"".join(
        b"GET /json?n=%d HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n\r\n" % i for i in range(3)
    ) + b"GET /text HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    record("pipelined", raw(port, pipelined))
    record("http10", raw(port, b"GET /json HTTP/1.0\r\nUser-Agent: seed\r\n\r\n"))
    return CONVERSATIONS


# ───────────────────────────── packets ─────────────────────────────

C_IP, S_IP = bytes([10, 1, 2, 3]), bytes([10, 1, 2, 4])
C_IP6 = bytes.fromhex("fd000000000000000000000000000003")
S_IP6 = bytes.fromhex("fd000000000000000000000000000004")
C_PORT, S_PORT = 51234, 8080
ISN = (0xFFFFF000, 0x7FFFFF00)  # the client's wraps at 2^32
MSS = 1460


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def tcp(sport, dport, seq, ack, flags, payload, opts=b""):
    off = (20 + len(opts)) // 4
    return struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, off << 4, flags, 65535, 0, 0) + opts + payload


def ip4(src, dst, seg):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(seg), 1, 0x4000, 64, 6, 0, src, dst)
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + seg


def ip6(src, dst, seg):
    return struct.pack("!IHBB16s16s", 6 << 28, len(seg), 6, 64, src, dst) + seg


FIN, SYN, RST, PSH, ACK = 1, 2, 4, 8, 16


def packets(client, server, v6=False):
    """The connection as IP packets: (direction, ip packet)."""
    out = []
    nxt = [ISN[0] + 1, ISN[1] + 1]
    ips = (C_IP6, S_IP6) if v6 else (C_IP, S_IP)
    mk = ip6 if v6 else ip4

    def send(d, flags, payload=b"", seq=None, opts=b""):
        src, dst = (ips[0], ips[1]) if d == 0 else (ips[1], ips[0])
        sp, dp = (C_PORT, S_PORT) if d == 0 else (S_PORT, C_PORT)
        s = nxt[d] if seq is None else seq
        out.append((d, mk(src, dst, tcp(sp, dp, s, nxt[1 - d], flags, payload, opts))))

    mss = b"\x02\x04\x05\xb4\x01\x01\x04\x02"
    out.append((0, mk(ips[0], ips[1], tcp(C_PORT, S_PORT, ISN[0], 0, SYN, b"", mss))))
    out.append((1, mk(ips[1], ips[0], tcp(S_PORT, C_PORT, ISN[1], ISN[0] + 1, SYN | ACK, b"", mss))))
    send(0, ACK)
    for d, data in ((0, client), (1, server)):
        for i in range(0, len(data), MSS):
            send(d, ACK | PSH, data[i : i + MSS])
            nxt[d] += len(data[i : i + MSS])
        send(1 - d, ACK)
    send(0, FIN | ACK)
    nxt[0] += 1
    send(1, FIN | ACK)
    nxt[1] += 1
    send(0, ACK)
    return out


def link(kind, ip):
    """Wraps an IP packet for link type `kind`; returns (dlt, frame)."""
    v6 = ip[0] >> 4 == 6
    et = 0x86DD if v6 else 0x0800
    mac = bytes.fromhex("020000000001020000000002")
    if kind == "en10mb":
        return 1, mac + struct.pack("!H", et) + ip
    if kind == "vlan":
        return 1, mac + struct.pack("!HHH", 0x8100, 42, et) + ip
    if kind == "qinq":
        return 1, mac + struct.pack("!HHHHH", 0x88A8, 7, 0x8100, 42, et) + ip
    if kind == "sll":
        return 113, struct.pack("!HHH8sH", 0, 772, 6, b"\0" * 8, et) + ip
    if kind == "sll2":
        return 276, struct.pack("!HHIHBB8s", et, 0, 1, 772, 0, 6, b"\0" * 8) + ip
    if kind == "null":
        return 0, struct.pack("<I", 30 if v6 else 2) + ip
    if kind == "loop":
        return 108, struct.pack("!I", 24 if v6 else 2) + ip
    if kind == "raw":
        return 12, ip
    if kind == "raw101":
        return 101, ip
    if kind == "ipv4":
        return (229 if v6 else 228), ip
    if kind == "chdlc":
        return 104, struct.pack("!BBH", 0x0F, 0, et) + ip
    if kind == "arcnet":
        return 129, (bytes([1, 2, 0, 0, 0xC4, 0, 0, 0]) if v6 else bytes([1, 2, 0, 0, 212, 0, 0, 0])) + ip
    if kind == "nflog":
        tlv_prefix = struct.pack("<HH", 8, 1) + b"\x08\x00\x01\x00"  # a hardware-protocol TLV
        pkt = struct.pack("<HH", 4 + len(ip), 9) + ip
        pkt += b"\0" * ((4 - len(pkt) % 4) % 4)
        return 239, bytes([10 if v6 else 2, 0, 0, 0]) + tlv_prefix + pkt
    if kind == "radiotap":
        rt = struct.pack("<BBHI", 0, 0, 8, 0)
        wifi = struct.pack("<BBH", 0x08, 0x01, 0) + b"\x02\0\0\0\0\x01" * 3 + b"\0\0"
        llc = bytes([0xAA, 0xAA, 0x03, 0, 0, 0]) + struct.pack("!H", et)
        return 127, rt + wifi + llc + ip
    raise ValueError(kind)


KINDS = ["en10mb", "vlan", "qinq", "sll", "sll2", "null", "loop", "raw", "raw101", "ipv4", "chdlc", "arcnet", "nflog", "radiotap"]
# Index of each dlt in harness.rs LINKTYPES.
LT_INDEX = {0: 0, 1: 1, 12: 2, 14: 3, 108: 4, 101: 5, 104: 6, 113: 7, 127: 8, 129: 9, 228: 10, 229: 11, 239: 12, 276: 13}

# ───────────────────────────── writing seeds ─────────────────────────────


def u16(n):
    return struct.pack("<H", min(n, 0xFFFF))


def blob(b):
    b = b[:0xFFFF]
    return u16(len(b)) + b


class Out:
    def __init__(self, root):
        self.root = root
        self.count = {}

    def put(self, target, data):
        d = os.path.join(self.root, target)
        os.makedirs(d, exist_ok=True)
        name = hashlib.sha1(data).hexdigest()
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
        self.count[target] = self.count.get(target, 0) + 1


def heads_and_bodies(stream):
    """Splits a stream of messages (Content-Length or chunked) into (head, raw body, is_chunked)."""
    msgs = []
    i = 0
    while i < len(stream):
        e = stream.find(b"\r\n\r\n", i)
        if e < 0:
            break
        head = stream[i : e + 4]
        lower = head.lower()
        j = e + 4
        if head.startswith(b"HTTP/1.1 1") and not head.startswith(b"HTTP/1.1 101"):
            msgs.append((head, b"", False))
            i = j
            continue
        if b"transfer-encoding: chunked" in lower:
            k = j
            while True:
                le = stream.index(b"\r\n", k)
                n = int(stream[k:le].split(b";")[0], 16)
                k = le + 2
                if n == 0:
                    k = stream.index(b"\r\n\r\n", k - 2) + 4 if stream[k : k + 2] != b"\r\n" else k + 2
                    break
                k += n + 2
            msgs.append((head, stream[j:k], True))
            i = k
        else:
            n = 0
            for line in lower.split(b"\r\n"):
                if line.startswith(b"content-length:"):
                    n = int(line.split(b":")[1])
            if head.startswith(b"HTTP/") and b" 204 " not in head and b" 304 " not in head and n == 0 and b"content-length" not in lower:
                n = len(stream) - j  # close-delimited
            msgs.append((head, stream[j : j + n], False))
            i = j + n
    return msgs


def dechunk(b):
    out, i = b"", 0
    while True:
        le = b.index(b"\r\n", i)
        n = int(b[i:le].split(b";")[0], 16)
        if n == 0:
            return out
        out += b[le + 2 : le + 2 + n]
        i = le + 2 + n + 2


# Fault sets of the `faults` target (bits: 1 copies, 2 reordering, 4 every frame
# twice, 8 losses, 16 snap length, 32 early end).
FAULT_SETS = (1 | 2, 2 | 4, 1 | 8, 16 | 32)


def write_faults(out, k, mb, client, server):
    for j, faults in enumerate(FAULT_SETS):
        head = bytes([mb, faults, (37 * (k + j) + 20) % 256])
        head += struct.pack("<HHQ", 100 + 3 * k, 20 + 7 * j, 1000 * k + j)
        head += bytes([(k + j) % 12])  # a link type of tests/support/packet.rs LINKS_V4
        out.put("faults", head + blob(client) + blob(server) + bytes(range(0, 255, 7)) * 4)


def write_all(convs, out):
    mbs = [5, 4, 2, 1, 3, 0]  # selectors into MAX_BODIES: 1 MiB, 64 KiB, 1 KiB, 100, 4096, 16
    for k, (name, client, server) in enumerate(convs):
        mb = mbs[k % len(mbs)]
        for v6 in (False, True) if k % 3 == 0 else (False,):
            pk = packets(client, server, v6)
            # decode: a few frames of each conversation in every link type.
            for kind in KINDS:
                for d, ip in (pk[0], pk[3], pk[-1]):
                    dl, f = link(kind, ip)
                    if k < 4 or kind in ("en10mb", "sll2"):
                        out.put("decode", bytes([LT_INDEX[dl]]) + f)
            # pipeline: the whole connection in one link type (rotating).
            kind = KINDS[k % len(KINDS)] if not v6 else "sll2"
            recs = b""
            for d, ip in pk:
                dl, f = link(kind, ip)
                recs += bytes([LT_INDEX[dl], 1]) + blob(f)
            out.put("pipeline", bytes([mb, k % 8]) + recs)
        # reassembly: segment schedules over the two streams.
        hdr = struct.pack("<II", *ISN) + bytes([mb]) + blob(client) + blob(server)
        segs = []  # (dir, off, len)
        for d, data in ((0, client), (1, server)):
            for i in range(0, len(data), MSS):
                segs.append((d, i, min(MSS, len(data) - i)))

        def op(ctl, off, ln, dt=1):
            return bytes([ctl]) + struct.pack("<HH", off & 0xFFFF, ln & 0xFFFF) + bytes([dt])

        syn = op(16, 0, 0) + op(16 | 1 | 2, 0, 0)
        last = [max((o + n for d, o, n in segs if d == dd), default=0) for dd in (0, 1)]
        fin = op(2 | 4, last[0], 0) + op(1 | 2 | 4, last[1], 0)
        in_order = syn + b"".join(op(d | 2, o, n) for d, o, n in segs) + fin
        out.put("reassembly", hdr + in_order)
        if k % 2 == 0:
            rev = syn + b"".join(op(d | 2, o, n) for d, o, n in reversed(segs)) + fin
            out.put("reassembly", hdr + rev)
        if k % 3 == 1:
            dup = syn + b"".join(op(d | 2, o, n) * 2 + op(d | 2, o + n // 2, n) for d, o, n in segs) + fin + op(64, 0, 0, 200)
            out.put("reassembly", hdr + dup)
        if k % 4 == 2:
            lossy = syn + b"".join(op(d | 2, o, n) for j, (d, o, n) in enumerate(segs) if j % 3 != 1) + op(8, 0, 0)
            out.put("reassembly", hdr + lossy)
        # http_split: whole streams, cut three ways.
        for splits in (b"", bytes([199] * 64), bytes(range(0, 255, 7)) * 4):
            out.put("http_split", bytes([mb, k % 2]) + blob(client) + blob(server) + splits)
        # faults: the streams as one connection's frames, through the fault injector.
        write_faults(out, k, mb, client, server)
        # chunked, gzip, json, otlp: from the messages themselves.
        for head, body, is_chunked in heads_and_bodies(server) + heads_and_bodies(client):
            if is_chunked:
                out.put("chunked", bytes([1, mb]) + blob(bytes([199, 30, 250, 3])) + body)
                data = dechunk(body)
                if b"content-encoding: gzip" in head.lower():
                    out.put("gzip", bytes([0, 5, 2]) + data)
                    data = gzip.decompress(data)
                out.put("chunked", bytes([2 * (k % 2), mb]) + blob(bytes([k * 17 % 256, 150, 3])) + data)
            elif body:
                if b"content-encoding: gzip" in head.lower():
                    out.put("gzip", bytes([0, 5, 0]) + body)
                    body = gzip.decompress(body)
                elif b"content-encoding: deflate" in head.lower():
                    out.put("gzip", bytes([1, 5, 0]) + body)
                    body = zlib.decompress(body)
                if len(body) < 4096:
                    out.put("gzip", bytes([3 + 8 * (k % 10), mb, k % 4]) + body)
                    out.put("gzip", bytes([3 + 8 * 31, 5, 1]) + body)
                    out.put("json", bytes([4]) + body)
                    out.put("json", bytes([255]) + body)
            for line in head.split(b"\r\n")[:6]:
                if line:
                    out.put("json", bytes([k % 2 * 5]) + line)
        # otlp: the first exchange, field by field.
        reqs, resps = heads_and_bodies(client), heads_and_bodies(server)
        if reqs and resps:
            rq, rs = reqs[0], resps[-1]
            lines = rq[0].split(b"\r\n")
            method, target = lines[0].split(b" ")[:2]
            hs = [l.split(b": ", 1) for l in lines[1:] if b": " in l and not l.lower().startswith(b"content-length")]
            rlines = rs[0].split(b"\r\n")
            rhs = [l.split(b": ", 1) for l in rlines[1:] if b": " in l and not l.lower().startswith(b"content-length")]
            status = int(rlines[0].split(b" ")[1])
            reason = rlines[0].split(b" ", 2)[2]
            for flags, ts in ((k % 4, 1714564800000000 + k), (1, 0xFFFFFFFF * 1000000 + 999999)):
                v = bytes([flags]) + struct.pack("<QI", ts, 1234 + k)
                v += blob(method) + blob(target)
                v += bytes([len(hs)]) + b"".join(blob(a) + blob(b) for a, b in hs) + blob(rq[1][:2000])
                v += struct.pack("<H", (status - 200) % 400) + blob(reason)
                v += bytes([len(rhs)]) + b"".join(blob(a) + blob(b) for a, b in rhs) + blob(rs[1][:2000])
                out.put("otlp", v)


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "seeds")
    convs = conversations()
    convs.sort(key=lambda c: c[0])
    out = Out(root)
    write_all(convs, out)
    # Hand-written edge cases of the encoders.
    for s in [b'{"a\\"password":"v","x":[{"api_key":{"k":[1,2]}}]}', b"\xff\xfe\x00\x01\x7f", "\u2028\u2029\u0085".encode(),
              b"a=1&token=2&password&x=&session_id=3", b"\0\0\0\0\0\0\0\0", b"\xff" * 8]:
        out.put("json", bytes([255]) + s)
    for t, n in sorted(out.count.items()):
        print("%-12s %d seeds" % (t, n))


if __name__ == "__main__":
    main()
