#!/usr/bin/env python3
"""Write the capture of tests/hostile.rs's hundred_thousand_flows_syn_flood, byte for byte.

usage: flood.py OUT.pcap [FLOWS]   (FLOWS: 100000 as in the test)

FLOWS distinct connections to 10.0.0.80:80 open with a SYN, every other one then sends the
start of a request head that never ends; three good exchanges (one of them answered in the
middle of the flood) come out whole. Classic pcap, Ethernet, microsecond timestamps from
2024-05-01T12:00:00Z. Prints the number of packets. bench/run.sh times the sensor on it.
"""

import struct
import sys

SYN, FIN, PSH, ACK = 0x02, 0x01, 0x08, 0x10
PATTERN = b"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-\n"


class Pcap:
    def __init__(self):
        self.parts = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)]
        self.ts_us = 1_714_564_800_000_000
        self.packets = 0

    def frame(self, step_us, frame):
        self.ts_us += step_us
        s, us = divmod(self.ts_us, 1_000_000)
        self.parts.append(struct.pack("<IIII", s, us, len(frame), len(frame)) + frame)
        self.packets += 1


def tcp_frame(src, dst, seq, ack, flags, payload=b""):
    ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40 + len(payload), 0, 0x4000, 64, 6, 0,
                               bytes(src[0]), bytes(dst[0])))
    total = sum(struct.unpack("!10H", ip))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    ip[10:12] = struct.pack("!H", ~total & 0xFFFF)
    tcp = struct.pack("!HHIIBBHHH", src[1], dst[1], seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4,
                      flags, 65535, 0, 0)
    return bytes([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 8, 0]) + bytes(ip) + tcp + payload


class Conn:
    def __init__(self, p, client, server, isn):
        self.ends = [client, server]
        self.next = [(isn[0] + 1) & 0xFFFFFFFF, (isn[1] + 1) & 0xFFFFFFFF]
        p.frame(10, tcp_frame(client, server, isn[0], 0, SYN))
        p.frame(10, tcp_frame(server, client, isn[1], self.next[0], SYN | ACK))
        p.frame(10, self.raw(0, self.next[0], ACK))

    def raw(self, d, seq, flags, payload=b""):
        return tcp_frame(self.ends[d], self.ends[1 - d], seq, self.next[1 - d], flags, payload)

    def send(self, p, d, data, mss=1460):
        for i in range(0, len(data), mss):
            part = data[i:i + mss]
            p.frame(5, self.raw(d, self.next[d], ACK | PSH, part))
            self.next[d] = (self.next[d] + len(part)) & 0xFFFFFFFF
        p.frame(5, self.raw(1 - d, self.next[1 - d], ACK))

    def close(self, p):
        for d in (0, 1):
            p.frame(10, self.raw(d, self.next[d], FIN | ACK))
            self.next[d] = (self.next[d] + 1) & 0xFFFFFFFF
        p.frame(10, self.raw(0, self.next[0], ACK))


def response(body):
    return (b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body)) + body


def main():
    out, flows = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    server = ((10, 0, 0, 80), 80)
    bodies = [(PATTERN * (1 + n // len(PATTERN)))[:n] for n in (1000 + 7000 * k for k in range(3))]
    p = Pcap()

    def good(k, whole):
        c = Conn(p, ((192, 168, 1, 1), 40000 + k), server, [1000 * k, 5000 * k])
        c.send(p, 0, b"GET /good/%d HTTP/1.1\r\nHost: api.example\r\nAccept: */*\r\n\r\n" % k)
        if whole:
            c.send(p, 1, response(bodies[k]))
            c.close(p)
        return c

    good(0, True)
    pending = None
    for i in range(flows):
        if i == flows // 2:
            pending = good(1, False)
        if i == flows // 2 + 1000:
            pending.send(p, 1, response(bodies[1]))
            pending.close(p)
            pending = None
        client = ((172, (16 + (i >> 16)) & 0xFF, (i >> 8) & 0xFF, i & 0xFF), 1024 + i % 50_000)
        isn = (i * 2_654_435_761) & 0xFFFFFFFF
        p.frame(1, tcp_frame(client, server, isn, 0, SYN))
        if i % 2 == 1:
            head = b"GET /flood/%d HTTP/1.1\r\nHost: api.example\r\nX-Partial: never-ends" % i
            p.frame(1, tcp_frame(client, server, isn + 1, 1, ACK | PSH, head))
    good(2, True)
    with open(out, "wb") as f:
        f.write(b"".join(p.parts))
    print(p.packets)


if __name__ == "__main__":
    main()
