#!/usr/bin/env python3
"""Writes a pcap (Ethernet, IPv4, TCP) of HTTP/1.x exchanges described by a JSON
spec (a file, or stdin), for tests/policy.rs. Standard library only.

usage: policy_mkpcap.py OUT.pcap [SPEC.json]   (the spec from stdin when not given)

spec = {
  "start": 1714564800.0,          # time of the first packet (seconds), optional
  "gap_us": 50,                   # time between packets, optional
  "connections": [{
    "client": "10.1.0.1", "server": "10.1.0.2",   # optional
    "cport": 40000, "sport": 80,                  # optional (cport: unique per connection)
    "exchanges": [{"request": MSG, "response": MSG or null}, ...]
  }, ...]
}
MSG = {
  "head": "GET /a HTTP/1.1\\r\\nHost: x\\r\\n",   # start line and headers, each ending in CRLF,
                                                # without the blank line
  "body": "text" | "body_hex": "00ff..",       # optional, default empty
  "encode": "gzip" | "deflate",                 # optional: compress body, add Content-Encoding
  "chunked": true,                              # optional: Transfer-Encoding: chunked
  "length": true | false                        # Content-Length (default: responses always,
                                                # requests when the body is not empty)
}
Every connection has a full handshake, data segments of at most 1400 bytes with
correct sequence and acknowledgement numbers, and a FIN exchange at the end.
Connections follow each other in time, in the order given.
Prints a JSON list with, for each exchange in order, the time (microseconds
since 1970) of its request's first packet and of its response's last packet:
[{"request_us": N, "response_end_us": N or null}, ...]
"""

import gzip
import json
import struct
import sys
import zlib

MSS = 1400


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ip_bytes(addr):
    return bytes(int(x) for x in addr.split("."))


class Writer:
    def __init__(self, path, start, gap_us):
        self.f = open(path, "wb")
        # pcap global header: magic, v2.4, tz 0, sigfigs 0, snaplen, linktype 1 (Ethernet)
        self.f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        self.t_us = int(round(start * 1_000_000))
        self.gap_us = gap_us
        self.ip_id = 1

    def packet(self, src, dst, sport, dport, seq, ack, flags, payload=b""):
        tcp_len = 20
        tcp = struct.pack(
            "!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
            (tcp_len // 4) << 4, flags, 65535, 0, 0,
        )
        pseudo = ip_bytes(src) + ip_bytes(dst) + struct.pack("!BBH", 0, 6, tcp_len + len(payload))
        csum = checksum(pseudo + tcp + payload)
        tcp = tcp[:16] + struct.pack("!H", csum) + tcp[18:]
        total = 20 + tcp_len + len(payload)
        ip = struct.pack(
            "!BBHHHBBH4s4s", 0x45, 0, total, self.ip_id & 0xFFFF, 0x4000, 64, 6, 0,
            ip_bytes(src), ip_bytes(dst),
        )
        self.ip_id += 1
        ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
        eth = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00"
        frame = eth + ip + tcp + payload
        self.f.write(struct.pack("<IIII", self.t_us // 1_000_000, self.t_us % 1_000_000,
                                 len(frame), len(frame)))
        self.f.write(frame)
        self.t_us += self.gap_us

    def close(self):
        self.f.close()


FIN, SYN, PSH, ACK = 0x01, 0x02, 0x08, 0x10


def message_bytes(msg, is_response):
    if msg.get("body_hex") is not None:
        body = bytes.fromhex(msg["body_hex"])
    else:
        body = msg.get("body", "").encode("utf-8")
    head = msg["head"]
    enc = msg.get("encode")
    if enc == "gzip":
        body = gzip.compress(body, mtime=0)
        head += "Content-Encoding: gzip\r\n"
    elif enc == "deflate":
        body = zlib.compress(body)
        head += "Content-Encoding: deflate\r\n"
    elif enc is not None:
        raise SystemExit("unknown encode %r" % enc)
    if msg.get("chunked"):
        head += "Transfer-Encoding: chunked\r\n"
        out = b""
        for i in range(0, len(body), 100):
            piece = body[i:i + 100]
            out += b"%x\r\n" % len(piece) + piece + b"\r\n"
        body = out + b"0\r\n\r\n"
    else:
        length = msg.get("length", is_response or len(body) > 0)
        if length:
            head += "Content-Length: %d\r\n" % len(body)
    return head.encode("latin-1") + b"\r\n" + body


def main():
    if len(sys.argv) not in (2, 3):
        raise SystemExit("usage: policy_mkpcap.py OUT.pcap [SPEC.json]")
    if len(sys.argv) == 3:
        with open(sys.argv[2], encoding="utf-8") as f:
            spec = json.load(f)
    else:
        spec = json.load(sys.stdin)
    w = Writer(sys.argv[1], spec.get("start", 1714564800.0), spec.get("gap_us", 50))
    times = []
    for n, conn in enumerate(spec["connections"]):
        c, s = conn.get("client", "10.1.0.1"), conn.get("server", "10.1.0.2")
        cp, sp = conn.get("cport", 40000 + n), conn.get("sport", 80)
        cseq, sseq = 1000 + n * 7919, 500000 + n * 104729
        w.packet(c, s, cp, sp, cseq, 0, SYN)
        w.packet(s, c, sp, cp, sseq, cseq + 1, SYN | ACK)
        cseq += 1
        sseq += 1
        w.packet(c, s, cp, sp, cseq, sseq, ACK)
        for ex in conn["exchanges"]:
            req = message_bytes(ex["request"], False)
            times.append({"request_us": w.t_us, "response_end_us": None})
            for i in range(0, len(req), MSS):
                seg = req[i:i + MSS]
                w.packet(c, s, cp, sp, cseq, sseq, PSH | ACK, seg)
                cseq += len(seg)
            if ex.get("response") is not None:
                resp = message_bytes(ex["response"], True)
                for i in range(0, len(resp), MSS):
                    seg = resp[i:i + MSS]
                    times[-1]["response_end_us"] = w.t_us
                    w.packet(s, c, sp, cp, sseq, cseq, PSH | ACK, seg)
                    sseq += len(seg)
                w.packet(c, s, cp, sp, cseq, sseq, ACK)
        w.packet(c, s, cp, sp, cseq, sseq, FIN | ACK)
        cseq += 1
        w.packet(s, c, sp, cp, sseq, cseq, FIN | ACK)
        sseq += 1
        w.packet(c, s, cp, sp, cseq, sseq, ACK)
    w.close()
    json.dump(times, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
