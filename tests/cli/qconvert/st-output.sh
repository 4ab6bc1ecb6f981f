# GGUF to safetensors: GGUF names kept (opened again by qinspect), or Hugging Face names with
# the Q/K rows un-permuted, which gives back the original checkpoint byte for byte.
set -e
qconvert -q --no-fsync --type F32 "$FIX/stories260K-hf-f32.gguf" -o hf.safetensors --hf-names
cmp hf.safetensors "$FIX/stories260K-hf/model.safetensors"
echo "HF names: identical to the checkpoint"
qconvert -q --no-fsync --type BF16 "$FIX/stories260K-q8_0.gguf" -o gg.safetensors
qinspect -t gg.safetensors | head -6
qconvert -q --no-fsync --type F32 --output-format=safetensors "$FIX/tiny256-bf16.gguf" -o t.st
qinspect t.st | grep -E 'format|tensors:|parameters'
