# general.file_type says Q5_K_M, the tensors are Q4_K_M's: a warning, status 1.
cd "$FIX/qinspect" || exit 9
qinspect --partial label-q5_k_m.gguf >"$OLDPWD/out"; st=$?
grep 'file type' "$OLDPWD/out"
exit $st
