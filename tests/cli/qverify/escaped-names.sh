# Names holding a backslash, a newline or a carriage return are escaped as coreutils does,
# in both directions.
printf 'abc' > 'a\b.bin'
printf 'def' > "$(printf 'new\nline.bin')"
printf 'ghi' > "$(printf 'cr\rhere.bin')"
printf 'jkl' > 'plain name.bin'
set -- 'a\b.bin' "$(printf 'new\nline.bin')" "$(printf 'cr\rhere.bin')" 'plain name.bin'
qverify --sha256 "$@" > ours.sha
sha256sum "$@" > theirs.sha
cmp ours.sha theirs.sha && echo "GNU lines identical"
qverify --sha256 --tag "$@" > ours.tag
sha256sum --tag "$@" > theirs.tag
cmp ours.tag theirs.tag && echo "BSD lines identical"
sha256sum -c ours.sha > sc.out && echo "sha256sum -c accepts ours"
qverify -c theirs.sha > qc.out && echo "qverify -c accepts sha256sum's"
cmp sc.out qc.out && echo "same result lines"
cat -A qc.out
