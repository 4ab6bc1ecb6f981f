#!/bin/sh
# qconvert throughput and memory: tiny256 (3.5 MiB BF16) to Q4_K_M with 1 and 2 threads, and
# synthetic F16 GGUF files of 64 MiB and 512 MiB (16 tensors of llama-like names, values in
# (-2, 2)) to Q8_0 and Q4_K_M. Peak RSS must not grow with the model: memory is chunk size x
# threads. MB/s is input bytes over wall time; CPU is user + system time (the wall time
# suffers when the machine is shared).
# usage: convert.sh BUILD_DIR   (SIZE_MB=512 to change the large model; needs ~1.5 GB in TMPDIR)
set -eu
build=${1:-build}
bin=$build/bin/qconvert
big=${SIZE_MB:-512}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/qf-bench-convert.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

# measure LABEL INPUT CMD...: best wall time of $runs runs, CPU time and peak RSS of that run
runs=3
measure() {
    label=$1; in=$2; shift 2
    best=
    i=0
    while [ $i -lt $runs ]; do
        /usr/bin/time -f '%e %U %S %M' -o "$tmp/time" "$@" >/dev/null 2>"$tmp/err" ||
            { cat "$tmp/err" "$tmp/time"; exit 1; }
        set -- "$@"
        read -r wall user sys kb <"$tmp/time"
        if [ -z "$best" ] || awk -v a="$wall" -v b="$best" 'BEGIN { exit !(a < b) }'; then
            best=$wall; bu=$user; bs=$sys; bkb=$kb
        fi
        i=$((i + 1))
    done
    bytes=$(stat -c %s "$in")
    awk -v l="$label" -v w="$best" -v u="$bu" -v s="$bs" -v k="$bkb" -v b="$bytes" 'BEGIN {
        mb = b / 1e6; if (w < 0.01) w = 0.01
        printf "%-44s %8.1f MB in %6.2f s  %7.1f MB/s  CPU %6.2f s (%6.1f MB/s)  peak RSS %6.1f MiB\n",
            l, mb, w, mb / w, u + s, mb / ((u + s) > 0.01 ? u + s : 0.01), k / 1024 }'
}

# A safetensors file of n tensors "blk.K.ffn_up.weight" [rows, 2048] F16 (random bytes with
# the exponent kept below 16, so every value is finite and below 2 in magnitude), converted
# to GGUF by qconvert itself (the copy path).
synth() { # OUT.gguf MB
    out=$1; mb=$2
    rows=4096; cols=2048; per=$((rows * cols * 2))
    n=$(( mb * 1048576 / per )); [ "$n" -ge 1 ] || n=1
    hdr='{' off=0 k=0
    while [ $k -lt $n ]; do
        [ $k -gt 0 ] && hdr="$hdr,"
        hdr="$hdr\"blk.$k.ffn_up.weight\":{\"dtype\":\"F16\",\"shape\":[$rows,$cols],\"data_offsets\":[$off,$((off + per))]}"
        off=$((off + per)); k=$((k + 1))
    done
    hdr="$hdr}"
    while [ $(( ${#hdr} % 8 )) -ne 0 ]; do hdr="$hdr "; done
    {
        perl -e 'print pack("Q<", $ARGV[0])' ${#hdr}
        printf '%s' "$hdr"
        head -c "$off" /dev/urandom | tr '\100-\177\300-\377' '\000-\077\200-\277'
    } >"$tmp/synth.safetensors"
    "$bin" -q --no-fsync --type F16 "$tmp/synth.safetensors" -o "$out" 2>/dev/null
    rm -f "$tmp/synth.safetensors"
}

echo "== qconvert (best of $runs runs; $(nproc) CPUs)"
t=tests/fixtures/tiny256-bf16.gguf
for j in 1 2; do
    measure "tiny256 BF16 -> Q4_K_M, -j$j" "$t" "$bin" -q --no-fsync -f -j$j --type Q4_K_M "$t" -o "$tmp/o.gguf"
done
measure "tiny256 BF16 -> F32 (dequantize/convert), -j2" "$t" "$bin" -q --no-fsync -f -j2 --type F32 "$t" -o "$tmp/o.gguf"
for mb in 64 "$big"; do
    synth "$tmp/s$mb.gguf" "$mb"
    s=$tmp/s$mb.gguf
    for ty in Q8_0 Q4_K_M; do
        for j in 1 2; do
            measure "synthetic ${mb} MiB F16 -> $ty, -j$j" "$s" "$bin" -q --no-fsync -f -j$j --type $ty "$s" -o "$tmp/o.gguf"
        done
    done
    measure "synthetic ${mb} MiB F16 -> safetensors (copy)" "$s" "$bin" -q --no-fsync -f --type F16 "$s" -o "$tmp/o.safetensors"
    rm -f "$s" "$tmp/o.gguf" "$tmp/o.safetensors"
done
