#!/bin/sh
# qverify hashing throughput on a 4 GiB file (in the page cache), next to sha256sum,
# openssl dgst -sha256 and xxhsum -H2 measured in the same run, and -j 2 on two files
# against one thread.
# Targets: SHA-256 >= 0.95x OpenSSL, XXH3 >= 0.9x xxhsum -H2, -j 2 on two files >= 1.7x -j 1.
# usage: verify.sh [BUILD_DIR]   (env: QF_BENCH_GIB=4 file size, QF_BENCH_RUNS=3 best of)
set -eu
build=${1:-build}
bin=$build/bin/qverify
gib=${QF_BENCH_GIB:-4}
runs=${QF_BENCH_RUNS:-3}
[ -x "$bin" ] || { echo "verify.sh: $bin not built"; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/qf-bench-verify.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
bytes=$((gib * 1024 * 1024 * 1024))

# incompressible data, quickly: AES-CTR keystream
mkdata() {
    if command -v openssl >/dev/null 2>&1; then
        openssl enc -aes-128-ctr -nosalt -pass "pass:$2" < /dev/zero 2>/dev/null | head -c "$bytes" > "$1"
    else
        head -c "$bytes" /dev/urandom > "$1"
    fi
    cat "$1" > /dev/null # into the page cache
}
mkdata "$tmp/a.bin" a
mkdata "$tmp/b.bin" b

# best wall time of $runs runs, in seconds
best_s() {
    best=
    i=0
    while [ $i -lt "$runs" ]; do
        s=$(date +%s%N); "$@" > /dev/null; e=$(date +%s%N)
        t=$((e - s))
        if [ -z "$best" ] || [ "$t" -lt "$best" ]; then best=$t; fi
        i=$((i + 1))
    done
    awk -v n="$best" 'BEGIN { printf "%.3f", n / 1e9 }'
}
gbs() { # seconds, bytes -> GB/s
    awk -v s="$1" -v b="$2" 'BEGIN { printf "%.2f", b / s / 1e9 }'
}
line() { # label seconds bytes [note]
    printf '  %-34s %7s s  %6s GB/s  %s\n' "$1" "$2" "$(gbs "$2" "$3")" "${4:-}"
}
verdict() { # ratio target
    awk -v r="$1" -v t="$2" 'BEGIN { printf "%.2fx (target >= %sx: %s)", r, t, (r >= t) ? "ok" : "MISSED" }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", a / b }'; }

cpus=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo "?")
echo "== qverify hashing, ${gib} GiB file in the page cache, best of $runs ($cpus CPUs)"
f=$tmp/a.bin
t_sum=$(best_s sha256sum "$f"); line "sha256sum" "$t_sum" $bytes
t_ossl=$(best_s openssl dgst -sha256 "$f"); line "openssl dgst -sha256" "$t_ossl" $bytes
if command -v xxhsum >/dev/null 2>&1; then
    t_xxh=$(best_s xxhsum -H2 "$f"); line "xxhsum -H2" "$t_xxh" $bytes
else
    t_xxh=; echo "  xxhsum not installed"
fi
t_sha=$(best_s "$bin" --sha256 "$f")
line "qverify --sha256" "$t_sha" $bytes "$(verdict "$(ratio "$t_ossl" "$t_sha")" 0.95) of openssl"
t_x3=$(best_s "$bin" --xxh3 "$f")
if [ -n "$t_xxh" ]; then
    line "qverify --xxh3 (128-bit)" "$t_x3" $bytes "$(verdict "$(ratio "$t_xxh" "$t_x3")" 0.9) of xxhsum"
else
    line "qverify --xxh3 (128-bit)" "$t_x3" $bytes
fi
for a in xxh3-64 xxh64 xxh32 crc32 sha1; do
    line "qverify --$a" "$(best_s "$bin" --$a "$f")" $bytes
done
line "qverify --sha256 --xxh3 --crc32 (1 pass)" "$(best_s "$bin" --sha256 --xxh3 --crc32 "$f")" $bytes

echo "== two ${gib} GiB files: -j 2 against one thread"
for a in sha256 xxh3; do
    t1=$(best_s "$bin" -j 1 --$a "$tmp/a.bin" "$tmp/b.bin")
    t2=$(best_s "$bin" -j 2 --$a "$tmp/a.bin" "$tmp/b.bin")
    line "qverify -j 1 --$a, 2 files" "$t1" $((2 * bytes))
    if [ $a = sha256 ]; then
        line "qverify -j 2 --$a, 2 files" "$t2" $((2 * bytes)) "$(verdict "$(ratio "$t1" "$t2")" 1.7)"
    else
        line "qverify -j 2 --$a, 2 files" "$t2" $((2 * bytes)) "$(ratio "$t1" "$t2")x (memory-bound)"
    fi
done
