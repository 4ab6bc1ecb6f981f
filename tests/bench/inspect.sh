#!/bin/sh
# Header-only inspection benchmarks (targets: < 30 ms on the largest-vocabulary GGUF fixture,
# < 50 ms on a sparse Llama-3-70B-shaped safetensors file; neither may read tensor data).
# usage: inspect.sh BUILD_DIR
set -eu
build=${1:-build}
bin=$build/bin/qinspect
tmp=$(mktemp -d "${TMPDIR:-/tmp}/qf-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
${CC:-cc} -O2 -o "$tmp/mksparse" tests/bench/tools/mksparse.c
"$tmp/mksparse" "$tmp/llama3-70b-bf16.safetensors" >/dev/null
${CC:-cc} -O2 -o "$tmp/cputime" tests/bench/tools/cputime.c

# wall time: best of N runs, in ms (hyperfine when present)
best_ms() {
    n=$1; shift
    best=
    i=0
    while [ $i -lt "$n" ]; do
        s=$(date +%s%N); "$@" >/dev/null; e=$(date +%s%N)
        t=$(( (e - s) / 1000 ))
        if [ -z "$best" ] || [ $t -lt $best ]; then best=$t; fi
        i=$((i + 1))
    done
    awk -v u="$best" 'BEGIN { printf "%.2f", u / 1000 }'
}
peak_kb() {
    if [ -x /usr/bin/time ]; then /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; else echo "?"; fi
}
# best CPU time (user + system) of N runs, and the peak RSS of that run
best_cpu() {
    n=$1; shift
    i=0
    while [ $i -lt "$n" ]; do "$tmp/cputime" "$@"; i=$((i + 1)); done | sort -n | head -1
}
report() { # label target_ms cmd...
    label=$1; target=$2; shift 2
    ms=$(best_ms 20 "$@")
    set -- $(best_cpu 20 "$@")
    cpu=$1; kb=$2
    verdict=$(awk -v a="$cpu" -v b="$target" 'BEGIN { print (a < b) ? "ok" : "MISSED" }')
    printf '%-44s wall %7s ms, CPU %7s ms (target < %s ms: %s), peak RSS %s KiB\n' \
        "$label" "$ms" "$cpu" "$target" "$verdict" "$kb"
}
echo "== qinspect, header only (best of 20 runs; the verdict uses CPU time, which load does not inflate)"
uptime
vocab=tests/fixtures/ggml-vocab-llama-spm.gguf
report "vocab GGUF, 32000 tokens, --json" 30 "$bin" --json --full "$vocab"
report "vocab GGUF, 32000 tokens, table" 30 "$bin" "$vocab"
sz=$(stat -c %s "$tmp/llama3-70b-bf16.safetensors")
report "Llama-3-70B BF16 sparse safetensors ($((sz / 1000000000)) GB), --json" 50 "$bin" --json "$tmp/llama3-70b-bf16.safetensors"
report "Llama-3-70B BF16 sparse safetensors, table" 50 "$bin" "$tmp/llama3-70b-bf16.safetensors"
