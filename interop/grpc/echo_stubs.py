"""Stubs for the gRPC interop peers, made at run time; nothing generated is kept.

- `load_echo()`: the modules `echo_pb2` and `echo_pb2_grpc`, compiled from echo.proto by
  grpc_tools.protoc into a temporary directory that is removed once they are imported.
- Reflection v1: grpcio-reflection (still in 1.85.1, the newest on PyPI) ships only
  grpc.reflection.v1alpha — the servicer, enable_server_reflection and the generated
  modules alike (grpc/grpc#38576, open, asks for v1). grpc.reflection.v1 is the same protocol under a new package: the same
  messages with the same field numbers, so the same bytes on the wire. Its descriptors
  are derived here from the v1alpha ones (`reflection_v1_messages()`, registered in the
  default pool as grpc/reflection/v1/reflection.proto so reflection can describe it), and
  `add_reflection_v1()` serves v1 with grpcio-reflection's own servicer.

This directory must have no __init__.py: interop/ is on sys.path when the suite runs,
and a regular package named grpc here would hide grpcio.
"""
import importlib
import os
import sys
import tempfile

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from grpc_reflection.v1alpha import reflection as reflection_v1alpha
from grpc_reflection.v1alpha import reflection_pb2 as reflection_v1alpha_pb2

HERE = os.path.dirname(os.path.abspath(__file__))
ECHO_PROTO = os.path.join(HERE, "echo.proto")

REFLECTION_V1ALPHA_SERVICE = reflection_v1alpha.SERVICE_NAME
REFLECTION_V1_SERVICE = "grpc.reflection.v1.ServerReflection"
REFLECTION_METHOD = "ServerReflectionInfo"

_echo = None


def load_echo():
    """(echo_pb2, echo_pb2_grpc), generated from echo.proto once per process."""
    global _echo
    if _echo is None:
        from grpc_tools import protoc  # grpcio-tools

        with tempfile.TemporaryDirectory(prefix="rmicro-grpc-stubs-") as out:
            argv = [
                "grpc_tools.protoc",
                f"--proto_path={HERE}",
                f"--python_out={out}",
                f"--grpc_python_out={out}",
                ECHO_PROTO,
            ]
            if protoc.main(argv) != 0:
                raise RuntimeError(f"grpc_tools.protoc failed on {ECHO_PROTO}")
            # echo_pb2_grpc imports echo_pb2 by its bare name.
            sys.path.insert(0, out)
            try:
                _echo = (importlib.import_module("echo_pb2"), importlib.import_module("echo_pb2_grpc"))
            finally:
                sys.path.remove(out)
    return _echo


_V1_FILE = "grpc/reflection/v1/reflection.proto"


def reflection_v1_messages():
    """(ServerReflectionRequest, ServerReflectionResponse) of grpc.reflection.v1."""
    pool = descriptor_pool.Default()
    try:
        pool.FindFileByName(_V1_FILE)
    except KeyError:
        file = descriptor_pb2.FileDescriptorProto()
        reflection_v1alpha_pb2.DESCRIPTOR.CopyToProto(file)
        old, new = file.package, "grpc.reflection.v1"
        file.name, file.package = _V1_FILE, new
        file.ClearField("options")
        for message in file.message_type:
            for field in message.field:
                if field.type_name.startswith(f".{old}."):
                    field.type_name = f".{new}." + field.type_name[len(old) + 2:]
        for service in file.service:
            for method in service.method:
                method.input_type = method.input_type.replace(f".{old}.", f".{new}.")
                method.output_type = method.output_type.replace(f".{old}.", f".{new}.")
        pool.Add(file)
    return tuple(
        message_factory.GetMessageClass(pool.FindMessageTypeByName(f"grpc.reflection.v1.{name}"))
        for name in ("ServerReflectionRequest", "ServerReflectionResponse")
    )


def add_reflection_v1(server, service_names):
    """Serves grpc.reflection.v1.ServerReflection on `server` with grpcio-reflection's
    v1alpha servicer (same wire format; see the module docstring)."""
    reflection_v1_messages()  # so that v1 itself can be described
    servicer = reflection_v1alpha.ReflectionServicer(service_names)
    handler = grpc.method_handlers_generic_handler(
        REFLECTION_V1_SERVICE,
        {
            REFLECTION_METHOD: grpc.stream_stream_rpc_method_handler(
                servicer.ServerReflectionInfo,
                request_deserializer=reflection_v1alpha_pb2.ServerReflectionRequest.FromString,
                response_serializer=reflection_v1alpha_pb2.ServerReflectionResponse.SerializeToString,
            )
        },
    )
    server.add_generic_rpc_handlers((handler,))


def reflection_call(channel, version):
    """A raw ServerReflectionInfo stream-stream callable for "v1" or "v1alpha", and the
    request message class to feed it."""
    if version == "v1":
        request, response = reflection_v1_messages()
        service = REFLECTION_V1_SERVICE
    elif version == "v1alpha":
        request = reflection_v1alpha_pb2.ServerReflectionRequest
        response = reflection_v1alpha_pb2.ServerReflectionResponse
        service = REFLECTION_V1ALPHA_SERVICE
    else:
        raise ValueError(version)
    call = channel.stream_stream(
        f"/{service}/{REFLECTION_METHOD}",
        request_serializer=request.SerializeToString,
        response_deserializer=response.FromString,
    )
    return call, request
