#!/bin/sh
# CLI test runner. Each case is tests/cli/<tool>/<case>.sh, run with sh in a fresh temporary
# directory, PATH starting with $QF_BIN, $FIX pointing at tests/fixtures and $TESTS at tests/.
# Expectations next to it (all optional):
#   <case>.exit         expected exit status (default 0)
#   <case>.stdout.exact stdout, byte for byte
#   <case>.stderr.glob  stderr matched as a shell glob pattern (whole text; * spans lines)
#   <case>.stdout.glob  stdout likewise
# UPDATE=1 rewrites .stdout.exact files from the actual output. CASE=glob runs a subset.
# Prints one line per failure and a final "N passed, N failed" line.
set -u
here=$(cd "$(dirname "$0")" && pwd)
tests=$(dirname "$here")
: "${QF_BIN:?set QF_BIN to the folder holding the tools}"
pass=0; fail=0
tmproot=$(mktemp -d "${TMPDIR:-/tmp}/qf-cli.XXXXXX")
trap 'rm -rf "$tmproot"' EXIT INT TERM
for t in "$here"/*/*.sh; do
    [ -e "$t" ] || continue
    base=${t%.sh}
    name=${base#"$here"/}
    case "$name" in ${CASE:-*}) ;; *) continue ;; esac
    work="$tmproot/$(echo "$name" | tr / _)"
    mkdir -p "$work"
    (cd "$work" && PATH="$QF_BIN:$PATH" FIX="$tests/fixtures" TESTS="$tests" NO_COLOR=1 \
        LC_ALL=C sh "$t" >"$work/.stdout" 2>"$work/.stderr" </dev/null)
    st=$?
    want=0; [ -f "$base.exit" ] && want=$(cat "$base.exit")
    why=
    [ "$st" = "$want" ] || why="exit $st, expected $want"
    if [ -f "$base.stdout.exact" ]; then
        if [ "${UPDATE:-0}" = 1 ]; then cp "$work/.stdout" "$base.stdout.exact"
        elif ! cmp -s "$work/.stdout" "$base.stdout.exact"; then
            why="$why${why:+; }stdout differs"
            diff -u "$base.stdout.exact" "$work/.stdout" | head -20 | sed 's/^/    /'
        fi
    fi
    for s in stdout stderr; do
        if [ -f "$base.$s.glob" ]; then
            pat=$(cat "$base.$s.glob"); got=$(cat "$work/.$s")
            # shellcheck disable=SC2254
            case "$got" in $pat) ;; *) why="$why${why:+; }$s does not match $s.glob"
                printf '    %s was: %s\n' "$s" "$(printf '%s' "$got" | head -c 600)" ;; esac
        fi
    done
    if [ -z "$why" ]; then pass=$((pass + 1)); else
        fail=$((fail + 1)); echo "FAIL $name: $why"
        [ -s "$work/.stderr" ] && head -5 "$work/.stderr" | sed 's/^/    stderr: /'
    fi
done
echo "cli: $pass passed, $fail failed"
[ "$fail" = 0 ]
