# The size table predicts llama-quantize exactly: from the Hugging Face checkpoints, the bytes
# of each type equal the tensor data of the files llama-quantize wrote (their headers are in
# llq-headers; the full sizes are in llq-headers/README and were summed from fixtures/real).
cd "$FIX" || exit 2
for m in tiny256 stories260K; do
    w=$(qinspect -M --json $m-hf) || exit 1
    for ft in Q8_0 Q6_K Q5_K_M Q4_K_M Q4_0 Q3_K_M Q2_K; do
        pred=$(printf '%s\n' "$w" | grep -o "{\"ftype\":\"$ft\",[^}]*" | sed -n 's/.*"bytes":\([0-9]*\).*/\1/p')
        [ -n "$pred" ] || pred=refused
        f=llq-headers/$m-$ft.llq.gguf
        if [ -f "$f" ]; then
            real=$(qinspect --json --partial "$f" | sed -n 's/.*"tensor_bytes":\([0-9]*\).*/\1/p')
        else
            real=none
        fi
        echo "$m $ft $pred $real"
    done
done
