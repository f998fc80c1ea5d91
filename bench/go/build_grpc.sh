#!/usr/bin/env bash
# Builds the grpc-go side of the gRPC benchmark (bench/grpc.sh) from Debian's packages only:
#   grpc_greeter  grpc-go helloworld Greeter with reflection   (bench/go/grpc_greeter)
# Usage: bench/go/build_grpc.sh [OUTDIR]   (default: target/go in the repository)
# Installs Debian's golang-go, golang-google-grpc-dev and the APIv2 protobuf packages
# (golang-github-golang-protobuf-1-5-dev, golang-google-protobuf-dev) with apt-get when
# missing. Builds in GOPATH mode (GO111MODULE=off) against /usr/share/gocode: nothing is
# downloaded by go. The generated helloworld package is the one Debian ships in
# /usr/share/doc/golang-google-grpc-dev/examples (protoc-gen-go v1.25 output, which needs
# the APIv2 runtime, hence golang/protobuf 1.5 rather than 1.3: the two conflict, and
# apt-get swaps 1.3 out if it is there).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out=${1:-$root/target/go}
mkdir -p "$out"
out=$(cd "$out" && pwd)

bash "$root/interop/need.sh" go golang-go

bash "$root/interop/need.sh" --packages golang-google-grpc-dev \
	golang-github-golang-protobuf-1-5-dev golang-google-protobuf-dev

examples=/usr/share/doc/golang-google-grpc-dev/examples/helloworld/helloworld
if [ ! -f "$examples/helloworld.pb.go" ]; then
	echo "build_grpc.sh: FAILED: $examples/helloworld.pb.go missing (dpkg path-exclude on /usr/share/doc?)" >&2
	exit 1
fi
# A GOPATH of our own holding only Debian's generated helloworld package, under its
# upstream import path, after Debian's /usr/share/gocode (go takes the first GOPATH entry
# holding a directory for the import path, and ours holds an empty .../grpc).
gopath=$root/target/go-grpc-gopath
pkg=$gopath/src/google.golang.org/grpc/examples/helloworld/helloworld
mkdir -p "$pkg"
cp "$examples/helloworld.pb.go" "$examples/helloworld_grpc.pb.go" "$pkg/"

export GO111MODULE=off GOPATH=/usr/share/gocode:$gopath
export GOTOOLCHAIN=local GOPROXY=off GOFLAGS= CGO_ENABLED=0
export GOCACHE=$root/target/go-cache
echo "build_grpc.sh: $(go version), GOPATH mode -> $out" >&2

(cd "$root/bench/go/grpc_greeter" && go build -o "$out/grpc_greeter" .)
