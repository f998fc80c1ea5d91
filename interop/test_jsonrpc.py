"""Go's net/rpc/jsonrpc in both directions (issue: JSON-RPC on both sides).

- `rmicro call` against Go's own `jsonrpc.ServeConn` server (interop/go/arith_server):
  results, errors and exit codes, timeouts, retries, --batch over one connection, and
  the error for grpc:// or mucp to it, naming the protocol it speaks.
- Go's own `jsonrpc.Dial` client (interop/go/jsonrpc_client) against `rmicro serve` with
  the Arith schema and handlers of interop/jsonrpc: stub and exec handlers, concurrent
  calls on one connection, errors, google.protobuf wrappers as bare values (a string
  and an int64 beyond 2^53, both ways), and raw-wire checks.
"""
import json
import os
import subprocess
import time
import unittest

from peers import GO_BIN, ROOT, RMICRO, PeerTest, Process, require, rmicro


class RmicroCallsGoServer(PeerTest):
    @classmethod
    def setUpClass(cls):
        cls.server = Process([require(os.path.join(GO_BIN, "arith_server"))])
        cls.target = f"jsonrpc://{cls.server.address}"

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def call(self, *args, stdin=None):
        return rmicro("call", "--address", self.target, *args, stdin=stdin)

    def test_results(self):
        result = self.call("Arith.Multiply", '{"A":7,"B":8}')
        self.assertExit(result, 0)
        self.assertEqual(json.loads(result.stdout), 56)
        result = self.call("Arith.Divide", '{"A":17,"B":5}')
        self.assertExit(result, 0)
        self.assertEqual(json.loads(result.stdout), {"Quo": 3, "Rem": 2})
        result = self.call("Job.CreateJob", '{"id":"1","name":"nightly"}')
        self.assertExit(result, 0)
        self.assertEqual(json.loads(result.stdout), {"code": 200, "msg": "created nightly"})

    def test_go_errors_become_statuses_and_exit_codes(self):
        result = self.call("Arith.Divide", '{"A":1,"B":0}')
        self.assertExit(result, 64 + 2)  # Unknown: Go errors carry only text
        self.assertIn("divide by zero", result.stderr)
        result = self.call("Job.CreateJob", '{"name":"forbidden"}')
        self.assertExit(result, 64 + 2)
        self.assertIn("job name forbidden is reserved", result.stderr)
        for endpoint, text in [
            ("Arith.Nope", "rpc: can't find method Arith.Nope"),
            ("Nope.X", "rpc: can't find service Nope.X"),
        ]:
            result = self.call(endpoint, "{}")
            self.assertExit(result, 64 + 12)  # Unimplemented
            self.assertIn(text, result.stderr)

    def test_timeout_and_retries(self):
        started = time.monotonic()
        result = self.call(
            "Job.Sleep", '{"ms":2000}', "--timeout", "200ms", "--retries", "1",
            "--backoff", "none", "-v",
        )
        elapsed = time.monotonic() - started
        self.assertExit(result, 64 + 4)  # DeadlineExceeded
        self.assertIn("attempt 2/2", result.stderr)
        self.assertLess(elapsed, 1.5, "two 200 ms attempts must not wait for the 2 s sleep")

    def test_batch_over_one_connection_in_input_order(self):
        lines = "".join(json.dumps({"A": n, "B": 3}) + "\n" for n in range(1000))
        lines += '{"A":1,"B":0}\n'
        result = self.call("Arith.Divide", "--batch", stdin=lines)
        self.assertExit(result, 64 + 2)
        replies = [json.loads(line) for line in result.stdout.splitlines()]
        self.assertEqual(len(replies), 1001)
        for n, reply in enumerate(replies[:1000]):
            self.assertEqual(reply, {"Quo": n // 3, "Rem": n % 3})
        self.assertEqual(replies[1000]["error"]["message"], "divide by zero")

    def test_another_scheme_is_told_the_protocol_go_speaks(self):
        """grpc:// or a bare (mucp) address to Go's JSON-RPC server: Go hangs up, and the
        error names what the server speaks, in one line."""
        address = self.server.address
        for target in (f"grpc://{address}", address):
            result = rmicro("call", "--address", target, "Arith.Multiply", '{"A":7,"B":8}')
            self.assertExit(result, 1)
            self.assertIn(
                f"the server speaks Go net/rpc JSON-RPC: use jsonrpc://{address}", result.stderr
            )
            self.assertEqual(len(result.stderr.strip().splitlines()), 1, result.stderr)

    def test_schema_checks_data_before_sending(self):
        proto = os.path.join(ROOT, "interop", "jsonrpc", "arith.proto")
        result = self.call("--proto", proto, "Arith.Divide", '{"a":"x"}')
        self.assertExit(result, 1)
        self.assertIn("does not fit arith.Args", result.stderr)
        # Go's reply {"Quo":..,"Rem":..} is read through the schema (Go names, any case).
        result = self.call("--proto", proto, "Arith.Divide", '{"a":17,"b":5}')
        self.assertExit(result, 0)
        self.assertEqual(json.loads(result.stdout), {"quo": 3, "rem": 2})


class GoClientCallsRmicro(PeerTest):
    def go_client(self, *args):
        client = subprocess.run(
            [require(os.path.join(GO_BIN, "jsonrpc_client")), *args],
            capture_output=True, text=True, timeout=120,
        )
        print(client.stdout, end="")
        self.assertEqual(client.returncode, 0, client.stdout + client.stderr)
        self.assertNotIn("FAIL", client.stdout)

    def test_raw_expectations_hold_for_go_itself(self):
        """The raw-wire checks the Go client makes of rmicro, made of Go's own server."""
        server = Process([require(os.path.join(GO_BIN, "arith_server"))])
        try:
            self.go_client("-addr", server.address, "-against", "go")
        finally:
            server.stop()

    def test_go_jsonrpc_client(self):
        server = Process(
            [
                require(RMICRO), "serve",
                "--proto", "interop/jsonrpc/arith.proto",
                "--handlers", "interop/jsonrpc/arith.handlers.json",
                "--address", "127.0.0.1:0",
            ],
            stream="stderr",
        )
        try:
            self.go_client("-addr", server.address)
        finally:
            server.stop()


if __name__ == "__main__":
    unittest.main()
