#!/usr/bin/env python3
"""gRPC test peers, server and client, with grpcio alone: raw-bytes generic handlers, no
generated code (tests/h2_live.rs, tests/data/h2/record_peers.py). Run with the venv python
that has PyPI grpcio (./build.sh test creates .cache/venv-h2 and names it in
PCAP_SENSOR_H2_PY).

  h2_grpc.py server [--bind ADDR]
      Binds ADDR (default 127.0.0.1) on a free port, prints "listening PORT", serves until
      killed. After each call it prints one JSON line, what the server saw and did:
        {"event": "call", "path", "client_port", "metadata": [[key, value], ...] (the
         invocation metadata grpcio hands the handler), "request_messages",
         "response_messages", "status_code", "status_message"}

  h2_grpc.py client PORT [--host ADDR]
      Opens ONE channel to ADDR:PORT, waits until it is connected, prints "ready", then
      reads commands on stdin, one a line, and answers each with one JSON line on stdout
      once the call has ended (so the test decides when each call happens, e.g. some before
      the sensor starts and some after, on the same channel and connection):
        unary TEXT        /demo.Echo/Unary: one message, the reversed text back
        unary_gzip N      the same with N bytes "x", the request gzip-compressed
        stream TEXT       /demo.Echo/Stream: server streaming, 3 messages back
        collect W...      /demo.Echo/Collect: client streaming, one message per word
        chat W...         /demo.Echo/Chat: bidirectional, each word back upper-cased
        fail CODE         /demo.Echo/Fail: the server aborts at once with status CODE and a
                          grpc-message that needs percent-encoding: a trailers-only
                          response
        late              /demo.Echo/Late: one message, then INTERNAL in the trailers
        ping              /demo.Admin/Ping: another service (unary)
        missing           /demo.Echo/Missing: no such method, grpcio's server answers
                          UNIMPLEMENTED (trailers-only)
        quit              closes the channel, prints {"event": "closed"}, exits
      A call's line:
        {"event": "call", "client": "grpc", "method": "POST", "path", "authority",
         "status": 200, "grpc": {"service", "method", "status_code", "status_message"},
         "request_messages", "response_messages", "request_body_size",
         "response_body_size", "request_body_b64", "response_body_b64", "compressed"}
      Body sizes and bytes are the DATA payload of the HTTP/2 stream: each message with its
      5-byte prefix (compressed flag, big-endian length); null when grpc core compressed
      the request (its compressed bytes are not seen from here). `status` is 200 for every
      call that got a grpc-status from the server: grpcio turns any other :status into a
      transport error, never into a status the server sent.
"""

import argparse
import base64
import json
import sys
import threading
from concurrent import futures

import grpc

SERVICE = "demo.Echo"
ADMIN = "demo.Admin"
# Non-ASCII and '%': sent percent-encoded in grpc-message (the gRPC HTTP/2 spec).
FAIL_MESSAGE = "no such item: café 100%"
LATE_MESSAGE = "broke after one"
CODES = {c.value[0]: c for c in grpc.StatusCode}

print_lock = threading.Lock()


def emit(obj):
    with print_lock:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()


def text_metadata(md):
    out = []
    for k, v in md or ():
        if isinstance(v, bytes):
            v = base64.b64encode(v).decode()
        out.append([k, v])
    return out


# ---------------------------------------------------------------------------- server

class Abort(Exception):
    pass


def recorded(path, kind, fn):
    """Wraps a handler: counts messages both ways, prints the call's record at its end."""

    def handler(request, context):
        rec = {"event": "call", "path": path, "client_port": None,
               "metadata": text_metadata(context.invocation_metadata()),
               "request_messages": 0, "response_messages": 0,
               "status_code": 0, "status_message": ""}
        peer = context.peer()  # ipv4:127.0.0.1:PORT or ipv6:[::1]:PORT
        rec["client_port"] = int(peer.rsplit(":", 1)[1]) if ":" in peer else None

        def count_in(it):
            for m in it:
                rec["request_messages"] += 1
                yield m

        def abort(code, message):
            rec["status_code"], rec["status_message"] = code.value[0], message
            emit(rec)
            context.abort(code, message)

        if kind in ("stream_unary", "stream_stream"):
            request = count_in(request)
        else:
            rec["request_messages"] = 1
        if kind in ("unary_stream", "stream_stream"):
            def gen():
                for m in fn(request, abort):
                    rec["response_messages"] += 1
                    yield m
                emit(rec)
            return gen()
        out = fn(request, abort)
        rec["response_messages"] = 1
        emit(rec)
        return out

    return handler


def unary(request, abort):
    return request[::-1]


def stream(request, abort):
    for i in range(3):
        yield b"part %d of %s" % (i, request)


def collect(requests, abort):
    return b"got %d" % sum(1 for _ in requests)


def chat(requests, abort):
    for m in requests:
        yield m.upper()


def fail(request, abort):
    abort(CODES[int(request or b"5")], FAIL_MESSAGE)


def late(request, abort):
    yield b"first"
    abort(grpc.StatusCode.INTERNAL, LATE_MESSAGE)


def ping(request, abort):
    return b"pong"


KINDS = {
    "unary_unary": grpc.unary_unary_rpc_method_handler,
    "unary_stream": grpc.unary_stream_rpc_method_handler,
    "stream_unary": grpc.stream_unary_rpc_method_handler,
    "stream_stream": grpc.stream_stream_rpc_method_handler,
}


def handlers(service, table):
    return grpc.method_handlers_generic_handler(service, {
        name: KINDS[kind](recorded("/%s/%s" % (service, name), kind, fn))
        for name, (kind, fn) in table.items()
    })


def serve(args):
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers((
        handlers(SERVICE, {
            "Unary": ("unary_unary", unary),
            "Stream": ("unary_stream", stream),
            "Collect": ("stream_unary", collect),
            "Chat": ("stream_stream", chat),
            "Fail": ("unary_unary", fail),
            "Late": ("unary_stream", late),
        }),
        handlers(ADMIN, {"Ping": ("unary_unary", ping)}),
    ))
    host = "[%s]" % args.bind if ":" in args.bind else args.bind
    port = server.add_insecure_port("%s:0" % host)
    server.start()
    emit_line = "listening %d" % port
    with print_lock:
        sys.stdout.write(emit_line + "\n")
        sys.stdout.flush()
    server.wait_for_termination()


# ---------------------------------------------------------------------------- client

def framed(messages):
    return b"".join(b"\x00" + len(m).to_bytes(4, "big") + m for m in messages)


def call(channel, authority, command, words):
    """Runs one command; returns its record."""
    kind, path, sent, compressed = None, None, [], False
    if command == "unary":
        kind, path, sent = "unary_unary", "/demo.Echo/Unary", [" ".join(words).encode()]
    elif command == "unary_gzip":
        kind, path, sent = "unary_unary", "/demo.Echo/Unary", [b"x" * int(words[0])]
        compressed = True
    elif command == "stream":
        kind, path, sent = "unary_stream", "/demo.Echo/Stream", [" ".join(words).encode()]
    elif command == "collect":
        kind, path, sent = "stream_unary", "/demo.Echo/Collect", [w.encode() for w in words]
    elif command == "chat":
        kind, path, sent = "stream_stream", "/demo.Echo/Chat", [w.encode() for w in words]
    elif command == "fail":
        kind, path, sent = "unary_unary", "/demo.Echo/Fail", [words[0].encode()]
    elif command == "late":
        kind, path, sent = "unary_stream", "/demo.Echo/Late", [b"?"]
    elif command == "ping":
        kind, path, sent = "unary_unary", "/demo.Admin/Ping", [b"ping"]
    elif command == "missing":
        kind, path, sent = "unary_unary", "/demo.Echo/Missing", [b"anyone?"]
    else:
        raise SystemExit("unknown command %r" % command)
    options = {"compression": grpc.Compression.Gzip} if compressed else {}
    stub = getattr(channel, kind)(path)
    got, code, details = [], grpc.StatusCode.OK, ""
    try:
        if kind == "unary_unary":
            response, c = stub.with_call(sent[0], timeout=30, **options)
            got = [response]
        elif kind == "stream_unary":
            response, c = stub.with_call(iter(sent), timeout=30, **options)
            got = [response]
        else:
            arg = sent[0] if kind == "unary_stream" else iter(sent)
            c = stub(arg, timeout=30, **options)
            for m in c:
                got.append(m)
        code, details = c.code(), c.details() or ""
    except grpc.RpcError as e:
        # A streaming call raises from the iterator, after the messages it got.
        code, details = e.code(), e.details() or ""
    service, method = path[1:].split("/", 1)
    return {
        "event": "call", "client": "grpc", "method": "POST", "path": path,
        "authority": authority, "status": 200,
        "grpc": {"service": service, "method": method, "status_code": code.value[0],
                 "status_message": details},
        "request_messages": len(sent), "response_messages": len(got),
        "request_body_size": None if compressed else len(framed(sent)),
        "response_body_size": len(framed(got)),
        "request_body_b64": None if compressed else base64.b64encode(framed(sent)).decode(),
        "response_body_b64": base64.b64encode(framed(got)).decode(),
        "compressed": compressed,
    }


def client(args):
    host = "[%s]" % args.host if ":" in args.host else args.host
    authority = "%s:%d" % (host, args.port)
    channel = grpc.insecure_channel(authority)
    grpc.channel_ready_future(channel).result(timeout=30)
    print("ready", flush=True)
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        if words[0] == "quit":
            break
        emit(call(channel, authority, words[0], words[1:]))
    channel.close()
    emit({"event": "closed"})


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="role", required=True)
    s = sub.add_parser("server")
    s.add_argument("--bind", default="127.0.0.1")
    c = sub.add_parser("client")
    c.add_argument("port", type=int)
    c.add_argument("--host", default="127.0.0.1")
    args = ap.parse_args()
    if args.role == "server":
        serve(args)
    else:
        client(args)


if __name__ == "__main__":
    sys.exit(main())
