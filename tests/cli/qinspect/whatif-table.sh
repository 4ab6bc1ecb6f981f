# The human size table of the F32 stories260K checkpoint: Q8_0 and Q4_0 are refused (rows of
# 172 fit no fallback), the K types fall back per tensor.
cd "$FIX" && qinspect -M stories260K-hf | sed -n '/^size by/,$p'
