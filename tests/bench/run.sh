#!/bin/sh
# Benchmarks, run by `make bench` as: sh tests/bench/run.sh BUILD_DIR
# Runs every program built from tests/bench/*.c (BUILD_DIR/bench/*). Append other benchmarks
# below; the exit status is non-zero if any of them failed.
build=${1:-build}
st=0
for b in "$build"/bench/*; do
    [ -f "$b" ] && [ -x "$b" ] || continue
    echo "== $(basename "$b")"
    "$b" || st=1
done
sh tests/bench/verify.sh "$build" || st=1
sh tests/bench/convert.sh "$build" || st=1
sh tests/bench/inspect.sh "$build" || st=1
exit $st
