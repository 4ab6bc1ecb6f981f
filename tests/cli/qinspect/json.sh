# The JSON document of a small file, byte for byte (summary, metadata, tensors).
cd "$FIX/qinspect" && qinspect --json odd.gguf 2>/dev/null
