# A GPTQ checkpoint whose g_idx points past its groups (g_idx[200] = 7 of 2 groups) is refused
# by qconvert --type with the layout's own error, nothing written (its parts are not
# converted as plain tensors).
qconvert --no-fsync --type Q4_0 "$FIX/st-gptq-bad-gidx/model.safetensors" -o out.gguf
st=$?
[ -e out.gguf ] && echo "out.gguf written"
exit $st
