#!/bin/sh
# Records tests/data/h2/nghttp2.pcap: HTTP/2 cleartext (prior knowledge) on loopback between
# nghttpd and its clients (nghttp2 1.52, Debian's nghttp2-server / nghttp2-client), plus curl.
# Exercises: server push (PUSH_PROMISE), padding both ways (-b), CONTINUATION (nghttp
# --continuation), PRIORITY frames (nghttp's dependency hints), POST bodies, several streams in
# flight (h2load -m), DATA frames of text, random bytes, zeros and small big-endian integers.
# Run as root (tcpdump on lo): sh tests/data/h2/record.sh [OUT.pcap]
set -eu
OUT=${1:-tests/data/h2/nghttp2.pcap}
PORT=${PORT:-18080}
DIR=$(mktemp -d)
trap 'kill $SRV $DUMP 2>/dev/null || true; rm -rf "$DIR"' EXIT
mkdir "$DIR/www"
python3 - "$DIR" <<'PY'
import json, random, struct, sys
random.seed(17)
d = sys.argv[1]
w = d + "/www/"
html = ("<!doctype html>\n<html><head><title>h2 sample</title>"
        "<link rel=stylesheet href=/style.css></head><body>\n"
        + "".join(f"<p>Paragraph {i}: the quick brown fox jumps over the lazy dog.</p>\n"
                  for i in range(25))
        + "</body></html>\n")
open(w + "index.html", "w").write(html)
open(w + "style.css", "w").write("body { font-family: sans-serif; margin: 2em; }\n" * 12)
open(w + "data.json", "w").write(json.dumps(
    [{"id": i, "name": f"item-{i}", "price": round(random.random() * 100, 2),
      "tags": ["a", "b", "c"][: i % 4]} for i in range(60)]))
open(w + "blob.bin", "wb").write(bytes(random.getrandbits(8) for _ in range(20000)))
open(w + "zeros.bin", "wb").write(bytes(12000))
open(w + "ints.bin", "wb").write(
    b"".join(struct.pack(">I", random.randrange(0, 300)) for _ in range(3000)))
open(d + "/post.json", "w").write(json.dumps({"query": "x" * 700}))
PY
tcpdump -i lo -U -s 0 -w "$OUT" "tcp port $PORT" 2>/dev/null &
DUMP=$!
nghttpd --no-tls -a 127.0.0.1 -d "$DIR/www" -b 16 -p /index.html=/style.css "$PORT" >/dev/null &
SRV=$!
sleep 1
U=http://127.0.0.1:$PORT
# Push, server padding, client padding, CONTINUATION, PRIORITY frames.
nghttp -n -b 8 --continuation "$U/index.html" "$U/data.json"
# A POST body and a zero-filled download.
nghttp -n --no-dep -d "$DIR/post.json" "$U/data.json"
nghttp -n "$U/zeros.bin" "$U/ints.bin"
# Several connections, several streams in flight each.
h2load -n 12 -c 2 -m 4 "$U/index.html" "$U/blob.bin" "$U/data.json" >/dev/null
curl -s --http2-prior-knowledge -o /dev/null "$U/style.css"
sleep 1
