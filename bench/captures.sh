#!/usr/bin/env bash
# bench/captures.sh OUTDIR N_A N_B: record the bench's two captures, on loopback only:
# wrk → nginx (bench/nginx.conf.in, on a free port of 127.0.0.1), recorded by tcpdump:
#   OUTDIR/A.pcap  keep-alive GETs of a 2 KB JSON file (Content-Length), N_A exchanges;
#   OUTDIR/B.pcap  POSTs with JSON bodies and GETs answered with chunked JSON
#                  (bench/mixed.lua), N_B exchanges.
# wrk runs at its top rate until nginx's access log has the wanted number of exchanges.
# What was recorded goes to OUTDIR/captures.txt as KEY=VALUE lines (cap.port, and per
# capture cap.X.exchanges, .posts, .non200, .bytes, .packets, .tcpdump_drops, .seconds),
# written last: a captures.txt means both captures are complete.
# Used by bench/run.sh (full size) and by ./build.sh compare (small ones, cached).
# Needs nginx, wrk, tcpdump (and the right to capture on lo).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
[ $# = 3 ] || { echo "usage: bench/captures.sh OUTDIR N_A N_B" >&2; exit 2; }
OUT="$(mkdir -p "$1" && realpath "$1")"
N_A="$2" N_B="$3"
NG="$OUT/.nginx" # nginx's own files: configuration, logs, temporary folders
T0=$(date +%s)

say() { echo "captures: [$(($(date +%s) - T0)) s] $*" >&2; }
die() { echo "captures: $*" >&2; exit 1; }

for t in nginx wrk tcpdump python3; do
  command -v "$t" >/dev/null || die "$t is not installed"
done

rm -rf "$NG" "$OUT/captures.txt"
mkdir -p "$NG/tmp"
FACTS="$NG/captures.txt"
: >"$FACTS"
put() { printf '%s=%s\n' "$1" "$2" >>"$FACTS"; }

NGINX_PID="" TD_PID="" WRK_PID=""
cleanup() {
  local p
  for p in $WRK_PID $TD_PID $NGINX_PID; do
    kill "$p" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  rm -rf "$NG"
}
trap cleanup EXIT

# wait_for DESCRIPTION SECONDS COMMAND...: poll COMMAND every 50 ms until it succeeds.
wait_for() {
  local what="$1" secs="$2" deadline
  shift 2
  deadline=$(($(date +%s%N) + secs * 1000000000))
  until "$@"; do
    [ "$(date +%s%N)" -lt "$deadline" ] || die "timed out waiting for $what"
    sleep 0.05
  done
}
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed -e "s|@WORK@|$NG|g" -e "s|@ROOT@|$ROOT/bench/www|g" -e "s|@PORT@|$PORT|g" \
  bench/nginx.conf.in >"$NG/nginx.conf"
nginx -e "$NG/nginx-error.log" -p "$NG" -c "$NG/nginx.conf" &
NGINX_PID=$!
wait_for "nginx on port $PORT" 10 listening "$PORT"
put cap.port "$PORT"

# capture NAME EXCHANGES WRK-ARGS...: wrk at its top rate until nginx has answered
# EXCHANGES requests, all of it recorded by tcpdump (whole packets: GRO makes 64 KiB ones).
capture() {
  local name="$1" want="$2" pcap="$OUT/$1.pcap" err="$OUT/$1.tcpdump.err"
  shift 2
  say "capture $name: wrk → nginx, $want exchanges, tcpdump -s 262144"
  : >"$NG/access.log"
  rm -f "$pcap"
  tcpdump -i lo -s 262144 -B 262144 -w "$pcap" "tcp port $PORT" 2>"$err" &
  TD_PID=$!
  wait_for "tcpdump" 10 grep -qs 'listening on' "$err"
  local t0 t1
  t0=$(date +%s%N)
  wrk -t1 -c8 -d300s "$@" >"$OUT/$name.wrk" 2>&1 &
  WRK_PID=$!
  wait_for "$want exchanges" 280 bash -c "[ \$(wc -l <'$NG/access.log') -ge $want ] || ! kill -0 $WRK_PID 2>/dev/null"
  kill -INT "$WRK_PID" 2>/dev/null || true
  wait "$WRK_PID" || true
  WRK_PID=""
  t1=$(date +%s%N)
  # tcpdump gets packets in blocks that the kernel hands over when full or after its
  # 1 s read timeout; what is still in the ring at SIGINT is lost (and not counted).
  sleep 1.5
  kill -INT "$TD_PID"
  wait "$TD_PID" || true
  TD_PID=""
  put "cap.$name.exchanges" "$(wc -l <"$NG/access.log")"
  put "cap.$name.posts" "$(grep -c ' POST ' "$NG/access.log" || true)"
  put "cap.$name.non200" "$(grep -vc '^200 ' "$NG/access.log" || true)"
  put "cap.$name.bytes" "$(stat -c %s "$pcap")"
  put "cap.$name.packets" "$(sed -n 's/^\([0-9]*\) packets captured.*/\1/p' "$err")"
  put "cap.$name.tcpdump_drops" "$(sed -n 's/^\([0-9]*\) packets dropped by kernel.*/\1/p' "$err")"
  put "cap.$name.seconds" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')"
}
capture A "$N_A" "http://127.0.0.1:$PORT/data.json"
capture B "$N_B" -s bench/mixed.lua "http://127.0.0.1:$PORT/"
mv "$FACTS" "$OUT/captures.txt"
say "done: $OUT/A.pcap, $OUT/B.pcap"
