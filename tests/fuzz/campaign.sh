#!/bin/sh
# Run libFuzzer targets one after another (built by `make fuzz`), each for SECS seconds.
#   sh tests/fuzz/campaign.sh [SECS] [TARGET...]        (from the repository root)
# Dictionaries (tests/fuzz/*.dict) give the mutators the formats' words.
# New inputs go to build-fuzz/work/<target>/ (the committed seeds are only read), crashes and
# slow inputs to build-fuzz/artifacts/, logs to build-fuzz/logs/<target>.log. The fuzzers run
# in an empty scratch directory so relative names in inputs resolve to nothing.
set -u
secs=${1:-600}
[ $# -gt 0 ] && shift
root=$(pwd)
targets=${*:-fuzz_gguf fuzz_safetensors fuzz_st_index fuzz_qverify fuzz_probe fuzz_json fuzz_pipe fuzz_layout fuzz_imatrix}
mkdir -p build-fuzz/logs build-fuzz/artifacts
scratch=$(mktemp -d "${TMPDIR:-/tmp}/qf-fuzz-cwd.XXXXXX")
trap 'rm -rf "$scratch"' EXIT INT TERM
for t in $targets; do
    mkdir -p "build-fuzz/work/$t"
    case $t in
    fuzz_gguf|fuzz_pipe|fuzz_probe|fuzz_imatrix) dict=gguf.dict ;;
    fuzz_layout) dict=layout.dict ;;
    fuzz_safetensors|fuzz_json) dict=safetensors.dict ;;
    fuzz_st_index) dict=st_index.dict ;;
    fuzz_qverify) dict=qverify.dict ;;
    *) dict= ;;
    esac
    echo "== $t $(date +%T)${dict:+ (dictionary $dict)}"
    (cd "$scratch" && nice -n 10 "$root/build-fuzz/$t" -max_total_time="$secs" \
        -rss_limit_mb=2048 -timeout=5 -print_final_stats=1 \
        ${dict:+-dict="$root/tests/fuzz/$dict"} \
        -artifact_prefix="$root/build-fuzz/artifacts/$t-" \
        "$root/build-fuzz/work/$t" "$root/tests/fuzz/corpus/$t" </dev/null) \
        >"build-fuzz/logs/$t.log" 2>&1
    echo "   exit $? $(grep -E '^#[0-9]+.*(DONE|INITED)' "build-fuzz/logs/$t.log" | tail -1)"
done
