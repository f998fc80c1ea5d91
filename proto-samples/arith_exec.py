#!/usr/bin/env python3
"""The exec handler of the Arith sample (arith.handlers.json): Multiply and Divide as Go's
net/rpc example computes them."""
import json
import os
import sys

args = json.load(sys.stdin)
a, b = int(args.get("a", 0)), int(args.get("b", 0))
if os.environ["RMICRO_ENDPOINT"] == "Arith.Multiply":
    print(json.dumps(a * b))
elif b == 0:
    print(json.dumps({"error": {"status": "INVALID_ARGUMENT", "detail": "divide by zero"}}))
    sys.exit(1)
else:
    quo = abs(a) // abs(b) * (1 if (a >= 0) == (b >= 0) else -1)  # Go truncates toward zero
    print(json.dumps({"quo": quo, "rem": a - quo * b}))
