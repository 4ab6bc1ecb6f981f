# Without tokenizer.model the output has no vocabulary: a warning, and the report says so.
qconvert --no-fsync --type F16 --json "$FIX/stories260K-hf" -o out.gguf | grep -E '"(vocabulary|file_type)"'
qinspect -m out.gguf | grep -c tokenizer || true
