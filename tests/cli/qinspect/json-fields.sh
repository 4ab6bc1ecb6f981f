# Selected JSON fields of the tiny256 Q4_K_M header: numbers are numbers, GGUF tensors carry
# shape (row-major) and ne (GGUF order), offset (absolute) and data_offset (as stored).
cd "$FIX/llq-headers" && out=$(qinspect --json --partial tiny256-Q4_K_M.llq.gguf) || exit 1
for pat in '"parameters":1836288' '"tensor_bytes":1130240' '"bits_per_weight":4.9240' \
    '"file_type":{"id":15,"name":"Q4_K_M"}' '"status":"match","checked":16,"differing":0' \
    '"type":"q6_K","tensors":3,"parameters":360448,"bytes":295680,"share":0.2616' \
    '"name":"output.weight","type":"q6_K","shape":\[512,256\],"ne":\[256,512\],"elements":131072,"file":0,"offset":12800,"data_offset":0,"bytes":107520' \
    '"name":"blk.1.ffn_down.weight","type":"q6_K","shape":\[256,768\],"ne":\[768,256\]' \
    '"llama.rope.freq_base":{"type":"f32","value":10000}' \
    '"tokenizer.ggml.tokens":{"type":"array","element_type":"string","count":512,"truncated":false,"value":\["<unk>","<s>","</s>"' \
    '"n_head_kv":2,"head_dim_k":64'; do
    printf '%s\n' "$out" | grep -q -- "$pat" && echo "ok $pat" || echo "MISSING $pat"
done
# one line, one document, two models for two inputs
printf '%s\n' "$out" | wc -l | tr -d ' '
qinspect --json --partial tiny256-Q4_K_M.llq.gguf tiny256-Q2_K.llq.gguf | grep -o '"path":"[^"]*","format"'
