#!/usr/bin/env python3
"""Exec handler for Echo.Collect (client streaming; see echo.handlers.json).

rmicro writes each request message as one JSON line and closes stdin when the client's
stream ends; the single reply is every text joined with "," and the number of requests.
"""
import json
import sys

texts = [json.loads(line).get("text", "") for line in sys.stdin if line.strip()]
print(json.dumps({"text": ",".join(texts), "index": len(texts)}))
