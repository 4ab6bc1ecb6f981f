# A file that cannot be opened: one line naming it, status 2; the next file is still shown.
cd "$FIX" || exit 9
qinspect no-such-file.gguf ggml-vocab-llama-spm.gguf >"$OLDPWD/out"; st=$?
head -1 "$OLDPWD/out"
exit $st
