#!/usr/bin/env python3
"""A gRPC interop-test client on Python's `grpcio`, running the cases of gRPC's interop spec
(grpc/grpc `doc/interop-test-descriptions.md`) against a server of `grpc.testing.TestService`.
Used by rookery's cross-language tests against a rookery server.

    grpc_interop_client.py --gen-dir DIR --port PORT [--host HOST] [--cases a,b,...]
                           [--proto-dir PROTO_DIR] [--timeout SECS]
                           [--tls-ca CA_PEM [--server-host-override NAME]]

DIR holds the code `python -m grpc_tools.protoc` wrote for `test.proto`, `messages.proto`
and `empty.proto` (`test_pb2.py`, `test_pb2_grpc.py`, ...); with `--proto-dir` (the folder
holding those three files) the client writes it there first. Without `--cases` it runs every
standard case (STANDARD_CASES below); `health_check`, `reflection_list` and
`client_compressed_unary` run only when named.

With `--tls-ca` the channel is TLS, the server's certificate verified against the PEM
certificates in CA_PEM, for the name NAME when given (else HOST).

Prints `ok CASE` for each case that passed, `FAIL CASE: why` for each that did not, and
exits 1 if any failed (0 otherwise).
"""

import argparse
import os
import queue
import subprocess
import sys

STANDARD_CASES = [
    "empty_unary",
    "large_unary",
    "client_streaming",
    "server_streaming",
    "ping_pong",
    "empty_stream",
    "custom_metadata",
    "status_code_and_message",
    "special_status_message",
    "unimplemented_method",
    "unimplemented_service",
    "cancel_after_begin",
    "cancel_after_first_response",
    "timeout_on_sleeping_server",
]
# Standard services rather than TestService, and compression: run only when asked for.
EXTRA_CASES = ["health_check", "reflection_list", "client_compressed_unary"]

ECHO_INITIAL_KEY = "x-grpc-test-echo-initial"
ECHO_INITIAL_VALUE = "test_initial_metadata_value"
ECHO_TRAILING_KEY = "x-grpc-test-echo-trailing-bin"
ECHO_TRAILING_VALUE = b"\xab\xab\xab"
SPECIAL_STATUS_MESSAGE = "\t\ntest with whitespace\r\nand Unicode BMP \u263a and non-BMP \U0001f608\t\n"
REFLECTION_V1 = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"


class CaseFailed(Exception):
    """A case's assertion did not hold; the message says what was seen."""


def expect(cond, why):
    if not cond:
        raise CaseFailed(why)


def generate(proto_dir, gen_dir):
    """Writes the Python code for the grpc.testing protos into gen_dir."""
    os.makedirs(gen_dir, exist_ok=True)
    protos = ["empty.proto", "messages.proto", "test.proto"]
    cmd = [sys.executable, "-m", "grpc_tools.protoc", f"-I{proto_dir}",
           f"--python_out={gen_dir}", f"--grpc_python_out={gen_dir}"]
    subprocess.run(cmd + [os.path.join(proto_dir, p) for p in protos], check=True)


class RequestPipe:
    """A request stream the test feeds one message at a time; close() half-closes it."""

    _END = object()

    def __init__(self):
        self._queue = queue.Queue()

    def send(self, message):
        self._queue.put(message)

    def close(self):
        self._queue.put(self._END)

    def __iter__(self):
        return self

    def __next__(self):
        item = self._queue.get()
        if item is self._END:
            raise StopIteration
        return item


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--gen-dir", required=True)
    p.add_argument("--proto-dir", help="generate the code into --gen-dir from here first")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--cases", default=",".join(STANDARD_CASES))
    p.add_argument("--timeout", type=float, default=10.0, help="deadline of each call")
    p.add_argument("--tls-ca", help="connect over TLS, trusting the PEM certificates in this file")
    p.add_argument("--server-host-override",
                   help="with --tls-ca: the name the server's certificate is checked for")
    args = p.parse_args()
    if args.server_host_override and not args.tls_ca:
        p.error("--server-host-override needs --tls-ca")
    cases = [c for c in args.cases.split(",") if c]
    unknown = [c for c in cases if c not in STANDARD_CASES + EXTRA_CASES]
    if unknown:
        p.error(f"unknown cases {unknown}; known: {STANDARD_CASES + EXTRA_CASES}")

    if args.proto_dir:
        generate(args.proto_dir, args.gen_dir)
    sys.path.insert(0, args.gen_dir)

    import grpc

    import empty_pb2
    import messages_pb2 as m
    import test_pb2_grpc

    timeout = args.timeout
    target = f"{args.host}:{args.port}"
    if args.tls_ca:
        with open(args.tls_ca, "rb") as f:
            credentials = grpc.ssl_channel_credentials(root_certificates=f.read())
        options = []
        if args.server_host_override:
            options.append(("grpc.ssl_target_name_override", args.server_host_override))
        channel = grpc.secure_channel(target, credentials, options=options)
    else:
        channel = grpc.insecure_channel(target)
    try:
        grpc.channel_ready_future(channel).result(timeout=timeout)
    except grpc.FutureTimeoutError:
        print(f"FAIL connect: no connection to {args.host}:{args.port} in {timeout} s", flush=True)
        sys.exit(1)
    stub = test_pb2_grpc.TestServiceStub(channel)

    def zeros(n):
        return m.Payload(body=bytes(n))

    def expect_zeros(payload, n, what):
        expect(len(payload.body) == n, f"{what}: payload of {len(payload.body)} bytes, want {n}")
        expect(payload.body == bytes(n), f"{what}: payload is not all zeros")

    def expect_status(err, code, message=None, what="call"):
        expect(isinstance(err, grpc.RpcError), f"{what}: {err!r} is not an RpcError")
        expect(err.code() == code, f"{what}: status {err.code()} ({err.details()!r}), want {code}")
        if message is not None:
            expect(err.details() == message, f"{what}: message {err.details()!r}, want {message!r}")

    def expect_error(call, code, message=None, what="call"):
        """Runs call(), which must fail with code (and message, if given)."""
        try:
            got = call()
        except grpc.RpcError as err:
            expect_status(err, code, message, what)
            return
        raise CaseFailed(f"{what}: succeeded with {got!r}, want status {code}")

    def metadata_value(metadata, key):
        values = [v for k, v in (metadata or ()) if k == key]
        return values[0] if len(values) == 1 else values or None

    def expect_echoed_metadata(call, what):
        initial = metadata_value(call.initial_metadata(), ECHO_INITIAL_KEY)
        expect(initial == ECHO_INITIAL_VALUE,
               f"{what}: initial metadata {ECHO_INITIAL_KEY}={initial!r}, want {ECHO_INITIAL_VALUE!r}")
        trailing = metadata_value(call.trailing_metadata(), ECHO_TRAILING_KEY)
        expect(trailing == ECHO_TRAILING_VALUE,
               f"{what}: trailing metadata {ECHO_TRAILING_KEY}={trailing!r}, want {ECHO_TRAILING_VALUE!r}")

    def empty_unary():
        resp = stub.EmptyCall(empty_pb2.Empty(), timeout=timeout)
        expect(isinstance(resp, empty_pb2.Empty), f"response {resp!r} is not an Empty")

    def large_unary():
        req = m.SimpleRequest(response_size=314159, payload=zeros(271828))
        resp = stub.UnaryCall(req, timeout=timeout)
        expect_zeros(resp.payload, 314159, "response")

    def client_compressed_unary():
        # large_unary with the request compressed by gzip (not the spec's case of that name,
        # which needs the server to check the compressed flag through expect_compressed).
        req = m.SimpleRequest(response_size=314159, payload=zeros(271828))
        resp = stub.UnaryCall(req, timeout=timeout, compression=grpc.Compression.Gzip)
        expect_zeros(resp.payload, 314159, "response")

    def client_streaming():
        sizes = [27182, 8, 1828, 45904]
        reqs = (m.StreamingInputCallRequest(payload=zeros(n)) for n in sizes)
        resp = stub.StreamingInputCall(reqs, timeout=timeout)
        expect(resp.aggregated_payload_size == 74922,
               f"aggregated_payload_size {resp.aggregated_payload_size}, want 74922")

    def server_streaming():
        sizes = [31415, 9, 2653, 58979]
        req = m.StreamingOutputCallRequest(
            response_parameters=[m.ResponseParameters(size=n) for n in sizes])
        call = stub.StreamingOutputCall(req, timeout=timeout)
        got = list(call)
        expect(len(got) == len(sizes), f"{len(got)} responses, want {len(sizes)}")
        for i, (resp, n) in enumerate(zip(got, sizes)):
            expect_zeros(resp.payload, n, f"response {i}")
        expect(call.code() == grpc.StatusCode.OK, f"status {call.code()}")

    def ping_pong():
        pipe = RequestPipe()
        call = stub.FullDuplexCall(pipe, timeout=timeout)
        try:
            for i, (size, body) in enumerate(
                    [(31415, 27182), (9, 8), (2653, 1828), (58979, 45904)]):
                pipe.send(m.StreamingOutputCallRequest(
                    response_parameters=[m.ResponseParameters(size=size)], payload=zeros(body)))
                resp = next(call, None)
                expect(resp is not None, f"no response {i}")
                expect_zeros(resp.payload, size, f"response {i}")
        finally:
            pipe.close()
        rest = list(call)
        expect(not rest, f"{len(rest)} responses after the fourth, want none")
        expect(call.code() == grpc.StatusCode.OK, f"status {call.code()}")

    def empty_stream():
        call = stub.FullDuplexCall(iter(()), timeout=timeout)
        got = list(call)
        expect(not got, f"{len(got)} responses, want none")
        expect(call.code() == grpc.StatusCode.OK, f"status {call.code()}")

    def custom_metadata():
        metadata = [(ECHO_INITIAL_KEY, ECHO_INITIAL_VALUE), (ECHO_TRAILING_KEY, ECHO_TRAILING_VALUE)]
        req = m.SimpleRequest(response_size=314159, payload=zeros(271828))
        resp, call = stub.UnaryCall.with_call(req, metadata=metadata, timeout=timeout)
        expect_zeros(resp.payload, 314159, "UnaryCall response")
        expect_echoed_metadata(call, "UnaryCall")

        req = m.StreamingOutputCallRequest(
            response_parameters=[m.ResponseParameters(size=314159)], payload=zeros(271828))
        call = stub.FullDuplexCall(iter([req]), metadata=metadata, timeout=timeout)
        got = list(call)
        expect(len(got) == 1, f"FullDuplexCall: {len(got)} responses, want 1")
        expect_zeros(got[0].payload, 314159, "FullDuplexCall response")
        expect_echoed_metadata(call, "FullDuplexCall")

    def echo_status(message, duplex):
        status = m.EchoStatus(code=2, message=message)
        expect_error(lambda: stub.UnaryCall(m.SimpleRequest(response_status=status), timeout=timeout),
                     grpc.StatusCode.UNKNOWN, message, "UnaryCall")
        if duplex:
            req = m.StreamingOutputCallRequest(response_status=status)
            expect_error(lambda: list(stub.FullDuplexCall(iter([req]), timeout=timeout)),
                         grpc.StatusCode.UNKNOWN, message, "FullDuplexCall")

    def status_code_and_message():
        echo_status("test status message", duplex=True)

    def special_status_message():
        echo_status(SPECIAL_STATUS_MESSAGE, duplex=False)

    def unimplemented_method():
        expect_error(lambda: stub.UnimplementedCall(empty_pb2.Empty(), timeout=timeout),
                     grpc.StatusCode.UNIMPLEMENTED)

    def unimplemented_service():
        other = test_pb2_grpc.UnimplementedServiceStub(channel)
        expect_error(lambda: other.UnimplementedCall(empty_pb2.Empty(), timeout=timeout),
                     grpc.StatusCode.UNIMPLEMENTED)

    def cancel_after_begin():
        pipe = RequestPipe()
        future = stub.StreamingInputCall.future(pipe, timeout=timeout)
        try:
            future.cancel()
            expect(future.cancelled(), "the call did not report itself cancelled")
            expect(future.code() == grpc.StatusCode.CANCELLED,
                   f"status {future.code()}, want CANCELLED")
        finally:
            pipe.close()

    def cancel_after_first_response():
        pipe = RequestPipe()
        call = stub.FullDuplexCall(pipe, timeout=timeout)
        try:
            pipe.send(m.StreamingOutputCallRequest(
                response_parameters=[m.ResponseParameters(size=31415)], payload=zeros(27182)))
            resp = next(call, None)
            expect(resp is not None, "no first response")
            expect_zeros(resp.payload, 31415, "first response")
            call.cancel()
            expect_error(lambda: list(call), grpc.StatusCode.CANCELLED, what="after cancel")
        finally:
            pipe.close()

    def timeout_on_sleeping_server():
        pipe = RequestPipe()
        call = stub.FullDuplexCall(pipe, timeout=0.001)
        try:
            pipe.send(m.StreamingOutputCallRequest(payload=zeros(27182)))
            expect_error(lambda: list(call), grpc.StatusCode.DEADLINE_EXCEEDED)
        finally:
            pipe.close()

    def health_check():
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        health = health_pb2_grpc.HealthStub(channel)
        for service in ["", "grpc.testing.TestService"]:
            try:
                resp = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout)
            except grpc.RpcError as e:
                raise CaseFailed(f"Check({service!r}): status {e.code()} ({e.details()!r})") from e
            status = health_pb2.HealthCheckResponse.ServingStatus.Name(resp.status)
            expect(resp.status == health_pb2.HealthCheckResponse.SERVING,
                   f"Check({service!r}) is {status}, want SERVING")

    def reflection_list():
        # grpcio-reflection ships the v1alpha messages only; v1's are the same messages on
        # the wire under another package, so they serve for calling v1's method.
        from grpc_reflection.v1alpha import reflection_pb2

        info = channel.stream_stream(
            REFLECTION_V1,
            request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
            response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
        )
        call = info(iter([reflection_pb2.ServerReflectionRequest(list_services="")]),
                    timeout=timeout)
        got = list(call)
        expect(len(got) == 1, f"{len(got)} responses, want 1")
        expect(got[0].HasField("list_services_response"),
               f"response is not a list_services_response: {got[0]!r}")
        names = [s.name for s in got[0].list_services_response.service]
        expect("grpc.testing.TestService" in names,
               f"services {names} lack grpc.testing.TestService")

    runners = {name: fn for name, fn in locals().items() if name in STANDARD_CASES + EXTRA_CASES}
    failed = 0
    for case in cases:
        try:
            runners[case]()
        except CaseFailed as e:
            failed += 1
            print(f"FAIL {case}: {e}", flush=True)
        except grpc.RpcError as e:
            failed += 1
            print(f"FAIL {case}: status {e.code()} ({e.details()!r})", flush=True)
        except Exception as e:  # noqa: BLE001 - any surprise is this case's failure
            failed += 1
            print(f"FAIL {case}: {type(e).__name__}: {e}", flush=True)
        else:
            print(f"ok {case}", flush=True)
    channel.close()
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
