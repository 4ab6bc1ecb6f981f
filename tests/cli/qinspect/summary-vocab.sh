# A metadata-only GGUF (no tensors): no bits per weight, no type table.
cd "$FIX" && qinspect ggml-vocab-llama-spm.gguf
