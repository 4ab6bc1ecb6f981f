# GGUF Q8_0 / Q4_0 -> GPTQ 8 / 4-bit sym g32 take the direct repack (ggml-types.md, gptq.md
# section 3: (q - 8) * d and qs * d are GPTQ's scale * (code - 2^(b-1)) with d as the group's
# f16 scale): codes and scales moved, nothing decoded, and qconvert says so. Another scheme
# (asymmetric, another group size) is encoded by round-to-nearest instead. The 4-bit layers go
# on to AWQ and back to GPTQ byte for byte. Back to GGUF (qconvert --type Q8_0 / Q4_0 of the
# GPTQ checkpoint) the layers' blocks are made from the codes again: byte for byte the input's
# (names kept: the checkpoint has GGUF names and no architecture). An asymmetric GPTQ layer
# goes to Q4_1 with d = scale and m = f16(-scale * zero): its error is measured.
set -e
tensors() {
    qverify --per-tensor --sha256 "$1" |
        sed -n 's/^sha256 *\([0-9a-f]*\)  [^:]*:\(.*\)$/\2 \1/p' | sort
}
qconvert -q --no-fsync --type Q8_0 "$FIX/tiny256-bf16.gguf" -o q8.gguf
qconvert -q --no-fsync --type Q4_0 "$FIX/tiny256-bf16.gguf" -o q4.gguf
for b in 8 4; do
    echo "== Q${b}_0 -> GPTQ int$b g32 sym"
    qconvert --no-fsync --layout gptq --bits $b --group-size 32 --sym q$b.gguf -o g$b 2>err
    sed -n 's/.*warning: \(.*repacked.*\)/\1/p; s/.*(\(gptq [^)]*\)).*; \(lossless.*\)/\1: \2/p' err
    qinspect g$b/model.safetensors | grep -E '^  (quantization|layout):'
done
echo "== JSON: not lossy, every layer repacked"
qconvert --no-fsync --json --layout gptq --bits 8 --group-size 32 --sym q8.gguf -o j \
    2>/dev/null >j.json
grep -o '"scheme":"[^"]*","lossy":false' j.json
grep -o '"repacked":true' j.json | uniq -c
echo "== GPTQ int4 (from Q4_0) -> AWQ -> GPTQ: every tensor the same"
qconvert -q --no-fsync --layout awq --asym g4/model.safetensors -o a4
qconvert -q --no-fsync --layout gptq --asym a4/model.safetensors -o g4b
tensors g4/model.safetensors >a
tensors g4b/model.safetensors >b
cmp a b
echo "$(wc -l <a) tensors identical"
echo "== other schemes: encoded again"
qconvert --no-fsync --layout gptq --bits 8 --group-size 32 --asym q8.gguf -o asym 2>err
grep -c 'repacked' err || true
grep -o 'lossy (round-to-nearest)' err
qconvert --no-fsync --layout gptq --bits 8 --group-size 64 --sym q8.gguf -o g64 2>err
grep -c 'repacked' err || true
grep -o 'lossy (round-to-nearest)' err
echo "== back to GGUF (qconvert --type): the linear layers' blocks byte for byte"
for b in 8 4; do
    qconvert --no-fsync --type Q${b}_0 g$b/model.safetensors -o back$b.gguf 2>err
    grep -o 'no config.json' err
    tensors q$b.gguf | grep '^blk\.' >a
    tensors back$b.gguf | grep '^blk\.' >b
    cmp a b
    echo "Q${b}_0 -> GPTQ -> Q${b}_0: $(wc -l <a) blk. tensors identical"
done
echo "== an asymmetric GPTQ checkpoint to Q4_1: d and codes kept, m rounded to f16 (measured)"
qconvert --no-fsync --type Q4_1 "$FIX/st-gptq-b4-g128-asym/model.safetensors" -o q41.gguf 2>err
max=$(sed -n 's/.*error: rmse [^,]*, max \([^,]*\),.*/\1/p' err)
# |m| <= 15 * scale here: half an f16 ulp of it stays far below 1e-3 (unit suite lwrite_repack
# checks every weight against its own block's bound)
awk -v m="$max" 'BEGIN { print (m > 0 && m < 1e-3) ? "max error > 0 and < 1e-3" : "max error " m }'
