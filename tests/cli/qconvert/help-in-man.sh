# Every long option of --help is documented in qconvert(1).
man=$TESTS/../man/qconvert.1
[ -f "$man" ] || { echo "no man page"; exit 1; }
n=0
for o in $(qconvert --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
    grep -q -- "Fl -${o#--}\( \|$\)" "$man" || echo "undocumented: $o"
    n=$((n + 1))
done
[ "$n" -ge 20 ] && echo "checked $n options"
