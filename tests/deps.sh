#!/bin/sh
# Check the build dependencies with pkg-config; install the missing Debian packages with
# apt-get when running as root, otherwise print the exact command and fail.
# Prints make variable definitions on stdout (used as build/deps.mk).
# usage: deps.sh PKG_CONFIG "DEB PACKAGES" "LIBS" "TUI LIBS" "CHECK LIBS"
pc=$1; debs=$2; libs=$3; tui=$4; chk=$5
missing=
command -v "$pc" >/dev/null 2>&1 || missing=yes
if [ -z "$missing" ]; then
    for m in $libs $tui $chk; do
        "$pc" --exists "$m" 2>/dev/null || missing="$missing $m"
    done
fi
# programs the tests compare against or lint with
for c in xxhsum mandoc; do
    command -v "$c" >/dev/null 2>&1 || missing="$missing $c"
done
if [ -n "$missing" ]; then
    echo "qtools: missing build dependencies:$missing" >&2
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "qtools: installing: apt-get install -y $debs" >&2
        export DEBIAN_FRONTEND=noninteractive
        { apt-get update -qq && apt-get install -y -qq $debs; } >&2 || {
            echo "qtools: apt-get failed; run: apt-get update && apt-get install -y $debs" >&2; exit 1; }
    else
        echo "qtools: install them with: sudo apt-get install -y $debs" >&2
        exit 1
    fi
    for m in $libs $tui $chk; do
        "$pc" --exists "$m" || { echo "qtools: $m still not found by $pc" >&2; exit 1; }
    done
fi
echo "PC_CFLAGS := $("$pc" --cflags $libs)"
echo "PC_LDLIBS := $("$pc" --libs $libs)"
echo "TUI_CFLAGS := $("$pc" --cflags $tui)"
echo "TUI_LDLIBS := $("$pc" --libs $tui)"
echo "CHECK_CFLAGS := $("$pc" --cflags $chk)"
echo "CHECK_LDLIBS := $("$pc" --libs $chk)"
