#!/usr/bin/env bash
# rmicro bench against the load tools of each protocol, on the same server in the same run
# (README "Performance", the `rmicro bench` rows):
#   gRPC     grpc-go's helloworld Greeter      h2load -c 16 -m 8     vs rmicro bench --connections 16 -c 128 (and --threads 1)
#   mucp     rmicro serve (Job stub)           wrk -t2 -c 16 (mucp.lua) vs rmicro bench -c 16 (and --threads 1)
#   JSON-RPC Go's net/rpc jsonrpc Arith server bench/go/jsonrpc_load -c 16 -p 8 vs rmicro bench --connections 16 -c 128
# Each pair runs ROUNDS times (default 2), alternating, ${SECONDS_EACH:-10} s a run; for each
# run: calls/s, the CPU the load tool used per call and the CPU the server used per call
# (utime + stime). rmicro bench decodes every reply and counts its errors; the others
# check nothing (bench/lib.sh checks what they report). Installs h2load (nghttp2-client),
# wrk, GNU time and the Go peers (interop/go/build.sh, bench/go/build_grpc.sh: Debian's
# golang-go and golang-google-grpc-dev) when missing. Ports 18470-18472.
# Another load on the machine disturbs these figures: rerun when a pair looks odd.
# Usage: bash bench/load.sh [grpc] [mucp] [jsonrpc] — the pairs named (default: all three).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

pairs=${*:-grpc mucp jsonrpc}
for pair in $pairs; do
  case $pair in
  grpc | mucp | jsonrpc) ;;
  *) die "usage: bash bench/load.sh [grpc] [mucp] [jsonrpc] (not $pair)" ;;
  esac
done
wants() { [[ " $pairs " == *" $1 "* ]]; }

bash interop/need.sh /usr/bin/time time
if wants grpc; then
  bash interop/need.sh h2load nghttp2-client
  bash bench/go/build_grpc.sh target/go 2>/dev/null || die "grpc-go did not build (bench/go/build_grpc.sh)"
fi
if wants mucp; then bash interop/need.sh wrk wrk; fi
if wants jsonrpc; then
  bash interop/go/build.sh target/go 2>/dev/null || die "the Go peers did not build (interop/go/build.sh)"
fi
cargo build --release --quiet
bin="$PWD/target/release/rmicro"
rounds=${ROUNDS:-2}
seconds=${SECONDS_EACH:-10}
work=$(mktemp -d)
server=
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; } # utime + stime, in clock ticks
hz=$(getconf CLK_TCK)

# measure NAME CALLS_FROM COMMAND...: runs COMMAND under GNU time while the server ($server)
# serves; CALLS_FROM is a function that reads the number of calls from $work/out (and
# fails the run when the tool saw an error). Prints calls/s and the CPU per call of the
# tool and of the server, and the load average (1 min) before the run; appends "NAME rps"
# to $work/figures.
measure() {
  local name=$1 calls_from=$2 ticks start load
  shift 2
  load=$(cut -d' ' -f1 /proc/loadavg)
  ticks=$(cpu_ticks "$server") start=$(date +%s%N)
  /usr/bin/time -f '%U %S' -o "$work/time" "$@" >"$work/out" 2>&1 || die "$name: exited non-zero: $(tail -c 600 "$work/out")"
  local ns=$(($(date +%s%N) - start)) server_ticks=$(($(cpu_ticks "$server") - ticks)) calls
  calls=$("$calls_from" "$name") || exit 1
  read -r user system <"$work/time"
  python3 - "$name" "$calls" "$user" "$system" "$server_ticks" "$hz" "$seconds" "$load" <<'PY' | tee -a "$work/figures"
import sys
name, calls, user, system, ticks, hz, seconds, load = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), float(sys.argv[7]), sys.argv[8]
client = (user + system) / calls * 1e6
served = ticks / hz / calls * 1e6
print(f"{name}: {calls / seconds:.0f} calls/s; CPU per call: load tool {client:.1f} us, server {served:.1f} us (load average {load} before)")
PY
}

# rmicro bench -o json: its calls, failing on any error.
rmicro_calls() {
  python3 - "$1" "$work/out" <<'PY'
import json, sys
name, path = sys.argv[1], sys.argv[2]
text = open(path).read()
try:
    report = json.loads(text)
except ValueError:
    sys.exit(f"bench: FAILED: {name}: no JSON report: {text[-600:]}")
if report["errors"] or not report["calls"]:
    sys.exit(f"bench: FAILED: {name}: {report['errors']} errors of {report['calls']} calls: {report['error_kinds']}")
print(report["calls"])
PY
}
h2load_calls() {
  h2load_result "$work/out" || die "$1: $h2load_error"
  echo "$h2load_done"
}
wrk_calls() {
  if grep -qE '^ *(Socket errors|Non-2xx or 3xx responses):' "$work/out"; then die "$1: $(grep -E 'errors|Non-2xx' "$work/out" | tr -s ' \n' ' ')"; fi
  local done
  done=$(awk '/ requests in / { print $1 }' "$work/out")
  [ -n "$done" ] && [ "$done" != 0 ] || die "$1: wrk completed no request: $(cat "$work/out")"
  echo "$done"
}
jsonrpc_calls() {
  local done errors
  done=$(awk '$1 == "calls/s" { print $4 }' "$work/out")
  errors=$(awk '$1 == "calls/s" { print $6 }' "$work/out")
  [ -n "$done" ] && [ "$done" != 0 ] && [ "$errors" = 0 ] || die "$1: jsonrpc_load: $(tr '\n' ' ' <"$work/out")"
  echo "$done"
}

# start NAME COMMAND...: the server, listening within 5 s (its "listening on" line).
start() {
  local name=$1
  shift
  "$@" >"$work/server.out" 2>&1 &
  server=$!
  wait_listening "$name" "$work/server.out" "$server"
}
stop() { kill "$server"; wait "$server" 2>/dev/null || true; server=; }

# ratio NAME A B: the best run of B over the best of A.
ratio() {
  python3 - "$work/figures" "$2" "$3" <<'PY'
import sys
path, a, b = sys.argv[1:]
best = {}
for line in open(path):
    name, rest = line.split(": ", 1)
    best[name] = max(best.get(name, 0.0), float(rest.split()[0]))
print(f"{b} / {a.split(' ')[0]}: {best[b] / best[a]:.2f} (best of each)")
PY
}

if wants grpc; then
echo "--- gRPC: grpc-go helloworld Greeter (Debian golang-google-grpc-dev $(dpkg-query -W -f '${Version}' golang-google-grpc-dev)), ${seconds} s per run"
python3 -c 'import struct, sys; m = b"\x0a\x05world"; sys.stdout.buffer.write(b"\x00" + struct.pack(">I", len(m)) + m)' >"$work/body.bin"
start grpc-go target/go/grpc_greeter -addr 127.0.0.1:18470
for _ in $(seq "$rounds"); do
  measure "h2load -c 16 -m 8" h2load_calls h2load -c 16 -m 8 -D "$seconds" -H 'content-type: application/grpc' -H 'te: trailers' \
    -d "$work/body.bin" http://127.0.0.1:18470/helloworld.Greeter/SayHello
  measure "rmicro bench --connections 16 -c 128" rmicro_calls "$bin" bench -a grpc://127.0.0.1:18470 helloworld.Greeter/SayHello \
    '{"name":"world"}' --connections 16 -c 128 -z "${seconds}s" -o json
  # One thread, as h2load's (the default is one per core, each with its share of the
  # connections and their calls).
  measure "rmicro bench --connections 16 -c 128 --threads 1" rmicro_calls "$bin" bench -a grpc://127.0.0.1:18470 \
    helloworld.Greeter/SayHello '{"name":"world"}' --connections 16 -c 128 --threads 1 -z "${seconds}s" -o json
done
ratio gRPC "h2load -c 16 -m 8" "rmicro bench --connections 16 -c 128"
ratio gRPC "h2load -c 16 -m 8" "rmicro bench --connections 16 -c 128 --threads 1"
stop
fi

if wants mucp; then
echo "--- mucp: rmicro serve (Job.CreateJob stub), ${seconds} s per run"
start "rmicro serve" "$bin" serve --proto proto-samples/job.proto --handlers proto-samples/job.handlers.json \
  --address 127.0.0.1:18471 --no-register
for _ in $(seq "$rounds"); do
  measure "wrk -t2 -c 16 (mucp.lua)" wrk_calls wrk -t2 -c16 -d"${seconds}s" -s bench/mucp.lua http://127.0.0.1:18471/
  measure "rmicro bench -c 16" rmicro_calls "$bin" bench -a 127.0.0.1:18471 Job.CreateJob '{"name":"nightly"}' \
    -c 16 -z "${seconds}s" -o json
  # The same on one thread: on a loaded machine a thread's share of the cores, not the
  # CPU per call, can bound the calls/s.
  measure "rmicro bench -c 16 --threads 1" rmicro_calls "$bin" bench -a 127.0.0.1:18471 Job.CreateJob \
    '{"name":"nightly"}' -c 16 --threads 1 -z "${seconds}s" -o json
done
ratio mucp "wrk -t2 -c 16 (mucp.lua)" "rmicro bench -c 16"
ratio mucp "wrk -t2 -c 16 (mucp.lua)" "rmicro bench -c 16 --threads 1"
stop
fi

if wants jsonrpc; then
echo "--- JSON-RPC: Go net/rpc jsonrpc Arith server, ${seconds} s per run"
start "Go net/rpc jsonrpc" target/go/arith_server -addr 127.0.0.1:18472
for _ in $(seq "$rounds"); do
  measure "jsonrpc_load -c 16 -p 8" jsonrpc_calls target/go/jsonrpc_load -addr 127.0.0.1:18472 -c 16 -p 8 \
    -d "${seconds}s" -warmup 0s -method Arith.Multiply -params '{"A":7,"B":8}'
  measure "rmicro bench --connections 16 -c 128 (JSON-RPC)" rmicro_calls "$bin" bench -a jsonrpc://127.0.0.1:18472 \
    Arith.Multiply '{"A":7,"B":8}' --connections 16 -c 128 -z "${seconds}s" -o json
done
ratio JSON-RPC "jsonrpc_load -c 16 -p 8" "rmicro bench --connections 16 -c 128 (JSON-RPC)"
stop
fi
