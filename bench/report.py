#!/usr/bin/env python3
"""Turn the facts bench/run.sh measured (KEY=VALUE lines) into bench/results.md.

usage: report.py RESULTS.txt > bench/results.md
"""

import json
import statistics
import sys

R = {}
for line in open(sys.argv[1]):
    k, _, v = line.rstrip("\n").partition("=")
    R[k] = v


def num(k, default=None):
    try:
        return float(R[k])
    except (KeyError, ValueError):
        return default


def intk(k):
    v = num(k)
    return None if v is None else int(v)


def n(v):
    return "n/a" if v is None else f"{int(v):,}"


def mib(kb):
    return "n/a" if kb is None else f"{kb / 1024:.1f} MiB"


def pct(a, b, digits=2):
    if a is None or not b:
        return "n/a"
    return f"{100 * a / b:.{digits}f} %"


def runs(key):
    """Median wall s, median CPU s, max RSS KiB over the repetitions of one timed run."""
    rows = []
    i = 1
    while f"off.{key}.{i}" in R:
        e, u, s, m = R[f"off.{key}.{i}"].split()
        rows.append((float(e), float(u) + float(s), int(m)))
        i += 1
    if not rows:
        return None
    return (statistics.median(r[0] for r in rows), statistics.median(r[1] for r in rows),
            max(r[2] for r in rows), len(rows))


def fastest(key):
    """Least CPU s (user+sys) over the repetitions of one timed run."""
    cpu = []
    i = 1
    while f"off.{key}.{i}" in R:
        _, u, s, _ = R[f"off.{key}.{i}"].split()
        cpu.append(float(u) + float(s))
        i += 1
    return min(cpu) if cpu else None


def cpus(key):
    """CPU s (user+sys) of each repetition of one timed run."""
    out, i = [], 1
    while f"off.{key}.{i}" in R:
        _, u, s_, _ = R[f"off.{key}.{i}"].split()
        out.append(float(u) + float(s_))
        i += 1
    return out


W = {"A": "A: keep-alive GETs, 2 KB JSON (Content-Length)",
     "B": "B: POSTs with JSON bodies + GETs, chunked JSON responses"}
out = []
p = out.append

p("# pcap-sensor benchmarks")
p("")
p(f"Measured by `./build.sh bench` on {R.get('machine.date', '?')}: {R.get('machine.cpu', '?')}, "
  f"{R.get('machine.nproc', '?')} cores (`nproc`), {R.get('machine.mem_mib', '?')} MiB, kernel "
  f"{R.get('machine.kernel', '?')}, {R.get('machine.os', '?')}. Load average "
  f"{R.get('machine.load_start', '?')} at the start and {R.get('machine.load_end', '?')} at the end "
  "(anything else running on the machine stretches wall-clock times; CPU seconds suffer less). "
  f"Sensor: {R.get('sensor.version', '?')}, commit {R.get('sensor.commit', '?')}, the static musl "
  f"binary `dist/pcap-sensor` ({int(num('sensor.size', 0)) / 1048576:.2f} MiB) unless marked glibc. "
  f"Peers: nginx {R.get('versions.nginx', '?')}, wrk {R.get('versions.wrk', '?')}, httpry "
  f"{R.get('versions.httpry', '?')}, tshark {R.get('versions.tshark', '?')}, libpcap "
  f"{R.get('versions.libpcap', '?')}. The whole bench took {R.get('bench.seconds', '?')} s.")
p("")
BASE = R.get("base.commit")
if BASE:
    p(f"Base revision for comparison: {BASE} ({R.get('base.version', '?')}), its static musl "
      f"binary built the same way from a clean export ({int(num('base.size', 0)) / 1048576:.2f} "
      "MiB); its rows are marked *base* and ran interleaved with the work tree's (see "
      "\"Work tree vs base\" below).")
    p("")

# ------------------------------------------------------------------ headline
bareA, sensA, httpA = runs("A.bare"), runs("A.sensor"), runs("A.httpry")
glibcA = runs("A.sensor_glibc")
top, paced, low = "live.top", "live.paced", "live.lowres"


def live_cpu(name):
    t = R.get(f"{name}.sensor_time")
    if not t:
        return None
    _, u, s, _ = t.split()
    return float(u) + float(s)


def live_secs(name):
    v = R.get(f"{name}.wrk_seconds", "")
    try:
        x, unit = v.split()
        return float(x) * (60 if unit == "m" else 1)
    except ValueError:
        return None


def per_k(name):
    cpu, secs, rps = live_cpu(name), live_secs(name), num(f"{name}.rps")
    if cpu is None or not secs or not rps:
        return None
    return (cpu / secs) / (rps / 1000)


def dhat(w):
    n1 = intk("dhat.n")
    if n1 is None:
        return None
    n2 = 2 * n1
    b1, b2 = intk(f"dhat.{w}.{n1}.blocks"), intk(f"dhat.{w}.{n2}.blocks")
    p1, p2 = intk(f"dhat.{w}.{n1}.packets"), intk(f"dhat.{w}.{n2}.packets")
    t1, t2 = intk(f"dhat.{w}.{n1}.traces"), intk(f"dhat.{w}.{n2}.traces")
    if None in (b1, b2, p1, p2, t1, t2) or p2 == p1:
        return None
    k1, k2 = intk(f"dhat.{w}.{n1}.batches"), intk(f"dhat.{w}.{n2}.batches")
    return dict(batches=(k2 - k1) if k1 is not None and k2 is not None else None, b1=b1, b2=b2, p1=p1, p2=p2, t1=t1, t2=t2, per_packet=(b2 - b1) / (p2 - p1),
                per_trace=(b2 - b1) / (t2 - t1) if t2 != t1 else None,
                bytes1=intk(f"dhat.{w}.{n1}.bytes"), bytes2=intk(f"dhat.{w}.{n2}.bytes"))


p("## Headline")
p("")
p("| measure | result | target |")
p("|---|---|---|")
if bareA and sensA:
    p(f"| offline A ({n(intk('cap.A.exchanges'))} exchanges, "
      f"{num('cap.A.bytes', 0) / 1e6:.0f} MB): pcap-sensor vs the bare libpcap loop | "
      f"{sensA[0]:.2f} s vs {bareA[0]:.2f} s = **{sensA[0] / bareA[0]:.1f}×**"
      + (f" (glibc build: {glibcA[0]:.2f} s = {glibcA[0] / bareA[0]:.1f}×)" if glibcA else "")
      + " | (a floor, not a target: the loop touches no body) |")
fast = {w: (fastest(f"{w}.sensor"), fastest(f"{w}.bare")) for w in "AB"}
if all(a and b for a, b in fast.values()):
    p(f"| offline, the least CPU time of the {runs('A.bare')[3]} runs of each (less sensitive to other "
      "load on the machine than the medians): pcap-sensor vs the bare loop, A / B | "
      + " / ".join(f"{a:.2f} s vs {b:.2f} s = {a / b:.1f}×" for a, b in fast.values()) + " | |")
parts = [(w, fastest(f"{w}.sensor"), fastest(f"{w}.sensor_noredact"),
          fastest(f"{w}.sensor_nobody"), fastest(f"{w}.bare")) for w in "AB"]
if all(all(x) for x in parts):
    p("| offline, where the time goes (least CPU time of the runs of each, ‡ rows below): "
      "pcap-sensor as it ships, without the secret scan (`--no-redact`) and without bodies "
      "(`--max-http-length 0`), each vs the bare loop, A / B | "
      + " / ".join(f"{d / b:.1f}×, {nr / b:.1f}×, {nb / b:.1f}×" for _, d, nr, nb, b in parts)
      + " | |")
if sensA and httpA:
    p(f"| offline A: pcap-sensor vs httpry | {sensA[0]:.2f} s vs {httpA[0]:.2f} s = "
      f"**{sensA[0] / httpA[0]:.2f}×** httpry's time | ≤ 0.5× httpry's time |")
if sensA:
    tr, ex = intk("off.A.sensor.traces"), intk("cap.A.exchanges")
    sensB, exB = runs("B.sensor"), intk("cap.B.exchanges")
    glibcB = runs("B.sensor_glibc")
    if ex and exB and sensB:
        extra = (f" (glibc build: {1e6 * glibcA[1] / ex:.0f} / {1e6 * glibcB[1] / exB:.0f} µs)"
                 if glibcA and glibcB else "")
        p(f"| offline: sensor CPU per exchange, A / B | {1e6 * sensA[1] / ex:.0f} / "
          f"{1e6 * sensB[1] / exB:.0f} µs{extra} | |")
    p(f"| offline A: traces / exchanges nginx served | {n(tr)} / {n(ex)} = {pct(tr, ex, 3)} | 100 % |")
    p(f"| peak RSS, default settings (offline A / live top rate) | {mib(sensA[2])} / "
      f"{mib(num(f'{top}.peak_rss_kb'))} | ≤ 16 MiB |")
if R.get(f"{top}.requests"):
    rq, tr = intk(f"{top}.requests"), intk(f"{top}.traces")
    p(f"| live, wrk at top rate for {live_secs(top) or '?'} s: requests/s; traces / wrk's requests; "
      f"kernel drops | {num(f'{top}.rps', 0):,.0f}/s; {pct(tr, rq, 3)}; "
      f"**{n(intk(f'{top}.kernel_drops'))}** | ≥ 99.9 %, 0 drops |")
    cpu = live_cpu(top)
    other = (num(f"{top}.wrk_cpu") or 0) + (num(f"{top}.nginx_cpu") or 0)
    p(f"| live top rate: sensor CPU (user+sys) and its share of wrk+nginx CPU | {cpu:.1f} s; "
      f"{pct(cpu, other, 0)} | |")
if per_k(top) is not None and per_k("live.top_spool") is not None:
    a, b = per_k("live.top_spool"), per_k(top)
    p(f"| live top rate with `--spool-dir`, satellite healthy: sensor CPU per 1k req/s, with / "
      f"without (the row above); spooled | {100 * a:.2f} % / {100 * b:.2f} % of a core = "
      f"{a / b:.2f}×; {n(intk('live.top_spool.spooled'))} | within noise (one run each; read "
      f"any one ratio as ± a fifth) |")
if per_k(paced) is not None:
    p(f"| live, ~1,000 req/s (wrk + delay script, {num(f'{paced}.rps', 0):,.0f}/s): sensor CPU per "
      f"1k req/s | **{100 * per_k(paced):.1f} %** of one core | |")
da, db, dsat0 = dhat("A"), dhat("B"), dhat("Bsat")
if da and db:
    sat_part = (f"; exporting to the satellite (B): {dsat0['per_packet']:.2f} per packet, "
                f"{dsat0['per_trace']:.2f} per trace" if dsat0 and dsat0["per_trace"] is not None else "")
    p(f"| heap allocations in steady state (dhat; A / B, JSON Lines) | "
      f"**{da['per_packet']:.2f}** / {db['per_packet']:.2f} per packet, "
      f"{da['per_trace']:.2f} / {db['per_trace']:.2f} per trace{sat_part} | 0 |")
if BASE:
    parts = []
    for w in "AB":
        a, b = cpus(f"{w}.sensor"), cpus(f"{w}.base")
        parts.append(f"{statistics.median(a) / statistics.median(b):.2f}×" if a and b else "n/a")
    kn, kb = per_k(paced), per_k("live.paced_base")
    live_r = f"{kn / kb:.2f}×" if kn is not None and kb else "n/a"
    p(f"| work tree / base {BASE}, same run: offline CPU (medians) A / B; live CPU per 1k req/s | "
      f"{' / '.join(parts)}; {live_r} | within noise (\"Work tree vs base\" below) |")
if R.get(f"{low}.sensor_time"):
    lim = num("lowres.limit_mib")
    rss = int(R[f"{low}.sensor_time"].split()[3])
    p(f"| low-resource profile under the top-rate load: peak RSS vs its memory limit | "
      f"{mib(rss)} of {lim:.0f} MiB ({pct(rss / 1024, lim, 0)}) | inside, with margin |")
p("")

# ------------------------------------------------------------------ captures
p("## Offline")
p("")
p("The bench makes its own captures: wrk (1 thread, 8 keep-alive connections) → nginx on "
  "127.0.0.1, recorded by `tcpdump -i lo -s 262144` with a filter on nginx's port; wrk is "
  "stopped once nginx's access log has the wanted number of exchanges, and that log is the "
  "truth the trace counts are compared with.")
p("")
p("| capture | exchanges (POST) | packets | size | tcpdump drops | recorded in |")
p("|---|---|---|---|---|---|")
for w in "AB":
    p(f"| {W[w]} | {n(intk(f'cap.{w}.exchanges'))} ({n(intk(f'cap.{w}.posts'))}) | "
      f"{n(intk(f'cap.{w}.packets'))} | {num(f'cap.{w}.bytes', 0) / 1e6:.0f} MB | "
      f"{n(intk(f'cap.{w}.tcpdump_drops'))} | {R.get(f'cap.{w}.seconds', '?')} s |")
p("")
reps = (runs("A.bare") or (0, 0, 0, 0))[3]
p(f"Each tool ran {reps} times on the same file (from the page cache), interleaved; the table "
  "gives the median wall-clock time, the median CPU time (user+sys), the ratio of the wall "
  "times to the bare loop's, and the largest peak RSS (GNU time's %M).")
p("")
p("| tool | A wall s | A CPU s | A × bare | A peak RSS | B wall s | B CPU s | B × bare | B peak RSS |")
p("|---|---|---|---|---|---|---|---|---|")
TOOLS = [("bare", "bare libpcap loop (`pcap_next_ex` only; Debian's libpcap, glibc)"),
         ("bare_musl", "bare libpcap loop, static musl (the sensor's libpcap)"),
         ("sensor", "`pcap-sensor apidump -r … --out /dev/null` (static musl)"),
         ("base", f"*base* {BASE}: the same, its static binary (interleaved with the row above)"),
         ("sensor_glibc", "the same, glibc build (`cargo build --release`)"),
         ("sensor_noredact", "the same, static, `--no-redact` (‡: what scanning bodies for secrets costs)"),
         ("sensor_nobody", "the same, static, `--max-http-length 0` (‡: no bodies kept; heads, flows, traces)"),
         ("sensor_sat", "`pcap-sensor apidump -r … --satellite-url` (local test satellite)"),
         ("base_sat", f"*base* {BASE}: the same, its static binary (interleaved with the row above)"),
         ("sensor_sats", "the same over TLS (`https://`, the test satellite's own certificate)"),
         ("httpry", "`httpry -r …` (per packet: no reassembly, no bodies)"),
         ("tshark", "`tshark -r … -Y http` (†)")]
for key, label in TOOLS:
    cells = []
    any_ = False
    for w in "AB":
        r, bare = runs(f"{w}.{key}"), runs(f"{w}.bare")
        if not r or not bare:
            cells += ["", "", "", ""]
            continue
        any_ = True
        e, c, m = r[0], r[1], r[2]
        if key == "tshark":
            scale = num(f"cap.{w}.packets", 0) / max(num(f"off.{w}.tshark_slice_packets", 1), 1)
            cells += [f"≈ {e * scale:.1f}", f"≈ {c * scale:.1f}", f"≈ {e * scale / bare[0]:.0f}×",
                      f"{mib(m)} (slice)"]
        else:
            cells += [f"{e:.2f}", f"{c:.2f}", f"{e / bare[0]:.1f}×", mib(m)]
    if any_:
        p(f"| {label} | " + " | ".join(cells) + " |")
p("")
p(f"† tshark ran on the first {n(intk('off.A.tshark_slice_packets'))} packets of each capture "
  "(a slice made with `tcpdump -c`); its times are scaled by the capture's packets / the "
  "slice's, and its RSS is the slice's (tshark keeps state for every frame, so it grows with "
  "the file).")
p("‡ Not settings to run with: they show where the sensor's time goes. The default row less "
  "the `--max-http-length 0` row is what keeping, checking, scanning and escaping the bodies "
  "costs; the default row less the `--no-redact` row is the scan for secrets alone.")
p("")
p("What each one found:")
p("")
for w in "AB":
    ex = intk(f"cap.{w}.exchanges")
    s = f"off.{w}.sensor"
    sat, sats = {}, {}
    try:
        sat = json.loads(R.get(f"off.{w}.sensor_sat.1.satellite", "{}"))
        sats = json.loads(R.get(f"off.{w}.sensor_sats.1.satellite", "{}"))
    except ValueError:
        pass
    lines = (f"; the JSON Lines output, counted: {n(intk(f'off.{w}.lines.traces'))} lines, "
             f"{n(intk(f'off.{w}.lines.status200'))} with a 200 response, "
             f"{n(intk(f'off.{w}.lines.posts'))} POSTs (nginx: {n(intk(f'cap.{w}.posts'))}), "
             f"{n(intk(f'off.{w}.lines.no_response'))} with `\"response\":null`"
             if R.get(f"off.{w}.lines.traces") else "")
    p(f"- **{w}** ({n(ex)} exchanges): pcap-sensor {n(intk(s + '.traces'))} traces "
      f"({pct(intk(s + '.traces'), ex, 3)}; requests without response "
      f"{n(intk(s + '.requests_without_response'))}, parse errors {n(intk(s + '.parse_errors'))}, "
      f"gaps {n(intk(s + '.gaps'))}, truncated bodies {n(intk(s + '.truncated_bodies'))}{lines}); "
      f"with the satellite {n(intk(f'off.{w}.sensor_sat.traces'))} traces, "
      f"{n(intk(f'off.{w}.sensor_sat.exported'))} exported, "
      f"{n(intk(f'off.{w}.sensor_sat.export_dropped'))} dropped, the satellite counted "
      f"{n(sat.get('spans'))} spans in {n(sat.get('requests'))} batches; over TLS "
      f"{n(intk(f'off.{w}.sensor_sats.exported'))} exported, "
      f"{n(intk(f'off.{w}.sensor_sats.export_dropped'))} dropped, the satellite counted "
      f"{n(sats.get('spans'))} spans in {n(sats.get('requests'))} batches; httpry logged "
      f"{n(intk(f'off.{w}.httpry.requests'))} requests and {n(intk(f'off.{w}.httpry.responses'))} "
      f"responses; tshark on its slice {n(intk(f'off.{w}.tshark.requests'))} requests and "
      f"{n(intk(f'off.{w}.tshark.responses'))} responses (pcap-sensor on the same slice: "
      f"{n(intk(f'off.{w}.tshark.sensor_traces'))} traces).")
p("")

# ------------------------------------------------------------------ live
p("## Live")
p("")
p("`pcap-sensor apidump -i lo --filter 'tcp port PORT' --satellite-url http://127.0.0.1:SAT` "
  "(the static binary, `--rate-limit 0` so that every exchange is exported, except in the "
  "low-resource run) while wrk drives nginx; SIGTERM when wrk is done, then the final stats "
  "line. CPU: the sensor's user+sys from GNU time (whole run, capture start to exit), wrk's "
  "from GNU time, nginx's from /proc/PID/stat over wrk's run. All of it shares the machine's "
  "cores with the test satellite (Python).")
p("")
p("| run | wrk | requests/s | requests | traces (of requests) | exported | kernel drops | "
  "sensor CPU s | per 1k req/s | share of wrk+nginx CPU | sensor peak RSS | memory ceiling |")
p("|---|---|---|---|---|---|---|---|---|---|---|---|")
LIVE = [("top", "top rate, default settings", "`-t1 -c8`"),
        ("top_spool", "top rate, default settings and `--spool-dir` (satellite healthy)", "`-t1 -c8`"),
        ("paced", "~1,000 req/s, default settings", "`-t1 -c10 -s paced.lua` (10 ms delay per request)"),
        ("paced_base", f"*base* {BASE}: the same, right after the row above", "the same"),
        ("lowres", "top rate, low-resource profile", "`-t1 -c8`")]
for key, label, how in LIVE:
    k = f"live.{key}"
    if not R.get(f"{k}.sensor_time"):
        continue
    cpu = live_cpu(k)
    rss = int(R[f"{k}.sensor_time"].split()[3])
    other = (num(f"{k}.wrk_cpu") or 0) + (num(f"{k}.nginx_cpu") or 0)
    rq, tr = intk(f"{k}.requests"), intk(f"{k}.traces")
    # CPU per 1k req/s only means something when the sensor saw the traffic.
    pk = per_k(k) if intk(f"{k}.kernel_drops") == 0 else None
    p(f"| {label} | {how} | {num(f'{k}.rps', 0):,.0f} | {n(rq)} | {n(tr)} ({pct(tr, rq, 3)}) | "
      f"{n(intk(f'{k}.exported'))} | {n(intk(f'{k}.kernel_drops'))} | {cpu:.2f} | "
      f"{'— (drops)' if pk is None else f'{100 * pk:.1f} % of a core'} | {pct(cpu, other, 1)} | {mib(rss)} | "
      f"{num(f'{k}.ceiling', 0) / 1048576:.1f} MiB |")
p("")
for key, label, _ in LIVE:
    k = f"live.{key}"
    if R.get(f"{k}.sensor_time"):
        errs = R.get(f"{k}.wrk_errors") or "none"
        p(f"- {label}: wrk CPU {R.get(f'{k}.wrk_cpu')} s, nginx CPU {R.get(f'{k}.nginx_cpu')} s, "
          f"satellite CPU {R.get(f'{k}.satellite_cpu')} s; packets {n(intk(f'{k}.packets'))}, "
          f"requests without response {n(intk(f'{k}.requests_without_response'))}, gaps "
          f"{n(intk(f'{k}.gaps'))}, rate-limited {n(intk(f'{k}.rate_limited'))}, export dropped "
          f"{n(intk(f'{k}.export_dropped'))}, export failures {n(intk(f'{k}.export_failures'))}; "
          f"satellite {R.get(f'{k}.satellite', '?')}; wrk errors: {errs}.")
p("")
p("\"per 1k req/s\" is the sensor's CPU seconds per second of the run divided by the request "
  "rate in thousands: the share of one core the sensor needs for every 1,000 requests/s. "
  "wrk has no fixed-rate mode (wrk2 is not in Debian); `paced.lua` uses wrk's `delay()` hook. "
  "Traces can slightly outnumber wrk's requests: wrk does not count the requests still in "
  "flight when its time is up, which nginx answers and the sensor traces.")
p("")

# ------------------------------------------------------------------ new vs base
if BASE:
    p("## Work tree vs base")
    p("")
    p(f"The work tree's static binary against {BASE}'s, measured in this same run: offline, "
      "each repetition ran both binaries back to back (the base one first on even "
      "repetitions, second on odd ones), so that the machine's drift hits both alike; live, "
      "the base run right after the work tree's. Ratios are work tree / base (below 1: the "
      "work tree is faster). Noise: the spread of each binary's own repetitions (largest CPU "
      "time / least); a ratio whose distance from 1 is smaller than that spread is within "
      "noise.")
    p("")
    p("| measure | work tree | base | work tree / base | spread of the runs (work tree; base) | within noise |")
    p("|---|---|---|---|---|---|")
    for w in "AB":
        for new_k, base_k, what in (("sensor", "base", "JSON Lines to /dev/null"),
                                    ("sensor_sat", "base_sat", "exporting to the test satellite")):
            a, b = cpus(f"{w}.{new_k}"), cpus(f"{w}.{base_k}")
            if not a or not b:
                continue
            med = statistics.median(a) / statistics.median(b)
            least = min(a) / min(b)
            sa, sb = max(a) / min(a), max(b) / min(b)
            ok = abs(med - 1) <= max(sa, sb) - 1 and abs(least - 1) <= max(sa, sb) - 1
            verdict = ("— (fewer than 3 runs: no spread to judge by)" if min(len(a), len(b)) < 3
                       else "yes" if ok else "**no**")
            p(f"| offline {w}, {what}: CPU s, median (least) of {len(a)} | "
              f"{statistics.median(a):.2f} ({min(a):.2f}) | {statistics.median(b):.2f} ({min(b):.2f}) | "
              f"{med:.2f}× ({least:.2f}×) | {sa:.2f}×; {sb:.2f}× | {verdict} |")
    kn, kb = per_k("live.paced"), per_k("live.paced_base")
    if kn is not None and kb is not None:
        p(f"| live ~1,000 req/s: sensor CPU per 1k req/s (one run each) | {100 * kn:.2f} % | "
          f"{100 * kb:.2f} % | {kn / kb:.2f}× | (one run: see the spread above) | |")
    rn, rb = runs("A.sensor"), runs("A.base")
    if rn and rb:
        p(f"| offline A: peak RSS (largest of the runs) | {mib(rn[2])} | {mib(rb[2])} | "
          f"{rn[2] / rb[2]:.2f}× | | |")
    tn, tb = intk("off.A.sensor.traces"), intk("off.A.base.traces")
    if tn is not None and tb is not None:
        p(f"| offline A / B: traces | {n(tn)} / {n(intk('off.B.sensor.traces'))} | {n(tb)} / "
          f"{n(intk('off.B.base.traces'))} | | | |")
    p("")

# ------------------------------------------------------------------ low resource
p("## Low-resource profile")
p("")
p(f"Settings from {'`' + R.get('lowres.from', '?') + '`' if R.get('lowres.from') != 'fallback' else 'the fallback list in bench/run.sh (deploy/ecs/pcap-sensor-low-resource.json was absent)'}: "
  f"`{R.get('lowres.flags', '')}`; memory limit {R.get('lowres.limit_mib', '?')} MiB. "
  "Under the same top-rate load as above:")
if R.get(f"{low}.sensor_time"):
    rss = int(R[f"{low}.sensor_time"].split()[3])
    lim = num("lowres.limit_mib", 0)
    p(f"peak RSS {mib(rss)} (the sensor's own count: {mib(num(f'{low}.peak_rss_kb'))}), memory "
      f"ceiling it announced {num(f'{low}.ceiling', 0) / 1048576:.1f} MiB, so "
      f"{lim - rss / 1024:.0f} MiB of the {lim:.0f} MiB limit are left; kernel drops "
      f"{n(intk(f'{low}.kernel_drops'))}, traces {n(intk(f'{low}.traces'))}, rate-limited "
      f"{n(intk(f'{low}.rate_limited'))}.")
p("")

# ------------------------------------------------------------------ allocations
p("## Heap allocations")
p("")
if da:
    p(f"`valgrind --tool=dhat` on the glibc build (dhat cannot see the allocator of a static "
      f"binary), `apidump -r … --out /dev/null` on the first N = {n(intk('dhat.n'))} and 2N "
      "packets of each capture; the difference between the two runs removes start-up "
      "(reserved tables and pools), so it is what steady traffic costs. The last row sends "
      "B to the test satellite instead (`--satellite-url … --rate-limit 0`): what it allocates "
      "comes with each batch POSTed.")
    p("")
    p("| workload | blocks at N | blocks at 2N | Δ packets | Δ traces | Δ batches sent | "
      "allocations per packet | per trace | bytes per trace |")
    p("|---|---|---|---|---|---|---|---|---|")
    dsat = dhat("Bsat")
    for w, d in (("A", da), ("B", db), ("B, exported to the satellite", dsat)):
        if not d:
            continue
        bpt = ((d["bytes2"] - d["bytes1"]) / (d["t2"] - d["t1"])
               if d["bytes1"] is not None and d["t2"] != d["t1"] else None)
        pt = "n/a" if d["per_trace"] is None else f"{d['per_trace']:.2f}"
        p(f"| {w} | {n(d['b1'])} | {n(d['b2'])} | {n(d['p2'] - d['p1'])} | {n(d['t2'] - d['t1'])} | "
          f"{n(d['batches']) if d['batches'] else '—'} | {d['per_packet']:.3f} | {pt} | {'n/a' if bpt is None else f'{bpt:,.0f}'} |")
else:
    p("Not measured (no glibc build).")
p("")

# ------------------------------------------------------------------ hostile input
p("## Hostile input")
p("")
p("How fast the sensor gets through the abuse of `tests/hostile.rs` (the test checks what it "
  "does, counters and memory, and keeps only deadlines; it used to assert these figures as "
  "limits: the flood read in under 60 s, the bombs in under 10 s of CPU, debug build).")
p("")
fl = runs("flood.sensor")
if fl:
    p(f"- 100k-flow SYN flood (`bench/flood.py`: the test's capture, byte for byte; "
      f"{n(intk('hostile.flood.packets'))} packets, {num('hostile.flood.bytes', 0) / 1e6:.1f} MB; "
      f"half the flows start a request head that never ends), `apidump -r … --out /dev/null` "
      f"at default settings, {fl[3]} runs: median {fl[0]:.2f} s wall, {fl[1]:.2f} s CPU, "
      f"peak RSS {mib(fl[2])}; flows evicted {n(intk('hostile.flood.flows_evicted'))}, "
      f"pool exhausted {n(intk('hostile.flood.pool_exhausted'))}, traces "
      f"{n(intk('hostile.flood.traces'))} (the 3 good exchanges).")
if R.get("hostile.bombs.cpu"):
    p(f"- Header bombs, live on lo against `tests/support/live_server.py`: a request with 5,000 "
      f"headers, one with a 1 MiB header line, and a 60 KB head sent one byte per send "
      f"(`tests/support/hostile_peer.py`; {n(intk('hostile.bombs.packets'))} packets reached "
      f"the sensor in {R.get('hostile.bombs.seconds')} s): sensor CPU "
      f"{1000 * num('hostile.bombs.cpu', 0):.1f} ms (all threads, /proc/PID/task/*/schedstat); "
      f"parse errors {n(intk('hostile.bombs.parse_errors'))} (the two heads it cannot take), "
      f"traces {n(intk('hostile.bombs.traces'))} (the trickled head), peak RSS "
      f"{mib(num('hostile.bombs.peak_rss_kb'))}.")
p("")
p("Note: the wall-clock times and the live runs depend on the machine being otherwise idle; "
  "the load averages above say how busy it was. At the top rate wrk and nginx alone can "
  "keep both cores of a 2-core machine busy, and the sensor gets what is left.")
p("")
p(f"Reproduce: `./build.sh bench{' ' + BASE if BASE else ''}` (installs nginx-light, wrk, httpry, tshark, tcpdump, valgrind, openssl; "
  "builds the static and the glibc binaries; writes this file).")
print("\n".join(out))
