# GPTQ and AWQ checkpoints list logical tensors: one [out, in] tensor per quantized layer with
# its scheme and true bits per weight (qweight + qzeros + scales + g_idx bytes over out x in);
# the summary gets a layout line.
cd "$FIX" || exit 9
qinspect -t st-gptq-b4-g128-asym-descact st-awq-gemv-b4-g64 st-gptq-b3-gnone-asym
qinspect st-gptq-b8-gnone-sym st-awq-gemm-b4-g128 | grep layout:
