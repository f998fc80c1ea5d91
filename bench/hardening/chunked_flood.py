#!/usr/bin/env python3
"""Reliability figure: one connection sends a chunked mucp request whose trailer section
(`trailers`) or first chunk extension (`extension`) grows to MIB mebibytes, then prints
how far it got, the server's first reply bytes, its RSS (ps -o rss), peak RSS (VmHWM)
and CPU time. A bounded server refuses early (431 / 400); an unbounded one reads it all.

usage: chunked_flood.py HOST:PORT SERVER_PID trailers|extension MIB
"""
import socket
import subprocess
import sys
import time

address, pid, kind, mib = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
host, port = address.rsplit(":", 1)
connection = socket.create_connection((host, int(port)))
connection.sendall(
    b"POST / HTTP/1.1\r\nHost: x\r\nMicro-Endpoint: Debug.Health\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n"
)
if kind == "trailers":
    connection.sendall(b"0\r\n")
    piece = (b"X-Trailer: " + b"a" * 1010 + b"\r\n") * 1024  # 1 MiB of trailer fields
elif kind == "extension":
    connection.sendall(b"1;")
    piece = b"e" * (1 << 20)  # 1 MiB more of one extension
else:
    sys.exit(f"unknown kind {kind!r}: trailers or extension")
sent, started, stopped = 0, time.time(), "sent everything"
try:
    for _ in range(mib):
        connection.sendall(piece)
        sent += 1
except OSError as error:
    stopped = f"the server closed: {error}"
connection.settimeout(5)
try:
    reply = connection.recv(100)
except OSError as error:
    reply = f"no reply: {error}".encode()


def ps(field):
    return subprocess.run(["ps", "-o", f"{field}=", "-p", pid], capture_output=True,
                          text=True, check=True).stdout.strip()


peak = next(line.split(":")[1].strip() for line in open(f"/proc/{pid}/status")
            if line.startswith("VmHWM"))
print(f"{kind}: {sent} MiB sent in {time.time() - started:.1f}s ({stopped}); "
      f"reply {reply[:50]!r}; RSS {ps('rss')} kB, peak {peak}, CPU {ps('cputime')}")
