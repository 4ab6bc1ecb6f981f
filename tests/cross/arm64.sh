#!/bin/sh
# Cross-build for AArch64 and run the unit suites under qemu-user, once per kernel level the
# AArch64 build has (scalar, neon). `make check-arm64` runs this; it is not part of `make check`
# because it needs a cross toolchain, AArch64 builds of the libraries and qemu:
#   dpkg --add-architecture arm64 && apt-get update
#   apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user \
#     libjansson-dev:arm64 libarchive-dev:arm64 zlib1g-dev:arm64 libxxhash-dev:arm64 \
#     libssl-dev:arm64 check:arm64 libsubunit-dev:arm64 libncurses-dev:arm64
set -u
cc=${CROSS_CC:-aarch64-linux-gnu-gcc}
for t in "$cc" qemu-aarch64 pkg-config; do
    command -v "$t" >/dev/null 2>&1 || { echo "check-arm64: $t not found (see tests/cross/arm64.sh)"; exit 2; }
done
[ -d /usr/lib/aarch64-linux-gnu/pkgconfig ] ||
    { echo "check-arm64: no AArch64 libraries in /usr/lib/aarch64-linux-gnu (see tests/cross/arm64.sh)"; exit 2; }
build=${BUILD:-build-a64}
mkdir -p "$build"
pc="$(pwd)/$build/pkg-config"
cat > "$pc" <<'PC'
#!/bin/sh
PKG_CONFIG_LIBDIR=/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig exec pkg-config "$@"
PC
chmod +x "$pc"
# -fno-tree-vectorize: GCC 12's AArch64 auto-vectorizer fails with an internal error on one test
# file; the kernels under test are NEON intrinsics and do not depend on it.
make --no-print-directory -j"${JOBS:-2}" BUILD="$build" CC="$cc" AR=aarch64-linux-gnu-ar \
    PKG_CONFIG="$pc" OPT="-O2 -g -fno-tree-vectorize" "$build/tests/check_qf" "$build/bin/qinspect" ||
    exit 2
st=0
for l in $(qemu-aarch64 "$build/bin/qinspect" --simd=list); do
    echo "== unit suites (AArch64 under qemu), QF_SIMD=$l"
    (cd tests && QF_SIMD=$l CK_TIMEOUT_MULTIPLIER=${CK_TIMEOUT_MULTIPLIER:-10} \
        qemu-aarch64 "../$build/tests/check_qf") || st=1
done
exit $st
