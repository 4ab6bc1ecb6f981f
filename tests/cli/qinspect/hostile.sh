# Every hostile file: status 2, exactly one line on stderr starting with "qinspect: ", no crash,
# nothing on stdout; in every output mode.
n=0; bad=0
for f in "$TESTS"/hostile/gguf/* "$TESTS"/hostile/safetensors/*; do
    [ -f "$f" ] || continue
    case $f in *README*|*.py|*.md|*.txt) continue ;; esac
    for mode in "" "--json -a" "--ndjson" "-a --full --ctx 8"; do
        # shellcheck disable=SC2086
        qinspect $mode "$f" >out 2>err
        st=$?
        lines=$(wc -l <err | tr -d ' ')
        if [ "$st" != 2 ] || [ "$lines" != 1 ] || ! head -c 10 err | grep -q '^qinspect: '; then
            echo "BAD ${f#"$TESTS"/} [$mode]: status $st, $lines stderr lines"
            bad=$((bad + 1))
        fi
        if [ -z "$mode" ] && [ -s out ]; then echo "BAD ${f#"$TESTS"/}: stdout not empty"; bad=$((bad + 1)); fi
        if [ "$mode" = "--json -a" ] && ! grep -q '"models":\[\],"errors":\[{"path"' out; then
            echo "BAD ${f#"$TESTS"/}: JSON"; bad=$((bad + 1)); fi
    done
    n=$((n + 1))
done
[ "$n" -gt 50 ] && echo "more than 50 files"
echo "bad $bad"
