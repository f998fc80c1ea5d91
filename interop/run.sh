#!/usr/bin/env bash
# The interop suite: rmicro against real peers in both directions. Builds its peers
# itself (Go's standard net/rpc programs with Debian's golang-go) and fails, never skips,
# when one cannot be had; installs the pinned PyPI packages of interop/requirements.txt
# (grpcio with reflection and health for the gRPC peers, dnspython for the mDNS tests,
# cryptography for the TLS tests' certificates, connect-python and its HTTP client pyqwest
# for the Connect tests) and Debian's curl (a Connect peer) with apt when it is missing.
# Called by .ci/run; run it alone the same way.
set -euo pipefail
cd "$(dirname "$0")/.."

bash interop/go/build.sh target/go
bash interop/need.sh curl curl
cargo build --quiet
python3 -m pip install --quiet --disable-pip-version-check -r interop/requirements.txt
python3 -m unittest discover --start-directory interop --pattern 'test_*.py' --verbose
