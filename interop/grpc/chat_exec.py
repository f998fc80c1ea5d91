#!/usr/bin/env python3
"""Exec handler for Echo.Chat (bidirectional; see echo.handlers.json).

Answers each request line at once with {"text": "echo: <text>", "index": i}, flushing so
the client sees the reply before it sends the next message. A request "fail:CODE" ends
the call with that status, the message "failing as asked", and a non-zero exit.
"""
import json
import sys

for i, line in enumerate(sys.stdin):
    text = json.loads(line).get("text", "")
    if text.startswith("fail:"):
        print(json.dumps({"error": {"status": text[len("fail:"):], "detail": "failing as asked"}}), flush=True)
        sys.exit(1)
    print(json.dumps({"text": f"echo: {text}", "index": i}), flush=True)
