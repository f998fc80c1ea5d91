#!/usr/bin/env python3
"""An exec handler for Job.GetJob (see job.handlers.json).

Reads the request (a job.Task as JSON) on stdin and prints a job.Response on stdout.
Special names exercise the exec contract: "missing" → a NOT_FOUND error object,
"crash" → a non-zero exit with a message on stderr, "hang" → never answers,
"garbage" → output that is not JSON.
"""
import json
import os
import sys
import time

task = json.load(sys.stdin)
name = task.get("name", "")
if name == "missing":
    print(json.dumps({"error": {"code": 404, "detail": f"job {task.get('id', '')} not found"}}))
    sys.exit(1)
if name == "crash":
    print("Traceback: simulated failure in job lookup", file=sys.stderr)
    sys.exit(3)
if name == "hang":
    time.sleep(60)
if name == "garbage":
    print("this is not json")
    sys.exit(0)
metadata = json.loads(os.environ.get("RMICRO_METADATA", "{}"))
print(json.dumps({
    "code": 200,
    "msg": f"{os.environ['RMICRO_ENDPOINT']} by exec (tenant {metadata.get('tenant', 'none')})",
    "tasks": [{"id": task.get("id", ""), "name": name or "unnamed", "cronexpr": "*/5 * * * *"}],
}))
