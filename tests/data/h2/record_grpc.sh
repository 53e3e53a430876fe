#!/bin/sh
# Records tests/data/h2/grpc.pcap: gRPC (grpcio 1.85, Python) on loopback, one channel:
# unary calls (one gzip-compressed), server streaming, client streaming, an error after a
# message (status in trailers) and an immediate error (a trailers-only response) whose
# grpc-message needs percent-encoding. Raw-bytes handlers, no generated code.
# Run as root (tcpdump on lo): sh tests/data/h2/record_grpc.sh [OUT.pcap]
set -eu
OUT=${1:-tests/data/h2/grpc.pcap}
PORT=${PORT:-18081}
tcpdump -i lo -U -s 0 -w "$OUT" "tcp port $PORT" 2>/dev/null &
DUMP=$!
trap 'kill $DUMP 2>/dev/null || true' EXIT
sleep 1
python3 - "$PORT" <<'PY'
import sys
from concurrent import futures
import grpc

port = sys.argv[1]

def unary(request, context):
    return request[::-1]

def stream(request, context):
    for i in range(3):
        yield b"part %d of %s" % (i, request)

def collect(requests, context):
    return b"got %d" % sum(1 for _ in requests)

def fail(request, context):
    context.abort(grpc.StatusCode.NOT_FOUND, "no such item: café 100%")

def late(request, context):
    yield b"first"
    context.abort(grpc.StatusCode.INTERNAL, "broke after one")

handler = grpc.method_handlers_generic_handler("demo.Echo", {
    "Unary": grpc.unary_unary_rpc_method_handler(unary),
    "Stream": grpc.unary_stream_rpc_method_handler(stream),
    "Collect": grpc.stream_unary_rpc_method_handler(collect),
    "Fail": grpc.unary_unary_rpc_method_handler(fail),
    "Late": grpc.unary_stream_rpc_method_handler(late),
})
server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
server.add_generic_rpc_handlers((handler,))
server.add_insecure_port("127.0.0.1:" + port)
server.start()

with grpc.insecure_channel("127.0.0.1:" + port) as ch:
    unary_call = ch.unary_unary("/demo.Echo/Unary")
    assert unary_call(b"hello") == b"olleh"
    assert unary_call(b"x" * 3000, compression=grpc.Compression.Gzip) == b"x" * 3000
    assert len(list(ch.unary_stream("/demo.Echo/Stream")(b"abc"))) == 3
    assert ch.stream_unary("/demo.Echo/Collect")(iter([b"a", b"bb", b"ccc", b"dddd"])) == b"got 4"
    for path in ("/demo.Echo/Fail", "/demo.Echo/Late"):
        try:
            call = ch.unary_stream(path) if path.endswith("Late") else ch.unary_unary(path)
            result = call(b"?")
            list(result) if path.endswith("Late") else result
            raise SystemExit(path + " did not fail")
        except grpc.RpcError as e:
            print(path, e.code(), e.details())
    assert unary_call(b"bye") == b"eyb"
server.stop(0)
PY
sleep 1
