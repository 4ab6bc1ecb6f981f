# A header without its data: rejected (status 2) with file and offset, unless --partial.
cd "$FIX/llq-headers" && qinspect tiny256-Q2_K.llq.gguf
