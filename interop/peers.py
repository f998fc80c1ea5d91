"""Helpers for the interop suite: the rmicro binary, and peer processes that print
`listening on HOST:PORT` once bound and are killed when the test ends."""
import json
import os
import re
import subprocess
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RMICRO = os.environ.get("RMICRO_BIN", os.path.join(ROOT, "target", "debug", "rmicro"))
GO_BIN = os.environ.get("GO_PEERS", os.path.join(ROOT, "target", "go"))
# buf, installed pinned into interop/buf by interop/run.sh (npm ci).
BUF = os.environ.get("BUF_BIN", os.path.join(ROOT, "interop", "buf", "node_modules", ".bin", "buf"))


def require(path):
    """A missing peer fails the suite; it never skips."""
    if not os.path.exists(path):
        raise AssertionError(f"interop peer missing: {path} (run interop/run.sh, which builds it)")
    return path


class Process:
    """A server process; its address comes from its `listening on` line (stdout or stderr)."""

    def __init__(self, argv, stream="stdout"):
        self.proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE if stream == "stdout" else subprocess.DEVNULL,
            stderr=subprocess.PIPE if stream == "stderr" else subprocess.DEVNULL,
            text=True,
            cwd=ROOT,
        )
        pipe = self.proc.stdout if stream == "stdout" else self.proc.stderr
        seen = ""
        while "listening on" not in seen:
            line = pipe.readline()
            if not line:
                raise AssertionError(f"{argv[0]} exited before listening: {seen}")
            seen += line
        self.address = re.search(r"listening on (\S+)", seen).group(1)
        self.output = seen  # everything printed up to and including the listening line

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe:
                pipe.close()


def serve(schema, handlers, *extra):
    """`rmicro serve` with these schema flags and handlers file, on a free port."""
    return Process(
        [
            require(RMICRO), "serve",
            *schema,
            "--handlers", handlers,
            "--address", "127.0.0.1:0",
            "--no-register",
            *extra,
        ],
        stream="stderr",
    )


def serve_echo(*extra):
    """`rmicro serve` with interop/grpc's echo schema and handlers, on a free port."""
    return serve(["--proto", "interop/grpc/echo.proto"], "interop/grpc/echo.handlers.json", *extra)


def rmicro(*args, stdin=None, timeout=60):
    return subprocess.run(
        [require(RMICRO), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={"PATH": os.environ["PATH"]},
    )


class PeerTest(unittest.TestCase):
    def assertExit(self, result, code):
        self.assertEqual(
            result.returncode,
            code,
            f"exit {result.returncode}, wanted {code}\nstdout: {result.stdout}\nstderr: {result.stderr}",
        )


def json_documents(text):
    """JSON documents printed one after another (buf curl prints each message as indented JSON)."""
    decoder, documents, index = json.JSONDecoder(), [], 0
    text = text.strip()
    while index < len(text):
        document, index = decoder.raw_decode(text, index)
        documents.append(document)
        while index < len(text) and text[index].isspace():
            index += 1
    return documents
