#!/usr/bin/env bash
# The interop suite: rmicro against real peers in both directions. Builds its peers
# itself (Go's standard net/rpc programs with Debian's golang-go) and fails, never skips,
# when one cannot be had; installs the pinned PyPI packages of interop/requirements.txt
# (grpcio with reflection and health for the gRPC peers, dnspython for the mDNS tests,
# cryptography for the TLS tests' certificates, connect-python and its HTTP client pyqwest
# for the Connect tests), Debian's curl (a Connect peer) and protoc with the well-known
# types' .proto files (protobuf-compiler, libprotobuf-dev) with apt when missing, and buf
# from npm at the version pinned in interop/buf/package-lock.json into interop/buf/
# (the descriptor-set tests build their sets with protoc and buf).
# Called by .ci/run; run it alone the same way.
set -euo pipefail
cd "$(dirname "$0")/.."

bash interop/go/build.sh target/go
bash interop/need.sh curl curl
bash interop/need.sh protoc protobuf-compiler
bash interop/need.sh --packages libprotobuf-dev
bash interop/need.sh npm npm
# npm ci installs exactly the lockfile's buf with its platform binary (an optional
# dependency); buf's install script only checks that binary, and would fetch it outside
# the lockfile were it missing, so it is not run: the launcher finds the binary itself.
npm ci --prefix interop/buf --ignore-scripts --no-audit --no-fund --loglevel=error
cargo build --quiet
python3 -m pip install --quiet --disable-pip-version-check -r interop/requirements.txt
python3 -m unittest discover --start-directory interop --pattern 'test_*.py' --verbose
