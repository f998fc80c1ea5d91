# shellcheck shell=bash disable=SC2034  # wrk_requests, load_calls, h2load_*: for the caller
# Checks shared by bench/run.sh and bench/grpc.sh (sourced): a measured side that fails —
# a server that does not start, a load tool that reports errors or non-2xx replies, a
# call that fails — fails the benchmark with a message naming it, never a figure of
# nothing. Each runs in seconds on its own, so the failure paths can be tried against a
# port nothing listens on.

# die WHAT...: the benchmark fails, saying what failed.
die() {
	echo "bench: FAILED: $*" >&2
	exit 1
}

# wait_listening NAME FILE PID: waits up to 5 s for the "listening on" line a server
# prints into FILE; fails when it exits or stays silent.
wait_listening() {
	local name=$1 file=$2 pid=$3
	for _ in $(seq 50); do
		grep -q 'listening on' "$file" && return 0
		kill -0 "$pid" 2>/dev/null || die "$name exited at start: $(head -c 300 "$file")"
		sleep 0.1
	done
	die "$name did not start within 5 s: $(head -c 300 "$file")"
}

# wrk_checked NAME WRK-ARGS...: runs wrk and prints its Latency and Requests/sec lines;
# fails when wrk does, when it counts socket errors or non-2xx/3xx replies, or when no
# request completed. Sets wrk_requests (requests completed).
wrk_checked() {
	local name=$1 out
	shift
	out=$(wrk "$@" 2>&1) || die "$name: wrk exited non-zero: $out"
	if grep -qE '^ *(Socket errors|Non-2xx or 3xx responses):' <<<"$out"; then
		die "$name: wrk: $(grep -E '^ *(Socket errors|Non-2xx or 3xx responses):' <<<"$out" | tr -s ' \n' ' ')"
	fi
	wrk_requests=$(awk '/ requests in / { print $1 }' <<<"$out")
	if [ -z "$wrk_requests" ] || [ "$wrk_requests" = 0 ]; then die "$name: wrk completed no request: $out"; fi
	grep -E 'Requests/sec|Latency' <<<"$out"
}

# jsonrpc_load_checked NAME LOAD-ARGS...: runs target/go/jsonrpc_load and prints its line
# after "NAME: "; fails when it cannot connect, counts an error or an unanswered call, or
# completed no call. Sets load_calls. (Not to be called inside $(…): die would end only
# that subshell.)
jsonrpc_load_checked() {
	local name=$1 out errors
	shift
	out=$(target/go/jsonrpc_load "$@" 2>&1) || die "$name: jsonrpc_load exited non-zero: $out"
	load_calls=$(awk '$1 == "calls/s" { print $4 }' <<<"$out")
	errors=$(awk '$1 == "calls/s" { print $6 }' <<<"$out")
	if [ -z "$load_calls" ] || [ "$load_calls" = 0 ] || [ "$errors" != 0 ]; then
		die "$name: jsonrpc_load: $(tr '\n' ' ' <<<"$out")"
	fi
	echo "$name: $(grep '^calls/s' <<<"$out")"
}

# h2load_result FILE: reads h2load's output in FILE. Sets h2load_rps and h2load_done
# (requests done), or h2load_error and returns 1 when there is no figure, no request was
# done, one failed or errored, one came back other than 2xx, or more than one fewer came
# back 2xx than were done. At the warm-up's edge h2load may count one 2xx more than
# requests done, or one fewer (a reply whose status came before the edge and its end
# after it: seen twice against grpc-go, every request counted as succeeded).
h2load_result() {
	local file=$1 failed errored ok other
	h2load_rps=$(awk '/^finished in/ { print $4 }' "$file")
	read -r h2load_done failed errored < <(awk '/^requests:/ { print $6, $10, $12 }' "$file") || true
	read -r ok other < <(awk '/^status codes:/ { print $3, $5 + $7 + $9 }' "$file") || true
	if [ -z "$h2load_rps" ] || [ -z "$h2load_done" ] || [ "$h2load_done" = 0 ] ||
		[ "${ok:-0}" -lt $((h2load_done - 1)) ] || [ "${other:-1}" != 0 ] ||
		[ "$failed" != 0 ] || [ "$errored" != 0 ]; then
		h2load_error="h2load: $(grep -E '^(requests|status codes):' "$file" | tr '\n' ' ')$(grep -i -m 2 -E 'error|fail|refused' "$file" | grep -v -E '^(requests|status codes):' | tr '\n' ' ')"
		return 1
	fi
}

# served_cleanly NAME RMICRO ADDR ENDPOINT MIN: the rmicro server at ADDR (Debug.Stats)
# answered ENDPOINT at least MIN times and counted no error. The load tools cannot see
# every failure: a mucp error is HTTP 200 with Micro-Error, a gRPC one HTTP 200 with a
# grpc-status trailer.
served_cleanly() {
	local name=$1 bin=$2 addr=$3 endpoint=$4 min=$5 stats verdict
	stats=$("$bin" stats --address "$addr" -o json 2>&1) || die "$name: Debug.Stats did not answer: $stats"
	verdict=$(python3 -c '
import json, sys
endpoint, least, stats = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
served = sum(int(e.get("requests", 0)) for e in stats.get("endpoints", []) if e["endpoint"] == endpoint)
errors = int(stats.get("errors", 0))
if errors or served < least:
    print(f"{endpoint} answered {served} times (at least {least} expected), {errors} errors")
' "$endpoint" "$min" "$stats") || die "$name: cannot read Debug.Stats: $stats"
	[ -z "$verdict" ] || die "$name: the server counted $verdict"
}
