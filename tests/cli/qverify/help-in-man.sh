# Every long option of --help is documented in qverify(1), and --help fits 80 columns.
man=$TESTS/../man/qverify.1
[ -f "$man" ] || { echo "no man page"; exit 1; }
n=0
for o in $(qverify --help | grep -o -- '--[a-z][a-z0-9-]*' | sort -u); do
    grep -q -- "Fl -${o#--}\( \|$\)" "$man" || echo "undocumented: $o"
    n=$((n + 1))
done
[ "$n" -ge 20 ] && echo "checked $n options"
qverify --help | awk 'length > 79 { print "too long: " $0 } END { print (NR > 30 ? "ok" : "short") }'
