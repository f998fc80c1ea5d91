#!/usr/bin/env bash
# Worker handlers against per-request exec handlers (README "Performance"): the same
# Python handler (bench/hello.py, started by the interpreter's own path) behind
# Job.CreateJob, run once per request
# ({"exec": …}) or kept as two worker processes ({"exec": …, "worker": true,
# "workers": 2}), loaded alike with wrk over mucp (8 connections, 10 s); prints each side's
# calls/s and the ratio. Loopback only, ports 18340-18341. A side that fails (a server
# that does not start, wrk errors, a failed call in the server's journal) stops it with
# "bench: FAILED: …" and exit 1 (bench/lib.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

bash interop/need.sh wrk wrk
cargo build --release --quiet
bin="$PWD/target/release/rmicro"
duration=${DURATION:-10s}
servers=()
work=
trap 'kill "${servers[@]}" 2>/dev/null || true; [ -z "$work" ] || rm -rf "$work"' EXIT

# journal_clean NAME FILE MIN: the server's journal file holds at least MIN answered
# calls and no failed one. (Debug.Stats would count as errors the calls wrk leaves in flight when
# it stops, which the server records as CANCELLED; with handlers this slow there are some.)
journal_clean() {
	local name=$1 file=$2 min=$3 verdict
	verdict=$(python3 -c '
import collections, json, sys
least = int(sys.argv[1])
statuses = collections.Counter(json.loads(line)["status"] for line in open(sys.argv[2]))
failed = {status: n for status, n in statuses.items() if status not in ("OK", "CANCELLED")}
ok = statuses["OK"]
if failed or ok < least:
    print(f"{ok} calls answered (at least {least} expected), failed: {failed}")
' "$min" "$file") || die "$name: cannot read the journal $file"
	[ -z "$verdict" ] || die "$name: the journal says $verdict"
}

# measure NAME ADDR HANDLERS: serves HANDLERS at ADDR, loads it, checks the server's count.
measure() {
	local name=$1 addr=$2 handlers=$3 log journal
	log=$(mktemp) journal=$(mktemp)
	# Every call in the journal file (the ring is not needed): checked after the load.
	"$bin" serve --proto proto-samples/job.proto --handlers "$handlers" --address "$addr" --no-register \
		--journal-size 0 --journal "$journal" 2>"$log" &
	servers+=("$!")
	wait_listening "$name" "$log" "$!"
	# One call first: a worker starts on its first call, outside the measured time.
	"$bin" call Job.CreateJob '{"name":"warm"}' --address "$addr" >/dev/null || die "$name: the first call failed"
	echo "--- $name: wrk -t2 -c8 -d$duration, mucp"
	wrk_checked "$name" -t2 -c8 -d"$duration" --timeout 10s -s bench/mucp.lua "http://$addr/"
	journal_clean "$name" "$journal" "$wrk_requests"
	rate=$(awk -v n="$wrk_requests" -v d="${duration%s}" 'BEGIN { printf "%.1f", n / d }')
}

# The interpreter itself, not a version manager's shim (pyenv's costs more than Python's
# own start-up), so the exec side pays only for the process it must start.
python=$(python3 -c 'import sys; print(sys.executable)')
work=$(mktemp -d)
printf '{"Job.CreateJob": {"exec": ["%s", "%s"]}}\n' "$python" "$PWD/bench/hello.py" >"$work/exec.json"
printf '{"Job.CreateJob": {"exec": ["%s", "%s", "--worker"], "worker": true, "workers": 2}}\n' \
	"$python" "$PWD/bench/hello.py" >"$work/worker.json"

measure "per-request exec handler" 127.0.0.1:18340 "$work/exec.json"
exec_rate=$rate
measure "worker handler (2 workers)" 127.0.0.1:18341 "$work/worker.json"
worker_rate=$rate
echo "=== calls/s: exec $exec_rate, worker $worker_rate: the worker handler serves $(awk -v w="$worker_rate" -v e="$exec_rate" 'BEGIN { printf "%.1f", w / e }')x the calls/s of the exec handler"
