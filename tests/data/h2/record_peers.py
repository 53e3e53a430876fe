#!/usr/bin/env python3
"""Records the HTTP/2 and gRPC captures tests/h2_captures.rs reads, with the same peers and
clients as the live tests (tests/support/h2_*.py), and what tells their truth:

  NAME.pcap           tcpdump on lo, `tcp port P` (P in manifest.json)
  NAME.tsv            tshark's decoding of every HEADERS frame (tests/support/h2_tshark.py)
  NAME.client.jsonl   every exchange as the client saw it (one JSON line each)
  NAME.server.jsonl   every exchange as the server saw it (hypercorn and grpcio servers)
  manifest.json       per NAME: port, what ran, packets; for grpc_mid the first frame kept

NAMEs:
  h2load        nghttpd --no-tls serving a folder; h2load -n 16 -c 2 -m 4 over 4 URLs
  curl_prior    hypercorn app; curl --http2-prior-knowledge: GET with a query, POST, a
                response with trailers, 404, a 20000-byte body (one connection each)
  curl_upgrade  hypercorn app; curl --http2: Upgrade: h2c on the first request, then 3 more
                streams on the upgraded connection (POST, 20000 bytes, 503)
  curl_policy   hypercorn app; curl --http2-prior-knowledge (one connection each): requests
                with secrets (authorization, cookie, x-api-key, a token in the query, a
                JSON body with a password that /echo sends back) for redaction, and one
                endpoint answered 200 twice then 404 (a new error) for the sampler
  grpc_calls    grpcio server and ONE client channel: every call kind (unary, gzip unary,
                server streaming, client streaming, bidi, an error after a message, trailers-
                only errors with a percent-encoded grpc-message, UNIMPLEMENTED, a second
                service); phase 1 before a mark, phase 2 after it (each client line says
                which), and
  grpc_mid      the same capture from the mark on: a capture that starts mid-connection (as
                tcpdump started at the mark). Phase 2 repeats methods of phase 1 (their
                indexed headers cannot be known) and calls methods first called after the
                mark (Chat, Admin/Ping, Missing). Its truth comes from grpc_calls.pcap (tshark
                needs the preface), renumbered to grpc_mid.pcap's frames.

Usage (root, for tcpdump): python3 tests/data/h2/record_peers.py [--py PYTHON] [NAME...]
PYTHON has PyPI hypercorn and grpcio: $PCAP_SENSOR_H2_PY, else .cache/venv-h2/bin/python
(./build.sh test creates it). Tools: nghttpd, h2load (nghttp2-server, nghttp2-client), curl,
tcpdump, tshark.
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
SUPPORT = os.path.join(REPO, "tests", "support")
DEADLINE = 60

GRPC_PHASE1 = ["unary hello", "stream abc", "collect a bb ccc", "fail 5", "unary again",
               "late"]
GRPC_PHASE2 = ["unary after-the-mark", "stream xyz", "chat p q r", "ping", "fail 14",
               "missing", "unary_gzip 400", "late", "collect d ee"]

# Secrets are zq-...: no output of the sensor may contain one unless --no-redact.
CURL_POLICY = [
    {"method": "GET", "path": "/status/200?access_token=zq-qtoken-5e1a&page=2",
     "headers": [["authorization", "Bearer zq-authz-81c2"], ["cookie", "sid=zq-cookie-39d0"],
                 ["x-api-key", "zq-apikey-d7e4"], ["x-request-id", "req-42"]]},
    {"method": "POST", "path": "/echo",
     "json_body": '{"user":"alice","password":"zq-bpass-6a0f","nested":{"client_secret":'
                  '"zq-bsecret-12ab","n":1}}'},
    {"method": "GET", "path": "/status/201"},
    {"method": "GET", "path": "/status/404"},
]


def script(name):
    return os.path.join(SUPPORT, name)


class Lines:
    """A child's stdout, line by line, on a thread."""

    def __init__(self, proc):
        self.proc, self.lines, self.cv = proc, [], threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            with self.cv:
                self.lines.append(line.rstrip("\n"))
                self.cv.notify_all()
        with self.cv:
            self.lines.append(None)
            self.cv.notify_all()

    def next(self, what):
        with self.cv:
            if not self.cv.wait_for(lambda: self.lines, timeout=DEADLINE):
                raise SystemExit("no %s within %ds" % (what, DEADLINE))
            line = self.lines.pop(0)
        if line is None:
            raise SystemExit("ended before %s" % what)
        return line


def start(cmd, what):
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    return proc, Lines(proc)


def listening(cmd, what):
    proc, lines = start(cmd, what)
    first = lines.next("'listening PORT' from " + what)
    assert first.startswith("listening "), first
    return proc, lines, int(first.split()[1])


def nghttpd(www):
    """nghttpd on a free port; polls until it accepts (it prints nothing when ready)."""
    for _ in range(5):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        proc = subprocess.Popen(["nghttpd", "--no-tls", "-a", "127.0.0.1", "-d", www,
                                 str(port)], stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return proc, port
            except OSError:
                time.sleep(0.02)  # polling a port nghttpd does not announce
        proc.kill()
    raise SystemExit("nghttpd did not start")


def tell(proc, line):
    proc.stdin.write(line + "\n")
    proc.stdin.flush()


def clients_out(cmd):
    out = subprocess.run(cmd, stdout=subprocess.PIPE, timeout=DEADLINE, text=True, check=True)
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def server_records(lines, n):
    return [json.loads(lines.next("server record %d" % i)) for i in range(n)]


def record(name, py, out_dir, manifest):
    tmp = tempfile.mkdtemp()
    pcap = os.path.join(out_dir, name + ".pcap")
    servers, clients, server_seen, extra = [], [], [], {}
    try:
        if name == "h2load":
            www = os.path.join(tmp, "www")
            clients_out(["python3", script("h2_clients.py"), "www", www])
            srv, port = nghttpd(www)
            servers.append(srv)
            what = "nghttpd --no-tls; h2load -n 16 -c 2 -m 4"
        elif name in ("curl_prior", "curl_upgrade", "curl_policy"):
            srv, lines, port = listening([py, "-u", script("h2_app.py")], "h2_app.py")
            servers.append(srv)
            what = "hypercorn (h2_app.py); curl " + (
                "--http2-prior-knowledge" if name != "curl_upgrade" else "--http2 (Upgrade)")
        else:
            srv, lines, port = listening([py, "-u", script("h2_grpc.py"), "server"],
                                         "h2_grpc.py server")
            servers.append(srv)
            what = "grpcio server; one grpcio client channel, phase 1 then phase 2"
        dump, dump_lines = start(
            ["python3", "-u", script("h2_tcpdump.py"), pcap, str(port)]
            + (["--mid-out", os.path.join(out_dir, "grpc_mid.pcap")] if name == "grpc_calls"
               else []), "h2_tcpdump.py")
        assert dump_lines.next("'capturing'") == "capturing"
        base = "http://127.0.0.1:%d" % port
        if name == "h2load":
            urls = [base + p for p in ("/index.html", "/data.json", "/blob.bin",
                                       "/empty.txt?q=1")]
            clients = clients_out(["python3", script("h2_clients.py"), "h2load", "--www", www,
                                   "16", "2", "4"] + urls)
        elif name == "curl_prior":
            clients = clients_out(["python3", script("h2_clients.py"), "curl", "prior", base,
                                   json.dumps([
                                       {"method": "GET", "path": "/hello?lang=en&x=1"},
                                       {"method": "POST", "path": "/echo", "body_size": 3000},
                                       {"method": "GET", "path": "/trailers",
                                        "headers": [["te", "trailers"]]},
                                       {"method": "GET", "path": "/status/404"},
                                       {"method": "GET", "path": "/bytes/20000"}])])
            server_seen = server_records(lines, len(clients))
        elif name == "curl_policy":
            clients = clients_out(["python3", script("h2_clients.py"), "curl", "prior", base,
                                   json.dumps(CURL_POLICY)])
            server_seen = server_records(lines, len(clients))
        elif name == "curl_upgrade":
            clients = clients_out(["python3", script("h2_clients.py"), "curl", "upgrade", base,
                                   json.dumps([
                                       {"method": "GET", "path": "/hello?via=upgrade"},
                                       {"method": "POST", "path": "/echo", "body_size": 1000},
                                       {"method": "GET", "path": "/bytes/20000"},
                                       {"method": "GET", "path": "/status/503"}])])
            server_seen = server_records(lines, len(clients))
        else:
            cli, cli_lines = start([py, "-u", script("h2_grpc.py"), "client", str(port)],
                                   "h2_grpc.py client")
            assert cli_lines.next("'ready'") == "ready"
            for phase, commands in ((1, GRPC_PHASE1), (2, GRPC_PHASE2)):
                if phase == 2:
                    tell(dump, "mark")
                    mark = dump_lines.next("'mark K'")
                    extra["mid_from"] = int(mark.split()[1])
                for c in commands:
                    tell(cli, c)
                    rec = json.loads(cli_lines.next("the record of " + c))
                    rec["phase"] = phase
                    rec["command"] = c
                    clients.append(rec)
            tell(cli, "quit")
            assert json.loads(cli_lines.next("'closed'"))["event"] == "closed"
            cli.wait(timeout=DEADLINE)
            # Missing has no handler: grpcio answers UNIMPLEMENTED without one, no record.
            handled = [c for c in clients if c["path"] != "/demo.Echo/Missing"]
            server_seen = server_records(lines, len(handled))
            for s, c in zip(server_seen, handled):
                s["phase"] = c["phase"]
        tell(dump, "stop")
        packets = int(dump_lines.next("'stopped N'").split()[1])
        dump.wait(timeout=DEADLINE)
    finally:
        for s in servers:
            s.kill()
            s.wait()
        subprocess.run(["rm", "-rf", tmp], check=False)

    def write(path, recs):
        with open(path, "w") as f:
            f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in recs)

    def truth(capture, tsv, *more):
        if name == "curl_upgrade":
            more += ("--upgrade",)
        with open(tsv, "w") as f:
            subprocess.run(["python3", script("h2_tshark.py"), capture, str(port)] + list(more),
                           stdout=f, timeout=DEADLINE * 2, check=True)

    write(os.path.join(out_dir, name + ".client.jsonl"), clients)
    if server_seen:
        write(os.path.join(out_dir, name + ".server.jsonl"), server_seen)
    truth(pcap, os.path.join(out_dir, name + ".tsv"))
    manifest[name] = {"port": port, "what": what, "packets": packets,
                      "exchanges": len(clients)}
    if name == "grpc_calls":
        mid = os.path.join(out_dir, "grpc_mid.pcap")
        truth(pcap, os.path.join(out_dir, "grpc_mid.tsv"), "--from-frame",
              str(extra["mid_from"]))
        manifest["grpc_mid"] = {"port": port, "what": "grpc_calls.pcap from frame %d on (the mark)"
                                % extra["mid_from"], "cut_from": "grpc_calls",
                                "mid_from": extra["mid_from"],
                                "packets": packets - extra["mid_from"] + 1,
                                "exchanges": sum(1 for c in clients if c["phase"] == 2)}
        write(os.path.join(out_dir, "grpc_mid.client.jsonl"),
              [c for c in clients if c["phase"] == 2])
    print("recorded %s: port %d, %d packets, %d exchanges" % (name, port, packets,
                                                            len(clients)))


def main():
    args = sys.argv[1:]
    py = os.environ.get("PCAP_SENSOR_H2_PY") or os.path.join(REPO, ".cache/venv-h2/bin/python")
    if args[:1] == ["--py"]:
        py, args = args[1], args[2:]
    names = args or ["h2load", "curl_prior", "curl_upgrade", "curl_policy", "grpc_calls"]
    path = os.path.join(HERE, "manifest.json")
    manifest = json.load(open(path)) if os.path.exists(path) else {}
    for name in names:
        record(name, py, HERE, manifest)
    with open(path, "w") as f:
        json.dump(dict(sorted(manifest.items())), f, indent=1)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
