# Without config.json the label comes from AutoGPTQ's quantize_config.json; -v lists every
# differing tensor of a mismatch.
cd "$FIX" && qinspect qinspect/gptq-side-config | grep quantization:
qinspect -v qinspect/gptq-bits8 >/dev/null 2>"$OLDPWD/err"; st=$?
sed 's/^/stderr: /' "$OLDPWD/err"
exit $st
