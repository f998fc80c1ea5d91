#!/usr/bin/env python3
"""Exec handler for Arith.Multiply, Divide, Greet and Square (see arith.handlers.json).
Greet and Square take and return wrappers, which travel as bare values."""
import json
import os
import sys

args = json.load(sys.stdin)
endpoint = os.environ["RMICRO_ENDPOINT"]
if endpoint == "Arith.Greet":
    print(json.dumps("hello, " + args))
    sys.exit(0)
if endpoint == "Arith.Square":
    print(json.dumps(int(args) ** 2))
    sys.exit(0)
a, b = int(args.get("a", 0)), int(args.get("b", 0))
if os.environ["RMICRO_ENDPOINT"] == "Arith.Multiply":
    print(json.dumps({"value": a * b}))
elif b == 0:
    print(json.dumps({"error": {"status": "INVALID_ARGUMENT", "detail": "divide by zero"}}))
    sys.exit(1)
else:
    # Go's integer division truncates toward zero.
    quo = abs(a) // abs(b) * (1 if (a >= 0) == (b >= 0) else -1)
    print(json.dumps({"quo": quo, "rem": a - quo * b}))
