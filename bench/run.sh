#!/usr/bin/env bash
# Prints rmicro's performance figures (README "Performance"). Installs hyperfine and wrk
# from Debian when missing. Loopback only; every load is bounded in time. Any measured
# side that fails (a server that does not start, a failed call, load-tool errors or a
# server that counted errors) stops it with "bench: FAILED: …" and exit 1 (bench/lib.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

bash interop/need.sh hyperfine hyperfine
bash interop/need.sh wrk wrk
cargo build --release --quiet
bin="$PWD/target/release/rmicro"
port=18290
addr="127.0.0.1:$port"
servers=() etcd_pid=
trap 'kill "${servers[@]}" 2>/dev/null || true; [ -z "$etcd_pid" ] || bash interop/etcd/stop.sh "$etcd_pid"' EXIT

# serve NAME ADDR ARGS...: rmicro serve in the background, healthy within 5 s; sets server.
serve() {
  local name=$1 at=$2
  shift 2
  "$bin" serve "$@" --address "$at" 2>/dev/null &
  server=$!
  servers+=("$server")
  "$bin" health --address "$at" --wait 5s >/dev/null || die "$name: rmicro serve on $at did not become healthy"
}
# hyperfine_checked NAME ARGS...: hyperfine stops at a command that exits non-zero.
hyperfine_checked() {
  local name=$1
  shift
  hyperfine "$@" >/dev/null || die "$name: a timed rmicro call failed (hyperfine above)"
}

serve "rmicro serve (job)" "$addr" --proto proto-samples/job.proto --handlers proto-samples/job.handlers.json
main_server=$server
echo "idle server RSS: $(( $(ps -o rss= -p $main_server) / 1024 )) MB"

echo "--- one-shot rmicro call (process start to exit)"
hyperfine_checked "one-shot call" -N --warmup 20 --runs 300 --export-json /tmp/rmicro-call.json \
  "$bin call Job.CreateJob '{\"name\":\"x\"}' --address $addr" \
  "$bin call Job.CreateJob '{\"name\":\"x\"}' --address $addr --proto proto-samples/job.proto"
python3 - <<'PY'
import json
for result in json.load(open("/tmp/rmicro-call.json"))["results"]:
    schema = "local .proto" if "--proto" in result["command"] else "schema from Debug.Endpoints"
    print(f"call ({schema}): median {result['median'] * 1000:.2f} ms, mean {result['mean'] * 1000:.2f} ms")
PY

echo "--- name resolution: the same call by address, by --service, and with no target (embedded registry)"
registry_dir=$(mktemp -d)
serve "rmicro serve (embedded registry)" 127.0.0.1:18293 --proto proto-samples/job.proto \
  --handlers proto-samples/job.handlers.json --registry "file://$registry_dir"
named=$server
hyperfine_checked "call by name (embedded registry)" -N --warmup 20 --runs 300 --export-json /tmp/rmicro-named.json \
  "$bin call Job.CreateJob {} --address 127.0.0.1:18293" \
  "$bin call Job.CreateJob {} --service job --registry file://$registry_dir" \
  "$bin call Job.CreateJob {} --registry file://$registry_dir"
python3 - <<'PY'
import json
results = json.load(open("/tmp/rmicro-named.json"))["results"]
base = results[0]["median"]
for result, label in zip(results, ["--address", "--service (embedded registry)", "no target (lookup by endpoint)"]):
    print(f"call {label}: median {result['median'] * 1000:.2f} ms (+{(result['median'] - base) * 1000:.2f} ms)")
PY
kill $named; wait $named 2>/dev/null || true; rm -rf "$registry_dir"

echo "--- name resolution with etcd on loopback (Debian's etcd-server, started by interop/etcd/start.sh)"
etcd_pid=$(bash interop/etcd/start.sh 23795 2>/tmp/rmicro-etcd.err) || die "etcd did not start: $(tail -n 5 /tmp/rmicro-etcd.err)"
serve "rmicro serve (etcd registry)" 127.0.0.1:18294 --proto proto-samples/job.proto \
  --handlers proto-samples/job.handlers.json --registry etcd://127.0.0.1:23795
named=$server
hyperfine_checked "call by name (etcd)" -N --warmup 20 --runs 300 --export-json /tmp/rmicro-etcd.json \
  "$bin call Job.CreateJob {} --address 127.0.0.1:18294" \
  "$bin call Job.CreateJob {} --service job --registry etcd://127.0.0.1:23795"
python3 - <<'PY'
import json
base, named = json.load(open("/tmp/rmicro-etcd.json"))["results"]
print(f"call --address: median {base['median'] * 1000:.2f} ms; --service via etcd: {named['median'] * 1000:.2f} ms (+{(named['median'] - base['median']) * 1000:.2f} ms)")
PY
kill $named; wait $named 2>/dev/null || true
bash interop/etcd/stop.sh "$etcd_pid"
etcd_pid=

echo "--- mucp stub-endpoint throughput (wrk, 16 connections, 10 s)"
wrk_checked "mucp throughput" -t2 -c16 -d10s -s bench/mucp.lua "http://$addr/"
served_cleanly "mucp throughput" "$bin" "$addr" Job.CreateJob "$wrk_requests"
echo "server RSS after load: $(( $(ps -o rss= -p $main_server) / 1024 )) MB"
kill $main_server; wait $main_server 2>/dev/null || true

echo "--- serve start-up"
python3 bench/startup.py "$bin" 30 || die "serve start-up (bench/startup.py above)"

echo "--- JSON-RPC throughput: rmicro serve (stub) vs Go's net/rpc jsonrpc server, same load client"
bash interop/go/build.sh target/go 2>/dev/null || die "the Go peers did not build (interop/go/build.sh)"
load() { jsonrpc_load_checked "$1" -addr "$2" -c 16 -p 8 -d 10s -method Arith.Multiply -params '{"A":7,"B":8}'; }
target/go/arith_server -addr 127.0.0.1:18291 >/tmp/rmicro-arith.out 2>&1 &
go_server=$!
servers+=("$go_server")
wait_listening "Go net/rpc jsonrpc server" /tmp/rmicro-arith.out "$go_server"
load "Go net/rpc jsonrpc" 127.0.0.1:18291
kill $go_server; wait $go_server 2>/dev/null || true
serve "rmicro serve (JSON-RPC)" 127.0.0.1:18292 --proto interop/jsonrpc/arith.proto --handlers bench/arith.handlers.json
load "rmicro serve" 127.0.0.1:18292
served_cleanly "rmicro serve (JSON-RPC)" "$bin" 127.0.0.1:18292 Arith.Multiply "$load_calls"
echo "rmicro serve RSS after load: $(( $(ps -o rss= -p $server) / 1024 )) MB"

echo "--- 10,000 calls: one rmicro call --batch vs 10,000 rmicro call processes (JSON-RPC)"
python3 -c 'import json
for n in range(10000): print(json.dumps({"A": n, "B": 2}))' >/tmp/rmicro-batch.ndjson
start=$(date +%s%N)
replies=$("$bin" call --address jsonrpc://127.0.0.1:18292 Arith.Multiply --batch </tmp/rmicro-batch.ndjson | wc -l) ||
  die "rmicro call --batch: a call failed (its errors above)"
batch_ns=$(( $(date +%s%N) - start ))
[ "$replies" = 10000 ] || die "rmicro call --batch: $replies replies to 10000 requests"
echo "$replies"
start=$(date +%s%N)
while read -r line; do
  "$bin" call --address jsonrpc://127.0.0.1:18292 Arith.Multiply "$line" >/dev/null || die "rmicro call Arith.Multiply $line failed"
done </tmp/rmicro-batch.ndjson
procs_ns=$(( $(date +%s%N) - start ))
python3 -c "b, p = $batch_ns / 1e9, $procs_ns / 1e9; print(f'--batch: {b:.2f} s; 10,000 processes: {p:.1f} s; ratio {p / b:.0f}x')"
kill $server; wait $server 2>/dev/null || true

echo "--- gRPC: rmicro serve vs grpc-go under h2load, rmicro call vs grpcurl one-shot (bench/grpc.sh)"
bash bench/grpc.sh || die "the gRPC figures (bench/grpc.sh above)"
echo "--- gRPC through rmicro serve --proxy vs direct to grpc-go (bench/proxy.sh)"
bash bench/proxy.sh || die "the proxy figures (bench/proxy.sh above)"
