#!/usr/bin/env python3
"""A gRPC interop-test server on Python's `grpcio`: `grpc.testing.TestService` as gRPC's
interop spec (grpc/grpc `doc/interop-test-descriptions.md`) has servers answer, beside the
standard health (`grpc.health.v1.Health`) and reflection (`grpc.reflection.v1` and
`v1alpha`) services. Used by rookery's cross-language tests: a rookery client runs the interop
cases against it.

    grpc_interop_server.py --gen-dir DIR [--proto-dir PROTO_DIR] [--port PORT]

DIR holds the code `python -m grpc_tools.protoc` wrote for `test.proto`, `messages.proto`
and `empty.proto`; with `--proto-dir` (the folder holding those three files) the server
writes it there first.

Binds 127.0.0.1 on a port the system picks (or PORT) and prints `listening on PORT` once it
serves. Serves until it is killed or its stdin closes (so it never outlives the test that
started it).

What it implements: EmptyCall; UnaryCall (response_size, response_status echo,
response_compressed); StreamingOutputCall (response_parameters with size and interval_us,
response_status echo); StreamingInputCall (the sum of the payloads); FullDuplexCall
(responses per request as they arrive); HalfDuplexCall (responses once the client half-closes);
on every call, the `x-grpc-test-echo-initial` metadata back as initial metadata and
`x-grpc-test-echo-trailing-bin` back as trailing metadata. UnimplementedCall and
UnimplementedService answer UNIMPLEMENTED. Health answers SERVING for "" and
"grpc.testing.TestService".
"""

import argparse
import os
import subprocess
import sys
import threading
import time
from concurrent import futures

ECHO_INITIAL_KEY = "x-grpc-test-echo-initial"
ECHO_TRAILING_KEY = "x-grpc-test-echo-trailing-bin"
TEST_SERVICE = "grpc.testing.TestService"
REFLECTION_V1 = "grpc.reflection.v1.ServerReflection"


def generate(proto_dir, gen_dir):
    """Writes the Python code for the grpc.testing protos into gen_dir."""
    os.makedirs(gen_dir, exist_ok=True)
    protos = ["empty.proto", "messages.proto", "test.proto"]
    cmd = [sys.executable, "-m", "grpc_tools.protoc", f"-I{proto_dir}",
           f"--python_out={gen_dir}", f"--grpc_python_out={gen_dir}"]
    subprocess.run(cmd + [os.path.join(proto_dir, p) for p in protos], check=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--gen-dir", required=True)
    p.add_argument("--proto-dir", help="generate the code into --gen-dir from here first")
    p.add_argument("--port", type=int, default=0, help="0: one the system picks")
    args = p.parse_args()
    if args.proto_dir:
        generate(args.proto_dir, args.gen_dir)
    sys.path.insert(0, args.gen_dir)

    import grpc
    from grpc_health.v1 import health, health_pb2, health_pb2_grpc
    from grpc_reflection.v1alpha import reflection, reflection_pb2

    import empty_pb2
    import messages_pb2 as m
    import test_pb2
    import test_pb2_grpc

    codes = {code.value[0]: code for code in grpc.StatusCode}

    def payload(size):
        return m.Payload(type=m.COMPRESSABLE, body=bytes(size))

    def echo_metadata(context):
        """Sends the echo keys back: one as initial metadata now, one as trailing later."""
        initial, trailing = [], []
        for key, value in context.invocation_metadata():
            if key == ECHO_INITIAL_KEY:
                initial.append((key, value))
            elif key == ECHO_TRAILING_KEY:
                trailing.append((key, value))
        if initial:
            context.send_initial_metadata(initial)
        if trailing:
            context.set_trailing_metadata(trailing)

    def echo_status(request, context):
        """Ends the call with the status the request asks for, if it asks for one."""
        if request.HasField("response_status") and request.response_status.code != 0:
            status = request.response_status
            code = codes.get(status.code, grpc.StatusCode.UNKNOWN)
            context.abort(code, status.message)

    def check_payload_type(request, context):
        if request.response_type != m.COMPRESSABLE:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          f"unsupported response_type {request.response_type}")

    def stream_responses(request, context):
        """One response per ResponseParameters, each after its interval_us."""
        for params in request.response_parameters:
            if params.interval_us > 0:
                time.sleep(params.interval_us / 1e6)
            if params.HasField("compressed"):
                context.set_compression(
                    grpc.Compression.Gzip if params.compressed.value else grpc.Compression.NoCompression)
            yield m.StreamingOutputCallResponse(payload=payload(params.size))

    class TestService(test_pb2_grpc.TestServiceServicer):
        # UnimplementedCall is left to the generated base class, which answers UNIMPLEMENTED.

        def EmptyCall(self, request, context):
            echo_metadata(context)
            return empty_pb2.Empty()

        def UnaryCall(self, request, context):
            echo_metadata(context)
            echo_status(request, context)
            check_payload_type(request, context)
            if request.HasField("response_compressed") and request.response_compressed.value:
                context.set_compression(grpc.Compression.Gzip)
            return m.SimpleResponse(payload=payload(request.response_size))

        def StreamingOutputCall(self, request, context):
            echo_metadata(context)
            echo_status(request, context)
            check_payload_type(request, context)
            yield from stream_responses(request, context)

        def StreamingInputCall(self, request_iterator, context):
            echo_metadata(context)
            total = sum(len(r.payload.body) for r in request_iterator)
            return m.StreamingInputCallResponse(aggregated_payload_size=total)

        def FullDuplexCall(self, request_iterator, context):
            echo_metadata(context)
            for request in request_iterator:
                echo_status(request, context)
                check_payload_type(request, context)
                yield from stream_responses(request, context)

        def HalfDuplexCall(self, request_iterator, context):
            echo_metadata(context)
            requests = list(request_iterator)
            for request in requests:
                echo_status(request, context)
                check_payload_type(request, context)
                yield from stream_responses(request, context)

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=32))
    test_pb2_grpc.add_TestServiceServicer_to_server(TestService(), server)

    health_servicer = health.HealthServicer()
    for service in ["", TEST_SERVICE]:
        health_servicer.set(service, health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)

    services = [
        test_pb2.DESCRIPTOR.services_by_name["TestService"].full_name,
        health.SERVICE_NAME,
        reflection.SERVICE_NAME,
        REFLECTION_V1,
    ]
    reflection.enable_server_reflection(services, server)
    # grpcio-reflection serves v1alpha only; v1 has the same messages on the wire under
    # another package, so the same servicer answers it.
    reflection_v1 = reflection.ReflectionServicer(services)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(REFLECTION_V1, {
        "ServerReflectionInfo": grpc.stream_stream_rpc_method_handler(
            reflection_v1.ServerReflectionInfo,
            request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
            response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
        ),
    }),))

    port = server.add_insecure_port(f"127.0.0.1:{args.port}")
    if port == 0:
        sys.exit(f"could not bind 127.0.0.1:{args.port}")
    server.start()

    def exit_when_stdin_closes():
        sys.stdin.read()
        os._exit(0)

    threading.Thread(target=exit_when_stdin_closes, daemon=True).start()
    print(f"listening on {port}", flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    main()
