#!/usr/bin/env python3
"""A grpcio server for echo.v1.Echo, the peer `rmicro call`/`list`/`describe` talk to.

Binds 127.0.0.1:0 and prints `listening on 127.0.0.1:PORT` on stdout. Serves:
- echo.v1.Echo (stubs generated from echo.proto at start-up):
  Say      "echo: <text>"; "fail:CODE" aborts with that status (e.g. fail:NOT_FOUND) and
           the message "failing as asked"; "details" aborts with FAILED_PRECONDITION and
           the details ErrorInfo(reason "QUOTA", domain "grpcio.example") and
           SayReply(text "retry", index 3) in grpc-status-details-bin; "sleep:MS" sleeps MS milliseconds first;
           "headers" replies "headers: k=v,..." with the request's "x-" metadata, sorted;
           "deadline" replies "deadline: <ms left>ms" (or "deadline: none").
  Count    `count` replies "<text> <i>" with index i, from 0.
  Collect  one reply: the request texts joined with ",", index = number of requests.
  Chat     one reply per request as it arrives: "echo: <text>" ("deadline" answered as
           Say answers it), index = its position.
  Every method sends the response headers "x-server: grpcio" and every request metadata
  entry whose key starts with "x-", and the trailers "x-trailer: done" and
  "x-served-by: grpcio".
- grpc.testing.TestService/EmptyCall (a service in a `grpc.` package, as grpc-go's interop server has).
- grpc.health.v1.Health with "" and "echo.v1.Echo" SERVING.
- Server reflection, by --reflection: both (v1 and v1alpha, the default), v1alpha (only
  what grpcio-reflection's enable_server_reflection registers) or none.
- Replies uncompressed, or gzipped with --compression gzip.
- Plaintext (h2c) by default; over TLS with --tls-cert CERT.pem --tls-key KEY.pem, and
  then requiring a client certificate signed by --client-ca CA.pem when given.
"""
import argparse
import os
import sys
import time
from concurrent import futures

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from grpc_status import rpc_status

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import echo_stubs  # noqa: E402

echo_pb2, echo_pb2_grpc = echo_stubs.load_echo()
ECHO_SERVICE = echo_pb2.DESCRIPTOR.services_by_name["Echo"].full_name


def pack(message):
    detail = any_pb2.Any()
    detail.Pack(message)
    return detail


def request_metadata(context):
    return sorted((key, value) for key, value in context.invocation_metadata() if key.startswith("x-"))


def metadata_both_ways(context):
    context.send_initial_metadata((("x-server", "grpcio"), *request_metadata(context)))
    context.set_trailing_metadata((("x-trailer", "done"), ("x-served-by", "grpcio")))


def deadline_text(context):
    """The call's deadline as the server sees it: "deadline: none" or "deadline: 187ms"."""
    left = context.time_remaining()  # grpcio gives ~2**63 ns without a deadline
    none = left is None or left > 10**9
    return "deadline: none" if none else f"deadline: {round(left * 1000)}ms"


class Echo(echo_pb2_grpc.EchoServicer):
    def Say(self, request, context):
        metadata_both_ways(context)
        text = request.text
        if text.startswith("fail:"):
            name = text[len("fail:"):]
            code = grpc.StatusCode.__members__.get(name)
            if code is None or code == grpc.StatusCode.OK:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"no error status named {name!r}")
            context.abort(code, "failing as asked")
        if text == "details":
            context.abort_with_status(rpc_status.to_status(status_pb2.Status(
                code=grpc.StatusCode.FAILED_PRECONDITION.value[0],
                message="with details",
                details=[pack(error_details_pb2.ErrorInfo(reason="QUOTA", domain="grpcio.example")),
                         pack(echo_pb2.SayReply(text="retry", index=3))],
            )))
        if text == "headers":
            seen = ",".join(f"{key}={value}" for key, value in request_metadata(context))
            return echo_pb2.SayReply(text=f"headers: {seen}")
        if text == "deadline":
            return echo_pb2.SayReply(text=deadline_text(context))
        if text.startswith("sleep:"):
            try:
                until = time.monotonic() + int(text[len("sleep:"):]) / 1000
            except ValueError:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, "sleep:MS wants milliseconds")
            while time.monotonic() < until and context.is_active():
                time.sleep(0.005)
        return echo_pb2.SayReply(text=f"echo: {text}")

    def Count(self, request, context):
        metadata_both_ways(context)
        if request.count < 0:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "count must not be negative")
        for i in range(request.count):
            yield echo_pb2.SayReply(text=f"{request.text} {i}", index=i)

    def Collect(self, request_iterator, context):
        metadata_both_ways(context)
        texts = [request.text for request in request_iterator]
        return echo_pb2.SayReply(text=",".join(texts), index=len(texts))

    def Chat(self, request_iterator, context):
        metadata_both_ways(context)
        for i, request in enumerate(request_iterator):
            text = deadline_text(context) if request.text == "deadline" else f"echo: {request.text}"
            yield echo_pb2.SayReply(text=text, index=i)


class RequireToken(grpc.ServerInterceptor):
    """Refuses every call — reflection and health too — without `authorization: Bearer
    TOKEN`, as a server behind auth does."""

    def __init__(self, token):
        self.expected = ("authorization", f"Bearer {token}")

    def intercept_service(self, continuation, details):
        handler = continuation(details)
        if handler is None or self.expected in (details.invocation_metadata or ()):
            return handler

        def deny(request, context):
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong bearer token")

        make = {
            (False, False): grpc.unary_unary_rpc_method_handler,
            (False, True): grpc.unary_stream_rpc_method_handler,
            (True, False): grpc.stream_unary_rpc_method_handler,
            (True, True): grpc.stream_stream_rpc_method_handler,
        }[(handler.request_streaming, handler.response_streaming)]
        return make(deny)


TESTING_SERVICE = "grpc.testing.TestService"


def add_testing_service(server):
    """grpc.testing.TestService with one method, EmptyCall(SayRequest) returns SayReply,
    as grpc-go's interop server names its service: a service in a `grpc.` package that
    reflection clients must list. Its file is made here and put in the default pool, so
    that grpcio-reflection can describe it."""
    from google.protobuf import descriptor_pb2, descriptor_pool

    file = descriptor_pb2.FileDescriptorProto(
        name="grpc/testing/test.proto", package="grpc.testing", syntax="proto3",
        dependency=[echo_pb2.DESCRIPTOR.name],
    )
    method = file.service.add(name="TestService").method.add(name="EmptyCall")
    method.input_type, method.output_type = ".echo.v1.SayRequest", ".echo.v1.SayReply"
    descriptor_pool.Default().Add(file)
    handler = grpc.method_handlers_generic_handler(TESTING_SERVICE, {
        "EmptyCall": grpc.unary_unary_rpc_method_handler(
            lambda request, context: echo_pb2.SayReply(text=f"testing: {request.text}"),
            request_deserializer=echo_pb2.SayRequest.FromString,
            response_serializer=echo_pb2.SayReply.SerializeToString,
        ),
    })
    server.add_generic_rpc_handlers((handler,))


def read(path):
    with open(path, "rb") as file:
        return file.read()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reflection", choices=["both", "v1alpha", "none"], default="both")
    parser.add_argument("--address", default="127.0.0.1:0")
    parser.add_argument("--compression", choices=["none", "gzip"], default="none",
                        help="compress every reply (when the client accepts it)")
    parser.add_argument("--tls-cert", help="PEM certificate chain: serve over TLS")
    parser.add_argument("--tls-key", help="PEM private key of --tls-cert")
    parser.add_argument("--client-ca", help="PEM CA: require client certificates it signed")
    parser.add_argument("--require-token", help="refuse calls without authorization: Bearer TOKEN")
    args = parser.parse_args()
    if (args.tls_cert is None) != (args.tls_key is None) or (args.client_ca and not args.tls_cert):
        parser.error("--tls-cert and --tls-key go together, and --client-ca needs them")

    compression = grpc.Compression.Gzip if args.compression == "gzip" else grpc.Compression.NoCompression
    interceptors = [RequireToken(args.require_token)] if args.require_token else []
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=32), compression=compression, interceptors=interceptors
    )
    echo_pb2_grpc.add_EchoServicer_to_server(Echo(), server)
    add_testing_service(server)

    checker = health.HealthServicer()
    for name in ("", ECHO_SERVICE):
        checker.set(name, health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(checker, server)

    services = [ECHO_SERVICE, TESTING_SERVICE, health.SERVICE_NAME]
    if args.reflection == "both":
        services += [echo_stubs.REFLECTION_V1_SERVICE, reflection.SERVICE_NAME]
        echo_stubs.add_reflection_v1(server, services)
        reflection.enable_server_reflection(services, server)
    elif args.reflection == "v1alpha":
        # grpcio-reflection's enable_server_reflection registers v1alpha and nothing else.
        services.append(reflection.SERVICE_NAME)
        reflection.enable_server_reflection(services, server)

    host = args.address.rsplit(":", 1)[0]
    if args.tls_cert:
        credentials = grpc.ssl_server_credentials(
            [(read(args.tls_key), read(args.tls_cert))],
            root_certificates=read(args.client_ca) if args.client_ca else None,
            require_client_auth=bool(args.client_ca),
        )
        port = server.add_secure_port(args.address, credentials)
    else:
        port = server.add_insecure_port(args.address)
    server.start()
    print(f"listening on {host}:{port}", flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    main()
