#!/usr/bin/env python3
"""The handler both sides of bench/workers.sh run: job.Task in, job.Response out
(`hello NAME`, the length of the name). With --worker it is a worker process, one NDJSON
call a line; without, an exec handler, one process per request."""
import json
import sys


def answer(task):
    name = task.get("name", "")
    return {"msg": "hello " + name, "code": len(name)}


if "--worker" in sys.argv:
    for line in sys.stdin:
        call = json.loads(line)
        sys.stdout.write(json.dumps({"id": call["id"], "reply": answer(call["request"])}) + "\n")
        sys.stdout.flush()
else:
    print(json.dumps(answer(json.load(sys.stdin))))
