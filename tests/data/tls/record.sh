#!/bin/sh
# Records the TLS ClientHellos in tests/data/tls/ (the unit tests of src/tls/client_hello.rs
# read them): a listener on loopback takes one connection, keeps the handshake records that hold
# the client's first handshake message, saves them as sent (record headers included) and
# closes; the client's handshake then fails, which is expected.
#   curl.bin            curl 7.88 (OpenSSL 3.0) https://payments.example.com:PORT/ via --resolve:
#                       server_name payments.example.com, ALPN h2,http/1.1
#   openssl-alpn.bin    openssl s_client -servername api.example.com -alpn h2,http/1.1
#   openssl-tls12.bin   openssl s_client -tls1_2 -servername legacy.example.com (no ALPN)
#   openssl-noname.bin  openssl s_client -noservername (no server_name, no ALPN)
# Run from the repository: sh tests/data/tls/record.sh [DIR]
set -eu
OUT=${1:-tests/data/tls}
GRAB=$(mktemp)
trap 'rm -f "$GRAB" "$GRAB.port"' EXIT
cat >"$GRAB" <<'PY'
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(1)
print(s.getsockname()[1], flush=True)
c, _ = s.accept()
c.settimeout(5)
buf, pos, hs = b"", 0, b""
def need(n):
    global buf
    while len(buf) < n:
        d = c.recv(65536)
        if not d:
            raise SystemExit("the client closed before its first handshake message was whole")
        buf += d
while True:
    need(pos + 5)
    n = int.from_bytes(buf[pos + 3:pos + 5], "big")
    need(pos + 5 + n)
    hs += buf[pos + 5:pos + 5 + n]
    pos += 5 + n
    if len(hs) >= 4 and len(hs) >= 4 + int.from_bytes(hs[1:4], "big"):
        break
open(sys.argv[1], "wb").write(buf[:pos])
c.close()
PY
# grab FILE CLIENT-COMMAND (PORT in the command is the listener's port)
grab() {
  file=$OUT/$1
  rm -f "$GRAB.port"
  python3 "$GRAB" "$file" >"$GRAB.port" &
  pid=$!
  n=0 # the listener prints its port once it listens
  while [ ! -s "$GRAB.port" ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
  PORT=$(head -n 1 "$GRAB.port")
  shift
  eval "$@" </dev/null >/dev/null 2>&1 || true
  wait "$pid"
  echo "recorded $file ($(wc -c <"$file") bytes)"
}
grab curl.bin 'curl -sS --max-time 5 --resolve payments.example.com:$PORT:127.0.0.1 https://payments.example.com:$PORT/'
grab openssl-alpn.bin 'timeout 5 openssl s_client -connect 127.0.0.1:$PORT -servername api.example.com -alpn h2,http/1.1'
grab openssl-tls12.bin 'timeout 5 openssl s_client -connect 127.0.0.1:$PORT -tls1_2 -servername legacy.example.com'
grab openssl-noname.bin 'timeout 5 openssl s_client -connect 127.0.0.1:$PORT -noservername'
