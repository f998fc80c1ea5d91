"""`rmicro serve --proxy` in front of real servers, called by real clients.

- grpcio's echo server (interop/grpc/echo_server.py) behind `rmicro serve --proxy grpc://…`
  with no schema flag (the schema comes from the server's reflection): grpcio's client, a
  mucp client (Python's http.client speaking go-micro's HTTP form) and Go's own
  net/rpc/jsonrpc client (interop/go/jsonrpc_call) get its replies, its `x-served-by`
  trailer and its error codes; the four kinds of method over gRPC; a 200 ms deadline
  reaching it as a grpc-timeout no larger; one endpoint stubbed while the others pass.
- Go's net/rpc server (interop/go/arith_server) behind a gRPC front, called by grpcio.
- Record against the grpcio server, stop it, replay the recorded file: the same replies.
- Connect and gRPC-Web callers: connect-python (PyPI) and buf curl (npm, interop/buf) calling
  `rmicro serve --proxy grpc://…` in front of grpcio: replies, grpcio's header and trailer,
  its error codes, server streams.
- Connect and gRPC-Web upstreams: `--proxy connect://…` and `--proxy grpc-web://…` in front
  of @connectrpc/connect-node's server (interop/web/server.mjs), called by grpcio: replies,
  its header and trailer, its errors (in a stream too), every stream kind.
- A bidirectional stream through a proxy whose --proxy-timeout is 1 s outlives it, and
  grpcio's server sees its caller's deadline (none without one), not the proxy's.
- A bidirectional stream whose grpcio caller sends faster than the upstream reads (an
  rmicro upstream answering each request with many replies before reading the next) does
  not stall in the proxy.
"""
import http.client
import json
import os
import signal
import sys
import tempfile
import time
import unittest

import grpc
from grpc_tools import protoc

from peers import BUF, GO_BIN, RMICRO, ROOT, PeerTest, Process, json_documents, require, rmicro

GRPC_DIR = os.path.join(ROOT, "interop", "grpc")
PROXY_DIR = os.path.join(ROOT, "interop", "proxy")
ECHO_SERVER = os.path.join(GRPC_DIR, "echo_server.py")
ECHO_PROTO = os.path.join(GRPC_DIR, "echo.proto")
sys.path.insert(0, GRPC_DIR)
import echo_stubs  # noqa: E402

echo_pb2, echo_pb2_grpc = echo_stubs.load_echo()
CALL_TIMEOUT = 10


def proxy(*args):
    return Process([require(RMICRO), "serve", "--address", "127.0.0.1:0", "--no-register", *args], stream="stderr")


def echo_server():
    return Process([sys.executable, ECHO_SERVER])


def mucp_call(address, endpoint, body):
    """One go-micro call over HTTP/1.1 (spec §1): (status, headers dict lowercased, body)."""
    host, port = address.rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=CALL_TIMEOUT)
    try:
        connection.request("POST", "/", body=json.dumps(body), headers={
            "Content-Type": "application/json",
            "Micro-Service": "echo",
            "Micro-Endpoint": endpoint,
            "Micro-Id": "1",
        })
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def go_call(address, endpoint, params):
    """Go's jsonrpc client: (exit code, printed line)."""
    import subprocess
    result = subprocess.run(
        [require(os.path.join(GO_BIN, "jsonrpc_call")), address, endpoint, json.dumps(params)],
        capture_output=True, text=True, timeout=30,
    )
    if result.returncode == 2:
        raise AssertionError(f"jsonrpc_call failed: {result.stderr}")
    return result.returncode, result.stdout.strip()


def trailers_of(call):
    return dict(call.trailing_metadata())


class ClientsThroughProxyToGrpcio(PeerTest):
    @classmethod
    def setUpClass(cls):
        cls.upstream = echo_server()
        cls.front = proxy("--proxy", f"grpc://{cls.upstream.address}")
        cls.channel = grpc.insecure_channel(cls.front.address)
        cls.echo = echo_pb2_grpc.EchoStub(cls.channel)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        cls.front.stop()
        cls.upstream.stop()

    def test_grpc_reply_headers_and_trailer(self):
        reply, call = self.echo.Say.with_call(
            echo_pb2.SayRequest(text="hi"), timeout=CALL_TIMEOUT, metadata=(("x-tenant", "acme"),))
        self.assertEqual(reply.text, "echo: hi")
        self.assertEqual(trailers_of(call).get("x-served-by"), "grpcio")
        headers = dict(call.initial_metadata())
        self.assertEqual(headers.get("x-server"), "grpcio")
        # The request's metadata went upstream (the server echoes x- headers back).
        self.assertEqual(headers.get("x-tenant"), "acme")

    def test_grpc_error_codes_and_details_pass_through(self):
        for code in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAVAILABLE):
            with self.assertRaises(grpc.RpcError) as raised:
                self.echo.Say(echo_pb2.SayRequest(text=f"fail:{code.name}"), timeout=CALL_TIMEOUT)
            self.assertEqual(raised.exception.code(), code)
            self.assertEqual(raised.exception.details(), "failing as asked")
            self.assertEqual(trailers_of(raised.exception).get("x-served-by"), "grpcio")
        from grpc_status import rpc_status
        from google.rpc import error_details_pb2
        with self.assertRaises(grpc.RpcError) as raised:
            self.echo.Say(echo_pb2.SayRequest(text="details"), timeout=CALL_TIMEOUT)
        status = rpc_status.from_call(raised.exception)
        info = error_details_pb2.ErrorInfo()
        self.assertTrue(status.details[0].Unpack(info))
        self.assertEqual((info.reason, info.domain), ("QUOTA", "grpcio.example"))

    def test_all_four_stream_kinds(self):
        replies = list(self.echo.Count(echo_pb2.CountRequest(text="n", count=3), timeout=CALL_TIMEOUT))
        self.assertEqual([(r.text, r.index) for r in replies], [("n 0", 0), ("n 1", 1), ("n 2", 2)])
        reply = self.echo.Collect(iter([echo_pb2.SayRequest(text=t) for t in "abc"]), timeout=CALL_TIMEOUT)
        self.assertEqual((reply.text, reply.index), ("a,b,c", 3))
        # Bidirectional, in lockstep: each reply arrives before the next request is sent.
        import queue
        requests = queue.Queue()
        call = self.echo.Chat(iter(requests.get, None), timeout=CALL_TIMEOUT)
        for i, text in enumerate(["x", "y", "z"]):
            requests.put(echo_pb2.SayRequest(text=text))
            reply = next(call)
            self.assertEqual((reply.text, reply.index), (f"echo: {text}", i))
        requests.put(None)
        self.assertEqual(list(call), [])
        self.assertEqual(trailers_of(call).get("x-served-by"), "grpcio")

    def test_a_200ms_deadline_reaches_upstream_as_no_more(self):
        reply = self.echo.Say(echo_pb2.SayRequest(text="deadline"), timeout=0.2)
        self.assertRegex(reply.text, r"^deadline: \d+ms$")
        left = int(reply.text.split()[1][:-2])
        self.assertLessEqual(left, 200)
        self.assertGreater(left, 0)
        with self.assertRaises(grpc.RpcError) as raised:
            self.echo.Say(echo_pb2.SayRequest(text="sleep:2000"), timeout=0.2)
        self.assertEqual(raised.exception.code(), grpc.StatusCode.DEADLINE_EXCEEDED)

    def test_mucp_client(self):
        status, headers, body = mucp_call(self.front.address, "Echo.Say", {"text": "hi"})
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body), {"text": "echo: hi"})
        # mucp has no trailers: the upstream's come as headers.
        self.assertEqual(headers.get("x-served-by"), "grpcio")
        status, headers, _ = mucp_call(self.front.address, "Echo.Say", {"text": "fail:NOT_FOUND"})
        error = json.loads(headers["micro-error"])
        self.assertEqual((error["code"], error["detail"]), (404, "failing as asked"))
        status, headers, _ = mucp_call(self.front.address, "Echo.Say", {"text": "fail:UNAUTHENTICATED"})
        self.assertEqual(json.loads(headers["micro-error"])["code"], 401)

    def test_go_jsonrpc_client(self):
        code, line = go_call(self.front.address, "Echo.Say", {"text": "hi"})
        self.assertEqual((code, json.loads(line)), (0, {"text": "echo: hi"}))
        code, line = go_call(self.front.address, "Echo.Say", {"text": "fail:NOT_FOUND"})
        self.assertEqual((code, line), (1, "error: failing as asked"))
        # JSON-RPC has no streams.
        code, line = go_call(self.front.address, "Echo.Count", {"count": 2})
        self.assertEqual(code, 1)
        self.assertIn("stream", line)

    def test_endpoints_the_upstream_lacks_are_unimplemented(self):
        missing = self.channel.unary_unary("/echo.v1.Nope/Say")
        with self.assertRaises(grpc.RpcError) as raised:
            missing(b"", timeout=CALL_TIMEOUT)
        self.assertEqual(raised.exception.code(), grpc.StatusCode.UNIMPLEMENTED)
        _, headers, _ = mucp_call(self.front.address, "Echo.Nope", {})
        self.assertIn("can't find method Nope", headers["micro-error"])

    def test_debug_stats_show_the_upstream_latency(self):
        self.echo.Say(echo_pb2.SayRequest(text="stats"), timeout=CALL_TIMEOUT)
        result = rmicro("stats", "-o", "json", "--address", f"grpc://{self.front.address}")
        self.assertExit(result, 0)
        say = next(e for e in json.loads(result.stdout)["endpoints"] if e["endpoint"] == "Echo.Say")
        self.assertGreaterEqual(int(say["upstream"]["requests"]), 1)
        self.assertLessEqual(say["upstream"]["p50Ms"], say["p50Ms"] * 1.25 + 0.01)


class StubBesideProxy(PeerTest):
    def test_one_endpoint_stubbed_the_others_proxied(self):
        upstream = echo_server()
        self.addCleanup(upstream.stop)
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handlers:
            json.dump({"Echo.Count": {"reply": [{"text": "stubbed", "index": 7}]}}, handlers)
        self.addCleanup(os.unlink, handlers.name)
        front = proxy("--proxy", f"grpc://{upstream.address}", "--handlers", handlers.name)
        self.addCleanup(front.stop)
        with grpc.insecure_channel(front.address) as channel:
            echo = echo_pb2_grpc.EchoStub(channel)
            replies = list(echo.Count(echo_pb2.CountRequest(text="n", count=3), timeout=CALL_TIMEOUT))
            self.assertEqual([(r.text, r.index) for r in replies], [("stubbed", 7)])
            reply, call = echo.Say.with_call(echo_pb2.SayRequest(text="hi"), timeout=CALL_TIMEOUT)
            self.assertEqual(reply.text, "echo: hi")
            self.assertEqual(trailers_of(call).get("x-served-by"), "grpcio")
        result = rmicro("list", "-o", "json", "--address", front.address)
        self.assertExit(result, 0)
        kinds = {e["endpoint"]: e["handler"] for e in json.loads(result.stdout)}
        self.assertEqual((kinds["Echo.Count"], kinds["Echo.Say"]), ("stub", "proxy"))


def compile_messages(proto, directory):
    """The generated message module of `proto` (grpc_tools.protoc, into a temp dir)."""
    import importlib
    out = tempfile.mkdtemp(prefix="rmicro-proxy-stubs-")
    if protoc.main(["grpc_tools.protoc", f"--proto_path={directory}", f"--python_out={out}", proto]) != 0:
        raise AssertionError(f"protoc failed on {proto}")
    sys.path.insert(0, out)
    try:
        return importlib.import_module(os.path.basename(proto)[:-len(".proto")] + "_pb2")
    finally:
        sys.path.remove(out)


class GrpcFrontForGoNetRpc(PeerTest):
    def test_grpcio_calls_go_net_rpc_through_a_grpc_front(self):
        go = Process([require(os.path.join(GO_BIN, "arith_server"))])
        self.addCleanup(go.stop)
        proto = os.path.join(PROXY_DIR, "goarith.proto")
        front = proxy("--proto", proto, "--proxy", f"jsonrpc://{go.address}")
        self.addCleanup(front.stop)
        pb = compile_messages(proto, PROXY_DIR)
        with grpc.insecure_channel(front.address) as channel:
            divide = channel.unary_unary(
                "/goarith.Arith/Divide",
                request_serializer=pb.Args.SerializeToString,
                response_deserializer=pb.Quotient.FromString,
            )
            reply = divide(pb.Args(a=17, b=5), timeout=CALL_TIMEOUT)
            self.assertEqual((reply.quo, reply.rem), (3, 2))
            with self.assertRaises(grpc.RpcError) as raised:
                divide(pb.Args(a=1, b=0), timeout=CALL_TIMEOUT)
            # Go's errors are text only: UNKNOWN with Go's text.
            self.assertEqual(raised.exception.code(), grpc.StatusCode.UNKNOWN)
            self.assertEqual(raised.exception.details(), "divide by zero")
            create = channel.unary_unary(
                "/goarith.Job/CreateJob",
                request_serializer=pb.Task.SerializeToString,
                response_deserializer=pb.Response.FromString,
            )
            reply = create(pb.Task(name="nightly"), timeout=CALL_TIMEOUT)
            self.assertEqual((reply.code, reply.msg), (200, "created nightly"))
            sleep = channel.unary_unary(
                "/goarith.Job/Sleep",
                request_serializer=pb.SleepArgs.SerializeToString,
                response_deserializer=pb.Response.FromString,
            )
            started = time.monotonic()
            with self.assertRaises(grpc.RpcError) as raised:
                sleep(pb.SleepArgs(ms=3000), timeout=0.3)
            self.assertEqual(raised.exception.code(), grpc.StatusCode.DEADLINE_EXCEEDED)
            self.assertLess(time.monotonic() - started, 2)


class RecordThenReplay(PeerTest):
    def test_recorded_replies_replay_with_the_upstream_stopped(self):
        directory = tempfile.mkdtemp(prefix="rmicro-record-")
        recording = os.path.join(directory, "recorded.json")
        upstream = echo_server()
        front = proxy("--proxy", f"grpc://{upstream.address}", "--record", recording,
                      "--record-redact", "x-server")

        def exchanges(address):
            with grpc.insecure_channel(address) as channel:
                echo = echo_pb2_grpc.EchoStub(channel)
                seen = []
                reply, call = echo.Say.with_call(echo_pb2.SayRequest(text="hi"), timeout=CALL_TIMEOUT,
                                                 metadata=(("authorization", "Bearer s3cret"),))
                seen.append((reply.text, trailers_of(call).get("x-served-by")))
                try:
                    echo.Say(echo_pb2.SayRequest(text="fail:NOT_FOUND"), timeout=CALL_TIMEOUT)
                except grpc.RpcError as error:
                    seen.append((error.code(), error.details(), trailers_of(error).get("x-served-by")))
                seen.append([(r.text, r.index) for r in echo.Count(echo_pb2.CountRequest(text="n", count=2), timeout=CALL_TIMEOUT)])
                reply = echo.Collect(iter([echo_pb2.SayRequest(text="a"), echo_pb2.SayRequest(text="b")]), timeout=CALL_TIMEOUT)
                seen.append((reply.text, reply.index))
                seen.append([(r.text, r.index) for r in echo.Chat(iter([echo_pb2.SayRequest(text="p"), echo_pb2.SayRequest(text="q")]), timeout=CALL_TIMEOUT)])
            status, headers, body = mucp_call(address, "Echo.Say", {"text": "hi"})
            seen.append((status, json.loads(body), headers.get("x-served-by")))
            return seen

        recorded = exchanges(front.address)
        front.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while not os.path.exists(recording) and time.monotonic() < deadline:
            time.sleep(0.02)
        front.proc.send_signal(signal.SIGTERM)
        front.proc.wait(timeout=20)
        front.stop()
        upstream.stop()
        with open(recording) as file:
            text = file.read()
        rules = json.loads(text)
        self.assertNotIn("s3cret", text)
        self.assertNotIn("x-server", text)
        self.assertIn("Echo.Chat", rules)

        replay = proxy("--proto", ECHO_PROTO, "--handlers", recording)
        self.addCleanup(replay.stop)
        self.assertEqual(exchanges(replay.address), recorded)
        self.assertEqual(recorded[0], ("echo: hi", "grpcio"))




class ConnectAndGrpcWebCallersThroughProxyToGrpcio(PeerTest):
    @classmethod
    def setUpClass(cls):
        cls.upstream = echo_server()
        cls.front = proxy("--proxy", f"grpc://{cls.upstream.address}")

    @classmethod
    def tearDownClass(cls):
        cls.front.stop()
        cls.upstream.stop()

    def test_connect_python_unary_error_and_server_stream(self):
        import pyqwest
        from connectrpc.client import ConnectClientSync
        from connectrpc.code import Code
        from connectrpc.errors import ConnectError
        from connectrpc.method import IdempotencyLevel, MethodInfo

        def method(name, request=echo_pb2.SayRequest):
            return MethodInfo(name=name, service_name="echo.v1.Echo", input=request, output=echo_pb2.SayReply,
                              idempotency_level=IdempotencyLevel.UNKNOWN)

        say, count = method("Say"), method("Count", echo_pb2.CountRequest)
        for version in (pyqwest.HTTPVersion.HTTP1, pyqwest.HTTPVersion.HTTP2):
            transport = pyqwest.SyncHTTPTransport(http_version=version, timeout=CALL_TIMEOUT)
            self.addCleanup(transport.close)
            client = ConnectClientSync(f"http://{self.front.address}", http_client=pyqwest.SyncClient(transport))
            with self.subTest(http=str(version)):
                reply = client.execute_unary(request=echo_pb2.SayRequest(text="hi"), method=say)
                self.assertEqual(reply.text, "echo: hi")
                for code in (Code.NOT_FOUND, Code.PERMISSION_DENIED):
                    with self.assertRaises(ConnectError) as raised:
                        client.execute_unary(request=echo_pb2.SayRequest(text=f"fail:{code.name}"), method=say)
                    self.assertEqual(raised.exception.code, code)
                    self.assertEqual(raised.exception.message, "failing as asked")
                replies = list(client.execute_server_stream(
                    request=echo_pb2.CountRequest(count=3, text="n"), method=count, timeout_ms=10000))
                self.assertEqual([(r.text, r.index) for r in replies], [("n 0", 0), ("n 1", 1), ("n 2", 2)])

    def buf_curl(self, *args):
        import subprocess
        return subprocess.run(
            [require(BUF), "curl", "--schema", ECHO_PROTO, *args],
            capture_output=True, text=True, timeout=60, cwd=ROOT,
        )

    def test_buf_curl_connect_and_grpc_web_headers_trailers_errors_and_streams(self):
        url = f"http://{self.front.address}/echo.v1.Echo"
        for flags in (["--protocol", "connect"], ["--protocol", "grpcweb"],
                      ["--protocol", "grpcweb", "--http2-prior-knowledge"]):
            with self.subTest(flags=flags):
                result = self.buf_curl(*flags, "-v", "-H", "x-tenant: acme", "-d", '{"text":"hi"}', f"{url}/Say")
                self.assertExit(result, 0)
                self.assertEqual(json_documents(result.stdout), [{"text": "echo: hi"}])
                verbose = result.stderr.lower()
                # grpcio's header and the request's metadata it echoes; Connect's unary form
                # carries the trailers as trailer- headers (gRPC-Web's are in the body, which
                # buf does not print: test_grpc_web_trailers_reach_an_http1_client).
                expected = ["< (#1) x-server: grpcio", "< (#1) x-tenant: acme"]
                if flags == ["--protocol", "connect"]:
                    expected.append("< (#1) trailer-x-served-by: grpcio")
                for line in expected:
                    self.assertIn(line, verbose)
                result = self.buf_curl(*flags, "-d", '{"count":2,"text":"c"}', f"{url}/Count")
                self.assertExit(result, 0)
                self.assertEqual(json_documents(result.stdout), [{"text": "c 0"}, {"text": "c 1", "index": 1}])
                result = self.buf_curl(*flags, "-d", '{"text":"fail:NOT_FOUND"}', f"{url}/Say")
                self.assertNotEqual(result.returncode, 0)
                self.assertEqual(json_documents(result.stderr), [{"code": "not_found", "message": "failing as asked"}])


    def test_grpc_web_trailers_reach_an_http1_client(self):
        """gRPC-Web over HTTP/1.1 from Python's http.client: the reply message, then the
        trailers frame (flag 0x80) with grpcio's status and x-served-by."""
        import struct
        message = echo_pb2.SayRequest(text="hi").SerializeToString()
        host, port = self.front.address.rsplit(":", 1)
        connection = http.client.HTTPConnection(host, int(port), timeout=CALL_TIMEOUT)
        self.addCleanup(connection.close)
        connection.request("POST", "/echo.v1.Echo/Say", body=b"\x00" + struct.pack(">I", len(message)) + message,
                           headers={"Content-Type": "application/grpc-web+proto", "X-Grpc-Web": "1"})
        response = connection.getresponse()
        self.assertEqual(response.status, 200)
        self.assertEqual(response.getheader("x-server"), "grpcio")
        body, frames = response.read(), []
        while body:
            flag, length = body[0], struct.unpack(">I", body[1:5])[0]
            frames.append((flag, body[5:5 + length]))
            body = body[5 + length:]
        self.assertEqual([flag for flag, _ in frames], [0x00, 0x80])
        self.assertEqual(echo_pb2.SayReply.FromString(frames[0][1]).text, "echo: hi")
        trailers = dict(line.split(":", 1) for line in frames[1][1].decode().strip().split("\r\n"))
        trailers = {name.strip().lower(): value.strip() for name, value in trailers.items()}
        self.assertEqual(trailers.get("grpc-status"), "0")
        self.assertEqual(trailers.get("x-served-by"), "grpcio")


class GrpcioThroughProxyToConnectAndGrpcWebUpstreams(PeerTest):
    """grpcio calling web.v1.Web (echo.v1's message shapes) through rmicro in front of
    connect-node's server, which rmicro reaches in Connect or in gRPC-Web."""

    @classmethod
    def setUpClass(cls):
        import shutil
        import subprocess
        web = os.path.join(ROOT, "interop", "web")
        descriptor = os.path.join(tempfile.mkdtemp(prefix="rmicro-proxy-web-"), "web.pb")
        subprocess.run([require(shutil.which("protoc") or "protoc"), "--include_imports", "-o", descriptor,
                        "-I", web, os.path.join(web, "web.proto")], check=True, cwd=ROOT)
        cls.node = Process(["node", os.path.join(web, "server.mjs"), descriptor])
        cls.fronts = {scheme: proxy("--proto", "interop/web/web.proto", "--proxy", f"{scheme}://{cls.node.address}")
                      for scheme in ("connect", "grpc-web")}

    @classmethod
    def tearDownClass(cls):
        for front in cls.fronts.values():
            front.stop()
        cls.node.stop()

    def methods(self, channel):
        serialize = lambda message: message.SerializeToString()  # noqa: E731
        kinds = {"Say": channel.unary_unary, "Count": channel.unary_stream, "Collect": channel.stream_unary,
                 "Chat": channel.stream_stream}
        return {name: kind(f"/web.v1.Web/{name}", request_serializer=serialize,
                           response_deserializer=echo_pb2.SayReply.FromString)
                for name, kind in kinds.items()}

    def test_reply_header_trailer_errors_and_every_stream_kind(self):
        for scheme, front in self.fronts.items():
            with self.subTest(upstream=scheme), grpc.insecure_channel(front.address) as channel:
                web = self.methods(channel)
                reply, call = web["Say"].with_call(echo_pb2.SayRequest(text="hi"), timeout=CALL_TIMEOUT)
                self.assertEqual(reply.text, "node: hi")
                self.assertEqual(dict(call.initial_metadata()).get("x-node"), "say")
                self.assertEqual(trailers_of(call).get("x-served-by"), "connect-node")
                with self.assertRaises(grpc.RpcError) as raised:
                    web["Say"](echo_pb2.SayRequest(text="missing"), timeout=CALL_TIMEOUT)
                self.assertEqual(raised.exception.code(), grpc.StatusCode.NOT_FOUND)
                self.assertEqual(raised.exception.details(), "no such thing")
                count = web["Count"](echo_pb2.CountRequest(count=3, text="c"), timeout=CALL_TIMEOUT)
                self.assertEqual([(r.text, r.index) for r in count], [("c0", 0), ("c1", 1), ("c2", 2)])
                self.assertEqual(trailers_of(count).get("x-served-by"), "connect-node")
                reply = web["Collect"](iter([echo_pb2.SayRequest(text=t) for t in "ab"]), timeout=CALL_TIMEOUT)
                self.assertEqual((reply.text, reply.index), ("a,b", 2))
                chat = web["Chat"](iter([echo_pb2.SayRequest(text=t) for t in ("x", "y")]), timeout=CALL_TIMEOUT)
                self.assertEqual([(r.text, r.index) for r in chat], [("node echo: x", 0), ("node echo: y", 1)])
                chat = web["Chat"](iter([echo_pb2.SayRequest(text="a"), echo_pb2.SayRequest(text="fail")]),
                                   timeout=CALL_TIMEOUT)
                with self.assertRaises(grpc.RpcError) as raised:
                    list(chat)
                self.assertEqual(raised.exception.code(), grpc.StatusCode.ABORTED)
                self.assertEqual(raised.exception.details(), "failing as asked")


class FastCallerSlowUpstreamBidi(PeerTest):
    def test_a_bidi_stream_sent_faster_than_the_upstream_reads_does_not_stall(self):
        # Each request is answered with twelve 64 KiB replies before the next is read.
        handlers = os.path.join(tempfile.mkdtemp(prefix="rmicro-proxy-bidi-"), "chat.handlers.json")
        with open(handlers, "w") as file:
            json.dump({"Echo.Chat": {"reply": [{"text": "{{request.text}}", "index": i} for i in range(12)]}}, file)
        upstream = proxy("--proto", ECHO_PROTO, "--handlers", handlers)
        self.addCleanup(upstream.stop)
        front = proxy("--proxy", f"grpc://{upstream.address}")
        self.addCleanup(front.stop)
        with grpc.insecure_channel(front.address, options=[("grpc.max_receive_message_length", 1 << 22)]) as channel:
            chat = echo_pb2_grpc.EchoStub(channel).Chat
            requests = (echo_pb2.SayRequest(text=f"{i:02d}" * 32768) for i in range(60))
            replies = [(r.text[:4], r.index) for r in chat(requests, timeout=30)]
        self.assertEqual(len(replies), 60 * 12)
        self.assertEqual(replies[37 * 12 + 11], ("3737", 11))


class LongStreamThroughProxy(PeerTest):
    def test_a_stream_outlives_the_proxy_timeout_and_upstream_sees_its_callers_deadline(self):
        import queue
        upstream = echo_server()
        self.addCleanup(upstream.stop)
        front = proxy("--proxy", f"grpc://{upstream.address}", "--proxy-timeout", "1s")
        self.addCleanup(front.stop)
        with grpc.insecure_channel(front.address) as channel:
            chat = echo_pb2_grpc.EchoStub(channel).Chat
            for timeout, seen in ((None, r"^deadline: none$"), (30, r"^deadline: (2\d|30)\d{3}ms$")):
                requests = queue.Queue()
                call = chat(iter(requests.get, None), timeout=timeout)
                requests.put(echo_pb2.SayRequest(text="deadline"))
                self.assertRegex(next(call).text, seen, f"caller's timeout {timeout}")
                time.sleep(1.5)  # past --proxy-timeout
                requests.put(echo_pb2.SayRequest(text="later"))
                self.assertEqual(next(call).text, "echo: later")
                requests.put(None)
                self.assertEqual(list(call), [])
                self.assertEqual(trailers_of(call).get("x-served-by"), "grpcio")


if __name__ == "__main__":
    unittest.main()
