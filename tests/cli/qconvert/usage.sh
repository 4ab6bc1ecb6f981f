# Bad usage: one line, "Try ...", exit 2, nothing written.
for args in "" "--type Q4_K_M" "-o x.gguf $FIX/tiny256-bf16.gguf" \
    "--type Q9_X $FIX/tiny256-bf16.gguf -o x.gguf" \
    "--type Q4_K_M $FIX/tiny256-bf16.gguf" \
    "--type Q4_K_M $FIX/tiny256-bf16.gguf $FIX/tiny256-bf16.gguf -o x.gguf" \
    "--type Q4_K_M --tensor-type attn_q $FIX/tiny256-bf16.gguf -o x.gguf" \
    "--type Q4_K_M --tensor-type attn_q=q9 $FIX/tiny256-bf16.gguf -o x.gguf" \
    "--type Q4_K_M --output-format=zip $FIX/tiny256-bf16.gguf -o x.gguf" \
    "--type Q4_K_M --hf-names $FIX/tiny256-bf16.gguf -o x.gguf" \
    "--type F32 --output-format=safetensors $FIX/tiny256-bf16.gguf -o -" \
    "--type Q4_K_M -j x $FIX/tiny256-bf16.gguf -o x.gguf" \
    "--type Q4_K_M --bogus $FIX/tiny256-bf16.gguf -o x.gguf"; do
    # shellcheck disable=SC2086
    out=$(qconvert $args 2>&1)
    st=$?
    printf '%s\n' "$out" | sed "s|$FIX/||"
    echo "exit $st"
done
ls
