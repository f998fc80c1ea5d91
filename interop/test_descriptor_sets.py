"""`--descriptor-set` with the descriptor sets other tools make, as the README promises:
`protoc --include_imports --descriptor_set_out` (Debian's protobuf-compiler, with the
well-known types from libprotobuf-dev) and `buf build -o FILE.binpb` (npm's @bufbuild/buf,
pinned in interop/buf/package-lock.json; a Buf image, which carries fields of Buf's own
beside the FileDescriptorSet's and, unlike protoc's, source info). interop/run.sh installs
both; a missing one fails the suite.

Each is built afresh from proto-samples/: shop.proto alone (it imports
google/protobuf/timestamp.proto, so the set holds an imported file) and all the samples in
one set (several files, two of them defining a `Response` in their own package). Every
check compares what rmicro does with that set to what it does with the same `--proto`
files, so a layout that protoc or buf renders differently from protox shows up as a diff:
- `list` (table and JSON) and `describe` of every endpoint, service and message;
- a descriptor set mixed with a `--proto` file that imports well-known types too;
- `rmicro serve --descriptor-set` answering calls over mucp (JSON and protobuf bodies, an
  error rule) and gRPC, its Debug.Endpoints listing and its reflection service, against a
  server of the same handlers serving the .proto;
- `rmicro call --descriptor-set` encoding requests and decoding replies (protobuf bodies,
  Timestamp fields) and refusing a request that does not fit the schema.
"""
import json
import os
import shutil
import subprocess
import tempfile
import unittest

from peers import BUF, ROOT, PeerTest, require, rmicro
from peers import serve as serve_with

SAMPLES = os.path.join(ROOT, "proto-samples")
HANDLERS = "proto-samples/shop.handlers.json"
WKT_PROTO = "tests/fixtures/wkt.proto"  # imports Any, Duration, Struct and Timestamp

# name → the sample files the set is built from, in the order buf lists them (by name), so
# that the same --proto flags give the same order of endpoints.
CASES = {
    "shop": ["shop.proto"],
    "samples": ["actuator.proto", "job.proto", "shop.proto"],
}


def protoc(files, out):
    require(shutil.which("protoc") or "protoc (Debian's protobuf-compiler)")
    return ["protoc", "--include_imports", f"--descriptor_set_out={out}", "-I", SAMPLES,
            *[os.path.join(SAMPLES, name) for name in files]]


def buf(files, out):
    # A directory of .proto files with no buf.yaml is a module of its own; --path picks
    # the files to build (imports come along: buf includes them unless told not to).
    paths = [arg for name in files for arg in ("--path", os.path.join(SAMPLES, name))]
    return [require(BUF), "build", SAMPLES, *paths, "-o", out]


BUILDERS = {"protoc": protoc, "buf": buf}


def proto_flags(files):
    return [arg for name in files for arg in ("--proto", f"proto-samples/{name}")]


def serve(*schema):
    return serve_with(schema, HANDLERS)


class DescriptorSetsOfProtocAndBuf(PeerTest):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory()
        cls.sets = {}  # (builder, case) → path
        for builder, command in BUILDERS.items():
            for case, files in CASES.items():
                out = os.path.join(cls.dir.name, f"{case}.{builder}.binpb")
                argv = command(files, out)
                built = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=120)
                if built.returncode != 0 or not os.path.exists(out):
                    raise AssertionError(f"{' '.join(argv)} failed: {built.stderr}")
                cls.sets[builder, case] = out

    @classmethod
    def tearDownClass(cls):
        cls.dir.cleanup()

    def same(self, args, with_proto, with_set, code=0):
        """rmicro ARGS with the --proto flags and with the descriptor set: same exit and output."""
        expected, got = rmicro(*args, *with_proto), rmicro(*args, *with_set)
        self.assertExit(expected, code)
        self.assertExit(got, code)
        self.assertEqual(got.stdout, expected.stdout, (args, with_set))
        self.assertEqual(got.stderr, expected.stderr, (args, with_set))
        return got

    def each_set(self):
        """(case, its --proto flags, the --descriptor-set flag) for every set built; a
        failure names the set in its message (the flag holds its path)."""
        return [(case, proto_flags(CASES[case]), ["--descriptor-set", path])
                for (_, case), path in self.sets.items()]

    def test_list_and_describe_show_what_the_protos_show(self):
        for case, with_proto, with_set in self.each_set():
            self.same(["list"], with_proto, with_set)
            listed = json.loads(self.same(["list", "-o", "json"], with_proto, with_set).stdout)
            self.assertEqual(
                {e["endpoint"].split(".")[0] for e in listed},
                {"shop": {"Orders"}, "samples": {"Actuator", "Job", "Orders"}}[case],
            )
            symbols = {e["endpoint"] for e in listed}
            symbols |= {e["request"] for e in listed} | {e["response"] for e in listed}
            symbols |= {"shop.Orders", "google.protobuf.Timestamp"}
            for symbol in sorted(symbols):
                self.same(["describe", symbol], with_proto, with_set)

    def test_a_set_mixes_with_a_proto_importing_well_known_types(self):
        # Both bring google/protobuf/timestamp.proto, protoc's or buf's and protox's: one
        # is kept, not refused as a conflict.
        for _, with_proto, with_set in self.each_set():
            mixed = self.same(["list", "-o", "json", "--proto", WKT_PROTO], with_proto, with_set)
            self.assertIn("Wkt.Echo", mixed.stdout)
            self.same(["describe", "wkt.Holder", "--proto", WKT_PROTO], with_proto, with_set)

    @staticmethod
    def calls(address):
        """The same calls, each as (args, exit code), to the server at ADDRESS: mucp with
        JSON and protobuf bodies, an error rule (NOT_FOUND: exit 69), gRPC."""
        order = json.dumps({"id": "o-1001"})
        return [
            (["call", "-a", address, "Orders.GetOrder", order, "--content-type", "json"], 0),
            (["call", "-a", address, "Orders.GetOrder", order, "--content-type", "protobuf"], 0),
            (["call", "-a", address, "Orders.GetOrder", '{"id":"nope"}'], 69),
            (["call", "-a", address, "Orders.PlaceOrder", '{"id":"x"}', "--content-type", "protobuf"], 0),
            (["call", "-a", f"grpc://{address}", "shop.Orders/GetOrder", order, "-o", "json"], 0),
        ]

    def test_serve_answers_as_with_the_protos(self):
        for _, with_proto, with_set in self.each_set():
            reference, server = serve(*with_proto), serve(*with_set)
            try:
                for (args, code), (expected_args, _) in zip(
                    self.calls(server.address), self.calls(reference.address)
                ):
                    expected, got = rmicro(*expected_args), rmicro(*args)
                    self.assertExit(expected, code)
                    self.assertExit(got, code)
                    self.assertEqual(got.stdout, expected.stdout, (args, with_set))
                    if args[3].endswith("GetOrder") and code == 0:  # a Timestamp decoded
                        self.assertIn('"createdAt":"2026-11-20T09:30:00Z"', got.stdout)
                # What the server tells of its schema: Debug.Endpoints (mucp) and server
                # reflection (gRPC), each read with no schema of the client's own.
                for scheme in ("", "grpc://"):
                    for args in (["list", "-o", "json"], ["describe", "shop.Orders"],
                                 ["describe", "shop.Order"], ["describe", "google.protobuf.Timestamp"]):
                        expected = rmicro(*args, "-a", scheme + reference.address)
                        got = rmicro(*args, "-a", scheme + server.address)
                        self.assertExit(expected, 0)
                        self.assertExit(got, 0)
                        self.assertEqual(got.stdout, expected.stdout, (scheme, args, with_set))
            finally:
                server.stop()
                reference.stop()

    def test_call_encodes_and_decodes_as_with_the_protos(self):
        server = serve("--proto", "proto-samples/shop.proto")
        try:
            for _, with_proto, with_set in self.each_set():
                for args, code in self.calls(server.address):
                    self.same(args, with_proto, with_set, code)
                # A request that does not fit is refused before any I/O, naming the field.
                refused = self.same(["call", "-a", server.address, "Orders.PlaceOrder", '{"idd":1}'],
                                    with_proto, with_set, 1)
                self.assertIn("idd", refused.stderr)
        finally:
            server.stop()


if __name__ == "__main__":
    unittest.main()
