# llama-quantize's options: --pure, --leave-output-tensor, --token-embedding-type,
# --output-tensor-type, --tensor-type (first matching pattern wins, before the recipe),
# --allow-requantize. Shown as the "to" column of the plans.
echo "== --pure"
qconvert -n --type Q4_K_M --pure "$FIX/tiny256-bf16.gguf" | grep -c ' bf16  q4_K '
qconvert -n --type Q4_K_M --pure "$FIX/tiny256-bf16.gguf" | tail -1
echo "== --leave-output-tensor --token-embedding-type q8_0"
qconvert -n --type Q4_K_M --leave-output-tensor --token-embedding-type q8_0 "$FIX/tiny256-bf16.gguf" | sed -n '2p;4p'
echo "== --output-tensor-type q8_0 --tensor-type 'attn_(q|k)=q5_K' --tensor-type 'blk\.1\.=Q8_0'"
qconvert -n --type Q4_K_M --output-tensor-type q8_0 --tensor-type 'attn_(q|k)=q5_K' --tensor-type 'blk\.1\.=Q8_0' "$FIX/tiny256-bf16.gguf"
echo "== a ggml type (not a file type name): mxfp4 for every eligible tensor, no recipe"
qconvert -n --type mxfp4 --output-tensor-type q6_K "$FIX/tiny256-bf16.gguf" | grep -c ' mxfp4 '
qconvert -n --type mxfp4 --output-tensor-type q6_K "$FIX/tiny256-bf16.gguf" | sed -n '2p;$p'
echo "== file type names are case-insensitive; Q4_K means Q4_K_M, as for llama-quantize"
qconvert -n --type q4_k "$FIX/tiny256-bf16.gguf" | tail -1
echo "== requantizing"
qconvert -q --no-fsync --type Q4_K_M "$FIX/tiny256-bf16.gguf" -o q4.gguf
qconvert -n --type Q8_0 q4.gguf 2>&1 | tail -1
qconvert -n --type Q8_0 --allow-requantize q4.gguf | sed -n '2,3p'
qconvert -n --type F16 q4.gguf | sed -n '2,3p'
