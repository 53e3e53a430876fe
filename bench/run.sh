#!/usr/bin/env bash
# bench/run.sh: the benchmarks behind `./build.sh bench` (which installs the tools and
# builds the sensor first, then runs this). Everything runs on loopback on this machine:
#
#   1. captures (bench/captures.sh): wrk → nginx (bench/nginx.conf.in) on 127.0.0.1,
#      recorded by tcpdump: A = keep-alive GETs of a 2 KB JSON file (Content-Length),
#      B = POSTs with JSON bodies and GETs answered with chunked JSON (bench/mixed.lua);
#   2. offline: the same files read by the bare libpcap loop (bench/bareloop.c), the
#      sensor (static musl = what ships, and a glibc build; and, to show where its time
#      goes, with --no-redact and with --max-http-length 0), the sensor exporting to a
#      local test satellite (bench/satellite.py; over http and over https), httpry and
#      tshark; BENCH_REPS runs each, median;
#   3. live: the sensor on lo while wrk drives nginx at its top rate (and once more with
#      --spool-dir, the satellite healthy), rate-limited to ~1,000 requests/s
#      (bench/paced.lua), and at the low-resource profile's settings; at the top rate
#      also at the default rate limit (1,000 traces a minute with a satellite), with
#      endpoint-aware sampling (the default) and with --sampling uniform, twice each in
#      the order A B B A, and the capture floor: tcpdump -w /dev/null under the same
#      load (issue 19);
#   4. allocations: valgrind's dhat on the glibc build, at N and 2N packets (also with
#      --rate-limit 100, so that the sampler decides every exchange);
#   4b. HTTP/2 (bench/h2.sh): h2load → nghttpd recorded and read offline (traces /
#      requests, CPU per exchange), its allocations (dhat), and live on lo;
#   5. hostile input, the speed figures tests/hostile.rs leaves to the bench: reading its
#      100k-flow SYN flood (bench/flood.py writes the same capture), and the sensor's CPU
#      for its header bombs (tests/support/hostile_peer.py against live_server.py, on lo);
# then bench/report.py writes bench/results.md and prints it.
#
# With SENSOR_BASE (another revision's static binary, e.g. `./build.sh bench REV`), that
# binary runs too, interleaved with SENSOR (the order alternates from one repetition to
# the next): offline rows "base" (JSON Lines) and "base_sat" (satellite), and the live
# ~1,000 req/s row once more right after SENSOR's; report.py prints the ratios.
#
# Environment: SENSOR (default dist/pcap-sensor), SENSOR_GLIBC (target/release/pcap-sensor;
# empty: skip the glibc rows and the allocation count), SENSOR_BASE (empty: no base rows)
# and SENSOR_BASE_REV (its revision, for the report), LIBPCAP_LIBDIR (the musl
# libpcap.a, for the static bare loop), BENCH_WORK (scratch folder, default
# /tmp/pcap-sensor-bench: the captures take about 700 MB), BENCH_EXCHANGES (workload A,
# default 200000), BENCH_EXCHANGES_B (default 100000), BENCH_LIVE_SECONDS (default 20),
# BENCH_REPS (default 7), BENCH_TSHARK_PACKETS (tshark's slice, default 30000),
# BENCH_DHAT_PACKETS (N, default 10000), BENCH_KEEP=1 (keep the scratch folder).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

SENSOR="$(realpath "${SENSOR:-dist/pcap-sensor}")"
SENSOR_GLIBC="${SENSOR_GLIBC-target/release/pcap-sensor}"
[ -n "$SENSOR_GLIBC" ] && SENSOR_GLIBC="$(realpath "$SENSOR_GLIBC")"
SENSOR_BASE="${SENSOR_BASE:-}"
[ -n "$SENSOR_BASE" ] && SENSOR_BASE="$(realpath "$SENSOR_BASE")"
W="${BENCH_WORK:-/tmp/pcap-sensor-bench}"
EXCH_A="${BENCH_EXCHANGES:-200000}"
EXCH_B="${BENCH_EXCHANGES_B:-100000}"
LIVE_SECS="${BENCH_LIVE_SECONDS:-20}"
REPS="${BENCH_REPS:-7}"
TSHARK_PACKETS="${BENCH_TSHARK_PACKETS:-30000}"
DHAT_PACKETS="${BENCH_DHAT_PACKETS:-10000}"
LOWRES_JSON=deploy/ecs/pcap-sensor-low-resource.json
T0=$(date +%s)

say() { echo "bench: [$(($(date +%s) - T0)) s] $*" >&2; }
die() { echo "bench: $*" >&2; exit 1; }

[ -x "$SENSOR" ] || die "no sensor binary at $SENSOR (run ./build.sh bench)"
[ -z "$SENSOR_BASE" ] || [ -x "$SENSOR_BASE" ] || die "no base binary at $SENSOR_BASE"
for t in nginx wrk tcpdump httpry tshark gcc python3 valgrind pgrep; do
  command -v "$t" >/dev/null || die "$t is not installed (./build.sh bench installs it)"
done
[ -x /usr/bin/time ] || die "GNU time (/usr/bin/time) is not installed"

rm -rf "$W"
mkdir -p "$W/tmp" "$W/runs"
RES="$W/results.txt"
: >"$RES"
# put KEY VALUE: one measured fact, for report.py.
put() { printf '%s=%s\n' "$1" "$2" >>"$RES"; }

NGINX_PID="" SAT_PID="" SATS_PID="" LIVE_PID="" BOMB_PID=""
cleanup() {
  local p
  for p in $LIVE_PID $BOMB_PID $SATS_PID $SAT_PID $NGINX_PID; do
    kill "$p" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  if [ "${BENCH_KEEP:-0}" != 1 ]; then rm -rf "$W"; fi
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
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# CPU seconds (user+sys) a live process has used so far.
cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"; }
# The value of KEY= in a stats line.
stat_of() { sed -n "s/.*final stats.* $1=\([0-9]*\).*/\1/p" "$2" | tail -n 1; }

# ---------------------------------------------------------------- the machine
put machine.cpu "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
put machine.nproc "$(nproc)"
put machine.kernel "$(uname -r)"
put machine.mem_mib "$(awk '/^MemTotal/ { printf "%d", $2 / 1024 }' /proc/meminfo)"
put machine.os "$(sed -n 's/^PRETTY_NAME="\(.*\)"$/\1/p' /etc/os-release)"
put machine.load_start "$(cut -d' ' -f1-3 /proc/loadavg)"
put machine.date "$(date -u +%Y-%m-%dT%H:%MZ)"
put sensor.version "$("$SENSOR" version 2>&1 | head -n 1)"
put sensor.commit "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- src Cargo.toml Cargo.lock 2>/dev/null || echo '+changes')"
put sensor.size "$(stat -c %s "$SENSOR")"
if [ -n "$SENSOR_BASE" ]; then
  put base.version "$("$SENSOR_BASE" version 2>&1 | head -n 1)"
  put base.commit "${SENSOR_BASE_REV:-unknown}"
  put base.size "$(stat -c %s "$SENSOR_BASE")"
fi
put versions.nginx "$(nginx -v 2>&1 | sed 's|.*/||')"
put versions.wrk "$(dpkg-query -W -f='${Version}' wrk 2>/dev/null || echo '?')"
put versions.httpry "$(dpkg-query -W -f='${Version}' httpry 2>/dev/null || echo '?')"
put versions.tshark "$(dpkg-query -W -f='${Version}' tshark 2>/dev/null || echo '?')"
put versions.libpcap "$(dpkg-query -W -f='${Version}' libpcap0.8 2>/dev/null || echo '?')"

# ---------------------------------------------------------------- the floor
say "compiling the bare libpcap loop"
gcc -O2 -o "$W/bareloop" bench/bareloop.c -lpcap
BARE_MUSL=""
if [ -n "${LIBPCAP_LIBDIR:-}" ] && [ -f "$LIBPCAP_LIBDIR/libpcap.a" ] && command -v musl-gcc >/dev/null; then
  # The same loop, static, on the musl libpcap the sensor links (musl-gcc hides
  # /usr/include; only pcap's own headers are borrowed from libpcap-dev).
  mkdir -p "$W/inc" && ln -s /usr/include/pcap "$W/inc/pcap"
  musl-gcc -O2 -static -I"$W/inc" -o "$W/bareloop-musl" bench/bareloop.c "$LIBPCAP_LIBDIR/libpcap.a" \
    && BARE_MUSL="$W/bareloop-musl"
fi

# ---------------------------------------------------------------- servers
PORT=$(free_port)
sed -e "s|@WORK@|$W|g" -e "s|@ROOT@|$ROOT/bench/www|g" -e "s|@PORT@|$PORT|g" \
  bench/nginx.conf.in >"$W/nginx.conf"
nginx -e "$W/nginx-error.log" -p "$W" -c "$W/nginx.conf" &
NGINX_PID=$!
wait_for "nginx on port $PORT" 10 listening "$PORT"
python3 bench/satellite.py 0 >"$W/satellite.port" &
SAT_PID=$!
wait_for "the test satellite" 10 test -s "$W/satellite.port"
SAT_PORT=$(cat "$W/satellite.port")
SAT_URL="http://127.0.0.1:$SAT_PORT"
sat() { python3 bench/satellite.py "$1" "$SAT_PORT"; }
# The same satellite over TLS, with a self-signed certificate of its own (trusted by
# --ca-cert; not a CA certificate, which rustls refuses as a server's).
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
  -addext "subjectAltName=IP:127.0.0.1" -addext "basicConstraints=critical,CA:FALSE" \
  -keyout "$W/sat.key" -out "$W/sat.pem" 2>/dev/null
python3 bench/satellite.py 0 "$W/sat.pem" "$W/sat.key" >"$W/satellite-tls.port" &
SATS_PID=$!
wait_for "the test satellite (TLS)" 10 test -s "$W/satellite-tls.port"
SATS_PORT=$(cat "$W/satellite-tls.port")
SATS_URL="https://127.0.0.1:$SATS_PORT"
sats() { python3 bench/satellite.py "$1" "$SATS_PORT" tls; }
say "nginx on 127.0.0.1:$PORT (pid $NGINX_PID), test satellite on $SAT_URL and $SATS_URL"

# ---------------------------------------------------------------- captures
# Recorded by bench/captures.sh with an nginx of its own (on CAP_PORT: httpry's filter).
say "captures: bench/captures.sh $W $EXCH_A $EXCH_B"
bench/captures.sh "$W" "$EXCH_A" "$EXCH_B"
grep '^cap\.' "$W/captures.txt" >>"$RES"
CAP_PORT="$(sed -n 's/^cap\.port=//p' "$W/captures.txt")"

# ---------------------------------------------------------------- offline
# timed KEY REP OUTFILE COMMAND...: run once under GNU time; elapsed, user, sys, max RSS.
timed() {
  local key="$1" rep="$2" out="$3"
  shift 3
  local base="$W/runs/$key.$rep"
  /usr/bin/time -f '%e %U %S %M' -o "$base.time" "$@" >"$out" 2>"$base.err" \
    || die "$key failed: $(tail -n 3 "$base.err")"
  read -r e u s m <"$base.time"
  put "off.$key.$rep" "$e $u $s $m"
}

# off_json KEY REP BINARY: one timed run of BINARY on $pcap, JSON Lines to /dev/null.
off_json() {
  timed "$1" "$2" /dev/null "$3" apidump -r "$pcap" --out /dev/null --stats-interval 0
}
# off_sat KEY REP BINARY: the same, exporting every trace to the test satellite.
off_sat() {
  sat reset >/dev/null
  timed "$1" "$2" /dev/null "$3" apidump -r "$pcap" --satellite-url "$SAT_URL" \
    --rate-limit 0 --stats-interval 0
  put "off.$1.$2.satellite" "$(sat stats)"
}

offline() {
  local w="$1" pcap="$W/$1.pcap" slice="$W/$1.tshark.pcap" rep base_first
  tcpdump -r "$pcap" -w "$slice" -c "$TSHARK_PACKETS" 2>/dev/null
  put "off.$w.tshark_slice_packets" "$TSHARK_PACKETS"
  cat "$pcap" >/dev/null # page cache: every tool reads from memory
  for rep in $(seq 1 "$REPS"); do
    say "offline $w: run $rep of $REPS"
    timed "$w.bare" "$rep" "$W/runs/$w.bare.out" "$W/bareloop" "$pcap"
    [ -n "$BARE_MUSL" ] && timed "$w.bare_musl" "$rep" /dev/null "$BARE_MUSL" "$pcap"
    # The base binary (if any) right before the work tree's on even runs, right after
    # on odd ones, here and for the satellite rows.
    base_first=""
    if [ -n "$SENSOR_BASE" ] && [ $((rep % 2)) = 0 ]; then base_first=1; fi
    [ -n "$base_first" ] && off_json "$w.base" "$rep" "$SENSOR_BASE"
    off_json "$w.sensor" "$rep" "$SENSOR"
    [ -n "$SENSOR_BASE" ] && [ -z "$base_first" ] && off_json "$w.base" "$rep" "$SENSOR_BASE"
    if [ -n "$SENSOR_GLIBC" ]; then
      timed "$w.sensor_glibc" "$rep" /dev/null \
        "$SENSOR_GLIBC" apidump -r "$pcap" --out /dev/null --stats-interval 0
    fi
    # Where the sensor's time goes: the same run without body redaction, and
    # without bodies at all (heads, flows and traces only).
    timed "$w.sensor_noredact" "$rep" /dev/null "$SENSOR" apidump -r "$pcap" --out /dev/null \
      --stats-interval 0 --no-redact
    timed "$w.sensor_nobody" "$rep" /dev/null "$SENSOR" apidump -r "$pcap" --out /dev/null \
      --stats-interval 0 --max-http-length 0
    [ -n "$base_first" ] && off_sat "$w.base_sat" "$rep" "$SENSOR_BASE"
    off_sat "$w.sensor_sat" "$rep" "$SENSOR"
    [ -n "$SENSOR_BASE" ] && [ -z "$base_first" ] && off_sat "$w.base_sat" "$rep" "$SENSOR_BASE"
    sats reset >/dev/null
    timed "$w.sensor_sats" "$rep" /dev/null "$SENSOR" apidump -r "$pcap" --satellite-url "$SATS_URL" \
      --ca-cert "$W/sat.pem" --rate-limit 0 --stats-interval 0
    put "off.$w.sensor_sats.$rep.satellite" "$(sats stats)"
    rm -f "$W/runs/$w.httpry.log" # httpry appends
    timed "$w.httpry" "$rep" /dev/null httpry -r "$pcap" -o "$W/runs/$w.httpry.log" "tcp port $CAP_PORT"
    timed "$w.tshark" "$rep" "$W/runs/$w.tshark.out" tshark -r "$slice" -Y http
  done
  local e
  for k in sensor sensor_glibc sensor_sat sensor_sats base base_sat; do
    e="$W/runs/$w.$k.1.err"
    [ -f "$e" ] || continue
    for c in traces packets requests_without_response parse_errors gaps truncated_bodies \
      pool_exhausted exported export_dropped peak_rss_kb; do
      put "off.$w.$k.$c" "$(stat_of "$c" "$e")"
    done
  done
  put "off.$w.bare.packets" "$(sed -n 's/packets=\([0-9]*\).*/\1/p' "$W/runs/$w.bare.out")"
  put "off.$w.httpry.requests" "$(awk -F'\t' '$4 == ">"' "$W/runs/$w.httpry.log" | wc -l)"
  put "off.$w.httpry.responses" "$(awk -F'\t' '$4 == "<"' "$W/runs/$w.httpry.log" | wc -l)"
  put "off.$w.tshark.requests" "$(grep -cE ' (GET|POST) /' "$W/runs/$w.tshark.out" || true)"
  put "off.$w.tshark.responses" "$(grep -cE 'HTTP/1\.1 [0-9]{3} ' "$W/runs/$w.tshark.out" || true)"
  "$SENSOR" apidump -r "$slice" --out /dev/null --stats-interval 0 2>"$W/runs/$w.slice.err"
  put "off.$w.tshark.sensor_traces" "$(stat_of traces "$W/runs/$w.slice.err")"
  # The traces themselves, counted (one untimed run, the fastest build, JSON Lines to a pipe).
  "${SENSOR_GLIBC:-$SENSOR}" apidump -r "$pcap" --out - --stats-interval 0 2>/dev/null \
    | LC_ALL=C awk '{ n++ } /"response":[{]"status":200,/ { ok++ } /"request":[{]"method":"POST"/ { post++ }
        /"response":null/ { none++ } END { printf "%d %d %d %d\n", n, ok, post, none }' >"$W/runs/$w.lines"
  read -r a b c d <"$W/runs/$w.lines"
  put "off.$w.lines.traces" "$a"
  put "off.$w.lines.status200" "$b"
  put "off.$w.lines.posts" "$c"
  put "off.$w.lines.no_response" "$d"
}
offline A
offline B
rm -f "$W"/*.tshark.pcap

# ---------------------------------------------------------------- allocations
if [ -n "$SENSOR_GLIBC" ]; then
  # A and B with JSON Lines to /dev/null; Bsat = B exported to the test satellite;
  # Asamp = A at --rate-limit 100 (endpoint-aware sampling decides every exchange).
  for w in A B Bsat Asamp; do
    for n in "$DHAT_PACKETS" $((2 * DHAT_PACKETS)); do
      say "allocations: dhat, workload $w, $n packets"
      tcpdump -r "$W/${w:0:1}.pcap" -w "$W/$w.dhat.pcap" -c "$n" 2>/dev/null
      dout=(--out /dev/null)
      [ "$w" = Bsat ] && dout=(--satellite-url "$SAT_URL" --rate-limit 0)
      [ "$w" = Asamp ] && dout=(--out /dev/null --rate-limit 100)
      valgrind --tool=dhat --dhat-out-file=/dev/null \
        "$SENSOR_GLIBC" apidump -r "$W/$w.dhat.pcap" "${dout[@]}" --stats-interval 0 \
        2>"$W/runs/dhat.$w.$n.err"
      put "dhat.$w.$n.blocks" "$(sed -n 's/.*Total:.* in \([0-9,]*\) blocks.*/\1/p' "$W/runs/dhat.$w.$n.err" | tr -d ,)"
      put "dhat.$w.$n.bytes" "$(sed -n 's/.*Total: *\([0-9,]*\) bytes.*/\1/p' "$W/runs/dhat.$w.$n.err" | tr -d ,)"
      put "dhat.$w.$n.packets" "$(stat_of packets "$W/runs/dhat.$w.$n.err")"
      put "dhat.$w.$n.traces" "$(stat_of traces "$W/runs/dhat.$w.$n.err")"
      put "dhat.$w.$n.batches" "$(stat_of export_batches "$W/runs/dhat.$w.$n.err")"
      put "dhat.$w.$n.rate_limited" "$(stat_of rate_limited "$W/runs/dhat.$w.$n.err")"
    done
  done
  put dhat.n "$DHAT_PACKETS"
  rm -f "$W"/*.dhat.pcap
fi

# ---------------------------------------------------------------- HTTP/2
say "HTTP/2: bench/h2.sh"
SENSOR="$SENSOR" SENSOR_GLIBC="$SENSOR_GLIBC" BENCH_WORK="$W/h2" RES="$RES" BENCH_REPS="$REPS" \
  BENCH_H2_QUIET=1 bench/h2.sh

# ---------------------------------------------------------------- live
# The low-resource profile's flags and memory limit, from its task definition.
LOWRES_FLAGS=() LOWRES_MIB=200 LOWRES_FROM="fallback"
if [ -f "$LOWRES_JSON" ]; then
  if out="$(python3 bench/lowres.py "$LOWRES_JSON")"; then
    LOWRES_MIB="$(head -n 1 <<<"$out")"
    mapfile -t LOWRES_FLAGS < <(tail -n +2 <<<"$out")
    LOWRES_FROM="$LOWRES_JSON"
  else
    say "cannot read $LOWRES_JSON; using the fallback low-resource settings"
  fi
fi
if [ "$LOWRES_FROM" = fallback ]; then
  LOWRES_FLAGS=(--rate-limit 100 --trace-export-interval 1.0 --stream-timeout-seconds 2.0
    --max-http-length 100000 --buffer-pool-mb 2 --max-flows 512 --pcap-buffer-mb 2 --export-queue-mb 1)
fi
put lowres.from "$LOWRES_FROM"
put lowres.flags "${LOWRES_FLAGS[*]}"
put lowres.limit_mib "$LOWRES_MIB"

# live NAME WRK-ARGS... -- SENSOR-FLAGS...: the sensor captures lo (filter: nginx's port)
# and exports to the test satellite while wrk runs for LIVE_SECS; SIGTERM afterwards.
# LIVE_SENSOR: another binary than SENSOR.
live() {
  local name="$1" wrk_args=() flags=()
  shift
  while [ "$1" != -- ]; do wrk_args+=("$1"); shift; done
  shift
  flags=("$@")
  say "live $name: ${LIVE_SECS}s of wrk ${wrk_args[*]}"
  local err="$W/runs/live.$name.err"
  sat reset >/dev/null
  /usr/bin/time -f '%e %U %S %M' -o "$W/runs/live.$name.time" \
    "${LIVE_SENSOR:-$SENSOR}" apidump -i lo --filter "tcp port $PORT" --satellite-url "$SAT_URL" \
    --stats-interval 0 "${flags[@]}" 2>"$err" &
  LIVE_PID=$!
  wait_for "the sensor to capture" 20 grep -qs 'capturing on' "$err"
  local ng0 sat0 ng1 sat1
  ng0=$(cpu_of "$NGINX_PID") sat0=$(cpu_of "$SAT_PID")
  /usr/bin/time -f '%e %U %S' -o "$W/runs/live.$name.wrktime" \
    wrk -t1 -d"${LIVE_SECS}s" "${wrk_args[@]}" >"$W/runs/live.$name.wrk" 2>&1
  ng1=$(cpu_of "$NGINX_PID") sat1=$(cpu_of "$SAT_PID")
  sleep 0.2 # the last packets reach the sensor
  kill -TERM "$(pgrep -P "$LIVE_PID")" 2>/dev/null || true
  wait "$LIVE_PID" || die "live $name: the sensor failed: $(tail -n 3 "$err")"
  LIVE_PID=""
  read -r e u s m <"$W/runs/live.$name.time"
  put "live.$name.sensor_time" "$e $u $s $m"
  read -r e u s <"$W/runs/live.$name.wrktime"
  put "live.$name.wrk_cpu" "$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')"
  put "live.$name.nginx_cpu" "$(awk -v a="$ng0" -v b="$ng1" 'BEGIN { printf "%.2f", b - a }')"
  put "live.$name.satellite_cpu" "$(awk -v a="$sat0" -v b="$sat1" 'BEGIN { printf "%.2f", b - a }')"
  put "live.$name.requests" "$(sed -n 's/^ *\([0-9]*\) requests in .*/\1/p' "$W/runs/live.$name.wrk")"
  put "live.$name.wrk_seconds" "$(sed -n 's/^ *[0-9]* requests in \([0-9.]*\)\(m\?s\).*/\1 \2/p' "$W/runs/live.$name.wrk")"
  put "live.$name.rps" "$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$W/runs/live.$name.wrk")"
  put "live.$name.wrk_errors" "$(grep -E 'Socket errors|Non-2xx' "$W/runs/live.$name.wrk" | tr -s ' ' | paste -sd';' || true)"
  for c in packets kernel_drops if_drops traces requests_without_response orphan_responses gaps \
    parse_errors rate_limited exported export_dropped export_failures spooled spool_bytes \
    peak_rss_kb endpoints_known traces_new_endpoint traces_new_error traces_fair_share; do
    put "live.$name.$c" "$(stat_of "$c" "$err")"
  done
  put "live.$name.ceiling" "$(sed -n 's/.*memory ceiling \([0-9]*\) bytes.*/\1/p' "$err" | head -n 1)"
  put "live.$name.satellite" "$(sat stats)"
}
live top -c8 "http://127.0.0.1:$PORT/data.json" -- --rate-limit 0
# The same with a spool while the satellite is healthy: it should cost nothing.
mkdir -p "$W/spool"
live top_spool -c8 "http://127.0.0.1:$PORT/data.json" -- --rate-limit 0 --spool-dir "$W/spool"

# floor NAME: the capture floor: tcpdump on lo with the same filter, snaplen and kernel
# buffer as the sensor, writing to /dev/null, while wrk runs at the top rate as above.
floor() {
  local name="$1" err="$W/runs/live.$1.err"
  say "live $name: tcpdump -w /dev/null during ${LIVE_SECS}s of wrk -c8"
  /usr/bin/time -f '%e %U %S %M' -o "$W/runs/live.$name.time" \
    tcpdump -i lo -s 262144 -B 8192 -w /dev/null "tcp port $PORT" 2>"$err" &
  LIVE_PID=$!
  wait_for "tcpdump to capture" 20 grep -qs 'listening on' "$err"
  local ng0 ng1
  ng0=$(cpu_of "$NGINX_PID")
  /usr/bin/time -f '%e %U %S' -o "$W/runs/live.$name.wrktime" \
    wrk -t1 -c8 -d"${LIVE_SECS}s" "http://127.0.0.1:$PORT/data.json" >"$W/runs/live.$name.wrk" 2>&1
  ng1=$(cpu_of "$NGINX_PID")
  sleep 0.2 # the last packets reach tcpdump
  kill -TERM "$(pgrep -P "$LIVE_PID")" 2>/dev/null || true
  wait "$LIVE_PID" || die "live $name: tcpdump failed: $(tail -n 3 "$err")"
  LIVE_PID=""
  read -r e u s m <"$W/runs/live.$name.time"
  put "live.$name.sensor_time" "$e $u $s $m"
  read -r e u s <"$W/runs/live.$name.wrktime"
  put "live.$name.wrk_cpu" "$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')"
  put "live.$name.nginx_cpu" "$(awk -v a="$ng0" -v b="$ng1" 'BEGIN { printf "%.2f", b - a }')"
  put "live.$name.requests" "$(sed -n 's/^ *\([0-9]*\) requests in .*/\1/p' "$W/runs/live.$name.wrk")"
  put "live.$name.wrk_seconds" "$(sed -n 's/^ *[0-9]* requests in \([0-9.]*\)\(m\?s\).*/\1 \2/p' "$W/runs/live.$name.wrk")"
  put "live.$name.rps" "$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$W/runs/live.$name.wrk")"
  put "live.$name.packets" "$(sed -n 's/^\([0-9]*\) packets captured.*/\1/p' "$err")"
  put "live.$name.kernel_drops" "$(sed -n 's/^\([0-9]*\) packets dropped by kernel.*/\1/p' "$err")"
}
# The top rate at the default rate limit (a satellite: 1,000 traces a minute), sampling by
# endpoint (the default) and uniform, A B B A, then the capture floor under the same load.
live top_sampling -c8 "http://127.0.0.1:$PORT/data.json" --
live top_uniform -c8 "http://127.0.0.1:$PORT/data.json" -- --sampling uniform
live top_uniform_2 -c8 "http://127.0.0.1:$PORT/data.json" -- --sampling uniform
live top_sampling_2 -c8 "http://127.0.0.1:$PORT/data.json" --
floor floor
live paced -c10 -s bench/paced.lua "http://127.0.0.1:$PORT/data.json" -- --rate-limit 0
if [ -n "$SENSOR_BASE" ]; then
  LIVE_SENSOR="$SENSOR_BASE" live paced_base -c10 -s bench/paced.lua \
    "http://127.0.0.1:$PORT/data.json" -- --rate-limit 0
fi
live lowres -c8 "http://127.0.0.1:$PORT/data.json" -- "${LOWRES_FLAGS[@]}"

# ---------------------------------------------------------------- hostile input
# tests/hostile.rs checks what the sensor does with hostile input; how fast it does it is
# measured here (the test used to assert: read in < 60 s, bombs in < 10 s of CPU).
say "hostile: the 100k-flow SYN flood of tests/hostile.rs, offline"
put hostile.flood.packets "$(python3 bench/flood.py "$W/flood.pcap" 100000)"
put hostile.flood.bytes "$(stat -c %s "$W/flood.pcap")"
for rep in $(seq 1 "$REPS"); do
  timed flood.sensor "$rep" /dev/null "$SENSOR" apidump -r "$W/flood.pcap" --out /dev/null \
    --stats-interval 0
done
for c in traces flows_evicted pool_exhausted; do
  put "hostile.flood.$c" "$(stat_of "$c" "$W/runs/flood.sensor.1.err")"
done
rm -f "$W/flood.pcap"
say "hostile: the header bombs of tests/hostile.rs, live on lo"
python3 -u tests/support/live_server.py --bind 127.0.0.1 >"$W/bomb-server.out" &
BOMB_PID=$!
wait_for "the test server" 10 grep -qs '^listening ' "$W/bomb-server.out"
BOMB_PORT=$(sed -n 's/^listening //p' "$W/bomb-server.out")
"$SENSOR" apidump -i lo --filter "tcp port $BOMB_PORT" --out /dev/null --stats-interval 0 \
  2>"$W/runs/bombs.err" &
LIVE_PID=$!
wait_for "the sensor to capture" 20 grep -qs 'capturing on' "$W/runs/bombs.err"
# CPU seconds of every thread, from /proc/PID/task/*/schedstat (nanoseconds; /proc/PID/stat
# counts 10 ms ticks, too coarse here).
sched_cpu() { cat /proc/"$1"/task/*/schedstat | awk '{ n += $1 } END { printf "%.4f", n / 1e9 }'; }
c0=$(sched_cpu "$LIVE_PID") t0=$(date +%s%N)
for bomb in "headers 5000" "longline 1048576" "trickle 60000"; do
  # shellcheck disable=SC2086 # mode and size, two words
  python3 tests/support/hostile_peer.py ${bomb% *} 127.0.0.1 "$BOMB_PORT" ${bomb#* } \
    </dev/null >/dev/null
done
sleep 0.5 # the last segments reach the sensor
c1=$(sched_cpu "$LIVE_PID") t1=$(date +%s%N)
kill -TERM "$LIVE_PID"
wait "$LIVE_PID" || die "hostile bombs: the sensor failed: $(tail -n 3 "$W/runs/bombs.err")"
LIVE_PID=""
kill "$BOMB_PID" 2>/dev/null || true
wait "$BOMB_PID" 2>/dev/null || true
BOMB_PID=""
put hostile.bombs.cpu "$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.4f", b - a }')"
put hostile.bombs.seconds "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')"
for c in packets traces parse_errors peak_rss_kb; do
  put "hostile.bombs.$c" "$(stat_of "$c" "$W/runs/bombs.err")"
done

put machine.load_end "$(cut -d' ' -f1-3 /proc/loadavg)"
put bench.seconds "$(($(date +%s) - T0))"
python3 bench/report.py "$RES" >bench/results.md
cat bench/results.md
