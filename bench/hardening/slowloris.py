#!/usr/bin/env python3
"""Reliability figure: N connections each send the start of a request head, then one
more byte every GAP seconds for DURATION seconds; prints how many the server closed and
when (seconds after connecting). Without a header timeout every connection stays open.

usage: slowloris.py HOST:PORT N GAP DURATION
"""
import selectors
import socket
import sys
import time

address, count, gap, duration = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
host, port = address.rsplit(":", 1)
selector = selectors.DefaultSelector()
started = time.time()
connections = []
for _ in range(count):
    connection = socket.create_connection((host, int(port)))
    connection.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    connection.setblocking(False)
    connections.append(connection)
    selector.register(connection, selectors.EVENT_READ)
closed = {}
next_drip = time.time() + gap
while time.time() - started < duration:
    for key, _ in selector.select(timeout=0.2):
        try:
            data = key.fileobj.recv(4096)
        except OSError:
            data = b""
        if not data:
            closed[key.fileobj] = time.time() - started
            selector.unregister(key.fileobj)
    if time.time() >= next_drip:
        for connection in connections:
            if connection not in closed:
                try:
                    connection.send(b"a")
                except OSError:
                    pass
        next_drip += gap
times = sorted(closed.values())
span = f"; closed between {times[0]:.1f}s and {times[-1]:.1f}s" if times else ""
print(f"{count} connections, 1 byte every {gap}s for {duration}s: {len(closed)} closed by "
      f"the server, {count - len(closed)} still open{span}")
