# Dequantizing: stories260K Q8_0 (with F16 ffn_down and F32 norms) -> F32 -> back to Q8_0,
# ffn_down to F16 by a --tensor-type rule, gives every tensor of the original back byte for
# byte (a dequantized Q8_0 row quantizes to the same blocks; F16 -> F32 -> F16 is exact).
set -e
tensors() {
    qverify --per-tensor --sha256 "$1" |
        sed -n 's/^sha256 *\([0-9a-f]*\)  [^:]*:\(.*\)$/\2 \1/p' | sort
}
qconvert -q --no-fsync --type F32 --json "$FIX/stories260K-q8_0.gguf" -o f32.gguf |
    grep -o '"path":"[a-z]*"' | sort | uniq -c
qinspect f32.gguf | grep -E '^  (f32|tensors)'
qconvert -q --no-fsync --type Q8_0 --tensor-type 'ffn_down=F16' f32.gguf -o q8.gguf
tensors "$FIX/stories260K-q8_0.gguf" >a
tensors q8.gguf >b
cmp a b
echo "$(wc -l <a) tensors identical"
