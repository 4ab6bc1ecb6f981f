# --layout gptq: a checkpoint directory from tiny256's BF16 checkpoint. quantize_config.json is
# byte for byte what AutoGPTQ wrote for the same settings (st-gptq-b4-g128-sym); config.json is
# the input's with quantization_config appended; the result reads back as a GPTQ layout.
set -e
qconvert -n --layout gptq "$FIX/tiny256-hf" | sed -n '1,4p;$p'
qconvert -q --no-fsync --layout gptq "$FIX/tiny256-hf" -o out
ls out
cmp out/quantize_config.json "$FIX/st-gptq-b4-g128-sym/quantize_config.json"
head -n 22 "$FIX/tiny256-hf/config.json" >in.head
head -n 22 out/config.json | cmp - in.head
tail -n 15 out/config.json
qinspect out | grep -E '^  (quantization|layout):'
echo "== 2-bit asymmetric groups of 32, v2 forced; GGUF input keeps GGUF names"
qconvert -q --no-fsync --layout gptq --bits 2 --asym --group-size 32 --gptq-format v2 \
    "$FIX/tiny256-bf16.gguf" -o g2
grep checkpoint_format g2/quantize_config.json
grep -a -o 'blk\.[01]\.attn_q\.[a-z_]*' g2/model.safetensors | sort | tr '\n' ' '; echo
qinspect g2 | grep -E '^  (quantization|layout):'
echo "== existing files need --force"
qconvert -q --no-fsync --layout gptq "$FIX/tiny256-hf" -o out 2>&1 | sed "s|^qconvert: ||; s|$PWD/||" || true
qconvert -q --no-fsync --force --layout gptq "$FIX/tiny256-hf" -o out && echo replaced
