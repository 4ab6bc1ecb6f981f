# Without tokenizer.model the output has no vocabulary: a warning, and the report says so.
qconvert --no-fsync --type F16 --json "$FIX/stories260K-hf" -o out.gguf | grep -oE '"(vocabulary|file_type)":[a-z0-9]+'
qinspect -m out.gguf | grep -c tokenizer || true
