#!/usr/bin/env bash
# Proxy overhead: gRPC unary calls to grpc-go's helloworld Greeter, directly and through
# `rmicro serve --proxy grpc://…` (schema from the Greeter's reflection), in the same run:
# - throughput under the same h2load load as bench/grpc.sh (16 connections × 8 streams,
#   1 s warm-up + 10 s), ROUNDS (2) alternating runs of each, and the ratio of the best
#   proxied run to the best direct one (target: at least 0.5);
# - latency of one call at a time (h2load -c 1 -m 1 for 5 s, every request's time from
#   h2load's --log-file): p50 and p99 of each, and the p50 the proxy adds (target: at most
#   0.2 ms on loopback).
# Called by bench/run.sh; runs on its own too. Installs what it needs as bench/grpc.sh does.
# Loopback only, fixed ports 18361 (grpc-go) and 18362 (rmicro). A side that fails is
# named as "FAILED", the script then exits 1 (bench/lib.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

bash interop/need.sh h2load nghttp2-client
bash interop/need.sh curl curl
bash bench/go/build_grpc.sh target/go 2>/dev/null
cargo build --release --quiet || die "rmicro: release build"
bin=$PWD/target/release/rmicro

go_addr=127.0.0.1:18361
rm_addr=127.0.0.1:18362
work=$(mktemp -d)
go_server='' rm_server=''
trap 'kill $go_server $rm_server 2>/dev/null || true; rm -rf "$work"' EXIT

# HelloRequest{name: "world"} in one gRPC message frame (as bench/grpc.sh sends it).
python3 -c 'import struct, sys; m = b"\x0a\x05world"; sys.stdout.buffer.write(b"\x00" + struct.pack(">I", len(m)) + m)' >"$work/body.bin"
path=/helloworld.Greeter/SayHello
h2load_args=(-H 'content-type: application/grpc' -H 'te: trailers' -d "$work/body.bin")

# grpc_ok ADDR: one call with curl answered 200, grpc-status 0, "Hello world".
grpc_ok() {
  curl -sS -m 5 --http2-prior-knowledge -D "$work/headers" -o "$work/reply" \
    -H 'content-type: application/grpc' -H 'te: trailers' --data-binary "@$work/body.bin" \
    "http://$1$path" 2>/dev/null &&
    grep -q '^HTTP/2 200' "$work/headers" && grep -qi '^grpc-status: 0' "$work/headers" &&
    grep -q 'Hello world' "$work/reply"
}

# throughput NAME ADDR: sets rps (h2load's req/s), dies when a request failed.
throughput() {
  h2load -c 16 -m 8 --warm-up-time 1 -D 10 "${h2load_args[@]}" "http://$2$path" >"$work/h2load.out" 2>&1 || true
  h2load_result "$work/h2load.out" || die "$1: $h2load_error"
  rps=$h2load_rps
  echo "$1: $rps req/s ($h2load_done requests, all 2xx)"
}

# latency NAME ADDR: one call at a time for 5 s; sets p50 (ms), prints p50 and p99.
latency() {
  rm -f "$work/latency.log"
  h2load -c 1 -m 1 --warm-up-time 1 -D 5 --log-file="$work/latency.log" "${h2load_args[@]}" "http://$2$path" \
    >"$work/h2load.out" 2>&1 || true
  h2load_result "$work/h2load.out" || die "$1: $h2load_error"
  read -r p50 p99 count < <(python3 -c '
import sys
# h2load --log-file: start time (µs since the epoch), HTTP status, duration (µs).
times = sorted(int(line.split()[2]) for line in open(sys.argv[1]) if line.strip())
pick = lambda q: times[min(len(times) - 1, int(q * len(times)))] / 1000
print(f"{pick(0.50):.3f} {pick(0.99):.3f} {len(times)}")' "$work/latency.log")
  echo "$1: p50 $p50 ms, p99 $p99 ms ($count calls, one at a time)"
}

: >"$work/go.out"
: >"$work/rmicro.err"
target/go/grpc_greeter -addr "$go_addr" >"$work/go.out" 2>&1 &
go_server=$!
wait_listening grpc-go "$work/go.out" $go_server
grpc_ok "$go_addr" || die "grpc-go: no gRPC answer"
"$bin" serve --proxy "grpc://$go_addr" --address "$rm_addr" --no-register 2>"$work/rmicro.err" &
rm_server=$!
wait_listening "rmicro serve --proxy" "$work/rmicro.err" $rm_server
grpc_ok "$rm_addr" || die "rmicro serve --proxy: no gRPC answer: $(head -c 300 "$work/rmicro.err")"

echo "--- gRPC unary throughput, helloworld.Greeter/SayHello on grpc-go, direct and through rmicro serve --proxy:"
echo "    h2load -c 16 -m 8 --warm-up-time 1 -D 10 (each)"
# ROUNDS (default 2) alternating runs of each, the best of each compared: the machine's
# own drift moves one run by up to 20 %.
rounds=${ROUNDS:-2}
direct_rps=0 proxy_rps=0 proxied_done=0
best() { awk -v a="$1" -v b="$2" 'BEGIN { print (b > a ? b : a) }'; }
for _ in $(seq "$rounds"); do
  throughput "direct" "$go_addr"
  direct_rps=$(best "$direct_rps" "$rps")
  throughput "through rmicro serve --proxy" "$rm_addr"
  proxy_rps=$(best "$proxy_rps" "$rps")
  proxied_done=$((proxied_done + h2load_done))
done
# Every call h2load counted reached grpc-go and succeeded there: the proxy's upstream
# figures (Debug.EndpointStats) count them and no upstream error. Its own error count may include
# the calls h2load leaves in flight when it stops (16 × 8 a run), which it cancels.
stats=$("$bin" stats --address "grpc://$rm_addr" -o json) || die "rmicro serve --proxy: Debug.EndpointStats did not answer"
verdict=$(python3 -c '
import json, sys
least, stats, rounds = int(sys.argv[1]), json.loads(sys.argv[2]), int(sys.argv[3])
hello = next((e for e in stats["endpoints"] if e["endpoint"] == "Greeter.SayHello"), {})
upstream = hello.get("upstream", {})
calls, failed = int(upstream.get("requests", 0)), int(upstream.get("errors", 0))
errors = int(hello.get("errors", 0))
if calls < least or failed or errors > 16 * 8 * rounds:
    print(f"{calls} upstream calls (at least {least} expected), {failed} upstream errors, {errors} errors")
else:
    print(f"ok: {calls} upstream calls, none failed; {errors} calls cancelled when h2load stopped")
' "$proxied_done" "$stats" "$rounds")
case $verdict in
ok:*) echo "    $verdict" ;;
*) die "rmicro serve --proxy: $verdict; its log: $(sort "$work/rmicro.err" | uniq -c | sort -rn | head -n 5)" ;;
esac
awk -v p="$proxy_rps" -v d="$direct_rps" -v n="$rounds" \
  'BEGIN { printf "proxied/direct throughput ratio: %.2f (%.0f vs %.0f req/s, best of %d runs each; target >= 0.5)\n", p / d, p, d, n }'

echo "--- latency, one call at a time: h2load -c 1 -m 1 --warm-up-time 1 -D 5 --log-file"
latency "direct" "$go_addr"
direct_p50=$p50
latency "through rmicro serve --proxy" "$rm_addr"
awk -v p="$p50" -v d="$direct_p50" 'BEGIN { printf "p50 added by the proxy: %.3f ms (target <= 0.2)\n", p - d }'
"$bin" stats --address "grpc://$rm_addr" | grep -E 'ENDPOINT|Greeter.SayHello'
