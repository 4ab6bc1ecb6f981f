# The JSON layout object: name, counts, true bits per weight, warnings and (with the tensors
# section) the logical tensors with the physical parts they are made of.
cd "$FIX" || exit 9
qinspect --json -T '*k_proj*' st-gptq-b4-g128-asym-descact |
    sed -n 's/.*"layout":\(.*\),"tensors":\[{"index".*/\1/p'
