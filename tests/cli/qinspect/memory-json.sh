# The memory object: f16 cache for the training context (512): 2 x 512 x 2 x 64 x 2 bytes, K and V.
cd "$FIX" && qinspect --json -M stories260K-q8_0.gguf tiny256-hf | grep -o '"memory":{[^}]*}'
