#!/usr/bin/env python3
"""The exec handler of the Echo sample (echo.handlers.json).

Echo.Say: one request on stdin, one reply on stdout. Echo.Chat (a stream): each request
is a line on stdin, answered at once with a line (flushed, so the caller sees it before
sending the next).
"""
import json
import os
import sys

if os.environ["RMICRO_ENDPOINT"] == "Echo.Say":
    request = json.load(sys.stdin)
    print(json.dumps({"text": "echo: " + request.get("text", "")}))
    sys.exit(0)
for index, line in enumerate(sys.stdin):
    text = json.loads(line).get("text", "")
    print(json.dumps({"text": "echo: " + text, "index": index}), flush=True)
