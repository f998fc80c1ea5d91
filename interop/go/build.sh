#!/usr/bin/env bash
# Builds the Go side of the JSON-RPC interop suite and benchmark (standard library only):
#   arith_server    Go net/rpc JSON-RPC reference server   (interop/go/arith_server)
#   jsonrpc_client  Go client checks against rmicro serve  (interop/go/jsonrpc_client)
#   jsonrpc_call    one call with Go's jsonrpc client      (interop/go/jsonrpc_call)
#   jsonrpc_load    load generator for both servers        (bench/go/jsonrpc_load)
# Usage: interop/go/build.sh [OUTDIR]   (default: target/go in the repository)
# Installs Debian's golang-go with apt-get if `go` is missing. Nothing is downloaded by go.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out=${1:-$root/target/go}
mkdir -p "$out"
out=$(cd "$out" && pwd)

bash "$root/interop/need.sh" go golang-go

export GOTOOLCHAIN=local GOPROXY=off GOFLAGS=-buildvcs=false CGO_ENABLED=0
export GOCACHE=$root/target/go-cache
echo "build.sh: $(go version) -> $out" >&2

(cd "$root/interop/go" && go build -o "$out/" ./arith_server ./jsonrpc_client ./jsonrpc_call)
(cd "$root/bench/go" && go build -o "$out/" ./jsonrpc_load)
