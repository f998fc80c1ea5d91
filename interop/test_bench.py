"""`rmicro bench` against servers someone else wrote: Go's net/rpc JSON-RPC server
(interop/go/arith_server, Go's standard library) and grpc-go's helloworld Greeter
(bench/go/grpc_greeter, built from Debian's golang-google-grpc-dev by
bench/go/build_grpc.sh): exact counts for -n, -z and --rps within 10%, the JSON report,
--assert holding (exit 0) and failing (exit 99), and errors counted when the server
fails half the calls (Go's Arith.Divide by zero).
"""
import json
import os
import tempfile
import time
import unittest

from peers import GO_BIN, PeerTest, Process, require, rmicro


class BenchTest(PeerTest):
    target = None

    def bench(self, *args):
        return rmicro("bench", "-a", self.target, *args, timeout=120)

    def report(self, *args):
        result = self.bench(*args, "-o", "json")
        self.assertExit(result, 0)
        return json.loads(result.stdout)

    def assertWithin(self, value, expected, share=0.1):
        self.assertLessEqual(abs(value - expected), expected * share, f"{value} vs {expected}")


class BenchGoNetRpc(BenchTest):
    @classmethod
    def setUpClass(cls):
        cls.server = Process([require(os.path.join(GO_BIN, "arith_server"))])
        cls.target = f"jsonrpc://{cls.server.address}"

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_exact_counts_over_connections(self):
        report = self.report("Arith.Multiply", '{"A":7,"B":8}', "-n", "500", "-c", "16", "--connections", "4", "--warmup", "20")
        self.assertEqual(report["calls"], 500)
        self.assertEqual(report["ok"], 500)
        self.assertEqual(report["statuses"], {"OK": 500})
        self.assertEqual(report["protocol"], "jsonrpc")
        self.assertEqual(report["connections"], 4)
        self.assertEqual(report["warmup_calls"], 20)
        self.assertEqual(sum(bucket["count"] for bucket in report["histogram"]), 500)
        latency = report["latency_ms"]
        self.assertLessEqual(latency["min"], latency["p50"])
        self.assertLessEqual(latency["p50"], latency["p99"])
        self.assertLessEqual(latency["p99"], latency["max"])

    def test_duration_and_rate(self):
        started = time.monotonic()
        report = self.report("Arith.Multiply", '{"A":7,"B":8}', "-z", "2s", "--rps", "150")
        self.assertWithin(report["duration_s"], 2.0)
        self.assertWithin(report["calls"], 300)
        self.assertWithin(report["rps"], 150)
        self.assertLess(time.monotonic() - started, 4.0)

    def test_errors_counted_when_half_the_calls_fail(self):
        with tempfile.NamedTemporaryFile("w", suffix=".ndjson") as data:
            data.write('{"A":7,"B":2}\n{"A":1,"B":0}\n')
            data.flush()
            report = self.report("Arith.Divide", "-d", f"@{data.name}", "-n", "200", "-c", "8")
            self.assertEqual(report["calls"], 200)
            self.assertEqual(report["errors"], 100)
            self.assertEqual(report["error_rate"], 0.5)
            self.assertEqual(report["statuses"], {"OK": 100, "UNKNOWN": 100})
            [kind] = report["error_kinds"]
            self.assertEqual((kind["kind"], kind["count"]), ("UNKNOWN", 100))
            self.assertIn("divide by zero", kind["first"])
            failed = self.bench("Arith.Divide", "-d", f"@{data.name}", "-n", "50", "--assert", "errors=0")
            self.assertExit(failed, 99)
            self.assertIn("errors=0 (was 25)", failed.stderr)

    def test_assertions_hold_and_fail(self):
        held = self.bench("Arith.Multiply", '{"A":7,"B":8}', "-n", "100",
                          "--assert", "p99<5s", "--assert", "rps>1", "--assert", "errors=0",
                          "--assert", "error_rate<0.1%", "--assert", "mean<5s")
        self.assertExit(held, 0)
        for assertion in ["p99<1ns", "rps>=100000000", "mean<1ns", "calls=1"]:
            failed = self.bench("Arith.Multiply", '{"A":7,"B":8}', "-n", "20", "--assert", assertion)
            self.assertExit(failed, 99)
            self.assertIn(assertion, failed.stderr)


class BenchGrpcGo(BenchTest):
    @classmethod
    def setUpClass(cls):
        cls.server = Process([require(os.path.join(GO_BIN, "grpc_greeter")), "-addr", "127.0.0.1:0"])
        cls.target = f"grpc://{cls.server.address}"

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_exact_counts_by_reflection(self):
        report = self.report("helloworld.Greeter/SayHello", '{"name":"x"}', "-n", "1000", "-c", "32", "--connections", "4")
        self.assertEqual(report["calls"], 1000)
        self.assertEqual(report["statuses"], {"OK": 1000})
        self.assertEqual(report["messages"]["received"], 1000)
        self.assertEqual(report["endpoint"], "Greeter.SayHello")

    def test_duration_and_rate(self):
        report = self.report("helloworld.Greeter/SayHello", "{}", "-z", "2s", "--rps", "200", "-c", "8")
        self.assertWithin(report["duration_s"], 2.0)
        self.assertWithin(report["calls"], 400)
        self.assertWithin(report["rps"], 200)

    def test_assertions_hold_and_fail(self):
        held = self.bench("helloworld.Greeter/SayHello", "{}", "-n", "200", "--assert", "p99.9<5s", "--assert", "errors=0")
        self.assertExit(held, 0)
        failed = self.bench("helloworld.Greeter/SayHello", "{}", "-n", "200", "--assert", "max<1ns")
        self.assertExit(failed, 99)
        self.assertIn("max<1ns", failed.stderr)

    def test_an_unknown_method_is_refused_before_any_call(self):
        failed = self.bench("helloworld.Greeter/SayGoodbye", "{}", "-n", "10", "--proto", "bench/grpc/helloworld.proto")
        self.assertExit(failed, 1)
        self.assertEqual(failed.stdout, "")
        self.assertIn("SayGoodbye", failed.stderr)


if __name__ == "__main__":
    unittest.main()
