# Every llama-quantize file, and the converter's files, agree with their labels.
cd "$FIX" && qinspect -q --partial llq-headers/*.gguf >/dev/null && echo llq ok
qinspect -q stories260K-q8_0.gguf stories260K-f32.gguf tiny256-Q4_K_M.llq.gguf >/dev/null && echo converted ok
