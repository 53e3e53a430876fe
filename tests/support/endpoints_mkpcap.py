#!/usr/bin/env python3
"""Writes a synthetic capture of an API's traffic for the endpoint-sampling
tests (issue 19): a realistic endpoint mix over minutes of capture time, as
a pcap (Ethernet, IPv4, TCP, HTTP/1.1 with keep-alive) and/or as one JSON
line per exchange. Standard library only; seeded; a one-hour capture takes a
few seconds.

usage: endpoints_mkpcap.py --seed N [--minutes M] [--out FILE.pcap]
                           [--exchanges FILE.jsonl] [--rate PER_MINUTE]

The mix (defaults: 60 minutes, 1000 exchanges a minute):
  - 300 endpoints (method, host, path template) over three hosts, with ids
    in their paths: numbers, UUIDs, 24- and 40-digit hex, dates, e-mail
    addresses (some percent-encoded), API tokens; list endpoints carry
    queries; some have extensions ({int}.csv);
  - 30% of exchanges are health checks: GET /healthz four times a second,
    GET /ready once a second (from four load-balancer addresses), both 503
    for 30 seconds once in the capture;
  - 80 endpoints in a long tail, seen 1-3 times each at random moments;
  - the other 218 under a Zipf mix (exponent 1.1): the hottest sees
    thousands of exchanges, the coolest a dozen or so;
  - a few percent of 4xx and 5xx: per endpoint error rates (half of them
    never fail), 404 on ids, 400/409/422 on writes, 401/403/429, 500-504.

Every connection has a full handshake, segments of at most 1400 bytes with
correct sequence and acknowledgement numbers, and a FIN exchange when it
has been idle 30 s, after 200 exchanges, or at the end.

--exchanges writes, in request order, one JSON object per exchange:
  {"ts_us": request's first packet, "end_us": response's last packet,
   "method", "host", "target" (as sent), "template" (the endpoint's template
   by the README's rules, what the sensor must find), "status",
   "kind": "health" | "zipf" | "tail"}

Prints the truth as one JSON object on stdout:
  {"seed", "minutes", "exchanges", "packets", "connections",
   "endpoints": number of (method, host, template),
   "pairs": number of (endpoint, 4xx|5xx) with at least one exchange,
   "errors_4xx", "errors_5xx", "health_share", "tail_endpoints",
   "endpoint_list": [{"method", "host", "template", "kind", "exchanges",
                      "4xx", "5xx"}, ...]}   (most seen first)
"""

import argparse
import json
import math
import os
import random
import struct
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from policy_mkpcap import ACK, FIN, MSS, PSH, SYN, Writer, message_bytes  # noqa: E402

START = 1714564800.0
SERVER = "10.1.0.2"
SPORT = 80
API, AUTH, FILES = "api.shop.example", "auth.shop.example", "files.shop.example"

RESOURCES = [
    "users", "orders", "items", "carts", "payments", "invoices", "products",
    "reviews", "sessions", "shipments", "coupons", "categories", "addresses",
    "notifications", "subscriptions", "accounts", "teams", "projects",
    "reports", "webhooks", "events", "tickets", "messages", "comments", "tags",
    "warehouses", "refunds", "plans", "devices", "files",
]
SUBS = ["items", "comments", "history", "status", "attachments", "members",
        "settings", "events", "lines", "notes"]
FIRST = ["ann", "bob", "chen", "dana", "eli", "fatima", "gus", "hana", "ivan", "jo"]
LAST = ["lee", "smith", "garcia", "kim", "novak", "okafor", "rossi", "tanaka"]
DOMAINS = ["example.com", "mail.example.org", "corp.example.net"]
B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
REASONS = {200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request",
           401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
           409: "Conflict", 422: "Unprocessable Entity",
           429: "Too Many Requests", 500: "Internal Server Error",
           502: "Bad Gateway", 503: "Service Unavailable",
           504: "Gateway Timeout"}


def fast_checksum(data):
    """The Internet checksum, summed in native 16-bit words (RFC 1071: the
    sum is byte-order independent); returns the two bytes to write."""
    if len(data) % 2:
        data += b"\0"
    s = sum(memoryview(data).cast("H"))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return struct.pack("=H", ~s & 0xFFFF)


class FastWriter(Writer):
    """policy_mkpcap's Writer with the same frames, built faster: address
    bytes cached, checksums summed in C."""

    ETH = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00"

    def __init__(self, path, start, gap_us):
        super().__init__(path, start, gap_us)
        self.addrs = {}

    def addr(self, a):
        b = self.addrs.get(a)
        if b is None:
            b = self.addrs[a] = bytes(int(x) for x in a.split("."))
        return b

    def packet(self, src, dst, sport, dport, seq, ack, flags, payload=b""):
        s, d = self.addr(src), self.addr(dst)
        tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                          5 << 4, flags, 65535, 0, 0)
        pseudo = s + d + struct.pack("!BBH", 0, 6, 20 + len(payload))
        tcp = tcp[:16] + fast_checksum(pseudo + tcp + payload) + tcp[18:]
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40 + len(payload), self.ip_id & 0xFFFF,
                         0x4000, 64, 6, 0, s, d)
        self.ip_id += 1
        ip = ip[:10] + fast_checksum(ip) + ip[12:]
        frame = self.ETH + ip + tcp + payload
        self.f.write(struct.pack("<IIII", self.t_us // 1_000_000, self.t_us % 1_000_000,
                                 len(frame), len(frame)))
        self.f.write(frame)


def host_of(resource):
    if resource in ("users", "sessions", "accounts", "teams"):
        return AUTH
    if resource in ("files",):
        return FILES
    return API


class Ids:
    """Values for each placeholder, as a client would send them."""

    def __init__(self, rng):
        self.rng = rng

    def int(self):
        return str(self.rng.randint(1, 10 ** self.rng.choice([2, 4, 6, 9])))

    def uuid(self):
        u = uuid.UUID(int=self.rng.getrandbits(128), version=4)
        return str(u).upper() if self.rng.random() < 0.1 else str(u)

    def hex(self):
        n = self.rng.choice([24, 40])
        while True:
            h = "%0*x" % (n, self.rng.getrandbits(4 * n))
            if any(c.isdigit() for c in h) and any(c.isalpha() for c in h):
                return h

    def date(self):
        d = self.rng.randint(0, 700)
        y, rest = (2023, d) if d < 365 else (2024, d - 365)
        m = min(12, rest // 31 + 1)
        return "%04d-%02d-%02d" % (y, m, rest % 28 + 1)

    def email(self):
        r = self.rng
        e = "%s.%s%s@%s" % (r.choice(FIRST), r.choice(LAST),
                            r.choice(["", str(r.randint(1, 99))]), r.choice(DOMAINS))
        return e.replace("@", "%40") if r.random() < 0.3 else e

    def token(self):
        # API keys and opaque share links: a prefix, then random letters and
        # digits (a few digits at least, as such keys have).
        r = self.rng
        body = [r.choice(ALNUM) for _ in range(r.choice([24, 32]))]
        for k in r.sample(range(len(body)), 3):
            body[k] = r.choice("0123456789")
        return r.choice(["sk_live_", "tok_", "", ""]) + "".join(body)

    def fill(self, template):
        out = template
        for kind in ("int", "uuid", "hex", "date", "email", "token"):
            while "{%s}" % kind in out:
                out = out.replace("{%s}" % kind, getattr(self, kind)(), 1)
        return out


def catalogue(rng):
    """Every endpoint shape: (method, host, template, shape)."""
    eps = []
    for r in RESOURCES:
        h = host_of(r)
        idk = "{hex}" if r == "files" else rng.choice(["{int}", "{int}", "{uuid}"])
        base = "/api/v1/" + r
        sub = rng.choice(SUBS)
        eps += [
            ("GET", h, base, "list"),
            ("POST", h, base, "create"),
            ("GET", h, base + "/" + idk, "get"),
            ("PUT", h, base + "/" + idk, "update"),
            ("PATCH", h, base + "/" + idk, "update"),
            ("DELETE", h, base + "/" + idk, "delete"),
            ("GET", h, base + "/" + idk + "/" + sub, "list"),
            ("POST", h, base + "/" + idk + "/" + sub, "create"),
            ("GET", h, "/api/v2/" + r + "/" + idk, "get"),
            ("GET", h, base + "/export/{int}.csv", "get"),
        ]
    eps += [
        ("GET", AUTH, "/api/v1/users/by-email/{email}", "get"),
        ("GET", AUTH, "/api/v1/users/me", "get"),
        ("GET", AUTH, "/api/v1/users/me/preferences", "get"),
        ("POST", AUTH, "/oauth2/token", "create"),
        ("GET", AUTH, "/.well-known/openid-configuration", "get"),
        ("GET", API, "/share/{token}", "get"),
        ("GET", API, "/api/v1/keys/{token}", "get"),
        ("GET", API, "/api/v1/reports/daily/{date}", "get"),
        ("GET", API, "/api/v1/search", "list"),
        ("GET", API, "/static/app.js", "get"),
        ("GET", API, "/static/app.css", "get"),
        ("GET", API, "/favicon.ico", "get"),
        ("GET", API, "/", "get"),
        ("GET", FILES, "/api/v1/files/{hex}/download", "get"),
        ("GET", FILES, "/img/{hex}.webp", "get"),
    ]
    return eps


def zipf_counts(rng, n, total, s):
    weights = [1.0 / (k ** s) for k in range(1, n + 1)]
    z = sum(weights)
    counts = [max(1, int(round(total * w / z))) for w in weights]
    return counts


def status_for(rng, ep, p4, p5):
    shape = ep["shape"]
    x = rng.random()
    if x < p5:
        return rng.choice([500, 500, 502, 503, 504])
    if x < p5 + p4:
        if shape in ("get", "delete") and rng.random() < 0.7:
            return 404
        if shape in ("create", "update") and rng.random() < 0.7:
            return rng.choice([400, 409, 422])
        return rng.choice([401, 403, 429])
    return {"create": 201, "delete": 204}.get(shape, 200)


FILLER = "".join(random.Random(0).choice("abcdefghijklmnopqrstuvwxyz") for _ in range(4096))


def body(rng, n):
    at = rng.randrange(len(FILLER) - n)
    return '{"id":%d,"data":"%s"}' % (rng.randint(1, 10 ** 6), FILLER[at:at + max(0, n - 20)])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--minutes", type=float, default=60)
    ap.add_argument("--out", help="the pcap to write")
    ap.add_argument("--exchanges", help="JSON Lines of every exchange")
    ap.add_argument("--rate", type=float, default=1000, help="exchanges a minute")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    ids = Ids(rng)
    span_us = int(a.minutes * 60e6)
    scale = a.rate * a.minutes / 60000.0  # relative to an hour at 1000/min

    # Endpoints: 2 health checks, 218 under Zipf, 80 in the tail.
    shapes = catalogue(rng)
    rng.shuffle(shapes)
    n_tail, n_zipf = 80, 218
    chosen = shapes[: n_zipf + n_tail]
    eps = []
    for i, (m, h, t, shape) in enumerate(chosen):
        kind = "zipf" if i < n_zipf else "tail"
        p4 = 0.0 if rng.random() < 0.5 else math.exp(rng.uniform(math.log(0.01), math.log(0.15)))
        p5 = 0.0 if rng.random() < 0.7 else math.exp(rng.uniform(math.log(0.002), math.log(0.04)))
        if kind == "tail":
            p4, p5 = 0.15, 0.05
        eps.append({"method": m, "host": h, "template": t, "shape": shape, "kind": kind,
                    "p4": p4, "p5": p5,
                    "median_us": math.exp(rng.uniform(math.log(2000), math.log(200000)))})
    health = [
        {"method": "GET", "host": API, "template": "/healthz", "shape": "health",
         "kind": "health", "period_us": 250000, "median_us": 800},
        {"method": "GET", "host": API, "template": "/ready", "shape": "health",
         "kind": "health", "period_us": 1000000, "median_us": 600},
    ]
    outage = rng.randint(0, max(0, span_us - 30_000_000))

    # When each exchange happens.
    plan = []  # (ts_us, endpoint index in all_eps, lb index or None)
    all_eps = health + eps
    for hi, ep in enumerate(health):
        for k, t in enumerate(range(rng.randint(0, ep["period_us"]), span_us, ep["period_us"])):
            plan.append((t + rng.randint(-20000, 20000) if t > 20000 else t, hi, k % 4))
    tail_total = 0
    for i, ep in enumerate(eps):
        if ep["kind"] == "tail":
            for _ in range(rng.randint(1, 3)):
                plan.append((rng.randrange(span_us), len(health) + i, None))
                tail_total += 1
    zipf_total = int(60000 * scale * 0.7) - tail_total
    zipf_eps = [i for i, ep in enumerate(eps) if ep["kind"] == "zipf"]
    for i, c in zip(zipf_eps, zipf_counts(rng, len(zipf_eps), zipf_total, 1.1)):
        for _ in range(c):
            plan.append((rng.randrange(span_us), len(health) + i, None))
    plan.sort()

    # Connections and packets.
    clients = ["10.2.%d.%d" % (k // 200, 10 + k % 200) for k in range(40)]
    lbs = ["10.3.0.%d" % (k + 1) for k in range(4)]
    conns = {}  # client address -> list of open connections
    packets = []  # (t_us, order, src, dst, sport, dport, seq, ack, flags, payload)
    order = [0]
    next_port = [20000]
    n_conns = [0]

    def emit(t, src, dst, sp, dp, seq, ack, flags, payload=b""):
        order[0] += 1
        packets.append((t, order[0], src, dst, sp, dp, seq, ack, flags, payload))

    def open_conn(client, t):
        port = next_port[0]
        next_port[0] = 20000 + (next_port[0] - 20000 + 1) % 40000
        n_conns[0] += 1
        c = {"client": client, "port": port, "cseq": rng.getrandbits(32),
             "sseq": rng.getrandbits(32), "busy": t, "last": t, "n": 0}
        emit(t - 300, client, SERVER, port, SPORT, c["cseq"], 0, SYN)
        emit(t - 200, SERVER, client, SPORT, port, c["sseq"], c["cseq"] + 1, SYN | ACK)
        c["cseq"] += 1
        c["sseq"] += 1
        emit(t - 100, client, SERVER, port, SPORT, c["cseq"], c["sseq"], ACK)
        return c

    def close_conn(c, t):
        cl, p = c["client"], c["port"]
        emit(t, cl, SERVER, p, SPORT, c["cseq"], c["sseq"], FIN | ACK)
        emit(t + 50, SERVER, cl, SPORT, p, c["sseq"], c["cseq"] + 1, FIN | ACK)
        emit(t + 100, cl, SERVER, p, SPORT, c["cseq"] + 1, c["sseq"] + 1, ACK)

    def conn_for(client, t):
        pool = conns.setdefault(client, [])
        for c in list(pool):
            if c["busy"] < t - 1000 and (t - c["last"] > 30_000_000 or c["n"] >= 200):
                close_conn(c, min(t - 500, c["last"] + 30_000_000))
                pool.remove(c)
        for c in pool:
            if c["busy"] < t - 1000:
                return c
        c = open_conn(client, t)
        pool.append(c)
        return c

    records = []
    for ts, ei, lb in plan:
        ep = all_eps[ei]
        if ep["kind"] == "health":
            status = 503 if outage <= ts < outage + 30_000_000 else 200
            client = lbs[lb]
        else:
            status = status_for(rng, ep, ep["p4"], ep["p5"])
            client = rng.choice(clients)
        target = ids.fill(ep["template"])
        if ep["shape"] == "list" and rng.random() < 0.6:
            target += "?page=%d&limit=%d" % (rng.randint(1, 20), rng.choice([10, 50, 100]))
        head = "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\nAccept: application/json\r\n" % (
            ep["method"], target, ep["host"],
            "ELB-HealthChecker/2.0" if ep["kind"] == "health" else "shop-client/3.4")
        req = {"head": head}
        if ep["method"] in ("POST", "PUT", "PATCH"):
            req["head"] += "Content-Type: application/json\r\n"
            req["body"] = body(rng, rng.randint(30, 400))
        resp_head = "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n" % (status, REASONS[status])
        resp = {"head": resp_head, "body": "" if status == 204 else body(rng, rng.randint(20, 900))}
        req_b, resp_b = message_bytes(req, False), message_bytes(resp, True)
        dur = max(100, int(ep["median_us"] * math.exp(rng.gauss(0, 0.6))))
        if status >= 400:
            dur = max(100, dur // 3)
        c = conn_for(client, ts)
        t = ts
        for i in range(0, len(req_b), MSS):
            seg = req_b[i:i + MSS]
            emit(t, client, SERVER, c["port"], SPORT, c["cseq"], c["sseq"], PSH | ACK, seg)
            c["cseq"] += len(seg)
            t += 10
        t = ts + dur
        for i in range(0, len(resp_b), MSS):
            seg = resp_b[i:i + MSS]
            end = t
            emit(t, SERVER, client, SPORT, c["port"], c["sseq"], c["cseq"], PSH | ACK, seg)
            c["sseq"] += len(seg)
            t += 10
        emit(t + 20, client, SERVER, c["port"], SPORT, c["cseq"], c["sseq"], ACK)
        c["busy"] = c["last"] = t + 20
        c["n"] += 1
        start_us = int(round(START * 1e6))
        records.append({"ts_us": start_us + ts, "end_us": start_us + end,
                        "method": ep["method"], "host": ep["host"], "target": target,
                        "template": ep["template"], "status": status, "kind": ep["kind"]})
    for pool in conns.values():
        for c in pool:
            close_conn(c, c["last"] + 1000)

    if a.out:
        packets.sort(key=lambda p: (p[0], p[1]))
        w = FastWriter(a.out, START, 0)
        start_us = w.t_us
        for t, _, src, dst, sp, dp, seq, ack, flags, payload in packets:
            w.t_us = start_us + t
            w.packet(src, dst, sp, dp, seq, ack, flags, payload)
        w.close()
    if a.exchanges:
        with open(a.exchanges, "w", encoding="utf-8") as f:
            for r in records:
                f.write(json.dumps(r, separators=(",", ":")) + "\n")

    # The truth.
    per = {}
    for r in records:
        k = (r["method"], r["host"], r["template"])
        e = per.setdefault(k, {"method": k[0], "host": k[1], "template": k[2],
                               "kind": r["kind"], "exchanges": 0, "4xx": 0, "5xx": 0})
        e["exchanges"] += 1
        if 400 <= r["status"] < 500:
            e["4xx"] += 1
        elif r["status"] >= 500:
            e["5xx"] += 1
    lst = sorted(per.values(), key=lambda e: (-e["exchanges"], e["host"], e["template"], e["method"]))
    truth = {
        "seed": a.seed,
        "minutes": a.minutes,
        "exchanges": len(records),
        "packets": len(packets),
        "connections": n_conns[0],
        "endpoints": len(per),
        "pairs": sum((e["4xx"] > 0) + (e["5xx"] > 0) for e in lst),
        "errors_4xx": sum(e["4xx"] for e in lst),
        "errors_5xx": sum(e["5xx"] for e in lst),
        "health_share": round(sum(e["exchanges"] for e in lst if e["kind"] == "health")
                              / max(1, len(records)), 4),
        "tail_endpoints": sum(1 for e in lst if e["kind"] == "tail"),
        "endpoint_list": lst,
    }
    json.dump(truth, sys.stdout, separators=(",", ":"))
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
