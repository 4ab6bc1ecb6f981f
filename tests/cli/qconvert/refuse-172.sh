# llama-quantize refuses Q8_0 for stories260K (172-element rows, no fallback): so do we,
# before writing anything.
qconvert --type Q8_0 "$FIX/stories260K-hf-f32.gguf" -o out.gguf
st=$?
ls
exit $st
