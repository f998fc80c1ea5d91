#!/usr/bin/env bash
# Usage: interop/need.sh COMMAND PACKAGE — makes sure COMMAND is on PATH, installing
# Debian's PACKAGE with apt-get (via sudo when not root) when it is missing.
#        interop/need.sh --packages PACKAGE... — makes sure these Debian packages are
# installed (for libraries, which put no command on PATH).
# Fails loudly when it cannot: a missing peer fails the tests, it never skips them.
# apt-get waits for the package lock another apt (unattended-upgrades on a fresh
# machine, a parallel run) holds, up to RMICRO_APT_WAIT seconds (default 600).
set -euo pipefail

wait_for=${RMICRO_APT_WAIT:-600}

# apt-get "$@", waiting while another process holds one of apt's locks: the dpkg lock
# is waited for by apt itself (DPkg::Lock::Timeout); the lists lock of `apt-get update`
# is not, so a run that failed on a lock is retried until the wait is over.
apt_get() {
	local sudo= deadline=$((SECONDS + wait_for)) out
	if [ "$(id -u)" != 0 ]; then sudo=sudo; fi
	while :; do
		if out=$(DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout="$wait_for" "$@" 2>&1); then
			return 0
		fi
		if ! grep -qE 'Could not get lock|Unable to lock|is another process using it' <<<"$out" ||
			[ "$SECONDS" -ge "$deadline" ]; then
			printf '%s\n' "$out" >&2
			return 1
		fi
		echo "need.sh: apt is busy (another process holds its lock); waiting" >&2
		sleep 3
	done
}

install() {
	echo "need.sh: installing $* with apt-get" >&2
	if ! { apt_get update -qq && apt_get install -y -qq "$@" >/dev/null; }; then
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
