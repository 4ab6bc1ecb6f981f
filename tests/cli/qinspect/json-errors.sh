# In JSON mode a failed input is listed under "errors" (and on stderr).
cd "$FIX" || exit 9
qinspect --json no-such-file.gguf >"$OLDPWD/out"; st=$?
grep -o '"errors":.*' "$OLDPWD/out"
exit $st
