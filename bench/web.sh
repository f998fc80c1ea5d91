#!/usr/bin/env bash
# gRPC-Web and Connect figures: `rmicro serve` against @connectrpc/connect-node's server
# (interop/web/server.mjs on Node's HTTP/2 server, npm-pinned in interop/web) under the same
# h2load load in the same run — unary web.v1.Web/Say over HTTP/2 (h2c) as gRPC-Web
# (application/grpc-web+proto, one enveloped message) and as Connect's unary form
# (application/proto, the bare message), 16 connections × 8 streams, 5 s each (no
# warm-up: h2load then counts a 2xx for every request done). Prints req/s and the ratio
# rmicro / connect-node for each. Fails, never prints a figure of nothing, when a server
# does not start or h2load sees an error or a non-2xx reply; rmicro's Debug.Stats must
# count every call answered and no error. connect-node is one Node thread: its figures
# swing with what else the machine runs.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh

bash interop/need.sh h2load nghttp2-client
bash interop/need.sh protoc protobuf-compiler
bash interop/need.sh npm npm
npm ci --prefix interop/web --ignore-scripts --no-audit --no-fund --loglevel=error
cargo build --release --quiet || die "rmicro: release build"
bin=$PWD/target/release/rmicro

work=$(mktemp -d)
rm_server='' node_server=''
trap 'kill $rm_server $node_server 2>/dev/null || true; rm -rf "$work"' EXIT

protoc --include_imports -o "$work/web.pb" -I interop/web interop/web/web.proto
# SayRequest{text: "hi"}: field 1, wire type 2, length 2.
printf '\x0a\x02hi' >"$work/message.bin"
printf '\x00\x00\x00\x00\x04\x0a\x02hi' >"$work/envelope.bin"

"$bin" serve --proto interop/web/web.proto --handlers interop/web/web.handlers.json \
	--address 127.0.0.1:0 --no-register 2>"$work/rmicro.log" &
rm_server=$!
wait_listening rmicro "$work/rmicro.log" "$rm_server"
rm_addr=$(sed -n 's/.*listening on \([^ ]*\).*/\1/p' "$work/rmicro.log" | head -n 1)
node interop/web/server.mjs "$work/web.pb" >"$work/node.log" 2>&1 &
node_server=$!
wait_listening connect-node "$work/node.log" "$node_server"
node_addr=$(sed -n 's/.*listening on \([^ ]*\).*/\1/p' "$work/node.log" | head -n 1)

# rate NAME ADDR CONTENT-TYPE BODY: h2load's req/s for one kind of call, checked, in
# h2load_rps (not called inside $(…), so that die ends the script).
rate() {
	local name=$1 addr=$2 type=$3 body=$4
	h2load -c 16 -m 8 -D 5 -H "content-type: $type" -H 'x-grpc-web: 1' \
		-d "$body" "http://$addr/web.v1.Web/Say" >"$work/h2load.out" 2>&1 || true
	h2load_result "$work/h2load.out" || die "$name: $h2load_error"
}

for kind in grpc-web connect; do
	case $kind in
	grpc-web) type=application/grpc-web+proto body=$work/envelope.bin ;;
	connect) type=application/proto body=$work/message.bin ;;
	esac
	rate "rmicro $kind" "$rm_addr" "$type" "$body"
	ours=$h2load_rps
	rate "connect-node $kind" "$node_addr" "$type" "$body"
	theirs=$h2load_rps
	ratio=$(awk -v a="$ours" -v b="$theirs" 'BEGIN { printf "%.2f", a / b }')
	printf '%-9s unary over HTTP/2: rmicro %s req/s vs connect-node %s req/s = %s×\n' \
		"$kind" "$ours" "$theirs" "$ratio"
done
served_cleanly rmicro "$bin" "$rm_addr" Web.Say 1
