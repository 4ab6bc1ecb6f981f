# The same in JSON; -q silences the warning but not the status.
cd "$FIX/qinspect" || exit 9
qinspect -q --json --partial label-q5_k_m.gguf >"$OLDPWD/out"; st=$?
grep -o '"label_check":{"source":"general.file_type","label":"Q5_K_M","ftype":17,"status":"mismatch","checked":16,"differing":13,[^]]*' "$OLDPWD/out"
exit $st
