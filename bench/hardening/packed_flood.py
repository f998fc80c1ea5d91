#!/usr/bin/env python3
"""Reliability figure: CALLERS mucp callers at once each send `nums.Nums` whose packed
repeated int32 field holds MIB mebibytes of one-byte numbers (bench/hardening/nums.proto;
serve it with bench/hardening/nums.json so that Adder.Add holds each request 300 ms and
Adder.Run runs an exec handler), then prints the replies seen, the time taken and the
server's RSS before and at peak (VmHWM, which the server's start-up already set).
Decoded, each element is a 56-byte value: without a bound the server holds 56 × MIB ×
CALLERS mebibytes.

usage: packed_flood.py HOST:PORT SERVER_PID CALLERS MIB [Adder.Add|Adder.Run]
"""
import collections
import socket
import sys
import threading
import time

address, pid = sys.argv[1], sys.argv[2]
callers, mib = int(sys.argv[3]), float(sys.argv[4])
endpoint = sys.argv[5] if len(sys.argv) > 5 else "Adder.Add"
host, port = address.rsplit(":", 1)


def varint(value):
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def peak_kib():
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    sys.exit(f"no VmHWM for process {pid}")


count = int(mib * 1024 * 1024) - 16
body = b"\x0a" + varint(count) + b"\x01" * count
request = (
    "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/protobuf\r\n"
    f"Micro-Service: nums\r\nMicro-Endpoint: {endpoint}\r\n"
    f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
).encode() + body
outcomes = collections.Counter()


def call():
    with socket.create_connection((host, int(port))) as connection:
        connection.sendall(request)
        reply = b""
        while b"\r\n\r\n" not in reply:
            chunk = connection.recv(65536)
            if not chunk:
                break
            reply += chunk
    head = reply.split(b"\r\n\r\n")[0].decode(errors="replace")
    error = [line for line in head.split("\r\n") if line.startswith("Micro-Error:")]
    outcomes[error[0][:120] if error else head.split("\r\n")[0]] += 1


before = peak_kib()
started = time.time()
threads = [threading.Thread(target=call) for _ in range(callers)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
elapsed = time.time() - started
for outcome, times in outcomes.items():
    print(f"{times} × {outcome}")
after = peak_kib()
print(f"{callers} × {mib} MiB packed to {endpoint}: {elapsed:.2f} s; server peak RSS "
      f"{before / 1024:.1f} MiB before, {after / 1024:.1f} MiB after (+{(after - before) / 1024:.0f} MiB)")
