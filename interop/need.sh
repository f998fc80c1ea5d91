#!/usr/bin/env bash
# Usage: interop/need.sh COMMAND PACKAGE — makes sure COMMAND is on PATH, installing
# Debian's PACKAGE with apt-get (via sudo when not root) when it is missing. Fails
# loudly when it cannot: a missing peer fails the tests, it never skips them.
set -euo pipefail
command=$1 package=$2
command -v "$command" >/dev/null 2>&1 && exit 0
echo "need.sh: $command not found; installing $package with apt-get" >&2
sudo=
if [ "$(id -u)" != 0 ]; then sudo=sudo; fi
if ! { $sudo apt-get update -qq &&
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$package" >/dev/null; }; then
	echo "need.sh: FAILED to install $package; install it and retry" >&2
	exit 1
fi
command -v "$command" >/dev/null 2>&1 || { echo "need.sh: FAILED: $command still not on PATH after installing $package" >&2; exit 1; }
