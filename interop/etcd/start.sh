#!/usr/bin/env bash
# Starts a throw-away single-node etcd (Debian's etcd-server, 3.4.x) for rmicro's etcd
# registry interop tests. rmicro talks to it through etcd's v3 JSON gateway over plain
# HTTP/1.1 (POST /v3/kv/*, /v3/lease/*, /v3/watch), so only the client port matters.
#
# Usage: interop/etcd/start.sh [PORT] [BASEDIR]
#   PORT     client port, default 23790; the peer port is PORT+1. Both bind 127.0.0.1 only.
#   BASEDIR  where the fresh data dir is made (mktemp -d BASEDIR/rmicro-etcd.XXXXXX),
#            default ${TMPDIR:-/tmp}. Nothing is written anywhere else (apt aside).
# On success prints the etcd PID alone on stdout and exits 0, leaving etcd running in the
# background; the data dir and log (DATADIR/etcd.log) are reported on stderr.
# Stop it with: interop/etcd/stop.sh PID   (kills it, waits, removes its data dir;
#   KEEP_ETCD_DIR=1 keeps the dir and log). A plain `kill PID` also works but leaves the dir.
# Installs etcd-server with apt-get if `etcd` is missing; fails loudly if it cannot.
# Exits non-zero if PORT or PORT+1 is already taken, or if etcd does not answer GET /health
# within 10 s (then it prints the log tail, kills etcd and removes the dir unless
# KEEP_ETCD_DIR=1).
set -euo pipefail

port=${1:-23790}
base=${2:-${TMPDIR:-/tmp}}
case $port in '' | *[!0-9]*) echo "start.sh: bad port '$port'" >&2; exit 2 ;; esac
peer=$((port + 1))

# On a systemd host the package would also start a system etcd on 2379, which we don't use.
bash "$(dirname "${BASH_SOURCE[0]}")/../need.sh" etcd etcd-server

# Refuse ports something already listens on: otherwise the health check below could be
# answered by that other server while our etcd dies on "address already in use".
for p in "$port" "$peer"; do
	if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
		echo "start.sh: FAILED: 127.0.0.1:$p is already in use (etcd needs PORT and PORT+1)" >&2
		exit 1
	fi
done

mkdir -p "$base"
dir=$(mktemp -d "$base/rmicro-etcd.XXXXXX")
touch "$dir/.rmicro-etcd" # marker: stop.sh only deletes dirs carrying it
log=$dir/etcd.log

# etcd reads every ETCD_* variable as a flag; make sure none from the caller leaks in.
while IFS= read -r v; do unset "$v"; done < <(compgen -e | grep '^ETCD_' || true)
case $(uname -m) in
x86_64 | amd64) ;;
aarch64 | arm64) export ETCD_UNSUPPORTED_ARCH=arm64 ;; # etcd 3.4 refuses arm64 without it
*) export ETCD_UNSUPPORTED_ARCH=$(uname -m) ;;
esac

# setsid + nohup: detached from our process group and terminal, so it outlives this
# script and a caller's Ctrl-C to the group; stdin from /dev/null.
setsid nohup etcd \
	--name rmicro-test \
	--data-dir "$dir/data" \
	--listen-client-urls "http://127.0.0.1:$port" \
	--advertise-client-urls "http://127.0.0.1:$port" \
	--listen-peer-urls "http://127.0.0.1:$peer" \
	--initial-advertise-peer-urls "http://127.0.0.1:$peer" \
	--initial-cluster "rmicro-test=http://127.0.0.1:$peer" \
	--initial-cluster-state new \
	--initial-cluster-token "rmicro-test-$port" \
	--logger zap --log-outputs "$log" \
	</dev/null >>"$log" 2>&1 &
pid=$!

health() {
	if command -v curl >/dev/null 2>&1; then
		curl -fsS --max-time 1 "http://127.0.0.1:$port/health" 2>/dev/null | grep -q '"health":"true"'
	else
		python3 - "$port" <<'PY' 2>/dev/null
import sys, http.client
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=1)
c.request("GET", "/health")
sys.exit(0 if b'"health":"true"' in c.getresponse().read() else 1)
PY
	fi
}

fail() {
	echo "start.sh: FAILED: $1; log $log:" >&2
	tail -n 20 "$log" >&2 || true
	kill "$pid" 2>/dev/null || true
	if [ "${KEEP_ETCD_DIR:-0}" != 1 ]; then
		wait "$pid" 2>/dev/null || true
		rm -rf -- "$dir"
	fi
	exit 1
}

deadline=$((SECONDS + 10))
until health; do
	kill -0 "$pid" 2>/dev/null || fail "etcd exited during startup"
	[ "$SECONDS" -lt "$deadline" ] || fail "etcd not healthy on 127.0.0.1:$port after 10 s"
	sleep 0.1
done
kill -0 "$pid" 2>/dev/null || fail "etcd exited right after answering /health"

echo "start.sh: etcd $(etcd --version | sed -n 's/^etcd Version: //p') pid $pid on http://127.0.0.1:$port, dir $dir" >&2
echo "$pid"
