#!/usr/bin/env bash
# The test command (README): installs the real peers the tests need when missing —
# Debian's etcd-server (the etcd registry tests start it themselves on loopback), curl
# (the README's Connect example, run by tests/integration/readme.rs) and golang-go
# (interop/run.sh builds Go's net/rpc programs) — then runs the cargo tests and the
# interop suite, whose PyPI packages go into .venv/ (interop/venv.sh). A peer that
# cannot be installed fails the run.
set -euo pipefail
cd "$(dirname "$0")"

interop/need.sh etcd etcd-server
interop/need.sh pgrep procps
interop/need.sh curl curl
cargo test
interop/run.sh
