#!/usr/bin/env bash
# bench/h2.sh: the HTTP/2 row of the bench (issue 17). bench/run.sh runs it after its
# HTTP/1 rows; it also runs alone (`bench/h2.sh`, after `./build.sh` has built the
# binaries), printing the facts it measured.
#
# h2load drives nghttpd --no-tls on 127.0.0.1 (N requests for the bench's 2 KB JSON file,
# 4 connections, 10 streams in flight on each):
#   - recorded by tcpdump, then read offline by the sensor BENCH_REPS times: traces /
#     requests h2load had answered, CPU per exchange (to set beside the HTTP/1 row's);
#   - with dhat on the glibc build at the first N and 2N packets of that capture: heap
#     allocations per packet on HTTP/2;
#   - live: the sensor on lo (filter: nghttpd's port) while h2load runs again: traces /
#     requests, kernel drops, the sensor's CPU.
# Facts go to RES as KEY=VALUE lines (keys h2.*), for bench/report.py.
#
# Environment: SENSOR (default dist/pcap-sensor), SENSOR_GLIBC (target/release/pcap-sensor;
# empty: no allocation count), BENCH_WORK (default /tmp/pcap-sensor-bench-h2), RES (default
# BENCH_WORK/results.txt), BENCH_H2_REQUESTS (default 100000), BENCH_REPS (default 7),
# BENCH_H2_DHAT_PACKETS (N, default 2000). Needs nghttpd, h2load (Debian's nghttp2-server
# and nghttp2-client), tcpdump, valgrind, GNU time, python3; live capture needs root.
set -euo pipefail
cd "$(dirname "$0")/.."

SENSOR="$(realpath "${SENSOR:-dist/pcap-sensor}")"
SENSOR_GLIBC="${SENSOR_GLIBC-target/release/pcap-sensor}"
[ -n "$SENSOR_GLIBC" ] && SENSOR_GLIBC="$(realpath "$SENSOR_GLIBC")"
W="${BENCH_WORK:-/tmp/pcap-sensor-bench-h2}"
RES="${RES:-$W/results.txt}"
N="${BENCH_H2_REQUESTS:-100000}"
REPS="${BENCH_REPS:-7}"
DHAT_N="${BENCH_H2_DHAT_PACKETS:-2000}"
T0=$(date +%s)

say() { echo "bench h2: [$(($(date +%s) - T0)) s] $*" >&2; }
die() { echo "bench h2: $*" >&2; exit 1; }
put() { printf '%s=%s\n' "$1" "$2" >>"$RES"; }
stat_of() { sed -n "s/.*final stats.* $1=\([0-9]*\).*/\1/p" "$2" | tail -n 1; }
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"; }
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

[ -x "$SENSOR" ] || die "no sensor binary at $SENSOR (run ./build.sh)"
for t in nghttpd h2load tcpdump python3; do
  command -v "$t" >/dev/null || die "$t is not installed"
done
[ -x /usr/bin/time ] || die "GNU time (/usr/bin/time) is not installed"
mkdir -p "$W/runs"
touch "$RES"

NGHTTPD_PID="" DUMP_PID="" LIVE_PID=""
cleanup() {
  local p
  for p in $LIVE_PID $DUMP_PID $NGHTTPD_PID; do
    kill "$p" 2>/dev/null || true
  done
  wait 2>/dev/null || true
}
trap cleanup EXIT

PORT=$(free_port)
nghttpd --no-tls -a 127.0.0.1 -d bench/www "$PORT" >"$W/nghttpd.log" 2>&1 &
NGHTTPD_PID=$!
wait_for "nghttpd on port $PORT" 10 listening "$PORT"
URL="http://127.0.0.1:$PORT/data.json"
# h2load's "requests: ... N succeeded".
load() { h2load -n "$N" -c 4 -m 10 "$URL" | tee "$1" | sed -n 's/.* \([0-9]*\) succeeded.*/\1/p'; }

# ---------------------------------------------------------------- the capture
say "recording h2load -n $N -c 4 -m 10 against nghttpd"
# A large kernel buffer: at h2load's rate a default one drops packets, and a recording
# with holes would measure the sensor's recovery, not its reading (drops are put below).
tcpdump -i lo -s 0 -B 262144 -U -w "$W/H2.pcap" "tcp port $PORT" 2>"$W/tcpdump.err" &
DUMP_PID=$!
wait_for "tcpdump to listen" 10 grep -q "listening on" "$W/tcpdump.err"
OK=$(load "$W/runs/h2load.rec.out")
# tcpdump stops without draining its buffer: wait until the file has stopped growing.
size=-1
until [ "$size" = "$(stat -c %s "$W/H2.pcap")" ]; do
  size=$(stat -c %s "$W/H2.pcap")
  sleep 1
done
kill -INT "$DUMP_PID"
wait "$DUMP_PID" || true
DUMP_PID=""
put h2.requests "$OK"
put h2.pcap_bytes "$(stat -c %s "$W/H2.pcap")"
put h2.record_drops "$(sed -n 's/^\([0-9]*\) packets dropped by kernel/\1/p' "$W/tcpdump.err")"

# ---------------------------------------------------------------- offline
cat "$W/H2.pcap" >/dev/null
for rep in $(seq 1 "$REPS"); do
  say "offline: run $rep of $REPS"
  /usr/bin/time -f '%e %U %S %M' -o "$W/runs/h2.$rep.time" \
    "$SENSOR" apidump -r "$W/H2.pcap" --out /dev/null --stats-interval 0 2>"$W/runs/h2.$rep.err" \
    || die "the sensor failed: $(tail -n 3 "$W/runs/h2.$rep.err")"
  put "off.H2.sensor.$rep" "$(cat "$W/runs/h2.$rep.time")"
done
for c in traces packets gaps h2_connections h2_streams h2_resets h2_headers_unknown \
  requests_without_response truncated_bodies pool_exhausted peak_rss_kb; do
  put "off.H2.sensor.$c" "$(stat_of "$c" "$W/runs/h2.1.err")"
done

# ---------------------------------------------------------------- allocations
if [ -n "$SENSOR_GLIBC" ] && command -v valgrind >/dev/null; then
  for n in "$DHAT_N" $((2 * DHAT_N)); do
    say "allocations: dhat, $n packets"
    tcpdump -r "$W/H2.pcap" -w "$W/H2.dhat.pcap" -c "$n" 2>/dev/null
    valgrind --tool=dhat --dhat-out-file=/dev/null \
      "$SENSOR_GLIBC" apidump -r "$W/H2.dhat.pcap" --out /dev/null --stats-interval 0 \
      2>"$W/runs/dhat.H2.$n.err"
    put "dhat.H2.$n.blocks" "$(sed -n 's/.*Total:.* in \([0-9,]*\) blocks.*/\1/p' "$W/runs/dhat.H2.$n.err" | tr -d ,)"
    put "dhat.H2.$n.packets" "$(stat_of packets "$W/runs/dhat.H2.$n.err")"
    put "dhat.H2.$n.traces" "$(stat_of traces "$W/runs/dhat.H2.$n.err")"
  done
  put dhat.h2n "$DHAT_N"
  rm -f "$W/H2.dhat.pcap"
fi

# ---------------------------------------------------------------- live
if [ "$(id -u)" = 0 ]; then
  say "live: the sensor on lo while h2load runs"
  "$SENSOR" apidump -i lo --filter "tcp port $PORT" --out /dev/null --stats-interval 0 \
    2>"$W/runs/h2.live.err" &
  LIVE_PID=$!
  wait_for "the sensor to capture" 10 grep -q "memory ceiling" "$W/runs/h2.live.err"
  sleep 0.5
  c0=$(cpu_of "$LIVE_PID")
  OK=$(load "$W/runs/h2load.live.out")
  sleep 1 # the last packets reach the sensor's read loop
  c1=$(cpu_of "$LIVE_PID")
  kill -INT "$LIVE_PID"
  wait "$LIVE_PID" || die "the live sensor failed: $(tail -n 3 "$W/runs/h2.live.err")"
  LIVE_PID=""
  put live.h2.requests "$OK"
  put live.h2.rps "$(sed -n 's/^finished in .*, \([0-9.]*\) req\/s.*/\1/p' "$W/runs/h2load.live.out")"
  put live.h2.cpu "$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.2f", b - a }')"
  for c in traces kernel_drops h2_connections h2_streams peak_rss_kb; do
    put "live.h2.$c" "$(stat_of "$c" "$W/runs/h2.live.err")"
  done
else
  say "live: skipped (needs root)"
fi
say "done"
if [ -z "${BENCH_H2_QUIET:-}" ]; then
  grep -E '^(h2|off\.H2|dhat\.(H2|h2n)|live\.h2)\.' "$RES"
fi
