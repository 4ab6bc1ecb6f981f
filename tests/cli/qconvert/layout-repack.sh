# GPTQ 4-bit <-> AWQ GEMM through the word-level repack kernels (awq.md section 4): AutoGPTQ's
# checkpoints go to AWQ and back, and AutoAWQ's to GPTQ and back, with every tensor byte for
# byte the same (a symmetric GPTQ layer is AWQ with zero points 8, and back it is GPTQ with
# the same v1 words 0x77777777). An act-order layer is re-encoded instead (AWQ has no g_idx).
set -e
tensors() {
    qverify --per-tensor --sha256 "$1" |
        sed -n 's/^sha256 *\([0-9a-f]*\)  [^:]*:\(.*\)$/\2 \1/p' | sort
}
round_trip() { # case, first layout, second layout
    qconvert --no-fsync --layout "$2" --asym "$FIX/$1/model.safetensors" -o "$1.1" 2>err
    sed -n 's/.*warning: \(.*repacked.*\)/\1/p; s/.*; \(lossless.*\)/\1/p' err
    qconvert -q --no-fsync --layout "$3" --asym "$1.1/model.safetensors" -o "$1.2"
    tensors "$FIX/$1/model.safetensors" >a
    tensors "$1.2/model.safetensors" >b
    cmp a b
    echo "$1: $(wc -l <a) tensors identical after $2 and $3"
}
round_trip st-gptq-b4-g128-sym awq gptq
round_trip st-gptq-b4-g128-asym awq gptq
round_trip st-awq-gemm-b4-g128 gptq awq
round_trip st-awq-gemm-b4-g64 gptq awq
qinspect st-gptq-b4-g128-sym.1 | grep -E '^  (quantization|layout):'
echo "== JSON: not lossy, every layer repacked"
qconvert --no-fsync --json --layout awq "$FIX/st-gptq-b4-g128-sym/model.safetensors" -o j \
    2>/dev/null >j.json
grep -o '"scheme":"[^"]*","lossy":false' j.json
grep -o '"repacked":true' j.json | uniq -c
echo "== act-order: encoded again"
qconvert --no-fsync --layout awq "$FIX/st-gptq-b4-g128-asym-descact/model.safetensors" \
    -o dact 2>err
grep -c 'repacked' err || true
grep -o 'lossy (round-to-nearest)' err
