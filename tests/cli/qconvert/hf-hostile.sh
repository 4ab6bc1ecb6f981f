# Hugging Face directories that cannot be converted: one line, exit 2, nothing written.
mk() { # DIR CONFIG-JSON: a copy of stories260K-hf with another config.json
    mkdir "$1"
    ln -s "$FIX/stories260K-hf/model.safetensors" "$1/"
    printf '%s\n' "$2" >"$1/config.json"
}
base='"hidden_size": 64, "intermediate_size": 172, "num_hidden_layers": 5, "vocab_size": 512'
mk heads0 "{\"architectures\": [\"LlamaForCausalLM\"], $base, \"num_attention_heads\": 0, \"num_key_value_heads\": 0}"
mk heads3 "{\"architectures\": [\"LlamaForCausalLM\"], $base, \"num_attention_heads\": 3, \"num_key_value_heads\": 3}"
mk headsbig "{\"architectures\": [\"LlamaForCausalLM\"], $base, \"num_attention_heads\": 4294967296, \"num_key_value_heads\": 4}"
mk gpt2 "{\"architectures\": [\"GPT2LMHeadModel\"], $base, \"num_attention_heads\": 8}"
mk gptq "{\"architectures\": [\"LlamaForCausalLM\"], $base, \"num_attention_heads\": 8, \"quantization_config\": {\"bits\": 4, \"quant_method\": \"gptq\"}}"
mk llama3 "{\"architectures\": [\"LlamaForCausalLM\"], $base, \"num_attention_heads\": 8, \"num_key_value_heads\": 4, \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0}}"
mk badtok "{\"architectures\": [\"LlamaForCausalLM\"], $base, \"num_attention_heads\": 8, \"num_key_value_heads\": 4}"
printf '\n\377\377\377\377\377\377\377\377\377\001' >badtok/tokenizer.model
mk badjson "{\"architectures\": [\"LlamaForCausalLM\"], $base, \"num_attention_heads\": 8, \"num_key_value_heads\": 4}"
cp "$FIX/qconvert/tok512/tokenizer.model" badjson/
printf '{"added_tokens_decoder": {"1": {"content": "<s>"' >badjson/tokenizer_config.json
for d in heads0 heads3 headsbig gpt2 gptq llama3 badtok badjson; do
    qconvert --no-fsync --type F32 "$d" -o "$d.gguf" 2>&1
    echo "exit $?"
done
ls | grep gguf || echo "nothing written"
