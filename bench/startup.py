#!/usr/bin/env python3
"""Times `rmicro serve` from process start until Debug.Health answers over mucp.

Usage: startup.py RMICRO_BINARY [RUNS]. Prints the median and max in milliseconds.
"""
import socket
import statistics
import subprocess
import sys
import time

HEALTH = (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
          b"Micro-Endpoint: Debug.Health\r\nContent-Length: 2\r\n\r\n{}")


def healthy(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(HEALTH)
            return b'{"status":"ok"}' in sock.recv(4096)
    except OSError:
        return False


def once(binary, port):
    started = time.perf_counter()
    server = subprocess.Popen(
        [binary, "serve", "--proto", "proto-samples/job.proto",
         "--handlers", "proto-samples/job.handlers.json", "--address", f"127.0.0.1:{port}"],
        stderr=subprocess.DEVNULL)
    try:
        while not healthy(port):
            if server.poll() is not None:  # a port in use, a bad flag: a failure, not a figure
                raise SystemExit(f"rmicro serve on port {port} exited with {server.returncode} before Debug.Health answered")
            if time.perf_counter() - started > 5:
                raise SystemExit("rmicro serve did not become healthy within 5 s")
        return (time.perf_counter() - started) * 1000
    finally:
        server.terminate()
        server.wait()


def main():
    binary = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    times = [once(binary, 18400 + i % 50) for i in range(runs)]
    print(f"serve start-up until Debug.Health answers: median {statistics.median(times):.1f} ms, "
          f"max {max(times):.1f} ms over {runs} runs")


main()
