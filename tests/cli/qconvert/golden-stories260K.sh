# stories260K has rows of 172 elements: llama-quantize (b4748) quantized it with shape
# fallbacks (IQ4_NL, Q5_0, Q5_1, Q8_0, Q4_0, F16 for ffn_down). Q4_K_M and Q2_K are compared
# whole, every type by header, per-tensor sha256 and size.
set -e
for t in Q2_K Q3_K_M Q4_K_M Q5_K_M Q6_K IQ4_XS TQ1_0 TQ2_0; do
    out=stories260K-$t.llq.gguf
    qconvert -q --no-fsync --type "$t" "$FIX/stories260K-hf-f32.gguf" -o "$out"
    h="$FIX/llq-headers/$out"
    cmp -n "$(($(wc -c <"$h")))" "$h" "$out"
    qverify --status -c "$FIX/qconvert/sha256/$out.sha256"
    echo "$t $(($(wc -c <"$out")))"
done
cmp stories260K-Q4_K_M.llq.gguf "$FIX/qconvert/stories260K-Q4_K_M.llq.gguf"
cmp stories260K-Q2_K.llq.gguf "$FIX/qconvert/stories260K-Q2_K.llq.gguf"
echo "Q4_K_M and Q2_K identical"
