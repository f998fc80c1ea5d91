#!/usr/bin/env bash
# Prints rmicro's performance figures (README "Performance"). Installs hyperfine and wrk
# from Debian when missing. Loopback only; every load is bounded in time.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v hyperfine >/dev/null || ! command -v wrk >/dev/null; then
  apt-get update -qq && apt-get install -y -qq hyperfine wrk >/dev/null
fi
cargo build --release --quiet
bin="$PWD/target/release/rmicro"
port=18290
addr="127.0.0.1:$port"

"$bin" serve --proto proto-samples/job.proto --handlers proto-samples/job.handlers.json --address "$addr" 2>/dev/null &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
"$bin" health --address "$addr" --wait 5s >/dev/null
echo "idle server RSS: $(( $(ps -o rss= -p $server) / 1024 )) MB"

echo "--- one-shot rmicro call (process start to exit)"
hyperfine -N --warmup 20 --runs 300 --export-json /tmp/rmicro-call.json \
  "$bin call Job.CreateJob '{\"name\":\"x\"}' --address $addr" \
  "$bin call Job.CreateJob '{\"name\":\"x\"}' --address $addr --proto proto-samples/job.proto" >/dev/null
python3 - <<'PY'
import json
for result in json.load(open("/tmp/rmicro-call.json"))["results"]:
    schema = "local .proto" if "--proto" in result["command"] else "schema from Debug.Endpoints"
    print(f"call ({schema}): median {result['median'] * 1000:.2f} ms, mean {result['mean'] * 1000:.2f} ms")
PY

echo "--- mucp stub-endpoint throughput (wrk, 16 connections, 10 s)"
wrk -t2 -c16 -d10s -s bench/mucp.lua "http://$addr/" | grep -E "Requests/sec|Latency"
echo "server RSS after load: $(( $(ps -o rss= -p $server) / 1024 )) MB"
kill $server; wait $server 2>/dev/null || true

echo "--- serve start-up"
python3 bench/startup.py "$bin" 30
