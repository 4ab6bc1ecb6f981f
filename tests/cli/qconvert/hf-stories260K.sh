# A Hugging Face checkpoint (safetensors, config.json, SentencePiece tokenizer.model) converts
# as convert_hf_to_gguf.py does: F32 byte for byte, F16/BF16/Q8_0 tensor for tensor (sha256
# of every tensor of the reference files), Q4_K_M as llama-quantize makes it from the F32 GGUF.
set -e
mkdir hf
ln -s "$FIX/stories260K-hf/config.json" "$FIX/stories260K-hf/model.safetensors" hf/
cp "$FIX/qconvert/tok512/tokenizer.model" "$FIX/qconvert/tok512/tokenizer_config.json" hf/
qconvert -q --no-fsync --type F32 hf -o f32.gguf
cmp f32.gguf "$FIX/stories260K-hf-f32.gguf"
echo "F32 identical"
for t in f16 bf16 q8_0; do
    out=stories260K-hf-$t.gguf
    qconvert -q --no-fsync --type "$t" hf -o "$out"
    qverify --status -c "$FIX/qconvert/sha256/$out.sha256"
    echo "$t $(($(wc -c <"$out")))"
done
qconvert -q --no-fsync --type Q4_K_M hf -o q4.gguf
cmp q4.gguf "$FIX/qconvert/stories260K-Q4_K_M.llq.gguf"
echo "Q4_K_M identical"
