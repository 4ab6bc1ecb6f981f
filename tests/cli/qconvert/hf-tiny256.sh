# tiny256's BF16 checkpoint: BF16 output equals convert_hf_to_gguf.py's tiny256-bf16.gguf, and
# Q4_K_M straight from the checkpoint equals llama-quantize's file.
set -e
mkdir hf
ln -s "$FIX/tiny256-hf/config.json" "$FIX/tiny256-hf/model.safetensors" hf/
cp "$FIX/qconvert/tok512/tokenizer.model" "$FIX/qconvert/tok512/tokenizer_config.json" hf/
qconvert -q --no-fsync --type BF16 hf -o bf16.gguf
cmp bf16.gguf "$FIX/tiny256-bf16.gguf"
qconvert -q --no-fsync --type Q4_K_M hf/model.safetensors -o q4.gguf
cmp q4.gguf "$FIX/tiny256-Q4_K_M.llq.gguf"
echo identical
