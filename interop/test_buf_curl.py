"""buf curl (npm's @bufbuild/buf, pinned in interop/buf/package.json) against `rmicro serve`
with its default flags: the Connect protocol, the schema from server reflection (which buf
opens as a Connect bidirectional stream), plus gRPC for comparison. Lists services and
methods, calls unary, server-, client- and bidirectional-streaming methods, and reads an
error."""
import json
import subprocess

from peers import BUF, ROOT, PeerTest, json_documents, require, serve_echo



class BufCurlAgainstRmicro(PeerTest):
    @classmethod
    def setUpClass(cls):
        cls.server = serve_echo()
        cls.url = f"http://{cls.server.address}"

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def buf_curl(self, *args):
        return subprocess.run(
            [require(BUF), "curl", *args], capture_output=True, text=True, timeout=60, cwd=ROOT,
        )

    def test_lists_services_and_methods_through_reflection(self):
        result = self.buf_curl("--list-services", self.url)
        self.assertExit(result, 0)
        services = result.stdout.split()
        self.assertIn("echo.v1.Echo", services)
        self.assertIn("grpc.health.v1.Health", services)
        result = self.buf_curl("--list-methods", self.url)
        self.assertExit(result, 0)
        for name in ("Say", "Count", "Collect", "Chat"):
            self.assertIn(f"echo.v1.Echo/{name}", result.stdout.split())

    def test_every_method_kind_with_default_flags(self):
        cases = [
            ("Say", '{"text":"hi"}', [{"text": "echo: hi"}]),
            ("Count", '{"count":3,"text":"t"}', [{"text": "one"}, {"text": "two", "index": 1}, {"text": "three", "index": 2}]),
            ("Collect", '{"text":"a"} {"text":"b"}', [{"text": "a,b", "index": 2}]),
            ("Chat", '{"text":"a"} {"text":"b"}', [{"text": "echo: a"}, {"text": "echo: b", "index": 1}]),
        ]
        for name, data, expected in cases:
            for protocol in ([], ["--protocol", "grpc", "--http2-prior-knowledge"]):
                with self.subTest(method=name, protocol=protocol or "connect"):
                    result = self.buf_curl(*protocol, "-d", data, f"{self.url}/echo.v1.Echo/{name}")
                    self.assertExit(result, 0)
                    self.assertEqual(json_documents(result.stdout), expected)

    def test_an_error_rule_reaches_buf_as_not_found(self):
        result = self.buf_curl("-d", '{"text":"missing"}', f"{self.url}/echo.v1.Echo/Say")
        self.assertNotEqual(result.returncode, 0)
        error = json.loads(result.stderr)
        self.assertEqual(error, {"code": "not_found", "message": "no such thing"})
