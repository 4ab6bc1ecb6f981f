# A GPTQ act-order checkpoint (AutoGPTQ, desc_act) re-encoded as GPTQ keeps its g_idx, bits
# and symmetry; as AWQ the act-order is dropped with a warning; the k_proj bias passes through.
set -e
qconvert --no-fsync --layout gptq --gptq-format v2 "$FIX/st-gptq-b4-g128-asym-descact" -o g 2>err
sed 's/; lossy.*//' err
qinspect g | grep -E '^  (quantization|layout):'
grep -a -o 'k_proj\.bias' g/model.safetensors | wc -l | tr -d ' '
qconvert --no-fsync --layout awq "$FIX/st-gptq-b4-g128-asym-descact" -o a 2>&1 | grep -c 'act-order g_idx dropped'
