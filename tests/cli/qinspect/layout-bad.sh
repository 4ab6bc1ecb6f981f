# An inconsistent layer (a g_idx entry past the scale rows) is reported naming the layer and
# the byte offset; the physical tensors are listed and the status is 2 (malformed).
cd "$FIX" || exit 9
qinspect -t st-gptq-bad-gidx >"$OLDPWD/out"; st=$?
head -2 "$OLDPWD/out"
exit $st
