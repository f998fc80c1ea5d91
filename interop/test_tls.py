"""TLS in both directions, against real TLS stacks: grpcio's (BoringSSL) and Python's ssl
module (OpenSSL). The certificates are made per test class at run time with the PyPI
`cryptography` package (pinned in requirements.txt): a CA, a server certificate for
DNS:localhost and IP:127.0.0.1, a client certificate; nothing is checked in.

- `rmicro serve --tls-cert --tls-key [--client-ca]` with interop/grpc/echo.handlers.json:
  grpcio's secure channel (unary, server and bidirectional streams, reflection; refused
  without the CA, and under --client-ca without a client certificate or with one from
  another CA, the server serving on afterwards); mucp over HTTPS and JSON-RPC over a TLS
  socket with Python's ssl; a plaintext HTTP/1 request answered 400.
- `rmicro call`, `list` and `describe` over grpcs:// against interop/grpc/echo_server.py
  with --tls-cert/--tls-key [--client-ca]: --cacert, --cert/--key, --insecure,
  --authority, and the failures' messages.
"""
import datetime
import http.client
import ipaddress
import json
import os
import socket
import ssl
import sys
import tempfile

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from peers import ROOT, PeerTest, Process, rmicro, serve_echo

GRPC_DIR = os.path.join(ROOT, "interop", "grpc")
ECHO_SERVER = os.path.join(GRPC_DIR, "echo_server.py")
sys.path.insert(0, GRPC_DIR)
import echo_stubs  # noqa: E402  (interop/grpc has no __init__.py: it must not hide grpcio)

echo_pb2, echo_pb2_grpc = echo_stubs.load_echo()

CALL_TIMEOUT = 10
SERVER_DNS, SERVER_IP = "localhost", "127.0.0.1"  # the server certificate's names
SAY = {"Micro-Endpoint": "Echo.Say", "Content-Type": "application/json"}  # mucp headers


def make_pki(directory, name):
    """Writes NAME-ca.pem, NAME-server.pem/-key.pem and NAME-client.pem/-key.pem into
    `directory`; returns their paths by role ("ca", "server", "server_key", ...)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    paths = {}

    def issue(role, subject, issuer, issuer_key, extensions):
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
        )
        for extension, critical in extensions:
            builder = builder.add_extension(extension, critical=critical)
        cert = builder.sign(issuer_key or key, hashes.SHA256())
        paths[role] = os.path.join(directory, f"{name}-{role}.pem")
        with open(paths[role], "wb") as file:
            file.write(cert.public_bytes(serialization.Encoding.PEM))
        if role != "ca":
            paths[f"{role}_key"] = os.path.join(directory, f"{name}-{role}-key.pem")
            with open(paths[f"{role}_key"], "wb") as file:
                file.write(key.private_bytes(
                    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption(),
                ))
        return key

    leaf = x509.BasicConstraints(ca=False, path_length=None)
    ca_name = f"{name} test CA"
    ca_key = issue("ca", ca_name, ca_name, None, [
        (x509.BasicConstraints(ca=True, path_length=0), True),
        (x509.KeyUsage(False, False, False, False, False, True, True, False, False), True),
    ])
    issue("server", SERVER_DNS, ca_name, ca_key, [
        (leaf, True),
        (x509.SubjectAlternativeName([
            x509.DNSName(SERVER_DNS), x509.IPAddress(ipaddress.ip_address(SERVER_IP)),
        ]), False),
        (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False),
    ])
    issue("client", f"{name} client", ca_name, ca_key, [
        (leaf, True),
        (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False),
    ])
    return paths


def read(path):
    with open(path, "rb") as file:
        return file.read()


def port_of(process):
    return int(process.address.rsplit(":", 1)[1])


def mucp_say(port, context):
    """Echo.Say {"text":"hi"} as mucp over HTTPS to SERVER_DNS: (status, reply JSON)."""
    connection = http.client.HTTPSConnection(SERVER_DNS, port, timeout=CALL_TIMEOUT, context=context)
    try:
        connection.request("POST", "/", body=json.dumps({"text": "hi"}), headers=SAY)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def ssl_context(pki, client=None, alpn="http/1.1"):
    """Python ssl's client context trusting `pki`'s CA, with `client`'s certificate."""
    context = ssl.create_default_context(cafile=pki["ca"])
    context.set_alpn_protocols([alpn])
    if client:
        context.load_cert_chain(client["client"], client["client_key"])
    return context


class TLSTest(PeerTest):
    """Per class: a temp dir with the PKI `cls.pki` and, from another CA, `cls.stranger`."""

    @classmethod
    def setUpClass(cls):
        cls.certs = tempfile.TemporaryDirectory(prefix="rmicro-tls-")
        cls.pki = make_pki(cls.certs.name, "trusted")
        cls.stranger = make_pki(cls.certs.name, "stranger")

    @classmethod
    def tearDownClass(cls):
        cls.certs.cleanup()


def serve_rmicro(pki, *extra):
    return serve_echo("--tls-cert", pki["server"], "--tls-key", pki["server_key"], *extra)


def credentials(ca=None, client=None):
    """grpcio channel credentials trusting `ca` (a PKI dict; None: the system's roots),
    presenting `client`'s client certificate when given."""
    return grpc.ssl_channel_credentials(
        root_certificates=read(ca["ca"]) if ca else None,
        private_key=read(client["client_key"]) if client else None,
        certificate_chain=read(client["client"]) if client else None,
    )


class PythonClientsAgainstRmicroTLS(TLSTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = serve_rmicro(cls.pki)
        cls.port = port_of(cls.server)
        cls.channel = grpc.secure_channel(cls.server.address, credentials(cls.pki))
        cls.echo = echo_pb2_grpc.EchoStub(cls.channel)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        cls.server.stop()
        super().tearDownClass()

    def test_startup_line_says_tls(self):
        self.assertRegex(self.server.output, r"protocols: mucp, jsonrpc, grpc, connect, grpc-web, TLS\)")
        self.assertNotIn("mutual", self.server.output)

    def test_grpc_unary_server_streaming_and_bidi(self):
        self.assertEqual(self.echo.Say(echo_pb2.SayRequest(text="hi"), timeout=CALL_TIMEOUT).text, "echo: hi")
        count = self.echo.Count(echo_pb2.CountRequest(count=3), timeout=CALL_TIMEOUT)
        self.assertEqual([(r.text, r.index) for r in count], [("one", 0), ("two", 1), ("three", 2)])
        chat = self.echo.Chat(iter([echo_pb2.SayRequest(text=t) for t in "ab"]), timeout=CALL_TIMEOUT)
        self.assertEqual([(r.text, r.index) for r in chat], [("echo: a", 0), ("echo: b", 1)])

    def test_grpc_by_dns_name(self):
        with grpc.secure_channel(f"{SERVER_DNS}:{self.port}", credentials(self.pki)) as channel:
            reply = echo_pb2_grpc.EchoStub(channel).Say(echo_pb2.SayRequest(text="hi"), timeout=CALL_TIMEOUT)
        self.assertEqual(reply.text, "echo: hi")

    def test_reflection_over_tls(self):
        call, request = echo_stubs.reflection_call(self.channel, "v1")
        (reply,) = list(call(iter([request(list_services="")]), timeout=CALL_TIMEOUT))
        names = [service.name for service in reply.list_services_response.service]
        self.assertIn("echo.v1.Echo", names)
        self.assertIn(echo_stubs.REFLECTION_V1_SERVICE, names)

    def test_untrusted_or_plaintext_grpc_is_unavailable_and_serving_goes_on(self):
        for label, channel in (
            ("system roots", grpc.secure_channel(self.server.address, credentials())),
            ("another CA", grpc.secure_channel(self.server.address, credentials(self.stranger))),
            ("plaintext", grpc.insecure_channel(self.server.address)),
        ):
            with self.subTest(label), channel:
                with self.assertRaises(grpc.RpcError) as raised:
                    echo_pb2_grpc.EchoStub(channel).Say(echo_pb2.SayRequest(text="hi"), timeout=CALL_TIMEOUT)
                self.assertEqual(raised.exception.code(), grpc.StatusCode.UNAVAILABLE, raised.exception)
        self.test_grpc_unary_server_streaming_and_bidi()

    def test_mucp_over_https(self):
        self.assertEqual(mucp_say(self.port, ssl_context(self.pki)), (200, {"text": "echo: hi"}))

    def test_alpn_offers_h2_and_http1(self):
        for protocol in ("h2", "http/1.1"):
            raw = socket.create_connection((SERVER_IP, self.port), timeout=CALL_TIMEOUT)
            with ssl_context(self.pki, alpn=protocol).wrap_socket(raw, server_hostname=SERVER_DNS) as tls:
                self.assertEqual(tls.selected_alpn_protocol(), protocol)

    def test_jsonrpc_over_a_tls_socket(self):
        """Over an IP address: Python's ssl checks the certificate's IP name."""
        raw = socket.create_connection((SERVER_IP, self.port), timeout=CALL_TIMEOUT)
        with ssl_context(self.pki).wrap_socket(raw, server_hostname=SERVER_IP) as tls:
            tls.sendall(b'{"method":"Echo.Say","params":[{"text":"hi"}],"id":1}\n')
            line = tls.makefile("rb").readline()
        self.assertEqual(json.loads(line), {"id": 1, "result": {"text": "echo: hi"}, "error": None})

    def test_plaintext_http_is_told_to_use_tls(self):
        with socket.create_connection((SERVER_IP, self.port), timeout=CALL_TIMEOUT) as plain:
            headers = "".join(f"{name}: {value}\r\n" for name, value in SAY.items())
            plain.sendall(f"POST / HTTP/1.1\r\nHost: {SERVER_DNS}\r\n{headers}Content-Length: 2\r\n\r\n{{}}".encode())
            answer = b""
            while chunk := plain.recv(4096):
                answer += chunk
        self.assertTrue(answer.startswith(b"HTTP/1.0 400 Bad Request"), answer)
        self.assertIn(b"Client sent an HTTP request to a TLS server.", answer)
        self.test_mucp_over_https()


class PythonClientsAgainstRmicroMutualTLS(TLSTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = serve_rmicro(cls.pki, "--client-ca", cls.pki["ca"])

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        super().tearDownClass()

    def say(self, creds):
        with grpc.secure_channel(self.server.address, creds) as channel:
            return echo_pb2_grpc.EchoStub(channel).Say(echo_pb2.SayRequest(text="hi"), timeout=CALL_TIMEOUT)

    def test_startup_line_says_mutual_tls(self):
        self.assertIn("mutual TLS", self.server.output)

    def test_client_certificate_required(self):
        self.assertEqual(self.say(credentials(self.pki, client=self.pki)).text, "echo: hi")
        for label, creds in (
            ("no client certificate", credentials(self.pki)),
            ("client certificate from another CA", credentials(self.pki, client=self.stranger)),
        ):
            with self.subTest(label):
                with self.assertRaises(grpc.RpcError) as raised:
                    self.say(creds)
                self.assertEqual(raised.exception.code(), grpc.StatusCode.UNAVAILABLE, raised.exception)
        self.assertEqual(self.say(credentials(self.pki, client=self.pki)).text, "echo: hi")

    def test_mucp_over_https_needs_a_client_certificate(self):
        port = port_of(self.server)
        self.assertEqual(mucp_say(port, ssl_context(self.pki, client=self.pki)), (200, {"text": "echo: hi"}))
        # Under TLS 1.3 the refusal comes after the client's side of the handshake: an
        # alert or a reset, either way an error (a timeout would be a hanging server).
        with self.assertRaises(OSError) as raised:
            mucp_say(port, ssl_context(self.pki))
        self.assertNotIsInstance(raised.exception, TimeoutError)


class RmicroAgainstPythonTLSServer(TLSTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = Process([sys.executable, ECHO_SERVER,
                              "--tls-cert", cls.pki["server"], "--tls-key", cls.pki["server_key"]])
        cls.target = f"grpcs://{cls.server.address}"

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        super().tearDownClass()

    def call(self, *args, target=None):
        return rmicro("call", "--address", target or self.target, *args, "-o", "json")

    def replies(self, result):
        self.assertExit(result, 0)
        return [(r.get("text", ""), r.get("index", 0)) for r in map(json.loads, result.stdout.splitlines())]

    def test_unary_and_stream_with_cacert(self):
        for target in (self.target, f"grpcs://{SERVER_DNS}:{port_of(self.server)}"):
            with self.subTest(target=target):
                result = self.call("Echo.Say", '{"text":"hi"}', "--cacert", self.pki["ca"], target=target)
                self.assertEqual(self.replies(result), [("echo: hi", 0)])
        result = self.call("echo.v1.Echo/Count", '{"count":2,"text":"t"}', "--cacert", self.pki["ca"])
        self.assertEqual(self.replies(result), [("t 0", 0), ("t 1", 1)])

    def test_list_and_describe(self):
        result = rmicro("list", "--address", self.target, "--cacert", self.pki["ca"])
        self.assertExit(result, 0)
        for method in ("Say", "Count", "Collect", "Chat"):
            self.assertIn(method, result.stdout)
        result = rmicro("describe", "--address", self.target, "--cacert", self.pki["ca"], "echo.v1.Echo")
        self.assertExit(result, 0)
        self.assertIn("Count", result.stdout)
        self.assertIn("stream", result.stdout)

    def test_unknown_issuer_fails_with_a_hint(self):
        for label, args in (("no --cacert", ()), ("another CA", ("--cacert", self.stranger["ca"]))):
            with self.subTest(label):
                result = self.call("Echo.Say", '{"text":"hi"}', *args)
                self.assertExit(result, 1)
                self.assertEqual(result.stdout, "")
                self.assertIn("UnknownIssuer", result.stderr)
                self.assertIn("--cacert", result.stderr)

    def test_insecure_skips_the_check(self):
        result = self.call("Echo.Say", '{"text":"hi"}', "--insecure")
        self.assertEqual(self.replies(result), [("echo: hi", 0)])

    def test_authority(self):
        result = self.call("Echo.Say", '{"text":"hi"}', "--cacert", self.pki["ca"], "--authority", SERVER_DNS)
        self.assertEqual(self.replies(result), [("echo: hi", 0)])
        result = self.call("Echo.Say", '{"text":"hi"}', "--cacert", self.pki["ca"], "--authority", "wrong.example")
        self.assertExit(result, 1)
        self.assertIn("wrong.example", result.stderr)
        for name in (SERVER_DNS, SERVER_IP):
            self.assertIn(name, result.stderr)

    def test_mutual_tls(self):
        server = Process([sys.executable, ECHO_SERVER, "--tls-cert", self.pki["server"],
                          "--tls-key", self.pki["server_key"], "--client-ca", self.pki["ca"]])
        try:
            target = f"grpcs://{server.address}"
            mine = ("--cacert", self.pki["ca"], "--cert", self.pki["client"], "--key", self.pki["client_key"])
            result = self.call("Echo.Say", '{"text":"hi"}', *mine, target=target)
            self.assertEqual(self.replies(result), [("echo: hi", 0)])
            result = self.call("echo.v1.Echo/Count", '{"count":1,"text":"m"}', *mine, target=target)
            self.assertEqual(self.replies(result), [("m 0", 0)])

            result = self.call("Echo.Say", '{"text":"hi"}', "--cacert", self.pki["ca"], target=target)
            self.assertExit(result, 1)
            self.assertIn("--cert FILE --key FILE", result.stderr)
        finally:
            server.stop()
