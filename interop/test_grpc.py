"""gRPC in both directions, with grpcio from PyPI as the peer (pinned in requirements.txt).

- grpcio's client, with stubs generated from interop/grpc/echo.proto by grpc_tools, against
  `rmicro serve --proto interop/grpc/echo.proto --handlers interop/grpc/echo.handlers.json`:
  the four kinds of method (stub replies, streamed replies with an interval, exec handlers
  fed one JSON line per request), statuses, deadlines, metadata rules, server reflection
  over grpc.reflection.v1 and v1alpha (raw streams and grpcio-reflection's descriptor
  database), and grpc.health.v1.
- `rmicro call`, `list` and `describe` against grpcio's server (interop/grpc/echo_server.py),
  the schema coming from server reflection (v1, or v1alpha alone) or from --proto: every
  kind of method, statuses as exit codes 64 + code, deadlines sent as grpc-timeout,
  metadata both ways, and the envelope output.
"""
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from peers import RMICRO, ROOT, PeerTest, Process, require, rmicro, serve_echo

GRPC_DIR = os.path.join(ROOT, "interop", "grpc")
ECHO_SERVER = os.path.join(GRPC_DIR, "echo_server.py")
sys.path.insert(0, GRPC_DIR)
import echo_stubs  # noqa: E402  (interop/grpc has no __init__.py: it must not hide grpcio)

echo_pb2, echo_pb2_grpc = echo_stubs.load_echo()

# Every call the Python client makes is bounded, so a misbehaving server fails a test
# instead of hanging the suite.
CALL_TIMEOUT = 10

REFLECTION_SERVICES = {
    "v1": echo_stubs.REFLECTION_V1_SERVICE,
    "v1alpha": echo_stubs.REFLECTION_V1ALPHA_SERVICE,
}


def reflect(channel, version, **request):
    """One ServerReflectionInfo request over the raw `version` stream; its one response."""
    call, message = echo_stubs.reflection_call(channel, version)
    responses = list(call(iter([message(**request)]), timeout=CALL_TIMEOUT))
    if len(responses) != 1:
        raise AssertionError(f"{len(responses)} reflection responses to one request: {responses}")
    return responses[0]


def texts_and_indexes(replies):
    """(text, index) of proto messages or of their proto3 JSON (zero values omitted)."""
    if replies and isinstance(replies[0], dict):
        return [(reply.get("text", ""), reply.get("index", 0)) for reply in replies]
    return [(reply.text, reply.index) for reply in replies]


def json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


class PythonClientAgainstRmicro(PeerTest):
    @classmethod
    def setUpClass(cls):
        cls.server = serve_echo()
        cls.channel = grpc.insecure_channel(cls.server.address)
        cls.echo = echo_pb2_grpc.EchoStub(cls.channel)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        cls.server.stop()

    def say(self, text, **kwargs):
        kwargs.setdefault("timeout", CALL_TIMEOUT)
        return self.echo.Say(echo_pb2.SayRequest(text=text), **kwargs)

    def assertStatus(self, raised, code, details=None):
        error = raised.exception
        self.assertEqual(error.code(), code, error)
        if details is not None:
            self.assertEqual(error.details(), details)

    def test_unary_stub_rules(self):
        self.assertEqual(texts_and_indexes([self.say("hi")]), [("echo: hi", 0)])
        self.assertEqual(self.say("anything else").text, "default")
        self.assertEqual(self.say("").text, "default")

    def test_error_rule_is_a_grpc_status(self):
        with self.assertRaises(grpc.RpcError) as raised:
            self.say("missing")
        self.assertStatus(raised, grpc.StatusCode.NOT_FOUND, "no such thing")

    def test_error_details_travel_in_grpc_status_details_bin(self):
        with self.assertRaises(grpc.RpcError) as raised:
            self.say("stockout")
        self.assertStatus(raised, grpc.StatusCode.RESOURCE_EXHAUSTED, "out of stock")
        status = rpc_status.from_call(raised.exception)
        self.assertEqual((status.code, status.message), (grpc.StatusCode.RESOURCE_EXHAUSTED.value[0], "out of stock"))
        info, reply = error_details_pb2.ErrorInfo(), echo_pb2.SayReply()
        self.assertTrue(status.details[0].Unpack(info), status.details[0].type_url)
        self.assertEqual((info.reason, info.domain, dict(info.metadata)), ("STOCKOUT", "echo.example", {"zone": "eu-1"}))
        self.assertTrue(status.details[1].Unpack(reply), status.details[1].type_url)
        self.assertEqual((reply.text, reply.index), ("try later", 7))

    def test_gzip_compressed_requests_are_accepted(self):
        # rmicro answers a gzipped request with gzipped replies (tests/integration/grpc.rs
        # sees grpc-encoding: gzip); grpcio hides that header but must inflate them.
        reply = self.say("hi", compression=grpc.Compression.Gzip)
        self.assertEqual(reply.text, "echo: hi")
        replies = list(self.echo.Chat(
            iter([echo_pb2.SayRequest(text="a"), echo_pb2.SayRequest(text="b")]),
            timeout=CALL_TIMEOUT, compression=grpc.Compression.Gzip,
        ))
        self.assertEqual(texts_and_indexes(replies), [("echo: a", 0), ("echo: b", 1)])

    def test_unknown_method_is_unimplemented(self):
        nope = self.channel.unary_unary("/echo.v1.Echo/Nope")
        with self.assertRaises(grpc.RpcError) as raised:
            nope(b"", timeout=CALL_TIMEOUT)
        self.assertStatus(raised, grpc.StatusCode.UNIMPLEMENTED)

    def test_deadline_cuts_a_delayed_reply(self):
        started = time.monotonic()
        with self.assertRaises(grpc.RpcError) as raised:
            self.say("slow", timeout=0.3)
        elapsed = time.monotonic() - started
        self.assertStatus(raised, grpc.StatusCode.DEADLINE_EXCEEDED)
        self.assertLess(elapsed, 1.5, "a 300 ms deadline must not wait for the 2 s delay")
        # The connection is still good after the abandoned call.
        self.assertEqual(self.say("hi").text, "echo: hi")

    def test_request_metadata_reaches_a_metadata_rule(self):
        self.assertEqual(self.say("hi", metadata=[("x-tenant", "acme")]).text, "tenant acme")
        self.assertEqual(self.say("hi", metadata=[("x-tenant", "other")]).text, "echo: hi")

    def test_server_streaming_replies_in_order_with_an_interval(self):
        arrivals, replies = [], []
        for reply in self.echo.Count(echo_pb2.CountRequest(count=3, text="x"), timeout=CALL_TIMEOUT):
            arrivals.append(time.monotonic())
            replies.append(reply)
        self.assertEqual(texts_and_indexes(replies), [("one", 0), ("two", 1), ("three", 2)])
        # Two 20 ms intervals: the last reply cannot arrive less than 40 ms after the first.
        self.assertGreaterEqual(arrivals[2] - arrivals[0], 0.035)

    def test_client_streaming_exec_sees_every_request(self):
        requests = [echo_pb2.SayRequest(text=text) for text in ("a", "b", "c")]
        reply = self.echo.Collect(iter(requests), timeout=CALL_TIMEOUT)
        self.assertEqual(texts_and_indexes([reply]), [("a,b,c", 3)])
        reply = self.echo.Collect(iter([echo_pb2.SayRequest(text="solo")]), timeout=CALL_TIMEOUT)
        self.assertEqual(texts_and_indexes([reply]), [("solo", 1)])

    def test_bidirectional_exec_answers_each_message_before_the_next(self):
        """The client sends a message only after the reply to the previous one: a server
        that waits for the end of the client's stream deadlocks (and misses the deadline)."""
        outbox = queue.Queue()
        outbox.put(echo_pb2.SayRequest(text="first"))

        def requests():
            while (message := outbox.get()) is not None:
                yield message

        replies = []
        try:
            for reply in self.echo.Chat(requests(), timeout=CALL_TIMEOUT):
                replies.append(reply)
                outbox.put(echo_pb2.SayRequest(text=f"then {len(replies)}") if len(replies) < 3 else None)
        finally:
            outbox.put(None)
        self.assertEqual(
            texts_and_indexes(replies),
            [("echo: first", 0), ("echo: then 1", 1), ("echo: then 2", 2)],
        )

    def test_bidirectional_exec_error_line_ends_the_call(self):
        requests = [echo_pb2.SayRequest(text=text) for text in ("a", "fail:NOT_FOUND", "never")]
        replies = []
        with self.assertRaises(grpc.RpcError) as raised:
            for reply in self.echo.Chat(iter(requests), timeout=CALL_TIMEOUT):
                replies.append(reply)
        self.assertStatus(raised, grpc.StatusCode.NOT_FOUND, "failing as asked")
        self.assertEqual(texts_and_indexes(replies), [("echo: a", 0)])

    def check_reflection(self, version):
        listed = reflect(self.channel, version, list_services="")
        names = [service.name for service in listed.list_services_response.service]
        for name in ("echo.v1.Echo", "grpc.health.v1.Health", REFLECTION_SERVICES[version]):
            self.assertIn(name, names)

        found = reflect(self.channel, version, file_containing_symbol="echo.v1.Echo")
        files = [
            descriptor_pb2.FileDescriptorProto.FromString(data)
            for data in found.file_descriptor_response.file_descriptor_proto
        ]
        echo = [file for file in files if file.package == "echo.v1" and any(s.name == "Echo" for s in file.service)]
        self.assertEqual(len(echo), 1, [file.name for file in files])
        (service,) = [s for s in echo[0].service if s.name == "Echo"]
        kinds = {m.name: (m.client_streaming, m.server_streaming) for m in service.method}
        self.assertEqual(
            kinds,
            {"Say": (False, False), "Count": (False, True), "Collect": (True, False), "Chat": (True, True)},
        )

        missing = reflect(self.channel, version, file_containing_symbol="no.such.Symbol")
        self.assertEqual(missing.WhichOneof("message_response"), "error_response")
        self.assertEqual(missing.error_response.error_code, grpc.StatusCode.NOT_FOUND.value[0])

    def test_reflection_v1(self):
        self.check_reflection("v1")

    def test_reflection_v1alpha(self):
        self.check_reflection("v1alpha")

    def test_call_built_from_reflection_alone(self):
        """As grpcurl does: grpcio-reflection's descriptor database feeds a pool, whose
        message classes make the call."""
        database = ProtoReflectionDescriptorDatabase(self.channel)
        self.assertIn("echo.v1.Echo", database.get_services())
        pool = descriptor_pool.DescriptorPool(database)
        say = pool.FindServiceByName("echo.v1.Echo").methods_by_name["Say"]
        request = message_factory.GetMessageClass(say.input_type)
        reply = message_factory.GetMessageClass(say.output_type)
        call = self.channel.unary_unary(
            "/echo.v1.Echo/Say",
            request_serializer=request.SerializeToString,
            response_deserializer=reply.FromString,
        )
        self.assertEqual(call(request(text="hi"), timeout=CALL_TIMEOUT).text, "echo: hi")
        self.assertEqual(pool.FindServiceByName("grpc.health.v1.Health").methods_by_name["Check"].name, "Check")

    def test_health_check(self):
        health = health_pb2_grpc.HealthStub(self.channel)
        for service in ("", "echo.v1.Echo"):
            reply = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=CALL_TIMEOUT)
            self.assertEqual(reply.status, health_pb2.HealthCheckResponse.SERVING, repr(service))
        with self.assertRaises(grpc.RpcError) as raised:
            health.Check(health_pb2.HealthCheckRequest(service="nope"), timeout=CALL_TIMEOUT)
        self.assertStatus(raised, grpc.StatusCode.NOT_FOUND)

    def test_health_watch_starts_with_serving(self):
        health = health_pb2_grpc.HealthStub(self.channel)
        watch = health.Watch(health_pb2.HealthCheckRequest(service=""), timeout=CALL_TIMEOUT)
        try:
            self.assertEqual(next(watch).status, health_pb2.HealthCheckResponse.SERVING)
        finally:
            watch.cancel()


class RmicroAgainstPythonServer(PeerTest):
    @classmethod
    def setUpClass(cls):
        cls.server = Process([sys.executable, ECHO_SERVER])
        cls.target = f"grpc://{cls.server.address}"

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def call(self, *args, stdin=None, target=None):
        return rmicro("call", "--address", target or self.target, *args, stdin=stdin)

    def replies(self, result, code=0):
        self.assertExit(result, code)
        return texts_and_indexes(json_lines(result.stdout))

    def test_unary_with_either_endpoint_spelling(self):
        for endpoint in ("echo.v1.Echo/Say", "Echo.Say"):
            with self.subTest(endpoint=endpoint):
                result = self.call(endpoint, '{"text":"hi"}', "-o", "json")
                self.assertEqual(self.replies(result), [("echo: hi", 0)])

    def test_server_streaming_one_line_per_reply(self):
        result = self.call("echo.v1.Echo/Count", '{"count":3,"text":"tick"}', "-o", "json")
        self.assertEqual(self.replies(result), [("tick 0", 0), ("tick 1", 1), ("tick 2", 2)])
        result = self.call("Echo.Count", '{"count":0}', "-o", "json")
        self.assertEqual(self.replies(result), [])

    def test_client_streaming_from_stdin(self):
        lines = '{"text":"a"}\n{"text":"b"}\n{"text":"c"}\n'
        result = self.call("echo.v1.Echo/Collect", "-d", "@-", "-o", "json", stdin=lines)
        self.assertEqual(self.replies(result), [("a,b,c", 3)])

    def test_bidirectional_from_stdin(self):
        lines = "".join(json.dumps({"text": f"m{i}"}) + "\n" for i in range(5))
        result = self.call("Echo.Chat", "-d", "@-", "-o", "json", stdin=lines)
        self.assertEqual(self.replies(result), [(f"echo: m{i}", i) for i in range(5)])

    def test_error_status_is_exit_code_and_message(self):
        for status, code in (("NOT_FOUND", 5), ("INVALID_ARGUMENT", 3), ("PERMISSION_DENIED", 7)):
            with self.subTest(status=status):
                result = self.call("echo.v1.Echo/Say", json.dumps({"text": f"fail:{status}"}), "-o", "json")
                self.assertExit(result, 64 + code)
                self.assertIn("failing as asked", result.stderr)

    def test_deadline(self):
        started = time.monotonic()
        result = self.call("echo.v1.Echo/Say", '{"text":"sleep:2000"}', "--timeout", "300ms", "-o", "json")
        elapsed = time.monotonic() - started
        self.assertExit(result, 64 + 4)  # DEADLINE_EXCEEDED
        self.assertLess(elapsed, 1.8, "a 300 ms deadline must not wait for the 2 s sleep")

    def test_timeout_is_sent_as_grpc_timeout(self):
        result = self.call("echo.v1.Echo/Say", '{"text":"deadline"}', "--timeout", "3s", "-o", "json")
        ((text, _),) = self.replies(result)
        self.assertRegex(text, r"^deadline: \d+ms$")
        left = int(text[len("deadline: "):-len("ms")])
        self.assertTrue(2000 < left <= 3000, f"the server saw {left} ms left of a 3 s deadline")

    def test_metadata_both_ways(self):
        result = self.call(
            "echo.v1.Echo/Say", '{"text":"headers"}', "-H", "x-tenant:acme", "-H", "x-trace:t1", "-o", "json",
        )
        self.assertEqual(self.replies(result), [("headers: x-tenant=acme,x-trace=t1", 0)])
        result = self.call("echo.v1.Echo/Say", '{"text":"hi"}', "-H", "x-tenant:acme", "-v", "-o", "json")
        self.assertEqual(self.replies(result), [("echo: hi", 0)])
        # x-server is a header only the server sends; x-trailer a trailer.
        for text in ("x-tenant", "acme", "x-server", "grpcio", "x-trailer", "done"):
            self.assertIn(text, result.stderr)

    def test_error_details_are_shown_decoded(self):
        result = self.call("echo.v1.Echo/Say", '{"text":"details"}', "--output", "envelope")
        self.assertExit(result, 64 + 9)
        status = json.loads(result.stdout)["status"]
        self.assertEqual((status["name"], status["message"]), ("FAILED_PRECONDITION", "with details"))
        self.assertEqual(status["details"], [
            {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "QUOTA", "domain": "grpcio.example"},
            {"@type": "type.googleapis.com/echo.v1.SayReply", "text": "retry", "index": 3},
        ])
        result = self.call("echo.v1.Echo/Say", '{"text":"details"}')
        self.assertExit(result, 64 + 9)
        self.assertIn('"reason":"QUOTA"', result.stderr)

    def test_gzip_both_ways(self):
        gzipping = Process([sys.executable, ECHO_SERVER, "--compression", "gzip"])
        try:
            target = f"grpc://{gzipping.address}"
            result = self.call("echo.v1.Echo/Say", '{"text":"hi"}', "-v", "-o", "json", target=target)
            self.assertEqual(self.replies(result), [("echo: hi", 0)])
            self.assertIn("< grpc-encoding: gzip", result.stderr)
            result = self.call(
                "echo.v1.Echo/Collect", "-d", "@-", "--compress", "gzip", "-o", "json",
                stdin='{"text":"a"}\n{"text":"b"}\n', target=target,
            )
            self.assertEqual(self.replies(result), [("a,b", 2)])
        finally:
            gzipping.stop()

    def test_envelope(self):
        result = self.call("echo.v1.Echo/Say", '{"text":"hi"}', "-H", "x-tenant:acme", "--output", "envelope")
        self.assertExit(result, 0)
        envelope = json.loads(result.stdout)
        self.assertEqual(envelope["status"]["code"], 0)
        self.assertEqual(envelope["status"]["name"], "OK")
        self.assertEqual(texts_and_indexes(envelope["messages"]), [("echo: hi", 0)])
        self.assertIn("x-server", envelope["headers"])
        self.assertIn("x-tenant", envelope["headers"])
        self.assertIn("x-trailer", envelope["trailers"])

        result = self.call("echo.v1.Echo/Count", '{"count":2,"text":"n"}', "--output", "envelope")
        self.assertExit(result, 0)
        envelope = json.loads(result.stdout)
        self.assertEqual(envelope["status"]["code"], 0)
        self.assertEqual(texts_and_indexes(envelope["messages"]), [("n 0", 0), ("n 1", 1)])

        result = self.call("echo.v1.Echo/Say", '{"text":"fail:NOT_FOUND"}', "--output", "envelope")
        envelope = json.loads(result.stdout)
        self.assertEqual(envelope["status"]["code"], 5)
        self.assertEqual(envelope["status"]["name"], "NOT_FOUND")
        self.assertEqual(envelope["status"]["message"], "failing as asked")
        self.assertEqual(envelope["messages"], [])

    def check_list(self, target):
        result = rmicro("list", "--address", target)
        self.assertExit(result, 0)
        for method in ("Say", "Count", "Collect", "Chat"):
            self.assertIn(method, result.stdout)

    def test_list(self):
        self.check_list(self.target)

    def test_describe(self):
        result = rmicro("describe", "--address", self.target, "echo.v1.Echo")
        self.assertExit(result, 0)
        self.assertIn("Count", result.stdout)
        self.assertIn("stream", result.stdout)

    def test_a_service_in_a_grpc_package_is_listed_and_called(self):
        """grpc-go's interop service is grpc.testing.TestService: reflection must not hide it."""
        result = rmicro("list", "--address", self.target)
        self.assertExit(result, 0)
        self.assertIn("TestService.EmptyCall", result.stdout)
        self.assertNotIn("ServerReflectionInfo", result.stdout)
        result = self.call("grpc.testing.TestService/EmptyCall", '{"text":"x"}', "-o", "json")
        self.assertEqual(self.replies(result), [("testing: x", 0)])

    def test_health_checks_grpc_health_v1(self):
        result = rmicro("health", "--address", self.target)
        self.assertExit(result, 0)
        self.assertEqual(json.loads(result.stdout), {"status": "SERVING"})
        result = rmicro("health", "--address", self.target, "echo.v1.Echo")
        self.assertExit(result, 0)
        self.assertEqual(json.loads(result.stdout), {"status": "SERVING"})
        # grpcio's health servicer answers NOT_FOUND for a service it does not know.
        result = rmicro("health", "--address", self.target, "no.such.Service")
        self.assertExit(result, 64 + 5)

    def test_lock_step_ping_pong(self):
        """grpc-go's ping_pong case: request n+1 is written only after reply n was read."""
        with subprocess.Popen(
            [require(RMICRO), "call", "--address", self.target, "echo.v1.Echo/Chat", "-d", "@-", "-o", "json"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        ) as call:
            timer = threading.Timer(30, call.kill)
            timer.start()
            try:
                for i in range(4):
                    call.stdin.write(json.dumps({"text": f"ping {i}"}) + "\n")
                    call.stdin.flush()
                    reply = json.loads(call.stdout.readline())
                    self.assertEqual(reply.get("text"), f"echo: ping {i}")
                call.stdin.close()
                self.assertEqual(call.stdout.read(), "")
                self.assertEqual(call.wait(), 0, call.stderr.read())
            finally:
                timer.cancel()

    def test_headers_reach_reflection_and_the_call_as_asked(self):
        server = Process([sys.executable, ECHO_SERVER, "--require-token", "s3cret"])
        try:
            target = f"grpc://{server.address}"
            token = "authorization: Bearer s3cret"
            say = ("echo.v1.Echo/Say", '{"text":"hi"}', "-o", "json")
            result = self.call(*say, target=target)
            self.assertExit(result, 64 + 16)  # reflection itself is refused
            self.assertIn("bearer token", result.stderr)
            result = self.call(*say, "-H", token, target=target)
            self.assertEqual(self.replies(result), [("echo: hi", 0)])
            with tempfile.NamedTemporaryFile("w", suffix=".headers") as file:
                file.write(f"# kept off argv\n{token}\n")
                file.flush()
                result = self.call(*say, "-H", f"@{file.name}", target=target)
                self.assertEqual(self.replies(result), [("echo: hi", 0)])
            # Each side alone: the other is refused.
            result = self.call(*say, "--reflect-header", token, target=target)
            self.assertExit(result, 64 + 16)
            result = self.call(*say, "--rpc-header", token, target=target)
            self.assertExit(result, 64 + 16)
            result = self.call(*say, "--reflect-header", token, "--rpc-header", token, target=target)
            self.assertEqual(self.replies(result), [("echo: hi", 0)])
            result = rmicro("list", "--address", target, "-H", token)
            self.assertExit(result, 0)
            self.assertIn("Echo.Say", result.stdout)
        finally:
            server.stop()

    def test_server_with_v1alpha_reflection_only(self):
        server = Process([sys.executable, ECHO_SERVER, "--reflection", "v1alpha"])
        try:
            # The peer really lacks v1, so rmicro must fall back to v1alpha.
            with grpc.insecure_channel(server.address) as channel:
                with self.assertRaises(grpc.RpcError) as raised:
                    reflect(channel, "v1", list_services="")
                self.assertEqual(raised.exception.code(), grpc.StatusCode.UNIMPLEMENTED)
                names = [s.name for s in reflect(channel, "v1alpha", list_services="").list_services_response.service]
                self.assertIn("echo.v1.Echo", names)
            target = f"grpc://{server.address}"
            result = self.call("Echo.Say", '{"text":"hi"}', "-o", "json", target=target)
            self.assertEqual(self.replies(result), [("echo: hi", 0)])
            result = self.call("echo.v1.Echo/Count", '{"count":2,"text":"t"}', "-o", "json", target=target)
            self.assertEqual(self.replies(result), [("t 0", 0), ("t 1", 1)])
            self.check_list(target)
        finally:
            server.stop()

    def test_server_without_reflection_needs_proto(self):
        server = Process([sys.executable, ECHO_SERVER, "--reflection", "none"])
        try:
            target = f"grpc://{server.address}"
            result = self.call(
                "--proto", os.path.join(GRPC_DIR, "echo.proto"), "Echo.Say", '{"text":"hi"}', "-o", "json",
                target=target,
            )
            self.assertEqual(self.replies(result), [("echo: hi", 0)])
            # No reflection and no --proto: no schema, a local failure that says what to pass
            # (as grpcurl exits 1 for it), not the reflection call's UNIMPLEMENTED.
            result = self.call("Echo.Say", '{"text":"hi"}', "-o", "json", target=target)
            self.assertExit(result, 1)
            self.assertIn("has no reflection service", result.stderr)
            self.assertIn("--proto", result.stderr)
        finally:
            server.stop()


if __name__ == "__main__":
    unittest.main()
