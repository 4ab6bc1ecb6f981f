# -v adds the offsets; mixing, shape fallbacks and kept tensors are marked.
qconvert -v --type Q3_K_M -n "$FIX/stories260K-hf-f32.gguf"
