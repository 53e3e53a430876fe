#!/usr/bin/env python3
"""tcpdump on loopback for one port, with exact ends: a capture the tests and
tests/data/h2/record_peers.py can trust to hold every packet up to a point, without sleeping.
Python 3 standard library and tcpdump (Debian's tcpdump); needs root.

Usage: h2_tcpdump.py OUT PORT [--mid-out MID]

Starts `tcpdump -i lo -U -s 0 -w OUT 'tcp port PORT or udp port PORT'`, waits for its
"listening on" line, prints "capturing". Then reads commands on stdin:
  mark   sends a UDP datagram to 127.0.0.1:PORT, waits until tcpdump has written it (every
         packet before it is in the file then), prints "mark K": K is the number the next
         TCP packet will have in the final capture (1-based)
  stop   (or end of input) the same with an end marker, then stops tcpdump, rewrites OUT
         without the UDP markers (what `tcp port PORT` alone would have captured), writes
         MID (when asked) with the TCP packets from the last mark on, and prints
         "stopped N" (N packets in OUT)
A capture that starts mid-connection is the suffix MID: exactly what a tcpdump started at
the mark would have written.
"""

import os
import selectors
import signal
import socket
import struct
import subprocess
import sys
import time

DEADLINE = 30
MARKER = b"pcap-sensor-h2-marker"


def read_packets(path):
    """(header bytes, [(record bytes, is_udp_marker)]) of a pcap file, tolerating a
    partially written last record."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return None, []
    magic = data[:4]
    endian = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    out, at = [], 24
    while at + 16 <= len(data):
        incl = struct.unpack(endian + "I", data[at + 8:at + 12])[0]
        if at + 16 + incl > len(data):
            break
        frame = data[at + 16:at + 16 + incl]
        out.append((data[at:at + 16 + incl], is_marker(linktype, frame)))
        at += 16 + incl
    return data[:24], out


def is_marker(linktype, frame):
    ip = {1: frame[14:], 113: frame[16:], 276: frame[20:], 0: frame[4:], 108: frame[4:],
          101: frame, 12: frame}.get(linktype, b"")
    if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 17:
        return False
    return MARKER in ip[(ip[0] & 15) * 4 + 8:]


class Dump:
    def __init__(self, out, port):
        self.out, self.port, self.markers = out, port, 0
        self.proc = subprocess.Popen(
            ["tcpdump", "-i", "lo", "-U", "-s", "0", "-w", out,
             "tcp port %d or udp port %d" % (port, port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stderr, selectors.EVENT_READ)
        deadline = time.monotonic() + DEADLINE
        seen = b""
        while b"listening on" not in seen:
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                self.proc.kill()
                raise SystemExit("tcpdump did not say 'listening on': %r" % seen)
            chunk = os.read(self.proc.stderr.fileno(), 4096)
            if not chunk:
                raise SystemExit("tcpdump exited: %r" % seen)
            seen += chunk

    def mark(self):
        """Sends a marker and waits until the file has it; returns the TCP packets before."""
        self.markers += 1
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.sendto(MARKER, ("127.0.0.1", self.port))
        s.close()
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            _, packets = read_packets(self.out)
            if sum(m for _, m in packets) >= self.markers:
                return sum(1 for _, m in packets if not m)
            time.sleep(0.01)  # polling the file tcpdump writes: no pipe tells when
        raise SystemExit("tcpdump did not write marker %d within %ds" % (self.markers,
                                                                         DEADLINE))

    def stop(self, mid_out, mid_from):
        self.mark()
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=DEADLINE)
        header, packets = read_packets(self.out)
        tcp = [rec for rec, m in packets if not m]
        with open(self.out, "wb") as f:
            f.write(header + b"".join(tcp))
        if mid_out:
            with open(mid_out, "wb") as f:
                f.write(header + b"".join(tcp[mid_from - 1:]))
        return len(tcp)


def main():
    args = sys.argv[1:]
    mid_out = None
    if "--mid-out" in args:
        i = args.index("--mid-out")
        mid_out = args[i + 1]
        del args[i:i + 2]
    if len(args) != 2:
        sys.stderr.write(__doc__)
        return 2
    dump = Dump(args[0], int(args[1]))
    print("capturing", flush=True)
    mid_from = 1
    for line in sys.stdin:
        if line.strip() == "mark":
            mid_from = dump.mark() + 1
            print("mark %d" % mid_from, flush=True)
        elif line.strip() == "stop":
            break
    print("stopped %d" % dump.stop(mid_out, mid_from), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
