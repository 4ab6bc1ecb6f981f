# Hostile inputs: exit 2 with one line naming the file, nothing written (no output, no
# temporary file).
n=0; bad=0
for f in "$TESTS"/hostile/gguf/*.gguf "$TESTS"/hostile/safetensors/*/model.safetensors \
         "$TESTS"/hostile/safetensors/*.safetensors; do
    [ -e "$f" ] || continue
    qconvert --no-fsync --type Q4_0 "$f" -o out.gguf 2>err
    st=$?
    n=$((n + 1))
    if [ "$st" != 2 ] || [ "$(wc -l <err)" != 1 ]; then
        echo "$f: exit $st"; cat err; bad=$((bad + 1))
    fi
    if [ -n "$(ls -A | grep -v -e '^\.std' -e '^err$')" ]; then
        echo "$f: left $(ls -A)"; bad=$((bad + 1)); rm -f out.gguf .out.gguf.*
    fi
done
[ "$n" -ge 80 ] && echo "$bad problems"
