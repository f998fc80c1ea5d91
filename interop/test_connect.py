"""The Connect protocol (connectrpc.com/docs/protocol) as `rmicro serve --proto
interop/grpc/echo.proto --handlers interop/grpc/echo.handlers.json` answers it, on the one
port, over HTTP/1.1 and over HTTP/2 (h2c with prior knowledge), with two real peers:

- the official Connect runtime for Python, connect-python from PyPI, and its HTTP client
  pyqwest (both pinned in requirements.txt), without generated code: a MethodInfo per method
  with the message classes echo_stubs.load_echo() compiles at run time, sent by
  ConnectClientSync.execute_unary with the proto and the JSON codec, gzip-compressed (the
  client's default) or not. A recording pyqwest transport checks what crossed the wire (HTTP
  version, Content-Type, Content-Encoding, status). Replies, an error rule as NOT_FOUND,
  deadlines (the client's own, and Connect-Timeout-Ms enforced by the server: HTTP 504) as
  DEADLINE_EXCEEDED, a metadata rule fed by a request header, unknown methods and services
  and a streaming method called in unary form as UNIMPLEMENTED; Connect's streaming form over
  HTTP/2 for every stream kind (errors in the end-of-stream message), and server and client
  streams over HTTP/1.1 (the replies as chunks of one response).
- curl (Debian's; interop/run.sh installs it with interop/need.sh): status codes and bodies
  of replies and of JSON errors, Connect-Timeout-Ms, metadata, gzip and binary proto bodies,
  and bad requests (garbage JSON, a body that is not gzip, unknown paths, a streaming method,
  a foreign content type) each answered with its Connect error, the server serving on.
"""
import gzip
import json
import os
import shutil
import subprocess
import sys
import time
import unittest

import pyqwest
from connectrpc.client import ConnectClientSync
from connectrpc.code import Code
from connectrpc.compression.gzip import GzipCompression
from connectrpc.errors import ConnectError
from connectrpc.method import IdempotencyLevel, MethodInfo

from peers import ROOT, PeerTest, serve_echo

sys.path.insert(0, os.path.join(ROOT, "interop", "grpc"))
import echo_stubs  # noqa: E402  (interop/grpc has no __init__.py: it must not hide grpcio)

echo_pb2, _ = echo_stubs.load_echo()

CALL_TIMEOUT = 10  # every call is bounded: a hanging server fails a test, not the suite
HTTP_VERSIONS = {"1.1": pyqwest.HTTPVersion.HTTP1, "2": pyqwest.HTTPVersion.HTTP2}


def method(name, request=echo_pb2.SayRequest, service="echo.v1.Echo"):
    return MethodInfo(
        name=name, service_name=service, input=request, output=echo_pb2.SayReply,
        idempotency_level=IdempotencyLevel.UNKNOWN,
    )


SAY = method("Say")


class Recorder:
    """A pyqwest transport that passes each request on and keeps what crossed the wire."""

    def __init__(self, http_version):
        self.transport = pyqwest.SyncHTTPTransport(http_version=http_version, timeout=CALL_TIMEOUT)
        self.exchanges = []

    def execute_sync(self, request):
        response = self.transport.execute_sync(request)
        self.exchanges.append({
            "content-type": request.headers.get("content-type"),
            "content-encoding": request.headers.get("content-encoding"),
            "http_version": response.http_version,
            "status": response.status,
        })
        return response

    @property
    def last(self):
        return self.exchanges[-1]


class ConnectPythonClientAgainstRmicro(PeerTest):
    @classmethod
    def setUpClass(cls):
        cls.server = serve_echo()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def client(self, version, codec="proto", compress=False):
        recorder = Recorder(HTTP_VERSIONS[version])
        client = ConnectClientSync(
            f"http://{self.server.address}",
            proto_json=codec == "json",
            send_compression=GzipCompression() if compress else None,
            http_client=pyqwest.SyncClient(recorder),
        )
        self.addCleanup(recorder.transport.close)
        return client, recorder

    def clients(self, compress=False):
        """(subTest labels, client, recorder) for each HTTP version and codec."""
        return [
            (dict(http=version, codec=codec, gzip=compress), *self.client(version, codec, compress))
            for version in HTTP_VERSIONS
            for codec in ("proto", "json")
        ]

    def say(self, client, text, **kwargs):
        return client.execute_unary(request=echo_pb2.SayRequest(text=text), method=SAY, **kwargs)

    def assertCode(self, raised, code):
        self.assertEqual(raised.exception.code, code, raised.exception.message)

    def test_say_with_each_codec_http_version_and_compression(self):
        for compress in (False, True):
            for labels, client, recorder in self.clients(compress):
                with self.subTest(**labels):
                    self.assertEqual(self.say(client, "hi").text, "echo: hi")
                    self.assertEqual(self.say(client, "anything else").text, "default")
                    self.assertEqual(recorder.last, {
                        "content-type": f"application/{labels['codec']}",
                        "content-encoding": "gzip" if compress else "identity",
                        "http_version": HTTP_VERSIONS[labels["http"]],
                        "status": 200,
                    })

    def test_error_rule_is_not_found(self):
        for labels, client, recorder in self.clients():
            with self.subTest(**labels):
                with self.assertRaises(ConnectError) as raised:
                    self.say(client, "missing")
                self.assertCode(raised, Code.NOT_FOUND)
                self.assertEqual(raised.exception.message, "no such thing")
                self.assertEqual(recorder.last["status"], 404)

    def test_client_deadline(self):
        for labels, client, _ in self.clients():
            with self.subTest(**labels):
                started = time.monotonic()
                with self.assertRaises(ConnectError) as raised:
                    self.say(client, "slow", timeout_ms=300)
                self.assertCode(raised, Code.DEADLINE_EXCEEDED)
                self.assertLess(time.monotonic() - started, 1.5, "a 300 ms deadline must not wait for the 2 s delay")
                self.assertEqual(self.say(client, "hi").text, "echo: hi")

    def test_server_enforces_connect_timeout_ms(self):
        """The header alone, the client keeping no deadline of its own: the server answers 504."""
        for labels, client, recorder in self.clients():
            with self.subTest(**labels):
                started = time.monotonic()
                with self.assertRaises(ConnectError) as raised:
                    self.say(client, "slow", headers={"connect-timeout-ms": "300"})
                self.assertCode(raised, Code.DEADLINE_EXCEEDED)
                self.assertEqual(recorder.last["status"], 504)
                self.assertLess(time.monotonic() - started, 1.5, "a 300 ms deadline must not wait for the 2 s delay")

    def test_request_header_reaches_a_metadata_rule(self):
        for labels, client, _ in self.clients(compress=True):
            with self.subTest(**labels):
                self.assertEqual(self.say(client, "hi", headers={"x-tenant": "acme"}).text, "tenant acme")
                self.assertEqual(self.say(client, "hi", headers={"x-tenant": "other"}).text, "echo: hi")

    def test_unknown_and_streaming_methods_are_unimplemented(self):
        cases = {
            "unknown method": method("Nope"),
            "unknown service": method("Say", service="echo.v1.Nope"),
            "streaming method in unary form": method("Count", request=echo_pb2.CountRequest),
        }
        for labels, client, recorder in self.clients():
            for case, info in cases.items():
                with self.subTest(case=case, **labels):
                    with self.assertRaises(ConnectError) as raised:
                        client.execute_unary(request=info.input(), method=info)
                    self.assertCode(raised, Code.UNIMPLEMENTED)
                    self.assertEqual(recorder.last["status"], 501)
                    self.assertEqual(self.say(client, "hi").text, "echo: hi")

    def test_every_stream_kind_over_http2(self):
        count = method("Count", request=echo_pb2.CountRequest)
        collect, chat = method("Collect"), method("Chat")
        for codec in ("proto", "json"):
            client, recorder = self.client("2", codec)
            with self.subTest(codec=codec, kind="server stream"):
                replies = list(client.execute_server_stream(
                    request=echo_pb2.CountRequest(count=3, text="t"), method=count, timeout_ms=10000))
                self.assertEqual([(r.text, r.index) for r in replies], [("one", 0), ("two", 1), ("three", 2)])
                self.assertEqual(recorder.last["content-type"], f"application/connect+{codec}")
                self.assertEqual(recorder.last["status"], 200)
            with self.subTest(codec=codec, kind="client stream"):
                requests = iter([echo_pb2.SayRequest(text=t) for t in ("a", "b", "c")])
                reply = client.execute_client_stream(request=requests, method=collect, timeout_ms=10000)
                self.assertEqual((reply.text, reply.index), ("a,b,c", 3))
            with self.subTest(codec=codec, kind="bidi stream"):
                requests = iter([echo_pb2.SayRequest(text=f"m{i}") for i in range(3)])
                replies = list(client.execute_bidi_stream(request=requests, method=chat, timeout_ms=10000))
                self.assertEqual([(r.text, r.index) for r in replies], [(f"echo: m{i}", i) for i in range(3)])
            with self.subTest(codec=codec, kind="error in the end-of-stream message"):
                requests = iter([echo_pb2.SayRequest(text="fail:NOT_FOUND")])
                with self.assertRaises(ConnectError) as raised:
                    list(client.execute_bidi_stream(request=requests, method=chat, timeout_ms=10000))
                self.assertCode(raised, Code.NOT_FOUND)
                self.assertEqual(raised.exception.message, "failing as asked")
                self.assertEqual(recorder.last["status"], 200)  # streams carry errors in the body

    def test_server_and_client_streams_over_http1(self):
        """HTTP/1.1 is half-duplex: the request stream is sent whole, the replies come as
        the chunks of one response."""
        count = method("Count", request=echo_pb2.CountRequest)
        collect = method("Collect")
        for codec in ("proto", "json"):
            client, recorder = self.client("1.1", codec)
            with self.subTest(codec=codec, kind="server stream"):
                replies = list(client.execute_server_stream(
                    request=echo_pb2.CountRequest(count=3, text="t"), method=count, timeout_ms=10000))
                self.assertEqual([(r.text, r.index) for r in replies], [("one", 0), ("two", 1), ("three", 2)])
                self.assertEqual(recorder.last["http_version"], HTTP_VERSIONS["1.1"])
                self.assertEqual(recorder.last["content-type"], f"application/connect+{codec}")
            with self.subTest(codec=codec, kind="client stream"):
                requests = iter([echo_pb2.SayRequest(text=t) for t in ("a", "b")])
                reply = client.execute_client_stream(request=requests, method=collect, timeout_ms=10000)
                self.assertEqual((reply.text, reply.index), ("a,b", 2))
            with self.subTest(codec=codec, kind="unknown method"):
                with self.assertRaises(ConnectError) as raised:
                    list(client.execute_server_stream(request=echo_pb2.CountRequest(), method=method("Nope", request=echo_pb2.CountRequest)))
                self.assertCode(raised, Code.UNIMPLEMENTED)
                self.assertEqual(self.say(client, "hi").text, "echo: hi")


def find_curl():
    """Debian's curl with HTTP/2; a missing one fails the suite (interop/run.sh installs it)."""
    curl = shutil.which("curl")
    if curl is None:
        raise AssertionError("interop peer missing: curl (Debian package curl; interop/run.sh installs it)")
    version = subprocess.run([curl, "--version"], capture_output=True, text=True, check=True).stdout
    if "HTTP2" not in version:
        raise AssertionError(f"interop peer curl lacks HTTP/2 support:\n{version}")
    return curl


class CurlAgainstRmicro(PeerTest):
    @classmethod
    def setUpClass(cls):
        cls.curl_bin = find_curl()
        cls.server = serve_echo()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def curl(self, version, path, body, *headers, content_type="application/json"):
        """(HTTP status, reply Content-Type, body bytes) of one POST, the body sent as is."""
        argv = [
            self.curl_bin, "-sS", "--max-time", str(CALL_TIMEOUT), "-X", "POST",
            f"http://{self.server.address}{path}",
            "-H", f"Content-Type: {content_type}",
            "--data-binary", "@-",
            "-w", "\n%{http_code} %{http_version} %{content_type}",
        ]
        if version == "2":
            argv.append("--http2-prior-knowledge")
        for header in headers:
            argv += ["-H", header]
        result = subprocess.run(argv, input=body, capture_output=True, timeout=CALL_TIMEOUT + 5)
        self.assertEqual(result.returncode, 0, result.stderr.decode())
        reply, _, written = result.stdout.rpartition(b"\n")
        status, spoken, reply_type = (written.decode().split(" ", 2) + [""])[:3]
        self.assertEqual(spoken, version, "curl spoke another HTTP version than asked")
        return int(status), reply_type, reply

    def say(self, version, request, *headers):
        status, reply_type, body = self.curl(version, "/echo.v1.Echo/Say", json.dumps(request).encode(), *headers)
        return status, reply_type, json.loads(body)

    def assertConnectError(self, answer, status, code):
        got_status, reply_type, body = answer
        self.assertEqual((got_status, reply_type), (status, "application/json"), body)
        error = json.loads(body) if isinstance(body, bytes) else body
        self.assertEqual(error["code"], code, error)
        self.assertIsInstance(error["message"], str)
        self.assertTrue(error["message"], error)

    def assertServing(self, version):
        self.assertIsNone(self.server.proc.poll(), "rmicro serve exited")
        self.assertEqual(self.say(version, {"text": "hi"}), (200, "application/json", {"text": "echo: hi"}))

    def test_json_say(self):
        for version in HTTP_VERSIONS:
            with self.subTest(http=version):
                self.assertServing(version)
                self.assertEqual(self.say(version, {"text": "x"}), (200, "application/json", {"text": "default"}))
                self.assertEqual(self.say(version, {}), (200, "application/json", {"text": "default"}))

    def test_proto_body(self):
        request = echo_pb2.SayRequest(text="hi").SerializeToString()
        for version in HTTP_VERSIONS:
            with self.subTest(http=version):
                status, reply_type, body = self.curl(
                    version, "/echo.v1.Echo/Say", request, content_type="application/proto")
                self.assertEqual((status, reply_type), (200, "application/proto"), body)
                self.assertEqual(echo_pb2.SayReply.FromString(body).text, "echo: hi")

    def test_error_rule_deadline_and_metadata(self):
        for version in HTTP_VERSIONS:
            with self.subTest(http=version):
                self.assertEqual(
                    self.say(version, {"text": "missing"}),
                    (404, "application/json", {"code": "not_found", "message": "no such thing"}),
                )
                started = time.monotonic()
                self.assertConnectError(
                    self.say(version, {"text": "slow"}, "Connect-Timeout-Ms: 300"), 504, "deadline_exceeded")
                self.assertLess(time.monotonic() - started, 1.5, "a 300 ms deadline must not wait for the 2 s delay")
                self.assertEqual(
                    self.say(version, {"text": "hi"}, "x-tenant: acme"),
                    (200, "application/json", {"text": "tenant acme"}),
                )

    def test_gzip_body(self):
        body = gzip.compress(json.dumps({"text": "hi"}).encode())
        for version in HTTP_VERSIONS:
            with self.subTest(http=version):
                status, reply_type, reply = self.curl(version, "/echo.v1.Echo/Say", body, "Content-Encoding: gzip")
                self.assertEqual((status, reply_type, json.loads(reply)), (200, "application/json", {"text": "echo: hi"}))

    def test_bad_requests_are_answered_and_the_server_serves_on(self):
        hi = json.dumps({"text": "hi"}).encode()
        bad = {
            "garbage JSON": (("/echo.v1.Echo/Say", b'{"text":'), 400, "invalid_argument"),
            "gzip header, plain body": (("/echo.v1.Echo/Say", hi, "Content-Encoding: gzip"), 400, "invalid_argument"),
            "unknown method": (("/echo.v1.Echo/Nope", hi), 501, "unimplemented"),
            "unknown service": (("/no.such.Service/Say", hi), 501, "unimplemented"),
            "streaming method": (("/echo.v1.Echo/Count", b'{"count":2}'), 501, "unimplemented"),
        }
        for version in HTTP_VERSIONS:
            for label, (args, status, code) in bad.items():
                with self.subTest(http=version, request=label):
                    self.assertConnectError(self.curl(version, *args), status, code)
                    self.assertServing(version)
            with self.subTest(http=version, request="text/plain"):
                status, _, _ = self.curl(version, "/echo.v1.Echo/Say", hi, content_type="text/plain")
                self.assertEqual(status, 415)
                self.assertServing(version)


if __name__ == "__main__":
    unittest.main()
