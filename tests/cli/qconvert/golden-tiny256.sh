# llama-quantize (llama.cpp b4748) wrote tiny256-<TYPE>.llq.gguf from the F32 GGUF; quantizing
# the BF16 GGUF (lossless w.r.t. the F32 one) must give the same bytes. Q4_K_M is compared
# whole; every type through its header (llq-headers/, the reference bytes up to the data) and
# the sha256 of every tensor (qconvert/sha256/, from llama-gguf-hash), and its size.
set -e
for t in Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q2_K Q3_K_M Q4_K_M Q5_K_M Q6_K IQ4_NL IQ4_XS TQ1_0 TQ2_0; do
    out=tiny256-$t.llq.gguf
    qconvert -q --no-fsync --type "$t" "$FIX/tiny256-bf16.gguf" -o "$out"
    h="$FIX/llq-headers/$out"
    cmp -n "$(($(wc -c <"$h")))" "$h" "$out"
    qverify --status -c "$FIX/qconvert/sha256/$out.sha256"
    echo "$t $(($(wc -c <"$out")))"
done
cmp tiny256-Q4_K_M.llq.gguf "$FIX/tiny256-Q4_K_M.llq.gguf"
echo "Q4_K_M identical"
