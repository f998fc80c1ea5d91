"""Handlers that do what real services do, checked with real peers: grpcio's client reads
the headers and trailers a rule sets (a -bin one too) and its templated values — grpc-go's
`custom_metadata` interop case among them — a rule with "times": 2 fails twice and
`rmicro call --retries 2` then succeeds, a CI-style job drives the request journal with
`rmicro journal` and `rmicro verify` after grpcio made its calls, and the handlers file is
rewritten while grpcio clients keep calling, with no call failing.

Served: `rmicro serve --proto interop/grpc/echo.proto --handlers interop/grpc/rules.handlers.json`.
"""
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time

import grpc

from peers import ROOT, PeerTest, rmicro, serve

sys.path.insert(0, os.path.join(ROOT, "interop", "grpc"))
import echo_stubs  # noqa: E402

echo_pb2, echo_pb2_grpc = echo_stubs.load_echo()

CALL_TIMEOUT = 10
SCHEMA = ["--proto", "interop/grpc/echo.proto"]
RULES = "interop/grpc/rules.handlers.json"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


class RulesTest(PeerTest):
    def setUp(self):
        self.server = serve(SCHEMA, RULES)
        self.addCleanup(self.server.stop)
        self.channel = grpc.insecure_channel(self.server.address)
        self.addCleanup(self.channel.close)
        self.stub = echo_pb2_grpc.EchoStub(self.channel)

    def test_grpc_go_custom_metadata_case_echoes_initial_and_binary_trailing_metadata(self):
        # grpc-go interop's custom_metadata: the server echoes these two back.
        initial = ("x-grpc-test-echo-initial", "test_initial_metadata_value")
        trailing = ("x-grpc-test-echo-trailing-bin", b"\x0a\x0b\x0a\x0b\x0a\x0b")
        reply, call = self.stub.Say.with_call(
            echo_pb2.SayRequest(text="custom"), metadata=[initial, trailing], timeout=CALL_TIMEOUT
        )
        self.assertEqual(reply.text, "custom")
        self.assertIn(initial, list(call.initial_metadata()))
        self.assertIn(trailing, list(call.trailing_metadata()))

    def test_headers_trailers_a_bin_header_and_templated_values_reach_grpcio(self):
        for seq in (1, 2):
            reply, call = self.stub.Say.with_call(
                echo_pb2.SayRequest(text="static"), metadata=[("x-tenant", "acme")], timeout=CALL_TIMEOUT
            )
            headers, trailers = dict(call.initial_metadata()), dict(call.trailing_metadata())
            self.assertEqual(headers["x-static"], "on")
            self.assertEqual(headers["x-blob-bin"], b"\x00\x01\x02\xff")
            self.assertEqual(trailers["x-count"], str(seq))
            self.assertEqual(trailers["x-endpoint"], "Echo.Say")
            self.assertEqual(trailers["x-tenant"], "acme")
            # {{seq}} alone keeps its type: a number in an int32 field.
            self.assertEqual(reply.index, seq)
            self.assertRegex(reply.text, UUID)

    def test_an_error_carries_its_headers_trailers_and_templated_detail(self):
        with self.assertRaises(grpc.RpcError) as raised:
            self.stub.Say(echo_pb2.SayRequest(text="denied-7"), timeout=CALL_TIMEOUT)
        error = raised.exception
        self.assertEqual(error.code(), grpc.StatusCode.PERMISSION_DENIED)
        self.assertEqual(error.details(), "denied-7 refused")
        self.assertIn(("x-policy", "strict"), list(error.initial_metadata()))
        self.assertIn(("x-reason", "policy"), list(error.trailing_metadata()))

    def test_times_two_fails_twice_and_retries_two_then_succeed(self):
        result = rmicro(
            "call", "-a", f"grpc://{self.server.address}", "Echo.Say", '{"text":"flaky"}',
            "--retries", "2", "--backoff", "constant:10ms", "-v",
        )
        self.assertExit(result, 0)
        self.assertEqual(json.loads(result.stdout), {"text": "default flaky"})
        self.assertIn("attempt 1 fails", result.stderr)
        self.assertIn("attempt 2 fails", result.stderr)
        # grpcio, after the rule's two calls are used up, gets the next rule too.
        self.assertEqual(self.stub.Say(echo_pb2.SayRequest(text="flaky"), timeout=CALL_TIMEOUT).text, "default flaky")
        verify = rmicro("verify", "-a", f"grpc://{self.server.address}", "Echo.Say",
                        "--match", '{"text":"flaky"}', "--count", "4")
        self.assertExit(verify, 0)


class JournalTest(PeerTest):
    """A CI job's view: the service under test (here grpcio's client) makes its calls,
    then the job asks rmicro what came, clears the journal, and goes on."""

    def test_a_ci_job_verifies_what_grpcio_sent_and_clears_between_cases(self):
        work = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, work)
        path = os.path.join(work, "journal.ndjson")
        server = serve(SCHEMA, RULES, "--journal", path)
        self.addCleanup(server.stop)
        address = f"grpc://{server.address}"
        with grpc.insecure_channel(server.address) as channel:
            stub = echo_pb2_grpc.EchoStub(channel)
            for text in ("order-1", "order-2", "static"):
                stub.Say(echo_pb2.SayRequest(text=text), metadata=[("x-run", "42")], timeout=CALL_TIMEOUT)
            replies = list(stub.Count(echo_pb2.CountRequest(count=2, text="s"), timeout=CALL_TIMEOUT))
            self.assertEqual(len(replies), 2)
        # A stream is journaled with its first request message.
        self.assertExit(rmicro("verify", "-a", address, "Echo.Count", "--match", '{"count":{"$gte":2}}', "--count", "1"), 0)
        ok = rmicro("verify", "-a", address, "Echo.Say", "--match", '{"text":{"$glob":"order-*"}}', "--count", "2")
        self.assertExit(ok, 0)
        self.assertIn("2 Echo.Say calls matching", ok.stdout)
        short = rmicro("verify", "-a", address, "Echo.Say", "--match", '{"text":"order-3"}')
        self.assertExit(short, 1)
        self.assertIn("0 Echo.Say calls matching", short.stderr)
        self.assertIn('"order-2"', short.stderr, "the nearest calls it did see")
        listed = rmicro("journal", "-a", address, "Echo.Say", "-o", "json")
        self.assertExit(listed, 0)
        entries = [json.loads(line) for line in listed.stdout.splitlines()]
        self.assertEqual([entry["request"]["text"] for entry in entries], ["order-1", "order-2", "static"])
        self.assertTrue(all(entry["protocol"] == "grpc" and entry["status"] == "OK" for entry in entries))
        self.assertEqual(entries[0]["metadata"]["x-run"], "42")
        with open(path) as written:
            self.assertEqual([json.loads(line)["request"]["text"] for line in written], ["order-1", "order-2", "static", "s"])
        # The next test case starts from an empty journal.
        self.assertExit(rmicro("journal", "-a", address, "--clear"), 0)
        self.assertExit(rmicro("verify", "-a", address, "Echo.Say", "--count", "0"), 0)
        self.assertExit(rmicro("verify", "-a", address, "Echo.Say"), 1)


class HotReloadTest(PeerTest):
    def test_rewriting_the_handlers_file_under_load_fails_no_call(self):
        work = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, work)
        handlers = os.path.join(work, "handlers.json")

        def write(contents):
            # Written whole and renamed into place, as editors and deploy tools do.
            with open(handlers + ".new", "w") as new:
                new.write(contents)
            os.replace(handlers + ".new", handlers)

        def version(n):
            write(json.dumps({"Echo.Say": {"reply": {"text": f"v{n}", "index": n}}}))

        version(0)
        server = serve(SCHEMA, handlers)
        self.addCleanup(server.stop)
        stop = threading.Event()
        seen, failures, calls = set(), [], [0]
        lock = threading.Lock()

        def load():
            with grpc.insecure_channel(server.address) as channel:
                stub = echo_pb2_grpc.EchoStub(channel)
                while not stop.is_set():
                    try:
                        reply = stub.Say(echo_pb2.SayRequest(text="x"), timeout=CALL_TIMEOUT)
                        with lock:
                            seen.add(reply.text)
                            calls[0] += 1
                    except grpc.RpcError as error:
                        with lock:
                            failures.append(f"{error.code()}: {error.details()}")

        threads = [threading.Thread(target=load) for _ in range(4)]
        for thread in threads:
            thread.start()
        try:
            for n in range(1, 6):
                time.sleep(0.4)
                version(n)
                if n == 3:
                    time.sleep(0.4)
                    write('{"Echo.Say": {"reply": {"txet": "broken"}}}')
            deadline = time.time() + 10
            while "v5" not in seen and time.time() < deadline:
                time.sleep(0.05)
        finally:
            stop.set()
            for thread in threads:
                thread.join()
        self.assertEqual(failures, [], "no call fails while the file changes")
        self.assertIn("v5", seen)
        self.assertGreaterEqual(len(seen), 4, f"the versions seen: {sorted(seen)}")
        self.assertTrue(seen <= {f"v{n}" for n in range(6)}, sorted(seen))
        self.assertGreater(calls[0], 100)


class ConnectHeadersTest(PeerTest):
    """connect-python (with its HTTP client pyqwest) reads the same rules' headers and
    trailers: Trailer- headers of the unary form, the end-of-stream message's metadata of
    the streaming form, over HTTP/1.1 and HTTP/2."""

    def test_connect_python_reads_headers_and_trailers_of_unary_and_stream_replies(self):
        import pyqwest
        from connectrpc.client import ConnectClientSync, ResponseMetadata
        from connectrpc.errors import ConnectError
        from connectrpc.method import IdempotencyLevel, MethodInfo

        server = serve(SCHEMA, RULES)
        self.addCleanup(server.stop)

        def method(name, request):
            return MethodInfo(name=name, service_name="echo.v1.Echo", input=request, output=echo_pb2.SayReply,
                              idempotency_level=IdempotencyLevel.UNKNOWN)

        say, count = method("Say", echo_pb2.SayRequest), method("Count", echo_pb2.CountRequest)
        seq = 0
        for version in (pyqwest.HTTPVersion.HTTP1, pyqwest.HTTPVersion.HTTP2):
            with self.subTest(http=version):
                transport = pyqwest.SyncHTTPTransport(http_version=version, timeout=CALL_TIMEOUT)
                self.addCleanup(transport.close)
                client = ConnectClientSync(f"http://{server.address}", http_client=pyqwest.SyncClient(transport))
                seq += 1
                with ResponseMetadata() as metadata:
                    reply = client.execute_unary(request=echo_pb2.SayRequest(text="static"), method=say,
                                                 headers={"x-tenant": "connect"}, timeout_ms=10000)
                self.assertEqual(reply.index, seq)
                self.assertEqual(metadata.headers().get("x-static"), "on")
                self.assertEqual(metadata.trailers().get("x-count"), str(seq))
                self.assertEqual(metadata.trailers().get("x-tenant"), "connect")
                with ResponseMetadata() as metadata:
                    with self.assertRaises(ConnectError) as raised:
                        client.execute_unary(request=echo_pb2.SayRequest(text="denied"), method=say, timeout_ms=10000)
                self.assertEqual(raised.exception.message, "denied refused")
                self.assertEqual(metadata.headers().get("x-policy"), "strict")
                self.assertEqual(metadata.trailers().get("x-reason"), "policy")
                with ResponseMetadata() as metadata:
                    replies = list(client.execute_server_stream(
                        request=echo_pb2.CountRequest(count=2, text="t"), method=count, timeout_ms=10000))
                self.assertEqual([(r.text, r.index) for r in replies], [("one t", 0), ("two", 2)])
                self.assertEqual(metadata.headers().get("x-stream"), "t")
                self.assertEqual(metadata.trailers().get("x-sent"), "2")
