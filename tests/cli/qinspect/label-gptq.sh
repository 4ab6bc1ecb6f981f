# quantization_config says 8 bits, the qzeros/scales shapes say 4: the checkpoint is malformed (status 2). The original
# checkpoint agrees.
cd "$FIX" || exit 9
qinspect st-gptq-b4-g128-sym qinspect/gptq-bits8 >"$OLDPWD/out"; st=$?
grep quantization: "$OLDPWD/out"
exit $st
