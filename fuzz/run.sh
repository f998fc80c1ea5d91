#!/bin/sh
# Runs each fuzz target (or those named) for SECONDS (default 60) with cargo-fuzz and
# libFuzzer, starting from the seeds in seeds/TARGET and the corpus kept in corpus/TARGET
# from earlier runs, and prints how many inputs each ran. cargo-fuzz needs nightly
# features: RUSTC_BOOTSTRAP=1 lets the stable toolchain build them. Not run by CI. A
# crash stops the run with its log; its input is in artifacts/TARGET/ (replay it with
# `RUSTC_BOOTSTRAP=1 cargo fuzz run -O TARGET FILE`).
#
# usage: fuzz/run.sh [SECONDS [TARGET...]]
set -eu
cd "$(dirname "$0")"
seconds=${1:-60}
[ $# -gt 0 ] && shift
export RUSTC_BOOTSTRAP=1
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
targets=${*:-$(cargo fuzz list)}
cargo fuzz build -O
mkdir -p logs
for target in $targets; do
    mkdir -p "corpus/$target"
    log="logs/$target.log"
    # -rss_limit_mb: the server's own bounds keep every input far below it.
    if ! cargo fuzz run -O "$target" "corpus/$target" "seeds/$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=1024 -timeout=10 -print_final_stats=1 \
        >"$log" 2>&1; then
        tail -n 60 "$log"
        echo "fuzz/run.sh: $target failed; the input is in fuzz/artifacts/$target/" >&2
        exit 1
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    peak=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log")
    units=$(ls "corpus/$target" | wc -l)
    echo "$target: $runs inputs in $seconds s, no crash; corpus $units inputs; peak RSS $peak MB"
done
