#!/usr/bin/env bash
# Usage: interop/need.sh COMMAND PACKAGE — makes sure COMMAND is on PATH, installing
# Debian's PACKAGE with apt-get (via sudo when not root) when it is missing.
#        interop/need.sh --packages PACKAGE... — makes sure these Debian packages are
# installed (for libraries, which put no command on PATH).
# Fails loudly when it cannot: a missing peer fails the tests, it never skips them.
set -euo pipefail

install() {
	echo "need.sh: installing $* with apt-get" >&2
	local sudo=
	if [ "$(id -u)" != 0 ]; then sudo=sudo; fi
	if ! { $sudo apt-get update -qq &&
		DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null; }; then
		echo "need.sh: FAILED to install $*; install it and retry" >&2
		exit 1
	fi
}

if [ "$1" = --packages ]; then
	shift
	missing=()
	for package in "$@"; do
		dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
	done
	if [ ${#missing[@]} -gt 0 ]; then install "${missing[@]}"; fi
	exit 0
fi

command=$1 package=$2
command -v "$command" >/dev/null 2>&1 && exit 0
echo "need.sh: $command not found" >&2
install "$package"
command -v "$command" >/dev/null 2>&1 || { echo "need.sh: FAILED: $command still not on PATH after installing $package" >&2; exit 1; }
