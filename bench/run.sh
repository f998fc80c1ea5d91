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

echo "--- name resolution: the same call by address, by --service, and with no target (embedded registry)"
registry_dir=$(mktemp -d)
"$bin" serve --proto proto-samples/job.proto --handlers proto-samples/job.handlers.json --address 127.0.0.1:18293 --registry "file://$registry_dir" 2>/dev/null &
named=$!
"$bin" health --address 127.0.0.1:18293 --wait 5s >/dev/null
hyperfine -N --warmup 20 --runs 300 --export-json /tmp/rmicro-named.json \
  "$bin call Job.CreateJob {} --address 127.0.0.1:18293" \
  "$bin call Job.CreateJob {} --service job --registry file://$registry_dir" \
  "$bin call Job.CreateJob {} --registry file://$registry_dir" >/dev/null
python3 - <<'PY'
import json
results = json.load(open("/tmp/rmicro-named.json"))["results"]
base = results[0]["median"]
for result, label in zip(results, ["--address", "--service (embedded registry)", "no target (lookup by endpoint)"]):
    print(f"call {label}: median {result['median'] * 1000:.2f} ms (+{(result['median'] - base) * 1000:.2f} ms)")
PY
kill $named; wait $named 2>/dev/null || true; rm -rf "$registry_dir"

echo "--- name resolution with etcd on loopback (Debian's etcd-server, started by interop/etcd/start.sh)"
etcd_pid=$(bash interop/etcd/start.sh 23795 2>/dev/null)
"$bin" serve --proto proto-samples/job.proto --handlers proto-samples/job.handlers.json --address 127.0.0.1:18294 --registry etcd://127.0.0.1:23795 2>/dev/null &
named=$!
"$bin" health --address 127.0.0.1:18294 --wait 5s >/dev/null
hyperfine -N --warmup 20 --runs 300 --export-json /tmp/rmicro-etcd.json \
  "$bin call Job.CreateJob {} --address 127.0.0.1:18294" \
  "$bin call Job.CreateJob {} --service job --registry etcd://127.0.0.1:23795" >/dev/null
python3 - <<'PY'
import json
base, named = json.load(open("/tmp/rmicro-etcd.json"))["results"]
print(f"call --address: median {base['median'] * 1000:.2f} ms; --service via etcd: {named['median'] * 1000:.2f} ms (+{(named['median'] - base['median']) * 1000:.2f} ms)")
PY
kill $named; wait $named 2>/dev/null || true
bash interop/etcd/stop.sh "$etcd_pid"

echo "--- mucp stub-endpoint throughput (wrk, 16 connections, 10 s)"
wrk -t2 -c16 -d10s -s bench/mucp.lua "http://$addr/" | grep -E "Requests/sec|Latency"
echo "server RSS after load: $(( $(ps -o rss= -p $server) / 1024 )) MB"
kill $server; wait $server 2>/dev/null || true

echo "--- serve start-up"
python3 bench/startup.py "$bin" 30

echo "--- JSON-RPC throughput: rmicro serve (stub) vs Go's net/rpc jsonrpc server, same load client"
bash interop/go/build.sh target/go 2>/dev/null
load() { target/go/jsonrpc_load -addr "$1" -c 16 -p 8 -d 10s -method Arith.Multiply -params '{"A":7,"B":8}'; }
target/go/arith_server -addr 127.0.0.1:18291 >/dev/null &
go_server=$!
sleep 0.3
echo "Go net/rpc jsonrpc: $(load 127.0.0.1:18291)"
kill $go_server; wait $go_server 2>/dev/null || true
"$bin" serve --proto interop/jsonrpc/arith.proto --handlers bench/arith.handlers.json --address 127.0.0.1:18292 2>/dev/null &
server=$!
"$bin" health --address 127.0.0.1:18292 --wait 5s >/dev/null
echo "rmicro serve:       $(load 127.0.0.1:18292)"
echo "rmicro serve RSS after load: $(( $(ps -o rss= -p $server) / 1024 )) MB"

echo "--- 10,000 calls: one rmicro call --batch vs 10,000 rmicro call processes (JSON-RPC)"
python3 -c 'import json
for n in range(10000): print(json.dumps({"A": n, "B": 2}))' >/tmp/rmicro-batch.ndjson
start=$(date +%s%N)
"$bin" call --address jsonrpc://127.0.0.1:18292 Arith.Multiply --batch </tmp/rmicro-batch.ndjson | wc -l
batch_ns=$(( $(date +%s%N) - start ))
start=$(date +%s%N)
while read -r line; do
  "$bin" call --address jsonrpc://127.0.0.1:18292 Arith.Multiply "$line" >/dev/null
done </tmp/rmicro-batch.ndjson
procs_ns=$(( $(date +%s%N) - start ))
python3 -c "b, p = $batch_ns / 1e9, $procs_ns / 1e9; print(f'--batch: {b:.2f} s; 10,000 processes: {p:.1f} s; ratio {p / b:.0f}x')"
kill $server; wait $server 2>/dev/null || true

echo "--- gRPC: rmicro serve vs grpc-go under h2load, rmicro call vs grpcurl one-shot (bench/grpc.sh)"
bash bench/grpc.sh
