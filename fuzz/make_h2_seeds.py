#!/usr/bin/env python3
"""Writes the seed corpus fuzz/seeds/h2/ from the recorded HTTP/2 and gRPC captures.

Usage: python3 fuzz/make_h2_seeds.py [OUT_DIR]      (default: fuzz/seeds/h2 next to this file)

The captures are tests/data/h2/*.pcap (real peers: nghttpd and h2load, hypercorn and curl,
grpcio; tests/data/h2/record_peers.py). tshark gives each TCP connection's two byte
streams and every HEADERS frame's header block; they are written in the input format of
harness::h2 (fuzz/harness.rs):
`[max-body sel][flags][client len u16][client][server len u16][server][split sizes...]`
- each connection from its preface (flag 1, the preface itself left out), whole and with
  two split schedules, and its server's bytes from the middle (no preface);
- each side's header blocks as `[len u8][block]...` (blocks under 256 bytes), for the
  HPACK check, with 0, 1 and 3 blocks missed by the mid-connection decoder.

Deterministic (file names are content hashes); the seeds are committed. Needs tshark.
"""

import hashlib
import json
import os
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "tests", "data", "h2")
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def tshark(pcap, port, *fields, filt):
    args = ["tshark", "-r", pcap, "-d", "tcp.port==%d,http2" % port, "-Y", filt, "-T", "fields"]
    for f in fields:
        args += ["-e", f]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return [line.split("\t") for line in out.splitlines()]


def blob(b):
    b = b[:65535]
    return struct.pack("<H", len(b)) + b


def seed(flags, client, server, splits=b"", mb=0):
    return bytes([mb, flags]) + blob(client) + blob(server) + splits


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "seeds", "h2")
    os.makedirs(out, exist_ok=True)
    manifest = json.load(open(os.path.join(DATA, "manifest.json")))
    seeds = []
    for name, m in sorted(manifest.items()):
        pcap = os.path.join(DATA, name + ".pcap")
        port = m["port"]
        streams = {}
        for st, sport, payload in tshark(pcap, port, "tcp.stream", "tcp.srcport", "tcp.payload", filt="tcp.len>0"):
            side = 1 if int(sport) == port else 0
            streams.setdefault(int(st), [b"", b""])[side] += bytes.fromhex(payload)
        for client, server in streams.values():
            if client.startswith(PREFACE):
                c = client[len(PREFACE):]
                seeds.append(seed(1, c, server))
                seeds.append(seed(1, c, server, bytes([0, 8, 23, 200, 1, 99]) * 8, mb=3))
                seeds.append(seed(3, c, server, bytes(range(0, 250, 7)), mb=1))
            seeds.append(seed(0, client[len(client) // 2:], server[len(server) // 3:]))
        blocks = [b"", b""]
        for sport, frags in tshark(pcap, port, "tcp.srcport", "http2.headers", filt="http2.type==1"):
            side = 1 if int(sport) == port else 0
            for f in frags.split(","):
                b = bytes.fromhex(f)
                if 0 < len(b) < 256:
                    blocks[side] += bytes([len(b)]) + b
        for side in blocks:
            if side:
                for missed in (0, 1, 3):
                    seeds.append(seed(missed << 4, side, b""))
    for s in seeds:
        h = hashlib.sha256(s).hexdigest()[:16]
        with open(os.path.join(out, h + ".bin"), "wb") as f:
            f.write(s)
    print("make_h2_seeds: %d seeds in %s" % (len(set(seeds)), out))


if __name__ == "__main__":
    main()
