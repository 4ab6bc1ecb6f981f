# -c with --status, -q, -w, --strict and --ignore-missing: the same exit statuses as
# sha256sum -c in each situation (success needs at least one good line, no mismatch, no
# unreadable file; malformed lines only fail under --strict).
printf 'one\n' > a; printf 'two\n' > b; printf 'three\n' > c
sha256sum a b c > good.sha
run() { # label, options..., manifest
    label=$1; shift
    qverify "$@" > q.out 2> q.err; q=$?
    sha256sum "$@" > s.out 2> s.err; s=$?
    printf '%-28s qverify %d  sha256sum %d\n' "$label" $q $s
}
run "all good" -c good.sha
run "all good --status" -c --status good.sha
[ -s q.out ] || [ -s q.err ] && echo "--status printed something"
cp good.sha bad.sha; printf 'TWO\n' > b
run "mismatch" -c bad.sha
run "mismatch --status" -c --status bad.sha
run "mismatch -q" -c -q bad.sha
cat q.out
printf 'two\n' > b
sha256sum a b c > with-missing.sha; rm c
run "missing file" -c with-missing.sha
cat q.out
run "missing --ignore-missing" -c --ignore-missing with-missing.sha
rm a b
run "none left --ignore-missing" -c --ignore-missing with-missing.sha
cat q.err
printf 'one\n' > a; printf 'two\n' > b
{ sha256sum a b; echo "this is not a checksum line"; echo; echo "# a comment"; } > malformed.sha
run "malformed line" -c malformed.sha
run "malformed --strict" -c --strict malformed.sha
run "malformed -w" -c -w malformed.sha
cat q.err
printf 'nothing here\n' > junk.sha
run "no checksum lines" -c junk.sha
cat q.err
# manifests from standard input
sha256sum a b | qverify -c - && echo "stdin (-): exit 0"
sha256sum a b | qverify -c > /dev/null && echo "stdin (no operand): exit 0"
# an unreadable manifest: could not check at all
qverify -c no-such.sha
echo "no manifest: exit $?"
