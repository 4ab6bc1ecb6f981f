# The tensor table: row-major shapes, absolute offsets (data section at 12800), sizes, bpw.
cd "$FIX/llq-headers" && qinspect --partial -t tiny256-Q4_K_M.llq.gguf
