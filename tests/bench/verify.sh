#!/bin/sh
# qverify hashing throughput on a 4 GiB file in the page cache, next to sha256sum,
# openssl dgst -sha256, xxhsum -H2 (XXH3 128) and xxhsum -H1 (XXH64) measured in the same
# run, and -j 2 on two 2 GiB files against one thread.
# Targets: SHA-256 >= 0.95x OpenSSL, XXH3 >= 0.9x xxhsum -H2, -j 2 on two files >= 1.7x -j 1.
# Every command runs once to warm up (page cache, CPU clocks), then QF_BENCH_RUNS times; the
# best wall time is kept (others share the machine) with the CPU time (user + sys) of that
# run. The verdicts use wall time; the CPU ratio beside them is less disturbed by other load.
# The files are created in $TMPDIR (default /tmp) and deleted at the end.
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
half=$((bytes / 2))

# incompressible data, quickly: AES-CTR keystream
mkdata() { # FILE BYTES SEED
    if command -v openssl >/dev/null 2>&1; then
        openssl enc -aes-128-ctr -nosalt -pass "pass:$3" < /dev/zero 2>/dev/null | head -c "$2" > "$1"
    else
        head -c "$2" /dev/urandom > "$1"
    fi
    cat "$1" > /dev/null # into the page cache
}
mkdata "$tmp/a.bin" $bytes a
mkdata "$tmp/c.bin" $half c
mkdata "$tmp/d.bin" $half d

have_time=0
[ -x /usr/bin/time ] && /usr/bin/time -f '%U' true 2>/dev/null && have_time=1

# measure CMD...: one warm-up run, then $runs runs; sets W (best wall, s) and C (CPU s of
# that run, "?" without /usr/bin/time)
measure() {
    "$@" > /dev/null 2>&1 || { echo "verify.sh: failed: $*" >&2; exit 1; }
    best=; cpu=?
    i=0
    while [ $i -lt "$runs" ]; do
        s=$(date +%s%N)
        if [ $have_time = 1 ]; then
            /usr/bin/time -f '%U %S' -o "$tmp/time" "$@" > /dev/null 2>&1
        else
            "$@" > /dev/null 2>&1
        fi
        e=$(date +%s%N)
        t=$((e - s))
        if [ -z "$best" ] || [ "$t" -lt "$best" ]; then
            best=$t
            [ $have_time = 1 ] && cpu=$(awk '{ printf "%.2f", $1 + $2 }' "$tmp/time")
        fi
        i=$((i + 1))
    done
    W=$(awk -v n="$best" 'BEGIN { printf "%.3f", n / 1e9 }')
    C=$cpu
}
gbs() { awk -v s="$1" -v b="$2" 'BEGIN { printf "%.2f", b / s / 1e9 }'; }
line() { # label bytes [note]   (uses W and C)
    printf '  %-36s %7s s %6s GB/s %6s s CPU  %s\n' "$1" "$W" "$(gbs "$W" "$2")" "$C" "${3:-}"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }'; }
verdict() { # ratio target
    awk -v r="$1" -v t="$2" 'BEGIN { printf "%.2fx (target >= %sx: %s)", r, t, (r >= t) ? "ok" : "MISSED" }'
}
cpuratio() { # their-cpu our-cpu
    case "$1$2" in *\?*) ;; *) printf ', CPU %sx' "$(ratio "$1" "$2")" ;; esac
}

cpus=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo "?")
echo "== qverify hashing, ${gib} GiB file in the page cache, best of $runs after a warm-up ($cpus CPUs)"
printf '  %-36s %9s %11s %10s\n' "" "wall" "rate" "user+sys"
f=$tmp/a.bin
measure sha256sum "$f"; line "sha256sum" $bytes
measure openssl dgst -sha256 "$f"; line "openssl dgst -sha256" $bytes; w_ossl=$W; c_ossl=$C
measure "$bin" --sha256 "$f"
line "qverify --sha256" $bytes "$(verdict "$(ratio "$w_ossl" "$W")" 0.95) of openssl$(cpuratio "$c_ossl" "$C")"
if command -v xxhsum >/dev/null 2>&1; then
    measure xxhsum -H2 "$f"; line "xxhsum -H2 (XXH3 128)" $bytes; w_x2=$W; c_x2=$C
    measure "$bin" --xxh3 "$f"
    line "qverify --xxh3 (128-bit)" $bytes "$(verdict "$(ratio "$w_x2" "$W")" 0.9) of xxhsum$(cpuratio "$c_x2" "$C")"
    measure xxhsum -H1 "$f"; line "xxhsum -H1 (XXH64)" $bytes; w_x1=$W; c_x1=$C
    measure "$bin" --xxh64 "$f"
    line "qverify --xxh64" $bytes "$(ratio "$w_x1" "$W")x of xxhsum$(cpuratio "$c_x1" "$C")"
else
    echo "  xxhsum not installed"
    measure "$bin" --xxh3 "$f"; line "qverify --xxh3 (128-bit)" $bytes
    measure "$bin" --xxh64 "$f"; line "qverify --xxh64" $bytes
fi
measure "$bin" --crc32 "$f"; line "qverify --crc32" $bytes
for a in xxh3-64 xxh32 sha1; do
    measure "$bin" --$a "$f"; line "qverify --$a" $bytes
done
measure "$bin" --sha256 --xxh3 --crc32 "$f"; line "qverify --sha256 --xxh3 --crc32" $bytes "(one pass)"

echo "== two $(awk -v g="$gib" 'BEGIN { print g / 2 }') GiB files: -j 2 against one thread"
for a in sha256 xxh3; do
    measure "$bin" -j 1 --$a "$tmp/c.bin" "$tmp/d.bin"; w1=$W; c1=$C
    line "qverify -j 1 --$a, 2 files" $bytes
    measure "$bin" -j 2 --$a "$tmp/c.bin" "$tmp/d.bin"
    if [ $a = sha256 ]; then
        line "qverify -j 2 --$a, 2 files" $bytes "$(verdict "$(ratio "$w1" "$W")" 1.7)"
    else
        line "qverify -j 2 --$a, 2 files" $bytes "$(ratio "$w1" "$W")x (memory-bound)"
    fi
done
