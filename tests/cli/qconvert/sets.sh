# A split set converts as the whole file it was split from (split.* keys dropped); a GGUF
# without tensors keeps its metadata.
set -e
qconvert -q --no-fsync --type Q6_K "$FIX/stories260K-f32-00002-of-00003.gguf" -o split.gguf
qconvert -q --no-fsync --type Q6_K "$FIX/stories260K-f32.gguf" -o whole.gguf
cmp split.gguf whole.gguf
qinspect -m split.gguf | grep -c '^  split\.' || true
qconvert -q --no-fsync --type F16 "$FIX/ggml-vocab-llama-spm.gguf" -o vocab.gguf
qinspect vocab.gguf | grep -E 'tensors:|file type'
