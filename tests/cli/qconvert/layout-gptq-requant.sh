# A GPTQ act-order checkpoint (AutoGPTQ, desc_act) written as GPTQ again: its codes, zero points,
# scales and g_idx are repacked without loss (decoded values identical); as AWQ the act-order
# cannot be kept, so it is encoded again with a warning; the k_proj bias passes through.
# AutoAWQ's GEMM checkpoint repacked as GEMV decodes to the same values (AWQ decoder on both).
set -e
qconvert --no-fsync --layout gptq --gptq-format v2 "$FIX/st-gptq-b4-g128-asym-descact" -o g 2>err
cat err
qinspect g | grep -E '^  (quantization|layout):'
grep -a -o 'k_proj\.bias' g/model.safetensors | wc -l | tr -d ' '
qconvert --no-fsync --layout awq "$FIX/st-gptq-b4-g128-asym-descact" -o a 2>&1 | grep -c 'act-order g_idx dropped'
qconvert --no-fsync --layout awq --awq-version gemv "$FIX/st-awq-gemm-b4-g128" -o v 2>&1 | sed 's/ tensor data;.*worst/ ... worst/'
