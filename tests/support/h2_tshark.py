#!/usr/bin/env python3
"""The truth about the HTTP/2 header blocks of a capture, as tshark decodes them: one TSV
row per header field of every HEADERS frame (tests/h2_captures.rs, tests/h2_live.rs,
tests/data/h2/record_peers.py). Python 3 standard library and tshark (Debian's tshark).

Usage: h2_tshark.py CAPTURE PORT [--from-frame K] [--upgrade] [--knowable]

Runs `tshark -r CAPTURE -d tcp.port==PORT,http2 -Y http2.type==1 -T json
--no-duplicate-keys` and prints, after a '#' line naming the columns:
  frame  block  tcp_stream  src_port  dst_port  stream_id  end_stream  name  value
one row per header field, in the order of the block; frames in capture order and, within a
packet, HEADERS frames in order (`block` numbers them from 0: a response's HEADERS and its
trailers often share a packet). Backslash, tab, CR and LF in a value are written \\\\, \\t,
\\r, \\n.

The same facts as `tshark ... -T fields -e tcp.stream -e http2.streamid -e http2.header.name
-e http2.header.value`, which cannot be paired safely: it joins the values of a packet with
commas (values contain commas: "identity, deflate, gzip"), and a packet holding several
HEADERS frames (h2load -m, gRPC) gives one line with every stream id of every frame type and
all their fields run together.

With --upgrade the port is decoded as HTTP (`-d tcp.port==PORT,http`), which follows an
`Upgrade: h2c` and its 101 into HTTP/2: connections that start with HTTP/1.1. The upgraded
request itself is HTTP/1.1 (no HEADERS frame, no row); its response is stream 1.

tshark decodes only connections whose preface (or Upgrade) it saw. For a capture that starts
mid-connection, decode the capture it was cut from (a suffix) and pass --from-frame K, K
being the first frame the cut kept: rows of earlier frames are left out and frame numbers
are renumbered to the cut's (frame - K + 1).

With --knowable (and --from-frame K), only the fields an HPACK decoder that starts at frame K
can know are printed: a static index, a literal whose name is new or known, an entry the
decoder saw inserted from frame K on (per direction, in order, evicted as the encoder's
4096-byte table evicts). A field referring to an entry inserted before K is left out. What
a capture that starts mid-connection can recover, field by field, from tshark's
representation of each field (`http2.header.repr`, `http2.header.index`).
"""

import json
import subprocess
import sys

COLUMNS = ["frame", "block", "tcp_stream", "src_port", "dst_port", "stream_id", "end_stream", "name",
           "value"]


def as_list(v):
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def escape(s):
    return (s.replace("\\", "\\\\").replace("\t", "\\t").replace("\r", "\\r")
            .replace("\n", "\\n"))


STATIC = 61
TABLE = 4096


class Table:
    """What a decoder started mid-connection knows of one direction's dynamic table: per
    entry, newest first, (name known, value known, size)."""

    def __init__(self):
        self.entries = []

    def get(self, index):
        if index <= STATIC:
            return (True, True)
        i = index - STATIC - 1
        if i < len(self.entries):
            return self.entries[i][:2]
        return (False, False)

    def insert(self, name_known, value_known, size):
        self.entries.insert(0, (name_known, value_known, size))
        while sum(e[2] for e in self.entries) > TABLE:
            self.entries.pop()


def knowable(h, table):
    """Whether a decoder knows field `h` (tshark's JSON of it); inserts as the encoder did."""
    repr_ = h.get("http2.header.repr", "")
    index = int(h.get("http2.header.index", "0") or 0)
    size = 32 + int(h.get("http2.header.name.length", "0")) + int(h.get("http2.header.value.length", "0"))
    if repr_ == "Indexed Header Field":
        n, v = table.get(index)
        return n and v
    name = True if repr_.endswith("New Name") else table.get(index)[0]
    if "Incremental Indexing" in repr_:
        table.insert(name, True, size)
    return name


def rows(capture, port, upgrade, first=1, known_only=False):
    out = subprocess.run(
        ["tshark", "-r", capture, "-d", "tcp.port==%d,%s" % (port, "http" if upgrade else "http2"),
         "-Y", "http2.type==1",
         "-T", "json", "--no-duplicate-keys"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    if out.returncode != 0:
        sys.stderr.write(out.stderr.decode(errors="replace"))
        sys.exit(1)
    tables = {}
    for packet in json.loads(out.stdout or b"[]"):
        layers = packet["_source"]["layers"]
        frame = int(as_list(layers["frame"])[0]["frame.number"])
        tcp = as_list(layers["tcp"])[0]
        ports = [int(tcp["tcp.stream"]), int(tcp["tcp.srcport"]), int(tcp["tcp.dstport"])]
        block = 0
        for http2 in as_list(layers.get("http2")):
            for stream in as_list(http2.get("http2.stream")):
                if stream.get("http2.type") != "1":
                    continue
                end = stream.get("http2.flags_tree", {}).get("http2.flags.end_stream") == "1"
                table = tables.setdefault((ports[0], ports[1]), Table())
                for h in as_list(stream.get("http2.header")):
                    if known_only and (frame < first or not knowable(h, table)):
                        continue
                    yield [frame, block] + ports + [int(stream["http2.streamid"]), int(end),
                                                    h.get("http2.header.name", ""),
                                                    h.get("http2.header.value", "")]
                block += 1


def main():
    args = sys.argv[1:]
    first = 1
    upgrade = "--upgrade" in args
    if upgrade:
        args.remove("--upgrade")
    known_only = "--knowable" in args
    if known_only:
        args.remove("--knowable")
    if "--from-frame" in args:
        i = args.index("--from-frame")
        first = int(args[i + 1])
        del args[i:i + 2]
    if len(args) != 2:
        sys.stderr.write(__doc__)
        return 2
    print("#" + "\t".join(COLUMNS))
    for r in rows(args[0], int(args[1]), upgrade, first, known_only):
        if r[0] < first:
            continue
        r[0] -= first - 1
        print("\t".join(str(x) for x in r[:7]) + "\t" + escape(r[7]) + "\t" + escape(r[8]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
