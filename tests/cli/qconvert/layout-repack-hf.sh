# A GPTQ checkpoint of a Llama model (Hugging Face names) to GGUF Q4_0: its layers' blocks are
# made from the codes (zero points 8, groups of 32) with the Q/K rows permuted for GGUF like a
# float checkpoint's. Decoded, every layer equals the same checkpoint converted to F32 through
# the layout's decoder (the same permutation applied to decoded rows), bit for bit.
set -e
tensors() {
    qverify --per-tensor --sha256 "$1" |
        sed -n 's/^sha256 *\([0-9a-f]*\)  [^:]*:\(.*\)$/\2 \1/p' | sort
}
mkdir hf
ln -s "$FIX/tiny256-hf/config.json" "$FIX/tiny256-hf/model.safetensors" hf/
qconvert -q --no-fsync --layout gptq --bits 4 --group-size 32 --sym hf/model.safetensors -o g
cp "$FIX/qconvert/tok512/tokenizer.model" "$FIX/qconvert/tok512/tokenizer_config.json" g/
qconvert -q --no-fsync --type Q4_0 g -o q4.gguf
qconvert -q --no-fsync --type F32 g -o f32.gguf
qconvert -q --no-fsync --type F32 q4.gguf -o q4-f32.gguf
qinspect q4.gguf | grep -E '^  (architecture:|q4_0 )'
tensors f32.gguf | grep '^blk\.' >a
tensors q4-f32.gguf | grep '^blk\.' >b
cmp a b
echo "$(grep -c 'attn_[qk]\.' a) permuted Q/K layers, $(wc -l <a) blk. tensors identical"
