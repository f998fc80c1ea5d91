#!/usr/bin/env bash
# Stops an etcd started by interop/etcd/start.sh and removes its data dir (the one holding
# start.sh's .rmicro-etcd marker), unless KEEP_ETCD_DIR=1.
# Usage: interop/etcd/stop.sh PID
# Refuses to kill a PID that is not an etcd process. Waits up to 5 s, then SIGKILLs.
set -euo pipefail

pid=${1:?usage: stop.sh PID}
case $pid in *[!0-9]*) echo "stop.sh: bad pid '$pid'" >&2; exit 2 ;; esac
if ! kill -0 "$pid" 2>/dev/null; then
	echo "stop.sh: no process $pid (already stopped)" >&2
	exit 0
fi
if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" != etcd ]; then
	echo "stop.sh: process $pid is not etcd; not killing it" >&2
	exit 1
fi

# Find its data dir from the command line: --data-dir DIR/data, DIR made by start.sh.
dir=
prev=
while IFS= read -r -d '' arg; do
	if [ "$prev" = --data-dir ]; then dir=$(dirname "$arg"); fi
	prev=$arg
done <"/proc/$pid/cmdline"

kill "$pid"
for _ in $(seq 50); do
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
if kill -0 "$pid" 2>/dev/null; then
	echo "stop.sh: etcd $pid ignored SIGTERM for 5 s; sending SIGKILL" >&2
	kill -9 "$pid" 2>/dev/null || true
fi

if [ -n "$dir" ] && [ -f "$dir/.rmicro-etcd" ] && [ "${KEEP_ETCD_DIR:-0}" != 1 ]; then
	rm -rf -- "$dir"
fi
