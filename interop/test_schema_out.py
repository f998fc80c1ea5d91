"""Schema export checked by other tools: the `.proto` files `--proto-out-dir` writes and
the source `describe --format proto` prints are compiled by Debian's protoc, and the
FileDescriptorSet `--protoset-out` writes is read back — from a grpcio server's reflection
(interop/grpc/echo_server.py) and from local files.
"""
import os
import subprocess
import sys
import tempfile

from peers import ROOT, PeerTest, Process, rmicro

ECHO_SERVER = os.path.join(ROOT, "interop", "grpc", "echo_server.py")


def protoc(include, *files, out):
    return subprocess.run(
        ["protoc", "-I", include, "--include_imports", f"--descriptor_set_out={out}", *files],
        capture_output=True, text=True, cwd=ROOT,
    )


class SchemaOut(PeerTest):
    def test_reflection_schema_written_as_files_protoc_compiles(self):
        server = Process([sys.executable, ECHO_SERVER])
        try:
            with tempfile.TemporaryDirectory() as work:
                out, pb = os.path.join(work, "out"), os.path.join(work, "echo.pb")
                result = rmicro(
                    "list", "-a", f"grpc://{server.address}",
                    "--protoset-out", pb, "--proto-out-dir", out,
                )
                self.assertExit(result, 0)
                written = sorted(
                    os.path.relpath(os.path.join(d, f), out)
                    for d, _, fs in os.walk(out) for f in fs
                )
                self.assertIn("echo.proto", written)
                compiled = protoc(out, *written, out=os.path.join(work, "protoc.pb"))
                self.assertEqual(compiled.returncode, 0, compiled.stderr)
                # protoc's set and rmicro's own describe the same endpoints.
                mine = rmicro("list", "--descriptor-set", pb, "-o", "json")
                theirs = rmicro("list", "--descriptor-set", os.path.join(work, "protoc.pb"), "-o", "json")
                self.assertExit(mine, 0)
                self.assertExit(theirs, 0)
                self.assertEqual(mine.stdout, theirs.stdout)
                self.assertIn("echo.v1.Echo", mine.stdout)
        finally:
            server.stop()

    def test_describe_format_proto_is_source_protoc_accepts(self):
        for proto, symbol in [
            ("proto-samples/shop.proto", "shop.Order"),
            ("proto-samples/job.proto", "Job.CreateJob"),
            ("tests/fixtures/wkt.proto", "wkt.Wkt"),
        ]:
            with tempfile.TemporaryDirectory() as work:
                result = rmicro("describe", "--proto", proto, "--format", "proto", symbol)
                self.assertExit(result, 0)
                path = os.path.join(work, os.path.basename(proto))
                with open(path, "w") as file:
                    file.write(result.stdout)
                compiled = protoc(work, os.path.basename(proto), out=os.path.join(work, "x.pb"))
                self.assertEqual(compiled.returncode, 0, f"{proto}: {compiled.stderr}\n{result.stdout}")
